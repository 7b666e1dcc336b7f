/*
 * ai.h - the worker's AI layer: run one analysis of one report through an
 * ordered chain of providers (AI_PROVIDERS), each guarded by token buckets
 * for requests/min and tokens/min (the account's, shared by the fleet in
 * Redis, ai_fleet.h; and this worker's own), a circuit breaker, and
 * retries with exponential backoff and full jitter, inside a per-report
 * deadline.
 *
 *   bf_ai_t *ai = bf_ai_new(loop, http, &cfg, errstr, sizeof(errstr));
 *   bf_ai_input_t *in = bf_ai_input_new(report_json);
 *   bf_ai_analyse(ai, BF_ANALYSIS_QUALITY, in, deadline, on_done, job);
 *   bf_ai_input_release(in);   the calls keep their own references
 *   ...
 *   bf_http_destroy(http);   in-flight calls finish with BF_ERR_STATE
 *   bf_ai_destroy(ai);       waiting calls finish with BF_ERR_STATE
 *
 * A call's outcome is reported exactly once. Retried: 408, 429, 5xx, 529,
 * timeouts, connection errors and answers that fail the schema; other 4xx
 * go straight to the next provider. Every provider tried and why it was
 * left is recorded in the result's fallback text, an open breaker with
 * the failure that opened it ("circuit open after 10 failures, the first:
 * ...").
 *
 * A call's budget, for its whole life:
 *   attempts  at most cfg.retries + 1 failed attempts at each provider of
 *             the chain, whatever happens in between: a call that waits
 *             for an open breaker and goes round the chain again does not
 *             get fresh tries (so at most (retries + 1) * providers in all);
 *   429s      counted apart, not as failed attempts (the provider asks us
 *             to wait): retries + 1 at a provider with a fallback after
 *             it, BF_AI_MAX_THROTTLED at the last one;
 *   breaker   when every provider that still has attempts left has its
 *             breaker open, the call waits for the first probe and goes
 *             round again (bf_ai_result_t.breaker_waits,
 *             bountyfleet_ai_breaker_waits_total), never past its deadline
 *             and not at all without one;
 *   time      no attempt starts after the deadline (the report's
 *             --ai-deadline), and an attempt's timeout is cut to it.
 *
 * @locality the loop thread only.
 */
#ifndef BF_WORKER_AI_H
#define BF_WORKER_AI_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "libbf/err.h"
#include "libbf/http.h"
#include "libbf/metrics.h"
#include "libbf/redis.h"
#include "worker/ai_input.h"
#include "worker/ai_limit.h"
#include "worker/ai_provider.h"
#include "worker/ai_ratelimit.h"
#include "worker/ai_stream.h"
#include "worker/analysis.h"

/* 429s one call waits through at the last provider of its chain. */
#define BF_AI_MAX_THROTTLED 10

typedef struct bf_ai_s bf_ai_t;

/** One provider of the chain; strings borrowed for the layer's lifetime. */
typedef struct bf_ai_provider_config_s {
    bf_ai_provider_t provider;
    const char *base_url; /* NULL: the provider's documented default */
    const char *api_key;  /* secret; required */
    const char *model;    /* required */
    double rpm;           /* this worker's requests per minute at most; 0 = unlimited */
    double tpm;           /* this worker's tokens per minute at most; 0 = unlimited */
    /* The account's limits, shared by every worker through cfg.limits
     * (ai_fleet.h) and learned lower from 429s and headers; 0 = none. */
    double fleet_rpm, fleet_tpm;
} bf_ai_provider_config_t;

/** Streamed text of analysis @p kind as it arrives (borrowed, not
 *  NUL-terminated); an attempt that is retried streams again. */
typedef void(bf_ai_text_cb)(bf_analysis_kind_t kind, const char *text, size_t len,
                            void *opaque);

typedef struct bf_ai_config_s {
    bf_ai_provider_config_t providers[BF_AI__COUNT]; /* the fallback chain, in order */
    size_t n_providers;
    const bf_prompts_t *prompts; /* borrowed */
    const bf_prices_t *prices;   /* borrowed */
    bf_metrics_t *metrics;       /* borrowed; NULL: no metrics */
    int retries;                 /* per provider, after the first attempt */
    double timeout_s;            /* total time of one HTTP call */
    double connect_timeout_s;    /* 0: 10 s */
    double backoff_base_s;       /* 0: 0.5 s */
    double backoff_cap_s;        /* 0: 10 s */
    bf_breaker_config_t breaker; /* zeroes: 10 in a row, 60% of >= 50, 10 s, 1 probe */
    /* Response cache: answers stored in Redis under
     * {prefix}ai:{provider}:{model}:{prompt version}:{kind}:{sha256 of the
     * report}, so the same content is never paid for twice. */
    bf_redis_t *cache;        /* borrowed; NULL: no cache */
    const char *cache_prefix; /* e.g. "bf:"; also of the shared limits' keys */
    double cache_ttl_s;       /* 0: 30 days */
    /* Shared limits (fleet_rpm, fleet_tpm) live here; NULL: this worker
     * keeps them alone, as if it were the only one. */
    bf_redis_t *limits;    /* borrowed */
    const char *worker_id; /* who takes from them (copied during bf_ai_new) */
    /* Streaming (ai_stream.h): calls ask for server-sent events, the answer
     * and its usage are assembled from them and checked exactly like a
     * non-streamed answer; on_text sees the model's text as it arrives. */
    bool stream;
    bf_ai_text_cb *on_text; /* NULL: none */
    void *text_opaque;
} bf_ai_config_t;

