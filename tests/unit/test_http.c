/*
 * test_http.c - libbf/http.c, the asynchronous client on a libuv loop,
 * against a real HTTP server on loopback (support/http_stub.c): a GET gets
 * the server's status and body, a POST's body arrives whole, a server
 * slower than the request's timeout is BF_ERR_TIMEOUT with the request
 * sent, a port where nothing listens is BF_ERR_HTTP with "unreachable"
 * set (nothing was sent, so another address may be tried), a body over
 * max_response is BF_ERR_TOO_LARGE; hundreds of transfers at once spread
 * over lanes (multi handles of at most 128 connections), every one gets its
 * own answer, the connection cap holds over all lanes, and a second round
 * reuses the first round's connections; HTTPS through a TLS front that
 * speaks HTTP/2 (Debian's nghttpx) is refused until SSL_CERT_FILE names
 * its certificate, and once answers came over HTTP/2 the burst's extra
 * lanes close and the next 300 transfers share one lane; and credentials
 * in URLs are redacted before they are logged.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "libbf/err.h"
#include "libbf/http.h"
#include "libbf/mem.h"
#include "support/http_stub.h"
#include "support/stack.h"

/* The timeout a test gives a request the stub is told to be slow on, and
 * how long the stub holds it: five times longer, short enough to keep the
 * test fast (stopping the stub waits for it). Both scale with
 * BF_TEST_TIMEOUT_MULTIPLIER: on a slow machine the request must still
 * reach the server within the timeout. */
#define SLOW_TIMEOUT_S (0.2 * bf_test_timeout_mult())
#define SLOW_ANSWER_S  (5 * SLOW_TIMEOUT_S)

/* What the stub saw and how it answers; written on its thread, read by the
 * test after the response arrived (the HTTP exchange orders the two). */
typedef struct peer_s {
    char method[16], path[128], body[256];
    int status;
    const char *answer;
    size_t answer_len; /* 0: strlen(answer) */
    bool slow;
} peer_t;

static void answer(void *opaque, const char *method, const char *path, const char *body,
                   size_t len, int *status, char **out, size_t *out_len)
{
    peer_t *p = opaque;
    snprintf(p->method, sizeof(p->method), "%s", method);
    snprintf(p->path, sizeof(p->path), "%s", path);
    snprintf(p->body, sizeof(p->body), "%.*s", (int)len, body);
    if (p->slow)
        usleep((useconds_t)(SLOW_ANSWER_S * 1e6));
    *status = p->status;
    *out_len = p->answer_len ? p->answer_len : strlen(p->answer);
    *out = bf_malloc(*out_len + 1);
    memcpy(*out, p->answer, *out_len);
}

/* The done callback's copy of the response (borrowed only during it). */
typedef struct outcome_s {
    bool done;
    bf_err_t err;
    long status;
    char body[256];
    size_t body_len;
    double seconds;
    bool unreachable;
} outcome_t;

static void on_done(const bf_http_response_t *resp, void *opaque)
{
    outcome_t *o = opaque;
    o->done = true;
    o->err = resp->err;
    o->status = resp->status;
    o->body_len = resp->body_len;
    snprintf(o->body, sizeof(o->body), "%s", resp->body);
    o->seconds = resp->seconds;
    o->unreachable = resp->unreachable;
}

/* One request on a loop of its own, run until the callback has run and
 * the client is closed. */
static outcome_t fetch(const bf_http_request_t *req)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char errstr[256];
    bf_http_t *http = bf_http_new(&loop, 4, errstr, sizeof(errstr));
    if (!http)
        fail_msg("bf_http_new: %s", errstr);
    outcome_t o = {0};
    assert_int_equal(bf_http_start(http, req, on_done, &o), BF_OK);
    while (!o.done)
        uv_run(&loop, UV_RUN_ONCE);
    bf_http_destroy(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return o;
}

/* @p req sent to a stub answering as @p peer says, at @p path of its URL. */
static outcome_t fetch_from(peer_t *peer, const char *path, bf_http_request_t req)
{
    bf_test_stub_t *stub = bf_test_stub_start(answer, peer);
    assert_non_null(stub);
    char url[256];
    snprintf(url, sizeof(url), "%s%s", bf_test_stub_url(stub), path);
    req.url = url;
    outcome_t o = fetch(&req);
    bf_test_stub_stop(stub);
    return o;
}

