/*
 * registry.c - Confluent Schema Registry client (see registry.h).
 *
 * The REST API used, and the parsing of its answers, are described in
 * registry_answer.h; this file does the HTTP and the caching. Error bodies
 * ({"error_code": N, "message": "..."}) go into errstr.
 *
 * Caches are plain arrays searched linearly: a deployment knows a handful
 * of schemas. Each is bounded (MAX_CACHED) so that a stream of distinct
 * bad ids cannot grow memory; past the bound the oldest negative entry is
 * reused, and positive entries, which are few, simply stop being added.
 */
#include "libbf/clock.h"
#include "libbf/registry.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/buf.h"
#include "libbf/config.h"
#include "libbf/http.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "libbf/registry_answer.h"

#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define ACCEPT                                                                           \
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, "      \
    "application/json"
/* A schema is a few KiB; an error page a few hundred bytes. */
#define MAX_RESPONSE (1024 * 1024)
#define MAX_CACHED   1024
#define MAX_URLS     8

typedef struct id_entry_s {
    int32_t id;
    char *schema; /* NULL: known to be unknown until expires */
    double expires;
} id_entry_t;

typedef struct subject_entry_s {
    char *subject;
    char *schema;
    int32_t id;
} subject_entry_t;

struct bf_registry_s {
    char *urls[MAX_URLS]; /* without a trailing slash */
    size_t n_urls;
    char *user_info;
    double timeout_s, connect_timeout_s, negative_ttl_s, retry_after_s;
    CURL *easy;
    double down_until; /* transport failure: fail fast until then */
    char down_reason[256];
    bool transient; /* the last request failed in a way worth retrying */
    id_entry_t ids[MAX_CACHED];
    size_t n_ids, next_evict;
    subject_entry_t subjects[MAX_CACHED];
    size_t n_subjects;
    uint64_t requests;
};

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
    reg->user_info =
        opts->user_info && *opts->user_info ? bf_strdup(opts->user_info) : NULL;
    reg->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 5.0;
    reg->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 2.0;
    reg->negative_ttl_s = opts->negative_ttl_s > 0 ? opts->negative_ttl_s : 30.0;
    reg->retry_after_s = opts->retry_after_s > 0 ? opts->retry_after_s : 5.0;
    if (!(reg->easy = curl_easy_init())) {
        bf_seterr(BF_ERR_HTTP, errstr, errstr_size,
                  "schema registry: curl_easy_init failed");
        bf_registry_destroy(reg);
        return NULL;
    }
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

void bf_registry_destroy(bf_registry_t *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n_urls; i++)
        free(reg->urls[i]);
    if (reg->user_info) {
        memset(reg->user_info, 0, strlen(reg->user_info));
        free(reg->user_info);
    }
    for (size_t i = 0; i < reg->n_ids; i++)
        free(reg->ids[i].schema);
    for (size_t i = 0; i < reg->n_subjects; i++) {
        free(reg->subjects[i].subject);
        free(reg->subjects[i].schema);
    }
    if (reg->easy)
        curl_easy_cleanup(reg->easy);
    free(reg);
}

uint64_t bf_registry_requests(const bf_registry_t *reg)
{
    return reg ? reg->requests : 0;
}

/* ------------------------------------------------------------------------
 * One request
 */

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    bf_buf_t *b = opaque;
    size_t n = size * nmemb;
    return bf_buf_append(b, data, n) == BF_OK ? n : 0; /* 0 aborts the transfer */
}

/* Send @p method @p path (with @p body, may be NULL) to the registry, trying
 * each URL until one answers. On BF_OK *status is the HTTP status and
 * @p resp (initialised by the caller, bounded) holds the body. */
