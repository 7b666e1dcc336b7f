/*
 * recommend.c - the recommendations and their document (see recommend.h).
 *
 * Every sentence is written from numbers computed here, and the numbers go
 * out beside it ("data"), so a dashboard or a script never parses prose.
 */
#include "autoscaler/recommend.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoscaler/decide.h"
#include "libbf/mem.h"

/* ---- the live history ----------------------------------------------------- */

void bf_recommend_history_init(bf_recommend_history_t *h, double step_s)
{
    *h = (bf_recommend_history_t){.step_s = step_s > 0 ? step_s : 60};
    h->arrivals = bf_calloc(BF_RECOMMEND_MAX_STEPS, sizeof(double));
}

void bf_recommend_history_free(bf_recommend_history_t *h)
{
    if (!h)
        return;
    free(h->arrivals);
    h->arrivals = NULL;
}

static void close_step(bf_recommend_history_t *h)
{
    if (h->count == BF_RECOMMEND_MAX_STEPS) {
        h->head = (h->head + 1) % BF_RECOMMEND_MAX_STEPS;
        h->first_step_at += h->step_s;
    } else {
        h->count++;
    }
    h->arrivals[(h->head + h->count - 1) % BF_RECOMMEND_MAX_STEPS] = h->bucket;
    h->bucket = 0;
    h->bucket_start += h->step_s;
}

void bf_recommend_history_add(bf_recommend_history_t *h, double wall, double arrivals,
                              double processed, int64_t workers, double worker_rate)
{
    if (!h->started) {
        h->started = true;
        h->bucket_start = h->first_step_at = h->last_wall = wall;
        return; /* the first tick only starts the clock: nothing is known before */
    }
    double dt = wall - h->last_wall;
    h->last_wall = wall;
    if (!(dt > 0))
        return;
    double paid = (double)(workers > 0 ? workers : 0) * dt / 3600;
    double busy = worker_rate > 0 && processed > 0 ? processed / worker_rate / 3600 : 0;
    h->worker_hours += paid;
    h->busy_worker_hours += fmin(busy, paid);
    h->bucket += arrivals > 0 ? arrivals : 0;
    /* a long silence (Kafka down) closes its steps empty, like the scaler */
    while (wall - h->bucket_start >= h->step_s - 1e-6)
        close_step(h);
}

void bf_recommend_history_trace(const bf_recommend_history_t *h, bf_trace_t *out)
{
    *out = (bf_trace_t){.step_s = h->step_s, .interval_s = h->step_s};
    out->start = h->first_step_at;
    out->steps = out->rows = h->count;
    out->arrivals = bf_calloc(h->count ? h->count : 1, sizeof(double));
    for (size_t k = 0; k < h->count; k++)
        out->arrivals[k] = h->arrivals[(h->head + k) % BF_RECOMMEND_MAX_STEPS];
}

/* ---- the fleet search ----------------------------------------------------- */

/* Append @p v to the set @p xs (of *n) unless there, keeping it sorted. */
static void add_candidate(double *xs, size_t *n, size_t cap, double v)
{
    for (size_t i = 0; i < *n; i++)
        if (xs[i] == v)
            return;
    if (*n == cap)
        return;
    size_t i = (*n)++;
    for (; i > 0 && xs[i - 1] > v; i--)
        xs[i] = xs[i - 1];
    xs[i] = v;
}

/* Is @p a a better answer than @p b? Meeting the SLO first, then cost
 * then fewer actions, then the lower --max; without the SLO the lower p95. */
static bool better(const bf_backtest_outcome_t *a, const bf_backtest_settings_t *as,
                   const bf_backtest_outcome_t *b, const bf_backtest_settings_t *bs,
                   double slo)
{
    bool am = a->p95_queue_delay_s <= slo, bm = b->p95_queue_delay_s <= slo;
    if (am != bm)
        return am;
    if (!am && a->p95_queue_delay_s != b->p95_queue_delay_s)
        return a->p95_queue_delay_s < b->p95_queue_delay_s;
    /* worker-hours, not USD: the same order at any price, and still an
     * order without --worker-price */
    if (fabs(a->worker_hours - b->worker_hours) > 1e-9)
        return a->worker_hours < b->worker_hours;
    if (a->scaling_actions != b->scaling_actions)
        return a->scaling_actions < b->scaling_actions;
    return as->max < bs->max;
}

