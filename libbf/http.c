/*
 * http.c - libcurl multi on a libuv loop (see http.h).
 *
 * Per socket curl asks us to watch, a uv_poll_t lives in a context struct
 * stored with curl_multi_assign(); curl's single timer maps onto one
 * uv_timer_t. After every curl_multi_socket_action() we read finished
 * transfers with curl_multi_info_read() and run their callbacks.
 *
 * libuv rule: a uv handle is freed only in its close callback, so socket
 * contexts are released from uv_close()'s callback, never directly.
 */
#include "libbf/http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libbf/buf.h"
#include "libbf/mem.h"

typedef struct transfer_s transfer_t;

/* Easy handles kept for reuse (curl_easy_reset) when their transfer ends:
 * making and freeing one per request cost more than the request's own
 * work in curl. Bounded, so a burst of thousands of calls does not keep
 * thousands of idle handles. */
#define MAX_IDLE_HANDLES 256
/* See CURLOPT_BUFFERSIZE in bf_http_start(). */
#define RECV_BUFFER_BYTES 2048

/*
 * Transfers are spread over lanes, each its own multi handle with at most
 * LANE_CONNECTIONS connections. libcurl 7.88's work per transfer grows with
 * the connections one multi handle caches: curl_multi_remove_handle() walks
 * the whole cache for every transfer that left its connection intact
 * (close_connect_only through Curl_conncache_foreach), and a new transfer
 * scans every connection to its host for one to reuse (ConnectionExists).
 * With 10,000 HTTP/1.1 connections to one host those scans were half of
 * the worker's CPU (perf with a debug build of 7.88.1, BENCHMARKS.md
 * "Worker"). A transfer goes to the first lane with room, so at a low load
 * one lane serves everything and reuses its connections as before; lanes
 * are made when first needed.
 */
#define LANE_CONNECTIONS 128
/*
 * Over HTTP/2 a connection carries many transfers at once (curl's own
 * limit, CURLMOPT_MAX_CONCURRENT_STREAMS, is 100, as is what servers
 * commonly allow), so a lane holding only as many transfers as it may
 * have connections spread a few thousand calls in flight over dozens of
 * lanes, each with its own connections: 3,334 reports in flight to a TLS
 * front (bench/worker/run.py --tls) held 2,000 connections where 100
 * carry them, 440 MB against 330 (BENCHMARKS.md). HTTPS transfers have
 * lanes of their own, and once their answers come over HTTP/2 (and none
 * over HTTP/1.x) such a lane takes this many transfers per connection;
 * the extra lanes a burst made before the first answer close as they
 * empty.
 */
#define STREAMS_PER_CONNECTION 100

typedef struct sock_ctx_s sock_ctx_t;

typedef struct lane_s {
    bf_http_t *http;
    CURLM *multi; /* NULL until first needed, and again once retired */
    uv_timer_t timer;
    bool tls;         /* carries https:// transfers (else http://) */
    long cap;         /* connections it may open (and transfers it takes) */
    size_t in_flight; /* its transfers */
} lane_t;

struct bf_http_s {
    uv_loop_t *loop;
    lane_t **lanes;             /* each allocated once: sockets and timers point at it */
    size_t n_lanes, lanes_size; /* lanes made; room in the array */
    long max_connections;       /* in all lanes; 0: no cap */
    CURL *idle[MAX_IDLE_HANDLES];
    size_t n_idle;
    sock_ctx_t **by_fd; /* every socket we poll, by descriptor */
    size_t by_fd_size;
    size_t in_flight;
    transfer_t *transfers; /* doubly linked list of in-flight transfers */
    int closing;
    int open_timers;     /* the lanes' timers not closed yet (destroy) */
    const char *ca_file; /* SSL_CERT_FILE, SSL_CERT_DIR: NULL for curl's own */
    const char *ca_path;
    bool tls_h2, tls_h1; /* https answers came over HTTP/2, over HTTP/1.x */
};

