/*
 * test_forecast_double.c - the double-seasonal (daily + weekly) Holt-Winters
 * of autoscaler/forecast.c against the one-season models on a synthetic
 * series with both patterns, its fallbacks, and its saved state (format
 * version 2; a version-1 state is refused, never crashes the scaler).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "autoscaler/forecast.h"
#include "autoscaler/scaler.h"

/* Hourly steps: a day is 24, a week 168. */
#define DAY   24
#define WEEK  (7 * DAY)
#define WEEKS 12
#define N     (WEEKS * WEEK)
/* Fit on the first 4 weeks (three are needed to score a weekly model). */
#define FIT (4 * WEEK)

static const double pi = 3.14159265358979323846;

/* A series with a daily cycle and a weekly one (the weekend is quieter
 * and has another shape), plus deterministic noise. From week 5 on the
 * daily peak comes 4 hours earlier (say, a new customer in another time
 * zone): the double-seasonal model relearns the daily shape from every day,
 * one weekly season each hour of the week only once a week, and the daily
 * one never sees the weekend. */
static double series_at(size_t t)
{
    size_t hour = t % DAY, day = (t / DAY) % 7;
    double shift = t >= 5 * WEEK ? 4 : 0;
    double daily = 40 * sin(2 * pi * ((double)hour + shift) / DAY);
    double weekly = day >= 5 ? -50 + 20 * cos(2 * pi * (double)hour / DAY) : 0;
    /* a fixed linear congruential generator: uniform noise in -2..2 */
    static uint32_t state;
    if (t == 0)
        state = 12345;
    state = state * 1664525u + 1013904223u;
    double noise = ((double)(state >> 8) / (double)(1u << 24) - 0.5) * 4;
    return 200 + daily + weekly + noise;
}

static bf_forecast_t *fitted(const double *y, size_t season, size_t season2)
{
    bf_forecast_conf_t c = {
        .model = BF_FORECAST_HOLT_WINTERS, .season = season, .season2 = season2};
    bf_forecast_fit(&c, y, FIT, 1);
    char errstr[256];
    bf_forecast_t *f = bf_forecast_new(&c, errstr, sizeof(errstr));
    if (!f)
        fail_msg("%s", errstr);
    return f;
}

/* MASE of the one-step forecasts after FIT, scaled by the in-sample
 * weekly seasonal-naive error of the fit part. */
static double mase(bf_forecast_t *f, const double *y)
{
    double scale = 0, err = 0;
    for (size_t t = WEEK; t < FIT; t++)
        scale += fabs(y[t] - y[t - WEEK]);
    scale /= (double)(FIT - WEEK);
    size_t n = 0;
    for (size_t t = 0; t + 1 < N; t++) {
        bf_forecast_observe(f, y[t]);
        if (t + 1 < FIT)
            continue;
        bf_forecast_point_t p;
        bf_forecast_predict(f, 1, &p);
        err += fabs(y[t + 1] - p.value);
        n++;
    }
    return err / (double)n / scale;
}

static void test_double_season_beats_one_season(void **unused)
{
    (void)unused;
    double *y = malloc(N * sizeof(double));
    assert_non_null(y);
    for (size_t t = 0; t < N; t++)
        y[t] = series_at(t);
    bf_forecast_t *daily = fitted(y, DAY, 0);
    bf_forecast_t *weekly = fitted(y, WEEK, 0);
    bf_forecast_t *both = fitted(y, DAY, WEEK);
    double m_daily = mase(daily, y), m_weekly = mase(weekly, y), m_both = mase(both, y);
    print_message("MASE daily %.3f weekly %.3f daily+weekly %.3f\n", m_daily, m_weekly,
                  m_both);
    bf_forecast_point_t p;
    bf_forecast_predict(both, 1, &p);
    assert_true(p.seasonal && p.seasonal2);
    /* measured 0.54 and 0.58 of the others' MASE; a generous margin */
    assert_true(m_both < 0.75 * m_daily);
    assert_true(m_both < 0.75 * m_weekly);
    free(y);
    bf_forecast_destroy(daily);
    bf_forecast_destroy(weekly);
    bf_forecast_destroy(both);
}

static void test_falls_back_while_history_is_short(void **unused)
{
    (void)unused;
    char errstr[256];
    bf_forecast_conf_t c = {
        .model = BF_FORECAST_HOLT_WINTERS, .season = DAY, .season2 = WEEK};
    bf_forecast_t *f = bf_forecast_new(&c, errstr, sizeof(errstr));
    assert_non_null(f);
    bf_forecast_point_t p;
    for (size_t t = 0; t < 2 * WEEK; t++) {
        if (t == DAY) { /* Holt's linear method */
            bf_forecast_predict(f, 1, &p);
            assert_false(p.seasonal);
        }
        if (t == 3 * DAY) { /* the daily model */
            bf_forecast_predict(f, 1, &p);
            assert_true(p.seasonal);
            assert_false(p.seasonal2);
        }
        bf_forecast_observe(f, series_at(t));
    }
    bf_forecast_predict(f, 1, &p); /* two weeks: both seasons */
    assert_true(p.seasonal && p.seasonal2);
    /* the refit waits for three weeks before it fits omega */
    double omega = bf_forecast_conf(f)->omega;
    assert_true(bf_forecast_refit(f, 1)); /* as the daily model */
    assert_true(bf_forecast_conf(f)->omega == omega);
    bf_forecast_destroy(f);

    /* a second season must be a multiple >= 2 of the first */
    c.season2 = DAY + 1;
    assert_null(bf_forecast_new(&c, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "second forecast season"));
    c.season2 = WEEK;
    c.model = BF_FORECAST_MOVING_AVERAGE;
    assert_null(bf_forecast_new(&c, errstr, sizeof(errstr)));
}

