/*
 * forecast_eval.c - the forecast accuracy subcommand (see forecast_eval.h).
 */
#include "autoscaler/forecast_eval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autoscaler/forecast.h"
#include "autoscaler/offline.h"
#include "libbf/trace.h"
#include "libbf/config.h"
#include "libbf/mem.h"

#define PROGRAM "bountyfleet-autoscaler forecast-eval"

enum { FORECAST, HOLT_WINTERS, SEASONAL_NAIVE, MOVING_AVERAGE, N_MODELS };
static const char *const model_names[N_MODELS] = {"forecast", "holt-winters",
                                                  "seasonal-naive", "moving-average"};

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
     "share of the trace before scoring starts (the old Holt-Winters is fitted on it)",
     OPT(fit_fraction)},
};

static const bf_cli_t cli = {
    .program = PROGRAM,
    .summary = "Score the autoscaler's forecast, the Holt-Winters of before, "
               "seasonal-naive and a moving average on a recorded trace (sMAPE, MASE, "
               "coverage of the 95 % interval) and print one JSON object.",
    .usage = "--trace FILE.csv [OPTIONS]",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
};

void bf_eval_score_add(bf_eval_score_t *s, double forecast, double lower, double upper,
                       double actual, double step_s)
{
    double denom = fmax(fabs(forecast) + fabs(actual), 1 / step_s);
    s->smape_sum += 2 * fabs(forecast - actual) / denom;
    s->abs_sum += fabs(forecast - actual);
    s->covered += actual >= lower && actual <= upper;
    s->n++;
}

double bf_eval_mase_scale(const double *y, const bool *observed, size_t n, size_t m)
{
    double sum = 0;
    size_t pairs = 0;
    for (size_t t = m; t < n; t++)
        if (!observed || (observed[t] && observed[t - m])) {
            sum += fabs(y[t] - y[t - m]);
            pairs++;
        }
    return pairs ? sum / (double)pairs : 0;
}

/* Feed step @p t to model @p k: the forecast runs on observed steps only,
 * the Holt-Winters of before saw a gap as zero arrivals. */
static void feed(bf_forecast_t *f, int k, const bf_trace_t *tr, const double *rate,
                 size_t t)
{
    if (tr->observed[t] || k == HOLT_WINTERS)
        bf_forecast_observe(f, rate[t]);
    else
        bf_forecast_skip(f);
}

static json_t *model_json(const bf_eval_score_t *s, double scale)
{
    double mae = s->abs_sum / (double)s->n;
    return json_pack("{s:f, s:o, s:f}", "smape", s->smape_sum / (double)s->n, "mase",
                     scale > 0 ? json_real(mae / scale) : json_null(), "coverage",
                     (double)s->covered / (double)s->n);
}

