/*
 * test_autoscaler_override.c - the manual scale override of the real
 * bountyfleet-autoscaler (actuator none, on the dev broker), driven the
 * way an operator would, over HTTP: without AUTOSCALER_ADMIN_TOKEN the
 * endpoint is disabled (403); with a token from AUTOSCALER_ADMIN_TOKEN_FILE
 * a missing or wrong token gets 401, a bad body 400, and the right one
 * pins the desired count seen by KEDA at /api/v1/desired, within --max,
 * until its TTL runs out or it is deleted. The token never shows in the
 * debug log or /metrics.
 */
#include <setjmp.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "support/stack.h"

#define TOKEN "adm-canary-7d41e09b"

typedef struct fixture_s {
    char tmpdir[256];
    bf_proc_t broker, autoscaler;
    char brokers[512];
    int port;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->tmpdir, sizeof(f->tmpdir), "/tmp/bftest.XXXXXX");
    char bin[512];
    const char *argv[] = {bf_test_bin("bountyfleet-devbroker", bin, sizeof(bin)),
                          "--partitions", "2", NULL};
    if (!mkdtemp(f->tmpdir) ||
        bf_proc_start(&f->broker, "devbroker", f->tmpdir, argv, NULL, true, 20) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->brokers, sizeof(f->brokers), "%s", f->broker.first_line);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    bf_proc_stop(&f->autoscaler, SIGTERM, 30);
    bf_proc_stop(&f->broker, SIGTERM, 10);
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->tmpdir);
    free(f);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* --min 1 --max 5, the lag rule on an empty topic: 1 worker unless pinned. */
static void start_autoscaler(fixture_t *f, const char *name, const char *const env[])
{
    f->port = bf_test_free_port();
    char bin[512], addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
    const char *argv[] = {bf_test_bin("bountyfleet-autoscaler", bin, sizeof(bin)),
                          "-b",
                          f->brokers,
                          "--actuator",
                          "none",
                          "--rule",
                          "lag",
                          "--interval",
                          "0.2",
                          "--min",
                          "1",
                          "--max",
                          "5",
                          "--scale-down-delay", /* back to 1 soon after a pin ends */
                          "1",
                          "--season",
                          "none",
                          "--forecast-step",
                          "1",
                          "--horizon",
                          "5",
                          "--log-level",
                          "debug",
                          "--metrics-addr",
                          addr,
                          NULL};
    assert_int_equal(bf_proc_start(&f->autoscaler, name, f->tmpdir, argv, env, false, 5),
                     0);
}

static char *url_of(const fixture_t *f, const char *path)
{
    static char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
    return url;
}

/* Wait until /api/v1/desired says @p want (and overrideReplicas is
 * @p override, -1 for absent). */
static void wait_desired(const fixture_t *f, int64_t want, int64_t override)
{
    double deadline = bf_test_now() + 30 * bf_test_timeout_mult();
    int64_t got = -2, got_override = -2;
    while (bf_test_now() < deadline) {
        long status = 0;
        char *body = bf_test_http_get(url_of(f, "/api/v1/desired"), &status);
        json_t *o = status == 200 && body ? json_loads(body, 0, NULL) : NULL;
        free(body);
        if (o) {
            got = json_integer_value(json_object_get(o, "desiredReplicas"));
            json_t *ov = json_object_get(o, "overrideReplicas");
            got_override = ov ? json_integer_value(ov) : -1;
            json_decref(o);
            if (got == want && got_override == override)
                return;
        }
        sleep_ms(100);
    }
    bf_proc_dump_log(&f->autoscaler, 30);
    fail_msg("desiredReplicas %lld (override %lld), want %lld (override %lld)",
             (long long)got, (long long)got_override, (long long)want,
             (long long) override);
}

static long call(const fixture_t *f, const char *method, const char *auth,
                 const char *body, char **answer, bool *challenge)
{
    long status = 0;
    char *text = bf_test_http_call(method, url_of(f, "/api/v1/override"), auth, body,
                                   &status, challenge);
    assert_non_null(text);
    if (answer)
        *answer = text;
    else
        free(text);
    return status;
}

static bool log_has(const bf_proc_t *p, const char *what)
{
    FILE *log = fopen(p->log_path, "r");
    char line[4096];
    bool found = false;
    while (log && !found && fgets(line, sizeof(line), log))
        found = strstr(line, what) != NULL;
    if (log)
        fclose(log);
    return found;
}

