/*
 * aispend.h - what the AI cost, per provider and per analysis kind, from
 * the validation results on bountyfleet.validations
 * (schemas/validation.avsc): each result lists its analyses with the
 * provider that answered, the cost of the call and the error, if any.
 *
 * The heartbeats carry a worker's total AI spend but not per provider,
 * and the worker's per-provider counters are only on its own /metrics, so
 * the autoscaler follows the results topic (tail.h, its own group
 * bountyfleet-autoscaler-validations, from the log end, at most
 * BF_AISPEND_PER_TICK records a tick). The totals are since the
 * autoscaler started; at more results per tick than that the reader falls
 * behind and the numbers describe somewhat older results.
 *
 * Pure aggregator (unit-tested) plus the reader. Bounded: at most
 * BF_AISPEND_MAX_PROVIDERS providers are told apart (the rest are summed
 * under "other"), names are cut at BF_AISPEND_NAME_MAX bytes, and costs
 * outside 0..BF_AISPEND_MAX_USD are not believed (a record counts, its
 * cost does not).
 */
#ifndef BF_AUTOSCALER_AISPEND_H
#define BF_AUTOSCALER_AISPEND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BF_AISPEND_MAX_PROVIDERS 8
#define BF_AISPEND_NAME_MAX      32
#define BF_AISPEND_KINDS         3 /* QUALITY, PLAUSIBILITY, SEVERITY */
#define BF_AISPEND_MAX_USD       1e6
#define BF_AISPEND_PER_TICK      2000

/** One provider's analyses of one kind. */
typedef struct bf_aispend_cell_s {
    int64_t analyses;   /* answered or failed */
    int64_t failed;     /* with an error */
    double cost_usd;    /* of all of them */
    double ok_cost_usd; /* of those without an error */
} bf_aispend_cell_t;

typedef struct bf_aispend_provider_s {
    char name[BF_AISPEND_NAME_MAX + 1];
    bf_aispend_cell_t kind[BF_AISPEND_KINDS];
} bf_aispend_provider_t;

typedef struct bf_aispend_s {
    size_t count;
    bf_aispend_provider_t providers[BF_AISPEND_MAX_PROVIDERS];
    int64_t results;          /* validation results seen */
    int64_t duplicates;       /* of them DUPLICATE (no AI spend) */
    double cost_usd;          /* sum of total_cost_usd */
    double first_at, last_at; /* validated_at of the oldest and newest, epoch s */
} bf_aispend_t;

/** @brief Take one decoded validation record (borrowed). */
void bf_aispend_add(bf_aispend_t *a, const json_t *record);

/** Consumer group of the autoscaler's reader of the results (tail.h). */
#define BF_AISPEND_GROUP "bountyfleet-autoscaler-validations"

#endif
