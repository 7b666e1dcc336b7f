/*
 * test_ai.c - the worker's AI layer (worker/ai.c) against the real AI
 * simulator on loopback, one story per test:
 *
 *   - each provider's request arrives shaped as its API documents (the
 *     simulator captures bodies and headers and validates them like the
 *     real API would), and the tokens and cost the worker counts match
 *     what the simulator billed, prompt-cache reads and writes included;
 *   - with the limit configured right, a burst of calls meets zero 429s;
 *   - with the limit configured ten times too high, 429s slow the layer
 *     down and every call still succeeds;
 *   - a provider that answers 529 is left for the next one in the chain,
 *     with the reason recorded;
 *   - a provider that keeps failing opens its breaker, after which calls
 *     fail fast without reaching it;
 *   - a 401 is not retried; malformed bodies are retried until good.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libbf/http.h"
#include "support/ai_fixture.h"

/* ---- stories ------------------------------------------------------------------ */

static const json_t *captured(const json_t *reqs, const char *provider)
{
    size_t i;
    json_t *q;
    json_array_foreach(reqs, i,
                       q) if (strcmp(json_string_value(json_object_get(q, "provider")),
                                     provider) == 0) return q;
    fail_msg("no captured %s request", provider);
    return NULL;
}

static const char *hdr(const json_t *q, const char *name)
{
    const char *v =
        json_string_value(json_object_get(json_object_get(q, "headers"), name));
    if (!v)
        fail_msg("header %s missing", name);
    return v;
}

static void test_requests_are_shaped_as_each_api_documents(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--capture", "32", "--cache-min-tokens", "0", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t all[] = {BF_AI_OPENAI, BF_AI_ANTHROPIC, BF_AI_GEMINI};
    for (size_t p = 0; p < 3; p++) {
        bf_aitest_run_t r;
        bf_aitest_run_open(&r, &s, &all[p], 1,
                           &(bf_aitest_opts_t){.rpm = 0, .retries = 0});
        bf_aitest_run_analyses(&r, 3);
        if (r.ok != 3)
            fail_msg("%s: %d of 3 ok: %s", bf_ai_provider_name(all[p]), r.ok,
                     r.last_error);
        assert_string_equal(r.last_provider, bf_ai_provider_name(all[p]));
        bf_aitest_run_close(&r);
    }
    json_t *reqs = bf_aitest_sim_get(&s, "/debug/requests");
    assert_int_equal(json_array_size(reqs), 9);

    const json_t *oa = captured(reqs, "openai");
    assert_string_equal(json_string_value(json_object_get(oa, "path")),
                        "/v1/chat/completions");
    assert_string_equal(hdr(oa, "authorization"), "Bearer <redacted 11 bytes>");
    assert_string_equal(hdr(oa, "content-type"), "application/json");
    json_t *body = json_object_get(oa, "body");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(body, "response_format"), "type")),
                        "json_schema");

    const json_t *an = captured(reqs, "anthropic");
    assert_string_equal(json_string_value(json_object_get(an, "path")), "/v1/messages");
    assert_string_equal(hdr(an, "x-api-key"), "<redacted 11 bytes>");
    assert_string_equal(hdr(an, "anthropic-version"), "2023-06-01");
    body = json_object_get(an, "body");
    json_t *sys0 = json_array_get(json_object_get(body, "system"), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(sys0, "cache_control"), "type")),
                        "ephemeral");
    assert_true(json_integer_value(json_object_get(body, "max_tokens")) > 0);

    const json_t *ge = captured(reqs, "gemini");
    assert_string_equal(json_string_value(json_object_get(ge, "path")),
                        "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_string_equal(hdr(ge, "x-goog-api-key"), "<redacted 11 bytes>");
    body = json_object_get(ge, "body");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "generationConfig"),
                                          "responseMimeType")),
        "application/json");
    json_decref(reqs);
    bf_aitest_sim_stop(&s);
}

/* What the worker counts and pays equals what the simulator billed,
 * Anthropic's prompt-cache write on the first call and reads after it
 * included. */
