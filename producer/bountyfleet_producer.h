/*
 * bountyfleet_producer.h - publish security reports to bountyfleet from a
 * C program, the way bountyfleet-producer does (it is built on this API).
 *
 *     bf_producer_conf_t conf = {.brokers = "127.0.0.1:9092"};
 *     bf_producer_t *p = bf_producer_new(&conf, errstr, sizeof(errstr));
 *     bf_producer_send_json(p, "{\"report_id\": \"r-1\", ...}", 0, errstr, ...);
 *     bf_producer_flush(p, 30000);   // wait for Kafka's acknowledgements
 *     bf_producer_destroy(p);
 *
 * Every report is checked first (required fields, sizes, UTF-8,
 * schemas/report.avsc); one that fails is refused with the reason and
 * nothing is sent. Good reports are encoded in the chosen framing (Avro
 * single-object by default; Confluent with a Schema Registry; JSON), keyed
 * by report_id, and sent by an idempotent producer (acks=all, ordered
 * retries): a report acknowledged once is in the topic exactly once.
 * Sending is asynchronous; bf_producer_poll() or bf_producer_flush() run
 * the delivery callback.
 *
 * @locality one thread at a time per producer; callbacks run on the
 *           thread that calls poll or flush (or send, which polls).
 */
#ifndef BOUNTYFLEET_PRODUCER_H
#define BOUNTYFLEET_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"

struct json_t; /* jansson's json_t */

typedef struct bf_producer_s bf_producer_t;

/**
 * Called once per report handed to Kafka, when Kafka acknowledged it
 * (err BF_OK) or gave up (err BF_ERR_KAFKA, @p reason says why).
 * @param report_id borrowed, valid during the call
 */
typedef void(bf_producer_delivery_cb)(void *opaque, const char *report_id, bf_err_t err,
                                      const char *reason);

/** Settings; strings are copied by bf_producer_new(). Zero means default. */
typedef struct bf_producer_conf_s {
    const char *brokers; /**< bootstrap servers; NULL: KAFKA_BROKERS or 127.0.0.1:9092 */
    const char *topic;   /**< NULL: bountyfleet.reports */
    const char *framing; /**< "single-object" (or "avro"), "confluent", "json"; NULL:
                              single-object */
    /** Schema Registry for Confluent framing; NULL: SCHEMA_REGISTRY_URL. */
    const char *schema_registry_url;
    /** Confluent framing without a registry: the id report.avsc has; -1: none. */
    int32_t confluent_id;
    const char *compression; /**< none|gzip|snappy|lz4|zstd; NULL: lz4 */
    /** librdkafka properties, "key=value", NULL-terminated (like -X); may be NULL.
     *  They override the defaults above and ours (enable.idempotence, linger.ms). */
    const char *const *kafka_props;
    /** How long a send may wait while librdkafka's queue is full; 0: 60 s. */
    double queue_full_timeout_s;
    /** How long a report may take to be acknowledged from its first send,
     *  sends again after transient errors included (a broker restarting, the
     *  topic missing from metadata for a while); 0: 300 s. Only then does it
     *  fail, and the delivery callback says so. */
    double delivery_timeout_s;
    bf_producer_delivery_cb *on_delivery; /**< may be NULL */
    void *opaque;                         /**< passed to on_delivery */
} bf_producer_conf_t;

/** Counters since bf_producer_new(). */
typedef struct bf_producer_stats_s {
    uint64_t sent;        /**< handed to Kafka */
    uint64_t delivered;   /**< acknowledged by Kafka */
    uint64_t failed;      /**< Kafka gave up on them, or could not take them */
    uint64_t invalid;     /**< refused before sending (bad JSON, schema, size) */
    uint64_t bytes;       /**< encoded bytes handed to Kafka (values only) */
    uint64_t outstanding; /**< handed to Kafka, not yet acknowledged */
    uint64_t retried;     /**< sends again after a transient error */
} bf_producer_stats_t;

/**
 * @brief Create a producer: codec, Schema Registry (Confluent framing
 *        registers report.avsc under "<topic>-value"), Kafka client.
 * @returns the producer, or NULL with a one-line reason in errstr.
 */
bf_producer_t *bf_producer_new(const bf_producer_conf_t *conf, char *errstr,
                               size_t errstr_size);

/**
 * @brief Check, encode and send one report given as JSON text.
 * @param len bytes of @p json; 0: it is NUL-terminated
 * @returns BF_OK once the producer has taken it: librdkafka has it, or a
 *          transient error (the topic missing from metadata while a broker
 *          restarts) holds it for a retry; delivery is reported later;
 *          BF_ERR_PARSE, BF_ERR_MISSING_FIELD, BF_ERR_SCHEMA, BF_ERR_UTF8 or
 *          BF_ERR_TOO_LARGE for a bad report (errstr names the field);
 *          BF_ERR_TIMEOUT when the queue stayed full; BF_ERR_KAFKA.
 */
bf_err_t bf_producer_send_json(bf_producer_t *p, const char *json, size_t len,
                               char *errstr, size_t errstr_size);

/** @brief Like bf_producer_send_json() for a jansson object (borrowed). */
bf_err_t bf_producer_send_object(bf_producer_t *p, const struct json_t *report,
                                 char *errstr, size_t errstr_size);

/** @brief Serve delivery callbacks, waiting up to @p timeout_ms for one.
 *  @returns the number of events served. */
int bf_producer_poll(bf_producer_t *p, int timeout_ms);

/**
 * @brief Wait until every report sent has been acknowledged or failed.
 * @returns BF_OK, or BF_ERR_TIMEOUT with reports still outstanding.
 */
bf_err_t bf_producer_flush(bf_producer_t *p, int timeout_ms);

/** @brief Current counters. */
void bf_producer_stats(const bf_producer_t *p, bf_producer_stats_t *out);

/** @brief Free the producer without waiting (flush first). NULL-safe. */
void bf_producer_destroy(bf_producer_t *p);

#endif
