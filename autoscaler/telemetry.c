/*
 * telemetry.c - the autoscaler's metrics and KEDA endpoint (see
 * telemetry.h).
 */
#include "autoscaler/telemetry.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/lag_status.h"
#include "libbf/config.h"
#include "libbf/httpd.h"
#include "libbf/mem.h"
#include "libbf/metrics.h"

#define M "bountyfleet_autoscaler_"

struct bf_autoscaler_telemetry_s {
    bf_metrics_t *metrics;
    bf_httpd_t *httpd;
    bf_metric_t *lag, *status, *forecast, *decisions, *budget, *spend, *projected;
    bf_metric_t *budget_alert;
    bf_series_t *lag_total, *arrival, *processing, *confidence, *desired, *current;
    bf_series_t *actuator_errors, *heartbeating;
    bf_lag_status_t lag_status;
    pthread_mutex_t lock; /* guards the published decision */
    bool decided;
    bf_scaler_decision_t last;
    int64_t last_current;
};

static void desired_handler(void *opaque, const bf_httpd_request_t *req, int *status,
                            const char **content_type, char **body)
{
    bf_autoscaler_telemetry_t *t = opaque;
    *content_type = "application/json";
    if (strcmp(req->method, "GET") != 0) {
        *status = 405;
        *body = bf_strdup("{\"error\":\"GET only\"}");
        return;
    }
    pthread_mutex_lock(&t->lock);
    bool decided = t->decided;
    bf_scaler_decision_t d = t->last;
    int64_t current = t->last_current;
    pthread_mutex_unlock(&t->lock);
    if (!decided) {
        *status = 503;
        *body = bf_strdup("{\"error\":\"no decision yet\"}");
        return;
    }
    json_t *o =
        json_pack("{s:I, s:I, s:s, s:I, s:f, s:f}", "desiredReplicas",
                  (json_int_t)d.decision.target_workers, "currentReplicas",
                  (json_int_t)current, "action", bf_scale_action_name(d.decision.action),
                  "totalLag", (json_int_t)d.decision.total_lag, "forecastRate",
                  d.forecast.value, "confidence", d.forecast.confidence);
    if (o && d.decision.overridden)
        json_object_set_new(o, "overrideReplicas",
                            json_integer((json_int_t)d.decision.override_replicas));
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        abort();
    *status = 200;
    *body = text;
}

void bf_autoscaler_telemetry_serve_override(bf_autoscaler_telemetry_t *t,
                                            bf_override_t *ov)
{
    if (!t || !ov)
        return;
    bf_override_set_gauge(
        ov,
        bf_metric_series(bf_metrics_gauge(
            t->metrics, M "override_replicas",
            "Replicas pinned by a manual override (PUT /api/v1/override), -1 for none.",
            NULL)));
    bf_httpd_route(t->httpd, "/api/v1/override", bf_override_http, ov);
}

void bf_autoscaler_telemetry_serve_status(bf_autoscaler_telemetry_t *t, bf_status_t *st)
{
    if (t && st)
        bf_status_serve(st, t->httpd);
}

bf_autoscaler_telemetry_t *bf_autoscaler_telemetry_new(const char *addr,
                                                       const char *actuator, char *errstr,
                                                       size_t errstr_size)
{
    bf_autoscaler_telemetry_t *t = bf_calloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    bf_metrics_t *m = t->metrics = bf_metrics_new();
    bf_series_set(bf_metric_series(bf_metrics_gauge(m, "bountyfleet_build_info",
                                                    "Build of the running program.",
                                                    "version,program"),
                                   bf_version(), "bountyfleet-autoscaler"),
                  1);
    t->lag = bf_metrics_gauge(m, M "lag", "Committed offset to log end.", "partition");
    t->lag_total = bf_metric_series(
        bf_metrics_gauge(m, M "lag_total", "Lag summed over partitions.", NULL));
    t->status =
        bf_metrics_gauge(m, M "partition_status", "1 for the partition's current status.",
                         "partition,status");
    t->arrival = bf_metric_series(bf_metrics_gauge(
        m, M "arrival_rate", "Reports/s arriving (log-end growth).", NULL));
    t->processing = bf_metric_series(
        bf_metrics_gauge(m, M "processing_rate", "Reports/s committed.", NULL));
    t->forecast = bf_metrics_gauge(m, M "forecast_rate",
                                   "Forecast arrivals/s at the horizon.", "bound");
    t->confidence = bf_metric_series(
        bf_metrics_gauge(m, M "forecast_confidence", "Forecast confidence, 0..1.", NULL));
    t->desired = bf_metric_series(
        bf_metrics_gauge(m, M "workers_desired", "Target workers.", NULL));
    t->current = bf_metric_series(bf_metrics_gauge(
        m, M "workers_current", "Workers running (actuator's view).", NULL));
    t->heartbeating = bf_metric_series(bf_metrics_gauge(
        m, M "workers_heartbeating", "Workers with a recent heartbeat.", NULL));
    t->budget_alert =
        bf_metrics_gauge(m, M "budget_alert",
                         "1 while spend or projection passes the alert share.", "period");
    t->decisions =
        bf_metrics_counter(m, M "decisions_total", "Decisions made.", "action");
    t->budget = bf_metrics_gauge(m, M "budget_usd", "The budget.", "period");
    t->spend =
        bf_metrics_gauge(m, M "spend_usd", "Spent in the current period.", "period");
    t->projected = bf_metrics_gauge(m, M "projected_spend_usd",
                                    "Spend projected to the period's end.", "period");
    t->actuator_errors =
        bf_metric_series(bf_metrics_counter(m, M "actuator_errors_total",
                                            "Failed scale calls.", "actuator"),
                         actuator);
    if (bf_httpd_start(&t->httpd, addr, m, errstr, errstr_size) != BF_OK) {
        bf_autoscaler_telemetry_destroy(t);
        return NULL;
    }
    bf_httpd_route(t->httpd, "/api/v1/desired", desired_handler, t);
    return t;
}

