/*
 * test_security.c - the checks of SECURITY.md that need no running
 * stack: Kafka TLS and SASL settings given kcat-style reach librdkafka's
 * configuration untouched; credentials in URLs are redacted before they
 * are logged (the registry's debug log, proven on stderr); the parsers the
 * fuzz targets drive, with the inputs that once broke them (registry
 * answers, METRICS_ADDR addresses) as tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "libbf/config.h"
#include "libbf/http.h"
#include "libbf/httpd.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/registry.h"
#include "libbf/registry_answer.h"

static void test_tls_and_sasl_settings_reach_librdkafka(void **unused)
{
    (void)unused;
    char ca[256], props[256];
    snprintf(ca, sizeof(ca), "%s/README.md", BF_SOURCE_DIR); /* any readable file */
    snprintf(props, sizeof(props), "/tmp/bf-test-security-%d.properties", (int)getpid());
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

static void test_urls_are_redacted_before_logging(void **unused)
{
    (void)unused;
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"https://user:pa55@registry.example:8081/subjects",
         "https://***@registry.example:8081/subjects"},
        {"http://user@host/x", "http://***@host/x"},
        {"http://u:p@w@host:1/", "http://***@host:1/"}, /* the last @ ends userinfo */
        {"redis://:secret@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"},
        {"user:pw@host:1", "***@host:1"},
        {"http://host/path@not-userinfo", "http://host/path@not-userinfo"},
        {"http://host/?q=a@b", "http://host/?q=a@b"},
        {"http://host:8081", "http://host:8081"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        bf_http_url_redact(cases[i].url, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%s -> %s, want %s", cases[i].url, out, cases[i].want);
    }
    char small[8];
    bf_http_url_redact("https://user:pa55@host/", small, sizeof(small));
    assert_null(strstr(small, "pa55"));
    assert_true(strlen(small) < sizeof(small));
}

/* The registry client at --log-level debug logs each request's URL: with
 * credentials in SCHEMA_REGISTRY_URL they must not reach stderr, nor an
 * error message. */
static void test_registry_debug_log_hides_url_credentials(void **unused)
{
    (void)unused;
    char path[128];
    snprintf(path, sizeof(path), "/tmp/bf-test-security-%d.log", (int)getpid());
    fflush(stderr);
    int saved = dup(2);
    FILE *capture = fopen(path, "w+");
    assert_non_null(capture);
    dup2(fileno(capture), 2);
    bf_log_level_set(BF_LOG_DEBUG);

    char errstr[512] = "";
    /* Port 1 on loopback: nothing listens, the request fails at once. */
    bf_registry_options_t o = {.url = "http://reg-user:canary-url-pw-4e1d@127.0.0.1:1",
                               .timeout_s = 2};
    bf_registry_t *reg = bf_registry_new(&o, errstr, sizeof(errstr));
    assert_non_null(reg);
    const char *schema = NULL;
    assert_int_not_equal(
        bf_registry_schema_by_id(reg, 7, &schema, errstr, sizeof(errstr)), BF_OK);
    assert_null(strstr(errstr, "canary-url-pw-4e1d"));
    bf_registry_destroy(reg);
    bf_registry_options_t bad = {.url = "ftp://reg-user:canary-url-pw-4e1d@host"};
    assert_null(bf_registry_new(&bad, errstr, sizeof(errstr)));
    assert_null(strstr(errstr, "canary-url-pw-4e1d"));

    bf_log_level_set(BF_LOG_INFO);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[8192] = "";
    rewind(capture);
    size_t n = fread(text, 1, sizeof(text) - 1, capture);
    text[n] = '\0';
    fclose(capture);
    unlink(path);
    /* The request was logged, with its URL redacted. */
    if (!strstr(text, "http://***@127.0.0.1:1/schemas/ids/7"))
        fail_msg("no redacted request line in:\n%s", text);
    assert_null(strstr(text, "reg-user"));
    assert_null(strstr(text, "canary-url-pw-4e1d"));
}

/* The registry's answers as data: what each request's body may say, and
 * the inputs the fuzzer found (tests/fuzz/corpus/registry/regression-*). */
