/*
 * worker.c - the worker's event loop and report pipeline (see worker.h).
 *
 * One libuv loop drives everything; nothing in a callback blocks:
 *  - librdkafka: the consumer queue and the producer's main queue each
 *    write a byte to a pipe when they become non-empty
 *    (rd_kafka_queue_io_event_enable); the loop watches the pipes and
 *    serves the queues without waiting. A 100 ms tick serves them too, so
 *    max.poll.interval.ms is honoured even when no event arrives.
 *  - Redis (hiredis async) and HTTP (curl multi) plug into the same loop.
 *
 * A report (a "job") moves through:
 *   decode -> validate -> claim in Redis -> [AI analyses] -> store result
 *   -> publish -> delivery report -> mark offset done
 * or, when it cannot be decoded or is malformed, to the dead-letter topic.
 *
 * At-least-once: an offset is stored for commit only when every offset
 * before it in its partition is done (offsets.c), and "done" means Kafka
 * acknowledged the result or the dead letter.
 *
 * Bounded: at most max_in_flight jobs; at the cap every assigned partition
 * is paused (we keep polling so the group membership stays alive) and
 * resumed below half the cap.
 */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "libbf/codec.h"
#include "libbf/http.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "libbf/redis.h"
#include "libbf/registry.h"
#include "libbf/report.h"
#include "worker/ai.h"
#include "worker/ai_config.h"
#include "worker/analysis.h"
#include "worker/dedup.h"
#include "worker/neardup.h"
#include "worker/offsets.h"
#include "worker/telemetry.h"

#define MAX_PARTITIONS 4096
#define CONSUME_BATCH  256

typedef struct partition_s {
    bool assigned;
    /* Bumped at every assign and revoke, so a job still running from an
     * earlier assignment never marks offsets in the current tracker. */
    uint32_t epoch;
    bf_offsets_t offsets;
} partition_t;

/* The tick that serves Kafka and measures the loop's lag. */
#define TICK_MS 100
/* librdkafka statistics (broker gauges, request retries) unless -X says
 * otherwise: often enough for a 15 s scrape, and the JSON of one client
 * with a few dozen partitions parses in well under a millisecond. */
#define STATISTICS_INTERVAL_MS "5000"

struct bf_worker_s {
    const bf_worker_config_t *cfg;
    int stream_kind; /* --once: the analysis whose text stderr shows, or -1 */
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick;
    uv_timer_t stats_timer;     /* 1 s: gauges, consumer lag, readiness */
    uv_timer_t heartbeat_timer; /* heartbeat_interval_s */
    double last_tick;
    bf_telemetry_t tel;
    bool fail_open;          /* --redis-mode fail-open */
    bool redis_blocked;      /* fail-closed and Redis unreachable: paused */
    bool ai_blocked;         /* every AI provider unavailable: paused */
    bool registry_blocked;   /* a schema lookup failed transiently: paused */
    bool cap_hit;            /* in flight reached the cap: held, then paused */
    double hold_since;       /* when cap_hit was set */
    uv_timer_t kick;         /* serves the consumer when a hold ends */
    bool kafka_down;         /* librdkafka said all brokers are down */
    double kafka_retries[2]; /* last statistics' txretries: consumer, producer */
    uint64_t redis_connects; /* bf_redis_connects() at the last stats tick */
    size_t low_water;
    int assigned;
    int64_t started_ms;
    double last_heartbeat;
    uint64_t finished_at_last_heartbeat;
    uv_poll_t cons_poll, prod_poll;
    int cons_pipe[2], prod_pipe[2];
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *cons_q, *prod_q;
    bf_redis_t *redis;
    bf_http_t *http;
    bf_codec_t *codec;
    bf_registry_t *registry; /* SCHEMA_REGISTRY_URL, or NULL */
    bf_framing_t framing;
    bf_prompts_t prompts;
    bf_prices_t prices;
    bf_thresholds_t thresholds;
    bf_neardup_params_t neardup;
    bf_ai_t *ai;
    partition_t *partitions; /* indexed by partition number */
    size_t in_flight;
    bool paused;
    bool stopping;
    bool shutdown; /* destroying: callbacks must not start new work */
    bool loop_ready;
    struct job_s *jobs;
    double stop_deadline;
    /* counters for the final log line */
    uint64_t consumed, validated, duplicates, dlq, cached, acked;
};

/* Each job's retry timers (the AI layer keeps its own). */
enum { T_CLAIM = 0, T_PUBLISH = 1, T_DECODE = 2, N_TIMERS = 3 };

typedef struct job_s {
    struct job_s *prev, *next; /* the worker's list of live jobs */
    bf_worker_t *w;
    rd_kafka_message_t *msg; /* the consumed message (owned) */
    int32_t partition;
    uint32_t epoch;
    int64_t offset;
    double started;         /* consumed at (now_s) */
    const char *status;     /* result status once known (static string) */
    const char *dlq_reason; /* bf.error of a dead letter */
    bool dedup_unchecked;   /* fail-open: validated without asking Redis */
    bf_report_t *report;
    bf_ai_input_t *ai_input; /* the report as the AI layer sends it */
    char fingerprint[BF_FINGERPRINT_LEN];
    int claim_attempts;
    int decode_attempts;     /* schema lookups that failed transiently */
    bool near_dup_published; /* the claim's published flag, for a near dup */
    int ai_pending;
    int ok[BF_ANALYSIS__COUNT];
    bf_verdict_t verdicts[BF_ANALYSIS__COUNT];
    char ai_error[BF_ANALYSIS__COUNT][160];
    double ai_seconds[BF_ANALYSIS__COUNT];
    const char *ai_provider[BF_ANALYSIS__COUNT]; /* static name */
    char ai_model[BF_ANALYSIS__COUNT][128];
    double ai_cost[BF_ANALYSIS__COUNT];
    const char *publish_topic;
    char *out; /* encoded record to publish */
    size_t out_len;
    rd_kafka_headers_t *out_headers; /* for dead letters */
    bool is_dlq;
    int publish_attempts;
    uv_timer_t timers[N_TIMERS];
    int open_timers;
} job_t;

static double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

/* ------------------------------------------------------------------ */
/* Job lifetime                                                        */
/* ------------------------------------------------------------------ */

static void on_job_timer_closed(uv_handle_t *h)
{
    job_t *j = h->data;
    if (--j->open_timers == 0)
        free(j);
}

static void job_free(job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        j->w->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    if (j->msg)
        rd_kafka_message_destroy(j->msg);
    bf_report_destroy(j->report);
    bf_ai_input_release(j->ai_input);
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++)
        bf_verdict_clear(&j->verdicts[k]);
    free(j->out);
    if (j->out_headers)
        rd_kafka_headers_destroy(j->out_headers);
    for (int i = 0; i < N_TIMERS; i++)
        uv_close((uv_handle_t *)&j->timers[i], on_job_timer_closed);
}

static void serve_consumer(bf_worker_t *w);

