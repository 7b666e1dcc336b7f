/*
 * test_worker.c - the worker on the real local stack (dev broker, Redis,
 * AI simulator), one story per test:
 *
 *  - its /metrics passes promtool and names every worker metric of
 *    ops/METRICS.md; /readyz turns ready; its heartbeats decode;
 *  - each class of poison record lands in the DLQ with its reason headers
 *    and original bytes, and the worker stays up;
 *  - two workers racing on exact duplicates elect exactly one original;
 *  - Redis stopped and restarted mid-run (fail-closed) loses nothing;
 *  - SIGTERM during load drains, exits 0, and a successor loses nothing;
 *  - (label "long", run as `test_worker chaos`) a worker SIGKILLed at
 *    random moments and restarted: every report gets a result and no
 *    finished report is analysed again. BF_CHAOS_REPORTS sets the size
 *    (default 3,000; the run is 20,000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libbf/buf.h"
#include "libbf/codec.h"
#include "libbf/mem.h"
#include "support/results.h"
#include "support/stack.h"

#define MAX_WORKERS 2

typedef struct fixture_s {
    bf_stack_t s;
    int partitions;
    bf_proc_t workers[MAX_WORKERS];
    bf_codec_t *codec;
} fixture_t;

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static fixture_t *fixture_new(int partitions, const char *latency_ms)
{
    fixture_t *f = bf_calloc(1, sizeof(*f));
    f->partitions = partitions;
    const char *aisim_args[] = {"--latency-ms", latency_ms, NULL};
    if (bf_stack_start(&f->s, partitions, aisim_args) != 0) {
        free(f);
        return NULL;
    }
    char errstr[256];
    f->codec = bf_codec_new(errstr, sizeof(errstr));
    return f;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (!f)
        return 0;
    for (int i = 0; i < MAX_WORKERS; i++)
        bf_proc_stop(&f->workers[i], SIGTERM, 30);
    bf_stack_stop(&f->s);
    bf_codec_destroy(f->codec);
    free(f);
    return 0;
}

/* Start worker @p i with a fixed id (so a restart is the same worker) and
 * @p extra flags (NULL-terminated, may be NULL). */
static void start_worker(fixture_t *f, int i, const char *const *extra,
                         const char *metrics_addr)
{
    char name[32];
    snprintf(name, sizeof(name), "tw-%d", i);
    assert_int_equal(
        bf_stack_start_worker(&f->s, &f->workers[i], name, metrics_addr, NULL, extra), 0);
}

/* ------------------------------------------------------------------ */
/* Reports in, results out                                             */
/* ------------------------------------------------------------------ */

static void run_producer(fixture_t *f, const char *file)
{
    char bin[512];
    const char *argv[] = {bf_test_bin("bountyfleet-producer", bin, sizeof(bin)), "-b",
                          f->s.brokers, file, NULL};
    bf_proc_t p;
    assert_int_equal(bf_proc_start(&p, "producer", f->s.tmpdir, argv, NULL, false, 5), 0);
    double deadline = bf_test_now() + 180 * bf_test_timeout_mult();
    int status = -1;
    while (!bf_proc_exited(&p, &status) && bf_test_now() < deadline)
        sleep_s(0.05);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bf_proc_dump_log(&p, 20);
        fail_msg("producer failed (status %d)", status);
    }
}

static void produce_reports(fixture_t *f, const char *prefix, int n, int group)
{
    char file[400];
    snprintf(file, sizeof(file), "%s/%s.jsonl", f->s.tmpdir, prefix);
    bf_test_write_reports(file, prefix, n, group);
    run_producer(f, file);
}

/* A reader of one topic from the beginning of every partition. */
typedef struct reader_s {
    rd_kafka_t *rk;
} reader_t;

static void reader_open(reader_t *r, fixture_t *f, const char *topic, int partitions)
{
    r->rk = bf_test_topic_reader(f->s.brokers, topic, partitions);
}

static void reader_close(reader_t *r)
{
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
}

/* Every id "<prefix>-<i>", i < n, has a result. */
static void assert_all_results(bf_test_results_t *res, const char *prefix, int n)
{
    int missing = 0;
    for (int i = 0; i < n; i++) {
        char id[300];
        snprintf(id, sizeof(id), "%s-%d", prefix, i);
        if (!json_object_get(res->by_id, id) && missing++ < 5)
            fprintf(stderr, "no result for %s\n", id);
    }
    assert_int_equal(missing, 0);
}

