/*
 * test_backtest.c - `bountyfleet-autoscaler backtest` and `forecast-eval`
 * as an operator scripts them: the built program on a trace written here
 * (and on the real traces when ../shared/data is beside the repository),
 * its JSON contract, its CSV and SVG, and its one-line usage errors.
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
#include <math.h>

#define PROGRAM BF_BIN_DIR "/bountyfleet-autoscaler"

static char trace_path[128];
static char tmp_dir[64];

/* Two days of 5-minute steps: a quiet night, a busy day, and a burst. */
static int write_trace(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/test_backtest_XXXXXX");
    if (!mkdtemp(tmp_dir))
        return -1;
    snprintf(trace_path, sizeof(trace_path), "%s/trace.csv", tmp_dir);
    FILE *fp = fopen(trace_path, "w");
    if (!fp)
        return -1;
    fprintf(fp, "timestamp,value\n");
    for (int i = 0; i < 2 * 288; i++) {
        double hour = (double)(i % 288) / 12.0;
        double rate = 1 + 4 * fmax(0, sin((hour - 6) / 12 * M_PI)); /* reports/s */
        if (i >= 400 && i < 406)
            rate += 10;
        fprintf(fp, "%d,%.0f\n", 1700000000 + i * 300, rate * 300);
    }
    return fclose(fp);
}

