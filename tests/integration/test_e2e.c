/*
 * test_e2e.c - one run of the whole system on loopback.
 *
 * The story: the local stack starts (dev broker with 6 partitions, Redis,
 * AI simulator); two workers join the group; 450 real disclosed reports
 * are published with bountyfleet-producer and validated; then 50 of them
 * are published again under new ids (exact duplicates). We check that
 * every report has exactly one result record, that each duplicate points
 * at its original, that no report was analysed twice (counted at the
 * simulator), that the committed offsets reach the end of every
 * partition, and that the workers stop cleanly on SIGTERM.
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

#include "libbf/codec.h"
#include "libbf/mem.h"
#include "support/results.h"
#include "support/stack.h"

#define PARTITIONS 6
#define ORIGINALS  450
#define DUPLICATES 50

/* Write the first @p n sample reports (or their re-sent copies) as JSON lines. */
static void write_reports(const char *path, int first, int n, bool as_duplicates)
{
    char sample[1024];
    snprintf(sample, sizeof(sample), "%s/ops/demo-data/sample-reports.jsonl",
             BF_SOURCE_DIR);
    FILE *in = fopen(sample, "r");
    assert_non_null(in);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    char *line = NULL;
    size_t cap = 0;
    int i = 0;
    while (getline(&line, &cap, in) > 0 && i < first + n) {
        if (i++ < first)
            continue;
        json_t *obj = json_loads(line, 0, NULL);
        assert_non_null(obj);
        if (as_duplicates) {
            char id[300];
            snprintf(id, sizeof(id), "%s-again",
                     json_string_value(json_object_get(obj, "report_id")));
            json_object_set_new(obj, "report_id", json_string(id));
            json_object_set_new(obj, "reporter", json_string("copycat"));
        }
        char *s = json_dumps(obj, JSON_COMPACT);
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(obj);
    }
    free(line);
    fclose(in);
    fclose(out);
}

/* Committed offsets of the worker group reach the log end everywhere. */
static bool group_caught_up(const char *brokers, char *why, size_t why_size)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", "bountyfleet-workers", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(l, "bountyfleet.reports", p);
    bool ok = rd_kafka_committed(rk, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int p = 0; ok && p < PARTITIONS; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, "bountyfleet.reports", p, &lo, &hi,
                                             10000)) {
            ok = false;
            snprintf(why, why_size, "watermarks of partition %d unavailable", p);
            break;
        }
        if (l->elems[p].offset != hi) {
            ok = false;
            snprintf(why, why_size, "partition %d committed %lld, end %lld", p,
                     (long long)l->elems[p].offset, (long long)hi);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return ok;
}

/* Everything the test starts, so teardown can stop it even after a
 * failed assertion. */
typedef struct fixture_s {
    bf_stack_t s;
    bf_proc_t workers[2];
    bf_test_results_t r;
    bool results_open;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = bf_calloc(1, sizeof(*f));
    const char *aisim_args[] = {"--latency-ms", "20", NULL};
    if (bf_stack_start(&f->s, PARTITIONS, aisim_args) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 2; i++)
        bf_proc_stop(&f->workers[i], SIGTERM, 60);
    if (f->results_open)
        bf_test_results_close(&f->r);
    bf_stack_stop(&f->s);
    free(f);
    return 0;
}