int bf_recommend_fleet(const bf_backtest_settings_t *now, const bf_trace_t *tr,
                       bf_recommend_fleet_t *out)
{
    *out = (bf_recommend_fleet_t){.best = *now};
    double need = ceil(bf_trace_peak_rate(tr) / now->worker_rate - 1e-9);
    if (need < 1)
        need = 1;
    double mins[3], maxes[5], delays[5];
    size_t nmin = 0, nmax = 0, ndelay = 0;
    add_candidate(mins, &nmin, 3, 0);
    add_candidate(mins, &nmin, 3, 1);
    add_candidate(mins, &nmin, 3, (double)now->min);
    static const double factors[] = {1, 1.25, 1.5, 2};
    for (size_t i = 0; i < 4; i++)
        add_candidate(maxes, &nmax, 5,
                      fmin(ceil(need * factors[i]), BF_DECIDE_MAX_WORKERS));
    add_candidate(maxes, &nmax, 5, (double)now->max);
    static const double waits[] = {0, 60, 300, 900};
    for (size_t i = 0; i < 4; i++)
        add_candidate(delays, &ndelay, 5, waits[i]);
    add_candidate(delays, &ndelay, 5, now->scale_down_delay_s);

    bool have = false;
    for (size_t a = 0; a < nmin; a++)
        for (size_t b = 0; b < nmax; b++)
            for (size_t c = 0; c < ndelay; c++) {
                if (mins[a] > maxes[b] || out->replays == BF_RECOMMEND_MAX_REPLAYS)
                    continue;
                bf_backtest_settings_t s = *now;
                s.min = (int64_t)mins[a];
                s.max = (int64_t)maxes[b];
                s.scale_down_delay_s = delays[c];
                bf_backtest_outcome_t o;
                if (bf_backtest_replay(&s, tr, &o, NULL) != 0)
                    return 1;
                out->replays++;
                if (s.min == now->min && s.max == now->max &&
                    s.scale_down_delay_s == now->scale_down_delay_s)
                    out->current = o;
                if (!have || better(&o, &s, &out->best_outcome, &out->best, now->slo_s)) {
                    have = true;
                    out->best = s;
                    out->best_outcome = o;
                }
            }
    out->met = have && out->best_outcome.p95_queue_delay_s <= now->slo_s;
    return 0;
}

/* ---- AI routing ----------------------------------------------------------- */

void bf_recommend_routing(const bf_aispend_t *a, bf_recommend_routing_t *out)
{
    *out = (bf_recommend_routing_t){0};
    int64_t per_kind[BF_AISPEND_KINDS] = {0};
    for (size_t p = 0; p < a->count; p++)
        for (int k = 0; k < BF_AISPEND_KINDS; k++) {
            per_kind[k] += a->providers[p].kind[k].analyses;
            out->actual_usd += a->providers[p].kind[k].cost_usd;
        }
    for (int k = 0; k < BF_AISPEND_KINDS; k++)
        out->analyses += per_kind[k];
    for (size_t p = 0; p < a->count; p++) {
        const bf_aispend_provider_t *pr = &a->providers[p];
        int64_t analyses = 0, failed = 0;
        double routed = 0;
        bool every_kind = true;
        for (int k = 0; k < BF_AISPEND_KINDS; k++) {
            const bf_aispend_cell_t *c = &pr->kind[k];
            analyses += c->analyses;
            failed += c->failed;
            int64_t answered = c->analyses - c->failed;
            if (per_kind[k] > 0 && answered <= 0)
                every_kind = false; /* no price known for a kind it would get */
            else if (answered > 0)
                routed += (double)per_kind[k] * c->ok_cost_usd / (double)answered;
        }
        double failure = analyses ? (double)failed / (double)analyses : 1;
        if (!every_kind || analyses < BF_RECOMMEND_MIN_ANALYSES ||
            failure > BF_RECOMMEND_MAX_FAILURE_SHARE)
            continue;
        if (!out->found || routed < out->routed_usd) {
            out->found = true;
            snprintf(out->provider, sizeof(out->provider), "%s", pr->name);
            out->routed_usd = routed;
            out->failure_share = failure;
            out->used_share =
                out->analyses ? (double)analyses / (double)out->analyses : 0;
        }
    }
}

