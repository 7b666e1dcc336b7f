/*
 * neardup_script.c - the near-duplicate script in Redis: its text, the
 * arguments a report's signature makes (neardup.c), its answer, and one
 * check on the loop (see neardup.h).
 */
#include "worker/neardup.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/hex.h"
#include "libbf/mem.h"
#include "worker/dedup.h"

/*
 * The check is near(record key, o), a Lua function reading its arguments
 * from ARGV[o + 1] on; bf_neardup_script runs it alone (KEYS: the record
 * key, o = 0) and bf_neardup_claim_script after the claim, in the same
 * round trip (KEYS and ARGV 1 - 5 the claim's, ARGV 6 the record key, o =
 * 6). The function's arguments, from o + 1:
 * ARGV: 1 report_id, 2 ttl_s, 3 record (see below), 4 min_equal, 5 bucket
 *       cap, 6 record key prefix (the candidate's id is appended; same hash
 *       tag as KEYS), 7 max candidates to compare, 8 max title words
 *       missing, 9 slot bytes, 10 filter bytes, 11 probes per word, 12 the
 *       asset's bucket hash prefix (the generation is appended), 13.. the
 *       report's band buckets, one field name per band.
 * A record: the slots (HASHES little-endian uint32), the word filter, then
 * for each title word its filter positions (little-endian uint16).
 *
 * The band buckets of one asset are the fields of one hash per generation
 * (floor of the server's TIME / ttl), each a MessagePack array of report
 * ids, newest first, at most the cap: the script reads this generation's
 * and the last one's with two HMGETs and writes this one's with one HSET,
 * where a list key per bucket cost three calls per band (LRANGE, LPUSH,
 * EXPIRE: 55 calls per report at 18 bands, 6 now). A generation's hash
 * expires at the end of the next one, so a bucket entry is readable for
 * between ttl and 2 ttl; a candidate whose record (EX ttl) is gone is
 * skipped, so the window is the dedup TTL as before. The server's clock
 * picks the generation, so workers with skewed clocks agree on it.
 *
 * Candidates are the ids in this report's buckets other than its own
 * (counted once per band across the two generations), ranked by the
 * number of bands shared (then by id, so the answer does not depend on
 * hash-table order); the first max-candidates are compared slot by slot.
 * The candidate with the most equal slots among those with at least
 * min_equal that pass the title gate makes this report a duplicate, and
 * it is not registered, so duplicate_of always names an original;
 * otherwise it is registered: put first in each of its buckets of this
 * generation (a redelivery's earlier entry removed, so each id is there
 * once) and the bucket cut to the cap. Slots are compared as numbers, a
 * record's slots read by one struct.unpack (129 results: Redis 5.0.14,
 * 6.0.16, 6.2.6 and later make room for them on the Lua stack, the fix of
 * CVE-2021-32626; older ones must not run this script): a table of its 512 bytes
 * (string.byte) took four comparisons a slot, and 4-byte substrings
 * (string.sub) made and hashed a new Lua string each. A band with no
 * bucket costs no table, and an empty bucket's new value (the report
 * alone) is packed once. Numbers go to redis.call as strings (Redis 7.0
 * formats a Lua number with printf "%.17g"). Returns {"duplicate",
 * original, equal slots} or {"original", best candidate or false, its
 * equal slots or -1}.
 *
 * The bucket hashes' and the candidates' record keys are built in the
 * script (the generation and the ids are only known there); they share
 * the asset's hash tag with KEYS, so the script stays within one Cluster
 * slot.
 */
