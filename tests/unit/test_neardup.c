/*
 * test_neardup.c - near-duplicate signatures and the near-duplicate script
 * (worker/neardup.c, worker/neardup_script.c).
 *
 * The signature must call the same write-up 1.0 however it is dressed,
 * keep a re-worded one above the threshold and an unrelated one far below
 * it, never match across assets, and be the same on every run (stored
 * signatures are compared with new ones across workers and restarts). The
 * script is then run against a real redis-server: original, duplicate,
 * other asset, redelivery, and two near duplicates racing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "libbf/redis.h"
#include "support/redis_server.h"
#include "worker/neardup.h"

/* ---- reports ---------------------------------------------------------------- */

#define ASSET "https://shop.example.com"

static const char *const idor_title = "IDOR in order API exposes other customers' orders";
static const char *const idor_description =
    "## Summary\n"
    "The endpoint `GET /api/v2/orders/{id}` returns the full order for any id, "
    "without checking that the order belongs to the logged-in customer. "
    "Order ids are sequential, so an attacker can enumerate every order in the shop.\n\n"
    "## Details\n"
    "Each order contains the customer's name, shipping address, phone number and the "
    "last four digits of the card. I only accessed two orders of my own test accounts "
    "to confirm the issue and stopped there.\n\n"
    "See https://shop.example.com/api/v2/orders/1000234 for a sample request.";
static const char *const idor_steps =
    "1. Log in as customer A and place an order.\n"
    "2. Log in as customer B in another browser.\n"
    "3. Request the order of customer A with the session of customer B.\n"
    "4. The response contains the order of customer A.";
static const char *const idor_impact =
    "Any customer can read the personal data of every other customer.";

/* The same issue, re-worded by a second reporter: other Markdown, http
 * instead of https, another sample id, sentences moved, a few words
 * changed, one sentence dropped and one added. */
static const char *const reworded_title =
    "IDOR in the order API exposes other customers' orders";
static const char *const reworded_description =
    "**Summary**: the endpoint GET /api/v2/orders/{id} returns the full order for any "
    "id, without checking that the order belongs to the logged-in customer. "
    "Order ids are sequential, so an attacker can enumerate every order in the shop. "
    "Each order contains the customer's name, shipping address, phone number and the "
    "last four digits of the card.\n\n"
    "Sample request: http://shop.example.com/api/v2/orders/1000871\n\n"
    "Thanks for running this program!";
static const char *const reworded_steps =
    "- Log in as customer A and place an order\n"
    "- Log in as customer B in another browser\n"
    "- Request the order of customer A with the session of customer B\n"
    "- The response contains the order of customer A";
static const char *const reworded_impact =
    "Any customer can read personal data of every other customer.";

static const char *const ssrf_title = "SSRF in the image proxy reaches cloud metadata";
static const char *const ssrf_description =
    "The avatar upload accepts a URL and fetches it server side. Pointing it at "
    "http://169.254.169.254/latest/meta-data/ returns the instance metadata, "
    "including temporary credentials of the instance role. Redirects are followed, "
    "so an allow list on the first host does not help.";
static const char *const ssrf_steps =
    "Upload an avatar by URL with the metadata address.";
static const char *const ssrf_impact = "Cloud credentials leak; full account takeover.";

static bf_report_t report(const char *id, const char *asset, const char *title,
                          const char *description, const char *steps, const char *impact)
{
    bf_report_t r = {
        .report_id = (char *)id,
        .program = (char *)"acme",
        .reporter = (char *)"alice",
        .title = (char *)title,
        .asset = (char *)asset,
        .description = (char *)description,
        .steps_to_reproduce = (char *)steps,
        .impact = (char *)impact,
    };
    return r;
}

static bf_report_t idor(const char *id, const char *asset)
{
    return report(id, asset, idor_title, idor_description, idor_steps, idor_impact);
}

static bf_report_t reworded(const char *id, const char *asset)
{
    return report(id, asset, reworded_title, reworded_description, reworded_steps,
                  reworded_impact);
}

static bf_report_t ssrf(const char *id, const char *asset)
{
    return report(id, asset, ssrf_title, ssrf_description, ssrf_steps, ssrf_impact);
}

static double similarity_of(bf_report_t a, bf_report_t b)
{
    bf_neardup_sig_t sa, sb;
    bf_neardup_signature(&a, &sa);
    bf_neardup_signature(&b, &sb);
    return bf_neardup_similarity(&sa, &sb);
}

/* ---- signatures ----------------------------------------------------------- */

static void test_identical_text_is_similarity_one(void **unused)
{
    (void)unused;
    bf_report_t a = idor("r-1", ASSET);
    bf_report_t b = idor("r-2", "HTTP://www.Shop.Example.com:443/");
    b.reporter = (char *)"bob";
    b.program = (char *)"globex";
    assert_true(similarity_of(a, b) == 1.0);
}

