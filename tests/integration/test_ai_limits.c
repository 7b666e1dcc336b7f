/*
 * test_ai_limits.c - the AI layer against the simulator enforcing a rate
 * limit, with the fleet-wide limit in a real redis-server, and the budget
 * of a call, one story per test:
 *
 *   - workers sharing a limit send no more than it together: no 429s
 *     where each taking the whole limit for itself meets many;
 *   - a limit configured three times too high is learned from the 429s
 *     alone (the simulator sends no rate-limit headers): they stop;
 *   - a limit the provider's headers say caps the shared one at once;
 *   - a call makes at most --ai-retries + 1 attempts at a provider, also
 *     when it waits for an open breaker and goes round again, and the
 *     waits are counted apart;
 *   - a provider that refuses connections is left with the cause in the
 *     reason ("Connection refused"), also once its breaker is open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/ai_fixture.h"

/* A story's stack: the simulator with @p args and a redis-server. */
typedef struct limits_stack_s {
    bf_aitest_sim_t sim;
    bf_proc_t redis;
    char redis_url[128];
} limits_stack_t;

static void stack_start(limits_stack_t *st, const char *const args[])
{
    bf_aitest_sim_start(&st->sim, args);
    bf_aitest_redis_start(&st->redis, st->sim.tmpdir, st->redis_url,
                          sizeof(st->redis_url));
}

static void stack_stop(limits_stack_t *st)
{
    bf_proc_stop(&st->redis, SIGTERM, 5);
    bf_aitest_sim_stop(&st->sim);
}

static long long refused(const limits_stack_t *st, const char *provider)
{
    return bf_aitest_sim_status(&st->sim, provider, "429");
}

static void test_workers_sharing_the_limit_meet_no_429s(void **unused)
{
    (void)unused;
    const bf_ai_provider_t chain[] = {BF_AI_OPENAI};
    /* Each of four workers taking 6,000/min for itself: four times the
     * limit, refused many times over. */
    limits_stack_t st;
    const char *args[] = {"--rpm", "6000", "--latency-ms", "5", NULL};
    stack_start(&st, args);
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &st.sim, chain, 1,
                       &(bf_aitest_opts_t){.rpm = 6000, .retries = 3, .layers = 4});
    bf_aitest_run_analyses(&r, 400);
    assert_int_equal(r.ok, 400);
    long long alone = refused(&st, "openai");
    bf_aitest_run_close(&r);
    stack_stop(&st);
    /* The same four sharing it through Redis. */
    stack_start(&st, args);
    bf_aitest_run_open(
        &r, &st.sim, chain, 1,
        &(bf_aitest_opts_t){
            .fleet_rpm = 6000, .retries = 3, .layers = 4, .limits_url = st.redis_url});
    double started = bf_test_now();
    bf_aitest_run_analyses(&r, 400);
    double took = bf_test_now() - started;
    assert_int_equal(r.ok, 400);
    long long shared = refused(&st, "openai");
    bf_ai_limit_status_t ls;
    bf_ai_limit_status(r.ai, &ls);
    assert_int_equal(ls.workers, 4);
    assert_true(ls.rpm > 5939 && ls.rpm < 5941); /* 99% of what the headers say */
    bf_aitest_run_close(&r);
    stack_stop(&st);
    if (!(alone > 20 && shared <= 2))
        fail_msg("429s: %lld each alone, %lld shared", alone, shared);
    /* 400 calls at 100 a second, the first without waiting. */
    if (took < 3.5)
        fail_msg("400 calls in %.2f s: faster than the limit", took);
}

static void test_a_limit_three_times_too_high_is_learned_from_429s(void **unused)
{
    (void)unused;
    limits_stack_t st;
    const char *args[] = {"--rpm", "3000", "--rate-limit-headers", "off", "--latency-ms",
                          "5",     NULL};
    stack_start(&st, args);
    const bf_ai_provider_t chain[] = {BF_AI_ANTHROPIC};
    bf_aitest_run_t r;
    bf_aitest_run_open(
        &r, &st.sim, chain, 1,
        &(bf_aitest_opts_t){
            .fleet_rpm = 9000, .retries = 3, .layers = 2, .limits_url = st.redis_url});
    long long before = 0, in_batch[3];
    for (int b = 0; b < 3; b++) {
        bf_aitest_run_analyses(&r, 300);
        long long now = refused(&st, "anthropic");
        in_batch[b] = now - before;
        before = now;
    }
    assert_int_equal(r.ok, 900);
    bf_ai_limit_status_t ls;
    bf_ai_limit_status(r.ai, &ls);
    bf_aitest_run_close(&r);
    stack_stop(&st);
    /* The first batch meets the limit and cuts the rate. After it the
     * fleet stays near the limit; how many 429s that still costs depends
     * on wall-clock time (a cut to what the provider accepted errs high
     * when answers of calls sent before it come late, and two sanitizer
     * tests on two cores make them late: 0 to 22 of 600 seen), so the
     * exact convergence is test_ai_fleet's story on the test's clock.
     * Here: the worker's 429s reach the shared limit and it learns from
     * them. Without learning, two of every three calls at 9,000/min
     * against 3,000 would be refused; a tenth is the bound. */
    print_message("429s per batch: %lld, %lld, %lld; learned %.0f/min\n", in_batch[0],
                  in_batch[1], in_batch[2], ls.rpm);
    if (!(in_batch[0] >= 20 && 10 * (in_batch[1] + in_batch[2]) <= 600))
        fail_msg("429s per batch: %lld, %lld, %lld", in_batch[0], in_batch[1],
                 in_batch[2]);
    /* The learned rate is under the 9,000 configured, near the 3,000 the
     * provider takes, and not collapsed towards the script's floor (90).
     * How near from below is wall-clock again: a cut goes to 0.9 x what
     * the provider accepted since sending started, and a worker slowed by
     * the tests beside it sends less than the limit (1,885/min after a
     * 2,094/min window in a stage-1 run on two cores, 2026-12-03). */
    if (!(ls.rpm < 3600 && ls.rpm > 1000))
        fail_msg("learned %.0f requests/min for a limit of 3000", ls.rpm);
}

