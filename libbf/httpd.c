/*
 * httpd.c - /metrics, /healthz, /readyz and program routes over
 * libmicrohttpd (see httpd.h).
 *
 * Slow clients: libmicrohttpd's MHD_OPTION_CONNECTION_TIMEOUT is an
 * *inactivity* timeout, reset by every byte received, so a slowloris
 * client sending one byte a second would hold a connection for as long
 * as it likes (and 64 of them would lock the scraper out). On top of it,
 * a watchdog thread gives every request a deadline: CONN_TIMEOUT_S from
 * the moment the connection opened or its previous request completed. A
 * connection past it is shut down (shutdown(2), not close(2): the socket
 * stays libmicrohttpd's, which then sees the end of the stream and closes
 * it the usual way).
 */
#include "libbf/clock.h"
#include "libbf/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "libbf/buf.h"
#include "libbf/err.h"
#include "libbf/log.h"
#include "libbf/mem.h"

#if MHD_VERSION < 0x00097002
typedef int bf_mhd_result;
#else
typedef enum MHD_Result bf_mhd_result;
#endif

#define MAX_ROUTES     16
#define MAX_BODY       (64 * 1024)
#define CONN_LIMIT     64
#define CONN_TIMEOUT_S 10
#define CONN_MEMORY    (128 * 1024)
#define PROM_TEXT      "text/plain; version=0.0.4; charset=utf-8"

/* How often the watchdog looks for requests past their deadline. */
#define WATCHDOG_PERIOD_MS 250

/* One open connection, for the watchdog (guarded by bf_httpd_t.conn_lock). */
typedef struct conn_slot_s {
    struct conn_slot_s *prev, *next;
    int fd;
    double since; /* bf_monotonic_s() when its current request began */
} conn_slot_t;

typedef struct route_s {
    char *path;
    bf_http_handler_t fn;
    void *opaque;
} route_t;

struct bf_httpd_s {
    struct MHD_Daemon *mhd;
    bf_metrics_t *metrics;
    int port;
    pthread_mutex_t lock; /* guards ready, reason and routes */
    bool ready;
    char reason[256];
    route_t routes[MAX_ROUTES];
    size_t nroutes;
    /* The watchdog: open connections, and the thread that enforces the
     * request deadline on them. */
    pthread_mutex_t conn_lock;
    pthread_cond_t stop_cond;
    bool stopping, watchdog_running;
    pthread_t watchdog;
    conn_slot_t *conns;
    double timeout_s;
};

typedef struct request_s {
    bf_buf_t body;
    bool too_large;
} request_t;

/* Queue @p body (malloc'd; freed by libmicrohttpd). @p authenticate, when
 * not NULL, is the WWW-Authenticate challenge a 401 must carry (RFC 7235
 * section 3.1). */
static bf_mhd_result answer(struct MHD_Connection *c, int status, const char *type,
                            char *body, size_t len, const char *authenticate)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (authenticate)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, authenticate);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    bf_mhd_result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static bf_mhd_result answer_text(struct MHD_Connection *c, int status, const char *text)
{
    char *body = bf_asprintf("%s\n", text);
    return answer(c, status, "text/plain; charset=utf-8", body, strlen(body), NULL);
}

