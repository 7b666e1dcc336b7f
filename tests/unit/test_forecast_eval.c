/*
 * test_forecast_eval.c - the scoring rules of `forecast-eval`
 * (autoscaler/forecast_eval.c) on points and series whose scores are known
 * by hand: an actual of zero, the interval's coverage, MASE's scale over
 * observed pairs only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "autoscaler/forecast_eval.h"

/* Steps of 60 s: one arrival per step is 1/60 arrivals/s. */
#define STEP        60.0
#define ONE         (1 / STEP)
#define CLOSE(a, b) (fabs((a) - (b)) < 1e-12)

static void test_zero_actual_scores_by_the_arrivals_missed(void **unused)
{
    (void)unused;
    static const struct {
        double forecast;
        double smape; /* the one term */
    } cases[] = {
        {0, 0},            /* nothing forecast, nothing came */
        {0.25 * ONE, 0.5}, /* a quarter of an arrival: 2 x 0.25 / 1 */
        {ONE, 2},          /* a whole arrival missed is the maximum */
        {30 * ONE, 2},     /* and so is more */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_eval_score_t s = {0};
        bf_eval_score_add(&s, cases[i].forecast, 0, 0, 0, STEP);
        if (!CLOSE(s.smape_sum, cases[i].smape))
            fail_msg("forecast %g: sMAPE term %g, expected %g", cases[i].forecast,
                     s.smape_sum, cases[i].smape);
        assert_true(CLOSE(s.abs_sum, cases[i].forecast));
    }
    /* above one arrival per step the usual sMAPE: 2 x |3 - 1| / (3 + 1) */
    bf_eval_score_t s = {0};
    bf_eval_score_add(&s, 3, 0, 10, 1, STEP);
    assert_true(CLOSE(s.smape_sum, 1));
}

static void test_coverage_counts_actuals_inside_the_interval(void **unused)
{
    (void)unused;
    bf_eval_score_t s = {0};
    bf_eval_score_add(&s, 10, 8, 12, 12, STEP); /* on the edge: inside */
    bf_eval_score_add(&s, 10, 8, 12, 9, STEP);
    bf_eval_score_add(&s, 10, 8, 12, 12.5, STEP);
    bf_eval_score_add(&s, 10, 8, 12, 7, STEP);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.covered, 2);
}

static void test_mase_scale_uses_observed_pairs_only(void **unused)
{
    (void)unused;
    /* lag 2: pairs (0,2) (1,3) (2,4) (3,5); step 3 is missing, so only
     * (0,2) and (2,4): |3 - 1| and |9 - 3| -> mean 4 */
    double y[] = {1, 5, 3, 0, 9, 8};
    bool seen[] = {true, true, true, false, true, true};
    assert_true(CLOSE(bf_eval_mase_scale(y, seen, 6, 2), 4));
    /* everything observed: (2 + 5 + 6 + 8) / 4 */
    assert_true(CLOSE(bf_eval_mase_scale(y, NULL, 6, 2), 21.0 / 4));
    bool none[] = {true, false, false, true, false, false}; /* no whole pair */
    assert_true(bf_eval_mase_scale(y, none, 6, 2) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_actual_scores_by_the_arrivals_missed),
        cmocka_unit_test(test_coverage_counts_actuals_inside_the_interval),
        cmocka_unit_test(test_mase_scale_uses_observed_pairs_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
