/*
 * report.h - a security report (schemas/report.avsc) as a C struct, with
 * the checks every report must pass before it is published or analysed.
 */
#ifndef BF_REPORT_H
#define BF_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "libbf/clock.h"
#include "libbf/err.h"

/* Bounds on a report's fields. A real write-up is a few KiB; the largest of
 * the 3,000 disclosed HackerOne reports in shared/data is ~60 KiB. */
#define BF_REPORT_MAX_ID      256
#define BF_REPORT_MAX_SHORT   1024          /* program, reporter, title, asset, ... */
#define BF_REPORT_MAX_TEXT    (256 * 1024)  /* description, steps, impact */
#define BF_REPORT_MAX_ENCODED (1024 * 1024) /* a whole encoded report */

typedef struct bf_report_s {
    char *report_id;
    int64_t submitted_at_ms;
    char *program;
    char *reporter;
    char *title;
    char *asset;
    char *weakness;         /* NULL when absent */
    char *claimed_severity; /* NULL or NONE|LOW|MEDIUM|HIGH|CRITICAL */
    char *cvss_vector;      /* NULL when absent */
    char *description;
    char *steps_to_reproduce; /* "" when absent */
    char *impact;             /* "" when absent */
} bf_report_t;

/**
 * @brief Build a report from a JSON object with the schema's field names.
 *
 * Lenient where a producer in another language would expect it:
 * submitted_at may be milliseconds or an RFC 3339 string; claimed_severity
 * is matched case-insensitively; steps_to_reproduce and impact may be
 * missing or null. Strict on the rest: report_id, program, reporter, title,
 * asset and description must be non-empty strings within the size bounds.
 *
 * @param obj borrowed
 * @param out receives a new report (bf_report_destroy)
 * @returns BF_OK, BF_ERR_MISSING_FIELD, BF_ERR_SCHEMA (wrong type or value)
 *          or BF_ERR_TOO_LARGE, with errstr naming the field.
 */
bf_err_t bf_report_from_json(const json_t *obj, bf_report_t **out, char *errstr,
                             size_t errstr_size);

/** @brief The report as a JSON object for the codec (new reference). */
json_t *bf_report_to_json(const bf_report_t *r);

/**
 * @brief The report as compact JSON text, byte for byte what
 *        json_dumps(bf_report_to_json(r), JSON_COMPACT | flags) writes,
 *        without building the JSON object (the worker does this for every
 *        report). @p flags may hold JSON_SORT_KEYS, JSON_ENSURE_ASCII and
 *        JSON_ESCAPE_SLASH; other flags are not supported.
 * @param len receives the text's length
 * @returns a new NUL-terminated string (caller frees), or NULL when a field
 *          is not valid UTF-8 (which a report made by bf_report_from_json()
 *          never has).
 */
char *bf_report_json_text(const bf_report_t *r, size_t flags, size_t *len);

/**
 * @brief Write @p n bytes of UTF-8 text at @p o escaped as the inside of a
 *        JSON string (no quotes), byte for byte as jansson's json_dumps
 *        writes it with the same @p flags (JSON_ESCAPE_SLASH,
 *        JSON_ENSURE_ASCII; others are ignored): '"' and '\\' get a
 *        backslash, \b \f \n \r \t their short escapes, other code points
 *        below U+0020 \u00XX, the rest as is unless JSON_ENSURE_ASCII.
 *        The one JSON string writer of the project's hand-made JSON
 *        (reports here, AI request bodies, the simulator's answers).
 *        With BF_JSON_PASS_INVALID, bytes that are not UTF-8 go over as
 *        they are (never NULL).
 * @param o room for 6 * @p n bytes
 * @returns the end of what was written, or NULL if @p s is not valid UTF-8.
 */
#define BF_JSON_PASS_INVALID ((size_t)1 << 30)
char *bf_json_escape(char *o, const char *s, size_t n, size_t flags);

/**
 * @brief bf_json_escape() between double quotes: @p n bytes of @p s as a
 *        whole JSON string.
 * @param o room for 6 * @p n + 2 bytes
 * @returns the end of what was written, or NULL if @p s is not valid UTF-8
 *          (never with BF_JSON_PASS_INVALID).
 */
char *bf_json_quote(char *o, const char *s, size_t n, size_t flags);

/** @brief Free a report. NULL-safe. */
void bf_report_destroy(bf_report_t *r);

#endif
