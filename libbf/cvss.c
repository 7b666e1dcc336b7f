/*
 * cvss.c - CVSS vector strings of every version, and the v3.x scores
 * (see cvss.h; v4.0's scoring is in cvss4.c).
 *
 * One table-driven parser serves all versions: each version is a prefix
 * and a table of metrics (name, values, mandatory) in the specification's
 * order, so a metric's position in the table is its index in
 * bf_cvss_t.values and "out of order" means "lower index than the one
 * before". Only v4.0 fixes the order (section 7: "every other ordering is
 * invalid"); v3.x vectors may list metrics in any order (v3.1 section 6
 * gives one "in a non-preferred ordering" as its own example).
 *
 * The v3.x equations are section 7 of the v3.1 specification and its
 * v3.0 counterpart. The two versions differ in two places only:
 *  - the round up: v3.0 rounds up in floating point, so 4.000001 (what
 *    4.0 can become after a few multiplications) gives 4.1; v3.1 rounds
 *    an integer count of 1/100000 first (Appendix A);
 *  - the Modified Impact when the Modified Scope is Changed:
 *    v3.0 7.52 x (MISS - 0.029) - 3.25 x (MISS - 0.02)^15,
 *    v3.1 7.52 x (MISS - 0.029) - 3.25 x (MISS x 0.9731 - 0.02)^13.
 * The operations are done in the order of FIRST's calculators
 * (cvsscalc30.js, cvsscalc31.js), so that the round up sees the same
 * floating-point value they do.
 */
#include "libbf/cvss.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "libbf/cvss_int.h"

/* ------------------------------------------------------------------------
 * Metrics: v3.x Table 15 of v3.1 (the same in v3.0), v4.0 Table 23. A
 * modified metric's values are "X" and then those of its Base metric, so
 * its value i > 0 is the Base metric's value i - 1. Lists that both
 * versions use are shared.
 */

enum {
    V3_AV,
    V3_AC,
    V3_PR,
    V3_UI,
    V3_S,
    V3_C,
    V3_I,
    V3_A,
    V3_E, /* Temporal */
    V3_RL,
    V3_RC,
    V3_CR, /* Environmental */
    V3_IR,
    V3_AR,
    V3_MAV,
    V3_MAC,
    V3_MPR,
    V3_MUI,
    V3_MS,
    V3_MC,
    V3_MI,
    V3_MA,
    V3__COUNT
};

static const char *const values_av[] = {"N", "A", "L", "P"};
static const char *const values_ac[] = {"L", "H"};
static const char *const values_pr[] = {"N", "L", "H"};
static const char *const values_cia[] = {"H", "L", "N"};
static const char *const values_req[] = {"X", "H", "M", "L"};
static const char *const values_mav[] = {"X", "N", "A", "L", "P"};
static const char *const values_mac[] = {"X", "L", "H"};
static const char *const values_mpr[] = {"X", "N", "L", "H"};
static const char *const values_mcia[] = {"X", "H", "L", "N"};

static const char *const v3_ui[] = {"N", "R"};
static const char *const v3_s[] = {"U", "C"};
static const char *const v3_e[] = {"X", "H", "F", "P", "U"};
static const char *const v3_rl[] = {"X", "U", "W", "T", "O"};
static const char *const v3_rc[] = {"X", "C", "R", "U"};
static const char *const v3_mui[] = {"X", "N", "R"};
static const char *const v3_ms[] = {"X", "U", "C"};

static const char *const v4_at[] = {"N", "P"};
static const char *const v4_ui[] = {"N", "P", "A"};
static const char *const v4_e[] = {"X", "A", "P", "U"};
static const char *const v4_mat[] = {"X", "N", "P"};
static const char *const v4_mui[] = {"X", "N", "P", "A"};
static const char *const v4_msia[] = {"X", "H", "L", "N", "S"}; /* S: Safety */
static const char *const v4_s[] = {"X", "N", "P"};
static const char *const v4_au[] = {"X", "N", "Y"};
static const char *const v4_r[] = {"X", "A", "U", "I"};
static const char *const v4_v[] = {"X", "D", "C"};
static const char *const v4_re[] = {"X", "L", "M", "H"};
static const char *const v4_u[] = {"X", "Clear", "Green", "Amber", "Red"};

#define M(name, values, mandatory)                                                       \
    {                                                                                    \
        name, values, sizeof(values) / sizeof(values[0]), mandatory                      \
    }
