/*
 * neardup.c - MinHash signatures, LSH bands and the near-duplicate script
 * (see neardup.h for the normalisation and the keys).
 */
#include "worker/neardup.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libbf/mem.h"

/*
 * KEYS: the report's record key.
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
 * record's slots read by one struct.unpack: a table of its 512 bytes
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
const char bf_neardup_script[] =
    "local id, rec, ttl = ARGV[1], ARGV[3], tonumber(ARGV[2])\n"
    "local min_equal, max_missing = tonumber(ARGV[4]), tonumber(ARGV[8])\n"
    "local slot_bytes, probes = tonumber(ARGV[9]), tonumber(ARGV[11])\n"
    "local head = slot_bytes + tonumber(ARGV[10])\n"
    "local fields = {}\n"
    "for i = 13, #ARGV do fields[#fields + 1] = ARGV[i] end\n"
    "local n = #fields\n"
    "-- title words of record w absent from the words of record f\n"
    "local function missing(w, f)\n"
    "  local count = 0\n"
    "  for p = head + 1, #w - 2 * probes + 1, 2 * probes do\n"
    "    for k = 0, probes - 1 do\n"
    "      local lo, hi = string.byte(w, p + 2 * k, p + 2 * k + 1)\n"
    "      local pos = lo + 256 * hi\n"
    "      local byte = string.byte(f, slot_bytes + 1 + math.floor(pos / 8))\n"
    "      if bit.band(byte, bit.lshift(1, pos % 8)) == 0 then\n"
    "        count = count + 1; break end\n"
    "    end\n"
    "  end\n"
    "  return count\n"
    "end\n"
    "local gen = math.floor(tonumber(redis.call('TIME')[1]) / ttl)\n"
    "local cur = ARGV[12] .. string.format('%d', gen)\n"
    "local now_ids = redis.call('HMGET', cur, unpack(fields))\n"
    "local old_ids = redis.call('HMGET', ARGV[12] .. string.format('%d', gen - 1),\n"
    "                           unpack(fields))\n"
    "local hits, order, lists, none = {}, {}, {}, {}\n"
    "local function count(ids, seen)\n"
    "  for _, c in ipairs(ids) do\n"
    "    if c ~= id and not seen[c] then\n"
    "      seen[c] = true\n"
    "      if not hits[c] then hits[c] = 0; order[#order + 1] = c end\n"
    "      hits[c] = hits[c] + 1\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for i = 1, n do\n"
    "  lists[i] = now_ids[i] and cmsgpack.unpack(now_ids[i]) or none\n"
    "  if now_ids[i] or old_ids[i] then\n"
    "    local seen = {}\n"
    "    count(lists[i], seen)\n"
    "    if old_ids[i] then count(cmsgpack.unpack(old_ids[i]), seen) end\n"
    "  end\n"
    "end\n"
    "table.sort(order, function(a, b)\n"
    "  if hits[a] ~= hits[b] then return hits[a] > hits[b] end\n"
    "  return a < b end)\n"
    "local best, best_eq, dup, dup_eq = false, -1, false, -1\n"
    "local mine, slots = nil, slot_bytes / 4\n"
    "local fmt = '<' .. string.rep('I4', slots)\n"
    "for i = 1, math.min(#order, tonumber(ARGV[7])) do\n"
    "  local other = redis.call('GET', ARGV[6] .. order[i])\n"
    "  if other and #other >= head then\n"
    "    mine = mine or {struct.unpack(fmt, rec)}\n"
    "    local theirs, eq = {struct.unpack(fmt, other)}, 0\n"
    "    for p = 1, slots do\n"
    "      if mine[p] == theirs[p] then eq = eq + 1 end\n"
    "    end\n"
    "    if eq > best_eq then best, best_eq = order[i], eq end\n"
    "    if eq >= min_equal and eq > dup_eq and\n"
    "       missing(rec, other) + missing(other, rec) <= max_missing then\n"
    "      dup, dup_eq = order[i], eq\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if dup then return {'duplicate', dup, dup_eq} end\n"
    "local cap, set, alone = tonumber(ARGV[5]), {cur}, cmsgpack.pack({id})\n"
    "for i = 1, n do\n"
    "  local packed = alone\n"
    "  if lists[i] ~= none then\n"
    "    local ids = {id}\n"
    "    for _, c in ipairs(lists[i]) do\n"
    "      if #ids == cap then break end\n"
    "      if c ~= id then ids[#ids + 1] = c end\n"
    "    end\n"
    "    packed = cmsgpack.pack(ids)\n"
    "  end\n"
    "  set[#set + 1] = fields[i]\n"
    "  set[#set + 1] = packed\n"
    "end\n"
    "redis.call('HSET', unpack(set))\n"
    "redis.call('EXPIREAT', cur, string.format('%d', (gen + 2) * ttl))\n"
    "redis.call('SET', KEYS[1], rec, 'EX', ARGV[2])\n"
    "return {'original', best, best_eq}\n";

/* ---- hashing --------------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL
/* The seed of the slot hashes' sequence: ASCII "bf~ndup_". Never change it
 * (nor the family, add_shingle): signatures stored in Redis by running
 * workers would stop matching. */
