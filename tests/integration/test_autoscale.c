/*
 * test_autoscale.c - the autoscaler on the local stack (dev broker, Redis,
 * AI simulator) with the local actuator and real workers: a burst of
 * reports scales the fleet up, the quiet after it scales it back down.
 * Progress is read where an operator would: the KEDA endpoint
 * (/api/v1/desired) and /metrics on METRICS_ADDR.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include <librdkafka/rdkafka.h>

#include "libbf/buf.h"
#include "libbf/codec.h"
#include "support/stack.h"

#define PARTITIONS 4
#define REPORTS    240

typedef struct fixture_s {
    bf_stack_t s;
    bf_proc_t autoscaler;
    int metrics_port;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    /* slow answers, so the burst stays in the topic for a while */
    const char *aisim_args[] = {"--latency-ms", "300", NULL};
    if (!f || bf_stack_start(&f->s, PARTITIONS, aisim_args) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    bf_proc_stop(&f->autoscaler, SIGTERM, 90); /* it stops its workers first */
    bf_stack_stop(&f->s);
    free(f);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* desiredReplicas and currentReplicas from the KEDA endpoint; false while
 * it has no decision. */
static bool desired(const fixture_t *f, int64_t *want, int64_t *running)
{
    char url[128];
    long status = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/desired", f->metrics_port);
    char *body = bf_test_http_get(url, &status);
    json_t *o = body && status == 200 ? json_loads(body, 0, NULL) : NULL;
    free(body);
    if (!o)
        return false;
    *want = json_integer_value(json_object_get(o, "desiredReplicas"));
    *running = json_integer_value(json_object_get(o, "currentReplicas"));
    json_decref(o);
    return true;
}

/* Wait until the fleet runs at least (@p up) or exactly (!@p up) @p n. */
static bool wait_fleet(const fixture_t *f, int64_t n, bool up, double timeout_s)
{
    double deadline = bf_test_now() + timeout_s * bf_test_timeout_mult();
    while (bf_test_now() < deadline) {
        int64_t want, running;
        if (desired(f, &want, &running) &&
            (up ? running >= n : running == n && want == n))
            return true;
        sleep_ms(200);
    }
    return false;
}

static void publish_burst(const bf_stack_t *s)
{
    char sample[1024], file[400], bin[512];
    snprintf(sample, sizeof(sample), "%s/ops/demo-data/sample-reports.jsonl",
             BF_SOURCE_DIR);
    snprintf(file, sizeof(file), "%s/burst.jsonl", s->tmpdir);
    FILE *in = fopen(sample, "r"), *out = fopen(file, "w");
    assert_non_null(in);
    assert_non_null(out);
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i < REPORTS && getline(&line, &cap, in) > 0; i++)
        fputs(line, out);
    free(line);
    fclose(in);
    fclose(out);
    const char *argv[] = {bf_test_bin("bountyfleet-producer", bin, sizeof(bin)), "-b",
                          s->brokers, file, NULL};
    bf_proc_t p;
    assert_int_equal(bf_proc_start(&p, "producer", s->tmpdir, argv, NULL, false, 5), 0);
    double deadline = bf_test_now() + 120 * bf_test_timeout_mult();
    int status = -1;
    while (!bf_proc_exited(&p, &status) && bf_test_now() < deadline)
        sleep_ms(50);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bf_proc_dump_log(&p, 20);
        fail_msg("producer failed (status %d)", status);
    }
}

/* One decision record from bountyfleet.scaling, decoded with the schema. */
static void expect_decision_record(const bf_stack_t *s)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", s->brokers, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", "test-autoscale-reader", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, "bountyfleet.scaling",
                                      RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(rk, topics), 0);
    rd_kafka_topic_partition_list_destroy(topics);
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    assert_non_null(codec);
    json_t *rec = NULL;
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    while (!rec && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (!m->err)
            assert_int_equal(bf_codec_decode(codec, BF_RECORD_SCALING_DECISION,
                                             m->payload, m->len, &rec, NULL, errstr,
                                             sizeof(errstr)),
                             BF_OK);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    bf_codec_destroy(codec);
    if (!rec)
        fail_msg("no decision record on bountyfleet.scaling");
    assert_string_equal(json_string_value(json_object_get(rec, "actuator")), "local");
    assert_non_null(json_string_value(json_object_get(rec, "reasoning")));
    json_decref(rec);
}

/* A worker's heartbeat, published until /metrics counts it (the reader
 * starts at the log end once its group has an assignment). */
static void expect_heartbeat_counted(const bf_stack_t *s, int metrics_port)
{
    char errstr[512], url[128];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", s->brokers, errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    assert_non_null(codec);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", metrics_port);
    double deadline = bf_test_now() + 60 * bf_test_timeout_mult();
    bool counted = false;
    while (!counted && bf_test_now() < deadline) {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        json_t *hb = json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:i, s:i, s:f, s:f, "
            "s:I, s:i, s:b}",
            "worker_id", "hb-test", "sent_at", (json_int_t)wall.tv_sec * 1000,
            "started_at", (json_int_t)1000, "reports_consumed", (json_int_t)1,
            "reports_validated", (json_int_t)1, "reports_duplicate", (json_int_t)0,
            "reports_dlq", (json_int_t)0, "reports_per_second", 1.0,
            "latency_p50_seconds", 0.1, "latency_p95_seconds", 0.2, "latency_p99_seconds",
            0.3, "in_flight_reports", 0, "in_flight_ai_calls", 0, "ai_cost_usd", 0.01,
            "cpu_seconds", 0.1, "rss_bytes", (json_int_t)1000000, "assigned_partitions",
            1, "paused", 0);
        bf_buf_t buf;
        bf_buf_init(&buf, 1 << 16);
        assert_int_equal(bf_codec_encode(codec, BF_RECORD_HEARTBEAT, hb,
                                         BF_FRAMING_SINGLE_OBJECT, &buf, errstr,
                                         sizeof(errstr)),
                         BF_OK);
        json_decref(hb);
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("bountyfleet.heartbeats"),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(buf.data, buf.len), RD_KAFKA_V_END);
        bf_buf_free(&buf);
        rd_kafka_flush(rk, 5000);
        sleep_ms(1000);
        long status = 0;
        char *metrics = bf_test_http_get(url, &status);
        /* The workers the autoscaler runs send heartbeats of their own, so
         * the gauge counts them and ours: at least one. */
        const char *g =
            metrics ? strstr(metrics, "\nbountyfleet_autoscaler_workers_heartbeating ")
                    : NULL;
        counted =
            g && atoi(g + strlen("\nbountyfleet_autoscaler_workers_heartbeating ")) >= 1;
        free(metrics);
    }
    rd_kafka_destroy(rk);
    bf_codec_destroy(codec);
    if (!counted)
        fail_msg("a published heartbeat was not counted");
}

