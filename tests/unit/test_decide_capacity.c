/*
 * test_decide_capacity.c - the capacity rule of autoscaler/decide.c: the
 * count from lag, forecast and throughput; caps, the budget, the score,
 * the cooldown, the up window and scale to zero. Time is passed in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "autoscaler/decide.h"

/* 2 reports/s per worker planned at 80 %: 1.6/s per worker. */
static bf_decide_policy_t policy(void)
{
    bf_decide_policy_t p = {.min_workers = 1, .max_workers = 32};
    bf_decide_policy_capacity(&p);
    return p;
}

static bf_decide_input_t input(double now, int64_t lag, double rate, double forecast,
                               int64_t current)
{
    return (bf_decide_input_t){.now = now,
                               .total_lag = lag,
                               .partitions = 32,
                               .current_workers = current,
                               .arrival_rate = rate,
                               .arrival_forecast = forecast,
                               .worker_rate = 2};
}

static bf_decision_t decide(const bf_decide_policy_t *p, bf_decide_state_t *s,
                            bf_decide_input_t in)
{
    bf_decision_t d;
    bf_decide(p, s, &in, &d);
    return d;
}

static void expect_says(const bf_decision_t *d, const char *what)
{
    if (!strstr(d->reasoning, what))
        fail_msg("reasoning \"%s\" does not say \"%s\"", d->reasoning, what);
}

static void test_count_drains_lag_and_absorbs_forecast(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    /* (600 / 60 + 4) / 1.6 = 8.75 -> 9 */
    bf_decision_t d = decide(&p, &s, input(0, 600, 4, 4, 2));
    assert_int_equal(d.desired_workers, 9);
    assert_int_equal(d.action, BF_SCALE_UP);
    assert_int_equal(d.target_workers, 9);
    expect_says(&d, "needs 8.75 workers");
    expect_says(&d, "score");
}

static void test_caps_partitions_max_and_budget(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    bf_decide_state_t s;
    bf_decide_input_t in = input(0, 600, 4, 4, 2);
    in.partitions = 6;
    bf_decide_state_init(&s);
    assert_int_equal(decide(&p, &s, in).target_workers, 6);

    in.partitions = 32;
    p.max_workers = 5;
    bf_decide_state_init(&s);
    assert_int_equal(decide(&p, &s, in).target_workers, 5);

    /* the budget stops growth at what it allows ... */
    p.max_workers = 32;
    in.budget_limited = true;
    in.budget_workers = 4;
    bf_decide_state_init(&s);
    bf_decision_t d = decide(&p, &s, in);
    assert_int_equal(d.target_workers, 4);
    expect_says(&d, "by the budget");
    /* ... does not force a running fleet below it ... */
    in.budget_workers = 1;
    bf_decide_state_init(&s);
    d = decide(&p, &s, in);
    assert_int_equal(d.desired_workers, 2);
    assert_int_equal(d.action, BF_SCALE_HOLD);
    /* ... and --min still wins over it */
    p.min_workers = 3;
    bf_decide_state_init(&s);
    assert_int_equal(decide(&p, &s, in).target_workers, 3);
}

static void test_forecast_alone_does_not_wake_an_idle_fleet(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    /* no lag, 1/s arriving on capacity 3.2/s, forecast 3.5/s: the count
     * says 3, but the queue is far below capacity: the score holds */
    bf_decision_t d = decide(&p, &s, input(0, 0, 1, 3.5, 2));
    assert_int_equal(d.desired_workers, 3);
    assert_true(d.score < 0);
    assert_int_equal(d.action, BF_SCALE_HOLD);
    expect_says(&d, "below the up threshold");
    /* with arrivals at capacity and the same forecast it scales up */
    d = decide(&p, &s, input(5, 0, 3.3, 3.5, 2));
    assert_true(d.score >= 0);
    assert_int_equal(d.action, BF_SCALE_UP);
    assert_int_equal(d.target_workers, 3);
}

static void test_scale_down_at_once_after_the_window(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    p.scale_down_delay_s = 60;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    bf_decision_t d = decide(&p, &s, input(0, 0, 1, 1, 10));
    assert_int_equal(d.action, BF_SCALE_HOLD);
    d = decide(&p, &s, input(30, 0, 1, 3, 10)); /* wants 2 */
    assert_int_equal(d.action, BF_SCALE_HOLD);
    d = decide(&p, &s, input(61, 0, 1, 1, 10));
    assert_true(d.score <= p.down_threshold);
    assert_int_equal(d.action, BF_SCALE_DOWN);
    assert_int_equal(d.target_workers, 2); /* the window's highest, at once */
}

static void test_cooldown_holds_between_actions(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    p.cooldown_s = 30;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    bf_decision_t d = decide(&p, &s, input(0, 300, 2, 2, 1));
    assert_int_equal(d.action, BF_SCALE_UP);
    int64_t now = d.target_workers;
    d = decide(&p, &s, input(10, 3000, 2, 2, now));
    assert_int_equal(d.action, BF_SCALE_HOLD);
    expect_says(&d, "cooldown");
    d = decide(&p, &s, input(31, 3000, 2, 2, now));
    assert_int_equal(d.action, BF_SCALE_UP);
    /* raising the fleet to --min ignores the cooldown */
    p.min_workers = 3;
    d = decide(&p, &s, input(32, 0, 0, 0, 1));
    assert_int_equal(d.action, BF_SCALE_UP);
    assert_int_equal(d.target_workers, 3);
}

