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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/forecast_int.h"
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
/* Least history the selecting model keeps without a season: enough steps
 * for its held-out half to mean something. */
#define AUTO_MIN_CAP 2048

const char *bf_forecast_model_name(bf_forecast_model_t model)
{
    switch (model) {
    case BF_FORECAST_SEASONAL_NAIVE:
        return "seasonal-naive";
    case BF_FORECAST_MOVING_AVERAGE:
        return "moving-average";
    case BF_FORECAST_AUTO:
        return "auto";
    case BF_FORECAST_HOLT_WINTERS:
        break;
    }
    return "holt-winters";
}

const char *bf_forecast_structure_name(bf_forecast_structure_t structure)
{
    switch (structure) {
    case BF_FORECAST_STRUCTURE_DAILY:
        return "daily";
    case BF_FORECAST_STRUCTURE_WEEKLY:
        return "weekly";
    case BF_FORECAST_STRUCTURE_DAILY_WEEKLY:
        return "daily+weekly";
    case BF_FORECAST_STRUCTURE_NONE:
        break;
    }
    return "none";
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

/* A whole number of steps of @p step_s in @p period_s, 2..MAX_SEASON; 0 if
 * not. */
static size_t whole_steps(double step_s, double period_s)
{
    double steps = period_s / step_s;
    if (!(step_s > 0) || steps < 2 || steps > BF_FORECAST_MAX_SEASON ||
        fabs(steps - round(steps)) > 1e-9 * steps)
        return 0;
    return (size_t)llround(steps);
}

void bf_forecast_seasons_for(double step_s, double history_s, size_t *season,
                             size_t *season2)
{
    *season2 = 0;
    *season = bf_forecast_season_for(step_s, history_s);
    if (!(step_s > 0) || history_s < 14 * 86400.0)
        return;
    size_t day = whole_steps(step_s, 86400.0);
    if (day == 0 || 7 * day > BF_FORECAST_MAX_SEASON)
        return;
    *season = day;
    *season2 = 7 * day;
}

void bf_forecast_auto_seasons(double step_s, size_t *season, size_t *season2)
{
    *season = whole_steps(step_s, 86400.0);
    *season2 = whole_steps(step_s, 7 * 86400.0);
    if (*season && *season2 != 7 * *season)
        *season2 = 0;
}

static bool unit_interval(double x)
{
    return x >= 0 && x <= 1;
}

/* The configuration checks of bf_forecast_new(); false with errstr. */
static bool conf_valid(const bf_forecast_conf_t *c, char *errstr, size_t errstr_size)
{
    if (c->season > BF_FORECAST_MAX_SEASON || c->season == 1) {
        snprintf(errstr, errstr_size, "forecast season of %zu steps is not in 2..%d",
                 c->season, BF_FORECAST_MAX_SEASON);
        return false;
    }
    bool autom = c->model == BF_FORECAST_AUTO;
    if (c->season2 &&
        ((c->model != BF_FORECAST_HOLT_WINTERS && !autom) || (c->season == 0 && !autom) ||
         c->season2 > BF_FORECAST_MAX_SEASON || c->season2 < 2 ||
         (c->season && c->season2 % c->season != 0) ||
         (c->season && c->season2 < 2 * c->season))) {
        snprintf(
            errstr, errstr_size,
            "second forecast season of %zu steps is not a Holt-Winters multiple >= 2 "
            "of the season (%zu) up to %d",
            c->season2, c->season, BF_FORECAST_MAX_SEASON);
        return false;
    }
    if (c->window > BF_FORECAST_MAX_SEASON) {
        snprintf(errstr, errstr_size, "moving-average window of %zu steps is above %d",
                 c->window, BF_FORECAST_MAX_SEASON);
        return false;
    }
    if (c->horizon > BF_FORECAST_MAX_HORIZON) {
        snprintf(errstr, errstr_size, "forecast horizon of %zu steps is above %d",
                 c->horizon, BF_FORECAST_MAX_HORIZON);
        return false;
    }
    if (!unit_interval(c->alpha) || !unit_interval(c->beta) || !unit_interval(c->gamma) ||
        !unit_interval(c->omega)) {
        snprintf(errstr, errstr_size,
                 "Holt-Winters constants must be in 0..1 (alpha %g, beta %g, gamma %g, "
                 "omega %g)",
                 c->alpha, c->beta, c->gamma, c->omega);
        return false;
    }
    return true;
}

bf_forecast_t *bf_forecast_new(const bf_forecast_conf_t *conf, char *errstr,
                               size_t errstr_size)
{
    bf_forecast_conf_t c = *conf;
    if (c.window == 0)
        c.window = DEFAULT_WINDOW;
    if (c.horizon == 0)
        c.horizon = 1;
    if (c.alpha == 0 && c.beta == 0 && c.gamma == 0) {
        c.alpha = DEFAULT_ALPHA;
        c.beta = DEFAULT_BETA;
        c.gamma = DEFAULT_GAMMA;
    }
    if (c.omega == 0)
        c.omega = DEFAULT_OMEGA;
    if (!conf_valid(&c, errstr, errstr_size))
        return NULL;
    bf_forecast_t *f = bf_calloc(1, sizeof(*f));
    f->conf = c;
    /* two seasons start the seasonal part, a third lets a refit score */
    size_t longest = c.season2 ? c.season2 : c.season;
    f->cap = 3 * longest;
    if (c.model == BF_FORECAST_AUTO && f->cap < AUTO_MIN_CAP)
        f->cap = AUTO_MIN_CAP;
    if (f->cap < c.window)
        f->cap = c.window;
    if (f->cap < TREND_RECENT)
        f->cap = TREND_RECENT;
    f->ring = bf_calloc(f->cap, sizeof(double));
    f->last = NAN;
    /* The selecting model may run the weekly season alone in the first
     * index array, so that one holds the longest season. */
    size_t first = c.model == BF_FORECAST_AUTO ? longest : c.season;
    if (first)
        f->season = bf_calloc(first, sizeof(double));
    if (c.season2 && c.season)
        f->season2 = bf_calloc(c.season2, sizeof(double));
    f->hw = (bf_hw_t){.alpha = c.alpha,
                      .beta = c.beta,
                      .gamma = c.gamma,
                      .omega = c.omega,
                      .m1 = c.season,
                      .m2 = c.season ? c.season2 : 0,
                      .s1 = f->season,
                      .s2 = f->season2};
    if (c.model == BF_FORECAST_AUTO)
        bf_forecast_auto_init(f);
    return f;
}

void bf_forecast_destroy(bf_forecast_t *f)
{
    if (!f)
        return;
    bf_forecast_auto_free(f);
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

/* The value @p back steps before the next one (1 = the latest), NaN when
 * that step was missing. The caller keeps 1 <= back <= min(count, cap). */
static double past(const bf_forecast_t *f, size_t back)
{
    /* cap >= TREND_RECENT > 0, set once in bf_forecast_new() */
    // NOLINTNEXTLINE(clang-analyzer-core.DivideZero)
    return f->ring[(f->count - back) % f->cap];
}

double bf_forecast_recent_mean(const bf_forecast_t *f, size_t w)
{
    size_t known = f->count < f->cap ? f->count : f->cap;
    if (w > known)
        w = known;
    double sum = 0;
    size_t n = 0;
    for (size_t i = 1; i <= w; i++) {
        double v = past(f, i);
        if (!isnan(v)) {
            sum += v;
            n++;
        }
    }
    return n ? sum / (double)n : NAN;
}

/* --- the Holt-Winters engine ------------------------------------------------ */

double bf_hw_damped(size_t h)
{
    return h == 1 ? PHI : PHI * (1 - pow(PHI, (double)h)) / (1 - PHI);
}

double bf_hw_point(const bf_hw_t *hw, size_t h)
{
    return bf_hw_point_damped(hw, h, bf_hw_damped(h));
}

double bf_hw_point_damped(const bf_hw_t *hw, size_t h, double damped)
{
    double v = hw->level + damped * hw->trend;
    if (hw->on1)
        v += hw->s1[(hw->t + h - 1) % hw->m1];
    if (hw->on2)
        v += hw->s2[(hw->t + h - 1) % hw->m2];
    return v;
}

void bf_hw_copy(bf_hw_t *dst, const bf_hw_t *src)
{
    double *s1 = dst->s1, *s2 = dst->s2;
    *dst = *src;
    dst->s1 = s1;
    dst->s2 = s2;
    if (src->m1)
        memcpy(s1, src->s1, src->m1 * sizeof(double));
    if (src->m2)
        memcpy(s2, src->s2, src->m2 * sizeof(double));
}

/* The mean of the observed values among x[0..n-1]; false if none. */
static bool observed_mean(const double *x, size_t n, double *mean)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) {
            sum += x[i];
            k++;
        }
    *mean = k ? sum / (double)k : 0;
    return k > 0;
}

