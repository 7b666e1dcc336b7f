/*
 * test_config.c - table-driven settings (libbf/config.c): flags, then
 * environment, then defaults; range checks whose message names the
 * setting; secrets only from the environment or a file; kcat-style -X and
 * -F librdkafka properties; --help and --version.
 *
 * Every test parses the command line of a small made-up program whose
 * table has one setting of each type. The environment variables it reads
 * are cleared before and after each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "libbf/config.h"

typedef struct test_config_s {
    char *brokers;
    int64_t workers;
    double budget;
    bool verbose;
    char *api_key;
    char *name;
    int mode;
} test_config_t;

static const char *const modes[] = {"fail-open", "fail-closed|closed", NULL};

#define OPT(field) offsetof(test_config_t, field)
static const bf_opt_t opts[] = {
    {"brokers", 'b', "BFT_BROKERS", BF_OPT_STRING, "127.0.0.1:9092", 0, -1, "HOST:PORT",
     "Kafka bootstrap servers", OPT(brokers)},
    {"workers", 'w', "BFT_WORKERS", BF_OPT_INT, "4", 1, 64, NULL, "Concurrent analyses",
     OPT(workers)},
    {"budget", 0, "BFT_BUDGET", BF_OPT_DOUBLE, "1.5", 0, 100, "USD", "Hourly budget",
     OPT(budget)},
    {"verbose", 'v', "BFT_VERBOSE", BF_OPT_BOOL, "false", 0, -1, NULL, "Log more",
     OPT(verbose)},
    {"api-key", 0, "BFT_API_KEY", BF_OPT_SECRET, NULL, 0, -1, NULL, "Provider API key",
     OPT(api_key)},
    {"name", 'n', NULL, BF_OPT_STRING, NULL, 0, -1, NULL, "Worker name", OPT(name)},
    {"mode", 'm', "BFT_MODE", BF_OPT_ENUM, "fail-closed", 0, -1, NULL, "Without Redis",
     OPT(mode), modes},
};
#undef OPT

static const bf_cli_t cli = {
    .program = "bf-test",
    .summary = "A program that exists to test the settings table.",
    .usage = "[OPTIONS] [FILE...]",
    .opts = opts,
    .n_opts = sizeof(opts) / sizeof(opts[0]),
    .kafka_props = true,
};

static const char *const env_vars[] = {"BFT_BROKERS", "BFT_WORKERS", "BFT_BUDGET",
                                       "BFT_VERBOSE", "BFT_API_KEY", "BFT_API_KEY_FILE",
                                       "BFT_MODE"};

typedef struct fixture_s {
    test_config_t cfg;
    bf_kprops_t props;
    int first_arg;
    char errstr[512];
    char tmp[64]; /* a temp file to remove at the end, or "" */
} fixture_t;

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
        unsetenv(env_vars[i]);
}

static int setup(void **state)
{
    clear_env();
    *state = calloc(1, sizeof(fixture_t));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    bf_cli_free(&cli, &f->cfg);
    bf_kprops_free(&f->props);
    if (f->tmp[0])
        unlink(f->tmp);
    free(f);
    clear_env();
    return 0;
}

/* Parse "bf-test" followed by the NULL-terminated @p args with @p c,
 * starting from a clean config each time. */
static bf_cli_result_t parse_with(fixture_t *f, const bf_cli_t *c,
                                  const char *const *args)
{
    char *argv[32] = {(char *)"bf-test"};
    int argc = 1;
    for (; args && args[argc - 1]; argc++) {
        assert_true(argc < 31);
        argv[argc] = (char *)args[argc - 1];
    }
    bf_cli_free(c, &f->cfg);
    bf_kprops_free(&f->props);
    memset(&f->cfg, 0, sizeof(f->cfg));
    f->errstr[0] = '\0';
    f->first_arg = -1;
    return bf_cli_parse(c, &f->cfg, argc, argv, &f->props, &f->first_arg, f->errstr,
                        sizeof(f->errstr));
}

static bf_cli_result_t parse(fixture_t *f, const char *const *args)
{
    return parse_with(f, &cli, args);
}

