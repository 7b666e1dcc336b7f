/*
 * forecast.h - a forecast of the arrival rate, and two baselines to judge it.
 *
 * Pure C over a series the caller feeds one value per step (the arrivals/s
 * of one forecast step, e.g. one minute): no clock, no I/O. The live loop
 * and the backtest feed the very same object, and the unit tests inject a
 * synthetic series.
 *
 * Models (bf_forecast_model_t):
 *   holt-winters    additive Holt-Winters with a damped additive trend and
 *                   ONE seasonality of `season` steps, or TWO (`season` a
 *                   day and `season2` a week, a whole multiple of it):
 *                   Taylor's double-seasonal Holt-Winters (J. W. Taylor,
 *                   "Short-term electricity demand forecasting using double
 *                   seasonal exponential smoothing", JORS 54, 2003), here
 *                   with the damped trend and without Taylor's optional
 *                   AR(1) error term. Which seasonality is the caller's
 *                   choice by the history it has (see
 *                   bf_forecast_seasons_for()): daily + weekly once two
 *                   weeks fit and a day has at least two steps, else daily
 *                   once three days fit, else none. While fewer than two
 *                   whole seasons have been seen (or without a season) it
 *                   runs as Holt's damped linear method, and switches to
 *                   Holt-Winters at 2 * season, initialising the seasonal
 *                   indices from those two seasons (the classical
 *                   decomposition start). With `season2` it runs as the
 *                   daily model until 2 * season2 (two weeks), then starts
 *                   level, trend, the daily and the weekly indices afresh
 *                   from those two weeks (the weekly index is what the
 *                   week adds to the daily one, e.g. the weekend dip).
 *   seasonal-naive  the value one season earlier (the last value without a
 *                   season).
 *   moving-average  the mean of the last `window` values.
 *   auto            what the autoscaler runs (forecast_auto.c): Holt-Winters
 *                   engines of every seasonal structure the seasons allow
 *                   (none; `season`, the daily one; `season2`, the weekly
 *                   one; both; a structure once its history holds three
 *                   of its longest season) and a small grid of constants
 *                   are run over the history the model holds and scored
 *                   by their out-of-sample errors at `horizon` steps on
 *                   its newer part (held out from every engine's start);
 *                   the best becomes the live engine. This is done again
 *                   as history grows (after 8, 16, 32... steps, then once
 *                   per `season`, or per 60 steps without one); before
 *                   the first time the forecast is the last value. The
 *                   engine's forecast is combined with the recent level
 *                   (the moving average) by their recent one-step errors,
 *                   so a seasonal model that has stopped fitting hands
 *                   over to the level. Its 95 % interval is the conformal
 *                   quantile of its last BF_FORECAST_INTERVAL_ERRORS
 *                   errors at `horizon` steps relative to their
 *                   forecasts, times the forecast it is for: not a
 *                   normal approximation; the other models keep the
 *                   RMSE interval below.
 *
 * A step can be missing (bf_forecast_skip(): a gap in a recording, a Kafka
 * outage): the models move on without a correction and no error is scored
 * for it; it is not a zero.
 *
 * Every model keeps its own last BF_FORECAST_ERRORS one-step errors (auto:
 * at its horizon), from which come:
 *   - the prediction interval (not auto's): point +- 1.96 * RMSE(one-step)
 *     * sqrt(h), the random-walk widening of a one-step error over h steps
 *     (clamped at 0 below, arrivals cannot be negative);
 *   - the confidence: 1 - sMAPE/2 of the recent one-step forecasts (sMAPE
 *     is in 0..2), scaled down while fewer than BF_FORECAST_ERRORS_FULL
 *     errors are known;
 *   - the trend: the forecast at h against the mean of the last few
 *     observations, increasing above +5 %, decreasing below -5 %.
 *
 * Defaults of the Holt-Winters constants (alpha 0.3, beta 0.02, gamma 0.1,
 * the weekly omega 0.1, damping phi 0.98) are textbook middle values, not fitted to a
 * trace; bf_forecast_fit() picks alpha, beta and gamma by a small grid search on a
 * history the caller gives (forecast-eval uses the first 30 % of a trace);
 * bf_forecast_refit() does it on the model's own last three seasons (the
 * scaler, once a season).
 */
#ifndef BF_AUTOSCALER_FORECAST_H
#define BF_AUTOSCALER_FORECAST_H

#include <stdbool.h>
#include <jansson.h>
#include <stddef.h>

/* Longest season in steps: a week of 5-minute steps (2016) fits, a week of
 * minutes (10080) too; beyond that the caller must aggregate. */
