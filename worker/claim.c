/*
 * claim.c - what Redis says about a report before any AI is paid for (see
 * worker_int.h and dedup.h).
 *
 * One Lua script answers atomically: a stored result (a redelivered report
 * never pays twice), an exact duplicate of earlier content (the first
 * report_id wins), another worker's lease on this very report (wait for
 * its result), or the claim; a claimed report then goes through the
 * near-duplicate check (neardup.h) in the same script and round trip
 * (one round trip fewer than a second script, and one EVAL less for
 * Redis). Redis down or slow is not the report's fault: fail-closed waits
 * with fetching paused, fail-open analyses anyway and says so in the
 * result.
 */
#include <stdio.h>
#include <string.h>

#include "libbf/backoff.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/worker_int.h"

static void on_claim_retry(uv_timer_t *t)
{
    bf_claim(t->data);
}

static void retry_claim(bf_job_t *j, double cap_s)
{
    uv_timer_start(
        &j->timers[BF_JOB_T_CLAIM], on_claim_retry,
        bf_backoff_ms(&(bf_backoff_t){0.2, cap_s, 1.0}, j->claim_attempts++) + 50, 0);
}

/* Redis could not answer the claim for this report (down, slow past
 * --redis-timeout, or an error reply). fail-closed: the report waits, its
 * offset uncommitted, and fetching pauses until Redis is back. fail-open:
 * validate it anyway and say so in its reasons. */
static void claim_unavailable(bf_job_t *j, const char *why)
{
    bf_worker_t *w = j->w;
    if (w->fail_open) {
        j->dedup_unchecked = true;
        bf_log(BF_LOG_DEBUG, "worker", "dedup_skipped",
               BF_LSTR("report_id", j->report->report_id), BF_LSTR("error", why));
        bf_analyse_start(j);
        return;
    }
    if (!w->redis_blocked) {
        bf_log(BF_LOG_WARN, "worker", "redis_unavailable_pausing", BF_LSTR("error", why),
               BF_LINT("in_flight", w->in_flight));
        bf_series_add(bf_metric_series(w->tel.pauses, "redis"), 1);
        w->redis_blocked = true;
        bf_intake_update(w);
    }
    retry_claim(j, 5.0);
}

/* Near duplicates, once the exact claim is ours (the claim script ran the
 * check in the same round trip): a hit is answered like an exact
 * duplicate, with the estimated similarity and no AI spend; a check that
 * failed retries the whole claim (the same worker re-claims its lease). */
static void on_near_duplicate(bf_job_t *j, const redisReply *reply, bool published)
{
    bf_neardup_answer_t answer;
    bf_err_t err = bf_neardup_answer_parse(reply, &answer);
    if (err) {
        bf_log(BF_LOG_WARN, "worker", "near_dup_check_failed",
               BF_LSTR("report_id", j->report->report_id),
               BF_LSTR("error", bf_err_str(err)));
        claim_unavailable(j, bf_err_str(err));
    } else if (answer.duplicate) {
        bf_result_duplicate(j, answer.original, answer.similarity, published);
    } else {
        bf_analyse_start(j);
    }
}