/* The classical decomposition start: the trend from the means of the first
 * two seasons, each seasonal index from that phase's deviation from its
 * season's mean, averaged over the two (over the one observed, or 0 when
 * neither was). Called when exactly 2 * m1 values have been taken; false
 * (nothing changed) when a whole season is missing. */
static bool seasonal_start(bf_hw_t *hw, const double *x)
{
    size_t m = hw->m1;
    double mean1, mean2;
    if (!observed_mean(x, m, &mean1) || !observed_mean(x + m, m, &mean2))
        return false;
    for (size_t i = 0; i < m; i++) {
        double sum = 0;
        int k = 0;
        if (!isnan(x[i]))
            sum += x[i] - mean1, k++;
        if (!isnan(x[m + i]))
            sum += x[m + i] - mean2, k++;
        hw->s1[i] = k ? sum / k : 0;
    }
    hw->trend = (mean2 - mean1) / (double)m;
    /* the level at the last step of the second season */
    hw->level = mean2 + hw->trend * (double)(m - 1) / 2;
    hw->on1 = true;
    return true;
}

/* The double-seasonal start, when exactly 2 * m2 values have been taken:
 * level and trend from the two weeks' means as above; the daily index of a
 * phase is the mean deviation from its week's mean over the fourteen days;
 * the weekly index what is left of a phase's deviation after the daily
 * index, averaged over the two weeks. Missing values are left out of every
 * mean. (Starting it from each day's mean offset instead was tried: better
 * on NASA, much worse on the taxi trace, whose weekend days have another
 * shape.) */