#define SEED_BASE 0x62667e6e6475705fULL

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* splitmix64's finaliser (Steele, Lea, Flood 2014): a bijection on 64 bits
 * whose outputs for related inputs look independent, which is what
 * MinHash needs from its hash family. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* ---- settings -------------------------------------------------------------- */

bf_err_t bf_neardup_threshold_parse(const char *s, double *out, char *errstr,
                                    size_t errstr_size)
{
    if (s && strcasecmp(s, "off") == 0) {
        *out = 0;
        return BF_OK;
    }
    char *end = NULL;
    errno = 0;
    double v = s && *s ? strtod(s, &end) : NAN;
    if (!s || !*s || errno || !end || *end || !(v >= 0 && v <= 1)) {
        snprintf(errstr, errstr_size,
                 "near-dup-threshold: \"%s\" is not a number in [0, 1] or \"off\"",
                 s ? s : "");
        return BF_ERR_CONFIG;
    }
    *out = v;
    return BF_OK;
}

/* Probability that two reports of Jaccard similarity s share a band. */
static double collide(double s, int bands, int rows)
{
    return 1.0 - pow(1.0 - pow(s, rows), bands);
}

void bf_neardup_params_init(bf_neardup_params_t *p, double threshold)
{
    memset(p, 0, sizeof(*p));
    p->threshold = threshold;
    if (threshold <= 0)
        return;
    /* Weighted error areas by the midpoint rule over 200 steps: precise
     * to far better than the choice between neighbouring (b, r) needs. */
    const double fn_weight = 0.8, fp_weight = 0.2;
    const int steps = 200;
    double best = INFINITY;
    for (int rows = 1; rows <= BF_NEARDUP_HASHES; rows++) {
        int bands = BF_NEARDUP_HASHES / rows;
        double fp = 0, fn = 0;
        for (int i = 0; i < steps; i++) {
            double s = (i + 0.5) / steps;
            double c = collide(s, bands, rows);
            if (s < threshold)
                fp += c / steps;
            else
                fn += (1.0 - c) / steps;
        }
        double err = fp_weight * fp + fn_weight * fn;
        if (err < best) {
            best = err;
            p->bands = bands;
            p->rows = rows;
        }
    }
    p->min_equal = (int)ceil(threshold * BF_NEARDUP_HASHES - 1e-9);
    if (p->min_equal < 1)
        p->min_equal = 1;
}

/* ---- normalisation --------------------------------------------------------- */

void bf_neardup_asset_normalise(const char *asset, char *out, size_t out_size)
{
    if (!out_size)
        return;
    const char *s = asset ? asset : "";
    while (isspace((unsigned char)*s))
        s++;
    const char *scheme = strstr(s, "://");
    if (scheme)
        s = scheme + 3;
    /* user info: up to an '@' before the first '/' */
    const char *slash = strchr(s, '/');
    const char *at = strchr(s, '@');
    if (at && (!slash || at < slash))
        s = at + 1;
    if (strncasecmp(s, "www.", 4) == 0)
        s += 4;
    size_t len = strcspn(s, "?#");
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < out_size; i++)
        out[n++] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    /* default ports, at the end of the host part */
    char *host_end = strchr(out, '/');
    size_t host_len = host_end ? (size_t)(host_end - out) : n;
    static const char *const ports[] = {":443", ":80"};
    for (size_t i = 0; i < 2; i++) {
        size_t pl = strlen(ports[i]);
        if (host_len >= pl && memcmp(out + host_len - pl, ports[i], pl) == 0) {
            memmove(out + host_len - pl, out + host_len, n - host_len + 1);
            n -= pl;
            host_len -= pl;
            break;
        }
    }
    if (host_len && out[host_len - 1] == '.') {
        memmove(out + host_len - 1, out + host_len, n - host_len + 1);
        n--;
    }
    while (n && out[n - 1] == '/')
        out[--n] = '\0';
}

