/*
 * test_decide.c - the scaling rule (autoscaler/decide.c). Time is passed
 * in, so the stabilisation window is walked through without sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "autoscaler/decide.h"

/* The defaults of the command line: --min 1 --max 4 --lag-per-worker 100
 * --scale-down-delay 30. */
static const bf_decide_policy_t defaults = {
    .min_workers = 1, .max_workers = 4, .lag_per_worker = 100, .scale_down_delay_s = 30};

static bf_decision_t decide_at(const bf_decide_policy_t *p, bf_decide_state_t *s,
                               double now, int64_t lag, int32_t partitions,
                               int64_t current)
{
    bf_decide_input_t in = {.now = now,
                            .total_lag = lag,
                            .partitions = partitions,
                            .current_workers = current};
    bf_decision_t d;
    bf_decide(p, s, &in, &d);
    return d;
}

/* A fresh autoscaler's first decision must scale up from @p current to
 * @p target and say @p why in its reasoning. */
static void expect_first_scale_up(const bf_decide_policy_t *p, int64_t lag,
                                  int32_t partitions, int64_t current, int64_t target,
                                  const char *why)
{
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    bf_decision_t d = decide_at(p, &s, 0, lag, partitions, current);
    assert_int_equal(d.action, BF_SCALE_UP);
    assert_int_equal(d.current_workers, current);
    assert_int_equal(d.target_workers, target);
    assert_int_equal(d.total_lag, lag);
    assert_int_equal(d.partitions, partitions);
    if (!strstr(d.reasoning, why))
        fail_msg("reasoning \"%s\" does not say \"%s\"", d.reasoning, why);
}

static void test_lag_above_capacity_scales_up_at_once(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = defaults;
    p.max_workers = 8;
    /* ceil(350/100) = 4, in one step */
    expect_first_scale_up(&p, 350, 8, 1, 4, "ceil(350/100)=4");
    expect_first_scale_up(&p, 350, 8, 1, 4, "scaling up from 1 to 4 at once");
}

static void test_desired_is_capped_at_partition_count(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = defaults;
    p.max_workers = 8;
    expect_first_scale_up(&p, 1000, 3, 1, 3, "capped at 3 partitions");
}

static void test_desired_is_capped_at_max(void **unused)
{
    (void)unused;
    expect_first_scale_up(&defaults, 10000, 16, 2, 4, "capped at --max 4");
}

static void test_desired_is_floored_at_min(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = defaults;
    p.min_workers = 2;
    expect_first_scale_up(&p, 50, 8, 1, 2, "raised to --min 2");
}

static void test_min_wins_over_the_partition_cap(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = defaults;
    p.min_workers = 3;
    assert_int_equal(bf_decide_desired(&p, 5000, 2), 3);
}

/* ceil(lag / lag_per_worker) at the edges, as a table. */
static void test_desired_count_table(void **unused)
{
    (void)unused;
    static const struct {
        int64_t lag;
        int32_t partitions;
        int64_t want;
    } rows[] = {
        {0, 8, 1},   {1, 8, 1},   {100, 8, 1},       {101, 8, 2},
        {200, 8, 2}, {201, 8, 3}, {399, 8, 4},       {401, 8, 4},
        {401, 2, 2}, {-5, 8, 1},  {INT64_MAX, 8, 4},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t got = bf_decide_desired(&defaults, rows[i].lag, rows[i].partitions);
        if (got != rows[i].want)
            fail_msg("lag %lld over %d partitions: desired %lld, want %lld",
                     (long long)rows[i].lag, (int)rows[i].partitions, (long long)got,
                     (long long)rows[i].want);
    }
}

static void test_equal_desired_holds(void **unused)
{
    (void)unused;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    bf_decision_t d = decide_at(&defaults, &s, 0, 200, 8, 2);
    assert_int_equal(d.action, BF_SCALE_HOLD);
    assert_int_equal(d.current_workers, 2);
    assert_int_equal(d.target_workers, 2);
    assert_non_null(strstr(d.reasoning, "holding"));
}

static void test_scale_down_waits_for_the_window(void **unused)
{
    (void)unused;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    /* 4 workers wanted at t=0, then the lag is gone. */
    assert_int_equal(decide_at(&defaults, &s, 0, 400, 8, 4).action, BF_SCALE_HOLD);
    for (double t = 5; t <= 30; t += 5) {
        bf_decision_t d = decide_at(&defaults, &s, t, 0, 8, 4);
        if (d.action != BF_SCALE_HOLD)
            fail_msg("scaled down at t=%g, inside the 30 s window", t);
        assert_int_equal(d.target_workers, 4);
        assert_non_null(strstr(d.reasoning, "of the 30s window"));
    }
    bf_decision_t d = decide_at(&defaults, &s, 35, 0, 8, 4);
    assert_int_equal(d.action, BF_SCALE_DOWN);
    assert_int_equal(d.target_workers, 3);
}

