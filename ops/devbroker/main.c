/*
 * bountyfleet-devbroker - a Kafka-protocol broker for one machine.
 *
 * The demo and the integration tests need a real Kafka endpoint, but a JVM
 * broker is heavy to start for each test. librdkafka ships a mock cluster
 * (rdkafka_mock.h) that speaks enough of the protocol for producers,
 * idempotent producers and balanced consumer groups with offset commits,
 * listening on ephemeral 127.0.0.1 ports. This program wraps it as a
 * server: it creates the cluster, creates our topics with the partition
 * counts asked for, prints the bootstrap list as the first line on stdout
 * (so a parent process can read where to connect) and runs until SIGTERM or
 * SIGINT.
 *
 * Why we create the topics up front: the mock cluster auto-creates unknown
 * topics when a client asks for their metadata, with its own default of 4
 * partitions. Our topics must have the requested partition counts before
 * any client can touch them, otherwise a consumer group test would silently
 * run with a different parallelism. Topics nobody listed still auto-create
 * with the mock's default.
 *
 * Limits of the mock worth knowing (librdkafka 2.0.2):
 *  - Data lives in memory only, and each partition keeps at most 100,000
 *    message sets and 5 MiB; older sets are dropped, like retention on a
 *    real broker (measured: 40,000 messages of 1 KiB into 6 partitions
 *    left about 27,500). A test whose consumers fall further behind loses
 *    data and sees OFFSET_OUT_OF_RANGE; give it more partitions (each has
 *    its own 5 MiB) or compress (the limit counts stored bytes).
 *  - When a member leaves a group, the group waits the members' session
 *    timeout minus one second before it rebalances. Clients of this
 *    broker should use a short session.timeout.ms (e.g. 6000) or every
 *    restart of a consumer stalls its group for the default 45 s.
 *  - The Admin API (CreateTopics) is not supported; topics unknown to us
 *    auto-create with 4 partitions when a client asks for them.
 *  - Its connections take the owning handle's socket.* settings, Nagle
 *    included (on by default in 2.0.2; set off below).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "libbf/config.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"

#define PROGRAM "bountyfleet-devbroker"

/* Bounds on the flags: the mock allocates every partition up front and
 * runs all brokers on one thread, so there is no point in more. */
#define MAX_BROKERS    32
#define MAX_PARTITIONS 1000
#define MAX_TOPICS     256
/* Kafka's own limit on a topic name (Topic.MAX_NAME_LENGTH). */
#define MAX_TOPIC_NAME 249

typedef struct devbroker_config_s {
    int64_t brokers;
    int64_t partitions;
    char *topics;
    char *topic;   /* last --topic; all of them are collected by collect_topic_flags */
    int log_level; /* bf_log_level_t */
} devbroker_config_t;

static const bf_opt_t options[] = {
    {"brokers", 'b', "DEVBROKER_BROKERS", BF_OPT_INT, "1", 1, MAX_BROKERS, "N",
     "number of mock brokers (ids 1..N)", offsetof(devbroker_config_t, brokers)},
    {"partitions", 'p', "DEVBROKER_PARTITIONS", BF_OPT_INT, "6", 1, MAX_PARTITIONS, "N",
     "partitions of each topic in --topics", offsetof(devbroker_config_t, partitions)},
    {"topics", 't', "DEVBROKER_TOPICS", BF_OPT_STRING,
     BF_TOPIC_REPORTS "," BF_TOPIC_VALIDATIONS "," BF_TOPIC_DLQ "," BF_TOPIC_HEARTBEATS
                      "," BF_TOPIC_SCALING,
     1, 0, "T1,T2,...", "topics to create with --partitions partitions (comma list)",
     offsetof(devbroker_config_t, topics)},
    {"topic", 0, NULL, BF_OPT_STRING, NULL, 1, 0, "NAME:PARTITIONS",
     "create one more topic, or override a listed one's partitions (repeatable)",
     offsetof(devbroker_config_t, topic)},
    BF_LOG_LEVEL_OPTION("info", "log threshold", offsetof(devbroker_config_t, log_level)),
};

static const bf_cli_t cli = {
    .program = PROGRAM,
    .summary =
        "Kafka-protocol broker for one machine (librdkafka mock cluster). Prints "
        "its bootstrap list as the first stdout line and runs until SIGTERM/SIGINT. "
        "-X sets properties of the librdkafka handle that owns the cluster "
        "(e.g. -X debug=mock); its connections are TCP_NODELAY, as Kafka's, "
        "unless -X socket.nagle.disable=false.",
    .usage = "[OPTIONS]",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
    .kafka_props = true,
};