static int remove_trace(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Run @p args through the shell; stdout into *out (malloc'd), the exit
 * status returned, stderr into *err when not NULL. */
static int run(const char *args, char **out, char **err)
{
    char cmd[1024], errfile[128];
    snprintf(errfile, sizeof(errfile), "%s/stderr", tmp_dir);
    snprintf(cmd, sizeof(cmd), "%s %s 2>%s", PROGRAM, args, errfile);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    *out = malloc(cap);
    assert_non_null(*out);
    size_t n;
    while ((n = fread(*out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            *out = realloc(*out, cap);
            assert_non_null(*out);
        }
    }
    (*out)[len] = '\0';
    int status = pclose(p);
    if (err) {
        FILE *e = fopen(errfile, "r");
        assert_non_null(e);
        *err = calloc(1, 4096);
        assert_non_null(*err);
        size_t got = fread(*err, 1, 4095, e);
        (*err)[got] = '\0';
        fclose(e);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static json_t *policy_named(json_t *root, const char *name)
{
    json_t *arr = json_object_get(root, "policies"), *p;
    size_t i;
    json_array_foreach(arr, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            return p;
    }
    fail_msg("no policy named %s", name);
    return NULL;
}

static double num(json_t *p, const char *key)
{
    json_t *v = json_object_get(p, key);
    if (!json_is_number(v))
        fail_msg("%s is not a number", key);
    return json_number_value(v);
}

static void check_policies(const char *out, double *bountyfleet_cost, double *peak_cost)
{
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    if (!root)
        fail_msg("not JSON (%s): %s", jerr.text, out);
    assert_int_equal(json_array_size(json_object_get(root, "policies")), 3);
    static const char *names[] = {"bountyfleet", "fixed-peak", "keda"};
    static const char *keys[] = {"worker_hours", "cost_usd", "slo_violation_minutes",
                                 "p95_queue_delay_s", "scaling_actions"};
    for (size_t i = 0; i < 3; i++) {
        json_t *p = policy_named(root, names[i]);
        for (size_t k = 0; k < 5; k++)
            assert_true(num(p, keys[k]) >= 0);
    }
    assert_true(num(policy_named(root, "fixed-peak"), "scaling_actions") == 0);
    *bountyfleet_cost = num(policy_named(root, "bountyfleet"), "cost_usd");
    *peak_cost = num(policy_named(root, "fixed-peak"), "cost_usd");
    json_decref(root);
}

static void test_json_contract_and_savings(void **state)
{
    (void)state;
    char args[512], *out;
    snprintf(args, sizeof(args),
             "backtest --trace %s --worker-rate 0.5 --startup 60 --partitions 32 "
             "--slo 60 --price 0.1 --min 1 --max 40 --format json",
             trace_path);
    assert_int_equal(run(args, &out, NULL), 0);
    double ours, peak;
    check_policies(out, &ours, &peak);
    /* the day/night cycle leaves room: following it is cheaper than the peak */
    assert_true(ours < peak);
    free(out);
}

static void test_table_csv_and_svg(void **state)
{
    (void)state;
    char args[512], *out, path[128];
    snprintf(args, sizeof(args),
             "backtest --trace %s --csv %s/series.csv --svg %s/plot.svg", trace_path,
             tmp_dir, tmp_dir);
    assert_int_equal(run(args, &out, NULL), 0);
    assert_non_null(strstr(out, "bountyfleet"));
    assert_non_null(strstr(out, "fixed-peak"));
    assert_non_null(strstr(out, "keda"));
    free(out);

    snprintf(path, sizeof(path), "%s/series.csv", tmp_dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[512];
    assert_non_null(fgets(line, sizeof(line), fp));
    assert_string_equal(line,
                        "timestamp,arrivals_per_s,forecast_per_s,workers_bountyfleet,"
                        "workers_fixed-peak,workers_keda\n");
    int rows = 0;
    while (fgets(line, sizeof(line), fp))
        rows++;
    fclose(fp);
    assert_int_equal(rows, 2 * 288);

    snprintf(path, sizeof(path), "%s/plot.svg", tmp_dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof(line), fp));
    assert_non_null(strstr(line, "<svg"));
    fclose(fp);
}

static void test_bad_flags_are_one_line_and_non_zero(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        int status;
        const char *says;
    } cases[] = {
        {"backtest", 2, "--trace"},
        {"backtest --trace %s --format xml", 2, "--format"},
        {"backtest --trace %s --min 5 --max 2", 2, "--min"},
        {"backtest --trace %s --worker-rate 0", 2, "worker-rate"},
        {"backtest --trace %s --no-such-flag", 2, "no-such-flag"},
        {"backtest --trace %s extra", 2, "extra"},
        {"backtest --trace /nonexistent/trace.csv", 1, "/nonexistent/trace.csv"},
        {"forecast-eval --trace %s --horizon 0", 2, "horizon"},
        {"--actuator none --rule sideways", 2, "--rule"},
        {"--actuator none --weights 1,2", 2, "--weights"},
        {"--actuator none --season monthly", 2, "--season"},
        {"--actuator none --budget-daily 5", 2, "--worker-price"},
        {"--actuator none --forecast-step 1", 2, "--season"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char args[512], *out, *err;
        snprintf(args, sizeof(args), cases[i].args, trace_path);
        int status = run(args, &out, &err);
        if (status != cases[i].status || !strstr(err, cases[i].says) ||
            strchr(err, '\n') != err + strlen(err) - 1)
            fail_msg("%s: status %d, stderr \"%s\"", args, status, err);
        free(out);
        free(err);
    }
}

/* forecast-eval on a trace with a hole: a constant 120 arrivals a minute
 * for 100 minutes, rows missing for minutes 70..79. Fit part 30 steps and
 * a one-step horizon: targets 30..99, of which the ten in the hole are
 * skipped and sixty scored; every model forecasts 2/s exactly, so every
 * score is 0 and every actual is inside the interval. */
static void test_forecast_eval_skips_gaps(void **state)
{
    (void)state;
    char path[160], args[400], *out;
    snprintf(path, sizeof(path), "%s/gap.csv", tmp_dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "timestamp,value\n");
    for (int i = 0; i < 100; i++)
        if (i < 70 || i >= 80)
            fprintf(fp, "%d,120\n", 1700000000 + 60 * i);
    assert_int_equal(fclose(fp), 0);
    snprintf(args, sizeof(args), "forecast-eval --trace %s --horizon 60", path);
    assert_int_equal(run(args, &out, NULL), 0);
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_int_equal(num(o, "steps"), 100);
    assert_int_equal(num(o, "observed_steps"), 90);
    assert_int_equal(num(o, "scored_steps"), 60);
    assert_int_equal(num(o, "skipped_steps"), 10);
    json_t *models = json_object_get(o, "models");
    static const char *names[] = {"forecast", "seasonal-naive", "moving-average"};
    for (size_t i = 0; i < 3; i++) {
        json_t *m = json_object_get(models, names[i]);
        if (num(m, "smape") > 1e-9 || num(m, "coverage") < 1)
            fail_msg("%s: sMAPE %g coverage %g", names[i], num(m, "smape"),
                     num(m, "coverage"));
    }
    json_decref(o);
    free(out);
}

/* The real traces, when the shared data sits beside the repository. */
static void test_real_traces(void **state)
{
    (void)state;
    static const char *traces[] = {"nab_nyc_taxi_30min.csv", "nasa_http_1995_5min.csv"};
    char path[512];
    snprintf(path, sizeof(path), "%s/traces/%s", BF_SHARED_DATA_DIR, traces[0]);
    if (access(path, R_OK) != 0)
        skip();
    for (size_t i = 0; i < sizeof(traces) / sizeof(traces[0]); i++) {
        char args[700], *out;
        snprintf(path, sizeof(path), "%s/traces/%s", BF_SHARED_DATA_DIR, traces[i]);
        snprintf(args, sizeof(args), "forecast-eval --trace %s", path);
        assert_int_equal(run(args, &out, NULL), 0);
        json_error_t jerr;
        json_t *o = json_loads(out, 0, &jerr);
        assert_non_null(o);
        json_t *models = json_object_get(o, "models");
        static const char *names[] = {"forecast", "holt-winters", "seasonal-naive",
                                      "moving-average"};
        for (size_t k = 0; k < 4; k++) {
            json_t *m = json_object_get(models, names[k]);
            assert_true(num(m, "smape") >= 0 && num(m, "mase") >= 0);
            assert_true(num(m, "coverage") >= 0 && num(m, "coverage") <= 1);
        }
        assert_non_null(json_string_value(
            json_object_get(json_object_get(o, "forecast"), "structure")));
        json_decref(o);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_contract_and_savings),
        cmocka_unit_test(test_table_csv_and_svg),
        cmocka_unit_test(test_bad_flags_are_one_line_and_non_zero),
        cmocka_unit_test(test_forecast_eval_skips_gaps),
        cmocka_unit_test(test_real_traces),
    };
    return cmocka_run_group_tests(tests, write_trace, remove_trace);
}
