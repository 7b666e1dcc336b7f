/*
 * test_registry_outage.c - a Schema Registry outage is not the report's
 * fault: a Confluent-framed report whose schema id the worker has not seen
 * waits while the registry fails (5xx, then timeouts), is never
 * dead-lettered, gets its result once the registry answers again, and the
 * worker's offsets commit to the end of the topic.
 *
 * The story: two registry-like servers start, one for the producer (A)
 * and one for the worker (B), both knowing the report schema under the
 * same id; B holds it under another subject, so the worker does not learn
 * it when it starts and has to look it up when the report arrives. B fails
 * the first lookups with 503, then answers too slowly for the worker's
 * lookup timeout (SCHEMA_REGISTRY_TIMEOUT, 0.5 s here), and then recovers.
 *
 * Two shorter stories beside it: a worker stopped while its lookup is in
 * flight exits cleanly and leaves the report uncommitted (the lookup is
 * asynchronous: the job waits, and is freed at the drain deadline), and
 * --once, which makes its start-up requests synchronously, still works
 * with a registry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libbf/codec.h"
#include "libbf/registry.h"
#include "support/registry_server.h"
#include "support/results.h"
#include "support/stack.h"

#define PARTITIONS 2
#define REPORTS    2

typedef struct fixture_s {
    bf_stack_t s;
    bf_test_registry_t *producer_registry;
    bf_test_registry_t *worker_registry;
    bf_proc_t worker;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    const char *aisim_args[] = {"--latency-ms", "5", NULL};
    if (bf_stack_start(&f->s, PARTITIONS, aisim_args) != 0 ||
        !(f->producer_registry = bf_test_registry_start(NULL)) ||
        !(f->worker_registry = bf_test_registry_start(NULL))) {
        bf_test_registry_stop(f->producer_registry);
        bf_stack_stop(&f->s);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    bf_proc_stop(&f->worker, SIGTERM, 60);
    bf_stack_stop(&f->s);
    bf_test_registry_stop(f->producer_registry);
    bf_test_registry_stop(f->worker_registry);
    free(f);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void publish_confluent(fixture_t *f)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/outage.jsonl", f->s.tmpdir);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    for (int i = 0; i < REPORTS; i++)
        fprintf(out,
                "{\"report_id\":\"outage-%d\",\"submitted_at\":1714564800000,\"program\":"
                "\"acme\",\"reporter\":\"alice\",\"title\":\"outage issue %d\",\"asset\":"
                "\"o.acme.example\",\"description\":\"Distinct outage text %d so no "
                "duplicate\"}\n",
                i, i, i);
    fclose(out);
    char env[600];
    snprintf(env, sizeof(env), "SCHEMA_REGISTRY_URL=%s",
             bf_test_registry_url(f->producer_registry));
    const char *args[] = {"--framing", "confluent", NULL};
    const char *envs[] = {env, NULL};
    bf_test_run_producer_with(&f->s, path, args, envs);
}

/* A consumer in @p group, assigned to every partition of @p topic from
 * the beginning, or to nothing (NULL: for reading the group's offsets). */
static rd_kafka_t *reader(fixture_t *f, const char *group, const char *topic)
{
    const char *props[] = {"group.id", group, NULL};
    return bf_test_topic_reader_with(f->s.brokers, topic, topic ? PARTITIONS : 0, props);
}

/* Records on @p rk until @p want arrived or @p seconds passed. */
static int count_records(rd_kafka_t *rk, int want, double seconds)
{
    int n = 0;
    double deadline = bf_test_now() + seconds;
    while (n < want && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err)
            n++;
        rd_kafka_message_destroy(m);
    }
    return n;
}

