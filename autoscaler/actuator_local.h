/*
 * actuator_local.h - run the workers as child processes on this machine.
 *
 * The `local` actuator of the autoscaler and the default of ops/demo. It
 * keeps a set of worker processes, started with fork + execve and stopped
 * with SIGTERM (the workers' graceful stop: finish what is in flight,
 * commit, leave the group), escalating to SIGKILL after a stop timeout.
 *
 * What a child gets:
 *   - the worker command as given: argv[0] is a path, or a bare name looked
 *     up once in PATH when the actuator is created; no shell is involved,
 *     so quoting and globbing do not exist;
 *   - our environment plus BOUNTYFLEET_WORKER_ID=local-<n>, n being the
 *     lowest number not in use by another child (a replacement inherits the
 *     id of the worker it replaces, which keeps metric labels few);
 *   - stdin from /dev/null and stdout joined to stderr, so nothing a worker
 *     prints can mix with the autoscaler's decision lines on stdout;
 *   - its own process group (a Ctrl-C in the terminal reaches only the
 *     autoscaler, which then stops the workers in order), and on Linux
 *     PR_SET_PDEATHSIG=SIGTERM, so workers stop even if the autoscaler is
 *     killed with SIGKILL;
 *   - default signal dispositions and an empty signal mask, whatever the
 *     autoscaler blocks or ignores itself.
 *
 * Children are reaped with non-blocking waitpid() on each of our own pids,
 * never waitpid(-1), so the actuator can share a process with other code
 * that has children of its own (the unit tests do).
 */
#ifndef BF_AUTOSCALER_ACTUATOR_LOCAL_H
#define BF_AUTOSCALER_ACTUATOR_LOCAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libbf/err.h"

/* Most children one actuator tracks, running and stopping together. */
#define BF_ACTUATOR_LOCAL_MAX_CHILDREN 4096

typedef enum bf_local_worker_state_e {
    BF_LOCAL_RUNNING = 0,
    BF_LOCAL_STOPPING = 1, /* SIGTERM sent, not yet reaped */
} bf_local_worker_state_t;

/** A view of one child (copied out by bf_actuator_local_workers()). */
typedef struct bf_local_worker_s {
    pid_t pid;
    int id; /* n of BOUNTYFLEET_WORKER_ID=local-<n> */
    bf_local_worker_state_t state;
    double started_at;    /* monotonic seconds */
    double stop_deadline; /* STOPPING: SIGKILL once this passes */
    int killed;           /* STOPPING: SIGKILL already sent */
} bf_local_worker_t;

typedef struct bf_actuator_local_s bf_actuator_local_t;

/**
 * @brief Split a --worker-cmd string on spaces into an argv.
 *
 * Runs of spaces count as one; there is no quoting (no shell). Use the
 * `-- PATH ARGS...` form of the command line for arguments with spaces.
 *
 * @returns a NULL-terminated array the caller frees with
 *          bf_actuator_local_argv_free(), or NULL if @p cmd has no word.
 */
char **bf_actuator_local_argv_split(const char *cmd);

/** @brief Free an argv from bf_actuator_local_argv_split(). NULL-safe. */
void bf_actuator_local_argv_free(char **argv);

/**
 * @brief Create an actuator with no children yet.
 *
 * @param argv           worker command, NULL-terminated (copied)
 * @param stop_timeout_s seconds between SIGTERM and SIGKILL, >= 0
 * @returns a handle, or NULL with errstr filled when argv is empty or
 *          argv[0] is not an executable file (or not found in PATH).
 */
bf_actuator_local_t *bf_actuator_local_new(const char *const argv[],
                                           double stop_timeout_s, char *errstr,
                                           size_t errstr_size);

/**
 * @brief SIGKILL and reap any child still there, then free. Call
 *        bf_actuator_local_stop_all() first for a graceful stop. NULL-safe.
 */
void bf_actuator_local_destroy(bf_actuator_local_t *l);

/**
 * @brief Start one worker and wait until it has exec'd.
 *
 * A failed exec (missing file, no permission, not an executable format) is
 * reported here through a close-on-exec pipe, so it is never counted as a
 * running worker.
 *
 * @returns BF_OK; BF_ERR_IO when fork or exec failed; BF_ERR_TOO_LARGE at
 *          BF_ACTUATOR_LOCAL_MAX_CHILDREN; errstr says why.
 */
bf_err_t bf_actuator_local_start(bf_actuator_local_t *l, char *errstr,
                                 size_t errstr_size);

/**
 * @brief Send SIGTERM to the newest running worker; it is reaped later by
 *        bf_actuator_local_reap().
 * @returns BF_OK, or BF_ERR_STATE when no worker is running.
 */
bf_err_t bf_actuator_local_stop_newest(bf_actuator_local_t *l);

/**
 * @brief Non-blocking housekeeping: reap children that exited (logging an
 *        unexpected exit with its status) and SIGKILL stopping children
 *        past their deadline.
 */
void bf_actuator_local_reap(bf_actuator_local_t *l);

/**
 * @brief Reap, then start or stop workers until @p target are running.
 * @returns BF_OK, or the first start error (the others are still tried on
 *          the next call).
 */
bf_err_t bf_actuator_local_scale(bf_actuator_local_t *l, int64_t target, char *errstr,
                                 size_t errstr_size);

/**
 * @brief Stop every child: SIGTERM, wait up to the stop timeout, SIGKILL
 *        what is left, reap all. Blocks for at most the stop timeout plus
 *        the time the kernel takes to deliver SIGKILL.
 */
void bf_actuator_local_stop_all(bf_actuator_local_t *l);

/** @brief Workers running (not counting those stopping). */
size_t bf_actuator_local_running(const bf_actuator_local_t *l);

/** @brief Workers sent SIGTERM and not yet reaped. */
size_t bf_actuator_local_stopping(const bf_actuator_local_t *l);

/** @brief Children that exited without being asked to, since creation. */
uint64_t bf_actuator_local_unexpected_exits(const bf_actuator_local_t *l);

/**
 * @brief Copy up to @p cap children, oldest first, into @p out.
 * @returns the number of children tracked (may exceed @p cap).
 */
size_t bf_actuator_local_workers(const bf_actuator_local_t *l, bf_local_worker_t *out,
                                 size_t cap);

#endif
