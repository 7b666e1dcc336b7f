/*
 * ai_provider.c - request bodies and response parsing per provider (see
 * ai_provider.h). Each provider gets a pair of functions, build_* and
 * parse_*, following that provider's API reference; what they share (the
 * prompts, the report as delimited data, the answer check) lives in
 * analysis.c.
 */
#include "worker/ai_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/json_scan.h"
#include "libbf/mem.h"
#include "worker/ai_stream.h"

static const char *const names[] = {"openai", "anthropic", "gemini"};
static const char *const default_bases[] = {
    "https://api.openai.com/v1",
    "https://api.anthropic.com",
    "https://generativelanguage.googleapis.com",
};

/* Anthropic's API version header; the Messages API as of this version. */
#define ANTHROPIC_VERSION "2023-06-01"

const char *bf_ai_provider_name(bf_ai_provider_t p)
{
    return (unsigned)p < BF_AI__COUNT ? names[p] : "unknown";
}

const char *bf_ai_provider_default_base(bf_ai_provider_t p)
{
    return (unsigned)p < BF_AI__COUNT ? default_bases[p] : "";
}

int bf_ai_provider_parse(const char *name, size_t len, bf_ai_provider_t *out)
{
    for (int i = 0; i < BF_AI__COUNT; i++)
        if (strlen(names[i]) == len && strncmp(name, names[i], len) == 0) {
            *out = (bf_ai_provider_t)i;
            return 0;
        }
    return -1;
}

long bf_ai_tokens_estimate(size_t request_bytes)
{
    return (long)(request_bytes + 3) / 4 + BF_AI_MAX_OUTPUT_TOKENS;
}

static int base_len(const char *base)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    return (int)n;
}

static char *dump(json_t *body, size_t *len)
{
    char *out = json_dumps(body, JSON_COMPACT);
    if (!out)
        abort(); /* allocation failure: the project's out-of-memory policy */
    *len = strlen(out);
    json_decref(body);
    return out;
}

static char *schema_name(bf_analysis_kind_t kind)
{
    return bf_asprintf("bountyfleet_%s", bf_analysis_kind_name(kind));
}

/* ---- OpenAI ------------------------------------------------------------ */

static void build_openai(const bf_ai_endpoint_t *ep, const bf_prompts_t *prompts,
                         bf_analysis_kind_t kind, const char *user, bf_ai_wire_t *out)
{
    out->url = bf_asprintf("%.*s/chat/completions", base_len(ep->base_url), ep->base_url);
    out->headers[0] = bf_asprintf("Authorization: Bearer %s", ep->api_key);
    out->body = bf_analysis_openai_body(prompts, kind, ep->model, user, &out->body_len);
}

/* ---- Anthropic ----------------------------------------------------------- */

/*
 * Prompt caching ("Prompt caching", Messages API): the cached prefix is
 * tools, then system, up to and including the block marked
 * "cache_control": {"type": "ephemeral"}, and a prefix shorter than the
 * model's minimum (1,024 tokens; 2,048 for the Haiku models) is not cached
 * at all. So the request is laid out with everything static first and the
 * same for all three analyses: the three tools (one per analysis, in kind
 * order) and the prompt set's shared text (prompts->system, instructions,
 * rubric and examples, well above the minimum) as the marked block; after
 * the breakpoint come what differs, the analysis' task as a second system
 * block and the report as the user message. One cache entry serves every
 * analysis of every report; tool_choice (which only invalidates the cache
 * of the messages, after the breakpoint) picks the analysis' tool, which
 * is how the Messages API gives structured output; a plain-text JSON
 * answer is accepted too.
 */
