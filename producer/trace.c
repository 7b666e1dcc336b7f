/*
 * trace.c - workload traces for --replay (see trace.h).
 *
 * A row says "value arrivals between this timestamp and the next"; the
 * last row's interval is taken to be as long as the one before it. A gap
 * in the recording (an outage) is replayed as the silence it was.
 */
#include "producer/trace.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"
#include "libbf/report.h"

/* The longest trace in shared/data has 16,416 rows; a year at 1 s is 31 M. */
#define MAX_ROWS (32 * 1024 * 1024)

typedef struct row_s {
    double start_s; /* since the first row, already divided by the speed-up */
    uint64_t count;
} row_t;

struct bf_trace_s {
    row_t *rows;
    size_t n_rows;
    uint64_t total;
    size_t row;      /* replay position: row ... */
    uint64_t within; /* ... and arrival within it */
};

static bf_err_t parse_time(const char *s, double *out)
{
    char buf[64];
    int64_t ms;
    /* "2014-04-10 00:04:00" has no zone; the traces are UTC. */
    size_t n = strlen(s);
    if (n == 19) {
        snprintf(buf, sizeof(buf), "%sZ", s);
        s = buf;
    }
    if (bf_time_parse_rfc3339(s, &ms) != BF_OK)
        return BF_ERR_PARSE;
    *out = (double)ms / 1000.0;
    return BF_OK;
}

bf_err_t bf_trace_load(const char *path, double speedup, bf_trace_t **out, char *errstr,
                       size_t errstr_size)
{
    *out = NULL;
    if (!(speedup > 0)) {
        snprintf(errstr, errstr_size, "--speedup must be more than 0");
        return BF_ERR_INVALID_ARG;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return BF_ERR_IO;
    }
    bf_trace_t *t = bf_calloc(1, sizeof(*t));
    bf_err_t err = BF_OK;
    char line[256];
    long lineno = 0;
    double first = 0, last = -INFINITY;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line || (lineno == 1 && strncmp(line, "timestamp", 9) == 0))
            continue;
        char *comma = strchr(line, ',');
        double at, value;
        char *end = NULL;
        if (comma) {
            *comma = '\0';
            errno = 0;
            value = strtod(comma + 1, &end);
        }
        if (!comma || parse_time(line, &at) != BF_OK || end == comma + 1 || *end ||
            errno || !(value >= 0) || value > 1e9) {
            snprintf(errstr, errstr_size,
                     "%s:%ld: expected \"timestamp,value\" with a UTC time and a "
                     "non-negative count",
                     path, lineno);
            err = BF_ERR_PARSE;
            break;
        }
        if (at <= last) {
            snprintf(errstr, errstr_size, "%s:%ld: timestamps must increase", path,
                     lineno);
            err = BF_ERR_PARSE;
            break;
        }
        if (t->n_rows == MAX_ROWS) {
            snprintf(errstr, errstr_size, "%s:%ld: more than %d rows", path, lineno,
                     MAX_ROWS);
            err = BF_ERR_TOO_LARGE;
            break;
        }
        if (!t->n_rows)
            first = at;
        last = at;
        t->rows = bf_realloc(t->rows, (t->n_rows + 1) * sizeof(*t->rows));
        t->rows[t->n_rows].start_s = (at - first) / speedup;
        t->rows[t->n_rows].count = (uint64_t)llround(value);
        t->total += t->rows[t->n_rows].count;
        t->n_rows++;
    }
    fclose(f);
    if (err == BF_OK && !t->n_rows) {
        snprintf(errstr, errstr_size, "%s: no rows", path);
        err = BF_ERR_PARSE;
    }
    if (err != BF_OK) {
        bf_trace_destroy(t);
        return err;
    }
    *out = t;
    return BF_OK;
}

uint64_t bf_trace_total(const bf_trace_t *t)
{
    return t ? t->total : 0;
}

int bf_trace_next(bf_trace_t *t, double *at_s)
{
    while (t->row < t->n_rows && t->within >= t->rows[t->row].count) {
        t->row++;
        t->within = 0;
    }
    if (t->row >= t->n_rows)
        return 0;
    const row_t *r = &t->rows[t->row];
    double len = t->row + 1 < t->n_rows ? t->rows[t->row + 1].start_s - r->start_s
                 : t->row > 0           ? r->start_s - t->rows[t->row - 1].start_s
                                        : 1.0;
    *at_s = r->start_s + len * (double)t->within / (double)r->count;
    t->within++;
    return 1;
}

void bf_trace_destroy(bf_trace_t *t)
{
    if (!t)
        return;
    free(t->rows);
    free(t);
}
