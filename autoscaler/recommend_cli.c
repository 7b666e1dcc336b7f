/*
 * recommend_cli.c - `bountyfleet-autoscaler recommend`: the cost
 * recommendations (recommend.h) for a recorded trace instead of the live
 * fleet.
 *
 *   bountyfleet-autoscaler recommend --trace FILE.csv [--worker-rate R]
 *       [--startup S] [--partitions P] [--slo S] [--price P] [--min N]
 *       [--max N] [--scale-down-delay S] [--budget-daily USD ...]
 *       [--validations FILE.jsonl] [--format text|json]
 *
 * The trace is the history: the fleet search replays it, the idle share
 * and the period's spend come from the replay of the settings given, the
 * budget warning looks ahead from the trace's end at the policy's
 * forecast there, as if the trace had just been recorded. AI spend and
 * routing need results: --validations takes the validation records as
 * JSON lines (kcat -C -t bountyfleet.validations -e -f '%s\n' writes
 * them); without it those are "not_available".
 */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/decide.h"
#include "autoscaler/offline.h"
#include "autoscaler/recommend.h"
#include "libbf/config.h"
#include "libbf/mem.h"

#define PROGRAM "bountyfleet-autoscaler recommend"
/* A validation record is a few KiB; a longer line is not one. */
#define MAX_LINE (1024 * 1024)

typedef struct recommend_config_s {
    char *trace;
    double worker_rate;
    double startup;
    int64_t partitions;
    double slo;
    double price;
    int64_t min, max;
    double scale_down_delay;
    double budget[BF_BUDGET_PERIODS];
    char *validations;
    char *format;
} recommend_config_t;

#define OPT(field) offsetof(recommend_config_t, field)

static const bf_opt_t options[] = {
    {"trace", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "FILE.csv",
     "the recorded history: CSV timestamp,value (arrivals in the interval)", OPT(trace)},
    {"worker-rate", 0, NULL, BF_OPT_DOUBLE, "1", 1e-6, 1e9, "R",
     "reports/s one worker validates (the fleet replayed)", OPT(worker_rate)},
    {"startup", 0, NULL, BF_OPT_DOUBLE, "60", 0, 86400, "SECONDS",
     "seconds before a started worker consumes", OPT(startup)},
    {"partitions", 0, NULL, BF_OPT_INT, "32", 1, BF_DECIDE_MAX_WORKERS, "P",
     "partitions of the reports topic", OPT(partitions)},
    {"slo", 0, NULL, BF_OPT_DOUBLE, "60", 0.001, 1e9, "SECONDS",
     "p95 queueing delay the settings must meet", OPT(slo)},
    {"price", 0, NULL, BF_OPT_DOUBLE, "0.05", 0, 1e6, "USD", "price of one worker-hour",
     OPT(price)},
    {"min", 0, NULL, BF_OPT_INT, "1", 0, BF_DECIDE_MAX_WORKERS, "N",
     "--min in force now (the search starts from it)", OPT(min)},
    {"max", 0, NULL, BF_OPT_INT, "32", 1, BF_DECIDE_MAX_WORKERS, "N",
     "--max in force now", OPT(max)},
    {"scale-down-delay", 0, NULL, BF_OPT_DOUBLE, "300", 0, 86400, "SECONDS",
     "--scale-down-delay in force now", OPT(scale_down_delay)},
    {"budget-hourly", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1e12, "USD",
     "hourly budget to check (0 = none)", OPT(budget[BF_BUDGET_HOUR])},
    {"budget-daily", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1e12, "USD",
     "daily budget to check (0 = none)", OPT(budget[BF_BUDGET_DAY])},
    {"budget-monthly", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1e12, "USD",
     "monthly budget to check (0 = none)", OPT(budget[BF_BUDGET_MONTH])},
    {"validations", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "FILE.jsonl",
     "validation results as JSON lines, for the AI spend per report and provider",
     OPT(validations)},
    {"format", 0, NULL, BF_OPT_STRING, "text", 1, 0, "text|json",
     "one line per recommendation, or the JSON document of /api/v1/recommendations",
     OPT(format)},
};

static const bf_cli_t cli = {
    .program = PROGRAM,
    .summary = "Cost recommendations for a recorded arrival trace: the cheapest --min, "
               "--max and --scale-down-delay that would have met the SLO, the share of "
               "spend on idle workers, AI spend per report and provider, and budget "
               "warnings.",
    .usage = "--trace FILE.csv [OPTIONS]",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
};

/* Read JSON lines of validation records into @p a. Returns 0, or 1 after
 * saying why (a line that is not a JSON object names its number). */