static void build_anthropic(const bf_ai_endpoint_t *ep, const bf_prompts_t *prompts,
                            bf_analysis_kind_t kind, const char *user, bf_ai_wire_t *out)
{
    out->url = bf_asprintf("%.*s/v1/messages", base_len(ep->base_url), ep->base_url);
    out->headers[0] = bf_asprintf("x-api-key: %s", ep->api_key);
    out->headers[1] = bf_strdup("anthropic-version: " ANTHROPIC_VERSION);
    json_t *tools = json_array();
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
        char *name = schema_name((bf_analysis_kind_t)k);
        char *what = bf_asprintf("Record the %s analysis of the report.",
                                 bf_analysis_kind_name((bf_analysis_kind_t)k));
        json_array_append_new(
            tools,
            json_pack("{s:s, s:s, s:o}", "name", name, "description", what,
                      "input_schema", bf_analysis_answer_schema((bf_analysis_kind_t)k)));
        free(name);
        free(what);
    }
    char *tool = schema_name(kind);
    json_t *body = json_pack(
        "{s:s, s:i, s:f, s:o, s:[{s:s, s:s, s:{s:s}}, {s:s, s:s}], s:[{s:s, s:s}],"
        " s:{s:s, s:s}}",
        "model", ep->model, "max_tokens", BF_AI_MAX_OUTPUT_TOKENS, "temperature", 0.0,
        "tools", tools, "system", "type", "text", "text", prompts->system,
        "cache_control", "type", "ephemeral", "type", "text", "text", prompts->task[kind],
        "messages", "role", "user", "content", user, "tool_choice", "type", "tool",
        "name", tool);
    out->body = dump(body, &out->body_len);
    free(tool);
}

/* ---- Gemini -------------------------------------------------------------- */

/*
 * Gemini's responseSchema is the OpenAPI 3.0 Schema subset: upper-case
 * type names and no additionalProperties; minimum, maximum, maxItems,
 * enum and required carry over. Converted from the one JSON Schema; the
 * root's title names the analysis ("bountyfleet_quality"), as the schema
 * name does for OpenAI and the tool name for Anthropic.
 */
static json_t *gemini_schema(const json_t *s)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)s, key, v)
    {
        if (strcmp(key, "additionalProperties") == 0)
            continue;
        if (strcmp(key, "type") == 0 && json_is_string(v)) {
            char up[16];
            snprintf(up, sizeof(up), "%s", json_string_value(v));
            for (char *c = up; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                    *c = (char)(*c - 'a' + 'A');
            json_object_set_new(out, key, json_string(up));
        } else if (strcmp(key, "properties") == 0 && json_is_object(v)) {
            json_t *props = json_object();
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv)
                json_object_set_new(props, pk, gemini_schema(pv));
            json_object_set_new(out, key, props);
        } else if (strcmp(key, "items") == 0 && json_is_object(v)) {
            json_object_set_new(out, key, gemini_schema(v));
        } else {
            json_object_set(out, key, v);
        }
    }
    /* An enum is a STRING with format "enum" in this dialect. */
    if (json_object_get(out, "enum"))
        json_object_set_new(out, "format", json_string("enum"));
    return out;
}

static void build_gemini(const bf_ai_endpoint_t *ep, const bf_prompts_t *prompts,
                         bf_analysis_kind_t kind, const char *user, bf_ai_wire_t *out)
{
    out->url = bf_asprintf("%.*s/v1beta/models/%s:generateContent",
                           base_len(ep->base_url), ep->base_url, ep->model);
    out->headers[0] = bf_asprintf("x-goog-api-key: %s", ep->api_key);
    json_t *schema = bf_analysis_answer_schema(kind);
    json_t *gschema = gemini_schema(schema);
    char *title = schema_name(kind);
    json_object_set_new(gschema, "title", json_string(title));
    free(title);
    /* Implicit caching (Gemini 2.5 and newer) keys on the prompt's prefix:
     * the shared text is the first part of the system instruction, the
     * same for all three analyses, and the analysis' task comes after it. */
    json_t *body =
        json_pack("{s:{s:[{s:s}, {s:s}]}, s:[{s:s, s:[{s:s}]}], s:{s:f, s:i, s:s, s:o}}",
                  "systemInstruction", "parts", "text", prompts->system, "text",
                  prompts->task[kind], "contents", "role", "user", "parts", "text", user,
                  "generationConfig", "temperature", 0.0, "maxOutputTokens",
                  BF_AI_MAX_OUTPUT_TOKENS, "responseMimeType", "application/json",
                  "responseSchema", gschema);
    json_decref(schema);
    out->body = dump(body, &out->body_len);
}

