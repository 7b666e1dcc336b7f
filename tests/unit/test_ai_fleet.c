/*
 * test_ai_fleet.c - the fleet-wide rate limit (worker/ai_fleet.h) on a
 * real redis-server on a loopback port, one story per test.
 *
 * The script's stories drive it through EVAL with the time given in
 * ARGV[1], so the clock is the test's: the buckets spread what they grant,
 * every worker takes from the same ones, a 429 cuts the shared rate once
 * per burst, to below what the provider accepted, and it grows back
 * quickly to 95% of that and slowly beyond, a limit the provider's headers say caps it at
 * once, a hold stops every worker, tokens are settled with usage, workers that
 * stopped taking are no longer counted, and a fleet configured three times
 * too high, in a closed loop with a provider simulated on the same clock,
 * settles just below the real limit. The client's stories run the C
 * side on a libuv loop: EVALSHA, EVAL after Redis forgot the script, and
 * the local share when Redis is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "libbf/redis.h"
#include "support/redis_server.h"
#include "worker/ai_fleet.h"

#define KEY     "t:ailimit:{openai:m}"
#define WORKERS "t:ailimit:{openai:m}:workers"

typedef struct answer_s {
    long granted, wait_ms, rpm, tpm, live;
} answer_t;

/* One acquisition through the script at @p now_ms. */
typedef struct ask_s {
    long now_ms;
    const char *worker; /* "" = not registering */
    double rpm, tpm;
    long give_back;
    long ok; /* calls accepted since the last ask */
    int cuts;
    long hold_ms;
    double said_r, said_t;
    int n;
    long tokens[BF_AI_FLEET_BATCH];
} ask_t;

static answer_t eval(bf_test_redis_t *r, const ask_t *q)
{
    char num[10 + BF_AI_FLEET_BATCH][32];
    const char *argv[5 + 10 + BF_AI_FLEET_BATCH];
    int a = 0;
    argv[a++] = "EVAL";
    argv[a++] = bf_ai_fleet_script;
    argv[a++] = "2";
    argv[a++] = KEY;
    argv[a++] = WORKERS;
    snprintf(num[0], sizeof(num[0]), "%ld", q->now_ms);
    snprintf(num[1], sizeof(num[1]), "%s", q->worker ? q->worker : "w1");
    snprintf(num[2], sizeof(num[2]), "%g", q->rpm);
    snprintf(num[3], sizeof(num[3]), "%g", q->tpm);
    snprintf(num[4], sizeof(num[4]), "%ld", q->give_back);
    snprintf(num[5], sizeof(num[5]), "%ld", q->ok);
    snprintf(num[6], sizeof(num[6]), "%d", q->cuts);
    snprintf(num[7], sizeof(num[7]), "%ld", q->hold_ms);
    snprintf(num[8], sizeof(num[8]), "%g", q->said_r);
    snprintf(num[9], sizeof(num[9]), "%g", q->said_t);
    for (int i = 0; i < 10; i++)
        argv[a++] = num[i];
    for (int i = 0; i < q->n; i++) {
        snprintf(num[10 + i], sizeof(num[10 + i]), "%ld",
                 q->tokens[i] ? q->tokens[i] : 100);
        argv[a++] = num[10 + i];
    }
    redisReply *rep = redisCommandArgv(r->c, a, argv, NULL);
    assert_non_null(rep);
    if (rep->type != REDIS_REPLY_ARRAY)
        fail_msg("script: %s",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "not an array");
    assert_int_equal(rep->elements, 5);
    answer_t out = {rep->element[0]->integer, rep->element[1]->integer,
                    rep->element[2]->integer, rep->element[3]->integer,
                    rep->element[4]->integer};
    freeReplyObject(rep);
    return out;
}

/* Ask at @p t (ms) for @p n calls of the request limit @p rpm. */
static answer_t ask_rpm(bf_test_redis_t *r, long t, double rpm, int n)
{
    ask_t q = {.now_ms = t, .rpm = rpm, .n = n};
    return eval(r, &q);
}

/* ---- the script ------------------------------------------------------------ */

