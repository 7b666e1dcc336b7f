/*
 * test_actuator_remote.c - the kubernetes actuator against a local HTTP
 * server that checks each request the way the API server would (method,
 * path, bearer token, content type, merge-patch body), and the command
 * actuator running real commands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "autoscaler/actuator.h"

#define SCALE_PATH "/apis/apps/v1/namespaces/ns1/deployments/workers/scale"
#define TOKEN      "sekret-token"

typedef struct apiserver_s {
    struct MHD_Daemon *d;
    int port;
    int64_t spec, status; /* the Deployment's replicas */
    int gets, patches, refused;
    char last_error[256];
} apiserver_t;

typedef struct upload_s {
    char buf[4096];
    size_t len;
} upload_t;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result refuse(apiserver_t *s, struct MHD_Connection *c, unsigned code,
                              const char *why)
{
    s->refused++;
    snprintf(s->last_error, sizeof(s->last_error), "%s", why);
    char body[512];
    snprintf(
        body, sizeof(body),
        "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"%s\",\"code\":%u}",
        why, code);
    return reply(c, code, body);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **con_cls)
{
    (void)version;
    apiserver_t *s = cls;
    upload_t *up = *con_cls;
    if (!up) {
        *con_cls = up = calloc(1, sizeof(*up));
        return up ? MHD_YES : MHD_NO;
    }
    if (*data_size) {
        size_t n = *data_size < sizeof(up->buf) - 1 - up->len
                       ? *data_size
                       : sizeof(up->buf) - 1 - up->len;
        memcpy(up->buf + up->len, data, n);
        up->len += n;
        *data_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth || strcmp(auth, "Bearer " TOKEN) != 0)
        return refuse(s, c, 401, "Unauthorized");
    if (strcmp(url, SCALE_PATH) != 0)
        return refuse(s, c, 404, "deployments.apps not found");
    char body[256];
    if (strcmp(method, "GET") == 0) {
        s->gets++;
    } else if (strcmp(method, "PATCH") == 0) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (!ct || strcmp(ct, "application/merge-patch+json") != 0)
            return refuse(s, c, 415, "the body of the request was in an unknown format");
        json_t *o = json_loads(up->buf, 0, NULL);
        json_t *spec = json_object_get(o, "spec");
        json_t *r = json_object_get(spec, "replicas");
        bool ok = json_is_object(o) && json_object_size(o) == 1 &&
                  json_object_size(spec) == 1 && json_is_integer(r) &&
                  json_integer_value(r) >= 0;
        int64_t n = ok ? json_integer_value(r) : 0;
        json_decref(o);
        if (!ok)
            return refuse(s, c, 422, "Scale.autoscaling is invalid");
        s->patches++;
        s->spec = n;
    } else {
        return refuse(s, c, 405, "method not allowed");
    }
    snprintf(body, sizeof(body),
             "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/"
             "v1\",\"spec\":{\"replicas\":%lld},"
             "\"status\":{\"replicas\":%lld,\"selector\":\"app=worker\"}}",
             (long long)s->spec, (long long)s->status);
    return reply(c, 200, body);
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static int start(void **state)
{
    apiserver_t *s = calloc(1, sizeof(*s));
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                            MHD_OPTION_NOTIFY_COMPLETED, done, s, MHD_OPTION_END);
    if (!s->d)
        return -1;
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    *state = s;
    return 0;
}

static int stop(void **state)
{
    apiserver_t *s = *state;
    MHD_stop_daemon(s->d);
    free(s);
    return 0;
}

static bf_actuator_t *k8s(apiserver_t *s, const char *token, const char *deployment)
{
    char url[64], errstr[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s->port);
    bf_actuator_conf_t conf = {.kind = "kubernetes",
                               .k8s_api_url = url,
                               .k8s_namespace = "ns1",
                               .k8s_deployment = deployment,
                               .k8s_token = token};
    bf_actuator_t *a = bf_actuator_new(&conf, errstr, sizeof(errstr));
    if (!a)
        fail_msg("%s", errstr);
    return a;
}

