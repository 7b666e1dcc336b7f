/*
 * test_status.c - the status document (autoscaler/status.c): every array
 * and the whole text stay within their bounds whatever the fleet and its
 * workers send, the last reading survives a Kafka outage with its age and
 * the error, the budget states, the seasonal structure, the endpoints over
 * real HTTP on loopback (read-only: anything but GET is refused), and
 * readers on another thread while the loop publishes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "autoscaler/status.h"
#include "autoscaler/telemetry.h"
#include "support/stack.h"

#define T0 1769853600.0 /* 2026-01-31 10:00:00 UTC */

static bf_status_t *new_status(void)
{
    bf_status_conf_t conf = {.group = "g",
                             .topic = "t",
                             .actuator = "none",
                             .interval_s = 5,
                             .step_s = 60,
                             .horizon_s = 300,
                             .worker_price = 0.5,
                             .alert_at = 0.8,
                             .min_workers = 1,
                             .max_workers = 8};
    return bf_status_new(&conf);
}

static json_t *document(bf_status_t *s)
{
    char *text = bf_status_document(s);
    assert_non_null(text);
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    if (!o)
        fail_msg("not JSON (%s): %.200s", jerr.text, text);
    free(text);
    return o;
}

static json_t *at(json_t *o, const char *path)
{
    char copy[128];
    snprintf(copy, sizeof(copy), "%s", path);
    for (char *save = NULL, *k = strtok_r(copy, ".", &save); k && o;
         k = strtok_r(NULL, ".", &save))
        o = json_is_array(o) ? json_array_get(o, strtoul(k, NULL, 10))
                             : json_object_get(o, k);
    if (!o)
        fail_msg("no %s", path);
    return o;
}

static bf_lag_snapshot_t snapshot(int32_t n, int64_t lag_each)
{
    bf_lag_snapshot_t snap = {.partition_count = n};
    snap.partitions = calloc((size_t)n, sizeof(*snap.partitions));
    assert_non_null(snap.partitions);
    for (int32_t i = 0; i < n; i++) {
        snap.partitions[i] = (bf_lag_partition_t){.partition = i,
                                                  .low = 0,
                                                  .high = 100 + i,
                                                  .committed = 100 + i - lag_each,
                                                  .lag = lag_each};
        snap.total_lag += lag_each;
    }
    return snap;
}

/* A heartbeat whose id is 127 bytes that JSON must escape. */
static void add_worker(bf_heartbeats_t *h, int k, double now)
{
    char id[128];
    snprintf(id, sizeof(id), "w%04d\x01\\", k);
    size_t n = strlen(id);
    memset(id + n, '"', sizeof(id) - 1 - n);
    id[sizeof(id) - 1] = '\0';
    json_t *rec = json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:I, s:I}", "worker_id", id,
                            "started_at", (json_int_t)(T0 * 1000), "ai_cost_usd", 1.25,
                            "latency_p50_seconds", 0.5, "latency_p95_seconds", 1.5,
                            "reports_per_second", 3.0, "in_flight_reports", (json_int_t)7,
                            "reports_validated", (json_int_t)40);
    bf_heartbeats_add(h, rec, now);
    json_decref(rec);
}

