/*
 * synthetic.c - realistic report load (see synthetic.h).
 *
 * Originals are real write-ups from the corpus (ops/demo-data holds 450
 * disclosed HackerOne reports) given a fresh id, time and reporter. A
 * corpus entry used again is moved to another host of the same program
 * (api., staging., ...), so every original has content of its own: the
 * worker's exact-duplicate fingerprint covers title, asset and text.
 *
 * Exact duplicates copy an earlier original's content under a new id and
 * reporter: what two researchers submitting the same finding look like.
 * Near duplicates keep the program, asset and weakness of an earlier
 * original and reword its title and text (a greeting, synonyms, a
 * sign-off), which is what the same bug written up twice looks like. Both draw from the
 * last HISTORY originals, so a duplicate follows its original closely, as in real
 * traffic.
 */
#include "producer/synthetic.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libbf/buf.h"
#include "libbf/mem.h"
#include "libbf/random.h"
#include "libbf/report.h"

#define HISTORY    1024
#define MAX_CORPUS 100000
#define MAX_LINE   (BF_REPORT_MAX_ENCODED + 1)
#define REWORD_MAX (2 * BF_REPORT_MAX_TEXT)

struct bf_synth_s {
    json_t **corpus;
    size_t n_corpus;
    unsigned *uses; /* per corpus entry, for the host prefix */
    json_t *history[HISTORY];
    size_t n_history, next_history;
    double dup_ratio, near_dup_ratio;
    bf_rng_t rng; /* seeded: a run repeats */
    uint64_t seq;
    char *id_prefix;
};

static int load_corpus(bf_synth_t *s, const char *path, char *errstr, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, size, "corpus %s: cannot open", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0 && s->n_corpus < MAX_CORPUS) {
        if (n > MAX_LINE)
            continue;
        json_t *obj = json_loadb(line, (size_t)n, 0, NULL);
        bf_report_t *r = NULL;
        char why[256];
        if (obj && bf_report_from_json(obj, &r, why, sizeof(why)) == BF_OK) {
            s->corpus = bf_realloc(s->corpus, (s->n_corpus + 1) * sizeof(*s->corpus));
            s->corpus[s->n_corpus++] = bf_report_to_json(r);
        }
        bf_report_destroy(r);
        json_decref(obj);
    }
    free(line);
    fclose(f);
    if (!s->n_corpus) {
        snprintf(errstr, size, "corpus %s: no valid report in it", path);
        return -1;
    }
    return 0;
}

bf_synth_t *bf_synth_new(const bf_synth_conf_t *conf, char *errstr, size_t errstr_size)
{
    if (conf->dup_ratio < 0 || conf->near_dup_ratio < 0 ||
        conf->dup_ratio + conf->near_dup_ratio > 1) {
        snprintf(errstr, errstr_size,
                 "--dup-ratio and --near-dup-ratio must be >= 0 and add up to at most 1");
        return NULL;
    }
    bf_synth_t *s = bf_calloc(1, sizeof(*s));
    s->dup_ratio = conf->dup_ratio;
    s->near_dup_ratio = conf->near_dup_ratio;
    bf_rng_seed(&s->rng, conf->seed);
    s->id_prefix = bf_strdup(conf->id_prefix ? conf->id_prefix : "synthetic");
    if (load_corpus(s, conf->corpus_path, errstr, errstr_size) != 0) {
        bf_synth_destroy(s);
        return NULL;
    }
    s->uses = bf_calloc(s->n_corpus, sizeof(*s->uses));
    return s;
}

void bf_synth_destroy(bf_synth_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_corpus; i++)
        json_decref(s->corpus[i]);
    for (size_t i = 0; i < s->n_history; i++)
        json_decref(s->history[i]);
    free(s->corpus);
    free(s->uses);
    free(s->id_prefix);
    free(s);
}

static const char *const reporters[] = {
    "alice",  "bob",         "r00tkit",   "xss_hunter", "nullbyte",
    "m4lloc", "secfox",      "kiwi",      "bytebandit", "owlsec",
    "pwnie",  "zeroday_zoe", "grep_guru", "ssrf_sam",
};

static const char *const host_prefixes[] = {"api.",   "staging.", "beta.", "m.",
                                            "admin.", "dev.",     "cdn.",  "portal."};

/* Fresh id, time and reporter on a copy of @p base. */
static json_t *stamp(bf_synth_t *s, const json_t *base)
{
    json_t *r = json_deep_copy(base);
    char id[128];
    snprintf(id, sizeof(id), "%s-%llu", s->id_prefix, (unsigned long long)++s->seq);
    json_object_set_new(r, "report_id", json_string(id));
    json_object_set_new(r, "submitted_at", json_integer(bf_time_now_ms()));
    json_object_set_new(
        r, "reporter",
        json_string(
            reporters[bf_rng_below(&s->rng, sizeof(reporters) / sizeof(reporters[0]))]));
    return r;
}