static void test_seasons_follow_history(void **unused)
{
    (void)unused;
    size_t s, s2;
    bf_forecast_seasons_for(300, 14 * 86400.0, &s, &s2);
    assert_int_equal(s, 288);
    assert_int_equal(s2, 2016);
    bf_forecast_seasons_for(1800, 60 * 86400.0, &s, &s2);
    assert_int_equal(s, 48);
    assert_int_equal(s2, 336);
    bf_forecast_seasons_for(300, 13 * 86400.0, &s, &s2); /* daily only */
    assert_int_equal(s, 288);
    assert_int_equal(s2, 0);
    bf_forecast_seasons_for(60, 3600, &s, &s2);
    assert_int_equal(s, 0);
    assert_int_equal(s2, 0);
    bf_forecast_seasons_for(30, 30 * 86400.0, &s, &s2); /* a week is too long */
    assert_int_equal(s2, 0);
    bf_forecast_seasons_for(86400, 30 * 86400.0, &s, &s2); /* a day is one step */
    assert_int_equal(s2, 0);
}

static bf_scaler_t *new_scaler(size_t season, size_t season2)
{
    bf_scaler_conf_t c = {
        .policy = {.min_workers = 1, .max_workers = 10},
        .step_s = 3600,
        .season = season,
        .season2 = season2,
        .horizon_s = 3600,
        .worker_rate = 1,
    };
    bf_decide_policy_capacity(&c.policy);
    char errstr[256];
    bf_scaler_t *s = bf_scaler_new(&c, errstr, sizeof(errstr));
    if (!s)
        fail_msg("%s", errstr);
    return s;
}

static void test_state_round_trip_and_old_version(void **unused)
{
    (void)unused;
    bf_scaler_t *a = new_scaler(DAY, WEEK);
    bf_scaler_decision_t d;
    /* the scaler's forecast considers the weekly season once three weeks
     * are in its history */
    for (size_t t = 0; t <= 4 * WEEK + 5; t++) {
        bf_scaler_obs_t o = {.now = 3600.0 * (double)t,
                             .partitions = 4,
                             .current_workers = 1,
                             .arrivals = series_at(t) * 3600,
                             .processed = series_at(t) * 3600,
                             .latency_s = -1};
        bf_scaler_observe(a, &o, &d);
    }
    assert_true(d.forecast.seasonal2);
    char *text = bf_scaler_save(a);
    char errstr[256];

    bf_scaler_t *b = new_scaler(DAY, WEEK);
    assert_int_equal(bf_scaler_load(b, text, errstr, sizeof(errstr)), 0);
    for (size_t h = 1; h <= WEEK; h += 7) {
        bf_forecast_point_t pa, pb;
        bf_forecast_predict(bf_scaler_forecast(a), h, &pa);
        bf_forecast_predict(bf_scaler_forecast(b), h, &pb);
        assert_true(fabs(pa.value - pb.value) < 1e-6);
        assert_true(pb.seasonal2);
    }
    int64_t off, peak;
    bf_scaler_season_needs(b, 1, &off, &peak);
    assert_true(off >= 1 && peak > off);

    /* the daily-only model refuses the two-season state */
    bf_scaler_t *daily = new_scaler(DAY, 0);
    assert_int_equal(bf_scaler_load(daily, text, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "another configuration"));

    /* a state written before the second season (format version 1) is
     * refused with a message saying so; the scaler starts afresh */
    json_t *o = json_loads(text, 0, NULL);
    json_t *fc = json_object_get(o, "forecast");
    json_int_t current = json_integer_value(json_object_get(fc, "version"));
    json_object_set_new(fc, "version", json_integer(1));
    json_object_del(fc, "season2");
    json_object_del(fc, "season2_index");
    char *old = json_dumps(o, JSON_COMPACT);
    bf_scaler_t *c = new_scaler(DAY, WEEK);
    assert_int_equal(bf_scaler_load(c, old, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "format version 1"));
    assert_int_equal(bf_forecast_count(bf_scaler_forecast(c)), 0);
    bf_scaler_observe(
        c,
        &(bf_scaler_obs_t){
            .now = 0, .partitions = 4, .current_workers = 1, .latency_s = -1},
        &d);

    /* so is one of version 2 (before missing steps and model selection) */
    json_object_set_new(fc, "version", json_integer(2));
    json_object_set_new(fc, "season2", json_integer(WEEK));
    free(old);
    old = json_dumps(o, JSON_COMPACT);
    assert_int_equal(bf_scaler_load(c, old, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "format version 2"));

    /* a damaged weekly index is refused too, in the current version */
    json_object_set_new(fc, "version", json_integer(current));
    json_object_set_new(json_object_get(fc, "engine"), "s2", json_array());
    free(old);
    old = json_dumps(o, JSON_COMPACT);
    assert_int_equal(bf_scaler_load(c, old, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "malformed"));

    json_decref(o);
    free(old);
    free(text);
    bf_scaler_destroy(a);
    bf_scaler_destroy(b);
    bf_scaler_destroy(c);
    bf_scaler_destroy(daily);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_season_beats_one_season),
        cmocka_unit_test(test_falls_back_while_history_is_short),
        cmocka_unit_test(test_seasons_follow_history),
        cmocka_unit_test(test_state_round_trip_and_old_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