static void test_the_providers_headers_cap_the_shared_limit(void **unused)
{
    (void)unused;
    limits_stack_t st;
    const char *args[] = {"--rpm", "3000", "--latency-ms", "5", NULL};
    stack_start(&st, args);
    const bf_ai_provider_t chain[] = {BF_AI_OPENAI};
    bf_aitest_run_t r;
    bf_aitest_run_open(
        &r, &st.sim, chain, 1,
        &(bf_aitest_opts_t){.fleet_rpm = 9000, .retries = 3, .limits_url = st.redis_url});
    bf_aitest_run_analyses(&r, 200);
    long long first = refused(&st, "openai");
    bf_aitest_run_analyses(&r, 300);
    long long second = refused(&st, "openai") - first;
    assert_int_equal(r.ok, 500);
    bf_ai_limit_status_t ls;
    bf_ai_limit_status(r.ai, &ls);
    bf_aitest_run_close(&r);
    stack_stop(&st);
    /* x-ratelimit-limit-requests: 3000 on the first answer: 99% of it. */
    if (!(ls.rpm > 2969 && ls.rpm < 2971))
        fail_msg("limit in force %.1f, want 2970", ls.rpm);
    if (second > 1)
        fail_msg("%lld 429s after the headers were read (%lld before)", second, first);
}

static void test_attempts_are_capped_across_breaker_waits(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--error-rate", "1", "--error-status", "500", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_OPENAI};
    /* Two failures open the breaker for 0.1 s; a call with attempts left
     * waits for it and probes again, but never beyond retries + 1 = 3. */
    const bf_breaker_config_t breaker = {.consecutive_failures = 2, .cooldown_s = 0.1};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 1,
                       &(bf_aitest_opts_t){.retries = 2, .breaker = &breaker});
    r.deadline_s = 20;
    bf_aitest_run_analyses(&r, 6);
    assert_int_equal(r.ok, 0);
    if (r.max_attempts > 3)
        fail_msg("a call made %d attempts with --ai-retries 2", r.max_attempts);
    assert_true(r.breaker_waits > 0);
    assert_true(bf_aitest_sim_count(&s, "openai", "requests") <= 6 * 3);
    assert_non_null(strstr(r.last_error, "HTTP 500"));
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

static void test_an_unreachable_provider_is_left_with_the_cause(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    bf_aitest_sim_start(&s, NULL);
    /* Anthropic's URL points at a port nobody listens on. */
    char closed[64];
    snprintf(closed, sizeof(closed), "http://127.0.0.1:%d", bf_test_free_port());
    const bf_ai_provider_t chain[] = {BF_AI_ANTHROPIC, BF_AI_OPENAI};
    const bf_breaker_config_t breaker = {.consecutive_failures = 3, .cooldown_s = 600};
    bf_aitest_run_t r;
    bf_aitest_run_open(
        &r, &s, chain, 2,
        &(bf_aitest_opts_t){.retries = 1, .breaker = &breaker, .bases = {closed, NULL}});
    bf_aitest_run_analyses(&r, 1); /* refused twice, then answered by OpenAI */
    assert_int_equal(r.ok, 1);
    if (!strstr(r.last_fallback, "anthropic: Connection refused"))
        fail_msg("fallback: %s", r.last_fallback);
    assert_int_equal(bf_ai_breaker_state(r.ai, 0), BF_BREAKER_CLOSED);
    bf_aitest_run_analyses(&r, 3); /* the third refusal opens the breaker */
    assert_int_equal(bf_ai_breaker_state(r.ai, 0), BF_BREAKER_OPEN);
    bf_aitest_run_analyses(&r, 3); /* passed over: the open breaker says why */
    assert_int_equal(r.ok, 7);
    assert_string_equal(r.last_provider, "openai");
    if (!strstr(r.last_fallback, "anthropic: circuit open after") ||
        !strstr(r.last_fallback, "first: Connection refused"))
        fail_msg("fallback: %s", r.last_fallback);
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_sharing_the_limit_meet_no_429s),
        cmocka_unit_test(test_a_limit_three_times_too_high_is_learned_from_429s),
        cmocka_unit_test(test_the_providers_headers_cap_the_shared_limit),
        cmocka_unit_test(test_attempts_are_capped_across_breaker_waits),
        cmocka_unit_test(test_an_unreachable_provider_is_left_with_the_cause),
    };
    if (getenv("BF_TEST_FILTER"))
        cmocka_set_test_filter(getenv("BF_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
