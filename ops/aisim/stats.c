/*
 * stats.c - counters of the AI simulator (see stats.h).
 *
 * by_report is a hash table with open addressing and linear probing,
 * keyed by report id (FNV-1a hash), doubled when half full so probes stay
 * short. It only grows, up to max_reports ids; reset frees it. Everything
 * sits under one mutex: an update is a handful of instructions, far below
 * the cost of the HTTP request that causes it.
 */
#include "stats.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "libbf/buf.h"
#include "libbf/mem.h"

/* Providers counted apart: openai, anthropic, gemini (providers.h). */
#define N_PROVIDERS 3
static const char *const provider_names[N_PROVIDERS] = {"openai", "anthropic", "gemini"};

/* HTTP status codes are three digits: 100..599. */
#define STATUS_MIN 100
#define STATUS_MAX 599

typedef struct slot_s {
    char *id; /* owned; NULL when the slot is free */
    int64_t count;
} slot_t;

struct bf_aisim_stats_s {
    pthread_mutex_t lock;
    int64_t requests_total;
    int64_t by_status[STATUS_MAX - STATUS_MIN + 1];
    int64_t by_kind[BF_AISIM_KIND__COUNT];
    slot_t *slots; /* by_report */
    size_t n_slots, n_ids, max_ids;
    int64_t dropped;
    int64_t prompt_tokens, completion_tokens;
    int64_t held_now, held_peak;
    struct {
        int64_t requests, by_status[STATUS_MAX - STATUS_MIN + 1];
        int64_t prompt, completion, cached, cache_write;
    } providers[N_PROVIDERS];
};

bf_aisim_stats_t *bf_aisim_stats_new(size_t max_reports)
{
    bf_aisim_stats_t *s = bf_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->max_ids = max_reports;
    return s;
}

static void free_slots(bf_aisim_stats_t *s)
{
    for (size_t i = 0; i < s->n_slots; i++)
        free(s->slots[i].id);
    free(s->slots);
    s->slots = NULL;
    s->n_slots = s->n_ids = 0;
}

void bf_aisim_stats_destroy(bf_aisim_stats_t *s)
{
    if (!s)
        return;
    free_slots(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static uint64_t fnv1a(const char *str)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        h ^= *p;
        h *= 1099511628211u;
    }
    return h;
}

/* The slot holding @p id, or the free slot where it would go. n_slots is a
 * power of two and never full (the load stays at most one half). */
static slot_t *find_slot(slot_t *slots, size_t n_slots, const char *id)
{
    size_t mask = n_slots - 1;
    for (size_t i = (size_t)fnv1a(id) & mask;; i = (i + 1) & mask)
        if (!slots[i].id || strcmp(slots[i].id, id) == 0)
            return &slots[i];
}

static void grow(bf_aisim_stats_t *s)
{
    size_t n = s->n_slots ? s->n_slots * 2 : 1024;
    slot_t *slots = bf_calloc(n, sizeof(*slots));
    for (size_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].id)
            *find_slot(slots, n, s->slots[i].id) = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->n_slots = n;
}

static void count_report(bf_aisim_stats_t *s, const char *id)
{
    if (s->n_slots == 0 || (s->n_ids + 1) * 2 > s->n_slots)
        grow(s);
    slot_t *slot = find_slot(s->slots, s->n_slots, id);
    if (!slot->id) {
        if (s->n_ids == s->max_ids) {
            s->dropped++;
            return;
        }
        slot->id = bf_strdup(id);
        s->n_ids++;
    }
    slot->count++;
}

void bf_aisim_stats_record(bf_aisim_stats_t *s, const bf_aisim_outcome_t *o)
{
    pthread_mutex_lock(&s->lock);
    s->requests_total++;
    if (o->status >= STATUS_MIN && o->status <= STATUS_MAX)
        s->by_status[o->status - STATUS_MIN]++;
    if (o->provider < N_PROVIDERS) {
        s->providers[o->provider].requests++;
        if (o->status >= STATUS_MIN && o->status <= STATUS_MAX)
            s->providers[o->provider].by_status[o->status - STATUS_MIN]++;
        if (o->status == 200) {
            s->providers[o->provider].prompt += o->prompt_tokens;
            s->providers[o->provider].completion += o->completion_tokens;
            s->providers[o->provider].cached += o->cached_tokens;
            s->providers[o->provider].cache_write += o->cache_write_tokens;
        }
    }
    if (o->status == 200) {
        if ((unsigned)o->kind < BF_AISIM_KIND__COUNT)
            s->by_kind[o->kind]++;
        if (o->report_id)
            count_report(s, o->report_id);
        s->prompt_tokens += o->prompt_tokens;
        s->completion_tokens += o->completion_tokens;
    }
    pthread_mutex_unlock(&s->lock);
}

