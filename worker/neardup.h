/*
 * neardup.h - near-duplicate detection: the same issue, reported in other
 * words, about the same asset.
 *
 * A report becomes a MinHash signature of its word shingles; signatures are
 * cut into LSH bands, and reports sharing a band bucket in Redis are the
 * candidates. One Lua script per report, atomically on the server, reads the
 * candidates from this report's band buckets, compares the best of them
 * slot by slot with this report's signature (and applies the title gate,
 * below) and either answers DUPLICATE (the original's id and the number of
 * equal slots) or registers this report as a new original. The decision is
 * the script's, so two similar reports racing make exactly one original,
 * and a duplicate is never registered: duplicate_of names an original. The similarity is
 * the MinHash estimate of the Jaccard similarity of the two shingle sets (equal slots /
 * slots), whose standard error is sqrt(J(1-J)/128), about 0.035 at J = 0.8.
 *
 * Text normalisation (bf_neardup_signature):
 *   - fields title, description, steps_to_reproduce, impact, read as one
 *     stream of words (text moved between fields is still the same text);
 *     the asset is not part of the text: it is a gate (below);
 *   - a word is a run of ASCII letters and digits or UTF-8 non-ASCII bytes;
 *     everything else (Markdown marks, punctuation, white space) separates
 *     words, so Markdown formatting does not matter; ASCII is lower-cased;
 *   - URLs: the scheme and "www." are dropped, so http/https and
 *     www/no-www spell the same words; host and path stay words;
 *   - numbers: a 1-2 digit number (list numbering, counts) is dropped; a
 *     word of 8 or more letters and digits with a digit in it (ids,
 *     hashes, tokens, timestamps, which differ between two submissions of
 *     the same issue) becomes "#"; other numbers (versions, CVE parts) stay;
 *   - a short list of English stop words is dropped;
 *   - shingles are runs of BF_NEARDUP_SHINGLE_WORDS consecutive words (one
 *     shingle of all words when there are fewer).
 *
 * The title gate: a report's title names what is broken (a function, a
 * package, a host); a templated series (one reporter filing one write-up
 * for many components) differs in little else. So each report also keeps
 * a Bloom filter of all its words and its title's words, and two reports
 * are duplicates only if at most BF_NEARDUP_MAX_TITLE_MISSING title words
 * of either are absent from the other's text. A filter saturated by a very
 * long report says "present" more often: the gate then lets more through,
 * never fewer.
 *
 * MinHash: each shingle is hashed (FNV-1a 64 per word, splitmix64 over the
 * words); slot i keeps the minimum over shingles of the high 32 bits of
 * mul_i * hash + add_i (mod 2^64, mul_i odd), where mul_i and add_i are a
 * fixed splitmix64 sequence, so signatures are the same on every worker,
 * run and platform.
 *
 * The asset gate: the asset is normalised (lower case, scheme, user info,
 * "www.", default port, query, fragment and trailing "/" dropped) and
 * hashed; the hash is in every Redis key a report reads or writes, so a
 * report can only ever match one about the same asset. It is also the
 * Redis Cluster hash tag, so one script touches one slot.
 *
 * Keys (prefix configurable, default "bf:"):
 *   bf:nd:{<asset>}:g<generation>  hash of the asset's band buckets of one
 *                                  generation (floor(server time / TTL)):
 *                                  field "<band>:<bandhash>", value a
 *                                  MessagePack array of report ids, newest
 *                                  first, at most BF_NEARDUP_BUCKET_CAP;
 *                                  expires at the end of the next
 *                                  generation (EXPIREAT)
 *   bf:nd:{<asset>}:r:<report_id>   the report's signature, word filter and
 *                                  title words (about 1.6 KB), EX the TTL
 *                                  (":s:" before 2026-12-03, with another
 *                                  MinHash family: a new name, so the two
 *                                  are never compared)
 * A check reads its buckets in this generation's hash and the last one's,
 * so an original is found for as long as its record lives (the TTL),
 * whatever the generation boundary; an entry that outlives its record is
 * skipped.
 * One hash holds every report of its asset of a generation (18 fields per
 * report at 0.7): Redis frees a large one in the foreground when it
 * expires unless lazyfree-lazy-expire is yes (docker-compose.yml sets it).
 *
 * @locality bf_neardup_check() on the loop thread; the rest is pure.
 */
