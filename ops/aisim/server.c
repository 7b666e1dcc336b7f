/*
 * server.c - HTTP routes and the request life cycle of the AI simulator
 * (see server.h).
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in (we allocate the request state), once per chunk
 * of body (we append it, bounded), and once more with no data when the
 * body is complete. On that last call we compute the whole answer at once;
 * a completion that must wait for its simulated latency is suspended and
 * handed to the timer thread, which resumes it when due, and libmicrohttpd
 * then calls the handler a final time, where the prepared answer is queued.
 * The request state is freed in the "request completed" callback, which
 * libmicrohttpd calls exactly once per request, whether it succeeded or
 * the client went away.
 *
 * @locality every function here runs on a libmicrohttpd thread, except
 * resume_held() (timer thread) and the start/stop functions (caller).
 */
#include "server.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "libbf/buf.h"
#include "libbf/httpd.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "capture.h"
#include "limits.h"
#include "openai.h"
#include "prompt_cache.h"
#include "providers.h"
#include "stats.h"
#include "timers.h"
#include "verdict.h"

/* Prompt prefixes the simulated prompt caches hold (prompt_cache.h). */
#define PROMPT_CACHE_SLOTS 16384
/* Largest body POST /faults reads: a handful of numbers. */
#define FAULTS_MAX_BODY 4096

/* The injected-fault rates in force. They start as the flags say and POST
 * /faults changes them while requests are being answered, so every
 * completion reads one consistent copy under faults_lock. */
typedef struct faults_s {
    double error_rate;
    unsigned error_status;
    double timeout_rate;
    double malformed_rate;
    double bad_answer_rate;
} faults_t;

struct bf_aisim_server_s {
    bf_aisim_server_config_t cfg; /* model and api_key point at the copies below */
    char *model;
    char *api_key;
    /* --answers fixed: each kind's verdict as JSON, made once at start (the
     * same text for every request of the kind). */
    char *fixed_content[BF_AISIM_KIND__COUNT];
    struct MHD_Daemon *mhd;
    bf_aisim_timers_t *timers;
    bf_aisim_stats_t *stats;
    bf_aisim_limits_t *limits;
    bf_aisim_capture_t *capture;
    pthread_mutex_t faults_lock; /* guards faults */
    faults_t faults;
    bf_aisim_prompt_cache_t *prompt_cache;
    atomic_uint_fast64_t seq;      /* requests seen: indexes the random draws */
    atomic_int_fast64_t in_flight; /* requests between first call and completion */
    uint64_t id_salt;              /* makes ids differ between runs */
};

/* An injected timeout holds the request this long (or until shutdown). */
#define TIMEOUT_HOLD_MS 3600000.0

typedef enum route_e {
    ROUTE_CHAT,
    ROUTE_MESSAGES,
    ROUTE_GEMINI,
    ROUTE_DEBUG_REQUESTS,
    ROUTE_METRICS,
    ROUTE_MODELS,
    ROUTE_STATS,
    ROUTE_STATS_RESET,
    ROUTE_FAULTS,
    ROUTE_FAULTS_SET,
    ROUTE_HEALTH,
    ROUTE_BAD_METHOD,
    ROUTE_NOT_FOUND,
} route_t;

typedef struct request_s {
    bf_aisim_server_t *srv;
    struct MHD_Connection *conn;
    route_t route;
    bf_aisim_provider_t provider;
    char gemini_model[128]; /* from the URL of a Gemini request */
    bool gemini_stream;     /* :streamGenerateContent */
    json_t *captured;       /* this request for /debug/requests (owned) */
    bf_aisim_limit_t limit; /* rate-limit state for the headers */
    bool hold_forever;      /* an injected timeout */
    char line[160];         /* "POST /v1/..." for 404 messages */
    uint64_t seq;
    uint64_t started_ns;
    bf_buf_t body;
    bool too_large;
    bool prepared; /* the answer below is ready */
    bool held;     /* suspended until the timer resumes it */
    unsigned status;
    const char *content_type;
    char *answer; /* owned until queued */
    size_t answer_len;
    bool retry_after;
    bool count_in_stats; /* a chat completion: record its outcome */
    bf_aisim_outcome_t outcome;
    char *report_id; /* owned; outcome.report_id points here */
    char request_id[40];
} request_t;

/* ------------------------------------------------------------------------ */
/* Deterministic draws                                                       */

/* SplitMix64 (Steele, Lea, Flood 2014): a bijective mixer, so the draws of
 * request n with seed s are a pure function of (s, n). */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Uniform in [0, 1): draw @p k of request @p seq. */
static double uniform(uint64_t seed, uint64_t seq, unsigned k)
{
    return (double)(mix64(seed ^ mix64(seq * 8 + k)) >> 11) * 0x1.0p-53;
}

/* z of the 99th percentile of the standard normal distribution. */
#define Z99 2.326347874040841
/* Log-normal draws are cut at this multiple of p99 so that one unlucky
 * draw cannot hold a request for hours. */
#define LATENCY_CAP_P99 5.0