static bf_mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version,
                                const char *upload_data, size_t *upload_data_size,
                                void **req_cls)
{
    (void)version;
    bf_httpd_t *h = cls;
    request_t *rq = *req_cls;
    if (!rq) {
        rq = bf_calloc(1, sizeof(*rq));
        bf_buf_init(&rq->body, MAX_BODY);
        *req_cls = rq;
        /* A declared body past the cap is refused before a byte of it is
         * read: waiting for 4 GiB that never come would only hold the
         * connection until the deadline. (libmicrohttpd itself refuses a
         * length that is not a number or overflows 64 bits.) */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > MAX_BODY)
            return answer_text(c, 413, "request body too large");
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rq->too_large && bf_buf_append(&rq->body, upload_data, *upload_data_size))
            rq->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_large)
        return answer_text(c, 413, "request body too large");

    route_t route = {0};
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nroutes && !route.fn; i++)
        if (strcmp(h->routes[i].path, url) == 0)
            route = h->routes[i];
    pthread_mutex_unlock(&h->lock);
    if (route.fn) {
        bf_httpd_request_t req = {
            .method = method,
            .path = url,
            .authorization =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
            .body = rq->body.data ? rq->body.data : "",
            .body_len = rq->body.len,
        };
        int status = 500;
        const char *type = "text/plain; charset=utf-8";
        char *body = NULL;
        route.fn(route.opaque, &req, &status, &type, &body);
        if (!body)
            body = bf_strdup("");
        return answer(c, status, type, body, strlen(body),
                      status == 401 ? "Bearer realm=\"bountyfleet\"" : NULL);
    }

    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0 ||
        strcmp(url, "/readyz") == 0) {
        if (!get)
            return answer_text(c, 405, "method not allowed");
    }
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *text = bf_metrics_render(h->metrics, &len);
        return answer(c, 200, PROM_TEXT, text, len, NULL);
    }
    if (strcmp(url, "/healthz") == 0)
        return answer_text(c, 200, "ok");
    if (strcmp(url, "/readyz") == 0) {
        pthread_mutex_lock(&h->lock);
        bool ready = h->ready;
        char reason[sizeof(h->reason)];
        memcpy(reason, h->reason, sizeof(reason));
        pthread_mutex_unlock(&h->lock);
        return answer_text(c, ready ? 200 : 503, ready ? "ready" : reason);
    }
    return answer_text(c, 404, "not found");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    bf_httpd_t *h = cls;
    /* The next request on this (keep-alive) connection gets a deadline
     * of its own. */
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_slot_t *slot = info ? info->socket_context : NULL;
    if (slot) {
        pthread_mutex_lock(&h->conn_lock);
        slot->since = bf_monotonic_s();
        pthread_mutex_unlock(&h->conn_lock);
    }
    request_t *rq = *req_cls;
    if (!rq)
        return;
    bf_buf_free(&rq->body);
    free(rq);
    *req_cls = NULL;
}

/* Connections opening and closing (libmicrohttpd's thread). The slot
 * leaves the list before libmicrohttpd closes the socket, so the watchdog
 * never shuts down a descriptor number that was reused. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    bf_httpd_t *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
            return;
        conn_slot_t *slot = bf_calloc(1, sizeof(*slot));
        slot->fd = info->connect_fd;
        slot->since = bf_monotonic_s();
        pthread_mutex_lock(&h->conn_lock);
        slot->next = h->conns;
        if (h->conns)
            h->conns->prev = slot;
        h->conns = slot;
        pthread_mutex_unlock(&h->conn_lock);
        *socket_context = slot;
        return;
    }
    conn_slot_t *slot = *socket_context;
    if (!slot)
        return;
    pthread_mutex_lock(&h->conn_lock);
    if (slot->prev)
        slot->prev->next = slot->next;
    else
        h->conns = slot->next;
    if (slot->next)
        slot->next->prev = slot->prev;
    pthread_mutex_unlock(&h->conn_lock);
    free(slot);
    *socket_context = NULL;
}

/* The watchdog thread: shut down connections whose request is past its
 * deadline (see the top of the file). */
static void *watchdog_main(void *arg)
{
    bf_httpd_t *h = arg;
    pthread_mutex_lock(&h->conn_lock);
    while (!h->stopping) {
        double now = bf_monotonic_s();
        for (conn_slot_t *s = h->conns; s; s = s->next)
            if (s->fd >= 0 && now - s->since > h->timeout_s) {
                bf_log(BF_LOG_DEBUG, "httpd", "request_deadline",
                       BF_LINT("seconds", (long long)(now - s->since)));
                shutdown(s->fd, SHUT_RDWR);
                s->fd = -1; /* once */
            }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&h->stop_cond, &h->conn_lock, &ts);
    }
    pthread_mutex_unlock(&h->conn_lock);
    return NULL;
}

