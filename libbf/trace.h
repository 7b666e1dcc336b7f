/*
 * trace.h - a recorded arrival trace (CSV `timestamp,value`, value =
 * arrivals in the interval), read into a regular series of steps: what
 * the autoscaler forecasts and backtests on, and what the producer
 * replays with --replay. One reader, so both take the same files.
 *
 * The format of ../shared/data/traces: a header line, then one row per
 * interval; the timestamp is `YYYY-MM-DD HH:MM:SS` (UTC; a `T` instead of
 * the space, fractional seconds and a zone as in RFC 3339 are also
 * accepted) or seconds since the epoch; values are non-negative numbers
 * up to BF_TRACE_MAX_VALUE. Blank lines and lines starting with '#' are
 * skipped. The recording interval is the smallest gap between two rows. Rows are summed
 * into steps of max(interval, min_step_s), and steps without a row (a gap in the
 * recording, an outage) hold 0 arrivals: the time axis stays true, so a
 * daily season stays 24 hours long. Which steps had a row is kept beside
 * the arrivals (`observed`; a last step the recording ends inside, one
 * interval after its last row, is not observed either: it holds only part
 * of its arrivals): the backtest replays a gap as a quiet spell,
 * but forecast-eval treats it as missing (neither fitted on nor scored),
 * since nobody knows what arrived then.
 */
#ifndef BF_TRACE_H
#define BF_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#include "libbf/err.h"

/* Bounds that keep a mistaken file from eating the machine. */
#define BF_TRACE_MAX_ROWS  10000000
#define BF_TRACE_MAX_STEPS 10000000
#define BF_TRACE_MAX_VALUE 1e9

typedef struct bf_trace_s {
    double *arrivals; /* owned; arrivals per step (0 in a gap) */
    bool *observed;   /* owned; per step: a row fell in it and the recording covers all of
                         it */
    size_t observed_steps; /* steps with observed[k] */
    size_t steps;          /* number of steps */
    double step_s;         /* seconds per step */
    double interval_s;     /* the recording's own interval */
    double start;          /* epoch seconds of the first step */
    size_t rows;           /* data rows read */
} bf_trace_t;

/**
 * @brief Read @p path into @p out with steps of at least @p min_step_s.
 * @returns BF_OK; BF_ERR_IO (cannot open), BF_ERR_PARSE (a bad row: errstr
 *          names the line), BF_ERR_TOO_LARGE, or BF_ERR_INVALID_ARG (fewer
 *          than two rows, timestamps not increasing).
 */
bf_err_t bf_trace_read(const char *path, double min_step_s, bf_trace_t *out, char *errstr,
                       size_t errstr_size);

/** @brief Free the series and reset @p t. NULL-safe. */
void bf_trace_free(bf_trace_t *t);

/** @brief The highest arrival rate (arrivals/s) of one step. */
double bf_trace_peak_rate(const bf_trace_t *t);

#endif
