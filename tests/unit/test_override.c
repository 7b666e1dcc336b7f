/*
 * test_override.c - the manual scale override (autoscaler/override.c):
 * the PUT body's rules as a table, the bearer token check, what the
 * override does to a decision (--max and the budget still cap it), its
 * expiry, and the endpoint over real HTTP on loopback through the
 * autoscaler's telemetry server: disabled without a token (403), 401 with
 * a challenge for a missing or wrong token, 400 with a message for a bad
 * body, 200 for the right one, and the gauge in /metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "autoscaler/override.h"
#include "autoscaler/telemetry.h"
#include "support/stack.h"

#define TOKEN "tok-3a9f1c7e5b"

static void test_put_bodies_are_checked_field_by_field(void **unused)
{
    (void)unused;
    static const struct {
        const char *body;
        bf_err_t err;
        const char *message; /* a part of errstr, or NULL */
    } cases[] = {
        {"{\"replicas\":3,\"ttl_seconds\":600,\"reason\":\"incident 42\"}", BF_OK, NULL},
        {"{\"replicas\":0,\"ttl_seconds\":0.5,\"reason\":\"drain\"}", BF_OK, NULL},
        {"{\"replicas\":1024,\"ttl_seconds\":604800,\"reason\":\"r\"}", BF_OK, NULL},
        {"", BF_ERR_PARSE, "not JSON"},
        {"{\"replicas\":3,", BF_ERR_PARSE, "not JSON"},
        {"[3]", BF_ERR_SCHEMA, "JSON object"},
        {"{\"replicas\":3,\"ttl_seconds\":60,\"reason\":\"a\",\"replica\":4}",
         BF_ERR_SCHEMA, "unknown field"},
        {"{\"replicas\":3,\"replicas\":4,\"ttl_seconds\":60,\"reason\":\"a\"}",
         BF_ERR_PARSE, "not JSON"},
        {"{\"ttl_seconds\":60,\"reason\":\"a\"}", BF_ERR_SCHEMA, "replicas"},
        {"{\"replicas\":-1,\"ttl_seconds\":60,\"reason\":\"a\"}", BF_ERR_SCHEMA,
         "replicas"},
        {"{\"replicas\":1025,\"ttl_seconds\":60,\"reason\":\"a\"}", BF_ERR_SCHEMA,
         "replicas"},
        {"{\"replicas\":2.5,\"ttl_seconds\":60,\"reason\":\"a\"}", BF_ERR_SCHEMA,
         "replicas"},
        {"{\"replicas\":\"3\",\"ttl_seconds\":60,\"reason\":\"a\"}", BF_ERR_SCHEMA,
         "replicas"},
        {"{\"replicas\":3,\"reason\":\"a\"}", BF_ERR_SCHEMA, "ttl_seconds"},
        {"{\"replicas\":3,\"ttl_seconds\":0,\"reason\":\"a\"}", BF_ERR_SCHEMA,
         "ttl_seconds"},
        {"{\"replicas\":3,\"ttl_seconds\":604801,\"reason\":\"a\"}", BF_ERR_SCHEMA,
         "ttl_seconds"},
        {"{\"replicas\":3,\"ttl_seconds\":60}", BF_ERR_SCHEMA, "reason"},
        {"{\"replicas\":3,\"ttl_seconds\":60,\"reason\":\"\"}", BF_ERR_SCHEMA, "reason"},
        {"{\"replicas\":3,\"ttl_seconds\":60,\"reason\":\"two\\nlines\"}", BF_ERR_SCHEMA,
         "reason"},
        /* jansson refuses \u0000 itself (no JSON_ALLOW_NUL) */
        {"{\"replicas\":3,\"ttl_seconds\":60,\"reason\":\"nul\\u0000inside\"}",
         BF_ERR_PARSE, "not JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_override_state_t st;
        char errstr[256] = "";
        bf_err_t err = bf_override_parse(cases[i].body, strlen(cases[i].body), &st,
                                         errstr, sizeof(errstr));
        if (err != cases[i].err)
            fail_msg("case %zu (%s): %s, want %s (%s)", i, cases[i].body,
                     bf_err_name(err), bf_err_name(cases[i].err), errstr);
        if (cases[i].message && !strstr(errstr, cases[i].message))
            fail_msg("case %zu: \"%s\" does not mention %s", i, errstr, cases[i].message);
        assert_true(err == BF_OK ? st.active : !st.active);
    }
    /* A reason of exactly the limit is kept whole; one byte more is not. */
    char body[512], reason[BF_OVERRIDE_MAX_REASON + 2];
    memset(reason, 'x', sizeof(reason) - 1);
    reason[BF_OVERRIDE_MAX_REASON] = '\0';
    snprintf(body, sizeof(body), "{\"replicas\":2,\"ttl_seconds\":9,\"reason\":\"%s\"}",
             reason);
    bf_override_state_t st;
    char errstr[256];
    assert_int_equal(bf_override_parse(body, strlen(body), &st, errstr, sizeof(errstr)),
                     BF_OK);
    assert_string_equal(st.reason, reason);
    reason[BF_OVERRIDE_MAX_REASON] = 'x';
    reason[BF_OVERRIDE_MAX_REASON + 1] = '\0';
    snprintf(body, sizeof(body), "{\"replicas\":2,\"ttl_seconds\":9,\"reason\":\"%s\"}",
             reason);
    assert_int_equal(bf_override_parse(body, strlen(body), &st, errstr, sizeof(errstr)),
                     BF_ERR_SCHEMA);
}

