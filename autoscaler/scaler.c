/*
 * scaler.c - observations to decisions through the forecast (see scaler.h).
 */
#include "autoscaler/scaler.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"

/* Weight of a new throughput measurement in the moving average. */
#define RATE_EWMA 0.3
/* Most a sample of a fleet below its cap raises the estimate by, as a factor. */
#define RATE_RAISE_MAX 1.5
/* A silence between two readings longer than this many forecast steps
 * makes the steps inside it missing. */
#define GAP_STEPS 2
/* Seconds in a week: a lone weekly --season. */
#define WEEK_S (7 * 86400.0)

struct bf_scaler_s {
    bf_scaler_conf_t conf;
    bf_forecast_t *forecast;
    bf_decide_state_t decide;
    size_t horizon_steps;
    bool started;
    double bucket_start, bucket_arrivals;
    double prev_now;
    int64_t prev_lag, prev_workers;
    double measured_rate; /* 0 until measured */
};

bf_scaler_t *bf_scaler_new(const bf_scaler_conf_t *conf, char *errstr, size_t errstr_size)
{
    if (!(conf->step_s > 0) || !(conf->worker_rate > 0)) {
        snprintf(errstr, errstr_size, "forecast step and worker rate must be above 0");
        return NULL;
    }
    double h = ceil(conf->horizon_s / conf->step_s - 1e-9);
    size_t horizon = h < 1                         ? 1
                     : h > BF_FORECAST_MAX_HORIZON ? BF_FORECAST_MAX_HORIZON
                                                   : (size_t)h;
    bf_forecast_conf_t fc = {.model = BF_FORECAST_AUTO,
                             .season = conf->season,
                             .season2 = conf->season2,
                             .horizon = horizon};
    /* A weekly season on its own is the selecting model's second one. */
    if (conf->season && !conf->season2 &&
        fabs((double)conf->season * conf->step_s - WEEK_S) < 1e-6) {
        fc.season = 0;
        fc.season2 = conf->season;
    }
    bf_forecast_t *f = bf_forecast_new(&fc, errstr, errstr_size);
    if (!f)
        return NULL;
    bf_scaler_t *s = bf_calloc(1, sizeof(*s));
    s->conf = *conf;
    s->forecast = f;
    s->horizon_steps = horizon;
    bf_decide_state_init(&s->decide);
    return s;
}

void bf_scaler_destroy(bf_scaler_t *s)
{
    if (!s)
        return;
    bf_forecast_destroy(s->forecast);
    free(s);
}

const bf_forecast_t *bf_scaler_forecast(const bf_scaler_t *s)
{
    return s->forecast;
}

/* Sum the arrivals into forecast steps; every step that has ended feeds the
 * forecast its rate. A reading's arrivals are spread over the time since
 * the previous one, each step getting the part that overlaps it. When no
 * reading came for more than two steps (the lag could not be read: a Kafka
 * outage, a paused autoscaler), the steps that lie wholly inside that
 * silence are missing, not zero: the forecast skips them and their share
 * of the arrivals is not booked (when within the silence they came is
 * unknown). @p dt is the time since the previous reading. */
static void feed_forecast(bf_scaler_t *s, double now, double arrivals, double dt)
{
    double step = s->conf.step_s, from = now - dt;
    bool silence = dt > GAP_STEPS * step;
    arrivals = arrivals > 0 && dt > 0 ? arrivals : 0;
    /* 1e-6 s of tolerance, so steps of exactly step_s close on time */
    while (now - s->bucket_start >= step - 1e-6) {
        double start = s->bucket_start, end = start + step;
        if (silence && start > from + 1e-6 && end < now - 1e-6) {
            bf_forecast_skip(s->forecast);
        } else {
            double overlap = fmax(0, fmin(end, now) - fmax(start, from));
            if (dt > 0)
                s->bucket_arrivals += arrivals * overlap / dt;
            bf_forecast_observe(s->forecast, s->bucket_arrivals / step);
        }
        s->bucket_arrivals = 0;
        s->bucket_start = end;
    }
    /* the rest of the reading's interval lies in the step now open */
    if (dt > 0)
        s->bucket_arrivals += arrivals * fmax(0, now - fmax(s->bucket_start, from)) / dt;
}

/* See scaler.h: saturated samples are smoothed in, others only raise. */
static void measure_rate(bf_scaler_t *s, const bf_scaler_obs_t *o, double dt)
{
    if (!s->conf.measure_rate || dt <= 0 || o->current_workers <= 0 ||
        o->current_workers != s->prev_workers)
        return;
    double sample = o->processed / dt / (double)o->current_workers;
    if (!(sample > 0))
        return;
    bool saturated = o->saturated == BF_SATURATION_UNKNOWN
                         ? s->prev_lag > 0 && o->total_lag > 0
                         : o->saturated == BF_SATURATION_YES;
    if (saturated)
        s->measured_rate = s->measured_rate > 0
                               ? RATE_EWMA * sample + (1 - RATE_EWMA) * s->measured_rate
                               : sample;
    else {
        /* at most half again per sample: commits that stalled (a coordinator
         * outage, a rebalance) arrive in one interval as a burst */
        double ref = s->measured_rate > 0 ? s->measured_rate : s->conf.worker_rate;
        if (sample > ref)
            s->measured_rate = fmin(sample, RATE_RAISE_MAX * ref);
    }
}

