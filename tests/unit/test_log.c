/*
 * test_log.c - structured logging (libbf/log.c): one JSON object per
 * line on stderr with ts, level, component and event first, then the
 * fields of the BF_L* macros with their JSON types; strings escaped so
 * that every line stays valid JSON whatever they hold (quotes, newlines,
 * control characters, invalid UTF-8, values longer than a line); the
 * level threshold, checked before any argument is evaluated; the level
 * names as the --log-level setting of config.h; and whole lines from
 * several threads logging at once.
 *
 * Every test catches stderr in a temp file (support/capture.h) and parses
 * each line it produced with jansson, which refuses invalid UTF-8 too.
 */
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "libbf/config.h"
#include "libbf/log.h"
#include "support/capture.h"

/* Largest line log.c writes (its buffer). */
#define LINE_BYTES 4096

static bf_test_capture_t capture;

static int setup(void **state)
{
    (void)state;
    bf_log_level_set(BF_LOG_DEBUG);
    return bf_test_capture_start(&capture);
}

/* A test collects every line it logs (logged()); anything left over was
 * written after the last collection, cmocka's failure message among it. */
static int teardown(void **state)
{
    (void)state;
    char *left = bf_test_capture_text(&capture);
    bf_test_capture_stop(&capture, left[0] != '\0');
    free(left);
    bf_log_level_set(BF_LOG_INFO);
    return 0;
}

/* What was logged since the last call (the capture is emptied): every
 * line must be a JSON object of at most LINE_BYTES; returns them in an
 * array. */
static json_t *logged(void)
{
    fflush(stderr);
    char *text = bf_test_capture_text(&capture);
    size_t len = strlen(text), not_json = 0;
    json_t *lines = bf_test_log_lines(text, NULL, &not_json);
    if (len && text[len - 1] != '\n')
        fail_msg("output does not end with a newline: %s", text);
    for (const char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1)
        if ((size_t)(nl - p + 1) > LINE_BYTES)
            fail_msg("a line of %zu bytes", (size_t)(nl - p + 1));
    if (not_json)
        fail_msg("%zu line(s) are not JSON objects:\n%s", not_json, text);
    free(text);
    bf_test_capture_clear(&capture);
    return lines;
}

/* The one line logged since the last call. */
static json_t *one_line(void)
{
    json_t *lines = logged();
    if (json_array_size(lines) != 1)
        fail_msg("%zu lines, want 1", json_array_size(lines));
    json_t *o = json_incref(json_array_get(lines, 0));
    json_decref(lines);
    return o;
}

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        fail_msg("no string \"%s\"", key);
    return s;
}

/* ---- the line ------------------------------------------------------------ */

static void test_line_is_a_json_object_with_typed_fields(void **state)
{
    (void)state;
    time_t before = time(NULL);
    bf_log(BF_LOG_INFO, "worker", "partition_assigned", BF_LSTR("topic", "reports"),
           BF_LINT("partition", -42), BF_LINT("lowest", INT64_MIN),
           BF_LINT("highest", INT64_MAX), BF_LDBL("ratio", 1.5), BF_LBOOL("paused", 7),
           BF_LBOOL("ready", 0), BF_LSTR("missing", NULL));
    time_t after = time(NULL);
    json_t *o = one_line();

    /* The keys in the order written: the four of every line, then ours. */
    static const char *const keys[] = {"ts",    "level",     "component", "event",
                                       "topic", "partition", "lowest",    "highest",
                                       "ratio", "paused",    "ready",     "missing"};
    assert_int_equal(json_object_size(o), sizeof(keys) / sizeof(keys[0]));
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        assert_string_equal(key, keys[i]);
        i++;
    }
    assert_string_equal(str_of(o, "level"), "info");
    assert_string_equal(str_of(o, "component"), "worker");
    assert_string_equal(str_of(o, "event"), "partition_assigned");
    assert_string_equal(str_of(o, "topic"), "reports");
    assert_true(json_is_integer(json_object_get(o, "partition")));
    assert_int_equal(json_integer_value(json_object_get(o, "partition")), -42);
    assert_true(json_integer_value(json_object_get(o, "lowest")) == INT64_MIN);
    assert_true(json_integer_value(json_object_get(o, "highest")) == INT64_MAX);
    assert_true(json_is_real(json_object_get(o, "ratio")));
    assert_true(json_real_value(json_object_get(o, "ratio")) == 1.5);
    assert_true(json_is_true(json_object_get(o, "paused")));
    assert_true(json_is_false(json_object_get(o, "ready")));
    assert_true(json_is_null(json_object_get(o, "missing")));

    /* ts: UTC with milliseconds, 2026-01-02T03:04:05.678Z, and now. */
    const char *ts = str_of(o, "ts");
    struct tm tm = {0};
    const char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    assert_true(strlen(rest) == 5 && rest[0] == '.' && rest[4] == 'Z');
    for (int d = 1; d <= 3; d++)
        assert_true(rest[d] >= '0' && rest[d] <= '9');
    time_t when = timegm(&tm);
    assert_true(when >= before && when <= after);
    json_decref(o);
}

