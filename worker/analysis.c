/*
 * analysis.c - prompts, provider request bodies, answer checking, prices
 * and the combining rule (see analysis.h).
 *
 * Structured output: the request carries a JSON Schema for the answer
 * (OpenAI "response_format": {"type": "json_schema", "json_schema":
 * {"name", "strict": true, "schema"}}), and the answer is checked against
 * the same rules here, because a provider or an OpenAI-compatible server
 * may ignore the schema. Nothing from an answer that fails the check is
 * used.
 */
#include "worker/analysis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/buf.h"
#include "libbf/cvss.h"
#include "libbf/json_scan.h"
#include "libbf/mem.h"

static const char *const kind_symbols[] = {"QUALITY", "PLAUSIBILITY", "SEVERITY"};
static const char *const kind_names[] = {"quality", "plausibility", "severity"};
static const char *const severities[] = {"NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"};

const char *bf_analysis_kind_symbol(bf_analysis_kind_t kind)
{
    return (unsigned)kind < BF_ANALYSIS__COUNT ? kind_symbols[kind] : "UNKNOWN";
}

const char *bf_analysis_kind_name(bf_analysis_kind_t kind)
{
    return (unsigned)kind < BF_ANALYSIS__COUNT ? kind_names[kind] : "unknown";
}

#define MAX_PROMPT (64 * 1024)

static bf_err_t read_file(const char *path, char **out, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", path, strerror(errno));
        return BF_ERR_IO;
    }
    bf_buf_t b;
    bf_buf_init(&b, MAX_PROMPT);
    char chunk[4096];
    size_t n;
    bf_err_t err = BF_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if ((err = bf_buf_append(&b, chunk, n)) != BF_OK)
            break;
    if (!err && ferror(f))
        err = BF_ERR_IO;
    fclose(f);
    if (err) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, bf_err_str(err));
        bf_buf_free(&b);
        return err;
    }
    *out = bf_buf_steal(&b, NULL);
    return BF_OK;
}

bf_err_t bf_prompts_load(const char *dir, bf_prompts_t *out, char *errstr,
                         size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    char path[1024];
    snprintf(path, sizeof(path), "%s/system.md", dir);
    bf_err_t err = read_file(path, &out->system, errstr, errstr_size);
    for (int k = 0; !err && k < BF_ANALYSIS__COUNT; k++) {
        snprintf(path, sizeof(path), "%s/%s.md", dir, kind_names[k]);
        err = read_file(path, &out->task[k], errstr, errstr_size);
    }
    if (err) {
        bf_prompts_free(out);
        return err;
    }
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    const char *base = dir + len;
    while (base > dir && base[-1] != '/')
        base--;
    out->version = bf_strndup(base, (size_t)(dir + len - base));
    return BF_OK;
}

void bf_prompts_free(bf_prompts_t *p)
{
    free(p->version);
    free(p->system);
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++)
        free(p->task[k]);
    memset(p, 0, sizeof(*p));
}

/* The JSON Schema of an answer; strict mode requires every property to be
 * listed in "required" and additionalProperties false. */
json_t *bf_analysis_answer_schema(bf_analysis_kind_t kind)
{
    json_t *props =
        json_pack("{s:{s:s,s:f,s:f}, s:{s:s,s:f,s:f}, s:{s:s,s:{s:s},s:i}}", "score",
                  "type", "number", "minimum", 0.0, "maximum", 1.0, "confidence", "type",
                  "number", "minimum", 0.0, "maximum", 1.0, "reasons", "type", "array",
                  "items", "type", "string", "maxItems", 5);
    json_t *required = json_pack("[sss]", "score", "confidence", "reasons");
    if (kind == BF_ANALYSIS_SEVERITY) {
        json_t *en = json_array();
        for (size_t i = 0; i < 5; i++)
            json_array_append_new(en, json_string(severities[i]));
        json_object_set_new(props, "severity",
                            json_pack("{s:s,s:o}", "type", "string", "enum", en));
        json_array_append_new(required, json_string("severity"));
    }
    return json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props,
                     "required", required, "additionalProperties", 0);
}

const char *bf_analysis_severity_symbol(bf_cvss_rating_t rating)
{
    return (unsigned)rating < BF_CVSS_RATING__COUNT ? severities[rating] : "NONE";
}

