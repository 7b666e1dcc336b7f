/*
 * ai_fleet.c - the fleet-wide rate limit in Redis (see ai_fleet.h).
 *
 * The state of one provider and model is a hash; its fields come in pairs
 * for the request bucket ("r") and the token bucket ("t"):
 *
 *   l?  level (may be negative: tokens billed beyond the estimate are debt)
 *   r?  the learned rate, per minute, at most the cap
 *   c?  the rate the provider refused at the last cut (0: never cut)
 *   k?  when the last cut was (ms)
 *   h?  the provider's own limit from its headers, a? when it said so
 *   n?  calls the provider accepted since s?, when the fleet started
 *       sending again after the bucket's last cut (its hold over)
 *   at  when the buckets were last refilled; block: no grants before (ms)
 *
 * The cap of a bucket is the configured limit, or 99% of a lower limit
 * the provider's headers said within BF_AI_FLEET_HEADER_MS. A bucket holds
 * one second of its cap (at least one request): a provider enforcing per
 * minute still refuses bursts, so calls are spread evenly. A new request
 * bucket starts with one call, not full: a fleet configured above the
 * real limit would otherwise open with a burst the provider refuses
 * before its first answer can say so. Times are the
 * Redis server's (TIME), the one clock every worker shares; ARGV[1] can
 * give another for the tests. Redis 5+ replicates a script's effects, not
 * the script, so calling TIME in it is allowed.
 */
#include "worker/ai_fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "libbf/clock.h"
#include "libbf/log.h"
#include "libbf/mem.h"
#include "worker/ai_limit.h"

/* The numbers of ai_fleet.h go into the script's text. */
#define STR_(x) #x
#define STR(x)  STR_(x)

