/*
 * test_forecast_auto.c - the selecting forecast (autoscaler/forecast_auto.c)
 * and missing steps, on made-up series whose answer is known: a gap is not
 * zero arrivals, the structure follows the series, selections run on a
 * fixed schedule, the interval covers what it says, the status accessor,
 * and the saved state (format version 4).
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

#define DAY  24
#define WEEK (7 * DAY)

static bf_forecast_t *new_forecast(bf_forecast_model_t model, size_t season,
                                   size_t season2, size_t horizon)
{
    char errstr[256];
    bf_forecast_conf_t c = {
        .model = model, .season = season, .season2 = season2, .horizon = horizon};
    bf_forecast_t *f = bf_forecast_new(&c, errstr, sizeof(errstr));
    if (!f)
        fail_msg("%s", errstr);
    return f;
}

/* Uniform noise in -1..1 from a fixed linear congruential generator. */
static double noise(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return ((double)(*state >> 8) / (double)(1u << 24) - 0.5) * 2;
}

/* A day of 24 steps: quiet nights, a busy day. */
static double daily(size_t t)
{
    size_t hour = t % DAY;
    return 100 + (hour >= 8 && hour < 20 ? 80.0 : 0.0) + 2.0 * (double)hour;
}

static void test_missing_steps_are_not_zero_arrivals(void **unused)
{
    (void)unused;
    static const bf_forecast_model_t models[] = {
        BF_FORECAST_AUTO, BF_FORECAST_HOLT_WINTERS, BF_FORECAST_MOVING_AVERAGE,
        BF_FORECAST_SEASONAL_NAIVE};
    for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
        bf_forecast_t *f = new_forecast(models[m], 0, 0, 1);
        bf_forecast_t *zeros = new_forecast(models[m], 0, 0, 1);
        for (size_t t = 0; t < 200; t++) {
            bf_forecast_observe(f, 100);
            bf_forecast_observe(zeros, 100);
        }
        bf_forecast_point_t p;
        bf_forecast_predict(f, 1, &p);
        double interval = p.upper - p.lower;
        for (size_t t = 0; t < 30; t++) { /* an outage of 30 steps */
            bf_forecast_skip(f);
            bf_forecast_observe(zeros, 0);
        }
        assert_int_equal(bf_forecast_count(f), 230);
        bf_forecast_predict(f, 1, &p);
        if (fabs(p.value - 100) > 1e-9)
            fail_msg("%s: %g after the gap", bf_forecast_model_name(models[m]), p.value);
        /* nothing was scored in the gap: the interval is as before */
        assert_true(fabs(p.upper - p.lower - interval) < 1e-9);
        bf_forecast_point_t z;
        bf_forecast_predict(zeros, 1, &z);
        assert_true(z.value < 99); /* feeding zeros pulled it down */
        bf_forecast_destroy(f);
        bf_forecast_destroy(zeros);
    }
}

static void test_structure_follows_the_series(void **unused)
{
    (void)unused;
    uint32_t rng = 7;
    bf_forecast_t *seasonal = new_forecast(BF_FORECAST_AUTO, DAY, 0, 1);
    bf_forecast_t *flat = new_forecast(BF_FORECAST_AUTO, DAY, 0, 1);
    for (size_t t = 0; t < 10 * DAY; t++) {
        bf_forecast_observe(seasonal, daily(t) + noise(&rng));
        bf_forecast_observe(flat, 150 + 20 * noise(&rng));
    }
    bf_forecast_status_t st;
    bf_forecast_status(seasonal, &st);
    assert_int_equal(st.structure, BF_FORECAST_STRUCTURE_DAILY);
    assert_string_equal(bf_forecast_structure_name(st.structure), "daily");
    bf_forecast_point_t p;
    bf_forecast_predict(seasonal, 9, &p); /* 09:00, the day shape */
    assert_true(fabs(p.value - daily(10 * DAY + 8)) < 5);
    bf_forecast_status(flat, &st);
    assert_int_equal(st.structure, BF_FORECAST_STRUCTURE_NONE);
    bf_forecast_destroy(seasonal);
    bf_forecast_destroy(flat);

    /* a weekend that is quieter than the weekdays: a weekly season */
    bf_forecast_t *week = new_forecast(BF_FORECAST_AUTO, DAY, WEEK, 1);
    for (size_t t = 0; t < 5 * WEEK; t++) {
        bool weekend = (t / DAY) % 7 >= 5;
        bf_forecast_observe(week, daily(t) * (weekend ? 0.3 : 1) + noise(&rng));
    }
    bf_forecast_status(week, &st);
    assert_true(st.structure == BF_FORECAST_STRUCTURE_WEEKLY ||
                st.structure == BF_FORECAST_STRUCTURE_DAILY_WEEKLY);
    bf_forecast_destroy(week);
}

