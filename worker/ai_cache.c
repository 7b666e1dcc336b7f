/*
 * ai_cache.c - the AI layer's answer cache in Redis (see ai.h, "Response
 * cache"): an answer is stored under {prefix}ai:{provider}:{model}:{prompt
 * version}:{kind}:{sha256 of the report}, so the same content is never
 * paid for twice, whichever worker of the fleet analysed it first.
 *
 * What is stored is the checked verdict, not the provider's body; what is
 * read is checked again like a fresh answer (it is outside input: any
 * worker, or anything else with access to Redis, may have written it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/json_scan.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "libbf/report.h"
#include "worker/ai_int.h"

char *bf_ai_cache_head(const bf_ai_t *ai, const bf_ai_prov_t *p, bf_analysis_kind_t kind)
{
    const char *version = ai->cfg.prompts->version ? ai->cfg.prompts->version : "";
    return bf_asprintf(
        "%sai:%s:%s:%s:%s:", ai->cfg.cache_prefix ? ai->cfg.cache_prefix : "",
        bf_ai_provider_name(p->cfg.provider), p->cfg.model, version,
        bf_analysis_kind_name(kind));
}

/* The key of @p c's answer at provider @p pi: the head made once at start,
 * then the content hash. */
static char *cache_key(const bf_ai_call_t *c, size_t pi, size_t *len)
{
    const char *head = c->ai->providers[pi].cache_head[c->kind];
    size_t hl = strlen(head), kl = strlen(c->input->content_hash);
    char *key = bf_malloc(hl + kl + 1);
    memcpy(key, head, hl);
    memcpy(key + hl, c->input->content_hash, kl + 1);
    *len = hl + kl;
    return key;
}

static void on_cache_stored(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    (void)reply;
    (void)opaque;
    if (err)
        bf_log(BF_LOG_DEBUG, "ai", "cache_store_failed",
               BF_LSTR("error", bf_err_str(err)));
}

/* The entry of @p v, written as the JSON object json_pack() and
 * json_dumps() made of it before (the same members in the same order),
 * without building one: a store per analysis, three per report. */
static char *cache_entry(const bf_verdict_t *v, size_t *len)
{
    size_t nr = json_array_size(v->reasons), sev = strlen(v->severity),
           model = strlen(v->model);
    size_t room = 160 + 6 * (sev + model);
    for (size_t i = 0; i < nr; i++)
        room += 3 + 6 * json_string_length(json_array_get(v->reasons, i));
    char *out = bf_malloc(room), *o = out;
    o += sprintf(o, "{\"score\":%.17g,\"confidence\":%.17g,\"severity\":", v->score,
                 v->confidence);
    o = bf_json_quote(o, v->severity, sev, BF_JSON_PASS_INVALID);
    o = stpcpy(o, ",\"reasons\":[");
    for (size_t i = 0; i < nr; i++) {
        const json_t *r = json_array_get(v->reasons, i);
        if (i)
            *o++ = ',';
        o = bf_json_quote(o, json_string_value(r) ? json_string_value(r) : "",
                          json_string_length(r), BF_JSON_PASS_INVALID);
    }
    o = stpcpy(o, "],\"model\":");
    o = bf_json_quote(o, v->model, model, BF_JSON_PASS_INVALID);
    *o++ = '}';
    *o = '\0';
    *len = (size_t)(o - out);
    return out;
}

void bf_ai_cache_store(bf_ai_call_t *c)
{
    bf_ai_t *ai = c->ai;
    if (!ai->cfg.cache)
        return;
    bf_ai_input_content_hash(c->input); /* made by the lookup, unless none was made */
    size_t value_len;
    char *value = cache_entry(&c->verdict, &value_len);
    size_t key_len;
    char *key = cache_key(c, c->pi, &key_len);
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "%lld",
             (long long)(ai->cfg.cache_ttl_s > 0 ? ai->cfg.cache_ttl_s : 30 * 86400));
    const char *argv[] = {"SET", key, value, "EX", ttl};
    size_t lens[] = {3, key_len, value_len, 2, strlen(ttl)};
    if (bf_redis_command_argv(ai->cfg.cache, on_cache_stored, NULL, 5, argv, lens))
        bf_log(BF_LOG_DEBUG, "ai", "cache_store_failed",
               BF_LSTR("error", "not connected"));
    free(key);
    free(value);
}