/* The script, one Lua line per C line: not for clang-format to reflow. */
/* clang-format off */
const char bf_ai_fleet_script[] =
    "-- KEYS[1] state hash, KEYS[2] live workers (zset by last acquisition)\n"
    "-- ARGV[1] now in ms ('' = TIME)  ARGV[2] worker id ('' = not now)\n"
    "-- ARGV[3] rpm  ARGV[4] tpm (configured, 0 = none)\n"
    "-- ARGV[5] tokens to give back  ARGV[6] calls accepted (both since this\n"
    "-- worker's last acquisition)  ARGV[7] cut: 1 requests, 2 tokens\n"
    "-- ARGV[8] hold ms  ARGV[9] rpm  ARGV[10] tpm the provider said (0 = not)\n"
    "-- ARGV[11..] token estimates of the calls asked for\n"
    "-- returns {granted, wait ms, rpm * 1000, tpm, live workers}\n"
    "local now = tonumber(ARGV[1])\n"
    "if not now then\n"
    "  local t = redis.call('TIME')\n"
    "  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    "local HOLD, HEADER, LIVE, SPAN = "
        STR(BF_AI_FLEET_HOLD_MS) ", " STR(BF_AI_FLEET_HEADER_MS) ", "
        STR(BF_AI_FLEET_LIVE_MS) ", " STR(BF_AI_FLEET_SPAN_MS) "\n"
    "local CUT, KNEE, PROBE, RECOVER = "
        STR(BF_AI_FLEET_CUT) ", " STR(BF_AI_FLEET_KNEE) ", "
        STR(BF_AI_FLEET_PROBE) ", " STR(BF_AI_FLEET_RECOVER) "\n"
    "local st = redis.call('HMGET', KEYS[1], 'at', 'block')\n"
    "local at = tonumber(st[1]) or now\n"
    "local block = tonumber(st[2]) or 0\n"
    "local dt = now - at\n"
    "if dt < 0 then dt = 0 end\n"
    "local cuts = tonumber(ARGV[7])\n"
    "local accepted = tonumber(ARGV[6])\n"
    "local hold = tonumber(ARGV[8])\n"
    "if cuts > 0 and hold > 0 and now + hold > block then block = now + hold end\n"
    "local function load(x, cfg, said, cutbit)\n"
    "  local v = redis.call('HMGET', KEYS[1], 'l'..x, 'r'..x, 'c'..x, 'k'..x, 'h'..x,\n"
    "                       'a'..x, 'n'..x, 's'..x)\n"
    "  local b = {x = x, cfg = cfg, level = tonumber(v[1]), rate = tonumber(v[2]),\n"
    "             refused = tonumber(v[3]) or 0, cut = tonumber(v[4]) or 0,\n"
    "             said = tonumber(v[5]) or 0, said_at = tonumber(v[6]) or 0,\n"
    "             acc = (tonumber(v[7]) or 0) + accepted, since = tonumber(v[8]) or 0}\n"
    "  if cfg <= 0 then return b end\n"
    "  if said > 0 then b.said = said; b.said_at = now end\n"
    "  b.cap = cfg\n"
    "  if b.said > 0 and now - b.said_at < HEADER and 0.99 * b.said < cfg then\n"
    "    b.cap = 0.99 * b.said\n"
    "  end\n"
    "  b.size = math.max(b.cap / 60, 1)\n"
    "  if not b.rate or b.rate > b.cap then b.rate = b.cap end\n"
    "  if not b.level then b.level = x == 'r' and 1 or b.size end\n"
    "  b.level = math.min(b.size, b.level + b.rate * dt / 60000)\n"
    "  if b.rate < b.cap then\n"
    "    local ref = b.refused > 0 and b.refused or b.cap\n"
    "    local r = b.rate\n"
    "    if r < KNEE * ref then r = math.min(KNEE * ref, r + RECOVER * ref * dt / 60000)\n"
    "    else r = r + PROBE * ref * dt / 60000 end\n"
    "    b.rate = math.min(b.cap, r)\n"
    "  end\n"
    "  if cuts % (2 * cutbit) >= cutbit then\n"
    "    if now - b.cut >= HOLD then\n"
    "      -- where the provider's limit is: what it accepted since the fleet\n"
    "      -- last started sending after a cut (a provider that refuses has\n"
    "      -- no burst left), if that is lower than the rate in force\n"
    "      b.refused = b.rate\n"
    "      local sending = now - b.since\n"
    "      if b.since > 0 and sending >= SPAN and b.acc > 0 then\n"
    "        b.refused = math.min(b.rate, b.acc * 60000 / sending)\n"
    "      end\n"
    "      b.rate = math.max(b.refused * CUT, b.cap * 0.01)\n"
    "      b.cut, b.acc, b.since = now, 0, math.max(now, block)\n"
    "    end\n"
    "    if b.level > 0 then b.level = 0 end\n"
    "  end\n"
    "  return b\n"
    "end\n"
    "local r = load('r', tonumber(ARGV[3]), tonumber(ARGV[9]), 1)\n"
    "local t = load('t', tonumber(ARGV[4]), tonumber(ARGV[10]), 2)\n"
    "if t.cfg > 0 then t.level = math.min(t.size, t.level + tonumber(ARGV[5])) end\n"
    "local granted, wait = 0, 0\n"
    "if now < block and #ARGV >= 11 then wait = block - now\n"
    "else\n"
    "  for i = 11, #ARGV do\n"
    "    local est = tonumber(ARGV[i])\n"
    "    local w = 0\n"
    "    if r.cfg > 0 and r.level < 1 then w = (1 - r.level) * 60000 / r.rate end\n"
    "    if t.cfg > 0 then\n"
    "      local need = math.min(est, t.size)\n"
    "      if t.level < need then w = math.max(w, (need - t.level) * 60000 / t.rate) end\n"
    "    end\n"
    "    if w > 0 then wait = w break end\n"
    "    if r.cfg > 0 then r.level = r.level - 1 end\n"
    "    if t.cfg > 0 then t.level = t.level - est end\n"
    "    granted = granted + 1\n"
    "  end\n"
    "end\n"
    "for _, b in ipairs({r, t}) do\n"
    "  if b.cfg > 0 then\n"
    "    local x = b.x\n"
    "    redis.call('HSET', KEYS[1], 'l'..x, b.level, 'r'..x, b.rate, 'c'..x, b.refused,\n"
    "               'k'..x, b.cut, 'h'..x, b.said, 'a'..x, b.said_at, 'n'..x, b.acc,\n"
    "               's'..x, b.since)\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'at', now, 'block', block)\n"
    "redis.call('PEXPIRE', KEYS[1], 3600000)\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('ZADD', KEYS[2], now, ARGV[2])\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - LIVE)\n"
    "  redis.call('PEXPIRE', KEYS[2], 2 * LIVE)\n"
    "end\n"
    "local live = redis.call('ZCARD', KEYS[2])\n"
    "return {granted, math.ceil(wait), math.floor((r.cfg > 0 and r.rate or 0) * 1000),\n"
    "        math.floor(t.cfg > 0 and t.rate or 0), live}\n";
