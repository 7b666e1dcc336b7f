/*
 * test_registry.c - libbf/registry.c without a registry: at --log-level
 * debug each request's URL is logged with its credentials redacted, and
 * neither the log nor an error message ever holds them. The client against
 * a server that answers like Confluent's is tests/integration/test_registry.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "libbf/log.h"
#include "libbf/registry.h"

/* The registry client at --log-level debug logs each request's URL: with
 * credentials in SCHEMA_REGISTRY_URL they must not reach stderr, nor an
 * error message. */
static void test_registry_debug_log_hides_url_credentials(void **unused)
{
    (void)unused;
    char path[128];
    snprintf(path, sizeof(path), "/tmp/bf-test-registry-%d.log", (int)getpid());
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_debug_log_hides_url_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
