/*
 * test_dedup.c - content fingerprints and the claim script
 * (worker/dedup.c).
 *
 * The fingerprint decides which reports are "the same write-up": cosmetic
 * differences (case, white space, Markdown marks, http vs https) and who
 * sent it must not matter; any change of substance must. The claim script
 * is then run against a real redis-server on a free loopback port, walking
 * its state machine one story per test: claimed, duplicate, claimed again
 * by the same worker, busy, cached, and the published flag.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "support/stack.h"
#include "worker/dedup.h"

/* ---- fingerprints -------------------------------------------------------- */

/* The five fields that make up a report's content. */
typedef struct text_s {
    const char *title, *asset, *description, *steps, *impact;
} text_t;

static const text_t base = {
    .title = "Stored XSS in profile name",
    .asset = "https://app.example.com/profile",
    .description = "The profile name field is rendered without escaping.",
    .steps = "1. Log in 2. Set name to <script>alert(1)</script> 3. Open the profile",
    .impact = "Session theft for any visitor",
};

static void fingerprint_of(const text_t *t, char out[BF_FINGERPRINT_LEN])
{
    bf_report_t r = {
        .report_id = (char *)"r-1",
        .program = (char *)"acme",
        .reporter = (char *)"alice",
        .title = (char *)t->title,
        .asset = (char *)t->asset,
        .description = (char *)t->description,
        .steps_to_reproduce = (char *)t->steps,
        .impact = (char *)t->impact,
    };
    bf_dedup_fingerprint(&r, out);
}

static void test_fingerprint_is_64_lowercase_hex(void **unused)
{
    (void)unused;
    char fp[BF_FINGERPRINT_LEN];
    fingerprint_of(&base, fp);
    assert_int_equal(strlen(fp), 64);
    assert_int_equal(strspn(fp, "0123456789abcdef"), 64);
    /* Deterministic: the same content always gives the same key. */
    char again[BF_FINGERPRINT_LEN];
    fingerprint_of(&base, again);
    assert_string_equal(fp, again);
    /* And the same key in every release: fingerprints stored by an older
     * worker must still match. Computed independently (Python: the same
     * normalisation, fields joined by 0x1F, hashlib.sha256). */
    assert_string_equal(
        fp, "51148ec3feae10ac5bb4dc15f25188aed49e9b5cbcbaa0e8d349bc4d4d64efca");
}

static void test_sender_and_times_do_not_change_fingerprint(void **unused)
{
    (void)unused;
    char a[BF_FINGERPRINT_LEN], b[BF_FINGERPRINT_LEN];
    fingerprint_of(&base, a);
    bf_report_t other = {
        .report_id = (char *)"r-2",
        .submitted_at_ms = 1404363977257,
        .program = (char *)"globex",
        .reporter = (char *)"mallory",
        .title = (char *)base.title,
        .asset = (char *)base.asset,
        .weakness = (char *)"CWE-79",
        .claimed_severity = (char *)"CRITICAL",
        .cvss_vector = (char *)"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        .description = (char *)base.description,
        .steps_to_reproduce = (char *)base.steps,
        .impact = (char *)base.impact,
    };
    bf_dedup_fingerprint(&other, b);
    assert_string_equal(a, b);
}

typedef struct variant_s {
    const char *name;
    text_t text;
    bool same; /* same fingerprint as base? */
} variant_t;

static const variant_t variants[] = {
    {"upper case",
     {"STORED XSS IN PROFILE NAME", "HTTPS://APP.EXAMPLE.COM/PROFILE", base.description,
      base.steps, base.impact},
     true},
    {"white space runs",
     {"  Stored   XSS\tin\n\nprofile  name \n", base.asset,
      "The profile name field\r\nis rendered without escaping.  ", base.steps,
      base.impact},
     true},
    {"markdown marks",
     {"# **Stored** _XSS_ in `profile` name", base.asset,
      "> The *profile* name field is rendered without escaping.", base.steps,
      base.impact},
     true},
    {"http instead of https",
     {base.title, "http://app.example.com/profile", base.description, base.steps,
      base.impact},
     true},
    {"a changed word",
     {"Stored XSS in profile bio", base.asset, base.description, base.steps, base.impact},
     false},
    {"a different asset",
     {base.title, "https://api.example.com/profile", base.description, base.steps,
      base.impact},
     false},
    {"text moved from title to description",
     {"Stored XSS in profile", base.asset,
      "name The profile name field is rendered without escaping.", base.steps,
      base.impact},
     false},
    {"impact moved into steps",
     {base.title, base.asset, base.description,
      "1. Log in 2. Set name to <script>alert(1)</script> 3. Open the profile Session "
      "theft "
      "for any visitor",
      ""},
     false},
    {"a missing space",
     {"Stored XSS in profilename", base.asset, base.description, base.steps, base.impact},
     false},
};

