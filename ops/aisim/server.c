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
#include "libbf/log.h"
#include "libbf/mem.h"
#include "openai.h"
#include "stats.h"
#include "timers.h"
#include "verdict.h"

struct bf_aisim_server_s {
    bf_aisim_server_config_t cfg; /* model and api_key point at the copies below */
    char *model;
    char *api_key;
    struct MHD_Daemon *mhd;
    bf_aisim_timers_t *timers;
    bf_aisim_stats_t *stats;
    atomic_uint_fast64_t seq;      /* requests seen: indexes the random draws */
    atomic_int_fast64_t in_flight; /* requests between first call and completion */
    uint64_t id_salt;              /* makes ids differ between runs */
};

typedef enum route_e {
    ROUTE_CHAT,
    ROUTE_MODELS,
    ROUTE_STATS,
    ROUTE_STATS_RESET,
    ROUTE_HEALTH,
    ROUTE_BAD_METHOD,
    ROUTE_NOT_FOUND,
} route_t;

typedef struct request_s {
    bf_aisim_server_t *srv;
    struct MHD_Connection *conn;
    route_t route;
    char line[160]; /* "POST /v1/..." for 404 messages */
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
    set_answer(rq, err->status, "application/json", bf_aisim_error_to_json(err));
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

/* OpenAI authenticates with "Authorization: Bearer <key>". The key is
 * never logged or echoed. @returns true if the request may proceed. */
static bool authorized(request_t *rq)
{
    const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    bf_aisim_error_t err;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        bf_aisim_error_set(
            &err, 401, "invalid_request_error", NULL, NULL,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer "
            "YOUR_KEY).");
        set_error(rq, &err);
        return false;
    }
    if (rq->srv->api_key && !same_secret(h + 7, rq->srv->api_key)) {
        bf_aisim_error_set(&err, 401, "invalid_request_error", NULL, "invalid_api_key",
                           "Incorrect API key provided.");
        set_error(rq, &err);
        return false;
    }
    return true;
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

/* The completion: parse, derive the verdict, wrap it as a completion. */
static void answer_chat(request_t *rq)
{
    bf_aisim_server_t *srv = rq->srv;
    bf_aisim_error_t err;
    bf_aisim_chat_t chat;
    rq->count_in_stats = true;
    if (rq->too_large) {
        bf_aisim_error_set(&err, 413, "invalid_request_error", NULL, "request_too_large",
                           "Request body too large: the limit is %zu bytes.",
                           srv->cfg.max_body);
        set_error(rq, &err);
        return;
    }
    if (!authorized(rq))
        return;
    if (bf_aisim_chat_parse(rq->body.data ? rq->body.data : "", rq->body.len, &chat,
                            &err)) {
        set_error(rq, &err);
        return;
    }
    if (uniform(srv->cfg.seed, rq->seq, 3) < srv->cfg.error_rate) {
        set_injected_error(rq, srv->cfg.error_status);
        bf_aisim_chat_clear(&chat);
        return;
    }
    size_t report_len;
    const char *report_text =
        bf_aisim_report_extract(chat.user_text, strlen(chat.user_text), &report_len);
    bf_aisim_report_t report;
    bf_aisim_verdict_t verdict;
    bf_aisim_report_parse(report_text, report_len, &report);
    bf_aisim_verdict_derive(chat.kind, &report, &verdict);
    char *content = bf_aisim_verdict_to_json(chat.kind, &verdict);

    char id[48];
    make_id(id, sizeof(id), "chatcmpl-", srv->id_salt, rq->seq, 1);
    rq->outcome = (bf_aisim_outcome_t){
        .status = 200,
        .kind = chat.kind,
        .prompt_tokens = bf_aisim_tokens_estimate(chat.prompt_bytes),
        .completion_tokens = bf_aisim_tokens_estimate(strlen(content)),
    };
    rq->report_id = report.report_id; /* taken over from the report */
    report.report_id = NULL;
    rq->outcome.report_id = rq->report_id;
    set_answer(rq, 200, "application/json",
               bf_aisim_completion_to_json(id, chat.model, (int64_t)time(NULL), content,
                                           rq->outcome.prompt_tokens,
                                           rq->outcome.completion_tokens));
    free(content);
    bf_aisim_report_clear(&report);
    bf_aisim_chat_clear(&chat);
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
        answer_chat(rq);
        break;
    case ROUTE_MODELS:
        answer_models(rq);
        break;
    case ROUTE_STATS:
        set_answer(rq, 200, "application/json", bf_aisim_stats_to_json(rq->srv->stats));
        break;
    case ROUTE_STATS_RESET:
        bf_aisim_stats_reset(rq->srv->stats);
        set_answer(rq, 200, "application/json", bf_strdup("{\"reset\":true}"));
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
    MHD_add_response_header(resp, "openai-processing-ms", ms);
    if (rq->retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
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

static route_t route_of(const char *method, const char *url)
{
    static const struct {
        const char *method, *path;
        route_t route;
    } routes[] = {
        {"POST", "/v1/chat/completions", ROUTE_CHAT},
        {"GET", "/v1/models", ROUTE_MODELS},
        {"GET", "/stats", ROUTE_STATS},
        {"POST", "/stats/reset", ROUTE_STATS_RESET},
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

static request_t *request_new(bf_aisim_server_t *srv, struct MHD_Connection *conn,
                              const char *method, const char *url)
{
    request_t *rq = bf_calloc(1, sizeof(*rq));
    rq->srv = srv;
    rq->conn = conn;
    rq->started_ns = bf_aisim_now_ns();
    rq->seq = atomic_fetch_add(&srv->seq, 1);
    rq->route = route_of(method, url);
    snprintf(rq->line, sizeof(rq->line), "%s %s", method, url);
    make_id(rq->request_id, sizeof(rq->request_id), "req_", srv->id_salt, rq->seq, 0);
    /* Only a completion has a body worth reading; other bodies are dropped. */
    bf_buf_init(&rq->body, rq->route == ROUTE_CHAT ? srv->cfg.max_body : 0);
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
            rq->too_large = rq->route == ROUTE_CHAT;
            bf_buf_free(&rq->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!rq->prepared) {
        rq->prepared = true;
        prepare_answer(rq);
        bf_buf_free(&rq->body);
        uint64_t delay = rq->route == ROUTE_CHAT ? latency_ns(&srv->cfg, rq->seq) : 0;
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
    free(rq->answer);
    free(rq->report_id);
    free(rq);
    *req_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

/* libmicrohttpd's own error messages, into our log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    bf_log(BF_LOG_WARN, "mhd", "error", BF_LSTR("msg", msg));
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                            */

static void server_free(bf_aisim_server_t *s)
{
    bf_aisim_timers_destroy(s->timers);
    bf_aisim_stats_destroy(s->stats);
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
    s->stats = bf_aisim_stats_new(cfg->max_reports);
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
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cfg->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)cfg->idle_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_ARRAY, pool, MHD_OPTION_END);
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
