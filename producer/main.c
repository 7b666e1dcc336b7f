/*
 * bountyfleet-producer - publish security reports to Kafka.
 *
 * Inputs: JSON files (one object, or an array of objects), .jsonl/.ndjson
 * files (one object per line), directories (searched recursively for
 * those), JSON lines on stdin ("-", or no argument with stdin not a
 * terminal), or generated load: --synthetic N realistic reports with
 * exact and near duplicates, optionally at the rate of a recorded trace
 * (--replay TRACE.csv --speedup K) or at --rate R reports per second.
 *
 * Each report is checked before it is sent; a bad one is reported as
 * FILE:LINE: reason and the rest still go out. Publishing goes through the
 * C API of bountyfleet_producer.h (idempotent producer, key report_id).
 * The program waits for every delivery report, prints a summary as one
 * JSON object on stdout, and exits 0 when every report was valid and
 * delivered, 1 otherwise, 2 for a usage error. A progress line with rate
 * and ETA goes to stderr when stderr is a terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libbf/clock.h"
#include "libbf/config.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "libbf/report.h"
#include "producer/bountyfleet_producer.h"
#include "producer/synthetic.h"
#include "producer/replay.h"

typedef struct producer_config_s {
    char *brokers;
    char *topic;
    char *framing;
    char *schema_registry;
    char *compression;
    int log_level; /* bf_log_level_t */
    char *corpus;
    char *replay;
    int64_t confluent_id;
    int64_t synthetic;
    int64_t seed;
    double rate;
    double dup_ratio;
    double near_dup_ratio;
    double speedup;
    double flush_timeout_s;
    double delivery_timeout_s;
    bool quiet;
} producer_config_t;

#define O(field) offsetof(producer_config_t, field)
#define NORANGE  1, 0

static const bf_opt_t options[] = {
    {"brokers", 'b', "KAFKA_BROKERS", BF_OPT_STRING, "127.0.0.1:9092", NORANGE,
     "HOST:PORT,...", "Kafka bootstrap servers", O(brokers)},
    {"topic", 't', "BOUNTYFLEET_TOPIC_REPORTS", BF_OPT_STRING, "bountyfleet.reports",
     NORANGE, "TOPIC", "topic to publish to", O(topic)},
    {"framing", 0, "BOUNTYFLEET_FRAMING", BF_OPT_STRING, "avro", NORANGE,
     "avro|confluent|json",
     "wire format: Avro single-object, Confluent (schema id from the registry) or JSON",
     O(framing)},
    {"schema-registry", 0, "SCHEMA_REGISTRY_URL", BF_OPT_STRING, NULL, NORANGE, "URL",
     "Confluent-compatible Schema Registry; --framing confluent registers report.avsc "
     "under <topic>-value",
     O(schema_registry)},
    {"schema-id", 0, NULL, BF_OPT_INT, "-1", -1, 2147483647, "ID",
     "Confluent schema id of report.avsc, for --framing confluent without a registry",
     O(confluent_id)},
    {"compression", 'z', NULL, BF_OPT_STRING, "lz4", NORANGE, "none|gzip|snappy|lz4|zstd",
     "compression codec", O(compression)},
    {"synthetic", 'n', NULL, BF_OPT_INT, "0", 0, 1e12, "N",
     "publish N generated reports (with --replay: at most N; 0 = the whole trace)",
     O(synthetic)},
    {"rate", 'r', NULL, BF_OPT_DOUBLE, "0", 0, 1e7, "R",
     "reports per second, for any input (0 = as fast as Kafka takes them)", O(rate)},
    {"dup-ratio", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1, "X",
     "share of generated reports that are exact duplicates of an earlier one",
     O(dup_ratio)},
    {"near-dup-ratio", 0, NULL, BF_OPT_DOUBLE, "0", 0, 1, "X",
     "share of generated reports that reword an earlier one (same issue and asset)",
     O(near_dup_ratio)},
    {"seed", 0, NULL, BF_OPT_INT, "1", 0, 9.2e18, "N",
     "seed of the generator (same seed, same reports)", O(seed)},
    {"corpus", 0, "BOUNTYFLEET_CORPUS", BF_OPT_STRING,
     BF_DATADIR "/ops/demo-data/sample-reports.jsonl", NORANGE, "FILE.jsonl",
     "real reports the generator draws text from", O(corpus)},
    {"replay", 0, NULL, BF_OPT_STRING, NULL, NORANGE, "TRACE.csv",
     "publish generated reports at the arrival rate of a recorded trace "
     "(timestamp,value)",
     O(replay)},
    {"speedup", 0, NULL, BF_OPT_DOUBLE, "1", 1e-6, 1e9, "K",
     "replay the trace K times faster than recorded", O(speedup)},
    {"flush-timeout", 0, NULL, BF_OPT_DOUBLE, "60", 0.1, 3600, "SECONDS",
     "how long to wait for outstanding deliveries at the end", O(flush_timeout_s)},
    {"delivery-timeout", 0, NULL, BF_OPT_DOUBLE, "300", 1, 86400, "SECONDS",
     "how long a report may take to be acknowledged: sent again after transient errors "
     "(a broker restarting, the topic missing from metadata) until then; a report not "
     "delivered by then is named on stderr and makes the exit status 1",
     O(delivery_timeout_s)},
    {"quiet", 'q', NULL, BF_OPT_BOOL, "false", NORANGE, NULL,
     "no progress line even when stderr is a terminal", O(quiet)},
    BF_LOG_LEVEL_OPTION("warn", "log threshold", O(log_level)),
};

