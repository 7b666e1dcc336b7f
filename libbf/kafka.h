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

/** Which client a configuration is for (bf_kafka_conf_new_for()). */
typedef enum bf_kafka_client_e {
    BF_KAFKA_CLIENT_ANY = 0,
    BF_KAFKA_CONSUMER,
    BF_KAFKA_PRODUCER,
} bf_kafka_client_t;

/**
 * @brief The scope librdkafka gives property @p name in its configuration
 *        table (the "C/P" column of CONFIGURATION.md, as
 *        rd_kafka_conf_properties_show() prints it for the version linked):
 *        'C' consumer only, 'P' producer only, '*' both.
 * @returns that character, or 0 for a name librdkafka does not list.
 */
char bf_kafka_property_scope(const char *name);

/**
 * @brief bf_kafka_conf_new() for one kind of client: a -X property that
 *        belongs only to the other kind (session.timeout.ms to a producer,
 *        linger.ms to a consumer) is left out, instead of making librdkafka
 *        warn that it will ignore it (CONFWARN). A program with a consumer
 *        and a producer takes one -X list and gives each client its share.
 */
rd_kafka_conf_t *bf_kafka_conf_new_for(bf_kafka_client_t client, const char *brokers,
                                       const bf_kprops_t *props, char *errstr,
                                       size_t errstr_size);

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