void bf_scaler_observe(bf_scaler_t *s, const bf_scaler_obs_t *o,
                       bf_scaler_decision_t *out)
{
    memset(out, 0, sizeof(*out));
    double dt = 0;
    if (!s->started) {
        s->started = true;
        s->bucket_start = o->now;
    } else {
        dt = o->now - s->prev_now;
        feed_forecast(s, o->now, o->arrivals, dt);
        measure_rate(s, o, dt);
    }
    if (dt > 0) {
        out->arrival_rate = o->arrivals / dt;
        out->processing_rate = o->processed / dt;
    }
    out->worker_rate = s->measured_rate > 0 ? s->measured_rate : s->conf.worker_rate;
    bf_forecast_predict(s->forecast, s->horizon_steps, &out->forecast);
    out->forecast_ready = bf_forecast_count(s->forecast) >= 2;
    out->forecast_peak = out->forecast_ready
                             ? bf_forecast_peak(s->forecast, s->horizon_steps)
                             : out->arrival_rate;

    double latency = o->latency_s;
    if (latency < 0)
        latency =
            o->current_workers > 0
                ? (double)o->total_lag / ((double)o->current_workers * out->worker_rate)
                : (o->total_lag > 0 ? INFINITY : 0);
    bf_decide_input_t in = {
        .now = o->now,
        .total_lag = o->total_lag,
        .partitions = o->partitions,
        .current_workers = o->current_workers,
        .arrival_rate = out->arrival_rate,
        .arrival_forecast = out->forecast_peak,
        .worker_rate = out->worker_rate,
        .latency_s = latency,
        .budget_use = o->budget_use,
        .budget_limited = o->budget_limited,
        .budget_workers = o->budget_workers,
        .ai_limit_bound = o->ai_limit_bound,
        .ai_limit_rpm = o->ai_limit_rpm,
    };
    bf_decide(&s->conf.policy, &s->decide, &in, &out->decision);
    out->decision.forecast_rate = out->forecast_peak;
    out->decision.confidence = out->forecast.confidence;
    if (s->conf.policy.rule == BF_DECIDE_RULE_CAPACITY) {
        char *why = out->decision.reasoning;
        size_t len = strlen(why), size = sizeof(out->decision.reasoning);
        if (len + 1 < size)
            snprintf(why + len, size - len,
                     "; forecast %.3g/s at %.0fs [%.3g, %.3g], confidence %.2f, %s%s",
                     out->forecast.value, s->conf.horizon_s, out->forecast.lower,
                     out->forecast.upper, out->forecast.confidence,
                     bf_trend_name(out->forecast.trend),
                     s->measured_rate > 0 ? ", measured throughput" : "");
    }
    s->prev_now = o->now;
    s->prev_lag = o->total_lag;
    s->prev_workers = o->current_workers;
}

char *bf_scaler_save(const bf_scaler_t *s)
{
    json_t *o = json_pack("{s:i, s:f, s:f, s:o}", "version", 1, "step_s", s->conf.step_s,
                          "worker_rate", s->measured_rate, "forecast",
                          bf_forecast_save(s->forecast));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        abort();
    return text;
}

int bf_scaler_load(bf_scaler_t *s, const char *text, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    if (!o) {
        snprintf(errstr, errstr_size, "saved state is not JSON: %s", jerr.text);
        return -1;
    }
    int rc = -1;
    json_t *step = json_object_get(o, "step_s"),
           *rate = json_object_get(o, "worker_rate");
    if (json_integer_value(json_object_get(o, "version")) != 1 || !json_is_number(step) ||
        fabs(json_number_value(step) - s->conf.step_s) > 1e-9 || !json_is_number(rate) ||
        !(json_number_value(rate) >= 0)) {
        snprintf(errstr, errstr_size,
                 "saved state is for another forecast step or is malformed");
        goto out;
    }
    if (bf_forecast_load(s->forecast, json_object_get(o, "forecast"), errstr,
                         errstr_size) != 0)
        goto out;
    s->measured_rate = json_number_value(rate);
    rc = 0;
out:
    json_decref(o);
    return rc;
}

void bf_scaler_season_needs(const bf_scaler_t *s, double worker_rate, int64_t *offpeak,
                            int64_t *peak)
{
    *offpeak = *peak = -1;
    bf_forecast_point_t now;
    bf_forecast_predict(s->forecast, 1, &now);
    /* the forecast's own seasons: a lone weekly --season is its second */
    const bf_forecast_conf_t *fc = bf_forecast_conf(s->forecast);
    size_t span = now.seasonal2 ? fc->season2 : fc->season;
    if (!now.seasonal || span == 0 || !(worker_rate > 0))
        return;
    const bf_decide_policy_t *p = &s->conf.policy;
    double per = worker_rate * (p->target_utilization > 0 ? p->target_utilization : 1);
    double lo, hi;
    bf_forecast_range(s->forecast, span, &lo, &hi);
    *offpeak = (int64_t)ceil(lo / per - 1e-9);
    *peak = (int64_t)ceil(hi / per - 1e-9);
}
