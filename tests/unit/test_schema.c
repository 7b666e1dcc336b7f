/*
 * test_schema.c - Parsing Canonical Form, CRC-64-AVRO and the embedded
 * schemas.
 *
 * The first table is share/test/data/schema-tests.txt of Apache Avro: the
 * specification's own test cases, whose fingerprints the Java reference
 * implementation checks (they are Java's signed longs). The second holds
 * cases of ours (namespaces, nested and referenced named types, logical
 * types) whose expected fingerprints were computed independently with the
 * spec's algorithm in Python over the expected canonical form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/schema.h"
#include "libbf/schema_int.h"

typedef struct pcf_case_s {
    const char *input;
    const char *canonical;
    int has_fingerprint;
    uint64_t fingerprint;
} pcf_case_t;

/* Java's fingerprints are signed longs; ours are their two's complement. */
#define FP(x) 1, (uint64_t)INT64_C(x)
#define NO_FP 0, 0

static const pcf_case_t avro_spec_cases[] = {
    /* 000 */ {"\"null\"", "\"null\"", FP(7195948357588979594)},
    /* 001 */ {"{\"type\":\"null\"}", "\"null\"", NO_FP},
    /* 002 */ {"\"boolean\"", "\"boolean\"", FP(-6970731678124411036)},
    /* 003 */ {"{\"type\":\"boolean\"}", "\"boolean\"", NO_FP},
    /* 004 */ {"\"int\"", "\"int\"", FP(8247732601305521295)},
    /* 005 */ {"{\"type\":\"int\"}", "\"int\"", NO_FP},
    /* 006 */ {"\"long\"", "\"long\"", FP(-3434872931120570953)},
    /* 007 */ {"{\"type\":\"long\"}", "\"long\"", NO_FP},
    /* 008 */ {"\"float\"", "\"float\"", FP(5583340709985441680)},
    /* 009 */ {"{\"type\":\"float\"}", "\"float\"", NO_FP},
    /* 010 */ {"\"double\"", "\"double\"", FP(-8181574048448539266)},
    /* 011 */ {"{\"type\":\"double\"}", "\"double\"", NO_FP},
    /* 012 */ {"\"bytes\"", "\"bytes\"", FP(5746618253357095269)},
    /* 013 */ {"{\"type\":\"bytes\"}", "\"bytes\"", NO_FP},
    /* 014 */ {"\"string\"", "\"string\"", FP(-8142146995180207161)},
    /* 015 */ {"{\"type\":\"string\"}", "\"string\"", NO_FP},
    /* 016 */ {"[  ]", "[]", FP(-1241056759729112623)},
    /* 017 */ {"[ \"int\"  ]", "[\"int\"]", FP(-5232228896498058493)},
    /* 018 */
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]",
     FP(5392556393470105090)},
    /* 019 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", FP(-4824392279771201922)},
    /* 020 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", FP(5916914534497305771)},
    /* 021 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}",
     FP(-4616218487480524110)},
    /* 022 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", FP(-4824392279771201922)},
    /* 023 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", "
     "\"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", FP(-4824392279771201922)},
    /* 024 */
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
     "\"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", FP(-4824392279771201922)},
    /* 025 */
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], "
     "\"type\":\"record\", "
     "\"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":"
     "\"boolean\"}]}",
     FP(7843277075252814651)},
    /* 026 */
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
     "\"default\":\"true\"},\n"
     "            "
     "{\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n"
     "  \"type\":\"record\", \"name\":\"foo\"\n}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":"
     "\"boolean\"},"
     "{\"name\":\"f2\",\"type\":\"int\"}]}",
     FP(-4860222112080293046)},
    /* 027 */
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}",
     FP(-6342190197741309591)},
    /* 028 */
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo "
     "bar\", "
     "\"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
     FP(-4448647247586288245)},
    /* 029 */
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", FP(1756455273707447556)},
    /* 030 */
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo "
     "bar\", "
     "\"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", FP(-3064184465700546786)},
    /* 031 */
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", FP(-589620603366471059)},
    /* 032 */
    {"{ \"values\":\"string\", \"type\":\"map\"}",
     "{\"type\":\"map\",\"values\":\"string\"}", FP(-8732877298790414990)},
    /* 033 */
    {"  {\"name\":\"PigValue\",\"type\":\"record\",\n"
     "   \"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", \"long\", "
     "\"PigValue\"]}]}",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\","
     "\"type\":"
     "[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
     FP(-1759257747318642341)},
};