typedef struct topic_spec_s {
    char name[MAX_TOPIC_NAME + 1];
    int partitions;
} topic_spec_t;

typedef struct topic_list_s {
    topic_spec_t items[MAX_TOPICS];
    size_t count;
} topic_list_t;

/* Add a topic or, when it is already listed, replace its partition count:
 * a later --topic overrides --topics, as later flags win everywhere else. */
static int topic_list_put(topic_list_t *l, const char *name, size_t name_len,
                          int partitions, char *errstr, size_t errstr_size)
{
    if (name_len == 0 || name_len > MAX_TOPIC_NAME) {
        snprintf(errstr, errstr_size, "topic name '%.*s' must be 1..%d characters",
                 (int)name_len, name, MAX_TOPIC_NAME);
        return -1;
    }
    for (size_t i = 0; i < name_len; i++) {
        char c = name[i];
        /* Kafka's legal topic characters: [a-zA-Z0-9._-] */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            snprintf(
                errstr, errstr_size,
                "topic name '%.*s': only letters, digits, '.', '_' and '-' are legal",
                (int)name_len, name);
            return -1;
        }
    }
    for (size_t i = 0; i < l->count; i++) {
        if (strlen(l->items[i].name) == name_len &&
            memcmp(l->items[i].name, name, name_len) == 0) {
            l->items[i].partitions = partitions;
            return 0;
        }
    }
    if (l->count == MAX_TOPICS) {
        snprintf(errstr, errstr_size, "more than %d topics", MAX_TOPICS);
        return -1;
    }
    memcpy(l->items[l->count].name, name, name_len);
    l->items[l->count].name[name_len] = '\0';
    l->items[l->count].partitions = partitions;
    l->count++;
    return 0;
}

/* "a,b,c" with the same partition count each; empty items are skipped so
 * that --topics '' creates nothing. */
static int topic_list_add_csv(topic_list_t *l, const char *csv, int partitions,
                              char *errstr, size_t errstr_size)
{
    const char *p = csv;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len && topic_list_put(l, p, len, partitions, errstr, errstr_size))
            return -1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* "NAME:PARTITIONS" from one --topic flag. */
static int topic_list_add_spec(topic_list_t *l, const char *spec, char *errstr,
                               size_t errstr_size)
{
    const char *colon = strrchr(spec, ':');
    if (!colon) {
        snprintf(errstr, errstr_size, "--topic %s: expected NAME:PARTITIONS", spec);
        return -1;
    }
    char *end;
    errno = 0;
    long n = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || n < 1 || n > MAX_PARTITIONS) {
        snprintf(errstr, errstr_size,
                 "--topic %s: partitions must be an integer in [1, %d]", spec,
                 MAX_PARTITIONS);
        return -1;
    }
    return topic_list_put(l, spec, (size_t)(colon - spec), (int)n, errstr, errstr_size);
}

/* Does flag @p a take the next argv entry as its value? Every setting of
 * ours does ("--brokers 3", "-b 3"), unless the value is glued on
 * ("--brokers=3", "-Xkey=value"). */
static bool value_follows(const char *a)
{
    if (a[1] == '-')
        return strchr(a, '=') == NULL;
    return a[2] == '\0';
}

/*
 * --topic is repeatable, but the settings table holds one value per flag
 * (the last one wins). So after bf_cli_parse() has validated the command
 * line we walk the flags once more, with the same grammar, and collect
 * every --topic in order.
 */
static int collect_topic_flags(topic_list_t *l, int argc, char **argv, int first_arg,
                               char *errstr, size_t errstr_size)
{
    for (int i = 1; i < first_arg && i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--topic=", 8) == 0) {
            if (topic_list_add_spec(l, a + 8, errstr, errstr_size))
                return -1;
        } else if (value_follows(a) && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(a, "--topic") == 0 &&
                topic_list_add_spec(l, v, errstr, errstr_size))
                return -1;
        }
    }
    return 0;
}

/* The mock's replication factor may not exceed the broker count; three
 * replicas are what a production cluster would use. */
static int replication_factor(int brokers)
{
    return brokers < 3 ? brokers : 3;
}