static const bf_cli_t cli = {
    .program = "bountyfleet-producer",
    .summary =
        "Publish security reports (JSON files, directories, JSON lines on stdin, or "
        "a synthetic load) to Kafka.",
    .usage = "[OPTIONS] [FILE|DIR|-]...",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
    .kafka_props = true,
};

typedef struct run_s {
    const producer_config_t *cfg;
    bf_producer_t *producer;
    bf_replay_t *trace;
    double started;     /* monotonic seconds */
    uint64_t attempted; /* reports taken from the input, for pacing */
    uint64_t expected;  /* total for the ETA; 0 = unknown */
    uint64_t duplicates, near_duplicates;
    uint64_t invalid_input; /* files, lines or JSON the API never saw */
    bool progress;
    double next_progress;
} run_t;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void on_delivery(void *opaque, const char *report_id, bf_err_t err,
                        const char *reason)
{
    (void)opaque;
    if (err)
        fprintf(stderr, "%s: delivery of %s failed: %s\n", cli.program, report_id,
                reason);
}

/* "sent 1200/5000 (24%)  812 reports/s  ETA 0:05", rewritten in place. */
static void show_progress(run_t *run, bool final)
{
    double now = bf_monotonic_s();
    if (!run->progress || (!final && now < run->next_progress))
        return;
    run->next_progress = now + 0.5;
    bf_producer_stats_t st;
    bf_producer_stats(run->producer, &st);
    double secs = now - run->started;
    double rate = secs > 0 ? (double)st.delivered / secs : 0;
    char eta[32] = "";
    if (run->expected && rate > 0 && run->attempted < run->expected) {
        double left = (double)(run->expected - run->attempted) / rate;
        snprintf(eta, sizeof(eta), "  ETA %d:%02d", (int)left / 60, (int)left % 60);
    }
    char total[48] = "";
    if (run->expected)
        snprintf(total, sizeof(total), "/%llu (%.0f%%)",
                 (unsigned long long)run->expected,
                 100.0 * (double)run->attempted / (double)run->expected);
    fprintf(stderr, "\r\033[K%s: sent %llu%s  delivered %llu  %.0f reports/s%s%s",
            cli.program, (unsigned long long)st.sent, total,
            (unsigned long long)st.delivered, rate, eta, final ? "\n" : "");
}

/* Hold the next report until it is due: the trace's schedule, or --rate.
 * Waiting serves delivery reports, so the pipeline keeps moving. */
static void pace(run_t *run, double due)
{
    for (;;) {
        double left = run->started + due - bf_monotonic_s();
        if (left <= 0 || interrupted)
            return;
        bf_producer_poll(run->producer, left > 0.1 ? 100 : (int)(left * 1000) + 1);
        show_progress(run, false);
    }
}

/* Check, encode and send one report. @p where is "file:line" for messages. */
static void send_report(run_t *run, json_t *obj, const char *where)
{
    if (run->cfg->rate > 0)
        pace(run, (double)run->attempted / run->cfg->rate);
    run->attempted++;
    char errstr[512];
    if (bf_producer_send_object(run->producer, obj, errstr, sizeof(errstr)) != BF_OK)
        fprintf(stderr, "%s: %s: %s\n", cli.program, where, errstr);
    show_progress(run, false);
}

