/*
 * worker_int.h - what the files of the worker share: the worker and the
 * job (one report on its way), and each stage's entry points. Not part of
 * the worker's API (worker.h).
 *
 * A report's path, one file per stage, in the order it goes:
 *
 *   intake.c     the Kafka consumer: take messages while below the
 *                in-flight cap, hold or pause at it (flow control)
 *   job.c        a job's life: made from a message, done when its result
 *                or dead letter is acknowledged (its offset may then be
 *                committed), freed
 *   decode.c     the record's bytes -> a checked report (a job whose
 *                Schema Registry lookup is in flight, or cannot be
 *                answered now, waits for the answer or retries)
 *   claim.c      Redis: the stored result, an exact duplicate, another
 *                worker's lease, or the claim; then the near-duplicate check
 *   analyse.c    the three AI analyses and the verdict they add up to
 *   result.c     result records: encoded, stored in Redis, published
 *   publish.c    producing results and dead letters; delivery reports
 *   rebalance.c  partitions given and taken away
 *   heartbeat.c  gauges, readiness, librdkafka's statistics and errors,
 *                and the heartbeat record
 *   liveness.c   the worker's liveness key (what lets others take over the
 *                claims of a dead worker) and Redis's instance id
 *   worker.c     making, running and stopping a worker; --once is once.c
 *
 * @locality the loop thread, everywhere.
 */
#ifndef BF_WORKER_WORKER_INT_H
#define BF_WORKER_WORKER_INT_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "libbf/clock.h"
#include "libbf/codec.h"
#include "libbf/http.h"
#include "libbf/redis.h"
#include "libbf/registry.h"
#include "libbf/report.h"
#include "worker/ai.h"
#include "worker/analysis.h"
#include "worker/dedup.h"
#include "worker/neardup.h"
#include "worker/offsets.h"
#include "worker/telemetry.h"
#include "worker/worker.h"

/* Partitions a worker can track (indexes into bf_worker_t.partitions). */
#define BF_WORKER_MAX_PARTITIONS 4096

typedef struct bf_partition_s {
    bool assigned;
    /* intake.c: paused in librdkafka by us, and taken from since it was
     * assigned (only such a partition is paused: see intake.c). */
    bool paused, taken;
    /* Bumped at every assign and revoke, so a job still running from an
     * earlier assignment never marks offsets in the current tracker. */
    uint32_t epoch;
    bf_offsets_t offsets;
    /* Live jobs of records of this partition, and how many of them are of
     * an earlier assignment (intake.c adopts such a job when its record is
     * consumed again, rather than make a second one). */
    uint32_t live_jobs, stale_jobs;
} bf_partition_t;

typedef struct bf_job_s bf_job_t;

struct bf_worker_s {
    const bf_worker_config_t *cfg;
    int stream_kind; /* --once: the analysis whose text stderr shows, or -1 */
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick;            /* TICK_MS: loop lag, drain deadline, Kafka */
    uv_timer_t stats_timer;     /* 1 s: gauges, consumer lag, readiness */
    uv_timer_t heartbeat_timer; /* heartbeat_interval_s */
    uv_idle_t more;             /* intake.c: consume more on the next iteration */
    uv_timer_t liveness_timer;  /* liveness.c: renew the alive key */
    char redis_instance[64];    /* liveness.c: the Redis instance id last seen */
    double last_tick;
    bf_telemetry_t tel;
    bool fail_open;          /* --redis-mode fail-open */
    bool redis_blocked;      /* fail-closed and Redis unreachable: paused */
    bool ai_blocked;         /* every AI provider unavailable: paused */
    bool registry_blocked;   /* the Schema Registry cannot answer: paused */
    bool cap_paused;         /* paused because the cap held too long (intake.c) */
    double last_take;        /* when a message was last taken (intake.c) */
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
    /* The producer's handles on the topics it writes, made at start so it
     * learns their leaders before the first result (worker.c). */
    rd_kafka_topic_t *out_topics[2];
    rd_kafka_queue_t *cons_q, *prod_q;
    bf_redis_t *redis;
    bf_http_t *http;
    bf_codec_t *codec;
    bf_registry_t *registry; /* SCHEMA_REGISTRY_URL, or NULL */
    /* decode.c: jobs waiting for the registry (an answer asked for, or a
     * retry after it could not answer), and those being decoded again
     * because an answer came; linked through bf_job_t.wait_*. */
    bf_job_t *registry_waiting, *registry_retrying;
    bf_framing_t framing;
    bf_prompts_t prompts;
    bf_prices_t prices;
    bf_thresholds_t thresholds;
    bf_neardup_params_t neardup;
    bf_ai_t *ai;
    bf_partition_t *partitions; /* indexed by partition number */
    size_t in_flight;
    /* Of those, jobs whose record Kafka has and not yet acknowledged
     * (publish.c): they wait outside --max-in-flight, up to as many more. */
    size_t delivering;
    bool paused;
    bool stopping;
    bool shutdown; /* destroying: callbacks must not start new work */
    bool loop_ready;
    bf_job_t *jobs;
    double stop_deadline;
    const char *once_status; /* --once: the printed result's status (static) */
    /* counters for the final log line */
    uint64_t consumed, validated, duplicates, dlq, cached, acked;
};

