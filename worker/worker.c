/*
 * worker.c - making, running and stopping a worker (see worker.h; the
 * stages of a report are laid out in worker_int.h).
 *
 * One libuv loop drives everything, and nothing in a callback blocks:
 *  - librdkafka: the consumer queue and the producer's main queue each
 *    write a byte to a pipe when they become non-empty
 *    (rd_kafka_queue_io_event_enable); the loop watches the pipes
 *    (intake.c). A 100 ms tick serves them too, so max.poll.interval.ms
 *    is honoured even when no event arrives.
 *  - Redis (hiredis async) and HTTP (curl multi) plug into the same loop.
 *
 * SIGTERM/SIGINT stop fetching, let what is in flight finish for up to
 * --drain-timeout, commit, leave the group and exit.
 */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "libbf/kafka.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/ai_config.h"
#include "worker/worker_int.h"

/* The tick that serves Kafka and measures the loop's lag. */
#define TICK_MS 100
/* librdkafka statistics (broker gauges, request retries) unless -X says
 * otherwise: often enough for a 15 s scrape, and the JSON of one client
 * with a few dozen partitions parses in well under a millisecond. */
#define STATISTICS_INTERVAL_MS "5000"
/* Most prefetched report bytes (KiB) librdkafka keeps, unless -X says.
 * It must hold more than a second of work at full speed: librdkafka 2.0
 * (Debian's) looks at a partition whose queue went over this again only
 * when its broker thread wakes, at most a second later (2.3 made that
 * fetch.queue.backoff.ms), so a worker that drains the queue faster sits
 * idle for the rest of that second. At 8 MiB the worker ran at 8 MiB of
 * reports a second, whatever its cap (4,800 synthetic reports/s of
 * ~1.7 KB, BENCHMARKS.md "Worker"); 32 MiB is 2 - 3 s at 7,000/s of the
 * shared data's 2 KB reports, and half of librdkafka's own default (64
 * MiB), which holds tens of thousands of reports that wait anyway (the
 * cap decides what runs). */
#define CONSUMER_PREFETCH_KBYTES "32768"

static void begin_stop(bf_worker_t *w, const char *why)
{
    if (w->stopping)
        return;
    w->stopping = true;
    w->stop_deadline = bf_monotonic_s() + w->cfg->drain_timeout_s;
    bf_log(BF_LOG_INFO, "worker", "stopping", BF_LSTR("signal", why),
           BF_LINT("in_flight", w->in_flight),
           BF_LDBL("drain_timeout_s", w->cfg->drain_timeout_s));
    /* Stop fetching: nothing new starts, what is in flight finishes. */
    bf_intake_update(w);
    bf_telemetry_set_ready(&w->tel, false, "stopping");
}

