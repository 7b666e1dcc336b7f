/*
 * openai.c - Chat Completions requests, completions and errors
 * (see openai.h).
 *
 * Validation follows what the real endpoint checks first and how it words
 * it: "model" must be a string, "messages" a non-empty array of objects
 * each with a known "role" and a "content" that is a string or an array of
 * content parts ({"type":"text","text":...}); an assistant message may
 * have null content (it carried tool calls). Streaming is refused: the
 * worker does not stream and a simulator that pretended to would hide
 * client bugs.
 */
#include "openai.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "libbf/buf.h"
#include "libbf/mem.h"
#include "libbf/report.h"

/* The user text handed to the verdict rules is at most the request body,
 * which the server bounds; this bound only guards a pathological body
 * made of many user messages. */
#define MAX_USER_TEXT (8 * 1024 * 1024)

void bf_aisim_error_set(bf_aisim_error_t *err, unsigned status, const char *type,
                        const char *param, const char *code, const char *fmt, ...)
{
    err->status = status;
    err->type = type;
    err->code = code;
    snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

char *bf_aisim_error_to_json(const bf_aisim_error_t *err)
{
    json_t *e = json_object();
    /* The message may quote client input cut at any byte; jansson wants
     * UTF-8, so fall back to a fixed text rather than drop the field. */
    json_t *msg = json_string(err->message);
    json_object_set_new(e, "message", msg ? msg : json_string("invalid request"));
    json_object_set_new(e, "type", json_string(err->type));
    json_object_set_new(e, "param",
                        err->param[0] ? json_string(err->param) : json_null());
    json_object_set_new(e, "code", err->code ? json_string(err->code) : json_null());
    json_t *root = json_pack("{s:o}", "error", e);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!out)
        abort(); /* allocation failure: the project's out-of-memory policy */
    return out;
}

int64_t bf_aisim_tokens_estimate(size_t bytes)
{
    return (int64_t)((bytes + 3) / 4);
}

static const char *type_phrase(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a decimal";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static bool known_role(const char *role)
{
    static const char *const roles[] = {"system",    "developer", "user",
                                        "assistant", "tool",      "function"};
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(role, roles[i]) == 0)
            return true;
    return false;
}

/* Append the text of one message's content (a string or text parts) to
 * @p text, and count it in @p bytes. */
static bf_err_t content_text(const json_t *content, size_t index, bf_buf_t *text,
                             size_t *bytes, bf_aisim_error_t *err)
{
    if (json_is_string(content)) {
        *bytes += json_string_length(content);
        return bf_buf_append(text, json_string_value(content),
                             json_string_length(content))
                   ? BF_ERR_TOO_LARGE
                   : BF_OK;
    }
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        json_t *t = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(json_object_get(part, "type"))) {
            char param[96];
            snprintf(param, sizeof(param), "messages[%zu].content[%zu].type", index, i);
            bf_aisim_error_set(err, 400, "invalid_request_error", param,
                               "missing_required_parameter",
                               "Missing required parameter: '%s'.", param);
            return BF_ERR_SCHEMA;
        }
        if (json_is_string(t)) {
            *bytes += json_string_length(t);
            if (bf_buf_append(text, json_string_value(t), json_string_length(t)))
                return BF_ERR_TOO_LARGE;
        }
    }
    return BF_OK;
}

/* Check messages[i] and, for a user message, make its text the current
 * "last user text". */