static bool double_seasonal_start(bf_hw_t *hw, const double *x)
{
    size_t m1 = hw->m1, m2 = hw->m2;
    double mean[2];
    if (!observed_mean(x, m2, &mean[0]) || !observed_mean(x + m2, m2, &mean[1]))
        return false;
    memset(hw->s1, 0, m1 * sizeof(double));
    memset(hw->s2, 0, m2 * sizeof(double));
    size_t *seen = bf_calloc(m1, sizeof(size_t));
    for (size_t t = 0; t < 2 * m2; t++)
        if (!isnan(x[t])) {
            hw->s1[t % m1] += x[t] - mean[t / m2];
            seen[t % m1]++;
        }
    for (size_t i = 0; i < m1; i++)
        hw->s1[i] = seen[i] ? hw->s1[i] / (double)seen[i] : 0;
    free(seen);
    for (size_t i = 0; i < m2; i++) {
        double sum = 0;
        int k = 0;
        for (size_t w = 0; w < 2; w++)
            if (!isnan(x[w * m2 + i]))
                sum += x[w * m2 + i] - mean[w], k++;
        hw->s2[i] = k ? sum / k - hw->s1[i % m1] : 0;
    }
    hw->trend = (mean[1] - mean[0]) / (double)m2;
    hw->level = mean[1] + hw->trend * (double)(m2 - 1) / 2;
    hw->on1 = hw->on2 = true;
    return true;
}

