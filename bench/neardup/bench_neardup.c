/*
 * bench_neardup.c - precision and recall of near-duplicate detection on a
 * labelled set of report pairs (bench/neardup/make_pairs.py).
 *
 * Usage: bench_neardup [--redis redis://HOST:PORT] PAIRS.jsonl [THRESHOLD...]
 *        bench_neardup --stream REPORTS.jsonl [THRESHOLD...]
 *
 * For each pair the worker's own code computes both signatures and makes
 * the worker's decision (bf_neardup_is_duplicate: same asset, a shared LSH
 * band for the threshold's bands x rows, enough equal MinHash slots), so
 * the numbers include what LSH misses, not only the similarity estimate.
 * Prints JSON lines: one summary, then one per threshold with the
 * confusion counts, precision, recall, F1 and the rate of "duplicate"
 * answers per kind of pair, then the similarity quantiles per kind.
 *
 * With --redis (a scratch server: keys are left to expire after 10 min),
 * every pair also goes through the real script, a under its own key prefix
 * and then b: the script's answer must be the C decision for every pair at
 * the threshold (mismatches are counted), and the latency of b's check is
 * reported.
 *
 * With --stream, REPORTS.jsonl is a stream of reports (e.g. the 3,000 real
 * ones through ops/demo-data/hackerone-to-reports.jq), taken in order of
 * submission: each report that the detector would call a near duplicate
 * of an earlier one is counted, and listed for thresholds of 0.8 and up
 * (or for the one threshold given).
 */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/mem.h"
#include "libbf/redis.h"
#include "libbf/report.h"
#include "worker/neardup.h"

#define MAX_KINDS 16

typedef struct pair_s {
    int label;
    int kind;
    bf_neardup_sig_t a, b;
    double similarity;
} pair_t;

typedef struct kinds_s {
    char *name[MAX_KINDS];
    int n;
} kinds_t;

static int kind_index(kinds_t *k, const char *name)
{
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->name[i], name) == 0)
            return i;
    if (k->n == MAX_KINDS)
        return -1;
    k->name[k->n] = bf_strdup(name);
    return k->n++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int signature_of(json_t *obj, bf_neardup_sig_t *sig, double *seconds)
{
    bf_report_t *r = NULL;
    char errstr[256];
    if (bf_report_from_json(obj, &r, errstr, sizeof(errstr)) != BF_OK) {
        fprintf(stderr, "bench_neardup: skipped a report: %s\n", errstr);
        return -1;
    }
    double t0 = now_s();
    bf_neardup_signature(r, sig);
    *seconds += now_s() - t0;
    bf_report_destroy(r);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool shares_band(const bf_neardup_params_t *p, const bf_neardup_sig_t *a,
                        const bf_neardup_sig_t *b)
{
    for (int band = 0; band < p->bands; band++)
        if (bf_neardup_band_hash(a, band, p->rows) ==
            bf_neardup_band_hash(b, band, p->rows))
            return true;
    return false;
}

static void evaluate(const pair_t *pairs, size_t n, const kinds_t *kinds,
                     double threshold)
{
    bf_neardup_params_t p;
    bf_neardup_params_init(&p, threshold);
    long tp = 0, fp = 0, fn = 0, tn = 0, lsh_missed = 0, title_missed = 0;
    long said[MAX_KINDS] = {0}, total[MAX_KINDS] = {0};
    for (size_t i = 0; i < n; i++) {
        bool dup = bf_neardup_is_duplicate(&p, &pairs[i].a, &pairs[i].b);
        /* Similar enough, but no band in common (what LSH cost) or a title
         * word missing (what the title gate cost). */
        if (!dup && pairs[i].label &&
            pairs[i].similarity * BF_NEARDUP_HASHES >= p.min_equal) {
            if (shares_band(&p, &pairs[i].a, &pairs[i].b))
                title_missed++;
            else
                lsh_missed++;
        }
        tp += dup && pairs[i].label;
        fp += dup && !pairs[i].label;
        fn += !dup && pairs[i].label;
        tn += !dup && !pairs[i].label;
        said[pairs[i].kind] += dup;
        total[pairs[i].kind]++;
    }
    double precision = tp + fp ? (double)tp / (double)(tp + fp) : 1.0;
    double recall = tp + fn ? (double)tp / (double)(tp + fn) : 1.0;
    double f1 =
        precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    json_t *by_kind = json_object();
    for (int k = 0; k < kinds->n; k++)
        json_object_set_new(by_kind, kinds->name[k],
                            json_real(total[k] ? (double)said[k] / (double)total[k] : 0));
    json_t *line = json_pack(
        "{s:s, s:f, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, "
        "s:o}",
        "bench", "neardup", "threshold", threshold, "bands", p.bands, "rows", p.rows,
        "min_equal_slots", p.min_equal, "tp", (json_int_t)tp, "fp", (json_int_t)fp, "fn",
        (json_int_t)fn, "tn", (json_int_t)tn, "fn_by_lsh", (json_int_t)lsh_missed,
        "fn_by_title", (json_int_t)title_missed, "precision", precision, "recall", recall,
        "f1", f1, "duplicate_rate_by_kind", by_kind);
    char *s = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(4));
    puts(s);
    free(s);
    json_decref(line);
}

