/*
 * bountyfleet-worker - the stateless validator daemon.
 *
 * Settings are declared once in the table below, which drives parsing,
 * validation, --help and CONFIGURATION.md (--help-markdown).
 */
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "libbf/config.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/worker.h"

#define O(field) offsetof(bf_worker_config_t, field)
#define NORANGE  1, 0

static const bf_opt_t options[] = {
    {"brokers", 'b', "KAFKA_BROKERS", BF_OPT_STRING, "127.0.0.1:9092", NORANGE,
     "HOST:PORT,...", "Kafka bootstrap servers", O(brokers)},
    {"group", 'g', "BOUNTYFLEET_GROUP", BF_OPT_STRING, "bountyfleet-workers", NORANGE,
     "ID", "consumer group of the workers", O(group)},
    {"redis-url", 0, "REDIS_URL", BF_OPT_STRING, "redis://127.0.0.1:6379/0", NORANGE,
     "URL", "Redis for deduplication and the result cache", O(redis_url)},
    {"topic", 't', "BOUNTYFLEET_TOPIC_REPORTS", BF_OPT_STRING, BF_TOPIC_REPORTS, NORANGE,
     "TOPIC", "topic to consume reports from", O(topic_reports)},
    {"results-topic", 0, "BOUNTYFLEET_TOPIC_VALIDATIONS", BF_OPT_STRING,
     BF_TOPIC_VALIDATIONS, NORANGE, "TOPIC", "topic to publish results to",
     O(topic_validations)},
    {"dlq-topic", 0, "BOUNTYFLEET_TOPIC_DLQ", BF_OPT_STRING, BF_TOPIC_DLQ, NORANGE,
     "TOPIC", "dead-letter topic for malformed reports", O(topic_dlq)},
    {"heartbeat-topic", 0, "BOUNTYFLEET_TOPIC_HEARTBEATS", BF_OPT_STRING,
     BF_TOPIC_HEARTBEATS, NORANGE, "TOPIC", "topic for this worker's heartbeats",
     O(topic_heartbeats)},
    {"heartbeat-interval", 0, NULL, BF_OPT_DOUBLE, "5", 0.1, 3600, "SECONDS",
     "how often a heartbeat is published", O(heartbeat_interval_s)},
    {"metrics-addr", 0, "METRICS_ADDR", BF_OPT_STRING, BF_WORKER_METRICS_ADDR_DEFAULT,
     NORANGE, "HOST:PORT|off",
     "/metrics, /healthz and /readyz; port 0 picks one, off serves none (the default "
     "falls back to a free port when taken)",
     O(metrics_addr)},
    {"redis-mode", 0, "BOUNTYFLEET_REDIS_MODE", BF_OPT_STRING, "fail-closed", NORANGE,
     "fail-closed|fail-open",
     "when Redis is unreachable: pause consumption, or validate without deduplication",
     O(redis_mode)},
    {"worker-id", 0, "BOUNTYFLEET_WORKER_ID", BF_OPT_STRING, NULL, NORANGE, "ID",
     "this worker's id in results and logs (default: host-pid)", O(worker_id)},
    {"ai-providers", 0, "AI_PROVIDERS", BF_OPT_STRING, "openai", NORANGE, "NAME,...",
     "AI providers in fallback order: openai, anthropic, gemini", O(ai_providers)},
    {"ai-base-url", 0, "OPENAI_BASE_URL", BF_OPT_STRING, "https://api.openai.com/v1",
     NORANGE, "URL", "OpenAI-compatible API base URL", O(ai_base_url)},
    {"openai-api-key", 0, "OPENAI_API_KEY", BF_OPT_SECRET, NULL, NORANGE, NULL,
     "API key for the OpenAI-compatible provider", O(ai_api_key)},
    {"model", 'm', "OPENAI_MODEL", BF_OPT_STRING, "gpt-4o-mini", NORANGE, "NAME",
     "OpenAI model for the analyses", O(ai_model)},
    {"openai-rpm", 0, "OPENAI_RPM", BF_OPT_DOUBLE, "0", 0, 1e9, "N",
     "OpenAI requests per minute this worker may send at most, whatever the fleet's "
     "share; 0 unlimited",
     O(openai_rpm)},
    {"openai-tpm", 0, "OPENAI_TPM", BF_OPT_DOUBLE, "0", 0, 1e12, "N",
     "OpenAI tokens per minute this worker may send at most; 0 unlimited", O(openai_tpm)},
    {"openai-fleet-rpm", 0, "OPENAI_FLEET_RPM", BF_OPT_DOUBLE, "0", 0, 1e9, "N",
     "OpenAI requests per minute of the account, shared by every worker through Redis "
     "and lowered when 429s or rate-limit headers say the real limit is lower; 0 none",
     O(openai_fleet_rpm)},
    {"openai-fleet-tpm", 0, "OPENAI_FLEET_TPM", BF_OPT_DOUBLE, "0", 0, 1e12, "N",
     "OpenAI tokens per minute of the account, shared like --openai-fleet-rpm; 0 none",
     O(openai_fleet_tpm)},
    {"anthropic-base-url", 0, "ANTHROPIC_BASE_URL", BF_OPT_STRING,
     "https://api.anthropic.com", NORANGE, "URL", "Anthropic API base URL",
     O(anthropic_base_url)},
    {"anthropic-api-key", 0, "ANTHROPIC_API_KEY", BF_OPT_SECRET, NULL, NORANGE, NULL,
     "Anthropic API key", O(anthropic_api_key)},
    {"anthropic-model", 0, "ANTHROPIC_MODEL", BF_OPT_STRING, "claude-3-5-haiku-latest",
     NORANGE, "NAME", "Anthropic model for the analyses", O(anthropic_model)},
    {"anthropic-rpm", 0, "ANTHROPIC_RPM", BF_OPT_DOUBLE, "0", 0, 1e9, "N",
     "Anthropic requests per minute this worker may send at most; 0 unlimited",
     O(anthropic_rpm)},
    {"anthropic-tpm", 0, "ANTHROPIC_TPM", BF_OPT_DOUBLE, "0", 0, 1e12, "N",
     "Anthropic tokens per minute this worker may send at most; 0 unlimited",
     O(anthropic_tpm)},
    {"anthropic-fleet-rpm", 0, "ANTHROPIC_FLEET_RPM", BF_OPT_DOUBLE, "0", 0, 1e9, "N",
     "Anthropic requests per minute of the account, shared like --openai-fleet-rpm; "
     "0 none",
     O(anthropic_fleet_rpm)},
    {"anthropic-fleet-tpm", 0, "ANTHROPIC_FLEET_TPM", BF_OPT_DOUBLE, "0", 0, 1e12, "N",
     "Anthropic tokens per minute of the account, shared like --openai-fleet-rpm; 0 none",
     O(anthropic_fleet_tpm)},
    {"gemini-base-url", 0, "GEMINI_BASE_URL", BF_OPT_STRING,
     "https://generativelanguage.googleapis.com", NORANGE, "URL", "Gemini API base URL",
     O(gemini_base_url)},
    {"gemini-api-key", 0, "GEMINI_API_KEY", BF_OPT_SECRET, NULL, NORANGE, NULL,
     "Gemini API key", O(gemini_api_key)},
    {"gemini-model", 0, "GEMINI_MODEL", BF_OPT_STRING, "gemini-2.0-flash", NORANGE,
     "NAME", "Gemini model for the analyses", O(gemini_model)},
    {"gemini-rpm", 0, "GEMINI_RPM", BF_OPT_DOUBLE, "0", 0, 1e9, "N",
     "Gemini requests per minute this worker may send at most; 0 unlimited",
     O(gemini_rpm)},
    {"gemini-tpm", 0, "GEMINI_TPM", BF_OPT_DOUBLE, "0", 0, 1e12, "N",
     "Gemini tokens per minute this worker may send at most; 0 unlimited", O(gemini_tpm)},
    {"gemini-fleet-rpm", 0, "GEMINI_FLEET_RPM", BF_OPT_DOUBLE, "0", 0, 1e9, "N",
     "Gemini requests per minute of the account, shared like --openai-fleet-rpm; 0 none",
     O(gemini_fleet_rpm)},
    {"gemini-fleet-tpm", 0, "GEMINI_FLEET_TPM", BF_OPT_DOUBLE, "0", 0, 1e12, "N",
     "Gemini tokens per minute of the account, shared like --openai-fleet-rpm; 0 none",
     O(gemini_fleet_tpm)},
    {"prompts-dir", 0, "BOUNTYFLEET_PROMPTS_DIR", BF_OPT_STRING,
     BF_DATADIR "/worker/prompts/v2", NORANGE, "DIR",
     "prompt set (its directory name is the prompt version)", O(prompts_dir)},
    {"prices", 0, "BOUNTYFLEET_PRICES", BF_OPT_STRING, BF_DATADIR "/worker/prices.json",
     NORANGE, "FILE", "price table, USD per million tokens per model", O(prices_path)},
    {"output-framing", 0, "BOUNTYFLEET_OUTPUT_FRAMING", BF_OPT_STRING, "single-object",
     NORANGE, "single-object|confluent|json", "wire format of published results",
     O(output_framing)},
    {"max-in-flight", 0, "BOUNTYFLEET_MAX_IN_FLIGHT", BF_OPT_INT, "64", 1, 100000, "N",
     "reports being validated at once before consumption holds (as many more may "
     "wait for Kafka to acknowledge their results)",
     O(max_in_flight)},
    {"low-water", 0, "BOUNTYFLEET_LOW_WATER", BF_OPT_INT, "0", 0, 100000, "N",
     "after a pause at the cap, resume once this many or fewer are being validated and "
     "awaiting acknowledgement each (0: half the cap)",
     O(low_water)},
    {"max-connections", 0, NULL, BF_OPT_INT, "0", 0, 100000, "N",
     "open HTTP connections to providers at most; 0 = three per report in flight",
     O(max_connections)},
    {"ai-timeout", 0, NULL, BF_OPT_DOUBLE, "60", 0.1, 3600, "SECONDS",
     "timeout of one AI call", O(ai_timeout_s)},
    {"ai-retries", 0, NULL, BF_OPT_INT, "3", 0, 20, "N",
     "an analysis makes at most N+1 failed attempts at each provider of the chain over "
     "its whole life, also across waits for an open breaker (which are counted apart); "
     "429s wait without using one up (their own cap: N+1, or 10 at the last provider)",
     O(ai_retries)},
    {"ai-deadline", 0, NULL, BF_OPT_DOUBLE, NULL, 0, 86400, "SECONDS",
     "per report: no AI attempt starts later than this after the first, and none "
     "runs past it (keep it below --lease); 0 none (default: 240, with --once 60)",
     O(ai_deadline_s)},
    {"redis-timeout", 0, NULL, BF_OPT_DOUBLE, "2", 0.05, 60, "SECONDS",
     "timeout of every Redis command", O(redis_timeout_s)},
    {"dedup-ttl", 0, NULL, BF_OPT_INT, "2592000", 60, 315360000, "SECONDS",
     "how long fingerprints and results are remembered", O(dedup_ttl_s)},
    {"lease", 0, NULL, BF_OPT_DOUBLE, "300", 1, 86400, "SECONDS",
     "how long a worker may hold a report before another may take it, even while the "
     "holder is alive",
     O(lease_s)},
    {"liveness-ttl", 0, NULL, BF_OPT_DOUBLE, "10", 1, 3600, "SECONDS",
     "a worker's claims are taken over by others this long after it stopped renewing "
     "its liveness key in Redis (it renews every third of this): a killed worker "
     "blocks nothing for longer",
     O(liveness_ttl_s)},
    {"static-membership", 0, "BOUNTYFLEET_STATIC_MEMBERSHIP", BF_OPT_BOOL, "false",
     NORANGE, NULL,
     "join the group as a static member (group.instance.id = --worker-id, KIP-345), so "
     "a restarted worker with the same id gets its partitions back without a "
     "rebalance; give each worker a stable --worker-id (e.g. the pod name)",
     O(static_membership)},
    {"drain-timeout", 0, NULL, BF_OPT_DOUBLE, "30", 0, 3600, "SECONDS",
     "on SIGTERM, how long to finish reports in flight", O(drain_timeout_s)},
    {"min-quality", 0, NULL, BF_OPT_DOUBLE, "0.4", 0, 1, "X",
     "quality below this makes a report INVALID", O(min_quality)},
    {"min-plausibility", 0, NULL, BF_OPT_DOUBLE, "0.5", 0, 1, "X",
     "plausibility below this makes a report INVALID", O(min_plausibility)},
    {"near-dup-threshold", 0, "BOUNTYFLEET_NEAR_DUP_THRESHOLD", BF_OPT_STRING, "0.7",
     NORANGE, "X|off",
     "similarity from which a report is a near duplicate of an earlier one about "
     "the same asset (0 or off: exact duplicates only)",
     O(near_dup_threshold)},
    {"key-prefix", 0, "BOUNTYFLEET_REDIS_PREFIX", BF_OPT_STRING, "bf:", NORANGE, "PREFIX",
     "prefix of every Redis key", O(key_prefix)},
    BF_LOG_LEVEL_OPTION("info", "log threshold", O(log_level)),
    {"once", 0, NULL, BF_OPT_STRING, NULL, NORANGE, "FILE",
     "validate the JSON report in FILE, print the result as JSON and exit (no Kafka, "
     "no Redis); exit status 0: VALID or INVALID, 3: NEEDS_REVIEW (an analysis could "
     "not be completed), 1: no result (unreadable report, setup error, signal), 2: "
     "bad flags",
     O(once_file)},
    {"no-stream", 0, NULL, BF_OPT_BOOL, "false", NORANGE, NULL,
     "with --once: call the providers without streaming (no model text on stderr)",
     O(no_stream)},
    {"dry-run", 'n', NULL, BF_OPT_BOOL, "false", NORANGE, NULL,
     "consume and analyse, publish and commit nothing", O(dry_run)},
};