static void test_only_the_configured_bearer_token_is_authorized(void **unused)
{
    (void)unused;
    bf_override_t *off = bf_override_new(NULL, 4);
    assert_int_equal(bf_override_authorize(off, "Bearer " TOKEN), 403);
    assert_int_equal(bf_override_authorize(off, NULL), 403);
    bf_override_destroy(off);
    off = bf_override_new("", 4); /* an empty token is no token */
    assert_int_equal(bf_override_authorize(off, "Bearer "), 403);
    bf_override_destroy(off);

    bf_override_t *ov = bf_override_new(TOKEN, 4);
    assert_int_equal(bf_override_authorize(ov, "Bearer " TOKEN), 200);
    assert_int_equal(bf_override_authorize(ov, "bearer  " TOKEN), 200);
    assert_int_equal(bf_override_authorize(ov, NULL), 401);
    assert_int_equal(bf_override_authorize(ov, ""), 401);
    assert_int_equal(bf_override_authorize(ov, TOKEN), 401);
    assert_int_equal(bf_override_authorize(ov, "Basic " TOKEN), 401);
    assert_int_equal(bf_override_authorize(ov, "Bearer "), 401);
    assert_int_equal(bf_override_authorize(ov, "Bearer tok-3a9f1c7e5"), 401);
    assert_int_equal(bf_override_authorize(ov, "Bearer " TOKEN "0"), 401);
    assert_int_equal(bf_override_authorize(ov, "Bearer TOK-3A9F1C7E5B"), 401);
    bf_override_destroy(ov);
}

static bf_decision_t rule_decision(int64_t current, int64_t target)
{
    bf_decision_t d = {.action = target > current   ? BF_SCALE_UP
                                 : target < current ? BF_SCALE_DOWN
                                                    : BF_SCALE_HOLD,
                       .current_workers = current,
                       .desired_workers = target,
                       .target_workers = target};
    snprintf(d.reasoning, sizeof(d.reasoning), "lag 0 needs %lld", (long long)target);
    return d;
}