/*
 * One per socket curl opened, from its first use until curl closes it.
 *
 * curl says CURL_POLL_REMOVE when a connection goes idle in its cache and
 * asks for it again when a request reuses it. Stopping the poll there and
 * starting it again costs three epoll_ctl calls per request (libuv's
 * uv_poll_start is a DEL plus an ADD), the largest share of the worker's
 * system calls at 0 ms AI latency. So an idle socket stays polled for what
 * it was polled for ("lingering"), and a request that wants the same
 * events costs nothing. A lingering socket that becomes readable was
 * closed or spoken to by the server, and curl is not watching it: the
 * poll stops there; curl checks a cached connection before it reuses it.
 * The context goes when curl closes the socket (CURLOPT_CLOSESOCKETFUNCTION,
 * which curl keeps with the connection), before the descriptor is closed.
 * Only a connection's socket (made in open_socket) lingers: curl also asks
 * to poll sockets it closes itself without that callback (the threaded
 * resolver's socket pair), and a context left on one of those held the
 * descriptor's number in libuv after the close (uv_poll_init on it: EEXIST,
 * as a Redis reconnect would get) and could send the events of the next
 * socket with that number to another lane's multi handle.
 */
struct sock_ctx_s {
    uv_poll_t poll;
    curl_socket_t fd;
    lane_t *lane;    /* whose multi handle polls it (set by socket_cb) */
    bool connection; /* opened by open_socket; closed through close_socket */
    int events;      /* what the poll watches; 0: stopped */
    bool lingering;  /* curl said CURL_POLL_REMOVE */
};

struct transfer_s {
    transfer_t *prev, *next;
    lane_t *lane;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    bf_buf_t response;
    bf_http_done_cb *cb;
    bf_http_chunk_cb *on_chunk;
    void *opaque;
    double retry_after_s;
    char errbuf[CURL_ERROR_SIZE];
};

static void finish(bf_http_t *http, transfer_t *t, CURLcode rc)
{
    bf_http_response_t resp = {.err = BF_OK, .retry_after_s = t->retry_after_s};
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &resp.seconds);
    if (rc != CURLE_OK) {
        resp.err = rc == CURLE_OPERATION_TIMEDOUT    ? BF_ERR_TIMEOUT
                   : rc == CURLE_WRITE_ERROR         ? BF_ERR_TOO_LARGE
                   : rc == CURLE_ABORTED_BY_CALLBACK ? BF_ERR_STATE
                                                     : BF_ERR_HTTP;
        resp.error = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
        /* curl's text for a refused connection is "Couldn't connect to
         * server"; the system's reason says what happened. */
        long os_errno = 0;
        if (curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK)
            resp.os_errno = (int)os_errno;
        resp.unreachable =
            rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT;
    }
    resp.body = t->response.data ? t->response.data : "";
    resp.body_len = t->response.len;
    resp.handle = t->easy;
    if (t->lane->tls && rc == CURLE_OK) {
        long version = 0;
        curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &version);
        if (version >= CURL_HTTP_VERSION_2_0)
            http->tls_h2 = true;
        else if (version)
            http->tls_h1 = true;
    }
    curl_multi_remove_handle(t->lane->multi, t->easy);
    t->lane->in_flight--;
    http->in_flight--;
    if (t->prev)
        t->prev->next = t->next;
    else
        http->transfers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->cb(&resp, t->opaque);
    if (!http->closing && http->n_idle < MAX_IDLE_HANDLES) {
        curl_easy_reset(t->easy);
        http->idle[http->n_idle++] = t->easy;
    } else {
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->headers);
    free(t->body);
    bf_buf_free(&t->response);
    free(t);
}

static bool lane_multiplexed(const lane_t *lane)
{
    return lane->tls && lane->http->tls_h2 && !lane->http->tls_h1;
}

/* Transfers the lane takes before the next one is used. */
static size_t lane_room(const lane_t *lane)
{
    return (size_t)lane->cap * (lane_multiplexed(lane) ? STREAMS_PER_CONNECTION : 1);
}

/* An empty multiplexed lane that is not the first of its kind closes its
 * connections: the first has room for what it carried. */
