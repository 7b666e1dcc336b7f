/*
 * ai_ratelimit.h - what a provider's response says about its rate limits,
 * read into one struct whatever the provider's dialect:
 *
 *   OpenAI     x-ratelimit-limit-requests, -remaining-requests,
 *              -reset-requests ("6s", "1m30s", "250ms"), and the same for
 *              -tokens (OpenAI, "Rate limits" guide, "Rate limits in
 *              headers")
 *   Anthropic  anthropic-ratelimit-requests-limit, -remaining, -reset (an
 *              RFC 3339 time), the same for -tokens (Anthropic API, "Rate
 *              limits", "Response headers")
 *   Gemini     none; its 429s carry retry-after (or RetryInfo)
 *   all        retry-after on a 429 (RFC 9110 section 10.2.3), seconds
 *
 * A provider's window may be a token bucket or fixed minutes; either way
 * "limit" is what it allows per minute and "remaining" what is left now.
 * The AI layer uses them to hold calls until a window resets instead of
 * meeting a 429, and to learn a fleet-wide limit lower than the
 * configured one (ai_fleet.h).
 *
 * Pure functions: the headers come through a lookup callback, so the unit
 * tests need no HTTP.
 */
#ifndef BF_WORKER_AI_RATELIMIT_H
#define BF_WORKER_AI_RATELIMIT_H

#include <stdbool.h>

#include "worker/ai_provider.h"

/** Every value is -1 when the response did not say. */
typedef struct bf_ai_ratelimit_s {
    double limit_requests; /* per minute */
    double remaining_requests;
    double reset_requests_s; /* until the request window is full again */
    double limit_tokens;     /* per minute */
    double remaining_tokens;
    double reset_tokens_s;
    double retry_after_s; /* retry-after (any status) */
} bf_ai_ratelimit_t;

/** A response header's value by name (case-insensitive), or NULL. */
typedef const char *(bf_ai_header_fn)(const char *name, void *opaque);

/**
 * @brief Read the rate-limit headers of provider @p p's response.
 * @param get the response's header lookup (borrowed during the call)
 * @param retry_after_s the response's retry-after in seconds, or -1
 * @param now_wall Unix time, for Anthropic's reset times
 * @returns true when the response carried any of them.
 */
bool bf_ai_ratelimit_read(bf_ai_provider_t p, bf_ai_header_fn *get, void *opaque,
                          double retry_after_s, double now_wall, bf_ai_ratelimit_t *out);

/**
 * @brief Parse "6s", "1m30s", "250ms", "0.5s" (OpenAI's
 *        x-ratelimit-reset-* durations) or plain seconds.
 * @returns seconds, or -1 if unparsable.
 */
double bf_ai_parse_duration(const char *s);

/**
 * @brief Seconds from @p now_wall (Unix time) until an RFC 3339 UTC time
 *        such as Anthropic's anthropic-ratelimit-*-reset
 *        ("2026-11-23T12:00:05Z"); 0 if it is past.
 * @returns seconds, or -1 if unparsable.
 */
double bf_ai_parse_reset_time(const char *rfc3339, double now_wall);

#endif