static uint64_t asset_hash(const char *asset)
{
    char norm[1024];
    bf_neardup_asset_normalise(asset, norm, sizeof(norm));
    return fnv1a(FNV_OFFSET, norm, strlen(norm));
}

/* Words English write-ups are made of whatever they say: a, an, and, are,
 * as, at, be, by, for, from, i, in, is, it, of, on, or, that, the, this,
 * to, was, we, were, will, with, you, your. Each is its bytes in a uint32
 * (first byte lowest), so a word of up to four bytes is looked up with
 * integer compares; bsearch and strcmp were a tenth of a signature. */
#define SW(a, b, c, d)                                                                   \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
static const uint32_t stop_words[] = {
    SW('a', 0, 0, 0),       SW('a', 'n', 0, 0),     SW('a', 'n', 'd', 0),
    SW('a', 'r', 'e', 0),   SW('a', 's', 0, 0),     SW('a', 't', 0, 0),
    SW('b', 'e', 0, 0),     SW('b', 'y', 0, 0),     SW('f', 'o', 'r', 0),
    SW('f', 'r', 'o', 'm'), SW('i', 0, 0, 0),       SW('i', 'n', 0, 0),
    SW('i', 's', 0, 0),     SW('i', 't', 0, 0),     SW('o', 'f', 0, 0),
    SW('o', 'n', 0, 0),     SW('o', 'r', 0, 0),     SW('t', 'h', 'a', 't'),
    SW('t', 'h', 'e', 0),   SW('t', 'h', 'i', 's'), SW('t', 'o', 0, 0),
    SW('w', 'a', 's', 0),   SW('w', 'e', 0, 0),     SW('w', 'e', 'r', 'e'),
    SW('w', 'i', 'l', 'l'), SW('w', 'i', 't', 'h'), SW('y', 'o', 'u', 0),
    SW('y', 'o', 'u', 'r'),
};
#undef SW

static bool is_stop_word(const char *word, size_t len)
{
    uint32_t key = 0;
    for (size_t i = 0; i < len; i++)
        key |= (uint32_t)(unsigned char)word[i] << (8 * i);
    for (size_t i = 0; i < sizeof(stop_words) / sizeof(stop_words[0]); i++)
        if (stop_words[i] == key)
            return true;
    return false;
}

/* The signature being built: the last words' hashes for the shingle. */
typedef struct sig_builder_s {
    bf_neardup_sig_t *sig;
    uint64_t mul[BF_NEARDUP_HASHES], add[BF_NEARDUP_HASHES]; /* slot i's hash */
    uint64_t window[BF_NEARDUP_SHINGLE_WORDS];
    size_t words;
    bool in_title; /* the words are the title's */
} sig_builder_t;

/* Slot i keeps the least (mul_i * h + add_i) >> 32 (mod 2^64) over the
 * shingles: Dietzfelbinger's multiply-add-shift, one multiply per slot.
 * The shingle hash h is already a splitmix64 output (window_hash), so the
 * family needs no mixing of its own; splitmix64 per slot took two
 * multiplies and three shifts, and was 3/4 of a signature's time.
 *
 * So the loop is 128 independent multiply-add-shift-min lanes. GCC builds it also for
 * AVX-512 (vpmullq: eight 64-bit multiplies at once) and AVX2 and picks one for the CPU
 * at load time (target_clones, an ifunc); the arithmetic, and so every signature, is the
 * same. The AddressSanitizer, ThreadSanitizer and fuzz (clang) builds keep the
 * portable loop. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) &&                   \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define SIGNATURE_CLONES                                                                 \
    __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SIGNATURE_CLONES
#endif

SIGNATURE_CLONES static void add_shingle(sig_builder_t *b, uint64_t h)
{
    uint32_t *slot = b->sig->slot;
    for (int i = 0; i < BF_NEARDUP_HASHES; i++) {
        uint32_t v = (uint32_t)((b->mul[i] * h + b->add[i]) >> 32);
        slot[i] = v < slot[i] ? v : slot[i];
    }
    b->sig->shingles++;
}

static uint64_t window_hash(const sig_builder_t *b, size_t count)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < count; i++)
        h = mix64(h ^ b->window[i]);
    return h;
}

/* The filter positions of a word: double hashing (Kirsch and Mitzenmacher
 * 2006), as good as independent hashes for a Bloom filter. */