#define BF_FORECAST_MAX_SEASON 10080
/* Longest horizon in steps (one hour of 1 s steps). */
#define BF_FORECAST_MAX_HORIZON 3600
/* One-step errors kept for the interval and the confidence. */
#define BF_FORECAST_ERRORS      96
#define BF_FORECAST_ERRORS_FULL 16

typedef enum bf_forecast_model_e {
    BF_FORECAST_HOLT_WINTERS = 0,
    BF_FORECAST_SEASONAL_NAIVE = 1,
    BF_FORECAST_MOVING_AVERAGE = 2,
    BF_FORECAST_AUTO = 3,
} bf_forecast_model_t;

/** The seasonal structure a forecast uses (bf_forecast_status()). */
typedef enum bf_forecast_structure_e {
    BF_FORECAST_STRUCTURE_NONE = 0,   /* level and damped trend only */
    BF_FORECAST_STRUCTURE_DAILY = 1,  /* the `season` indices */
    BF_FORECAST_STRUCTURE_WEEKLY = 2, /* the `season2` indices alone */
    BF_FORECAST_STRUCTURE_DAILY_WEEKLY = 3,
} bf_forecast_structure_t;

typedef enum bf_trend_e {
    BF_TREND_STABLE = 0,
    BF_TREND_INCREASING = 1,
    BF_TREND_DECREASING = 2,
} bf_trend_t;

typedef struct bf_forecast_conf_s {
    bf_forecast_model_t model;
    size_t season; /* steps per season, 0 = none, <= BF_FORECAST_MAX_SEASON */
    /* Holt-Winters and auto: a second, longer season (a week when `season`
     * is a day), a multiple >= 2 of `season`, <= BF_FORECAST_MAX_SEASON;
     * 0 = one season. For auto `season` may be 0 with a `season2` (a day
     * that is one step). */
    size_t season2;
    /* auto: the horizon in steps its interval and held-out score are for,
     * 1..BF_FORECAST_MAX_HORIZON; 0 = 1 */
    size_t horizon;
    size_t window; /* moving-average window in steps, 0 = 12 */
    /* Holt-Winters smoothing constants, each in 0..1; all 0 = the defaults. */
    double alpha, beta, gamma;
    /* smoothing of the second season's indices, 0..1; 0 = the default */
    double omega;
} bf_forecast_conf_t;

/** A forecast for one horizon. */
typedef struct bf_forecast_point_s {
    double value;      /* point forecast (>= 0) */
    double lower;      /* 95 % prediction interval, lower >= 0 */
    double upper;      /*                           upper */
    double confidence; /* 0..1 from the recent one-step errors */
    bf_trend_t trend;
    bool seasonal;  /* Holt-Winters: the seasonal part is in use */
    bool seasonal2; /* Holt-Winters: the second season is in use too */
} bf_forecast_point_t;

typedef struct bf_forecast_s bf_forecast_t;

/**
 * @brief Create a forecaster; all memory is allocated here, never later.
 * @param conf copied
 * @returns a handle for bf_forecast_destroy(), or NULL with errstr filled
 *          (season or window out of range, a constant outside 0..1).
 */
bf_forecast_t *bf_forecast_new(const bf_forecast_conf_t *conf, char *errstr,
                               size_t errstr_size);

/** @brief Free. NULL-safe. */
void bf_forecast_destroy(bf_forecast_t *f);

/**
 * @brief Feed the next value of the series (negative and non-finite values
 *        are taken as 0). Scores the previous one-step forecast first.
 */
void bf_forecast_observe(bf_forecast_t *f, double y);

/**
 * @brief Forecast @p h steps after the last observation (1 = the next one;
 *        clamped to 1..BF_FORECAST_MAX_HORIZON). Before any observation
 *        everything is 0 with confidence 0.
 */
void bf_forecast_predict(const bf_forecast_t *f, size_t h, bf_forecast_point_t *out);

/** @brief The highest point forecast over steps 1..h (what capacity must absorb). */
double bf_forecast_peak(const bf_forecast_t *f, size_t h);

/** @brief The lowest and highest point forecasts over steps 1..h. */
void bf_forecast_range(const bf_forecast_t *f, size_t h, double *lo, double *hi);

/**
 * @brief The next step is missing (a gap in the recording, no reading):
 *        every model moves on without a correction and no error is scored.
 *        Not the same as observing 0.
 */
void bf_forecast_skip(bf_forecast_t *f);

/** @brief Steps taken so far (observed and skipped). */
size_t bf_forecast_count(const bf_forecast_t *f);

