/*
 * registry_server.h - test support: an in-process HTTP server on loopback
 * that answers like a Confluent Schema Registry's REST API (the subset
 * clients use: register under a subject, ids, subjects, versions), with
 * the registry's status codes and {"error_code", "message"} bodies.
 *
 * It runs on libmicrohttpd's own thread, on an ephemeral port, so tests in
 * one process can talk to it synchronously (the registry client) or hand
 * its URL to a child process (the producer, a worker).
 */
#ifndef BF_TEST_REGISTRY_SERVER_H
#define BF_TEST_REGISTRY_SERVER_H

#include <stdint.h>

typedef struct bf_test_registry_s bf_test_registry_t;

/**
 * @brief Start a registry on 127.0.0.1 and an ephemeral port.
 * @param user_info when not NULL, every request needs HTTP basic auth with
 *        these "user:password" credentials (else 401, error_code 401)
 * @returns the server, or NULL with a message on stderr.
 */
bf_test_registry_t *bf_test_registry_start(const char *user_info);

/** @brief Stop the server and free it. NULL-safe. */
void bf_test_registry_stop(bf_test_registry_t *r);

/** @brief Its base URL, e.g. "http://127.0.0.1:40123". */
const char *bf_test_registry_url(const bf_test_registry_t *r);

/** @brief Register a schema directly (as a POST would). @returns its id. */
int32_t bf_test_registry_add(bf_test_registry_t *r, const char *subject,
                             const char *schema);

/** @brief Requests served so far. */
unsigned bf_test_registry_requests(bf_test_registry_t *r);

/** @brief Make each following request wait @p ms before it is answered. */
void bf_test_registry_set_delay_ms(bf_test_registry_t *r, int ms);

/** @brief Answer the next @p count requests with @p status and an error
 *         body (e.g. 500, error_code 50001, as the registry does when its
 *         backing store fails). */
void bf_test_registry_fail_next(bf_test_registry_t *r, int status, int count);

#endif
