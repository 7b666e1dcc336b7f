/*
 * status.c - the status document, its endpoints and the status page (see
 * status.h; the fields are in ops/STATUS.md).
 *
 * The loop renders the whole document once per tick (jansson, compact, six
 * significant digits) instead of answering each request from shared
 * state: a tick is seconds apart, a request may come at any time from any
 * number of clients, and a rendered text is the one thing that can be
 * shared between threads without a second look at what it points to.
 */
#include "autoscaler/status.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoscaler/decision_line.h"
#include "autoscaler/lag_status.h"
#include "libbf/log.h"
#include "libbf/mem.h"

/* The page, embedded at build time from status_page.html (embed_file.cmake). */
extern const char bf_status_page_html[];

typedef struct decision_entry_s {
    double wall;
    bf_decision_t d;
} decision_entry_t;

typedef struct point_s {
    double wall;
    double arrival_rate, processing_rate;
    double forecast, lower, upper; /* made now for now + horizon */
    int64_t current, target, heartbeating, total_lag;
} point_t;

struct bf_status_s {
    bf_status_conf_t conf;
    char *group, *topic, *actuator; /* the conf's strings, owned */
    /* loop only */
    uint64_t sequence;
    bf_lag_status_t *lag_status;
    bool have_reading;
    double reading_wall;
    int32_t partition_count;
    int64_t total_lag;
    bf_lag_partition_t partitions[BF_STATUS_MAX_PARTITIONS];
    bf_partition_status_t partition_status[BF_STATUS_MAX_PARTITIONS];
    bool have_decision;
    bf_scaler_decision_t last;
    double last_wall;
    size_t forecast_steps;
    char structure[16];
    bf_decision_line_state_t line;
    decision_entry_t decisions[BF_STATUS_MAX_DECISIONS]; /* ring */
    size_t decisions_head, decisions_count;
    point_t points[BF_STATUS_MAX_POINTS]; /* ring */
    size_t points_head, points_count;
    bf_budget_status_t budget;
    /* guarded by lock */
    pthread_mutex_t lock;
    char *document;
    char *recommendations;
};

bf_status_t *bf_status_new(const bf_status_conf_t *conf)
{
    bf_status_t *s = bf_calloc(1, sizeof(*s));
    s->conf = *conf;
    s->conf.group = s->group = bf_strdup(conf->group ? conf->group : "");
    s->conf.topic = s->topic = bf_strdup(conf->topic ? conf->topic : "");
    s->conf.actuator = s->actuator = bf_strdup(conf->actuator ? conf->actuator : "");
    s->lag_status = bf_calloc(1, sizeof(*s->lag_status));
    snprintf(s->structure, sizeof(s->structure), "none");
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void bf_status_destroy(bf_status_t *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->document);
    free(s->recommendations);
    free(s->lag_status);
    free(s->group);
    free(s->topic);
    free(s->actuator);
    free(s);
}

const char *bf_status_forecast_structure(const bf_forecast_t *f, double step_s)
{
    /* Today's forecast.h tells it through a prediction's flags; the
     * forecast branch adds bf_forecast_status(), whose structure and
     * structure names are the ones below: this is the one function to
     * switch over. */
    if (!f)
        return "none";
    bf_forecast_point_t p;
    bf_forecast_predict(f, 1, &p);
    if (p.seasonal2)
        return "daily+weekly";
    if (!p.seasonal)
        return "none";
    double seconds = (double)bf_forecast_conf(f)->season * step_s;
    return fabs(seconds - 86400) < 1e-6       ? "daily"
           : fabs(seconds - 7 * 86400) < 1e-6 ? "weekly"
                                              : "season";
}

/* ---- recording ------------------------------------------------------------ */

static void record_reading(bf_status_t *s, const bf_lag_snapshot_t *snap, double wall)
{
    bf_lag_status_update(s->lag_status, snap);
    s->have_reading = true;
    s->reading_wall = wall;
    s->partition_count = snap->partition_count;
    s->total_lag = snap->total_lag;
    for (int32_t i = 0; i < snap->partition_count && i < BF_STATUS_MAX_PARTITIONS; i++) {
        s->partitions[i] = snap->partitions[i];
        s->partition_status[i] =
            bf_lag_status_of(s->lag_status, snap->partitions[i].partition);
    }
}