static void test_formatting_does_not_change_signature(void **unused)
{
    (void)unused;
    /* Markdown marks, case, white space, list numbering and long ids are
     * form, not substance. */
    bf_report_t a = report("r-1", ASSET, "Stored XSS in profile name",
                           "The profile name is rendered without escaping, see "
                           "https://shop.example.com/u/48213377.",
                           "1. Log in\n2. Set the name\n3. Open the profile", "");
    bf_report_t b = report("r-2", ASSET, "# **Stored XSS** in `profile name`",
                           "> The PROFILE name is   rendered without _escaping_, see "
                           "http://www.shop.example.com/u/51190024.",
                           "- Log in\n- Set the name\n- Open the profile", "");
    assert_true(similarity_of(a, b) == 1.0);
}

static void test_reworded_report_is_high(void **unused)
{
    (void)unused;
    double s = similarity_of(idor("r-1", ASSET), reworded("r-2", ASSET));
    if (s < 0.6 || s >= 1.0)
        fail_msg("re-worded similarity %.3f, want in [0.6, 1)", s);
    /* ... and the detector at that threshold agrees. */
    bf_neardup_params_t p;
    bf_neardup_params_init(&p, 0.6);
    bf_report_t a = idor("r-1", ASSET), b = reworded("r-2", ASSET);
    bf_neardup_sig_t sa, sb;
    bf_neardup_signature(&a, &sa);
    bf_neardup_signature(&b, &sb);
    assert_true(bf_neardup_is_duplicate(&p, &sa, &sb));
}

static void test_unrelated_report_is_low(void **unused)
{
    (void)unused;
    double s = similarity_of(idor("r-1", ASSET), ssrf("r-2", ASSET));
    if (s > 0.1)
        fail_msg("unrelated similarity %.3f, want <= 0.1", s);
}

/* One write-up filed for two packages: the same words but the package.
 * The title and text go into the caller's buffers. */
typedef struct series_s {
    char title[128], text[1024];
} series_t;

static bf_report_t series(const char *id, const char *package, series_t *buf)
{
    snprintf(buf->title, sizeof(buf->title), "Prototype pollution in %s", package);
    snprintf(buf->text, sizeof(buf->text),
             "The package %s merges user supplied objects recursively without "
             "skipping the __proto__ key. A payload such as {\"__proto__\": "
             "{\"isAdmin\": true}} passed to %s adds isAdmin to every object of "
             "the process. Any application that merges request bodies with %s is "
             "affected: properties used in authorisation checks can be set by an "
             "attacker, and a crafted toString property crashes the server.",
             package, package, package);
    return report(id, "registry.npmjs.org", buf->title, buf->text, "", "");
}

static void test_same_template_for_another_component_is_not_a_duplicate(void **unused)
{
    (void)unused;
    series_t ba, bb;
    bf_report_t a = series("r-1", "merge-deep", &ba);
    bf_report_t b = series("r-2", "deep-extend", &bb);
    bf_neardup_sig_t sa, sb;
    bf_neardup_signature(&a, &sa);
    bf_neardup_signature(&b, &sb);
    /* The text alone says duplicate... */
    double s = bf_neardup_similarity(&sa, &sb);
    if (s < 0.6)
        fail_msg("template similarity %.3f, want >= 0.6 for this test to mean anything",
                 s);
    /* ... the title names a package the other report never mentions. */
    assert_true(bf_neardup_title_missing(&sa, &sb) > BF_NEARDUP_MAX_TITLE_MISSING);
    bf_neardup_params_t p;
    bf_neardup_params_init(&p, 0.6);
    assert_false(bf_neardup_is_duplicate(&p, &sa, &sb));
    /* A re-worded report keeps its title's words in its text. */
    bf_report_t c = idor("r-1", ASSET), d = reworded("r-2", ASSET);
    bf_neardup_signature(&c, &sa);
    bf_neardup_signature(&d, &sb);
    assert_true(bf_neardup_title_missing(&sa, &sb) <= BF_NEARDUP_MAX_TITLE_MISSING);
}

static void test_other_asset_is_never_a_duplicate(void **unused)
{
    (void)unused;
    static const char *const others[] = {"https://api.example.com",
                                         "https://shop.example.com/admin",
                                         "shop.example.org", ""};
    bf_neardup_params_t p;
    bf_neardup_params_init(&p, 0.5);
    bf_report_t a = idor("r-1", ASSET);
    bf_neardup_sig_t sa;
    bf_neardup_signature(&a, &sa);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        bf_report_t b = idor("r-2", others[i]);
        bf_neardup_sig_t sb;
        bf_neardup_signature(&b, &sb);
        if (bf_neardup_similarity(&sa, &sb) != 0 || bf_neardup_is_duplicate(&p, &sa, &sb))
            fail_msg("same text on asset \"%s\" matched \"%s\"", others[i], ASSET);
    }
}

