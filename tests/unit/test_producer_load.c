/*
 * test_producer_load.c - the producer's load generators: trace replay
 * schedules (producer/replay.c on libbf/trace.c) and the synthetic report generator
 * (producer/synthetic.c). Traces and bad rows are data; the generator is
 * checked for determinism, its ratios and the content of each kind.
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
#include <jansson.h>

#include "libbf/mem.h"
#include "libbf/report.h"
#include "producer/synthetic.h"
#include "producer/replay.h"

#define CORPUS BF_SOURCE_DIR "/ops/demo-data/sample-reports.jsonl"

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/bf-test-trace-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_trace_spreads_each_interval_and_keeps_gaps(void **state)
{
    (void)state;
    /* 2 arrivals in [0,10), none in [10,20), 4 in [20,30) (the last row's
     * interval is as long as the one before), at 10x. */
    char *path = write_temp("timestamp,value\n"
                            "2024-01-01 00:00:00,2\n"
                            "2024-01-01 00:00:10,0\n"
                            "2024-01-01 00:00:20,4.0\n");
    bf_replay_t *t = NULL;
    char errstr[256] = "";
    assert_int_equal(bf_replay_load(path, 10, &t, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(bf_replay_total(t), 6);
    const double want[] = {0.0, 0.5, 2.0, 2.25, 2.5, 2.75};
    double at;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(bf_replay_next(t, &at), 1);
        assert_float_equal(at, want[i], 1e-9);
    }
    assert_int_equal(bf_replay_next(t, &at), 0);
    bf_replay_destroy(t);
    unlink(path);
    free(path);
}

/* A gap in the recording (no rows for a while) is silence, not a slow
 * trickle of the row before it; fractional counts keep their sum. */
static void test_trace_gap_is_silence(void **state)
{
    (void)state;
    char *path = write_temp("timestamp,value\n"
                            "2024-01-01 00:00:00,1.5\n"
                            "2024-01-01 00:00:10,1.5\n"
                            "2024-01-01 00:00:40,1\n");
    bf_replay_t *t = NULL;
    char errstr[256] = "";
    assert_int_equal(bf_replay_load(path, 1, &t, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(bf_replay_total(t), 4);
    const double want[] = {0.0, 5.0, 10.0, 40.0}; /* 2 (1.5 rounded), 1, 1 */
    double at;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(bf_replay_next(t, &at), 1);
        assert_float_equal(at, want[i], 1e-9);
    }
    assert_int_equal(bf_replay_next(t, &at), 0);
    bf_replay_destroy(t);
    unlink(path);
    free(path);
}

static void test_bad_traces_name_file_and_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bf_err_t err;
        const char *line; /* ":N:" in the message, or NULL */
    } cases[] = {
        {"timestamp,value\n2024-01-01 00:00:00,1\nnot a time,2\n", BF_ERR_PARSE, ":3:"},
        {"timestamp,value\n2024-01-01 00:00:00,-1\n", BF_ERR_PARSE, ":2:"},
        {"timestamp,value\n2024-01-01 00:00:00,many\n", BF_ERR_PARSE, ":2:"},
        {"timestamp,value\n2024-01-01 00:00:00\n", BF_ERR_PARSE, ":2:"},
        {"timestamp,value\n2024-01-01 00:00:10,1\n2024-01-01 00:00:00,1\n",
         BF_ERR_INVALID_ARG, ":3:"},
        {"timestamp,value\n", BF_ERR_INVALID_ARG, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_temp(cases[i].text);
        bf_replay_t *t = NULL;
        char errstr[512] = "";
        assert_int_equal(bf_replay_load(path, 1, &t, errstr, sizeof(errstr)),
                         cases[i].err);
        assert_null(t);
        assert_non_null(strstr(errstr, path));
        if (cases[i].line && !strstr(errstr, cases[i].line))
            fail_msg("case %zu: '%s' does not name line %s", i, errstr, cases[i].line);
        unlink(path);
        free(path);
    }
    bf_replay_t *t = NULL;
    char errstr[256];
    assert_int_equal(bf_replay_load("/nonexistent.csv", 1, &t, errstr, sizeof(errstr)),
                     BF_ERR_IO);
    assert_int_equal(bf_replay_load("/nonexistent.csv", 0, &t, errstr, sizeof(errstr)),
                     BF_ERR_INVALID_ARG);
}

