/*
 * test_interop.c - our wire formats against an independent Avro
 * implementation, Debian's python3-avro, driven through
 * tests/interop/avro_interop.py:
 *
 *   - the Parsing Canonical Form and CRC-64-AVRO fingerprint of every
 *     schema equal the ones the Avro specification defines (computed in
 *     Python from the spec) and python-avro's canonical form;
 *   - reports python-avro writes (single-object, raw Avro, Confluent with
 *     an older writer schema, a newer writer schema) decode here;
 *   - records of every type we encode decode in python-avro;
 *   - Confluent's Python client (python3-confluent-kafka) serializes
 *     reports with an older schema it registers, the worker validates
 *     them, and Confluent's deserializer reads the worker's results;
 *   - end to end without any of our encoders or producers: python-avro
 *     writes two reports (single-object, and Confluent with an older
 *     writer schema known only to the Schema Registry, same text), kcat
 *     publishes the bytes, a worker validates them (the second is a
 *     duplicate of the first), and python-avro reads the worker's results.
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
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "libbf/codec.h"
#include "libbf/schema.h"
#include "support/registry_server.h"
#include "support/results.h"
#include "support/stack.h"

#define SCRIPT           BF_SOURCE_DIR "/tests/interop/avro_interop.py"
#define CONFLUENT_SCRIPT BF_SOURCE_DIR "/tests/interop/confluent_interop.py"
#define BUF_MAX          (1024 * 1024)

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/bf-test-interop-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (!getenv("BF_TEST_KEEP_TMP") && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    return 0;
}

/* Run @p script with @p args; its stdout (malloc'd) and exit status. */
static char *run_python(const char *script, const char *args, int *status)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' %s", BF_PYTHON3, script, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (*status != 0)
        fprintf(stderr, "%s\n-> exit %d:\n%s\n", cmd, *status, out);
    return out;
}

static char *python(const char *args, int *status)
{
    return run_python(SCRIPT, args, status);
}

static bf_record_type_t record_type(const char *name)
{
    static const char *const names[] = {"report", "validation", "heartbeat",
                                        "scaling_decision"};
    for (int i = 0; i < BF_RECORD__COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return (bf_record_type_t)i;
    fail_msg("unknown schema %s", name);
    return BF_RECORD__COUNT;
}

static void test_canonical_form_and_fingerprint_match_the_specification(void **state)
{
    (void)state;
    int status;
    char *out = python("fingerprints " BF_SOURCE_DIR "/schemas", &status);
    assert_int_equal(status, 0);
    char errstr[256];
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    int schemas = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), schemas++) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        const char *name = json_string_value(json_object_get(j, "name"));
        char *ours = NULL;
        assert_int_equal(
            bf_schema_canonical_form(bf_schema_text(name), &ours, errstr, sizeof(errstr)),
            BF_OK);
        assert_string_equal(ours, json_string_value(json_object_get(j, "pcf")));
        assert_string_equal(ours,
                            json_string_value(json_object_get(j, "python_avro_pcf")));
        char fp[32];
        snprintf(fp, sizeof(fp), "%016llx",
                 (unsigned long long)bf_crc64_avro(ours, strlen(ours)));
        assert_string_equal(fp, json_string_value(json_object_get(j, "fingerprint")));
        /* ... and it is what goes on the wire. */
        snprintf(fp, sizeof(fp), "%016llx",
                 (unsigned long long)bf_codec_fingerprint(codec, record_type(name)));
        assert_string_equal(fp, json_string_value(json_object_get(j, "fingerprint")));
        free(ours);
        json_decref(j);
    }
    assert_int_equal(schemas, BF_RECORD__COUNT);
    /* Known answers from Apache Avro's share/test/data/schema-tests.txt. */
    assert_true(bf_crc64_avro("\"null\"", 6) == 7195948357588979594ULL);
    assert_true(bf_crc64_avro("\"int\"", 5) == 8247732601305521295ULL);
    bf_codec_destroy(codec);
    free(out);
}

