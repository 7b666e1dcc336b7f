/*
 * ai_stream.c - server-sent events and the assembly of streamed answers
 * (ai_stream.h).
 */
#include "worker/ai_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/json_scan.h"
#include "libbf/mem.h"

void bf_sse_init(bf_sse_t *p, size_t max, bf_sse_event_cb *cb, void *opaque)
{
    memset(p, 0, sizeof(*p));
    bf_buf_init(&p->line, max);
    bf_buf_init(&p->data, max);
    bf_buf_init(&p->event, 256);
    p->cb = cb;
    p->opaque = opaque;
}

void bf_sse_free(bf_sse_t *p)
{
    bf_buf_free(&p->line);
    bf_buf_free(&p->data);
    bf_buf_free(&p->event);
}

/* A blank line: dispatch the event if it has data, then start afresh. */
static void dispatch(bf_sse_t *p)
{
    if (p->data.len > 0) {
        p->data.len--; /* the '\n' after the last data line */
        p->data.data[p->data.len] = '\0';
        p->cb(p->event.len ? p->event.data : "message", p->data.data, p->data.len,
              p->opaque);
    }
    bf_buf_reset(&p->data);
    bf_buf_reset(&p->event);
}

/* One complete line (without its end). Fields other than data and event
 * (id, retry) are ignored; ':' starts a comment. */
static bf_err_t on_line(bf_sse_t *p, const char *line, size_t len)
{
    if (len == 0) {
        dispatch(p);
        return BF_OK;
    }
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if (bf_buf_append(&p->data, value, value_len) != BF_OK ||
            bf_buf_append(&p->data, "\n", 1) != BF_OK)
            return BF_ERR_TOO_LARGE;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        bf_buf_reset(&p->event);
        if (bf_buf_append(&p->event, value, value_len) != BF_OK)
            return BF_ERR_TOO_LARGE;
    }
    return BF_OK;
}

bf_err_t bf_sse_feed(bf_sse_t *p, const char *data, size_t len)
{
    size_t i = 0;
    if (p->after_cr && len > 0 && data[0] == '\n')
        i = 1; /* the "\n" of a "\r\n" split between chunks */
    if (len > 0)
        p->after_cr = false;
    size_t start = i;
    for (; i < len; i++) {
        if (data[i] != '\n' && data[i] != '\r')
            continue;
        bf_err_t err;
        if (p->line.len > 0) { /* the line began in an earlier chunk */
            if (bf_buf_append(&p->line, data + start, i - start) != BF_OK)
                return BF_ERR_TOO_LARGE;
            err = on_line(p, p->line.data, p->line.len);
            bf_buf_reset(&p->line);
        } else {
            err = on_line(p, data + start, i - start);
        }
        if (err)
            return err;
        if (data[i] == '\r') {
            if (i + 1 == len)
                p->after_cr = true;
            else if (data[i + 1] == '\n')
                i++;
        }
        start = i + 1;
    }
    if (start < len && bf_buf_append(&p->line, data + start, len - start) != BF_OK)
        return BF_ERR_TOO_LARGE;
    return BF_OK;
}

/* ---- assembly ----------------------------------------------------------- */

/* Largest event or line we accept: answers are a few hundred bytes. */
#define STREAM_MAX (1u << 20)

static void add_text(bf_ai_stream_t *s, const json_t *piece)
{
    if (!json_is_string(piece) || json_string_length(piece) == 0)
        return;
    if (bf_buf_append(&s->text, json_string_value(piece), json_string_length(piece)) !=
        BF_OK)
        s->bad = true;
    else if (s->on_text)
        s->on_text(json_string_value(piece), json_string_length(piece), s->text_opaque);
}

/* Later counts replace earlier ones (Anthropic's message_delta carries the
 * final output_tokens; Gemini's and OpenAI's last chunk the whole usage). */
static void merge_usage(bf_ai_stream_t *s, json_t *usage)
{
    if (json_is_object(usage))
        json_object_update(s->usage, usage);
}

static void set_model(bf_ai_stream_t *s, const json_t *model)
{
    if (json_is_string(model))
        snprintf(s->model, sizeof(s->model), "%s", json_string_value(model));
}

