/*
 * cvss_int.h - private to libbf: the metric tables that cvss.c (parsing,
 * formatting, v3.x scores) and cvss4.c (v4.0 scores) share.
 */
#ifndef BF_CVSS_INT_H
#define BF_CVSS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libbf/cvss.h"

/** One metric of a version: its abbreviated name and values, as in the
 *  specification's vector string table. */
typedef struct bf_cvss_metric_s {
    const char *name;
    const char *const *values; /* optional metrics start with "X" */
    uint8_t n_values;
    bool mandatory; /* a Base metric */
} bf_cvss_metric_t;

/* v4.0 metrics in the order of Table 23 (the only order a vector may use).
 * The modified Base metrics mirror the Base metrics: BF_CVSS4_MAV + i
 * modifies metric i, and its values are "X" then those of metric i (MSI
 * and MSA add S, Safety). */
enum {
    BF_CVSS4_AV,
    BF_CVSS4_AC,
    BF_CVSS4_AT,
    BF_CVSS4_PR,
    BF_CVSS4_UI,
    BF_CVSS4_VC,
    BF_CVSS4_VI,
    BF_CVSS4_VA,
    BF_CVSS4_SC,
    BF_CVSS4_SI,
    BF_CVSS4_SA,
    BF_CVSS4_E,  /* Threat */
    BF_CVSS4_CR, /* Environmental */
    BF_CVSS4_IR,
    BF_CVSS4_AR,
    BF_CVSS4_MAV,
    BF_CVSS4_MAC,
    BF_CVSS4_MAT,
    BF_CVSS4_MPR,
    BF_CVSS4_MUI,
    BF_CVSS4_MVC,
    BF_CVSS4_MVI,
    BF_CVSS4_MVA,
    BF_CVSS4_MSC,
    BF_CVSS4_MSI,
    BF_CVSS4_MSA,
    BF_CVSS4_S, /* Supplemental: never part of a score */
    BF_CVSS4_AU,
    BF_CVSS4_R,
    BF_CVSS4_V,
    BF_CVSS4_RE,
    BF_CVSS4_U,
    BF_CVSS4__COUNT
};

/** The v4.0 metrics, indexed by the enum above (cvss.c). */
extern const bf_cvss_metric_t bf_cvss4_metrics[BF_CVSS4__COUNT];

/**
 * @brief The metrics of @p version, in the specification's order (its
 *        bf_cvss_t.values indices); static. NULL for an unknown version.
 * @param n receives how many
 */
const bf_cvss_metric_t *bf_cvss_metrics(bf_cvss_version_t version, size_t *n);

/**
 * @brief The v4.0 score of @p values (a parsed v4.0 vector's values, every
 *        metric group as given), in [0, 10] with one decimal.
 */
double bf_cvss4_score_values(const uint8_t values[BF_CVSS4__COUNT]);

/**
 * @brief The v3.x round up. v3.0 (its Base equations: "the smallest
 *        number, specified to one decimal place, that is equal to or
 *        higher than its input"), i.e.
 *        ceil(value * 10) / 10 in floating point. v3.1 (Appendix A): the
 *        same on an integer of 1/100000 units, so that 4.000001 (a
 *        floating-point artefact of 4.0) rounds to 4.0 and not 4.1.
 * @param version BF_CVSS_V3_0 or BF_CVSS_V3_1
 */
double bf_cvss_roundup(bf_cvss_version_t version, double value);

#endif
