/*
 * stack.c - start and stop real servers for the integration tests
 * (see stack.h).
 *
 * Ports: the broker and the AI simulator bind port 0 themselves and print
 * their address as their first line, so there is no race. redis-server
 * cannot report an ephemeral port, so we pick one by binding port 0 and
 * closing it; if redis then fails to bind it (another process took it in
 * between), we try again with a new port.
 */
#include "support/stack.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libbf/buf.h"
#include "libbf/mem.h"

extern char **environ;

/* ctest reads a test's output through a pipe, so stdout is fully buffered:
 * a test that aborts (a C assert, libuv's own checks, the out-of-memory
 * policy) would take cmocka's last "[ RUN ]" and "[ OK ]" lines with it
 * (assertion texts go to stderr, which is unbuffered). Line buffering keeps
 * them. The linker takes this object into a test for any symbol it defines
 * (bf_test_now, bf_test_timeout_mult, bf_proc_*, bf_stack_*): every
 * integration test has it (nm: all 20). */
__attribute__((constructor)) static void line_buffered_stdout(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

double bf_test_timeout_mult(void)
{
    const char *s = getenv("BF_TEST_TIMEOUT_MULTIPLIER");
    double m = s ? strtod(s, NULL) : 1.0;
    return m >= 1.0 ? m : 1.0;
}

double bf_test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *bf_test_bin(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", BF_BIN_DIR, name);
    return buf;
}

int bf_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Read one line from @p fd within @p timeout_s; returns 0 on success. */
static int read_line(int fd, char *out, size_t size, double timeout_s)
{
    size_t n = 0;
    double deadline = bf_test_now() + timeout_s;
    while (n + 1 < size) {
        int left_ms = (int)((deadline - bf_test_now()) * 1000);
        if (left_ms <= 0)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, left_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got <= 0)
            return -1;
        if (c == '\n')
            break;
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

int bf_proc_start(bf_proc_t *p, const char *name, const char *log_dir,
                  const char *const argv[], const char *const env_extra[],
                  bool want_first_line, double timeout_s)
{
    memset(p, 0, sizeof(*p));
    p->stdout_fd = -1;
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", log_dir, name);
    int out_pipe[2] = {-1, -1};
    if (want_first_line && pipe2(out_pipe, O_CLOEXEC) != 0)
        return -1;
    int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "cannot open %s: %s\n", p->log_path, strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        /* Own process group, so a test can kill a whole subtree. */
        setpgid(0, 0);
        /* A failed assertion jumps past the test's stop calls, and a crash
         * skips them all: the servers a test started die with it rather
         * than outlive the run on their ports. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        for (const char *const *e = env_extra; e && *e; e++)
            putenv((char *)*e);
        dup2(logfd, 2);
        if (want_first_line) {
            dup2(out_pipe[1], 1);
            close(out_pipe[0]);
            close(out_pipe[1]);
        } else {
            dup2(logfd, 1);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(logfd);
    p->pid = pid;
    if (!want_first_line)
        return 0;
    close(out_pipe[1]);
    int rc = read_line(out_pipe[0], p->first_line, sizeof(p->first_line),
                       timeout_s * bf_test_timeout_mult());
    /* The servers print only their address on stdout. The read end stays
     * open until the process is stopped, so a later write cannot kill the
     * child with SIGPIPE. */
    p->stdout_fd = out_pipe[0];
    if (rc != 0) {
        fprintf(stderr, "%s did not print its address in time\n", name);
        bf_proc_dump_log(p, 20);
        bf_proc_stop(p, SIGKILL, 5);
        return -1;
    }
    return 0;
}

bool bf_proc_exited(bf_proc_t *p, int *status)
{
    if (p->pid <= 0)
        return true;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->pid = 0;
        if (p->stdout_fd >= 0)
            close(p->stdout_fd);
        p->stdout_fd = -1;
        if (status)
            *status = st;
        return true;
    }
    return false;
}

int bf_proc_stop(bf_proc_t *p, int sig, double timeout_s)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    double deadline = bf_test_now() + timeout_s * bf_test_timeout_mult();
    int st = -1;
    while (!bf_proc_exited(p, &st)) {
        if (bf_test_now() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            p->pid = 0;
            if (p->stdout_fd >= 0)
                close(p->stdout_fd);
            p->stdout_fd = -1;
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return st;
}

void bf_proc_dump_log(const bf_proc_t *p, int max_lines)
{
    FILE *f = fopen(p->log_path, "r");
    if (!f)
        return;
    /* Keep a ring of the last max_lines lines. */
    char **ring = bf_calloc((size_t)max_lines, sizeof(char *));
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        free(ring[n % max_lines]);
        ring[n % max_lines] = bf_strdup(line);
        n++;
    }
    fclose(f);
    fprintf(stderr, "---- last lines of %s (%s) ----\n", p->name, p->log_path);
    int start = n > max_lines ? n - max_lines : 0;
    for (int i = start; i < n; i++)
        fputs(ring[i % max_lines], stderr);
    for (int i = 0; i < max_lines; i++)
        free(ring[i]);
    free(ring);
}

bool bf_test_wait_listening(bf_proc_t *p, int port, double timeout_s)
{
    double deadline = bf_test_now() + timeout_s * bf_test_timeout_mult();
    while (bf_test_now() < deadline) {
        if (bf_proc_exited(p, NULL))
            return false;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return true;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Start redis-server on @p port and wait until it accepts connections.
 * @returns 0, or -1 when it exited (the port was taken) or never listened. */
static int launch_redis(bf_stack_t *s, int port)
{
    char portstr[16], dir[300];
    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(dir, sizeof(dir), "%s/redis", s->tmpdir);
    mkdir(dir, 0700);
    bool aof = s->redis_persistence[0] != '\0';
    const char *argv[] = {"/usr/bin/redis-server",
                          "--port",
                          portstr,
                          "--bind",
                          "127.0.0.1",
                          "--save",
                          "",
                          "--appendonly",
                          aof ? "yes" : "no",
                          "--appendfsync",
                          aof ? s->redis_persistence : "everysec",
                          "--dir",
                          dir,
                          NULL};
    if (bf_proc_start(&s->redis, "redis", s->tmpdir, argv, NULL, false, 5) != 0)
        return -1;
    snprintf(s->redis_url, sizeof(s->redis_url), "redis://127.0.0.1:%d/0", port);
    if (bf_test_wait_listening(&s->redis, port, 10))
        return 0;
    bf_proc_stop(&s->redis, SIGKILL, 2);
    return -1;
}

static int start_redis(bf_stack_t *s)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = bf_test_free_port();
        if (port <= 0)
            return -1;
        if (launch_redis(s, port) == 0)
            return 0;
    }
    return -1;
}

int bf_stack_restart_redis(bf_stack_t *s)
{
    const char *colon = strrchr(s->redis_url, ':');
    if (!colon)
        return -1;
    int port = (int)strtol(colon + 1, NULL, 10);
    if (s->redis.pid > 0)
        bf_proc_stop(&s->redis, SIGTERM, 10);
    return launch_redis(s, port);
}

/* The stack with the dev broker (@p brokers NULL) or the caller's. */
static int stack_start(bf_stack_t *s, int partitions, const char *brokers,
                       const char *const aisim_args[])
{
    memset(s, 0, sizeof(*s));
    snprintf(s->tmpdir, sizeof(s->tmpdir), "/tmp/bftest.XXXXXX");
    if (!mkdtemp(s->tmpdir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (brokers) {
        snprintf(s->brokers, sizeof(s->brokers), "%s", brokers);
    } else {
        char bin[512], parts[16];
        snprintf(parts, sizeof(parts), "%d", partitions);
        const char *bargv[] = {bf_test_bin("bountyfleet-devbroker", bin, sizeof(bin)),
                               "--partitions", parts, NULL};
        if (bf_proc_start(&s->broker, "devbroker", s->tmpdir, bargv, NULL, true, 20) != 0)
            goto fail;
        snprintf(s->brokers, sizeof(s->brokers), "%s", s->broker.first_line);
    }

    if (start_redis(s) != 0) {
        fprintf(stderr, "could not start redis-server\n");
        goto fail;
    }

    const char *aargv[32];
    char bin2[512];
    size_t n = 0;
    aargv[n++] = bf_test_bin("bountyfleet-aisim", bin2, sizeof(bin2));
    for (const char *const *a = aisim_args; a && *a && n < 30; a++)
        aargv[n++] = *a;
    aargv[n] = NULL;
    if (bf_proc_start(&s->aisim, "aisim", s->tmpdir, aargv, NULL, true, 20) != 0)
        goto fail;
    snprintf(s->ai_base_url, sizeof(s->ai_base_url), "%s", s->aisim.first_line);
    return 0;
fail:
    bf_stack_stop(s);
    return -1;
}

int bf_stack_start(bf_stack_t *s, int partitions, const char *const aisim_args[])
{
    return stack_start(s, partitions, NULL, aisim_args);
}

int bf_stack_start_with_brokers(bf_stack_t *s, const char *brokers,
                                const char *const aisim_args[])
{
    return stack_start(s, 0, brokers, aisim_args);
}

int bf_stack_start_worker(const bf_stack_t *s, bf_proc_t *p, const char *name,
                          const char *metrics_addr, const char *const env_extra[],
                          const char *const args[])
{
    char env_brokers[600], env_redis[200], env_ai[600], id[128], maddr[80];
    snprintf(env_brokers, sizeof(env_brokers), "KAFKA_BROKERS=%s", s->brokers);
    snprintf(env_redis, sizeof(env_redis), "REDIS_URL=%s", s->redis_url);
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", s->ai_base_url);
    snprintf(id, sizeof(id), "BOUNTYFLEET_WORKER_ID=%s", name);
    snprintf(maddr, sizeof(maddr), "METRICS_ADDR=%s",
             metrics_addr ? metrics_addr : "off");
    const char *env[40] = {
        env_brokers,          env_redis, env_ai, "OPENAI_API_KEY=test-key",
        "OPENAI_MODEL=sim-1", id,        maddr};
    size_t n = 7;
    for (const char *const *e = env_extra; e && *e && n < 39; e++)
        env[n++] = *e;
    env[n] = NULL;
    /* A short session timeout: the mock broker waits it out before it
     * rebalances when a member leaves (see ops/devbroker/main.c). */
    char bin[512];
    const char *argv[40] = {bf_test_bin("bountyfleet-worker", bin, sizeof(bin)), "-X",
                            "session.timeout.ms=6000"};
    n = 3;
    for (const char *const *a = args; a && *a && n < 39; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    return bf_proc_start(p, name, s->tmpdir, argv, env, false, 5);
}

void bf_stack_dump_logs(const bf_stack_t *s)
{
    bf_proc_dump_log(&s->broker, 30);
    bf_proc_dump_log(&s->redis, 30);
    bf_proc_dump_log(&s->aisim, 30);
}

void bf_stack_stop(bf_stack_t *s)
{
    bf_proc_stop(&s->aisim, SIGTERM, 10);
    bf_proc_stop(&s->redis, SIGTERM, 10);
    bf_proc_stop(&s->broker, SIGTERM, 10);
    if (s->tmpdir[0] && !getenv("BF_TEST_KEEP_TMP")) {
        char cmd[320];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", s->tmpdir);
        s->tmpdir[0] = '\0';
    }
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    bf_buf_t *b = userdata;
    if (bf_buf_append(b, ptr, size * nmemb) != BF_OK)
        return 0;
    return size * nmemb;
}

double bf_test_metric_value(const char *text, const char *series)
{
    const char *p = text;
    size_t len = strlen(series);
    while (p && (p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[len] == ' ')
            return strtod(p + len + 1, NULL);
        p += len;
    }
    return -1;
}

char *bf_test_http_get(const char *url, long *status)
{
    return bf_test_http_call("GET", url, NULL, NULL, status, NULL);
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    bool *challenge = userdata;
    size_t n = size * nmemb;
    if (n >= 24 && strncasecmp(ptr, "WWW-Authenticate: Bearer", 24) == 0)
        *challenge = true;
    return n;
}

char *bf_test_http_call(const char *method, const char *url, const char *authorization,
                        const char *body, long *status, bool *bearer_challenge)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    bf_buf_t b;
    bf_buf_init(&b, 64 * 1024 * 1024);
    struct curl_slist *headers = NULL;
    if (authorization) {
        char *h = bf_asprintf("Authorization: %s", authorization);
        headers = curl_slist_append(headers, h);
        free(h);
    }
    if (body)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    bool challenge = false;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &challenge);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    if (status)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (bearer_challenge)
        *bearer_challenge = challenge;
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        bf_buf_free(&b);
        return NULL;
    }
    char *text = bf_buf_steal(&b, NULL);
    return text ? text : bf_strdup("");
}