static void test_grants_one_second_at_once_then_spreads_calls(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    /* A new limit opens with one call, not with a burst. */
    answer_t a = ask_rpm(r, 1000000, 600, 16);
    assert_int_equal(a.granted, 1);
    assert_int_equal(a.wait_ms, 100); /* the next call fits in 1/10 s */
    assert_int_equal(a.rpm, 600000);
    /* 600/min: a bucket of one second, ten calls, full after a quiet second. */
    a = ask_rpm(r, 1002000, 600, 16);
    assert_int_equal(a.granted, 10);
    assert_int_equal(a.wait_ms, 100);
    a = ask_rpm(r, 1002050, 600, 1);
    assert_int_equal(a.granted, 0);
    assert_int_equal(a.wait_ms, 50);
    a = ask_rpm(r, 1002100, 600, 3);
    assert_int_equal(a.granted, 1);
}

static void test_every_worker_takes_from_the_same_buckets(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    /* Four workers asking as much as they can for ten seconds get what one
     * would: the first call and ten seconds at ten calls a second. */
    long granted = 0;
    const char *workers[] = {"w1", "w2", "w3", "w4"};
    for (long t = 0; t <= 10000; t += 25) {
        ask_t q = {
            .now_ms = 2000000 + t, .worker = workers[(t / 25) % 4], .rpm = 600, .n = 16};
        answer_t a = eval(r, &q);
        granted += a.granted;
        if (t >= 100)
            assert_int_equal(a.live, 4);
    }
    assert_true(granted >= 100 && granted <= 102);
}

static void test_a_429_cuts_the_rate_once_per_burst(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    ask_rpm(r, 3000000, 600, 1);
    ask_t cut = {.now_ms = 3000000, .rpm = 600, .cuts = 1};
    answer_t a = eval(r, &cut);
    assert_int_equal(a.rpm, 540000); /* 600 * BF_AI_FLEET_CUT */
    /* The rest of the burst, within BF_AI_FLEET_HOLD_MS, cuts no further
     * (the rate grows back meanwhile). */
    cut.now_ms += 1000;
    a = eval(r, &cut);
    assert_int_equal(a.rpm, 543000);
    /* A refusal after the hold is a new signal. */
    cut.now_ms += 1500;
    a = eval(r, &cut);
    assert_int_equal(a.rpm, 492750); /* (543 + 4.5) * 0.9 */
    /* A cut empties the bucket: the next call waits for a refill. */
    a = ask_rpm(r, cut.now_ms, 600, 1);
    assert_int_equal(a.granted, 0);
    assert_true(a.wait_ms > 0);
}

static void test_a_cut_goes_to_the_rate_the_provider_accepted(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    /* Configured at 1,800/min. The first 429 knows nothing better than
     * the rate in force; it holds the fleet for a second. */
    ask_t cut = {.now_ms = 9000000, .rpm = 1800, .cuts = 1, .hold_ms = 1000};
    assert_int_equal(eval(r, &cut).rpm, 1620000);
    /* Sending again from 9001000: for two seconds the provider accepts ten
     * calls a second (600/min) and refuses the rest. */
    for (long k = 1; k <= 20; k++) {
        ask_t q = {.now_ms = 9001000 + 100 * k, .rpm = 1800, .ok = 1};
        eval(r, &q);
    }
    cut.now_ms = 9003000;
    cut.hold_ms = 0;
    answer_t a = eval(r, &cut);
    assert_int_equal(a.rpm, 540000); /* 90% of the 600 accepted, not of 1,620 */
}

static void test_the_rate_recovers_quickly_then_probes_slowly(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    ask_rpm(r, 4000000, 600, 0);
    ask_t cut = {.now_ms = 4000000, .rpm = 600, .cuts = 1};
    assert_int_equal(eval(r, &cut).rpm, 540000);
    /* Quickly (BF_AI_FLEET_RECOVER, 30% of 600 a minute) up to the knee,
     * 95% of the refused 600. */
    answer_t a = ask_rpm(r, 4005000, 600, 0);
    assert_int_equal(a.rpm, 555000);
    a = ask_rpm(r, 4015000, 600, 0);
    assert_int_equal(a.rpm, 570000);
    /* Then slowly (BF_AI_FLEET_PROBE): 2% of 600 a minute. */
    a = ask_rpm(r, 4075000, 600, 0);
    assert_int_equal(a.rpm, 582000);
    /* And never above the configured limit. */
    a = ask_rpm(r, 4075000 + 3600000, 600, 0);
    assert_int_equal(a.rpm, 600000);
}