static void test_get_returns_the_servers_status_and_body(void **unused)
{
    (void)unused;
    peer_t peer = {.status = 404, .answer = "{\"error\":\"no such item\"}"};
    outcome_t o = fetch_from(&peer, "/v1/items/7", (bf_http_request_t){.timeout_s = 5});
    /* Any HTTP answer is a response: the status is for the caller to judge. */
    assert_int_equal(o.err, BF_OK);
    assert_int_equal(o.status, 404);
    assert_string_equal(o.body, "{\"error\":\"no such item\"}");
    assert_int_equal(o.body_len, strlen(o.body));
    assert_false(o.unreachable);
    assert_string_equal(peer.method, "GET");
    assert_string_equal(peer.path, "/v1/items/7");
}

static void test_post_sends_its_body_whole(void **unused)
{
    (void)unused;
    peer_t peer = {.status = 200, .answer = "ok"};
    /* In pieces, as the AI layer sends a template around a report. */
    const bf_http_part_t parts[] = {{"{\"a\":", 5}, {"\"report\"", 8}, {"}", 1}};
    const char *const headers[] = {"Content-Type: application/json", NULL};
    outcome_t o = fetch_from(
        &peer, "/v1/chat",
        (bf_http_request_t){
            .headers = headers, .body_parts = parts, .n_body_parts = 3, .timeout_s = 5});
    assert_int_equal(o.err, BF_OK);
    assert_int_equal(o.status, 200);
    assert_string_equal(o.body, "ok");
    assert_string_equal(peer.method, "POST");
    assert_string_equal(peer.body, "{\"a\":\"report\"}");
}

static void test_a_server_slower_than_the_timeout_times_out(void **unused)
{
    (void)unused;
    peer_t peer = {.status = 200, .answer = "late", .slow = true};
    outcome_t o =
        fetch_from(&peer, "/", (bf_http_request_t){.timeout_s = SLOW_TIMEOUT_S});
    assert_int_equal(o.err, BF_ERR_TIMEOUT);
    assert_int_equal(o.status, 0);
    /* The request reached the server: retrying it elsewhere could do it twice. */
    assert_false(o.unreachable);
    assert_true(o.seconds < SLOW_ANSWER_S);
}

static void test_nothing_listening_is_unreachable(void **unused)
{
    (void)unused;
    /* Port 1 on loopback: nothing listens, the connection is refused. */
    outcome_t o =
        fetch(&(bf_http_request_t){.url = "http://127.0.0.1:1/", .timeout_s = 5});
    assert_int_equal(o.err, BF_ERR_HTTP);
    assert_int_equal(o.status, 0);
    assert_true(o.unreachable);
}

static void test_a_body_over_max_response_is_too_large(void **unused)
{
    (void)unused;
    static char big[4096];
    memset(big, 'x', sizeof(big));
    peer_t peer = {.status = 200, .answer = big, .answer_len = sizeof(big)};
    outcome_t o =
        fetch_from(&peer, "/", (bf_http_request_t){.timeout_s = 5, .max_response = 1024});
    assert_int_equal(o.err, BF_ERR_TOO_LARGE);
}

/* Many transfers at once, each asking for its own path and answered with
 * it, by a server that holds every request until release_at requests have
 * arrived in all: so a round of transfers is in flight together, each on a
 * connection of its own, however fast the loop or the server is. */
typedef struct holder_s {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int arrived, release_at;
} holder_t;

