/*
 * metrics.h - Prometheus metrics: a registry of counters, gauges and
 * histograms with labels, rendered in the text exposition format 0.0.4.
 *
 * Every daemon keeps one registry. Families are declared once at start;
 * a series (one combination of label values) is looked up once and kept,
 * so the hot path is one mutex-guarded add. The registry is thread-safe:
 * the event loop updates it while the HTTP thread (httpd.h) renders it.
 *
 *   bf_metrics_t *m = bf_metrics_new();
 *   bf_metric_t *calls = bf_metrics_counter(m, "bountyfleet_ai_requests_total",
 *                                           "AI calls made.", "provider,kind");
 *   bf_series_t *s = bf_metric_series(calls, "openai", "quality");
 *   bf_series_add(s, 1);
 *
 * Names follow Prometheus conventions (DESIGN.md): the bountyfleet_ prefix,
 * base units (seconds, bytes, usd), counters end in _total.
 */
#ifndef BF_METRICS_H
#define BF_METRICS_H

#include <stddef.h>

typedef struct bf_metrics_s bf_metrics_t;
typedef struct bf_metric_s bf_metric_t;
typedef struct bf_series_s bf_series_t;

/* Default histogram bounds for latencies in seconds (1 ms to 60 s). */
extern const double bf_metrics_latency_buckets[];
extern const size_t bf_metrics_latency_buckets_count;

bf_metrics_t *bf_metrics_new(void);
void bf_metrics_destroy(bf_metrics_t *m);

/* Declare a family. @p labels is a comma-separated list of label names
 * ("provider,kind") or NULL for none. Declaring a name twice returns the
 * first declaration (and aborts if its kind or labels differ: a bug). */
bf_metric_t *bf_metrics_counter(bf_metrics_t *m, const char *name, const char *help,
                                const char *labels);
bf_metric_t *bf_metrics_gauge(bf_metrics_t *m, const char *name, const char *help,
                              const char *labels);
/* @p bounds: ascending upper bounds, without +Inf; NULL means
 * bf_metrics_latency_buckets. */
bf_metric_t *bf_metrics_histogram(bf_metrics_t *m, const char *name, const char *help,
                                  const char *labels, const double *bounds, size_t count);

/* The series for one combination of label values: exactly as many const
 * char * arguments as the family has labels (none for an unlabelled one).
 * The series lives as long as the registry; keep the pointer. */
bf_series_t *bf_metric_series(bf_metric_t *f, ...);

void bf_series_add(bf_series_t *s, double v);     /* counter or gauge */
void bf_series_set(bf_series_t *s, double v);     /* gauge */
void bf_series_observe(bf_series_t *s, double v); /* histogram */
double bf_series_value(bf_series_t *s);           /* counter/gauge value; histogram sum */
unsigned long long bf_series_count(bf_series_t *s); /* histogram observations */

/* Hide every series of a family from the output (e.g. per-partition
 * gauges after a rebalance) and zero them. Pointers stay valid; a series
 * shows again at its next update. */
void bf_metric_reset(bf_metric_t *f);

/* The whole registry in the Prometheus text format; malloc'd, NUL-ended. */
char *bf_metrics_render(bf_metrics_t *m, size_t *len);

#endif
