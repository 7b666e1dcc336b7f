/*
 * test_forecast.c - the forecast (autoscaler/forecast.c) on injected
 * series whose answer is known.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "autoscaler/forecast.h"

static bf_forecast_t *new_model(bf_forecast_model_t model, size_t season)
{
    char errstr[256];
    bf_forecast_conf_t c = {.model = model, .season = season};
    bf_forecast_t *f = bf_forecast_new(&c, errstr, sizeof(errstr));
    if (!f)
        fail_msg("%s", errstr);
    return f;
}

/* A daily-like pattern of 24 steps: a square wave plus a ramp. */
static double seasonal_value(size_t t)
{
    return 100 + ((t % 24) < 8 ? 50.0 : 0.0) + (double)(t % 24);
}

static void test_holt_winters_learns_a_clean_season(void **unused)
{
    (void)unused;
    bf_forecast_t *f = new_model(BF_FORECAST_HOLT_WINTERS, 24);
    for (size_t t = 0; t < 24 * 10; t++)
        bf_forecast_observe(f, seasonal_value(t));
    bf_forecast_point_t p;
    for (size_t h = 1; h <= 24; h++) {
        bf_forecast_predict(f, h, &p);
        assert_true(p.seasonal);
        assert_true(fabs(p.value - seasonal_value(24 * 10 + h - 1)) < 1.0);
        assert_true(p.lower <= p.value && p.value <= p.upper);
    }
    assert_true(p.confidence > 0.95);
    bf_forecast_destroy(f);
}

static void test_short_history_falls_back_to_holt_linear(void **unused)
{
    (void)unused;
    bf_forecast_t *f = new_model(BF_FORECAST_HOLT_WINTERS, 24);
    for (size_t t = 0; t < 30; t++) /* less than two seasons */
        bf_forecast_observe(f, 10.0 + 2.0 * (double)t);
    bf_forecast_point_t p;
    bf_forecast_predict(f, 5, &p);
    assert_false(p.seasonal);
    assert_true(p.value > 68); /* a linear ramp goes on rising */
    assert_int_equal(p.trend, BF_TREND_INCREASING);
    bf_forecast_destroy(f);
}

static void test_trend_is_classified(void **unused)
{
    (void)unused;
    bf_forecast_t *up = new_model(BF_FORECAST_HOLT_WINTERS, 0);
    bf_forecast_t *down = new_model(BF_FORECAST_HOLT_WINTERS, 0);
    bf_forecast_t *flat = new_model(BF_FORECAST_HOLT_WINTERS, 0);
    for (size_t t = 0; t < 200; t++) {
        bf_forecast_observe(up, 100.0 + 5.0 * (double)t);
        bf_forecast_observe(down, 2000.0 - 5.0 * (double)t);
        bf_forecast_observe(flat, 500.0);
    }
    bf_forecast_point_t p;
    bf_forecast_predict(up, 30, &p);
    assert_int_equal(p.trend, BF_TREND_INCREASING);
    bf_forecast_predict(down, 30, &p);
    assert_int_equal(p.trend, BF_TREND_DECREASING);
    bf_forecast_predict(flat, 30, &p);
    assert_int_equal(p.trend, BF_TREND_STABLE);
    assert_true(fabs(p.value - 500) < 1e-6);
    assert_true(p.upper - p.lower < 1e-6); /* no error, no interval */
    assert_true(p.confidence > 0.99);
    bf_forecast_destroy(up);
    bf_forecast_destroy(down);
    bf_forecast_destroy(flat);
}

