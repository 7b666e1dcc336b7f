/*
 * test_faults.c - the worker under injected faults: brokers, leaders,
 * requests, Redis and the AI provider failing while reports flow.
 *
 * One stack for the whole run: a librdkafka mock cluster of three brokers
 * inside this process (so the test can drive it: support/mock_cluster.h),
 * redis-server, the AI simulator and one worker. Each test is a phase: a
 * fresh batch of real disclosed reports is published at a steady rate, a
 * fault is injected while they flow, lifted, and then we check the
 * promises the design makes:
 *
 *  - nothing lost: every report of the batch has exactly one result;
 *  - nothing paid twice: the simulator billed each report's three analyses
 *    once each (GET /stats by_report is 3 for every report, and no
 *    analysis of any result failed);
 *  - the worker recovers by itself: the test never restarts it, it is
 *    still running, and the batch completes within a bound;
 *  - the metrics show what happened: /metrics, sampled during the fault
 *    and compared before and after, has the counters an operator would
 *    look at for that fault.
 *
 * The faults: (1) brokers down and up, the group coordinator among them;
 * (2) partition leaders of the reports and results topics moved;
 * (3) retriable errors injected into Produce, Fetch and OffsetCommit;
 * (4) Redis SIGKILLed and restarted on its port; (5) the AI provider
 * answering only 503s, then only 429s, in two bursts (aisim POST /faults).
 *
 * The stack, the batches and the counting are support/faults.h (which
 * also explains the mock's one quirk that shapes the producers' settings
 * and how to find out why a report has no result).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "libbf/mem.h"
#include "support/faults.h"

/* Reports per second while a batch is published: a batch of 300 takes two
 * seconds, so the faults hit a run that is under way. The AI bursts
 * phase publishes slower, so reports still arrive during its second
 * burst. */
#define PUBLISH_RATE      "150"
#define PUBLISH_RATE_SLOW "40"

/* Kafka protocol ApiKeys (KIP-482 table of the protocol guide). */
#define API_PRODUCE       0
#define API_FETCH         1
#define API_OFFSET_COMMIT 8

static int setup(void **state)
{
    bf_faults_t *f = bf_calloc(1, sizeof(*f));
    bf_faults_opts_t opts = {.workers = 1};
    if (bf_faults_setup(f, &opts) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    bf_faults_t *f = *state;
    if (!f)
        return 0;
    bf_faults_teardown(f);
    free(f);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The scenarios                                                       */
/* ------------------------------------------------------------------ */

/* Broker 2 leads partitions 1 and 4 of every topic; broker 1 leads 0 and
 * 3 and coordinates the group. Each goes down for a few seconds. */
static void test_brokers_down_and_up_lose_nothing(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    bf_faults_batch_start(f, &b, "bd", PUBLISH_RATE);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->mock.mc, 2), 0);
    bf_faults_hold(f, 4, &w);
    assert_int_equal(rd_kafka_mock_broker_set_up(f->mock.mc, 2), 0);
    assert_int_equal(rd_kafka_mock_broker_set_down(f->mock.mc, 1), 0);
    bf_faults_hold(f, 4, &w);
    assert_int_equal(rd_kafka_mock_broker_set_up(f->mock.mc, 1), 0);
    bf_faults_batch_check(f, &b, 0);
    const char *fams[] = {"bountyfleet_kafka_errors_total",
                          "bountyfleet_kafka_request_retries_total",
                          "bountyfleet_kafka_commit_failures_total",
                          "bountyfleet_kafka_brokers_down", NULL};
    bf_faults_print_growth(&b, fams);
    /* The gauge is sampled (statistics every second) and a broker only
     * counts when the client needs it, so it is shown, not required; the
     * lost connections are counted for sure. */
    fprintf(stderr, "[bd]   most brokers down seen (consumer + producer): %g\n",
            w.max_brokers_down);
    assert_true(
        bf_faults_grew(&b, "bountyfleet_kafka_errors_total", "error=\"_TRANSPORT\"") > 0);
    bf_faults_batch_free(&b);
}