static const bf_cvss_metric_t v3_metrics[V3__COUNT] = {
    M("AV", values_av, true),    M("AC", values_ac, true),    M("PR", values_pr, true),
    M("UI", v3_ui, true),        M("S", v3_s, true),          M("C", values_cia, true),
    M("I", values_cia, true),    M("A", values_cia, true),    M("E", v3_e, false),
    M("RL", v3_rl, false),       M("RC", v3_rc, false),       M("CR", values_req, false),
    M("IR", values_req, false),  M("AR", values_req, false),  M("MAV", values_mav, false),
    M("MAC", values_mac, false), M("MPR", values_mpr, false), M("MUI", v3_mui, false),
    M("MS", v3_ms, false),       M("MC", values_mcia, false), M("MI", values_mcia, false),
    M("MA", values_mcia, false),
};

const bf_cvss_metric_t bf_cvss4_metrics[BF_CVSS4__COUNT] = {
    M("AV", values_av, true),     M("AC", values_ac, true),
    M("AT", v4_at, true),         M("PR", values_pr, true),
    M("UI", v4_ui, true),         M("VC", values_cia, true),
    M("VI", values_cia, true),    M("VA", values_cia, true),
    M("SC", values_cia, true),    M("SI", values_cia, true),
    M("SA", values_cia, true),    M("E", v4_e, false),
    M("CR", values_req, false),   M("IR", values_req, false),
    M("AR", values_req, false),   M("MAV", values_mav, false),
    M("MAC", values_mac, false),  M("MAT", v4_mat, false),
    M("MPR", values_mpr, false),  M("MUI", v4_mui, false),
    M("MVC", values_mcia, false), M("MVI", values_mcia, false),
    M("MVA", values_mcia, false), M("MSC", values_mcia, false),
    M("MSI", v4_msia, false),     M("MSA", v4_msia, false),
    M("S", v4_s, false),          M("AU", v4_au, false),
    M("R", v4_r, false),          M("V", v4_v, false),
    M("RE", v4_re, false),        M("U", v4_u, false),
};
#undef M

/* v3.x weights (v3.1 section 7.4), indexed like the values above. */
static const double w_av[] = {0.85, 0.62, 0.55, 0.2};
static const double w_ac[] = {0.77, 0.44};
static const double w_pr_unchanged[] = {0.85, 0.62, 0.27};
static const double w_pr_changed[] = {0.85, 0.68, 0.5}; /* when (Modified) Scope is C */
static const double w_ui[] = {0.85, 0.62};
static const double w_cia[] = {0.56, 0.22, 0};
static const double w_e[] = {1, 1, 0.97, 0.94, 0.91};
static const double w_rl[] = {1, 1, 0.97, 0.96, 0.95};
static const double w_rc[] = {1, 1, 0.96, 0.92};
static const double w_req[] = {1, 1.5, 1, 0.5};

/* ------------------------------------------------------------------------
 * Versions
 */

typedef struct spec_s {
    const char *name;   /* "3.1" */
    const char *prefix; /* "CVSS:3.1/" */
    const bf_cvss_metric_t *metrics;
    size_t n_metrics;
    bool fixed_order;
} spec_t;

static const spec_t specs[BF_CVSS_VERSION__COUNT] = {
    [BF_CVSS_V3_0] = {"3.0", "CVSS:3.0/", v3_metrics, V3__COUNT, false},
    [BF_CVSS_V3_1] = {"3.1", "CVSS:3.1/", v3_metrics, V3__COUNT, false},
    [BF_CVSS_V4_0] = {"4.0", "CVSS:4.0/", bf_cvss4_metrics, BF_CVSS4__COUNT, true},
};

static const spec_t *spec_of(bf_cvss_version_t version)
{
    return (unsigned)version < BF_CVSS_VERSION__COUNT ? &specs[version] : NULL;
}

const bf_cvss_metric_t *bf_cvss_metrics(bf_cvss_version_t version, size_t *n)
{
    const spec_t *s = spec_of(version);
    *n = s ? s->n_metrics : 0;
    return s ? s->metrics : NULL;
}

const char *bf_cvss_version_name(bf_cvss_version_t version)
{
    const spec_t *s = spec_of(version);
    return s ? s->name : "?";
}

/* ------------------------------------------------------------------------
 * Parsing
 */

