/*
 * actuator.h - how a decision reaches the fleet.
 *
 * The control loop only says "run N workers" and asks "how many run now";
 * an actuator turns that into processes, a Deployment's replicas or an
 * operator's command. Each kind sits behind one small table of operations
 * (like curl's protocol handlers), so adding one (as kubernetes,
 * command) means a new file and a line in actuator.c, not a change to the
 * loop.
 *
 * Kinds today:
 *   local       worker processes on this machine (actuator_local.h)
 *   kubernetes  a Deployment's replicas (actuator_remote.h)
 *   command     an operator's command with {replicas} (actuator_remote.h)
 *   none        decide and print only; "current" is the last target applied
 */
#ifndef BF_AUTOSCALER_ACTUATOR_H
#define BF_AUTOSCALER_ACTUATOR_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"

/** Settings of all kinds; each kind reads the fields it needs. */
typedef struct bf_actuator_conf_s {
    const char *kind;               /* "local", "kubernetes", "command" or "none" */
    const char *const *worker_argv; /* local: NULL-terminated command (copied) */
    double stop_timeout_s;          /* local: SIGTERM to SIGKILL */
    const char *k8s_api_url;        /* kubernetes: API server, NULL = in-cluster */
    const char *k8s_namespace;      /* kubernetes: NULL = the service account's */
    const char *k8s_deployment;     /* kubernetes: Deployment name */
    const char *k8s_token;          /* kubernetes: bearer token, NULL = SA file */
    const char *k8s_ca_file;        /* kubernetes: CA bundle, NULL = SA's or system */
    const char *command;            /* command: template with {replicas} */
    double command_timeout_s;       /* command: kill after this */
} bf_actuator_conf_t;

typedef struct bf_actuator_s bf_actuator_t;

/**
 * @brief Create an actuator of @p conf->kind.
 * @returns a handle, or NULL with errstr filled (unknown kind, bad worker
 *          command); such an error is a configuration error (exit 2).
 */
bf_actuator_t *bf_actuator_new(const bf_actuator_conf_t *conf, char *errstr,
                               size_t errstr_size);

/** @brief The kind's name, e.g. "local". Static string. */
const char *bf_actuator_kind(const bf_actuator_t *a);

/**
 * @brief Workers running now. Non-blocking; for `local` it reaps exited
 *        children first (and logs those that exited unexpectedly).
 */
int64_t bf_actuator_current(bf_actuator_t *a);

/**
 * @brief Make @p target workers run. Called every tick with the last target
 *        so that a worker that died is replaced.
 * @returns BF_OK, or an error with errstr filled; the caller logs it and
 *          tries again on the next tick.
 */
bf_err_t bf_actuator_apply(bf_actuator_t *a, int64_t target, char *errstr,
                           size_t errstr_size);

/**
 * @brief Graceful stop of everything this actuator started (for `local`:
 *        SIGTERM, wait the stop timeout, SIGKILL, reap). Blocks.
 */
void bf_actuator_shutdown(bf_actuator_t *a);

/** @brief Free the actuator (after bf_actuator_shutdown()). NULL-safe. */
void bf_actuator_destroy(bf_actuator_t *a);

#endif
