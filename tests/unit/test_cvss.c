/*
 * test_cvss.c - CVSS vectors (libbf/cvss.c): FIRST's published v3.x
 * examples score as published, the round up's edge cases, where v3.0 and
 * v3.1 differ, malformed vectors refused with a reason and never a score,
 * v3.x's free and v4.0's fixed order, the canonical form, ratings, and a
 * cross-check table of 1,400 vectors of every version. The v4.0 scores
 * themselves are in test_cvss4.c.
 *
 * Where the expected numbers come from:
 *  - v3.0 Base Scores: FIRST's "CVSS v3.0 Examples"
 *    (first.org/cvss/v3.0/examples), 19 vectors;
 *  - v3.1 Base Scores: FIRST's "CVSS v3.1 Examples"
 *    (first.org/cvss/v3.1/examples), 25 vectors, and the two vectors of
 *    the v3.1 specification's section 6 (its Temporal Score 3.7);
 *  - the other Temporal and Environmental Scores: ae-cvss-calculator
 *    1.0.13 (npm, {metæffekt}), an implementation independent of ours;
 *  - tests/data/cvss/expected.tsv: 1,400 seeded random vectors (300 v3.0,
 *    300 v3.1, 800 v4.0), also by ae-cvss-calculator (make_expected.mjs).
 * The FIRST numbers were checked against ae-cvss-calculator too. Outside
 * this suite, our scores were compared with it on every Base vector (2,592
 * per v3.x version, 104,976 for v4.0) and 80,000 random full vectors, with
 * no difference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "libbf/cvss.h"
#include "libbf/cvss_int.h"
#include "support/cvss_check.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NONE BF_TEST_CVSS_NONE

/* ------------------------------------------------------------------------
 * FIRST's examples
 */

typedef struct base_case_s {
    const char *vector;
    double base;
    bf_cvss_rating_t rating;
} base_case_t;

static void check_base_cases(const base_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bf_cvss_scores_t s = bf_test_cvss_score(cases[i].vector);
        bf_test_cvss_check(cases[i].vector, "base", s.base, cases[i].base);
        bf_test_cvss_check(cases[i].vector, "score", s.score, cases[i].base);
        if (s.rating != cases[i].rating)
            fail_msg("%s: rated %s", cases[i].vector, bf_cvss_rating_name(s.rating));
    }
}

#define LOW      BF_CVSS_RATING_LOW
#define MEDIUM   BF_CVSS_RATING_MEDIUM
#define HIGH     BF_CVSS_RATING_HIGH
#define CRITICAL BF_CVSS_RATING_CRITICAL