const char *bf_cvss_printable(const char *s, size_t len, size_t max, char *buf,
                              size_t size)
{
    size_t n = 0;
    if (size == 0)
        return buf;
    for (size_t i = 0; i < len && i < max && n + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (len > max && n + 4 <= size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* A piece of the vector in a message: the first 24 bytes, printable, so
 * that a reason stays one line (the CLI prints it in a TAB-separated
 * column). */
static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
    return bf_cvss_printable(s, len, 24, buf, size);
}

static int find_metric(const spec_t *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n_metrics; i++)
        if (strlen(s->metrics[i].name) == len &&
            memcmp(s->metrics[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static int find_value(const bf_cvss_metric_t *m, const char *value, size_t len)
{
    for (int i = 0; i < m->n_values; i++)
        if (strlen(m->values[i]) == len && memcmp(m->values[i], value, len) == 0)
            return i;
    return -1;
}

/* Which version a vector claims: its prefix, "CVSS:" and the version
 * number up to the first slash. */
static bf_err_t parse_prefix(const char *vector, const spec_t **out, char *errstr,
                             size_t errstr_size)
{
    for (size_t i = 0; i < BF_CVSS_VERSION__COUNT; i++) {
        size_t n = strlen(specs[i].prefix);
        if (strncmp(vector, specs[i].prefix, n) == 0) {
            *out = &specs[i];
            return BF_OK;
        }
    }
    char q[32];
    if (strncmp(vector, "CVSS:", 5) != 0)
        return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                         "missing the CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/ prefix");
    const char *version = vector + 5;
    size_t len = strcspn(version, "/");
    for (size_t i = 0; i < BF_CVSS_VERSION__COUNT; i++)
        if (strcmp(version, specs[i].name) == 0)
            return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                             "no metrics after CVSS:%s", version);
    return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                     "unsupported CVSS version '%s' (3.0, 3.1 and 4.0 are)",
                     quote(version, len, q, sizeof(q)));
}

bf_err_t bf_cvss_parse(const char *vector, bf_cvss_t *out, char *errstr,
                       size_t errstr_size)
{
    if (!vector || !out)
        return bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size, "no vector");
    if (strnlen(vector, BF_CVSS_MAX_VECTOR + 1) > BF_CVSS_MAX_VECTOR)
        return bf_seterr(BF_ERR_TOO_LARGE, errstr, errstr_size,
                         "vector longer than %d bytes", BF_CVSS_MAX_VECTOR);
    const spec_t *s = NULL;
    bf_err_t err = parse_prefix(vector, &s, errstr, errstr_size);
    if (err)
        return err;

    bf_cvss_t v = {.version = (bf_cvss_version_t)(s - specs)};
    uint32_t seen = 0; /* bit i: metric i given */
    int last = -1;
    char q[32];
    const char *p = vector + strlen(s->prefix);
    if (*p == '\0')
        return bf_seterr(BF_ERR_PARSE, errstr, errstr_size, "no metrics after %s",
                         s->prefix);
    for (;;) {
        size_t len = strcspn(p, "/");
        if (len == 0)
            return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                             "empty metric at byte %zu (a slash too many?)",
                             (size_t)(p - vector) + 1);
        const char *colon = memchr(p, ':', len);
        if (!colon)
            return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                             "'%s' is not METRIC:VALUE", quote(p, len, q, sizeof(q)));
        size_t name_len = (size_t)(colon - p);
        int i = find_metric(s, p, name_len);
        if (i < 0)
            return bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                             "unknown metric '%s' in CVSS %s",
                             quote(p, name_len, q, sizeof(q)), s->name);
        const bf_cvss_metric_t *m = &s->metrics[i];
        if (seen & (UINT32_C(1) << i))
            return bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                             "metric %s is given more than once", m->name);
        if (s->fixed_order && i < last)
            return bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                             "metric %s comes after %s: CVSS %s fixes the order", m->name,
                             s->metrics[last].name, s->name);
        const char *value = colon + 1;
        int vi = find_value(m, value, len - name_len - 1);
        if (vi < 0)
            return bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                             "metric %s: unknown value '%s'", m->name,
                             quote(value, len - name_len - 1, q, sizeof(q)));
        v.values[i] = (uint8_t)vi;
        seen |= UINT32_C(1) << i;
        last = i;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    for (size_t i = 0; i < s->n_metrics; i++)
        if (s->metrics[i].mandatory && !(seen & (UINT32_C(1) << i)))
            return bf_seterr(BF_ERR_MISSING_FIELD, errstr, errstr_size,
                             "missing mandatory metric %s", s->metrics[i].name);
    *out = v;
    return BF_OK;
}

/* Does every value index fit its metric? (The struct is public: a caller
 * may have built one by hand.) */
static const spec_t *valid(const bf_cvss_t *cvss)
{
    const spec_t *s = cvss ? spec_of(cvss->version) : NULL;
    if (!s)
        return NULL;
    for (size_t i = 0; i < BF_CVSS_MAX_METRICS; i++)
        if (i < s->n_metrics ? cvss->values[i] >= s->metrics[i].n_values
                             : cvss->values[i] != 0)
            return NULL;
    return s;
}

