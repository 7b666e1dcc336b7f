/*
 * random.h - one pseudo-random generator for every program: xorshift64*
 * (Vigna, "An experimental exploration of Marsaglia's xorshift
 * generators, scrambled", 2016). Fast and statistically good enough for
 * jitter and for picking synthetic reports; not for secrets.
 *
 * A bf_rng_t is seeded explicitly where a run must repeat (the producer's
 * synthetic load, --seed); bf_random_u64() and bf_random_unit() draw from a
 * per-thread generator seeded from the kernel (getrandom) the first time a
 * thread uses it, so workers started together do not draw alike and no
 * thread shares state with another (rand() does).
 */
#ifndef BF_RANDOM_H
#define BF_RANDOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct bf_rng_s {
    uint64_t state; /* never 0 */
} bf_rng_t;

/** @brief Seed @p r; seed 0 is replaced by a fixed odd constant. */
void bf_rng_seed(bf_rng_t *r, uint64_t seed);

/** @brief The next 64 random bits. */
uint64_t bf_rng_next(bf_rng_t *r);

/** @brief Uniform in [0, 1), 53 bits. */
double bf_rng_unit(bf_rng_t *r);

/** @brief Uniform in [0, n) (n > 0; the modulo bias is below 2^-40 for n < 2^24). */
size_t bf_rng_below(bf_rng_t *r, size_t n);

/** @brief 64 random bits from this thread's generator. */
uint64_t bf_random_u64(void);

/** @brief Uniform in [0, 1) from this thread's generator. */
double bf_random_unit(void);

#endif
