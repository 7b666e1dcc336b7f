/*
 * test_recommend.c - the cost recommendations (autoscaler/recommend.c):
 * the live history's steps and idle time, the fleet search against the
 * backtest itself (the settings it picks are the cheapest of its grid that
 * met the SLO, and `backtest` run with them reports the same cost), the
 * routing arithmetic on a table of providers, the budget run-out, and the
 * `recommend` subcommand as an operator runs it on a trace and results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

#include "autoscaler/recommend.h"

#define PROGRAM BF_BIN_DIR "/bountyfleet-autoscaler"
#define T0      1769853600.0 /* 2026-01-31 10:00:00 UTC */

static char dir[64], trace_path[128], results_path[128];

/* The trace setup() wrote, read as the subcommands read it. */
static void fill_trace(bf_trace_t *tr)
{
    char errstr[256];
    assert_int_equal(bf_trace_read(trace_path, 60, tr, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(tr->steps, 2 * 288);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_recommend_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(trace_path, sizeof(trace_path), "%s/trace.csv", dir);
    snprintf(results_path, sizeof(results_path), "%s/results.jsonl", dir);
    /* Two days of 5-minute steps: 1 report/s at night, 5 from 08:00 to
     * 20:00 UTC (T0 is 10:00). */
    FILE *fp = fopen(trace_path, "w");
    if (!fp)
        return -1;
    fprintf(fp, "timestamp,value\n");
    for (int i = 0; i < 2 * 288; i++) {
        int hour = (10 + i / 12) % 24;
        fprintf(fp, "%d,%d\n", (int)T0 + i * 300, hour >= 8 && hour < 20 ? 1500 : 300);
    }
    fclose(fp);
    /* 100 results: openai answers 60 reports (3 analyses each, 0.003 USD a
     * call), gemini 40 (0.001 a call, one of its 120 calls failed). */
    fp = fopen(results_path, "w");
    if (!fp)
        return -1;
    for (int r = 0; r < 100; r++) {
        const char *p = r < 60 ? "openai" : "gemini";
        double cost = r < 60 ? 0.003 : 0.001;
        fprintf(fp, "{\"report_id\":\"r%d\",\"status\":\"VALID\",\"analyses\":[", r);
        static const char *kinds[] = {"QUALITY", "PLAUSIBILITY", "SEVERITY"};
        for (int k = 0; k < 3; k++)
            fprintf(fp, "%s{\"kind\":\"%s\",\"provider\":\"%s\",\"cost_usd\":%g%s}",
                    k ? "," : "", kinds[k], p, r == 99 && k == 0 ? 0 : cost,
                    r == 99 && k == 0 ? ",\"error\":\"timeout\"" : "");
        fprintf(fp, "],\"total_cost_usd\":%g,\"validated_at\":%lld}\n",
                r == 99 ? 2 * cost : 3 * cost, (long long)(T0 * 1000) + r);
    }
    /* and 10 duplicates, free */
    for (int r = 0; r < 10; r++)
        fprintf(fp,
                "{\"report_id\":\"d%d\",\"status\":\"DUPLICATE\",\"analyses\":[],"
                "\"total_cost_usd\":0}\n",
                r);
    return fclose(fp);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_history_closes_steps_and_counts_idle_time(void **unused)
{
    (void)unused;
    bf_recommend_history_t h;
    bf_recommend_history_init(&h, 60);
    bf_recommend_history_add(&h, T0, 999, 999, 4, 1); /* only starts the clock */
    for (int k = 1; k <= 12; k++) /* 2 minutes of 10 s ticks, 5 arrivals each */
        bf_recommend_history_add(&h, T0 + 10 * k, 5, 10, 2, 1);
    bf_trace_t tr;
    bf_recommend_history_trace(&h, &tr);
    assert_int_equal(tr.steps, 2);
    assert_true(tr.arrivals[0] == 30 && tr.arrivals[1] == 30);
    assert_true(tr.start == T0);
    bf_trace_free(&tr);
    /* 2 workers for 120 s paid; 120 reports at 1/s needed 120 worker-s */
    assert_true(fabs(h.worker_hours - 240.0 / 3600) < 1e-12);
    assert_true(fabs(h.busy_worker_hours - 120.0 / 3600) < 1e-12);
    /* a silence of ten minutes closes ten steps, its arrivals in the first
     * (as the scaler books them) */
    bf_recommend_history_add(&h, T0 + 720, 50, 0, 0, 1);
    bf_recommend_history_trace(&h, &tr);
    assert_int_equal(tr.steps, 12);
    assert_true(tr.arrivals[11] == 0 && tr.arrivals[2] == 50);
    bf_trace_free(&tr);
    /* the ring keeps the newest week */
    for (int k = 1; k <= BF_RECOMMEND_MAX_STEPS; k++)
        bf_recommend_history_add(&h, T0 + 720 + 60.0 * k, (double)k, 0, 1, 1);
    bf_recommend_history_trace(&h, &tr);
    assert_int_equal(tr.steps, BF_RECOMMEND_MAX_STEPS);
    assert_true(tr.arrivals[tr.steps - 1] == BF_RECOMMEND_MAX_STEPS);
    assert_true(tr.start == T0 + 720); /* the 12 oldest steps dropped */
    bf_trace_free(&tr);
    bf_recommend_history_free(&h);
}

static bf_backtest_settings_t settings(int64_t min, int64_t max, double delay)
{
    return (bf_backtest_settings_t){.worker_rate = 0.5,
                                    .startup_s = 60,
                                    .partitions = 32,
                                    .slo_s = 60,
                                    .price = 0.1,
                                    .min = min,
                                    .max = max,
                                    .scale_down_delay_s = delay,
                                    .horizon_s = 300};
}

/* The cost of the bountyfleet policy that `backtest` prints for @p s. */
static double backtest_cost(const bf_backtest_settings_t *s)
{
    char cmd[1024];
    snprintf(
        cmd, sizeof(cmd),
        "%s backtest --trace %s --worker-rate %g --startup %g --partitions %lld "
        "--slo %g --price %g --min %lld --max %lld --scale-down-delay %g --format json",
        PROGRAM, trace_path, s->worker_rate, s->startup_s, (long long)s->partitions,
        s->slo_s, s->price, (long long)s->min, (long long)s->max, s->scale_down_delay_s);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    double cost = json_number_value(
        json_object_get(json_array_get(json_object_get(o, "policies"), 0), "cost_usd"));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(o, "policies"), 0), "name")),
                        "bountyfleet");
    json_decref(o);
    return cost;
}

