/*
 * override.h - the operator's manual scale override: pin the number of
 * workers for a while, whatever the forecast says (what KEDA does with
 * the autoscaling.keda.sh/paused-replicas annotation, with an expiry).
 *
 *   PUT    /api/v1/override  {"replicas": 3, "ttl_seconds": 900, "reason": "..."}
 *   GET    /api/v1/override  -> {"override": {...}} or {"override": null}
 *   DELETE /api/v1/override  -> {"override": null}
 *
 * The only endpoint that changes state, so it is closed unless an admin
 * token is configured (AUTOSCALER_ADMIN_TOKEN or AUTOSCALER_ADMIN_TOKEN_FILE,
 * a secret of the settings table): without one every request gets 403;
 * with one, a request without "Authorization: Bearer <token>" or with
 * another token gets 401 (and WWW-Authenticate: Bearer). Tokens are
 * compared in constant time (SHA-256 of both, CRYPTO_memcmp).
 *
 * What it pins (bf_override_apply): the target is the override's replicas,
 * in place of the rule's count, its stabilisation windows and cooldown,
 * and also below --min (replicas 0 drains the fleet), but never above --max
 * and never above what the cost budget allows when that means scaling up
 * (the budget blocks growth; it does not shrink a fleet by force). The
 * decision's reasoning says so, and the decision line, /api/v1/desired and
 * bountyfleet_autoscaler_override_replicas (-1 without one) show it.
 * Setting, clearing and expiry are logged at info level with the reason.
 *
 * @locality the HTTP thread (the handler) and the control loop (get and
 * apply): the state is guarded by a mutex.
 */
#ifndef BF_AUTOSCALER_OVERRIDE_H
#define BF_AUTOSCALER_OVERRIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autoscaler/budget.h"
#include "autoscaler/decide.h"
#include "libbf/err.h"
#include "libbf/httpd.h"
#include "libbf/metrics.h"

/* Bounds of a request: a week at most, and a reason that fits a log line
 * and the decision's reasoning whole. */
#define BF_OVERRIDE_MAX_TTL_S  (7 * 86400.0)
#define BF_OVERRIDE_MAX_REASON 200

typedef struct bf_override_s bf_override_t;

/** An override in force. */
typedef struct bf_override_state_s {
    bool active;
    int64_t replicas;                        /* as asked, 0..BF_DECIDE_MAX_WORKERS */
    double expires_in_s;                     /* from the time asked about */
    double ttl_s;                            /* as asked */
    char reason[BF_OVERRIDE_MAX_REASON + 1]; /* as asked, printable */
} bf_override_state_t;

/**
 * @brief Create the override store.
 * @param admin_token copied; NULL or "" leaves the endpoint disabled (403)
 * @param max_workers --max, for the answers (the cap is applied by
 *        bf_override_apply with the policy)
 */
bf_override_t *bf_override_new(const char *admin_token, int64_t max_workers);

/** @brief Free (the token is wiped). NULL-safe. */
void bf_override_destroy(bf_override_t *ov);

/** @brief Keep @p gauge (borrowed, outlives @p ov) at the pinned replicas,
 *         -1 without an override. */
void bf_override_set_gauge(bf_override_t *ov, bf_series_t *gauge);

/**
 * @brief Parse a PUT body: a JSON object with exactly "replicas" (integer
 *        0..BF_DECIDE_MAX_WORKERS), "ttl_seconds" (number, > 0, at most
 *        BF_OVERRIDE_MAX_TTL_S) and "reason" (1..BF_OVERRIDE_MAX_REASON
 *        bytes of UTF-8 without control characters). Pure.
 * @param out filled on BF_OK (active, expires_in_s = ttl_s)
 * @returns BF_OK, or BF_ERR_PARSE / BF_ERR_SCHEMA with errstr for the 400.
 */
bf_err_t bf_override_parse(const char *body, size_t len, bf_override_state_t *out,
                           char *errstr, size_t errstr_size);

/**
 * @brief Check an Authorization header against the token, in time that
 *        does not depend on where they differ. @returns 403 (no token
 *        configured), 401 (missing, not Bearer, or wrong) or 200.
 */
int bf_override_authorize(const bf_override_t *ov, const char *authorization);

/** @brief Pin @p st (from bf_override_parse) from monotonic time @p now. */
void bf_override_set(bf_override_t *ov, const bf_override_state_t *st, double now);

/** @brief Remove the override. @returns whether there was one. */
bool bf_override_clear(bf_override_t *ov, const char *why);

/**
 * @brief The override in force at monotonic time @p now; one past its
 *        expiry is removed (and the removal logged) here.
 */
void bf_override_get(bf_override_t *ov, double now, bf_override_state_t *out);

/**
 * @brief Replace decision @p d (the rule's, for current workers
 *        d->current_workers) by the override @p st, within --max of
 *        @p policy and, when scaling up, the budget's allowed workers;
 *        prefixes the reasoning. Does nothing when @p st is not active.
 *        Pure.
 */
void bf_override_apply(const bf_override_state_t *st, const bf_decide_policy_t *policy,
                       const bf_budget_status_t *budget, bf_decision_t *d);

/** @brief The route's handler (bf_http_handler_t) for /api/v1/override;
 *         @p opaque is the bf_override_t. Runs on the HTTP thread. */
void bf_override_http(void *opaque, const bf_httpd_request_t *req, int *status,
                      const char **content_type, char **body);

#endif
