/*
 * backoff.c - capped exponential backoff with jitter (see backoff.h).
 */
#include "libbf/backoff.h"

#include <math.h>

#include "libbf/random.h"

double bf_backoff_ceiling_s(const bf_backoff_t *b, unsigned attempt)
{
    /* A ceiling past DBL_MAX is infinity, which the cap replaces. */
    double c = ldexp(b->base_s, attempt > 1023 ? 1023 : (int)attempt);
    return c < b->cap_s ? c : b->cap_s;
}

double bf_backoff_s(const bf_backoff_t *b, unsigned attempt)
{
    double c = bf_backoff_ceiling_s(b, attempt);
    if (b->jitter <= 0)
        return c;
    return c * (1.0 - b->jitter * bf_random_unit());
}

unsigned long long bf_backoff_ms(const bf_backoff_t *b, unsigned attempt)
{
    return (unsigned long long)llround(bf_backoff_s(b, attempt) * 1000.0);
}
