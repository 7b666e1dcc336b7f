/*
 * redis_server.c - a throwaway redis-server for script tests (see
 * redis_server.h).
 */
#include "support/redis_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REDIS_SERVER "/usr/bin/redis-server"

redisContext *bf_test_redis_connect(const bf_test_redis_t *r)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    redisReply *pong = redisCommand(c, "PING");
    bool up = pong && pong->type == REDIS_REPLY_STATUS;
    freeReplyObject(pong);
    if (!up) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Wait until the server listens, or gives up by exiting. */
static redisContext *connect_when_ready(bf_test_redis_t *r)
{
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    while (bf_test_now() < deadline && !bf_proc_exited(&r->proc, NULL)) {
        redisContext *c = bf_test_redis_connect(r);
        if (c)
            return c;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int bf_test_redis_start(bf_test_redis_t *r)
{
    memset(r, 0, sizeof(*r));
    if (access(REDIS_SERVER, X_OK) != 0)
        return 1;
    snprintf(r->dir, sizeof(r->dir), "/tmp/bf-test-redis-XXXXXX");
    if (!mkdtemp(r->dir)) {
        perror("mkdtemp");
        return -1;
    }
    for (int attempt = 0; attempt < 3 && !r->c; attempt++) {
        char port[16];
        r->port = bf_test_free_port();
        snprintf(port, sizeof(port), "%d", r->port);
        const char *argv[] = {REDIS_SERVER, "--port", port,   "--bind",
                              "127.0.0.1",  "--save", "",     "--appendonly",
                              "no",         "--dir",  r->dir, NULL};
        if (bf_proc_start(&r->proc, "redis", r->dir, argv, NULL, false, 5) != 0)
            continue;
        r->c = connect_when_ready(r);
        if (!r->c) {
            bf_proc_dump_log(&r->proc, 20);
            bf_proc_stop(&r->proc, SIGKILL, 5);
        }
    }
    if (!r->c) {
        rmdir(r->dir);
        return -1;
    }
    snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d/0", r->port);
    return 0;
}

int bf_test_redis_flush(bf_test_redis_t *r)
{
    redisReply *reply = redisCommand(r->c, "FLUSHALL");
    int ok = reply && reply->type == REDIS_REPLY_STATUS;
    freeReplyObject(reply);
    return ok ? 0 : -1;
}

int bf_test_redis_stop(bf_test_redis_t *r)
{
    redisFree(r->c);
    r->c = NULL;
    int status = bf_proc_stop(&r->proc, SIGTERM, 10);
    unlink(r->proc.log_path);
    if (rmdir(r->dir) != 0)
        fprintf(stderr, "could not remove %s\n", r->dir);
    return status == 0 ? 0 : -1;
}

int bf_test_redis_group_setup(void **state)
{
    bf_test_redis_t *r = calloc(1, sizeof(*r));
    int rc = r ? bf_test_redis_start(r) : -1;
    if (rc != 0) {
        free(r);
        *state = NULL;
        return rc > 0 ? 0 : -1; /* not installed: the tests skip */
    }
    *state = r;
    return 0;
}

int bf_test_redis_group_teardown(void **state)
{
    bf_test_redis_t *r = *state;
    if (!r)
        return 0;
    int rc = bf_test_redis_stop(r);
    free(r);
    return rc == 0 ? 0 : -1;
}

bf_test_redis_t *bf_test_redis_fresh(void **state)
{
    bf_test_redis_t *r = *state;
    if (!r)
        skip();
    assert_int_equal(bf_test_redis_flush(r), 0);
    return r;
}

bf_redis_t *bf_test_redis_client(uv_loop_t *loop, const char *url, double timeout_s)
{
    char errstr[256];
    bf_redis_t *redis = bf_redis_new(loop, url, timeout_s, errstr, sizeof(errstr));
    assert_non_null(redis);
    double deadline = (double)uv_hrtime() / 1e9 + 5 * bf_test_timeout_mult();
    while (!bf_redis_connected(redis) && (double)uv_hrtime() / 1e9 < deadline)
        uv_run(loop, UV_RUN_NOWAIT);
    assert_true(bf_redis_connected(redis));
    return redis;
}

void bf_test_redis_client_close(uv_loop_t *loop, bf_redis_t *redis)
{
    bf_redis_destroy(redis);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}
