/*
 * test_redis.c - the Redis client (libbf/redis.h) on a real redis-server
 * on a loopback port: an EVAL goes as EVALSHA, Redis's own command
 * statistics say which ran, and a script Redis forgot (SCRIPT FLUSH, as
 * after a restart) is sent again as EVAL without the caller seeing it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "libbf/redis.h"
#include "support/redis_server.h"

typedef struct answer_s {
    int answers;
    bf_err_t err;
    char text[256];
} answer_t;

static void on_answer(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    answer_t *a = opaque;
    a->answers++;
    a->err = err;
    a->text[0] = '\0';
    if (reply &&
        (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_ERROR)) {
        size_t n = reply->len < sizeof(a->text) - 1 ? reply->len : sizeof(a->text) - 1;
        memcpy(a->text, reply->str, n); /* binary: a NUL may be inside */
        a->text[n] = '\0';
    } else if (reply && reply->type == REDIS_REPLY_INTEGER)
        snprintf(a->text, sizeof(a->text), "%lld", (long long)reply->integer);
}

/* Send @p argv and run the loop until its one answer. */
static void ask(uv_loop_t *loop, bf_redis_t *redis, int argc, const char **argv,
                const size_t *lens, answer_t *a)
{
    int before = a->answers;
    assert_int_equal(bf_redis_command_argv(redis, on_answer, a, argc, argv, lens), BF_OK);
    double deadline = (double)uv_hrtime() / 1e9 + 5 * bf_test_timeout_mult();
    while (a->answers == before && (double)uv_hrtime() / 1e9 < deadline)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(a->answers, before + 1);
}

/* calls= and failed_calls= of @p command in INFO commandstats. */
static void calls_of(bf_test_redis_t *r, const char *command, long *calls, long *failed)
{
    redisReply *info = redisCommand(r->c, "INFO commandstats");
    assert_non_null(info);
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", command);
    const char *at = strstr(info->str, key);
    *calls = at ? strtol(at + strlen(key), NULL, 10) : 0;
    const char *f = at ? strstr(at, "failed_calls=") : NULL;
    *failed = f ? strtol(f + strlen("failed_calls="), NULL, 10) : 0;
    freeReplyObject(info);
}

/* Redis ran EVALSHA @p sha times (@p sha_failed of them NOSCRIPT) and
 * EVAL @p eval times since the test reset its statistics. */
static void expect_calls(bf_test_redis_t *r, long sha, long sha_failed, long eval)
{
    long calls, failed;
    calls_of(r, "evalsha", &calls, &failed);
    assert_int_equal(calls, sha);
    assert_int_equal(failed, sha_failed);
    calls_of(r, "eval", &calls, &failed);
    assert_int_equal(calls, eval);
}

/* The test script's answer to its binary argument. */
static void expect_answer(const answer_t *a)
{
    assert_int_equal(a->err, BF_OK);
    assert_memory_equal(a->text, "a\0b!", 5);
}

static void test_eval_goes_as_evalsha_and_again_as_eval_when_redis_forgot_it(void **state)
{
    bf_test_redis_t *r = bf_test_redis_fresh(state);
    freeReplyObject(redisCommand(r->c, "CONFIG RESETSTAT"));
    freeReplyObject(redisCommand(r->c, "SCRIPT FLUSH"));
    uv_loop_t loop;
    uv_loop_init(&loop);
    bf_redis_t *redis = bf_test_redis_client(&loop, r->url, 2);
    /* A binary-safe argument (a NUL inside), lengths given. */
    const char *argv[] = {"EVAL", "return ARGV[1] .. '!'", "0", "a\0b"};
    const size_t lens[] = {4, strlen(argv[1]), 1, 3};
    answer_t a = {0};

    /* First: Redis does not know the script (NOSCRIPT), EVAL runs it. */
    ask(&loop, redis, 4, argv, lens, &a);
    expect_answer(&a);
    expect_calls(r, 1, 1, 1);

    /* Then EVALSHA alone, the script's text not sent. */
    for (int i = 0; i < 3; i++) {
        ask(&loop, redis, 4, argv, lens, &a);
        expect_answer(&a);
    }
    expect_calls(r, 4, 1, 1);

    /* Redis forgets it (a restart, SCRIPT FLUSH): the caller still gets
     * the script's answer, not NOSCRIPT. */
    freeReplyObject(redisCommand(r->c, "SCRIPT FLUSH"));
    ask(&loop, redis, 4, argv, lens, &a);
    expect_answer(&a);
    expect_calls(r, 5, 2, 2);

    /* Redis forgets it and the connection drops (a restart): the client
     * loads what it has seen as it reconnects, so the next EVALSHA runs
     * at once (no NOSCRIPT, no EVAL after commands sent behind it). */
    freeReplyObject(redisCommand(r->c, "SCRIPT FLUSH"));
    uint64_t connects = bf_redis_connects(redis);
    freeReplyObject(redisCommand(r->c, "CLIENT KILL TYPE normal SKIPME yes"));
    double deadline = (double)uv_hrtime() / 1e9 + 10 * bf_test_timeout_mult();
    while ((bf_redis_connects(redis) == connects || !bf_redis_connected(redis)) &&
           (double)uv_hrtime() / 1e9 < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(bf_redis_connected(redis));
    ask(&loop, redis, 4, argv, lens, &a);
    expect_answer(&a);
    expect_calls(r, 6, 2, 2);

    /* A script's own error is the caller's, sent once as EVALSHA (the
     * script is known by then). */
    const char *bad[] = {"EVAL", "return redis.error_reply('MINE broke')", "0"};
    ask(&loop, redis, 3, bad, NULL, &a); /* NOSCRIPT, EVAL: MINE */
    ask(&loop, redis, 3, bad, NULL, &a); /* EVALSHA: MINE */
    assert_int_equal(a.err, BF_ERR_REDIS);
    assert_string_equal(a.text, "MINE broke");

    /* Many arguments (past the client's stack room for the EVALSHA). */
    const char *many[40] = {"EVAL", "return #ARGV", "0"};
    for (int i = 3; i < 40; i++)
        many[i] = "x";
    ask(&loop, redis, 40, many, NULL, &a);
    ask(&loop, redis, 40, many, NULL, &a);
    assert_string_equal(a.text, "37");

    /* Not a script: as it is. */
    const char *echo[] = {"ECHO", "plain"};
    ask(&loop, redis, 2, echo, NULL, &a);
    assert_string_equal(a.text, "plain");
    bf_test_redis_client_close(&loop, redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_eval_goes_as_evalsha_and_again_as_eval_when_redis_forgot_it),
    };
    return cmocka_run_group_tests(tests, bf_test_redis_group_setup,
                                  bf_test_redis_group_teardown);
}
