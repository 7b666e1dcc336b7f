/*
 * ai_limit.c - token bucket and circuit breaker (see ai_limit.h).
 */
#include "worker/ai_limit.h"

#include <string.h>

/* The adaptive rate never drops below this share of the configured one,
 * so a run of 429s slows calls down without starving them. */
#define MIN_RATE_SHARE 0.1
/* Share of the configured rate a success gives back after a slow-down:
 * fifty successes undo one halving. */
#define RECOVER_SHARE 0.02

static void refill(bf_bucket_t *b, double now)
{
    if (now > b->last) {
        b->level += (now - b->last) * b->rate;
        if (b->level > b->capacity)
            b->level = b->capacity;
        b->last = now;
    }
}

void bf_bucket_init(bf_bucket_t *b, double per_minute, double now)
{
    memset(b, 0, sizeof(*b));
    b->configured = b->rate = per_minute > 0 ? per_minute / 60.0 : 0;
    b->capacity = b->rate > 1 ? b->rate : 1;
    b->level = b->capacity;
    b->last = now;
}

double bf_bucket_wait(bf_bucket_t *b, double n, double now)
{
    if (b->configured <= 0)
        return 0;
    refill(b, now);
    double wait = b->blocked_until > now ? b->blocked_until - now : 0;
    /* A take larger than the capacity waits for a full bucket, then goes
     * into debt, rather than never fitting. */
    double need = n < b->capacity ? n : b->capacity;
    /* The epsilon absorbs rounding in refill(): a caller that sleeps
     * exactly the returned wait must then find the tokens there. */
    if (b->level + 1e-9 < need) {
        double w = (need - b->level) / b->rate;
        if (w > wait)
            wait = w;
    }
    return wait;
}

void bf_bucket_take(bf_bucket_t *b, double n, double now)
{
    if (b->configured <= 0)
        return;
    refill(b, now);
    b->level -= n;
}

void bf_bucket_adjust(bf_bucket_t *b, double n)
{
    if (b->configured <= 0)
        return;
    b->level += n;
    if (b->level > b->capacity)
        b->level = b->capacity;
}

void bf_bucket_throttled(bf_bucket_t *b, double retry_after_s, double now)
{
    if (b->configured <= 0)
        return;
    refill(b, now);
    b->rate /= 2;
    if (b->rate < b->configured * MIN_RATE_SHARE)
        b->rate = b->configured * MIN_RATE_SHARE;
    if (retry_after_s > 0 && now + retry_after_s > b->blocked_until)
        b->blocked_until = now + retry_after_s;
    if (b->level > 0)
        b->level = 0;
}

void bf_bucket_recovered(bf_bucket_t *b)
{
    if (b->configured <= 0 || b->rate >= b->configured)
        return;
    b->rate += b->configured * RECOVER_SHARE;
    if (b->rate > b->configured)
        b->rate = b->configured;
}

void bf_bucket_set_rate(bf_bucket_t *b, double per_minute, double now)
{
    bool was_unlimited = b->configured <= 0;
    refill(b, now);
    b->configured = b->rate = per_minute > 0 ? per_minute / 60.0 : 0;
    b->capacity = b->rate > 1 ? b->rate : 1;
    if (was_unlimited || b->level > b->capacity)
        b->level = b->capacity;
    b->last = now;
}

/* ---- circuit breaker ----------------------------------------------------- */

void bf_breaker_init(bf_breaker_t *b, const bf_breaker_config_t *cfg)
{
    memset(b, 0, sizeof(*b));
    b->cfg = *cfg;
    if (b->cfg.probes < 1)
        b->cfg.probes = 1;
    if (b->cfg.min_calls > BF_BREAKER_WINDOW)
        b->cfg.min_calls = BF_BREAKER_WINDOW;
}

static void window_clear(bf_breaker_t *b)
{
    memset(b->window, 0, sizeof(b->window));
    b->window_len = b->window_pos = b->window_failures = 0;
    b->consecutive = 0;
}

static void open_at(bf_breaker_t *b, double now)
{
    b->state = BF_BREAKER_OPEN;
    b->opened_at = now;
    b->probes_started = b->probes_ok = 0;
}

bool bf_breaker_allow(bf_breaker_t *b, double now)
{
    if (b->state == BF_BREAKER_OPEN) {
        if (now - b->opened_at < b->cfg.cooldown_s)
            return false;
        b->state = BF_BREAKER_HALF_OPEN;
        b->probes_started = b->probes_ok = 0;
    }
    if (b->state == BF_BREAKER_HALF_OPEN) {
        if (b->probes_started >= b->cfg.probes)
            return false;
        b->probes_started++;
    }
    return true;
}

void bf_breaker_record(bf_breaker_t *b, bool ok, double now)
{
    if (b->state == BF_BREAKER_OPEN)
        return; /* a late answer of a call started before it opened */
    if (b->state == BF_BREAKER_HALF_OPEN) {
        if (!ok) {
            open_at(b, now);
        } else if (++b->probes_ok >= b->cfg.probes) {
            b->state = BF_BREAKER_CLOSED;
            window_clear(b);
        }
        return;
    }
    /* CLOSED: the ring remembers the last BF_BREAKER_WINDOW outcomes. */
    if (b->window_len == BF_BREAKER_WINDOW)
        b->window_failures -= b->window[b->window_pos];
    else
        b->window_len++;
    b->window[b->window_pos] = ok ? 0 : 1;
    b->window_failures += ok ? 0 : 1;
    b->window_pos = (b->window_pos + 1) % BF_BREAKER_WINDOW;
    b->consecutive = ok ? 0 : b->consecutive + 1;
    bool too_many =
        b->cfg.consecutive_failures > 0 && b->consecutive >= b->cfg.consecutive_failures;
    bool rate = b->cfg.failure_rate > 0 && b->window_len >= b->cfg.min_calls &&
                (double)b->window_failures >= b->cfg.failure_rate * b->window_len;
    if (too_many || rate) {
        open_at(b, now);
        window_clear(b);
    }
}

double bf_breaker_wait(const bf_breaker_t *b, double now)
{
    if (b->state != BF_BREAKER_OPEN)
        return 0;
    double left = b->opened_at + b->cfg.cooldown_s - now;
    return left > 0 ? left : 0;
}

const char *bf_breaker_state_name(bf_breaker_state_t s)
{
    switch (s) {
    case BF_BREAKER_CLOSED:
        return "closed";
    case BF_BREAKER_HALF_OPEN:
        return "half_open";
    default:
        return "open";
    }
}