static const pcf_case_t our_cases[] = {
    /* Namespaces: a nested record inherits its parent's, an enum declares
     * its own, references by short name and by fullname, a fixed reused
     * through a map, a union with a named reference and a logical type,
     * and field attributes (default, aliases, order) that all go. */
    {"{\"type\":\"record\",\"name\":\"Outer\",\"namespace\":\"a.b\",\"doc\":\"d\","
     "\"fields\":["
     "{\"name\":\"inner\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"fields\":["
     "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"namespace\":"
     "\"c\","
     "\"symbols\":[\"X\",\"Y\"],\"doc\":\"k\"}},"
     "{\"name\":\"hash\",\"type\":{\"type\":\"fixed\",\"name\":\"Hash\",\"size\":16}}]}},"
     "{\"name\":\"kinds\",\"type\":{\"type\":\"array\",\"items\":\"c.Kind\"}},"
     "{\"name\":\"hashes\",\"type\":{\"type\":\"map\",\"values\":\"Hash\"}},"
     "{\"name\":\"maybe\",\"type\":[\"null\",\"Inner\",{\"type\":\"long\","
     "\"logicalType\":\"timestamp-millis\"}],\"default\":null},"
     "{\"name\":\"when\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-"
     "millis\"}},"
     "{\"name\":\"label\",\"type\":\"string\",\"default\":\"x\",\"aliases\":[\"l\"],"
     "\"order\":\"ignore\"}]}",
     "{\"name\":\"a.b.Outer\",\"type\":\"record\",\"fields\":[{\"name\":\"inner\","
     "\"type\":"
     "{\"name\":\"a.b.Inner\",\"type\":\"record\",\"fields\":[{\"name\":\"kind\","
     "\"type\":"
     "{\"name\":\"c.Kind\",\"type\":\"enum\",\"symbols\":[\"X\",\"Y\"]}},{\"name\":"
     "\"hash\","
     "\"type\":{\"name\":\"a.b.Hash\",\"type\":\"fixed\",\"size\":16}}]}},{\"name\":"
     "\"kinds\","
     "\"type\":{\"type\":\"array\",\"items\":\"c.Kind\"}},{\"name\":\"hashes\",\"type\":"
     "{\"type\":\"map\",\"values\":\"a.b.Hash\"}},{\"name\":\"maybe\",\"type\":[\"null\","
     "\"a.b.Inner\",\"long\"]},{\"name\":\"when\",\"type\":\"long\"},{\"name\":\"label\","
     "\"type\":\"string\"}]}",
     1, UINT64_C(0xf36c410cf9a797e8)},
    /* [STRINGS]: escapes become the characters; an empty namespace is the
     * null namespace. */
    {"{\"type\":\"enum\",\"name\":\"\\u0053uit\",\"namespace\":\"\",\"symbols\":["
     "\"\\u0041\","
     "\"B\"]}",
     "{\"name\":\"Suit\",\"type\":\"enum\",\"symbols\":[\"A\",\"B\"]}", 1,
     UINT64_C(0xea80e840048cc156)},
    /* [PRIMITIVES] with a logical type, and an array of them. */
    {"{\"type\":\"array\",\"items\":{\"type\":\"int\",\"logicalType\":\"date\"}}",
     "{\"type\":\"array\",\"items\":\"int\"}", NO_FP},
};

static void check_cases(const pcf_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char errstr[256] = "";
        char *pcf = NULL;
        bf_err_t err =
            bf_schema_canonical_form(cases[i].input, &pcf, errstr, sizeof(errstr));
        if (err != BF_OK)
            fail_msg("case %zu: %s", i, errstr);
        if (strcmp(pcf, cases[i].canonical) != 0)
            fail_msg("case %zu:\n got  %s\n want %s", i, pcf, cases[i].canonical);
        if (cases[i].has_fingerprint) {
            uint64_t fp = bf_crc64_avro(pcf, strlen(pcf));
            if (fp != cases[i].fingerprint)
                fail_msg("case %zu: fingerprint 0x%016llx, want 0x%016llx", i,
                         (unsigned long long)fp,
                         (unsigned long long)cases[i].fingerprint);
        }
        free(pcf);
    }
}

static void test_avro_spec_canonical_forms_and_fingerprints(void **state)
{
    (void)state;
    check_cases(avro_spec_cases, sizeof(avro_spec_cases) / sizeof(avro_spec_cases[0]));
}

static void test_namespaced_nested_types_canonical_forms(void **state)
{
    (void)state;
    check_cases(our_cases, sizeof(our_cases) / sizeof(our_cases[0]));
}

