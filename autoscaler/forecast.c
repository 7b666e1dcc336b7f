/*
 * forecast.c - Holt-Winters with a damped trend, and the two baselines (see
 * forecast.h for the models, the interval and the confidence).
 *
 * The update equations are the additive error-correction form of Hyndman &
 * Athanasopoulos, "Forecasting: Principles and Practice" (3rd ed.), 8.3
 * (Holt-Winters) and 8.2 (damped trend):
 *
 *   level    l_t = alpha (y_t - s_{t-m}) + (1 - alpha)(l_{t-1} + phi b_{t-1})
 *   trend    b_t = beta (l_t - l_{t-1}) + (1 - beta) phi b_{t-1}
 *   season   s_t = gamma (y_t - l_t) + (1 - gamma) s_{t-m}
 *   forecast y_{t+h} = l_t + (phi + ... + phi^h) b_t + s_{t+h-m(k+1)}
 *
 * With a second season (Taylor 2003, double-seasonal Holt-Winters; d the
 * daily indices of m1 steps, w the weekly ones of m2 steps):
 *
 *   level    l_t = alpha (y_t - d_{t-m1} - w_{t-m2}) + (1 - alpha)(l_{t-1} + phi b_{t-1})
 *   trend    as above
 *   daily    d_t = gamma (y_t - l_t - w_{t-m2}) + (1 - gamma) d_{t-m1}
 *   weekly   w_t = omega (y_t - l_t - d_{t-m1}) + (1 - omega) w_{t-m2}
 *   forecast y_{t+h} = l_t + (phi + ... + phi^h) b_t + d_{t+h-m1(k+1)} + w_{t+h-m2(k'+1)}
 *
 * The damping (phi 0.98) is what keeps a one-hour horizon sane: an
 * undamped trend fitted on a morning ramp would forecast the ramp going on
 * all day. All memory (the history ring, the seasonal indices) is allocated
 * in bf_forecast_new(), so observing never allocates.
 */
#include "autoscaler/forecast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"

#define DEFAULT_ALPHA  0.3
#define DEFAULT_BETA   0.02
#define DEFAULT_GAMMA  0.1
#define DEFAULT_OMEGA  0.1
#define DEFAULT_WINDOW 12
/* Damping of the trend; 1 would be Holt's undamped linear trend. */
#define PHI 0.98
/* Observations averaged for "now" in the trend classification. */
#define TREND_RECENT 3
/* Relative change over the horizon that counts as a trend. */
#define TREND_THRESHOLD 0.05
/* 97.5 % quantile of the normal distribution: a 95 % interval. */
#define Z95 1.96

struct bf_forecast_s {
    bf_forecast_conf_t conf;
    size_t count; /* values observed */
    double *ring; /* last `cap` values; value k steps back at (count-k) % cap */
    size_t cap;   /* >= 3 * season, >= window */
    double level; /* Holt(-Winters) state */
    double trend;
    double *season; /* conf.season indices, used once `seasonal` */
    bool seasonal;
    double *season2; /* conf.season2 indices, used once `seasonal2` */
    bool seasonal2;
    /* the last BF_FORECAST_ERRORS one-step errors */
    double sq_err[BF_FORECAST_ERRORS];     /* (y - yhat)^2 */
    double smape_term[BF_FORECAST_ERRORS]; /* 2|y - yhat| / (|y| + |yhat|) */
    size_t n_err, err_next;
};

const char *bf_forecast_model_name(bf_forecast_model_t model)
{
    switch (model) {
    case BF_FORECAST_SEASONAL_NAIVE:
        return "seasonal-naive";
    case BF_FORECAST_MOVING_AVERAGE:
        return "moving-average";
    case BF_FORECAST_HOLT_WINTERS:
        break;
    }
    return "holt-winters";
}

const char *bf_trend_name(bf_trend_t trend)
{
    switch (trend) {
    case BF_TREND_INCREASING:
        return "increasing";
    case BF_TREND_DECREASING:
        return "decreasing";
    case BF_TREND_STABLE:
        break;
    }
    return "stable";
}

size_t bf_forecast_season_for(double step_s, double history_s)
{
    static const double periods[] = {7 * 86400.0, 86400.0};
    if (!(step_s > 0))
        return 0;
    for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
        double steps = periods[i] / step_s;
        if (history_s >= 3 * periods[i] && steps >= 2 && steps <= BF_FORECAST_MAX_SEASON)
            return (size_t)llround(steps);
    }
    return 0;
}

