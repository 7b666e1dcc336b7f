/*
 * main.c - bountyfleet-autoscaler: read the worker group's lag, decide how
 * many workers should run, start or stop them, print each decision.
 *
 *   bountyfleet-autoscaler [OPTIONS] [-- WORKER-PATH [WORKER-ARGS...]]
 *
 * The settings table below drives parsing, --help and CONFIGURATION.md
 * (config.h). The modules: lag.c observes, decide.c decides, actuator*.c
 * act, decision_line.c prints, control.c runs the loop.
 *
 * Exit status: 0 after a graceful stop (SIGTERM/SIGINT), 2 for a bad flag
 * or setting (one line on stderr), 1 for a fatal runtime error.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/actuator.h"
#include "autoscaler/actuator_local.h"
#include "autoscaler/aispend.h"
#include "autoscaler/backtest.h"
#include "autoscaler/control.h"
#include "autoscaler/decide.h"
#include "autoscaler/forecast.h"
#include "autoscaler/forecast_eval.h"
#include "autoscaler/lag.h"
#include "autoscaler/override.h"
#include "autoscaler/recommend.h"
#include "autoscaler/status.h"
#include "autoscaler/tail.h"
#include "autoscaler/telemetry.h"
#include "libbf/config.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"

#define PROGRAM "bountyfleet-autoscaler"

typedef struct autoscaler_config_s {
    char *brokers;
    char *group;
    char *topic;
    double interval;
    int64_t lag_per_worker;
    int64_t min;
    int64_t max;
    double scale_down_delay;
    char *actuator;
    char *worker_cmd;
    double stop_timeout;
    double kafka_timeout;
    int log_level; /* bf_log_level_t */
    char *rule;
    double worker_rate;
    double drain_target;
    double target_utilization;
    double forecast_step;
    double horizon;
    char *season;
    double cooldown;
    double scale_up_delay;
    int64_t activation_lag;
    double latency_slo;
    char *weights;
    double up_threshold;
    double down_threshold;
    double worker_price;
    double budget_hourly;
    double budget_daily;
    double budget_monthly;
    double budget_alert;
    char *k8s_api_url;
    char *k8s_namespace;
    char *k8s_deployment;
    char *k8s_ca_file;
    char *k8s_token;
    char *scale_command;
    double command_timeout;
    char *metrics_addr;
    char *topic_scaling;
    char *output_framing;
    char *state_url;
    char *state_key;
    char *topic_heartbeats;
    char *admin_token;
    char *topic_validations;
    double worker_startup;
    double recommend_interval;
} autoscaler_config_t;

#define OPT(field) offsetof(autoscaler_config_t, field)

