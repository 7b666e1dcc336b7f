/*
 * stack.h - test support: start and stop real servers on loopback.
 *
 * Integration tests start what they need themselves: the dev broker
 * (librdkafka mock cluster), a throwaway redis-server and the AI simulator,
 * each on an ephemeral port, and stop them at the end. Children write their
 * stderr to files in a per-test temp dir, printed when a test fails.
 */
#ifndef BF_TEST_STACK_H
#define BF_TEST_STACK_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct bf_proc_s {
    pid_t pid;            /* 0 when not running */
    char name[64];        /* for messages */
    char log_path[512];   /* where its stderr goes */
    char first_line[512]; /* first stdout line, when asked for */
    int stdout_fd;        /* read end of its stdout pipe, or -1 */
} bf_proc_t;

/** @brief BF_TEST_TIMEOUT_MULTIPLIER from the environment (default 1). */
double bf_test_timeout_mult(void);

/** @brief Seconds since an arbitrary start (CLOCK_MONOTONIC). */
double bf_test_now(void);

/**
 * @brief Start argv[0] (a path) with argv, environment = ours plus
 *        @p env_extra ("K=V" strings, NULL-terminated, may be NULL).
 * @param log_dir directory for <name>.log (stderr; stdout too unless
 *        @p want_first_line)
 * @param want_first_line wait (up to timeout_s) for the first stdout line
 *        and store it in p->first_line; the rest of stdout is discarded.
 * @returns 0, or -1 with a message on stderr.
 */
int bf_proc_start(bf_proc_t *p, const char *name, const char *log_dir,
                  const char *const argv[], const char *const env_extra[],
                  bool want_first_line, double timeout_s);

/**
 * @brief Send @p sig and wait up to timeout_s for exit, then SIGKILL.
 * @returns the wait status (as from waitpid), or -1 if not running.
 */
int bf_proc_stop(bf_proc_t *p, int sig, double timeout_s);

/** @brief Has it exited? Reaps it if so and stores the status. */
bool bf_proc_exited(bf_proc_t *p, int *status);

/** @brief Print the last lines of a process's log to stderr. */
void bf_proc_dump_log(const bf_proc_t *p, int max_lines);

/** The local stack: broker, Redis and the AI simulator. */
typedef struct bf_stack_s {
    char tmpdir[256];
    bf_proc_t broker, redis, aisim;
    char brokers[512];
    char redis_url[128];
    char ai_base_url[512];
    /* Redis persistence from the next restart on (bf_stack_restart_redis):
     * "" none (the default: it keeps nothing), or an appendfsync policy,
     * "everysec" or "always", for an append-only file in tmpdir/redis that
     * a restart reloads. */
    char redis_persistence[16];
} bf_stack_t;

/**
 * @brief Start the stack with @p partitions partitions per topic.
 * @param aisim_args extra flags for bountyfleet-aisim (NULL-terminated, may
 *        be NULL), e.g. {"--latency-ms", "5", NULL}
 * @returns 0, or -1 (everything already started is stopped again).
 */
int bf_stack_start(bf_stack_t *s, int partitions, const char *const aisim_args[]);

/**
 * @brief Start Redis and the AI simulator, and use @p brokers (e.g. an
 *        in-process mock cluster, mock_cluster.h) instead of a dev broker.
 * @returns 0, or -1 (everything already started is stopped again).
 */
int bf_stack_start_with_brokers(bf_stack_t *s, const char *brokers,
                                const char *const aisim_args[]);

/**
 * @brief Start redis-server again on the port it had, so s->redis_url stays
 *        valid (stopping it first with SIGTERM if it still runs). It starts
 *        empty: the stack's Redis keeps nothing on disk.
 * @returns 0 once it accepts connections, or -1.
 */
int bf_stack_restart_redis(bf_stack_t *s);

/**
 * @brief Start bountyfleet-worker against the stack, with worker id and
 *        log name @p name, the simulator as its OpenAI provider (a test
 *        key, model sim-1) and -X session.timeout.ms=6000 (the mock
 *        broker's rebalance wait).
 * @param metrics_addr METRICS_ADDR, or NULL for off
 * @param env_extra more "K=V" settings (NULL-terminated, may be NULL)
 * @param args more flags (NULL-terminated, may be NULL)
 * @returns 0, or -1.
 */
int bf_stack_start_worker(const bf_stack_t *s, bf_proc_t *p, const char *name,
                          const char *metrics_addr, const char *const env_extra[],
                          const char *const args[]);

/** @brief Stop everything and remove the temp dir. Safe to call twice. */
void bf_stack_stop(bf_stack_t *s);

/** @brief Dump the logs of the stack's servers (after a failure). */
void bf_stack_dump_logs(const bf_stack_t *s);

/** @brief A free TCP port on 127.0.0.1 (bind to 0 and read it back). */
int bf_test_free_port(void);

/**
 * @brief Wait until @p p accepts connections on 127.0.0.1:@p port.
 * @returns false when it exited first (the port was taken) or did not
 *          listen within @p timeout_s (times BF_TEST_TIMEOUT_MULTIPLIER).
 */
bool bf_test_wait_listening(bf_proc_t *p, int port, double timeout_s);

/** @brief Path of a binary in the build's bin dir (static buffer per call site ok). */
const char *bf_test_bin(const char *name, char *buf, size_t size);

/**
 * @brief The value of one series in Prometheus text, e.g.
 *        "bountyfleet_redis_up" or "bountyfleet_consumer_lag{partition=\"0\"}"
 *        (labels exactly as exported), or -1 when absent.
 */
double bf_test_metric_value(const char *text, const char *series);

/** @brief HTTP GET a URL into a malloc'd string (NULL on failure). */
char *bf_test_http_get(const char *url, long *status);

/**
 * @brief One HTTP request: @p method to @p url with an Authorization
 *        header (may be NULL) and a JSON @p body (may be NULL).
 * @param bearer_challenge set when the answer carries "WWW-Authenticate:
 *        Bearer" (may be NULL)
 * @returns the body, malloc'd ("" when empty), or NULL on a transport error.
 */
char *bf_test_http_call(const char *method, const char *url, const char *authorization,
                        const char *body, long *status, bool *bearer_challenge);

#endif