static void read_bytes(const char *name, bf_buf_t *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char chunk[4096];
    size_t n;
    bf_buf_init(out, BUF_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        bf_buf_append(out, chunk, n);
    fclose(f);
}

static char *slurp_text(const char *path)
{
    bf_buf_t b;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char chunk[4096];
    size_t n;
    bf_buf_init(&b, BUF_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        bf_buf_append(&b, chunk, n);
    fclose(f);
    return bf_buf_steal(&b, NULL);
}

static void expect_decoded(bf_codec_t *codec, const char *file, const bf_buf_t *msg,
                           const json_t *expected, bf_framing_t framing)
{
    json_t *got = NULL;
    bf_framing_t detected;
    char errstr[256] = "";
    bf_err_t err = bf_codec_decode(codec, BF_RECORD_REPORT, msg->data, msg->len, &got,
                                   &detected, errstr, sizeof(errstr));
    if (err != BF_OK)
        fail_msg("%s: %s: %s", file, bf_err_str(err), errstr);
    assert_int_equal(detected, framing);
    const json_t *want = json_object_get(expected, file);
    if (!json_equal(got, want)) {
        char *a = json_dumps(got, JSON_SORT_KEYS), *b = json_dumps(want, JSON_SORT_KEYS);
        fail_msg("%s:\n got  %s\n want %s", file, a, b);
    }
    json_decref(got);
}

static void test_reports_written_by_python_avro_decode(void **state)
{
    (void)state;
    char args[1024];
    int status;
    snprintf(args, sizeof(args), "write '%s' '%s/tests/data'", tmpdir, BF_SOURCE_DIR);
    free(python(args, &status));
    assert_int_equal(status, 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/expected.json", tmpdir);
    char *text = slurp_text(path);
    json_t *expected = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(expected);

    char errstr[256] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    bf_buf_t msg;
    read_bytes("py_single_object.bin", &msg);
    expect_decoded(codec, "py_single_object.bin", &msg, expected,
                   BF_FRAMING_SINGLE_OBJECT);
    bf_buf_free(&msg);

    /* Raw Avro binary: frame it with our header, as a consumer that knows
     * the writer schema out of band would. */
    bf_buf_t raw;
    read_bytes("py_raw.avro", &raw);
    bf_buf_init(&msg, BUF_MAX);
    unsigned char header[10] = {0xC3, 0x01};
    uint64_t fp = bf_codec_fingerprint(codec, BF_RECORD_REPORT);
    for (int i = 0; i < 8; i++)
        header[2 + i] = (unsigned char)(fp >> (8 * i));
    bf_buf_append(&msg, header, sizeof(header));
    bf_buf_append(&msg, raw.data, raw.len);
    expect_decoded(codec, "py_raw.avro", &msg, expected, BF_FRAMING_SINGLE_OBJECT);
    bf_buf_free(&raw);
    bf_buf_free(&msg);

    /* Older writer, Confluent framing: the id names report_v1.avsc. */
    char *v1 = slurp_text(BF_SOURCE_DIR "/tests/data/report_v1.avsc");
    int32_t id =
        (int32_t)json_integer_value(json_object_get(expected, "v1_confluent_id"));
    assert_int_equal(bf_codec_add_writer_schema(codec, BF_RECORD_REPORT, v1, id, errstr,
                                                sizeof(errstr)),
                     BF_OK);
    read_bytes("py_v1_confluent.bin", &msg);
    expect_decoded(codec, "py_v1_confluent.bin", &msg, expected, BF_FRAMING_CONFLUENT);
    bf_buf_free(&msg);
    free(v1);

    /* Newer writer: its extra fields are ignored. */
    char *newer = slurp_text(BF_SOURCE_DIR "/tests/data/report_v3_newer.avsc");
    assert_int_equal(bf_codec_add_writer_schema(codec, BF_RECORD_REPORT, newer, -1,
                                                errstr, sizeof(errstr)),
                     BF_OK);
    read_bytes("py_newer_single_object.bin", &msg);
    expect_decoded(codec, "py_newer_single_object.bin", &msg, expected,
                   BF_FRAMING_SINGLE_OBJECT);
    bf_buf_free(&msg);
    free(newer);

    bf_codec_destroy(codec);
    json_decref(expected);
}

/* One record per type, every field set (python-avro returns them all). */
static const struct {
    const char *file; /* c_<schema>_<n> */
    bf_record_type_t type;
    const char *json;
} ours[] = {
    {"c_report_1", BF_RECORD_REPORT,
     "{\"report_id\":\"c-1\",\"submitted_at\":1714564800000,\"program\":\"acme\","
     "\"reporter\":\"alice\",\"title\":\"SSRF "
     "\\u00e9\\u2713\",\"asset\":\"api.acme.example\","
     "\"weakness\":\"CWE-918\",\"claimed_severity\":\"CRITICAL\",\"cvss_vector\":null,"
     "\"description\":\"url= fetches internal hosts\",\"steps_to_reproduce\":\"\","
     "\"impact\":\"metadata credentials\"}"},
    {"c_validation_1", BF_RECORD_VALIDATION,
     "{\"report_id\":\"c-1\",\"status\":\"DUPLICATE\",\"duplicate_of\":\"c-0\","
     "\"duplicate_similarity\":0.875,\"quality\":0.5,\"plausibility\":0.25,\"severity\":"
     "null,\"confidence\":1.0,\"reasons\":[\"same text\"],\"analyses\":[{\"kind\":"
     "\"SEVERITY\",\"provider\":\"openai\",\"model\":\"m\",\"score\":0.5,\"tokens_in\":"
     "10,"
     "\"tokens_out\":2,\"cost_usd\":0.001,\"latency_seconds\":1.5,\"error\":null}],"
     "\"total_cost_usd\":0.001,\"worker_id\":\"w-1\",\"validated_at\":1714564801000,"
     "\"prompt_version\":\"v1\",\"cvss_score\":9.8,\"cvss_version\":\"3.1\","
     "\"cvss_rating\":\"CRITICAL\"}"},
    {"c_heartbeat_1", BF_RECORD_HEARTBEAT,
     "{\"worker_id\":\"w-1\",\"sent_at\":1714564805000,\"started_at\":1714564000000,"
     "\"reports_consumed\":1000,\"reports_validated\":950,\"reports_duplicate\":100,"
     "\"reports_dlq\":3,\"reports_per_second\":12.5,\"latency_p50_seconds\":1.25,"
     "\"latency_p95_seconds\":3.5,\"latency_p99_seconds\":7.0,\"in_flight_reports\":40,"
     "\"in_flight_ai_calls\":120,\"ai_cost_usd\":4.25,\"cpu_seconds\":33.5,\"rss_bytes\":"
     "52428800,\"assigned_partitions\":6,\"paused\":true,\"ai_limit_rpm\":540.0,"
     "\"ai_limited_share\":0.25}"},
    {"c_scaling_decision_1", BF_RECORD_SCALING_DECISION,
     "{\"decided_at\":1714564805000,\"action\":\"SCALE_UP\",\"current_workers\":2,"
     "\"target_workers\":5,\"confidence\":0.75,\"total_lag\":12000,\"arrival_rate\":40.5,"
     "\"processing_rate\":20.25,\"forecast_rate\":null,\"reasoning\":\"lag grows\","
     "\"actuator\":\"local\"}"},
};

static void test_records_we_write_decode_in_python_avro(void **state)
{
    (void)state;
    char errstr[256] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
        json_t *value = json_loads(ours[i].json, 0, NULL);
        assert_non_null(value);
        bf_buf_t buf;
        bf_buf_init(&buf, BUF_MAX);
        assert_int_equal(bf_codec_encode(codec, ours[i].type, value,
                                         BF_FRAMING_SINGLE_OBJECT, &buf, errstr,
                                         sizeof(errstr)),
                         BF_OK);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.bin", tmpdir, ours[i].file);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf.data, 1, buf.len, f), buf.len);
        fclose(f);
        snprintf(path, sizeof(path), "%s/%s.json", tmpdir, ours[i].file);
        assert_int_equal(json_dump_file(value, path, 0), 0);
        bf_buf_free(&buf);
        json_decref(value);
    }
    bf_codec_destroy(codec);
    char args[1024];
    int status;
    snprintf(args, sizeof(args), "read '%s' '%s/schemas'", tmpdir, BF_SOURCE_DIR);
    char *out = python(args, &status);
    assert_non_null(strstr(out, "read: 4 record(s), 0 failure(s)"));
    assert_int_equal(status, 0);
    free(out);
}

/* BACKWARD-transitive, as python-avro's compatibility checker sees it. */
static void test_python_avro_finds_every_published_version_readable(void **state)
{
    (void)state;
    int status;
    char *out = python(
        "compat '" BF_SOURCE_DIR "/schemas' '" BF_SOURCE_DIR "/tests/data'", &status);
    assert_non_null(strstr(out, "writer without description: incompatible"));
    assert_non_null(strstr(out, " 0 failure(s)"));
    assert_int_equal(status, 0);
    free(out);
}

static void kcat_produce(const char *brokers, const char *key, const char *file)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "kcat -P -b '%s' -t bountyfleet.reports -k '%s' -X enable.idempotence=true "
             "'%s/%s'",
             brokers, key, tmpdir, file);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s: exit %d", cmd, st);
}

