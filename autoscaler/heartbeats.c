/*
 * heartbeats.c - the workers' heartbeats (see heartbeats.h).
 */
#include "autoscaler/heartbeats.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaler/tail.h"
#include "libbf/mem.h"

/* A heartbeat's number is trusted only within 0..max: anything that can
 * write to the topic can send 1e308, and Avro doubles can be NaN or
 * infinite. */
static bool plausible(double v, double max)
{
    return v >= 0 && v <= max;
}

/* A counter's growth since the worker's previous record; all of it for a
 * worker (or a restart of one) not seen before. */
static double growth(bool restarted, double now_value, double before)
{
    return restarted || now_value < before ? now_value : now_value - before;
}

/* A cumulative count from a heartbeat, or @p keep when implausible. */
static int64_t count_of(const json_t *rec, const char *key, int64_t keep)
{
    json_t *v = json_object_get(rec, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v)
                                                            : keep;
}

/* A latency from a heartbeat, -1 when missing or implausible. */
static double latency_of(const json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    return json_is_number(v) && plausible(json_number_value(v), BF_HEARTBEATS_MAX_SECONDS)
               ? json_number_value(v)
               : -1;
}

void bf_heartbeats_add(bf_heartbeats_t *h, const json_t *rec, double now)
{
    const char *id = json_string_value(json_object_get(rec, "worker_id"));
    if (!id || !*id)
        return;
    bf_heartbeat_worker_t *w = NULL;
    for (size_t i = 0; i < h->count && !w; i++)
        if (strcmp(h->workers[i].id, id) == 0)
            w = &h->workers[i];
    bool fresh = !w;
    if (!w) {
        if (h->count == BF_HEARTBEATS_MAX_WORKERS) {
            /* full: reuse the slot of the worker heard from longest ago */
            size_t oldest = 0;
            for (size_t i = 1; i < h->count; i++)
                if (h->workers[i].seen_at < h->workers[oldest].seen_at)
                    oldest = i;
            w = &h->workers[oldest];
        } else {
            w = &h->workers[h->count++];
        }
        memset(w, 0, sizeof(*w));
        snprintf(w->id, sizeof(w->id), "%s", id);
    }
    int64_t started = json_integer_value(json_object_get(rec, "started_at"));
    double cost = json_number_value(json_object_get(rec, "ai_cost_usd"));
    bool restarted = fresh || started != w->started_at;
    if (!plausible(cost, BF_HEARTBEATS_MAX_USD)) {
        /* Not a spend anyone made: keep the last good value, so the
         * budgets neither jump to infinity (1e308 from two workers sums to
         * inf) nor lose what was already counted. */
        cost = restarted ? 0 : w->ai_cost_usd;
    }
    double spent = growth(restarted, cost, w->ai_cost_usd);
    h->ai_spend_pending += spent;
    h->ai_usd_total += spent;
    int64_t validated =
        count_of(rec, "reports_validated", restarted ? 0 : w->reports_validated);
    int64_t duplicate =
        count_of(rec, "reports_duplicate", restarted ? 0 : w->reports_duplicate);
    h->validated_total +=
        (int64_t)growth(restarted, (double)validated, (double)w->reports_validated);
    h->duplicate_total +=
        (int64_t)growth(restarted, (double)duplicate, (double)w->reports_duplicate);
    w->reports_validated = validated;
    w->reports_duplicate = duplicate;
    w->started_at = started;
    w->ai_cost_usd = cost;
    w->seen_at = now;
    double rate = json_number_value(json_object_get(rec, "reports_per_second"));
    w->latency_p50_s = latency_of(rec, "latency_p50_seconds");
    w->latency_p95_s = latency_of(rec, "latency_p95_seconds");
    w->latency_p99_s = latency_of(rec, "latency_p99_seconds");
    w->reports_per_second = plausible(rate, BF_HEARTBEATS_MAX_RATE) ? rate : 0;
    w->in_flight_reports = count_of(rec, "in_flight_reports", 0);
    w->in_flight_ai_calls = count_of(rec, "in_flight_ai_calls", 0);
    w->assigned_partitions = count_of(rec, "assigned_partitions", 0);
    w->paused = json_is_true(json_object_get(rec, "paused"));
    /* Absent in a v1 heartbeat: 0, no limit known. */
    double limit = json_number_value(json_object_get(rec, "ai_limit_rpm"));
    double limited = json_number_value(json_object_get(rec, "ai_limited_share"));
    w->ai_limit_rpm = plausible(limit, BF_HEARTBEATS_MAX_RATE * 60) ? limit : 0;
    w->ai_limited_share = plausible(limited, 1) ? limited : 0;
}

void bf_heartbeats_summary(const bf_heartbeats_t *h, double now,
                           bf_heartbeats_summary_t *out)
{
    *out = (bf_heartbeats_summary_t){.latency_p95_s = -1};
    for (size_t i = 0; i < h->count; i++) {
        const bf_heartbeat_worker_t *w = &h->workers[i];
        if (now - w->seen_at > BF_HEARTBEATS_STALE_S)
            continue;
        out->heartbeating++;
        if (w->latency_p95_s > out->latency_p95_s)
            out->latency_p95_s = w->latency_p95_s;
        out->reports_per_second += w->reports_per_second;
        out->paused += w->paused;
        out->ai_limited += w->ai_limited_share >= BF_HEARTBEATS_AI_LIMITED;
        if (w->ai_limit_rpm > out->ai_limit_rpm)
            out->ai_limit_rpm = w->ai_limit_rpm;
    }
}

double bf_heartbeats_take_spend(bf_heartbeats_t *h)
{
    double s = h->ai_spend_pending;
    h->ai_spend_pending = 0;
    return s;
}

struct bf_heartbeat_reader_s {
    bf_tail_t *tail;
};

bf_heartbeat_reader_t *bf_heartbeat_reader_new(const char *brokers,
                                               const bf_kprops_t *props,
                                               const char *topic, char *errstr,
                                               size_t errstr_size)
{
    bf_tail_t *tail =
        bf_tail_new(brokers, props, topic, "bountyfleet-autoscaler-heartbeats",
                    BF_RECORD_HEARTBEAT, errstr, errstr_size);
    if (!tail)
        return NULL;
    bf_heartbeat_reader_t *r = bf_calloc(1, sizeof(*r));
    r->tail = tail;
    return r;
}

typedef struct poll_ctx_s {
    bf_heartbeats_t *h;
    double now;
} poll_ctx_t;

static void take(void *opaque, const json_t *rec)
{
    poll_ctx_t *ctx = opaque;
    bf_heartbeats_add(ctx->h, rec, ctx->now);
}

void bf_heartbeat_reader_poll(bf_heartbeat_reader_t *r, bf_heartbeats_t *h, double now)
{
    if (!r)
        return;
    poll_ctx_t ctx = {h, now};
    bf_tail_poll(r->tail, BF_HEARTBEATS_PER_TICK, take, &ctx);
}

void bf_heartbeat_reader_destroy(bf_heartbeat_reader_t *r)
{
    if (!r)
        return;
    bf_tail_destroy(r->tail);
    free(r);
}
