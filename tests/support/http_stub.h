/*
 * http_stub.h - test support: an in-process HTTP server on loopback whose
 * every answer is chosen by a callback, for tests that need a peer to say
 * exactly one thing (an AI provider answering a given body, say).
 *
 * It runs on libmicrohttpd's own thread, on an ephemeral port; the
 * callback runs on that thread.
 */
#ifndef BF_TEST_HTTP_STUB_H
#define BF_TEST_HTTP_STUB_H

#include <microhttpd.h>
#include <stddef.h>

typedef struct bf_test_stub_s bf_test_stub_t;

/**
 * Answer one request: set *status and *body (malloc'd, the stub frees it;
 * NULL: empty) and *body_len.
 * @param body the request body, borrowed, NUL-terminated (len bytes)
 */
typedef void(bf_test_stub_cb)(void *opaque, const char *method, const char *path,
                              const char *body, size_t len, int *status, char **out,
                              size_t *out_len);

/** @brief Start on 127.0.0.1 and an ephemeral port. NULL on failure. */
bf_test_stub_t *bf_test_stub_start(bf_test_stub_cb *cb, void *opaque);

/** @brief Stop and free. NULL-safe. */
void bf_test_stub_stop(bf_test_stub_t *s);

/** @brief Its base URL, e.g. "http://127.0.0.1:40123". */
const char *bf_test_stub_url(const bf_test_stub_t *s);

/**
 * @brief Start a libmicrohttpd daemon on 127.0.0.1 and an ephemeral port,
 *        on its own thread, and write its base URL into @p url (what the
 *        stub and the registry server are built on).
 * @returns the daemon, or NULL with a message on stderr.
 */
struct MHD_Daemon *bf_test_mhd_start(MHD_AccessHandlerCallback handler, void *cls,
                                     MHD_RequestCompletedCallback completed, char *url,
                                     size_t url_size);

#endif
