/*
 * lag.h - how far the worker group is behind on the reports topic.
 *
 * Lag of one partition = log-end offset (high watermark) - the group's
 * committed offset, the definition of Burrow and of KEDA's Kafka scaler.
 * Partitions the group has never committed are counted from the start of
 * the log (high - low watermark): the workers start there too
 * (auto.offset.reset=earliest), so everything still in the log is work to
 * do. That is KEDA's offsetResetPolicy=earliest.
 *
 * The reader is a handle (create once, read every interval, destroy): a
 * librdkafka consumer with the group's group.id that never subscribes, so
 * it can fetch the group's committed offsets (OffsetFetch) without joining
 * the group and triggering a rebalance. Every request has a deadline.
 */
#ifndef BF_AUTOSCALER_LAG_H
#define BF_AUTOSCALER_LAG_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/config.h"
#include "libbf/err.h"

/* committed value of a partition the group has never committed */
#define BF_LAG_NO_COMMIT (-1)

typedef struct bf_lag_partition_s {
    int32_t partition;
    int64_t low;       /* low watermark: first offset still in the log */
    int64_t high;      /* high watermark: the log-end offset */
    int64_t committed; /* the group's committed offset, or BF_LAG_NO_COMMIT */
    int64_t lag;       /* bf_lag_of_partition(low, high, committed) */
} bf_lag_partition_t;

/** One reading of the whole topic. */
typedef struct bf_lag_snapshot_s {
    int32_t partition_count;
    bf_lag_partition_t *partitions; /* owned; partition_count entries */
    int64_t total_lag;              /* sum of partitions[].lag */
} bf_lag_snapshot_t;

typedef struct bf_lag_reader_s bf_lag_reader_t;

/**
 * @brief The lag of one partition, with the policy for missing commits.
 *
 * No commit, or a commit below the low watermark (the committed messages
 * were deleted by retention, so the consumer restarts at the log start):
 * high - low. A commit at or past the high watermark: 0. Otherwise
 * high - committed. Pure.
 */
int64_t bf_lag_of_partition(int64_t low, int64_t high, int64_t committed);

/**
 * @brief Create a reader.
 * @param brokers   bootstrap list (copied)
 * @param props     -X/-F properties (borrowed for the call)
 * @param group     consumer group whose commits are read (copied)
 * @param topic     the group's topic (copied)
 * @param timeout_s deadline of one bf_lag_read(), > 0
 * @returns a handle to free with bf_lag_reader_destroy(), or NULL with
 *          errstr filled (a bad -X property, or librdkafka refused).
 */
bf_lag_reader_t *bf_lag_reader_new(const char *brokers, const bf_kprops_t *props,
                                   const char *group, const char *topic, double timeout_s,
                                   char *errstr, size_t errstr_size);

/** @brief Destroy a reader; does not touch the group. NULL-safe. */
void bf_lag_reader_destroy(bf_lag_reader_t *reader);

/**
 * @brief Read partition count, committed offsets and watermarks, blocking up
 *        to the reader's timeout.
 *
 * Committed offsets are read before the watermarks, so a commit made
 * between the two requests can only make the lag look larger, never
 * negative.
 *
 * @param out filled on success (free with bf_lag_snapshot_free()); left
 *            empty on failure.
 * @returns BF_OK; BF_ERR_TIMEOUT when the deadline passed; BF_ERR_KAFKA
 *          (broker unreachable, unknown topic, ...) with errstr filled.
 */
bf_err_t bf_lag_read(bf_lag_reader_t *reader, bf_lag_snapshot_t *out, char *errstr,
                     size_t errstr_size);

/** @brief Free a snapshot's partitions and reset it to empty. NULL-safe. */
void bf_lag_snapshot_free(bf_lag_snapshot_t *snap);

#endif
