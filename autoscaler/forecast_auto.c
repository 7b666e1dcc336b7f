/*
 * forecast_auto.c - the forecast the autoscaler runs (BF_FORECAST_AUTO in
 * forecast.h): model selection on held-out data, a combination with the
 * recent level, and an empirical interval.
 *
 * Why. Compared on real traces with what a data scientist would run
 * (statsmodels' exponential smoothing, STL, seasonal-naive: BENCHMARKS.md), the
 * fixed rule of before (the weekly season as soon as two weeks fit,
 * constants from the few days left after its warm-up) lost where the
 * weekly pattern is weak and the 12-step moving average beat it on the
 * noisy 5-minute traces. So nothing is assumed:
 *
 *   Selection. Every structure the seasons allow (none, the daily season,
 *   the weekly alone, both) with every point of a small grid of constants
 *   (alpha x beta x gamma x omega) and of combination settings is run, one
 *   after the other, over the history the model holds (its ring). A run
 *   is scored by the mean absolute error of its forecasts `horizon` steps
 *   ahead over the newer part of that history: each forecast is made
 *   before its target is seen (a rolling origin), and the part scored is
 *   the same for every run, from where the slowest eligible structure has
 *   started (two of its seasons) to the end. A structure is eligible once
 *   the history holds three of its longest season, so the part scored is
 *   at least a third of the history (a week of validation for the weekly
 *   season). The best run's final state becomes the live engine; ties go
 *   to the simpler structure (the order below). Selections run after 8,
 *   16, 32, ... steps, then once per daily season (per 60 steps without
 *   one): the choice follows the history as it grows. Cost: runs x
 *   history steps, bounded by the ring (three weeks; 30,240 steps at
 *   one-minute steps) - see BENCHMARKS.md for the milliseconds.
 *
 *   Combination. The engine's forecast S is mixed with the recent level L
 *   (the mean of the observed values among the last `window` steps, the
 *   moving-average baseline) as w S + (1 - w) L, w = eL^2 / (eS^2 + eL^2),
 *   where eS and eL are exponentially weighted means of the two one-step
 *   absolute errors (weights by inverse squared error, Bates & Granger
 *   1969). A seasonal model whose recent errors are worse than the level's
 *   hands over to the level, and takes over again when it fits better.
 *   How fast the means forget (12 or 96 steps), or whether the level is
 *   used at all, is part of the grid.
 *
 *   Interval. The 95 % interval is the forecast +- the conformal 95 % quantile
 *   of the last BF_FORECAST_INTERVAL_ERRORS errors at `horizon` steps
 *   (widened by sqrt(h / horizon) for other horizons; the largest error
 *   while fewer than 19 are known): the errors of count data are neither
 *   normal nor of constant spread, and a normal RMSE interval covered
 *   80-90 % on the real traces. The errors are relative to the forecast
 *   they were made of (|y - F| / F, and the interval scales with the
 *   forecast it is for): arrivals spread more when there are more of them,
 *   so errors from a quiet start or a night do not set the width at a
 *   peak (an absolute quantile covered 79 % of a rising hour of LLM
 *   requests, 97 % relative; 94-96 % either way on the long traces). A
 *   forecast below RELATIVE_FLOOR of the long-run level counts as that
 *   much, so an arrival after a forecast of nearly nothing is not an
 *   error of thousands of times.
 *
 * Missing steps (NaN in the ring) are taken without a correction by every
 * engine and scored by none.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoscaler/forecast_int.h"
#include "libbf/mem.h"

/* First selection after this many steps; the intervals then double until
 * they reach a daily season. */
#define FIRST_REFIT 8
/* Steps between selections without a daily season. */
#define REFIT_EVERY_NO_SEASON 60
/* The smallest scale of an interval error, as a share of the long-run
 * level (see Interval above). */
#define RELATIVE_FLOOR 0.1

/* How the engine is combined with the recent level: the forgetting of the
 * two error means (weight of a new error), or 0 for the engine alone. */
static const double combine_decays[] = {0, 2.0 / 13, 2.0 / 97};
#define N_COMBINE (sizeof(combine_decays) / sizeof(combine_decays[0]))

static const double alphas[] = {0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1};
static const double betas[] = {0, 0.02};
static const double gammas[] = {0.05, 0.1, 0.3};
static const double omegas[] = {0.05, 0.2};
#define N_ALPHA (sizeof(alphas) / sizeof(alphas[0]))
#define N_BETA  (sizeof(betas) / sizeof(betas[0]))
#define N_GAMMA (sizeof(gammas) / sizeof(gammas[0]))
#define N_OMEGA (sizeof(omegas) / sizeof(omegas[0]))

