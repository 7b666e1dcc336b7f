/*
 * test_publish.c - autoscaler/publish.c: a decision as the record of
 * schemas/scaling_decision.avsc (the fields and their values, a forecast
 * not ready yet as null), that record encoded by the codec in each
 * framing, and a sent decision arriving on bountyfleet.scaling keyed by
 * the actuator kind, on an in-process mock cluster (support/mock_cluster.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "autoscaler/publish.h"
#include "libbf/buf.h"
#include "libbf/clock.h"
#include "libbf/kafka.h"
#include "support/mock_cluster.h"
#include "support/results.h"
#include "support/stack.h"

static bf_scaler_decision_t scale_up(void)
{
    bf_scaler_decision_t d = {
        .decision = {.action = BF_SCALE_UP,
                     .current_workers = 1,
                     .desired_workers = 3,
                     .target_workers = 3,
                     .total_lag = 950,
                     .partitions = 4},
        .arrival_rate = 2.5,
        .processing_rate = 1.5,
        .forecast = {.value = 4.25, .confidence = 0.75},
        .forecast_ready = true,
    };
    snprintf(d.decision.reasoning, sizeof(d.decision.reasoning), "lag 950 needs 3");
    return d;
}

static void test_record_holds_the_decision(void **unused)
{
    (void)unused;
    bf_scaler_decision_t d = scale_up();
    json_t *r = bf_publisher_record(&d, "local", 1767323045678.0);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "decided_at")), 1767323045678);
    assert_string_equal(json_string_value(json_object_get(r, "action")), "SCALE_UP");
    assert_int_equal(json_integer_value(json_object_get(r, "current_workers")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "target_workers")), 3);
    assert_int_equal(json_integer_value(json_object_get(r, "total_lag")), 950);
    assert_true(json_real_value(json_object_get(r, "confidence")) == 0.75);
    assert_true(json_real_value(json_object_get(r, "arrival_rate")) == 2.5);
    assert_true(json_real_value(json_object_get(r, "processing_rate")) == 1.5);
    assert_true(json_real_value(json_object_get(r, "forecast_rate")) == 4.25);
    assert_string_equal(json_string_value(json_object_get(r, "reasoning")),
                        "lag 950 needs 3");
    assert_string_equal(json_string_value(json_object_get(r, "actuator")), "local");
    json_decref(r);

    /* Before two steps of history there is no forecast: null, not 0. */
    d.forecast_ready = false;
    r = bf_publisher_record(&d, "none", 0);
    assert_true(json_is_null(json_object_get(r, "forecast_rate")));
    json_decref(r);
}

/* The record is what the schema says, in every framing the operator may
 * choose (the codec refuses a record that does not match). */
static void test_record_encodes_in_every_framing(void **unused)
{
    (void)unused;
    char errstr[256];
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    assert_non_null(codec);
    bf_scaler_decision_t d = scale_up();
    const bf_framing_t framings[] = {BF_FRAMING_SINGLE_OBJECT, BF_FRAMING_JSON};
    for (int ready = 0; ready <= 1; ready++) {
        d.forecast_ready = ready;
        json_t *r = bf_publisher_record(&d, "kubernetes", 1767323045678.0);
        for (size_t i = 0; i < sizeof(framings) / sizeof(framings[0]); i++) {
            bf_buf_t buf;
            bf_buf_init(&buf, 16 * 1024);
            if (bf_codec_encode(codec, BF_RECORD_SCALING_DECISION, r, framings[i], &buf,
                                errstr, sizeof(errstr)) != BF_OK)
                fail_msg("%s: %s", bf_framing_name(framings[i]), errstr);
            json_t *back = NULL;
            bf_framing_t framing;
            assert_int_equal(bf_codec_decode(codec, BF_RECORD_SCALING_DECISION, buf.data,
                                             buf.len, &back, &framing, errstr,
                                             sizeof(errstr)),
                             BF_OK);
            assert_int_equal(framing, framings[i]);
            assert_string_equal(json_string_value(json_object_get(back, "action")),
                                "SCALE_UP");
            assert_string_equal(json_string_value(json_object_get(back, "actuator")),
                                "kubernetes");
            assert_int_equal(json_is_null(json_object_get(back, "forecast_rate")),
                             !ready);
            json_decref(back);
            bf_buf_free(&buf);
        }
        json_decref(r);
    }
    bf_codec_destroy(codec);
}

static void test_sent_decision_arrives_keyed_by_the_actuator(void **unused)
{
    (void)unused;
    bf_test_mock_t mock = {0};
    assert_int_equal(bf_test_mock_start(&mock, 1, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(mock.mc, BF_TOPIC_SCALING, 1, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    char errstr[512];
    bf_publisher_t *p =
        bf_publisher_new(mock.brokers, NULL, BF_TOPIC_SCALING, BF_FRAMING_JSON, "local",
                         errstr, sizeof(errstr));
    if (!p)
        fail_msg("bf_publisher_new: %s", errstr);
    bf_scaler_decision_t d = scale_up();
    bf_publisher_send(p, &d);
    bf_publisher_destroy(p, 10 * bf_test_timeout_mult()); /* flushes */

    rd_kafka_t *reader = bf_test_topic_reader(mock.brokers, BF_TOPIC_SCALING, 1);
    double deadline = bf_monotonic_s() + 10 * bf_test_timeout_mult();
    rd_kafka_message_t *m = NULL;
    while (!m && bf_monotonic_s() < deadline) {
        m = rd_kafka_consumer_poll(reader, 100);
        if (m && m->err) {
            rd_kafka_message_destroy(m);
            m = NULL;
        }
    }
    assert_non_null(m);
    assert_int_equal(m->key_len, strlen("local"));
    assert_memory_equal(m->key, "local", m->key_len);
    json_error_t jerr;
    json_t *rec = json_loadb(m->payload, m->len, 0, &jerr);
    if (!rec)
        fail_msg("not JSON: %s", jerr.text);
    assert_string_equal(json_string_value(json_object_get(rec, "action")), "SCALE_UP");
    assert_int_equal(json_integer_value(json_object_get(rec, "target_workers")), 3);
    json_decref(rec);
    rd_kafka_message_destroy(m);
    rd_kafka_consumer_close(reader);
    rd_kafka_destroy(reader);
    bf_test_mock_stop(&mock);
}

static void test_bad_property_is_refused_at_start(void **unused)
{
    (void)unused;
    bf_kprops_t props = {0};
    char errstr[256] = "";
    assert_int_equal(
        bf_kprops_add_kv(&props, "no.such.property=1", errstr, sizeof(errstr)), BF_OK);
    assert_null(bf_publisher_new("127.0.0.1:1", &props, BF_TOPIC_SCALING,
                                 BF_FRAMING_SINGLE_OBJECT, "none", errstr,
                                 sizeof(errstr)));
    assert_non_null(strstr(errstr, "no.such.property"));
    bf_kprops_free(&props);
    bf_publisher_destroy(NULL, 0); /* NULL-safe */
    bf_scaler_decision_t d = scale_up();
    bf_publisher_send(NULL, &d); /* no publisher: nothing to do */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_holds_the_decision),
        cmocka_unit_test(test_record_encodes_in_every_framing),
        cmocka_unit_test(test_sent_decision_arrives_keyed_by_the_actuator),
        cmocka_unit_test(test_bad_property_is_refused_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
