/*
 * test_metrics.c - the Prometheus registry's text format and the HTTP
 * endpoint (/metrics, /healthz, /readyz, program routes, limits), served
 * on an ephemeral loopback port and read with libcurl.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "libbf/httpd.h"
#include "libbf/mem.h"
#include "libbf/metrics.h"
#include "support/stack.h"

static void assert_contains(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("missing line:\n%s\nin:\n%s", want, text);
}

static void test_counter_gauge_and_labels_render_in_text_format(void **unused)
{
    (void)unused;
    bf_metrics_t *m = bf_metrics_new();
    bf_metric_t *c = bf_metrics_counter(m, "bountyfleet_reports_validated_total",
                                        "Reports validated, by status.", "status");
    bf_metric_t *g =
        bf_metrics_gauge(m, "bountyfleet_reports_in_flight", "Reports in flight.", NULL);
    bf_series_add(bf_metric_series(c, "VALID"), 2);
    bf_series_add(bf_metric_series(c, "VALID"), 1);
    bf_series_add(bf_metric_series(c, "IN\"VA\\LID\n"), 1);
    bf_series_set(bf_metric_series(g), 7.5);
    /* Declaring again returns the same family. */
    assert_ptr_equal(
        bf_metrics_counter(m, "bountyfleet_reports_validated_total", "x", "status"), c);
    size_t len = 0;
    char *text = bf_metrics_render(m, &len);
    assert_int_equal(len, strlen(text));
    assert_contains(text,
                    "# HELP bountyfleet_reports_validated_total Reports validated, "
                    "by status.\n# TYPE bountyfleet_reports_validated_total counter\n");
    assert_contains(text, "bountyfleet_reports_validated_total{status=\"VALID\"} 3\n");
    assert_contains(
        text, "bountyfleet_reports_validated_total{status=\"IN\\\"VA\\\\LID\\n\"} 1\n");
    assert_contains(text, "# TYPE bountyfleet_reports_in_flight gauge\n"
                          "bountyfleet_reports_in_flight 7.5\n");
    free(text);
    bf_metrics_destroy(m);
}

static void test_histogram_buckets_are_cumulative_with_sum_and_count(void **unused)
{
    (void)unused;
    bf_metrics_t *m = bf_metrics_new();
    static const double bounds[] = {0.1, 1, 10};
    bf_metric_t *h = bf_metrics_histogram(m, "bountyfleet_ai_request_duration_seconds",
                                          "AI call latency.", "provider,kind", bounds, 3);
    bf_series_t *s = bf_metric_series(h, "openai", "quality");
    bf_series_observe(s, 0.05);
    bf_series_observe(s, 0.5);
    bf_series_observe(s, 0.5);
    bf_series_observe(s, 100);
    assert_int_equal(bf_series_count(s), 4);
    assert_true(fabs(bf_series_value(s) - 101.05) < 1e-9);
    char *text = bf_metrics_render(m, NULL);
    const char *p = "bountyfleet_ai_request_duration_seconds";
    char want[1024];
    snprintf(want, sizeof(want),
             "%s_bucket{provider=\"openai\",kind=\"quality\",le=\"0.1\"} 1\n"
             "%s_bucket{provider=\"openai\",kind=\"quality\",le=\"1\"} 3\n"
             "%s_bucket{provider=\"openai\",kind=\"quality\",le=\"10\"} 3\n"
             "%s_bucket{provider=\"openai\",kind=\"quality\",le=\"+Inf\"} 4\n"
             "%s_sum{provider=\"openai\",kind=\"quality\"} 101.05\n"
             "%s_count{provider=\"openai\",kind=\"quality\"} 4\n",
             p, p, p, p, p, p);
    assert_contains(text, want);
    free(text);
    bf_metrics_destroy(m);
}

static void test_reset_hides_series_until_updated_again(void **unused)
{
    (void)unused;
    bf_metrics_t *m = bf_metrics_new();
    bf_metric_t *g = bf_metrics_gauge(m, "bountyfleet_consumer_lag", "Lag.", "partition");
    bf_series_t *p0 = bf_metric_series(g, "0");
    bf_series_set(p0, 5);
    bf_series_set(bf_metric_series(g, "1"), 6);
    bf_metric_reset(g);
    char *text = bf_metrics_render(m, NULL);
    assert_null(strstr(text, "bountyfleet_consumer_lag{"));
    free(text);
    bf_series_set(p0, 9);
    text = bf_metrics_render(m, NULL);
    assert_contains(text, "bountyfleet_consumer_lag{partition=\"0\"} 9\n");
    assert_null(strstr(text, "partition=\"1\""));
    free(text);
    bf_metrics_destroy(m);
}

/* promtool (Debian's prometheus package) accepts what we render. */
static void test_promtool_accepts_the_output(void **unused)
{
    (void)unused;
    if (access("/usr/bin/promtool", X_OK) != 0)
        skip();
    bf_metrics_t *m = bf_metrics_new();
    bf_series_add(bf_metric_series(bf_metrics_counter(m, "bountyfleet_reports_dlq_total",
                                                      "Dead letters.", "reason"),
                                   "parse"),
                  1);
    bf_series_observe(
        bf_metric_series(bf_metrics_histogram(m, "bountyfleet_event_loop_lag_seconds",
                                              "Loop lag.", NULL, NULL, 0)),
        0.002);
    bf_series_set(bf_metric_series(bf_metrics_gauge(m, "bountyfleet_usd_spent",
                                                    "Spend in USD.", NULL)),
                  NAN);
    char *text = bf_metrics_render(m, NULL);
    char path[] = "/tmp/bf-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unlink(path);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("promtool: %s\n%s", out, text);
    free(text);
    bf_metrics_destroy(m);
}

