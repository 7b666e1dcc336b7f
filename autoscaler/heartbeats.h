/*
 * heartbeats.h - what the workers say about themselves on
 * bountyfleet.heartbeats (schemas/heartbeat.avsc): how many are alive, how
 * slow they are, and what they spent on AI.
 *
 * Two parts: a pure aggregator over decoded records (unit-tested), and a
 * reader that feeds it from Kafka without blocking the loop. The reader
 * subscribes with its own group (bountyfleet-autoscaler-heartbeats) from
 * the log end, never commits, and takes at most BF_HEARTBEATS_PER_TICK
 * records per call.
 *
 * Per worker the newest record is kept. A worker is heartbeating while its
 * last record is younger than BF_HEARTBEATS_STALE_S. AI spend: a record's
 * ai_cost_usd is cumulative since the worker started (started_at), so the
 * spend is the growth since the worker's previous record, or the whole
 * value for a worker (or a restart of one) not seen before. Values outside
 * the plausible ranges below are not believed (see BF_HEARTBEATS_MAX_USD).
 */
#ifndef BF_AUTOSCALER_HEARTBEATS_H
#define BF_AUTOSCALER_HEARTBEATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "libbf/config.h"

#define BF_HEARTBEATS_MAX_WORKERS 1024
#define BF_HEARTBEATS_STALE_S     30.0
#define BF_HEARTBEATS_PER_TICK    1000
/* Largest values a heartbeat may carry; beyond them (or NaN, infinite,
 * negative) a value is not believed: a worker's cumulative AI spend keeps
 * its last good value, latency counts as unknown, throughput as 0. */
#define BF_HEARTBEATS_MAX_USD     1e9
#define BF_HEARTBEATS_MAX_SECONDS 1e6
#define BF_HEARTBEATS_MAX_RATE    1e6
/* A worker whose AI calls waited for a rate limit this share of the time
 * is bound by the limit (heartbeat ai_limited_share). */
#define BF_HEARTBEATS_AI_LIMITED 0.5

typedef struct bf_heartbeat_worker_s {
    char id[128];
    double seen_at; /* receiver's wall seconds */
    int64_t started_at;
    double ai_cost_usd;
    double latency_p50_s, latency_p95_s, latency_p99_s; /* -1 unknown */
    double reports_per_second;
    int64_t reports_validated, reports_duplicate; /* cumulative since started_at */
    int64_t in_flight_reports, in_flight_ai_calls, assigned_partitions;
    bool paused;             /* at its in-flight cap (or blocked) when it sent it */
    double ai_limit_rpm;     /* fleet-wide AI requests/min in force; 0 none shared */
    double ai_limited_share; /* share of recent time its AI calls waited for a limit */
} bf_heartbeat_worker_t;

typedef struct bf_heartbeats_s {
    size_t count;
    bf_heartbeat_worker_t workers[BF_HEARTBEATS_MAX_WORKERS];
    double ai_spend_pending; /* AI USD not yet taken by bf_heartbeats_take_spend() */
    /* Since the autoscaler started, from the growth of the cumulative
     * counters (like the spend): AI USD, reports validated, of them
     * duplicates. For the AI spend per report (recommend.h). */
    double ai_usd_total;
    int64_t validated_total, duplicate_total;
} bf_heartbeats_t;

typedef struct bf_heartbeats_summary_s {
    int64_t heartbeating;
    double latency_p95_s;      /* highest p95 of the live workers; -1 none */
    double reports_per_second; /* summed over the live workers */
    int64_t paused;            /* live workers whose last heartbeat said paused */
    /* live workers whose AI calls waited for a rate limit most of the time
     * (ai_limited_share >= BF_HEARTBEATS_AI_LIMITED), and the highest
     * fleet-wide AI limit they said is in force (requests/min, 0 none) */
    int64_t ai_limited;
    double ai_limit_rpm;
} bf_heartbeats_summary_t;

/** @brief Take one decoded record (borrowed) received at wall time @p now. */
void bf_heartbeats_add(bf_heartbeats_t *h, const json_t *record, double now);

/** @brief The live workers at @p now. */
void bf_heartbeats_summary(const bf_heartbeats_t *h, double now,
                           bf_heartbeats_summary_t *out);

/** @brief AI spend learned since the last call, in USD. */
double bf_heartbeats_take_spend(bf_heartbeats_t *h);

typedef struct bf_heartbeat_reader_s bf_heartbeat_reader_t;

/** @brief Subscribe to @p topic. NULL with errstr on a bad configuration. */
bf_heartbeat_reader_t *bf_heartbeat_reader_new(const char *brokers,
                                               const bf_kprops_t *props,
                                               const char *topic, char *errstr,
                                               size_t errstr_size);

/** @brief Take what has arrived into @p h, without waiting. */
void bf_heartbeat_reader_poll(bf_heartbeat_reader_t *r, bf_heartbeats_t *h, double now);

/** @brief Close and free. NULL-safe. */
void bf_heartbeat_reader_destroy(bf_heartbeat_reader_t *r);

#endif
