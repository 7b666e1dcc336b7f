/*
 * test_neardup_worker.c - a worker answers near duplicates without AI spend.
 *
 * The story: the local stack starts and one worker joins with the default
 * near-duplicate threshold. 20 real disclosed reports are published and
 * analysed. Then 10 of them come again from another reporter, lightly
 * re-worded (a greeting and a closing line added, Markdown marks dropped,
 * the asset written as a URL): each must come back DUPLICATE, pointing at
 * its original, with a similarity below 1 and at least the threshold, and
 * no analyses. 2 more come again word for word but about another asset:
 * they are new reports and are analysed. The AI simulator must have seen 3
 * calls for each analysed report and none for a duplicate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "libbf/mem.h"
#include "libbf/report.h"
#include "worker/neardup.h"
#include "support/results.h"
#include "support/stack.h"

#define PARTITIONS  3
#define ORIGINALS   20
#define REWORDED    10
#define OTHER_ASSET 2
#define THRESHOLD   0.7 /* the worker's default */
/* Long write-ups only, so that the added sentences are a small change. */
#define MIN_DESCRIPTION 1500

typedef struct fixture_s {
    bf_stack_t s;
    bf_proc_t worker;
    bf_test_results_t r;
    bool results_open;
    json_t *originals; /* array of report objects */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = bf_calloc(1, sizeof(*f));
    const char *aisim_args[] = {"--latency-ms", "5", NULL};
    if (bf_stack_start(&f->s, PARTITIONS, aisim_args) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    bf_proc_stop(&f->worker, SIGTERM, 60);
    if (f->results_open)
        bf_test_results_close(&f->r);
    bf_stack_stop(&f->s);
    json_decref(f->originals);
    free(f);
    return 0;
}

/* The first ORIGINALS long sample reports. */
static json_t *load_originals(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/ops/demo-data/sample-reports.jsonl", BF_SOURCE_DIR);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    json_t *out = json_array();
    json_error_t jerr;
    json_t *obj;
    while (json_array_size(out) < ORIGINALS &&
           (obj = json_loadf(in, JSON_DISABLE_EOF_CHECK, &jerr)) != NULL) {
        const char *d = json_string_value(json_object_get(obj, "description"));
        if (d && strlen(d) >= MIN_DESCRIPTION)
            json_array_append(out, obj);
        json_decref(obj);
    }
    fclose(in);
    assert_int_equal(json_array_size(out), ORIGINALS);
    return out;
}

/* @p s without the characters in @p drop (caller frees). */
static char *without(const char *s, const char *drop)
{
    char *out = bf_malloc(strlen(s) + 1), *o = out;
    for (; *s; s++)
        if (!strchr(drop, *s))
            *o++ = *s;
    *o = '\0';
    return out;
}

/* A copy of @p orig under the id <its id><suffix>. */
static json_t *copy_as(const json_t *orig, const char *suffix)
{
    json_t *r = json_deep_copy(orig);
    char *id = bf_asprintf("%s%s", json_string_value(json_object_get(orig, "report_id")),
                           suffix);
    json_object_set_new(r, "report_id", json_string(id));
    free(id);
    return r;
}

static json_t *reworded(const json_t *orig)
{
    json_t *r = copy_as(orig, "-reworded");
    json_object_set_new(r, "reporter", json_string("someone-else"));
    char *asset =
        bf_asprintf("https://%s/", json_string_value(json_object_get(orig, "asset")));
    json_object_set_new(r, "asset", json_string(asset));
    free(asset);
    char *plain = without(json_string_value(json_object_get(orig, "description")), "*`");
    char *text = bf_asprintf("Hi team,\n\n%s\n\nThanks for running this program.", plain);
    json_object_set_new(r, "description", json_string(text));
    free(plain);
    free(text);
    return r;
}

/* The MinHash estimate between two reports, by the worker's code. */
static double similarity_of(const json_t *a, const json_t *b)
{
    const json_t *pair[] = {a, b};
    bf_neardup_sig_t sig[2];
    for (int k = 0; k < 2; k++) {
        bf_report_t *rep = NULL;
        char errstr[256];
        if (bf_report_from_json(pair[k], &rep, errstr, sizeof(errstr)))
            fail_msg("report: %s", errstr);
        bf_neardup_signature(rep, &sig[k]);
        bf_report_destroy(rep);
    }
    return bf_neardup_similarity(&sig[0], &sig[1]);
}

static json_t *other_asset(const json_t *orig)
{
    json_t *r = copy_as(orig, "-elsewhere");
    json_object_set_new(r, "asset", json_string("elsewhere.example.net"));
    return r;
}

static void write_lines(const char *path, const json_t *reports)
{
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    size_t i;
    json_t *r;
    json_array_foreach(reports, i, r)
    {
        char *s = json_dumps(r, JSON_COMPACT);
        fprintf(out, "%s\n", s);
        free(s);
    }
    fclose(out);
}

static void start_worker(fixture_t *f)
{
    char env_brokers[600], env_redis[200], env_ai[600], bin[512];
    snprintf(env_brokers, sizeof(env_brokers), "KAFKA_BROKERS=%s", f->s.brokers);
    snprintf(env_redis, sizeof(env_redis), "REDIS_URL=%s", f->s.redis_url);
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", f->s.ai_base_url);
    const char *env[] = {env_brokers,
                         env_redis,
                         env_ai,
                         "OPENAI_API_KEY=test-key",
                         "OPENAI_MODEL=sim-1",
                         "BOUNTYFLEET_WORKER_ID=neardup-0",
                         NULL};
    const char *argv[] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), "-X",
                          "session.timeout.ms=6000", NULL};
    assert_int_equal(
        bf_proc_start(&f->worker, "worker", f->s.tmpdir, argv, env, false, 5), 0);
}

