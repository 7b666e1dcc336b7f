/*
 * limits.h - the simulator's rate limits: per provider, a token bucket of
 * requests per minute and one of tokens per minute, as the real APIs
 * enforce them ("replenished continuously", not in fixed windows). A
 * request over either limit is refused whole with 429 and the time until
 * it would fit, which the server sends as retry-after and in the
 * provider's rate-limit headers.
 *
 * @locality any thread (one mutex).
 */
#ifndef BF_AISIM_LIMITS_H
#define BF_AISIM_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bf_aisim_limits_s bf_aisim_limits_t;

/** The state after a check, for the response headers. */
typedef struct bf_aisim_limit_s {
    bool limited;           /* false: no limits configured */
    bool allowed;           /* false: answer 429 */
    double retry_after_s;   /* when refused: until both would fit */
    int64_t limit_requests; /* per minute */
    int64_t remaining_requests;
    double reset_requests_s; /* until the request bucket is full again */
    int64_t limit_tokens;
    int64_t remaining_tokens;
    double reset_tokens_s;
} bf_aisim_limit_t;

/**
 * @brief Limits per provider; 0 means unlimited.
 * @param burst_s bucket capacity in seconds of the rate (at least one request)
 */
bf_aisim_limits_t *bf_aisim_limits_new(double rpm, double tpm, double burst_s);

/** @brief Free. NULL-safe. */
void bf_aisim_limits_destroy(bf_aisim_limits_t *l);

/**
 * @brief Take one request and @p tokens from provider @p provider's
 *        buckets at time @p now_s if both fit; otherwise take nothing.
 */
void bf_aisim_limits_take(bf_aisim_limits_t *l, unsigned provider, int64_t tokens,
                          double now_s, bf_aisim_limit_t *out);

/** @brief Refill every bucket (for /stats/reset between test phases). */
void bf_aisim_limits_reset(bf_aisim_limits_t *l, double now_s);

#endif
