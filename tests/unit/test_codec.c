/*
 * test_codec.c - the three wire formats, bad input, and schema resolution.
 *
 * Expected values are data: sample records per type (as the normalised
 * JSON a decode must give back), tables of bad messages with the error
 * code each must produce, and writer schemas derived from the embedded
 * ones. Messages in another writer's schema are encoded here with avro-c
 * directly (encode_with_writer), not with the codec under test; the same
 * avro-c encoding is the reference for the bytes the codec writes itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>

#include "libbf/codec.h"
#include "libbf/schema.h"

#define BUF_MAX (1024 * 1024)

/* ------------------------------------------------------------------------
 * Samples: one record per type, in normalised form (doubles as reals).
 */

static const char *const sample_report =
    "{\"report_id\":\"r-1\",\"submitted_at\":1714564800000,\"program\":\"acme\","
    "\"reporter\":\"alice\",\"title\":\"Reflected XSS in search\",\"asset\":"
    "\"www.acme.example\",\"weakness\":\"CWE-79\",\"claimed_severity\":\"HIGH\","
    "\"cvss_vector\":null,\"description\":\"The q parameter is echoed \\u00e9 \\u2713\","
    "\"steps_to_reproduce\":\"1. open /search?q=<script>\",\"impact\":\"\"}";

static const char *const sample_validation =
    "{\"report_id\":\"r-1\",\"status\":\"VALID\",\"duplicate_of\":null,"
    "\"duplicate_similarity\":null,\"quality\":0.8,\"plausibility\":0.9,\"severity\":"
    "\"MEDIUM\",\"confidence\":0.75,\"reasons\":[\"clear steps\",\"reproducible\"],"
    "\"analyses\":["
    "{\"kind\":\"QUALITY\",\"provider\":\"openai\",\"model\":\"m1\",\"score\":0.8,"
    "\"tokens_in\":1200,\"tokens_out\":80,\"cost_usd\":0.0021,\"latency_seconds\":1.5,"
    "\"error\":null},"
    "{\"kind\":\"PLAUSIBILITY\",\"provider\":\"anthropic\",\"model\":\"m2\",\"score\":0."
    "9,"
    "\"tokens_in\":1300,\"tokens_out\":90,\"cost_usd\":0.003,\"latency_seconds\":2.25,"
    "\"error\":null},"
    "{\"kind\":\"SEVERITY\",\"provider\":\"gemini\",\"model\":\"m3\",\"score\":0.0,"
    "\"tokens_in\":0,\"tokens_out\":0,\"cost_usd\":0.0,\"latency_seconds\":30.0,"
    "\"error\":\"timeout\"}],"
    "\"total_cost_usd\":0.0051,\"worker_id\":\"w-1\",\"validated_at\":1714564801000,"
    "\"prompt_version\":\"v3\",\"cvss_score\":5.3,\"cvss_version\":\"3.1\","
    "\"cvss_rating\":\"MEDIUM\"}";

static const char *const sample_heartbeat =
    "{\"worker_id\":\"w-1\",\"sent_at\":1714564805000,\"started_at\":1714564000000,"
    "\"reports_consumed\":1000,\"reports_validated\":950,\"reports_duplicate\":100,"
    "\"reports_dlq\":3,\"reports_per_second\":12.5,\"latency_p50_seconds\":1.25,"
    "\"latency_p95_seconds\":3.5,\"latency_p99_seconds\":7.0,\"in_flight_reports\":40,"
    "\"in_flight_ai_calls\":120,\"ai_cost_usd\":4.2,\"cpu_seconds\":33.5,\"rss_bytes\":"
    "52428800,\"assigned_partitions\":6,\"paused\":false,\"ai_limit_rpm\":540.0,"
    "\"ai_limited_share\":0.25}";

static const char *const sample_scaling =
    "{\"decided_at\":1714564810000,\"action\":\"SCALE_UP\",\"current_workers\":2,"
    "\"target_workers\":4,\"confidence\":0.9,\"total_lag\":5000,\"arrival_rate\":40.0,"
    "\"processing_rate\":25.0,\"forecast_rate\":45.5,\"reasoning\":\"lag grows\","
    "\"actuator\":\"local\"}";

static const char *const sample_scaling_no_forecast =
    "{\"decided_at\":1714564810000,\"action\":\"HOLD\",\"current_workers\":2,"
    "\"target_workers\":2,\"confidence\":0.5,\"total_lag\":0,\"arrival_rate\":1.0,"
    "\"processing_rate\":1.0,\"forecast_rate\":null,\"reasoning\":\"not enough history\","
    "\"actuator\":\"none\"}";

/* Every sample with its record type, for the tests that go over them all. */
static const struct {
    bf_record_type_t type;
    const char *const *text;
} samples[] = {
    {BF_RECORD_REPORT, &sample_report},
    {BF_RECORD_VALIDATION, &sample_validation},
    {BF_RECORD_HEARTBEAT, &sample_heartbeat},
    {BF_RECORD_SCALING_DECISION, &sample_scaling},
    {BF_RECORD_SCALING_DECISION, &sample_scaling_no_forecast},
};

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return j;
}

static void assert_json_equal(const json_t *got, const json_t *want)
{
    if (!json_equal((json_t *)got, (json_t *)want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("JSON differs:\n got  %s\n want %s", g, w);
    }
}

static bf_codec_t *new_codec(void)
{
    char errstr[256] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    if (!codec)
        fail_msg("bf_codec_new: %s", errstr);
    return codec;
}

static int setup(void **state)
{
    *state = new_codec();
    return 0;
}

static int teardown(void **state)
{
    bf_codec_destroy(*state);
    return 0;
}

/* Encodes @p text as @p type with @p framing into @p out (initialised). */
static void encode_text(bf_codec_t *codec, bf_record_type_t type, const char *text,
                        bf_framing_t framing, bf_buf_t *out)
{
    char errstr[256] = "";
    json_t *value = load(text);
    bf_buf_init(out, BUF_MAX);
    bf_err_t err =
        bf_codec_encode(codec, type, value, framing, out, errstr, sizeof(errstr));
    json_decref(value);
    if (err != BF_OK)
        fail_msg("encode: %s (%s)", bf_err_str(err), errstr);
}

static bf_err_t decode(bf_codec_t *codec, bf_record_type_t type, const void *data,
                       size_t len, json_t **out, char *errstr, size_t errstr_size)
{
    errstr[0] = '\0';
    bf_err_t err =
        bf_codec_decode(codec, type, data, len, out, NULL, errstr, errstr_size);
    if (err != BF_OK && *out)
        fail_msg("decode failed with %s but gave an object", bf_err_str(err));
    return err;
}

/* Encodes @p text with @p framing, decodes it again (which must detect
 * the framing) and returns the decoded object. */
static json_t *round_trip(bf_codec_t *codec, bf_record_type_t type, const char *text,
                          bf_framing_t framing)
{
    bf_buf_t buf;
    encode_text(codec, type, text, framing, &buf);
    json_t *got = NULL;
    bf_framing_t detected = (bf_framing_t)-1;
    char errstr[256] = "";
    bf_err_t err = bf_codec_decode(codec, type, buf.data, buf.len, &got, &detected,
                                   errstr, sizeof(errstr));
    if (err != BF_OK)
        fail_msg("decode %s: %s (%s)", bf_framing_name(framing), bf_err_str(err), errstr);
    assert_int_equal(detected, framing);
    bf_buf_free(&buf);
    return got;
}

static void assert_round_trips_to(bf_codec_t *codec, bf_record_type_t type,
                                  const char *text, bf_framing_t framing,
                                  const char *want_text)
{
    json_t *got = round_trip(codec, type, text, framing);
    json_t *want = load(want_text);
    assert_json_equal(got, want);
    json_decref(want);
    json_decref(got);
}

/* ------------------------------------------------------------------------
 * Round trips and framing
 */

static void test_every_record_round_trips_in_every_framing(void **state)
{
    bf_codec_t *codec = *state;
    static const bf_framing_t framings[] = {BF_FRAMING_SINGLE_OBJECT,
                                            BF_FRAMING_CONFLUENT, BF_FRAMING_JSON};
    for (int t = 0; t < BF_RECORD__COUNT; t++)
        bf_codec_set_confluent_id(codec, (bf_record_type_t)t, 100 + t);
    for (size_t r = 0; r < sizeof(samples) / sizeof(samples[0]); r++)
        for (size_t f = 0; f < sizeof(framings) / sizeof(framings[0]); f++)
            assert_round_trips_to(codec, samples[r].type, *samples[r].text, framings[f],
                                  *samples[r].text);
}

static void test_validation_with_nested_analyses_round_trips(void **state)
{
    json_t *got = round_trip(*state, BF_RECORD_VALIDATION, sample_validation,
                             BF_FRAMING_SINGLE_OBJECT);
    json_t *analyses = json_object_get(got, "analyses");
    assert_int_equal(json_array_size(analyses), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(analyses, 2), "error")),
        "timeout");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(analyses, 1), "kind")),
        "PLAUSIBILITY");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(analyses, 0), "tokens_in")),
        1200);
    json_decref(got);
}