static void record_decision(bf_status_t *s, const bf_status_tick_t *t)
{
    const bf_scaler_decision_t *d = t->decision;
    s->have_decision = true;
    s->last = *d;
    s->last_wall = t->wall;
    if (bf_decision_line_due(&s->line, &d->decision, t->now)) {
        size_t at = (s->decisions_head + s->decisions_count) % BF_STATUS_MAX_DECISIONS;
        if (s->decisions_count == BF_STATUS_MAX_DECISIONS)
            s->decisions_head = (s->decisions_head + 1) % BF_STATUS_MAX_DECISIONS;
        else
            s->decisions_count++;
        s->decisions[at] = (decision_entry_t){t->wall, d->decision};
    }
    bf_heartbeats_summary_t hb = {0};
    if (t->heartbeats)
        bf_heartbeats_summary(t->heartbeats, t->wall, &hb);
    size_t at = (s->points_head + s->points_count) % BF_STATUS_MAX_POINTS;
    if (s->points_count == BF_STATUS_MAX_POINTS)
        s->points_head = (s->points_head + 1) % BF_STATUS_MAX_POINTS;
    else
        s->points_count++;
    s->points[at] = (point_t){
        .wall = t->wall,
        .arrival_rate = d->arrival_rate,
        .processing_rate = d->processing_rate,
        .forecast = d->forecast.value,
        .lower = d->forecast.lower,
        .upper = d->forecast.upper,
        .current = d->decision.current_workers,
        .target = d->decision.target_workers,
        .heartbeating = hb.heartbeating,
        .total_lag = d->decision.total_lag,
    };
}

/* ---- rendering ------------------------------------------------------------ */

/* A number, or null when it is not finite (JSON has no NaN or infinity). */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *integer(int64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *text_or_null(const char *t)
{
    return t ? json_string(t) : json_null();
}

static void set(json_t *o, const char *key, json_t *v)
{
    if (!v || json_object_set_new(o, key, v) != 0)
        abort(); /* out of memory (our policy, mem.h) or a string that is not UTF-8 */
}

/* RFC 3339 UTC with milliseconds, as the logs and decision lines write it. */
static json_t *iso_time(double wall)
{
    char buf[40];
    time_t secs = (time_t)floor(wall);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)((wall - floor(wall)) * 1000));
    return json_string(buf);
}

/* Text from outside (a worker id) as valid UTF-8 for JSON: bytes that are
 * not part of a valid sequence become '?'. */
