/*
 * telemetry.h - what the worker tells operators and the autoscaler about
 * itself: the Prometheus series of ops/METRICS.md, a window of recent
 * report latencies for the heartbeat's quantiles, and the process's own
 * CPU time and resident memory.
 *
 * The worker owns one bf_telemetry_t; the series pointers are public so
 * the hot path is one registry add, and the AI layer registers its own
 * families on the same registry (bf_telemetry_t.registry).
 *
 * @locality the loop thread, except the registry itself (thread-safe, read
 * by the HTTP thread).
 */
#ifndef BF_WORKER_TELEMETRY_H
#define BF_WORKER_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"
#include "libbf/metrics.h"

/** Recent report latencies kept for the heartbeat's quantiles. */
#define BF_TELEMETRY_WINDOW 2048

struct bf_httpd_s;

typedef struct bf_telemetry_s {
    bf_metrics_t *registry;   /* owned */
    struct bf_httpd_s *httpd; /* owned; NULL when METRICS_ADDR is off */
    bf_series_t *consumed;
    bf_metric_t *validated; /* label: status */
    bf_metric_t *dlq;       /* label: reason */
    bf_series_t *in_flight;
    bf_series_t *awaiting_ack; /* of those, results Kafka has not acknowledged */
    bf_series_t *report_duration;
    bf_series_t *report_overhead; /* a report's time outside its slowest AI call */
    /* The overhead by stage (bf_telemetry_report_stages). */
    bf_series_t *stage_claim, *stage_ai_extra, *stage_store, *stage_deliver;
    bf_series_t *redis_duration;
    bf_series_t *redis_up;
    bf_series_t *loop_lag;
    bf_series_t *partitions;
    bf_series_t *paused;
    bf_metric_t *consumer_lag; /* label: partition */
    bf_series_t *heartbeats;
    bf_series_t *registry_retries;
    bf_series_t *redis_reconnects;
    bf_series_t *redis_data_lost;   /* Redis came back without its data */
    bf_series_t *claims_taken_over; /* leases of dead workers claimed */
    bf_series_t *adopted;           /* records re-consumed into a live job */
    bf_metric_t *pauses;            /* label: reason (redis, ai, schema_registry) */
    bf_metric_t *kafka_errors;      /* labels: client, error */
    bf_metric_t *kafka_brokers;     /* label: client */
    bf_metric_t *kafka_retries;     /* label: client */
    bf_metric_t *commit_failures;   /* label: error */
    /* Ring of the last BF_TELEMETRY_WINDOW report durations (seconds). */
    double window[BF_TELEMETRY_WINDOW];
    size_t window_count, window_next;
} bf_telemetry_t;

/**
 * @brief Create the registry and declare every worker family.
 * @param program the program name for bountyfleet_build_info
 */
void bf_telemetry_init(bf_telemetry_t *t, const char *program);

/**
 * @brief Serve /metrics, /healthz and /readyz on @p addr ("host:port",
 *        port 0 picks one). Not ready until bf_telemetry_set_ready says so.
 */
bf_err_t bf_telemetry_serve(bf_telemetry_t *t, const char *addr, char *errstr,
                            size_t errstr_size);

/** @brief /readyz: 200, or 503 with @p reason. No-op when not serving. */
void bf_telemetry_set_ready(bf_telemetry_t *t, bool ready, const char *reason);

/** @brief The port served, or 0 when not serving. */
int bf_telemetry_port(const bf_telemetry_t *t);

/** @brief Stop serving. Safe to call twice. */
void bf_telemetry_stop(bf_telemetry_t *t);

/** @brief Stop serving and free the registry. Safe on a zeroed struct. */
void bf_telemetry_free(bf_telemetry_t *t);

/** @brief A report finished after @p seconds: histogram and window. */
void bf_telemetry_report_done(bf_telemetry_t *t, double seconds);

/**
 * @brief Quantiles (0..1) of the latency window; 0 when it is empty.
 * @param q  the quantiles wanted, ascending
 * @param out as many values as @p q
 */
void bf_telemetry_quantiles(const bf_telemetry_t *t, const double *q, size_t n,
                            double *out);

/**
 * @brief The process's CPU time (user + system, seconds) and resident set
 *        size (bytes), from getrusage and /proc/self/statm.
 * @returns 0, or -1 when /proc could not be read (rss is then 0).
 */
int bf_telemetry_process(double *cpu_seconds, int64_t *rss_bytes);

#endif