static bf_err_t check_message(const json_t *m, size_t i, bf_aisim_chat_t *out,
                              bf_aisim_error_t *err)
{
    char param[96];
    if (!json_is_object(m)) {
        snprintf(param, sizeof(param), "messages[%zu]", i);
        bf_aisim_error_set(
            err, 400, "invalid_request_error", param, "invalid_type",
            "Invalid type for '%s': expected an object, but got %s instead.", param,
            type_phrase(m));
        return BF_ERR_SCHEMA;
    }
    json_t *role = json_object_get(m, "role");
    snprintf(param, sizeof(param), "messages[%zu].role", i);
    if (!role) {
        bf_aisim_error_set(err, 400, "invalid_request_error", param,
                           "missing_required_parameter",
                           "Missing required parameter: '%s'.", param);
        return BF_ERR_SCHEMA;
    }
    if (!json_is_string(role) || !known_role(json_string_value(role))) {
        bf_aisim_error_set(err, 400, "invalid_request_error", param, "invalid_value",
                           "Invalid value: '%.40s'. Supported values are: 'system', "
                           "'assistant', 'user', 'function', 'tool', and 'developer'.",
                           json_is_string(role) ? json_string_value(role) : "?");
        return BF_ERR_SCHEMA;
    }
    bool is_user = strcmp(json_string_value(role), "user") == 0;
    bool is_assistant = strcmp(json_string_value(role), "assistant") == 0;
    json_t *content = json_object_get(m, "content");
    snprintf(param, sizeof(param), "messages[%zu].content", i);
    if (!content && !is_assistant) {
        bf_aisim_error_set(err, 400, "invalid_request_error", param,
                           "missing_required_parameter",
                           "Missing required parameter: '%s'.", param);
        return BF_ERR_SCHEMA;
    }
    if (json_is_null(content) && is_assistant)
        return BF_OK;
    if (!json_is_string(content) && !json_is_array(content)) {
        bf_aisim_error_set(err, 400, "invalid_request_error", param, "invalid_type",
                           "Invalid type for '%s': expected one of a string or array of "
                           "objects, but got %s instead.",
                           param, type_phrase(content));
        return BF_ERR_SCHEMA;
    }
    bf_buf_t text;
    bf_buf_init(&text, MAX_USER_TEXT);
    bf_err_t e = content_text(content, i, &text, &out->prompt_bytes, err);
    if (e == BF_OK)
        bf_aisim_prefix_feed(&out->prefix, text.data ? text.data : "", text.len);
    if (e == BF_OK && is_user) {
        free(out->user_text);
        out->user_text = bf_buf_steal(&text, NULL);
    }
    bf_buf_free(&text);
    if (e == BF_ERR_TOO_LARGE)
        bf_aisim_error_set(err, 400, "invalid_request_error", param,
                           "string_above_max_length", "Invalid '%s': string too long.",
                           param);
    return e == BF_OK ? BF_OK : BF_ERR_SCHEMA;
}

static bf_aisim_kind_t kind_of(const json_t *req)
{
    json_t *rf = json_object_get(req, "response_format");
    json_t *name = json_object_get(json_object_get(rf, "json_schema"), "name");
    return bf_aisim_kind_from_schema_name(json_is_string(name) ? json_string_value(name)
                                                               : NULL);
}

bf_err_t bf_aisim_chat_parse(const char *body, size_t len, bf_aisim_chat_t *out,
                             bf_aisim_error_t *err)
{
    memset(out, 0, sizeof(*out));
    json_t *req = json_loadb(body, len, 0, NULL);
    bf_err_t e = BF_ERR_SCHEMA;
    if (!json_is_object(req)) {
        bf_aisim_error_set(
            err, 400, "invalid_request_error", NULL, NULL,
            "We could not parse the JSON body of your request. (HINT: This "
            "likely means you aren't using your HTTP library correctly. The "
            "OpenAI API expects a JSON payload, but what was sent was not "
            "valid JSON.)");
        e = BF_ERR_PARSE;
        goto out;
    }
    out->stream = json_is_true(json_object_get(req, "stream"));
    json_t *model = json_object_get(req, "model");
    if (!model) {
        bf_aisim_error_set(err, 400, "invalid_request_error", NULL, NULL,
                           "you must provide a model parameter");
        goto out;
    }
    if (!json_is_string(model)) {
        bf_aisim_error_set(
            err, 400, "invalid_request_error", "model", "invalid_type",
            "Invalid type for 'model': expected a string, but got %s instead.",
            type_phrase(model));
        goto out;
    }
    json_t *messages = json_object_get(req, "messages");
    if (!messages) {
        bf_aisim_error_set(err, 400, "invalid_request_error", "messages",
                           "missing_required_parameter",
                           "Missing required parameter: 'messages'.");
        goto out;
    }
    if (!json_is_array(messages)) {
        bf_aisim_error_set(
            err, 400, "invalid_request_error", "messages", "invalid_type",
            "Invalid type for 'messages': expected an array of objects, but "
            "got %s instead.",
            type_phrase(messages));
        goto out;
    }
    if (json_array_size(messages) == 0) {
        bf_aisim_error_set(
            err, 400, "invalid_request_error", "messages", "empty_array",
            "Invalid 'messages': empty array. Expected an array with minimum "
            "length 1, but got an empty array instead.");
        goto out;
    }
    /* The prompt as OpenAI renders it: the response_format schema (here
     * its name, which tells the analyses apart) before the messages. */
    bf_aisim_prefix_init(&out->prefix);
    json_t *schema_name = json_object_get(
        json_object_get(json_object_get(req, "response_format"), "json_schema"), "name");
    if (json_is_string(schema_name))
        bf_aisim_prefix_feed(&out->prefix, json_string_value(schema_name),
                             json_string_length(schema_name));
    /* "stream": true is answered as server-sent events (providers.h). */
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        if (check_message(m, i, out, err) != BF_OK)
            goto out;
    }
    out->model = bf_strndup(json_string_value(model), json_string_length(model));
    out->kind = kind_of(req);
    if (!out->user_text)
        out->user_text = bf_strdup("");
    e = BF_OK;
