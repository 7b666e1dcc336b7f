/*
 * test_cvss.c - CVSS vectors (libbf/cvss.c, libbf/cvss4.c): FIRST's
 * published examples score as published, the round up's edge cases, where
 * v3.0 and v3.1 differ, v4.0's groups and rounding, malformed vectors
 * refused with a reason and never a score, the canonical form, ratings,
 * and a cross-check table of 1,400 vectors.
 *
 * Where the expected numbers come from:
 *  - v3.0 Base Scores: FIRST's "CVSS v3.0 Examples"
 *    (first.org/cvss/v3.0/examples), 19 vectors;
 *  - v3.1 Base Scores: FIRST's "CVSS v3.1 Examples"
 *    (first.org/cvss/v3.1/examples), 25 vectors, and the two vectors of
 *    the v3.1 specification's section 6 (its Temporal Score 3.7);
 *  - v4.0: FIRST's calculator validation set
 *    (github.com/FIRSTdotorg/cvss-resources, vectorFiles/reference-scores),
 *    36 vectors, 20 of them highest-severity vectors of a MacroVector and
 *    16 random ones with every metric group;
 *  - Temporal and Environmental Scores, the v4.0 specification's sample
 *    vectors (section 7) and every group score: ae-cvss-calculator 1.0.13
 *    (npm, {metæffekt}), an implementation independent of ours;
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

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NONE NAN /* a score the vector does not have */

/* ------------------------------------------------------------------------
 * Helpers
 */

static bf_cvss_scores_t score_of(const char *vector)
{
    bf_cvss_t v;
    bf_cvss_scores_t s;
    char errstr[256];
    if (bf_cvss_parse(vector, &v, errstr, sizeof(errstr)) != BF_OK)
        fail_msg("%s: %s", vector, errstr);
    assert_int_equal(bf_cvss_score(&v, &s), BF_OK);
    return s;
}

/* Scores have one decimal: compare them in tenths; NONE matches only NAN. */
static void check_score(const char *vector, const char *what, double got, double want)
{
    if (isnan(want) ? !isnan(got) : isnan(got) || lround(got * 10) != lround(want * 10))
        fail_msg("%s: %s is %.1f, expected %.1f", vector, what, got, want);
}

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
        bf_cvss_scores_t s = score_of(cases[i].vector);
        check_score(cases[i].vector, "base", s.base, cases[i].base);
        check_score(cases[i].vector, "score", s.score, cases[i].base);
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
        bf_cvss_scores_t s = score_of(cases[i].vector);
        check_score(cases[i].vector, "base", s.base, cases[i].base);
        check_score(cases[i].vector, "temporal", s.temporal, cases[i].temporal);
        check_score(cases[i].vector, "environmental", s.environmental,
                    cases[i].environmental);
        check_score(cases[i].vector, "score", s.score, cases[i].base);
        assert_int_equal(s.nomenclature, BF_CVSS_B);
        check_score(cases[i].vector, "v4 score", s.v4[BF_CVSS_B], NONE);
    }
}