static json_t *original(bf_synth_t *s)
{
    size_t i = bf_rng_below(&s->rng, s->n_corpus);
    json_t *r = stamp(s, s->corpus[i]);
    unsigned use = s->uses[i]++;
    if (use > 0) { /* the same finding on another host of the program */
        const char *asset = json_string_value(json_object_get(r, "asset"));
        size_t n = sizeof(host_prefixes) / sizeof(host_prefixes[0]);
        char *moved = use <= n ? bf_asprintf("%s%s", host_prefixes[use - 1], asset)
                               : bf_asprintf("eu%zu.%s", (size_t)use - n, asset);
        json_object_set_new(r, "asset", json_string(moved));
        free(moved);
    }
    if (s->n_history < HISTORY) {
        s->history[s->n_history++] = json_incref(r);
    } else {
        json_decref(s->history[s->next_history]);
        s->history[s->next_history] = json_incref(r);
        s->next_history = (s->next_history + 1) % HISTORY;
    }
    return r;
}

/* Word-for-word rewording of a write-up: whole words only, the first
 * letter's case kept. */
static const struct {
    const char *from, *to;
} synonyms[] = {
    {"vulnerability", "issue"}, {"vulnerable", "affected"},
    {"allows", "lets"},         {"attacker", "malicious user"},
    {"user", "victim"},         {"page", "view"},
    {"request", "call"},        {"parameter", "argument"},
    {"found", "discovered"},    {"execute", "run"},
    {"steal", "exfiltrate"},    {"possible", "feasible"},
    {"application", "app"},     {"server", "backend"},
    {"access", "reach"},        {"inject", "insert"},
    {"the following", "these"}, {"able", "capable"},
    {"send", "submit"},         {"get", "obtain"},
    {"shows", "displays"},
};

static void reword(const char *in, bf_buf_t *out)
{
    size_t n_syn = sizeof(synonyms) / sizeof(synonyms[0]);
    for (const char *p = in; *p;) {
        int at_word_start = p == in || !isalnum((unsigned char)p[-1]);
        size_t k = 0;
        for (; at_word_start && k < n_syn; k++) {
            size_t len = strlen(synonyms[k].from);
            if (strncasecmp(p, synonyms[k].from, len) == 0 &&
                !isalnum((unsigned char)p[len]))
                break;
        }
        if (!at_word_start || k == n_syn) {
            if (bf_buf_append(out, p, 1) != BF_OK)
                return;
            p++;
            continue;
        }
        char first = synonyms[k].to[0];
        if (isupper((unsigned char)*p))
            first = (char)toupper((unsigned char)first);
        if (bf_buf_append(out, &first, 1) != BF_OK ||
            bf_buf_puts(out, synonyms[k].to + 1) != BF_OK)
            return;
        p += strlen(synonyms[k].from);
    }
}

/* @p intro and @p outro (may be NULL) around the reworded text. */
static void set_reworded(json_t *r, const char *field, const char *intro,
                         const char *outro)
{
    const char *text = json_string_value(json_object_get(r, field));
    if (!text)
        return;
    bf_buf_t b;
    bf_buf_init(&b, BF_REPORT_MAX_TEXT);
    if (intro)
        bf_buf_puts(&b, intro);
    reword(text, &b);
    if (outro)
        bf_buf_puts(&b, outro);
    json_object_set_new(r, field, json_stringn(b.data ? b.data : "", b.len));
    bf_buf_free(&b);
}

static json_t *near_duplicate(bf_synth_t *s, const json_t *of)
{
    static const char *const intros[] = {
        "Hi team,\n\n", "Hello,\n\nI would like to report the following.\n\n",
        "Summary:\n\n", "Dear security team,\n\n"};
    static const char *const title_prefixes[] = {"", "[Security] ", "Possible ",
                                                 "Report: "};
    json_t *r = stamp(s, of);
    /* The sign-off names the reporter and a reference of their own, so two
     * near duplicates of one report are never exact duplicates of each
     * other. */
    char *outro = bf_asprintf("\n\nThanks,\n%s (ref %s)",
                              json_string_value(json_object_get(r, "reporter")),
                              json_string_value(json_object_get(r, "report_id")));
    set_reworded(r, "description", intros[bf_rng_below(&s->rng, 4)], outro);
    free(outro);
    set_reworded(r, "steps_to_reproduce", NULL, NULL);
    set_reworded(r, "impact", NULL, NULL);
    set_reworded(r, "title", title_prefixes[bf_rng_below(&s->rng, 4)], NULL);
    return r;
}

json_t *bf_synth_next(bf_synth_t *s, bf_synth_kind_t *kind)
{
    double u = bf_rng_unit(&s->rng);
    bf_synth_kind_t k = BF_SYNTH_ORIGINAL;
    if (s->n_history && u < s->dup_ratio)
        k = BF_SYNTH_DUPLICATE;
    else if (s->n_history && u < s->dup_ratio + s->near_dup_ratio)
        k = BF_SYNTH_NEAR_DUPLICATE;
    if (kind)
        *kind = k;
    if (k == BF_SYNTH_ORIGINAL)
        return original(s);
    const json_t *of = s->history[bf_rng_below(&s->rng, s->n_history)];
    return k == BF_SYNTH_DUPLICATE ? stamp(s, of) : near_duplicate(s, of);
}
