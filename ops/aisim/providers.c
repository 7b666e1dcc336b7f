/*
 * providers.c - Anthropic Messages and Gemini generateContent, as far as
 * the simulator speaks them (see providers.h). Validation follows the
 * fields the real APIs require and reports failures with their messages
 * and error shapes, so a client's error handling meets what production
 * will send.
 */
#include "providers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "libbf/buf.h"
#include "libbf/mem.h"

/* Bound on the text gathered from one request (the body is bounded too). */
#define MAX_TEXT (8 * 1024 * 1024)

static const char *const names[] = {"openai", "anthropic", "gemini"};

const char *bf_aisim_provider_name(bf_aisim_provider_t p)
{
    return (unsigned)p < BF_AISIM_PROVIDER__COUNT ? names[p] : "unknown";
}

void bf_aisim_request_clear(bf_aisim_request_t *r)
{
    bf_aisim_chat_clear(&r->chat);
    memset(r, 0, sizeof(*r));
}

/* Append a string's text to @p b. @returns -1 when the bound is hit. */
static int add_text(bf_buf_t *b, const json_t *s, size_t *bytes)
{
    *bytes += json_string_length(s);
    return bf_buf_append(b, json_string_value(s), json_string_length(s)) ? -1 : 0;
}

/* ---- Anthropic --------------------------------------------------------- */

static bf_err_t anth_bad(bf_aisim_error_t *err, const char *fmt, const char *what)
{
    bf_aisim_error_set(err, 400, "invalid_request_error", NULL, NULL, fmt, what);
    return BF_ERR_SCHEMA;
}

/* "system": a string, or a list of {"type":"text","text",...} blocks, each
 * of which may carry "cache_control": {"type":"ephemeral"}: the prompt's
 * prefix up to the last such block is what the cache keeps. */
static bf_err_t anth_system(const json_t *sys, bf_aisim_request_t *out,
                            bf_aisim_error_t *err)
{
    if (!sys)
        return BF_OK;
    if (json_is_string(sys)) {
        out->system_bytes = json_string_length(sys);
        bf_aisim_prefix_feed(&out->chat.prefix, json_string_value(sys),
                             out->system_bytes);
        return BF_OK;
    }
    if (!json_is_array(sys))
        return anth_bad(err, "system: Input should be a valid %s", "list");
    size_t i;
    json_t *block;
    json_array_foreach(sys, i, block)
    {
        const char *type = json_string_value(json_object_get(block, "type"));
        json_t *text = json_object_get(block, "text");
        if (!type || strcmp(type, "text") != 0 || !json_is_string(text))
            return anth_bad(err, "system.%s: Input should be a text block", "0");
        out->system_bytes += json_string_length(text);
        bf_aisim_prefix_feed(&out->chat.prefix, json_string_value(text),
                             json_string_length(text));
        json_t *cc = json_object_get(block, "cache_control");
        if (cc) {
            const char *cct = json_string_value(json_object_get(cc, "type"));
            if (!cct || strcmp(cct, "ephemeral") != 0)
                return anth_bad(err, "system.0.cache_control.type: Input should be '%s'",
                                "ephemeral");
            bf_aisim_prefix_mark(&out->chat.prefix);
        }
    }
    return BF_OK;
}

