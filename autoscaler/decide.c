/*
 * decide.c - the scaling rule (see decide.h for the rule itself).
 *
 * Why a stabilisation window only for scaling down: a backlog that is not
 * worked off costs latency at once, while a worker kept a little too long
 * only costs a few worker-seconds; and every stop makes the group
 * rebalance, which pauses all consumers. So, like the Kubernetes HPA's
 * default behaviour, we scale up immediately and to the full count, and
 * scale down only after the lower count has held for a whole window, one
 * worker per decision, so that a short dip in the lag (a burst that was
 * just drained while the next one is arriving) does not make the fleet
 * flap.
 */
#include "autoscaler/decide.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

const char *bf_scale_action_name(bf_scale_action_t action)
{
    switch (action) {
    case BF_SCALE_UP:
        return "SCALE_UP";
    case BF_SCALE_DOWN:
        return "SCALE_DOWN";
    case BF_SCALE_HOLD:
        break;
    }
    return "HOLD";
}

void bf_decide_state_init(bf_decide_state_t *state)
{
    state->started = false;
    state->started_at = 0;
    state->acted = false;
    state->last_action_at = 0;
    state->high.head = state->high.count = 0;
    state->low.head = state->low.count = 0;
}

/* snprintf that appends at *len and never runs past the end; does nothing
 * without a buffer, so the arithmetic below reads the same either way. */
