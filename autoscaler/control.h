/*
 * control.h - the autoscaler's control loop: observe, decide, act, print.
 *
 * One tick every interval:
 *   1. reap workers that exited, and re-apply the last target, so a worker
 *      that died is replaced (and the very first tick starts --min workers
 *      before any lag is known: the fleet never waits for Kafka to start);
 *   2. read the lag (lag.h); on failure log a warning, keep the fleet as
 *      it is and retry with exponential backoff: never scale on missing
 *      data;
 *   3. hand the reading to the scaler (scaler.h: the same forecast and
 *      decision the backtest replays): the lag, the growth of the log-end
 *      offsets (arrivals) and of the committed offsets (processed) since the
 *      last reading, and the workers actually running; print the decision
 *      when it is news (decision_line.h), apply its target. A manual
 *      override (override.h) replaces the scaler's target within --max
 *      and the budget before anything is published, printed or applied;
 *   4. publish the status document (status.h), also after a failed
 *      reading, and every recommend_every_s the recommendations
 *      (recommend.h), from the arrivals recorded per forecast step, the
 *      worker time paid and needed, the heartbeats' AI totals and the
 *      validation results' spend per provider.
 * Between ticks the loop sleeps in sigtimedwait(): SIGCHLD wakes it to reap
 * at once, SIGTERM or SIGINT ends it with a graceful stop of the workers.
 */
#ifndef BF_AUTOSCALER_CONTROL_H
#define BF_AUTOSCALER_CONTROL_H

#include <stdio.h>

#include "autoscaler/actuator.h"
#include "autoscaler/budget.h"
#include "autoscaler/heartbeats.h"
#include "autoscaler/decide.h"
#include "autoscaler/lag.h"
#include "autoscaler/override.h"
#include "autoscaler/publish.h"
#include "autoscaler/scaler.h"
#include "autoscaler/state.h"
#include "autoscaler/status.h"
#include "autoscaler/tail.h"
#include "autoscaler/telemetry.h"
#include "libbf/err.h"

typedef struct bf_control_conf_s {
    double interval_s;                    /* seconds between ticks, > 0 */
    bf_scaler_conf_t scaler;              /* forecast and decision (scaler.h) */
    bf_budget_conf_t budget;              /* cost budgets (budget.h) */
    bf_autoscaler_telemetry_t *telemetry; /* borrowed; NULL = no endpoint */
    bf_publisher_t *publisher;            /* borrowed; NULL = decisions not published */
    bf_state_t *state;                 /* borrowed; NULL = the forecast starts afresh */
    bf_heartbeat_reader_t *heartbeats; /* borrowed; NULL = no heartbeats read */
    bf_override_t *override;           /* borrowed; NULL = no manual override */
    bf_status_t *status;               /* borrowed; NULL = no status document */
    bf_tail_t *validations;            /* borrowed; NULL = no results read (aispend.h) */
    double recommend_every_s;          /* recommendations recomputed this often, > 0 */
    double worker_startup_s;           /* a worker's start-up, for their replays */
} bf_control_conf_t;

/**
 * @brief Block SIGTERM, SIGINT and SIGCHLD in the calling thread and ignore
 *        SIGPIPE, so that the loop can take them with sigtimedwait().
 *
 * Call before any thread is created (before the first rd_kafka_new()):
 * threads inherit the mask, so the signals are then delivered only to the
 * thread that waits for them.
 */
void bf_control_block_signals(void);

/**
 * @brief Run until SIGTERM or SIGINT, then stop the workers gracefully.
 *
 * @param conf   borrowed
 * @param lag    borrowed for the run
 * @param act    borrowed for the run; shut down before returning
 * @param out    where decision lines go (stdout), borrowed
 * @returns BF_OK after a graceful stop; BF_ERR_IO if waiting for signals
 *          failed (a fatal runtime error); BF_ERR_CONFIG if the scaler
 *          refused its configuration (logged).
 */
bf_err_t bf_control_run(const bf_control_conf_t *conf, bf_lag_reader_t *lag,
                        bf_actuator_t *act, FILE *out);

#endif
