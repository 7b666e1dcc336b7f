/*
 * registry.c - Confluent Schema Registry client (see registry.h).
 *
 * The REST API used, and the parsing of its answers, are described in
 * registry_answer.h; this file does the HTTP and the caching. Error bodies
 * ({"error_code": N, "message": "..."}) go into errstr.
 *
 * Every request, synchronous or not, takes the same path through this
 * file, on the asynchronous HTTP client (http.h):
 *
 *   call_new()      what to ask: method, path, body, which answer
 *   call_send()     the request to the URL being tried, with the headers
 *                   (Accept, Content-Type, Authorization), the timeouts
 *                   and the bound on the answer's size
 *   on_http_done()  a URL that could not be reached moves on to the next;
 *                   anything else is the registry's answer: settle()
 *   settle()        the answer as an error code (interpret(): an outage is
 *                   BF_ERR_UNAVAILABLE and opens the fail-fast window), a
 *                   lookup's answer cached, an asynchronous one announced
 *
 * A synchronous call (call_wait) runs that on a private libuv loop until
 * the call is settled; an asynchronous lookup runs on the attached
 * client's loop (bf_registry_attach) and settles in its callback.
 *
 * Caches are plain arrays searched linearly: a deployment knows a handful
 * of schemas. Each is bounded (MAX_CACHED) so that a stream of distinct
 * bad ids cannot grow memory; past the bound the oldest negative entry is
 * reused, and positive entries, which are few, simply stop being added.
 * Asynchronous lookups in flight are a list too, at most one per id; the
 * caller's own cap on its work in flight bounds it (the worker's
 * --max-in-flight).
 */
#include "libbf/registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "libbf/clock.h"
#include "libbf/config.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "libbf/registry_answer.h"

#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define ACCEPT                                                                           \
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, "      \
    "application/json"
#define AUTHORIZATION "Authorization: Basic "
/* A schema is a few KiB; an error page a few hundred bytes. */
#define MAX_RESPONSE (1024 * 1024)
#define MAX_CACHED   1024
#define MAX_URLS     8
/* Connections of the private client of synchronous calls: one call at a
 * time, and a spare while a failed one closes. */
#define SYNC_CONNECTIONS 2

typedef struct id_entry_s {
    int32_t id;
    char *schema; /* NULL: known to be unknown until expires */
    char *why;    /* unknown: what the registry said, for the cached answer */
    double expires;
} id_entry_t;

typedef struct subject_entry_s {
    char *subject;
    char *schema;
    int32_t id;
} subject_entry_t;

typedef struct call_s call_t;

/* One request to the registry, from call_new() until it is settled. */
struct call_s {
    bf_registry_t *reg; /* NULL once the client is destroyed: drop the answer */
    call_t *next;       /* reg->lookups, when asynchronous */
    bf_http_t *http;    /* the client it runs on */
    bf_registry_call_t kind;
    const char *method; /* static */
    char *path;         /* owned */
    char *body;         /* owned; NULL for none */
    int32_t id;         /* BF_REGISTRY_CALL_SCHEMA_BY_ID: the id looked up */
    size_t url;         /* index of the URL being asked */
    bool async;         /* an attached lookup: announced when settled */
    bool settled;       /* the outcome below is final */
    bf_err_t err;
    bf_registry_answer_t answer; /* on BF_OK */
    char errstr[320];
};

struct bf_registry_s {
    char *urls[MAX_URLS]; /* without a trailing slash */
    size_t n_urls;
    char *authorization; /* "Authorization: Basic ..." or NULL; a secret */
    double timeout_s, connect_timeout_s, negative_ttl_s, retry_after_s;
    /* Synchronous calls: a private loop and HTTP client, made on first use. */
    uv_loop_t *sync_loop;
    bf_http_t *sync_http;
    /* Asynchronous lookups (bf_registry_attach). */
    bf_http_t *http;
    bool http_closed; /* the attached client cancelled our lookups: closing */
    bf_registry_answer_cb *on_answer;
    void *answer_opaque;
    call_t *lookups;   /* in flight on http (or on a client since detached) */
    double down_until; /* an outage: fail fast until then */
    char down_reason[256];
    id_entry_t ids[MAX_CACHED];
    size_t n_ids, next_evict;
    subject_entry_t subjects[MAX_CACHED];
    size_t n_subjects;
};