static void test_burst_scales_up_and_quiet_scales_down(void **state)
{
    fixture_t *f = *state;
    const bf_stack_t *s = &f->s;
    f->metrics_port = bf_test_free_port();
    char env_brokers[600], env_redis[200], env_ai[600], addr[64], bin[512], worker[512];
    snprintf(env_brokers, sizeof(env_brokers), "KAFKA_BROKERS=%s", s->brokers);
    snprintf(env_redis, sizeof(env_redis), "REDIS_URL=%s", s->redis_url);
    snprintf(env_ai, sizeof(env_ai), "OPENAI_BASE_URL=%s", s->ai_base_url);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->metrics_port);
    /* the workers it starts inherit its environment */
    const char *env[] = {
        env_brokers,          env_redis, env_ai, "OPENAI_API_KEY=test-key",
        "OPENAI_MODEL=sim-1", NULL};
    /* The capacity rule with a worker planned at 1 report/s that should
     * drain the lag within 10 s: a burst of 240 asks for every partition,
     * capped at --max 3. A one-second forecast step without a season, so
     * the forecast forgets the burst within seconds of the quiet. */
    const char *argv[] = {bf_test_bin("bountyfleet-autoscaler", bin, sizeof(bin)),
                          "-b",
                          s->brokers,
                          "--interval",
                          "1",
                          "--min",
                          "1",
                          "--max",
                          "3",
                          "--worker-rate",
                          "1",
                          "--drain-target",
                          "10",
                          "--forecast-step",
                          "1",
                          "--season",
                          "none",
                          "--horizon",
                          "5",
                          "--scale-down-delay",
                          "3",
                          "--metrics-addr",
                          addr,
                          "--",
                          bf_test_bin("bountyfleet-worker", worker, sizeof(worker)),
                          "-X",
                          "session.timeout.ms=6000",
                          NULL};
    assert_int_equal(
        bf_proc_start(&f->autoscaler, "autoscaler", s->tmpdir, argv, env, false, 5), 0);

    /* the floor first: one worker before any report */
    if (!wait_fleet(f, 1, false, 60)) {
        bf_proc_dump_log(&f->autoscaler, 40);
        fail_msg("the autoscaler did not settle at --min 1");
    }
    publish_burst(s);
    if (!wait_fleet(f, 2, true, 90)) {
        bf_proc_dump_log(&f->autoscaler, 40);
        fail_msg("the burst did not scale the fleet up");
    }
    char url[128];
    long status = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", f->metrics_port);
    char *metrics = bf_test_http_get(url, &status);
    assert_int_equal(status, 200);
    assert_non_null(strstr(metrics, "bountyfleet_autoscaler_workers_current"));
    assert_non_null(
        strstr(metrics, "bountyfleet_autoscaler_decisions_total{action=\"SCALE_UP\"}"));
    assert_non_null(
        strstr(metrics, "bountyfleet_autoscaler_partition_status{partition=\"0\""));
    free(metrics);

    if (!wait_fleet(f, 1, false, 240)) {
        bf_proc_dump_log(&f->autoscaler, 60);
        fail_msg("the quiet did not scale the fleet back to one worker");
    }
    expect_decision_record(s);
    expect_heartbeat_counted(s, f->metrics_port);

    /* A restart picks the forecast up from Redis (REDIS_URL) instead of
     * starting from nothing. */
    int stopped = bf_proc_stop(&f->autoscaler, SIGTERM, 90);
    if (!WIFEXITED(stopped) || WEXITSTATUS(stopped) != 0) {
        bf_proc_dump_log(&f->autoscaler, 30);
        fail_msg("the autoscaler did not stop cleanly (status %d)", stopped);
    }
    assert_int_equal(
        bf_proc_start(&f->autoscaler, "autoscaler2", s->tmpdir, argv, env, false, 5), 0);
    double deadline = bf_test_now() + 30 * bf_test_timeout_mult();
    bool restored = false;
    while (!restored && bf_test_now() < deadline) {
        FILE *log = fopen(f->autoscaler.log_path, "r");
        char line[2048];
        while (log && !restored && fgets(line, sizeof(line), log))
            restored = strstr(line, "\"state_restored\"") &&
                       !strstr(line, "\"forecast_steps\":0");
        if (log)
            fclose(log);
        if (!restored)
            sleep_ms(200);
    }
    if (!restored) {
        bf_proc_dump_log(&f->autoscaler, 30);
        fail_msg("the restarted autoscaler did not restore its forecast");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_scales_up_and_quiet_scales_down),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
