/*
 * redis.c - hiredis async + libuv with timeouts and reconnection
 * (see redis.h).
 *
 * Every command gets a small context with a uv timer. Two parties may
 * finish it: hiredis (reply, or NULL on disconnect) and the timer. The
 * first to arrive runs the caller's callback; the context is freed when
 * both have let go (hiredis always calls back, even on disconnect, and a
 * uv timer must be closed before its memory is freed).
 *
 * A timed-out command means the server is stuck or the network is gone:
 * we drop the connection (failing every other pending command at once)
 * and reconnect with backoff, rather than let a queue of doomed commands
 * build up behind it.
 *
 * EVAL goes out as EVALSHA with the script's SHA-1: its text is not sent,
 * nor hashed again by Redis, for every call. Redis knows a script once an
 * EVAL ran it, or SCRIPT LOAD, which every (re)connection sends first for
 * the scripts seen so far; it forgets them when it restarts or is told
 * SCRIPT FLUSH. A NOSCRIPT answer (the first call of a script, or a
 * SCRIPT FLUSH during a connection) sends the same command again as EVAL
 * and the caller sees only that answer; that EVAL runs after whatever was
 * sent behind the EVALSHA, the one case where commands do not run in the
 * order they were sent.
 */
#include "libbf/redis.h"

#include <hiredis/async.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/backoff.h"
#include "libbf/hex.h"
#include "libbf/log.h"
#include "libbf/mem.h"

enum { ST_DOWN, ST_CONNECTING, ST_UP };

/* A script this client has sent with EVAL, and its SHA-1 in hex. */
typedef struct script_s {
    char *text; /* owned */
    size_t len;
    char sha[41];
} script_t;

#define MAX_SCRIPTS 16 /* more distinct scripts than this go as EVAL */

struct bf_redis_s {
    uv_loop_t *loop;
    bf_redis_url_t url;
    double timeout_s;
    redisAsyncContext *ac;
    int state;
    int destroying;
    unsigned reconnect_attempt; /* since the last successful connection */
    uint64_t connects;          /* successful connections, for bf_redis_connects() */
    uv_timer_t reconnect_timer; /* also the connect timeout */
    script_t scripts[MAX_SCRIPTS];
    int n_scripts;
};

typedef struct cmd_s {
    bf_redis_t *redis;
    bf_redis_cb *cb;
    void *opaque;
    uv_timer_t timer;
    int refs; /* hiredis + timer */
    int done;
    /* Sent as EVALSHA: its script, and the arguments after the script as
     * formatted (hiredis's allocation; "*N\r\n" and then rest), to send
     * again as EVAL on NOSCRIPT. */
    const script_t *script;
    char *args;
    const char *rest;
    size_t rest_len;
    int argc;
} cmd_t;

static void connect_now(bf_redis_t *r);

/* ------------------------------------------------------------------------
 * hiredis on the loop
 *
 * hiredis's own libuv adapter (hiredis/adapters/libuv.h) turns writable
 * polling on for every batch of commands and off once it is written: two
 * uv_poll_start() calls, and libuv makes each an epoll_ctl DEL plus an ADD,
 * four system calls to write what one write() does. Here a command only
 * schedules a flush (a uv_prepare, which runs once per loop iteration
 * before the loop waits, so every command queued in the same iteration
 * goes out in one write), and writable polling is used only while a write
 * is unfinished (the socket buffer was full) or the connection is still
 * being made (hiredis learns that the connect finished from writability).
 */

typedef struct uv_events_s {
    redisAsyncContext *ac; /* NULL once hiredis let go (cleanup) */
    uv_poll_t poll;
    uv_prepare_t flush;
    int wanted;         /* UV_READABLE | UV_WRITABLE as hiredis asked */
    int polled;         /* what the poll handle watches now */
    bool write_polling; /* a connect in progress or a write that fell short */
    bool flushing;      /* inside our own redisAsyncHandleWrite() */
    int open;           /* handles not closed yet */
} uv_events_t;