static void send_synthetic(run_t *run, bf_synth_t *synth)
{
    uint64_t limit = (uint64_t)run->cfg->synthetic;
    for (uint64_t i = 0; !interrupted && (limit == 0 || i < limit); i++) {
        double due;
        if (run->trace) {
            if (!bf_replay_next(run->trace, &due))
                break;
            pace(run, due);
        }
        bf_synth_kind_t kind;
        json_t *obj = bf_synth_next(synth, &kind);
        run->duplicates += kind == BF_SYNTH_DUPLICATE;
        run->near_duplicates += kind == BF_SYNTH_NEAR_DUPLICATE;
        char where[64];
        snprintf(where, sizeof(where), "synthetic report %llu",
                 (unsigned long long)i + 1);
        send_report(run, obj, where);
        json_decref(obj);
    }
}

/* JSON lines: one object per line; blank lines are skipped. */
static void send_lines(run_t *run, FILE *f, const char *name)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    while (!interrupted && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char where[600];
        snprintf(where, sizeof(where), "%s:%ld", name, lineno);
        if (strspn(line, " \t\r\n") == (size_t)n)
            continue;
        if ((size_t)n > BF_REPORT_MAX_ENCODED) {
            fprintf(stderr, "%s: %s: line longer than %d bytes\n", cli.program, where,
                    BF_REPORT_MAX_ENCODED);
            run->invalid_input++;
            continue;
        }
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)n, 0, &jerr);
        if (!obj) {
            fprintf(stderr, "%s: %s: invalid JSON: %s\n", cli.program, where, jerr.text);
            run->invalid_input++;
            continue;
        }
        send_report(run, obj, where);
        json_decref(obj);
    }
    free(line);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void send_path(run_t *run, const char *path, int depth);

static void send_file(run_t *run, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", cli.program, path, strerror(errno));
        run->invalid_input++;
        return;
    }
    if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson")) {
        send_lines(run, f, path);
        fclose(f);
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!root) {
        fprintf(stderr, "%s: %s:%d: invalid JSON: %s\n", cli.program, path, jerr.line,
                jerr.text);
        run->invalid_input++;
        return;
    }
    if (json_is_array(root)) {
        size_t i;
        json_t *obj;
        json_array_foreach(root, i, obj)
        {
            char where[600];
            snprintf(where, sizeof(where), "%s[%zu]", path, i);
            send_report(run, obj, where);
            if (interrupted)
                break;
        }
    } else {
        send_report(run, root, path);
    }
    json_decref(root);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directories are walked in name order so runs are reproducible. */
static void send_dir(run_t *run, const char *path, int depth)
{
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", cli.program, path, strerror(errno));
        run->invalid_input++;
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = bf_realloc(names, (n + 1) * sizeof(*names));
        names[n++] = bf_asprintf("%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (!interrupted && stat(names[i], &st) == 0 &&
            (S_ISDIR(st.st_mode) || has_suffix(names[i], ".json") ||
             has_suffix(names[i], ".jsonl") || has_suffix(names[i], ".ndjson")))
            send_path(run, names[i], depth + 1);
        free(names[i]);
    }
    free(names);
}

static void send_path(run_t *run, const char *path, int depth)
{
    if (strcmp(path, "-") == 0) {
        send_lines(run, stdin, "stdin");
        return;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", cli.program, path, strerror(errno));
        run->invalid_input++;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth > 32) {
            fprintf(stderr, "%s: %s: directories nested too deep\n", cli.program, path);
            run->invalid_input++;
            return;
        }
        send_dir(run, path, depth);
    } else {
        send_file(run, path);
    }
}

/* The summary: one JSON object on stdout, for people and scripts. */
static void print_summary(run_t *run)
{
    bf_producer_stats_t st;
    bf_producer_stats(run->producer, &st);
    double secs = bf_monotonic_s() - run->started;
    json_t *j = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f}", "sent", (json_int_t)st.sent,
        "delivered", (json_int_t)st.delivered, "failed",
        (json_int_t)(st.failed + st.outstanding), "retried", (json_int_t)st.retried,
        "invalid", (json_int_t)(st.invalid + run->invalid_input), "duplicates_generated",
        (json_int_t)run->duplicates, "near_duplicates_generated",
        (json_int_t)run->near_duplicates, "bytes", (json_int_t)st.bytes, "seconds", secs,
        "reports_per_second", secs > 0 ? (double)st.delivered / secs : 0.0);
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(j);
}

static const char *const *kafka_props_list(const bf_kprops_t *props)
{
    const char **list = bf_calloc(props->count + 1, sizeof(*list));
    for (size_t i = 0; i < props->count; i++)
        list[i] = bf_asprintf("%s=%s", props->items[i].key, props->items[i].value);
    return list;
}

static void free_props_list(const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++)
        free((char *)list[i]);
    free((void *)list);
}