static void test_crc64_avro_known_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t fingerprint;
    } cases[] = {
        {"", UINT64_C(0xc15d213aa4d7a795)}, /* EMPTY: no bytes, no change */
        {"\"int\"", UINT64_C(0x7275d51a3f395c8f)},
        {"\"string\"", UINT64_C(0x8f014872634503c7)},
        {"\"null\"", UINT64_C(0x63dd24e7cc258f8a)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_true(bf_crc64_avro(cases[i].text, strlen(cases[i].text)) ==
                    cases[i].fingerprint);
}

static void test_malformed_schemas_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *input;
        bf_err_t err;
    } cases[] = {
        {"not json", BF_ERR_PARSE},
        {"{\"type\":\"record\",\"fields\":[]}", BF_ERR_SCHEMA}, /* no name */
        {"{\"name\":\"x\"}", BF_ERR_SCHEMA},                    /* no type */
        {"{\"type\":\"enum\",\"name\":\"E\"}", BF_ERR_SCHEMA},  /* no symbols */
        {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", BF_ERR_SCHEMA},
        {"{\"type\":\"array\"}", BF_ERR_SCHEMA}, /* no items */
        {"42", BF_ERR_SCHEMA},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char errstr[256] = "";
        char *pcf = (char *)"untouched";
        bf_err_t err =
            bf_schema_canonical_form(cases[i].input, &pcf, errstr, sizeof(errstr));
        if (err != cases[i].err)
            fail_msg("case %zu (%s): got %d, want %d", i, cases[i].input, err,
                     cases[i].err);
        assert_null(pcf);
        assert_true(errstr[0] != '\0');
    }
}

static void test_embedded_schemas_are_found_by_name(void **state)
{
    (void)state;
    static const char *const names[] = {"report", "validation", "heartbeat",
                                        "scaling_decision"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *text = bf_schema_text(names[i]);
        assert_non_null(text);
        assert_non_null(strstr(text, "\"bountyfleet.v1\""));
    }
    assert_null(bf_schema_text("nonexistent"));
    assert_null(bf_schema_text(NULL));
}

/* validation.avsc refers to bountyfleet.v1.Severity, which report.avsc
 * defines; loaded for the codec it must carry the definition itself. */
static void test_validation_schema_is_made_self_contained(void **state)
{
    (void)state;
    char errstr[256] = "";
    json_t *schema = NULL;
    assert_int_equal(
        bf_schema_load_embedded("validation", &schema, errstr, sizeof(errstr)), BF_OK);
    char *pcf = NULL;
    assert_int_equal(bf_schema_canonical_form_json(schema, &pcf, errstr, sizeof(errstr)),
                     BF_OK);
    assert_non_null(strstr(pcf, "{\"name\":\"severity\",\"type\":[\"null\",{\"name\":"
                                "\"bountyfleet.v1.Severity\",\"type\":\"enum\","
                                "\"symbols\":[\"NONE\",\"LOW\",\"MEDIUM\",\"HIGH\","
                                "\"CRITICAL\"]}]}"));
    bf_schema_tree_t *tree = bf_schema_tree_new(schema, errstr, sizeof(errstr));
    assert_non_null(tree);
    assert_non_null(bf_schema_tree_find(tree, "bountyfleet.v1.Severity"));
    bf_schema_tree_destroy(tree);
    free(pcf);
    json_decref(schema);
    assert_int_equal(bf_schema_load_embedded("nope", &schema, errstr, sizeof(errstr)),
                     BF_ERR_NOT_FOUND);
}

/* Fingerprints of our four schemas, from an independent implementation
 * (Python: python3-avro's canonical form, corrected to write a logical
 * type's primitive as a bare name as [PRIMITIVES] asks, then the spec's
 * CRC-64-AVRO). Producers in other languages compute the same numbers. */
static void test_record_schema_fingerprints_match_independent_values(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t fingerprint;
    } cases[] = {
        {"report", UINT64_C(0x80d5f24bfc1c600e)},
        {"validation", UINT64_C(0x1285d5c65cbe4f3f)},
        {"heartbeat",
         UINT64_C(0x03279f0ba4dc0bf9)}, /* v2: ai_limit_rpm, ai_limited_share */
        {"scaling_decision", UINT64_C(0x0ed6623e4c9b19b9)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char errstr[256] = "";
        json_t *schema = NULL;
        char *pcf = NULL;
        assert_int_equal(
            bf_schema_load_embedded(cases[i].name, &schema, errstr, sizeof(errstr)),
            BF_OK);
        assert_int_equal(
            bf_schema_canonical_form_json(schema, &pcf, errstr, sizeof(errstr)), BF_OK);
        uint64_t fp = bf_crc64_avro(pcf, strlen(pcf));
        if (fp != cases[i].fingerprint)
            fail_msg("%s: 0x%016llx, want 0x%016llx\n%s", cases[i].name,
                     (unsigned long long)fp, (unsigned long long)cases[i].fingerprint,
                     pcf);
        free(pcf);
        json_decref(schema);
    }
}