static void on_events_poll(uv_poll_t *h, int status, int events)
{
    uv_events_t *e = h->data;
    if (status != 0)
        return;
    if (e->ac && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
    if (e->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
}

/* Watch for reads when hiredis wants them, and for writability only while
 * write_polling; start or stop the poll only when that changes. */
static void events_apply(uv_events_t *e)
{
    int want = (e->wanted & UV_READABLE) |
               (e->write_polling && (e->wanted & UV_WRITABLE) ? UV_WRITABLE : 0);
    if (want == e->polled)
        return;
    e->polled = want;
    if (want)
        uv_poll_start(&e->poll, want, on_events_poll);
    else
        uv_poll_stop(&e->poll);
}

static void on_events_flush(uv_prepare_t *h)
{
    uv_events_t *e = h->data;
    uv_prepare_stop(h);
    if (!e->ac || !(e->wanted & UV_WRITABLE))
        return;
    e->flushing = true;
    redisAsyncHandleWrite(e->ac); /* calls del_write when done, add_write if not */
    e->flushing = false;
}

static void events_add_read(void *privdata)
{
    uv_events_t *e = privdata;
    e->wanted |= UV_READABLE;
    events_apply(e);
}

static void events_del_read(void *privdata)
{
    uv_events_t *e = privdata;
    e->wanted &= ~UV_READABLE;
    events_apply(e);
}

static void events_add_write(void *privdata)
{
    uv_events_t *e = privdata;
    e->wanted |= UV_WRITABLE;
    if (e->flushing || !(e->ac->c.flags & REDIS_CONNECTED))
        e->write_polling = true; /* wait until the socket takes more */
    else if (!uv_is_active((uv_handle_t *)&e->flush))
        uv_prepare_start(&e->flush, on_events_flush);
    events_apply(e);
}

static void events_del_write(void *privdata)
{
    uv_events_t *e = privdata;
    e->wanted &= ~UV_WRITABLE;
    e->write_polling = false;
    events_apply(e);
}

static void on_events_closed(uv_handle_t *h)
{
    uv_events_t *e = h->data;
    if (--e->open == 0)
        free(e);
}

static void events_cleanup(void *privdata)
{
    uv_events_t *e = privdata;
    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, on_events_closed);
    uv_close((uv_handle_t *)&e->flush, on_events_closed);
}

static int events_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return REDIS_ERR;
    uv_events_t *e = bf_calloc(1, sizeof(*e));
    if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
        free(e);
        return REDIS_ERR;
    }
    uv_prepare_init(loop, &e->flush);
    e->poll.data = e->flush.data = e;
    e->open = 2;
    e->ac = ac;
    ac->ev.addRead = events_add_read;
    ac->ev.delRead = events_del_read;
    ac->ev.addWrite = events_add_write;
    ac->ev.delWrite = events_del_write;
    ac->ev.cleanup = events_cleanup;
    ac->ev.data = e;
    return REDIS_OK;
}

void bf_redis_url_free(bf_redis_url_t *u)
{
    free(u->host);
    free(u->username);
    free(u->password);
    memset(u, 0, sizeof(*u));
}

bf_err_t bf_redis_url_parse(const char *url, bf_redis_url_t *out, char *errstr,
                            size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    const char *p;
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else {
        snprintf(errstr, errstr_size, "REDIS_URL must start with redis://");
        return BF_ERR_CONFIG;
    }
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (colon > p)
                out->username = bf_strndup(p, (size_t)(colon - p));
            out->password = bf_strndup(colon + 1, (size_t)(at - colon - 1));
        } else {
            out->password = bf_strndup(p, (size_t)(at - p));
        }
        p = at + 1;
    }
    size_t hlen = strcspn(p, ":/");
    if (hlen == 0) {
        snprintf(errstr, errstr_size, "REDIS_URL has no host");
        bf_redis_url_free(out);
        return BF_ERR_CONFIG;
    }
    out->host = bf_strndup(p, hlen);
    p += hlen;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port <= 0 || port > 65535 || (*end && *end != '/')) {
            snprintf(errstr, errstr_size, "REDIS_URL has a bad port");
            bf_redis_url_free(out);
            return BF_ERR_CONFIG;
        }
        out->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (*end || db < 0 || db > 65535) {
            snprintf(errstr, errstr_size, "REDIS_URL has a bad database number");
            bf_redis_url_free(out);
            return BF_ERR_CONFIG;
        }
        out->db = (int)db;
    }
    return BF_OK;
}