/* "Authorization: Basic " + base64(user_info) (RFC 7617): sent as a header
 * rather than through curl's own basic auth, so that the synchronous and
 * the asynchronous calls build one request the same way. */
static char *basic_authorization(const char *user_info)
{
    size_t n = strlen(user_info);
    size_t prefix = sizeof(AUTHORIZATION) - 1;
    char *h = bf_malloc(prefix + 4 * ((n + 2) / 3) + 1);
    memcpy(h, AUTHORIZATION, prefix);
    EVP_EncodeBlock((unsigned char *)h + prefix, (const unsigned char *)user_info,
                    (int)n); /* NUL-terminates */
    return h;
}

bf_registry_t *bf_registry_new(const bf_registry_options_t *opts, char *errstr,
                               size_t errstr_size)
{
    if (!opts || !opts->url || !*opts->url) {
        bf_seterr(BF_ERR_CONFIG, errstr, errstr_size, "schema registry: no URL");
        return NULL;
    }
    bf_registry_t *reg = bf_calloc(1, sizeof(*reg));
    for (const char *p = opts->url; *p;) {
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == '/' || p[n - 1] == ' '))
            n--;
        while (n && *p == ' ')
            p++, n--;
        if (n) {
            char *u = bf_strndup(p, n);
            if (reg->n_urls == MAX_URLS ||
                (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)) {
                char shown[256];
                bf_http_url_redact(u, shown, sizeof(shown));
                bf_seterr(
                    BF_ERR_CONFIG, errstr, errstr_size,
                    "schema registry: '%s' is not an http(s) URL (or more than %d URLs)",
                    shown, MAX_URLS);
                free(u);
                bf_registry_destroy(reg);
                return NULL;
            }
            reg->urls[reg->n_urls++] = u;
        }
        p += strcspn(p, ",");
        p += *p == ',';
    }
    if (!reg->n_urls) {
        bf_seterr(BF_ERR_CONFIG, errstr, errstr_size, "schema registry: no URL");
        bf_registry_destroy(reg);
        return NULL;
    }
    if (opts->user_info && *opts->user_info)
        reg->authorization = basic_authorization(opts->user_info);
    reg->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 5.0;
    reg->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 2.0;
    reg->negative_ttl_s = opts->negative_ttl_s > 0 ? opts->negative_ttl_s : 30.0;
    reg->retry_after_s = opts->retry_after_s > 0 ? opts->retry_after_s : 5.0;
    return reg;
}

/* The settings of bf_registry_from_env, parsed by the config table code so
 * that the credentials get its NAME / NAME_FILE handling. */
typedef struct env_config_s {
    char *url;
    char *user_info;
    double timeout_s;
} env_config_t;

static const bf_opt_t env_opts[] = {
    {"schema-registry", 0, "SCHEMA_REGISTRY_URL", BF_OPT_STRING, NULL, 1, 0, "URL",
     "Confluent-compatible Schema Registry", offsetof(env_config_t, url)},
    {"schema-registry-user-info", 0, "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO",
     BF_OPT_SECRET, NULL, 1, 0, "USER:PASSWORD", "basic auth of the registry",
     offsetof(env_config_t, user_info)},
    {"schema-registry-timeout", 0, "SCHEMA_REGISTRY_TIMEOUT", BF_OPT_DOUBLE, "2", 0.1,
     300, "SECONDS", "timeout of one registry request",
     offsetof(env_config_t, timeout_s)},
};

bf_registry_t *bf_registry_from_env(const char *url, char *errstr, size_t errstr_size)
{
    if (errstr && errstr_size)
        errstr[0] = '\0';
    const bf_cli_t cli = {.program = "schema-registry",
                          .opts = env_opts,
                          .n_opts = sizeof(env_opts) / sizeof(env_opts[0])};
    env_config_t cfg = {0};
    char *argv[] = {"schema-registry", NULL};
    int first = 0;
    bf_registry_t *reg = NULL;
    if (bf_cli_parse(&cli, &cfg, 1, argv, NULL, &first, errstr, errstr_size) !=
        BF_CLI_RUN)
        goto out;
    if (url && *url) {
        free(cfg.url);
        cfg.url = bf_strdup(url);
    }
    if (!cfg.url || !*cfg.url)
        goto out;
    bf_registry_options_t o = {
        .url = cfg.url, .user_info = cfg.user_info, .timeout_s = cfg.timeout_s};
    reg = bf_registry_new(&o, errstr, errstr_size);
out:
    bf_cli_free(&cli, &cfg);
    return reg;
}