static bool log_contains(const bf_proc_t *p, const char *needle)
{
    FILE *in = fopen(p->log_path, "r");
    if (!in)
        return false;
    bool found = false;
    char *line = NULL;
    size_t cap = 0;
    while (!found && getline(&line, &cap, in) > 0)
        found = strstr(line, needle) != NULL;
    free(line);
    fclose(in);
    return found;
}

static void fail_with_logs(fixture_t *f, const char *what)
{
    bf_stack_dump_logs(&f->s);
    for (int i = 0; i < MAX_WORKERS; i++)
        if (f->workers[i].pid)
            bf_proc_dump_log(&f->workers[i], 40);
    fail_msg("%s", what);
}

/* ------------------------------------------------------------------ */
/* Observability                                                       */
/* ------------------------------------------------------------------ */

/* The worker's metric names, from the worker table of ops/METRICS.md. */
static json_t *documented_worker_metrics(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/ops/METRICS.md", BF_SOURCE_DIR);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    json_t *names = json_array();
    char *line = NULL;
    size_t cap = 0;
    bool in_worker = false;
    while (getline(&line, &cap, in) > 0) {
        if (strncmp(line, "## ", 3) == 0)
            in_worker = strstr(line, "bountyfleet-worker") != NULL;
        if (!in_worker || strncmp(line, "| `", 3) != 0)
            continue;
        char *end = strchr(line + 3, '`');
        if (end)
            json_array_append_new(names,
                                  json_stringn(line + 3, (size_t)(end - line - 3)));
    }
    free(line);
    fclose(in);
    assert_true(json_array_size(names) >= 15);
    return names;
}

static int ready_status(int port)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    long status = 0;
    free(bf_test_http_get(url, &status));
    return (int)status;
}

static void test_metrics_pass_promtool_readyz_and_heartbeats_decode(void **state)
{
    fixture_t *f = *state = fixture_new(4, "5");
    assert_non_null(f);
    int port = bf_test_free_port();
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    const char *extra[] = {"--heartbeat-interval", "1", NULL};
    start_worker(f, 0, extra, addr);
    bf_test_results_t res;
    bf_test_results_open(&res, f->s.brokers, f->partitions);
    produce_reports(f, "m", 40, 1);
    if (bf_test_results_wait(&res, 40, 120) != 40)
        fail_with_logs(f, "not every report has a result");

    double deadline = bf_test_now() + 20 * bf_test_timeout_mult();
    while (ready_status(port) != 200 && bf_test_now() < deadline)
        sleep_s(0.2);
    assert_int_equal(ready_status(port), 200);

    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    long status = 0;
    /* Gauges refresh every second: wait for the lag series to show. */
    char *text = NULL;
    deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    do {
        free(text);
        sleep_s(0.3);
        text = bf_test_http_get(url, &status);
        assert_non_null(text);
    } while (!strstr(text, "bountyfleet_consumer_lag{") && bf_test_now() < deadline);
    assert_int_equal(status, 200);

    char file[400], cmd[600];
    snprintf(file, sizeof(file), "%s/metrics.txt", f->s.tmpdir);
    FILE *out = fopen(file, "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
    snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s", file);
    int rc = system(cmd);
    if (rc != 0) {
        fputs(text, stderr);
        fail_msg("promtool check metrics failed (%d)", rc);
    }

    json_t *names = documented_worker_metrics();
    size_t i;
    json_t *name;
    json_array_foreach(names, i, name)
    {
        char type_line[200];
        snprintf(type_line, sizeof(type_line), "# TYPE %s ", json_string_value(name));
        if (!strstr(text, type_line))
            fail_msg("%s missing from /metrics", json_string_value(name));
    }
    json_decref(names);
    /* Real values, not just declarations. */
    assert_true(bf_test_metric_value(text, "bountyfleet_reports_consumed_total") >= 40);
    assert_true(bf_test_metric_value(text, "bountyfleet_partitions_assigned") == 4);
    assert_true(bf_test_metric_value(text, "bountyfleet_redis_up") == 1);
    assert_true(bf_test_metric_value(text, "bountyfleet_consumer_paused") == 0);
    assert_true(bf_test_metric_value(text, "bountyfleet_consumer_lag{partition=\"0\"}") ==
                0);
    assert_true(bf_test_metric_value(
                    text, "bountyfleet_redis_request_duration_seconds_count") >= 40);
    assert_true(bf_test_metric_value(text, "bountyfleet_event_loop_lag_seconds_count") >
                0);
    assert_true(bf_test_metric_value(text, "bountyfleet_report_duration_seconds_count") >=
                40);
    assert_non_null(strstr(text, "bountyfleet_ai_requests_total{provider=\"openai\""));
    free(text);

    /* Heartbeats: decode one and check it describes this worker. */
    reader_t hb;
    reader_open(&hb, f, "bountyfleet.heartbeats", f->partitions);
    json_t *got = NULL;
    deadline = bf_test_now() + 20 * bf_test_timeout_mult();
    while (!got && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(hb.rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            char errstr[256];
            if (bf_codec_decode(f->codec, BF_RECORD_HEARTBEAT, m->payload, m->len, &got,
                                NULL, errstr, sizeof(errstr)))
                fail_msg("undecodable heartbeat: %s", errstr);
        }
        rd_kafka_message_destroy(m);
    }
    reader_close(&hb);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "worker_id")), "tw-0");
    assert_true(json_integer_value(json_object_get(got, "rss_bytes")) > 0);
    assert_true(json_integer_value(json_object_get(got, "reports_consumed")) >= 0);
    json_decref(got);
    bf_test_results_close(&res);
}

