/*
 * ai.c - the AI layer's call life cycle (see ai.h).
 *
 * Each provider of the chain has a FIFO queue of calls waiting to be sent
 * and one loop timer that "pumps" it: the head of the queue goes out as
 * soon as both token buckets (requests/min, tokens/min) hold enough and
 * the circuit breaker allows it; otherwise the timer is set for the
 * bucket's wait. One timer per provider, not per call, keeps the order
 * first-come first-served and makes a thousand waiting calls cost nothing.
 *
 * A call's life:  QUEUED at provider i --pump--> IN_FLIGHT --answer--> done
 *                                                    |
 *                 retryable failure, tries left:  BACKOFF (own timer) -> QUEUED at i
 *                 otherwise, or breaker open:     QUEUED at i+1, or done (failed)
 *
 * Retries wait min(cap, base * 2^try) times a uniform draw ("full jitter",
 * AWS Architecture Blog, "Exponential Backoff And Jitter"), but never less
 * than the provider's retry-after. A 429 also halves the provider's
 * request and token rates (ai_limit.h) and blocks them until retry-after,
 * so every waiting call slows down, not just the one that was refused.
 *
 * A 429 is the provider asking us to wait, not a failure of the call: it
 * does not use up one of --ai-retries (LiteLLM keeps a separate retry
 * count for rate-limit errors for the same reason). Otherwise a call that
 * met three 429s in a burst failed for good at its first 5xx. 429s have a
 * budget of their own (throttle_budget): retries + 1 while a fallback
 * provider remains, MAX_THROTTLED at the last one, always within the
 * report's deadline.
 */
#include "worker/ai.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/log.h"
#include "libbf/mem.h"

/* 429s one call waits through at the last provider of its chain. */
#define MAX_THROTTLED 10

typedef struct call_s call_t;

typedef struct provider_s {
    bf_ai_t *ai;
    bf_ai_provider_config_t cfg;
    bf_ai_endpoint_t ep;
    bf_ai_template_t tmpl[BF_ANALYSIS__COUNT]; /* the request of each analysis */
    bf_bucket_t rpm, tpm;
    bf_breaker_t breaker;
    call_t *head, *tail; /* waiting to be sent */
    uv_timer_t pump;
    bf_series_t *circuit; /* bountyfleet_ai_circuit_state{provider} */
} provider_t;

struct bf_ai_s {
    uv_loop_t *loop;
    bf_http_t *http;
    bf_ai_config_t cfg;
    provider_t providers[BF_AI__COUNT];
    call_t *calls; /* every unsettled call */
    size_t pending;
    double cost_total;
    uint64_t rng;
    int open_handles;
    bool closing;
    bf_metric_t *m_requests, *m_duration, *m_tokens, *m_cost;
    bf_series_t *in_flight;
};

typedef enum call_state_e { LOOKUP, QUEUED, BACKOFF, IN_FLIGHT } call_state_t;

struct call_s {
    call_t *next_all, *prev_all;
    call_t *next_queued;
    bf_ai_t *ai;
    bf_analysis_kind_t kind;
    bf_ai_input_t *input; /* a reference of our own */
    double deadline, started, sent;
    bf_ai_done_cb *cb;
    void *opaque;
    size_t pi;     /* index of the provider in the chain */
    int tries;     /* attempts at this provider, 429s not counted */
    int throttled; /* 429s met at this provider */
    int attempts;
    call_state_t state;
    long estimate; /* tokens taken from the tpm bucket for this attempt */
    uv_timer_t backoff;
    bool timer_ready;
    char reasons[512]; /* why earlier providers were left */
    char last_error[256];
    bf_verdict_t verdict;
    double paid; /* cost of rejected answers the provider billed */
    bool cached;
    bf_ai_stream_t *stream; /* cfg.stream: this attempt's assembly */
    char *stream_body;      /* its equivalent non-streamed body */
};

static double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

/* xorshift64*: the jitter draws; quality matters little, speed and no
 * shared state (rand()) do. */