static void set_paused(bf_worker_t *w, bool pause)
{
    if (!w->consumer)
        return;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(w->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(w->consumer, parts)
                                    : rd_kafka_resume_partitions(w->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        bf_log(BF_LOG_WARN, "worker", pause ? "pause_failed" : "resume_failed",
               BF_LSTR("error", rd_kafka_err2str(err)));
        return;
    }
    w->paused = pause;
    bf_log(BF_LOG_DEBUG, "worker", pause ? "paused" : "resumed",
           BF_LINT("in_flight", w->in_flight), BF_LBOOL("stopping", w->stopping),
           BF_LBOOL("redis_blocked", w->redis_blocked),
           BF_LBOOL("ai_blocked", w->ai_blocked),
           BF_LBOOL("registry_blocked", w->registry_blocked),
           BF_LBOOL("cap_hit", w->cap_hit));
}

/* Flow control.
 *
 * At the in-flight cap we first only *hold*: stop taking messages from
 * librdkafka's local queue, which stays bounded by
 * queued.max.messages.kbytes, and take them again at low water. Pausing
 * the partitions at once would be simpler, but librdkafka drops what it
 * has prefetched on a pause and fetches it again on resume, and at a cap
 * of 64 that round trip cut throughput five-fold (BENCHMARKS.md). A hold
 * delays the rebalance events queued behind the messages, so it lasts at
 * most HOLD_S; after that (reports are slow, e.g. providers at seconds of
 * latency) the partitions are paused and we go back to polling, so
 * max.poll.interval.ms never runs out because of our own backlog.
 *
 * Stopping, Redis unreachable in fail-closed mode and every AI provider
 * unavailable (bf_worker_set_ai_unavailable) pause at once. The
 * cap has hysteresis (full at max_in_flight, clear at low_water). */
#define HOLD_S 2.0
/* A schema lookup holds the event loop: connect and whole request. */
#define REGISTRY_LOOKUP_TIMEOUT_S 0.5

static void on_kick(uv_timer_t *t)
{
    serve_consumer(t->data);
}

static void update_pause(bf_worker_t *w)
{
    bool was = w->cap_hit;
    if (w->in_flight >= (size_t)w->cfg->max_in_flight)
        w->cap_hit = true;
    else if (w->in_flight <= w->low_water)
        w->cap_hit = false;
    if (w->cap_hit && !was)
        w->hold_since = now_s();
    if (!w->cap_hit && was && w->kick.loop)
        uv_timer_start(&w->kick, on_kick, 0, 0); /* take held messages now */
    bool want = w->stopping || w->redis_blocked || w->ai_blocked || w->registry_blocked ||
                (w->cap_hit && now_s() - w->hold_since >= HOLD_S);
    if (want != w->paused)
        set_paused(w, want);
}

/* The report is finished (result or dead letter acknowledged, or nothing
 * to publish): move its partition's commit point. */
static void job_done(job_t *j)
{
    bf_worker_t *w = j->w;
    partition_t *p = &w->partitions[j->partition];
    if (p->epoch == j->epoch && bf_offsets_mark_done(&p->offsets, j->offset) &&
        p->assigned && !w->cfg->dry_run) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, w->cfg->topic_reports, j->partition)
            ->offset = bf_offsets_commit_point(&p->offsets);
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(w->consumer, l);
        if (err)
            bf_log(BF_LOG_DEBUG, "worker", "offset_store_failed",
                   BF_LINT("partition", j->partition),
                   BF_LSTR("error", rd_kafka_err2str(err)));
        rd_kafka_topic_partition_list_destroy(l);
    }
    w->in_flight--;
    bf_series_set(w->tel.in_flight, (double)w->in_flight);
    bf_telemetry_report_done(&w->tel, now_s() - j->started);
    update_pause(w);
    job_free(j);
}

/* Every Redis round trip goes through here, so its latency is measured
 * in one place (bountyfleet_redis_request_duration_seconds). */
typedef struct redis_call_s {
    bf_worker_t *w;
    bf_redis_cb *cb;
    void *opaque;
    double started;
} redis_call_t;

static void on_redis_reply(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    redis_call_t *c = opaque;
    if (!c->w->shutdown)
        bf_series_observe(c->w->tel.redis_duration, now_s() - c->started);
    c->cb(r, err, reply, c->opaque);
    free(c);
}

static bf_err_t redis_call(bf_worker_t *w, bf_redis_cb *cb, void *opaque, int argc,
                           const char **argv, const size_t *lens)
{
    redis_call_t *c = bf_malloc(sizeof(*c));
    *c = (redis_call_t){.w = w, .cb = cb, .opaque = opaque, .started = now_s()};
    bf_err_t err = bf_redis_command_argv(w->redis, on_redis_reply, c, argc, argv, lens);
    if (err)
        free(c);
    return err;
}

/* Full-jitter exponential backoff (AWS architecture blog, "Exponential
 * Backoff And Jitter"): uniform in [0, min(cap, base * 2^attempt)]. */
static uint64_t backoff_ms(int attempt, double base_s, double cap_s)
{
    double ceiling = base_s * pow(2.0, attempt);
    if (ceiling > cap_s)
        ceiling = cap_s;
    return (uint64_t)(ceiling * 1000.0 * ((double)rand() / RAND_MAX));
}

/* ------------------------------------------------------------------ */
/* Publishing                                                          */
/* ------------------------------------------------------------------ */

static void publish(job_t *j);

static void on_publish_retry(uv_timer_t *t)
{
    publish(t->data);
}

/* A dead letter too large for the producer or the broker (an oversize
 * report is the usual reason it is a dead letter at all) would be retried
 * forever and stall its partition. Keep its first DLQ_KEEP_BYTES and say
 * so in a header, once; the source partition/offset headers still point at
 * the whole original. */
#define DLQ_KEEP_BYTES (64 * 1024)

static bool shrink_dead_letter(job_t *j, rd_kafka_resp_err_t err)
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
static void print_result(job_t *j)
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
    }
    json_decref(obj);
    uv_stop(&w->loop);
}

static void publish(job_t *j)
{
    bf_worker_t *w = j->w;
    if (w->cfg->once_file) {
        print_result(j);
        job_done(j);
        return;
    }
    if (w->cfg->dry_run) {
        job_done(j);
        return;
    }
    const char *key = j->report ? j->report->report_id : NULL;
    size_t key_len = key ? strlen(key) : 0;
    if (!key && j->msg->key) {
        key = j->msg->key;
        key_len = j->msg->key_len;
    }
    rd_kafka_headers_t *hdrs =
        j->out_headers ? rd_kafka_headers_copy(j->out_headers) : NULL;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        w->producer, RD_KAFKA_V_TOPIC(j->publish_topic), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE(j->out, j->out_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(j), RD_KAFKA_V_END);
    if (err) {
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        if (shrink_dead_letter(j, err)) {
            publish(j);
            return;
        }
        /* Queue full or similar: try again shortly; the job keeps its
         * offset in flight, so nothing is lost. */
        bf_log(BF_LOG_WARN, "worker", "produce_failed",
               BF_LSTR("topic", j->publish_topic),
               BF_LSTR("error", rd_kafka_err2str(err)));
        uv_timer_start(&j->timers[T_PUBLISH], on_publish_retry,
                       backoff_ms(j->publish_attempts++, 0.1, 5.0) + 10, 0);
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
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    bf_worker_t *w = opaque;
    job_t *j = m->_private;
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
        publish(j);
        return;
    }
    if (m->err) {
        bf_log(BF_LOG_WARN, "worker", "delivery_failed",
               BF_LSTR("topic", j->publish_topic),
               BF_LSTR("error", rd_kafka_err2str(m->err)));
        uv_timer_start(&j->timers[T_PUBLISH], on_publish_retry,
                       backoff_ms(j->publish_attempts++, 0.5, 10.0) + 10, 0);
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
        redis_call(w, on_pub_marked, NULL, 5, argv, NULL);
        free(key);
    }
    job_done(j);
}

/* ------------------------------------------------------------------ */
/* Dead letters                                                        */
/* ------------------------------------------------------------------ */

/* Send the original bytes and headers to the DLQ with headers naming the
 * error, where the record came from and which worker rejected it. */
