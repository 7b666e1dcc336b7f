/*
 * test_http.c - libbf/http.c, the asynchronous client on a libuv loop,
 * against a real HTTP server on loopback (support/http_stub.c): a GET gets
 * the server's status and body, a POST's body arrives whole, a server
 * slower than the request's timeout is BF_ERR_TIMEOUT with the request
 * sent, a port where nothing listens is BF_ERR_HTTP with "unreachable"
 * set (nothing was sent, so another address may be tried), a body over
 * max_response is BF_ERR_TOO_LARGE; and credentials in URLs are redacted
 * before they are logged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "libbf/err.h"
#include "libbf/http.h"
#include "libbf/mem.h"
#include "support/http_stub.h"

/* How long the stub holds a request it is told to be slow on: long against
 * the 0.2 s timeout the test gives, short enough to keep the test fast
 * (stopping the stub waits for it). */
#define SLOW_ANSWER_US 1000000

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
        usleep(SLOW_ANSWER_US);
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
    outcome_t o = fetch_from(&peer, "/", (bf_http_request_t){.timeout_s = 0.2});
    assert_int_equal(o.err, BF_ERR_TIMEOUT);
    assert_int_equal(o.status, 0);
    /* The request reached the server: retrying it elsewhere could do it twice. */
    assert_false(o.unreachable);
    assert_true(o.seconds < SLOW_ANSWER_US / 1e6);
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
        cmocka_unit_test(test_urls_are_redacted_before_logging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