static int read_validations(const char *path, bf_aispend_t *a)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        perror(path);
        return 1;
    }
    char *line = bf_malloc(MAX_LINE);
    int rc = 0;
    for (long n = 1; fgets(line, MAX_LINE, fp); n++) {
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        json_t *rec = json_loads(line, 0, NULL);
        if (!json_is_object(rec)) {
            fprintf(stderr, "%s: %s:%ld: not a JSON object\n", PROGRAM, path, n);
            json_decref(rec);
            rc = 1;
            break;
        }
        bf_aispend_add(a, rec);
        json_decref(rec);
    }
    free(line);
    fclose(fp);
    return rc;
}

/* The budgets' state at the trace's end, booking the replayed fleet step
 * by step as the live loop books the real one (budget.h). */
static void replay_budget(const recommend_config_t *c, const bf_trace_t *tr,
                          const int64_t *workers, double ai_per_report,
                          bf_budget_status_t *out)
{
    bf_budget_conf_t conf = {.worker_price = c->price};
    memcpy(conf.limit, c->budget, sizeof(conf.limit));
    bf_budget_t b;
    bf_budget_init(&b, &conf);
    bf_budget_account(&b, tr->start, 0, 0);
    for (size_t i = 0; i < tr->steps; i++)
        bf_budget_account(&b, tr->start + (double)(i + 1) * tr->step_s, workers[i],
                          ai_per_report * tr->arrivals[i]);
    bf_budget_status(&b, tr->start + (double)tr->steps * tr->step_s,
                     tr->steps ? workers[tr->steps - 1] : 0, out);
}

static int print_text(const char *doc)
{
    json_t *o = json_loads(doc, 0, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "recommendations"), i, e)
    {
        printf("[%s] %s: %s\n", json_string_value(json_object_get(e, "severity")),
               json_string_value(json_object_get(e, "kind")),
               json_string_value(json_object_get(e, "text")));
    }
    json_array_foreach(json_object_get(o, "not_available"), i, e)
    {
        printf("[n/a] %s: %s\n", json_string_value(json_object_get(e, "kind")),
               json_string_value(json_object_get(e, "why")));
    }
    json_decref(o);
    return 0;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "%s: %s\n", PROGRAM, msg);
    return 2;
}

int bf_recommend_main(int argc, char **argv)
{
    recommend_config_t cfg = {0};
    char errstr[512];
    bf_trace_t tr = {0};
    bf_aispend_t *ai = bf_calloc(1, sizeof(*ai));
    int64_t *workers = NULL;
    int rc = bf_offline_cli_parse(&cli, &cfg, argc, argv, &cfg.trace);
    if (rc >= 0)
        goto out;
    bool json = strcmp(cfg.format, "json") == 0;
    if (!json && strcmp(cfg.format, "text") != 0) {
        snprintf(errstr, sizeof(errstr), "--format: '%s' is neither text nor json",
                 cfg.format);
        rc = usage_error(errstr);
        goto out;
    }
    if (cfg.min > cfg.max) {
        snprintf(errstr, sizeof(errstr), "--min %lld is above --max %lld",
                 (long long)cfg.min, (long long)cfg.max);
        rc = usage_error(errstr);
        goto out;
    }
    rc = 1;
    if (bf_trace_read(cfg.trace, 60, &tr, errstr, sizeof(errstr)) != BF_OK) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }
    if (cfg.validations && read_validations(cfg.validations, ai) != 0)
        goto out;
    bf_backtest_settings_t now = {
        .worker_rate = cfg.worker_rate,
        .startup_s = cfg.startup,
        .partitions = cfg.partitions,
        .slo_s = cfg.slo,
        .price = cfg.price,
        .min = cfg.min,
        .max = cfg.max,
        .scale_down_delay_s = cfg.scale_down_delay,
        .horizon_s = 300, /* the backtest's and the live loop's default */
    };
    bf_backtest_outcome_t current;
    workers = bf_calloc(tr.steps, sizeof(*workers));
    if (bf_backtest_replay(&now, &tr, &current, workers) != 0)
        goto out;
    double ai_per_report = ai->results ? ai->cost_usd / (double)ai->results : 0;
    bf_budget_status_t budget;
    replay_budget(&cfg, &tr, workers, ai_per_report, &budget);
    bf_recommend_input_t in = {
        .source = "trace",
        .wall = tr.start + (double)tr.steps * tr.step_s,
        .history = &tr,
        .fleet = now,
        .target_utilization = 0.8, /* bf_decide_policy_capacity()'s */
        .worker_hours = current.worker_hours,
        .busy_worker_hours = current.served / cfg.worker_rate / 3600,
        .reports = -1,
        .ai = ai,
        .budget = &budget,
        .forecast_rate = current.forecast_last,
        .offpeak_workers = -1,
        .peak_workers = -1,
    };
    char *doc = bf_recommend_render(&in);
    rc = json ? (puts(doc) >= 0 ? 0 : 1) : print_text(doc);
    free(doc);
    if (fflush(stdout) != 0)
        rc = 1;
out:
    free(workers);
    free(ai);
    bf_trace_free(&tr);
    bf_cli_free(&cli, &cfg);
    return rc;
}