void bf_aisim_stats_held(bf_aisim_stats_t *s, int delta)
{
    pthread_mutex_lock(&s->lock);
    s->held_now += delta;
    if (s->held_now > s->held_peak)
        s->held_peak = s->held_now;
    pthread_mutex_unlock(&s->lock);
}

char *bf_aisim_stats_to_json(bf_aisim_stats_t *s)
{
    json_t *root = json_object();
    json_t *by_status = json_object(), *by_kind = json_object(),
           *by_report = json_object();
    char key[8];
    pthread_mutex_lock(&s->lock);
    json_object_set_new(root, "requests_total", json_integer(s->requests_total));
    /* Borrowed references from here on: root owns the three objects. */
    json_object_set_new(root, "by_status", by_status);
    json_object_set_new(root, "by_kind", by_kind);
    json_object_set_new(root, "by_report", by_report);
    for (int i = 0; i <= STATUS_MAX - STATUS_MIN; i++) {
        if (!s->by_status[i])
            continue;
        snprintf(key, sizeof(key), "%d", i + STATUS_MIN);
        json_object_set_new(by_status, key, json_integer(s->by_status[i]));
    }
    for (int k = 0; k < BF_AISIM_KIND__COUNT; k++)
        if (s->by_kind[k])
            json_object_set_new(by_kind, bf_aisim_kind_name((bf_aisim_kind_t)k),
                                json_integer(s->by_kind[k]));
    /* Ids came from JSON strings, so they are valid UTF-8 for jansson; one
     * that is not (a raw-text report never has an id) would be skipped. */
    for (size_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].id)
            json_object_set_new(by_report, s->slots[i].id,
                                json_integer(s->slots[i].count));
    json_object_set_new(root, "by_report_dropped", json_integer(s->dropped));
    json_object_set_new(root, "prompt_tokens_total", json_integer(s->prompt_tokens));
    json_object_set_new(root, "completion_tokens_total",
                        json_integer(s->completion_tokens));
    json_object_set_new(root, "held_now", json_integer(s->held_now));
    json_object_set_new(root, "held_peak", json_integer(s->held_peak));
    json_t *by_provider = json_object();
    json_object_set_new(root, "by_provider", by_provider);
    for (int p = 0; p < N_PROVIDERS; p++) {
        json_t *st = json_object();
        for (int i = 0; i <= STATUS_MAX - STATUS_MIN; i++) {
            if (!s->providers[p].by_status[i])
                continue;
            snprintf(key, sizeof(key), "%d", i + STATUS_MIN);
            json_object_set_new(st, key, json_integer(s->providers[p].by_status[i]));
        }
        json_object_set_new(
            by_provider, provider_names[p],
            json_pack("{s:I, s:o, s:I, s:I, s:I, s:I}", "requests",
                      (json_int_t)s->providers[p].requests, "by_status", st,
                      "prompt_tokens", (json_int_t)s->providers[p].prompt,
                      "completion_tokens", (json_int_t)s->providers[p].completion,
                      "cached_tokens", (json_int_t)s->providers[p].cached,
                      "cache_write_tokens", (json_int_t)s->providers[p].cache_write));
    }
    pthread_mutex_unlock(&s->lock);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!out)
        abort(); /* allocation failure: the project's out-of-memory policy */
    return out;
}

char *bf_aisim_stats_to_prometheus(bf_aisim_stats_t *s)
{
    /* At most 3 providers x 500 statuses x 160 bytes: the bound is never
     * reached, so the appends cannot fail. */
    bf_buf_t b;
    bf_buf_init(&b, 1 << 20);
    static const char head[] =
        "# HELP bountyfleet_aisim_requests_total Completion requests answered.\n"
        "# TYPE bountyfleet_aisim_requests_total counter\n";
    bf_buf_append(&b, head, sizeof(head) - 1);
    pthread_mutex_lock(&s->lock);
    for (int p = 0; p < N_PROVIDERS; p++)
        for (int i = 0; i <= STATUS_MAX - STATUS_MIN; i++) {
            if (!s->providers[p].by_status[i])
                continue;
            char line[160];
            int n = snprintf(line, sizeof(line),
                             "bountyfleet_aisim_requests_total{provider=\"%s\","
                             "status=\"%d\"} %lld\n",
                             provider_names[p], i + STATUS_MIN,
                             (long long)s->providers[p].by_status[i]);
            bf_buf_append(&b, line, (size_t)n);
        }
    pthread_mutex_unlock(&s->lock);
    return bf_buf_steal(&b, NULL);
}

void bf_aisim_stats_reset(bf_aisim_stats_t *s)
{
    pthread_mutex_lock(&s->lock);
    s->requests_total = 0;
    memset(s->by_status, 0, sizeof(s->by_status));
    memset(s->by_kind, 0, sizeof(s->by_kind));
    free_slots(s);
    s->dropped = 0;
    s->prompt_tokens = s->completion_tokens = 0;
    memset(s->providers, 0, sizeof(s->providers));
    s->held_peak = s->held_now;
    pthread_mutex_unlock(&s->lock);
}
