/*
 * test_kafka.c - libbf/kafka.h: librdkafka configurations from our
 * settings and the operator's -X properties, each client getting only
 * the properties librdkafka gives its kind; TLS and SASL settings given
 * kcat-style (-X, -F) reach librdkafka's configuration untouched
 * (SECURITY.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

static void test_tls_and_sasl_settings_reach_librdkafka(void **unused)
{
    (void)unused;
    char ca[256], props[256];
    snprintf(ca, sizeof(ca), "%s/README.md", BF_SOURCE_DIR); /* any readable file */
    snprintf(props, sizeof(props), "/tmp/bf-test-kafka-%d.properties", (int)getpid());
    FILE *f = fopen(props, "w");
    assert_non_null(f);
    fputs("# from -F\nssl.endpoint.identification.algorithm = https\n"
          "sasl.password=p-from-file\n",
          f);
    fclose(f);
    char ca_arg[300];
    snprintf(ca_arg, sizeof(ca_arg), "ssl.ca.location=%s", ca);
    char *argv[] = {"prog",
                    "-X",
                    "security.protocol=SASL_SSL",
                    "-X",
                    "sasl.mechanisms=SCRAM-SHA-512",
                    "-X",
                    "sasl.username=u",
                    "-X",
                    "sasl.password=p",
                    "-X",
                    ca_arg,
                    "-F",
                    props,
                    NULL};
    const bf_cli_t cli = {.program = "prog", .kafka_props = true};
    bf_kprops_t kp = {0};
    int first = 0;
    char errstr[512];
    assert_int_equal(
        bf_cli_parse(&cli, NULL, 13, argv, &kp, &first, errstr, sizeof(errstr)),
        BF_CLI_RUN);
    unlink(props);
    rd_kafka_conf_t *conf =
        bf_kafka_conf_new("127.0.0.1:9092", &kp, errstr, sizeof(errstr));
    if (!conf)
        fail_msg("bf_kafka_conf_new: %s", errstr);
    static const struct {
        const char *key, *want;
    } expect[] = {
        {"security.protocol", "sasl_ssl"},
        {"sasl.mechanisms", "SCRAM-SHA-512"},
        {"sasl.username", "u"},
        {"sasl.password", "p-from-file"}, /* later ones win, -F after -X */
        {"ssl.endpoint.identification.algorithm", "https"},
        {"bootstrap.servers", "127.0.0.1:9092"},
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        char value[512];
        size_t size = sizeof(value);
        assert_int_equal(rd_kafka_conf_get(conf, expect[i].key, value, &size),
                         RD_KAFKA_CONF_OK);
        if (strcasecmp(value, expect[i].want) != 0)
            fail_msg("%s is '%s', want '%s'", expect[i].key, value, expect[i].want);
    }
    char value[512];
    size_t size = sizeof(value);
    assert_int_equal(rd_kafka_conf_get(conf, "ssl.ca.location", value, &size),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(value, ca);
    rd_kafka_conf_destroy(conf);
    bf_kprops_free(&kp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_scopes_come_from_librdkafka),
        cmocka_unit_test(test_each_client_gets_its_own_properties),
        cmocka_unit_test(test_tls_and_sasl_settings_reach_librdkafka),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
