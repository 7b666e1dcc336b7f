/*
 * buf.c - bounded growable buffer (see buf.h).
 */
#include "libbf/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"

void bf_buf_init(bf_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void bf_buf_free(bf_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void bf_buf_reset(bf_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Make room for @p extra more bytes plus the terminator, doubling so that
 * appends are amortised O(1). */
static bf_err_t reserve(bf_buf_t *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return BF_ERR_TOO_LARGE;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return BF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    b->data = bf_realloc(b->data, cap);
    b->cap = cap;
    return BF_OK;
}

bf_err_t bf_buf_append(bf_buf_t *b, const void *data, size_t len)
{
    bf_err_t err = reserve(b, len);
    if (err)
        return err;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return BF_OK;
}

bf_err_t bf_buf_puts(bf_buf_t *b, const char *s)
{
    return bf_buf_append(b, s, strlen(s));
}

bf_err_t bf_buf_printf(bf_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return BF_ERR_INVALID_ARG;
    bf_err_t err = reserve(b, (size_t)n);
    if (err)
        return err;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return BF_OK;
}

char *bf_buf_steal(bf_buf_t *b, size_t *len)
{
    char *p = b->data ? b->data : bf_strdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