/* A codec reuses its avro-c values: a shorter message after a longer one
 * must not inherit anything from it. */
static void test_consecutive_decodes_do_not_share_state(void **state)
{
    json_t *shorter = load(sample_validation);
    json_array_remove(json_object_get(shorter, "analyses"), 2);
    json_array_remove(json_object_get(shorter, "analyses"), 1);
    json_array_clear(json_object_get(shorter, "reasons"));
    char *shorter_text = json_dumps(shorter, JSON_COMPACT);
    const char *texts[] = {sample_validation, shorter_text, sample_validation};
    for (size_t i = 0; i < 3; i++)
        assert_round_trips_to(*state, BF_RECORD_VALIDATION, texts[i],
                              BF_FRAMING_SINGLE_OBJECT, texts[i]);
    free(shorter_text);
    json_decref(shorter);
}

static void test_single_object_header_is_magic_and_little_endian_fingerprint(void **state)
{
    bf_codec_t *codec = *state;
    /* Computed independently from report.avsc (see test_schema.c). */
    const uint64_t report_fingerprint = UINT64_C(0x80d5f24bfc1c600e);
    assert_true(bf_codec_fingerprint(codec, BF_RECORD_REPORT) == report_fingerprint);
    bf_buf_t buf;
    encode_text(codec, BF_RECORD_REPORT, sample_report, BF_FRAMING_SINGLE_OBJECT, &buf);
    const unsigned char want[10] = {0xC3, 0x01, 0x0e, 0x60, 0x1c,
                                    0xfc, 0x4b, 0xf2, 0xd5, 0x80};
    assert_true(buf.len > sizeof(want));
    assert_memory_equal(buf.data, want, sizeof(want));
    /* The body starts with report_id "r-1": length 3 zig-zagged is 6. */
    assert_int_equal((unsigned char)buf.data[10], 6);
    assert_memory_equal(buf.data + 11, "r-1", 3);
    bf_buf_free(&buf);
}

static void test_confluent_header_is_zero_and_big_endian_id(void **state)
{
    bf_codec_t *codec = *state;
    bf_codec_set_confluent_id(codec, BF_RECORD_HEARTBEAT, 0x01020304);
    bf_buf_t buf;
    encode_text(codec, BF_RECORD_HEARTBEAT, sample_heartbeat, BF_FRAMING_CONFLUENT, &buf);
    const unsigned char want[5] = {0x00, 0x01, 0x02, 0x03, 0x04};
    assert_memory_equal(buf.data, want, sizeof(want));
    bf_buf_free(&buf);
}

static void test_confluent_without_schema_id_is_a_state_error(void **state)
{
    bf_codec_t *codec = *state;
    json_t *value = load(sample_report);
    bf_buf_t buf;
    bf_buf_init(&buf, BUF_MAX);
    char errstr[256] = "";
    assert_int_equal(bf_codec_encode(codec, BF_RECORD_REPORT, value, BF_FRAMING_CONFLUENT,
                                     &buf, errstr, sizeof(errstr)),
                     BF_ERR_STATE);
    assert_int_equal(buf.len, 0);
    assert_non_null(strstr(errstr, "schema id"));
    json_decref(value);
    bf_buf_free(&buf);
}

static void test_encode_past_the_buffer_maximum_is_too_large(void **state)
{
    bf_codec_t *codec = *state;
    json_t *value = load(sample_report);
    for (int framing = 0; framing <= BF_FRAMING_JSON; framing += 2) {
        bf_buf_t buf;
        bf_buf_init(&buf, 20);
        char errstr[256] = "";
        assert_int_equal(bf_codec_encode(codec, BF_RECORD_REPORT, value,
                                         (bf_framing_t)framing, &buf, errstr,
                                         sizeof(errstr)),
                         BF_ERR_TOO_LARGE);
        assert_int_equal(buf.len, 0);
        bf_buf_free(&buf);
    }
    /* What the buffer held before is kept, and nothing of the record; the
     * error says how large the record would have been. */
    bf_buf_t buf;
    bf_buf_init(&buf, 100);
    assert_int_equal(bf_buf_puts(&buf, "kept"), BF_OK);
    char errstr[256] = "";
    assert_int_equal(bf_codec_encode(codec, BF_RECORD_REPORT, value,
                                     BF_FRAMING_SINGLE_OBJECT, &buf, errstr,
                                     sizeof(errstr)),
                     BF_ERR_TOO_LARGE);
    assert_int_equal(buf.len, 4);
    assert_string_equal(buf.data, "kept");
    assert_non_null(strstr(errstr, "exceeds the buffer"));
    bf_buf_free(&buf);
    json_decref(value);
}

/* ------------------------------------------------------------------------
 * Bad messages
 */