static void probes_of(uint64_t h, uint16_t out[BF_NEARDUP_FILTER_PROBES])
{
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1;
    for (uint32_t i = 0; i < BF_NEARDUP_FILTER_PROBES; i++)
        out[i] = (uint16_t)((h1 + i * h2) % BF_NEARDUP_FILTER_BITS);
}

static bool filter_has(const uint8_t *filter,
                       const uint16_t probe[BF_NEARDUP_FILTER_PROBES])
{
    for (int i = 0; i < BF_NEARDUP_FILTER_PROBES; i++)
        if (!(filter[probe[i] / 8] & (1u << (probe[i] % 8))))
            return false;
    return true;
}

static void remember_word(bf_neardup_sig_t *sig, uint64_t h, bool in_title)
{
    uint16_t probe[BF_NEARDUP_FILTER_PROBES];
    probes_of(h, probe);
    for (int i = 0; i < BF_NEARDUP_FILTER_PROBES; i++)
        sig->filter[probe[i] / 8] |= (uint8_t)(1u << (probe[i] % 8));
    if (!in_title || sig->title_words == BF_NEARDUP_TITLE_WORDS)
        return;
    for (int i = 0; i < sig->title_words; i++)
        if (sig->title_hash[i] == h)
            return;
    sig->title_hash[sig->title_words] = h;
    memcpy(sig->title_probe[sig->title_words++], probe, sizeof(probe));
}

static void add_word(sig_builder_t *b, const char *word, size_t len)
{
    const size_t k = BF_NEARDUP_SHINGLE_WORDS;
    uint64_t h = fnv1a(FNV_OFFSET, word, len);
    remember_word(b->sig, h, b->in_title);
    memmove(b->window, b->window + 1, (k - 1) * sizeof(b->window[0]));
    b->window[k - 1] = h;
    if (++b->words >= k)
        add_shingle(b, window_hash(b, k));
}

/* One word of the text, already lower-cased: apply the number and stop
 * word rules, then add it. */
static void take_word(sig_builder_t *b, const char *word, size_t len)
{
    size_t digits = 0;
    for (size_t i = 0; i < len; i++)
        digits += isdigit((unsigned char)word[i]) != 0;
    if (digits == len && len <= 2)
        return;
    if (digits && len >= 8) {
        add_word(b, "#", 1);
        return;
    }
    if (len <= 4 && is_stop_word(word, len))
        return;
    add_word(b, word, len);
}

static bool word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

