/*
 * telemetry.h - what the autoscaler shows: /metrics (the names of
 * ops/METRICS.md), /healthz, /readyz, and the desired replica count as JSON
 * for KEDA's metrics-api scaler, all on METRICS_ADDR (libbf/httpd.h).
 *
 *   GET /api/v1/desired ->
 *     {"desiredReplicas":3,"currentReplicas":2,"action":"SCALE_UP",
 *      "totalLag":950,"forecastRate":12.5,"confidence":0.83}
 *   (503 with {"error":...} until the first decision; "overrideReplicas":N
 *   is added while a manual override pins the count). A ScaledObject
 *   points its metrics-api trigger at it with valueLocation
 *   "desiredReplicas" and targetValue 1, so KEDA runs that many.
 *
 * The HTTP thread only reads the registry (thread-safe) and the last
 * decision, which is published under a mutex.
 */
#ifndef BF_AUTOSCALER_TELEMETRY_H
#define BF_AUTOSCALER_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autoscaler/budget.h"
#include "autoscaler/lag.h"
#include "autoscaler/override.h"
#include "autoscaler/scaler.h"
#include "autoscaler/status.h"

typedef struct bf_autoscaler_telemetry_s bf_autoscaler_telemetry_t;

/**
 * @brief Start the endpoint on @p addr ("host:port", port 0 = any free).
 * @param actuator the actuator kind, for the error counter's label (copied)
 * @returns a handle, or NULL with errstr filled (bad address, port taken).
 */
bf_autoscaler_telemetry_t *bf_autoscaler_telemetry_new(const char *addr,
                                                       const char *actuator, char *errstr,
                                                       size_t errstr_size);

/**
 * @brief Serve the manual override (override.h) at /api/v1/override and
 *        show it as bountyfleet_autoscaler_override_replicas. Call once,
 *        before traffic matters. @p ov borrowed; it must outlive @p t.
 */
void bf_autoscaler_telemetry_serve_override(bf_autoscaler_telemetry_t *t,
                                            bf_override_t *ov);

/**
 * @brief Serve the status document, the recommendations and the status
 *        page (status.h) at /api/v1/status, /api/v1/recommendations and /.
 *        Call once, before traffic matters. @p st borrowed; it must outlive
 *        @p t.
 */
void bf_autoscaler_telemetry_serve_status(bf_autoscaler_telemetry_t *t, bf_status_t *st);

/** @brief The port bound. */
int bf_autoscaler_telemetry_port(const bf_autoscaler_telemetry_t *t);

/**
 * @brief Publish one reading and its decision: lag and status per
 *        partition, rates, forecast, workers, the decision counter and the
 *        budgets; the KEDA endpoint answers with this decision from now on.
 *        All pointers borrowed for the call.
 */
void bf_autoscaler_telemetry_observe(bf_autoscaler_telemetry_t *t,
                                     const bf_lag_snapshot_t *snap,
                                     const bf_scaler_decision_t *d,
                                     const bf_budget_status_t *budget,
                                     int64_t current_workers);

/** @brief Workers with a recent heartbeat. */
void bf_autoscaler_telemetry_heartbeating(bf_autoscaler_telemetry_t *t, int64_t workers);

/** @brief Count a failed scale call. */
void bf_autoscaler_telemetry_actuator_error(bf_autoscaler_telemetry_t *t);

/** @brief /readyz: ready once lag can be read. */
void bf_autoscaler_telemetry_set_ready(bf_autoscaler_telemetry_t *t, bool ready,
                                       const char *reason);

/** @brief Stop the endpoint and free. NULL-safe. */
void bf_autoscaler_telemetry_destroy(bf_autoscaler_telemetry_t *t);

#endif