static const bf_cli_t cli = {
    .program = "bountyfleet-worker",
    .summary = "Consume security reports, drop duplicates, validate them with AI and "
               "publish one result per report.",
    .usage = "[OPTIONS]",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
    .kafka_props = true,
};

int main(int argc, char **argv)
{
    bf_worker_config_t cfg = {0};
    cfg.ai_deadline_s = -1; /* unset: resolved below once --once is known */
    bf_kprops_t props = {0};
    char errstr[512] = "";
    int first_arg = 0;
    int rc = 2;
    bf_worker_t *w = NULL;
    /* A write to a peer that has gone (Redis SIGKILLed mid-request: hiredis
     * writes with plain write()) must be an EPIPE that the client turns
     * into a reconnect, not a SIGPIPE that kills the worker. libcurl and
     * librdkafka avoid the signal themselves; hiredis does not. */
    signal(SIGPIPE, SIG_IGN);
    bf_cli_result_t r =
        bf_cli_parse(&cli, &cfg, argc, argv, &props, &first_arg, errstr, sizeof(errstr));
    if (r == BF_CLI_EXIT) {
        rc = 0;
        goto out;
    }
    if (r == BF_CLI_ERROR || first_arg < argc) {
        fprintf(stderr, "%s: %s\n", cli.program,
                r == BF_CLI_ERROR ? errstr : "unexpected argument (see --help)");
        goto out;
    }
    bf_log_level_set((bf_log_level_t)cfg.log_level);
    /* A one-shot run is someone waiting at a terminal: a minute, not four. */
    if (cfg.ai_deadline_s < 0)
        cfg.ai_deadline_s = cfg.once_file ? 60 : 240;
    if (!cfg.worker_id || !*cfg.worker_id) {
        char host[256] = "worker";
        gethostname(host, sizeof(host) - 1);
        free(cfg.worker_id);
        cfg.worker_id = bf_asprintf("%s-%d", host, (int)getpid());
    }
    w = bf_worker_new(&cfg, &props, errstr, sizeof(errstr));
    if (!w) {
        fprintf(stderr, "%s: %s\n", cli.program, errstr);
        rc = 1;
        goto out;
    }
    if (cfg.once_file)
        rc = bf_worker_run_once(w);
    else
        rc = bf_worker_run(w) == BF_OK ? 0 : 1;
out:
    bf_worker_destroy(w);
    bf_cli_free(&cli, &cfg);
    bf_kprops_free(&props);
    return rc;
}
