/*
 * backtest.c - the backtest subcommand (see backtest.h for the simulated
 * fleet and the policies).
 */
#include "autoscaler/backtest.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoscaler/decide.h"
#include "autoscaler/forecast.h"
#include "autoscaler/scaler.h"
#include "autoscaler/offline.h"
#include "libbf/trace.h"
#include "libbf/config.h"
#include "libbf/mem.h"

#define PROGRAM    "bountyfleet-autoscaler backtest"
#define N_POLICIES 3
/* Points drawn per line in the SVG at most; longer traces are strided. */
#define SVG_MAX_POINTS 2000

typedef struct backtest_config_s {
    char *trace;
    double worker_rate;
    double startup;
    int64_t partitions;
    double slo;
    double price;
    int64_t min;
    int64_t max;
    char *format;
    char *csv;
    char *svg;
    double lag_threshold;
    double scale_down_delay;
    double horizon;
    double min_step;
    double tick;
    double cooldown;
    double scale_up_delay;
} backtest_config_t;

#define OPT(field) offsetof(backtest_config_t, field)

static const bf_opt_t options[] = {
    {"trace", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "FILE.csv",
     "arrival trace, CSV timestamp,value (value = arrivals in the interval)", OPT(trace)},
    {"worker-rate", 0, NULL, BF_OPT_DOUBLE, "1", 1e-6, 1e9, "R",
     "reports/s one worker validates", OPT(worker_rate)},
    {"startup", 0, NULL, BF_OPT_DOUBLE, "60", 0, 86400, "SECONDS",
     "seconds before a new worker consumes", OPT(startup)},
    {"partitions", 0, NULL, BF_OPT_INT, "32", 1, BF_DECIDE_MAX_WORKERS, "P",
     "partitions of the topic: at most this many workers consume", OPT(partitions)},
    {"slo", 0, NULL, BF_OPT_DOUBLE, "60", 0.001, 1e9, "SECONDS",
     "queueing delay above which a step counts as an SLO violation", OPT(slo)},
    {"price", 0, NULL, BF_OPT_DOUBLE, "0.05", 0, 1e6, "USD", "price of one worker-hour",
     OPT(price)},
    {"min", 0, NULL, BF_OPT_INT, "1", 0, BF_DECIDE_MAX_WORKERS, "N", "fewest workers",
     OPT(min)},
    {"max", 0, NULL, BF_OPT_INT, "32", 1, BF_DECIDE_MAX_WORKERS, "N", "most workers",
     OPT(max)},
    {"format", 0, NULL, BF_OPT_STRING, "table", 1, 0, "table|json",
     "a readable table, or one JSON object", OPT(format)},
    {"csv", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "OUT.csv",
     "write the time series (arrivals, forecast, workers per policy)", OPT(csv)},
    {"svg", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "OUT.svg", "draw the time series",
     OPT(svg)},
    {"lag-threshold", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1e15, "N",
     "keda policy: lag per worker (0 = worker-rate x slo)", OPT(lag_threshold)},
    {"scale-down-delay", 0, NULL, BF_OPT_DOUBLE, "300", 0, 86400, "SECONDS",
     "scale-down stabilisation window of the dynamic policies", OPT(scale_down_delay)},
    {"horizon", 0, NULL, BF_OPT_DOUBLE, "300", 1, 3600, "SECONDS",
     "forecast horizon of the bountyfleet policy", OPT(horizon)},
    {"min-step", 0, NULL, BF_OPT_DOUBLE, "60", 1, 86400, "SECONDS",
     "shortest simulation and forecast step; finer traces are summed", OPT(min_step)},
    {"cooldown", 0, NULL, BF_OPT_DOUBLE, "0", 0, 86400, "SECONDS",
     "bountyfleet policy: least time between two scaling actions", OPT(cooldown)},
    {"scale-up-delay", 0, NULL, BF_OPT_DOUBLE, "0", 0, 86400, "SECONDS",
     "bountyfleet policy: scale-up stabilisation window", OPT(scale_up_delay)},
    {"tick", 0, NULL, BF_OPT_DOUBLE, "60", 1, 86400, "SECONDS",
     "decision interval of the simulation; a longer step is split into ticks with its "
     "arrivals spread evenly",
     OPT(tick)},
};

