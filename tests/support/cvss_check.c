/*
 * cvss_check.c - see cvss_check.h.
 */
#include "support/cvss_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

bf_cvss_scores_t bf_test_cvss_score(const char *vector)
{
    bf_cvss_t v;
    bf_cvss_scores_t s;
    char errstr[256];
    if (bf_cvss_parse(vector, &v, errstr, sizeof(errstr)) != BF_OK)
        fail_msg("%s: %s", vector, errstr);
    assert_int_equal(bf_cvss_score(&v, &s), BF_OK);
    return s;
}

void bf_test_cvss_check(const char *vector, const char *what, double got, double want)
{
    if (isnan(want) ? !isnan(got) : isnan(got) || lround(got * 10) != lround(want * 10))
        fail_msg("%s: %s is %.1f, expected %.1f", vector, what, got, want);
}
