/*
 * test_backoff.c - the one retry rule (libbf/backoff.c) and the one
 * generator its jitter draws from (libbf/random.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>

#include "libbf/backoff.h"
#include "libbf/random.h"

static void test_ceiling_doubles_up_to_the_cap(void **unused)
{
    (void)unused;
    bf_backoff_t b = {.base_s = 0.1, .cap_s = 5.0, .jitter = 0};
    const double want[] = {0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_float_equal(bf_backoff_ceiling_s(&b, i), want[i], 1e-12);
        /* jitter 0: the wait is the ceiling, every time */
        assert_float_equal(bf_backoff_s(&b, i), want[i], 1e-12);
    }
    assert_int_equal(bf_backoff_ms(&b, 2), 400);
    /* an attempt count far past any exponent stays at the cap */
    assert_float_equal(bf_backoff_ceiling_s(&b, 5000), 5.0, 0);
    assert_float_equal(bf_backoff_ceiling_s(&b, UINT32_MAX), 5.0, 0);
}

static void test_jitter_stays_in_its_share_and_spreads(void **unused)
{
    (void)unused;
    for (int k = 0; k < 2; k++) {
        bf_backoff_t b = {.base_s = 1.0, .cap_s = 8.0, .jitter = k ? 1.0 : 0.5};
        double lo = INFINITY, hi = 0, sum = 0;
        const int n = 20000;
        for (int i = 0; i < n; i++) {
            double w = bf_backoff_s(&b, 3); /* ceiling 8 */
            assert_true(w >= 8.0 * (1 - b.jitter) && w <= 8.0);
            lo = fmin(lo, w);
            hi = fmax(hi, w);
            sum += w;
        }
        /* the draws cover the range, not one point of it */
        double floor_s = 8.0 * (1 - b.jitter);
        assert_true(lo < floor_s + 0.05 && hi > 7.95);
        assert_float_equal(sum / n, (floor_s + 8.0) / 2, 0.1);
    }
}

static void test_seeded_generator_repeats(void **unused)
{
    (void)unused;
    bf_rng_t a, b, zero;
    bf_rng_seed(&a, 42);
    bf_rng_seed(&b, 42);
    bf_rng_seed(&zero, 0); /* 0 would stick at 0 forever; it is replaced */
    uint64_t first = bf_rng_next(&a);
    assert_true(first == bf_rng_next(&b));
    assert_true(bf_rng_next(&zero) != 0);
    /* xorshift64* (12, 25, 27; 2685821657736338717) from 42 */
    uint64_t s = 42;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    assert_true(first == s * 2685821657736338717ULL);
    for (int i = 0; i < 1000; i++) {
        double u = bf_rng_unit(&a);
        assert_true(u >= 0 && u < 1);
        assert_true(bf_rng_below(&a, 7) < 7);
    }
}

static void *draw(void *out)
{
    *(uint64_t *)out = bf_random_u64();
    return NULL;
}

/* Each thread (and so each process) is seeded on its own. */
static void test_threads_draw_differently(void **unused)
{
    (void)unused;
    uint64_t v[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw, &v[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            assert_true(v[i] != v[j]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling_doubles_up_to_the_cap),
        cmocka_unit_test(test_jitter_stays_in_its_share_and_spreads),
        cmocka_unit_test(test_seeded_generator_repeats),
        cmocka_unit_test(test_threads_draw_differently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
