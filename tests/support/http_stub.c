/*
 * http_stub.c - an HTTP server answering through a callback (see
 * http_stub.h). Request bodies are collected up to MAX_BODY; a larger one
 * is answered 413 without calling the callback.
 */
#include "support/http_stub.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "libbf/buf.h"
#include "libbf/mem.h"

#define MAX_BODY (4 * 1024 * 1024)

struct bf_test_stub_s {
    struct MHD_Daemon *daemon;
    bf_test_stub_cb *cb;
    void *opaque;
    char url[64];
};

typedef struct request_s {
    bf_buf_t body;
    bool too_large;
} request_t;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    bf_test_stub_t *s = cls;
    request_t *rq = *con_cls;
    if (!rq) {
        rq = bf_calloc(1, sizeof(*rq));
        bf_buf_init(&rq->body, MAX_BODY);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rq->too_large && bf_buf_append(&rq->body, upload_data, *upload_data_size))
            rq->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    int status = 413;
    char *out = NULL;
    size_t out_len = 0;
    if (!rq->too_large) {
        bf_buf_append(&rq->body, "", 1); /* NUL-terminate */
        s->cb(s->opaque, method, url, rq->body.data, rq->body.len - 1, &status, &out,
              &out_len);
    }
    if (!out)
        out_len = 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        out_len, out ? out : bf_strdup(""), MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    request_t *rq = *con_cls;
    if (rq) {
        bf_buf_free(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

struct MHD_Daemon *bf_test_mhd_start(MHD_AccessHandlerCallback handler, void *cls,
                                     MHD_RequestCompletedCallback completed, char *url,
                                     size_t url_size)
{
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, cls,
        MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, completed, cls,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        fprintf(stderr, "cannot start libmicrohttpd on loopback\n");
        if (d)
            MHD_stop_daemon(d);
        return NULL;
    }
    snprintf(url, url_size, "http://127.0.0.1:%u", (unsigned)info->port);
    return d;
}

bf_test_stub_t *bf_test_stub_start(bf_test_stub_cb *cb, void *opaque)
{
    bf_test_stub_t *s = bf_calloc(1, sizeof(*s));
    s->cb = cb;
    s->opaque = opaque;
    s->daemon = bf_test_mhd_start(on_request, s, on_completed, s->url, sizeof(s->url));
    if (!s->daemon) {
        free(s);
        return NULL;
    }
    return s;
}

void bf_test_stub_stop(bf_test_stub_t *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    free(s);
}

const char *bf_test_stub_url(const bf_test_stub_t *s)
{
    return s->url;
}