void bf_forecast_seasons_for(double step_s, double history_s, size_t *season,
                             size_t *season2)
{
    *season2 = 0;
    *season = bf_forecast_season_for(step_s, history_s);
    if (!(step_s > 0) || history_s < 14 * 86400.0)
        return;
    double day = 86400.0 / step_s;
    if (day < 2 || 7 * day > BF_FORECAST_MAX_SEASON || fabs(day - round(day)) > 1e-9)
        return;
    *season = (size_t)llround(day);
    *season2 = 7 * *season;
}

static bool unit_interval(double x)
{
    return x >= 0 && x <= 1;
}

bf_forecast_t *bf_forecast_new(const bf_forecast_conf_t *conf, char *errstr,
                               size_t errstr_size)
{
    bf_forecast_conf_t c = *conf;
    if (c.season > BF_FORECAST_MAX_SEASON || c.season == 1) {
        snprintf(errstr, errstr_size, "forecast season of %zu steps is not in 2..%d",
                 c.season, BF_FORECAST_MAX_SEASON);
        return NULL;
    }
    if (c.season2 && (c.model != BF_FORECAST_HOLT_WINTERS || c.season == 0 ||
                      c.season2 > BF_FORECAST_MAX_SEASON || c.season2 % c.season != 0 ||
                      c.season2 < 2 * c.season)) {
        snprintf(
            errstr, errstr_size,
            "second forecast season of %zu steps is not a Holt-Winters multiple >= 2 "
            "of the season (%zu) up to %d",
            c.season2, c.season, BF_FORECAST_MAX_SEASON);
        return NULL;
    }
    if (c.window == 0)
        c.window = DEFAULT_WINDOW;
    if (c.window > BF_FORECAST_MAX_SEASON) {
        snprintf(errstr, errstr_size, "moving-average window of %zu steps is above %d",
                 c.window, BF_FORECAST_MAX_SEASON);
        return NULL;
    }
    if (c.alpha == 0 && c.beta == 0 && c.gamma == 0) {
        c.alpha = DEFAULT_ALPHA;
        c.beta = DEFAULT_BETA;
        c.gamma = DEFAULT_GAMMA;
    }
    if (c.omega == 0)
        c.omega = DEFAULT_OMEGA;
    if (!unit_interval(c.alpha) || !unit_interval(c.beta) || !unit_interval(c.gamma) ||
        !unit_interval(c.omega)) {
        snprintf(errstr, errstr_size,
                 "Holt-Winters constants must be in 0..1 (alpha %g, beta %g, gamma %g, "
                 "omega %g)",
                 c.alpha, c.beta, c.gamma, c.omega);
        return NULL;
    }
    bf_forecast_t *f = bf_calloc(1, sizeof(*f));
    f->conf = c;
    /* two seasons start the seasonal part, a third lets a refit score */
    f->cap = 3 * (c.season2 ? c.season2 : c.season);
    if (f->cap < c.window)
        f->cap = c.window;
    if (f->cap < TREND_RECENT)
        f->cap = TREND_RECENT;
    f->ring = bf_calloc(f->cap, sizeof(double));
    if (c.season)
        f->season = bf_calloc(c.season, sizeof(double));
    if (c.season2)
        f->season2 = bf_calloc(c.season2, sizeof(double));
    return f;
}

void bf_forecast_destroy(bf_forecast_t *f)
{
    if (!f)
        return;
    free(f->ring);
    free(f->season);
    free(f->season2);
    free(f);
}

size_t bf_forecast_count(const bf_forecast_t *f)
{
    return f->count;
}

const bf_forecast_conf_t *bf_forecast_conf(const bf_forecast_t *f)
{
    return &f->conf;
}

/* The value @p back steps before the next one (1 = the latest). The caller
 * keeps 1 <= back <= min(count, cap). */
static double past(const bf_forecast_t *f, size_t back)
{
    /* cap >= TREND_RECENT > 0, set once in bf_forecast_new() */
    // NOLINTNEXTLINE(clang-analyzer-core.DivideZero)
    return f->ring[(f->count - back) % f->cap];
}

static double damped_sum(size_t h)
{
    /* phi + phi^2 + ... + phi^h */
    return PHI * (1 - pow(PHI, (double)h)) / (1 - PHI);
}

