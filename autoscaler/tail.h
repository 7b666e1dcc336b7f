/*
 * tail.h - follow a topic from its end without joining anyone's work: the
 * way the autoscaler reads the workers' heartbeats and validation results.
 *
 * A consumer in a group of its own (so every autoscaler replica sees every
 * record, and the workers' group never rebalances because of it) that
 * starts at the log end (auto.offset.reset=latest: what happened before
 * the autoscaler started is not its business), never commits, and hands
 * at most a given number of decoded records per call to a callback, so a
 * burst on the topic cannot stall a tick. Records that do not decode are
 * skipped and logged once per reader.
 *
 * @locality the control loop only.
 */
#ifndef BF_AUTOSCALER_TAIL_H
#define BF_AUTOSCALER_TAIL_H

#include <jansson.h>
#include <stddef.h>

#include "libbf/codec.h"
#include "libbf/config.h"

typedef struct bf_tail_s bf_tail_t;

/** A decoded record, borrowed for the call. */
typedef void (*bf_tail_fn)(void *opaque, const json_t *record);

/**
 * @brief Subscribe to @p topic in consumer group @p group (both copied),
 *        decoding records of @p type.
 * @returns a handle, or NULL with errstr filled (a bad -X property, or
 *          librdkafka refused).
 */
bf_tail_t *bf_tail_new(const char *brokers, const bf_kprops_t *props, const char *topic,
                       const char *group, bf_record_type_t type, char *errstr,
                       size_t errstr_size);

/**
 * @brief Hand what has arrived, at most @p max records, to @p fn, without
 *        waiting. @returns the records decoded.
 */
size_t bf_tail_poll(bf_tail_t *t, size_t max, bf_tail_fn fn, void *opaque);

/** @brief Close and free. NULL-safe. */
void bf_tail_destroy(bf_tail_t *t);

#endif