static void test_v3_temporal_and_environmental_scores(void **state)
{
    (void)state;
    static const v3_case_t cases[] = {
        /* v3.1 section 6's example: 3.8 x E:F 0.97 = 3.686 -> 3.7. */
        {"CVSS:3.1/S:U/AV:N/AC:L/PR:H/UI:N/C:L/I:L/A:N/E:F/RL:X", 3.8, 3.7, 3.7},
        /* Explicit and omitted X are the same. */
        {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H/MAV:A/MAC:L/MPR:N/MUI:X/MS:U/CR:L/"
         "IR:H/AR:X",
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
         "MAV:X/"
         "MAC:H/MS:X/MC:H",
         8.5, 8.2, 7.4},
        {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:C/C:H/I:L/A:H/E:X/RL:T/RC:X/CR:X/IR:M/AR:H/"
         "MAV:X/"
         "MAC:H/MS:X/MC:H",
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
 * v4.0
 */

static void test_v4_first_reference_scores(void **state)
{
    (void)state;
    static const struct {
        const char *vector;
        double score;
    } cases[] = {
        /* Highest severity vectors of MacroVectors (the set's first part). */
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A/CR:H/IR:H/"
         "AR:H/"
         "MSI:S/MSA:S",
         10.0},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P/CR:H/IR:H/"
         "AR:H/"
         "MSI:S/MSA:S",
         9.8},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U/CR:H/IR:H/"
         "AR:H/"
         "MSI:S/MSA:S",
         9.5},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P/CR:H/IR:H/"
         "AR:H",
         9.3},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:U/CR:H/IR:H/"
         "AR:H",
         8.1},
        {"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:U/CR:H/IR:H/"
         "AR:H",
         7.2},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:U/CR:M/IR:M/"
         "AR:M",
         6.8},
        {"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:U/CR:M/IR:M/"
         "AR:M",
         5.3},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:H/SC:L/SI:L/SA:L/E:U/CR:H/IR:H/"
         "AR:H",
         6.9},
        {"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:H/SC:L/SI:L/SA:L/E:U/CR:M/IR:H/"
         "AR:M",
         3.0},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L/E:U/CR:H/IR:H/"
         "AR:H",
         2.7},
        {"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L/E:U/CR:H/IR:H/"
         "AR:H",
         1.7},
        {"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A/CR:H/IR:H/"
         "AR:H/"
         "MSI:S/MSA:S",
         9.8},
        {"CVSS:4.0/AV:A/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U/CR:H/IR:H/"
         "AR:H",
         6.1},
        {"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U/CR:M/IR:M/"
         "AR:M",
         6.4},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:H/SI:H/SA:H/E:A/CR:H/IR:H/"
         "AR:H/"
         "MSI:S/MSA:S",
         9.2},
        {"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:L/SC:H/SI:H/SA:H/E:U/CR:H/IR:H/"
         "AR:H/"
         "MSI:S/MSA:S",
         5.2},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:H/SC:H/SI:H/SA:H/E:U/CR:M/IR:H/"
         "AR:M",
         6.5},
        {"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:H/SC:H/SI:H/SA:H/E:U/CR:M/IR:H/"
         "AR:M/"
         "MSI:S/MSA:S",
         7.3},
        {"CVSS:4.0/AV:A/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:P/CR:H/IR:H/"
         "AR:H",
         6.8},
        /* Random vectors with every group, Supplemental included. */
        {"CVSS:4.0/AV:P/AC:L/AT:N/PR:L/UI:A/VC:N/VI:H/VA:L/SC:H/SI:H/SA:H/E:P/CR:H/IR:H/"
         "AR:H/"
         "MAV:A/MAC:X/MAT:N/MPR:X/MUI:X/MVC:N/MVI:H/MVA:H/MSC:N/MSI:H/MSA:S/S:N/AU:X/R:I/"
         "V:X/"
         "RE:M/U:Clear",
         7.1},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:H/SI:L/SA:L/E:A/CR:H/IR:X/"
         "AR:H/"
         "MAV:P/MAC:X/MAT:X/MPR:H/MUI:A/MVC:H/MVI:X/MVA:X/MSC:L/MSI:L/MSA:H/S:X/AU:Y/R:A/"
         "V:X/"
         "RE:L/U:Green",
         7.0},
        {"CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:P/VC:N/VI:N/VA:H/SC:H/SI:N/SA:N/E:A/CR:M/IR:X/"
         "AR:M/"
         "MAV:N/MAC:L/MAT:P/MPR:N/MUI:A/MVC:L/MVI:X/MVA:H/MSC:H/MSI:N/MSA:L/S:N/AU:N/R:A/"
         "V:X/"
         "RE:L/U:Red",
         5.7},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:L/VA:H/SC:L/SI:H/SA:N/E:X/CR:H/IR:X/"
         "AR:X/"
         "MAV:A/MAC:X/MAT:P/MPR:X/MUI:N/MVC:X/MVI:N/MVA:L/MSC:X/MSI:X/MSA:L/S:P/AU:Y/R:U/"
         "V:C/"
         "RE:M/U:Red",
         7.1},
        {"CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:N/VC:N/VI:H/VA:L/SC:L/SI:H/SA:N/E:U/CR:X/IR:L/"
         "AR:H/"
         "MAV:P/MAC:L/MAT:P/MPR:X/MUI:A/MVC:N/MVI:X/MVA:X/MSC:L/MSI:H/MSA:X/S:N/AU:X/R:X/"
         "V:C/"
         "RE:H/U:Amber",
         0.6},
        {"CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:A/VC:H/VI:H/VA:N/SC:N/SI:N/SA:H/E:X/CR:X/IR:X/"
         "AR:M/"
         "MAV:N/MAC:X/MAT:X/MPR:L/MUI:A/MVC:H/MVI:N/MVA:X/MSC:H/MSI:N/MSA:N/S:X/AU:X/R:X/"
         "V:C/"
         "RE:M/U:Green",
         6.8},
        {"CVSS:4.0/AV:P/AC:L/AT:N/PR:H/UI:A/VC:H/VI:L/VA:H/SC:N/SI:N/SA:L/E:X/CR:X/IR:H/"
         "AR:M/"
         "MAV:P/MAC:L/MAT:N/MPR:H/MUI:N/MVC:N/MVI:N/MVA:L/MSC:N/MSI:L/MSA:S/S:X/AU:Y/R:X/"
         "V:C/"
         "RE:L/U:Clear",
         6.0},
        {"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:P/VC:N/VI:H/VA:H/SC:H/SI:N/SA:L/E:A/CR:H/IR:M/"
         "AR:M/"
         "MAV:N/MAC:X/MAT:P/MPR:X/MUI:A/MVC:H/MVI:L/MVA:L/MSC:X/MSI:S/MSA:L/S:P/AU:X/R:X/"
         "V:C/"
         "RE:L/U:Clear",
         8.6},
        {"CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:N/VC:H/VI:L/VA:L/SC:H/SI:H/SA:H/E:X/CR:L/IR:L/"
         "AR:X/"
         "MAV:L/MAC:H/MAT:P/MPR:L/MUI:A/MVC:N/MVI:N/MVA:X/MSC:H/MSI:L/MSA:S/S:P/AU:N/R:U/"
         "V:X/"
         "RE:L/U:Green",
         4.8},
        {"CVSS:4.0/AV:N/AC:H/AT:P/PR:L/UI:A/VC:L/VI:L/VA:H/SC:L/SI:N/SA:L/E:U/CR:X/IR:H/"
         "AR:M/"
         "MAV:L/MAC:X/MAT:P/MPR:H/MUI:X/MVC:L/MVI:N/MVA:N/MSC:L/MSI:S/MSA:H/S:N/AU:X/R:U/"
         "V:D/"
         "RE:H/U:Red",
         1.1},
        {"CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:P/VC:H/VI:N/VA:L/SC:L/SI:L/SA:L/E:U/CR:L/IR:H/"
         "AR:H/"
         "MAV:P/MAC:X/MAT:N/MPR:L/MUI:P/MVC:L/MVI:L/MVA:X/MSC:X/MSI:H/MSA:X/S:X/AU:X/R:A/"
         "V:X/"
         "RE:X/U:X",
         0.3},
        {"CVSS:4.0/AV:P/AC:H/AT:N/PR:L/UI:P/VC:H/VI:N/VA:N/SC:L/SI:L/SA:L/E:A/CR:X/IR:M/"
         "AR:X/"
         "MAV:L/MAC:L/MAT:X/MPR:N/MUI:P/MVC:N/MVI:N/MVA:H/MSC:L/MSI:S/MSA:H/S:N/AU:Y/R:U/"
         "V:X/"
         "RE:M/U:Amber",
         9.2},
        {"CVSS:4.0/AV:P/AC:H/AT:N/PR:L/UI:N/VC:N/VI:L/VA:N/SC:L/SI:N/SA:N/E:X/CR:M/IR:X/"
         "AR:H/"
         "MAV:X/MAC:L/MAT:X/MPR:X/MUI:A/MVC:H/MVI:H/MVA:X/MSC:H/MSI:X/MSA:L/S:P/AU:X/R:X/"
         "V:X/"
         "RE:M/U:X",
         8.2},
        {"CVSS:4.0/AV:L/AC:L/AT:P/PR:N/UI:P/VC:H/VI:N/VA:N/SC:N/SI:N/SA:H/E:X/CR:H/IR:H/"
         "AR:X/"
         "MAV:L/MAC:L/MAT:X/MPR:N/MUI:X/MVC:N/MVI:X/MVA:H/MSC:L/MSI:S/MSA:S/S:N/AU:X/R:A/"
         "V:X/"
         "RE:H/U:Green",
         8.6},
        {"CVSS:4.0/AV:N/AC:H/AT:N/PR:L/UI:A/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N/E:A/CR:M/IR:L/"
         "AR:M/"
         "MAV:N/MAC:H/MAT:X/MPR:H/MUI:N/MVC:X/MVI:L/MVA:X/MSC:H/MSI:S/MSA:L/S:X/AU:X/R:U/"
         "V:X/"
         "RE:X/U:Clear",
         7.4},
        {"CVSS:4.0/AV:P/AC:L/AT:N/PR:H/UI:N/VC:N/VI:N/VA:N/SC:L/SI:N/SA:L/E:X/CR:X/IR:X/"
         "AR:M/"
         "MAV:A/MAC:X/MAT:X/MPR:H/MUI:P/MVC:L/MVI:L/MVA:N/MSC:X/MSI:L/MSA:X/S:P/AU:N/R:X/"
         "V:D/"
         "RE:X/U:Clear",
         2.4},
    };
    for (size_t i = 0; i < N(cases); i++) {
        bf_cvss_scores_t s = score_of(cases[i].vector);
        check_score(cases[i].vector, "score", s.score, cases[i].score);
        assert_int_equal(s.rating, bf_cvss_rating_of(cases[i].score));
    }
}

