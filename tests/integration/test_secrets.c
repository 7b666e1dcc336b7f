/*
 * test_secrets.c - secrets stay out of logs and metrics (SECURITY.md
 * "Secrets"): the worker runs on the local stack at --log-level debug with
 * a known fake API key, a Schema Registry reached with basic auth and with
 * credentials embedded in its URL, validates a few reports (so the key is
 * sent and the registry asked), and then neither its stderr nor /metrics
 * holds any of those values.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "support/registry_server.h"
#include "support/results.h"
#include "support/stack.h"

#define REPORTS 3

static const char *const canaries[] = {
    "sk-canary-openai-5c0ffee1", /* OPENAI_API_KEY */
    "canary-basic-pw-8b2e",      /* SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO */
    "canary-url-pw-19af",        /* the password inside SCHEMA_REGISTRY_URL */
};

static void expect_no_canary(const char *what, const char *text)
{
    for (size_t i = 0; i < sizeof(canaries) / sizeof(canaries[0]); i++)
        if (strstr(text, canaries[i]))
            fail_msg("%s shows the secret %s", what, canaries[i]);
}

static void test_worker_keeps_secrets_out_of_logs_and_metrics(void **unused)
{
    (void)unused;
    bf_stack_t s;
    assert_int_equal(bf_stack_start(&s, 1, NULL), 0);
    bf_test_registry_t *reg = bf_test_registry_start(NULL);
    assert_non_null(reg);
    const char *base = bf_test_registry_url(reg); /* http://127.0.0.1:PORT */
    assert_true(strncmp(base, "http://", 7) == 0);

    int port = bf_test_free_port();
    char e_brokers[600], e_redis[200], e_ai[600], e_reg[300], e_metrics[64];
    snprintf(e_brokers, sizeof(e_brokers), "KAFKA_BROKERS=%s", s.brokers);
    snprintf(e_redis, sizeof(e_redis), "REDIS_URL=%s", s.redis_url);
    snprintf(e_ai, sizeof(e_ai), "OPENAI_BASE_URL=%s", s.ai_base_url);
    snprintf(e_reg, sizeof(e_reg), "SCHEMA_REGISTRY_URL=http://reg-user:%s@%s",
             canaries[2], base + 7);
    snprintf(e_metrics, sizeof(e_metrics), "METRICS_ADDR=127.0.0.1:%d", port);
    char e_key[100], e_basic[100];
    snprintf(e_key, sizeof(e_key), "OPENAI_API_KEY=%s", canaries[0]);
    snprintf(e_basic, sizeof(e_basic), "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO=reg-user:%s",
             canaries[1]);
    const char *env[] = {e_brokers,
                         e_redis,
                         e_ai,
                         e_reg,
                         e_metrics,
                         e_key,
                         e_basic,
                         "OPENAI_MODEL=sim-1",
                         "BOUNTYFLEET_WORKER_ID=secrets-worker",
                         NULL};
    char bin[512];
    const char *argv[] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)),
                          "--log-level",
                          "debug",
                          "-X",
                          "session.timeout.ms=6000",
                          NULL};
    bf_proc_t worker;
    assert_int_equal(bf_proc_start(&worker, "worker", s.tmpdir, argv, env, false, 5), 0);

    bf_test_results_t results;
    bf_test_results_open(&results, s.brokers, 1);
    char file[400];
    snprintf(file, sizeof(file), "%s/reports.jsonl", s.tmpdir);
    bf_test_write_reports(file, "secrets", REPORTS, 1);
    bf_test_run_producer(&s, file);
    if (bf_test_results_wait(&results, REPORTS, 120) != REPORTS) {
        bf_proc_dump_log(&worker, 40);
        bf_stack_dump_logs(&s);
        fail_msg("the worker did not validate the reports");
    }
    bf_test_results_close(&results);

    char url[128];
    long status = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    char *metrics = bf_test_http_get(url, &status);
    assert_int_equal(status, 200);
    assert_non_null(strstr(metrics, "bountyfleet_"));
    expect_no_canary("/metrics", metrics);
    free(metrics);

    int ws = bf_proc_stop(&worker, SIGTERM, 60);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    FILE *log = fopen(worker.log_path, "r");
    assert_non_null(log);
    char line[16384];
    bool debug = false, registry_asked = false;
    while (fgets(line, sizeof(line), log)) {
        expect_no_canary("the worker's log", line);
        debug = debug || strstr(line, "\"level\":\"debug\"");
        registry_asked = registry_asked || strstr(line, "http://***@127.0.0.1:");
    }
    fclose(log);
    assert_true(debug);          /* the run did log at debug level */
    assert_true(registry_asked); /* and the registry request, redacted */
    bf_test_registry_stop(reg);
    bf_stack_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_keeps_secrets_out_of_logs_and_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
