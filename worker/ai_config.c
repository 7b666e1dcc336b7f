/*
 * ai_config.c - from worker settings to the AI layer's chain (see
 * ai_config.h).
 */
#include "worker/ai_config.h"

#include <stdio.h>
#include <string.h>

bf_err_t bf_worker_ai_config(const bf_worker_config_t *cfg, const bf_prompts_t *prompts,
                             const bf_prices_t *prices, bf_metrics_t *metrics,
                             bf_ai_config_t *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    out->prompts = prompts;
    out->prices = prices;
    out->metrics = metrics;
    out->retries = (int)cfg->ai_retries;
    out->timeout_s = cfg->ai_timeout_s;
    const char *list =
        cfg->ai_providers && *cfg->ai_providers ? cfg->ai_providers : "openai";
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *name = p;
        while (n && *name == ' ')
            name++, n--;
        size_t len = n;
        while (len && name[len - 1] == ' ')
            len--;
        bf_ai_provider_t prov;
        if (bf_ai_provider_parse(name, len, &prov) != 0) {
            snprintf(errstr, errstr_size,
                     "AI_PROVIDERS: unknown provider '%.*s' (openai, anthropic, gemini)",
                     (int)len, name);
            return BF_ERR_CONFIG;
        }
        for (size_t i = 0; i < out->n_providers; i++) {
            if (out->providers[i].provider == prov) {
                snprintf(errstr, errstr_size, "AI_PROVIDERS: %.*s is named twice",
                         (int)len, name);
                return BF_ERR_CONFIG;
            }
        }
        bf_ai_provider_config_t *pc = &out->providers[out->n_providers++];
        pc->provider = prov;
        switch (prov) {
        case BF_AI_ANTHROPIC:
            *pc = (bf_ai_provider_config_t){prov,
                                            cfg->anthropic_base_url,
                                            cfg->anthropic_api_key,
                                            cfg->anthropic_model,
                                            cfg->anthropic_rpm,
                                            cfg->anthropic_tpm,
                                            cfg->anthropic_fleet_rpm,
                                            cfg->anthropic_fleet_tpm};
            break;
        case BF_AI_GEMINI:
            *pc = (bf_ai_provider_config_t){prov,
                                            cfg->gemini_base_url,
                                            cfg->gemini_api_key,
                                            cfg->gemini_model,
                                            cfg->gemini_rpm,
                                            cfg->gemini_tpm,
                                            cfg->gemini_fleet_rpm,
                                            cfg->gemini_fleet_tpm};
            break;
        default:
            *pc = (bf_ai_provider_config_t){prov,
                                            cfg->ai_base_url,
                                            cfg->ai_api_key,
                                            cfg->ai_model,
                                            cfg->openai_rpm,
                                            cfg->openai_tpm,
                                            cfg->openai_fleet_rpm,
                                            cfg->openai_fleet_tpm};
            break;
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    if (out->n_providers == 0) {
        snprintf(errstr, errstr_size, "AI_PROVIDERS: name at least one provider");
        return BF_ERR_CONFIG;
    }
    return BF_OK;
}