static void test_a_lower_limit_in_the_headers_caps_the_rate_at_once(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    /* Configured three times too high; the provider says 600. */
    ask_t q = {.now_ms = 5000000, .rpm = 1800, .said_r = 600};
    answer_t a = eval(r, &q);
    assert_int_equal(a.rpm, 594000); /* 99% of what it said */
    a = ask_rpm(r, 5000000 + 60000, 1800, 0);
    assert_int_equal(a.rpm, 594000); /* still said, still capped */
    /* Not said again for BF_AI_FLEET_HEADER_MS: the configured limit is
     * the cap again, and the rate probes up towards it. */
    a = ask_rpm(r, 5000000 + BF_AI_FLEET_HEADER_MS + 60000, 1800, 0);
    assert_true(a.rpm > 594000 && a.rpm <= 1800000);
}

static void test_a_hold_stops_every_worker_until_it_ends(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    ask_rpm(r, 6000000, 600, 0);
    ask_t hold = {
        .now_ms = 6000000, .worker = "w1", .rpm = 600, .cuts = 1, .hold_ms = 1500};
    eval(r, &hold);
    ask_t other = {.now_ms = 6000400, .worker = "w2", .rpm = 600, .n = 2};
    answer_t a = eval(r, &other);
    assert_int_equal(a.granted, 0);
    assert_int_equal(a.wait_ms, 1100);
    other.now_ms = 6001600;
    a = eval(r, &other);
    assert_true(a.granted >= 1);
}

static void test_tokens_are_settled_with_the_billed_usage(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    /* 60,000 tokens/min: a bucket of 1,000. */
    ask_t q = {.now_ms = 7000000, .tpm = 60000, .n = 1, .tokens = {800}};
    assert_int_equal(eval(r, &q).granted, 1);
    answer_t a = eval(r, &q);
    assert_int_equal(a.granted, 0);
    assert_int_equal(a.wait_ms, 600); /* 600 tokens short at 1,000 a second */
    /* The first call billed 200 of its 800: 600 come back. */
    q.give_back = 600;
    a = eval(r, &q);
    assert_int_equal(a.granted, 1);
    assert_int_equal(a.tpm, 60000);
}

static void test_workers_that_stop_taking_are_not_counted(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    ask_t q = {.now_ms = 8000000, .worker = "w1", .rpm = 600};
    eval(r, &q);
    q.worker = "w2";
    assert_int_equal(eval(r, &q).live, 2);
    q.worker = "w1";
    q.now_ms += BF_AI_FLEET_LIVE_MS + 1000;
    assert_int_equal(eval(r, &q).live, 1);
}

/* A provider on the test's clock: requests/min enforced by a bucket of
 * two seconds' burst that starts full; a refused call hears retry-after in
 * whole seconds, rounded up (what bountyfleet-aisim does). */
typedef struct provider_s {
    double rate_per_ms, level, burst;
    long at;
} provider_t;

static bool provider_accepts(provider_t *p, long now, long *retry_after_ms)
{
    p->level += (double)(now - p->at) * p->rate_per_ms;
    if (p->level > p->burst)
        p->level = p->burst;
    p->at = now;
    if (p->level >= 1) {
        p->level -= 1;
        return true;
    }
    *retry_after_ms = 1000 * (long)ceil((1 - p->level) / p->rate_per_ms / 1000);
    return false;
}

enum { STORY_IN_FLIGHT = 100, STORY_LATENCY_MS = 5 };

/* Answers due: when, and whether the provider accepted. */
typedef struct flight_s {
    long due[STORY_IN_FLIGHT];
    bool ok[STORY_IN_FLIGHT];
    long retry_after_ms[STORY_IN_FLIGHT];
    int n;
} flight_t;

