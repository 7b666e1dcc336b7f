/*
 * test_ai_stream.c - streamed answers without a network
 * (worker/ai_stream.c): the server-sent-events parser (fields, comments,
 * multi-line data, LF/CRLF/CR line ends), and for each provider a sample
 * stream in its documented format fed split at every byte (and one byte
 * at a time) that assembles into the same answer, text and usage as the
 * equivalent non-streamed response; a broken stream is a rejected answer
 * whose usage is still billed; requests get their streaming form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "worker/ai_stream.h"

/* ---- SSE parser ---------------------------------------------------------- */

typedef struct events_s {
    char log[2048]; /* "event=data|" per dispatched event */
} events_t;

static void on_event(const char *event, const char *data, size_t len, void *opaque)
{
    events_t *e = opaque;
    assert_int_equal(strlen(data), len); /* NUL-terminated, no NUL inside */
    size_t n = strlen(e->log);
    snprintf(e->log + n, sizeof(e->log) - n, "%s=%s|", event, data);
}

/* Feed @p text split at @p cut (and, with cut == 0, one byte at a time). */
static void parse(const char *text, size_t cut, events_t *e)
{
    memset(e, 0, sizeof(*e));
    bf_sse_t p;
    bf_sse_init(&p, 4096, on_event, e);
    size_t len = strlen(text);
    if (cut == 0) {
        for (size_t i = 0; i < len; i++)
            assert_int_equal(bf_sse_feed(&p, text + i, 1), BF_OK);
    } else {
        assert_int_equal(bf_sse_feed(&p, text, cut), BF_OK);
        assert_int_equal(bf_sse_feed(&p, text + cut, len - cut), BF_OK);
    }
    bf_sse_free(&p);
}

static void expect_everywhere(const char *text, const char *want)
{
    events_t e;
    for (size_t cut = 0; cut <= strlen(text); cut++) {
        parse(text, cut, &e);
        if (strcmp(e.log, want) != 0)
            fail_msg("cut %zu: got %s want %s", cut, e.log, want);
    }
}

static void test_sse_fields_and_dispatch(void **unused)
{
    (void)unused;
    /* data lines join with '\n'; one leading space is dropped; comments
     * and unknown fields are ignored; event names last one event; no
     * dispatch without a blank line (the tail is incomplete). */
    expect_everywhere(": keep-alive\n"
                      "data: a\n"
                      "data:b\n"
                      "data:  c\n"
                      "id: 7\n"
                      "\n"
                      "event: ping\n"
                      "data: {\"x\":1}\n"
                      "\n"
                      "\n"
                      "data\n"
                      "\n"
                      "event: lone\n"
                      "\n"
                      "data: [DONE]\n"
                      "\n"
                      "data: cut short\n",
                      "message=a\nb\n c|ping={\"x\":1}|message=|message=[DONE]|");
}

static void test_sse_line_ends(void **unused)
{
    (void)unused;
    const char *want = "message=one|delta=two\nthree|";
    expect_everywhere("data: one\r\n\r\nevent: delta\r\ndata: two\r\ndata: three\r\n\r\n",
                      want);
    expect_everywhere("data: one\r\revent: delta\rdata: two\rdata: three\r\r", want);
    expect_everywhere("data: one\n\nevent: delta\ndata: two\ndata: three\n\n", want);
}

static void test_sse_bounds(void **unused)
{
    (void)unused;
    events_t e = {{0}};
    bf_sse_t p;
    bf_sse_init(&p, 16, on_event, &e);
    assert_int_equal(bf_sse_feed(&p, "data: 0123456789abcdef", 22), BF_ERR_TOO_LARGE);
    bf_sse_free(&p);
}

/* ---- the providers' streams ---------------------------------------------- */

#define ANSWER "{\"score\":0.7,\"confidence\":0.68,\"reasons\":[\"clear steps\"]}"

/* As OpenAI documents chat.completion.chunk with include_usage: a role
 * chunk, content deltas, a finish chunk, a usage chunk with no choices. */
