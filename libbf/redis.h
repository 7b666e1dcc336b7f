/*
 * redis.h - asynchronous Redis client on the caller's libuv loop (hiredis
 * async API with its libuv adapter), adding what hiredis 0.14 lacks:
 * a timeout on every command and on connecting, AUTH/SELECT from a
 * redis:// URL, and reconnection with exponential backoff.
 *
 * Commands issued while disconnected fail at once with BF_ERR_REDIS, so the
 * caller decides (fail-closed: pause and retry; fail-open: go on without).
 *
 * @locality the loop thread only.
 */
#ifndef BF_REDIS_H
#define BF_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "libbf/err.h"

typedef struct bf_redis_s bf_redis_t;

/**
 * Completion of one command. @p reply is borrowed (valid during the
 * callback) and NULL unless err == BF_OK; a Redis error reply arrives as
 * err == BF_ERR_REDIS with the reply present (type REDIS_REPLY_ERROR).
 */
typedef void(bf_redis_cb)(bf_redis_t *redis, bf_err_t err, redisReply *reply,
                          void *opaque);

/** Parsed redis:// URL. Strings are owned; free with bf_redis_url_free(). */
typedef struct bf_redis_url_s {
    char *host;
    int port;
    char *username; /* NULL unless given */
    char *password; /* NULL unless given; never log it */
    int db;
} bf_redis_url_t;

/** @brief Parse redis://[[user]:password@]host[:port][/db]. */
bf_err_t bf_redis_url_parse(const char *url, bf_redis_url_t *out, char *errstr,
                            size_t errstr_size);
void bf_redis_url_free(bf_redis_url_t *u);

/**
 * @brief Create a client and start connecting.
 * @param timeout_s per-command and connect timeout (e.g. 2)
 */
bf_redis_t *bf_redis_new(uv_loop_t *loop, const char *url, double timeout_s, char *errstr,
                         size_t errstr_size);

/**
 * @brief Disconnect; pending commands complete with BF_ERR_STATE; handles
 *        are released as the loop closes them.
 */
void bf_redis_destroy(bf_redis_t *redis);

/** @brief Is the connection up (and AUTH/SELECT sent)? */
bool bf_redis_connected(const bf_redis_t *redis);

/** @brief Connections established so far: 1 after the first connect, one
 *         more after each reconnect (for a reconnect counter). */
uint64_t bf_redis_connects(const bf_redis_t *redis);

/**
 * @brief Send a command given as an argument vector (binary safe; copied).
 *        An EVAL goes as EVALSHA (the script's SHA-1), and again as EVAL
 *        if Redis answers NOSCRIPT (redis.c): the callback sees the
 *        script's answer either way.
 * @returns BF_OK (cb will run exactly once), or BF_ERR_REDIS when not
 *          connected (cb not called).
 */
bf_err_t bf_redis_command_argv(bf_redis_t *redis, bf_redis_cb *cb, void *opaque, int argc,
                               const char **argv, const size_t *argvlen);

#endif
