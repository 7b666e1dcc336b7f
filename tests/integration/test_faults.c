/*
 * test_faults.c - the worker under injected faults (issue 8, "Hardening").
 *
 * One stack for the whole run: a librdkafka mock cluster of three brokers
 * inside this process (so the test can drive it: support/mock_cluster.h),
 * redis-server, the AI simulator and one worker. Each test is a phase: a
 * fresh batch of real disclosed reports is published at a steady rate, a
 * fault is injected while they flow, lifted, and then we check the
 * promises the design makes:
 *
 *  - nothing lost: every report of the batch has exactly one result;
 *  - nothing paid twice: the simulator billed each report's three analyses
 *    once each (GET /stats by_report is 3 for every report, and no
 *    analysis of any result failed);
 *  - the worker recovers by itself: the test never restarts it, it is
 *    still running, and the batch completes within a bound;
 *  - the metrics show what happened: /metrics, sampled during the fault
 *    and compared before and after, has the counters an operator would
 *    look at for that fault.
 *
 * The faults: (1) brokers down and up, the group coordinator among them;
 * (2) partition leaders of the reports and results topics moved;
 * (3) retriable errors injected into Produce, Fetch and OffsetCommit;
 * (4) Redis SIGKILLed and restarted on its port; (5) the AI provider
 * answering only 503s, then only 429s, in two bursts (aisim POST /faults).
 *
 * The mock brokers check an idempotent producer's sequence numbers only
 * for a transactional producer (rd_kafka_mock_validate_records returns
 * early without a TransactionalId): a Produce that gets an injected error
 * while the next request of the same partition is already in flight
 * leaves a gap a real broker would refuse (OUT_OF_ORDER_SEQUENCE_NUMBER),
 * the mock appends the later batch, and librdkafka then rightly counts
 * the failed message as "implicitly acked by subsequent batch success":
 * acknowledged, never written. So every producer of this stack (the
 * publisher and the worker) runs with one request in flight per
 * connection, the only setting under which the mock cannot do that.
 *
 * BF_FAULTS_REPORTS sets the batch size (default 300). To see why a
 * report has no result: BF_TEST_KEEP_TMP=1 keeps the logs,
 * BF_TEST_MOCK_DEBUG=1 prints what the mock brokers appended and
 * refused, BF_FAULTS_PRODUCER_X=debug=msg,eos passes one librdkafka
 * property to the publisher (with BOUNTYFLEET_LOG_LEVEL=debug in the
 * environment to see it); a failed batch prints, per missing report,
 * its partition and offset, whether a result exists on the topic after
 * all and the group's committed offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libbf/kafka.h"
#include "libbf/mem.h"
#include "support/mock_cluster.h"
#include "support/results.h"
#include "support/stack.h"

#define BROKERS    3
#define PARTITIONS 6
#define GROUP      "bountyfleet-workers"
/* Reports per second while a batch is published: a batch of 300 takes two
 * seconds, so the faults hit a run that is under way. The AI bursts
 * phase publishes slower, so reports still arrive during its second
 * burst. */
#define PUBLISH_RATE      "150"
#define PUBLISH_RATE_SLOW "40"
/* One Produce in flight per connection (see the top of this file). */
#define IN_FLIGHT_ONE "max.in.flight.requests.per.connection=1"
/* How long a batch may take to complete after its fault is lifted. */
#define RECOVERY_S 90

/* Kafka protocol ApiKeys (KIP-482 table of the protocol guide). */
#define API_PRODUCE       0
#define API_FETCH         1
#define API_OFFSET_COMMIT 8

typedef struct fixture_s {
    bf_test_mock_t mock;
    bf_stack_t s;
    bf_proc_t worker;
    bf_proc_t producer;
    bf_test_results_t res;
    bool results_open;
    int reports; /* per batch */
    char metrics_url[128];
    char ready_url[128];
    char aisim_url[512]; /* without /v1 */
} fixture_t;

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* The stack                                                           */
/* ------------------------------------------------------------------ */

