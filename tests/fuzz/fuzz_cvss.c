/*
 * fuzz_cvss.c - the CVSS vector parser (bf_cvss_parse) on arbitrary text,
 * and the scores of every vector that parses, against the invariants the
 * specifications promise.
 *
 * Input: byte 0 below 0x80 (any vector text starts so): the whole input is
 * the vector text. Byte 0 from 0x80: a vector built from bytes, version
 * byte 0 % 3 and then one byte per metric, its value index modulo the
 * metric's number of values (missing bytes: the first value); this way
 * most inputs are valid vectors and the scoring code gets fuzzed as much
 * as the parser.
 *
 * Checked (abort() on failure):
 *  - a refused vector has a reason, one printable line;
 *  - every score is in [0, 10] with one decimal; v3.x Temporal <= Base;
 *    v4.0's score is the one of its nomenclature, the others NAN exactly
 *    when the vector lacks their groups;
 *  - the rating matches the score on the scale (None 0.0, Low 0.1-3.9,
 *    Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0) and its name parses
 *    back to it;
 *  - the canonical form parses back to the same vector and the same
 *    scores, and formats to itself.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libbf/cvss.h"
#include "libbf/cvss_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* A score as the specifications give one: 0.0 to 10.0, one decimal. */
static long tenths(double score)
{
    check(score >= 0 && score <= 10);
    long t = lround(score * 10);
    check(fabs(score * 10 - (double)t) < 1e-9);
    return t;
}

static void check_rating(double score, bf_cvss_rating_t rating)
{
    long t = tenths(score);
    static const long upper[BF_CVSS_RATING__COUNT] = {0, 39, 69, 89, 100};
    check((unsigned)rating < BF_CVSS_RATING__COUNT);
    check(t <= upper[rating] && (rating == 0 || t > upper[rating - 1]));
    bf_cvss_rating_t back;
    check(bf_cvss_rating_parse(bf_cvss_rating_name(rating), &back) == BF_OK);
    check(back == rating);
}

static void check_scores(const bf_cvss_t *v, const bf_cvss_scores_t *s)
{
    check(s->version == v->version);
    check_rating(s->score, s->rating);
    check(s->rating == bf_cvss_rating_of(s->score));
    if (v->version == BF_CVSS_V4_0) {
        check((unsigned)s->nomenclature < BF_CVSS_NOMENCLATURE__COUNT);
        bool threat = s->nomenclature == BF_CVSS_BT || s->nomenclature == BF_CVSS_BTE;
        bool env = s->nomenclature == BF_CVSS_BE || s->nomenclature == BF_CVSS_BTE;
        check(!isnan(s->v4[BF_CVSS_B]));
        check(isnan(s->v4[BF_CVSS_BT]) == !threat);
        check(isnan(s->v4[BF_CVSS_BE]) == !env);
        check(isnan(s->v4[BF_CVSS_BTE]) == !(threat && env));
        for (int n = 0; n < BF_CVSS_NOMENCLATURE__COUNT; n++)
            if (!isnan(s->v4[n]))
                tenths(s->v4[n]);
        check(s->score == s->v4[s->nomenclature] && s->base == s->v4[BF_CVSS_B]);
        check(isnan(s->temporal) && isnan(s->environmental));
    } else {
        check(s->nomenclature == BF_CVSS_B && s->score == s->base);
        check(tenths(s->temporal) <= tenths(s->base));
        tenths(s->environmental);
        for (int n = 0; n < BF_CVSS_NOMENCLATURE__COUNT; n++)
            check(isnan(s->v4[n]));
    }
}

static bool same(double a, double b)
{
    return isnan(a) ? isnan(b) : a == b;
}

/* Score a parsed vector, check it, and check its canonical form. */
static void check_vector(const bf_cvss_t *v)
{
    bf_cvss_scores_t s, again;
    check(bf_cvss_score(v, &s) == BF_OK);
    check_scores(v, &s);

    char text[BF_CVSS_MAX_VECTOR + 1], text2[BF_CVSS_MAX_VECTOR + 1];
    size_t n = bf_cvss_format(v, text, sizeof(text));
    check(n > 0 && n <= BF_CVSS_MAX_VECTOR && n == strlen(text));
    bf_cvss_t back;
    char errstr[256];
    check(bf_cvss_parse(text, &back, errstr, sizeof(errstr)) == BF_OK);
    check(back.version == v->version &&
          memcmp(back.values, v->values, sizeof(v->values)) == 0);
    check(bf_cvss_format(&back, text2, sizeof(text2)) == n && strcmp(text, text2) == 0);
    check(bf_cvss_score(&back, &again) == BF_OK);
    check(again.rating == s.rating && again.nomenclature == s.nomenclature);
    check(same(again.score, s.score) && same(again.base, s.base) &&
          same(again.temporal, s.temporal) && same(again.environmental, s.environmental));
    for (int i = 0; i < BF_CVSS_NOMENCLATURE__COUNT; i++)
        check(same(again.v4[i], s.v4[i]));
}

static void fuzz_text(const uint8_t *data, size_t size)
{
    /* One byte past the bound is enough to reach the length check. */
    char vector[BF_CVSS_MAX_VECTOR + 2];
    size_t n = size < sizeof(vector) - 1 ? size : sizeof(vector) - 1;
    memcpy(vector, data, n);
    vector[n] = '\0';
    /* The text may also be a rating name (a report's claimed_severity). */
    bf_cvss_rating_t r;
    if (bf_cvss_rating_parse(vector, &r) == BF_OK)
        check(strcasecmp(vector, bf_cvss_rating_name(r)) == 0);

    bf_cvss_t v;
    char errstr[256] = "";
    if (bf_cvss_parse(vector, &v, errstr, sizeof(errstr)) != BF_OK) {
        check(errstr[0] != '\0');
        for (const char *p = errstr; *p; p++)
            check((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
        return;
    }
    check_vector(&v);
}

static void fuzz_built(const uint8_t *data, size_t size)
{
    bf_cvss_t v = {.version = (bf_cvss_version_t)(data[0] % BF_CVSS_VERSION__COUNT)};
    size_t n;
    const bf_cvss_metric_t *metrics = bf_cvss_metrics(v.version, &n);
    check(metrics != NULL);
    for (size_t i = 0; i < n && i + 1 < size; i++)
        v.values[i] = (uint8_t)(data[i + 1] % metrics[i].n_values);
    check_vector(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] >= 0x80)
        fuzz_built(data, size);
    else
        fuzz_text(data, size);
    return 0;
}
