/*
 * metrics.c - Prometheus registry and text exposition (see metrics.h).
 */
#include "libbf/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/buf.h"
#include "libbf/mem.h"

#define MAX_LABELS 8

/* A programming error (a metric declared twice differently): abort. */
static void misuse(const char *what, const char *name)
{
    fprintf(stderr,
            "{\"level\":\"fatal\",\"component\":\"metrics\",\"event\":\"%s\","
            "\"metric\":\"%s\"}\n",
            what, name);
    abort();
}

const double bf_metrics_latency_buckets[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
const size_t bf_metrics_latency_buckets_count =
    sizeof(bf_metrics_latency_buckets) / sizeof(bf_metrics_latency_buckets[0]);

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

struct bf_series_s {
    bf_metric_t *family;
    char **values; /* one per label */
    double value;  /* counter/gauge value, histogram sum */
    unsigned long long count;
    unsigned long long *buckets; /* histogram: per bound, not cumulative */
    bool visible;
    bf_series_t *next;
};

struct bf_metric_s {
    bf_metrics_t *reg;
    kind_t kind;
    char *name;
    char *help;
    char *labels_spec;
    char *labels[MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    bf_series_t *series, *last;
    bf_metric_t *next;
};

struct bf_metrics_s {
    pthread_mutex_t lock;
    bf_metric_t *families, *last;
};

bf_metrics_t *bf_metrics_new(void)
{
    bf_metrics_t *m = bf_calloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void bf_metrics_destroy(bf_metrics_t *m)
{
    if (!m)
        return;
    for (bf_metric_t *f = m->families, *fn; f; f = fn) {
        fn = f->next;
        for (bf_series_t *s = f->series, *sn; s; s = sn) {
            sn = s->next;
            for (size_t i = 0; i < f->nlabels; i++)
                free(s->values[i]);
            free(s->values);
            free(s->buckets);
            free(s);
        }
        for (size_t i = 0; i < f->nlabels; i++)
            free(f->labels[i]);
        free(f->name);
        free(f->help);
        free(f->labels_spec);
        free(f->bounds);
        free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static bf_metric_t *declare(bf_metrics_t *m, kind_t kind, const char *name,
                            const char *help, const char *labels, const double *bounds,
                            size_t nbounds)
{
    const char *spec = labels ? labels : "";
    pthread_mutex_lock(&m->lock);
    for (bf_metric_t *f = m->families; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            if (f->kind != kind || strcmp(f->labels_spec, spec) != 0)
                misuse("declared_twice_differently", name);
            pthread_mutex_unlock(&m->lock);
            return f;
        }
    }
    bf_metric_t *f = bf_calloc(1, sizeof(*f));
    f->reg = m;
    f->kind = kind;
    f->name = bf_strdup(name);
    f->help = bf_strdup(help);
    f->labels_spec = bf_strdup(spec);
    char *copy = bf_strdup(spec), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (f->nlabels == MAX_LABELS)
            misuse("too_many_labels", name);
        f->labels[f->nlabels++] = bf_strdup(t);
    }
    free(copy);
    if (kind == KIND_HISTOGRAM) {
        if (!bounds) {
            bounds = bf_metrics_latency_buckets;
            nbounds = bf_metrics_latency_buckets_count;
        }
        f->bounds = bf_calloc(nbounds ? nbounds : 1, sizeof(double));
        memcpy(f->bounds, bounds, nbounds * sizeof(double));
        f->nbounds = nbounds;
    }
    if (m->last)
        m->last->next = f;
    else
        m->families = f;
    m->last = f;
    pthread_mutex_unlock(&m->lock);
    return f;
}

bf_metric_t *bf_metrics_counter(bf_metrics_t *m, const char *name, const char *help,
                                const char *labels)
{
    return declare(m, KIND_COUNTER, name, help, labels, NULL, 0);
}

bf_metric_t *bf_metrics_gauge(bf_metrics_t *m, const char *name, const char *help,
                              const char *labels)
{
    return declare(m, KIND_GAUGE, name, help, labels, NULL, 0);
}

bf_metric_t *bf_metrics_histogram(bf_metrics_t *m, const char *name, const char *help,
                                  const char *labels, const double *bounds, size_t count)
{
    return declare(m, KIND_HISTOGRAM, name, help, labels, bounds, count);
}

bf_series_t *bf_metric_series(bf_metric_t *f, ...)
{
    const char *values[MAX_LABELS];
    va_list ap;
    va_start(ap, f);
    for (size_t i = 0; i < f->nlabels; i++) {
        values[i] = va_arg(ap, const char *);
        if (!values[i])
            values[i] = "";
    }
    va_end(ap);

    pthread_mutex_lock(&f->reg->lock);
    bf_series_t *s;
    for (s = f->series; s; s = s->next) {
        size_t i = 0;
        while (i < f->nlabels && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == f->nlabels)
            break;
    }
    if (!s) {
        s = bf_calloc(1, sizeof(*s));
        s->family = f;
        s->values = bf_calloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
        for (size_t i = 0; i < f->nlabels; i++)
            s->values[i] = bf_strdup(values[i]);
        if (f->kind == KIND_HISTOGRAM)
            s->buckets = bf_calloc(f->nbounds ? f->nbounds : 1, sizeof(*s->buckets));
        s->visible = true;
        if (f->last)
            f->last->next = s;
        else
            f->series = s;
        f->last = s;
    }
    pthread_mutex_unlock(&f->reg->lock);
    return s;
}

void bf_series_add(bf_series_t *s, double v)
{
    pthread_mutex_lock(&s->family->reg->lock);
    s->value += v;
    s->visible = true;
    pthread_mutex_unlock(&s->family->reg->lock);
}

void bf_series_set(bf_series_t *s, double v)
{
    pthread_mutex_lock(&s->family->reg->lock);
    s->value = v;
    s->visible = true;
    pthread_mutex_unlock(&s->family->reg->lock);
}

void bf_series_observe(bf_series_t *s, double v)
{
    bf_metric_t *f = s->family;
    pthread_mutex_lock(&f->reg->lock);
    for (size_t i = 0; i < f->nbounds; i++) {
        if (v <= f->bounds[i]) {
            s->buckets[i]++;
            break;
        }
    }
    s->value += v;
    s->count++;
    s->visible = true;
    pthread_mutex_unlock(&f->reg->lock);
}

double bf_series_value(bf_series_t *s)
{
    pthread_mutex_lock(&s->family->reg->lock);
    double v = s->value;
    pthread_mutex_unlock(&s->family->reg->lock);
    return v;
}

unsigned long long bf_series_count(bf_series_t *s)
{
    pthread_mutex_lock(&s->family->reg->lock);
    unsigned long long c = s->count;
    pthread_mutex_unlock(&s->family->reg->lock);
    return c;
}

void bf_metric_reset(bf_metric_t *f)
{
    pthread_mutex_lock(&f->reg->lock);
    for (bf_series_t *s = f->series; s; s = s->next) {
        s->visible = false;
        s->value = 0;
        s->count = 0;
        if (s->buckets)
            memset(s->buckets, 0, f->nbounds * sizeof(*s->buckets));
    }
    pthread_mutex_unlock(&f->reg->lock);
}

/* The shortest decimal that reads back as @p v. */
static void shortest(char *out, size_t size, double v)
{
    if (v == (double)(long long)v && fabs(v) < 1e15) {
        snprintf(out, size, "%lld", (long long)v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* A float the way Prometheus parses it (Go's ParseFloat). */
static void put_number(bf_buf_t *b, double v)
{
    if (isnan(v))
        bf_buf_puts(b, "NaN");
    else if (isinf(v))
        bf_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else {
        char num[32];
        shortest(num, sizeof(num), v);
        bf_buf_puts(b, num);
    }
}

/* Label values escape backslash, double quote and newline; HELP text
 * escapes backslash and newline. */
static void put_escaped(bf_buf_t *b, const char *s, bool quotes)
{
    for (; *s; s++) {
        if (*s == '\\')
            bf_buf_puts(b, "\\\\");
        else if (*s == '\n')
            bf_buf_puts(b, "\\n");
        else if (*s == '"' && quotes)
            bf_buf_puts(b, "\\\"");
        else
            bf_buf_append(b, s, 1);
    }
}

/* name{labels[,le="x"]} */
static void put_series_name(bf_buf_t *b, const bf_metric_t *f, const bf_series_t *s,
                            const char *suffix, const char *le)
{
    bf_buf_puts(b, f->name);
    bf_buf_puts(b, suffix);
    if (f->nlabels == 0 && !le)
        return;
    bf_buf_puts(b, "{");
    for (size_t i = 0; i < f->nlabels; i++) {
        bf_buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(b, s->values[i], true);
        bf_buf_puts(b, "\"");
    }
    if (le)
        bf_buf_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    bf_buf_puts(b, "}");
}

char *bf_metrics_render(bf_metrics_t *m, size_t *len)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    bf_buf_t b;
    bf_buf_init(&b, 64 * 1024 * 1024);
    pthread_mutex_lock(&m->lock);
    for (bf_metric_t *f = m->families; f; f = f->next) {
        bf_buf_printf(&b, "# HELP %s ", f->name);
        put_escaped(&b, f->help, false);
        bf_buf_printf(&b, "\n# TYPE %s %s\n", f->name, types[f->kind]);
        for (bf_series_t *s = f->series; s; s = s->next) {
            if (!s->visible)
                continue;
            if (f->kind != KIND_HISTOGRAM) {
                put_series_name(&b, f, s, "", NULL);
                bf_buf_puts(&b, " ");
                put_number(&b, s->value);
                bf_buf_puts(&b, "\n");
                continue;
            }
            unsigned long long cum = 0;
            for (size_t i = 0; i < f->nbounds; i++) {
                char le[64];
                shortest(le, sizeof(le), f->bounds[i]);
                cum += s->buckets[i];
                put_series_name(&b, f, s, "_bucket", le);
                bf_buf_printf(&b, " %llu\n", cum);
            }
            put_series_name(&b, f, s, "_bucket", "+Inf");
            bf_buf_printf(&b, " %llu\n", s->count);
            put_series_name(&b, f, s, "_sum", NULL);
            bf_buf_puts(&b, " ");
            put_number(&b, s->value);
            bf_buf_puts(&b, "\n");
            put_series_name(&b, f, s, "_count", NULL);
            bf_buf_printf(&b, " %llu\n", s->count);
        }
    }
    pthread_mutex_unlock(&m->lock);
    return bf_buf_steal(&b, len);
}