static void test_registry_answers_table(void **unused)
{
    (void)unused;
    static const struct {
        bf_registry_call_t call;
        const char *body;
        bf_err_t err;
        int32_t id;
        const char *schema;
        size_t n_versions;
    } cases[] = {
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":7}", BF_OK, 7, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":2147483647}", BF_OK, INT32_MAX, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":2147483648}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":-1}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "{\"id\":\"7\"}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "<html>", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_REGISTER, "", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID, "{\"schema\":\"\\\"string\\\"\"}", BF_OK, 0,
         "\"string\"", 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID,
         "{\"schema\":\"\\\"string\\\"\",\"schemaType\":\"AVRO\"}", BF_OK, 0,
         "\"string\"", 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID, "{\"schema\":\"x\",\"schemaType\":\"PROTOBUF\"}",
         BF_ERR_SCHEMA, 0, NULL, 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID, "{\"schema\":{\"type\":\"string\"}}",
         BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_SCHEMA_BY_ID, "[]", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSIONS, "[1,2,3]", BF_OK, 0, NULL, 3},
        {BF_REGISTRY_CALL_VERSIONS, "[]", BF_OK, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSIONS, "[1,\"2\"]", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSIONS, "[1,-2]", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSIONS, "{\"versions\":[1]}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL_VERSION,
         "{\"subject\":\"s\",\"version\":1,\"id\":3,"
         "\"schema\":\"\\\"long\\\"\"}",
         BF_OK, 3, "\"long\"", 0},
        {BF_REGISTRY_CALL_VERSION, "{\"id\":3}", BF_ERR_PARSE, 0, NULL, 0},
        {BF_REGISTRY_CALL__COUNT, "{}", BF_ERR_INVALID_ARG, 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bf_registry_answer_t a;
        char errstr[256] = "";
        bf_err_t err =
            bf_registry_answer_parse(cases[i].call, cases[i].body, strlen(cases[i].body),
                                     &a, errstr, sizeof(errstr));
        if (err != cases[i].err)
            fail_msg("case %zu (%s): %s, want %s (%s)", i, cases[i].body,
                     bf_err_name(err), bf_err_name(cases[i].err), errstr);
        assert_int_equal(a.id, cases[i].id);
        if (cases[i].schema)
            assert_string_equal(a.schema, cases[i].schema);
        else
            assert_null(a.schema);
        assert_int_equal(a.n_versions, cases[i].n_versions);
        if (err)
            assert_true(errstr[0] != '\0');
        bf_registry_answer_free(&a);
    }
    /* 100 versions: only the latest 64 are kept, in order. */
    char list[1024] = "[";
    for (int v = 1; v <= 100; v++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%d%s", v,
                 v < 100 ? "," : "]");
    bf_registry_answer_t a;
    char errstr[256];
    assert_int_equal(bf_registry_answer_parse(BF_REGISTRY_CALL_VERSIONS, list,
                                              strlen(list), &a, errstr, sizeof(errstr)),
                     BF_OK);
    assert_int_equal(a.n_versions, BF_REGISTRY_MAX_VERSIONS);
    assert_int_equal(a.version[0], 100 - BF_REGISTRY_MAX_VERSIONS + 1);
    assert_int_equal(a.version[BF_REGISTRY_MAX_VERSIONS - 1], 100);
    bf_registry_answer_free(&a);
}

static void test_registry_error_bodies_are_described_printably(void **unused)
{
    (void)unused;
    char out[320];
    const char *json = "{\"error_code\":40403,\"message\":\"Schema 7 not found\"}";
    bf_registry_error_describe(json, strlen(json), 404, out, sizeof(out));
    assert_string_equal(out, "Schema 7 not found (error_code 40403)");
    const char *msg = "{\"message\":\"overloaded\"}";
    bf_registry_error_describe(msg, strlen(msg), 503, out, sizeof(out));
    assert_string_equal(out, "overloaded (error_code 503)");
    /* Not NUL-terminated, with control bytes: bounded and printable. */
    const char page[] = {'<', 'h', '1', '>', '\n', 'B', 'a', 'd', '\0', '\x1b', 'x'};
    bf_registry_error_describe(page, sizeof(page), 502, out, sizeof(out));
    assert_string_equal(out, "HTTP 502: <h1> Bad  x");
    bf_registry_error_describe(NULL, 0, 500, out, sizeof(out));
    assert_string_equal(out, "HTTP 500: ");
    char tiny[6];
    bf_registry_error_describe(json, strlen(json), 404, tiny, sizeof(tiny));
    assert_string_equal(tiny, "Schem");
}

static void test_metrics_addresses_table(void **unused)
{
    (void)unused;
    static const struct {
        const char *addr;
        bf_err_t err;
        const char *host;
        int port;
    } cases[] = {
        {"127.0.0.1:9464", BF_OK, "127.0.0.1", 9464},
        {":9465", BF_OK, "", 9465},
        {"0.0.0.0:0", BF_OK, "0.0.0.0", 0},
        {"[::1]:80", BF_OK, "::1", 80},
        {"[]:80", BF_OK, "", 80},
        {"localhost:65535", BF_OK, "localhost", 65535},
        {"127.0.0.1", BF_ERR_CONFIG, NULL, 0},
        {"127.0.0.1:", BF_ERR_CONFIG, NULL, 0},
        {"127.0.0.1:65536", BF_ERR_CONFIG, NULL, 0},
        {"127.0.0.1:-1", BF_ERR_CONFIG, NULL, 0},
        {"127.0.0.1: 80", BF_ERR_CONFIG, NULL, 0},
        {"127.0.0.1:+80", BF_ERR_CONFIG, NULL, 0},
        {"127.0.0.1:99999999999999999999", BF_ERR_CONFIG, NULL, 0},
        {"h:80x", BF_ERR_CONFIG, NULL, 0},
        {"", BF_ERR_CONFIG, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[64] = "unset", errstr[256] = "";
        int port = -1;
        bf_err_t err = bf_httpd_addr_parse(cases[i].addr, host, sizeof(host), &port,
                                           errstr, sizeof(errstr));
        if (err != cases[i].err)
            fail_msg("'%s': %s, want %s", cases[i].addr, bf_err_name(err),
                     bf_err_name(cases[i].err));
        if (err == BF_OK) {
            assert_string_equal(host, cases[i].host);
            assert_int_equal(port, cases[i].port);
        } else {
            assert_non_null(strstr(errstr, "address"));
        }
    }
    char host[4];
    int port;
    char errstr[128];
    assert_int_equal(bf_httpd_addr_parse("longhost:1", host, sizeof(host), &port, errstr,
                                         sizeof(errstr)),
                     BF_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_and_sasl_settings_reach_librdkafka),
        cmocka_unit_test(test_urls_are_redacted_before_logging),
        cmocka_unit_test(test_registry_debug_log_hides_url_credentials),
        cmocka_unit_test(test_registry_answers_table),
        cmocka_unit_test(test_registry_error_bodies_are_described_printably),
        cmocka_unit_test(test_metrics_addresses_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
