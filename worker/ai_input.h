/*
 * ai_input.h - one report as the AI layer sends it, made once per report
 * and shared by its analyses.
 *
 * Every provider's request carries the same user message: the report as
 * one JSON document between <report> and </report> (bf_analysis_user_text).
 * In a request body that message is itself a JSON string, so what goes on
 * the wire is the message escaped once more. The three analyses of a
 * report, and every retry and fallback of each, send the same bytes there;
 * an input holds them, ready to be copied between a provider template's
 * head and tail (ai_provider.h), together with the report's content hash
 * (the key of the answer cache), computed on first use.
 *
 *   bf_ai_input_t *in = bf_ai_input_new(report_json);
 *   bf_ai_analyse(ai, BF_ANALYSIS_QUALITY, in, deadline, cb, job);  // takes a reference
 *   bf_ai_input_release(in);
 *
 * @locality any thread, but one input is used by one thread at a time.
 */
#ifndef BF_WORKER_AI_INPUT_H
#define BF_WORKER_AI_INPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "libbf/report.h"

typedef struct bf_ai_input_s {
    /* The user message escaped as the inside of a JSON string (no quotes
     * around it): exactly what jansson writes for that string. Owned. */
    char *user_escaped;
    size_t user_escaped_len;
    /* Length of the user message itself (before the second escaping), for
     * the token estimate. */
    size_t user_len;
    /* SHA-256 (hex) of the report's compact JSON with sorted keys, or ""
     * until bf_ai_input_content_hash() computes it. */
    char content_hash[65];
    /* No answer for it can be in the response cache: the calls skip the
     * lookup (set by the worker for a report whose claim took content
     * nobody had, worker/claim.c). */
    bool uncached;
    json_t *report; /* the report (a reference of our own), or NULL when made
                       from a report struct (the hash is made at once) */
    int refs;
} bf_ai_input_t;

/**
 * @brief Make the input of @p report (a JSON object, borrowed; the input
 *        keeps a reference). One reference, held by the caller.
 */
bf_ai_input_t *bf_ai_input_new(const json_t *report);

/**
 * @brief The input of a report struct: the same message and hash as
 *        bf_ai_input_new(bf_report_to_json(r)), made without building the
 *        JSON (libbf/report.h, bf_report_json_text()). One reference.
 */
bf_ai_input_t *bf_ai_input_from_report(const bf_report_t *r);

/** @brief One more reference. @returns @p in. */
bf_ai_input_t *bf_ai_input_ref(bf_ai_input_t *in);

/** @brief Drop a reference; the last one frees the input. NULL-safe. */
void bf_ai_input_release(bf_ai_input_t *in);

/**
 * @brief The report's content hash: SHA-256 in hex of its compact JSON with
 *        keys sorted, the same for the same content whichever producer
 *        wrote it. Computed once. @returns in->content_hash.
 */
const char *bf_ai_input_content_hash(bf_ai_input_t *in);

/**
 * @brief Append @p len bytes of @p text to @p out escaped as the inside of
 *        a JSON string, byte for byte as jansson's json_dumps writes a
 *        string without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH: '"' and
 *        '\\' get a backslash, \b \f \n \r \t their short escapes, other
 *        bytes below 0x20 \u00XX, everything else (UTF-8 included) as is
 *        (bf_json_escape, with bytes that are not UTF-8 passed over).
 * @param out at least 6 * len bytes
 * @returns the number of bytes written.
 */
size_t bf_ai_json_escape(const char *text, size_t len, char *out);

#endif
