/*
 * actuator_local.c - worker processes on this machine (see actuator_local.h
 * for what a child gets and why).
 *
 * Starting a child safely from a process that has threads (librdkafka
 * runs several): after fork() only the calling thread exists in the child,
 * and another thread may have held the malloc or stdio lock at that moment.
 * So everything that allocates (the argv copy, the environment with the
 * worker id) is built in the parent before fork(), and the child calls only
 * async-signal-safe functions (POSIX.1-2017 2.4.3) until execve().
 *
 * Reporting a failed exec: the parent creates a pipe with O_CLOEXEC and
 * keeps the read end. A successful execve() closes the child's write end,
 * so the parent reads end-of-file; a failed one makes the child write its
 * errno into the pipe before _exit(127). The parent therefore knows, before
 * it counts a worker, whether the program really started.
 */
#include "autoscaler/actuator_local.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "libbf/clock.h"
#include "libbf/log.h"
#include "libbf/mem.h"

extern char **environ;

#define WORKER_ID_VAR "BOUNTYFLEET_WORKER_ID"

typedef struct child_s {
    bf_local_worker_t w;
    uint64_t seq; /* start order: the highest running seq is the newest */
} child_t;

struct bf_actuator_local_s {
    char *path;  /* argv[0] resolved against PATH */
    char **argv; /* owned, NULL-terminated */
    double stop_timeout_s;
    child_t *children; /* owned; oldest first */
    size_t n_children, cap_children;
    uint64_t next_seq;
    uint64_t unexpected_exits;
};

char **bf_actuator_local_argv_split(const char *cmd)
{
    size_t n = 0, cap = 8;
    char **argv = bf_malloc(cap * sizeof(*argv));
    const char *p = cmd ? cmd : "";
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (n + 2 > cap) {
            cap *= 2;
            argv = bf_realloc(argv, cap * sizeof(*argv));
        }
        argv[n++] = bf_strndup(p, len);
        p += len;
    }
    argv[n] = NULL;
    if (n == 0) {
        free(argv);
        return NULL;
    }
    return argv;
}

void bf_actuator_local_argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* execv() does not search PATH and execvp() would search it in the child
 * (allocating); so a bare name is resolved once, here, like a shell would. */
static char *resolve_program(const char *name)
{
    if (strchr(name, '/'))
        return bf_strdup(name);
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        char *candidate = len ? bf_asprintf("%.*s/%s", (int)len, path, name)
                              : bf_asprintf("./%s", name); /* empty entry: cwd */
        if (is_executable_file(candidate))
            return candidate;
        free(candidate);
        path += len + (colon ? 1 : 0);
    }
    return NULL;
}

bf_actuator_local_t *bf_actuator_local_new(const char *const argv[],
                                           double stop_timeout_s, char *errstr,
                                           size_t errstr_size)
{
    if (!argv || !argv[0] || !*argv[0]) {
        snprintf(errstr, errstr_size, "the local actuator needs a worker command");
        return NULL;
    }
    char *path = resolve_program(argv[0]);
    if (!path) {
        snprintf(errstr, errstr_size, "worker command %s: not found in PATH", argv[0]);
        return NULL;
    }
    if (!is_executable_file(path)) {
        int e = errno;
        struct stat st;
        snprintf(errstr, errstr_size, "worker command %s: %s", path,
                 stat(path, &st) != 0   ? strerror(e)
                 : !S_ISREG(st.st_mode) ? "not a regular file"
                                        : "not executable");
        free(path);
        return NULL;
    }
    bf_actuator_local_t *l = bf_calloc(1, sizeof(*l));
    l->path = path;
    size_t n = 0;
    while (argv[n])
        n++;
    l->argv = bf_calloc(n + 1, sizeof(*l->argv));
    for (size_t i = 0; i < n; i++)
        l->argv[i] = bf_strdup(argv[i]);
    l->stop_timeout_s = stop_timeout_s >= 0 ? stop_timeout_s : 0;
    return l;
}

/* Forget child @p i (after it was reaped), keeping the oldest-first order. */
static void forget_child(bf_actuator_local_t *l, size_t i)
{
    memmove(&l->children[i], &l->children[i + 1],
            (l->n_children - i - 1) * sizeof(*l->children));
    l->n_children--;
}

/* Blocking waitpid() that retries on EINTR. */
static void wait_for(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

void bf_actuator_local_destroy(bf_actuator_local_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_children; i++) {
        kill(l->children[i].w.pid, SIGKILL);
        wait_for(l->children[i].w.pid);
    }
    free(l->children);
    bf_actuator_local_argv_free(l->argv);
    free(l->path);
    free(l);
}

/* Lowest worker number not used by a tracked child. O(n^2) over a handful
 * of children; n is bounded by BF_ACTUATOR_LOCAL_MAX_CHILDREN. */