/* ---- the HTTP endpoint ------------------------------------------------- */

typedef struct reply_s {
    long status;
    char *body;
    char *type;
} reply_t;

static size_t collect(char *data, size_t size, size_t n, void *opaque)
{
    char **body = opaque;
    size_t old = *body ? strlen(*body) : 0;
    *body = bf_realloc(*body, old + size * n + 1);
    memcpy(*body + old, data, size * n);
    (*body)[old + size * n] = '\0';
    return size * n;
}

static reply_t request(int port, const char *method, const char *path, const char *body,
                       const char *auth)
{
    reply_t r = {0};
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    struct curl_slist *h = NULL;
    if (auth) {
        char line[256];
        snprintf(line, sizeof(line), "Authorization: %s", auth);
        h = curl_slist_append(h, line);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    r.type = bf_strdup(type ? type : "");
    if (!r.body)
        r.body = bf_strdup("");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

static void reply_free(reply_t *r)
{
    free(r->body);
    free(r->type);
}

static void echo_route(void *opaque, const bf_httpd_request_t *req, int *status,
                       const char **type, char **body)
{
    int *calls = opaque;
    (*calls)++;
    if (!req->authorization || strcmp(req->authorization, "Bearer s3cret") != 0) {
        *status = 401;
        *body = bf_strdup("token required\n");
        return;
    }
    *status = 200;
    *type = "application/json";
    *body = bf_asprintf("{\"method\":\"%s\",\"len\":%zu}", req->method, req->body_len);
}

static void test_endpoint_serves_metrics_health_readiness_and_routes(void **unused)
{
    (void)unused;
    bf_metrics_t *m = bf_metrics_new();
    bf_series_add(
        bf_metric_series(bf_metrics_counter(m, "bountyfleet_x_total", "X.", NULL)), 4);
    bf_httpd_t *h = NULL;
    char errstr[256];
    assert_int_equal(bf_httpd_start(&h, "127.0.0.1:0", m, errstr, sizeof(errstr)), BF_OK);
    int port = bf_httpd_port(h);
    assert_true(port > 0);
    int calls = 0;
    bf_httpd_route(h, "/control", echo_route, &calls);

    reply_t r = request(port, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
    assert_contains(r.body, "bountyfleet_x_total 4\n");
    reply_free(&r);

    r = request(port, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);

    r = request(port, "GET", "/readyz", NULL, NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "starting\n");
    reply_free(&r);
    bf_httpd_set_ready(h, true, NULL);
    r = request(port, "GET", "/readyz", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    bf_httpd_set_ready(h, false, "redis unreachable");
    r = request(port, "GET", "/readyz", NULL, NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "redis unreachable\n");
    reply_free(&r);

    r = request(port, "POST", "/metrics", "x", NULL);
    assert_int_equal(r.status, 405);
    reply_free(&r);
    r = request(port, "GET", "/nope", NULL, NULL);
    assert_int_equal(r.status, 404);
    reply_free(&r);

    r = request(port, "POST", "/control", "{\"replicas\":3}", NULL);
    assert_int_equal(r.status, 401);
    reply_free(&r);
    r = request(port, "POST", "/control", "{\"replicas\":3}", "Bearer s3cret");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"method\":\"POST\",\"len\":14}");
    reply_free(&r);
    assert_int_equal(calls, 2);

    /* A body past the bound is refused, not buffered. */
    size_t big = 100 * 1024;
    char *huge = bf_malloc(big + 1);
    memset(huge, 'a', big);
    huge[big] = '\0';
    r = request(port, "POST", "/control", huge, "Bearer s3cret");
    assert_int_equal(r.status, 413);
    reply_free(&r);
    free(huge);
    assert_int_equal(calls, 2);

    bf_httpd_stop(h);
    bf_metrics_destroy(m);
}

static void test_bad_addresses_are_refused_with_a_reason(void **unused)
{
    (void)unused;
    bf_metrics_t *m = bf_metrics_new();
    bf_httpd_t *h = NULL;
    char errstr[256];
    assert_int_equal(bf_httpd_start(&h, "localhost", m, errstr, sizeof(errstr)),
                     BF_ERR_CONFIG);
    assert_non_null(strstr(errstr, "host:port"));
    assert_int_equal(bf_httpd_start(&h, "127.0.0.1:99999", m, errstr, sizeof(errstr)),
                     BF_ERR_CONFIG);
    assert_non_null(strstr(errstr, "bad port"));
    /* Taken port: start one, then ask for the same. */
    bf_httpd_t *first = NULL;
    assert_int_equal(bf_httpd_start(&first, "127.0.0.1:0", m, errstr, sizeof(errstr)),
                     BF_OK);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", bf_httpd_port(first));
    assert_int_equal(bf_httpd_start(&h, addr, m, errstr, sizeof(errstr)), BF_ERR_CONFIG);
    assert_non_null(strstr(errstr, "cannot listen"));
    assert_null(h);
    bf_httpd_stop(first);
    bf_metrics_destroy(m);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_and_labels_render_in_text_format),
        cmocka_unit_test(test_histogram_buckets_are_cumulative_with_sum_and_count),
        cmocka_unit_test(test_reset_hides_series_until_updated_again),
        cmocka_unit_test(test_promtool_accepts_the_output),
        cmocka_unit_test(test_endpoint_serves_metrics_health_readiness_and_routes),
        cmocka_unit_test(test_bad_addresses_are_refused_with_a_reason),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