void bf_hw_observe(bf_hw_t *hw, double y, const double *first)
{
    hw->t++;
    bool missing = isnan(y);
    if (!missing && hw->n_obs < 2) {
        /* Holt's usual start is the first difference; the book's form
         * starts flat and lets beta find a trend (with beta 0 a noisy
         * first difference would only ever decay) */
        hw->trend = hw->n_obs && !hw->book_form ? y - hw->level : 0;
        hw->level = y;
        hw->n_obs++;
    } else if (missing) {
        /* no correction: the state moves on by its own forecast */
        hw->level += PHI * hw->trend;
        hw->trend *= PHI;
    } else {
        size_t i = hw->m1 ? (hw->t - 1) % hw->m1 : 0;
        size_t k = hw->m2 ? (hw->t - 1) % hw->m2 : 0;
        double s = hw->on1 ? hw->s1[i] : 0;
        double w = hw->on2 ? hw->s2[k] : 0;
        double prev = hw->level, prev_trend = hw->trend;
        hw->level = hw->alpha * (y - s - w) + (1 - hw->alpha) * (prev + PHI * hw->trend);
        hw->trend = hw->beta * (hw->level - prev) + (1 - hw->beta) * PHI * hw->trend;
        /* the seasonal indices learn from what is left of y after the
         * level: the new one (the plain model, as it always did) or the
         * one forecast for this step (the book's form, the selecting
         * model's) */
        double base = hw->book_form ? prev + PHI * prev_trend : hw->level;
        if (hw->on1)
            hw->s1[i] = hw->gamma * (y - base - w) + (1 - hw->gamma) * s;
        if (hw->on2)
            hw->s2[k] = hw->omega * (y - base - s) + (1 - hw->omega) * w;
        hw->n_obs++;
    }
    if (hw->m2 && hw->t == 2 * hw->m2)
        double_seasonal_start(hw, first);
    else if (!hw->on1 && hw->m1 && hw->t == 2 * hw->m1)
        seasonal_start(hw, first);
}

/* --- the models ------------------------------------------------------------- */

static double point(const bf_forecast_t *f, size_t h)
{
    if (f->count == 0)
        return 0;
    size_t known = f->count < f->cap ? f->count : f->cap;
    double v = 0;
    switch (f->conf.model) {
    case BF_FORECAST_HOLT_WINTERS:
        v = bf_hw_point(&f->hw, h);
        break;
    case BF_FORECAST_AUTO:
        v = bf_forecast_auto_point(f, h);
        break;
    case BF_FORECAST_SEASONAL_NAIVE: {
        size_t m = f->conf.season ? f->conf.season : 1;
        /* the same phase in the last season that has been observed */
        size_t k = m * ((h + m - 1) / m);
        size_t back = k - h + 1;
        v = back <= known ? past(f, back) : NAN;
        if (isnan(v))
            v = f->last;
        break;
    }
    case BF_FORECAST_MOVING_AVERAGE:
        v = bf_forecast_recent_mean(f, f->conf.window);
        if (isnan(v))
            v = f->last;
        break;
    }
    return v > 0 && isfinite(v) ? v : 0;
}

void bf_forecast_record_error(bf_forecast_t *f, double y, double yhat)
{
    double e = y - yhat;
    double denom = fabs(y) + fabs(yhat);
    f->sq_err[f->err_next] = e * e;
    f->smape_term[f->err_next] = denom > 0 ? 2 * fabs(e) / denom : 0;
    f->err_next = (f->err_next + 1) % BF_FORECAST_ERRORS;
    if (f->n_err < BF_FORECAST_ERRORS)
        f->n_err++;
}

