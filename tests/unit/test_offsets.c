/*
 * test_offsets.c - which offset of a partition is safe to commit
 * (worker/offsets.c).
 *
 * The promise under test is DESIGN.md's "no report lost": the commit point
 * never passes an offset whose report is still in flight, however the
 * reports finish. The last tests drive thousands of offsets through the
 * ring in random completion order and compare every step with a model
 * simple enough to be obviously right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "worker/offsets.h"

static void add_range(bf_offsets_t *o, int64_t first, int64_t last)
{
    for (int64_t off = first; off <= last; off++)
        bf_offsets_add(o, off);
}

static void test_commit_point_is_unset_before_first_offset(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    assert_int_equal(bf_offsets_commit_point(&o), -1);
    assert_int_equal(bf_offsets_in_flight(&o), 0);
    assert_false(bf_offsets_mark_done(&o, 0));
    assert_int_equal(bf_offsets_commit_point(&o), -1);
    bf_offsets_free(&o);
}

static void test_commit_point_waits_for_earliest_offset(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    add_range(&o, 10, 12);
    assert_int_equal(bf_offsets_commit_point(&o), 10);

    /* 12 and 11 finish first: 10 is still in flight, nothing moves. */
    assert_false(bf_offsets_mark_done(&o, 12));
    assert_int_equal(bf_offsets_commit_point(&o), 10);
    assert_false(bf_offsets_mark_done(&o, 11));
    assert_int_equal(bf_offsets_commit_point(&o), 10);
    assert_int_equal(bf_offsets_in_flight(&o), 3);

    /* 10 finishes: everything up to 12 is done at once. */
    assert_true(bf_offsets_mark_done(&o, 10));
    assert_int_equal(bf_offsets_commit_point(&o), 13);
    assert_int_equal(bf_offsets_in_flight(&o), 0);
    bf_offsets_free(&o);
}

static void test_commit_point_stops_at_first_unfinished_offset(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    add_range(&o, 100, 104);
    assert_false(bf_offsets_mark_done(&o, 101));
    assert_false(bf_offsets_mark_done(&o, 103));
    assert_true(bf_offsets_mark_done(&o, 100));
    /* 100 and 101 are done; 102 is not, so 102 is the next to consume. */
    assert_int_equal(bf_offsets_commit_point(&o), 102);
    assert_int_equal(bf_offsets_in_flight(&o), 3);
    bf_offsets_free(&o);
}

static void test_commit_point_is_last_plus_one_when_all_done(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    add_range(&o, 5, 7);
    for (int64_t off = 5; off <= 7; off++) {
        assert_true(bf_offsets_mark_done(&o, off));
        assert_int_equal(bf_offsets_commit_point(&o), off + 1);
    }
    assert_int_equal(bf_offsets_in_flight(&o), 0);
    /* Consumption goes on from there. */
    bf_offsets_add(&o, 8);
    assert_int_equal(bf_offsets_commit_point(&o), 8);
    assert_int_equal(bf_offsets_in_flight(&o), 1);
    bf_offsets_free(&o);
}

static void test_commit_point_skips_gaps_between_offsets(void **unused)
{
    (void)unused;
    /* Compaction and transaction markers leave holes in a partition's
     * offsets; the commit point jumps to the next offset actually seen. */
    bf_offsets_t o;
    bf_offsets_init(&o);
    bf_offsets_add(&o, 5);
    bf_offsets_add(&o, 9);
    bf_offsets_add(&o, 20);
    assert_true(bf_offsets_mark_done(&o, 5));
    assert_int_equal(bf_offsets_commit_point(&o), 9);
    assert_false(bf_offsets_mark_done(&o, 20));
    assert_true(bf_offsets_mark_done(&o, 9));
    assert_int_equal(bf_offsets_commit_point(&o), 21);
    bf_offsets_free(&o);
}

static void test_unknown_offset_is_ignored(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    bf_offsets_add(&o, 10);
    bf_offsets_add(&o, 12);
    const int64_t unknown[] = {9, 11, 13, 1000, -1};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_false(bf_offsets_mark_done(&o, unknown[i]));
        assert_int_equal(bf_offsets_commit_point(&o), 10);
        assert_int_equal(bf_offsets_in_flight(&o), 2);
    }
    /* Marking an offset that was already committed is unknown too. */
    assert_true(bf_offsets_mark_done(&o, 10));
    assert_false(bf_offsets_mark_done(&o, 10));
    assert_int_equal(bf_offsets_commit_point(&o), 12);
    bf_offsets_free(&o);
}

static void test_backwards_add_resets_to_redelivered_offset(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    add_range(&o, 10, 12);
    assert_true(bf_offsets_mark_done(&o, 10));
    assert_int_equal(bf_offsets_commit_point(&o), 11);

    /* A seek after a rebalance redelivers from 11: what was in flight is
     * superseded, and the commit point starts again at 11. */
    bf_offsets_add(&o, 11);
    assert_int_equal(bf_offsets_commit_point(&o), 11);
    assert_int_equal(bf_offsets_in_flight(&o), 1);
    /* The old 12 is forgotten until it is consumed again. */
    assert_false(bf_offsets_mark_done(&o, 12));
    bf_offsets_add(&o, 12);
    assert_false(bf_offsets_mark_done(&o, 12));
    assert_true(bf_offsets_mark_done(&o, 11));
    assert_int_equal(bf_offsets_commit_point(&o), 13);
    bf_offsets_free(&o);
}

static void test_same_offset_added_twice_is_a_redelivery(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    add_range(&o, 3, 6);
    bf_offsets_add(&o, 6);
    assert_int_equal(bf_offsets_in_flight(&o), 1);
    assert_int_equal(bf_offsets_commit_point(&o), 6);
    bf_offsets_free(&o);
}

