/*
 * ai.c - the AI layer (see ai.h): its configuration, making and
 * destroying it, starting an analysis, and what it reports about itself.
 * A call's life cycle is in ai_call.c and ai_answer.c, the answer cache in
 * ai_cache.c, the fleet-wide limit in ai_fleet.c (ai_int.h has the map).
 */
#include "worker/ai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/ai_int.h"

bf_err_t bf_ai_config_check(const bf_ai_config_t *cfg, char *errstr, size_t errstr_size)
{
    if (cfg->n_providers == 0 || cfg->n_providers > BF_AI__COUNT) {
        snprintf(errstr, errstr_size, "AI_PROVIDERS: name one to %d providers",
                 BF_AI__COUNT);
        return BF_ERR_CONFIG;
    }
    if (!cfg->prompts || !cfg->prices) {
        snprintf(errstr, errstr_size, "AI layer: prompts and prices are required");
        return BF_ERR_CONFIG;
    }
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const bf_ai_provider_config_t *pc = &cfg->providers[i];
        const char *name = bf_ai_provider_name(pc->provider);
        if (!pc->api_key || !*pc->api_key) {
            const char *env = pc->provider == BF_AI_OPENAI      ? "OPENAI"
                              : pc->provider == BF_AI_ANTHROPIC ? "ANTHROPIC"
                                                                : "GEMINI";
            snprintf(errstr, errstr_size,
                     "no API key for %s: set %s_API_KEY or %s_API_KEY_FILE", name, env,
                     env);
            return BF_ERR_CONFIG;
        }
        if (!pc->model || !*pc->model) {
            snprintf(errstr, errstr_size, "no model for %s", name);
            return BF_ERR_CONFIG;
        }
        for (size_t j = 0; j < i; j++)
            if (cfg->providers[j].provider == pc->provider) {
                snprintf(errstr, errstr_size, "AI_PROVIDERS: %s named twice", name);
                return BF_ERR_CONFIG;
            }
    }
    return BF_OK;
}

/* The metrics of the layer, when it has a registry. */
static void declare_metrics(bf_ai_t *ai, bf_metrics_t *m)
{
    static const double attempts[] = {1, 2, 3, 4, 5, 6, 8, 10, 15, 20};
    ai->m_requests = bf_metrics_counter(m, "bountyfleet_ai_requests_total",
                                        "AI HTTP calls.", "provider,kind,outcome");
    ai->m_duration = bf_metrics_histogram(m, "bountyfleet_ai_request_duration_seconds",
                                          "AI call latency.", "provider,kind", NULL, 0);
    ai->m_tokens = bf_metrics_counter(m, "bountyfleet_ai_tokens_total", "Tokens billed.",
                                      "provider,model,type");
    ai->m_cost = bf_metrics_counter(m, "bountyfleet_ai_cost_usd_total", "AI spend.",
                                    "provider,model");
    bf_metric_t *attempts_of = bf_metrics_histogram(
        m, "bountyfleet_ai_call_attempts",
        "HTTP attempts of one analysis, all providers, by the provider it ended at.",
        "provider", attempts, sizeof(attempts) / sizeof(attempts[0]));
    ai->in_flight = bf_metric_series(bf_metrics_gauge(m, "bountyfleet_ai_calls_in_flight",
                                                      "AI HTTP calls in flight.", NULL));
    bf_metric_t *circuit = bf_metrics_gauge(m, "bountyfleet_ai_circuit_state",
                                            "0 closed, 1 half-open, 2 open.", "provider");
    bf_metric_t *waits = bf_metrics_counter(
        m, "bountyfleet_ai_breaker_waits_total",
        "Times a call waited for an open breaker (not counted as retries).", "provider");
    bf_metric_t *rpm = bf_metrics_gauge(
        m, "bountyfleet_ai_limit_requests_per_minute",
        "Fleet-wide requests/min in force (configured, or lower as learned).",
        "provider");
    bf_metric_t *tpm = bf_metrics_gauge(
        m, "bountyfleet_ai_limit_tokens_per_minute",
        "Fleet-wide tokens/min in force (configured, or lower as learned).", "provider");
    bf_metric_t *workers = bf_metrics_gauge(
        m, "bountyfleet_ai_limit_workers",
        "Workers sharing the fleet-wide limit, as Redis last said.", "provider");
    bf_metric_t *local = bf_metrics_counter(
        m, "bountyfleet_ai_limit_local_total",
        "Acquisitions answered from this worker's share because Redis could not be "
        "reached.",
        "provider");
    for (size_t i = 0; i < ai->cfg.n_providers; i++) {
        bf_ai_prov_t *p = &ai->providers[i];
        const char *name = bf_ai_provider_name(p->cfg.provider);
        p->circuit = bf_metric_series(circuit, name);
        p->breaker_waits = bf_metric_series(waits, name);
        p->attempts = bf_metric_series(attempts_of, name);
        if (!p->fleet)
            continue;
        p->limit_rpm = bf_metric_series(rpm, name);
        p->limit_tpm = bf_metric_series(tpm, name);
        p->limit_workers = bf_metric_series(workers, name);
        p->limit_fallbacks = bf_metric_series(local, name);
        bf_series_set(p->limit_rpm, p->cfg.fleet_rpm);
        bf_series_set(p->limit_tpm, p->cfg.fleet_tpm);
    }
}