static void test_first_v3_0_examples_score_as_published(void **state)
{
    (void)state;
    static const base_case_t cases[] = {
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, MEDIUM}, /* CVE-2013-1937 */
        {"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, MEDIUM}, /* CVE-2013-0375 */
        {"CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, LOW},    /* CVE-2014-3566 */
        {"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9,
         CRITICAL},                                                  /* CVE-2012-1516 */
        {"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, HIGH}, /* CVE-2012-0384 */
        {"CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, HIGH}, /* CVE-2015-1098 */
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, HIGH}, /* CVE-2014-0160 */
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8,
         CRITICAL},                                                    /* CVE-2014-6271 */
        {"CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8, MEDIUM}, /* CVE-2008-1447 */
        {"CVSS:3.0/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, MEDIUM}, /* CVE-2014-2005 */
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8, MEDIUM}, /* CVE-2010-0467 */
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N", 5.8, MEDIUM}, /* CVE-2012-1342 */
        {"CVSS:3.0/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4, MEDIUM}, /* CVE-2014-9253 */
        {"CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, HIGH},   /* CVE-2009-0658 */
        {"CVSS:3.0/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8, HIGH},   /* CVE-2011-1265 */
        {"CVSS:3.0/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", 4.6, MEDIUM}, /* CVE-2014-2019 */
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, HIGH},   /* CVE-2015-0970 */
        {"CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", 7.4, HIGH},   /* CVE-2014-0224 */
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6,
         CRITICAL}, /* CVE-2012-5376 */
    };
    check_base_cases(cases, N(cases));
}

static void test_first_v3_1_examples_score_as_published(void **state)
{
    (void)state;
    static const base_case_t cases[] = {
        {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, MEDIUM}, /* CVE-2013-0375 */
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, LOW},    /* CVE-2014-3566 */
        {"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2, MEDIUM}, /* CVE-2009-0783 */
        {"CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2, HIGH},   /* CVE-2012-0384 */
        {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, HIGH},   /* CVE-2015-1098 */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, HIGH},   /* CVE-2014-0160 */
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8, MEDIUM}, /* CVE-2008-1447 */
        {"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, MEDIUM}, /* CVE-2014-2005 */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8, MEDIUM}, /* CVE-2010-0467 */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N", 5.8, MEDIUM}, /* CVE-2012-1342 */
        {"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3,
         CRITICAL},                                                    /* CVE-2013-6014 */
        {"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8, HIGH},   /* CVE-2011-1265 */
        {"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", 4.6, MEDIUM}, /* CVE-2014-2019 */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, HIGH},   /* CVE-2015-0970 */
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", 7.4, HIGH},   /* CVE-2014-0224 */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6,
         CRITICAL},                                                    /* CVE-2012-5376 */
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N", 6.8, MEDIUM}, /* CVE-2016-0128 */
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.5, HIGH},   /* CVE-2016-2118 */
        {"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:H", 9.0,
         CRITICAL},                                                    /* CVE-2019-7551 */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, MEDIUM}, /* CVE-2017-5942 */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:L", 8.6, HIGH},   /* CVE-2016-5558 */
        {"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 8.2, HIGH},   /* CVE-2016-5729 */
        {"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:N/I:H/A:H", 6.0, MEDIUM}, /* CVE-2015-2890 */
        {"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 7.6, HIGH},   /* CVE-2018-3652 */
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N", 4.2, MEDIUM}, /* CVE-2019-0884 */
        /* Section 6, "Vector String": the example, then the same with
         * E:F and RL:X "in a non-preferred ordering" (Temporal 3.7 below). */
        {"CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:N", 3.8, LOW},
        {"CVSS:3.1/S:U/AV:N/AC:L/PR:H/UI:N/C:L/I:L/A:N/E:F/RL:X", 3.8, LOW},
    };
    check_base_cases(cases, N(cases));
}

/* ------------------------------------------------------------------------
 * v3.x Temporal and Environmental Scores, and v3.0 against v3.1
 */

typedef struct v3_case_s {
    const char *vector;
    double base, temporal, environmental;
} v3_case_t;

static void check_v3_cases(const v3_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bf_cvss_scores_t s = bf_test_cvss_score(cases[i].vector);
        bf_test_cvss_check(cases[i].vector, "base", s.base, cases[i].base);
        bf_test_cvss_check(cases[i].vector, "temporal", s.temporal, cases[i].temporal);
        bf_test_cvss_check(cases[i].vector, "environmental", s.environmental,
                           cases[i].environmental);
        bf_test_cvss_check(cases[i].vector, "score", s.score, cases[i].base);
        assert_int_equal(s.nomenclature, BF_CVSS_B);
        bf_test_cvss_check(cases[i].vector, "v4 score", s.v4[BF_CVSS_B], NONE);
    }
}

static void test_v3_temporal_and_environmental_scores(void **state)
{
    (void)state;
    static const v3_case_t cases[] = {
        /* v3.1 section 6's example: 3.8 x E:F 0.97 = 3.686 -> 3.7. */
        {"CVSS:3.1/S:U/AV:N/AC:L/PR:H/UI:N/C:L/I:L/A:N/E:F/RL:X", 3.8, 3.7, 3.7},
        /* Explicit and omitted X are the same. */
        {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H/MAV:A/MAC:L/MPR:N/MUI:X/MS:U/"
         "CR:L/IR:H/AR:X",
         7.8, 7.8, 8.0},
        {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H/MAV:A/MAC:L/MPR:N/MS:U/CR:L/IR:H",
         7.8, 7.8, 8.0},
        /* MS:U undoes S:C; MS:C makes MPR:L weigh 0.68. */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/E:P/MS:U/CR:H", 10.0, 9.4, 9.3},
        {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H/MS:C", 8.8, 8.8, 10.0},
        /* No Base impact, but a modified one. */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N/MC:H", 0.0, 0.0, 7.5},
        /* Without Environmental metrics, the Environmental equations still
         * run (with every metric X): in v3.1 their Modified Impact for S:C
         * is not the Base one, so the score can differ from the Base. */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6, 9.6, 9.7},
        {"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 8.2, 8.2, 8.3},
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6, 9.6, 9.6},
    };
    check_v3_cases(cases, N(cases));
}

