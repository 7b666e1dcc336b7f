/*
 * cvss4.c - the CVSS v4.0 score (v4.0 specification, section 8 "CVSS v4.0
 * Scoring"); its metrics are in cvss.c with those of v3.x.
 *
 * v4.0 has no formula. Experts ranked 270 MacroVectors, equivalence
 * classes of vectors defined by six "EQ" levels (Tables 24-30), and gave
 * each a score: the lookup table below (section 8.3). A vector gets the
 * score of its MacroVector, lowered by interpolation: for each EQ, the
 * vector's severity distance from the MacroVector's highest severity
 * vector, as a share of the MacroVector's depth, times the score gap to
 * the next lower MacroVector; the mean of those is subtracted.
 *
 * The data here is the specification's, transcribed from FIRST's
 * reference calculator (github.com/FIRSTdotorg/cvss-v4-calculator:
 * cvss_lookup.js, max_composed.js, max_severity.js), and the arithmetic
 * follows its cvss_score.js step by step, in the same floating-point
 * order, so that scores agree to the last bit before the final rounding.
 * Where the reference's behaviour is incidental (which candidate highest
 * vector wins, a missing lower MacroVector) the comment says so.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "libbf/cvss_int.h"

/*
 * The MacroVector scores (section 8.3; cvss_lookup.js), indexed
 * [EQ1][EQ2][EQ3][EQ4][EQ5 * 2 + EQ6]: each row holds the six EQ5/EQ6
 * combinations 00, 01, 10, 11, 20, 21 of one EQ1-EQ4 prefix. 0 marks the
 * MacroVectors that cannot exist: EQ3 level 2 (no impact is High) with EQ6
 * level 0 (some High impact with a High requirement). Every real entry is
 * at least 0.1.
 */
static const double macro_score[3][2][3][3][6] = {
    {{{{10, 9.9, 9.8, 9.5, 9.5, 9.2},
       {10, 9.6, 9.3, 8.7, 9.1, 8.1},
       {9.3, 9, 8.9, 8, 8.1, 6.8}},
      {{9.8, 9.5, 9.5, 9.2, 9, 8.4},
       {9.3, 9.2, 8.9, 8.1, 8.1, 6.5},
       {8.8, 8, 7.8, 7, 6.9, 4.8}},
      {{0, 9.2, 0, 8.2, 0, 7.2}, {0, 7.9, 0, 6.9, 0, 5}, {0, 6.9, 0, 5.5, 0, 2.7}}},
     {{{9.9, 9.7, 9.5, 9.2, 9.2, 8.5},
       {9.5, 9.1, 9, 8.3, 8.4, 7.1},
       {9.2, 8.1, 8.2, 7.1, 7.2, 5.3}},
      {{9.5, 9.3, 9.2, 8.5, 8.5, 7.3},
       {9.2, 8.2, 8, 7.2, 7, 5.9},
       {8.4, 7, 7.1, 5.2, 5, 3}},
      {{0, 8.6, 0, 7.5, 0, 5.2}, {0, 7.1, 0, 5.2, 0, 2.9}, {0, 6.3, 0, 2.9, 0, 1.7}}}},
    {{{{9.8, 9.5, 9.4, 8.7, 9.1, 8.1},
       {9.4, 8.9, 8.6, 7.4, 7.7, 6.4},
       {8.7, 7.5, 7.4, 6.3, 6.3, 4.9}},
      {{9.4, 8.9, 8.8, 7.7, 7.6, 6.7},
       {8.6, 7.6, 7.4, 5.8, 5.9, 5},
       {7.2, 5.7, 5.7, 5.2, 5.2, 2.5}},
      {{0, 8.3, 0, 7, 0, 5.4}, {0, 6.5, 0, 5.8, 0, 2.6}, {0, 5.3, 0, 2.1, 0, 1.3}}},
     {{{9.5, 9, 8.8, 7.6, 7.6, 7},
       {9, 7.7, 7.5, 6.2, 6.1, 5.3},
       {7.7, 6.6, 6.8, 5.9, 5.2, 3}},
      {{8.9, 7.8, 7.6, 6.7, 6.2, 5.8},
       {7.4, 5.9, 5.7, 5.7, 4.7, 2.3},
       {6.1, 5.2, 5.7, 2.9, 2.4, 1.6}},
      {{0, 7.1, 0, 5.9, 0, 3}, {0, 5.8, 0, 2.6, 0, 1.5}, {0, 2.3, 0, 1.3, 0, 0.6}}}},
    {{{{9.3, 8.7, 8.6, 7.2, 7.5, 5.8},
       {8.6, 7.4, 7.4, 6.1, 5.6, 3.4},
       {7, 5.4, 5.2, 4, 4, 2.2}},
      {{8.5, 7.5, 7.4, 5.5, 6.2, 5.1},
       {7.2, 5.7, 5.5, 4.1, 4.6, 1.9},
       {5.3, 3.6, 3.4, 1.9, 1.9, 0.8}},
      {{0, 6.4, 0, 5.1, 0, 2}, {0, 4.7, 0, 2.1, 0, 1.1}, {0, 2.4, 0, 0.9, 0, 0.4}}},
     {{{8.8, 7.5, 7.3, 5.3, 6, 5},
       {7.3, 5.5, 5.9, 4, 4.1, 2},
       {5.4, 4.3, 4.5, 2.2, 2, 1.1}},
      {{7.5, 5.5, 5.8, 4.5, 4, 2.1},
       {6.1, 5.1, 4.8, 1.8, 2, 0.9},
       {4.6, 1.8, 1.7, 0.7, 0.8, 0.2}},
      {{0, 5.3, 0, 2.4, 0, 1.4}, {0, 2.4, 0, 1.2, 0, 0.5}, {0, 1, 0, 0.3, 0, 0.1}}}},
};