static double point(const bf_forecast_t *f, size_t h)
{
    if (f->count == 0)
        return 0;
    size_t known = f->count < f->cap ? f->count : f->cap;
    double v = 0;
    switch (f->conf.model) {
    case BF_FORECAST_HOLT_WINTERS:
        v = f->level + damped_sum(h) * f->trend;
        if (f->seasonal)
            v += f->season[(f->count + h - 1) % f->conf.season];
        if (f->seasonal2)
            v += f->season2[(f->count + h - 1) % f->conf.season2];
        break;
    case BF_FORECAST_SEASONAL_NAIVE: {
        size_t m = f->conf.season ? f->conf.season : 1;
        /* the same phase in the last season that has been observed */
        size_t k = m * ((h + m - 1) / m);
        size_t back = k - h + 1;
        v = back <= known ? past(f, back) : past(f, 1);
        break;
    }
    case BF_FORECAST_MOVING_AVERAGE: {
        size_t w = f->conf.window < known ? f->conf.window : known;
        for (size_t i = 1; i <= w; i++)
            v += past(f, i);
        v /= (double)w;
        break;
    }
    }
    return v > 0 && isfinite(v) ? v : 0;
}

static void record_error(bf_forecast_t *f, double y, double yhat)
{
    double e = y - yhat;
    double denom = fabs(y) + fabs(yhat);
    f->sq_err[f->err_next] = e * e;
    f->smape_term[f->err_next] = denom > 0 ? 2 * fabs(e) / denom : 0;
    f->err_next = (f->err_next + 1) % BF_FORECAST_ERRORS;
    if (f->n_err < BF_FORECAST_ERRORS)
        f->n_err++;
}

/* The classical decomposition start: the trend from the means of the first
 * two seasons, each seasonal index from that phase's deviation from its
 * season's mean, averaged over the two. Called when exactly 2 * season
 * values are in the ring (ring index = time index then). */
static void seasonal_start(bf_forecast_t *f)
{
    size_t m = f->conf.season;
    double mean1 = 0, mean2 = 0;
    for (size_t i = 0; i < m; i++) {
        mean1 += f->ring[i];
        mean2 += f->ring[m + i];
    }
    mean1 /= (double)m;
    mean2 /= (double)m;
    for (size_t i = 0; i < m; i++)
        f->season[i] = ((f->ring[i] - mean1) + (f->ring[m + i] - mean2)) / 2;
    f->trend = (mean2 - mean1) / (double)m;
    /* the level at the last step of the second season */
    f->level = mean2 + f->trend * (double)(m - 1) / 2;
    f->seasonal = true;
}

/* The double-seasonal start, when exactly 2 * season2 values are in the
 * ring: level and trend from the two weeks' means as above; the daily index
 * of a phase is the mean deviation from its week's mean over all fourteen
 * days; the weekly index what is left of a phase's deviation after the
 * daily index, averaged over the two weeks. (Starting it from each day's
 * mean offset instead was tried: better on NASA, much worse on the taxi
 * trace, whose weekend days have another shape.) */
static void double_seasonal_start(bf_forecast_t *f)
{
    size_t m1 = f->conf.season, m2 = f->conf.season2;
    double mean[2] = {0, 0};
    for (size_t t = 0; t < 2 * m2; t++)
        mean[t / m2] += f->ring[t];
    mean[0] /= (double)m2;
    mean[1] /= (double)m2;
    memset(f->season, 0, m1 * sizeof(double));
    for (size_t t = 0; t < 2 * m2; t++)
        f->season[t % m1] += f->ring[t] - mean[t / m2];
    for (size_t i = 0; i < m1; i++)
        f->season[i] /= (double)(2 * m2 / m1);
    for (size_t i = 0; i < m2; i++)
        f->season2[i] = ((f->ring[i] - mean[0]) + (f->ring[m2 + i] - mean[1])) / 2 -
                        f->season[i % m1];
    f->trend = (mean[1] - mean[0]) / (double)m2;
    f->level = mean[1] + f->trend * (double)(m2 - 1) / 2;
    f->seasonal = f->seasonal2 = true;
}

