/*
 * random.c - xorshift64* generators (see random.h).
 */
#include "libbf/random.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SEED 0x9E3779B97F4A7C15ULL

void bf_rng_seed(bf_rng_t *r, uint64_t seed)
{
    r->state = seed ? seed : DEFAULT_SEED;
}

uint64_t bf_rng_next(bf_rng_t *r)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return r->state * 0x2545F4914F6CDD1DULL;
}

double bf_rng_unit(bf_rng_t *r)
{
    return (double)(bf_rng_next(r) >> 11) * 0x1.0p-53;
}

size_t bf_rng_below(bf_rng_t *r, size_t n)
{
    return (size_t)(bf_rng_next(r) % n);
}

static _Thread_local bf_rng_t thread_rng;

static bf_rng_t *this_thread(void)
{
    if (!thread_rng.state) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
            /* No entropy yet (early boot): time and pid still tell two
             * workers apart. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                   ((uint64_t)getpid() << 40);
        }
        bf_rng_seed(&thread_rng, seed);
    }
    return &thread_rng;
}

uint64_t bf_random_u64(void)
{
    return bf_rng_next(this_thread());
}

double bf_random_unit(void)
{
    return bf_rng_unit(this_thread());
}