bf_err_t bf_aisim_anthropic_parse(const char *body, size_t len, bf_aisim_request_t *out,
                                  bf_aisim_error_t *err)
{
    memset(out, 0, sizeof(*out));
    json_t *req = json_loadb(body, len, 0, NULL);
    bf_err_t e = BF_ERR_SCHEMA;
    bf_buf_t text;
    bf_buf_init(&text, MAX_TEXT);
    if (!json_is_object(req)) {
        e = anth_bad(err, "%s",
                     "There was an error parsing the body of your request: "
                     "not valid JSON");
        goto out;
    }
    out->chat.stream = json_is_true(json_object_get(req, "stream"));
    json_t *model = json_object_get(req, "model");
    json_t *max_tokens = json_object_get(req, "max_tokens");
    json_t *messages = json_object_get(req, "messages");
    if (!json_is_string(model)) {
        e = anth_bad(err, "%s: Field required", "model");
        goto out;
    }
    if (!json_is_integer(max_tokens) || json_integer_value(max_tokens) < 1) {
        e = anth_bad(err, "%s: Field required (an integer >= 1)", "max_tokens");
        goto out;
    }
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        e = anth_bad(err, "%s: Field required (a non-empty list)", "messages");
        goto out;
    }
    /* The prompt as Anthropic renders it: tools, then system, then messages
     * (a tool's definition is billed as input and cached with the rest). */
    bf_aisim_prefix_init(&out->chat.prefix);
    json_t *tool_list = json_object_get(req, "tools");
    if (json_is_array(tool_list)) {
        char *text_of_tools = json_dumps(tool_list, JSON_COMPACT);
        size_t n = text_of_tools ? strlen(text_of_tools) : 0;
        bf_aisim_prefix_feed(&out->chat.prefix, text_of_tools ? text_of_tools : "", n);
        out->chat.prompt_bytes += n;
        free(text_of_tools);
    }
    if ((e = anth_system(json_object_get(req, "system"), out, err)) != BF_OK)
        goto out;
    e = BF_ERR_SCHEMA;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
            e = anth_bad(err, "messages.%s.role: Input should be 'user' or 'assistant'",
                         "n");
            goto out;
        }
        if (i == 0 && strcmp(role, "user") != 0) {
            e = anth_bad(err, "%s: first message must use the \"user\" role", "messages");
            goto out;
        }
        json_t *content = json_object_get(m, "content");
        bool user = strcmp(role, "user") == 0;
        if (json_is_string(content)) {
            if (user) {
                text.len = 0;
                if (add_text(&text, content, &out->chat.prompt_bytes))
                    goto too_large;
            } else {
                out->chat.prompt_bytes += json_string_length(content);
            }
        } else if (json_is_array(content)) {
            size_t j;
            json_t *blk;
            if (user)
                text.len = 0;
            json_array_foreach(content, j, blk)
            {
                json_t *t = json_object_get(blk, "text");
                if (!json_is_string(json_object_get(blk, "type"))) {
                    e = anth_bad(err, "messages.%s.content: each block needs a type",
                                 "n");
                    goto out;
                }
                if (json_is_string(t) && add_text(&text, t, &out->chat.prompt_bytes))
                    goto too_large;
            }
        } else {
            e = anth_bad(err, "messages.%s.content: Field required", "n");
            goto out;
        }
    }
    /* Tools: each needs a name and an object input_schema; tool_choice
     * {"type":"tool","name"} must name one of them. */
    json_t *tools = json_object_get(req, "tools");
    json_t *choice = json_object_get(req, "tool_choice");
    const char *first_tool = NULL;
    if (tools) {
        json_t *tool;
        if (!json_is_array(tools)) {
            e = anth_bad(err, "%s: Input should be a valid list", "tools");
            goto out;
        }
        json_array_foreach(tools, i, tool)
        {
            const char *name = json_string_value(json_object_get(tool, "name"));
            json_t *schema = json_object_get(tool, "input_schema");
            const char *st = json_string_value(json_object_get(schema, "type"));
            if (!name || !st || strcmp(st, "object") != 0) {
                e = anth_bad(err, "%s: a tool needs name and input_schema of type object",
                             "tools");
                goto out;
            }
            if (!first_tool)
                first_tool = name;
        }
    }
    const char *tool = NULL;
    if (choice) {
        const char *ct = json_string_value(json_object_get(choice, "type"));
        if (!ct || (strcmp(ct, "auto") && strcmp(ct, "any") && strcmp(ct, "tool") &&
                    strcmp(ct, "none"))) {
            e = anth_bad(err, "%s: type should be 'auto', 'any', 'tool' or 'none'",
                         "tool_choice");
            goto out;
        }
        if (strcmp(ct, "tool") == 0) {
            tool = json_string_value(json_object_get(choice, "name"));
            bool found = false;
            json_t *t;
            json_array_foreach(tools, i, t)
            {
                const char *name = json_string_value(json_object_get(t, "name"));
                if (tool && name && strcmp(tool, name) == 0)
                    found = true;
            }
            if (!found) {
                e = anth_bad(err, "%s: names a tool that is not in tools",
                             "tool_choice.name");
                goto out;
            }
        } else if (strcmp(ct, "any") == 0) {
            tool = first_tool;
        }
    }
    if (tool) {
        out->use_tool = true;
        snprintf(out->tool_name, sizeof(out->tool_name), "%s", tool);
    }
    out->chat.kind = bf_aisim_kind_from_schema_name(tool ? tool : first_tool);
    out->chat.model = bf_strdup(json_string_value(model));
    bf_aisim_prefix_feed(&out->chat.prefix, text.data ? text.data : "", text.len);
    out->chat.user_text = text.data ? bf_buf_steal(&text, NULL) : bf_strdup("");
    out->chat.prompt_bytes += out->system_bytes;
    e = BF_OK;
    goto out;