static void call_free(call_t *c)
{
    bf_registry_answer_free(&c->answer);
    free(c->path);
    free(c->body);
    free(c);
}

void bf_registry_destroy(bf_registry_t *reg)
{
    if (!reg)
        return;
    /* Lookups in flight complete on a loop we no longer own: each frees
     * itself when its answer comes (on_http_done). */
    for (call_t *c = reg->lookups; c; c = c->next)
        c->reg = NULL;
    if (reg->sync_http) {
        bf_http_destroy(reg->sync_http);
        uv_run(reg->sync_loop, UV_RUN_DEFAULT); /* its handles' close callbacks */
    }
    if (reg->sync_loop) {
        if (uv_loop_close(reg->sync_loop) != 0)
            bf_log(BF_LOG_WARN, "registry", "loop_busy_at_close");
        free(reg->sync_loop);
    }
    for (size_t i = 0; i < reg->n_urls; i++)
        free(reg->urls[i]);
    if (reg->authorization) {
        memset(reg->authorization, 0, strlen(reg->authorization));
        free(reg->authorization);
    }
    for (size_t i = 0; i < reg->n_ids; i++) {
        free(reg->ids[i].schema);
        free(reg->ids[i].why);
    }
    for (size_t i = 0; i < reg->n_subjects; i++) {
        free(reg->subjects[i].subject);
        free(reg->subjects[i].schema);
    }
    free(reg);
}

/* ------------------------------------------------------------------------
 * The cache of ids
 */

static id_entry_t *find_id(bf_registry_t *reg, int32_t id)
{
    for (size_t i = 0; i < reg->n_ids; i++)
        if (reg->ids[i].id == id)
            return &reg->ids[i];
    return NULL;
}

/* Cache what the registry said about @p id: its @p schema, or (NULL) that
 * it does not know it, saying @p why. Full, it recycles a negative entry
 * (the one closest to expiry), else a positive one in turn: a deployment
 * knows a handful of schemas, so that only happens under a stream of
 * distinct ids, which must not grow memory. */
static void remember_id(bf_registry_t *reg, int32_t id, const char *schema,
                        const char *why)
{
    id_entry_t *e = find_id(reg, id);
    if (!e && reg->n_ids < MAX_CACHED)
        e = &reg->ids[reg->n_ids++];
    if (!e) { /* full */
        for (size_t i = 0; i < reg->n_ids; i++)
            if (!reg->ids[i].schema && (!e || reg->ids[i].expires < e->expires))
                e = &reg->ids[i];
        if (!e)
            e = &reg->ids[reg->next_evict++ % MAX_CACHED];
    }
    /* Copied before the entry lets go of its own: either may be that. */
    char *new_schema = schema ? bf_strdup(schema) : NULL;
    char *new_why = schema ? NULL : bf_strdup(why ? why : "");
    free(e->schema);
    free(e->why);
    e->id = id;
    e->schema = new_schema;
    e->why = new_why;
    e->expires = schema ? 0 : bf_monotonic_s() + reg->negative_ttl_s;
}

/* ------------------------------------------------------------------------
 * One call
 */

/* @p path and @p body (may be NULL) are taken. */
static call_t *call_new(bf_registry_t *reg, bf_registry_call_t kind, const char *method,
                        char *path, char *body)
{
    call_t *c = bf_calloc(1, sizeof(*c));
    c->reg = reg;
    c->kind = kind;
    c->method = method;
    c->path = path;
    c->body = body;
    c->id = -1;
    return c;
}

static void on_http_done(const bf_http_response_t *resp, void *opaque);

/* Send the call to the URL it is at, on c->http. */
static bf_err_t call_send(call_t *c)
{
    bf_registry_t *reg = c->reg;
    char *url = bf_asprintf("%s%s", reg->urls[c->url], c->path);
    /* The authorization (when there is one) ends the list. */
    const char *headers[] = {"Content-Type: " CONTENT_TYPE, "Accept: " ACCEPT,
                             reg->authorization, NULL};
    const bf_http_request_t req = {.url = url,
                                   .headers = headers,
                                   .body = c->body,
                                   .body_len = c->body ? strlen(c->body) : 0,
                                   .method = c->method,
                                   .timeout_s = reg->timeout_s,
                                   .connect_timeout_s = reg->connect_timeout_s,
                                   .max_response = MAX_RESPONSE};
    bf_err_t err = bf_http_start(c->http, &req, on_http_done, c);
    if (bf_log_level_get() >= BF_LOG_DEBUG) {
        /* A URL may carry credentials (https://user:pass@host). */
        char shown[512];
        bf_http_url_redact(url, shown, sizeof(shown));
        bf_log(BF_LOG_DEBUG, "registry", "request", BF_LSTR("method", c->method),
               BF_LSTR("url", shown), BF_LBOOL("async", c->async),
               BF_LSTR("error", err ? bf_err_name(err) : ""));
    }
    free(url);
    return err;
}