static void test_fleet_search_picks_the_cheapest_that_met_the_slo(void **unused)
{
    (void)unused;
    bf_trace_t tr;
    fill_trace(&tr);
    /* --max 3 is too few for the day's 5 reports/s at 0.5 each */
    bf_backtest_settings_t now = settings(1, 3, 300);
    bf_recommend_fleet_t f;
    assert_int_equal(bf_recommend_fleet(&now, &tr, &f), 0);
    assert_true(f.replays > 10 && f.replays <= BF_RECOMMEND_MAX_REPLAYS);
    assert_true(f.met);
    assert_true(f.current.p95_queue_delay_s > now.slo_s); /* what it is now misses */
    assert_true(f.best_outcome.p95_queue_delay_s <= now.slo_s);
    assert_true(f.best.max >= 10); /* ceil(5 / 0.5) for the peak */
    /* the backtest itself agrees on what the recommended settings cost */
    assert_true(fabs(backtest_cost(&f.best) - f.best_outcome.cost_usd) < 1e-3);
    /* and nothing in the grid that met the SLO was cheaper */
    static const int64_t mins[] = {0, 1};
    static const int64_t maxes[] = {3, 10, 13, 15, 20};
    static const double delays[] = {0, 60, 300, 900};
    for (size_t a = 0; a < 2; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t c = 0; c < 4; c++) {
                bf_backtest_settings_t s = settings(mins[a], maxes[b], delays[c]);
                bf_backtest_outcome_t o;
                assert_int_equal(bf_backtest_replay(&s, &tr, &o, NULL), 0);
                if (o.p95_queue_delay_s <= s.slo_s &&
                    o.worker_hours < f.best_outcome.worker_hours - 1e-9)
                    fail_msg(
                        "--min %lld --max %lld --scale-down-delay %g: %g worker-hours "
                        "< %g of the pick",
                        (long long)s.min, (long long)s.max, s.scale_down_delay_s,
                        o.worker_hours, f.best_outcome.worker_hours);
            }
    /* an SLO nobody can meet: says so, with the lowest p95 found */
    bf_backtest_settings_t tight = settings(1, 3, 300);
    tight.partitions = 2; /* at most 2 consumers: 1 report/s against 5 */
    assert_int_equal(bf_recommend_fleet(&tight, &tr, &f), 0);
    assert_false(f.met);
    bf_trace_free(&tr);
}