static double uniform01(bf_ai_t *ai)
{
    ai->rng ^= ai->rng >> 12;
    ai->rng ^= ai->rng << 25;
    ai->rng ^= ai->rng >> 27;
    return (double)((ai->rng * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53;
}

static void pump(provider_t *p);

static void on_pump_timer(uv_timer_t *t)
{
    pump(t->data);
}

static void kick(provider_t *p)
{
    if (!p->ai->closing && !uv_is_active((uv_handle_t *)&p->pump))
        uv_timer_start(&p->pump, on_pump_timer, 0, 0);
}

static void set_circuit_gauge(provider_t *p)
{
    if (p->circuit)
        bf_series_set(p->circuit, (double)p->breaker.state);
}

/* ---- settling a call ----------------------------------------------------- */

static void on_call_closed(uv_handle_t *h)
{
    free(h->data);
}

static void stream_clear(call_t *c)
{
    if (c->stream) {
        bf_ai_stream_free(c->stream);
        free(c->stream);
        c->stream = NULL;
    }
    free(c->stream_body);
    c->stream_body = NULL;
}

static void on_stream_text(const char *text, size_t len, void *opaque)
{
    call_t *c = opaque;
    if (c->ai->cfg.on_text)
        c->ai->cfg.on_text(c->kind, text, len, c->ai->cfg.text_opaque);
}

/* Body bytes of a streamed attempt: events of a 200 are assembled, the
 * body of any other status is only collected (its error text). */
static void on_http_chunk(const char *data, size_t len, long status, void *opaque)
{
    call_t *c = opaque;
    if (status == 200 && c->stream && bf_ai_stream_feed(c->stream, data, len) != BF_OK)
        c->stream->bad = true;
}

static void call_free(call_t *c)
{
    bf_ai_t *ai = c->ai;
    if (c->prev_all)
        c->prev_all->next_all = c->next_all;
    else
        ai->calls = c->next_all;
    if (c->next_all)
        c->next_all->prev_all = c->prev_all;
    ai->pending--;
    bf_ai_input_release(c->input);
    bf_verdict_clear(&c->verdict);
    stream_clear(c);
    if (c->timer_ready)
        uv_close((uv_handle_t *)&c->backoff, on_call_closed);
    else
        free(c);
}

static void finish(call_t *c, bf_err_t err, double cost)
{
    bf_ai_t *ai = c->ai;
    provider_t *p = &ai->providers[c->pi];
    bf_ai_result_t r = {
        .err = err,
        .verdict = err == BF_OK ? &c->verdict : NULL,
        .provider = bf_ai_provider_name(p->cfg.provider),
        .model = err == BF_OK && c->verdict.model[0] ? c->verdict.model : p->cfg.model,
        .cost_usd = cost + c->paid,
        .seconds = now_s() - c->started,
        .attempts = c->attempts,
        .cached = c->cached,
        .error = err == BF_OK ? NULL : c->reasons,
        .fallback = err == BF_OK && c->reasons[0] ? c->reasons : NULL,
    };
    c->cb(&r, c->opaque);
    call_free(c);
}

/* Append "provider: why" once: a reason already recorded (the same
 * error on every round of an outage) is not repeated, so the text stays
 * short and the last distinct reason fits. */
static void add_reason(call_t *c, const char *provider, const char *why)
{
    char item[320];
    snprintf(item, sizeof(item), "%s: %s", provider, why);
    if (strstr(c->reasons, item))
        return;
    size_t n = strlen(c->reasons);
    snprintf(c->reasons + n, sizeof(c->reasons) - n, "%s%s", n ? "; " : "", item);
}

static void enqueue(provider_t *p, call_t *c)
{
    c->state = QUEUED;
    c->next_queued = NULL;
    if (p->tail)
        p->tail->next_queued = c;
    else
        p->head = c;
    p->tail = c;
    kick(p);
}

/* Leave provider c->pi for @p why; the next one in the chain, or fail. */
static const char CIRCUIT_OPEN[] = "circuit open";

static void start_backoff(call_t *c, double delay);
static int throttle_budget(const call_t *c);

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

static void next_provider(call_t *c, const char *why)
{
    bf_ai_t *ai = c->ai;
    add_reason(c, bf_ai_provider_name(ai->providers[c->pi].cfg.provider), why);
    if (c->pi + 1 >= ai->cfg.n_providers) {
        /* Every provider is out. If only open circuits stopped the last
         * one, that is an outage, not the report's fault: wait for the
         * first cool-down and go round the chain again, within the
         * report's deadline (without one, fail now). */
        double now = now_s();
        double wait = earliest_probe(ai, now);
        if (why == CIRCUIT_OPEN && c->deadline > 0 && now + wait < c->deadline) {
            c->pi = 0;
            c->tries = c->throttled = 0;
            start_backoff(c, wait + 0.005); /* past the loop clock's ms rounding */
            return;
        }
        if (why == CIRCUIT_OPEN && c->last_error[0]) /* what the probes met */
            add_reason(c, bf_ai_provider_name(ai->providers[c->pi].cfg.provider),
                       c->last_error);
        finish(c, BF_ERR_PROVIDER, 0);
        return;
    }
    c->pi++;
    c->tries = c->throttled = 0;
    enqueue(&ai->providers[c->pi], c);
}

/* ---- sending --------------------------------------------------------------- */

static void on_http_done(const bf_http_response_t *resp, void *opaque);

static void send_call(provider_t *p, call_t *c, double now)
{
    bf_ai_t *ai = c->ai;
    const bf_ai_template_t *t = &p->tmpl[c->kind];
    /* The body: the template around the report's shared message. */
    const bf_http_part_t parts[] = {
        {t->head, t->head_len},
        {c->input->user_escaped, c->input->user_escaped_len},
        {t->tail, t->tail_len},
    };
    size_t body_len = t->fixed_bytes + c->input->user_escaped_len;
    c->estimate = bf_ai_tokens_estimate(body_len);
    stream_clear(c);
    if (ai->cfg.stream) {
        c->stream = bf_malloc(sizeof(*c->stream));
        bf_ai_stream_init(c->stream, p->cfg.provider, on_stream_text, c);
    }
    bf_bucket_take(&p->rpm, 1, now);
    bf_bucket_take(&p->tpm, (double)c->estimate, now);
    double timeout = ai->cfg.timeout_s;
    if (c->deadline > 0 && c->deadline - now < timeout)
        timeout = c->deadline - now;
    bf_http_request_t req = {
        .url = t->url,
        .headers = (const char *const *)t->headers,
        .body_parts = parts,
        .n_body_parts = sizeof(parts) / sizeof(parts[0]),
        .timeout_s = timeout > 0.001 ? timeout : 0.001,
        .connect_timeout_s = ai->cfg.connect_timeout_s,
        .on_chunk = ai->cfg.stream ? on_http_chunk : NULL,
    };
    c->state = IN_FLIGHT;
    c->attempts++;
    c->tries++;
    c->sent = now;
    bf_err_t err = bf_http_start(ai->http, &req, on_http_done, c);
    if (err) {
        snprintf(c->last_error, sizeof(c->last_error), "could not start request: %s",
                 bf_err_str(err));
        bf_breaker_record(&p->breaker, true, now); /* release a probe slot */
        next_provider(c, c->last_error);
        return;
    }
    if (ai->in_flight)
        bf_series_add(ai->in_flight, 1);
}

static call_t *dequeue(provider_t *p)
{
    call_t *c = p->head;
    p->head = c->next_queued;
    if (!p->head)
        p->tail = NULL;
    c->next_queued = NULL;
    return c;
}

static void pump(provider_t *p)
{
    bf_ai_t *ai = p->ai;
    double now = now_s();
    while (p->head && !ai->closing) {
        call_t *c = p->head;
        if (c->deadline > 0 && now >= c->deadline) {
            dequeue(p);
            next_provider(c, "report deadline exceeded");
            continue;
        }
        if (bf_breaker_wait(&p->breaker, now) > 0) {
            dequeue(p);
            next_provider(c, CIRCUIT_OPEN);
            continue;
        }
        double wait = bf_bucket_wait(&p->rpm, 1, now);
        double wt = bf_bucket_wait(&p->tpm, (double)c->estimate, now);
        if (wt > wait)
            wait = wt;
        if (wait > 0) {
            /* Round up to the next millisecond: a timer that fires a hair
             * early would find the bucket still short and spin. */
            uv_timer_start(&p->pump, on_pump_timer, (uint64_t)ceil(wait * 1000.0), 0);
            return;
        }
        bf_breaker_state_t before = p->breaker.state;
        if (!bf_breaker_allow(&p->breaker, now))
            return; /* half-open, probes out: their answers pump again */
        if (p->breaker.state != before)
            set_circuit_gauge(p);
        send_call(p, dequeue(p), now);
    }
}

/* ---- answers ------------------------------------------------------------- */

static void on_backoff_done(uv_timer_t *t)
{
    call_t *c = t->data;
    enqueue(&c->ai->providers[c->pi], c);
}

/* Rate-limit headers of a successful response: when the provider says a
 * window is used up, hold the bucket until it resets instead of finding
 * out through a 429. OpenAI: x-ratelimit-remaining-requests and
 * x-ratelimit-reset-requests ("6s"); Anthropic:
 * anthropic-ratelimit-requests-remaining and -reset (an RFC 3339 time). */
static void honour_headers(provider_t *p, const bf_http_response_t *resp, double now)
{
    static const char *const pairs[][2] = {
        {"x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"},
        {"x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"},
    };
    for (size_t i = 0; i < 2; i++) {
        const char *rem = bf_http_response_header(resp, pairs[i][0]);
        if (!rem || strcmp(rem, "0") != 0)
            continue;
        double reset = bf_ai_parse_duration(bf_http_response_header(resp, pairs[i][1]));
        bf_bucket_t *b = i == 0 ? &p->rpm : &p->tpm;
        if (reset > 0 && now + reset > b->blocked_until)
            b->blocked_until = now + reset;
    }
    static const char *const anthropic[][2] = {
        {"anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"},
        {"anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"},
    };
    for (size_t i = 0; i < 2; i++) {
        const char *rem = bf_http_response_header(resp, anthropic[i][0]);
        if (!rem || strcmp(rem, "0") != 0)
            continue;
        double reset = bf_ai_parse_reset_time(
            bf_http_response_header(resp, anthropic[i][1]), (double)time(NULL));
        if (reset < 0)
            reset = resp->retry_after_s;
        bf_bucket_t *b = i == 0 ? &p->rpm : &p->tpm;
        if (reset > 0 && now + reset > b->blocked_until)
            b->blocked_until = now + reset;
    }
}

static void count_request(bf_ai_t *ai, provider_t *p, call_t *c, const char *outcome,
                          double seconds)
{
    const char *prov = bf_ai_provider_name(p->cfg.provider);
    const char *kind = bf_analysis_kind_name(c->kind);
    if (ai->m_requests)
        bf_series_add(bf_metric_series(ai->m_requests, prov, kind, outcome), 1);
    if (ai->m_duration)
        bf_series_observe(bf_metric_series(ai->m_duration, prov, kind), seconds);
    if (ai->in_flight)
        bf_series_add(ai->in_flight, -1);
}

static double account(bf_ai_t *ai, provider_t *p, const bf_verdict_t *v)
{
    double cost = 0;
    const char *prov = bf_ai_provider_name(p->cfg.provider);
    if (bf_prices_cost_verdict(ai->cfg.prices, v, &cost) != BF_OK)
        bf_log(BF_LOG_WARN, "ai", "unpriced_model", BF_LSTR("provider", prov),
               BF_LSTR("model", v->model));
    ai->cost_total += cost;
    if (ai->m_tokens) {
        bf_series_add(bf_metric_series(ai->m_tokens, prov, v->model, "input"),
                      (double)(v->tokens_in - v->tokens_cached));
        bf_series_add(bf_metric_series(ai->m_tokens, prov, v->model, "cached_input"),
                      (double)v->tokens_cached);
        bf_series_add(bf_metric_series(ai->m_tokens, prov, v->model, "output"),
                      (double)v->tokens_out);
    }
    if (ai->m_cost)
        bf_series_add(bf_metric_series(ai->m_cost, prov, v->model), cost);
    return cost;
}

/* ---- response cache ------------------------------------------------------ */

static char *cache_key(const call_t *c, size_t pi)
{
    const bf_ai_t *ai = c->ai;
    const bf_ai_provider_config_t *pc = &ai->providers[pi].cfg;
    const char *version = ai->cfg.prompts->version ? ai->cfg.prompts->version : "";
    return bf_asprintf("%sai:%s:%s:%s:%s:%s",
                       ai->cfg.cache_prefix ? ai->cfg.cache_prefix : "",
                       bf_ai_provider_name(pc->provider), pc->model, version,
                       bf_analysis_kind_name(c->kind), c->input->content_hash);
}

static void on_cache_stored(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    (void)reply;
    (void)opaque;
    if (err)
        bf_log(BF_LOG_DEBUG, "ai", "cache_store_failed",
               BF_LSTR("error", bf_err_str(err)));
}

/* Store an answer: the checked verdict, not the provider's raw body. */
static void cache_store(call_t *c)
{
    bf_ai_t *ai = c->ai;
    if (!ai->cfg.cache || !c->input->content_hash[0])
        return;
    const bf_verdict_t *v = &c->verdict;
    json_t *j = json_pack("{s:f, s:f, s:s, s:O, s:s}", "score", v->score, "confidence",
                          v->confidence, "severity", v->severity, "reasons", v->reasons,
                          "model", v->model);
    char *value = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *key = cache_key(c, c->pi);
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "%lld",
             (long long)(ai->cfg.cache_ttl_s > 0 ? ai->cfg.cache_ttl_s : 30 * 86400));
    const char *argv[] = {"SET", key, value, "EX", ttl};
    size_t lens[] = {3, strlen(key), strlen(value), 2, strlen(ttl)};
    if (bf_redis_command_argv(ai->cfg.cache, on_cache_stored, NULL, 5, argv, lens))
        bf_log(BF_LOG_DEBUG, "ai", "cache_store_failed",
               BF_LSTR("error", "not connected"));
    free(key);
    free(value);
}

/* A stored answer, checked again like a fresh one: a corrupt entry is a
 * miss, never a half-trusted verdict. The entry is the answer's JSON plus
 * "model" (and "severity", which only the severity analysis keeps). */
bool bf_ai_cache_entry_parse(bf_analysis_kind_t kind, const char *text, size_t len,
                             bf_verdict_t *out)
{
    char errstr[200];
    json_t *j = text ? json_loadb(text, len, 0, NULL) : NULL;
    bool ok = false;
    if (json_is_object(j)) {
        json_t *answer = json_deep_copy(j);
        const char *sev = json_string_value(json_object_get(j, "severity"));
        json_object_del(answer, "model");
        if (kind != BF_ANALYSIS_SEVERITY || !sev || !*sev)
            json_object_del(answer, "severity");
        ok = bf_analysis_check_answer(kind, answer, out, errstr, sizeof(errstr)) == BF_OK;
        const char *model = json_string_value(json_object_get(j, "model"));
        snprintf(out->model, sizeof(out->model), "%s", model ? model : "");
        json_decref(answer);
    }
    json_decref(j);
    if (!ok)
        bf_verdict_clear(out);
    return ok;
}

static bool cache_hit(call_t *c, const char *text, size_t len)
{
    return bf_ai_cache_entry_parse(c->kind, text, len, &c->verdict);
}

static void on_cache_lookup(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    call_t *c = opaque;
    if (!c->cb) { /* abandoned by bf_ai_destroy() */
        bf_ai_input_release(c->input);
        free(c);
        return;
    }
    bf_ai_t *ai = c->ai;
    if (!err && reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements && i < ai->cfg.n_providers; i++) {
            redisReply *e = reply->element[i];
            if (e->type == REDIS_REPLY_STRING && cache_hit(c, e->str, e->len)) {
                c->pi = i;
                c->cached = true;
                finish(c, BF_OK, 0);
                return;
            }
        }
    }
    enqueue(&ai->providers[0], c);
}

