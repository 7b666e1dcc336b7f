/*
 * producer.c - the report-publishing C API (bountyfleet_producer.h), on
 * which the bountyfleet-producer CLI is built.
 *
 * A report goes: JSON -> bf_report_from_json (required fields, sizes,
 * UTF-8) -> normalised JSON -> codec (schema check, framing) ->
 * rd_kafka_producev keyed by report_id. The Kafka configuration starts
 * from ours (idempotence, which implies acks=all; compression; a short
 * linger to batch) and the caller's properties override it, kcat style.
 */
#include "producer/bountyfleet_producer.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/buf.h"
#include "libbf/codec.h"
#include "libbf/config.h"
#include "libbf/kafka.h"
#include "libbf/mem.h"
#include "libbf/registry.h"
#include "libbf/report.h"

/* Room for the framing header on top of the largest report. */
#define ENCODED_MAX (BF_REPORT_MAX_ENCODED + 64)

struct bf_producer_s {
    rd_kafka_t *rk;
    char *topic;
    bf_codec_t *codec;
    bf_registry_t *registry;
    bf_framing_t framing;
    bf_buf_t buf;
    double queue_full_timeout_s;
    bf_producer_delivery_cb *on_delivery;
    void *opaque;
    bf_producer_stats_t stats;
    uint64_t delivery_failed; /* of the sent ones */
};

static void on_kafka_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    bf_producer_t *p = opaque;
    if (m->err) {
        p->stats.failed++;
        p->delivery_failed++;
    } else
        p->stats.delivered++;
    if (p->on_delivery) {
        char id[BF_REPORT_MAX_ID + 1];
        snprintf(id, sizeof(id), "%.*s", (int)m->key_len, (const char *)m->key);
        p->on_delivery(p->opaque, id, m->err ? BF_ERR_KAFKA : BF_OK,
                       m->err ? rd_kafka_err2str(m->err) : NULL);
    }
}

/* Our Kafka defaults, then the caller's -X style properties. */
static rd_kafka_conf_t *kafka_conf(const bf_producer_conf_t *c, bf_producer_t *p,
                                   char *errstr, size_t errstr_size)
{
    bf_kprops_t props = {0};
    rd_kafka_conf_t *conf = NULL;
    for (size_t i = 0; c->kafka_props && c->kafka_props[i]; i++)
        if (bf_kprops_add_kv(&props, c->kafka_props[i], errstr, errstr_size) != BF_OK)
            goto out;
    const char *brokers = c->brokers ? c->brokers : getenv("KAFKA_BROKERS");
    conf = bf_kafka_conf_new(brokers && *brokers ? brokers : "127.0.0.1:9092", &props,
                             errstr, errstr_size);
    if (!conf)
        goto out;
    if (bf_kafka_conf_default(conf, &props, "enable.idempotence", "true", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, &props, "compression.codec",
                              c->compression ? c->compression : "lz4", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, &props, "linger.ms", "20", errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        conf = NULL;
        goto out;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_kafka_delivery);
    rd_kafka_conf_set_opaque(conf, p);
out:
    bf_kprops_free(&props);
    return conf;
}

bf_producer_t *bf_producer_new(const bf_producer_conf_t *c, char *errstr,
                               size_t errstr_size)
{
    static const bf_producer_conf_t defaults = {.confluent_id = -1};
    if (!c)
        c = &defaults;
    bf_producer_t *p = bf_calloc(1, sizeof(*p));
    bf_buf_init(&p->buf, ENCODED_MAX);
    p->topic = bf_strdup(c->topic ? c->topic : BF_TOPIC_REPORTS);
    p->queue_full_timeout_s = c->queue_full_timeout_s > 0 ? c->queue_full_timeout_s : 60;
    p->on_delivery = c->on_delivery;
    p->opaque = c->opaque;
    if (bf_framing_parse(c->framing ? c->framing : "single-object", &p->framing) != 0) {
        bf_seterr(BF_ERR_CONFIG, errstr, errstr_size,
                  "framing: unknown '%s' (single-object, confluent or json)", c->framing);
        goto fail;
    }
    if (!(p->codec = bf_codec_new(errstr, errstr_size)))
        goto fail;
    if (p->framing == BF_FRAMING_CONFLUENT) {
        /* A registry when there is one; else the id the caller gives. */
        p->registry = bf_registry_from_env(c->schema_registry_url, errstr, errstr_size);
        if (!p->registry && *errstr)
            goto fail;
        if (p->registry) {
            if (bf_registry_register_for_encoding(p->registry, p->codec, BF_RECORD_REPORT,
                                                  p->topic, NULL, errstr, errstr_size))
                goto fail;
        } else if (c->confluent_id >= 0) {
            bf_codec_set_confluent_id(p->codec, BF_RECORD_REPORT, c->confluent_id);
        } else {
            bf_seterr(
                BF_ERR_CONFIG, errstr, errstr_size,
                "confluent framing needs a schema registry (SCHEMA_REGISTRY_URL) or a "
                "schema id");
            goto fail;
        }
    }
    rd_kafka_conf_t *conf = kafka_conf(c, p, errstr, errstr_size);
    if (!conf)
        goto fail;
    char rderr[512];
    if (!(p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr)))) {
        bf_seterr(BF_ERR_KAFKA, errstr, errstr_size, "kafka: %s", rderr);
        goto fail;
    }
    return p;
