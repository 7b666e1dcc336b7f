/*
 * telemetry.c - the worker's metrics, latency window and process stats
 * (see telemetry.h). The names and labels are the contract in
 * ops/METRICS.md; tests/integration/test_worker.c checks a live /metrics
 * against that file.
 */
#include "worker/telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "libbf/config.h"
#include "libbf/httpd.h"
#include "libbf/mem.h"

/* Event-loop lag: a healthy loop is late by well under a millisecond; the
 * interesting range is 100 us (busy) to seconds (something blocks). */
static const double lag_buckets[] = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,    0.25,  0.5,    1,     2.5,  5};

/* The worker's own share of a report: well under a millisecond when the
 * loop is idle, tens of milliseconds when it is saturated. */
static const double overhead_buckets[] = {0.0005, 0.001, 0.002, 0.003, 0.005,
                                          0.0075, 0.01,  0.025, 0.05,  0.1,
                                          0.25,   0.5,   1,     2.5};

void bf_telemetry_init(bf_telemetry_t *t, const char *program)
{
    memset(t, 0, sizeof(*t));
    bf_metrics_t *m = bf_metrics_new();
    t->registry = m;
    bf_series_set(bf_metric_series(bf_metrics_gauge(m, "bountyfleet_build_info",
                                                    "Always 1; labels say what runs.",
                                                    "version,program"),
                                   bf_version(), program),
                  1);
    t->consumed = bf_metric_series(
        bf_metrics_counter(m, "bountyfleet_reports_consumed_total",
                           "Records read from the reports topic.", NULL));
    t->validated = bf_metrics_counter(m, "bountyfleet_reports_validated_total",
                                      "Results published, by status.", "status");
    t->dlq = bf_metrics_counter(m, "bountyfleet_reports_dlq_total",
                                "Records dead-lettered, by error code.", "reason");
    t->in_flight = bf_metric_series(bf_metrics_gauge(
        m, "bountyfleet_reports_in_flight", "Reports consumed and not yet done.", NULL));
    t->awaiting_ack = bf_metric_series(bf_metrics_gauge(
        m, "bountyfleet_reports_awaiting_ack",
        "Reports in flight whose result or dead letter Kafka has and has not "
        "acknowledged yet (outside --max-in-flight, up to as many again).",
        NULL));
    t->report_duration = bf_metric_series(
        bf_metrics_histogram(m, "bountyfleet_report_duration_seconds",
                             "Consume to result delivered, seconds.", NULL, NULL, 0));
    t->report_overhead = bf_metric_series(bf_metrics_histogram(
        m, "bountyfleet_report_overhead_seconds",
        "Of an analysed report's time, what was not its slowest AI call: decoding, "
        "Redis, encoding, publishing, waiting in the loop.",
        NULL, overhead_buckets, sizeof(overhead_buckets) / sizeof(overhead_buckets[0])));
    bf_metric_t *stages = bf_metrics_histogram(
        m, "bountyfleet_report_stage_seconds",
        "The overhead of an analysed report by stage: claim (consumed to its analyses "
        "started: decode, claim, near-duplicate check), ai_extra (its analyses' span "
        "beyond the slowest one), store (analyses done to its first produce: "
        "encoding, the Redis store), deliver (its first produce to acknowledged by "
        "Kafka, "
        "retries included).",
        "stage", overhead_buckets,
        sizeof(overhead_buckets) / sizeof(overhead_buckets[0]));
    t->stage_claim = bf_metric_series(stages, "claim");
    t->stage_ai_extra = bf_metric_series(stages, "ai_extra");
    t->stage_store = bf_metric_series(stages, "store");
    t->stage_deliver = bf_metric_series(stages, "deliver");
    /* The AI families (bountyfleet_ai_*) are the AI layer's (ai.c). */
    t->redis_duration = bf_metric_series(bf_metrics_histogram(
        m, "bountyfleet_redis_request_duration_seconds", "Redis round trips, seconds.",
        NULL, overhead_buckets, sizeof(overhead_buckets) / sizeof(overhead_buckets[0])));
    t->redis_up = bf_metric_series(
        bf_metrics_gauge(m, "bountyfleet_redis_up", "1 when connected to Redis.", NULL));
    t->loop_lag = bf_metric_series(bf_metrics_histogram(
        m, "bountyfleet_event_loop_lag_seconds", "How late the loop's timers fire.", NULL,
        lag_buckets, sizeof(lag_buckets) / sizeof(lag_buckets[0])));
    t->partitions = bf_metric_series(bf_metrics_gauge(
        m, "bountyfleet_partitions_assigned", "Partitions this worker owns.", NULL));
    t->paused = bf_metric_series(bf_metrics_gauge(
        m, "bountyfleet_consumer_paused",
        "1 when fetching is paused (cap, Redis or providers down).", NULL));
    t->consumer_lag = bf_metrics_gauge(
        m, "bountyfleet_consumer_lag",
        "Log end minus this worker's position, per partition.", "partition");
    t->heartbeats = bf_metric_series(bf_metrics_counter(
        m, "bountyfleet_heartbeats_sent_total", "Heartbeat records produced.", NULL));
    t->registry_retries = bf_metric_series(bf_metrics_counter(
        m, "bountyfleet_schema_lookup_retries_total",
        "Reports whose schema lookup failed transiently and will be retried.", NULL));
    t->redis_reconnects = bf_metric_series(bf_metrics_counter(
        m, "bountyfleet_redis_reconnects_total",
        "Connections to Redis established again after one was lost.", NULL));
    t->redis_data_lost = bf_metric_series(bf_metrics_counter(
        m, "bountyfleet_redis_data_lost_total",
        "Times Redis was found without the data it held (restarted empty or flushed): "
        "results, fingerprints and leases are gone, so redelivered reports are "
        "analysed and published again.",
        NULL));
    t->adopted = bf_metric_series(bf_metrics_counter(
        m, "bountyfleet_reports_adopted_total",
        "Reports consumed again while their job from an earlier assignment of the "
        "partition still ran: that job carries on, with no second analysis or result.",
        NULL));
    t->claims_taken_over = bf_metric_series(bf_metrics_counter(
        m, "bountyfleet_claims_taken_over_total",
        "Reports claimed from a worker that stopped renewing its liveness (it died "
        "with them in flight).",
        NULL));
    t->pauses = bf_metrics_counter(
        m, "bountyfleet_consumer_pauses_total",
        "Times fetching paused because a dependency was unavailable, by reason.",
        "reason");
    /* Kafka, from librdkafka's error callback, statistics and commit
     * results: the client library retries on its own, so these are the
     * only trace of a broker outage or of failing requests. */
    t->kafka_errors = bf_metrics_counter(
        m, "bountyfleet_kafka_errors_total",
        "Errors librdkafka reported (broker down, all brokers down, ...), by client "
        "and error name.",
        "client,error");
    t->kafka_brokers = bf_metrics_gauge(
        m, "bountyfleet_kafka_brokers_down",
        "Brokers this client needs and cannot reach (statistics).", "client");
    t->kafka_retries = bf_metrics_counter(
        m, "bountyfleet_kafka_request_retries_total",
        "Kafka requests the client sent again after an error (statistics).", "client");
    t->commit_failures = bf_metrics_counter(
        m, "bountyfleet_kafka_commit_failures_total",
        "Offset commits that failed (retried by the next commit), by error name.",
        "error");
}