out:
    json_decref(req);
    if (e != BF_OK)
        bf_aisim_chat_clear(out);
    return e;
}

void bf_aisim_chat_clear(bf_aisim_chat_t *c)
{
    if (!c)
        return;
    free(c->model);
    free(c->user_text);
    memset(c, 0, sizeof(*c));
}

/* @p s as a JSON string, quotes included. A model name is echoed from
 * the request, which --answers fixed only skims: bytes that are not UTF-8
 * go back as they came, rather than failing the answer. */
static char *put_json_string(char *o, const char *s)
{
    return bf_json_quote(o, s, strlen(s), BF_JSON_PASS_INVALID);
}

char *bf_aisim_completion_to_json(const char *id, const char *model, int64_t created,
                                  const char *content, int64_t prompt_tokens,
                                  int64_t completion_tokens, int64_t cached_tokens)
{
    /* Written by hand in jansson's compact form (keys in this order): every
     * completion a benchmark asks for goes through here, and json_pack plus
     * json_dumps were half of the simulator's CPU (perf, BENCHMARKS.md). */
    char *out = bf_malloc(6 * (strlen(id) + strlen(model) + strlen(content)) + 512);
    char *o = out;
    o += sprintf(o, "{\"id\":");
    o = put_json_string(o, id);
    o += sprintf(o, ",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
                 (long long)created);
    o = put_json_string(o, model);
    o += sprintf(o, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                    "\"content\":");
    o = put_json_string(o, content);
    o += sprintf(
        o,
        ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
        "\"total_tokens\":%lld,\"prompt_tokens_details\":{\"cached_tokens\":%lld}},"
        "\"system_fingerprint\":\"fp_bfsim\"}",
        (long long)prompt_tokens, (long long)completion_tokens,
        (long long)(prompt_tokens + completion_tokens), (long long)cached_tokens);
    return out;
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Where the value of the first "key": in @p body that @p is_value accepts
 * starts (JSON's whitespace allowed around the colon: clients that do not
 * write compact JSON, such as Python's json.dumps, put a space there), or
 * NULL. No nesting: skimming, not parsing. */
static const char *skim_value(const char *body, size_t len, const char *key,
                              bool (*is_value)(const char *v, const char *end))
{
    char pat[64];
    int n = snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *end = body + len;
    for (const char *at = body; (at = memmem(at, (size_t)(end - at), pat, (size_t)n));
         at += n) {
        const char *p = skip_space(at + n, end);
        if (p < end && *p == ':') {
            p = skip_space(p + 1, end);
            if (p < end && is_value(p, end))
                return p;
        }
    }
    return NULL;
}

static bool is_string(const char *v, const char *end)
{
    return v < end && *v == '"';
}

static bool is_true(const char *v, const char *end)
{
    return end - v >= 4 && memcmp(v, "true", 4) == 0;
}

/* The string value of the first "key": in @p body, copied (at most 255
 * bytes), or NULL. No unescaping. */
static char *skim_string(const char *body, size_t len, const char *key)
{
    const char *v = skim_value(body, len, key, is_string);
    if (!v)
        return NULL;
    v++;
    const char *end = body + len;
    const char *q = memchr(v, '"', (size_t)(end - v));
    if (!q || q - v > 255)
        return NULL;
    return bf_strndup(v, (size_t)(q - v));
}

bf_err_t bf_aisim_chat_skim(const char *body, size_t len, bf_aisim_chat_t *out,
                            bf_aisim_error_t *err)
{
    memset(out, 0, sizeof(*out));
    out->model = skim_string(body, len, "model");
    if (!out->model) {
        bf_aisim_error_set(err, 400, "invalid_request_error", "model",
                           "missing_required_parameter",
                           "you must provide a model parameter");
        return BF_ERR_SCHEMA;
    }
    char *name = skim_string(body, len, "name");
    out->kind = bf_aisim_kind_from_schema_name(name);
    free(name);
    out->stream = skim_value(body, len, "stream", is_true) != NULL;
    out->user_text = bf_strdup("");
    out->prompt_bytes = len;
    bf_aisim_prefix_init(&out->prefix);
    bf_aisim_prefix_feed(&out->prefix, body, len); /* the body as it came */
    return BF_OK;
}
