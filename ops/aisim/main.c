/*
 * bountyfleet-aisim - a stand-in for the AI providers on one machine.
 *
 * The demo and the tests run the worker against this server instead of a
 * paid provider: it speaks OpenAI Chat Completions, Anthropic Messages and
 * Gemini generateContent on loopback, enforces requests/min and tokens/min
 * with real 429s and headers (--rpm, --tpm), injects errors, timeouts and
 * malformed bodies at given rates, answers
 * each analysis with a verdict derived from the report text (verdict.h),
 * and can be made slow (--latency-ms, --latency-p99-ms) or unreliable
 * (--error-rate, --error-status) to exercise the worker's concurrency,
 * timeouts and back-off; POST /faults changes those rates while it runs,
 * for outages that start and end (bursts). It prints its base URL as the first stdout
 * line, so a parent process knows where to point OPENAI_BASE_URL, and runs until SIGTERM
 * or SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libbf/config.h"
#include "libbf/log.h"
#include "server.h"

#define PROGRAM "bountyfleet-aisim"

/* Requests in progress get this long to finish after SIGTERM. */
#define STOP_GRACE_S 5.0
/* Backlog of the listening socket; the kernel caps it at somaxconn. */
#define LISTEN_BACKLOG 4096

typedef struct aisim_config_s {
    char *listen;
    double latency_ms;
    double latency_p99_ms;
    double error_rate;
    int64_t error_status;
    char *model;
    int64_t seed;
    char *api_key;
    int64_t max_body;
    int64_t max_held;
    int64_t max_reports;
    int64_t threads;
    int64_t connection_limit;
    int64_t idle_timeout_s;
    double rpm, tpm, burst_s;
    double timeout_rate, malformed_rate, bad_answer_rate;
    char *fault_providers;
    int64_t capture;
    int64_t cache_min_tokens;
    char *answers;
    int limit_headers; /* index in on_off */
    int log_level;     /* bf_log_level_t */
} aisim_config_t;

#define O(field) offsetof(aisim_config_t, field)

static const char *const on_off[] = {"on", "off", NULL};

