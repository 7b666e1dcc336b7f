/*
 * ai_answer.c - what the AI layer does with a provider's answer (see
 * ai_call.c for the life cycle around it): a checked verdict is priced,
 * cached and settled; a failure is counted against the call's budget
 * (ai.h) and the provider's breaker, and retried with backoff or moved to
 * the next provider; rate-limit headers and 429s teach the limits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/backoff.h"
#include "libbf/log.h"
#include "worker/ai_int.h"

static const char *response_header(const char *name, void *opaque)
{
    return bf_http_response_header(opaque, name);
}

/* Rate-limit headers of a response (ai_ratelimit.h), for a provider with
 * limits to keep. Shared: the fleet learns (a cut, a lower limit), and if
 * nothing waits here to carry it, an empty acquisition takes it there.
 * This worker's alone: a window the provider says is used up holds the
 * buckets until it resets, instead of finding out through a 429. */
static void learn_limits(bf_ai_prov_t *p, const bf_http_response_t *resp, bool refused,
                         double now)
{
    if (!p->fleet && p->rpm.configured <= 0 && p->tpm.configured <= 0)
        return;
    bf_ai_ratelimit_t rl;
    if (!bf_ai_ratelimit_read(p->cfg.provider, response_header, (void *)resp,
                              resp->retry_after_s, (double)time(NULL), &rl) &&
        !refused)
        return;
    if (p->fleet) {
        if (bf_ai_fleet_learn(p->fleet, refused, &rl))
            bf_ai_call_flush_learned(p, now);
        return;
    }
    bf_bucket_t *buckets[2] = {&p->rpm, &p->tpm};
    double remaining[2] = {rl.remaining_requests, rl.remaining_tokens};
    double reset[2] = {rl.reset_requests_s, rl.reset_tokens_s};
    for (int i = 0; i < 2; i++) {
        if (!(remaining[i] >= 0 && remaining[i] < 1))
            continue;
        double hold = reset[i] >= 0 ? reset[i] : rl.retry_after_s;
        if (hold > 0 && now + hold > buckets[i]->blocked_until)
            buckets[i]->blocked_until = now + hold;
    }
}

static void count_request(bf_ai_t *ai, bf_ai_prov_t *p, bf_ai_call_t *c,
                          const char *outcome, double seconds)
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

static double account(bf_ai_t *ai, bf_ai_prov_t *p, const bf_verdict_t *v)
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

/* Tokens of an attempt as the provider billed them (0: refused, nothing
 * billed): the buckets took the estimate, the difference goes back. */
static void settle_tokens(bf_ai_prov_t *p, const bf_ai_call_t *c, long billed,
                          bool accepted)
{
    bf_bucket_adjust(&p->tpm, (double)(c->estimate - billed));
    if (p->fleet)
        bf_ai_fleet_settle(p->fleet, c->estimate, billed, accepted);
}

/* An attempt's outcome as far as the provider's health goes: the breaker,
 * the first failure of a run (what an open breaker will say), and the
 * breaker's transitions in the log (rare, so at warn and info). */
static void record_health(bf_ai_prov_t *p, bool healthy, double now)
{
    bf_breaker_state_t before = p->breaker.state;
    bf_breaker_record(&p->breaker, healthy, now);
    if (p->breaker.state == before) {
        bf_ai_call_circuit_gauge(p);
        return;
    }
    const char *prov = bf_ai_provider_name(p->cfg.provider);
    if (p->breaker.state == BF_BREAKER_OPEN)
        bf_log(BF_LOG_WARN, "ai", "circuit_opened", BF_LSTR("provider", prov),
               BF_LINT("failures", p->failures), BF_LSTR("first_cause", p->first_cause),
               BF_LDBL("cooldown_s", p->breaker.cfg.cooldown_s));
    else if (p->breaker.state == BF_BREAKER_CLOSED)
        bf_log(BF_LOG_INFO, "ai", "circuit_closed", BF_LSTR("provider", prov));
    bf_ai_call_circuit_gauge(p);
}

static void note_failure(bf_ai_prov_t *p, const char *why)
{
    if (p->failures++ == 0)
        snprintf(p->first_cause, sizeof(p->first_cause), "%.150s", why);
}

static void note_success(bf_ai_prov_t *p)
{
    /* A success while closed ends a run of failures; while open or half
     * open, the cause of the outage stays what its calls report. */
    if (p->breaker.state == BF_BREAKER_CLOSED) {
        p->failures = 0;
        p->first_cause[0] = '\0';
    }
}