/* Whether the worker group's committed offsets reached the log end. */
static bool committed_to_end(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(l, "bountyfleet.reports", p);
    bool ok = rd_kafka_committed(rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int p = 0; ok && p < PARTITIONS; p++) {
        int64_t lo = 0, hi = 0;
        ok = rd_kafka_query_watermark_offsets(rk, "bountyfleet.reports", p, &lo, &hi,
                                              5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
             (hi == 0 || l->elems[p].offset == hi);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return ok;
}

/* B learns the report schema as the producer registers it (its first id,
 * as in A), under a subject the worker does not preload. */
static void teach_worker_registry(fixture_t *f)
{
    char errstr[512] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    bf_registry_options_t o = {.url = bf_test_registry_url(f->worker_registry)};
    bf_registry_t *reg = bf_registry_new(&o, errstr, sizeof(errstr));
    int32_t id = -1;
    assert_int_equal(bf_registry_register_for_encoding(reg, codec, BF_RECORD_REPORT,
                                                       "elsewhere", &id, errstr,
                                                       sizeof(errstr)),
                     BF_OK);
    assert_int_equal(id, 1);
    bf_registry_destroy(reg);
    bf_codec_destroy(codec);
}

/* The worker on the stack with B as its registry, lookups bounded by
 * @p registry_timeout (SCHEMA_REGISTRY_TIMEOUT), and more flags (may be
 * NULL); returns once it has made its start-up requests (preload). */
static void start_worker(fixture_t *f, const char *registry_timeout,
                         const char *const *args)
{
    char bin[512], env_brokers[600], env_redis[200], env_ai[600], env_registry[300],
        env_timeout[64];
    snprintf(env_brokers, sizeof(env_brokers), "KAFKA_BROKERS=%s", f->s.brokers);
    snprintf(env_redis, sizeof(env_redis), "REDIS_URL=%s", f->s.redis_url);
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", f->s.ai_base_url);
    snprintf(env_registry, sizeof(env_registry), "SCHEMA_REGISTRY_URL=%s",
             bf_test_registry_url(f->worker_registry));
    snprintf(env_timeout, sizeof(env_timeout), "SCHEMA_REGISTRY_TIMEOUT=%s",
             registry_timeout);
    const char *env[] = {env_brokers,
                         env_redis,
                         env_ai,
                         "OPENAI_API_KEY=test-key",
                         env_registry,
                         env_timeout,
                         "BOUNTYFLEET_WORKER_ID=outage",
                         NULL};
    const char *argv[16] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), "-X",
                            "session.timeout.ms=6000"};
    for (int i = 0; args && args[i] && i < 12; i++)
        argv[3 + i] = args[i];
    unsigned before = bf_test_registry_requests(f->worker_registry);
    assert_int_equal(
        bf_proc_start(&f->worker, "worker", f->s.tmpdir, argv, env, false, 5), 0);
    double deadline = bf_test_now() + 20 * bf_test_timeout_mult();
    while (bf_test_registry_requests(f->worker_registry) == before &&
           bf_test_now() < deadline)
        sleep_ms(20);
    assert_true(bf_test_registry_requests(f->worker_registry) > before);
}

static void test_registry_outage_delays_reports_without_dead_letters(void **state)
{
    fixture_t *f = *state;
    teach_worker_registry(f);
    start_worker(f, "0.5", NULL);
    /* The worker is consuming some time after its start-up requests;
     * give it that before failing the registry. */
    sleep_ms(500);
    unsigned before = bf_test_registry_requests(f->worker_registry);
    bf_test_registry_fail_next(f->worker_registry, 503, 2);
    publish_confluent(f);
    char url[400];
    snprintf(url, sizeof(url), "%s/subjects/bountyfleet.reports-value/versions/latest",
             bf_test_registry_url(f->producer_registry));
    long status = 0;
    char *latest = bf_test_http_get(url, &status);
    assert_int_equal(status, 200);
    json_t *answer = json_loads(latest, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(answer, "id")), 1);
    json_decref(answer);
    free(latest);

    /* The 503s are used up by lookups (one per fail-fast window of the
     * worker's registry client, 5 s), and no dead letter appears. */
    rd_kafka_t *dlq = reader(f, "outage-dlq", "bountyfleet.reports.dlq");
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    while (bf_test_registry_requests(f->worker_registry) < before + 2 &&
           bf_test_now() < deadline)
        sleep_ms(50);
    assert_true(bf_test_registry_requests(f->worker_registry) >= before + 2);
    /* Then too slow for the worker's lookup timeout: more retries. */
    bf_test_registry_set_delay_ms(f->worker_registry, 1500);
    unsigned slow = bf_test_registry_requests(f->worker_registry);
    deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    while (bf_test_registry_requests(f->worker_registry) < slow + 1 &&
           bf_test_now() < deadline)
        sleep_ms(50);
    sleep_ms(1500);
    assert_int_equal(count_records(dlq, 1, 1.0), 0);
    bf_test_registry_set_delay_ms(f->worker_registry, 0);

    /* Recovered: every report gets its result, still no dead letter. */
    rd_kafka_t *results = reader(f, "outage-results", "bountyfleet.validations");
    int got = count_records(results, REPORTS, 90 * bf_test_timeout_mult());
    if (got != REPORTS) {
        bf_proc_dump_log(&f->worker, 40);
        fail_msg("%d of %d reports have a result", got, REPORTS);
    }
    assert_int_equal(count_records(dlq, 1, 2.0), 0);

    /* The offsets commit to the end of the topic. */
    rd_kafka_t *group = reader(f, "bountyfleet-workers", NULL);
    bool done = false;
    deadline = bf_test_now() + 30 * bf_test_timeout_mult();
    while (!(done = committed_to_end(group)) && bf_test_now() < deadline)
        sleep_ms(200);
    assert_true(done);
    rd_kafka_destroy(group);
    rd_kafka_destroy(results);
    rd_kafka_destroy(dlq);
}