int main(int argc, char **argv)
{
    producer_config_t cfg = {0};
    bf_kprops_t props = {0};
    const char *const *props_list = NULL;
    char errstr[512] = "";
    int first_arg = 0;
    int rc = 2;
    run_t run = {.cfg = &cfg};
    bf_synth_t *synth = NULL;

    bf_cli_result_t r =
        bf_cli_parse(&cli, &cfg, argc, argv, &props, &first_arg, errstr, sizeof(errstr));
    if (r != BF_CLI_RUN) {
        if (r == BF_CLI_ERROR)
            fprintf(stderr, "%s: %s\n", cli.program, errstr);
        rc = r == BF_CLI_EXIT ? 0 : 2;
        goto out;
    }
    bf_log_level_set((bf_log_level_t)cfg.log_level);
    bool generate = cfg.synthetic > 0 || cfg.replay;
    if (generate && first_arg < argc) {
        fprintf(stderr, "%s: --synthetic and --replay take no input files\n",
                cli.program);
        goto out;
    }
    if (!generate && first_arg >= argc && isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "%s: no input: give files or directories, pipe JSON lines in, or use "
                "--synthetic N\n",
                cli.program);
        goto out;
    }
    if (cfg.replay && cfg.rate > 0) {
        fprintf(stderr,
                "%s: --rate and --replay exclude each other (the trace sets the rate)\n",
                cli.program);
        goto out;
    }
    if (cfg.replay) {
        if (bf_replay_load(cfg.replay, cfg.speedup, &run.trace, errstr, sizeof(errstr))) {
            fprintf(stderr, "%s: --replay: %s\n", cli.program, errstr);
            goto out;
        }
        run.expected = bf_replay_total(run.trace);
        if (cfg.synthetic > 0 && (uint64_t)cfg.synthetic < run.expected)
            run.expected = (uint64_t)cfg.synthetic;
    } else {
        run.expected = (uint64_t)cfg.synthetic;
    }
    if (generate) {
        bf_synth_conf_t sc = {.corpus_path = cfg.corpus,
                              .dup_ratio = cfg.dup_ratio,
                              .near_dup_ratio = cfg.near_dup_ratio,
                              .seed = (uint64_t)cfg.seed,
                              .id_prefix = NULL};
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "synthetic-%lld-%ld", (long long)cfg.seed,
                 (long)time(NULL));
        sc.id_prefix = prefix;
        if (!(synth = bf_synth_new(&sc, errstr, sizeof(errstr)))) {
            fprintf(stderr, "%s: %s\n", cli.program, errstr);
            goto out;
        }
    }
    props_list = kafka_props_list(&props);
    bf_producer_conf_t pc = {.brokers = cfg.brokers,
                             .topic = cfg.topic,
                             .framing = cfg.framing,
                             .schema_registry_url = cfg.schema_registry,
                             .confluent_id = (int32_t)cfg.confluent_id,
                             .compression = cfg.compression,
                             .kafka_props = props_list,
                             .delivery_timeout_s = cfg.delivery_timeout_s,
                             .on_delivery = on_delivery};
    if (!(run.producer = bf_producer_new(&pc, errstr, sizeof(errstr)))) {
        fprintf(stderr, "%s: %s\n", cli.program, errstr);
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    run.progress = !cfg.quiet && isatty(STDERR_FILENO);
    run.started = bf_monotonic_s();

    if (generate)
        send_synthetic(&run, synth);
    else if (first_arg >= argc)
        send_path(&run, "-", 0);
    for (int i = first_arg; !generate && i < argc && !interrupted; i++)
        send_path(&run, argv[i], 0);

    /* Wait for every delivery report (flush serves the callbacks). */
    if (bf_producer_flush(run.producer, (int)(cfg.flush_timeout_s * 1000)) != BF_OK) {
        bf_producer_stats_t st;
        bf_producer_stats(run.producer, &st);
        fprintf(stderr, "%s: %llu reports not delivered within %.0f s\n", cli.program,
                (unsigned long long)st.outstanding, cfg.flush_timeout_s);
    }
    show_progress(&run, true);
    print_summary(&run);
    bf_producer_stats_t st;
    bf_producer_stats(run.producer, &st);
    rc = (st.invalid || run.invalid_input || st.failed || st.outstanding || interrupted)
             ? 1
             : 0;
out:
    bf_producer_destroy(run.producer);
    bf_synth_destroy(synth);
    bf_replay_destroy(run.trace);
    free_props_list(props_list);
    bf_cli_free(&cli, &cfg);
    bf_kprops_free(&props);
    return rc;
}
