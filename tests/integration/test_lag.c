/*
 * test_lag.c - the autoscaler's lag reader (autoscaler/lag.c) on a
 * librdkafka mock cluster in this process: the numbers it reads, and what
 * it says while the topic is missing from metadata (a broker restarting)
 * and while every broker is down. A reading that fails must fail, never
 * read as "no lag": the control loop keeps the fleet when it cannot read
 * (control.c), but it would scale to the minimum on a zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "autoscaler/lag.h"
#include "libbf/clock.h"
#include "libbf/kafka.h"
#include "support/mock_cluster.h"
#include "support/stack.h"

#define GROUP "lag-test"

static bf_test_mock_t mock;

static void produce(int32_t partition, int n)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", mock.brokers, errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(p);
    for (int i = 0; i < n; i++)
        assert_int_equal(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(BF_TOPIC_REPORTS),
                              RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_VALUE("x", 1),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

/* Commit @p offset for @p partition as the group would. */
static void commit(int32_t partition, int64_t offset)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", mock.brokers, errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", GROUP, errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, BF_TOPIC_REPORTS, partition)->offset = offset;
    assert_int_equal(rd_kafka_commit(c, l, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy_flags(c, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

static int setup(void **state)
{
    (void)state;
    if (bf_test_mock_start(&mock, 3, 3) != 0)
        return -1;
    produce(0, 10);
    produce(1, 5);
    commit(0, 4);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bf_test_mock_stop(&mock);
    return 0;
}

static bf_lag_reader_t *reader(double timeout_s)
{
    char errstr[512];
    bf_kprops_t props = {0};
    bf_lag_reader_t *r = bf_lag_reader_new(mock.brokers, &props, GROUP, BF_TOPIC_REPORTS,
                                           timeout_s, errstr, sizeof(errstr));
    if (!r)
        fail_msg("%s", errstr);
    return r;
}

/* 10 in partition 0 with 4 committed, 5 in partition 1 never committed
 * (counted from the log start), nothing in partition 2. */
static void expect_the_numbers(bf_lag_reader_t *r)
{
    char errstr[512] = "";
    bf_lag_snapshot_t snap;
    bf_err_t err = bf_lag_read(r, &snap, errstr, sizeof(errstr));
    if (err)
        fail_msg("bf_lag_read: %s", errstr);
    assert_int_equal(snap.partition_count, 3);
    int64_t lag[3] = {-1, -1, -1};
    for (int i = 0; i < snap.partition_count; i++) {
        const bf_lag_partition_t *p = &snap.partitions[i];
        assert_true(p->partition >= 0 && p->partition < 3);
        lag[p->partition] = p->lag;
        if (p->partition == 0)
            assert_true(p->committed == 4 && p->high == 10);
        if (p->partition == 1)
            assert_true(p->committed == BF_LAG_NO_COMMIT && p->high == 5);
    }
    assert_true(lag[0] == 6 && lag[1] == 5 && lag[2] == 0);
    assert_int_equal(snap.total_lag, 11);
    bf_lag_snapshot_free(&snap);
}

static void test_reads_the_lag_of_every_partition(void **state)
{
    (void)state;
    bf_lag_reader_t *r = reader(5);
    expect_the_numbers(r);
    expect_the_numbers(r); /* the handle is reused, reading after reading */
    bf_lag_reader_destroy(r);
}

/* A restarting Apache Kafka broker answers Metadata with
 * UNKNOWN_TOPIC_OR_PART for a few seconds. */
static void test_a_topic_missing_from_metadata_is_an_error_not_zero(void **state)
{
    (void)state;
    bf_lag_reader_t *r = reader(5);
    rd_kafka_mock_topic_set_error(mock.mc, BF_TOPIC_REPORTS,
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    char errstr[512] = "";
    bf_lag_snapshot_t snap = {0};
    bf_err_t err = bf_lag_read(r, &snap, errstr, sizeof(errstr));
    assert_int_equal(err, BF_ERR_KAFKA);
    assert_int_equal(snap.partition_count, 0);
    assert_null(snap.partitions);
    if (!strstr(errstr, BF_TOPIC_REPORTS))
        fail_msg("'%s' does not name the topic", errstr);
    rd_kafka_mock_topic_set_error(mock.mc, BF_TOPIC_REPORTS, RD_KAFKA_RESP_ERR_NO_ERROR);
    expect_the_numbers(r); /* and the same reader reads again once it is back */
    bf_lag_reader_destroy(r);
}

/* Every broker down: the reading fails by its deadline, then recovers. */
static void test_brokers_down_fail_by_the_deadline(void **state)
{
    (void)state;
    /* The deadline scales with the machine (the first reading includes
     * the bootstrap, metadata and offsets of a fresh client). */
    double deadline = 2 * bf_test_timeout_mult();
    bf_lag_reader_t *r = reader(deadline);
    expect_the_numbers(r);
    for (int id = 1; id <= 3; id++)
        assert_int_equal(rd_kafka_mock_broker_set_down(mock.mc, id),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    char errstr[512] = "";
    bf_lag_snapshot_t snap = {0};
    double started = bf_monotonic_s();
    bf_err_t err = bf_lag_read(r, &snap, errstr, sizeof(errstr));
    double took = bf_monotonic_s() - started;
    assert_true(err == BF_ERR_TIMEOUT || err == BF_ERR_KAFKA);
    assert_int_equal(snap.partition_count, 0);
    /* bounded by the deadline, with room for a loaded machine */
    assert_true(took < deadline * 10);
    for (int id = 1; id <= 3; id++)
        assert_int_equal(rd_kafka_mock_broker_set_up(mock.mc, id),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    /* the client reconnects on its own schedule: a few readings at most */
    bf_err_t again = BF_ERR_KAFKA;
    for (int i = 0; i < 15 && again; i++) {
        again = bf_lag_read(r, &snap, errstr, sizeof(errstr));
        if (!again)
            bf_lag_snapshot_free(&snap);
    }
    if (again)
        fail_msg("no reading after the brokers came back: %s", errstr);
    expect_the_numbers(r);
    bf_lag_reader_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_the_lag_of_every_partition),
        cmocka_unit_test(test_a_topic_missing_from_metadata_is_an_error_not_zero),
        cmocka_unit_test(test_brokers_down_fail_by_the_deadline),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