static bf_synth_t *synth(double dup, double near, uint64_t seed)
{
    char errstr[256] = "";
    bf_synth_conf_t c = {.corpus_path = CORPUS,
                         .dup_ratio = dup,
                         .near_dup_ratio = near,
                         .seed = seed,
                         .id_prefix = "t"};
    bf_synth_t *s = bf_synth_new(&c, errstr, sizeof(errstr));
    if (!s)
        fail_msg("bf_synth_new: %s", errstr);
    return s;
}

static void test_same_seed_gives_the_same_reports(void **state)
{
    (void)state;
    bf_synth_t *a = synth(0.2, 0.2, 42), *b = synth(0.2, 0.2, 42);
    for (int i = 0; i < 100; i++) {
        json_t *x = bf_synth_next(a, NULL), *y = bf_synth_next(b, NULL);
        json_object_del(x, "submitted_at");
        json_object_del(y, "submitted_at");
        assert_true(json_equal(x, y));
        json_decref(x);
        json_decref(y);
    }
    bf_synth_destroy(a);
    bf_synth_destroy(b);
}

static const char *field(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static void test_every_kind_is_valid_and_has_the_right_content(void **state)
{
    (void)state;
    bf_synth_t *s = synth(0.25, 0.25, 7);
    json_t *by_content = json_object(); /* title|asset|description -> report_id */
    int kinds[3] = {0};
    for (int i = 0; i < 2000; i++) {
        bf_synth_kind_t kind;
        json_t *r = bf_synth_next(s, &kind);
        kinds[kind]++;
        bf_report_t *report = NULL;
        char errstr[256];
        if (bf_report_from_json(r, &report, errstr, sizeof(errstr)) != BF_OK)
            fail_msg("report %d (kind %d) is invalid: %s", i, kind, errstr);
        bf_report_destroy(report);
        char *key = bf_asprintf("%s|%s|%s", field(r, "title"), field(r, "asset"),
                                field(r, "description"));
        int seen = json_object_get(by_content, key) != NULL;
        /* An exact duplicate repeats content; nothing else does. */
        if (seen != (kind == BF_SYNTH_DUPLICATE))
            fail_msg("report %d (kind %d): content seen before: %d", i, kind, seen);
        json_object_set_new(by_content, key, json_string(field(r, "report_id")));
        free(key);
        json_decref(r);
    }
    assert_in_range(kinds[BF_SYNTH_DUPLICATE], 400, 600);
    assert_in_range(kinds[BF_SYNTH_NEAR_DUPLICATE], 400, 600);
    json_decref(by_content);
    bf_synth_destroy(s);
}

static void test_ratios_out_of_range_and_an_empty_corpus_are_refused(void **state)
{
    (void)state;
    char errstr[256] = "";
    bf_synth_conf_t c = {.corpus_path = CORPUS, .dup_ratio = 0.6, .near_dup_ratio = 0.6};
    assert_null(bf_synth_new(&c, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "add up to at most 1"));
    char *empty = write_temp("{\"not\":\"a report\"}\n");
    c = (bf_synth_conf_t){.corpus_path = empty};
    assert_null(bf_synth_new(&c, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "no valid report"));
    unlink(empty);
    free(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_spreads_each_interval_and_keeps_gaps),
        cmocka_unit_test(test_trace_gap_is_silence),
        cmocka_unit_test(test_bad_traces_name_file_and_line),
        cmocka_unit_test(test_same_seed_gives_the_same_reports),
        cmocka_unit_test(test_every_kind_is_valid_and_has_the_right_content),
        cmocka_unit_test(test_ratios_out_of_range_and_an_empty_corpus_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