static int free_worker_id(const bf_actuator_local_t *l)
{
    for (int id = 1;; id++) {
        bool used = false;
        for (size_t i = 0; i < l->n_children && !used; i++)
            used = l->children[i].w.id == id;
        if (!used)
            return id;
    }
}

/* Our environment without any inherited worker id, plus @p id_entry. The
 * strings are borrowed from environ and id_entry; only the array is owned. */
static char **child_environment(char *id_entry)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **envp = bf_malloc((n + 2) * sizeof(*envp));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], WORKER_ID_VAR "=", sizeof(WORKER_ID_VAR)) != 0)
            envp[k++] = environ[i];
    envp[k++] = id_entry;
    envp[k] = NULL;
    return envp;
}

/* In the child, between fork() and execve(): async-signal-safe calls only. */
static void child_exec(const bf_actuator_local_t *l, char **envp, int devnull,
                       int report_fd, pid_t parent) __attribute__((noreturn));

static void child_exec(const bf_actuator_local_t *l, char **envp, int devnull,
                       int report_fd, pid_t parent)
{
    /* Ignored signals stay ignored across execve() and the mask is
     * inherited: give the worker a clean slate. */
    static const int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGQUIT};
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
        sigaction(reset[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    setpgid(0, 0);
#ifdef __linux__
    /* Stop with the autoscaler even if it dies without cleaning up; if it
     * already died before the prctl, we were reparented: do not start. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
#else
    (void)parent;
#endif
    if (dup2(devnull, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        int e = errno;
        (void)!write(report_fd, &e, sizeof(e));
        _exit(127);
    }
    execve(l->path, l->argv, envp);
    int e = errno;
    (void)!write(report_fd, &e, sizeof(e));
    _exit(127);
}

bf_err_t bf_actuator_local_start(bf_actuator_local_t *l, char *errstr, size_t errstr_size)
{
    if (l->n_children >= BF_ACTUATOR_LOCAL_MAX_CHILDREN) {
        snprintf(errstr, errstr_size, "already %zu worker processes", l->n_children);
        return BF_ERR_TOO_LARGE;
    }
    int id = free_worker_id(l);
    char *id_entry = bf_asprintf(WORKER_ID_VAR "=local-%d", id);
    char **envp = child_environment(id_entry);
    bf_err_t ret = BF_OK;
    int report[2] = {-1, -1};
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(report, O_CLOEXEC) < 0) {
        snprintf(errstr, errstr_size, "cannot start a worker: %s", strerror(errno));
        ret = BF_ERR_IO;
        goto out;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errstr, errstr_size, "cannot fork a worker: %s", strerror(errno));
        ret = BF_ERR_IO;
        goto out;
    }
    if (pid == 0)
        child_exec(l, envp, devnull, report[1], parent);

    close(report[1]);
    report[1] = -1;
    int child_errno = 0;
    ssize_t n;
    while ((n = read(report[0], &child_errno, sizeof(child_errno))) < 0 &&
           errno == EINTR) {
    }
    if (n > 0) {
        /* exec failed: the child has _exit'ed or is about to. */
        wait_for(pid);
        snprintf(errstr, errstr_size, "cannot execute worker %s: %s", l->path,
                 n == (ssize_t)sizeof(child_errno) ? strerror(child_errno)
                                                   : "short error report");
        ret = BF_ERR_IO;
        goto out;
    }
    if (l->n_children == l->cap_children) {
        l->cap_children = l->cap_children ? 2 * l->cap_children : 8;
        l->children = bf_realloc(l->children, l->cap_children * sizeof(*l->children));
    }
    l->children[l->n_children++] = (child_t){
        .w = {.pid = pid,
              .id = id,
              .state = BF_LOCAL_RUNNING,
              .started_at = bf_monotonic_s()},
        .seq = l->next_seq++,
    };
    bf_log(BF_LOG_INFO, "actuator", "worker_started", BF_LINT("pid", pid),
           BF_LINT("worker_id", id), BF_LSTR("path", l->path));
out:
    if (report[0] >= 0)
        close(report[0]);
    if (report[1] >= 0)
        close(report[1]);
    if (devnull >= 0)
        close(devnull);
    free(envp);
    free(id_entry);
    return ret;
}

bf_err_t bf_actuator_local_stop_newest(bf_actuator_local_t *l)
{
    child_t *newest = NULL;
    for (size_t i = 0; i < l->n_children; i++) {
        child_t *c = &l->children[i];
        if (c->w.state == BF_LOCAL_RUNNING && (!newest || c->seq > newest->seq))
            newest = c;
    }
    if (!newest)
        return BF_ERR_STATE;
    /* The pid cannot have been reused: it is our unreaped child. */
    kill(newest->w.pid, SIGTERM);
    newest->w.state = BF_LOCAL_STOPPING;
    newest->w.stop_deadline = bf_monotonic_s() + l->stop_timeout_s;
    bf_log(BF_LOG_INFO, "actuator", "worker_stopping", BF_LINT("pid", newest->w.pid),
           BF_LINT("worker_id", newest->w.id), BF_LDBL("timeout_s", l->stop_timeout_s));
    return BF_OK;
}