static void test_signature_is_deterministic_across_runs(void **unused)
{
    (void)unused;
    bf_report_t a = report("r-1", ASSET, "Open redirect on login",
                           "The next parameter is not checked.", "", "");
    bf_neardup_sig_t s1, s2;
    bf_neardup_signature(&a, &s1);
    bf_neardup_signature(&a, &s2);
    assert_memory_equal(&s1, &s2, sizeof(s1));
    /* Pinned values: a change of seed, hash or normalisation would make
     * every signature stored by running workers unmatchable. Update them
     * only with a new key name for the records (":r:" since the
     * multiply-add-shift family, neardup.h). */
    assert_int_equal(s1.shingles, 6);
    assert_int_equal(s1.slot[0], 0x3d834b11u);
    assert_int_equal(s1.slot[127], 0x30d62d41u);
    assert_int_equal(s1.asset, 0x9750ba2ac58d8966ull);
    /* "open", "redirect", "login": the title words and where they sit in
     * the word filter. */
    assert_int_equal(s1.title_words, 3);
    assert_int_equal(s1.title_probe[0][0], 4329);
    assert_int_equal(s1.title_probe[2][2], 1344);
}

static void test_report_without_words_matches_nothing(void **unused)
{
    (void)unused;
    bf_report_t a = report("r-1", ASSET, "!!!", "---", "", "");
    bf_neardup_sig_t s;
    bf_neardup_signature(&a, &s);
    assert_int_equal(s.shingles, 0);
    assert_true(similarity_of(a, a) == 0);
}

typedef struct asset_case_s {
    const char *in, *want;
} asset_case_t;