static const bf_cli_t cli = {
    .program = PROGRAM,
    .summary = "Replay a recorded arrival trace through the autoscaler's forecast and "
               "decision against a simulated fleet, next to fixed-at-peak and a "
               "KEDA-style policy.",
    .usage = "--trace FILE.csv [OPTIONS]",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
};

typedef struct run_s {
    const char *name;
    bf_scaler_t *scaler; /* NULL: a fixed count */
    int64_t fixed;
    double *start; /* start time of each running worker */
    int64_t n;     /* running workers */
    double queue;  /* backlog, reports */
    double worker_hours, violation_s;
    int64_t actions;
    double *delay;    /* per tick */
    int64_t *workers; /* per step, after its last decision */
} run_t;

typedef struct sim_s {
    const backtest_config_t *cfg;
    const bf_trace_t *tr;
    size_t ticks_per_step;
    double tick_s;
    double *forecast; /* bountyfleet's forecast peak per step */
    run_t runs[N_POLICIES];
} sim_t;

static void apply_target(run_t *r, int64_t target, double t)
{
    if (target == r->n)
        return;
    r->actions++;
    while (r->n < target)
        r->start[r->n++] = t;
    if (target < r->n)
        r->n = target; /* the newest go first: the least ready */
}

/* Tick @p j (global index) with @p arrivals; t0..t1 is the tick. */
static void tick(sim_t *sim, run_t *r, size_t j, double arrivals, double *forecast)
{
    const backtest_config_t *c = sim->cfg;
    double dt = sim->tick_s, t0 = (double)j * dt, t1 = t0 + dt;
    double ready = 0;
    int64_t ready_end = 0;
    for (int64_t k = 0; k < r->n; k++) {
        double at = r->start[k] + c->startup;
        ready += fmin(fmax((t1 - at) / dt, 0), 1);
        ready_end += at <= t1;
    }
    double consumers = fmin(ready, (double)c->partitions);
    if (ready_end > c->partitions)
        ready_end = c->partitions;
    r->queue += arrivals;
    double served = fmin(r->queue, consumers * c->worker_rate * dt);
    r->queue -= served;
    if (r->queue < 1e-9)
        r->queue = 0;
    r->worker_hours += (double)r->n * dt / 3600;
    double delay = r->queue <= 0   ? 0
                   : ready_end > 0 ? r->queue / ((double)ready_end * c->worker_rate)
                                   : INFINITY;
    if (delay > c->slo)
        r->violation_s += dt;
    r->delay[j] = delay;

    int64_t target = r->fixed;
    if (r->scaler) {
        bf_scaler_obs_t obs = {
            .now = t1,
            .total_lag = (int64_t)llround(r->queue),
            .partitions = (int32_t)c->partitions,
            .current_workers = r->n,
            .arrivals = arrivals,
            .processed = served,
            .latency_s = -1,
        };
        bf_scaler_decision_t d;
        bf_scaler_observe(r->scaler, &obs, &d);
        target = d.decision.target_workers;
        if (forecast)
            *forecast = d.forecast_peak;
    }
    apply_target(r, target, t1);
}

static int64_t clamp_count(const backtest_config_t *c, double want)
{
    double n = ceil(want - 1e-9);
    double hi = (double)(c->max < c->partitions ? c->max : c->partitions);
    if (n > hi)
        n = hi;
    if (n < (double)c->min)
        n = (double)c->min;
    return (int64_t)n;
}

