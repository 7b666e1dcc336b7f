/*
 * results.c - publish reports and read results back (see results.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

rd_kafka_t *bf_test_topic_reader(const char *brokers, const char *topic, int partitions)
{
    return bf_test_topic_reader_with(brokers, topic, partitions, NULL);
}

rd_kafka_t *bf_test_topic_reader_with(const char *brokers, const char *topic,
                                      int partitions, const char *const props[])
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
    /* assign() needs a group.id (it never joins the group). */
    rd_kafka_conf_set(conf, "group.id", "e2e-reader", errstr, sizeof(errstr));
    for (size_t i = 0; props && props[i] && props[i + 1]; i += 2)
        if (rd_kafka_conf_set(conf, props[i], props[i + 1], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
            fail_msg("%s", errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    /* Assign every partition from the beginning: no group membership. */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

void bf_test_results_open(bf_test_results_t *r, const char *brokers, int partitions)
{
    char errstr[512];
    r->by_id = json_object();
    r->count = json_object();
    r->codec = bf_codec_new(errstr, sizeof(errstr));
    assert_non_null(r->codec);
    r->rk = bf_test_topic_reader(brokers, "bountyfleet.validations", partitions);
}

void bf_test_produce_raw(const char *brokers, const char *topic,
                         const bf_test_record_t *records, size_t n)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "message.max.bytes", "4000000", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "compression.codec", "lz4", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_VALUE((void *)records[i].value, records[i].len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADER("origin", records[i].origin, -1),
                              RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

const char *bf_test_header(const rd_kafka_message_t *m, const char *name, char *buf,
                           size_t size)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &len))
        return NULL;
    snprintf(buf, size, "%.*s", (int)len, (const char *)v);
    return buf;
}

void bf_test_results_close(bf_test_results_t *r)
{
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    bf_codec_destroy(r->codec);
    json_decref(r->by_id);
    json_decref(r->count);
}

/* One record of the results topic into by_id and count. */
static void take(bf_test_results_t *r, rd_kafka_message_t *m)
{
    if (!m->err) {
        json_t *obj = NULL;
        char errstr[256];
        bf_err_t err = bf_codec_decode(r->codec, BF_RECORD_VALIDATION, m->payload, m->len,
                                       &obj, NULL, errstr, sizeof(errstr));
        if (err)
            fail_msg("undecodable result at offset %lld: %s", (long long)m->offset,
                     errstr);
        const char *id = json_string_value(json_object_get(obj, "report_id"));
        assert_non_null(id);
        json_t *c = json_object_get(r->count, id);
        json_object_set_new(r->count, id,
                            json_integer(c ? json_integer_value(c) + 1 : 1));
        json_object_set(r->by_id, id, obj);
        json_decref(obj);
    }
    rd_kafka_message_destroy(m);
}

size_t bf_test_results_wait(bf_test_results_t *r, size_t want, double timeout_s)
{
    double deadline = bf_test_now() + timeout_s * bf_test_timeout_mult();
    while (json_object_size(r->by_id) < want && bf_test_now() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 200);
        if (m)
            take(r, m);
    }
    return json_object_size(r->by_id);
}

void bf_test_results_drain(bf_test_results_t *r, double quiet_s)
{
    double quiet_until = bf_test_now() + quiet_s;
    while (bf_test_now() < quiet_until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
        if (m) {
            take(r, m);
            quiet_until = bf_test_now() + quiet_s;
        }
    }
}

void bf_test_write_reports(const char *path, const char *prefix, int n, int group)
{
    char sample[1024];
    snprintf(sample, sizeof(sample), "%s/ops/demo-data/sample-reports.jsonl",
             BF_SOURCE_DIR);
    FILE *in = fopen(sample, "r");
    assert_non_null(in);
    json_t *samples = json_array();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0)
        json_array_append_new(samples, json_loads(line, 0, NULL));
    free(line);
    fclose(in);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    for (int i = 0; i < n; i++) {
        int content = group > 1 ? i / group : i;
        json_t *obj = json_deep_copy(
            json_array_get(samples, (size_t)content % json_array_size(samples)));
        char buf[600];
        snprintf(buf, sizeof(buf), "%s-%d", prefix, i);
        json_object_set_new(obj, "report_id", json_string(buf));
        snprintf(buf, sizeof(buf), "%s (case %s-%d)",
                 json_string_value(json_object_get(obj, "title")), prefix, content);
        json_object_set_new(obj, "title", json_string(buf));
        char *s = json_dumps(obj, JSON_COMPACT);
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(obj);
    }
    json_decref(samples);
    fclose(out);
}

void bf_test_run_producer(const bf_stack_t *s, const char *file)
{
    bf_test_run_producer_with(s, file, NULL, NULL);
}

void bf_test_run_producer_with(const bf_stack_t *s, const char *file,
                               const char *const args[], const char *const env[])
{
    char bin[512];
    const char *argv[16] = {bf_test_bin("bountyfleet-producer", bin, sizeof(bin)), "-b",
                            s->brokers};
    size_t n = 3;
    for (size_t i = 0; args && args[i]; i++) {
        assert_true(n < sizeof(argv) / sizeof(argv[0]) - 2);
        argv[n++] = args[i];
    }
    argv[n++] = file;
    argv[n] = NULL;
    bf_proc_t p;
    assert_int_equal(bf_proc_start(&p, "producer", s->tmpdir, argv, env, false, 5), 0);
    double deadline = bf_test_now() + 120 * bf_test_timeout_mult();
    int status = -1;
    while (!bf_proc_exited(&p, &status) && bf_test_now() < deadline) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bf_proc_dump_log(&p, 20);
        fail_msg("producer failed (status %d)", status);
    }
}

json_t *bf_test_aisim_get(const bf_stack_t *s, const char *path)
{
    char url[600];
    snprintf(url, sizeof(url), "%s", s->ai_base_url);
    char *v1 = strstr(url, "/v1");
    if (v1)
        *v1 = '\0';
    strncat(url, path, sizeof(url) - strlen(url) - 1);
    long http_status = 0;
    char *body = bf_test_http_get(url, &http_status);
    assert_non_null(body);
    json_t *value = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(value);
    return value;
}

json_t *bf_test_aisim_stats(const bf_stack_t *s)
{
    return bf_test_aisim_get(s, "/stats");
}