/* One step: @p y, or NaN for a missing one. */
static void take(bf_forecast_t *f, double y)
{
    bool autom = f->conf.model == BF_FORECAST_AUTO;
    if (f->count > 0 && !isnan(y) && !autom)
        bf_forecast_record_error(f, y, point(f, 1));
    f->ring[f->count % f->cap] = y;
    f->count++;
    if (!isnan(y))
        f->last = y;
    if (f->conf.model == BF_FORECAST_HOLT_WINTERS)
        bf_hw_observe(&f->hw, y, f->ring); /* starts happen before the ring wraps */
    else if (autom)
        bf_forecast_auto_step(f, y);
}

void bf_forecast_observe(bf_forecast_t *f, double y)
{
    take(f, y > 0 && isfinite(y) ? y : 0);
}

void bf_forecast_skip(bf_forecast_t *f)
{
    take(f, NAN);
}

static bf_trend_t classify(const bf_forecast_t *f, double value)
{
    double now = bf_forecast_recent_mean(f, TREND_RECENT);
    if (isnan(now))
        return BF_TREND_STABLE;
    if (now <= 0)
        return value > 0 ? BF_TREND_INCREASING : BF_TREND_STABLE;
    double rel = (value - now) / now;
    if (rel > TREND_THRESHOLD)
        return BF_TREND_INCREASING;
    if (rel < -TREND_THRESHOLD)
        return BF_TREND_DECREASING;
    return BF_TREND_STABLE;
}

static bf_forecast_structure_t structure_of(const bf_forecast_t *f)
{
    const bf_hw_t *hw = &f->hw;
    if (hw->on2)
        return BF_FORECAST_STRUCTURE_DAILY_WEEKLY;
    if (!hw->on1)
        return BF_FORECAST_STRUCTURE_NONE;
    /* the selecting model runs the weekly season alone in the first slot */
    return f->conf.season2 && hw->m1 == f->conf.season2 ? BF_FORECAST_STRUCTURE_WEEKLY
                                                        : BF_FORECAST_STRUCTURE_DAILY;
}

/* Half the width of the 95 % interval @p h steps ahead: the selecting
 * model's own (empirical, at its horizon); for the others 1.96 x the RMSE
 * of the recent one-step errors, widened by sqrt(h) like a random walk. */
static double half_width(const bf_forecast_t *f, size_t h)
{
    if (f->conf.model == BF_FORECAST_AUTO)
        return bf_forecast_auto_half_width(f, h);
    double sq = 0;
    for (size_t i = 0; i < f->n_err; i++)
        sq += f->sq_err[i];
    double rmse = f->n_err ? sqrt(sq / (double)f->n_err) : 0;
    return Z95 * rmse * sqrt((double)h);
}

static double confidence(const bf_forecast_t *f)
{
    if (!f->n_err)
        return 0;
    double sm = 0;
    for (size_t i = 0; i < f->n_err; i++)
        sm += f->smape_term[i];
    double smape = sm / (double)f->n_err;
    double filled = f->n_err >= BF_FORECAST_ERRORS_FULL
                        ? 1.0
                        : (double)f->n_err / BF_FORECAST_ERRORS_FULL;
    return (1 - smape / 2) * filled;
}

void bf_forecast_predict(const bf_forecast_t *f, size_t h, bf_forecast_point_t *out)
{
    if (h < 1)
        h = 1;
    if (h > BF_FORECAST_MAX_HORIZON)
        h = BF_FORECAST_MAX_HORIZON;
    bf_forecast_structure_t st = structure_of(f);
    *out = (bf_forecast_point_t){.seasonal = st != BF_FORECAST_STRUCTURE_NONE,
                                 .seasonal2 = st == BF_FORECAST_STRUCTURE_WEEKLY ||
                                              st == BF_FORECAST_STRUCTURE_DAILY_WEEKLY};
    if (f->count == 0)
        return;
    out->value = point(f, h);
    double half = half_width(f, h);
    out->lower = out->value > half ? out->value - half : 0;
    out->upper = out->value + half;
    out->confidence = confidence(f);
    out->trend = classify(f, out->value);
}

