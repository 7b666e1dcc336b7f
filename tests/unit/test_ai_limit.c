/*
 * test_ai_limit.c - the AI layer's guards as pure state machines with a
 * fake clock (worker/ai_limit.c): the token bucket that spreads calls
 * under a provider's requests/min and tokens/min, and the circuit breaker
 * CLOSED -> OPEN -> HALF_OPEN -> CLOSED; and the providers' rate-limit
 * headers read into one struct (worker/ai_ratelimit.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "worker/ai.h"
#include "worker/ai_int.h"
#include "worker/ai_limit.h"
#include "worker/ai_ratelimit.h"

/* ---- token bucket -------------------------------------------------------- */

static void test_unlimited_bucket_never_waits(void **unused)
{
    (void)unused;
    bf_bucket_t b;
    bf_bucket_init(&b, 0, 100.0);
    for (int i = 0; i < 1000; i++) {
        assert_true(bf_bucket_wait(&b, 1e6, 100.0) == 0);
        bf_bucket_take(&b, 1e6, 100.0);
    }
}

/* 600/min = 10/s: a one-second burst, then one call every 100 ms. */
static void test_bucket_spreads_calls_at_the_configured_rate(void **unused)
{
    (void)unused;
    bf_bucket_t b;
    bf_bucket_init(&b, 600, 0.0);
    double now = 0;
    for (int i = 0; i < 10; i++) {
        assert_true(bf_bucket_wait(&b, 1, now) == 0);
        bf_bucket_take(&b, 1, now);
    }
    double w = bf_bucket_wait(&b, 1, now);
    assert_true(w > 0.099 && w < 0.101);
    /* Over a simulated minute at most burst + rate * 60 calls go out. */
    int sent = 10;
    while (now < 60.0) {
        double wait = bf_bucket_wait(&b, 1, now);
        if (wait > 0) {
            now += wait;
            continue;
        }
        bf_bucket_take(&b, 1, now);
        sent++;
    }
    assert_in_range(sent, 600, 611);
}

/* Usage larger than the estimate puts the bucket in debt, which later
 * calls wait out; a smaller one gives tokens back. */
static void test_bucket_settles_estimates_with_usage(void **unused)
{
    (void)unused;
    bf_bucket_t b;
    bf_bucket_init(&b, 60000, 0.0); /* 1000 tokens/s, capacity 1000 */
    bf_bucket_take(&b, 1000, 0.0);
    bf_bucket_adjust(&b, -500); /* billed 500 more than estimated */
    double w = bf_bucket_wait(&b, 100, 0.0);
    assert_true(w > 0.599 && w < 0.601);
    bf_bucket_adjust(&b, 600); /* ... or 600 fewer */
    assert_true(bf_bucket_wait(&b, 100, 0.0) == 0);
}

/* A take larger than the capacity waits for a full bucket, never forever. */
static void test_bucket_oversized_take_waits_for_full(void **unused)
{
    (void)unused;
    bf_bucket_t b;
    bf_bucket_init(&b, 600, 0.0); /* capacity 10 */
    bf_bucket_take(&b, 10, 0.0);
    double w = bf_bucket_wait(&b, 50, 0.0);
    assert_true(w > 0.999 && w < 1.001);
}

/* A 429 halves the rate and blocks until retry-after; successes recover
 * the configured rate step by step. */
static void test_bucket_slows_down_on_429_and_recovers(void **unused)
{
    (void)unused;
    bf_bucket_t b;
    bf_bucket_init(&b, 600, 0.0);
    bf_bucket_throttled(&b, 2.0, 0.0);
    assert_true(b.rate > 4.99 && b.rate < 5.01);
    assert_true(bf_bucket_wait(&b, 1, 0.0) >= 2.0);
    assert_true(bf_bucket_wait(&b, 1, 2.5) == 0);
    for (int i = 0; i < 10; i++)
        bf_bucket_throttled(&b, 0, 3.0);
    assert_true(b.rate > 0.99 && b.rate < 1.01); /* floor: a tenth */
    for (int i = 0; i < 100; i++)
        bf_bucket_recovered(&b);
    assert_true(b.rate > 9.99 && b.rate < 10.01);
}