/* Raw result values of the worker, into tmpdir/results/c_validation_<n>.bin. */
static void save_results(const char *brokers, int want, char *dir, size_t dir_size)
{
    snprintf(dir, dir_size, "%s/results", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    rd_kafka_t *rk = bf_test_topic_reader(brokers, "bountyfleet.validations", 1);
    int got = 0;
    double deadline = bf_test_now() + 120 * bf_test_timeout_mult();
    while (got < want && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            char path[700];
            snprintf(path, sizeof(path), "%s/c_validation_%d.bin", dir, ++got);
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(m->payload, 1, m->len, f), m->len);
            fclose(f);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (got != want)
        fail_msg("%d of %d results", got, want);
}

/* What the end-to-end test starts, stopped by its teardown even after a
 * failed assertion. */
static struct {
    bf_stack_t s;
    bool stack_started;
    bf_test_registry_t *registry;
    bf_proc_t worker;
} e2e;

static int e2e_teardown(void **state)
{
    (void)state;
    bf_proc_stop(&e2e.worker, SIGTERM, 60);
    bf_test_registry_stop(e2e.registry);
    if (e2e.stack_started)
        bf_stack_stop(&e2e.s);
    memset(&e2e, 0, sizeof(e2e));
    return 0;
}

static void test_python_reports_through_kcat_and_the_worker_and_back(void **state)
{
    (void)state;
    const char *aisim_args[] = {"--latency-ms", "5", NULL};
    assert_int_equal(bf_stack_start(&e2e.s, 1, aisim_args), 0);
    e2e.stack_started = true;
    const bf_stack_t *s = &e2e.s;
    e2e.registry = bf_test_registry_start(NULL);
    assert_non_null(e2e.registry);
    char *v1 = slurp_text(BF_SOURCE_DIR "/tests/data/report_v1.avsc");
    int32_t v1_id = bf_test_registry_add(e2e.registry, "bountyfleet.reports-value", v1);
    free(v1);

    char args[1024];
    int status;
    snprintf(args, sizeof(args), "write '%s' '%s/tests/data' %d", tmpdir, BF_SOURCE_DIR,
             (int)v1_id);
    free(python(args, &status));
    assert_int_equal(status, 0);
    kcat_produce(s->brokers, "py-1", "py_single_object.bin");
    kcat_produce(s->brokers, "py-v1", "py_v1_confluent.bin");

    char bin[512], env_brokers[600], env_redis[200], env_ai[600], env_registry[300];
    snprintf(env_brokers, sizeof(env_brokers), "KAFKA_BROKERS=%s", s->brokers);
    snprintf(env_redis, sizeof(env_redis), "REDIS_URL=%s", s->redis_url);
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", s->ai_base_url);
    snprintf(env_registry, sizeof(env_registry), "SCHEMA_REGISTRY_URL=%s",
             bf_test_registry_url(e2e.registry));
    const char *env[] = {env_brokers,  env_redis, env_ai, "OPENAI_API_KEY=test-key",
                         env_registry, NULL};
    const char *argv[] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), "-X",
                          "session.timeout.ms=6000", NULL};
    assert_int_equal(bf_proc_start(&e2e.worker, "worker", s->tmpdir, argv, env, false, 5),
                     0);
    char dir[400];
    save_results(s->brokers, 2, dir, sizeof(dir));

    snprintf(args, sizeof(args), "read '%s' '%s/schemas'", dir, BF_SOURCE_DIR);
    char *out = python(args, &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "read: 2 record(s), 0 failure(s)"));
    assert_non_null(strstr(out, "\"report_id\": \"py-1\""));
    assert_non_null(strstr(out, "\"report_id\": \"py-v1\""));
    /* py-v1 has py-1's text: the worker saw through the older schema and
     * the other framing, and python-avro reads the verdict. */
    assert_non_null(strstr(out, "\"duplicate_of\": \"py-1\""));
    free(out);
}

