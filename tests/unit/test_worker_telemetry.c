/*
 * test_worker_telemetry.c - the worker's latency window, quantiles, process
 * statistics and metric declarations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "worker/telemetry.h"

static void test_quantiles_of_an_empty_window_are_zero(void **state)
{
    (void)state;
    bf_telemetry_t t;
    bf_telemetry_init(&t, "test");
    double q[] = {0.5, 0.99}, out[2] = {-1, -1};
    bf_telemetry_quantiles(&t, q, 2, out);
    assert_true(out[0] == 0 && out[1] == 0);
    bf_telemetry_free(&t);
}

static void test_quantiles_use_nearest_rank(void **state)
{
    (void)state;
    bf_telemetry_t t;
    bf_telemetry_init(&t, "test");
    for (int i = 100; i >= 1; i--) /* out of order on purpose */
        bf_telemetry_report_done(&t, i / 100.0);
    double q[] = {0.5, 0.95, 0.99, 1.0}, out[4];
    bf_telemetry_quantiles(&t, q, 4, out);
    assert_true(out[0] == 0.50);
    assert_true(out[1] == 0.95);
    assert_true(out[2] == 0.99);
    assert_true(out[3] == 1.00);
    bf_telemetry_free(&t);
}

static void test_window_keeps_only_the_most_recent(void **state)
{
    (void)state;
    bf_telemetry_t t;
    bf_telemetry_init(&t, "test");
    for (int i = 0; i < BF_TELEMETRY_WINDOW; i++)
        bf_telemetry_report_done(&t, 100.0);
    for (int i = 0; i < BF_TELEMETRY_WINDOW; i++)
        bf_telemetry_report_done(&t, 1.0);
    double q[] = {1.0}, out[1];
    bf_telemetry_quantiles(&t, q, 1, out);
    assert_true(out[0] == 1.0);
    assert_int_equal(bf_series_count(t.report_duration), 2 * BF_TELEMETRY_WINDOW);
    bf_telemetry_free(&t);
}

static void test_process_stats_are_plausible(void **state)
{
    (void)state;
    double cpu;
    int64_t rss;
    assert_int_equal(bf_telemetry_process(&cpu, &rss), 0);
    assert_true(cpu >= 0);
    assert_true(rss > 100 * 1024);
}

static void test_every_family_renders(void **state)
{
    (void)state;
    bf_telemetry_t t;
    bf_telemetry_init(&t, "test");
    size_t len;
    char *text = bf_metrics_render(t.registry, &len);
    assert_non_null(strstr(text, "# TYPE bountyfleet_consumer_lag gauge"));
    assert_non_null(strstr(text, "# TYPE bountyfleet_event_loop_lag_seconds histogram"));
    assert_non_null(strstr(text, "bountyfleet_build_info{"));
    free(text);
    assert_int_equal(bf_telemetry_port(&t), 0);
    bf_telemetry_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles_of_an_empty_window_are_zero),
        cmocka_unit_test(test_quantiles_use_nearest_rank),
        cmocka_unit_test(test_window_keeps_only_the_most_recent),
        cmocka_unit_test(test_process_stats_are_plausible),
        cmocka_unit_test(test_every_family_renders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