/* A stored answer, checked again like a fresh one: a corrupt entry is a
 * miss, never a half-trusted verdict. The entry is the answer's JSON plus
 * "model" (and "severity", which only the severity analysis keeps). */
bool bf_ai_cache_entry_parse(bf_analysis_kind_t kind, const char *text, size_t len,
                             bf_verdict_t *out)
{
    char errstr[200];
    json_t *j = text ? bf_json_load(text, len, 0, NULL) : NULL;
    bool ok = false;
    if (json_is_object(j)) {
        json_t *answer = json_deep_copy(j);
        const char *sev = json_string_value(json_object_get(j, "severity"));
        json_object_del(answer, "model");
        if (kind != BF_ANALYSIS_SEVERITY || !sev || !*sev)
            json_object_del(answer, "severity");
        ok = bf_analysis_check_answer(kind, answer, out, errstr, sizeof(errstr)) == BF_OK;
        const char *model = json_string_value(json_object_get(j, "model"));
        snprintf(out->model, sizeof(out->model), "%s", model ? model : "");
        json_decref(answer);
    }
    json_decref(j);
    if (!ok)
        bf_verdict_clear(out);
    return ok;
}

/* The calls of one MGET: call k's answers are elements k * providers to
 * k * providers + providers - 1. */
typedef struct lookup_s {
    size_t n, providers;
    bf_ai_call_t *calls[BF_ANALYSIS__COUNT];
} lookup_t;

static void lookup_answered(bf_ai_call_t *c, bf_err_t err, const redisReply *reply,
                            size_t first)
{
    if (!c->cb) { /* abandoned by bf_ai_destroy() */
        bf_ai_input_release(c->input);
        free(c);
        return;
    }
    bf_ai_t *ai = c->ai;
    if (!err && reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; first + i < reply->elements && i < ai->cfg.n_providers; i++) {
            const redisReply *e = reply->element[first + i];
            if (e->type == REDIS_REPLY_STRING &&
                bf_ai_cache_entry_parse(c->kind, e->str, e->len, &c->verdict)) {
                c->pi = i;
                c->cached = true;
                bf_ai_call_finish(c, BF_OK, 0);
                return;
            }
        }
    }
    bf_ai_call_enqueue(&ai->providers[0], c);
}

static void on_cache_lookup(bf_redis_t *r, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)r;
    lookup_t *l = opaque;
    /* not c->ai: bf_ai_destroy() may have freed the layer of an abandoned
     * call by now */
    for (size_t k = 0; k < l->n; k++)
        lookup_answered(l->calls[k], err, reply, k * l->providers);
    free(l);
}

bool bf_ai_cache_lookup(bf_ai_call_t *const *calls, size_t n)
{
    if (n == 0 || n > BF_ANALYSIS__COUNT)
        return false;
    bf_ai_t *ai = calls[0]->ai;
    size_t np = ai->cfg.n_providers, nkeys = n * np;
    const char *argv[1 + BF_ANALYSIS__COUNT * BF_AI__COUNT];
    size_t lens[1 + BF_ANALYSIS__COUNT * BF_AI__COUNT];
    char *keys[BF_ANALYSIS__COUNT * BF_AI__COUNT];
    argv[0] = "MGET";
    lens[0] = 4;
    lookup_t *l = bf_malloc(sizeof(*l));
    l->n = n;
    l->providers = np;
    for (size_t k = 0; k < n; k++) {
        bf_ai_call_t *c = calls[k];
        bf_ai_input_content_hash(c->input);
        c->state = BF_AI_LOOKUP;
        l->calls[k] = c;
        for (size_t i = 0; i < np; i++) {
            keys[k * np + i] = cache_key(c, i, &lens[1 + k * np + i]);
            argv[1 + k * np + i] = keys[k * np + i];
        }
    }
    bf_err_t err = bf_redis_command_argv(ai->cfg.cache, on_cache_lookup, l,
                                         (int)(1 + nkeys), argv, lens);
    for (size_t i = 0; i < nkeys; i++)
        free(keys[i]);
    if (err != BF_OK)
        free(l);
    return err == BF_OK;
}
