/*
 * test_kafka.c - libbf/kafka.h: librdkafka configurations from our
 * settings and the operator's -X properties, each client getting only
 * the properties librdkafka gives its kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/config.h"
#include "libbf/kafka.h"

/* Scopes as librdkafka's own table gives them for the version linked. */
static void test_property_scopes_come_from_librdkafka(void **unused)
{
    (void)unused;
    assert_int_equal(bf_kafka_property_scope("session.timeout.ms"), 'C');
    assert_int_equal(bf_kafka_property_scope("group.instance.id"), 'C');
    assert_int_equal(bf_kafka_property_scope("auto.offset.reset"), 'C'); /* a topic one */
    assert_int_equal(bf_kafka_property_scope("linger.ms"), 'P');
    assert_int_equal(bf_kafka_property_scope("enable.idempotence"), 'P');
    assert_int_equal(bf_kafka_property_scope("acks"), 'P'); /* a topic one */
    assert_int_equal(bf_kafka_property_scope("bootstrap.servers"), '*');
    assert_int_equal(bf_kafka_property_scope("statistics.interval.ms"), '*');
    assert_int_equal(bf_kafka_property_scope("no.such.property"), 0);
    assert_int_equal(bf_kafka_property_scope(NULL), 0);
}

static const char *get(rd_kafka_conf_t *conf, const char *name, char *buf, size_t size)
{
    size_t n = size;
    return rd_kafka_conf_get(conf, name, buf, &n) == RD_KAFKA_CONF_OK ? buf : "?";
}

/* One -X list for a worker's two clients: each takes its own and the
 * shared ones; the other kind's are left out (librdkafka would only warn
 * that it ignores them: CONFWARN on every start). */
static void test_each_client_gets_its_own_properties(void **unused)
{
    (void)unused;
    bf_kprops_t props = {0};
    char errstr[256];
    const char *const kv[] = {"session.timeout.ms=6000", "linger.ms=17",
                              "socket.timeout.ms=12345"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(bf_kprops_add_kv(&props, kv[i], errstr, sizeof(errstr)), BF_OK);
    char buf[64];
    rd_kafka_conf_t *c = bf_kafka_conf_new_for(BF_KAFKA_CONSUMER, "127.0.0.1:1", &props,
                                               errstr, sizeof(errstr));
    assert_non_null(c);
    assert_string_equal(get(c, "session.timeout.ms", buf, sizeof(buf)), "6000");
    assert_string_equal(get(c, "socket.timeout.ms", buf, sizeof(buf)), "12345");
    assert_string_not_equal(get(c, "linger.ms", buf, sizeof(buf)), "17");
    rd_kafka_conf_destroy(c);
    rd_kafka_conf_t *p = bf_kafka_conf_new_for(BF_KAFKA_PRODUCER, "127.0.0.1:1", &props,
                                               errstr, sizeof(errstr));
    assert_non_null(p);
    assert_string_equal(get(p, "linger.ms", buf, sizeof(buf)), "17");
    assert_string_equal(get(p, "socket.timeout.ms", buf, sizeof(buf)), "12345");
    assert_string_not_equal(get(p, "session.timeout.ms", buf, sizeof(buf)), "6000");
    rd_kafka_conf_destroy(p);
    /* Any client: everything, as before. */
    rd_kafka_conf_t *a = bf_kafka_conf_new("127.0.0.1:1", &props, errstr, sizeof(errstr));
    assert_string_equal(get(a, "linger.ms", buf, sizeof(buf)), "17");
    assert_string_equal(get(a, "session.timeout.ms", buf, sizeof(buf)), "6000");
    rd_kafka_conf_destroy(a);
    /* An unknown name is not silently dropped: librdkafka refuses it. */
    bf_kprops_t bad = {0};
    assert_int_equal(bf_kprops_add_kv(&bad, "no.such.property=1", errstr, sizeof(errstr)),
                     BF_OK);
    assert_null(bf_kafka_conf_new_for(BF_KAFKA_PRODUCER, "127.0.0.1:1", &bad, errstr,
                                      sizeof(errstr)));
    assert_non_null(strstr(errstr, "no.such.property"));
    bf_kprops_free(&bad);
    bf_kprops_free(&props);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_scopes_come_from_librdkafka),
        cmocka_unit_test(test_each_client_gets_its_own_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
