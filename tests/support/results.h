/*
 * results.h - test support: publish reports with bountyfleet-producer and
 * read back the result records the workers publish, and the AI
 * simulator's request counts, for end-to-end checks.
 *
 * Failures are cmocka assertion failures (these run inside tests).
 */
#ifndef BF_TEST_RESULTS_H
#define BF_TEST_RESULTS_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "libbf/codec.h"
#include "support/stack.h"

/** Every result record seen on bountyfleet.validations. */
typedef struct bf_test_results_s {
    json_t *by_id;  /* report_id -> last result object */
    json_t *count;  /* report_id -> number of records */
    rd_kafka_t *rk; /* consumer assigned to every partition, no group */
    bf_codec_t *codec;
} bf_test_results_t;

/** @brief Start reading bountyfleet.validations from the beginning. */
void bf_test_results_open(bf_test_results_t *r, const char *brokers, int partitions);

/** @brief Read until @p want distinct report ids have a result, or
 *         timeout_s (times the timeout multiplier) passes.
 *  @returns the number of distinct report ids with a result. */
size_t bf_test_results_wait(bf_test_results_t *r, size_t want, double timeout_s);

/** @brief Read whatever arrives until nothing has for @p quiet_s seconds
 *         (records that came after bf_test_results_wait() was satisfied:
 *         a second result for a report). */
void bf_test_results_drain(bf_test_results_t *r, double quiet_s);

void bf_test_results_close(bf_test_results_t *r);

/**
 * @brief Write @p n reports as JSON lines to @p path: real disclosed
 *        reports (ops/demo-data/sample-reports.jsonl, report i % 450) with
 *        ids "<prefix>-<i>". The title names the case, so the content is
 *        unique per i, unless @p group > 1: then every @p group
 *        consecutive reports share one content (exact copies).
 */
void bf_test_write_reports(const char *path, const char *prefix, int n, int group);

/** @brief Publish the JSON lines of @p file with bountyfleet-producer and
 *         wait for it to exit 0. */
void bf_test_run_producer(const bf_stack_t *s, const char *file);

/** @brief bf_test_run_producer() with extra flags (e.g. {"--framing",
 *         "confluent", NULL}) and environment ("K=V"), either may be NULL. */
void bf_test_run_producer_with(const bf_stack_t *s, const char *file,
                               const char *const args[], const char *const env[]);

/** One record for bf_test_produce_raw(); the bytes are borrowed. */
typedef struct bf_test_record_s {
    const char *origin; /* sent as header "origin" (names the record in the DLQ) */
    const void *value;
    size_t len;
} bf_test_record_t;

/** @brief Produce @p n records as they are (no codec) to @p topic and flush. */
void bf_test_produce_raw(const char *brokers, const char *topic,
                         const bf_test_record_t *records, size_t n);

/** @brief A consumer assigned to every partition of @p topic from the
 *         beginning, never joining a group. Close with
 *         rd_kafka_consumer_close() and rd_kafka_destroy(). */
rd_kafka_t *bf_test_topic_reader(const char *brokers, const char *topic, int partitions);

/** @brief bf_test_topic_reader() with librdkafka properties set on top
 *         ({"key", "value", ..., NULL}), e.g. enable.partition.eof, or
 *         group.id for a handle that reads a group's committed offsets. */
rd_kafka_t *bf_test_topic_reader_with(const char *brokers, const char *topic,
                                      int partitions, const char *const props[]);

/** @brief The last header @p name of @p m copied into @p buf as text,
 *         or NULL when it has none. */
const char *bf_test_header(const rd_kafka_message_t *m, const char *name, char *buf,
                           size_t size);

/** @brief GET @p path (e.g. "/debug/requests") of the AI simulator as
 *         JSON, owned by the caller. */
json_t *bf_test_aisim_get(const bf_stack_t *s, const char *path);

/** @brief The AI simulator's /stats (requests_total, by_report), owned by
 *         the caller. */
json_t *bf_test_aisim_stats(const bf_stack_t *s);

#endif