static void similarity_quantiles(const pair_t *pairs, size_t n, const kinds_t *kinds)
{
    double *v = bf_calloc(n ? n : 1, sizeof(double));
    for (int k = 0; k < kinds->n; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (pairs[i].kind == k)
                v[m++] = pairs[i].similarity;
        if (!m)
            continue;
        qsort(v, m, sizeof(double), cmp_double);
        json_t *line = json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f}", "bench",
                                 "neardup_similarity", "kind", kinds->name[k], "pairs",
                                 (json_int_t)m, "min", v[0], "p10", v[m / 10], "p50",
                                 v[m / 2], "p90", v[m * 9 / 10], "max", v[m - 1]);
        char *s = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(4));
        puts(s);
        free(s);
        json_decref(line);
    }
    free(v);
}

/* One EVAL of the script for @p sig under @p prefix; -1 on an error. */
static int script_says_duplicate(redisContext *c, const bf_neardup_params_t *p,
                                 const char *prefix, const char *id,
                                 const bf_neardup_sig_t *sig, double *seconds)
{
    bf_neardup_request_t req;
    bf_neardup_request_init(&req, p, prefix, 600, id, sig);
    double t0 = now_s();
    redisReply *reply =
        redisCommandArgv(c, req.argc, (const char **)req.argv, req.argvlen);
    *seconds = now_s() - t0;
    bf_neardup_request_free(&req);
    bf_neardup_answer_t a;
    int rc = bf_neardup_answer_parse(reply, &a) == BF_OK ? a.duplicate : -1;
    if (rc < 0)
        fprintf(stderr, "bench_neardup: script: %s\n",
                reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                                                          : "no or bad reply");
    freeReplyObject(reply);
    return rc;
}

/* Run every pair through the script at @p threshold; print agreement with
 * the C decision and the check's latency. */
static int through_redis(redisContext *c, const pair_t *pairs, size_t n, double threshold)
{
    bf_neardup_params_t p;
    bf_neardup_params_init(&p, threshold);
    double *lat = bf_calloc(n ? n : 1, sizeof(double));
    long mismatches = 0, errors = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pairs[i].a.shingles || !pairs[i].b.shingles)
            continue; /* the worker never sends these */
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "bench:%.3f:%zu:", threshold, i);
        double t;
        int first = script_says_duplicate(c, &p, prefix, "a", &pairs[i].a, &t);
        int second = script_says_duplicate(c, &p, prefix, "b", &pairs[i].b, &lat[m++]);
        if (first != 0 || second < 0) {
            errors++;
            continue;
        }
        mismatches += second != bf_neardup_is_duplicate(&p, &pairs[i].a, &pairs[i].b);
    }
    qsort(lat, m, sizeof(double), cmp_double);
    json_t *line = json_pack(
        "{s:s, s:f, s:I, s:I, s:I, s:f, s:f, s:f}", "bench", "neardup_redis", "threshold",
        threshold, "checks", (json_int_t)m, "mismatches", (json_int_t)mismatches,
        "errors", (json_int_t)errors, "latency_us_p50", m ? lat[m / 2] * 1e6 : 0.0,
        "latency_us_p99", m ? lat[m * 99 / 100] * 1e6 : 0.0, "latency_us_max",
        m ? lat[m - 1] * 1e6 : 0.0);
    char *out = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(4));
    puts(out);
    free(out);
    json_decref(line);
    free(lat);
    return errors ? -1 : 0;
}

