/*
 * test_registry.c - the Schema Registry client against a local server that
 * answers like Confluent's REST API (support/registry_server.c): register
 * and look up with caching both ways, the registry's error bodies, a slow
 * or unreachable registry (BF_ERR_UNAVAILABLE and the fail-fast window),
 * basic auth, and Confluent framing end to end through the codec,
 * including a report written with an older schema
 * (tests/data/report_v1.avsc) that only the registry knows.
 *
 * Then the same client attached to an event loop (bf_registry_attach):
 * lookups answer BF_ERR_PENDING at once and the answer is announced; one
 * request serves every lookup of an id; answers are cached both ways; an
 * outage is BF_ERR_UNAVAILABLE until the registry answers again; the
 * second URL is tried when the first cannot be reached; basic auth is
 * sent; a slow registry does not hold the loop; and destroying the client
 * or the HTTP client with a lookup in flight is safe. Requests are
 * counted by the server, which sees every one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <time.h>
#include <uv.h>

#include "libbf/codec.h"
#include "libbf/http.h"
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

/* A client whose fail-fast window after an outage lasts @p retry_after_s. */
static bf_registry_t *client_failing_fast_for(const char *url, double timeout_s,
                                              const char *user_info, double retry_after_s)
{
    char errstr[256] = "";
    bf_registry_options_t o = {.url = url,
                               .user_info = user_info,
                               .timeout_s = timeout_s * bf_test_timeout_mult(),
                               .retry_after_s = retry_after_s};
    bf_registry_t *c = bf_registry_new(&o, errstr, sizeof(errstr));
    if (!c)
        fail_msg("bf_registry_new: %s", errstr);
    return c;
}

static bf_registry_t *client_for(const char *url, double timeout_s, const char *user_info)
{
    return client_failing_fast_for(url, timeout_s, user_info, 30);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
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
    unsigned before = bf_test_registry_requests(f->server);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
    assert_string_equal(got, bf_schema_text("heartbeat"));
    assert_int_equal(bf_test_registry_requests(f->server), before + 1);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(bf_test_registry_requests(f->server), before + 1);
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

/* Lookups until one is not failed fast (the window has passed), or the
 * deadline; @returns the last answer. */
static bf_err_t lookup_after_the_window(bf_registry_t *c, int32_t id, const char **got,
                                        char *errstr, size_t errstr_size)
{
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    bf_err_t err;
    while ((err = bf_registry_schema_by_id(c, id, got, errstr, errstr_size)) ==
               BF_ERR_UNAVAILABLE &&
           strstr(errstr, "asked again in") && bf_test_now() < deadline)
        sleep_ms(20);
    return err;
}

static void test_server_error_is_an_outage_with_its_message(void **state)
{
    fixture_t *f = *state;
    bf_registry_t *c = client_failing_fast_for(bf_test_registry_url(f->server), 5, NULL,
                                               0.5 * bf_test_timeout_mult());
    char errstr[256] = "";
    const char *got = NULL;
    bf_test_registry_fail_next(f->server, 500, 1);
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("validation"));
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_UNAVAILABLE);
    assert_non_null(strstr(errstr, "Injected failure"));
    assert_non_null(strstr(errstr, "50001"));
    /* Failed fast, with the reason, until the window has passed. */
    unsigned sent = bf_test_registry_requests(f->server);
    bf_err_t err = bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr));
    if (err == BF_ERR_UNAVAILABLE) { /* else the window passed already */
        assert_non_null(strstr(errstr, "schema registry unavailable"));
        assert_non_null(strstr(errstr, "Injected failure"));
        assert_int_equal(bf_test_registry_requests(f->server), sent);
        err = lookup_after_the_window(c, id, &got, errstr, sizeof(errstr));
    }
    assert_int_equal(err, BF_OK);
    assert_string_equal(got, bf_schema_text("validation"));
    bf_registry_destroy(c);
}