static void test_asset_normalisation(void **unused)
{
    (void)unused;
    static const asset_case_t cases[] = {
        {"https://shop.example.com", "shop.example.com"},
        {"  HTTP://WWW.Shop.Example.COM/  ", "shop.example.com"},
        {"https://user:pw@shop.example.com:443/a/?q=1#top", "shop.example.com/a"},
        {"http://shop.example.com:80", "shop.example.com"},
        {"shop.example.com:8443/api", "shop.example.com:8443/api"},
        {"shop.example.com./", "shop.example.com"},
        {"com.example.app", "com.example.app"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[128];
        bf_neardup_asset_normalise(cases[i].in, got, sizeof(got));
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("\"%s\" -> \"%s\", want \"%s\"", cases[i].in, got, cases[i].want);
    }
}

typedef struct threshold_case_s {
    const char *in;
    bf_err_t err;
    double want;
} threshold_case_t;

static void test_threshold_setting(void **unused)
{
    (void)unused;
    static const threshold_case_t cases[] = {
        {"0.8", BF_OK, 0.8},
        {"off", BF_OK, 0},
        {"OFF", BF_OK, 0},
        {"0", BF_OK, 0},
        {"1", BF_OK, 1},
        {"1.5", BF_ERR_CONFIG, 0},
        {"-0.1", BF_ERR_CONFIG, 0},
        {"", BF_ERR_CONFIG, 0},
        {"0.8x", BF_ERR_CONFIG, 0},
        {"nan", BF_ERR_CONFIG, 0},
        {NULL, BF_ERR_CONFIG, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = -1;
        char errstr[128] = "";
        bf_err_t err =
            bf_neardup_threshold_parse(cases[i].in, &got, errstr, sizeof(errstr));
        if (err != cases[i].err || (!err && got != cases[i].want))
            fail_msg("\"%s\": %s %g, want %s %g", cases[i].in ? cases[i].in : "(null)",
                     bf_err_name(err), got, bf_err_name(cases[i].err), cases[i].want);
        if (err && !strstr(errstr, "near-dup-threshold"))
            fail_msg("\"%s\": message \"%s\" does not name the setting", cases[i].in,
                     errstr);
    }
}

static void test_bands_fit_the_signature_and_follow_threshold(void **unused)
{
    (void)unused;
    bf_neardup_params_t off, low, high;
    bf_neardup_params_init(&off, 0);
    assert_int_equal(off.bands, 0);
    bf_neardup_params_init(&low, 0.5);
    bf_neardup_params_init(&high, 0.9);
    assert_true(low.bands * low.rows <= BF_NEARDUP_HASHES);
    assert_true(high.bands * high.rows <= BF_NEARDUP_HASHES);
    /* A higher threshold wants longer bands (fewer chance collisions). */
    assert_true(high.rows > low.rows);
    assert_int_equal(high.min_equal, 116); /* ceil(0.9 * 128) */
}

/* ---- the script on a real redis-server -------------------------------------- */

/* The worker's default --dedup-ttl, 30 days: also the length of a bucket
 * generation, so no real generation boundary falls inside a test run. */
#define TTL_S 2592000

static int start_redis(void **state)
{
    bf_test_redis_t *r = calloc(1, sizeof(*r));
    int rc = bf_test_redis_start(r);
    if (rc != 0) {
        free(r);
        *state = NULL;
        return rc > 0 ? 0 : -1; /* not installed: the tests skip */
    }
    *state = r;
    return 0;
}

static int stop_redis(void **state)
{
    bf_test_redis_t *r = *state;
    if (!r)
        return 0;
    int rc = bf_test_redis_stop(r);
    free(r);
    return rc;
}

static bf_test_redis_t *empty_redis(void **state)
{
    bf_test_redis_t *r = *state;
    if (!r)
        skip();
    assert_int_equal(bf_test_redis_flush(r), 0);
    return r;
}

static void params(bf_neardup_params_t *p)
{
    bf_neardup_params_init(p, 0.6);
}

/* Send the worker's EVAL for @p rep on @p c without reading the answer. */
static void send_check(redisContext *c, bf_report_t rep)
{
    bf_neardup_params_t p;
    params(&p);
    bf_neardup_sig_t sig;
    bf_neardup_signature(&rep, &sig);
    bf_neardup_request_t req;
    bf_neardup_request_init(&req, &p, "bf:", TTL_S, rep.report_id, &sig);
    assert_int_equal(
        redisAppendCommandArgv(c, req.argc, (const char **)req.argv, req.argvlen),
        REDIS_OK);
    bf_neardup_request_free(&req);
}

/* Put everything appended on @p c on the wire. */
static void flush_out(redisContext *c)
{
    int done = 0;
    while (!done)
        assert_int_equal(redisBufferWrite(c, &done), REDIS_OK);
}

static bf_neardup_answer_t read_answer(redisContext *c)
{
    redisReply *reply = NULL;
    assert_int_equal(redisGetReply(c, (void **)&reply), REDIS_OK);
    bf_neardup_answer_t a;
    bf_err_t err = bf_neardup_answer_parse(reply, &a);
    if (err)
        fail_msg("script answer: %s %s", bf_err_name(err),
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "");
    freeReplyObject(reply);
    return a;
}

static bf_neardup_answer_t check(bf_test_redis_t *r, bf_report_t rep)
{
    send_check(r->c, rep);
    return read_answer(r->c);
}

static long long count_keys(bf_test_redis_t *r, const char *pattern)
{
    redisReply *reply = redisCommand(r->c, "KEYS %s", pattern);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
    long long n = (long long)reply->elements;
    freeReplyObject(reply);
    return n;
}

/* The one bucket hash the checks so far wrote (one asset, one generation)
 * into @p key; fails unless there is exactly one. */
static void bucket_hash(bf_test_redis_t *r, char *key, size_t key_size)
{
    redisReply *keys = redisCommand(r->c, "KEYS bf:nd:{*}:g*");
    assert_non_null(keys);
    assert_int_equal(keys->elements, 1);
    snprintf(key, key_size, "%s", keys->element[0]->str);
    freeReplyObject(keys);
}

/* The ids in bucket @p field of hash @p key, as Redis sees them (the
 * script's MessagePack array, unpacked by Redis's own Lua). */
static redisReply *bucket_ids(bf_test_redis_t *r, const char *key, const char *field)
{
    redisReply *ids =
        redisCommand(r->c, "EVAL %s 1 %s %s",
                     "local v = redis.call('HGET', KEYS[1], ARGV[1]) "
                     "if not v then return {} end return cmsgpack.unpack(v)",
                     key, field);
    assert_non_null(ids);
    assert_int_equal(ids->type, REDIS_REPLY_ARRAY);
    return ids;
}

static void test_first_report_is_original_and_registered(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    bf_neardup_answer_t a = check(r, idor("r-1", ASSET));
    assert_false(a.duplicate);
    assert_string_equal(a.original, "");
    bf_neardup_params_t p;
    params(&p);
    /* One bucket per band in the asset's hash of this generation, which
     * lives to the end of the next one (between one and two TTLs), and
     * the signature, which lives one TTL. */
    char key[128];
    bucket_hash(r, key, sizeof(key));
    redisReply *len = redisCommand(r->c, "HLEN %s", key);
    assert_int_equal(len->integer, p.bands);
    freeReplyObject(len);
    redisReply *ttl = redisCommand(r->c, "TTL %s", key);
    if (ttl->integer < TTL_S - 1 || ttl->integer > 2 * TTL_S)
        fail_msg("%s: TTL %lld", key, ttl->integer);
    freeReplyObject(ttl);
    assert_int_equal(count_keys(r, "bf:nd:{*}:r:r-1"), 1);
    redisReply *keys = redisCommand(r->c, "KEYS bf:nd:{*}:r:*");
    ttl = redisCommand(r->c, "TTL %s", keys->element[0]->str);
    if (ttl->integer <= 0 || ttl->integer > TTL_S)
        fail_msg("%s: TTL %lld", keys->element[0]->str, ttl->integer);
    freeReplyObject(ttl);
    freeReplyObject(keys);
    assert_int_equal(count_keys(r, "bf:nd:*"), 2);
}

static void test_reworded_report_is_duplicate_of_original(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    assert_false(check(r, idor("r-1", ASSET)).duplicate);
    bf_neardup_answer_t a = check(r, reworded("r-2", "http://shop.example.com/"));
    assert_true(a.duplicate);
    assert_string_equal(a.original, "r-1");
    /* The similarity is the C estimate, computed on the server. */
    assert_true(a.similarity ==
                similarity_of(idor("r-1", ASSET), reworded("r-2", ASSET)));
    /* A duplicate is not registered: duplicate_of always names an
     * original. */
    assert_int_equal(count_keys(r, "bf:nd:{*}:r:r-2"), 0);
    assert_string_equal(check(r, reworded("r-3", ASSET)).original, "r-1");
}

static void test_same_text_on_other_asset_is_original(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    assert_false(check(r, idor("r-1", ASSET)).duplicate);
    bf_neardup_answer_t a = check(r, idor("r-2", "https://api.example.com"));
    assert_false(a.duplicate);
    assert_string_equal(a.original, "");
}

static void test_same_template_for_another_component_is_original(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    series_t ba, bb;
    assert_false(check(r, series("r-1", "merge-deep", &ba)).duplicate);
    /* r-1 is a candidate, similar enough by its slots, but the script's
     * title gate keeps r-2 an original. */
    bf_neardup_answer_t a = check(r, series("r-2", "deep-extend", &bb));
    assert_false(a.duplicate);
    assert_string_equal(a.original, "r-1");
    assert_true(a.similarity >= 0.6);
    assert_int_equal(count_keys(r, "bf:nd:{*}:r:*"), 2);
}

static void test_unrelated_report_on_same_asset_is_original(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    assert_false(check(r, idor("r-1", ASSET)).duplicate);
    assert_false(check(r, ssrf("r-2", ASSET)).duplicate);
    assert_int_equal(count_keys(r, "bf:nd:{*}:r:*"), 2);
}

static void test_redelivered_original_is_not_its_own_duplicate(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    assert_false(check(r, idor("r-1", ASSET)).duplicate);
    assert_false(check(r, idor("r-1", ASSET)).duplicate);
    /* Each bucket still holds r-1 once. */
    char key[128];
    bucket_hash(r, key, sizeof(key));
    redisReply *fields = redisCommand(r->c, "HKEYS %s", key);
    bf_neardup_params_t p;
    params(&p);
    assert_int_equal(fields->elements, p.bands);
    for (size_t i = 0; i < fields->elements; i++) {
        redisReply *ids = bucket_ids(r, key, fields->element[i]->str);
        assert_int_equal(ids->elements, 1);
        assert_string_equal(ids->element[0]->str, "r-1");
        freeReplyObject(ids);
    }
    freeReplyObject(fields);
}

/* Move the asset's bucket hash @p back generations into the past, as if
 * the server's clock had moved on. */
static void age_buckets(bf_test_redis_t *r, int back)
{
    char key[128], older[128];
    bucket_hash(r, key, sizeof(key));
    char *g = strrchr(key, 'g');
    assert_non_null(g);
    long long gen = strtoll(g + 1, NULL, 10);
    snprintf(older, sizeof(older), "%.*s%lld", (int)(g + 1 - key), key, gen - back);
    redisReply *ok = redisCommand(r->c, "RENAME %s %s", key, older);
    assert_int_equal(ok->type, REDIS_REPLY_STATUS);
    freeReplyObject(ok);
}

static void test_original_is_found_in_the_last_generation_not_before(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    assert_false(check(r, idor("r-1", ASSET)).duplicate);
    /* A generation boundary between the two reports: r-1's buckets are in
     * the last generation's hash, which the script reads too. (A real
     * boundary comes once per TTL_S, 30 days.) */
    age_buckets(r, 1);
    bf_neardup_answer_t a = check(r, reworded("r-2", ASSET));
    assert_true(a.duplicate);
    assert_string_equal(a.original, "r-1");
    /* Two generations back, r-1's buckets are not read (the hash would
     * have expired), though its record is still there. */
    age_buckets(r, 1);
    a = check(r, reworded("r-3", ASSET));
    assert_false(a.duplicate);
    assert_string_equal(a.original, "");
    assert_int_equal(count_keys(r, "bf:nd:{*}:r:r-1"), 1);
}

static void test_two_near_duplicates_racing_make_one_original(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    redisContext *other = bf_test_redis_connect(r);
    assert_non_null(other);
    /* Both scripts are on the wire before either answer is read, from two
     * connections, many times, in both orders: the server runs them one
     * after the other, so exactly one report is the original. */
    for (int round = 0; round < 50; round++) {
        char asset[64], id1[32], id2[32];
        snprintf(asset, sizeof(asset), "https://shop%d.example.com", round);
        snprintf(id1, sizeof(id1), "a-%d", round);
        snprintf(id2, sizeof(id2), "b-%d", round);
        redisContext *first = round % 2 ? other : r->c;
        redisContext *second = round % 2 ? r->c : other;
        send_check(first, idor(id1, asset));
        send_check(second, reworded(id2, asset));
        flush_out(first);
        flush_out(second);
        bf_neardup_answer_t a1 = read_answer(first);
        bf_neardup_answer_t a2 = read_answer(second);
        if (a1.duplicate == a2.duplicate)
            fail_msg("round %d: %s and %s both %s", round, id1, id2,
                     a1.duplicate ? "duplicates" : "originals");
        const bf_neardup_answer_t *dup = a1.duplicate ? &a1 : &a2;
        assert_string_equal(dup->original, a1.duplicate ? id2 : id1);
    }
    redisFree(other);
}

static void test_hot_bucket_keeps_only_the_newest_reports(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    bf_neardup_params_t p;
    params(&p);
    /* Signatures made by hand: all share band 0 and nothing else, so each
     * is a candidate of the others but never a duplicate. */
    const int n = BF_NEARDUP_BUCKET_CAP + 6;
    bf_neardup_sig_t sig = {.asset = 42, .shingles = 1};
    char first_field[64] = "";
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < BF_NEARDUP_HASHES; k++)
            sig.slot[k] = k < p.rows ? (uint32_t)k : (uint32_t)(i * 1000 + k);
        char id[16];
        snprintf(id, sizeof(id), "r-%d", i);
        bf_neardup_request_t req;
        bf_neardup_request_init(&req, &p, "bf:", TTL_S, id, &sig);
        /* EVAL, script, numkeys, the record key, ARGV 1 .. 12, band 0 */
        snprintf(first_field, sizeof(first_field), "%s", req.argv[16]);
        redisReply *reply =
            redisCommandArgv(r->c, req.argc, (const char **)req.argv, req.argvlen);
        bf_neardup_request_free(&req);
        bf_neardup_answer_t a;
        assert_int_equal(bf_neardup_answer_parse(reply, &a), BF_OK);
        freeReplyObject(reply);
        assert_false(a.duplicate);
        if (i > 0) /* the best candidate shares exactly band 0 */
            assert_true(a.similarity == (double)p.rows / BF_NEARDUP_HASHES);
    }
    char key[128];
    bucket_hash(r, key, sizeof(key));
    redisReply *ids = bucket_ids(r, key, first_field);
    assert_int_equal(ids->elements, BF_NEARDUP_BUCKET_CAP);
    char newest[16];
    snprintf(newest, sizeof(newest), "r-%d", n - 1);
    assert_string_equal(ids->element[0]->str, newest);
    freeReplyObject(ids);
}