/* Look the answer up under every provider of the chain in one MGET. */
static bool cache_lookup(call_t *c)
{
    bf_ai_t *ai = c->ai;
    bf_ai_input_content_hash(c->input);
    const char *argv[1 + BF_AI__COUNT];
    size_t lens[1 + BF_AI__COUNT];
    char *keys[BF_AI__COUNT];
    argv[0] = "MGET";
    lens[0] = 4;
    for (size_t i = 0; i < ai->cfg.n_providers; i++) {
        keys[i] = cache_key(c, i);
        argv[1 + i] = keys[i];
        lens[1 + i] = strlen(keys[i]);
    }
    c->state = LOOKUP;
    bf_err_t err = bf_redis_command_argv(ai->cfg.cache, on_cache_lookup, c,
                                         (int)(1 + ai->cfg.n_providers), argv, lens);
    for (size_t i = 0; i < ai->cfg.n_providers; i++)
        free(keys[i]);
    return err == BF_OK;
}

static void on_http_done(const bf_http_response_t *resp, void *opaque)
{
    call_t *c = opaque;
    bf_ai_t *ai = c->ai;
    provider_t *p = &ai->providers[c->pi];
    double now = now_s();
    if (resp->err == BF_ERR_STATE) { /* the HTTP client is closing */
        count_request(ai, p, c, "error", now - c->sent);
        snprintf(c->reasons, sizeof(c->reasons), "shutting down");
        finish(c, BF_ERR_STATE, 0);
        return;
    }
    honour_headers(p, resp, now);
    bf_http_response_t assembled;
    if (c->stream && resp->err == BF_OK && resp->status == 200) {
        /* From here on a streamed answer is the non-streamed one. */
        assembled = *resp;
        c->stream_body = bf_ai_stream_body(c->stream, &assembled.body_len);
        assembled.body = c->stream_body;
        resp = &assembled;
    }
    const char *outcome = "error";
    bool retry = true, health_failure = true;
    if (resp->err == BF_OK && resp->status == 200) {
        char errstr[200];
        if (bf_ai_response_parse(p->cfg.provider, c->kind, resp->body, resp->body_len,
                                 &c->verdict, errstr, sizeof(errstr)) == BF_OK) {
            if (!c->verdict.model[0])
                snprintf(c->verdict.model, sizeof(c->verdict.model), "%s", p->cfg.model);
            count_request(ai, p, c, "ok", now - c->sent);
            /* Settle the token estimate with the billed usage. */
            bf_bucket_adjust(&p->tpm,
                             (double)c->estimate -
                                 (double)(c->verdict.tokens_in + c->verdict.tokens_out));
            bf_bucket_recovered(&p->rpm);
            bf_bucket_recovered(&p->tpm);
            bf_breaker_record(&p->breaker, true, now);
            set_circuit_gauge(p);
            double cost = account(ai, p, &c->verdict);
            cache_store(c);
            kick(p);
            finish(c, BF_OK, cost);
            return;
        }
        outcome = "bad_answer";
        snprintf(c->last_error, sizeof(c->last_error), "bad answer: %s", errstr);
        /* A rejected answer is billed all the same: count what it cost. */
        bf_verdict_t billed;
        if (bf_ai_usage_parse(p->cfg.provider, resp->body, resp->body_len, &billed)) {
            if (!billed.model[0])
                snprintf(billed.model, sizeof(billed.model), "%s", p->cfg.model);
            c->paid += account(ai, p, &billed);
        }
    } else if (resp->err != BF_OK) {
        outcome = resp->err == BF_ERR_TIMEOUT ? "timeout" : "error";
        retry = resp->err != BF_ERR_TOO_LARGE;
        snprintf(c->last_error, sizeof(c->last_error), "%s: %.160s",
                 bf_err_str(resp->err), resp->error ? resp->error : "");
    } else {
        long s = resp->status;
        snprintf(c->last_error, sizeof(c->last_error), "HTTP %ld: %.160s", s, resp->body);
        if (s == 429) {
            outcome = "rate_limited";
            health_failure = false; /* a limit is not an outage */
            c->tries--;             /* nor a failed try (top of the file) */
            c->throttled++;
            bf_bucket_throttled(&p->rpm, resp->retry_after_s, now);
            bf_bucket_throttled(&p->tpm, resp->retry_after_s, now);
        } else if (s != 408 && s < 500) {
            retry = false; /* the request itself is wrong: no retry helps */
            health_failure = false;
        }
    }
    count_request(ai, p, c, outcome, now - c->sent);
    /* Only outcomes that say something about the provider's health move
     * the breaker; a 4xx or a 429 releases a half-open probe as a success. */
    bf_breaker_record(&p->breaker, !health_failure, now);
    set_circuit_gauge(p);
    bf_log(BF_LOG_DEBUG, "ai", "attempt_failed",
           BF_LSTR("provider", bf_ai_provider_name(p->cfg.provider)),
           BF_LSTR("kind", bf_analysis_kind_name(c->kind)), BF_LINT("try", c->tries),
           BF_LSTR("error", c->last_error));
    kick(p);
    if (!retry || c->tries > ai->cfg.retries || c->throttled >= throttle_budget(c)) {
        next_provider(c, c->last_error);
        return;
    }
    double ceiling = ai->cfg.backoff_base_s * pow(2.0, c->tries + c->throttled - 1);
    if (ceiling > ai->cfg.backoff_cap_s)
        ceiling = ai->cfg.backoff_cap_s;
    double delay = ceiling * uniform01(ai);
    if (resp->retry_after_s > delay)
        delay = resp->retry_after_s;
    if (c->deadline > 0 && now + delay >= c->deadline) {
        next_provider(c, c->last_error);
        return;
    }
    start_backoff(c, delay);
}