static void test_fingerprint_ignores_form_and_sees_substance(void **unused)
{
    (void)unused;
    char want[BF_FINGERPRINT_LEN];
    fingerprint_of(&base, want);
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        char got[BF_FINGERPRINT_LEN];
        fingerprint_of(&variants[i].text, got);
        bool same = strcmp(got, want) == 0;
        if (same != variants[i].same)
            fail_msg("%s: fingerprint %s, want %s", variants[i].name,
                     same ? "unchanged" : "changed",
                     variants[i].same ? "unchanged" : "changed");
    }
}

static void test_separator_byte_in_text_cannot_forge_field_boundary(void **unused)
{
    (void)unused;
    /* Regression: the fields are joined with 0x1F and reports may carry
     * control characters, so the normalizer reads them as white space;
     * otherwise "\u001f" in a title could shift text across the field
     * boundary and two different reports would share one fingerprint. */
    /* Reachable from outside: a report with the byte passes validation. */
    json_t *obj = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s}", "report_id", "r-1",
                            "submitted_at", (json_int_t)0, "program", "acme", "reporter",
                            "mallory", "title", "Stored XSS\x1fhttps://app.example.com",
                            "asset", "/profile", "description", base.description);
    bf_report_t *r = NULL;
    char errstr[256];
    assert_int_equal(bf_report_from_json(obj, &r, errstr, sizeof(errstr)), BF_OK);
    bf_report_destroy(r);
    json_decref(obj);

    text_t a = base, b = base;
    a.title = "Stored XSS\x1fhttps://app.example.com";
    a.asset = "/profile";
    b.title = "Stored XSS";
    b.asset = "https://app.example.com\x1f/profile";
    char fa[BF_FINGERPRINT_LEN], fb[BF_FINGERPRINT_LEN];
    fingerprint_of(&a, fa);
    fingerprint_of(&b, fb);
    assert_string_not_equal(fa, fb);
}

/* ---- the claim script on a real redis-server ----------------------------- */

#define REDIS_SERVER "/usr/bin/redis-server"
#define DEDUP_TTL_S  "3600"
#define LEASE_MS     "60000"

typedef struct redis_fixture_s {
    char dir[64];
    bf_proc_t proc;
    redisContext *c;
    char fp[BF_FINGERPRINT_LEN]; /* the content every claim test is about */
} redis_fixture_t;

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Connect to the server on @p port, waiting until it listens or exits. */
static redisContext *connect_when_ready(bf_proc_t *p, int port)
{
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    while (bf_test_now() < deadline && !bf_proc_exited(p, NULL)) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
        if (c && !c->err) {
            redisReply *pong = redisCommand(c, "PING");
            bool up = pong && pong->type == REDIS_REPLY_STATUS;
            freeReplyObject(pong);
            if (up)
                return c;
        }
        redisFree(c);
        pause_ms(20);
    }
    return NULL;
}

