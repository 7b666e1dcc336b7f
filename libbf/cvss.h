/*
 * cvss.h - CVSS vectors of versions 3.0, 3.1 and 4.0: parse, validate and
 * score them exactly as FIRST's specifications define it.
 *
 * A report may carry the reporter's CVSS vector (report.avsc,
 * cvss_vector); the worker scores it and compares the rating with the
 * report's claimed_severity. Everything here is a pure function over
 * caller-owned memory: no allocation, no I/O, no global state, so the
 * parser can be fuzzed and called from the event loop.
 *
 *   bf_cvss_t v;
 *   bf_cvss_scores_t s;
 *   if (bf_cvss_parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", &v,
 *                     errstr, sizeof(errstr)) == BF_OK &&
 *       bf_cvss_score(&v, &s) == BF_OK)
 *       printf("%.1f %s\n", s.score, bf_cvss_rating_name(s.rating)); // 9.8 Critical
 *
 * Specifications: CVSS v3.0 and v3.1 Specification Documents (sections 6
 * "Vector String", 7 "CVSS v3.x Equations", Appendix A "Floating Point
 * Rounding" of 3.1) and the CVSS v4.0 Specification Document (section 7
 * "Vector String", 8 "CVSS v4.0 Scoring").
 */
#ifndef BF_CVSS_H
#define BF_CVSS_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"

/* The longest vector bf_cvss_parse() reads. A valid vector names each
 * metric at most once, so none is longer than 178 bytes (a v4.0 vector
 * with every Base, Threat, Environmental and Supplemental metric and
 * U:Amber); anything longer is refused before it is looked at. */
#define BF_CVSS_MAX_VECTOR 256

/* Metrics of the largest version (v4.0 has 32, v3.x has 22). */
#define BF_CVSS_MAX_METRICS 32

typedef enum bf_cvss_version_e {
    BF_CVSS_V3_0 = 0,
    BF_CVSS_V3_1 = 1,
    BF_CVSS_V4_0 = 2,
    BF_CVSS_VERSION__COUNT
} bf_cvss_version_t;

/** The qualitative severity rating scale (v3.1 section 5, v4.0 section 6). */
typedef enum bf_cvss_rating_e {
    BF_CVSS_RATING_NONE = 0,     /* 0.0 */
    BF_CVSS_RATING_LOW = 1,      /* 0.1 - 3.9 */
    BF_CVSS_RATING_MEDIUM = 2,   /* 4.0 - 6.9 */
    BF_CVSS_RATING_HIGH = 3,     /* 7.0 - 8.9 */
    BF_CVSS_RATING_CRITICAL = 4, /* 9.0 - 10.0 */
    BF_CVSS_RATING__COUNT
} bf_cvss_rating_t;

/** Which v4.0 metric groups a score uses (v4.0 section 1.3, "Nomenclature"). */
typedef enum bf_cvss_nomenclature_e {
    BF_CVSS_B = 0,   /* Base metrics */
    BF_CVSS_BT = 1,  /* Base and Threat */
    BF_CVSS_BE = 2,  /* Base and Environmental */
    BF_CVSS_BTE = 3, /* Base, Threat and Environmental */
    BF_CVSS_NOMENCLATURE__COUNT
} bf_cvss_nomenclature_t;

/**
 * A parsed vector: a plain value, copied by assignment, nothing to free.
 *
 * values[i] is the value of the version's i-th metric in the
 * specification's order (v3.x Table 15, v4.0 Table 23) as an index into
 * that metric's values; for an optional metric index 0 is Not Defined (X),
 * which is also what an omitted metric means. Fill it with
 * bf_cvss_parse(); bf_cvss_score() refuses values no vector can have.
 */
typedef struct bf_cvss_s {
    bf_cvss_version_t version;
    uint8_t values[BF_CVSS_MAX_METRICS];
} bf_cvss_t;

/** Scores of a vector, each in [0, 10] with one decimal. */
typedef struct bf_cvss_scores_s {
    bf_cvss_version_t version;
    /* The vector's score: the Base Score for v3.x; for v4.0 the one score
     * its metrics give (CVSS-B, -BT, -BE or -BTE, see nomenclature). */
    double score;
    bf_cvss_rating_t rating; /* of score */
    /* v4.0: the metric groups the vector uses; v3.x: always BF_CVSS_B. */
    bf_cvss_nomenclature_t nomenclature;
    /* v3.x: the Base, Temporal and Environmental Scores (v3.x section 7;
     * undefined Temporal or Environmental metrics count as X, so the
     * Temporal Score of a base-only vector is its Base Score).
     * v4.0: base is the CVSS-B score; temporal and environmental are NAN. */
    double base, temporal, environmental;
    /* v4.0: the score of the vector with only the named metric groups
     * (v4[BF_CVSS_B] is CVSS-B, v4[BF_CVSS_BT] ignores the Environmental
     * metrics, ...), NAN for a group the vector does not use. v3.x: NAN. */
    double v4[BF_CVSS_NOMENCLATURE__COUNT];
} bf_cvss_scores_t;

