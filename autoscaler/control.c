/*
 * control.c - the control loop (see control.h for the tick).
 *
 * Signals are taken synchronously with sigtimedwait() instead of handlers:
 * there is no async-signal-safety to worry about in the loop, and SIGCHLD
 * wakes the sleep without a self-pipe. The price is that a signal arriving
 * during a lag reading waits until it returns, which is bounded by the
 * Kafka timeout.
 */
#include "autoscaler/control.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "autoscaler/aispend.h"
#include "autoscaler/decision_line.h"
#include "autoscaler/recommend.h"
#include "libbf/backoff.h"
#include "libbf/clock.h"
#include "libbf/log.h"
#include "libbf/mem.h"

/* Seconds between two logs of the recommendations' warnings. */
#define RECOMMEND_LOG_EVERY_S 3600.0

/* Longest wait between two lag readings while Kafka is unreachable. */
#define KAFKA_BACKOFF_MAX_S 30.0

typedef struct control_s {
    const bf_control_conf_t *conf;
    bf_lag_reader_t *lag;
    bf_actuator_t *act;
    FILE *out;
    int64_t target; /* workers the fleet should run; --min until a decision */
    bf_scaler_t *scaler;
    bf_budget_t budget;
    bf_heartbeats_t *heartbeats;    /* owned */
    size_t saved_steps;             /* forecast steps in the last saved state */
    bool save_failing;              /* the last save failed (logged once per run) */
    double recommended_at;          /* wall time of the last recommendations, 0 none */
    double recommend_logged_at;     /* wall time their warnings were last logged */
    bf_recommend_history_t history; /* arrivals per step, worker time paid and needed */
    bf_aispend_t *ai;               /* owned: AI spend per provider (aispend.h) */
    char redis_error[512];          /* the state store's last failure, "" when it works */
    bool have_sums;                 /* high_sum/committed_sum hold a previous reading */
    int32_t prev_partitions;
    int64_t high_sum, committed_sum;
    bf_decision_line_state_t line;
    double next_read;  /* monotonic time of the next lag reading */
    double backoff_s;  /* current retry delay while readings fail */
    unsigned failures; /* consecutive failed readings */
    bool out_failed;   /* a write to `out` failed (logged once) */
} control_t;

static sigset_t control_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    return set;
}

void bf_control_block_signals(void)
{
    sigset_t set = control_signals();
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* A reader of stdout that goes away must not kill the autoscaler (and
     * orphan its workers); the failed write is logged instead. */
    signal(SIGPIPE, SIG_IGN);
}

static void apply_target(control_t *c)
{
    char errstr[512];
    bf_err_t err = bf_actuator_apply(c->act, c->target, errstr, sizeof(errstr));
    if (err)
        bf_autoscaler_telemetry_actuator_error(c->conf->telemetry);
    if (err)
        bf_log(BF_LOG_ERROR, "autoscaler", "actuator_failed",
               BF_LSTR("actuator", bf_actuator_kind(c->act)), BF_LSTR("error", errstr),
               BF_LINT("target_workers", c->target), BF_LSTR("code", bf_err_name(err)));
}

static void print_decision(control_t *c, const bf_decision_t *d)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    char *line = bf_decision_line_format(d, &wall);
    bool ok =
        fputs(line, c->out) >= 0 && fputc('\n', c->out) != EOF && fflush(c->out) == 0;
    free(line);
    if (!ok && !c->out_failed) {
        c->out_failed = true;
        bf_log(BF_LOG_ERROR, "autoscaler", "decision_output_failed",
               BF_LSTR("error", strerror(errno)));
    }
}

