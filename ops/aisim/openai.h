/*
 * openai.h - the OpenAI Chat Completions wire format, as far as the AI
 * simulator speaks it: reading and validating a request, writing a
 * completion and writing an error.
 *
 * Reference: OpenAI API reference, "Create chat completion"
 * (POST /v1/chat/completions) and "Error codes". Errors have the shape
 * {"error":{"message","type","param","code"}}; validation failures are
 * 400 invalid_request_error with the offending parameter in "param", the
 * way the real API reports them, so a client's error handling is
 * exercised against the same shapes it will meet in production.
 */
#ifndef BF_AISIM_OPENAI_H
#define BF_AISIM_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"
#include "prompt_cache.h"
#include "verdict.h"

/** An OpenAI-style error, ready to send. */
typedef struct bf_aisim_error_s {
    unsigned status;   /* HTTP status */
    const char *type;  /* e.g. "invalid_request_error" (static) */
    char message[320]; /* human-readable */
    char param[96];    /* offending parameter, "" for null */
    const char *code;  /* e.g. "invalid_type" (static), NULL for null */
} bf_aisim_error_t;

/** What the simulator needs from a valid request. */
typedef struct bf_aisim_chat_s {
    char *model;              /* owned */
    bf_aisim_kind_t kind;     /* from response_format.json_schema.name */
    char *user_text;          /* owned; text of the last "user" message, "" if none */
    size_t prompt_bytes;      /* bytes of text in all messages, for usage */
    bf_aisim_prefix_t prefix; /* the prompt as the provider renders it (prompt_cache.h) */
    bool stream;              /* "stream": true (Gemini: its streaming URL) */
} bf_aisim_chat_t;

/**
 * @brief Parse and validate a Chat Completions request body.
 * @param body borrowed, @p len bytes
 * @param out filled on success; release with bf_aisim_chat_clear()
 * @param err filled on failure with the error to answer (status 400)
 * @returns BF_OK, BF_ERR_PARSE (not JSON) or BF_ERR_SCHEMA (invalid request).
 */
bf_err_t bf_aisim_chat_parse(const char *body, size_t len, bf_aisim_chat_t *out,
                             bf_aisim_error_t *err);

/**
 * @brief --answers fixed, for benchmarks of clients: the model (the first
 *        "model" string) and the analysis kind (the first "name" string,
 *        the worker's and the peer's json_schema name) found by their text,
 *        nothing validated, the body's length as its prompt bytes. Costs
 *        the same for any client sending the same body, and next to
 *        nothing, so the simulator is not what a benchmark measures.
 * @returns BF_OK, or BF_ERR_SCHEMA (no model) with @p err.
 */
bf_err_t bf_aisim_chat_skim(const char *body, size_t len, bf_aisim_chat_t *out,
                            bf_aisim_error_t *err);

/** @brief Free the fields of @p c and zero it. NULL-safe. */
void bf_aisim_chat_clear(bf_aisim_chat_t *c);

/**
 * @brief Fill @p err. @p type and @p code must be static strings (code may
 *        be NULL); @p param may be NULL for null.
 */
void bf_aisim_error_set(bf_aisim_error_t *err, unsigned status, const char *type,
                        const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/** @brief The error as a JSON body. @returns a new string (free()). */
char *bf_aisim_error_to_json(const bf_aisim_error_t *err);

/** @brief Token estimate of @p bytes of text: ceil(bytes / 4). */
int64_t bf_aisim_tokens_estimate(size_t bytes);

/**
 * @brief The completion body: {"id","object":"chat.completion","created",
 *        "model","choices":[{"index":0,"message":{"role":"assistant",
 *        "content","refusal":null},"logprobs":null,"finish_reason":"stop"}],
 *        "usage":{..., "prompt_tokens_details":{"cached_tokens"}},
 *        "system_fingerprint":"fp_bfsim"}.
 * @param content the assistant message text (copied)
 * @returns a new string (free()).
 */
char *bf_aisim_completion_to_json(const char *id, const char *model, int64_t created,
                                  const char *content, int64_t prompt_tokens,
                                  int64_t completion_tokens, int64_t cached_tokens);

#endif