static void cell(bf_aispend_provider_t *p, const char *name, int64_t n, int64_t failed,
                 double each)
{
    snprintf(p->name, sizeof(p->name), "%s", name);
    for (int k = 0; k < BF_AISPEND_KINDS; k++)
        p->kind[k] = (bf_aispend_cell_t){.analyses = n,
                                         .failed = failed,
                                         .cost_usd = (double)(n - failed) * each,
                                         .ok_cost_usd = (double)(n - failed) * each};
}

static void test_routing_takes_the_cheapest_acceptable_provider(void **unused)
{
    (void)unused;
    bf_aispend_t *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    a->count = 4;
    cell(&a->providers[0], "anthropic", 100, 0, 0.004);  /* used most, dearest */
    cell(&a->providers[1], "openai", 50, 1, 0.002);      /* 2 % failed: acceptable */
    cell(&a->providers[2], "cheapfail", 50, 10, 0.0005); /* 20 % failed */
    cell(&a->providers[3], "rare", 5, 0, 0.0001);        /* too few to judge */
    bf_recommend_routing_t r;
    bf_recommend_routing(a, &r);
    assert_true(r.found);
    assert_string_equal(r.provider, "openai");
    assert_int_equal(r.analyses, 3 * 205);
    /* actual: 3 kinds x (100*0.004 + 49*0.002 + 40*0.0005 + 5*0.0001) */
    assert_true(fabs(r.actual_usd - 3 * (0.4 + 0.098 + 0.02 + 0.0005)) < 1e-9);
    /* every analysis at openai's price of an answered one */
    assert_true(fabs(r.routed_usd - 3 * 205 * 0.002) < 1e-9);
    assert_true(fabs(r.failure_share - 3.0 / 150) < 1e-9);
    /* nobody acceptable */
    a->count = 1;
    a->providers[0].kind[0].failed = 50;
    bf_recommend_routing(a, &r);
    assert_false(r.found);
    free(a);
    assert_true(bf_recommend_hours_to_budget(10, 4, 2) == 3);
    assert_true(bf_recommend_hours_to_budget(10, 12, 2) == 0);
    assert_true(isinf(bf_recommend_hours_to_budget(10, 4, 0)));
}

static json_t *render(const bf_recommend_input_t *in)
{
    char *text = bf_recommend_render(in);
    json_t *o = json_loads(text, 0, NULL);
    if (!o)
        fail_msg("not JSON: %s", text);
    free(text);
    return o;
}

static json_t *find(json_t *doc, const char *list, const char *kind)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, list), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0)
            return e;
    }
    return NULL;
}

static void test_budget_runout_warns_only_before_the_period_ends(void **unused)
{
    (void)unused;
    /* a day's budget of 10 USD, 4 spent, 10 h left; 1 USD per worker-hour */
    bf_budget_status_t b = {.limited = true};
    b.period[BF_BUDGET_DAY] =
        (bf_budget_period_status_t){.limit = 10, .spent = 4, .hours_left = 10};
    bf_recommend_input_t in = {.source = "live",
                               .wall = T0,
                               .fleet = settings(0, 100, 60),
                               .target_utilization = 1,
                               .reports = -1,
                               .budget = &b,
                               .forecast_rate = 0.5, /* one worker: 6 h to go */
                               .offpeak_workers = -1};
    in.fleet.price = 1;
    json_t *o = render(&in);
    json_t *w = find(o, "recommendations", "budget_runout");
    assert_non_null(w);
    json_t *data = json_object_get(w, "data");
    assert_true(json_number_value(json_object_get(data, "hours_to_exhaustion")) == 6);
    assert_int_equal(json_integer_value(json_object_get(data, "workers_at_forecast")), 1);
    assert_string_equal(json_string_value(json_object_get(data, "runs_out_at")),
                        "2026-01-31T16:00:00Z");
    assert_string_equal(json_string_value(json_object_get(w, "severity")), "warning");
    json_decref(o);
    in.forecast_rate = 0.25 * 0.5;          /* still one worker (--min 0, ceil): 6 h */
    b.period[BF_BUDGET_DAY].hours_left = 5; /* the day ends first */
    o = render(&in);
    assert_null(find(o, "recommendations", "budget_runout"));
    /* and without history or reports, those say why */
    assert_non_null(find(o, "not_available", "fleet_settings"));
    assert_non_null(find(o, "not_available", "ai_spend"));
    json_decref(o);
}