static void test_bad_messages_give_the_right_error(void **state)
{
    bf_codec_t *codec = *state;
    bf_codec_set_confluent_id(codec, BF_RECORD_REPORT, 1);
    static const struct {
        const char *what;
        const char *data;
        size_t len;
        bf_err_t err;
        const char *errstr_has;
    } cases[] = {
        {"empty", "", 0, BF_ERR_PARSE, "empty"},
        {"unknown magic", "\x01xyz", 4, BF_ERR_PARSE, "unknown magic byte 0x01"},
        {"JSON array", "  [1]", 5, BF_ERR_PARSE, "unknown magic byte 0x5b"},
        {"only spaces", "   ", 3, BF_ERR_PARSE, "unknown magic byte 0x20"},
        {"lone C3", "\xC3", 1, BF_ERR_PARSE, "magic"},
        {"C3 then not 01", "\xC3\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00", 11,
         BF_ERR_PARSE, "magic"},
        {"short single-object header", "\xC3\x01\x01\x02", 4, BF_ERR_PARSE, "truncated"},
        {"unknown fingerprint", "\xC3\x01\x01\x02\x03\x04\x05\x06\x07\x08\x00", 11,
         BF_ERR_UNKNOWN_SCHEMA, "0x0807060504030201"},
        {"short Confluent header", "\x00\x00\x00", 3, BF_ERR_PARSE, "truncated"},
        {"unknown Confluent id", "\x00\x00\x00\x00\x02\x00", 6, BF_ERR_UNKNOWN_SCHEMA,
         "id 2"},
        {"Confluent id past int32", "\x00\xff\xff\xff\xff\x00", 6, BF_ERR_UNKNOWN_SCHEMA,
         "id"},
        {"malformed JSON", "{\"report_id\":", 13, BF_ERR_PARSE, "malformed JSON"},
        {"JSON with trailing garbage", "{} x", 4, BF_ERR_PARSE, "malformed JSON"},
        {"JSON duplicate key", "{\"a\":1,\"a\":2}", 13, BF_ERR_PARSE, "malformed JSON"},
        {"JSON with invalid UTF-8", "{\"title\":\"\xff\"}", 13, BF_ERR_UTF8, "JSON"},
        {"JSON with a NUL escape", "{\"title\":\"a\\u0000b\"}", 20, BF_ERR_PARSE, "JSON"},
        {"JSON that is not a report", "{\"hello\":1}", 11, BF_ERR_SCHEMA, "report_id"},
        /* report_id claims 2^62 bytes; only 1 is there. */
        {"huge string length",
         "\xC3\x01\x0e\x60\x1c\xfc\x4b\xf2\xd5\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"
         "\x01x",
         21, BF_ERR_PARSE, "truncated"},
        {"negative string length", "\xC3\x01\x0e\x60\x1c\xfc\x4b\xf2\xd5\x80\x01x", 12,
         BF_ERR_PARSE, "negative"},
        {"eleven-byte varint",
         "\xC3\x01\x0e\x60\x1c\xfc\x4b\xf2\xd5\x80\xff\xff\xff\xff\xff\xff\xff\xff\xff"
         "\xff\x01",
         21, BF_ERR_PARSE, "varint"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *got = NULL;
        char errstr[256];
        bf_err_t err = decode(codec, BF_RECORD_REPORT, cases[i].data, cases[i].len, &got,
                              errstr, sizeof(errstr));
        if (err != cases[i].err || !strstr(errstr, cases[i].errstr_has))
            fail_msg("%s: got %s (%s), want %s with \"%s\"", cases[i].what,
                     bf_err_str(err), errstr, bf_err_str(cases[i].err),
                     cases[i].errstr_has);
        assert_null(got);
    }
}

/* Replaces the first @p find in the Avro body of @p buf with @p repl
 * (same length). */
static void patch(bf_buf_t *buf, const char *find, const char *repl)
{
    size_t n = strlen(find);
    for (size_t i = 0; i + n <= buf->len; i++) {
        if (memcmp(buf->data + i, find, n) == 0) {
            memcpy(buf->data + i, repl, n);
            return;
        }
    }
    fail_msg("'%s' not in the encoding", find);
}

static void test_every_truncation_of_an_avro_record_fails_cleanly(void **state)
{
    bf_codec_t *codec = *state;
    bf_codec_set_confluent_id(codec, BF_RECORD_VALIDATION, 9);
    for (int framing = BF_FRAMING_SINGLE_OBJECT; framing <= BF_FRAMING_CONFLUENT;
         framing++) {
        bf_buf_t buf;
        encode_text(codec, BF_RECORD_VALIDATION, sample_validation, (bf_framing_t)framing,
                    &buf);
        for (size_t len = 0; len < buf.len; len++) {
            /* A copy of exactly len bytes, so ASan sees any over-read. */
            char *prefix = malloc(len ? len : 1);
            memcpy(prefix, buf.data, len);
            json_t *got = NULL;
            char errstr[256];
            bf_err_t err = decode(codec, BF_RECORD_VALIDATION, prefix, len, &got, errstr,
                                  sizeof(errstr));
            if (err != BF_ERR_PARSE)
                fail_msg("prefix of %zu/%zu bytes: %s (%s)", len, buf.len,
                         bf_err_str(err), errstr);
            free(prefix);
        }
        /* And a byte too many. */
        bf_buf_append(&buf, "", 1);
        json_t *got = NULL;
        char errstr[256];
        assert_int_equal(decode(codec, BF_RECORD_VALIDATION, buf.data, buf.len, &got,
                                errstr, sizeof(errstr)),
                         BF_ERR_PARSE);
        assert_non_null(strstr(errstr, "left after the record"));
        bf_buf_free(&buf);
    }
}

/* Every byte of the body replaced by values that are special to the
 * binary encoding: whatever the outcome, no crash and no over-read (the
 * sanitizer build checks), and success only with a whole object. */
static void test_corrupt_avro_bytes_never_crash(void **state)
{
    bf_codec_t *codec = *state;
    bf_buf_t buf;
    encode_text(codec, BF_RECORD_VALIDATION, sample_validation, BF_FRAMING_SINGLE_OBJECT,
                &buf);
    static const unsigned char values[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff};
    char *copy = malloc(buf.len);
    size_t ok = 0, failed = 0;
    for (size_t i = 10; i < buf.len; i++) {
        for (size_t v = 0; v < sizeof(values); v++) {
            memcpy(copy, buf.data, buf.len);
            copy[i] = (char)values[v];
            json_t *got = NULL;
            char errstr[256];
            bf_err_t err = decode(codec, BF_RECORD_VALIDATION, copy, buf.len, &got,
                                  errstr, sizeof(errstr));
            if (err == BF_OK) {
                assert_true(json_is_object(got));
                ok++;
            } else {
                /* SCHEMA: a double's bytes may become NaN, which JSON lacks. */
                assert_true(err == BF_ERR_PARSE || err == BF_ERR_UTF8 ||
                            err == BF_ERR_SCHEMA);
                failed++;
            }
            json_decref(got);
        }
    }
    assert_true(ok > 0 && failed > 0); /* both kinds of outcome were exercised */
    free(copy);
    bf_buf_free(&buf);
}

static void test_out_of_range_union_and_enum_indexes_are_parse_errors(void **state)
{
    bf_codec_t *codec = *state;
    static const struct {
        const char *find, *repl, *errstr_has;
    } cases[] = {
        /* weakness: union branch 1 (zig-zag 2) then "CWE-79"; branch 5 does not exist */
        {"\x02\x0c"
         "CWE-79",
         "\x0a\x0c"
         "CWE-79",
         "union branch 5"},
        /* claimed_severity: branch 1, HIGH = index 3 (zig-zag 6); index 9 does not */
        {"CWE-79\x02\x06", "CWE-79\x02\x12", "enum index 9"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_buf_t buf;
        encode_text(codec, BF_RECORD_REPORT, sample_report, BF_FRAMING_SINGLE_OBJECT,
                    &buf);
        patch(&buf, cases[i].find, cases[i].repl);
        json_t *got = NULL;
        char errstr[256];
        bf_err_t err = decode(codec, BF_RECORD_REPORT, buf.data, buf.len, &got, errstr,
                              sizeof(errstr));
        if (err != BF_ERR_PARSE || !strstr(errstr, cases[i].errstr_has))
            fail_msg("case %zu: %s (%s)", i, bf_err_str(err), errstr);
        bf_buf_free(&buf);
    }
}

static void test_invalid_utf8_in_an_avro_string_is_a_utf8_error(void **state)
{
    bf_codec_t *codec = *state;
    static const char *const bad[] = {
        "\xff",         /* never valid */
        "\xc0\xaf",     /* overlong '/' */
        "\xed\xa0\x80", /* a UTF-16 surrogate */
        "\xe2\x82",     /* cut short */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *value = load(sample_report);
        json_object_set_new(value, "title", json_string("TITLE-MARK"));
        char *text = json_dumps(value, JSON_COMPACT);
        bf_buf_t buf;
        encode_text(codec, BF_RECORD_REPORT, text, BF_FRAMING_SINGLE_OBJECT, &buf);
        char repl[16] = "TITLE-MARK";
        memcpy(repl + 2, bad[i], strlen(bad[i]));
        patch(&buf, "TITLE-MARK", repl);
        json_t *got = NULL;
        char errstr[256];
        bf_err_t err = decode(codec, BF_RECORD_REPORT, buf.data, buf.len, &got, errstr,
                              sizeof(errstr));
        if (err != BF_ERR_UTF8 || !strstr(errstr, "title"))
            fail_msg("case %zu: %s (%s)", i, bf_err_str(err), errstr);
        bf_buf_free(&buf);
        free(text);
        json_decref(value);
    }
}

static void test_nul_in_an_avro_string_is_refused(void **state)
{
    bf_codec_t *codec = *state;
    bf_buf_t buf;
    encode_text(codec, BF_RECORD_REPORT, sample_report, BF_FRAMING_SINGLE_OBJECT, &buf);
    patch(&buf, "alice", "al\0ce");
    json_t *got = NULL;
    char errstr[256];
    assert_int_equal(
        decode(codec, BF_RECORD_REPORT, buf.data, buf.len, &got, errstr, sizeof(errstr)),
        BF_ERR_PARSE);
    assert_non_null(strstr(errstr, "reporter"));
    bf_buf_free(&buf);
}

/* ------------------------------------------------------------------------
 * JSON against the schema (encode in any framing, and JSON-framed decode)
 */

typedef struct json_case_s {
    const char *what;
    bf_record_type_t type;
    const char *array; /* change an item of this array field, or NULL */
    size_t item;       /* which item */
    const char *field; /* field to change */
    const char *value; /* its new JSON value; NULL deletes the field */
    bf_err_t err;
    const char *errstr_has;
} json_case_t;

static const json_case_t bad_json_cases[] = {
    {"missing report_id", BF_RECORD_REPORT, NULL, 0, "report_id", NULL, BF_ERR_SCHEMA,
     "field report_id: missing required field"},
    {"missing title", BF_RECORD_REPORT, NULL, 0, "title", NULL, BF_ERR_SCHEMA,
     "field title: missing"},
    {"title is a number", BF_RECORD_REPORT, NULL, 0, "title", "42", BF_ERR_SCHEMA,
     "field title: expected string, got an integer"},
    {"submitted_at is a word", BF_RECORD_REPORT, NULL, 0, "submitted_at", "\"yesterday\"",
     BF_ERR_SCHEMA, "submitted_at: 'yesterday' is not an RFC 3339"},
    {"submitted_at is a real", BF_RECORD_REPORT, NULL, 0, "submitted_at", "1.5",
     BF_ERR_SCHEMA, "submitted_at: expected long"},
    {"severity not a symbol", BF_RECORD_REPORT, NULL, 0, "claimed_severity", "\"SEVERE\"",
     BF_ERR_SCHEMA, "claimed_severity: a string fits no branch"},
    {"weakness is an object", BF_RECORD_REPORT, NULL, 0, "weakness", "{}", BF_ERR_SCHEMA,
     "weakness: an object fits no branch"},
    {"status not a symbol", BF_RECORD_VALIDATION, NULL, 0, "status", "\"MAYBE\"",
     BF_ERR_SCHEMA, "status: 'MAYBE' is not a symbol of bountyfleet.v1.Status"},
    {"reasons not an array", BF_RECORD_VALIDATION, NULL, 0, "reasons", "\"x\"",
     BF_ERR_SCHEMA, "reasons: expected array"},
    {"reason not a string", BF_RECORD_VALIDATION, NULL, 0, "reasons", "[\"a\", 2]",
     BF_ERR_SCHEMA, "reasons[1]: expected string"},
    {"nested score is a string", BF_RECORD_VALIDATION, "analyses", 1, "score", "\"high\"",
     BF_ERR_SCHEMA, "field analyses[1].score: expected double"},
    {"nested kind missing", BF_RECORD_VALIDATION, "analyses", 2, "kind", NULL,
     BF_ERR_SCHEMA, "field analyses[2].kind: missing required field"},
    {"int out of range", BF_RECORD_HEARTBEAT, NULL, 0, "in_flight_reports",
     "1099511627776", BF_ERR_SCHEMA,
     "in_flight_reports: 1099511627776 is out of range for int"},
    {"boolean as a string", BF_RECORD_HEARTBEAT, NULL, 0, "paused", "\"yes\"",
     BF_ERR_SCHEMA, "paused: expected boolean"},
    {"action not a symbol", BF_RECORD_SCALING_DECISION, NULL, 0, "action", "\"PANIC\"",
     BF_ERR_SCHEMA, "action: 'PANIC' is not a symbol"},
    {"forecast is a string", BF_RECORD_SCALING_DECISION, NULL, 0, "forecast_rate",
     "\"45\"", BF_ERR_SCHEMA, "forecast_rate: a string fits no branch"},
};

static const char *sample_of(bf_record_type_t type)
{
    switch (type) {
    case BF_RECORD_REPORT:
        return sample_report;
    case BF_RECORD_VALIDATION:
        return sample_validation;
    case BF_RECORD_HEARTBEAT:
        return sample_heartbeat;
    default:
        return sample_scaling;
    }
}

/* The case's sample with its change applied. */
static json_t *apply_case(const json_case_t *c)
{
    json_t *value = load(sample_of(c->type));
    json_t *parent =
        c->array ? json_array_get(json_object_get(value, c->array), c->item) : value;
    assert_non_null(parent);
    if (c->value)
        json_object_set_new(parent, c->field, load(c->value));
    else
        json_object_del(parent, c->field);
    return value;
}

static void test_json_that_does_not_fit_the_schema_is_a_schema_error(void **state)
{
    bf_codec_t *codec = *state;
    for (int t = 0; t < BF_RECORD__COUNT; t++)
        bf_codec_set_confluent_id(codec, (bf_record_type_t)t, 200 + t);
    for (size_t i = 0; i < sizeof(bad_json_cases) / sizeof(bad_json_cases[0]); i++) {
        const json_case_t *c = &bad_json_cases[i];
        json_t *value = apply_case(c);
        /* Encoding refuses it in every framing ... */
        for (int framing = 0; framing <= BF_FRAMING_JSON; framing++) {
            bf_buf_t buf;
            bf_buf_init(&buf, BUF_MAX);
            char errstr[256] = "";
            bf_err_t err = bf_codec_encode(codec, c->type, value, (bf_framing_t)framing,
                                           &buf, errstr, sizeof(errstr));
            if (err != c->err || !strstr(errstr, c->errstr_has))
                fail_msg("%s, encode %s: %s (%s)", c->what,
                         bf_framing_name((bf_framing_t)framing), bf_err_str(err), errstr);
            assert_int_equal(buf.len, 0);
            bf_buf_free(&buf);
        }
        /* ... and so does decoding it as a JSON-framed message. */
        char *text = json_dumps(value, JSON_COMPACT);
        json_t *got = NULL;
        char errstr[256];
        bf_err_t err =
            decode(codec, c->type, text, strlen(text), &got, errstr, sizeof(errstr));
        if (err != c->err || !strstr(errstr, c->errstr_has))
            fail_msg("%s, decode: %s (%s)", c->what, bf_err_str(err), errstr);
        free(text);
        json_decref(value);
    }
}

static void test_a_record_that_is_not_an_object_is_a_schema_error(void **state)
{
    bf_codec_t *codec = *state;
    json_t *value = json_array();
    bf_buf_t buf;
    bf_buf_init(&buf, BUF_MAX);
    char errstr[256] = "";
    assert_int_equal(bf_codec_encode(codec, BF_RECORD_REPORT, value, BF_FRAMING_JSON,
                                     &buf, errstr, sizeof(errstr)),
                     BF_ERR_SCHEMA);
    json_decref(value);
    bf_buf_free(&buf);
}

/* Optional fields may be left out (their default is used), unknown fields
 * are dropped, doubles given as integers become reals, and RFC 3339 text
 * becomes epoch milliseconds: a JSON-framed decode gives the same
 * normalised object as an Avro one. */
static void test_json_is_normalised_against_the_schema(void **state)
{
    bf_codec_t *codec = *state;
    static const struct {
        bf_record_type_t type;
        const char *in;
        const char *want;
    } cases[] = {
        {BF_RECORD_REPORT,
         " \n{\"report_id\":\"r-2\",\"submitted_at\":\"2024-05-01T12:00:00Z\","
         "\"program\":\"p\","
         "\"reporter\":\"r\",\"title\":\"t\",\"asset\":\"a\",\"description\":\"d\","
         "\"steps_to_reproduce\":\"s\",\"impact\":\"i\",\"extra\":[1,2],\"bounty\":{}}",
         "{\"report_id\":\"r-2\",\"submitted_at\":1714564800000,\"program\":\"p\","
         "\"reporter\":\"r\",\"title\":\"t\",\"asset\":\"a\",\"weakness\":null,"
         "\"claimed_severity\":null,\"cvss_vector\":null,\"description\":\"d\","
         "\"steps_to_reproduce\":\"s\",\"impact\":\"i\"}"},
        {BF_RECORD_SCALING_DECISION,
         "{\"decided_at\":\"2024-05-01T14:00:00.250+02:00\",\"action\":\"HOLD\","
         "\"current_workers\":1,\"target_workers\":1,\"confidence\":1,\"total_lag\":0,"
         "\"arrival_rate\":0,\"processing_rate\":3,\"reasoning\":\"\",\"actuator\":"
         "\"none\"}",
         "{\"decided_at\":1714564800250,\"action\":\"HOLD\",\"current_workers\":1,"
         "\"target_workers\":1,\"confidence\":1.0,\"total_lag\":0,\"arrival_rate\":0.0,"
         "\"processing_rate\":3.0,\"forecast_rate\":null,\"reasoning\":\"\","
         "\"actuator\":\"none\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *got = NULL;
        char errstr[256];
        bf_err_t err = decode(codec, cases[i].type, cases[i].in, strlen(cases[i].in),
                              &got, errstr, sizeof(errstr));
        if (err != BF_OK)
            fail_msg("case %zu: %s", i, errstr);
        json_t *want = load(cases[i].want);
        assert_json_equal(got, want);
        json_decref(want);
        json_decref(got);
        /* The Avro framing agrees with the JSON one. */
        assert_round_trips_to(codec, cases[i].type, cases[i].in, BF_FRAMING_SINGLE_OBJECT,
                              cases[i].want);
    }
}

static void test_a_missing_field_with_a_default_takes_the_default(void **state)
{
    json_t *value = load(sample_validation);
    json_object_del(value, "prompt_version");
    json_object_del(value, "duplicate_of");
    char *text = json_dumps(value, JSON_COMPACT);
    for (int framing = 0; framing <= BF_FRAMING_JSON; framing += 2) {
        json_t *got =
            round_trip(*state, BF_RECORD_VALIDATION, text, (bf_framing_t)framing);
        assert_string_equal(json_string_value(json_object_get(got, "prompt_version")),
                            "");
        assert_true(json_is_null(json_object_get(got, "duplicate_of")));
        json_decref(got);
    }
    free(text);
    json_decref(value);
}

/* ------------------------------------------------------------------------
 * Other writer schemas (Avro spec, "Schema Resolution")
 */

/* Sets @p v (of schema @p s) from plain JSON; covers what the embedded
 * schemas and report-shaped writer schemas use. A union's non-null branch
 * is the first one that is not null. */
static void set_avro(avro_value_t *v, avro_schema_t s, const json_t *j)
{
    switch (avro_typeof(s)) {
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++) {
            const char *name = avro_schema_record_field_name(s, (int)i);
            avro_value_t child;
            assert_int_equal(avro_value_get_by_index(v, i, &child, NULL), 0);
            const json_t *field = json_object_get(j, name);
            if (!field)
                fail_msg("writer field %s has no value", name);
            set_avro(&child, avro_schema_record_field_get_by_index(s, (int)i), field);
        }
        break;
    case AVRO_ARRAY:
        for (size_t i = 0; i < json_array_size(j); i++) {
            avro_value_t item;
            assert_int_equal(avro_value_append(v, &item, NULL), 0);
            set_avro(&item, avro_schema_array_items(s), json_array_get(j, i));
        }
        break;
    case AVRO_LINK: /* a named type used again, like cvss_rating's Severity */
        set_avro(v, avro_schema_link_target(s), j);
        break;
    case AVRO_BOOLEAN:
        assert_int_equal(avro_value_set_boolean(v, json_is_true(j)), 0);
        break;
    case AVRO_INT32:
        assert_int_equal(avro_value_set_int(v, (int32_t)json_integer_value(j)), 0);
        break;
    case AVRO_STRING:
        assert_int_equal(avro_value_set_string(v, json_string_value(j)), 0);
        break;
    case AVRO_INT64:
        assert_int_equal(avro_value_set_long(v, json_integer_value(j)), 0);
        break;
    case AVRO_DOUBLE:
        assert_int_equal(avro_value_set_double(v, json_number_value(j)), 0);
        break;
    case AVRO_NULL:
        assert_int_equal(avro_value_set_null(v), 0);
        break;
    case AVRO_ENUM: {
        int index = avro_schema_enum_get_by_name(s, json_string_value(j));
        assert_true(index >= 0);
        assert_int_equal(avro_value_set_enum(v, index), 0);
        break;
    }
    case AVRO_UNION: {
        int which = 0;
        while (json_is_null(j) !=
               (avro_typeof(avro_schema_union_branch(s, which)) == AVRO_NULL))
            which++;
        avro_value_t branch;
        assert_int_equal(avro_value_set_branch(v, which, &branch), 0);
        set_avro(&branch, avro_schema_union_branch(s, which), j);
        break;
    }
    default:
        fail_msg("set_avro: unsupported type");
    }
}

/* @p body (Avro binary of @p schema_text) as a single-object message. */
static void frame_single_object(const char *schema_text, const void *body, size_t len,
                                bf_buf_t *out)
{
    char *pcf = NULL;
    char errstr[256];
    assert_int_equal(bf_schema_canonical_form(schema_text, &pcf, errstr, sizeof(errstr)),
                     BF_OK);
    uint64_t fp = bf_crc64_avro(pcf, strlen(pcf));
    free(pcf);
    unsigned char header[10] = {0xC3, 0x01};
    for (int i = 0; i < 8; i++)
        header[2 + i] = (unsigned char)(fp >> (8 * i));
    bf_buf_init(out, BUF_MAX);
    bf_buf_append(out, header, sizeof(header));
    bf_buf_append(out, body, len);
}

/* A single-object message of @p record written with @p schema_text. */
static void encode_with_writer(const char *schema_text, const json_t *record,
                               bf_buf_t *out)
{
    avro_schema_t schema;
    assert_int_equal(
        avro_schema_from_json_length(schema_text, strlen(schema_text), &schema), 0);
    avro_value_iface_t *cls = avro_generic_class_from_schema(schema);
    avro_value_t value;
    assert_int_equal(avro_generic_value_new(cls, &value), 0);
    set_avro(&value, schema, record);
    size_t size;
    assert_int_equal(avro_value_sizeof(&value, &size), 0);
    char *body = malloc(size);
    avro_writer_t w = avro_writer_memory(body, (int64_t)size);
    assert_int_equal(avro_value_write(w, &value), 0);
    frame_single_object(schema_text, body, size, out);
    avro_writer_free(w);
    free(body);
    avro_value_decref(&value);
    avro_value_iface_decref(cls);
    avro_schema_decref(schema);
}

/* The codec writes Avro binary itself; avro-c, given the same values
 * (@p reference: @p record with its defaults written in, or NULL for
 * @p record itself), must write the very same bytes. */
static void assert_same_bytes_as_avro_c(bf_codec_t *codec, bf_record_type_t type,
                                        const json_t *record, const json_t *reference)
{
    bf_buf_t ours, theirs;
    bf_buf_init(&ours, BUF_MAX);
    char errstr[256] = "";
    if (bf_codec_encode(codec, type, record, BF_FRAMING_SINGLE_OBJECT, &ours, errstr,
                        sizeof(errstr)) != BF_OK)
        fail_msg("encode: %s", errstr);
    encode_with_writer(bf_codec_schema_text(codec, type), reference ? reference : record,
                       &theirs);
    assert_int_equal(ours.len, theirs.len);
    assert_memory_equal(ours.data, theirs.data, ours.len);
    bf_buf_free(&ours);
    bf_buf_free(&theirs);
}

static void test_encoded_bytes_are_the_bytes_avro_c_writes(void **state)
{
    bf_codec_t *codec = *state;
    for (size_t r = 0; r < sizeof(samples) / sizeof(samples[0]); r++) {
        json_t *record = load(*samples[r].text);
        assert_same_bytes_as_avro_c(codec, samples[r].type, record, NULL);
        json_decref(record);
    }
    /* Zig-zag maps 63 and -64 to one byte, 64 and -65 to two; the ints of
     * a heartbeat take the int32 range, its longs the int64 one. */
    static const int64_t edges[] = {0,         1,         -1,        63,       -64,
                                    64,        -65,       8191,      8192,     INT32_MAX,
                                    INT32_MIN, INT64_MAX, INT64_MIN, 1LL << 35};
    static const double reals[] = {0.0, -0.0, 1e308, -2.5e-308, 0.1, 12.5};
    static const char *const ints[] = {"in_flight_reports", "in_flight_ai_calls",
                                       "assigned_partitions"};
    static const char *const longs[] = {"reports_consumed", "reports_validated",
                                        "rss_bytes", "sent_at"};
    for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
        json_t *hb = load(sample_heartbeat);
        int64_t as_int = edges[e] > INT32_MAX   ? INT32_MAX
                         : edges[e] < INT32_MIN ? INT32_MIN
                                                : edges[e];
        for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
            json_object_set_new(hb, ints[i], json_integer(as_int));
        for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
            json_object_set_new(hb, longs[i], json_integer(edges[e]));
        json_object_set_new(hb, "cpu_seconds",
                            json_real(reals[e % (sizeof(reals) / sizeof(reals[0]))]));
        json_object_set_new(hb, "paused", json_boolean(e % 2));
        assert_same_bytes_as_avro_c(codec, BF_RECORD_HEARTBEAT, hb, NULL);
        json_decref(hb);
    }
    /* Fields left out are written as their defaults (the first branch of a
     * union; a double's default given as the integer 0), and a duplicate's
     * empty arrays as the end block alone. avro-c gets the record with the
     * defaults the JSON framing writes in. */
    static const struct {
        bf_record_type_t type;
        const char *const *text;
        const char *drop[4];
    } partial[] = {
        {BF_RECORD_VALIDATION,
         &sample_validation,
         {"duplicate_of", "prompt_version", "cvss_rating", "severity"}},
        {BF_RECORD_HEARTBEAT, &sample_heartbeat, {"ai_limit_rpm"}},
        {BF_RECORD_REPORT, &sample_report, {"weakness", "cvss_vector"}},
    };
    for (size_t r = 0; r < sizeof(partial) / sizeof(partial[0]); r++) {
        json_t *record = load(*partial[r].text);
        size_t dropped = 0;
        for (; dropped < 4 && partial[r].drop[dropped]; dropped++)
            assert_int_equal(json_object_del(record, partial[r].drop[dropped]), 0);
        if (partial[r].type == BF_RECORD_VALIDATION) {
            json_object_set_new(record, "status", json_string("DUPLICATE"));
            json_array_clear(json_object_get(record, "reasons"));
            json_array_clear(json_object_get(record, "analyses"));
        }
        char *text = json_dumps(record, JSON_COMPACT);
        json_t *filled = round_trip(codec, partial[r].type, text, BF_FRAMING_JSON);
        free(text);
        assert_int_equal(json_object_size(filled), json_object_size(record) + dropped);
        assert_same_bytes_as_avro_c(codec, partial[r].type, record, filled);
        json_decref(filled);
        json_decref(record);
    }
}

/* report.avsc with @p edit applied to its fields: drop a field, add one
 * (at a position), or replace Severity's symbols. Caller frees. */
static char *report_schema_variant(const char *drop, const char *add_json, size_t add_at,
                                   const char *severity_symbols)
{
    json_t *schema = load(bf_schema_text("report"));
    json_t *fields = json_object_get(schema, "fields");
    for (size_t i = 0; drop && i < json_array_size(fields); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(fields, i), "name")),
                   drop) == 0)
            json_array_remove(fields, i);
    if (add_json)
        json_array_insert_new(fields, add_at, load(add_json));
    if (severity_symbols) {
        for (size_t i = 0; i < json_array_size(fields); i++) {
            json_t *f = json_array_get(fields, i);
            if (strcmp(json_string_value(json_object_get(f, "name")),
                       "claimed_severity") == 0)
                json_object_set_new(json_array_get(json_object_get(f, "type"), 1),
                                    "symbols", load(severity_symbols));
        }
    }
    char *text = json_dumps(schema, JSON_COMPACT);
    json_decref(schema);
    return text;
}