/* ------------------------------------------------------------------ */
/* Poison messages                                                     */
/* ------------------------------------------------------------------ */

typedef struct poison_s {
    const char *name;
    const char *expected_error; /* bf.error header */
    char *bytes;
    size_t len;
} poison_t;

/* A valid report encoded as single-object Avro, with @p title. */
static char *encode_report(fixture_t *f, const char *id, const char *title, size_t *len)
{
    json_t *obj = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "report_id", id, "submitted_at",
        "2024-01-01T00:00:00Z", "program", "p", "reporter", "r", "title", title, "asset",
        "example.com", "description", "A description long enough to be a report.",
        "steps_to_reproduce", "1. open the page", "impact", "data leak");
    bf_buf_t b;
    bf_buf_init(&b, 1024 * 1024);
    char errstr[256];
    bf_err_t err = bf_codec_encode(f->codec, BF_RECORD_REPORT, obj,
                                   BF_FRAMING_SINGLE_OBJECT, &b, errstr, sizeof(errstr));
    json_decref(obj);
    if (err)
        fail_msg("encode: %s", errstr);
    return bf_buf_steal(&b, len);
}

static void produce_raw(fixture_t *f, poison_t *p, int n)
{
    bf_test_record_t records[8];
    assert_true(n <= 8);
    for (int i = 0; i < n; i++)
        records[i] = (bf_test_record_t){p[i].name, p[i].bytes, p[i].len};
    bf_test_produce_raw(f->s.brokers, "bountyfleet.reports", records, (size_t)n);
}

static void test_each_poison_class_lands_in_dlq_and_worker_stays_up(void **state)
{
    fixture_t *f = *state = fixture_new(2, "5");
    assert_non_null(f);
    start_worker(f, 0, NULL, NULL);

    poison_t p[8];
    size_t n = 0;
    p[n++] = (poison_t){"undecodable", "parse", bf_strdup("\x01\x02 not a record"), 16};
    {
        size_t len;
        char *b = encode_report(f, "x", "wrong magic", &len);
        b[1] = 0x07; /* single-object magic is C3 01 */
        p[n++] = (poison_t){"wrong-magic", "parse", b, len};
        b = encode_report(f, "x", "unknown fingerprint", &len);
        b[2] ^= 0x5a; /* the schema fingerprint follows the magic */
        p[n++] = (poison_t){"unknown-fingerprint", "unknown_schema", b, len};
        b = encode_report(f, "x", "bad \xc3\xa9 utf8", &len);
        char *at = memmem(b, len, "\xc3\xa9", 2);
        assert_non_null(at);
        at[0] = (char)0xff;
        p[n++] = (poison_t){"invalid-utf8", "utf8", b, len};
        b = encode_report(f, "x", "", &len);
        p[n++] = (poison_t){"missing-field", "missing_field", b, len};
    }
    const char *bad_json = "{\"report_id\": 5, \"title\": [1]}";
    p[n++] = (poison_t){"schema-invalid-json", "schema", bf_strdup(bad_json),
                        strlen(bad_json)};
    size_t big = 1100 * 1024;
    char *huge = bf_malloc(big);
    memset(huge, 'a', big);
    huge[0] = '{';
    p[n++] = (poison_t){"oversize", "too_large", huge, big};
    size_t good_len;
    char *good = encode_report(f, "good-after-poison", "a fine report", &good_len);
    p[n++] = (poison_t){"good", NULL, good, good_len};
    produce_raw(f, p, (int)n);

    reader_t dlq;
    reader_open(&dlq, f, "bountyfleet.reports.dlq", f->partitions);
    json_t *seen = json_object();
    double started = bf_test_now();
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    while (json_object_size(seen) < n - 1 && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(dlq.rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            char origin[64], err[64], buf[128];
            assert_non_null(bf_test_header(m, "origin", origin, sizeof(origin)));
            assert_non_null(bf_test_header(m, "bf.error", err, sizeof(err)));
            assert_non_null(bf_test_header(m, "bf.reason", buf, sizeof(buf)));
            assert_non_null(bf_test_header(m, "bf.source.partition", buf, sizeof(buf)));
            assert_non_null(bf_test_header(m, "bf.source.offset", buf, sizeof(buf)));
            assert_string_equal(bf_test_header(m, "bf.worker", buf, sizeof(buf)), "tw-0");
            for (size_t i = 0; i < n; i++) {
                if (strcmp(p[i].name, origin) != 0)
                    continue;
                char from[32];
                size_t keep = m->len;
                if (bf_test_header(m, "bf.truncated.from", from, sizeof(from)))
                    assert_int_equal(strtoull(from, NULL, 10), p[i].len);
                else
                    assert_int_equal(m->len, p[i].len);
                assert_true(keep <= p[i].len);
                assert_memory_equal(m->payload, p[i].bytes, keep);
                if (p[i].expected_error)
                    assert_string_equal(err, p[i].expected_error);
            }
            fprintf(stderr, "dlq: %s -> %s after %.1f s\n", origin, err,
                    bf_test_now() - started);
            json_object_set_new(seen, origin, json_string(err));
        }
        rd_kafka_message_destroy(m);
    }
    reader_close(&dlq);
    if (json_object_size(seen) != n - 1) {
        char *s = json_dumps(seen, 0);
        fprintf(stderr, "dead letters seen: %s\n", s);
        free(s);
        fail_with_logs(f, "not every poison record reached the DLQ");
    }
    assert_null(json_object_get(seen, "good"));
    json_decref(seen);

    /* The worker is still up and validates the good record after them. */
    bf_test_results_t res;
    bf_test_results_open(&res, f->s.brokers, f->partitions);
    assert_int_equal(bf_test_results_wait(&res, 1, 60), 1);
    assert_non_null(json_object_get(res.by_id, "good-after-poison"));
    bf_test_results_close(&res);
    assert_false(bf_proc_exited(&f->workers[0], NULL));
    for (size_t i = 0; i < n; i++)
        free(p[i].bytes);
}