/* Every MacroVector's score is its entry of the specification's lookup
 * table (section 8.3). The table here is FIRST's cvss_lookup.js in its own
 * keyed form, copied from ae-cvss-calculator, not from libbf/cvss4.c; each
 * key is scored through a highest severity vector of its MacroVector
 * (Tables 24-30), which lies at distance 0, so no interpolation applies. */
static void test_v4_each_macrovector_scores_its_table_value(void **state)
{
    (void)state;
    static const struct {
        const char key[7]; /* EQ1..EQ6 */
        double score;
    } table[] = {
        {"000000", 10},  {"000001", 9.9}, {"000010", 9.8}, {"000011", 9.5},
        {"000020", 9.5}, {"000021", 9.2}, {"000100", 10},  {"000101", 9.6},
        {"000110", 9.3}, {"000111", 8.7}, {"000120", 9.1}, {"000121", 8.1},
        {"000200", 9.3}, {"000201", 9},   {"000210", 8.9}, {"000211", 8},
        {"000220", 8.1}, {"000221", 6.8}, {"001000", 9.8}, {"001001", 9.5},
        {"001010", 9.5}, {"001011", 9.2}, {"001020", 9},   {"001021", 8.4},
        {"001100", 9.3}, {"001101", 9.2}, {"001110", 8.9}, {"001111", 8.1},
        {"001120", 8.1}, {"001121", 6.5}, {"001200", 8.8}, {"001201", 8},
        {"001210", 7.8}, {"001211", 7},   {"001220", 6.9}, {"001221", 4.8},
        {"002001", 9.2}, {"002011", 8.2}, {"002021", 7.2}, {"002101", 7.9},
        {"002111", 6.9}, {"002121", 5},   {"002201", 6.9}, {"002211", 5.5},
        {"002221", 2.7}, {"010000", 9.9}, {"010001", 9.7}, {"010010", 9.5},
        {"010011", 9.2}, {"010020", 9.2}, {"010021", 8.5}, {"010100", 9.5},
        {"010101", 9.1}, {"010110", 9},   {"010111", 8.3}, {"010120", 8.4},
        {"010121", 7.1}, {"010200", 9.2}, {"010201", 8.1}, {"010210", 8.2},
        {"010211", 7.1}, {"010220", 7.2}, {"010221", 5.3}, {"011000", 9.5},
        {"011001", 9.3}, {"011010", 9.2}, {"011011", 8.5}, {"011020", 8.5},
        {"011021", 7.3}, {"011100", 9.2}, {"011101", 8.2}, {"011110", 8},
        {"011111", 7.2}, {"011120", 7},   {"011121", 5.9}, {"011200", 8.4},
        {"011201", 7},   {"011210", 7.1}, {"011211", 5.2}, {"011220", 5},
        {"011221", 3},   {"012001", 8.6}, {"012011", 7.5}, {"012021", 5.2},
        {"012101", 7.1}, {"012111", 5.2}, {"012121", 2.9}, {"012201", 6.3},
        {"012211", 2.9}, {"012221", 1.7}, {"100000", 9.8}, {"100001", 9.5},
        {"100010", 9.4}, {"100011", 8.7}, {"100020", 9.1}, {"100021", 8.1},
        {"100100", 9.4}, {"100101", 8.9}, {"100110", 8.6}, {"100111", 7.4},
        {"100120", 7.7}, {"100121", 6.4}, {"100200", 8.7}, {"100201", 7.5},
        {"100210", 7.4}, {"100211", 6.3}, {"100220", 6.3}, {"100221", 4.9},
        {"101000", 9.4}, {"101001", 8.9}, {"101010", 8.8}, {"101011", 7.7},
        {"101020", 7.6}, {"101021", 6.7}, {"101100", 8.6}, {"101101", 7.6},
        {"101110", 7.4}, {"101111", 5.8}, {"101120", 5.9}, {"101121", 5},
        {"101200", 7.2}, {"101201", 5.7}, {"101210", 5.7}, {"101211", 5.2},
        {"101220", 5.2}, {"101221", 2.5}, {"102001", 8.3}, {"102011", 7},
        {"102021", 5.4}, {"102101", 6.5}, {"102111", 5.8}, {"102121", 2.6},
        {"102201", 5.3}, {"102211", 2.1}, {"102221", 1.3}, {"110000", 9.5},
        {"110001", 9},   {"110010", 8.8}, {"110011", 7.6}, {"110020", 7.6},
        {"110021", 7},   {"110100", 9},   {"110101", 7.7}, {"110110", 7.5},
        {"110111", 6.2}, {"110120", 6.1}, {"110121", 5.3}, {"110200", 7.7},
        {"110201", 6.6}, {"110210", 6.8}, {"110211", 5.9}, {"110220", 5.2},
        {"110221", 3},   {"111000", 8.9}, {"111001", 7.8}, {"111010", 7.6},
        {"111011", 6.7}, {"111020", 6.2}, {"111021", 5.8}, {"111100", 7.4},
        {"111101", 5.9}, {"111110", 5.7}, {"111111", 5.7}, {"111120", 4.7},
        {"111121", 2.3}, {"111200", 6.1}, {"111201", 5.2}, {"111210", 5.7},
        {"111211", 2.9}, {"111220", 2.4}, {"111221", 1.6}, {"112001", 7.1},
        {"112011", 5.9}, {"112021", 3},   {"112101", 5.8}, {"112111", 2.6},
        {"112121", 1.5}, {"112201", 2.3}, {"112211", 1.3}, {"112221", 0.6},
        {"200000", 9.3}, {"200001", 8.7}, {"200010", 8.6}, {"200011", 7.2},
        {"200020", 7.5}, {"200021", 5.8}, {"200100", 8.6}, {"200101", 7.4},
        {"200110", 7.4}, {"200111", 6.1}, {"200120", 5.6}, {"200121", 3.4},
        {"200200", 7},   {"200201", 5.4}, {"200210", 5.2}, {"200211", 4},
        {"200220", 4},   {"200221", 2.2}, {"201000", 8.5}, {"201001", 7.5},
        {"201010", 7.4}, {"201011", 5.5}, {"201020", 6.2}, {"201021", 5.1},
        {"201100", 7.2}, {"201101", 5.7}, {"201110", 5.5}, {"201111", 4.1},
        {"201120", 4.6}, {"201121", 1.9}, {"201200", 5.3}, {"201201", 3.6},
        {"201210", 3.4}, {"201211", 1.9}, {"201220", 1.9}, {"201221", 0.8},
        {"202001", 6.4}, {"202011", 5.1}, {"202021", 2},   {"202101", 4.7},
        {"202111", 2.1}, {"202121", 1.1}, {"202201", 2.4}, {"202211", 0.9},
        {"202221", 0.4}, {"210000", 8.8}, {"210001", 7.5}, {"210010", 7.3},
        {"210011", 5.3}, {"210020", 6},   {"210021", 5},   {"210100", 7.3},
        {"210101", 5.5}, {"210110", 5.9}, {"210111", 4},   {"210120", 4.1},
        {"210121", 2},   {"210200", 5.4}, {"210201", 4.3}, {"210210", 4.5},
        {"210211", 2.2}, {"210220", 2},   {"210221", 1.1}, {"211000", 7.5},
        {"211001", 5.5}, {"211010", 5.8}, {"211011", 4.5}, {"211020", 4},
        {"211021", 2.1}, {"211100", 6.1}, {"211101", 5.1}, {"211110", 4.8},
        {"211111", 1.8}, {"211120", 2},   {"211121", 0.9}, {"211200", 4.6},
        {"211201", 1.8}, {"211210", 1.7}, {"211211", 0.7}, {"211220", 0.8},
        {"211221", 0.2}, {"212001", 5.3}, {"212011", 2.4}, {"212021", 1.4},
        {"212101", 2.4}, {"212111", 1.2}, {"212121", 0.5}, {"212201", 1},
        {"212211", 0.3}, {"212221", 0.1},
    };
    static const char *const eq1[] = {"AV:N/AC:%s/PR:N/UI:N", "AV:A/AC:%s/PR:N/UI:N",
                                      "AV:P/AC:%s/PR:N/UI:N"};
    static const char *const eq2[] = {"L/AT:N", "H/AT:N"};
    static const char *const eq36[3][2] = {
        {"VC:H/VI:H/VA:H", "VC:H/VI:H/VA:H"},
        {"VC:L/VI:H/VA:H", "VC:L/VI:H/VA:L"},
        {NULL, "VC:L/VI:L/VA:L"},
    };
    static const char *const eq36_req[3][2] = {
        {"", "/CR:M/IR:M/AR:M"}, {"", "/CR:H/IR:M/AR:H"}, {NULL, ""}};
    static const char *const eq4[] = {"SC:H/SI:H/SA:H", "SC:H/SI:H/SA:H",
                                      "SC:L/SI:L/SA:L"};
    static const char *const eq5[] = {"A", "P", "U"};
    assert_int_equal(N(table), 270);
    for (size_t i = 0; i < N(table); i++) {
        int q[6];
        for (int j = 0; j < 6; j++)
            q[j] = table[i].key[j] - '0';
        char ac[64], vector[BF_CVSS_MAX_VECTOR + 1];
        snprintf(ac, sizeof(ac), eq1[q[0]], eq2[q[1]]);
        snprintf(vector, sizeof(vector), "CVSS:4.0/%s/%s/%s/E:%s%s%s", ac,
                 eq36[q[2]][q[5]], eq4[q[3]], eq5[q[4]], eq36_req[q[2]][q[5]],
                 q[3] == 0 ? "/MSI:S/MSA:S" : "");
        check_score(vector, table[i].key, score_of(vector).score, table[i].score);
    }
}