static json_t *outside_text(const char *t)
{
    json_t *j = json_string(t);
    if (j)
        return j;
    char *clean = bf_strdup(t);
    for (char *c = clean; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    j = json_string(clean);
    free(clean);
    return j;
}

static json_t *render_dependencies(const bf_status_t *s, const bf_status_tick_t *t)
{
    json_t *kafka = json_object();
    set(kafka, "ok", json_boolean(t->kafka_error == NULL && s->have_reading));
    set(kafka, "error",
        text_or_null(t->kafka_error    ? t->kafka_error
                     : s->have_reading ? NULL
                                       : "no reading yet"));
    set(kafka, "consecutive_failures", integer(t->kafka_failures));
    set(kafka, "last_reading_at",
        s->have_reading ? iso_time(s->reading_wall) : json_null());
    set(kafka, "last_reading_age_seconds",
        s->have_reading ? num(t->wall - s->reading_wall) : json_null());
    json_t *redis = json_object();
    set(redis, "configured", json_boolean(s->conf.state_store));
    set(redis, "ok",
        s->conf.state_store ? json_boolean(t->redis_error == NULL) : json_null());
    set(redis, "error", text_or_null(s->conf.state_store ? t->redis_error : NULL));
    json_t *o = json_object();
    set(o, "kafka", kafka);
    set(o, "redis", redis);
    return o;
}

static json_t *render_lag(const bf_status_t *s, double wall)
{
    json_t *o = json_object(), *parts = json_array();
    int32_t shown = s->partition_count < BF_STATUS_MAX_PARTITIONS
                        ? s->partition_count
                        : BF_STATUS_MAX_PARTITIONS;
    bf_partition_status_t worst = BF_PARTITION_OK;
    for (int32_t i = 0; i < shown; i++) {
        const bf_lag_partition_t *p = &s->partitions[i];
        json_t *e = json_object();
        set(e, "partition", integer(p->partition));
        set(e, "low", integer(p->low));
        set(e, "high", integer(p->high));
        set(e, "committed", p->committed >= 0 ? integer(p->committed) : json_null());
        set(e, "lag", integer(p->lag));
        set(e, "status", json_string(bf_partition_status_name(s->partition_status[i])));
        if (s->partition_status[i] > worst)
            worst = s->partition_status[i];
        json_array_append_new(parts, e);
    }
    set(o, "total", integer(s->total_lag));
    set(o, "count", integer(s->partition_count));
    set(o, "truncated", json_boolean(s->partition_count > shown));
    set(o, "status", json_string(bf_partition_status_name(worst)));
    set(o, "at", s->have_reading ? iso_time(s->reading_wall) : json_null());
    set(o, "age_seconds", s->have_reading ? num(wall - s->reading_wall) : json_null());
    set(o, "partitions", parts);
    return o;
}

static json_t *latency(double v)
{
    return v >= 0 ? num(v) : json_null();
}

static json_t *render_worker(const bf_status_t *s, const bf_heartbeat_worker_t *w,
                             double wall)
{
    double up_h = fmax(0, w->seen_at - (double)w->started_at / 1000) / 3600;
    json_t *e = json_object();
    set(e, "worker_id", outside_text(w->id));
    set(e, "last_seen_seconds", num(wall - w->seen_at));
    set(e, "started_at",
        w->started_at > 0 ? iso_time((double)w->started_at / 1000) : json_null());
    set(e, "reports_per_second", num(w->reports_per_second));
    set(e, "latency_p50_seconds", latency(w->latency_p50_s));
    set(e, "latency_p95_seconds", latency(w->latency_p95_s));
    set(e, "latency_p99_seconds", latency(w->latency_p99_s));
    set(e, "in_flight_reports", integer(w->in_flight_reports));
    set(e, "in_flight_ai_calls", integer(w->in_flight_ai_calls));
    set(e, "assigned_partitions", integer(w->assigned_partitions));
    set(e, "paused", json_boolean(w->paused));
    set(e, "reports_validated", integer(w->reports_validated));
    set(e, "ai_cost_usd", num(w->ai_cost_usd));
    set(e, "worker_cost_usd", num(up_h * s->conf.worker_price));
    return e;
}

static json_t *render_workers(const bf_status_t *s, const bf_status_tick_t *t)
{
    json_t *o = json_object(), *list = json_array();
    bf_heartbeats_summary_t hb = {.latency_p95_s = -1};
    int64_t in_flight = 0;
    size_t live = 0;
    if (t->heartbeats) {
        bf_heartbeats_summary(t->heartbeats, t->wall, &hb);
        for (size_t i = 0; i < t->heartbeats->count; i++) {
            const bf_heartbeat_worker_t *w = &t->heartbeats->workers[i];
            if (t->wall - w->seen_at > BF_HEARTBEATS_STALE_S)
                continue;
            live++;
            in_flight += w->in_flight_reports;
            if (live <= BF_STATUS_MAX_WORKERS)
                json_array_append_new(list, render_worker(s, w, t->wall));
        }
    }
    set(o, "current", integer(t->current_workers));
    set(o, "target",
        s->have_decision ? integer(s->last.decision.target_workers) : json_null());
    set(o, "min", integer(s->conf.min_workers));
    set(o, "max", integer(s->conf.max_workers));
    set(o, "heartbeating", integer(hb.heartbeating));
    set(o, "paused", integer(hb.paused));
    set(o, "reports_per_second", num(hb.reports_per_second));
    set(o, "latency_p95_seconds", latency(hb.latency_p95_s));
    set(o, "in_flight_reports", integer(in_flight));
    set(o, "truncated", json_boolean(live > BF_STATUS_MAX_WORKERS));
    set(o, "list", list);
    return o;
}

static json_t *render_forecast(const bf_status_t *s)
{
    const bf_scaler_decision_t *d = &s->last;
    json_t *o = json_object();
    set(o, "ready", json_boolean(s->have_decision && d->forecast_ready));
    set(o, "rate", num(d->forecast.value));
    set(o, "lower", num(d->forecast.lower));
    set(o, "upper", num(d->forecast.upper));
    set(o, "confidence", num(d->forecast.confidence));
    set(o, "trend", json_string(bf_trend_name(d->forecast.trend)));
    set(o, "seasonal_structure", json_string(s->structure));
    set(o, "peak_rate", num(d->forecast_peak));
    set(o, "horizon_seconds", num(s->conf.horizon_s));
    set(o, "step_seconds", num(s->conf.step_s));
    set(o, "steps_observed", integer((int64_t)s->forecast_steps));
    set(o, "arrival_rate", num(d->arrival_rate));
    set(o, "processing_rate", num(d->processing_rate));
    set(o, "worker_rate", num(d->worker_rate));
    return o;
}

static json_t *render_decisions(const bf_status_t *s)
{
    json_t *list = json_array();
    /* newest first: what an operator reads first */
    for (size_t k = s->decisions_count; k-- > 0;) {
        const decision_entry_t *e =
            &s->decisions[(s->decisions_head + k) % BF_STATUS_MAX_DECISIONS];
        const bf_decision_t *d = &e->d;
        json_t *o = json_object();
        set(o, "at", iso_time(e->wall));
        set(o, "action", json_string(bf_scale_action_name(d->action)));
        set(o, "current_workers", integer(d->current_workers));
        set(o, "desired_workers", integer(d->desired_workers));
        set(o, "target_workers", integer(d->target_workers));
        set(o, "total_lag", integer(d->total_lag));
        set(o, "score", num(d->score));
        set(o, "forecast_rate", num(d->forecast_rate));
        set(o, "confidence", num(d->confidence));
        set(o, "override_replicas",
            d->overridden ? integer(d->override_replicas) : json_null());
        /* The reasoning holds an override's reason, checked UTF-8 (override.c),
         * and our own ASCII; cut at a character boundary by the writer. */
        set(o, "reasoning", outside_text(d->reasoning));
        json_array_append_new(list, o);
    }
    return list;
}

static json_t *render_history(const bf_status_t *s)
{
    json_t *o = json_object(), *points = json_array();
    for (size_t k = 0; k < s->points_count; k++) {
        const point_t *p = &s->points[(s->points_head + k) % BF_STATUS_MAX_POINTS];
        json_t *e = json_object();
        set(e, "at", iso_time(p->wall));
        set(e, "arrival_rate", num(p->arrival_rate));
        set(e, "processing_rate", num(p->processing_rate));
        set(e, "forecast_rate", num(p->forecast));
        set(e, "forecast_lower", num(p->lower));
        set(e, "forecast_upper", num(p->upper));
        set(e, "current_workers", integer(p->current));
        set(e, "target_workers", integer(p->target));
        set(e, "heartbeating", integer(p->heartbeating));
        set(e, "total_lag", integer(p->total_lag));
        json_array_append_new(points, e);
    }
    set(o, "forecast_offset_seconds", num(s->conf.horizon_s));
    set(o, "points", points);
    return o;
}

/* OK, WARNING (spent or projected at the alert share) or OVER (spent the
 * budget), NONE without one. */
static const char *budget_state(const bf_budget_period_status_t *p)
{
    if (!(p->limit > 0))
        return "NONE";
    return p->spent >= p->limit ? "OVER" : p->over_alert ? "WARNING" : "OK";
}

static json_t *render_budget(const bf_status_t *s)
{
    json_t *o = json_object(), *periods = json_array();
    for (int k = 0; k < BF_BUDGET_PERIODS; k++) {
        const bf_budget_period_status_t *p = &s->budget.period[k];
        bool has = p->limit > 0;
        json_t *e = json_object();
        set(e, "period", json_string(bf_budget_period_name((bf_budget_period_t)k)));
        set(e, "budget_usd", has ? num(p->limit) : json_null());
        set(e, "spent_usd", num(p->spent));
        set(e, "utilisation", has ? num(p->spent / p->limit) : json_null());
        set(e, "projected_usd", num(p->projected));
        set(e, "projected_utilisation", has ? num(p->projected / p->limit) : json_null());
        set(e, "hours_left", num(p->hours_left));
        set(e, "allowed_workers", has ? integer(p->allowed_workers) : json_null());
        set(e, "state", json_string(budget_state(p)));
        json_array_append_new(periods, e);
    }
    set(o, "worker_price_usd_per_hour", num(s->conf.worker_price));
    set(o, "alert_at", num(s->conf.alert_at));
    set(o, "limited", json_boolean(s->budget.limited));
    set(o, "periods", periods);
    return o;
}

static json_t *render_override(const bf_override_state_t *ov)
{
    json_t *o = json_object();
    bool active = ov && ov->active;
    set(o, "active", json_boolean(active));
    set(o, "replicas", active ? integer(ov->replicas) : json_null());
    set(o, "expires_in_seconds", active ? num(ov->expires_in_s) : json_null());
    return o;
}

static char *render(bf_status_t *s, const bf_status_tick_t *t)
{
    json_t *o = json_object();
    set(o, "version", json_integer(BF_STATUS_VERSION));
    set(o, "generated_at", iso_time(t->wall));
    set(o, "sequence", json_integer((json_int_t)s->sequence));
    set(o, "group", outside_text(s->group));
    set(o, "topic", outside_text(s->topic));
    set(o, "actuator", outside_text(s->actuator));
    set(o, "interval_seconds", num(s->conf.interval_s));
    set(o, "dependencies", render_dependencies(s, t));
    set(o, "lag", render_lag(s, t->wall));
    set(o, "workers", render_workers(s, t));
    set(o, "forecast", render_forecast(s));
    set(o, "decisions", render_decisions(s));
    set(o, "budget", render_budget(s));
    set(o, "override", render_override(t->override));
    set(o, "history", render_history(s));
    char *text =
        json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!text)
        abort();
    return text;
}