too_large:
    e = anth_bad(err, "%s: prompt is too long", "messages");
out:
    bf_buf_free(&text);
    json_decref(req);
    if (e)
        bf_aisim_request_clear(out);
    return e;
}

char *bf_aisim_anthropic_answer(const char *id, const bf_aisim_request_t *r,
                                const char *content, const bf_aisim_usage_t *u)
{
    json_t *block;
    if (r->use_tool) {
        char tid[64];
        snprintf(tid, sizeof(tid), "toolu_%s", id + (strncmp(id, "msg_", 4) ? 0 : 4));
        json_t *input = json_loads(content, 0, NULL);
        block = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id", tid, "name",
                          r->tool_name, "input", input ? input : json_object());
    } else {
        block = json_pack("{s:s, s:s}", "type", "text", "text", content);
    }
    json_t *root = json_pack(
        "{s:s, s:s, s:s, s:s, s:[o], s:s, s:n, s:{s:I, s:I, s:I, s:I}}", "id", id, "type",
        "message", "role", "assistant", "model", r->chat.model, "content", block,
        "stop_reason", r->use_tool ? "tool_use" : "end_turn", "stop_sequence", "usage",
        "input_tokens", (json_int_t)u->input, "cache_creation_input_tokens",
        (json_int_t)u->cache_write, "cache_read_input_tokens", (json_int_t)u->cache_read,
        "output_tokens", (json_int_t)u->output);
    char *out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(root);
    if (!out)
        abort(); /* allocation failure: the project's out-of-memory policy */
    return out;
}

/* ---- Gemini ------------------------------------------------------------ */

static bf_err_t gem_bad(bf_aisim_error_t *err, const char *fmt, const char *what)
{
    bf_aisim_error_set(err, 400, "INVALID_ARGUMENT", NULL, NULL, fmt, what);
    return BF_ERR_SCHEMA;
}

/* Gather the text parts of a Content ({"role","parts":[{"text"}]}). */
static bf_err_t gem_parts(const json_t *content, const char *where, bf_buf_t *text,
                          size_t *bytes, bf_aisim_error_t *err)
{
    json_t *parts = json_object_get(content, "parts");
    if (!json_is_array(parts) || json_array_size(parts) == 0)
        return gem_bad(err,
                       "* GenerateContentRequest.%s.parts: contents.parts must not "
                       "be empty.",
                       where);
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        json_t *t = json_object_get(p, "text");
        if (json_is_string(t) && add_text(text, t, bytes))
            return gem_bad(err, "* GenerateContentRequest.%s: the input is too long",
                           where);
    }
    return BF_OK;
}