static void test_line_without_fields_has_the_four_keys(void **state)
{
    (void)state;
    bf_log(BF_LOG_WARN, "autoscaler", "stopped");
    json_t *o = one_line();
    assert_int_equal(json_object_size(o), 4);
    assert_string_equal(str_of(o, "level"), "warn");
    assert_string_equal(str_of(o, "event"), "stopped");
    json_decref(o);
}

static void test_each_level_has_its_name(void **state)
{
    (void)state;
    static const struct {
        bf_log_level_t level;
        const char *name;
    } rows[] = {{BF_LOG_FATAL, "fatal"}, {BF_LOG_ERROR, "error"},
                {BF_LOG_WARN, "warn"},   {BF_LOG_INFO, "info"},
                {BF_LOG_DEBUG, "debug"}, {(bf_log_level_t)9, "unknown"}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        bf_log_emit(rows[i].level, "c", "e", (const bf_log_field_t[]){BF_LEND});
        json_t *o = one_line();
        assert_string_equal(str_of(o, "level"), rows[i].name);
        json_decref(o);
    }
}

/* JSON has no NaN or infinity: those are null; every finite double is a
 * number, the largest ones too. */
static void test_doubles_are_numbers_or_null(void **state)
{
    (void)state;
    static const struct {
        double d;
        bool is_null;
    } rows[] = {{0.0, false},     {-0.0, false},    {0.25, false},
                {-1e-300, false}, {1.5e308, false}, {-1.7976931348623157e308, false},
                {NAN, true},      {INFINITY, true}, {-INFINITY, true}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        bf_log(BF_LOG_INFO, "c", "e", BF_LDBL("d", rows[i].d));
        json_t *o = one_line();
        json_t *v = json_object_get(o, "d");
        if (rows[i].is_null) {
            assert_true(json_is_null(v));
        } else {
            if (!json_is_number(v))
                fail_msg("row %zu: %g is not a number in the line", i, rows[i].d);
            double got = json_number_value(v), want = rows[i].d;
            /* %.6g: six significant digits */
            assert_true(got == want || fabs(got - want) <= fabs(want) * 1e-5);
        }
        json_decref(o);
    }
}

/* ---- escaping -------------------------------------------------------------- */

/* A byte that is not part of well-formed UTF-8 (RFC 3629) becomes U+FFFD,
 * one per byte; well-formed text is kept as it is. */
#define FFFD "\xef\xbf\xbd"

static const struct {
    const char *what, *in, *want;
} escapes[] = {
    {"quotes", "say \"hi\"", "say \"hi\""},
    {"backslash", "C:\\dir\\", "C:\\dir\\"},
    {"newline", "line 1\nline 2\n", "line 1\nline 2\n"},
    {"carriage return and tab", "a\r\tb", "a\r\tb"},
    {"control characters", "\x01\x02\x1b[31m\x1f\x7f", "\x01\x02\x1b[31m\x1f\x7f"},
    {"a JSON-looking value", "\",\"level\":\"fatal", "\",\"level\":\"fatal"},
    {"two-byte UTF-8", "caf\xc3\xa9", "caf\xc3\xa9"},
    {"three-byte UTF-8", "\xe2\x82\xac 5", "\xe2\x82\xac 5"},
    {"four-byte UTF-8", "\xf0\x9f\x90\x9b bug", "\xf0\x9f\x90\x9b bug"},
    {"U+2028 (a line separator in JavaScript)", "a\xe2\x80\xa8z", "a\xe2\x80\xa8z"},
    {"a lone 0xff",
     "a\xff"
     "b",
     "a" FFFD "b"},
    {"a lone continuation byte", "\x80x", FFFD "x"},
    {"a lead byte without its continuation", "\xc3(", FFFD "("},
    {"a sequence cut by the end", "ab\xe2\x82", "ab" FFFD FFFD},
    {"an overlong '/'", "\xc0\xaf", FFFD FFFD},
    {"an overlong three-byte form", "\xe0\x80\xaf", FFFD FFFD FFFD},
    {"a UTF-16 surrogate", "\xed\xa0\x80", FFFD FFFD FFFD},
    {"above U+10FFFF", "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD},
    {"Latin-1 text", "na\xefve r\xe9sum\xe9", "na" FFFD "ve r" FFFD "sum" FFFD},
};

static void test_string_values_are_escaped_to_stay_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
        bf_log(BF_LOG_INFO, "c", "e", BF_LSTR("value", escapes[i].in));
        json_t *lines = logged(); /* fails on a line that is not JSON */
        if (json_array_size(lines) != 1)
            fail_msg("%s: %zu lines, want 1", escapes[i].what, json_array_size(lines));
        const char *got = str_of(json_array_get(lines, 0), "value");
        if (strcmp(got, escapes[i].want) != 0)
            fail_msg("%s: logged as \"%s\"", escapes[i].what, got);
        json_decref(lines);
    }
}