/* The request with @p user as its user message (any text). */
static void wire_build(const bf_ai_endpoint_t *ep, const bf_prompts_t *prompts,
                       bf_analysis_kind_t kind, const char *user, bf_ai_wire_t *out)
{
    memset(out, 0, sizeof(*out));
    switch (ep->provider) {
    case BF_AI_ANTHROPIC:
        build_anthropic(ep, prompts, kind, user, out);
        break;
    case BF_AI_GEMINI:
        build_gemini(ep, prompts, kind, user, out);
        break;
    default:
        build_openai(ep, prompts, kind, user, out);
        break;
    }
    /* The first free slot: every provider's body is JSON. */
    for (size_t i = 0; i + 1 < sizeof(out->headers) / sizeof(out->headers[0]); i++)
        if (!out->headers[i]) {
            out->headers[i] = bf_strdup("Content-Type: application/json");
            break;
        }
}

/*
 * A template is the request built once with a marker for the user message,
 * then cut where the marker stands. The marker starts and ends with U+0001,
 * which jansson writes as "\u0001": text that a prompt file can only hold
 * as that control character itself (a written-out backslash would be
 * escaped to "\\u0001"), so finding exactly one marker is checked.
 */
static const char MARKER[] = "\001bountyfleet-user-message\001";
static const char MARKER_ESCAPED[] = "\\u0001bountyfleet-user-message\\u0001";

bf_err_t bf_ai_template_build(const bf_ai_endpoint_t *ep, const bf_prompts_t *prompts,
                              bf_analysis_kind_t kind, bool stream, bf_ai_template_t *out,
                              char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    bf_ai_wire_t w;
    wire_build(ep, prompts, kind, MARKER, &w);
    if (stream)
        bf_ai_wire_stream(ep->provider, &w);
    char *at = strstr(w.body, MARKER_ESCAPED);
    if (!at || strstr(at + 1, MARKER_ESCAPED)) {
        snprintf(errstr, errstr_size,
                 "%s request of %s: the prompts may not contain the control character "
                 "U+0001",
                 bf_ai_provider_name(ep->provider), bf_analysis_kind_name(kind));
        bf_ai_wire_free(&w);
        return BF_ERR_CONFIG;
    }
    out->url = w.url;
    memcpy(out->headers, w.headers, sizeof(out->headers));
    out->head_len = (size_t)(at - w.body);
    out->head = bf_strndup(w.body, out->head_len);
    const char *rest = at + sizeof(MARKER_ESCAPED) - 1;
    out->tail_len = w.body_len - (size_t)(rest - w.body);
    out->tail = bf_strndup(rest, out->tail_len);
    out->fixed_bytes = out->head_len + out->tail_len;
    free(w.body);
    return BF_OK;
}

void bf_ai_template_free(bf_ai_template_t *t)
{
    if (!t)
        return;
    free(t->url);
    for (size_t i = 0; i < sizeof(t->headers) / sizeof(t->headers[0]); i++)
        free(t->headers[i]);
    free(t->head);
    free(t->tail);
    memset(t, 0, sizeof(*t));
}

char *bf_ai_template_body(const bf_ai_template_t *t, const bf_ai_input_t *in, size_t *len)
{
    size_t n = t->head_len + in->user_escaped_len + t->tail_len;
    char *body = bf_malloc(n + 1);
    memcpy(body, t->head, t->head_len);
    memcpy(body + t->head_len, in->user_escaped, in->user_escaped_len);
    memcpy(body + t->head_len + in->user_escaped_len, t->tail, t->tail_len);
    body[n] = '\0';
    *len = n;
    return body;
}

