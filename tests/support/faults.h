/*
 * faults.h - test support: a stack to inject faults into and batches of
 * reports to check the promises against (test_faults.c, test_restarts.c).
 *
 * The stack: a librdkafka mock cluster inside the test process (so a test
 * can take brokers down, move leaders, fail requests, hide a topic from
 * metadata: support/mock_cluster.h), redis-server, the AI simulator and
 * one or more workers. A batch is a fresh set of real disclosed reports
 * ("<prefix>-<i>") published by bountyfleet-producer at a steady rate while
 * the test injects a fault; counting it afterwards says whether each
 * promise held:
 *
 *  - nothing lost: every report of the batch has a result;
 *  - one result per report (repeated: more than one record);
 *  - nothing paid twice: the simulator billed each report's successful
 *    analyses once (GET /stats by_report), none failed;
 *  - the publisher delivered everything (exit status 0).
 *
 * The mock brokers check an idempotent producer's sequence numbers only
 * for a transactional producer (rd_kafka_mock_validate_records returns
 * early without a TransactionalId): a Produce that gets an injected error
 * while the next request of the same partition is already in flight
 * leaves a gap a real broker would refuse (OUT_OF_ORDER_SEQUENCE_NUMBER),
 * the mock appends the later batch, and librdkafka then rightly counts
 * the failed message as "implicitly acked by subsequent batch success":
 * acknowledged, never written. So every producer of this stack (the
 * publisher and the workers) runs with one request in flight per
 * connection (BF_FAULTS_IN_FLIGHT_ONE), the only setting under which the
 * mock cannot do that.
 *
 * BF_FAULTS_REPORTS sets the batch size (default 300). To see why a
 * report has no result: BF_TEST_KEEP_TMP=1 keeps the logs,
 * BF_TEST_MOCK_DEBUG=1 prints what the mock brokers appended and refused,
 * BF_FAULTS_PRODUCER_X=debug=msg,eos passes one librdkafka property to
 * the publisher; a batch with missing reports prints, per missing report,
 * its partition and offset, whether a result exists on the topic after
 * all and the group's committed offset.
 */
#ifndef BF_TEST_FAULTS_H
#define BF_TEST_FAULTS_H

#include <stdbool.h>

#include "support/mock_cluster.h"
#include "support/results.h"
#include "support/stack.h"

#define BF_FAULTS_BROKERS     3
#define BF_FAULTS_PARTITIONS  6
#define BF_FAULTS_GROUP       "bountyfleet-workers"
#define BF_FAULTS_MAX_WORKERS 4
/* One Produce in flight per connection (see the top of this file). */
#define BF_FAULTS_IN_FLIGHT_ONE "max.in.flight.requests.per.connection=1"

typedef struct bf_faults_opts_s {
    int workers;                    /* started at setup, 1..BF_FAULTS_MAX_WORKERS */
    const char *const *aisim_args;  /* NULL-terminated; NULL: --latency-ms 20 */
    const char *const *worker_args; /* more flags for every worker; may be NULL */
    double recovery_s;              /* how long a batch may take after its fault; 0: 90 */
    const char *redis_persistence;  /* bf_stack_t.redis_persistence; NULL: none */
} bf_faults_opts_t;

typedef struct bf_faults_s {
    bf_test_mock_t mock;
    bf_stack_t s;
    bf_faults_opts_t opts;
    bf_proc_t workers[BF_FAULTS_MAX_WORKERS];
    bool killed[BF_FAULTS_MAX_WORKERS]; /* stopped by the test on purpose */
    int n_workers;
    char metrics_url[BF_FAULTS_MAX_WORKERS][128];
    char ready_url[BF_FAULTS_MAX_WORKERS][128];
    bf_proc_t producer;
    bf_test_results_t res;
    bool results_open;
    int reports;         /* per batch */
    char aisim_url[512]; /* without /v1 */
} bf_faults_t;

/** @brief Start the stack and the workers; wait until the first is ready.
 *  @returns 0, or -1 (everything started is stopped again). */
int bf_faults_setup(bf_faults_t *f, const bf_faults_opts_t *opts);

/** @brief Stop everything. */
void bf_faults_teardown(bf_faults_t *f);