static enum MHD_Result hold_then_echo(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version, const char *upload,
                                      size_t *upload_size, void **con_cls)
{
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_size;
    if (!*con_cls) { /* the headers: the request is read (a GET has no body) */
        *con_cls = conn;
        return MHD_YES;
    }
    holder_t *h = cls;
    pthread_mutex_lock(&h->lock);
    h->arrived++;
    pthread_cond_broadcast(&h->cond);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    /* a test that lost a request fails, it does not hang */
    until.tv_sec += (time_t)(60 * bf_test_timeout_mult());
    while (h->arrived < h->release_at &&
           pthread_cond_timedwait(&h->cond, &h->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&h->lock);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(url), (void *)url, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

typedef struct round_s {
    int done, ok;
    int h2; /* answers that came over HTTP/2 */
    bf_http_t *http;
    size_t lanes_open_max; /* bf_http_lanes_open at any answer */
    long connects;         /* connections the transfers opened (CURLINFO_NUM_CONNECTS) */
} round_t;

typedef struct one_s {
    round_t *round;
    char path[32];
} one_t;

static void on_one_done(const bf_http_response_t *resp, void *opaque)
{
    one_t *one = opaque;
    one->round->done++;
    if (resp->err == BF_OK && resp->status == 200 &&
        resp->body_len == strlen(one->path) &&
        memcmp(resp->body, one->path, resp->body_len) == 0)
        one->round->ok++;
    long connects = 0;
    curl_easy_getinfo((CURL *)resp->handle, CURLINFO_NUM_CONNECTS, &connects);
    one->round->connects += connects;
    long version = 0;
    curl_easy_getinfo((CURL *)resp->handle, CURLINFO_HTTP_VERSION, &version);
    one->round->h2 += version == CURL_HTTP_VERSION_2_0;
    size_t open = bf_http_lanes_open(one->round->http);
    if (open > one->round->lanes_open_max)
        one->round->lanes_open_max = open;
}

#define MANY 300

static round_t run_round(uv_loop_t *loop, bf_http_t *http, const char *base,
                         holder_t *holder, int together, int round)
{
    static one_t ones[MANY];
    round_t r = {.http = http};
    pthread_mutex_lock(&holder->lock);
    holder->release_at = holder->arrived + together;
    pthread_mutex_unlock(&holder->lock);
    char url[256];
    for (int i = 0; i < MANY; i++) {
        ones[i].round = &r;
        snprintf(ones[i].path, sizeof(ones[i].path), "/r%d/%d", round, i);
        snprintf(url, sizeof(url), "%s%s", base, ones[i].path);
        bf_http_request_t req = {.url = url, .timeout_s = 20};
        assert_int_equal(bf_http_start(http, &req, on_one_done, &ones[i]), BF_OK);
    }
    while (r.done < MANY)
        uv_run(loop, UV_RUN_ONCE);
    return r;
}

/* The holding server on @p addr (port 0: an ephemeral one), a thread per
 * connection; its base URL, with @p host, into @p base. */
static struct MHD_Daemon *start_holder(holder_t *holder, struct sockaddr_in *addr,
                                       const char *host, char *base, size_t size)
{
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_POLL | MHD_USE_ERROR_LOG,
                         0, NULL, NULL, hold_then_echo, holder, MHD_OPTION_SOCK_ADDR,
                         addr, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    assert_non_null(d);
    snprintf(base, size, "http://%s:%u", host,
             (unsigned)MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    return d;
}

/* Destroy @p http and run its loop until everything is closed. */
static void close_client(uv_loop_t *loop, bf_http_t *http)
{
    bf_http_destroy(http);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_many_transfers_spread_over_lanes_and_reuse_connections(void **unused)
{
    (void)unused;
    holder_t holder = {.lock = PTHREAD_MUTEX_INITIALIZER,
                       .cond = PTHREAD_COND_INITIALIZER};
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char base[320];
    struct MHD_Daemon *d = start_holder(&holder, &addr, "127.0.0.1", base, sizeof(base));
    /* cap, lanes made for 300 at once, connections (= requests held at once) */
    static const struct {
        long cap;
        size_t lanes;
        int connects;
    } cases[] = {
        {300, 3, 300}, /* 128 + 128 + 44 */
        {200, 2, 200}, /* 128 + 72; the other 100 wait in curl's queue */
        {0, 3, 300},   /* no cap: a lane per 128 */
        {4, 1, 4},     /* one lane, four connections, the rest queued */
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        char errstr[256];
        bf_http_t *http = bf_http_new(&loop, cases[c].cap, errstr, sizeof(errstr));
        if (!http)
            fail_msg("bf_http_new: %s", errstr);
        int together = cases[c].connects;
        round_t first = run_round(&loop, http, base, &holder, together, 0);
        if (first.ok != MANY || first.connects != together ||
            bf_http_lanes(http) != cases[c].lanes)
            fail_msg("cap %ld: %d of %d answered right, %ld connections opened (want "
                     "%d), %zu lanes (want %zu)",
                     cases[c].cap, first.ok, MANY, first.connects, together,
                     bf_http_lanes(http), cases[c].lanes);
        /* Every lane kept its connections: the second round opens none. */
        round_t second = run_round(&loop, http, base, &holder, together, 1);
        if (second.ok != MANY || second.connects != 0 ||
            bf_http_lanes(http) != cases[c].lanes)
            fail_msg("cap %ld, second round: %d of %d answered right, %ld connections "
                     "opened, %zu lanes",
                     cases[c].cap, second.ok, MANY, second.connects, bf_http_lanes(http));
        close_client(&loop, http);
    }
    MHD_stop_daemon(d);
}

#define NGHTTPX "/usr/sbin/nghttpx"

/* nghttpx on a free loopback port: TLS with the committed loopback
 * certificate (tests/data/tls), HTTP/2 or HTTP/1.1 by ALPN, forwarding to
 * @p backend_port over HTTP/1.1. Its port, or 0 when it did not start. */
static int start_tls_front(bf_proc_t *proc, int backend_port)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = bf_test_free_port();
        char frontend[64], backend[64];
        snprintf(frontend, sizeof(frontend), "--frontend=127.0.0.1,%d", port);
        snprintf(backend, sizeof(backend), "--backend=127.0.0.1,%d", backend_port);
        const char *argv[] = {NGHTTPX,
                              "--conf=/dev/null", /* not the system's */
                              frontend,
                              backend,
                              "--single-process",
                              "--workers=1",
                              "--no-ocsp",
                              "--accesslog-file=/dev/null",
                              BF_SOURCE_DIR "/tests/data/tls/loopback.key",
                              BF_SOURCE_DIR "/tests/data/tls/loopback.crt",
                              NULL};
        if (bf_proc_start(proc, "nghttpx", "/tmp", argv, NULL, false, 5) != 0)
            continue;
        if (bf_test_wait_listening(proc, port, 10))
            return port;
        bf_proc_dump_log(proc, 20);
        bf_proc_stop(proc, SIGKILL, 5);
    }
    return 0;
}

/* The holding server and its TLS front, stopped by the teardown also when
 * the test fails. */
typedef struct tls_fixture_s {
    holder_t holder;
    struct MHD_Daemon *d;
    bf_proc_t front;
    bool front_up;
    char base[64]; /* https://127.0.0.1:<port> */
} tls_fixture_t;

static int tls_setup(void **state)
{
    if (access(NGHTTPX, X_OK) != 0) {
        *state = NULL;
        return 0;
    }
    tls_fixture_t *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->holder.lock, NULL);
    pthread_cond_init(&f->holder.cond, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char plain[320];
    f->d = start_holder(&f->holder, &addr, "127.0.0.1", plain, sizeof(plain));
    int port = start_tls_front(
        &f->front, MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port);
    f->front_up = port != 0;
    snprintf(f->base, sizeof(f->base), "https://127.0.0.1:%d", port);
    *state = f;
    return 0;
}

static int tls_teardown(void **state)
{
    tls_fixture_t *f = *state;
    unsetenv("SSL_CERT_FILE");
    if (!f)
        return 0;
    if (f->front_up) {
        bf_proc_stop(&f->front, SIGTERM, 10);
        unlink(f->front.log_path);
    }
    /* a failed test may have left requests held: let them go */
    pthread_mutex_lock(&f->holder.lock);
    f->holder.release_at = 0;
    pthread_cond_broadcast(&f->holder.cond);
    pthread_mutex_unlock(&f->holder.lock);
    MHD_stop_daemon(f->d);
    free(f);
    return 0;
}

static void test_https_over_http2_shares_one_lane(void **state)
{
    tls_fixture_t *f = *state;
    if (!f) {
        print_message("skipped: no " NGHTTPX " (Debian's nghttp2-proxy)\n");
        skip();
    }
    if (!f->front_up)
        fail_msg("nghttpx did not start");
    const char *base = f->base;
    holder_t *holder = &f->holder;

    /* Not trusted: curl's own bundle does not hold the test's certificate. */
    unsetenv("SSL_CERT_FILE");
    char url[128];
    snprintf(url, sizeof(url), "%s/untrusted", base);
    outcome_t o = fetch(&(bf_http_request_t){.url = url, .timeout_s = 10});
    if (o.err != BF_ERR_HTTP || o.status != 0)
        fail_msg("an untrusted certificate: %s, status %ld (want a failure before HTTP)",
                 bf_err_str(o.err), o.status);

    setenv("SSL_CERT_FILE", BF_SOURCE_DIR "/tests/data/tls/loopback.crt", 1);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char errstr[256];
    bf_http_t *http = bf_http_new(&loop, 0, errstr, sizeof(errstr));
    if (!http)
        fail_msg("bf_http_new: %s", errstr);
    /* 300 at once before any answer: lanes of 128, as over HTTP/1.1. */
    round_t first = run_round(&loop, http, base, holder, MANY, 0);
    if (first.ok != MANY || first.h2 != MANY)
        fail_msg("first round: %d of %d answered right, %d over HTTP/2", first.ok, MANY,
                 first.h2);
    /* Then one HTTPS lane carries all 300: the plain one made at the start
     * and the first HTTPS lane stay open; the others closed as they
     * emptied, and are not needed again. */
    round_t second = run_round(&loop, http, base, holder, MANY, 1);
    if (second.ok != MANY || second.h2 != MANY || second.lanes_open_max != 2 ||
        bf_http_lanes_open(http) != 2)
        fail_msg("second round: %d of %d answered right, %d over HTTP/2, up to %zu lanes "
                 "open, %zu at the end, of %zu made (want 2)",
                 second.ok, MANY, second.h2, second.lanes_open_max,
                 bf_http_lanes_open(http), bf_http_lanes(http));
    close_client(&loop, http);
}

/* A host name goes through curl's threaded resolver, which polls one end
 * of a socket pair it then closes itself (not through the close-socket
 * callback): a client that kept polling that descriptor held its number
 * in libuv after the close (a poll taken on the next socket with that
 * number failed with EEXIST). This machine's own name, where it is a loopback address,
 * resolves without a DNS server (/etc/hosts). */
static void test_a_host_name_goes_through_the_resolver(void **unused)
{
    (void)unused;
    char host[256];
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM},
                    *ai = NULL;
    if (gethostname(host, sizeof(host)) != 0 ||
        getaddrinfo(host, NULL, &hints, &ai) != 0) {
        print_message("skipped: this machine's name does not resolve\n");
        skip();
    }
    struct sockaddr_in addr = *(struct sockaddr_in *)ai->ai_addr;
    freeaddrinfo(ai);
    if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
        print_message("skipped: %s is not a loopback address here\n", host);
        skip();
    }
    holder_t holder = {.lock = PTHREAD_MUTEX_INITIALIZER,
                       .cond = PTHREAD_COND_INITIALIZER};
    addr.sin_port = 0;
    char base[320];
    struct MHD_Daemon *d = start_holder(&holder, &addr, host, base, sizeof(base));
    for (int pass = 0; pass < 3; pass++) { /* a fresh client: a resolve each time */
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        char errstr[256];
        bf_http_t *http = bf_http_new(&loop, 300, errstr, sizeof(errstr));
        assert_non_null(http);
        round_t r = run_round(&loop, http, base, &holder, 1, pass);
        if (r.ok != MANY)
            fail_msg("pass %d: %d of %d answered right", pass, r.ok, MANY);
        /* The descriptors the resolver let go are free for anyone on the
         * loop (a Redis reconnect, say): libuv takes a poll on each. */
        int fds[8];
        uv_poll_t polls[8];
        for (int i = 0; i < 8; i++) {
            fds[i] = socket(AF_INET, SOCK_STREAM, 0);
            int rc = uv_poll_init_socket(&loop, &polls[i], fds[i]);
            if (rc != 0)
                fail_msg("pass %d: descriptor %d: %s (a closed socket still polled)",
                         pass, fds[i], uv_strerror(rc));
        }
        for (int i = 0; i < 8; i++)
            uv_close((uv_handle_t *)&polls[i], NULL);
        uv_run(&loop, UV_RUN_NOWAIT);
        for (int i = 0; i < 8; i++)
            close(fds[i]);
        close_client(&loop, http);
    }
    MHD_stop_daemon(d);
}