static void reading_failed(control_t *c, bf_err_t err, const char *errstr, double now)
{
    c->failures++;
    /* First retry after one interval, then doubling up to the cap; one
     * autoscaler, so nothing to spread (and the log promises the time). */
    bf_backoff_t b = {.base_s = c->conf->interval_s,
                      .cap_s = fmax(KAFKA_BACKOFF_MAX_S, c->conf->interval_s)};
    c->backoff_s = bf_backoff_s(&b, c->failures - 1);
    c->next_read = now + c->backoff_s;
    bf_log(BF_LOG_WARN, "autoscaler", "lag_unavailable", BF_LSTR("error", errstr),
           BF_LSTR("code", bf_err_name(err)),
           BF_LINT("consecutive_failures", c->failures),
           BF_LDBL("retry_in_s", c->backoff_s), BF_LINT("keeping_workers", c->target));
}

static double wall_clock(void)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    return (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
}

/* Publish what this tick saw (status.h); @p snap and @p d are NULL after a
 * failed reading, which @p kafka_error then names. */
static void publish_status(control_t *c, double now, double wall_now,
                           const bf_lag_snapshot_t *snap, const char *kafka_error,
                           const bf_scaler_decision_t *d,
                           const bf_budget_status_t *budget)
{
    if (!c->conf->status)
        return;
    bf_override_state_t ov;
    bf_override_get(c->conf->override, now, &ov);
    bf_status_tick_t tick = {
        .wall = wall_now,
        .now = now,
        .snap = snap,
        .kafka_error = kafka_error,
        .kafka_failures = c->failures,
        .decision = d,
        .heartbeats = c->heartbeats,
        .budget = budget,
        .forecast = bf_scaler_forecast(c->scaler),
        .override = &ov,
        .current_workers = bf_actuator_current(c->act),
        .redis_error = c->redis_error[0] ? c->redis_error : NULL,
    };
    bf_status_update(c->conf->status, &tick);
}

static void log_snapshot(const bf_lag_snapshot_t *snap)
{
    if (BF_LOG_DEBUG > bf_log_level_get())
        return;
    for (int32_t i = 0; i < snap->partition_count; i++) {
        const bf_lag_partition_t *p = &snap->partitions[i];
        bf_log(BF_LOG_DEBUG, "autoscaler", "partition_lag",
               BF_LINT("partition", p->partition), BF_LINT("low", p->low),
               BF_LINT("high", p->high), BF_LINT("committed", p->committed),
               BF_LINT("lag", p->lag));
    }
}

/* Book the workers that ran since the last reading, and log an alert for
 * each period whose spend (or projection) passed the alert share. */
static void account_budget(control_t *c, int64_t workers, double now,
                           bf_budget_status_t *st)
{
    bf_budget_account(&c->budget, now, workers, bf_heartbeats_take_spend(c->heartbeats));
    bf_budget_status(&c->budget, now, workers, st);
    for (int p = 0; p < BF_BUDGET_PERIODS; p++) {
        const bf_budget_period_status_t *s = &st->period[p];
        if (s->alert)
            bf_log(BF_LOG_WARN, "autoscaler", "budget_alert",
                   BF_LSTR("period", bf_budget_period_name((bf_budget_period_t)p)),
                   BF_LDBL("budget_usd", s->limit), BF_LDBL("spent_usd", s->spent),
                   BF_LDBL("projected_usd", s->projected),
                   BF_LDBL("alert_at", c->budget.conf.alert_at),
                   BF_LSTR("recommendation", st->recommendation));
    }
}

/* Restore the forecast from the state store, if there is one. */
static void restore_state(control_t *c)
{
    char errstr[512], *text = NULL;
    if (!c->conf->state)
        return;
    bf_err_t err = bf_state_load(c->conf->state, &text, errstr, sizeof(errstr));
    if (!err && text && bf_scaler_load(c->scaler, text, errstr, sizeof(errstr)) != 0)
        err = BF_ERR_PARSE;
    free(text);
    if (err == BF_ERR_REDIS || err == BF_ERR_TIMEOUT)
        snprintf(c->redis_error, sizeof(c->redis_error), "%s", errstr);
    if (err)
        bf_log(BF_LOG_WARN, "autoscaler", "state_not_restored", BF_LSTR("error", errstr),
               BF_LSTR("code", bf_err_name(err)));
    else
        bf_log(BF_LOG_INFO, "autoscaler", "state_restored",
               BF_LINT("forecast_steps",
                       (int64_t)bf_forecast_count(bf_scaler_forecast(c->scaler))));
    c->saved_steps = bf_forecast_count(bf_scaler_forecast(c->scaler));
}

