/*
 * intake.c - taking reports from the consumer, and flow control (see
 * worker_int.h).
 *
 * librdkafka's consumer queue writes a byte to a pipe when it becomes
 * non-empty (rd_kafka_queue_io_event_enable); the loop watches the pipe and
 * takes messages without waiting. It writes again only after the queue was
 * empty, so a serve that stops before the queue is empty (the batch bound,
 * which keeps one serve from starving the loop) continues on the loop's
 * next iteration (an idle handle), not on a timer.
 *
 * Flow control. At --max-in-flight reports the worker *holds*: it stops
 * taking messages from librdkafka's local queue (bounded by
 * queued.max.messages.kbytes) and takes the next one as soon as a report
 * finishes. A report whose result Kafka has (produced, not yet
 * acknowledged) no longer counts: the acknowledgement takes the producer's
 * linger and a broker round trip, a fifth of a report's time at full load,
 * and holding a slot for it left the cap's AI calls idle. Those wait
 * outside the cap, up to as many again (bf_intake_full), so a broker that
 * stops acknowledging still stops the worker at twice the cap. Pausing the partitions at
 * once would be simpler, but librdkafka drops what it has prefetched on a pause and
 * fetches it again on resume, and at a cap of 64 that round trip cut throughput five-fold
 * (BENCHMARKS.md). A hold has no hysteresis: it costs nothing to end.
 *
 * Rebalance events wait in the same queue behind held messages, so a hold
 * in which nothing was taken for HOLD_S (reports are slow: providers at
 * seconds of latency) becomes a pause, and the worker polls again (events
 * are served; max.poll.interval.ms never runs out because of its own
 * backlog). That pause ends at --low-water, so that fetching is not paused
 * and resumed for every report.
 *
 * Stopping, Redis unreachable in fail-closed mode, every AI provider
 * unavailable and a Schema Registry that cannot answer pause at once.
 *
 * Which partitions are paused. librdkafka 2.0 (Debian's) has two bugs in
 * pause and resume: resuming a partition that is not paused still bumps
 * its fetch version, so the fetcher may restart from a stale position or,
 * right after an assignment, lose the assigned offset and never fetch the
 * partition again (librdkafka #4637, fixed in 2.4.0; #2190, open); and a
 * pause right after an assignment can lose the assigned offset the same
 * way. A partition that stopped for good after a revoke and a new
 * assignment during a broker outage was seen in test_faults. So the
 * worker resumes only partitions it paused (bf_partition_t.paused), and
 * pauses only partitions it has taken a message from since they were
 * assigned (their position is the application's, not the assignment's):
 * one assigned while the worker is paused is paused when its first
 * message arrives, and that message is taken, like any that arrives
 * while paused. A revoked partition is resumed on its way out, since
 * librdkafka would keep its pause flag for the next assignment
 * (librdkafka #1849).
 */
#include <unistd.h>

#include "libbf/log.h"
#include "worker/worker_int.h"

/* At most this many messages per serve, then the loop runs once. */
#define CONSUME_BATCH 256
/* A hold with nothing taken for this long becomes a pause (see above). */
#define HOLD_S 2.0

/* Reports being validated: consumed and not yet handed to Kafka. */
static size_t validating(const bf_worker_t *w)
{
    return w->in_flight - w->delivering;
}

bool bf_intake_full(const bf_worker_t *w)
{
    size_t cap = (size_t)w->cfg->max_in_flight;
    return validating(w) >= cap || w->delivering >= cap;
}

/* Pause (or resume) those of @p parts that may change (see above); marks
 * them. Returns librdkafka's error. */
static rd_kafka_resp_err_t
pause_some(bf_worker_t *w, const rd_kafka_topic_partition_list_t *parts, bool pause)
{
    rd_kafka_topic_partition_list_t *change =
        rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= BF_WORKER_MAX_PARTITIONS)
            continue;
        bf_partition_t *part = &w->partitions[p];
        if (pause ? !part->paused && part->taken : part->paused)
            rd_kafka_topic_partition_list_add(change, parts->elems[i].topic, p);
    }
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (change->cnt)
        err = pause ? rd_kafka_pause_partitions(w->consumer, change)
                    : rd_kafka_resume_partitions(w->consumer, change);
    for (int i = 0; i < change->cnt && !err; i++)
        w->partitions[change->elems[i].partition].paused = pause;
    rd_kafka_topic_partition_list_destroy(change);
    return err;
}

void bf_intake_revoked(bf_worker_t *w, const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err = pause_some(w, parts, false);
    if (err)
        bf_log(BF_LOG_WARN, "worker", "resume_failed",
               BF_LSTR("error", rd_kafka_err2str(err)));
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p >= 0 && p < BF_WORKER_MAX_PARTITIONS)
            w->partitions[p].taken = w->partitions[p].paused = false;
    }
}

