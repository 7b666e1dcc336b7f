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

#include "autoscaler/clock.h"
#include "autoscaler/decision_line.h"
#include "libbf/log.h"
#include "libbf/mem.h"

/* Seconds between two recommendation log lines. */
#define RECOMMEND_EVERY_S 3600.0

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
    bf_heartbeats_t *heartbeats; /* owned */
    size_t saved_steps;          /* forecast steps in the last saved state */
    bool save_failing;           /* the last save failed (logged once per run) */
    double recommended_at;       /* wall time of the last recommendation line */
    bool have_sums;              /* high_sum/committed_sum hold a previous reading */
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
        bf_telemetry_actuator_error(c->conf->telemetry);
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
    /* First retry after one interval, then doubling up to the cap. */
    c->backoff_s = c->failures == 1 ? c->conf->interval_s : c->backoff_s * 2;
    double cap = fmax(KAFKA_BACKOFF_MAX_S, c->conf->interval_s);
    if (c->backoff_s > cap)
        c->backoff_s = cap;
    c->next_read = now + c->backoff_s;
    bf_log(BF_LOG_WARN, "autoscaler", "lag_unavailable", BF_LSTR("error", errstr),
           BF_LSTR("code", bf_err_name(err)),
           BF_LINT("consecutive_failures", c->failures),
           BF_LDBL("retry_in_s", c->backoff_s), BF_LINT("keeping_workers", c->target));
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
    if (!err)
        c->saved_steps = steps;
}

/* Once an hour, what the forecast and the budget suggest to an operator
 * sizing --min/--max or a budget. */
static void recommend(control_t *c, const bf_scaler_decision_t *d,
                      const bf_budget_status_t *budget, double wall_now)
{
    if (wall_now - c->recommended_at < RECOMMEND_EVERY_S)
        return;
    int64_t offpeak, peak;
    bf_scaler_season_needs(c->scaler, d->worker_rate, &offpeak, &peak);
    if (offpeak < 0 && !budget->limited)
        return;
    c->recommended_at = wall_now;
    char text[400];
    size_t n = 0;
    text[0] = '\0';
    if (offpeak >= 0)
        n = (size_t)snprintf(
            text, sizeof(text),
            "%lld workers suffice off-peak, %lld at the forecast peak of "
            "the coming season",
            (long long)offpeak, (long long)peak);
    if (budget->limited && n < sizeof(text))
        snprintf(text + n, sizeof(text) - n, "%s%s", n ? "; " : "",
                 budget->recommendation);
    bf_log(BF_LOG_INFO, "autoscaler", "recommendation", BF_LSTR("text", text),
           BF_LINT("offpeak_workers", offpeak), BF_LINT("peak_workers", peak));
}

/* @p tick is when this tick started: the next reading is due one interval
 * after it, on the tick cadence, however long this reading takes. */
static void observe_and_decide(control_t *c, double tick)
{
    bf_lag_snapshot_t snap;
    char errstr[512];
    bf_err_t err = bf_lag_read(c->lag, &snap, errstr, sizeof(errstr));
    double now = bf_autoscaler_now(); /* the reading may have taken a while */
    if (err) {
        bf_telemetry_set_ready(c->conf->telemetry, false, "lag unavailable");
        reading_failed(c, err, errstr, now);
        return;
    }
    bf_telemetry_set_ready(c->conf->telemetry, true, NULL);
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
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    double wall_now = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    bf_heartbeats_summary_t hb;
    bf_heartbeat_reader_poll(c->conf->heartbeats, c->heartbeats, wall_now);
    bf_heartbeats_summary(c->heartbeats, wall_now, &hb);
    bf_telemetry_heartbeating(c->conf->telemetry, hb.heartbeating);
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
    };
    bf_scaler_decision_t sd;
    bf_scaler_observe(c->scaler, &obs, &sd);
    /* The scaler still observes and decides under an override, so its
     * forecast and windows stay current for when the override ends. */
    bf_override_state_t ov;
    bf_override_get(c->conf->override, now, &ov);
    bf_override_apply(&ov, &c->conf->scaler.policy, &budget, &sd.decision);
    bf_telemetry_observe(c->conf->telemetry, &snap, &sd, &budget, current);
    bf_publisher_send(c->conf->publisher, &sd);
    recommend(c, &sd, &budget, wall_now);
    save_state(c);
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
        .next_read = bf_autoscaler_now(),
    };
    bf_budget_init(&c.budget, &conf->budget);
    c.heartbeats = bf_calloc(1, sizeof(*c.heartbeats));
    if (!(c.scaler = bf_scaler_new(&conf->scaler, errstr, sizeof(errstr)))) {
        bf_log(BF_LOG_FATAL, "autoscaler", "bad_configuration", BF_LSTR("error", errstr));
        return BF_ERR_CONFIG;
    }
    restore_state(&c);
    sigset_t set = control_signals();
    double next_tick = bf_autoscaler_now();
    bf_err_t ret = BF_OK;

    for (;;) {
        double now = bf_autoscaler_now();
        if (now >= next_tick) {
            apply_target(&c);
            if (now >= c.next_read)
                observe_and_decide(&c, now);
            next_tick = now + conf->interval_s;
            now = bf_autoscaler_now();
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
    bf_log(BF_LOG_INFO, "autoscaler", "stopped");
    return ret;
}