#define NEAR_FUNCTION                                                                    \
    "local function near(rec_key, o)\n"                                                  \
    "  local id, rec, ttl = ARGV[o + 1], ARGV[o + 3], tonumber(ARGV[o + 2])\n"           \
    "  local min_equal, max_missing = tonumber(ARGV[o + 4]), tonumber(ARGV[o + 8])\n"    \
    "  local slot_bytes, probes = tonumber(ARGV[o + 9]), tonumber(ARGV[o + 11])\n"       \
    "  local head = slot_bytes + tonumber(ARGV[o + 10])\n"                               \
    "  local fields = {}\n"                                                              \
    "  for i = o + 13, #ARGV do fields[#fields + 1] = ARGV[i] end\n"                     \
    "  local n = #fields\n"                                                              \
    "  -- title words of record w absent from the words of record f\n"                   \
    "  local function missing(w, f)\n"                                                   \
    "    local count = 0\n"                                                              \
    "    for p = head + 1, #w - 2 * probes + 1, 2 * probes do\n"                         \
    "      for k = 0, probes - 1 do\n"                                                   \
    "        local lo, hi = string.byte(w, p + 2 * k, p + 2 * k + 1)\n"                  \
    "        local pos = lo + 256 * hi\n"                                                \
    "        local byte = string.byte(f, slot_bytes + 1 + math.floor(pos / 8))\n"        \
    "        if bit.band(byte, bit.lshift(1, pos % 8)) == 0 then\n"                      \
    "          count = count + 1; break end\n"                                           \
    "      end\n"                                                                        \
    "    end\n"                                                                          \
    "    return count\n"                                                                 \
    "  end\n"                                                                            \
    "  local gen = math.floor(tonumber(redis.call('TIME')[1]) / ttl)\n"                  \
    "  local cur = ARGV[o + 12] .. string.format('%d', gen)\n"                           \
    "  local now_ids = redis.call('HMGET', cur, unpack(fields))\n"                       \
    "  local old = ARGV[o + 12] .. string.format('%d', gen - 1)\n"                       \
    "  local old_ids = redis.call('HMGET', old, unpack(fields))\n"                       \
    "  local hits, order, lists, none = {}, {}, {}, {}\n"                                \
    "  local function count(ids, seen)\n"                                                \
    "    for _, c in ipairs(ids) do\n"                                                   \
    "      if c ~= id and not seen[c] then\n"                                            \
    "        seen[c] = true\n"                                                           \
    "        if not hits[c] then hits[c] = 0; order[#order + 1] = c end\n"               \
    "        hits[c] = hits[c] + 1\n"                                                    \
    "      end\n"                                                                        \
    "    end\n"                                                                          \
    "  end\n"                                                                            \
    "  for i = 1, n do\n"                                                                \
    "    lists[i] = now_ids[i] and cmsgpack.unpack(now_ids[i]) or none\n"                \
    "    if now_ids[i] or old_ids[i] then\n"                                             \
    "      local seen = {}\n"                                                            \
    "      count(lists[i], seen)\n"                                                      \
    "      if old_ids[i] then count(cmsgpack.unpack(old_ids[i]), seen) end\n"            \
    "    end\n"                                                                          \
    "  end\n"                                                                            \
    "  table.sort(order, function(a, b)\n"                                               \
    "    if hits[a] ~= hits[b] then return hits[a] > hits[b] end\n"                      \
    "    return a < b end)\n"                                                            \
    "  local best, best_eq, dup, dup_eq = false, -1, false, -1\n"                        \
    "  local mine, slots = nil, slot_bytes / 4\n"                                        \
    "  local fmt = '<' .. string.rep('I4', slots)\n"                                     \
    "  for i = 1, math.min(#order, tonumber(ARGV[o + 7])) do\n"                          \
    "    local other = redis.call('GET', ARGV[o + 6] .. order[i])\n"                     \
    "    if other and #other >= head then\n"                                             \
    "      mine = mine or {struct.unpack(fmt, rec)}\n"                                   \
    "      local theirs, eq = {struct.unpack(fmt, other)}, 0\n"                          \
    "      for p = 1, slots do\n"                                                        \
    "        if mine[p] == theirs[p] then eq = eq + 1 end\n"                             \
    "      end\n"                                                                        \
    "      if eq > best_eq then best, best_eq = order[i], eq end\n"                      \
    "      if eq >= min_equal and eq > dup_eq and\n"                                     \
    "         missing(rec, other) + missing(other, rec) <= max_missing then\n"           \
    "        dup, dup_eq = order[i], eq\n"                                               \
    "      end\n"                                                                        \
    "    end\n"                                                                          \
    "  end\n"                                                                            \
    "  if dup then return {'duplicate', dup, dup_eq} end\n"                              \
    "  local cap, set, alone = tonumber(ARGV[o + 5]), {cur}, cmsgpack.pack({id})\n"      \
    "  for i = 1, n do\n"                                                                \
    "    local packed = alone\n"                                                         \
    "    if lists[i] ~= none then\n"                                                     \
    "      local ids = {id}\n"                                                           \
    "      for _, c in ipairs(lists[i]) do\n"                                            \
    "        if #ids == cap then break end\n"                                            \
    "        if c ~= id then ids[#ids + 1] = c end\n"                                    \
    "      end\n"                                                                        \
    "      packed = cmsgpack.pack(ids)\n"                                                \
    "    end\n"                                                                          \
    "    set[#set + 1] = fields[i]\n"                                                    \
    "    set[#set + 1] = packed\n"                                                       \
    "  end\n"                                                                            \
    "  redis.call('HSET', unpack(set))\n"                                                \
    "  redis.call('EXPIREAT', cur, string.format('%d', (gen + 2) * ttl))\n"              \
    "  redis.call('SET', rec_key, rec, 'EX', ARGV[o + 2])\n"                             \
    "  return {'original', best, best_eq}\n"                                             \
    "end\n"

