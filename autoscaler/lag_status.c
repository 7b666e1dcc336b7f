/*
 * lag_status.c - OK / WARN / STALL per partition (see lag_status.h).
 */
#include "autoscaler/lag_status.h"

const char *bf_partition_status_name(bf_partition_status_t st)
{
    switch (st) {
    case BF_PARTITION_WARN:
        return "WARN";
    case BF_PARTITION_STALL:
        return "STALL";
    case BF_PARTITION_OK:
        break;
    }
    return "OK";
}

void bf_lag_status_update(bf_lag_status_t *s, const bf_lag_snapshot_t *snap)
{
    for (int32_t i = 0; i < snap->partition_count; i++) {
        const bf_lag_partition_t *p = &snap->partitions[i];
        if (p->partition < 0 || p->partition >= BF_LAG_STATUS_MAX)
            continue;
        bf_lag_track_t *t = &s->track[p->partition];
        if (t->seen) {
            t->still = p->lag > 0 && p->committed == t->committed ? t->still + 1 : 0;
            t->growing = p->lag > t->lag ? t->growing + 1 : 0;
        }
        t->seen = true;
        t->committed = p->committed;
        t->lag = p->lag;
    }
}

bf_partition_status_t bf_lag_status_of(const bf_lag_status_t *s, int32_t partition)
{
    if (partition < 0 || partition >= BF_LAG_STATUS_MAX)
        return BF_PARTITION_OK;
    const bf_lag_track_t *t = &s->track[partition];
    if (t->still >= BF_LAG_STATUS_STREAK)
        return BF_PARTITION_STALL;
    if (t->growing >= BF_LAG_STATUS_STREAK)
        return BF_PARTITION_WARN;
    return BF_PARTITION_OK;
}
