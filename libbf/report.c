/*
 * report.c - report struct <-> JSON, with validation (see report.h).
 *
 * The codec already checks that a record fits the Avro schema; this module
 * adds what a schema cannot say: required text must be non-empty and
 * within bounds, a severity must be one of the scale's symbols.
 */
#include "libbf/report.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "libbf/mem.h"

static const char *const severities[] = {"NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"};

typedef struct field_s {
    const char *name;
    size_t offset;
    size_t max;
    int required; /* 1: non-empty string; 0: optional (NULL); 2: optional ("") */
} field_t;

#define F(n, max, req)                                                                   \
    {                                                                                    \
#n, offsetof(bf_report_t, n), max, req                                           \
    }
static const field_t fields[] = {
    F(report_id, BF_REPORT_MAX_ID, 1),
    F(program, BF_REPORT_MAX_SHORT, 1),
    F(reporter, BF_REPORT_MAX_SHORT, 1),
    F(title, BF_REPORT_MAX_SHORT, 1),
    F(asset, BF_REPORT_MAX_SHORT, 1),
    F(weakness, BF_REPORT_MAX_SHORT, 0),
    F(cvss_vector, BF_REPORT_MAX_SHORT, 0),
    F(description, BF_REPORT_MAX_TEXT, 1),
    F(steps_to_reproduce, BF_REPORT_MAX_TEXT, 2),
    F(impact, BF_REPORT_MAX_TEXT, 2),
};
#undef F

void bf_report_destroy(bf_report_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        free(*(char **)((char *)r + fields[i].offset));
    free(r->claimed_severity);
    free(r);
}

bf_err_t bf_report_from_json(const json_t *obj, bf_report_t **out, char *errstr,
                             size_t errstr_size)
{
    bf_err_t err = BF_OK;
    if (!json_is_object(obj)) {
        snprintf(errstr, errstr_size, "report is not a JSON object");
        return BF_ERR_SCHEMA;
    }
    bf_report_t *r = bf_calloc(1, sizeof(*r));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const field_t *f = &fields[i];
        json_t *v = json_object_get(obj, f->name);
        char **dst = (char **)((char *)r + f->offset);
        if (!v || json_is_null(v)) {
            if (f->required == 1) {
                snprintf(errstr, errstr_size, "field %s is required", f->name);
                err = BF_ERR_MISSING_FIELD;
                goto fail;
            }
            *dst = f->required == 2 ? bf_strdup("") : NULL;
            continue;
        }
        if (!json_is_string(v)) {
            snprintf(errstr, errstr_size, "field %s must be a string", f->name);
            err = BF_ERR_SCHEMA;
            goto fail;
        }
        size_t len = json_string_length(v);
        if (len > f->max) {
            snprintf(errstr, errstr_size, "field %s is %zu bytes, more than %zu", f->name,
                     len, f->max);
            err = BF_ERR_TOO_LARGE;
            goto fail;
        }
        if (memchr(json_string_value(v), '\0', len)) {
            snprintf(errstr, errstr_size, "field %s contains a NUL byte", f->name);
            err = BF_ERR_SCHEMA;
            goto fail;
        }
        /* Required text must say something: whitespace alone is empty. */
        if (f->required == 1) {
            const char *s = json_string_value(v);
            while (*s && isspace((unsigned char)*s))
                s++;
            if (!*s) {
                snprintf(errstr, errstr_size, "field %s is empty", f->name);
                err = BF_ERR_MISSING_FIELD;
                goto fail;
            }
        }
        *dst = bf_strndup(json_string_value(v), len);
    }

    json_t *ts = json_object_get(obj, "submitted_at");
    if (json_is_integer(ts)) {
        r->submitted_at_ms = json_integer_value(ts);
    } else if (json_is_string(ts)) {
        if (bf_time_parse_rfc3339(json_string_value(ts), &r->submitted_at_ms) != BF_OK) {
            snprintf(errstr, errstr_size,
                     "field submitted_at: '%.40s' is not an RFC 3339 timestamp",
                     json_string_value(ts));
            err = BF_ERR_SCHEMA;
            goto fail;
        }
    } else if (!ts || json_is_null(ts)) {
        snprintf(errstr, errstr_size, "field submitted_at is required");
        err = BF_ERR_MISSING_FIELD;
        goto fail;
    } else {
        snprintf(errstr, errstr_size,
                 "field submitted_at must be milliseconds or an RFC 3339 string");
        err = BF_ERR_SCHEMA;
        goto fail;
    }

    json_t *sev = json_object_get(obj, "claimed_severity");
    if (sev && !json_is_null(sev)) {
        const char *s = json_is_string(sev) ? json_string_value(sev) : NULL;
        for (size_t i = 0; s && i < 5; i++)
            if (strcasecmp(s, severities[i]) == 0)
                r->claimed_severity = bf_strdup(severities[i]);
        if (!r->claimed_severity) {
            snprintf(errstr, errstr_size,
                     "field claimed_severity must be one of NONE, LOW, MEDIUM, HIGH, "
                     "CRITICAL");
            err = BF_ERR_SCHEMA;
            goto fail;
        }
    }
    *out = r;
    return BF_OK;