static void test_override_wins_over_the_rule_but_not_max_or_budget(void **unused)
{
    (void)unused;
    bf_decide_policy_t policy = {.min_workers = 1, .max_workers = 6};
    static const struct {
        const char *story;
        int64_t replicas, current, rule;
        bool budget_limited;
        int64_t budget_allows;
        int64_t want;
        bf_scale_action_t action;
        const char *says; /* in the reasoning */
    } cases[] = {
        {"pinned above the rule", 4, 2, 1, false, 0, 4, BF_SCALE_UP,
         "manual override to 4 workers (\"incident 42\", 60s left); the rule wanted 1: "
         "lag 0 needs 1"},
        {"below --min: drains the fleet", 0, 2, 2, false, 0, 0, BF_SCALE_DOWN,
         "override to 0 workers ("},
        {"never above --max", 50, 2, 2, false, 0, 6, BF_SCALE_UP, "capped at --max"},
        {"the budget blocks growth", 5, 2, 2, true, 3, 3, BF_SCALE_UP,
         "held back by the budget"},
        {"the budget does not shrink a larger fleet", 5, 4, 4, true, 1, 4, BF_SCALE_HOLD,
         "held back by the budget"},
        {"scaling down is never held back", 2, 4, 4, true, 1, 2, BF_SCALE_DOWN,
         "override to 2 workers ("},
        {"pinned at the current count", 3, 3, 5, false, 0, 3, BF_SCALE_HOLD,
         "the rule wanted 5"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_override_state_t st = {.active = true,
                                  .replicas = cases[i].replicas,
                                  .ttl_s = 60,
                                  .expires_in_s = 59.2};
        snprintf(st.reason, sizeof(st.reason), "incident 42");
        bf_budget_status_t budget = {.limited = cases[i].budget_limited,
                                     .allowed_workers = cases[i].budget_allows};
        bf_decision_t d = rule_decision(cases[i].current, cases[i].rule);
        bf_override_apply(&st, &policy, &budget, &d);
        if (d.target_workers != cases[i].want || d.action != cases[i].action ||
            !strstr(d.reasoning, cases[i].says))
            fail_msg("%s: target %lld %s \"%s\"", cases[i].story,
                     (long long)d.target_workers, bf_scale_action_name(d.action),
                     d.reasoning);
        assert_true(d.overridden);
        assert_int_equal(d.override_replicas, cases[i].replicas);
    }

    /* no override: the rule's decision untouched */
    bf_override_state_t none = {0};
    bf_budget_status_t no_budget = {0};
    bf_decision_t d = rule_decision(2, 3);
    bf_decision_t before = d;
    bf_override_apply(&none, &policy, &no_budget, &d);
    assert_memory_equal(&d, &before, sizeof(d));
}

static void test_override_expires_after_its_ttl(void **unused)
{
    (void)unused;
    bf_override_t *ov = bf_override_new(TOKEN, 4);
    bf_override_state_t st = {.active = true, .replicas = 3, .ttl_s = 10};
    snprintf(st.reason, sizeof(st.reason), "load test");
    bf_override_set(ov, &st, 100.0);
    bf_override_state_t now;
    bf_override_get(ov, 105.0, &now);
    assert_true(now.active);
    assert_int_equal(now.replicas, 3);
    assert_true(now.expires_in_s > 4.9 && now.expires_in_s < 5.1);
    bf_override_get(ov, 110.0, &now);
    assert_false(now.active);
    bf_override_get(ov, 105.0, &now); /* gone for good, not back in the past */
    assert_false(now.active);
    bf_override_set(ov, &st, 200.0);
    assert_true(bf_override_clear(ov, "deleted"));
    assert_false(bf_override_clear(ov, "deleted"));
    bf_override_get(ov, 201.0, &now);
    assert_false(now.active);
    bf_override_destroy(ov);
}

/* ---- over HTTP ------------------------------------------------------------ */

typedef struct reply_s {
    long status;
    char *body;
    bool challenge; /* WWW-Authenticate: Bearer ... */
} reply_t;

static reply_t call(int port, const char *method, const char *auth, const char *body)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/override", port);
    reply_t r = {0};
    r.body = bf_test_http_call(method, url, auth, body, &r.status, &r.challenge);
    assert_non_null(r.body);
    return r;
}

static void test_endpoint_without_a_token_is_disabled(void **unused)
{
    (void)unused;
    char errstr[256];
    bf_autoscaler_telemetry_t *t =
        bf_autoscaler_telemetry_new("127.0.0.1:0", "none", errstr, sizeof(errstr));
    assert_non_null(t);
    bf_override_t *ov = bf_override_new(NULL, 4);
    bf_autoscaler_telemetry_serve_override(t, ov);
    static const char *const methods[] = {"GET", "PUT", "DELETE"};
    for (size_t i = 0; i < 3; i++) {
        reply_t r = call(bf_autoscaler_telemetry_port(t), methods[i], "Bearer " TOKEN,
                         "{\"replicas\":3,\"ttl_seconds\":60,\"reason\":\"x\"}");
        assert_int_equal(r.status, 403);
        assert_non_null(strstr(r.body, "AUTOSCALER_ADMIN_TOKEN"));
        free(r.body);
    }
    bf_override_state_t st;
    bf_override_get(ov, 0, &st);
    assert_false(st.active);
    bf_autoscaler_telemetry_destroy(t);
    bf_override_destroy(ov);
}

