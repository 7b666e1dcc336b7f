/*
 * capture.c - a ring of the last requests (see capture.h).
 */
#include "capture.h"

#include <pthread.h>
#include <stdlib.h>

#include "libbf/mem.h"

struct bf_aisim_capture_s {
    pthread_mutex_t lock;
    json_t **ring;
    size_t n, next, count;
};

bf_aisim_capture_t *bf_aisim_capture_new(size_t n)
{
    bf_aisim_capture_t *c = bf_calloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->n = n;
    c->ring = n ? bf_calloc(n, sizeof(*c->ring)) : NULL;
    return c;
}

void bf_aisim_capture_clear(bf_aisim_capture_t *c)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n; i++) {
        json_decref(c->ring[i]);
        c->ring[i] = NULL;
    }
    c->next = c->count = 0;
    pthread_mutex_unlock(&c->lock);
}

void bf_aisim_capture_destroy(bf_aisim_capture_t *c)
{
    if (!c)
        return;
    bf_aisim_capture_clear(c);
    pthread_mutex_destroy(&c->lock);
    free(c->ring);
    free(c);
}

void bf_aisim_capture_add(bf_aisim_capture_t *c, json_t *entry)
{
    if (!c->n) {
        json_decref(entry);
        return;
    }
    pthread_mutex_lock(&c->lock);
    json_decref(c->ring[c->next]);
    c->ring[c->next] = entry;
    c->next = (c->next + 1) % c->n;
    if (c->count < c->n)
        c->count++;
    pthread_mutex_unlock(&c->lock);
}

char *bf_aisim_capture_to_json(bf_aisim_capture_t *c)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&c->lock);
    size_t start = (c->next + c->n - c->count) % (c->n ? c->n : 1);
    for (size_t i = 0; i < c->count; i++)
        json_array_append(arr, c->ring[(start + i) % c->n]);
    pthread_mutex_unlock(&c->lock);
    char *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!out)
        abort(); /* allocation failure: the project's out-of-memory policy */
    return out;
}
