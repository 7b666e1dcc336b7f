/*
 * actuator.c - the actuator kinds behind one table of operations (see
 * actuator.h), and the `none` kind, which is small enough to live here.
 */
#include "autoscaler/actuator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/actuator_local.h"
#include "autoscaler/actuator_remote.h"
#include "libbf/mem.h"

typedef struct actuator_ops_s {
    const char *kind;
    void *(*create)(const bf_actuator_conf_t *conf, char *errstr, size_t errstr_size);
    int64_t (*current)(void *self);
    bf_err_t (*apply)(void *self, int64_t target, char *errstr, size_t errstr_size);
    void (*shutdown)(void *self);
    void (*destroy)(void *self);
} actuator_ops_t;

struct bf_actuator_s {
    const actuator_ops_t *ops;
    void *self;
};

/* --- none: remembers the target and pretends it was applied ------------ */

typedef struct none_s {
    int64_t workers;
} none_t;

static void *none_create(const bf_actuator_conf_t *conf, char *errstr, size_t size)
{
    (void)conf, (void)errstr, (void)size;
    return bf_calloc(1, sizeof(none_t));
}

static int64_t none_current(void *self)
{
    return ((none_t *)self)->workers;
}

static bf_err_t none_apply(void *self, int64_t target, char *errstr, size_t size)
{
    (void)errstr, (void)size;
    ((none_t *)self)->workers = target;
    return BF_OK;
}

static void none_shutdown(void *self)
{
    (void)self;
}

/* --- local: adapters over actuator_local.h ----------------------------- */

static void *local_create(const bf_actuator_conf_t *conf, char *errstr, size_t size)
{
    return bf_actuator_local_new(conf->worker_argv, conf->stop_timeout_s, errstr, size);
}

static int64_t local_current(void *self)
{
    bf_actuator_local_reap(self);
    return (int64_t)bf_actuator_local_running(self);
}

static bf_err_t local_apply(void *self, int64_t target, char *errstr, size_t size)
{
    return bf_actuator_local_scale(self, target, errstr, size);
}

static void local_shutdown(void *self)
{
    bf_actuator_local_stop_all(self);
}

static void local_destroy(void *self)
{
    bf_actuator_local_destroy(self);
}

static const actuator_ops_t kinds[] = {
    {"local", local_create, local_current, local_apply, local_shutdown, local_destroy},
    {"none", none_create, none_current, none_apply, none_shutdown, free},
    /* A remote fleet outlives the autoscaler: shutting down leaves it be. */
    {"kubernetes", bf_actuator_k8s_create, bf_actuator_k8s_current, bf_actuator_k8s_apply,
     none_shutdown, bf_actuator_k8s_destroy},
    {"command", bf_actuator_command_create, bf_actuator_command_current,
     bf_actuator_command_apply, none_shutdown, bf_actuator_command_destroy},
};

bf_actuator_t *bf_actuator_new(const bf_actuator_conf_t *conf, char *errstr,
                               size_t errstr_size)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(conf->kind, kinds[i].kind) != 0)
            continue;
        void *self = kinds[i].create(conf, errstr, errstr_size);
        if (!self)
            return NULL;
        bf_actuator_t *a = bf_malloc(sizeof(*a));
        a->ops = &kinds[i];
        a->self = self;
        return a;
    }
    snprintf(errstr, errstr_size,
             "--actuator: unknown kind '%s' (local, kubernetes, command, none)",
             conf->kind);
    return NULL;
}

const char *bf_actuator_kind(const bf_actuator_t *a)
{
    return a->ops->kind;
}

int64_t bf_actuator_current(bf_actuator_t *a)
{
    return a->ops->current(a->self);
}

bf_err_t bf_actuator_apply(bf_actuator_t *a, int64_t target, char *errstr,
                           size_t errstr_size)
{
    return a->ops->apply(a->self, target, errstr, errstr_size);
}

void bf_actuator_shutdown(bf_actuator_t *a)
{
    a->ops->shutdown(a->self);
}

void bf_actuator_destroy(bf_actuator_t *a)
{
    if (!a)
        return;
    a->ops->destroy(a->self);
    free(a);
}
