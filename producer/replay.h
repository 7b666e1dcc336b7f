/*
 * replay.h - a recorded workload trace (libbf/trace.h: CSV
 * "timestamp,value", value = arrivals in the interval that starts at
 * timestamp; see shared/data/traces/README.md), turned into send times
 * for --replay.
 */
#ifndef BF_PRODUCER_REPLAY_H
#define BF_PRODUCER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"

typedef struct bf_replay_s bf_replay_t;

/**
 * @brief Read a trace with bf_trace_read() (its rules, its messages) in
 *        steps of the recording's interval.
 * @param speedup replay K times faster than recorded (> 0)
 * @returns BF_OK; BF_ERR_INVALID_ARG (a bad @p speedup, or bf_trace_read's),
 *          or bf_trace_read's errors, with "FILE:LINE: reason" in errstr.
 */
bf_err_t bf_replay_load(const char *path, double speedup, bf_replay_t **out, char *errstr,
                        size_t errstr_size);

/** @brief Arrivals in the whole trace (each step's rounded to whole ones). */
uint64_t bf_replay_total(const bf_replay_t *r);

/**
 * @brief When the next arrival is due, in seconds since the replay began
 *        (already divided by the speed-up). Arrivals of one step are
 *        spread evenly over it; a step with no row (a gap in the
 *        recording, an outage) is replayed as the silence it was.
 * @returns 1 and *at_s, or 0 when the trace is over.
 */
int bf_replay_next(bf_replay_t *r, double *at_s);

/** @brief Free a replay. NULL-safe. */
void bf_replay_destroy(bf_replay_t *r);

#endif