bf_err_t bf_aisim_gemini_parse(const char *model, const char *body, size_t len,
                               bf_aisim_request_t *out, bf_aisim_error_t *err)
{
    static const char *const known[] = {
        "contents",
        "systemInstruction",
        "generationConfig",
        "safetySettings",
        "tools",
        "toolConfig",
        "cachedContent",
        "system_instruction",
        "generation_config",
    };
    memset(out, 0, sizeof(*out));
    json_t *req = json_loadb(body, len, 0, NULL);
    bf_err_t e = BF_ERR_SCHEMA;
    bf_buf_t text, sys;
    bf_buf_init(&text, MAX_TEXT);
    bf_buf_init(&sys, MAX_TEXT);
    if (!json_is_object(req)) {
        e = gem_bad(err, "Invalid JSON payload received. %s", "Unexpected token.");
        goto out;
    }
    /* The API rejects unknown top-level names (proto3 JSON mapping). */
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok) {
            char msg[160];
            snprintf(msg, sizeof(msg), "Unknown name \"%.60s\": Cannot find field.", key);
            e = gem_bad(err, "Invalid JSON payload received. %s", msg);
            goto out;
        }
    }
    json_t *contents = json_object_get(req, "contents");
    if (!json_is_array(contents) || json_array_size(contents) == 0) {
        e = gem_bad(err, "* GenerateContentRequest.%s: contents is not specified",
                    "contents");
        goto out;
    }
    size_t i;
    json_t *c;
    json_array_foreach(contents, i, c)
    {
        const char *role = json_string_value(json_object_get(c, "role"));
        if (role && strcmp(role, "user") != 0 && strcmp(role, "model") != 0) {
            e = gem_bad(err, "Please use a valid role: %s.", "user, model");
            goto out;
        }
        bool user = !role || strcmp(role, "user") == 0;
        if (user)
            text.len = 0;
        bf_buf_t *into = user ? &text : &sys; /* model turns only count */
        if (gem_parts(c, "contents", into, &out->chat.prompt_bytes, err))
            goto out;
        if (!user)
            sys.len = 0;
    }
    json_t *si = json_object_get(req, "systemInstruction");
    if (si && gem_parts(si, "system_instruction", &sys, &out->system_bytes, err))
        goto out;
    /* The prompt as Gemini renders it: the system instruction, then the
     * contents. */
    bf_aisim_prefix_init(&out->chat.prefix);
    bf_aisim_prefix_feed(&out->chat.prefix, sys.data ? sys.data : "", sys.len);
    bf_aisim_prefix_feed(&out->chat.prefix, text.data ? text.data : "", text.len);
    json_t *gc = json_object_get(req, "generationConfig");
    json_t *schema = json_object_get(gc, "responseSchema");
    const char *mime = json_string_value(json_object_get(gc, "responseMimeType"));
    if (mime && strcmp(mime, "text/plain") && strcmp(mime, "application/json") &&
        strcmp(mime, "text/x.enum")) {
        e = gem_bad(err,
                    "* GenerateContentRequest.generation_config.response_mime_type: "
                    "allowed mimetypes are `text/plain`, `application/json`, and "
                    "`text/x.enum`, not %s",
                    "that");
        goto out;
    }
    if (schema && (!mime || strcmp(mime, "text/plain") == 0)) {
        e = gem_bad(err,
                    "* GenerateContentRequest.generation_config.response_schema: "
                    "%s",
                    "only supported when response_mime_type is application/json or "
                    "text/x.enum");
        goto out;
    }
    const char *title = json_string_value(json_object_get(schema, "title"));
    out->chat.kind = bf_aisim_kind_from_schema_name(title);
    if (!title && json_object_get(json_object_get(schema, "properties"), "severity"))
        out->chat.kind = BF_AISIM_KIND_SEVERITY;
    out->chat.model = bf_strdup(model);
    out->chat.user_text = text.data ? bf_buf_steal(&text, NULL) : bf_strdup("");
    out->chat.prompt_bytes += out->system_bytes;
    e = BF_OK;
out:
    bf_buf_free(&text);
    bf_buf_free(&sys);
    json_decref(req);
    if (e)
        bf_aisim_request_clear(out);
    return e;
}