static void test_a_fleet_set_three_times_too_high_settles_below_the_limit(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    /* Configured at 9,000/min against a provider that takes 3,000. One
     * worker with an endless backlog keeps 100 calls in flight, asks for
     * as many as fit (up to a batch) whenever it is not waiting, retries a
     * refused call, and reports what it heard with its next ask, as
     * ai_fleet.c does: the calls accepted, a cut, the retry-after as the
     * hold. Every step is on the test's clock, so the counts are exact. */
    const long t0 = 10000000, first_ms = 6000, end_ms = 60000;
    provider_t p = {.rate_per_ms = 3000.0 / 60000, .level = 100, .burst = 100, .at = t0};
    flight_t fl = {0};
    long next_ask = t0, ok = 0, hold = 0;
    int cuts = 0;
    long refused_first = 0, refused_after = 0, accepted_after = 0;
    answer_t a = {0};
    for (long now = t0; now < t0 + end_ms; now++) {
        for (int i = 0; i < fl.n;) {
            if (fl.due[i] > now) {
                i++;
                continue;
            }
            bool accepted = fl.ok[i];
            if (accepted) {
                ok++;
                if (now - t0 >= first_ms)
                    accepted_after++;
            } else {
                cuts = 1;
                if (fl.retry_after_ms[i] > hold)
                    hold = fl.retry_after_ms[i];
                *(now - t0 < first_ms ? &refused_first : &refused_after) += 1;
            }
            fl.n--;
            fl.due[i] = fl.due[fl.n];
            fl.ok[i] = fl.ok[fl.n];
            fl.retry_after_ms[i] = fl.retry_after_ms[fl.n];
        }
        if (now < next_ask || fl.n == STORY_IN_FLIGHT)
            continue;
        int want = STORY_IN_FLIGHT - fl.n;
        ask_t q = {.now_ms = now,
                   .rpm = 9000,
                   .ok = ok,
                   .cuts = cuts,
                   .hold_ms = hold,
                   .n = want < BF_AI_FLEET_BATCH ? want : BF_AI_FLEET_BATCH};
        a = eval(r, &q);
        ok = hold = 0;
        cuts = 0;
        for (long k = 0; k < a.granted; k++) {
            fl.due[fl.n] = now + STORY_LATENCY_MS;
            fl.ok[fl.n] = provider_accepts(&p, now, &fl.retry_after_ms[fl.n]);
            fl.n++;
        }
        next_ask = a.granted < q.n ? now + (a.wait_ms > 0 ? a.wait_ms : 1) : now + 1;
    }
    double accepted_rpm = (double)accepted_after * 60000 / (double)(end_ms - first_ms);
    print_message("429s in the first %ld s: %ld, after: %ld; accepted after: %.0f/min; "
                  "learned %.0f/min\n",
                  first_ms / 1000, refused_first, refused_after, accepted_rpm,
                  (double)a.rpm / 1000);
    /* The first seconds meet the limit (78 refused); after them the fleet
     * stays below it (0: from 95% of it, the probe of 2% a minute takes
     * minutes to cross it) and still sends near the limit, not timidly
     * below it (2,898/min). */
    assert_true(refused_first >= 20);
    assert_true(refused_after <= 2);
    assert_true(accepted_rpm > 0.85 * 3000 && accepted_rpm <= 3000 + 100);
    assert_true(a.rpm > 2500000 && a.rpm < 3300000);
}

/* ---- the client ------------------------------------------------------------ */

typedef struct client_s {
    int answers;
    int granted;
    double wait;
} client_t;

static void on_answer(int granted, double wait_s, void *opaque)
{
    client_t *c = opaque;
    c->answers++;
    c->granted = granted;
    c->wait = wait_s;
}

/* Acquire @p n calls through @p f and run the loop until it answers.
 * @returns true when Redis answered (false: the local share did). */
static bool acquire(uv_loop_t *loop, bf_ai_fleet_t *f, int n, client_t *c)
{
    long tokens[BF_AI_FLEET_BATCH] = {0};
    int before = c->answers;
    if (bf_ai_fleet_acquire(f, tokens, n, (double)uv_hrtime() / 1e9, on_answer, c,
                            &c->granted, &c->wait))
        return false;
    double deadline = (double)uv_hrtime() / 1e9 + 5 * bf_test_timeout_mult();
    while (c->answers == before && (double)uv_hrtime() / 1e9 < deadline)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(c->answers, before + 1);
    return true;
}

/* A limiter of @p rpm as worker @p id, on @p redis. */
static bf_ai_fleet_t *limiter(bf_redis_t *redis, const char *id, double rpm)
{
    bf_ai_fleet_config_t cfg = {.redis = redis,
                                .key_prefix = "t:",
                                .provider = "openai",
                                .model = "m",
                                .worker_id = id,
                                .rpm = rpm};
    return bf_ai_fleet_new(&cfg);
}

