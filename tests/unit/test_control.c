/*
 * test_control.c - autoscaler/control.c, the control loop, on an
 * in-process mock cluster (support/mock_cluster.c) with the "none"
 * actuator: its first tick reads the lag, decides and prints the decision
 * line, the next SIGTERM ends the run with BF_OK; a scaler configuration
 * it cannot build is BF_ERR_CONFIG before any tick.
 *
 * The loop takes its signals with sigtimedwait(), so they are blocked in
 * every thread from the start of main(), before librdkafka starts any.
 * The test stops the loop the way an operator does: a thread reads the
 * decision lines from a pipe and sends SIGTERM once it has the first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "autoscaler/control.h"
#include "libbf/kafka.h"
#include "support/mock_cluster.h"
#include "support/results.h"

#define PARTITIONS 4
#define REPORTS    950

/* The rule of the command line's defaults: one worker per 100 reports of
 * lag, 1 to 4 workers. */
static bf_control_conf_t control_conf(void)
{
    return (bf_control_conf_t){
        .interval_s = 0.1,
        .scaler = {.policy = {.min_workers = 1,
                              .max_workers = 4,
                              .lag_per_worker = 100,
                              .scale_down_delay_s = 30},
                   .step_s = 60,
                   .horizon_s = 300,
                   .worker_rate = 2},
        .recommend_every_s = 3600,
        .worker_startup_s = 10,
    };
}

typedef struct reader_s {
    int fd;
    char line[2048];
} reader_t;

/* Read the first decision line, then stop the loop as SIGTERM would. */
static void *read_first_line(void *opaque)
{
    reader_t *r = opaque;
    size_t n = 0;
    while (n + 1 < sizeof(r->line)) {
        ssize_t got = read(r->fd, r->line + n, 1);
        if (got <= 0 || r->line[n] == '\n')
            break;
        n++;
    }
    r->line[n] = '\0';
    kill(getpid(), SIGTERM);
    return NULL;
}

static void test_first_tick_scales_on_the_lag_and_sigterm_stops(void **unused)
{
    (void)unused;
    bf_test_mock_t mock = {0};
    assert_int_equal(bf_test_mock_start(&mock, 1, PARTITIONS), 0);
    char value[8] = "report";
    bf_test_record_t records[REPORTS];
    for (int i = 0; i < REPORTS; i++)
        records[i] = (bf_test_record_t){.value = value, .len = sizeof(value)};
    bf_test_produce_raw(mock.brokers, BF_TOPIC_REPORTS, records, REPORTS);

    char errstr[512];
    bf_lag_reader_t *lag = bf_lag_reader_new(
        mock.brokers, NULL, "control-test", BF_TOPIC_REPORTS, 10, errstr, sizeof(errstr));
    if (!lag)
        fail_msg("bf_lag_reader_new: %s", errstr);
    bf_actuator_conf_t ac = {.kind = "none"};
    bf_actuator_t *act = bf_actuator_new(&ac, errstr, sizeof(errstr));
    assert_non_null(act);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    FILE *out = fdopen(fds[1], "w");
    assert_non_null(out);
    reader_t reader = {.fd = fds[0]};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, read_first_line, &reader), 0);

    bf_control_conf_t conf = control_conf();
    assert_int_equal(bf_control_run(&conf, lag, act, out), BF_OK);
    pthread_join(thread, NULL);
    fclose(out);
    close(fds[0]);

    json_error_t jerr;
    json_t *d = json_loads(reader.line, 0, &jerr);
    if (!d)
        fail_msg("not a decision line: '%s'", reader.line);
    /* 950 reports of lag want 10 workers: capped at --max 4, at once. */
    assert_string_equal(json_string_value(json_object_get(d, "action")), "SCALE_UP");
    assert_int_equal(json_integer_value(json_object_get(d, "total_lag")), REPORTS);
    assert_int_equal(json_integer_value(json_object_get(d, "partitions")), PARTITIONS);
    /* The first tick started --min before any lag was known. */
    assert_int_equal(json_integer_value(json_object_get(d, "current_workers")), 1);
    assert_int_equal(json_integer_value(json_object_get(d, "target_workers")), 4);
    json_decref(d);
    /* The target was applied before the stop. */
    assert_int_equal(bf_actuator_current(act), 4);

    bf_actuator_destroy(act);
    bf_lag_reader_destroy(lag);
    bf_test_mock_stop(&mock);
}

static void test_a_scaler_it_cannot_build_is_a_configuration_error(void **unused)
{
    (void)unused;
    bf_control_conf_t conf = control_conf();
    conf.scaler.step_s = 0; /* must be > 0 */
    bf_actuator_conf_t ac = {.kind = "none"};
    char errstr[256];
    bf_actuator_t *act = bf_actuator_new(&ac, errstr, sizeof(errstr));
    assert_non_null(act);
    /* Refused before the first tick: the lag reader is never asked. */
    assert_int_equal(bf_control_run(&conf, NULL, act, stdout), BF_ERR_CONFIG);
    bf_actuator_destroy(act);
}

int main(void)
{
    bf_control_block_signals();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_tick_scales_on_the_lag_and_sigterm_stops),
        cmocka_unit_test(test_a_scaler_it_cannot_build_is_a_configuration_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
