/*
 * test_worker_cvss.c - what the worker does with a report's CVSS vector
 * (worker/result.c): the score, version and rating its result carries, the
 * reason when the claimed severity is another rating, and the severity
 * analysis checked against the vector (NEEDS_REVIEW two ratings apart).
 * The simulator answers every call the same (--answers fixed: severity
 * MEDIUM, scores 0.8), so the AI side of each case is known; the reports
 * go through `bountyfleet-worker --once`, the same verdict code as the
 * Kafka path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "support/stack.h"

static bf_stack_t stack;

static int setup(void **state)
{
    (void)state;
    static const char *const aisim[] = {"--answers", "fixed", "--latency-ms", "1", NULL};
    return bf_stack_start(&stack, 1, aisim);
}

static int teardown(void **state)
{
    (void)state;
    bf_stack_stop(&stack);
    return 0;
}

/* The result --once prints for a report with @p claimed and @p vector
 * (JSON text or "null" each). */
static json_t *once(const char *name, const char *claimed, const char *vector)
{
    char file[400], cmd[2048], bin[512];
    snprintf(file, sizeof(file), "%s/%s.json", stack.tmpdir, name);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fprintf(fp,
            "{\"report_id\":\"%s\",\"submitted_at\":\"2024-05-01T12:00:00Z\","
            "\"program\":\"acme\",\"reporter\":\"r\",\"title\":\"SSRF in the image "
            "proxy\",\"asset\":\"img.acme.example\",\"weakness\":\"CWE-918\","
            "\"claimed_severity\":%s,\"cvss_vector\":%s,\"description\":\"The url "
            "parameter fetches internal hosts.\",\"steps_to_reproduce\":\"1. GET "
            "/proxy?url=http://169.254.169.254/\",\"impact\":\"cloud metadata "
            "credentials\"}\n",
            name, claimed, vector);
    fclose(fp);
    snprintf(cmd, sizeof(cmd),
             "OPENAI_BASE_URL='%s' OPENAI_API_KEY=k OPENAI_MODEL=sim-1 "
             "KAFKA_BROKERS=127.0.0.1:1 REDIS_URL=redis://127.0.0.1:1 METRICS_ADDR=off "
             "'%s' --once '%s' 2>>'%s/once.log'",
             stack.ai_base_url, bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), file,
             stack.tmpdir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t jerr;
    json_t *res = json_loadf(p, JSON_DISABLE_EOF_CHECK, &jerr);
    pclose(p);
    if (!res)
        fail_msg("%s: --once printed no result (%s)", name, jerr.text);
    return res;
}

/* The reason that starts with @p token, or NULL. */
static const char *reason(const json_t *res, const char *token)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "reasons"), i, r)
    {
        if (strncmp(json_string_value(r), token, strlen(token)) == 0)
            return json_string_value(r);
    }
    return NULL;
}

static void expect_cvss(const json_t *res, double score, const char *version,
                        const char *rating)
{
    assert_float_equal(json_real_value(json_object_get(res, "cvss_score")), score, 1e-9);
    assert_string_equal(json_string_value(json_object_get(res, "cvss_version")), version);
    assert_string_equal(json_string_value(json_object_get(res, "cvss_rating")), rating);
}

static const char *status(const json_t *res)
{
    return json_string_value(json_object_get(res, "status"));
}

/* 9.8 Critical, claimed Critical; the analysis says Medium: two apart. */
static void test_an_ai_rating_two_from_the_vector_needs_review(void **state)
{
    (void)state;
    json_t *res =
        once("far", "\"CRITICAL\"", "\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"");
    expect_cvss(res, 9.8, "3.1", "CRITICAL");
    assert_null(reason(res, "claimed_severity_disagrees"));
    const char *why = reason(res, "severity_far_from_cvss");
    assert_non_null(why);
    assert_non_null(strstr(why, "MEDIUM"));
    assert_non_null(strstr(why, "9.8 (CRITICAL)"));
    assert_string_equal(status(res), "NEEDS_REVIEW");
    json_decref(res);
}

/* 6.5 Medium claimed Critical: the claim is named; the analysis agrees
 * with the vector, so the verdict stands. */
static void test_a_claimed_severity_the_vector_does_not_give_is_a_reason(void **state)
{
    (void)state;
    json_t *res =
        once("claim", "\"CRITICAL\"", "\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N\"");
    expect_cvss(res, 6.5, "3.1", "MEDIUM");
    const char *why = reason(res, "claimed_severity_disagrees");
    assert_non_null(why);
    assert_non_null(strstr(why, "claimed CRITICAL"));
    assert_non_null(strstr(why, "6.5 (MEDIUM)"));
    assert_null(reason(res, "severity_"));
    assert_string_equal(status(res), "VALID");
    json_decref(res);
}

/* 8.1 High: the analysis is one rating off, which is said, not acted on. */
static void test_an_ai_rating_one_off_is_only_a_reason(void **state)
{
    (void)state;
    json_t *res =
        once("near", "\"HIGH\"", "\"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N\"");
    expect_cvss(res, 8.1, "3.1", "HIGH");
    assert_null(reason(res, "claimed_severity_disagrees"));
    assert_non_null(reason(res, "severity_differs_from_cvss"));
    assert_string_equal(status(res), "VALID");
    json_decref(res);
}

/* v4.0: the CVSS-B score of the FIRST calculator (9.3 Critical). */
static void test_a_v4_vector_scores_by_its_macro_vectors(void **state)
{
    (void)state;
    json_t *res =
        once("v4", "\"HIGH\"",
             "\"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N\"");
    expect_cvss(res, 9.3, "4.0", "CRITICAL");
    assert_non_null(reason(res, "claimed_severity_disagrees"));
    assert_non_null(reason(res, "severity_far_from_cvss"));
    assert_string_equal(status(res), "NEEDS_REVIEW");
    json_decref(res);
}

/* A vector that is not one: a reason, never a score; no vector: nothing. */
static void test_a_bad_vector_is_a_reason_and_no_vector_is_nothing(void **state)
{
    (void)state;
    json_t *res = once("bad", "\"HIGH\"", "\"CVSS:3.1/AV:N/AC:L\"");
    assert_true(json_is_null(json_object_get(res, "cvss_score")));
    assert_true(json_is_null(json_object_get(res, "cvss_rating")));
    const char *why = reason(res, "cvss_vector_invalid");
    assert_non_null(why);
    assert_non_null(strstr(why, "missing"));
    assert_string_equal(status(res), "VALID");
    json_decref(res);

    res = once("none", "\"HIGH\"", "null");
    assert_true(json_is_null(json_object_get(res, "cvss_score")));
    assert_true(json_is_null(json_object_get(res, "cvss_version")));
    assert_null(reason(res, "cvss"));
    assert_null(reason(res, "claimed_severity"));
    assert_null(reason(res, "severity_"));
    json_decref(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_ai_rating_two_from_the_vector_needs_review),
        cmocka_unit_test(test_a_claimed_severity_the_vector_does_not_give_is_a_reason),
        cmocka_unit_test(test_an_ai_rating_one_off_is_only_a_reason),
        cmocka_unit_test(test_a_v4_vector_scores_by_its_macro_vectors),
        cmocka_unit_test(test_a_bad_vector_is_a_reason_and_no_vector_is_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
