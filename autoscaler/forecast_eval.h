/*
 * forecast_eval.h - `bountyfleet-autoscaler forecast-eval`: the accuracy of
 * the forecast the autoscaler runs, next to its baselines, on a recorded
 * trace.
 *
 *   bountyfleet-autoscaler forecast-eval --trace FILE.csv [--horizon S]
 *                                        [--min-step S] [--fit-fraction F]
 *
 * Protocol (the same for every trace, nothing tuned to one): the trace is
 * read in steps of max(its interval, --min-step) (default 60 s, "minute by
 * minute"); a step without a row is missing, not zero. Every model runs
 * over the whole trace without looking ahead (a missing step is skipped:
 * bf_forecast_skip()), and at every step t from the end of the first
 * --fit-fraction (default 0.3) on, the forecast for t + h, with
 * h = ceil(horizon / step), is scored when step t + h was observed; when
 * it was not, the point is counted as skipped.
 *
 * Models:
 *   forecast        what the scaler runs (BF_FORECAST_AUTO): it chooses its
 *                   structure and constants itself as history grows, so
 *                   the fit part is only where scoring starts
 *   holt-winters    the fixed rule of before the selecting model: seasons by
 *                   the fit part's length (bf_forecast_seasons_for),
 *                   constants by bf_forecast_fit() on the fit part, gaps
 *                   fed as zeros; scored like the others
 *   seasonal-naive  the value one season earlier (weekly once three weeks
 *                   fit in the fit part, daily once three days do, else
 *                   the last value), the last observed one if that is
 *                   missing
 *   moving-average  the mean of the observed values among the last 12
 *
 * Scores, over the scored points (A actual, F forecast, in arrivals/s):
 *   sMAPE    = mean 2|F - A| / max(|F| + |A|, 1 arrival per step): an
 *              actual of 0 no longer scores the maximum for any positive
 *              forecast, only for one of a whole arrival per step or more
 *   MASE     = MAE / mean |y_t - y_{t-m}| over every pair of observed steps
 *              of the whole trace (m the seasonal-naive lag); one scale per
 *              trace, so models compare as their MAE do
 *   coverage = share of the points whose actual is inside the model's 95 %
 *              prediction interval
 *
 * Prints one JSON object on stdout.
 */
#ifndef BF_AUTOSCALER_FORECAST_EVAL_H
#define BF_AUTOSCALER_FORECAST_EVAL_H

#include <stdbool.h>
#include <stddef.h>

/** The running scores of one model (exposed for the unit tests). */
typedef struct bf_eval_score_s {
    double smape_sum, abs_sum;
    size_t n, covered;
} bf_eval_score_t;

/**
 * @brief Add one scored point: forecast @p forecast with 95 % interval
 *        @p lower..@p upper against @p actual (all in arrivals/s), at steps
 *        of @p step_s seconds (the sMAPE denominator's floor is one arrival
 *        per step).
 */
void bf_eval_score_add(bf_eval_score_t *s, double forecast, double lower, double upper,
                       double actual, double step_s);

/**
 * @brief The MASE scale of a series: the mean |y_t - y_{t-m}| over the t
 *        where both steps were observed (@p observed NULL: all were).
 * @returns 0 when no pair was.
 */
double bf_eval_mase_scale(const double *y, const bool *observed, size_t n, size_t m);

/** @brief Run the subcommand; argv[0] is "forecast-eval". @returns exit status. */
int bf_forecast_eval_main(int argc, char **argv);

#endif