/* The registry cannot answer now: fail fast for retry_after_s, so that an
 * outage costs one request per window, not one per message. */
static void outage(bf_registry_t *reg, const call_t *c, const char *reason)
{
    snprintf(reg->down_reason, sizeof(reg->down_reason), "%s", reason);
    reg->down_until = bf_monotonic_s() + reg->retry_after_s;
    bf_log(BF_LOG_WARN, "registry", "unavailable", BF_LSTR("method", c->method),
           BF_LSTR("path", c->path), BF_LSTR("error", reason),
           BF_LDBL("retry_after_s", reg->retry_after_s));
}

/* BF_ERR_UNAVAILABLE while the fail-fast window of an outage is open. */
static bf_err_t failing_fast(const bf_registry_t *reg, char *errstr, size_t errstr_size)
{
    double left = reg->down_until - bf_monotonic_s();
    if (left <= 0)
        return BF_OK;
    return bf_seterr(BF_ERR_UNAVAILABLE, errstr, errstr_size,
                     "schema registry unavailable (asked again in %.1f s): %s", left,
                     reg->down_reason);
}

/* What an HTTP outcome means, for every call: the one place where a
 * status becomes an error code. Fills c->errstr and, on BF_OK, c->answer. */
static bf_err_t interpret(bf_registry_t *reg, call_t *c, const bf_http_response_t *resp)
{
    char *errstr = c->errstr;
    size_t size = sizeof(c->errstr);
    if (resp->err == BF_ERR_STATE) /* bf_http_destroy() with the call in flight */
        return bf_seterr(BF_ERR_STATE, errstr, size,
                         "schema registry %s %s: cancelled, the HTTP client is closing",
                         c->method, c->path);
    if (resp->err == BF_ERR_TOO_LARGE) /* an answer, if not a sane one */
        return bf_seterr(BF_ERR_TOO_LARGE, errstr, size,
                         "schema registry %s %s: answer larger than %d bytes", c->method,
                         c->path, MAX_RESPONSE);
    if (resp->err != BF_OK) { /* unreachable, timed out, cut off */
        outage(reg, c, resp->error);
        return bf_seterr(BF_ERR_UNAVAILABLE, errstr, size, "schema registry %s %s: %s",
                         c->method, c->path, resp->error);
    }
    if (resp->status >= 300) {
        char why[320];
        bf_registry_error_describe(resp->body, resp->body_len, resp->status, why,
                                   sizeof(why));
        bf_seterr(BF_ERR_HTTP, errstr, size, "schema registry %s %s: %s", c->method,
                  c->path, why);
        /* 5xx: the registry's store or a proxy in front of it fails (the
         * registry answers 50001-50003 then); 429: it sheds load. */
        if (resp->status >= 500 || resp->status == 429) {
            outage(reg, c, why);
            return BF_ERR_UNAVAILABLE;
        }
        if (resp->status == 404)
            return BF_ERR_NOT_FOUND;
        if (c->kind == BF_REGISTRY_CALL_REGISTER &&
            (resp->status == 409 || resp->status == 422))
            return BF_ERR_SCHEMA; /* incompatible (409) or invalid (422) */
        return BF_ERR_HTTP;
    }
    char why[256];
    bf_err_t err = bf_registry_answer_parse(c->kind, resp->body, resp->body_len,
                                            &c->answer, why, sizeof(why));
    if (err)
        bf_seterr(err, errstr, size, "schema registry %s %s: %s", c->method, c->path,
                  why);
    return err;
}

/* The call has its answer: read it, cache a lookup's, and announce an
 * asynchronous one (freeing the call first: the callback may look up
 * again). A synchronous caller reads the outcome from the call. */