static void appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (!buf || !len || *len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    /* va_start is right above; clang-analyzer's valist checker reports the
     * same false positive on libbf/buf.c. */
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

void bf_decide_policy_capacity(bf_decide_policy_t *p)
{
    p->rule = BF_DECIDE_RULE_CAPACITY;
    p->drain_target_s = 60;
    p->target_utilization = 0.8;
    p->activation_lag = 0;
    p->latency_slo_s = 60;
    p->weights = (bf_decide_weights_t){
        .queue = 0.40, .latency = 0.25, .forecast = 0.20, .cost = 0.15};
    p->up_threshold = 0.0;
    p->down_threshold = -0.1;
    p->scale_down_at_once = true;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Planned reports/s of one worker. */
static double planned_rate(const bf_decide_policy_t *p, const bf_decide_input_t *in)
{
    double util = p->target_utilization > 0 ? p->target_utilization : 1;
    return (in->worker_rate > 0 ? in->worker_rate : 1) * util;
}

/* The lag rule's raw count. */
static int64_t lag_rule(const bf_decide_policy_t *p, int64_t lag, int32_t partitions,
                        char *why, size_t size, size_t *len)
{
    int64_t per = p->lag_per_worker > 0 ? p->lag_per_worker : 1;
    /* ceil without the overflow of (lag + per - 1) / per */
    int64_t raw = lag / per + (lag % per != 0);
    appendf(why, size, len, "lag %lld over %d partitions needs ceil(%lld/%lld)=%lld",
            (long long)lag, (int)partitions, (long long)lag, (long long)per,
            (long long)raw);
    return raw;
}

/* The capacity rule's raw count (see decide.h). */
static int64_t capacity_rule(const bf_decide_policy_t *p, const bf_decide_input_t *in,
                             int64_t lag, char *why, size_t size, size_t *len)
{
    double drain = p->drain_target_s > 0 ? p->drain_target_s : 1;
    double per = planned_rate(p, in);
    double forecast = in->arrival_forecast > 0 ? in->arrival_forecast : 0;
    double need = ((double)lag / drain + forecast) / per;
    if (lag <= p->activation_lag && forecast / per < 0.5) {
        appendf(why, size, len,
                "lag %lld at most the activation threshold %lld and forecast %.3g/s "
                "needs under half a worker: 0",
                (long long)lag, (long long)p->activation_lag, forecast);
        return 0;
    }
    /* ceil with a tolerance, so 3.0000000001 workers of rounding noise is 3 */
    double raw = ceil(need - 1e-9);
    if (raw > BF_DECIDE_MAX_WORKERS)
        raw = BF_DECIDE_MAX_WORKERS;
    appendf(why, size, len,
            "lag %lld drained in %gs plus forecast %.3g/s needs %.2f workers of %.3g/s "
            "(%.0f%% of %.3g/s) -> %.0f",
            (long long)lag, drain, forecast, need, per,
            100 * (p->target_utilization > 0 ? p->target_utilization : 1),
            in->worker_rate, raw);
    return (int64_t)raw;
}

/* The rule's count, and when @p why is not NULL the sentence that explains
 * it, so the explanation can never disagree with the arithmetic. */
static int64_t desired_count(const bf_decide_policy_t *p, const bf_decide_input_t *in,
                             char *why, size_t size, size_t *len)
{
    int64_t lag = in->total_lag > 0 ? in->total_lag : 0;
    int64_t desired = p->rule == BF_DECIDE_RULE_CAPACITY
                          ? capacity_rule(p, in, lag, why, size, len)
                          : lag_rule(p, lag, in->partitions, why, size, len);
    if (in->partitions > 0 && desired > in->partitions) {
        desired = in->partitions;
        appendf(why, size, len, ", capped at %d partitions", (int)in->partitions);
    }
    if (desired < p->min_workers) {
        desired = p->min_workers;
        appendf(why, size, len, ", raised to --min %lld", (long long)desired);
    }
    int64_t ceiling =
        p->max_workers < BF_DECIDE_MAX_WORKERS ? p->max_workers : BF_DECIDE_MAX_WORKERS;
    if (desired > ceiling) {
        desired = ceiling;
        appendf(why, size, len, ", capped at --max %lld", (long long)desired);
    }
    /* The budget blocks growth: never above what it allows when that would
     * add workers, but it does not force a running fleet down. */
    if (in->budget_limited && desired > in->budget_workers &&
        desired > in->current_workers) {
        int64_t allowed = in->budget_workers > in->current_workers ? in->budget_workers
                                                                   : in->current_workers;
        if (allowed < p->min_workers)
            allowed = p->min_workers;
        if (allowed < desired) {
            desired = allowed;
            appendf(why, size, len, ", held at %lld by the budget (it allows %lld)",
                    (long long)desired, (long long)in->budget_workers);
        }
    }
    appendf(why, size, len, " -> desired %lld", (long long)desired);
    return desired;
}

int64_t bf_decide_desired(const bf_decide_policy_t *policy, int64_t total_lag,
                          int32_t partitions)
{
    bf_decide_policy_t p = *policy;
    p.rule = BF_DECIDE_RULE_LAG;
    bf_decide_input_t in = {.total_lag = total_lag, .partitions = partitions};
    return desired_count(&p, &in, NULL, 0, NULL);
}

/* The multi-metric score of the capacity rule (see decide.h). */
static double score_of(const bf_decide_policy_t *p, const bf_decide_input_t *in,
                       bf_decide_weights_t *pressure)
{
    double capacity = (double)in->current_workers * planned_rate(p, in);
    double drain = p->drain_target_s > 0 ? p->drain_target_s : 1;
    double lag = in->total_lag > 0 ? (double)in->total_lag : 0;
    double now_demand = lag / drain + (in->arrival_rate > 0 ? in->arrival_rate : 0);
    double forecast = in->arrival_forecast > 0 ? in->arrival_forecast : 0;
    if (capacity > 0) {
        pressure->queue = clamp(now_demand / capacity - 1, -1, 1);
        pressure->forecast = clamp(forecast / capacity - 1, -1, 1);
    } else {
        pressure->queue = now_demand > 0 ? 1 : 0;
        pressure->forecast = forecast > 0 ? 1 : 0;
    }
    pressure->latency = in->latency_s >= 0 && p->latency_slo_s > 0
                            ? clamp(in->latency_s / p->latency_slo_s, 0, 1)
                            : 0;
    pressure->cost = -clamp(in->budget_use, 0, 1);
    return p->weights.queue * pressure->queue + p->weights.latency * pressure->latency +
           p->weights.forecast * pressure->forecast + p->weights.cost * pressure->cost;
}

/* The ring buffer of a window's monotonic queue (see decide.h). */
static bf_decide_sample_t *sample_at(bf_decide_window_t *w, size_t i)
{
    return &w->samples[(w->head + i) % (BF_DECIDE_MAX_WORKERS + 1)];
}

/* @p keep_max: a queue for the window maximum, else for the minimum. */
static void window_push(bf_decide_window_t *w, double now, int64_t desired, bool keep_max)
{
    /* An older sample that is not higher (lower, for the minimum) than the
     * new one can never be the window's extreme again. This keeps desired
     * strictly monotonic from the front, hence at most
     * BF_DECIDE_MAX_WORKERS + 1 entries. */
    while (w->count > 0) {
        int64_t last = sample_at(w, w->count - 1)->desired;
        if (keep_max ? last > desired : last < desired)
            break;
        w->count--;
    }
    *sample_at(w, w->count) = (bf_decide_sample_t){.at = now, .desired = desired};
    w->count++;
}

static void window_expire(bf_decide_window_t *w, double now, double window)
{
    /* A sample exactly one window old still counts: a recommendation made
     * at t keeps the fleet up until t + window has passed. The newest
     * sample (time now) always stays. */
    while (w->count > 1 && sample_at(w, 0)->at < now - window) {
        w->head = (w->head + 1) % (BF_DECIDE_MAX_WORKERS + 1);
        w->count--;
    }
}

/* Time of the newest recommendation of at least @p level in the maximum
 * window, or a negative value if there is none. Entries >= level are a
 * prefix of the queue because desired decreases from the front. */
static double window_last_at_least(bf_decide_window_t *w, int64_t level)
{
    double at = -1;
    for (size_t i = 0; i < w->count && sample_at(w, i)->desired >= level; i++)
        at = sample_at(w, i)->at;
    return at;
}

void bf_decide(const bf_decide_policy_t *policy, bf_decide_state_t *state,
               const bf_decide_input_t *in, bf_decision_t *out)
{
    double window = policy->scale_down_delay_s > 0 ? policy->scale_down_delay_s : 0;
    double up_window = policy->up_window_s > 0 ? policy->up_window_s : 0;
    bool capacity = policy->rule == BF_DECIDE_RULE_CAPACITY;

    if (!state->started) {
        state->started = true;
        state->started_at = in->now;
    }
    *out = (bf_decision_t){
        .action = BF_SCALE_HOLD,
        .current_workers = in->current_workers,
        .target_workers = in->current_workers,
        .total_lag = in->total_lag,
        .partitions = in->partitions,
    };
    char *why = out->reasoning;
    size_t size = sizeof(out->reasoning), len = 0;
    int64_t desired = desired_count(policy, in, why, size, &len);
    out->desired_workers = desired;
    if (capacity) {
        out->score = score_of(policy, in, &out->pressure);
        appendf(why, size, &len,
                "; score %+.2f (queue %+.2f, latency %+.2f, forecast %+.2f, cost %+.2f)",
                out->score, out->pressure.queue, out->pressure.latency,
                out->pressure.forecast, out->pressure.cost);
    }

    window_push(&state->high, in->now, desired, true);
    window_expire(&state->high, in->now, window);
    window_push(&state->low, in->now, desired, false);
    window_expire(&state->low, in->now, up_window);

    bool below_min = in->current_workers < policy->min_workers;
    if (!below_min && state->acted && policy->cooldown_s > 0 &&
        in->now - state->last_action_at < policy->cooldown_s) {
        appendf(why, size, &len, "; in the %gs cooldown after the last action, holding",
                policy->cooldown_s);
        return;
    }

    /* Scale up to the lowest recommendation of the up window. */
    int64_t up_to = sample_at(&state->low, 0)->desired;
    if (desired > in->current_workers) {
        if (in->ai_limit_bound && !below_min) {
            /* The workers already wait for the provider: what they share
             * is the bottleneck, and another worker only shares it too. */
            if (in->ai_limit_rpm > 0)
                appendf(why, size, &len,
                        "; the AI provider's rate limit (%.0f requests/min for the "
                        "fleet) is the bottleneck, not the number of workers: holding "
                        "at %lld",
                        in->ai_limit_rpm, (long long)in->current_workers);
            else
                appendf(why, size, &len,
                        "; the AI provider's rate limit is the bottleneck, not the "
                        "number of workers: holding at %lld",
                        (long long)in->current_workers);
            return;
        }
        if (below_min && up_to < policy->min_workers)
            up_to = policy->min_workers;
        if (up_to <= in->current_workers) {
            appendf(why, size, &len,
                    "; the %gs up window still holds %lld, holding at %lld", up_window,
                    (long long)up_to, (long long)in->current_workers);
            return;
        }
        if (capacity && !below_min && out->score < policy->up_threshold) {
            appendf(why, size, &len, "; score below the up threshold %+.2f, holding",
                    policy->up_threshold);
            return;
        }
        out->action = BF_SCALE_UP;
        out->target_workers = up_to;
        state->acted = true;
        state->last_action_at = in->now;
        if (up_window > 0)
            appendf(why, size, &len,
                    "; scaling up from %lld to %lld, the lowest of the %gs up window",
                    (long long)in->current_workers, (long long)up_to, up_window);
        else
            appendf(why, size, &len, "; scaling up from %lld to %lld at once",
                    (long long)in->current_workers, (long long)up_to);
        return;
    }
    if (desired == in->current_workers) {
        appendf(why, size, &len, "; equal to the %lld running, holding",
                (long long)in->current_workers);
        return;
    }

    /* desired < current: how long has every recommendation been lower? If a
     * recommendation >= current is still in the window, since then; if not,
     * since the window's start, or since we started observing when that is
     * more recent (after a restart we know nothing older). */
    double last_high = window_last_at_least(&state->high, in->current_workers);
    double observed = in->now - state->started_at;
    double below = last_high >= 0 ? in->now - last_high : observed;
    if (last_high < 0 && below > window)
        below = window;
    out->below_for_s = below;

    if (last_high < 0 && observed >= window) {
        if (capacity && out->score > policy->down_threshold) {
            appendf(why, size, &len, "; score above the down threshold %+.2f, holding",
                    policy->down_threshold);
            return;
        }
        int64_t to = policy->scale_down_at_once ? sample_at(&state->high, 0)->desired
                                                : in->current_workers - 1;
        out->action = BF_SCALE_DOWN;
        out->target_workers = to;
        state->acted = true;
        state->last_action_at = in->now;
        appendf(why, size, &len,
                "; below the %lld running for the whole %gs window, scaling down to %lld",
                (long long)in->current_workers, window, (long long)to);
        return;
    }
    appendf(why, size, &len,
            "; below the %lld running for %.0fs of the %gs window, holding",
            (long long)in->current_workers, below, window);
}