static void test_k8s_reads_and_patches_the_scale(void **state)
{
    apiserver_t *s = *state;
    s->spec = 3;
    s->status = 2;
    s->gets = s->patches = s->refused = 0;
    bf_actuator_t *a = k8s(s, TOKEN, "workers");
    assert_int_equal(bf_actuator_current(a), 2); /* status: running now */
    char errstr[512];
    assert_int_equal(bf_actuator_apply(a, 5, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(s->spec, 5);
    assert_int_equal(s->patches, 1);
    /* the same target again: read, no PATCH */
    assert_int_equal(bf_actuator_apply(a, 5, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(s->patches, 1);
    assert_int_equal(bf_actuator_apply(a, 0, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(s->spec, 0);
    assert_int_equal(s->refused, 0);
    bf_actuator_shutdown(a); /* leaves the Deployment alone */
    assert_int_equal(s->spec, 0);
    bf_actuator_destroy(a);
}

static void test_k8s_errors_name_the_status(void **state)
{
    apiserver_t *s = *state;
    s->refused = 0;
    char errstr[512];
    bf_actuator_t *a = k8s(s, "wrong-token", "workers");
    assert_int_equal(bf_actuator_apply(a, 4, errstr, sizeof(errstr)), BF_ERR_HTTP);
    assert_non_null(strstr(errstr, "HTTP 401: Unauthorized"));
    assert_null(strstr(errstr, "wrong-token")); /* no secret in a message */
    bf_actuator_destroy(a);

    a = k8s(s, TOKEN, "nope");
    assert_int_equal(bf_actuator_apply(a, 4, errstr, sizeof(errstr)), BF_ERR_HTTP);
    assert_non_null(strstr(errstr, "HTTP 404"));
    bf_actuator_destroy(a);
    assert_int_equal(s->refused, 2);

    /* nobody listening: a transport error, not a crash */
    bf_actuator_conf_t conf = {.kind = "kubernetes",
                               .k8s_api_url = "http://127.0.0.1:1",
                               .k8s_namespace = "ns1",
                               .k8s_deployment = "workers",
                               .k8s_token = TOKEN};
    a = bf_actuator_new(&conf, errstr, sizeof(errstr));
    assert_non_null(a);
    assert_int_equal(bf_actuator_apply(a, 1, errstr, sizeof(errstr)), BF_ERR_HTTP);
    bf_actuator_destroy(a);
}

static void test_k8s_configuration_errors(void **state)
{
    (void)state;
    char errstr[512];
    unsetenv("KUBERNETES_SERVICE_HOST");
    bf_actuator_conf_t conf = {.kind = "kubernetes", .k8s_deployment = "workers"};
    assert_null(bf_actuator_new(&conf, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "--k8s-api-url"));
    conf.k8s_deployment = NULL;
    assert_null(bf_actuator_new(&conf, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "--k8s-deployment"));
}

static void test_command_runs_with_replicas(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_actuator_cmd_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[256], errstr[512], path[300];
    snprintf(cmd, sizeof(cmd), "touch %s/replicas-{replicas}", dir);
    bf_actuator_conf_t conf = {
        .kind = "command", .command = cmd, .command_timeout_s = 10};
    bf_actuator_t *a = bf_actuator_new(&conf, errstr, sizeof(errstr));
    assert_non_null(a);
    assert_int_equal(bf_actuator_current(a), 0);
    assert_int_equal(bf_actuator_apply(a, 3, errstr, sizeof(errstr)), BF_OK);
    snprintf(path, sizeof(path), "%s/replicas-3", dir);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(bf_actuator_current(a), 3);
    /* the same count is not run again */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(bf_actuator_apply(a, 3, errstr, sizeof(errstr)), BF_OK);
    assert_int_equal(access(path, F_OK), -1);
    bf_actuator_destroy(a);
    rmdir(dir);
}

static void test_command_failures(void **state)
{
    (void)state;
    char errstr[512];
    bf_actuator_conf_t conf = {.kind = "command", .command = "false {replicas}"};
    bf_actuator_t *a = bf_actuator_new(&conf, errstr, sizeof(errstr));
    assert_int_equal(bf_actuator_apply(a, 2, errstr, sizeof(errstr)), BF_ERR_IO);
    assert_non_null(strstr(errstr, "exited with status 1"));
    assert_int_equal(bf_actuator_current(a), 0);
    bf_actuator_destroy(a);

    conf = (bf_actuator_conf_t){
        .kind = "command", .command = "sleep 30 {replicas}", .command_timeout_s = 0.2};
    a = bf_actuator_new(&conf, errstr, sizeof(errstr));
    assert_int_equal(bf_actuator_apply(a, 2, errstr, sizeof(errstr)), BF_ERR_TIMEOUT);
    assert_non_null(strstr(errstr, "killed"));
    bf_actuator_destroy(a);

    conf.command = "echo no-placeholder";
    assert_null(bf_actuator_new(&conf, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "{replicas}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k8s_reads_and_patches_the_scale),
        cmocka_unit_test(test_k8s_errors_name_the_status),
        cmocka_unit_test(test_k8s_configuration_errors),
        cmocka_unit_test(test_command_runs_with_replicas),
        cmocka_unit_test(test_command_failures),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