/* Confluent's own Python client end to end: its serializer registers an
 * older report schema and frames the reports, the worker resolves the id
 * through the registry, writes Confluent-framed results under an id it
 * registered, and Confluent's deserializer reads them back. */
static void test_confluent_python_client_through_the_worker_and_back(void **state)
{
    (void)state;
    const char *aisim_args[] = {"--latency-ms", "5", NULL};
    assert_int_equal(bf_stack_start(&e2e.s, 1, aisim_args), 0);
    e2e.stack_started = true;
    const bf_stack_t *s = &e2e.s;
    e2e.registry = bf_test_registry_start(NULL);
    assert_non_null(e2e.registry);
    char bin[512], env_brokers[600], env_redis[200], env_ai[600], env_registry[300];
    snprintf(env_brokers, sizeof(env_brokers), "KAFKA_BROKERS=%s", s->brokers);
    snprintf(env_redis, sizeof(env_redis), "REDIS_URL=%s", s->redis_url);
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", s->ai_base_url);
    snprintf(env_registry, sizeof(env_registry), "SCHEMA_REGISTRY_URL=%s",
             bf_test_registry_url(e2e.registry));
    /* The three reports come from one template: near-duplicate detection
     * would (rightly) fold them; this story is about the framing. */
    const char *env[] = {env_brokers,  env_redis,
                         env_ai,       "OPENAI_API_KEY=test-key",
                         env_registry, "BOUNTYFLEET_NEAR_DUP_THRESHOLD=off",
                         NULL};
    const char *argv[] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)),
                          "--output-framing",
                          "confluent",
                          "-X",
                          "session.timeout.ms=6000",
                          NULL};
    assert_int_equal(bf_proc_start(&e2e.worker, "worker", s->tmpdir, argv, env, false, 5),
                     0);

    char args[2048];
    int status;
    snprintf(args, sizeof(args), "produce '%s' '%s' '%s/tests/data/report_v1.avsc' 3",
             s->brokers, bf_test_registry_url(e2e.registry), BF_SOURCE_DIR);
    free(run_python(CONFLUENT_SCRIPT, args, &status));
    assert_int_equal(status, 0);
    snprintf(args, sizeof(args), "consume '%s' '%s' 3", s->brokers,
             bf_test_registry_url(e2e.registry));
    char *out = run_python(CONFLUENT_SCRIPT, args, &status);
    assert_int_equal(status, 0);
    for (int i = 0; i < 3; i++) {
        char id[64];
        snprintf(id, sizeof(id), "\"report_id\": \"confluent-py-%d\"", i);
        if (!strstr(out, id))
            fail_msg("no result for confluent-py-%d in:\n%s", i, out);
    }
    assert_null(strstr(out, "DUPLICATE"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_form_and_fingerprint_match_the_specification),
        cmocka_unit_test(test_reports_written_by_python_avro_decode),
        cmocka_unit_test(test_records_we_write_decode_in_python_avro),
        cmocka_unit_test(test_python_avro_finds_every_published_version_readable),
        cmocka_unit_test_teardown(
            test_python_reports_through_kcat_and_the_worker_and_back, e2e_teardown),
        cmocka_unit_test_teardown(
            test_confluent_python_client_through_the_worker_and_back, e2e_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
