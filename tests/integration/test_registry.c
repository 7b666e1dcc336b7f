/*
 * test_registry.c - the Schema Registry client against a local server that
 * answers like Confluent's REST API (support/registry_server.c): register
 * and look up with caching both ways, the registry's error bodies, a slow
 * or unreachable registry, basic auth, and Confluent framing end to end
 * through the codec, including a report written with an older schema
 * (tests/data/report_v1.avsc) that only the registry knows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/codec.h"
#include "libbf/registry.h"
#include "libbf/schema.h"
#include "support/registry_server.h"
#include "support/stack.h"

#define BUF_MAX (1024 * 1024)

static const char *const sample_report =
    "{\"report_id\":\"r-1\",\"submitted_at\":1714564800000,\"program\":\"acme\","
    "\"reporter\":\"alice\",\"title\":\"Reflected XSS\",\"asset\":\"www.acme.example\","
    "\"weakness\":\"CWE-79\",\"claimed_severity\":\"HIGH\",\"cvss_vector\":null,"
    "\"description\":\"q is echoed\",\"steps_to_reproduce\":\"1. open /?q=<x>\","
    "\"impact\":\"\"}";

typedef struct fixture_s {
    bf_test_registry_t *server;
    bf_registry_t *client;
} fixture_t;

static bf_registry_t *client_for(const char *url, double timeout_s, const char *user_info)
{
    char errstr[256] = "";
    bf_registry_options_t o = {.url = url,
                               .user_info = user_info,
                               .timeout_s = timeout_s * bf_test_timeout_mult(),
                               .retry_after_s = 30};
    bf_registry_t *c = bf_registry_new(&o, errstr, sizeof(errstr));
    if (!c)
        fail_msg("bf_registry_new: %s", errstr);
    return c;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->server = bf_test_registry_start(NULL);
    assert_non_null(f->server);
    f->client = client_for(bf_test_registry_url(f->server), 5, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    bf_registry_destroy(f->client);
    bf_test_registry_stop(f->server);
    free(f);
    return 0;
}

static char *read_file(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", BF_SOURCE_DIR, rel);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, fp);
    fclose(fp);
    assert_true(n > 0 && n < 65535);
    return text;
}

static void test_register_returns_an_id_and_is_cached(void **state)
{
    fixture_t *f = *state;
    char errstr[256] = "";
    int32_t id = -1, again = -1, other = -1;
    const char *schema = bf_schema_text("report");
    assert_int_equal(bf_registry_register(f->client, "bountyfleet.reports-value", schema,
                                          &id, errstr, sizeof(errstr)),
                     BF_OK);
    assert_true(id >= 1);
    unsigned before = bf_test_registry_requests(f->server);
    assert_int_equal(bf_registry_register(f->client, "bountyfleet.reports-value", schema,
                                          &again, errstr, sizeof(errstr)),
                     BF_OK);
    assert_int_equal(again, id);
    assert_int_equal(bf_test_registry_requests(f->server), before); /* from the cache */
    /* The same schema under another subject is a request, and the same id. */
    assert_int_equal(bf_registry_register(f->client, "other-value", schema, &other,
                                          errstr, sizeof(errstr)),
                     BF_OK);
    assert_int_equal(other, id);
    /* Registering taught the id cache too: no lookup request. */
    const char *got = NULL;
    before = bf_test_registry_requests(f->server);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
    assert_string_equal(got, schema);
    assert_int_equal(bf_test_registry_requests(f->server), before);
}

static void test_lookup_by_id_is_fetched_once(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("heartbeat"));
    char errstr[256] = "";
    const char *got = NULL;
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
    assert_string_equal(got, bf_schema_text("heartbeat"));
    unsigned before = bf_test_registry_requests(f->server);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(bf_test_registry_requests(f->server), before);
    assert_int_equal(bf_registry_requests(f->client), 1);
}

static void test_unknown_id_is_not_found_with_the_registry_error_code(void **state)
{
    fixture_t *f = *state;
    char errstr[256] = "";
    const char *got = NULL;
    assert_int_equal(
        bf_registry_schema_by_id(f->client, 4242, &got, errstr, sizeof(errstr)),
        BF_ERR_NOT_FOUND);
    assert_null(got);
    assert_non_null(strstr(errstr, "40403"));
    /* Remembered as unknown: the next lookup asks nobody. */
    unsigned before = bf_test_registry_requests(f->server);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, 4242, &got, errstr, sizeof(errstr)),
        BF_ERR_NOT_FOUND);
    assert_int_equal(bf_test_registry_requests(f->server), before);
}

