/*
 * lag_status.h - a status per partition in the spirit of Burrow's
 * consumer-lag evaluation (github.com/linkedin/Burrow, "Consumer Lag
 * Evaluation Rules"), over the autoscaler's own readings:
 *
 *   STALL  the committed offset has not moved for BF_LAG_STATUS_STREAK
 *          readings in a row while there was lag: the consumer is stuck or
 *          gone;
 *   WARN   the lag grew for BF_LAG_STATUS_STREAK readings in a row: the
 *          consumer is moving but falling behind;
 *   OK     otherwise.
 *
 * Burrow looks at a window of ten commits; we keep only streaks, because
 * the autoscaler reads on its own interval, not once per commit. Pure and
 * bounded: one small record per partition, up to BF_LAG_STATUS_MAX.
 */
#ifndef BF_AUTOSCALER_LAG_STATUS_H
#define BF_AUTOSCALER_LAG_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "autoscaler/lag.h"

#define BF_LAG_STATUS_STREAK 3
/* Partitions tracked; more are reported OK. */
#define BF_LAG_STATUS_MAX 4096

typedef enum bf_partition_status_e {
    BF_PARTITION_OK = 0,
    BF_PARTITION_WARN = 1,
    BF_PARTITION_STALL = 2,
} bf_partition_status_t;

typedef struct bf_lag_track_s {
    int64_t committed, lag;
    uint32_t still, growing; /* streaks */
    bool seen;
} bf_lag_track_t;

typedef struct bf_lag_status_s {
    bf_lag_track_t track[BF_LAG_STATUS_MAX];
} bf_lag_status_t;

/** @brief Update with one reading (partitions indexed by number). */
void bf_lag_status_update(bf_lag_status_t *s, const bf_lag_snapshot_t *snap);

/** @brief The status of @p partition after the last update. */
bf_partition_status_t bf_lag_status_of(const bf_lag_status_t *s, int32_t partition);

/** @brief "OK", "WARN" or "STALL". */
const char *bf_partition_status_name(bf_partition_status_t st);

#endif
