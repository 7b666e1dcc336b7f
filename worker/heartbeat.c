/*
 * heartbeat.c - what the worker reports about itself (see worker_int.h
 * and telemetry.h): once a second the gauges (Redis, partitions, pause,
 * consumer lag) and readiness; librdkafka's errors, statistics and commit
 * results as they come; and every --heartbeat-interval a heartbeat record
 * (schemas/heartbeat.avsc) on the heartbeats topic, keyed by worker id,
 * which the autoscaler reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/json_scan.h"
#include "libbf/log.h"
#include "worker/worker_int.h"

static const char *client_name(const bf_worker_t *w, const rd_kafka_t *rk)
{
    return rk == w->producer ? "producer" : "consumer";
}

/* librdkafka's error callback. @locality loop thread (served from the
 * queues we poll). Every error is counted by name (a broker going away is
 * _TRANSPORT); only "all brokers down" changes what we report; the text is
 * logged by librdkafka's own log callback. */
void bf_heartbeat_on_kafka_error(rd_kafka_t *rk, int err, const char *reason,
                                 void *opaque)
{
    bf_worker_t *w = opaque;
    bf_series_add(bf_metric_series(w->tel.kafka_errors, client_name(w, rk),
                                   rd_kafka_err2name((rd_kafka_resp_err_t)err)),
                  1);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        w->kafka_down = true;
        bf_log(BF_LOG_WARN, "worker", "kafka_unreachable", BF_LSTR("reason", reason));
    }
}

/* librdkafka's statistics (statistics.interval.ms), @locality loop thread:
 * how many brokers the client needs and cannot reach (a broker it has no
 * use for stays in INIT: connections are sparse), and how many requests it
 * sent again after an error (txretries: leader moved, request timed out,
 * broker busy) - the retries librdkafka does on its own, invisible
 * otherwise. @returns 0: librdkafka frees the JSON. */
int bf_heartbeat_on_kafka_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    bf_worker_t *w = opaque;
    json_t *root = bf_json_load(json, json_len, 0, NULL);
    json_t *brokers = json_object_get(root, "brokers");
    if (!json_is_object(brokers)) {
        json_decref(root);
        return 0;
    }
    double down = 0, retries = 0;
    const char *name;
    json_t *b;
    json_object_foreach(brokers, name, b)
    {
        /* Bootstrap and logical brokers (the coordinator handle) have no
         * node id of their own; their retries count all the same. */
        retries += (double)json_integer_value(json_object_get(b, "txretries"));
        const char *state = json_string_value(json_object_get(b, "state"));
        if (json_integer_value(json_object_get(b, "nodeid")) >= 0 && state &&
            strcmp(state, "UP") != 0 && strcmp(state, "INIT") != 0)
            down++;
    }
    json_decref(root);
    const char *client = client_name(w, rk);
    int i = rk == w->producer;
    bf_series_set(bf_metric_series(w->tel.kafka_brokers, client), down);
    if (retries > w->kafka_retries[i])
        bf_series_add(bf_metric_series(w->tel.kafka_retries, client),
                      retries - w->kafka_retries[i]);
    w->kafka_retries[i] = retries;
    return 0;
}

/* Results of offset commits (the periodic auto commit and the one on
 * revoke). A failed one is retried by the next; count it so an outage of
 * the group coordinator shows. @locality loop thread. */
void bf_heartbeat_on_offset_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    bf_worker_t *w = opaque;
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    bf_series_add(bf_metric_series(w->tel.commit_failures, rd_kafka_err2name(err)), 1);
    bf_log(BF_LOG_DEBUG, "worker", "commit_failed",
           BF_LSTR("error", rd_kafka_err2str(err)));
}

/* Consumer lag as this worker sees it: the partition's high watermark
 * (cached from the last fetch response, no round trip) minus our fetch
 * position, or minus the commit point when nothing was fetched yet. */
