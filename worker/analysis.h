/*
 * analysis.h - the three AI analyses of a report: prompts (versioned
 * files), the provider request body, parsing and checking the model's
 * answer, the price table, and combining the answers into a verdict.
 *
 * Pure functions over text and JSON: no I/O except loading files at start,
 * so all of it is unit-tested without a network.
 */
#ifndef BF_WORKER_ANALYSIS_H
#define BF_WORKER_ANALYSIS_H

#include <jansson.h>
#include <stddef.h>

#include "libbf/cvss.h"
#include "libbf/err.h"

typedef enum bf_analysis_kind_e {
    BF_ANALYSIS_QUALITY = 0,
    BF_ANALYSIS_PLAUSIBILITY = 1,
    BF_ANALYSIS_SEVERITY = 2,
    BF_ANALYSIS__COUNT
} bf_analysis_kind_t;

/** @brief "QUALITY", "PLAUSIBILITY", "SEVERITY" (the Avro enum symbols). */
const char *bf_analysis_kind_symbol(bf_analysis_kind_t kind);
/** @brief "quality", ... (file names, schema names, metric labels). */
const char *bf_analysis_kind_name(bf_analysis_kind_t kind);

/** A prompt set read from a directory such as worker/prompts/v1. */
typedef struct bf_prompts_s {
    char *version;                  /* the directory's base name */
    char *system;                   /* system.md */
    char *task[BF_ANALYSIS__COUNT]; /* quality.md, plausibility.md, severity.md */
} bf_prompts_t;

/** @brief Load system.md and one file per analysis from @p dir. */
bf_err_t bf_prompts_load(const char *dir, bf_prompts_t *out, char *errstr,
                         size_t errstr_size);
/** @brief Free a prompt set. */
void bf_prompts_free(bf_prompts_t *p);

/**
 * @brief Body of an OpenAI Chat Completions request for one analysis, with
 *        structured output (response_format json_schema, strict), and
 *        @p user (bf_analysis_user_text()) as the user message.
 * @returns a new string (caller frees).
 */
char *bf_analysis_openai_body(const bf_prompts_t *prompts, bf_analysis_kind_t kind,
                              const char *model, const char *user, size_t *len);

/**
 * @brief The JSON Schema of an answer for @p kind (strict-mode shape:
 *        every property required, additionalProperties false).
 * @returns a new reference.
 */
json_t *bf_analysis_answer_schema(bf_analysis_kind_t kind);

/**
 * @brief The user message of every provider: the report serialised as JSON
 *        and delimited as data between <report> and </report>, then, when
 *        the report has a CVSS vector, what it scores
 *        (bf_analysis_cvss_text()).
 * @returns a new string (caller frees).
 */
char *bf_analysis_user_text(const json_t *report);

/**
 * @brief The schema's Severity symbol of a rating ("NONE" ... "CRITICAL"),
 *        the answer's severity enum; static, never NULL.
 */
const char *bf_analysis_severity_symbol(bf_cvss_rating_t rating);

/**
 * @brief What the report's CVSS vector really scores, as the user message
 *        gives it after the report: "\n<cvss_computed>\n" + one JSON object
 *        + "\n</cvss_computed>". The object is {"version", "score",
 *        "rating"} (libbf/cvss.h), or {"error"} for a vector that is not
 *        one. It is the project's computation, not the reporter's claim,
 *        and outside the report's delimiters; the report cannot spell the
 *        closing tag (its "/" are escaped). The severity prompt says how to
 *        weigh it.
 * @param vector the report's cvss_vector; NULL or "" for none
 * @returns a new string, "" without a vector (caller frees).
 */
char *bf_analysis_cvss_text(const char *vector);

/** One analysis's parsed answer. */
typedef struct bf_verdict_s {
    double score;
    double confidence;
    char severity[16];       /* "" unless kind == SEVERITY */
    json_t *reasons;         /* array of strings (owned) */
    long tokens_in;          /* all input tokens, cached ones included */
    long tokens_out;         /* output tokens */
    long tokens_cached;      /* input tokens read from the provider's prompt cache */
    long tokens_cache_write; /* input tokens written to it (Anthropic bills them 1.25x) */
    char model[128];         /* the model that answered */
} bf_verdict_t;

/**
 * @brief Parse a Chat Completions response body and check the model's
 *        answer against the analysis schema. An answer that does not fit
 *        is rejected whole (BF_ERR_BAD_ANSWER), never trusted half-way.
 * @param out filled on success; free with bf_verdict_clear()
 */
bf_err_t bf_analysis_parse_openai(bf_analysis_kind_t kind, const char *body, size_t len,
                                  bf_verdict_t *out, char *errstr, size_t errstr_size);
/**
 * @brief Check a model's answer (a JSON object) against the analysis
 *        schema and fill score, confidence, severity and reasons of @p out.
 * @param answer borrowed
 * @returns BF_OK or BF_ERR_BAD_ANSWER with errstr.
 */
bf_err_t bf_analysis_check_answer(bf_analysis_kind_t kind, const json_t *answer,
                                  bf_verdict_t *out, char *errstr, size_t errstr_size);

/** @brief bf_analysis_check_answer() on the answer's JSON text. */
bf_err_t bf_analysis_check_answer_text(bf_analysis_kind_t kind, const char *text,
                                       size_t len, bf_verdict_t *out, char *errstr,
                                       size_t errstr_size);

/** @brief Free what a verdict owns. */
void bf_verdict_clear(bf_verdict_t *v);

/** Price of a model in USD per million tokens. */
typedef struct bf_price_s {
    char *model;
    double input, output, cached_input;
} bf_price_t;

typedef struct bf_prices_s {
    bf_price_t *items;
    size_t count;
} bf_prices_t;

/**
 * @brief Load a price table: {"models": {"<model>": {"input_per_mtok": x,
 *        "output_per_mtok": y, "cached_input_per_mtok": z}, ...}}.
 */
bf_err_t bf_prices_load(const char *path, bf_prices_t *out, char *errstr,
                        size_t errstr_size);
void bf_prices_free(bf_prices_t *p);
/**
 * @brief Cost of a call in USD. A model that is not in the table is an
 *        error (BF_ERR_NOT_FOUND) so that spend is never silently zero.
 */
bf_err_t bf_prices_cost(const bf_prices_t *p, const char *model, long tokens_in,
                        long tokens_out, long tokens_cached, double *usd);

/**
 * @brief Cost of one answered call from its usage (bf_prices_cost(), plus
 *        the surcharge on prompt-cache writes).
 */
bf_err_t bf_prices_cost_verdict(const bf_prices_t *p, const bf_verdict_t *v, double *usd);

/** Thresholds that turn three scores into a status. */
typedef struct bf_thresholds_s {
    double min_quality;      /* below: INVALID */
    double min_plausibility; /* below: INVALID */
} bf_thresholds_t;

/**
 * @brief Decide status, confidence and reasons from the analyses.
 * @param verdicts one per kind; ok[k] says whether verdict k is present
 * @param status receives "VALID", "INVALID" or "NEEDS_REVIEW"
 * @param reasons receives a new JSON array of strings
 */
void bf_analysis_combine(const bf_verdict_t verdicts[BF_ANALYSIS__COUNT],
                         const int ok[BF_ANALYSIS__COUNT], const bf_thresholds_t *t,
                         const char **status, double *confidence, json_t **reasons);

#endif