typedef struct v4_case_s {
    const char *vector;
    bf_cvss_nomenclature_t nomenclature;
    double b, bt, be, bte;
} v4_case_t;

static void check_v4_cases(const v4_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const v4_case_t *c = &cases[i];
        bf_cvss_scores_t s = score_of(c->vector);
        if (s.nomenclature != c->nomenclature)
            fail_msg("%s: is %s", c->vector, bf_cvss_nomenclature_name(s.nomenclature));
        check_score(c->vector, "CVSS-B", s.v4[BF_CVSS_B], c->b);
        check_score(c->vector, "CVSS-BT", s.v4[BF_CVSS_BT], c->bt);
        check_score(c->vector, "CVSS-BE", s.v4[BF_CVSS_BE], c->be);
        check_score(c->vector, "CVSS-BTE", s.v4[BF_CVSS_BTE], c->bte);
        check_score(c->vector, "score", s.score, s.v4[c->nomenclature]);
        check_score(c->vector, "base", s.base, c->b);
        check_score(c->vector, "temporal", s.temporal, NONE);
        check_score(c->vector, "environmental", s.environmental, NONE);
    }
}

/* The specification's sample vectors (section 7): the score of each
 * metric group they use, named by the nomenclature of section 1.3. */
static void test_v4_spec_sample_vectors_score_each_group(void **state)
{
    (void)state;
    static const v4_case_t cases[] = {
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N", BF_CVSS_B,
         5.1, NONE, NONE, NONE},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N/E:A",
         BF_CVSS_BT, 5.1, 5.1, NONE, NONE},
        {"CVSS:4.0/AV:A/AC:H/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:P",
         BF_CVSS_BT, 5.4, 4.5, NONE, NONE},
        {"CVSS:4.0/AV:L/AC:H/AT:N/PR:N/UI:A/VC:N/VI:N/VA:L/SC:H/SI:H/SA:H/CR:H/IR:H/AR:M/"
         "MAV:N/"
         "MAC:L/MAT:P/MPR:L/MUI:A/MVC:N/MVI:H/MVA:L/MSC:L/MSI:S/MSA:H",
         BF_CVSS_BE, 5.0, NONE, 8.5, NONE},
        /* Supplemental metrics never change a score. */
        {"CVSS:4.0/AV:P/AC:H/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:A/S:P/AU:Y/"
         "R:A/V:D/"
         "RE:L/U:Red",
         BF_CVSS_BT, 5.4, 5.4, NONE, NONE},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N/E:U/CR:L/IR:X/"
         "AR:L/"
         "MAV:A/MAC:H/MAT:N/MPR:N/MUI:P/MVC:X/MVI:N/MVA:H/MSC:N/MSI:L/MSA:S/S:N/AU:N/R:I/"
         "V:C/"
         "RE:H/U:Green",
         BF_CVSS_BTE, 5.1, 1.2, 7.3, 4.2},
    };
    check_v4_cases(cases, N(cases));
}

