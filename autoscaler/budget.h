/*
 * budget.h - cost budgets per hour, day and month.
 *
 * cost = worker-hours x --worker-price + AI spend (which the caller adds as
 * it learns of it). Periods are calendar periods in UTC (the hour, the day,
 * the month), so a budget resets like an invoice does. Pure: the caller
 * passes the wall-clock time in.
 *
 * For each period with a budget:
 *   projected = spent + workers x price x hours left in the period
 *   allowed   = floor((budget - spent) / (price x hours left)): the fleet
 *               that can run to the period's end without passing the
 *               budget (hours left at least one minute, so the end of a
 *               period does not allow an infinite fleet)
 * The tightest period gives the decision its cap (decide.h: a budget only
 * blocks growth) and its use (spent / budget) for the score's cost term.
 * An alert fires once per period when spent or projected crosses
 * alert_at x budget (default 80 %).
 */
#ifndef BF_AUTOSCALER_BUDGET_H
#define BF_AUTOSCALER_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum bf_budget_period_e {
    BF_BUDGET_HOUR = 0,
    BF_BUDGET_DAY = 1,
    BF_BUDGET_MONTH = 2,
    BF_BUDGET_PERIODS = 3,
} bf_budget_period_t;

typedef struct bf_budget_conf_s {
    double worker_price;             /* USD per worker-hour, >= 0 */
    double limit[BF_BUDGET_PERIODS]; /* USD; 0 = no budget for the period */
    double alert_at;                 /* share of a budget that alerts, 0 = 0.8 */
} bf_budget_conf_t;

typedef struct bf_budget_s {
    bf_budget_conf_t conf;
    bool started;
    double last_at;                    /* wall seconds of the last accounting */
    int64_t period[BF_BUDGET_PERIODS]; /* index of the current period */
    double spent[BF_BUDGET_PERIODS];   /* USD in the current period */
    bool alerted[BF_BUDGET_PERIODS];
} bf_budget_t;

/** The state of one period. */
typedef struct bf_budget_period_status_s {
    double limit, spent, projected;
    double hours_left;
    int64_t allowed_workers; /* meaningful when limit > 0 */
    bool alert;              /* crossed the alert share just now (once a period) */
    bool over_alert;         /* spent or projected at or above the alert share */
} bf_budget_period_status_t;

typedef struct bf_budget_status_s {
    bf_budget_period_status_t period[BF_BUDGET_PERIODS];
    bool limited;            /* some period has a budget */
    int64_t allowed_workers; /* the tightest period's */
    double use;              /* highest spent / budget, 0..; 0 without budgets */
    char recommendation[200];
} bf_budget_status_t;

/** @brief Start with nothing spent. @param conf copied */
void bf_budget_init(bf_budget_t *b, const bf_budget_conf_t *conf);

/**
 * @brief Account @p workers running since the last call, and @p ai_usd of AI
 *        spend, at wall-clock time @p now (epoch seconds); a new hour, day
 *        or month starts its period from zero.
 */
void bf_budget_account(bf_budget_t *b, double now, int64_t workers, double ai_usd);

/** @brief Where each period stands with @p workers running at @p now. */
void bf_budget_status(bf_budget_t *b, double now, int64_t workers,
                      bf_budget_status_t *out);

/** @brief "hour", "day" or "month". */
const char *bf_budget_period_name(bf_budget_period_t p);

#endif
