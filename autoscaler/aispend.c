/*
 * aispend.c - AI spend per provider from the validation results (see
 * aispend.h).
 */
#include "autoscaler/aispend.h"

#include <stdio.h>
#include <stdbool.h>
#include <string.h>

static const char *kinds[BF_AISPEND_KINDS] = {"QUALITY", "PLAUSIBILITY", "SEVERITY"};

static int kind_of(const char *name)
{
    for (int k = 0; name && k < BF_AISPEND_KINDS; k++)
        if (strcmp(name, kinds[k]) == 0)
            return k;
    return -1;
}

/* Cut @p s (a copy cut to its buffer, once valid UTF-8) where its last
 * whole character ends, so the name stays valid UTF-8 for JSON. */
static void utf8_cut(char *s)
{
    size_t n = strlen(s), lead = n;
    while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead == 0 || (unsigned char)s[lead - 1] < 0xC0)
        return; /* ends in ASCII or in stray continuation bytes: nothing to cut */
    unsigned char c = (unsigned char)s[lead - 1];
    size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (n - (lead - 1) < want)
        s[lead - 1] = '\0';
}

/* The provider's slot; past the cap every new name shares the last one,
 * "other". */
static bf_aispend_provider_t *provider(bf_aispend_t *a, const char *name)
{
    char cut[BF_AISPEND_NAME_MAX + 1];
    snprintf(cut, sizeof(cut), "%s", name && *name ? name : "unknown");
    utf8_cut(cut);
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->providers[i].name, cut) == 0)
            return &a->providers[i];
    if (a->count == BF_AISPEND_MAX_PROVIDERS) {
        bf_aispend_provider_t *other = &a->providers[BF_AISPEND_MAX_PROVIDERS - 1];
        snprintf(other->name, sizeof(other->name), "other");
        return other;
    }
    bf_aispend_provider_t *p = &a->providers[a->count++];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", cut);
    return p;
}

static double usd(const json_t *v)
{
    double x = json_number_value(v);
    return x >= 0 && x <= BF_AISPEND_MAX_USD ? x : 0;
}

void bf_aispend_add(bf_aispend_t *a, const json_t *rec)
{
    const char *status = json_string_value(json_object_get(rec, "status"));
    if (!status)
        return;
    a->results++;
    if (strcmp(status, "DUPLICATE") == 0)
        a->duplicates++;
    a->cost_usd += usd(json_object_get(rec, "total_cost_usd"));
    double at = (double)json_integer_value(json_object_get(rec, "validated_at")) / 1000;
    if (at > 0 && (a->first_at == 0 || at < a->first_at))
        a->first_at = at;
    if (at > a->last_at)
        a->last_at = at;
    size_t i;
    json_t *an;
    json_array_foreach(json_object_get(rec, "analyses"), i, an)
    {
        int k = kind_of(json_string_value(json_object_get(an, "kind")));
        if (k < 0)
            continue;
        bf_aispend_cell_t *c =
            &provider(a, json_string_value(json_object_get(an, "provider")))->kind[k];
        double cost = usd(json_object_get(an, "cost_usd"));
        bool failed = json_is_string(json_object_get(an, "error"));
        c->analyses++;
        c->cost_usd += cost;
        if (failed)
            c->failed++;
        else
            c->ok_cost_usd += cost;
    }
}