static void dead_letter(job_t *j, bf_err_t err, const char *reason)
{
    bf_worker_t *w = j->w;
    bf_log(BF_LOG_WARN, "worker", "dead_letter", BF_LINT("partition", j->partition),
           BF_LINT("offset", j->offset), BF_LSTR("error", bf_err_name(err)),
           BF_LSTR("reason", reason));
    rd_kafka_headers_t *orig = NULL;
    rd_kafka_headers_t *h =
        rd_kafka_message_headers(j->msg, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR
            ? rd_kafka_headers_copy(orig)
            : rd_kafka_headers_new(8);
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
    j->out = bf_malloc(j->msg->len ? j->msg->len : 1);
    if (j->msg->len)
        memcpy(j->out, j->msg->payload, j->msg->len);
    j->out_len = j->msg->len;
    publish(j);
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

/* The status as one of the schema's symbols, as a static string (for the
 * metric label), or NULL when it is none of them. */
static const char *status_symbol(const char *status)
{
    static const char *const symbols[] = {"VALID", "INVALID", "DUPLICATE",
                                          "NEEDS_REVIEW"};
    for (size_t i = 0; status && i < sizeof(symbols) / sizeof(symbols[0]); i++)
        if (strcmp(status, symbols[i]) == 0)
            return symbols[i];
    return NULL;
}

static json_t *result_base(job_t *j, const char *status)
{
    bf_worker_t *w = j->w;
    j->status = status_symbol(status);
    return json_pack(
        "{s:s, s:s, s:n, s:n, s:f, s:f, s:n, s:f, s:[], s:[], s:f, s:s, s:I, s:s}",
        "report_id", j->report->report_id, "status", status, "duplicate_of",
        "duplicate_similarity", "quality", 0.0, "plausibility", 0.0, "severity",
        "confidence", 0.0, "reasons", "analyses", "total_cost_usd", 0.0, "worker_id",
        w->cfg->worker_id, "validated_at", (json_int_t)bf_time_now_ms(), "prompt_version",
        w->prompts.version);
}

/* Encode @p result into j->out for the validations topic. Takes the
 * reference. */
static bf_err_t encode_result(job_t *j, json_t *result)
{
    bf_worker_t *w = j->w;
    bf_buf_t b;
    bf_buf_init(&b, 4 * 1024 * 1024);
    char errstr[256];
    bf_err_t err = bf_codec_encode(w->codec, BF_RECORD_VALIDATION, result, w->framing, &b,
                                   errstr, sizeof(errstr));
    json_decref(result);
    if (err) {
        /* Our own record does not fit our own schema: a bug, not the
         * report's fault. Log loudly and send the report to review via
         * the DLQ rather than lose it. */
        bf_log(BF_LOG_ERROR, "worker", "result_encode_failed", BF_LSTR("error", errstr));
        bf_buf_free(&b);
        return err;
    }
    free(j->out);
    j->out = bf_buf_steal(&b, &j->out_len);
    j->publish_topic = w->cfg->topic_validations;
    return BF_OK;
}

static void publish_result(job_t *j, json_t *result)
{
    bf_err_t err = encode_result(j, result);
    if (err) {
        dead_letter(j, err, "result could not be encoded");
        return;
    }
    publish(j);
}

static void publish_duplicate(job_t *j, const char *original, double similarity,
                              bool published)
{
    j->w->duplicates++;
    if (published) {
        job_done(j);
        return;
    }
    json_t *res = result_base(j, "DUPLICATE");
    json_object_set_new(res, "duplicate_of", json_string(original));
    json_object_set_new(res, "duplicate_similarity", json_real(similarity));
    json_object_set_new(res, "confidence", json_real(similarity));
    json_array_append_new(
        json_object_get(res, "reasons"),
        json_string(similarity >= 1.0
                        ? "same normalised content as an earlier report"
                        : "near duplicate: similar text about the same asset as an "
                          "earlier report"));
    publish_result(j, res);
}

static void on_result_stored(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    (void)reply;
    job_t *j = opaque;
    if (j->w->shutdown)
        return;
    if (err)
        bf_log(BF_LOG_WARN, "worker", "result_store_failed",
               BF_LSTR("report_id", j->report->report_id),
               BF_LSTR("error", bf_err_str(err)));
    publish(j);
}

/* All analyses settled: combine, store the result (so a redelivery never
 * pays again), then publish. */
static void finish_analyses(job_t *j)
{
    bf_worker_t *w = j->w;
    const char *status;
    double confidence;
    json_t *reasons;
    bf_analysis_combine(j->verdicts, j->ok, &w->thresholds, &status, &confidence,
                        &reasons);
    json_t *res = result_base(j, status);
    json_object_set_new(res, "confidence", json_real(confidence));
    if (j->dedup_unchecked)
        json_array_append_new(reasons, json_string("dedup_unchecked"));
    json_object_set_new(res, "reasons", reasons);
    if (j->ok[BF_ANALYSIS_QUALITY])
        json_object_set_new(res, "quality",
                            json_real(j->verdicts[BF_ANALYSIS_QUALITY].score));
    if (j->ok[BF_ANALYSIS_PLAUSIBILITY])
        json_object_set_new(res, "plausibility",
                            json_real(j->verdicts[BF_ANALYSIS_PLAUSIBILITY].score));
    if (j->ok[BF_ANALYSIS_SEVERITY])
        json_object_set_new(res, "severity",
                            json_string(j->verdicts[BF_ANALYSIS_SEVERITY].severity));
    json_t *analyses = json_object_get(res, "analyses");
    double total = 0;
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
        const bf_verdict_t *v = &j->verdicts[k];
        double cost = j->ai_cost[k];
        total += cost;
        json_array_append_new(
            analyses,
            json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:f, s:f, s:o}", "kind",
                      bf_analysis_kind_symbol((bf_analysis_kind_t)k), "provider",
                      j->ai_provider[k] ? j->ai_provider[k] : "", "model", j->ai_model[k],
                      "score", j->ok[k] ? v->score : 0.0, "tokens_in",
                      (json_int_t)v->tokens_in, "tokens_out", (json_int_t)v->tokens_out,
                      "cost_usd", cost, "latency_seconds", j->ai_seconds[k], "error",
                      j->ok[k] ? json_null() : json_string(j->ai_error[k])));
    }
    json_object_set_new(res, "total_cost_usd", json_real(total));
    if (encode_result(j, res) != BF_OK) {
        dead_letter(j, BF_ERR_SCHEMA, "result could not be encoded");
        return;
    }
    w->validated++;
    if (w->cfg->dry_run || w->cfg->once_file) {
        publish(j);
        return;
    }
    char *rkey = bf_asprintf("%sresult:%s", w->cfg->key_prefix, j->report->report_id);
    char *lkey = bf_asprintf("%slease:%s", w->cfg->key_prefix, j->report->report_id);
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)w->cfg->dedup_ttl_s);
    /* One round trip: store the result and release the lease. */
    static const char script[] = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
                                 "redis.call('DEL', KEYS[2])\nreturn 1\n";
    const char *argv[] = {"EVAL", script, "2", rkey, lkey, j->out, ttl};
    size_t lens[] = {4,          sizeof(script) - 1, 1, strlen(rkey), strlen(lkey),
                     j->out_len, strlen(ttl)};
    if (redis_call(w, on_result_stored, j, 7, argv, lens) != BF_OK) {
        bf_log(BF_LOG_WARN, "worker", "result_store_failed",
               BF_LSTR("report_id", j->report->report_id),
               BF_LSTR("error", "not connected"));
        publish(j);
    }
    free(rkey);
    free(lkey);
}

/* ------------------------------------------------------------------ */
/* AI analyses                                                         */
/* ------------------------------------------------------------------ */

