/*
 * bountyfleet-producer - publish security reports to Kafka.
 *
 * Inputs: JSON files (one object, or an array of objects), .jsonl/.ndjson
 * files (one object per line), directories (searched recursively for
 * those), or JSON lines on stdin ("-", or no argument with stdin not a
 * terminal). Each report is checked before it is sent; a bad one is
 * reported as FILE:LINE: reason and the rest still go out. Records are
 * keyed by report_id and sent by an idempotent producer; the program waits
 * for every delivery report, and the exit status says whether all reports
 * were valid and delivered (0), or not (1).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libbf/codec.h"
#include "libbf/config.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "libbf/report.h"

typedef struct producer_config_s {
    char *brokers;
    char *topic;
    char *framing;
    char *compression;
    char *log_level;
    int64_t confluent_id;
    double flush_timeout_s;
} producer_config_t;

#define O(field) offsetof(producer_config_t, field)
#define NORANGE  1, 0

static const bf_opt_t options[] = {
    {"brokers", 'b', "KAFKA_BROKERS", BF_OPT_STRING, "127.0.0.1:9092", NORANGE,
     "HOST:PORT,...", "Kafka bootstrap servers", O(brokers)},
    {"topic", 't', "BOUNTYFLEET_TOPIC_REPORTS", BF_OPT_STRING, "bountyfleet.reports",
     NORANGE, "TOPIC", "topic to publish to", O(topic)},
    {"framing", 0, "BOUNTYFLEET_FRAMING", BF_OPT_STRING, "single-object", NORANGE,
     "single-object|confluent|json", "wire format of the records", O(framing)},
    {"schema-id", 0, NULL, BF_OPT_INT, "-1", -1, 2147483647, "ID",
     "Confluent schema id of report.avsc (with --framing confluent)", O(confluent_id)},
    {"compression", 'z', NULL, BF_OPT_STRING, "lz4", NORANGE, "none|gzip|snappy|lz4|zstd",
     "compression codec", O(compression)},
    {"flush-timeout", 0, NULL, BF_OPT_DOUBLE, "60", 0.1, 3600, "SECONDS",
     "how long to wait for outstanding deliveries at the end", O(flush_timeout_s)},
    {"log-level", 'l', "BOUNTYFLEET_LOG_LEVEL", BF_OPT_STRING, "warn", NORANGE,
     "fatal|error|warn|info|debug", "log threshold", O(log_level)},
};

static const bf_cli_t cli = {
    .program = "bountyfleet-producer",
    .summary =
        "Publish security reports (JSON files, directories, or JSON lines on stdin) "
        "to Kafka.",
    .usage = "[OPTIONS] [FILE|DIR|-]...",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
    .kafka_props = true,
};

typedef struct run_s {
    const producer_config_t *cfg;
    rd_kafka_t *rk;
    bf_codec_t *codec;
    bf_framing_t framing;
    bf_buf_t buf;
    long sent, delivered, failed_delivery, invalid;
    size_t bytes;
} run_t;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    run_t *run = opaque;
    if (m->err) {
        run->failed_delivery++;
        fprintf(stderr, "%s: delivery of %.*s failed: %s\n", cli.program, (int)m->key_len,
                (const char *)m->key, rd_kafka_err2str(m->err));
    } else {
        run->delivered++;
    }
}

/* Check, encode and send one report. @p where is "file:line" for messages. */
static void send_report(run_t *run, json_t *obj, const char *where)
{
    char errstr[512];
    bf_report_t *r = NULL;
    bf_err_t err = bf_report_from_json(obj, &r, errstr, sizeof(errstr));
    if (err) {
        fprintf(stderr, "%s: %s: %s\n", cli.program, where, errstr);
        run->invalid++;
        return;
    }
    json_t *norm = bf_report_to_json(r);
    bf_buf_reset(&run->buf);
    err = bf_codec_encode(run->codec, BF_RECORD_REPORT, norm, run->framing, &run->buf,
                          errstr, sizeof(errstr));
    json_decref(norm);
    if (err) {
        fprintf(stderr, "%s: %s: %s\n", cli.program, where, errstr);
        run->invalid++;
        bf_report_destroy(r);
        return;
    }
    for (;;) {
        rd_kafka_resp_err_t kerr =
            rd_kafka_producev(run->rk, RD_KAFKA_V_TOPIC(run->cfg->topic),
                              RD_KAFKA_V_KEY(r->report_id, strlen(r->report_id)),
                              RD_KAFKA_V_VALUE(run->buf.data, run->buf.len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(run->rk, 100); /* back-pressure: wait for deliveries */
            continue;
        }
        if (kerr) {
            fprintf(stderr, "%s: %s: %s\n", cli.program, where, rd_kafka_err2str(kerr));
            run->failed_delivery++;
        } else {
            run->sent++;
            run->bytes += run->buf.len;
        }
        break;
    }
    rd_kafka_poll(run->rk, 0);
    bf_report_destroy(r);
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
            run->invalid++;
            continue;
        }
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)n, 0, &jerr);
        if (!obj) {
            fprintf(stderr, "%s: %s: invalid JSON: %s\n", cli.program, where, jerr.text);
            run->invalid++;
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
        run->invalid++;
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
        run->invalid++;
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
        run->invalid++;
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
        run->invalid++;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth > 32) {
            fprintf(stderr, "%s: %s: directories nested too deep\n", cli.program, path);
            run->invalid++;
            return;
        }
        send_dir(run, path, depth);
    } else {
        send_file(run, path);
    }
}

