/*
 * test_scaler.c - observations through the forecast into the decision
 * (autoscaler/scaler.c): arrivals summed into forecast steps, throughput
 * measured while busy, the off-peak advice, the state round trip, and a
 * silence in the readings (a Kafka outage) as missing steps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "autoscaler/scaler.h"

static bf_scaler_t *new_scaler_step(size_t season, double step_s)
{
    bf_scaler_conf_t c = {.policy = {.min_workers = 1, .max_workers = 64},
                          .step_s = step_s,
                          .season = season,
                          .horizon_s = 300,
                          .worker_rate = 2,
                          .measure_rate = true};
    bf_decide_policy_capacity(&c.policy);
    char errstr[256];
    bf_scaler_t *s = bf_scaler_new(&c, errstr, sizeof(errstr));
    if (!s)
        fail_msg("%s", errstr);
    return s;
}

static bf_scaler_t *new_scaler(size_t season)
{
    return new_scaler_step(season, 60);
}

/* 10 reports/s by day (steps 0..11 of 24), 2/s by night. */
static double rate_at(size_t step)
{
    return step % 24 < 12 ? 10 : 2;
}

static void observe_hb(bf_scaler_t *s, double now, int64_t lag, int64_t workers,
                       double arrivals, double processed, bf_saturation_t sat,
                       bf_scaler_decision_t *d)
{
    bf_scaler_obs_t o = {.now = now,
                         .total_lag = lag,
                         .partitions = 64,
                         .current_workers = workers,
                         .arrivals = arrivals,
                         .processed = processed,
                         .latency_s = -1,
                         .saturated = sat};
    bf_scaler_observe(s, &o, d);
}

static void observe(bf_scaler_t *s, double now, int64_t lag, int64_t workers,
                    double arrivals, double processed, bf_scaler_decision_t *d)
{
    observe_hb(s, now, lag, workers, arrivals, processed, BF_SATURATION_UNKNOWN, d);
}

static void test_forecast_steps_and_capacity(void **unused)
{
    (void)unused;
    bf_scaler_t *s = new_scaler(24);
    bf_scaler_decision_t d;
    observe(s, 0, 0, 4, 0, 0, &d);
    /* ticks of 15 s: four make one forecast step */
    double now = 0;
    for (size_t step = 0; step < 24 * 4; step++)
        for (int k = 0; k < 4; k++) {
            now += 15;
            observe(s, now, 0, 4, rate_at(step) * 15, rate_at(step) * 15, &d);
        }
    assert_int_equal(bf_forecast_count(bf_scaler_forecast(s)), 24 * 4);
    assert_true(d.forecast_ready);
    assert_true(d.forecast.seasonal);
    /* 4 workers did 10/s by day, so one does at least 2.5/s (a lower
     * bound that raises the configured 2/s); the next step is day again:
     * 10/s over 2/s (80 % of 2.5) per worker = 5 workers */
    assert_true(fabs(d.worker_rate - 2.5) < 1e-9);
    assert_true(fabs(d.forecast_peak - 10) < 0.5);
    assert_int_equal(d.decision.desired_workers, 5);
    int64_t off, peak;
    bf_scaler_season_needs(s, 2, &off, &peak);
    assert_int_equal(off, 2); /* at the 2/s asked for: 2/s over 1.6/s */
    assert_int_equal(peak, 7);

    /* the state carries over to a new scaler */
    char *text = bf_scaler_save(s);
    bf_scaler_t *t = new_scaler(24);
    char errstr[256];
    assert_int_equal(bf_scaler_load(t, text, errstr, sizeof(errstr)), 0);
    bf_scaler_season_needs(t, 2, &off, &peak);
    assert_int_equal(peak, 7);
    bf_scaler_t *other = new_scaler(12);
    assert_int_equal(bf_scaler_load(other, text, errstr, sizeof(errstr)), -1);
    assert_int_equal(bf_scaler_load(other, "{not json", errstr, sizeof(errstr)), -1);
    free(text);
    bf_scaler_destroy(s);
    bf_scaler_destroy(t);
    bf_scaler_destroy(other);
}

static void test_throughput_is_measured_while_busy(void **unused)
{
    (void)unused;
    bf_scaler_t *s = new_scaler(0);
    bf_scaler_decision_t d;
    observe(s, 0, 1000, 2, 0, 0, &d);
    assert_true(d.worker_rate == 2); /* configured until measured */
    /* busy all along: 2 workers commit 60 reports in 10 s = 3/s each */
    observe(s, 10, 900, 2, 0, 60, &d);
    assert_true(fabs(d.worker_rate - 3) < 1e-9);
    /* the fleet changed during the interval: no sample */
    observe(s, 20, 800, 3, 0, 600, &d);
    assert_true(fabs(d.worker_rate - 3) < 1e-9);
    /* idle (no lag): no sample either */
    observe(s, 30, 0, 3, 0, 10, &d);
    observe(s, 40, 0, 3, 0, 0, &d);
    assert_true(fabs(d.worker_rate - 3) < 1e-9);
    bf_scaler_destroy(s);
}