static const bf_opt_t options[] = {
    {"brokers", 'b', "KAFKA_BROKERS", BF_OPT_STRING, "127.0.0.1:9092", 1, 0,
     "HOST:PORT,...", "Kafka bootstrap servers", OPT(brokers)},
    {"group", 'g', "BOUNTYFLEET_GROUP", BF_OPT_STRING, "bountyfleet-workers", 1, 0,
     "GROUP", "consumer group of the workers, whose lag is read", OPT(group)},
    {"topic", 't', "BOUNTYFLEET_TOPIC_REPORTS", BF_OPT_STRING, BF_TOPIC_REPORTS, 1, 0,
     "TOPIC", "topic the workers consume", OPT(topic)},
    {"interval", 'i', NULL, BF_OPT_DOUBLE, "5", 0.05, 3600, "SECONDS",
     "time between two decisions", OPT(interval)},
    {"lag-per-worker", 0, NULL, BF_OPT_INT, "100", 1, 1e15, "N",
     "--rule lag: messages of lag one worker is expected to absorb, desired = ceil(lag / "
     "N)",
     OPT(lag_per_worker)},
    {"min", 0, NULL, BF_OPT_INT, "1", 0, BF_DECIDE_MAX_WORKERS, "N",
     "fewest workers, also with no lag (wins over the partition cap)", OPT(min)},
    {"max", 0, NULL, BF_OPT_INT, "4", 1, BF_DECIDE_MAX_WORKERS, "N", "most workers",
     OPT(max)},
    {"scale-down-delay", 0, NULL, BF_OPT_DOUBLE, "30", 0, 86400, "SECONDS",
     "scale down only after the desired count was lower for this long (one worker per "
     "decision)",
     OPT(scale_down_delay)},
    {"actuator", 'a', NULL, BF_OPT_STRING, "local", 1, 0, "KIND",
     "how decisions are applied: local (worker processes on this machine), kubernetes "
     "(a Deployment's scale), command (--scale-command) or none (decide and print only)",
     OPT(actuator)},
    {"worker-cmd", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "\"PATH ARGS...\"",
     "worker command for the local actuator, split on spaces (no shell, no quoting); "
     "or give it after --",
     OPT(worker_cmd)},
    {"stop-timeout", 0, NULL, BF_OPT_DOUBLE, "30", 0, 3600, "SECONDS",
     "time a worker gets after SIGTERM before SIGKILL", OPT(stop_timeout)},
    {"kafka-timeout", 0, NULL, BF_OPT_DOUBLE, "5", 0.1, 300, "SECONDS",
     "deadline of one lag reading (metadata, committed offsets, watermarks)",
     OPT(kafka_timeout)},
    BF_LOG_LEVEL_OPTION("info", "log threshold (debug logs the lag per partition)",
                        OPT(log_level)),
    {"rule", 0, NULL, BF_OPT_STRING, "capacity", 1, 0, "capacity|lag",
     "capacity: drain the lag within --drain-target while absorbing the forecast "
     "arrivals at the measured per-worker throughput, gated by the multi-metric score; "
     "lag: ceil(lag / --lag-per-worker) (KEDA)",
     OPT(rule)},
    {"worker-rate", 0, NULL, BF_OPT_DOUBLE, "2", 1e-6, 1e9, "R",
     "reports/s one worker validates, until the throughput has been measured",
     OPT(worker_rate)},
    {"drain-target", 0, NULL, BF_OPT_DOUBLE, "60", 0.1, 86400, "SECONDS",
     "capacity rule: work the current lag off within this", OPT(drain_target)},
    {"target-utilization", 0, NULL, BF_OPT_DOUBLE, "0.8", 0.05, 1, "F",
     "capacity rule: share of a worker's throughput to plan on", OPT(target_utilization)},
    {"forecast-step", 0, NULL, BF_OPT_DOUBLE, "60", 1, 86400, "SECONDS",
     "arrivals are summed into steps this long for the forecast", OPT(forecast_step)},
    {"horizon", 0, NULL, BF_OPT_DOUBLE, "300", 1, 3600, "SECONDS",
     "how far ahead the forecast looks (capacity for the peak within it)", OPT(horizon)},
    {"season", 0, NULL, BF_OPT_STRING, "daily+weekly", 1, 0,
     "daily+weekly|daily|weekly|none",
     "seasons the forecast may use: it chooses none, daily, weekly or daily+weekly "
     "among these on its own history once a day (a season once three of it are seen)",
     OPT(season)},
    {"cooldown", 0, NULL, BF_OPT_DOUBLE, "0", 0, 86400, "SECONDS",
     "least time between two scaling actions", OPT(cooldown)},
    {"scale-up-delay", 0, NULL, BF_OPT_DOUBLE, "0", 0, 86400, "SECONDS",
     "scale up only to the lowest desired count of this window (HPA scaleUp "
     "stabilisation)",
     OPT(scale_up_delay)},
    {"activation-lag", 0, NULL, BF_OPT_INT, "0", 0, 1e15, "N",
     "capacity rule with --min 0: lag that wakes a fleet at zero", OPT(activation_lag)},
    {"latency-slo", 0, NULL, BF_OPT_DOUBLE, "60", 0.001, 86400, "SECONDS",
     "queueing latency that counts as full latency pressure in the score",
     OPT(latency_slo)},
    {"weights", 0, NULL, BF_OPT_STRING, "0.40,0.25,0.20,0.15", 1, 0, "Q,L,F,C",
     "weights of queue depth, latency, forecast and cost in the score", OPT(weights)},
    {"up-threshold", 0, NULL, BF_OPT_DOUBLE, "0", -10, 10, "S",
     "score at or above which the capacity rule may scale up", OPT(up_threshold)},
    {"down-threshold", 0, NULL, BF_OPT_DOUBLE, "-0.1", -10, 10, "S",
     "score at or below which the capacity rule may scale down", OPT(down_threshold)},
    {"worker-price", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1e6, "USD",
     "price of one worker-hour, for the budgets", OPT(worker_price)},
    {"budget-hourly", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1e12, "USD",
     "spend allowed per UTC hour (0 = none); never scale up past it", OPT(budget_hourly)},
    {"budget-daily", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1e12, "USD",
     "spend allowed per UTC day (0 = none)", OPT(budget_daily)},
    {"budget-monthly", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1e12, "USD",
     "spend allowed per UTC month (0 = none)", OPT(budget_monthly)},
    {"budget-alert", 0, NULL, BF_OPT_DOUBLE, "0.8", 0.01, 1, "F",
     "share of a budget, spent or projected, that logs an alert", OPT(budget_alert)},
    {"k8s-api-url", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "URL",
     "kubernetes actuator: API server (default: in-cluster, from "
     "KUBERNETES_SERVICE_HOST/PORT)",
     OPT(k8s_api_url)},
    {"k8s-namespace", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "NS",
     "kubernetes actuator: namespace of the Deployment (default: the service account's)",
     OPT(k8s_namespace)},
    {"k8s-deployment", 0, NULL, BF_OPT_STRING, "bountyfleet-worker", 1, 0, "NAME",
     "kubernetes actuator: the workers' Deployment", OPT(k8s_deployment)},
    {"k8s-ca-file", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "PATH",
     "kubernetes actuator: CA bundle of the API server (in-cluster: the service "
     "account's ca.crt)",
     OPT(k8s_ca_file)},
    {"k8s-token", 0, "BOUNTYFLEET_K8S_TOKEN", BF_OPT_SECRET, NULL, 1, 0, "TOKEN",
     "kubernetes actuator: bearer token (environment or _FILE only; in-cluster: the "
     "service account's token)",
     OPT(k8s_token)},
    {"scale-command", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "\"PATH ARGS {replicas}\"",
     "command actuator: run with {replicas} replaced, split on spaces, no shell",
     OPT(scale_command)},
    {"command-timeout", 0, NULL, BF_OPT_DOUBLE, "60", 0.1, 3600, "SECONDS",
     "command actuator: kill the command after this", OPT(command_timeout)},
    {"metrics-addr", 0, "METRICS_ADDR", BF_OPT_STRING, "127.0.0.1:9465", 1, 0,
     "HOST:PORT",
     "HTTP endpoint: /metrics, /healthz, /readyz and /api/v1/desired (KEDA metrics-api)",
     OPT(metrics_addr)},
    {"topic-scaling", 0, "BOUNTYFLEET_TOPIC_SCALING", BF_OPT_STRING, BF_TOPIC_SCALING, 1,
     0, "TOPIC", "topic every decision is published to (schemas/scaling_decision.avsc)",
     OPT(topic_scaling)},
    {"output-framing", 0, "BOUNTYFLEET_OUTPUT_FRAMING", BF_OPT_STRING, "single-object", 1,
     0, "FRAMING", "framing of the decision records: single-object or json",
     OPT(output_framing)},
    {"state-redis-url", 0, "REDIS_URL", BF_OPT_STRING, NULL, 1, 0, "redis://...",
     "keep the forecast's state in this Redis, so a restart keeps its seasonality "
     "(unset: start afresh)",
     OPT(state_url)},
    {"state-key", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "KEY",
     "Redis key of the state (default bountyfleet:autoscaler:state:GROUP)",
     OPT(state_key)},
    {"topic-heartbeats", 0, "BOUNTYFLEET_TOPIC_HEARTBEATS", BF_OPT_STRING,
     BF_TOPIC_HEARTBEATS, 1, 0, "TOPIC",
     "the workers' heartbeats (live workers, p95 latency, AI spend for the budgets)",
     OPT(topic_heartbeats)},
    {"admin-token", 0, "AUTOSCALER_ADMIN_TOKEN", BF_OPT_SECRET, NULL, 1, 0, "TOKEN",
     "bearer token of PUT/GET/DELETE /api/v1/override (manual scale override); unset: "
     "the endpoint answers 403",
     OPT(admin_token)},
    {"topic-validations", 0, "BOUNTYFLEET_TOPIC_VALIDATIONS", BF_OPT_STRING,
     BF_TOPIC_VALIDATIONS, 1, 0, "TOPIC",
     "the workers' results, read for the AI spend per provider in the recommendations "
     "(\"off\": not read)",
     OPT(topic_validations)},
    {"worker-startup", 0, NULL, BF_OPT_DOUBLE, "30", 0, 86400, "SECONDS",
     "how long a started worker takes to consume, for the recommendations' replays",
     OPT(worker_startup)},
    {"recommend-interval", 0, NULL, BF_OPT_DOUBLE, "300", 1, 86400, "SECONDS",
     "how often the cost recommendations (/api/v1/recommendations) are computed again",
     OPT(recommend_interval)},
};

