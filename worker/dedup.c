/*
 * dedup.c - content fingerprints and the claim script (see dedup.h).
 */
#include "worker/dedup.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* KEYS: fp, result, lease, pub. ARGV: report_id, worker_id, ttl_s, lease_ms.
 * Returns {state, value, published}: state is "cached" (value = stored
 * result), "duplicate" (value = original report_id), "busy" (value = lease
 * holder) or "claimed". A Lua nil would end the array early, so missing
 * values are returned as false (a nil bulk reply). */
const char bf_dedup_claim_script[] =
    "local pub = redis.call('EXISTS', KEYS[4])\n"
    "local cached = redis.call('GET', KEYS[2])\n"
    "if cached then return {'cached', cached, pub} end\n"
    "local owner = redis.call('GET', KEYS[1])\n"
    "if owner and owner ~= ARGV[1] then return {'duplicate', owner, pub} end\n"
    "local holder = redis.call('GET', KEYS[3])\n"
    "if holder and holder ~= ARGV[2] then return {'busy', holder, pub} end\n"
    "if not owner then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3]) end\n"
    "redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[4])\n"
    "return {'claimed', ARGV[1], pub}\n";

/* --dry-run: the same answers from the same keys, writing nothing, so a
 * dry run leaves no claim or lease behind for the real workers to trip on.
 * A report nobody owns comes back "claimed" (analyse it). */
const char bf_dedup_peek_script[] =
    "local pub = redis.call('EXISTS', KEYS[4])\n"
    "local cached = redis.call('GET', KEYS[2])\n"
    "if cached then return {'cached', cached, pub} end\n"
    "local owner = redis.call('GET', KEYS[1])\n"
    "if owner and owner ~= ARGV[1] then return {'duplicate', owner, pub} end\n"
    "return {'claimed', ARGV[1], pub}\n";

typedef struct norm_s {
    EVP_MD_CTX *md;
    int pending_space; /* a space is owed before the next visible char */
    int started;
} norm_t;

static void emit(norm_t *n, const char *bytes, size_t len)
{
    if (n->pending_space) {
        EVP_DigestUpdate(n->md, " ", 1);
        n->pending_space = 0;
    }
    EVP_DigestUpdate(n->md, bytes, len);
    n->started = 1;
}

static void norm_text(norm_t *n, const char *s)
{
    const char *p = s;
    while (*p) {
        if (strncasecmp(p, "https://", 8) == 0) {
            emit(n, "http://", 7);
            p += 8;
            continue;
        }
        unsigned char c = (unsigned char)*p++;
        /* Control characters count as white space, so the 0x1F field
         * separator can never come from the text itself. */
        if (isspace(c) || iscntrl(c)) {
            n->pending_space = n->started;
            continue;
        }
        if (c == '*' || c == '_' || c == '`' || c == '#' || c == '>')
            continue;
        char lc = (char)tolower(c);
        emit(n, &lc, 1);
    }
}

void bf_dedup_fingerprint(const bf_report_t *r, char out[BF_FINGERPRINT_LEN])
{
    const char *parts[] = {r->title, r->asset, r->description, r->steps_to_reproduce,
                           r->impact};
    norm_t n = {.md = EVP_MD_CTX_new()};
    EVP_DigestInit_ex(n.md, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (i)
            EVP_DigestUpdate(n.md, "\x1f", 1);
        n.pending_space = 0;
        n.started = 0;
        norm_text(&n, parts[i] ? parts[i] : "");
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(n.md, digest, &len);
    EVP_MD_CTX_free(n.md);
    for (unsigned int i = 0; i < len && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    out[64] = '\0';
}