void bf_ai_answer_on_http(const bf_http_response_t *resp, void *opaque)
{
    bf_ai_call_t *c = opaque;
    bf_ai_t *ai = c->ai;
    bf_ai_prov_t *p = &ai->providers[c->pi];
    double now = bf_monotonic_s();
    if (resp->err == BF_ERR_STATE) { /* the HTTP client is closing */
        count_request(ai, p, c, "error", now - c->sent);
        snprintf(c->reasons, sizeof(c->reasons), "shutting down");
        bf_ai_call_finish(c, BF_ERR_STATE, 0);
        return;
    }
    bool refused = resp->err == BF_OK && resp->status == 429;
    if (resp->err == BF_OK)
        learn_limits(p, resp, refused, now);
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
    long billed = 0;
    if (resp->err == BF_OK && resp->status == 200) {
        char errstr[200];
        if (bf_ai_response_parse(p->cfg.provider, c->kind, resp->body, resp->body_len,
                                 &c->verdict, errstr, sizeof(errstr)) == BF_OK) {
            if (!c->verdict.model[0])
                snprintf(c->verdict.model, sizeof(c->verdict.model), "%s", p->cfg.model);
            count_request(ai, p, c, "ok", now - c->sent);
            settle_tokens(p, c, c->verdict.tokens_in + c->verdict.tokens_out, true);
            if (!p->fleet) { /* without a shared limit, this worker's adapt */
                bf_bucket_recovered(&p->rpm);
                bf_bucket_recovered(&p->tpm);
            }
            note_success(p);
            record_health(p, true, now);
            double cost = account(ai, p, &c->verdict);
            bf_ai_cache_store(c);
            bf_ai_call_kick(p);
            bf_ai_call_finish(c, BF_OK, cost);
            return;
        }
        outcome = "bad_answer";
        snprintf(c->last_error, sizeof(c->last_error), "bad answer: %s", errstr);
        /* A rejected answer is billed all the same: count what it cost. */
        bf_verdict_t billed_usage;
        if (bf_ai_usage_parse(p->cfg.provider, resp->body, resp->body_len,
                              &billed_usage)) {
            if (!billed_usage.model[0])
                snprintf(billed_usage.model, sizeof(billed_usage.model), "%s",
                         p->cfg.model);
            c->paid += account(ai, p, &billed_usage);
            billed = billed_usage.tokens_in + billed_usage.tokens_out;
        }
    } else if (resp->err != BF_OK) {
        outcome = resp->err == BF_ERR_TIMEOUT ? "timeout" : "error";
        retry = resp->err != BF_ERR_TOO_LARGE;
        /* The cause first ("Connection refused", "timeout"), then curl's
         * words, so that it survives the cut to a reason's length. */
        if (resp->os_errno)
            snprintf(c->last_error, sizeof(c->last_error), "%s: %.160s",
                     strerror(resp->os_errno), resp->error ? resp->error : "");
        else
            snprintf(c->last_error, sizeof(c->last_error), "%s: %.160s",
                     bf_err_str(resp->err), resp->error ? resp->error : "");
    } else {
        long s = resp->status;
        snprintf(c->last_error, sizeof(c->last_error), "HTTP %ld: %.160s", s, resp->body);
        if (s == 429) {
            outcome = "rate_limited";
            health_failure = false; /* a limit is not an outage */
            c->tries[c->pi]--;      /* nor a failed try (top of the file) */
            c->throttled[c->pi]++;
            if (!p->fleet) {
                bf_bucket_throttled(&p->rpm, resp->retry_after_s, now);
                bf_bucket_throttled(&p->tpm, resp->retry_after_s, now);
            }
        } else if (s != 408 && s < 500) {
            retry = false; /* the request itself is wrong: no retry helps */
            health_failure = false;
        }
    }
    settle_tokens(p, c, billed, resp->err == BF_OK && resp->status == 200);
    count_request(ai, p, c, outcome, now - c->sent);
    /* Only outcomes that say something about the provider's health move
     * the breaker; a 4xx or a 429 releases a half-open probe as a success. */
    if (health_failure)
        note_failure(p, c->last_error);
    record_health(p, !health_failure, now);
    bf_log(BF_LOG_DEBUG, "ai", "attempt_failed",
           BF_LSTR("provider", bf_ai_provider_name(p->cfg.provider)),
           BF_LSTR("kind", bf_analysis_kind_name(c->kind)),
           BF_LINT("try", c->tries[c->pi]), BF_LSTR("error", c->last_error));
    bf_ai_call_kick(p);
    if (!retry)
        c->tries[c->pi] = ai->cfg.retries + 1; /* nothing left to try here */
    if (!bf_ai_call_budget_left(c, c->pi)) {
        bf_ai_call_next_provider(c, c->last_error);
        return;
    }
    /* full jitter over the failed and throttled attempts at this provider */
    const bf_backoff_t backoff = {ai->cfg.backoff_base_s, ai->cfg.backoff_cap_s, 1.0};
    int attempt = c->tries[c->pi] + c->throttled[c->pi] - 1;
    double delay = bf_backoff_s(&backoff, attempt > 0 ? (unsigned)attempt : 0);
    if (resp->retry_after_s > delay)
        delay = resp->retry_after_s;
    if (c->deadline > 0 && now + delay >= c->deadline) {
        bf_ai_call_next_provider(c, c->last_error);
        return;
    }
    bf_ai_call_retry(c, delay);
}