/* Leaders spread over the brokers (partition p on broker p % 3 + 1) and
 * the group coordinator on broker 1, so each fault knows what it hits. */
static void place_leaders(fixture_t *f, int shift)
{
    static const char *const topics[] = {BF_TOPIC_REPORTS, BF_TOPIC_VALIDATIONS,
                                         BF_TOPIC_DLQ, BF_TOPIC_HEARTBEATS};
    for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++)
        for (int p = 0; p < PARTITIONS; p++)
            assert_int_equal(rd_kafka_mock_partition_set_leader(
                                 f->mock.mc, topics[t], p, (p + shift) % BROKERS + 1),
                             RD_KAFKA_RESP_ERR_NO_ERROR);
}

static int setup(void **state)
{
    fixture_t *f = bf_calloc(1, sizeof(*f));
    const char *env = getenv("BF_FAULTS_REPORTS");
    f->reports = env ? atoi(env) : 300;
    if (f->reports < 20)
        f->reports = 20;
    if (bf_test_mock_start(&f->mock, BROKERS, PARTITIONS) != 0)
        goto fail;
    rd_kafka_mock_coordinator_set(f->mock.mc, "group", GROUP, 1);
    const char *aisim_args[] = {"--latency-ms", "20", NULL};
    if (bf_stack_start_with_brokers(&f->s, f->mock.brokers, aisim_args) != 0)
        goto fail;
    snprintf(f->aisim_url, sizeof(f->aisim_url), "%s", f->s.ai_base_url);
    char *v1 = strstr(f->aisim_url, "/v1");
    if (v1)
        *v1 = '\0';
    int port = bf_test_free_port();
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(f->metrics_url, sizeof(f->metrics_url), "http://%s/metrics", addr);
    snprintf(f->ready_url, sizeof(f->ready_url), "http://%s/readyz", addr);
    /* Exact duplicates only (the batches reuse the 450 samples under new
     * titles, which near-duplicate detection would rightly pair up);
     * statistics every second for the broker gauges. */
    const char *wenv[] = {"BOUNTYFLEET_NEAR_DUP_THRESHOLD=off", NULL};
    const char *wargs[] = {"--redis-timeout",
                           "0.5",
                           "-X",
                           "statistics.interval.ms=1000",
                           "-X",
                           IN_FLIGHT_ONE,
                           "--heartbeat-interval",
                           "1",
                           NULL};
    if (bf_stack_start_worker(&f->s, &f->worker, "faults-0", addr, wenv, wargs) != 0)
        goto fail;
    /* Ready: it joined the group and owns the partitions. */
    double deadline = bf_test_now() + 30 * bf_test_timeout_mult();
    long status = 0;
    while (status != 200 && bf_test_now() < deadline) {
        sleep_s(0.2);
        free(bf_test_http_get(f->ready_url, &status));
    }
    if (status != 200) {
        fprintf(stderr, "the worker did not turn ready\n");
        bf_proc_dump_log(&f->worker, 40);
        bf_proc_stop(&f->worker, SIGKILL, 5);
        goto fail;
    }
    *state = f;
    return 0;
fail:
    bf_stack_stop(&f->s);
    bf_test_mock_stop(&f->mock);
    free(f);
    return -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (!f)
        return 0;
    bf_proc_stop(&f->producer, SIGTERM, 10);
    int st = bf_proc_stop(&f->worker, SIGTERM, 60);
    if (st != -1 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
        fprintf(stderr, "worker did not stop cleanly (status %d)\n", st);
    if (f->results_open)
        bf_test_results_close(&f->res);
    bf_stack_stop(&f->s);
    bf_test_mock_stop(&f->mock);
    free(f);
    return 0;
}

static void fail_with_logs(fixture_t *f, const char *what)
{
    bf_stack_dump_logs(&f->s);
    bf_proc_dump_log(&f->worker, 60);
    long status = 0;
    char *text = bf_test_http_get(f->metrics_url, &status);
    if (text) { /* the worker's own account of where it is stuck */
        const char *const gauges[] = {
            "bountyfleet_reports_in_flight",   "bountyfleet_consumer_paused",
            "bountyfleet_partitions_assigned", "bountyfleet_redis_up",
            "bountyfleet_ai_calls_in_flight",  "bountyfleet_reports_consumed_total"};
        for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
            fprintf(stderr, "%s %g\n", gauges[i], bf_test_metric_value(text, gauges[i]));
    }
    free(text);
    fail_msg("%s", what);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

static char *get_metrics(fixture_t *f)
{
    long status = 0;
    char *text = bf_test_http_get(f->metrics_url, &status);
    if (!text || status != 200)
        fail_with_logs(f, "the worker's /metrics does not answer");
    return text;
}

/* The sum of every series of @p family whose labels contain all of
 * @p must (e.g. "outcome=\"error\""; NULL for any). */
static double metric_sum(const char *text, const char *family, const char *must)
{
    double sum = 0;
    size_t len = strlen(family);
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > len && strncmp(line, family, len) == 0 &&
            (line[len] == '{' || line[len] == ' ')) {
            char buf[1024];
            snprintf(buf, sizeof(buf), "%.*s", (int)n, line);
            const char *space = strrchr(buf, ' ');
            if (space && (!must || strstr(buf, must)))
                sum += strtod(space + 1, NULL);
        }
        line = end ? end + 1 : NULL;
    }
    return sum;
}