typedef struct ai_call_s {
    job_t *job;
    int kind;
} ai_call_t;

/* One analysis settled (ai.h): keep the verdict, or why it failed. A
 * fallback that succeeded is kept as a reason of the result. */
static void on_ai_result(const bf_ai_result_t *r, void *opaque)
{
    ai_call_t *call = opaque;
    job_t *j = call->job;
    int k = call->kind;
    free(call);
    if (j->w->shutdown)
        return;
    j->ai_seconds[k] = r->seconds;
    j->ai_provider[k] = r->provider;
    snprintf(j->ai_model[k], sizeof(j->ai_model[k]), "%s", r->model);
    j->ai_cost[k] = r->cost_usd;
    if (r->err == BF_OK) {
        j->verdicts[k] = *r->verdict;
        memset(r->verdict, 0, sizeof(*r->verdict));
        j->ok[k] = 1;
        if (r->fallback) {
            char *why = bf_asprintf("fallback: %s", r->fallback);
            json_array_append_new(j->verdicts[k].reasons, json_string(why));
            free(why);
        }
    } else {
        snprintf(j->ai_error[k], sizeof(j->ai_error[k]), "%s", r->error);
        bf_log(BF_LOG_WARN, "worker", "analysis_failed",
               BF_LSTR("report_id", j->report->report_id),
               BF_LSTR("kind", bf_analysis_kind_name((bf_analysis_kind_t)k)),
               BF_LINT("attempts", r->attempts), BF_LSTR("error", j->ai_error[k]));
    }
    if (--j->ai_pending == 0)
        finish_analyses(j);
}

static void start_analyses(job_t *j)
{
    bf_worker_t *w = j->w;
    double deadline = w->cfg->ai_deadline_s > 0 ? now_s() + w->cfg->ai_deadline_s : 0;
    j->ai_pending = BF_ANALYSIS__COUNT;
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
        ai_call_t *call = bf_malloc(sizeof(*call));
        call->job = j;
        call->kind = k;
        bf_ai_analyse(w->ai, (bf_analysis_kind_t)k, j->ai_input, deadline, on_ai_result,
                      call);
    }
}

/* ------------------------------------------------------------------ */
/* Deduplication claim                                                 */
/* ------------------------------------------------------------------ */

static void claim(job_t *j);

static void on_claim_retry(uv_timer_t *t)
{
    claim(t->data);
}

static void retry_claim(job_t *j, double cap_s)
{
    uv_timer_start(&j->timers[T_CLAIM], on_claim_retry,
                   backoff_ms(j->claim_attempts++, 0.2, cap_s) + 50, 0);
}

/* Redis could not answer the claim for this report (down, slow past
 * --redis-timeout, or an error reply). fail-closed: the report waits, its
 * offset uncommitted, and fetching pauses until Redis is back. fail-open:
 * validate it anyway and say so in its reasons. */
static void claim_unavailable(job_t *j, const char *why)
{
    bf_worker_t *w = j->w;
    if (w->fail_open) {
        j->dedup_unchecked = true;
        bf_log(BF_LOG_DEBUG, "worker", "dedup_skipped",
               BF_LSTR("report_id", j->report->report_id), BF_LSTR("error", why));
        start_analyses(j);
        return;
    }
    if (!w->redis_blocked) {
        bf_log(BF_LOG_WARN, "worker", "redis_unavailable_pausing", BF_LSTR("error", why),
               BF_LINT("in_flight", w->in_flight));
        bf_series_add(bf_metric_series(w->tel.pauses, "redis"), 1);
        w->redis_blocked = true;
        update_pause(w);
    }
    retry_claim(j, 5.0);
}

/* Near duplicates, once the exact claim is ours: a hit is answered like an
 * exact duplicate, with the estimated similarity and no AI spend; a Redis
 * failure retries the whole claim (the same worker re-claims its lease). */
static void on_near_duplicate(bf_err_t err, const bf_neardup_answer_t *answer,
                              void *opaque)
{
    job_t *j = opaque;
    if (j->w->shutdown)
        return;
    if (err) {
        bf_log(BF_LOG_WARN, "worker", "near_dup_check_failed",
               BF_LSTR("report_id", j->report->report_id),
               BF_LSTR("error", bf_err_str(err)));
        claim_unavailable(j, bf_err_str(err));
    } else if (answer->duplicate) {
        publish_duplicate(j, answer->original, answer->similarity, j->near_dup_published);
    } else {
        start_analyses(j);
    }
}

static void check_near_duplicate(job_t *j, bool published)
{
    bf_worker_t *w = j->w;
    j->near_dup_published = published;
    /* A dry run leaves nothing in Redis, and the check registers the
     * report's signature: skip it. */
    if (w->neardup.threshold <= 0 || w->cfg->dry_run) {
        start_analyses(j);
        return;
    }
    if (bf_neardup_check(w->redis, &w->neardup, w->cfg->key_prefix, w->cfg->dedup_ttl_s,
                         j->report, on_near_duplicate, j) != BF_OK)
        claim_unavailable(j, "not connected");
}

static void on_claim(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    job_t *j = opaque;
    bf_worker_t *w = j->w;
    if (w->shutdown)
        return;
    if (err || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        const char *why =
            reply && reply->type == REDIS_REPLY_ERROR ? reply->str : bf_err_str(err);
        bf_log(BF_LOG_DEBUG, "worker", "claim_failed",
               BF_LSTR("report_id", j->report->report_id), BF_LSTR("error", why));
        claim_unavailable(j, why);
        return;
    }
    if (w->redis_blocked) {
        w->redis_blocked = false;
        bf_log(BF_LOG_INFO, "worker", "redis_back");
        update_pause(w);
    }
    const char *state = reply->element[0]->str;
    redisReply *value = reply->element[1];
    bool published =
        reply->element[2]->type == REDIS_REPLY_INTEGER && reply->element[2]->integer;
    if (strcmp(state, "cached") == 0 && value->type == REDIS_REPLY_STRING) {
        w->cached++;
        json_t *obj = NULL;
        char errstr[128];
        if (bf_codec_decode(w->codec, BF_RECORD_VALIDATION, value->str, value->len, &obj,
                            NULL, errstr, sizeof(errstr)) == BF_OK)
            j->status = status_symbol(json_string_value(json_object_get(obj, "status")));
        json_decref(obj);
        if (published) {
            job_done(j);
            return;
        }
        free(j->out);
        j->out = bf_malloc(value->len ? value->len : 1);
        memcpy(j->out, value->str, value->len);
        j->out_len = value->len;
        j->publish_topic = w->cfg->topic_validations;
        publish(j);
    } else if (strcmp(state, "duplicate") == 0 && value->type == REDIS_REPLY_STRING) {
        publish_duplicate(j, value->str, 1.0, published);
    } else if (strcmp(state, "busy") == 0) {
        /* Another worker is analysing this very report (a rebalance moved
         * it while in flight): wait for its result rather than pay twice. */
        retry_claim(j, 2.0);
    } else if (strcmp(state, "claimed") == 0) {
        check_near_duplicate(j, published);
    } else {
        bf_log(BF_LOG_ERROR, "worker", "claim_unexpected_reply", BF_LSTR("state", state));
        retry_claim(j, 5.0);
    }
}

