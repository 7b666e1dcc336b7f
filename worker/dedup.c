/*
 * dedup.c - content fingerprints and the claim script (see dedup.h).
 */
#include "worker/dedup.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "libbf/hex.h"
#include "libbf/mem.h"

/* KEYS: fp, result, lease, pub. ARGV: report_id, worker_id, ttl_s, lease_ms,
 * alive_prefix. Returns {state, value, published, taken_over}: state is
 * "cached" (value = stored result), "duplicate" (value = original
 * report_id), "busy" (value = lease holder), "claimed" (the content was
 * nobody's: this claim took it) or "reclaimed" (the content was already
 * this report's: a redelivery, or a takeover); taken_over names the holder
 * whose lease a claim replaced because that worker is dead. Only a
 * reclaimed report can have answers in the AI layer's response cache
 * (worker/claim.c).
 * A Lua nil would end the array early, so missing values are returned as
 * false (a nil bulk reply).
 *
 * A lease blocks other workers only while its holder is alive: every
 * worker keeps alive_prefix..worker_id in Redis for --liveness-ttl and
 * renews it (liveness.c). A killed worker's claims are free again within
 * that time instead of the whole lease, which once stalled a fleet for
 * minutes after a SIGKILL; a live holder keeps its reports, so two live
 * workers never both pay for one.
 *
 * The text is BF_DEDUP_CLAIM_LUA (dedup.h), which the near-duplicate
 * check extends (neardup_script.c). */
const char bf_dedup_claim_script[] =
    BF_DEDUP_CLAIM_LUA("return {claimed, ARGV[1], pub, dead}\n");

/* --dry-run: the same answers from the same keys, writing nothing, so a
 * dry run leaves no claim or lease behind for the real workers to trip on.
 * A report nobody owns comes back "claimed" (analyse it). */
const char bf_dedup_peek_script[] =
    "local pub = redis.call('EXISTS', KEYS[4])\n"
    "local cached = redis.call('GET', KEYS[2])\n"
    "if cached then return {'cached', cached, pub, false} end\n"
    "local owner = redis.call('GET', KEYS[1])\n"
    "if owner and owner ~= ARGV[1] then return {'duplicate', owner, pub, false} end\n"
    "return {owner and 'reclaimed' or 'claimed', ARGV[1], pub, false}\n";

/* The normalised text goes to the digest in chunks of this many bytes:
 * one EVP_DigestUpdate() per byte cost more than the hashing itself. */
#define NORM_CHUNK 4096

typedef struct norm_s {
    EVP_MD_CTX *md;
    int pending_space; /* a space is owed before the next visible char */
    int started;
    size_t len;
    char buf[NORM_CHUNK];
} norm_t;

static void put(norm_t *n, char c)
{
    if (n->len == sizeof(n->buf)) {
        EVP_DigestUpdate(n->md, n->buf, n->len);
        n->len = 0;
    }
    n->buf[n->len++] = c;
}

static void flush(norm_t *n)
{
    EVP_DigestUpdate(n->md, n->buf, n->len);
    n->len = 0;
}

static void emit(norm_t *n, const char *bytes, size_t len)
{
    if (n->pending_space) {
        put(n, ' ');
        n->pending_space = 0;
    }
    for (size_t i = 0; i < len; i++)
        put(n, bytes[i]);
    n->started = 1;
}

/* What each byte becomes: a space (white space and control characters,
 * so the 0x1F field separator can never come from the text itself),
 * nothing (Markdown emphasis and quote marks), or its lower-case form:
 * the "C" locale's isspace/iscntrl/tolower, as a table made once. */
enum { CH_SPACE = 0x100, CH_DROP = 0x200 };
static unsigned short char_map[256];
static pthread_once_t char_map_once = PTHREAD_ONCE_INIT;

static void char_map_init(void)
{
    for (int c = 0; c < 256; c++) {
        if (isspace(c) || iscntrl(c))
            char_map[c] = CH_SPACE;
        else if (c == '*' || c == '_' || c == '`' || c == '#' || c == '>')
            char_map[c] = CH_DROP;
        else
            char_map[c] = (unsigned short)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
}

/* "https://" in any case at @p p (strncasecmp's answer, without a call
 * for every 'h' of the text; a NUL stops it like any other mismatch). */
static bool at_https(const unsigned char *p)
{
    return (p[0] | 0x20) == 'h' && (p[1] | 0x20) == 't' && (p[2] | 0x20) == 't' &&
           (p[3] | 0x20) == 'p' && (p[4] | 0x20) == 's' && p[5] == ':' && p[6] == '/' &&
           p[7] == '/';
}

static void norm_text(norm_t *n, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (at_https(p)) {
            emit(n, "http://", 7);
            p += 8;
            continue;
        }
        unsigned short m = char_map[*p++];
        if (m == CH_SPACE) {
            n->pending_space = n->started;
        } else if (m != CH_DROP) {
            char lc = (char)m;
            emit(n, &lc, 1);
        }
    }
}

void bf_dedup_fingerprint(const bf_report_t *r, char out[BF_FINGERPRINT_LEN])
{
    const char *parts[] = {r->title, r->asset, r->description, r->steps_to_reproduce,
                           r->impact};
    pthread_once(&char_map_once, char_map_init);
    norm_t *n = bf_malloc(sizeof(*n));
    n->md = EVP_MD_CTX_new();
    n->len = 0;
    EVP_DigestInit_ex(n->md, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (i)
            put(n, '\x1f');
        n->pending_space = 0;
        n->started = 0;
        norm_text(n, parts[i] ? parts[i] : "");
    }
    flush(n);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(n->md, digest, &len);
    EVP_MD_CTX_free(n->md);
    free(n);
    bf_hex_encode(digest, len < 32 ? len : 32, out);
}
