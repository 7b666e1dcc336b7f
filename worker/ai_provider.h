/*
 * ai_provider.h - the wire formats of the AI providers: how one analysis
 * becomes an HTTP request (URL, headers, body) and how a provider's
 * response becomes a checked verdict with its token usage.
 *
 *   OpenAI Chat Completions  POST {base}/chat/completions
 *                            Authorization: Bearer KEY; response_format
 *                            json_schema (strict); usage.prompt_tokens,
 *                            completion_tokens, prompt_tokens_details.cached_tokens
 *   Anthropic Messages       POST {base}/v1/messages
 *                            x-api-key, anthropic-version: 2023-06-01; the
 *                            three analyses' tools and the prompt set's
 *                            shared text (one system block marked
 *                            cache_control ephemeral) form one cached
 *                            prefix, then the analysis' task and the
 *                            report; the answer is forced through the
 *                            analysis' tool (tool_choice); usage.input_tokens,
 *                            output_tokens, cache_read_input_tokens,
 *                            cache_creation_input_tokens
 *   Gemini generateContent   POST {base}/v1beta/models/{model}:generateContent
 *                            x-goog-api-key; systemInstruction parts: the
 *                            shared text, then the task; generationConfig.
 *                            responseMimeType application/json +
 *                            responseSchema; usageMetadata
 *
 * Everything static comes before the report, so each provider's prompt
 * cache can keep it (ai_provider.c, analysis.c).
 *
 * Pure functions over text and JSON, unit-tested without a network. The
 * report always travels as data in the user message (bf_analysis_user_text).
 */
#ifndef BF_WORKER_AI_PROVIDER_H
#define BF_WORKER_AI_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "libbf/err.h"
#include "worker/ai_input.h"
#include "worker/analysis.h"

typedef enum bf_ai_provider_e {
    BF_AI_OPENAI = 0,
    BF_AI_ANTHROPIC = 1,
    BF_AI_GEMINI = 2,
    BF_AI__COUNT
} bf_ai_provider_t;

/** @brief "openai", "anthropic", "gemini" (AI_PROVIDERS names, metric labels). */
const char *bf_ai_provider_name(bf_ai_provider_t p);

/** @brief Parse a provider name of @p len bytes. @returns 0, or -1 if unknown. */
int bf_ai_provider_parse(const char *name, size_t len, bf_ai_provider_t *out);

/** @brief The documented default base URL of @p p. */
const char *bf_ai_provider_default_base(bf_ai_provider_t p);

/** Where and as whom to call a provider; all borrowed. */
typedef struct bf_ai_endpoint_s {
    bf_ai_provider_t provider;
    const char *base_url; /* without the API path; a trailing "/" is ignored */
    const char *api_key;  /* secret */
    const char *model;
} bf_ai_endpoint_t;

/** One request, ready for bf_http_start(); everything owned. */
typedef struct bf_ai_wire_s {
    char *url;
    char *headers[4]; /* NULL-terminated "Name: value" lines */
    char *body;
    size_t body_len;
} bf_ai_wire_t;

/**
 * A provider's request for one analysis with the report left out: built
 * once per provider and kind when the AI layer starts, so that a call only
 * copies the prompts, schema and settings around the report's user
 * message (ai_input.h) instead of building and escaping them again.
 */
typedef struct bf_ai_template_s {
    char *url;
    char *headers[4]; /* NULL-terminated "Name: value" lines */
    char *head;       /* the body up to the user message's text */
    size_t head_len;
    char *tail; /* the body after it */
    size_t tail_len;
    size_t fixed_bytes; /* head_len + tail_len */
} bf_ai_template_t;

/**
 * @brief Build the template of analysis @p kind for @p ep; with @p stream
 *        the request asks for server-sent events (bf_ai_wire_stream()).
 * @param out filled; release with bf_ai_template_free()
 * @returns BF_OK, or BF_ERR_CONFIG when the prompts hold the control
 *          character U+0001 (the template's marker).
 */
bf_err_t bf_ai_template_build(const bf_ai_endpoint_t *ep, const bf_prompts_t *prompts,
                              bf_analysis_kind_t kind, bool stream, bf_ai_template_t *out,
                              char *errstr, size_t errstr_size);

/** @brief Free what a template owns. NULL-safe. */
void bf_ai_template_free(bf_ai_template_t *t);

/**
 * @brief The request body of template @p t for input @p in: the same bytes
 *        bf_ai_wire_build() makes for the input's report.
 * @returns a new NUL-terminated string (caller frees); *len its length.
 */
char *bf_ai_template_body(const bf_ai_template_t *t, const bf_ai_input_t *in,
                          size_t *len);

/**
 * @brief Build the request of analysis @p kind of @p report.
 * @param report borrowed
 * @param out filled; release with bf_ai_wire_free()
 */
void bf_ai_wire_build(const bf_ai_endpoint_t *ep, const bf_prompts_t *prompts,
                      bf_analysis_kind_t kind, const json_t *report, bf_ai_wire_t *out);

/** @brief Free what a wire request owns. NULL-safe. */
void bf_ai_wire_free(bf_ai_wire_t *w);

/**
 * @brief Parse a 200 response of provider @p p and check the answer. Token
 *        counts are normalised: tokens_in counts every input token,
 *        cached reads and cache writes included.
 * @param out filled on success; free with bf_verdict_clear()
 * @returns BF_OK or BF_ERR_BAD_ANSWER with errstr (nothing of a bad answer
 *          is kept).
 */
bf_err_t bf_ai_response_parse(bf_ai_provider_t p, bf_analysis_kind_t kind,
                              const char *body, size_t len, bf_verdict_t *out,
                              char *errstr, size_t errstr_size);

/**
 * @brief Only the token usage (and model) of a 200 response whose answer
 *        was rejected: the provider bills it all the same.
 * @returns true when the body carried a usage.
 */
bool bf_ai_usage_parse(bf_ai_provider_t p, const char *body, size_t len,
                       bf_verdict_t *out);

/**
 * @brief Tokens a request will bill before the provider says: about four
 *        bytes per token for English text and JSON, plus the answer's
 *        budget. Used to take from the tokens/min bucket before a call;
 *        the difference is settled from usage after it.
 */
long bf_ai_tokens_estimate(size_t request_bytes);

/** Largest answer we ask for (max_tokens / maxOutputTokens). */
#define BF_AI_MAX_OUTPUT_TOKENS 512

#endif