size_t bf_cvss_format(const bf_cvss_t *cvss, char *buf, size_t size)
{
    const spec_t *s = valid(cvss);
    if (!s) {
        if (size > 0)
            buf[0] = '\0';
        return 0;
    }
    /* Built in a buffer that always fits (BF_CVSS_MAX_VECTOR bounds every
     * valid vector), then copied snprintf-style. */
    char out[BF_CVSS_MAX_VECTOR + 1];
    size_t n = (size_t)snprintf(out, sizeof(out), "CVSS:%s", s->name);
    for (size_t i = 0; i < s->n_metrics; i++) {
        const bf_cvss_metric_t *m = &s->metrics[i];
        if (!m->mandatory && cvss->values[i] == 0)
            continue; /* Not Defined */
        n += (size_t)snprintf(out + n, sizeof(out) - n, "/%s:%s", m->name,
                              m->values[cvss->values[i]]);
    }
    if (size > 0)
        snprintf(buf, size, "%s", out);
    return n;
}

/* ------------------------------------------------------------------------
 * Scores
 */

double bf_cvss_roundup(bf_cvss_version_t version, double value)
{
    if (version == BF_CVSS_V3_0)
        return ceil(value * 10) / 10;
    /* v3.1 Appendix A, with its names. */
    long long int_input = llround(value * 100000);
    if (int_input % 10000 == 0)
        return (double)int_input / 100000.0;
    return (double)(int_input / 10000 + 1) / 10.0;
}

/* The value index a metric takes in the Environmental equations: the
 * modified metric unless it is X, then its Base metric. */
static int modified(const uint8_t *v, int base, int mod)
{
    return v[mod] ? v[mod] - 1 : v[base];
}

static void score_v3(const bf_cvss_t *cvss, bf_cvss_scores_t *out)
{
    const bf_cvss_version_t ver = cvss->version;
    const uint8_t *v = cvss->values;

    /* Base (section 7.1). */
    bool changed = v[V3_S] == 1;
    const double *w_pr = changed ? w_pr_changed : w_pr_unchanged;
    double iss = 1 - ((1 - w_cia[v[V3_C]]) * (1 - w_cia[v[V3_I]]) * (1 - w_cia[v[V3_A]]));
    double impact =
        changed ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss;
    double exploitability =
        8.22 * w_av[v[V3_AV]] * w_ac[v[V3_AC]] * w_pr[v[V3_PR]] * w_ui[v[V3_UI]];
    double base = 0;
    if (impact > 0)
        base = bf_cvss_roundup(ver, changed ? fmin(1.08 * (impact + exploitability), 10)
                                            : fmin(impact + exploitability, 10));

    /* Temporal (section 7.2). */
    double temporal =
        bf_cvss_roundup(ver, base * w_e[v[V3_E]] * w_rl[v[V3_RL]] * w_rc[v[V3_RC]]);

    /* Environmental (section 7.3): the Base equations on the modified
     * metrics, impacts weighted by the security requirements. */
    bool m_changed = modified(v, V3_S, V3_MS) == 1;
    const double *w_mpr = m_changed ? w_pr_changed : w_pr_unchanged;
    double miss = fmin(1 - ((1 - w_cia[modified(v, V3_C, V3_MC)] * w_req[v[V3_CR]]) *
                            (1 - w_cia[modified(v, V3_I, V3_MI)] * w_req[v[V3_IR]]) *
                            (1 - w_cia[modified(v, V3_A, V3_MA)] * w_req[v[V3_AR]])),
                       0.915);
    double m_impact;
    if (!m_changed)
        m_impact = 6.42 * miss;
    else if (ver == BF_CVSS_V3_0)
        m_impact = 7.52 * (miss - 0.029) - 3.25 * pow(miss - 0.02, 15);
    else
        m_impact = 7.52 * (miss - 0.029) - 3.25 * pow(miss * 0.9731 - 0.02, 13);
    double m_exploitability =
        8.22 * w_av[modified(v, V3_AV, V3_MAV)] * w_ac[modified(v, V3_AC, V3_MAC)] *
        w_mpr[modified(v, V3_PR, V3_MPR)] * w_ui[modified(v, V3_UI, V3_MUI)];
    double environmental = 0;
    if (m_impact > 0) {
        double m_base = bf_cvss_roundup(
            ver, m_changed ? fmin(1.08 * (m_impact + m_exploitability), 10)
                           : fmin(m_impact + m_exploitability, 10));
        environmental =
            bf_cvss_roundup(ver, m_base * w_e[v[V3_E]] * w_rl[v[V3_RL]] * w_rc[v[V3_RC]]);
    }

    out->base = base;
    out->temporal = temporal;
    out->environmental = environmental;
    out->score = base;
    out->nomenclature = BF_CVSS_B;
    for (int i = 0; i < BF_CVSS_NOMENCLATURE__COUNT; i++)
        out->v4[i] = NAN;
}

