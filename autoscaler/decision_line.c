/*
 * decision_line.c - the JSON decision line and its print throttle (see
 * decision_line.h). Built with jansson so the reasoning text is escaped
 * correctly whatever it contains.
 */
#include "autoscaler/decision_line.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Has anything a reader cares about changed since the last line? */
static bool news(const bf_decision_line_state_t *state, const bf_decision_t *d,
                 double now)
{
    if (!state->printed_any || d->action != BF_SCALE_HOLD)
        return true;
    if (now - state->last_at >= BF_DECISION_LINE_HOLD_EVERY_S)
        return true;
    if (d->desired_workers != state->last_desired)
        return true;
    if ((d->total_lag == 0) != (state->last_lag == 0))
        return true;
    return state->last_lag > 0 &&
           (d->total_lag >= 2 * state->last_lag || 2 * d->total_lag <= state->last_lag);
}

bool bf_decision_line_due(bf_decision_line_state_t *state, const bf_decision_t *d,
                          double now)
{
    if (!news(state, d, now))
        return false;
    state->printed_any = true;
    state->last_at = now;
    state->last_desired = d->desired_workers;
    state->last_lag = d->total_lag;
    return true;
}

/* Two decimals are what a person reads; the line stays short. */
static double round2(double x)
{
    return isfinite(x) ? round(x * 100) / 100 : 0;
}

char *bf_decision_line_format(const bf_decision_t *d, const struct timespec *wall)
{
    struct tm tm;
    time_t secs = wall->tv_sec;
    gmtime_r(&secs, &tm);
    char when[40];
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03ldZ", (long)(wall->tv_nsec / 1000000L));

    /* json_pack's "s" copies; "I" is json_int_t (long long). */
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:I, s:f, s:f, s:f, s:s}", "ts",
                          when, "action", bf_scale_action_name(d->action),
                          "current_workers", (json_int_t)d->current_workers,
                          "target_workers", (json_int_t)d->target_workers, "total_lag",
                          (json_int_t)d->total_lag, "partitions", (int)d->partitions,
                          "desired_workers", (json_int_t)d->desired_workers, "score",
                          round2(d->score), "forecast_rate", round2(d->forecast_rate),
                          "confidence", round2(d->confidence), "reasoning", d->reasoning);
    if (o && d->overridden)
        json_object_set_new(o, "override_replicas",
                            json_integer((json_int_t)d->override_replicas));
    char *text =
        o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
          : NULL;
    json_decref(o);
    /* Only fails when jansson cannot allocate (the reasoning is ASCII we
     * wrote ourselves, plus an override's reason, which override.c checked
     * is UTF-8 and kept whole); our out-of-memory policy is to abort. */
    if (!text)
        abort();
    return text; /* jansson allocates with malloc: nobody sets its alloc funcs */
}