/* ---- circuit breaker -------------------------------------------------------- */

static const bf_breaker_config_t breaker_cfg = {
    .consecutive_failures = 3,
    .failure_rate = 0.5,
    .min_calls = 10,
    .cooldown_s = 5,
    .probes = 2,
};

static void test_breaker_opens_after_consecutive_failures(void **unused)
{
    (void)unused;
    bf_breaker_t b;
    bf_breaker_init(&b, &breaker_cfg);
    for (int i = 0; i < 2; i++) {
        assert_true(bf_breaker_allow(&b, 0));
        bf_breaker_record(&b, false, 0);
    }
    assert_int_equal(b.state, BF_BREAKER_CLOSED);
    bf_breaker_record(&b, false, 1.0);
    assert_int_equal(b.state, BF_BREAKER_OPEN);
    assert_false(bf_breaker_allow(&b, 2.0));
    assert_true(bf_breaker_wait(&b, 2.0) > 3.99);
}

static void test_breaker_opens_on_failure_rate(void **unused)
{
    (void)unused;
    bf_breaker_t b;
    bf_breaker_init(&b, &breaker_cfg);
    /* Alternating failures never make three in a row, but half of ten
     * calls failed. */
    for (int i = 0; i < 9; i++)
        bf_breaker_record(&b, i % 2 == 1, 0);
    assert_int_equal(b.state, BF_BREAKER_CLOSED);
    bf_breaker_record(&b, false, 0);
    assert_int_equal(b.state, BF_BREAKER_OPEN);
}

static void test_breaker_half_open_lets_probes_through_then_closes(void **unused)
{
    (void)unused;
    bf_breaker_t b;
    bf_breaker_init(&b, &breaker_cfg);
    for (int i = 0; i < 3; i++)
        bf_breaker_record(&b, false, 10.0);
    assert_int_equal(b.state, BF_BREAKER_OPEN);
    assert_false(bf_breaker_allow(&b, 14.9));
    assert_true(bf_breaker_allow(&b, 15.0)); /* cool-down over */
    assert_int_equal(b.state, BF_BREAKER_HALF_OPEN);
    assert_true(bf_breaker_allow(&b, 15.0));
    assert_false(bf_breaker_allow(&b, 15.0)); /* two probes out */
    bf_breaker_record(&b, true, 15.1);
    assert_int_equal(b.state, BF_BREAKER_HALF_OPEN);
    bf_breaker_record(&b, true, 15.2);
    assert_int_equal(b.state, BF_BREAKER_CLOSED);
    assert_true(bf_breaker_allow(&b, 15.3));
}

static void test_breaker_failed_probe_opens_again(void **unused)
{
    (void)unused;
    bf_breaker_t b;
    bf_breaker_init(&b, &breaker_cfg);
    for (int i = 0; i < 3; i++)
        bf_breaker_record(&b, false, 0);
    assert_true(bf_breaker_allow(&b, 5.0));
    bf_breaker_record(&b, false, 5.5);
    assert_int_equal(b.state, BF_BREAKER_OPEN);
    assert_false(bf_breaker_allow(&b, 10.0)); /* a new cool-down from 5.5 */
    assert_true(bf_breaker_allow(&b, 10.5));
}

/* A success resets the consecutive count. */
static void test_breaker_success_resets_the_run(void **unused)
{
    (void)unused;
    bf_breaker_t b;
    bf_breaker_init(&b, &breaker_cfg);
    for (int i = 0; i < 6; i++)
        bf_breaker_record(&b, i % 3 == 2, 0); /* F F S F F S */
    assert_int_equal(b.state, BF_BREAKER_CLOSED);
}

/* ---- OpenAI reset durations ------------------------------------------------ */