int main(int argc, char **argv)
{
    producer_config_t cfg = {0};
    bf_kprops_t props = {0};
    char errstr[512] = "";
    int first_arg = 0;
    int rc = 2;
    run_t run = {.cfg = &cfg};
    bf_buf_init(&run.buf, BF_REPORT_MAX_ENCODED + 64);

    bf_cli_result_t r =
        bf_cli_parse(&cli, &cfg, argc, argv, &props, &first_arg, errstr, sizeof(errstr));
    if (r != BF_CLI_RUN) {
        if (r == BF_CLI_ERROR)
            fprintf(stderr, "%s: %s\n", cli.program, errstr);
        rc = r == BF_CLI_EXIT ? 0 : 2;
        goto out;
    }
    bf_log_level_t level;
    if (bf_log_level_parse(cfg.log_level, &level) != 0) {
        fprintf(stderr, "%s: --log-level: unknown level '%s'\n", cli.program,
                cfg.log_level);
        goto out;
    }
    bf_log_level_set(level);
    if (bf_framing_parse(cfg.framing, &run.framing) != 0) {
        fprintf(stderr, "%s: --framing: unknown framing '%s'\n", cli.program,
                cfg.framing);
        goto out;
    }
    if (first_arg >= argc && isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "%s: no input: give files or directories, or pipe JSON lines in\n",
                cli.program);
        goto out;
    }
    if (!(run.codec = bf_codec_new(errstr, sizeof(errstr)))) {
        fprintf(stderr, "%s: %s\n", cli.program, errstr);
        rc = 1;
        goto out;
    }
    if (run.framing == BF_FRAMING_CONFLUENT) {
        if (cfg.confluent_id < 0) {
            fprintf(stderr, "%s: --framing confluent needs --schema-id\n", cli.program);
            goto out;
        }
        bf_codec_set_confluent_id(run.codec, BF_RECORD_REPORT, (int32_t)cfg.confluent_id);
    }
    rd_kafka_conf_t *conf =
        bf_kafka_conf_new(cfg.brokers, &props, errstr, sizeof(errstr));
    if (!conf ||
        bf_kafka_conf_default(conf, &props, "enable.idempotence", "true", errstr,
                              sizeof(errstr)) ||
        bf_kafka_conf_default(conf, &props, "compression.codec", cfg.compression, errstr,
                              sizeof(errstr)) ||
        bf_kafka_conf_default(conf, &props, "linger.ms", "20", errstr, sizeof(errstr))) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        fprintf(stderr, "%s: %s\n", cli.program, errstr);
        goto out;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &run);
    char rderr[512];
    run.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
    if (!run.rk) {
        fprintf(stderr, "%s: %s\n", cli.program, rderr);
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    if (first_arg >= argc)
        send_path(&run, "-", 0);
    for (int i = first_arg; i < argc && !interrupted; i++)
        send_path(&run, argv[i], 0);

    /* Wait for every delivery report (flush serves the callbacks). */
    rd_kafka_resp_err_t ferr = rd_kafka_flush(run.rk, (int)(cfg.flush_timeout_s * 1000));
    long outstanding = rd_kafka_outq_len(run.rk);
    if (ferr)
        fprintf(stderr, "%s: %ld reports not delivered within %.0f s: %s\n", cli.program,
                outstanding, cfg.flush_timeout_s, rd_kafka_err2str(ferr));
    fprintf(
        stderr,
        "{\"sent\":%ld,\"delivered\":%ld,\"failed\":%ld,\"invalid\":%ld,\"bytes\":%zu}\n",
        run.sent, run.delivered, run.failed_delivery + outstanding, run.invalid,
        run.bytes);
    rc = (run.invalid || run.failed_delivery || outstanding || interrupted) ? 1 : 0;
out:
    if (run.rk)
        rd_kafka_destroy(run.rk);
    bf_codec_destroy(run.codec);
    bf_buf_free(&run.buf);
    bf_cli_free(&cli, &cfg);
    bf_kprops_free(&props);
    return rc;
}