/* ------------------------------------------------------------------ */
/* Two workers, exact duplicates                                       */
/* ------------------------------------------------------------------ */

#define RACE_GROUPS 40
#define RACE_COPIES 5

static void test_two_workers_racing_on_exact_duplicates_elect_one_original(void **state)
{
    fixture_t *f = *state = fixture_new(6, "20");
    assert_non_null(f);
    start_worker(f, 0, NULL, NULL);
    start_worker(f, 1, NULL, NULL);
    bf_test_results_t res;
    bf_test_results_open(&res, f->s.brokers, f->partitions);
    /* Let both join before the records arrive, so they race. */
    sleep_s(3);
    produce_reports(f, "race", RACE_GROUPS * RACE_COPIES, RACE_COPIES);
    if (bf_test_results_wait(&res, RACE_GROUPS * RACE_COPIES, 180) !=
        RACE_GROUPS * RACE_COPIES)
        fail_with_logs(f, "not every report has a result");
    for (int g = 0; g < RACE_GROUPS; g++) {
        const char *original = NULL;
        for (int c = 0; c < RACE_COPIES; c++) {
            char id[64];
            snprintf(id, sizeof(id), "race-%d", g * RACE_COPIES + c);
            json_t *r = json_object_get(res.by_id, id);
            if (strcmp(json_string_value(json_object_get(r, "status")), "DUPLICATE") !=
                0) {
                if (original)
                    fail_msg("group %d has two originals: %s and %s", g, original, id);
                original = json_string_value(json_object_get(r, "report_id"));
            }
        }
        assert_non_null(original);
        for (int c = 0; c < RACE_COPIES; c++) {
            char id[64];
            snprintf(id, sizeof(id), "race-%d", g * RACE_COPIES + c);
            json_t *r = json_object_get(res.by_id, id);
            if (strcmp(id, original) != 0)
                assert_string_equal(json_string_value(json_object_get(r, "duplicate_of")),
                                    original);
        }
    }
    json_t *stats = bf_test_aisim_stats(&f->s);
    assert_int_equal(json_object_size(json_object_get(stats, "by_report")), RACE_GROUPS);
    json_decref(stats);
    bf_test_results_close(&res);
}

/* ------------------------------------------------------------------ */
/* Redis restart                                                       */
/* ------------------------------------------------------------------ */

/* Start worker 0 with @p extra flags, publish @p n reports "<prefix>-<i>"
 * and wait until a quarter of them have a result: the run is under way. */