/* Keys, components and events are escaped like values. */
static void test_keys_components_and_events_are_escaped(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
        bf_log(BF_LOG_INFO, escapes[i].in, escapes[i].in, BF_LINT(escapes[i].in, 1));
        json_t *o = one_line();
        assert_string_equal(str_of(o, "component"), escapes[i].want);
        assert_string_equal(str_of(o, "event"), escapes[i].want);
        if (json_integer_value(json_object_get(o, escapes[i].want)) != 1)
            fail_msg("%s: the key is not there as \"%s\"", escapes[i].what,
                     escapes[i].want);
        json_decref(o);
    }
}

/* ---- lines longer than the buffer ------------------------------------------ */

static char *repeat(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

/* A value that does not fit is cut after a whole character, escaped,
 * and marked; the line says it lost something. */
static void test_a_long_value_is_cut_and_the_line_stays_json(void **state)
{
    (void)state;
    static const struct {
        const char *unit, *decoded;
        size_t escaped; /* bytes of one unit in the line */
    } rows[] = {
        {"a", "a", 1},
        {"\xc3\xa9", "\xc3\xa9", 2},
        {"\xf0\x9f\x90\x9b", "\xf0\x9f\x90\x9b", 4},
        {"\"", "\"", 2},     /* \" */
        {"\x01", "\x01", 6}, /* \u0001 */
        {"\xff", FFFD, 6},   /* \ufffd */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *value = repeat(rows[i].unit, 5000);
        bf_log(BF_LOG_INFO, "c", "e", BF_LSTR("value", value));
        free(value);
        json_t *o = one_line();
        const char *got = str_of(o, "value");
        size_t len = strlen(got), unit = strlen(rows[i].decoded);
        assert_true(len > 3 && strcmp(got + len - 3, "...") == 0);
        /* whole characters, and most of the line used */
        assert_true((len - 3) % unit == 0 && (len - 3) / unit * rows[i].escaped > 3500);
        for (size_t at = 0; at + 3 < len; at += unit)
            assert_memory_equal(got + at, rows[i].decoded, unit);
        assert_true(json_is_true(json_object_get(o, "truncated")));
        json_decref(o);
    }
}

/* Fields after a value that filled the line are left out whole: never a
 * key without its value, never half a number. */
static void test_fields_that_do_not_fit_are_left_out_whole(void **state)
{
    (void)state;
    for (size_t fill = 3900; fill < 4100; fill += 7) {
        char *value = repeat("v", fill);
        bf_log(BF_LOG_INFO, "c", "e", BF_LSTR("first", value), BF_LINT("count", 1234567),
               BF_LSTR("name", "x"), BF_LBOOL("ok", 1), BF_LDBL("ratio", 0.5));
        free(value);
        json_t *o = one_line();
        assert_string_equal(str_of(o, "event"), "e");
        /* what is there is whole */
        json_t *count = json_object_get(o, "count");
        assert_true(!count || json_integer_value(count) == 1234567);
        json_t *name = json_object_get(o, "name");
        assert_true(!name || strcmp(json_string_value(name), "x") == 0);
        json_decref(o);
    }
    /* Many small fields: a prefix of them, in order, then the mark. */
    bf_log_field_t fields[1001];
    char keys[1000][8];
    for (int i = 0; i < 1000; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        fields[i] = BF_LINT(keys[i], i);
    }
    fields[1000] = BF_LEND;
    bf_log_emit(BF_LOG_INFO, "c", "many_fields", fields);
    json_t *o = one_line();
    size_t n = json_object_size(o) - 5; /* the four, and "truncated" */
    assert_true(n > 100 && n < 1000);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_object_get(o, keys[i])), (json_int_t)i);
    assert_true(json_is_true(json_object_get(o, "truncated")));
    json_decref(o);
}

