/*
 * replay.c - workload traces for --replay (see replay.h).
 *
 * The trace is read into steps of its recording interval (the last row's
 * interval is as long as the others); each step's arrivals are rounded so
 * that the running total stays the rounded running total of the trace,
 * and are sent evenly spread over the step.
 */
#include "producer/replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "libbf/mem.h"
#include "libbf/trace.h"

struct bf_replay_s {
    uint64_t *counts; /* arrivals per step */
    size_t steps;
    double step_s; /* already divided by the speed-up */
    uint64_t total;
    size_t step;     /* replay position: step ... */
    uint64_t within; /* ... and arrival within it */
};

bf_err_t bf_replay_load(const char *path, double speedup, bf_replay_t **out, char *errstr,
                        size_t errstr_size)
{
    *out = NULL;
    if (!(speedup > 0)) {
        snprintf(errstr, errstr_size, "--speedup must be more than 0");
        return BF_ERR_INVALID_ARG;
    }
    bf_trace_t tr;
    bf_err_t err = bf_trace_read(path, 0, &tr, errstr, errstr_size);
    if (err != BF_OK)
        return err;
    bf_replay_t *r = bf_calloc(1, sizeof(*r));
    r->counts = bf_calloc(tr.steps, sizeof(*r->counts));
    r->steps = tr.steps;
    r->step_s = tr.step_s / speedup;
    double sum = 0;
    for (size_t k = 0; k < tr.steps; k++) {
        sum += tr.arrivals[k];
        uint64_t upto = (uint64_t)llround(sum);
        r->counts[k] = upto - r->total;
        r->total = upto;
    }
    bf_trace_free(&tr);
    *out = r;
    return BF_OK;
}

uint64_t bf_replay_total(const bf_replay_t *r)
{
    return r ? r->total : 0;
}

int bf_replay_next(bf_replay_t *r, double *at_s)
{
    while (r->step < r->steps && r->within >= r->counts[r->step]) {
        r->step++;
        r->within = 0;
    }
    if (r->step >= r->steps)
        return 0;
    *at_s =
        r->step_s * ((double)r->step + (double)r->within / (double)r->counts[r->step]);
    r->within++;
    return 1;
}

void bf_replay_destroy(bf_replay_t *r)
{
    if (!r)
        return;
    free(r->counts);
    free(r);
}