/* No impact anywhere is 0.0, but MSI:S (a safety impact) alone is High. */
static void test_v4_no_impact_scores_zero_unless_safety(void **state)
{
    (void)state;
    static const v4_case_t cases[] = {
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", BF_CVSS_B,
         0.0, NONE, NONE, NONE},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N/E:A/MVC:X/"
         "MSI:S",
         BF_CVSS_BTE, 0.0, 0.0, 8.9, 8.9},
    };
    check_v4_cases(cases, N(cases));
    assert_int_equal(score_of(cases[0].vector).rating, BF_CVSS_RATING_NONE);
}

/* The interpolation lands one ULP below x.x5 for these (8.549999999999999):
 * the reference lifts by 1e-6 before rounding half up, so they are 8.6; a
 * bare round gives 8.5 (as @pandatix/js-cvss 0.4.4 does). */
static void test_v4_rounds_a_tie_half_up(void **state)
{
    (void)state;
    static const v4_case_t cases[] = {
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:H/VI:L/VA:N/SC:H/SI:H/SA:H", BF_CVSS_B,
         8.6, NONE, NONE, NONE},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:L/SC:H/SI:H/SA:H", BF_CVSS_B,
         8.6, NONE, NONE, NONE},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:L/VI:N/VA:H/SC:H/SI:H/SA:H", BF_CVSS_B,
         8.6, NONE, NONE, NONE},
    };
    check_v4_cases(cases, N(cases));
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
        {"CVSS:4.0/AC:L/AV:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N/CR:L/IR:X/AR:L/RE:H/"
         "MAV:A/"
         "MAC:H/MAT:N/MPR:N/MUI:P/AT:N/MVC:X/MVI:N/MVA:H/MSC:N/MSI:L/MSA:S/E:U/S:N/AU:N/"
         "R:I/"
         "V:C/U:Green",
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
    bf_cvss_scores_t want = score_of(canonical);
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
        bf_cvss_scores_t s = score_of(vector);
        check_score(vector, "base", s.base, want.base);
        check_score(vector, "temporal", s.temporal, want.temporal);
        check_score(vector, "environmental", s.environmental, want.environmental);
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
         "MAV:X/"
         "MAC:X/MPR:X/MUI:X/MS:X/MC:X/MI:X/MA:X",
         "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
        {"CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:L/E:X/MS:X",
         "CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:L"},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X/CR:X/IR:X/"
         "AR:X/"
         "MAV:X/MAC:X/MAT:X/MPR:X/MUI:X/MVC:X/MVI:X/MVA:X/MSC:X/MSI:X/MSA:X/S:X/AU:X/R:X/"
         "V:X/"
         "RE:X/U:X",
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
        bf_cvss_scores_t s = score_of(pairs[i][0]);
        assert_int_equal(s.nomenclature, BF_CVSS_B);
    }
}

