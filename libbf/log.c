/*
 * log.c - JSON-lines logger (see log.h).
 *
 * Each line is built in a stack buffer and written with one fwrite, so lines
 * from different threads (librdkafka's log callback runs on its own threads
 * unless routed to a queue) never interleave. A line that would exceed the
 * buffer has its long values cut or its last fields left out, never the
 * JSON structure (see line_t below).
 */
#include "libbf/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int current_level = BF_LOG_INFO;

static const char *const level_names[] = {"fatal", "error", "warn", "info", "debug"};

const char *const bf_log_level_choices[] = {"fatal", "error", "warn|warning",
                                            "info",  "debug", NULL};

bf_log_level_t bf_log_level_get(void)
{
    return (bf_log_level_t)atomic_load_explicit(&current_level, memory_order_relaxed);
}

void bf_log_level_set(bf_log_level_t level)
{
    atomic_store(&current_level, (int)level);
}

static const char *level_name(bf_log_level_t level)
{
    if ((unsigned)level > BF_LOG_DEBUG)
        return "unknown";
    return level_names[level];
}

/*
 * Line under construction: a fixed buffer and a cursor that never passes
 * the end. The closing ,"truncated":true}\n always has room kept for it,
 * so whatever the values, the line is one whole JSON object:
 *
 *   - the component and the event are cut at CUT_NAME bytes, so a long one
 *     can never leave the event out;
 *   - a string value is cut to the room left ("..." at its end, at a
 *     character boundary);
 *   - a field that does not fit whole (its key, its number) is left out
 *     with the fields after it, never written in part;
 *   - either way the line then ends with "truncated":true.
 */
#define LINE_BYTES 4096
/* Longest component, event or key, escaped, with its quotes. */
#define CUT_NAME 256

static const char truncated_mark[] = ",\"truncated\":true";

typedef struct line_s {
    char buf[LINE_BYTES];
    size_t len;
    bool cut; /* a value was cut or a field left out */
} line_t;

/* Bytes that may still be written before the closing part. */
static size_t room(const line_t *l)
{
    size_t keep = sizeof(truncated_mark) - 1 + 2; /* and "}\n" */
    return l->len + keep < sizeof(l->buf) ? sizeof(l->buf) - keep - l->len : 0;
}

/* Append @p n bytes whole, or nothing and return false. */
static bool put_raw(line_t *l, const char *s, size_t n)
{
    if (n > room(l))
        return false;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

/* The length of the well-formed UTF-8 sequence at @p p (RFC 3629 section
 * 4: no overlong forms, no surrogates, nothing above U+10FFFF), or 0. A
 * NUL ends the checks, so nothing past the string is read. */
static size_t utf8_sequence(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

/*
 * @p s as a JSON string (RFC 8259 section 7) in at most @p max bytes of
 * the line, quotes included. Control characters are escaped; a byte that
 * does not begin a well-formed UTF-8 sequence is written as \ufffd (one
 * per byte), since a JSON text must be UTF-8 (section 8.1) and a parser
 * would refuse the whole line. A string that does not fit is cut after a
 * whole character and ends with "...". Returns false, having written
 * nothing, when not even that fits.
 */
static bool put_str(line_t *l, const char *s, size_t max)
{
    size_t avail = room(l) < max ? room(l) : max;
    if (avail < 5) /* "..." */
        return false;
    size_t end = l->len + avail;
    l->buf[l->len++] = '"';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        char esc[8];
        const char *out = esc;
        size_t n = 2, step = 1;
        switch (*p) {
        case '"':
            memcpy(esc, "\\\"", 2);
            break;
        case '\\':
            memcpy(esc, "\\\\", 2);
            break;
        case '\n':
            memcpy(esc, "\\n", 2);
            break;
        case '\r':
            memcpy(esc, "\\r", 2);
            break;
        case '\t':
            memcpy(esc, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
            } else if ((step = utf8_sequence(p)) > 0) {
                out = (const char *)p;
                n = step;
            } else {
                memcpy(esc, "\\ufffd", 6);
                n = 6;
                step = 1;
            }
        }
        /* Keep room for "..." and the closing quote. */
        if (l->len + n + 4 > end) {
            memcpy(l->buf + l->len, "...", 3);
            l->len += 3;
            l->cut = true;
            break;
        }
        memcpy(l->buf + l->len, out, n);
        l->len += n;
        p += step;
    }
    l->buf[l->len++] = '"';
    return true;
}

static bool put_fmt_number(line_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool put_fmt_number(line_t *l, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return n > 0 && (size_t)n < sizeof(tmp) && put_raw(l, tmp, (size_t)n);
}

/* One field whole, or nothing (the line is left as it was). */
static bool put_field(line_t *l, const bf_log_field_t *f)
{
    size_t before = l->len;
    bool ok = put_raw(l, ",", 1) && put_str(l, f->key, CUT_NAME) && put_raw(l, ":", 1);
    if (ok) {
        switch (f->type) {
        case BF_LOG_T_STR:
            ok = f->s ? put_str(l, f->s, SIZE_MAX) : put_raw(l, "null", 4);
            break;
        case BF_LOG_T_INT:
            ok = put_fmt_number(l, "%lld", (long long)f->i);
            break;
        case BF_LOG_T_DBL:
            /* JSON has no NaN or infinity. */
            ok = isfinite(f->d) ? put_fmt_number(l, "%.6g", f->d) : put_raw(l, "null", 4);
            break;
        case BF_LOG_T_BOOL:
            ok = put_raw(l, f->i ? "true" : "false", f->i ? 4 : 5);
            break;
        case BF_LOG_T_END:
            break;
        }
    }
    if (!ok)
        l->len = before;
    return ok;
}

void bf_log_emit(bf_log_level_t level, const char *component, const char *event,
                 const bf_log_field_t *fields)
{
    line_t l;
    l.len = 0;
    l.cut = false;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wn = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wn, sizeof(when) - wn, ".%03ldZ", ts.tv_nsec / 1000000L);

    /* The header always fits: four short strings, two of them cut at
     * CUT_NAME, in a line of LINE_BYTES. */
    put_raw(&l, "{\"ts\":", 6);
    put_str(&l, when, CUT_NAME);
    put_raw(&l, ",\"level\":", 9);
    put_str(&l, level_name(level), CUT_NAME);
    put_raw(&l, ",\"component\":", 13);
    put_str(&l, component, CUT_NAME);
    put_raw(&l, ",\"event\":", 9);
    put_str(&l, event, CUT_NAME);
    for (const bf_log_field_t *f = fields; f && f->type != BF_LOG_T_END; f++) {
        if (!put_field(&l, f)) {
            l.cut = true; /* it and the fields after it are left out */
            break;
        }
    }
    /* Room for these was kept from the start (room()). */
    if (l.cut) {
        memcpy(l.buf + l.len, truncated_mark, sizeof(truncated_mark) - 1);
        l.len += sizeof(truncated_mark) - 1;
    }
    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    fwrite(l.buf, 1, l.len, stderr);
    fflush(stderr);
}