/*
 * Latency of request @p seq in nanoseconds. Fixed at the median unless a
 * p99 is given; then log-normal: ln(latency) ~ N(ln(median), sigma) with
 * sigma chosen so that the 99th percentile is p99, which is the shape
 * measured LLM API latencies have (a long right tail).
 */
static uint64_t latency_ns(const bf_aisim_server_config_t *cfg, uint64_t seq)
{
    double ms = cfg->latency_ms;
    if (ms <= 0)
        return 0;
    if (cfg->latency_p99_ms > cfg->latency_ms) {
        double sigma = log(cfg->latency_p99_ms / cfg->latency_ms) / Z99;
        double u1 = uniform(cfg->seed, seq, 1), u2 = uniform(cfg->seed, seq, 2);
        double z = sqrt(-2.0 * log(u1 > 0 ? u1 : 0x1.0p-53)) * cos(2.0 * M_PI * u2);
        ms =
            fmin(cfg->latency_ms * exp(sigma * z), LATENCY_CAP_P99 * cfg->latency_p99_ms);
    }
    return (uint64_t)(ms * 1e6);
}

/* ------------------------------------------------------------------------ */
/* Answers                                                                   */

static void set_answer(request_t *rq, unsigned status, const char *content_type,
                       char *body)
{
    rq->status = status;
    rq->content_type = content_type;
    rq->answer = body;
    rq->answer_len = strlen(body);
}

static void set_error(request_t *rq, const bf_aisim_error_t *err)
{
    set_answer(rq, err->status, "application/json",
               bf_aisim_error_to_json_for(rq->provider, err));
    rq->outcome.status = err->status;
}

/* The error an injected failure answers with, worded like the real API's. */
static void set_injected_error(request_t *rq, unsigned status)
{
    bf_aisim_error_t err;
    if (status == 429) {
        bf_aisim_error_set(
            &err, 429, "requests", "", "rate_limit_exceeded",
            "Rate limit reached for requests (simulated). Please try again "
            "in 1s.");
        rq->retry_after = true;
    } else if (status == 529) {
        bf_aisim_error_set(&err, 529, "overloaded_error", NULL, NULL,
                           "Overloaded (simulated)");
    } else if (status == 500) {
        bf_aisim_error_set(&err, 500, "server_error", NULL, NULL,
                           "The server had an error while processing your request. Sorry "
                           "about that! (simulated)");
    } else {
        bf_aisim_error_set(&err, status, "server_error", NULL, NULL,
                           "The server is overloaded or not ready yet. (simulated)");
    }
    set_error(rq, &err);
}

/* Compare without an early exit, so response time says nothing about how
 * much of a guessed key was right. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* A header of this request, or NULL. */
static const char *header(request_t *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* Each API authenticates its own way, and complains in its own words:
 * OpenAI "Authorization: Bearer <key>" (401); Anthropic "x-api-key" (401
 * authentication_error) plus a required "anthropic-version" (400);
 * Gemini "x-goog-api-key" or ?key= (403 PERMISSION_DENIED when absent,
 * 400 INVALID_ARGUMENT "API key not valid" when wrong). The key is never
 * logged or echoed. @returns true if the request may proceed. */
static bool authorized(request_t *rq)
{
    bf_aisim_error_t err;
    const char *key = NULL;
    switch (rq->provider) {
    case BF_AISIM_ANTHROPIC:
        key = header(rq, "x-api-key");
        if (!key || !*key) {
            bf_aisim_error_set(&err, 401, "authentication_error", NULL, NULL,
                               "x-api-key header is required");
            break;
        }
        if (rq->srv->api_key && !same_secret(key, rq->srv->api_key)) {
            bf_aisim_error_set(&err, 401, "authentication_error", NULL, NULL,
                               "invalid x-api-key");
            break;
        }
        if (!header(rq, "anthropic-version")) {
            bf_aisim_error_set(&err, 400, "invalid_request_error", NULL, NULL,
                               "anthropic-version: header is required");
            break;
        }
        return true;
    case BF_AISIM_GEMINI:
        key = header(rq, "x-goog-api-key");
        if (!key)
            key = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "key");
        if (!key || !*key) {
            bf_aisim_error_set(
                &err, 403, "PERMISSION_DENIED", NULL, NULL,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to "
                "call this API.");
            break;
        }
        if (rq->srv->api_key && !same_secret(key, rq->srv->api_key)) {
            bf_aisim_error_set(&err, 400, "INVALID_ARGUMENT", NULL, NULL,
                               "API key not valid. Please pass a valid API key.");
            break;
        }
        return true;
    default:
        key = header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!key || strncasecmp(key, "Bearer ", 7) != 0 || key[7] == '\0') {
            bf_aisim_error_set(
                &err, 401, "invalid_request_error", NULL, NULL,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                "YOUR_KEY).");
            break;
        }
        if (rq->srv->api_key && !same_secret(key + 7, rq->srv->api_key)) {
            bf_aisim_error_set(&err, 401, "invalid_request_error", NULL,
                               "invalid_api_key", "Incorrect API key provided.");
            break;
        }
        return true;
    }
    set_error(rq, &err);
    return false;
}