/* Save the state after each new forecast step. */
static void save_state(control_t *c)
{
    size_t steps = bf_forecast_count(bf_scaler_forecast(c->scaler));
    if (!c->conf->state || steps == c->saved_steps)
        return;
    char errstr[512], *text = bf_scaler_save(c->scaler);
    bf_err_t err = bf_state_save(c->conf->state, text, errstr, sizeof(errstr));
    free(text);
    if (err && !c->save_failing)
        bf_log(BF_LOG_WARN, "autoscaler", "state_not_saved", BF_LSTR("error", errstr),
               BF_LSTR("code", bf_err_name(err)));
    c->save_failing = err != BF_OK;
    snprintf(c->redis_error, sizeof(c->redis_error), "%s", err ? errstr : "");
    if (!err)
        c->saved_steps = steps;
}

/* Log the recommendations' warnings, at most once an hour: the document
 * (/api/v1/recommendations) is there for the rest. */
static void log_recommendations(control_t *c, const char *text, double wall_now)
{
    if (c->recommend_logged_at > 0 &&
        wall_now - c->recommend_logged_at < RECOMMEND_LOG_EVERY_S)
        return;
    json_t *doc = json_loads(text, 0, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "recommendations"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "severity")), "warning") != 0)
            continue;
        c->recommend_logged_at = wall_now;
        bf_log(BF_LOG_INFO, "autoscaler", "recommendation",
               BF_LSTR("kind", json_string_value(json_object_get(e, "kind"))),
               BF_LSTR("text", json_string_value(json_object_get(e, "text"))));
    }
    json_decref(doc);
}

/* Every recommend_every_s (and at the first decision), the cost
 * recommendations from what this run measured (recommend.h). The fleet
 * search replays the recorded steps, so it costs some milliseconds per
 * replay; the interval keeps that far below the loop's own work. */
static void recommend(control_t *c, const bf_scaler_decision_t *d,
                      const bf_budget_status_t *budget, int32_t partitions,
                      double wall_now)
{
    if (c->recommended_at > 0 &&
        wall_now - c->recommended_at < c->conf->recommend_every_s)
        return;
    c->recommended_at = wall_now;
    const bf_decide_policy_t *p = &c->conf->scaler.policy;
    bf_trace_t history;
    bf_recommend_history_trace(&c->history, &history);
    bf_recommend_input_t in = {
        .source = "live",
        .wall = wall_now,
        .history = &history,
        .fleet =
            {
                .worker_rate = d->worker_rate,
                .startup_s = c->conf->worker_startup_s,
                .partitions = partitions,
                .slo_s = p->latency_slo_s > 0 ? p->latency_slo_s : 60,
                .price = c->conf->budget.worker_price,
                .min = p->min_workers,
                .max = p->max_workers,
                .scale_down_delay_s = p->scale_down_delay_s,
                .horizon_s = c->conf->scaler.horizon_s,
                .tick_s = fmin(c->conf->scaler.step_s, 60),
            },
        .target_utilization = p->target_utilization,
        .worker_hours = c->history.worker_hours,
        .busy_worker_hours = c->history.busy_worker_hours,
        .ai_usd = c->heartbeats->ai_usd_total,
        .reports =
            c->heartbeats->validated_total > 0 ? c->heartbeats->validated_total : -1,
        .duplicates = c->heartbeats->duplicate_total,
        .ai = c->ai,
        .budget = budget,
        .forecast_rate = d->forecast_ready ? d->forecast_peak : -1,
    };
    bf_scaler_season_needs(c->scaler, d->worker_rate, &in.offpeak_workers,
                           &in.peak_workers);
    char *text = bf_recommend_render(&in);
    bf_trace_free(&history);
    log_recommendations(c, text, wall_now);
    if (c->conf->status)
        bf_status_set_recommendations(c->conf->status, text);
    else
        free(text);
}

