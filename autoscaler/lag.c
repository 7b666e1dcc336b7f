/*
 * lag.c - the group's lag per partition (see lag.h for the definition and
 * the policy for partitions without a commit).
 *
 * Three kinds of request per reading, all synchronous and bounded by one
 * deadline: Metadata (partition count), OffsetFetch for the group
 * (rd_kafka_committed) and ListOffsets per partition
 * (rd_kafka_query_watermark_offsets). The autoscaler has no event loop to
 * protect (it sleeps between ticks), so blocking calls with timeouts keep
 * this simple; a reading of a topic with P partitions costs P + 2 round
 * trips every interval, which is nothing next to what the workers do.
 */
#include "autoscaler/lag.h"

#include <stdio.h>
#include <stdlib.h>

#include <librdkafka/rdkafka.h>

#include "libbf/clock.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"

struct bf_lag_reader_s {
    rd_kafka_t *rk;        /* consumer with group.id, never subscribed */
    rd_kafka_topic_t *rkt; /* for the metadata request of one topic */
    char *topic;
    double timeout_s;
};

int64_t bf_lag_of_partition(int64_t low, int64_t high, int64_t committed)
{
    if (high <= low)
        return 0; /* empty log */
    if (committed < 0 || committed < low)
        return high - low;
    if (committed >= high)
        return 0;
    return high - committed;
}

