/*
 * fuzz_stored.c - what the programs read back from Redis, which any
 * process of the fleet (or anyone who can reach Redis) may have written:
 * the first byte picks
 *   0  an entry of the AI result cache (worker/ai.h), for the analysis
 *      kind in the high bits;
 *   1  raw RESP bytes through hiredis's reply reader, each reply then read
 *      as the near-duplicate script's answer (worker/neardup.h);
 *   2  the autoscaler's saved forecast state (autoscaler/scaler.h), for
 *      the scaler of stored_scaler.h (a short season, so a state can
 *      match it).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "autoscaler/scaler.h"
#include "stored_scaler.h"
#include "worker/ai.h"
#include "worker/analysis.h"
#include "worker/neardup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void resp_replies(const char *buf, size_t len)
{
    redisReader *r = redisReaderCreate();
    if (!r)
        abort();
    if (redisReaderFeed(r, buf, len) == REDIS_OK) {
        void *reply = NULL;
        while (redisReaderGetReply(r, &reply) == REDIS_OK && reply) {
            bf_neardup_answer_t answer;
            bf_neardup_answer_parse(reply, &answer);
            freeReplyObject(reply);
            reply = NULL;
        }
    }
    redisReaderFree(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    /* An exact-size, NUL-terminated copy (Redis strings are both). */
    char *text = malloc(len + 1);
    if (!text)
        abort();
    memcpy(text, data + 1, len);
    text[len] = '\0';
    switch (data[0] & 3) {
    case 0: {
        bf_analysis_kind_t kind =
            (bf_analysis_kind_t)((data[0] >> 4) % BF_ANALYSIS__COUNT);
        bf_verdict_t v = {0};
        if (bf_ai_cache_entry_parse(kind, text, len, &v))
            bf_verdict_clear(&v);
        break;
    }
    case 1:
        resp_replies(text, len);
        break;
    default: {
        bf_scaler_t *s = fuzz_stored_scaler_new();
        char errstr[256];
        if (bf_scaler_load(s, text, errstr, sizeof(errstr)) == 0) {
            /* A state that loads must be usable: decide on it. */
            bf_scaler_obs_t obs = {.now = 1000,
                                   .total_lag = 100,
                                   .partitions = 4,
                                   .current_workers = 2,
                                   .arrivals = 50,
                                   .processed = 40,
                                   .latency_s = -1};
            bf_scaler_decision_t d;
            bf_scaler_observe(s, &obs, &d);
            obs.now += 120;
            bf_scaler_observe(s, &obs, &d);
            if (d.decision.target_workers < 0 || d.decision.target_workers > 8)
                abort();
            free(bf_scaler_save(s));
        }
        bf_scaler_destroy(s);
        break;
    }
    }
    free(text);
    return 0;
}
