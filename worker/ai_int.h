/*
 * ai_int.h - what the files of the AI layer share (not its API, ai.h):
 *
 *   ai.c        the layer: configuration, making and destroying it, what
 *               it reports (status, costs)
 *   ai_call.c   a call's life cycle: queued at a provider, limits, sent,
 *               retried, moved on, settled
 *   ai_answer.c a provider's answer: checked, priced, or counted against
 *               the call's budget and the provider's breaker
 *   ai_cache.c  the answer cache in Redis
 *   ai_fleet.c  the rate limit shared by the fleet (ai_fleet.h)
 *
 * @locality the loop thread only.
 */
#ifndef BF_WORKER_AI_INT_H
#define BF_WORKER_AI_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "libbf/clock.h"
#include "worker/ai.h"
#include "worker/ai_fleet.h"

typedef struct bf_ai_call_s bf_ai_call_t;

/* One provider of the chain. */
typedef struct bf_ai_prov_s {
    bf_ai_t *ai;
    bf_ai_provider_config_t cfg;
    bf_ai_endpoint_t ep;
    bf_ai_template_t tmpl[BF_ANALYSIS__COUNT]; /* the request of each analysis */
    /* its answer cache keys up to the content hash (ai_cache.c) */
    char *cache_head[BF_ANALYSIS__COUNT];
    bf_bucket_t rpm, tpm; /* this worker's own limits */
    bf_breaker_t breaker;
    /* Why it failed first since its breaker was last healthy (a success
     * or closed), and how many failed since: what an open breaker says. */
    char first_cause[160];
    int failures;
    bf_ai_call_t *head, *tail; /* waiting to be sent */
    uv_timer_t pump;
    /* The fleet-wide limit (ai_fleet.h), or NULL; calls it granted and
     * not yet sent, and when its last answer said to ask again. */
    bf_ai_fleet_t *fleet;
    int granted;
    double granted_at, fleet_next;
    /* Share of time the queue's head waited for a limit: an average with
     * a time constant of BF_AI_LIMITED_TAU_S, updated at each change, over
     * the time since started_at only (a worker that just started has no
     * earlier time to count as not waiting). */
    bool limited;
    double limited_avg, limited_at, started_at;
    bf_series_t *circuit;               /* bountyfleet_ai_circuit_state{provider} */
    bf_series_t *limit_rpm, *limit_tpm; /* bountyfleet_ai_limit_*_per_minute */
    bf_series_t *limit_workers;         /* bountyfleet_ai_limit_workers */
    bf_series_t *limit_fallbacks;       /* bountyfleet_ai_limit_local_total */
    bf_series_t *breaker_waits;         /* bountyfleet_ai_breaker_waits_total */
    bf_series_t *attempts;              /* bountyfleet_ai_call_attempts */
    unsigned long fallbacks_counted;
} bf_ai_prov_t;

/* Time constant of the limited share, seconds. */
#define BF_AI_LIMITED_TAU_S 10.0

struct bf_ai_s {
    uv_loop_t *loop;
    bf_http_t *http;
    bf_ai_config_t cfg;
    bf_ai_prov_t providers[BF_AI__COUNT];
    bf_ai_call_t *calls; /* every unsettled call */
    size_t pending;
    double cost_total;
    int open_handles;
    bool closing;
    bf_metric_t *m_requests, *m_duration, *m_tokens, *m_cost;
    bf_series_t *in_flight;
};

typedef enum bf_ai_call_state_e {
    BF_AI_LOOKUP,
    BF_AI_QUEUED,
    BF_AI_BACKOFF,
    BF_AI_IN_FLIGHT
} bf_ai_call_state_t;

struct bf_ai_call_s {
    bf_ai_call_t *next_all, *prev_all;
    bf_ai_call_t *next_queued;
    bf_ai_t *ai;
    bf_analysis_kind_t kind;
    bf_ai_input_t *input; /* a reference of our own */
    double deadline, started, sent;
    bf_ai_done_cb *cb;
    void *opaque;
    size_t pi; /* index of the provider in the chain */
    /* The call's budget (ai.h): failed attempts and 429s at each provider,
     * over the call's whole life (never reset when it goes round the
     * chain again), and the waits for an open breaker, which are neither. */
    int tries[BF_AI__COUNT];
    int throttled[BF_AI__COUNT];
    int breaker_waits;
    int attempts;
    bf_ai_call_state_t state;
    long estimate; /* tokens taken from the tpm buckets for this attempt */
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

/* ---- ai_call.c ----------------------------------------------------------- */

/** @brief Queue @p c at provider @p p and pump it soon. */
void bf_ai_call_enqueue(bf_ai_prov_t *p, bf_ai_call_t *c);
/** @brief Pump @p p on the next loop iteration (unless a pump is due). */
void bf_ai_call_kick(bf_ai_prov_t *p);
/** @brief The provider's pump timer. */
void bf_ai_call_on_pump(uv_timer_t *t);
/** @brief Settle @p c: its callback, then free it. */
void bf_ai_call_finish(bf_ai_call_t *c, bf_err_t err, double cost);
/** @brief Has @p c attempts (and 429s) left at provider @p i? (ai.h) */
bool bf_ai_call_budget_left(const bf_ai_call_t *c, size_t i);
/** @brief Leave c's provider for @p why: the next one with attempts left,
 *         a wait for an open breaker, or the end (finish, failed). */
void bf_ai_call_next_provider(bf_ai_call_t *c, const char *why);
/** @brief Queue @p c at its provider again after @p delay seconds. */
void bf_ai_call_retry(bf_ai_call_t *c, double delay);
/** @brief Tokens an attempt of @p c at @p p is estimated to bill. */
long bf_ai_call_estimate(const bf_ai_prov_t *p, const bf_ai_call_t *c);
/** @brief The fleet learned something (ai_fleet.h) and no acquisition is
 *         due to carry it: send it now. */
void bf_ai_call_flush_learned(bf_ai_prov_t *p, double now);

/* ---- ai_answer.c --------------------------------------------------------- */

/** @brief bf_http_done_cb of every attempt (opaque: the call). */
void bf_ai_answer_on_http(const bf_http_response_t *resp, void *opaque);
/** @brief Set the circuit gauge of @p p to its breaker's state. */
void bf_ai_call_circuit_gauge(bf_ai_prov_t *p);
/** @brief The share of the last ~BF_AI_LIMITED_TAU_S that @p p's queue
 *         waited for a limit, at @p now. */
double bf_ai_call_limited_share(const bf_ai_prov_t *p, double now);

/* ---- ai_cache.c ---------------------------------------------------------- */

/** @brief The cache key head of @p p for @p kind, up to the content hash;
 *         the caller owns the string. */
char *bf_ai_cache_head(const bf_ai_t *ai, const bf_ai_prov_t *p, bf_analysis_kind_t kind);
/**
 * @brief Look the answers of @p n calls of one report up under every
 *        provider of the chain (one MGET for all of them); a hit finishes
 *        its call, a miss queues it at the first provider.
 * @returns false when Redis cannot be asked (the caller queues them).
 */
bool bf_ai_cache_lookup(bf_ai_call_t *const *calls, size_t n);
/** @brief Store the checked verdict of @p c (no answer awaited). */
void bf_ai_cache_store(bf_ai_call_t *c);

#endif