void bf_status_update(bf_status_t *s, const bf_status_tick_t *t)
{
    s->sequence++;
    if (t->snap)
        record_reading(s, t->snap, t->wall);
    if (t->decision)
        record_decision(s, t);
    if (t->budget)
        s->budget = *t->budget;
    if (t->forecast) {
        s->forecast_steps = bf_forecast_count(t->forecast);
        snprintf(s->structure, sizeof(s->structure), "%s",
                 bf_status_forecast_structure(t->forecast, s->conf.step_s));
    }
    char *text = render(s, t);
    if (strlen(text) > BF_STATUS_MAX_BYTES) {
        /* Cannot happen with the bounds above (tested); if it ever does,
         * say so rather than serve an unbounded answer. */
        bf_log(BF_LOG_ERROR, "autoscaler", "status_too_large",
               BF_LINT("bytes", (int64_t)strlen(text)));
        free(text);
        text = bf_strdup("{\"error\":\"status document over its size bound\"}");
    }
    pthread_mutex_lock(&s->lock);
    char *old = s->document;
    s->document = text;
    pthread_mutex_unlock(&s->lock);
    free(old);
}

void bf_status_set_recommendations(bf_status_t *s, char *text)
{
    pthread_mutex_lock(&s->lock);
    char *old = s->recommendations;
    s->recommendations = text;
    pthread_mutex_unlock(&s->lock);
    free(old);
}