static int evaluate(const eval_config_t *cfg, const bf_trace_t *tr)
{
    size_t n = tr->steps;
    double *rate = bf_malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        rate[i] = tr->arrivals[i] / tr->step_s;
    size_t h = (size_t)ceil(cfg->horizon / tr->step_s - 1e-9);
    if (h < 1)
        h = 1;
    size_t fit_n = (size_t)((double)n * cfg->fit_fraction);
    size_t season, season2, daily, weekly;
    bf_forecast_seasons_for(tr->step_s, tr->step_s * (double)fit_n, &season, &season2);
    bf_forecast_auto_seasons(tr->step_s, &daily, &weekly);
    /* The baselines and MASE's naive lag keep the one season of the
     * single-season rule (weekly once three weeks fit, else daily). */
    size_t naive = bf_forecast_season_for(tr->step_s, tr->step_s * (double)fit_n);
    int rc = 1;

    bf_forecast_conf_t confs[N_MODELS] = {
        [FORECAST] = {.model = BF_FORECAST_AUTO,
                      .season = daily,
                      .season2 = weekly,
                      .horizon = h},
        [HOLT_WINTERS] = {.model = BF_FORECAST_HOLT_WINTERS,
                          .season = season,
                          .season2 = season2},
        [SEASONAL_NAIVE] = {.model = BF_FORECAST_SEASONAL_NAIVE, .season = naive},
        [MOVING_AVERAGE] = {.model = BF_FORECAST_MOVING_AVERAGE, .season = naive},
    };
    bf_forecast_fit(&confs[HOLT_WINTERS], rate, fit_n, h);
    bf_forecast_t *f[N_MODELS] = {0};
    bf_eval_score_t sc[N_MODELS] = {0};
    char errstr[256];
    for (int k = 0; k < N_MODELS; k++)
        if (!(f[k] = bf_forecast_new(&confs[k], errstr, sizeof(errstr)))) {
            fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
            goto out;
        }
    double scale = bf_eval_mase_scale(rate, tr->observed, n, naive ? naive : 1);
    size_t skipped = 0, refits = 0;
    double refit_ms_max = 0, refit_ms_sum = 0;
    for (size_t t = 0; t + h < n; t++) {
        for (int k = 0; k < N_MODELS; k++)
            feed(f[k], k, tr, rate, t);
        bf_forecast_status_t st;
        bf_forecast_status(f[FORECAST], &st);
        if (st.refits > refits) {
            refits = st.refits;
            refit_ms_max = fmax(refit_ms_max, st.refit_ms);
            refit_ms_sum += st.refit_ms;
        }
        if (t + 1 < fit_n)
            continue;
        if (!tr->observed[t + h]) {
            skipped++;
            continue;
        }
        for (int k = 0; k < N_MODELS; k++) {
            bf_forecast_point_t p;
            bf_forecast_predict(f[k], h, &p);
            bf_eval_score_add(&sc[k], p.value, p.lower, p.upper, rate[t + h], tr->step_s);
        }
    }
    if (sc[FORECAST].n == 0) {
        fprintf(stderr, "%s: %s: too short to score a %zu-step horizon\n", PROGRAM,
                cfg->trace, h);
        goto out;
    }
    json_t *models = json_object();
    for (int k = 0; k < N_MODELS; k++)
        json_object_set_new(models, model_names[k], model_json(&sc[k], scale));
    bf_forecast_status_t st;
    bf_forecast_status(f[FORECAST], &st);
    const bf_forecast_conf_t *old = bf_forecast_conf(f[HOLT_WINTERS]);
    json_t *o = json_pack(
        "{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I,"
        " s:{s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:f, s:f},"
        " s:{s:I, s:I, s:f, s:f, s:f, s:f}, s:o}",
        "trace", cfg->trace, "step_s", tr->step_s, "steps", (json_int_t)n,
        "observed_steps", (json_int_t)tr->observed_steps, "horizon_steps", (json_int_t)h,
        "fit_steps", (json_int_t)fit_n, "scored_steps", (json_int_t)sc[FORECAST].n,
        "skipped_steps", (json_int_t)skipped, "mase_lag", (json_int_t)(naive ? naive : 1),
        "mase_scale", scale, "naive_season_steps", (json_int_t)naive, "forecast",
        "structure", bf_forecast_structure_name(st.structure), "seasonal_weight",
        st.seasonal_weight, "alpha", st.alpha, "beta", st.beta, "gamma", st.gamma,
        "omega", st.omega, "refits", (json_int_t)st.refits, "refit_ms_max", refit_ms_max,
        "refit_ms_mean", refits ? refit_ms_sum / (double)refits : 0.0, "holt_winters",
        "season_steps", (json_int_t)season, "season2_steps", (json_int_t)season2, "alpha",
        old->alpha, "beta", old->beta, "gamma", old->gamma, "omega", old->omega, "models",
        models);
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
    int rc = bf_offline_cli_parse(&cli, &cfg, argc, argv, &cfg.trace);
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