static void
test_reports_flow_to_one_result_each_and_duplicates_point_at_originals(void **state)
{
    fixture_t *f = *state;
    bf_stack_t s = f->s; /* a copy of the addresses; f->s owns the processes */
    bf_proc_t *workers = f->workers;

    char env_brokers[600], env_redis[200], env_ai[600];
    snprintf(env_brokers, sizeof(env_brokers), "KAFKA_BROKERS=%s", s.brokers);
    snprintf(env_redis, sizeof(env_redis), "REDIS_URL=%s", s.redis_url);
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", s.ai_base_url);
    for (int i = 0; i < 2; i++) {
        char bin[512], id[64];
        snprintf(id, sizeof(id), "BOUNTYFLEET_WORKER_ID=e2e-%d", i);
        /* Exact duplicates only: the 450 real samples hold a templated pair
         * (h1-145265, h1-145266) that near-duplicate detection pairs up;
         * test_neardup_worker.c tells that story. */
        const char *env[] = {env_brokers,
                             env_redis,
                             env_ai,
                             "OPENAI_API_KEY=test-key",
                             "OPENAI_MODEL=sim-1",
                             "BOUNTYFLEET_NEAR_DUP_THRESHOLD=off",
                             id,
                             NULL};
        /* A short session timeout: the dev broker waits it out before
         * rebalancing when a member leaves (see ops/devbroker/main.c). */
        const char *argv[] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), "-X",
                              "session.timeout.ms=6000", NULL};
        char name[32];
        snprintf(name, sizeof(name), "worker%d", i);
        assert_int_equal(bf_proc_start(&workers[i], name, s.tmpdir, argv, env, false, 5),
                         0);
    }

    bf_test_results_t *rp = &f->r;
    bf_test_results_open(rp, s.brokers, PARTITIONS);
    f->results_open = true;

    char file[400];
    snprintf(file, sizeof(file), "%s/originals.jsonl", s.tmpdir);
    write_reports(file, 0, ORIGINALS, false);
    bf_test_run_producer(&s, file);
    size_t got = bf_test_results_wait(rp, ORIGINALS, 180);
    if (got != ORIGINALS) {
        bf_stack_dump_logs(&f->s);
        bf_proc_dump_log(&workers[0], 30);
        bf_proc_dump_log(&workers[1], 30);
        fail_msg("%zu of %d originals have a result", got, ORIGINALS);
    }

    snprintf(file, sizeof(file), "%s/duplicates.jsonl", s.tmpdir);
    write_reports(file, 0, DUPLICATES, true);
    bf_test_run_producer(&s, file);
    got = bf_test_results_wait(rp, ORIGINALS + DUPLICATES, 120);
    assert_int_equal(got, ORIGINALS + DUPLICATES);

    /* Exactly one result record per report; duplicates point at originals. */
    const char *id;
    json_t *res;
    int dup_count = 0;
    json_object_foreach(rp->by_id, id, res)
    {
        assert_int_equal(json_integer_value(json_object_get(rp->count, id)), 1);
        const char *status = json_string_value(json_object_get(res, "status"));
        size_t len = strlen(id);
        bool is_copy = len > 6 && strcmp(id + len - 6, "-again") == 0;
        if (is_copy) {
            assert_string_equal(status, "DUPLICATE");
            char original[300];
            snprintf(original, sizeof(original), "%.*s", (int)(len - 6), id);
            assert_string_equal(json_string_value(json_object_get(res, "duplicate_of")),
                                original);
            assert_int_equal(json_array_size(json_object_get(res, "analyses")), 0);
            dup_count++;
        } else {
            assert_string_not_equal(status, "DUPLICATE");
            assert_int_equal(json_array_size(json_object_get(res, "analyses")), 3);
        }
    }
    assert_int_equal(dup_count, DUPLICATES);

    /* No report analysed twice: the simulator saw 3 calls per original. */
    json_t *stats = bf_test_aisim_stats(&s);
    assert_int_equal(json_integer_value(json_object_get(stats, "requests_total")),
                     3 * ORIGINALS);
    json_t *by_report = json_object_get(stats, "by_report");
    assert_int_equal(json_object_size(by_report), ORIGINALS);
    json_t *n;
    json_object_foreach(by_report, id, n) assert_int_equal(json_integer_value(n), 3);
    json_decref(stats);

    /* Offsets: committed up to the end of every partition. */
    char why[256] = "";
    double deadline = bf_test_now() + 30 * bf_test_timeout_mult();
    bool caught_up = false;
    while (!(caught_up = group_caught_up(s.brokers, why, sizeof(why))) &&
           bf_test_now() < deadline) {
        struct timespec ts = {0, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!caught_up)
        fail_msg("offsets not committed: %s", why);

    /* A graceful stop: both workers exit 0. */
    for (int i = 0; i < 2; i++) {
        int st = bf_proc_stop(&workers[i], SIGTERM, 60);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            bf_proc_dump_log(&workers[i], 30);
            fail_msg("worker %d did not stop cleanly (status %d)", i, st);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_reports_flow_to_one_result_each_and_duplicates_point_at_originals, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
