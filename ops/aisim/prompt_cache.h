/*
 * prompt_cache.h - the simulator's prompt caches, by the rules the
 * providers document:
 *
 *   OpenAI     automatic for every prompt of 1,024 tokens or more; a hit
 *              is the longest prefix seen before, in steps of 128 tokens
 *              (1,024, 1,152, ...); the prefix is what the model renders
 *              first: the response_format schema, then the messages in
 *              order (OpenAI, "Prompt caching")
 *   Anthropic  only what a cache_control breakpoint marks: tools, then
 *              system blocks, up to and including the marked block, cached
 *              whole; a prefix shorter than the model's minimum is not
 *              cached at all: 1,024 tokens, 2,048 for Claude Haiku 3 and
 *              3.5 and Sonnet 4.6, 4,096 for Haiku 4.5 and Opus 4.5/4.6;
 *              an entry is readable once the response that wrote it has
 *              begun (Anthropic, "Prompt caching")
 *   Gemini     implicit caching on Gemini 2.5 and newer, like OpenAI's but
 *              from 2,048 tokens (2.5) or 4,096 (3 and newer); none before
 *              2.5 (Gemini API, "Context caching", implicit caching)
 *
 * A request's prefixes are fed as text in the order the provider renders
 * them (bf_aisim_prefix_t, hashed as they go, eight bytes at a time, no
 * copy; how the text is cut into calls does not change a hash); the cache answers
 * how many of its tokens were cached and remembers them. Tokens are
 * estimated as bytes / 4, as everywhere in the simulator.
 *
 * @locality any thread (the cache has one mutex; a prefix is one thread's).
 */
#ifndef BF_AISIM_PROMPT_CACHE_H
#define BF_AISIM_PROMPT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Prefixes remembered per request: every 128 tokens up to 8,192. */
#define BF_AISIM_PREFIX_MAX 64

typedef struct bf_aisim_prefix_s {
    uint64_t hash; /* of the whole eight-byte words fed (prompt_cache.c) */
    uint64_t word; /* the bytes fed after them, first byte lowest */
    size_t bytes;  /* fed so far */
    int n;         /* 128-token boundaries passed */
    uint64_t at[BF_AISIM_PREFIX_MAX];
    bool marked; /* Anthropic: a cache_control breakpoint */
    uint64_t mark_hash;
    size_t mark_bytes;
} bf_aisim_prefix_t;

/** @brief An empty prefix. */
void bf_aisim_prefix_init(bf_aisim_prefix_t *p);

/** @brief Feed @p n bytes of prompt text, in the order the provider renders it. */
void bf_aisim_prefix_feed(bf_aisim_prefix_t *p, const char *text, size_t n);

/** @brief Anthropic: everything fed so far is what a breakpoint caches. */
void bf_aisim_prefix_mark(bf_aisim_prefix_t *p);

/**
 * @brief The documented minimum in tokens of @p provider's (providers.h)
 *        @p model, or 0 when the model has no prompt caching.
 */
int64_t bf_aisim_cache_min_tokens(unsigned provider, const char *model);

typedef struct bf_aisim_prompt_cache_s bf_aisim_prompt_cache_t;

/** @brief A cache of @p slots prefixes (least recently used ones go first). */
bf_aisim_prompt_cache_t *bf_aisim_prompt_cache_new(size_t slots);

/** @brief Free. NULL-safe. */
void bf_aisim_prompt_cache_destroy(bf_aisim_prompt_cache_t *c);

/** @brief Forget everything (POST /stats/reset). */
void bf_aisim_prompt_cache_clear(bf_aisim_prompt_cache_t *c);

/**
 * @brief Use the cache for one request to @p provider's @p model at @p now
 *        (seconds): @p read gets the tokens of its longest cached prefix
 *        that an earlier response made readable, @p written those it
 *        writes (Anthropic bills writes; OpenAI and Gemini write for free
 *        and report 0); its prefixes become readable at @p ready_at (when
 *        this response begins).
 * @param min_override >= 0: that minimum for every model (0: any length);
 *        < 0: the documented minimums
 */
void bf_aisim_prompt_cache_use(bf_aisim_prompt_cache_t *c, const bf_aisim_prefix_t *p,
                               unsigned provider, const char *model, long min_override,
                               double now, double ready_at, int64_t *read,
                               int64_t *written);

#endif