static void test_every_array_and_the_text_stay_bounded(void **unused)
{
    (void)unused;
    bf_status_t *s = new_status();
    assert_null(bf_status_document(s)); /* nothing before the first tick */
    bf_lag_snapshot_t snap = snapshot(5000, 3);
    bf_heartbeats_t *hb = calloc(1, sizeof(*hb));
    assert_non_null(hb);
    for (int k = 0; k < 200; k++)
        add_worker(hb, k, T0 + 590);
    bf_override_state_t ov = {.active = true, .replicas = 3, .expires_in_s = 60};
    bf_budget_status_t budget = {0};
    /* 600 ticks, each a decision worth a line (the action alternates), the
     * longest reasoning the decision can hold, all quotes and backslashes */
    for (int k = 0; k < 600; k++) {
        bf_scaler_decision_t d = {
            .decision = {.action = k % 2 ? BF_SCALE_UP : BF_SCALE_DOWN,
                         .current_workers = k,
                         .target_workers = k + 1,
                         .total_lag = snap.total_lag,
                         .overridden = true,
                         .override_replicas = 3},
            .forecast = {.value = k, .lower = k - 1, .upper = k + 1, .confidence = 0.5},
            .forecast_ready = true,
        };
        memset(d.decision.reasoning, k % 2 ? '"' : '\\',
               sizeof(d.decision.reasoning) - 1);
        d.decision.reasoning[sizeof(d.decision.reasoning) - 1] = '\0';
        bf_status_tick_t t = {.wall = T0 + k,
                              .now = k,
                              .snap = &snap,
                              .decision = &d,
                              .heartbeats = hb,
                              .budget = &budget,
                              .override = &ov,
                              .current_workers = k};
        bf_status_update(s, &t);
    }
    char *text = bf_status_document(s);
    size_t len = strlen(text);
    free(text);
    if (len > BF_STATUS_MAX_BYTES)
        fail_msg("%zu bytes, over %d", len, BF_STATUS_MAX_BYTES);
    json_t *o = document(s);
    assert_int_equal(json_array_size(at(o, "lag.partitions")), BF_STATUS_MAX_PARTITIONS);
    assert_int_equal(json_integer_value(at(o, "lag.count")), 5000);
    assert_true(json_is_true(at(o, "lag.truncated")));
    assert_int_equal(json_integer_value(at(o, "lag.total")), 15000);
    assert_int_equal(json_array_size(at(o, "workers.list")), BF_STATUS_MAX_WORKERS);
    assert_int_equal(json_integer_value(at(o, "workers.heartbeating")), 200);
    assert_true(json_is_true(at(o, "workers.truncated")));
    assert_int_equal(json_integer_value(at(o, "workers.in_flight_reports")), 200 * 7);
    assert_int_equal(strlen(json_string_value(at(o, "workers.list.0.worker_id"))), 127);
    assert_true(json_number_value(at(o, "workers.list.0.latency_p95_seconds")) == 1.5);
    assert_true(json_is_null(at(o, "workers.list.0.latency_p99_seconds")));
    assert_int_equal(json_array_size(at(o, "decisions")), BF_STATUS_MAX_DECISIONS);
    /* newest first */
    assert_int_equal(json_integer_value(at(o, "decisions.0.target_workers")), 600);
    assert_int_equal(json_integer_value(at(o, "decisions.19.target_workers")), 581);
    assert_int_equal(json_integer_value(at(o, "decisions.0.override_replicas")), 3);
    assert_int_equal(strlen(json_string_value(at(o, "decisions.0.reasoning"))), 639);
    assert_int_equal(json_array_size(at(o, "history.points")), BF_STATUS_MAX_POINTS);
    /* oldest first, the newest last */
    assert_int_equal(json_integer_value(at(o, "history.points.239.target_workers")), 600);
    assert_true(json_is_true(at(o, "override.active")));
    assert_int_equal(json_integer_value(at(o, "sequence")), 600);
    json_decref(o);
    free(hb);
    free(snap.partitions);
    bf_status_destroy(s);
}

static void test_a_kafka_outage_keeps_the_last_reading_with_its_age(void **unused)
{
    (void)unused;
    bf_status_t *s = new_status();
    bf_lag_snapshot_t snap = snapshot(2, 5);
    bf_scaler_decision_t d = {.decision = {.target_workers = 2, .total_lag = 10}};
    bf_status_tick_t t = {
        .wall = T0, .snap = &snap, .decision = &d, .current_workers = 2};
    bf_status_update(s, &t);
    json_t *o = document(s);
    assert_true(json_is_true(at(o, "dependencies.kafka.ok")));
    assert_true(json_is_null(at(o, "dependencies.kafka.error")));
    json_decref(o);

    bf_status_tick_t down = {.wall = T0 + 42,
                             .kafka_error =
                                 "metadata for t: Local: Broker transport failure",
                             .kafka_failures = 3,
                             .current_workers = 2};
    bf_status_update(s, &down);
    o = document(s);
    assert_false(json_is_true(at(o, "dependencies.kafka.ok")));
    assert_string_equal(json_string_value(at(o, "dependencies.kafka.error")),
                        down.kafka_error);
    assert_int_equal(json_integer_value(at(o, "dependencies.kafka.consecutive_failures")),
                     3);
    assert_true(json_number_value(at(o, "lag.age_seconds")) == 42);
    assert_int_equal(json_integer_value(at(o, "lag.total")), 10);
    assert_int_equal(json_integer_value(at(o, "lag.partitions.1.lag")), 5);
    assert_int_equal(json_integer_value(at(o, "workers.target")), 2);
    assert_false(json_is_true(at(o, "dependencies.redis.configured")));
    json_decref(o);
    free(snap.partitions);
    bf_status_destroy(s);
}