static void lane_maybe_retire(lane_t *lane)
{
    if (lane->in_flight || !lane->multi || !lane_multiplexed(lane) || lane->http->closing)
        return;
    bf_http_t *http = lane->http;
    for (size_t i = 0; i < http->n_lanes; i++) {
        lane_t *first = http->lanes[i];
        if (first->tls == lane->tls && first->multi) {
            if (first == lane)
                return;
            break;
        }
    }
    curl_multi_cleanup(lane->multi); /* closes its connections (close_socket) */
    lane->multi = NULL;
    uv_timer_stop(&lane->timer);
}

static void check_done(lane_t *lane)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(lane->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        transfer_t *t;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        finish(lane->http, t, msg->data.result);
    }
    lane_maybe_retire(lane);
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
    sock_ctx_t *ctx = handle->data;
    if (ctx->lingering) {
        uv_poll_stop(&ctx->poll);
        ctx->events = 0;
        return;
    }
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    lane_t *lane = ctx->lane; /* the action may close the socket and free ctx */
    curl_multi_socket_action(lane->multi, ctx->fd, flags, &running);
    check_done(lane);
}

static void on_timer(uv_timer_t *timer)
{
    lane_t *lane = timer->data;
    int running;
    curl_multi_socket_action(lane->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(lane);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    lane_t *lane = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&lane->timer);
    else
        uv_timer_start(&lane->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void free_sock_ctx(uv_handle_t *h)
{
    free(h->data);
}

static sock_ctx_t *ctx_of(bf_http_t *http, curl_socket_t s)
{
    return s >= 0 && (size_t)s < http->by_fd_size ? http->by_fd[s] : NULL;
}

static void ctx_close(bf_http_t *http, sock_ctx_t *ctx)
{
    http->by_fd[ctx->fd] = NULL;
    uv_close((uv_handle_t *)&ctx->poll, free_sock_ctx); /* stops polling now */
}

/* A context for socket @p s, not polled yet; NULL if @p s is not one. */
static sock_ctx_t *ctx_new(bf_http_t *http, curl_socket_t s, bool connection)
{
    if (s < 0)
        return NULL;
    sock_ctx_t *stale = ctx_of(http, s);
    if (stale) /* not expected: every socket's context goes before it closes */
        ctx_close(http, stale);
    if ((size_t)s >= http->by_fd_size) {
        size_t n = http->by_fd_size ? http->by_fd_size : 64;
        while (n <= (size_t)s)
            n *= 2;
        http->by_fd = bf_realloc(http->by_fd, n * sizeof(*http->by_fd));
        memset(http->by_fd + http->by_fd_size, 0,
               (n - http->by_fd_size) * sizeof(*http->by_fd));
        http->by_fd_size = n;
    }
    sock_ctx_t *ctx = bf_calloc(1, sizeof(*ctx));
    ctx->fd = s;
    ctx->connection = connection;
    uv_poll_init_socket(http->loop, &ctx->poll, s);
    ctx->poll.data = ctx;
    http->by_fd[s] = ctx;
    return ctx;
}

/* curl opens a connection's socket: its context is made here, so the
 * socket is known as a connection's (closed through close_socket). */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
                                 struct curl_sockaddr *address)
{
    (void)purpose;
    curl_socket_t s = socket(address->family, address->socktype, address->protocol);
    if (s != CURL_SOCKET_BAD)
        ctx_new(clientp, s, true);
    return s;
}

static int socket_cb(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    lane_t *lane = userp;
    bf_http_t *http = lane->http;
    sock_ctx_t *ctx = ctx_of(http, s);
    if (action == CURL_POLL_REMOVE) {
        /* A connection going idle lingers; any other socket curl polls
         * (the threaded resolver's socket pair) curl closes itself next,
         * without close_socket, so its poll must go now. */
        if (ctx && ctx->connection)
            ctx->lingering = true;
        else if (ctx)
            ctx_close(http, ctx);
        return 0;
    }
    if (!ctx && !(ctx = ctx_new(http, s, false)))
        return -1;
    ctx->lane = lane; /* a live socket belongs to one multi handle */
    ctx->lingering = false;
    int events = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    if (events != ctx->events) {
        ctx->events = events;
        uv_poll_start(&ctx->poll, events, on_poll);
    }
    return 0;
}

/* curl is closing socket @p s: let go of its poll first (libuv must not
 * watch a closed descriptor, whose number the next socket may get). */
static int close_socket(void *clientp, curl_socket_t s)
{
    bf_http_t *http = clientp;
    sock_ctx_t *ctx = ctx_of(http, s);
    if (ctx)
        ctx_close(http, ctx);
    return close(s);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    transfer_t *t = userdata;
    if (bf_buf_append(&t->response, ptr, size * nmemb) != BF_OK)
        return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
    if (t->on_chunk) {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        t->on_chunk(ptr, size * nmemb, status, t->opaque);
    }
    return size * nmemb;
}

/* Retry-After is either delay-seconds or an HTTP-date (RFC 9110 10.2.3);
 * providers send seconds, and an HTTP-date is read as "retry soon". */
const char *bf_http_response_header(const bf_http_response_t *resp, const char *name)
{
    struct curl_header *h = NULL;
    /* The last response's headers (request -1), first instance of the name;
     * curl matches names case-insensitively. */
    if (!resp->handle || curl_easy_header((CURL *)resp->handle, name, 0, CURLH_HEADER, -1,
                                          &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    transfer_t *t = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
        char tmp[64];
        size_t vlen = n - (sizeof(name) - 1);
        if (vlen >= sizeof(tmp))
            vlen = sizeof(tmp) - 1;
        memcpy(tmp, buf + sizeof(name) - 1, vlen);
        tmp[vlen] = '\0';
        char *end;
        double v = strtod(tmp, &end);
        t->retry_after_s = end != tmp && v >= 0 ? v : 1.0;
    }
    return n;
}

/* A multi handle for @p lane; false if curl could not make one. */
static bool lane_setup(lane_t *lane)
{
    CURLM *m = curl_multi_init();
    if (!m)
        return false;
    lane->multi = m;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, lane);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, lane);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, lane->cap);
    /* Keep as many idle connections as may be open. curl's default cache
     * is 4 x the transfers added at the time, so when the calls in flight
     * dipped (a report batch finishing) it closed idle connections that
     * the next batch opened again: a fifth of all requests paid a TCP
     * connect (and a TLS handshake, to a real provider) at 0 ms latency
     * (strace, BENCHMARKS.md). */
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, lane->cap);
    return true;
}