double bf_recommend_hours_to_budget(double limit, double spent, double usd_per_hour)
{
    if (spent >= limit)
        return 0;
    return usd_per_hour > 0 ? (limit - spent) / usd_per_hour : INFINITY;
}

/* ---- the document --------------------------------------------------------- */

typedef struct doc_s {
    json_t *items, *missing;
} doc_t;

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *iso_time(double wall)
{
    char buf[32];
    time_t secs = (time_t)floor(wall);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static void item(doc_t *doc, const char *kind, const char *severity, const char *text,
                 json_t *data)
{
    json_array_append_new(doc->items,
                          json_pack("{s:s, s:s, s:s, s:o}", "kind", kind, "severity",
                                    severity, "text", text, "data", data));
}

static void missing(doc_t *doc, const char *kind, const char *why)
{
    json_array_append_new(doc->missing,
                          json_pack("{s:s, s:s}", "kind", kind, "why", why));
}

static json_t *settings_json(const bf_backtest_settings_t *s,
                             const bf_backtest_outcome_t *o, double slo)
{
    return json_pack(
        "{s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:b}", "min", (json_int_t)s->min, "max",
        (json_int_t)s->max, "scale_down_delay_seconds", num(s->scale_down_delay_s),
        "cost_usd", num(o->cost_usd), "worker_hours", num(o->worker_hours),
        "p95_queue_delay_seconds", num(o->p95_queue_delay_s), "scaling_actions",
        (json_int_t)o->scaling_actions, "meets_slo", o->p95_queue_delay_s <= slo);
}

static void fleet_item(doc_t *doc, const bf_recommend_input_t *in)
{
    const bf_trace_t *tr = in->history;
    if (!tr || tr->steps < BF_RECOMMEND_MIN_STEPS) {
        char why[160];
        snprintf(why, sizeof(why), "%zu of the %d forecast steps it needs recorded",
                 tr ? tr->steps : 0, BF_RECOMMEND_MIN_STEPS);
        missing(doc, "fleet_settings", why);
        return;
    }
    bf_recommend_fleet_t f;
    if (bf_recommend_fleet(&in->fleet, tr, &f) != 0) {
        missing(doc, "fleet_settings", "the scaler refused the settings of a replay");
        return;
    }
    const bf_backtest_settings_t *b = &f.best, *n = &in->fleet;
    double slo = n->slo_s, minutes = (double)tr->steps * tr->step_s / 60;
    char span[32], versus[300], text[700];
    if (minutes < 2)
        snprintf(span, sizeof(span), "%.0f s", minutes * 60);
    else if (minutes < 120)
        snprintf(span, sizeof(span), "%.0f min", minutes);
    else
        snprintf(span, sizeof(span), "%.1f h", minutes / 60);
    bool same = b->min == n->min && b->max == n->max &&
                b->scale_down_delay_s == n->scale_down_delay_s;
    double saved = f.current.worker_hours - f.best_outcome.worker_hours;
    if (same)
        snprintf(versus, sizeof(versus), "; these are the current settings");
    else
        snprintf(versus, sizeof(versus),
                 "; the current --min %lld --max %lld --scale-down-delay %.0f took %.4g "
                 "worker-hours (%.4g USD) with a p95 of %.1f s%s",
                 (long long)n->min, (long long)n->max, n->scale_down_delay_s,
                 f.current.worker_hours, f.current.cost_usd, f.current.p95_queue_delay_s,
                 f.current.p95_queue_delay_s > slo ? ", missing the SLO"
                 : saved > 0                       ? ""
                                                   : ", as cheap");
    if (f.met)
        snprintf(
            text, sizeof(text),
            "Over the recorded %s, --min %lld --max %lld --scale-down-delay %.0f would "
            "have met the %.0f s SLO (p95 queueing delay %.1f s) with %.4g worker-hours "
            "(%.4g USD)%s.",
            span, (long long)b->min, (long long)b->max, b->scale_down_delay_s, slo,
            f.best_outcome.p95_queue_delay_s, f.best_outcome.worker_hours,
            f.best_outcome.cost_usd, versus);
    else
        snprintf(
            text, sizeof(text),
            "No setting tried met the %.0f s SLO over the recorded %s: the best p95 "
            "queueing delay was %.1f s, with --min %lld --max %lld --scale-down-delay "
            "%.0f. Faster workers or more partitions (%lld now) are needed.",
            slo, span, f.best_outcome.p95_queue_delay_s, (long long)b->min,
            (long long)b->max, b->scale_down_delay_s, (long long)n->partitions);
    json_t *data = settings_json(b, &f.best_outcome, slo);
    json_object_set_new(data, "current", settings_json(n, &f.current, slo));
    json_object_set_new(data, "savings_usd",
                        num(f.current.cost_usd - f.best_outcome.cost_usd));
    json_object_set_new(data, "slo_seconds", num(slo));
    json_object_set_new(data, "replays", json_integer((json_int_t)f.replays));
    json_object_set_new(data, "worker_rate", num(n->worker_rate));
    json_object_set_new(data, "startup_seconds", num(n->startup_s));
    json_object_set_new(data, "partitions", json_integer((json_int_t)n->partitions));
    bool warn = !f.met || f.current.p95_queue_delay_s > slo;
    item(doc, "fleet_settings", warn ? "warning" : "info", text, data);
}

static void idle_item(doc_t *doc, const bf_recommend_input_t *in)
{
    if (!(in->worker_hours > 0)) {
        missing(doc, "idle_spend", "no worker time paid yet");
        return;
    }
    double idle = fmax(0, in->worker_hours - in->busy_worker_hours);
    double share = idle / in->worker_hours, price = in->fleet.price;
    double spend = in->worker_hours * price + fmax(0, in->ai_usd);
    double of_spend = spend > 0 ? idle * price / spend : 0;
    char text[400];
    snprintf(
        text, sizeof(text),
        "%.0f%% of the worker time (%.4g of %.4g worker-hours, %.4g USD, %.0f%% of all "
        "spend) went to workers with nothing to do%s.",
        100 * share, idle, in->worker_hours, idle * price, 100 * of_spend,
        share > 0.5 ? ": a lower --min or a shorter --scale-down-delay would cut it"
                    : "");
    item(doc, "idle_spend", share > 0.5 ? "warning" : "info", text,
         json_pack("{s:o, s:o, s:o, s:o, s:o}", "worker_hours", num(in->worker_hours),
                   "idle_worker_hours", num(idle), "idle_share", num(share), "idle_usd",
                   num(idle * price), "share_of_spend", num(of_spend)));
}

static json_t *providers_json(const bf_aispend_t *a)
{
    json_t *list = json_array();
    for (size_t p = 0; p < a->count; p++) {
        const bf_aispend_provider_t *pr = &a->providers[p];
        int64_t analyses = 0, failed = 0;
        double cost = 0;
        for (int k = 0; k < BF_AISPEND_KINDS; k++) {
            analyses += pr->kind[k].analyses;
            failed += pr->kind[k].failed;
            cost += pr->kind[k].cost_usd;
        }
        json_array_append_new(
            list, json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "provider", pr->name,
                            "analyses", (json_int_t)analyses, "failed",
                            (json_int_t)failed, "cost_usd", num(cost), "usd_per_analysis",
                            num(analyses ? cost / (double)analyses : 0), "usd_per_report",
                            num(a->results ? cost / (double)a->results : 0)));
    }
    return list;
}

