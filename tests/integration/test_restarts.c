/*
 * test_restarts.c - what a real restart does to the system, reproduced on
 * the in-process mock cluster (support/faults.h): a broker that answers
 * metadata requests with UNKNOWN_TOPIC_OR_PART while it comes back,
 * workers SIGKILLed while they hold claims, and Redis SIGKILLed and
 * restarted with each persistence setting.
 *
 * Each scenario prints what it counted: reports in, results out, result
 * records per report and AI calls per report (the simulator's bill), and
 * checks the promises: nothing lost, one result per report, nothing paid
 * twice but what was in flight when a process died, no stall.
 *
 * Each test starts its own stack (a scenario needs its own workers or
 * Redis), so they run in any order or alone (test_restarts NAME).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include "libbf/kafka.h"
#include "libbf/mem.h"
#include "support/faults.h"
#include "support/redis_server.h"

static int teardown(void **state)
{
    bf_faults_t *f = *state;
    if (!f)
        return 0;
    bf_faults_teardown(f);
    free(f);
    return 0;
}

static int start(void **state, const bf_faults_opts_t *opts)
{
    bf_faults_t *f = bf_calloc(1, sizeof(*f));
    if (bf_faults_setup(f, opts) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* ------------------------------------------------------------------ */
/* A broker restarting: the topic missing from metadata for a while     */
/* ------------------------------------------------------------------ */

static int setup_one_worker(void **state)
{
    bf_faults_opts_t opts = {.workers = 1};
    return start(state, &opts);
}

/* One worker whose group session outlasts the outage below (five seconds
 * and the reconnects, more under the sanitizers): the test is about the
 * metadata answers. A session that times out in an outage while results
 * wait for the topic is another case: the partitions come back to the
 * same worker, which takes the unfinished reports again while their
 * first jobs still wait to publish (those jobs carry on with them:
 * test_partitions_back_while_results_wait_publish_each_once). */
static int setup_one_worker_outlasting(void **state)
{
    static const char *const args[] = {"-X", "session.timeout.ms=30000", NULL};
    bf_faults_opts_t opts = {.workers = 1, .worker_args = args};
    return start(state, &opts);
}

/* A restarting Apache Kafka broker answers Metadata with
 * UNKNOWN_TOPIC_OR_PART for a few seconds, and a client that refreshes
 * then sees the topic gone ("partition count changed from 6 to 0"): the
 * publisher once lost a tenth of its reports there. Here every broker
 * goes down and comes back (the clients reconnect and ask for metadata)
 * while the mock answers just that for the reports and results topics,
 * for five seconds, in the middle of a batch. */