static void holt_update(bf_forecast_t *f, double y)
{
    const bf_forecast_conf_t *c = &f->conf;
    if (f->count == 1) {
        f->level = y;
        f->trend = 0;
        return;
    }
    if (f->count == 2) { /* Holt's usual start: the first difference */
        f->trend = y - f->level;
        f->level = y;
        return;
    }
    size_t i = (f->count - 1) % (c->season ? c->season : 1);
    size_t k = (f->count - 1) % (c->season2 ? c->season2 : 1);
    double s = f->seasonal ? f->season[i] : 0;
    double w = f->seasonal2 ? f->season2[k] : 0;
    double prev = f->level;
    f->level = c->alpha * (y - s - w) + (1 - c->alpha) * (prev + PHI * f->trend);
    f->trend = c->beta * (f->level - prev) + (1 - c->beta) * PHI * f->trend;
    if (f->seasonal)
        f->season[i] = c->gamma * (y - f->level - w) + (1 - c->gamma) * s;
    if (f->seasonal2)
        f->season2[k] = c->omega * (y - f->level - s) + (1 - c->omega) * w;
    if (c->season2 && f->count == 2 * c->season2)
        double_seasonal_start(f);
    else if (!f->seasonal && c->season && f->count == 2 * c->season)
        seasonal_start(f);
}

void bf_forecast_observe(bf_forecast_t *f, double y)
{
    if (!(y > 0) || !isfinite(y))
        y = 0;
    if (f->count > 0)
        record_error(f, y, point(f, 1));
    f->ring[f->count % f->cap] = y;
    f->count++;
    if (f->conf.model == BF_FORECAST_HOLT_WINTERS)
        holt_update(f, y);
}

static bf_trend_t classify(const bf_forecast_t *f, double value)
{
    size_t n = f->count < TREND_RECENT ? f->count : TREND_RECENT;
    if (n == 0)
        return BF_TREND_STABLE;
    double now = 0;
    for (size_t i = 1; i <= n; i++)
        now += past(f, i);
    now /= (double)n;
    if (now <= 0)
        return value > 0 ? BF_TREND_INCREASING : BF_TREND_STABLE;
    double rel = (value - now) / now;
    if (rel > TREND_THRESHOLD)
        return BF_TREND_INCREASING;
    if (rel < -TREND_THRESHOLD)
        return BF_TREND_DECREASING;
    return BF_TREND_STABLE;
}

void bf_forecast_predict(const bf_forecast_t *f, size_t h, bf_forecast_point_t *out)
{
    if (h < 1)
        h = 1;
    if (h > BF_FORECAST_MAX_HORIZON)
        h = BF_FORECAST_MAX_HORIZON;
    *out = (bf_forecast_point_t){.seasonal = f->seasonal, .seasonal2 = f->seasonal2};
    if (f->count == 0)
        return;
    out->value = point(f, h);
    double sq = 0, sm = 0;
    for (size_t i = 0; i < f->n_err; i++) {
        sq += f->sq_err[i];
        sm += f->smape_term[i];
    }
    double rmse = f->n_err ? sqrt(sq / (double)f->n_err) : 0;
    double half = Z95 * rmse * sqrt((double)h);
    out->lower = out->value > half ? out->value - half : 0;
    out->upper = out->value + half;
    if (f->n_err) {
        double smape = sm / (double)f->n_err;
        double filled = f->n_err >= BF_FORECAST_ERRORS_FULL
                            ? 1.0
                            : (double)f->n_err / BF_FORECAST_ERRORS_FULL;
        out->confidence = (1 - smape / 2) * filled;
    }
    out->trend = classify(f, out->value);
}

void bf_forecast_range(const bf_forecast_t *f, size_t h, double *lo, double *hi)
{
    if (h < 1)
        h = 1;
    if (h > BF_FORECAST_MAX_SEASON)
        h = BF_FORECAST_MAX_SEASON;
    *lo = INFINITY;
    *hi = 0;
    for (size_t i = 1; i <= h; i++) {
        double v = point(f, i);
        *lo = fmin(*lo, v);
        *hi = fmax(*hi, v);
    }
}

double bf_forecast_peak(const bf_forecast_t *f, size_t h)
{
    if (h > BF_FORECAST_MAX_HORIZON)
        h = BF_FORECAST_MAX_HORIZON;
    double lo, hi;
    bf_forecast_range(f, h, &lo, &hi);
    return hi;
}

/* Mean absolute h-step error of @p conf over @p series, scored after the
 * warm-up; negative when nothing could be scored. */
static double score(const bf_forecast_conf_t *conf, const double *series, size_t n,
                    size_t h)
{
    char errstr[128];
    bf_forecast_t *f = bf_forecast_new(conf, errstr, sizeof(errstr));
    if (!f)
        return -1;
    size_t warm = conf->season2 ? 2 * conf->season2 : conf->season ? 2 * conf->season : 2;
    double sum = 0;
    size_t scored = 0;
    for (size_t t = 0; t + h < n; t++) {
        bf_forecast_observe(f, series[t]);
        if (t + 1 < warm)
            continue;
        sum += fabs(series[t + h] - point(f, h));
        scored++;
    }
    bf_forecast_destroy(f);
    return scored ? sum / (double)scored : -1;
}