void bf_forecast_status(const bf_forecast_t *f, bf_forecast_status_t *out)
{
    bf_forecast_point_t p;
    bf_forecast_predict(f, f->conf.horizon, &p);
    *out = (bf_forecast_status_t){
        .structure = structure_of(f),
        .horizon = f->conf.horizon,
        .value = p.value,
        .lower = p.lower,
        .upper = p.upper,
        .confidence = p.confidence,
        .seasonal_weight = f->conf.model == BF_FORECAST_HOLT_WINTERS ? 1 : 0,
        .alpha = f->hw.alpha,
        .beta = f->hw.beta,
        .gamma = f->hw.gamma,
        .omega = f->hw.omega,
    };
    if (f->conf.model == BF_FORECAST_AUTO)
        bf_forecast_auto_status(f, out);
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
        if (isnan(series[t]))
            bf_forecast_skip(f);
        else
            bf_forecast_observe(f, series[t]);
        if (t + 1 < warm || isnan(series[t + h]))
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
    f->conf.alpha = f->hw.alpha = c.alpha;
    f->conf.beta = f->hw.beta = c.beta;
    f->conf.gamma = f->hw.gamma = c.gamma;
    if (c.season2)
        f->conf.omega = f->hw.omega = c.omega;
    return true;
}

/* --- state ---------------------------------------------------------------- */

/* 2: the second season (season2, omega, seasonal2, season2_index).
 * 3: missing steps (null in the ring), the horizon, the engine's own
 *    constants and step count, the selecting model ("auto").
 * 4: the auto model's interval errors are relative to their forecasts,
 *    with its long-run level ("level_mean"). */
#define STATE_VERSION 4

json_t *bf_forecast_json_doubles(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, isnan(v[i]) ? json_null() : json_real(v[i]));
    return a;
}

/* Copy a JSON array of exactly @p n numbers (and, with @p nulls, nulls,
 * read as NaN: missing steps) into @p v; false otherwise. */
static bool read_doubles(const json_t *a, double *v, size_t n, bool nulls)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(a, i);
        if (nulls && json_is_null(x)) {
            v[i] = NAN;
            continue;
        }
        if (!json_is_number(x) || !isfinite(json_number_value(x)))
            return false;
        v[i] = json_number_value(x);
    }
    return true;
}

json_t *bf_forecast_save(const bf_forecast_t *f)
{
    const bf_hw_t *hw = &f->hw;
    json_t *o =
        json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "version",
                  STATE_VERSION, "model", bf_forecast_model_name(f->conf.model), "season",
                  (json_int_t)f->conf.season, "season2", (json_int_t)f->conf.season2,
                  "window", (json_int_t)f->conf.window, "horizon",
                  (json_int_t)f->conf.horizon, "count", (json_int_t)f->count, "n_err",
                  (json_int_t)f->n_err, "err_next", (json_int_t)f->err_next);
    json_t *engine =
        json_pack("{s:f, s:f, s:f, s:f, s:I, s:I, s:b, s:b, s:f, s:f, s:I, s:I}", "alpha",
                  hw->alpha, "beta", hw->beta, "gamma", hw->gamma, "omega", hw->omega,
                  "m1", (json_int_t)hw->m1, "m2", (json_int_t)hw->m2, "on1", hw->on1,
                  "on2", hw->on2, "level", hw->level, "trend", hw->trend, "t",
                  (json_int_t)hw->t, "n_obs", (json_int_t)hw->n_obs);
    if (!o || !engine)
        abort();
    json_object_set_new(engine, "s1",
                        hw->m1 ? bf_forecast_json_doubles(hw->s1, hw->m1) : json_array());
    json_object_set_new(engine, "s2",
                        hw->m2 ? bf_forecast_json_doubles(hw->s2, hw->m2) : json_array());
    json_object_set_new(o, "engine", engine);
    json_object_set_new(o, "ring", bf_forecast_json_doubles(f->ring, f->cap));
    json_object_set_new(o, "last", bf_forecast_json_doubles(&f->last, 1));
    json_object_set_new(o, "sq_err",
                        bf_forecast_json_doubles(f->sq_err, BF_FORECAST_ERRORS));
    json_object_set_new(o, "smape_term",
                        bf_forecast_json_doubles(f->smape_term, BF_FORECAST_ERRORS));
    if (f->autom)
        bf_forecast_auto_save(f, o);
    return o;
}

