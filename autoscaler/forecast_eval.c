/*
 * forecast_eval.c - the forecast accuracy subcommand (see forecast_eval.h).
 */
#include "autoscaler/forecast_eval.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "autoscaler/forecast.h"
#include "autoscaler/trace.h"
#include "libbf/config.h"

#define PROGRAM  "bountyfleet-autoscaler forecast-eval"
#define N_MODELS 3

typedef struct eval_config_s {
    char *trace;
    double horizon;
    double min_step;
    double fit_fraction;
} eval_config_t;

#define OPT(field) offsetof(eval_config_t, field)

static const bf_opt_t options[] = {
    {"trace", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "FILE.csv",
     "arrival trace, CSV timestamp,value", OPT(trace)},
    {"horizon", 0, NULL, BF_OPT_DOUBLE, "300", 1, 3600, "SECONDS",
     "how far ahead each forecast looks", OPT(horizon)},
    {"min-step", 0, NULL, BF_OPT_DOUBLE, "60", 0, 86400, "SECONDS",
     "shortest forecast step; finer traces are summed into steps this long",
     OPT(min_step)},
    {"fit-fraction", 0, NULL, BF_OPT_DOUBLE, "0.3", 0.05, 0.9, "F",
     "share of the trace used to fit Holt-Winters and to scale MASE; the rest is scored",
     OPT(fit_fraction)},
};

static const bf_cli_t cli = {
    .program = PROGRAM,
    .summary = "Score the Holt-Winters forecast, seasonal-naive and a moving average "
               "on a recorded trace (sMAPE, MASE) and print one JSON object.",
    .usage = "--trace FILE.csv [OPTIONS]",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
};

typedef struct score_s {
    double smape_sum, abs_sum;
    size_t n;
} score_t;

static void score_add(score_t *s, double forecast, double actual)
{
    double denom = fabs(forecast) + fabs(actual);
    s->smape_sum += denom > 0 ? 2 * fabs(forecast - actual) / denom : 0;
    s->abs_sum += fabs(forecast - actual);
    s->n++;
}

static int evaluate(const eval_config_t *cfg, const bf_trace_t *tr)
{
    double *rate = malloc(tr->steps * sizeof(double));
    if (!rate)
        abort();
    for (size_t i = 0; i < tr->steps; i++)
        rate[i] = tr->arrivals[i] / tr->step_s;
    size_t n = tr->steps;
    size_t h = (size_t)ceil(cfg->horizon / tr->step_s);
    if (h < 1)
        h = 1;
    size_t fit_n = (size_t)((double)n * cfg->fit_fraction);
    size_t season, season2;
    bf_forecast_seasons_for(tr->step_s, tr->step_s * (double)fit_n, &season, &season2);
    /* The baselines and MASE's naive lag keep the one season of the
     * single-season rule (weekly once three weeks fit, else daily), so that
     * they do not change with the Holt-Winters variant. */
    size_t naive = bf_forecast_season_for(tr->step_s, tr->step_s * (double)fit_n);
    size_t m = naive ? naive : 1;
    int rc = 1;

    bf_forecast_conf_t confs[N_MODELS] = {
        {.model = BF_FORECAST_HOLT_WINTERS, .season = season, .season2 = season2},
        {.model = BF_FORECAST_SEASONAL_NAIVE, .season = naive},
        {.model = BF_FORECAST_MOVING_AVERAGE, .season = naive},
    };
    bf_forecast_fit(&confs[0], rate, fit_n, h);
    bf_forecast_t *f[N_MODELS] = {0};
    score_t sc[N_MODELS] = {0};
    char errstr[256];
    for (int k = 0; k < N_MODELS; k++)
        if (!(f[k] = bf_forecast_new(&confs[k], errstr, sizeof(errstr)))) {
            fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
            goto out;
        }
    double scale = 0;
    size_t scale_n = 0;
    for (size_t t = m; t < fit_n && t < n; t++, scale_n++)
        scale += fabs(rate[t] - rate[t - m]);
    scale = scale_n ? scale / (double)scale_n : 0;

    for (size_t t = 0; t + h < n; t++) {
        for (int k = 0; k < N_MODELS; k++) {
            bf_forecast_observe(f[k], rate[t]);
            if (t + 1 < fit_n)
                continue;
            bf_forecast_point_t p;
            bf_forecast_predict(f[k], h, &p);
            score_add(&sc[k], p.value, rate[t + h]);
        }
    }
    if (sc[0].n == 0) {
        fprintf(stderr, "%s: %s: too short to score a %zu-step horizon\n", PROGRAM,
                cfg->trace, h);
        goto out;
    }
    json_t *models = json_object();
    for (int k = 0; k < N_MODELS; k++) {
        double mae = sc[k].abs_sum / (double)sc[k].n;
        json_object_set_new(models, bf_forecast_model_name(confs[k].model),
                            json_pack("{s:f, s:o}", "smape",
                                      sc[k].smape_sum / (double)sc[k].n, "mase",
                                      scale > 0 ? json_real(mae / scale) : json_null()));
    }
    const bf_forecast_conf_t *used = bf_forecast_conf(f[0]);
    json_t *o = json_pack(
        "{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:{s:f, s:f, s:f, s:f}, s:o}", "trace",
        cfg->trace, "step_s", tr->step_s, "season_steps", (json_int_t)season,
        "season2_steps", (json_int_t)season2, "horizon_steps", (json_int_t)h, "fit_steps",
        (json_int_t)fit_n, "scored_steps", (json_int_t)sc[0].n, "holt_winters", "alpha",
        used->alpha, "beta", used->beta, "gamma", used->gamma, "omega", used->omega,
        "models", models);
    char *text =
        o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(5))
          : NULL;
    json_decref(o);
    if (!text)
        abort();
    puts(text);
    free(text);
    rc = 0;
out:
    for (int k = 0; k < N_MODELS; k++)
        bf_forecast_destroy(f[k]);
    free(rate);
    return rc;
}

int bf_forecast_eval_main(int argc, char **argv)
{
    eval_config_t cfg = {0};
    char errstr[512];
    bf_trace_t tr = {0};
    int rc = bf_trace_cli_parse(&cli, &cfg, argc, argv, &cfg.trace);
    if (rc >= 0)
        goto out;
    if (bf_trace_read(cfg.trace, cfg.min_step, &tr, errstr, sizeof(errstr)) != BF_OK) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        rc = 1;
        goto out;
    }
    rc = evaluate(&cfg, &tr);
out:
    bf_trace_free(&tr);
    bf_cli_free(&cli, &cfg);
    return rc;
}
