/*
 * publish.c - results and dead letters to Kafka, and what Kafka says back
 * (see worker_int.h).
 *
 * The producer is idempotent (acks=all, ordered retries). A record that
 * cannot be queued or delivered is tried again with backoff: its job keeps
 * its offset in flight, so nothing is lost and nothing is committed past
 * it. Only the delivery report's success makes a job done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/backoff.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/worker_int.h"

static void on_publish_retry(uv_timer_t *t)
{
    bf_publish(t->data);
}

/* A dead letter too large for the producer or the broker (an oversize
 * report is the usual reason it is a dead letter at all) would be retried
 * forever and stall its partition. Keep its first DLQ_KEEP_BYTES and say
 * so in a header, once; the source partition/offset headers still point at
 * the whole original. */
#define DLQ_KEEP_BYTES (64 * 1024)

static bool shrink_dead_letter(bf_job_t *j, rd_kafka_resp_err_t err)
{
    if (!j->is_dlq || j->out_len <= DLQ_KEEP_BYTES ||
        err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        return false;
    char num[32];
    snprintf(num, sizeof(num), "%zu", j->out_len);
    rd_kafka_header_add(j->out_headers, "bf.truncated.from", -1, num, -1);
    j->out_len = DLQ_KEEP_BYTES;
    bf_log(BF_LOG_WARN, "worker", "dead_letter_truncated",
           BF_LINT("partition", j->partition), BF_LINT("offset", j->offset),
           BF_LSTR("original_bytes", num));
    return true;
}

/* --once: the result goes to stdout as JSON instead of Kafka. */
static void print_result(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    json_t *obj = NULL;
    char errstr[256];
    if (!j->is_dlq && bf_codec_decode(w->codec, BF_RECORD_VALIDATION, j->out, j->out_len,
                                      &obj, NULL, errstr, sizeof(errstr)) == BF_OK) {
        char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        fflush(stdout);
        free(text);
        w->acked++;
        w->once_status = j->status;
    }
    json_decref(obj);
    uv_stop(&w->loop);
}

void bf_publish(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    if (!j->produced_at) /* the first attempt: retries are delivery's time */
        j->produced_at = bf_monotonic_s();
    if (w->cfg->once_file) {
        print_result(j);
        bf_job_done(j);
        return;
    }
    if (w->cfg->dry_run) {
        bf_job_done(j);
        return;
    }
    const char *key = j->report ? j->report->report_id : NULL;
    size_t key_len = key ? strlen(key) : 0;
    if (!key && j->key) {
        key = j->key;
        key_len = j->key_len;
    }
    rd_kafka_headers_t *hdrs =
        j->out_headers ? rd_kafka_headers_copy(j->out_headers) : NULL;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        w->producer, RD_KAFKA_V_TOPIC(j->publish_topic), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE(j->out, j->out_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(j), RD_KAFKA_V_END);
    if (!err && !j->delivering) {
        /* Kafka has the record: the job waits for the acknowledgement
         * outside the cap, and the next report may start. */
        j->delivering = true;
        w->delivering++;
        bf_series_set(w->tel.awaiting_ack, (double)w->delivering);
        bf_intake_update(w);
    }
    if (err) {
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        if (shrink_dead_letter(j, err)) {
            bf_publish(j);
            return;
        }
        /* Queue full or similar: try again shortly; the job keeps its
         * offset in flight, so nothing is lost. */
        bf_log(BF_LOG_WARN, "worker", "produce_failed",
               BF_LSTR("topic", j->publish_topic),
               BF_LSTR("error", rd_kafka_err2str(err)));
        uv_timer_start(
            &j->timers[BF_JOB_T_PUBLISH], on_publish_retry,
            bf_backoff_ms(&(bf_backoff_t){0.1, 5.0, 1.0}, j->publish_attempts++) + 10, 0);
    }
}

static void on_pub_marked(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    (void)reply;
    (void)opaque;
    if (err)
        bf_log(BF_LOG_DEBUG, "worker", "pub_mark_failed",
               BF_LSTR("error", bf_err_str(err)));
}

/* Delivery report. @locality loop thread (served from the producer queue). */
void bf_publish_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    bf_worker_t *w = opaque;
    bf_job_t *j = m->_private;
    if (!j) { /* a heartbeat */
        if (m->err) {
            bf_log(BF_LOG_WARN, "worker", "heartbeat_failed",
                   BF_LSTR("error", rd_kafka_err2str(m->err)));
        } else {
            w->kafka_down = false;
            bf_series_add(w->tel.heartbeats, 1);
        }
        return;
    }
    if (m->err && shrink_dead_letter(j, m->err)) {
        bf_publish(j);
        return;
    }
    if (m->err) {
        bf_log(BF_LOG_WARN, "worker", "delivery_failed",
               BF_LSTR("topic", j->publish_topic),
               BF_LSTR("error", rd_kafka_err2str(m->err)));
        uv_timer_start(
            &j->timers[BF_JOB_T_PUBLISH], on_publish_retry,
            bf_backoff_ms(&(bf_backoff_t){0.5, 10.0, 1.0}, j->publish_attempts++) + 10,
            0);
        return;
    }
    w->kafka_down = false;
    if (j->is_dlq) {
        w->dlq++;
        bf_series_add(bf_metric_series(w->tel.dlq, j->dlq_reason), 1);
    } else if (j->report) {
        w->acked++;
        if (j->status)
            bf_series_add(bf_metric_series(w->tel.validated, j->status), 1);
        /* Remember that the result is out, so a redelivery does not
         * publish it again. Best effort: losing this costs at most one
         * repeated result record, never an AI call. */
        char *key = bf_asprintf("%spub:%s", w->cfg->key_prefix, j->report->report_id);
        char ttl[32];
        snprintf(ttl, sizeof(ttl), "%lld", (long long)w->cfg->dedup_ttl_s);
        const char *argv[] = {"SET", key, "1", "EX", ttl};
        bf_worker_redis(w, on_pub_marked, NULL, 5, argv, NULL);
        free(key);
    }
    bf_job_done(j);
}