/* A long component, event or key can never push the event out. */
static void test_long_names_are_cut_and_the_event_stays(void **state)
{
    (void)state;
    char *name = repeat("n", 5000);
    bf_log(BF_LOG_INFO, name, name, BF_LINT(name, 7), BF_LSTR("after", "kept"));
    json_t *o = one_line();
    const char *component = str_of(o, "component"), *event = str_of(o, "event");
    assert_true(strlen(component) < 300 && strncmp(component, "nnnn", 4) == 0);
    assert_true(strlen(event) < 300 && strncmp(event, "nnnn", 4) == 0);
    assert_string_equal(str_of(o, "after"), "kept");
    assert_true(json_is_true(json_object_get(o, "truncated")));
    json_decref(o);
    free(name);
}

/* ---- the threshold --------------------------------------------------------- */

static void test_lines_above_the_threshold_are_dropped(void **state)
{
    (void)state;
    static const bf_log_level_t all[] = {BF_LOG_FATAL, BF_LOG_ERROR, BF_LOG_WARN,
                                         BF_LOG_INFO, BF_LOG_DEBUG};
    static const char *const names[] = {"fatal", "error", "warn", "info", "debug"};
    for (size_t t = 0; t < 5; t++) {
        bf_log_level_set(all[t]);
        assert_int_equal(bf_log_level_get(), all[t]);
        for (size_t l = 0; l < 5; l++)
            bf_log(all[l], "c", "e", BF_LINT("n", l));
        json_t *lines = logged();
        /* exactly the levels at or below the threshold, in order */
        assert_int_equal(json_array_size(lines), t + 1);
        for (size_t i = 0; i <= t; i++) {
            json_t *o = json_array_get(lines, i);
            assert_int_equal(json_integer_value(json_object_get(o, "n")), (json_int_t)i);
            assert_string_equal(str_of(o, "level"), names[i]);
        }
        json_decref(lines);
    }
}

static int evaluated;

static int64_t costly(void)
{
    return ++evaluated;
}

/* A line above the threshold costs a comparison: its fields are not even
 * evaluated. */
static void test_fields_are_not_evaluated_above_the_threshold(void **state)
{
    (void)state;
    evaluated = 0;
    bf_log_level_set(BF_LOG_INFO);
    bf_log(BF_LOG_DEBUG, "c", "e", BF_LINT("n", costly()));
    assert_int_equal(evaluated, 0);
    bf_log(BF_LOG_INFO, "c", "e", BF_LINT("n", costly()));
    assert_int_equal(evaluated, 1);
    json_t *lines = logged();
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);
}

/* ---- --log-level ------------------------------------------------------------ */

typedef struct level_config_s {
    int log_level;
} level_config_t;

static const bf_opt_t level_opts[] = {
    BF_LOG_LEVEL_OPTION("info", "log threshold", offsetof(level_config_t, log_level)),
};

static const bf_cli_t level_cli = {
    .program = "bf-test",
    .summary = "A program with a --log-level.",
    .opts = level_opts,
    .n_opts = 1,
};

/* Parse "bf-test" + @p args (NULL-terminated) with BOUNTYFLEET_LOG_LEVEL
 * set to @p env (NULL: unset). */
static bf_cli_result_t parse_level(const char *const *args, const char *env,
                                   level_config_t *cfg, char *errstr, size_t size)
{
    char *argv[8] = {(char *)"bf-test"};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    if (env)
        setenv("BOUNTYFLEET_LOG_LEVEL", env, 1);
    else
        unsetenv("BOUNTYFLEET_LOG_LEVEL");
    int first = 0;
    *cfg = (level_config_t){-1};
    errstr[0] = '\0';
    bf_cli_result_t r =
        bf_cli_parse(&level_cli, cfg, argc, argv, NULL, &first, errstr, size);
    unsetenv("BOUNTYFLEET_LOG_LEVEL");
    return r;
}

