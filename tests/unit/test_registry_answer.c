/*
 * test_registry_answer.c - libbf/registry_answer.c: what each Schema
 * Registry request's answer may say, as a table, with the inputs the
 * fuzzer once found (tests/fuzz/corpus/registry/regression-*), and error
 * bodies described in bounded, printable text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/err.h"
#include "libbf/registry_answer.h"

/* The registry's answers as data: what each request's body may say, and
 * the inputs the fuzzer found (tests/fuzz/corpus/registry/regression-*). */
static void test_registry_answers_table(void **unused)
{
    (void)unused;
    static const struct {
        bf_registry_call_t call;
        const char *body;
        bf_err_t err;
        int32_t id;
        const char *schema;
        size_t n_versions;
    } cases[] = {
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":7}", BF_OK, 7, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":2147483647}", BF_OK, INT32_MAX, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":2147483648}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":-1}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":\"7\"}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "<html>", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID, "{\"schema\":\"\\\"string\\\"\"}", BF_OK, 0,
         "\"string\"", 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID,
         "{\"schema\":\"\\\"string\\\"\",\"schemaType\":\"AVRO\"}", BF_OK, 0,
         "\"string\"", 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID, "{\"schema\":\"x\",\"schemaType\":\"PROTOBUF\"}",
         BF_ERR_SCHEMA, 0, NULL, 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID, "{\"schema\":{\"type\":\"string\"}}",
         BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID, "[]", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSIONS, "[1,2,3]", BF_OK, 0, NULL, 3},
        {BF_REGISTRY_CALL_VERSIONS, "[]", BF_OK, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSIONS, "[1,\"2\"]", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSIONS, "[1,-2]", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSIONS, "{\"versions\":[1]}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSION,
         "{\"subject\":\"s\",\"version\":1,\"id\":3,"
         "\"schema\":\"\\\"long\\\"\"}",
         BF_OK, 3, "\"long\"", 0},
        {BF_REGISTRY_CALL_VERSION, "{\"id\":3}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL__COUNT, "{}", BF_ERR_INVALID_ARG, 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_registry_answer_t a;
        char errstr[256] = "";
        bf_err_t err =
            bf_registry_answer_parse(cases[i].call, cases[i].body, strlen(cases[i].body),
                                     &a, errstr, sizeof(errstr));
        if (err != cases[i].err)
            fail_msg("case %zu (%s): %s, want %s (%s)", i, cases[i].body,
                     bf_err_name(err), bf_err_name(cases[i].err), errstr);
        assert_int_equal(a.id, cases[i].id);
        if (cases[i].schema)
            assert_string_equal(a.schema, cases[i].schema);
        else
            assert_null(a.schema);
        assert_int_equal(a.n_versions, cases[i].n_versions);
        if (err)
            assert_true(errstr[0] != '\0');
        bf_registry_answer_free(&a);
    }
    /* 100 versions: only the latest 64 are kept, in order. */
    char list[1024] = "[";
    for (int v = 1; v <= 100; v++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%d%s", v,
                 v < 100 ? "," : "]");
    bf_registry_answer_t a;
    char errstr[256];
    assert_int_equal(bf_registry_answer_parse(BF_REGISTRY_CALL_VERSIONS, list,
                                              strlen(list), &a, errstr, sizeof(errstr)),
                     BF_OK);
    assert_int_equal(a.n_versions, BF_REGISTRY_MAX_VERSIONS);
    assert_int_equal(a.version[0], 100 - BF_REGISTRY_MAX_VERSIONS + 1);
    assert_int_equal(a.version[BF_REGISTRY_MAX_VERSIONS - 1], 100);
    bf_registry_answer_free(&a);
}

static void test_registry_error_bodies_are_described_printably(void **unused)
{
    (void)unused;
    char out[320];
    const char *json = "{\"error_code\":40403,\"message\":\"Schema 7 not found\"}";
    bf_registry_error_describe(json, strlen(json), 404, out, sizeof(out));
    assert_string_equal(out, "Schema 7 not found (error_code 40403)");
    const char *msg = "{\"message\":\"overloaded\"}";
    bf_registry_error_describe(msg, strlen(msg), 503, out, sizeof(out));
    assert_string_equal(out, "overloaded (error_code 503)");
    /* Not NUL-terminated, with control bytes: bounded and printable. */
    const char page[] = {'<', 'h', '1', '>', '\n', 'B', 'a', 'd', '\0', '\x1b', 'x'};
    bf_registry_error_describe(page, sizeof(page), 502, out, sizeof(out));
    assert_string_equal(out, "HTTP 502: <h1> Bad  x");
    bf_registry_error_describe(NULL, 0, 500, out, sizeof(out));
    assert_string_equal(out, "HTTP 500: ");
    char tiny[6];
    bf_registry_error_describe(json, strlen(json), 404, tiny, sizeof(tiny));
    assert_string_equal(tiny, "Schem");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_answers_table),
        cmocka_unit_test(test_registry_error_bodies_are_described_printably),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