/* ------------------------------------------------------------------ */
/* Dead letters                                                        */
/* ------------------------------------------------------------------ */

/* Send the original bytes and headers to the DLQ with headers naming the
 * error, where the record came from and which worker rejected it. */
void bf_dead_letter(bf_job_t *j, bf_err_t err, const char *reason)
{
    bf_worker_t *w = j->w;
    if (!j->from_kafka) { /* --once: no record to send on; say why and stop */
        fprintf(stderr, "bountyfleet-worker: %s: %s\n", bf_err_name(err), reason);
        uv_stop(&w->loop);
        bf_job_done(j);
        return;
    }
    bf_log(BF_LOG_WARN, "worker", "dead_letter", BF_LINT("partition", j->partition),
           BF_LINT("offset", j->offset), BF_LSTR("error", bf_err_name(err)),
           BF_LSTR("reason", reason));
    rd_kafka_headers_t *h =
        j->headers ? rd_kafka_headers_copy(j->headers) : rd_kafka_headers_new(8);
    char num[32];
    rd_kafka_header_add(h, "bf.error", -1, bf_err_name(err), -1);
    rd_kafka_header_add(h, "bf.reason", -1, reason, -1);
    rd_kafka_header_add(h, "bf.source.topic", -1, w->cfg->topic_reports, -1);
    snprintf(num, sizeof(num), "%d", j->partition);
    rd_kafka_header_add(h, "bf.source.partition", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)j->offset);
    rd_kafka_header_add(h, "bf.source.offset", -1, num, -1);
    rd_kafka_header_add(h, "bf.worker", -1, w->cfg->worker_id, -1);
    j->out_headers = h;
    j->is_dlq = true;
    j->dlq_reason = bf_err_name(err);
    j->publish_topic = w->cfg->topic_dlq;
    j->out = bf_malloc(j->payload_len ? j->payload_len : 1);
    if (j->payload_len)
        memcpy(j->out, j->payload, j->payload_len);
    j->out_len = j->payload_len;
    bf_publish(j);
}
