/*
 * verdict.h - the AI simulator's "model": a deterministic verdict derived
 * from the text of a security report.
 *
 * bountyfleet-aisim stands in for an AI provider in the demo and the tests.
 * Random answers would make tests flaky and results meaningless, so the
 * simulator reads the report and scores it with plain rules, the way a
 * hurried triager would: quality from how complete the write-up is,
 * plausibility from concrete evidence against vague or scanner-made claims,
 * severity from the vulnerability class it describes. The same text always
 * gets the same verdict, and every verdict carries the reasons that drove
 * it. Nothing here does I/O or keeps state, so it is unit-tested directly.
 */
#ifndef BF_AISIM_VERDICT_H
#define BF_AISIM_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

/** The analysis asked for, from response_format.json_schema.name. */
typedef enum bf_aisim_kind_e {
    BF_AISIM_KIND_QUALITY = 0,  /* "bountyfleet_quality" */
    BF_AISIM_KIND_PLAUSIBILITY, /* "bountyfleet_plausibility" */
    BF_AISIM_KIND_SEVERITY,     /* "bountyfleet_severity" */
    BF_AISIM_KIND_OTHER,        /* anything else, or no schema name */
    BF_AISIM_KIND__COUNT
} bf_aisim_kind_t;

/** CVSS v3 qualitative rating, in increasing order. */
typedef enum bf_aisim_severity_e {
    BF_AISIM_SEVERITY_NONE = 0,
    BF_AISIM_SEVERITY_LOW,
    BF_AISIM_SEVERITY_MEDIUM,
    BF_AISIM_SEVERITY_HIGH,
    BF_AISIM_SEVERITY_CRITICAL,
} bf_aisim_severity_t;

/** The fields of a report the rules look at. */
typedef struct bf_aisim_report_s {
    char *report_id;   /* owned; NULL when the text is not a JSON report with one */
    char *title;       /* owned; never NULL ("" when absent) */
    char *weakness;    /* owned; never NULL */
    char *description; /* owned; never NULL */
    char *steps;       /* owned; never NULL */
    char *impact;      /* owned; never NULL */
    bool structured;   /* true when parsed from a JSON object */
} bf_aisim_report_t;

#define BF_AISIM_REASONS_MAX 3
#define BF_AISIM_REASON_SIZE 96

/** One verdict, the content the simulator answers with. */
typedef struct bf_aisim_verdict_s {
    double score;                 /* 0..1, rounded to 2 decimals */
    double confidence;            /* 0..1, rounded to 2 decimals */
    bf_aisim_severity_t severity; /* set for BF_AISIM_KIND_SEVERITY only */
    char reasons[BF_AISIM_REASONS_MAX][BF_AISIM_REASON_SIZE];
    size_t n_reasons; /* 1..BF_AISIM_REASONS_MAX */
} bf_aisim_verdict_t;

/**
 * @brief Map a JSON-schema name to a kind.
 * @param name borrowed; NULL gives BF_AISIM_KIND_OTHER.
 */
bf_aisim_kind_t bf_aisim_kind_from_schema_name(const char *name);

/** @brief The schema name of a kind ("bountyfleet_quality"), or "other". Static. */
const char *bf_aisim_kind_name(bf_aisim_kind_t kind);

/** @brief "NONE" .. "CRITICAL". Static. */
const char *bf_aisim_severity_name(bf_aisim_severity_t severity);

/**
 * @brief Find the report in a prompt: the text between the "<report>" and
 *        "</report>" markers the worker wraps it in, or all of @p content
 *        when there is no "<report>" marker.
 * @param content borrowed, @p len bytes (need not be NUL-terminated)
 * @param out_len receives the length of the returned span
 * @returns a pointer into @p content (borrowed, not NUL-terminated).
 */
const char *bf_aisim_report_extract(const char *content, size_t len, size_t *out_len);

/**
 * @brief Read a report from text: a JSON object with the fields of
 *        schemas/report.avsc, or, when it is not one, raw text whose first
 *        line is taken as the title and the rest as the description.
 * @param text borrowed, @p len bytes
 * @param out filled; release with bf_aisim_report_clear().
 */
void bf_aisim_report_parse(const char *text, size_t len, bf_aisim_report_t *out);

/** @brief Free the fields of @p r and zero it. NULL-safe. */
void bf_aisim_report_clear(bf_aisim_report_t *r);

/**
 * @brief Derive the verdict of analysis @p kind for report @p r.
 *        Deterministic: equal reports give equal verdicts.
 * @param r borrowed
 * @param out filled completely
 */
void bf_aisim_verdict_derive(bf_aisim_kind_t kind, const bf_aisim_report_t *r,
                             bf_aisim_verdict_t *out);

/**
 * @brief The same schema-valid verdict for every report (--answers fixed):
 *        score and confidence 0.8, severity MEDIUM, one reason. Looks at
 *        nothing, so a benchmark of a client sees only the simulator's HTTP
 *        and JSON work, the same for every client sending the same request.
 */
void bf_aisim_verdict_fixed(bf_aisim_kind_t kind, bf_aisim_verdict_t *out);

/**
 * @brief The verdict as the compact JSON object a model would answer with:
 *        {"score":S,"confidence":C,"reasons":[...]} plus "severity" for the
 *        severity kind.
 * @returns a new string the caller frees with free().
 */
char *bf_aisim_verdict_to_json(bf_aisim_kind_t kind, const bf_aisim_verdict_t *v);

#endif
