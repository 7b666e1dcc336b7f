/*
 * test_http.c - libbf/http.c: credentials in URLs are redacted before they
 * are logged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/http.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls_are_redacted_before_logging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
