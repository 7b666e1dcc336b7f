/*
 * test_ai_config.c - worker/ai_config.c: the worker's settings become the
 * AI layer's fallback chain. AI_PROVIDERS names the chain in order (blanks
 * around names allowed, openai when unset); each link takes its own
 * provider's URL, key, model and limits; a name that is not a provider, an
 * empty chain or one longer than there are providers is refused with a
 * message naming AI_PROVIDERS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "worker/ai_config.h"

/* Every provider's settings set and told apart, so that a link that took
 * another provider's value shows. */
static bf_worker_config_t settings(char *providers)
{
    return (bf_worker_config_t){
        .ai_providers = providers,
        .ai_base_url = "http://openai.test/v1",
        .ai_api_key = "key-openai",
        .ai_model = "gpt-test",
        .anthropic_base_url = "http://anthropic.test",
        .anthropic_api_key = "key-anthropic",
        .anthropic_model = "claude-test",
        .gemini_base_url = "http://gemini.test",
        .gemini_api_key = "key-gemini",
        .gemini_model = "gemini-test",
        .ai_retries = 3,
        .ai_timeout_s = 12.5,
        .openai_rpm = 1,
        .openai_tpm = 2,
        .openai_fleet_rpm = 3,
        .openai_fleet_tpm = 4,
        .anthropic_rpm = 11,
        .anthropic_tpm = 12,
        .anthropic_fleet_rpm = 13,
        .anthropic_fleet_tpm = 14,
        .gemini_rpm = 21,
        .gemini_tpm = 22,
        .gemini_fleet_rpm = 23,
        .gemini_fleet_tpm = 24,
    };
}

static void test_the_chain_follows_ai_providers_in_order(void **unused)
{
    (void)unused;
    bf_worker_config_t cfg = settings(" gemini , anthropic,openai ");
    static char marker;
    const bf_prompts_t *prompts = (const void *)&marker; /* borrowed, never read */
    bf_ai_config_t out;
    char errstr[256] = "";
    assert_int_equal(
        bf_worker_ai_config(&cfg, prompts, NULL, NULL, &out, errstr, sizeof(errstr)),
        BF_OK);
    assert_ptr_equal(out.prompts, prompts);
    assert_int_equal(out.retries, 3);
    assert_true(out.timeout_s == 12.5);
    assert_int_equal(out.n_providers, 3);

    /* Each link with its own provider's settings (those of settings()). */
    static const struct {
        bf_ai_provider_t provider;
        const char *base_url, *api_key, *model;
        double rpm, tpm, fleet_rpm, fleet_tpm;
    } want[] = {
        {BF_AI_GEMINI, "http://gemini.test", "key-gemini", "gemini-test", 21, 22, 23, 24},
        {BF_AI_ANTHROPIC, "http://anthropic.test", "key-anthropic", "claude-test", 11, 12,
         13, 14},
        {BF_AI_OPENAI, "http://openai.test/v1", "key-openai", "gpt-test", 1, 2, 3, 4},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const bf_ai_provider_config_t *pc = &out.providers[i];
        assert_int_equal(pc->provider, want[i].provider);
        assert_string_equal(pc->base_url, want[i].base_url);
        assert_string_equal(pc->api_key, want[i].api_key);
        assert_string_equal(pc->model, want[i].model);
        assert_true(pc->rpm == want[i].rpm && pc->tpm == want[i].tpm);
        assert_true(pc->fleet_rpm == want[i].fleet_rpm &&
                    pc->fleet_tpm == want[i].fleet_tpm);
    }
}

static void test_unset_or_empty_ai_providers_means_openai(void **unused)
{
    (void)unused;
    char empty[] = "";
    char *lists[] = {NULL, empty};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        bf_worker_config_t cfg = settings(lists[i]);
        bf_ai_config_t out;
        char errstr[256] = "";
        assert_int_equal(
            bf_worker_ai_config(&cfg, NULL, NULL, NULL, &out, errstr, sizeof(errstr)),
            BF_OK);
        assert_int_equal(out.n_providers, 1);
        assert_int_equal(out.providers[0].provider, BF_AI_OPENAI);
        assert_string_equal(out.providers[0].api_key, "key-openai");
    }
}

/* Refused chains, each with the words its message must hold. */
static void test_bad_chains_are_refused_naming_the_setting(void **unused)
{
    (void)unused;
    static const struct {
        const char *providers, *says;
    } cases[] = {
        {"openai,mistral", "unknown provider 'mistral'"},
        {"OpenAI ", "unknown provider 'OpenAI'"}, /* names are lower case */
        {"openai,,gemini", "unknown provider ''"},
        {" , ", "unknown provider ''"},
        {",", "unknown provider ''"},
        {"openai,anthropic,gemini,openai", "named twice"},
        {"openai,openai", "openai is named twice"},
        {"anthropic, openai ,anthropic", "anthropic is named twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char list[64];
        snprintf(list, sizeof(list), "%s", cases[i].providers);
        bf_worker_config_t cfg = settings(list);
        bf_ai_config_t out;
        char errstr[256] = "";
        bf_err_t err =
            bf_worker_ai_config(&cfg, NULL, NULL, NULL, &out, errstr, sizeof(errstr));
        if (err != BF_ERR_CONFIG)
            fail_msg("'%s': %s, want BF_ERR_CONFIG", cases[i].providers,
                     bf_err_name(err));
        if (!strstr(errstr, "AI_PROVIDERS") || !strstr(errstr, cases[i].says))
            fail_msg("'%s': \"%s\" does not say AI_PROVIDERS and \"%s\"",
                     cases[i].providers, errstr, cases[i].says);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_chain_follows_ai_providers_in_order),
        cmocka_unit_test(test_unset_or_empty_ai_providers_means_openai),
        cmocka_unit_test(test_bad_chains_are_refused_naming_the_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