/* A 24-hex-digit id for @p purpose (0 request id, 1 completion id) of
 * request @p seq; the salt makes ids differ between runs. */
static void make_id(char *out, size_t size, const char *prefix, uint64_t salt,
                    uint64_t seq, unsigned purpose)
{
    uint64_t a = mix64(salt ^ mix64(seq * 4 + purpose));
    snprintf(out, size, "%s%016llx%08llx", prefix, (unsigned long long)a,
             (unsigned long long)(mix64(a) & 0xffffffffu));
}

/* Is provider p a target of the injected faults? */
static bool faulty(const bf_aisim_server_t *srv, bf_aisim_provider_t p)
{
    return (srv->cfg.fault_providers & (1u << p)) != 0;
}

static faults_t faults_now(bf_aisim_server_t *srv)
{
    pthread_mutex_lock(&srv->faults_lock);
    faults_t f = srv->faults;
    pthread_mutex_unlock(&srv->faults_lock);
    return f;
}

bool bf_aisim_error_status_valid(unsigned status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504 || status == 529;
}

/* A completion of any of the three APIs: validate, rate-limit, maybe
 * inject a fault, derive the verdict and wrap it in the provider's answer. */
static void answer_chat(request_t *rq)
{
    bf_aisim_server_t *srv = rq->srv;
    const faults_t faults = faults_now(srv);
    bf_aisim_error_t err;
    bf_aisim_request_t req;
    memset(&req, 0, sizeof(req));
    rq->count_in_stats = true;
    rq->outcome.provider = rq->provider;
    if (rq->too_large) {
        bf_aisim_error_set(&err, 413, "invalid_request_error", NULL, "request_too_large",
                           "Request body too large: the limit is %zu bytes.",
                           srv->cfg.max_body);
        set_error(rq, &err);
        return;
    }
    if (!authorized(rq))
        return;
    const char *body = rq->body.data ? rq->body.data : "";
    bf_err_t perr;
    if (rq->provider == BF_AISIM_ANTHROPIC)
        perr = bf_aisim_anthropic_parse(body, rq->body.len, &req, &err);
    else if (rq->provider == BF_AISIM_GEMINI)
        perr = bf_aisim_gemini_parse(rq->gemini_model, body, rq->body.len, &req, &err);
    else if (srv->cfg.fixed_answers)
        perr = bf_aisim_chat_skim(body, rq->body.len, &req.chat, &err);
    else
        perr = bf_aisim_chat_parse(body, rq->body.len, &req.chat, &err);
    if (perr) {
        set_error(rq, &err);
        return;
    }
    size_t report_len;
    const char *report_text = bf_aisim_report_extract(
        req.chat.user_text, strlen(req.chat.user_text), &report_len);
    bf_aisim_report_t report;
    bf_aisim_verdict_t verdict;
    if (srv->cfg.fixed_answers && srv->cfg.max_reports == 0) {
        /* Nothing looks at the report: neither the verdict nor /stats. */
        memset(&report, 0, sizeof(report));
        bf_aisim_verdict_fixed(req.chat.kind, &verdict);
    } else {
        bf_aisim_report_parse(report_text, report_len, &report);
        if (srv->cfg.fixed_answers)
            bf_aisim_verdict_fixed(req.chat.kind, &verdict);
        else
            bf_aisim_verdict_derive(req.chat.kind, &report, &verdict);
    }
    char *content = srv->cfg.fixed_answers
                        ? bf_strdup(srv->fixed_content[req.chat.kind])
                        : bf_aisim_verdict_to_json(req.chat.kind, &verdict);
    /* An injected bad answer: well-formed, billed, but off the schema
     * (score out of range), as a model that ignores the schema answers. */
    double bad_draw = uniform(srv->cfg.seed, rq->seq, 4);
    if (faulty(srv, rq->provider) && bad_draw < faults.bad_answer_rate) {
        free(content);
        content = bf_strdup("{\"score\":7,\"confidence\":0.5,\"reasons\":[\"simulated "
                            "answer off the schema\"]}");
    }

    /* Usage. The prompt caches follow each provider's rules
     * (prompt_cache.h); an entry this request writes is readable once its
     * answer begins, after its latency. Anthropic reports uncached input
     * apart from cache reads and writes, OpenAI and Gemini include both. */
    int64_t prompt = bf_aisim_tokens_estimate(req.chat.prompt_bytes);
    bf_aisim_usage_t usage = {.input = prompt,
                              .output = bf_aisim_tokens_estimate(strlen(content))};
    double now_s = (double)bf_aisim_now_ns() / 1e9;
    bf_aisim_prompt_cache_use(srv->prompt_cache, &req.chat.prefix, rq->provider,
                              req.chat.model, srv->cfg.cache_min_tokens, now_s,
                              now_s + (double)latency_ns(&srv->cfg, rq->seq) / 1e9,
                              &usage.cache_read, &usage.cache_write);
    if (usage.cache_read > prompt)
        usage.cache_read = prompt;
    if (usage.cache_write > prompt - usage.cache_read)
        usage.cache_write = prompt - usage.cache_read;
    if (rq->provider == BF_AISIM_ANTHROPIC)
        usage.input = prompt - usage.cache_read - usage.cache_write;

    bf_aisim_limits_take(srv->limits, rq->provider, prompt + usage.output,
                         (double)bf_aisim_now_ns() / 1e9, &rq->limit);
    if (!rq->limit.allowed) {
        const char *what = rq->limit.remaining_requests < 1 ? "requests" : "tokens";
        bf_aisim_error_set(&err, 429,
                           rq->provider == BF_AISIM_ANTHROPIC ? "rate_limit_error"
                                                              : "requests",
                           NULL, "rate_limit_exceeded",
                           "Rate limit reached for %s per min (simulated). Please try "
                           "again in %.3fs.",
                           what, rq->limit.retry_after_s);
        set_error(rq, &err);
        rq->retry_after = true;
        goto out;
    }
    double draw = uniform(srv->cfg.seed, rq->seq, 3);
    if (faulty(srv, rq->provider) && draw < faults.error_rate) {
        set_injected_error(rq, faults.error_status);
        goto out;
    }
    draw -= faults.error_rate;
    if (faulty(srv, rq->provider) && draw >= 0 && draw < faults.timeout_rate) {
        rq->hold_forever = true; /* answered only when the client has given up */
        set_injected_error(rq, 503);
        goto out;
    }
    draw -= faults.timeout_rate;

    char id[48];
    make_id(id, sizeof(id),
            rq->provider == BF_AISIM_ANTHROPIC ? "msg_"
            : rq->provider == BF_AISIM_GEMINI  ? ""
                                               : "chatcmpl-",
            srv->id_salt, rq->seq, 1);
    rq->outcome = (bf_aisim_outcome_t){
        .status = 200,
        .provider = rq->provider,
        .kind = req.chat.kind,
        .prompt_tokens = prompt,
        .completion_tokens = usage.output,
        .cached_tokens = usage.cache_read,
        .cache_write_tokens = usage.cache_write,
    };
    rq->report_id = report.report_id; /* taken over from the report */
    report.report_id = NULL;
    rq->outcome.report_id = rq->report_id;
    char *answer;
    /* Read with the rest of the request (a second parse of the body for
     * this one field was half of the simulator's CPU: perf, BENCHMARKS.md). */
    bool stream = rq->provider == BF_AISIM_GEMINI ? rq->gemini_stream : req.chat.stream;
    if (stream)
        answer = bf_aisim_stream_answer(rq->provider, id, &req, content, &usage,
                                        (int64_t)time(NULL));
    else if (rq->provider == BF_AISIM_ANTHROPIC)
        answer = bf_aisim_anthropic_answer(id, &req, content, &usage);
    else if (rq->provider == BF_AISIM_GEMINI)
        answer = bf_aisim_gemini_answer(id, &req, content, &usage);
    else
        answer =
            bf_aisim_completion_to_json(id, req.chat.model, (int64_t)time(NULL), content,
                                        prompt, usage.output, usage.cache_read);
    if (faulty(srv, rq->provider) && draw >= 0 && draw < faults.malformed_rate) {
        /* A body cut in half: valid HTTP, broken JSON. */
        answer[strlen(answer) / 2] = '\0';
        rq->outcome.status = 200;
    }
    set_answer(rq, 200, stream ? "text/event-stream" : "application/json", answer);
out:
    free(content);
    bf_aisim_report_clear(&report);
    bf_aisim_request_clear(&req);
}

