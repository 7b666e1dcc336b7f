/*
 * liveness.c - what the worker keeps in Redis about itself (see
 * worker_int.h): that it is alive, and which Redis it has been talking to.
 *
 * Alive. {prefix}alive:{worker_id} lives for --liveness-ttl and is renewed
 * every third of it. The claim script (dedup.c) lets a report's lease
 * block other workers only while its holder's key exists, so the claims of
 * a killed worker are free again within the TTL, not after the whole
 * --lease. On a clean stop the key is deleted, so that whatever the worker
 * abandoned at its drain deadline is taken over at once.
 *
 * Which Redis. {prefix}instance holds a random id, set by the first worker
 * that finds none and never expiring. Redis restarted without persistence
 * (or flushed) comes back without it: the next renewal finds it missing, or
 * set to another worker's new id, and the worker says so loudly (an error
 * log line and bountyfleet_redis_data_lost_total), because from then on
 * redelivered reports are analysed and published again and duplicates of
 * earlier reports are not recognised. Both happen in one script, once per
 * renewal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libbf/log.h"
#include "libbf/mem.h"
#include "libbf/random.h"
#include "worker/worker_int.h"

/* KEYS: alive, instance. ARGV: alive ttl (ms), a new instance id.
 * Returns {1, id} when the instance key was there, {0, id} when this
 * call just created it. */
static const char RENEW_SCRIPT[] = "redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])\n"
                                   "local id = redis.call('GET', KEYS[2])\n"
                                   "if id then return {1, id} end\n"
                                   "redis.call('SET', KEYS[2], ARGV[2])\n"
                                   "return {0, ARGV[2]}\n";

static void on_renewed(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    bf_worker_t *w = opaque;
    if (w->shutdown)
        return;
    if (err || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        bf_log(BF_LOG_DEBUG, "worker", "liveness_renew_failed",
               BF_LSTR("error", reply && reply->type == REDIS_REPLY_ERROR
                                    ? reply->str
                                    : bf_err_str(err)));
        return;
    }
    const char *id = reply->element[1]->str;
    bool existed = reply->element[0]->integer == 1;
    if (w->redis_instance[0] && strcmp(w->redis_instance, id) != 0) {
        bf_series_add(w->tel.redis_data_lost, 1);
        bf_log(BF_LOG_ERROR, "worker", "redis_data_lost",
               BF_LSTR("previous_instance", w->redis_instance), BF_LSTR("instance", id),
               BF_LBOOL("created_by_us", !existed),
               BF_LSTR("consequence",
                       "stored results, fingerprints and leases are gone: redelivered "
                       "reports are analysed and published again; run Redis with "
                       "persistence (ops/RUNBOOK.md)"));
    }
    snprintf(w->redis_instance, sizeof(w->redis_instance), "%s", id);
}

static void renew(bf_worker_t *w)
{
    if (!w->redis || w->cfg->dry_run)
        return;
    char *alive = bf_asprintf("%salive:%s", w->cfg->key_prefix, w->cfg->worker_id);
    char *instance = bf_asprintf("%sinstance", w->cfg->key_prefix);
    char ttl[32], id[40];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(w->cfg->liveness_ttl_s * 1000));
    snprintf(id, sizeof(id), "%016llx%016llx", (unsigned long long)bf_random_u64(),
             (unsigned long long)bf_random_u64());
    const char *argv[] = {"EVAL", RENEW_SCRIPT, "2", alive, instance, ttl, id};
    bf_worker_redis(w, on_renewed, w, 7, argv, NULL);
    free(alive);
    free(instance);
}

static void on_liveness_timer(uv_timer_t *t)
{
    renew(t->data);
}

void bf_liveness_start(bf_worker_t *w)
{
    if (w->cfg->dry_run)
        return;
    uint64_t every = (uint64_t)(w->cfg->liveness_ttl_s * 1000 / 3);
    uv_timer_start(&w->liveness_timer, on_liveness_timer, 0, every > 0 ? every : 1);
}

void bf_liveness_reconnected(bf_worker_t *w)
{
    renew(w); /* at once: a Redis that came back empty shows now */
}

static void on_deleted(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    (void)err;
    (void)reply;
    (void)opaque;
}

void bf_liveness_stop(bf_worker_t *w)
{
    if (!w->redis || w->cfg->dry_run)
        return;
    uv_timer_stop(&w->liveness_timer);
    /* Best effort: written before the loop ends (libbf/redis.c flushes in
     * the iteration's prepare phase); a worker that cannot tell Redis is
     * taken over after the TTL all the same. */
    char *alive = bf_asprintf("%salive:%s", w->cfg->key_prefix, w->cfg->worker_id);
    const char *argv[] = {"DEL", alive};
    bf_redis_command_argv(w->redis, on_deleted, NULL, 2, argv, NULL);
    free(alive);
}
