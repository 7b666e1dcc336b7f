/*
 * buf.h - a growable byte buffer with a hard maximum.
 *
 * Modelled on curl's curlx_dyn: every buffer is created with the largest
 * size it may ever reach, so input from outside (an HTTP body, a Kafka
 * message, a file) can never grow it without bound. The content is always
 * NUL-terminated so text can be handed to C string functions.
 */
#ifndef BF_BUF_H
#define BF_BUF_H

#include <stddef.h>

#include "libbf/err.h"

typedef struct bf_buf_s {
    char *data; /* owned; NUL-terminated; NULL until the first append */
    size_t len; /* bytes in use, not counting the terminator */
    size_t cap; /* bytes allocated */
    size_t max; /* largest len allowed */
} bf_buf_t;

/** @brief Initialise an empty buffer that may hold up to @p max bytes. */
void bf_buf_init(bf_buf_t *b, size_t max);
/** @brief Free the content and reset to empty (max is kept). NULL-safe. */
void bf_buf_free(bf_buf_t *b);
/** @brief Forget the content but keep the allocation. */
void bf_buf_reset(bf_buf_t *b);
/**
 * @brief Append @p len bytes (copied).
 * @returns BF_OK, or BF_ERR_TOO_LARGE (buffer unchanged) past the maximum.
 */
bf_err_t bf_buf_append(bf_buf_t *b, const void *data, size_t len);
/** @brief Append a NUL-terminated string (copied). */
bf_err_t bf_buf_puts(bf_buf_t *b, const char *s);
/** @brief Append printf-formatted text. */
bf_err_t bf_buf_printf(bf_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/**
 * @brief Take the content out of the buffer; the caller owns it (free()).
 * The buffer is left empty. Returns an empty string for an empty buffer.
 */
char *bf_buf_steal(bf_buf_t *b, size_t *len);

#endif