char *bf_aisim_gemini_answer(const char *id, const bf_aisim_request_t *r,
                             const char *content, const bf_aisim_usage_t *u)
{
    json_t *root = json_pack(
        "{s:[{s:{s:[{s:s}], s:s}, s:s, s:i}], s:{s:I, s:I, s:I, s:I}, s:s, "
        "s:s}",
        "candidates", "content", "parts", "text", content, "role", "model",
        "finishReason", "STOP", "index", 0, "usageMetadata", "promptTokenCount",
        (json_int_t)u->input, "candidatesTokenCount", (json_int_t)u->output,
        "totalTokenCount", (json_int_t)(u->input + u->output), "cachedContentTokenCount",
        (json_int_t)u->cache_read, "modelVersion", r->chat.model, "responseId", id);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!out)
        abort(); /* allocation failure: the project's out-of-memory policy */
    return out;
}

/* ---- errors ---------------------------------------------------------------- */

static const char *anthropic_type(unsigned status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 529:
        return "overloaded_error";
    default:
        return "api_error";
    }
}

static const char *google_status(unsigned status)
{
    switch (status) {
    case 400:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 413:
        return "INVALID_ARGUMENT";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 503:
        return "UNAVAILABLE";
    case 504:
        return "DEADLINE_EXCEEDED";
    default:
        return "INTERNAL";
    }
}

char *bf_aisim_error_to_json_for(bf_aisim_provider_t p, const bf_aisim_error_t *err)
{
    if (p == BF_AISIM_OPENAI)
        return bf_aisim_error_to_json(err);
    json_t *msg = json_string(err->message);
    if (!msg)
        msg = json_string("invalid request");
    json_t *root;
    if (p == BF_AISIM_ANTHROPIC)
        root = json_pack("{s:s, s:{s:s, s:o}}", "type", "error", "error", "type",
                         anthropic_type(err->status), "message", msg);
    else
        root = json_pack("{s:{s:i, s:o, s:s}}", "error", "code", (int)err->status,
                         "message", msg, "status", google_status(err->status));
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!out)
        abort(); /* allocation failure: the project's out-of-memory policy */
    return out;
}

/* ---- streaming --------------------------------------------------------- */

/* Bytes of content per streamed piece: small enough that a client sees
 * several events for one answer. */
#define STREAM_PIECE 24

/* Append one event: optional "event: NAME" line, then "data: JSON". */
static void sse(bf_buf_t *b, const char *event, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (!text)
        abort(); /* allocation failure: the project's out-of-memory policy */
    if (event) {
        bf_buf_append(b, "event: ", 7);
        bf_buf_append(b, event, strlen(event));
        bf_buf_append(b, "\n", 1);
    }
    bf_buf_append(b, "data: ", 6);
    bf_buf_append(b, text, strlen(text));
    bf_buf_append(b, "\n\n", 2);
    free(text);
}