static void settle(call_t *c, const bf_http_response_t *resp)
{
    bf_registry_t *reg = c->reg;
    c->err = interpret(reg, c, resp);
    if (c->kind == BF_REGISTRY_CALL_SCHEMA_BY_ID && c->err == BF_OK)
        remember_id(reg, c->id, c->answer.schema, NULL);
    else if (c->kind == BF_REGISTRY_CALL_SCHEMA_BY_ID && c->err == BF_ERR_NOT_FOUND)
        remember_id(reg, c->id, NULL, c->errstr);
    c->settled = true;
    if (!c->async) {
        /* The answer may come within the loop's first phase (a reused
         * connection, a quick server): without a stop, the same run
         * would go on to wait for I/O that nobody expects any more. */
        uv_stop(reg->sync_loop);
        return;
    }
    for (call_t **p = &reg->lookups; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    if (c->err == BF_ERR_STATE && c->http == reg->http) {
        /* The attached client is being destroyed: never touch it again. */
        reg->http = NULL;
        reg->http_closed = true;
    }
    bf_registry_answer_cb *cb = reg->on_answer;
    void *opaque = reg->answer_opaque;
    int32_t id = c->id;
    bf_err_t err = c->err;
    char why[sizeof(c->errstr)];
    memcpy(why, c->errstr, sizeof(why));
    call_free(c);
    if (cb)
        cb(opaque, id, err, why);
}

static void on_http_done(const bf_http_response_t *resp, void *opaque)
{
    call_t *c = opaque;
    if (!c->reg) { /* the client was destroyed meanwhile */
        call_free(c);
        return;
    }
    bf_log(BF_LOG_DEBUG, "registry", "answer", BF_LSTR("method", c->method),
           BF_LSTR("path", c->path), BF_LINT("status", resp->status),
           BF_LDBL("seconds", resp->seconds),
           BF_LSTR("error", resp->error ? resp->error : ""));
    /* Only a URL that could not be reached moves on to the next: nothing
     * was sent there. A response, or a timeout after sending, is the
     * registry's answer. */
    if (resp->unreachable && c->url + 1 < c->reg->n_urls) {
        c->url++;
        if (call_send(c) == BF_OK)
            return;
    }
    settle(c, resp);
}

/* Run call @p c to its end on the private loop, for a synchronous caller:
 * the same request and the same reading of the answer as an asynchronous
 * call. @returns c->err (c->errstr says why). */
static bf_err_t call_wait(call_t *c)
{
    bf_registry_t *reg = c->reg;
    if ((c->err = failing_fast(reg, c->errstr, sizeof(c->errstr))) != BF_OK)
        return c->err;
    if (!reg->sync_loop) {
        reg->sync_loop = bf_malloc(sizeof(*reg->sync_loop));
        int rc = uv_loop_init(reg->sync_loop);
        if (rc != 0) {
            free(reg->sync_loop);
            reg->sync_loop = NULL;
            return c->err =
                       bf_seterr(BF_ERR_IO, c->errstr, sizeof(c->errstr),
                                 "schema registry: uv_loop_init: %s", uv_strerror(rc));
        }
    }
    if (!reg->sync_http) {
        char why[256] = "";
        reg->sync_http = bf_http_new(reg->sync_loop, SYNC_CONNECTIONS, why, sizeof(why));
        if (!reg->sync_http)
            return c->err = bf_seterr(BF_ERR_HTTP, c->errstr, sizeof(c->errstr),
                                      "schema registry: %s", why);
    }
    c->http = reg->sync_http;
    bf_err_t err = call_send(c);
    if (err != BF_OK)
        return c->err = bf_seterr(err, c->errstr, sizeof(c->errstr),
                                  "schema registry %s %s: the request could not start",
                                  c->method, c->path);
    /* The transfer keeps curl's timer (its timeout) active until it ends,
     * so the loop cannot run dry first; settle() stops the run. */
    while (!c->settled && uv_run(reg->sync_loop, UV_RUN_ONCE)) {
    }
    if (!c->settled) /* not expected: the request left the loop unsettled */
        return c->err = bf_seterr(BF_ERR_STATE, c->errstr, sizeof(c->errstr),
                                  "schema registry %s %s: no answer", c->method, c->path);
    return c->err;
}

/* A synchronous call: @p c (taken) run to its end; its answer handed to
 * @p answer (zeroed otherwise; bf_registry_answer_free it). */
static bf_err_t ask(call_t *c, bf_registry_answer_t *answer, char *errstr,
                    size_t errstr_size)
{
    bf_err_t err = call_wait(c);
    if (err != BF_OK)
        bf_seterr(err, errstr, errstr_size, "%s", c->errstr);
    *answer = c->answer;
    memset(&c->answer, 0, sizeof(c->answer));
    call_free(c);
    return err;
}

/* "/subjects/{subject}/versions", the subject escaped (RFC 3986). curl
 * ignores the handle of curl_easy_escape since 7.82. */
static char *versions_path(const char *subject)
{
    char *escaped = curl_easy_escape(NULL, subject, 0);
    char *path = bf_asprintf("/subjects/%s/versions", escaped ? escaped : "");
    curl_free(escaped);
    return path;
}

/* ------------------------------------------------------------------------
 * Register and look up
 */

bf_err_t bf_registry_register(bf_registry_t *reg, const char *subject,
                              const char *schema_json, int32_t *id, char *errstr,
                              size_t errstr_size)
{
    if (!reg || !subject || !*subject || !schema_json || !id)
        return bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size,
                         "schema registry: no subject or schema");
    for (size_t i = 0; i < reg->n_subjects; i++) {
        subject_entry_t *s = &reg->subjects[i];
        if (strcmp(s->subject, subject) == 0 && strcmp(s->schema, schema_json) == 0) {
            *id = s->id;
            return BF_OK;
        }
    }
    json_t *req = json_pack("{s:s}", "schema", schema_json);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                         "schema registry: schema is not valid UTF-8 text");
    bf_registry_answer_t answer;
    bf_err_t err = ask(
        call_new(reg, BF_REGISTRY_CALL_REGISTER, "POST", versions_path(subject), body),
        &answer, errstr, errstr_size);
    if (err == BF_OK) {
        *id = answer.id;
        if (reg->n_subjects < MAX_CACHED) {
            subject_entry_t *s = &reg->subjects[reg->n_subjects++];
            s->subject = bf_strdup(subject);
            s->schema = bf_strdup(schema_json);
            s->id = *id;
        }
        remember_id(reg, *id, schema_json, NULL);
        bf_log(BF_LOG_INFO, "registry", "schema_registered", BF_LSTR("subject", subject),
               BF_LINT("id", *id));
    }
    bf_registry_answer_free(&answer);
    return err;
}