/* A stream of distinct bad ids must not grow the cache without bound, and
 * good ids keep resolving. */
static void test_many_unknown_ids_keep_the_cache_bounded(void **state)
{
    fixture_t *f = *state;
    int32_t good = bf_test_registry_add(f->server, "s-value", bf_schema_text("report"));
    char errstr[256] = "";
    const char *got = NULL;
    for (int32_t id = 100000; id < 100000 + 1500; id++)
        assert_int_equal(
            bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)),
            BF_ERR_NOT_FOUND);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            bf_registry_schema_by_id(f->client, good, &got, errstr, sizeof(errstr)),
            BF_OK);
        assert_string_equal(got, bf_schema_text("report"));
    }
}

static void test_invalid_schema_is_refused_with_42201(void **state)
{
    fixture_t *f = *state;
    char errstr[256] = "";
    int32_t id = -1;
    assert_int_equal(bf_registry_register(f->client, "x-value", "{\"type\":\"nope\"}",
                                          &id, errstr, sizeof(errstr)),
                     BF_ERR_SCHEMA);
    assert_non_null(strstr(errstr, "42201"));
    assert_int_equal(id, -1);
}

static void test_server_error_is_an_http_error_with_its_message(void **state)
{
    fixture_t *f = *state;
    char errstr[256] = "";
    const char *got = NULL;
    bf_test_registry_fail_next(f->server, 500, 1);
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("validation"));
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)),
        BF_ERR_HTTP);
    assert_non_null(strstr(errstr, "Injected failure"));
    /* A 500 is not an outage of the transport: the next call asks again. */
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
}

static void test_slow_registry_times_out_then_fails_fast(void **state)
{
    fixture_t *f = *state;
    bf_registry_t *c = client_for(bf_test_registry_url(f->server), 0.2, NULL);
    bf_test_registry_set_delay_ms(f->server, (int)(1500 * bf_test_timeout_mult()));
    char errstr[256] = "";
    const char *got = NULL;
    assert_int_equal(bf_registry_schema_by_id(c, 1, &got, errstr, sizeof(errstr)),
                     BF_ERR_TIMEOUT);
    bf_test_registry_set_delay_ms(f->server, 0);
    /* Within retry_after_s every call fails without a request. */
    uint64_t sent = bf_registry_requests(c);
    assert_int_equal(bf_registry_schema_by_id(c, 2, &got, errstr, sizeof(errstr)),
                     BF_ERR_HTTP);
    assert_non_null(strstr(errstr, "unreachable"));
    assert_int_equal(bf_registry_requests(c), sent);
    bf_registry_destroy(c);
}

static void test_unreachable_url_falls_over_to_the_next(void **state)
{
    fixture_t *f = *state;
    char urls[256], errstr[256] = "";
    int dead = bf_test_free_port();
    snprintf(urls, sizeof(urls), "http://127.0.0.1:%d/, %s", dead,
             bf_test_registry_url(f->server));
    bf_registry_t *c = client_for(urls, 5, NULL);
    int32_t id = -1;
    assert_int_equal(bf_registry_register(c, "r-value", bf_schema_text("report"), &id,
                                          errstr, sizeof(errstr)),
                     BF_OK);
    assert_true(id >= 1);
    bf_registry_destroy(c);

    snprintf(urls, sizeof(urls), "http://127.0.0.1:%d", dead);
    c = client_for(urls, 5, NULL);
    assert_int_equal(bf_registry_register(c, "r-value", bf_schema_text("report"), &id,
                                          errstr, sizeof(errstr)),
                     BF_ERR_HTTP);
    assert_non_null(strstr(errstr, "/subjects/r-value/versions"));
    bf_registry_destroy(c);
}

