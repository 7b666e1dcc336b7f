/*
 * redis_server.h - test support: one throwaway redis-server on a free
 * loopback port, with no persistence, for tests of Redis scripts.
 *
 * The free port can be taken between the probe and the bind, so starting
 * retries on a new port. Tests skip (not fail) where redis-server is not
 * installed.
 */
#ifndef BF_TEST_REDIS_SERVER_H
#define BF_TEST_REDIS_SERVER_H

#include <hiredis/hiredis.h>
#include <uv.h>

#include "libbf/redis.h"

#include "support/stack.h"

typedef struct bf_test_redis_s {
    char dir[64];
    bf_proc_t proc;
    int port;
    char url[64];    /* redis://127.0.0.1:<port>/0 */
    redisContext *c; /* a connection for the test (owned) */
} bf_test_redis_t;

/**
 * @brief Start a server and connect to it.
 * @returns 0 when up, 1 when redis-server is not installed (skip), -1 on a
 *          failure (message on stderr).
 */
int bf_test_redis_start(bf_test_redis_t *r);

/** @brief Another connection to the server (caller frees), or NULL. */
redisContext *bf_test_redis_connect(const bf_test_redis_t *r);

/** @brief FLUSHALL. @returns 0 or -1. */
int bf_test_redis_flush(bf_test_redis_t *r);

/** @brief Disconnect, stop the server and remove its files.
 *  @returns 0 when it stopped cleanly. */
int bf_test_redis_stop(bf_test_redis_t *r);

/**
 * @brief cmocka group setup: one server for the group in *state (NULL,
 *        and the tests skip, where redis-server is not installed).
 */
int bf_test_redis_group_setup(void **state);

/** @brief cmocka group teardown for bf_test_redis_group_setup(). */
int bf_test_redis_group_teardown(void **state);

/** @brief In a test of such a group: the server, flushed; skips without one. */
bf_test_redis_t *bf_test_redis_fresh(void **state);

/** @brief A libbf/redis.h client on @p loop, connected (the loop is run
 *         until it is, or the test fails). */
bf_redis_t *bf_test_redis_client(uv_loop_t *loop, const char *url, double timeout_s);

/** @brief Destroy @p redis, run @p loop until its handles are closed and
 *         close the loop (the test fails if one is left). */
void bf_test_redis_client_close(uv_loop_t *loop, bf_redis_t *redis);

#endif