/* The same metrics under both versions: Base Scores never differ (true of
 * all 2,592 Base vectors), but the round up does in the Temporal Score
 * (5.0 x RC:U 0.92 is 4.6000000000000005: v3.0 4.7, v3.1 4.6), and the
 * Modified Impact formula for MS:C does in the Environmental Score. */
static void test_v3_0_and_v3_1_differ_in_round_up_and_modified_impact(void **state)
{
    (void)state;
    static const v3_case_t cases[] = {
        {"CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:C/C:N/I:N/A:H/E:H/RL:X/RC:U", 5.0, 4.7, 4.7},
        {"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:C/C:N/I:N/A:H/E:H/RL:X/RC:U", 5.0, 4.6, 4.6},
        {"CVSS:3.0/AV:N/AC:L/PR:L/UI:R/S:C/C:N/I:H/A:H/CR:X/IR:H/AR:H/MAV:X/MUI:R/MI:H",
         8.7, 8.7, 9.0},
        {"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:N/I:H/A:H/CR:X/IR:H/AR:H/MAV:X/MUI:R/MI:H",
         8.7, 8.7, 9.1},
        {"CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:C/C:H/I:L/A:H/E:X/RL:T/RC:X/CR:X/IR:M/AR:H/"
         "MAV:X/MAC:H/MS:X/MC:H",
         8.5, 8.2, 7.4},
        {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:C/C:H/I:L/A:H/E:X/RL:T/RC:X/CR:X/IR:M/AR:H/"
         "MAV:X/MAC:H/MS:X/MC:H",
         8.5, 8.2, 7.5},
        {"CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:C/C:N/I:L/A:H/IR:M/MAV:N/MAC:H/MPR:H/MC:L", 7.1,
         7.1, 7.2},
        {"CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:C/C:N/I:L/A:H/IR:M/MAV:N/MAC:H/MPR:H/MC:L", 7.1,
         7.1, 7.1},
    };
    check_v3_cases(cases, N(cases));
}

/* The round up on its own: v3.0 in floating point, v3.1 Appendix A. */
static void test_round_up_edge_cases(void **state)
{
    (void)state;
    static const struct {
        double in, v30, v31;
    } cases[] = {
        {4.000001, 4.1, 4.0},           /* Appendix A's own example of a float artefact */
        {4.000004, 4.1, 4.0},           /* below half a 1/100000 unit: still 4.0 */
        {4.00001, 4.1, 4.1},            /* one unit: a real excess */
        {4.02, 4.1, 4.1},               /* the v3.0 specification's example */
        {4.0, 4.0, 4.0},                /* its other example */
        {4.6000000000000005, 4.7, 4.6}, /* 5.0 x 0.92 in floating point */
        {6.300000000000001, 6.4, 6.3},  /* 2.1 x 3 */
        {0.0, 0.0, 0.0},
        {0.01, 0.1, 0.1},
        {9.99, 10.0, 10.0},
        {10.0, 10.0, 10.0},
    };
    for (size_t i = 0; i < N(cases); i++) {
        double v30 = bf_cvss_roundup(BF_CVSS_V3_0, cases[i].in);
        double v31 = bf_cvss_roundup(BF_CVSS_V3_1, cases[i].in);
        if (v30 != cases[i].v30 || v31 != cases[i].v31)
            fail_msg("roundup(%.17g): v3.0 %.17g, v3.1 %.17g", cases[i].in, v30, v31);
    }
}

/* ------------------------------------------------------------------------
 * Malformed vectors
 */

