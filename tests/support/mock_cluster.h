/*
 * mock_cluster.h - test support: a librdkafka mock cluster inside the test
 * process, for fault injection.
 *
 * The dev broker (ops/devbroker) runs the same mock cluster in a child
 * process, where a test cannot reach it. A test that takes brokers down,
 * moves partition leaders or makes requests fail owns the cluster itself:
 * the workers it starts connect to bf_test_mock_t.brokers like to any
 * broker, and the test drives the faults through the cluster handle with
 * rdkafka_mock.h (rd_kafka_mock_broker_set_down, _partition_set_leader,
 * _push_request_errors, ...). The mock's limits are the dev broker's (see
 * the top of ops/devbroker/main.c).
 */
#ifndef BF_TEST_MOCK_CLUSTER_H
#define BF_TEST_MOCK_CLUSTER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

typedef struct bf_test_mock_s {
    rd_kafka_t *rk;              /* owns the cluster; never connects anywhere */
    rd_kafka_mock_cluster_t *mc; /* owned by rk's instance */
    char brokers[512];           /* bootstrap list for clients */
    int n_brokers, partitions;
} bf_test_mock_t;

/**
 * @brief Start @p n_brokers mock brokers (ids 1..n) and create the reports,
 *        validations, dead-letter and heartbeat topics with @p partitions
 *        partitions each, replication factor min(3, n).
 * @returns 0, or -1 with a message on stderr.
 */
int bf_test_mock_start(bf_test_mock_t *m, int n_brokers, int partitions);

/** @brief Destroy the cluster and its handle. Safe on a zeroed struct. */
void bf_test_mock_stop(bf_test_mock_t *m);

#endif