/* librdkafka reports connection trouble as error events; the caller of
 * bf_lag_read() already logs a failed reading once per retry with the
 * reason, so these only add detail for debugging. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    bf_log(BF_LOG_DEBUG, "lag", "kafka_error", BF_LSTR("client", rd_kafka_name(rk)),
           BF_LSTR("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)),
           BF_LSTR("reason", reason));
}

bf_lag_reader_t *bf_lag_reader_new(const char *brokers, const bf_kprops_t *props,
                                   const char *group, const char *topic, double timeout_s,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = bf_kafka_conf_new(brokers, props, errstr, errstr_size);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_error_cb(conf, error_cb);
    /* This handle only reads the group's commits: it must never commit or
     * store an offset itself, whatever an operator's -X says. */
    if (bf_kafka_conf_set(conf, "group.id", group, errstr, errstr_size) ||
        bf_kafka_conf_default(conf, props, "client.id", "bountyfleet-autoscaler", errstr,
                              errstr_size) ||
        bf_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
        bf_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr,
                          errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char rderr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
    if (!rk) {
        snprintf(errstr, errstr_size, "cannot create the Kafka client: %s", rderr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt) {
        snprintf(errstr, errstr_size, "topic %s: %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_destroy(rk);
        return NULL;
    }
    bf_lag_reader_t *r = bf_calloc(1, sizeof(*r));
    r->rk = rk;
    r->rkt = rkt;
    r->topic = bf_strdup(topic);
    r->timeout_s = timeout_s > 0 ? timeout_s : 5;
    return r;
}

void bf_lag_reader_destroy(bf_lag_reader_t *r)
{
    if (!r)
        return;
    rd_kafka_topic_destroy(r->rkt);
    /* Never subscribed, so there is no group membership to leave and no
     * offsets to commit: skip the consumer close and its round trips. */
    rd_kafka_destroy_flags(r->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    free(r->topic);
    free(r);
}

void bf_lag_snapshot_free(bf_lag_snapshot_t *snap)
{
    if (!snap)
        return;
    free(snap->partitions);
    snap->partitions = NULL;
    snap->partition_count = 0;
    snap->total_lag = 0;
}

/* Milliseconds left until @p deadline, or -1 once it has passed. */
static int remaining_ms(double deadline)
{
    double left = deadline - bf_monotonic_s();
    if (left <= 0)
        return -1;
    return left * 1000 < 1 ? 1 : (int)(left * 1000);
}

static bf_err_t kafka_fail(rd_kafka_resp_err_t err, const char *what, const char *topic,
                           char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "%s for %s: %s", what, topic, rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? BF_ERR_TIMEOUT : BF_ERR_KAFKA;
}

static bf_err_t read_partitions(bf_lag_reader_t *r, double deadline,
                                bf_lag_snapshot_t *snap, char *errstr, size_t errstr_size)
{
    int ms = remaining_ms(deadline);
    if (ms < 0)
        return kafka_fail(RD_KAFKA_RESP_ERR__TIMED_OUT, "metadata", r->topic, errstr,
                          errstr_size);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(r->rk, 0, r->rkt, &md, ms);
    if (err)
        return kafka_fail(err, "metadata", r->topic, errstr, errstr_size);
    bf_err_t ret = BF_OK;
    if (md->topic_cnt != 1 || md->topics[0].err) {
        ret = kafka_fail(md->topic_cnt != 1 ? RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC
                                            : md->topics[0].err,
                         "metadata", r->topic, errstr, errstr_size);
    } else if (md->topics[0].partition_cnt <= 0) {
        snprintf(errstr, errstr_size, "metadata for %s: no partitions", r->topic);
        ret = BF_ERR_KAFKA;
    } else {
        const struct rd_kafka_metadata_topic *t = &md->topics[0];
        snap->partition_count = t->partition_cnt;
        snap->partitions = bf_calloc((size_t)t->partition_cnt, sizeof(*snap->partitions));
        for (int i = 0; i < t->partition_cnt; i++)
            snap->partitions[i].partition = t->partitions[i].id;
    }
    rd_kafka_metadata_destroy(md);
    return ret;
}

static bf_err_t read_committed(bf_lag_reader_t *r, double deadline,
                               bf_lag_snapshot_t *snap, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(snap->partition_count);
    for (int32_t i = 0; i < snap->partition_count; i++)
        rd_kafka_topic_partition_list_add(list, r->topic, snap->partitions[i].partition);
    bf_err_t ret = BF_OK;
    int ms = remaining_ms(deadline);
    rd_kafka_resp_err_t err =
        ms < 0 ? RD_KAFKA_RESP_ERR__TIMED_OUT : rd_kafka_committed(r->rk, list, ms);
    if (err) {
        ret = kafka_fail(err, "committed offsets", r->topic, errstr, errstr_size);
        goto out;
    }
    /* The list comes back in the order we built it. */
    for (int i = 0; i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[i];
        if (tp->err) {
            ret = kafka_fail(tp->err, "committed offsets", r->topic, errstr, errstr_size);
            goto out;
        }
        /* librdkafka reports "no commit" as RD_KAFKA_OFFSET_INVALID (-1001). */
        snap->partitions[i].committed = tp->offset >= 0 ? tp->offset : BF_LAG_NO_COMMIT;
    }
out:
    rd_kafka_topic_partition_list_destroy(list);
    return ret;
}

static bf_err_t read_watermarks(bf_lag_reader_t *r, double deadline,
                                bf_lag_snapshot_t *snap, char *errstr, size_t errstr_size)
{
    for (int32_t i = 0; i < snap->partition_count; i++) {
        bf_lag_partition_t *p = &snap->partitions[i];
        int ms = remaining_ms(deadline);
        rd_kafka_resp_err_t err =
            ms < 0 ? RD_KAFKA_RESP_ERR__TIMED_OUT
                   : rd_kafka_query_watermark_offsets(r->rk, r->topic, p->partition,
                                                      &p->low, &p->high, ms);
        if (err)
            return kafka_fail(err, "watermarks", r->topic, errstr, errstr_size);
        p->lag = bf_lag_of_partition(p->low, p->high, p->committed);
        snap->total_lag += p->lag;
    }
    return BF_OK;
}

bf_err_t bf_lag_read(bf_lag_reader_t *r, bf_lag_snapshot_t *out, char *errstr,
                     size_t errstr_size)
{
    *out = (bf_lag_snapshot_t){0};
    /* Serve queued error events (error_cb) so they do not pile up. */
    rd_kafka_poll(r->rk, 0);
    double deadline = bf_monotonic_s() + r->timeout_s;
    bf_lag_snapshot_t snap = {0};
    bf_err_t err = read_partitions(r, deadline, &snap, errstr, errstr_size);
    if (!err)
        err = read_committed(r, deadline, &snap, errstr, errstr_size);
    if (!err)
        err = read_watermarks(r, deadline, &snap, errstr, errstr_size);
    if (err) {
        bf_lag_snapshot_free(&snap);
        return err;
    }
    *out = snap;
    return BF_OK;
}
