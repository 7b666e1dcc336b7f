/*
 * timers.c - a timer thread over a binary min-heap (see timers.h).
 *
 * The heap is an array ordered by due time, earliest at index 0; push and
 * pop are O(log n), so ten thousand held requests cost a few hundred
 * bytes each and no threads. Entries with equal due times keep their
 * insertion order (a sequence number breaks ties) so that requests with the
 * same latency are answered first-come, first-served.
 *
 * The thread pops every entry that is due in one pass under the lock, then
 * runs the callbacks with the lock released: a callback (which resumes an
 * HTTP connection) may take libmicrohttpd's locks, and holding ours then
 * would order the two locks differently from the request path, which adds
 * entries while inside libmicrohttpd.
 */
#include "timers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/mem.h"

typedef struct entry_s {
    uint64_t due_ns;
    uint64_t seq;
    bf_aisim_timer_cb_t *cb;
    void *arg;
} entry_t;

struct bf_aisim_timers_s {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
    entry_t *heap;
    size_t count, cap, max;
    uint64_t next_seq;
    bool closed; /* no more entries; the thread exits */
    pthread_t thread;
    bool joined; /* by bf_aisim_timers_close(); guarded by close being single-caller */
};

/* Callbacks run per pass of the thread, at most; bounds the stack batch. */
#define BATCH 256

uint64_t bf_aisim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool earlier(const entry_t *a, const entry_t *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void swap(entry_t *a, entry_t *b)
{
    entry_t t = *a;
    *a = *b;
    *b = t;
}

static void sift_up(entry_t *h, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&h[i], &h[parent]))
            break;
        swap(&h[i], &h[parent]);
        i = parent;
    }
}

static void sift_down(entry_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && earlier(&h[l], &h[m]))
            m = l;
        if (r < n && earlier(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        swap(&h[i], &h[m]);
        i = m;
    }
}

static entry_t pop_min(bf_aisim_timers_t *t)
{
    entry_t top = t->heap[0];
    t->heap[0] = t->heap[--t->count];
    sift_down(t->heap, t->count, 0);
    return top;
}

static void run_all(entry_t *batch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        batch[i].cb(batch[i].arg);
}

static void *timer_thread(void *arg)
{
    bf_aisim_timers_t *t = arg;
    entry_t batch[BATCH];
    pthread_mutex_lock(&t->lock);
    while (!t->closed) {
        if (t->count == 0) {
            pthread_cond_wait(&t->wake, &t->lock);
            continue;
        }
        uint64_t now = bf_aisim_now_ns();
        if (t->heap[0].due_ns > now) {
            struct timespec until = {.tv_sec = (time_t)(t->heap[0].due_ns / 1000000000u),
                                     .tv_nsec = (long)(t->heap[0].due_ns % 1000000000u)};
            int rc = pthread_cond_timedwait(&t->wake, &t->lock, &until);
            if (rc != 0 && rc != ETIMEDOUT)
                break; /* EINVAL cannot happen with a valid timespec */
            continue;
        }
        size_t n = 0;
        while (n < BATCH && t->count > 0 && t->heap[0].due_ns <= now)
            batch[n++] = pop_min(t);
        pthread_mutex_unlock(&t->lock);
        run_all(batch, n);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

bf_aisim_timers_t *bf_aisim_timers_new(size_t max_pending, char *errstr,
                                       size_t errstr_size)
{
    bf_aisim_timers_t *t = bf_calloc(1, sizeof(*t));
    pthread_condattr_t ca;
    t->max = max_pending;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&t->thread, NULL, timer_thread, t);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot start the timer thread: %s", strerror(rc));
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
    }
    return t;
}

bf_err_t bf_aisim_timers_add(bf_aisim_timers_t *t, uint64_t due_ns,
                             bf_aisim_timer_cb_t *cb, void *arg)
{
    bf_err_t err = BF_OK;
    pthread_mutex_lock(&t->lock);
    if (t->closed) {
        err = BF_ERR_STATE;
    } else if (t->count == t->max) {
        err = BF_ERR_TOO_LARGE;
    } else {
        if (t->count == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 64;
            if (t->cap > t->max)
                t->cap = t->max;
            t->heap = bf_realloc(t->heap, t->cap * sizeof(*t->heap));
        }
        size_t i = t->count++;
        t->heap[i] = (entry_t){due_ns, t->next_seq++, cb, arg};
        sift_up(t->heap, i);
        /* Only a new earliest entry changes how long the thread sleeps. */
        if (t->heap[0].seq == t->next_seq - 1)
            pthread_cond_signal(&t->wake);
    }
    pthread_mutex_unlock(&t->lock);
    return err;
}

/* Stop the thread first (it may be running a batch, which it finishes),
 * so that when this returns every callback has completed: the caller is
 * about to tear down what the callbacks touch. */
void bf_aisim_timers_close(bf_aisim_timers_t *t)
{
    entry_t batch[BATCH];
    pthread_mutex_lock(&t->lock);
    t->closed = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    if (!t->joined) {
        pthread_join(t->thread, NULL);
        t->joined = true;
    }
    pthread_mutex_lock(&t->lock);
    while (t->count > 0) {
        size_t n = 0;
        while (n < BATCH && t->count > 0)
            batch[n++] = pop_min(t);
        pthread_mutex_unlock(&t->lock);
        run_all(batch, n);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
}

void bf_aisim_timers_destroy(bf_aisim_timers_t *t)
{
    if (!t)
        return;
    bf_aisim_timers_close(t);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t->heap);
    free(t);
}