/* Parsing must fail, and the one-line message contain @p says. */
static void expect_error(fixture_t *f, const char *const *args, const char *says)
{
    bf_cli_result_t res = parse(f, args);
    if (res != BF_CLI_ERROR)
        fail_msg("%s ...: parsed, want an error saying \"%s\"", args[0] ? args[0] : "",
                 says);
    if (!strstr(f->errstr, says))
        fail_msg("message \"%s\" does not say \"%s\"", f->errstr, says);
    assert_null(strchr(f->errstr, '\n'));
}

/* Write @p content to a new temp file, remembered for teardown. */
static const char *temp_file(fixture_t *f, const char *content)
{
    if (f->tmp[0])
        unlink(f->tmp);
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/bf-test-config-XXXXXX");
    int fd = mkstemp(f->tmp);
    assert_true(fd >= 0);
    size_t n = strlen(content);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    return f->tmp;
}

/* ---- precedence ---------------------------------------------------------- */

static void test_defaults_apply_without_flags_or_env(void **state)
{
    fixture_t *f = *state;
    const char *none[] = {NULL};
    assert_int_equal(parse(f, none), BF_CLI_RUN);
    assert_string_equal(f->cfg.brokers, "127.0.0.1:9092");
    assert_int_equal(f->cfg.workers, 4);
    assert_true(f->cfg.budget == 1.5);
    assert_false(f->cfg.verbose);
    assert_null(f->cfg.api_key);
    assert_null(f->cfg.name);
    assert_int_equal(f->first_arg, 1);
    assert_int_equal(f->props.count, 0);
}

/* One setting as text, so the precedence table can cover every type. */
static void setting_text(const test_config_t *c, const char *name, char *out, size_t size)
{
    if (strcmp(name, "brokers") == 0)
        snprintf(out, size, "%s", c->brokers);
    else if (strcmp(name, "workers") == 0)
        snprintf(out, size, "%lld", (long long)c->workers);
    else if (strcmp(name, "budget") == 0)
        snprintf(out, size, "%g", c->budget);
    else
        snprintf(out, size, "%s", c->verbose ? "true" : "false");
}

static void expect_setting(fixture_t *f, const char *const *args, const char *name,
                           const char *want)
{
    assert_int_equal(parse(f, args), BF_CLI_RUN);
    char got[128];
    setting_text(&f->cfg, name, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s, want %s", name, got, want);
}

static void test_flag_beats_env_beats_default(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *name, *env, *env_value, *flag, *by_default, *by_env, *by_flag;
    } rows[] = {
        {"brokers", "BFT_BROKERS", "env:9092", "--brokers=flag:9092", "127.0.0.1:9092",
         "env:9092", "flag:9092"},
        {"workers", "BFT_WORKERS", "8", "--workers=16", "4", "8", "16"},
        {"budget", "BFT_BUDGET", "2.5", "--budget=3.25", "1.5", "2.5", "3.25"},
        {"verbose", "BFT_VERBOSE", "yes", "--verbose=false", "false", "true", "false"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *none[] = {NULL}, *with_flag[] = {rows[i].flag, NULL};
        expect_setting(f, none, rows[i].name, rows[i].by_default);
        setenv(rows[i].env, rows[i].env_value, 1);
        expect_setting(f, none, rows[i].name, rows[i].by_env);
        expect_setting(f, with_flag, rows[i].name, rows[i].by_flag);
        /* An empty variable counts as unset. */
        setenv(rows[i].env, "", 1);
        expect_setting(f, none, rows[i].name, rows[i].by_default);
        unsetenv(rows[i].env);
    }
}

/* ---- flag forms ---------------------------------------------------------- */

static void test_flag_value_after_equals_or_as_next_argument(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *args[3];
    } forms[] = {
        {{"--workers=8", NULL}},
        {{"--workers", "8", NULL}},
        {{"-w", "8", NULL}},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        assert_int_equal(parse(f, forms[i].args), BF_CLI_RUN);
        assert_int_equal(f->cfg.workers, 8);
    }
    /* Only the first '=' separates the name; the value may hold more. */
    const char *eq[] = {"--name=a=b", NULL};
    assert_int_equal(parse(f, eq), BF_CLI_RUN);
    assert_string_equal(f->cfg.name, "a=b");
    const char *empty[] = {"--name=", NULL};
    assert_int_equal(parse(f, empty), BF_CLI_RUN);
    assert_string_equal(f->cfg.name, "");
}

