/*
 * ai_fleet.h - a provider's rate limit shared by every worker of the fleet.
 *
 * A provider limits the account (per model), not one worker: requests and
 * tokens per minute. So the fleet takes from one pair of token buckets in
 * Redis, under {prefix}ailimit:{provider:model}, through one Lua script
 * that atomically refills them at the fleet-wide rate, takes what the
 * asked calls need (or says how long until the next one fits), and learns:
 *
 *   - a 429, or a response whose x-ratelimit-remaining-* / anthropic-
 *     ratelimit-*-remaining says a window is used up, cuts the shared rate
 *     (at most once per BF_AI_FLEET_HOLD_MS, however many workers saw the
 *     same burst) to BF_AI_FLEET_CUT of where the limit is: the rate the
 *     provider accepted since the fleet last started sending after a cut
 *     (a provider that refuses has no burst left; the workers report what
 *     it accepted), or the rate refused when that is not known yet; every
 *     worker is held until the provider's retry-after or reset;
 *   - the rate then grows back additively, quickly to BF_AI_FLEET_KNEE of
 *     that limit and slowly (BF_AI_FLEET_PROBE per minute) beyond it, so
 *     that the fleet settles just below the real limit and finds a raised
 *     one again;
 *   - x-ratelimit-limit-* / anthropic-ratelimit-*-limit below the
 *     configured limit cap it at once (remembered for BF_AI_FLEET_HEADER_S).
 *
 * The script also keeps who takes from it (a sorted set of worker ids by
 * last acquisition), so each answer says how many workers share the limit;
 * a worker that cannot reach Redis falls back on its share, the learned
 * limit divided by the live workers it last saw, in a local bucket.
 *
 * One acquisition is one round trip for up to BF_AI_FLEET_BATCH queued
 * calls (the three analyses of a report go out together), and carries
 * what the worker learned since the last one: tokens to settle (estimate
 * minus billed usage), the calls the provider accepted, a 429, the
 * provider's limit headers. The script is
 * sent as EVALSHA, and as EVAL once Redis says NOSCRIPT (after a restart).
 *
 * @locality the loop thread only.
 */
#ifndef BF_WORKER_AI_FLEET_H
#define BF_WORKER_AI_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "libbf/err.h"
#include "libbf/redis.h"
#include "worker/ai_ratelimit.h"

/* Calls one acquisition asks for at most. */
#define BF_AI_FLEET_BATCH 16
/* Share of the limit found a cut goes to, and up to which the rate grows
 * back quickly. */
#define BF_AI_FLEET_CUT  0.9
#define BF_AI_FLEET_KNEE 0.95
/* Least time between two cuts, ms: the 429s of one burst (seen by
 * several workers, and by calls already in flight) are one signal. */
#define BF_AI_FLEET_HOLD_MS 2000
/* Growth beyond the knee, share of the limit found per minute: slow,
 * because a provider's burst allowance hides a small excess for a long
 * time (two seconds of burst at 1% over last minutes), and every crossing
 * costs a 429 or two. */
#define BF_AI_FLEET_PROBE 0.02
/* Growth up to the knee, share per minute. */
#define BF_AI_FLEET_RECOVER 0.3
/* The accepted rate is believed after this long of sending, ms. Answers
 * of calls sent before a cut still arrive after it, so it errs high:
 * the next 429 cuts again, from closer. */
#define BF_AI_FLEET_SPAN_MS 1000
/* A limit a header said holds this long without being said again, ms. */
#define BF_AI_FLEET_HEADER_MS 600000
/* A worker counts as live this long after its last acquisition, ms. */
#define BF_AI_FLEET_LIVE_MS 30000

/** The Lua script (KEYS and ARGV in its opening comment). */
extern const char bf_ai_fleet_script[];

typedef struct bf_ai_fleet_s bf_ai_fleet_t;

typedef struct bf_ai_fleet_config_s {
    bf_redis_t *redis;      /* borrowed; must outlive the limiter */
    const char *key_prefix; /* e.g. "bf:"; copied */
    const char *provider;   /* copied */
    const char *model;      /* copied */
    const char *worker_id;  /* copied */
    double rpm, tpm;        /* the account's limits per minute; 0 = none */
} bf_ai_fleet_config_t;

/** What the last answer (or the fallback) said. */
typedef struct bf_ai_fleet_status_s {
    double rpm, tpm;         /* the fleet-wide limits in force (learned), per minute */
    long workers;            /* workers sharing them (1 before the first answer) */
    bool shared;             /* the last acquisition went through Redis */
    unsigned long fallbacks; /* acquisitions answered from the local share */
} bf_ai_fleet_status_t;

/**
 * The answer of one acquisition: @p granted of the asked calls may be sent
 * now (in the order asked); the next one fits in @p wait_s seconds.
 */
typedef void(bf_ai_fleet_cb)(int granted, double wait_s, void *opaque);

/** @brief A limiter; NULL when neither limit is set (nothing to share). */
bf_ai_fleet_t *bf_ai_fleet_new(const bf_ai_fleet_config_t *cfg);

/** @brief Free; an acquisition in flight is answered no more. NULL-safe. */
void bf_ai_fleet_destroy(bf_ai_fleet_t *f);

/**
 * @brief Ask for up to @p n calls (n <= BF_AI_FLEET_BATCH, 0 only sends
 *        what was learned) whose token estimates are @p tokens (copied).
 *        One at a time (bf_ai_fleet_busy()).
 * @param now seconds on the loop's monotonic clock (the local fallback)
 * @returns false: Redis was asked and @p cb will run exactly once, never
 *          inside this call; true: answered at once from the local share
 *          (Redis unreachable), in @p granted and @p wait_s, cb not called.
 */
bool bf_ai_fleet_acquire(bf_ai_fleet_t *f, const long *tokens, int n, double now,
                         bf_ai_fleet_cb *cb, void *opaque, int *granted, double *wait_s);

/** @brief An acquisition is in flight. */
bool bf_ai_fleet_busy(const bf_ai_fleet_t *f);

/** @brief A call is over: settle its token estimate with the billed usage,
 *         and count it when the provider @p accepted it (any 200): sent
 *         with the next acquisition. */
void bf_ai_fleet_settle(bf_ai_fleet_t *f, long estimate, long billed, bool accepted);

/**
 * @brief What a response said about the limits (ai_ratelimit.h): a 429
 *        (@p refused), a window used up, or the provider's own limits;
 *        sent with the next acquisition.
 * @returns true when it asks for a cut (the caller should acquire soon,
 *          with n = 0 if nothing waits, so the fleet learns it).
 */
bool bf_ai_fleet_learn(bf_ai_fleet_t *f, bool refused, const bf_ai_ratelimit_t *rl);

/** @brief The limits in force and who shares them. */
void bf_ai_fleet_status(const bf_ai_fleet_t *f, bf_ai_fleet_status_t *out);

#endif