typedef struct streamed_s {
    bf_neardup_sig_t sig;
    int64_t submitted_at_ms;
    char id[64], reporter[64], title[96];
} streamed_t;

static int by_submission(const void *a, const void *b)
{
    const streamed_t *x = a, *y = b;
    if (x->submitted_at_ms != y->submitted_at_ms)
        return x->submitted_at_ms < y->submitted_at_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Copy @p src into @p dst, cut at a UTF-8 character boundary (jansson
 * refuses strings that end inside a character). */
static void copy_utf8(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size) {
        n = size - 1;
        while (n && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void print_line(json_t *line)
{
    if (!line) {
        fprintf(stderr, "bench_neardup: a result line could not be built\n");
        return;
    }
    char *out = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(4));
    puts(out);
    free(out);
    json_decref(line);
}

/* The stream mode (see the top of the file). */
static int stream(const char *path, int nt, char **thresholds)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1024, n = 0;
    streamed_t *r = bf_calloc(cap, sizeof(*r));
    json_error_t jerr;
    json_t *obj;
    while ((obj = json_loadf(f, JSON_DISABLE_EOF_CHECK, &jerr)) != NULL) {
        bf_report_t *rep = NULL;
        char errstr[256];
        if (bf_report_from_json(obj, &rep, errstr, sizeof(errstr)) == BF_OK) {
            if (n == cap)
                r = bf_realloc(r, (cap *= 2) * sizeof(*r));
            bf_neardup_signature(rep, &r[n].sig);
            r[n].submitted_at_ms = rep->submitted_at_ms;
            copy_utf8(r[n].id, sizeof(r[n].id), rep->report_id);
            copy_utf8(r[n].reporter, sizeof(r[n].reporter), rep->reporter);
            copy_utf8(r[n].title, sizeof(r[n].title), rep->title);
            n++;
            bf_report_destroy(rep);
        } else {
            fprintf(stderr, "bench_neardup: skipped a report: %s\n", errstr);
        }
        json_decref(obj);
    }
    fclose(f);
    qsort(r, n, sizeof(*r), by_submission);
    static const char *const default_thresholds[] = {"0.5", "0.6", "0.7", "0.8", "0.9"};
    for (int t = 0; t < (nt ? nt : 5); t++) {
        double threshold;
        char errstr[128];
        const char *arg = nt ? thresholds[t] : default_thresholds[t];
        if (bf_neardup_threshold_parse(arg, &threshold, errstr, sizeof(errstr)) !=
            BF_OK) {
            fprintf(stderr, "bench_neardup: %s\n", errstr);
            free(r);
            return 2;
        }
        bf_neardup_params_t p;
        bf_neardup_params_init(&p, threshold);
        long flagged = 0, same_reporter = 0;
        for (size_t i = 0; i < n; i++) {
            /* The earlier report with the most equal slots, as the script
             * would pick among candidates. */
            size_t best = n;
            double best_sim = -1;
            for (size_t j = 0; j < i; j++) {
                if (r[j].sig.asset != r[i].sig.asset ||
                    !bf_neardup_is_duplicate(&p, &r[j].sig, &r[i].sig))
                    continue;
                double sim = bf_neardup_similarity(&r[j].sig, &r[i].sig);
                if (sim > best_sim) {
                    best = j;
                    best_sim = sim;
                }
            }
            if (best == n)
                continue;
            flagged++;
            same_reporter += strcmp(r[best].reporter, r[i].reporter) == 0;
            if (threshold >= 0.8 || nt == 1)
                print_line(json_pack(
                    "{s:s, s:f, s:s, s:s, s:f, s:s, s:s, s:b}", "bench",
                    "neardup_stream_pair", "threshold", threshold, "original", r[best].id,
                    "duplicate", r[i].id, "similarity", best_sim, "original_title",
                    r[best].title, "duplicate_title", r[i].title, "same_reporter",
                    strcmp(r[best].reporter, r[i].reporter) == 0));
        }
        print_line(json_pack("{s:s, s:f, s:I, s:I, s:I}", "bench", "neardup_stream",
                             "threshold", threshold, "reports", (json_int_t)n, "flagged",
                             (json_int_t)flagged, "flagged_same_reporter",
                             (json_int_t)same_reporter));
    }
    free(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--stream") == 0)
        return stream(argv[2], argc - 3, argv + 3);
    const char *redis_url = NULL;
    if (argc > 2 && strcmp(argv[1], "--redis") == 0) {
        redis_url = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc < 2) {
        fprintf(stderr,
                "usage: bench_neardup [--redis URL] PAIRS.jsonl [THRESHOLD...]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1024, n = 0;
    pair_t *pairs = bf_calloc(cap, sizeof(*pairs));
    kinds_t kinds = {0};
    double sig_seconds = 0;
    long skipped = 0;
    json_error_t jerr;
    json_t *obj;
    while ((obj = json_loadf(f, JSON_DISABLE_EOF_CHECK, &jerr)) != NULL) {
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        json_t *label = json_object_get(obj, "label");
        if (n == cap)
            pairs = bf_realloc(pairs, (cap *= 2) * sizeof(*pairs));
        pair_t *p = &pairs[n];
        p->label = (int)json_integer_value(label);
        p->kind = kind ? kind_index(&kinds, kind) : -1;
        if (p->kind < 0 || !json_is_integer(label) ||
            signature_of(json_object_get(obj, "a"), &p->a, &sig_seconds) ||
            signature_of(json_object_get(obj, "b"), &p->b, &sig_seconds)) {
            skipped++;
        } else {
            p->similarity = bf_neardup_similarity(&p->a, &p->b);
            n++;
        }
        json_decref(obj);
    }
    fclose(f);
    long positives = 0;
    for (size_t i = 0; i < n; i++)
        positives += pairs[i].label;
    json_t *summary =
        json_pack("{s:s, s:I, s:I, s:I, s:I, s:i, s:i, s:f}", "bench", "neardup_set",
                  "pairs", (json_int_t)n, "positives", (json_int_t)positives, "negatives",
                  (json_int_t)(n - (size_t)positives), "skipped", (json_int_t)skipped,
                  "hashes", BF_NEARDUP_HASHES, "shingle_words", BF_NEARDUP_SHINGLE_WORDS,
                  "signature_us_mean", n ? sig_seconds / (2.0 * (double)n) * 1e6 : 0.0);
    char *s = json_dumps(summary, JSON_COMPACT | JSON_REAL_PRECISION(4));
    puts(s);
    free(s);
    json_decref(summary);
    static const char *const default_thresholds[] = {"0.5", "0.6", "0.7", "0.8", "0.9"};
    int nt = argc > 2 ? argc - 2 : 5;
    for (int i = 0; i < nt; i++) {
        const char *arg = argc > 2 ? argv[i + 2] : default_thresholds[i];
        double t;
        char errstr[128];
        if (bf_neardup_threshold_parse(arg, &t, errstr, sizeof(errstr)) != BF_OK) {
            fprintf(stderr, "bench_neardup: %s\n", errstr);
            return 2;
        }
        evaluate(pairs, n, &kinds, t);
    }
    similarity_quantiles(pairs, n, &kinds);
    int rc = 0;
    if (redis_url) {
        bf_redis_url_t u;
        char errstr[256];
        if (bf_redis_url_parse(redis_url, &u, errstr, sizeof(errstr)) != BF_OK) {
            fprintf(stderr, "bench_neardup: --redis: %s\n", errstr);
            return 2;
        }
        struct timeval tv = {5, 0};
        redisContext *c = redisConnectWithTimeout(u.host, u.port, tv);
        bf_redis_url_free(&u);
        if (!c || c->err) {
            fprintf(stderr, "bench_neardup: --redis: %s\n", c ? c->errstr : "no memory");
            redisFree(c);
            return 1;
        }
        for (int i = 0; i < nt && rc == 0; i++) {
            double t;
            bf_neardup_threshold_parse(argc > 2 ? argv[i + 2] : default_thresholds[i], &t,
                                       errstr, sizeof(errstr));
            rc = through_redis(c, pairs, n, t);
        }
        redisFree(c);
    }
    for (int k = 0; k < kinds.n; k++)
        free(kinds.name[k]);
    free(pairs);
    return rc ? 1 : 0;
}
