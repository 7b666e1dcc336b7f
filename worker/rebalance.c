/*
 * rebalance.c - partitions given to this worker and taken away (see
 * worker_int.h).
 *
 * The group's protocol is cooperative-sticky by default (KIP-429): a
 * rebalance moves only the partitions that change owner, with the
 * incremental assign and unassign calls; an eager protocol set with -X
 * gets the classic ones.
 */
#include <string.h>

#include "libbf/log.h"
#include "worker/worker_int.h"

void bf_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                     rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    bf_worker_t *w = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    /* On revoke, commit what is done now, while the partitions are still
     * ours. Reports of a revoked partition still in flight run to their
     * end (bounded by the AI and Redis timeouts): their results are
     * published and cached in Redis, and their lease makes the new owner
     * wait for that result instead of paying for the analyses again. Their
     * offsets are no longer ours to store (the epoch changes), so the new
     * owner re-reads them and answers from the cache. */
    if (!assign)
        bf_intake_revoked(w, parts);
    rd_kafka_topic_partition_list_t *done = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= BF_WORKER_MAX_PARTITIONS)
            continue;
        bf_partition_t *part = &w->partitions[p];
        int64_t point = bf_offsets_commit_point(&part->offsets);
        if (!assign && part->assigned && point >= 0 && !w->cfg->dry_run)
            rd_kafka_topic_partition_list_add(done, parts->elems[i].topic, p)->offset =
                point;
        if (assign != part->assigned)
            w->assigned += assign ? 1 : -1;
        part->assigned = assign;
        part->epoch++;
        part->stale_jobs = part->live_jobs; /* every live one is older now */
        bf_offsets_free(&part->offsets);    /* fresh start either way */
        bf_log(BF_LOG_INFO, "worker", assign ? "partition_assigned" : "partition_revoked",
               BF_LSTR("topic", parts->elems[i].topic), BF_LINT("partition", p));
    }
    if (done->cnt) {
        rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, done, 1 /* async */);
        if (cerr)
            bf_log(BF_LOG_WARN, "worker", "revoke_commit_failed",
                   BF_LSTR("error", rd_kafka_err2str(cerr)));
    }
    rd_kafka_topic_partition_list_destroy(done);
    bf_series_set(w->tel.partitions, w->assigned);
    bf_metric_reset(w->tel.consumer_lag);
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cooperative)
        error = assign ? rd_kafka_incremental_assign(rk, parts)
                       : rd_kafka_incremental_unassign(rk, parts);
    else
        rerr = rd_kafka_assign(rk, assign ? parts : NULL);
    if (error) {
        bf_log(BF_LOG_ERROR, "worker", "rebalance_failed",
               BF_LSTR("error", rd_kafka_error_string(error)));
        rd_kafka_error_destroy(error);
    } else if (rerr) {
        bf_log(BF_LOG_ERROR, "worker", "rebalance_failed",
               BF_LSTR("error", rd_kafka_err2str(rerr)));
    }
    /* No pause or resume on what was just assigned: either can lose the
     * assigned offset in librdkafka 2.0 (intake.c says when a newly
     * assigned partition is paused). */
}