static void test_override_is_disabled_without_a_token(void **state)
{
    fixture_t *f = *state;
    start_autoscaler(f, "autoscaler-no-token", NULL);
    wait_desired(f, 1, -1);
    assert_int_equal(call(f, "PUT", "Bearer " TOKEN,
                          "{\"replicas\":3,\"ttl_seconds\":60,\"reason\":\"x\"}", NULL,
                          NULL),
                     403);
    assert_int_equal(call(f, "GET", "Bearer " TOKEN, NULL, NULL, NULL), 403);
    wait_desired(f, 1, -1);
    int ws = bf_proc_stop(&f->autoscaler, SIGTERM, 30);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    assert_true(log_has(&f->autoscaler, "\"override_endpoint\":\"disabled\""));
}

static void test_override_pins_desired_until_ttl_or_delete(void **state)
{
    fixture_t *f = *state;
    char token_file[300];
    snprintf(token_file, sizeof(token_file), "%s/admin-token", f->tmpdir);
    FILE *tf = fopen(token_file, "w");
    assert_non_null(tf);
    fputs(TOKEN "\n", tf); /* a trailing newline, as `echo` writes it */
    fclose(tf);
    char env_token[400];
    snprintf(env_token, sizeof(env_token), "AUTOSCALER_ADMIN_TOKEN_FILE=%s", token_file);
    const char *env[] = {env_token, NULL};
    start_autoscaler(f, "autoscaler-override", env);
    wait_desired(f, 1, -1);

    /* Long enough to see it in /api/v1/desired and /metrics on a loaded
     * machine, short enough to see it run out. */
    char pin[128];
    snprintf(pin, sizeof(pin),
             "{\"replicas\":3,\"ttl_seconds\":%d,\"reason\":\"incident 42\"}",
             (int)ceil(4 * bf_test_timeout_mult()));
    bool challenge = false;
    assert_int_equal(call(f, "PUT", NULL, pin, NULL, &challenge), 401);
    assert_true(challenge);
    challenge = false;
    assert_int_equal(call(f, "PUT", "Bearer wrong-" TOKEN, pin, NULL, &challenge), 401);
    assert_true(challenge);
    char *answer = NULL;
    assert_int_equal(call(f, "PUT", "Bearer " TOKEN, "{\"replicas\":", &answer, NULL),
                     400);
    assert_non_null(strstr(answer, "not JSON"));
    free(answer);
    assert_int_equal(call(f, "PUT", "Bearer " TOKEN,
                          "{\"replicas\":3,\"ttl_seconds\":-1,\"reason\":\"x\"}", &answer,
                          NULL),
                     400);
    assert_non_null(strstr(answer, "ttl_seconds"));
    free(answer);
    wait_desired(f, 1, -1);

    /* The right token: the next decisions take the override ... */
    assert_int_equal(call(f, "PUT", "Bearer " TOKEN, pin, NULL, NULL), 200);
    wait_desired(f, 3, 3);
    long status = 0;
    char *metrics = bf_test_http_get(url_of(f, "/metrics"), &status);
    assert_non_null(metrics);
    assert_non_null(strstr(metrics, "bountyfleet_autoscaler_override_replicas 3"));
    assert_null(strstr(metrics, TOKEN));
    free(metrics);
    /* ... until its TTL runs out. */
    wait_desired(f, 1, -1);
    metrics = bf_test_http_get(url_of(f, "/metrics"), &status);
    assert_non_null(strstr(metrics, "bountyfleet_autoscaler_override_replicas -1"));
    free(metrics);

    /* Capped at --max 5, then deleted. */
    assert_int_equal(call(f, "PUT", "Bearer " TOKEN,
                          "{\"replicas\":9,\"ttl_seconds\":600,\"reason\":\"load test\"}",
                          NULL, NULL),
                     200);
    wait_desired(f, 5, 9);
    assert_int_equal(call(f, "DELETE", "Bearer " TOKEN, NULL, &answer, NULL), 200);
    assert_string_equal(answer, "{\"override\":null}");
    free(answer);
    wait_desired(f, 1, -1);

    int ws = bf_proc_stop(&f->autoscaler, SIGTERM, 30);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    /* Logged with its reason, its end logged, the decision lines (stdout,
     * in the same log here) carry it; the token is nowhere. */
    assert_true(log_has(&f->autoscaler, "\"override_endpoint\":\"enabled\""));
    assert_true(log_has(&f->autoscaler, "\"override_set\""));
    assert_true(log_has(&f->autoscaler, "\"reason\":\"incident 42\""));
    assert_true(log_has(&f->autoscaler, "\"why\":\"expired\""));
    assert_true(log_has(&f->autoscaler, "\"why\":\"deleted\""));
    assert_true(log_has(&f->autoscaler, "\"override_unauthorized\""));
    assert_true(log_has(&f->autoscaler, "\"override_replicas\":3"));
    assert_true(log_has(&f->autoscaler, "manual override to 3 workers"));
    assert_false(log_has(&f->autoscaler, TOKEN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_override_is_disabled_without_a_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_override_pins_desired_until_ttl_or_delete,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
