/*
 * status.h - what an operator or a dashboard can ask the autoscaler
 * without Prometheus or Grafana, on METRICS_ADDR:
 *
 *   GET /api/v1/status           one JSON document: the group's lag per
 *                                partition with its Burrow-style status,
 *                                the live workers from their heartbeats,
 *                                the forecast, the last decisions with
 *                                their reasoning, the budget per period,
 *                                the state of Kafka and Redis, and a short
 *                                history for charts (ops/STATUS.md, field
 *                                by field; ops/api/status.schema.json)
 *   GET /api/v1/recommendations  the last cost recommendations
 *                                (recommend.h; ops/api/recommendations.schema.json)
 *   GET /                        the status page: one self-contained HTML
 *                                page over /api/v1/status
 *
 * Read-only and safe to expose: the documents hold no secret (no token,
 * no URL with a password; errors are the ones the logs carry) and change
 * nothing. Every array is bounded (BF_STATUS_MAX_*), and so is the
 * document (BF_STATUS_MAX_BYTES).
 *
 * Threads: the control loop records each tick (bf_status_update), renders
 * the whole document and publishes the text under a mutex; an HTTP
 * handler only copies the last published text out under that mutex. So a
 * request never reads state the loop is changing, and a request costs a
 * copy, whatever the fleet's size. While Kafka is unreachable the loop
 * still publishes a document, with the last reading, its age and the
 * error, so the page can say so.
 *
 * @locality bf_status_update and bf_status_set_recommendations: the
 * control loop; the getters and the handlers: any thread.
 */
#ifndef BF_AUTOSCALER_STATUS_H
#define BF_AUTOSCALER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autoscaler/budget.h"
#include "autoscaler/forecast.h"
#include "autoscaler/heartbeats.h"
#include "autoscaler/lag.h"
#include "autoscaler/override.h"
#include "autoscaler/scaler.h"
#include "libbf/httpd.h"

/* Bounds of the document. The partitions and workers beyond the first
 * ones are counted ("count") but not listed ("truncated": true); the
 * decisions and the history keep the newest. With these the largest
 * possible document is well under BF_STATUS_MAX_BYTES (tested with every
 * array full of the longest, most escaped strings). */
#define BF_STATUS_MAX_PARTITIONS 256
#define BF_STATUS_MAX_WORKERS    64
#define BF_STATUS_MAX_DECISIONS  20
#define BF_STATUS_MAX_POINTS     240
#define BF_STATUS_MAX_BYTES      (256 * 1024)

/* Version of the documents' layout: raised only for a change that is not
 * an addition. */
#define BF_STATUS_VERSION 1

typedef struct bf_status_conf_s {
    const char *group, *topic, *actuator; /* copied */
    double interval_s;                    /* --interval */
    double step_s, horizon_s;             /* --forecast-step, --horizon */
    double worker_price;                  /* USD per worker-hour */
    double alert_at;                      /* --budget-alert */
    int64_t min_workers, max_workers;     /* --min, --max */
    bool state_store;                     /* a Redis state store is configured */
} bf_status_conf_t;

/** What one tick saw; every pointer borrowed for the call, may be NULL. */
typedef struct bf_status_tick_s {
    double wall; /* epoch seconds */
    double now;  /* monotonic seconds (the decisions' clock) */
    /* This tick's reading, or NULL when it failed (kafka_error says why). */
    const bf_lag_snapshot_t *snap;
    const char *kafka_error;
    unsigned kafka_failures;              /* consecutive failed readings */
    const bf_scaler_decision_t *decision; /* NULL without a decision this tick */
    const bf_heartbeats_t *heartbeats;
    const bf_budget_status_t *budget; /* NULL: none computed this tick */
    const bf_forecast_t *forecast;
    const bf_override_state_t *override;
    int64_t current_workers;
    const char *redis_error; /* the state store's last failure, NULL when it worked */
} bf_status_tick_t;

typedef struct bf_status_s bf_status_t;

/** @brief Create. @param conf copied. */
bf_status_t *bf_status_new(const bf_status_conf_t *conf);

/** @brief Free. NULL-safe. Stop the HTTP server that serves it first. */
void bf_status_destroy(bf_status_t *s);

/**
 * @brief Record one tick (a reading that failed, too) and publish the new
 *        document.
 */
void bf_status_update(bf_status_t *s, const bf_status_tick_t *tick);

/**
 * @brief Publish the recommendations document (JSON text).
 * @param text takes ownership
 */
void bf_status_set_recommendations(bf_status_t *s, char *text);

/**
 * @brief A copy of the last status document (malloc'd), or NULL before the
 *        first bf_status_update().
 */
char *bf_status_document(bf_status_t *s);

/** @brief Add GET /, /api/v1/status and /api/v1/recommendations to @p h;
 *         @p s borrowed, it must outlive the server. */
void bf_status_serve(bf_status_t *s, bf_httpd_t *h);

/**
 * @brief The seasonal structure a forecast uses now: "none", "daily",
 *        "weekly", "daily+weekly" (or "season" for one of another length),
 *        at steps of @p step_s. The one place that asks the forecast.
 */
const char *bf_status_forecast_structure(const bf_forecast_t *f, double step_s);

#endif