/* Each job's retry timers (the AI layer keeps its own). */
enum { BF_JOB_T_CLAIM = 0, BF_JOB_T_PUBLISH = 1, BF_JOB_T_DECODE = 2, BF_JOB_N_TIMERS };

struct bf_job_s {
    bf_job_t *prev, *next; /* the worker's list of live jobs */
    bf_worker_t *w;
    /* What the consumed record carried, copied into the job's own block
     * (bf_job_new) so the message goes at once: a message pins librdkafka's
     * whole fetch response (up to a MiB), and thousands in flight held tens
     * of MiB of responses. from_kafka is false for --once. */
    bool from_kafka;
    bool delivering;           /* counted in bf_worker_t.delivering */
    const char *payload, *key; /* key NULL: the record had none */
    size_t payload_len, key_len;
    rd_kafka_headers_t *headers; /* the record's headers (owned), or NULL */
    int32_t partition;
    uint32_t epoch;
    int64_t offset;
    double started;         /* consumed at (bf_monotonic_s) */
    const char *status;     /* result status once known (static string) */
    int cvss_rating;        /* result.c: the rating its vector scores, or -1 */
    const char *dlq_reason; /* bf.error of a dead letter */
    bool dedup_unchecked;   /* fail-open: validated without asking Redis */
    bf_report_t *report;
    bf_ai_input_t *ai_input; /* the report as the AI layer sends it */
    char fingerprint[BF_FINGERPRINT_LEN];
    unsigned claim_attempts;
    unsigned decode_attempts; /* schema lookups the registry could not answer */
    /* decode.c: on a list of the worker's registry_waiting or
     * registry_retrying (wait_list says which; NULL: none). */
    bf_job_t *wait_prev, *wait_next, **wait_list;
    bool registry_pending; /* waiting for an answer asked for, not for a retry */
    int ai_pending;
    double ai_slowest; /* seconds of the slowest analysis, for the overhead */
    /* When its analyses started, all settled, and its result was produced
     * (bf_monotonic_s; 0: not yet), for bountyfleet_report_stage_seconds;
     * produced_at is the first produce attempt. */
    double analyses_at, settled_at, produced_at;
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
    unsigned publish_attempts;
    uv_timer_t timers[BF_JOB_N_TIMERS];
    int open_timers;
};

/** @brief worker.c: SIGTERM and SIGINT stop the worker (or --once). */
void bf_worker_watch_signals(bf_worker_t *w);

/* ---- job.c --------------------------------------------------------------- */

/** @brief A job for @p m (takes the message and destroys it: the job keeps
 *         a copy of what it needs; NULL for --once), in flight. */
bf_job_t *bf_job_new(bf_worker_t *w, rd_kafka_message_t *m);
/** @brief The result or dead letter is acknowledged (or nothing is to be
 *         published): mark the offset done, count, free. */
void bf_job_done(bf_job_t *j);
/** @brief Free a job (its timers close on the loop). */
void bf_job_free(bf_job_t *j);
/**
 * @brief One Redis command for the worker, its round trip measured in
 *        bountyfleet_redis_request_duration_seconds.
 */
bf_err_t bf_worker_redis(bf_worker_t *w, bf_redis_cb *cb, void *opaque, int argc,
                         const char **argv, const size_t *lens);