/* clang-format on */

/* ARGV slots before the estimates, and the command's fixed part. */
enum { A_CMD, A_SCRIPT, A_NKEYS, A_KEY, A_WORKERS, A_NOW, A_WORKER, A_RPM, A_TPM };
enum { A_GIVE = A_TPM + 1, A_OK, A_CUTS, A_HOLD, A_SAID_R, A_SAID_T, A_FIXED };

/* A worker says it is alive at most this often (seconds). */
#define REGISTER_EVERY_S 1.0
/* After Redis failed to answer, the local share serves this long before
 * Redis is asked again (a command that times out holds a call 2 s). */
#define DOWN_FOR_S 1.0

struct bf_ai_fleet_s {
    bf_redis_t *redis;
    char *key, *workers_key, *worker;
    char rpm_text[32], tpm_text[32];
    double rpm, tpm;
    /* learned since the last acquisition, sent with the next */
    long give_back;
    long ok; /* calls the provider accepted */
    int cuts;
    double hold_s;
    double said_r, said_t; /* a limit the headers said, not yet sent (0: none) */
    double sent_r, sent_t; /* the last ones sent */
    /* the acquisition in flight */
    bool busy, closing;
    bf_ai_fleet_cb *cb;
    void *opaque;
    int n;
    long tokens[BF_AI_FLEET_BATCH];
    char num[A_FIXED + BF_AI_FLEET_BATCH][24];
    const char *argv[A_FIXED + BF_AI_FLEET_BATCH];
    size_t lens[A_FIXED + BF_AI_FLEET_BATCH];
    double registered_at, down_until;
    bf_bucket_t share_r, share_t; /* the local fallback */
    bf_ai_fleet_status_t st;
};

/* Decimal text of @p v into @p out (at least 24 bytes); @returns its length.
 * What the hot path formats instead of snprintf. */
