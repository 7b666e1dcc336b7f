/*
 * test_ai_once_stream.c - `bountyfleet-worker --once` streams: against
 * the AI simulator, for each provider (AI_PROVIDERS=openai, anthropic,
 * gemini) the model's text arrives on stderr as "[kind] ..." while the
 * result JSON on stdout has three analyses whose tokens equal the
 * simulator's billing; the simulator saw streaming requests ("stream":
 * true, include_usage, :streamGenerateContent). With --no-stream the
 * same answers cost the same and nothing is streamed. The exit status
 * tells a verdict (0) from NEEDS_REVIEW (3) and from no result (1), and a
 * provider whose answers never fit ends the run within the call's budget,
 * not at the deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/stack.h"

static const char *const PROVIDERS[] = {"openai", "anthropic", "gemini"};

/* Run the worker with --once on @p report; stdout and stderr into files
 * under @p dir. @returns the exit status. */
static int run_once(const char *dir, const char *root, const char *provider,
                    const char *report, bool stream, char *out_path, char *err_path)
{
    sprintf(out_path, "%s/%s-%d.out", dir, provider, stream);
    sprintf(err_path, "%s/%s-%d.err", dir, provider, stream);
    char bin[512];
    bf_test_bin("bountyfleet-worker", bin, sizeof(bin));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char v1[600];
        snprintf(v1, sizeof(v1), "%s/v1", root);
        setenv("AI_PROVIDERS", provider, 1);
        setenv("OPENAI_BASE_URL", v1, 1);
        setenv("ANTHROPIC_BASE_URL", root, 1);
        setenv("GEMINI_BASE_URL", root, 1);
        setenv("OPENAI_API_KEY", "k1", 1);
        setenv("OPENAI_MODEL", "sim-1", 1);
        setenv("ANTHROPIC_API_KEY", "k2", 1);
        setenv("ANTHROPIC_MODEL", "claude-3-5-haiku", 1);
        setenv("GEMINI_API_KEY", "k3", 1);
        setenv("GEMINI_MODEL", "gemini-2.0-flash", 1);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        char *argv[] = {bin,  "--once", (char *)report, "--log-level", "error",
                        NULL, NULL};
        if (!stream)
            argv[5] = "--no-stream";
        execv(bin, argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

/* The first real report of the sample set, as @p dir/report.json (its
 * path into @p path). */
static void write_report(const char *dir, char *path, size_t size)
{
    snprintf(path, size, "%s/report.json", dir);
    char sample[1024];
    snprintf(sample, sizeof(sample), "%s/ops/demo-data/sample-reports.jsonl",
             BF_SOURCE_DIR);
    FILE *in = fopen(sample, "r");
    assert_non_null(in);
    char *line = NULL;
    size_t cap = 0;
    assert_true(getline(&line, &cap, in) > 0);
    fclose(in);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fputs(line, out);
    fclose(out);
    free(line);
}

/* The simulator with one flag and its value; its root URL (without /v1). */
static void start_sim(bf_proc_t *aisim, const char *dir, const char *flag,
                      const char *value, char *root, size_t root_size)
{
    char bin[512];
    const char *argv[] = {bf_test_bin("bountyfleet-aisim", bin, sizeof(bin)), flag, value,
                          NULL};
    assert_int_equal(bf_proc_start(aisim, "aisim", dir, argv, NULL, true, 20), 0);
    snprintf(root, root_size, "%s", aisim->first_line);
    size_t n = strlen(root);
    if (n > 3 && strcmp(root + n - 3, "/v1") == 0)
        root[n - 3] = '\0';
}

static json_t *get_json(const char *root, const char *path)
{
    char url[600];
    snprintf(url, sizeof(url), "%s%s", root, path);
    long status = 0;
    char *text = bf_test_http_get(url, &status);
    assert_int_equal(status, 200);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    free(text);
    return j;
}

static void test_once_streams_each_provider(void **unused)
{
    (void)unused;
    char dir[] = "/tmp/bf-once-stream-XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* No prompt caching: the runs below compare costs, and a cache warmed
     * by the first run would make the second one cheaper. */
    bf_proc_t aisim;
    char root[512];
    start_sim(&aisim, dir, "--cache-min-tokens", "1000000", root, sizeof(root));

    char report[400];
    write_report(dir, report, sizeof(report));

    double cost[3] = {0};
    for (int p = 0; p < 3; p++) {
        char out_path[600], err_path[600];
        int st = run_once(dir, root, PROVIDERS[p], report, true, out_path, err_path);
        char *so = slurp(out_path), *se = slurp(err_path);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s: exit %d: %s", PROVIDERS[p], st, se);
        json_t *res = json_loads(so, 0, NULL);
        if (!res)
            fail_msg("%s: stdout is not JSON: %s", PROVIDERS[p], so);
        json_t *analyses = json_object_get(res, "analyses");
        assert_int_equal(json_array_size(analyses), 3);
        json_int_t in_sum = 0, out_sum = 0;
        size_t i;
        json_t *a;
        json_array_foreach(analyses, i, a)
        {
            assert_string_equal(json_string_value(json_object_get(a, "provider")),
                                PROVIDERS[p]);
            assert_true(json_is_null(json_object_get(a, "error")));
            in_sum += json_integer_value(json_object_get(a, "tokens_in"));
            out_sum += json_integer_value(json_object_get(a, "tokens_out"));
            cost[p] += json_real_value(json_object_get(a, "cost_usd"));
        }
        /* The streamed text is on stderr: each analysis's label and the
         * model's JSON answer as it came. */
        if (!strstr(se, "[quality] {\"score\"") || !strstr(se, "[plausibility] ") ||
            !strstr(se, "[severity] ") || !strstr(se, "\"reasons\""))
            fail_msg("%s: no streamed text on stderr: %s", PROVIDERS[p], se);
        /* Tokens equal the simulator's billing. */
        json_t *stats = get_json(root, "/stats");
        json_t *ps = json_object_get(json_object_get(stats, "by_provider"), PROVIDERS[p]);
        assert_int_equal(json_integer_value(json_object_get(ps, "requests")), 3);
        assert_int_equal(in_sum,
                         json_integer_value(json_object_get(ps, "prompt_tokens")));
        assert_int_equal(out_sum,
                         json_integer_value(json_object_get(ps, "completion_tokens")));
        json_decref(stats);
        json_decref(res);
        free(so);
        free(se);
    }
    /* Every request asked for a stream, each in its provider's way. */
    json_t *reqs = get_json(root, "/debug/requests");
    assert_int_equal(json_array_size(reqs), 9);
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        const char *prov = json_string_value(json_object_get(r, "provider"));
        json_t *body = json_object_get(r, "body");
        const char *path = json_string_value(json_object_get(r, "path"));
        if (strcmp(prov, "gemini") == 0) {
            if (!strstr(path, ":streamGenerateContent"))
                fail_msg("gemini path %s", path);
        } else {
            assert_true(json_is_true(json_object_get(body, "stream")));
        }
        if (strcmp(prov, "openai") == 0)
            assert_true(json_is_true(json_object_get(
                json_object_get(body, "stream_options"), "include_usage")));
    }
    json_decref(reqs);

    /* --no-stream: nothing on stderr, the same cost for the same answers. */
    for (int p = 0; p < 3; p++) {
        char out_path[600], err_path[600];
        int st = run_once(dir, root, PROVIDERS[p], report, false, out_path, err_path);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        char *so = slurp(out_path), *se = slurp(err_path);
        assert_string_equal(se, "");
        json_t *res = json_loads(so, 0, NULL);
        assert_non_null(res);
        double c = 0;
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(res, "analyses"), k, a) c +=
            json_real_value(json_object_get(a, "cost_usd"));
        assert_true(c > 0);
        assert_float_equal(c, cost[p], 1e-12);
        json_decref(res);
        free(so);
        free(se);
    }
    json_t *after = get_json(root, "/debug/requests");
    assert_int_equal(json_array_size(after), 18);
    json_array_foreach(after, i, r)
    {
        if (i < 9)
            continue;
        assert_null(json_object_get(json_object_get(r, "body"), "stream"));
    }
    json_decref(after);

    bf_proc_stop(&aisim, SIGTERM, 10);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_once_exit_status_tells_needs_review_from_a_verdict(void **unused)
{
    (void)unused;
    char dir[] = "/tmp/bf-once-exit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* Every answer is off the schema: no analysis can be completed. */
    bf_proc_t aisim;
    char root[512];
    start_sim(&aisim, dir, "--bad-answer-rate", "1", root, sizeof(root));
    char report[400];
    write_report(dir, report, sizeof(report));
    char out_path[700], err_path[700];
    double started = bf_test_now();
    int st = run_once(dir, root, "openai", report, false, out_path, err_path);
    double took = bf_test_now() - started;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    char *so = slurp(out_path);
    json_t *res = json_loads(so, 0, NULL);
    assert_non_null(res);
    assert_string_equal(json_string_value(json_object_get(res, "status")),
                        "NEEDS_REVIEW");
    json_decref(res);
    free(so);
    /* --ai-retries 3: four attempts each, with backoff, not 60 s (the
     * one-shot deadline) and not 240 s (the daemon's). */
    if (took > 30 * bf_test_timeout_mult())
        fail_msg("--once took %.1f s on answers that never fit", took);
    /* No report at all: no result, exit 1. */
    snprintf(report, sizeof(report), "%s/missing.json", dir);
    st = run_once(dir, root, "openai", report, false, out_path, err_path);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    bf_proc_stop(&aisim, SIGTERM, 10);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_streams_each_provider),
        cmocka_unit_test(test_once_exit_status_tells_needs_review_from_a_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