static void start_run(fixture_t *f, bf_test_results_t *res, const char *const *extra,
                      const char *prefix, int n)
{
    start_worker(f, 0, extra, NULL);
    bf_test_results_open(res, f->s.brokers, f->partitions);
    produce_reports(f, prefix, n, 1);
    if (bf_test_results_wait(res, (size_t)n / 4, 120) < (size_t)n / 4)
        fail_with_logs(f, "no progress");
}

#define REDIS_RUN 1500

/* The worker ignores SIGPIPE (SigIgn in /proc/PID/status): a write to a
 * Redis that was SIGKILLed mid-request is then an EPIPE hiredis turns into
 * a reconnect. Without it, the write killed the worker whenever it came
 * before the read that sees the reset (found under ASan timing in
 * test_restarts, the worker gone with status 13). */
static void assert_ignores_sigpipe(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    unsigned long long ignored = 0;
    bool found = false;
    while (fgets(line, sizeof(line), in))
        if (sscanf(line, "SigIgn: %llx", &ignored) == 1)
            found = true;
    fclose(in);
    assert_true(found);
    if (!(ignored & (1ULL << (SIGPIPE - 1))))
        fail_msg("the worker does not ignore SIGPIPE (SigIgn %llx)", ignored);
}

static void test_redis_restart_mid_run_loses_nothing_fail_closed(void **state)
{
    fixture_t *f = *state = fixture_new(4, "20");
    assert_non_null(f);
    const char *extra[] = {"--redis-timeout", "0.5", NULL};
    bf_test_results_t res;
    start_run(f, &res, extra, "rr", REDIS_RUN);
    assert_ignores_sigpipe(f->workers[0].pid);
    int st = bf_proc_stop(&f->s.redis, SIGTERM, 10);
    assert_true(WIFEXITED(st) || WIFSIGNALED(st));
    size_t before = bf_test_results_wait(&res, REDIS_RUN, 2);
    assert_int_equal(bf_stack_restart_redis(&f->s), 0);
    if (bf_test_results_wait(&res, REDIS_RUN, 180) != REDIS_RUN)
        fail_with_logs(f, "reports lost across the Redis restart");
    fprintf(stderr, "results when Redis stopped: %zu of %d\n", before, REDIS_RUN);
    assert_all_results(&res, "rr", REDIS_RUN);
    assert_false(bf_proc_exited(&f->workers[0], NULL));
    /* It paused rather than validating without deduplication. */
    assert_true(log_contains(&f->workers[0], "\"redis_unavailable_pausing\""));
    assert_false(log_contains(&f->workers[0], "dedup_unchecked"));
    bf_test_results_close(&res);
}

/* fail-open: with Redis gone the worker validates anyway and says so. */
static void test_fail_open_validates_without_redis_and_says_dedup_unchecked(void **state)
{
    fixture_t *f = *state = fixture_new(2, "1");
    assert_non_null(f);
    bf_proc_stop(&f->s.redis, SIGTERM, 10);
    const char *extra[] = {"--redis-mode", "fail-open", "--redis-timeout", "0.3", NULL};
    start_worker(f, 0, extra, NULL);
    bf_test_results_t res;
    bf_test_results_open(&res, f->s.brokers, f->partitions);
    produce_reports(f, "fo", 20, 1);
    if (bf_test_results_wait(&res, 20, 120) != 20)
        fail_with_logs(f, "fail-open did not validate without Redis");
    const char *id;
    json_t *r;
    json_object_foreach(res.by_id, id, r)
    {
        bool marked = false;
        size_t i;
        json_t *reason;
        json_array_foreach(json_object_get(r, "reasons"), i, reason) marked |=
            strcmp(json_string_value(reason), "dedup_unchecked") == 0;
        if (!marked)
            fail_msg("%s lacks dedup_unchecked in its reasons", id);
        assert_int_equal(json_array_size(json_object_get(r, "analyses")), 3);
    }
    bf_test_results_close(&res);
}

/* A Redis that stops answering (SIGSTOP: connections stay open, nothing
 * replies) and comes back: commands time out, the client drops the
 * connection and reconnects, and nothing is lost. */
static void test_redis_stall_times_out_reconnects_and_loses_nothing(void **state)
{
    fixture_t *f = *state = fixture_new(4, "20");
    assert_non_null(f);
    const char *extra[] = {"--redis-timeout", "0.3", NULL};
    bf_test_results_t res;
    start_run(f, &res, extra, "rs", REDIS_RUN);
    assert_int_equal(kill(f->s.redis.pid, SIGSTOP), 0);
    sleep_s(3);
    assert_int_equal(kill(f->s.redis.pid, SIGCONT), 0);
    if (bf_test_results_wait(&res, REDIS_RUN, 180) != REDIS_RUN)
        fail_with_logs(f, "reports lost across the Redis stall");
    assert_all_results(&res, "rs", REDIS_RUN);
    assert_true(log_contains(&f->workers[0], "\"command_timeout\""));
    bf_test_results_close(&res);
}