static char *copy_out(bf_status_t *s, char *const *field)
{
    pthread_mutex_lock(&s->lock);
    char *copy = bf_strdup(*field);
    pthread_mutex_unlock(&s->lock);
    return copy;
}

char *bf_status_document(bf_status_t *s)
{
    return copy_out(s, &s->document);
}

/* A copy of the last recommendations (malloc'd), or NULL before any. */
static char *recommendations_copy(bf_status_t *s)
{
    return copy_out(s, &s->recommendations);
}

/* ---- the endpoints -------------------------------------------------------- */

/* GET (or HEAD, which libmicrohttpd answers without the body) only. */
static bool read_only(const bf_httpd_request_t *req, int *status,
                      const char **content_type, char **body)
{
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
        return true;
    *status = 405;
    *content_type = "application/json";
    *body = bf_strdup("{\"error\":\"GET only: this endpoint changes nothing\"}");
    return false;
}

static void answer_copy(char *text, const char *missing, int *status,
                        const char **content_type, char **body)
{
    *content_type = "application/json";
    *status = text ? 200 : 503;
    *body = text ? text : bf_asprintf("{\"error\":\"%s\"}", missing);
}

static void status_http(void *opaque, const bf_httpd_request_t *req, int *status,
                        const char **content_type, char **body)
{
    if (read_only(req, status, content_type, body))
        answer_copy(bf_status_document(opaque), "starting: no tick yet", status,
                    content_type, body);
}

static void recommendations_http(void *opaque, const bf_httpd_request_t *req, int *status,
                                 const char **content_type, char **body)
{
    if (read_only(req, status, content_type, body))
        answer_copy(recommendations_copy(opaque), "starting: none computed yet", status,
                    content_type, body);
}

static void page_http(void *opaque, const bf_httpd_request_t *req, int *status,
                      const char **content_type, char **body)
{
    (void)opaque;
    if (!read_only(req, status, content_type, body))
        return;
    *status = 200;
    *content_type = "text/html; charset=utf-8";
    *body = bf_strdup(bf_status_page_html);
}

void bf_status_serve(bf_status_t *s, bf_httpd_t *h)
{
    bf_httpd_route(h, "/", page_http, s);
    bf_httpd_route(h, "/api/v1/status", status_http, s);
    bf_httpd_route(h, "/api/v1/recommendations", recommendations_http, s);
}
