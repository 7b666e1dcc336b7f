/*
 * ai_limit.h - the per-provider guards of the AI layer as pure state
 * machines over an injected clock (seconds, any monotonic origin): a token
 * bucket for requests/min and tokens/min, and a circuit breaker.
 *
 * Nothing here reads a clock or starts a timer; the caller passes "now"
 * and turns the returned waits into loop timers, so the unit tests drive
 * every transition with a fake clock.
 */
#ifndef BF_WORKER_AI_LIMIT_H
#define BF_WORKER_AI_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Token bucket. Refills at rate tokens per second up to capacity; a take
 * may drive the level below zero (debt), which later takes wait out, so
 * a correction after the fact (usage larger than estimated) is honoured.
 * Adaptive slow-down: on a 429 the rate drops to half (not below a tenth
 * of the configured rate) and the bucket is blocked until the provider's
 * retry-after; every success then gives back 2% of the configured rate.
 */
typedef struct bf_bucket_s {
    double configured; /* per second; 0 = unlimited */
    double rate;       /* current per second (adaptive) */
    double capacity;
    double level;
    double last;          /* time of the last refill */
    double blocked_until; /* no takes before this time */
} bf_bucket_t;

/**
 * @brief A bucket of @p per_minute, full at @p now. The capacity is one
 *        second's worth (at least 1): a provider enforcing per minute
 *        still rejects bursts, so calls are spread evenly.
 */
void bf_bucket_init(bf_bucket_t *b, double per_minute, double now);

/** @brief Seconds until @p n can be taken (0: now). */
double bf_bucket_wait(bf_bucket_t *b, double n, double now);

/** @brief Take @p n (the level may go negative). */
void bf_bucket_take(bf_bucket_t *b, double n, double now);

/** @brief Give back (n < 0: take more), e.g. estimate minus actual usage. */
void bf_bucket_adjust(bf_bucket_t *b, double n);

/** @brief A 429: halve the rate, block until now + retry_after_s (if > 0). */
void bf_bucket_throttled(bf_bucket_t *b, double retry_after_s, double now);

/** @brief A success: recover 2% of the configured rate. */
void bf_bucket_recovered(bf_bucket_t *b);

/**
 * @brief Set the rate to @p per_minute (0: unlimited) from @p now on, the
 *        level kept within the new capacity (a bucket that was unlimited
 *        starts full). For a rate decided elsewhere (ai_fleet.h's share).
 */
void bf_bucket_set_rate(bf_bucket_t *b, double per_minute, double now);

/** Circuit breaker states; the values are the bountyfleet_ai_circuit_state gauge. */
typedef enum bf_breaker_state_e {
    BF_BREAKER_CLOSED = 0,
    BF_BREAKER_HALF_OPEN = 1,
    BF_BREAKER_OPEN = 2,
} bf_breaker_state_t;

/* Outcomes the failure rate is taken over. At 30% random errors and
 * thousands of concurrent attempts, a window of 32 with a 50% threshold
 * (and 5 failures in a row) opened about four times per 1,300 attempts
 * and made every call wait out a cool-down although the provider was up;
 * over 100 outcomes at 60% (and 10 in a row) it does not open at 30% and
 * still opens within ten attempts of an outage. */
#define BF_BREAKER_WINDOW 100

typedef struct bf_breaker_config_s {
    int consecutive_failures; /* open after this many in a row */
    double failure_rate;      /* or this share of the window failed ... */
    int min_calls;            /* ... with at least this many calls in it */
    double cooldown_s;        /* OPEN this long, then HALF_OPEN */
    int probes;               /* calls let through HALF_OPEN; all must succeed */
} bf_breaker_config_t;

typedef struct bf_breaker_s {
    bf_breaker_config_t cfg;
    bf_breaker_state_t state;
    int consecutive;
    unsigned char window[BF_BREAKER_WINDOW]; /* 1 = failure, ring */
    int window_len, window_pos, window_failures;
    double opened_at;
    int probes_started, probes_ok;
} bf_breaker_t;

/** @brief A closed breaker. */
void bf_breaker_init(bf_breaker_t *b, const bf_breaker_config_t *cfg);

/**
 * @brief May a call start now? OPEN turns HALF_OPEN once the cool-down is
 *        over; HALF_OPEN lets cfg.probes calls through, then refuses until
 *        they have reported.
 */
bool bf_breaker_allow(bf_breaker_t *b, double now);

/**
 * @brief Report a call's outcome. A failure in HALF_OPEN opens again; all
 *        probes succeeding closes. In CLOSED, consecutive failures or the
 *        failure rate over the window open it.
 */
void bf_breaker_record(bf_breaker_t *b, bool ok, double now);

/** @brief Seconds until an OPEN breaker lets a probe through (0 otherwise). */
double bf_breaker_wait(const bf_breaker_t *b, double now);

/** @brief "closed", "half_open", "open". */
const char *bf_breaker_state_name(bf_breaker_state_t s);

#endif
