/*
 * backtest.h - `bountyfleet-autoscaler backtest`: replay a recorded arrival
 * trace through the autoscaler's own forecast and decision code (scaler.h)
 * against a simulated fleet, next to two reference policies.
 *
 *   bountyfleet-autoscaler backtest --trace FILE.csv [--worker-rate R]
 *       [--startup S] [--partitions P] [--slo S] [--price P] [--min N]
 *       [--max N] [--format table|json] [--csv OUT] [--svg OUT]
 *
 * The simulated fleet (a fluid queue, one step of the trace at a time):
 *   - arrivals of a step join one FIFO backlog (the topic's lag);
 *   - a worker consumes --worker-rate reports/s once --startup seconds have
 *     passed since it was started (a worker ready part-way through a step
 *     counts for that part); at most --partitions workers consume, the rest
 *     sit idle in the group; stopping a worker is immediate;
 *   - every worker that runs is paid, ready or not: worker-hours x --price;
 *   - the queueing delay at the end of a step is backlog / (consuming
 *     workers x rate) (infinite with a backlog and no consumer); a step
 *     whose delay is above --slo adds its length to the SLO-violation
 *     minutes; the p95 queueing delay weights each step's delay by the
 *     arrivals of that step;
 *   - a scaling action is a step at whose end the policy changed the count.
 *
 * Policies:
 *   bountyfleet  the live loop's scaler with the capacity rule (Holt-Winters
 *                forecast, multi-metric score, HPA windows), fed the
 *                simulated lag, arrivals and processed counts every tick;
 *                the forecast starts from the live defaults (alpha 0.3,
 *                beta 0.02, gamma 0.1) and, like the live loop, refits
 *                them once a season on its own history; a forecast step
 *                of one trace step and the season chosen by the trace's
 *                length (bf_forecast_season_for), the decision the defaults
 *                of bf_decide_policy_capacity() with latency SLO = --slo
 *   fixed-peak   ceil(peak arrival rate / worker rate) workers all along
 *                (capped by partitions and --max, at least --min)
 *   keda         the same scaler with the lag rule, desired =
 *                ceil(lag / --lag-threshold) (default: what one worker
 *                drains within the SLO, worker-rate x slo), the HPA's
 *                default 300 s scale-down window
 * The dynamic policies start with the fixed-peak count's share of the
 * first step (ceil(first rate / worker rate)) ready, so no policy pays for
 * a cold start the others do not.
 */
#ifndef BF_AUTOSCALER_BACKTEST_H
#define BF_AUTOSCALER_BACKTEST_H

#include <stdint.h>

#include "libbf/trace.h"

/** @brief Run the subcommand; argv[0] is "backtest". @returns exit status. */
int bf_backtest_main(int argc, char **argv);

/** The fleet and policy settings of one replay (the subcommand's flags). */
typedef struct bf_backtest_settings_s {
    double worker_rate;        /* --worker-rate, > 0 */
    double startup_s;          /* --startup */
    int64_t partitions;        /* --partitions, >= 1 */
    double slo_s;              /* --slo, > 0 */
    double price;              /* --price, USD per worker-hour */
    int64_t min, max;          /* --min, --max */
    double scale_down_delay_s; /* --scale-down-delay */
    double horizon_s;          /* --horizon */
    double tick_s;             /* --tick; 0 = 60 */
} bf_backtest_settings_t;

/** What the bountyfleet policy did over a trace (the JSON's fields). */
typedef struct bf_backtest_outcome_s {
    double worker_hours, cost_usd, slo_violation_minutes, p95_queue_delay_s;
    double served;        /* reports the simulated fleet worked off */
    double forecast_last; /* the policy's forecast peak (arrivals/s) at the end */
    int64_t scaling_actions;
} bf_backtest_outcome_t;

/**
 * @brief Replay @p tr through the bountyfleet policy alone, exactly as the
 *        subcommand does (for the recommendations, recommend.h).
 * @param workers NULL, or tr->steps counts: the workers after each step
 * @returns 0, or 1 when the scaler refused the settings (said on stderr).
 */
int bf_backtest_replay(const bf_backtest_settings_t *s, const bf_trace_t *tr,
                       bf_backtest_outcome_t *out, int64_t *workers);

#endif
