/*
 * test_producer.c - bountyfleet-producer and its C API against the dev
 * broker: every framing lands on the topic keyed by report_id and decodes
 * (Confluent through a local Schema Registry); bad reports are named with
 * file and line while the rest go out; the generator's duplicates and
 * near duplicates are what they claim; a trace replays its arrivals;
 * a bad flag is one line and exit 2; the C API and its example publish.
 *
 * The CLI runs as a child (popen, stderr to a file); what it published is
 * read back by a plain consumer assigned to every partition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "libbf/codec.h"
#include "libbf/registry.h"
#include "producer/bountyfleet_producer.h"
#include "support/registry_server.h"
#include "support/stack.h"

typedef struct fixture_s {
    bf_proc_t broker;
    char brokers[512];
    char tmpdir[256];
    bf_test_registry_t *registry;
} fixture_t;

static fixture_t fx;

static int setup_all(void **state)
{
    (void)state;
    snprintf(fx.tmpdir, sizeof(fx.tmpdir), "/tmp/bf-test-producer-XXXXXX");
    if (!mkdtemp(fx.tmpdir))
        return -1;
    char bin[512];
    const char *argv[] = {bf_test_bin("bountyfleet-devbroker", bin, sizeof(bin)), NULL};
    if (bf_proc_start(&fx.broker, "devbroker", fx.tmpdir, argv, NULL, true,
                      10 * bf_test_timeout_mult()) != 0)
        return -1;
    snprintf(fx.brokers, sizeof(fx.brokers), "%s", fx.broker.first_line);
    fx.registry = bf_test_registry_start(NULL);
    return fx.registry ? 0 : -1;
}

static int teardown_all(void **state)
{
    (void)state;
    bf_proc_stop(&fx.broker, SIGTERM, 10);
    bf_test_registry_stop(fx.registry);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.tmpdir);
    if (!getenv("BF_TEST_KEEP_TMP") && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx.tmpdir);
    return 0;
}

/* ------------------------------------------------------------------------
 * Running the CLI and reading the topic back
 */

typedef struct cli_run_s {
    int status; /* exit status */
    char out[4096];
    char err[16384];
    json_t *summary; /* stdout parsed, or NULL */
} cli_run_t;

static void cli_run_free(cli_run_t *r)
{
    json_decref(r->summary);
}