static void free_provider(bf_ai_prov_t *p)
{
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
        bf_ai_template_free(&p->tmpl[k]);
        free(p->cache_head[k]);
        p->cache_head[k] = NULL;
    }
}

static void free_templates(bf_ai_t *ai, size_t providers)
{
    for (size_t j = 0; j < providers; j++)
        free_provider(&ai->providers[j]);
}

bf_ai_t *bf_ai_new(uv_loop_t *loop, bf_http_t *http, const bf_ai_config_t *cfg,
                   char *errstr, size_t errstr_size)
{
    if (bf_ai_config_check(cfg, errstr, errstr_size) != BF_OK)
        return NULL;
    bf_ai_t *ai = bf_calloc(1, sizeof(*ai));
    ai->loop = loop;
    ai->http = http;
    ai->cfg = *cfg;
    if (ai->cfg.backoff_base_s <= 0)
        ai->cfg.backoff_base_s = 0.5;
    if (ai->cfg.backoff_cap_s <= 0)
        ai->cfg.backoff_cap_s = 10;
    if (ai->cfg.timeout_s <= 0)
        ai->cfg.timeout_s = 60;
    /* The breaker's defaults: see BF_BREAKER_WINDOW (ai_limit.h). */
    bf_breaker_config_t bc = cfg->breaker;
    if (bc.consecutive_failures == 0 && bc.failure_rate == 0) {
        bc.consecutive_failures = 10;
        bc.failure_rate = 0.6;
        bc.min_calls = 50;
    }
    if (bc.cooldown_s <= 0)
        bc.cooldown_s = 10;
    /* The requests first: a prompt set that cannot make one fails here,
     * before anything is on the loop. */
    for (size_t i = 0; i < cfg->n_providers; i++) {
        bf_ai_prov_t *p = &ai->providers[i];
        p->ai = ai;
        p->cfg = cfg->providers[i];
        p->ep = (bf_ai_endpoint_t){
            .provider = p->cfg.provider,
            .base_url = p->cfg.base_url && *p->cfg.base_url
                            ? p->cfg.base_url
                            : bf_ai_provider_default_base(p->cfg.provider),
            .api_key = p->cfg.api_key,
            .model = p->cfg.model,
        };
        for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
            if (bf_ai_template_build(&p->ep, cfg->prompts, (bf_analysis_kind_t)k,
                                     cfg->stream, &p->tmpl[k], errstr,
                                     errstr_size) != BF_OK) {
                free_templates(ai, i + 1);
                free(ai);
                return NULL;
            }
            p->cache_head[k] = bf_ai_cache_head(ai, p, (bf_analysis_kind_t)k);
        }
    }
    double now = bf_monotonic_s();
    for (size_t i = 0; i < cfg->n_providers; i++) {
        bf_ai_prov_t *p = &ai->providers[i];
        bf_bucket_init(&p->rpm, p->cfg.rpm, now);
        bf_bucket_init(&p->tpm, p->cfg.tpm, now);
        bf_breaker_init(&p->breaker, &bc);
        bf_ai_fleet_config_t fc = {
            .redis = cfg->limits,
            .key_prefix = cfg->cache_prefix,
            .provider = bf_ai_provider_name(p->cfg.provider),
            .model = p->cfg.model,
            .worker_id = cfg->worker_id,
            .rpm = p->cfg.fleet_rpm,
            .tpm = p->cfg.fleet_tpm,
        };
        p->fleet = bf_ai_fleet_new(&fc);
        p->limited_at = p->started_at = now;
        uv_timer_init(loop, &p->pump);
        p->pump.data = p;
        ai->open_handles++;
    }
    ai->cfg.worker_id = NULL; /* copied by the limiters; not kept */
    if (cfg->metrics)
        declare_metrics(ai, cfg->metrics);
    for (size_t i = 0; i < cfg->n_providers; i++)
        bf_ai_call_circuit_gauge(&ai->providers[i]);
    return ai;
}

static void on_pump_closed(uv_handle_t *h)
{
    bf_ai_prov_t *p = h->data;
    bf_ai_t *ai = p->ai;
    free_provider(p);
    if (--ai->open_handles == 0)
        free(ai);
}

