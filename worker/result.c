/*
 * result.c - result records (schemas/validation.avsc): made from the
 * verdict of the analyses, or a DUPLICATE answer, or a result Redis kept;
 * encoded in the worker's output framing, stored in Redis, then published
 * (see worker_int.h).
 *
 * A result is stored before it is published, so a redelivered report (a
 * crash, a rebalance) is answered from Redis and never pays for its
 * analyses again; a flag set after Kafka's acknowledgement (publish.c)
 * says it is out, so a redelivery does not publish it twice either.
 *
 * A report with a CVSS vector gets what the vector really scores
 * (libbf/cvss.h) in every result: cvss_score, cvss_version, cvss_rating.
 * The reasons then say when the report's claimed severity is another
 * rating (claimed_severity_disagrees) and when the severity analysis is
 * (severity_differs_from_cvss); two or more ratings apart, an analysed
 * report needs review (severity_far_from_cvss), since either the AI or
 * the vector is wrong. A vector that is not one is a reason too
 * (cvss_vector_invalid), never a score.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/cvss.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/worker_int.h"

/* The status as one of the schema's symbols, as a static string (for the
 * metric label), or NULL when it is none of them. */
const char *bf_result_status_symbol(const char *status)
{
    static const char *const symbols[] = {"VALID", "INVALID", "DUPLICATE",
                                          "NEEDS_REVIEW"};
    for (size_t i = 0; status && i < sizeof(symbols) / sizeof(symbols[0]); i++)
        if (strcmp(status, symbols[i]) == 0)
            return symbols[i];
    return NULL;
}

