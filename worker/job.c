/*
 * job.c - a report's job from the message it came in to the moment it is
 * done (see worker_int.h).
 *
 * A job is done when Kafka acknowledged its result or its dead letter, or
 * when there is nothing to publish (a result that is out already). Only
 * then is its offset marked done in its partition's tracker (offsets.h),
 * which stores for commit the first offset still in flight: offsets only
 * advance past completed work, so a crash or a rebalance re-delivers what
 * was not finished and loses nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/worker_int.h"

bf_job_t *bf_job_new(bf_worker_t *w, rd_kafka_message_t *m)
{
    size_t payload_len = m ? m->len : 0, key_len = m && m->key ? m->key_len : 0;
    /* One block: the job, then the payload and the key, each NUL-ended. */
    bf_job_t *j = bf_malloc(sizeof(*j) + payload_len + key_len + 2);
    memset(j, 0, sizeof(*j));
    j->w = w;
    j->started = bf_monotonic_s();
    if (m) {
        char *copy = (char *)(j + 1);
        j->from_kafka = true;
        if (payload_len)
            memcpy(copy, m->payload, payload_len);
        copy[payload_len] = '\0';
        j->payload = copy;
        j->payload_len = payload_len;
        if (m->key) {
            memcpy(copy + payload_len + 1, m->key, key_len);
            copy[payload_len + 1 + key_len] = '\0';
            j->key = copy + payload_len + 1;
            j->key_len = key_len;
        }
        if (rd_kafka_message_detach_headers(m, &j->headers) != RD_KAFKA_RESP_ERR_NO_ERROR)
            j->headers = NULL;
        j->partition = m->partition;
        j->epoch = w->partitions[m->partition].epoch;
        j->offset = m->offset;
        w->partitions[m->partition].live_jobs++;
        bf_offsets_add(&w->partitions[m->partition].offsets, m->offset);
        rd_kafka_message_destroy(m);
    }
    for (int i = 0; i < BF_JOB_N_TIMERS; i++) {
        uv_timer_init(&w->loop, &j->timers[i]);
        j->timers[i].data = j;
    }
    j->open_timers = BF_JOB_N_TIMERS;
    j->next = w->jobs;
    if (j->next)
        j->next->prev = j;
    w->jobs = j;
    w->in_flight++;
    bf_series_set(w->tel.in_flight, (double)w->in_flight);
    return j;
}

static void on_job_timer_closed(uv_handle_t *h)
{
    bf_job_t *j = h->data;
    if (--j->open_timers == 0)
        free(j);
}

void bf_job_free(bf_job_t *j)
{
    bf_decode_forget(j); /* may have waited for the Schema Registry */
    if (j->from_kafka) {
        bf_partition_t *p = &j->w->partitions[j->partition];
        p->live_jobs--;
        if (j->epoch != p->epoch && p->stale_jobs)
            p->stale_jobs--;
    }
    if (j->prev)
        j->prev->next = j->next;
    else
        j->w->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    if (j->headers)
        rd_kafka_headers_destroy(j->headers);
    bf_report_destroy(j->report);
    bf_ai_input_release(j->ai_input);
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++)
        bf_verdict_clear(&j->verdicts[k]);
    free(j->out);
    if (j->out_headers)
        rd_kafka_headers_destroy(j->out_headers);
    for (int i = 0; i < BF_JOB_N_TIMERS; i++)
        uv_close((uv_handle_t *)&j->timers[i], on_job_timer_closed);
}

/* Move the partition's commit point past the job, if the job still
 * belongs to the partition's current assignment. */
static void mark_offset_done(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    bf_partition_t *p = &w->partitions[j->partition];
    if (!j->from_kafka || p->epoch != j->epoch ||
        !bf_offsets_mark_done(&p->offsets, j->offset) || !p->assigned || w->cfg->dry_run)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, w->cfg->topic_reports, j->partition)->offset =
        bf_offsets_commit_point(&p->offsets);
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(w->consumer, l);
    if (err)
        bf_log(BF_LOG_DEBUG, "worker", "offset_store_failed",
               BF_LINT("partition", j->partition),
               BF_LSTR("error", rd_kafka_err2str(err)));
    rd_kafka_topic_partition_list_destroy(l);
}

static void observe_stage(bf_series_t *s, double from, double to)
{
    if (from > 0 && to >= from)
        bf_series_observe(s, to - from);
}

/* Where the overhead went (the stages add up to it). */
static void observe_stages(bf_job_t *j, double now)
{
    bf_telemetry_t *t = &j->w->tel;
    observe_stage(t->stage_claim, j->started, j->analyses_at);
    if (j->analyses_at > 0 && j->settled_at > 0)
        observe_stage(t->stage_ai_extra, j->analyses_at + j->ai_slowest,
                      j->settled_at > j->analyses_at + j->ai_slowest
                          ? j->settled_at
                          : j->analyses_at + j->ai_slowest);
    observe_stage(t->stage_store, j->settled_at, j->produced_at);
    observe_stage(t->stage_deliver, j->produced_at, now);
}

void bf_job_done(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    mark_offset_done(j);
    double seconds = bf_monotonic_s() - j->started;
    bf_telemetry_report_done(&w->tel, seconds);
    /* What the worker itself added to an analysed report: everything but
     * the slowest AI call (decode, Redis, encoding, publishing, queues). */
    if (j->ai_slowest > 0) {
        bf_series_observe(w->tel.report_overhead,
                          seconds > j->ai_slowest ? seconds - j->ai_slowest : 0);
        observe_stages(j, bf_monotonic_s());
    }
    w->in_flight--;
    if (j->delivering) {
        w->delivering--;
        bf_series_set(w->tel.awaiting_ack, (double)w->delivering);
    }
    bf_series_set(w->tel.in_flight, (double)w->in_flight);
    bf_intake_update(w); /* below the cap again: take more */
    bf_job_free(j);
}

/* A Redis round trip of the worker's (claims, results, published marks),
 * timed into bountyfleet_redis_request_duration_seconds. The near-duplicate
 * script (neardup_script.c) and the AI layer's answer cache send their
 * commands themselves and are not in that histogram. */
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
        bf_series_observe(c->w->tel.redis_duration, bf_monotonic_s() - c->started);
    c->cb(r, err, reply, c->opaque);
    free(c);
}

bf_err_t bf_worker_redis(bf_worker_t *w, bf_redis_cb *cb, void *opaque, int argc,
                         const char **argv, const size_t *lens)
{
    redis_call_t *c = bf_malloc(sizeof(*c));
    *c = (redis_call_t){.w = w, .cb = cb, .opaque = opaque, .started = bf_monotonic_s()};
    bf_err_t err = bf_redis_command_argv(w->redis, on_redis_reply, c, argc, argv, lens);
    if (err)
        free(c);
    return err;
}
