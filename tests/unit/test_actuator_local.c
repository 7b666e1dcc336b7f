/*
 * test_actuator_local.c - the local actuator with real child processes
 * (/bin/sleep as the worker): start, graceful stop, stop-all, SIGKILL
 * escalation, a bad command, and a worker killed behind its back.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "autoscaler/actuator_local.h"
#include "tests/support/stack.h"

static const char *const sleeper[] = {"/bin/sleep", "1000", NULL};

/* Stop timeout of the tests of a graceful stop: far beyond any wait in
 * them, so only SIGTERM can end a worker there, never the SIGKILL that
 * follows the timeout. */
#define NO_SIGKILL 3600.0

static bf_actuator_local_t *new_actuator(const char *const argv[], double stop_timeout)
{
    char errstr[256] = "";
    bf_actuator_local_t *l =
        bf_actuator_local_new(argv, stop_timeout, errstr, sizeof(errstr));
    if (!l)
        fail_msg("bf_actuator_local_new: %s", errstr);
    return l;
}

static void start_workers(bf_actuator_local_t *l, int n)
{
    for (int i = 0; i < n; i++) {
        char errstr[256] = "";
        if (bf_actuator_local_start(l, errstr, sizeof(errstr)) != BF_OK)
            fail_msg("start: %s", errstr);
    }
}

static bool process_gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Reap until no child is stopping and @p running are left, or time out. */
static bool reap_until(bf_actuator_local_t *l, size_t running, size_t stopping)
{
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    do {
        bf_actuator_local_reap(l);
        if (bf_actuator_local_running(l) == running &&
            bf_actuator_local_stopping(l) == stopping)
            return true;
        nanosleep(&pause, NULL);
    } while (bf_test_now() < deadline);
    return false;
}

/* Is @p entry ("NAME=value") in the environment of process @p pid? (/proc) */
static bool child_env_has(pid_t pid, const char *entry)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (strcmp(buf + i, entry) == 0)
            return true;
    return false;
}

/* Wait until process @p pid runs @p program (its /proc comm), or time out. */
static bool runs_program(pid_t pid, const char *program)
{
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    do {
        FILE *f = fopen(path, "r");
        if (f) {
            char comm[64] = "";
            bool got = fgets(comm, sizeof(comm), f) != NULL;
            fclose(f);
            comm[strcspn(comm, "\n")] = '\0';
            if (got && strcmp(comm, program) == 0)
                return true;
        }
        nanosleep(&pause, NULL);
    } while (bf_test_now() < deadline);
    return false;
}

static void test_three_workers_start_with_their_own_ids(void **unused)
{
    (void)unused;
    bf_actuator_local_t *l = new_actuator(sleeper, NO_SIGKILL);
    start_workers(l, 3);
    assert_int_equal(bf_actuator_local_running(l), 3);
    bf_local_worker_t w[4];
    assert_int_equal(bf_actuator_local_workers(l, w, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w[i].id, i + 1);
        assert_int_equal(w[i].state, BF_LOCAL_RUNNING);
        assert_int_equal(kill(w[i].pid, 0), 0);
        char entry[64];
        snprintf(entry, sizeof(entry), "BOUNTYFLEET_WORKER_ID=local-%d", i + 1);
        assert_true(child_env_has(w[i].pid, entry));
    }
    bf_actuator_local_stop_all(l);
    bf_actuator_local_destroy(l);
}

static void test_stop_sends_sigterm_to_the_newest_and_reaps_it(void **unused)
{
    (void)unused;
    bf_actuator_local_t *l = new_actuator(sleeper, NO_SIGKILL);
    start_workers(l, 3);
    bf_local_worker_t w[3];
    bf_actuator_local_workers(l, w, 3);

    assert_int_equal(bf_actuator_local_stop_newest(l), BF_OK);
    assert_int_equal(bf_actuator_local_running(l), 2);
    assert_int_equal(bf_actuator_local_stopping(l), 1);
    assert_true(reap_until(l, 2, 0));
    assert_true(process_gone(w[2].pid)); /* reaped, not a zombie */
    assert_int_equal(kill(w[0].pid, 0), 0);
    assert_int_equal(kill(w[1].pid, 0), 0);
    assert_int_equal(bf_actuator_local_unexpected_exits(l), 0);
    bf_actuator_local_stop_all(l);
    bf_actuator_local_destroy(l);
}

static void test_stop_all_leaves_no_children(void **unused)
{
    (void)unused;
    bf_actuator_local_t *l = new_actuator(sleeper, NO_SIGKILL);
    start_workers(l, 3);
    bf_local_worker_t w[3];
    bf_actuator_local_workers(l, w, 3);
    bf_actuator_local_stop_all(l);
    assert_int_equal(bf_actuator_local_workers(l, NULL, 0), 0);
    for (int i = 0; i < 3; i++)
        assert_true(process_gone(w[i].pid));
    /* Not even a zombie is left to this process. */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    bf_actuator_local_destroy(l);
}