static void test_format_truncates_like_snprintf(void **state)
{
    (void)state;
    const char *vector =
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/"
        "E:A/U:Amber";
    bf_cvss_t v;
    assert_int_equal(bf_cvss_parse(vector, &v, NULL, 0), BF_OK);
    char out[16];
    assert_int_equal(bf_cvss_format(&v, out, sizeof(out)), strlen(vector));
    assert_string_equal(out, "CVSS:4.0/AV:N/A");
    assert_int_equal(bf_cvss_format(&v, NULL, 0), strlen(vector));
    /* The longest valid vector fits the bound. */
    const char *longest = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/"
                          "SA:N/E:A/CR:H/IR:H/AR:H/"
                          "MAV:N/MAC:L/MAT:N/MPR:N/MUI:N/MVC:H/MVI:H/MVA:H/MSC:H/MSI:S/"
                          "MSA:S/S:P/AU:Y/R:I/V:C/"
                          "RE:H/U:Amber";
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
            check_score(vector, fields[i].key, got, want);
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
        bf_cvss_scores_t s = score_of(line);
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
        cmocka_unit_test(test_v4_first_reference_scores),
        cmocka_unit_test(test_v4_each_macrovector_scores_its_table_value),
        cmocka_unit_test(test_v4_spec_sample_vectors_score_each_group),
        cmocka_unit_test(test_v4_no_impact_scores_zero_unless_safety),
        cmocka_unit_test(test_v4_rounds_a_tie_half_up),
        cmocka_unit_test(test_malformed_vectors_get_an_error_never_a_score),
        cmocka_unit_test(test_oversized_and_null_vectors_are_refused),
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
