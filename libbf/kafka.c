/*
 * kafka.c - shared librdkafka configuration (see kafka.h).
 */
#include "libbf/kafka.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/log.h"
#include "libbf/mem.h"

/* librdkafka's syslog-style levels (0 emerg .. 7 debug) mapped onto ours.
 * @locality any librdkafka thread: bf_log_emit writes a whole line at once. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    bf_log_level_t l = level <= 3   ? BF_LOG_ERROR
                       : level == 4 ? BF_LOG_WARN
                       : level <= 6 ? BF_LOG_INFO
                                    : BF_LOG_DEBUG;
    bf_log(l, "rdkafka", fac, BF_LSTR("client", rd_kafka_name(rk)), BF_LSTR("msg", buf));
}

bf_err_t bf_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                           char *errstr, size_t errstr_size)
{
    char rderr[256];
    if (rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka property %s: %s", key, rderr);
        return BF_ERR_CONFIG;
    }
    return BF_OK;
}

bf_err_t bf_kafka_conf_default(rd_kafka_conf_t *conf, const bf_kprops_t *props,
                               const char *key, const char *value, char *errstr,
                               size_t errstr_size)
{
    if (props && bf_kprops_get(props, key))
        return BF_OK;
    return bf_kafka_conf_set(conf, key, value, errstr, errstr_size);
}

/*
 * Property scopes. librdkafka has no call that says whether a property is
 * a consumer's or a producer's, but it prints its configuration table
 * (rd_kafka_conf_properties_show(), the source of its CONFIGURATION.md),
 * whose second column says so: read once, into a sorted table, for the
 * version actually linked.
 */
typedef struct scope_s {
    char *name;
    char scope;
} scope_t;

static scope_t *scopes;
static size_t n_scopes;
static pthread_once_t scopes_once = PTHREAD_ONCE_INIT;

static int scope_cmp(const void *a, const void *b)
{
    return strcmp(((const scope_t *)a)->name, ((const scope_t *)b)->name);
}

/* "name   |  C  | ..." -> name and scope; other lines are skipped. */
static void read_scopes(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    rd_kafka_conf_properties_show(f);
    fclose(f);
    size_t cap = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *bar = strchr(line, '|');
        if (!bar || line[0] == '-' || line[0] == '#' || line[0] == ' ')
            continue;
        char *end = bar;
        while (end > line && end[-1] == ' ')
            end--;
        char *col = bar + 1;
        while (*col == ' ')
            col++;
        if (end == line || (*col != 'C' && *col != 'P' && *col != '*') ||
            (col[1] != ' ' && col[1] != '|'))
            continue;
        if (n_scopes == cap) {
            cap = cap ? 2 * cap : 256;
            scopes = bf_realloc(scopes, cap * sizeof(*scopes));
        }
        scopes[n_scopes].name = bf_strndup(line, (size_t)(end - line));
        scopes[n_scopes].scope = *col;
        n_scopes++;
    }
    free(text);
    qsort(scopes, n_scopes, sizeof(*scopes), scope_cmp);
}

char bf_kafka_property_scope(const char *name)
{
    pthread_once(&scopes_once, read_scopes);
    scope_t key = {.name = (char *)name};
    const scope_t *s =
        name ? bsearch(&key, scopes, n_scopes, sizeof(*scopes), scope_cmp) : NULL;
    return s ? s->scope : 0;
}

rd_kafka_conf_t *bf_kafka_conf_new_for(bf_kafka_client_t client, const char *brokers,
                                       const bf_kprops_t *props, char *errstr,
                                       size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (bf_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size))
        goto fail;
    char other = client == BF_KAFKA_CONSUMER   ? 'P'
                 : client == BF_KAFKA_PRODUCER ? 'C'
                                               : 0;
    for (size_t i = 0; props && i < props->count; i++) {
        if (other && bf_kafka_property_scope(props->items[i].key) == other)
            continue; /* the other client's */
        if (bf_kafka_conf_set(conf, props->items[i].key, props->items[i].value, errstr,
                              errstr_size))
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_conf_t *bf_kafka_conf_new(const char *brokers, const bf_kprops_t *props,
                                   char *errstr, size_t errstr_size)
{
    return bf_kafka_conf_new_for(BF_KAFKA_CLIENT_ANY, brokers, props, errstr,
                                 errstr_size);
}