/* The next lane, its multi handle set up; NULL when there can be no more
 * (every connection the cap allows belongs to a lane) or curl failed. */
static lane_t *lane_open(bf_http_t *http, bool tls)
{
    long left = http->max_connections
                    ? http->max_connections - (long)http->n_lanes * LANE_CONNECTIONS
                    : LANE_CONNECTIONS;
    if (left <= 0)
        return NULL;
    lane_t *lane = bf_calloc(1, sizeof(*lane));
    lane->http = http;
    lane->tls = tls;
    lane->cap = left < LANE_CONNECTIONS ? left : LANE_CONNECTIONS;
    if (!lane_setup(lane)) {
        free(lane);
        return NULL;
    }
    if (http->n_lanes == http->lanes_size) {
        http->lanes_size = http->lanes_size ? 2 * http->lanes_size : 4;
        http->lanes = bf_realloc(http->lanes, http->lanes_size * sizeof(*http->lanes));
    }
    http->lanes[http->n_lanes++] = lane;
    uv_timer_init(http->loop, &lane->timer);
    lane->timer.data = lane;
    http->open_timers++;
    return lane;
}

/* The first lane of the kind (https or not) with room; a retired one
 * made anew, or a new one, when all are full and the cap allows; else the
 * least busy, where curl queues the transfer until one of its connections
 * is free. NULL only if curl cannot make a multi handle. */