char *bf_analysis_user_text(const json_t *report)
{
    /* The report is data, never instructions: it goes in as one JSON
     * document between the tags, with "/" escaped (JSON_ESCAPE_SLASH) so
     * that no text in it can spell "</report>" and close the delimiter
     * early, and non-ASCII escaped so nothing can hide in odd encodings. */
    char *report_text =
        json_dumps(report, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH);
    char *cvss =
        bf_analysis_cvss_text(json_string_value(json_object_get(report, "cvss_vector")));
    char *user =
        bf_asprintf("<report>\n%s\n</report>%s", report_text ? report_text : "{}", cvss);
    free(report_text);
    free(cvss);
    return user;
}

char *bf_analysis_cvss_text(const char *vector)
{
    if (!vector || !*vector)
        return bf_strdup("");
    bf_cvss_t cvss;
    bf_cvss_scores_t sc;
    char why[200] = "";
    json_t *o;
    if (bf_cvss_parse(vector, &cvss, why, sizeof(why)) == BF_OK &&
        bf_cvss_score(&cvss, &sc) == BF_OK)
        o = json_pack("{s:s,s:f,s:s}", "version", bf_cvss_version_name(sc.version),
                      "score", sc.score, "rating",
                      bf_analysis_severity_symbol(sc.rating));
    else
        o = json_pack("{s:s}", "error", why[0] ? why : "not a CVSS vector");
    /* one decimal, as the specification gives scores */
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH |
                                   JSON_REAL_PRECISION(3));
    json_decref(o);
    if (!text)
        abort(); /* allocation failure: the project's out-of-memory policy */
    char *out = bf_asprintf("\n<cvss_computed>\n%s\n</cvss_computed>", text);
    free(text);
    return out;
}

/* OpenAI caches the longest prefix of a prompt of 1,024 tokens or more it
 * has seen ("Prompt caching"); the response_format schema comes first in
 * that prefix, so each analysis has its own: its schema, then the shared
 * text of the prompt set (above the minimum on its own), then its task,
 * and only then the report. */
char *bf_analysis_openai_body(const bf_prompts_t *prompts, bf_analysis_kind_t kind,
                              const char *model, const char *user, size_t *len)
{
    char *system = bf_asprintf("%s\n%s", prompts->system, prompts->task[kind]);
    char *schema_name = bf_asprintf("bountyfleet_%s", kind_names[kind]);
    json_t *body = json_pack(
        "{s:s, s:[{s:s,s:s},{s:s,s:s}], s:f, s:{s:s, s:{s:s, s:b, s:o}}}", "model", model,
        "messages", "role", "system", "content", system, "role", "user", "content", user,
        "temperature", 0.0, "response_format", "type", "json_schema", "json_schema",
        "name", schema_name, "strict", 1, "schema", bf_analysis_answer_schema(kind));
    char *out = json_dumps(body, JSON_COMPACT);
    if (!out)
        abort(); /* allocation failure: the project's out-of-memory policy */
    if (len)
        *len = strlen(out);
    json_decref(body);
    free(system);
    free(schema_name);
    return out;
}

void bf_verdict_clear(bf_verdict_t *v)
{
    json_decref(v->reasons);
    memset(v, 0, sizeof(*v));
}

static int unit_interval(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (!(d >= 0.0 && d <= 1.0))
        return -1;
    *out = d;
    return 0;
}

bf_err_t bf_analysis_check_answer(bf_analysis_kind_t kind, const json_t *answer,
                                  bf_verdict_t *out, char *errstr, size_t errstr_size)
{
    if (!json_is_object(answer)) {
        snprintf(errstr, errstr_size, "answer is not a JSON object");
        return BF_ERR_BAD_ANSWER;
    }
    if (unit_interval(json_object_get(answer, "score"), &out->score) ||
        unit_interval(json_object_get(answer, "confidence"), &out->confidence)) {
        snprintf(errstr, errstr_size,
                 "answer: score and confidence must be numbers in [0,1]");
        return BF_ERR_BAD_ANSWER;
    }
    json_t *reasons = json_object_get(answer, "reasons");
    if (!json_is_array(reasons) || json_array_size(reasons) > 5) {
        snprintf(errstr, errstr_size,
                 "answer: reasons must be an array of at most 5 strings");
        return BF_ERR_BAD_ANSWER;
    }
    size_t i;
    json_t *r;
    json_array_foreach(reasons, i, r)
    {
        if (!json_is_string(r) || json_string_length(r) > 1000) {
            snprintf(errstr, errstr_size, "answer: reasons must be short strings");
            return BF_ERR_BAD_ANSWER;
        }
    }
    out->severity[0] = '\0';
    if (kind == BF_ANALYSIS_SEVERITY) {
        const char *s = json_string_value(json_object_get(answer, "severity"));
        for (size_t k = 0; s && k < 5; k++)
            if (strcmp(s, severities[k]) == 0)
                snprintf(out->severity, sizeof(out->severity), "%s", s);
        if (!out->severity[0]) {
            snprintf(errstr, errstr_size,
                     "answer: severity must be one of the CVSS ratings");
            return BF_ERR_BAD_ANSWER;
        }
    }
    json_decref(out->reasons);
    out->reasons = json_incref(reasons);
    return BF_OK;
}

