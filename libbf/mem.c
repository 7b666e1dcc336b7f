/*
 * mem.c - allocation wrappers that abort on out-of-memory (see mem.h).
 */
#include "libbf/mem.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
    /* No allocation, no formatting library that may allocate: write(2)-like. */
    fprintf(stderr,
            "{\"level\":\"fatal\",\"component\":\"mem\",\"event\":\"out_of_memory\","
            "\"bytes\":%zu}\n",
            size);
    abort();
}

void *bf_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *bf_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *bf_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

char *bf_strdup(const char *s)
{
    if (!s)
        return NULL;
    return bf_strndup(s, strlen(s));
}

char *bf_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = bf_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *bf_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    char *p = bf_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* jansson allocates with malloc() and returns NULL when that fails, and
 * code here uses json_object(), json_array_append_new() and friends
 * without checking, as the rule above allows: so jansson allocates with
 * the same policy. Set before main() runs (and before any jansson call in
 * a test or a fuzz target), for every program linked with libbf: this
 * file is in each of them (everything allocates through it). */
static void *json_alloc(size_t size)
{
    return bf_malloc(size);
}

__attribute__((constructor)) static void json_alloc_policy(void)
{
    json_set_alloc_funcs(json_alloc, free);
}