bool bf_forecast_json_size(const json_t *v, size_t lo, size_t hi, size_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        json_integer_value(v) > (json_int_t)hi)
        return false;
    *out = (size_t)json_integer_value(v);
    return true;
}

/* Read the engine into @p hw (whose arrays are scratch of f's sizes). The
 * seasons must be ones @p f can hold: its own for Holt-Winters; for the
 * selecting model none, the daily, the weekly alone, or both. */
static bool read_engine(const bf_forecast_t *f, const json_t *e, bf_hw_t *hw)
{
    const bf_forecast_conf_t *c = &f->conf;
    double a = json_number_value(json_object_get(e, "alpha"));
    double b = json_number_value(json_object_get(e, "beta"));
    double g = json_number_value(json_object_get(e, "gamma"));
    double om = json_number_value(json_object_get(e, "omega"));
    json_t *level = json_object_get(e, "level"), *trend = json_object_get(e, "trend");
    json_t *on1 = json_object_get(e, "on1"), *on2 = json_object_get(e, "on2");
    if (!json_is_object(e) || !unit_interval(a) || !unit_interval(b) ||
        !unit_interval(g) || !unit_interval(om) || !json_is_number(level) ||
        !isfinite(json_number_value(level)) || !json_is_number(trend) ||
        !isfinite(json_number_value(trend)) || !json_is_boolean(on1) ||
        !json_is_boolean(on2) ||
        !bf_forecast_json_size(json_object_get(e, "m1"), 0, BF_FORECAST_MAX_SEASON,
                               &hw->m1) ||
        !bf_forecast_json_size(json_object_get(e, "m2"), 0, BF_FORECAST_MAX_SEASON,
                               &hw->m2) ||
        !bf_forecast_json_size(json_object_get(e, "t"), 0, SIZE_MAX / 2, &hw->t) ||
        !bf_forecast_json_size(json_object_get(e, "n_obs"), 0, hw->t, &hw->n_obs))
        return false;
    bool fits;
    if (c->model == BF_FORECAST_AUTO)
        fits = (hw->m1 == 0 && hw->m2 == 0) ||
               (hw->m1 && hw->m1 == c->season && (hw->m2 == 0 || hw->m2 == c->season2)) ||
               (hw->m1 && hw->m1 == c->season2 && hw->m2 == 0);
    else
        fits = hw->m1 == c->season && hw->m2 == (c->season ? c->season2 : 0);
    hw->on1 = json_is_true(on1);
    hw->on2 = json_is_true(on2);
    if (!fits || (hw->on1 && !hw->m1) || (hw->on2 && (!hw->m2 || !hw->on1)))
        return false;
    hw->alpha = a;
    hw->beta = b;
    hw->gamma = g;
    hw->omega = om;
    hw->level = json_number_value(level);
    hw->trend = json_number_value(trend);
    return (!hw->m1 || read_doubles(json_object_get(e, "s1"), hw->s1, hw->m1, false)) &&
           (!hw->m2 || read_doubles(json_object_get(e, "s2"), hw->s2, hw->m2, false));
}

