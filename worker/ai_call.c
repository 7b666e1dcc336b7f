/*
 * ai_call.c - the AI layer's call life cycle (see ai.h for the budget of a
 * call, ai_int.h for the layout).
 *
 * Each provider of the chain has a FIFO queue of calls waiting to be sent
 * and one loop timer that "pumps" it: the head of the queue goes out as
 * soon as this worker's own buckets (requests/min, tokens/min) hold
 * enough, the fleet-wide limit (ai_fleet.h) granted it and the circuit
 * breaker allows it; otherwise the timer is set for the wait. One timer
 * per provider, not per call, keeps the order first-come first-served and
 * makes a thousand waiting calls cost nothing. The fleet is asked for up
 * to BF_AI_FLEET_BATCH queued calls at once, one round trip at a time.
 *
 * A call's life:  QUEUED at provider i --pump--> IN_FLIGHT --answer--> done
 *                                                    |
 *                 retryable failure, attempts left:  BACKOFF (own timer) -> QUEUED at i
 *                 otherwise, or breaker open:        QUEUED at the next provider with
 *                                                    attempts left; at the end of the
 *                                                    chain: wait for a breaker or fail
 *
 * Retries wait min(cap, base * 2^try) times a uniform draw ("full jitter",
 * AWS Architecture Blog, "Exponential Backoff And Jitter"), but never less
 * than the provider's retry-after. A 429 also slows the provider down for
 * every waiting call: the fleet's shared rate is cut (ai_fleet.h), or,
 * without a shared limit, this worker's buckets are halved and blocked
 * until retry-after (ai_limit.h).
 *
 * A 429 is the provider asking us to wait, not a failure of the call: it
 * does not use up one of --ai-retries (LiteLLM keeps a separate retry
 * count for rate-limit errors for the same reason), and has a budget of
 * its own (ai.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/ai_int.h"

/* Calls the fleet granted and that were not sent within this long are
 * given up: sent later they would make a burst the fleet did not plan. */
#define GRANT_TTL_S 1.0

static void pump(bf_ai_prov_t *p);

void bf_ai_call_on_pump(uv_timer_t *t)
{
    pump(t->data);
}

void bf_ai_call_kick(bf_ai_prov_t *p)
{
    if (!p->ai->closing && !uv_is_active((uv_handle_t *)&p->pump))
        uv_timer_start(&p->pump, bf_ai_call_on_pump, 0, 0);
}

/* Pump again in @p wait seconds, rounded up to the next millisecond: a
 * timer that fires a hair early would find the bucket still short and
 * spin. */
static void pump_in(bf_ai_prov_t *p, double wait)
{
    uv_timer_start(&p->pump, bf_ai_call_on_pump, (uint64_t)ceil(wait * 1000.0), 0);
}

void bf_ai_call_circuit_gauge(bf_ai_prov_t *p)
{
    if (p->circuit)
        bf_series_set(p->circuit, (double)p->breaker.state);
}

/* The average as it runs, from 0 at the start. */
static double limited_running(const bf_ai_prov_t *p, double now)
{
    double dt = now > p->limited_at ? now - p->limited_at : 0;
    double keep = exp(-dt / BF_AI_LIMITED_TAU_S);
    return p->limited_avg * keep + (p->limited ? 1 - keep : 0);
}

double bf_ai_call_limited_share(const bf_ai_prov_t *p, double now)
{
    /* Divided by the weight the time since the start carries, so that a
     * worker limited from its first call reads about 1 at once, not
     * 1 - e^(-age/tau) (the start-up bias of an average begun at 0). A
     * fleet grown under a limit then says so on its new workers' first
     * heartbeats, and the autoscaler does not take them for spare room. */
    double age = now > p->started_at ? now - p->started_at : 0;
    double weight = 1 - exp(-age / BF_AI_LIMITED_TAU_S);
    if (weight < 1e-6)
        return p->limited ? 1 : 0;
    double share = limited_running(p, now) / weight;
    return share < 1 ? share : 1;
}

static void set_limited(bf_ai_prov_t *p, bool limited, double now)
{
    if (limited == p->limited)
        return;
    p->limited_avg = limited_running(p, now);
    p->limited_at = now;
    p->limited = limited;
}