static json_t *faults_to_json(const faults_t *f)
{
    return json_pack("{s:f, s:i, s:f, s:f, s:f}", "error_rate", f->error_rate,
                     "error_status", (int)f->error_status, "timeout_rate",
                     f->timeout_rate, "malformed_rate", f->malformed_rate,
                     "bad_answer_rate", f->bad_answer_rate);
}

/* A rate field of a POST /faults body: absent keeps @p out, otherwise a
 * number in [0, 1]. */
static bool fault_rate(json_t *body, const char *name, double *out, bf_aisim_error_t *err)
{
    json_t *v = json_object_get(body, name);
    if (!v)
        return true;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
        bf_aisim_error_set(err, 400, "invalid_request_error", name, "invalid_value",
                           "%s must be a number in [0, 1]", name);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

/*
 * GET /faults reads the injected-fault rates, POST /faults changes any of
 * them at once: {"error_rate":1,"error_status":503} starts an outage,
 * {"error_rate":0} ends it. Fields left out keep their value; the same
 * rules as the flags apply (error_status one of 429, 500, 502, 503, 504,
 * 529; error + timeout + malformed rates at most 1). When the simulator
 * has an API key, this needs it too (OpenAI's bearer header), so a shared
 * simulator cannot be broken by whoever reaches its port.
 */
static void answer_faults(request_t *rq)
{
    bf_aisim_server_t *srv = rq->srv;
    bf_aisim_error_t err;
    if (srv->api_key && !authorized(rq))
        return;
    faults_t f = faults_now(srv);
    if (rq->route == ROUTE_FAULTS_SET) {
        json_t *body = rq->too_large ? NULL
                                     : json_loadb(rq->body.data ? rq->body.data : "",
                                                  rq->body.len, 0, NULL);
        const char *known[] = {"error_rate", "error_status", "timeout_rate",
                               "malformed_rate", "bad_answer_rate"};
        const char *key;
        json_t *v;
        bool ok = json_is_object(body);
        if (!ok)
            bf_aisim_error_set(&err, 400, "invalid_request_error", NULL, "invalid_json",
                               "The body must be a JSON object of at most %d bytes.",
                               FAULTS_MAX_BODY);
        json_object_foreach(ok ? body : NULL, key, v)
        {
            bool is_known = false;
            for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                is_known |= strcmp(key, known[i]) == 0;
            if (ok && !is_known) {
                bf_aisim_error_set(&err, 400, "invalid_request_error", NULL,
                                   "unknown_parameter", "Unknown field: %.64s", key);
                ok = false;
            }
        }
        ok = ok && fault_rate(body, "error_rate", &f.error_rate, &err) &&
             fault_rate(body, "timeout_rate", &f.timeout_rate, &err) &&
             fault_rate(body, "malformed_rate", &f.malformed_rate, &err) &&
             fault_rate(body, "bad_answer_rate", &f.bad_answer_rate, &err);
        json_t *status = ok ? json_object_get(body, "error_status") : NULL;
        if (status) {
            json_int_t n = json_is_integer(status) ? json_integer_value(status) : 0;
            if (n < 0 || n > 999 || !bf_aisim_error_status_valid((unsigned)n)) {
                bf_aisim_error_set(&err, 400, "invalid_request_error", "error_status",
                                   "invalid_value",
                                   "error_status must be 429, 500, 502, 503, 504 or 529");
                ok = false;
            } else {
                f.error_status = (unsigned)n;
            }
        }
        if (ok && f.error_rate + f.timeout_rate + f.malformed_rate > 1) {
            bf_aisim_error_set(&err, 400, "invalid_request_error", NULL, "invalid_value",
                               "error_rate + timeout_rate + malformed_rate must not "
                               "exceed 1");
            ok = false;
        }
        json_decref(body);
        if (!ok) {
            set_error(rq, &err);
            return;
        }
        pthread_mutex_lock(&srv->faults_lock);
        srv->faults = f;
        pthread_mutex_unlock(&srv->faults_lock);
        bf_log(BF_LOG_INFO, "aisim", "faults_set", BF_LDBL("error_rate", f.error_rate),
               BF_LINT("error_status", f.error_status),
               BF_LDBL("timeout_rate", f.timeout_rate),
               BF_LDBL("malformed_rate", f.malformed_rate),
               BF_LDBL("bad_answer_rate", f.bad_answer_rate));
    }
    json_t *j = faults_to_json(&f);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        abort(); /* allocation failure: the project's out-of-memory policy */
    set_answer(rq, 200, "application/json", text);
}

static void answer_models(request_t *rq)
{
    if (!authorized(rq))
        return;
    json_t *list = json_pack("{s:s, s:[{s:s, s:s, s:i, s:s}]}", "object", "list", "data",
                             "id", rq->srv->model, "object", "model", "created", 0,
                             "owned_by", "bountyfleet");
    char *body = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    if (!body)
        abort(); /* allocation failure: the project's out-of-memory policy */
    set_answer(rq, 200, "application/json", body);
}

static void prepare_answer(request_t *rq)
{
    bf_aisim_error_t err;
    switch (rq->route) {
    case ROUTE_CHAT:
    case ROUTE_MESSAGES:
    case ROUTE_GEMINI:
        answer_chat(rq);
        break;
    case ROUTE_METRICS:
        set_answer(rq, 200, "text/plain; version=0.0.4",
                   bf_aisim_stats_to_prometheus(rq->srv->stats));
        break;
    case ROUTE_DEBUG_REQUESTS:
        set_answer(rq, 200, "application/json",
                   bf_aisim_capture_to_json(rq->srv->capture));
        break;
    case ROUTE_MODELS:
        answer_models(rq);
        break;
    case ROUTE_STATS:
        set_answer(rq, 200, "application/json", bf_aisim_stats_to_json(rq->srv->stats));
        break;
    case ROUTE_STATS_RESET:
        bf_aisim_stats_reset(rq->srv->stats);
        bf_aisim_capture_clear(rq->srv->capture);
        bf_aisim_limits_reset(rq->srv->limits, (double)bf_aisim_now_ns() / 1e9);
        bf_aisim_prompt_cache_clear(rq->srv->prompt_cache);
        set_answer(rq, 200, "application/json", bf_strdup("{\"reset\":true}"));
        break;
    case ROUTE_FAULTS:
    case ROUTE_FAULTS_SET:
        answer_faults(rq);
        break;
    case ROUTE_HEALTH:
        set_answer(rq, 200, "text/plain", bf_strdup("ok"));
        break;
    case ROUTE_BAD_METHOD:
        bf_aisim_error_set(&err, 405, "invalid_request_error", NULL, "method_not_allowed",
                           "Method not allowed (%s)", rq->line);
        set_error(rq, &err);
        break;
    case ROUTE_NOT_FOUND:
        bf_aisim_error_set(&err, 404, "invalid_request_error", NULL, "unknown_url",
                           "Invalid URL (%s)", rq->line);
        set_error(rq, &err);
        break;
    }
}

/* OpenAI's reset durations: "250ms" under a second, else "1.5s". */
static void format_reset(char *out, size_t size, double s)
{
    if (s < 1)
        snprintf(out, size, "%dms", (int)ceil(s * 1000));
    else
        snprintf(out, size, "%.3gs", s);
}

/* RFC 3339 UTC time @p s seconds from now (Anthropic's reset headers). */
static void format_time(char *out, size_t size, double s)
{
    time_t t = time(NULL) + (time_t)ceil(s);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * Rate-limit headers the way each provider sends them. OpenAI (Rate
 * limits guide): x-ratelimit-{limit,remaining,reset}-{requests,tokens}
 * on every response. Anthropic: anthropic-ratelimit-requests-{limit,
 * remaining,reset} and -tokens-. Gemini sends none. A 429 of any of them
 * carries retry-after in whole seconds, rounded up. --rate-limit-headers
 * off leaves the provider's own headers out (a provider stand-in that only
 * refuses), so that a client must learn the limit from its 429s.
 */
static void add_limit_headers(request_t *rq, struct MHD_Response *resp)
{
    const bf_aisim_limit_t *l = &rq->limit;
    char v[64];
    if (rq->retry_after) {
        double ra = l->limited ? l->retry_after_s : 1.0;
        snprintf(v, sizeof(v), "%d", (int)ceil(ra > 0 ? ra : 1));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (!l->limited || rq->provider == BF_AISIM_GEMINI || rq->srv->cfg.no_limit_headers)
        return;
    bool oa = rq->provider == BF_AISIM_OPENAI;
    const struct {
        const char *oa, *an;
        int64_t value;
    } counts[] = {
        {"x-ratelimit-limit-requests", "anthropic-ratelimit-requests-limit",
         l->limit_requests},
        {"x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining",
         l->remaining_requests},
        {"x-ratelimit-limit-tokens", "anthropic-ratelimit-tokens-limit", l->limit_tokens},
        {"x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-remaining",
         l->remaining_tokens},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        if ((i < 2 ? l->limit_requests : l->limit_tokens) == 0)
            continue; /* that limit is not configured */
        snprintf(v, sizeof(v), "%lld", (long long)counts[i].value);
        MHD_add_response_header(resp, oa ? counts[i].oa : counts[i].an, v);
    }
    if (l->limit_requests) {
        oa ? format_reset(v, sizeof(v), l->reset_requests_s)
           : format_time(v, sizeof(v), l->reset_requests_s);
        MHD_add_response_header(
            resp,
            oa ? "x-ratelimit-reset-requests" : "anthropic-ratelimit-requests-reset", v);
    }
    if (l->limit_tokens) {
        oa ? format_reset(v, sizeof(v), l->reset_tokens_s)
           : format_time(v, sizeof(v), l->reset_tokens_s);
        MHD_add_response_header(
            resp, oa ? "x-ratelimit-reset-tokens" : "anthropic-ratelimit-tokens-reset",
            v);
    }
}

static enum MHD_Result queue_answer(request_t *rq)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(
        rq->answer_len, rq->answer, free);
    if (!resp)
        return MHD_NO;
    rq->answer = NULL; /* the response owns it now */
    char ms[32];
    snprintf(ms, sizeof(ms), "%llu",
             (unsigned long long)((bf_aisim_now_ns() - rq->started_ns) / 1000000u));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rq->content_type);
    MHD_add_response_header(resp, "x-request-id", rq->request_id);
    if (rq->provider == BF_AISIM_OPENAI)
        MHD_add_response_header(resp, "openai-processing-ms", ms);
    add_limit_headers(rq, resp);
    enum MHD_Result ret = MHD_queue_response(rq->conn, rq->status, resp);
    MHD_destroy_response(resp);
    if (rq->count_in_stats)
        bf_aisim_stats_record(rq->srv->stats, &rq->outcome);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Holding requests for their latency                                        */

/* @locality timer thread (or the stopping thread) */
static void resume_held(void *arg)
{
    request_t *rq = arg;
    bf_aisim_stats_held(rq->srv->stats, -1);
    MHD_resume_connection(rq->conn);
}

/*
 * Suspend the connection until its due time. Suspend comes first: the
 * timer may fire at once, and resuming must find the connection
 * suspended. If the timer refuses (too many held, or stopping), resume at
 * once, which answers without the delay. Either way libmicrohttpd calls
 * the handler again after the resume, and that call queues the answer.
 */
static void hold(request_t *rq, uint64_t due_ns)
{
    MHD_suspend_connection(rq->conn);
    bf_aisim_stats_held(rq->srv->stats, +1);
    bf_err_t err = bf_aisim_timers_add(rq->srv->timers, due_ns, resume_held, rq);
    if (err == BF_OK)
        return;
    bf_log(BF_LOG_DEBUG, "aisim", "not_held", BF_LSTR("reason", bf_err_str(err)));
    resume_held(rq);
}

/* ------------------------------------------------------------------------ */
/* libmicrohttpd callbacks                                                   */

static route_t route_of(const char *method, const char *url, char *model,
                        size_t model_size, bool *stream)
{
    /* Gemini: /v1beta/models/{model}:generateContent */
    static const char gprefix[] = "/v1beta/models/";
    static const char *const gsuffixes[] = {":generateContent", ":streamGenerateContent"};
    size_t ulen = strlen(url), plen = sizeof(gprefix) - 1;
    for (size_t i = 0; i < 2; i++) {
        size_t slen = strlen(gsuffixes[i]);
        if (ulen > plen + slen && strncmp(url, gprefix, plen) == 0 &&
            strcmp(url + ulen - slen, gsuffixes[i]) == 0) {
            snprintf(model, model_size, "%.*s", (int)(ulen - plen - slen), url + plen);
            *stream = i == 1;
            return strcmp(method, "POST") == 0 ? ROUTE_GEMINI : ROUTE_BAD_METHOD;
        }
    }
    static const struct {
        const char *method, *path;
        route_t route;
    } routes[] = {
        {"POST", "/v1/chat/completions", ROUTE_CHAT},
        {"POST", "/v1/messages", ROUTE_MESSAGES},
        {"GET", "/debug/requests", ROUTE_DEBUG_REQUESTS},
        {"GET", "/metrics", ROUTE_METRICS},
        {"GET", "/v1/models", ROUTE_MODELS},
        {"GET", "/stats", ROUTE_STATS},
        {"POST", "/stats/reset", ROUTE_STATS_RESET},
        {"GET", "/faults", ROUTE_FAULTS},
        {"POST", "/faults", ROUTE_FAULTS_SET},
        {"GET", "/healthz", ROUTE_HEALTH},
    };
    bool path_known = false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        if (strcmp(method, routes[i].method) == 0)
            return routes[i].route;
        path_known = true;
    }
    return path_known ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}

