/*
 * test_trace.c - the trace reader (libbf/trace.c) that the autoscaler's
 * offline subcommands and the producer's --replay share: steps, gaps, the
 * timestamp forms it takes and the rows it refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include "libbf/trace.h"

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/test_trace_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_trace_sums_into_steps_and_fills_gaps(void **unused)
{
    (void)unused;
    char *path = write_temp("timestamp,value\n"
                            "2024-01-01 00:00:00,1\n"
                            "2024-01-01 00:00:30,2\n"
                            "2024-01-01 00:01:00,3\n"
                            "2024-01-01 00:03:30,4\n");
    bf_trace_t t;
    char errstr[256];
    assert_int_equal(bf_trace_read(path, 60, &t, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(t.steps, 4);
    assert_true(t.step_s == 60 && t.interval_s == 30);
    assert_true(t.arrivals[0] == 3 && t.arrivals[1] == 3 && t.arrivals[2] == 0 &&
                t.arrivals[3] == 4);
    /* the step without a row is a gap, not a quiet minute */
    assert_true(t.observed[0] && t.observed[1] && !t.observed[2] && t.observed[3]);
    assert_int_equal(t.observed_steps, 3);
    assert_true(fabs(bf_trace_peak_rate(&t) - 4.0 / 60) < 1e-12);
    bf_trace_free(&t);
    unlink(path);
    free(path);
}

/* A recording that ends inside its last step (rows every 30 s, steps of
 * 60 s, the last row at 60 s: the recording stops at 90 s) holds half of
 * that step's arrivals: kept for a replay, but not an observed step. */
static void test_trace_last_step_the_recording_ends_inside_is_not_observed(void **unused)
{
    (void)unused;
    char *path = write_temp("timestamp,value\n"
                            "2024-01-01 00:00:00,2\n"
                            "2024-01-01 00:00:30,2\n"
                            "2024-01-01 00:01:00,2\n");
    bf_trace_t t;
    char errstr[256];
    assert_int_equal(bf_trace_read(path, 60, &t, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(t.steps, 2);
    assert_true(t.arrivals[0] == 4 && t.arrivals[1] == 2);
    assert_true(t.observed[0] && !t.observed[1]);
    assert_int_equal(t.observed_steps, 1);
    bf_trace_free(&t);
    /* one more row and the recording covers the whole last step */
    unlink(path);
    free(path);
    path = write_temp("timestamp,value\n"
                      "2024-01-01 00:00:00,2\n"
                      "2024-01-01 00:00:30,2\n"
                      "2024-01-01 00:01:00,2\n"
                      "2024-01-01 00:01:30,2\n");
    assert_int_equal(bf_trace_read(path, 60, &t, errstr, sizeof(errstr)), BF_OK);
    assert_true(t.steps == 2 && t.observed[1] && t.observed_steps == 2);
    bf_trace_free(&t);
    unlink(path);
    free(path);
}

static void test_trace_bad_rows_are_named(void **unused)
{
    (void)unused;
    static const struct {
        const char *text;
        bf_err_t err;
        const char *says;
    } cases[] = {
        {"timestamp,value\n2024-01-01 00:00:00,1\nnonsense\n", BF_ERR_PARSE, ":3:"},
        {"timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:00:01,-1\n", BF_ERR_PARSE,
         ":3:"},
        {"timestamp,value\n2024-01-01 00:00:01,1\n2024-01-01 00:00:00,1\n",
         BF_ERR_INVALID_ARG, "increase"},
        {"timestamp,value\n2024-01-01 00:00:00,1\n", BF_ERR_INVALID_ARG, "two rows"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_temp(cases[i].text);
        bf_trace_t t;
        char errstr[256];
        assert_int_equal(bf_trace_read(path, 1, &t, errstr, sizeof(errstr)),
                         cases[i].err);
        assert_non_null(strstr(errstr, cases[i].says));
        unlink(path);
        free(path);
    }
    bf_trace_t t;
    char errstr[256];
    assert_int_equal(
        bf_trace_read("/nonexistent/trace.csv", 1, &t, errstr, sizeof(errstr)),
        BF_ERR_IO);
}

/* Every timestamp form gives the same series: 2 rows a minute apart. */
static void test_trace_timestamp_forms_agree(void **unused)
{
    (void)unused;
    static const char *const texts[] = {
        "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n",
        "timestamp,value\n2024-01-01T00:00:00,1\n2024-01-01T00:01:00,2\n",
        "timestamp,value\n2024-01-01T00:00:00Z,1\n2024-01-01T01:01:00+01:00,2\n",
        "timestamp,value\n2024-01-01 00:00:00.000,1\n2024-01-01 00:01:00.000,2\n",
        "# a comment, then no header\n1704067200,1\n\n1704067260,2\n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char *path = write_temp(texts[i]);
        bf_trace_t t;
        char errstr[256] = "";
        if (bf_trace_read(path, 0, &t, errstr, sizeof(errstr)) != BF_OK)
            fail_msg("form %zu: %s", i, errstr);
        assert_int_equal(t.steps, 2);
        assert_true(t.start == 1704067200.0 && t.step_s == 60);
        assert_true(t.arrivals[0] == 1 && t.arrivals[1] == 2);
        assert_int_equal(t.rows, 2);
        bf_trace_free(&t);
        unlink(path);
        free(path);
    }
}

/* Values beyond what anyone records (or that do not round to an arrival
 * count) are refused rather than replayed as billions of reports. */
static void test_trace_refuses_values_out_of_range(void **unused)
{
    (void)unused;
    static const char *const texts[] = {
        "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2e9\n",
        "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,inf\n",
        "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,nan\n",
        "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,\n",
        "timestamp,value\n2024-01-01 00:00:00,1\n2024-13-01 00:01:00,1\n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char *path = write_temp(texts[i]);
        bf_trace_t t;
        char errstr[256] = "";
        assert_int_equal(bf_trace_read(path, 0, &t, errstr, sizeof(errstr)),
                         BF_ERR_PARSE);
        if (!strstr(errstr, ":3:"))
            fail_msg("case %zu: '%s' does not name line 3", i, errstr);
        unlink(path);
        free(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_sums_into_steps_and_fills_gaps),
        cmocka_unit_test(test_trace_last_step_the_recording_ends_inside_is_not_observed),
        cmocka_unit_test(test_trace_bad_rows_are_named),
        cmocka_unit_test(test_trace_timestamp_forms_agree),
        cmocka_unit_test(test_trace_refuses_values_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