static void test_basic_auth_is_sent_and_required(void **state)
{
    (void)state;
    bf_test_registry_t *server = bf_test_registry_start("svc:s3cret");
    assert_non_null(server);
    char errstr[256] = "";
    int32_t id = -1;
    bf_registry_t *anon = client_for(bf_test_registry_url(server), 5, NULL);
    assert_int_equal(bf_registry_register(anon, "a-value", bf_schema_text("report"), &id,
                                          errstr, sizeof(errstr)),
                     BF_ERR_HTTP);
    assert_non_null(strstr(errstr, "Unauthorized"));
    assert_null(strstr(errstr, "s3cret"));
    bf_registry_t *authed = client_for(bf_test_registry_url(server), 5, "svc:s3cret");
    assert_int_equal(bf_registry_register(authed, "a-value", bf_schema_text("report"),
                                          &id, errstr, sizeof(errstr)),
                     BF_OK);
    bf_registry_destroy(anon);
    bf_registry_destroy(authed);
    bf_test_registry_stop(server);
}

static void test_from_env_without_url_is_no_registry(void **state)
{
    (void)state;
    char errstr[256] = "x";
    unsetenv("SCHEMA_REGISTRY_URL");
    assert_null(bf_registry_from_env(NULL, errstr, sizeof(errstr)));
    assert_string_equal(errstr, "");
    setenv("SCHEMA_REGISTRY_URL", "ftp://nope", 1);
    assert_null(bf_registry_from_env(NULL, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "not an http(s) URL"));
    bf_registry_t *c = bf_registry_from_env("http://127.0.0.1:1", errstr, sizeof(errstr));
    assert_non_null(c);
    bf_registry_destroy(c);
    unsetenv("SCHEMA_REGISTRY_URL");
}

/* Confluent framing end to end: a producer's codec registers report.avsc
 * and encodes; a worker's codec, knowing no ids, decodes via lookup. */
static void test_confluent_round_trip_through_the_registry(void **state)
{
    fixture_t *f = *state;
    char errstr[256] = "";
    bf_codec_t *producer = bf_codec_new(errstr, sizeof(errstr));
    bf_codec_t *worker = bf_codec_new(errstr, sizeof(errstr));
    assert_non_null(producer);
    assert_non_null(worker);
    int32_t id = -1;
    assert_int_equal(bf_registry_register_for_encoding(
                         f->client, producer, BF_RECORD_REPORT, "bountyfleet.reports",
                         &id, errstr, sizeof(errstr)),
                     BF_OK);
    json_t *report = json_loads(sample_report, 0, NULL);
    bf_buf_t buf;
    bf_buf_init(&buf, BUF_MAX);
    assert_int_equal(bf_codec_encode(producer, BF_RECORD_REPORT, report,
                                     BF_FRAMING_CONFLUENT, &buf, errstr, sizeof(errstr)),
                     BF_OK);
    assert_int_equal((unsigned char)buf.data[0], 0);
    assert_int_equal((unsigned char)buf.data[4], id & 0xFF);

    json_t *got = NULL;
    assert_int_equal(bf_codec_decode(worker, BF_RECORD_REPORT, buf.data, buf.len, &got,
                                     NULL, errstr, sizeof(errstr)),
                     BF_ERR_UNKNOWN_SCHEMA); /* no registry yet */
    assert_non_null(strstr(errstr, "no schema registry"));
    bf_registry_t *reader = client_for(bf_test_registry_url(f->server), 5, NULL);
    bf_registry_use_for_decoding(reader, worker);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bf_codec_decode(worker, BF_RECORD_REPORT, buf.data, buf.len,
                                         &got, NULL, errstr, sizeof(errstr)),
                         BF_OK);
        assert_true(json_equal(got, report));
        json_decref(got);
    }
    assert_int_equal(bf_registry_requests(reader), 1); /* looked up once */
    bf_registry_destroy(reader);
    bf_buf_free(&buf);
    json_decref(report);
    bf_codec_destroy(producer);
    bf_codec_destroy(worker);
}

/* ------------------------------------------------------------------------
 * A report written with the v1 schema, encoded here by hand (Avro spec,
 * "Binary Encoding": zig-zag varints, strings as length + bytes).
 */

static void put_long(bf_buf_t *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        unsigned char byte = z & 0x7F;
        z >>= 7;
        if (z)
            byte |= 0x80;
        bf_buf_append(b, &byte, 1);
    } while (z);
}

static void put_string(bf_buf_t *b, const char *s)
{
    put_long(b, (int64_t)strlen(s));
    bf_buf_append(b, s, strlen(s));
}