static void test_tokens_and_cost_match_what_the_simulator_billed(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--cache-min-tokens", "0", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t all[] = {BF_AI_OPENAI, BF_AI_ANTHROPIC, BF_AI_GEMINI};
    bf_metrics_t *m = bf_metrics_new();
    for (size_t p = 0; p < 3; p++) {
        const char *name = bf_ai_provider_name(all[p]);
        bf_aitest_run_t r;
        bf_aitest_run_open(&r, &s, &all[p], 1, &(bf_aitest_opts_t){.metrics = m});
        bf_aitest_run_analyses(&r, 6);
        assert_int_equal(r.ok, 6);
        long long prompt = bf_aitest_sim_count(&s, name, "prompt_tokens");
        long long completion = bf_aitest_sim_count(&s, name, "completion_tokens");
        long long cached = bf_aitest_sim_count(&s, name, "cached_tokens");
        long long written = bf_aitest_sim_count(&s, name, "cache_write_tokens");
        assert_int_equal(r.tokens_in, prompt);
        assert_int_equal(r.tokens_out, completion);
        assert_int_equal(r.tokens_cached, cached);
        const bf_price_t *pr = &bf_aitest_prices()->items[p];
        double want =
            ((double)(prompt - cached) * pr->input + (double)cached * pr->cached_input +
             (double)completion * pr->output + 0.25 * (double)written * pr->input) /
            1e6;
        if (r.cost < want - 1e-12 || r.cost > want + 1e-12)
            fail_msg("%s: cost %.12f, want %.12f", name, r.cost, want);
        assert_true(bf_ai_cost_total(r.ai) > want - 1e-12);
        if (all[p] == BF_AI_ANTHROPIC) {
            assert_true(written > 0); /* the first call of each system prompt */
            assert_true(cached > 0);  /* the calls after it */
        }
        bf_aitest_run_close(&r);
    }
    /* The same numbers in the metrics of ops/METRICS.md. */
    char *text = bf_metrics_render(m, NULL);
    static const char *const lines[] = {
        "bountyfleet_ai_requests_total{provider=\"anthropic\",kind=\"quality\","
        "outcome=\"ok\"} 2",
        "bountyfleet_ai_request_duration_seconds_count{provider=\"gemini\","
        "kind=\"severity\"} 2",
        "bountyfleet_ai_calls_in_flight 0",
        "bountyfleet_ai_circuit_state{provider=\"openai\"} 0",
        "bountyfleet_ai_tokens_total{provider=\"anthropic\",model=\"claude-3-5-haiku\","
        "type=\"cached_input\"}",
        "bountyfleet_ai_cost_usd_total{provider=\"gemini\",model=\"gemini-2.0-flash\"}",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        if (!strstr(text, lines[i]))
            fail_msg("metrics lack '%s' in:\n%s", lines[i], text);
    free(text);
    bf_metrics_destroy(m);
    bf_aitest_sim_stop(&s);
}

/* A rejected answer is billed all the same: with a third of the answers
 * off the schema, the worker still counts every token the simulator
 * billed, and each analysis's cost includes its rejected attempts. */
static void test_rejected_answers_are_paid_for(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--bad-answer-rate", "0.35", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t all[] = {BF_AI_OPENAI, BF_AI_ANTHROPIC, BF_AI_GEMINI};
    for (size_t p = 0; p < 3; p++) {
        const char *name = bf_ai_provider_name(all[p]);
        bf_aitest_run_t r;
        bf_aitest_run_open(&r, &s, &all[p], 1, &(bf_aitest_opts_t){.retries = 20});
        bf_aitest_run_analyses(&r, 9);
        assert_int_equal(r.ok, 9);
        long long prompt = bf_aitest_sim_count(&s, name, "prompt_tokens");
        long long completion = bf_aitest_sim_count(&s, name, "completion_tokens");
        assert_true(bf_aitest_sim_count(&s, name, "requests") >
                    9); /* some were rejected */
        const bf_price_t *pr = &bf_aitest_prices()->items[p];
        double want =
            ((double)prompt * pr->input + (double)completion * pr->output) / 1e6;
        double total = bf_ai_cost_total(r.ai);
        if (total < want - 1e-12 || total > want + 1e-12)
            fail_msg("%s: paid %.12f, billed %.12f", name, total, want);
        if (r.cost < want - 1e-12 || r.cost > want + 1e-12)
            fail_msg("%s: results say %.12f, billed %.12f", name, r.cost, want);
        bf_aitest_run_close(&r);
    }
    bf_aitest_sim_stop(&s);
}

static void test_correct_limit_means_zero_429s(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--rpm", "1200", "--latency-ms", "5", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_OPENAI};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 1, &(bf_aitest_opts_t){.rpm = 1200, .retries = 3});
    bf_aitest_run_analyses(&r, 150);
    assert_int_equal(r.ok, 150);
    assert_int_equal(bf_aitest_sim_status(&s, "openai", "429"), 0);
    assert_int_equal(bf_aitest_sim_status(&s, "openai", "200"), 150);
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

static void test_limit_set_too_high_recovers_through_429s(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--rpm", "600", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_ANTHROPIC};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 1, &(bf_aitest_opts_t){.rpm = 6000, .retries = 8});
    bf_aitest_run_analyses(&r, 60);
    if (r.ok != 60)
        fail_msg("%d of 60 ok: %s", r.ok, r.last_error);
    assert_true(bf_aitest_sim_status(&s, "anthropic", "429") > 0);
    assert_int_equal(bf_aitest_sim_status(&s, "anthropic", "200"), 60);
    assert_int_equal(bf_ai_breaker_state(r.ai, 0), BF_BREAKER_CLOSED);
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

static void test_failing_provider_falls_back_with_the_reason(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {
        "--error-rate", "1", "--error-status", "529", "--fault-providers",
        "anthropic",    NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_ANTHROPIC, BF_AI_OPENAI};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 2, &(bf_aitest_opts_t){.rpm = 0, .retries = 1});
    bf_aitest_run_analyses(&r, 3);
    assert_int_equal(r.ok, 3);
    assert_string_equal(r.last_provider, "openai");
    assert_non_null(strstr(r.last_fallback, "anthropic: HTTP 529"));
    assert_non_null(strstr(r.last_fallback, "overloaded_error"));
    assert_int_equal(bf_aitest_sim_status(&s, "anthropic", "529"),
                     6); /* 1 try + 1 retry each */
    char url[300];
    snprintf(url, sizeof(url), "%s/metrics", s.root);
    long status = 0;
    char *metrics = bf_test_http_get(url, &status);
    assert_non_null(metrics);
    assert_non_null(strstr(
        metrics,
        "bountyfleet_aisim_requests_total{provider=\"anthropic\",status=\"529\"} 6"));
    free(metrics);
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

static void test_breaker_opens_and_later_calls_fail_fast(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--error-rate", "1", "--error-status", "500", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_GEMINI};
    const bf_breaker_config_t breaker = {.consecutive_failures = 3, .cooldown_s = 600};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 1,
                       &(bf_aitest_opts_t){.rpm = 0, .retries = 2, .breaker = &breaker});
    bf_aitest_run_analyses(&r, 1); /* three attempts, three 500s: the breaker opens */
    assert_int_equal(r.ok, 0);
    assert_int_equal(bf_ai_breaker_state(r.ai, 0), BF_BREAKER_OPEN);
    bf_aitest_run_analyses(&r, 5);
    assert_int_equal(r.ok, 0);
    assert_non_null(strstr(r.last_error, "circuit open"));
    assert_int_equal(bf_aitest_sim_count(&s, "gemini", "requests"), 3);
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

/* During an outage a call with a deadline is not failed at the first open
 * circuit: it waits for the cool-down and probes (HALF_OPEN); it fails
 * only when its own tries are spent (or its deadline passes). */
static void test_open_circuit_is_waited_out_within_the_deadline(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--error-rate", "1", "--error-status", "503", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_OPENAI};
    const bf_breaker_config_t breaker = {.consecutive_failures = 2, .cooldown_s = 0.2};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 1,
                       &(bf_aitest_opts_t){.rpm = 0, .retries = 1, .breaker = &breaker});
    bf_aitest_run_analyses(&r, 1); /* two 503s: open */
    assert_int_equal(bf_ai_breaker_state(r.ai, 0), BF_BREAKER_OPEN);
    assert_false(bf_ai_available(r.ai));
    r.deadline_s = 1.5 * bf_test_timeout_mult();
    bf_aitest_run_analyses(&r, 1);
    assert_int_equal(r.ok, 0);
    assert_non_null(strstr(r.last_error, "circuit open"));
    if (!strstr(r.last_error, "HTTP 503"))
        fail_msg("error: %s", r.last_error);
    assert_true(bf_aitest_sim_count(&s, "openai", "requests") >= 3); /* probes went out */
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

/* Tokens/min: the layer takes its estimate before each call and settles
 * it with the billed usage after; configured like the simulator, it meets
 * no 429. */
static void test_tokens_per_minute_limit_is_respected(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--tpm", "30000", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_GEMINI};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 1, &(bf_aitest_opts_t){.tpm = 30000, .retries = 3});
    bf_aitest_run_analyses(&r, 60);
    assert_int_equal(r.ok, 60);
    assert_int_equal(bf_aitest_sim_status(&s, "gemini", "429"), 0);
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

/* A provider that never answers some calls: the per-call timeout ends
 * them and the retry gets through. */
static void test_timeouts_are_retried(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--timeout-rate", "0.3", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_OPENAI};
    bf_metrics_t *m = bf_metrics_new();
    const bf_breaker_config_t breaker = {.consecutive_failures = 1000, .cooldown_s = 1};
    bf_aitest_run_t r;
    bf_aitest_run_open(
        &r, &s, chain, 1,
        &(bf_aitest_opts_t){
            .retries = 10, .timeout_s = 0.5, .breaker = &breaker, .metrics = m});
    bf_aitest_run_analyses(&r, 12);
    assert_int_equal(r.ok, 12);
    char *text = bf_metrics_render(m, NULL);
    if (!strstr(text, "outcome=\"timeout\""))
        fail_msg("no timeouts counted:\n%s", text);
    free(text);
    bf_aitest_run_close(&r);
    bf_metrics_destroy(m);
    bf_aitest_sim_stop(&s);
}

static void test_auth_error_is_not_retried(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    bf_aitest_sim_start(&s, NULL);
    const bf_ai_provider_t chain[] = {BF_AI_OPENAI};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 1,
                       &(bf_aitest_opts_t){.retries = 5, .api_key = "wrong-key"});
    bf_aitest_run_analyses(&r, 1);
    assert_int_equal(r.ok, 0);
    assert_non_null(strstr(r.last_error, "HTTP 401"));
    assert_int_equal(bf_aitest_sim_count(&s, "openai", "requests"), 1);
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

static void test_malformed_bodies_are_retried_until_good(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--malformed-rate", "0.5", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_ANTHROPIC};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 1, &(bf_aitest_opts_t){.rpm = 0, .retries = 10});
    bf_aitest_run_analyses(&r, 20);
    assert_int_equal(r.ok, 20);
    assert_true(bf_aitest_sim_count(&s, "anthropic", "requests") > 20);
    bf_aitest_run_close(&r);
    bf_aitest_sim_stop(&s);
}

/* The same content analysed again, by a new layer (as after a restart
 * or on another worker): answered from Redis, nothing sent, nothing paid. */
static void test_same_content_is_never_paid_twice(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    bf_aitest_sim_start(&s, NULL);
    bf_proc_t redis;
    char url[128];
    bf_aitest_redis_start(&redis, s.tmpdir, url, sizeof(url));
    const bf_ai_provider_t chain[] = {BF_AI_ANTHROPIC, BF_AI_OPENAI};
    for (int round = 0; round < 2; round++) {
        bf_aitest_run_t r;
        bf_aitest_run_open(&r, &s, chain, 2, &(bf_aitest_opts_t){.redis_url = url});
        r.fixed_id = "same-report";
        bf_aitest_run_analyses(&r, 3);
        assert_int_equal(r.ok, 3);
        assert_int_equal(r.cached, round == 0 ? 0 : 3);
        if (round == 1)
            assert_true(r.cost == 0);
        assert_string_equal(r.last_provider, "anthropic");
        bf_aitest_run_close(&r);
        assert_int_equal(bf_aitest_sim_count(&s, "anthropic", "requests"), 3);
    }
    bf_proc_stop(&redis, SIGTERM, 5);
    bf_aitest_sim_stop(&s);
}

/* What one analysis of bf_ai_analyse_many() settled with. */
typedef struct kind_out_s {
    bf_aitest_run_t *r;
    int settled; /* times its callback ran */
    bf_err_t err;
    bool cached;
    double score;
    char provider[32];
} kind_out_t;

static void on_kind_result(const bf_ai_result_t *res, void *opaque)
{
    kind_out_t *o = opaque;
    o->settled++;
    o->err = res->err;
    o->cached = res->cached;
    o->score = res->err == BF_OK ? res->verdict->score : -1;
    snprintf(o->provider, sizeof(o->provider), "%s", res->provider);
    bf_aitest_on_result(res, o->r);
}

/* Start every analysis of one report @p id together, the worker's way
 * (bf_ai_analyse_many), each settling into its own out[k]; @p uncached as
 * the worker marks a report whose claim took new content. */
static void analyse_report(bf_aitest_run_t *r, const char *id, kind_out_t *out,
                           bool uncached)
{
    json_t *rep = json_pack("{s:s, s:s, s:s}", "report_id", id, "title",
                            "Stored XSS in profile name", "description",
                            "1. Set name to <script>. 2. Visit profile.");
    bf_ai_input_t *in = bf_ai_input_new(rep);
    in->uncached = uncached;
    bf_analysis_kind_t kinds[BF_ANALYSIS__COUNT];
    void *opaques[BF_ANALYSIS__COUNT];
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
        out[k] = (kind_out_t){.r = r, .score = -1};
        kinds[k] = (bf_analysis_kind_t)k;
        opaques[k] = &out[k];
    }
    r->target = r->done + BF_ANALYSIS__COUNT;
    bf_ai_analyse_many(r->ai, BF_ANALYSIS__COUNT, kinds, in, 0, on_kind_result, opaques);
    bf_ai_input_release(in);
    json_decref(rep);
}

/* Redis's count of @p command calls since it started. */
static long redis_calls(const char *url, const char *command)
{
    int port = (int)strtol(strrchr(url, ':') + 1, NULL, 10);
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){2, 0});
    assert_true(c && !c->err);
    redisReply *info = redisCommand(c, "INFO commandstats");
    assert_true(info && info->type == REDIS_REPLY_STRING);
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", command);
    const char *at = strstr(info->str, key);
    long calls = at ? strtol(at + strlen(key), NULL, 10) : 0;
    freeReplyObject(info);
    redisFree(c);
    return calls;
}

/* The worker's way: the three analyses of a report start together and ask
 * Redis for their cached answers in one MGET (three keys per provider of
 * the chain). Each analysis gets its own answer back, also when it is the
 * second provider's: answers stored by a layer with OpenAI alone are found
 * by a chain that tries Anthropic first, nothing is sent, and the scores
 * are those of the first round, kind by kind. With @p new_first the first
 * round's report is marked new, as the worker marks one (the test below). */
static void analyse_twice(bool new_first)
{
    bf_aitest_sim_t s;
    bf_aitest_sim_start(&s, NULL);
    bf_proc_t redis;
    char url[128];
    bf_aitest_redis_start(&redis, s.tmpdir, url, sizeof(url));
    const bf_ai_provider_t first[] = {BF_AI_OPENAI};
    const bf_ai_provider_t second[] = {BF_AI_ANTHROPIC, BF_AI_OPENAI};
    double scores[BF_ANALYSIS__COUNT];
    for (int round = 0; round < 2; round++) {
        bf_aitest_run_t r;
        bf_aitest_run_open(&r, &s, round == 0 ? first : second, round == 0 ? 1 : 2,
                           &(bf_aitest_opts_t){.redis_url = url});
        long mget_before = redis_calls(url, "mget");
        kind_out_t out[BF_ANALYSIS__COUNT];
        bool uncached = new_first && round == 0;
        analyse_report(&r, "one-report", out, uncached);
        bf_aitest_run_wait(&r, BF_ANALYSIS__COUNT);
        assert_int_equal(redis_calls(url, "mget") - mget_before, uncached ? 0 : 1);
        for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
            assert_int_equal(out[k].settled, 1);
            assert_int_equal(out[k].err, BF_OK);
            assert_string_equal(out[k].provider, "openai");
            assert_int_equal(out[k].cached, round == 1);
            if (round == 0)
                scores[k] = out[k].score;
            else
                assert_true(out[k].score == scores[k]);
        }
        bf_aitest_run_close(&r);
    }
    assert_int_equal(bf_aitest_sim_count(&s, "openai", "requests"), BF_ANALYSIS__COUNT);
    assert_int_equal(bf_aitest_sim_count(&s, "anthropic", "requests"), 0);
    bf_proc_stop(&redis, SIGTERM, 5);
    bf_aitest_sim_stop(&s);
}