/* A MacroVector's levels, EQ1..EQ6. */
typedef struct macro_s {
    int eq[6];
} macro_t;

/* The score of a MacroVector, or NAN when there is none (a level past the
 * last: the reference's lookup of a missing key, which it treats as NaN). */
static double lookup(int eq1, int eq2, int eq3, int eq4, int eq5, int eq6)
{
    if (eq1 > 2 || eq2 > 1 || eq3 > 2 || eq4 > 2 || eq5 > 2 || eq6 > 1)
        return NAN;
    double s = macro_score[eq1][eq2][eq3][eq4][eq5 * 2 + eq6];
    return s > 0 ? s : NAN;
}

/*
 * The highest severity vectors of each EQ level (Tables 24-30;
 * max_composed.js), as the values of the EQ's metrics:
 * EQ1 AV PR UI, EQ2 AC AT, EQ3+EQ6 VC VI VA CR IR AR, EQ4 SC SI SA. The
 * reference tries every combination in this order and takes the first one
 * the vector does not exceed in any metric, so the order is kept.
 */
static const char *const eq1_max[3][3] = {{"NNN"}, {"ANN", "NLN", "NNP"}, {"PNN", "ALP"}};
static const char *const eq2_max[2][2] = {{"LN"}, {"HN", "LP"}};
static const char *const eq36_max[3][2][5] = {
    {{"HHHHHH"}, {"HHLMMH", "HHHMMM"}},
    {{"LHHHHH", "HLHHHH"}, {"LHLHMH", "LHHHMM", "HLHMHM", "HLLMHH", "LLHHHM"}},
    {{NULL}, {"LLLHHH"}},
};
static const char *const eq4_max[3] = {"HSS", "HHH", "LLL"};

/* The depth of each EQ level in severity-distance steps, plus one
 * (max_severity.js). */
static const int eq1_depth[3] = {1, 4, 5};
static const int eq2_depth[2] = {1, 2};
static const int eq36_depth[3][2] = {{7, 6}, {8, 8}, {0, 10}};
static const int eq4_depth[3] = {6, 5, 4};

