/*
 * test_aisim_prompt_cache.c - the simulator's prompt caches follow the
 * providers' documented rules (ops/aisim/prompt_cache.h): OpenAI from
 * 1,024 tokens in steps of 128, the longest prefix seen; Anthropic only a
 * breakpoint's prefix, whole, from the model's minimum (2,048 for Haiku);
 * Gemini 2.5 and newer only; an entry is readable once the response that
 * wrote it has begun.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ops/aisim/prompt_cache.h"
#include "ops/aisim/providers.h"

/* A prompt of @p static_tokens shared tokens and then @p own distinct ones
 * (tokens are 4 bytes), fed into @p p. */
static void prompt(bf_aisim_prefix_t *p, size_t static_tokens, size_t own, char tag)
{
    static char text[65536];
    memset(text, 's', static_tokens * 4);
    memset(text + static_tokens * 4, tag, own * 4);
    bf_aisim_prefix_init(p);
    bf_aisim_prefix_feed(p, text, (static_tokens + own) * 4);
}

static void test_openai_caches_the_longest_prefix_from_1024_in_steps_of_128(void **u)
{
    (void)u;
    bf_aisim_prompt_cache_t *c = bf_aisim_prompt_cache_new(1024);
    bf_aisim_prefix_t p;
    int64_t read, written;
    /* 1,000 shared tokens: under the minimum, never cached. */
    for (char tag = 'a'; tag < 'd'; tag++) {
        prompt(&p, 1000, 300, tag);
        bf_aisim_prompt_cache_use(c, &p, BF_AISIM_OPENAI, "gpt-4o-mini", -1, 10, 10,
                                  &read, &written);
        assert_int_equal(read, 0);
        assert_int_equal(written, 0);
    }
    /* 2,000 shared: the second request reads 1,920 (15 * 128). */
    prompt(&p, 2000, 300, 'x');
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_OPENAI, "gpt-4o-mini", -1, 20, 20, &read,
                              &written);
    assert_int_equal(read, 0);
    prompt(&p, 2000, 300, 'y');
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_OPENAI, "gpt-4o-mini", -1, 21, 21, &read,
                              &written);
    assert_int_equal(read, 1920);
    /* Another model has its own cache. */
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_OPENAI, "gpt-4o", -1, 22, 22, &read,
                              &written);
    assert_int_equal(read, 0);
    bf_aisim_prompt_cache_destroy(c);
}

static void test_anthropic_caches_a_breakpoint_whole_from_the_models_minimum(void **u)
{
    (void)u;
    bf_aisim_prompt_cache_t *c = bf_aisim_prompt_cache_new(1024);
    bf_aisim_prefix_t p;
    int64_t read, written;
    static char shared[8192 * 4];
    memset(shared, 's', sizeof(shared));
    /* 1,500 tokens marked: enough for Sonnet (1,024), not for Haiku (2,048). */
    const char *models[] = {"claude-sonnet-4", "claude-3-5-haiku-latest"};
    for (int m = 0; m < 2; m++) {
        for (int i = 0; i < 2; i++) {
            bf_aisim_prefix_init(&p);
            bf_aisim_prefix_feed(&p, shared, 1500 * 4);
            bf_aisim_prefix_mark(&p);
            bf_aisim_prefix_feed(&p, i ? "report two" : "report one", 10);
            bf_aisim_prompt_cache_use(c, &p, BF_AISIM_ANTHROPIC, models[m], -1, 30 + i,
                                      30 + i, &read, &written);
            assert_int_equal(read, m == 0 && i == 1 ? 1500 : 0);
            assert_int_equal(written, m == 0 && i == 0 ? 1500 : 0);
        }
    }
    /* Nothing marked, nothing cached, however long. */
    prompt(&p, 4000, 0, 'z');
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_ANTHROPIC, "claude-sonnet-4", -1, 40, 40,
                              &read, &written);
    assert_int_equal(read + written, 0);
    assert_int_equal(bf_aisim_cache_min_tokens(BF_AISIM_ANTHROPIC, "claude-haiku-4-5"),
                     4096);
    bf_aisim_prompt_cache_destroy(c);
}

