/*
 * cvss_check.h - test support for test_cvss and test_cvss4: score a
 * vector that must parse, and compare scores the way the specifications
 * state them (one decimal).
 *
 * Failures are cmocka assertion failures (these run inside tests).
 */
#ifndef BF_TEST_CVSS_CHECK_H
#define BF_TEST_CVSS_CHECK_H

#include <math.h>

#include "libbf/cvss.h"

/* An expected score the vector does not have (NAN in bf_cvss_scores_t). */
#define BF_TEST_CVSS_NONE NAN

/** @brief The scores of @p vector; fails the test when it does not parse. */
bf_cvss_scores_t bf_test_cvss_score(const char *vector);

/**
 * @brief Fail unless @p got is @p want to one decimal (compared in tenths,
 *        so 3.9 and 3.8999999999999999 are equal); BF_TEST_CVSS_NONE
 *        matches only NAN. @p what names the score in the message.
 */
void bf_test_cvss_check(const char *vector, const char *what, double got, double want);

#endif