static void on_claim(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    bf_job_t *j = opaque;
    bf_worker_t *w = j->w;
    if (w->shutdown)
        return;
    /* four elements, five for a claim with its near-duplicate check */
    if (err || reply->type != REDIS_REPLY_ARRAY || reply->elements < 4 ||
        reply->elements > 5 || reply->element[0]->type != REDIS_REPLY_STRING) {
        const char *why =
            reply && reply->type == REDIS_REPLY_ERROR ? reply->str : bf_err_str(err);
        bf_log(BF_LOG_DEBUG, "worker", "claim_failed",
               BF_LSTR("report_id", j->report->report_id), BF_LSTR("error", why));
        claim_unavailable(j, why);
        return;
    }
    if (w->redis_blocked) {
        w->redis_blocked = false;
        bf_log(BF_LOG_INFO, "worker", "redis_back");
        bf_intake_update(w);
    }
    const char *state = reply->element[0]->str;
    redisReply *value = reply->element[1];
    bool published =
        reply->element[2]->type == REDIS_REPLY_INTEGER && reply->element[2]->integer;
    if (strcmp(state, "cached") == 0 && value->type == REDIS_REPLY_STRING) {
        w->cached++;
        bf_result_cached(j, value->str, value->len, published);
    } else if (strcmp(state, "duplicate") == 0 && value->type == REDIS_REPLY_STRING) {
        bf_result_duplicate(j, value->str, 1.0, published);
    } else if (strcmp(state, "busy") == 0) {
        /* Another worker is analysing this very report (a rebalance moved
         * it while in flight): wait for its result rather than pay twice. */
        retry_claim(j, 2.0);
    } else if (strcmp(state, "claimed") == 0 || strcmp(state, "reclaimed") == 0) {
        /* A claim that took content nobody had cannot find answers in the
         * AI layer's response cache, whose keys hash the whole report, id
         * included: they are written after the claim, and live as long as
         * its fingerprint (both --dedup-ttl). So its calls skip the
         * lookup, a round trip and an MGET a report. Only a report
         * analysed without a claim (fail-open, Redis unreachable) and then
         * redelivered pays again for answers it may have had. */
        j->ai_input->uncached = strcmp(state, "claimed") == 0;
        if (reply->element[3]->type == REDIS_REPLY_STRING) {
            /* Its holder stopped renewing its liveness: it died with the
             * report in flight, and only what it had paid for by then is
             * paid again. */
            bf_series_add(w->tel.claims_taken_over, 1);
            bf_log(BF_LOG_INFO, "worker", "claim_taken_over",
                   BF_LSTR("report_id", j->report->report_id),
                   BF_LSTR("dead_holder", reply->element[3]->str));
        }
        if (reply->elements == 5)
            on_near_duplicate(j, reply->element[4], published);
        else
            bf_analyse_start(j);
    } else {
        bf_log(BF_LOG_ERROR, "worker", "claim_unexpected_reply", BF_LSTR("state", state));
        retry_claim(j, 5.0);
    }
}

void bf_claim(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    const char *pfx = w->cfg->key_prefix;
    const char *id = j->report->report_id;
    char *k_fp = bf_asprintf("%sfp:%s", pfx, j->fingerprint);
    char *k_res = bf_asprintf("%sresult:%s", pfx, id);
    char *k_lease = bf_asprintf("%slease:%s", pfx, id);
    char *k_pub = bf_asprintf("%spub:%s", pfx, id);
    char ttl[32], lease[32];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)w->cfg->dedup_ttl_s);
    snprintf(lease, sizeof(lease), "%lld", (long long)(w->cfg->lease_s * 1000));
    char *alive = bf_asprintf("%salive:", pfx);
    const char *argv[] = {
        "EVAL", bf_dedup_claim_script, "4", k_fp,  k_res, k_lease, k_pub,
        id,     w->cfg->worker_id,     ttl, lease, alive};
    const int argc = (int)(sizeof(argv) / sizeof(argv[0]));
    bf_err_t err;
    bf_neardup_sig_t sig;
    /* A dry run writes nothing (the check registers the report's
     * signature); a report without words is never a near duplicate. */
    bool near = w->neardup.threshold > 0 && !w->cfg->dry_run;
    if (near)
        bf_neardup_signature(j->report, &sig);
    if (near && sig.shingles) {
        /* One round trip: the claim, then the near-duplicate check. */
        argv[1] = bf_neardup_claim_script;
        bf_neardup_request_t req;
        bf_neardup_request_init_after(&req, argc, argv, NULL, &w->neardup, pfx,
                                      w->cfg->dedup_ttl_s, id, &sig);
        err = bf_worker_redis(w, on_claim, j, req.argc, (const char **)req.argv,
                              req.argvlen);
        bf_neardup_request_free(&req);
    } else {
        if (w->cfg->dry_run)
            argv[1] = bf_dedup_peek_script;
        err = bf_worker_redis(w, on_claim, j, argc, argv, NULL);
    }
    free(alive);
    free(k_fp);
    free(k_res);
    free(k_lease);
    free(k_pub);
    if (err)
        claim_unavailable(j, "not connected");
}
