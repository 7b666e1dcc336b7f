/*
 * server.h - the AI simulator's HTTP server (libmicrohttpd).
 *
 * Endpoints:
 *   POST /v1/chat/completions  OpenAI Chat Completions; the answer is a
 *                              verdict derived from the report (verdict.h)
 *   POST /v1/messages          Anthropic Messages (providers.h)
 *   POST /v1beta/models/M:generateContent   Gemini (providers.h)
 *   POST /v1beta/models/M:streamGenerateContent   Gemini, streamed (SSE)
 * OpenAI and Anthropic requests with "stream": true are answered as
 * server-sent events, the way each provider streams.
 *   GET  /debug/requests       the last requests received (capture.h)
 *   GET  /v1/models            the one model the simulator lists
 *   GET  /stats                counters as JSON (stats.h)
 *   POST /stats/reset          zero the counters
 *   GET  /faults               the injected-fault rates now in force
 *   POST /faults               change them while running (a JSON object with
 *                              any of error_rate, error_status, timeout_rate,
 *                              malformed_rate, bad_answer_rate), so a test
 *                              can make the provider fail in bursts; needs
 *                              the API key when one is set
 *   GET  /healthz              200 "ok"
 * Anything else is a 404 (405 for a known path with the wrong method) with
 * an OpenAI-style JSON error.
 *
 * Latency is simulated without a thread per request: a delayed request is
 * suspended (MHD_suspend_connection) and the timer thread (timers.h)
 * resumes it when it is due, so thousands of held requests cost only
 * their connection and a heap entry.
 */
#ifndef BF_AISIM_SERVER_H
#define BF_AISIM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bf_aisim_server_s bf_aisim_server_t;

typedef struct bf_aisim_server_config_s {
    double latency_ms;     /* median latency of a completion; 0 = none */
    double latency_p99_ms; /* p99 for log-normal latency; 0 = fixed latency_ms */
    double error_rate;     /* fraction of completions answered with an error */
    unsigned error_status; /* that error's status: 429, 500, 502, 503, 504 or 529 */
    const char *model;     /* listed by /v1/models (copied) */
    uint64_t seed;         /* seeds the latency and error draws */
    const char *api_key;   /* required bearer token (copied), or NULL for any */
    size_t max_body;       /* largest request body; 413 beyond */
    size_t max_held;       /* most requests held for latency at once */
    size_t max_reports;    /* distinct report ids counted in /stats */
    unsigned threads;      /* libmicrohttpd threads; 1 = one polling thread */
    unsigned connection_limit;
    unsigned idle_timeout_s;  /* close idle connections after this long; 0 = never */
    double rpm, tpm;          /* per provider limits; 0 = unlimited */
    double burst_s;           /* bucket capacity in seconds of the rate */
    double timeout_rate;      /* fraction held until the client gives up */
    double malformed_rate;    /* fraction answered 200 with a truncated body */
    double bad_answer_rate;   /* fraction answered 200 with an answer off the schema */
    unsigned fault_providers; /* bit per provider the injected faults hit */
    size_t capture;           /* requests kept for /debug/requests */
    long cache_min_tokens; /* shortest prefix the prompt caches keep; < 0: documented */
    bool fixed_answers;    /* one verdict for every report, not derived */
    bool no_limit_headers; /* only retry-after on 429s, no x-ratelimit-* */
} bf_aisim_server_config_t;

/** @brief Is @p status one an injected error may have (429, 500, 502, 503,
 *         504 or 529)? */
bool bf_aisim_error_status_valid(unsigned status);

/**
 * @brief Start serving on @p listen_fd.
 * @param listen_fd a bound, listening TCP socket (takes ownership)
 * @returns the server, or NULL with errstr filled (the socket is closed).
 */
bf_aisim_server_t *bf_aisim_server_start(const bf_aisim_server_config_t *cfg,
                                         int listen_fd, char *errstr, size_t errstr_size);

/**
 * @brief Stop accepting, answer every held request at once, wait up to
 *        @p grace_s seconds for requests in progress to finish, then stop
 *        and free. NULL-safe.
 */
void bf_aisim_server_stop(bf_aisim_server_t *s, double grace_s);

#endif
