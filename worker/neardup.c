/*
 * neardup.c - MinHash signatures, LSH bands and the comparison the script
 * makes (see neardup.h for the normalisation and the keys); the script,
 * its arguments and its answer are in neardup_script.c.
 */
#include "worker/neardup.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libbf/mem.h"

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

/* Slot i's hash is mul[i] * h + add[i] (add_shingle): a fixed splitmix64
 * sequence from SEED_BASE, made once per process, not again for every
 * signature. */
static struct {
    uint64_t mul[BF_NEARDUP_HASHES], add[BF_NEARDUP_HASHES];
} family;
static pthread_once_t family_once = PTHREAD_ONCE_INIT;

static void family_init(void)
{
    uint64_t s = SEED_BASE;
    for (int i = 0; i < BF_NEARDUP_HASHES; i++) {
        family.mul[i] = (s = mix64(s)) | 1;
        family.add[i] = s = mix64(s);
    }
}

/* The signature being built: the last words' hashes for the shingle. */
typedef struct sig_builder_s {
    bf_neardup_sig_t *sig;
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
    const uint64_t *mul = family.mul, *add = family.add;
    for (int i = 0; i < BF_NEARDUP_HASHES; i++) {
        uint32_t v = (uint32_t)((mul[i] * h + add[i]) >> 32);
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

/* The "C" locale's isalnum(), isdigit() and tolower() (the worker never
 * calls setlocale), as arithmetic rather than a libc call per byte. With
 * the family made once, a signature of one of the 3,000 real reports took
 * 10.0 us instead of 12.7 (BENCHMARKS.md, tenth session). */
static bool is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10;
}

static bool word_byte(unsigned char c)
{
    return (unsigned)((c | 0x20) - 'a') < 26 || is_digit(c) || c >= 0x80;
}

static char lower(unsigned char c)
{
    return (char)((unsigned)(c - 'A') < 26 ? c | 0x20 : c);
}

/* One word of the text, already lower-cased: apply the number and stop
 * word rules, then add it. */
static void take_word(sig_builder_t *b, const char *word, size_t len)
{
    size_t digits = 0;
    for (size_t i = 0; i < len; i++)
        digits += is_digit((unsigned char)word[i]);
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
            word[i] = lower((unsigned char)start[i]);
        take_word(b, word, n);
    }
}

void bf_neardup_signature(const bf_report_t *r, bf_neardup_sig_t *out)
{
    memset(out, 0, sizeof(*out));
    memset(out->slot, 0xff, sizeof(out->slot));
    out->asset = asset_hash(r->asset);
    pthread_once(&family_once, family_init);
    sig_builder_t b = {.sig = out};
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