static void ai_items(doc_t *doc, const bf_recommend_input_t *in)
{
    const bf_aispend_t *a = in->ai && in->ai->results > 0 ? in->ai : NULL;
    /* Per report: the heartbeats' totals cover every worker; without them
     * the results seen. */
    double usd = in->reports > 0 ? in->ai_usd : a ? a->cost_usd : 0;
    int64_t reports = in->reports > 0 ? in->reports : a ? a->results : 0;
    int64_t dups = in->reports > 0 ? in->duplicates : a ? a->duplicates : 0;
    if (reports <= 0) {
        missing(doc, "ai_spend", "no report validated yet");
    } else {
        int64_t analysed = reports - dups;
        char text[400];
        snprintf(
            text, sizeof(text),
            "AI spend is %.6f USD per report (%.6f per report analysed; %lld of %lld "
            "were duplicates, answered without AI).",
            usd / (double)reports, analysed > 0 ? usd / (double)analysed : 0,
            (long long)dups, (long long)reports);
        json_t *data = json_pack("{s:o, s:I, s:I, s:o, s:o, s:s}", "ai_usd", num(usd),
                                 "reports", (json_int_t)reports, "duplicates",
                                 (json_int_t)dups, "usd_per_report",
                                 num(usd / (double)reports), "usd_per_analysed_report",
                                 num(analysed > 0 ? usd / (double)analysed : 0), "source",
                                 in->reports > 0 ? "heartbeats" : "validations");
        json_object_set_new(data, "providers", a ? providers_json(a) : json_array());
        item(doc, "ai_spend", "info", text, data);
    }
    if (!a) {
        missing(doc, "ai_routing", "no validation result with analyses seen yet");
        return;
    }
    bf_recommend_routing_t r;
    bf_recommend_routing(a, &r);
    if (!r.found) {
        char why[200];
        snprintf(why, sizeof(why),
                 "no provider answered at least %d analyses of every kind with at most "
                 "%.0f%% failed",
                 BF_RECOMMEND_MIN_ANALYSES, 100 * BF_RECOMMEND_MAX_FAILURE_SHARE);
        missing(doc, "ai_routing", why);
        return;
    }
    double saved = r.actual_usd - r.routed_usd;
    char text[500];
    if (saved > 1e-9)
        snprintf(
            text, sizeof(text),
            "Routing %s first would have cost %.4f USD instead of %.4f USD for the %lld "
            "analyses seen: %.4f USD (%.0f%%) less; it failed %.1f%% of its calls and "
            "answered %.0f%% of them already.",
            r.provider, r.routed_usd, r.actual_usd, (long long)r.analyses, saved,
            r.actual_usd > 0 ? 100 * saved / r.actual_usd : 0, 100 * r.failure_share,
            100 * r.used_share);
    else
        snprintf(text, sizeof(text),
                 "%s is already the cheapest acceptable provider for the %lld analyses "
                 "seen (%.4f USD; it answered %.0f%% of them).",
                 r.provider, (long long)r.analyses, r.actual_usd, 100 * r.used_share);
    item(doc, "ai_routing", saved > 0.05 * r.actual_usd ? "warning" : "info", text,
         json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "provider", r.provider,
                   "actual_usd", num(r.actual_usd), "routed_usd", num(r.routed_usd),
                   "savings_usd", num(saved > 0 ? saved : 0), "savings_share",
                   num(r.actual_usd > 0 && saved > 0 ? saved / r.actual_usd : 0),
                   "analyses", (json_int_t)r.analyses, "failure_share",
                   num(r.failure_share), "used_share", num(r.used_share)));
}