static void set_paused(bf_worker_t *w, bool pause)
{
    if (!w->consumer)
        return;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(w->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_resp_err_t err = pause_some(w, parts, pause);
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
           BF_LBOOL("cap_paused", w->cap_paused));
}

static void on_more(uv_idle_t *h)
{
    uv_idle_stop(h);
    bf_intake_serve(h->data);
}

static void serve_soon(bf_worker_t *w)
{
    if (w->more.loop && !w->shutdown && !uv_is_active((uv_handle_t *)&w->more))
        uv_idle_start(&w->more, on_more);
}

void bf_intake_update(bf_worker_t *w)
{
    double now = bf_monotonic_s();
    if (bf_intake_full(w) && !w->cap_paused && now - w->last_take >= HOLD_S)
        w->cap_paused = true;
    else if (w->cap_paused && validating(w) <= w->low_water &&
             w->delivering <= w->low_water) /* neither count full again at once */
        w->cap_paused = false;
    bool want = w->stopping || w->redis_blocked || w->ai_blocked || w->registry_blocked ||
                w->cap_paused;
    if (want != w->paused)
        set_paused(w, want);
    if (!bf_intake_full(w))
        serve_soon(w); /* a hold ends as soon as there is room */
}

static rd_kafka_resp_err_t pause_one(bf_worker_t *w, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, rd_kafka_topic_name(m->rkt), m->partition);
    rd_kafka_resp_err_t err = pause_some(w, one, true);
    rd_kafka_topic_partition_list_destroy(one);
    return err;
}

/* A record consumed again while its job from an earlier assignment of the
 * partition still runs (the partition went and came back, or the group's
 * session timed out during an outage, with that job waiting to publish):
 * the job is given the current assignment, so its end moves this
 * assignment's offsets, and no second job analyses and publishes the same
 * record. @returns whether @p m had such a job (then @p m is destroyed). */
static bool adopt(bf_worker_t *w, bf_partition_t *part, rd_kafka_message_t *m)
{
    for (bf_job_t *j = w->jobs; j; j = j->next) {
        if (!j->from_kafka || j->partition != m->partition || j->offset != m->offset ||
            j->epoch == part->epoch)
            continue;
        j->epoch = part->epoch;
        part->stale_jobs--;
        bf_offsets_add(&part->offsets, m->offset);
        bf_series_add(w->tel.adopted, 1);
        bf_log(BF_LOG_INFO, "worker", "report_adopted",
               BF_LINT("partition", m->partition), BF_LINT("offset", m->offset));
        rd_kafka_message_destroy(m);
        return true;
    }
    return false;
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
    if (m->partition < 0 || m->partition >= BF_WORKER_MAX_PARTITIONS) {
        bf_log(BF_LOG_ERROR, "worker", "partition_out_of_range",
               BF_LINT("partition", m->partition));
        rd_kafka_message_destroy(m);
        return;
    }
    bf_partition_t *part = &w->partitions[m->partition];
    if (!part->taken) {
        part->taken = true;
        /* Assigned while paused: its position is ours now, so pause it. */
        if (w->paused && pause_one(w, m) != RD_KAFKA_RESP_ERR_NO_ERROR)
            bf_log(BF_LOG_WARN, "worker", "pause_failed",
                   BF_LINT("partition", m->partition));
    }
    w->consumed++;
    w->kafka_down = false;
    bf_series_add(w->tel.consumed, 1);
    if (part->stale_jobs && adopt(w, part, m))
        return;
    bf_decode_report(bf_job_new(w, m));
}

void bf_intake_serve(bf_worker_t *w)
{
    if (!w->consumer || w->shutdown)
        return;
    for (int i = 0; i < CONSUME_BATCH; i++) {
        /* At the cap: hold, unless paused, when polling serves the events
         * queued behind (a message that still arrives is taken). */
        if (bf_intake_full(w) && !w->paused)
            return;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 0);
        if (!m)
            return;
        w->last_take = bf_monotonic_s();
        handle_message(w, m);
    }
    serve_soon(w); /* the batch bound, not an empty queue, ended this serve */
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
    bf_intake_serve(w);
}

static void on_prod_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    bf_worker_t *w = h->data;
    drain_pipe(w->prod_pipe[0]);
    rd_kafka_poll(w->producer, 0);
}

void bf_intake_start(bf_worker_t *w)
{
    uv_poll_start(&w->cons_poll, UV_READABLE, on_cons_readable);
    uv_poll_start(&w->prod_poll, UV_READABLE, on_prod_readable);
}

void bf_intake_set_ai_unavailable(bf_worker_t *w, bool unavailable)
{
    if (w->ai_blocked == unavailable)
        return;
    w->ai_blocked = unavailable;
    if (unavailable)
        bf_series_add(bf_metric_series(w->tel.pauses, "ai"), 1);
    bf_log(BF_LOG_WARN, "worker", unavailable ? "ai_unavailable_pausing" : "ai_back",
           BF_LINT("in_flight", w->in_flight));
    bf_intake_update(w);
}
