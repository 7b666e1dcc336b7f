/*
 * offsets.c - per-partition completion tracking (see offsets.h).
 *
 * The ring holds offsets in increasing order, so marking one done is a
 * binary search, and advancing the commit point pops done entries from the
 * head: O(log n) per mark, O(1) amortised per pop.
 */
#include "worker/offsets.h"

#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"

void bf_offsets_init(bf_offsets_t *o)
{
    memset(o, 0, sizeof(*o));
    o->next_commit = -1;
}

void bf_offsets_free(bf_offsets_t *o)
{
    free(o->offset);
    free(o->done);
    bf_offsets_init(o);
}

static size_t idx(const bf_offsets_t *o, size_t i)
{
    return (o->head + i) % o->cap;
}

static void grow(bf_offsets_t *o)
{
    size_t cap = o->cap ? o->cap * 2 : 64;
    int64_t *off = bf_malloc(cap * sizeof(*off));
    bool *done = bf_malloc(cap * sizeof(*done));
    for (size_t i = 0; i < o->count; i++) {
        off[i] = o->offset[idx(o, i)];
        done[i] = o->done[idx(o, i)];
    }
    free(o->offset);
    free(o->done);
    o->offset = off;
    o->done = done;
    o->head = 0;
    o->cap = cap;
}

void bf_offsets_add(bf_offsets_t *o, int64_t offset)
{
    if (o->count && offset <= o->offset[idx(o, o->count - 1)]) {
        /* Went backwards: a seek or a redelivery. Everything we tracked is
         * superseded by consumption from here. */
        o->count = 0;
        o->head = 0;
    }
    if (o->count == o->cap)
        grow(o);
    o->offset[idx(o, o->count)] = offset;
    o->done[idx(o, o->count)] = false;
    o->count++;
    if (o->count == 1)
        o->next_commit = offset;
}

bool bf_offsets_mark_done(bf_offsets_t *o, int64_t offset)
{
    size_t lo = 0, hi = o->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->offset[idx(o, mid)] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == o->count || o->offset[idx(o, lo)] != offset)
        return false;
    o->done[idx(o, lo)] = true;
    if (lo != 0)
        return false;
    while (o->count && o->done[o->head]) {
        o->next_commit = o->offset[o->head] + 1;
        o->head = (o->head + 1) % o->cap;
        o->count--;
    }
    if (o->count)
        o->next_commit = o->offset[o->head];
    return true;
}

int64_t bf_offsets_commit_point(const bf_offsets_t *o)
{
    return o->next_commit;
}

size_t bf_offsets_in_flight(const bf_offsets_t *o)
{
    return o->count;
}
