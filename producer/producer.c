/*
 * producer.c - the report-publishing C API (bountyfleet_producer.h), on
 * which the bountyfleet-producer CLI is built.
 *
 * A report goes: JSON -> bf_report_from_json (required fields, sizes,
 * UTF-8) -> normalised JSON -> codec (schema check, framing) ->
 * rd_kafka_producev keyed by report_id. The Kafka configuration starts
 * from ours (idempotence, which implies acks=all; compression; a short
 * linger to batch) and the caller's properties override it, kcat style.
 *
 * Nothing is dropped over a transient error. A broker that restarts
 * answers metadata requests with UNKNOWN_TOPIC_OR_PART for a few seconds,
 * and a client that refreshes its metadata then sees the topic vanish:
 * librdkafka fails what it holds for it ("Local: Unknown partition",
 * "Local: Unknown topic") and refuses new messages the same way. So each
 * report keeps its encoded bytes until Kafka acknowledges them; a report
 * that fails with a transient error waits in a retry queue (RETRY_BACKOFF:
 * 0.2 s doubling to 5 s) and is produced again, until it is
 * acknowledged or its delivery timeout (delivery_timeout_s, from the
 * first send) runs out, which is the only way it fails: the delivery
 * callback then says why, with the last error and the attempts made.
 * Errors that no retry can cure (too large, not authorised, a fatal
 * idempotence error) fail at once. A report sent again after a timeout
 * may have been written the first time as well (at-least-once): the
 * workers answer such a copy from the stored result, keyed by report_id.
 */
#include "producer/bountyfleet_producer.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/backoff.h"
#include "libbf/buf.h"
#include "libbf/clock.h"
#include "libbf/codec.h"
#include "libbf/config.h"
#include "libbf/kafka.h"
#include "libbf/mem.h"
#include "libbf/registry.h"
#include "libbf/report.h"

/* Room for the framing header on top of the largest report. */
#define ENCODED_MAX (BF_REPORT_MAX_ENCODED + 64)
/* Backoff of a report's retries after a transient error. */
static const bf_backoff_t RETRY_BACKOFF = {.base_s = 0.1, .cap_s = 5.0, .jitter = 0};
/* Reports held at most (sent, not yet acknowledged); a send beyond waits
 * as for a full librdkafka queue. */
#define MAX_PENDING 100000

/* One report from its first send until it is acknowledged or given up.
 * librdkafka is given these bytes without a copy (no MSG_F_COPY) and the
 * report as its message opaque. */
typedef struct pending_s {
    struct pending_s *prev, *next; /* every pending report */
    struct pending_s *next_retry;  /* the retry queue, in due order */
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    double deadline; /* give up after this (bf_monotonic_s) */
    double due;      /* in the retry queue: when to send again */
    int attempts;
    rd_kafka_resp_err_t last_err;
} pending_t;

struct bf_producer_s {
    rd_kafka_t *rk;
    char *topic;
    bf_codec_t *codec;
    bf_registry_t *registry;
    bf_framing_t framing;
    bf_buf_t buf;
    double queue_full_timeout_s;
    double delivery_timeout_s;
    bf_producer_delivery_cb *on_delivery;
    void *opaque;
    bf_producer_stats_t stats;
    uint64_t delivery_failed; /* of the sent ones */
    pending_t *pending;       /* every report not settled yet */
    size_t n_pending;
    pending_t *retry_head, *retry_tail; /* due order: appended with one backoff */
    bool closing;
};

/* Errors no retry can cure: the report, the producer or the account is
 * wrong, or the producer is going away. Everything else (unknown topic or
 * partition, timeouts, brokers down, leader changes) may pass. "Broker
 * handle destroyed" is not among them: librdkafka also says it for a
 * broker it drops while the producer lives (brokers down and back, seen
 * in integration.restarts under ASan); the producer's own going away is
 * p->closing. */
static bool permanent(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        return true;
    default:
        return false;
    }
}

static void pending_free(bf_producer_t *p, pending_t *pd)
{
    if (pd->prev)
        pd->prev->next = pd->next;
    else
        p->pending = pd->next;
    if (pd->next)
        pd->next->prev = pd->prev;
    p->n_pending--;
    free(pd->key);
    free(pd->value);
    free(pd);
}

/* The report is settled: acknowledged (err 0) or given up. */
static void settle(bf_producer_t *p, pending_t *pd, rd_kafka_resp_err_t err)
{
    if (err) {
        p->stats.failed++;
        p->delivery_failed++;
    } else {
        p->stats.delivered++;
    }
    if (p->on_delivery) {
        char id[BF_REPORT_MAX_ID + 1];
        snprintf(id, sizeof(id), "%.*s", (int)pd->key_len, pd->key);
        char reason[256];
        snprintf(reason, sizeof(reason), "%s (%d attempt%s)", rd_kafka_err2str(err),
                 pd->attempts, pd->attempts == 1 ? "" : "s");
        p->on_delivery(p->opaque, id, err ? BF_ERR_KAFKA : BF_OK, err ? reason : NULL);
    }
    pending_free(p, pd);
}

/* Send it again after a backoff, or give up at its deadline. */
static void schedule_retry(bf_producer_t *p, pending_t *pd, rd_kafka_resp_err_t err)
{
    pd->last_err = err;
    double now = bf_monotonic_s();
    if (p->closing || permanent(err) || now >= pd->deadline) {
        settle(p, pd, err);
        return;
    }
    pd->due = now + bf_backoff_s(&RETRY_BACKOFF, (unsigned)pd->attempts);
    if (pd->due > pd->deadline)
        pd->due = pd->deadline;
    /* Keep the queue in due order: one backoff grows with the attempts, so
     * an entry goes before the first that is due later. */
    pending_t **at = &p->retry_head;
    while (*at && (*at)->due <= pd->due)
        at = &(*at)->next_retry;
    pd->next_retry = *at;
    *at = pd;
    if (!pd->next_retry)
        p->retry_tail = pd;
}