/** @brief Start worker @p i (again: a replacement after a kill) as
 *         "faults-<i>"; with @p wait_ready, until its /readyz says 200. */
int bf_faults_start_worker(bf_faults_t *f, int i, bool wait_ready);

/** @brief Wait until worker @p i's /readyz says 200. @returns 0 or -1. */
int bf_faults_wait_ready(bf_faults_t *f, int i);

/** @brief SIGKILL worker @p i (a crash: nothing is flushed or committed). */
void bf_faults_kill_worker(bf_faults_t *f, int i);

/** @brief Logs, the workers' gauges, then a cmocka failure with @p what. */
void bf_faults_fail(bf_faults_t *f, const char *what);

/** @brief /metrics of the first worker still running (caller frees). */
char *bf_faults_metrics(bf_faults_t *f);

/** @brief The sum of every series of @p family whose labels contain
 *         @p must (e.g. "outcome=\"error\""; NULL for any). */
double bf_faults_metric_sum(const char *text, const char *family, const char *must);

/** What the worker showed while a fault lasted. */
typedef struct bf_faults_watch_s {
    double max_paused;
    double max_circuit;
    double min_redis_up;
    double max_brokers_down;
    double max_in_flight;    /* bountyfleet_reports_in_flight */
    double max_awaiting_ack; /* bountyfleet_reports_awaiting_ack */
    int not_ready;           /* samples where /readyz was not 200 */
    int samples;
} bf_faults_watch_t;

/** @brief Hold a fault for @p seconds, sampling /metrics and /readyz. */
void bf_faults_hold(bf_faults_t *f, double seconds, bf_faults_watch_t *w);

/**
 * @brief Hold a fault for @p seconds, and on until @p seen says the watch
 *        shows what the fault must cause (a slow machine shows it late),
 *        for at most 10 s more (scaled by BF_TEST_TIMEOUT_MULTIPLIER).
 */
void bf_faults_hold_until(bf_faults_t *f, double seconds, bf_faults_watch_t *w,
                          bool (*seen)(const bf_faults_watch_t *w));

typedef struct bf_faults_batch_s {
    char prefix[16];
    char *before; /* /metrics before the batch */
    char *after;
    double started, completed;
} bf_faults_batch_t;

/** What came of a batch. */
typedef struct bf_faults_counts_s {
    int reports;         /* published ("in") */
    int producer_status; /* the publisher's exit status (0: all delivered) */
    int results;         /* reports of the batch with a result ("out") */
    int missing;         /* without one */
    int repeated;        /* with more than one result record */
    int max_records;     /* most result records one report got */
    int failed;          /* with an analysis that failed */
    int billed_wrong;    /* billed other than once per successful analysis */
    int billed_more;     /* of those: billed more than that (paid twice) */
    long ai_calls;       /* analyses billed for the batch's reports */
    double seconds;      /* publishing started to the last result */
} bf_faults_counts_t;

/** @brief Publish batch @p prefix at @p rate reports/s in the background
 *         and wait for its first results. */
void bf_faults_batch_start(bf_faults_t *f, bf_faults_batch_t *b, const char *prefix,
                           const char *rate);

/** @brief Wait for the publisher and the results, count, print one line. */
void bf_faults_batch_count(bf_faults_t *f, bf_faults_batch_t *b, bf_faults_counts_t *c);

/** @brief Count, then fail unless every promise held (at most
 *         @p failed_allowed results with a failed analysis). */
void bf_faults_batch_check(bf_faults_t *f, bf_faults_batch_t *b, int failed_allowed);

/** @brief How much a counter family grew during the batch. */
double bf_faults_grew(const bf_faults_batch_t *b, const char *family, const char *must);

/** @brief Print what the batch added to each family, series by series. */
void bf_faults_print_growth(const bf_faults_batch_t *b, const char *const families[]);

void bf_faults_batch_free(bf_faults_batch_t *b);

/** @brief Leaders of partition p of every topic on broker (p + shift) % 3 + 1. */
void bf_faults_place_leaders(bf_faults_t *f, int shift);

/** @brief POST /faults on the simulator. @returns the HTTP status. */
long bf_faults_set_ai(bf_faults_t *f, const char *json);

/** @brief Sleep @p s seconds. */
void bf_faults_sleep(double s);

#endif