/* How far each value is from the most severe one, in steps of 0.1, for
 * the metrics of the severity distance (cvss_score.js "*_levels"). */
typedef struct levels_s {
    const char *values;
    double level[4];
} levels_t;

static const levels_t lv_av = {"NALP", {0.0, 0.1, 0.2, 0.3}};
static const levels_t lv_pr = {"NLH", {0.0, 0.1, 0.2}};
static const levels_t lv_ui = {"NPA", {0.0, 0.1, 0.2}};
static const levels_t lv_ac = {"LH", {0.0, 0.1}};
static const levels_t lv_at = {"NP", {0.0, 0.1}};
static const levels_t lv_vcia = {"HLN", {0.0, 0.1, 0.2}};
static const levels_t lv_sc = {"HLN", {0.1, 0.2, 0.3}};
static const levels_t lv_sia = {"SHLN", {0.0, 0.1, 0.2, 0.3}};
static const levels_t lv_req = {"HML", {0.0, 0.1, 0.2}};

static double level(const levels_t *lv, char value)
{
    const char *p = strchr(lv->values, value);
    return p && value ? lv->level[p - lv->values] : 0.0;
}

/* The first character of a metric's value ("X" for Not Defined). */
static char raw(const uint8_t *v, int metric)
{
    return bf_cvss4_metrics[metric].values[v[metric]][0];
}

/*
 * The value a metric takes in the score (section 4.2 and Tables 28-29):
 * a modified Base metric replaces its Base metric unless it is X; E:X
 * counts as Attacked and CR/IR/AR:X as High, the worst case.
 */
static char effective(const uint8_t *v, int metric)
{
    char c = raw(v, metric);
    if (metric == BF_CVSS4_E)
        return c == 'X' ? 'A' : c;
    if (metric == BF_CVSS4_CR || metric == BF_CVSS4_IR || metric == BF_CVSS4_AR)
        return c == 'X' ? 'H' : c;
    if (metric <= BF_CVSS4_SA) {
        char modified = raw(v, BF_CVSS4_MAV + metric);
        if (modified != 'X')
            return modified;
    }
    return c;
}

/* The EQ levels of a vector (Tables 24-29). */
static macro_t macro_vector(const uint8_t *v)
{
    char av = effective(v, BF_CVSS4_AV), pr = effective(v, BF_CVSS4_PR),
         ui = effective(v, BF_CVSS4_UI), ac = effective(v, BF_CVSS4_AC),
         at = effective(v, BF_CVSS4_AT), vc = effective(v, BF_CVSS4_VC),
         vi = effective(v, BF_CVSS4_VI), va = effective(v, BF_CVSS4_VA),
         sc = effective(v, BF_CVSS4_SC), si = effective(v, BF_CVSS4_SI),
         sa = effective(v, BF_CVSS4_SA), e = effective(v, BF_CVSS4_E),
         cr = effective(v, BF_CVSS4_CR), ir = effective(v, BF_CVSS4_IR),
         ar = effective(v, BF_CVSS4_AR);
    macro_t m;
    if (av == 'N' && pr == 'N' && ui == 'N')
        m.eq[0] = 0;
    else if ((av == 'N' || pr == 'N' || ui == 'N') && av != 'P')
        m.eq[0] = 1;
    else
        m.eq[0] = 2;
    m.eq[1] = ac == 'L' && at == 'N' ? 0 : 1;
    if (vc == 'H' && vi == 'H')
        m.eq[2] = 0;
    else if (vc == 'H' || vi == 'H' || va == 'H')
        m.eq[2] = 1;
    else
        m.eq[2] = 2;
    /* MSI:S or MSA:S (Safety) is the only way to level 0. */
    if (si == 'S' || sa == 'S')
        m.eq[3] = 0;
    else if (sc == 'H' || si == 'H' || sa == 'H')
        m.eq[3] = 1;
    else
        m.eq[3] = 2;
    m.eq[4] = e == 'A' ? 0 : e == 'P' ? 1 : 2;
    m.eq[5] =
        (cr == 'H' && vc == 'H') || (ir == 'H' && vi == 'H') || (ar == 'H' && va == 'H')
            ? 0
            : 1;
    return m;
}