static size_t format_long(char *out, long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

static void set_share(bf_ai_fleet_t *f, double now)
{
    double workers = f->st.workers > 1 ? (double)f->st.workers : 1;
    bf_bucket_set_rate(&f->share_r, f->st.rpm / workers, now);
    bf_bucket_set_rate(&f->share_t, f->st.tpm / workers, now);
}

bf_ai_fleet_t *bf_ai_fleet_new(const bf_ai_fleet_config_t *cfg)
{
    if (!(cfg->rpm > 0) && !(cfg->tpm > 0))
        return NULL;
    bf_ai_fleet_t *f = bf_calloc(1, sizeof(*f));
    f->redis = cfg->redis;
    f->key = bf_asprintf("%sailimit:{%s:%s}", cfg->key_prefix ? cfg->key_prefix : "",
                         cfg->provider, cfg->model);
    f->workers_key = bf_asprintf("%s:workers", f->key);
    f->worker = bf_strdup(cfg->worker_id && *cfg->worker_id ? cfg->worker_id : "worker");
    f->rpm = cfg->rpm > 0 ? cfg->rpm : 0;
    f->tpm = cfg->tpm > 0 ? cfg->tpm : 0;
    /* Whole numbers per minute are what providers publish; a fraction is
     * kept to the thousandth. */
    snprintf(f->rpm_text, sizeof(f->rpm_text), "%.3f", f->rpm);
    snprintf(f->tpm_text, sizeof(f->tpm_text), "%.3f", f->tpm);
    f->st = (bf_ai_fleet_status_t){.rpm = f->rpm, .tpm = f->tpm, .workers = 1};
    f->registered_at = -1e9;
    bf_bucket_init(&f->share_r, 0, 0);
    bf_bucket_init(&f->share_t, 0, 0);
    set_share(f, 0);
    /* The fixed part of every acquisition. */
    f->argv[A_NKEYS] = "2";
    f->argv[A_KEY] = f->key;
    f->argv[A_WORKERS] = f->workers_key;
    f->argv[A_NOW] = "";
    f->argv[A_RPM] = f->rpm_text;
    f->argv[A_TPM] = f->tpm_text;
    for (int i = A_GIVE; i < A_FIXED + BF_AI_FLEET_BATCH; i++)
        f->argv[i] = f->num[i];
    return f;
}

static void fleet_free(bf_ai_fleet_t *f)
{
    free(f->key);
    free(f->workers_key);
    free(f->worker);
    free(f);
}

void bf_ai_fleet_destroy(bf_ai_fleet_t *f)
{
    if (!f)
        return;
    if (f->busy)
        f->closing = true; /* Redis still owes its answer; freed then */
    else
        fleet_free(f);
}

bool bf_ai_fleet_busy(const bf_ai_fleet_t *f)
{
    return f->busy;
}

void bf_ai_fleet_status(const bf_ai_fleet_t *f, bf_ai_fleet_status_t *out)
{
    *out = f->st;
}

void bf_ai_fleet_settle(bf_ai_fleet_t *f, long estimate, long billed, bool accepted)
{
    if (f->tpm > 0)
        f->give_back += estimate - billed;
    if (accepted)
        f->ok++;
}

bool bf_ai_fleet_learn(bf_ai_fleet_t *f, bool refused, const bf_ai_ratelimit_t *rl)
{
    /* A window is used up when the provider says nothing is left in it. */
    bool r_out = rl->remaining_requests >= 0 && rl->remaining_requests < 1;
    bool t_out = rl->remaining_tokens >= 0 && rl->remaining_tokens < 1;
    int cuts = (r_out && f->rpm > 0 ? 1 : 0) | (t_out && f->tpm > 0 ? 2 : 0);
    if (refused && cuts == 0) /* a 429 that does not say which: both */
        cuts = (f->rpm > 0 ? 1 : 0) | (f->tpm > 0 ? 2 : 0);
    double hold = rl->retry_after_s > 0 ? rl->retry_after_s : 0;
    if ((cuts & 1) && rl->reset_requests_s > hold)
        hold = rl->reset_requests_s;
    if ((cuts & 2) && rl->reset_tokens_s > hold)
        hold = rl->reset_tokens_s;
    if (cuts) {
        f->cuts |= cuts;
        if (hold > f->hold_s)
            f->hold_s = hold;
    }
    if (rl->limit_requests > 0 && rl->limit_requests != f->sent_r)
        f->said_r = rl->limit_requests;
    if (rl->limit_tokens > 0 && rl->limit_tokens != f->sent_t)
        f->said_t = rl->limit_tokens;
    return cuts != 0;
}

/* The local share answers: grant what fits in this worker's part of the
 * fleet-wide limit now. */
static int share_grant(bf_ai_fleet_t *f, const long *tokens, int n, double now,
                       double *wait_s)
{
    set_share(f, now);
    int granted = 0;
    *wait_s = 0;
    for (; granted < n; granted++) {
        double w = bf_bucket_wait(&f->share_r, 1, now);
        double wt = bf_bucket_wait(&f->share_t, (double)tokens[granted], now);
        if (wt > w)
            w = wt;
        if (w > 0) {
            *wait_s = w;
            break;
        }
        bf_bucket_take(&f->share_r, 1, now);
        bf_bucket_take(&f->share_t, (double)tokens[granted], now);
    }
    f->st.shared = false;
    f->st.fallbacks++;
    return granted;
}

static void on_reply(bf_redis_t *redis, bf_err_t err, redisReply *reply, void *opaque);

/* Send the acquisition built in f->argv (the client sends it as EVALSHA,
 * and as EVAL again if Redis forgot the script: libbf/redis.c). */
static bf_err_t send_command(bf_ai_fleet_t *f)
{
    f->argv[A_CMD] = "EVAL";
    f->argv[A_SCRIPT] = bf_ai_fleet_script;
    for (int i = 0; i < A_FIXED + f->n; i++)
        f->lens[i] = i == A_SCRIPT ? sizeof(bf_ai_fleet_script) - 1 : strlen(f->argv[i]);
    return bf_redis_command_argv(f->redis, on_reply, f, A_FIXED + f->n, f->argv, f->lens);
}

/* Redis could not answer: the local share does, and Redis is left alone
 * for DOWN_FOR_S. Logged once per outage (and counted in st.fallbacks),
 * unless @p why is NULL (a shutdown).
 * What the acquisition carried (a cut, tokens to settle) is lost with it:
 * the next 429 says it again. */
static int went_local(bf_ai_fleet_t *f, const char *why, const long *tokens, int n,
                      double now, double *wait_s)
{
    if ((f->st.shared || f->st.fallbacks == 0) && why)
        bf_log(BF_LOG_WARN, "ai", "shared_limit_unavailable", BF_LSTR("key", f->key),
               BF_LSTR("error", why), BF_LINT("workers_last_seen", f->st.workers),
               BF_LDBL("share_rpm",
                       f->st.rpm / (double)(f->st.workers > 1 ? f->st.workers : 1)));
    f->down_until = now + DOWN_FOR_S;
    f->busy = false;
    return share_grant(f, tokens, n, now, wait_s);
}

static long integer_at(const redisReply *reply, size_t i)
{
    const redisReply *e = reply->element[i];
    return e->type == REDIS_REPLY_INTEGER ? (long)e->integer : -1;
}

static void on_reply(bf_redis_t *redis, bf_err_t err, redisReply *reply, void *opaque)
{
    (void)redis;
    bf_ai_fleet_t *f = opaque;
    if (f->closing) {
        fleet_free(f);
        return;
    }
    if (err != BF_OK || !reply || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements != 5) {
        /* BF_ERR_STATE: the client is closing (a shutdown), nothing to say. */
        const char *why = err == BF_ERR_STATE ? NULL
                          : reply && reply->type == REDIS_REPLY_ERROR
                              ? reply->str
                              : bf_err_str(err ? err : BF_ERR_REDIS);
        /* Late (a timeout takes the command's whole timeout): the share is
         * taken at the time of the answer, on the loop's clock. */
        double wait;
        int granted = went_local(f, why, f->tokens, f->n, bf_monotonic_s(), &wait);
        f->cb(granted, wait, f->opaque);
        return;
    }
    long granted = integer_at(reply, 0), wait_ms = integer_at(reply, 1);
    long rpm_milli = integer_at(reply, 2), tpm = integer_at(reply, 3);
    long live = integer_at(reply, 4);
    if (!f->st.shared && f->st.fallbacks > 0)
        bf_log(BF_LOG_INFO, "ai", "shared_limit_available", BF_LSTR("key", f->key));
    f->st.shared = true;
    if (rpm_milli >= 0 && f->rpm > 0)
        f->st.rpm = (double)rpm_milli / 1000.0;
    if (tpm >= 0 && f->tpm > 0)
        f->st.tpm = (double)tpm;
    if (live > 0)
        f->st.workers = live;
    if (granted < 0 || granted > f->n)
        granted = 0;
    f->busy = false;
    f->cb((int)granted, wait_ms > 0 ? (double)wait_ms / 1000.0 : 0, f->opaque);
}

bool bf_ai_fleet_acquire(bf_ai_fleet_t *f, const long *tokens, int n, double now,
                         bf_ai_fleet_cb *cb, void *opaque, int *granted, double *wait_s)
{
    if (n > BF_AI_FLEET_BATCH)
        n = BF_AI_FLEET_BATCH;
    if (!f->redis || now < f->down_until) {
        *granted = share_grant(f, tokens, n, now, wait_s);
        return true;
    }
    f->busy = true;
    f->cb = cb;
    f->opaque = opaque;
    f->n = n;
    if (n > 0) /* n = 0 (only what was learned) may come with no array */
        memcpy(f->tokens, tokens, (size_t)n * sizeof(*tokens));
    bool reg = now - f->registered_at >= REGISTER_EVERY_S;
    f->argv[A_WORKER] = reg ? f->worker : "";
    format_long(f->num[A_GIVE], f->give_back);
    format_long(f->num[A_OK], f->ok);
    format_long(f->num[A_CUTS], f->cuts);
    format_long(f->num[A_HOLD], (long)ceil(f->hold_s * 1000));
    format_long(f->num[A_SAID_R], (long)f->said_r);
    format_long(f->num[A_SAID_T], (long)f->said_t);
    for (int i = 0; i < n; i++)
        format_long(f->num[A_FIXED + i], tokens[i]);
    if (send_command(f) != BF_OK) {
        *granted = went_local(f, "redis not connected", tokens, n, now, wait_s);
        return true;
    }
    /* Sent: what it carried is the fleet's now. */
    if (reg)
        f->registered_at = now;
    f->give_back = 0;
    f->ok = 0;
    f->cuts = 0;
    f->hold_s = 0;
    if (f->said_r > 0)
        f->sent_r = f->said_r;
    if (f->said_t > 0)
        f->sent_t = f->said_t;
    f->said_r = f->said_t = 0;
    return false;
}