/* What the claim script with the check (bf_neardup_claim_script) said
 * for a report, sent as claim.c sends it. */
typedef struct claimed_s {
    char state[16];
    size_t elements;
    bf_neardup_answer_t near; /* with five elements */
} claimed_t;

/* Worker "w-1" claims @p rep, whose content fingerprint is @p fp. */
static claimed_t claim_and_check(bf_test_redis_t *r, bf_report_t rep, const char *fp)
{
    char k_fp[96], k_res[96], k_lease[96], k_pub[96], ttl[32];
    snprintf(k_fp, sizeof(k_fp), "bf:fp:%s", fp);
    snprintf(k_res, sizeof(k_res), "bf:result:%s", rep.report_id);
    snprintf(k_lease, sizeof(k_lease), "bf:lease:%s", rep.report_id);
    snprintf(k_pub, sizeof(k_pub), "bf:pub:%s", rep.report_id);
    snprintf(ttl, sizeof(ttl), "%d", TTL_S);
    const char *lead[] = {
        "EVAL", bf_neardup_claim_script, "4",   k_fp, k_res,   k_lease,
        k_pub,  rep.report_id,           "w-1", ttl,  "60000", "bf:alive:"};
    bf_neardup_params_t p;
    params(&p);
    bf_neardup_sig_t sig;
    bf_neardup_signature(&rep, &sig);
    bf_neardup_request_t req;
    bf_neardup_request_init_after(&req, 12, lead, NULL, &p, "bf:", TTL_S, rep.report_id,
                                  &sig);
    redisReply *reply =
        redisCommandArgv(r->c, req.argc, (const char **)req.argv, req.argvlen);
    bf_neardup_request_free(&req);
    assert_non_null(reply);
    if (reply->type == REDIS_REPLY_ERROR)
        fail_msg("claim script: %s", reply->str);
    assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
    claimed_t out = {.elements = reply->elements};
    snprintf(out.state, sizeof(out.state), "%s", reply->element[0]->str);
    if (reply->elements == 5)
        assert_int_equal(bf_neardup_answer_parse(reply->element[4], &out.near), BF_OK);
    freeReplyObject(reply);
    return out;
}