/* ---- intake.c ------------------------------------------------------------ */

/** @brief Take what the consumer queue holds, as the cap allows. */
void bf_intake_serve(bf_worker_t *w);
/**
 * @brief At the cap: --max-in-flight reports being validated (consumed and
 *        not yet handed to Kafka), or as many handed to Kafka and waiting
 *        for its acknowledgement. So twice the cap are in flight at most,
 *        but for records that arrive while pausing (intake.c takes them).
 */
bool bf_intake_full(const bf_worker_t *w);
/** @brief Pause or resume fetching as the worker's state says. */
void bf_intake_update(bf_worker_t *w);
/** @brief Start watching librdkafka's queues (pipes set up by worker.c). */
void bf_intake_start(bf_worker_t *w);
/** @brief Every AI provider's circuit is open (or no longer is). */
void bf_intake_set_ai_unavailable(bf_worker_t *w, bool unavailable);
/** @brief Partitions on their way out (the rebalance callback, before it
 *         unassigns them): resume those intake paused, forget their marks. */
void bf_intake_revoked(bf_worker_t *w, const rd_kafka_topic_partition_list_t *parts);

/* ---- the stages ---------------------------------------------------------- */

/** decode.c: decode and check the job's record, then claim it. */
void bf_decode_report(bf_job_t *j);
/** decode.c: the job is freed: it no longer waits for the registry. */
void bf_decode_forget(bf_job_t *j);
/** decode.c: the registry's answer to a lookup (bf_registry_answer_cb;
 *  @p opaque is the worker): decode the jobs that waited for it again. */
void bf_decode_on_registry_answer(void *opaque, int32_t id, bf_err_t err,
                                  const char *errstr);
/** claim.c: ask Redis what to do with the report. */
void bf_claim(bf_job_t *j);
/** analyse.c: run the analyses; the result follows. */
void bf_analyse_start(bf_job_t *j);
/** result.c: the DUPLICATE result of an earlier report's copy. */
void bf_result_duplicate(bf_job_t *j, const char *original, double similarity,
                         bool published);
/** result.c: publish a stored result (the claim found one). */
void bf_result_cached(bf_job_t *j, const char *bytes, size_t len, bool published);
/** result.c: the verdict of the analyses: encode, store, publish. */
void bf_result_verdict(bf_job_t *j);
/** result.c: the status as the schema's symbol (static), or NULL. */
const char *bf_result_status_symbol(const char *status);
/** publish.c: produce j->out to j->publish_topic (or print it, --once). */
void bf_publish(bf_job_t *j);
/** publish.c: send the original record to the dead-letter topic. */
void bf_dead_letter(bf_job_t *j, bf_err_t err, const char *reason);
/** publish.c: librdkafka's delivery report callback. */
void bf_publish_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/** rebalance.c: librdkafka's rebalance callback. */
void bf_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                     rd_kafka_topic_partition_list_t *parts, void *opaque);

/* ---- liveness.c ---------------------------------------------------------- */

/** @brief Renew the worker's liveness key now and every third of its TTL. */
void bf_liveness_start(bf_worker_t *w);
/** @brief Redis is connected again: renew now (and check its instance id). */
void bf_liveness_reconnected(bf_worker_t *w);
/** @brief A clean stop: delete the liveness key (best effort). */
void bf_liveness_stop(bf_worker_t *w);

/* ---- heartbeat.c --------------------------------------------------------- */

/** @brief The 1 s stats timer: gauges, consumer lag, readiness. */
void bf_heartbeat_on_stats(uv_timer_t *t);
/** @brief The heartbeat timer. */
void bf_heartbeat_on_timer(uv_timer_t *t);
/** @brief Publish one heartbeat now. */
void bf_heartbeat_send(bf_worker_t *w);
/** @brief librdkafka's error, statistics and offset commit callbacks. */
void bf_heartbeat_on_kafka_error(rd_kafka_t *rk, int err, const char *reason,
                                 void *opaque);
int bf_heartbeat_on_kafka_stats(rd_kafka_t *rk, char *json, size_t json_len,
                                void *opaque);
void bf_heartbeat_on_offset_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t *offsets,
                                   void *opaque);

#endif
