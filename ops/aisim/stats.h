/*
 * stats.h - what the AI simulator has answered, for GET /stats.
 *
 * Tests read these counters to prove properties of the system under test:
 * by_report shows how many analyses each report cost (a redelivered report
 * must not be analysed again), by_status how many injected errors the
 * worker saw, the token totals what the run would have cost. The counters
 * are shared by libmicrohttpd's threads and protected by one mutex.
 */
#ifndef BF_AISIM_STATS_H
#define BF_AISIM_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "verdict.h"

typedef struct bf_aisim_stats_s bf_aisim_stats_t;

/** One answered chat-completion request. */
typedef struct bf_aisim_outcome_s {
    unsigned status;       /* HTTP status sent */
    unsigned provider;     /* 0 openai, 1 anthropic, 2 gemini (providers.h) */
    bf_aisim_kind_t kind;  /* analysis kind (successful answers only) */
    const char *report_id; /* borrowed; NULL when none (successful answers only) */
    int64_t prompt_tokens; /* billed in the answer's usage; 0 for errors */
    int64_t completion_tokens;
    int64_t cached_tokens;      /* of prompt_tokens, read from the prompt cache */
    int64_t cache_write_tokens; /* of prompt_tokens, written to it */
} bf_aisim_outcome_t;

/**
 * @brief New, zeroed counters.
 * @param max_reports most distinct report ids remembered; later ids are
 *        counted in by_report_dropped instead
 */
bf_aisim_stats_t *bf_aisim_stats_new(size_t max_reports);

/** @brief Free. NULL-safe. */
void bf_aisim_stats_destroy(bf_aisim_stats_t *s);

/**
 * @brief Count one chat-completion answer. requests_total and by_status
 *        count every answer; by_kind, by_report and the token totals only
 *        successful (200) ones, since an error is not an analysis.
 * @locality any thread
 */
void bf_aisim_stats_record(bf_aisim_stats_t *s, const bf_aisim_outcome_t *o);

/**
 * @brief Requests held for their latency right now (+1 when one is
 *        suspended, -1 when it is resumed); the peak is kept too.
 * @locality any thread
 */
void bf_aisim_stats_held(bf_aisim_stats_t *s, int delta);

/**
 * @brief The counters as JSON:
 *        {"requests_total":N,"by_status":{"200":N,...},
 *         "by_kind":{"bountyfleet_quality":N,...},"by_report":{"id":N,...},
 *         "by_report_dropped":N,"prompt_tokens_total":N,
 *         "completion_tokens_total":N,"held_now":N,"held_peak":N,
 *         "by_provider":{"openai":{"requests":N,"by_status":{..},
 *           "prompt_tokens":N,"completion_tokens":N,"cached_tokens":N,
 *           "cache_write_tokens":N},...}}
 * @returns a new string the caller frees with free().
 * @locality any thread
 */
char *bf_aisim_stats_to_json(bf_aisim_stats_t *s);

/**
 * @brief bountyfleet_aisim_requests_total{provider,status} in the
 *        Prometheus text format (ops/METRICS.md).
 * @returns a new string the caller frees with free().
 * @locality any thread
 */
char *bf_aisim_stats_to_prometheus(bf_aisim_stats_t *s);

/** @brief Zero every counter except held_now (those requests are still held). */
void bf_aisim_stats_reset(bf_aisim_stats_t *s);

#endif
