/*
 * test_json_scan.c - libbf/json_scan.h accepts what jansson accepts and
 * finds the values jansson builds (tests/fuzz/json_scan_check.h), on the
 * edges of RFC 8259 and of jansson's limits, and on real texts: 3,000
 * disclosed HackerOne reports and the demo's sample reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../fuzz/json_scan_check.h"

static void agree(const char *text, size_t len, int want_ok)
{
    const char *why = json_scan_agrees(text, len);
    if (why)
        fail_msg("%s: %.*s", why, (int)(len > 200 ? 200 : len), text);
    bf_json_view_t root;
    if (want_ok >= 0 && bf_json_scan(text, len, &root) != (want_ok == 1))
        fail_msg("expected %s: %.*s", want_ok ? "accepted" : "refused", (int)len, text);
}

/* Each text, accepted (1) or refused (0) by jansson, and by the scan. */
static void test_edges_agree_with_jansson(void **unused)
{
    (void)unused;
    static const struct {
        const char *text;
        int ok;
    } cases[] = {
        {"{}", 1},
        {"[]", 1},
        {" \t\r\n{ } \n", 1},
        {"", 0},
        {"   ", 0},
        {"1", 0},     /* a scalar at the top */
        {"\"a\"", 0}, /* a scalar at the top */
        {"{} {}", 0}, /* something after the value */
        {"[1,]", 0},  /* trailing comma */
        {"{\"a\":1,}", 0},
        {"{\"a\" 1}", 0},
        {"{a:1}", 0},
        {"[01]", 0}, /* leading zero */
        {"[-0, 0, -1, 10]", 1},
        {"[1.]", 0},
        {"[.5]", 0},
        {"[1e]", 0},
        {"[1e+]", 0},
        {"[1.5e-3, 2E+10, 3e0]", 1},
        {"[-]", 0},
        {"[9223372036854775807, -9223372036854775808]", 1},
        {"[9223372036854775808]", 0}, /* too big integer */
        {"[-9223372036854775809]", 0},
        {"[1e308, 1e-400]", 1}, /* underflow is fine */
        {"[1e309]", 0},         /* real number overflow */
        {"[true, false, null]", 1},
        {"[True]", 0},
        {"[truex]", 0},
        {"[nul]", 0},
        {"[true1]", 0},
        {"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", 1},
        {"[\"\\x\"]", 0},
        {"[\"\\u00e9\\u20AC\\ud83d\\ude00\"]", 1},
        {"[\"\\u0000\"]", 0}, /* NUL refused */
        {"{\"\\u0000\":1}", 0},
        {"[\"\\ud83d\"]", 0}, /* lone high surrogate */
        {"[\"\\ude00\"]", 0}, /* lone low surrogate */
        {"[\"\\ud83d\\u0041\"]", 0},
        {"[\"\\ud83d\\n\"]", 0},
        {"[\"\\u12\"]", 0},
        {"[\"\\u12G4\"]", 0},
        {"[\"tab\there\"]", 0}, /* a raw control character */
        {"[\"del\x7f ok\"]", 1},
        {"[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]", 1},
        {"[\"\xc3\"]", 0},             /* cut UTF-8 */
        {"[\"\xc0\xaf\"]", 0},         /* overlong */
        {"[\"\xed\xa0\x80\"]", 0},     /* a surrogate in UTF-8 */
        {"[\"\xf4\x90\x80\x80\"]", 0}, /* above U+10FFFF */
        {"[\"\xff\"]", 0},
        {"[\"unterminated]", 0},
        {"{\"a\":1,\"a\":2}", 1}, /* the last counts */
        /* Names repeated (bf_json_to_jansson refuses them, as jansson with
         * JSON_REJECT_DUPLICATES does): spelled differently, deeper in. */
        {"{\"a\":1,\"\\u0061\":2}", 1},
        {"[{\"x\":{\"y\":1,\"y\":1}}]", 1},
        {"{\"a\":[],\"b\":{},\"c\":\"\\n\",\"d\":-0.5e1,\"e\":{\"a\":1}}", 1},
        {"{\"\":0,\"k\\u0065y\":[{\"x\":[]}]}", 1},
        {"\xef\xbb\xbf{}", 0}, /* a byte order mark */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        agree(cases[i].text, strlen(cases[i].text), cases[i].ok);
    }
    agree("{}\0", 3, 0); /* a NUL after the value (the length includes it) */
    /* jansson's quirk (json_scan.h): it drops a NUL after a number or a
     * literal; the scan refuses it. */
    bf_json_view_t root;
    assert_false(bf_json_scan("[1\0]", 4, &root));
    assert_false(bf_json_scan("[true\0]", 7, &root));
    assert_null(json_scan_agrees("[1\0]", 4));
    /* The last of a duplicated name is the one found. */
    static const char dup[] = "{\"a\":1,\"b\":true,\"a\":2}";
    assert_true(bf_json_scan(dup, sizeof(dup) - 1, &root));
    assert_int_equal(bf_json_integer(bf_json_member(root, "a")), 2);
    assert_int_equal(bf_json_member(root, "b").kind, BF_JSON_TRUE);
    assert_int_equal(bf_json_member(root, "c").kind, BF_JSON_NONE);
}

