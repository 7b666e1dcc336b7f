/*
 * tail.c - a topic followed from its end (see tail.h).
 */
#include "autoscaler/tail.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"

struct bf_tail_s {
    rd_kafka_t *rk;
    bf_codec_t *codec;
    bf_record_type_t type;
    char *topic;
    bool bad_logged;
};

bf_tail_t *bf_tail_new(const char *brokers, const bf_kprops_t *props, const char *topic,
                       const char *group, bf_record_type_t type, char *errstr,
                       size_t errstr_size)
{
    bf_codec_t *codec = bf_codec_new(errstr, errstr_size);
    if (!codec)
        return NULL;
    rd_kafka_conf_t *conf = bf_kafka_conf_new(brokers, props, errstr, errstr_size);
    if (!conf ||
        bf_kafka_conf_set(conf, "group.id", group, errstr, errstr_size) != BF_OK ||
        bf_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) !=
            BF_OK ||
        bf_kafka_conf_set(conf, "auto.offset.reset", "latest", errstr, errstr_size) !=
            BF_OK) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        bf_codec_destroy(codec);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        bf_codec_destroy(codec);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        snprintf(errstr, errstr_size, "subscribe %s: %s", topic, rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        bf_codec_destroy(codec);
        return NULL;
    }
    bf_tail_t *t = bf_calloc(1, sizeof(*t));
    t->rk = rk;
    t->codec = codec;
    t->type = type;
    t->topic = bf_strdup(topic);
    return t;
}

size_t bf_tail_poll(bf_tail_t *t, size_t max, bf_tail_fn fn, void *opaque)
{
    size_t decoded = 0;
    for (size_t i = 0; t && i < max; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, 0);
        if (!m)
            break;
        if (!m->err) {
            json_t *rec = NULL;
            char errstr[256];
            if (bf_codec_decode(t->codec, t->type, m->payload, m->len, &rec, NULL, errstr,
                                sizeof(errstr)) == BF_OK) {
                fn(opaque, rec);
                decoded++;
            } else if (!t->bad_logged) {
                t->bad_logged = true; /* one line, not one per record */
                bf_log(BF_LOG_WARN, "autoscaler", "record_undecodable",
                       BF_LSTR("topic", t->topic), BF_LSTR("error", errstr));
            }
            json_decref(rec);
        }
        rd_kafka_message_destroy(m);
    }
    return decoded;
}

void bf_tail_destroy(bf_tail_t *t)
{
    if (!t)
        return;
    rd_kafka_consumer_close(t->rk);
    rd_kafka_destroy(t->rk);
    bf_codec_destroy(t->codec);
    free(t->topic);
    free(t);
}