bf_err_t bf_telemetry_serve(bf_telemetry_t *t, const char *addr, char *errstr,
                            size_t errstr_size)
{
    bf_err_t err = bf_httpd_start(&t->httpd, addr, t->registry, errstr, errstr_size);
    if (err == BF_OK)
        bf_httpd_set_ready(t->httpd, false, "starting");
    return err;
}

void bf_telemetry_set_ready(bf_telemetry_t *t, bool ready, const char *reason)
{
    if (t->httpd)
        bf_httpd_set_ready(t->httpd, ready, reason);
}

int bf_telemetry_port(const bf_telemetry_t *t)
{
    return t->httpd ? bf_httpd_port(t->httpd) : 0;
}

void bf_telemetry_stop(bf_telemetry_t *t)
{
    bf_httpd_stop(t->httpd);
    t->httpd = NULL;
}

void bf_telemetry_free(bf_telemetry_t *t)
{
    bf_telemetry_stop(t);
    if (t->registry)
        bf_metrics_destroy(t->registry);
    t->registry = NULL;
}

void bf_telemetry_report_done(bf_telemetry_t *t, double seconds)
{
    bf_series_observe(t->report_duration, seconds);
    t->window[t->window_next] = seconds;
    t->window_next = (t->window_next + 1) % BF_TELEMETRY_WINDOW;
    if (t->window_count < BF_TELEMETRY_WINDOW)
        t->window_count++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank quantiles of a sorted copy: the window is at most 2,048
 * values and this runs once per heartbeat. */
void bf_telemetry_quantiles(const bf_telemetry_t *t, const double *q, size_t n,
                            double *out)
{
    size_t c = t->window_count;
    if (c == 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = 0;
        return;
    }
    double *v = bf_malloc(c * sizeof(*v));
    memcpy(v, t->window, c * sizeof(*v));
    qsort(v, c, sizeof(*v), cmp_double);
    for (size_t i = 0; i < n; i++) {
        size_t rank = (size_t)(q[i] * (double)c + 0.999999);
        if (rank < 1)
            rank = 1;
        if (rank > c)
            rank = c;
        out[i] = v[rank - 1];
    }
    free(v);
}

int bf_telemetry_process(double *cpu_seconds, int64_t *rss_bytes)
{
    struct rusage ru;
    *cpu_seconds = 0;
    *rss_bytes = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        *cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    /* statm: size resident shared text lib data dt, in pages. */
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long long size = 0, resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    if (n != 2)
        return -1;
    *rss_bytes = (int64_t)resident * (int64_t)sysconf(_SC_PAGESIZE);
    return 0;
}
