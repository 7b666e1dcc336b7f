/*
 * stored_scaler.h - the scaler fuzz_stored loads saved states into, and
 * make_seeds saves its seed with: the same configuration on both sides, or
 * no seed would ever load (a state is refused for another configuration).
 * A 4-step season and an 8-step weekly one keep states small.
 */
#ifndef BF_FUZZ_STORED_SCALER_H
#define BF_FUZZ_STORED_SCALER_H

#include <stdlib.h>

#include "autoscaler/scaler.h"

/* Aborts when the scaler cannot be made: a broken harness, not a finding. */
static inline bf_scaler_t *fuzz_stored_scaler_new(void)
{
    bf_scaler_conf_t sc = {.step_s = 60,
                           .season = 4,
                           .season2 = 8,
                           .horizon_s = 300,
                           .worker_rate = 2,
                           .measure_rate = true};
    sc.policy.min_workers = 1;
    sc.policy.max_workers = 8;
    bf_decide_policy_capacity(&sc.policy);
    char errstr[256];
    bf_scaler_t *s = bf_scaler_new(&sc, errstr, sizeof(errstr));
    if (!s)
        abort();
    return s;
}

#endif
