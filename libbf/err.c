/*
 * err.c - names for bf_err_t.
 *
 * Two names per code: a sentence-like one for people (logs, CLI errors) and
 * a short token for machines (DLQ headers, metric labels). The tables are
 * indexed by the enum value, which is why values are never renumbered.
 */
#include "libbf/err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    const char *text;
} names[BF_ERR__COUNT] = {
    [BF_OK] = {"ok", "success"},
    [BF_ERR_INVALID_ARG] = {"invalid_arg", "invalid argument"},
    [BF_ERR_IO] = {"io", "input/output error"},
    [BF_ERR_PARSE] = {"parse", "malformed input"},
    [BF_ERR_SCHEMA] = {"schema", "does not match the schema"},
    [BF_ERR_TOO_LARGE] = {"too_large", "input too large"},
    [BF_ERR_UTF8] = {"utf8", "invalid UTF-8"},
    [BF_ERR_MISSING_FIELD] = {"missing_field", "required field missing"},
    [BF_ERR_UNKNOWN_SCHEMA] = {"unknown_schema", "unknown schema"},
    [BF_ERR_KAFKA] = {"kafka", "Kafka error"},
    [BF_ERR_REDIS] = {"redis", "Redis error"},
    [BF_ERR_HTTP] = {"http", "HTTP error"},
    [BF_ERR_TIMEOUT] = {"timeout", "timed out"},
    [BF_ERR_PROVIDER] = {"provider", "AI provider error"},
    [BF_ERR_CONFIG] = {"config", "invalid configuration"},
    [BF_ERR_NOT_FOUND] = {"not_found", "not found"},
    [BF_ERR_BAD_ANSWER] = {"bad_answer", "AI answer does not fit the schema"},
    [BF_ERR_STATE] = {"state", "invalid state"},
    [BF_ERR_UNAVAILABLE] = {"unavailable", "temporarily unavailable"},
    [BF_ERR_PENDING] = {"pending", "answer pending"},
};

const char *bf_err_str(bf_err_t err)
{
    if ((unsigned)err >= BF_ERR__COUNT)
        return "unknown error";
    return names[err].text;
}

const char *bf_err_name(bf_err_t err)
{
    if ((unsigned)err >= BF_ERR__COUNT)
        return "unknown";
    return names[err].name;
}

bf_err_t bf_seterr(bf_err_t err, char *errstr, size_t size, const char *fmt, ...)
{
    if (errstr && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
    }
    return err;
}
