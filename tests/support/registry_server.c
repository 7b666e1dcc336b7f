/*
 * registry_server.c - a Confluent-compatible Schema Registry for tests
 * (see registry_server.h).
 *
 * Behaviour follows the Confluent Schema Registry API reference:
 *   POST /subjects/{subject}/versions  {"schema": "..."}  -> {"id": N}
 *        the same schema text gets the same global id under any subject;
 *        registering it again under a subject returns the existing id;
 *        a body without a "schema" string, or a schema Avro cannot parse,
 *        is 422 with error_code 42201 ("Invalid schema").
 *   GET  /schemas/ids/{id}            -> {"schema": "..."}   | 404 40403
 *   GET  /subjects                    -> ["a-value", ...]
 *   GET  /subjects/{subject}/versions -> [1, 2, ...]        | 404 40401
 *   GET  /subjects/{subject}/versions/{version|latest}
 *        -> {"subject", "version", "id", "schema"}     | 404 40401 / 40402
 * A request whose Content-Type is not one the registry accepts is 415, as
 * Jersey answers it. State lives under one mutex: handlers run on MHD's
 * thread while the test thread adds schemas or counts requests.
 */
#include "support/registry_server.h"

#include <avro.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libbf/buf.h"
#include "libbf/mem.h"
#include "support/http_stub.h"

#define MAX_SCHEMAS  256
#define MAX_SUBJECTS 64
#define MAX_VERSIONS 64
#define MAX_BODY     (1024 * 1024)

typedef struct subject_s {
    char *name;
    int32_t ids[MAX_VERSIONS]; /* version v is ids[v - 1] */
    int n_versions;
} subject_t;

struct bf_test_registry_s {
    struct MHD_Daemon *daemon;
    char url[64];
    char *auth; /* "Basic <base64>" expected, or NULL */
    pthread_mutex_t lock;
    char *schemas[MAX_SCHEMAS]; /* id i + 1 */
    int n_schemas;
    subject_t subjects[MAX_SUBJECTS];
    int n_subjects;
    unsigned requests;
    int delay_ms;
    int fail_status, fail_count;
};

typedef struct answer_s {
    int status;
    json_t *body; /* owned */
} answer_t;