static void claim(job_t *j)
{
    bf_worker_t *w = j->w;
    const char *pfx = w->cfg->key_prefix;
    const char *id = j->report->report_id;
    char *k_fp = bf_asprintf("%sfp:%s", pfx, j->fingerprint);
    char *k_res = bf_asprintf("%sresult:%s", pfx, id);
    char *k_lease = bf_asprintf("%slease:%s", pfx, id);
    char *k_pub = bf_asprintf("%spub:%s", pfx, id);
    char ttl[32], lease[32];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)w->cfg->dedup_ttl_s);
    snprintf(lease, sizeof(lease), "%lld", (long long)(w->cfg->lease_s * 1000));
    const char *script = w->cfg->dry_run ? bf_dedup_peek_script : bf_dedup_claim_script;
    const char *argv[] = {
        "EVAL", script, "4", k_fp, k_res, k_lease, k_pub, id, w->cfg->worker_id,
        ttl,    lease};
    bf_err_t err = redis_call(w, on_claim, j, 11, argv, NULL);
    free(k_fp);
    free(k_res);
    free(k_lease);
    free(k_pub);
    if (err)
        claim_unavailable(j, "not connected");
}

/* ------------------------------------------------------------------ */
/* Consuming                                                           */
/* ------------------------------------------------------------------ */

/* A Confluent id the worker has not seen is looked up in the Schema
 * Registry during the decode (a blocking request, bounded by
 * REGISTRY_LOOKUP_TIMEOUT_S). A registry that cannot answer now (down,
 * timing out, 5xx, 429) is not the report's fault: the report waits, its
 * offset uncommitted, fetching pauses, and the decode is retried with
 * backoff; the first lookup that gets an answer resumes fetching. Only a
 * definitive answer (the id is unknown) makes a dead letter. */
static void decode_report(job_t *j);

static void on_decode_retry(uv_timer_t *t)
{
    decode_report(t->data);
}

static void registry_answered(bf_worker_t *w)
{
    if (!w->registry_blocked)
        return;
    w->registry_blocked = false;
    bf_log(BF_LOG_INFO, "worker", "schema_registry_back");
    update_pause(w);
}

static void decode_report(job_t *j)
{
    bf_worker_t *w = j->w;
    rd_kafka_message_t *m = j->msg;
    char errstr[256] = "";
    if (m->len > BF_REPORT_MAX_ENCODED) {
        snprintf(errstr, sizeof(errstr), "record is %zu bytes, more than %d", m->len,
                 BF_REPORT_MAX_ENCODED);
        dead_letter(j, BF_ERR_TOO_LARGE, errstr);
        return;
    }
    json_t *obj = NULL;
    uint64_t asked = w->registry ? bf_registry_requests(w->registry) : 0;
    bf_err_t err = bf_codec_decode(w->codec, BF_RECORD_REPORT, m->payload, m->len, &obj,
                                   NULL, errstr, sizeof(errstr));
    if ((err == BF_ERR_HTTP || err == BF_ERR_TIMEOUT) &&
        bf_registry_failed_transiently(w->registry)) {
        bf_series_add(w->tel.registry_retries, 1);
        if (!w->registry_blocked) {
            bf_log(BF_LOG_WARN, "worker", "schema_registry_unavailable_pausing",
                   BF_LINT("partition", j->partition), BF_LINT("offset", j->offset),
                   BF_LSTR("error", errstr));
            bf_series_add(bf_metric_series(w->tel.pauses, "schema_registry"), 1);
            w->registry_blocked = true;
            update_pause(w);
        }
        uv_timer_start(&j->timers[T_DECODE], on_decode_retry,
                       backoff_ms(j->decode_attempts++, 0.5, 30.0) + 100, 0);
        return;
    }
    /* A request that got an answer (the schema, or a definitive "no"). */
    if (w->registry && bf_registry_requests(w->registry) != asked)
        registry_answered(w);
    if (err == BF_OK)
        err = bf_report_from_json(obj, &j->report, errstr, sizeof(errstr));
    json_decref(obj);
    if (err) {
        dead_letter(j, err, errstr);
        return;
    }
    j->ai_input = bf_ai_input_from_report(j->report);
    bf_dedup_fingerprint(j->report, j->fingerprint);
    claim(j);
}

static void handle_message(bf_worker_t *w, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            bf_log(BF_LOG_WARN, "worker", "consume_error",
                   BF_LSTR("error", rd_kafka_message_errstr(m)));
        rd_kafka_message_destroy(m);
        return;
    }
    if (m->partition < 0 || m->partition >= MAX_PARTITIONS) {
        bf_log(BF_LOG_ERROR, "worker", "partition_out_of_range",
               BF_LINT("partition", m->partition));
        rd_kafka_message_destroy(m);
        return;
    }
    w->consumed++;
    w->kafka_down = false;
    bf_series_add(w->tel.consumed, 1);
    job_t *j = bf_calloc(1, sizeof(*j));
    j->w = w;
    j->msg = m;
    j->partition = m->partition;
    j->epoch = w->partitions[m->partition].epoch;
    j->offset = m->offset;
    j->started = now_s();
    for (int i = 0; i < N_TIMERS; i++) {
        uv_timer_init(&w->loop, &j->timers[i]);
        j->timers[i].data = j;
    }
    j->open_timers = N_TIMERS;
    j->next = w->jobs;
    if (j->next)
        j->next->prev = j;
    w->jobs = j;
    bf_offsets_add(&w->partitions[m->partition].offsets, m->offset);
    w->in_flight++;
    bf_series_set(w->tel.in_flight, (double)w->in_flight);
    update_pause(w);

    decode_report(j);
}

static void serve_consumer(bf_worker_t *w)
{
    for (int i = 0; i < CONSUME_BATCH; i++) {
        if (w->cap_hit && !w->paused)
            return; /* holding (see update_pause) */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 0);
        if (!m)
            return;
        handle_message(w, m);
    }
    /* More may be waiting; the tick (or the next io event) serves them. */
}

static void drain_pipe(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static void on_cons_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    bf_worker_t *w = h->data;
    drain_pipe(w->cons_pipe[0]);
    serve_consumer(w);
}

static void on_prod_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    bf_worker_t *w = h->data;
    drain_pipe(w->prod_pipe[0]);
    rd_kafka_poll(w->producer, 0);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
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
    rd_kafka_topic_partition_list_t *done = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= MAX_PARTITIONS)
            continue;
        partition_t *part = &w->partitions[p];
        int64_t point = bf_offsets_commit_point(&part->offsets);
        if (!assign && part->assigned && point >= 0 && !w->cfg->dry_run)
            rd_kafka_topic_partition_list_add(done, parts->elems[i].topic, p)->offset =
                point;
        if (assign != part->assigned)
            w->assigned += assign ? 1 : -1;
        part->assigned = assign;
        part->epoch++;
        bf_offsets_free(&part->offsets); /* fresh start either way */
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
    /* librdkafka keeps a partition's pause flag across a revoke and a later
     * assignment of the same partition (librdkafka issue #1849): one that
     * was paused when the group took it away (a session timeout while we
     * were at the in-flight cap) would come back paused, and set_paused()
     * resumes only what is assigned at the time, so it would never fetch
     * again. Give every newly assigned partition our current state. */
    if (assign) {
        rd_kafka_resp_err_t perr = w->paused ? rd_kafka_pause_partitions(rk, parts)
                                             : rd_kafka_resume_partitions(rk, parts);
        if (perr)
            bf_log(BF_LOG_WARN, "worker", w->paused ? "pause_failed" : "resume_failed",
                   BF_LSTR("error", rd_kafka_err2str(perr)));
    }
}

/* ------------------------------------------------------------------ */
/* Telemetry: gauges, readiness, heartbeats                            */
/* ------------------------------------------------------------------ */

static const char *client_name(const bf_worker_t *w, const rd_kafka_t *rk)
{
    return rk == w->producer ? "producer" : "consumer";
}

