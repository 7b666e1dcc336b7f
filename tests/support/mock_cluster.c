/*
 * mock_cluster.c - an in-process librdkafka mock cluster (see
 * mock_cluster.h).
 */
#include "support/mock_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/kafka.h"

int bf_test_mock_start(bf_test_mock_t *m, int n_brokers, int partitions)
{
    memset(m, 0, sizeof(*m));
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Quiet: the cluster's own handle has nothing to say to a test, unless
     * BF_TEST_MOCK_DEBUG asks what the brokers did (librdkafka's "mock"
     * debug context: appends, sequence checks, injected errors). */
    if (getenv("BF_TEST_MOCK_DEBUG")) {
        rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof(errstr));
    } else {
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    }
    /* TCP_NODELAY on the brokers' connections, as Kafka's and the dev
     * broker's (ops/devbroker/main.c says why). */
    rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof(errstr));
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!m->rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "mock cluster handle: %s\n", errstr);
        return -1;
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, n_brokers);
    if (!m->mc) {
        fprintf(stderr, "cannot create the mock cluster\n");
        bf_test_mock_stop(m);
        return -1;
    }
    static const char *const topics[] = {BF_TOPIC_REPORTS, BF_TOPIC_VALIDATIONS,
                                         BF_TOPIC_DLQ, BF_TOPIC_HEARTBEATS};
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            m->mc, topics[i], partitions, n_brokers < 3 ? n_brokers : 3);
        if (err) {
            fprintf(stderr, "cannot create %s: %s\n", topics[i], rd_kafka_err2str(err));
            bf_test_mock_stop(m);
            return -1;
        }
    }
    snprintf(m->brokers, sizeof(m->brokers), "%s",
             rd_kafka_mock_cluster_bootstraps(m->mc));
    m->n_brokers = n_brokers;
    m->partitions = partitions;
    return 0;
}

void bf_test_mock_stop(bf_test_mock_t *m)
{
    if (m->mc)
        rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk)
        rd_kafka_destroy(m->rk);
    m->mc = NULL;
    m->rk = NULL;
}