/* Writes @p record with @p schema_text and decodes it with the codec. */
static bf_err_t decode_from_writer(bf_codec_t *codec, const char *schema_text,
                                   const json_t *record, json_t **got, char *errstr,
                                   size_t errstr_size)
{
    bf_buf_t buf;
    encode_with_writer(schema_text, record, &buf);
    bf_err_t err =
        decode(codec, BF_RECORD_REPORT, buf.data, buf.len, got, errstr, errstr_size);
    bf_buf_free(&buf);
    return err;
}

static void add_writer(bf_codec_t *codec, const char *schema_text, int32_t id)
{
    char errstr[256] = "";
    bf_err_t err = bf_codec_add_writer_schema(codec, BF_RECORD_REPORT, schema_text, id,
                                              errstr, sizeof(errstr));
    if (err != BF_OK)
        fail_msg("add_writer_schema: %s (%s)", bf_err_str(err), errstr);
}

static void test_v1_writer_without_cvss_vector_resolves_with_the_default(void **state)
{
    bf_codec_t *codec = *state;
    char *v1 = report_schema_variant("cvss_vector", NULL, 0, NULL);
    json_t *record = load(sample_report);
    json_object_set_new(record, "cvss_vector", json_string("never written"));
    bf_buf_t buf;
    encode_with_writer(v1, record, &buf);

    json_t *got = NULL;
    char errstr[256];
    assert_int_equal(
        decode(codec, BF_RECORD_REPORT, buf.data, buf.len, &got, errstr, sizeof(errstr)),
        BF_ERR_UNKNOWN_SCHEMA);
    add_writer(codec, v1, 7);
    assert_int_equal(
        decode(codec, BF_RECORD_REPORT, buf.data, buf.len, &got, errstr, sizeof(errstr)),
        BF_OK);
    json_t *want = load(sample_report); /* cvss_vector: null, the default */
    assert_json_equal(got, want);
    json_decref(got);

    /* The same body under the Confluent id it was registered with. */
    bf_buf_t confluent;
    bf_buf_init(&confluent, BUF_MAX);
    bf_buf_append(&confluent, "\x00\x00\x00\x00\x07", 5);
    bf_buf_append(&confluent, buf.data + 10, buf.len - 10);
    assert_int_equal(decode(codec, BF_RECORD_REPORT, confluent.data, confluent.len, &got,
                            errstr, sizeof(errstr)),
                     BF_OK);
    assert_json_equal(got, want);
    json_decref(got);
    /* A truncated v1 message fails like any other. */
    assert_int_equal(decode(codec, BF_RECORD_REPORT, buf.data, buf.len - 1, &got, errstr,
                            sizeof(errstr)),
                     BF_ERR_PARSE);

    json_decref(want);
    bf_buf_free(&confluent);
    bf_buf_free(&buf);
    json_decref(record);
    free(v1);
}

