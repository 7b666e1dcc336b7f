/*
 * kafka.c - shared librdkafka configuration (see kafka.h).
 */
#include "libbf/kafka.h"

#include <stdio.h>
#include <string.h>

#include "libbf/log.h"

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

rd_kafka_conf_t *bf_kafka_conf_new(const char *brokers, const bf_kprops_t *props,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (bf_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size))
        goto fail;
    for (size_t i = 0; props && i < props->count; i++)
        if (bf_kafka_conf_set(conf, props->items[i].key, props->items[i].value, errstr,
                              errstr_size))
            goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
