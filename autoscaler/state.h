/*
 * state.h - the forecast's state kept in Redis, so that a restarted
 * autoscaler (a new pod, a deploy) does not forget a week of seasonality.
 *
 * One string key, by default bountyfleet:autoscaler:state:{group}, holding
 * the scaler's state as JSON (scaler.h: bf_scaler_save()). Written after
 * every closed forecast step, read once at start. A synchronous hiredis
 * connection with a connect and command timeout, opened for each
 * operation: the writes are minutes apart and the loop is synchronous
 * anyway (control.h). A failure is logged and the autoscaler goes on: the
 * state is an optimisation, the lag alone still scales the fleet.
 *
 * The forecast part carries a format version (4 since the selecting
 * model's interval errors are relative to their forecasts; 3 brought the
 * selecting model and missing steps; 2 had the double-seasonal model). A
 * state of another version or configuration is not restored: the loop logs
 * state_not_restored with the reason ("format version 3, this build reads
 * 4; starting afresh") and starts afresh, and its next save replaces the
 * old text. With the default daily+weekly seasons and 60 s steps the text
 * holds three weeks of steps (null where a step was missing), the chosen
 * engine's indices and the recent errors, about 0.6 MB.
 */
#ifndef BF_AUTOSCALER_STATE_H
#define BF_AUTOSCALER_STATE_H

#include <stddef.h>

#include "libbf/err.h"

typedef struct bf_state_s bf_state_t;

/**
 * @brief Where the state lives.
 * @param url redis://[[user]:password@]host[:port][/db] (copied)
 * @param key the key (copied)
 * @returns a handle, or NULL with errstr filled (a bad URL).
 */
bf_state_t *bf_state_new(const char *url, const char *key, double timeout_s, char *errstr,
                         size_t errstr_size);

/** @brief Free. NULL-safe. */
void bf_state_destroy(bf_state_t *st);

/**
 * @brief Read the saved text into *out (malloc'd), or NULL when none saved.
 * @returns BF_OK (also when nothing is saved), BF_ERR_REDIS or BF_ERR_TIMEOUT.
 */
bf_err_t bf_state_load(bf_state_t *st, char **out, char *errstr, size_t errstr_size);

/** @brief Save @p text (borrowed). @returns BF_OK or BF_ERR_REDIS. */
bf_err_t bf_state_save(bf_state_t *st, const char *text, char *errstr,
                       size_t errstr_size);

#endif