/* What the worker showed while a fault lasted. */
typedef struct watch_s {
    double max_paused;
    double max_circuit;
    double min_redis_up;
    double max_brokers_down;
    int not_ready; /* samples where /readyz was not 200 */
    int samples;
} watch_t;

/* Hold a fault for @p seconds, sampling /metrics and /readyz meanwhile. */
static void hold_and_watch(fixture_t *f, double seconds, watch_t *w)
{
    double end = bf_test_now() + seconds;
    if (w->samples == 0) {
        w->min_redis_up = 1;
    }
    while (bf_test_now() < end) {
        char *text = get_metrics(f);
        double v = bf_test_metric_value(text, "bountyfleet_consumer_paused");
        if (v > w->max_paused)
            w->max_paused = v;
        v = metric_sum(text, "bountyfleet_ai_circuit_state", NULL);
        if (v > w->max_circuit)
            w->max_circuit = v;
        v = bf_test_metric_value(text, "bountyfleet_redis_up");
        if (v >= 0 && v < w->min_redis_up)
            w->min_redis_up = v;
        v = metric_sum(text, "bountyfleet_kafka_brokers_down", NULL);
        if (v > w->max_brokers_down)
            w->max_brokers_down = v;
        free(text);
        long status = 0;
        free(bf_test_http_get(f->ready_url, &status));
        w->not_ready += status != 200;
        w->samples++;
        sleep_s(0.25);
    }
}

/* ------------------------------------------------------------------ */
/* A batch                                                             */
/* ------------------------------------------------------------------ */

typedef struct batch_s {
    char prefix[16];
    char *before; /* /metrics before the batch */
    char *after;
    double started, completed;
} batch_t;

/* Publish a batch "<prefix>-<i>" at PUBLISH_RATE in the background and
 * wait until the first results arrive: the run is under way. */