static void test_the_client_loads_the_script_again_after_redis_forgets_it(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    bf_redis_t *redis = bf_test_redis_client(&loop, r->url, 2);
    /* 6/min: the next call fits in 10 s, so the wait said after the
     * reload tells the state was kept whatever the machine's pace. */
    bf_ai_fleet_t *f = limiter(redis, "w1", 6);
    client_t c = {0};
    assert_true(acquire(&loop, f, 4, &c)); /* NOSCRIPT, then EVAL */
    assert_int_equal(c.granted, 1);        /* a new limit opens with one call */
    redisReply *flush = redisCommand(r->c, "SCRIPT FLUSH");
    freeReplyObject(flush);
    /* EVALSHA fails, EVAL runs it again on the kept state: the bucket is
     * still empty from the call a moment ago. */
    assert_true(acquire(&loop, f, 4, &c));
    assert_int_equal(c.granted, 0);
    assert_true(c.wait > 5 && c.wait <= 10);
    bf_ai_fleet_status_t st;
    bf_ai_fleet_status(f, &st);
    assert_true(st.shared);
    assert_int_equal(st.fallbacks, 0);
    assert_int_equal(st.workers, 1);
    bf_ai_fleet_destroy(f);
    bf_test_redis_client_close(&loop, redis);
}

static void test_without_redis_a_worker_takes_its_share(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    double timeout = 0.3 * bf_test_timeout_mult();
    bf_redis_t *redis = bf_test_redis_client(&loop, r->url, timeout);
    /* Two workers share 600/min; each learns that there are two. */
    bf_ai_fleet_t *w1 = limiter(redis, "w1", 600);
    bf_ai_fleet_t *w2 = limiter(redis, "w2", 600);
    client_t c = {0};
    assert_true(acquire(&loop, w1, 1, &c));
    assert_true(acquire(&loop, w2, 1, &c));
    assert_true(acquire(&loop, w1, 1, &c));
    bf_ai_fleet_status_t st;
    bf_ai_fleet_status(w1, &st);
    assert_int_equal(st.workers, 2);
    bf_ai_fleet_destroy(w2);
    /* Redis stops answering (the last test: the pause outlives it). The
     * answer comes from this worker's half of the limit, a bucket of five
     * calls (300/min), not from no limit at all. */
    char pause_ms[32];
    snprintf(pause_ms, sizeof(pause_ms), "%d", (int)(4000 * timeout));
    redisReply *p = redisCommand(r->c, "CLIENT PAUSE %s ALL", pause_ms);
    freeReplyObject(p);
    assert_true(acquire(&loop, w1, 16, &c)); /* asked, timed out, answered */
    assert_int_equal(c.granted, 5);
    assert_true(c.wait > 0.1 && c.wait < 0.3);
    bf_ai_fleet_status(w1, &st);
    assert_false(st.shared);
    assert_int_equal(st.fallbacks, 1);
    /* While Redis is down, the share answers at once. */
    assert_false(acquire(&loop, w1, 1, &c));
    assert_int_equal(c.granted, 0);
    bf_ai_fleet_destroy(w1);
    bf_test_redis_client_close(&loop, redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grants_one_second_at_once_then_spreads_calls),
        cmocka_unit_test(test_every_worker_takes_from_the_same_buckets),
        cmocka_unit_test(test_a_429_cuts_the_rate_once_per_burst),
        cmocka_unit_test(test_a_cut_goes_to_the_rate_the_provider_accepted),
        cmocka_unit_test(test_the_rate_recovers_quickly_then_probes_slowly),
        cmocka_unit_test(test_a_lower_limit_in_the_headers_caps_the_rate_at_once),
        cmocka_unit_test(test_a_hold_stops_every_worker_until_it_ends),
        cmocka_unit_test(test_tokens_are_settled_with_the_billed_usage),
        cmocka_unit_test(test_workers_that_stop_taking_are_not_counted),
        cmocka_unit_test(test_a_fleet_set_three_times_too_high_settles_below_the_limit),
        cmocka_unit_test(test_the_client_loads_the_script_again_after_redis_forgets_it),
        cmocka_unit_test(test_without_redis_a_worker_takes_its_share),
    };
    return cmocka_run_group_tests(tests, bf_test_redis_group_setup,
                                  bf_test_redis_group_teardown);
}
