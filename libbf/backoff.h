/*
 * backoff.h - how long to wait before trying again, one rule for every
 * retry in the project: exponential, capped, with a chosen share of
 * jitter.
 *
 *   ceiling(n) = min(cap, base * 2^n)          for attempt n = 0, 1, 2 ...
 *   wait(n)    = ceiling(n) * (1 - jitter * u), u uniform in [0, 1)
 *
 * jitter 1 is "full jitter" and 0.5 "equal jitter" (AWS Architecture Blog,
 * "Exponential Backoff And Jitter", 2015): many clients that failed
 * together (a fleet of workers when Redis restarts) spread their retries
 * instead of arriving in step. jitter 0 is deterministic, for a queue that
 * must stay in due order or a log line that promises a time.
 */
#ifndef BF_BACKOFF_H
#define BF_BACKOFF_H

typedef struct bf_backoff_s {
    double base_s; /* the ceiling of attempt 0 (> 0) */
    double cap_s;  /* the largest ceiling */
    double jitter; /* 0..1: the share of the ceiling that is drawn at random */
} bf_backoff_t;

/** @brief min(cap, base * 2^attempt). */
double bf_backoff_ceiling_s(const bf_backoff_t *b, unsigned attempt);

/** @brief The wait before retry @p attempt (0 = the first retry), in seconds;
 *         random draws come from this thread's generator (random.h). */
double bf_backoff_s(const bf_backoff_t *b, unsigned attempt);

/** @brief bf_backoff_s() in whole milliseconds (for uv timers). */
unsigned long long bf_backoff_ms(const bf_backoff_t *b, unsigned attempt);

#endif