static void test_topic_missing_from_metadata_loses_nothing(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    bf_faults_batch_start(f, &b, "tm", "40");
    rd_kafka_mock_topic_set_error(f->mock.mc, BF_TOPIC_REPORTS,
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    rd_kafka_mock_topic_set_error(f->mock.mc, BF_TOPIC_VALIDATIONS,
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    for (int id = 1; id <= BF_FAULTS_BROKERS; id++)
        assert_int_equal(rd_kafka_mock_broker_set_down(f->mock.mc, id), 0);
    bf_faults_hold(f, 1.5, &w);
    for (int id = 1; id <= BF_FAULTS_BROKERS; id++)
        assert_int_equal(rd_kafka_mock_broker_set_up(f->mock.mc, id), 0);
    bf_faults_hold(f, 3.5, &w);
    rd_kafka_mock_topic_set_error(f->mock.mc, BF_TOPIC_REPORTS,
                                  RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_mock_topic_set_error(f->mock.mc, BF_TOPIC_VALIDATIONS,
                                  RD_KAFKA_RESP_ERR_NO_ERROR);
    bf_faults_batch_check(f, &b, 0);
    bf_faults_batch_free(&b);
}

/* The worker's dead letters pass the same test: malformed records come
 * in while the dead-letter topic is missing from metadata and its leaders
 * have moved; each is dead-lettered once, when the topic is back. Here
 * librdkafka holds the records until the metadata has the topic again (no
 * delivery fails to the worker); where it fails them (partitions gone, as
 * in the scenario above), the worker's publish retries are the ones that
 * the results' scenario exercises, since dead letters take the same path
 * (publish.c). */
#define BAD_RECORDS 20

static rd_kafka_t *plain_producer(bf_faults_t *f)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", f->mock.brokers, errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    return rk;
}

/* Records on the dead-letter topic whose value starts with @p prefix,
 * read from the beginning of every partition until @p want or 60 s. */
static int dead_letters(bf_faults_t *f, const char *prefix, int want)
{
    rd_kafka_t *c =
        bf_test_topic_reader(f->mock.brokers, BF_TOPIC_DLQ, BF_FAULTS_PARTITIONS);
    int got = 0;
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    while (bf_test_now() < deadline && got <= want) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (!m->err && m->len >= strlen(prefix) &&
            memcmp(m->payload, prefix, strlen(prefix)) == 0)
            got++;
        rd_kafka_message_destroy(m);
        if (got == want) /* and a little longer, for a repeat */
            deadline = fmin(deadline, bf_test_now() + 2);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return got;
}

static void test_dead_letters_wait_out_a_missing_topic(void **state)
{
    bf_faults_t *f = *state;
    /* The worker's producer knows the topic's leaders from its start: move
     * them, so its first Produce is refused (NOT_LEADER) and it asks for
     * metadata, which says the topic is gone, as a restarting broker's
     * does. */
    rd_kafka_mock_topic_set_error(f->mock.mc, BF_TOPIC_DLQ,
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    bf_faults_place_leaders(f, 1);
    rd_kafka_t *p = plain_producer(f);
    for (int i = 0; i < BAD_RECORDS; i++) {
        char bad[64];
        int n = snprintf(bad, sizeof(bad), "not a report %d {", i);
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(BF_TOPIC_REPORTS),
                                           RD_KAFKA_V_VALUE(bad, (size_t)n),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
    bf_faults_watch_t w = {0};
    bf_faults_hold(f, 5, &w); /* the worker tries to dead-letter them now */
    rd_kafka_mock_topic_set_error(f->mock.mc, BF_TOPIC_DLQ, RD_KAFKA_RESP_ERR_NO_ERROR);
    int got = dead_letters(f, "not a report ", BAD_RECORDS);
    char *m = bf_faults_metrics(f);
    double dlq = bf_faults_metric_sum(m, "bountyfleet_reports_dlq_total", NULL);
    double errors =
        bf_faults_metric_sum(m, "bountyfleet_kafka_errors_total", "client=\"producer\"");
    free(m);
    fprintf(stderr,
            "[dl] %d malformed records in while the dead-letter topic was missing: %d "
            "dead letters out (bountyfleet_reports_dlq_total %g, producer errors %g)\n",
            BAD_RECORDS, got, dlq, errors);
    if (got != BAD_RECORDS)
        bf_faults_fail(f, "dead letters lost or repeated while the topic was missing");
}

/* ------------------------------------------------------------------ */
/* Workers killed while they hold claims                                */
/* ------------------------------------------------------------------ */

/* Seconds of the group's session timeout and of the workers' liveness
 * keys in this scenario (short, so the test is; the bound scales). */
#define SESSION_S  6
#define LIVENESS_S 3
/* The workers' flags for them. */
#define SHORT_SESSION                                                                    \
    "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000",                 \
        "--liveness-ttl", "3"

static int setup_three_workers(void **state)
{
    static const char *const aisim[] = {"--latency-ms", "800", NULL};
    static const char *const args[] = {SHORT_SESSION, NULL};
    bf_faults_opts_t opts = {.workers = 3, .aisim_args = aisim, .worker_args = args};
    return start(state, &opts);
}

/* Two of three workers are SIGKILLed with reports in flight (AI calls of
 * 0.8 s: each holds a few dozen claims). Their partitions move to the
 * survivor after the session timeout, and their claims must not block it:
 * a lease counts only while its holder renews its liveness key, so the
 * fleet is back to full throughput within 2 x the session timeout + 10 s
 * (it once stalled for minutes: the leases lasted --lease, 300 s). Only
 * the analyses in flight at the kill may be paid again. */
static void test_killed_workers_claims_do_not_stall_the_fleet(void **state)
{
    bf_faults_t *f = *state;
    for (int i = 1; i < 3; i++) /* all three own partitions */
        if (bf_faults_wait_ready(f, i) != 0)
            bf_faults_fail(f, "a worker did not turn ready");
    bf_faults_batch_t b;
    bf_faults_batch_start(f, &b, "sk", "60");
    bf_faults_sleep(2);
    double killed_at = bf_test_now();
    bf_faults_kill_worker(f, 1);
    bf_faults_kill_worker(f, 2);
    bf_faults_counts_t c;
    bf_faults_batch_count(f, &b, &c);
    double after_kill = b.completed - killed_at;
    /* The last report was published ~5 s after the start at 60/s for 300;
     * the survivor needs the rest plus the hand-over. */
    double bound = 2 * SESSION_S + 10 + 0.8 * 3 + 10;
    char *m = bf_faults_metrics(f);
    double taken = bf_faults_metric_sum(m, "bountyfleet_claims_taken_over_total", NULL);
    free(m);
    fprintf(
        stderr,
        "[sk] 2 of 3 workers SIGKILLed: the batch completed %.1f s after the kill "
        "(bound %.0f s); claims taken over from the dead: %g; paid again: %d reports\n",
        after_kill, bound, taken, c.billed_more);
    if (c.missing)
        bf_faults_fail(f, "reports without a result after the kill (a stall)");
    assert_true(WIFEXITED(c.producer_status) && WEXITSTATUS(c.producer_status) == 0);
    assert_true(after_kill <= bound * bf_test_timeout_mult());
    /* At-least-once: a result acknowledged by Kafka just before the kill,
     * whose "published" mark never reached Redis, goes out once more. */
    assert_true(c.repeated <= 2 * 64);
    /* Paid twice: at most what the two dead workers had in flight. */
    assert_true(c.billed_more <= 2 * 64);
    assert_int_equal(c.failed, 0);
    bf_faults_batch_free(&b);
}

/* ------------------------------------------------------------------ */
/* The group rebalancing while the worker is paused                     */
/* ------------------------------------------------------------------ */

static int setup_paused_rebalance(void **state)
{
    static const char *const args[] = {SHORT_SESSION, NULL};
    bf_faults_opts_t opts = {.workers = 1, .worker_args = args};
    return start(state, &opts);
}

/* Partitions move while the worker has fetching paused (Redis down,
 * fail-closed): a second worker joins and takes some, then is SIGKILLed
 * and they come back, all before Redis returns. librdkafka 2.0 keeps a
 * pause flag across a revoke, and a pause or a needless resume right
 * after an assignment can lose the assigned offset (intake.c): a
 * partition that never fetches again leaves its reports without a result
 * here. */
static void test_rebalance_while_paused_loses_nothing(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    bf_faults_batch_start(f, &b, "rp", "60");
    bf_proc_stop(&f->s.redis, SIGKILL, 5);
    bf_faults_hold(f, 1.5, &w);
    assert_int_equal(bf_faults_start_worker(f, 1, false), 0);
    bf_faults_hold(f, SESSION_S, &w); /* the join: a revoke and an assignment */
    bf_faults_kill_worker(f, 1);
    bf_faults_hold(f, SESSION_S + 3, &w); /* its partitions come back, paused */
    assert_int_equal(bf_stack_restart_redis(&f->s), 0);
    bf_faults_batch_check(f, &b, 0);
    fprintf(stderr, "[rp]   paused max %g while partitions moved twice\n", w.max_paused);
    assert_true(w.max_paused >= 1);
    bf_faults_batch_free(&b);
}

/* ------------------------------------------------------------------ */
/* The partitions coming back while results wait to be delivered        */
/* ------------------------------------------------------------------ */

static double adopted_total(bf_faults_t *f)
{
    char *m = bf_faults_metrics(f);
    double n = bf_faults_metric_sum(m, "bountyfleet_reports_adopted_total", NULL);
    free(m);
    return n;
}

static int setup_results_waiting(void **state)
{
    static const char *const args[] = {SHORT_SESSION, "--max-in-flight",
                                       "1000", /* the whole batch at once */
                                       NULL};
    bf_faults_opts_t opts = {.workers = 1, .worker_args = args};
    return start(state, &opts);
}

/* The results topic is gone from the metadata (a broker restart) with the
 * batch analysed and waiting to be delivered; meanwhile a second worker
 * joins, takes partitions, and dies, so they come back to the first,
 * which reads their uncommitted reports again while its jobs for them
 * still wait. Each report still gets one result: a record consumed again
 * goes to its live job (bountyfleet_reports_adopted_total), not to a
 * second job that would find the stored result and publish it again. */
static void test_partitions_back_while_results_wait_publish_each_once(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    bf_faults_batch_start(f, &b, "rw", "100");
    rd_kafka_mock_topic_set_error(f->mock.mc, BF_TOPIC_VALIDATIONS,
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    bf_faults_place_leaders(f, 1); /* the producer asks for metadata: gone */
    bf_faults_hold(f, 4, &w);      /* the batch is in, its results held */
    /* Ready: it owns partitions (a member that dies inside a rebalance
     * holds the group up for its rebalance timeout, minutes). */
    assert_int_equal(bf_faults_start_worker(f, 1, true), 0);
    bf_faults_kill_worker(f, 1);
    /* Its partitions come back after its session times out, and worker 0
     * reads their reports again: until the first is adopted (the results
     * stay held until then, however slow the machine). */
    double deadline = bf_test_now() + (SESSION_S + 4) * bf_test_timeout_mult() + 10;
    while (adopted_total(f) < 1 && bf_test_now() < deadline)
        bf_faults_hold(f, 1, &w);
    bf_faults_hold(f, 2, &w); /* the rest of them */
    rd_kafka_mock_topic_set_error(f->mock.mc, BF_TOPIC_VALIDATIONS,
                                  RD_KAFKA_RESP_ERR_NO_ERROR);
    bf_faults_batch_check(f, &b, 0); /* none missing, none repeated */
    double adopted = bf_faults_grew(&b, "bountyfleet_reports_adopted_total", NULL);
    fprintf(stderr, "[rw]   reports consumed again into their live job: %g\n", adopted);
    assert_true(adopted >= 1); /* the scenario happened */
    bf_faults_batch_free(&b);
}

#define HELD_CAP 10
#define STR_(x)  #x
#define STR(x)   STR_(x)

/* The group's session outlasts the slow brokers below: with every answer
 * 1.5 s late, a worker that joins as the delay begins (a loaded machine
 * starts it late) once went 6 s without a heartbeat's answer, lost its
 * partitions for the rest of the delay and never held a report; the test
 * is about the cap, not the session. */
static int setup_small_cap(void **state)
{
    static const char *const args[] = {"--max-in-flight", STR(HELD_CAP), "-X",
                                       "session.timeout.ms=30000", NULL};
    bf_faults_opts_t opts = {.workers = 1, .worker_args = args};
    return start(state, &opts);
}

/* Every broker answers 1.5 s late (a broker under strain): Kafka takes
 * the results at once and acknowledges them late. Those reports wait
 * outside --max-in-flight, so the cap's AI calls go on, but not without
 * bound: with the cap's worth waiting the worker holds, at twice the cap
 * (2 * cap - 1, and the few records librdkafka still hands over once the
 * hold becomes a pause: 22 with a cap of 10 under ASan; 62 when nothing
 * bounds the waiting ones), and then each report has one result. */
static void test_results_awaiting_ack_wait_outside_the_cap_up_to_twice_it(void **state)
{
    bf_faults_t *f = *state;
    bf_faults_batch_t b;
    bf_faults_watch_t w = {0};
    /* Published fast, so the worker has reports to take while its results
     * wait (the publisher's own requests are late too once the brokers
     * are). */
    bf_faults_batch_start(f, &b, "hc", "2000");
    for (int id = 1; id <= 3; id++)
        rd_kafka_mock_broker_set_rtt(f->mock.mc, id, 1500);
    /* Until the cap's worth waits for an acknowledgement (a slow machine
     * gets there late), and a while at the bound. */
    double deadline = bf_test_now() + 30 * bf_test_timeout_mult();
    while (w.max_awaiting_ack < HELD_CAP && bf_test_now() < deadline)
        bf_faults_hold(f, 0.5, &w);
    bf_faults_hold(f, 3, &w);
    fprintf(stderr,
            "[hc]   in flight at most %g, awaiting an acknowledgement at most %g, with a "
            "cap of %d\n",
            w.max_in_flight, w.max_awaiting_ack, HELD_CAP);
    for (int id = 1; id <= 3; id++)
        rd_kafka_mock_broker_set_rtt(f->mock.mc, id, 0);
    if (!(w.max_awaiting_ack >= HELD_CAP && w.max_in_flight > HELD_CAP &&
          w.max_in_flight <= 3 * HELD_CAP))
        bf_faults_fail(f, "in flight not above the cap and near twice it");
    bf_faults_batch_check(f, &b, 0); /* none missing, none repeated */
    bf_faults_batch_free(&b);
}

/* ------------------------------------------------------------------ */
/* Redis SIGKILLed: what each persistence setting costs                 */
/* ------------------------------------------------------------------ */

typedef struct redis_cost_s {
    long ai_calls;    /* paid again for reports that had a result */
    int records;      /* result records published again */
    double data_lost; /* bountyfleet_redis_data_lost_total */
} redis_cost_t;

/* Publish batch @p prefix (already done once) again, as a producer that
 * retried after a timeout would, and wait until the worker consumed it. */
static void publish_again(bf_faults_t *f, const char *prefix)
{
    char *before = bf_faults_metrics(f);
    double consumed0 = bf_test_metric_value(before, "bountyfleet_reports_consumed_total");
    free(before);
    char file[400], bin[512];
    snprintf(file, sizeof(file), "%s/%s.jsonl", f->s.tmpdir, prefix);
    const char *argv[] = {bf_test_bin("bountyfleet-producer", bin, sizeof(bin)),
                          "-b",
                          f->s.brokers,
                          "-q",
                          "-X",
                          BF_FAULTS_IN_FLIGHT_ONE,
                          file,
                          NULL};
    bf_proc_t p = {0};
    assert_int_equal(
        bf_proc_start(&p, "producer-again", f->s.tmpdir, argv, NULL, false, 5), 0);
    int status = -1;
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    while (!bf_proc_exited(&p, &status) && bf_test_now() < deadline)
        bf_faults_sleep(0.05);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Consumed, and nothing in flight any more. */
    deadline = bf_test_now() + 90 * bf_test_timeout_mult();
    for (;;) {
        char *m = bf_faults_metrics(f);
        double consumed = bf_test_metric_value(m, "bountyfleet_reports_consumed_total");
        double in_flight = bf_test_metric_value(m, "bountyfleet_reports_in_flight");
        free(m);
        if (consumed >= consumed0 + f->reports && in_flight == 0)
            break;
        if (bf_test_now() > deadline)
            bf_faults_fail(f, "the reports published again were not all consumed");
        bf_faults_sleep(0.2);
    }
    bf_test_results_drain(&f->res, 2.0); /* results still on their way */
}

/* Keys in @p f's Redis whose name has @p part (KEYS: a test's small set). */
static long redis_keys_with(bf_faults_t *f, const char *part)
{
    const char *port = strrchr(f->s.redis_url, ':');
    bf_test_redis_t server = {.port = port ? atoi(port + 1) : 0};
    redisContext *c = bf_test_redis_connect(&server);
    long n = -1;
    if (c) {
        redisReply *r =
            redisCommand(c, "EVAL %s 0 %s", "return #redis.call('KEYS', ARGV[1])", part);
        if (r && r->type == REDIS_REPLY_INTEGER)
            n = (long)r->integer;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return n;
}

/* A batch completes; Redis is SIGKILLed at once and started again with
 * the same setting; the same reports arrive again. What was stored decides
 * what is paid and published again. */
static void redis_kill_costs(bf_faults_t *f, const char *prefix, redis_cost_t *cost)
{
    bf_faults_batch_t b;
    bf_faults_batch_start(f, &b, prefix, "150");
    bf_faults_batch_check(f, &b, 0);
    json_t *stats = bf_test_aisim_stats(&f->s);
    long billed_before = 0;
    const char *id;
    json_t *v;
    json_object_foreach(json_object_get(stats, "by_report"), id, v) billed_before +=
        (long)json_integer_value(v);
    json_decref(stats);
    size_t records_before = 0;
    json_object_foreach(f->res.count, id, v) records_before +=
        (size_t)json_integer_value(v);
    char *m = bf_faults_metrics(f);
    double lost_before = bf_test_metric_value(m, "bountyfleet_redis_data_lost_total");
    free(m);
    /* The worker marks a result published in Redis once Kafka acknowledged
     * it, which may be after the test read it: the kill comes after every
     * mark, or a slow machine would make a result published again look
     * like a loss. */
    long published = (long)json_object_size(f->res.count);
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    while (redis_keys_with(f, "*pub:*") < published && bf_test_now() < deadline)
        bf_faults_sleep(0.1);

    bf_proc_stop(&f->s.redis, SIGKILL, 5);
    assert_int_equal(bf_stack_restart_redis(&f->s), 0);
    publish_again(f, prefix);

    stats = bf_test_aisim_stats(&f->s);
    long billed_after = 0;
    json_object_foreach(json_object_get(stats, "by_report"), id, v) billed_after +=
        (long)json_integer_value(v);
    json_decref(stats);
    size_t records_after = 0;
    json_object_foreach(f->res.count, id, v) records_after +=
        (size_t)json_integer_value(v);
    m = bf_faults_metrics(f);
    cost->data_lost = bf_test_metric_value(m, "bountyfleet_redis_data_lost_total") -
                      (lost_before > 0 ? lost_before : 0);
    free(m);
    cost->ai_calls = billed_after - billed_before;
    cost->records = (int)(records_after - records_before);
    fprintf(stderr,
            "[%s] Redis %s: after a SIGKILL and %d reports delivered again: %ld AI calls "
            "paid again (%.2f per report), %d results published again, data loss "
            "noticed %g time(s)\n",
            prefix,
            f->s.redis_persistence[0] ? f->s.redis_persistence : "without persistence",
            f->reports, cost->ai_calls, (double)cost->ai_calls / f->reports,
            cost->records, cost->data_lost);
    bf_faults_batch_free(&b);
}

static int setup_redis_none(void **state)
{
    bf_faults_opts_t opts = {.workers = 1};
    return start(state, &opts);
}

static int setup_redis_always(void **state)
{
    bf_faults_opts_t opts = {.workers = 1, .redis_persistence = "always"};
    return start(state, &opts);
}

static int setup_redis_everysec(void **state)
{
    bf_faults_opts_t opts = {.workers = 1, .redis_persistence = "everysec"};
    return start(state, &opts);
}

/* Without persistence (how the demo once ran Redis) everything is gone:
 * every report is analysed and published again, and the worker says so. */
static void test_redis_without_persistence_loses_its_data_loudly(void **state)
{
    redis_cost_t c;
    redis_kill_costs(*state, "rn", &c);
    assert_true(c.data_lost >= 1);
    assert_true(c.ai_calls > 0);
}

/* appendfsync always: nothing acknowledged is lost, nothing is paid or
 * published twice, nothing is reported lost. */
static void test_redis_with_appendfsync_always_loses_nothing(void **state)
{
    bf_faults_t *f = *state;
    redis_cost_t c;
    redis_kill_costs(f, "ra", &c);
    assert_int_equal(c.ai_calls, 0);
    assert_int_equal(c.records, 0);
    assert_true(c.data_lost == 0);
}

/* appendfsync everysec (docker-compose, the demo): at most the last
 * second's writes; the numbers are printed for BENCHMARKS.md / RUNBOOK. */
static void test_redis_with_appendfsync_everysec_loses_at_most_a_second(void **state)
{
    bf_faults_t *f = *state;
    redis_cost_t c;
    redis_kill_costs(f, "re", &c);
    assert_true(c.data_lost == 0); /* the instance id is on disk */
    assert_true(c.ai_calls <= 3L * f->reports);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topic_missing_from_metadata_loses_nothing,
                                        setup_one_worker_outlasting, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters_wait_out_a_missing_topic,
                                        setup_one_worker, teardown),
        cmocka_unit_test_setup_teardown(test_killed_workers_claims_do_not_stall_the_fleet,
                                        setup_three_workers, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_while_paused_loses_nothing,
                                        setup_paused_rebalance, teardown),
        cmocka_unit_test_setup_teardown(
            test_partitions_back_while_results_wait_publish_each_once,
            setup_results_waiting, teardown),
        cmocka_unit_test_setup_teardown(
            test_redis_without_persistence_loses_its_data_loudly, setup_redis_none,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_results_awaiting_ack_wait_outside_the_cap_up_to_twice_it,
            setup_small_cap, teardown),
        cmocka_unit_test_setup_teardown(test_redis_with_appendfsync_always_loses_nothing,
                                        setup_redis_always, teardown),
        cmocka_unit_test_setup_teardown(
            test_redis_with_appendfsync_everysec_loses_at_most_a_second,
            setup_redis_everysec, teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