/* Found by ops/soak: a fleet that keeps up always has some lag (reports in
 * flight, offsets not yet committed), so "lag before and after" took every
 * sample, the throughput became arrivals / workers, and the rule wanted
 * workers / 0.8 at any load: 4 workers for 2 reports/s, for ever. With the
 * heartbeats' saturation, samples of a fleet below its cap only raise the
 * estimate. */
static void test_unsaturated_fleet_scales_down_with_the_load(void **unused)
{
    (void)unused;
    bf_scaler_t *s = new_scaler(0);
    bf_scaler_decision_t d;
    double now = 0;
    /* saturated: 4 workers at their cap do 6/s each */
    observe_hb(s, now, 500, 4, 0, 0, BF_SATURATION_YES, &d);
    for (int i = 0; i < 20; i++) {
        now += 5;
        observe_hb(s, now, 500, 4, 24 * 5, 24 * 5, BF_SATURATION_YES, &d);
    }
    assert_true(fabs(d.worker_rate - 6) < 1e-6);
    /* then 2 reports/s arrive and are done, with 20 of lag in flight */
    for (int i = 0; i < 60; i++) {
        now += 5;
        observe_hb(s, now, 20, 4, 2 * 5, 2 * 5, BF_SATURATION_NO, &d);
    }
    assert_true(fabs(d.worker_rate - 6) < 1e-6); /* 0.5/s each told nothing */
    /* 2/s + 20 lag over 60 s, at 80 % of 6/s: one worker */
    assert_int_equal(d.decision.desired_workers, 1);
    /* a fleet below its cap that does more than the estimate raises it,
     * by at most half again per sample (10/s each here: 6 -> 9) */
    observe_hb(s, now + 5, 20, 4, 40 * 5, 40 * 5, BF_SATURATION_NO, &d);
    assert_true(fabs(d.worker_rate - 9) < 1e-6);
    /* and a saturated slower fleet lowers it (EWMA 0.3) */
    observe_hb(s, now + 10, 900, 4, 0, 4 * 5 * 5, BF_SATURATION_YES, &d);
    assert_true(fabs(d.worker_rate - (0.3 * 5 + 0.7 * 9)) < 1e-6);
    bf_scaler_destroy(s);
}

/* --season weekly alone: the forecast's weekly season (hourly steps, a week
 * of 168), whose busiest and quietest hours the off-peak advice reads:
 * 10/s on weekdays, 2/s at weekends, at 80 % of 2/s per worker. */
static void test_lone_weekly_season_advises_over_the_week(void **unused)
{
    (void)unused;
    bf_scaler_t *s = new_scaler_step(168, 3600);
    bf_scaler_decision_t d;
    observe(s, 0, 0, 4, 0, 0, &d);
    for (size_t step = 1; step <= 4 * 168; step++) {
        double rate = (step - 1) % 168 < 120 ? 10 : 2;
        observe(s, 3600.0 * (double)step, 0, 4, rate * 3600, rate * 3600, &d);
    }
    bf_forecast_status_t st;
    bf_forecast_status(bf_scaler_forecast(s), &st);
    assert_int_equal(st.structure, BF_FORECAST_STRUCTURE_WEEKLY);
    int64_t off, peak;
    bf_scaler_season_needs(s, 2, &off, &peak);
    assert_int_equal(off, 2);  /* 2/s over 1.6/s */
    assert_int_equal(peak, 7); /* 10/s over 1.6/s */
    bf_scaler_destroy(s);
}

/* Readings every 30 s of a steady 3 arrivals/s; then none for ten minutes
 * (the lag could not be read), after which the next reading reports the
 * 1800 arrivals of the whole silence. The ten steps it covers are: the one
 * the silence started in and the one it ended in, each booked its share,
 * and eight wholly inside it, missing. The forecast stays at 3/s instead
 * of being pulled towards the zeros the old loop fed. */
static void test_a_silence_is_missing_steps_not_zero_arrivals(void **unused)
{
    (void)unused;
    bf_scaler_t *s = new_scaler(0);
    bf_scaler_decision_t d;
    double now = 0;
    observe(s, now, 0, 2, 0, 0, &d);
    for (int k = 0; k < 60; k++) { /* 30 minutes */
        now += 30;
        observe(s, now, 0, 2, 90, 90, &d);
    }
    const bf_forecast_t *f = bf_scaler_forecast(s);
    assert_int_equal(bf_forecast_count(f), 30);
    now += 600;
    observe(s, now, 0, 2, 1800, 1800, &d);
    assert_int_equal(bf_forecast_count(f), 40);
    bf_forecast_point_t p;
    bf_forecast_predict(f, 1, &p);
    if (fabs(p.value - 3) > 1e-6)
        fail_msg("forecast %g/s after the silence", p.value);
    assert_true(fabs(d.forecast_peak - 3) < 1e-6);
    bf_scaler_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forecast_steps_and_capacity),
        cmocka_unit_test(test_a_silence_is_missing_steps_not_zero_arrivals),
        cmocka_unit_test(test_lone_weekly_season_advises_over_the_week),
        cmocka_unit_test(test_throughput_is_measured_while_busy),
        cmocka_unit_test(test_unsaturated_fleet_scales_down_with_the_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
