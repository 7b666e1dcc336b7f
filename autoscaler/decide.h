/*
 * decide.h - the scaling decision: how many workers should run, and why.
 *
 * Pure functions over plain structs: no clock, no I/O, no Kafka. The
 * caller passes the time in, so the unit tests can walk through a
 * stabilisation window without sleeping, and the backtest replays a
 * recorded trace through the very same code (scaler.h ties the forecast
 * to it for both).
 *
 * Two rules for the desired count (bf_decide_rule_t):
 *
 *   lag (KEDA's Kafka scaler, the walking skeleton's rule)
 *     desired = ceil(total_lag / lag_per_worker)
 *
 *   capacity (bountyfleet's rule)
 *     demand  = total_lag / drain_target_s + arrival_forecast   reports/s
 *     desired = ceil(demand / (worker_rate * target_utilization))
 *     i.e. enough workers to work off the backlog within the drain target
 *     while absorbing the arrivals the forecast expects over its horizon,
 *     at the measured per-worker throughput. Scale to zero: with lag at or
 *     below activation_lag and a forecast that needs less than half a
 *     worker, desired is 0 (then --min applies), so a fleet at zero starts
 *     again only once the lag passes the activation threshold or the
 *     forecast asks for it (KEDA's activationLagThreshold).
 *
 * Then, for both rules:
 *   desired = min(desired, partitions)      more consumers than partitions
 *                                           sit idle in the group
 *   desired = clamp(desired, min, max)      --min is the operator's floor
 *                                           and wins over the partition cap
 *   budget  never above budget_workers when that means scaling up: the
 *           budget blocks growth, it does not shrink a fleet by force
 *   AI      no scaling up while the workers say their AI calls wait for a
 *           provider's rate limit (heartbeats): the limit is shared by the
 *           fleet (worker/ai_fleet.h), so more workers would only wait too;
 *           the reasoning says so (scaling down is not affected)
 *
 * The capacity rule also computes the multi-metric score, a weighted sum of
 * signed pressures (weights default 0.40 / 0.25 / 0.20 / 0.15):
 *   queue     (lag / drain_target_s + arrival_rate) / capacity - 1, in -1..1
 *   latency   latency_s / latency_slo_s, in 0..1 (0 when unknown)
 *   forecast  arrival_forecast / capacity - 1, in -1..1
 *   cost      -budget_use, in -1..0 (0 without a budget)
 * where capacity = current workers * worker_rate * target_utilization. A
 * scale-up needs score >= up_threshold and a scale-down score <=
 * down_threshold, so the count says how far and the score whether the
 * evidence as a whole agrees (a forecast alone does not add workers while
 * the queue is empty and the fleet idle, and the budget leans on growth).
 *
 * Actions (HPA behaviour, both rules):
 *   - stabilisation: scale up to the LOWEST recommendation of the last
 *     up_window_s, scale down only to the HIGHEST of the last
 *     scale_down_delay_s (stabilizationWindowSeconds for scaleUp and
 *     scaleDown), and only once every recommendation of that window was
 *     below the running count; scale down by one worker per decision
 *     unless scale_down_at_once;
 *   - cooldown: no action within cooldown_s of the previous action, except
 *     raising the fleet to --min.
 */
#ifndef BF_AUTOSCALER_DECIDE_H
#define BF_AUTOSCALER_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest --max we accept. It also bounds the stabilisation window's
 * memory (see bf_decide_state_t), so the state never allocates. */
#define BF_DECIDE_MAX_WORKERS 1024

typedef enum bf_scale_action_e {
    BF_SCALE_HOLD = 0,
    BF_SCALE_UP = 1,
    BF_SCALE_DOWN = 2,
} bf_scale_action_t;

typedef enum bf_decide_rule_e {
    BF_DECIDE_RULE_LAG = 0,      /* ceil(lag / lag_per_worker), KEDA */
    BF_DECIDE_RULE_CAPACITY = 1, /* drain the lag and absorb the forecast */
} bf_decide_rule_t;

/** Weights of the multi-metric score (capacity rule). */
typedef struct bf_decide_weights_s {
    double queue, latency, forecast, cost;
} bf_decide_weights_t;

/** The operator's policy, fixed for the life of the process. Zeroed fields
 *  give the skeleton's lag rule; bf_decide_policy_capacity() fills the
 *  defaults of the capacity rule. */
typedef struct bf_decide_policy_s {
    int64_t min_workers;       /* floor, 0..BF_DECIDE_MAX_WORKERS */
    int64_t max_workers;       /* ceiling, min_workers..BF_DECIDE_MAX_WORKERS */
    int64_t lag_per_worker;    /* lag rule: messages of lag one worker absorbs, >= 1 */
    double scale_down_delay_s; /* stabilisation window for scaling down, >= 0 */
    double up_window_s;        /* stabilisation window for scaling up, >= 0 */
    double cooldown_s;         /* least time between two actions, >= 0 */
    bool scale_down_at_once;   /* down to the window's recommendation, not by one */
    bf_decide_rule_t rule;
    /* capacity rule */
    double drain_target_s;     /* work the lag off within this, > 0 */
    double target_utilization; /* share of a worker's throughput to plan on, 0..1 */
    int64_t activation_lag;    /* lag that wakes a fleet at zero */
    double latency_slo_s;      /* latency that counts as full pressure, > 0 */
    bf_decide_weights_t weights;
    double up_threshold;   /* score needed to scale up */
    double down_threshold; /* score needed to scale down */
} bf_decide_policy_t;