/* librdkafka's error callback. @locality loop thread (served from the
 * queues we poll). Every error is counted by name (a broker going away is
 * _TRANSPORT); only "all brokers down" changes what we report; the text is
 * logged by librdkafka's own log callback. */
static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
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
static int on_kafka_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    bf_worker_t *w = opaque;
    json_t *root = json_loadb(json, json_len, 0, NULL);
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
static void on_offset_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
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
        if (pos < 0 && tp->partition < MAX_PARTITIONS)
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

static void on_stats(uv_timer_t *t)
{
    bf_worker_t *w = t->data;
    bool redis_up = bf_redis_connected(w->redis);
    bf_series_set(w->tel.redis_up, redis_up ? 1 : 0);
    uint64_t connects = bf_redis_connects(w->redis);
    if (connects > w->redis_connects && w->redis_connects > 0)
        bf_series_add(w->tel.redis_reconnects, (double)(connects - w->redis_connects));
    if (connects > 0)
        w->redis_connects = connects;
    bf_series_set(w->tel.partitions, w->assigned);
    bf_series_set(w->tel.paused, w->paused || w->cap_hit ? 1 : 0); /* a hold too */
    update_consumer_lag(w);
    /* Every provider's circuit open: stop fetching rather than burn
     * reports; resume once a breaker lets probes through again. */
    bf_worker_set_ai_unavailable(w, w->ai && !bf_ai_available(w->ai));
    /* fail-closed: Redis is connected again; let the waiting claims find
     * out whether it answers (the next failure pauses us again). */
    if (w->redis_blocked && redis_up) {
        w->redis_blocked = false;
        update_pause(w);
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
static void send_heartbeat(bf_worker_t *w)
{
    double now = now_s();
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
    json_t *hb = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:i, s:i, s:f, s:f, "
        "s:I, s:i, s:b}",
        "worker_id", w->cfg->worker_id, "sent_at", (json_int_t)bf_time_now_ms(),
        "started_at", (json_int_t)w->started_ms, "reports_consumed",
        (json_int_t)w->consumed, "reports_validated", (json_int_t)w->acked,
        "reports_duplicate", (json_int_t)w->duplicates, "reports_dlq", (json_int_t)w->dlq,
        "reports_per_second", rate, "latency_p50_seconds", lat[0], "latency_p95_seconds",
        lat[1], "latency_p99_seconds", lat[2], "in_flight_reports", (int)w->in_flight,
        "in_flight_ai_calls", (int)bf_ai_pending(w->ai), "ai_cost_usd",
        bf_ai_cost_total(w->ai), "cpu_seconds", cpu, "rss_bytes", (json_int_t)rss,
        "assigned_partitions", w->assigned, "paused", w->paused || w->cap_hit);
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

static void on_heartbeat(uv_timer_t *t)
{
    send_heartbeat(t->data);
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

static void begin_stop(bf_worker_t *w, const char *why)
{
    if (w->stopping)
        return;
    w->stopping = true;
    w->stop_deadline = now_s() + w->cfg->drain_timeout_s;
    bf_log(BF_LOG_INFO, "worker", "stopping", BF_LSTR("signal", why),
           BF_LINT("in_flight", w->in_flight),
           BF_LDBL("drain_timeout_s", w->cfg->drain_timeout_s));
    /* Stop fetching: nothing new starts, what is in flight finishes. */
    update_pause(w);
    bf_telemetry_set_ready(&w->tel, false, "stopping");
}

static void on_signal(uv_signal_t *s, int signum)
{
    bf_worker_t *w = s->data;
    if (w->cfg->once_file) {
        uv_stop(&w->loop);
        return;
    }
    begin_stop(s->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Close a worker handle if it was ever initialised (the worker struct is
 * zeroed, so an unused handle has no loop) and is not closing already. */
static void close_handle(void *handle)
{
    uv_handle_t *h = handle;
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_all(bf_worker_t *w)
{
    close_handle(&w->tick);
    close_handle(&w->stats_timer);
    close_handle(&w->kick);
    close_handle(&w->heartbeat_timer);
    close_handle(&w->cons_poll);
    close_handle(&w->prod_poll);
    close_handle(&w->sigterm);
    close_handle(&w->sigint);
    bf_redis_destroy(w->redis);
    w->redis = NULL;
    bf_http_destroy(w->http); /* in-flight AI calls settle with BF_ERR_STATE */
    w->http = NULL;
    bf_ai_destroy(w->ai);
    w->ai = NULL;
}

static void on_tick(uv_timer_t *t)
{
    bf_worker_t *w = t->data;
    /* Loop lag: how much later than its period this repeating timer
     * fires. Anything that blocks the loop shows up here. */
    double now = now_s();
    if (w->last_tick > 0) {
        double late = now - w->last_tick - TICK_MS / 1000.0;
        bf_series_observe(w->tel.loop_lag, late > 0 ? late : 0);
    }
    w->last_tick = now;
    update_pause(w); /* a hold that lasted HOLD_S becomes a pause */
    serve_consumer(w);
    rd_kafka_poll(w->producer, 0);
    if (!w->stopping)
        return;
    if (w->in_flight == 0 || now_s() > w->stop_deadline) {
        if (w->in_flight)
            bf_log(BF_LOG_WARN, "worker", "drain_timeout",
                   BF_LINT("abandoned", w->in_flight));
        uv_stop(&w->loop);
    }
}

/* The loop and the signal handles every mode needs. */
static void init_loop(bf_worker_t *w)
{
    uv_loop_init(&w->loop);
    w->loop_ready = true;
    uv_signal_init(&w->loop, &w->sigterm);
    w->sigterm.data = w;
    uv_signal_init(&w->loop, &w->sigint);
    w->sigint.data = w;
}

/* Connections to the providers: the three analyses of every report in
 * flight run at once, so by default three per report. */
static int64_t http_connections(const bf_worker_config_t *cfg)
{
    return cfg->max_connections > 0 ? cfg->max_connections : 3 * cfg->max_in_flight;
}

/* --once: the model's text on stderr as it streams in; a "[kind] " line
 * starts whenever the text of another analysis arrives. */
static void on_stream_text(bf_analysis_kind_t kind, const char *text, size_t len,
                           void *opaque)
{
    bf_worker_t *w = opaque;
    if (w->stream_kind != (int)kind)
        fprintf(stderr, "%s[%s] ", w->stream_kind < 0 ? "" : "\n",
                bf_analysis_kind_name(kind));
    w->stream_kind = (int)kind;
    fwrite(text, 1, len, stderr);
    fflush(stderr);
}

/* The AI layer (ai.h): the provider chain, limits, breakers, the response
 * cache in Redis when @p cache is given (not in a dry run or --once, which
 * write nothing) and its bountyfleet_ai_* metrics in the worker's registry. */
static bf_err_t start_ai(bf_worker_t *w, bf_redis_t *cache, char *errstr,
                         size_t errstr_size)
{
    const bf_worker_config_t *cfg = w->cfg;
    bf_ai_config_t acfg;
    bf_err_t err = bf_worker_ai_config(cfg, &w->prompts, &w->prices, w->tel.registry,
                                       &acfg, errstr, errstr_size);
    if (err)
        return err;
    acfg.cache = cache;
    acfg.cache_prefix = cfg->key_prefix;
    acfg.cache_ttl_s = (double)cfg->dedup_ttl_s;
    acfg.stream = cfg->once_file && !cfg->no_stream;
    acfg.on_text = on_stream_text;
    acfg.text_opaque = w;
    w->stream_kind = -1;
    if (!(w->ai = bf_ai_new(&w->loop, w->http, &acfg, errstr, errstr_size)))
        return BF_ERR_CONFIG;
    return BF_OK;
}

bf_worker_t *bf_worker_new(const bf_worker_config_t *cfg, const bf_kprops_t *props,
                           char *errstr, size_t errstr_size)
{
    bf_worker_t *w = bf_calloc(1, sizeof(*w));
    w->cfg = cfg;
    bf_telemetry_init(&w->tel, "bountyfleet-worker");
    w->started_ms = bf_time_now_ms();
    w->low_water =
        cfg->low_water > 0 ? (size_t)cfg->low_water : (size_t)cfg->max_in_flight / 2;
    if (w->low_water >= (size_t)cfg->max_in_flight)
        w->low_water = (size_t)cfg->max_in_flight - 1;
    w->cons_pipe[0] = w->cons_pipe[1] = w->prod_pipe[0] = w->prod_pipe[1] = -1;
    w->partitions = bf_calloc(MAX_PARTITIONS, sizeof(*w->partitions));
    for (int i = 0; i < MAX_PARTITIONS; i++)
        bf_offsets_init(&w->partitions[i].offsets);
    w->thresholds.min_quality = cfg->min_quality;
    w->thresholds.min_plausibility = cfg->min_plausibility;
    double near_dup_threshold = 0;
    if (bf_neardup_threshold_parse(cfg->near_dup_threshold, &near_dup_threshold, errstr,
                                   errstr_size) != BF_OK)
        goto fail;
    bf_neardup_params_init(&w->neardup, near_dup_threshold);
    srand((unsigned)(uv_hrtime() ^ (uint64_t)getpid()));

    if (strcmp(cfg->redis_mode, "fail-open") == 0) {
        w->fail_open = true;
    } else if (strcmp(cfg->redis_mode, "fail-closed") != 0) {
        snprintf(errstr, errstr_size,
                 "--redis-mode: '%s' is neither fail-closed nor fail-open",
                 cfg->redis_mode);
        goto fail;
    }
    if (cfg->metrics_addr && *cfg->metrics_addr &&
        strcmp(cfg->metrics_addr, "off") != 0) {
        char herr[256];
        bf_err_t herrc =
            bf_telemetry_serve(&w->tel, cfg->metrics_addr, herr, sizeof(herr));
        if (herrc != BF_OK &&
            strcmp(cfg->metrics_addr, BF_WORKER_METRICS_ADDR_DEFAULT) == 0) {
            bf_log(BF_LOG_WARN, "worker", "metrics_default_addr_unavailable",
                   BF_LSTR("addr", cfg->metrics_addr), BF_LSTR("error", herr),
                   BF_LSTR("fallback", "127.0.0.1:0"));
            herrc = bf_telemetry_serve(&w->tel, "127.0.0.1:0", herr, sizeof(herr));
        }
        if (herrc != BF_OK) {
            snprintf(errstr, errstr_size, "METRICS_ADDR: %s", herr);
            goto fail;
        }
    }
    if (bf_framing_parse(cfg->output_framing, &w->framing) != 0) {
        snprintf(errstr, errstr_size, "--output-framing: unknown framing '%s'",
                 cfg->output_framing);
        goto fail;
    }
    if (bf_prompts_load(cfg->prompts_dir, &w->prompts, errstr, errstr_size) ||
        bf_prices_load(cfg->prices_path, &w->prices, errstr, errstr_size))
        goto fail;
    {
        bf_ai_config_t acfg; /* the AI settings, checked before connecting anywhere */
        if (bf_worker_ai_config(cfg, &w->prompts, &w->prices, NULL, &acfg, errstr,
                                errstr_size) ||
            bf_ai_config_check(&acfg, errstr, errstr_size))
            goto fail;
    }
    if (!(w->codec = bf_codec_new(errstr, errstr_size)))
        goto fail;
    /* Confluent ids resolve through the Schema Registry when one is set:
     * the versions known at start are loaded now, later ones looked up
     * once on the event loop (a blocking request, so bounded tightly by
     * REGISTRY_LOOKUP_TIMEOUT_S once the start-up requests are done). */
    if (!(w->registry = bf_registry_from_env(NULL, errstr, errstr_size)) && *errstr)
        goto fail;
    bf_registry_use_for_decoding(w->registry, w->codec);
    if (w->registry && bf_registry_preload(w->registry, w->codec, BF_RECORD_REPORT,
                                           cfg->topic_reports, NULL, errstr, errstr_size))
        goto fail;
    if (w->registry && w->framing == BF_FRAMING_CONFLUENT &&
        bf_registry_register_for_encoding(w->registry, w->codec, BF_RECORD_VALIDATION,
                                          cfg->topic_validations, NULL, errstr,
                                          errstr_size))
        goto fail;
    if (w->registry)
        bf_registry_set_timeouts(w->registry, REGISTRY_LOOKUP_TIMEOUT_S,
                                 REGISTRY_LOOKUP_TIMEOUT_S);

    if (cfg->once_file) { /* the loop, signals and HTTP; no Kafka, no Redis */
        init_loop(w);
        if (!(w->http =
                  bf_http_new(&w->loop, http_connections(cfg), errstr, errstr_size)) ||
            start_ai(w, NULL, errstr, errstr_size) != BF_OK)
            goto fail;
        return w;
    }

    /* Consumer. The operator's -X/-F properties go in first; our defaults
     * fill only what they left unset; the few settings correctness rests
     * on (group, manual offset store) are ours. */
    rd_kafka_conf_t *conf = bf_kafka_conf_new(cfg->brokers, props, errstr, errstr_size);
    if (!conf)
        goto fail;
    if (bf_kafka_conf_set(conf, "group.id", cfg->group, errstr, errstr_size) ||
        bf_kafka_conf_default(conf, props, "client.id", cfg->worker_id, errstr,
                              errstr_size) ||
        bf_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr,
                          errstr_size) ||
        bf_kafka_conf_default(conf, props, "auto.offset.reset", "earliest", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "partition.assignment.strategy",
                              "cooperative-sticky", errstr, errstr_size) ||
        bf_kafka_conf_default(conf, props, "auto.commit.interval.ms", "1000", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "statistics.interval.ms",
                              STATISTICS_INTERVAL_MS, errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    rd_kafka_conf_set_stats_cb(conf, on_kafka_stats);
    rd_kafka_conf_set_offset_commit_cb(conf, on_offset_commit);
    rd_kafka_conf_set_opaque(conf, w);
    char rderr[512];
    w->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
    if (!w->consumer) {
        snprintf(errstr, errstr_size, "kafka consumer: %s", rderr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(w->consumer);

    /* Producer: idempotent (which implies acks=all and ordered retries). */
    conf = bf_kafka_conf_new(cfg->brokers, props, errstr, errstr_size);
    if (!conf)
        goto fail;
    if (bf_kafka_conf_default(conf, props, "enable.idempotence", "true", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "linger.ms", "5", errstr, errstr_size) ||
        /* Room for a dead letter of the largest report the reports topic
         * may hold (the worker accepts up to BF_REPORT_MAX_ENCODED);
         * compression keeps it small on the wire. */
        bf_kafka_conf_default(conf, props, "message.max.bytes", "8388608", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "compression.codec", "lz4", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "client.id", cfg->worker_id, errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "statistics.interval.ms",
                              STATISTICS_INTERVAL_MS, errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    rd_kafka_conf_set_stats_cb(conf, on_kafka_stats);
    rd_kafka_conf_set_opaque(conf, w);
    w->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
    if (!w->producer) {
        snprintf(errstr, errstr_size, "kafka producer: %s", rderr);
        goto fail;
    }

    /* The loop, and the pipes through which librdkafka wakes it. */
    init_loop(w);
    if (pipe2(w->cons_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        pipe2(w->prod_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
        goto fail;
    }
    w->cons_q = rd_kafka_queue_get_consumer(w->consumer);
    w->prod_q = rd_kafka_queue_get_main(w->producer);
    rd_kafka_queue_io_event_enable(w->cons_q, w->cons_pipe[1], "1", 1);
    rd_kafka_queue_io_event_enable(w->prod_q, w->prod_pipe[1], "1", 1);
    uv_poll_init(&w->loop, &w->cons_poll, w->cons_pipe[0]);
    w->cons_poll.data = w;
    uv_poll_init(&w->loop, &w->prod_poll, w->prod_pipe[0]);
    w->prod_poll.data = w;
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_init(&w->loop, &w->stats_timer);
    w->stats_timer.data = w;
    uv_timer_init(&w->loop, &w->kick);
    w->kick.data = w;
    uv_timer_init(&w->loop, &w->heartbeat_timer);
    w->heartbeat_timer.data = w;

    if (!(w->http = bf_http_new(&w->loop, http_connections(cfg), errstr, errstr_size)))
        goto fail;
    if (!(w->redis = bf_redis_new(&w->loop, cfg->redis_url, cfg->redis_timeout_s, errstr,
                                  errstr_size)))
        goto fail;
    if (start_ai(w, cfg->dry_run ? NULL : w->redis, errstr, errstr_size) != BF_OK)
        goto fail;

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->topic_reports, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(w->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr) {
        snprintf(errstr, errstr_size, "subscribe to %s: %s", cfg->topic_reports,
                 rd_kafka_err2str(kerr));
        goto fail;
    }
    return w;
fail:
    bf_worker_destroy(w);
    return NULL;
}

bf_err_t bf_worker_run(bf_worker_t *w)
{
    uv_poll_start(&w->cons_poll, UV_READABLE, on_cons_readable);
    uv_poll_start(&w->prod_poll, UV_READABLE, on_prod_readable);
    uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    uv_timer_start(&w->stats_timer, on_stats, 200, 1000);
    w->last_heartbeat = now_s();
    if (!w->cfg->dry_run) {
        uint64_t hb_ms = (uint64_t)(w->cfg->heartbeat_interval_s * 1000);
        uv_timer_start(&w->heartbeat_timer, on_heartbeat, hb_ms, hb_ms);
    }
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    bf_log(BF_LOG_INFO, "worker", "started", BF_LSTR("worker_id", w->cfg->worker_id),
           BF_LINT("metrics_port", bf_telemetry_port(&w->tel)),
           BF_LSTR("redis_mode", w->fail_open ? "fail-open" : "fail-closed"),
           BF_LSTR("group", w->cfg->group), BF_LSTR("topic", w->cfg->topic_reports),
           BF_LSTR("prompt_version", w->prompts.version),
           BF_LINT("max_in_flight", w->cfg->max_in_flight),
           BF_LBOOL("dry_run", w->cfg->dry_run));
    uv_run(&w->loop, UV_RUN_DEFAULT);

    /* Drained (or timed out). Leave the group: rd_kafka_consumer_close
     * commits the stored offsets and revokes our partitions. Then make
     * sure every result still queued in the producer is delivered. */
    if (!w->cfg->dry_run)
        send_heartbeat(w); /* the last one: the autoscaler sees us leave */
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(w->consumer);
    if (err)
        bf_log(BF_LOG_WARN, "worker", "consumer_close_failed",
               BF_LSTR("error", rd_kafka_err2str(err)));
    err = rd_kafka_flush(w->producer, 10000);
    if (err)
        bf_log(BF_LOG_WARN, "worker", "producer_flush_failed",
               BF_LSTR("error", rd_kafka_err2str(err)));
    bf_log(BF_LOG_INFO, "worker", "stopped", BF_LINT("consumed", w->consumed),
           BF_LINT("validated", w->validated), BF_LINT("duplicates", w->duplicates),
           BF_LINT("cached", w->cached), BF_LINT("dead_lettered", w->dlq),
           BF_LINT("abandoned", w->in_flight));
    return BF_OK;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void bf_worker_destroy(bf_worker_t *w)
{
    if (!w)
        return;
    w->shutdown = true;
    bf_telemetry_stop(&w->tel); /* its thread reads state freed below */
    if (w->loop_ready) {
        close_all(w);
        while (w->jobs)
            job_free(w->jobs); /* abandoned at the drain deadline */
        /* Close whatever handle is left and let the close callbacks run. */
        uv_walk(&w->loop, walk_close, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
    }
    if (w->cons_q)
        rd_kafka_queue_destroy(w->cons_q);
    if (w->prod_q)
        rd_kafka_queue_destroy(w->prod_q);
    if (w->consumer)
        rd_kafka_destroy(w->consumer);
    if (w->producer)
        rd_kafka_destroy(w->producer);
    for (int i = 0; i < 2; i++) {
        if (w->cons_pipe[i] >= 0)
            close(w->cons_pipe[i]);
        if (w->prod_pipe[i] >= 0)
            close(w->prod_pipe[i]);
    }
    for (int i = 0; i < MAX_PARTITIONS; i++)
        bf_offsets_free(&w->partitions[i].offsets);
    free(w->partitions);
    bf_codec_destroy(w->codec);
    bf_registry_destroy(w->registry);
    bf_prompts_free(&w->prompts);
    bf_prices_free(&w->prices);
    bf_telemetry_free(&w->tel);
    free(w);
}

bf_err_t bf_worker_run_once(bf_worker_t *w)
{
    json_error_t jerr;
    char errstr[256] = "";
    json_t *obj = json_load_file(w->cfg->once_file, JSON_REJECT_DUPLICATES, &jerr);
    bf_report_t *report = NULL;
    bf_err_t err = BF_OK;
    if (!obj) {
        snprintf(errstr, sizeof(errstr), "%s:%d: %s", w->cfg->once_file, jerr.line,
                 jerr.text);
        err = BF_ERR_PARSE;
    } else {
        err = bf_report_from_json(obj, &report, errstr, sizeof(errstr));
    }
    json_decref(obj);
    if (err) {
        fprintf(stderr, "bountyfleet-worker: %s: %s\n", bf_err_name(err), errstr);
        return err;
    }
    job_t *j = bf_calloc(1, sizeof(*j));
    j->w = w;
    j->report = report;
    j->started = now_s();
    for (int i = 0; i < N_TIMERS; i++) {
        uv_timer_init(&w->loop, &j->timers[i]);
        j->timers[i].data = j;
    }
    j->open_timers = N_TIMERS;
    w->jobs = j;
    w->in_flight = 1;
    j->ai_input = bf_ai_input_from_report(j->report);
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    start_analyses(j);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->stream_kind >= 0)
        fputc('\n', stderr);
    return w->acked ? BF_OK : BF_ERR_STATE;
}

void bf_worker_set_ai_unavailable(bf_worker_t *w, bool unavailable)
{
    if (w->ai_blocked == unavailable)
        return;
    w->ai_blocked = unavailable;
    if (unavailable)
        bf_series_add(bf_metric_series(w->tel.pauses, "ai"), 1);
    bf_log(BF_LOG_WARN, "worker", unavailable ? "ai_unavailable_pausing" : "ai_back",
           BF_LINT("in_flight", w->in_flight));
    update_pause(w);
}

bf_metrics_t *bf_worker_metrics(bf_worker_t *w)
{
    return w->tel.registry;
}

int bf_worker_metrics_port(const bf_worker_t *w)
{
    return bf_telemetry_port(&w->tel);
}