static void test_selections_run_on_a_schedule(void **unused)
{
    (void)unused;
    bf_forecast_t *f = new_forecast(BF_FORECAST_AUTO, DAY, 0, 1);
    /* after 8, 16 and 32 steps, then once a day (24 steps): 56, 80, 104 */
    static const size_t at[] = {8, 16, 32, 56, 80, 104};
    size_t next = 0;
    for (size_t t = 1; t <= 110; t++) {
        bf_forecast_observe(f, daily(t));
        bf_forecast_status_t st;
        bf_forecast_status(f, &st);
        if (next < sizeof(at) / sizeof(at[0]) && t == at[next])
            next++;
        if (st.refits != next)
            fail_msg("%zu refits after %zu steps, expected %zu", st.refits, t, next);
    }
    bf_forecast_destroy(f);
}

static void test_interval_covers_ninety_five_percent(void **unused)
{
    (void)unused;
    uint32_t rng = 11;
    bf_forecast_t *f = new_forecast(BF_FORECAST_AUTO, 0, 0, 3);
    size_t inside = 0, scored = 0;
    double lower[3] = {0}, upper[3] = {0};
    for (size_t t = 0; t < 4000; t++) {
        double y = 200 + 30 * noise(&rng);
        if (t >= 1000) { /* the forecast made three steps ago */
            inside += y >= lower[t % 3] && y <= upper[t % 3];
            scored++;
        }
        bf_forecast_observe(f, y);
        bf_forecast_point_t p;
        bf_forecast_predict(f, 3, &p);
        lower[t % 3] = p.lower;
        upper[t % 3] = p.upper;
    }
    double coverage = (double)inside / (double)scored;
    print_message("coverage %.3f\n", coverage);
    assert_true(coverage > 0.93 && coverage < 0.97);
    bf_forecast_destroy(f);
}

static void test_status_of_the_other_models(void **unused)
{
    (void)unused;
    bf_forecast_t *hw = new_forecast(BF_FORECAST_HOLT_WINTERS, DAY, 0, 0);
    bf_forecast_t *ma = new_forecast(BF_FORECAST_MOVING_AVERAGE, 0, 0, 0);
    bf_forecast_status_t st;
    bf_forecast_status(hw, &st);
    assert_int_equal(st.structure, BF_FORECAST_STRUCTURE_NONE);
    assert_int_equal(st.horizon, 1);
    assert_true(st.value == 0 && st.confidence == 0);
    for (size_t t = 0; t < 3 * DAY; t++) {
        bf_forecast_observe(hw, daily(t));
        bf_forecast_observe(ma, daily(t));
    }
    bf_forecast_status(hw, &st);
    assert_int_equal(st.structure, BF_FORECAST_STRUCTURE_DAILY);
    assert_true(st.seasonal_weight == 1 && st.refits == 0);
    assert_true(st.lower <= st.value && st.value <= st.upper);
    assert_true(fabs(st.alpha - 0.3) < 1e-12); /* the defaults */
    bf_forecast_status(ma, &st);
    assert_int_equal(st.structure, BF_FORECAST_STRUCTURE_NONE);
    assert_true(st.seasonal_weight == 0);
    bf_forecast_destroy(hw);
    bf_forecast_destroy(ma);
}

static json_t *saved(const bf_forecast_t *f)
{
    json_t *o = bf_forecast_save(f);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(text);
    json_t *parsed = json_loads(text, 0, NULL); /* as a new process reads it */
    free(text);
    assert_non_null(parsed);
    return parsed;
}