static void batch_start(fixture_t *f, batch_t *b, const char *prefix, const char *rate)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->prefix, sizeof(b->prefix), "%s", prefix);
    if (!f->results_open) {
        bf_test_results_open(&f->res, f->s.brokers, PARTITIONS);
        f->results_open = true;
    }
    b->before = get_metrics(f);
    char file[400], bin[512];
    snprintf(file, sizeof(file), "%s/%s.jsonl", f->s.tmpdir, prefix);
    bf_test_write_reports(file, prefix, f->reports, 1);
    /* BF_FAULTS_PRODUCER_X: one more librdkafka property for the
     * publisher, e.g. debug=msg,eos to see its batches and sequences. */
    const char *px = getenv("BF_FAULTS_PRODUCER_X");
    const char *argv[12] = {bf_test_bin("bountyfleet-producer", bin, sizeof(bin)),
                            "-b",
                            f->s.brokers,
                            "--rate",
                            rate,
                            "-q",
                            "-X",
                            IN_FLIGHT_ONE};
    size_t n = 8;
    if (px) {
        argv[n++] = "-X";
        argv[n++] = px;
    }
    argv[n++] = file;
    argv[n] = NULL;
    char name[32];
    snprintf(name, sizeof(name), "producer-%s", prefix);
    assert_int_equal(bf_proc_start(&f->producer, name, f->s.tmpdir, argv, NULL, false, 5),
                     0);
    b->started = bf_test_now();
    size_t had = json_object_size(f->res.by_id);
    if (bf_test_results_wait(&f->res, had + 10, 60) < had + 10)
        fail_with_logs(f, "no results before the fault");
}

/* ------------------------------------------------------------------ */
/* When a report has no result: where it is and where the group is     */
/* ------------------------------------------------------------------ */

/* A consumer outside any group, assigned to every partition of @p topic
 * from the beginning, that reports the end of each partition. */
static rd_kafka_t *eof_reader(fixture_t *f, const char *topic)
{
    char group[64];
    snprintf(group, sizeof(group), "faults-diagnosis-%ld", (long)getpid());
    const char *props[] = {
        "group.id", group, "enable.auto.commit", "false", "enable.partition.eof",
        "true",     NULL};
    return bf_test_topic_reader_with(f->s.brokers, topic, PARTITIONS, props);
}

/* Read @p topic to its end; @returns report id -> [partition, offset] of
 * the records whose key (reports) or report_id (results) has @p prefix. */
static json_t *scan_topic(fixture_t *f, const char *topic, bool results,
                          const char *prefix)
{
    json_t *where = json_object();
    rd_kafka_t *rk = eof_reader(f, topic);
    int eofs = 0;
    bool eof[PARTITIONS] = {false};
    double deadline = bf_test_now() + 30;
    while (eofs < PARTITIONS && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < PARTITIONS && !eof[m->partition]) {
                eof[m->partition] = true;
                eofs++;
            }
        } else if (!m->err) {
            char id[128] = "";
            if (results) {
                json_t *obj = NULL;
                char errstr[256];
                if (bf_codec_decode(f->res.codec, BF_RECORD_VALIDATION, m->payload,
                                    m->len, &obj, NULL, errstr, sizeof(errstr)) == BF_OK)
                    snprintf(id, sizeof(id), "%s",
                             json_string_value(json_object_get(obj, "report_id")));
                json_decref(obj);
            } else if (m->key) {
                snprintf(id, sizeof(id), "%.*s", (int)m->key_len, (const char *)m->key);
            }
            if (strncmp(id, prefix, strlen(prefix)) == 0)
                json_object_set_new(
                    where, id,
                    json_pack("[i,I]", (int)m->partition, (json_int_t)m->offset));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return where;
}

/* Print, for each report of the batch without a result, where it is in
 * the reports topic and whether a result for it is on the validations
 * topic after all (then the test's reader missed it, not the worker);
 * and per reports partition the log end and the group's committed
 * offset: committed past a report that never got a result is a loss, a
 * committed offset at or before it is a stall a restart would resume. */
