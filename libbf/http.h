/*
 * http.h - asynchronous HTTP client on the caller's libuv loop, built on
 * libcurl's multi interface (curl's docs/examples/multi-uv.c pattern):
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to wake it (CURLMOPT_TIMERFUNCTION); nothing ever blocks the loop.
 * Connections are reused and HTTP/2 is multiplexed when the server
 * supports it.
 *
 * @locality the loop thread only.
 */
#ifndef BF_HTTP_H
#define BF_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "libbf/err.h"

typedef struct bf_http_s bf_http_t;

/** The outcome of one request; borrowed, valid during the callback. */
typedef struct bf_http_response_s {
    bf_err_t err;     /* BF_OK when an HTTP response arrived (any status) */
    long status;      /* HTTP status, 0 when none */
    const char *body; /* NUL-terminated; "" when none */
    size_t body_len;
    double seconds;       /* total time */
    double retry_after_s; /* Retry-After header in seconds, or -1 */
    const char *error;    /* curl's message when err != BF_OK */
    int os_errno;         /* the system's errno of a failed transfer, or 0 */
    void *handle;         /* internal: what bf_http_response_header() reads */
    /* Nothing was sent: the host's name did not resolve or no connection
     * could be made (err BF_ERR_HTTP), so another address may be tried
     * without the risk of the request being done twice. */
    bool unreachable;
} bf_http_response_t;

/**
 * @brief A response header's value (case-insensitive name), or NULL.
 * @returns borrowed, valid during the done callback only.
 */
const char *bf_http_response_header(const bf_http_response_t *resp, const char *name);

typedef void(bf_http_done_cb)(const bf_http_response_t *resp, void *opaque);

/**
 * @brief Create a client on @p loop.
 * @param max_connections cap on open connections in all (0: none); each lane
 *        (bf_http_lanes) caps its own share with CURLMOPT_MAX_TOTAL_CONNECTIONS
 * @returns the client, or NULL with errstr.
 */
bf_http_t *bf_http_new(uv_loop_t *loop, long max_connections, char *errstr,
                       size_t errstr_size);

/**
 * @brief The libcurl multi handles ("lanes", at most 128 connections each)
 *        made so far: transfers fill the first lane with room, so a client
 *        that never held more than 128 at once has one.
 */
size_t bf_http_lanes(const bf_http_t *http);

/**
 * @brief The lanes with a multi handle now: an HTTPS lane left empty once
 *        its answers came over HTTP/2 closes (its connections with it)
 *        unless it is the first, which then takes 100 transfers per
 *        connection it may have.
 */
size_t bf_http_lanes_open(const bf_http_t *http);

/**
 * @brief Close the client: in-flight requests complete with BF_ERR_STATE
 *        (their callbacks run), then handles are released once the loop has
 *        closed them (run the loop until it is idle afterwards).
 */
void bf_http_destroy(bf_http_t *http);

/**
 * Body bytes as they arrive (e.g. server-sent events), before the done
 * callback; @p status is the response's HTTP status. The whole body is
 * still collected and passed to the done callback as well.
 */
typedef void(bf_http_chunk_cb)(const char *data, size_t len, long status, void *opaque);

/** A piece of a request body (bf_http_request_t.body_parts). */
typedef struct bf_http_part_s {
    const char *data;
    size_t len;
} bf_http_part_t;

/** Most pieces one body may be sent from. */
#define BF_HTTP_MAX_PARTS 4

/** Options of one request. */
typedef struct bf_http_request_s {
    const char *url;            /* copied */
    const char *const *headers; /* "Name: value", NULL-terminated; copied */
    const char *body;           /* copied; NULL for GET */
    size_t body_len;
    /* Or the body as up to BF_HTTP_MAX_PARTS pieces, joined (copied) into
     * the one buffer the request is sent from: for bodies made of shared
     * pieces (an AI request: a template around a report's message). */
    const bf_http_part_t *body_parts;
    size_t n_body_parts;
    const char *method;         /* NULL: POST with a body, GET without */
    double timeout_s;           /* total; 0 = none */
    double connect_timeout_s;   /* 0 = 10 s */
    size_t max_response;        /* bytes; 0 = 8 MiB */
    bf_http_chunk_cb *on_chunk; /* NULL: none; gets the done callback's opaque */
} bf_http_request_t;

/**
 * @brief Start a request; @p cb runs exactly once on the loop thread.
 * @returns BF_OK, or an error (cb not called).
 */
bf_err_t bf_http_start(bf_http_t *http, const bf_http_request_t *req, bf_http_done_cb *cb,
                       void *opaque);

/**
 * @brief Copy @p url into @p out (always NUL-terminated, truncated to
 *        @p size) with the userinfo of its authority ("user:password@" in
 *        "https://user:password@host/") replaced by "***@", so that it can
 *        be logged or put in an error message. Any thread; pure.
 */
void bf_http_url_redact(const char *url, char *out, size_t size);

#endif