/* The workers the forecast rate needs, within --min and --max. */
static int64_t workers_for(const bf_recommend_input_t *in, double rate)
{
    double per =
        in->fleet.worker_rate * (in->target_utilization > 0 ? in->target_utilization : 1);
    double n = ceil(rate / per - 1e-9);
    n = fmin(fmax(n, (double)in->fleet.min), (double)in->fleet.max);
    return (int64_t)n;
}

static void budget_items(doc_t *doc, const bf_recommend_input_t *in)
{
    if (!in->budget || !in->budget->limited)
        return; /* no budget, nothing to warn about: not a missing number */
    if (in->forecast_rate < 0) {
        missing(doc, "budget_runout", "no forecast yet");
        return;
    }
    int64_t workers = workers_for(in, in->forecast_rate);
    double ai_per_report = in->reports > 0 ? in->ai_usd / (double)in->reports
                           : in->ai && in->ai->results > 0
                               ? in->ai->cost_usd / (double)in->ai->results
                               : 0;
    double per_hour =
        (double)workers * in->fleet.price + ai_per_report * in->forecast_rate * 3600;
    for (int p = 0; p < BF_BUDGET_PERIODS; p++) {
        const bf_budget_period_status_t *s = &in->budget->period[p];
        if (!(s->limit > 0))
            continue;
        double hours = bf_recommend_hours_to_budget(s->limit, s->spent, per_hour);
        if (hours >= s->hours_left)
            continue;
        const char *name = bf_budget_period_name((bf_budget_period_t)p);
        double at = in->wall + hours * 3600;
        char when[32], text[400];
        time_t secs = (time_t)at;
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
        snprintf(
            text, sizeof(text),
            "At the forecast %.3g reports/s (%lld workers and %.4f USD/h of AI, %.4f "
            "USD/h in all), the %s's budget of %.2f USD (%.2f spent) runs out at %s, "
            "%.1f h before the %s ends.",
            in->forecast_rate, (long long)workers,
            ai_per_report * in->forecast_rate * 3600, per_hour, name, s->limit, s->spent,
            when, s->hours_left - hours, name);
        item(doc, "budget_runout", "warning", text,
             json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "period",
                       name, "budget_usd", num(s->limit), "spent_usd", num(s->spent),
                       "usd_per_hour", num(per_hour), "hours_left", num(s->hours_left),
                       "hours_to_exhaustion", num(hours), "forecast_rate",
                       num(in->forecast_rate), "runs_out_at", iso_time(at),
                       "workers_at_forecast", (json_int_t)workers, "ai_usd_per_report",
                       num(ai_per_report)));
    }
}