static void explain_missing(fixture_t *f, const char *prefix)
{
    json_t *reports = scan_topic(f, BF_TOPIC_REPORTS, false, prefix);
    json_t *results = scan_topic(f, BF_TOPIC_VALIDATIONS, true, prefix);
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->s.brokers, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", GROUP, errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(l, BF_TOPIC_REPORTS, p);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, 10000);
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t lo = -1, hi = -1;
        rd_kafka_query_watermark_offsets(rk, BF_TOPIC_REPORTS, p, &lo, &hi, 5000);
        fprintf(stderr, "[diag] reports [%d]: log end %lld, group committed %lld%s\n", p,
                (long long)hi, (long long)l->elems[p].offset,
                err ? " (committed() failed)" : "");
    }
    for (int i = 0; i < f->reports; i++) {
        char rid[64];
        snprintf(rid, sizeof(rid), "%s-%d", prefix, i);
        if (json_object_get(f->res.by_id, rid))
            continue;
        json_t *at = json_object_get(reports, rid);
        const char *on_topic =
            json_object_get(results, rid)
                ? "a result is on the topic: the test's reader missed it"
                : "no result on the topic";
        if (!at) {
            /* Acknowledged to the publisher yet not in the log: lost
             * before any consumer could see it (see the top of this file). */
            fprintf(stderr, "[diag] %s: NOT in the reports log; %s\n", rid, on_topic);
            continue;
        }
        int p = (int)json_integer_value(json_array_get(at, 0));
        long long off = (long long)json_integer_value(json_array_get(at, 1));
        long long committed = (long long)l->elems[p].offset;
        fprintf(stderr,
                "[diag] %s: reports [%d] offset %lld, group committed %lld: %s; %s\n",
                rid, p, off, committed,
                committed > off ? "COMMITTED PAST IT (lost)"
                                : "not committed (a restart would deliver it)",
                on_topic);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    json_decref(reports);
    json_decref(results);
}

/* Every report of the batch has exactly one result, the simulator billed
 * each of its successful analyses once and nothing else, and at most
 * @p failed_allowed results carry an analysis that failed (0 but for the
 * AI bursts: see there). */
static void batch_check(fixture_t *f, batch_t *b, int failed_allowed)
{
    double deadline = bf_test_now() + 120 * bf_test_timeout_mult();
    int status = -1;
    while (!bf_proc_exited(&f->producer, &status) && bf_test_now() < deadline)
        sleep_s(0.05);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bf_proc_dump_log(&f->producer, 20);
        fail_msg("the producer failed (status %d)", status);
    }
    /* Results of earlier batches are in by_id already. */
    size_t want = 0;
    const char *id;
    json_t *v;
    json_object_foreach(f->res.by_id, id, v) want +=
        strncmp(id, b->prefix, strlen(b->prefix)) != 0;
    want += (size_t)f->reports;
    size_t got = bf_test_results_wait(&f->res, want, RECOVERY_S);
    b->completed = bf_test_now();
    if (bf_proc_exited(&f->worker, NULL))
        fail_with_logs(f, "the worker died");
    json_t *stats = bf_test_aisim_stats(&f->s);
    json_t *by_report = json_object_get(stats, "by_report");
    int missing = 0, repeated = 0, failed = 0, billed_wrong = 0;
    for (int i = 0; i < f->reports; i++) {
        char rid[64];
        snprintf(rid, sizeof(rid), "%s-%d", b->prefix, i);
        json_t *r = json_object_get(f->res.by_id, rid);
        if (!r) {
            if (missing++ < 5)
                fprintf(stderr, "no result for %s\n", rid);
            continue;
        }
        json_int_t records = json_integer_value(json_object_get(f->res.count, rid));
        if (records != 1 && repeated++ < 5)
            fprintf(stderr, "%s has %lld result records\n", rid, (long long)records);
        json_t *analyses = json_object_get(r, "analyses");
        size_t k;
        json_t *a;
        json_int_t succeeded = 0;
        json_array_foreach(analyses, k, a) succeeded +=
            json_is_null(json_object_get(a, "error"));
        bool ok = json_array_size(analyses) == 3 && succeeded == 3;
        if (!ok && failed++ < 5) {
            char *text = json_dumps(r, JSON_COMPACT);
            fprintf(stderr, "%s has a failed analysis: %s\n", rid, text);
            free(text);
        }
        json_int_t billed = json_integer_value(json_object_get(by_report, rid));
        if (billed != succeeded && billed_wrong++ < 5)
            fprintf(stderr, "%s billed %lld analyses, %lld succeeded\n", rid,
                    (long long)billed, (long long)succeeded);
    }
    json_decref(stats);
    b->after = get_metrics(f);
    fprintf(stderr,
            "[%s] %d reports: %zu results in %.1f s (of %zu wanted); missing %d, "
            "repeated %d, with a failed analysis %d, billed other than once per "
            "successful analysis %d\n",
            b->prefix, f->reports, got, b->completed - b->started, want, missing,
            repeated, failed, billed_wrong);
    if (missing)
        explain_missing(f, b->prefix);
    if (missing || repeated || failed > failed_allowed || billed_wrong)
        fail_with_logs(f, "a promise broke under the fault (see above)");
}

