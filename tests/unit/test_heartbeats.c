/*
 * test_heartbeats.c - the heartbeat aggregator (autoscaler/heartbeats.c):
 * live workers, p95 latency and AI spend from cumulative counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "autoscaler/heartbeats.h"

static void beat(bf_heartbeats_t *h, const char *id, long long started, double cost,
                 double p95, double now)
{
    json_t *rec = json_pack("{s:s, s:I, s:f, s:f, s:f}", "worker_id", id, "started_at",
                            (json_int_t)started, "ai_cost_usd", cost,
                            "latency_p95_seconds", p95, "reports_per_second", 2.0);
    bf_heartbeats_add(h, rec, now);
    json_decref(rec);
}

static void test_live_workers_latency_and_spend(void **unused)
{
    (void)unused;
    bf_heartbeats_t *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    beat(h, "w1", 1000, 0.50, 0.8, 100);
    beat(h, "w2", 1000, 0.25, 2.5, 100);
    assert_true(fabs(bf_heartbeats_take_spend(h) - 0.75) < 1e-9);
    beat(h, "w1", 1000, 0.70, 0.9, 110); /* grew by 0.20 */
    beat(h, "w2", 2000, 0.05, 1.0, 110); /* restarted: all of it is new */
    assert_true(fabs(bf_heartbeats_take_spend(h) - 0.25) < 1e-9);
    assert_true(bf_heartbeats_take_spend(h) == 0);

    bf_heartbeats_summary_t s;
    bf_heartbeats_summary(h, 115, &s);
    assert_int_equal(s.heartbeating, 2);
    assert_true(s.latency_p95_s == 1.0);
    assert_true(s.reports_per_second == 4.0);
    beat(h, "w1", 1000, 0.70, 0.9, 150);
    bf_heartbeats_summary(h, 150, &s); /* w2 silent for 40 s */
    assert_int_equal(s.heartbeating, 1);
    assert_int_equal(s.paused, 0);
    /* a worker at its in-flight cap says paused */
    json_t *capped = json_pack("{s:s, s:I, s:f, s:b}", "worker_id", "w1", "started_at",
                               (json_int_t)1000, "ai_cost_usd", 0.70, "paused", 1);
    bf_heartbeats_add(h, capped, 151);
    json_decref(capped);
    bf_heartbeats_summary(h, 152, &s);
    assert_int_equal(s.paused, 1);
    bf_heartbeats_summary(h, 1000, &s);
    assert_int_equal(s.heartbeating, 0);
    assert_int_equal(s.paused, 0);
    assert_true(s.latency_p95_s < 0);

    json_t *bad = json_pack("{s:i}", "ai_cost_usd", 5); /* no worker id */
    bf_heartbeats_add(h, bad, 1000);
    json_decref(bad);
    assert_true(bf_heartbeats_take_spend(h) == 0);
    free(h);
}

/* Found while writing the heartbeat fuzz target, whose invariants it
 * breaks (tests/fuzz/corpus/heartbeat/regression-huge-*): two workers each claiming 1e308
 * USD made the pending spend infinite, which the budgets would carry for the rest of the
 * month; a huge throughput made the summary infinite. */
static void test_implausible_values_are_not_believed(void **unused)
{
    (void)unused;
    bf_heartbeats_t *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    beat(h, "w1", 1000, 0.50, 0.8, 100);
    beat(h, "w1", 1000, 1e308, 0.8, 105); /* keeps 0.50: no spend, no inf */
    beat(h, "w2", 1000, 1e308, 0.8, 105);
    double spend = bf_heartbeats_take_spend(h);
    assert_true(isfinite(spend));
    assert_true(fabs(spend - 0.50) < 1e-9);
    beat(h, "w1", 1000, 0.75, 0.8, 110); /* the next good value counts from 0.50 */
    assert_true(fabs(bf_heartbeats_take_spend(h) - 0.25) < 1e-9);

    json_t *rec = json_pack("{s:s, s:I, s:f, s:f, s:f}", "worker_id", "w4", "started_at",
                            (json_int_t)1000, "ai_cost_usd", 0.0, "latency_p95_seconds",
                            1e300, "reports_per_second", 1e308);
    bf_heartbeats_add(h, rec, 110);
    bf_heartbeats_add(h, rec, 110);
    json_decref(rec);
    bf_heartbeats_summary_t s;
    bf_heartbeats_summary(h, 111, &s);
    assert_int_equal(s.heartbeating, 3);
    assert_true(isfinite(s.reports_per_second) && s.reports_per_second < 1e7);
    assert_true(isfinite(s.latency_p95_s) && s.latency_p95_s < 1e7);
    free(h);
}

/* Heartbeat v2: the fleet-wide AI limit and how much of the time the
 * worker's calls waited for it; a v1 heartbeat (without them) is a worker
 * not bound by any limit. */
static void test_ai_limit_fields_are_summed_up(void **unused)
{
    (void)unused;
    bf_heartbeats_t *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    const struct {
        const char *id;
        double limit, limited;
    } beats[] = {{"w1", 600, 0.9}, {"w2", 600, 0.7}, {"w3", 590, 0.2}, {"w4", -5, 7}};
    for (size_t i = 0; i < sizeof(beats) / sizeof(beats[0]); i++) {
        json_t *rec = json_pack("{s:s, s:I, s:f, s:f}", "worker_id", beats[i].id,
                                "started_at", (json_int_t)1000, "ai_limit_rpm",
                                beats[i].limit, "ai_limited_share", beats[i].limited);
        bf_heartbeats_add(h, rec, 100);
        json_decref(rec);
    }
    json_t *v1 = json_pack("{s:s, s:I}", "worker_id", "w5", "started_at", (json_int_t)1);
    bf_heartbeats_add(h, v1, 100);
    json_decref(v1);
    bf_heartbeats_summary_t s;
    bf_heartbeats_summary(h, 101, &s);
    assert_int_equal(s.heartbeating, 5);
    assert_int_equal(s.ai_limited, 2); /* at least BF_HEARTBEATS_AI_LIMITED */
    assert_true(s.ai_limit_rpm == 600);
    assert_true(h->workers[3].ai_limit_rpm == 0); /* implausible: not believed */
    assert_true(h->workers[3].ai_limited_share == 0);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_workers_latency_and_spend),
        cmocka_unit_test(test_implausible_values_are_not_believed),
        cmocka_unit_test(test_ai_limit_fields_are_summed_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
