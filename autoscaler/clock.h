/*
 * clock.h - the autoscaler's one time source for intervals and deadlines.
 *
 * CLOCK_MONOTONIC, so a wall-clock step (NTP, a laptop waking up) can
 * neither fire every timer at once nor stall them. Decisions take the time
 * as an argument (decide.h); only the modules that wait read the clock.
 */
#ifndef BF_AUTOSCALER_CLOCK_H
#define BF_AUTOSCALER_CLOCK_H

#include <time.h>

/** @brief Seconds since an arbitrary fixed point, monotonic. */
static inline double bf_autoscaler_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