/* Start the one asynchronous lookup of @p id, unless it is in flight. */
static bf_err_t lookup_async(bf_registry_t *reg, int32_t id, char *errstr,
                             size_t errstr_size)
{
    for (const call_t *c = reg->lookups; c; c = c->next)
        if (c->id == id)
            return bf_seterr(BF_ERR_PENDING, errstr, errstr_size,
                             "schema registry: schema id %d asked for, answer pending",
                             (int)id);
    call_t *c = call_new(reg, BF_REGISTRY_CALL_SCHEMA_BY_ID, "GET",
                         bf_asprintf("/schemas/ids/%d", (int)id), NULL);
    c->id = id;
    c->async = true;
    c->http = reg->http;
    bf_err_t err = call_send(c);
    if (err != BF_OK) {
        /* The client is closing (BF_ERR_STATE), or curl could not take
         * the transfer now: try again later. */
        bf_seterr(err == BF_ERR_STATE ? err : BF_ERR_UNAVAILABLE, errstr, errstr_size,
                  "schema registry GET %s: the request could not start (%s)", c->path,
                  bf_err_str(err));
        call_free(c);
        return err == BF_ERR_STATE ? err : BF_ERR_UNAVAILABLE;
    }
    c->next = reg->lookups;
    reg->lookups = c;
    return bf_seterr(BF_ERR_PENDING, errstr, errstr_size,
                     "schema registry: schema id %d asked for, answer pending", (int)id);
}