/**
 * @brief Parse and validate a vector string ("CVSS:3.1/AV:N/...").
 *
 * Strict, as the specifications are: the prefix must be CVSS:3.0/,
 * CVSS:3.1/ or CVSS:4.0/; names and values are case-sensitive; every
 * metric is NAME:VALUE, separated by single slashes; each metric appears
 * at most once; all Base metrics are present; a v4.0 vector lists its
 * metrics in the order of Table 23 (v3.x allows any order). Optional
 * metrics may be given as X.
 *
 * @param vector NUL-terminated, borrowed
 * @param out    receives the vector (unchanged on error)
 * @param errstr receives a one-line reason on error (may be NULL)
 * @returns BF_OK; BF_ERR_PARSE (bad prefix, unsupported version, not
 *          NAME:VALUE, empty metric); BF_ERR_SCHEMA (unknown metric or
 *          value, repeated metric, out of order); BF_ERR_MISSING_FIELD
 *          (a mandatory metric is missing); BF_ERR_TOO_LARGE (longer than
 *          BF_CVSS_MAX_VECTOR); BF_ERR_INVALID_ARG (NULL).
 */
bf_err_t bf_cvss_parse(const char *vector, bf_cvss_t *out, char *errstr,
                       size_t errstr_size);

/**
 * @brief Compute the scores of a parsed vector.
 *
 * v3.0 and v3.1 use their own round-up functions and Environmental
 * formulas (they differ when the Modified Scope is Changed); v4.0 looks up
 * the vector's MacroVector and interpolates by its severity distance.
 *
 * @param cvss borrowed
 * @param out  receives the scores
 * @returns BF_OK, or BF_ERR_INVALID_ARG when @p cvss holds values that
 *          bf_cvss_parse() never produces.
 */
bf_err_t bf_cvss_score(const bf_cvss_t *cvss, bf_cvss_scores_t *out);

/**
 * @brief Write the vector in the specification's order, omitting metrics
 *        that are Not Defined: the canonical form, which parses back to
 *        the same vector.
 * @param buf receives the string, truncated to @p size - 1 bytes and
 *            NUL-terminated (when size > 0)
 * @returns the length of the whole string (snprintf-style; at most
 *          BF_CVSS_MAX_VECTOR), or 0 when @p cvss holds invalid values.
 */
size_t bf_cvss_format(const bf_cvss_t *cvss, char *buf, size_t size);

/** @brief The rating of a score (0.0 None ... 9.0-10.0 Critical). */
bf_cvss_rating_t bf_cvss_rating_of(double score);

/** @brief "None", "Low", "Medium", "High" or "Critical"; static, never NULL. */
const char *bf_cvss_rating_name(bf_cvss_rating_t rating);

/**
 * @brief A rating from its name, case-insensitively ("critical", "High",
 *        "NONE"), e.g. a report's claimed_severity.
 * @returns BF_OK, BF_ERR_PARSE for any other text, BF_ERR_INVALID_ARG (NULL).
 */
bf_err_t bf_cvss_rating_parse(const char *name, bf_cvss_rating_t *out);

/**
 * @brief Untrusted text as it may be shown in a message or a one-line
 *        output: printable ASCII kept, any other byte '?', cut after
 *        @p max bytes with "..." appended. bf_cvss_parse() quotes the
 *        pieces of a vector it refuses this way.
 * @param s    @p len bytes, borrowed (NUL bytes are shown as '?')
 * @param buf  receives the text, NUL-terminated; max + 4 bytes always fit
 * @returns @p buf
 */
const char *bf_cvss_printable(const char *s, size_t len, size_t max, char *buf,
                              size_t size);

/** @brief "3.0", "3.1" or "4.0"; static, never NULL ("?" when unknown). */
const char *bf_cvss_version_name(bf_cvss_version_t version);

/** @brief "CVSS-B", "CVSS-BT", "CVSS-BE" or "CVSS-BTE"; static, never NULL. */
const char *bf_cvss_nomenclature_name(bf_cvss_nomenclature_t nomenclature);

#endif
