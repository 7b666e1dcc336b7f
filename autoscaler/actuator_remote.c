/*
 * actuator_remote.c - the kubernetes and command actuators (see
 * actuator_remote.h).
 *
 * Both block the control loop while they work, like the lag reading does:
 * the loop is synchronous by design (control.h), and both are bounded (a
 * 10 s deadline per API request, --command-timeout for the command).
 */
#include "autoscaler/actuator_remote.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "autoscaler/actuator_local.h"
#include "libbf/clock.h"
#include "libbf/log.h"
#include "libbf/mem.h"

/* Deadline of one API request. */
#define K8S_TIMEOUT_MS 10000L
/* Largest API answer we read (a scale object is a few hundred bytes). */
#define K8S_MAX_BODY (64 * 1024)
/* Largest token file (service-account tokens are about 1 KiB). */
#define K8S_MAX_TOKEN 16384

/* --- kubernetes ---------------------------------------------------------- */

typedef struct k8s_s {
    char *scale_url;  /* .../deployments/{name}/scale */
    char *token;      /* fixed token, or NULL to read token_file */
    char *token_file; /* the service account's token */
    char *ca_file;    /* NULL: the system's CAs */
    int64_t current;  /* last replicas read; -1 unknown */
    bool unreadable;  /* the last GET failed (logged once) */
} k8s_t;

static char *read_small_file(const char *path, size_t max)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    char *buf = bf_malloc(max + 1);
    size_t n = fread(buf, 1, max, fp);
    fclose(fp);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

