/*
 * test_httpd.c - libbf/httpd.c: the listen addresses METRICS_ADDR and the
 * like take (host:port, :port, [v6]:port), as a table of what parses and
 * what is refused at start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/err.h"
#include "libbf/httpd.h"

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
        cmocka_unit_test(test_metrics_addresses_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
