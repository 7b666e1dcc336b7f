/*
 * limits.c - per-provider token buckets of the simulator (see limits.h).
 */
#include "limits.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"
#include "providers.h"

typedef struct bucket_s {
    double rate; /* per second */
    double capacity;
    double level;
    double last;
} bucket_t;

struct bf_aisim_limits_s {
    pthread_mutex_t lock;
    double rpm, tpm;
    bucket_t requests[BF_AISIM_PROVIDER__COUNT], tokens[BF_AISIM_PROVIDER__COUNT];
    bool started;
};

static void bucket_init(bucket_t *b, double per_minute, double burst_s, double floor)
{
    b->rate = per_minute / 60.0;
    b->capacity = b->rate * burst_s;
    if (b->capacity < floor)
        b->capacity = floor;
    b->level = b->capacity;
    b->last = 0;
}

static void refill(bucket_t *b, double now)
{
    if (b->last == 0 || now > b->last) {
        if (b->last > 0)
            b->level += (now - b->last) * b->rate;
        if (b->level > b->capacity)
            b->level = b->capacity;
        b->last = now;
    }
}

bf_aisim_limits_t *bf_aisim_limits_new(double rpm, double tpm, double burst_s)
{
    bf_aisim_limits_t *l = bf_calloc(1, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    l->rpm = rpm;
    l->tpm = tpm;
    for (int p = 0; p < BF_AISIM_PROVIDER__COUNT; p++) {
        bucket_init(&l->requests[p], rpm, burst_s, 1);
        bucket_init(&l->tokens[p], tpm, burst_s, 1);
    }
    return l;
}

void bf_aisim_limits_destroy(bf_aisim_limits_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void bf_aisim_limits_reset(bf_aisim_limits_t *l, double now_s)
{
    pthread_mutex_lock(&l->lock);
    for (int p = 0; p < BF_AISIM_PROVIDER__COUNT; p++) {
        l->requests[p].level = l->requests[p].capacity;
        l->requests[p].last = now_s;
        l->tokens[p].level = l->tokens[p].capacity;
        l->tokens[p].last = now_s;
    }
    pthread_mutex_unlock(&l->lock);
}

/* Seconds until @p n fits (0 if it does). */
static double wait_for(const bucket_t *b, double n)
{
    if (b->rate <= 0 || b->level >= n)
        return 0;
    double need = n < b->capacity ? n : b->capacity;
    return need > b->level ? (need - b->level) / b->rate : 0;
}

void bf_aisim_limits_take(bf_aisim_limits_t *l, unsigned provider, int64_t tokens,
                          double now_s, bf_aisim_limit_t *out)
{
    memset(out, 0, sizeof(*out));
    out->allowed = true;
    if ((l->rpm <= 0 && l->tpm <= 0) || provider >= BF_AISIM_PROVIDER__COUNT)
        return;
    out->limited = true;
    pthread_mutex_lock(&l->lock);
    bucket_t *r = &l->requests[provider], *t = &l->tokens[provider];
    refill(r, now_s);
    refill(t, now_s);
    double wr = l->rpm > 0 ? wait_for(r, 1) : 0;
    /* A request larger than the whole token bucket fits once it is full. */
    double wt = l->tpm > 0 ? wait_for(t, (double)tokens) : 0;
    if (wr > 0 || wt > 0) {
        out->allowed = false;
        out->retry_after_s = wr > wt ? wr : wt;
    } else {
        if (l->rpm > 0)
            r->level -= 1;
        if (l->tpm > 0)
            t->level -= (double)tokens;
    }
    out->limit_requests = (int64_t)l->rpm;
    out->remaining_requests = r->level > 0 ? (int64_t)r->level : 0;
    out->reset_requests_s = r->rate > 0 ? (r->capacity - r->level) / r->rate : 0;
    out->limit_tokens = (int64_t)l->tpm;
    out->remaining_tokens = t->level > 0 ? (int64_t)t->level : 0;
    out->reset_tokens_s = t->rate > 0 ? (t->capacity - t->level) / t->rate : 0;
    pthread_mutex_unlock(&l->lock);
}
