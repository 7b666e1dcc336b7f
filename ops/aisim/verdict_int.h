/*
 * verdict_int.h - what verdict.c and severity.c share: lower-cased text
 * regions of a report, phrase counting, and appending reasons.
 * Not part of the verdict API (verdict.h).
 */
#ifndef BF_AISIM_VERDICT_INT_H
#define BF_AISIM_VERDICT_INT_H

#include <stddef.h>

#include "verdict.h"

/** A lower-cased, NUL-terminated copy of one region of a report. */
typedef struct bf_aisim_text_s {
    char *s; /* owned */
    size_t len;
} bf_aisim_text_t;

/**
 * @brief Occurrences of @p phrase (lower case) in @p t, on word boundaries
 *        wherever the phrase begins or ends with a letter, digit or '_'.
 */
int bf_aisim_text_count(const bf_aisim_text_t *t, const char *phrase);

/**
 * @brief Sum of bf_aisim_text_count() over a NULL-terminated list.
 * @param first if not NULL and still NULL, receives the first phrase of the
 *        list that occurs (static, for use in a reason)
 */
int bf_aisim_text_count_any(const bf_aisim_text_t *t, const char *const *phrases,
                            const char **first);

/**
 * @brief Append a printf-formatted reason (cut to BF_AISIM_REASON_SIZE on
 *        a UTF-8 boundary); ignored once BF_AISIM_REASONS_MAX are set.
 */
void bf_aisim_verdict_add_reason(bf_aisim_verdict_t *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * @brief The severity analysis (severity.c): sets v->severity, score,
 *        confidence and reasons.
 * @param strong title and weakness; @p body description, steps and impact;
 *        @p all both (all borrowed)
 */
void bf_aisim_severity_judge(const bf_aisim_text_t *strong, const bf_aisim_text_t *body,
                             const bf_aisim_text_t *all, bf_aisim_verdict_t *v);

#endif
