/*
 * test_err.c - the one error enum's names (libbf/err.c). The machine
 * names are part of the log, dead-letter header and metric label
 * vocabulary, so every code has one, no two share one, and a code keeps
 * its name and its number forever (new codes go at the end).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/err.h"

/* Every code, by number, as the vocabulary has it. */
static const struct {
    bf_err_t err;
    int value;
    const char *name;
} vocabulary[] = {
    {BF_OK, 0, "ok"},
    {BF_ERR_INVALID_ARG, 1, "invalid_arg"},
    {BF_ERR_IO, 2, "io"},
    {BF_ERR_PARSE, 3, "parse"},
    {BF_ERR_SCHEMA, 4, "schema"},
    {BF_ERR_TOO_LARGE, 5, "too_large"},
    {BF_ERR_UTF8, 6, "utf8"},
    {BF_ERR_MISSING_FIELD, 7, "missing_field"},
    {BF_ERR_UNKNOWN_SCHEMA, 8, "unknown_schema"},
    {BF_ERR_KAFKA, 9, "kafka"},
    {BF_ERR_REDIS, 10, "redis"},
    {BF_ERR_HTTP, 11, "http"},
    {BF_ERR_TIMEOUT, 12, "timeout"},
    {BF_ERR_PROVIDER, 13, "provider"},
    {BF_ERR_CONFIG, 14, "config"},
    {BF_ERR_NOT_FOUND, 15, "not_found"},
    {BF_ERR_BAD_ANSWER, 16, "bad_answer"},
    {BF_ERR_STATE, 17, "state"},
    {BF_ERR_UNAVAILABLE, 18, "unavailable"},
    {BF_ERR_PENDING, 19, "pending"},
};
#define N_CODES (sizeof(vocabulary) / sizeof(vocabulary[0]))

static void test_codes_keep_their_numbers_and_names(void **unused)
{
    (void)unused;
    assert_int_equal(N_CODES, BF_ERR__COUNT); /* a new code is added here too */
    for (size_t i = 0; i < N_CODES; i++) {
        assert_int_equal(vocabulary[i].err, vocabulary[i].value);
        assert_string_equal(bf_err_name(vocabulary[i].err), vocabulary[i].name);
    }
}

static void test_every_code_has_a_distinct_name_and_text(void **unused)
{
    (void)unused;
    for (int i = 0; i < BF_ERR__COUNT; i++) {
        const char *name = bf_err_name((bf_err_t)i), *text = bf_err_str((bf_err_t)i);
        assert_non_null(name);
        assert_non_null(text);
        assert_string_not_equal(name, "unknown");
        assert_string_not_equal(text, "unknown error");
        for (int k = 0; k < i; k++) {
            assert_string_not_equal(name, bf_err_name((bf_err_t)k));
            assert_string_not_equal(text, bf_err_str((bf_err_t)k));
        }
    }
    assert_string_equal(bf_err_name(BF_ERR__COUNT), "unknown");
    assert_string_equal(bf_err_str((bf_err_t)-1), "unknown error");
}

static void test_seterr_formats_and_returns_the_code(void **unused)
{
    (void)unused;
    char errstr[16];
    assert_int_equal(bf_seterr(BF_ERR_PENDING, errstr, sizeof(errstr), "id %d", 7),
                     BF_ERR_PENDING);
    assert_string_equal(errstr, "id 7");
    /* Bounded, and NULL is allowed. */
    bf_seterr(BF_ERR_UNAVAILABLE, errstr, sizeof(errstr), "%s",
              "a reason longer than the buffer");
    assert_int_equal(strlen(errstr), sizeof(errstr) - 1);
    assert_int_equal(bf_seterr(BF_ERR_IO, NULL, 0, "x"), BF_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_keep_their_numbers_and_names),
        cmocka_unit_test(test_every_code_has_a_distinct_name_and_text),
        cmocka_unit_test(test_seterr_formats_and_returns_the_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