#ifndef BF_WORKER_NEARDUP_H
#define BF_WORKER_NEARDUP_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"
#include "libbf/redis.h"
#include "libbf/report.h"

/** Slots in a signature (hash functions). */
#define BF_NEARDUP_HASHES 128
/** Words per shingle. Measured on the labelled set (BENCHMARKS.md): 3-word
 *  shingles lose re-worded reports (every changed word breaks three
 *  shingles), single words keep more of them but ignore word order
 *  entirely; 2 keeps order locally and separated every distinct pair. */
#define BF_NEARDUP_SHINGLE_WORDS 2
/** Newest report ids kept per band bucket: bounds the script's work when a
 *  bucket is hot (boilerplate shared by many reports). */
#define BF_NEARDUP_BUCKET_CAP 64
/** Candidates (most shared bands first) whose signatures are compared. */
#define BF_NEARDUP_MAX_CANDIDATES 8

/** Bits of a report's word filter: 1 KB keeps a 500-word report's false
 *  "present" rate near 0.5% with 3 probes per word. */
#define BF_NEARDUP_FILTER_BITS 8192
/** Probes per word in the filter. */
#define BF_NEARDUP_FILTER_PROBES 3
/** Title words kept (distinct, first ones); titles are one line. */
#define BF_NEARDUP_TITLE_WORDS 16
/** Title words of either report that may be absent from the other's text. */
#define BF_NEARDUP_MAX_TITLE_MISSING 1

/** A report's MinHash signature, word filter and title words, and the
 *  hash of its normalised asset. */
typedef struct bf_neardup_sig_s {
    uint32_t slot[BF_NEARDUP_HASHES];
    uint64_t asset;  /* FNV-1a 64 of the normalised asset */
    size_t shingles; /* shingles seen (with repeats); 0 means no words */
    uint8_t filter[BF_NEARDUP_FILTER_BITS / 8]; /* Bloom filter of all words */
    /* the filter positions of each distinct title word */
    uint16_t title_probe[BF_NEARDUP_TITLE_WORDS][BF_NEARDUP_FILTER_PROBES];
    uint64_t title_hash[BF_NEARDUP_TITLE_WORDS]; /* to keep them distinct */
    int title_words;
} bf_neardup_sig_t;

/** Threshold and the LSH layout chosen for it. */
typedef struct bf_neardup_params_s {
    double threshold; /* 0 = near-duplicate detection off */
    int bands;
    int rows;      /* bands * rows <= BF_NEARDUP_HASHES */
    int min_equal; /* equal slots needed: ceil(threshold * HASHES) */
} bf_neardup_params_t;

/**
 * @brief Parse a threshold setting: a number in [0, 1], or "off"; 0 and
 *        "off" disable near-duplicate detection.
 * @returns BF_ERR_CONFIG with a message in errstr when it is neither.
 */
bf_err_t bf_neardup_threshold_parse(const char *s, double *out, char *errstr,
                                    size_t errstr_size);

/**
 * @brief Choose the LSH bands x rows for @p threshold.
 *
 * The pair (b, r) with b * r <= BF_NEARDUP_HASHES that minimises the
 * weighted area of the S-curve 1 - (1 - s^r)^b on the wrong side of the
 * threshold (the datasketch method), with missed duplicates weighted 4
 * times false candidates: a false candidate costs a 1.6 KB GET and a
 * comparison in the script, a missed one costs an AI analysis.
 */
void bf_neardup_params_init(bf_neardup_params_t *p, double threshold);

/** @brief Normalise @p asset into @p out (truncated to out_size - 1). */
void bf_neardup_asset_normalise(const char *asset, char *out, size_t out_size);

/** @brief Signature of a report's text and asset (see the file comment). */
void bf_neardup_signature(const bf_report_t *r, bf_neardup_sig_t *out);

/** @brief MinHash estimate of the Jaccard similarity, in [0, 1]; 0 when
 *         the assets differ or either report has no words. */
double bf_neardup_similarity(const bf_neardup_sig_t *a, const bf_neardup_sig_t *b);

/** @brief Hash of band @p band (rows band*rows .. band*rows+rows-1). */
uint64_t bf_neardup_band_hash(const bf_neardup_sig_t *s, int band, int rows);

