/*
 * publish.h - every decision as a record on bountyfleet.scaling
 * (schemas/scaling_decision.avsc), keyed by the actuator kind, in the
 * framing the operator chose (libbf/codec.h; single-object by default).
 *
 * A librdkafka producer owned here: produce() never blocks (a full local
 * queue drops the record with a warning, counted once per run of drops),
 * delivery reports are served on each call, and destroy flushes for up to
 * the given timeout. A decision record is telemetry: losing one when Kafka
 * is down must not stop the autoscaler from scaling.
 */
#ifndef BF_AUTOSCALER_PUBLISH_H
#define BF_AUTOSCALER_PUBLISH_H

#include <stddef.h>

#include "autoscaler/scaler.h"
#include "libbf/codec.h"
#include "libbf/config.h"

typedef struct bf_publisher_s bf_publisher_t;

/**
 * @brief Create the producer.
 * @param brokers, props as for the lag reader (copied / borrowed for the call)
 * @returns a handle, or NULL with errstr filled (bad property).
 */
bf_publisher_t *bf_publisher_new(const char *brokers, const bf_kprops_t *props,
                                 const char *topic, bf_framing_t framing,
                                 const char *actuator, char *errstr, size_t errstr_size);

/**
 * @brief The decision record as the schema's JSON (new reference), for
 *        @p wall_ms milliseconds since the epoch. Pure; used by the tests.
 */
json_t *bf_publisher_record(const bf_scaler_decision_t *d, const char *actuator,
                            double wall_ms);

/** @brief Publish one decision (non-blocking). */
void bf_publisher_send(bf_publisher_t *p, const bf_scaler_decision_t *d);

/** @brief Flush up to @p timeout_s, then free. NULL-safe. */
void bf_publisher_destroy(bf_publisher_t *p, double timeout_s);

#endif