/* Leaders of every partition move to the next broker, twice, while
 * reports are consumed and results produced. */
static void test_leader_changes_lose_nothing(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    bf_faults_batch_start(f, &b, "lc", PUBLISH_RATE);
    bf_faults_place_leaders(f, 1);
    bf_faults_hold(f, 1.5, &w);
    bf_faults_place_leaders(f, 2);
    bf_faults_hold(f, 1.5, &w);
    bf_faults_batch_check(f, &b, 0);
    /* librdkafka follows a moved leader through a metadata refresh; the
     * metrics show only what surfaced as an error or a retry, if any. */
    const char *fams[] = {"bountyfleet_kafka_errors_total",
                          "bountyfleet_kafka_request_retries_total", NULL};
    bf_faults_print_growth(&b, fams);
    bf_faults_batch_free(&b);
}

/* Retriable errors on the requests the worker's clients make: Produce
 * (results, heartbeats), Fetch (reports) and OffsetCommit. */
static void test_injected_request_errors_lose_nothing(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    bf_faults_batch_start(f, &b, "re", PUBLISH_RATE);
    rd_kafka_mock_push_request_errors(
        f->mock.mc, API_PRODUCE, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
    /* REQUEST_TIMED_OUT on Fetch once looked like it made the worker miss
     * a record or two (299 of 300 "acknowledged"). It never did: the
     * record was not in the log, and the list without it failed the same
     * way (re-139, reports [4], msgid 19 implicitly acked). Whichever
     * client takes the six injected Produce errors is a matter of timing;
     * when the publisher takes them the mock can lose a publisher record
     * as described at the top of this file (publisher:
     * "reports [2] 1 message(s) implicitly acked by subsequent batch
     * success (msgids 25..25, last acked 28)"; mock: BaseSeq 25 appended
     * at offset 24 right after BaseSeq 24 was refused with the injected
     * LEADER_NOT_AVAILABLE; partition 2 ended at 47 with 48 records keyed
     * to it; the group had committed 47 on every run, i.e. exactly the
     * log end: nothing skipped, nothing waiting for a restart). */
    rd_kafka_mock_push_request_errors(
        f->mock.mc, API_FETCH, 5, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    rd_kafka_mock_push_request_errors(
        f->mock.mc, API_OFFSET_COMMIT, 4, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    bf_faults_hold(f, 3, &w);
    bf_faults_batch_check(f, &b, 0);
    const char *fams[] = {"bountyfleet_kafka_errors_total",
                          "bountyfleet_kafka_request_retries_total",
                          "bountyfleet_kafka_commit_failures_total", NULL};
    bf_faults_print_growth(&b, fams);
    /* The errors are the cluster's, taken by whichever client asks next
     * (the test's publisher and reader too); the worker's share shows as
     * requests sent again. */
    assert_true(bf_faults_grew(&b, "bountyfleet_kafka_request_retries_total", NULL) +
                    bf_faults_grew(&b, "bountyfleet_kafka_commit_failures_total", NULL) >
                0);
    bf_faults_batch_free(&b);
}

static bool redis_down_seen(const bf_faults_watch_t *w)
{
    return w->min_redis_up == 0 && w->not_ready > 0;
}

/* Redis SIGKILLed mid-run and started again on its port (empty: the
 * stack's Redis keeps nothing on disk). Fail-closed: the worker pauses
 * rather than validate without deduplication, then resumes. */
static void test_redis_killed_and_restarted_loses_nothing(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    bf_faults_batch_start(f, &b, "rk", PUBLISH_RATE);
    bf_proc_stop(&f->s.redis, SIGKILL, 5);
    bf_faults_hold_until(f, 3, &w, redis_down_seen);
    assert_int_equal(bf_stack_restart_redis(&f->s), 0);
    bf_faults_batch_check(f, &b, 0);
    const char *fams[] = {"bountyfleet_redis_reconnects_total",
                          "bountyfleet_consumer_pauses_total", NULL};
    bf_faults_print_growth(&b, fams);
    fprintf(stderr,
            "[rk]   redis_up min %g, paused max %g, not ready in %d of %d samples\n",
            w.min_redis_up, w.max_paused, w.not_ready, w.samples);
    assert_true(w.min_redis_up == 0);
    assert_true(w.not_ready > 0);
    assert_true(bf_faults_grew(&b, "bountyfleet_redis_reconnects_total", NULL) >= 1);
    assert_true(
        bf_faults_grew(&b, "bountyfleet_consumer_pauses_total", "reason=\"redis\"") >= 1);
    bf_faults_batch_free(&b);
}

static bool circuit_open_seen(const bf_faults_watch_t *w)
{
    return w->max_circuit == 2;
}

/* The provider fails every call for a few seconds, twice: 429s (rate
 * limited: back off as told) and 503s (an outage: the breaker opens,
 * fetching pauses). No report is dead-lettered or answered with a failed analysis,
 * and errors are not billed. */
static void test_ai_error_bursts_lose_nothing_and_pay_once(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    bf_faults_batch_start(f, &b, "ai", PUBLISH_RATE_SLOW);
    /* 429s first: a rate limit does not open the breaker, so the calls
     * keep meeting it; after the 503s the breaker stays open for its
     * cool-down (10 s), longer than a second burst would last. */
    assert_int_equal(bf_faults_set_ai(f, "{\"error_rate\":1,\"error_status\":429}"), 200);
    bf_faults_hold(f, 3, &w);
    assert_int_equal(bf_faults_set_ai(f, "{\"error_rate\":0}"), 200);
    bf_faults_hold(f, 1, &w);
    assert_int_equal(bf_faults_set_ai(f, "{\"error_rate\":1,\"error_status\":503}"), 200);
    bf_faults_hold_until(f, 3, &w, circuit_open_seen);
    assert_int_equal(bf_faults_set_ai(f, "{\"error_rate\":0}"), 200);
    /* A 429 does not use up one of a call's retries (worker/ai.c), so a
     * call that met 429s in the first burst still waits the 503s out:
     * no failed analysis. (When 429s counted, 5 or 6 of 300 reports were
     * published NEEDS_REVIEW with one analysis failed.) */
    bf_faults_batch_check(f, &b, 0);
    fprintf(
        stderr,
        "[ai]   ai errors +%g, rate limited +%g, ok +%g; circuit max %g, paused max %g\n",
        bf_faults_grew(&b, "bountyfleet_ai_requests_total", "outcome=\"error\""),
        bf_faults_grew(&b, "bountyfleet_ai_requests_total", "outcome=\"rate_limited\""),
        bf_faults_grew(&b, "bountyfleet_ai_requests_total", "outcome=\"ok\""),
        w.max_circuit, w.max_paused);
    assert_true(bf_faults_grew(&b, "bountyfleet_ai_requests_total", "outcome=\"error\"") >
                0);
    assert_true(bf_faults_grew(&b, "bountyfleet_ai_requests_total",
                               "outcome=\"rate_limited\"") > 0);
    assert_true(w.max_circuit == 2);
    assert_true(
        bf_faults_grew(&b, "bountyfleet_consumer_pauses_total", "reason=\"ai\"") >= 1);
    /* The worker's own count of successful calls: at most one per analysis. */
    assert_true(bf_faults_grew(&b, "bountyfleet_ai_requests_total", "outcome=\"ok\"") <=
                3.0 * f->reports);
    bf_faults_batch_free(&b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brokers_down_and_up_lose_nothing),
        cmocka_unit_test(test_leader_changes_lose_nothing),
        cmocka_unit_test(test_injected_request_errors_lose_nothing),
        cmocka_unit_test(test_redis_killed_and_restarted_loses_nothing),
        cmocka_unit_test(test_ai_error_bursts_lose_nothing_and_pay_once),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, teardown);
}