static void test_tracker_grows_past_64_entries(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    add_range(&o, 0, 999);
    assert_int_equal(bf_offsets_in_flight(&o), 1000);
    /* Finish all but the first, newest first: nothing can be committed. */
    for (int64_t off = 999; off >= 1; off--)
        assert_false(bf_offsets_mark_done(&o, off));
    assert_int_equal(bf_offsets_commit_point(&o), 0);
    assert_true(bf_offsets_mark_done(&o, 0));
    assert_int_equal(bf_offsets_commit_point(&o), 1000);
    assert_int_equal(bf_offsets_in_flight(&o), 0);
    bf_offsets_free(&o);
}

static void test_ring_grows_while_wrapped_around(void **unused)
{
    (void)unused;
    bf_offsets_t o;
    bf_offsets_init(&o);
    add_range(&o, 0, 63); /* fills the first allocation exactly */
    size_t first_cap = o.cap;
    for (int64_t off = 0; off < 32; off++)
        assert_true(bf_offsets_mark_done(&o, off));
    /* 64..95 go into the slots 0..31 freed at the front of the array. */
    add_range(&o, 64, 64 + (int64_t)first_cap / 2 - 1);
    assert_int_equal(o.cap, first_cap);
    assert_true(o.head + o.count > o.cap);
    /* One more forces a grow while the ring is wrapped. */
    bf_offsets_add(&o, 64 + (int64_t)first_cap / 2);
    assert_true(o.cap > first_cap);
    assert_int_equal(bf_offsets_in_flight(&o), first_cap + 1);

    /* Order must have survived the copy: finish from the newest back. */
    int64_t last = 64 + (int64_t)first_cap / 2;
    for (int64_t off = last; off > 32; off--)
        assert_false(bf_offsets_mark_done(&o, off));
    assert_int_equal(bf_offsets_commit_point(&o), 32);
    assert_true(bf_offsets_mark_done(&o, 32));
    assert_int_equal(bf_offsets_commit_point(&o), last + 1);
    bf_offsets_free(&o);
}

/* The model: offsets[0..added) in consume order, done[] per offset. The
 * commit point is the first offset not done, or one past the last. */
typedef struct model_s {
    int64_t *offsets;
    bool *done;
    size_t added, first_undone;
} model_t;

static int64_t model_commit_point(const model_t *m)
{
    if (m->added == 0)
        return -1;
    if (m->first_undone < m->added)
        return m->offsets[m->first_undone];
    return m->offsets[m->added - 1] + 1;
}

/* xorshift64: a fixed, portable sequence so a failure replays. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_random_completion_order_matches_model(void **unused)
{
    (void)unused;
    enum { N = 5000 };
    model_t m = {.offsets = calloc(N, sizeof(int64_t)), .done = calloc(N, sizeof(bool))};
    size_t *pending = calloc(N, sizeof(size_t)); /* indexes not done yet */
    size_t n_pending = 0;
    uint64_t seed = 0x9E3779B97F4A7C15u;
    bf_offsets_t o;
    bf_offsets_init(&o);
    bool wrapped = false, grew = false;
    size_t steps = 0;

    while (m.added < N || n_pending > 0) {
        /* The window of reports in flight swings between 1 and ~300, so
         * the ring both grows and wraps many times. */
        size_t window = 1 + (steps / 97 % 2 ? 300 : 20);
        steps++;
        if (m.added < N && n_pending < window) {
            /* Offsets increase with occasional gaps (compacted records). */
            int64_t off = m.added ? m.offsets[m.added - 1] + 1 : 1000;
            off += next_random(&seed) % 8 == 0 ? 3 : 0;
            m.offsets[m.added] = off;
            pending[n_pending++] = m.added++;
            bf_offsets_add(&o, off);
        } else {
            size_t pick = (size_t)(next_random(&seed) % n_pending);
            size_t idx = pending[pick];
            pending[pick] = pending[--n_pending];
            int64_t before = model_commit_point(&m);
            m.done[idx] = true;
            while (m.first_undone < m.added && m.done[m.first_undone])
                m.first_undone++;
            bool moved = bf_offsets_mark_done(&o, m.offsets[idx]);
            assert_int_equal(moved, model_commit_point(&m) != before);
        }
        assert_int_equal(bf_offsets_commit_point(&o), model_commit_point(&m));
        assert_int_equal(bf_offsets_in_flight(&o), m.added - m.first_undone);
        if (o.cap && o.head + o.count > o.cap)
            wrapped = true;
        if (o.cap > 64)
            grew = true;
    }
    assert_int_equal(bf_offsets_commit_point(&o), m.offsets[N - 1] + 1);
    /* The scenario must actually exercise what it claims to. */
    assert_true(wrapped);
    assert_true(grew);
    bf_offsets_free(&o);
    free(pending);
    free(m.offsets);
    free(m.done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_point_is_unset_before_first_offset),
        cmocka_unit_test(test_commit_point_waits_for_earliest_offset),
        cmocka_unit_test(test_commit_point_stops_at_first_unfinished_offset),
        cmocka_unit_test(test_commit_point_is_last_plus_one_when_all_done),
        cmocka_unit_test(test_commit_point_skips_gaps_between_offsets),
        cmocka_unit_test(test_unknown_offset_is_ignored),
        cmocka_unit_test(test_backwards_add_resets_to_redelivered_offset),
        cmocka_unit_test(test_same_offset_added_twice_is_a_redelivery),
        cmocka_unit_test(test_tracker_grows_past_64_entries),
        cmocka_unit_test(test_ring_grows_while_wrapped_around),
        cmocka_unit_test(test_random_completion_order_matches_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