static void on_signal(uv_signal_t *s, int signum)
{
    bf_worker_t *w = s->data;
    if (w->cfg->once_file) {
        uv_stop(&w->loop);
        return;
    }
    begin_stop(s->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

void bf_worker_watch_signals(bf_worker_t *w)
{
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
}

/* Close a worker handle if it was ever initialised (the worker struct is
 * zeroed, so an unused handle has no loop) and is not closing already. */
static void close_handle(void *handle)
{
    uv_handle_t *h = handle;
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_all(bf_worker_t *w)
{
    close_handle(&w->tick);
    close_handle(&w->stats_timer);
    close_handle(&w->more);
    close_handle(&w->liveness_timer);
    close_handle(&w->heartbeat_timer);
    close_handle(&w->cons_poll);
    close_handle(&w->prod_poll);
    close_handle(&w->sigterm);
    close_handle(&w->sigint);
    bf_redis_destroy(w->redis);
    w->redis = NULL;
    /* Lookups in flight are let go (their answers, if any, only fill the
     * cache) and the registry no longer uses the HTTP client. */
    bf_registry_attach(w->registry, NULL, NULL, NULL);
    bf_http_destroy(w->http); /* in-flight AI calls settle with BF_ERR_STATE */
    w->http = NULL;
    bf_ai_destroy(w->ai);
    w->ai = NULL;
}

static void on_tick(uv_timer_t *t)
{
    bf_worker_t *w = t->data;
    /* Loop lag: how much later than its period this repeating timer
     * fires. Anything that blocks the loop shows up here. */
    double now = bf_monotonic_s();
    if (w->last_tick > 0) {
        double late = now - w->last_tick - TICK_MS / 1000.0;
        bf_series_observe(w->tel.loop_lag, late > 0 ? late : 0);
    }
    w->last_tick = now;
    bf_intake_update(w); /* a hold that lasted too long becomes a pause */
    bf_intake_serve(w);
    rd_kafka_poll(w->producer, 0);
    if (!w->stopping)
        return;
    if (w->in_flight == 0 || bf_monotonic_s() > w->stop_deadline) {
        if (w->in_flight)
            bf_log(BF_LOG_WARN, "worker", "drain_timeout",
                   BF_LINT("abandoned", w->in_flight));
        bf_liveness_stop(w); /* what was abandoned is taken over at once */
        uv_stop(&w->loop);
    }
}

/* The loop and the signal handles every mode needs. */
static void init_loop(bf_worker_t *w)
{
    uv_loop_init(&w->loop);
    w->loop_ready = true;
    uv_signal_init(&w->loop, &w->sigterm);
    w->sigterm.data = w;
    uv_signal_init(&w->loop, &w->sigint);
    w->sigint.data = w;
}

/* Connections to the providers: the three analyses of every report in
 * flight run at once, so by default three per report. */
/* Descriptors kept for everything but provider connections: Kafka
 * brokers, Redis, the metrics server, pipes, the Schema Registry. */
#define FD_RESERVE 256

/* Connections to the providers: the three analyses of every report in
 * flight run at once, so by default three per report, but never more than
 * the descriptors allow: a connect that fails with EMFILE would fail the
 * call, where a call beyond the limit only waits in curl for a connection.
 * The soft limit is raised to the hard one first (as redis-server does). */
static int64_t http_connections(const bf_worker_config_t *cfg)
{
    int64_t want =
        cfg->max_connections > 0 ? cfg->max_connections : 3 * cfg->max_in_flight;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || (int64_t)rl.rlim_cur > want + FD_RESERVE)
        return want;
    int64_t room = (int64_t)rl.rlim_cur - FD_RESERVE;
    if (room < 16)
        room = 16;
    bf_log(BF_LOG_WARN, "worker", "connections_limited_by_descriptors",
           BF_LINT("wanted", want), BF_LINT("allowed", room),
           BF_LINT("nofile_limit", (int64_t)rl.rlim_cur));
    return room;
}

/* --once: the model's text on stderr as it streams in; a "[kind] " line
 * starts whenever the text of another analysis arrives. */
static void on_stream_text(bf_analysis_kind_t kind, const char *text, size_t len,
                           void *opaque)
{
    bf_worker_t *w = opaque;
    if (w->stream_kind != (int)kind)
        fprintf(stderr, "%s[%s] ", w->stream_kind < 0 ? "" : "\n",
                bf_analysis_kind_name(kind));
    w->stream_kind = (int)kind;
    fwrite(text, 1, len, stderr);
    fflush(stderr);
}

/* The AI layer (ai.h): the provider chain, limits, breakers, the response
 * cache in Redis when @p cache is given (not in a dry run or --once, which
 * write nothing) and its bountyfleet_ai_* metrics in the worker's registry. */
static bf_err_t start_ai(bf_worker_t *w, bf_redis_t *cache, char *errstr,
                         size_t errstr_size)
{
    const bf_worker_config_t *cfg = w->cfg;
    bf_ai_config_t acfg;
    bf_err_t err = bf_worker_ai_config(cfg, &w->prompts, &w->prices, w->tel.registry,
                                       &acfg, errstr, errstr_size);
    if (err)
        return err;
    acfg.cache = cache;
    acfg.cache_prefix = cfg->key_prefix;
    acfg.limits = w->redis; /* shared limits, also in a dry run; none with --once */
    acfg.worker_id = cfg->worker_id;
    acfg.cache_ttl_s = (double)cfg->dedup_ttl_s;
    acfg.stream = cfg->once_file && !cfg->no_stream;
    acfg.on_text = on_stream_text;
    acfg.text_opaque = w;
    w->stream_kind = -1;
    if (!(w->ai = bf_ai_new(&w->loop, w->http, &acfg, errstr, errstr_size)))
        return BF_ERR_CONFIG;
    return BF_OK;
}

bf_worker_t *bf_worker_new(const bf_worker_config_t *cfg, const bf_kprops_t *props,
                           char *errstr, size_t errstr_size)
{
    bf_worker_t *w = bf_calloc(1, sizeof(*w));
    w->cfg = cfg;
    bf_telemetry_init(&w->tel, "bountyfleet-worker");
    w->started_ms = bf_time_now_ms();
    w->low_water =
        cfg->low_water > 0 ? (size_t)cfg->low_water : (size_t)cfg->max_in_flight / 2;
    if (w->low_water >= (size_t)cfg->max_in_flight)
        w->low_water = (size_t)cfg->max_in_flight - 1;
    w->cons_pipe[0] = w->cons_pipe[1] = w->prod_pipe[0] = w->prod_pipe[1] = -1;
    w->partitions = bf_calloc(BF_WORKER_MAX_PARTITIONS, sizeof(*w->partitions));
    for (int i = 0; i < BF_WORKER_MAX_PARTITIONS; i++)
        bf_offsets_init(&w->partitions[i].offsets);
    w->thresholds.min_quality = cfg->min_quality;
    w->thresholds.min_plausibility = cfg->min_plausibility;
    double near_dup_threshold = 0;
    if (bf_neardup_threshold_parse(cfg->near_dup_threshold, &near_dup_threshold, errstr,
                                   errstr_size) != BF_OK)
        goto fail;
    bf_neardup_params_init(&w->neardup, near_dup_threshold);

    if (strcmp(cfg->redis_mode, "fail-open") == 0) {
        w->fail_open = true;
    } else if (strcmp(cfg->redis_mode, "fail-closed") != 0) {
        snprintf(errstr, errstr_size,
                 "--redis-mode: '%s' is neither fail-closed nor fail-open",
                 cfg->redis_mode);
        goto fail;
    }
    if (cfg->metrics_addr && *cfg->metrics_addr &&
        strcmp(cfg->metrics_addr, "off") != 0) {
        char herr[256];
        bf_err_t herrc =
            bf_telemetry_serve(&w->tel, cfg->metrics_addr, herr, sizeof(herr));
        if (herrc != BF_OK &&
            strcmp(cfg->metrics_addr, BF_WORKER_METRICS_ADDR_DEFAULT) == 0) {
            bf_log(BF_LOG_WARN, "worker", "metrics_default_addr_unavailable",
                   BF_LSTR("addr", cfg->metrics_addr), BF_LSTR("error", herr),
                   BF_LSTR("fallback", "127.0.0.1:0"));
            herrc = bf_telemetry_serve(&w->tel, "127.0.0.1:0", herr, sizeof(herr));
        }
        if (herrc != BF_OK) {
            snprintf(errstr, errstr_size, "METRICS_ADDR: %s", herr);
            goto fail;
        }
    }
    if (bf_framing_parse(cfg->output_framing, &w->framing) != 0) {
        snprintf(errstr, errstr_size, "--output-framing: unknown framing '%s'",
                 cfg->output_framing);
        goto fail;
    }
    if (bf_prompts_load(cfg->prompts_dir, &w->prompts, errstr, errstr_size) ||
        bf_prices_load(cfg->prices_path, &w->prices, errstr, errstr_size))
        goto fail;
    {
        bf_ai_config_t acfg; /* the AI settings, checked before connecting anywhere */
        if (bf_worker_ai_config(cfg, &w->prompts, &w->prices, NULL, &acfg, errstr,
                                errstr_size) ||
            bf_ai_config_check(&acfg, errstr, errstr_size))
            goto fail;
    }
    if (!(w->codec = bf_codec_new(errstr, errstr_size)))
        goto fail;
    /* Confluent ids resolve through the Schema Registry when one is set:
     * the versions known at start are loaded now, synchronously, before
     * the loop runs; later ones are looked up once, asynchronously on the
     * loop, when the registry is attached to the HTTP client below. */
    if (!(w->registry = bf_registry_from_env(NULL, errstr, errstr_size)) && *errstr)
        goto fail;
    bf_registry_use_for_decoding(w->registry, w->codec);
    if (w->registry && bf_registry_preload(w->registry, w->codec, BF_RECORD_REPORT,
                                           cfg->topic_reports, NULL, errstr, errstr_size))
        goto fail;
    if (w->registry && w->framing == BF_FRAMING_CONFLUENT &&
        bf_registry_register_for_encoding(w->registry, w->codec, BF_RECORD_VALIDATION,
                                          cfg->topic_validations, NULL, errstr,
                                          errstr_size))
        goto fail;

    /* --once reads a JSON report, which needs no lookup: the registry
     * stays synchronous there. */
    if (cfg->once_file) { /* the loop, signals and HTTP; no Kafka, no Redis */
        init_loop(w);
        if (!(w->http =
                  bf_http_new(&w->loop, http_connections(cfg), errstr, errstr_size)) ||
            start_ai(w, NULL, errstr, errstr_size) != BF_OK)
            goto fail;
        return w;
    }

    /* Consumer. The operator's -X/-F properties go in first; our defaults
     * fill only what they left unset; the few settings correctness rests
     * on (group, manual offset store) are ours. */
    rd_kafka_conf_t *conf = bf_kafka_conf_new_for(BF_KAFKA_CONSUMER, cfg->brokers, props,
                                                  errstr, errstr_size);
    if (!conf)
        goto fail;
    if (bf_kafka_conf_set(conf, "group.id", cfg->group, errstr, errstr_size) ||
        bf_kafka_conf_default(conf, props, "client.id", cfg->worker_id, errstr,
                              errstr_size) ||
        bf_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr,
                          errstr_size) ||
        bf_kafka_conf_default(conf, props, "auto.offset.reset", "earliest", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "partition.assignment.strategy",
                              "cooperative-sticky", errstr, errstr_size) ||
        bf_kafka_conf_default(conf, props, "auto.commit.interval.ms", "1000", errstr,
                              errstr_size) ||
        /* Prefetch: see CONSUMER_PREFETCH_KBYTES. */
        bf_kafka_conf_default(conf, props, "queued.max.messages.kbytes",
                              CONSUMER_PREFETCH_KBYTES, errstr, errstr_size) ||
        bf_kafka_conf_default(conf, props, "statistics.interval.ms",
                              STATISTICS_INTERVAL_MS, errstr, errstr_size) ||
        (cfg->static_membership &&
         bf_kafka_conf_default(conf, props, "group.instance.id", cfg->worker_id, errstr,
                               errstr_size))) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(conf, bf_rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, bf_heartbeat_on_kafka_error);
    rd_kafka_conf_set_stats_cb(conf, bf_heartbeat_on_kafka_stats);
    rd_kafka_conf_set_offset_commit_cb(conf, bf_heartbeat_on_offset_commit);
    rd_kafka_conf_set_opaque(conf, w);
    char rderr[512];
    w->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
    if (!w->consumer) {
        snprintf(errstr, errstr_size, "kafka consumer: %s", rderr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(w->consumer);

    /* Producer: idempotent (which implies acks=all and ordered retries). */
    conf = bf_kafka_conf_new_for(BF_KAFKA_PRODUCER, cfg->brokers, props, errstr,
                                 errstr_size);
    if (!conf)
        goto fail;
    if (bf_kafka_conf_default(conf, props, "enable.idempotence", "true", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "linger.ms", "5", errstr, errstr_size) ||
        /* Room for a dead letter of the largest report the reports topic
         * may hold (the worker accepts up to BF_REPORT_MAX_ENCODED);
         * compression keeps it small on the wire. */
        bf_kafka_conf_default(conf, props, "message.max.bytes", "8388608", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "compression.codec", "lz4", errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "client.id", cfg->worker_id, errstr,
                              errstr_size) ||
        bf_kafka_conf_default(conf, props, "statistics.interval.ms",
                              STATISTICS_INTERVAL_MS, errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, bf_publish_on_delivery);
    rd_kafka_conf_set_error_cb(conf, bf_heartbeat_on_kafka_error);
    rd_kafka_conf_set_stats_cb(conf, bf_heartbeat_on_kafka_stats);
    rd_kafka_conf_set_opaque(conf, w);
    w->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
    if (!w->producer) {
        snprintf(errstr, errstr_size, "kafka producer: %s", rderr);
        goto fail;
    }
    /* A topic the producer has a handle on is in its metadata requests from
     * now on, so the first result does not wait for its leaders (seen: the
     * first ~100 results after a start took 0.5-1 s to be delivered). */
    const char *out[2] = {cfg->topic_validations, cfg->topic_dlq};
    for (int i = 0; i < 2 && !cfg->dry_run; i++) /* a dry run produces nothing */
        w->out_topics[i] = rd_kafka_topic_new(w->producer, out[i], NULL);

    /* The loop, and the pipes through which librdkafka wakes it. */
    init_loop(w);
    if (pipe2(w->cons_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        pipe2(w->prod_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
        goto fail;
    }
    w->cons_q = rd_kafka_queue_get_consumer(w->consumer);
    w->prod_q = rd_kafka_queue_get_main(w->producer);
    rd_kafka_queue_io_event_enable(w->cons_q, w->cons_pipe[1], "1", 1);
    rd_kafka_queue_io_event_enable(w->prod_q, w->prod_pipe[1], "1", 1);
    uv_poll_init(&w->loop, &w->cons_poll, w->cons_pipe[0]);
    w->cons_poll.data = w;
    uv_poll_init(&w->loop, &w->prod_poll, w->prod_pipe[0]);
    w->prod_poll.data = w;
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_init(&w->loop, &w->stats_timer);
    w->stats_timer.data = w;
    uv_idle_init(&w->loop, &w->more);
    w->more.data = w;
    uv_timer_init(&w->loop, &w->liveness_timer);
    w->liveness_timer.data = w;
    uv_timer_init(&w->loop, &w->heartbeat_timer);
    w->heartbeat_timer.data = w;

    if (!(w->http = bf_http_new(&w->loop, http_connections(cfg), errstr, errstr_size)))
        goto fail;
    bf_registry_attach(w->registry, w->http, bf_decode_on_registry_answer, w);
    if (!(w->redis = bf_redis_new(&w->loop, cfg->redis_url, cfg->redis_timeout_s, errstr,
                                  errstr_size)))
        goto fail;
    if (start_ai(w, cfg->dry_run ? NULL : w->redis, errstr, errstr_size) != BF_OK)
        goto fail;

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->topic_reports, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(w->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr) {
        snprintf(errstr, errstr_size, "subscribe to %s: %s", cfg->topic_reports,
                 rd_kafka_err2str(kerr));
        goto fail;
    }
    return w;
fail:
    bf_worker_destroy(w);
    return NULL;
}

bf_err_t bf_worker_run(bf_worker_t *w)
{
    bf_intake_start(w);
    uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    uv_timer_start(&w->stats_timer, bf_heartbeat_on_stats, 200, 1000);
    bf_liveness_start(w);
    w->last_heartbeat = bf_monotonic_s();
    if (!w->cfg->dry_run) {
        uint64_t hb_ms = (uint64_t)(w->cfg->heartbeat_interval_s * 1000);
        uv_timer_start(&w->heartbeat_timer, bf_heartbeat_on_timer, hb_ms, hb_ms);
    }
    bf_worker_watch_signals(w);
    bf_log(BF_LOG_INFO, "worker", "started", BF_LSTR("worker_id", w->cfg->worker_id),
           BF_LINT("metrics_port", bf_telemetry_port(&w->tel)),
           BF_LSTR("redis_mode", w->fail_open ? "fail-open" : "fail-closed"),
           BF_LSTR("group", w->cfg->group), BF_LSTR("topic", w->cfg->topic_reports),
           BF_LSTR("prompt_version", w->prompts.version),
           BF_LINT("max_in_flight", w->cfg->max_in_flight),
           BF_LBOOL("dry_run", w->cfg->dry_run));
    uv_run(&w->loop, UV_RUN_DEFAULT);

    /* Drained (or timed out). Leave the group: rd_kafka_consumer_close
     * commits the stored offsets and revokes our partitions. Then make
     * sure every result still queued in the producer is delivered. */
    if (!w->cfg->dry_run)
        bf_heartbeat_send(w); /* the last one: the autoscaler sees us leave */
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(w->consumer);
    if (err)
        bf_log(BF_LOG_WARN, "worker", "consumer_close_failed",
               BF_LSTR("error", rd_kafka_err2str(err)));
    err = rd_kafka_flush(w->producer, 10000);
    if (err)
        bf_log(BF_LOG_WARN, "worker", "producer_flush_failed",
               BF_LSTR("error", rd_kafka_err2str(err)));
    bf_log(BF_LOG_INFO, "worker", "stopped", BF_LINT("consumed", w->consumed),
           BF_LINT("validated", w->validated), BF_LINT("duplicates", w->duplicates),
           BF_LINT("cached", w->cached), BF_LINT("dead_lettered", w->dlq),
           BF_LINT("abandoned", w->in_flight));
    return BF_OK;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void bf_worker_destroy(bf_worker_t *w)
{
    if (!w)
        return;
    w->shutdown = true;
    bf_telemetry_stop(&w->tel); /* its thread reads state freed below */
    if (w->loop_ready) {
        close_all(w);
        while (w->jobs)
            bf_job_free(w->jobs); /* abandoned at the drain deadline */
        /* Close whatever handle is left and let the close callbacks run. */
        uv_walk(&w->loop, walk_close, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
    }
    if (w->cons_q)
        rd_kafka_queue_destroy(w->cons_q);
    if (w->prod_q)
        rd_kafka_queue_destroy(w->prod_q);
    if (w->consumer)
        rd_kafka_destroy(w->consumer);
    for (int i = 0; i < 2; i++)
        if (w->out_topics[i])
            rd_kafka_topic_destroy(w->out_topics[i]);
    if (w->producer)
        rd_kafka_destroy(w->producer);
    for (int i = 0; i < 2; i++) {
        if (w->cons_pipe[i] >= 0)
            close(w->cons_pipe[i]);
        if (w->prod_pipe[i] >= 0)
            close(w->prod_pipe[i]);
    }
    for (int i = 0; i < BF_WORKER_MAX_PARTITIONS; i++)
        bf_offsets_free(&w->partitions[i].offsets);
    free(w->partitions);
    bf_codec_destroy(w->codec);
    bf_registry_destroy(w->registry);
    bf_prompts_free(&w->prompts);
    bf_prices_free(&w->prices);
    bf_telemetry_free(&w->tel);
    free(w);
}
