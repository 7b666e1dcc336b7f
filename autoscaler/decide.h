/*
 * decide.h - the scaling decision: how many workers should run, and why.
 *
 * Pure functions over plain structs: no clock, no I/O, no Kafka. The
 * caller passes the time in, so the unit tests can walk through a
 * stabilisation window without sleeping, and the backtest of issue 5 can
 * replay a recorded trace through the very same code.
 *
 * The rule of the walking skeleton (KEDA's Kafka scaler with the
 * Kubernetes HPA's scale-down stabilisation):
 *
 *   desired = ceil(total_lag / lag_per_worker)
 *   desired = min(desired, partitions)      more consumers than partitions
 *                                           sit idle in the group
 *   desired = clamp(desired, min, max)      --min is the operator's floor
 *                                           and wins over the partition cap
 *
 *   desired > current   scale up to desired at once
 *   desired < current   scale down by one worker, but only once every
 *                       desired count of the last scale_down_delay seconds
 *                       was below current (HPA stabilizationWindowSeconds:
 *                       the highest recommendation of the window wins)
 *   otherwise           hold
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

/** The operator's policy, fixed for the life of the process. */
typedef struct bf_decide_policy_s {
    int64_t min_workers;    /* floor, 0..BF_DECIDE_MAX_WORKERS */
    int64_t max_workers;    /* ceiling, min_workers..BF_DECIDE_MAX_WORKERS */
    int64_t lag_per_worker; /* messages of lag one worker is expected to absorb, >= 1 */
    double scale_down_delay_s; /* stabilisation window for scaling down, >= 0 */
} bf_decide_policy_t;

/** One observation of the world, taken by the caller. */
typedef struct bf_decide_input_s {
    double now;              /* seconds on a monotonic clock */
    int64_t total_lag;       /* sum of the per-partition lags, >= 0 */
    int32_t partitions;      /* partitions of the consumed topic, >= 1 */
    int64_t current_workers; /* workers running now */
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

typedef struct bf_decide_state_s {
    bool started;       /* false until the first bf_decide() */
    double started_at;  /* time of the first observation */
    size_t head, count; /* ring buffer over samples[] */
    bf_decide_sample_t samples[BF_DECIDE_MAX_WORKERS + 1];
} bf_decide_state_t;

/** The outcome of one decision. */
typedef struct bf_decision_s {
    bf_scale_action_t action;
    int64_t current_workers; /* as given in the input */
    int64_t desired_workers; /* the rule's count before stabilisation and steps */
    int64_t target_workers;  /* what to run now (== current for HOLD) */
    int64_t total_lag;
    int32_t partitions;
    double below_for_s;  /* how long desired has been below current (0 if not) */
    char reasoning[320]; /* one human-readable sentence */
} bf_decision_t;

/** @brief Reset @p state to "no history" (also fine on a zeroed struct). */
void bf_decide_state_init(bf_decide_state_t *state);

/**
 * @brief The rule's count for a lag, before the window: ceil, partition cap,
 *        min/max clamp. Pure.
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
