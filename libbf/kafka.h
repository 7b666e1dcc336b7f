/*
 * kafka.h - the librdkafka plumbing every program shares: building a
 * configuration from our settings plus the kcat-style -X/-F pass-through,
 * routing librdkafka's logs into bf_log, and translating its errors.
 */
#ifndef BF_KAFKA_H
#define BF_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "libbf/config.h"
#include "libbf/err.h"

/** Default topic names (DESIGN.md). */
#define BF_TOPIC_REPORTS     "bountyfleet.reports"
#define BF_TOPIC_VALIDATIONS "bountyfleet.validations"
#define BF_TOPIC_DLQ         "bountyfleet.reports.dlq"
#define BF_TOPIC_HEARTBEATS  "bountyfleet.heartbeats"
#define BF_TOPIC_SCALING     "bountyfleet.scaling"

/**
 * @brief Build a librdkafka configuration.
 *
 * Sets bootstrap.servers to @p brokers, routes logs to bf_log under
 * component "rdkafka", then applies @p props in order, so an operator's -X
 * overrides anything we chose.
 *
 * @param brokers bootstrap list (copied)
 * @param props   -X/-F properties, may be NULL (borrowed)
 * @returns a new conf the caller owns (rd_kafka_new takes it), or NULL with
 *          errstr naming the offending property.
 */
rd_kafka_conf_t *bf_kafka_conf_new(const char *brokers, const bf_kprops_t *props,
                                   char *errstr, size_t errstr_size);

/**
 * @brief Set one property, failing with a message that names it.
 */
bf_err_t bf_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                           char *errstr, size_t errstr_size);

/**
 * @brief Set a property only if the operator did not give it with -X/-F.
 * Used for our defaults (e.g. enable.idempotence) that operators may override.
 */
bf_err_t bf_kafka_conf_default(rd_kafka_conf_t *conf, const bf_kprops_t *props,
                               const char *key, const char *value, char *errstr,
                               size_t errstr_size);

#endif