static void test_newer_writer_with_an_extra_field_decodes_without_it(void **state)
{
    bf_codec_t *codec = *state;
    char *v3 = report_schema_variant(NULL,
                                     "{\"name\":\"triage_notes\",\"type\":\"string\","
                                     "\"doc\":\"added in a newer version\"}",
                                     3, NULL);
    json_t *record = load(sample_report);
    json_object_set_new(record, "triage_notes", json_string("seen before"));
    add_writer(codec, v3, -1);
    json_t *got = NULL;
    char errstr[256];
    assert_int_equal(decode_from_writer(codec, v3, record, &got, errstr, sizeof(errstr)),
                     BF_OK);
    json_t *want = load(sample_report);
    assert_json_equal(got, want);
    json_decref(want);
    json_decref(got);
    json_decref(record);
    free(v3);
}

/* avro-c passes enum values on by index; the codec maps them by symbol. */
static void test_writer_with_other_enum_symbol_order_maps_by_name(void **state)
{
    bf_codec_t *codec = *state;
    char *reordered = report_schema_variant(
        NULL, NULL, 0, "[\"CRITICAL\",\"HIGH\",\"MEDIUM\",\"LOW\",\"NONE\",\"INFO\"]");
    add_writer(codec, reordered, -1);
    static const struct {
        const char *symbol;
        bf_err_t err;
    } cases[] = {
        {"HIGH", BF_OK}, {"NONE", BF_OK}, {"CRITICAL", BF_OK}, {"INFO", BF_ERR_SCHEMA}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *record = load(sample_report);
        json_object_set_new(record, "claimed_severity", json_string(cases[i].symbol));
        json_t *got = NULL;
        char errstr[256];
        bf_err_t err =
            decode_from_writer(codec, reordered, record, &got, errstr, sizeof(errstr));
        if (err != cases[i].err)
            fail_msg("%s: %s (%s)", cases[i].symbol, bf_err_str(err), errstr);
        if (err == BF_OK)
            assert_string_equal(
                json_string_value(json_object_get(got, "claimed_severity")),
                cases[i].symbol);
        else
            assert_non_null(strstr(errstr, "INFO"));
        json_decref(got);
        json_decref(record);
    }
    free(reordered);
}

