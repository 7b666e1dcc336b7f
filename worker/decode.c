/*
 * decode.c - a record's bytes to a checked report (see worker_int.h).
 *
 * The codec recognises the framing by the first bytes (Avro single-object,
 * Confluent, JSON) and checks the record against report.avsc; the report
 * module then checks what a schema cannot say (non-empty text, bounds,
 * severities). Whatever fails is a dead letter with the reason, never a
 * crash and never a silent drop.
 */
#include <stdio.h>

#include "libbf/backoff.h"
#include "libbf/log.h"
#include "worker/worker_int.h"

/* A Confluent id the worker has not seen is looked up in the Schema
 * Registry during the decode (a blocking request, bounded by
 * REGISTRY_LOOKUP_TIMEOUT_S). A registry that cannot answer now (down,
 * timing out, 5xx, 429) is not the report's fault: the report waits, its
 * offset uncommitted, fetching pauses, and the decode is retried with
 * backoff; the first lookup that gets an answer resumes fetching. Only a
 * definitive answer (the id is unknown) makes a dead letter. */
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

void bf_decode_report(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    rd_kafka_message_t *m = j->msg;
    char errstr[256] = "";
    if (m->len > BF_REPORT_MAX_ENCODED) {
        snprintf(errstr, sizeof(errstr), "record is %zu bytes, more than %d", m->len,
                 BF_REPORT_MAX_ENCODED);
        bf_dead_letter(j, BF_ERR_TOO_LARGE, errstr);
        return;
    }
    json_t *obj = NULL;
    uint64_t asked = w->registry ? bf_registry_requests(w->registry) : 0;
    bf_err_t err = bf_codec_decode(w->codec, BF_RECORD_REPORT, m->payload, m->len, &obj,
                                   NULL, errstr, sizeof(errstr));
    if ((err == BF_ERR_HTTP || err == BF_ERR_TIMEOUT) &&
        bf_registry_failed_transiently(w->registry)) {
        bf_series_add(w->tel.registry_retries, 1);
        if (!w->registry_blocked) {
            bf_log(BF_LOG_WARN, "worker", "schema_registry_unavailable_pausing",
                   BF_LINT("partition", j->partition), BF_LINT("offset", j->offset),
                   BF_LSTR("error", errstr));
            bf_series_add(bf_metric_series(w->tel.pauses, "schema_registry"), 1);
            w->registry_blocked = true;
            bf_intake_update(w);
        }
        uv_timer_start(
            &j->timers[BF_JOB_T_DECODE], on_decode_retry,
            bf_backoff_ms(&(bf_backoff_t){0.5, 30.0, 1.0}, j->decode_attempts++) + 100,
            0);
        return;
    }
    /* A request that got an answer (the schema, or a definitive "no"). */
    if (w->registry && bf_registry_requests(w->registry) != asked)
        registry_answered(w);
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