static void test_budget_states_per_period(void **unused)
{
    (void)unused;
    bf_status_t *s = new_status();
    bf_budget_status_t b = {.limited = true};
    b.period[BF_BUDGET_HOUR] = (bf_budget_period_status_t){
        .limit = 10, .spent = 2, .projected = 5, .hours_left = 0.5, .allowed_workers = 3};
    b.period[BF_BUDGET_DAY] = (bf_budget_period_status_t){
        .limit = 10, .spent = 2, .projected = 9, .over_alert = true};
    b.period[BF_BUDGET_MONTH] = (bf_budget_period_status_t){
        .limit = 10, .spent = 10.5, .projected = 30, .over_alert = true};
    bf_status_tick_t t = {.wall = T0, .budget = &b};
    bf_status_update(s, &t);
    json_t *o = document(s);
    assert_string_equal(json_string_value(at(o, "budget.periods.0.state")), "OK");
    assert_string_equal(json_string_value(at(o, "budget.periods.1.state")), "WARNING");
    assert_string_equal(json_string_value(at(o, "budget.periods.2.state")), "OVER");
    assert_true(json_number_value(at(o, "budget.periods.0.utilisation")) == 0.2);
    assert_true(json_number_value(at(o, "budget.periods.1.projected_utilisation")) ==
                0.9);
    assert_int_equal(json_integer_value(at(o, "budget.periods.0.allowed_workers")), 3);
    json_decref(o);
    b.period[BF_BUDGET_DAY].limit = 0; /* no daily budget */
    bf_status_update(s, &t);
    o = document(s);
    assert_string_equal(json_string_value(at(o, "budget.periods.1.state")), "NONE");
    assert_true(json_is_null(at(o, "budget.periods.1.budget_usd")));
    assert_true(json_is_null(at(o, "budget.periods.1.utilisation")));
    json_decref(o);
    bf_status_destroy(s);
}

static void test_partition_status_follows_the_readings(void **unused)
{
    (void)unused;
    bf_status_t *s = new_status();
    bf_lag_snapshot_t snap = snapshot(1, 9); /* the same commit, lag: a stall */
    for (int k = 0; k < 4; k++) {
        bf_status_tick_t t = {.wall = T0 + k, .snap = &snap};
        bf_status_update(s, &t);
    }
    json_t *o = document(s);
    assert_string_equal(json_string_value(at(o, "lag.partitions.0.status")), "STALL");
    assert_string_equal(json_string_value(at(o, "lag.status")), "STALL");
    json_decref(o);
    free(snap.partitions);
    bf_status_destroy(s);
}

static void test_seasonal_structure_in_use(void **unused)
{
    (void)unused;
    char errstr[128];
    /* half-day steps: a day of 2, a week of 14 */
    bf_forecast_conf_t c = {
        .model = BF_FORECAST_HOLT_WINTERS, .season = 2, .season2 = 14};
    bf_forecast_t *f = bf_forecast_new(&c, errstr, sizeof(errstr));
    assert_non_null(f);
    assert_string_equal(bf_status_forecast_structure(f, 43200), "none");
    for (int k = 0; k < 4; k++)
        bf_forecast_observe(f, k % 2 ? 10 : 2);
    assert_string_equal(bf_status_forecast_structure(f, 43200), "daily");
    for (int k = 4; k < 28; k++)
        bf_forecast_observe(f, (k % 2 ? 10 : 2) + (k % 14 >= 10 ? 0 : 3));
    assert_string_equal(bf_status_forecast_structure(f, 43200), "daily+weekly");
    bf_forecast_destroy(f);
    bf_forecast_conf_t weekly = {.model = BF_FORECAST_HOLT_WINTERS, .season = 7};
    f = bf_forecast_new(&weekly, errstr, sizeof(errstr));
    for (int k = 0; k < 14; k++)
        bf_forecast_observe(f, k % 7);
    assert_string_equal(bf_status_forecast_structure(f, 86400), "weekly");
    assert_string_equal(bf_status_forecast_structure(f, 3600), "season");
    assert_string_equal(bf_status_forecast_structure(NULL, 60), "none");
    bf_forecast_destroy(f);
}

static char *get(int port, const char *method, const char *path, long *status)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    return bf_test_http_call(method, url, NULL, NULL, status, NULL);
}

