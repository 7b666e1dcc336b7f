/*
 * test_worker_framings.c - the worker accepts all three framings of
 * DESIGN.md on one topic, Confluent ids resolved through the Schema
 * Registry (SCHEMA_REGISTRY_URL), and writes Confluent-framed results
 * whose id it registered itself.
 *
 * The story: the local stack and a registry-like server start; one worker
 * runs with SCHEMA_REGISTRY_URL and --output-framing confluent; the
 * producer publishes three reports in each framing; every one of the nine
 * gets a result (a report the worker cannot decode would go to the
 * dead-letter topic instead), and the results decode through the registry.
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
#include "libbf/registry.h"
#include "support/registry_server.h"
#include "support/results.h"
#include "support/stack.h"

#define PARTITIONS 2

typedef struct fixture_s {
    bf_stack_t s;
    bf_test_registry_t *registry;
    bf_proc_t worker;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    const char *aisim_args[] = {"--latency-ms", "5", NULL};
    if (bf_stack_start(&f->s, PARTITIONS, aisim_args) != 0 ||
        !(f->registry = bf_test_registry_start(NULL))) {
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
    bf_test_registry_stop(f->registry);
    free(f);
    return 0;
}

static void publish(fixture_t *f, const char *framing, const char *prefix)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s.jsonl", f->s.tmpdir, prefix);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    for (int i = 0; i < 3; i++)
        fprintf(out,
                "{\"report_id\":\"%s-%d\",\"submitted_at\":1714564800000,\"program\":"
                "\"acme\",\"reporter\":\"alice\",\"title\":\"%s issue %d\",\"asset\":"
                "\"%s.acme.example\",\"description\":\"Distinct text %s %d so no "
                "duplicate\"}\n",
                prefix, i, framing, i, prefix, prefix, i);
    fclose(out);
    char env[600];
    snprintf(env, sizeof(env), "SCHEMA_REGISTRY_URL=%s",
             bf_test_registry_url(f->registry));
    const char *args[] = {"--framing", framing, NULL};
    const char *envs[] = {env, NULL};
    bf_test_run_producer_with(&f->s, path, args, envs);
}

static void test_worker_reads_every_framing_and_writes_confluent_results(void **state)
{
    fixture_t *f = *state;
    char bin[512], env_brokers[600], env_redis[200], env_ai[600], env_registry[300];
    snprintf(env_brokers, sizeof(env_brokers), "KAFKA_BROKERS=%s", f->s.brokers);
    snprintf(env_redis, sizeof(env_redis), "REDIS_URL=%s", f->s.redis_url);
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", f->s.ai_base_url);
    snprintf(env_registry, sizeof(env_registry), "SCHEMA_REGISTRY_URL=%s",
             bf_test_registry_url(f->registry));
    const char *env[] = {env_brokers,  env_redis,
                         env_ai,       "OPENAI_API_KEY=test-key",
                         env_registry, "BOUNTYFLEET_WORKER_ID=framings",
                         NULL};
    const char *argv[] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)),
                          "--output-framing",
                          "confluent",
                          "-X",
                          "session.timeout.ms=6000",
                          NULL};
    assert_int_equal(
        bf_proc_start(&f->worker, "worker", f->s.tmpdir, argv, env, false, 5), 0);
    publish(f, "avro", "so");
    publish(f, "json", "js");
    publish(f, "confluent", "cf");

    /* Read the results; their Confluent ids resolve through the registry. */
    char errstr[512] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    bf_registry_options_t o = {.url = bf_test_registry_url(f->registry)};
    bf_registry_t *reg = bf_registry_new(&o, errstr, sizeof(errstr));
    bf_registry_use_for_decoding(reg, codec);
    rd_kafka_t *rk =
        bf_test_topic_reader(f->s.brokers, "bountyfleet.validations", PARTITIONS);
    json_t *seen = json_object();
    double deadline = bf_test_now() + 120 * bf_test_timeout_mult();
    while (json_object_size(seen) < 9 && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            json_t *obj = NULL;
            bf_framing_t framing;
            bf_err_t err =
                bf_codec_decode(codec, BF_RECORD_VALIDATION, m->payload, m->len, &obj,
                                &framing, errstr, sizeof(errstr));
            if (err != BF_OK)
                fail_msg("result does not decode: %s", errstr);
            assert_int_equal(framing, BF_FRAMING_CONFLUENT);
            json_object_set_new(
                seen, json_string_value(json_object_get(obj, "report_id")), json_true());
            json_decref(obj);
        }
        rd_kafka_message_destroy(m);
    }
    if (json_object_size(seen) != 9) {
        bf_proc_dump_log(&f->worker, 40);
        fail_msg("%zu of 9 reports have a result", json_object_size(seen));
    }
    const char *prefixes[] = {"so", "js", "cf"};
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 3; i++) {
            char id[16];
            snprintf(id, sizeof(id), "%s-%d", prefixes[p], i);
            assert_non_null(json_object_get(seen, id));
        }
    /* The worker registered validation.avsc under TopicNameStrategy. */
    char url[400];
    snprintf(url, sizeof(url), "%s/subjects/bountyfleet.validations-value/versions",
             bf_test_registry_url(f->registry));
    long status = 0;
    char *versions = bf_test_http_get(url, &status);
    assert_int_equal(status, 200);
    free(versions);
    json_decref(seen);
    rd_kafka_destroy(rk);
    bf_registry_destroy(reg);
    bf_codec_destroy(codec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_worker_reads_every_framing_and_writes_confluent_results, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