/* ---- settling a call ----------------------------------------------------- */

static void on_call_closed(uv_handle_t *h)
{
    free(h->data);
}

static void stream_clear(bf_ai_call_t *c)
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
    bf_ai_call_t *c = opaque;
    if (c->ai->cfg.on_text)
        c->ai->cfg.on_text(c->kind, text, len, c->ai->cfg.text_opaque);
}

/* Body bytes of a streamed attempt: events of a 200 are assembled, the
 * body of any other status is only collected (its error text). */
static void on_http_chunk(const char *data, size_t len, long status, void *opaque)
{
    bf_ai_call_t *c = opaque;
    if (status == 200 && c->stream && bf_ai_stream_feed(c->stream, data, len) != BF_OK)
        c->stream->bad = true;
}

static void call_free(bf_ai_call_t *c)
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

void bf_ai_call_finish(bf_ai_call_t *c, bf_err_t err, double cost)
{
    bf_ai_t *ai = c->ai;
    bf_ai_prov_t *p = &ai->providers[c->pi];
    int throttled = 0;
    for (size_t i = 0; i < ai->cfg.n_providers; i++)
        throttled += c->throttled[i];
    bf_ai_result_t r = {
        .err = err,
        .verdict = err == BF_OK ? &c->verdict : NULL,
        .provider = bf_ai_provider_name(p->cfg.provider),
        .model = err == BF_OK && c->verdict.model[0] ? c->verdict.model : p->cfg.model,
        .cost_usd = cost + c->paid,
        .seconds = bf_monotonic_s() - c->started,
        .attempts = c->attempts,
        .throttled = throttled,
        .breaker_waits = c->breaker_waits,
        .cached = c->cached,
        .error = err == BF_OK ? NULL : c->reasons,
        .fallback = err == BF_OK && c->reasons[0] ? c->reasons : NULL,
    };
    if (p->attempts && !c->cached && err != BF_ERR_STATE)
        bf_series_observe(p->attempts, (double)c->attempts);
    c->cb(&r, c->opaque);
    call_free(c);
}

/* Append "provider: why" once: a reason already recorded (the same
 * error on every round of an outage) is not repeated, so the text stays
 * short and the last distinct reason fits. */
static void add_reason(bf_ai_call_t *c, const char *provider, const char *why)
{
    char item[320];
    snprintf(item, sizeof(item), "%s: %s", provider, why);
    if (strstr(c->reasons, item))
        return;
    size_t n = strlen(c->reasons);
    snprintf(c->reasons + n, sizeof(c->reasons) - n, "%s%s", n ? "; " : "", item);
}

void bf_ai_call_enqueue(bf_ai_prov_t *p, bf_ai_call_t *c)
{
    c->state = BF_AI_QUEUED;
    c->next_queued = NULL;
    if (p->tail)
        p->tail->next_queued = c;
    else
        p->head = c;
    p->tail = c;
    bf_ai_call_kick(p);
}

/* ---- the budget ------------------------------------------------------------ */

/* 429s a call waits through at provider @p i before it moves on: with a
 * fallback, as many as its retries (a provider out of quota must not hold
 * every call for the whole deadline); as the last of the chain, up to
 * BF_AI_MAX_THROTTLED, within the report's deadline. */
static int throttle_budget(const bf_ai_call_t *c, size_t i)
{
    return i + 1 < c->ai->cfg.n_providers ? c->ai->cfg.retries + 1 : BF_AI_MAX_THROTTLED;
}

bool bf_ai_call_budget_left(const bf_ai_call_t *c, size_t i)
{
    return c->tries[i] <= c->ai->cfg.retries && c->throttled[i] < throttle_budget(c, i);
}

/* What a call passed over by an open breaker records: the state and the
 * failure that started it, so an outage reads "circuit open after 10
 * failures; first: ...: Connection refused", not only "circuit open". */
static const char *circuit_reason(const bf_ai_prov_t *p, char *buf, size_t size)
{
    if (p->first_cause[0])
        snprintf(buf, size, "circuit %s after %d failures; first: %s",
                 bf_breaker_state_name(p->breaker.state), p->failures, p->first_cause);
    else
        snprintf(buf, size, "circuit %s", bf_breaker_state_name(p->breaker.state));
    return buf;
}