/** What a forecast is doing now (bf_forecast_status()). */
typedef struct bf_forecast_status_s {
    bf_forecast_structure_t structure; /* the seasonal structure in use */
    size_t horizon; /* steps ahead of value/lower/upper (conf.horizon) */
    double value;   /* point forecast at the horizon */
    double lower;   /* its 95 % prediction interval */
    double upper;
    double confidence;                /* as bf_forecast_point_t.confidence */
    double seasonal_weight;           /* auto: share of the seasonal engine in the
                                       * forecast (the rest is the recent level);
                                       * 1 for Holt-Winters, 0 for the baselines */
    double alpha, beta, gamma, omega; /* the engine's constants in use */
    size_t refits;                    /* auto: model selections run so far */
    double refit_ms;                  /* auto: CPU time of the last one */
} bf_forecast_status_t;

/**
 * @brief A read-only snapshot of the seasonal structure in use, the current
 *        interval and confidence, for status reporting. O(1); does not
 *        change @p f.
 * @param out filled completely
 */
void bf_forecast_status(const bf_forecast_t *f, bf_forecast_status_t *out);

/** @brief "none", "daily", "weekly" or "daily+weekly". */
const char *bf_forecast_structure_name(bf_forecast_structure_t structure);

/** @brief The configuration in use (with defaults filled in). */
const bf_forecast_conf_t *bf_forecast_conf(const bf_forecast_t *f);

/**
 * @brief Choose alpha, beta and gamma of @p conf (a Holt-Winters conf) by a
 *        grid search minimising the mean absolute @p h-step error over
 *        @p series (borrowed, @p n values). The grid is small (alpha
 *        {0.05,0.1,0.2,0.4,0.7}, beta {0,0.02,0.1}, gamma {0.05,0.1,0.3}).
 *        Leaves @p conf unchanged when the series is too short to score.
 */
void bf_forecast_fit(bf_forecast_conf_t *conf, const double *series, size_t n, size_t h);

/**
 * @brief Re-choose alpha, beta and gamma of a seasonal Holt-Winters @p f by
 *        bf_forecast_fit() over the three seasons of history it holds (two
 *        start a trial model's season, the third scores it), keeping its
 *        state. With a second season: over its last three weeks (omega is
 *        searched too, {0.05,0.1,0.3}) once three weeks have been seen,
 *        before that as the one-season model over three days. Does nothing
 *        (returns false) for other models, without a season, or before
 *        three seasons have been seen.
 */
bool bf_forecast_refit(bf_forecast_t *f, size_t h);

/**
 * @brief The season for a history of @p history_s seconds in steps of
 *        @p step_s: weekly if three weeks fit, daily if three days fit,
 *        else 0; 0 also when the season would exceed BF_FORECAST_MAX_SEASON.
 */
size_t bf_forecast_season_for(double step_s, double history_s);

/**
 * @brief Both seasons for a history of @p history_s seconds in steps of
 *        @p step_s: daily in *season and weekly in *season2 once two weeks
 *        fit (and both are 2..BF_FORECAST_MAX_SEASON steps); otherwise
 *        *season2 = 0 and *season = bf_forecast_season_for().
 */
void bf_forecast_seasons_for(double step_s, double history_s, size_t *season,
                             size_t *season2);

/**
 * @brief The seasons the selecting model may use at steps of @p step_s: a
 *        day in *season (0 unless 2..BF_FORECAST_MAX_SEASON whole steps),
 *        a week in *season2 (0 unless 2..BF_FORECAST_MAX_SEASON steps and,
 *        with a daily season, seven of them). Whether the history holds
 *        enough of them is the model's own decision.
 */
void bf_forecast_auto_seasons(double step_s, size_t *season, size_t *season2);

/**
 * @brief The whole state (history, level, trend, seasonal indices, recent
 *        errors; for auto the structure chosen and its combination) as a
 *        JSON object (new reference), so that a restart does not forget a
 *        week of seasonality. Missing steps are saved as null.
 */
json_t *bf_forecast_save(const bf_forecast_t *f);

/**
 * @brief Restore a state saved by bf_forecast_save() into @p f, which must
 *        have the same model, seasons, window and horizon. A state of an
 *        older format version (1: before the second season; 2: before
 *        missing steps and the selecting model; 3: before the selecting
 *        model's relative interval errors) is refused with an errstr
 *        that says so; the caller logs it and starts afresh.
 * @param state borrowed
 * @returns 0, or -1 with errstr filled (another configuration, a malformed
 *          or inconsistent state); @p f is left unchanged on failure.
 */
int bf_forecast_load(bf_forecast_t *f, const json_t *state, char *errstr,
                     size_t errstr_size);

/** @brief "holt-winters", "seasonal-naive", "moving-average" or "auto". */
const char *bf_forecast_model_name(bf_forecast_model_t model);

/** @brief "increasing", "decreasing" or "stable". */
const char *bf_trend_name(bf_trend_t trend);

#endif