const char bf_neardup_script[] = NEAR_FUNCTION "return near(KEYS[1], 0)\n";

const char bf_neardup_claim_script[] = NEAR_FUNCTION BF_DEDUP_CLAIM_LUA(
    "return {claimed, ARGV[1], pub, dead, near(ARGV[6], 6)}\n");

/* ---- the script's arguments and answer -------------------------------------- */

/* The record the script stores and compares (layout above the script);
 * all integers little-endian. @returns its length. */
static size_t record_encode(const bf_neardup_sig_t *sig, char **out)
{
    size_t slots = 4 * BF_NEARDUP_HASHES, filter = sizeof(sig->filter);
    size_t len = slots + filter + (size_t)sig->title_words * 2 * BF_NEARDUP_FILTER_PROBES;
    unsigned char *rec = bf_malloc(len), *p = rec;
    for (int i = 0; i < BF_NEARDUP_HASHES; i++)
        for (int k = 0; k < 4; k++)
            *p++ = (unsigned char)(sig->slot[i] >> (8 * k));
    memcpy(p, sig->filter, filter);
    p += filter;
    for (int w = 0; w < sig->title_words; w++)
        for (int i = 0; i < BF_NEARDUP_FILTER_PROBES; i++) {
            *p++ = (unsigned char)sig->title_probe[w][i];
            *p++ = (unsigned char)(sig->title_probe[w][i] >> 8);
        }
    *out = (char *)rec;
    return len;
}

/* Appends one NUL-ended argument to the request's block (sized for all
 * of them by bf_neardup_request_init) and points the next argv at it. */