static int sim_init(sim_t *sim, const backtest_config_t *c, const bf_trace_t *tr)
{
    char errstr[256];
    sim->cfg = c;
    sim->tr = tr;
    sim->forecast = bf_calloc(tr->steps, sizeof(double));
    double per = round(tr->step_s / c->tick);
    sim->ticks_per_step = per < 1 ? 1 : (size_t)per;
    sim->tick_s = tr->step_s / (double)sim->ticks_per_step;
    double duration = tr->step_s * (double)tr->steps;
    bf_scaler_conf_t sc = {
        .policy = {.min_workers = c->min,
                   .max_workers = c->max,
                   .scale_down_delay_s = c->scale_down_delay},
        .step_s = tr->step_s,
        .season = 0, /* bf_forecast_seasons_for() below */
        .horizon_s = c->horizon,
        .worker_rate = c->worker_rate,
        .measure_rate = true,
    };
    bf_forecast_seasons_for(tr->step_s, duration, &sc.season, &sc.season2);
    bf_decide_policy_capacity(&sc.policy);
    sc.policy.latency_slo_s = c->slo;
    sc.policy.cooldown_s = c->cooldown;
    sc.policy.up_window_s = c->scale_up_delay;
    bf_scaler_conf_t keda = sc;
    keda.policy = (bf_decide_policy_t){
        .min_workers = c->min,
        .max_workers = c->max,
        .lag_per_worker =
            (int64_t)fmax(1, llround(c->lag_threshold > 0 ? c->lag_threshold
                                                          : c->worker_rate * c->slo)),
        .scale_down_delay_s = c->scale_down_delay,
        .scale_down_at_once = true, /* the HPA's default scale-down policy */
    };
    keda.measure_rate = false;
    int64_t peak = clamp_count(c, bf_trace_peak_rate(tr) / c->worker_rate);
    int64_t initial = clamp_count(c, tr->arrivals[0] / tr->step_s / c->worker_rate);
    const char *names[N_POLICIES] = {"bountyfleet", "fixed-peak", "keda"};
    for (int k = 0; k < N_POLICIES; k++) {
        run_t *r = &sim->runs[k];
        r->name = names[k];
        r->start = bf_calloc((size_t)BF_DECIDE_MAX_WORKERS + 1, sizeof(double));
        r->delay = bf_calloc(tr->steps * sim->ticks_per_step, sizeof(double));
        r->workers = bf_calloc(tr->steps, sizeof(int64_t));
        r->fixed = peak;
        int64_t n0 = k == 1 ? peak : initial;
        for (r->n = 0; r->n < n0; r->n++)
            r->start[r->n] = -c->startup; /* ready at t = 0 */
        if (k == 1)
            continue;
        if (!(r->scaler = bf_scaler_new(k == 0 ? &sc : &keda, errstr, sizeof(errstr)))) {
            fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
            return 1;
        }
        /* the live loop's first tick: a baseline, no arrivals known yet */
        bf_scaler_obs_t obs = {.now = 0,
                               .partitions = (int32_t)c->partitions,
                               .current_workers = r->n,
                               .latency_s = -1};
        bf_scaler_decision_t d;
        bf_scaler_observe(r->scaler, &obs, &d);
    }
    return 0;
}

static void sim_free(sim_t *sim)
{
    for (int k = 0; k < N_POLICIES; k++) {
        run_t *r = &sim->runs[k];
        bf_scaler_destroy(r->scaler);
        free(r->start);
        free(r->delay);
        free(r->workers);
    }
    free(sim->forecast);
}

typedef struct weighted_s {
    double delay, weight;
} weighted_t;

static int by_delay(const void *a, const void *b)
{
    double x = ((const weighted_t *)a)->delay, y = ((const weighted_t *)b)->delay;
    return (x > y) - (x < y);
}

/* The arrival-weighted 95th percentile of the per-step delay; an infinite
 * delay (backlog, no consumer) is capped at the trace's duration. */
static double p95_delay(const sim_t *sim, const run_t *r)
{
    size_t n = sim->tr->steps * sim->ticks_per_step;
    double cap = sim->tr->step_s * (double)sim->tr->steps, total = 0;
    weighted_t *w = bf_malloc(n * sizeof(*w));
    for (size_t j = 0; j < n; j++) {
        w[j] = (weighted_t){fmin(r->delay[j], cap),
                            sim->tr->arrivals[j / sim->ticks_per_step]};
        total += w[j].weight;
    }
    qsort(w, n, sizeof(*w), by_delay);
    double acc = 0, p = 0;
    for (size_t j = 0; j < n && total > 0; j++) {
        acc += w[j].weight;
        p = w[j].delay;
        if (acc >= 0.95 * total)
            break;
    }
    free(w);
    return p;
}