/* 429s a call waits through at its provider before it moves on: with a
 * fallback, as many as its retries (a provider out of quota must not hold
 * every call for the whole deadline); as the last of the chain, up to
 * MAX_THROTTLED, within the report's deadline. */
static int throttle_budget(const call_t *c)
{
    return c->pi + 1 < c->ai->cfg.n_providers ? c->ai->cfg.retries + 1 : MAX_THROTTLED;
}

static void start_backoff(call_t *c, double delay)
{
    if (!c->timer_ready) {
        uv_timer_init(c->ai->loop, &c->backoff);
        c->backoff.data = c;
        c->timer_ready = true;
    }
    c->state = BACKOFF;
    uv_timer_start(&c->backoff, on_backoff_done, (uint64_t)ceil(delay * 1000.0), 0);
}

/* ---- the public API --------------------------------------------------------- */

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
    bf_breaker_config_t bc = cfg->breaker;
    if (bc.consecutive_failures == 0 && bc.failure_rate == 0) {
        bc.consecutive_failures = 5;
        bc.failure_rate = 0.5;
        bc.min_calls = 20;
    }
    if (bc.cooldown_s <= 0)
        bc.cooldown_s = 10;
    ai->rng = uv_hrtime() | 1;
    if (cfg->metrics) {
        bf_metrics_t *m = cfg->metrics;
        ai->m_requests = bf_metrics_counter(m, "bountyfleet_ai_requests_total",
                                            "AI HTTP calls.", "provider,kind,outcome");
        ai->m_duration =
            bf_metrics_histogram(m, "bountyfleet_ai_request_duration_seconds",
                                 "AI call latency.", "provider,kind", NULL, 0);
        ai->m_tokens = bf_metrics_counter(m, "bountyfleet_ai_tokens_total",
                                          "Tokens billed.", "provider,model,type");
        ai->m_cost = bf_metrics_counter(m, "bountyfleet_ai_cost_usd_total", "AI spend.",
                                        "provider,model");
        ai->in_flight = bf_metric_series(bf_metrics_gauge(
            m, "bountyfleet_ai_calls_in_flight", "AI HTTP calls in flight.", NULL));
    }
    bf_metric_t *circuit =
        cfg->metrics ? bf_metrics_gauge(cfg->metrics, "bountyfleet_ai_circuit_state",
                                        "0 closed, 1 half-open, 2 open.", "provider")
                     : NULL;
    /* The requests first: a prompt set that cannot make one fails here,
     * before anything is on the loop. */
    for (size_t i = 0; i < cfg->n_providers; i++) {
        provider_t *p = &ai->providers[i];
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
                for (size_t j = 0; j <= i; j++)
                    for (int m = 0; m < BF_ANALYSIS__COUNT; m++)
                        bf_ai_template_free(&ai->providers[j].tmpl[m]);
                free(ai);
                return NULL;
            }
        }
    }
    double now = now_s();
    for (size_t i = 0; i < cfg->n_providers; i++) {
        provider_t *p = &ai->providers[i];
        bf_bucket_init(&p->rpm, p->cfg.rpm, now);
        bf_bucket_init(&p->tpm, p->cfg.tpm, now);
        bf_breaker_init(&p->breaker, &bc);
        uv_timer_init(loop, &p->pump);
        p->pump.data = p;
        ai->open_handles++;
        if (circuit) {
            p->circuit = bf_metric_series(circuit, bf_ai_provider_name(p->cfg.provider));
            set_circuit_gauge(p);
        }
    }
    return ai;
}

