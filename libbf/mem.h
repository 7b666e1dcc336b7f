/*
 * mem.h - allocation with one out-of-memory policy: abort.
 *
 * Like redis's zmalloc and jq, bountyfleet does not try to limp on after an
 * allocation fails: a worker is stateless and restartable, and a half-built
 * result is worse than a restart. So every allocation goes through these
 * wrappers, which never return NULL, and callers need no NULL checks.
 * jansson is set to allocate through bf_malloc() as well (mem.c), so a
 * json_object() or json_array_append_new() that returns needs no check
 * for memory either (json_string() still returns NULL for text that is
 * not UTF-8).
 */
#ifndef BF_MEM_H
#define BF_MEM_H

#include <stddef.h>

/** @brief malloc() that aborts on failure. @returns never NULL. */
void *bf_malloc(size_t size);
/** @brief calloc() that aborts on failure. @returns never NULL. */
void *bf_calloc(size_t nmemb, size_t size);
/** @brief realloc() that aborts on failure. @returns never NULL. */
void *bf_realloc(void *ptr, size_t size);
/** @brief strdup() that aborts on failure; bf_strdup(NULL) returns NULL. */
char *bf_strdup(const char *s);
/** @brief strndup() that aborts on failure. @returns never NULL. */
char *bf_strndup(const char *s, size_t n);
/** @brief printf into a newly allocated string (caller frees). */
char *bf_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