/* Percent-decoding of paths and query arguments that leaves "%00" as it
 * is: a decoded NUL would end the C string early, and "/metrics%00.txt"
 * would be routed as "/metrics" (any route could be reached under other
 * names). Such a path now matches nothing: 404. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    if (strstr(s, "%00"))
        return strlen(s);
    return MHD_http_unescape(s);
}

void bf_httpd_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    bf_log(BF_LOG_WARN, "httpd", "mhd_error", BF_LSTR("msg", msg));
}

bf_err_t bf_httpd_addr_parse(const char *addr, char *host, size_t host_size, int *port,
                             char *errstr, size_t errstr_size)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || !colon[1]) {
        snprintf(errstr, errstr_size, "address '%s': expected host:port",
                 addr ? addr : "");
        return BF_ERR_CONFIG;
    }
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= host_size) {
        snprintf(errstr, errstr_size, "address '%s': host too long", addr);
        return BF_ERR_CONFIG;
    }
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || colon[1] < '0' || colon[1] > '9' || p < 0 || p > 65535) {
        snprintf(errstr, errstr_size, "address '%s': bad port", addr);
        return BF_ERR_CONFIG;
    }
    *port = (int)p;
    return BF_OK;
}

/* A listening socket for "host:port", ":port" or "[v6]:port". */
static int listen_on(const char *addr, int *port_out, char *errstr, size_t errstr_size)
{
    char host[256] = "", service[16];
    int port = 0;
    if (bf_httpd_addr_parse(addr, host, sizeof(host), &port, errstr, errstr_size))
        return -1;
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    if (rc) {
        snprintf(errstr, errstr_size, "address '%s': %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    char why[128] = "no usable address";
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        snprintf(why, sizeof(why), "%s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "cannot listen on %s: %s", addr, why);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

bf_err_t bf_httpd_start(bf_httpd_t **out, const char *addr, bf_metrics_t *metrics,
                        char *errstr, size_t errstr_size)
{
    *out = NULL;
    int port = 0;
    int fd = listen_on(addr, &port, errstr, errstr_size);
    if (fd < 0)
        return BF_ERR_CONFIG;
    bf_httpd_t *h = bf_calloc(1, sizeof(*h));
    h->metrics = metrics;
    h->port = port;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->conn_lock, NULL);
    pthread_cond_init(&h->stop_cond, NULL);
    h->timeout_s = CONN_TIMEOUT_S;
    snprintf(h->reason, sizeof(h->reason), "starting");
    h->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, h, MHD_OPTION_EXTERNAL_LOGGER, bf_httpd_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape, NULL, MHD_OPTION_END);
    if (h->mhd)
        h->watchdog_running = pthread_create(&h->watchdog, NULL, watchdog_main, h) == 0;
    if (!h->mhd || !h->watchdog_running) {
        snprintf(errstr, errstr_size, "cannot start the HTTP server on %s", addr);
        if (h->mhd)
            MHD_stop_daemon(h->mhd);
        else
            close(fd);
        pthread_cond_destroy(&h->stop_cond);
        pthread_mutex_destroy(&h->conn_lock);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return BF_ERR_IO;
    }
    *out = h;
    return BF_OK;
}

int bf_httpd_port(const bf_httpd_t *h)
{
    return h->port;
}

void bf_httpd_set_ready(bf_httpd_t *h, bool ready, const char *reason)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->ready = ready;
    snprintf(h->reason, sizeof(h->reason), "%s", reason ? reason : "");
    pthread_mutex_unlock(&h->lock);
}

void bf_httpd_route(bf_httpd_t *h, const char *path, bf_http_handler_t fn, void *opaque)
{
    pthread_mutex_lock(&h->lock);
    if (h->nroutes == MAX_ROUTES)
        abort(); /* a programming error: raise MAX_ROUTES */
    h->routes[h->nroutes++] = (route_t){bf_strdup(path), fn, opaque};
    pthread_mutex_unlock(&h->lock);
}

void bf_httpd_stop(bf_httpd_t *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->conn_lock);
    h->stopping = true;
    pthread_cond_signal(&h->stop_cond);
    pthread_mutex_unlock(&h->conn_lock);
    pthread_join(h->watchdog, NULL);
    MHD_stop_daemon(h->mhd);
    for (size_t i = 0; i < h->nroutes; i++)
        free(h->routes[i].path);
    pthread_cond_destroy(&h->stop_cond);
    pthread_mutex_destroy(&h->conn_lock);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
