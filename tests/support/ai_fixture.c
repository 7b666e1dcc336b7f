/*
 * ai_fixture.c - the AI layer and the simulator for the tests (see
 * ai_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/ai_fixture.h"

void bf_aitest_sim_start(bf_aitest_sim_t *s, const char *const args[])
{
    snprintf(s->tmpdir, sizeof(s->tmpdir), "/tmp/bftest-ai.XXXXXX");
    assert_non_null(mkdtemp(s->tmpdir));
    char bin[512];
    const char *argv[40];
    size_t n = 0;
    argv[n++] = bf_test_bin("bountyfleet-aisim", bin, sizeof(bin));
    for (const char *const *a = args; a && *a && n < 38; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    const char *env[] = {"AISIM_API_KEY=" BF_AITEST_API_KEY, NULL};
    assert_int_equal(bf_proc_start(&s->proc, "aisim", s->tmpdir, argv, env, true, 20), 0);
    snprintf(s->root, sizeof(s->root), "%.190s", s->proc.first_line);
    size_t len = strlen(s->root);
    if (len > 3 && strcmp(s->root + len - 3, "/v1") == 0)
        s->root[len - 3] = '\0';
}

void bf_aitest_sim_stop(bf_aitest_sim_t *s)
{
    bf_proc_stop(&s->proc, SIGTERM, 10);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s->tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->tmpdir);
}

json_t *bf_aitest_sim_get(const bf_aitest_sim_t *s, const char *path)
{
    char url[400];
    snprintf(url, sizeof(url), "%s%s", s->root, path);
    long status = 0;
    char *body = bf_test_http_get(url, &status);
    assert_non_null(body);
    assert_int_equal(status, 200);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(j);
    return j;
}

/* /stats by_provider.PROVIDER, then the keys of @p path in turn. */
static long long stat_at(const bf_aitest_sim_t *s, const char *provider,
                         const char *const *path)
{
    json_t *st = bf_aitest_sim_get(s, "/stats");
    json_t *v = json_object_get(json_object_get(st, "by_provider"), provider);
    for (; *path; path++)
        v = json_object_get(v, *path);
    long long n = json_integer_value(v);
    json_decref(st);
    return n;
}

long long bf_aitest_sim_count(const bf_aitest_sim_t *s, const char *provider,
                              const char *field)
{
    const char *path[] = {field, NULL};
    return stat_at(s, provider, path);
}

long long bf_aitest_sim_status(const bf_aitest_sim_t *s, const char *provider,
                               const char *status)
{
    const char *path[] = {"by_status", status, NULL};
    return stat_at(s, provider, path);
}

static char system_text[] = "You are a triager. Answer with JSON only.";
static char quality_text[] = "Task: rate the QUALITY of the write-up.";
static char plausibility_text[] = "Task: rate the PLAUSIBILITY.";
static char severity_text[] = "Task: assess the SEVERITY.";
static const bf_prompts_t prompts = {
    .version = NULL,
    .system = system_text,
    .task = {quality_text, plausibility_text, severity_text},
};
static bf_price_t price_items[] = {
    {(char *)"gpt-4o-mini", 0.15, 0.60, 0.075},
    {(char *)"claude-3-5-haiku", 0.80, 4.00, 0.08},
    {(char *)"gemini-2.0-flash", 0.10, 0.40, 0.025},
};
static const bf_prices_t prices = {price_items, 3};

const bf_prices_t *bf_aitest_prices(void)
{
    return &prices;
}

const char *bf_aitest_model_of(bf_ai_provider_t p)
{
    return p == BF_AI_OPENAI      ? "gpt-4o-mini"
           : p == BF_AI_ANTHROPIC ? "claude-3-5-haiku"
                                  : "gemini-2.0-flash";
}

/* A chain of @p n providers, all on the simulator. */
/* A client on @p loop, connected. */
static bf_redis_t *connect_redis(uv_loop_t *loop, const char *url)
{
    char errstr[300];
    bf_redis_t *redis = bf_redis_new(loop, url, 2, errstr, sizeof(errstr));
    assert_non_null(redis);
    double until = bf_test_now() + 10 * bf_test_timeout_mult();
    while (!bf_redis_connected(redis) && bf_test_now() < until)
        uv_run(loop, UV_RUN_NOWAIT);
    assert_true(bf_redis_connected(redis));
    return redis;
}