/* How much a counter family grew during the batch. */
static double grew(const batch_t *b, const char *family, const char *must)
{
    return metric_sum(b->after, family, must) - metric_sum(b->before, family, must);
}

static void batch_free(batch_t *b)
{
    free(b->before);
    free(b->after);
}

/* What the batch's fault added to each counter family, series by series
 * (the numbers an operator would see). */
static void print_growth(const batch_t *b, const char *const families[])
{
    for (const char *const *fam = families; *fam; fam++) {
        size_t len = strlen(*fam);
        for (const char *line = b->after; line && *line;) {
            const char *end = strchr(line, '\n');
            size_t n = end ? (size_t)(end - line) : strlen(line);
            char series[512];
            snprintf(series, sizeof(series), "%.*s", (int)n, line);
            char *space = strrchr(series, ' ');
            if (space && strncmp(series, *fam, len) == 0 &&
                (series[len] == '{' || series[len] == ' ')) {
                *space = '\0';
                double before = bf_test_metric_value(b->before, series);
                double delta = strtod(space + 1, NULL) - (before > 0 ? before : 0);
                if (delta != 0)
                    fprintf(stderr, "[%s]   %s +%g\n", b->prefix, series, delta);
            }
            line = end ? end + 1 : NULL;
        }
    }
}

/* ------------------------------------------------------------------ */
/* The scenarios                                                       */
/* ------------------------------------------------------------------ */

/* Broker 2 leads partitions 1 and 4 of every topic; broker 1 leads 0 and
 * 3 and coordinates the group. Each goes down for a few seconds. */
static void test_brokers_down_and_up_lose_nothing(void **state)
{
    fixture_t *f = *state;
    batch_t b;
    watch_t w = {0};
    batch_start(f, &b, "bd", PUBLISH_RATE);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->mock.mc, 2), 0);
    hold_and_watch(f, 4, &w);
    assert_int_equal(rd_kafka_mock_broker_set_up(f->mock.mc, 2), 0);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->mock.mc, 1), 0);
    hold_and_watch(f, 4, &w);
    assert_int_equal(rd_kafka_mock_broker_set_up(f->mock.mc, 1), 0);
    batch_check(f, &b, 0);
    const char *fams[] = {"bountyfleet_kafka_errors_total",
                          "bountyfleet_kafka_request_retries_total",
                          "bountyfleet_kafka_commit_failures_total",
                          "bountyfleet_kafka_brokers_down", NULL};
    print_growth(&b, fams);
    /* The gauge is sampled (statistics every second) and a broker only
     * counts when the client needs it, so it is shown, not required; the
     * lost connections are counted for sure. */
    fprintf(stderr, "[bd]   most brokers down seen (consumer + producer): %g\n",
            w.max_brokers_down);
    assert_true(grew(&b, "bountyfleet_kafka_errors_total", "error=\"_TRANSPORT\"") > 0);
    batch_free(&b);
}