static void update_consumer_lag(bf_worker_t *w)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(w->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_position(w->consumer, parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(w->consumer, tp->topic, tp->partition, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0)
            continue;
        int64_t pos = tp->offset;
        if (pos < 0 && tp->partition < BF_WORKER_MAX_PARTITIONS)
            pos = bf_offsets_commit_point(&w->partitions[tp->partition].offsets);
        if (pos < 0)
            pos = lo >= 0 ? lo : 0;
        char label[16];
        snprintf(label, sizeof(label), "%d", (int)tp->partition);
        bf_series_set(bf_metric_series(w->tel.consumer_lag, label),
                      (double)(hi > pos ? hi - pos : 0));
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

void bf_heartbeat_on_stats(uv_timer_t *t)
{
    bf_worker_t *w = t->data;
    bool redis_up = bf_redis_connected(w->redis);
    bf_series_set(w->tel.redis_up, redis_up ? 1 : 0);
    uint64_t connects = bf_redis_connects(w->redis);
    if (connects > w->redis_connects && w->redis_connects > 0) {
        bf_series_add(w->tel.redis_reconnects, (double)(connects - w->redis_connects));
        bf_liveness_reconnected(w);
    }
    if (connects > 0)
        w->redis_connects = connects;
    bf_series_set(w->tel.partitions, w->assigned);
    bf_series_set(w->tel.paused, w->paused || bf_intake_full(w) ? 1 : 0); /* a hold too */
    update_consumer_lag(w);
    /* Every provider's circuit open: stop fetching rather than burn
     * reports; resume once a breaker lets probes through again. */
    bf_intake_set_ai_unavailable(w, w->ai && !bf_ai_available(w->ai));
    /* fail-closed: Redis is connected again; let the waiting claims find
     * out whether it answers (the next failure pauses us again). */
    if (w->redis_blocked && redis_up) {
        w->redis_blocked = false;
        bf_intake_update(w);
    }
    const char *why = NULL;
    if (w->stopping)
        why = "stopping";
    else if (w->assigned == 0)
        why = "no partitions assigned";
    else if (!redis_up)
        why = "redis unreachable";
    else if (w->kafka_down)
        why = "kafka unreachable";
    bf_telemetry_set_ready(&w->tel, why == NULL, why ? why : "ready");
}

/* One heartbeat record (schemas/heartbeat.avsc), keyed by worker id. */
void bf_heartbeat_send(bf_worker_t *w)
{
    double now = bf_monotonic_s();
    double interval = now - w->last_heartbeat;
    uint64_t finished = w->acked + w->dlq;
    double rate =
        interval > 0 ? (double)(finished - w->finished_at_last_heartbeat) / interval : 0;
    w->last_heartbeat = now;
    w->finished_at_last_heartbeat = finished;
    static const double q[] = {0.5, 0.95, 0.99};
    double lat[3];
    bf_telemetry_quantiles(&w->tel, q, 3, lat);
    double cpu;
    int64_t rss;
    bf_telemetry_process(&cpu, &rss);
    bf_ai_limit_status_t lim;
    bf_ai_limit_status(w->ai, &lim);
    json_t *hb = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:i, s:i, s:f, s:f, "
        "s:I, s:i, s:b, s:f, s:f}",
        "worker_id", w->cfg->worker_id, "sent_at", (json_int_t)bf_time_now_ms(),
        "started_at", (json_int_t)w->started_ms, "reports_consumed",
        (json_int_t)w->consumed, "reports_validated", (json_int_t)w->acked,
        "reports_duplicate", (json_int_t)w->duplicates, "reports_dlq", (json_int_t)w->dlq,
        "reports_per_second", rate, "latency_p50_seconds", lat[0], "latency_p95_seconds",
        lat[1], "latency_p99_seconds", lat[2], "in_flight_reports", (int)w->in_flight,
        "in_flight_ai_calls", (int)bf_ai_pending(w->ai), "ai_cost_usd",
        bf_ai_cost_total(w->ai), "cpu_seconds", cpu, "rss_bytes", (json_int_t)rss,
        "assigned_partitions", w->assigned, "paused", w->paused || bf_intake_full(w),
        "ai_limit_rpm", lim.rpm, "ai_limited_share", lim.limited_share);
    bf_buf_t b;
    bf_buf_init(&b, 64 * 1024);
    char errstr[256];
    bf_err_t err = bf_codec_encode(w->codec, BF_RECORD_HEARTBEAT, hb, w->framing, &b,
                                   errstr, sizeof(errstr));
    json_decref(hb);
    if (err) {
        bf_log(BF_LOG_ERROR, "worker", "heartbeat_encode_failed",
               BF_LSTR("error", errstr));
        bf_buf_free(&b);
        return;
    }
    size_t len;
    char *bytes = bf_buf_steal(&b, &len);
    rd_kafka_resp_err_t kerr = rd_kafka_producev(
        w->producer, RD_KAFKA_V_TOPIC(w->cfg->topic_heartbeats),
        RD_KAFKA_V_KEY(w->cfg->worker_id, strlen(w->cfg->worker_id)),
        RD_KAFKA_V_VALUE(bytes, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
        RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
    if (kerr) {
        free(bytes);
        bf_log(BF_LOG_WARN, "worker", "heartbeat_failed",
               BF_LSTR("error", rd_kafka_err2str(kerr)));
    }
}

void bf_heartbeat_on_timer(uv_timer_t *t)
{
    bf_heartbeat_send(t->data);
}