void bf_forecast_fit(bf_forecast_conf_t *conf, const double *series, size_t n, size_t h)
{
    static const double alphas[] = {0.05, 0.1, 0.2, 0.4, 0.7};
    static const double betas[] = {0, 0.02, 0.1};
    static const double gammas[] = {0.05, 0.1, 0.3};
    /* the weekly constant only with a second season */
    static const double omegas[] = {0.05, 0.1, 0.3};
    size_t n_omega = conf->season2 ? sizeof(omegas) / sizeof(omegas[0]) : 1;
    bf_forecast_conf_t best = *conf, c = *conf;
    double best_err = -1;
    for (size_t a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++)
        for (size_t b = 0; b < sizeof(betas) / sizeof(betas[0]); b++)
            for (size_t g = 0; g < sizeof(gammas) / sizeof(gammas[0]); g++)
                for (size_t o = 0; o < n_omega; o++) {
                    c.alpha = alphas[a];
                    c.beta = betas[b];
                    c.gamma = gammas[g];
                    if (conf->season2)
                        c.omega = omegas[o];
                    double err = score(&c, series, n, h);
                    if (err >= 0 && (best_err < 0 || err < best_err)) {
                        best_err = err;
                        best = c;
                    }
                }
    *conf = best;
}

bool bf_forecast_refit(bf_forecast_t *f, size_t h)
{
    bf_forecast_conf_t c = f->conf;
    /* Without three weeks yet, a two-season model is the daily one. */
    if (c.season2 && f->count < 3 * c.season2)
        c.season2 = 0;
    /* two to start the (longest) season, one to score */
    size_t n = 3 * (c.season2 ? c.season2 : c.season);
    if (c.model != BF_FORECAST_HOLT_WINTERS || c.season == 0 || f->count < n)
        return false;
    double *history = bf_malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) /* oldest first */
        history[i] = past(f, n - i);
    bf_forecast_fit(&c, history, n, h);
    free(history);
    f->conf.alpha = c.alpha;
    f->conf.beta = c.beta;
    f->conf.gamma = c.gamma;
    if (c.season2)
        f->conf.omega = c.omega;
    return true;
}

/* --- state ---------------------------------------------------------------- */

/* 2: the second season (season2, omega, seasonal2, season2_index). */
#define STATE_VERSION 2

static json_t *doubles(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

/* Copy a JSON array of exactly @p n numbers into @p v; false otherwise. */
static bool read_doubles(const json_t *a, double *v, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_number(x) || !isfinite(json_number_value(x)))
            return false;
        v[i] = json_number_value(x);
    }
    return true;
}

json_t *bf_forecast_save(const bf_forecast_t *f)
{
    json_t *o = json_pack(
        "{s:i, s:s, s:I, s:I, s:f, s:f, s:f, s:I, s:f, s:f, s:b, s:I, s:I}", "version",
        STATE_VERSION, "model", bf_forecast_model_name(f->conf.model), "season",
        (json_int_t)f->conf.season, "window", (json_int_t)f->conf.window, "alpha",
        f->conf.alpha, "beta", f->conf.beta, "gamma", f->conf.gamma, "count",
        (json_int_t)f->count, "level", f->level, "trend", f->trend, "seasonal",
        f->seasonal, "n_err", (json_int_t)f->n_err, "err_next", (json_int_t)f->err_next);
    if (!o)
        abort();
    json_object_set_new(o, "season2", json_integer((json_int_t)f->conf.season2));
    json_object_set_new(o, "omega", json_real(f->conf.omega));
    json_object_set_new(o, "seasonal2", json_boolean(f->seasonal2));
    json_object_set_new(o, "season2_index",
                        f->season2 ? doubles(f->season2, f->conf.season2) : json_array());
    json_object_set_new(o, "ring", doubles(f->ring, f->cap));
    json_object_set_new(o, "season_index",
                        f->season ? doubles(f->season, f->conf.season) : json_array());
    json_object_set_new(o, "sq_err", doubles(f->sq_err, BF_FORECAST_ERRORS));
    json_object_set_new(o, "smape_term", doubles(f->smape_term, BF_FORECAST_ERRORS));
    return o;
}