static const bf_cli_t cli = {
    .program = PROGRAM,
    .summary = "Read the worker group's Kafka lag, decide how many workers should run, "
               "start or stop them, and print each decision as a JSON line on stdout.",
    .usage = "[OPTIONS] [-- WORKER-PATH [WORKER-ARGS...]]\n"
             "       bountyfleet-autoscaler backtest --trace FILE.csv [OPTIONS]  (see "
             "backtest --help)\n"
             "       bountyfleet-autoscaler forecast-eval --trace FILE.csv [OPTIONS]\n"
             "       bountyfleet-autoscaler recommend --trace FILE.csv [OPTIONS]  (see "
             "recommend --help)",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
    .kafka_props = true,
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "%s: %s\n", PROGRAM, msg);
    return 2;
}

/* The worker command: everything after "--", or --worker-cmd split on
 * spaces. Returns 0, or 2 after printing why. *owned is set when the argv
 * was allocated here. */
static int worker_command(const autoscaler_config_t *cfg, int argc, char **argv,
                          int first_arg, char ***cmd, char ***owned)
{
    *cmd = NULL;
    *owned = NULL;
    bool after_dashes =
        first_arg < argc && first_arg > 1 && strcmp(argv[first_arg - 1], "--") == 0;
    if (first_arg < argc && !after_dashes) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "unexpected argument '%s' (put the worker command after --)",
                 argv[first_arg]);
        return usage_error(msg);
    }
    if (after_dashes && cfg->worker_cmd)
        return usage_error("give the worker command either with --worker-cmd or after "
                           "--, not both");
    if (after_dashes)
        *cmd = &argv[first_arg];
    else if (cfg->worker_cmd)
        *cmd = *owned = bf_actuator_local_argv_split(cfg->worker_cmd);
    if (strcmp(cfg->actuator, "local") == 0 && !*cmd)
        return usage_error("the local actuator needs a worker command: --worker-cmd "
                           "\"PATH ARGS...\" or -- PATH ARGS...");
    return 0;
}