static const bf_opt_t options[] = {
    {"listen", 'L', "AISIM_LISTEN", BF_OPT_STRING, "127.0.0.1:0", 1, 0, "HOST:PORT",
     "address to listen on; port 0 picks a free one", O(listen)},
    {"latency-ms", 0, "AISIM_LATENCY_MS", BF_OPT_DOUBLE, "0", 0, 600000, "MS",
     "median latency of a completion", O(latency_ms)},
    {"latency-p99-ms", 0, "AISIM_LATENCY_P99_MS", BF_OPT_DOUBLE, NULL, 0, 3600000, "MS",
     "p99 latency; makes latency log-normal (default: fixed at --latency-ms)",
     O(latency_p99_ms)},
    {"error-rate", 0, "AISIM_ERROR_RATE", BF_OPT_DOUBLE, "0", 0, 1, "R",
     "fraction of valid completions answered with --error-status", O(error_rate)},
    {"error-status", 0, "AISIM_ERROR_STATUS", BF_OPT_INT, "500", 429, 529, "N",
     "status of injected errors: 429 (with retry-after), 500, 502, 503, 504 or 529",
     O(error_status)},
    {"timeout-rate", 0, "AISIM_TIMEOUT_RATE", BF_OPT_DOUBLE, "0", 0, 1, "R",
     "fraction of valid requests held without an answer until the client gives up",
     O(timeout_rate)},
    {"malformed-rate", 0, "AISIM_MALFORMED_RATE", BF_OPT_DOUBLE, "0", 0, 1, "R",
     "fraction of valid requests answered 200 with a truncated body", O(malformed_rate)},
    {"bad-answer-rate", 0, "AISIM_BAD_ANSWER_RATE", BF_OPT_DOUBLE, "0", 0, 1, "R",
     "fraction of valid requests answered 200 (and billed) with an answer off the schema",
     O(bad_answer_rate)},
    {"fault-providers", 0, "AISIM_FAULT_PROVIDERS", BF_OPT_STRING,
     "openai,anthropic,gemini", 1, 0, "NAME,...",
     "providers the injected errors, timeouts and malformed bodies apply to",
     O(fault_providers)},
    {"rpm", 0, "AISIM_RPM", BF_OPT_DOUBLE, "0", 0, 1e9, "N",
     "requests per minute per provider, enforced with 429s; 0 unlimited", O(rpm)},
    {"tpm", 0, "AISIM_TPM", BF_OPT_DOUBLE, "0", 0, 1e12, "N",
     "tokens (input + output) per minute per provider; 0 unlimited", O(tpm)},
    {"burst", 0, "AISIM_BURST", BF_OPT_DOUBLE, "2", 0.01, 60, "SECONDS",
     "rate-limit bucket capacity, in seconds of the rate", O(burst_s)},
    {"rate-limit-headers", 0, "AISIM_RATE_LIMIT_HEADERS", BF_OPT_ENUM, "on", 1, 0, NULL,
     "on: the providers' documented x-ratelimit-* / anthropic-ratelimit-* headers on "
     "every answer; off: only retry-after on a 429",
     O(limit_headers), on_off},
    {"capture", 0, "AISIM_CAPTURE", BF_OPT_INT, "64", 0, 100000, "N",
     "requests kept for GET /debug/requests (headers with keys redacted, bodies)",
     O(capture)},
    {"cache-min-tokens", 0, "AISIM_CACHE_MIN_TOKENS", BF_OPT_INT, "-1", -1, 1000000, "N",
     "shortest prompt prefix (tokens) the simulated prompt caches keep, for every "
     "provider and model (0: any); -1: each model's documented minimum (OpenAI 1,024; "
     "Anthropic 1,024, 2,048 for Haiku 3/3.5 and Sonnet 4.6, 4,096 for Haiku 4.5 and "
     "Opus 4.5/4.6; Gemini 2,048 for 2.5, 4,096 for 3 and newer, none before 2.5)",
     O(cache_min_tokens)},
    {"answers", 0, "AISIM_ANSWERS", BF_OPT_STRING, "derived", 1, 0, "derived|fixed",
     "derived: a verdict from the report's text (quality, plausibility and severity "
     "rules); fixed: the same schema-valid verdict for every report, and OpenAI "
     "requests only skimmed for their model and analysis, not validated, so the "
     "simulator costs next to nothing and the same for every client (benchmarks of "
     "clients)",
     O(answers)},
    {"model", 'm', "AISIM_MODEL", BF_OPT_STRING, "sim-1", 1, 0, "NAME",
     "model listed by /v1/models (completions echo the requested model)", O(model)},
    {"seed", 's', "AISIM_SEED", BF_OPT_INT, "1", 0, 9007199254740991.0, "N",
     "seed of the latency and error draws (request n always draws the same)", O(seed)},
    {"api-key", 0, "AISIM_API_KEY", BF_OPT_SECRET, NULL, 1, 0, NULL,
     "bearer token completions must carry (default: any non-empty token)", O(api_key)},
    {"max-body", 0, "AISIM_MAX_BODY", BF_OPT_INT, "1048576", 1024, 67108864, "BYTES",
     "largest request body; larger ones get 413", O(max_body)},
    {"max-held", 0, "AISIM_MAX_HELD", BF_OPT_INT, "100000", 1, 10000000, "N",
     "most requests held for latency at once; beyond, answers are not delayed",
     O(max_held)},
    {"max-reports", 0, "AISIM_MAX_REPORTS", BF_OPT_INT, "1000000", 0, 100000000, "N",
     "distinct report ids counted in /stats by_report", O(max_reports)},
    {"threads", 0, "AISIM_THREADS", BF_OPT_INT, "1", 1, 64, "N", "HTTP server threads",
     O(threads)},
    {"connection-limit", 0, "AISIM_CONNECTION_LIMIT", BF_OPT_INT, "20000", 1, 1000000,
     "N", "most concurrent connections", O(connection_limit)},
    {"idle-timeout", 0, "AISIM_IDLE_TIMEOUT", BF_OPT_INT, "120", 0, 86400, "SECONDS",
     "close connections idle this long; 0 never", O(idle_timeout_s)},
    BF_LOG_LEVEL_OPTION("info", "log threshold", O(log_level)),
};

