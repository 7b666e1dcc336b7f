/*
 * synthetic.h - a generator of realistic report load for --synthetic:
 * originals drawn from a corpus of real write-ups, exact duplicates and
 * near duplicates of earlier ones, in chosen proportions.
 */
#ifndef BF_PRODUCER_SYNTHETIC_H
#define BF_PRODUCER_SYNTHETIC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum bf_synth_kind_e {
    BF_SYNTH_ORIGINAL = 0,  /* new content */
    BF_SYNTH_DUPLICATE = 1, /* same content as an earlier report, new id and reporter */
    BF_SYNTH_NEAR_DUPLICATE = 2, /* same issue and asset, reworded text */
} bf_synth_kind_t;

typedef struct bf_synth_conf_s {
    const char *corpus_path; /* JSON lines of reports (report.avsc field names) */
    double dup_ratio;        /* share of exact duplicates, 0..1 */
    double near_dup_ratio;   /* share of near duplicates, 0..1 (sum <= 1) */
    uint64_t seed;           /* same seed, same sequence */
    const char *id_prefix;   /* report_id = <prefix>-<n>; copied */
} bf_synth_conf_t;

typedef struct bf_synth_s bf_synth_t;

/**
 * @brief Load the corpus and start a sequence.
 * @returns the generator, or NULL with errstr (no usable report in the
 *          corpus, ratios out of range, unreadable file).
 */
bf_synth_t *bf_synth_new(const bf_synth_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @brief The next report.
 * @param kind receives what it is (may be NULL)
 * @returns a new JSON object (caller json_decref()s); never NULL.
 */
json_t *bf_synth_next(bf_synth_t *s, bf_synth_kind_t *kind);

/** @brief Free the generator. NULL-safe. */
void bf_synth_destroy(bf_synth_t *s);

#endif