static int print_results(const sim_t *sim)
{
    const backtest_config_t *c = sim->cfg;
    bool json = strcmp(c->format, "json") == 0;
    json_t *policies = json_array();
    if (!json)
        printf("%-12s %12s %10s %14s %12s %8s\n", "policy", "worker_hours", "cost_usd",
               "slo_viol_min", "p95_delay_s", "actions");
    for (int k = 0; k < N_POLICIES; k++) {
        const run_t *r = &sim->runs[k];
        double p95 = p95_delay(sim, r);
        if (json)
            json_array_append_new(
                policies, json_pack("{s:s, s:f, s:f, s:f, s:f, s:I}", "name", r->name,
                                    "worker_hours", r->worker_hours, "cost_usd",
                                    r->worker_hours * c->price, "slo_violation_minutes",
                                    r->violation_s / 60, "p95_queue_delay_s", p95,
                                    "scaling_actions", (json_int_t)r->actions));
        else
            printf("%-12s %12.1f %10.2f %14.1f %12.1f %8lld\n", r->name, r->worker_hours,
                   r->worker_hours * c->price, r->violation_s / 60, p95,
                   (long long)r->actions);
    }
    if (json) {
        json_t *o = json_pack("{s:o}", "policies", policies);
        char *text =
            o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
              : NULL;
        json_decref(o);
        if (!text)
            abort();
        puts(text);
        free(text);
    } else {
        json_decref(policies);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static void iso_time(double epoch, char *buf, size_t size)
{
    time_t secs = (time_t)epoch;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_csv(const sim_t *sim, const char *path)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return 1;
    }
    const bf_trace_t *tr = sim->tr;
    fprintf(fp, "timestamp,arrivals_per_s,forecast_per_s");
    for (int k = 0; k < N_POLICIES; k++)
        fprintf(fp, ",workers_%s", sim->runs[k].name);
    fputc('\n', fp);
    for (size_t i = 0; i < tr->steps; i++) {
        char when[32];
        iso_time(tr->start + (double)i * tr->step_s, when, sizeof(when));
        fprintf(fp, "%s,%.6g,%.6g", when, tr->arrivals[i] / tr->step_s, sim->forecast[i]);
        for (int k = 0; k < N_POLICIES; k++)
            fprintf(fp, ",%lld", (long long)sim->runs[k].workers[i]);
        fputc('\n', fp);
    }
    if (fclose(fp) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

/* One polyline of @p n values scaled into the panel [top, top + height]. */
static void svg_line(FILE *fp, size_t n, double (*value)(const sim_t *, size_t, int),
                     const sim_t *sim, int which, double vmax, double top, double height,
                     const char *colour)
{
    size_t stride = n > SVG_MAX_POINTS ? (n + SVG_MAX_POINTS - 1) / SVG_MAX_POINTS : 1;
    fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\" points=\"",
            colour);
    for (size_t i = 0; i < n; i += stride) {
        double x = 60 + 900.0 * (double)i / (double)(n > 1 ? n - 1 : 1);
        double y = top + height - height * value(sim, i, which) / vmax;
        fprintf(fp, "%.1f,%.1f ", x, y);
    }
    fprintf(fp, "\"/>\n");
}

static double arrivals_at(const sim_t *s, size_t i, int which)
{
    (void)which;
    return s->tr->arrivals[i] / s->tr->step_s;
}

static double forecast_at(const sim_t *s, size_t i, int which)
{
    (void)which;
    /* made at the end of step i for the steps after it */
    return i > 0 ? s->forecast[i - 1] : 0;
}

static double workers_at(const sim_t *s, size_t i, int which)
{
    return (double)s->runs[which].workers[i];
}

static int write_svg(const sim_t *sim, const char *path)
{
    static const char *colours[N_POLICIES] = {"#1a9850", "#d73027", "#fc8d59"};
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return 1;
    }
    size_t n = sim->tr->steps;
    double rmax = 1e-9, wmax = 1;
    for (size_t i = 0; i < n; i++) {
        rmax = fmax(rmax, fmax(arrivals_at(sim, i, 0), forecast_at(sim, i, 0)));
        for (int k = 0; k < N_POLICIES; k++)
            wmax = fmax(wmax, workers_at(sim, i, k));
    }
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\" height=\"520\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"1000\" height=\"520\" fill=\"white\"/>\n"
            "<text x=\"60\" y=\"16\">arrivals/s (grey, peak %.3g) and forecast "
            "(blue)</text>\n"
            "<text x=\"60\" y=\"276\">workers (peak %.0f): bountyfleet (green), "
            "fixed-peak (red), keda (orange)</text>\n"
            "<rect x=\"60\" y=\"24\" width=\"900\" height=\"220\" fill=\"none\" "
            "stroke=\"#ccc\"/>\n"
            "<rect x=\"60\" y=\"284\" width=\"900\" height=\"220\" fill=\"none\" "
            "stroke=\"#ccc\"/>\n",
            rmax, wmax);
    svg_line(fp, n, arrivals_at, sim, 0, rmax, 24, 220, "#999");
    svg_line(fp, n, forecast_at, sim, 0, rmax, 24, 220, "#2166ac");
    for (int k = 0; k < N_POLICIES; k++)
        svg_line(fp, n, workers_at, sim, k, wmax * 1.05, 284, 220, colours[k]);
    fprintf(fp, "</svg>\n");
    if (fclose(fp) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "%s: %s\n", PROGRAM, msg);
    return 2;
}