/* Leaders of every partition move to the next broker, twice, while
 * reports are consumed and results produced. */
static void test_leader_changes_lose_nothing(void **state)
{
    fixture_t *f = *state;
    batch_t b;
    watch_t w = {0};
    batch_start(f, &b, "lc", PUBLISH_RATE);
    place_leaders(f, 1);
    hold_and_watch(f, 1.5, &w);
    place_leaders(f, 2);
    hold_and_watch(f, 1.5, &w);
    batch_check(f, &b, 0);
    /* librdkafka follows a moved leader through a metadata refresh; the
     * metrics show only what surfaced as an error or a retry, if any. */
    const char *fams[] = {"bountyfleet_kafka_errors_total",
                          "bountyfleet_kafka_request_retries_total", NULL};
    print_growth(&b, fams);
    batch_free(&b);
}

/* Retriable errors on the requests the worker's clients make: Produce
 * (results, heartbeats), Fetch (reports) and OffsetCommit. */
static void test_injected_request_errors_lose_nothing(void **state)
{
    fixture_t *f = *state;
    batch_t b;
    watch_t w = {0};
    batch_start(f, &b, "re", PUBLISH_RATE);
    rd_kafka_mock_push_request_errors(
        f->mock.mc, API_PRODUCE, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
    /* REQUEST_TIMED_OUT on Fetch once looked like it made the worker miss
     * a record or two (299 of 300 "acknowledged"). It never did: the
     * record was not in the log, and the list without it failed the same
     * way (re-139, reports [4], msgid 19 implicitly acked). Whichever
     * client takes the six injected Produce errors is a matter of timing;
     * when the publisher takes them the mock can lose a publisher record
     * as described at the top of this file (publisher:
     * "reports [2] 1 message(s) implicitly acked by subsequent batch
     * success (msgids 25..25, last acked 28)"; mock: BaseSeq 25 appended
     * at offset 24 right after BaseSeq 24 was refused with the injected
     * LEADER_NOT_AVAILABLE; partition 2 ended at 47 with 48 records keyed
     * to it; the group had committed 47 on every run, i.e. exactly the
     * log end: nothing skipped, nothing waiting for a restart). */
    rd_kafka_mock_push_request_errors(
        f->mock.mc, API_FETCH, 5, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    rd_kafka_mock_push_request_errors(
        f->mock.mc, API_OFFSET_COMMIT, 4, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    hold_and_watch(f, 3, &w);
    batch_check(f, &b, 0);
    const char *fams[] = {"bountyfleet_kafka_errors_total",
                          "bountyfleet_kafka_request_retries_total",
                          "bountyfleet_kafka_commit_failures_total", NULL};
    print_growth(&b, fams);
    /* The errors are the cluster's, taken by whichever client asks next
     * (the test's publisher and reader too); the worker's share shows as
     * requests sent again. */
    assert_true(grew(&b, "bountyfleet_kafka_request_retries_total", NULL) +
                    grew(&b, "bountyfleet_kafka_commit_failures_total", NULL) >
                0);
    batch_free(&b);
}

/* Redis SIGKILLed mid-run and started again on its port (empty: the
 * stack's Redis keeps nothing on disk). Fail-closed: the worker pauses
 * rather than validate without deduplication, then resumes. */
static void test_redis_killed_and_restarted_loses_nothing(void **state)
{
    fixture_t *f = *state;
    batch_t b;
    watch_t w = {0};
    batch_start(f, &b, "rk", PUBLISH_RATE);
    bf_proc_stop(&f->s.redis, SIGKILL, 5);
    hold_and_watch(f, 3, &w);
    assert_int_equal(bf_stack_restart_redis(&f->s), 0);
    batch_check(f, &b, 0);
    const char *fams[] = {"bountyfleet_redis_reconnects_total",
                          "bountyfleet_consumer_pauses_total", NULL};
    print_growth(&b, fams);
    fprintf(stderr,
            "[rk]   redis_up min %g, paused max %g, not ready in %d of %d samples\n",
            w.min_redis_up, w.max_paused, w.not_ready, w.samples);
    assert_true(w.min_redis_up == 0);
    assert_true(w.not_ready > 0);
    assert_true(grew(&b, "bountyfleet_redis_reconnects_total", NULL) >= 1);
    assert_true(grew(&b, "bountyfleet_consumer_pauses_total", "reason=\"redis\"") >= 1);
    batch_free(&b);
}

/* POST /faults on the simulator. @returns the HTTP status. */
static long set_ai_faults(fixture_t *f, const char *json)
{
    char url[600];
    snprintf(url, sizeof(url), "%s/faults", f->aisim_url);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    fclose(devnull);
    return status;
}

/* The provider fails every call for a few seconds, twice: 429s (rate
 * limited: back off as told) and 503s (an outage: the breaker opens,
 * fetching pauses). No report is dead-lettered or answered with a failed analysis,
 * and errors are not billed. */
static void test_ai_error_bursts_lose_nothing_and_pay_once(void **state)
{
    fixture_t *f = *state;
    batch_t b;
    watch_t w = {0};
    batch_start(f, &b, "ai", PUBLISH_RATE_SLOW);
    /* 429s first: a rate limit does not open the breaker, so the calls
     * keep meeting it; after the 503s the breaker stays open for its
     * cool-down (10 s), longer than a second burst would last. */
    assert_int_equal(set_ai_faults(f, "{\"error_rate\":1,\"error_status\":429}"), 200);
    hold_and_watch(f, 3, &w);
    assert_int_equal(set_ai_faults(f, "{\"error_rate\":0}"), 200);
    hold_and_watch(f, 1, &w);
    assert_int_equal(set_ai_faults(f, "{\"error_rate\":1,\"error_status\":503}"), 200);
    hold_and_watch(f, 3, &w);
    assert_int_equal(set_ai_faults(f, "{\"error_rate\":0}"), 200);
    /* A 429 does not use up one of a call's retries (worker/ai.c), so a
     * call that met 429s in the first burst still waits the 503s out:
     * no failed analysis. (When 429s counted, 5 or 6 of 300 reports were
     * published NEEDS_REVIEW with one analysis failed.) */
    batch_check(f, &b, 0);
    fprintf(
        stderr,
        "[ai]   ai errors +%g, rate limited +%g, ok +%g; circuit max %g, paused max %g\n",
        grew(&b, "bountyfleet_ai_requests_total", "outcome=\"error\""),
        grew(&b, "bountyfleet_ai_requests_total", "outcome=\"rate_limited\""),
        grew(&b, "bountyfleet_ai_requests_total", "outcome=\"ok\""), w.max_circuit,
        w.max_paused);
    assert_true(grew(&b, "bountyfleet_ai_requests_total", "outcome=\"error\"") > 0);
    assert_true(grew(&b, "bountyfleet_ai_requests_total", "outcome=\"rate_limited\"") >
                0);
    assert_true(w.max_circuit == 2);
    assert_true(grew(&b, "bountyfleet_consumer_pauses_total", "reason=\"ai\"") >= 1);
    /* The worker's own count of successful calls: at most one per analysis. */
    assert_true(grew(&b, "bountyfleet_ai_requests_total", "outcome=\"ok\"") <=
                3.0 * f->reports);
    batch_free(&b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brokers_down_and_up_lose_nothing),
        cmocka_unit_test(test_leader_changes_lose_nothing),
        cmocka_unit_test(test_injected_request_errors_lose_nothing),
        cmocka_unit_test(test_redis_killed_and_restarted_loses_nothing),
        cmocka_unit_test(test_ai_error_bursts_lose_nothing_and_pay_once),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, teardown);
}