static void on_event(const char *event, const char *data, size_t len, void *opaque)
{
    bf_ai_stream_t *s = opaque;
    if (s->provider == BF_AI_OPENAI && len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return;
    json_t *ev = bf_json_load(data, len, 0, NULL);
    if (!json_is_object(ev)) {
        s->bad = true;
        json_decref(ev);
        return;
    }
    if (s->provider == BF_AI_OPENAI) {
        set_model(s, json_object_get(ev, "model"));
        json_t *choice = json_array_get(json_object_get(ev, "choices"), 0);
        add_text(s, json_object_get(json_object_get(choice, "delta"), "content"));
        merge_usage(s, json_object_get(ev, "usage"));
    } else if (s->provider == BF_AI_GEMINI) {
        set_model(s, json_object_get(ev, "modelVersion"));
        json_t *cand = json_array_get(json_object_get(ev, "candidates"), 0);
        json_t *parts = json_object_get(json_object_get(cand, "content"), "parts");
        size_t i;
        json_t *part;
        json_array_foreach(parts, i, part) add_text(s, json_object_get(part, "text"));
        merge_usage(s, json_object_get(ev, "usageMetadata"));
    } else {
        json_t *msg = json_object_get(ev, "message");
        json_t *block = json_object_get(ev, "content_block");
        json_t *delta = json_object_get(ev, "delta");
        if (strcmp(event, "message_start") == 0) {
            set_model(s, json_object_get(msg, "model"));
            merge_usage(s, json_object_get(msg, "usage"));
        } else if (strcmp(event, "content_block_start") == 0) {
            const char *type = json_string_value(json_object_get(block, "type"));
            if (type && strcmp(type, "tool_use") == 0 && s->text.len == 0) {
                s->tool = true;
                const char *name = json_string_value(json_object_get(block, "name"));
                snprintf(s->tool_name, sizeof(s->tool_name), "%s", name ? name : "");
            }
        } else if (strcmp(event, "content_block_delta") == 0) {
            add_text(s, json_object_get(delta, s->tool ? "partial_json" : "text"));
        } else if (strcmp(event, "message_delta") == 0) {
            merge_usage(s, json_object_get(ev, "usage"));
        } else if (strcmp(event, "error") == 0) {
            s->bad = true;
        }
    }
    json_decref(ev);
}

void bf_ai_stream_init(bf_ai_stream_t *s, bf_ai_provider_t p,
                       bf_ai_stream_text_cb *on_text, void *text_opaque)
{
    memset(s, 0, sizeof(*s));
    s->provider = p;
    bf_sse_init(&s->sse, STREAM_MAX, on_event, s);
    bf_buf_init(&s->text, STREAM_MAX);
    s->usage = json_object();
    s->on_text = on_text;
    s->text_opaque = text_opaque;
}

bf_err_t bf_ai_stream_feed(bf_ai_stream_t *s, const char *data, size_t len)
{
    return bf_sse_feed(&s->sse, data, len);
}

void bf_ai_stream_free(bf_ai_stream_t *s)
{
    bf_sse_free(&s->sse);
    bf_buf_free(&s->text);
    json_decref(s->usage);
    s->usage = NULL;
}

char *bf_ai_stream_body(const bf_ai_stream_t *s, size_t *len)
{
    /* A stream cut short or with a broken event yields no answer at all,
     * so that it is rejected like a malformed body, never half-trusted. */
    json_t *text = s->bad ? json_null()
                          : json_stringn(s->text.data ? s->text.data : "", s->text.len);
    json_t *body;
    if (s->provider == BF_AI_OPENAI) {
        body = json_pack("{s:s, s:[{s:i, s:{s:s, s:o}}], s:O}", "model", s->model,
                         "choices", "index", 0, "message", "role", "assistant", "content",
                         text, "usage", s->usage);
    } else if (s->provider == BF_AI_GEMINI) {
        body = json_pack("{s:[{s:{s:[{s:o}], s:s}}], s:O, s:s}", "candidates", "content",
                         "parts", "text", text, "role", "model", "usageMetadata",
                         s->usage, "modelVersion", s->model);
    } else {
        json_t *block;
        json_t *input =
            s->tool && json_is_string(text)
                ? bf_json_load(json_string_value(text), json_string_length(text), 0, NULL)
                : NULL;
        if (json_is_object(input)) {
            block = json_pack("{s:s, s:s, s:o}", "type", "tool_use", "name", s->tool_name,
                              "input", input);
            json_decref(text);
        } else {
            /* Not a JSON object: handed over as text, which the schema
             * check rejects with a clear error. */
            json_decref(input);
            block = json_pack("{s:s, s:o}", "type", "text", "text", text);
        }
        body = json_pack("{s:s, s:s, s:[o], s:O}", "type", "message", "model", s->model,
                         "content", block, "usage", s->usage);
    }
    if (!body)
        abort(); /* allocation failure: the project's out-of-memory policy */
    char *out = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!out)
        abort();
    *len = strlen(out);
    return out;
}

void bf_ai_wire_stream(bf_ai_provider_t p, bf_ai_wire_t *w)
{
    if (p == BF_AI_GEMINI) {
        static const char from[] = ":generateContent";
        char *at = strstr(w->url, from);
        if (!at)
            return;
        char *url = bf_malloc(strlen(w->url) + 32);
        sprintf(url, "%.*s:streamGenerateContent?alt=sse%s", (int)(at - w->url), w->url,
                at + sizeof(from) - 1);
        free(w->url);
        w->url = url;
        return;
    }
    json_t *body = bf_json_load(w->body, w->body_len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return;
    }
    json_object_set_new(body, "stream", json_true());
    if (p == BF_AI_OPENAI)
        json_object_set_new(body, "stream_options",
                            json_pack("{s:b}", "include_usage", 1));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        abort();
    free(w->body);
    w->body = text;
    w->body_len = strlen(text);
}
