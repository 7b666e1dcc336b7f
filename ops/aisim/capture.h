/*
 * capture.h - the last N requests the simulator received (method, path,
 * headers with secrets redacted, body), for tests that assert on the
 * exact shape of what a client sent: GET /debug/requests.
 *
 * @locality any thread (one mutex).
 */
#ifndef BF_AISIM_CAPTURE_H
#define BF_AISIM_CAPTURE_H

#include <jansson.h>
#include <stddef.h>

typedef struct bf_aisim_capture_s bf_aisim_capture_t;

/** @brief Keep the last @p n requests (0: capture nothing). */
bf_aisim_capture_t *bf_aisim_capture_new(size_t n);

/** @brief Free. NULL-safe. */
void bf_aisim_capture_destroy(bf_aisim_capture_t *c);

/** @brief Record one request. @param entry takes ownership */
void bf_aisim_capture_add(bf_aisim_capture_t *c, json_t *entry);

/** @brief Oldest first, as a JSON array. @returns a new string (free()). */
char *bf_aisim_capture_to_json(bf_aisim_capture_t *c);

/** @brief Forget everything. */
void bf_aisim_capture_clear(bf_aisim_capture_t *c);

#endif
