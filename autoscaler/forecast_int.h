/*
 * forecast_int.h - what forecast.c and forecast_auto.c share: the layout of
 * the forecaster and the Holt-Winters engine both drive. Not a public
 * header: callers use forecast.h.
 *
 * The engine (bf_hw_t) is one additive Holt-Winters with a damped trend and
 * zero, one or two seasons, updated one step at a time. It owns no memory:
 * its seasonal indices live in arrays its user hands it, so that the
 * selecting model (forecast_auto.c) can run a hundred trial engines over
 * its history with two preallocated sets of arrays and copy the winner
 * into the live one.
 */
#ifndef BF_AUTOSCALER_FORECAST_INT_H
#define BF_AUTOSCALER_FORECAST_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "autoscaler/forecast.h"

/* Errors of the selecting model's h-step forecasts kept for its interval
 * (an empirical 95 % quantile needs a few hundred). */
#define BF_FORECAST_INTERVAL_ERRORS 512

typedef struct bf_hw_s {
    double alpha, beta, gamma, omega;
    /* m1: the (first) season in steps, 0 = none; m2: a second one, a
     * multiple >= 2 of m1, 0 = none. With both, the engine runs on m1 alone
     * until 2 * m2 values, then starts both afresh (Taylor 2003). */
    size_t m1, m2;
    double *s1, *s2; /* borrowed: m1 and m2 indices */
    bool on1, on2;   /* the seasonal parts in use */
    double level, trend;
    size_t t;     /* steps seen, observed or missing */
    size_t n_obs; /* steps observed (Holt's start needs two) */
    /* false: the plain model's forms of before (s = g (y - l_t) + (1 - g) s,
     * the trend started from the first difference); true, the selecting
     * model's: s = g (y - l_{t-1} - phi b_{t-1}) + (1 - g) s, Hyndman &
     * Athanasopoulos' (FPP3 8.3), which keeps learning the season when
     * alpha is 1, and a trend that starts at 0 */
    bool book_form;
} bf_hw_t;

/**
 * @brief Take the next step: @p y, or NaN when the step is missing (the
 *        state then moves on by its own forecast, without a correction).
 * @param first the engine's first values, oldest first, at least t + 1 of
 *        them (borrowed): the seasonal starts read the first 2 * m there.
 */
void bf_hw_observe(bf_hw_t *hw, double y, const double *first);

/** @brief The engine's forecast @p h >= 1 steps ahead (may be negative). */
double bf_hw_point(const bf_hw_t *hw, size_t h);

/** @brief phi + phi^2 + ... + phi^h, the damped trend's multiplier. */
double bf_hw_damped(size_t h);

/** @brief bf_hw_point() with bf_hw_damped(h) computed by the caller. */
double bf_hw_point_damped(const bf_hw_t *hw, size_t h, double damped);

/** @brief Copy @p src into @p dst, the seasonal indices into dst's arrays. */
void bf_hw_copy(bf_hw_t *dst, const bf_hw_t *src);

/* The selecting model's own state (BF_FORECAST_AUTO); see forecast_auto.c. */
typedef struct bf_forecast_auto_s bf_forecast_auto_t;

struct bf_forecast_s {
    bf_forecast_conf_t conf;
    size_t count; /* steps taken, observed or missing */
    /* the last `cap` values, NaN where missing; the value k steps back is
     * at (count - k) % cap */
    double *ring;
    size_t cap;
    double last;              /* the latest observed value, NaN before the first */
    bf_hw_t hw;               /* Holt-Winters, or the selecting model's engine */
    double *season, *season2; /* hw's index arrays */
    /* the last BF_FORECAST_ERRORS errors (one-step; the selecting model's
     * at its horizon) */
    double sq_err[BF_FORECAST_ERRORS];     /* (y - yhat)^2 */
    double smape_term[BF_FORECAST_ERRORS]; /* 2|y - yhat| / (|y| + |yhat|) */
    size_t n_err, err_next;
    bf_forecast_auto_t *autom; /* BF_FORECAST_AUTO only, else NULL */
};

/** @brief Record one error of @p yhat against @p y in f's error ring. */
void bf_forecast_record_error(bf_forecast_t *f, double y, double yhat);

/** @brief The mean of the observed values among the last @p w; NaN if none. */
double bf_forecast_recent_mean(const bf_forecast_t *f, size_t w);

/** @brief A JSON array of @p n numbers, null where NaN (new reference). */
json_t *bf_forecast_json_doubles(const double *v, size_t n);

/** @brief *out = @p v if it is an integer in lo..hi; false otherwise. */
bool bf_forecast_json_size(const json_t *v, size_t lo, size_t hi, size_t *out);

/* --- the selecting model (forecast_auto.c) -------------------------------- */

/** @brief Allocate the selecting model's part of @p f (conf filled in). */
void bf_forecast_auto_init(bf_forecast_t *f);

/** @brief Free it. */
void bf_forecast_auto_free(bf_forecast_t *f);

/**
 * @brief Take the next step (@p y, or NaN for a missing one): score the
 *        forecast made `horizon` steps ago, update, refit when due. Called
 *        after the value is in the ring and count has moved on.
 */
void bf_forecast_auto_step(bf_forecast_t *f, double y);

/** @brief The combined point forecast @p h steps ahead. */
double bf_forecast_auto_point(const bf_forecast_t *f, size_t h);

/** @brief Half the width of the 95 % interval @p h steps ahead. */
double bf_forecast_auto_half_width(const bf_forecast_t *f, size_t h);

/** @brief Fill the fields of @p out that only the selecting model knows. */
void bf_forecast_auto_status(const bf_forecast_t *f, bf_forecast_status_t *out);

/** @brief Add the selecting model's state to the saved object @p o. */
void bf_forecast_auto_save(const bf_forecast_t *f, json_t *o);

/**
 * @brief Read the selecting model's state from @p st into @p f; called
 *        once the common part has been checked and copied.
 * @returns false (f's selecting state then unchanged) when it is missing
 *          or inconsistent.
 */
bool bf_forecast_auto_load(bf_forecast_t *f, const json_t *st);

#endif