static void test_endpoint_sets_shows_and_clears_the_override(void **unused)
{
    (void)unused;
    char errstr[256], url[128];
    bf_autoscaler_telemetry_t *t =
        bf_autoscaler_telemetry_new("127.0.0.1:0", "none", errstr, sizeof(errstr));
    assert_non_null(t);
    bf_override_t *ov = bf_override_new(TOKEN, 4);
    bf_autoscaler_telemetry_serve_override(t, ov);
    int port = bf_autoscaler_telemetry_port(t);
    const char *put = "{\"replicas\":3,\"ttl_seconds\":600,\"reason\":\"incident 42\"}";

    reply_t r = call(port, "PUT", NULL, put);
    assert_int_equal(r.status, 401);
    assert_true(r.challenge);
    free(r.body);
    r = call(port, "PUT", "Bearer not-the-token", put);
    assert_int_equal(r.status, 401);
    assert_true(r.challenge);
    free(r.body);
    r = call(port, "PUT", "Bearer " TOKEN, "{\"replicas\":3,");
    assert_int_equal(r.status, 400);
    json_t *o = json_loads(r.body, 0, NULL);
    assert_non_null(strstr(json_string_value(json_object_get(o, "error")), "not JSON"));
    json_decref(o);
    free(r.body);
    bf_override_state_t st;
    bf_override_get(ov, 0, &st);
    assert_false(st.active); /* nothing refused was applied */

    r = call(port, "PUT", "Bearer " TOKEN, put);
    assert_int_equal(r.status, 200);
    o = json_loads(r.body, 0, NULL);
    json_t *got = json_object_get(o, "override");
    assert_int_equal(json_integer_value(json_object_get(got, "replicas")), 3);
    assert_int_equal(json_integer_value(json_object_get(got, "max")), 4);
    assert_string_equal(json_string_value(json_object_get(got, "reason")), "incident 42");
    json_decref(o);
    free(r.body);

    /* The next decision the control loop makes takes it (control.c calls
     * exactly these two). */
    bf_override_get(ov, bf_test_now(), &st);
    assert_true(st.active);
    bf_decide_policy_t policy = {.min_workers = 1, .max_workers = 4};
    bf_decision_t d = rule_decision(1, 1);
    bf_override_apply(&st, &policy, NULL, &d);
    assert_int_equal(d.target_workers, 3);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    long status = 0;
    char *metrics = bf_test_http_get(url, &status);
    assert_non_null(strstr(metrics, "bountyfleet_autoscaler_override_replicas 3"));
    free(metrics);

    r = call(port, "GET", "Bearer " TOKEN, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"replicas\":3"));
    free(r.body);
    r = call(port, "POST", "Bearer " TOKEN, put);
    assert_int_equal(r.status, 405);
    free(r.body);
    r = call(port, "DELETE", "Bearer " TOKEN, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"override\":null}");
    free(r.body);
    bf_override_get(ov, bf_test_now(), &st);
    assert_false(st.active);
    metrics = bf_test_http_get(url, &status);
    assert_non_null(strstr(metrics, "bountyfleet_autoscaler_override_replicas -1"));
    free(metrics);

    /* A short TTL runs out by itself. */
    r = call(port, "PUT", "Bearer " TOKEN,
             "{\"replicas\":2,\"ttl_seconds\":0.2,\"reason\":\"blip\"}");
    assert_int_equal(r.status, 200);
    free(r.body);
    double deadline = bf_test_now() + 5 * bf_test_timeout_mult();
    for (bf_override_get(ov, bf_test_now(), &st); st.active && bf_test_now() < deadline;
         bf_override_get(ov, bf_test_now(), &st)) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_false(st.active);
    r = call(port, "GET", "Bearer " TOKEN, NULL);
    assert_string_equal(r.body, "{\"override\":null}");
    free(r.body);
    bf_autoscaler_telemetry_destroy(t);
    bf_override_destroy(ov);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_bodies_are_checked_field_by_field),
        cmocka_unit_test(test_only_the_configured_bearer_token_is_authorized),
        cmocka_unit_test(test_override_wins_over_the_rule_but_not_max_or_budget),
        cmocka_unit_test(test_override_expires_after_its_ttl),
        cmocka_unit_test(test_endpoint_without_a_token_is_disabled),
        cmocka_unit_test(test_endpoint_sets_shows_and_clears_the_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
