/*
 * faults.c - the fault-injection stack and its batches (see faults.h).
 */
#include "support/faults.h"

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

#include "libbf/codec.h"
#include "libbf/kafka.h"
#include "libbf/mem.h"

void bf_faults_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* The stack                                                           */
/* ------------------------------------------------------------------ */

void bf_faults_place_leaders(bf_faults_t *f, int shift)
{
    static const char *const topics[] = {BF_TOPIC_REPORTS, BF_TOPIC_VALIDATIONS,
                                         BF_TOPIC_DLQ, BF_TOPIC_HEARTBEATS};
    for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++)
        for (int p = 0; p < BF_FAULTS_PARTITIONS; p++)
            assert_int_equal(
                rd_kafka_mock_partition_set_leader(f->mock.mc, topics[t], p,
                                                   (p + shift) % BF_FAULTS_BROKERS + 1),
                RD_KAFKA_RESP_ERR_NO_ERROR);
}

int bf_faults_start_worker(bf_faults_t *f, int i, bool wait_ready)
{
    int port = bf_test_free_port();
    char addr[64], name[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(f->metrics_url[i], sizeof(f->metrics_url[i]), "http://%s/metrics", addr);
    snprintf(f->ready_url[i], sizeof(f->ready_url[i]), "http://%s/readyz", addr);
    snprintf(name, sizeof(name), "faults-%d", i);
    /* Exact duplicates only (the batches reuse the 450 samples under new
     * titles, which near-duplicate detection would rightly pair up);
     * statistics every second for the broker gauges. */
    const char *wenv[] = {"BOUNTYFLEET_NEAR_DUP_THRESHOLD=off", NULL};
    const char *wargs[40] = {"--redis-timeout",
                             "0.5",
                             "-X",
                             "statistics.interval.ms=1000",
                             "-X",
                             BF_FAULTS_IN_FLIGHT_ONE,
                             "--heartbeat-interval",
                             "1"};
    size_t n = 8;
    for (const char *const *a = f->opts.worker_args; a && *a && n + 1 < 40; a++)
        wargs[n++] = *a;
    wargs[n] = NULL;
    f->killed[i] = false;
    if (bf_stack_start_worker(&f->s, &f->workers[i], name, addr, wenv, wargs) != 0)
        return -1;
    if (i >= f->n_workers)
        f->n_workers = i + 1;
    return wait_ready ? bf_faults_wait_ready(f, i) : 0;
}

int bf_faults_wait_ready(bf_faults_t *f, int i)
{
    /* Ready: it joined the group and owns partitions. */
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    long status = 0;
    while (status != 200 && bf_test_now() < deadline) {
        bf_faults_sleep(0.2);
        free(bf_test_http_get(f->ready_url[i], &status));
    }
    if (status != 200) {
        fprintf(stderr, "worker %d did not turn ready\n", i);
        bf_proc_dump_log(&f->workers[i], 40);
        return -1;
    }
    return 0;
}

void bf_faults_kill_worker(bf_faults_t *f, int i)
{
    f->killed[i] = true;
    bf_proc_stop(&f->workers[i], SIGKILL, 5);
}

int bf_faults_setup(bf_faults_t *f, const bf_faults_opts_t *opts)
{
    memset(f, 0, sizeof(*f));
    f->opts = *opts;
    if (f->opts.workers < 1 || f->opts.workers > BF_FAULTS_MAX_WORKERS)
        f->opts.workers = 1;
    if (f->opts.recovery_s <= 0)
        f->opts.recovery_s = 90;
    const char *env = getenv("BF_FAULTS_REPORTS");
    f->reports = env ? atoi(env) : 300;
    if (f->reports < 20)
        f->reports = 20;
    if (bf_test_mock_start(&f->mock, BF_FAULTS_BROKERS, BF_FAULTS_PARTITIONS) != 0)
        goto fail;
    rd_kafka_mock_coordinator_set(f->mock.mc, "group", BF_FAULTS_GROUP, 1);
    static const char *const default_aisim[] = {"--latency-ms", "20", NULL};
    const char *const *aisim_args = opts->aisim_args ? opts->aisim_args : default_aisim;
    if (bf_stack_start_with_brokers(&f->s, f->mock.brokers, aisim_args) != 0)
        goto fail;
    if (opts->redis_persistence && *opts->redis_persistence) {
        /* Again on its port, now with an append-only file. */
        snprintf(f->s.redis_persistence, sizeof(f->s.redis_persistence), "%s",
                 opts->redis_persistence);
        if (bf_stack_restart_redis(&f->s) != 0)
            goto fail;
    }
    snprintf(f->aisim_url, sizeof(f->aisim_url), "%s", f->s.ai_base_url);
    char *v1 = strstr(f->aisim_url, "/v1");
    if (v1)
        *v1 = '\0';
    for (int i = 0; i < f->opts.workers; i++)
        if (bf_faults_start_worker(f, i, i == 0) != 0)
            goto fail;
    return 0;
fail:
    for (int i = 0; i < f->n_workers; i++)
        bf_proc_stop(&f->workers[i], SIGKILL, 5);
    bf_stack_stop(&f->s);
    bf_test_mock_stop(&f->mock);
    return -1;
}

void bf_faults_teardown(bf_faults_t *f)
{
    bf_proc_stop(&f->producer, SIGTERM, 10);
    for (int i = 0; i < f->n_workers; i++) {
        if (f->killed[i])
            continue;
        int st = bf_proc_stop(&f->workers[i], SIGTERM, 60);
        if (st != -1 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
            fprintf(stderr, "worker %d did not stop cleanly (status %d)\n", i, st);
    }
    if (f->results_open)
        bf_test_results_close(&f->res);
    bf_stack_stop(&f->s);
    bf_test_mock_stop(&f->mock);
}

/* The first worker the test did not kill, or -1. */
static int live_worker(const bf_faults_t *f)
{
    for (int i = 0; i < f->n_workers; i++)
        if (!f->killed[i])
            return i;
    return -1;
}

void bf_faults_fail(bf_faults_t *f, const char *what)
{
    bf_stack_dump_logs(&f->s);
    for (int i = 0; i < f->n_workers; i++) {
        bf_proc_dump_log(&f->workers[i], 60);
        if (f->killed[i])
            continue;
        long status = 0;
        char *text = bf_test_http_get(f->metrics_url[i], &status);
        if (text) { /* the worker's own account of where it is stuck */
            const char *const gauges[] = {
                "bountyfleet_reports_in_flight",   "bountyfleet_consumer_paused",
                "bountyfleet_partitions_assigned", "bountyfleet_redis_up",
                "bountyfleet_ai_calls_in_flight",  "bountyfleet_reports_consumed_total"};
            for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++)
                fprintf(stderr, "worker %d: %s %g\n", i, gauges[g],
                        bf_test_metric_value(text, gauges[g]));
        }
        free(text);
    }
    fail_msg("%s", what);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

char *bf_faults_metrics(bf_faults_t *f)
{
    int i = live_worker(f);
    long status = 0;
    char *text = i >= 0 ? bf_test_http_get(f->metrics_url[i], &status) : NULL;
    if (!text || status != 200)
        bf_faults_fail(f, "the worker's /metrics does not answer");
    return text;
}

double bf_faults_metric_sum(const char *text, const char *family, const char *must)
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

void bf_faults_hold(bf_faults_t *f, double seconds, bf_faults_watch_t *w)
{
    double end = bf_test_now() + seconds;
    if (w->samples == 0)
        w->min_redis_up = 1;
    while (bf_test_now() < end) {
        char *text = bf_faults_metrics(f);
        double v = bf_test_metric_value(text, "bountyfleet_consumer_paused");
        if (v > w->max_paused)
            w->max_paused = v;
        v = bf_faults_metric_sum(text, "bountyfleet_ai_circuit_state", NULL);
        if (v > w->max_circuit)
            w->max_circuit = v;
        v = bf_test_metric_value(text, "bountyfleet_redis_up");
        if (v >= 0 && v < w->min_redis_up)
            w->min_redis_up = v;
        v = bf_faults_metric_sum(text, "bountyfleet_kafka_brokers_down", NULL);
        if (v > w->max_brokers_down)
            w->max_brokers_down = v;
        v = bf_test_metric_value(text, "bountyfleet_reports_in_flight");
        if (v > w->max_in_flight)
            w->max_in_flight = v;
        v = bf_test_metric_value(text, "bountyfleet_reports_awaiting_ack");
        if (v > w->max_awaiting_ack)
            w->max_awaiting_ack = v;
        free(text);
        long status = 0;
        int i = live_worker(f);
        free(bf_test_http_get(f->ready_url[i < 0 ? 0 : i], &status));
        w->not_ready += status != 200;
        w->samples++;
        bf_faults_sleep(0.25);
    }
}

void bf_faults_hold_until(bf_faults_t *f, double seconds, bf_faults_watch_t *w,
                          bool (*seen)(const bf_faults_watch_t *w))
{
    bf_faults_hold(f, seconds, w);
    double end = bf_test_now() + 10 * bf_test_timeout_mult();
    while (!seen(w) && bf_test_now() < end)
        bf_faults_hold(f, 0.25, w);
}

/* ------------------------------------------------------------------ */
/* A batch                                                             */
/* ------------------------------------------------------------------ */

void bf_faults_batch_start(bf_faults_t *f, bf_faults_batch_t *b, const char *prefix,
                           const char *rate)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->prefix, sizeof(b->prefix), "%s", prefix);
    if (!f->results_open) {
        bf_test_results_open(&f->res, f->s.brokers, BF_FAULTS_PARTITIONS);
        f->results_open = true;
    }
    b->before = bf_faults_metrics(f);
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
                            BF_FAULTS_IN_FLIGHT_ONE};
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
        bf_faults_fail(f, "no results before the fault");
}

