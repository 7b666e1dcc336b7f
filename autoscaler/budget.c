/*
 * budget.c - spend per calendar period and what the budget allows (see
 * budget.h).
 */
#include "autoscaler/budget.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

const char *bf_budget_period_name(bf_budget_period_t p)
{
    switch (p) {
    case BF_BUDGET_DAY:
        return "day";
    case BF_BUDGET_MONTH:
        return "month";
    case BF_BUDGET_HOUR:
    case BF_BUDGET_PERIODS:
        break;
    }
    return "hour";
}

/* Index of the period containing @p now, and its end in epoch seconds. */
static int64_t period_of(bf_budget_period_t p, double now, double *end)
{
    time_t t = (time_t)floor(now);
    switch (p) {
    case BF_BUDGET_HOUR:
        *end = (floor(now / 3600) + 1) * 3600;
        return (int64_t)floor(now / 3600);
    case BF_BUDGET_DAY:
        *end = (floor(now / 86400) + 1) * 86400;
        return (int64_t)floor(now / 86400);
    case BF_BUDGET_MONTH:
    case BF_BUDGET_PERIODS:
        break;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    int64_t index = (int64_t)tm.tm_year * 12 + tm.tm_mon;
    struct tm next = {.tm_year = tm.tm_year + (tm.tm_mon == 11),
                      .tm_mon = (tm.tm_mon + 1) % 12,
                      .tm_mday = 1};
    *end = (double)timegm(&next);
    return index;
}

void bf_budget_init(bf_budget_t *b, const bf_budget_conf_t *conf)
{
    *b = (bf_budget_t){.conf = *conf};
    if (!(b->conf.alert_at > 0))
        b->conf.alert_at = 0.8;
}

static void roll(bf_budget_t *b, double now)
{
    for (int p = 0; p < BF_BUDGET_PERIODS; p++) {
        double end;
        int64_t idx = period_of((bf_budget_period_t)p, now, &end);
        if (!b->started || idx != b->period[p]) {
            b->period[p] = idx;
            b->spent[p] = 0;
            b->alerted[p] = false;
        }
    }
    b->started = true;
}

void bf_budget_account(bf_budget_t *b, double now, int64_t workers, double ai_usd)
{
    double cost = ai_usd > 0 ? ai_usd : 0;
    if (b->started && now > b->last_at && workers > 0)
        cost += (double)workers * (now - b->last_at) / 3600 * b->conf.worker_price;
    /* A run that straddles a period boundary is booked to the new period:
     * at most one interval's worth of spend in the wrong hour. */
    roll(b, now);
    for (int p = 0; p < BF_BUDGET_PERIODS; p++)
        b->spent[p] += cost;
    b->last_at = now;
}

void bf_budget_status(bf_budget_t *b, double now, int64_t workers,
                      bf_budget_status_t *out)
{
    *out = (bf_budget_status_t){0};
    if (!b->started)
        roll(b, now);
    double price = b->conf.worker_price;
    int tightest = -1;
    for (int p = 0; p < BF_BUDGET_PERIODS; p++) {
        bf_budget_period_status_t *s = &out->period[p];
        double end;
        (void)period_of((bf_budget_period_t)p, now, &end);
        s->limit = b->conf.limit[p];
        s->spent = b->spent[p];
        s->hours_left = fmax((end - now) / 3600, 1.0 / 60);
        s->projected = s->spent + (double)workers * price * s->hours_left;
        if (!(s->limit > 0))
            continue;
        double left = s->limit - s->spent;
        double allowed = price > 0 ? floor(fmax(left, 0) / (price * s->hours_left))
                                   : (left > 0 ? 1e9 : 0);
        s->allowed_workers = allowed > 1e9 ? 1000000000 : (int64_t)allowed;
        double use = s->spent / s->limit;
        if (use > out->use)
            out->use = use;
        s->over_alert = s->spent >= b->conf.alert_at * s->limit ||
                        s->projected >= b->conf.alert_at * s->limit;
        if (!b->alerted[p] && s->over_alert) {
            b->alerted[p] = true;
            s->alert = true;
        }
        if (!out->limited || s->allowed_workers < out->allowed_workers) {
            out->limited = true;
            out->allowed_workers = s->allowed_workers;
            tightest = p;
        }
    }
    if (tightest >= 0) {
        const bf_budget_period_status_t *s = &out->period[tightest];
        snprintf(out->recommendation, sizeof(out->recommendation),
                 "the %s's budget of %.2f USD allows %lld workers to its end; %lld "
                 "running project %.2f USD",
                 bf_budget_period_name((bf_budget_period_t)tightest), s->limit,
                 (long long)s->allowed_workers, (long long)workers, s->projected);
    }
}