/* SIGTERM while the reports wait for a lookup that takes longer than the
 * drain: the worker abandons them at the deadline (freeing the jobs that
 * wait for the registry, the lookup cancelled), exits 0, and their offsets
 * stay uncommitted, so that the next worker reads them again. */
static void test_stop_with_a_lookup_in_flight_exits_cleanly(void **state)
{
    fixture_t *f = *state;
    teach_worker_registry(f);
    const char *args[] = {"--drain-timeout", "1", NULL};
    start_worker(f, "30", args);
    sleep_ms(500);
    unsigned before = bf_test_registry_requests(f->worker_registry);
    bf_test_registry_set_delay_ms(f->worker_registry,
                                  (int)(5000 * bf_test_timeout_mult()));
    publish_confluent(f);
    double deadline = bf_test_now() + 30 * bf_test_timeout_mult();
    while (bf_test_registry_requests(f->worker_registry) == before &&
           bf_test_now() < deadline)
        sleep_ms(20);
    assert_true(bf_test_registry_requests(f->worker_registry) > before); /* asked */
    int ws = bf_proc_stop(&f->worker, SIGTERM, 30 * bf_test_timeout_mult());
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        bf_proc_dump_log(&f->worker, 40);
        fail_msg("the worker did not exit cleanly (wait status %d)", ws);
    }
    bf_test_registry_set_delay_ms(f->worker_registry, 0);
    rd_kafka_t *dlq = reader(f, "stop-dlq", "bountyfleet.reports.dlq");
    assert_int_equal(count_records(dlq, 1, 2.0), 0);
    rd_kafka_t *group = reader(f, "bountyfleet-workers", NULL);
    assert_false(committed_to_end(group));
    rd_kafka_destroy(group);
    rd_kafka_destroy(dlq);
}

/* --once with SCHEMA_REGISTRY_URL: its start-up requests go to the
 * registry (synchronously, before its loop runs) and the report's result
 * is printed. */
static void test_once_works_with_a_registry(void **state)
{
    fixture_t *f = *state;
    char report[600];
    snprintf(report, sizeof(report), "%s/once.json", f->s.tmpdir);
    FILE *out = fopen(report, "w");
    assert_non_null(out);
    fputs("{\"report_id\":\"once-1\",\"submitted_at\":1714564800000,\"program\":"
          "\"acme\",\"reporter\":\"alice\",\"title\":\"once issue\",\"asset\":"
          "\"o.acme.example\",\"description\":\"A report for --once\"}\n",
          out);
    fclose(out);
    char bin[512], env_ai[600], env_registry[300];
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", f->s.ai_base_url);
    snprintf(env_registry, sizeof(env_registry), "SCHEMA_REGISTRY_URL=%s",
             bf_test_registry_url(f->worker_registry));
    const char *env[] = {env_ai, "OPENAI_API_KEY=test-key", env_registry,
                         "METRICS_ADDR=off", NULL};
    const char *argv[] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), "--once",
                          report, "--no-stream", NULL};
    unsigned before = bf_test_registry_requests(f->worker_registry);
    bf_proc_t once;
    assert_int_equal(bf_proc_start(&once, "once", f->s.tmpdir, argv, env, false, 5), 0);
    int ws = 0;
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    while (!bf_proc_exited(&once, &ws) && bf_test_now() < deadline)
        sleep_ms(50);
    if (once.pid > 0)
        bf_proc_stop(&once, SIGKILL, 5);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        bf_proc_dump_log(&once, 40);
        fail_msg("--once failed (wait status %d)", ws);
    }
    assert_true(bf_test_registry_requests(f->worker_registry) > before);
    FILE *log = fopen(once.log_path, "r");
    assert_non_null(log);
    char line[16384];
    bool printed = false;
    while (fgets(line, sizeof(line), log))
        printed = printed || strstr(line, "\"report_id\":\"once-1\"");
    fclose(log);
    assert_true(printed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_registry_outage_delays_reports_without_dead_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_a_lookup_in_flight_exits_cleanly,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_once_works_with_a_registry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