static void on_backoff_done(uv_timer_t *t)
{
    bf_ai_call_t *c = t->data;
    bf_ai_call_enqueue(&c->ai->providers[c->pi], c);
}

void bf_ai_call_retry(bf_ai_call_t *c, double delay)
{
    if (!c->timer_ready) {
        uv_timer_init(c->ai->loop, &c->backoff);
        c->backoff.data = c;
        c->timer_ready = true;
    }
    c->state = BF_AI_BACKOFF;
    uv_timer_start(&c->backoff, on_backoff_done, (uint64_t)ceil(delay * 1000.0), 0);
}

/* At the end of the chain, a call waits for an open breaker of a provider
 * that still has attempts left (an outage is not the report's fault). */
void bf_ai_call_next_provider(bf_ai_call_t *c, const char *why)
{
    bf_ai_t *ai = c->ai;
    size_t n = ai->cfg.n_providers;
    add_reason(c, bf_ai_provider_name(ai->providers[c->pi].cfg.provider), why);
    for (size_t j = c->pi + 1; j < n; j++)
        if (bf_ai_call_budget_left(c, j)) {
            c->pi = j;
            bf_ai_call_enqueue(&ai->providers[j], c);
            return;
        }
    double now = bf_monotonic_s(), wait = -1;
    size_t first = n;
    for (size_t j = 0; j < n; j++) {
        if (!bf_ai_call_budget_left(c, j))
            continue;
        double w = bf_breaker_wait(&ai->providers[j].breaker, now);
        if (first == n)
            first = j;
        if (wait < 0 || w < wait)
            wait = w;
    }
    if (first < n && c->deadline > 0 && now + wait < c->deadline) {
        c->pi = first;
        c->breaker_waits++;
        if (ai->providers[first].breaker_waits)
            bf_series_add(ai->providers[first].breaker_waits, 1);
        bf_ai_call_retry(c, wait + 0.005); /* past the loop clock's ms rounding */
        return;
    }
    bf_ai_call_finish(c, BF_ERR_PROVIDER, 0);
}

/* No attempt may start any more (the deadline passed, the layer closes). */
static void give_up(bf_ai_call_t *c, const char *why)
{
    add_reason(c, bf_ai_provider_name(c->ai->providers[c->pi].cfg.provider), why);
    bf_ai_call_finish(c, BF_ERR_PROVIDER, 0);
}

/* ---- sending --------------------------------------------------------------- */

long bf_ai_call_estimate(const bf_ai_prov_t *p, const bf_ai_call_t *c)
{
    return bf_ai_tokens_estimate(p->tmpl[c->kind].fixed_bytes +
                                 c->input->user_escaped_len);
}

static void send_call(bf_ai_prov_t *p, bf_ai_call_t *c, double now)
{
    bf_ai_t *ai = c->ai;
    const bf_ai_template_t *t = &p->tmpl[c->kind];
    /* The body: the template around the report's shared message. */
    const bf_http_part_t parts[] = {
        {t->head, t->head_len},
        {c->input->user_escaped, c->input->user_escaped_len},
        {t->tail, t->tail_len},
    };
    c->estimate = bf_ai_call_estimate(p, c);
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
    c->state = BF_AI_IN_FLIGHT;
    c->attempts++;
    c->tries[c->pi]++;
    c->sent = now;
    bf_err_t err = bf_http_start(ai->http, &req, bf_ai_answer_on_http, c);
    if (err) {
        snprintf(c->last_error, sizeof(c->last_error), "could not start request: %s",
                 bf_err_str(err));
        bf_breaker_record(&p->breaker, true, now); /* release a probe slot */
        bf_ai_call_next_provider(c, c->last_error);
        return;
    }
    if (ai->in_flight)
        bf_series_add(ai->in_flight, 1);
}

static bf_ai_call_t *dequeue(bf_ai_prov_t *p)
{
    bf_ai_call_t *c = p->head;
    p->head = c->next_queued;
    if (!p->head)
        p->tail = NULL;
    c->next_queued = NULL;
    return c;
}

