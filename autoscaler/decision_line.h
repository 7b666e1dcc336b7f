/*
 * decision_line.h - each decision as one JSON line on stdout, and when to
 * print one.
 *
 * stdout of the autoscaler is for people watching the demo and for scripts
 * that follow the fleet (`| jq`); stderr carries the logs. Every change of
 * the fleet is printed; a HOLD only when something worth reading changed,
 * or as a heartbeat every BF_DECISION_LINE_HOLD_EVERY_S seconds, so a quiet
 * fleet does not scroll the screen every interval.
 *
 * The line (keys in this order):
 *   {"ts":"2026-01-02T03:04:05.678Z","action":"SCALE_UP","current_workers":1,
 *    "target_workers":4,"total_lag":950,"partitions":4,"desired_workers":4,
 *    "score":0.45,"forecast_rate":12.5,"confidence":0.83,"reasoning":"..."}
 * (desired_workers: the rule's count before the windows; score, the
 * forecast the count planned for and its confidence: see decide.h.) While
 * a manual override pins the fleet (override.h) the line ends with
 * "override_replicas":N, the replicas asked for, and the reasoning starts
 * with the override and its reason.
 */
#ifndef BF_AUTOSCALER_DECISION_LINE_H
#define BF_AUTOSCALER_DECISION_LINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "autoscaler/decide.h"

/* Longest silence on stdout while holding. */
#define BF_DECISION_LINE_HOLD_EVERY_S 30.0

/** What was last printed; zero-initialise before the first decision. */
typedef struct bf_decision_line_state_s {
    bool printed_any;
    double last_at; /* monotonic seconds */
    int64_t last_desired;
    int64_t last_lag;
} bf_decision_line_state_t;

/**
 * @brief Should decision @p d, taken at monotonic time @p now, be printed?
 *        If so, @p state records it as printed.
 *
 * Yes for any SCALE_UP or SCALE_DOWN, the first decision, and a HOLD when
 * the rule's desired count changed, the lag reached or left zero, the lag
 * doubled or halved since the last line, or BF_DECISION_LINE_HOLD_EVERY_S
 * passed.
 */
bool bf_decision_line_due(bf_decision_line_state_t *state, const bf_decision_t *d,
                          double now);

/**
 * @brief Format @p d as one JSON object (no newline), stamped with the wall
 *        clock time @p wall (UTC, millisecond precision, like the logs).
 * @returns a string the caller frees with free(); never NULL.
 */
char *bf_decision_line_format(const bf_decision_t *d, const struct timespec *wall);

#endif
