/*
 * state.c - the scaler's state in one Redis key (see state.h).
 */
#include "autoscaler/state.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"
#include "libbf/redis.h"

struct bf_state_s {
    bf_redis_url_t url;
    char *key;
    struct timeval timeout;
};

bf_state_t *bf_state_new(const char *url, const char *key, double timeout_s, char *errstr,
                         size_t errstr_size)
{
    bf_state_t *st = bf_calloc(1, sizeof(*st));
    if (bf_redis_url_parse(url, &st->url, errstr, errstr_size) != BF_OK) {
        free(st);
        return NULL;
    }
    st->key = bf_strdup(key);
    st->timeout.tv_sec = (time_t)timeout_s;
    st->timeout.tv_usec = (suseconds_t)((timeout_s - floor(timeout_s)) * 1e6);
    return st;
}

void bf_state_destroy(bf_state_t *st)
{
    if (!st)
        return;
    bf_redis_url_free(&st->url);
    free(st->key);
    free(st);
}

/* Connect, authenticate, select the db; NULL with errstr on failure. */
static redisContext *connect_to(bf_state_t *st, char *errstr, size_t errstr_size)
{
    redisContext *c = redisConnectWithTimeout(st->url.host, st->url.port, st->timeout);
    if (!c || c->err) {
        snprintf(errstr, errstr_size, "redis %s:%d: %s", st->url.host, st->url.port,
                 c ? c->errstr : "cannot allocate a context");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, st->timeout);
    redisReply *r = NULL;
    if (st->url.password)
        r = st->url.username
                ? redisCommand(c, "AUTH %s %s", st->url.username, st->url.password)
                : redisCommand(c, "AUTH %s", st->url.password);
    if (st->url.password && (!r || r->type == REDIS_REPLY_ERROR)) {
        snprintf(errstr, errstr_size, "redis AUTH failed"); /* never the password */
        freeReplyObject(r);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    if (st->url.db) {
        r = redisCommand(c, "SELECT %d", st->url.db);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok)
            snprintf(errstr, errstr_size, "redis SELECT %d: %s", st->url.db,
                     r ? r->str : c->errstr);
        freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

bf_err_t bf_state_load(bf_state_t *st, char **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    redisContext *c = connect_to(st, errstr, errstr_size);
    if (!c)
        return BF_ERR_REDIS;
    redisReply *r = redisCommand(c, "GET %s", st->key);
    bf_err_t err = BF_OK;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "redis GET %s: %s", st->key,
                 r ? r->str : c->errstr);
        err = BF_ERR_REDIS;
    } else if (r->type == REDIS_REPLY_STRING) {
        *out = bf_strndup(r->str, r->len);
    }
    freeReplyObject(r);
    redisFree(c);
    return err;
}

bf_err_t bf_state_save(bf_state_t *st, const char *text, char *errstr, size_t errstr_size)
{
    redisContext *c = connect_to(st, errstr, errstr_size);
    if (!c)
        return BF_ERR_REDIS;
    redisReply *r = redisCommand(c, "SET %s %b", st->key, text, strlen(text));
    bf_err_t err = BF_OK;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "redis SET %s: %s", st->key,
                 r ? r->str : c->errstr);
        err = BF_ERR_REDIS;
    }
    freeReplyObject(r);
    redisFree(c);
    return err;
}
