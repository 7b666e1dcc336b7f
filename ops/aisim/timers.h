/*
 * timers.h - one thread that runs callbacks at due times.
 *
 * The AI simulator holds thousands of requests for their simulated
 * latency. A thread or a sleep per request would not scale and would block
 * libmicrohttpd's event thread, so each delayed request is suspended and
 * registered here with its due time; this module's single thread sleeps
 * until the earliest due time and then calls the callback, which resumes
 * the connection. Pending entries live in a binary min-heap under one
 * mutex; adding an entry that becomes the earliest wakes the thread
 * through a condition variable on CLOCK_MONOTONIC.
 */
#ifndef BF_AISIM_TIMERS_H
#define BF_AISIM_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"

typedef struct bf_aisim_timers_s bf_aisim_timers_t;

/**
 * @brief A due callback.
 * @locality the timers thread, or the thread calling bf_aisim_timers_close();
 *           never with the timers lock held, so it may call back in.
 */
typedef void(bf_aisim_timer_cb_t)(void *arg);

/** @brief Now on CLOCK_MONOTONIC, in nanoseconds. */
uint64_t bf_aisim_now_ns(void);

/**
 * @brief Start the timer thread.
 * @param max_pending most entries held at once (a hard cap, like every
 *        queue here); bf_aisim_timers_add() refuses more
 * @returns the handle, or NULL with errstr filled.
 */
bf_aisim_timers_t *bf_aisim_timers_new(size_t max_pending, char *errstr,
                                       size_t errstr_size);

/**
 * @brief Call @p cb(@p arg) at @p due_ns (bf_aisim_now_ns() time).
 * @param arg borrowed; must stay valid until the callback has run.
 * @returns BF_OK; BF_ERR_TOO_LARGE when max_pending entries are held;
 *          BF_ERR_STATE after bf_aisim_timers_close(). The callback will
 *          not run when an error is returned.
 * @locality any thread
 */
bf_err_t bf_aisim_timers_add(bf_aisim_timers_t *t, uint64_t due_ns,
                             bf_aisim_timer_cb_t *cb, void *arg);

/**
 * @brief Refuse new entries, stop the thread (letting it finish the
 *        callbacks it is running) and run every pending callback now, in
 *        due order, on the calling thread. Used at shutdown so that no
 *        request is left suspended. Call from one thread only; a second
 *        call does nothing more.
 */
void bf_aisim_timers_close(bf_aisim_timers_t *t);

/** @brief Close, stop the thread and free. NULL-safe. */
void bf_aisim_timers_destroy(bf_aisim_timers_t *t);

#endif