static void publish_and_wait(fixture_t *f, const char *name, const json_t *reports,
                             size_t want_total)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s.jsonl", f->s.tmpdir, name);
    write_lines(path, reports);
    bf_test_run_producer(&f->s, path);
    size_t got = bf_test_results_wait(&f->r, want_total, 120);
    if (got != want_total) {
        bf_stack_dump_logs(&f->s);
        bf_proc_dump_log(&f->worker, 30);
        fail_msg("%s: %zu of %zu reports have a result", name, got, want_total);
    }
}

static json_t *result_of(fixture_t *f, const char *report_id)
{
    json_t *res = json_object_get(f->r.by_id, report_id);
    if (!res)
        fail_msg("no result for %s", report_id);
    assert_int_equal(json_integer_value(json_object_get(f->r.count, report_id)), 1);
    return res;
}

static void expect_analysed(fixture_t *f, const char *report_id)
{
    json_t *res = result_of(f, report_id);
    const char *status = json_string_value(json_object_get(res, "status"));
    if (strcmp(status, "DUPLICATE") == 0)
        fail_msg("%s: DUPLICATE of %s, want an analysis", report_id,
                 json_string_value(json_object_get(res, "duplicate_of")));
    assert_int_equal(json_array_size(json_object_get(res, "analyses")), 3);
}

static void test_reworded_reports_are_near_duplicates_without_ai_calls(void **state)
{
    fixture_t *f = *state;
    f->originals = load_originals();
    start_worker(f);
    bf_test_results_open(&f->r, f->s.brokers, PARTITIONS);
    f->results_open = true;

    publish_and_wait(f, "originals", f->originals, ORIGINALS);
    size_t i;
    json_t *orig;
    json_array_foreach(f->originals, i, orig)
        expect_analysed(f, json_string_value(json_object_get(orig, "report_id")));

    json_t *again = json_array();
    for (i = 0; i < REWORDED; i++)
        json_array_append_new(again, reworded(json_array_get(f->originals, i)));
    for (i = 0; i < OTHER_ASSET; i++)
        json_array_append_new(again,
                              other_asset(json_array_get(f->originals, REWORDED + i)));
    publish_and_wait(f, "again", again, ORIGINALS + REWORDED + OTHER_ASSET);

    json_t *r;
    json_array_foreach(again, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "report_id"));
        const char *original = json_string_value(
            json_object_get(json_array_get(f->originals, i), "report_id"));
        if (i >= REWORDED) {
            expect_analysed(f, id);
            continue;
        }
        json_t *res = result_of(f, id);
        const char *status = json_string_value(json_object_get(res, "status"));
        if (strcmp(status, "DUPLICATE") != 0)
            fail_msg("%s: %s, want DUPLICATE of %s", id, status, original);
        assert_string_equal(json_string_value(json_object_get(res, "duplicate_of")),
                            original);
        /* The similarity is the MinHash estimate of the two texts, as the
         * worker's own code computes it (a reworded text can still have
         * all 128 slots equal: one of these is 1.0), and over the
         * threshold. */
        double sim = json_real_value(json_object_get(res, "duplicate_similarity"));
        double want = similarity_of(json_array_get(f->originals, i), r);
        if (sim < THRESHOLD || sim != want)
            fail_msg("%s: similarity %.4f, want %.4f (threshold %.1f)", id, sim, want,
                     THRESHOLD);
        assert_int_equal(json_array_size(json_object_get(res, "analyses")), 0);
    }

    /* AI calls: 3 per analysed report, none for a near duplicate. */
    json_t *stats = bf_test_aisim_stats(&f->s);
    assert_int_equal(json_integer_value(json_object_get(stats, "requests_total")),
                     3 * (ORIGINALS + OTHER_ASSET));
    json_t *by_report = json_object_get(stats, "by_report");
    assert_int_equal(json_object_size(by_report), ORIGINALS + OTHER_ASSET);
    json_decref(stats);
    json_decref(again);

    int st = bf_proc_stop(&f->worker, SIGTERM, 60);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        bf_proc_dump_log(&f->worker, 30);
        fail_msg("worker did not stop cleanly (status %d)", st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_reworded_reports_are_near_duplicates_without_ai_calls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