static void test_analyses_of_a_report_ask_the_cache_once(void **unused)
{
    (void)unused;
    analyse_twice(false);
}

/* A report the worker knows is new (its claim took content nobody had)
 * asks Redis nothing before its calls, and its answers are still stored:
 * the same report analysed again, not so marked (a redelivery), is
 * answered from them with one MGET. */
static void test_a_new_report_does_not_ask_the_cache(void **unused)
{
    (void)unused;
    analyse_twice(true);
}

/* The layer destroyed while Redis still owes the answer to the lookup of a
 * report's analyses (a worker stopping with reports just started): each
 * analysis is settled once, at the destroy, and the answer that comes after
 * the layer is gone touches nothing of it (the sanitizer build checks: the
 * layer is freed as the loop closes its handles in the iteration that
 * sends the MGET, and the answer is read in a later one). */
static void test_destroyed_while_the_cache_is_asked(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    bf_aitest_sim_start(&s, NULL);
    bf_proc_t redis;
    char url[128];
    bf_aitest_redis_start(&redis, s.tmpdir, url, sizeof(url));
    const bf_ai_provider_t chain[] = {BF_AI_ANTHROPIC, BF_AI_OPENAI};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 2, &(bf_aitest_opts_t){.redis_url = url});
    /* connected before the lookup, so the MGET goes out at once */
    for (int i = 0; i < 200 && !bf_redis_connected(r.redis); i++) {
        uv_run(&r.loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_true(bf_redis_connected(r.redis));
    long mget_before = redis_calls(url, "mget");
    kind_out_t out[BF_ANALYSIS__COUNT];
    analyse_report(&r, "stopping", out, false);
    bf_ai_destroy(r.ai);
    r.ai = r.layers[0] = NULL;
    assert_int_equal(r.done, BF_ANALYSIS__COUNT);
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++)
        assert_true(out[k].settled == 1 && out[k].err == BF_ERR_STATE);
    /* until Redis has answered and the answer has been read */
    double until = bf_test_now() + 10 * bf_test_timeout_mult();
    while (redis_calls(url, "mget") == mget_before && bf_test_now() < until) {
        uv_run(&r.loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    assert_int_equal(redis_calls(url, "mget") - mget_before, 1);
    for (int i = 0; i < 20; i++) {
        uv_run(&r.loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    assert_int_equal(r.done, BF_ANALYSIS__COUNT);
    bf_aitest_run_close(&r);
    bf_proc_stop(&redis, SIGTERM, 5);
    bf_aitest_sim_stop(&s);
}

/* Shutting down with calls in flight and calls waiting for the rate
 * limit: every one is settled exactly once (BF_ERR_STATE), nothing leaks
 * (the sanitizer build checks), nothing is touched after it is freed. */
static void test_shutdown_settles_every_call_once(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    const char *args[] = {"--latency-ms", "3000", NULL};
    bf_aitest_sim_start(&s, args);
    const bf_ai_provider_t chain[] = {BF_AI_OPENAI, BF_AI_GEMINI};
    bf_aitest_run_t r;
    bf_aitest_run_open(&r, &s, chain, 2, &(bf_aitest_opts_t){.rpm = 600, .retries = 2});
    r.target = 1000; /* bf_aitest_run_analyses would wait for all: start them by hand */
    for (int i = 0; i < 20; i++) {
        json_t *rep = json_pack("{s:s, s:i}", "report_id", "shutdown", "n", i);
        bf_ai_input_t *in = bf_ai_input_new(rep);
        bf_ai_analyse(r.ai, BF_ANALYSIS_QUALITY, in, 0, bf_aitest_on_result, &r);
        bf_ai_input_release(in);
        json_decref(rep);
    }
    uv_timer_t t;
    uv_timer_init(&r.loop, &t);
    uv_timer_start(&t, bf_aitest_stop_loop, 300, 0); /* let the first ten go out */
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    assert_int_equal(r.done, 0);
    assert_int_equal(bf_ai_pending(r.ai), 20);
    bf_aitest_run_close(&r);
    assert_int_equal(r.done, 20);
    assert_int_equal(r.ok, 0);
    assert_non_null(strstr(r.last_error, "shutting down"));
    bf_aitest_sim_stop(&s);
}

/* ---- streaming ------------------------------------------------------------ */

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    size_t len = strlen(ud);
    size_t add = size * n;
    if (len + add >= 65536)
        return 0;
    memcpy((char *)ud + len, p, add);
    ((char *)ud)[len + add] = '\0';
    return add;
}

/* POST @p body to @p url with @p headers; the response into @p out. */
static void post(const char *url, const char *const *headers, const char *body, char *out,
                 char *ctype, size_t ctype_size)
{
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    for (; *headers; headers++)
        h = curl_slist_append(h, *headers);
    out[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    char *ct = NULL;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(ctype, ctype_size, "%s", ct ? ct : "");
    if (status != 200)
        fail_msg("%s: HTTP %ld: %s", url, status, out);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
}

/* Concatenate the string at @p path (a, b: nested keys; idx: array 0
 * between) of every "data: " event's JSON. */
static void join_events(const char *sse, const char *const *path, char *out, size_t size)
{
    out[0] = '\0';
    for (const char *p = strstr(sse, "data: "); p; p = strstr(p + 1, "\ndata: ")) {
        if (*p == '\n')
            p++;
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        json_t *ev = json_loadb(p + 6, (size_t)(end - p - 6), 0, NULL);
        json_t *v = ev;
        for (const char *const *k = path; v && *k; k++)
            v = strcmp(*k, "0") == 0 ? json_array_get(v, 0) : json_object_get(v, *k);
        if (json_is_string(v))
            strncat(out, json_string_value(v), size - strlen(out) - 1);
        json_decref(ev);
    }
}

static void assert_answer(const char *text)
{
    json_t *a = json_loads(text, 0, NULL);
    if (!json_is_object(a))
        fail_msg("streamed answer is not an object: %s", text);
    assert_true(json_is_number(json_object_get(a, "score")));
    json_decref(a);
}

static void test_simulator_streams_each_api(void **unused)
{
    (void)unused;
    bf_aitest_sim_t s;
    bf_aitest_sim_start(&s, NULL);
    static char out[65536];
    char ctype[128], url[400], text[4096];
    const char *report = "<report>\\n{\\\"report_id\\\":\\\"st-1\\\",\\\"title\\\":"
                         "\\\"XSS\\\"}\\n</report>";

    snprintf(url, sizeof(url), "%s/v1/chat/completions", s.root);
    const char *oh[] = {"Authorization: Bearer " BF_AITEST_API_KEY,
                        "Content-Type: application/json", NULL};
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":"
             "\"user\",\"content\":\"%s\"}],\"response_format\":{\"type\":"
             "\"json_schema\",\"json_schema\":{\"name\":\"bountyfleet_quality\","
             "\"schema\":{}}}}",
             report);
    post(url, oh, body, out, ctype, sizeof(ctype));
    assert_string_equal(ctype, "text/event-stream");
    assert_non_null(strstr(out, "\"object\":\"chat.completion.chunk\""));
    size_t n = strlen(out);
    assert_true(n > 14 && strcmp(out + n - 14, "data: [DONE]\n\n") == 0);
    const char *oa_path[] = {"choices", "0", "delta", "content", NULL};
    join_events(out, oa_path, text, sizeof(text));
    assert_answer(text);

    snprintf(url, sizeof(url), "%s/v1/messages", s.root);
    const char *ah[] = {"x-api-key: " BF_AITEST_API_KEY, "anthropic-version: 2023-06-01",
                        "Content-Type: application/json", NULL};
    snprintf(body, sizeof(body),
             "{\"model\":\"claude-3-5-haiku\",\"max_tokens\":100,\"stream\":true,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"tools\":[{"
             "\"name\":\"bountyfleet_quality\",\"input_schema\":{\"type\":\"object\"}}],"
             "\"tool_choice\":{\"type\":\"tool\",\"name\":\"bountyfleet_quality\"}}",
             report);
    post(url, ah, body, out, ctype, sizeof(ctype));
    assert_string_equal(ctype, "text/event-stream");
    const char *order[] = {"event: message_start",       "event: content_block_start",
                           "event: content_block_delta", "event: content_block_stop",
                           "event: message_delta",       "event: message_stop"};
    const char *at = out;
    for (size_t i = 0; i < 6; i++) {
        at = strstr(at, order[i]);
        if (!at)
            fail_msg("no %s in order in:\n%s", order[i], out);
    }
    const char *an_path[] = {"delta", "partial_json", NULL};
    join_events(out, an_path, text, sizeof(text));
    assert_answer(text);

    snprintf(url, sizeof(url),
             "%s/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", s.root);
    const char *gh[] = {"x-goog-api-key: " BF_AITEST_API_KEY,
                        "Content-Type: application/json", NULL};
    snprintf(body, sizeof(body),
             "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"%s\"}]}],"
             "\"generationConfig\":{\"responseMimeType\":\"application/json\","
             "\"responseSchema\":{\"type\":\"OBJECT\",\"title\":"
             "\"bountyfleet_quality\"}}}",
             report);
    post(url, gh, body, out, ctype, sizeof(ctype));
    assert_string_equal(ctype, "text/event-stream");
    assert_non_null(strstr(out, "\"usageMetadata\""));
    const char *ge_path[] = {"candidates", "0", "content", "parts", "0", "text", NULL};
    join_events(out, ge_path, text, sizeof(text));
    assert_answer(text);
    bf_aitest_sim_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_are_shaped_as_each_api_documents),
        cmocka_unit_test(test_tokens_and_cost_match_what_the_simulator_billed),
        cmocka_unit_test(test_rejected_answers_are_paid_for),
        cmocka_unit_test(test_correct_limit_means_zero_429s),
        cmocka_unit_test(test_limit_set_too_high_recovers_through_429s),
        cmocka_unit_test(test_failing_provider_falls_back_with_the_reason),
        cmocka_unit_test(test_breaker_opens_and_later_calls_fail_fast),
        cmocka_unit_test(test_open_circuit_is_waited_out_within_the_deadline),
        cmocka_unit_test(test_tokens_per_minute_limit_is_respected),
        cmocka_unit_test(test_timeouts_are_retried),
        cmocka_unit_test(test_auth_error_is_not_retried),
        cmocka_unit_test(test_malformed_bodies_are_retried_until_good),
        cmocka_unit_test(test_same_content_is_never_paid_twice),
        cmocka_unit_test(test_analyses_of_a_report_ask_the_cache_once),
        cmocka_unit_test(test_a_new_report_does_not_ask_the_cache),
        cmocka_unit_test(test_destroyed_while_the_cache_is_asked),
        cmocka_unit_test(test_simulator_streams_each_api),
        cmocka_unit_test(test_shutdown_settles_every_call_once),
    };
    if (getenv("BF_TEST_FILTER"))
        cmocka_set_test_filter(getenv("BF_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