static void test_reader_projection_drops_fields_with_defaults_only(void **state)
{
    (void)state;
    char errstr[256] = "";
    json_t *reader = json_loads("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{"
                                "\"name\":\"a\",\"type\":\"int\"},"
                                "{\"name\":\"b\",\"type\":\"int\",\"default\":1},{"
                                "\"name\":\"c\",\"type\":\"int\"}]}",
                                0, NULL);
    json_t *writer_ok =
        json_loads("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                   "\"c\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}",
                   0, NULL);
    json_t *writer_bad = json_loads("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{"
                                    "\"name\":\"a\",\"type\":\"int\"}]}",
                                    0, NULL);
    bf_schema_tree_t *ok = bf_schema_tree_new(writer_ok, errstr, sizeof(errstr));
    bf_schema_tree_t *bad = bf_schema_tree_new(writer_bad, errstr, sizeof(errstr));
    assert_non_null(ok);
    assert_non_null(bad);
    json_t *view = NULL;
    assert_int_equal(bf_schema_project(reader, ok, &view, errstr, sizeof(errstr)), BF_OK);
    char *text = json_dumps(view, JSON_COMPACT);
    assert_string_equal(text,
                        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                        "\"type\":\"int\"},{\"name\":\"c\",\"type\":\"int\"}]}");
    free(text);
    json_decref(view);
    assert_int_equal(bf_schema_project(reader, bad, &view, errstr, sizeof(errstr)),
                     BF_ERR_SCHEMA);
    assert_non_null(strstr(errstr, "R.c"));
    bf_schema_tree_destroy(ok);
    bf_schema_tree_destroy(bad);
    json_decref(reader);
    json_decref(writer_ok);
    json_decref(writer_bad);
}

/* A record that contains itself on every path has no finite value; avro-c
 * recursed without end building one (fuzz_schema found it, seed
 * corpus/schema/regression-self-recursive-record). Recursion that can stop
 * (through a union with another branch, an array or a map) stays allowed. */
static void test_records_without_a_finite_value_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *schema;
        int ok;
    } cases[] = {
        /* the fuzzer's input: a field whose type is its own record */
        {"{\"type\":\"record\",\"name\":\"sTring\",\"fields\":[{\"name\":\"a\","
         "\"type\":\"sTring\"}]}",
         0},
        /* through a one-branch union */
        {"{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"n\",\"type\":["
         "\"L\"]}]}",
         0},
        /* mutual recursion of two records */
        {"{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"b\",\"type\":{"
         "\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"a\",\"type\":\"A\"}]"
         "}}]}",
         0},
        /* an inner record that contains itself, under a finite root */
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":["
         "\"null\",{"
         "\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"i\",\"type\":\"I\"}]"
         "}]}]}",
         0},
        /* a linked list: the null branch ends it */
        {"{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":"
         "\"int\"},"
         "{\"name\":\"n\",\"type\":[\"null\",\"L\"]}]}",
         1},
        /* a tree: an empty array ends it */
        {"{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"c\",\"type\":{"
         "\"type\":\"array\",\"items\":\"T\"}}]}",
         1},
        /* a map of itself */
        {"{\"type\":\"record\",\"name\":\"M\",\"fields\":[{\"name\":\"c\",\"type\":{"
         "\"type\":\"map\",\"values\":\"M\"}}]}",
         1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char errstr[256] = "";
        json_t *schema = json_loads(cases[i].schema, 0, NULL);
        assert_non_null(schema);
        bf_schema_tree_t *tree = bf_schema_tree_new(schema, errstr, sizeof(errstr));
        if (cases[i].ok && !tree)
            fail_msg("case %zu refused: %s", i, errstr);
        if (!cases[i].ok) {
            if (tree)
                fail_msg("case %zu accepted", i);
            assert_non_null(strstr(errstr, "has no finite value"));
        }
        bf_schema_tree_destroy(tree);
        json_decref(schema);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_spec_canonical_forms_and_fingerprints),
        cmocka_unit_test(test_namespaced_nested_types_canonical_forms),
        cmocka_unit_test(test_crc64_avro_known_values),
        cmocka_unit_test(test_malformed_schemas_are_refused),
        cmocka_unit_test(test_embedded_schemas_are_found_by_name),
        cmocka_unit_test(test_validation_schema_is_made_self_contained),
        cmocka_unit_test(test_record_schema_fingerprints_match_independent_values),
        cmocka_unit_test(test_reader_projection_drops_fields_with_defaults_only),
        cmocka_unit_test(test_records_without_a_finite_value_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