fail:
    bf_report_destroy(r);
    return err;
}

json_t *bf_report_to_json(const bf_report_t *r)
{
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = *(char *const *)((const char *)r + fields[i].offset);
        json_object_set_new(o, fields[i].name, v ? json_string(v) : json_null());
    }
    json_object_set_new(o, "submitted_at", json_integer(r->submitted_at_ms));
    json_object_set_new(o, "claimed_severity",
                        r->claimed_severity ? json_string(r->claimed_severity)
                                            : json_null());
    return o;
}

/* ------------------------------------------------------------------------
 * JSON text without jansson
 *
 * The rules are jansson's (dump.c), so that the text and anything hashed
 * from it match what jansson writes: keys in insertion order, or sorted
 * by strcmp with JSON_SORT_KEYS; in strings '"' and '\\' get a backslash,
 * \b \f \n \r \t their short escapes, other code points below U+0020
 * "\u00XX"; with JSON_ESCAPE_SLASH '/' is "\/"; with JSON_ENSURE_ASCII
 * every code point above U+007F is "\uXXXX" (upper-case hex; a UTF-16
 * surrogate pair above U+FFFF); integers as "%lld".
 */

/* Decode one UTF-8 sequence (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). @returns its length, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, min = 0x80, c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, min = 0x800, c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static char *put_u16(char *o, unsigned v)
{
    static const char hex[] = "0123456789ABCDEF";
    *o++ = '\\';
    *o++ = 'u';
    *o++ = hex[(v >> 12) & 0xf];
    *o++ = hex[(v >> 8) & 0xf];
    *o++ = hex[(v >> 4) & 0xf];
    *o++ = hex[v & 0xf];
    return o;
}

/* Does any byte of @p x equal @p c? (The classic zero-byte test on x ^ c:
 * exact as to whether one does, not as to which.) */
static uint64_t has_byte(uint64_t x, unsigned char c)
{
    const uint64_t ones = 0x0101010101010101ULL;
    uint64_t y = x ^ (ones * c);
    return (y - ones) & ~y & (ones << 7);
}

/* How many bytes from @p p on go over as they are: printable ASCII but '"',
 * '\\' (and '/' with @p slash). Eight bytes at a time while none of them
 * is one to stop at, then byte by byte: a report is mostly such runs. */
static size_t plain_run(const unsigned char *p, size_t n, bool slash)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = ones << 7;
    size_t run = 0;
    for (; run + 8 <= n; run += 8) {
        uint64_t x;
        memcpy(&x, p + run, 8);
        uint64_t stop = (x | ((x - ones * 0x20) & ~x)) & highs; /* >= 0x80 or < 0x20 */
        stop |= has_byte(x, '"') | has_byte(x, '\\') | (slash ? has_byte(x, '/') : 0);
        if (stop)
            break;
    }
    while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
           p[run] != '\\' && !(slash && p[run] == '/'))
        run++;
    return run;
}