static bf_err_t request(bf_registry_t *reg, const char *method, const char *path,
                        const char *body, long *status, bf_buf_t *resp, char *errstr,
                        size_t errstr_size)
{
    *status = 0;
    reg->transient = true; /* until the registry answers otherwise */
    if (bf_monotonic_s() < reg->down_until)
        return bf_seterr(BF_ERR_HTTP, errstr, errstr_size,
                         "schema registry unreachable (retrying in a few seconds): %s",
                         reg->down_reason);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: " CONTENT_TYPE);
    headers = curl_slist_append(headers, "Accept: " ACCEPT);
    char cerr[CURL_ERROR_SIZE] = "";
    CURLcode rc = CURLE_COULDNT_CONNECT;
    for (size_t i = 0; i < reg->n_urls; i++) {
        char *url = bf_asprintf("%s%s", reg->urls[i], path);
        CURL *e = reg->easy;
        curl_easy_reset(e);
        cerr[0] = '\0';
        bf_buf_reset(resp);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(reg->timeout_s * 1000));
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(reg->connect_timeout_s * 1000));
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
        if (reg->user_info) {
            curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(e, CURLOPT_USERPWD, reg->user_info);
        }
        reg->requests++;
        rc = curl_easy_perform(e);
        if (bf_log_level_get() >= BF_LOG_DEBUG) {
            /* A URL may carry credentials (https://user:pass@host). */
            char shown[512];
            bf_http_url_redact(url, shown, sizeof(shown));
            bf_log(BF_LOG_DEBUG, "registry", "request", BF_LSTR("method", method),
                   BF_LSTR("url", shown), BF_LINT("curl_code", rc));
        }
        free(url);
        /* Only a failure to reach this URL moves on to the next one; a
         * response (or a timeout after sending) is the registry's answer. */
        if (rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST)
            break;
    }
    curl_slist_free_all(headers);
    bf_err_t err = BF_OK;
    if (rc != CURLE_OK) {
        err = rc == CURLE_OPERATION_TIMEDOUT ? BF_ERR_TIMEOUT
              : rc == CURLE_WRITE_ERROR      ? BF_ERR_TOO_LARGE
                                             : BF_ERR_HTTP;
        snprintf(reg->down_reason, sizeof(reg->down_reason), "%s",
                 cerr[0] ? cerr : curl_easy_strerror(rc));
        reg->down_until = bf_monotonic_s() + reg->retry_after_s;
        reg->transient = err != BF_ERR_TOO_LARGE;
        bf_seterr(err, errstr, errstr_size, "schema registry %s %s: %s", method, path,
                  reg->down_reason);
        bf_log(BF_LOG_WARN, "registry", "unreachable", BF_LSTR("path", path),
               BF_LSTR("error", reg->down_reason));
    } else {
        curl_easy_getinfo(reg->easy, CURLINFO_RESPONSE_CODE, status);
        reg->transient = *status >= 500 || *status == 429;
        if (*status >= 300) {
            char why[320];
            bf_registry_error_describe(resp->data, resp->len, *status, why, sizeof(why));
            bf_seterr(BF_ERR_HTTP, errstr, errstr_size, "schema registry %s %s: %s",
                      method, path, why);
        }
    }
    return err;
}

static bf_err_t registry_error(long status, bf_err_t refused)
{
    if (status == 404)
        return BF_ERR_NOT_FOUND;
    if (status == 409 || status == 422)
        return refused;
    return BF_ERR_HTTP;
}

/* request(), then the body of a 2xx answer parsed as the answer to @p call
 * into @p answer (registry_answer.h). BF_OK with *status >= 300 is the
 * registry's refusal, described in errstr. */
static bf_err_t ask(bf_registry_t *reg, const char *method, const char *path,
                    const char *body, bf_registry_call_t call, long *status,
                    bf_registry_answer_t *answer, char *errstr, size_t errstr_size)
{
    memset(answer, 0, sizeof(*answer));
    bf_buf_t resp;
    bf_buf_init(&resp, MAX_RESPONSE);
    bf_err_t err = request(reg, method, path, body, status, &resp, errstr, errstr_size);
    if (err == BF_OK && *status < 300) {
        char why[256];
        err =
            bf_registry_answer_parse(call, resp.data, resp.len, answer, why, sizeof(why));
        if (err)
            bf_seterr(err, errstr, errstr_size, "schema registry %s %s: %s", method, path,
                      why);
    }
    bf_buf_free(&resp);
    return err;
}

/* ------------------------------------------------------------------------
 * Register and look up
 */

/* Cache what the registry said about @p id (@p schema NULL: unknown).
 * Full, it recycles a negative entry (the one closest to expiry), else a
 * positive one in turn: a deployment knows a handful of schemas, so that
 * only happens under a stream of distinct ids, which must not grow memory. */