int bf_autoscaler_telemetry_port(const bf_autoscaler_telemetry_t *t)
{
    return bf_httpd_port(t->httpd);
}

void bf_autoscaler_telemetry_set_ready(bf_autoscaler_telemetry_t *t, bool ready,
                                       const char *reason)
{
    if (t)
        bf_httpd_set_ready(t->httpd, ready, reason);
}

void bf_autoscaler_telemetry_heartbeating(bf_autoscaler_telemetry_t *t, int64_t workers)
{
    if (t)
        bf_series_set(t->heartbeating, (double)workers);
}

void bf_autoscaler_telemetry_actuator_error(bf_autoscaler_telemetry_t *t)
{
    if (t)
        bf_series_add(t->actuator_errors, 1);
}

void bf_autoscaler_telemetry_observe(bf_autoscaler_telemetry_t *t,
                                     const bf_lag_snapshot_t *snap,
                                     const bf_scaler_decision_t *d,
                                     const bf_budget_status_t *budget,
                                     int64_t current_workers)
{
    if (!t)
        return;
    static const char *statuses[] = {"OK", "WARN", "STALL"};
    bf_lag_status_update(&t->lag_status, snap);
    bf_metric_reset(t->lag);
    bf_metric_reset(t->status);
    for (int32_t i = 0; i < snap->partition_count; i++) {
        const bf_lag_partition_t *p = &snap->partitions[i];
        char part[16];
        snprintf(part, sizeof(part), "%d", (int)p->partition);
        bf_series_set(bf_metric_series(t->lag, part), (double)p->lag);
        bf_partition_status_t st = bf_lag_status_of(&t->lag_status, p->partition);
        for (int k = 0; k < 3; k++)
            bf_series_set(bf_metric_series(t->status, part, statuses[k]),
                          (int)st == k ? 1 : 0);
    }
    bf_series_set(t->lag_total, (double)snap->total_lag);
    bf_series_set(t->arrival, d->arrival_rate);
    bf_series_set(t->processing, d->processing_rate);
    bf_series_set(bf_metric_series(t->forecast, "point"), d->forecast.value);
    bf_series_set(bf_metric_series(t->forecast, "lower"), d->forecast.lower);
    bf_series_set(bf_metric_series(t->forecast, "upper"), d->forecast.upper);
    bf_series_set(t->confidence, d->forecast.confidence);
    bf_series_set(t->desired, (double)d->decision.target_workers);
    bf_series_set(t->current, (double)current_workers);
    bf_series_add(
        bf_metric_series(t->decisions, bf_scale_action_name(d->decision.action)), 1);
    for (int p = 0; p < BF_BUDGET_PERIODS; p++) {
        const char *name = bf_budget_period_name((bf_budget_period_t)p);
        if (!(budget->period[p].limit > 0))
            continue;
        bf_series_set(bf_metric_series(t->budget, name), budget->period[p].limit);
        bf_series_set(bf_metric_series(t->spend, name), budget->period[p].spent);
        bf_series_set(bf_metric_series(t->projected, name), budget->period[p].projected);
        bf_series_set(bf_metric_series(t->budget_alert, name),
                      budget->period[p].over_alert ? 1 : 0);
    }
    pthread_mutex_lock(&t->lock);
    t->decided = true;
    t->last = *d;
    t->last_current = current_workers;
    pthread_mutex_unlock(&t->lock);
}

void bf_autoscaler_telemetry_destroy(bf_autoscaler_telemetry_t *t)
{
    if (!t)
        return;
    if (t->httpd)
        bf_httpd_stop(t->httpd);
    bf_metrics_destroy(t->metrics);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