void *bf_actuator_k8s_create(const bf_actuator_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
    if (!conf->k8s_deployment || !*conf->k8s_deployment) {
        snprintf(errstr, errstr_size, "the kubernetes actuator needs --k8s-deployment");
        return NULL;
    }
    char *api = NULL, *ns = NULL;
    if (conf->k8s_api_url) {
        api = bf_strdup(conf->k8s_api_url);
    } else {
        const char *host = getenv("KUBERNETES_SERVICE_HOST");
        const char *port = getenv("KUBERNETES_SERVICE_PORT");
        if (!host || !port) {
            snprintf(errstr, errstr_size,
                     "the kubernetes actuator needs --k8s-api-url outside a pod "
                     "(KUBERNETES_SERVICE_HOST/PORT are not set)");
            return NULL;
        }
        /* an IPv6 service address needs brackets in a URL */
        api = strchr(host, ':') ? bf_asprintf("https://[%s]:%s", host, port)
                                : bf_asprintf("https://%s:%s", host, port);
    }
    size_t n = strlen(api);
    while (n > 0 && api[n - 1] == '/')
        api[--n] = '\0';
    ns = conf->k8s_namespace ? bf_strdup(conf->k8s_namespace)
                             : read_small_file(BF_K8S_SA_DIR "/namespace", 256);
    if (!ns || !*ns) {
        snprintf(errstr, errstr_size,
                 "the kubernetes actuator needs --k8s-namespace (no %s/namespace)",
                 BF_K8S_SA_DIR);
        free(api);
        free(ns);
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    k8s_t *k = bf_calloc(1, sizeof(*k));
    CURL *esc = curl_easy_init();
    char *ens = esc ? curl_easy_escape(esc, ns, 0) : NULL;
    char *edep = esc ? curl_easy_escape(esc, conf->k8s_deployment, 0) : NULL;
    if (!ens || !edep)
        abort(); /* only fails without memory */
    k->scale_url =
        bf_asprintf("%s/apis/apps/v1/namespaces/%s/deployments/%s/scale", api, ens, edep);
    curl_free(ens);
    curl_free(edep);
    curl_easy_cleanup(esc);
    k->token = bf_strdup(conf->k8s_token);
    if (!k->token)
        k->token_file = bf_strdup(BF_K8S_SA_DIR "/token");
    k->ca_file = bf_strdup(conf->k8s_ca_file);
    if (!k->ca_file && !conf->k8s_api_url)
        k->ca_file = bf_strdup(BF_K8S_SA_DIR "/ca.crt");
    k->current = -1;
    free(api);
    free(ns);
    return k;
}

void bf_actuator_k8s_destroy(void *self)
{
    k8s_t *k = self;
    if (!k)
        return;
    free(k->scale_url);
    free(k->token);
    free(k->token_file);
    free(k->ca_file);
    free(k);
}

typedef struct body_s {
    char *data;
    size_t len;
    bool too_large;
} body_t;

static size_t collect(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    body_t *b = opaque;
    size_t n = size * nmemb;
    if (b->len + n > K8S_MAX_BODY) {
        b->too_large = true;
        return 0; /* makes curl fail the transfer */
    }
    b->data = bf_realloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* One request to the scale subresource; on 2xx *spec is the answer's
 * spec.replicas and *running its status.replicas (spec.replicas without a
 * status). */
static bf_err_t k8s_request(k8s_t *k, const char *method, const char *body, int64_t *spec,
                            int64_t *running, char *errstr, size_t errstr_size)
{
    bf_err_t err = BF_ERR_HTTP;
    char *token =
        k->token ? bf_strdup(k->token) : read_small_file(k->token_file, K8S_MAX_TOKEN);
    if (!token) {
        snprintf(errstr, errstr_size, "cannot read the service-account token %s: %s",
                 k->token_file, strerror(errno));
        return BF_ERR_CONFIG;
    }
    char *auth = bf_asprintf("Authorization: Bearer %s", token);
    free(token);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body)
        headers =
            curl_slist_append(headers, "Content-Type: application/merge-patch+json");
    body_t resp = {0};
    CURL *c = curl_easy_init();
    if (!c || !headers)
        abort();
    curl_easy_setopt(c, CURLOPT_URL, k->scale_url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, K8S_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (k->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_file);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        snprintf(errstr, errstr_size, "%s %s: %s", method, k->scale_url,
                 resp.too_large ? "answer too large" : curl_easy_strerror(rc));
        err = rc == CURLE_OPERATION_TIMEDOUT ? BF_ERR_TIMEOUT : BF_ERR_HTTP;
        goto out;
    }
    if (status < 200 || status > 299) {
        /* the API server's Status object says why in "message" */
        json_t *st = resp.data ? json_loads(resp.data, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(st, "message"));
        snprintf(errstr, errstr_size, "%s %s: HTTP %ld%s%s", method, k->scale_url, status,
                 msg ? ": " : "", msg ? msg : "");
        json_decref(st);
        goto out;
    }
    json_t *o = resp.data ? json_loads(resp.data, 0, NULL) : NULL;
    json_t *sp = json_object_get(json_object_get(o, "spec"), "replicas");
    json_t *st = json_object_get(json_object_get(o, "status"), "replicas");
    if (!json_is_integer(sp)) {
        snprintf(errstr, errstr_size, "%s %s: the answer has no spec.replicas", method,
                 k->scale_url);
        err = BF_ERR_PARSE;
        json_decref(o);
        goto out;
    }
    *spec = json_integer_value(sp);
    *running = json_is_integer(st) ? json_integer_value(st) : *spec;
    json_decref(o);
    err = BF_OK;
out:
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    free(auth);
    free(resp.data);
    return err;
}

int64_t bf_actuator_k8s_current(void *self)
{
    k8s_t *k = self;
    char errstr[512];
    int64_t spec, replicas;
    bf_err_t err = k8s_request(k, "GET", NULL, &spec, &replicas, errstr, sizeof(errstr));
    if (err) {
        if (!k->unreadable) /* once per run of failures, not every tick */
            bf_log(BF_LOG_WARN, "autoscaler", "k8s_scale_unreadable",
                   BF_LSTR("error", errstr),
                   BF_LINT("assuming", k->current > 0 ? k->current : 0));
        k->unreadable = true;
        return k->current > 0 ? k->current : 0;
    }
    k->unreadable = false;
    k->current = replicas;
    return replicas;
}

bf_err_t bf_actuator_k8s_apply(void *self, int64_t target, char *errstr,
                               size_t errstr_size)
{
    k8s_t *k = self;
    int64_t spec, running;
    /* GET first: the PATCH only when the Deployment asks for another count,
     * so re-applying the target every tick costs one read. The spec is what
     * we set, so compare with it, not with the pods already running. */
    bf_err_t err = k8s_request(k, "GET", NULL, &spec, &running, errstr, errstr_size);
    if (err || spec == target)
        return err;
    char *body = bf_asprintf("{\"spec\":{\"replicas\":%lld}}", (long long)target);
    err = k8s_request(k, "PATCH", body, &spec, &running, errstr, errstr_size);
    free(body);
    return err;
}

/* --- command ------------------------------------------------------------- */

typedef struct command_s {
    char **argv;      /* the template split into words */
    double timeout_s; /* kill the command after this */
    int64_t applied;  /* last count applied successfully; -1 none */
} command_t;

void *bf_actuator_command_create(const bf_actuator_conf_t *conf, char *errstr,
                                 size_t errstr_size)
{
    char **argv = conf->command ? bf_actuator_local_argv_split(conf->command) : NULL;
    if (!argv) {
        snprintf(
            errstr, errstr_size,
            "the command actuator needs --scale-command \"PATH ARGS... {replicas}\"");
        return NULL;
    }
    bool has = false;
    for (char **a = argv; *a; a++)
        has = has || strstr(*a, "{replicas}");
    if (!has) {
        bf_actuator_local_argv_free(argv);
        snprintf(errstr, errstr_size, "--scale-command has no {replicas} to replace");
        return NULL;
    }
    command_t *c = bf_calloc(1, sizeof(*c));
    c->argv = argv;
    c->timeout_s = conf->command_timeout_s > 0 ? conf->command_timeout_s : 60;
    c->applied = -1;
    return c;
}

void bf_actuator_command_destroy(void *self)
{
    command_t *c = self;
    if (!c)
        return;
    bf_actuator_local_argv_free(c->argv);
    free(c);
}

int64_t bf_actuator_command_current(void *self)
{
    command_t *c = self;
    return c->applied > 0 ? c->applied : 0;
}

/* @p word with every {replicas} replaced by @p n; malloc'd. */
static char *substitute(const char *word, int64_t n)
{
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)n);
    size_t len = 0;
    for (const char *p = word; *p;)
        if (strncmp(p, "{replicas}", 10) == 0)
            len += strlen(num), p += 10;
        else
            len++, p++;
    char *out = bf_malloc(len + 1), *o = out;
    for (const char *p = word; *p;)
        if (strncmp(p, "{replicas}", 10) == 0) {
            memcpy(o, num, strlen(num));
            o += strlen(num);
            p += 10;
        } else {
            *o++ = *p++;
        }
    *o = '\0';
    return out;
}

bf_err_t bf_actuator_command_apply(void *self, int64_t target, char *errstr,
                                   size_t errstr_size)
{
    command_t *c = self;
    if (target == c->applied)
        return BF_OK;
    size_t n = 0;
    while (c->argv[n])
        n++;
    char **argv = bf_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        argv[i] = substitute(c->argv[i], target);
    bf_err_t err = BF_ERR_IO;
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errstr, errstr_size, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* the loop blocks these to take them with sigtimedwait(); the
         * command gets the default dispositions back */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(argv[0], argv);
        _exit(127);
    }
    double deadline = bf_monotonic_s() + c->timeout_s;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(errstr, errstr_size, "waitpid: %s", strerror(errno));
            goto out;
        }
        if (bf_monotonic_s() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(errstr, errstr_size, "%s did not finish within %gs, killed", argv[0],
                     c->timeout_s);
            err = BF_ERR_TIMEOUT;
            goto out;
        }
        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(errstr, errstr_size, "%s exited with %s %d", argv[0],
                 WIFEXITED(status) ? "status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        goto out;
    }
    c->applied = target;
    err = BF_OK;
out:
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    free(argv);
    return err;
}