/* ------------------------------------------------------------------ */
/* Graceful stop                                                       */
/* ------------------------------------------------------------------ */

#define STOP_RUN 2000

static void assert_analysed_at_most_once(fixture_t *f, int max_extra)
{
    json_t *stats = bf_test_aisim_stats(&f->s);
    json_t *by_report = json_object_get(stats, "by_report");
    const char *id;
    json_t *n;
    int over = 0;
    json_object_foreach(by_report, id, n)
    {
        if (json_integer_value(n) > 3 && over++ < 5)
            fprintf(stderr, "%s analysed with %lld calls\n", id,
                    (long long)json_integer_value(n));
    }
    fprintf(stderr, "%zu reports analysed, %d of them more than once\n",
            json_object_size(by_report), over);
    json_decref(stats);
    if (over > max_extra)
        fail_msg("%d reports analysed more than once (allowed %d)", over, max_extra);
}

static void test_sigterm_during_load_drains_exits_zero_and_loses_nothing(void **state)
{
    fixture_t *f = *state = fixture_new(4, "20");
    assert_non_null(f);
    const char *extra[] = {"--drain-timeout", "30", NULL};
    bf_test_results_t res;
    start_run(f, &res, extra, "gs", STOP_RUN);
    int st = bf_proc_stop(&f->workers[0], SIGTERM, 60);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_with_logs(f, "worker did not exit 0 on SIGTERM");
    start_worker(f, 1, NULL, NULL);
    if (bf_test_results_wait(&res, STOP_RUN, 180) != STOP_RUN)
        fail_with_logs(f, "reports lost across the graceful stop");
    assert_all_results(&res, "gs", STOP_RUN);
    /* A drained worker finished everything it started: nothing twice. */
    assert_analysed_at_most_once(f, 0);
    bf_test_results_close(&res);
}

/* ------------------------------------------------------------------ */
/* SIGKILL at random moments (label "long")                            */
/* ------------------------------------------------------------------ */

static void test_sigkill_at_random_moments_loses_nothing(void **state)
{
    const char *env = getenv("BF_CHAOS_REPORTS");
    int total = env ? atoi(env) : 3000;
    if (total < 100)
        total = 100;
    fixture_t *f = *state = fixture_new(24, "2");
    assert_non_null(f);
    const char *extra[] = {"--max-in-flight", "200", NULL};
    start_worker(f, 0, extra, NULL);
    bf_test_results_t res;
    bf_test_results_open(&res, f->s.brokers, f->partitions);
    produce_reports(f, "ck", total, 1);
    /* The kill moments come from BF_CHAOS_SEED (default 1), printed, so
     * that a failure can be replayed; a documented long run varies it. */
    const char *seed_env = getenv("BF_CHAOS_SEED");
    unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : 1;
    fprintf(stderr, "chaos: BF_CHAOS_SEED=%u\n", seed);
    srand(seed);
    int kills = 0;
    double deadline = bf_test_now() + 600 * bf_test_timeout_mult();
    size_t got = 0;
    while ((got = bf_test_results_wait(&res, (size_t)total,
                                       1.0 + (rand() % 4000) / 1000.0)) < (size_t)total &&
           bf_test_now() < deadline && kills < 6) {
        bf_proc_stop(&f->workers[0], SIGKILL, 5);
        kills++;
        start_worker(f, 0, extra, NULL);
    }
    got = bf_test_results_wait(&res, (size_t)total, 300);
    fprintf(stderr, "chaos: %d reports, %d kills, %zu results\n", total, kills, got);
    if (got != (size_t)total)
        fail_with_logs(f, "reports lost across SIGKILLs");
    assert_all_results(&res, "ck", total);
    /* Only reports whose AI calls were in flight at a kill may be analysed
     * again (their answers died with the process): at most the in-flight
     * cap per kill. */
    assert_analysed_at_most_once(f, kills * 200);
    bf_test_results_close(&res);
}

/* ------------------------------------------------------------------ */
/* --dry-run                                                           */
/* ------------------------------------------------------------------ */

/* How many partitions of the reports topic have a committed offset for
 * the workers' group. */