/* A Confluent message with schema id @p id holding a v1 report. */
static void v1_message(int32_t id, bf_buf_t *out)
{
    bf_buf_init(out, BUF_MAX);
    unsigned char header[5] = {0, (unsigned char)(id >> 24), (unsigned char)(id >> 16),
                               (unsigned char)(id >> 8), (unsigned char)id};
    bf_buf_append(out, header, sizeof(header));
    put_string(out, "r-old");
    put_long(out, 1500000000000LL);
    const char *strings[] = {"acme", "bob",   "Old XSS", "old.acme.example",
                             "desc", "steps", "impact"};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        put_string(out, strings[i]);
}

static void test_v1_writer_id_from_the_registry_resolves_to_the_reader(void **state)
{
    fixture_t *f = *state;
    char *v1 = read_file("tests/data/report_v1.avsc");
    int32_t id = bf_test_registry_add(f->server, "bountyfleet.reports-value", v1);
    bf_buf_t msg;
    v1_message(id, &msg);

    char errstr[256] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    bf_registry_use_for_decoding(f->client, codec);
    json_t *got = NULL;
    bf_framing_t framing;
    assert_int_equal(bf_codec_decode(codec, BF_RECORD_REPORT, msg.data, msg.len, &got,
                                     &framing, errstr, sizeof(errstr)),
                     BF_OK);
    assert_int_equal(framing, BF_FRAMING_CONFLUENT);
    assert_string_equal(json_string_value(json_object_get(got, "report_id")), "r-old");
    assert_string_equal(json_string_value(json_object_get(got, "impact")), "impact");
    assert_true(json_is_null(json_object_get(got, "weakness"))); /* defaults */
    assert_true(json_is_null(json_object_get(got, "claimed_severity")));
    json_decref(got);

    /* An id naming a schema of another record type is a clear error. */
    int32_t hb = bf_test_registry_add(f->server, "bountyfleet.heartbeats-value",
                                      bf_schema_text("heartbeat"));
    unsigned char wrong[6] = {0, 0, 0, (unsigned char)(hb >> 8), (unsigned char)hb, 0};
    assert_int_equal(bf_codec_decode(codec, BF_RECORD_REPORT, wrong, sizeof(wrong), &got,
                                     NULL, errstr, sizeof(errstr)),
                     BF_ERR_SCHEMA);
    assert_non_null(strstr(errstr, "not a readable report schema"));
    /* And an id nobody knows stays an unknown schema. */
    unsigned char unknown[6] = {0, 0, 0, 0x7F, 0x7F, 0};
    assert_int_equal(bf_codec_decode(codec, BF_RECORD_REPORT, unknown, sizeof(unknown),
                                     &got, NULL, errstr, sizeof(errstr)),
                     BF_ERR_UNKNOWN_SCHEMA);
    assert_non_null(strstr(errstr, "40403"));
    bf_codec_destroy(codec);
    bf_buf_free(&msg);
    free(v1);
}

/* The local server answers the read side of the REST API like the
 * registry, so tools (curl, other clients) can be pointed at it too. */
static void test_server_answers_subjects_and_versions_like_the_registry(void **state)
{
    fixture_t *f = *state;
    int32_t a = bf_test_registry_add(f->server, "t-value", bf_schema_text("report"));
    int32_t b = bf_test_registry_add(f->server, "t-value", bf_schema_text("heartbeat"));
    static const struct {
        const char *path;
        long status;
        const char *needle;
    } cases[] = {
        {"/subjects", 200, "[\"t-value\"]"},
        {"/subjects/t-value/versions", 200, "[1,2]"},
        {"/subjects/t-value/versions/latest", 200, "\"version\":2"},
        {"/subjects/t-value/versions/1", 200, "\"subject\":\"t-value\""},
        {"/subjects/t-value/versions/3", 404, "40402"},
        {"/subjects/t-value/versions/x", 422, "42202"},
        {"/subjects/nope/versions", 404, "40401"},
        {"/schemas/ids/0", 404, "40403"},
        {"/nowhere", 404, "\"error_code\":404"},
    };
    assert_true(a >= 1 && b == a + 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[256];
        snprintf(url, sizeof(url), "%s%s", bf_test_registry_url(f->server),
                 cases[i].path);
        long status = 0;
        char *body = bf_test_http_get(url, &status);
        assert_non_null(body);
        if (status != cases[i].status || !strstr(body, cases[i].needle))
            fail_msg("%s: %ld %s", cases[i].path, status, body);
        free(body);
    }
}

