/*
 * decode.c - a record's bytes to a checked report (see worker_int.h).
 *
 * The codec recognises the framing by the first bytes (Avro single-object,
 * Confluent, JSON) and checks the record against report.avsc; the report
 * module then checks what a schema cannot say (non-empty text, bounds,
 * severities). Whatever fails is a dead letter with the reason, never a
 * crash and never a silent drop.
 *
 * A Confluent id the worker has not seen is looked up in the Schema
 * Registry, asynchronously on the event loop (registry.h: the client is
 * attached to the worker's HTTP client), so the decode gives one of three
 * answers about it:
 *
 *   BF_ERR_PENDING      the registry has been asked: the job waits in
 *                       w->registry_waiting, its offset uncommitted, with
 *                       no timer; the answer decodes it again (one request
 *                       serves every job waiting for the same id).
 *   BF_ERR_UNAVAILABLE  the registry cannot answer now (down, timing out,
 *                       5xx, 429, or failed fast after one of those): not
 *                       the report's fault. Fetching pauses, and the job
 *                       waits for a retry with backoff, or for the next
 *                       answer the registry gives, whichever comes first;
 *                       that answer resumes fetching.
 *   BF_ERR_UNKNOWN_SCHEMA  a definitive answer, the id is unknown: a dead
 *                       letter with the registry's reason.
 *
 * A waiting job leaves the lists when it is decoded again or freed
 * (bf_decode_forget: shutdown, drain deadline).
 */
#include <stdio.h>

#include "libbf/backoff.h"
#include "libbf/log.h"
#include "worker/worker_int.h"

/* Retries of a lookup the registry could not answer: full jitter, so that
 * the jobs (and workers) that failed together do not come back in step,
 * and never sooner than the floor, so that a draw near 0 is no busy loop. */
static const bf_backoff_t decode_backoff = {0.5, 30.0, 1.0};
#define DECODE_RETRY_FLOOR_MS 100

static void wait_on(bf_job_t *j, bf_job_t **list)
{
    j->wait_list = list;
    j->wait_prev = NULL;
    j->wait_next = *list;
    if (j->wait_next)
        j->wait_next->wait_prev = j;
    *list = j;
}

static void wait_end(bf_job_t *j)
{
    if (!j->wait_list)
        return;
    if (j->wait_prev)
        j->wait_prev->wait_next = j->wait_next;
    else
        *j->wait_list = j->wait_next;
    if (j->wait_next)
        j->wait_next->wait_prev = j->wait_prev;
    j->wait_prev = j->wait_next = NULL;
    j->wait_list = NULL;
}

void bf_decode_forget(bf_job_t *j)
{
    wait_end(j);
}

static void on_decode_retry(uv_timer_t *t)
{
    bf_decode_report(t->data);
}

static void registry_answered(bf_worker_t *w)
{
    if (!w->registry_blocked)
        return;
    w->registry_blocked = false;
    bf_log(BF_LOG_INFO, "worker", "schema_registry_back");
    bf_intake_update(w);
}

static void registry_unavailable(bf_job_t *j, const char *errstr)
{
    bf_worker_t *w = j->w;
    bf_series_add(w->tel.registry_retries, 1);
    if (!w->registry_blocked) {
        bf_log(BF_LOG_WARN, "worker", "schema_registry_unavailable_pausing",
               BF_LINT("partition", j->partition), BF_LINT("offset", j->offset),
               BF_LSTR("error", errstr));
        bf_series_add(bf_metric_series(w->tel.pauses, "schema_registry"), 1);
        w->registry_blocked = true;
        bf_intake_update(w);
    }
    j->registry_pending = false;
    wait_on(j, &w->registry_waiting);
    uv_timer_start(
        &j->timers[BF_JOB_T_DECODE], on_decode_retry,
        bf_backoff_ms(&decode_backoff, j->decode_attempts++) + DECODE_RETRY_FLOOR_MS, 0);
}

void bf_decode_on_registry_answer(void *opaque, int32_t id, bf_err_t err,
                                  const char *errstr)
{
    bf_worker_t *w = opaque;
    /* Destroying (the HTTP client cancels what is in flight), or a
     * request cancelled for that reason: the jobs are being freed. */
    if (w->shutdown || err == BF_ERR_STATE)
        return;
    bool answered = err != BF_ERR_UNAVAILABLE;
    bf_log(BF_LOG_DEBUG, "worker", "schema_registry_answer", BF_LINT("id", id),
           BF_LSTR("code", bf_err_name(err)), BF_LSTR("error", err ? errstr : ""));
    if (answered)
        registry_answered(w);
    /* Every job waiting for an answer is decoded again: the codec finds
     * its schema now, or the registry's "unknown", or asks for another id.
     * Once the registry answers, so are the jobs waiting for a retry. They
     * move to a list of their own first, as a decode can put its job
     * back on the waiting list. */
    for (bf_job_t *j = w->registry_waiting, *next; j; j = next) {
        next = j->wait_next;
        if (!j->registry_pending && !answered)
            continue;
        wait_end(j);
        uv_timer_stop(&j->timers[BF_JOB_T_DECODE]);
        wait_on(j, &w->registry_retrying);
    }
    bf_job_t *j;
    while ((j = w->registry_retrying))
        bf_decode_report(j);
}

void bf_decode_report(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    char errstr[256] = "";
    wait_end(j);
    if (j->payload_len > BF_REPORT_MAX_ENCODED) {
        snprintf(errstr, sizeof(errstr), "record is %zu bytes, more than %d",
                 j->payload_len, BF_REPORT_MAX_ENCODED);
        bf_dead_letter(j, BF_ERR_TOO_LARGE, errstr);
        return;
    }
    json_t *obj = NULL;
    bf_err_t err = bf_codec_decode(w->codec, BF_RECORD_REPORT, j->payload, j->payload_len,
                                   &obj, NULL, errstr, sizeof(errstr));
    if (err == BF_ERR_PENDING) {
        j->registry_pending = true;
        wait_on(j, &w->registry_waiting);
        return;
    }
    if (err == BF_ERR_UNAVAILABLE) {
        registry_unavailable(j, errstr);
        return;
    }
    if (err == BF_OK)
        err = bf_report_from_json(obj, &j->report, errstr, sizeof(errstr));
    json_decref(obj);
    if (err) {
        bf_dead_letter(j, err, errstr);
        return;
    }
    j->ai_input = bf_ai_input_from_report(j->report);
    bf_dedup_fingerprint(j->report, j->fingerprint);
    bf_claim(j);
}