static void slurp(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(out, 1, size - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs "env ENV bountyfleet-producer -b BROKERS ARGS" through the shell. */
static void run_cli(cli_run_t *r, const char *env, const char *args)
{
    char bin[512], errpath[512], cmd[4096];
    snprintf(errpath, sizeof(errpath), "%s/producer.err", fx.tmpdir);
    snprintf(cmd, sizeof(cmd), "env %s %s -b %s %s 2>%s", env ? env : "",
             bf_test_bin("bountyfleet-producer", bin, sizeof(bin)), fx.brokers, args,
             errpath);
    memset(r, 0, sizeof(*r));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(r->out, 1, sizeof(r->out) - 1, p);
    r->out[n] = '\0';
    int st = pclose(p);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(errpath, r->err, sizeof(r->err));
    r->summary = json_loads(r->out, JSON_DISABLE_EOF_CHECK, NULL);
}

static long long summary_int(const cli_run_t *r, const char *key)
{
    json_t *v = json_object_get(r->summary, key);
    if (!json_is_integer(v))
        fail_msg("summary has no %s: %s / %s", key, r->out, r->err);
    return json_integer_value(v);
}

typedef struct record_s {
    char *key;
    char *value;
    size_t len;
} record_t;

/* Read @p want records from every partition of @p topic (from the start). */
static record_t *consume(const char *topic, size_t want)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", fx.brokers, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", "test-producer-reader", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    assert_int_equal(rd_kafka_metadata(rk, 0, t, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    assert_int_equal(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    record_t *out = calloc(want + 1, sizeof(*out));
    size_t got = 0;
    double deadline = bf_test_now() + 30 * bf_test_timeout_mult();
    while (got < want && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            out[got].key = strndup(m->key ? m->key : "", m->key_len);
            out[got].value = malloc(m->len + 1);
            memcpy(out[got].value, m->payload, m->len);
            out[got].value[m->len] = '\0';
            out[got].len = m->len;
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_destroy(rk);
    if (got != want)
        fail_msg("read %zu of %zu records from %s", got, want, topic);
    return out;
}

static void records_free(record_t *r)
{
    for (size_t i = 0; r && r[i].value; i++) {
        free(r[i].key);
        free(r[i].value);
    }
    free(r);
}

static char *write_file(const char *name, const char *text)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", fx.tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define REPORT(id, title)                                                                \
    "{\"report_id\":\"" id "\",\"submitted_at\":\"2024-05-01T12:00:00Z\","               \
    "\"program\":\"acme\",\"reporter\":\"alice\",\"title\":\"" title "\","               \
    "\"asset\":\"www.acme.example\",\"description\":\"echoed unescaped\"}\n"

/* ------------------------------------------------------------------------
 * Tests
 */

/* One run per framing; the records decode with the detected framing, and
 * Confluent ids come from the registry the producer registered with. */
static void test_every_framing_publishes_records_keyed_by_report_id(void **state)
{
    (void)state;
    const char *framings[] = {"avro", "json", "confluent"};
    const bf_framing_t want[] = {BF_FRAMING_SINGLE_OBJECT, BF_FRAMING_JSON,
                                 BF_FRAMING_CONFLUENT};
    char *file = write_file("three.jsonl", REPORT("a-1", "one") REPORT("a-2", "two")
                                               REPORT("a-3", "three"));
    char errstr[256] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    bf_registry_options_t o = {.url = bf_test_registry_url(fx.registry)};
    bf_registry_t *reader = bf_registry_new(&o, errstr, sizeof(errstr));
    bf_registry_use_for_decoding(reader, codec);
    for (size_t f = 0; f < 3; f++) {
        char env[256] = "", args[1024], topic[64];
        snprintf(topic, sizeof(topic), "framing-%s", framings[f]);
        if (want[f] == BF_FRAMING_CONFLUENT)
            snprintf(env, sizeof(env), "SCHEMA_REGISTRY_URL=%s",
                     bf_test_registry_url(fx.registry));
        snprintf(args, sizeof(args), "-t %s --framing %s %s", topic, framings[f], file);
        cli_run_t r;
        run_cli(&r, env, args);
        if (r.status != 0)
            fail_msg("%s: exit %d: %s", framings[f], r.status, r.err);
        assert_int_equal(summary_int(&r, "delivered"), 3);
        record_t *recs = consume(topic, 3);
        for (size_t i = 0; i < 3; i++) {
            json_t *obj = NULL;
            bf_framing_t got;
            bf_err_t err =
                bf_codec_decode(codec, BF_RECORD_REPORT, recs[i].value, recs[i].len, &obj,
                                &got, errstr, sizeof(errstr));
            if (err != BF_OK)
                fail_msg("%s: decode: %s", framings[f], errstr);
            assert_int_equal(got, want[f]);
            assert_string_equal(json_string_value(json_object_get(obj, "report_id")),
                                recs[i].key);
            json_decref(obj);
        }
        records_free(recs);
        cli_run_free(&r);
    }
    /* The producer registered report.avsc under TopicNameStrategy's subject. */
    char url[256];
    snprintf(url, sizeof(url), "%s/subjects/framing-confluent-value/versions",
             bf_test_registry_url(fx.registry));
    long status = 0;
    char *versions = bf_test_http_get(url, &status);
    assert_int_equal(status, 200);
    assert_string_equal(versions, "[1]");
    free(versions);
    bf_registry_destroy(reader);
    bf_codec_destroy(codec);
    free(file);
}

static void test_confluent_without_registry_or_id_is_a_usage_error(void **state)
{
    (void)state;
    cli_run_t r;
    run_cli(&r, "-u SCHEMA_REGISTRY_URL", "--framing confluent --synthetic 1");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "needs a schema registry"));
    cli_run_free(&r);
}

static void test_bad_reports_are_named_and_the_rest_go_out(void **state)
{
    (void)state;
    char *file = write_file("mixed.jsonl",
                            REPORT("m-1", "fine") "{\"report_id\":\"m-2\"}\n"
                                                  "not json\n" REPORT("m-4", "fine too"));
    char args[1024];
    snprintf(args, sizeof(args), "-t mixed %s", file);
    cli_run_t r;
    run_cli(&r, NULL, args);
    assert_int_equal(r.status, 1);
    assert_int_equal(summary_int(&r, "delivered"), 2);
    assert_int_equal(summary_int(&r, "invalid"), 2);
    char where[600];
    snprintf(where, sizeof(where), "%s:2: field program is required", file);
    assert_non_null(strstr(r.err, where));
    snprintf(where, sizeof(where), "%s:3: invalid JSON", file);
    assert_non_null(strstr(r.err, where));
    records_free(consume("mixed", 2));
    cli_run_free(&r);
    free(file);
}

static void test_a_bad_flag_is_one_line_and_exit_2(void **state)
{
    (void)state;
    const char *bad[] = {"--rate -1 --synthetic 1",
                         "--framing xml --synthetic 1",
                         "--dup-ratio 0.7 --near-dup-ratio 0.7 --synthetic 1",
                         "--replay /nonexistent.csv",
                         "--synthetic 3 some-file.json",
                         "--replay x.csv --rate 5",
                         "-X no.such.property=1 --synthetic 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cli_run_t r;
        run_cli(&r, NULL, bad[i]);
        if (r.status != 2)
            fail_msg("'%s': exit %d (%s)", bad[i], r.status, r.err);
        assert_non_null(strchr(r.err, '\n'));
        assert_null(strchr(strchr(r.err, '\n') + 1, '\n')); /* one line */
        cli_run_free(&r);
    }
}

/* Exact duplicates carry an earlier report's content under a new id; near
 * duplicates keep its asset with other text. */
static void test_synthetic_duplicates_are_what_they_claim(void **state)
{
    (void)state;
    cli_run_t r;
    run_cli(&r, NULL,
            "-t synthetic --framing json --synthetic 200 --dup-ratio 0.2 "
            "--near-dup-ratio 0.2 --seed 7");
    assert_int_equal(r.status, 0);
    long long dups = summary_int(&r, "duplicates_generated");
    long long near = summary_int(&r, "near_duplicates_generated");
    assert_true(dups > 15 && dups < 70); /* 20% of 200, loosely */
    assert_true(near > 15 && near < 70);
    record_t *recs = consume("synthetic", 200);
    /* Content = title + asset + description; count repeats. */
    json_t *seen = json_object(), *assets = json_object();
    long long repeats = 0, shared_asset = 0;
    for (size_t i = 0; i < 200; i++) {
        json_t *o = json_loads(recs[i].value, 0, NULL);
        assert_non_null(o);
        const char *content = json_string_value(json_object_get(o, "description"));
        const char *asset = json_string_value(json_object_get(o, "asset"));
        char key[600];
        snprintf(key, sizeof(key), "%.80s|%.200s|%.300s",
                 json_string_value(json_object_get(o, "title")), asset, content);
        repeats += json_object_get(seen, key) != NULL;
        json_object_set_new(seen, key, json_true());
        shared_asset += json_object_get(assets, asset) != NULL;
        json_object_set_new(assets, asset, json_true());
        json_decref(o);
    }
    assert_int_equal(repeats, dups);
    /* Both kinds keep the asset of the report they copy (originals may
     * share one too: the corpus has several reports per host). */
    assert_true(shared_asset >= dups + near);
    json_decref(seen);
    json_decref(assets);
    records_free(recs);
    cli_run_free(&r);
}

static void test_replay_publishes_the_trace_arrivals(void **state)
{
    (void)state;
    char *trace = write_file("trace.csv", "timestamp,value\n"
                                          "2024-01-01 00:00:00,5\n"
                                          "2024-01-01 00:00:10,0\n"
                                          "2024-01-01 00:00:20,7.0\n");
    char args[1024];
    snprintf(args, sizeof(args), "-t replay --replay %s --speedup 100", trace);
    double started = bf_test_now();
    cli_run_t r;
    run_cli(&r, NULL, args);
    assert_int_equal(r.status, 0);
    assert_int_equal(summary_int(&r, "delivered"), 12);
    /* The last interval starts 20 s in: 0.2 s at 100x. */
    assert_true(bf_test_now() - started >= 0.2);
    records_free(consume("replay", 12));
    cli_run_free(&r);

    char *bad =
        write_file("bad.csv", "timestamp,value\n2024-01-01 00:00:00,5\nyesterday,3\n");
    snprintf(args, sizeof(args), "--replay %s", bad);
    run_cli(&r, NULL, args);
    assert_int_equal(r.status, 2);
    char where[600];
    snprintf(where, sizeof(where), "%s:3:", bad);
    assert_non_null(strstr(r.err, where));
    cli_run_free(&r);
    free(trace);
    free(bad);
}

/* Quiet when stderr is not a terminal; a progress line with rate and ETA
 * when it is (script(1) gives the producer a pseudo-terminal). */
static void test_progress_only_on_a_terminal(void **state)
{
    (void)state;
    cli_run_t r;
    run_cli(&r, NULL, "-t progress --synthetic 20");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, ""); /* stderr is a file here */
    cli_run_free(&r);

    char bin[512], cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "script -qec \"%s -b %s -t progress --synthetic 200 --rate 25 >/dev/null\" "
             "/dev/null",
             bf_test_bin("bountyfleet-producer", bin, sizeof(bin)), fx.brokers);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[8192];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_non_null(strstr(out, "reports/s"));
    assert_non_null(strstr(out, "sent 200/200 (100%)"));
    /* 8 s at 25/s, a line every 0.5 s: an ETA appears once anything is
     * delivered, even when the first delivery waits seconds for the
     * broker on a loaded machine (60 at 50/s once failed that way, and
     * 100 at 25/s leaves a first delivery only 3.5 s). */
    assert_non_null(strstr(out, "ETA"));
}

static void on_delivery(void *opaque, const char *report_id, bf_err_t err,
                        const char *reason)
{
    (void)reason;
    if (err == BF_OK && strncmp(report_id, "api-", 4) == 0)
        (*(int *)opaque)++;
}

static void test_c_api_publishes_and_refuses_bad_reports(void **state)
{
    (void)state;
    int delivered = 0;
    const char *props[] = {"client.id=test-api", "linger.ms=1", NULL};
    bf_producer_conf_t conf = {.brokers = fx.brokers,
                               .topic = "api",
                               .kafka_props = props,
                               .confluent_id = -1,
                               .on_delivery = on_delivery,
                               .opaque = &delivered};
    char errstr[256] = "";
    bf_producer_t *p = bf_producer_new(&conf, errstr, sizeof(errstr));
    if (!p)
        fail_msg("bf_producer_new: %s", errstr);
    assert_int_equal(
        bf_producer_send_json(p, REPORT("api-1", "x"), 0, errstr, sizeof(errstr)), BF_OK);
    json_t *obj = json_loads(REPORT("api-2", "y"), 0, NULL);
    assert_int_equal(bf_producer_send_object(p, obj, errstr, sizeof(errstr)), BF_OK);
    json_decref(obj);
    assert_int_equal(
        bf_producer_send_json(p, "{\"report_id\":", 0, errstr, sizeof(errstr)),
        BF_ERR_PARSE);
    assert_int_equal(
        bf_producer_send_json(p, "{\"report_id\":\"api-3\"}", 0, errstr, sizeof(errstr)),
        BF_ERR_MISSING_FIELD);
    assert_int_equal(bf_producer_flush(p, (int)(30000 * bf_test_timeout_mult())), BF_OK);
    bf_producer_stats_t st;
    bf_producer_stats(p, &st);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.invalid, 2);
    assert_int_equal(st.outstanding, 0);
    assert_int_equal(delivered, 2);
    bf_producer_destroy(p);

    const char *bad_props[] = {"no.such.property=1", NULL};
    conf.kafka_props = bad_props;
    assert_null(bf_producer_new(&conf, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "no.such.property"));
    records_free(consume("api", 2));
}

static void test_the_example_program_publishes(void **state)
{
    (void)state;
    char bin[512], cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s 4 >/dev/null 2>&1",
             bf_test_bin("bountyfleet-producer-example", bin, sizeof(bin)), fx.brokers);
    int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    records_free(consume("bountyfleet.reports", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_framing_publishes_records_keyed_by_report_id),
        cmocka_unit_test(test_confluent_without_registry_or_id_is_a_usage_error),
        cmocka_unit_test(test_bad_reports_are_named_and_the_rest_go_out),
        cmocka_unit_test(test_a_bad_flag_is_one_line_and_exit_2),
        cmocka_unit_test(test_synthetic_duplicates_are_what_they_claim),
        cmocka_unit_test(test_replay_publishes_the_trace_arrivals),
        cmocka_unit_test(test_progress_only_on_a_terminal),
        cmocka_unit_test(test_c_api_publishes_and_refuses_bad_reports),
        cmocka_unit_test(test_the_example_program_publishes),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