static void log_exit(const child_t *c, int status)
{
    bool expected = c->w.state == BF_LOCAL_STOPPING;
    double ran = bf_monotonic_s() - c->w.started_at;
    if (WIFEXITED(status))
        bf_log(expected ? BF_LOG_INFO : BF_LOG_WARN, "actuator",
               expected ? "worker_stopped" : "worker_exited_unexpectedly",
               BF_LINT("pid", c->w.pid), BF_LINT("worker_id", c->w.id),
               BF_LINT("exit_code", WEXITSTATUS(status)), BF_LDBL("ran_s", ran));
    else
        bf_log(expected ? BF_LOG_INFO : BF_LOG_WARN, "actuator",
               expected ? "worker_stopped" : "worker_exited_unexpectedly",
               BF_LINT("pid", c->w.pid), BF_LINT("worker_id", c->w.id),
               BF_LINT("signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0),
               BF_LDBL("ran_s", ran));
}

void bf_actuator_local_reap(bf_actuator_local_t *l)
{
    double now = bf_monotonic_s();
    for (size_t i = 0; i < l->n_children;) {
        child_t *c = &l->children[i];
        int status;
        pid_t r = waitpid(c->w.pid, &status, WNOHANG);
        if (r == c->w.pid || (r < 0 && errno == ECHILD)) {
            /* ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, a
             * waitpid(-1) elsewhere); it is gone either way. */
            if (r == c->w.pid)
                log_exit(c, status);
            else
                bf_log(BF_LOG_WARN, "actuator", "worker_reaped_elsewhere",
                       BF_LINT("pid", c->w.pid), BF_LINT("worker_id", c->w.id));
            if (c->w.state == BF_LOCAL_RUNNING)
                l->unexpected_exits++;
            forget_child(l, i);
            continue;
        }
        if (c->w.state == BF_LOCAL_STOPPING && !c->w.killed &&
            now >= c->w.stop_deadline) {
            bf_log(BF_LOG_WARN, "actuator", "worker_stop_timeout",
                   BF_LINT("pid", c->w.pid), BF_LINT("worker_id", c->w.id),
                   BF_LDBL("timeout_s", l->stop_timeout_s));
            kill(c->w.pid, SIGKILL);
            c->w.killed = 1;
        }
        i++;
    }
}

bf_err_t bf_actuator_local_scale(bf_actuator_local_t *l, int64_t target, char *errstr,
                                 size_t errstr_size)
{
    bf_actuator_local_reap(l);
    int64_t running = (int64_t)bf_actuator_local_running(l);
    for (; running > target; running--)
        if (bf_actuator_local_stop_newest(l) != BF_OK)
            break;
    bf_err_t first = BF_OK;
    for (; running < target; running++) {
        bf_err_t err = bf_actuator_local_start(l, errstr, errstr_size);
        if (err) {
            /* The same cause would fail the rest too: report once and let
             * the next tick try again. */
            first = err;
            break;
        }
    }
    return first;
}

void bf_actuator_local_stop_all(bf_actuator_local_t *l)
{
    double deadline = bf_monotonic_s() + l->stop_timeout_s;
    while (bf_actuator_local_stop_newest(l) == BF_OK) {
    }
    for (size_t i = 0; i < l->n_children; i++)
        if (l->children[i].w.stop_deadline > deadline)
            l->children[i].w.stop_deadline = deadline;
    /* Poll every 10 ms rather than wait for SIGCHLD, which would depend on
     * the caller's signal setup; on a shutdown path the cost is nothing.
     * reap() sends SIGKILL at the deadline, after which exit is imminent. */
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    for (;;) {
        bf_actuator_local_reap(l);
        if (l->n_children == 0)
            break;
        nanosleep(&tick, NULL);
    }
}

size_t bf_actuator_local_running(const bf_actuator_local_t *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n_children; i++)
        n += l->children[i].w.state == BF_LOCAL_RUNNING;
    return n;
}

size_t bf_actuator_local_stopping(const bf_actuator_local_t *l)
{
    return l->n_children - bf_actuator_local_running(l);
}

uint64_t bf_actuator_local_unexpected_exits(const bf_actuator_local_t *l)
{
    return l->unexpected_exits;
}

size_t bf_actuator_local_workers(const bf_actuator_local_t *l, bf_local_worker_t *out,
                                 size_t cap)
{
    for (size_t i = 0; i < l->n_children && i < cap; i++)
        out[i] = l->children[i].w;
    return l->n_children;
}
