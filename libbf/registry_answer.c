/*
 * registry_answer.c - the Schema Registry's answers, parsed (see
 * registry_answer.h).
 *
 * Everything here is a pure function of the body's bytes. The registry is
 * trusted to mean what it says, not to say it well: a proxy's HTML error
 * page, a truncated body or a registry-compatible server with its own
 * ideas all arrive here, so every field is checked for its type and range
 * before it is used, and text from the body is copied into bounded
 * buffers only.
 */
#include "libbf/registry_answer.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"

void bf_registry_answer_free(bf_registry_answer_t *a)
{
    if (!a)
        return;
    free(a->schema);
    free(a->version);
    memset(a, 0, sizeof(*a));
}

static bool valid_id(const json_t *j)
{
    return json_is_integer(j) && json_integer_value(j) >= 0 &&
           json_integer_value(j) <= INT32_MAX;
}

/* [1, 2, 3]: every element a non-negative integer; the last
 * BF_REGISTRY_MAX_VERSIONS are kept. */
static bf_err_t parse_versions(const json_t *list, bf_registry_answer_t *out,
                               char *errstr, size_t errstr_size)
{
    if (!json_is_array(list))
        return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                         "answer is not a list of versions");
    size_t n = json_array_size(list);
    size_t first = n > BF_REGISTRY_MAX_VERSIONS ? n - BF_REGISTRY_MAX_VERSIONS : 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(list, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                             "answer is not a list of versions (element %zu)", i);
    }
    if (n > first) {
        out->version = bf_calloc(n - first, sizeof(*out->version));
        for (size_t i = first; i < n; i++)
            out->version[out->n_versions++] = json_integer_value(json_array_get(list, i));
    }
    return BF_OK;
}

bf_err_t bf_registry_answer_parse(bf_registry_call_t call, const char *body, size_t len,
                                  bf_registry_answer_t *out, char *errstr,
                                  size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, &jerr);
    if (!j)
        return bf_seterr(BF_ERR_PARSE, errstr, errstr_size, "answer is not JSON: %s",
                         jerr.text);
    bf_err_t err = BF_OK;
    const json_t *id = json_object_get(j, "id");
    const json_t *schema = json_object_get(j, "schema");
    const json_t *type = json_object_get(j, "schemaType");
    switch (call) {
    case BF_REGISTRY_CALL_REGISTER:
        if (!valid_id(id))
            err = bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                            "answer has no valid \"id\"");
        else
            out->id = (int32_t)json_integer_value(id);
        break;
    case BF_REGISTRY_CALL_SCHEMA_BY_ID:
        if (!json_is_string(schema))
            err = bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                            "answer has no \"schema\" string");
        else if (json_is_string(type) && strcmp(json_string_value(type), "AVRO") != 0)
            err = bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                            "the schema is %.40s, not Avro", json_string_value(type));
        else
            out->schema = bf_strdup(json_string_value(schema));
        break;
    case BF_REGISTRY_CALL_VERSIONS:
        err = parse_versions(j, out, errstr, errstr_size);
        break;
    case BF_REGISTRY_CALL_VERSION:
        if (!valid_id(id) || !json_is_string(schema)) {
            err = bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                            "answer has no id and schema");
        } else {
            out->id = (int32_t)json_integer_value(id);
            out->schema = bf_strdup(json_string_value(schema));
        }
        break;
    default:
        err = bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size, "unknown request kind");
        break;
    }
    json_decref(j);
    if (err)
        bf_registry_answer_free(out);
    return err;
}

void bf_registry_error_describe(const char *body, size_t len, long status, char *out,
                                size_t size)
{
    if (!out || !size)
        return;
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    const json_t *msg = json_object_get(j, "message");
    const json_t *code = json_object_get(j, "error_code");
    if (json_is_string(msg)) {
        snprintf(out, size, "%s (error_code %lld)", json_string_value(msg),
                 json_is_integer(code) ? (long long)json_integer_value(code)
                                       : (long long)status);
    } else {
        /* The start of whatever came back (an HTML page, a proxy's text),
         * printable: it ends up in a log line and an error message. */
        char start[121];
        size_t n = body ? (len < sizeof(start) - 1 ? len : sizeof(start) - 1) : 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)body[i];
            start[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
        start[n] = '\0';
        snprintf(out, size, "HTTP %ld: %s", status, start);
    }
    json_decref(j);
}