static answer_t error_answer(int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static answer_t error_answer(int status, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return (answer_t){status, json_pack("{s:i,s:s}", "error_code", code, "message", msg)};
}

static subject_t *find_subject(bf_test_registry_t *r, const char *name, size_t len)
{
    for (int i = 0; i < r->n_subjects; i++)
        if (strlen(r->subjects[i].name) == len &&
            strncmp(r->subjects[i].name, name, len) == 0)
            return &r->subjects[i];
    return NULL;
}

/* Register under the lock; returns the id, or -1 when a table is full. */
static int32_t add_locked(bf_test_registry_t *r, const char *subject, size_t subject_len,
                          const char *schema)
{
    int32_t id = -1;
    for (int i = 0; i < r->n_schemas && id < 0; i++)
        if (strcmp(r->schemas[i], schema) == 0)
            id = i + 1;
    if (id < 0) {
        if (r->n_schemas == MAX_SCHEMAS)
            return -1;
        r->schemas[r->n_schemas++] = bf_strdup(schema);
        id = r->n_schemas;
    }
    subject_t *s = find_subject(r, subject, subject_len);
    if (!s) {
        if (r->n_subjects == MAX_SUBJECTS)
            return -1;
        s = &r->subjects[r->n_subjects++];
        s->name = bf_strndup(subject, subject_len);
    }
    for (int v = 0; v < s->n_versions; v++)
        if (s->ids[v] == id)
            return id;
    if (s->n_versions == MAX_VERSIONS)
        return -1;
    s->ids[s->n_versions++] = id;
    return id;
}

int32_t bf_test_registry_add(bf_test_registry_t *r, const char *subject,
                             const char *schema)
{
    pthread_mutex_lock(&r->lock);
    int32_t id = add_locked(r, subject, strlen(subject), schema);
    pthread_mutex_unlock(&r->lock);
    return id;
}

static answer_t post_version(bf_test_registry_t *r, const char *subject, size_t len,
                             const char *body)
{
    json_t *req = json_loads(body, 0, NULL);
    json_t *schema = json_object_get(req, "schema");
    avro_schema_t parsed = NULL;
    answer_t a;
    if (!json_is_string(schema) ||
        avro_schema_from_json_length(json_string_value(schema),
                                     json_string_length(schema), &parsed) != 0) {
        a = error_answer(422, 42201, "Invalid schema");
    } else {
        int32_t id = add_locked(r, subject, len, json_string_value(schema));
        a = id < 0 ? error_answer(500, 50001, "Error in the backend data store")
                   : (answer_t){200, json_pack("{s:i}", "id", id)};
    }
    if (parsed)
        avro_schema_decref(parsed);
    json_decref(req);
    return a;
}

static answer_t get_version(bf_test_registry_t *r, subject_t *s, const char *version)
{
    long v = s->n_versions; /* "latest" */
    if (strcmp(version, "latest") != 0) {
        char *end = NULL;
        v = strtol(version, &end, 10);
        if (*end || end == version)
            return error_answer(422, 42202,
                                "The specified version '%s' is not a valid version id",
                                version);
    }
    if (v < 1 || v > s->n_versions)
        return error_answer(404, 40402, "Version %s not found.", version);
    int32_t id = s->ids[v - 1];
    return (answer_t){200, json_pack("{s:s,s:i,s:i,s:s}", "subject", s->name, "version",
                                     (int)v, "id", id, "schema", r->schemas[id - 1])};
}

/* Route a request; runs under the lock. */
static answer_t route(bf_test_registry_t *r, const char *method, const char *url,
                      const char *body)
{
    const char *rest;
    if (strcmp(method, "GET") == 0 && strncmp(url, "/schemas/ids/", 13) == 0) {
        char *end;
        long id = strtol(url + 13, &end, 10);
        if (*end || id < 1 || id > r->n_schemas)
            return error_answer(404, 40403, "Schema %s not found", url + 13);
        return (answer_t){200, json_pack("{s:s}", "schema", r->schemas[id - 1])};
    }
    if (strcmp(url, "/subjects") == 0 && strcmp(method, "GET") == 0) {
        json_t *list = json_array();
        for (int i = 0; i < r->n_subjects; i++)
            json_array_append_new(list, json_string(r->subjects[i].name));
        return (answer_t){200, list};
    }
    if (strncmp(url, "/subjects/", 10) == 0 && (rest = strstr(url + 10, "/versions"))) {
        const char *name = url + 10;
        size_t len = (size_t)(rest - name);
        rest += 9;
        if (strcmp(method, "POST") == 0 && *rest == '\0')
            return post_version(r, name, len, body);
        subject_t *s = find_subject(r, name, len);
        if (strcmp(method, "GET") == 0 && !s)
            return error_answer(404, 40401, "Subject '%.*s' not found.", (int)len, name);
        if (strcmp(method, "GET") == 0 && *rest == '\0') {
            json_t *list = json_array();
            for (int v = 1; v <= s->n_versions; v++)
                json_array_append_new(list, json_integer(v));
            return (answer_t){200, list};
        }
        if (strcmp(method, "GET") == 0 && *rest == '/')
            return get_version(r, s, rest + 1);
    }
    return error_answer(404, 404, "HTTP 404 Not Found");
}

static int acceptable_content_type(const char *ct)
{
    static const char *const ok[] = {"application/vnd.schemaregistry.v1+json",
                                     "application/vnd.schemaregistry+json",
                                     "application/json", "application/octet-stream"};
    if (!ct)
        return 1; /* Jersey treats a missing type as the default */
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strncmp(ct, ok[i], strlen(ok[i])) == 0)
            return 1;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    bf_test_registry_t *r = cls;
    bf_buf_t *body = *con_cls;
    if (!body) { /* first call: headers only */
        body = bf_calloc(1, sizeof(*body));
        bf_buf_init(body, MAX_BODY);
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (bf_buf_append(body, upload_data, *upload_data_size) != BF_OK)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    r->requests++;
    int delay = r->delay_ms;
    answer_t a;
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (r->auth && (!auth || strcmp(auth, r->auth) != 0))
        a = error_answer(401, 401, "Unauthorized");
    else if (r->fail_count > 0 && r->fail_count--)
        a = error_answer(r->fail_status, r->fail_status * 100 + 1, "Injected failure");
    else if (strcmp(method, "POST") == 0 &&
             !acceptable_content_type(MHD_lookup_connection_value(
                 conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
        a = error_answer(415, 415, "HTTP 415 Unsupported Media Type");
    else
        a = route(r, method, url, body->data ? body->data : "");
    pthread_mutex_unlock(&r->lock);
    if (delay > 0)
        usleep((useconds_t)delay * 1000);
    char *text = json_dumps(a.body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(a.body);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/vnd.schemaregistry.v1+json");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)a.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    bf_buf_t *body = *con_cls;
    if (body) {
        bf_buf_free(body);
        free(body);
        *con_cls = NULL;
    }
}

bf_test_registry_t *bf_test_registry_start(const char *user_info)
{
    bf_test_registry_t *r = bf_calloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    if (user_info) {
        size_t n = strlen(user_info);
        unsigned char *b64 = bf_malloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock(b64, (const unsigned char *)user_info, (int)n);
        r->auth = bf_asprintf("Basic %s", (char *)b64);
        free(b64);
    }
    r->daemon = bf_test_mhd_start(on_request, r, on_completed, r->url, sizeof(r->url));
    if (!r->daemon) {
        bf_test_registry_stop(r);
        return NULL;
    }
    return r;
}

void bf_test_registry_stop(bf_test_registry_t *r)
{
    if (!r)
        return;
    if (r->daemon)
        MHD_stop_daemon(r->daemon);
    for (int i = 0; i < r->n_schemas; i++)
        free(r->schemas[i]);
    for (int i = 0; i < r->n_subjects; i++)
        free(r->subjects[i].name);
    free(r->auth);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

const char *bf_test_registry_url(const bf_test_registry_t *r)
{
    return r->url;
}

unsigned bf_test_registry_requests(bf_test_registry_t *r)
{
    pthread_mutex_lock(&r->lock);
    unsigned n = r->requests;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void bf_test_registry_set_delay_ms(bf_test_registry_t *r, int ms)
{
    pthread_mutex_lock(&r->lock);
    r->delay_ms = ms;
    pthread_mutex_unlock(&r->lock);
}

void bf_test_registry_fail_next(bf_test_registry_t *r, int status, int count)
{
    pthread_mutex_lock(&r->lock);
    r->fail_status = status;
    r->fail_count = count;
    pthread_mutex_unlock(&r->lock);
}