struct bf_forecast_auto_s {
    size_t combine;                 /* index into combine_decays */
    double err_engine, err_level;   /* EWMA of the one-step absolute errors */
    double next_engine, next_level; /* their one-step forecasts of the next step */
    size_t next_refit, refits;
    double refit_ms;
    /* the combined forecast for step k, made `horizon` steps earlier, at
     * pending[k % horizon]; NaN when none was made */
    double *pending;
    /* |error| at the horizon relative to its forecast (error_scale()) */
    double rel_err[BF_FORECAST_INTERVAL_ERRORS];
    size_t n_rel, rel_next;
    double q95;        /* 95th percentile of rel_err, updated with each error */
    double level_mean; /* long-run level: EWMA of the observed values, NaN before one */
    /* selection scratch, allocated once: the history, the recent level
     * after each of its steps, a trial engine's and the best's indices */
    double *hist, *level_at;
    double *try1, *try2, *best1, *best2;
    double *sorted; /* BF_FORECAST_INTERVAL_ERRORS, for the percentile */
};

/* The share of the engine in the combination. */
static double engine_weight(double decay, double err_engine, double err_level)
{
    if (decay == 0)
        return 1;
    double e = err_engine * err_engine, l = err_level * err_level;
    return e + l > 0 ? l / (e + l) : 0.5;
}

static double combine(double decay, double err_engine, double err_level, double engine,
                      double level)
{
    if (isnan(level))
        return engine;
    double w = engine_weight(decay, err_engine, err_level);
    return w * engine + (1 - w) * level;
}

static void ewma(double *mean, double decay, double x)
{
    *mean += (decay > 0 ? decay : 2.0 / 13) * (x - *mean);
}

void bf_forecast_auto_init(bf_forecast_t *f)
{
    bf_forecast_auto_t *a = bf_calloc(1, sizeof(*a));
    size_t h = f->conf.horizon;
    size_t longest = f->conf.season2 > f->conf.season ? f->conf.season2 : f->conf.season;
    a->pending = bf_malloc(h * sizeof(double));
    for (size_t i = 0; i < h; i++)
        a->pending[i] = NAN;
    a->hist = bf_malloc(f->cap * sizeof(double));
    a->level_at = bf_malloc(f->cap * sizeof(double));
    a->try1 = bf_calloc(longest + 1, sizeof(double));
    a->best1 = bf_calloc(longest + 1, sizeof(double));
    a->try2 = bf_calloc(f->conf.season2 + 1, sizeof(double));
    a->best2 = bf_calloc(f->conf.season2 + 1, sizeof(double));
    a->sorted = bf_malloc(BF_FORECAST_INTERVAL_ERRORS * sizeof(double));
    a->next_engine = a->next_level = a->level_mean = NAN;
    a->combine = 0;
    a->next_refit = FIRST_REFIT;
    f->autom = a;
    /* Until the first selection, nothing is known about the series: the
     * last value (the engine without season, trend or smoothing). */
    f->hw.m1 = f->hw.m2 = 0;
    f->hw.alpha = 1;
    f->hw.beta = 0;
    f->hw.book_form = true;
}

void bf_forecast_auto_free(bf_forecast_t *f)
{
    bf_forecast_auto_t *a = f->autom;
    if (!a)
        return;
    free(a->pending);
    free(a->hist);
    free(a->level_at);
    free(a->try1);
    free(a->try2);
    free(a->best1);
    free(a->best2);
    free(a->sorted);
    free(a);
    f->autom = NULL;
}