static void test_short_flags_set_their_settings(void **state)
{
    fixture_t *f = *state;
    const char *args[] = {"-b", "kafka:9093", "-v", "-n", "w7", NULL};
    assert_int_equal(parse(f, args), BF_CLI_RUN);
    assert_string_equal(f->cfg.brokers, "kafka:9093");
    assert_true(f->cfg.verbose);
    assert_string_equal(f->cfg.name, "w7");
    assert_int_equal(f->first_arg, 6);
}

static void test_bool_flag_needs_no_value(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *arg;
        bool want;
    } cases[] = {
        {"--verbose", true},        {"-v", true},           {"--verbose=true", true},
        {"--verbose=ON", true},     {"--verbose=0", false}, {"--verbose=no", false},
        {"--verbose=false", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = {cases[i].arg, NULL};
        assert_int_equal(parse(f, args), BF_CLI_RUN);
        assert_int_equal(f->cfg.verbose, cases[i].want);
    }
    /* The next argument is not taken as the flag's value. */
    const char *args[] = {"--verbose", "false", NULL};
    assert_int_equal(parse(f, args), BF_CLI_RUN);
    assert_true(f->cfg.verbose);
    assert_int_equal(f->first_arg, 2);
}

static void test_positional_arguments_follow_options(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *args[6];
        int first_arg;
    } cases[] = {
        {{"-v", "a.json", "b.json", NULL}, 2},
        {{"a.json", "-v", NULL}, 1},               /* options stop at the first file */
        {{"-w", "3", "-", NULL}, 3},               /* "-" is stdin, a file */
        {{"-w", "3", "--", "-odd.json", NULL}, 4}, /* "--" ends the options */
        {{NULL}, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(f, cases[i].args), BF_CLI_RUN);
        assert_int_equal(f->first_arg, cases[i].first_arg);
    }
}

/* ---- errors -------------------------------------------------------------- */

typedef struct error_case_s {
    const char *args[4];
    const char *env, *env_value; /* set for this case, or NULL */
    const char *says;
} error_case_t;

static void expect_error_cases(fixture_t *f, const error_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (cases[i].env)
            setenv(cases[i].env, cases[i].env_value, 1);
        expect_error(f, cases[i].args, cases[i].says);
        if (cases[i].env)
            unsetenv(cases[i].env);
    }
}