static lane_t *lane_pick(bf_http_t *http, bool tls)
{
    lane_t *least = NULL, *retired = NULL;
    for (size_t i = 0; i < http->n_lanes; i++) {
        lane_t *lane = http->lanes[i];
        if (lane->tls != tls)
            continue;
        if (!lane->multi) {
            if (!retired)
                retired = lane;
            continue;
        }
        if (lane->in_flight < lane_room(lane))
            return lane;
        if (!least ||
            lane->in_flight * lane_room(least) < least->in_flight * lane_room(lane))
            least = lane;
    }
    if (retired && lane_setup(retired))
        return retired;
    lane_t *lane = lane_open(http, tls);
    if (lane)
        return lane;
    if (least)
        return least;
    /* The cap is all taken by lanes of the other kind: share the least busy. */
    for (size_t i = 0; i < http->n_lanes; i++) {
        lane_t *other = http->lanes[i];
        if (other->multi && (!least || other->in_flight < least->in_flight))
            least = other;
    }
    return least;
}

/* curl_global_init is not thread-safe in older libcurl; run it once. */
static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

bf_http_t *bf_http_new(uv_loop_t *loop, long max_connections, char *errstr,
                       size_t errstr_size)
{
    static uv_once_t once = UV_ONCE_INIT;
    uv_once(&once, global_init);
    bf_http_t *http = bf_calloc(1, sizeof(*http));
    http->loop = loop;
    http->max_connections = max_connections > 0 ? max_connections : 0;
    /* The certificates to trust, as OpenSSL's own tools, Python and most
     * HTTP clients take them: a private CA, or a TLS proxy in front of the
     * providers. Unset, curl's built-in bundle. */
    const char *ca_file = getenv("SSL_CERT_FILE"), *ca_path = getenv("SSL_CERT_DIR");
    http->ca_file = ca_file && *ca_file ? ca_file : NULL;
    http->ca_path = ca_path && *ca_path ? ca_path : NULL;
    if (!lane_open(http, false)) { /* the first lane now: a broken libcurl shows here */
        snprintf(errstr, errstr_size, "curl_multi_init failed");
        free(http->lanes);
        free(http);
        return NULL;
    }
    return http;
}

bf_err_t bf_http_start(bf_http_t *http, const bf_http_request_t *req, bf_http_done_cb *cb,
                       void *opaque)
{
    if (http->closing)
        return BF_ERR_STATE;
    if (req->n_body_parts > BF_HTTP_MAX_PARTS)
        return BF_ERR_INVALID_ARG;
    transfer_t *t = bf_calloc(1, sizeof(*t));
    t->cb = cb;
    t->on_chunk = req->on_chunk;
    t->opaque = opaque;
    t->retry_after_s = -1;
    bf_buf_init(&t->response, req->max_response ? req->max_response : 8 * 1024 * 1024);
    t->easy = http->n_idle ? http->idle[--http->n_idle] : curl_easy_init();
    if (!t->easy) {
        free(t);
        return BF_ERR_HTTP;
    }
    for (const char *const *h = req->headers; h && *h; h++)
        t->headers = curl_slist_append(t->headers, *h);
    /* libcurl adds "Expect: 100-continue" to large POSTs; providers do not
     * need the extra round trip. */
    t->headers = curl_slist_append(t->headers, "Expect:");
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* The receive buffer of every transfer in flight (16 KiB by default):
     * thousands of AI calls in flight hold one each, and an answer is a
     * few hundred bytes; a larger body just takes more reads. */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER_BYTES);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, http);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, http);
    /* HTTP/2 where TLS can agree on it (every AI provider does), with a
     * new transfer waiting for a connection being set up that may carry it
     * rather than opening one more. Plain http:// is HTTP/1.1: told so, curl
     * does not make a transfer wait for a connection to the host to say
     * whether it multiplexes, which in a burst held transfers until the
     * first response on it (test_http). */
    if (strncasecmp(req->url, "https:", 6) == 0) {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        /* Over HTTP/2 curl 7.88 sends every body through the upload buffer
         * (64 KiB by default), held until the transfer is done: 640 MB
         * for 10,000 calls in flight. The smallest it takes. */
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    if (http->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, http->ca_file);
    if (http->ca_path)
        curl_easy_setopt(e, CURLOPT_CAPATH, http->ca_path);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(req->timeout_s * 1000));
    curl_easy_setopt(
        e, CURLOPT_CONNECTTIMEOUT_MS,
        (long)((req->connect_timeout_s > 0 ? req->connect_timeout_s : 10) * 1000));
    if (req->n_body_parts) {
        /* Joined once, into the buffer curl sends from: a read callback
         * would cost an upload buffer of 16 KiB or more per transfer,
         * the body itself is a few KiB. */
        size_t total = 0;
        for (size_t i = 0; i < req->n_body_parts; i++)
            total += req->body_parts[i].len;
        t->body = bf_malloc(total + 1);
        size_t off = 0;
        for (size_t i = 0; i < req->n_body_parts; i++) {
            memcpy(t->body + off, req->body_parts[i].data, req->body_parts[i].len);
            off += req->body_parts[i].len;
        }
        t->body[total] = '\0';
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
    } else if (req->body) {
        t->body = bf_malloc(req->body_len + 1);
        memcpy(t->body, req->body, req->body_len);
        t->body[req->body_len] = '\0';
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->method)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    t->lane = lane_pick(http, strncasecmp(req->url, "https:", 6) == 0);
    if (!t->lane || curl_multi_add_handle(t->lane->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        curl_slist_free_all(t->headers);
        free(t->body);
        free(t);
        return BF_ERR_HTTP;
    }
    http->in_flight++;
    t->lane->in_flight++;
    t->next = http->transfers;
    if (t->next)
        t->next->prev = t;
    http->transfers = t;
    return BF_OK;
}