void bf_aitest_run_open(bf_aitest_run_t *r, const bf_aitest_sim_t *s,
                        const bf_ai_provider_t *chain, size_t n,
                        const bf_aitest_opts_t *o)
{
    static char bases[BF_AI__COUNT][300];
    memset(r, 0, sizeof(*r));
    assert_int_equal(uv_loop_init(&r->loop), 0);
    char errstr[300];
    r->http = bf_http_new(&r->loop, 256, errstr, sizeof(errstr));
    assert_non_null(r->http);
    bf_ai_config_t cfg = {
        .n_providers = n,
        .prompts = &prompts,
        .prices = &prices,
        .retries = o->retries,
        .timeout_s = o->timeout_s > 0 ? o->timeout_s : 10,
        .backoff_base_s = 0.02,
        .backoff_cap_s = 0.5,
        .metrics = o->metrics,
    };
    if (o->breaker)
        cfg.breaker = *o->breaker;
    else
        cfg.breaker =
            (bf_breaker_config_t){.consecutive_failures = 1000, .cooldown_s = 1};
    for (size_t i = 0; i < n; i++) {
        if (o->bases[i])
            snprintf(bases[i], sizeof(bases[i]), "%s", o->bases[i]);
        else
            snprintf(bases[i], sizeof(bases[i]), "%s%s", s->root,
                     chain[i] == BF_AI_OPENAI ? "/v1" : "");
        cfg.providers[i] = (bf_ai_provider_config_t){
            .provider = chain[i],
            .base_url = bases[i],
            .api_key = o->api_key ? o->api_key : BF_AITEST_API_KEY,
            .model = bf_aitest_model_of(chain[i]),
            .rpm = o->rpm,
            .tpm = o->tpm,
            .fleet_rpm = o->fleet_rpm,
            .fleet_tpm = o->fleet_tpm,
        };
    }
    if (o->redis_url) {
        r->redis = connect_redis(&r->loop, o->redis_url);
        cfg.cache = r->redis;
        cfg.cache_ttl_s = 60;
    }
    cfg.cache_prefix = "test:";
    if (o->limits_url) {
        r->limits_redis = connect_redis(&r->loop, o->limits_url);
        cfg.limits = r->limits_redis;
    }
    r->n_layers = o->layers > 0 ? o->layers : 1;
    assert_true(r->n_layers <= BF_AITEST_LAYERS);
    for (int i = 0; i < r->n_layers; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%s%d", o->worker_id ? o->worker_id : "w", i + 1);
        cfg.worker_id = id; /* copied by the layer */
        r->layers[i] = bf_ai_new(&r->loop, r->http, &cfg, errstr, sizeof(errstr));
        if (!r->layers[i])
            fail_msg("bf_ai_new: %s", errstr);
    }
    r->ai = r->layers[0];
}

void bf_aitest_on_result(const bf_ai_result_t *res, void *opaque)
{
    bf_aitest_run_t *r = opaque;
    if (++r->done >= r->target)
        uv_stop(&r->loop); /* else the loop would sleep until the watchdog */
    snprintf(r->last_provider, sizeof(r->last_provider), "%s", res->provider);
    if (res->attempts > r->max_attempts)
        r->max_attempts = res->attempts;
    r->breaker_waits += res->breaker_waits;
    r->throttled += res->throttled;
    if (res->err == BF_OK) {
        r->ok++;
        r->tokens_in += res->verdict->tokens_in;
        r->tokens_out += res->verdict->tokens_out;
        r->tokens_cached += res->verdict->tokens_cached;
        r->cost += res->cost_usd;
        r->cached += res->cached ? 1 : 0;
        snprintf(r->last_fallback, sizeof(r->last_fallback), "%s",
                 res->fallback ? res->fallback : "");
    } else {
        snprintf(r->last_error, sizeof(r->last_error), "%s", res->error);
    }
}

void bf_aitest_stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Start @p n analyses (kinds in turn, distinct reports) and run the loop
 * until all have settled (or a generous watchdog fires). */
void bf_aitest_run_analyses(bf_aitest_run_t *r, int n)
{
    int target = r->target = r->done + n;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s", r->fixed_id ? r->fixed_id : "");
        if (!r->fixed_id)
            snprintf(id, sizeof(id), "r-%d-%d", r->done, i);
        json_t *rep = json_pack("{s:s, s:s, s:s}", "report_id", id, "title",
                                "Stored XSS in profile name", "description",
                                "1. Set name to <script>. 2. Visit profile. Impact: "
                                "session theft.");
        double deadline =
            r->deadline_s > 0 ? (double)uv_hrtime() / 1e9 + r->deadline_s : 0;
        bf_ai_input_t *in = bf_ai_input_new(rep);
        bf_ai_analyse(r->layers[(r->done + i) % r->n_layers],
                      (bf_analysis_kind_t)(i % BF_ANALYSIS__COUNT), in, deadline,
                      bf_aitest_on_result, r);
        bf_ai_input_release(in);
        json_decref(rep);
    }
    bf_aitest_run_wait(r, target);
}

void bf_aitest_run_wait(bf_aitest_run_t *r, int target)
{
    r->target = target;
    uv_timer_t watchdog;
    uv_timer_init(&r->loop, &watchdog);
    uv_timer_start(&watchdog, bf_aitest_stop_loop,
                   (uint64_t)(120000 * bf_test_timeout_mult()), 0);
    while (r->done < target && uv_is_active((uv_handle_t *)&watchdog))
        uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    assert_int_equal(r->done, target);
}

void bf_aitest_run_close(bf_aitest_run_t *r)
{
    bf_redis_destroy(r->redis);
    bf_redis_destroy(r->limits_redis);
    bf_http_destroy(r->http);
    for (int i = 0; i < r->n_layers; i++)
        bf_ai_destroy(r->layers[i]);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* A redis-server on a free port, for the response cache. */
void bf_aitest_redis_start(bf_proc_t *p, const char *dir, char *url, size_t url_size)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", bf_test_free_port());
    const char *argv[] = {
        "/usr/bin/redis-server", "--port", port,    "--bind", "127.0.0.1", "--save", "",
        "--appendonly",          "no",     "--dir", dir,      NULL};
    assert_int_equal(bf_proc_start(p, "redis", dir, argv, NULL, false, 5), 0);
    snprintf(url, url_size, "redis://127.0.0.1:%s/0", port);
    /* Wait until it accepts connections. */
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(port)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    double until = bf_test_now() + 10 * bf_test_timeout_mult();
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            break;
        assert_true(bf_test_now() < until);
        usleep(20000);
    }
}