static void test_number_errors_name_the_setting(void **state)
{
    static const error_case_t cases[] = {
        {{"--workers=0", NULL}, NULL, NULL, "--workers: 0 is out of range [1, 64]"},
        {{"--workers", "65", NULL}, NULL, NULL, "--workers: 65 is out of range [1, 64]"},
        {{"-w", "abc", NULL}, NULL, NULL, "-w: 'abc' is not an integer"},
        {{"--workers=8x", NULL}, NULL, NULL, "--workers: '8x' is not an integer"},
        {{"--workers=", NULL}, NULL, NULL, "--workers: '' is not an integer"},
        {{"--workers=99999999999999999999", NULL}, NULL, NULL, "is not an integer"},
        {{"--budget=-0.5", NULL}, NULL, NULL, "--budget: -0.5 is out of range [0, 100]"},
        {{"--budget=nan", NULL}, NULL, NULL, "--budget: 'nan' is not a number"},
        {{"--budget=1e999", NULL}, NULL, NULL, "--budget: '1e999' is not a number"},
        {{"--verbose=maybe", NULL}, NULL, NULL, "--verbose: 'maybe' is not a boolean"},
        {{NULL}, "BFT_WORKERS", "100", "environment BFT_WORKERS: 100 is out of range"},
        {{NULL}, "BFT_BUDGET", "lots", "environment BFT_BUDGET: 'lots' is not a number"},
        {{NULL}, "BFT_VERBOSE", "maybe", "environment BFT_VERBOSE"},
    };
    expect_error_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

/* An enum setting stores the index of the name given, any case, aliases
 * included, and refuses other names listing the ones it takes. */
static void test_enum_takes_its_names_only(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(parse(f, (const char *[]){NULL}), BF_CLI_RUN);
    assert_int_equal(f->cfg.mode, 1); /* the default */
    static const struct {
        const char *arg;
        int want;
    } ok[] = {{"--mode=fail-open", 0},
              {"--mode=FAIL-OPEN", 0},
              {"--mode=fail-closed", 1},
              {"--mode=closed", 1}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(parse(f, (const char *[]){ok[i].arg, NULL}), BF_CLI_RUN);
        assert_int_equal(f->cfg.mode, ok[i].want);
    }
    setenv("BFT_MODE", "fail-open", 1);
    assert_int_equal(parse(f, (const char *[]){NULL}), BF_CLI_RUN);
    assert_int_equal(f->cfg.mode, 0);
    unsetenv("BFT_MODE");
    static const error_case_t cases[] = {
        {{"--mode=open", NULL},
         NULL,
         NULL,
         "--mode: 'open' is not one of fail-open, fail-closed"},
        {{"-m", "fail", NULL}, NULL, NULL, "-m: 'fail' is not one of"},
        {{"--mode=", NULL}, NULL, NULL, "--mode: '' is not one of"},
        {{"--mode=fail-closed|closed", NULL}, NULL, NULL, "is not one of"},
        {{NULL},
         "BFT_MODE",
         "sometimes",
         "environment BFT_MODE: 'sometimes' is not one of"},
    };
    expect_error_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_unknown_option_is_named(void **state)
{
    static const error_case_t cases[] = {
        {{"--nope", NULL}, NULL, NULL, "unknown option --nope (see --help)"},
        {{"--nope=1", NULL}, NULL, NULL, "unknown option --nope "},
        {{"-z", NULL}, NULL, NULL, "unknown option -z"},
        {{"-wv", NULL}, NULL, NULL, "unknown option -wv"},
        {{"--work", "3", NULL}, NULL, NULL, "unknown option --work"}, /* no prefixes */
    };
    expect_error_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_missing_value_is_reported(void **state)
{
    static const error_case_t cases[] = {
        {{"--workers", NULL}, NULL, NULL, "--workers needs a value"},
        {{"-b", NULL}, NULL, NULL, "-b needs a value"},
        {{"-X", NULL}, NULL, NULL, "-X needs an argument"},
        {{"-F", NULL}, NULL, NULL, "-F needs an argument"},
    };
    expect_error_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- secrets ------------------------------------------------------------- */

static void test_secret_is_refused_on_command_line(void **state)
{
    fixture_t *f = *state;
    const char *forms[][3] = {{"--api-key=sk-live-123", NULL},
                              {"--api-key", "sk-live-123", NULL}};
    for (size_t i = 0; i < 2; i++) {
        expect_error(f, forms[i], "secret");
        assert_non_null(strstr(f->errstr, "BFT_API_KEY_FILE"));
        /* The message goes to stderr and logs: it must not repeat the key. */
        assert_null(strstr(f->errstr, "sk-live-123"));
    }
}

static void test_secret_comes_from_environment(void **state)
{
    fixture_t *f = *state;
    setenv("BFT_API_KEY", "sk-env", 1);
    const char *none[] = {NULL};
    assert_int_equal(parse(f, none), BF_CLI_RUN);
    assert_string_equal(f->cfg.api_key, "sk-env");
}

static void test_secret_file_is_read_without_trailing_newline(void **state)
{
    fixture_t *f = *state;
    const char *contents[] = {"sk-file\n", "sk-file\r\n", "sk-file", "sk-file\n\n"};
    const char *none[] = {NULL};
    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        setenv("BFT_API_KEY_FILE", temp_file(f, contents[i]), 1);
        assert_int_equal(parse(f, none), BF_CLI_RUN);
        assert_string_equal(f->cfg.api_key, "sk-file");
    }
    /* NAME wins over NAME_FILE. */
    setenv("BFT_API_KEY", "sk-env", 1);
    assert_int_equal(parse(f, none), BF_CLI_RUN);
    assert_string_equal(f->cfg.api_key, "sk-env");
}

static void test_missing_secret_file_is_an_error(void **state)
{
    fixture_t *f = *state;
    setenv("BFT_API_KEY_FILE", "/nonexistent/bf-test-key", 1);
    const char *none[] = {NULL};
    expect_error(f, none, "/nonexistent/bf-test-key");
}

/* ---- librdkafka properties ----------------------------------------------- */

static void test_X_flags_collect_kafka_properties(void **state)
{
    fixture_t *f = *state;
    const char *args[] = {
        "-X",     "acks=all", "-Xlinger.ms=5", "-X", "sasl.jaas.config=a=b", "-X",
        "acks=1", NULL};
    assert_int_equal(parse(f, args), BF_CLI_RUN);
    assert_int_equal(f->props.count, 4);
    assert_string_equal(f->props.items[0].key, "acks");
    assert_string_equal(f->props.items[0].value, "all");
    assert_string_equal(bf_kprops_get(&f->props, "acks"), "1");
    assert_string_equal(bf_kprops_get(&f->props, "linger.ms"), "5");
    assert_string_equal(bf_kprops_get(&f->props, "sasl.jaas.config"), "a=b");
}

static void test_X_without_key_value_is_an_error(void **state)
{
    static const error_case_t cases[] = {
        {{"-X", "acks", NULL}, NULL, NULL, "-X acks: expected key=value"},
        {{"-X", "=all", NULL}, NULL, NULL, "expected key=value"},
    };
    expect_error_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_X_is_unknown_when_program_takes_no_kafka_properties(void **state)
{
    fixture_t *f = *state;
    bf_cli_t plain = cli;
    plain.kafka_props = false;
    const char *args[] = {"-X", "acks=all", NULL};
    assert_int_equal(parse_with(f, &plain, args), BF_CLI_ERROR);
    assert_non_null(strstr(f->errstr, "unknown option -X"));
}

static void test_properties_file_skips_comments_and_blank_lines(void **state)
{
    fixture_t *f = *state;
    const char *path = temp_file(f, "# librdkafka properties\n"
                                    "! a Java-style comment\n"
                                    "\n"
                                    "   \n"
                                    "bootstrap.servers = kafka:9092  \r\n"
                                    "\tacks=all\n"
                                    "linger.ms=5");
    const char *args[] = {"-F", path, "-X", "acks=1", NULL};
    assert_int_equal(parse(f, args), BF_CLI_RUN);
    assert_int_equal(f->props.count, 4);
    assert_string_equal(bf_kprops_get(&f->props, "bootstrap.servers"), "kafka:9092");
    assert_string_equal(bf_kprops_get(&f->props, "linger.ms"), "5");
    /* A later -X wins over the file. */
    assert_string_equal(bf_kprops_get(&f->props, "acks"), "1");
}

/* Loading @p content with -F must fail naming "<path>:<line>:". */
static void expect_properties_error_at(fixture_t *f, const char *content, int line)
{
    const char *path = temp_file(f, content);
    char want[128];
    snprintf(want, sizeof(want), "%s:%d: expected key=value", path, line);
    const char *args[] = {"-F", path, NULL};
    expect_error(f, args, want);
}

static void test_properties_file_error_names_file_and_line(void **state)
{
    fixture_t *f = *state;
    expect_properties_error_at(f, "acks=all\nnot a property\n", 2);
    expect_properties_error_at(f, "# comment\nacks=all\n=all\n", 3);
    const char *missing[] = {"-F", "/nonexistent/bf-test.properties", NULL};
    expect_error(f, missing, "/nonexistent/bf-test.properties");
}

static void test_properties_file_error_line_counts_blank_lines(void **state)
{
    /* Regression: blank lines count, so the error names the third line. */
    expect_properties_error_at(*state, "acks=all\n\nnot a property\n", 3);
}

static void test_kprops_get_returns_last_value(void **state)
{
    fixture_t *f = *state;
    bf_kprops_set(&f->props, "acks", "0");
    bf_kprops_set(&f->props, "linger.ms", "5");
    bf_kprops_set(&f->props, "acks", "all");
    assert_string_equal(bf_kprops_get(&f->props, "acks"), "all");
    assert_string_equal(bf_kprops_get(&f->props, "linger.ms"), "5");
    assert_null(bf_kprops_get(&f->props, "ack"));
    assert_null(bf_kprops_get(&f->props, "client.id"));
}

/* ---- --help and --version ------------------------------------------------ */

/* Parse @p args with stdout sent to a temp file; @p out receives what was
 * printed. */
static bf_cli_result_t parse_capturing_stdout(fixture_t *f, const char *const *args,
                                              char *out, size_t size)
{
    char path[64] = "/tmp/bf-test-stdout-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    bf_cli_result_t res = parse(f, args);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    ssize_t n = pread(fd, out, size - 1, 0);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    return res;
}

static void test_help_prints_the_table_and_exits(void **state)
{
    fixture_t *f = *state;
    const char *forms[][2] = {{"--help", NULL}, {"-h", NULL}};
    const char *must_say[] = {"Usage: bf-test [OPTIONS] [FILE...]",
                              "A program that exists to test the settings table.",
                              "-b, --brokers HOST:PORT",
                              "[env BFT_BROKERS]",
                              "(default: 127.0.0.1:9092)",
                              "--budget USD",
                              "(env only)",
                              "[env BFT_API_KEY or _FILE]",
                              "-X KEY=VALUE",
                              "-F FILE",
                              "-V, --version",
                              "-m, --mode fail-open|fail-closed"};
    char out[8192];
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(parse_capturing_stdout(f, forms[i], out, sizeof(out)),
                         BF_CLI_EXIT);
        for (size_t k = 0; k < sizeof(must_say) / sizeof(must_say[0]); k++)
            if (!strstr(out, must_say[k]))
                fail_msg("%s output does not say \"%s\":\n%s", forms[i][0], must_say[k],
                         out);
    }
}

static void test_version_prints_program_and_version_and_exits(void **state)
{
    fixture_t *f = *state;
    const char *forms[][3] = {{"--version", NULL}, {"-V", NULL}, {"-v", "-V", NULL}};
    char want[128], out[256];
    snprintf(want, sizeof(want), "bf-test %s\n", bf_version());
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(parse_capturing_stdout(f, forms[i], out, sizeof(out)),
                         BF_CLI_EXIT);
        assert_string_equal(out, want);
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults_apply_without_flags_or_env),
        T(test_enum_takes_its_names_only),
        T(test_flag_beats_env_beats_default),
        T(test_flag_value_after_equals_or_as_next_argument),
        T(test_short_flags_set_their_settings),
        T(test_bool_flag_needs_no_value),
        T(test_positional_arguments_follow_options),
        T(test_number_errors_name_the_setting),
        T(test_unknown_option_is_named),
        T(test_missing_value_is_reported),
        T(test_secret_is_refused_on_command_line),
        T(test_secret_comes_from_environment),
        T(test_secret_file_is_read_without_trailing_newline),
        T(test_missing_secret_file_is_an_error),
        T(test_X_flags_collect_kafka_properties),
        T(test_X_without_key_value_is_an_error),
        T(test_X_is_unknown_when_program_takes_no_kafka_properties),
        T(test_properties_file_skips_comments_and_blank_lines),
        T(test_properties_file_error_names_file_and_line),
        T(test_properties_file_error_line_counts_blank_lines),
        T(test_kprops_get_returns_last_value),
        T(test_help_prints_the_table_and_exits),
        T(test_version_prints_program_and_version_and_exits),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
