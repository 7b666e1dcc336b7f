/*
 * prompt_cache.c - prefixes and the simulated prompt caches (see
 * prompt_cache.h).
 *
 * The cache is an open-addressing table of prefix hashes with the time
 * each becomes readable and was last used; a probe looks at PROBE slots
 * and, when the prefix is new, takes a free one or the least recently used
 * of them, so the prefixes every request shares (the prompts) stay while
 * the ones that end inside a report come and go. Entries are not expired
 * by time: a benchmark runs for minutes, the providers keep entries five
 * minutes after their last use.
 */
#include "prompt_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"
#include "providers.h"

#define FNV_OFFSET 14695981039346656037u
#define FNV_PRIME  1099511628211u
/* Bytes per token of the simulator's estimate (bf_aisim_tokens_estimate). */
#define BYTES_PER_TOKEN 4
/* OpenAI's and Gemini's cache hits grow in steps of this many tokens. */
#define STEP_TOKENS 128
#define PROBE       8

typedef struct slot_s {
    uint64_t hash; /* 0: free */
    double ready_at, used_at;
} slot_t;

struct bf_aisim_prompt_cache_s {
    pthread_mutex_t lock;
    size_t n;
    slot_t *slots;
};

int64_t bf_aisim_cache_min_tokens(unsigned provider, const char *model)
{
    const char *m = model ? model : "";
    switch (provider) {
    case BF_AISIM_ANTHROPIC:
        if (strstr(m, "haiku-4") || strstr(m, "opus-4-5") || strstr(m, "opus-4-6") ||
            strstr(m, "opus-4.5") || strstr(m, "opus-4.6"))
            return 4096;
        if (strstr(m, "haiku") || strstr(m, "sonnet-4-6") || strstr(m, "sonnet-4.6"))
            return 2048;
        return 1024;
    case BF_AISIM_GEMINI:
        if (strncmp(m, "gemini-2.5", 10) == 0)
            return 2048;
        if (strncmp(m, "gemini-", 7) == 0 && m[7] >= '3' && m[7] <= '9')
            return 4096;
        return 0; /* 2.0 and older: no implicit caching */
    default:
        return 1024;
    }
}

void bf_aisim_prefix_init(bf_aisim_prefix_t *p)
{
    memset(p, 0, sizeof(*p));
    p->hash = FNV_OFFSET;
}

/* One eight-byte word into the hash: FNV's xor-multiply on the word, then
 * its high half folded down so every bit reaches the next multiply (a
 * multiply alone only carries bits upwards). A multiply for every byte
 * was a fifth of the simulator's CPU on the worker benchmark's prompts
 * (perf; BENCHMARKS.md, tenth session). */
static uint64_t mix_word(uint64_t h, uint64_t w)
{
    h = (h ^ w) * FNV_PRIME;
    return h ^ (h >> 32);
}

/* The hash of everything fed: the words, then the bytes after them with
 * their count. */
static uint64_t prefix_hash(const bf_aisim_prefix_t *p)
{
    size_t tail = p->bytes % 8;
    return tail ? mix_word(p->hash, p->word ^ (uint64_t)tail << 59) : p->hash;
}

void bf_aisim_prefix_feed(bf_aisim_prefix_t *p, const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text, *end = s + n;
    const size_t step = STEP_TOKENS * BYTES_PER_TOKEN; /* a multiple of 8 */
    while (s < end) {
        size_t tail = p->bytes % 8;
        if (tail || end - s < 8) {
            p->word |= (uint64_t)*s++ << (8 * tail);
            if (++p->bytes % 8)
                continue;
        } else {
            /* first byte lowest, as above: GCC makes it one load on x86-64 */
            p->word = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                      (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
                      (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56;
            s += 8;
            p->bytes += 8;
        }
        p->hash = mix_word(p->hash, p->word);
        p->word = 0;
        if (p->bytes % step == 0 && p->n < BF_AISIM_PREFIX_MAX)
            p->at[p->n++] = p->hash;
    }
}

void bf_aisim_prefix_mark(bf_aisim_prefix_t *p)
{
    p->marked = true;
    p->mark_hash = prefix_hash(p);
    p->mark_bytes = p->bytes;
}

bf_aisim_prompt_cache_t *bf_aisim_prompt_cache_new(size_t slots)
{
    bf_aisim_prompt_cache_t *c = bf_calloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->n = slots > PROBE ? slots : PROBE;
    c->slots = bf_calloc(c->n, sizeof(*c->slots));
    return c;
}

void bf_aisim_prompt_cache_destroy(bf_aisim_prompt_cache_t *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c);
}

void bf_aisim_prompt_cache_clear(bf_aisim_prompt_cache_t *c)
{
    pthread_mutex_lock(&c->lock);
    memset(c->slots, 0, c->n * sizeof(*c->slots));
    pthread_mutex_unlock(&c->lock);
}

/* The slot of a hash: FNV-1a's low bits follow its input's structure (a
 * run of one byte gives two slots in all), so they are mixed first
 * (SplitMix64's finaliser). */
static size_t slot_of(uint64_t h, size_t n)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    h ^= h >> 31;
    return (size_t)(h % n);
}

/* Look @p h up; @returns true when it is readable at @p now. Remembers it
 * (readable from @p ready_at, or earlier if it already was). Locked. */
static bool touch(bf_aisim_prompt_cache_t *c, uint64_t h, double now, double ready_at)
{
    if (h == 0)
        h = 1; /* 0 marks a free slot */
    slot_t *victim = NULL;
    size_t at = slot_of(h, c->n);
    for (size_t i = 0; i < PROBE; i++) {
        slot_t *s = &c->slots[(at + i) % c->n];
        if (s->hash == h) {
            bool hit = s->ready_at <= now;
            if (ready_at < s->ready_at)
                s->ready_at = ready_at;
            s->used_at = now;
            return hit;
        }
        if (!victim || (victim->hash && (!s->hash || s->used_at < victim->used_at)))
            victim = s;
    }
    *victim = (slot_t){.hash = h, .ready_at = ready_at, .used_at = now};
    return false;
}

void bf_aisim_prompt_cache_use(bf_aisim_prompt_cache_t *c, const bf_aisim_prefix_t *p,
                               unsigned provider, const char *model, long min_override,
                               double now, double ready_at, int64_t *read,
                               int64_t *written)
{
    *read = *written = 0;
    int64_t min =
        min_override >= 0 ? min_override : bf_aisim_cache_min_tokens(provider, model);
    if (min == 0 && min_override < 0)
        return; /* the model caches nothing */
    /* Caches are per model: the model's name goes into every hash. */
    uint64_t salt = FNV_OFFSET;
    for (const char *s = model ? model : ""; *s; s++)
        salt = (salt ^ (unsigned char)*s) * FNV_PRIME;
    pthread_mutex_lock(&c->lock);
    if (provider == BF_AISIM_ANTHROPIC) {
        /* Only a breakpoint caches, its prefix whole, if long enough. */
        int64_t tokens =
            (int64_t)((p->mark_bytes + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN);
        if (p->marked && tokens > 0 && tokens >= min) {
            if (touch(c, p->mark_hash ^ salt, now, ready_at))
                *read = tokens;
            else
                *written = tokens;
        }
    } else {
        /* The longest 128-token prefix from the minimum on that is readable
         * now; every one is remembered. */
        for (int i = 0; i < p->n; i++) {
            int64_t tokens = (int64_t)(i + 1) * STEP_TOKENS;
            if (tokens >= min && touch(c, p->at[i] ^ salt, now, ready_at))
                *read = tokens;
        }
    }
    pthread_mutex_unlock(&c->lock);
}
