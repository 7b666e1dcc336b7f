/*
 * trace.c - read a `timestamp,value` arrival trace (see trace.h).
 *
 * Two passes over the rows kept in memory: the first finds the recording
 * interval (smallest positive gap), the second sums rows into steps. The
 * rows are bounded (BF_TRACE_MAX_ROWS), and so are the steps a sparse file
 * could ask for (BF_TRACE_MAX_STEPS).
 */
#include "libbf/trace.h"

#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libbf/clock.h"
#include "libbf/mem.h"

typedef struct row_s {
    double at;
    double value;
} row_t;

/* RFC 3339, the same without a zone (UTC), or epoch seconds. */
static bool parse_time(const char *s, double *at)
{
    int64_t ms;
    char utc[64];
    if (bf_time_parse_rfc3339(s, &ms) == BF_OK ||
        ((size_t)snprintf(utc, sizeof(utc), "%sZ", s) < sizeof(utc) &&
         bf_time_parse_rfc3339(utc, &ms) == BF_OK)) {
        *at = (double)ms / 1000.0;
        return true;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *at = v;
    return true;
}

static bool parse_row(char *line, row_t *row)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *comma = strchr(line, ',');
    if (!comma)
        return false;
    *comma = '\0';
    if (!parse_time(line, &row->at))
        return false;
    char *end;
    errno = 0;
    row->value = strtod(comma + 1, &end);
    while (*end == ' ')
        end++;
    return !errno && end != comma + 1 && *end == '\0' && row->value >= 0 &&
           row->value <= BF_TRACE_MAX_VALUE;
}

static bf_err_t read_rows(FILE *fp, const char *path, row_t **rows, size_t *n,
                          char *errstr, size_t errstr_size)
{
    char line[512];
    size_t cap = 0, lineno = 0;
    *rows = NULL;
    *n = 0;
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\r' || line[0] == '#')
            continue;
        row_t r;
        if (!parse_row(line, &r)) {
            if (*n == 0 && lineno == 1)
                continue; /* the header */
            snprintf(errstr, errstr_size,
                     "%s:%zu: not a `timestamp,value` row (a UTC time or epoch "
                     "seconds, and a count from 0 to %.0f)",
                     path, lineno, BF_TRACE_MAX_VALUE);
            return BF_ERR_PARSE;
        }
        if (*n == BF_TRACE_MAX_ROWS) {
            snprintf(errstr, errstr_size, "%s: more than %d rows", path,
                     BF_TRACE_MAX_ROWS);
            return BF_ERR_TOO_LARGE;
        }
        if (*n > 0 && r.at <= (*rows)[*n - 1].at) {
            snprintf(errstr, errstr_size, "%s:%zu: timestamps must increase", path,
                     lineno);
            return BF_ERR_INVALID_ARG;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            *rows = bf_realloc(*rows, cap * sizeof(row_t));
        }
        (*rows)[(*n)++] = r;
    }
    if (ferror(fp)) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return BF_ERR_IO;
    }
    if (*n < 2) {
        snprintf(errstr, errstr_size, "%s: fewer than two rows", path);
        return BF_ERR_INVALID_ARG;
    }
    return BF_OK;
}

bf_err_t bf_trace_read(const char *path, double min_step_s, bf_trace_t *out, char *errstr,
                       size_t errstr_size)
{
    *out = (bf_trace_t){0};
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return BF_ERR_IO;
    }
    row_t *rows;
    size_t n;
    bf_err_t err = read_rows(fp, path, &rows, &n, errstr, errstr_size);
    fclose(fp);
    if (err)
        goto out;

    double interval = INFINITY;
    for (size_t i = 1; i < n; i++)
        interval = fmin(interval, rows[i].at - rows[i - 1].at);
    double step = fmax(interval, min_step_s);
    double span = rows[n - 1].at - rows[0].at;
    double steps = floor(span / step) + 1;
    if (steps > BF_TRACE_MAX_STEPS) {
        snprintf(errstr, errstr_size, "%s: %.0f steps of %gs, more than %d", path, steps,
                 step, BF_TRACE_MAX_STEPS);
        err = BF_ERR_TOO_LARGE;
        goto out;
    }
    out->steps = (size_t)steps;
    out->arrivals = bf_calloc(out->steps, sizeof(double));
    out->observed = bf_calloc(out->steps, sizeof(bool));
    out->step_s = step;
    out->interval_s = interval;
    out->start = rows[0].at;
    out->rows = n;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)floor((rows[i].at - rows[0].at) / step);
        if (k >= out->steps)
            k = out->steps - 1;
        out->arrivals[k] += rows[i].value;
        out->observed_steps += !out->observed[k];
        out->observed[k] = true;
    }
    /* The recording ends one interval after its last row; a last step it
     * ends inside holds only part of that step's arrivals (a minute step of
     * a trace that stops 23 s into it): not a drop in traffic, so not
     * observed. Its arrivals stay for a replay. */
    if ((double)out->steps * step - (span + interval) > 1e-6 * step &&
        out->observed[out->steps - 1]) {
        out->observed[out->steps - 1] = false;
        out->observed_steps--;
    }
out:
    free(rows);
    return err;
}

void bf_trace_free(bf_trace_t *t)
{
    if (!t)
        return;
    free(t->arrivals);
    free(t->observed);
    *t = (bf_trace_t){0};
}

double bf_trace_peak_rate(const bf_trace_t *t)
{
    double peak = 0;
    for (size_t i = 0; i < t->steps; i++)
        peak = fmax(peak, t->arrivals[i] / t->step_s);
    return peak;
}