static void test_slow_registry_times_out_then_fails_fast(void **state)
{
    fixture_t *f = *state;
    bf_registry_t *c = client_for(bf_test_registry_url(f->server), 0.2, NULL);
    bf_test_registry_set_delay_ms(f->server, (int)(1500 * bf_test_timeout_mult()));
    char errstr[256] = "";
    const char *got = NULL;
    assert_int_equal(bf_registry_schema_by_id(c, 1, &got, errstr, sizeof(errstr)),
                     BF_ERR_UNAVAILABLE);
    assert_non_null(strstr(errstr, "timed out"));
    bf_test_registry_set_delay_ms(f->server, 0);
    /* Within retry_after_s every call fails without a request, register
     * too. */
    unsigned sent = bf_test_registry_requests(f->server);
    assert_int_equal(bf_registry_schema_by_id(c, 2, &got, errstr, sizeof(errstr)),
                     BF_ERR_UNAVAILABLE);
    assert_non_null(strstr(errstr, "schema registry unavailable"));
    assert_non_null(strstr(errstr, "timed out"));
    int32_t id = -1;
    assert_int_equal(bf_registry_register(c, "x-value", bf_schema_text("report"), &id,
                                          errstr, sizeof(errstr)),
                     BF_ERR_UNAVAILABLE);
    assert_int_equal(bf_test_registry_requests(f->server), sent);
    bf_registry_destroy(c);
}

/* Which failures are an outage (BF_ERR_UNAVAILABLE: the worker waits them
 * out) and which are the registry's definitive answer (dead letters). */
static void test_outages_are_unavailable_and_answers_are_not(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("heartbeat"));
    static const struct {
        int fail_status; /* 0: no failure injected */
        int32_t id;      /* -1: the known id */
        bf_err_t want;
    } cases[] = {
        {503, -1, BF_ERR_UNAVAILABLE},
        {500, -1, BF_ERR_UNAVAILABLE},
        {429, -1, BF_ERR_UNAVAILABLE},
        {400, -1, BF_ERR_HTTP},
        {403, -1, BF_ERR_HTTP},
        {0, 999, BF_ERR_NOT_FOUND},
        {0, -1, BF_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_registry_t *c = client_for(bf_test_registry_url(f->server), 5, NULL);
        char errstr[256] = "";
        const char *got = NULL;
        if (cases[i].fail_status)
            bf_test_registry_fail_next(f->server, cases[i].fail_status, 1);
        bf_err_t err = bf_registry_schema_by_id(c, cases[i].id < 0 ? id : cases[i].id,
                                                &got, errstr, sizeof(errstr));
        if (err != cases[i].want)
            fail_msg("case %zu (HTTP %d): %s (%s), want %s", i, cases[i].fail_status,
                     bf_err_name(err), errstr, bf_err_name(cases[i].want));
        bf_registry_destroy(c);
    }
    /* Unreachable, and then failed fast: unavailable both times. */
    char url[64], errstr[256] = "";
    const char *got = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", bf_test_free_port());
    bf_registry_t *down = client_for(url, 1, NULL);
    for (int i = 0; i < 2; i++)
        assert_int_equal(bf_registry_schema_by_id(down, id, &got, errstr, sizeof(errstr)),
                         BF_ERR_UNAVAILABLE);
    assert_non_null(strstr(errstr, "schema registry unavailable"));
    bf_registry_destroy(down);
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
                     BF_ERR_UNAVAILABLE);
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
    unsigned before = bf_test_registry_requests(f->server);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bf_codec_decode(worker, BF_RECORD_REPORT, buf.data, buf.len,
                                         &got, NULL, errstr, sizeof(errstr)),
                         BF_OK);
        assert_true(json_equal(got, report));
        json_decref(got);
    }
    assert_int_equal(bf_test_registry_requests(f->server), before + 1); /* once */
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

/* ------------------------------------------------------------------------
 * Asynchronous lookups: the client attached to a bf_http_t on a loop.
 */

typedef struct async_s {
    uv_loop_t loop;
    bf_http_t *http;
    uv_timer_t deadline;
    bool late;   /* the deadline passed */
    int answers; /* announcements so far */
    int32_t id;  /* of the last one */
    bf_err_t err;
    char why[320];
} async_t;

static void on_answer(void *opaque, int32_t id, bf_err_t err, const char *errstr)
{
    async_t *a = opaque;
    a->answers++;
    a->id = id;
    a->err = err;
    snprintf(a->why, sizeof(a->why), "%s", errstr);
    uv_stop(&a->loop); /* async_wait's run ends here, not at its next event */
}

static void on_deadline(uv_timer_t *t)
{
    ((async_t *)t->data)->late = true;
}

static void async_open(async_t *a, bf_registry_t *reg)
{
    memset(a, 0, sizeof(*a));
    char errstr[256] = "";
    assert_int_equal(uv_loop_init(&a->loop), 0);
    a->http = bf_http_new(&a->loop, 16, errstr, sizeof(errstr));
    assert_non_null(a->http);
    uv_timer_init(&a->loop, &a->deadline);
    a->deadline.data = a;
    bf_registry_attach(reg, a->http, on_answer, a);
}

/* Run the loop until @p n announcements in all, or fail after a (generous)
 * deadline. */