static const bf_cli_t cli = {
    .program = PROGRAM,
    .summary =
        "AI provider simulator (OpenAI, Anthropic, Gemini) for one machine. Prints "
        "its OpenAI base URL (http://HOST:PORT/v1) as the first stdout line; the "
        "Anthropic and Gemini base URL is the same without /v1. Runs until "
        "SIGTERM/SIGINT. Endpoints: POST /v1/chat/completions, POST /v1/messages, "
        "POST /v1beta/models/MODEL:generateContent, GET /v1/models, GET /stats, "
        "POST /stats/reset, GET /debug/requests, GET /healthz. GET /faults shows the "
        "injected-fault rates and POST /faults changes them while running, e.g. "
        "{\"error_rate\":1,\"error_status\":503} for an outage and "
        "{\"error_rate\":0} to end it (fields: error_rate, error_status, "
        "timeout_rate, malformed_rate, bad_answer_rate; needs the API key when "
        "one is set).",
    .usage = "[OPTIONS]",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
    .kafka_props = false,
};

/* Split "host:port" or "[v6]:port" into its parts (written into @p host). */
static int split_host_port(const char *spec, char *host, size_t host_size,
                           const char **port)
{
    const char *colon;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':')
            return -1;
        snprintf(host, host_size, "%.*s", (int)(close - spec - 1), spec + 1);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || colon == spec)
            return -1;
        snprintf(host, host_size, "%.*s", (int)(colon - spec), spec);
    }
    *port = colon + 1;
    return **port ? 0 : -1;
}

/*
 * Bind and listen ourselves, then hand the socket to libmicrohttpd: that
 * way port 0 works (we read the chosen port back with getsockname) and
 * IPv4 and IPv6 need no separate code paths.
 */