int bf_forecast_load(bf_forecast_t *f, const json_t *st, char *errstr, size_t errstr_size)
{
    const char *model = json_string_value(json_object_get(st, "model"));
    json_int_t version = json_integer_value(json_object_get(st, "version"));
    json_int_t season = json_integer_value(json_object_get(st, "season"));
    json_int_t window = json_integer_value(json_object_get(st, "window"));
    json_int_t season2 = json_integer_value(json_object_get(st, "season2"));
    json_int_t horizon = json_integer_value(json_object_get(st, "horizon"));
    if (version != STATE_VERSION) {
        snprintf(errstr, errstr_size,
                 "saved forecast state has format version %lld, this build reads %d; "
                 "starting afresh",
                 (long long)version, STATE_VERSION);
        return -1;
    }
    if (!model || strcmp(model, bf_forecast_model_name(f->conf.model)) != 0 ||
        season != (json_int_t)f->conf.season || season2 != (json_int_t)f->conf.season2 ||
        window != (json_int_t)f->conf.window || horizon != (json_int_t)f->conf.horizon) {
        snprintf(errstr, errstr_size,
                 "saved forecast state is for another configuration (model %s, season "
                 "%lld, season2 %lld, window %lld, horizon %lld)",
                 model ? model : "?", (long long)season, (long long)season2,
                 (long long)window, (long long)horizon);
        return -1;
    }
    size_t longest = f->conf.season2 > f->conf.season ? f->conf.season2 : f->conf.season;
    double *ring = bf_malloc(f->cap * sizeof(double));
    double *s1 = bf_calloc(longest + 1, sizeof(double));
    double *s2 = bf_calloc(f->conf.season2 + 1, sizeof(double));
    bf_forecast_t tmp = *f;
    tmp.hw.s1 = s1;
    tmp.hw.s2 = s2;
    bool ok = bf_forecast_json_size(json_object_get(st, "count"), 0, SIZE_MAX / 2,
                                    &tmp.count) &&
              bf_forecast_json_size(json_object_get(st, "n_err"), 0, BF_FORECAST_ERRORS,
                                    &tmp.n_err) &&
              bf_forecast_json_size(json_object_get(st, "err_next"), 0,
                                    BF_FORECAST_ERRORS - 1, &tmp.err_next) &&
              read_engine(f, json_object_get(st, "engine"), &tmp.hw) &&
              read_doubles(json_object_get(st, "ring"), ring, f->cap, true) &&
              read_doubles(json_object_get(st, "last"), &tmp.last, 1, true) &&
              read_doubles(json_object_get(st, "sq_err"), tmp.sq_err, BF_FORECAST_ERRORS,
                           false) &&
              read_doubles(json_object_get(st, "smape_term"), tmp.smape_term,
                           BF_FORECAST_ERRORS, false);
    /* the plain engine counts every step; the selecting one its history */
    ok = ok && (f->conf.model == BF_FORECAST_AUTO || tmp.hw.t == tmp.count) &&
         (f->conf.model != BF_FORECAST_AUTO || bf_forecast_auto_load(&tmp, st));
    if (!ok) {
        snprintf(errstr, errstr_size, "saved forecast state is malformed");
        free(ring);
        free(s1);
        free(s2);
        return -1;
    }
    memcpy(f->ring, ring, f->cap * sizeof(double));
    tmp.hw.s1 = f->season;
    tmp.hw.s2 = f->season2;
    if (tmp.hw.m1)
        memcpy(f->season, s1, tmp.hw.m1 * sizeof(double));
    if (tmp.hw.m2)
        memcpy(f->season2, s2, tmp.hw.m2 * sizeof(double));
    tmp.ring = f->ring;
    *f = tmp;
    f->conf.alpha = f->hw.alpha;
    f->conf.beta = f->hw.beta;
    f->conf.gamma = f->hw.gamma;
    f->conf.omega = f->hw.omega;
    free(ring);
    free(s1);
    free(s2);
    return 0;
}