static void test_parse_reset_durations(void **unused)
{
    (void)unused;
    static const struct {
        const char *text;
        double seconds;
    } cases[] = {
        {"6s", 6},    {"1m30s", 90}, {"250ms", 0.25}, {"0.5s", 0.5}, {"2", 2},
        {"1h", 3600}, {"6m0s", 360}, {"", -1},        {"abc", -1},   {"5x", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = bf_ai_parse_duration(cases[i].text);
        if (got < cases[i].seconds - 1e-9 || got > cases[i].seconds + 1e-9)
            fail_msg("'%s': got %g, want %g", cases[i].text, got, cases[i].seconds);
    }
    assert_true(bf_ai_parse_duration(NULL) < 0);
}

static void test_parse_anthropic_reset_times(void **unused)
{
    (void)unused;
    double now = 1795425600; /* 2026-11-23T09:20:00Z */
    double got = bf_ai_parse_reset_time("2026-11-23T09:20:05Z", now);
    if (!(got > 4.999 && got < 5.001))
        fail_msg("got %g", got);
    got = bf_ai_parse_reset_time("2026-11-23T09:20:00.5Z", now);
    assert_true(got > 0.499 && got < 0.501);
    assert_true(bf_ai_parse_reset_time("2026-11-23T09:19:00Z", now) == 0);
    assert_true(bf_ai_parse_reset_time("tomorrow", now) < 0);
    /* the one RFC 3339 rule (libbf/clock.h): any zone, none is refused */
    got = bf_ai_parse_reset_time("2026-11-23T11:20:05+02:00", now);
    assert_true(got > 4.999 && got < 5.001);
    assert_true(bf_ai_parse_reset_time("2026-11-23T09:20:05", now) < 0);
    assert_true(bf_ai_parse_reset_time(NULL, now) < 0);
}

/* ---- rate-limit headers ---------------------------------------------------- */

typedef struct header_s {
    const char *name, *value;
} header_t;

static const char *lookup(const char *name, void *opaque)
{
    for (const header_t *h = opaque; h->name; h++)
        if (strcmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

static void test_openai_and_anthropic_headers_read_the_same(void **unused)
{
    (void)unused;
    double now = 1795425600; /* 2026-11-23T09:20:00Z */
    header_t openai[] = {{"x-ratelimit-limit-requests", "600"},
                         {"x-ratelimit-remaining-requests", "0"},
                         {"x-ratelimit-reset-requests", "6s"},
                         {"x-ratelimit-limit-tokens", "150000"},
                         {"x-ratelimit-remaining-tokens", "149000"},
                         {"x-ratelimit-reset-tokens", "400ms"},
                         {NULL, NULL}};
    header_t anthropic[] = {
        {"anthropic-ratelimit-requests-limit", "600"},
        {"anthropic-ratelimit-requests-remaining", "0"},
        {"anthropic-ratelimit-requests-reset", "2026-11-23T09:20:06Z"},
        {"anthropic-ratelimit-tokens-limit", "150000"},
        {"anthropic-ratelimit-tokens-remaining", "149000"},
        {"anthropic-ratelimit-tokens-reset", "2026-11-23T09:20:00.4Z"},
        {NULL, NULL}};
    bf_ai_ratelimit_t a, b;
    assert_true(bf_ai_ratelimit_read(BF_AI_OPENAI, lookup, openai, -1, now, &a));
    assert_true(bf_ai_ratelimit_read(BF_AI_ANTHROPIC, lookup, anthropic, -1, now, &b));
    const bf_ai_ratelimit_t *both[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        const bf_ai_ratelimit_t *r = both[i];
        assert_true(r->limit_requests == 600 && r->remaining_requests == 0);
        assert_true(r->reset_requests_s > 5.999 && r->reset_requests_s < 6.001);
        assert_true(r->limit_tokens == 150000 && r->remaining_tokens == 149000);
        assert_true(r->reset_tokens_s > 0.399 && r->reset_tokens_s < 0.401);
        assert_true(r->retry_after_s < 0);
    }
}

static void test_headers_that_do_not_parse_are_not_believed(void **unused)
{
    (void)unused;
    header_t bad[] = {{"x-ratelimit-limit-requests", "nan"},
                      {"x-ratelimit-remaining-requests", "-1"},
                      {"x-ratelimit-reset-requests", "inf"},
                      {"x-ratelimit-limit-tokens", "1e9999"},
                      {"x-ratelimit-remaining-tokens", " 5"},
                      {"x-ratelimit-reset-tokens", "5x"},
                      {NULL, NULL}};
    bf_ai_ratelimit_t r;
    assert_false(bf_ai_ratelimit_read(BF_AI_OPENAI, lookup, bad, -1, 0, &r));
    assert_true(r.limit_requests < 0 && r.remaining_requests < 0 &&
                r.reset_requests_s < 0 && r.limit_tokens < 0 && r.remaining_tokens < 0 &&
                r.reset_tokens_s < 0);
    /* Gemini sends none; a retry-after is all there is. */
    header_t none[] = {{NULL, NULL}};
    assert_true(bf_ai_ratelimit_read(BF_AI_GEMINI, lookup, none, 2, 0, &r));
    assert_true(r.retry_after_s == 2 && r.limit_requests < 0);
    assert_false(bf_ai_ratelimit_read(BF_AI_GEMINI, lookup, none, -1, 0, &r));
}

/* A rate decided elsewhere (a worker's share of the fleet's limit). */
static void test_bucket_takes_a_new_rate_and_keeps_its_level(void **unused)
{
    (void)unused;
    bf_bucket_t b;
    bf_bucket_init(&b, 0, 0.0);
    bf_bucket_set_rate(&b, 600, 0.0); /* from unlimited: full */
    assert_true(b.level == 10 && b.capacity == 10);
    bf_bucket_take(&b, 8, 0.0);
    bf_bucket_set_rate(&b, 300, 0.0); /* halved: the level stays within 5 */
    assert_true(b.level == 2 && b.capacity == 5);
    double w = bf_bucket_wait(&b, 3, 0.0);
    assert_true(w > 0.199 && w < 0.201); /* one more at 5/s */
}

/* The share of time a provider's queue waited for a limit (heartbeats'
 * ai_limited_share): a worker limited from its first call reads about 1 at
 * once, not the 1 - e^(-t/10) of an average begun at 0; one that ran free
 * for 30 s and then waited 5 s reads what the average over its 35 s says. */
static void test_limited_share_counts_only_the_time_since_the_start(void **unused)
{
    (void)unused;
    bf_ai_prov_t p;
    memset(&p, 0, sizeof(p));
    p.started_at = p.limited_at = 100;
    assert_true(bf_ai_call_limited_share(&p, 100) == 0);
    p.limited = true; /* limited from the start */
    double got = bf_ai_call_limited_share(&p, 102);
    if (!(got > 0.999))
        fail_msg("limited since the start, after 2 s: %g", got);
    p.limited = false; /* free for 30 s, then limited for 5 */
    p.limited_avg = 0;
    p.limited_at = 130;
    assert_true(bf_ai_call_limited_share(&p, 130) == 0);
    p.limited = true;
    got = bf_ai_call_limited_share(&p, 135);
    double want = (1 - exp(-0.5)) / (1 - exp(-3.5)); /* 0.405 */
    if (fabs(got - want) > 1e-9)
        fail_msg("free 30 s, limited 5 s: %g, want %g", got, want);
    /* long after the start the correction is gone */
    p.limited = false;
    p.limited_avg = 0.5;
    p.limited_at = 1000;
    got = bf_ai_call_limited_share(&p, 1000);
    assert_true(fabs(got - 0.5) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlimited_bucket_never_waits),
        cmocka_unit_test(test_bucket_spreads_calls_at_the_configured_rate),
        cmocka_unit_test(test_bucket_settles_estimates_with_usage),
        cmocka_unit_test(test_bucket_oversized_take_waits_for_full),
        cmocka_unit_test(test_bucket_slows_down_on_429_and_recovers),
        cmocka_unit_test(test_breaker_opens_after_consecutive_failures),
        cmocka_unit_test(test_breaker_opens_on_failure_rate),
        cmocka_unit_test(test_breaker_half_open_lets_probes_through_then_closes),
        cmocka_unit_test(test_breaker_failed_probe_opens_again),
        cmocka_unit_test(test_breaker_success_resets_the_run),
        cmocka_unit_test(test_parse_reset_durations),
        cmocka_unit_test(test_parse_anthropic_reset_times),
        cmocka_unit_test(test_openai_and_anthropic_headers_read_the_same),
        cmocka_unit_test(test_headers_that_do_not_parse_are_not_believed),
        cmocka_unit_test(test_bucket_takes_a_new_rate_and_keeps_its_level),
        cmocka_unit_test(test_limited_share_counts_only_the_time_since_the_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