/* The rule, season and score settings into @p sc. Returns 0, or 2 after
 * printing why. */
static int scaler_settings(const autoscaler_config_t *cfg, bf_scaler_conf_t *sc)
{
    char msg[256];
    bf_decide_policy_t *p = &sc->policy;
    if (strcmp(cfg->rule, "capacity") == 0) {
        bf_decide_policy_capacity(p);
        p->scale_down_at_once = false; /* one worker per decision, like --rule lag */
    } else if (strcmp(cfg->rule, "lag") != 0) {
        snprintf(msg, sizeof(msg), "--rule: '%s' is neither capacity nor lag", cfg->rule);
        return usage_error(msg);
    }
    p->drain_target_s = cfg->drain_target;
    p->target_utilization = cfg->target_utilization;
    p->activation_lag = cfg->activation_lag;
    p->latency_slo_s = cfg->latency_slo;
    p->up_threshold = cfg->up_threshold;
    p->down_threshold = cfg->down_threshold;
    p->cooldown_s = cfg->cooldown;
    p->up_window_s = cfg->scale_up_delay;
    bf_decide_weights_t *w = &p->weights;
    char tail;
    if (sscanf(cfg->weights, "%lf,%lf,%lf,%lf%c", &w->queue, &w->latency, &w->forecast,
               &w->cost, &tail) != 4 ||
        w->queue < 0 || w->latency < 0 || w->forecast < 0 || w->cost < 0) {
        snprintf(msg, sizeof(msg),
                 "--weights: '%s' is not four non-negative numbers Q,L,F,C",
                 cfg->weights);
        return usage_error(msg);
    }
    bool both = strcmp(cfg->season, "daily+weekly") == 0;
    double period = strcmp(cfg->season, "daily") == 0 || both ? 86400
                    : strcmp(cfg->season, "weekly") == 0      ? 7 * 86400
                                                              : 0;
    if (period == 0 && strcmp(cfg->season, "none") != 0) {
        snprintf(msg, sizeof(msg),
                 "--season: '%s' is not daily, weekly, daily+weekly or none",
                 cfg->season);
        return usage_error(msg);
    }
    double steps = period / cfg->forecast_step;
    double span = both ? 7 * steps : steps; /* the longest season */
    if (period > 0 && (steps < 2 || span > BF_FORECAST_MAX_SEASON ||
                       (both && fabs(steps - round(steps)) > 1e-9))) {
        snprintf(msg, sizeof(msg),
                 "--season %s is %.0f steps of --forecast-step %gs, not in 2..%d",
                 cfg->season, steps, cfg->forecast_step, BF_FORECAST_MAX_SEASON);
        return usage_error(msg);
    }
    sc->season = (size_t)llround(steps);
    sc->season2 = both ? 7 * sc->season : 0;
    if (cfg->horizon < cfg->forecast_step) {
        snprintf(msg, sizeof(msg), "--horizon %gs is shorter than --forecast-step %gs",
                 cfg->horizon, cfg->forecast_step);
        return usage_error(msg);
    }
    return 0;
}