/** @brief Title words of either report absent from the other's text (by
 *         the word filters; see the title gate above). */
int bf_neardup_title_missing(const bf_neardup_sig_t *a, const bf_neardup_sig_t *b);

/**
 * @brief Would the detector call @p b a near duplicate of @p a? The same
 *        decision as the script: same asset, at least one shared band, at
 *        least p->min_equal equal slots, and the title gate. For
 *        benchmarks and tests.
 */
bool bf_neardup_is_duplicate(const bf_neardup_params_t *p, const bf_neardup_sig_t *a,
                             const bf_neardup_sig_t *b);

/** The Lua script (EVAL); see neardup_script.c for its KEYS and ARGV. */
extern const char bf_neardup_script[];

/**
 * The claim script (dedup.h) with the check run in the same round trip
 * once the report is claimed: the same KEYS, the claim's five ARGV, then
 * the check's (bf_neardup_request_init_after() with the claim's EVAL as
 * the lead). A claimed report's answer has a fifth element, the check's
 * answer as bf_neardup_script gives it (bf_neardup_answer_parse()).
 */
extern const char bf_neardup_claim_script[];

/**
 * One EVAL of the script, as an argument vector: the EVAL, the script
 * (bf_neardup_script itself, read-only) and the key count, or the lead
 * of bf_neardup_request_init_after(), are borrowed; the record is in @c
 * record and every other argument in @c block (NUL-ended). Built by
 * bf_neardup_request_init(), freed by bf_neardup_request_free().
 */
typedef struct bf_neardup_request_s {
    int argc;
    char **argv;
    size_t *argvlen;
    char *block, *record;
} bf_neardup_request_t;

/**
 * @brief Build the EVAL for report @p report_id with signature @p sig.
 * @param key_prefix e.g. "bf:" (copied)
 * @param ttl_s      expiry of every key written
 */
void bf_neardup_request_init(bf_neardup_request_t *req, const bf_neardup_params_t *p,
                             const char *key_prefix, int64_t ttl_s, const char *report_id,
                             const bf_neardup_sig_t *sig);
/**
 * @brief The same arguments after @p lead_argc of the caller's (the EVAL,
 *        its script, the key count, the keys and arguments before the
 *        check's), which are borrowed: they must outlive the request.
 * @param lead_argvlen their lengths, or NULL for NUL-ended strings
 */
void bf_neardup_request_init_after(bf_neardup_request_t *req, int lead_argc,
                                   const char *const *lead_argv,
                                   const size_t *lead_argvlen,
                                   const bf_neardup_params_t *p, const char *key_prefix,
                                   int64_t ttl_s, const char *report_id,
                                   const bf_neardup_sig_t *sig);
void bf_neardup_request_free(bf_neardup_request_t *req);

/** What the script answered. */
typedef struct bf_neardup_answer_s {
    bool duplicate;
    char original[BF_REPORT_MAX_ID + 1]; /* the best candidate's report_id, "" if none */
    double similarity;                   /* the best candidate's estimate; 0 if none */
} bf_neardup_answer_t;

/** @brief Read the script's reply. @returns BF_ERR_REDIS on an error reply
 *         or BF_ERR_PARSE on an unexpected shape. */
bf_err_t bf_neardup_answer_parse(const redisReply *reply, bf_neardup_answer_t *out);

/**
 * Completion of bf_neardup_check(). @p answer is borrowed, valid during
 * the callback, and NULL unless err == BF_OK.
 */
typedef void(bf_neardup_cb)(bf_err_t err, const bf_neardup_answer_t *answer,
                            void *opaque);

/**
 * @brief Look for a near duplicate of @p r and, if none, register it; one
 *        round trip. A report without words is never a near duplicate and
 *        is not registered (the callback runs at once with a negative
 *        answer).
 * @returns BF_OK (cb runs exactly once) or BF_ERR_REDIS when not connected
 *          (cb not called).
 */
bf_err_t bf_neardup_check(bf_redis_t *redis, const bf_neardup_params_t *p,
                          const char *key_prefix, int64_t ttl_s, const bf_report_t *r,
                          bf_neardup_cb *cb, void *opaque);

#endif