static bool is_completion(route_t r)
{
    return r == ROUTE_CHAT || r == ROUTE_MESSAGES || r == ROUTE_GEMINI;
}

/* Record a header for /debug/requests, names lower-cased as HTTP/2 sends
 * them; credentials are replaced by their length, never stored. */
static enum MHD_Result capture_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    char name[96];
    snprintf(name, sizeof(name), "%s", key);
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    bool secret = strcmp(name, "authorization") == 0 || strcmp(name, "x-api-key") == 0 ||
                  strcmp(name, "x-goog-api-key") == 0;
    char redacted[96];
    if (secret) {
        bool bearer = strncasecmp(value, "Bearer ", 7) == 0;
        snprintf(redacted, sizeof(redacted), "%s<redacted %zu bytes>",
                 bearer ? "Bearer " : "", strlen(value) - (bearer ? 7 : 0));
        value = redacted;
    }
    json_t *s = json_string(value);
    json_object_set_new(cls, name, s ? s : json_string("<not UTF-8>"));
    return MHD_YES;
}

static request_t *request_new(bf_aisim_server_t *srv, struct MHD_Connection *conn,
                              const char *method, const char *url)
{
    request_t *rq = bf_calloc(1, sizeof(*rq));
    rq->srv = srv;
    rq->conn = conn;
    rq->started_ns = bf_aisim_now_ns();
    rq->seq = atomic_fetch_add(&srv->seq, 1);
    rq->route = route_of(method, url, rq->gemini_model, sizeof(rq->gemini_model),
                         &rq->gemini_stream);
    rq->provider = rq->route == ROUTE_MESSAGES ? BF_AISIM_ANTHROPIC
                   : rq->route == ROUTE_GEMINI ? BF_AISIM_GEMINI
                                               : BF_AISIM_OPENAI;
    if (is_completion(rq->route) && srv->cfg.capture > 0) {
        rq->captured = json_pack("{s:s, s:s, s:s, s:o}", "provider",
                                 bf_aisim_provider_name(rq->provider), "method", method,
                                 "path", url, "headers", json_object());
        MHD_get_connection_values(conn, MHD_HEADER_KIND, capture_header,
                                  json_object_get(rq->captured, "headers"));
    }
    snprintf(rq->line, sizeof(rq->line), "%s %s", method, url);
    make_id(rq->request_id, sizeof(rq->request_id), "req_", srv->id_salt, rq->seq, 0);
    /* Only a completion or a fault setting has a body worth reading; other
     * bodies are dropped. */
    bf_buf_init(&rq->body, is_completion(rq->route)        ? srv->cfg.max_body
                           : rq->route == ROUTE_FAULTS_SET ? FAULTS_MAX_BODY
                                                           : 0);
    atomic_fetch_add(&srv->in_flight, 1);
    return rq;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    bf_aisim_server_t *srv = cls;
    request_t *rq = *req_cls;
    if (!rq) {
        *req_cls = request_new(srv, conn, method, url);
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* Past the limit we keep reading but drop the bytes, so the client
         * gets its 413 instead of a reset connection. */
        if (!rq->too_large && bf_buf_append(&rq->body, upload_data, *upload_data_size)) {
            rq->too_large = is_completion(rq->route) || rq->route == ROUTE_FAULTS_SET;
            bf_buf_free(&rq->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!rq->prepared) {
        rq->prepared = true;
        if (rq->captured) {
            json_t *body =
                json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, 0, NULL);
            if (!body)
                body = json_stringn_nocheck(rq->body.data ? rq->body.data : "",
                                            rq->body.len);
            json_object_set_new(rq->captured, "body", body);
            bf_aisim_capture_add(srv->capture, rq->captured);
            rq->captured = NULL;
        }
        prepare_answer(rq);
        bf_buf_free(&rq->body);
        uint64_t delay = is_completion(rq->route) ? latency_ns(&srv->cfg, rq->seq) : 0;
        if (rq->hold_forever)
            delay = (uint64_t)(TIMEOUT_HOLD_MS * 1e6);
        if (delay) {
            hold(rq, rq->started_ns + delay);
            return MHD_YES;
        }
    }
    return queue_answer(rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    bf_aisim_server_t *srv = cls;
    request_t *rq = *req_cls;
    if (!rq)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        bf_log(BF_LOG_DEBUG, "aisim", "request_aborted", BF_LSTR("request", rq->line),
               BF_LINT("code", toe));
    bf_buf_free(&rq->body);
    json_decref(rq->captured);
    free(rq->answer);
    free(rq->report_id);
    free(rq);
    *req_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                            */

static void server_free(bf_aisim_server_t *s)
{
    bf_aisim_timers_destroy(s->timers);
    bf_aisim_stats_destroy(s->stats);
    bf_aisim_limits_destroy(s->limits);
    bf_aisim_capture_destroy(s->capture);
    bf_aisim_prompt_cache_destroy(s->prompt_cache);
    pthread_mutex_destroy(&s->faults_lock);
    for (int k = 0; k < BF_AISIM_KIND__COUNT; k++)
        free(s->fixed_content[k]);
    free(s->model);
    free(s->api_key);
    free(s);
}

bf_aisim_server_t *bf_aisim_server_start(const bf_aisim_server_config_t *cfg,
                                         int listen_fd, char *errstr, size_t errstr_size)
{
    bf_aisim_server_t *s = bf_calloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->model = bf_strdup(cfg->model);
    s->api_key = bf_strdup(cfg->api_key);
    s->cfg.model = s->model;
    s->cfg.api_key = s->api_key;
    s->id_salt = mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    for (int k = 0; cfg->fixed_answers && k < BF_AISIM_KIND__COUNT; k++) {
        bf_aisim_verdict_t v;
        bf_aisim_verdict_fixed((bf_aisim_kind_t)k, &v);
        s->fixed_content[k] = bf_aisim_verdict_to_json((bf_aisim_kind_t)k, &v);
    }
    s->stats = bf_aisim_stats_new(cfg->max_reports);
    s->limits = bf_aisim_limits_new(cfg->rpm, cfg->tpm, cfg->burst_s);
    s->capture = bf_aisim_capture_new(cfg->capture);
    s->prompt_cache = bf_aisim_prompt_cache_new(PROMPT_CACHE_SLOTS);
    pthread_mutex_init(&s->faults_lock, NULL);
    s->faults = (faults_t){
        .error_rate = cfg->error_rate,
        .error_status = cfg->error_status,
        .timeout_rate = cfg->timeout_rate,
        .malformed_rate = cfg->malformed_rate,
        .bad_answer_rate = cfg->bad_answer_rate,
    };
    s->timers = bf_aisim_timers_new(cfg->max_held, errstr, errstr_size);
    if (!s->timers) {
        close(listen_fd);
        server_free(s);
        return NULL;
    }
    /* Internal polling thread(s) with epoll where available (MHD_USE_AUTO),
     * suspend/resume for held requests. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    /* A pool of one is no pool: libmicrohttpd warns about size 0, so the
     * option is only passed for two or more threads. */
    struct MHD_OptionItem pool[] = {
        {cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
         (intptr_t)cfg->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* The logger goes first so that it sees errors in the options after it. */
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, bf_httpd_mhd_log,
        NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->connection_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->idle_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY, pool,
        MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(errstr, errstr_size, "cannot start the HTTP server (see log)");
        close(listen_fd);
        server_free(s);
        return NULL;
    }
    return s;
}

void bf_aisim_server_stop(bf_aisim_server_t *s, double grace_s)
{
    if (!s)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    bf_aisim_timers_close(s->timers); /* every held request is resumed */
    uint64_t deadline = bf_aisim_now_ns() + (uint64_t)(grace_s * 1e9);
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    while (atomic_load(&s->in_flight) > 0 && bf_aisim_now_ns() < deadline)
        nanosleep(&tick, NULL);
    int64_t left = atomic_load(&s->in_flight);
    if (left > 0)
        bf_log(BF_LOG_WARN, "aisim", "stop_with_requests_in_flight",
               BF_LINT("count", left));
    MHD_stop_daemon(s->mhd);
    server_free(s);
}