static void async_wait(async_t *a, int n)
{
    a->late = false;
    uv_timer_start(&a->deadline, on_deadline, (uint64_t)(20000 * bf_test_timeout_mult()),
                   0);
    while (a->answers < n && !a->late)
        uv_run(&a->loop, UV_RUN_ONCE);
    uv_timer_stop(&a->deadline);
    if (a->answers < n)
        fail_msg("%d of %d answers announced", a->answers, n);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Close every handle left and the loop. A run may first just clear the
 * stop of an announcement made outside a run (by bf_http_destroy). */
static void loop_close(async_t *a)
{
    uv_walk(&a->loop, walk_close, NULL);
    while (uv_run(&a->loop, UV_RUN_DEFAULT)) {
    }
    assert_int_equal(uv_loop_close(&a->loop), 0);
}

/* Detach @p reg (may be NULL), destroy the HTTP client and close the loop. */
static void async_close(async_t *a, bf_registry_t *reg)
{
    bf_registry_attach(reg, NULL, NULL, NULL);
    bf_http_destroy(a->http);
    loop_close(a);
}

static void test_async_lookups_of_one_id_share_one_request(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("heartbeat"));
    async_t a;
    async_open(&a, f->client);
    unsigned before = bf_test_registry_requests(f->server);
    char errstr[256] = "";
    const char *got = NULL;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(
            bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)),
            BF_ERR_PENDING);
        assert_null(got);
    }
    async_wait(&a, 1);
    assert_int_equal(a.id, id);
    assert_int_equal(a.err, BF_OK);
    assert_int_equal(bf_test_registry_requests(f->server), before + 1);
    /* Now from the cache, with no request and no announcement. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
        assert_string_equal(got, bf_schema_text("heartbeat"));
    }
    assert_int_equal(bf_test_registry_requests(f->server), before + 1);
    assert_int_equal(a.answers, 1);
    async_close(&a, f->client);
}

static void test_async_answers_are_cached_both_ways(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("report"));
    async_t a;
    async_open(&a, f->client);
    char errstr[256] = "";
    const char *got = NULL;
    /* Two ids in flight at once, each announced. */
    assert_int_equal(
        bf_registry_schema_by_id(f->client, 4242, &got, errstr, sizeof(errstr)),
        BF_ERR_PENDING);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)),
        BF_ERR_PENDING);
    async_wait(&a, 2);
    unsigned before = bf_test_registry_requests(f->server);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, 4242, &got, errstr, sizeof(errstr)),
        BF_ERR_NOT_FOUND);
    assert_null(got);
    assert_non_null(strstr(errstr, "Schema 4242 not found"));
    assert_non_null(strstr(errstr, "40403"));
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
    assert_string_equal(got, bf_schema_text("report"));
    assert_int_equal(bf_test_registry_requests(f->server), before);
    async_close(&a, f->client);
    /* Detached, the cache still answers, and a new id is asked for at once
     * (synchronously). */
    int32_t other =
        bf_test_registry_add(f->server, "s-value", bf_schema_text("heartbeat"));
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(
        bf_registry_schema_by_id(f->client, other, &got, errstr, sizeof(errstr)), BF_OK);
    assert_string_equal(got, bf_schema_text("heartbeat"));
}

/* Through the codec: the decode says BF_ERR_PENDING (no dead letter, no
 * guess), and decodes once the answer is announced. */