static void test_preload_learns_every_version_of_the_subject(void **state)
{
    fixture_t *f = *state;
    char *v1 = read_file("tests/data/report_v1.avsc");
    int32_t old = bf_test_registry_add(f->server, "pre.reports-value", v1);
    bf_test_registry_add(f->server, "pre.reports-value", bf_schema_text("report"));
    /* Not a report at all: skipped with a warning, not an error. */
    bf_test_registry_add(f->server, "pre.reports-value", bf_schema_text("heartbeat"));
    char errstr[256] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    size_t learned = 99;
    assert_int_equal(bf_registry_preload(f->client, codec, BF_RECORD_REPORT, "nothing",
                                         &learned, errstr, sizeof(errstr)),
                     BF_OK);
    assert_int_equal(learned, 0);
    assert_int_equal(bf_registry_preload(f->client, codec, BF_RECORD_REPORT,
                                         "pre.reports", &learned, errstr, sizeof(errstr)),
                     BF_OK);
    assert_int_equal(learned, 2);
    /* Decoding the old version now needs neither a lookup hook nor a request. */
    unsigned before = bf_test_registry_requests(f->server);
    bf_buf_t msg;
    v1_message(old, &msg);
    json_t *got = NULL;
    assert_int_equal(bf_codec_decode(codec, BF_RECORD_REPORT, msg.data, msg.len, &got,
                                     NULL, errstr, sizeof(errstr)),
                     BF_OK);
    assert_string_equal(json_string_value(json_object_get(got, "report_id")), "r-old");
    assert_int_equal(bf_test_registry_requests(f->server), before);
    json_decref(got);
    bf_buf_free(&msg);
    bf_codec_destroy(codec);
    free(v1);
}

/* Which failures are worth retrying: the worker waits those out and
 * dead-letters only a definitive answer. */
static void test_failures_say_whether_they_are_transient(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("heartbeat"));
    char errstr[256] = "";
    const char *got = NULL;
    assert_false(bf_registry_failed_transiently(f->client));
    bf_test_registry_fail_next(f->server, 503, 1);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)),
        BF_ERR_HTTP);
    assert_true(bf_registry_failed_transiently(f->client));
    bf_test_registry_fail_next(f->server, 429, 1);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)),
        BF_ERR_HTTP);
    assert_true(bf_registry_failed_transiently(f->client));
    assert_int_equal(
        bf_registry_schema_by_id(f->client, 999, &got, errstr, sizeof(errstr)),
        BF_ERR_NOT_FOUND);
    assert_false(bf_registry_failed_transiently(f->client));
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
    assert_false(bf_registry_failed_transiently(f->client));
    /* Unreachable, and then failed fast: transient both times. */
    bf_registry_t *down = client_for("http://127.0.0.1:1", 1, NULL);
    assert_int_equal(bf_registry_schema_by_id(down, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_HTTP);
    assert_true(bf_registry_failed_transiently(down));
    assert_int_equal(bf_registry_schema_by_id(down, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_HTTP);
    assert_true(bf_registry_failed_transiently(down));
    bf_registry_destroy(down);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_register_returns_an_id_and_is_cached),
        T(test_lookup_by_id_is_fetched_once),
        T(test_unknown_id_is_not_found_with_the_registry_error_code),
        T(test_many_unknown_ids_keep_the_cache_bounded),
        T(test_invalid_schema_is_refused_with_42201),
        T(test_server_error_is_an_http_error_with_its_message),
        T(test_slow_registry_times_out_then_fails_fast),
        T(test_failures_say_whether_they_are_transient),
        T(test_unreachable_url_falls_over_to_the_next),
        T(test_basic_auth_is_sent_and_required),
        T(test_from_env_without_url_is_no_registry),
        T(test_confluent_round_trip_through_the_registry),
        T(test_v1_writer_id_from_the_registry_resolves_to_the_reader),
        T(test_server_answers_subjects_and_versions_like_the_registry),
        T(test_preload_learns_every_version_of_the_subject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