void bf_ai_wire_build(const bf_ai_endpoint_t *ep, const bf_prompts_t *prompts,
                      bf_analysis_kind_t kind, const json_t *report, bf_ai_wire_t *out)
{
    char *user = bf_analysis_user_text(report);
    wire_build(ep, prompts, kind, user, out);
    free(user);
}

void bf_ai_wire_free(bf_ai_wire_t *w)
{
    if (!w)
        return;
    free(w->url);
    for (size_t i = 0; i < sizeof(w->headers) / sizeof(w->headers[0]); i++)
        free(w->headers[i]);
    free(w->body);
    memset(w, 0, sizeof(*w));
}

/* ---- responses ------------------------------------------------------------ */

static long count(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

/* Token usage of a response, normalised: tokens_in counts every input
 * token. OpenAI: usage.prompt_tokens (cached included, in
 * prompt_tokens_details.cached_tokens); Anthropic: usage.input_tokens
 * excludes cache reads and writes, which come apart; Gemini:
 * usageMetadata.promptTokenCount includes cachedContentTokenCount. */
static void read_usage(bf_ai_provider_t p, const json_t *resp, bf_verdict_t *out)
{
    if (p == BF_AI_ANTHROPIC) {
        json_t *usage = json_object_get(resp, "usage");
        out->tokens_cached = count(usage, "cache_read_input_tokens");
        out->tokens_cache_write = count(usage, "cache_creation_input_tokens");
        out->tokens_in =
            count(usage, "input_tokens") + out->tokens_cached + out->tokens_cache_write;
        out->tokens_out = count(usage, "output_tokens");
    } else if (p == BF_AI_GEMINI) {
        json_t *usage = json_object_get(resp, "usageMetadata");
        out->tokens_in = count(usage, "promptTokenCount");
        out->tokens_out = count(usage, "candidatesTokenCount");
        out->tokens_cached = count(usage, "cachedContentTokenCount");
    } else {
        json_t *usage = json_object_get(resp, "usage");
        out->tokens_in = count(usage, "prompt_tokens");
        out->tokens_out = count(usage, "completion_tokens");
        out->tokens_cached =
            count(json_object_get(usage, "prompt_tokens_details"), "cached_tokens");
    }
}

bool bf_ai_usage_parse(bf_ai_provider_t p, const char *body, size_t len,
                       bf_verdict_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *resp = bf_json_load(body, len, 0, NULL);
    if (!json_is_object(resp)) {
        json_decref(resp);
        return false;
    }
    read_usage(p, resp, out);
    /* This usage comes with an answer that was rejected, so nothing vouches
     * for it; it still goes into counters, which must never go down. */
    if (out->tokens_in < 0)
        out->tokens_in = 0;
    if (out->tokens_out < 0)
        out->tokens_out = 0;
    if (out->tokens_cache_write < 0 || out->tokens_cache_write > out->tokens_in)
        out->tokens_cache_write = 0;
    if (out->tokens_cached < 0 || out->tokens_cached > out->tokens_in)
        out->tokens_cached = 0;
    const char *model = json_string_value(
        json_object_get(resp, p == BF_AI_GEMINI ? "modelVersion" : "model"));
    snprintf(out->model, sizeof(out->model), "%s", model ? model : "");
    json_decref(resp);
    return out->tokens_in > 0 || out->tokens_out > 0;
}

/* Messages API: content is a list of blocks; the answer is the tool_use
 * block's input (an object), or else the first text block's JSON. usage
 * input_tokens excludes the cache reads and writes, which come separately. */
static bf_err_t parse_anthropic(bf_analysis_kind_t kind, const json_t *resp,
                                bf_verdict_t *out, char *errstr, size_t errstr_size)
{
    json_t *content = json_object_get(resp, "content");
    size_t i;
    json_t *block;
    const json_t *answer = NULL;
    const json_t *text = NULL;
    json_array_foreach(content, i, block)
    {
        const char *type = json_string_value(json_object_get(block, "type"));
        if (type && strcmp(type, "tool_use") == 0 && !answer)
            answer = json_object_get(block, "input");
        else if (type && strcmp(type, "text") == 0 && !text)
            text = json_object_get(block, "text");
    }
    bf_err_t err;
    if (answer)
        err = bf_analysis_check_answer(kind, answer, out, errstr, errstr_size);
    else if (json_is_string(text))
        err = bf_analysis_check_answer_text(kind, json_string_value(text),
                                            json_string_length(text), out, errstr,
                                            errstr_size);
    else {
        snprintf(errstr, errstr_size, "no tool_use or text block in content");
        return BF_ERR_BAD_ANSWER;
    }
    if (err)
        return err;
    read_usage(BF_AI_ANTHROPIC, resp, out);
    return BF_OK;
}

/* generateContent: candidates[0].content.parts[0].text holds the JSON;
 * usageMetadata.promptTokenCount includes cachedContentTokenCount. */
static bf_err_t parse_gemini(bf_analysis_kind_t kind, const json_t *resp,
                             bf_verdict_t *out, char *errstr, size_t errstr_size)
{
    json_t *cand = json_array_get(json_object_get(resp, "candidates"), 0);
    json_t *text = json_object_get(
        json_array_get(json_object_get(json_object_get(cand, "content"), "parts"), 0),
        "text");
    if (!json_is_string(text)) {
        const char *reason = json_string_value(json_object_get(cand, "finishReason"));
        snprintf(errstr, errstr_size, "no candidates[0].content.parts[0].text%s%s",
                 reason ? ", finishReason " : "", reason ? reason : "");
        return BF_ERR_BAD_ANSWER;
    }
    bf_err_t err =
        bf_analysis_check_answer_text(kind, json_string_value(text),
                                      json_string_length(text), out, errstr, errstr_size);
    if (err)
        return err;
    read_usage(BF_AI_GEMINI, resp, out);
    return BF_OK;
}

bf_err_t bf_ai_response_parse(bf_ai_provider_t p, bf_analysis_kind_t kind,
                              const char *body, size_t len, bf_verdict_t *out,
                              char *errstr, size_t errstr_size)
{
    if (p == BF_AI_OPENAI)
        return bf_analysis_parse_openai(kind, body, len, out, errstr, errstr_size);
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *resp = bf_json_load(body, len, 0, &jerr);
    if (!json_is_object(resp)) {
        snprintf(errstr, errstr_size, "response is not a JSON object");
        json_decref(resp);
        return BF_ERR_BAD_ANSWER;
    }
    bf_err_t err = p == BF_AI_ANTHROPIC
                       ? parse_anthropic(kind, resp, out, errstr, errstr_size)
                       : parse_gemini(kind, resp, out, errstr, errstr_size);
    if (err == BF_OK && (out->tokens_in < 0 || out->tokens_out < 0 ||
                         out->tokens_cached < 0 || out->tokens_cache_write < 0)) {
        snprintf(errstr, errstr_size, "usage: negative token counts");
        err = BF_ERR_BAD_ANSWER;
    }
    if (out->tokens_cached > out->tokens_in) /* as in bf_analysis_parse_openai */
        out->tokens_cached = out->tokens_in;
    if (err == BF_OK) {
        const char *model = json_string_value(
            json_object_get(resp, p == BF_AI_ANTHROPIC ? "model" : "modelVersion"));
        snprintf(out->model, sizeof(out->model), "%s", model ? model : "");
    }
    json_decref(resp);
    if (err)
        bf_verdict_clear(out);
    return err;
}