static const char OPENAI_STREAM[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"{\\\"score\\\":0.7,"
    "\\\"confidence\\\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\":0.68,\\\"reasons\\\":"
    "[\\\"clear steps\\\"]}\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-x\","
    "\"choices\":[],\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":21,"
    "\"total_tokens\":141,\"prompt_tokens_details\":{\"cached_tokens\":64}}}\n\n"
    "data: [DONE]\n\n";

/* As Anthropic documents Messages streaming with a forced tool. */
static const char ANTHROPIC_STREAM[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"usage\":"
    "{\"input_tokens\":20,\"cache_creation_input_tokens\":0,"
    "\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
    "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"record_analysis\",\"input\":{}}}\n\n"
    "event: ping\n"
    "data: {\"type\":\"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{\\\"score\\\":0.7,\\\"confidence\\\"\"}}"
    "\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\":0.68,\\\"reasons\\\":"
    "[\\\"clear steps\\\"]}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},"
    "\"usage\":{\"output_tokens\":21}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

/* As Gemini documents streamGenerateContent?alt=sse (CRLF line ends). */
static const char GEMINI_STREAM[] =
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"score\\\":0.7,"
    "\\\"confidence\\\"\"}],\"role\":\"model\"},\"index\":0}],"
    "\"modelVersion\":\"gemini-x\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\":0.68,\\\"reasons\\\":"
    "[\\\"clear steps\\\"]}\"}],\"role\":\"model\"},\"finishReason\":\"STOP\","
    "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":120,"
    "\"candidatesTokenCount\":21,\"cachedContentTokenCount\":64,"
    "\"totalTokenCount\":141},\"modelVersion\":\"gemini-x\"}\r\n\r\n";

typedef struct seen_s {
    char text[512];
} seen_t;

static void on_text(const char *text, size_t len, void *opaque)
{
    seen_t *s = opaque;
    size_t n = strlen(s->text);
    assert_true(n + len < sizeof(s->text));
    memcpy(s->text + n, text, len);
    s->text[n + len] = '\0';
}

/* Assemble @p stream fed in two pieces at @p cut (0: byte by byte) and
 * parse the result like a non-streamed response. */
static bf_err_t assemble(bf_ai_provider_t p, const char *stream, size_t cut,
                         bf_verdict_t *v, seen_t *seen, char **body)
{
    bf_ai_stream_t s;
    memset(seen, 0, sizeof(*seen));
    bf_ai_stream_init(&s, p, on_text, seen);
    size_t len = strlen(stream);
    if (cut == 0) {
        for (size_t i = 0; i < len; i++)
            assert_int_equal(bf_ai_stream_feed(&s, stream + i, 1), BF_OK);
    } else {
        assert_int_equal(bf_ai_stream_feed(&s, stream, cut), BF_OK);
        assert_int_equal(bf_ai_stream_feed(&s, stream + cut, len - cut), BF_OK);
    }
    size_t blen = 0;
    *body = bf_ai_stream_body(&s, &blen);
    bf_ai_stream_free(&s);
    char errstr[200] = "";
    bf_err_t err = bf_ai_response_parse(p, BF_ANALYSIS_QUALITY, *body, blen, v, errstr,
                                        sizeof(errstr));
    return err;
}

static void check_provider(bf_ai_provider_t p, const char *stream, long in, long out,
                           long cached, const char *model)
{
    for (size_t cut = 0; cut <= strlen(stream); cut++) {
        bf_verdict_t v;
        seen_t seen;
        char *body = NULL;
        if (assemble(p, stream, cut, &v, &seen, &body) != BF_OK)
            fail_msg("%s cut %zu: rejected: %s", bf_ai_provider_name(p), cut, body);
        assert_string_equal(seen.text, ANSWER);
        assert_true(v.score == 0.7 && v.confidence == 0.68);
        assert_string_equal(json_string_value(json_array_get(v.reasons, 0)),
                            "clear steps");
        assert_int_equal(v.tokens_in, in);
        assert_int_equal(v.tokens_out, out);
        assert_int_equal(v.tokens_cached, cached);
        assert_string_equal(v.model, model);
        bf_verdict_clear(&v);
        free(body);
    }
}

static void test_openai_stream_at_every_byte(void **unused)
{
    (void)unused;
    check_provider(BF_AI_OPENAI, OPENAI_STREAM, 120, 21, 64, "gpt-x");
}

static void test_anthropic_stream_at_every_byte(void **unused)
{
    (void)unused;
    /* input_tokens 20 + cache reads 100: tokens_in counts every input
     * token; output_tokens is message_delta's final count, not 1. */
    check_provider(BF_AI_ANTHROPIC, ANTHROPIC_STREAM, 120, 21, 100, "claude-x");
}

static void test_gemini_stream_at_every_byte(void **unused)
{
    (void)unused;
    check_provider(BF_AI_GEMINI, GEMINI_STREAM, 120, 21, 64, "gemini-x");
}

/* The same usage as the non-streamed response of the same answer, so
 * that cost is the same. */
static void test_same_usage_as_non_streamed(void **unused)
{
    (void)unused;
    const char *plain =
        "{\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"{\\\"score\\\":0.7,\\\"confidence\\\":0.68,"
        "\\\"reasons\\\":[\\\"clear steps\\\"]}\"}}],\"usage\":{\"prompt_tokens\":120,"
        "\"completion_tokens\":21,\"prompt_tokens_details\":{\"cached_tokens\":64}}}";
    bf_verdict_t a, b;
    char errstr[200];
    assert_int_equal(bf_ai_response_parse(BF_AI_OPENAI, BF_ANALYSIS_QUALITY, plain,
                                          strlen(plain), &a, errstr, sizeof(errstr)),
                     BF_OK);
    seen_t seen;
    char *body;
    assert_int_equal(assemble(BF_AI_OPENAI, OPENAI_STREAM, 7, &b, &seen, &body), BF_OK);
    assert_int_equal(a.tokens_in, b.tokens_in);
    assert_int_equal(a.tokens_out, b.tokens_out);
    assert_int_equal(a.tokens_cached, b.tokens_cached);
    assert_int_equal(a.tokens_cache_write, b.tokens_cache_write);
    assert_string_equal(a.model, b.model);
    bf_verdict_clear(&a);
    bf_verdict_clear(&b);
    free(body);
}

/* A streamed answer that does not fit the schema, or a broken event, is
 * rejected whole; its usage is still there to be billed. */
static void test_bad_streams_are_rejected(void **unused)
{
    (void)unused;
    static const char *bad[] = {
        /* valid JSON, wrong shape */
        "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"score\\\":7}\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}"
        "\n\ndata: [DONE]\n\n",
        /* an event that is not JSON */
        "data: {\"choices\":[{\"delta\":{\"content\":\"" ANSWER "\"}}]}\n\n"
        "data: {not json\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}"
        "\n\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bf_ai_stream_t s;
        bf_ai_stream_init(&s, BF_AI_OPENAI, NULL, NULL);
        assert_int_equal(bf_ai_stream_feed(&s, bad[i], strlen(bad[i])), BF_OK);
        size_t len;
        char *body = bf_ai_stream_body(&s, &len);
        bf_ai_stream_free(&s);
        bf_verdict_t v;
        char errstr[200];
        assert_int_equal(bf_ai_response_parse(BF_AI_OPENAI, BF_ANALYSIS_QUALITY, body,
                                              len, &v, errstr, sizeof(errstr)),
                         BF_ERR_BAD_ANSWER);
        assert_true(bf_ai_usage_parse(BF_AI_OPENAI, body, len, &v));
        assert_int_equal(v.tokens_in, 5);
        assert_int_equal(v.tokens_out, 3);
        free(body);
    }
    /* Anthropic: partial JSON that never completes. */
    const char *cut =
        strstr(ANTHROPIC_STREAM, "event: content_block_delta\n"
                                 "data: {\"type\":\"content_block_delta\","
                                 "\"index\":0,\"delta\":{\"type\":"
                                 "\"input_json_delta\",\"partial_json\":\":");
    assert_non_null(cut);
    bf_ai_stream_t s;
    bf_ai_stream_init(&s, BF_AI_ANTHROPIC, NULL, NULL);
    assert_int_equal(
        bf_ai_stream_feed(&s, ANTHROPIC_STREAM, (size_t)(cut - ANTHROPIC_STREAM)), BF_OK);
    size_t len;
    char *body = bf_ai_stream_body(&s, &len);
    bf_ai_stream_free(&s);
    bf_verdict_t v;
    char errstr[200];
    assert_int_equal(bf_ai_response_parse(BF_AI_ANTHROPIC, BF_ANALYSIS_QUALITY, body, len,
                                          &v, errstr, sizeof(errstr)),
                     BF_ERR_BAD_ANSWER);
    free(body);
}

/* The streaming form of a request with @p url and @p body. */
static void streamed(bf_ai_provider_t p, const char *url, const char *body,
                     bf_ai_wire_t *w)
{
    *w = (bf_ai_wire_t){0};
    w->url = strdup(url);
    w->body = strdup(body);
    w->body_len = strlen(body);
    bf_ai_wire_stream(p, w);
    assert_int_equal(strlen(w->body), w->body_len);
}

static void test_wire_stream(void **unused)
{
    (void)unused;
    bf_ai_wire_t w;
    streamed(BF_AI_OPENAI, "http://h/v1/chat/completions", "{\"model\":\"m\"}", &w);
    json_t *b = json_loads(w.body, 0, NULL);
    assert_true(json_is_true(json_object_get(b, "stream")));
    assert_true(json_is_true(
        json_object_get(json_object_get(b, "stream_options"), "include_usage")));
    json_decref(b);
    bf_ai_wire_free(&w);

    streamed(BF_AI_ANTHROPIC, "http://h/v1/messages", "{\"model\":\"m\"}", &w);
    b = json_loads(w.body, 0, NULL);
    assert_true(json_is_true(json_object_get(b, "stream")));
    assert_null(json_object_get(b, "stream_options"));
    json_decref(b);
    bf_ai_wire_free(&w);

    streamed(BF_AI_GEMINI, "http://h/v1beta/models/gemini-x:generateContent",
             "{\"contents\":[]}", &w);
    assert_string_equal(w.url,
                        "http://h/v1beta/models/gemini-x:streamGenerateContent?alt=sse");
    assert_string_equal(w.body, "{\"contents\":[]}");
    bf_ai_wire_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_fields_and_dispatch),
        cmocka_unit_test(test_sse_line_ends),
        cmocka_unit_test(test_sse_bounds),
        cmocka_unit_test(test_openai_stream_at_every_byte),
        cmocka_unit_test(test_anthropic_stream_at_every_byte),
        cmocka_unit_test(test_gemini_stream_at_every_byte),
        cmocka_unit_test(test_same_usage_as_non_streamed),
        cmocka_unit_test(test_bad_streams_are_rejected),
        cmocka_unit_test(test_wire_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