static void test_log_level_setting_takes_the_level_names(void **state)
{
    (void)state;
    static const struct {
        const char *args[3];
        const char *env;
        int want; /* a bf_log_level_t, or -1: refused */
    } rows[] = {
        {{NULL}, NULL, BF_LOG_INFO},
        {{"--log-level=debug"}, NULL, BF_LOG_DEBUG},
        {{"--log-level", "fatal"}, NULL, BF_LOG_FATAL},
        {{"-l", "error"}, NULL, BF_LOG_ERROR},
        {{"--log-level=warn"}, NULL, BF_LOG_WARN},
        {{"--log-level=warning"}, NULL, BF_LOG_WARN},
        {{"--log-level=WARNING"}, NULL, BF_LOG_WARN},
        {{"--log-level=Debug"}, NULL, BF_LOG_DEBUG},
        {{NULL}, "debug", BF_LOG_DEBUG},
        {{NULL}, "Warning", BF_LOG_WARN},
        {{"-l", "error"}, "debug", BF_LOG_ERROR}, /* the flag wins */
        {{"--log-level=verbose"}, NULL, -1},
        {{"--log-level=warn|warning"}, NULL, -1},
        {{"--log-level="}, NULL, -1},
        {{"--log-level=infoo"}, NULL, -1},
        {{NULL}, "trace", -1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        level_config_t cfg;
        char errstr[256];
        bf_cli_result_t r =
            parse_level(rows[i].args, rows[i].env, &cfg, errstr, sizeof(errstr));
        if (rows[i].want >= 0) {
            if (r != BF_CLI_RUN)
                fail_msg("row %zu: refused: %s", i, errstr);
            assert_int_equal(cfg.log_level, rows[i].want);
            continue;
        }
        if (r != BF_CLI_ERROR)
            fail_msg("row %zu: accepted as %d", i, cfg.log_level);
        /* one line that names the setting and the names it takes */
        assert_null(strchr(errstr, '\n'));
        if (!strstr(errstr, rows[i].env ? "BOUNTYFLEET_LOG_LEVEL" : "log-level") ||
            !strstr(errstr, "fatal, error, warn, info, debug"))
            fail_msg("row %zu: \"%s\"", i, errstr);
    }
}

/* The choices are indexed by level: the value stored is the level. */
static void test_level_choices_are_indexed_by_level(void **state)
{
    (void)state;
    static const struct {
        bf_log_level_t level;
        const char *first_name;
    } rows[] = {{BF_LOG_FATAL, "fatal"},
                {BF_LOG_ERROR, "error"},
                {BF_LOG_WARN, "warn"},
                {BF_LOG_INFO, "info"},
                {BF_LOG_DEBUG, "debug"}};
    for (size_t i = 0; i < 5; i++) {
        const char *c = bf_log_level_choices[rows[i].level];
        assert_non_null(c);
        assert_int_equal(strcspn(c, "|"), strlen(rows[i].first_name));
        assert_memory_equal(c, rows[i].first_name, strlen(rows[i].first_name));
    }
    assert_null(bf_log_level_choices[5]);
}

/* ---- threads ----------------------------------------------------------------- */

#define THREADS          8
#define LINES_PER_THREAD 500

static void *log_lines(void *arg)
{
    int id = (int)(intptr_t)arg;
    /* long lines, so a write cut in two would show */
    char value[1500];
    memset(value, 'a' + id, sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    for (int i = 0; i < LINES_PER_THREAD; i++)
        bf_log(BF_LOG_INFO, "thread", "line", BF_LINT("thread", id), BF_LINT("i", i),
               BF_LSTR("value", value));
    return NULL;
}

static void test_threads_logging_at_once_write_whole_lines(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_lines, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    json_t *lines = logged(); /* a torn or interleaved line fails here */
    assert_int_equal(json_array_size(lines), THREADS * LINES_PER_THREAD);
    int next[THREADS] = {0};
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o)
    {
        int id = (int)json_integer_value(json_object_get(o, "thread"));
        assert_true(id >= 0 && id < THREADS);
        /* each thread's lines in its order */
        assert_int_equal(json_integer_value(json_object_get(o, "i")), next[id]);
        next[id]++;
        const char *v = str_of(o, "value");
        assert_int_equal(strlen(v), 1499);
        assert_int_equal(strspn(v, (char[]){(char)('a' + id), 0}), 1499);
    }
    json_decref(lines);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_line_is_a_json_object_with_typed_fields),
        T(test_line_without_fields_has_the_four_keys),
        T(test_each_level_has_its_name),
        T(test_doubles_are_numbers_or_null),
        T(test_string_values_are_escaped_to_stay_json),
        T(test_keys_components_and_events_are_escaped),
        T(test_a_long_value_is_cut_and_the_line_stays_json),
        T(test_fields_that_do_not_fit_are_left_out_whole),
        T(test_long_names_are_cut_and_the_event_stays),
        T(test_lines_above_the_threshold_are_dropped),
        T(test_fields_are_not_evaluated_above_the_threshold),
        T(test_log_level_setting_takes_the_level_names),
        T(test_level_choices_are_indexed_by_level),
        T(test_threads_logging_at_once_write_whole_lines),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