static int start_redis(void **state)
{
    *state = NULL;
    if (access(REDIS_SERVER, X_OK) != 0)
        return 0; /* the tests skip */
    redis_fixture_t *f = calloc(1, sizeof(*f));
    fingerprint_of(&base, f->fp);
    snprintf(f->dir, sizeof(f->dir), "/tmp/bf-test-dedup-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    /* A free port can be taken between the probe and the bind: retry. */
    for (int attempt = 0; attempt < 3 && !f->c; attempt++) {
        char port[16];
        int p = bf_test_free_port();
        snprintf(port, sizeof(port), "%d", p);
        const char *argv[] = {REDIS_SERVER, "--port", port,   "--bind",
                              "127.0.0.1",  "--save", "",     "--appendonly",
                              "no",         "--dir",  f->dir, NULL};
        if (bf_proc_start(&f->proc, "redis", f->dir, argv, NULL, false, 5) != 0)
            continue;
        f->c = connect_when_ready(&f->proc, p);
        if (!f->c) {
            bf_proc_dump_log(&f->proc, 20);
            bf_proc_stop(&f->proc, SIGKILL, 5);
        }
    }
    *state = f;
    return f->c ? 0 : -1;
}

static int stop_redis(void **state)
{
    redis_fixture_t *f = *state;
    if (!f)
        return 0;
    redisFree(f->c);
    int status = bf_proc_stop(&f->proc, SIGTERM, 10); /* kill + waitpid */
    unlink(f->proc.log_path);
    if (rmdir(f->dir) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return status == 0 ? 0 : -1;
}

/* The fixture for a test, on an empty database; skips without redis. */
static redis_fixture_t *empty_redis(void **state)
{
    redis_fixture_t *f = *state;
    if (!f)
        skip();
    redisReply *r = redisCommand(f->c, "FLUSHALL");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    return f;
}

/* Run one command whose reply does not matter beyond not being an error. */
static void run(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", fmt, r->str);
    freeReplyObject(r);
}

static long long integer_reply(redisContext *c, const char *fmt, const char *key)
{
    redisReply *r = redisCommand(c, fmt, key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

typedef struct claim_s {
    char state[16];
    char value[256]; /* "" when the script returned false */
    long long published;
    char taken_over[64]; /* the dead holder a claim replaced, or "" */
} claim_t;

/* The keys of one report, as the worker names them. */
typedef struct keys_s {
    char fp[96], result[96], lease[96], pub[96];
} keys_t;

static keys_t keys_for(const char *fingerprint, const char *report_id)
{
    keys_t k;
    snprintf(k.fp, sizeof(k.fp), "bf:fp:%s", fingerprint);
    snprintf(k.result, sizeof(k.result), "bf:result:%s", report_id);
    snprintf(k.lease, sizeof(k.lease), "bf:lease:%s", report_id);
    snprintf(k.pub, sizeof(k.pub), "bf:pub:%s", report_id);
    return k;
}

/* Run @p script as the worker does for report @p report_id with the
 * fixture's content. */
static claim_t run_script(const redis_fixture_t *f, const char *script,
                          const char *report_id, const char *worker_id,
                          const char *lease_ms)
{
    keys_t k = keys_for(f->fp, report_id);
    const char *argv[] = {"EVAL",    script,      "4",      k.fp,
                          k.result,  k.lease,     k.pub,    report_id,
                          worker_id, DEDUP_TTL_S, lease_ms, "bf:alive:"};
    redisReply *r = redisCommandArgv(f->c, 12, argv, NULL);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("claim script: %s", r->str);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 4);
    claim_t out = {0};
    assert_int_equal(r->element[0]->type, REDIS_REPLY_STRING);
    snprintf(out.state, sizeof(out.state), "%s", r->element[0]->str);
    if (r->element[1]->type == REDIS_REPLY_STRING)
        snprintf(out.value, sizeof(out.value), "%s", r->element[1]->str);
    assert_int_equal(r->element[2]->type, REDIS_REPLY_INTEGER);
    out.published = r->element[2]->integer;
    if (r->element[3]->type == REDIS_REPLY_STRING)
        snprintf(out.taken_over, sizeof(out.taken_over), "%s", r->element[3]->str);
    freeReplyObject(r);
    return out;
}

/* Worker @p id renews its liveness key (liveness.c), or stops (NULL ttl). */
static void set_alive(const redis_fixture_t *f, const char *id, const char *ttl_ms)
{
    redisReply *r = ttl_ms ? redisCommand(f->c, "SET bf:alive:%s 1 PX %s", id, ttl_ms)
                           : redisCommand(f->c, "DEL bf:alive:%s", id);
    assert_non_null(r);
    freeReplyObject(r);
}

static claim_t claim_with_lease(const redis_fixture_t *f, const char *report_id,
                                const char *worker_id, const char *lease_ms)
{
    return run_script(f, bf_dedup_claim_script, report_id, worker_id, lease_ms);
}

/* @p worker_id claims @p report_id and must get {state, value, published}. */
static void expect_claim(const redis_fixture_t *f, const char *report_id,
                         const char *worker_id, const char *state, const char *value,
                         long long published)
{
    claim_t got = claim_with_lease(f, report_id, worker_id, LEASE_MS);
    if (strcmp(got.state, state) != 0 || strcmp(got.value, value) != 0 ||
        got.published != published)
        fail_msg("%s by %s: {%s, \"%s\", %lld}, want {%s, \"%s\", %lld}", report_id,
                 worker_id, got.state, got.value, got.published, state, value, published);
}

static void test_first_report_claims_its_content(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    expect_claim(f, "r-1", "w-1", "claimed", "r-1", 0);
    /* The content now belongs to r-1, for the dedup TTL; w-1 holds the
     * lease, for the lease time. */
    keys_t k = keys_for(f->fp, "r-1");
    redisReply *owner = redisCommand(f->c, "GET %s", k.fp);
    assert_string_equal(owner->str, "r-1");
    freeReplyObject(owner);
    long long ttl = integer_reply(f->c, "TTL %s", k.fp);
    assert_true(ttl > 0 && ttl <= atoll(DEDUP_TTL_S));
    redisReply *holder = redisCommand(f->c, "GET %s", k.lease);
    assert_string_equal(holder->str, "w-1");
    freeReplyObject(holder);
    long long pttl = integer_reply(f->c, "PTTL %s", k.lease);
    assert_true(pttl > 0 && pttl <= atoll(LEASE_MS));
}

static void test_dry_run_peek_answers_like_a_claim_and_writes_nothing(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    claim_t got = run_script(f, bf_dedup_peek_script, "r-1", "w-dry", LEASE_MS);
    assert_string_equal(got.state, "claimed");
    redisReply *n = redisCommand(f->c, "DBSIZE");
    assert_int_equal(n->integer, 0); /* no fingerprint, no lease */
    freeReplyObject(n);
    expect_claim(f, "r-1", "w-1", "claimed", "r-1", 0);
    got = run_script(f, bf_dedup_peek_script, "r-2", "w-dry", LEASE_MS);
    assert_string_equal(got.state, "duplicate");
    assert_string_equal(got.value, "r-1");
    got = run_script(f, bf_dedup_peek_script, "r-1", "w-dry", LEASE_MS);
    assert_string_equal(got.state, "reclaimed");
}

static void test_same_content_other_id_is_duplicate_of_owner(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    expect_claim(f, "r-1", "w-1", "claimed", "r-1", 0);
    /* Another sender, another worker: still r-1's content. */
    expect_claim(f, "r-2", "w-2", "duplicate", "r-1", 0);
    expect_claim(f, "r-2", "w-1", "duplicate", "r-1", 0);
}

static void test_redelivery_without_result_is_claimed_again_by_same_worker(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    expect_claim(f, "r-1", "w-1", "claimed", "r-1", 0);
    /* Reclaimed: the content is already r-1's (its AI answers may be in
     * the response cache). */
    expect_claim(f, "r-1", "w-1", "reclaimed", "r-1", 0);
}

static void test_other_worker_is_busy_while_lease_held(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    set_alive(f, "w-1", "60000");
    expect_claim(f, "r-1", "w-1", "claimed", "r-1", 0);
    expect_claim(f, "r-1", "w-2", "busy", "w-1", 0);
}

/* A lease blocks others only while its holder is alive: once w-1's
 * liveness key is gone (killed, not renewed for --liveness-ttl), w-2
 * claims the report at once, long before the lease would run out, and
 * learns whose claim it replaced. */
static void test_claims_of_a_dead_worker_are_taken_over(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    set_alive(f, "w-1", "60000");
    expect_claim(f, "r-1", "w-1", "claimed", "r-1", 0);
    set_alive(f, "w-1", NULL);
    claim_t got = claim_with_lease(f, "r-1", "w-2", LEASE_MS);
    assert_string_equal(got.state, "reclaimed");
    assert_string_equal(got.taken_over, "w-1");
    keys_t k = keys_for(f->fp, "r-1");
    redisReply *holder = redisCommand(f->c, "GET %s", k.lease);
    assert_string_equal(holder->str, "w-2");
    freeReplyObject(holder);
    /* w-2 is alive: now w-1, back under the same id, waits for it. */
    set_alive(f, "w-2", "60000");
    expect_claim(f, "r-1", "w-1", "busy", "w-2", 0);
    /* An expiring key counts as dead once it expired. */
    set_alive(f, "w-2", "30");
    double deadline = bf_test_now() + 5 * bf_test_timeout_mult();
    while (integer_reply(f->c, "EXISTS %s", "bf:alive:w-2") == 1) {
        if (bf_test_now() > deadline)
            fail_msg("the liveness key did not expire");
        pause_ms(10);
    }
    got = claim_with_lease(f, "r-1", "w-3", LEASE_MS);
    assert_string_equal(got.state, "reclaimed");
    assert_string_equal(got.taken_over, "w-2");
}

static void test_other_worker_claims_after_lease_expires(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    claim_t first = claim_with_lease(f, "r-1", "w-1", "50");
    assert_string_equal(first.state, "claimed");
    /* w-1 died: wait for its lease to lapse rather than sleeping blindly. */
    keys_t k = keys_for(f->fp, "r-1");
    double deadline = bf_test_now() + 5 * bf_test_timeout_mult();
    while (integer_reply(f->c, "EXISTS %s", k.lease) == 1) {
        if (bf_test_now() > deadline)
            fail_msg("lease %s did not expire", k.lease);
        pause_ms(10);
    }
    expect_claim(f, "r-1", "w-2", "reclaimed", "r-1", 0);
}

static void test_stored_result_is_returned_as_cached(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    expect_claim(f, "r-1", "w-1", "claimed", "r-1", 0);
    run(f->c, "SET %s %s", keys_for(f->fp, "r-1").result, "encoded-result");
    /* A redelivery reuses the result, whoever gets it and even while the
     * lease is still held: no second AI spend. */
    expect_claim(f, "r-1", "w-1", "cached", "encoded-result", 0);
    expect_claim(f, "r-1", "w-2", "cached", "encoded-result", 0);
    /* A different report with the same content is still a duplicate. */
    expect_claim(f, "r-2", "w-2", "duplicate", "r-1", 0);
}

static void test_published_flag_is_reported(void **state)
{
    redis_fixture_t *f = empty_redis(state);
    keys_t k = keys_for(f->fp, "r-1");
    set_alive(f, "w-1", "60000");
    expect_claim(f, "r-1", "w-1", "claimed", "r-1", 0);
    run(f->c, "SET %s %s", k.result, "encoded-result");
    expect_claim(f, "r-1", "w-1", "cached", "encoded-result", 0);
    run(f->c, "SET %s %s", k.pub, "1");
    expect_claim(f, "r-1", "w-1", "cached", "encoded-result", 1);
    /* The flag belongs to the report asked about, in every state. */
    run(f->c, "DEL %s", k.result);
    expect_claim(f, "r-1", "w-1", "reclaimed", "r-1", 1);
    expect_claim(f, "r-1", "w-2", "busy", "w-1", 1);
    expect_claim(f, "r-2", "w-2", "duplicate", "r-1", 0);
}

int main(void)
{
    const struct CMUnitTest fingerprint_tests[] = {
        cmocka_unit_test(test_fingerprint_is_64_lowercase_hex),
        cmocka_unit_test(test_sender_and_times_do_not_change_fingerprint),
        cmocka_unit_test(test_fingerprint_ignores_form_and_sees_substance),
        cmocka_unit_test(test_separator_byte_in_text_cannot_forge_field_boundary),
    };
    const struct CMUnitTest claim_tests[] = {
        cmocka_unit_test(test_first_report_claims_its_content),
        cmocka_unit_test(test_dry_run_peek_answers_like_a_claim_and_writes_nothing),
        cmocka_unit_test(test_same_content_other_id_is_duplicate_of_owner),
        cmocka_unit_test(test_redelivery_without_result_is_claimed_again_by_same_worker),
        cmocka_unit_test(test_other_worker_is_busy_while_lease_held),
        cmocka_unit_test(test_claims_of_a_dead_worker_are_taken_over),
        cmocka_unit_test(test_other_worker_claims_after_lease_expires),
        cmocka_unit_test(test_stored_result_is_returned_as_cached),
        cmocka_unit_test(test_published_flag_is_reported),
    };
    int failed =
        cmocka_run_group_tests_name("fingerprint", fingerprint_tests, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("claim script", claim_tests, start_redis, stop_redis);
    return failed;
}