static void take_text(sig_builder_t *b, const char *text)
{
    /* Words longer than this are cut: no write-up needs more to tell two
     * words apart, and the buffer stays on the stack. */
    char word[64];
    const char *p = text ? text : "";
    while (*p) {
        if (!word_byte((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *start = p;
        while (word_byte((unsigned char)*p))
            p++;
        size_t len = (size_t)(p - start);
        if ((len == 4 || len == 5) && strncmp(p, "://", 3) == 0 &&
            strncasecmp(start, "https", len) == 0)
            continue; /* the scheme of a URL */
        if (len == 3 && *p == '.' && strncasecmp(start, "www", 3) == 0)
            continue;
        size_t n = len < sizeof(word) ? len : sizeof(word);
        for (size_t i = 0; i < n; i++)
            word[i] = (char)tolower((unsigned char)start[i]);
        take_word(b, word, n);
    }
}

void bf_neardup_signature(const bf_report_t *r, bf_neardup_sig_t *out)
{
    memset(out, 0, sizeof(*out));
    memset(out->slot, 0xff, sizeof(out->slot));
    out->asset = asset_hash(r->asset);
    sig_builder_t b = {.sig = out};
    uint64_t s = SEED_BASE;
    for (int i = 0; i < BF_NEARDUP_HASHES; i++) {
        b.mul[i] = (s = mix64(s)) | 1;
        b.add[i] = s = mix64(s);
    }
    const char *fields[] = {r->title, r->description, r->steps_to_reproduce, r->impact};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        b.in_title = i == 0;
        take_text(&b, fields[i]);
    }
    /* Fewer words than a shingle: all of them make the one shingle. */
    if (b.words && b.words < BF_NEARDUP_SHINGLE_WORDS) {
        memmove(b.window, b.window + BF_NEARDUP_SHINGLE_WORDS - b.words,
                b.words * sizeof(b.window[0]));
        add_shingle(&b, window_hash(&b, b.words));
    }
}

/* ---- comparing ------------------------------------------------------------- */

static int equal_slots(const bf_neardup_sig_t *a, const bf_neardup_sig_t *b)
{
    int eq = 0;
    for (int i = 0; i < BF_NEARDUP_HASHES; i++)
        eq += a->slot[i] == b->slot[i];
    return eq;
}

double bf_neardup_similarity(const bf_neardup_sig_t *a, const bf_neardup_sig_t *b)
{
    if (a->asset != b->asset || !a->shingles || !b->shingles)
        return 0;
    return (double)equal_slots(a, b) / BF_NEARDUP_HASHES;
}

uint64_t bf_neardup_band_hash(const bf_neardup_sig_t *s, int band, int rows)
{
    uint64_t h = FNV_OFFSET;
    for (int i = band * rows; i < band * rows + rows && i < BF_NEARDUP_HASHES; i++) {
        unsigned char le[4] = {
            (unsigned char)s->slot[i], (unsigned char)(s->slot[i] >> 8),
            (unsigned char)(s->slot[i] >> 16), (unsigned char)(s->slot[i] >> 24)};
        h = fnv1a(h, le, 4);
    }
    return h;
}

/* Title words of @p w absent from the words of @p f. */
static int missing_words(const bf_neardup_sig_t *w, const bf_neardup_sig_t *f)
{
    int n = 0;
    for (int i = 0; i < w->title_words; i++)
        n += !filter_has(f->filter, w->title_probe[i]);
    return n;
}

int bf_neardup_title_missing(const bf_neardup_sig_t *a, const bf_neardup_sig_t *b)
{
    return missing_words(a, b) + missing_words(b, a);
}

bool bf_neardup_is_duplicate(const bf_neardup_params_t *p, const bf_neardup_sig_t *a,
                             const bf_neardup_sig_t *b)
{
    if (p->threshold <= 0 || a->asset != b->asset || !a->shingles || !b->shingles)
        return false;
    bool candidate = false;
    for (int band = 0; band < p->bands && !candidate; band++)
        candidate = bf_neardup_band_hash(a, band, p->rows) ==
                    bf_neardup_band_hash(b, band, p->rows);
    return candidate && equal_slots(a, b) >= p->min_equal &&
           bf_neardup_title_missing(a, b) <= BF_NEARDUP_MAX_TITLE_MISSING;
}

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

/* "<band>:<16 hex digits>", the field of a band's bucket. */
static void add_band_field(bf_neardup_request_t *req, int *a, size_t *used, int band,
                           uint64_t h)
{
    static const char hex[] = "0123456789abcdef";
    char *p = req->block + *used, *start = p;
    char digits[12];
    int nd = 0;
    do
        digits[nd++] = (char)('0' + band % 10);
    while ((band /= 10) > 0);
    while (nd)
        *p++ = digits[--nd];
    *p++ = ':';
    for (int shift = 60; shift >= 0; shift -= 4)
        *p++ = hex[(h >> shift) & 0xf];
    *p = '\0';
    req->argv[*a] = start;
    req->argvlen[(*a)++] = (size_t)(p - start);
    *used += (size_t)(p - start) + 1;
}

void bf_neardup_request_init(bf_neardup_request_t *req, const bf_neardup_params_t *p,
                             const char *key_prefix, int64_t ttl_s, const char *report_id,
                             const bf_neardup_sig_t *sig)
{
    req->argc = 3 + 1 + 12 + p->bands;
    req->argv = bf_calloc((size_t)req->argc, sizeof(char *));
    req->argvlen = bf_calloc((size_t)req->argc, sizeof(size_t));
    /* One block for every argument but the script and the record: the
     * prefix three times, the id twice, 20 digits for each number, a band
     * field's index, colon and 16 digits. */
    size_t size = 3 * strlen(key_prefix) + 2 * strlen(report_id) + 3 * 32 + 12 * 24 +
                  (size_t)p->bands * 32;
    req->block = bf_malloc(size);
    unsigned long long asset = (unsigned long long)sig->asset;
    size_t used = 0;
    int a = 0;
    add_arg(req, &a, &used, size, "EVAL");
    /* Borrowed, not copied: 3.5 KB a report, and the Redis client only
     * compares it with the scripts it knows (it goes as EVALSHA). */
    req->argv[a] = (char *)bf_neardup_script;
    req->argvlen[a++] = sizeof(bf_neardup_script) - 1;
    add_arg(req, &a, &used, size, "1");
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
        add_band_field(req, &a, &used, band, bf_neardup_band_hash(sig, band, p->rows));
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