static void test_endpoints_are_read_only_over_http(void **unused)
{
    (void)unused;
    char errstr[256];
    bf_autoscaler_telemetry_t *tel =
        bf_autoscaler_telemetry_new("127.0.0.1:0", "none", errstr, sizeof(errstr));
    assert_non_null(tel);
    bf_status_t *s = new_status();
    bf_autoscaler_telemetry_serve_status(tel, s);
    int port = bf_autoscaler_telemetry_port(tel);
    long status = 0;
    char *body = get(port, "GET", "/api/v1/status", &status);
    assert_int_equal(status, 503);
    free(body);
    body = get(port, "GET", "/api/v1/recommendations", &status);
    assert_int_equal(status, 503);
    free(body);

    bf_status_tick_t t = {.wall = T0, .current_workers = 4};
    bf_status_update(s, &t);
    bf_status_set_recommendations(s, strdup("{\"version\":1,\"recommendations\":[]}"));
    body = get(port, "GET", "/api/v1/status", &status);
    assert_int_equal(status, 200);
    json_t *o = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(at(o, "workers.current")), 4);
    json_decref(o);
    free(body);
    body = get(port, "GET", "/api/v1/recommendations", &status);
    assert_int_equal(status, 200);
    assert_string_equal(body, "{\"version\":1,\"recommendations\":[]}");
    free(body);
    static const char *paths[] = {"/", "/api/v1/status", "/api/v1/recommendations"};
    static const char *methods[] = {"POST", "PUT", "DELETE"};
    for (size_t i = 0; i < 3; i++)
        for (size_t m = 0; m < 3; m++) {
            body = get(port, methods[m], paths[i], &status);
            if (status != 405)
                fail_msg("%s %s: %ld", methods[m], paths[i], status);
            free(body);
        }
    body = get(port, "GET", "/", &status);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body, "<!DOCTYPE html>"));
    assert_non_null(strstr(body, "/api/v1/status"));
    /* No CDN, nothing loaded from elsewhere: no src= at all, and the only
     * URL is the SVG namespace (a name, never fetched). */
    assert_null(strstr(body, "src="));
    assert_null(strstr(body, "https://"));
    for (const char *u = strstr(body, "http://"); u; u = strstr(u + 1, "http://"))
        assert_int_equal(strncmp(u, "http://www.w3.org/2000/svg", 26), 0);
    free(body);
    bf_autoscaler_telemetry_destroy(tel);
    bf_status_destroy(s);
}

typedef struct reader_s {
    bf_status_t *s;
    atomic_bool stop;
    atomic_long reads;
    long bad;
} reader_t;

static void *read_loop(void *arg)
{
    reader_t *r = arg;
    json_int_t last = 0;
    while (!r->stop) {
        char *text = bf_status_document(r->s);
        if (!text)
            continue;
        json_t *o = json_loads(text, 0, NULL);
        json_int_t seq = json_integer_value(json_object_get(o, "sequence"));
        if (!o || seq < last)
            r->bad++;
        last = seq;
        atomic_fetch_add(&r->reads, 1);
        json_decref(o);
        free(text);
    }
    return NULL;
}

static void test_readers_on_another_thread_see_whole_documents(void **unused)
{
    (void)unused;
    bf_status_t *s = new_status();
    reader_t r = {.s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_loop, &r), 0);
    bf_lag_snapshot_t snap = snapshot(64, 1);
    /* 2,000 updates, and on until the reader has read during them (the
     * thread may not have run yet). */
    for (int k = 0; k < 2000 || (atomic_load(&r.reads) < 10 && k < 2000000); k++) {
        bf_scaler_decision_t d = {.decision = {.target_workers = k}};
        bf_status_tick_t t = {.wall = T0 + k, .snap = &snap, .decision = &d};
        bf_status_update(s, &t);
    }
    r.stop = true;
    pthread_join(th, NULL);
    assert_true(atomic_load(&r.reads) >= 10);
    assert_int_equal(r.bad, 0);
    free(snap.partitions);
    bf_status_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_array_and_the_text_stay_bounded),
        cmocka_unit_test(test_a_kafka_outage_keeps_the_last_reading_with_its_age),
        cmocka_unit_test(test_budget_states_per_period),
        cmocka_unit_test(test_partition_status_follows_the_readings),
        cmocka_unit_test(test_seasonal_structure_in_use),
        cmocka_unit_test(test_endpoints_are_read_only_over_http),
        cmocka_unit_test(test_readers_on_another_thread_see_whole_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