/* v4.0: the score of all the vector's metrics, and of the vector with only
 * some of its metric groups (the others made Not Defined). */
static void score_v4(const bf_cvss_t *cvss, bf_cvss_scores_t *out)
{
    bool threat = cvss->values[BF_CVSS4_E] != 0, environmental = false;
    for (int i = BF_CVSS4_CR; i <= BF_CVSS4_MSA; i++)
        environmental = environmental || cvss->values[i] != 0;
    out->nomenclature = (bf_cvss_nomenclature_t)((threat ? BF_CVSS_BT : BF_CVSS_B) +
                                                 (environmental ? BF_CVSS_BE : 0));
    for (int n = 0; n < BF_CVSS_NOMENCLATURE__COUNT; n++) {
        bool with_t = n == BF_CVSS_BT || n == BF_CVSS_BTE;
        bool with_e = n == BF_CVSS_BE || n == BF_CVSS_BTE;
        if ((with_t && !threat) || (with_e && !environmental)) {
            out->v4[n] = NAN;
            continue;
        }
        uint8_t values[BF_CVSS4__COUNT];
        memcpy(values, cvss->values, sizeof(values));
        if (!with_t)
            values[BF_CVSS4_E] = 0;
        if (!with_e)
            memset(values + BF_CVSS4_CR, 0, BF_CVSS4_MSA - BF_CVSS4_CR + 1);
        out->v4[n] = bf_cvss4_score_values(values);
    }
    out->score = out->v4[out->nomenclature];
    out->base = out->v4[BF_CVSS_B];
    out->temporal = NAN;
    out->environmental = NAN;
}

bf_err_t bf_cvss_score(const bf_cvss_t *cvss, bf_cvss_scores_t *out)
{
    if (!valid(cvss) || !out)
        return BF_ERR_INVALID_ARG;
    out->version = cvss->version;
    if (cvss->version == BF_CVSS_V4_0)
        score_v4(cvss, out);
    else
        score_v3(cvss, out);
    out->rating = bf_cvss_rating_of(out->score);
    return BF_OK;
}

/* ------------------------------------------------------------------------
 * Ratings
 */

static const char *const rating_names[BF_CVSS_RATING__COUNT] = {"None", "Low", "Medium",
                                                                "High", "Critical"};

bf_cvss_rating_t bf_cvss_rating_of(double score)
{
    /* Table 14 of v3.1 / Table 22 of v4.0, on scores with one decimal:
     * compared in tenths, so that 3.9 (3.8999999999999999) is Low. */
    long tenths = lround(score * 10);
    if (!(tenths > 0)) /* also NAN */
        return BF_CVSS_RATING_NONE;
    if (tenths <= 39)
        return BF_CVSS_RATING_LOW;
    if (tenths <= 69)
        return BF_CVSS_RATING_MEDIUM;
    if (tenths <= 89)
        return BF_CVSS_RATING_HIGH;
    return BF_CVSS_RATING_CRITICAL;
}

const char *bf_cvss_rating_name(bf_cvss_rating_t rating)
{
    return (unsigned)rating < BF_CVSS_RATING__COUNT ? rating_names[rating] : "?";
}

bf_err_t bf_cvss_rating_parse(const char *name, bf_cvss_rating_t *out)
{
    if (!name || !out)
        return BF_ERR_INVALID_ARG;
    for (int i = 0; i < BF_CVSS_RATING__COUNT; i++)
        if (strcasecmp(name, rating_names[i]) == 0) {
            *out = (bf_cvss_rating_t)i;
            return BF_OK;
        }
    return BF_ERR_PARSE;
}

const char *bf_cvss_nomenclature_name(bf_cvss_nomenclature_t nomenclature)
{
    static const char *const names[BF_CVSS_NOMENCLATURE__COUNT] = {"CVSS-B", "CVSS-BT",
                                                                   "CVSS-BE", "CVSS-BTE"};
    return (unsigned)nomenclature < BF_CVSS_NOMENCLATURE__COUNT ? names[nomenclature]
                                                                : "?";
}
