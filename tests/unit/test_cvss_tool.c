/*
 * test_cvss_tool.c - `bountyfleet-cvss` as a script uses it: the built
 * program on vectors given as arguments and on stdin, its line format,
 * --json, the exit status, and its one-line usage errors.
 *
 * Expected Base Scores are FIRST's (the v3.0 and v3.1 examples
 * documents); the v4.0 scores and the --json case's Temporal and
 * Environmental Scores are ae-cvss-calculator's for vectors of the
 * specifications. test_cvss.c checks the library in depth; this file, the
 * program around it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#define PROGRAM BF_BIN_DIR "/bountyfleet-cvss"

#define V30 "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N" /* CVE-2013-1937, 6.1 */
#define V31 "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" /* CVE-2014-0160, 7.5 */
#define V40 "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N" /* 5.1 */

static char tmp_dir[64];

static int make_tmp(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/test_cvss_tool_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_tmp(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(FILE *f)
{
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    return buf;
}

/* Run the program with @p args (shell words) and @p input on stdin (NULL:
 * none, /dev/null). *out and *err (malloc'd) get stdout and stderr.
 * @returns the exit status. */
static int run(const char *args, const char *input, size_t input_len, char **out,
               char **err)
{
    char in_path[128], err_path[128], cmd[4096];
    snprintf(in_path, sizeof(in_path), "%s/stdin", tmp_dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", tmp_dir);
    FILE *f = fopen(in_path, "wb");
    assert_non_null(f);
    if (input)
        assert_int_equal(fwrite(input, 1, input_len, f), input_len);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s %s <%s 2>%s", PROGRAM, args, in_path, err_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    *out = slurp(p);
    int status = pclose(p);
    f = fopen(err_path, "r");
    assert_non_null(f);
    *err = slurp(f);
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_arguments_print_vector_score_and_rating(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run(V30 " " V31 " " V40, NULL, 0, &out, &err), 0);
    assert_string_equal(out,
                        V30 "\t6.1\tMedium\n" V31 "\t7.5\tHigh\n" V40 "\t5.1\tMedium\n");
    assert_string_equal(err, "");
    free(out);
    free(err);
}

/* Every line is printed, in order; a bad one says why; exit 1 at the end. */
static void test_a_bad_vector_is_an_error_line_and_exit_1(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run(V31 " CVSS:3.1/AV:N " V40 " 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/"
                             "VC:N/VI:L/VA:N/SC:N/SI:N/SA:N/E:A/E:X'",
                         NULL, 0, &out, &err),
                     1);
    assert_string_equal(out, V31
                        "\t7.5\tHigh\n"
                        "CVSS:3.1/AV:N\terror\tmissing mandatory metric AC\n" V40
                        "\t5.1\tMedium\n"
                        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N/"
                        "E:A/E:X\terror\tmetric E is given more than once\n");
    free(out);
    free(err);
}

/* One vector per line; blank lines skipped; blanks and CR trimmed. */
static void test_stdin_gives_one_line_per_vector(void **state)
{
    (void)state;
    static const char input[] = "  " V30 "\r\n\n\t\n" V31 "\t \n" V40;
    char *out, *err;
    assert_int_equal(run("", input, sizeof(input) - 1, &out, &err), 0);
    assert_string_equal(out,
                        V30 "\t6.1\tMedium\n" V31 "\t7.5\tHigh\n" V40 "\t5.1\tMedium\n");
    free(out);
    free(err);

    assert_int_equal(run("", "", 0, &out, &err), 0); /* nothing in, nothing out */
    assert_string_equal(out, "");
    free(out);
    free(err);
}

/* A line past the 4 KiB bound, or with a NUL byte, is an error line, and
 * the lines after it are still scored; what is echoed stays printable. */
static void test_a_long_or_binary_stdin_line_is_an_error_line(void **state)
{
    (void)state;
    size_t big = 5000;
    char *input = malloc(big + 256);
    assert_non_null(input);
    memset(input, 'A', big);
    size_t n = big;
    n += (size_t)snprintf(input + n, 256, "\n" V31 "\nCVSS:3.1/AV:N\tx\n");
    memcpy(input + n, "CVSS:3.1/\0AV:N\n", 15);
    n += 15;
    char *out, *err;
    assert_int_equal(run("", input, n, &out, &err), 1);
    char *line2 = strchr(out, '\n');
    assert_non_null(line2);
    *line2++ = '\0';
    assert_non_null(strstr(out, "...\terror\tline longer than 4096 bytes"));
    assert_true(strlen(out) < 400); /* the beginning of the line, not all of it */
    assert_string_equal(line2,
                        V31 "\t7.5\tHigh\n"
                            "CVSS:3.1/AV:N?x\terror\tmetric AV: unknown value 'N?x'\n"
                            "CVSS:3.1/?AV:N\terror\tcontains a NUL byte\n");
    free(input);
    free(out);
    free(err);
}

static json_t *json_line(const char *text, size_t index)
{
    const char *p = text;
    for (size_t i = 0; i < index; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    json_error_t jerr;
    json_t *o = json_loadb(p, strcspn(p, "\n"), 0, &jerr);
    if (!json_is_object(o))
        fail_msg("line %zu is not a JSON object: %s", index, jerr.text);
    return o;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("%s is not a number", key);
    return json_number_value(v);
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("%s is not a string", key);
    return json_string_value(v);
}

static void test_json_has_every_score(void **state)
{
    (void)state;
    char *out, *err;
    /* v3.1 with Temporal and Environmental metrics; v4.0 with Threat. */
    assert_int_equal(
        run("--json 'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:C/C:N/I:N/A:H/E:H/RL:X/RC:U/"
            "MC:H' 'CVSS:4.0/AV:A/AC:H/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:L/SI:L/"
            "SA:L/E:P' nonsense",
            NULL, 0, &out, &err),
        1);
    /* Scores print with one decimal, as in the line format. */
    assert_non_null(strstr(out, "\"base\":5.0,"));

    json_t *o = json_line(out, 0);
    assert_string_equal(str(o, "version"), "3.1");
    assert_string_equal(str(o, "rating"), "Medium");
    assert_true(num(o, "score") == 5.0 && num(o, "base") == 5.0);
    assert_true(num(o, "temporal") == 4.6);
    assert_true(num(o, "environmental") == 6.4); /* ae-cvss-calculator */
    json_decref(o);

    o = json_line(out, 1);
    assert_string_equal(str(o, "version"), "4.0");
    assert_string_equal(str(o, "nomenclature"), "CVSS-BT");
    assert_string_equal(str(o, "rating"), "Medium");
    assert_true(num(o, "score") == 4.5);
    json_t *scores = json_object_get(o, "scores");
    assert_int_equal(json_object_size(scores), 2);
    assert_true(num(scores, "CVSS-B") == 5.4 && num(scores, "CVSS-BT") == 4.5);
    assert_null(json_object_get(o, "temporal"));
    json_decref(o);

    o = json_line(out, 2);
    assert_string_equal(str(o, "vector"), "nonsense");
    assert_string_equal(str(o, "error"), "parse");
    assert_non_null(strstr(str(o, "reason"), "prefix"));
    assert_null(json_object_get(o, "score"));
    json_decref(o);
    assert_null(strchr(strchr(strchr(strchr(out, '\n') + 1, '\n') + 1, '\n') + 1, '\n'));
    free(out);
    free(err);

    /* --json reads stdin as well. */
    assert_int_equal(run("-j", V31 "\n", strlen(V31) + 1, &out, &err), 0);
    o = json_line(out, 0);
    assert_true(num(o, "score") == 7.5);
    json_decref(o);
    free(out);
    free(err);
}

static void test_bad_flags_are_one_line_and_exit_2(void **state)
{
    (void)state;
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"--no-such-flag " V31, "--no-such-flag"},
        {"-x", "-x"},
        {"--json=maybe " V31, "not a boolean"},
        {"-X a=b " V31, "-X"}, /* no librdkafka properties here */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out, *err;
        int status = run(cases[i].args, NULL, 0, &out, &err);
        if (status != 2 || !strstr(err, cases[i].says) ||
            strchr(err, '\n') != err + strlen(err) - 1 ||
            strncmp(err, "bountyfleet-cvss: ", 18))
            fail_msg("%s: status %d, stderr \"%s\"", cases[i].args, status, err);
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
}

static void test_help_and_version_exit_0(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run("--help", NULL, 0, &out, &err), 0);
    assert_non_null(strstr(out, "Usage: bountyfleet-cvss [OPTIONS] [VECTOR...]"));
    assert_non_null(strstr(out, "--json"));
    free(out);
    free(err);
    assert_int_equal(run("--version", NULL, 0, &out, &err), 0);
    assert_int_equal(strncmp(out, "bountyfleet-cvss ", 17), 0);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments_print_vector_score_and_rating),
        cmocka_unit_test(test_a_bad_vector_is_an_error_line_and_exit_1),
        cmocka_unit_test(test_stdin_gives_one_line_per_vector),
        cmocka_unit_test(test_a_long_or_binary_stdin_line_is_an_error_line),
        cmocka_unit_test(test_json_has_every_score),
        cmocka_unit_test(test_bad_flags_are_one_line_and_exit_2),
        cmocka_unit_test(test_help_and_version_exit_0),
    };
    return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