size_t bf_http_lanes(const bf_http_t *http)
{
    return http->n_lanes;
}

size_t bf_http_lanes_open(const bf_http_t *http)
{
    size_t n = 0;
    for (size_t i = 0; i < http->n_lanes; i++)
        n += http->lanes[i]->multi != NULL;
    return n;
}

static void on_lane_timer_closed(uv_handle_t *h)
{
    lane_t *lane = h->data;
    bf_http_t *http = lane->http;
    free(lane);
    if (--http->open_timers == 0) {
        free(http->lanes);
        free(http);
    }
}

void bf_http_destroy(bf_http_t *http)
{
    if (!http)
        return;
    http->closing = 1;
    /* Complete every in-flight transfer so owners can free what they hang
     * on it; finish() unlinks each from the list. */
    while (http->transfers)
        finish(http, http->transfers, CURLE_ABORTED_BY_CALLBACK);
    while (http->n_idle)
        curl_easy_cleanup(http->idle[--http->n_idle]);
    for (size_t i = 0; i < http->n_lanes; i++)
        curl_multi_cleanup(http->lanes[i]->multi); /* closes its cached connections */
    /* Sockets curl closed without telling (none expected: every easy
     * handle sets close_socket) still have their polls: let them go. */
    for (size_t i = 0; i < http->by_fd_size; i++)
        if (http->by_fd[i])
            ctx_close(http, http->by_fd[i]);
    free(http->by_fd);
    http->by_fd = NULL;
    http->by_fd_size = 0;
    size_t n = http->n_lanes; /* the last close frees http */
    for (size_t i = 0; i < n; i++) {
        uv_timer_stop(&http->lanes[i]->timer);
        uv_close((uv_handle_t *)&http->lanes[i]->timer, on_lane_timer_closed);
    }
}

/* RFC 3986 section 3.2: the authority follows "//" and ends at the next
 * "/", "?" or "#"; userinfo is whatever precedes its last "@". Without a
 * scheme the whole string up to those characters is taken as the
 * authority, so "user:pw@host:1" is redacted too. */
void bf_http_url_redact(const char *url, char *out, size_t size)
{
    if (!out || !size)
        return;
    if (!url) {
        out[0] = '\0';
        return;
    }
    const char *sep = strstr(url, "://");
    const char *authority = sep ? sep + 3 : url;
    size_t alen = strcspn(authority, "/?#");
    const char *at = NULL;
    for (const char *p = authority; p < authority + alen; p++)
        if (*p == '@')
            at = p;
    if (!at) {
        snprintf(out, size, "%s", url);
        return;
    }
    snprintf(out, size, "%.*s***%s", (int)(authority - url), url, at);
}
