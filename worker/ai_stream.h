/*
 * ai_stream.h - streamed AI answers: an incremental parser of server-sent
 * events (the WHATWG "text/event-stream" format) and, per provider, the
 * assembly of the model's text and usage from the events into the
 * equivalent non-streaming response, so that the answer is checked by
 * bf_ai_response_parse() exactly like a non-streamed one.
 *
 *   OpenAI     "stream": true, "stream_options": {"include_usage": true};
 *              data: chat.completion.chunk (choices[0].delta.content),
 *              the last chunk carries usage; data: [DONE] ends it
 *   Anthropic  "stream": true; event: message_start (usage of the input),
 *              content_block_delta (text_delta.text / input_json_delta
 *              .partial_json), message_delta (usage.output_tokens)
 *   Gemini     POST ...:streamGenerateContent?alt=sse; every data: is a
 *              GenerateContentResponse with a piece of parts[0].text, the
 *              last with usageMetadata
 *
 * Pure, network-free; chunks may be split at any byte.
 */
#ifndef BF_WORKER_AI_STREAM_H
#define BF_WORKER_AI_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "libbf/buf.h"
#include "worker/ai_provider.h"

/** One dispatched event: @p event is "message" when none was named. */
typedef void(bf_sse_event_cb)(const char *event, const char *data, size_t len,
                              void *opaque);

typedef struct bf_sse_s {
    bf_buf_t line;  /* the line being read */
    bf_buf_t data;  /* data: lines of the event being read, '\n'-joined */
    bf_buf_t event; /* its event: name */
    bool after_cr;  /* the last byte fed was '\r' (a "\r\n" may be split) */
    bf_sse_event_cb *cb;
    void *opaque;
} bf_sse_t;

/** @brief Start a parser; @p max bounds a line and an event's data. */
void bf_sse_init(bf_sse_t *p, size_t max, bf_sse_event_cb *cb, void *opaque);

/**
 * @brief Feed the next @p len bytes; complete events are dispatched.
 * @returns BF_OK, or BF_ERR_TOO_LARGE when a line or an event exceeds max.
 */
bf_err_t bf_sse_feed(bf_sse_t *p, const char *data, size_t len);

/** @brief Free the parser's buffers. */
void bf_sse_free(bf_sse_t *p);

/** Text of the answer as it arrives (borrowed, not NUL-terminated). */
typedef void(bf_ai_stream_text_cb)(const char *text, size_t len, void *opaque);

/** The assembly of one streamed answer. */
typedef struct bf_ai_stream_s {
    bf_ai_provider_t provider;
    bf_sse_t sse;
    bf_buf_t text;   /* the model's text (Anthropic: a tool's JSON input) */
    json_t *usage;   /* usage / usageMetadata, merged from the events */
    char model[128]; /* as the events name it */
    bool tool;       /* Anthropic: the answer is a tool_use block */
    char tool_name[64];
    bool bad; /* an event was not JSON (the answer will be rejected) */
    bf_ai_stream_text_cb *on_text; /* NULL: none */
    void *text_opaque;
} bf_ai_stream_t;

/** @brief Start assembling a streamed answer of provider @p p. */
void bf_ai_stream_init(bf_ai_stream_t *s, bf_ai_provider_t p,
                       bf_ai_stream_text_cb *on_text, void *text_opaque);

/** @brief Feed response bytes. @returns as bf_sse_feed(). */
bf_err_t bf_ai_stream_feed(bf_ai_stream_t *s, const char *data, size_t len);

/**
 * @brief The non-streaming response body equivalent to what was streamed
 *        (same answer, same usage, same model), for bf_ai_response_parse().
 * @returns malloc'd JSON text; its length in @p len.
 */
char *bf_ai_stream_body(const bf_ai_stream_t *s, size_t *len);

/** @brief Free what the assembly owns. */
void bf_ai_stream_free(bf_ai_stream_t *s);

/**
 * @brief Turn a request built by bf_ai_wire_build() into its streaming
 *        form: "stream": true (OpenAI: and stream_options.include_usage),
 *        Gemini: the :streamGenerateContent?alt=sse URL.
 */
void bf_ai_wire_stream(bf_ai_provider_t p, bf_ai_wire_t *w);

#endif