int main(int argc, char **argv)
{
    autoscaler_config_t cfg = {0};
    bf_kprops_t props = {0};
    int first_arg = argc;
    char errstr[512];
    char **worker_argv = NULL, **worker_argv_owned = NULL;
    bf_actuator_t *act = NULL;
    bf_lag_reader_t *lag = NULL;
    bf_autoscaler_telemetry_t *telemetry = NULL;
    bf_publisher_t *publisher = NULL;
    bf_state_t *state = NULL;
    bf_heartbeat_reader_t *heartbeats = NULL;
    bf_override_t *override = NULL;
    bf_status_t *status = NULL;
    bf_tail_t *validations = NULL;
    int rc = 2;

    /* Subcommands that work offline on a recorded trace. */
    if (argc > 1 && strcmp(argv[1], "forecast-eval") == 0)
        return bf_forecast_eval_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "backtest") == 0)
        return bf_backtest_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "recommend") == 0)
        return bf_recommend_main(argc - 1, argv + 1);

    switch (bf_cli_parse(&cli, &cfg, argc, argv, &props, &first_arg, errstr,
                         sizeof(errstr))) {
    case BF_CLI_RUN:
        break;
    case BF_CLI_EXIT:
        rc = 0;
        goto out;
    case BF_CLI_ERROR:
        rc = usage_error(errstr);
        goto out;
    }
    bf_log_level_set((bf_log_level_t)cfg.log_level);
    if (cfg.min > cfg.max) {
        snprintf(errstr, sizeof(errstr), "--min %lld is above --max %lld",
                 (long long)cfg.min, (long long)cfg.max);
        rc = usage_error(errstr);
        goto out;
    }
    if ((rc = worker_command(&cfg, argc, argv, first_arg, &worker_argv,
                             &worker_argv_owned)) != 0)
        goto out;

    bf_control_conf_t conf = {
        .interval_s = cfg.interval,
        .scaler =
            {
                .policy =
                    {
                        .min_workers = cfg.min,
                        .max_workers = cfg.max,
                        .lag_per_worker = cfg.lag_per_worker,
                        .scale_down_delay_s = cfg.scale_down_delay,
                    },
                .step_s = cfg.forecast_step,
                .horizon_s = cfg.horizon,
                .worker_rate = cfg.worker_rate,
                .measure_rate = true,
            },
    };
    if ((rc = scaler_settings(&cfg, &conf.scaler)) != 0)
        goto out;
    conf.budget = (bf_budget_conf_t){
        .worker_price = cfg.worker_price,
        .limit = {cfg.budget_hourly, cfg.budget_daily, cfg.budget_monthly},
        .alert_at = cfg.budget_alert,
    };
    if ((cfg.budget_hourly > 0 || cfg.budget_daily > 0 || cfg.budget_monthly > 0) &&
        cfg.worker_price <= 0) {
        rc = usage_error("a budget needs --worker-price USD per worker-hour");
        goto out;
    }

    /* Before the first thread (rd_kafka_new) so every thread inherits it. */
    bf_control_block_signals();

    bf_actuator_conf_t aconf = {
        .kind = cfg.actuator,
        .worker_argv = (const char *const *)worker_argv,
        .stop_timeout_s = cfg.stop_timeout,
        .k8s_api_url = cfg.k8s_api_url,
        .k8s_namespace = cfg.k8s_namespace,
        .k8s_deployment = cfg.k8s_deployment,
        .k8s_token = cfg.k8s_token,
        .k8s_ca_file = cfg.k8s_ca_file,
        .command = cfg.scale_command,
        .command_timeout_s = cfg.command_timeout,
    };
    if (!(act = bf_actuator_new(&aconf, errstr, sizeof(errstr)))) {
        rc = usage_error(errstr);
        goto out;
    }
    /* The reader fails only on its configuration (a bad -X property or a
     * combination librdkafka refuses), which makes it a usage error too. */
    if (!(lag = bf_lag_reader_new(cfg.brokers, &props, cfg.group, cfg.topic,
                                  cfg.kafka_timeout, errstr, sizeof(errstr)))) {
        rc = usage_error(errstr);
        goto out;
    }

    if (!(telemetry = bf_autoscaler_telemetry_new(cfg.metrics_addr, cfg.actuator, errstr,
                                                  sizeof(errstr)))) {
        rc = usage_error(errstr);
        goto out;
    }
    conf.telemetry = telemetry;
    bool override_enabled = cfg.admin_token && *cfg.admin_token;
    override = bf_override_new(cfg.admin_token, cfg.max); /* keeps a digest only */
    if (cfg.admin_token)
        explicit_bzero(cfg.admin_token, strlen(cfg.admin_token));
    /* Nor do the workers and commands we start inherit it. */
    unsetenv("AUTOSCALER_ADMIN_TOKEN");
    unsetenv("AUTOSCALER_ADMIN_TOKEN_FILE");
    bf_autoscaler_telemetry_serve_override(telemetry, override);
    conf.override = override;
    bf_framing_t framing;
    if (bf_framing_parse(cfg.output_framing, &framing) != 0 ||
        framing == BF_FRAMING_CONFLUENT) {
        snprintf(errstr, sizeof(errstr),
                 "--output-framing: '%s' is neither single-object nor json",
                 cfg.output_framing);
        rc = usage_error(errstr);
        goto out;
    }
    if (!(publisher = bf_publisher_new(cfg.brokers, &props, cfg.topic_scaling, framing,
                                       cfg.actuator, errstr, sizeof(errstr)))) {
        rc = usage_error(errstr);
        goto out;
    }
    conf.publisher = publisher;
    if (!(heartbeats = bf_heartbeat_reader_new(cfg.brokers, &props, cfg.topic_heartbeats,
                                               errstr, sizeof(errstr)))) {
        rc = usage_error(errstr);
        goto out;
    }
    conf.heartbeats = heartbeats;
    if (strcmp(cfg.topic_validations, "off") != 0 &&
        !(validations =
              bf_tail_new(cfg.brokers, &props, cfg.topic_validations, BF_AISPEND_GROUP,
                          BF_RECORD_VALIDATION, errstr, sizeof(errstr)))) {
        rc = usage_error(errstr);
        goto out;
    }
    conf.validations = validations;
    conf.recommend_every_s = cfg.recommend_interval;
    conf.worker_startup_s = cfg.worker_startup;
    if (cfg.state_url) {
        char *key = cfg.state_key
                        ? bf_strdup(cfg.state_key)
                        : bf_asprintf("bountyfleet:autoscaler:state:%s", cfg.group);
        state =
            bf_state_new(cfg.state_url, key, cfg.kafka_timeout, errstr, sizeof(errstr));
        free(key);
        if (!state) {
            rc = usage_error(errstr);
            goto out;
        }
        conf.state = state;
    }
    status = bf_status_new(&(bf_status_conf_t){
        .group = cfg.group,
        .topic = cfg.topic,
        .actuator = cfg.actuator,
        .interval_s = cfg.interval,
        .step_s = cfg.forecast_step,
        .horizon_s = cfg.horizon,
        .worker_price = cfg.worker_price,
        .alert_at = cfg.budget_alert,
        .min_workers = cfg.min,
        .max_workers = cfg.max,
        .state_store = state != NULL,
    });
    bf_autoscaler_telemetry_serve_status(telemetry, status);
    conf.status = status;
    bf_log(BF_LOG_INFO, "autoscaler", "started", BF_LSTR("version", bf_version()),
           BF_LSTR("brokers", cfg.brokers), BF_LSTR("group", cfg.group),
           BF_LSTR("topic", cfg.topic), BF_LSTR("actuator", cfg.actuator),
           BF_LSTR("worker", worker_argv ? worker_argv[0] : NULL),
           BF_LINT("min", cfg.min), BF_LINT("max", cfg.max),
           BF_LINT("lag_per_worker", cfg.lag_per_worker),
           BF_LDBL("interval_s", cfg.interval),
           BF_LDBL("scale_down_delay_s", cfg.scale_down_delay), BF_LSTR("rule", cfg.rule),
           BF_LDBL("worker_rate", cfg.worker_rate), BF_LSTR("season", cfg.season),
           BF_LDBL("horizon_s", cfg.horizon),
           BF_LSTR("override_endpoint", override_enabled ? "enabled" : "disabled"));
    bf_err_t run = bf_control_run(&conf, lag, act, stdout);
    rc = run == BF_OK ? 0 : run == BF_ERR_CONFIG ? 2 : 1;

out:
    bf_heartbeat_reader_destroy(heartbeats);
    bf_tail_destroy(validations);
    bf_state_destroy(state);
    bf_publisher_destroy(publisher, cfg.kafka_timeout);
    bf_autoscaler_telemetry_destroy(telemetry);
    bf_override_destroy(override); /* after the endpoint that uses it */
    bf_status_destroy(status);     /* likewise */
    bf_lag_reader_destroy(lag);
    bf_actuator_destroy(act);
    bf_actuator_local_argv_free(worker_argv_owned);
    bf_kprops_free(&props);
    bf_cli_free(&cli, &cfg);
    return rc;
}
