/*
 * test_autoscaler_telemetry.c - the partition status (autoscaler/lag_status.c) walked
 * through readings, and the endpoint (autoscaler/telemetry.c) answering
 * /metrics and the KEDA /api/v1/desired over real HTTP on loopback.
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

#include "autoscaler/lag_status.h"
#include "autoscaler/publish.h"
#include "libbf/buf.h"
#include "libbf/codec.h"
#include "autoscaler/telemetry.h"
#include "support/stack.h"

static void reading(bf_lag_status_t *s, int64_t committed, int64_t high)
{
    bf_lag_partition_t p = {.partition = 0,
                            .low = 0,
                            .high = high,
                            .committed = committed,
                            .lag = high - committed};
    bf_lag_snapshot_t snap = {.partition_count = 1, .partitions = &p};
    bf_lag_status_update(s, &snap);
}

static void test_partition_status_ok_warn_stall(void **unused)
{
    (void)unused;
    bf_lag_status_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    /* moving and keeping up */
    for (int i = 0; i < 5; i++)
        reading(s, 10 * i, 10 * i + 5);
    assert_int_equal(bf_lag_status_of(s, 0), BF_PARTITION_OK);
    /* moving but the lag grows three readings in a row */
    reading(s, 50, 70);
    reading(s, 60, 90);
    assert_int_equal(bf_lag_status_of(s, 0), BF_PARTITION_OK);
    reading(s, 70, 110);
    assert_int_equal(bf_lag_status_of(s, 0), BF_PARTITION_WARN);
    /* the commit stops while there is lag */
    reading(s, 70, 110);
    reading(s, 70, 110);
    reading(s, 70, 110);
    assert_int_equal(bf_lag_status_of(s, 0), BF_PARTITION_STALL);
    /* caught up: a still commit without lag is fine */
    reading(s, 110, 110);
    reading(s, 110, 110);
    reading(s, 110, 110);
    reading(s, 110, 110);
    assert_int_equal(bf_lag_status_of(s, 0), BF_PARTITION_OK);
    assert_string_equal(bf_partition_status_name(BF_PARTITION_STALL), "STALL");
    free(s);
}

static void test_endpoint_serves_metrics_and_desired(void **unused)
{
    (void)unused;
    char errstr[256], url[128];
    bf_autoscaler_telemetry_t *t =
        bf_autoscaler_telemetry_new("127.0.0.1:0", "none", errstr, sizeof(errstr));
    assert_non_null(t);
    int port = bf_autoscaler_telemetry_port(t);
    long status = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/desired", port);
    char *body = bf_test_http_get(url, &status);
    assert_int_equal(status, 503); /* no decision yet */
    free(body);

    bf_lag_partition_t parts[2] = {
        {.partition = 0, .high = 100, .committed = 40, .lag = 60},
        {.partition = 1, .high = 50, .committed = 50, .lag = 0}};
    bf_lag_snapshot_t snap = {.partition_count = 2, .partitions = parts, .total_lag = 60};
    bf_scaler_decision_t d = {
        .decision = {.action = BF_SCALE_UP,
                     .current_workers = 1,
                     .target_workers = 3,
                     .total_lag = 60},
        .arrival_rate = 4.5,
        .forecast = {.value = 6, .lower = 5, .upper = 7, .confidence = 0.75},
    };
    bf_budget_status_t budget = {0};
    budget.period[BF_BUDGET_DAY] = (bf_budget_period_status_t){
        .limit = 10, .spent = 2.5, .projected = 9, .over_alert = true};
    bf_autoscaler_telemetry_observe(t, &snap, &d, &budget, 1);
    bf_autoscaler_telemetry_actuator_error(t);

    body = bf_test_http_get(url, &status);
    assert_int_equal(status, 200);
    json_t *o = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "desiredReplicas")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "currentReplicas")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "action")), "SCALE_UP");
    json_decref(o);
    free(body);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    body = bf_test_http_get(url, &status);
    assert_int_equal(status, 200);
    static const char *want[] = {
        "bountyfleet_autoscaler_lag{partition=\"0\"} 60",
        "bountyfleet_autoscaler_lag_total 60",
        "bountyfleet_autoscaler_partition_status{partition=\"1\",status=\"OK\"} 1",
        "bountyfleet_autoscaler_arrival_rate 4.5",
        "bountyfleet_autoscaler_forecast_rate{bound=\"upper\"} 7",
        "bountyfleet_autoscaler_forecast_confidence 0.75",
        "bountyfleet_autoscaler_workers_desired 3",
        "bountyfleet_autoscaler_workers_current 1",
        "bountyfleet_autoscaler_decisions_total{action=\"SCALE_UP\"} 1",
        "bountyfleet_autoscaler_budget_usd{period=\"day\"} 10",
        "bountyfleet_autoscaler_spend_usd{period=\"day\"} 2.5",
        "bountyfleet_autoscaler_projected_spend_usd{period=\"day\"} 9",
        "bountyfleet_autoscaler_budget_alert{period=\"day\"} 1",
        "bountyfleet_autoscaler_workers_heartbeating",
        "bountyfleet_autoscaler_actuator_errors_total{actuator=\"none\"} 1",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(body, want[i]))
            fail_msg("/metrics lacks \"%s\":\n%s", want[i], body);
    free(body);
    bf_autoscaler_telemetry_destroy(t);
}

static void test_decision_record_fits_the_schema(void **unused)
{
    (void)unused;
    char errstr[256];
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    assert_non_null(codec);
    bf_scaler_decision_t d = {
        .decision = {.action = BF_SCALE_DOWN,
                     .current_workers = 4,
                     .target_workers = 2,
                     .total_lag = 7},
        .arrival_rate = 1.5,
        .processing_rate = 2.5,
        .forecast = {.value = 1.25, .confidence = 0.5},
        .forecast_ready = true,
    };
    snprintf(d.decision.reasoning, sizeof(d.decision.reasoning), "quiet");
    for (int ready = 0; ready < 2; ready++) {
        d.forecast_ready = ready;
        json_t *rec = bf_publisher_record(&d, "kubernetes", 1767323045678.0);
        bf_buf_t buf;
        bf_buf_init(&buf, 1 << 16);
        assert_int_equal(bf_codec_encode(codec, BF_RECORD_SCALING_DECISION, rec,
                                         BF_FRAMING_SINGLE_OBJECT, &buf, errstr,
                                         sizeof(errstr)),
                         BF_OK);
        json_t *back = NULL;
        assert_int_equal(bf_codec_decode(codec, BF_RECORD_SCALING_DECISION, buf.data,
                                         buf.len, &back, NULL, errstr, sizeof(errstr)),
                         BF_OK);
        assert_string_equal(json_string_value(json_object_get(back, "action")),
                            "SCALE_DOWN");
        assert_int_equal(json_integer_value(json_object_get(back, "target_workers")), 2);
        assert_int_equal(json_integer_value(json_object_get(back, "decided_at")),
                         1767323045678LL);
        assert_string_equal(json_string_value(json_object_get(back, "actuator")),
                            "kubernetes");
        json_t *f = json_object_get(back, "forecast_rate");
        assert_true(ready ? json_real_value(f) == 1.25 : json_is_null(f));
        json_decref(back);
        json_decref(rec);
        bf_buf_free(&buf);
    }
    bf_codec_destroy(codec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_status_ok_warn_stall),
        cmocka_unit_test(test_endpoint_serves_metrics_and_desired),
        cmocka_unit_test(test_decision_record_fits_the_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
