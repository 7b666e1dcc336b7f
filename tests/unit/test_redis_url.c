/*
 * test_redis_url.c - REDIS_URL parsing (bf_redis_url_parse in
 * libbf/redis.c): redis://[[user]:password@]host[:port][/db].
 *
 * Two tables, curl-style: URLs that parse with what they must give, and
 * URLs that must be refused at start with a message saying what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/redis.h"

typedef struct good_url_s {
    const char *url;
    const char *host;
    int port;
    const char *username; /* NULL: none */
    const char *password; /* NULL: none */
    int db;
} good_url_t;

static const good_url_t good_urls[] = {
    {"redis://host", "host", 6379, NULL, NULL, 0},
    {"redis://host:1234/2", "host", 1234, NULL, NULL, 2},
    {"redis://:pw@host", "host", 6379, NULL, "pw", 0},
    {"redis://user:pw@host:1/0", "host", 1, "user", "pw", 0},
    {"redis://127.0.0.1:6379/0", "127.0.0.1", 6379, NULL, NULL, 0},
    {"redis://redis.svc.cluster.local:65535/15", "redis.svc.cluster.local", 65535, NULL,
     NULL, 15},
    {"redis://host/", "host", 6379, NULL, NULL, 0},
    {"redis://host/7", "host", 6379, NULL, NULL, 7},
    {"redis://pw@host", "host", 6379, NULL, "pw", 0}, /* no colon: all password */
    {"redis://:p@ss:w0rd@host:6380/3", "host", 6380, NULL, "p@ss:w0rd", 3},
    {"redis://:@host", "host", 6379, NULL, "", 0},
};

static void expect_optional_string(const char *url, const char *what, const char *got,
                                   const char *want)
{
    if (!want && !got)
        return;
    if (!want || !got || strcmp(got, want) != 0)
        fail_msg("%s: %s is %s%s%s, want %s%s%s", url, what, got ? "\"" : "",
                 got ? got : "NULL", got ? "\"" : "", want ? "\"" : "",
                 want ? want : "NULL", want ? "\"" : "");
}

static void test_good_urls_parse_into_their_parts(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof(good_urls) / sizeof(good_urls[0]); i++) {
        const good_url_t *c = &good_urls[i];
        bf_redis_url_t u;
        char errstr[256] = "";
        bf_err_t err = bf_redis_url_parse(c->url, &u, errstr, sizeof(errstr));
        if (err != BF_OK)
            fail_msg("%s: %s", c->url, errstr);
        expect_optional_string(c->url, "host", u.host, c->host);
        expect_optional_string(c->url, "username", u.username, c->username);
        expect_optional_string(c->url, "password", u.password, c->password);
        if (u.port != c->port || u.db != c->db)
            fail_msg("%s: port %d db %d, want port %d db %d", c->url, u.port, u.db,
                     c->port, c->db);
        bf_redis_url_free(&u);
        assert_null(u.host);
    }
}

typedef struct bad_url_s {
    const char *url;
    const char *says;
} bad_url_t;

static const bad_url_t bad_urls[] = {
    {"redis://host:0", "bad port"},
    {"redis://host:65536", "bad port"},
    {"redis://host:-1", "bad port"},
    {"redis://host:abc", "bad port"},
    {"redis://host:", "bad port"},
    {"redis://host:12x/0", "bad port"},
    {"redis://host/x", "bad database"},
    {"redis://host/-1", "bad database"},
    {"redis://host/1x", "bad database"},
    {"redis://host:6379/65536", "bad database"},
    {"host:6379", "must start with redis://"},
    {"http://host:6379", "must start with redis://"},
    {"redis:/host", "must start with redis://"},
    {"", "must start with redis://"},
    {"redis://", "no host"},
    {"redis://:6379", "no host"},
    {"redis:///0", "no host"},
    {"redis://:pw@", "no host"},
    {"redis://user:pw@:6379/0", "no host"},
};

static void test_bad_urls_are_refused_with_reason(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        const bad_url_t *c = &bad_urls[i];
        bf_redis_url_t u;
        char errstr[256] = "";
        bf_err_t err = bf_redis_url_parse(c->url, &u, errstr, sizeof(errstr));
        if (err != BF_ERR_CONFIG)
            fail_msg("\"%s\": got %s, want a config error", c->url, bf_err_str(err));
        if (!strstr(errstr, c->says))
            fail_msg("\"%s\": message \"%s\" does not say \"%s\"", c->url, errstr,
                     c->says);
        /* Nothing is left allocated; in particular no password. */
        assert_null(u.host);
        assert_null(u.username);
        assert_null(u.password);
    }
}

static void test_error_message_does_not_reveal_password(void **unused)
{
    (void)unused;
    bf_redis_url_t u;
    char errstr[256] = "";
    assert_int_equal(
        bf_redis_url_parse("redis://:hunter2@host:99999", &u, errstr, sizeof(errstr)),
        BF_ERR_CONFIG);
    assert_null(strstr(errstr, "hunter2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_urls_parse_into_their_parts),
        cmocka_unit_test(test_bad_urls_are_refused_with_reason),
        cmocka_unit_test(test_error_message_does_not_reveal_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