static void test_noise_widens_interval_and_lowers_confidence(void **unused)
{
    (void)unused;
    bf_forecast_t *quiet = new_model(BF_FORECAST_HOLT_WINTERS, 0);
    bf_forecast_t *noisy = new_model(BF_FORECAST_HOLT_WINTERS, 0);
    for (size_t t = 0; t < 300; t++) {
        bf_forecast_observe(quiet, 100 + (t % 2 ? 1 : -1));
        bf_forecast_observe(noisy, 100 + (t % 2 ? 60 : -60));
    }
    bf_forecast_point_t q, n, far;
    bf_forecast_predict(quiet, 1, &q);
    bf_forecast_predict(noisy, 1, &n);
    bf_forecast_predict(noisy, 16, &far);
    assert_true(n.upper - n.lower > 10 * (q.upper - q.lower));
    assert_true(far.upper - far.value > 3 * (n.upper - n.value)); /* sqrt(16) */
    assert_true(n.confidence < q.confidence);
    assert_true(n.lower >= 0);
    bf_forecast_destroy(quiet);
    bf_forecast_destroy(noisy);
}

static void test_baselines(void **unused)
{
    (void)unused;
    bf_forecast_t *sn = new_model(BF_FORECAST_SEASONAL_NAIVE, 4);
    bf_forecast_t *ma = new_model(BF_FORECAST_MOVING_AVERAGE, 0);
    double ys[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    for (size_t i = 0; i < 14; i++) {
        bf_forecast_observe(sn, ys[i]);
        bf_forecast_observe(ma, ys[i]);
    }
    bf_forecast_point_t p;
    /* the next step (index 14) is phase 2: one season earlier, 11 */
    bf_forecast_predict(sn, 1, &p);
    assert_true(fabs(p.value - 11) < 1e-9);
    bf_forecast_predict(sn, 4, &p); /* index 17: 14 */
    assert_true(fabs(p.value - 14) < 1e-9);
    bf_forecast_predict(sn, 5, &p); /* index 18: two seasons back, 11 */
    assert_true(fabs(p.value - 11) < 1e-9);
    /* the mean of the last 12 values (3..14) */
    bf_forecast_predict(ma, 7, &p);
    assert_true(fabs(p.value - 8.5) < 1e-9);
    assert_true(fabs(bf_forecast_peak(ma, 3) - 8.5) < 1e-9);
    bf_forecast_destroy(sn);
    bf_forecast_destroy(ma);
}

static void test_bad_input_is_zero_and_bad_conf_refused(void **unused)
{
    (void)unused;
    bf_forecast_t *f = new_model(BF_FORECAST_HOLT_WINTERS, 0);
    bf_forecast_point_t p;
    bf_forecast_predict(f, 1, &p);
    assert_true(p.value == 0 && p.confidence == 0);
    bf_forecast_observe(f, NAN);
    bf_forecast_observe(f, -5);
    bf_forecast_predict(f, 1, &p);
    assert_true(p.value == 0);
    bf_forecast_destroy(f);

    char errstr[256];
    bf_forecast_conf_t c = {.season = BF_FORECAST_MAX_SEASON + 1};
    assert_null(bf_forecast_new(&c, errstr, sizeof(errstr)));
    c = (bf_forecast_conf_t){.alpha = 1.5, .beta = 0.1, .gamma = 0.1};
    assert_null(bf_forecast_new(&c, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "0..1"));
}

static void test_fit_prefers_a_better_constant(void **unused)
{
    (void)unused;
    /* a level that jumps: a high alpha follows it, the grid must find one */
    double series[400];
    for (size_t t = 0; t < 400; t++)
        series[t] = (t / 50) % 2 ? 1000 : 10;
    bf_forecast_conf_t c = {.model = BF_FORECAST_HOLT_WINTERS};
    bf_forecast_fit(&c, series, 400, 1);
    assert_true(c.alpha >= 0.4);
}

static void test_refit_uses_three_seasons_of_own_history(void **unused)
{
    (void)unused;
    bf_forecast_t *f = new_model(BF_FORECAST_HOLT_WINTERS, 24);
    /* a daily shape on a level that jumps every day: only a quick level
     * (high alpha) follows it */
    for (size_t t = 0; t < 24 * 2; t++)
        bf_forecast_observe(f, seasonal_value(t) + (double)((t / 24) % 2) * 500);
    assert_false(bf_forecast_refit(f, 1)); /* two seasons: nothing to score */
    for (size_t t = 24 * 2; t < 24 * 4; t++)
        bf_forecast_observe(f, seasonal_value(t) + (double)((t / 24) % 2) * 500);
    assert_true(bf_forecast_refit(f, 1));
    assert_true(bf_forecast_conf(f)->alpha > 0.3);
    bf_forecast_t *ma = new_model(BF_FORECAST_MOVING_AVERAGE, 24);
    assert_false(bf_forecast_refit(ma, 1));
    bf_forecast_destroy(f);
    bf_forecast_destroy(ma);
}

static void test_season_follows_history(void **unused)
{
    (void)unused;
    assert_int_equal(bf_forecast_season_for(300, 30 * 86400.0), 2016);
    assert_int_equal(bf_forecast_season_for(300, 5 * 86400.0), 288);
    assert_int_equal(bf_forecast_season_for(60, 3600), 0);
    assert_int_equal(bf_forecast_season_for(1, 30 * 86400.0), 0); /* too long */
}

static void test_state_survives_a_restart(void **unused)
{
    (void)unused;
    bf_forecast_t *a = new_model(BF_FORECAST_HOLT_WINTERS, 24);
    for (size_t t = 0; t < 24 * 5 + 7; t++)
        bf_forecast_observe(a, seasonal_value(t) + (double)(t % 5));
    json_t *saved = bf_forecast_save(a);
    char *text = json_dumps(saved, JSON_COMPACT);
    json_decref(saved);
    assert_non_null(text);

    /* a new process: parse the text into a fresh forecaster */
    bf_forecast_t *b = new_model(BF_FORECAST_HOLT_WINTERS, 24);
    json_t *parsed = json_loads(text, 0, NULL);
    char errstr[256];
    assert_int_equal(bf_forecast_load(b, parsed, errstr, sizeof(errstr)), 0);
    assert_int_equal(bf_forecast_count(b), bf_forecast_count(a));
    for (size_t h = 1; h <= 30; h++) {
        bf_forecast_point_t pa, pb;
        bf_forecast_predict(a, h, &pa);
        bf_forecast_predict(b, h, &pb);
        assert_true(fabs(pa.value - pb.value) < 1e-6);
        assert_true(fabs(pa.upper - pb.upper) < 1e-6);
        assert_true(pb.seasonal);
    }
    bf_forecast_observe(a, 130);
    bf_forecast_observe(b, 130);
    bf_forecast_point_t pa, pb;
    bf_forecast_predict(a, 3, &pa);
    bf_forecast_predict(b, 3, &pb);
    assert_true(fabs(pa.value - pb.value) < 1e-6);

    /* another season, or a damaged state, is refused and changes nothing */
    bf_forecast_t *other = new_model(BF_FORECAST_HOLT_WINTERS, 12);
    assert_int_equal(bf_forecast_load(other, parsed, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "another configuration"));
    assert_int_equal(bf_forecast_count(other), 0);
    json_array_clear(json_object_get(parsed, "ring"));
    assert_int_equal(bf_forecast_load(b, parsed, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "malformed"));
    assert_int_equal(bf_forecast_count(b), bf_forecast_count(a));

    json_decref(parsed);
    free(text);
    bf_forecast_destroy(a);
    bf_forecast_destroy(b);
    bf_forecast_destroy(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holt_winters_learns_a_clean_season),
        cmocka_unit_test(test_short_history_falls_back_to_holt_linear),
        cmocka_unit_test(test_trend_is_classified),
        cmocka_unit_test(test_noise_widens_interval_and_lowers_confidence),
        cmocka_unit_test(test_baselines),
        cmocka_unit_test(test_bad_input_is_zero_and_bad_conf_refused),
        cmocka_unit_test(test_fit_prefers_a_better_constant),
        cmocka_unit_test(test_refit_uses_three_seasons_of_own_history),
        cmocka_unit_test(test_season_follows_history),
        cmocka_unit_test(test_state_survives_a_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