static void assert_same_answer(bf_neardup_answer_t got, bf_neardup_answer_t want)
{
    assert_int_equal(got.duplicate, want.duplicate);
    assert_string_equal(got.original, want.original);
    assert_true(got.similarity == want.similarity);
}

/* The worker claims a report and checks it for near duplicates in one
 * round trip: the check runs only for a claim, and answers what the
 * check alone answers. */
static void test_claim_script_checks_a_claimed_report_only(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    claimed_t first = claim_and_check(r, idor("r-1", ASSET), "fp-1");
    claimed_t second = claim_and_check(r, reworded("r-2", ASSET), "fp-2");
    assert_string_equal(first.state, "claimed");
    assert_int_equal(first.elements, 5);
    assert_string_equal(second.state, "claimed");
    assert_int_equal(second.elements, 5);
    assert_true(second.near.duplicate);
    assert_string_equal(second.near.original, "r-1");
    /* An exact duplicate, a stored result and a live holder's lease are
     * answered before the check, which then neither runs nor registers. */
    long long records = count_keys(r, "bf:nd:{*}:r:*");
    claimed_t exact = claim_and_check(r, idor("r-3", ASSET), "fp-1");
    assert_string_equal(exact.state, "duplicate");
    assert_int_equal(exact.elements, 4);
    redisReply *set = redisCommand(r->c, "SET bf:result:r-4 stored");
    freeReplyObject(set);
    claimed_t cached =
        claim_and_check(r, reworded("r-4", "https://api.example.com"), "fp-4");
    assert_string_equal(cached.state, "cached");
    assert_int_equal(cached.elements, 4);
    assert_int_equal(count_keys(r, "bf:nd:{*}:r:*"), records);
    /* A redelivered original is claimed again by its holder and is not
     * its own duplicate. */
    claimed_t again = claim_and_check(r, idor("r-1", ASSET), "fp-1");
    assert_string_equal(again.state, "reclaimed");
    assert_int_equal(again.elements, 5);
    assert_false(again.near.duplicate);
    /* The check alone, on an empty Redis, answers the same. */
    assert_int_equal(bf_test_redis_flush(r), 0);
    assert_same_answer(first.near, check(r, idor("r-1", ASSET)));
    assert_same_answer(second.near, check(r, reworded("r-2", ASSET)));
    assert_same_answer(again.near, check(r, idor("r-1", ASSET)));
}

