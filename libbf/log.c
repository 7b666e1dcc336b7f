/*
 * log.c - JSON-lines logger (see log.h).
 *
 * Each line is built in a stack buffer and written with one fwrite, so lines
 * from different threads (librdkafka's log callback runs on its own threads
 * unless routed to a queue) never interleave. A line that would exceed the
 * buffer has its long values cut, never the JSON structure.
 */
#include "libbf/log.h"

#include <stdarg.h>
#include <stdatomic.h>
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

/* Line under construction: a fixed buffer and a cursor that never passes
 * the end (room is kept for the closing "}\n"). */
typedef struct line_s {
    char buf[4096];
    size_t len;
} line_t;

#define LINE_ROOM(l) (sizeof((l)->buf) - 3 - (l)->len)

static void put_raw(line_t *l, const char *s, size_t n)
{
    if (n > LINE_ROOM(l))
        n = LINE_ROOM(l);
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* JSON string escaping per RFC 8259 section 7. Values longer than the room
 * left are truncated at a character boundary and marked with "...". */
static void put_str(line_t *l, const char *s)
{
    if (LINE_ROOM(l) < 8)
        return;
    put_raw(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char esc[8];
        size_t n;
        switch (*p) {
        case '"':
            n = 2, memcpy(esc, "\\\"", 2);
            break;
        case '\\':
            n = 2, memcpy(esc, "\\\\", 2);
            break;
        case '\n':
            n = 2, memcpy(esc, "\\n", 2);
            break;
        case '\r':
            n = 2, memcpy(esc, "\\r", 2);
            break;
        case '\t':
            n = 2, memcpy(esc, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
            } else {
                esc[0] = (char)*p;
                n = 1;
            }
        }
        if (LINE_ROOM(l) < n + 5) {
            /* Do not leave half a UTF-8 sequence behind. */
            while (l->len > 0 && ((unsigned char)l->buf[l->len - 1] & 0xC0) == 0x80)
                l->len--;
            if (l->len > 0 && ((unsigned char)l->buf[l->len - 1] & 0xC0) == 0xC0)
                l->len--;
            put_raw(l, "...", 3);
            break;
        }
        put_raw(l, esc, n);
    }
    if (sizeof(l->buf) - 2 - l->len >= 1)
        l->buf[l->len++] = '"';
}

static void put_fmt_number(line_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put_fmt_number(line_t *l, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put_raw(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void bf_log_emit(bf_log_level_t level, const char *component, const char *event,
                 const bf_log_field_t *fields)
{
    line_t l;
    l.len = 0;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wn = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wn, sizeof(when) - wn, ".%03ldZ", ts.tv_nsec / 1000000L);

    put_raw(&l, "{\"ts\":", 6);
    put_str(&l, when);
    put_raw(&l, ",\"level\":", 9);
    put_str(&l, level_name(level));
    put_raw(&l, ",\"component\":", 13);
    put_str(&l, component);
    put_raw(&l, ",\"event\":", 9);
    put_str(&l, event);
    for (const bf_log_field_t *f = fields; f && f->type != BF_LOG_T_END; f++) {
        put_raw(&l, ",", 1);
        put_str(&l, f->key);
        put_raw(&l, ":", 1);
        switch (f->type) {
        case BF_LOG_T_STR:
            if (f->s)
                put_str(&l, f->s);
            else
                put_raw(&l, "null", 4);
            break;
        case BF_LOG_T_INT:
            put_fmt_number(&l, "%lld", (long long)f->i);
            break;
        case BF_LOG_T_DBL:
            /* JSON has no NaN or infinity. */
            if (f->d != f->d || f->d > 1e308 || f->d < -1e308)
                put_raw(&l, "null", 4);
            else
                put_fmt_number(&l, "%.6g", f->d);
            break;
        case BF_LOG_T_BOOL:
            put_raw(&l, f->i ? "true" : "false", f->i ? 4 : 5);
            break;
        case BF_LOG_T_END:
            break;
        }
    }
    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    fwrite(l.buf, 1, l.len, stderr);
    fflush(stderr);
}