static void test_stop_all_kills_a_worker_that_ignores_sigterm(void **unused)
{
    (void)unused;
    /* The shell makes SIGTERM ignored, which sleep inherits across exec. */
    static const char *const stubborn[] = {"/bin/sh", "-c", "trap '' TERM; exec sleep 30",
                                           NULL};
    bf_actuator_local_t *l = new_actuator(stubborn, 0.3);
    start_workers(l, 2);
    bf_local_worker_t w[2];
    bf_actuator_local_workers(l, w, 2);
    /* Wait until both shells have installed the trap and exec'd sleep, or
     * SIGTERM could kill a shell early and the test pass without the
     * escalation. */
    assert_true(runs_program(w[0].pid, "sleep"));
    assert_true(runs_program(w[1].pid, "sleep"));
    double t0 = bf_test_now();
    bf_actuator_local_stop_all(l);
    double took = bf_test_now() - t0;
    assert_true(took >= 0.25);
    assert_true(took < 5 * bf_test_timeout_mult());
    assert_true(process_gone(w[0].pid));
    assert_true(process_gone(w[1].pid));
    bf_actuator_local_destroy(l);
}

static void test_bad_path_is_reported_as_an_error(void **unused)
{
    (void)unused;
    static const char *const missing[] = {"/nonexistent/bountyfleet-worker", NULL};
    char errstr[256] = "";
    assert_null(bf_actuator_local_new(missing, 1, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "/nonexistent/bountyfleet-worker"));

    static const char *const not_in_path[] = {"no-such-bountyfleet-program", NULL};
    assert_null(bf_actuator_local_new(not_in_path, 1, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "not found in PATH"));
}

static void test_failed_exec_is_reported_not_counted(void **unused)
{
    (void)unused;
    /* An executable file that is no program: execve fails with ENOEXEC
     * after fork, which only the close-on-exec pipe can report. */
    char path[] = "/tmp/bf-test-not-a-program-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a program\n", 14), 14);
    close(fd);
    assert_int_equal(chmod(path, 0755), 0);
    const char *const argv[] = {path, NULL};
    bf_actuator_local_t *l = new_actuator(argv, 1);
    char errstr[256] = "";
    assert_int_equal(bf_actuator_local_start(l, errstr, sizeof(errstr)), BF_ERR_IO);
    assert_non_null(strstr(errstr, "cannot execute"));
    assert_non_null(strstr(errstr, strerror(ENOEXEC)));
    assert_int_equal(bf_actuator_local_running(l), 0);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* the child was reaped */
    assert_int_equal(errno, ECHILD);
    bf_actuator_local_destroy(l);
    unlink(path);
}

static void test_worker_killed_externally_is_detected_and_replaced(void **unused)
{
    (void)unused;
    bf_actuator_local_t *l = new_actuator(sleeper, NO_SIGKILL);
    char errstr[256] = "";
    assert_int_equal(bf_actuator_local_scale(l, 2, errstr, sizeof(errstr)), BF_OK);
    bf_local_worker_t w[2];
    bf_actuator_local_workers(l, w, 2);

    assert_int_equal(kill(w[0].pid, SIGKILL), 0);
    assert_true(reap_until(l, 1, 0));
    assert_true(process_gone(w[0].pid));
    assert_int_equal(bf_actuator_local_unexpected_exits(l), 1);

    /* The next tick re-applies the target: a new process takes its id. */
    assert_int_equal(bf_actuator_local_scale(l, 2, errstr, sizeof(errstr)), BF_OK);
    bf_local_worker_t after[2];
    assert_int_equal(bf_actuator_local_workers(l, after, 2), 2);
    assert_int_equal(after[1].id, w[0].id);
    assert_true(after[1].pid != w[0].pid);
    bf_actuator_local_stop_all(l);
    bf_actuator_local_destroy(l);
}

static void test_scale_down_stops_the_newest_first(void **unused)
{
    (void)unused;
    bf_actuator_local_t *l = new_actuator(sleeper, NO_SIGKILL);
    char errstr[256] = "";
    assert_int_equal(bf_actuator_local_scale(l, 3, errstr, sizeof(errstr)), BF_OK);
    bf_local_worker_t w[3];
    bf_actuator_local_workers(l, w, 3);
    assert_int_equal(bf_actuator_local_scale(l, 1, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(bf_actuator_local_running(l), 1);
    assert_true(reap_until(l, 1, 0));
    bf_local_worker_t left;
    assert_int_equal(bf_actuator_local_workers(l, &left, 1), 1);
    assert_int_equal(left.pid, w[0].pid); /* the oldest stays */
    assert_int_equal(bf_actuator_local_unexpected_exits(l), 0);
    bf_actuator_local_stop_all(l);
    bf_actuator_local_destroy(l);
}

static void test_worker_cmd_is_split_on_spaces(void **unused)
{
    (void)unused;
    char **argv = bf_actuator_local_argv_split("  /bin/worker  --flag x ");
    assert_non_null(argv);
    assert_string_equal(argv[0], "/bin/worker");
    assert_string_equal(argv[1], "--flag");
    assert_string_equal(argv[2], "x");
    assert_null(argv[3]);
    bf_actuator_local_argv_free(argv);
    assert_null(bf_actuator_local_argv_split("   "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_workers_start_with_their_own_ids),
        cmocka_unit_test(test_stop_sends_sigterm_to_the_newest_and_reaps_it),
        cmocka_unit_test(test_stop_all_leaves_no_children),
        cmocka_unit_test(test_stop_all_kills_a_worker_that_ignores_sigterm),
        cmocka_unit_test(test_bad_path_is_reported_as_an_error),
        cmocka_unit_test(test_failed_exec_is_reported_not_counted),
        cmocka_unit_test(test_worker_killed_externally_is_detected_and_replaced),
        cmocka_unit_test(test_scale_down_stops_the_newest_first),
        cmocka_unit_test(test_worker_cmd_is_split_on_spaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
