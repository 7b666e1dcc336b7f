/*
 * once.c - --once: one report from a file through the AI providers, the
 * result as JSON on stdout, no Kafka and no Redis (see worker.h); the exit
 * status tells a verdict from NEEDS_REVIEW and from no result at all, so a
 * script can act on it without parsing the JSON.
 */
#include <stdio.h>
#include <string.h>

#include "worker/worker_int.h"

int bf_worker_run_once(bf_worker_t *w)
{
    json_error_t jerr;
    char errstr[256] = "";
    json_t *obj = json_load_file(w->cfg->once_file, JSON_REJECT_DUPLICATES, &jerr);
    bf_report_t *report = NULL;
    bf_err_t err = BF_OK;
    if (!obj) {
        snprintf(errstr, sizeof(errstr), "%s:%d: %s", w->cfg->once_file, jerr.line,
                 jerr.text);
        err = BF_ERR_PARSE;
    } else {
        err = bf_report_from_json(obj, &report, errstr, sizeof(errstr));
    }
    json_decref(obj);
    if (err) {
        fprintf(stderr, "bountyfleet-worker: %s: %s\n", bf_err_name(err), errstr);
        return BF_WORKER_ONCE_ERROR;
    }
    bf_job_t *j = bf_job_new(w, NULL);
    j->report = report;
    j->ai_input = bf_ai_input_from_report(j->report);
    bf_worker_watch_signals(w);
    bf_analyse_start(j);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->stream_kind >= 0)
        fputc('\n', stderr);
    if (!w->acked)
        return BF_WORKER_ONCE_ERROR;
    return w->once_status && strcmp(w->once_status, "NEEDS_REVIEW") == 0
               ? BF_WORKER_ONCE_NEEDS_REVIEW
               : BF_WORKER_ONCE_VERDICT;
}