/* The reconnect timer is a member of bf_redis_t, not its first one: the
 * client is its data pointer, never the timer itself cast. */
static void on_reconnect_timer(uv_timer_t *t)
{
    connect_now(t->data);
}

/* Equal jitter: a fleet of workers that lost Redis together (a restart)
 * does not reconnect in step. */
static const bf_backoff_t RECONNECT_BACKOFF = {
    .base_s = 0.1, .cap_s = 5.0, .jitter = 0.5};

/* Try again after the next backoff; returns it (seconds). */
static double schedule_reconnect(bf_redis_t *r)
{
    if (r->destroying)
        return 0;
    r->state = ST_DOWN;
    double wait_s = bf_backoff_s(&RECONNECT_BACKOFF, r->reconnect_attempt++);
    uv_timer_start(&r->reconnect_timer, on_reconnect_timer, (uint64_t)(wait_s * 1000), 0);
    return wait_s;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    bf_redis_t *r = ac->data;
    if (!r)
        return;
    r->ac = NULL;
    if (r->destroying)
        return;
    double wait_s = schedule_reconnect(r);
    bf_log(BF_LOG_WARN, "redis", "disconnected", BF_LSTR("host", r->url.host),
           BF_LINT("port", r->url.port),
           BF_LSTR("error", status == REDIS_OK ? "closed" : ac->errstr),
           BF_LDBL("retry_in_s", wait_s));
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    bf_redis_t *r = ac->data;
    if (!r || r->destroying)
        return;
    uv_timer_stop(&r->reconnect_timer);
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        r->ac = NULL;
        double wait_s = schedule_reconnect(r);
        bf_log(BF_LOG_WARN, "redis", "connect_failed", BF_LSTR("host", r->url.host),
               BF_LINT("port", r->url.port), BF_LSTR("error", ac->errstr),
               BF_LDBL("retry_in_s", wait_s));
        return;
    }
    r->state = ST_UP;
    r->connects++;
    r->reconnect_attempt = 0;
    bf_log(BF_LOG_INFO, "redis", "connected", BF_LSTR("host", r->url.host),
           BF_LINT("port", r->url.port));
}

/* The connect timeout fired before on_connect: give up this attempt. */
static void on_connect_timeout(uv_timer_t *t)
{
    bf_redis_t *r = t->data;
    if (r->state != ST_CONNECTING || !r->ac)
        return;
    bf_log(BF_LOG_WARN, "redis", "connect_timeout", BF_LSTR("host", r->url.host),
           BF_LINT("port", r->url.port));
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    ac->data = NULL; /* on_disconnect must not schedule twice */
    redisAsyncFree(ac);
    schedule_reconnect(r);
}