static void test_error_reply_is_a_redis_error(void **unused)
{
    (void)unused;
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = (char *)"NOSCRIPT", .len = 8};
    bf_neardup_answer_t a;
    assert_int_equal(bf_neardup_answer_parse(&err, &a), BF_ERR_REDIS);
    redisReply nil = {.type = REDIS_REPLY_NIL};
    assert_int_equal(bf_neardup_answer_parse(&nil, &a), BF_ERR_PARSE);
}

/* A band's field in the generation hash is "<band>:<its hash in 16 hex
 * digits>": workers of every version share the buckets, so the format is
 * pinned (the request writes it without printf). */
static void test_band_fields_are_the_band_and_its_hash_in_hex(void **unused)
{
    (void)unused;
    bf_neardup_sig_t sig = {.asset = 7, .shingles = 1};
    for (int k = 0; k < BF_NEARDUP_HASHES; k++)
        sig.slot[k] = (uint32_t)(k * 2654435761u);
    const double thresholds[] = {0.3, 0.5, 0.7, 0.9};
    for (size_t t = 0; t < sizeof(thresholds) / sizeof(thresholds[0]); t++) {
        bf_neardup_params_t p;
        bf_neardup_params_init(&p, thresholds[t]);
        bf_neardup_request_t req;
        bf_neardup_request_init(&req, &p, "bf:", TTL_S, "r-1", &sig);
        assert_int_equal(req.argc, 16 + p.bands);
        for (int band = 0; band < p.bands; band++) {
            char want[64];
            snprintf(want, sizeof(want), "%d:%016llx", band,
                     (unsigned long long)bf_neardup_band_hash(&sig, band, p.rows));
            assert_int_equal(req.argvlen[16 + band], strlen(want));
            assert_string_equal(req.argv[16 + band], want);
        }
        bf_neardup_request_free(&req);
    }
    sig.slot[0] = 0; /* a hash with leading zero digits */
    bf_neardup_params_t p;
    bf_neardup_params_init(&p, 0.7);
    bf_neardup_request_t req;
    bf_neardup_request_init(&req, &p, "bf:", TTL_S, "r-1", &sig);
    char want[64];
    snprintf(want, sizeof(want), "0:%016llx",
             (unsigned long long)bf_neardup_band_hash(&sig, 0, p.rows));
    assert_string_equal(req.argv[16], want);
    bf_neardup_request_free(&req);
}

static void test_longest_report_id_fits_the_answer(void **unused)
{
    (void)unused;
    /* Validation lets report ids of BF_REPORT_MAX_ID bytes through; an
     * answer naming one must parse, or the worker would retry forever. */
    char id[BF_REPORT_MAX_ID + 1];
    memset(id, 'x', BF_REPORT_MAX_ID);
    id[BF_REPORT_MAX_ID] = '\0';
    redisReply state = {.type = REDIS_REPLY_STRING, .str = (char *)"duplicate", .len = 9};
    redisReply original = {
        .type = REDIS_REPLY_STRING, .str = id, .len = BF_REPORT_MAX_ID};
    redisReply equal = {.type = REDIS_REPLY_INTEGER, .integer = 128};
    redisReply *elements[] = {&state, &original, &equal};
    redisReply reply = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = elements};
    bf_neardup_answer_t a;
    assert_int_equal(bf_neardup_answer_parse(&reply, &a), BF_OK);
    assert_true(a.duplicate);
    assert_string_equal(a.original, id);
    assert_true(a.similarity == 1.0);
}

