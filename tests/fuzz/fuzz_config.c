/*
 * fuzz_config.c - the command line and the environment through the
 * settings table (libbf/config.h: flags, -X key=value, numbers with
 * ranges, booleans, secrets from NAME and NAME_FILE), and the parsers of
 * the values the programs take as text: addresses (METRICS_ADDR), Redis
 * URLs, log levels, framings, AI provider chains, durations and reset
 * times of rate limits, the near-duplicate threshold.
 *
 * The input is split on NUL bytes into pieces. A piece that starts with
 * 0x01 sets an environment variable of the table (the next byte picks
 * which, the rest is the value; the secret's goes through its _FILE, a
 * memfd); every other piece is an argv element. -F FILE would read any
 * path on the machine (a fifo or a tty blocks), so -F is turned into -X.
 * After parsing, every string setting goes through every value parser.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libbf/codec.h"
#include "libbf/config.h"
#include "libbf/httpd.h"
#include "libbf/log.h"
#include "libbf/redis.h"
#include "worker/ai.h"
#include "worker/ai_provider.h"
#include "worker/neardup.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_config_s {
    char *brokers;
    char *addr;
    int64_t count;
    int64_t wide;
    double seconds;
    double any;
    bool flag;
    char *secret;
    int level; /* bf_log_level_t */
} fuzz_config_t;

#define OPT(f) offsetof(fuzz_config_t, f)

/* One setting of each kind, with the ranges and defaults programs use. */
static const bf_opt_t options[] = {
    {"brokers", 'b', "FUZZ_BROKERS", BF_OPT_STRING, "127.0.0.1:9092", 1, 0, "HOST:PORT",
     "bootstrap", OPT(brokers)},
    {"metrics-addr", 0, "FUZZ_METRICS_ADDR", BF_OPT_STRING, "127.0.0.1:9464", 1, 0,
     "HOST:PORT", "endpoint", OPT(addr)},
    {"max", 'm', "FUZZ_MAX", BF_OPT_INT, "4", 1, 1024, "N", "most", OPT(count)},
    {"lag", 0, "FUZZ_LAG", BF_OPT_INT, "100", 1, 1e15, "N", "lag", OPT(wide)},
    {"interval", 'i', "FUZZ_INTERVAL", BF_OPT_DOUBLE, "5", 0.05, 3600, "SECONDS", "tick",
     OPT(seconds)},
    {"weight", 0, "FUZZ_WEIGHT", BF_OPT_DOUBLE, NULL, 1, 0, "X", "unbounded", OPT(any)},
    {"dry-run", 'n', "FUZZ_DRY_RUN", BF_OPT_BOOL, "false", 1, 0, NULL, "flag", OPT(flag)},
    {"api-key", 0, "FUZZ_API_KEY", BF_OPT_SECRET, NULL, 1, 0, "KEY", "secret",
     OPT(secret)},
    {"log-level", 'l', "FUZZ_LOG_LEVEL", BF_OPT_ENUM, "info", 1, 0, NULL, "level",
     OPT(level), bf_log_level_choices},
};

static const bf_cli_t cli = {.program = "fuzz-config",
                             .summary = "fuzz",
                             .opts = options,
                             .n_opts = sizeof(options) / sizeof(options[0]),
                             .kafka_props = true};

#define N_OPTS     (sizeof(options) / sizeof(options[0]))
#define MAX_PIECES 64

static int secret_fd = -1;

/* --help and --version print to stdout: keep the fuzzer's output readable. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!freopen("/dev/null", "w", stdout))
        abort();
    secret_fd = memfd_create("secret", 0);
    if (secret_fd < 0)
        abort();
    return 0;
}

/* Every value parser on one string setting. */
static void parse_values(const char *v)
{
    char errstr[256], host[256];
    int port;
    bf_httpd_addr_parse(v, host, sizeof(host), &port, errstr, sizeof(errstr));
    bf_redis_url_t url;
    if (bf_redis_url_parse(v, &url, errstr, sizeof(errstr)) == BF_OK)
        bf_redis_url_free(&url);
    bf_framing_t framing;
    bf_framing_parse(v, &framing);
    for (const char *p = v; *p;) { /* AI_PROVIDERS: a comma-separated chain */
        size_t n = strcspn(p, ",");
        bf_ai_provider_t provider;
        bf_ai_provider_parse(p, n, &provider);
        p += n + (p[n] == ',');
    }
    bf_ai_parse_duration(v);
    bf_ai_parse_reset_time(v, 1.7e9);
    double threshold;
    bf_neardup_threshold_parse(v, &threshold, errstr, sizeof(errstr));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[MAX_PIECES + 2];
    int argc = 0;
    argv[argc++] = "fuzz-config";
    bool env_set[N_OPTS] = {false};
    for (char *p = copy; p < copy + size && argc <= MAX_PIECES; p += strlen(p) + 1) {
        if (p[0] == '\x01' && p[1]) {
            const bf_opt_t *o = &options[(unsigned char)p[1] % N_OPTS];
            const char *value = p + 2;
            size_t i = (size_t)(o - options);
            if (o->type == BF_OPT_SECRET) {
                size_t n = strlen(value);
                if (ftruncate(secret_fd, 0) != 0 ||
                    pwrite(secret_fd, value, n, 0) != (ssize_t)n)
                    abort();
                char path[64], name[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", secret_fd);
                snprintf(name, sizeof(name), "%s_FILE", o->env);
                setenv(name, path, 1);
            } else {
                setenv(o->env, value, 1);
            }
            env_set[i] = true;
            continue;
        }
        if (p[0] == '-' && p[1] == 'F')
            p[1] = 'X';
        argv[argc++] = p;
    }
    /* A "-F" that was split from its path arrives as "-X" PATH: harmless. */
    argv[argc] = NULL;

    fuzz_config_t cfg = {0};
    bf_kprops_t props = {0};
    int first = 0;
    char errstr[256];
    if (bf_cli_parse(&cli, &cfg, argc, argv, &props, &first, errstr, sizeof(errstr)) ==
        BF_CLI_RUN) {
        if (first < 1 || first > argc)
            abort();
        if (cfg.count < 1 || cfg.count > 1024 || cfg.seconds < 0.05 || cfg.seconds > 3600)
            abort(); /* a value outside its range was accepted */
        parse_values(cfg.brokers ? cfg.brokers : "");
        parse_values(cfg.addr ? cfg.addr : "");
        if (cfg.level < BF_LOG_FATAL || cfg.level > BF_LOG_DEBUG)
            abort(); /* a name outside the choices was accepted */
        for (int i = first; i < argc; i++)
            parse_values(argv[i]);
        for (size_t i = 0; i < props.count; i++) {
            parse_values(props.items[i].key);
            parse_values(props.items[i].value);
        }
    }
    bf_kprops_free(&props);
    bf_cli_free(&cli, &cfg);
    for (size_t i = 0; i < N_OPTS; i++) {
        if (!env_set[i])
            continue;
        unsetenv(options[i].env);
        char name[64];
        snprintf(name, sizeof(name), "%s_FILE", options[i].env);
        unsetenv(name);
    }
    free(copy);
    return 0;
}
