/*
 * heartbeats.c - the workers' heartbeats (see heartbeats.h).
 */
#include "autoscaler/heartbeats.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/codec.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"

/* A heartbeat's number is trusted only within 0..max: anything that can
 * write to the topic can send 1e308, and Avro doubles can be NaN or
 * infinite. */
static bool plausible(double v, double max)
{
    return v >= 0 && v <= max;
}

void bf_heartbeats_add(bf_heartbeats_t *h, const json_t *rec, double now)
{
    const char *id = json_string_value(json_object_get(rec, "worker_id"));
    if (!id || !*id)
        return;
    bf_heartbeat_worker_t *w = NULL;
    for (size_t i = 0; i < h->count && !w; i++)
        if (strcmp(h->workers[i].id, id) == 0)
            w = &h->workers[i];
    bool fresh = !w;
    if (!w) {
        if (h->count == BF_HEARTBEATS_MAX_WORKERS) {
            /* full: reuse the slot of the worker heard from longest ago */
            size_t oldest = 0;
            for (size_t i = 1; i < h->count; i++)
                if (h->workers[i].seen_at < h->workers[oldest].seen_at)
                    oldest = i;
            w = &h->workers[oldest];
        } else {
            w = &h->workers[h->count++];
        }
        memset(w, 0, sizeof(*w));
        snprintf(w->id, sizeof(w->id), "%s", id);
    }
    int64_t started = json_integer_value(json_object_get(rec, "started_at"));
    double cost = json_number_value(json_object_get(rec, "ai_cost_usd"));
    bool restarted = fresh || started != w->started_at;
    if (!plausible(cost, BF_HEARTBEATS_MAX_USD)) {
        /* Not a spend anyone made: keep the last good value, so the
         * budgets neither jump to infinity (1e308 from two workers sums to
         * inf) nor lose what was already counted. */
        cost = restarted ? 0 : w->ai_cost_usd;
    }
    if (restarted || cost < w->ai_cost_usd)
        h->ai_spend_pending += cost; /* new worker, or a restart of one */
    else
        h->ai_spend_pending += cost - w->ai_cost_usd;
    w->started_at = started;
    w->ai_cost_usd = cost;
    w->seen_at = now;
    double p95 = json_number_value(json_object_get(rec, "latency_p95_seconds"));
    double rate = json_number_value(json_object_get(rec, "reports_per_second"));
    w->latency_p95_s = plausible(p95, BF_HEARTBEATS_MAX_SECONDS) ? p95 : -1;
    w->reports_per_second = plausible(rate, BF_HEARTBEATS_MAX_RATE) ? rate : 0;
    w->paused = json_is_true(json_object_get(rec, "paused"));
}

void bf_heartbeats_summary(const bf_heartbeats_t *h, double now,
                           bf_heartbeats_summary_t *out)
{
    *out = (bf_heartbeats_summary_t){.latency_p95_s = -1};
    for (size_t i = 0; i < h->count; i++) {
        const bf_heartbeat_worker_t *w = &h->workers[i];
        if (now - w->seen_at > BF_HEARTBEATS_STALE_S)
            continue;
        out->heartbeating++;
        if (w->latency_p95_s > out->latency_p95_s)
            out->latency_p95_s = w->latency_p95_s;
        out->reports_per_second += w->reports_per_second;
        out->paused += w->paused;
    }
}

double bf_heartbeats_take_spend(bf_heartbeats_t *h)
{
    double s = h->ai_spend_pending;
    h->ai_spend_pending = 0;
    return s;
}

struct bf_heartbeat_reader_s {
    rd_kafka_t *rk;
    bf_codec_t *codec;
    bool bad_logged;
};

bf_heartbeat_reader_t *bf_heartbeat_reader_new(const char *brokers,
                                               const bf_kprops_t *props,
                                               const char *topic, char *errstr,
                                               size_t errstr_size)
{
    bf_codec_t *codec = bf_codec_new(errstr, errstr_size);
    if (!codec)
        return NULL;
    rd_kafka_conf_t *conf = bf_kafka_conf_new(brokers, props, errstr, errstr_size);
    if (!conf ||
        bf_kafka_conf_set(conf, "group.id", "bountyfleet-autoscaler-heartbeats", errstr,
                          errstr_size) != BF_OK ||
        bf_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) !=
            BF_OK ||
        bf_kafka_conf_set(conf, "auto.offset.reset", "latest", errstr, errstr_size) !=
            BF_OK) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        bf_codec_destroy(codec);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        bf_codec_destroy(codec);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (err) {
        snprintf(errstr, errstr_size, "subscribe %s: %s", topic, rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        bf_codec_destroy(codec);
        return NULL;
    }
    bf_heartbeat_reader_t *r = bf_calloc(1, sizeof(*r));
    r->rk = rk;
    r->codec = codec;
    return r;
}

void bf_heartbeat_reader_poll(bf_heartbeat_reader_t *r, bf_heartbeats_t *h, double now)
{
    if (!r)
        return;
    for (int i = 0; i < BF_HEARTBEATS_PER_TICK; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 0);
        if (!m)
            return;
        if (!m->err) {
            json_t *rec = NULL;
            char errstr[256];
            if (bf_codec_decode(r->codec, BF_RECORD_HEARTBEAT, m->payload, m->len, &rec,
                                NULL, errstr, sizeof(errstr)) == BF_OK)
                bf_heartbeats_add(h, rec, now);
            else if (!r->bad_logged) {
                r->bad_logged = true; /* one line, not one per record */
                bf_log(BF_LOG_WARN, "autoscaler", "heartbeat_undecodable",
                       BF_LSTR("error", errstr));
            }
            json_decref(rec);
        }
        rd_kafka_message_destroy(m);
    }
}

void bf_heartbeat_reader_destroy(bf_heartbeat_reader_t *r)
{
    if (!r)
        return;
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    bf_codec_destroy(r->codec);
    free(r);
}
