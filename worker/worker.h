/*
 * worker.h - the bountyfleet-worker daemon: consume reports, deduplicate
 * in Redis, run the AI analyses, publish one result per report, and only
 * then store the report's offset for commit.
 */
#ifndef BF_WORKER_WORKER_H
#define BF_WORKER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "libbf/config.h"
#include "libbf/err.h"
#include "libbf/metrics.h"

/** Default METRICS_ADDR. When it is taken (several workers on one
 *  machine, e.g. under the local actuator) the worker serves on a free
 *  port instead and logs it; an address set explicitly must bind. */
#define BF_WORKER_METRICS_ADDR_DEFAULT "127.0.0.1:9464"

/** Settings (see the table in main.c for flags, env and defaults). */
typedef struct bf_worker_config_s {
    char *brokers;
    char *group;
    char *redis_url;
    char *topic_reports;
    char *topic_validations;
    char *topic_dlq;
    char *worker_id;
    char *ai_providers; /* AI_PROVIDERS: the fallback chain, e.g. "anthropic,openai" */
    char *ai_base_url;  /* OpenAI (or compatible) */
    char *ai_api_key;   /* secret */
    char *ai_model;
    char *anthropic_base_url;
    char *anthropic_api_key; /* secret */
    char *anthropic_model;
    char *gemini_base_url;
    char *gemini_api_key; /* secret */
    char *gemini_model;
    char *prompts_dir;
    char *prices_path;
    char *output_framing;
    int log_level; /* bf_log_level_t */
    char *key_prefix;
    char *near_dup_threshold; /* "off" or a similarity in [0, 1]; 0 = off */
    char *metrics_addr;       /* "host:port"; "off" or "" serves nothing */
    char *redis_mode;         /* "fail-closed" or "fail-open" */
    char *topic_heartbeats;
    char *once_file; /* --once: validate this report file, print, exit */
    int64_t max_in_flight;
    int64_t low_water; /* resume below this many in flight; 0 = half the cap */
    int64_t max_connections;
    int64_t ai_retries;
    int64_t dedup_ttl_s;
    double ai_timeout_s;
    double ai_deadline_s; /* per report; 0 = none; < 0 unset: 240 s, 60 s with --once */
    double openai_rpm, openai_tpm, anthropic_rpm, anthropic_tpm, gemini_rpm, gemini_tpm;
    /* the account's limits, shared by the fleet in Redis (worker/ai_fleet.h) */
    double openai_fleet_rpm, openai_fleet_tpm, anthropic_fleet_rpm, anthropic_fleet_tpm,
        gemini_fleet_rpm, gemini_fleet_tpm;
    double redis_timeout_s;
    double lease_s;
    double liveness_ttl_s; /* the worker's liveness key in Redis lives this long */
    double drain_timeout_s;
    double heartbeat_interval_s;
    double min_quality;
    double min_plausibility;
    bool dry_run;
    bool static_membership; /* group.instance.id = worker_id */
    bool no_stream;         /* --once: do not stream the answers to stderr */
} bf_worker_config_t;

typedef struct bf_worker_s bf_worker_t;

/**
 * @brief Build a worker: load prompts and prices, create the Kafka
 *        clients, the Redis and HTTP clients, and the event loop.
 * @param cfg   borrowed for the worker's lifetime
 * @param props -X/-F librdkafka properties, borrowed
 * @returns NULL with errstr on a setup error.
 */
bf_worker_t *bf_worker_new(const bf_worker_config_t *cfg, const bf_kprops_t *props,
                           char *errstr, size_t errstr_size);

/**
 * @brief Run until SIGTERM/SIGINT, then drain (up to drain_timeout_s),
 *        commit and leave the group.
 * @returns BF_OK after a clean stop.
 */
bf_err_t bf_worker_run(bf_worker_t *w);

/* Exit statuses of --once (its --help says so). */
#define BF_WORKER_ONCE_VERDICT      0 /* VALID or INVALID printed */
#define BF_WORKER_ONCE_ERROR        1 /* no result: bad report, setup, signal */
#define BF_WORKER_ONCE_USAGE        2 /* bad flags (bf_cli_parse) */
#define BF_WORKER_ONCE_NEEDS_REVIEW 3 /* NEEDS_REVIEW printed: an analysis failed */

/**
 * @brief --once: validate the report in cfg->once_file (JSON or any of the
 *        codec's framings) with the AI provider, without Kafka or Redis,
 *        and print the result record as JSON on stdout.
 * @returns BF_WORKER_ONCE_VERDICT, _NEEDS_REVIEW or _ERROR.
 */
int bf_worker_run_once(bf_worker_t *w);

/** @brief Free everything. NULL-safe. */
void bf_worker_destroy(bf_worker_t *w);

#endif
