/*
 * analyse.c - the three AI analyses of a claimed report (see worker_int.h
 * and ai.h).
 *
 * The analyses (quality, plausibility, severity) run at once through the
 * AI layer, which owns retries, fallback providers, limits and the answer
 * cache; each settles exactly once, and when the last has, the verdict is
 * made (result.c). A report's deadline (--ai-deadline) bounds how late an
 * attempt may start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/worker_int.h"

typedef struct ai_call_s {
    bf_job_t *job;
    int kind;
} ai_call_t;

/* One analysis settled (ai.h): keep the verdict, or why it failed. A
 * fallback that succeeded is kept as a reason of the result. */
static void on_ai_result(const bf_ai_result_t *r, void *opaque)
{
    ai_call_t *call = opaque;
    bf_job_t *j = call->job;
    int k = call->kind;
    free(call);
    if (j->w->shutdown)
        return;
    j->ai_seconds[k] = r->seconds;
    j->ai_provider[k] = r->provider;
    snprintf(j->ai_model[k], sizeof(j->ai_model[k]), "%s", r->model);
    j->ai_cost[k] = r->cost_usd;
    if (r->err == BF_OK) {
        j->verdicts[k] = *r->verdict;
        memset(r->verdict, 0, sizeof(*r->verdict));
        j->ok[k] = 1;
        if (r->fallback) {
            char *why = bf_asprintf("fallback: %s", r->fallback);
            json_array_append_new(j->verdicts[k].reasons, json_string(why));
            free(why);
        }
    } else {
        snprintf(j->ai_error[k], sizeof(j->ai_error[k]), "%s", r->error);
        bf_log(BF_LOG_WARN, "worker", "analysis_failed",
               BF_LSTR("report_id", j->report->report_id),
               BF_LSTR("kind", bf_analysis_kind_name((bf_analysis_kind_t)k)),
               BF_LINT("attempts", r->attempts), BF_LSTR("error", j->ai_error[k]));
    }
    if (r->seconds > j->ai_slowest)
        j->ai_slowest = r->seconds;
    if (--j->ai_pending == 0) {
        j->settled_at = bf_monotonic_s();
        bf_result_verdict(j);
    }
}

void bf_analyse_start(bf_job_t *j)
{
    bf_worker_t *w = j->w;
    double deadline =
        w->cfg->ai_deadline_s > 0 ? bf_monotonic_s() + w->cfg->ai_deadline_s : 0;
    j->ai_pending = BF_ANALYSIS__COUNT;
    j->analyses_at = bf_monotonic_s();
    bf_analysis_kind_t kinds[BF_ANALYSIS__COUNT];
    void *calls[BF_ANALYSIS__COUNT];
    for (int k = 0; k < BF_ANALYSIS__COUNT; k++) {
        ai_call_t *call = bf_malloc(sizeof(*call));
        call->job = j;
        call->kind = k;
        kinds[k] = (bf_analysis_kind_t)k;
        calls[k] = call;
    }
    bf_ai_analyse_many(w->ai, BF_ANALYSIS__COUNT, kinds, j->ai_input, deadline,
                       on_ai_result, calls);
}
