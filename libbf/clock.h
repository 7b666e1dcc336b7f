/*
 * clock.h - time for every program: one monotonic clock for intervals and
 * deadlines, the wall clock for what goes in records, and one reader of
 * RFC 3339 timestamps with one rule.
 *
 * bf_monotonic_s() reads CLOCK_MONOTONIC, the clock libuv's uv_hrtime()
 * reads too, so a deadline set by one part of a worker and checked by
 * another (the AI layer) agrees whichever of the two it was taken from;
 * a wall-clock step (NTP) neither fires timers at once nor stalls them.
 */
#ifndef BF_CLOCK_H
#define BF_CLOCK_H

#include <stdint.h>

#include "libbf/err.h"

/** @brief Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). Any thread. */
double bf_monotonic_s(void);

/** @brief Milliseconds since the Unix epoch, now (CLOCK_REALTIME). */
int64_t bf_time_now_ms(void);

/**
 * @brief Parse an RFC 3339 date-time ("2014-07-03T05:06:17.257Z",
 *        "2014-07-03 05:06:17+02:00") into milliseconds since the epoch.
 *        The offset is required (RFC 3339 section 5.6: a time without one
 *        is local time of an unknown place, not a point in time); 'T' may
 *        be 't' or a space, 'Z' may be 'z'; digits past milliseconds are
 *        dropped; a leap second (:60) is the second after :59.
 * @returns BF_OK or BF_ERR_PARSE.
 */
bf_err_t bf_time_parse_rfc3339(const char *s, int64_t *ms);

#endif