/* A union is resolved by branch type, not by branch number (Avro spec:
 * the first reader branch that matches the writer's branch). */
static void test_writer_union_branches_resolve_by_type(void **state)
{
    bf_codec_t *codec = *state;
    static const struct {
        const char *weakness_type;
        const char *value;
    } cases[] = {
        {"[\"string\",\"null\"]", "\"CWE-79\""},
        {"[\"string\",\"null\"]", "null"},
        {"\"string\"", "\"CWE-352\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char field[128];
        snprintf(field, sizeof(field), "{\"name\":\"weakness\",\"type\":%s}",
                 cases[i].weakness_type);
        char *variant = report_schema_variant("weakness", field, 6, NULL);
        add_writer(codec, variant, -1);
        json_t *record = load(sample_report);
        json_object_set_new(record, "weakness", load(cases[i].value));
        json_t *got = NULL;
        char errstr[256];
        bf_err_t err =
            decode_from_writer(codec, variant, record, &got, errstr, sizeof(errstr));
        if (err != BF_OK)
            fail_msg("case %zu: %s (%s)", i, bf_err_str(err), errstr);
        assert_json_equal(got, record);
        json_decref(got);
        json_decref(record);
        free(variant);
    }
}

/* A recursive writer schema (each report links the next) resolves onto
 * the reader, which ignores the link; nesting past the limit is refused
 * before any walker can run out of stack. */
static void test_recursive_writer_nesting_is_bounded(void **state)
{
    bf_codec_t *codec = *state;
    char *linked = report_schema_variant(
        NULL, "{\"name\":\"next\",\"type\":[\"null\",\"Report\"]}", 0, NULL);
    add_writer(codec, linked, -1);
    bf_buf_t plain;
    encode_text(codec, BF_RECORD_REPORT, sample_report, BF_FRAMING_SINGLE_OBJECT, &plain);
    static const struct {
        size_t links;
        bf_err_t err;
    } cases[] = {{0, BF_OK}, {3, BF_OK}, {200, BF_ERR_PARSE}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* Record = next, then the report's fields: a chain of n links is
         * n branch-1 indexes, a null, then n + 1 times the fields. */
        bf_buf_t body;
        bf_buf_init(&body, BUF_MAX);
        for (size_t k = 0; k < cases[i].links; k++)
            bf_buf_append(&body, "\x02", 1);
        bf_buf_append(&body, "\x00", 1);
        for (size_t k = 0; k <= cases[i].links; k++)
            bf_buf_append(&body, plain.data + 10, plain.len - 10);
        bf_buf_t msg;
        frame_single_object(linked, body.data, body.len, &msg);
        json_t *got = NULL;
        char errstr[256];
        bf_err_t err = decode(codec, BF_RECORD_REPORT, msg.data, msg.len, &got, errstr,
                              sizeof(errstr));
        if (err != cases[i].err)
            fail_msg("%zu links: %s (%s)", cases[i].links, bf_err_str(err), errstr);
        if (err == BF_OK) {
            json_t *want = load(sample_report);
            assert_json_equal(got, want);
            json_decref(want);
        } else {
            assert_non_null(strstr(errstr, "nested deeper"));
        }
        json_decref(got);
        bf_buf_free(&msg);
        bf_buf_free(&body);
    }
    bf_buf_free(&plain);
    free(linked);
}

static void test_unusable_writer_schemas_are_refused(void **state)
{
    bf_codec_t *codec = *state;
    char *no_title = report_schema_variant("title", NULL, 0, NULL);
    char *v1 = report_schema_variant("cvss_vector", NULL, 0, NULL);
    char *v1b = report_schema_variant("weakness", NULL, 0, NULL);
    /* report_id as an int: avro-c cannot resolve int to string. */
    json_t *schema = load(bf_schema_text("report"));
    json_object_set_new(json_array_get(json_object_get(schema, "fields"), 0), "type",
                        json_string("int"));
    char *int_id = json_dumps(schema, JSON_COMPACT);
    json_decref(schema);
    add_writer(codec, v1, 11);
    const struct {
        const char *what;
        const char *schema;
        int32_t id;
        bf_err_t err;
        const char *errstr_has;
    } cases[] = {
        {"not JSON", "{", -1, BF_ERR_PARSE, "not JSON"},
        {"not a record", "\"string\"", -1, BF_ERR_SCHEMA, "record"},
        {"not a schema", "{\"type\":\"record\"}", -1, BF_ERR_SCHEMA, "name"},
        {"lacks a field the reader needs", no_title, -1, BF_ERR_SCHEMA, "Report.title"},
        {"incompatible field type", int_id, -1, BF_ERR_SCHEMA, "resolve"},
        {"id already taken", v1b, 11, BF_ERR_STATE, "id 11"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char errstr[256] = "";
        bf_err_t err =
            bf_codec_add_writer_schema(codec, BF_RECORD_REPORT, cases[i].schema,
                                       cases[i].id, errstr, sizeof(errstr));
        if (err != cases[i].err || !strstr(errstr, cases[i].errstr_has))
            fail_msg("%s: %s (%s)", cases[i].what, bf_err_str(err), errstr);
    }
    /* Adding a known schema again only records its id. */
    add_writer(codec, v1, 11);
    add_writer(codec, bf_schema_text("report"), 12);
    free(int_id);
    free(no_title);
    free(v1);
    free(v1b);
}

static void test_framing_names_parse_both_ways(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int rc;
        bf_framing_t framing;
    } cases[] = {
        {"avro", 0, BF_FRAMING_SINGLE_OBJECT},
        {"single-object", 0, BF_FRAMING_SINGLE_OBJECT},
        {"confluent", 0, BF_FRAMING_CONFLUENT},
        {"json", 0, BF_FRAMING_JSON},
        {"JSON", -1, 0},
        {"", -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_framing_t f = (bf_framing_t)-1;
        assert_int_equal(bf_framing_parse(cases[i].name, &f), cases[i].rc);
        if (cases[i].rc == 0) {
            assert_int_equal(f, cases[i].framing);
            assert_int_equal(bf_framing_parse(bf_framing_name(f), &f), 0);
            assert_int_equal(f, cases[i].framing);
        }
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_record_round_trips_in_every_framing),
        T(test_validation_with_nested_analyses_round_trips),
        T(test_consecutive_decodes_do_not_share_state),
        T(test_encoded_bytes_are_the_bytes_avro_c_writes),
        T(test_single_object_header_is_magic_and_little_endian_fingerprint),
        T(test_confluent_header_is_zero_and_big_endian_id),
        T(test_confluent_without_schema_id_is_a_state_error),
        T(test_encode_past_the_buffer_maximum_is_too_large),
        T(test_bad_messages_give_the_right_error),
        T(test_every_truncation_of_an_avro_record_fails_cleanly),
        T(test_corrupt_avro_bytes_never_crash),
        T(test_out_of_range_union_and_enum_indexes_are_parse_errors),
        T(test_invalid_utf8_in_an_avro_string_is_a_utf8_error),
        T(test_nul_in_an_avro_string_is_refused),
        T(test_json_that_does_not_fit_the_schema_is_a_schema_error),
        T(test_a_record_that_is_not_an_object_is_a_schema_error),
        T(test_json_is_normalised_against_the_schema),
        T(test_a_missing_field_with_a_default_takes_the_default),
        T(test_v1_writer_without_cvss_vector_resolves_with_the_default),
        T(test_newer_writer_with_an_extra_field_decodes_without_it),
        T(test_writer_with_other_enum_symbol_order_maps_by_name),
        T(test_writer_union_branches_resolve_by_type),
        T(test_recursive_writer_nesting_is_bounded),
        T(test_unusable_writer_schemas_are_refused),
        T(test_framing_names_parse_both_ways),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
