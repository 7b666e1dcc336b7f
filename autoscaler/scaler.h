/*
 * scaler.h - the autoscaler's brain: observations in, a decision out.
 *
 * One object ties the forecast (forecast.h) to the decision (decide.h), so
 * that the live control loop and the backtest run literally the same code:
 * both hand it an observation per tick (the time, the lag, the arrivals and
 * the processed reports since the last one, the workers running) and get
 * the decision back. Nothing here reads a clock or does I/O.
 *
 * What it adds to the two:
 *   - arrivals are summed into forecast steps of step_s seconds (e.g. one
 *     minute) and each closed step's rate (arrivals/s) feeds the forecast;
 *     a step inside a silence of more than two steps without a reading (a
 *     Kafka outage) is missing for the forecast (bf_forecast_skip), not a
 *     step without arrivals;
 *   - the forecast is the selecting model (BF_FORECAST_AUTO, forecast.h):
 *     `season` and `season2` are the structures it may choose from (a lone
 *     weekly `season` is passed on as its weekly one), and it re-chooses
 *     its structure and constants on its own history once a day, so they
 *     follow this traffic rather than textbook defaults;
 *   - the arrival forecast handed to the decision is the highest point
 *     forecast over the horizon (capacity must be there before the peak,
 *     and a worker needs its start-up time), or, while the forecast has
 *     fewer than two steps, the current arrival rate;
 *   - the per-worker throughput is measured: processed reports per second
 *     per worker over an interval in which the fleet did not change. Only
 *     a saturated fleet shows what a worker can do: when heartbeats say
 *     most workers sat at their in-flight cap (or, without heartbeats,
 *     when there was lag before and after), the sample is smoothed in
 *     (EWMA 0.3); otherwise workers only did what arrived, so the sample
 *     is a lower bound and can only raise the estimate (or the configured
 *     worker_rate), by at most half again per sample. (Taking those in
 *     too would set the throughput to arrivals / workers, and the rule
 *     would then always want 1 / utilisation times the workers running:
 *     a fleet that only ever grows.) Until a measurement exists the
 *     configured worker_rate;
 *   - without a latency from heartbeats, the queueing delay is estimated as
 *     lag / (workers * throughput).
 */
#ifndef BF_AUTOSCALER_SCALER_H
#define BF_AUTOSCALER_SCALER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autoscaler/decide.h"
#include "autoscaler/forecast.h"

typedef struct bf_scaler_conf_s {
    bf_decide_policy_t policy;
    double step_s;      /* forecast step, > 0 */
    size_t season;      /* forecast season in steps, 0 = none */
    size_t season2;     /* second (weekly) season in steps, 0 = none */
    double horizon_s;   /* forecast horizon, step_s..3600 */
    double worker_rate; /* reports/s of one worker until measured, > 0 */
    bool measure_rate;  /* measure the per-worker throughput */
} bf_scaler_conf_t;

/** Whether the workers were at their in-flight cap, from their heartbeats. */
typedef enum {
    BF_SATURATION_UNKNOWN = 0, /* no heartbeats: lag before and after decides */
    BF_SATURATION_NO,          /* most workers below their cap */
    BF_SATURATION_YES,         /* most workers at their cap */
} bf_saturation_t;

/** One observation. Counts are since the previous observation. */
typedef struct bf_scaler_obs_s {
    double now;                /* seconds, non-decreasing */
    int64_t total_lag;         /* >= 0 */
    int32_t partitions;        /* >= 1 */
    int64_t current_workers;   /* running now */
    double arrivals;           /* reports that arrived (log-end growth) */
    double processed;          /* reports committed (committed-offset growth) */
    double latency_s;          /* p95 from heartbeats, < 0 unknown */
    bf_saturation_t saturated; /* were the workers at their cap (heartbeats)? */
    double budget_use;         /* 0..1 of the tightest budget, 0 none */
    bool budget_limited;
    int64_t budget_workers;
    bool ai_limit_bound; /* most workers wait for the AI rate limit (heartbeats) */
    double ai_limit_rpm; /* that limit, fleet-wide requests/min (0 unknown) */
} bf_scaler_obs_t;

/** The decision and what it was based on. */
typedef struct bf_scaler_decision_s {
    bf_decision_t decision;
    double arrival_rate;          /* reports/s since the previous observation */
    double processing_rate;       /* reports/s committed since then */
    double worker_rate;           /* per-worker throughput used */
    double forecast_peak;         /* arrivals/s handed to the decision */
    bf_forecast_point_t forecast; /* at the horizon */
    bool forecast_ready;          /* the forecast has two steps of history */
} bf_scaler_decision_t;

typedef struct bf_scaler_s bf_scaler_t;

/**
 * @brief Create a scaler (the selecting forecast at the horizon in steps).
 * @param conf copied
 * @returns a handle, or NULL with errstr filled (a bad season or step).
 */
bf_scaler_t *bf_scaler_new(const bf_scaler_conf_t *conf, char *errstr,
                           size_t errstr_size);

/** @brief Free. NULL-safe. */
void bf_scaler_destroy(bf_scaler_t *s);

/**
 * @brief Take one observation and decide.
 * @param obs borrowed
 * @param out filled completely
 */
void bf_scaler_observe(bf_scaler_t *s, const bf_scaler_obs_t *obs,
                       bf_scaler_decision_t *out);

/**
 * @brief The state worth keeping across a restart (the forecast and the
 *        measured throughput) as JSON text; malloc'd.
 */
char *bf_scaler_save(const bf_scaler_t *s);

/**
 * @brief Restore a state from bf_scaler_save(), before the first
 *        observation. @returns 0, or -1 with errstr filled (and the scaler
 *        unchanged) when the text is not a state of this configuration.
 */
int bf_scaler_load(bf_scaler_t *s, const char *text, char *errstr, size_t errstr_size);

/**
 * @brief Over the coming season, the week with a second season in use
 *        (Holt-Winters with its seasonal part in use): the workers the quietest and the
 * busiest forecast step need at @p worker_rate reports/s per worker and the planned
 *        utilisation. Both -1 without a season. O(season): call it rarely
 *        (the live loop does, once an hour).
 */
void bf_scaler_season_needs(const bf_scaler_t *s, double worker_rate, int64_t *offpeak,
                            int64_t *peak);

/** @brief The forecast (borrowed, valid for the scaler's life). */
const bf_forecast_t *bf_scaler_forecast(const bf_scaler_t *s);

#endif