char *bf_aisim_stream_answer(bf_aisim_provider_t p, const char *id,
                             const bf_aisim_request_t *r, const char *content,
                             const bf_aisim_usage_t *u, int64_t created)
{
    bf_buf_t b;
    /* A verdict is a few hundred bytes; its events fit many times over. */
    bf_buf_init(&b, 1 << 20);
    size_t len = strlen(content);
    const char *model = r->chat.model;
    if (p == BF_AISIM_ANTHROPIC) {
        sse(&b, "message_start",
            json_pack(
                "{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:{s:I, s:I, s:I, s:i}}}",
                "type", "message_start", "message", "id", id, "type", "message", "role",
                "assistant", "model", model, "content", "stop_reason", "stop_sequence",
                "usage", "input_tokens", (json_int_t)u->input,
                "cache_creation_input_tokens", (json_int_t)u->cache_write,
                "cache_read_input_tokens", (json_int_t)u->cache_read, "output_tokens",
                1));
        json_t *block = r->use_tool
                            ? json_pack("{s:s, s:s, s:s, s:{}}", "type", "tool_use", "id",
                                        id, "name", r->tool_name, "input")
                            : json_pack("{s:s, s:s}", "type", "text", "text", "");
        sse(&b, "content_block_start",
            json_pack("{s:s, s:i, s:o}", "type", "content_block_start", "index", 0,
                      "content_block", block));
        for (size_t off = 0; off < len; off += STREAM_PIECE) {
            size_t n = len - off < STREAM_PIECE ? len - off : STREAM_PIECE;
            json_t *piece = json_stringn(content + off, n);
            json_t *delta =
                r->use_tool
                    ? json_pack("{s:s, s:o}", "type", "input_json_delta", "partial_json",
                                piece)
                    : json_pack("{s:s, s:o}", "type", "text_delta", "text", piece);
            sse(&b, "content_block_delta",
                json_pack("{s:s, s:i, s:o}", "type", "content_block_delta", "index", 0,
                          "delta", delta));
        }
        sse(&b, "content_block_stop",
            json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0));
        sse(&b, "message_delta",
            json_pack("{s:s, s:{s:s, s:n}, s:{s:I}}", "type", "message_delta", "delta",
                      "stop_reason", r->use_tool ? "tool_use" : "end_turn",
                      "stop_sequence", "usage", "output_tokens", (json_int_t)u->output));
        sse(&b, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    } else if (p == BF_AISIM_GEMINI) {
        for (size_t off = 0; off < len; off += STREAM_PIECE) {
            size_t n = len - off < STREAM_PIECE ? len - off : STREAM_PIECE;
            bool last = off + n >= len;
            json_t *chunk = json_pack(
                "{s:[{s:{s:[{s:o}], s:s}, s:i}], s:s, s:s}", "candidates", "content",
                "parts", "text", json_stringn(content + off, n), "role", "model", "index",
                0, "modelVersion", model, "responseId", id);
            if (last) {
                json_object_set_new(
                    json_array_get(json_object_get(chunk, "candidates"), 0),
                    "finishReason", json_string("STOP"));
                json_object_set_new(
                    chunk, "usageMetadata",
                    json_pack("{s:I, s:I, s:I, s:I}", "promptTokenCount",
                              (json_int_t)u->input, "candidatesTokenCount",
                              (json_int_t)u->output, "totalTokenCount",
                              (json_int_t)(u->input + u->output),
                              "cachedContentTokenCount", (json_int_t)u->cache_read));
            }
            sse(&b, NULL, chunk);
        }
    } else {
        for (size_t off = 0; off <= len; off += STREAM_PIECE) {
            size_t n = len - off < STREAM_PIECE ? len - off : STREAM_PIECE;
            json_t *delta = off == 0 ? json_pack("{s:s, s:s%}", "role", "assistant",
                                                 "content", content, n)
                                     : json_pack("{s:s%}", "content", content + off, n);
            sse(&b, NULL,
                json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n}]}", "id", id, "object",
                          "chat.completion.chunk", "created", (json_int_t)created,
                          "model", model, "choices", "index", 0, "delta", delta,
                          "finish_reason"));
            if (n == 0)
                break;
        }
        sse(&b, NULL,
            json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{}, s:s}]}", "id", id, "object",
                      "chat.completion.chunk", "created", (json_int_t)created, "model",
                      model, "choices", "index", 0, "delta", "finish_reason", "stop"));
        sse(&b, NULL,
            json_pack("{s:s, s:s, s:I, s:s, s:[], s:{s:I, s:I, s:I, s:{s:I}}}", "id", id,
                      "object", "chat.completion.chunk", "created", (json_int_t)created,
                      "model", model, "choices", "usage", "prompt_tokens",
                      (json_int_t)u->input, "completion_tokens", (json_int_t)u->output,
                      "total_tokens", (json_int_t)(u->input + u->output),
                      "prompt_tokens_details", "cached_tokens",
                      (json_int_t)u->cache_read));
        bf_buf_append(&b, "data: [DONE]\n\n", 14);
    }
    return bf_buf_steal(&b, NULL);
}