char *bf_json_escape(char *o, const char *s, size_t n, size_t flags)
{
    const unsigned char *p = (const unsigned char *)s;
    const bool slash = flags & JSON_ESCAPE_SLASH;
    while (n) {
        /* Plain ASCII goes over as a run. */
        size_t run = plain_run(p, n, slash);
        memcpy(o, p, run);
        o += run, p += run, n -= run;
        if (!n)
            break;
        unsigned cp;
        size_t len = utf8_decode(p, n, &cp);
        if (!len && (flags & BF_JSON_PASS_INVALID)) {
            *o++ = (char)*p++, n--;
            continue;
        }
        if (!len)
            return NULL;
        p += len, n -= len;
        if (cp >= 0x80 && !(flags & JSON_ENSURE_ASCII)) {
            memcpy(o, p - len, len);
            o += len;
            continue;
        }
        switch (cp) {
        case '"':
        case '\\':
        case '/':
            *o++ = '\\', *o++ = (char)cp;
            break;
        case '\b':
            *o++ = '\\', *o++ = 'b';
            break;
        case '\f':
            *o++ = '\\', *o++ = 'f';
            break;
        case '\n':
            *o++ = '\\', *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\', *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\', *o++ = 't';
            break;
        default:
            if (cp < 0x10000) {
                o = put_u16(o, cp);
            } else {
                cp -= 0x10000;
                o = put_u16(o, 0xd800 | (cp >> 10));
                o = put_u16(o, 0xdc00 | (cp & 0x3ff));
            }
        }
    }
    return o;
}

char *bf_json_quote(char *o, const char *s, size_t n, size_t flags)
{
    *o++ = '"';
    if (!(o = bf_json_escape(o, s, n, flags)))
        return NULL;
    *o++ = '"';
    return o;
}

/* Write "s" (quotes included) at @p o; NULL if @p s is not valid UTF-8. */
static char *put_string(char *o, const char *s, size_t flags)
{
    return bf_json_quote(o, s, strlen(s), flags);
}

/* A report's members: the string fields of fields[], then submitted_at and
 * claimed_severity, as bf_report_to_json() adds them. */
#define N_MEMBERS (sizeof(fields) / sizeof(fields[0]) + 2)

static const char *member_name(size_t i)
{
    static const size_t nf = sizeof(fields) / sizeof(fields[0]);
    return i < nf ? fields[i].name : i == nf ? "submitted_at" : "claimed_severity";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(member_name(*(const size_t *)a), member_name(*(const size_t *)b));
}

char *bf_report_json_text(const bf_report_t *r, size_t flags, size_t *len)
{
    static const size_t nf = sizeof(fields) / sizeof(fields[0]);
    size_t order[N_MEMBERS];
    for (size_t i = 0; i < N_MEMBERS; i++)
        order[i] = i;
    if (flags & JSON_SORT_KEYS)
        qsort(order, N_MEMBERS, sizeof(order[0]), by_name);
    /* Bound: a byte becomes at most six ("\u00XX"; four bytes of UTF-8
     * become two "\uXXXX"), plus names, punctuation and the integer. */
    size_t bound = 64;
    for (size_t i = 0; i < N_MEMBERS; i++) {
        const char *v = i < nf    ? *(char *const *)((const char *)r + fields[i].offset)
                        : i == nf ? NULL
                                  : r->claimed_severity;
        bound += strlen(member_name(i)) + 32 + (v ? 6 * strlen(v) : 0);
    }
    char *out = bf_malloc(bound);
    char *o = out;
    *o++ = '{';
    for (size_t k = 0; k < N_MEMBERS; k++) {
        size_t i = order[k];
        if (k)
            *o++ = ',';
        o = put_string(o, member_name(i), flags);
        *o++ = ':';
        if (i == nf) {
            o += snprintf(o, 24, "%lld", (long long)r->submitted_at_ms);
            continue;
        }
        const char *v = i < nf ? *(char *const *)((const char *)r + fields[i].offset)
                               : r->claimed_severity;
        if (!v) {
            memcpy(o, "null", 4);
            o += 4;
        } else if (!(o = put_string(o, v, flags))) {
            free(out);
            return NULL;
        }
    }
    *o++ = '}';
    *o = '\0';
    *len = (size_t)(o - out);
    return out;
}