bf_err_t bf_registry_schema_by_id(bf_registry_t *reg, int32_t id,
                                  const char **schema_json, char *errstr,
                                  size_t errstr_size)
{
    if (!reg || !schema_json || id < 0)
        return bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size,
                         "schema registry: no client or a negative id");
    *schema_json = NULL;
    const id_entry_t *e = find_id(reg, id);
    if (e && e->schema) {
        *schema_json = e->schema;
        return BF_OK;
    }
    if (e && bf_monotonic_s() < e->expires)
        return bf_seterr(BF_ERR_NOT_FOUND, errstr, errstr_size, "%s", e->why);
    bf_err_t err = failing_fast(reg, errstr, errstr_size);
    if (err != BF_OK)
        return err;
    if (reg->http_closed)
        return bf_seterr(BF_ERR_STATE, errstr, errstr_size,
                         "schema registry: the HTTP client of its lookups is closed");
    if (reg->http)
        return lookup_async(reg, id, errstr, errstr_size);
    call_t *c = call_new(reg, BF_REGISTRY_CALL_SCHEMA_BY_ID, "GET",
                         bf_asprintf("/schemas/ids/%d", (int)id), NULL);
    c->id = id;
    bf_registry_answer_t answer;
    err = ask(c, &answer, errstr, errstr_size); /* settle() cached the answer */
    bf_registry_answer_free(&answer);
    if (err == BF_OK)
        *schema_json = find_id(reg, id)->schema;
    return err;
}

void bf_registry_attach(bf_registry_t *reg, bf_http_t *http,
                        bf_registry_answer_cb *on_answer, void *opaque)
{
    if (!reg)
        return;
    reg->http = http;
    reg->http_closed = false;
    reg->on_answer = http ? on_answer : NULL;
    reg->answer_opaque = http ? opaque : NULL;
}

bf_err_t bf_registry_register_for_encoding(bf_registry_t *reg, bf_codec_t *codec,
                                           bf_record_type_t type, const char *topic,
                                           int32_t *id, char *errstr, size_t errstr_size)
{
    const char *schema = bf_codec_schema_text(codec, type);
    if (!reg || !schema || !topic)
        return bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size,
                         "schema registry: no client, codec, record type or topic");
    char *subject = bf_asprintf("%s-value", topic);
    int32_t got = -1;
    bf_err_t err = bf_registry_register(reg, subject, schema, &got, errstr, errstr_size);
    free(subject);
    if (err != BF_OK)
        return err;
    /* The codec learns the id both ways: to encode, and to decode it. */
    bf_codec_set_confluent_id(codec, type, got);
    if (id)
        *id = got;
    return BF_OK;
}

bf_err_t bf_registry_preload(bf_registry_t *reg, bf_codec_t *codec, bf_record_type_t type,
                             const char *topic, size_t *learned, char *errstr,
                             size_t errstr_size)
{
    if (learned)
        *learned = 0;
    if (!reg || !codec || !topic)
        return bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size,
                         "schema registry: no client, codec or topic");
    char *subject = bf_asprintf("%s-value", topic);
    char *path = versions_path(subject);
    bf_registry_answer_t versions;
    bf_err_t err =
        ask(call_new(reg, BF_REGISTRY_CALL_VERSIONS, "GET", bf_strdup(path), NULL),
            &versions, errstr, errstr_size);
    if (err == BF_ERR_NOT_FOUND)
        err = BF_OK; /* nothing registered yet */
    /* The latest BF_REGISTRY_MAX_VERSIONS, one request each. */
    for (size_t i = 0; err == BF_OK && i < versions.n_versions; i++) {
        bf_registry_answer_t answer;
        char *vpath = bf_asprintf("%s/%lld", path, (long long)versions.version[i]);
        err = ask(call_new(reg, BF_REGISTRY_CALL_VERSION, "GET", vpath, NULL), &answer,
                  errstr, errstr_size);
        if (err == BF_OK) {
            char why[256] = "";
            remember_id(reg, answer.id, answer.schema, NULL);
            if (bf_codec_add_writer_schema(codec, type, answer.schema, answer.id, why,
                                           sizeof(why)) == BF_OK) {
                if (learned)
                    (*learned)++;
            } else {
                bf_log(BF_LOG_WARN, "registry", "version_unreadable",
                       BF_LSTR("subject", subject), BF_LINT("id", answer.id),
                       BF_LSTR("error", why));
            }
        }
        bf_registry_answer_free(&answer);
    }
    bf_registry_answer_free(&versions);
    free(path);
    free(subject);
    return err;
}

static bf_err_t lookup(void *opaque, int32_t id, const char **schema_json, char *errstr,
                       size_t errstr_size)
{
    return bf_registry_schema_by_id(opaque, id, schema_json, errstr, errstr_size);
}

void bf_registry_use_for_decoding(bf_registry_t *reg, bf_codec_t *codec)
{
    bf_codec_set_schema_lookup(codec, reg ? lookup : NULL, reg);
}
