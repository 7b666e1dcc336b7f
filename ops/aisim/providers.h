/*
 * providers.h - the Anthropic Messages and Google Gemini generateContent
 * wire formats as the AI simulator speaks them, beside openai.h: request
 * validation with the providers' own error shapes, and their answers.
 *
 * References: Anthropic API reference, "Messages" (POST /v1/messages,
 * x-api-key, anthropic-version) and "Errors" ({"type":"error","error":
 * {"type","message"}}, 529 overloaded_error); Gemini API reference,
 * "models.generateContent" (POST /v1beta/models/{model}:generateContent,
 * x-goog-api-key) and the Google API error model ({"error":{"code",
 * "message","status"}}).
 */
#ifndef BF_AISIM_PROVIDERS_H
#define BF_AISIM_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"
#include "openai.h"

typedef enum bf_aisim_provider_e {
    BF_AISIM_OPENAI = 0,
    BF_AISIM_ANTHROPIC = 1,
    BF_AISIM_GEMINI = 2,
    BF_AISIM_PROVIDER__COUNT
} bf_aisim_provider_t;

/** @brief "openai", "anthropic", "gemini". */
const char *bf_aisim_provider_name(bf_aisim_provider_t p);

/** What the simulator needs from a valid Anthropic or Gemini request. */
typedef struct bf_aisim_request_s {
    bf_aisim_chat_t chat; /* model, kind, user text, prompt bytes, prefix */
    size_t system_bytes;  /* bytes of the system prompt */
    bool use_tool;        /* Anthropic: answer as a tool_use block */
    char tool_name[96];   /* that tool's name */
} bf_aisim_request_t;

/**
 * @brief Validate an Anthropic Messages request body.
 * @returns BF_OK, or BF_ERR_SCHEMA with @p err (status 400).
 */
bf_err_t bf_aisim_anthropic_parse(const char *body, size_t len, bf_aisim_request_t *out,
                                  bf_aisim_error_t *err);

/**
 * @brief Validate a Gemini generateContent request body for @p model
 *        (from the URL path).
 */
bf_err_t bf_aisim_gemini_parse(const char *model, const char *body, size_t len,
                               bf_aisim_request_t *out, bf_aisim_error_t *err);

/** @brief Free what a request owns. */
void bf_aisim_request_clear(bf_aisim_request_t *r);

/** Token usage of one answer, as the provider reports it. */
typedef struct bf_aisim_usage_s {
    int64_t input; /* uncached input (Anthropic) or all input */
    int64_t output;
    int64_t cache_read;  /* input tokens read from the prompt cache */
    int64_t cache_write; /* input tokens written to it (Anthropic) */
} bf_aisim_usage_t;

/** @brief The Messages response (tool_use or text content). @returns new string */
char *bf_aisim_anthropic_answer(const char *id, const bf_aisim_request_t *r,
                                const char *content, const bf_aisim_usage_t *u);

/** @brief The generateContent response. @returns new string */
char *bf_aisim_gemini_answer(const char *id, const bf_aisim_request_t *r,
                             const char *content, const bf_aisim_usage_t *u);

/**
 * @brief The answer as server-sent events, the way provider @p p streams
 *        it: OpenAI chat.completion.chunk objects ending in "data: [DONE]"
 *        (with a usage chunk); Anthropic message_start, content_block_*,
 *        message_delta and message_stop events (text_delta or
 *        input_json_delta); Gemini GenerateContentResponse chunks
 *        (streamGenerateContent?alt=sse). The content goes out in pieces.
 * @returns a new string (free()).
 */
char *bf_aisim_stream_answer(bf_aisim_provider_t p, const char *id,
                             const bf_aisim_request_t *r, const char *content,
                             const bf_aisim_usage_t *u, int64_t created);

/**
 * @brief @p err in the error shape of provider @p p. For Anthropic the
 *        type follows the status (400 invalid_request_error, 401
 *        authentication_error, 429 rate_limit_error, 529 overloaded_error,
 *        ...); for Gemini the canonical status name (INVALID_ARGUMENT,
 *        PERMISSION_DENIED, RESOURCE_EXHAUSTED, ...).
 * @returns a new string (free()).
 */
char *bf_aisim_error_to_json_for(bf_aisim_provider_t p, const bf_aisim_error_t *err);

#endif