static int partitions_committed(fixture_t *f)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->s.brokers, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", "bountyfleet-workers", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(f->partitions);
    for (int p = 0; p < f->partitions; p++)
        rd_kafka_topic_partition_list_add(l, "bountyfleet.reports", p);
    assert_int_equal(rd_kafka_committed(rk, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    int n = 0;
    for (int p = 0; p < f->partitions; p++)
        n += l->elems[p].offset >= 0;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return n;
}

static void test_dry_run_analyses_but_publishes_and_commits_nothing(void **state)
{
    fixture_t *f = *state = fixture_new(2, "1");
    assert_non_null(f);
    int port = bf_test_free_port();
    char addr[64], url[128];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://%s/metrics", addr);
    const char *extra[] = {"--dry-run", NULL};
    start_worker(f, 0, extra, addr);
    produce_reports(f, "dry", 20, 1);
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    double analysed = 0;
    while (analysed < 60 && bf_test_now() < deadline) {
        sleep_s(0.3);
        long status = 0;
        char *text = bf_test_http_get(url, &status);
        analysed = 0;
        const char *kinds[] = {"quality", "plausibility", "severity"};
        for (int k = 0; text && k < 3; k++) {
            char series[160];
            snprintf(series, sizeof(series),
                     "bountyfleet_ai_requests_total{provider=\"openai\",kind=\"%s\","
                     "outcome=\"ok\"}",
                     kinds[k]);
            double v = bf_test_metric_value(text, series);
            analysed += v > 0 ? v : 0;
        }
        free(text);
    }
    if (analysed < 60)
        fail_with_logs(f, "the dry run did not analyse every report");
    int st = bf_proc_stop(&f->workers[0], SIGTERM, 30);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    bf_test_results_t res;
    bf_test_results_open(&res, f->s.brokers, f->partitions);
    assert_int_equal(bf_test_results_wait(&res, 1, 2), 0);
    bf_test_results_close(&res);
    assert_int_equal(partitions_committed(f), 0);
}

/* ------------------------------------------------------------------ */
/* --once                                                              */
/* ------------------------------------------------------------------ */

static void test_once_prints_the_result_of_one_report_file(void **state)
{
    fixture_t *f = *state = fixture_new(1, "1");
    assert_non_null(f);
    char file[400], cmd[2048], bin[512];
    snprintf(file, sizeof(file), "%s/one.jsonl", f->s.tmpdir);
    bf_test_write_reports(file, "once", 1, 1);
    /* Redis and Kafka addresses point nowhere: --once needs neither. */
    snprintf(cmd, sizeof(cmd),
             "OPENAI_BASE_URL='%s' OPENAI_API_KEY=k OPENAI_MODEL=sim-1 "
             "KAFKA_BROKERS=127.0.0.1:1 REDIS_URL=redis://127.0.0.1:1 METRICS_ADDR=off "
             "'%s' --once '%s' 2>>'%s/once.log'",
             f->s.ai_base_url, bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), file,
             f->s.tmpdir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t jerr;
    json_t *res = json_loadf(p, 0, &jerr);
    int rc = pclose(p);
    assert_int_equal(WEXITSTATUS(rc), 0);
    assert_non_null(res);
    assert_string_equal(json_string_value(json_object_get(res, "report_id")), "once-0");
    assert_int_equal(json_array_size(json_object_get(res, "analyses")), 3);
    json_decref(res);

    /* A file that is not a report: a clear error and a non-zero exit. */
    snprintf(
        cmd, sizeof(cmd),
        "OPENAI_BASE_URL='%s' OPENAI_API_KEY=k METRICS_ADDR=off '%s' --once /dev/null "
        "2>&1",
        f->s.ai_base_url, bf_test_bin("bountyfleet-worker", bin, sizeof(bin)));
    p = popen(cmd, "r");
    char line[512] = "";
    assert_non_null(fgets(line, sizeof(line), p));
    rc = pclose(p);
    assert_int_not_equal(WEXITSTATUS(rc), 0);
    assert_non_null(strstr(line, "parse"));

    /* An explicit METRICS_ADDR that is taken: a one-line error, exit 1. */
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(busy, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(busy, 1), 0);
    assert_int_equal(getsockname(busy, (struct sockaddr *)&sa, &sl), 0);
    snprintf(
        cmd, sizeof(cmd),
        "OPENAI_BASE_URL='%s' OPENAI_API_KEY=k METRICS_ADDR=127.0.0.1:%d '%s' --once "
        "'%s' 2>&1",
        f->s.ai_base_url, ntohs(sa.sin_port),
        bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), file);
    p = popen(cmd, "r");
    assert_non_null(fgets(line, sizeof(line), p));
    rc = pclose(p);
    close(busy);
    assert_int_equal(WEXITSTATUS(rc), 1);
    assert_non_null(strstr(line, "METRICS_ADDR"));
}

