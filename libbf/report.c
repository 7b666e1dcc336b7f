/*
 * report.c - report struct <-> JSON, with validation (see report.h).
 *
 * The codec already checks that a record fits the Avro schema; this module
 * adds what a schema cannot say: required text must be non-empty and
 * within bounds, a severity must be one of the scale's symbols.
 */
#include "libbf/report.h"

#include <ctype.h>
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

int64_t bf_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil), avoiding timegm's locale and TZ. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

bf_err_t bf_time_parse_rfc3339(const char *s, int64_t *ms)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, frac_ms = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d))
        return BF_ERR_PARSE;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return BF_ERR_PARSE;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return BF_ERR_PARSE;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60)
        return BF_ERR_PARSE;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return BF_ERR_PARSE;
    if (*p == '.') {
        p++;
        int scale = 100, n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n++ < 3) {
                frac_ms += (*p - '0') * scale;
                scale /= 10;
            }
            p++;
        }
        if (n == 0)
            return BF_ERR_PARSE;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return BF_ERR_PARSE;
        offset_min = sign * (oh * 60 + om);
    } else if (*p != '\0') {
        return BF_ERR_PARSE;
    }
    if (*p != '\0')
        return BF_ERR_PARSE;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
                   (int64_t)offset_min * 60;
    *ms = secs * 1000 + frac_ms;
    return BF_OK;
}

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