static void take_validation(void *opaque, const json_t *record)
{
    bf_aispend_add(opaque, record);
}

/* @p tick is when this tick started: the next reading is due one interval
 * after it, on the tick cadence, however long this reading takes. */
static void observe_and_decide(control_t *c, double tick)
{
    bf_lag_snapshot_t snap;
    char errstr[512];
    bf_err_t err = bf_lag_read(c->lag, &snap, errstr, sizeof(errstr));
    double now = bf_monotonic_s(); /* the reading may have taken a while */
    if (err) {
        bf_autoscaler_telemetry_set_ready(c->conf->telemetry, false, "lag unavailable");
        reading_failed(c, err, errstr, now);
        publish_status(c, now, wall_clock(), NULL, errstr, NULL, NULL);
        return;
    }
    bf_autoscaler_telemetry_set_ready(c->conf->telemetry, true, NULL);
    if (c->failures)
        bf_log(BF_LOG_INFO, "autoscaler", "lag_available",
               BF_LINT("after_failures", c->failures));
    c->failures = 0;
    c->next_read = tick + c->conf->interval_s;
    log_snapshot(&snap);

    /* Arrivals and processed reports since the last reading: the growth of
     * the summed log-end and committed offsets. A change in the partition
     * count (or an offset that went back: a topic recreated) makes the
     * difference meaningless, so that reading counts nothing. */
    int64_t high = 0, committed = 0;
    for (int32_t i = 0; i < snap.partition_count; i++) {
        const bf_lag_partition_t *p = &snap.partitions[i];
        high += p->high;
        committed += p->committed >= 0 ? p->committed : p->low;
    }
    double arrivals = 0, processed = 0;
    if (c->have_sums && c->prev_partitions == snap.partition_count &&
        high >= c->high_sum && committed >= c->committed_sum) {
        arrivals = (double)(high - c->high_sum);
        processed = (double)(committed - c->committed_sum);
    }
    c->have_sums = true;
    c->prev_partitions = snap.partition_count;
    c->high_sum = high;
    c->committed_sum = committed;

    int64_t current = bf_actuator_current(c->act);
    double wall_now = wall_clock();
    bf_heartbeats_summary_t hb;
    bf_heartbeat_reader_poll(c->conf->heartbeats, c->heartbeats, wall_now);
    if (c->conf->validations)
        bf_tail_poll(c->conf->validations, BF_AISPEND_PER_TICK, take_validation, c->ai);
    bf_heartbeats_summary(c->heartbeats, wall_now, &hb);
    bf_autoscaler_telemetry_heartbeating(c->conf->telemetry, hb.heartbeating);
    bf_budget_status_t budget;
    account_budget(c, current, wall_now, &budget);
    bf_scaler_obs_t obs = {
        .now = now,
        .total_lag = snap.total_lag,
        .partitions = snap.partition_count,
        .current_workers = current,
        .budget_use = budget.use,
        .budget_limited = budget.limited,
        .budget_workers = budget.allowed_workers,
        .arrivals = arrivals,
        .processed = processed,
        .latency_s = -1,
        .saturated = hb.heartbeating == 0              ? BF_SATURATION_UNKNOWN
                     : 2 * hb.paused > hb.heartbeating ? BF_SATURATION_YES
                                                       : BF_SATURATION_NO,
        .ai_limit_bound = hb.heartbeating > 0 && 2 * hb.ai_limited > hb.heartbeating,
        .ai_limit_rpm = hb.ai_limit_rpm,
    };
    bf_scaler_decision_t sd;
    bf_scaler_observe(c->scaler, &obs, &sd);
    /* The scaler still observes and decides under an override, so its
     * forecast and windows stay current for when the override ends. */
    bf_override_state_t ov;
    bf_override_get(c->conf->override, now, &ov);
    bf_override_apply(&ov, &c->conf->scaler.policy, &budget, &sd.decision);
    bf_autoscaler_telemetry_observe(c->conf->telemetry, &snap, &sd, &budget, current);
    bf_publisher_send(c->conf->publisher, &sd);
    bf_recommend_history_add(&c->history, wall_now, arrivals, processed, current,
                             sd.worker_rate);
    save_state(c);
    publish_status(c, now, wall_now, &snap, NULL, &sd, &budget);
    recommend(c, &sd, &budget, snap.partition_count, wall_now);
    bf_lag_snapshot_free(&snap);
    const bf_decision_t d = sd.decision;
    if (bf_decision_line_due(&c->line, &d, now))
        print_decision(c, &d);
    /* Even a HOLD sets the target: it is the count that runs now, so a start
     * that failed is not retried forever when the rule no longer wants it. */
    c->target = d.target_workers;
    if (d.action != BF_SCALE_HOLD)
        apply_target(c);
}