int bf_forecast_load(bf_forecast_t *f, const json_t *st, char *errstr, size_t errstr_size)
{
    const char *model = json_string_value(json_object_get(st, "model"));
    json_int_t version = json_integer_value(json_object_get(st, "version"));
    json_int_t season = json_integer_value(json_object_get(st, "season"));
    json_int_t window = json_integer_value(json_object_get(st, "window"));
    json_int_t season2 = json_integer_value(json_object_get(st, "season2"));
    if (version != STATE_VERSION) {
        snprintf(errstr, errstr_size,
                 "saved forecast state has format version %lld, this build reads %d; "
                 "starting afresh",
                 (long long)version, STATE_VERSION);
        return -1;
    }
    if (!model || strcmp(model, bf_forecast_model_name(f->conf.model)) != 0 ||
        season != (json_int_t)f->conf.season || season2 != (json_int_t)f->conf.season2 ||
        window != (json_int_t)f->conf.window) {
        snprintf(errstr, errstr_size,
                 "saved forecast state is for another configuration (model %s, season "
                 "%lld, season2 %lld, window %lld)",
                 model ? model : "?", (long long)season, (long long)season2,
                 (long long)window);
        return -1;
    }
    json_t *count = json_object_get(st, "count");
    json_t *n_err = json_object_get(st, "n_err");
    json_t *err_next = json_object_get(st, "err_next");
    json_t *level = json_object_get(st, "level"), *trend = json_object_get(st, "trend");
    bf_forecast_t tmp = *f;
    double *ring = bf_malloc(f->cap * sizeof(double));
    double *idx = f->season ? bf_malloc(f->conf.season * sizeof(double)) : NULL;
    double *idx2 = f->season2 ? bf_malloc(f->conf.season2 * sizeof(double)) : NULL;
    bool ok =
        json_is_integer(count) && json_integer_value(count) >= 0 &&
        json_is_integer(n_err) && json_integer_value(n_err) >= 0 &&
        json_integer_value(n_err) <= BF_FORECAST_ERRORS && json_is_integer(err_next) &&
        json_integer_value(err_next) >= 0 &&
        json_integer_value(err_next) < BF_FORECAST_ERRORS && json_is_number(level) &&
        json_is_number(trend) && json_is_boolean(json_object_get(st, "seasonal")) &&
        read_doubles(json_object_get(st, "ring"), ring, f->cap) &&
        (!idx ||
         read_doubles(json_object_get(st, "season_index"), idx, f->conf.season)) &&
        (!idx2 ||
         read_doubles(json_object_get(st, "season2_index"), idx2, f->conf.season2)) &&
        json_is_boolean(json_object_get(st, "seasonal2")) &&
        read_doubles(json_object_get(st, "sq_err"), tmp.sq_err, BF_FORECAST_ERRORS) &&
        read_doubles(json_object_get(st, "smape_term"), tmp.smape_term,
                     BF_FORECAST_ERRORS);
    double a = json_number_value(json_object_get(st, "alpha"));
    double b = json_number_value(json_object_get(st, "beta"));
    double g = json_number_value(json_object_get(st, "gamma"));
    double om = json_number_value(json_object_get(st, "omega"));
    ok = ok && unit_interval(a) && unit_interval(b) && unit_interval(g) &&
         unit_interval(om) && om > 0;
    bool seasonal = json_is_true(json_object_get(st, "seasonal"));
    bool seasonal2 = json_is_true(json_object_get(st, "seasonal2"));
    if (!ok || (seasonal && !idx) || (seasonal2 && (!idx2 || !seasonal))) {
        snprintf(errstr, errstr_size, "saved forecast state is malformed");
        free(ring);
        free(idx);
        free(idx2);
        return -1;
    }
    memcpy(f->ring, ring, f->cap * sizeof(double));
    if (idx)
        memcpy(f->season, idx, f->conf.season * sizeof(double));
    if (idx2)
        memcpy(f->season2, idx2, f->conf.season2 * sizeof(double));
    memcpy(f->sq_err, tmp.sq_err, sizeof(f->sq_err));
    memcpy(f->smape_term, tmp.smape_term, sizeof(f->smape_term));
    f->count = (size_t)json_integer_value(count);
    f->n_err = (size_t)json_integer_value(n_err);
    f->err_next = (size_t)json_integer_value(err_next);
    f->level = json_number_value(level);
    f->trend = json_number_value(trend);
    f->seasonal = seasonal;
    f->seasonal2 = seasonal2;
    f->conf.omega = om;
    f->conf.alpha = a;
    f->conf.beta = b;
    f->conf.gamma = g;
    free(ring);
    free(idx);
    free(idx2);
    return 0;
}