static void test_an_entry_is_readable_once_its_response_began(void **u)
{
    (void)u;
    bf_aisim_prompt_cache_t *c = bf_aisim_prompt_cache_new(1024);
    bf_aisim_prefix_t p;
    int64_t read, written;
    prompt(&p, 3000, 10, 'a');
    /* Written at 50, answered (readable) from 50.3. */
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_OPENAI, "m", -1, 50, 50.3, &read, &written);
    prompt(&p, 3000, 10, 'b');
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_OPENAI, "m", -1, 50.1, 50.4, &read,
                              &written);
    assert_int_equal(read, 0); /* sent at the same time: a miss */
    prompt(&p, 3000, 10, 'c');
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_OPENAI, "m", -1, 50.5, 50.8, &read,
                              &written);
    assert_int_equal(read, 2944); /* 23 * 128 */
    bf_aisim_prompt_cache_destroy(c);
}

static void test_gemini_caches_from_2_5_on(void **u)
{
    (void)u;
    assert_int_equal(bf_aisim_cache_min_tokens(BF_AISIM_GEMINI, "gemini-2.0-flash"), 0);
    assert_int_equal(bf_aisim_cache_min_tokens(BF_AISIM_GEMINI, "gemini-2.5-flash"),
                     2048);
    bf_aisim_prompt_cache_t *c = bf_aisim_prompt_cache_new(1024);
    bf_aisim_prefix_t p;
    int64_t read, written;
    for (int i = 0; i < 2; i++) {
        prompt(&p, 3000, 10, (char)('a' + i));
        bf_aisim_prompt_cache_use(c, &p, BF_AISIM_GEMINI, "gemini-2.0-flash", -1, 60 + i,
                                  60 + i, &read, &written);
        assert_int_equal(read, 0);
    }
    /* --cache-min-tokens overrides the documented minimums. */
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_GEMINI, "gemini-2.0-flash", 0, 70, 70,
                              &read, &written);
    bf_aisim_prompt_cache_use(c, &p, BF_AISIM_GEMINI, "gemini-2.0-flash", 0, 71, 71,
                              &read, &written);
    assert_int_equal(read, 2944); /* all 3,010 but the last partial step */
    bf_aisim_prompt_cache_destroy(c);
}

/* A prefix is hashed eight bytes at a time: how the text is cut into
 * feeds changes no hash, and a byte anywhere, or the length, changes the
 * hash of every prefix that holds it. */
static void test_a_prefix_hash_is_the_texts_not_the_feeds(void **u)
{
    (void)u;
    char text[1300];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + (i * 7) % 26);
    bf_aisim_prefix_t whole, cut;
    bf_aisim_prefix_init(&whole);
    bf_aisim_prefix_feed(&whole, text, 1027);
    bf_aisim_prefix_mark(&whole);
    assert_int_equal(whole.n, 2); /* 512 and 1,024 bytes */
    for (size_t a = 0; a <= 20; a++)
        for (size_t b = a; b <= 1027; b += 1 + b / 16) {
            bf_aisim_prefix_init(&cut);
            bf_aisim_prefix_feed(&cut, text, a);
            bf_aisim_prefix_feed(&cut, text + a, b - a);
            bf_aisim_prefix_feed(&cut, text + b, 1027 - b);
            bf_aisim_prefix_mark(&cut);
            assert_int_equal(cut.n, 2);
            assert_true(cut.at[0] == whole.at[0] && cut.at[1] == whole.at[1]);
            assert_true(cut.mark_hash == whole.mark_hash);
            assert_int_equal(cut.mark_bytes, 1027);
        }
    /* One byte changed, in a whole word or in the tail; one byte fewer. */
    for (size_t at = 0; at < 1027; at += 73) {
        text[at] ^= 1;
        bf_aisim_prefix_init(&cut);
        bf_aisim_prefix_feed(&cut, text, 1027);
        bf_aisim_prefix_mark(&cut);
        text[at] ^= 1;
        assert_true(cut.mark_hash != whole.mark_hash);
        assert_true((at < 512) == (cut.at[0] != whole.at[0]));
    }
    bf_aisim_prefix_init(&cut);
    bf_aisim_prefix_feed(&cut, text, 1026);
    bf_aisim_prefix_mark(&cut);
    assert_true(cut.mark_hash != whole.mark_hash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_caches_the_longest_prefix_from_1024_in_steps_of_128),
        cmocka_unit_test(
            test_anthropic_caches_a_breakpoint_whole_from_the_models_minimum),
        cmocka_unit_test(test_an_entry_is_readable_once_its_response_began),
        cmocka_unit_test(test_gemini_caches_from_2_5_on),
        cmocka_unit_test(test_a_prefix_hash_is_the_texts_not_the_feeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