/* Severity distances of the vector from a highest severity vector, one per
 * metric, in the reference's order: AV PR UI AC AT VC VI VA SC SI SA CR IR AR. */
enum {
    D_AV,
    D_PR,
    D_UI,
    D_AC,
    D_AT,
    D_VC,
    D_VI,
    D_VA,
    D_SC,
    D_SI,
    D_SA,
    D_CR,
    D_IR,
    D_AR
};

static void distances(const uint8_t *v, const char *eq1, const char *eq2,
                      const char *eq36, const char *eq4, double d[14])
{
    d[D_AV] = level(&lv_av, effective(v, BF_CVSS4_AV)) - level(&lv_av, eq1[0]);
    d[D_PR] = level(&lv_pr, effective(v, BF_CVSS4_PR)) - level(&lv_pr, eq1[1]);
    d[D_UI] = level(&lv_ui, effective(v, BF_CVSS4_UI)) - level(&lv_ui, eq1[2]);
    d[D_AC] = level(&lv_ac, effective(v, BF_CVSS4_AC)) - level(&lv_ac, eq2[0]);
    d[D_AT] = level(&lv_at, effective(v, BF_CVSS4_AT)) - level(&lv_at, eq2[1]);
    d[D_VC] = level(&lv_vcia, effective(v, BF_CVSS4_VC)) - level(&lv_vcia, eq36[0]);
    d[D_VI] = level(&lv_vcia, effective(v, BF_CVSS4_VI)) - level(&lv_vcia, eq36[1]);
    d[D_VA] = level(&lv_vcia, effective(v, BF_CVSS4_VA)) - level(&lv_vcia, eq36[2]);
    d[D_SC] = level(&lv_sc, effective(v, BF_CVSS4_SC)) - level(&lv_sc, eq4[0]);
    d[D_SI] = level(&lv_sia, effective(v, BF_CVSS4_SI)) - level(&lv_sia, eq4[1]);
    d[D_SA] = level(&lv_sia, effective(v, BF_CVSS4_SA)) - level(&lv_sia, eq4[2]);
    d[D_CR] = level(&lv_req, effective(v, BF_CVSS4_CR)) - level(&lv_req, eq36[3]);
    d[D_IR] = level(&lv_req, effective(v, BF_CVSS4_IR)) - level(&lv_req, eq36[4]);
    d[D_AR] = level(&lv_req, effective(v, BF_CVSS4_AR)) - level(&lv_req, eq36[5]);
}

static bool any_negative(const double d[14])
{
    for (int i = 0; i < 14; i++)
        if (d[i] < 0)
            return true;
    return false;
}

/* The distances from the first highest severity vector of the MacroVector
 * that the vector does not exceed anywhere. Should none fit, the
 * reference keeps the distances from the last one it tried; so do we. */
static void distances_from_highest(const uint8_t *v, const macro_t *m, double d[14])
{
    const char *const *c1 = eq1_max[m->eq[0]];
    const char *const *c2 = eq2_max[m->eq[1]];
    const char *const *c36 = eq36_max[m->eq[2]][m->eq[5]];
    const char *eq4 = eq4_max[m->eq[3]];
    for (size_t a = 0; a < 3 && c1[a]; a++)
        for (size_t b = 0; b < 2 && c2[b]; b++)
            for (size_t c = 0; c < 5 && c36[c]; c++) {
                distances(v, c1[a], c2[b], c36[c], eq4, d);
                if (!any_negative(d))
                    return;
            }
}

