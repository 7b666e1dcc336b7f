/*
 * recommend.h - cost recommendations from what the autoscaler measured,
 * not canned text: GET /api/v1/recommendations (status.h) for the live
 * fleet, `bountyfleet-autoscaler recommend --trace FILE.csv` for a
 * recorded trace (recommend_cli.c). Each recommendation has a kind, a
 * severity, a sentence for people and the numbers behind it
 * (ops/STATUS.md; ops/api/recommendations.schema.json):
 *
 *   fleet_settings  the cheapest --min, --max and --scale-down-delay that
 *                   would have met the SLO over the recorded history: the
 *                   history replayed through the backtest's simulated
 *                   fleet and the autoscaler's own scaler
 *                   (bf_backtest_replay) for each setting of a small grid
 *                   around the current one (at most BF_RECOMMEND_MAX_REPLAYS
 *                   replays); "met" = the arrival-weighted p95 queueing
 *                   delay at or below the SLO, as the backtest scores it;
 *   idle_spend      the share of worker-hours, and of all spend, that went
 *                   to workers with nothing to do: paid worker time minus
 *                   the time the reports worked off needed at the measured
 *                   per-worker throughput;
 *   ai_spend        AI USD per report and per provider (aispend.h);
 *   ai_routing      what routing the cheapest acceptable provider first
 *                   would have cost on the analyses seen: for each kind of
 *                   analysis, as many at that provider's mean cost of an
 *                   answered one; "acceptable" = at least
 *                   BF_RECOMMEND_MIN_ANALYSES analyses, of which at most
 *                   BF_RECOMMEND_MAX_FAILURE_SHARE failed (the autoscaler
 *                   cannot judge the answers' quality; that is the
 *                   operator's call);
 *   budget_runout   a warning per period whose budget runs out before the
 *                   period ends at the forecast rate: the workers the
 *                   forecast needs (within --min/--max) at the worker price,
 *                   plus the AI spend per report times the forecast rate;
 *   season_sizing   the workers the quietest and the busiest step of the
 *                   coming season need (bf_scaler_season_needs), live only.
 * What cannot be computed yet (too little history, no results seen) is
 * listed under "not_available" with the reason, never guessed.
 */
#ifndef BF_AUTOSCALER_RECOMMEND_H
#define BF_AUTOSCALER_RECOMMEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autoscaler/aispend.h"
#include "autoscaler/backtest.h"
#include "autoscaler/budget.h"
#include "libbf/trace.h"

/* History the live loop keeps: a week of one-minute steps (80 KiB). */
#define BF_RECOMMEND_MAX_STEPS 10080
/* Fewer recorded steps than this give no fleet recommendation. */
#define BF_RECOMMEND_MIN_STEPS 10
/* The grid: at most this many replays of the history. */
#define BF_RECOMMEND_MAX_REPLAYS       75
#define BF_RECOMMEND_MIN_ANALYSES      20
#define BF_RECOMMEND_MAX_FAILURE_SHARE 0.05

/** The live loop's record: arrivals per step, paid and busy worker time. */
typedef struct bf_recommend_history_s {
    double step_s;
    double *arrivals; /* ring of BF_RECOMMEND_MAX_STEPS, owned */
    size_t head, count;
    double first_step_at; /* epoch seconds of the oldest step kept */
    bool started;
    double bucket_start, bucket, last_wall;
    double worker_hours, busy_worker_hours;
} bf_recommend_history_t;

/** @brief Start an empty history of steps of @p step_s (> 0). */
void bf_recommend_history_init(bf_recommend_history_t *h, double step_s);

/** @brief Free the ring. NULL-safe. */
void bf_recommend_history_free(bf_recommend_history_t *h);

/**
 * @brief Take one tick at wall time @p wall: @p arrivals and @p processed
 *        reports since the last one, @p workers paid since then, each
 *        able to work @p worker_rate reports/s.
 */
void bf_recommend_history_add(bf_recommend_history_t *h, double wall, double arrivals,
                              double processed, int64_t workers, double worker_rate);

/**
 * @brief The closed steps as a trace (a copy, oldest first; free with
 *        bf_trace_free()). Empty (steps 0) while none closed.
 */
void bf_recommend_history_trace(const bf_recommend_history_t *h, bf_trace_t *out);

/** The fleet search's answer. */
typedef struct bf_recommend_fleet_s {
    bool met;                    /* the best setting met the SLO */
    bf_backtest_settings_t best; /* cheapest that met it, else lowest p95 */
    bf_backtest_outcome_t best_outcome;
    bf_backtest_outcome_t current; /* the settings as they are */
    size_t replays;
} bf_recommend_fleet_t;

/**
 * @brief Replay @p tr for the grid around @p now (min {0, 1, now}, max
 *        {1, 1.25, 1.5, 2} x the workers the peak step needs and now,
 *        scale-down delay {0, 60, 300, 900 s, now}) and pick the cheapest
 *        that met the SLO (ties: fewer scaling actions, then the lower
 *        --max). @returns 0, or 1 when a replay failed.
 */
int bf_recommend_fleet(const bf_backtest_settings_t *now, const bf_trace_t *tr,
                       bf_recommend_fleet_t *out);

/** Routing the cheapest acceptable provider first. */
typedef struct bf_recommend_routing_s {
    bool found; /* an acceptable provider exists */
    char provider[BF_AISPEND_NAME_MAX + 1];
    double actual_usd;    /* what the analyses seen cost */
    double routed_usd;    /* what they would have cost at that provider */
    int64_t analyses;     /* analyses seen, all providers and kinds */
    double failure_share; /* of the chosen provider */
    double used_share;    /* of the analyses it answered already */
} bf_recommend_routing_t;

/** @brief See above. Pure. */
void bf_recommend_routing(const bf_aispend_t *a, bf_recommend_routing_t *out);

/**
 * @brief When does a budget run out? @returns the hours until @p spent
 *        reaches @p limit at @p usd_per_hour (0 when it already has,
 *        INFINITY when nothing is spent). Pure.
 */
double bf_recommend_hours_to_budget(double limit, double spent, double usd_per_hour);

/** Everything one set of recommendations is computed from. */
typedef struct bf_recommend_input_s {
    const char *source;           /* "live" or "trace" */
    double wall;                  /* "now", epoch seconds */
    const bf_trace_t *history;    /* recorded arrivals; NULL or empty: none */
    bf_backtest_settings_t fleet; /* the settings in force (and the fleet's facts) */
    double target_utilization;    /* for the workers the forecast needs */
    double worker_hours, busy_worker_hours; /* paid and needed worker time */
    /* AI: the totals from the heartbeats (reports < 0: none), and per
     * provider from the results (NULL or empty: none). */
    double ai_usd;
    int64_t reports, duplicates;
    const bf_aispend_t *ai;
    const bf_budget_status_t *budget;      /* NULL: no budgets */
    double forecast_rate;                  /* arrivals/s expected; < 0 unknown */
    int64_t offpeak_workers, peak_workers; /* -1: no season yet */
} bf_recommend_input_t;

/**
 * @brief Compute the recommendations and render their document.
 * @returns JSON text (malloc'd), at most a few KiB.
 */
char *bf_recommend_render(const bf_recommend_input_t *in);

/** @brief The `recommend` subcommand; argv[0] is "recommend". */
int bf_recommend_main(int argc, char **argv);

#endif