static void test_a_spike_in_the_window_restarts_the_wait(void **unused)
{
    (void)unused;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    for (double t = 0; t < 20; t += 5)
        assert_int_equal(decide_at(&defaults, &s, t, 0, 8, 4).action, BF_SCALE_HOLD);
    /* At t=20 the lag asks for all 4 again, then drops. */
    assert_int_equal(decide_at(&defaults, &s, 20, 390, 8, 4).action, BF_SCALE_HOLD);
    for (double t = 25; t <= 50; t += 5)
        assert_int_equal(decide_at(&defaults, &s, t, 0, 8, 4).action, BF_SCALE_HOLD);
    assert_int_equal(decide_at(&defaults, &s, 55, 0, 8, 4).action, BF_SCALE_DOWN);
}

static void test_window_counts_from_the_first_observation(void **unused)
{
    (void)unused;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    /* A restarted autoscaler knows nothing older than its first reading. */
    assert_int_equal(decide_at(&defaults, &s, 1000, 0, 8, 4).action, BF_SCALE_HOLD);
    assert_int_equal(decide_at(&defaults, &s, 1029, 0, 8, 4).action, BF_SCALE_HOLD);
    assert_int_equal(decide_at(&defaults, &s, 1030, 0, 8, 4).action, BF_SCALE_DOWN);
}

static void test_scale_down_moves_one_step_per_decision(void **unused)
{
    (void)unused;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    int64_t current = 4;
    assert_int_equal(decide_at(&defaults, &s, 0, 0, 8, current).action, BF_SCALE_HOLD);
    int64_t want = 3;
    for (double t = 30; want >= 1; t += 5, want--) {
        /* desired is 1 all along, yet each decision removes one worker */
        bf_decision_t d = decide_at(&defaults, &s, t, 0, 8, current);
        assert_int_equal(d.action, BF_SCALE_DOWN);
        assert_int_equal(d.desired_workers, 1);
        assert_int_equal(d.target_workers, want);
        current = d.target_workers;
    }
}

static void test_zero_lag_scales_to_min(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = defaults;
    p.max_workers = 8;
    p.min_workers = 2;
    bf_decide_state_t s;
    bf_decide_state_init(&s);
    int64_t current = 8;
    for (double t = 0; t <= 300; t += 5) {
        bf_decision_t d = decide_at(&p, &s, t, 0, 8, current);
        assert_true(d.target_workers >= 2);
        current = d.target_workers;
    }
    assert_int_equal(current, 2);
    bf_decision_t d = decide_at(&p, &s, 305, 0, 8, current);
    assert_int_equal(d.action, BF_SCALE_HOLD);
    assert_int_equal(d.target_workers, 2);
}

/* The window's memory is a monotonic queue: it must stay within its fixed
 * array whatever the sequence (here many samples a second, all values). */
static void test_window_memory_stays_bounded(void **unused)
{
    (void)unused;
    bf_decide_policy_t p = {.min_workers = 0,
                            .max_workers = BF_DECIDE_MAX_WORKERS,
                            .lag_per_worker = 1,
                            .scale_down_delay_s = 3600,
                            .up_window_s = 3600};
    bf_decide_state_t *s = malloc(sizeof(*s));
    assert_non_null(s);
    bf_decide_state_init(s);
    for (int i = 0; i < 20000; i++) {
        /* decreasing runs, the worst case for the queue's length */
        int64_t lag = BF_DECIDE_MAX_WORKERS - (i % (BF_DECIDE_MAX_WORKERS + 1));
        bf_decision_t d = decide_at(&p, s, i * 0.01, lag, 4096, 5);
        assert_true(s->high.count <= BF_DECIDE_MAX_WORKERS + 1);
        assert_true(s->low.count <= BF_DECIDE_MAX_WORKERS + 1);
        assert_true(d.target_workers >= 5);
    }
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lag_above_capacity_scales_up_at_once),
        cmocka_unit_test(test_desired_is_capped_at_partition_count),
        cmocka_unit_test(test_desired_is_capped_at_max),
        cmocka_unit_test(test_desired_is_floored_at_min),
        cmocka_unit_test(test_min_wins_over_the_partition_cap),
        cmocka_unit_test(test_desired_count_table),
        cmocka_unit_test(test_equal_desired_holds),
        cmocka_unit_test(test_scale_down_waits_for_the_window),
        cmocka_unit_test(test_a_spike_in_the_window_restarts_the_wait),
        cmocka_unit_test(test_window_counts_from_the_first_observation),
        cmocka_unit_test(test_scale_down_moves_one_step_per_decision),
        cmocka_unit_test(test_zero_lag_scales_to_min),
        cmocka_unit_test(test_window_memory_stays_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
