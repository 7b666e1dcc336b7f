/*
 * ai_fixture.h - test support for the AI layer (worker/ai.h): the AI
 * simulator as a child process and the layer on a loop of its own, with
 * what its analyses reported. Used by the tests/integration/test_ai*.c
 * stories.
 */
#ifndef BF_TEST_AI_FIXTURE_H
#define BF_TEST_AI_FIXTURE_H

#include <jansson.h>
#include <uv.h>

#include "libbf/http.h"
#include "libbf/redis.h"
#include "support/stack.h"
#include "worker/ai.h"

/* The key the simulator is started with (AISIM_API_KEY) and the layer sends. */
#define BF_AITEST_API_KEY "sk-test-key"
/* Layers (workers) one run holds at most. */
#define BF_AITEST_LAYERS 4

typedef struct bf_aitest_sim_s {
    char tmpdir[256];
    bf_proc_t proc;
    char root[200]; /* http://127.0.0.1:PORT */
} bf_aitest_sim_t;

/* The layer on its own loop, and the outcomes it reported. */
typedef struct bf_aitest_run_s {
    uv_loop_t loop;
    bf_http_t *http;
    bf_ai_t *ai;                       /* the first layer (a worker) */
    bf_ai_t *layers[BF_AITEST_LAYERS]; /* opts.layers of them, ai first */
    int n_layers;
    bf_redis_t *redis;        /* the response cache's connection, or NULL */
    bf_redis_t *limits_redis; /* the shared limits' connection, or NULL */
    int done, ok, target, cached;
    int max_attempts;     /* the most attempts one analysis made */
    int breaker_waits;    /* summed over the analyses */
    int throttled;        /* 429s met, summed */
    const char *fixed_id; /* every analysis of this one report, when set */
    double deadline_s;    /* per analysis, from its start; 0 none */
    long tokens_in, tokens_out, tokens_cached;
    double cost;
    char last_provider[32];
    char last_error[600];
    char last_fallback[600];
} bf_aitest_run_t;

/* How a test configures the layer; zeroes are the defaults below. */
typedef struct bf_aitest_opts_s {
    double rpm, tpm;
    int retries;
    double timeout_s;                   /* 0: 10 s */
    const bf_breaker_config_t *breaker; /* NULL: never opens */
    const char *api_key;                /* NULL: the right one */
    bf_metrics_t *metrics;
    const char *redis_url;       /* a response cache, or NULL */
    double fleet_rpm, fleet_tpm; /* the account's limits, shared through limits_url */
    const char *limits_url;      /* Redis of the shared limits, or NULL */
    const char *worker_id;       /* who takes from them; NULL: "test" */
    int layers; /* layers on the one loop, as workers w1.. (analyses go round
                   them); 0: one */
    const char *bases[BF_AI__COUNT]; /* a provider's base URL; NULL: the simulator */
} bf_aitest_opts_t;

/** @brief Start the simulator with @p args (NULL-terminated, may be NULL). */
void bf_aitest_sim_start(bf_aitest_sim_t *s, const char *const args[]);
/** @brief Stop it and remove its directory. */
void bf_aitest_sim_stop(bf_aitest_sim_t *s);
/** @brief GET @p path of the simulator as JSON (caller decrefs). */
json_t *bf_aitest_sim_get(const bf_aitest_sim_t *s, const char *path);
/** @brief /stats by_provider.PROVIDER.FIELD. */
long long bf_aitest_sim_count(const bf_aitest_sim_t *s, const char *provider,
                              const char *field);
/** @brief /stats by_provider.PROVIDER.by_status.STATUS. */
long long bf_aitest_sim_status(const bf_aitest_sim_t *s, const char *provider,
                               const char *status);

/** @brief The model the fixture configures for @p p (priced in its table). */
const char *bf_aitest_model_of(bf_ai_provider_t p);
/** @brief The price table of the fixture's layers: one model per provider,
 *         in provider order. */
const bf_prices_t *bf_aitest_prices(void);
/** @brief A timer callback that stops its loop (a watchdog). */
void bf_aitest_stop_loop(uv_timer_t *t);

/** @brief A layer on its own loop for a chain of @p n providers on @p s. */
void bf_aitest_run_open(bf_aitest_run_t *r, const bf_aitest_sim_t *s,
                        const bf_ai_provider_t *chain, size_t n,
                        const bf_aitest_opts_t *o);
/** @brief The layer's bf_ai_done_cb (opaque: the run). */
void bf_aitest_on_result(const bf_ai_result_t *res, void *opaque);
/** @brief Start @p n analyses (kinds in turn, distinct reports unless
 *         fixed_id) and run the loop until all have settled. */
void bf_aitest_run_analyses(bf_aitest_run_t *r, int n);
/** @brief Run the loop until @p target analyses have settled
 *         (bf_aitest_on_result counts them), or fail after a generous
 *         watchdog. */
void bf_aitest_run_wait(bf_aitest_run_t *r, int target);
/** @brief Destroy the layer and its clients and close the loop. */
void bf_aitest_run_close(bf_aitest_run_t *r);

/** @brief A redis-server on a free port in @p dir, its URL in @p url. */
void bf_aitest_redis_start(bf_proc_t *p, const char *dir, char *url, size_t url_size);

#endif