static void add_reason(json_t *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_reason(json_t *res, const char *fmt, ...)
{
    char text[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_array_append_new(json_object_get(res, "reasons"), json_string(text));
}

/* The report's vector scored into @p res (see the top of this file).
 * Returns its rating, or -1 without a vector that scores. */
static int cvss_of_report(const bf_report_t *r, json_t *res)
{
    if (!r->cvss_vector || !*r->cvss_vector)
        return -1;
    bf_cvss_t cvss;
    bf_cvss_scores_t sc;
    char why[200] = "";
    if (bf_cvss_parse(r->cvss_vector, &cvss, why, sizeof(why)) != BF_OK ||
        bf_cvss_score(&cvss, &sc) != BF_OK) {
        add_reason(res, "cvss_vector_invalid: %s", why);
        return -1;
    }
    json_object_set_new(res, "cvss_score", json_real(sc.score));
    json_object_set_new(res, "cvss_version",
                        json_string(bf_cvss_version_name(sc.version)));
    json_object_set_new(res, "cvss_rating",
                        json_string(bf_analysis_severity_symbol(sc.rating)));
    bf_cvss_rating_t claimed;
    if (r->claimed_severity &&
        bf_cvss_rating_parse(r->claimed_severity, &claimed) == BF_OK &&
        claimed != sc.rating)
        add_reason(res,
                   "claimed_severity_disagrees: claimed %s, but its CVSS %s vector "
                   "scores %.1f (%s)",
                   bf_analysis_severity_symbol(claimed), bf_cvss_version_name(sc.version),
                   sc.score, bf_analysis_severity_symbol(sc.rating));
    return (int)sc.rating;
}

static json_t *result_base(bf_job_t *j, const char *status)
{
    bf_worker_t *w = j->w;
    j->status = bf_result_status_symbol(status);
    json_t *res = json_pack(
        "{s:s, s:s, s:n, s:n, s:f, s:f, s:n, s:f, s:[], s:[], s:f, s:s, s:I, s:s}",
        "report_id", j->report->report_id, "status", status, "duplicate_of",
        "duplicate_similarity", "quality", 0.0, "plausibility", 0.0, "severity",
        "confidence", 0.0, "reasons", "analyses", "total_cost_usd", 0.0, "worker_id",
        w->cfg->worker_id, "validated_at", (json_int_t)bf_time_now_ms(), "prompt_version",
        w->prompts.version);
    j->cvss_rating = cvss_of_report(j->report, res);
    return res;
}

/* The severity analysis beside the vector's rating (see the top). */
static void check_severity(bf_job_t *j, json_t *res)
{
    bf_cvss_rating_t ai;
    if (j->cvss_rating < 0 || !j->ok[BF_ANALYSIS_SEVERITY] ||
        bf_cvss_rating_parse(j->verdicts[BF_ANALYSIS_SEVERITY].severity, &ai) != BF_OK)
        return;
    int apart = abs((int)ai - j->cvss_rating);
    if (apart == 0)
        return;
    add_reason(res, "%s: the severity analysis says %s, the vector scores %.1f (%s)",
               apart >= 2 ? "severity_far_from_cvss" : "severity_differs_from_cvss",
               bf_analysis_severity_symbol(ai),
               json_real_value(json_object_get(res, "cvss_score")),
               bf_analysis_severity_symbol(j->cvss_rating));
    if (apart >= 2 && j->status && strcmp(j->status, "NEEDS_REVIEW") != 0) {
        j->status = bf_result_status_symbol("NEEDS_REVIEW");
        json_object_set_new(res, "status", json_string(j->status));
    }
}

/* Encode @p result into j->out for the validations topic. Takes the
 * reference. */
static bf_err_t encode_result(bf_job_t *j, json_t *result)
{
    bf_worker_t *w = j->w;
    bf_buf_t b;
    bf_buf_init(&b, 4 * 1024 * 1024);
    char errstr[256];
    bf_err_t err = bf_codec_encode(w->codec, BF_RECORD_VALIDATION, result, w->framing, &b,
                                   errstr, sizeof(errstr));
    json_decref(result);
    if (err) {
        /* Our own record does not fit our own schema: a bug, not the
         * report's fault. Log loudly and send the report to review via
         * the DLQ rather than lose it. */
        bf_log(BF_LOG_ERROR, "worker", "result_encode_failed", BF_LSTR("error", errstr));
        bf_buf_free(&b);
        return err;
    }
    free(j->out);
    j->out = bf_buf_steal(&b, &j->out_len);
    j->publish_topic = w->cfg->topic_validations;
    return BF_OK;
}

static void publish_result(bf_job_t *j, json_t *result)
{
    bf_err_t err = encode_result(j, result);
    if (err) {
        bf_dead_letter(j, err, "result could not be encoded");
        return;
    }
    bf_publish(j);
}

void bf_result_duplicate(bf_job_t *j, const char *original, double similarity,
                         bool published)
{
    j->w->duplicates++;
    if (published) {
        bf_job_done(j);
        return;
    }
    json_t *res = result_base(j, "DUPLICATE");
    json_object_set_new(res, "duplicate_of", json_string(original));
    json_object_set_new(res, "duplicate_similarity", json_real(similarity));
    json_object_set_new(res, "confidence", json_real(similarity));
    json_array_append_new(
        json_object_get(res, "reasons"),
        json_string(similarity >= 1.0
                        ? "same normalised content as an earlier report"
                        : "near duplicate: similar text about the same asset as an "
                          "earlier report"));
    publish_result(j, res);
}

static void on_result_stored(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    (void)reply;
    bf_job_t *j = opaque;
    if (j->w->shutdown)
        return;
    if (err)
        bf_log(BF_LOG_WARN, "worker", "result_store_failed",
               BF_LSTR("report_id", j->report->report_id),
               BF_LSTR("error", bf_err_str(err)));
    bf_publish(j);
}

/* All analyses settled: combine, store the result (so a redelivery never
 * pays again), then publish. */
void bf_result_verdict(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    const char *status;
    double confidence;
    json_t *reasons;
    bf_analysis_combine(j->verdicts, j->ok, &w->thresholds, &status, &confidence,
                        &reasons);
    json_t *res = result_base(j, status);
    json_object_set_new(res, "confidence", json_real(confidence));
    if (j->dedup_unchecked)
        json_array_append_new(reasons, json_string("dedup_unchecked"));
    json_array_extend(reasons, json_object_get(res, "reasons")); /* the vector's */
    json_object_set_new(res, "reasons", reasons);
    check_severity(j, res);
    if (j->ok[BF_ANALYSIS_QUALITY])
        json_object_set_new(res, "quality",
                            json_real(j->verdicts[BF_ANALYSIS_QUALITY].score));
    if (j->ok[BF_ANALYSIS_PLAUSIBILITY])
        json_object_set_new(res, "plausibility",
                            json_real(j->verdicts[BF_ANALYSIS_PLAUSIBILITY].score));
    if (j->ok[BF_ANALYSIS_SEVERITY])
        json_object_set_new(res, "severity",
                            json_string(j->verdicts[BF_ANALYSIS_SEVERITY].severity));
    json_t *analyses = json_object_get(res, "analyses");
    double total = 0;
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
        const bf_verdict_t *v = &j->verdicts[k];
        double cost = j->ai_cost[k];
        total += cost;
        json_array_append_new(
            analyses,
            json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:f, s:f, s:o}", "kind",
                      bf_analysis_kind_symbol((bf_analysis_kind_t)k), "provider",
                      j->ai_provider[k] ? j->ai_provider[k] : "", "model", j->ai_model[k],
                      "score", j->ok[k] ? v->score : 0.0, "tokens_in",
                      (json_int_t)v->tokens_in, "tokens_out", (json_int_t)v->tokens_out,
                      "cost_usd", cost, "latency_seconds", j->ai_seconds[k], "error",
                      j->ok[k] ? json_null() : json_string(j->ai_error[k])));
    }
    json_object_set_new(res, "total_cost_usd", json_real(total));
    if (encode_result(j, res) != BF_OK) {
        bf_dead_letter(j, BF_ERR_SCHEMA, "result could not be encoded");
        return;
    }
    w->validated++;
    if (w->cfg->dry_run || w->cfg->once_file) {
        bf_publish(j);
        return;
    }
    char *rkey = bf_asprintf("%sresult:%s", w->cfg->key_prefix, j->report->report_id);
    char *lkey = bf_asprintf("%slease:%s", w->cfg->key_prefix, j->report->report_id);
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)w->cfg->dedup_ttl_s);
    /* One round trip: store the result and release the lease. */
    static const char script[] = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
                                 "redis.call('DEL', KEYS[2])\nreturn 1\n";
    const char *argv[] = {"EVAL", script, "2", rkey, lkey, j->out, ttl};
    size_t lens[] = {4,          sizeof(script) - 1, 1, strlen(rkey), strlen(lkey),
                     j->out_len, strlen(ttl)};
    if (bf_worker_redis(w, on_result_stored, j, 7, argv, lens) != BF_OK) {
        bf_log(BF_LOG_WARN, "worker", "result_store_failed",
               BF_LSTR("report_id", j->report->report_id),
               BF_LSTR("error", "not connected"));
        bf_publish(j);
    }
    free(rkey);
    free(lkey);
}

void bf_result_cached(bf_job_t *j, const char *bytes, size_t len, bool published)
{
    bf_worker_t *w = j->w;
    json_t *obj = NULL;
    char errstr[128];
    if (bf_codec_decode(w->codec, BF_RECORD_VALIDATION, bytes, len, &obj, NULL, errstr,
                        sizeof(errstr)) == BF_OK)
        j->status =
            bf_result_status_symbol(json_string_value(json_object_get(obj, "status")));
    json_decref(obj);
    if (published) {
        bf_job_done(j);
        return;
    }
    free(j->out);
    j->out = bf_malloc(len ? len : 1);
    memcpy(j->out, bytes, len);
    j->out_len = len;
    j->publish_topic = w->cfg->topic_validations;
    bf_publish(j);
}