/* The score of the next lower MacroVector of EQ3+EQ6, which move together
 * (Table 30): 00 can go to 01 or 10 (the higher of the two counts, as the
 * reference compares them: the left one only when both exist), 10 lowers
 * EQ6, 01 and 11 lower EQ3, and 21 is the lowest. */
static double lower_eq36(const macro_t *m)
{
    const int *q = m->eq;
    if (q[2] == 2)
        return NAN;
    if (q[2] == 0 && q[5] == 0) {
        double left = lookup(q[0], q[1], q[2], q[3], q[4], q[5] + 1);
        double right = lookup(q[0], q[1], q[2] + 1, q[3], q[4], q[5]);
        return !isnan(left) && !isnan(right) && left > right ? left : right;
    }
    if (q[5] == 0)
        return lookup(q[0], q[1], q[2], q[3], q[4], q[5] + 1);
    return lookup(q[0], q[1], q[2] + 1, q[3], q[4], q[5]);
}

/* One EQ's share of the interpolation: the score gap to the next lower
 * MacroVector times the share of the depth the vector is away from the
 * highest one. *n counts the EQs that have a lower MacroVector. */
static double normalized(double value, double lower, double distance, int depth, int *n)
{
    const double step = 0.1;
    double available = value - lower;
    if (isnan(available))
        return 0;
    (*n)++;
    return available * (distance / (depth * step));
}

double bf_cvss4_score_values(const uint8_t values[BF_CVSS4__COUNT])
{
    /* No impact on the vulnerable or any subsequent system: 0.0. */
    static const int impacts[] = {BF_CVSS4_VC, BF_CVSS4_VI, BF_CVSS4_VA,
                                  BF_CVSS4_SC, BF_CVSS4_SI, BF_CVSS4_SA};
    bool none = true;
    for (size_t i = 0; i < sizeof(impacts) / sizeof(impacts[0]); i++)
        none = none && effective(values, impacts[i]) == 'N';
    if (none)
        return 0.0;

    macro_t m = macro_vector(values);
    const int *q = m.eq;
    double value = lookup(q[0], q[1], q[2], q[3], q[4], q[5]);

    double d[14] = {0};
    distances_from_highest(values, &m, d);
    double dist_eq1 = d[D_AV] + d[D_PR] + d[D_UI];
    double dist_eq2 = d[D_AC] + d[D_AT];
    double dist_eq36 = d[D_VC] + d[D_VI] + d[D_VA] + d[D_CR] + d[D_IR] + d[D_AR];
    double dist_eq4 = d[D_SC] + d[D_SI] + d[D_SA];

    int n = 0;
    double n1 = normalized(value, lookup(q[0] + 1, q[1], q[2], q[3], q[4], q[5]),
                           dist_eq1, eq1_depth[q[0]], &n);
    double n2 = normalized(value, lookup(q[0], q[1] + 1, q[2], q[3], q[4], q[5]),
                           dist_eq2, eq2_depth[q[1]], &n);
    double n36 = normalized(value, lower_eq36(&m), dist_eq36, eq36_depth[q[2]][q[5]], &n);
    double n4 = normalized(value, lookup(q[0], q[1], q[2], q[3] + 1, q[4], q[5]),
                           dist_eq4, eq4_depth[q[3]], &n);
    /* EQ5 (E alone) has depth 0: it counts towards the mean, adds nothing. */
    double n5 =
        normalized(value, lookup(q[0], q[1], q[2], q[3], q[4] + 1, q[5]), 0, 1, &n);
    double mean = n == 0 ? 0 : (n1 + n2 + n36 + n4 + n5) / n;

    value -= mean;
    if (value < 0)
        value = 0.0;
    if (value > 10)
        value = 10.0;
    /* Round half up to one decimal after lifting by 1e-6: the arithmetic
     * above can land one ULP below a tie (5.6499999999999995 for 5.65),
     * which a bare round would send the wrong way; the reference
     * calculator and the Python implementation its data comes from do
     * the same. */
    return round((value + 1e-6) * 10) / 10;
}