void bf_ai_destroy(bf_ai_t *ai)
{
    if (!ai)
        return;
    ai->closing = true;
    while (ai->calls) {
        bf_ai_call_t *c = ai->calls;
        if (c->state == BF_AI_LOOKUP) {
            /* Redis still owes its callback: answer now, free it then. */
            ai->calls = c->next_all; /* unlink: c is the head */
            if (ai->calls)
                ai->calls->prev_all = NULL;
            snprintf(c->reasons, sizeof(c->reasons), "shutting down");
            bf_ai_result_t r = {
                .err = BF_ERR_STATE, .error = c->reasons, .provider = "", .model = ""};
            c->cb(&r, c->opaque);
            c->cb = NULL;
            continue;
        }
        if (c->state == BF_AI_IN_FLIGHT) {
            /* The HTTP client must be destroyed first; a call still in
             * flight would answer into freed memory. Leak it rather. */
            bf_log(BF_LOG_ERROR, "ai", "destroyed_with_call_in_flight");
            ai->calls = c->next_all; /* unlink: c is the head */
            if (ai->calls)
                ai->calls->prev_all = NULL;
            continue;
        }
        snprintf(c->reasons, sizeof(c->reasons), "shutting down");
        bf_ai_call_finish(c, BF_ERR_STATE, 0);
    }
    for (size_t i = 0; i < ai->cfg.n_providers; i++) {
        bf_ai_prov_t *p = &ai->providers[i];
        p->head = p->tail = NULL;
        bf_ai_fleet_destroy(p->fleet); /* an answer still owed is dropped */
        p->fleet = NULL;
        uv_close((uv_handle_t *)&p->pump, on_pump_closed);
    }
}

void bf_ai_analyse_many(bf_ai_t *ai, size_t n, const bf_analysis_kind_t *kinds,
                        bf_ai_input_t *input, double deadline, bf_ai_done_cb *cb,
                        void *const *opaques)
{
    /* one lookup holds at most BF_ANALYSIS__COUNT calls */
    for (; n > BF_ANALYSIS__COUNT; n--, kinds++, opaques++)
        bf_ai_analyse_many(ai, 1, kinds, input, deadline, cb, opaques);
    bf_ai_call_t *calls[BF_ANALYSIS__COUNT];
    double now = bf_monotonic_s();
    for (size_t i = 0; i < n; i++) {
        bf_ai_call_t *c = bf_calloc(1, sizeof(*c));
        c->ai = ai;
        c->kind = kinds[i];
        c->input = bf_ai_input_ref(input);
        c->deadline = deadline;
        c->started = now;
        c->cb = cb;
        c->opaque = opaques[i];
        c->next_all = ai->calls;
        if (ai->calls)
            ai->calls->prev_all = c;
        ai->calls = c;
        ai->pending++;
        calls[i] = c;
    }
    /* Always through Redis or the pump timer, so cb never runs inside
     * this call. */
    if (!ai->cfg.cache || input->uncached || !bf_ai_cache_lookup(calls, n))
        for (size_t i = 0; i < n; i++)
            bf_ai_call_enqueue(&ai->providers[0], calls[i]);
}

void bf_ai_analyse(bf_ai_t *ai, bf_analysis_kind_t kind, bf_ai_input_t *input,
                   double deadline, bf_ai_done_cb *cb, void *opaque)
{
    bf_ai_analyse_many(ai, 1, &kind, input, deadline, cb, &opaque);
}

/* Seconds until some provider's breaker lets a probe through: 0 when one
 * is not open at all. */
static double earliest_probe(const bf_ai_t *ai, double now)
{
    double best = -1;
    for (size_t i = 0; i < ai->cfg.n_providers; i++) {
        double w = bf_breaker_wait(&ai->providers[i].breaker, now);
        if (best < 0 || w < best)
            best = w;
    }
    return best < 0 ? 0 : best;
}

bool bf_ai_available(const bf_ai_t *ai)
{
    return earliest_probe(ai, bf_monotonic_s()) == 0;
}

size_t bf_ai_pending(const bf_ai_t *ai)
{
    return ai->pending;
}

double bf_ai_cost_total(const bf_ai_t *ai)
{
    return ai->cost_total;
}

bf_breaker_state_t bf_ai_breaker_state(const bf_ai_t *ai, size_t index)
{
    return index < ai->cfg.n_providers ? ai->providers[index].breaker.state
                                       : BF_BREAKER_CLOSED;
}

void bf_ai_limit_status(const bf_ai_t *ai, bf_ai_limit_status_t *out)
{
    *out = (bf_ai_limit_status_t){.workers = 1};
    if (!ai)
        return;
    double now = bf_monotonic_s();
    const bf_ai_prov_t *first = &ai->providers[0];
    if (first->fleet) {
        bf_ai_fleet_status_t st;
        bf_ai_fleet_status(first->fleet, &st);
        out->rpm = st.rpm;
        out->tpm = st.tpm;
        out->workers = st.workers;
    }
    for (size_t i = 0; i < ai->cfg.n_providers; i++) {
        double share = bf_ai_call_limited_share(&ai->providers[i], now);
        if (share > out->limited_share)
            out->limited_share = share;
    }
}
