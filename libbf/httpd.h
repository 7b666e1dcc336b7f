/*
 * httpd.h - the daemons' HTTP endpoint (METRICS_ADDR): /metrics,
 * /healthz, /readyz, plus routes a program adds (e.g. the autoscaler's
 * desired-replicas endpoint for KEDA).
 *
 * Served by libmicrohttpd on its own thread, so a slow scrape never
 * stalls the event loop. Handlers therefore run on that thread: they may
 * read the metrics registry (thread-safe) and state the program publishes
 * for them under its own lock or atomically, nothing else.
 *
 * Defences for an endpoint reachable from a network: a connection limit,
 * a per-connection timeout (slowloris clients are dropped), a bounded
 * request body and a memory limit per connection.
 */
#ifndef BF_HTTPD_H
#define BF_HTTPD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "libbf/err.h"
#include "libbf/metrics.h"

typedef struct bf_httpd_s bf_httpd_t;

/* A request to a program-defined route. */
typedef struct bf_httpd_request_s {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* without the query string */
    const char *authorization; /* the Authorization header, or NULL */
    const char *body;          /* NUL-terminated; "" when none */
    size_t body_len;
} bf_httpd_request_t;

/* Fill *status, *content_type (static string) and *body (malloc'd, the
 * server frees it). Runs on the HTTP thread. A 401 is sent with
 * "WWW-Authenticate: Bearer realm=\"bountyfleet\"", the one scheme routes
 * check (RFC 6750). */
typedef void (*bf_http_handler_t)(void *opaque, const bf_httpd_request_t *req,
                                  int *status, const char **content_type, char **body);

/**
 * @brief libmicrohttpd's own error messages (MHD_OPTION_EXTERNAL_LOGGER),
 *        one warn line each (component "httpd", event "mhd_error"): the one
 *        logger of every embedded server, ours and the AI simulator's.
 * @locality any thread
 */
void bf_httpd_mhd_log(void *cls, const char *fmt, va_list ap);

/**
 * @brief Split METRICS_ADDR-style "host:port", ":port" (every interface)
 *        or "[v6]:port" into @p host (without brackets, "" for every
 *        interface; NUL-terminated) and @p port (0..65535). Pure.
 * @returns BF_OK, or BF_ERR_CONFIG with errstr naming the address.
 */
bf_err_t bf_httpd_addr_parse(const char *addr, char *host, size_t host_size, int *port,
                             char *errstr, size_t errstr_size);

/* Parse "host:port", ":port" (every interface) or "[v6]:port"; port 0
 * picks a free one. */
bf_err_t bf_httpd_start(bf_httpd_t **out, const char *addr, bf_metrics_t *metrics,
                        char *errstr, size_t errstr_size);

/* The port actually bound (useful with port 0). */
int bf_httpd_port(const bf_httpd_t *h);

/* /readyz answers 200 when ready, else 503 with @p reason. Starts not
 * ready ("starting"). Callable from any thread. */
void bf_httpd_set_ready(bf_httpd_t *h, bool ready, const char *reason);

/* Add a route for an exact path, any method; call before traffic matters
 * (routes are not locked). */
void bf_httpd_route(bf_httpd_t *h, const char *path, bf_http_handler_t fn, void *opaque);

void bf_httpd_stop(bf_httpd_t *h);

#endif