static void connect_now(bf_redis_t *r)
{
    if (r->destroying)
        return;
    redisAsyncContext *ac = redisAsyncConnect(r->url.host, r->url.port);
    if (!ac || ac->err) {
        bf_log(BF_LOG_WARN, "redis", "connect_failed", BF_LSTR("host", r->url.host),
               BF_LINT("port", r->url.port), BF_LSTR("error", ac ? ac->errstr : "alloc"));
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    if (events_attach(ac, r->loop) != REDIS_OK) {
        bf_log(BF_LOG_WARN, "redis", "connect_failed", BF_LSTR("host", r->url.host),
               BF_LINT("port", r->url.port), BF_LSTR("error", "cannot watch the socket"));
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    r->ac = ac;
    r->state = ST_CONNECTING;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* AUTH and SELECT go first in the pipeline; commands are sent in order,
     * so everything after them runs authenticated on the right database. */
    if (r->url.password) {
        if (r->url.username)
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", r->url.username,
                              r->url.password);
        else
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s", r->url.password);
    }
    if (r->url.db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", r->url.db);
    /* The scripts seen so far, before any EVALSHA on this connection: a
     * Redis that restarted would answer NOSCRIPT, and the EVAL sent again
     * would then run after commands sent behind it. */
    for (int i = 0; i < r->n_scripts; i++)
        redisAsyncCommand(ac, NULL, NULL, "SCRIPT LOAD %b", r->scripts[i].text,
                          r->scripts[i].len);
    uv_timer_start(&r->reconnect_timer, on_connect_timeout,
                   (uint64_t)(r->timeout_s * 1000), 0);
}

bf_redis_t *bf_redis_new(uv_loop_t *loop, const char *url, double timeout_s, char *errstr,
                         size_t errstr_size)
{
    bf_redis_t *r = bf_calloc(1, sizeof(*r));
    if (bf_redis_url_parse(url, &r->url, errstr, errstr_size) != BF_OK) {
        free(r);
        return NULL;
    }
    r->loop = loop;
    r->timeout_s = timeout_s > 0 ? timeout_s : 2.0;
    uv_timer_init(loop, &r->reconnect_timer);
    r->reconnect_timer.data = r;
    connect_now(r);
    return r;
}

bool bf_redis_connected(const bf_redis_t *r)
{
    return r->state == ST_UP;
}

uint64_t bf_redis_connects(const bf_redis_t *r)
{
    return r->connects;
}

static void cmd_unref(cmd_t *c)
{
    if (--c->refs == 0) {
        if (c->args)
            redisFreeCommand(c->args);
        free(c);
    }
}

static bool send_as_eval(cmd_t *c);

static void on_timer_closed(uv_handle_t *h)
{
    cmd_unref(h->data);
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    (void)ac;
    cmd_t *c = privdata;
    redisReply *reply = reply_;
    if (!c->done && c->args && reply && reply->type == REDIS_REPLY_ERROR &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && send_as_eval(c))
        return; /* the EVAL's answer finishes the command */
    if (!c->done) {
        c->done = 1;
        uv_timer_stop(&c->timer);
        bf_err_t err = !reply                             ? BF_ERR_REDIS
                       : reply->type == REDIS_REPLY_ERROR ? BF_ERR_REDIS
                                                          : BF_OK;
        if (!reply && c->redis->destroying)
            err = BF_ERR_STATE;
        c->cb(c->redis, err, reply, c->opaque);
    }
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    cmd_unref(c);
}

static void on_cmd_timeout(uv_timer_t *t)
{
    cmd_t *c = t->data;
    if (c->done)
        return;
    c->done = 1;
    bf_redis_t *r = c->redis;
    c->cb(r, BF_ERR_TIMEOUT, NULL, c->opaque);
    /* The server is stuck or gone: drop the connection so every other
     * pending command fails now, then reconnect with backoff. */
    if (r->ac && r->state == ST_UP) {
        bf_log(BF_LOG_WARN, "redis", "command_timeout", BF_LSTR("host", r->url.host),
               BF_LINT("port", r->url.port), BF_LDBL("timeout_s", r->timeout_s));
        /* Not redisAsyncDisconnect: that waits for every pending reply, which
         * a stuck server never sends, and the client would never reconnect.
         * Free the context instead (pending callbacks get NULL replies) and
         * schedule the reconnect ourselves, as on a connect timeout. */
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        ac->data = NULL; /* on_disconnect must not schedule twice */
        redisAsyncFree(ac);
        schedule_reconnect(r);
    }
}

/* Send @p cmd @p arg, then the arguments after the script, as @p c keeps
 * them. @returns whether it was sent. */
static bool send_script_command(cmd_t *c, const char *cmd, const char *arg,
                                size_t arg_len)
{
    char head[64];
    int n = snprintf(head, sizeof(head), "*%d\r\n$%zu\r\n%s\r\n$%zu\r\n", c->argc,
                     strlen(cmd), cmd, arg_len);
    size_t len = (size_t)n + arg_len + 2 + c->rest_len;
    char *out = bf_malloc(len);
    memcpy(out, head, (size_t)n);
    memcpy(out + n, arg, arg_len);
    memcpy(out + n + arg_len, "\r\n", 2);
    memcpy(out + n + arg_len + 2, c->rest, c->rest_len);
    bool sent =
        redisAsyncFormattedCommand(c->redis->ac, on_reply, c, out, len) == REDIS_OK;
    free(out);
    return sent;
}

/* The same command as EVAL, once (a second NOSCRIPT goes to the caller).
 * @returns whether it was sent. */
static bool send_as_eval(cmd_t *c)
{
    if (!c->redis->ac || c->redis->state != ST_UP)
        return false;
    bool sent = send_script_command(c, "EVAL", c->script->text, c->script->len);
    redisFreeCommand(c->args);
    c->args = NULL;
    return sent;
}

/* The script @p text among those seen (added if there is room), or NULL. */
static script_t *script_of(bf_redis_t *r, const char *text, size_t len)
{
    for (int i = 0; i < r->n_scripts; i++)
        if (r->scripts[i].len == len && memcmp(r->scripts[i].text, text, len) == 0)
            return &r->scripts[i];
    if (r->n_scripts == MAX_SCRIPTS)
        return NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!EVP_Digest(text, len, md, &md_len, EVP_sha1(), NULL) || md_len != 20)
        return NULL;
    script_t *s = &r->scripts[r->n_scripts++];
    s->text = bf_malloc(len + 1); /* a script may hold a NUL: not bf_strndup */
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    s->len = len;
    bf_hex_encode(md, 20, s->sha);
    return s;
}

/* An EVAL goes as EVALSHA; @p c keeps its arguments for a NOSCRIPT.
 * @returns whether the command was sent (else it is to go as it is). */
static bool try_evalsha(bf_redis_t *r, cmd_t *c, int argc, const char **argv,
                        const size_t *argvlen)
{
    script_t *s = script_of(r, argv[1], argvlen ? argvlen[1] : strlen(argv[1]));
    if (!s)
        return false;
    /* The arguments after the script, formatted as a command of their own
     * ("*<argc - 2>\r\n" and then each): the tail of either form. */
    int n = redisFormatCommandArgv(&c->args, argc - 2, argv + 2,
                                   argvlen ? argvlen + 2 : NULL);
    if (n < 0) {
        c->args = NULL;
        return false;
    }
    c->rest = strchr(c->args, '\n') + 1;
    c->rest_len = (size_t)n - (size_t)(c->rest - c->args);
    c->argc = argc;
    c->script = s;
    if (send_script_command(c, "EVALSHA", s->sha, 40))
        return true;
    redisFreeCommand(c->args);
    c->args = NULL;
    return false;
}

static bool is_eval(int argc, const char **argv, const size_t *argvlen)
{
    return argc >= 3 && (argvlen ? argvlen[0] : strlen(argv[0])) == 4 &&
           memcmp(argv[0], "EVAL", 4) == 0;
}

bf_err_t bf_redis_command_argv(bf_redis_t *r, bf_redis_cb *cb, void *opaque, int argc,
                               const char **argv, const size_t *argvlen)
{
    if (r->state != ST_UP || !r->ac)
        return BF_ERR_REDIS;
    cmd_t *c = bf_calloc(1, sizeof(*c));
    c->redis = r;
    c->cb = cb;
    c->opaque = opaque;
    c->refs = 2;
    if (!(is_eval(argc, argv, argvlen) && try_evalsha(r, c, argc, argv, argvlen)) &&
        redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, argvlen) != REDIS_OK) {
        free(c);
        return BF_ERR_REDIS;
    }
    uv_timer_init(r->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_cmd_timeout, (uint64_t)(r->timeout_s * 1000), 0);
    return BF_OK;
}

static void free_redis(uv_handle_t *h)
{
    bf_redis_t *r = h->data;
    for (int i = 0; i < r->n_scripts; i++)
        free(r->scripts[i].text);
    bf_redis_url_free(&r->url);
    free(r);
}

void bf_redis_destroy(bf_redis_t *r)
{
    if (!r)
        return;
    r->destroying = 1;
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        /* Frees the context and calls every pending callback with NULL. */
        redisAsyncFree(ac);
    }
    uv_timer_stop(&r->reconnect_timer);
    uv_close((uv_handle_t *)&r->reconnect_timer, free_redis);
}