/* The fleet's answer: @p granted calls may go, ask again after @p wait. */
static void take_grant(bf_ai_prov_t *p, int granted, double wait, double now)
{
    p->granted = granted;
    p->granted_at = now;
    p->fleet_next = now + (granted == 0 && wait < 0.001 ? 0.001 : wait);
    bf_ai_fleet_status_t st;
    bf_ai_fleet_status(p->fleet, &st);
    if (p->limit_rpm)
        bf_series_set(p->limit_rpm, st.rpm);
    if (p->limit_tpm)
        bf_series_set(p->limit_tpm, st.tpm);
    if (p->limit_workers)
        bf_series_set(p->limit_workers, (double)st.workers);
    if (p->limit_fallbacks && st.fallbacks > p->fallbacks_counted)
        bf_series_add(p->limit_fallbacks, (double)(st.fallbacks - p->fallbacks_counted));
    p->fallbacks_counted = st.fallbacks;
}

static void on_granted(int granted, double wait, void *opaque)
{
    bf_ai_prov_t *p = opaque;
    if (p->ai->closing)
        return;
    take_grant(p, granted, wait, bf_monotonic_s());
    pump(p);
}

/* Ask the fleet for the calls at the head of the queue (no more than this
 * worker's own request bucket lets through now). @returns false while
 * Redis has the question. */
static bool acquire(bf_ai_prov_t *p, double now)
{
    long tokens[BF_AI_FLEET_BATCH];
    int n = 0;
    for (const bf_ai_call_t *c = p->head; c && n < BF_AI_FLEET_BATCH; c = c->next_queued)
        tokens[n++] = bf_ai_call_estimate(p, c);
    if (p->rpm.configured > 0) {
        int room = (int)floor(p->rpm.level + 1e-9);
        if (n > room)
            n = room > 1 ? room : 1;
    }
    int granted;
    double wait;
    if (!bf_ai_fleet_acquire(p->fleet, tokens, n, now, on_granted, p, &granted, &wait))
        return false;
    take_grant(p, granted, wait, now);
    return true;
}

void bf_ai_call_flush_learned(bf_ai_prov_t *p, double now)
{
    if (p->head || bf_ai_fleet_busy(p->fleet))
        return; /* the next acquisition carries it */
    int granted;
    double wait;
    if (bf_ai_fleet_acquire(p->fleet, NULL, 0, now, on_granted, p, &granted, &wait))
        take_grant(p, 0, wait, now);
}

static void pump(bf_ai_prov_t *p)
{
    bf_ai_t *ai = p->ai;
    double now = bf_monotonic_s();
    while (p->head && !ai->closing) {
        bf_ai_call_t *c = p->head;
        if (c->deadline > 0 && now >= c->deadline) {
            dequeue(p);
            give_up(c, "report deadline exceeded");
            continue;
        }
        if (bf_breaker_wait(&p->breaker, now) > 0) {
            char why[256];
            dequeue(p);
            bf_ai_call_next_provider(c, circuit_reason(p, why, sizeof(why)));
            continue;
        }
        double wait = bf_bucket_wait(&p->rpm, 1, now);
        double wt = bf_bucket_wait(&p->tpm, (double)bf_ai_call_estimate(p, c), now);
        if (wt > wait)
            wait = wt;
        if (wait > 0) {
            set_limited(p, true, now);
            pump_in(p, wait);
            return;
        }
        if (p->fleet) {
            if (p->granted > 0 && now - p->granted_at > GRANT_TTL_S)
                p->granted = 0;
            if (p->granted == 0) {
                if (bf_ai_fleet_busy(p->fleet))
                    return; /* its answer pumps again */
                if (now < p->fleet_next) {
                    set_limited(p, true, now);
                    pump_in(p, p->fleet_next - now);
                    return;
                }
                if (!acquire(p, now))
                    return;
                continue; /* answered at once, from the local share */
            }
        }
        bf_breaker_state_t before = p->breaker.state;
        if (!bf_breaker_allow(&p->breaker, now))
            return; /* half-open, probes out: their answers pump again */
        if (p->breaker.state != before)
            bf_ai_call_circuit_gauge(p);
        set_limited(p, false, now);
        if (p->fleet)
            p->granted--;
        send_call(p, dequeue(p), now);
    }
    if (!p->head)
        set_limited(p, false, now);
}
