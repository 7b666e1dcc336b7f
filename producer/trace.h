/*
 * trace.h - a recorded workload trace (CSV "timestamp,value", value =
 * arrivals in the interval that starts at timestamp; see
 * shared/data/traces/README.md), turned into send times for --replay.
 */
#ifndef BF_PRODUCER_TRACE_H
#define BF_PRODUCER_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"

typedef struct bf_trace_s bf_trace_t;

/**
 * @brief Read a trace. Timestamps are "YYYY-MM-DD HH:MM:SS" (UTC) or
 *        RFC 3339, strictly increasing; values are non-negative numbers
 *        (rounded to whole arrivals).
 * @param speedup replay K times faster than recorded (> 0)
 * @returns BF_OK; BF_ERR_IO; BF_ERR_PARSE with "FILE:LINE: reason".
 */
bf_err_t bf_trace_load(const char *path, double speedup, bf_trace_t **out, char *errstr,
                       size_t errstr_size);

/** @brief Arrivals in the whole trace. */
uint64_t bf_trace_total(const bf_trace_t *t);

/**
 * @brief When the next arrival is due, in seconds since the replay began
 *        (already divided by the speed-up). Arrivals of one interval are
 *        spread evenly over it.
 * @returns 1 and *at_s, or 0 when the trace is over.
 */
int bf_trace_next(bf_trace_t *t, double *at_s);

/** @brief Free a trace. NULL-safe. */
void bf_trace_destroy(bf_trace_t *t);

#endif