/* ------------------------------------------------------------------ */
/* Benchmark mode (bench/worker/worker.sh): not a test                  */
/* ------------------------------------------------------------------ */

static double proc_rss_bytes(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *in = fopen(path, "r");
    double kb = 0;
    while (in && fgets(line, sizeof(line), in))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtod(line + 6, NULL);
    if (in)
        fclose(in);
    return kb * 1024;
}

/* One worker, @p n unique reports already waiting, AI latency
 * @p latency_ms: prints one JSON line with the throughput between the
 * first and the last result, and the peak in-flight count and RSS. */
static int bench(int n, const char *latency_ms, const char *max_in_flight)
{
    fixture_t *f = fixture_new(12, latency_ms);
    if (!f)
        return 1;
    produce_reports(f, "bench", n, 1);
    int port = bf_test_free_port();
    char addr[64], url[128];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://%s/metrics", addr);
    /* Three analyses per report run at once: give each its connection, so
     * the cap measured is the report cap, not the HTTP one. */
    char conns[32];
    snprintf(conns, sizeof(conns), "%d", 3 * atoi(max_in_flight));
    const char *extra[] = {"--max-in-flight",
                           max_in_flight,
                           "--max-connections",
                           conns,
                           "--log-level",
                           "warn",
                           NULL};
    start_worker(f, 0, extra, addr);
    bf_test_results_t res;
    bf_test_results_open(&res, f->s.brokers, f->partitions);
    double first = 0, last = 0, peak_rss = 0, peak_in_flight = 0, next_sample = 0;
    size_t got = 0;
    double deadline = bf_test_now() + 900;
    while (got < (size_t)n && bf_test_now() < deadline) {
        got = bf_test_results_wait(&res, got + 1, 0.2);
        if (got && !first)
            first = bf_test_now();
        if (bf_test_now() >= next_sample) {
            next_sample = bf_test_now() + 0.5;
            long status = 0;
            char *text = bf_test_http_get(url, &status);
            double inflight =
                text ? bf_test_metric_value(text, "bountyfleet_reports_in_flight") : 0;
            free(text);
            double rss = proc_rss_bytes(f->workers[0].pid);
            if (inflight > peak_in_flight)
                peak_in_flight = inflight;
            if (rss > peak_rss)
                peak_rss = rss;
        }
    }
    last = bf_test_now();
    printf("{\"bench\":\"worker\",\"reports\":%d,\"results\":%zu,\"ai_latency_ms\":%s,"
           "\"max_in_flight\":%s,\"seconds\":%.2f,\"reports_per_second\":%.1f,"
           "\"peak_in_flight\":%.0f,\"peak_rss_bytes\":%.0f}\n",
           n, got, latency_ms, max_in_flight, last - first,
           got > 1 ? (double)(got - 1) / (last - first) : 0.0, peak_in_flight, peak_rss);
    fflush(stdout);
    bf_test_results_close(&res);
    void *state = f;
    teardown(&state);
    return got == (size_t)n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "bench") == 0)
        return bench(argc > 2 ? atoi(argv[2]) : 5000, argc > 3 ? argv[3] : "0",
                     argc > 4 ? argv[4] : "64");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_metrics_pass_promtool_readyz_and_heartbeats_decode,
                                  teardown),
        cmocka_unit_test_teardown(test_each_poison_class_lands_in_dlq_and_worker_stays_up,
                                  teardown),
        cmocka_unit_test_teardown(
            test_two_workers_racing_on_exact_duplicates_elect_one_original, teardown),
        cmocka_unit_test_teardown(test_redis_restart_mid_run_loses_nothing_fail_closed,
                                  teardown),
        cmocka_unit_test_teardown(test_redis_stall_times_out_reconnects_and_loses_nothing,
                                  teardown),
        cmocka_unit_test_teardown(
            test_fail_open_validates_without_redis_and_says_dedup_unchecked, teardown),
        cmocka_unit_test_teardown(
            test_sigterm_during_load_drains_exits_zero_and_loses_nothing, teardown),
        cmocka_unit_test_teardown(test_once_prints_the_result_of_one_report_file,
                                  teardown),
        cmocka_unit_test_teardown(test_dry_run_analyses_but_publishes_and_commits_nothing,
                                  teardown),
    };
    const struct CMUnitTest chaos[] = {
        cmocka_unit_test_teardown(test_sigkill_at_random_moments_loses_nothing, teardown),
    };
    if (argc > 1 && strcmp(argv[1], "chaos") == 0)
        return cmocka_run_group_tests(chaos, NULL, NULL);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