bf_err_t bf_analysis_check_answer_text(bf_analysis_kind_t kind, const char *text,
                                       size_t len, bf_verdict_t *out, char *errstr,
                                       size_t errstr_size)
{
    json_error_t jerr;
    json_t *answer = bf_json_load(text, len, 0, &jerr);
    if (!answer) {
        snprintf(errstr, errstr_size, "answer is not a JSON object");
        return BF_ERR_BAD_ANSWER;
    }
    bf_err_t err = bf_analysis_check_answer(kind, answer, out, errstr, errstr_size);
    json_decref(answer);
    return err;
}

/* Chat Completions: choices[0].message.content holds the answer's JSON;
 * usage.prompt_tokens counts cached tokens too (prompt_tokens_details).
 * Read with a scan (libbf/json_scan.h), not a parse: of a response only
 * these few values are needed. */
bf_err_t bf_analysis_parse_openai(bf_analysis_kind_t kind, const char *body, size_t len,
                                  bf_verdict_t *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    bf_json_view_t resp;
    if (!body || !bf_json_scan(body, len, &resp)) {
        snprintf(errstr, errstr_size, "response is not JSON");
        return BF_ERR_BAD_ANSWER;
    }
    bf_json_view_t msg =
        bf_json_member(bf_json_element(bf_json_member(resp, "choices"), 0), "message");
    bf_json_view_t content = bf_json_member(msg, "content");
    if (content.kind != BF_JSON_STRING) {
        snprintf(errstr, errstr_size, "%s",
                 bf_json_member(msg, "refusal").kind == BF_JSON_STRING
                     ? "model refused"
                     : "no choices[0].message.content");
        return BF_ERR_BAD_ANSWER;
    }
    /* Unescaped text is never longer than its escaped form. */
    size_t cap = (size_t)(content.end - content.start);
    char *text = bf_malloc(cap);
    size_t text_len = bf_json_string(content, text, cap);
    bf_err_t err =
        bf_analysis_check_answer_text(kind, text, text_len, out, errstr, errstr_size);
    free(text);
    if (err != BF_OK)
        goto out;
    err = BF_ERR_BAD_ANSWER;
    bf_json_view_t usage = bf_json_member(resp, "usage");
    out->tokens_in = (long)bf_json_integer(bf_json_member(usage, "prompt_tokens"));
    out->tokens_out = (long)bf_json_integer(bf_json_member(usage, "completion_tokens"));
    out->tokens_cached = (long)bf_json_integer(
        bf_json_member(bf_json_member(usage, "prompt_tokens_details"), "cached_tokens"));
    if (out->tokens_in < 0 || out->tokens_out < 0 || out->tokens_cached < 0) {
        snprintf(errstr, errstr_size, "usage: negative token counts");
        goto out;
    }
    /* More cached than prompt tokens cannot be; counting it as it came would
     * take the uncached-input counter down. Rejecting the answer would pay
     * for it again, so the cache share is capped at the prompt instead. */
    if (out->tokens_cached > out->tokens_in)
        out->tokens_cached = out->tokens_in;
    if (bf_json_string(bf_json_member(resp, "model"), out->model, sizeof(out->model)) ==
        (size_t)-1)
        out->model[0] = '\0';
    err = BF_OK;
out:
    if (err)
        bf_verdict_clear(out);
    return err;
}