static const id_entry_t *remember_id(bf_registry_t *reg, int32_t id, const char *schema)
{
    id_entry_t *e = NULL;
    for (size_t i = 0; i < reg->n_ids && !e; i++)
        if (reg->ids[i].id == id)
            e = &reg->ids[i];
    if (!e && reg->n_ids < MAX_CACHED)
        e = &reg->ids[reg->n_ids++];
    if (!e) { /* full */
        for (size_t i = 0; i < reg->n_ids; i++)
            if (!reg->ids[i].schema && (!e || reg->ids[i].expires < e->expires))
                e = &reg->ids[i];
        if (!e)
            e = &reg->ids[reg->next_evict++ % MAX_CACHED];
    }
    free(e->schema);
    e->id = id;
    e->schema = schema ? bf_strdup(schema) : NULL;
    e->expires = schema ? 0 : bf_monotonic_s() + reg->negative_ttl_s;
    return e;
}

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
    char *escaped = curl_easy_escape(reg->easy, subject, 0);
    char *path = bf_asprintf("/subjects/%s/versions", escaped ? escaped : "");
    curl_free(escaped);
    json_t *req = json_pack("{s:s}", "schema", schema_json);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    long status = 0;
    bf_registry_answer_t answer;
    bf_err_t err = body ? ask(reg, "POST", path, body, BF_REGISTRY_CALL_REGISTER, &status,
                              &answer, errstr, errstr_size)
                        : bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                                    "schema registry: schema is not valid UTF-8 text");
    free(body);
    if (err == BF_OK && status >= 300) {
        err = registry_error(status, BF_ERR_SCHEMA);
    } else if (err == BF_OK) {
        *id = answer.id;
        if (reg->n_subjects < MAX_CACHED) {
            subject_entry_t *s = &reg->subjects[reg->n_subjects++];
            s->subject = bf_strdup(subject);
            s->schema = bf_strdup(schema_json);
            s->id = *id;
        }
        remember_id(reg, *id, schema_json);
        bf_log(BF_LOG_INFO, "registry", "schema_registered", BF_LSTR("subject", subject),
               BF_LINT("id", *id));
    }
    bf_registry_answer_free(&answer);
    free(path);
    return err;
}

bf_err_t bf_registry_schema_by_id(bf_registry_t *reg, int32_t id,
                                  const char **schema_json, char *errstr,
                                  size_t errstr_size)
{
    if (!reg || !schema_json || id < 0)
        return bf_seterr(BF_ERR_INVALID_ARG, errstr, errstr_size,
                         "schema registry: no client or a negative id");
    *schema_json = NULL;
    reg->transient = false;
    for (size_t i = 0; i < reg->n_ids; i++) {
        id_entry_t *e = &reg->ids[i];
        if (e->id != id)
            continue;
        if (e->schema) {
            *schema_json = e->schema;
            return BF_OK;
        }
        if (bf_monotonic_s() < e->expires)
            return bf_seterr(BF_ERR_NOT_FOUND, errstr, errstr_size,
                             "schema registry: schema id %d not found (cached answer)",
                             (int)id);
        break;
    }
    char path[64];
    snprintf(path, sizeof(path), "/schemas/ids/%d", (int)id);
    long status;
    bf_registry_answer_t answer;
    bf_err_t err = ask(reg, "GET", path, NULL, BF_REGISTRY_CALL_SCHEMA_BY_ID, &status,
                       &answer, errstr, errstr_size);
    if (err == BF_OK && status >= 300) {
        err = registry_error(status, BF_ERR_HTTP);
        if (err == BF_ERR_NOT_FOUND)
            remember_id(reg, id, NULL);
    } else if (err == BF_OK) {
        *schema_json = remember_id(reg, id, answer.schema)->schema;
    }
    bf_registry_answer_free(&answer);
    return err;
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
    char *escaped = curl_easy_escape(reg->easy, subject, 0);
    char *path = bf_asprintf("/subjects/%s/versions", escaped ? escaped : "");
    curl_free(escaped);
    long status = 0;
    bf_registry_answer_t versions;
    bf_err_t err = ask(reg, "GET", path, NULL, BF_REGISTRY_CALL_VERSIONS, &status,
                       &versions, errstr, errstr_size);
    if (err == BF_OK && status == 404)
        err = BF_OK; /* nothing registered yet */
    else if (err == BF_OK && status >= 300)
        err = BF_ERR_HTTP;
    /* The latest BF_REGISTRY_MAX_VERSIONS, one request each. */
    for (size_t i = 0; err == BF_OK && status < 300 && i < versions.n_versions; i++) {
        bf_registry_answer_t answer;
        char *vpath = bf_asprintf("%s/%lld", path, (long long)versions.version[i]);
        err = ask(reg, "GET", vpath, NULL, BF_REGISTRY_CALL_VERSION, &status, &answer,
                  errstr, errstr_size);
        if (err == BF_OK && status >= 300) {
            err = BF_ERR_HTTP;
        } else if (err == BF_OK) {
            char why[256] = "";
            remember_id(reg, answer.id, answer.schema);
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
        free(vpath);
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

bool bf_registry_failed_transiently(const bf_registry_t *reg)
{
    return reg && reg->transient;
}

void bf_registry_set_timeouts(bf_registry_t *reg, double timeout_s,
                              double connect_timeout_s)
{
    if (timeout_s > 0)
        reg->timeout_s = timeout_s;
    if (connect_timeout_s > 0)
        reg->connect_timeout_s = connect_timeout_s;
}