static void test_up_window_takes_the_lowest_recommendation(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    p.up_window_s = 60;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    bf_decision_t d = decide(&p, &s, input(0, 0, 3, 3, 2)); /* wants 2 */
    assert_int_equal(d.action, BF_SCALE_HOLD);
    d = decide(&p, &s, input(10, 600, 4, 4, 2)); /* wants 9, the window says 2 */
    assert_int_equal(d.desired_workers, 9);
    assert_int_equal(d.action, BF_SCALE_HOLD);
    expect_says(&d, "up window");
    d = decide(&p, &s, input(40, 300, 4, 4, 2)); /* wants 6 */
    assert_int_equal(d.action, BF_SCALE_HOLD);
    d = decide(&p, &s, input(71, 600, 4, 4, 2)); /* window: 9, 6, 9 */
    assert_int_equal(d.action, BF_SCALE_UP);
    assert_int_equal(d.target_workers, 6);
}

static void test_scale_to_zero_and_activation(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    p.min_workers = 0;
    p.activation_lag = 10;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    bf_decision_t d = decide(&p, &s, input(0, 0, 0.1, 0.1, 1));
    assert_int_equal(d.desired_workers, 0);
    assert_int_equal(d.action, BF_SCALE_DOWN); /* window 0 */
    assert_int_equal(d.target_workers, 0);
    d = decide(&p, &s, input(5, 10, 0.1, 0.1, 0)); /* at the threshold: asleep */
    assert_int_equal(d.action, BF_SCALE_HOLD);
    assert_int_equal(d.target_workers, 0);
    d = decide(&p, &s, input(10, 11, 0.1, 0.1, 0));
    assert_int_equal(d.action, BF_SCALE_UP);
    assert_int_equal(d.target_workers, 1);
    /* a forecast that needs half a worker wakes it too */
    bf_decide_state_init(&s);
    d = decide(&p, &s, input(0, 0, 0, 0.8, 0));
    assert_int_equal(d.target_workers, 1);
}

static void test_weights_are_configurable(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    p.weights = (bf_decide_weights_t){.cost = 1};
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    bf_decide_input_t in = input(0, 600, 4, 4, 2);
    in.budget_use = 0.9;
    bf_decision_t d = decide(&p, &s, in);
    assert_true(d.score > -0.91 && d.score < -0.89);
    assert_int_equal(d.action, BF_SCALE_HOLD); /* the budget leans on growth */
    in.budget_use = 0;
    bf_decide_state_init(&s);
    assert_int_equal(decide(&p, &s, in).action, BF_SCALE_UP);
}

/* Workers that wait for the AI provider's rate limit (their heartbeats
 * say so): the fleet shares that limit, so more workers would only wait
 * too. The rule still says what the backlog would need; the decision holds
 * and says why. Scaling down is not held back. */
static void test_an_ai_limit_bottleneck_holds_growth(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = policy();
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    bf_decide_input_t in = input(0, 6000, 4, 4, 1);
    in.ai_limit_bound = true;
    in.ai_limit_rpm = 600;
    bf_decision_t d = decide(&p, &s, in);
    assert_true(d.desired_workers > 1);
    assert_int_equal(d.action, BF_SCALE_HOLD);
    assert_int_equal(d.target_workers, 1);
    expect_says(&d, "AI provider's rate limit (600 requests/min for the fleet) is the "
                    "bottleneck, not the number of workers: holding at 1");
    /* Once the calls stop waiting for it, the backlog scales the fleet. */
    in.now = 10;
    in.ai_limit_bound = false;
    d = decide(&p, &s, in);
    assert_int_equal(d.action, BF_SCALE_UP);
    /* A fleet above what the backlog needs still scales down. */
    bf_decide_policy_t q = policy();
    q.scale_down_delay_s = 0;
    bf_decide_state_init(&s);
    bf_decide_input_t idle = input(100, 0, 0, 0, 6);
    idle.ai_limit_bound = true;
    d = decide(&q, &s, idle);
    assert_int_equal(d.action, BF_SCALE_DOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_drains_lag_and_absorbs_forecast),
        cmocka_unit_test(test_caps_partitions_max_and_budget),
        cmocka_unit_test(test_forecast_alone_does_not_wake_an_idle_fleet),
        cmocka_unit_test(test_scale_down_at_once_after_the_window),
        cmocka_unit_test(test_cooldown_holds_between_actions),
        cmocka_unit_test(test_up_window_takes_the_lowest_recommendation),
        cmocka_unit_test(test_scale_to_zero_and_activation),
        cmocka_unit_test(test_weights_are_configurable),
        cmocka_unit_test(test_an_ai_limit_bottleneck_holds_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
