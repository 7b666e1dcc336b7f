/*
 * ai_ratelimit.c - providers' rate-limit headers (see ai_ratelimit.h).
 *
 * Headers are outside input: a number is believed only when it is a plain
 * finite non-negative decimal, a duration only when every part parses,
 * so a proxy that mangles them makes the layer fall back on its own
 * buckets, never on a limit of "nan".
 */
#include "worker/ai_ratelimit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/clock.h"

/* A plain non-negative number, or -1. */
static double number(const char *s)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || v < 0)
        return -1;
    return v;
}

double bf_ai_parse_duration(const char *s)
{
    if (!s || !*s)
        return -1;
    double total = 0;
    const char *p = s;
    while (*p) {
        if (!(*p >= '0' && *p <= '9') && *p != '.')
            return -1; /* no sign, space, "inf" or "nan" */
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0)
            return -1;
        if (*end == '\0') {
            total += v; /* plain seconds */
            break;
        }
        if (end[0] == 'm' && end[1] == 's') {
            total += v / 1000.0;
            end += 2;
        } else if (*end == 'h') {
            total += v * 3600;
            end++;
        } else if (*end == 'm') {
            total += v * 60;
            end++;
        } else if (*end == 's') {
            total += v;
            end++;
        } else {
            return -1;
        }
        p = end;
    }
    return isfinite(total) ? total : -1;
}

double bf_ai_parse_reset_time(const char *rfc3339, double now_wall)
{
    if (!rfc3339)
        return -1;
    int64_t ms;
    if (bf_time_parse_rfc3339(rfc3339, &ms) != BF_OK)
        return -1;
    double at = (double)ms / 1000.0;
    return at > now_wall ? at - now_wall : 0;
}

bool bf_ai_ratelimit_read(bf_ai_provider_t p, bf_ai_header_fn *get, void *opaque,
                          double retry_after_s, double now_wall, bf_ai_ratelimit_t *out)
{
    *out = (bf_ai_ratelimit_t){-1, -1, -1, -1, -1, -1, -1};
    out->retry_after_s =
        retry_after_s >= 0 && isfinite(retry_after_s) ? retry_after_s : -1;
    bool any = out->retry_after_s >= 0;
    if (p == BF_AI_GEMINI)
        return any;
    /* Names in the order of the struct: limit, remaining, reset, for
     * requests and then for tokens. */
    static const char *const openai[6] = {
        "x-ratelimit-limit-requests",   "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",   "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
    };
    static const char *const anthropic[6] = {
        "anthropic-ratelimit-requests-limit",   "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",   "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset",
    };
    const char *const *names = p == BF_AI_ANTHROPIC ? anthropic : openai;
    double *fields[6] = {&out->limit_requests,   &out->remaining_requests,
                         &out->reset_requests_s, &out->limit_tokens,
                         &out->remaining_tokens, &out->reset_tokens_s};
    for (int i = 0; i < 6; i++) {
        const char *v = get(names[i], opaque);
        if (!v)
            continue;
        if (i % 3 != 2)
            *fields[i] = number(v);
        else if (p == BF_AI_ANTHROPIC)
            *fields[i] = bf_ai_parse_reset_time(v, now_wall);
        else
            *fields[i] = bf_ai_parse_duration(v);
        any = any || *fields[i] >= 0;
    }
    return any;
}