/** A settled analysis; borrowed, valid during the callback. */
typedef struct bf_ai_result_s {
    bf_err_t err; /* BF_OK: verdict is filled */
    bf_verdict_t
        *verdict; /* on success: the caller may move it out (memcpy, then zero it) */
    const char *provider; /* the provider that answered or was tried last */
    const char *model;    /* the model that answered, or the configured one */
    double cost_usd;      /* of the answer and of rejected answers billed before it */
    double seconds;       /* from bf_ai_analyse() to now */
    int attempts;         /* HTTP calls made, all providers */
    int throttled;        /* of them answered 429 */
    int breaker_waits;    /* times it waited for an open breaker */
    bool cached;          /* answered from the response cache: nothing paid */
    const char *error;    /* on failure: why, per provider tried */
    const char *fallback; /* on success after a fallback: why earlier ones failed */
} bf_ai_result_t;

typedef void(bf_ai_done_cb)(const bf_ai_result_t *r, void *opaque);

/**
 * @brief Check a configuration without creating anything (so that a
 *        daemon can refuse a bad one before it connects anywhere).
 * @returns BF_OK, or BF_ERR_CONFIG with errstr naming the setting.
 */
bf_err_t bf_ai_config_check(const bf_ai_config_t *cfg, char *errstr, size_t errstr_size);

/**
 * @brief Create the layer. Declares its metrics in cfg->metrics when given.
 * @param http borrowed; must outlive the layer's in-flight calls
 * @returns NULL with errstr on a bad configuration.
 */
bf_ai_t *bf_ai_new(uv_loop_t *loop, bf_http_t *http, const bf_ai_config_t *cfg,
                   char *errstr, size_t errstr_size);

/**
 * @brief Finish every waiting call with BF_ERR_STATE and free the layer
 *        (its timers are released as the loop runs). Destroy the HTTP
 *        client first. NULL-safe.
 */
void bf_ai_destroy(bf_ai_t *ai);

/**
 * @brief Start analysis @p kind of the report of @p input (ai_input.h);
 *        @p cb runs exactly once, on the loop, never from inside this call.
 * @param input borrowed (a reference is kept until cb)
 * @param deadline absolute time on uv_hrtime()/1e9 seconds after which no
 *        new attempt starts (0: none)
 */
void bf_ai_analyse(bf_ai_t *ai, bf_analysis_kind_t kind, bf_ai_input_t *input,
                   double deadline, bf_ai_done_cb *cb, void *opaque);

/**
 * @brief bf_ai_analyse() of @p n analyses of one report at once (@p cb
 *        runs once for each, with its own opaques[i]): their cached
 *        answers are asked for in one Redis command instead of @p n, or
 *        not at all for an input marked uncached (bf_ai_input_t).
 * @param kinds borrowed, @p n of them (a kind may repeat)
 * @param opaques borrowed, @p n of them
 */
void bf_ai_analyse_many(bf_ai_t *ai, size_t n, const bf_analysis_kind_t *kinds,
                        bf_ai_input_t *input, double deadline, bf_ai_done_cb *cb,
                        void *const *opaques);

/**
 * @brief False while every provider's breaker is open (an outage): the
 *        worker may pause consumption rather than queue more reports.
 *        Calls started meanwhile wait for the first cool-down within their
 *        deadline (or fail at once without one).
 */
bool bf_ai_available(const bf_ai_t *ai);

/** @brief Calls started and not yet settled. */
size_t bf_ai_pending(const bf_ai_t *ai);

/** @brief Running total of the spend, USD. */
double bf_ai_cost_total(const bf_ai_t *ai);

/** @brief The breaker state of the chain's provider @p index. */
bf_breaker_state_t bf_ai_breaker_state(const bf_ai_t *ai, size_t index);

/** The rate limits as the layer applies them now. */
typedef struct bf_ai_limit_status_s {
    /* The first provider's fleet-wide limits in force, per minute (the
     * configured ones, or lower as learned); 0: none shared. */
    double rpm, tpm;
    long workers; /* workers sharing them, as Redis last said */
    /* Share of the last ~10 s in which calls waited for a rate limit
     * (shared or this worker's), the most of any provider: near 1, the
     * limit and not the number of workers bounds the throughput. */
    double limited_share;
} bf_ai_limit_status_t;

/** @brief Fill @p out (see bf_ai_limit_status_t). */
void bf_ai_limit_status(const bf_ai_t *ai, bf_ai_limit_status_t *out);

/**
 * @brief Read an entry of the AI result cache (Redis; written by any
 *        worker of the fleet, so read like outside input): the answer's
 *        JSON with "model", checked against the analysis schema of
 *        @p kind exactly like a fresh answer.
 * @param out filled on true (free with bf_verdict_clear()); cleared on false
 * @returns true for a usable verdict; false for a corrupt or stale entry
 *          (a cache miss).
 */
bool bf_ai_cache_entry_parse(bf_analysis_kind_t kind, const char *text, size_t len,
                             bf_verdict_t *out);

#endif
