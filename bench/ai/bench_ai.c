/*
 * bench_ai.c - how much of a provider's limit, and how many concurrent
 * calls, the worker's AI layer (worker/ai.c) sustains against the AI
 * simulator. Prints one JSON line per run.
 *
 *   bench_ai rate BASE_URL PROVIDER RPM SECONDS
 *       Keeps far more calls queued than the limit admits, with the layer
 *       configured for RPM and the simulator started with --rpm RPM, and
 *       reports the share of the limit used over the steady state (after
 *       the first 5 s, whose burst is the bucket's capacity, not the rate)
 *       and the 429s seen.
 *   bench_ai concurrency BASE_URL PROVIDER CALLS
 *       Starts CALLS calls at once against a simulator with a fixed
 *       latency and no limits and reports how many were in flight at the
 *       peak and how long all took.
 *
 * BASE_URL is the simulator's root (http://127.0.0.1:PORT, no /v1).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>
#include <uv.h>

#include "libbf/http.h"
#include "worker/ai.h"

static char system_text[] = "You are a triager. Answer with JSON only.";
static char task_text[] = "Task: rate the report.";
static const bf_prompts_t prompts = {
    .version = NULL, .system = system_text, .task = {task_text, task_text, task_text}};
static bf_price_t price_items[] = {{(char *)"sim-1", 0.15, 0.60, 0.075}};
static const bf_prices_t prices = {price_items, 1};

typedef struct bench_s {
    uv_loop_t loop;
    bf_http_t *http;
    bf_ai_t *ai;
    bf_ai_input_t *report;
    long started, done, ok;
    long ok_after_warmup;
    double t0, warmup_end, end;
    long keep_queued; /* rate mode: calls kept outstanding */
    bool stopping;
    size_t peak_pending;
} bench_t;

static double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

static void start_one(bench_t *b);

static void on_done(const bf_ai_result_t *r, void *opaque)
{
    bench_t *b = opaque;
    b->done++;
    double t = now_s();
    if (r->err == BF_OK) {
        b->ok++;
        if (t >= b->warmup_end && t < b->end)
            b->ok_after_warmup++;
    }
    if (b->keep_queued && t < b->end && !b->stopping)
        start_one(b);
    if (b->done == b->started)
        uv_stop(&b->loop);
}

static void start_one(bench_t *b)
{
    b->started++;
    bf_ai_analyse(b->ai, (bf_analysis_kind_t)(b->started % BF_ANALYSIS__COUNT), b->report,
                  0, on_done, b);
    size_t p = bf_ai_pending(b->ai);
    if (p > b->peak_pending)
        b->peak_pending = p;
}

static void on_end(uv_timer_t *t)
{
    bench_t *b = t->data;
    b->stopping = true;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_ai rate BASE PROVIDER RPM SECONDS | "
                    "bench_ai concurrency BASE PROVIDER CALLS\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return usage();
    bool rate = strcmp(argv[1], "rate") == 0;
    if (!rate && strcmp(argv[1], "concurrency") != 0)
        return usage();
    if (rate && argc < 6)
        return usage();
    bf_ai_provider_t prov;
    if (bf_ai_provider_parse(argv[3], strlen(argv[3]), &prov) != 0)
        return usage();
    double rpm = rate ? strtod(argv[4], NULL) : 0;
    double seconds = rate ? strtod(argv[5], NULL) : 0;
    long calls = rate ? 0 : strtol(argv[4], NULL, 10);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    bench_t b = {0};
    uv_loop_init(&b.loop);
    char errstr[300];
    b.http = bf_http_new(&b.loop, rate ? 256 : calls + 16, errstr, sizeof(errstr));
    char base[512];
    snprintf(base, sizeof(base), "%s%s", argv[2], prov == BF_AI_OPENAI ? "/v1" : "");
    bf_ai_config_t cfg = {
        .n_providers = 1,
        .prompts = &prompts,
        .prices = &prices,
        .retries = 10,
        .timeout_s = 120,
        .backoff_base_s = 0.05,
        .backoff_cap_s = 2,
        .breaker = {.consecutive_failures = 1000000, .cooldown_s = 1},
    };
    cfg.providers[0] =
        (bf_ai_provider_config_t){prov, base, "bench-key", "sim-1", rpm, 0};
    b.ai = bf_ai_new(&b.loop, b.http, &cfg, errstr, sizeof(errstr));
    if (!b.http || !b.ai) {
        fprintf(stderr, "bench_ai: %s\n", errstr);
        return 1;
    }
    json_t *report_json = json_pack(
        "{s:s, s:s, s:s}", "report_id", "bench", "title", "Stored XSS in profile name",
        "description", "1. Set name to <script>. 2. Visit profile. Impact: theft.");
    b.report = bf_ai_input_new(report_json);
    json_decref(report_json);
    b.t0 = now_s();
    uv_timer_t end;
    uv_timer_init(&b.loop, &end);
    end.data = &b;
    if (rate) {
        b.warmup_end = b.t0 + 5;
        b.end = b.t0 + 5 + seconds;
        /* Two seconds of calls queued at all times: the limit, not the
         * supply, is what bounds the rate. */
        b.keep_queued = (long)(rpm / 60.0 * 2) + 8;
        for (long i = 0; i < b.keep_queued; i++)
            start_one(&b);
        uv_timer_start(&end, on_end, (uint64_t)((5 + seconds) * 1000), 0);
    } else {
        b.end = 1e300;
        for (long i = 0; i < calls; i++)
            start_one(&b);
    }
    uv_run(&b.loop, UV_RUN_DEFAULT);
    double took = now_s() - b.t0;
    if (rate) {
        double allowed = rpm / 60.0 * seconds;
        printf("{\"bench\":\"ai_rate\",\"provider\":\"%s\",\"rpm\":%g,\"seconds\":%g,"
               "\"ok_in_window\":%ld,\"allowed_in_window\":%.0f,\"share\":%.4f,"
               "\"calls\":%ld,\"ok\":%ld}\n",
               argv[3], rpm, seconds, b.ok_after_warmup, allowed,
               (double)b.ok_after_warmup / allowed, b.started, b.ok);
    } else {
        printf("{\"bench\":\"ai_concurrency\",\"provider\":\"%s\",\"calls\":%ld,"
               "\"ok\":%ld,\"peak_pending\":%zu,\"seconds\":%.3f}\n",
               argv[3], calls, b.ok, b.peak_pending, took);
    }
    uv_close((uv_handle_t *)&end, NULL);
    bf_http_destroy(b.http);
    bf_ai_destroy(b.ai);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    uv_loop_close(&b.loop);
    bf_ai_input_release(b.report);
    return b.ok == b.started ? 0 : 1;
}