static void add_arg(bf_neardup_request_t *req, int *a, size_t *used, size_t size,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_arg(bf_neardup_request_t *req, int *a, size_t *used, size_t size,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(req->block + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size - *used)
        abort(); /* a programming error: the block's size is wrong */
    req->argv[*a] = req->block + *used;
    req->argvlen[(*a)++] = (size_t)n;
    *used += (size_t)n + 1;
}

/* Appends band @p band's field, "<band>:<hash as 16 hex digits>" (what
 * "%d:%016llx" makes, without printf: a request took 1.55 us instead of
 * 2.6), like add_arg(). */
static void add_band_field(bf_neardup_request_t *req, int *a, size_t *used, size_t size,
                           int band, uint64_t hash)
{
    /* 3 digits (bands <= BF_NEARDUP_HASHES), the colon, 16, the NUL */
    if (band < 0 || band > 999 || *used + 21 > size)
        abort(); /* a programming error: the block's size is wrong */
    char *start = req->block + *used, *o = start;
    if (band >= 100)
        *o++ = (char)('0' + band / 100);
    if (band >= 10)
        *o++ = (char)('0' + band / 10 % 10);
    *o++ = (char)('0' + band % 10);
    *o++ = ':';
    unsigned char be[8]; /* the hash's bytes, most significant first */
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(hash >> (56 - 8 * i));
    o = bf_hex_encode(be, sizeof(be), o);
    req->argv[*a] = start;
    req->argvlen[(*a)++] = (size_t)(o - start);
    *used += (size_t)(o - start) + 1;
}

void bf_neardup_request_init_after(bf_neardup_request_t *req, int lead_argc,
                                   const char *const *lead_argv,
                                   const size_t *lead_argvlen,
                                   const bf_neardup_params_t *p, const char *key_prefix,
                                   int64_t ttl_s, const char *report_id,
                                   const bf_neardup_sig_t *sig)
{
    req->argc = lead_argc + 1 + 12 + p->bands;
    req->argv = bf_calloc((size_t)req->argc, sizeof(char *));
    req->argvlen = bf_calloc((size_t)req->argc, sizeof(size_t));
    /* One block for every argument of the check but the record: the
     * prefix (in three keys) and the id (in one key and alone) as long as
     * they are, up to 32 bytes for the rest of each of the three keys, 24
     * for each of the twelve other arguments (a number is at most 20
     * digits and a sign), 32 for each band field (an index, a colon, 16
     * hex digits), each with its NUL; add_arg() aborts on a shortfall. */
    size_t size = 3 * strlen(key_prefix) + 2 * strlen(report_id) + 3 * 32 + 12 * 24 +
                  (size_t)p->bands * 32;
    req->block = bf_malloc(size);
    unsigned long long asset = (unsigned long long)sig->asset;
    size_t used = 0;
    int a = 0;
    /* Borrowed, not copied: the script is 3.5 KB, and the Redis client
     * only compares it with the scripts it knows (it goes as EVALSHA). */
    for (; a < lead_argc; a++) {
        req->argv[a] = (char *)lead_argv[a];
        req->argvlen[a] = lead_argvlen ? lead_argvlen[a] : strlen(lead_argv[a]);
    }
    add_arg(req, &a, &used, size, "%snd:{%016llx}:r:%s", key_prefix, asset, report_id);
    add_arg(req, &a, &used, size, "%s", report_id);
    add_arg(req, &a, &used, size, "%lld", (long long)ttl_s);
    req->argvlen[a] = record_encode(sig, &req->record);
    req->argv[a++] = req->record;
    add_arg(req, &a, &used, size, "%d", p->min_equal);
    add_arg(req, &a, &used, size, "%d", BF_NEARDUP_BUCKET_CAP);
    add_arg(req, &a, &used, size, "%snd:{%016llx}:r:", key_prefix, asset);
    add_arg(req, &a, &used, size, "%d", BF_NEARDUP_MAX_CANDIDATES);
    add_arg(req, &a, &used, size, "%d", BF_NEARDUP_MAX_TITLE_MISSING);
    add_arg(req, &a, &used, size, "%d", 4 * BF_NEARDUP_HASHES);
    add_arg(req, &a, &used, size, "%d", BF_NEARDUP_FILTER_BITS / 8);
    add_arg(req, &a, &used, size, "%d", BF_NEARDUP_FILTER_PROBES);
    add_arg(req, &a, &used, size, "%snd:{%016llx}:g", key_prefix, asset);
    for (int band = 0; band < p->bands; band++)
        add_band_field(req, &a, &used, size, band,
                       bf_neardup_band_hash(sig, band, p->rows));
}

void bf_neardup_request_init(bf_neardup_request_t *req, const bf_neardup_params_t *p,
                             const char *key_prefix, int64_t ttl_s, const char *report_id,
                             const bf_neardup_sig_t *sig)
{
    static const char *const lead[] = {"EVAL", bf_neardup_script, "1"};
    static const size_t lead_len[] = {4, sizeof(bf_neardup_script) - 1, 1};
    bf_neardup_request_init_after(req, 3, lead, lead_len, p, key_prefix, ttl_s, report_id,
                                  sig);
}

void bf_neardup_request_free(bf_neardup_request_t *req)
{
    free(req->block);
    free(req->record);
    free(req->argv);
    free(req->argvlen);
    memset(req, 0, sizeof(*req));
}

bf_err_t bf_neardup_answer_parse(const redisReply *reply, bf_neardup_answer_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!reply)
        return BF_ERR_PARSE;
    if (reply->type == REDIS_REPLY_ERROR)
        return BF_ERR_REDIS;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[2]->type != REDIS_REPLY_INTEGER)
        return BF_ERR_PARSE;
    const redisReply *id = reply->element[1];
    if (id->type == REDIS_REPLY_STRING) {
        if (id->len >= sizeof(out->original))
            return BF_ERR_PARSE;
        memcpy(out->original, id->str, id->len);
        out->original[id->len] = '\0';
    }
    long long eq = reply->element[2]->integer;
    out->similarity = eq > 0 ? (double)eq / BF_NEARDUP_HASHES : 0;
    out->duplicate = strcmp(reply->element[0]->str, "duplicate") == 0;
    if (out->duplicate && !out->original[0])
        return BF_ERR_PARSE;
    return BF_OK;
}

/* ---- one check on the loop --------------------------------------------------- */

typedef struct check_s {
    bf_neardup_cb *cb;
    void *opaque;
} check_t;

static void on_script(bf_redis_t *redis, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)redis;
    check_t *c = opaque;
    bf_neardup_answer_t answer;
    if (!err)
        err = bf_neardup_answer_parse(reply, &answer);
    c->cb(err, err ? NULL : &answer, c->opaque);
    free(c);
}

bf_err_t bf_neardup_check(bf_redis_t *redis, const bf_neardup_params_t *p,
                          const char *key_prefix, int64_t ttl_s, const bf_report_t *r,
                          bf_neardup_cb *cb, void *opaque)
{
    bf_neardup_sig_t sig;
    bf_neardup_signature(r, &sig);
    if (!sig.shingles || p->threshold <= 0) {
        bf_neardup_answer_t none = {0};
        cb(BF_OK, &none, opaque);
        return BF_OK;
    }
    bf_neardup_request_t req;
    bf_neardup_request_init(&req, p, key_prefix, ttl_s, r->report_id, &sig);
    check_t *c = bf_calloc(1, sizeof(*c));
    c->cb = cb;
    c->opaque = opaque;
    bf_err_t err = bf_redis_command_argv(redis, on_script, c, req.argc,
                                         (const char **)req.argv, req.argvlen);
    if (err)
        free(c);
    bf_neardup_request_free(&req);
    return err;
}
