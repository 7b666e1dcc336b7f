/*
 * fuzz_heartbeat.c - what the autoscaler reads from other processes on
 * bountyfleet.heartbeats: a record in any framing decoded as a heartbeat
 * (the reader's path in autoscaler/heartbeats.c) and taken into the
 * aggregator, then summarised and its spend taken, as the control loop
 * does each tick. The input may hold several records, separated by the
 * byte sequence "\n--\n", so that one worker's records meet (restarts,
 * spend going backwards, the table filling up).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "autoscaler/heartbeats.h"
#include "libbf/codec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bf_codec_t *codec;
static bf_heartbeats_t *beats;

/* One codec and one table for the run, made before libFuzzer counts
 * allocations; the table is reset per input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char errstr[256];
    if (!(codec = bf_codec_new(errstr, sizeof(errstr))))
        abort();
    if (!(beats = calloc(1, sizeof(*beats))))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n--\n";
    memset(beats, 0, sizeof(*beats));
    double now = 1.7e9;
    const uint8_t *p = data, *end = data + size;
    while (p <= end) {
        const uint8_t *next = memmem(p, (size_t)(end - p), sep, sizeof(sep) - 1);
        size_t len = next ? (size_t)(next - p) : (size_t)(end - p);
        /* An exact-size copy, so that reading past the message is caught. */
        uint8_t *msg = malloc(len ? len : 1);
        if (!msg)
            abort();
        memcpy(msg, p, len);
        json_t *rec = NULL;
        char errstr[256];
        if (bf_codec_decode(codec, BF_RECORD_HEARTBEAT, msg, len, &rec, NULL, errstr,
                            sizeof(errstr)) == BF_OK) {
            bf_heartbeats_add(beats, rec, now);
            json_decref(rec);
        }
        free(msg);
        now += 1;
        if (!next)
            break;
        p = next + sizeof(sep) - 1;
    }
    if (beats->count > BF_HEARTBEATS_MAX_WORKERS)
        abort();
    bf_heartbeats_summary_t s;
    bf_heartbeats_summary(beats, now, &s);
    if (s.heartbeating < 0 || s.heartbeating > (int64_t)beats->count ||
        !isfinite(s.reports_per_second) || !isfinite(s.latency_p95_s))
        abort();
    /* Spend feeds the budgets: finite and never negative, whatever a
     * worker (or anything else that can write to the topic) sends. */
    double spend = bf_heartbeats_take_spend(beats);
    if (!(spend >= 0) || !isfinite(spend))
        abort();
    return 0;
}