/* bf_json_load() is json_loadb(): the same value, and jansson's own error
 * where it refuses (a repeated name, a bad text), for flags it builds
 * itself and for others; a text nested deeper than it builds is jansson's. */
static void test_load_is_json_loadb(void **unused)
{
    (void)unused;
    json_error_t e1, e2;
    static const char dup[] = "{\"a\":1,\"a\":2}";
    assert_null(bf_json_load(dup, sizeof(dup) - 1, JSON_REJECT_DUPLICATES, &e1));
    assert_null(json_loadb(dup, sizeof(dup) - 1, JSON_REJECT_DUPLICATES, &e2));
    assert_string_equal(e1.text, e2.text);
    json_t *last = bf_json_load(dup, sizeof(dup) - 1, 0, &e1);
    assert_int_equal(json_integer_value(json_object_get(last, "a")), 2);
    json_decref(last);
    static const char bad[] = "{\"a\":}";
    assert_null(bf_json_load(bad, sizeof(bad) - 1, 0, &e1));
    assert_null(json_loadb(bad, sizeof(bad) - 1, 0, &e2));
    assert_string_equal(e1.text, e2.text);
    assert_int_equal(e1.line, e2.line);
    assert_int_equal(e1.column, e2.column);
    json_t *any = bf_json_load("7", 1, JSON_DECODE_ANY, &e1); /* jansson's flag */
    assert_int_equal(json_integer_value(any), 7);
    json_decref(any);
    /* 100 levels: beyond what it builds, so jansson's value. */
    char deep[256];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    deep[n++] = '1';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    json_t *a = bf_json_load(deep, n, 0, &e1), *b = json_loadb(deep, n, 0, &e2);
    assert_non_null(a);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

/* 2048 levels are fine, 2049 are not, as in jansson; a scalar inside the
 * deepest array counts as a level of its own. */
static void test_nesting_limit_is_janssons(void **unused)
{
    (void)unused;
    static char text[2 * 2100 + 8];
    for (size_t depth = 2046; depth <= 2050; depth++) {
        for (int scalar = 0; scalar < 2; scalar++) {
            size_t n = 0;
            for (size_t i = 0; i < depth; i++)
                text[n++] = '[';
            if (scalar)
                text[n++] = '1';
            for (size_t i = 0; i < depth; i++)
                text[n++] = ']';
            agree(text, n, depth + (size_t)scalar <= 2048);
        }
    }
}

/* Every line of a JSON-lines file agrees (real texts: escapes, every kind
 * of Unicode a write-up holds). @returns the lines read. */
static size_t agree_on_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        agree(line, (size_t)len, 1);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

static void test_real_reports_agree_with_jansson(void **unused)
{
    (void)unused;
    char path[1024];
    snprintf(path, sizeof(path), "%s/ops/demo-data/sample-reports.jsonl", BF_SOURCE_DIR);
    assert_true(agree_on_lines(path) >= 400);
    snprintf(path, sizeof(path), "%s/reports/hackerone_disclosed_3000.jsonl",
             BF_SHARED_DATA_DIR);
    size_t n = agree_on_lines(path);
    if (n == 0)
        fprintf(stderr, "(%s not beside the repository: the 3,000 reports skipped)\n",
                path);
    else
        assert_true(n >= 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges_agree_with_jansson),
        cmocka_unit_test(test_nesting_limit_is_janssons),
        cmocka_unit_test(test_load_is_json_loadb),
        cmocka_unit_test(test_real_reports_agree_with_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