/* The k-th smallest of v[0..n-1] (reorders v): Hoare's selection. */
static double kth_smallest(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

/* The conformal 95 % quantile of the errors kept: the ceil(0.95 (n + 1))-th
 * smallest of n, which covers a new error of the same kind with at least
 * 95 % probability; the largest while n < 19 (too few to rank). */
static double quantile95(bf_forecast_auto_t *a)
{
    size_t n = a->n_rel, k = (size_t)ceil(0.95 * (double)(n + 1));
    if (k > n)
        k = n;
    memcpy(a->sorted, a->rel_err, n * sizeof(double));
    return kth_smallest(a->sorted, n, k - 1);
}

/* What an interval error is relative to for a forecast of @p v. */
static double error_scale(const bf_forecast_auto_t *a, double v)
{
    double least = isnan(a->level_mean) ? 0 : RELATIVE_FLOOR * a->level_mean;
    return fmax(v, least);
}

static void record_interval_error(bf_forecast_auto_t *a, double y, double made)
{
    double err = fabs(y - made), scale = error_scale(a, made);
    a->rel_err[a->rel_next] = err > 0 && scale > 0 ? err / scale : 0;
    a->rel_next = (a->rel_next + 1) % BF_FORECAST_INTERVAL_ERRORS;
    if (a->n_rel < BF_FORECAST_INTERVAL_ERRORS)
        a->n_rel++;
    a->q95 = quantile95(a);
}

/* One trial: an engine of @p proto's seasons and constants with combination
 * @p combine over the history; the mean absolute error at the horizon over
 * hist[from..n-1], and its final state in *out (indices in try arrays). */
typedef struct trial_s {
    bf_hw_t hw;
    double err_engine, err_level, next_engine, next_level;
} trial_t;

static double run_trial(const bf_forecast_t *f, const bf_hw_t *proto, size_t combine_i,
                        size_t n, size_t from, trial_t *out)
{
    const bf_forecast_auto_t *a = f->autom;
    size_t h = f->conf.horizon;
    double decay = combine_decays[combine_i];
    double damped1 = bf_hw_damped(1), damped = bf_hw_damped(h);
    trial_t tr = {.hw = *proto, .next_engine = NAN, .next_level = NAN};
    tr.hw.s1 = a->try1;
    tr.hw.s2 = a->try2;
    double sum = 0;
    size_t scored = 0;
    for (size_t t = 0; t < n; t++) {
        double y = a->hist[t];
        if (!isnan(y) && !isnan(tr.next_engine)) {
            ewma(&tr.err_engine, decay, fabs(y - tr.next_engine));
            if (!isnan(tr.next_level))
                ewma(&tr.err_level, decay, fabs(y - tr.next_level));
        }
        bf_hw_observe(&tr.hw, y, a->hist);
        tr.next_engine = bf_hw_point_damped(&tr.hw, 1, damped1);
        tr.next_level = a->level_at[t];
        if (t + h >= from && t + h < n && !isnan(a->hist[t + h])) {
            double s = h == 1 ? tr.next_engine : bf_hw_point_damped(&tr.hw, h, damped);
            double v = combine(decay, tr.err_engine, tr.err_level, s, tr.next_level);
            sum += fabs(a->hist[t + h] - (v > 0 ? v : 0));
            scored++;
        }
    }
    *out = tr;
    return scored ? sum / (double)scored : INFINITY;
}

/* The structures in the order of preference on a tie, as (m1, m2). */
static size_t structures(const bf_forecast_conf_t *c, size_t n, size_t out[4][2])
{
    size_t k = 0;
    out[k][0] = out[k][1] = 0;
    k++;
    if (c->season && 3 * c->season <= n) {
        out[k][0] = c->season, out[k][1] = 0;
        k++;
    }
    if (c->season2 && 3 * c->season2 <= n) {
        out[k][0] = c->season2, out[k][1] = 0;
        k++;
        if (c->season) {
            out[k][0] = c->season, out[k][1] = c->season2;
            k++;
        }
    }
    return k;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Select the structure, constants and combination on the history (see the
 * top of the file) and make the winner the live engine. */
static void refit(bf_forecast_t *f)
{
    bf_forecast_auto_t *a = f->autom;
    double started = cpu_ms();
    size_t n = f->count < f->cap ? f->count : f->cap;
    size_t w = f->conf.window;
    double sum = 0;
    size_t seen = 0;
    for (size_t t = 0; t < n; t++) { /* oldest first */
        double y = f->ring[(f->count - n + t) % f->cap];
        a->hist[t] = y;
        if (!isnan(y))
            sum += y, seen++;
        if (t >= w && !isnan(a->hist[t - w]))
            sum -= a->hist[t - w], seen--;
        a->level_at[t] = seen ? sum / (double)seen : NAN;
    }
    size_t st[4][2];
    size_t n_st = structures(&f->conf, n, st);
    size_t from = 2;
    for (size_t s = 0; s < n_st; s++) {
        size_t longest = st[s][1] ? st[s][1] : st[s][0];
        if (2 * longest > from)
            from = 2 * longest;
    }
    double best_err = INFINITY;
    trial_t best = {0};
    size_t best_combine = a->combine;
    for (size_t s = 0; s < n_st; s++) {
        bool seasonal = st[s][0] > 0, two = st[s][1] > 0;
        for (size_t ai = 0; ai < N_ALPHA; ai++)
            for (size_t bi = 0; bi < N_BETA; bi++)
                for (size_t gi = 0; gi < (seasonal ? N_GAMMA : 1); gi++)
                    for (size_t oi = 0; oi < (two ? N_OMEGA : 1); oi++)
                        for (size_t ci = 0; ci < N_COMBINE; ci++) {
                            bf_hw_t proto = {.alpha = alphas[ai],
                                             .beta = betas[bi],
                                             .gamma = seasonal ? gammas[gi] : f->hw.gamma,
                                             .omega = two ? omegas[oi] : f->hw.omega,
                                             .m1 = st[s][0],
                                             .m2 = st[s][1],
                                             .book_form = true};
                            trial_t tr;
                            double err = run_trial(f, &proto, ci, n, from, &tr);
                            if (err < best_err) {
                                best_err = err;
                                best = tr;
                                best_combine = ci;
                                /* keep the winner's indices: the next trial
                                 * overwrites the trial arrays */
                                if (tr.hw.m1)
                                    memcpy(a->best1, tr.hw.s1, tr.hw.m1 * sizeof(double));
                                if (tr.hw.m2)
                                    memcpy(a->best2, tr.hw.s2, tr.hw.m2 * sizeof(double));
                            }
                        }
    }
    if (isfinite(best_err)) {
        best.hw.s1 = a->best1;
        best.hw.s2 = a->best2;
        /* the weekly season alone runs in the first index array */
        f->hw.s1 = f->season;
        f->hw.s2 = f->season2;
        bf_hw_copy(&f->hw, &best.hw);
        a->err_engine = best.err_engine;
        a->err_level = best.err_level;
        a->next_engine = best.next_engine;
        a->next_level = best.next_level;
        a->combine = best_combine;
    }
    a->refits++;
    a->refit_ms = cpu_ms() - started;
}

double bf_forecast_auto_point(const bf_forecast_t *f, size_t h)
{
    const bf_forecast_auto_t *a = f->autom;
    double level = bf_forecast_recent_mean(f, f->conf.window);
    if (f->hw.n_obs == 0)
        return level;
    return combine(combine_decays[a->combine], a->err_engine, a->err_level,
                   bf_hw_point(&f->hw, h), level);
}

void bf_forecast_auto_step(bf_forecast_t *f, double y)
{
    bf_forecast_auto_t *a = f->autom;
    size_t h = f->conf.horizon, k = f->count - 1; /* this step's index */
    double decay = combine_decays[a->combine];
    if (!isnan(y)) {
        double made = a->pending[k % h];
        a->level_mean = isnan(a->level_mean)
                            ? y
                            : a->level_mean + 2.0 / (BF_FORECAST_INTERVAL_ERRORS + 1) *
                                                  (y - a->level_mean);
        if (!isnan(made)) {
            bf_forecast_record_error(f, y, made);
            record_interval_error(a, y, made);
        }
        if (!isnan(a->next_engine)) {
            ewma(&a->err_engine, decay, fabs(y - a->next_engine));
            if (!isnan(a->next_level))
                ewma(&a->err_level, decay, fabs(y - a->next_level));
        }
    }
    bf_hw_observe(&f->hw, y, f->ring);
    if (f->count >= a->next_refit) {
        refit(f);
        size_t every = f->conf.season ? f->conf.season : REFIT_EVERY_NO_SEASON;
        a->next_refit = f->count + (f->count < every ? f->count : every);
    }
    a->next_engine = f->hw.n_obs ? bf_hw_point(&f->hw, 1) : NAN;
    a->next_level = bf_forecast_recent_mean(f, f->conf.window);
    double v = bf_forecast_auto_point(f, h);
    a->pending[k % h] = isnan(v) ? NAN : v > 0 ? v : 0;
}

double bf_forecast_auto_half_width(const bf_forecast_t *f, size_t h)
{
    const bf_forecast_auto_t *a = f->autom;
    double v = bf_forecast_auto_point(f, h);
    return a->q95 * error_scale(a, isnan(v) || v < 0 ? 0 : v) *
           sqrt((double)h / (double)f->conf.horizon);
}

void bf_forecast_auto_status(const bf_forecast_t *f, bf_forecast_status_t *out)
{
    const bf_forecast_auto_t *a = f->autom;
    out->seasonal_weight =
        isnan(bf_forecast_recent_mean(f, f->conf.window))
            ? 1
            : engine_weight(combine_decays[a->combine], a->err_engine, a->err_level);
    out->refits = a->refits;
    out->refit_ms = a->refit_ms;
}

/* --- state ---------------------------------------------------------------- */

static json_t *number_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

void bf_forecast_auto_save(const bf_forecast_t *f, json_t *o)
{
    const bf_forecast_auto_t *a = f->autom;
    json_t *pending = bf_forecast_json_doubles(a->pending, f->conf.horizon);
    json_t *errs = bf_forecast_json_doubles(a->rel_err, BF_FORECAST_INTERVAL_ERRORS);
    json_t *st = json_pack(
        "{s:I, s:f, s:f, s:o, s:o, s:I, s:I, s:o, s:o, s:I, s:I, s:o}", "combine",
        (json_int_t)a->combine, "err_engine", a->err_engine, "err_level", a->err_level,
        "next_engine", number_or_null(a->next_engine), "next_level",
        number_or_null(a->next_level), "next_refit", (json_int_t)a->next_refit, "refits",
        (json_int_t)a->refits, "pending", pending, "rel_err", errs, "n_rel",
        (json_int_t)a->n_rel, "rel_next", (json_int_t)a->rel_next, "level_mean",
        number_or_null(a->level_mean));
    if (!st)
        abort();
    json_object_set_new(o, "auto", st);
}

/* A finite number (>= 0 unless @p signed_ok: an engine's forecast may be
 * below zero), or null for NaN when @p nullable. */
static bool read_number(const json_t *v, bool nullable, bool signed_ok, double *out)
{
    if (nullable && json_is_null(v)) {
        *out = NAN;
        return true;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
        (!signed_ok && json_number_value(v) < 0))
        return false;
    *out = json_number_value(v);
    return true;
}

bool bf_forecast_auto_load(bf_forecast_t *f, const json_t *st)
{
    bf_forecast_auto_t *a = f->autom;
    const json_t *o = json_object_get(st, "auto");
    const json_t *pending = json_object_get(o, "pending");
    const json_t *errs = json_object_get(o, "rel_err");
    bf_forecast_auto_t tmp = *a;
    size_t h = f->conf.horizon;
    double *pend = bf_malloc(h * sizeof(double));
    bool ok =
        json_is_object(o) &&
        bf_forecast_json_size(json_object_get(o, "combine"), 0, N_COMBINE - 1,
                              &tmp.combine) &&
        read_number(json_object_get(o, "err_engine"), false, false, &tmp.err_engine) &&
        read_number(json_object_get(o, "err_level"), false, false, &tmp.err_level) &&
        read_number(json_object_get(o, "next_engine"), true, true, &tmp.next_engine) &&
        read_number(json_object_get(o, "next_level"), true, false, &tmp.next_level) &&
        read_number(json_object_get(o, "level_mean"), true, false, &tmp.level_mean) &&
        bf_forecast_json_size(json_object_get(o, "next_refit"), 0, SIZE_MAX / 2,
                              &tmp.next_refit) &&
        bf_forecast_json_size(json_object_get(o, "refits"), 0, SIZE_MAX / 2,
                              &tmp.refits) &&
        bf_forecast_json_size(json_object_get(o, "n_rel"), 0, BF_FORECAST_INTERVAL_ERRORS,
                              &tmp.n_rel) &&
        bf_forecast_json_size(json_object_get(o, "rel_next"), 0,
                              BF_FORECAST_INTERVAL_ERRORS - 1, &tmp.rel_next) &&
        json_is_array(pending) && json_array_size(pending) == h && json_is_array(errs) &&
        json_array_size(errs) == BF_FORECAST_INTERVAL_ERRORS;
    for (size_t i = 0; ok && i < h; i++)
        ok = read_number(json_array_get(pending, i), true, false, &pend[i]);
    for (size_t i = 0; ok && i < BF_FORECAST_INTERVAL_ERRORS; i++)
        ok = read_number(json_array_get(errs, i), false, false, &tmp.rel_err[i]);
    /* the live engine's step count is the history it was selected on plus
     * what came since: never more than the steps taken */
    ok = ok && f->hw.t <= f->count;
    if (ok) {
        memcpy(a->pending, pend, h * sizeof(double));
        tmp.pending = a->pending;
        *a = tmp;
        a->q95 = a->n_rel ? quantile95(a) : 0;
    }
    free(pend);
    return ok;
}