static void test_async_decode_is_pending_then_decodes(void **state)
{
    fixture_t *f = *state;
    char *v1 = read_file("tests/data/report_v1.avsc");
    int32_t id = bf_test_registry_add(f->server, "bountyfleet.reports-value", v1);
    bf_buf_t msg;
    v1_message(id, &msg);
    unsigned char unknown[6] = {0, 0, 0, 0x7F, 0x7F, 0};
    char errstr[256] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    bf_registry_use_for_decoding(f->client, codec);
    async_t a;
    async_open(&a, f->client);
    json_t *got = NULL;
    assert_int_equal(bf_codec_decode(codec, BF_RECORD_REPORT, msg.data, msg.len, &got,
                                     NULL, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    assert_null(got);
    assert_non_null(strstr(errstr, "pending"));
    assert_int_equal(bf_codec_decode(codec, BF_RECORD_REPORT, unknown, sizeof(unknown),
                                     &got, NULL, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    async_wait(&a, 2);
    assert_int_equal(bf_codec_decode(codec, BF_RECORD_REPORT, msg.data, msg.len, &got,
                                     NULL, errstr, sizeof(errstr)),
                     BF_OK);
    assert_string_equal(json_string_value(json_object_get(got, "report_id")), "r-old");
    json_decref(got);
    assert_int_equal(bf_codec_decode(codec, BF_RECORD_REPORT, unknown, sizeof(unknown),
                                     &got, NULL, errstr, sizeof(errstr)),
                     BF_ERR_UNKNOWN_SCHEMA);
    assert_non_null(strstr(errstr, "40403"));
    async_close(&a, f->client);
    bf_codec_destroy(codec);
    bf_buf_free(&msg);
    free(v1);
}

static void test_async_outage_is_unavailable_until_the_registry_answers(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("heartbeat"));
    bf_registry_t *c = client_failing_fast_for(bf_test_registry_url(f->server), 5, NULL,
                                               0.5 * bf_test_timeout_mult());
    async_t a;
    async_open(&a, c);
    char errstr[256] = "";
    const char *got = NULL;
    bf_test_registry_fail_next(f->server, 503, 1);
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    async_wait(&a, 1);
    assert_int_equal(a.err, BF_ERR_UNAVAILABLE);
    assert_non_null(strstr(a.why, "Injected failure"));
    /* The fail-fast window: unavailable at once, nothing asked. */
    unsigned sent = bf_test_registry_requests(f->server);
    bf_err_t err = bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr));
    if (err == BF_ERR_UNAVAILABLE) { /* else the window passed already */
        assert_non_null(strstr(errstr, "Injected failure"));
        assert_int_equal(bf_test_registry_requests(f->server), sent);
        err = lookup_after_the_window(c, id, &got, errstr, sizeof(errstr));
    }
    /* Then it is asked again, and answers. */
    assert_int_equal(err, BF_ERR_PENDING);
    async_wait(&a, 2);
    assert_int_equal(a.err, BF_OK);
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_OK);
    async_close(&a, c);
    bf_registry_destroy(c);

    /* A registry nobody listens for is an outage too. */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", bf_test_free_port());
    bf_registry_t *down = client_for(url, 5, NULL);
    async_open(&a, down);
    assert_int_equal(bf_registry_schema_by_id(down, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    async_wait(&a, 1);
    assert_int_equal(a.err, BF_ERR_UNAVAILABLE);
    assert_int_equal(bf_registry_schema_by_id(down, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_UNAVAILABLE);
    async_close(&a, down);
    bf_registry_destroy(down);
}

static void test_async_lookup_falls_over_to_the_second_url(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("validation"));
    char urls[256];
    snprintf(urls, sizeof(urls), "http://127.0.0.1:%d, %s", bf_test_free_port(),
             bf_test_registry_url(f->server));
    bf_registry_t *c = client_for(urls, 5, NULL);
    async_t a;
    async_open(&a, c);
    unsigned before = bf_test_registry_requests(f->server);
    char errstr[256] = "";
    const char *got = NULL;
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    async_wait(&a, 1);
    if (a.err != BF_OK)
        fail_msg("%s: %s", bf_err_name(a.err), a.why);
    assert_int_equal(bf_test_registry_requests(f->server), before + 1);
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_OK);
    assert_string_equal(got, bf_schema_text("validation"));
    async_close(&a, c);
    bf_registry_destroy(c);
}

/* The server answers only requests whose Authorization header is exactly
 * "Basic " + base64("svc:s3cret"). */
static void test_async_lookup_sends_basic_auth(void **state)
{
    (void)state;
    bf_test_registry_t *server = bf_test_registry_start("svc:s3cret");
    assert_non_null(server);
    int32_t id = bf_test_registry_add(server, "a-value", bf_schema_text("report"));
    bf_registry_t *anon = client_for(bf_test_registry_url(server), 5, NULL);
    bf_registry_t *authed = client_for(bf_test_registry_url(server), 5, "svc:s3cret");
    async_t a;
    async_open(&a, authed);
    bf_registry_attach(anon, a.http, on_answer, &a);
    char errstr[256] = "";
    const char *got = NULL;
    assert_int_equal(bf_registry_schema_by_id(anon, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    assert_int_equal(bf_registry_schema_by_id(authed, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    async_wait(&a, 2);
    assert_int_equal(bf_registry_schema_by_id(authed, id, &got, errstr, sizeof(errstr)),
                     BF_OK);
    assert_string_equal(got, bf_schema_text("report"));
    assert_int_equal(bf_registry_schema_by_id(anon, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_PENDING); /* a 401 is not cached: asked again */
    async_wait(&a, 3);
    assert_int_equal(a.err, BF_ERR_HTTP);
    assert_non_null(strstr(a.why, "Unauthorized"));
    assert_null(strstr(a.why, "s3cret"));
    bf_registry_attach(anon, NULL, NULL, NULL);
    async_close(&a, authed);
    bf_registry_destroy(anon);
    bf_registry_destroy(authed);
    bf_test_registry_stop(server);
}

static void on_tick(uv_timer_t *t)
{
    (*(int *)t->data)++;
}

/* While the registry takes a second to answer, a 20 ms timer on the same
 * loop keeps firing: the loop is not held. A held loop would fire it once
 * at most, when the lookup returned. */
static void test_async_slow_registry_does_not_hold_the_loop(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("heartbeat"));
    async_t a;
    async_open(&a, f->client);
    int ticks = 0;
    uv_timer_t tick;
    uv_timer_init(&a.loop, &tick);
    tick.data = &ticks;
    uv_timer_start(&tick, on_tick, 20, 20);
    bf_test_registry_set_delay_ms(f->server, (int)(1000 * bf_test_timeout_mult()));
    char errstr[256] = "";
    const char *got = NULL;
    assert_int_equal(
        bf_registry_schema_by_id(f->client, id, &got, errstr, sizeof(errstr)),
        BF_ERR_PENDING);
    async_wait(&a, 1);
    bf_test_registry_set_delay_ms(f->server, 0);
    assert_int_equal(a.err, BF_OK);
    if (ticks < 10)
        fail_msg("the timer fired %d times while the registry was slow", ticks);
    uv_close((uv_handle_t *)&tick, NULL);
    async_close(&a, f->client);
}

/* The client destroyed with a lookup in flight: the answer is dropped.
 * The HTTP client destroyed under an attached client: the lookup is
 * announced as cancelled, and the client never uses it again. (ASan and
 * LSan watch for what would be wrong.) */
static void test_async_destroy_with_a_lookup_in_flight_is_safe(void **state)
{
    fixture_t *f = *state;
    int32_t id = bf_test_registry_add(f->server, "s-value", bf_schema_text("heartbeat"));
    char errstr[256] = "";
    const char *got = NULL;
    bf_test_registry_set_delay_ms(f->server, 200);

    bf_registry_t *c = client_for(bf_test_registry_url(f->server), 5, NULL);
    async_t a;
    async_open(&a, c);
    unsigned before = bf_test_registry_requests(f->server);
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    /* Until the server has the request, then let it go. */
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    while (bf_test_registry_requests(f->server) == before && bf_test_now() < deadline) {
        uv_run(&a.loop, UV_RUN_NOWAIT);
        sleep_ms(5);
    }
    bf_registry_destroy(c);
    async_close(&a, NULL); /* completes the orphaned lookup */
    assert_int_equal(a.answers, 0);

    c = client_for(bf_test_registry_url(f->server), 5, NULL);
    async_open(&a, c);
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_PENDING);
    bf_http_destroy(a.http);
    assert_int_equal(a.answers, 1);
    assert_int_equal(a.err, BF_ERR_STATE);
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_ERR_STATE);
    loop_close(&a);
    /* Detached again, it asks synchronously. */
    bf_registry_attach(c, NULL, NULL, NULL);
    bf_test_registry_set_delay_ms(f->server, 0);
    assert_int_equal(bf_registry_schema_by_id(c, id, &got, errstr, sizeof(errstr)),
                     BF_OK);
    bf_registry_destroy(c);
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
        T(test_server_error_is_an_outage_with_its_message),
        T(test_slow_registry_times_out_then_fails_fast),
        T(test_outages_are_unavailable_and_answers_are_not),
        T(test_unreachable_url_falls_over_to_the_next),
        T(test_basic_auth_is_sent_and_required),
        T(test_from_env_without_url_is_no_registry),
        T(test_confluent_round_trip_through_the_registry),
        T(test_v1_writer_id_from_the_registry_resolves_to_the_reader),
        T(test_server_answers_subjects_and_versions_like_the_registry),
        T(test_preload_learns_every_version_of_the_subject),
        T(test_async_lookups_of_one_id_share_one_request),
        T(test_async_answers_are_cached_both_ways),
        T(test_async_decode_is_pending_then_decodes),
        T(test_async_outage_is_unavailable_until_the_registry_answers),
        T(test_async_lookup_falls_over_to_the_second_url),
        T(test_async_lookup_sends_basic_auth),
        T(test_async_slow_registry_does_not_hold_the_loop),
        T(test_async_destroy_with_a_lookup_in_flight_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