/* ---- the asynchronous check, as the worker runs it ---------------------------- */

typedef struct async_s {
    int done;
    bf_err_t err;
    bf_neardup_answer_t answer;
} async_t;

static void on_checked(bf_err_t err, const bf_neardup_answer_t *answer, void *opaque)
{
    async_t *a = opaque;
    a->done++;
    a->err = err;
    if (answer)
        a->answer = *answer;
}

static void on_tick(uv_timer_t *t)
{
    (void)t; /* only keeps uv_run(UV_RUN_ONCE) from blocking for long */
}

static void run_until(uv_loop_t *loop, const int *done, int want)
{
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    while (*done < want && bf_test_now() < deadline)
        uv_run(loop, UV_RUN_ONCE);
}

static void test_async_check_on_the_loop(void **state)
{
    bf_test_redis_t *r = empty_redis(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 20, 20);
    char errstr[256];
    bf_redis_t *redis = bf_redis_new(&loop, r->url, 2.0, errstr, sizeof(errstr));
    assert_non_null(redis);
    double deadline = bf_test_now() + 10 * bf_test_timeout_mult();
    while (!bf_redis_connected(redis) && bf_test_now() < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(bf_redis_connected(redis));
    bf_neardup_params_t p;
    params(&p);
    async_t first = {0}, second = {0}, empty = {0};
    bf_report_t a = idor("r-1", ASSET), b = reworded("r-2", ASSET);
    bf_report_t none = report("r-3", ASSET, "...", "", "", "");
    assert_int_equal(bf_neardup_check(redis, &p, "bf:", TTL_S, &a, on_checked, &first),
                     BF_OK);
    assert_int_equal(bf_neardup_check(redis, &p, "bf:", TTL_S, &b, on_checked, &second),
                     BF_OK);
    /* No words: answered at once, nothing sent. */
    assert_int_equal(bf_neardup_check(redis, &p, "bf:", TTL_S, &none, on_checked, &empty),
                     BF_OK);
    assert_int_equal(empty.done, 1);
    assert_false(empty.answer.duplicate);
    run_until(&loop, &second.done, 1);
    assert_int_equal(first.done, 1);
    assert_int_equal(second.done, 1);
    assert_int_equal(first.err, BF_OK);
    assert_false(first.answer.duplicate);
    assert_int_equal(second.err, BF_OK);
    assert_true(second.answer.duplicate);
    assert_string_equal(second.answer.original, "r-1");
    bf_redis_destroy(redis);
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest signature_tests[] = {
        cmocka_unit_test(test_identical_text_is_similarity_one),
        cmocka_unit_test(test_formatting_does_not_change_signature),
        cmocka_unit_test(test_reworded_report_is_high),
        cmocka_unit_test(test_unrelated_report_is_low),
        cmocka_unit_test(test_same_template_for_another_component_is_not_a_duplicate),
        cmocka_unit_test(test_other_asset_is_never_a_duplicate),
        cmocka_unit_test(test_signature_is_deterministic_across_runs),
        cmocka_unit_test(test_report_without_words_matches_nothing),
        cmocka_unit_test(test_asset_normalisation),
        cmocka_unit_test(test_threshold_setting),
        cmocka_unit_test(test_bands_fit_the_signature_and_follow_threshold),
        cmocka_unit_test(test_error_reply_is_a_redis_error),
        cmocka_unit_test(test_longest_report_id_fits_the_answer),
        cmocka_unit_test(test_band_fields_are_the_band_and_its_hash_in_hex),
    };
    const struct CMUnitTest script_tests[] = {
        cmocka_unit_test(test_first_report_is_original_and_registered),
        cmocka_unit_test(test_reworded_report_is_duplicate_of_original),
        cmocka_unit_test(test_same_text_on_other_asset_is_original),
        cmocka_unit_test(test_same_template_for_another_component_is_original),
        cmocka_unit_test(test_unrelated_report_on_same_asset_is_original),
        cmocka_unit_test(test_redelivered_original_is_not_its_own_duplicate),
        cmocka_unit_test(test_original_is_found_in_the_last_generation_not_before),
        cmocka_unit_test(test_two_near_duplicates_racing_make_one_original),
        cmocka_unit_test(test_hot_bucket_keeps_only_the_newest_reports),
        cmocka_unit_test(test_claim_script_checks_a_claimed_report_only),
        cmocka_unit_test(test_async_check_on_the_loop),
    };
    int failed = cmocka_run_group_tests_name("signature", signature_tests, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("script", script_tests, start_redis, stop_redis);
    return failed;
}