/* Hand @p pd to librdkafka once. A transient refusal goes to the retry
 * queue; a full queue is the caller's (it may wait). */
static rd_kafka_resp_err_t produce_once(bf_producer_t *p, pending_t *pd)
{
    pd->attempts++;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY(pd->key, pd->key_len),
        RD_KAFKA_V_VALUE(pd->value, pd->value_len), RD_KAFKA_V_MSGFLAGS(0),
        RD_KAFKA_V_OPAQUE(pd), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        pd->attempts--;
    return err;
}

/* Send again what is due in the retry queue. */
static void serve_retries(bf_producer_t *p)
{
    double now = bf_monotonic_s();
    while (p->retry_head && p->retry_head->due <= now) {
        pending_t *pd = p->retry_head;
        p->retry_head = pd->next_retry;
        if (!p->retry_head)
            p->retry_tail = NULL;
        pd->next_retry = NULL;
        rd_kafka_resp_err_t err = produce_once(p, pd);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* Full again: put it back at the head and stop for now. */
            pd->next_retry = p->retry_head;
            p->retry_head = pd;
            if (!p->retry_tail)
                p->retry_tail = pd;
            return;
        }
        p->stats.retried++;
        if (err)
            schedule_retry(p, pd, err);
    }
}

static void on_kafka_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    bf_producer_t *p = opaque;
    pending_t *pd = m->_private;
    if (!pd)
        return;
    if (m->err)
        schedule_retry(p, pd, m->err);
    else
        settle(p, pd, RD_KAFKA_RESP_ERR_NO_ERROR);
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
    p->delivery_timeout_s = c->delivery_timeout_s > 0 ? c->delivery_timeout_s : 300;
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
    p->closing = true; /* no more retries: what fails now is given up */
    if (p->rk) {
        /* What librdkafka still holds is reported as not delivered (its
         * delivery reports are served here, before the handle goes). */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0);
    }
    while (p->pending) /* the retry queue, and anything purge left */
        settle(p, p->pending,
               p->pending->last_err ? p->pending->last_err : RD_KAFKA_RESP_ERR__DESTROY);
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
    /* Held until settled (see the top of the file). */
    double deadline = bf_monotonic_s() + p->queue_full_timeout_s;
    while (p->n_pending >= MAX_PENDING && bf_monotonic_s() < deadline) {
        rd_kafka_poll(p->rk, 100);
        serve_retries(p);
    }
    if (p->n_pending >= MAX_PENDING) {
        p->stats.failed++;
        bf_report_destroy(r);
        return bf_seterr(BF_ERR_TIMEOUT, errstr, errstr_size,
                         "%d reports stayed unacknowledged for %.0f s", MAX_PENDING,
                         p->queue_full_timeout_s);
    }
    pending_t *pd = bf_calloc(1, sizeof(*pd));
    pd->key_len = strlen(r->report_id);
    pd->key = bf_strndup(r->report_id, pd->key_len);
    pd->value = bf_buf_steal(&p->buf, &pd->value_len);
    pd->deadline = bf_monotonic_s() + p->delivery_timeout_s;
    pd->next = p->pending;
    if (pd->next)
        pd->next->prev = pd;
    p->pending = pd;
    p->n_pending++;
    for (;;) {
        rd_kafka_resp_err_t kerr = produce_once(p, pd);
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL && bf_monotonic_s() < deadline) {
            rd_kafka_poll(p->rk, 100); /* back-pressure: wait for deliveries */
            serve_retries(p);
            continue;
        }
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            err = bf_seterr(BF_ERR_TIMEOUT, errstr, errstr_size,
                            "librdkafka's queue stayed full for %.0f s",
                            p->queue_full_timeout_s);
        } else if (kerr && permanent(kerr)) {
            err = bf_seterr(BF_ERR_KAFKA, errstr, errstr_size, "kafka: %s",
                            rd_kafka_err2str(kerr));
        } else if (kerr) {
            schedule_retry(p, pd, kerr); /* the topic is back soon: taken */
        }
        break;
    }
    if (err == BF_OK) {
        p->stats.sent++;
        p->stats.bytes += pd->value_len;
    } else {
        p->stats.failed++;
        pending_free(p, pd);
    }
    serve_retries(p);
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
    if (!p)
        return 0;
    int n = rd_kafka_poll(p->rk, timeout_ms);
    serve_retries(p);
    return n;
}

bf_err_t bf_producer_flush(bf_producer_t *p, int timeout_ms)
{
    if (!p)
        return BF_ERR_INVALID_ARG;
    double deadline = bf_monotonic_s() + timeout_ms / 1000.0;
    while (p->n_pending > 0) {
        double left = deadline - bf_monotonic_s();
        if (left <= 0)
            return BF_ERR_TIMEOUT;
        rd_kafka_flush(p->rk, (int)(left < 0.1 ? left * 1000 : 100));
        serve_retries(p);
    }
    return BF_OK;
}

void bf_producer_stats(const bf_producer_t *p, bf_producer_stats_t *out)
{
    if (!p || !out)
        return;
    *out = p->stats;
    out->outstanding = p->n_pending;
}