int bf_backtest_main(int argc, char **argv)
{
    backtest_config_t cfg = {0};
    char errstr[512];
    bf_trace_t tr = {0};
    sim_t sim = {0};
    int rc = bf_offline_cli_parse(&cli, &cfg, argc, argv, &cfg.trace);
    if (rc >= 0)
        goto out;
    if (strcmp(cfg.format, "json") != 0 && strcmp(cfg.format, "table") != 0) {
        snprintf(errstr, sizeof(errstr), "--format: '%s' is neither table nor json",
                 cfg.format);
        rc = usage_error(errstr);
        goto out;
    }
    if (cfg.min > cfg.max) {
        snprintf(errstr, sizeof(errstr), "--min %lld is above --max %lld",
                 (long long)cfg.min, (long long)cfg.max);
        rc = usage_error(errstr);
        goto out;
    }
    rc = 1;
    if (bf_trace_read(cfg.trace, cfg.min_step, &tr, errstr, sizeof(errstr)) != BF_OK) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }
    if (sim_init(&sim, &cfg, &tr) != 0)
        goto out;
    for (size_t i = 0; i < tr.steps; i++) {
        double each = tr.arrivals[i] / (double)sim.ticks_per_step;
        for (int k = 0; k < N_POLICIES; k++) {
            for (size_t j = 0; j < sim.ticks_per_step; j++)
                tick(&sim, &sim.runs[k], i * sim.ticks_per_step + j, each,
                     k == 0 ? &sim.forecast[i] : NULL);
            sim.runs[k].workers[i] = sim.runs[k].n;
        }
    }
    rc = print_results(&sim);
    if (rc == 0 && cfg.csv)
        rc = write_csv(&sim, cfg.csv);
    if (rc == 0 && cfg.svg)
        rc = write_svg(&sim, cfg.svg);
out:
    sim_free(&sim);
    bf_trace_free(&tr);
    bf_cli_free(&cli, &cfg);
    return rc;
}

int bf_backtest_replay(const bf_backtest_settings_t *s, const bf_trace_t *tr,
                       bf_backtest_outcome_t *out, int64_t *workers)
{
    backtest_config_t cfg = {
        .worker_rate = s->worker_rate,
        .startup = s->startup_s,
        .partitions = s->partitions,
        .slo = s->slo_s,
        .price = s->price,
        .min = s->min,
        .max = s->max,
        .scale_down_delay = s->scale_down_delay_s,
        .horizon = s->horizon_s,
        .tick = s->tick_s > 0 ? s->tick_s : 60,
    };
    sim_t sim = {0};
    int rc = sim_init(&sim, &cfg, tr);
    run_t *r = &sim.runs[0];
    double arrived = 0;
    for (size_t i = 0; rc == 0 && i < tr->steps; i++) {
        arrived += tr->arrivals[i];
        double each = tr->arrivals[i] / (double)sim.ticks_per_step;
        for (size_t j = 0; j < sim.ticks_per_step; j++)
            tick(&sim, r, i * sim.ticks_per_step + j, each, &sim.forecast[i]);
        if (workers)
            workers[i] = r->n;
    }
    if (rc == 0)
        *out = (bf_backtest_outcome_t){
            .worker_hours = r->worker_hours,
            .cost_usd = r->worker_hours * s->price,
            .slo_violation_minutes = r->violation_s / 60,
            .p95_queue_delay_s = p95_delay(&sim, r),
            .served = arrived - r->queue, /* what is not still queued */
            .forecast_last = tr->steps ? sim.forecast[tr->steps - 1] : 0,
            .scaling_actions = r->actions,
        };
    sim_free(&sim);
    return rc;
}