static int open_listener(const char *spec, char *url, size_t url_size, char *errstr,
                         size_t errstr_size)
{
    char host[256];
    const char *port;
    if (split_host_port(spec, host, sizeof(host), &port)) {
        snprintf(errstr, errstr_size, "--listen %s: expected HOST:PORT or [IPV6]:PORT",
                 spec);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        snprintf(errstr, errstr_size, "--listen %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, LISTEN_BACKLOG) ||
        getsockname(fd, (struct sockaddr *)&bound, &bound_len)) {
        snprintf(errstr, errstr_size, "--listen %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    bool v6 = bound.ss_family == AF_INET6;
    unsigned bound_port = v6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                             : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    /* A wildcard address is not somewhere a client can connect to. */
    const char *shown = host;
    if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
        shown = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        shown = "::1";
    snprintf(url, url_size, v6 ? "http://[%s]:%u/v1" : "http://%s:%u/v1", shown,
             bound_port);
    freeaddrinfo(ai);
    return fd;
}

/* Each held request keeps a socket open: allow as many as the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* "openai,gemini" -> a bit per provider (providers.h order). */
static int fault_mask(const char *list, unsigned *mask)
{
    static const char *const names[] = {"openai", "anthropic", "gemini"};
    unsigned m = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (unsigned i = 0; i < 3; i++)
            if (strlen(names[i]) == n && strncmp(p, names[i], n) == 0) {
                m |= 1u << i;
                found = true;
            }
        if (!found)
            return -1;
        p += n;
        if (*p == ',')
            p++;
    }
    if (mask)
        *mask = m;
    return 0;
}

static int check_config(const aisim_config_t *cfg, char *errstr, size_t errstr_size)
{
    if (cfg->latency_p99_ms > 0 && cfg->latency_p99_ms < cfg->latency_ms) {
        snprintf(errstr, errstr_size, "--latency-p99-ms %g is below --latency-ms %g",
                 cfg->latency_p99_ms, cfg->latency_ms);
        return -1;
    }
    if (cfg->latency_p99_ms > 0 && cfg->latency_ms <= 0) {
        snprintf(errstr, errstr_size, "--latency-p99-ms needs a --latency-ms median");
        return -1;
    }
    if (!bf_aisim_error_status_valid((unsigned)cfg->error_status)) {
        snprintf(errstr, errstr_size,
                 "--error-status %lld: expected 429, 500, 502, 503, 504 or 529",
                 (long long)cfg->error_status);
        return -1;
    }
    if (cfg->error_rate + cfg->timeout_rate + cfg->malformed_rate > 1) {
        snprintf(errstr, errstr_size,
                 "--error-rate + --timeout-rate + --malformed-rate must not exceed 1");
        return -1;
    }
    if (fault_mask(cfg->fault_providers, NULL) != 0) {
        snprintf(errstr, errstr_size,
                 "--fault-providers %s: expected names from openai, anthropic, gemini",
                 cfg->fault_providers);
        return -1;
    }
    if (strcmp(cfg->answers, "derived") != 0 && strcmp(cfg->answers, "fixed") != 0) {
        snprintf(errstr, errstr_size, "--answers %s: expected derived or fixed",
                 cfg->answers);
        return -1;
    }
    bf_log_level_set((bf_log_level_t)cfg->log_level);
    return 0;
}

int main(int argc, char **argv)
{
    aisim_config_t cfg = {0};
    char errstr[512];
    char url[320];
    int first_arg = argc;
    int rc = 2;
    bf_aisim_server_t *srv = NULL;

    bf_cli_result_t r =
        bf_cli_parse(&cli, &cfg, argc, argv, NULL, &first_arg, errstr, sizeof(errstr));
    if (r == BF_CLI_EXIT) {
        rc = 0;
        goto out;
    }
    if (r == BF_CLI_RUN && first_arg < argc) {
        snprintf(errstr, sizeof(errstr), "unexpected argument '%s' (see --help)",
                 argv[first_arg]);
        r = BF_CLI_ERROR;
    }
    if (r == BF_CLI_ERROR || check_config(&cfg, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }

    /* Block the stop signals before any thread exists, so all threads
     * inherit the mask and only sigwait() below ever takes them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    int fd = open_listener(cfg.listen, url, sizeof(url), errstr, sizeof(errstr));
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }
    bf_aisim_server_config_t scfg = {
        .latency_ms = cfg.latency_ms,
        .latency_p99_ms = cfg.latency_p99_ms,
        .error_rate = cfg.error_rate,
        .error_status = (unsigned)cfg.error_status,
        .model = cfg.model,
        .seed = (uint64_t)cfg.seed,
        .api_key = cfg.api_key,
        .max_body = (size_t)cfg.max_body,
        .max_held = (size_t)cfg.max_held,
        .max_reports = (size_t)cfg.max_reports,
        .threads = (unsigned)cfg.threads,
        .connection_limit = (unsigned)cfg.connection_limit,
        .idle_timeout_s = (unsigned)cfg.idle_timeout_s,
        .rpm = cfg.rpm,
        .tpm = cfg.tpm,
        .burst_s = cfg.burst_s,
        .timeout_rate = cfg.timeout_rate,
        .malformed_rate = cfg.malformed_rate,
        .bad_answer_rate = cfg.bad_answer_rate,
        .capture = (size_t)cfg.capture,
        .cache_min_tokens = (long)cfg.cache_min_tokens,
        .fixed_answers = strcmp(cfg.answers, "fixed") == 0,
        .no_limit_headers = cfg.limit_headers == 1,
    };
    fault_mask(cfg.fault_providers, &scfg.fault_providers);
    srv = bf_aisim_server_start(&scfg, fd, errstr, sizeof(errstr));
    if (!srv) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }
    if (printf("%s\n", url) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write the base URL to stdout\n", PROGRAM);
        goto out;
    }
    bf_log(BF_LOG_INFO, "aisim", "ready", BF_LSTR("base_url", url),
           BF_LDBL("latency_ms", cfg.latency_ms),
           BF_LDBL("latency_p99_ms", cfg.latency_p99_ms),
           BF_LDBL("error_rate", cfg.error_rate), BF_LSTR("model", cfg.model),
           BF_LBOOL("api_key_required", cfg.api_key != NULL));

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    bf_log(BF_LOG_INFO, "aisim", "stopping", BF_LSTR("signal", strsignal(sig)));
    rc = 0;

out:
    bf_aisim_server_stop(srv, STOP_GRACE_S);
    if (rc == 0 && srv)
        bf_log(BF_LOG_INFO, "aisim", "stopped");
    bf_cli_free(&cli, &cfg);
    return rc;
}