static void test_urls_are_redacted_before_logging(void **unused)
{
    (void)unused;
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"https://user:pa55@registry.example:8081/subjects",
         "https://***@registry.example:8081/subjects"},
        {"http://user@host/x", "http://***@host/x"},
        {"http://u:p@w@host:1/", "http://***@host:1/"}, /* the last @ ends userinfo */
        {"redis://:secret@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"},
        {"user:pw@host:1", "***@host:1"},
        {"http://host/path@not-userinfo", "http://host/path@not-userinfo"},
        {"http://host/?q=a@b", "http://host/?q=a@b"},
        {"http://host:8081", "http://host:8081"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        bf_http_url_redact(cases[i].url, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%s -> %s, want %s", cases[i].url, out, cases[i].want);
    }
    char small[8];
    bf_http_url_redact("https://user:pa55@host/", small, sizeof(small));
    assert_null(strstr(small, "pa55"));
    assert_true(strlen(small) < sizeof(small));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_returns_the_servers_status_and_body),
        cmocka_unit_test(test_post_sends_its_body_whole),
        cmocka_unit_test(test_a_server_slower_than_the_timeout_times_out),
        cmocka_unit_test(test_nothing_listening_is_unreachable),
        cmocka_unit_test(test_a_body_over_max_response_is_too_large),
        cmocka_unit_test(test_many_transfers_spread_over_lanes_and_reuse_connections),
        cmocka_unit_test_setup_teardown(test_https_over_http2_shares_one_lane, tls_setup,
                                        tls_teardown),
        cmocka_unit_test(test_a_host_name_goes_through_the_resolver),
        cmocka_unit_test(test_urls_are_redacted_before_logging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
