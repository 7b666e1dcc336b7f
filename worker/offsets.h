/*
 * offsets.h - which offset of a partition is safe to commit.
 *
 * Reports finish out of order (a short report's AI calls return before a
 * long one's), but a Kafka commit says "everything below this offset is
 * done". So per partition we keep the offsets in flight in the order they
 * were consumed (which is increasing), mark them done as they finish, and
 * the commit point is the first offset still in flight, or one past the
 * last offset seen when nothing is. This is librdkafka's recommended
 * pattern with enable.auto.offset.store=false.
 */
#ifndef BF_WORKER_OFFSETS_H
#define BF_WORKER_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** One partition's in-flight offsets: a ring buffer in consume order. */
typedef struct bf_offsets_s {
    int64_t *offset;
    bool *done;
    size_t head, count, cap;
    int64_t next_commit; /* -1 until the first offset is seen */
} bf_offsets_t;

/** @brief Initialise an empty tracker. */
void bf_offsets_init(bf_offsets_t *o);
/** @brief Free its memory. */
void bf_offsets_free(bf_offsets_t *o);
/**
 * @brief Record that @p offset was consumed and is now in flight.
 * Offsets must be added in increasing order; an older one (a redelivery
 * after a seek) resets the tracker to start at it.
 */
void bf_offsets_add(bf_offsets_t *o, int64_t offset);
/**
 * @brief Mark @p offset done.
 * @returns true when the commit point moved (read it with
 *          bf_offsets_commit_point); false if it did not or the offset is
 *          unknown.
 */
bool bf_offsets_mark_done(bf_offsets_t *o, int64_t offset);
/** @brief The offset to store/commit (next to consume), or -1 if none. */
int64_t bf_offsets_commit_point(const bf_offsets_t *o);
/** @brief Offsets still in flight. */
size_t bf_offsets_in_flight(const bf_offsets_t *o);

#endif