static void on_pump_closed(uv_handle_t *h)
{
    provider_t *p = h->data;
    bf_ai_t *ai = p->ai;
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++)
        bf_ai_template_free(&p->tmpl[k]);
    if (--ai->open_handles == 0)
        free(ai);
}

void bf_ai_destroy(bf_ai_t *ai)
{
    if (!ai)
        return;
    ai->closing = true;
    while (ai->calls) {
        call_t *c = ai->calls;
        if (c->state == LOOKUP) {
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
        if (c->state == IN_FLIGHT) {
            /* The HTTP client must be destroyed first; a call still in
             * flight would answer into freed memory. Leak it rather. */
            bf_log(BF_LOG_ERROR, "ai", "destroyed_with_call_in_flight");
            ai->calls = c->next_all; /* unlink: c is the head */
            if (ai->calls)
                ai->calls->prev_all = NULL;
            continue;
        }
        snprintf(c->reasons, sizeof(c->reasons), "shutting down");
        finish(c, BF_ERR_STATE, 0);
    }
    for (size_t i = 0; i < ai->cfg.n_providers; i++) {
        ai->providers[i].head = ai->providers[i].tail = NULL;
        uv_close((uv_handle_t *)&ai->providers[i].pump, on_pump_closed);
    }
}

void bf_ai_analyse(bf_ai_t *ai, bf_analysis_kind_t kind, bf_ai_input_t *input,
                   double deadline, bf_ai_done_cb *cb, void *opaque)
{
    call_t *c = bf_calloc(1, sizeof(*c));
    c->ai = ai;
    c->kind = kind;
    c->input = bf_ai_input_ref(input);
    c->deadline = deadline;
    c->started = now_s();
    c->cb = cb;
    c->opaque = opaque;
    /* The tokens/min bucket is asked for this estimate before the request
     * is built; the built body refines it (send_call), usage settles it. */
    c->estimate = bf_ai_tokens_estimate(ai->providers[0].tmpl[kind].fixed_bytes +
                                        input->user_escaped_len);
    c->next_all = ai->calls;
    if (ai->calls)
        ai->calls->prev_all = c;
    ai->calls = c;
    ai->pending++;
    /* Always through Redis or the pump timer, so cb never runs inside
     * this call. */
    if (!ai->cfg.cache || !cache_lookup(c))
        enqueue(&ai->providers[0], c);
}

bool bf_ai_available(const bf_ai_t *ai)
{
    return earliest_probe(ai, now_s()) == 0;
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

double bf_ai_parse_duration(const char *s)
{
    if (!s || !*s)
        return -1;
    double total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0)
            return -1;
        if (*end == '\0') {
            total += v; /* plain seconds */
            break;
        }
        if (end[0] == 'm' && end[1] == 's') {
            total += v / 1000.0;
            end += 2;
        } else if (*end == 'h') {
            total += v * 3600;
            end++;
        } else if (*end == 'm') {
            total += v * 60;
            end++;
        } else if (*end == 's') {
            total += v;
            end++;
        } else {
            return -1;
        }
        p = end;
    }
    return total;
}

double bf_ai_parse_reset_time(const char *rfc3339, double now_wall)
{
    if (!rfc3339)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    double frac = 0;
    if (*end == '.') { /* fractional seconds */
        char *after;
        frac = strtod(end, &after);
        end = after;
    }
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return -1; /* the API sends UTC */
    double at = (double)timegm(&tm) + frac;
    return at > now_wall ? at - now_wall : 0;
}