static int create_topics(rd_kafka_mock_cluster_t *mc, const topic_list_t *l, int brokers,
                         char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < l->count; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            mc, l->items[i].name, l->items[i].partitions, replication_factor(brokers));
        if (err) {
            snprintf(errstr, errstr_size, "cannot create topic %s: %s", l->items[i].name,
                     rd_kafka_err2str(err));
            return -1;
        }
        bf_log(BF_LOG_INFO, "devbroker", "topic_created",
               BF_LSTR("topic", l->items[i].name),
               BF_LINT("partitions", l->items[i].partitions),
               BF_LINT("replication_factor", replication_factor(brokers)));
    }
    return 0;
}

/*
 * Block SIGTERM and SIGINT before any thread exists, so every librdkafka
 * thread inherits the mask and the signals are only ever taken by
 * sigtimedwait() in main: no handler, no async-signal-safety concerns.
 */
static void block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Wait for a stop signal, serving the owning handle's events meanwhile. */
static int wait_for_stop(rd_kafka_t *rk, const sigset_t *set)
{
    const struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig > 0)
            return sig;
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return 0;
        rd_kafka_poll(rk, 0);
    }
}

int main(int argc, char **argv)
{
    devbroker_config_t cfg = {0};
    bf_kprops_t props = {0};
    topic_list_t topics = {0};
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    char errstr[512];
    int first_arg = argc;
    int rc = 2;

    bf_cli_result_t r =
        bf_cli_parse(&cli, &cfg, argc, argv, &props, &first_arg, errstr, sizeof(errstr));
    if (r == BF_CLI_EXIT) {
        rc = 0;
        goto out;
    }
    if (r == BF_CLI_ERROR) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }
    if (first_arg < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", PROGRAM,
                argv[first_arg]);
        goto out;
    }
    bf_log_level_set((bf_log_level_t)cfg.log_level);
    if (topic_list_add_csv(&topics, cfg.topics, (int)cfg.partitions, errstr,
                           sizeof(errstr)) ||
        collect_topic_flags(&topics, argc, argv, first_arg, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }

    sigset_t stop_signals;
    block_stop_signals(&stop_signals);

    /* The handle only owns the cluster; it never connects anywhere, so an
     * empty bootstrap list is right. */
    rd_kafka_conf_t *conf = bf_kafka_conf_new("", &props, errstr, sizeof(errstr));
    if (!conf) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }
    /* The mock's sockets take this handle's Nagle setting (librdkafka's
     * rd_kafka_mock_connection_new sets a connection up with
     * rd_kafka_transport_post_connect_setup on the cluster's own broker
     * handle). With Nagle on, a response written while the one before it is
     * unacknowledged waits for the client's delayed ACK, which comes with
     * its next request or after the delayed-ACK timer (40 ms or more): a
     * worker at 300 reports/s saw a third of its ProduceResponses 10 - 12 ms
     * late (librdkafka's rtt) and its delivery p99 at 25 ms, 2 ms with this
     * (BENCHMARKS.md, "Overhead, eighth session"). Kafka sets TCP_NODELAY on
     * every connection. */
    if (bf_kafka_conf_default(conf, &props, "socket.nagle.disable", "true", errstr,
                              sizeof(errstr))) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "%s: cannot create librdkafka handle: %s\n", PROGRAM, errstr);
        goto out;
    }
    mc = rd_kafka_mock_cluster_new(rk, (int)cfg.brokers);
    if (!mc) {
        fprintf(stderr, "%s: cannot create the mock cluster (see log)\n", PROGRAM);
        goto out;
    }
    if (create_topics(mc, &topics, (int)cfg.brokers, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        goto out;
    }

    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    if (printf("%s\n", bootstraps) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write the bootstrap list to stdout\n", PROGRAM);
        goto out;
    }
    bf_log(BF_LOG_INFO, "devbroker", "ready", BF_LSTR("bootstrap_servers", bootstraps),
           BF_LINT("brokers", cfg.brokers), BF_LINT("topics", topics.count));

    int sig = wait_for_stop(rk, &stop_signals);
    bf_log(BF_LOG_INFO, "devbroker", "stopping", BF_LSTR("signal", strsignal(sig)));
    rc = 0;

out:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    bf_kprops_free(&props);
    bf_cli_free(&cli, &cfg);
    if (rc == 0 && mc)
        bf_log(BF_LOG_INFO, "devbroker", "stopped");
    return rc;
}
