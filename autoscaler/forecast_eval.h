/*
 * forecast_eval.h - `bountyfleet-autoscaler forecast-eval`: the accuracy of
 * the forecast and its two baselines on a recorded trace.
 *
 *   bountyfleet-autoscaler forecast-eval --trace FILE.csv [--horizon S]
 *                                        [--min-step S] [--fit-fraction F]
 *
 * Protocol (the same for every trace, nothing tuned to one): the trace is
 * read in steps of max(its interval, --min-step) (default 60 s, "minute by
 * minute"); the season is chosen by the trace's length
 * (bf_forecast_season_for); Holt-Winters' constants are fitted by
 * bf_forecast_fit() on the first --fit-fraction (default 0.3) of the steps;
 * then all three models run over the whole trace without looking ahead and
 * are scored on the rest: at every step t, the forecast for t + h with
 * h = ceil(horizon / step) steps.
 *
 *   sMAPE = mean 2|F - A| / (|F| + |A|)   (a term with F = A = 0 counts 0)
 *   MASE  = MAE / (mean |y_t - y_{t-m}| over the fit part), m = the season
 *           in steps, or 1 without a season (Hyndman & Koehler 2006)
 *
 * Prints one JSON object on stdout.
 */
#ifndef BF_AUTOSCALER_FORECAST_EVAL_H
#define BF_AUTOSCALER_FORECAST_EVAL_H

/** @brief Run the subcommand; argv[0] is "forecast-eval". @returns exit status. */
int bf_forecast_eval_main(int argc, char **argv);

#endif
