/*
 * override.c - the manual scale override and its endpoint (see
 * override.h).
 *
 * The token check hashes both sides with SHA-256 and compares the digests
 * with CRYPTO_memcmp: the time taken depends neither on where the tokens
 * differ nor on their lengths, so the endpoint cannot be used as an oracle
 * to guess the token byte by byte (RFC 6750 section 5.2 asks for the
 * token to be protected; a timing side channel would defeat that).
 */
#include "autoscaler/override.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libbf/clock.h"
#include "libbf/log.h"
#include "libbf/mem.h"

struct bf_override_s {
    unsigned char token_sha256[32];
    bool enabled; /* a token is configured */
    int64_t max_workers;
    bf_series_t *gauge; /* borrowed, may be NULL */
    pthread_mutex_t lock;
    bool active; /* guarded by lock, like the three below */
    bf_override_state_t state;
    double expires_at; /* monotonic seconds */
};

static void sha256(const char *text, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    if (!EVP_Digest(text, len, out, &n, EVP_sha256(), NULL) || n != 32)
        abort(); /* only on out-of-memory: our policy is to abort (mem.h) */
}

bf_override_t *bf_override_new(const char *admin_token, int64_t max_workers)
{
    bf_override_t *ov = bf_calloc(1, sizeof(*ov));
    ov->enabled = admin_token && *admin_token;
    if (ov->enabled)
        sha256(admin_token, strlen(admin_token), ov->token_sha256);
    ov->max_workers = max_workers;
    pthread_mutex_init(&ov->lock, NULL);
    return ov;
}

void bf_override_destroy(bf_override_t *ov)
{
    if (!ov)
        return;
    OPENSSL_cleanse(ov->token_sha256, sizeof(ov->token_sha256));
    pthread_mutex_destroy(&ov->lock);
    free(ov);
}

/* The gauge follows the state; called with the lock held. */
static void show(bf_override_t *ov)
{
    if (ov->gauge)
        bf_series_set(ov->gauge, ov->active ? (double)ov->state.replicas : -1);
}

void bf_override_set_gauge(bf_override_t *ov, bf_series_t *gauge)
{
    pthread_mutex_lock(&ov->lock);
    ov->gauge = gauge;
    show(ov);
    pthread_mutex_unlock(&ov->lock);
}

int bf_override_authorize(const bf_override_t *ov, const char *authorization)
{
    if (!ov || !ov->enabled)
        return 403;
    /* RFC 6750 section 2.1: "Bearer" (case-insensitive, RFC 7235 section
     * 2.1), one or more spaces, the token. */
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 401;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    unsigned char got[32];
    sha256(token, strlen(token), got);
    return CRYPTO_memcmp(got, ov->token_sha256, sizeof(got)) == 0 ? 200 : 401;
}

/* UTF-8 (jansson checked it) without control characters: the reason goes
 * into log lines and the decision's reasoning as it is. */
static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

bf_err_t bf_override_parse(const char *body, size_t len, bf_override_state_t *out,
                           char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *j =
        json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    bf_err_t err = BF_OK;
    if (!j) {
        err = bf_seterr(BF_ERR_PARSE, errstr, errstr_size, "body is not JSON: %s",
                        jerr.text);
        goto out;
    }
    if (!json_is_object(j)) {
        err = bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                        "body must be a JSON object {\"replicas\", \"ttl_seconds\", "
                        "\"reason\"}");
        goto out;
    }
    const char *key;
    json_t *value;
    json_object_foreach(j, key, value)
    {
        if (strcmp(key, "replicas") != 0 && strcmp(key, "ttl_seconds") != 0 &&
            strcmp(key, "reason") != 0) {
            err =
                bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                          "unknown field \"%.40s\" (replicas, ttl_seconds, reason)", key);
            goto out;
        }
    }
    const json_t *replicas = json_object_get(j, "replicas");
    const json_t *ttl = json_object_get(j, "ttl_seconds");
    const json_t *reason = json_object_get(j, "reason");
    if (!json_is_integer(replicas) || json_integer_value(replicas) < 0 ||
        json_integer_value(replicas) > BF_DECIDE_MAX_WORKERS) {
        err =
            bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                      "\"replicas\" must be an integer in 0..%d", BF_DECIDE_MAX_WORKERS);
        goto out;
    }
    if (!json_is_number(ttl) || !(json_number_value(ttl) > 0) ||
        json_number_value(ttl) > BF_OVERRIDE_MAX_TTL_S) {
        err = bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                        "\"ttl_seconds\" must be a number above 0 and at most %.0f",
                        BF_OVERRIDE_MAX_TTL_S);
        goto out;
    }
    if (!json_is_string(reason) || json_string_length(reason) == 0 ||
        json_string_length(reason) > BF_OVERRIDE_MAX_REASON ||
        strlen(json_string_value(reason)) != json_string_length(reason) ||
        !printable(json_string_value(reason))) {
        err = bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                        "\"reason\" must be 1..%d bytes of text without control "
                        "characters (who and why, for the log)",
                        BF_OVERRIDE_MAX_REASON);
        goto out;
    }
    out->active = true;
    out->replicas = (int64_t)json_integer_value(replicas);
    out->ttl_s = out->expires_in_s = json_number_value(ttl);
    snprintf(out->reason, sizeof(out->reason), "%s", json_string_value(reason));
out:
    json_decref(j);
    return err;
}