static int run(const char *args, char **out, char **err)
{
    char cmd[1024], errfile[128];
    snprintf(errfile, sizeof(errfile), "%s/stderr", dir);
    snprintf(cmd, sizeof(cmd), "%s %s 2>%s", PROGRAM, args, errfile);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 20;
    *out = calloc(1, cap);
    assert_non_null(*out);
    size_t n = fread(*out, 1, cap - 1, p);
    (*out)[n] = '\0';
    int status = pclose(p);
    FILE *e = fopen(errfile, "r");
    assert_non_null(e);
    *err = calloc(1, 4096);
    n = fread(*err, 1, 4095, e);
    fclose(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_recommend_subcommand_on_a_trace_and_results(void **unused)
{
    (void)unused;
    char args[1024], *out, *err;
    snprintf(args, sizeof(args),
             "recommend --trace %s --validations %s --worker-rate 0.5 --min 1 --max 3 "
             "--price 0.1 --budget-daily 1 --format json",
             trace_path, results_path);
    assert_int_equal(run(args, &out, &err), 0);
    json_t *o = json_loads(out, 0, NULL);
    if (!o)
        fail_msg("not JSON: %s (%s)", out, err);
    assert_string_equal(json_string_value(json_object_get(o, "source")), "trace");
    json_t *fleet = json_object_get(find(o, "recommendations", "fleet_settings"), "data");
    assert_non_null(fleet);
    assert_true(json_is_true(json_object_get(fleet, "meets_slo")));
    assert_false(
        json_is_true(json_object_get(json_object_get(fleet, "current"), "meets_slo")));
    json_t *ai = json_object_get(find(o, "recommendations", "ai_spend"), "data");
    assert_int_equal(json_integer_value(json_object_get(ai, "reports")), 110);
    assert_int_equal(json_integer_value(json_object_get(ai, "duplicates")), 10);
    /* 60 x 0.009 + 39 x 0.003 + 0.002 */
    double usd = 60 * 0.009 + 39 * 0.003 + 0.002;
    assert_true(fabs(json_number_value(json_object_get(ai, "ai_usd")) - usd) < 1e-9);
    assert_int_equal(json_array_size(json_object_get(ai, "providers")), 2);
    json_t *route = json_object_get(find(o, "recommendations", "ai_routing"), "data");
    assert_string_equal(json_string_value(json_object_get(route, "provider")), "gemini");
    /* all 300 analyses at gemini's 0.001 */
    assert_true(fabs(json_number_value(json_object_get(route, "routed_usd")) - 0.3) <
                1e-9);
    /* a daily budget of 1 USD cannot pay 3 workers at 0.1/h for a day */
    assert_non_null(find(o, "recommendations", "budget_runout"));
    assert_non_null(find(o, "recommendations", "idle_spend"));
    json_decref(o);
    free(out);
    free(err);

    snprintf(args, sizeof(args), "recommend --trace %s --worker-rate 0.5", trace_path);
    assert_int_equal(run(args, &out, &err), 0);
    assert_non_null(strstr(out, "fleet_settings: "));
    assert_non_null(strstr(out, "[n/a] ai_routing: "));
    free(out);
    free(err);

    static const struct {
        const char *args;
        int status;
        const char *says;
    } bad[] = {
        {"recommend", 2, "--trace"},
        {"recommend --trace %s --format xml", 2, "--format"},
        {"recommend --trace %s --min 5 --max 2", 2, "--min"},
        {"recommend --trace %s --validations /nonexistent.jsonl", 1,
         "/nonexistent.jsonl"},
        {"recommend --trace %s --validations %s", 1, "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(args, sizeof(args), bad[i].args, trace_path, trace_path);
        int status = run(args, &out, &err);
        if (status != bad[i].status || !strstr(err, bad[i].says) ||
            strchr(err, '\n') != err + strlen(err) - 1)
            fail_msg("%s: status %d, stderr \"%s\"", args, status, err);
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_closes_steps_and_counts_idle_time),
        cmocka_unit_test(test_fleet_search_picks_the_cheapest_that_met_the_slo),
        cmocka_unit_test(test_routing_takes_the_cheapest_acceptable_provider),
        cmocka_unit_test(test_budget_runout_warns_only_before_the_period_ends),
        cmocka_unit_test(test_recommend_subcommand_on_a_trace_and_results),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
