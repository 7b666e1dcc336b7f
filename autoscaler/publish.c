/*
 * publish.c - decisions to bountyfleet.scaling (see publish.h).
 */
#include "autoscaler/publish.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/buf.h"
#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"

/* Largest encoded decision (the reasoning is < 1 KiB). */
#define RECORD_MAX (16 * 1024)

struct bf_publisher_s {
    rd_kafka_t *rk;
    bf_codec_t *codec;
    char *topic;
    char *actuator;
    bf_framing_t framing;
    bool dropping;    /* the last produce failed (logged once per run) */
    bool undelivered; /* the last delivery failed (logged once per run) */
};

/* Delivery reports, served by rd_kafka_poll() in bf_publisher_send(): one
 * warning per run of failures (a missing topic would fail every record). */
static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    bf_publisher_t *p = opaque;
    if (m->err && !p->undelivered)
        bf_log(BF_LOG_WARN, "autoscaler", "decision_not_delivered",
               BF_LSTR("topic", p->topic), BF_LSTR("error", rd_kafka_err2str(m->err)));
    p->undelivered = m->err != RD_KAFKA_RESP_ERR_NO_ERROR;
}

bf_publisher_t *bf_publisher_new(const char *brokers, const bf_kprops_t *props,
                                 const char *topic, bf_framing_t framing,
                                 const char *actuator, char *errstr, size_t errstr_size)
{
    bf_codec_t *codec = bf_codec_new(errstr, errstr_size);
    if (!codec)
        return NULL;
    rd_kafka_conf_t *conf = bf_kafka_conf_new(brokers, props, errstr, errstr_size);
    if (!conf) {
        bf_codec_destroy(codec);
        return NULL;
    }
    bf_publisher_t *p = bf_calloc(1, sizeof(*p));
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        bf_codec_destroy(codec);
        free(p);
        return NULL;
    }
    p->rk = rk;
    p->codec = codec;
    p->topic = bf_strdup(topic);
    p->actuator = bf_strdup(actuator);
    p->framing = framing;
    return p;
}

json_t *bf_publisher_record(const bf_scaler_decision_t *d, const char *actuator,
                            double wall_ms)
{
    const bf_decision_t *x = &d->decision;
    /* Confidence in the decision: the forecast's, which is what the count
     * leans on beyond the observed lag. */
    json_t *forecast = d->forecast_ready ? json_real(d->forecast.value) : json_null();
    return json_pack(
        "{s:I, s:s, s:i, s:i, s:f, s:I, s:f, s:f, s:o, s:s, s:s}", "decided_at",
        (json_int_t)wall_ms, "action", bf_scale_action_name(x->action), "current_workers",
        (int)x->current_workers, "target_workers", (int)x->target_workers, "confidence",
        d->forecast.confidence, "total_lag", (json_int_t)x->total_lag, "arrival_rate",
        d->arrival_rate, "processing_rate", d->processing_rate, "forecast_rate", forecast,
        "reasoning", x->reasoning, "actuator", actuator);
}

void bf_publisher_send(bf_publisher_t *p, const bf_scaler_decision_t *d)
{
    if (!p)
        return;
    rd_kafka_poll(p->rk, 0); /* serve delivery reports */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    json_t *rec = bf_publisher_record(
        d, p->actuator, (double)wall.tv_sec * 1000 + (double)(wall.tv_nsec / 1000000));
    bf_buf_t buf;
    bf_buf_init(&buf, RECORD_MAX);
    char errstr[256];
    bf_err_t err = rec ? bf_codec_encode(p->codec, BF_RECORD_SCALING_DECISION, rec,
                                         p->framing, &buf, errstr, sizeof(errstr))
                       : BF_ERR_SCHEMA;
    json_decref(rec);
    if (err) {
        bf_log(BF_LOG_ERROR, "autoscaler", "decision_not_encoded",
               BF_LSTR("error", rec ? errstr : "json_pack failed"));
        bf_buf_free(&buf);
        return;
    }
    rd_kafka_resp_err_t kerr = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(p->actuator, strlen(p->actuator)),
        RD_KAFKA_V_VALUE(buf.data, buf.len), RD_KAFKA_V_END);
    bf_buf_free(&buf);
    if (kerr && !p->dropping)
        bf_log(BF_LOG_WARN, "autoscaler", "decision_dropped",
               BF_LSTR("error", rd_kafka_err2str(kerr)));
    p->dropping = kerr != RD_KAFKA_RESP_ERR_NO_ERROR;
}

void bf_publisher_destroy(bf_publisher_t *p, double timeout_s)
{
    if (!p)
        return;
    rd_kafka_flush(p->rk, (int)(timeout_s * 1000));
    rd_kafka_destroy(p->rk);
    bf_codec_destroy(p->codec);
    free(p->topic);
    free(p->actuator);
    free(p);
}
