/*
 * test_budget.c - spend per calendar period, the cap it gives the decision,
 * the projection and the 80 % alert (autoscaler/budget.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "autoscaler/budget.h"

/* 2026-01-31 10:00:00 UTC */
#define T0 1769853600.0

static void test_spend_accrues_and_resets_each_period(void **unused)
{
    (void)unused;
    bf_budget_t b;
    bf_budget_conf_t c = {.worker_price = 1.0};
    bf_budget_init(&b, &c);
    bf_budget_account(&b, T0, 4, 0);
    bf_budget_account(&b, T0 + 1800, 4, 0.5); /* 4 workers half an hour + AI */
    assert_true(fabs(b.spent[BF_BUDGET_HOUR] - 2.5) < 1e-9);
    assert_true(fabs(b.spent[BF_BUDGET_DAY] - 2.5) < 1e-9);
    /* 11:00: a new hour; the interval that ends it is booked to it */
    bf_budget_account(&b, T0 + 3600, 4, 0);
    assert_true(fabs(b.spent[BF_BUDGET_HOUR] - 2) < 1e-9);
    assert_true(fabs(b.spent[BF_BUDGET_DAY] - 4.5) < 1e-9);
    assert_true(fabs(b.spent[BF_BUDGET_MONTH] - 4.5) < 1e-9);
    bf_budget_account(&b, T0 + 14 * 3600 - 1, 0, 0);
    bf_budget_account(&b, T0 + 14 * 3600, 0, 0); /* 2026-02-01 00:00: new month */
    assert_true(b.spent[BF_BUDGET_MONTH] == 0 && b.spent[BF_BUDGET_DAY] == 0);
}

static void test_tightest_budget_caps_and_projects(void **unused)
{
    (void)unused;
    bf_budget_t b;
    /* 10 USD a day, 1 USD per worker-hour; at 10:00 14 hours are left */
    bf_budget_conf_t c = {.worker_price = 1.0, .limit = {[BF_BUDGET_DAY] = 10}};
    bf_budget_init(&b, &c);
    bf_budget_account(&b, T0, 0, 0);
    bf_budget_status_t s;
    bf_budget_status(&b, T0, 2, &s);
    assert_true(s.limited);
    assert_int_equal(s.allowed_workers, 0); /* 10 / 14 h < 1 worker */
    assert_true(fabs(s.period[BF_BUDGET_DAY].projected - 28) < 1e-9);
    assert_true(s.period[BF_BUDGET_DAY].alert); /* projected past 80 % */
    assert_true(s.period[BF_BUDGET_DAY].over_alert);
    bf_budget_status(&b, T0, 2, &s);
    assert_false(s.period[BF_BUDGET_DAY].alert); /* once a period */
    assert_non_null(strstr(s.recommendation, "day's budget"));

    c.limit[BF_BUDGET_DAY] = 1000;
    c.limit[BF_BUDGET_HOUR] = 3;
    bf_budget_init(&b, &c);
    bf_budget_account(&b, T0 + 1800, 0, 0); /* 10:30, half an hour left */
    bf_budget_status(&b, T0 + 1800, 2, &s);
    assert_int_equal(s.allowed_workers, 6); /* the hour is tighter: 3 / 0.5 h */
    assert_true(s.use == 0);
}

static void test_no_budget_no_limit(void **unused)
{
    (void)unused;
    bf_budget_t b;
    bf_budget_conf_t c = {.worker_price = 0.5};
    bf_budget_init(&b, &c);
    bf_budget_account(&b, T0, 100, 0);
    bf_budget_status_t s;
    bf_budget_status(&b, T0 + 60, 100, &s);
    assert_false(s.limited);
    assert_true(s.use == 0);
    assert_true(s.recommendation[0] == '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spend_accrues_and_resets_each_period),
        cmocka_unit_test(test_tightest_budget_caps_and_projects),
        cmocka_unit_test(test_no_budget_no_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