bf_err_t bf_control_run(const bf_control_conf_t *conf, bf_lag_reader_t *lag,
                        bf_actuator_t *act, FILE *out)
{
    char errstr[256];
    control_t c = {
        .conf = conf,
        .lag = lag,
        .act = act,
        .out = out,
        .target = conf->scaler.policy.min_workers,
        .next_read = bf_monotonic_s(),
    };
    bf_budget_init(&c.budget, &conf->budget);
    c.heartbeats = bf_calloc(1, sizeof(*c.heartbeats));
    c.ai = bf_calloc(1, sizeof(*c.ai));
    bf_recommend_history_init(&c.history, conf->scaler.step_s);
    if (!(c.scaler = bf_scaler_new(&conf->scaler, errstr, sizeof(errstr)))) {
        bf_log(BF_LOG_FATAL, "autoscaler", "bad_configuration", BF_LSTR("error", errstr));
        free(c.heartbeats);
        free(c.ai);
        bf_recommend_history_free(&c.history);
        return BF_ERR_CONFIG;
    }
    restore_state(&c);
    sigset_t set = control_signals();
    double next_tick = bf_monotonic_s();
    bf_err_t ret = BF_OK;

    for (;;) {
        double now = bf_monotonic_s();
        if (now >= next_tick) {
            apply_target(&c);
            if (now >= c.next_read)
                observe_and_decide(&c, now);
            next_tick = now + conf->interval_s;
            now = bf_monotonic_s();
        }
        double wait = next_tick - now;
        if (wait < 0)
            wait = 0;
        struct timespec ts = {.tv_sec = (time_t)wait,
                              .tv_nsec = (long)((wait - floor(wait)) * 1e9)};
        siginfo_t info;
        int sig = sigtimedwait(&set, &info, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            bf_log(BF_LOG_INFO, "autoscaler", "stopping",
                   BF_LSTR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
                   BF_LINT("workers", bf_actuator_current(act)));
            break;
        }
        if (sig == SIGCHLD) {
            (void)bf_actuator_current(act); /* reap now; replace on the tick */
            continue;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            bf_log(BF_LOG_FATAL, "autoscaler", "signal_wait_failed",
                   BF_LSTR("error", strerror(errno)));
            ret = BF_ERR_IO;
            break;
        }
    }
    bf_actuator_shutdown(act);
    bf_scaler_destroy(c.scaler);
    free(c.heartbeats);
    free(c.ai);
    bf_recommend_history_free(&c.history);
    bf_log(BF_LOG_INFO, "autoscaler", "stopped");
    return ret;
}