void bf_override_set(bf_override_t *ov, const bf_override_state_t *st, double now)
{
    pthread_mutex_lock(&ov->lock);
    ov->active = true;
    ov->state = *st;
    ov->expires_at = now + st->ttl_s;
    show(ov);
    pthread_mutex_unlock(&ov->lock);
    bf_log(BF_LOG_INFO, "autoscaler", "override_set", BF_LINT("replicas", st->replicas),
           BF_LDBL("ttl_s", st->ttl_s), BF_LSTR("reason", st->reason),
           BF_LINT("max", ov->max_workers));
}

/* Called with the lock held. */
static void clear_locked(bf_override_t *ov, const char *why)
{
    bf_log(BF_LOG_INFO, "autoscaler", "override_cleared", BF_LSTR("why", why),
           BF_LINT("replicas", ov->state.replicas), BF_LSTR("reason", ov->state.reason));
    ov->active = false;
    memset(&ov->state, 0, sizeof(ov->state));
    show(ov);
}

bool bf_override_clear(bf_override_t *ov, const char *why)
{
    pthread_mutex_lock(&ov->lock);
    bool was = ov->active;
    if (was)
        clear_locked(ov, why);
    pthread_mutex_unlock(&ov->lock);
    return was;
}

void bf_override_get(bf_override_t *ov, double now, bf_override_state_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!ov)
        return;
    pthread_mutex_lock(&ov->lock);
    if (ov->active && now >= ov->expires_at)
        clear_locked(ov, "expired");
    if (ov->active) {
        *out = ov->state;
        out->expires_in_s = ov->expires_at - now;
    }
    pthread_mutex_unlock(&ov->lock);
}

void bf_override_apply(const bf_override_state_t *st, const bf_decide_policy_t *policy,
                       const bf_budget_status_t *budget, bf_decision_t *d)
{
    if (!st || !st->active)
        return;
    int64_t current = d->current_workers, target = st->replicas;
    const char *capped = "";
    if (target > policy->max_workers) {
        target = policy->max_workers;
        capped = ", capped at --max";
    }
    if (budget && budget->limited && target > current &&
        target > budget->allowed_workers) {
        target = budget->allowed_workers > current ? budget->allowed_workers : current;
        capped = ", held back by the budget";
    }
    char rule[sizeof(d->reasoning)];
    snprintf(rule, sizeof(rule), "%s", d->reasoning);
    /* The override first: the reasoning is cut at its end when too long,
     * which then falls in the rule's own text (ASCII we wrote), so the
     * operator's reason (at most 200 bytes, checked UTF-8) survives whole
     * and the cut never splits a character. */
    int n = snprintf(d->reasoning, sizeof(d->reasoning),
                     "manual override to %lld workers%s (\"%s\", %.0fs left); the rule "
                     "wanted %lld: %s",
                     (long long)st->replicas, capped, st->reason, ceil(st->expires_in_s),
                     (long long)d->target_workers, rule);
    if (n < 0)
        d->reasoning[0] = '\0';
    d->target_workers = target;
    d->action = target > current   ? BF_SCALE_UP
                : target < current ? BF_SCALE_DOWN
                                   : BF_SCALE_HOLD;
    d->overridden = true;
    d->override_replicas = st->replicas;
}

/* ---- the endpoint -------------------------------------------------------- */

static char *state_json(const bf_override_t *ov, const bf_override_state_t *st)
{
    json_t *o = st->active ? json_pack("{s:{s:I, s:I, s:f, s:f, s:s}}", "override",
                                       "replicas", (json_int_t)st->replicas, "max",
                                       (json_int_t)ov->max_workers, "ttl_seconds",
                                       st->ttl_s, "expires_in_seconds", st->expires_in_s,
                                       "reason", st->reason)
                           : json_pack("{s:n}", "override");
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        abort(); /* out of memory only: the reason is checked UTF-8 */
    return text;
}

static char *error_json(const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text ? text : bf_strdup("{\"error\":\"invalid request\"}");
}

void bf_override_http(void *opaque, const bf_httpd_request_t *req, int *status,
                      const char **content_type, char **body)
{
    bf_override_t *ov = opaque;
    *content_type = "application/json";
    *status = bf_override_authorize(ov, req->authorization);
    if (*status == 403) {
        *body = error_json("the override endpoint is disabled: set "
                           "AUTOSCALER_ADMIN_TOKEN or AUTOSCALER_ADMIN_TOKEN_FILE");
        return;
    }
    if (*status == 401) {
        bf_log(BF_LOG_WARN, "autoscaler", "override_unauthorized",
               BF_LSTR("method", req->method),
               BF_LSTR("why", req->authorization ? "wrong token" : "no token"));
        *body = error_json("a valid \"Authorization: Bearer <token>\" is required");
        return;
    }
    double now = bf_monotonic_s();
    bf_override_state_t st;
    if (strcmp(req->method, "PUT") == 0) {
        char errstr[256];
        if (bf_override_parse(req->body, req->body_len, &st, errstr, sizeof(errstr))) {
            *status = 400;
            *body = error_json(errstr);
            return;
        }
        bf_override_set(ov, &st, now);
    } else if (strcmp(req->method, "DELETE") == 0) {
        bf_override_clear(ov, "deleted");
    } else if (strcmp(req->method, "GET") != 0) {
        *status = 405;
        *body = error_json("GET, PUT or DELETE");
        return;
    }
    bf_override_get(ov, now, &st);
    *status = 200;
    *body = state_json(ov, &st);
}
