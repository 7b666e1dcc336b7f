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
    state->head = 0;
    state->count = 0;
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

/* The rule's count, and when @p why is not NULL the sentence that explains
 * it, so the explanation can never disagree with the arithmetic. */
static int64_t desired_count(const bf_decide_policy_t *p, int64_t total_lag,
                             int32_t partitions, char *why, size_t size, size_t *len)
{
    int64_t per = p->lag_per_worker > 0 ? p->lag_per_worker : 1;
    int64_t lag = total_lag > 0 ? total_lag : 0;
    /* ceil without the overflow of (lag + per - 1) / per */
    int64_t raw = lag / per + (lag % per != 0);
    int64_t desired = raw;
    appendf(why, size, len, "lag %lld over %d partitions needs ceil(%lld/%lld)=%lld",
            (long long)lag, (int)partitions, (long long)lag, (long long)per,
            (long long)raw);
    if (partitions > 0 && desired > partitions) {
        desired = partitions;
        appendf(why, size, len, ", capped at %d partitions", (int)partitions);
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
    appendf(why, size, len, " -> desired %lld", (long long)desired);
    return desired;
}

int64_t bf_decide_desired(const bf_decide_policy_t *policy, int64_t total_lag,
                          int32_t partitions)
{
    return desired_count(policy, total_lag, partitions, NULL, 0, NULL);
}

/* The ring buffer of the window's monotonic queue (see decide.h). */
static bf_decide_sample_t *sample_at(bf_decide_state_t *s, size_t i)
{
    return &s->samples[(s->head + i) % (BF_DECIDE_MAX_WORKERS + 1)];
}

static void window_push(bf_decide_state_t *s, double now, int64_t desired)
{
    /* An older sample that is not higher than the new one can never be the
     * window's maximum again. This keeps desired strictly decreasing from
     * the front, hence at most BF_DECIDE_MAX_WORKERS + 1 entries. */
    while (s->count > 0 && sample_at(s, s->count - 1)->desired <= desired)
        s->count--;
    *sample_at(s, s->count) = (bf_decide_sample_t){.at = now, .desired = desired};
    s->count++;
}

static void window_expire(bf_decide_state_t *s, double now, double window)
{
    /* A sample exactly one window old still counts: a recommendation made
     * at t keeps the fleet up until t + window has passed. */
    while (s->count > 0 && sample_at(s, 0)->at < now - window) {
        s->head = (s->head + 1) % (BF_DECIDE_MAX_WORKERS + 1);
        s->count--;
    }
}

/* Time of the newest recommendation of at least @p level in the window, or
 * a negative value if there is none. Entries >= level are a prefix of the
 * queue because desired decreases from the front. */
static double window_last_at_least(bf_decide_state_t *s, int64_t level)
{
    double at = -1;
    for (size_t i = 0; i < s->count && sample_at(s, i)->desired >= level; i++)
        at = sample_at(s, i)->at;
    return at;
}

void bf_decide(const bf_decide_policy_t *policy, bf_decide_state_t *state,
               const bf_decide_input_t *in, bf_decision_t *out)
{
    double window = policy->scale_down_delay_s > 0 ? policy->scale_down_delay_s : 0;

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
    int64_t desired =
        desired_count(policy, in->total_lag, in->partitions, why, size, &len);
    out->desired_workers = desired;

    window_push(state, in->now, desired);
    window_expire(state, in->now, window);

    if (desired > in->current_workers) {
        out->action = BF_SCALE_UP;
        out->target_workers = desired;
        appendf(why, size, &len, "; scaling up from %lld to %lld at once",
                (long long)in->current_workers, (long long)desired);
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
    double last_high = window_last_at_least(state, in->current_workers);
    double observed = in->now - state->started_at;
    double below = last_high >= 0 ? in->now - last_high : observed;
    if (last_high < 0 && below > window)
        below = window;
    out->below_for_s = below;

    if (last_high < 0 && observed >= window) {
        out->action = BF_SCALE_DOWN;
        out->target_workers = in->current_workers - 1;
        appendf(why, size, &len,
                "; below the %lld running for the whole %gs window, scaling down one "
                "step to %lld",
                (long long)in->current_workers, window, (long long)out->target_workers);
        return;
    }
    appendf(why, size, &len,
            "; below the %lld running for %.0fs of the %gs window, holding",
            (long long)in->current_workers, below, window);
}