/**
 * @brief Fill the capacity rule's defaults into @p p, keeping min, max and
 *        the windows: drain 60 s, utilisation 0.8, activation lag 0, latency
 *        SLO 60 s, weights 0.40/0.25/0.20/0.15, thresholds +0.0 / -0.1,
 *        scale down at once.
 */
void bf_decide_policy_capacity(bf_decide_policy_t *p);

/** One observation of the world, taken by the caller. */
typedef struct bf_decide_input_s {
    double now;              /* seconds on a monotonic clock */
    int64_t total_lag;       /* sum of the per-partition lags, >= 0 */
    int32_t partitions;      /* partitions of the consumed topic, >= 1 */
    int64_t current_workers; /* workers running now */
    /* capacity rule */
    double arrival_rate;     /* reports/s arriving now */
    double arrival_forecast; /* reports/s the forecast expects (peak over the horizon) */
    double worker_rate;      /* reports/s one worker validates, > 0 */
    double latency_s;        /* p95 latency (heartbeats) or estimate; < 0 unknown */
    double budget_use;       /* spend / budget of the tightest period; 0 none */
    bool budget_limited;     /* a budget applies: budget_workers is meaningful */
    int64_t budget_workers;  /* most workers the budget allows, >= 0 */
    bool ai_limit_bound;     /* most workers wait for the AI provider's rate limit */
    double ai_limit_rpm;     /* that limit, fleet-wide requests/min (0 unknown) */
} bf_decide_input_t;

/*
 * Memory of past recommendations, for the stabilisation window.
 *
 * A window maximum kept as a monotonic queue: entries are (time, desired)
 * with desired strictly decreasing from the front, because a recommendation
 * that is followed by a higher one can never again be the window's maximum.
 * Desired counts are clamped to 0..BF_DECIDE_MAX_WORKERS, so the queue never
 * holds more than BF_DECIDE_MAX_WORKERS + 1 entries, whatever the interval.
 * A useful side effect: the newest recommendation that was >= some count c is
 * always still in the queue, which tells how long desired has been below c.
 */
typedef struct bf_decide_sample_s {
    double at;
    int64_t desired;
} bf_decide_sample_t;

/* One monotonic queue: for the window maximum (scale-down window) desired
 * strictly decreases from the front, for the minimum (scale-up window) it
 * strictly increases. */
typedef struct bf_decide_window_s {
    size_t head, count; /* ring buffer over samples[] */
    bf_decide_sample_t samples[BF_DECIDE_MAX_WORKERS + 1];
} bf_decide_window_t;

typedef struct bf_decide_state_s {
    bool started;            /* false until the first bf_decide() */
    double started_at;       /* time of the first observation */
    bool acted;              /* an action was taken */
    double last_action_at;   /* time of the last SCALE_UP or SCALE_DOWN */
    bf_decide_window_t high; /* maximum over scale_down_delay_s */
    bf_decide_window_t low;  /* minimum over up_window_s */
} bf_decide_state_t;

/** The outcome of one decision. */
typedef struct bf_decision_s {
    bf_scale_action_t action;
    int64_t current_workers; /* as given in the input */
    int64_t desired_workers; /* the rule's count before stabilisation and steps */
    int64_t target_workers;  /* what to run now (== current for HOLD) */
    int64_t total_lag;
    int32_t partitions;
    double below_for_s;   /* how long desired has been below current (0 if not) */
    double score;         /* capacity rule: the multi-metric score, else 0 */
    double forecast_rate; /* arrivals/s the decision planned for (scaler.h), else 0 */
    double confidence;    /* the forecast's confidence, 0..1 (scaler.h), else 0 */
    bf_decide_weights_t pressure; /* the score's components before weighting */
    char reasoning[640];          /* one human-readable sentence */
    bool overridden;              /* a manual override set the target (override.h) */
    int64_t override_replicas;    /* the override's replicas as asked, when overridden */
} bf_decision_t;

/** @brief Reset @p state to "no history" (also fine on a zeroed struct). */
void bf_decide_state_init(bf_decide_state_t *state);

/**
 * @brief The lag rule's count for a lag, before the window: ceil, partition
 *        cap, min/max clamp (whatever policy->rule says). Pure.
 */
int64_t bf_decide_desired(const bf_decide_policy_t *policy, int64_t total_lag,
                          int32_t partitions);

/**
 * @brief Decide the action for one observation and remember it in @p state.
 *
 * Call once per observation, with non-decreasing @p in->now. Observations
 * that could not be made (Kafka unreachable) must not be passed in: a
 * decision is only ever taken on data.
 *
 * @param policy borrowed
 * @param state  updated
 * @param in     borrowed
 * @param out    filled completely
 */
void bf_decide(const bf_decide_policy_t *policy, bf_decide_state_t *state,
               const bf_decide_input_t *in, bf_decision_t *out);

/** @brief "SCALE_UP", "SCALE_DOWN" or "HOLD". */
const char *bf_scale_action_name(bf_scale_action_t action);

#endif
