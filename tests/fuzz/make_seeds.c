/*
 * make_seeds.c - writes seed inputs for fuzz_codec and fuzz_report_json
 * from the first reports of ops/demo-data/sample-reports.jsonl, and the
 * generated seeds of fuzz_registry, fuzz_heartbeat and fuzz_stored:
 *
 *   fuzz_make_seeds SAMPLE.jsonl CORPUS_DIR [N]
 *
 * Each report becomes a JSON seed and, for the codec, a record-type byte
 * followed by the report in each framing (single-object, Confluent id 1,
 * JSON). The registry gets its answer to "schema by id" and "version" with
 * the real report schema; the heartbeat target two heartbeats of one
 * worker in each framing; the stored target a forecast state saved by the
 * scaler it loads into, after a few seasons of traffic.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/scaler.h"
#include "libbf/buf.h"
#include "libbf/codec.h"
#include "libbf/mem.h"
#include "stored_scaler.h"

static void write_file(const char *dir, const char *sub, const char *name, int i,
                       const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s-%d", dir, sub, name, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* The registry's answers carrying the report schema (fuzz_registry). */
static void registry_seeds(const char *dir, bf_codec_t *codec)
{
    const char *schema = bf_codec_schema_text(codec, BF_RECORD_REPORT);
    json_t *by_id = json_pack("{s:s}", "schema", schema);
    json_t *version =
        json_pack("{s:s, s:i, s:i, s:s}", "subject", "bountyfleet.reports-value",
                  "version", 3, "id", 12, "schema", schema);
    char *a = json_dumps(by_id, JSON_COMPACT), *b = json_dumps(version, JSON_COMPACT);
    char *sa = bf_asprintf("%c%s", 1, a), *sb = bf_asprintf("%c%s", 3, b);
    write_file(dir, "registry", "schema-by-id-report", 0, sa, strlen(sa));
    write_file(dir, "registry", "version-report", 0, sb, strlen(sb));
    free(a);
    free(b);
    free(sa);
    free(sb);
    json_decref(by_id);
    json_decref(version);
}

/* Two heartbeats of one worker, "\n--\n" between them (fuzz_heartbeat). */
static void heartbeat_seeds(const char *dir, bf_codec_t *codec)
{
    static const bf_framing_t framings[] = {BF_FRAMING_SINGLE_OBJECT, BF_FRAMING_JSON};
    static const char *const names[] = {"single-object", "json"};
    for (size_t f = 0; f < 2; f++) {
        bf_buf_t out;
        bf_buf_init(&out, 1 << 20);
        for (int i = 0; i < 2; i++) {
            char errstr[256];
            json_t *hb = json_pack(
                "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:i, s:i, s:f, "
                "s:f, s:I, s:i, s:b, s:f, s:f}",
                "worker_id", "worker-7f3a", "sent_at",
                (json_int_t)1714564805000 + i * 5000, "started_at",
                (json_int_t)1714564800000, "reports_consumed", (json_int_t)(40 + i * 10),
                "reports_validated", (json_int_t)(38 + i * 10), "reports_duplicate",
                (json_int_t)3, "reports_dlq", (json_int_t)1, "reports_per_second", 2.0,
                "latency_p50_seconds", 4.1, "latency_p95_seconds", 9.5,
                "latency_p99_seconds", 12.0, "in_flight_reports", 6, "in_flight_ai_calls",
                14, "ai_cost_usd", 0.42 + i * 0.1, "cpu_seconds", 3.5, "rss_bytes",
                (json_int_t)48000000, "assigned_partitions", 2, "paused", 0,
                "ai_limit_rpm", 600.0, "ai_limited_share", 0.8 - i * 0.5);
            if (i)
                bf_buf_append(&out, "\n--\n", 4);
            if (!hb || bf_codec_encode(codec, BF_RECORD_HEARTBEAT, hb, framings[f], &out,
                                       errstr, sizeof(errstr)) != BF_OK) {
                fprintf(stderr, "heartbeat: %s\n", hb ? errstr : "json_pack");
                exit(1);
            }
            json_decref(hb);
        }
        write_file(dir, "heartbeat", names[f], 0, out.data, out.len);
        bf_buf_free(&out);
    }
}

/* A saved forecast state of the scaler fuzz_stored loads into
 * (stored_scaler.h), after ten seasons of a daily-looking shape. */
static void stored_seeds(const char *dir)
{
    bf_scaler_t *s = fuzz_stored_scaler_new();
    static const double shape[] = {30, 90, 150, 60};
    bf_scaler_decision_t d;
    for (int i = 0; i < 40; i++) {
        bf_scaler_obs_t obs = {.now = 60.0 * i,
                               .total_lag = 20 + i,
                               .partitions = 4,
                               .current_workers = 2,
                               .arrivals = shape[i % 4],
                               .processed = shape[i % 4] - 5,
                               .latency_s = -1};
        bf_scaler_observe(s, &obs, &d);
    }
    char *state = bf_scaler_save(s);
    char *seed = bf_asprintf("%c%s", 2, state);
    write_file(dir, "stored", "scaler-state", 0, seed, strlen(seed));
    free(seed);
    free(state);
    bf_scaler_destroy(s);
    static const char cache[] =
        "\x10{\"score\":0.8,\"confidence\":0.7,\"reasons\":[\"steps reproduce\"],"
        "\"model\":\"gpt-4o-mini\"}";
    write_file(dir, "stored", "ai-cache", 0, cache, sizeof(cache) - 1);
    static const char resp[] = "\x01*3\r\n$9\r\nduplicate\r\n$3\r\nr-1\r\n:120\r\n";
    write_file(dir, "stored", "neardup-reply", 0, resp, sizeof(resp) - 1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_make_seeds SAMPLE.jsonl CORPUS_DIR [N]\n");
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 4;
    char errstr[256];
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    if (!codec) {
        fprintf(stderr, "codec: %s\n", errstr);
        return 1;
    }
    bf_codec_set_confluent_id(codec, BF_RECORD_REPORT, 1);
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    static const struct {
        bf_framing_t framing;
        const char *name;
    } framings[] = {{BF_FRAMING_SINGLE_OBJECT, "single-object"},
                    {BF_FRAMING_CONFLUENT, "confluent"},
                    {BF_FRAMING_JSON, "json"}};
    for (int i = 0; i < n && getline(&line, &cap, in) > 0; i++) {
        write_file(argv[2], "report_json", "report", i, line, strlen(line));
        json_t *obj = json_loads(line, 0, NULL);
        if (!obj)
            continue;
        for (size_t f = 0; f < sizeof(framings) / sizeof(framings[0]); f++) {
            bf_buf_t out;
            bf_buf_init(&out, 1 << 24);
            bf_buf_append(&out, "\0", 1); /* record type: report */
            if (bf_codec_encode(codec, BF_RECORD_REPORT, obj, framings[f].framing, &out,
                                errstr, sizeof(errstr)) == BF_OK)
                write_file(argv[2], "codec", framings[f].name, i, out.data, out.len);
            bf_buf_free(&out);
        }
        json_decref(obj);
    }
    free(line);
    fclose(in);
    registry_seeds(argv[2], codec);
    heartbeat_seeds(argv[2], codec);
    stored_seeds(argv[2]);
    bf_codec_destroy(codec);
    return 0;
}