static void test_malformed_vectors_get_an_error_never_a_score(void **state)
{
    (void)state;
    static const struct {
        const char *vector;
        bf_err_t err;
        const char *says;
    } cases[] = {
        /* The v4.0 specification's invalid examples (section 7). */
        {"CVSS:4.0/AV:F/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N", BF_ERR_SCHEMA,
         "metric AV: unknown value 'F'"},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N/E:A/E:X",
         BF_ERR_SCHEMA, "metric E is given more than once"},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/ui:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N", BF_ERR_SCHEMA,
         "unknown metric 'ui'"},
        {"AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N", BF_ERR_PARSE,
         "missing the CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/ prefix"},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/SC:N/SI:N/SA:N",
         BF_ERR_MISSING_FIELD, "missing mandatory metric VA"},
        {"CVSS:4.0/AC:L/AV:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N/CR:L/IR:X/AR:L/"
         "RE:H/MAV:A/MAC:H/MAT:N/MPR:N/MUI:P/AT:N/MVC:X/MVI:N/MVA:H/MSC:N/MSI:L/MSA:S/"
         "E:U/S:N/AU:N/R:I/V:C/U:Green",
         BF_ERR_SCHEMA, "metric AV comes after AC: CVSS 4.0 fixes the order"},
        /* v4.0: Threat before Base, Supplemental before Environmental. */
        {"CVSS:4.0/E:A/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N",
         BF_ERR_SCHEMA, "metric AV comes after E"},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N/U:Red/CR:H",
         BF_ERR_SCHEMA, "metric CR comes after U"},
        /* Values are case-sensitive, X is no value of a Base metric. */
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N/U:red",
         BF_ERR_SCHEMA, "metric U: unknown value 'red'"},
        {"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_SCHEMA,
         "metric AV: unknown value 'X'"},
        {"CVSS:3.1/AV:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_SCHEMA,
         "metric AV: unknown value 'n'"},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:", BF_ERR_SCHEMA,
         "metric A: unknown value ''"},
        /* v3.x: every mistake but order. */
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", BF_ERR_MISSING_FIELD,
         "missing mandatory metric A"},
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H", BF_ERR_MISSING_FIELD,
         "missing mandatory metric S"},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:L", BF_ERR_SCHEMA,
         "metric AV is given more than once"},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:X/E:X", BF_ERR_SCHEMA,
         "metric E is given more than once"},
        {"CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_SCHEMA,
         "unknown metric 'AT' in CVSS 3.1"},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N/S:U",
         BF_ERR_SCHEMA, "metric S: unknown value 'U'"},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", BF_ERR_PARSE, "empty metric"},
        {"CVSS:3.1/AV:N//AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_PARSE, "empty metric"},
        {"CVSS:3.1/AV:N/AC/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_PARSE,
         "'AC' is not METRIC:VALUE"},
        {"CVSS:3.1/AV:N:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_SCHEMA,
         "metric AV: unknown value 'N:L'"},
        {"CVSS:3.1/AV:N /AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_SCHEMA,
         "metric AV: unknown value 'N '"},
        {"CVSS:3.1/AV:N\t/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_SCHEMA,
         "metric AV: unknown value 'N?'"},
        /* Prefixes. */
        {"CVSS:3.1", BF_ERR_PARSE, "no metrics after CVSS:3.1"},
        {"CVSS:4.0/", BF_ERR_PARSE, "no metrics after CVSS:4.0/"},
        {"CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_PARSE,
         "unsupported CVSS version '3.2'"},
        {"CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", BF_ERR_PARSE,
         "unsupported CVSS version '2.0'"},
        {"CVSS:3.1/CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_SCHEMA,
         "unknown metric 'CVSS'"},
        {"cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_PARSE, "prefix"},
        {"CVSS3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_PARSE, "prefix"},
        {" CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BF_ERR_PARSE, "prefix"},
        {"AV:N/AC:L/Au:N/C:P/I:P/A:P", BF_ERR_PARSE, "prefix"}, /* CVSS v2 */
        {"", BF_ERR_PARSE, "prefix"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        bf_cvss_t v, before;
        memset(&v, 0xa5, sizeof(v));
        before = v;
        char errstr[256] = "";
        bf_err_t err = bf_cvss_parse(cases[i].vector, &v, errstr, sizeof(errstr));
        if (err != cases[i].err || !strstr(errstr, cases[i].says))
            fail_msg("'%s': %s, \"%s\"", cases[i].vector, bf_err_name(err), errstr);
        for (const char *p = errstr; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                fail_msg("'%s': reason \"%s\" is not one printable line", cases[i].vector,
                         errstr);
        assert_memory_equal(&v, &before, sizeof(v)); /* nothing to score */
    }
}

static void test_oversized_and_null_vectors_are_refused(void **state)
{
    (void)state;
    char errstr[128];
    bf_cvss_t v;
    /* A vector padded with "/E:X" to exactly the bound is parsed (and
     * refused for the repeated metric); four bytes more and it is refused
     * for its length before anything is parsed. */
    char big[2 * BF_CVSS_MAX_VECTOR];
    int n = snprintf(big, sizeof(big), "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
    while (n < BF_CVSS_MAX_VECTOR)
        n += snprintf(big + n, sizeof(big) - (size_t)n, "/E:X");
    assert_int_equal(n, BF_CVSS_MAX_VECTOR);
    assert_int_equal(bf_cvss_parse(big, &v, errstr, sizeof(errstr)), BF_ERR_SCHEMA);
    assert_non_null(strstr(errstr, "metric E is given more than once"));
    snprintf(big + n, sizeof(big) - (size_t)n, "/E:X");
    assert_int_equal(bf_cvss_parse(big, &v, errstr, sizeof(errstr)), BF_ERR_TOO_LARGE);
    assert_non_null(strstr(errstr, "longer than 256 bytes"));
    assert_int_equal(bf_cvss_parse(NULL, &v, errstr, sizeof(errstr)), BF_ERR_INVALID_ARG);
    assert_int_equal(bf_cvss_parse("CVSS:3.1/AV:N", NULL, NULL, 0), BF_ERR_INVALID_ARG);
    /* errstr is optional. */
    assert_int_equal(bf_cvss_parse("CVSS:3.1/AV:N", &v, NULL, 0), BF_ERR_MISSING_FIELD);
}

/* What a message or the CLI shows of untrusted text: one printable line. */
static void test_printable_keeps_untrusted_text_to_one_line(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(bf_cvss_printable("CVSS:3.1/AV:N", 13, 24, buf, sizeof(buf)),
                        "CVSS:3.1/AV:N");
    assert_string_equal(
        bf_cvss_printable("a\tb\r\n\x7f\xc3\xa9", 8, 24, buf, sizeof(buf)), "a?b?????");
    assert_string_equal(bf_cvss_printable("a\0b", 3, 24, buf, sizeof(buf)), "a?b");
    assert_string_equal(bf_cvss_printable("0123456789", 10, 4, buf, sizeof(buf)),
                        "0123...");
    /* A small buffer cuts, still NUL-terminated; max + 4 always fits. */
    assert_string_equal(bf_cvss_printable("0123456789", 10, 24, buf, 5), "0123");
    assert_string_equal(bf_cvss_printable("0123456789", 10, 4, buf, 8), "0123...");
    buf[0] = 'x';
    bf_cvss_printable("abc", 3, 24, buf, 0); /* nothing written */
    assert_int_equal(buf[0], 'x');
}

/* ------------------------------------------------------------------------
 * Order, Not Defined and the canonical form
 */

/* v3.x allows any order: every rotation of the metrics scores alike and
 * formats to the specification's order. */
static void test_v3_metrics_may_come_in_any_order(void **state)
{
    (void)state;
    static const char *const metrics[] = {"AV:N", "AC:H",  "PR:L", "UI:R", "S:C",
                                          "C:H",  "I:L",   "A:N",  "E:P",  "RC:R",
                                          "CR:H", "MAV:L", "MS:U", "MI:H"};
    const char *canonical = "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:C/C:H/I:L/A:N/E:P/RC:R/CR:H/"
                            "MAV:L/MS:U/MI:H";
    bf_cvss_scores_t want = bf_test_cvss_score(canonical);
    for (size_t r = 0; r < N(metrics); r++) {
        char vector[BF_CVSS_MAX_VECTOR + 1];
        int n = snprintf(vector, sizeof(vector), "CVSS:3.1");
        for (size_t i = 0; i < N(metrics); i++)
            n += snprintf(vector + n, sizeof(vector) - (size_t)n, "/%s",
                          metrics[(i + r) % N(metrics)]);
        bf_cvss_t v;
        char out[BF_CVSS_MAX_VECTOR + 1];
        assert_int_equal(bf_cvss_parse(vector, &v, NULL, 0), BF_OK);
        bf_cvss_format(&v, out, sizeof(out));
        assert_string_equal(out, canonical);
        bf_cvss_scores_t s = bf_test_cvss_score(vector);
        bf_test_cvss_check(vector, "base", s.base, want.base);
        bf_test_cvss_check(vector, "temporal", s.temporal, want.temporal);
        bf_test_cvss_check(vector, "environmental", s.environmental, want.environmental);
    }
}

/* v4.0 fixes the order: swapping any two neighbours of a valid vector is
 * refused, whichever groups they belong to. */
static void test_v4_order_is_fixed(void **state)
{
    (void)state;
    static const char *const metrics[] = {
        "AV:N",  "AC:L",  "AT:N",  "PR:H",  "UI:N",  "VC:L",  "VI:L",  "VA:N",
        "SC:N",  "SI:N",  "SA:N",  "E:U",   "CR:L",  "IR:X",  "AR:L",  "MAV:A",
        "MAC:H", "MAT:N", "MPR:N", "MUI:P", "MVC:X", "MVI:N", "MVA:H", "MSC:N",
        "MSI:L", "MSA:S", "S:N",   "AU:N",  "R:I",   "V:C",   "RE:H",  "U:Green"};
    for (size_t swap = 0; swap + 1 < N(metrics); swap++) {
        char vector[BF_CVSS_MAX_VECTOR + 1];
        int n = snprintf(vector, sizeof(vector), "CVSS:4.0");
        for (size_t i = 0; i < N(metrics); i++) {
            size_t j = i == swap ? swap + 1 : i == swap + 1 ? swap : i;
            n += snprintf(vector + n, sizeof(vector) - (size_t)n, "/%s", metrics[j]);
        }
        bf_cvss_t v;
        char errstr[256];
        bf_err_t err = bf_cvss_parse(vector, &v, errstr, sizeof(errstr));
        if (err != BF_ERR_SCHEMA || !strstr(errstr, "fixes the order"))
            fail_msg("%s: %s \"%s\"", vector, bf_err_name(err), errstr);
    }
}

/* A metric given as X is the same as a metric left out (v3.1 section 6,
 * v4.0 section 7), for scores and for the canonical form. */
static void test_not_defined_is_the_same_as_absent(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:X/RL:X/RC:X/CR:X/IR:X/AR:X/"
         "MAV:X/MAC:X/MPR:X/MUI:X/MS:X/MC:X/MI:X/MA:X",
         "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
        {"CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:L/E:X/MS:X",
         "CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:L"},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X/CR:X/IR:X/"
         "AR:X/MAV:X/MAC:X/MAT:X/MPR:X/MUI:X/MVC:X/MVI:X/MVA:X/MSC:X/MSI:X/MSA:X/S:X/"
         "AU:X/R:X/V:X/RE:X/U:X",
         "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
    };
    for (size_t i = 0; i < N(pairs); i++) {
        bf_cvss_t a, b;
        assert_int_equal(bf_cvss_parse(pairs[i][0], &a, NULL, 0), BF_OK);
        assert_int_equal(bf_cvss_parse(pairs[i][1], &b, NULL, 0), BF_OK);
        assert_memory_equal(&a, &b, sizeof(a));
        char out[BF_CVSS_MAX_VECTOR + 1];
        assert_int_equal(bf_cvss_format(&a, out, sizeof(out)), strlen(pairs[i][1]));
        assert_string_equal(out, pairs[i][1]);
        bf_cvss_scores_t s = bf_test_cvss_score(pairs[i][0]);
        assert_int_equal(s.nomenclature, BF_CVSS_B);
    }
}

static void test_format_truncates_like_snprintf(void **state)
{
    (void)state;
    const char *vector =
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/U:Amber";
    bf_cvss_t v;
    assert_int_equal(bf_cvss_parse(vector, &v, NULL, 0), BF_OK);
    char out[16];
    assert_int_equal(bf_cvss_format(&v, out, sizeof(out)), strlen(vector));
    assert_string_equal(out, "CVSS:4.0/AV:N/A");
    assert_int_equal(bf_cvss_format(&v, NULL, 0), strlen(vector));
    /* The longest valid vector fits the bound. */
    const char *longest = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/"
                          "SA:N/E:A/CR:H/IR:H/AR:H/MAV:N/MAC:L/MAT:N/MPR:N/MUI:N/MVC:H/"
                          "MVI:H/MVA:H/MSC:H/MSI:S/MSA:S/S:P/AU:Y/R:I/V:C/RE:H/U:Amber";
    assert_int_equal(strlen(longest), 178);
    assert_int_equal(bf_cvss_parse(longest, &v, NULL, 0), BF_OK);
    char full[BF_CVSS_MAX_VECTOR + 1];
    assert_int_equal(bf_cvss_format(&v, full, sizeof(full)), 178);
    assert_string_equal(full, longest);
}

/* ------------------------------------------------------------------------
 * Ratings and names
 */

static void test_rating_follows_the_severity_scale(void **state)
{
    (void)state;
    static const struct {
        double score;
        bf_cvss_rating_t rating;
    } cases[] = {
        {0.0, BF_CVSS_RATING_NONE},      {0.1, BF_CVSS_RATING_LOW},
        {3.9, BF_CVSS_RATING_LOW},       {4.0, BF_CVSS_RATING_MEDIUM},
        {6.9, BF_CVSS_RATING_MEDIUM},    {7.0, BF_CVSS_RATING_HIGH},
        {8.9, BF_CVSS_RATING_HIGH},      {9.0, BF_CVSS_RATING_CRITICAL},
        {10.0, BF_CVSS_RATING_CRITICAL},
    };
    for (size_t i = 0; i < N(cases); i++)
        if (bf_cvss_rating_of(cases[i].score) != cases[i].rating)
            fail_msg("%.1f is %s", cases[i].score,
                     bf_cvss_rating_name(bf_cvss_rating_of(cases[i].score)));
    assert_int_equal(bf_cvss_rating_of(NAN), BF_CVSS_RATING_NONE);
}

/* The worker compares a report's claimed_severity ("CRITICAL", "High")
 * with the rating of its vector. */
static void test_rating_names_parse_case_insensitively(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bf_cvss_rating_t rating;
    } good[] = {
        {"None", BF_CVSS_RATING_NONE},         {"NONE", BF_CVSS_RATING_NONE},
        {"low", BF_CVSS_RATING_LOW},           {"Medium", BF_CVSS_RATING_MEDIUM},
        {"MEDIUM", BF_CVSS_RATING_MEDIUM},     {"High", BF_CVSS_RATING_HIGH},
        {"critical", BF_CVSS_RATING_CRITICAL}, {"CriTical", BF_CVSS_RATING_CRITICAL},
    };
    for (size_t i = 0; i < N(good); i++) {
        bf_cvss_rating_t r = BF_CVSS_RATING__COUNT;
        assert_int_equal(bf_cvss_rating_parse(good[i].name, &r), BF_OK);
        assert_int_equal(r, good[i].rating);
    }
    static const char *const bad[] = {"",      "crit", "severe",
                                      "High ", " low", "informational"};
    for (size_t i = 0; i < N(bad); i++) {
        bf_cvss_rating_t r = BF_CVSS_RATING_HIGH;
        assert_int_equal(bf_cvss_rating_parse(bad[i], &r), BF_ERR_PARSE);
        assert_int_equal(r, BF_CVSS_RATING_HIGH);
    }
    bf_cvss_rating_t r;
    assert_int_equal(bf_cvss_rating_parse(NULL, &r), BF_ERR_INVALID_ARG);
    /* Names round-trip. */
    for (int i = 0; i < BF_CVSS_RATING__COUNT; i++) {
        assert_int_equal(
            bf_cvss_rating_parse(bf_cvss_rating_name((bf_cvss_rating_t)i), &r), BF_OK);
        assert_int_equal(r, i);
    }
    assert_string_equal(bf_cvss_rating_name(BF_CVSS_RATING_CRITICAL), "Critical");
    assert_string_equal(bf_cvss_rating_name(BF_CVSS_RATING__COUNT), "?");
}

static void test_version_and_nomenclature_names(void **state)
{
    (void)state;
    assert_string_equal(bf_cvss_version_name(BF_CVSS_V3_0), "3.0");
    assert_string_equal(bf_cvss_version_name(BF_CVSS_V3_1), "3.1");
    assert_string_equal(bf_cvss_version_name(BF_CVSS_V4_0), "4.0");
    assert_string_equal(bf_cvss_version_name(BF_CVSS_VERSION__COUNT), "?");
    assert_string_equal(bf_cvss_nomenclature_name(BF_CVSS_BTE), "CVSS-BTE");
    assert_string_equal(bf_cvss_nomenclature_name(BF_CVSS_NOMENCLATURE__COUNT), "?");
}

/* The struct is public, so a caller can fill it by hand: values no vector
 * can have are refused, not read past a table. */
static void test_score_refuses_values_no_vector_has(void **state)
{
    (void)state;
    bf_cvss_t v;
    bf_cvss_scores_t s;
    char out[BF_CVSS_MAX_VECTOR + 1];
    assert_int_equal(
        bf_cvss_parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", &v, NULL, 0),
        BF_OK);
    bf_cvss_t bad = v;
    bad.values[0] = 4; /* AV has 4 values */
    assert_int_equal(bf_cvss_score(&bad, &s), BF_ERR_INVALID_ARG);
    assert_int_equal(bf_cvss_format(&bad, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    bad = v;
    bad.values[25] = 1; /* v3.x has 22 metrics */
    assert_int_equal(bf_cvss_score(&bad, &s), BF_ERR_INVALID_ARG);
    bad = v;
    bad.version = BF_CVSS_VERSION__COUNT;
    assert_int_equal(bf_cvss_score(&bad, &s), BF_ERR_INVALID_ARG);
    assert_int_equal(bf_cvss_score(NULL, &s), BF_ERR_INVALID_ARG);
    assert_int_equal(bf_cvss_score(&v, NULL), BF_ERR_INVALID_ARG);
    /* All zeros is a valid v3.0 vector (every Base metric's first value). */
    memset(&v, 0, sizeof(v));
    assert_int_equal(bf_cvss_score(&v, &s), BF_OK);
    bf_cvss_format(&v, out, sizeof(out));
    assert_string_equal(out, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
}

/* ------------------------------------------------------------------------
 * The cross-check table
 */

/* Compare one "key=value" of expected.tsv with our scores. */
static void check_expected_value(const char *vector, const bf_cvss_scores_t *s,
                                 const char *key, size_t key_len, double want)
{
    static const struct {
        const char *key;
        size_t offset;
    } fields[] = {
        {"score", offsetof(bf_cvss_scores_t, score)},
        {"temporal", offsetof(bf_cvss_scores_t, temporal)},
        {"environmental", offsetof(bf_cvss_scores_t, environmental)},
        {"CVSS-B", offsetof(bf_cvss_scores_t, v4) + BF_CVSS_B * sizeof(double)},
        {"CVSS-BT", offsetof(bf_cvss_scores_t, v4) + BF_CVSS_BT * sizeof(double)},
        {"CVSS-BE", offsetof(bf_cvss_scores_t, v4) + BF_CVSS_BE * sizeof(double)},
    };
    for (size_t i = 0; i < N(fields); i++)
        if (strlen(fields[i].key) == key_len &&
            memcmp(fields[i].key, key, key_len) == 0) {
            double got;
            memcpy(&got, (const char *)s + fields[i].offset, sizeof(got));
            bf_test_cvss_check(vector, fields[i].key, got, want);
            return;
        }
    fail_msg("expected.tsv: unknown key '%.*s'", (int)key_len, key);
}

static void test_scores_agree_with_the_cross_check_table(void **state)
{
    (void)state;
    const char *path = BF_SOURCE_DIR "/tests/data/cvss/expected.tsv";
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    char line[1024];
    int vectors[BF_CVSS_VERSION__COUNT] = {0}, checks = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *tab = strchr(line, '\t');
        if (!tab)
            fail_msg("expected.tsv: no tab in '%s'", line);
        *tab = '\0';
        bf_cvss_scores_t s = bf_test_cvss_score(line);
        vectors[s.version]++;
        for (char *kv = tab + 1; *kv;) {
            size_t len = strcspn(kv, " ");
            char *eq = memchr(kv, '=', len);
            if (!eq)
                fail_msg("expected.tsv: '%.*s' is not key=value", (int)len, kv);
            check_expected_value(line, &s, kv, (size_t)(eq - kv), strtod(eq + 1, NULL));
            checks++;
            kv += len + (kv[len] == ' ');
        }
        assert_int_equal(s.rating, bf_cvss_rating_of(s.score));
    }
    fclose(f);
    /* The table is what make_expected.mjs writes: 300 + 300 + 800. */
    assert_int_equal(vectors[BF_CVSS_V3_0], 300);
    assert_int_equal(vectors[BF_CVSS_V3_1], 300);
    assert_int_equal(vectors[BF_CVSS_V4_0], 800);
    assert_true(checks > 3 * 600 + 2 * 800);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_v3_0_examples_score_as_published),
        cmocka_unit_test(test_first_v3_1_examples_score_as_published),
        cmocka_unit_test(test_v3_temporal_and_environmental_scores),
        cmocka_unit_test(test_v3_0_and_v3_1_differ_in_round_up_and_modified_impact),
        cmocka_unit_test(test_round_up_edge_cases),
        cmocka_unit_test(test_malformed_vectors_get_an_error_never_a_score),
        cmocka_unit_test(test_oversized_and_null_vectors_are_refused),
        cmocka_unit_test(test_printable_keeps_untrusted_text_to_one_line),
        cmocka_unit_test(test_v3_metrics_may_come_in_any_order),
        cmocka_unit_test(test_v4_order_is_fixed),
        cmocka_unit_test(test_not_defined_is_the_same_as_absent),
        cmocka_unit_test(test_format_truncates_like_snprintf),
        cmocka_unit_test(test_rating_follows_the_severity_scale),
        cmocka_unit_test(test_rating_names_parse_case_insensitively),
        cmocka_unit_test(test_version_and_nomenclature_names),
        cmocka_unit_test(test_score_refuses_values_no_vector_has),
        cmocka_unit_test(test_scores_agree_with_the_cross_check_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