/* ------------------------------------------------------------------ */
/* When a report has no result: where it is and where the group is     */
/* ------------------------------------------------------------------ */

/* A consumer outside any group, assigned to every partition of @p topic
 * from the beginning, that reports the end of each partition. */
static rd_kafka_t *eof_reader(bf_faults_t *f, const char *topic)
{
    const char *props[] = {"enable.partition.eof", "true", "enable.auto.commit", "false",
                           NULL};
    return bf_test_topic_reader_with(f->s.brokers, topic, BF_FAULTS_PARTITIONS, props);
}

/* Read @p topic to its end; @returns report id -> [partition, offset] of
 * the records whose key (reports) or report_id (results) has @p prefix. */
static json_t *scan_topic(bf_faults_t *f, const char *topic, bool results,
                          const char *prefix)
{
    json_t *where = json_object();
    rd_kafka_t *rk = eof_reader(f, topic);
    int eofs = 0;
    bool eof[BF_FAULTS_PARTITIONS] = {false};
    double deadline = bf_test_now() + 30;
    while (eofs < BF_FAULTS_PARTITIONS && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < BF_FAULTS_PARTITIONS &&
                !eof[m->partition]) {
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
static void explain_missing(bf_faults_t *f, const char *prefix)
{
    json_t *reports = scan_topic(f, BF_TOPIC_REPORTS, false, prefix);
    json_t *results = scan_topic(f, BF_TOPIC_VALIDATIONS, true, prefix);
    const char *group[] = {"group.id", BF_FAULTS_GROUP, NULL}; /* for committed() */
    rd_kafka_t *rk = bf_test_topic_reader_with(f->s.brokers, NULL, 0, group);
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(BF_FAULTS_PARTITIONS);
    for (int p = 0; p < BF_FAULTS_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(l, BF_TOPIC_REPORTS, p);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, 10000);
    for (int p = 0; p < BF_FAULTS_PARTITIONS; p++) {
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

/* ------------------------------------------------------------------ */
/* Counting a batch                                                    */
/* ------------------------------------------------------------------ */

void bf_faults_batch_count(bf_faults_t *f, bf_faults_batch_t *b, bf_faults_counts_t *c)
{
    memset(c, 0, sizeof(*c));
    c->reports = f->reports;
    double deadline = bf_test_now() + 120 * bf_test_timeout_mult();
    c->producer_status = -1;
    while (!bf_proc_exited(&f->producer, &c->producer_status) && bf_test_now() < deadline)
        bf_faults_sleep(0.05);
    if (!WIFEXITED(c->producer_status) || WEXITSTATUS(c->producer_status) != 0)
        bf_proc_dump_log(&f->producer, 20);
    /* Results of earlier batches are in by_id already. */
    size_t want = 0;
    const char *id;
    json_t *v;
    json_object_foreach(f->res.by_id, id, v) want +=
        strncmp(id, b->prefix, strlen(b->prefix)) != 0;
    want += (size_t)f->reports;
    size_t got = bf_test_results_wait(&f->res, want, f->opts.recovery_s);
    b->completed = bf_test_now();
    bf_test_results_drain(&f->res, 1.0); /* a second record for any of them */
    c->seconds = b->completed - b->started;
    json_t *stats = bf_test_aisim_stats(&f->s);
    json_t *by_report = json_object_get(stats, "by_report");
    for (int i = 0; i < f->reports; i++) {
        char rid[64];
        snprintf(rid, sizeof(rid), "%s-%d", b->prefix, i);
        json_int_t billed = json_integer_value(json_object_get(by_report, rid));
        c->ai_calls += (long)billed;
        json_t *r = json_object_get(f->res.by_id, rid);
        if (!r) {
            if (c->missing++ < 5)
                fprintf(stderr, "no result for %s\n", rid);
            continue;
        }
        c->results++;
        json_int_t records = json_integer_value(json_object_get(f->res.count, rid));
        if (records > c->max_records)
            c->max_records = (int)records;
        if (records != 1 && c->repeated++ < 5)
            fprintf(stderr, "%s has %lld result records\n", rid, (long long)records);
        json_t *analyses = json_object_get(r, "analyses");
        size_t k;
        json_t *a;
        json_int_t succeeded = 0;
        json_array_foreach(analyses, k, a) succeeded +=
            json_is_null(json_object_get(a, "error"));
        bool ok = json_array_size(analyses) == 3 && succeeded == 3;
        if (!ok && c->failed++ < 5) {
            char *text = json_dumps(r, JSON_COMPACT);
            fprintf(stderr, "%s has a failed analysis: %s\n", rid, text);
            free(text);
        }
        if (billed != succeeded) {
            c->billed_more += billed > succeeded;
            if (c->billed_wrong++ < 5)
                fprintf(stderr, "%s billed %lld analyses, %lld succeeded\n", rid,
                        (long long)billed, (long long)succeeded);
        }
    }
    json_decref(stats);
    b->after = bf_faults_metrics(f);
    fprintf(stderr,
            "[%s] %d reports in, %d with a result (%zu of %zu wanted overall) in %.1f s; "
            "missing %d, repeated %d (most records for one report %d), with a failed "
            "analysis %d, billed other than once per successful analysis %d (more: %d); "
            "AI calls %ld (%.2f per report); publisher exit %d\n",
            b->prefix, c->reports, c->results, got, want, c->seconds, c->missing,
            c->repeated, c->max_records, c->failed, c->billed_wrong, c->billed_more,
            c->ai_calls, (double)c->ai_calls / c->reports,
            WIFEXITED(c->producer_status) ? WEXITSTATUS(c->producer_status) : -1);
    if (c->missing)
        explain_missing(f, b->prefix);
}

void bf_faults_batch_check(bf_faults_t *f, bf_faults_batch_t *b, int failed_allowed)
{
    bf_faults_counts_t c;
    bf_faults_batch_count(f, b, &c);
    if (!WIFEXITED(c.producer_status) || WEXITSTATUS(c.producer_status) != 0)
        fail_msg("the producer failed (status %d)", c.producer_status);
    for (int i = 0; i < f->n_workers; i++)
        if (!f->killed[i] && bf_proc_exited(&f->workers[i], NULL))
            bf_faults_fail(f, "a worker died");
    if (c.missing || c.repeated || c.failed > failed_allowed || c.billed_wrong)
        bf_faults_fail(f, "a promise broke under the fault (see above)");
}

double bf_faults_grew(const bf_faults_batch_t *b, const char *family, const char *must)
{
    return bf_faults_metric_sum(b->after, family, must) -
           bf_faults_metric_sum(b->before, family, must);
}

void bf_faults_batch_free(bf_faults_batch_t *b)
{
    free(b->before);
    free(b->after);
}

/* What the batch's fault added to each counter family, series by series
 * (the numbers an operator would see). */
void bf_faults_print_growth(const bf_faults_batch_t *b, const char *const families[])
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

/* POST /faults on the simulator. @returns the HTTP status. */
long bf_faults_set_ai(bf_faults_t *f, const char *json)
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