bf_err_t bf_prices_load(const char *path, bf_prices_t *out, char *errstr,
                        size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        snprintf(errstr, errstr_size, "price table %s: %s (line %d)", path, jerr.text,
                 jerr.line);
        return BF_ERR_CONFIG;
    }
    json_t *models = json_object_get(root, "models");
    if (!json_is_object(models)) {
        snprintf(errstr, errstr_size, "price table %s: no \"models\" object", path);
        json_decref(root);
        return BF_ERR_CONFIG;
    }
    const char *name;
    json_t *m;
    out->items = bf_calloc(json_object_size(models), sizeof(*out->items));
    json_object_foreach(models, name, m)
    {
        json_t *in = json_object_get(m, "input_per_mtok");
        json_t *outp = json_object_get(m, "output_per_mtok");
        json_t *cached = json_object_get(m, "cached_input_per_mtok");
        if (!json_is_number(in) || !json_is_number(outp) || json_number_value(in) < 0 ||
            json_number_value(outp) < 0 ||
            (cached && !(json_is_number(cached) && json_number_value(cached) >= 0))) {
            snprintf(
                errstr, errstr_size,
                "price table %s: model %s needs input_per_mtok and output_per_mtok >= 0 "
                "(and cached_input_per_mtok >= 0 when given)",
                path, name);
            json_decref(root);
            bf_prices_free(out);
            return BF_ERR_CONFIG;
        }
        bf_price_t *p = &out->items[out->count++];
        p->model = bf_strdup(name);
        p->input = json_number_value(in);
        p->output = json_number_value(outp);
        p->cached_input = json_is_number(cached) ? json_number_value(cached) : p->input;
    }
    json_decref(root);
    return BF_OK;
}

void bf_prices_free(bf_prices_t *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->items[i].model);
    free(p->items);
    memset(p, 0, sizeof(*p));
}

bf_err_t bf_prices_cost(const bf_prices_t *p, const char *model, long tokens_in,
                        long tokens_out, long tokens_cached, double *usd)
{
    /* Providers answer with a dated snapshot name ("gpt-4o-mini-2024-07-18")
     * for an alias; the longest table entry that prefixes it applies. */
    const bf_price_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < p->count; i++) {
        size_t n = strlen(p->items[i].model);
        if (strncmp(model, p->items[i].model, n) == 0 && n > best_len &&
            (model[n] == '\0' || model[n] == '-')) {
            best = &p->items[i];
            best_len = n;
        }
    }
    if (!best) {
        *usd = 0;
        return BF_ERR_NOT_FOUND;
    }
    long uncached = tokens_in - tokens_cached;
    if (uncached < 0)
        uncached = 0;
    *usd = ((double)uncached * best->input + (double)tokens_cached * best->cached_input +
            (double)tokens_out * best->output) /
           1e6;
    return BF_OK;
}

bf_err_t bf_prices_cost_verdict(const bf_prices_t *p, const bf_verdict_t *v, double *usd)
{
    bf_err_t err =
        bf_prices_cost(p, v->model, v->tokens_in, v->tokens_out, v->tokens_cached, usd);
    /* Anthropic bills a prompt-cache write at 1.25 times the input price
     * (5-minute cache; "Prompt caching" pricing): the writes are already in
     * tokens_in at 1x, so the extra quarter is added here. */
    if (err == BF_OK && v->tokens_cache_write > 0) {
        double base;
        if (bf_prices_cost(p, v->model, v->tokens_cache_write, 0, 0, &base) == BF_OK)
            *usd += 0.25 * base;
    }
    return err;
}

void bf_analysis_combine(const bf_verdict_t verdicts[BF_ANALYSIS__COUNT],
                         const int ok[BF_ANALYSIS__COUNT], const bf_thresholds_t *t,
                         const char **status, double *confidence, json_t **reasons)
{
    json_t *out = json_array();
    int all = 1;
    double conf_sum = 0;
    int n = 0;
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
        if (!ok[k]) {
            all = 0;
            continue;
        }
        conf_sum += verdicts[k].confidence;
        n++;
        size_t i;
        json_t *r;
        json_array_foreach(verdicts[k].reasons, i, r)
        {
            char *line = bf_asprintf("%s: %s", kind_names[k], json_string_value(r));
            json_array_append_new(out, json_string(line));
            free(line);
        }
    }
    if (!all) {
        *status = "NEEDS_REVIEW";
        json_array_insert_new(out, 0,
                              json_string("not every analysis could be completed"));
        *confidence = 0;
        *reasons = out;
        return;
    }
    *confidence = n ? conf_sum / n : 0;
    double q = verdicts[BF_ANALYSIS_QUALITY].score;
    double pl = verdicts[BF_ANALYSIS_PLAUSIBILITY].score;
    if (q >= t->min_quality && pl >= t->min_plausibility) {
        *status = "VALID";
    } else {
        *status = "INVALID";
        char *why =
            bf_asprintf("%s%s%s", q < t->min_quality ? "quality below threshold" : "",
                        q < t->min_quality && pl < t->min_plausibility ? "; " : "",
                        pl < t->min_plausibility ? "plausibility below threshold" : "");
        json_array_insert_new(out, 0, json_string(why));
        free(why);
    }
    *reasons = out;
}