static void test_state_with_gaps_survives_a_restart(void **unused)
{
    (void)unused;
    bf_forecast_t *a = new_forecast(BF_FORECAST_AUTO, DAY, 0, 2);
    for (size_t t = 0; t < 6 * DAY; t++) {
        if (t % 37 == 5)
            bf_forecast_skip(a);
        else
            bf_forecast_observe(a, daily(t));
    }
    json_t *st = saved(a);
    assert_true(json_is_null(json_array_get(json_object_get(st, "ring"), 5)));
    bf_forecast_t *b = new_forecast(BF_FORECAST_AUTO, DAY, 0, 2);
    char errstr[256];
    assert_int_equal(bf_forecast_load(b, st, errstr, sizeof(errstr)), 0);
    for (size_t t = 6 * DAY; t < 8 * DAY; t++) { /* and they go on alike */
        bf_forecast_observe(a, daily(t));
        bf_forecast_observe(b, daily(t));
        bf_forecast_point_t pa, pb;
        bf_forecast_predict(a, 2, &pa);
        bf_forecast_predict(b, 2, &pb);
        assert_true(fabs(pa.value - pb.value) < 1e-6);
        assert_true(fabs(pa.upper - pb.upper) < 1e-6);
    }
    bf_forecast_status_t sa, sb;
    bf_forecast_status(a, &sa);
    bf_forecast_status(b, &sb);
    assert_int_equal(sa.structure, sb.structure);
    assert_int_equal(sa.refits, sb.refits);

    /* another horizon is another configuration */
    bf_forecast_t *other = new_forecast(BF_FORECAST_AUTO, DAY, 0, 1);
    assert_int_equal(bf_forecast_load(other, st, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "another configuration"));
    /* a state in an older format version is refused with its reason: 3 had
     * absolute interval errors, 2 no selecting model */
    json_object_set_new(st, "version", json_integer(3));
    assert_int_equal(bf_forecast_load(b, st, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "format version 3"));
    json_object_set_new(st, "version", json_integer(2));
    assert_int_equal(bf_forecast_load(b, st, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "format version 2"));
    /* damaged parts are refused and change nothing */
    json_object_set_new(st, "version", json_integer(4));
    json_object_set_new(json_object_get(st, "auto"), "combine", json_integer(99));
    size_t count = bf_forecast_count(b);
    assert_int_equal(bf_forecast_load(b, st, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "malformed"));
    assert_int_equal(bf_forecast_count(b), count);
    json_object_set_new(json_object_get(st, "auto"), "combine", json_integer(1));
    /* so is a state without the level its interval errors are relative to */
    json_t *level =
        json_incref(json_object_get(json_object_get(st, "auto"), "level_mean"));
    json_object_del(json_object_get(st, "auto"), "level_mean");
    assert_int_equal(bf_forecast_load(b, st, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "malformed"));
    json_object_set_new(json_object_get(st, "auto"), "level_mean", level);
    json_object_set_new(json_object_get(st, "engine"), "m1", json_integer(DAY + 1));
    assert_int_equal(bf_forecast_load(b, st, errstr, sizeof(errstr)), -1);
    json_decref(st);
    bf_forecast_destroy(a);
    bf_forecast_destroy(b);
    bf_forecast_destroy(other);
}

/* A steep fall leaves the engine forecasting below zero (the forecast
 * itself is clamped at 0): such a state is not malformed. */
static void test_state_after_a_fall_loads(void **unused)
{
    (void)unused;
    bf_forecast_t *a = new_forecast(BF_FORECAST_AUTO, 0, 0, 5);
    for (size_t t = 0; t < 40; t++)
        bf_forecast_observe(a, t < 30 ? 1000 - 33.0 * (double)t : 0);
    json_t *st = saved(a);
    assert_true(json_number_value(
                    json_object_get(json_object_get(st, "auto"), "next_engine")) < 0);
    bf_forecast_t *b = new_forecast(BF_FORECAST_AUTO, 0, 0, 5);
    char errstr[256];
    if (bf_forecast_load(b, st, errstr, sizeof(errstr)) != 0)
        fail_msg("%s", errstr);
    json_decref(st);
    bf_forecast_destroy(a);
    bf_forecast_destroy(b);
}

static void test_auto_seasons_follow_the_step(void **unused)
{
    (void)unused;
    size_t s, s2;
    bf_forecast_auto_seasons(60, &s, &s2);
    assert_true(s == 1440 && s2 == 10080);
    bf_forecast_auto_seasons(86400, &s, &s2); /* a day is one step */
    assert_true(s == 0 && s2 == 7);
    bf_forecast_auto_seasons(1, &s, &s2); /* a day is too long */
    assert_true(s == 0 && s2 == 0);
    bf_forecast_auto_seasons(7 * 60, &s, &s2); /* not a whole number in a day */
    assert_true(s == 0 && s2 == 1440);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_steps_are_not_zero_arrivals),
        cmocka_unit_test(test_structure_follows_the_series),
        cmocka_unit_test(test_selections_run_on_a_schedule),
        cmocka_unit_test(test_interval_covers_ninety_five_percent),
        cmocka_unit_test(test_status_of_the_other_models),
        cmocka_unit_test(test_state_with_gaps_survives_a_restart),
        cmocka_unit_test(test_state_after_a_fall_loads),
        cmocka_unit_test(test_auto_seasons_follow_the_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
