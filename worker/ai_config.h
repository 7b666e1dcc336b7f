/*
 * ai_config.h - the AI layer's configuration (ai.h) from the worker's
 * settings: the AI_PROVIDERS chain and each provider's URL, key, model
 * and limits.
 */
#ifndef BF_WORKER_AI_CONFIG_H
#define BF_WORKER_AI_CONFIG_H

#include "libbf/metrics.h"
#include "worker/ai.h"
#include "worker/worker.h"

/**
 * @brief Fill @p out from @p cfg. Strings in @p out borrow from @p cfg.
 * @param metrics borrowed, may be NULL
 * @returns BF_OK, or BF_ERR_CONFIG with errstr naming the setting.
 */
bf_err_t bf_worker_ai_config(const bf_worker_config_t *cfg, const bf_prompts_t *prompts,
                             const bf_prices_t *prices, bf_metrics_t *metrics,
                             bf_ai_config_t *out, char *errstr, size_t errstr_size);

#endif