static void season_item(doc_t *doc, const bf_recommend_input_t *in)
{
    if (strcmp(in->source, "live") != 0)
        return;
    if (in->offpeak_workers < 0) {
        missing(doc, "season_sizing", "the forecast has no season in use yet");
        return;
    }
    char text[300];
    snprintf(text, sizeof(text),
             "%lld workers suffice off-peak, %lld at the forecast peak of the coming "
             "season (--min %lld, --max %lld now).",
             (long long)in->offpeak_workers, (long long)in->peak_workers,
             (long long)in->fleet.min, (long long)in->fleet.max);
    bool capped = in->peak_workers > in->fleet.max;
    item(doc, "season_sizing", capped ? "warning" : "info", text,
         json_pack("{s:I, s:I, s:b}", "offpeak_workers", (json_int_t)in->offpeak_workers,
                   "peak_workers", (json_int_t)in->peak_workers, "peak_above_max",
                   capped));
}

char *bf_recommend_render(const bf_recommend_input_t *in)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    doc_t doc = {json_array(), json_array()};
    fleet_item(&doc, in);
    idle_item(&doc, in);
    ai_items(&doc, in);
    budget_items(&doc, in);
    season_item(&doc, in);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const bf_trace_t *tr = in->history;
    size_t steps = tr ? tr->steps : 0;
    json_t *history = json_pack(
        "{s:I, s:o, s:o, s:o}", "steps", (json_int_t)steps, "step_seconds",
        num(tr ? tr->step_s : 0), "from", steps ? iso_time(tr->start) : json_null(), "to",
        steps ? iso_time(tr->start + (double)steps * tr->step_s) : json_null());
    json_t *o = json_pack("{s:i, s:o, s:s, s:o, s:o, s:o, s:o}", "version", 1,
                          "generated_at", iso_time(in->wall), "source", in->source,
                          "history", history, "recommendations", doc.items,
                          "not_available", doc.missing, "compute_ms",
                          num((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                              (double)(t1.tv_nsec - t0.tv_nsec) / 1e6));
    char *text =
        o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
          : NULL;
    json_decref(o);
    if (!text)
        abort(); /* out of memory: the strings are our own and the providers' names */
    return text;
}