fail:
    bf_producer_destroy(p);
    return NULL;
}

void bf_producer_destroy(bf_producer_t *p)
{
    if (!p)
        return;
    if (p->rk)
        rd_kafka_destroy(p->rk);
    bf_registry_destroy(p->registry);
    bf_codec_destroy(p->codec);
    bf_buf_free(&p->buf);
    free(p->topic);
    free(p);
}

bf_err_t bf_producer_send_object(bf_producer_t *p, const json_t *report, char *errstr,
                                 size_t errstr_size)
{
    if (!p || !report)
        return bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size,
                         "no producer or report");
    bf_report_t *r = NULL;
    bf_err_t err = bf_report_from_json(report, &r, errstr, errstr_size);
    if (err == BF_OK) {
        json_t *norm = bf_report_to_json(r);
        bf_buf_reset(&p->buf);
        err = bf_codec_encode(p->codec, BF_RECORD_REPORT, norm, p->framing, &p->buf,
                              errstr, errstr_size);
        json_decref(norm);
    }
    if (err != BF_OK) {
        p->stats.invalid++;
        bf_report_destroy(r);
        return err;
    }
    double deadline = bf_monotonic_s() + p->queue_full_timeout_s;
    for (;;) {
        rd_kafka_resp_err_t kerr =
            rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(p->topic),
                              RD_KAFKA_V_KEY(r->report_id, strlen(r->report_id)),
                              RD_KAFKA_V_VALUE(p->buf.data, p->buf.len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL && bf_monotonic_s() < deadline) {
            rd_kafka_poll(p->rk, 100); /* back-pressure: wait for deliveries */
            continue;
        }
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            err = bf_seterr(BF_ERR_TIMEOUT, errstr, errstr_size,
                            "librdkafka's queue stayed full for %.0f s",
                            p->queue_full_timeout_s);
        else if (kerr)
            err = bf_seterr(BF_ERR_KAFKA, errstr, errstr_size, "kafka: %s",
                            rd_kafka_err2str(kerr));
        break;
    }
    if (err == BF_OK) {
        p->stats.sent++;
        p->stats.bytes += p->buf.len;
    } else {
        p->stats.failed++;
    }
    rd_kafka_poll(p->rk, 0);
    bf_report_destroy(r);
    return err;
}

bf_err_t bf_producer_send_json(bf_producer_t *p, const char *json, size_t len,
                               char *errstr, size_t errstr_size)
{
    if (!p || !json)
        return bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size,
                         "no producer or report");
    if (!len)
        len = strlen(json);
    if (len > BF_REPORT_MAX_ENCODED) {
        p->stats.invalid++;
        return bf_seterr(BF_ERR_TOO_LARGE, errstr, errstr_size,
                         "report of %zu bytes exceeds %d", len, BF_REPORT_MAX_ENCODED);
    }
    json_error_t jerr;
    json_t *obj = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        p->stats.invalid++;
        return bf_seterr(json_error_code(&jerr) == json_error_invalid_utf8 ? BF_ERR_UTF8
                                                                           : BF_ERR_PARSE,
                         errstr, errstr_size, "invalid JSON at column %d: %s",
                         jerr.column, jerr.text);
    }
    bf_err_t err = bf_producer_send_object(p, obj, errstr, errstr_size);
    json_decref(obj);
    return err;
}

int bf_producer_poll(bf_producer_t *p, int timeout_ms)
{
    return p ? rd_kafka_poll(p->rk, timeout_ms) : 0;
}

bf_err_t bf_producer_flush(bf_producer_t *p, int timeout_ms)
{
    if (!p)
        return BF_ERR_INVALID_ARG;
    return rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR
               ? BF_OK
               : BF_ERR_TIMEOUT;
}

void bf_producer_stats(const bf_producer_t *p, bf_producer_stats_t *out)
{
    if (!p || !out)
        return;
    *out = p->stats;
    out->outstanding = p->stats.sent - p->stats.delivered - p->delivery_failed;
}
