/*
 * verdict.c - the simulator's rules for scoring a report (see verdict.h).
 *
 * The rules work on features counted in the lower-cased text: lengths,
 * numbered steps, code blocks, URLs, raw HTTP requests, payloads, and
 * phrases from three word lists (evidence, speculation, scanner output).
 * Each analysis adds weighted features to a base and clamps to [0, 1]; the
 * reasons are the features that moved the score most, so a reader can see
 * why a report got its number. Weights are round numbers chosen so that a
 * complete, evidenced report scores near 1 and a two-line claim near 0; a
 * sanity run over 3,000 disclosed HackerOne reports (their own severity
 * labels against ours) guided the keyword lists, not a fit.
 *
 * Phrases are matched on word boundaries ("rce" must not match "source"),
 * except that a phrase starting or ending in punctuation ("../", "<script")
 * needs no boundary on that side.
 */
#include "verdict.h"
#include "verdict_int.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "libbf/mem.h"

/* Longest report_id we keep; ids are short keys in practice. */
#define MAX_REPORT_ID 256
/* Longest raw-text title: a first line longer than this is not a title. */
#define MAX_RAW_TITLE 200

static const char *const kind_names[BF_AISIM_KIND__COUNT] = {
    "bountyfleet_quality", "bountyfleet_plausibility", "bountyfleet_severity", "other"};

static const char *const severity_names[] = {"NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"};

bf_aisim_kind_t bf_aisim_kind_from_schema_name(const char *name)
{
    for (int k = 0; name && k < BF_AISIM_KIND_OTHER; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return (bf_aisim_kind_t)k;
    return BF_AISIM_KIND_OTHER;
}

const char *bf_aisim_kind_name(bf_aisim_kind_t kind)
{
    return (unsigned)kind < BF_AISIM_KIND__COUNT ? kind_names[kind] : "other";
}

const char *bf_aisim_severity_name(bf_aisim_severity_t severity)
{
    return (unsigned)severity <= BF_AISIM_SEVERITY_CRITICAL ? severity_names[severity]
                                                            : "NONE";
}

/* ------------------------------------------------------------------------ */
/* Reading the report                                                        */

const char *bf_aisim_report_extract(const char *content, size_t len, size_t *out_len)
{
    static const char open[] = "<report>", close[] = "</report>";
    const char *start = memmem(content, len, open, sizeof(open) - 1);
    if (!start) {
        *out_len = len;
        return content;
    }
    start += sizeof(open) - 1;
    size_t rest = len - (size_t)(start - content);
    /* The last closing marker, so a report that itself contains
     * "</report>" is not cut short. */
    const char *end = NULL;
    for (const char *p = start;
         (p = memmem(p, rest - (size_t)(p - start), close, sizeof(close) - 1)) != NULL;
         p++)
        end = p;
    if (!end)
        end = start + rest;
    /* The worker puts the markers on lines of their own. */
    while (start < end && (*start == '\n' || *start == '\r'))
        start++;
    while (end > start && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    *out_len = (size_t)(end - start);
    return start;
}

static char *string_field(json_t *obj, const char *const names[])
{
    for (size_t i = 0; names[i]; i++) {
        json_t *v = json_object_get(obj, names[i]);
        if (json_is_string(v))
            return bf_strndup(json_string_value(v), json_string_length(v));
    }
    return bf_strdup("");
}

void bf_aisim_report_parse(const char *text, size_t len, bf_aisim_report_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *obj = json_loadb(text, len, 0, NULL);
    if (json_is_object(obj)) {
        out->structured = true;
        json_t *id = json_object_get(obj, "report_id");
        if (json_is_string(id) && json_string_length(id) > 0 &&
            json_string_length(id) <= MAX_REPORT_ID)
            out->report_id = bf_strndup(json_string_value(id), json_string_length(id));
        out->title = string_field(obj, (const char *const[]){"title", NULL});
        out->weakness = string_field(obj, (const char *const[]){"weakness", NULL});
        /* vulnerability_information: HackerOne's name for the write-up. */
        out->description = string_field(
            obj, (const char *const[]){"description", "vulnerability_information", NULL});
        out->steps = string_field(obj, (const char *const[]){"steps_to_reproduce", NULL});
        out->impact = string_field(obj, (const char *const[]){"impact", NULL});
    } else {
        const char *nl = memchr(text, '\n', len);
        size_t first = nl ? (size_t)(nl - text) : len;
        if (first > MAX_RAW_TITLE)
            first = 0;
        out->title = bf_strndup(text, first);
        out->weakness = bf_strdup("");
        out->description = bf_strndup(text + first, len - first);
        out->steps = bf_strdup("");
        out->impact = bf_strdup("");
    }
    json_decref(obj);
}

void bf_aisim_report_clear(bf_aisim_report_t *r)
{
    if (!r)
        return;
    free(r->report_id);
    free(r->title);
    free(r->weakness);
    free(r->description);
    free(r->steps);
    free(r->impact);
    memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------------ */
/* Matching phrases                                                          */

static bf_aisim_text_t lowered(size_t n, ...)
{
    va_list ap;
    size_t total = 0;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        total += strlen(va_arg(ap, const char *)) + 1;
    va_end(ap);
    bf_aisim_text_t t = {bf_malloc(total + 1), 0};
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        for (const char *p = va_arg(ap, const char *); *p; p++)
            t.s[t.len++] = (char)tolower((unsigned char)*p);
        t.s[t.len++] = '\n';
    }
    va_end(ap);
    t.s[t.len] = '\0';
    return t;
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

int bf_aisim_text_count(const bf_aisim_text_t *t, const char *phrase)
{
    size_t plen = strlen(phrase);
    bool check_left = is_word_char(phrase[0]);
    bool check_right = is_word_char(phrase[plen - 1]);
    int n = 0;
    const char *p = t->s, *end = t->s + t->len;
    while ((p = memmem(p, (size_t)(end - p), phrase, plen)) != NULL) {
        bool left_ok = !check_left || p == t->s || !is_word_char(p[-1]);
        bool right_ok = !check_right || p + plen == end || !is_word_char(p[plen]);
        if (left_ok && right_ok)
            n++;
        p += plen;
    }
    return n;
}

int bf_aisim_text_count_any(const bf_aisim_text_t *t, const char *const *phrases,
                            const char **first)
{
    int n = 0;
    for (size_t i = 0; phrases[i]; i++) {
        int c = bf_aisim_text_count(t, phrases[i]);
        if (c && first && !*first)
            *first = phrases[i];
        n += c;
    }
    return n;
}

/* How many phrases of the list occur at least once. */
static int distinct_phrases(const bf_aisim_text_t *t, const char *const *phrases,
                            const char **first)
{
    int n = 0;
    for (size_t i = 0; phrases[i]; i++) {
        if (bf_aisim_text_count(t, phrases[i])) {
            if (first && !*first)
                *first = phrases[i];
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Features                                                                  */

/* Raw HTTP traffic pasted into a report: request lines and headers. */
static const char *const http_markers[] = {"\nget /",    "\npost /",  "\nput /",
                                           "\ndelete /", "\npatch /", "\nhead /",
                                           "http/1.1",   "http/1.0",  "http/2",
                                           "\nhost:",    "\ncookie:", "curl ",
                                           "\nreferer:", NULL};

/* Concrete attack strings. */
static const char *const payload_markers[] = {"<script",
                                              "alert(",
                                              "prompt(",
                                              "confirm(",
                                              "onerror=",
                                              "onload=",
                                              "javascript:",
                                              "' or '1'='1",
                                              "' or 1=1",
                                              "union select",
                                              "sleep(",
                                              "waitfor delay",
                                              "../",
                                              "..%2f",
                                              "%3cscript",
                                              "{{7*7}}",
                                              "${",
                                              "/etc/passwd",
                                              "169.254.169.254",
                                              "<!entity",
                                              "<!doctype",
                                              "document.cookie",
                                              "whoami",
                                              "`id`",
                                              "$(id)",
                                              "; id",
                                              "| id",
                                              "burp collaborator",
                                              "interactsh",
                                              "oastify",
                                              NULL};

static const char *const poc_phrases[] = {
    "poc",        "proof of concept", "proof-of-concept", "exploit",
    "exploited",  "screenshot",       "screenshots",      "video",
    "screencast", "reproduced",       "attached",         NULL};

static const char *const version_phrases[] = {"version", "versions", NULL};

/* Speculation instead of demonstration. */
static const char *const vague_phrases[] = {"might",
                                            "may be possible",
                                            "could possibly",
                                            "could potentially",
                                            "potentially",
                                            "possibly",
                                            "i think",
                                            "i believe",
                                            "theoretical",
                                            "theoretically",
                                            "not sure",
                                            "maybe",
                                            "probably",
                                            "it seems",
                                            "could be vulnerable",
                                            "may be vulnerable",
                                            "could allow",
                                            "might allow",
                                            "in theory",
                                            NULL};

/* Output of automated scanners pasted as a report. */
static const char *const scanner_phrases[] = {"nessus",
                                              "acunetix",
                                              "nikto",
                                              "openvas",
                                              "qualys",
                                              "automated scan",
                                              "vulnerability scanner",
                                              "scanner",
                                              "best practice",
                                              "best practices",
                                              "was detected by",
                                              "tool reported",
                                              NULL};

/* Text addressed to the triager (or the model) rather than describing a
 * bug; the worker's system prompt says such text lowers plausibility. */
static const char *const injection_phrases[] = {"ignore previous instructions",
                                                "ignore all previous instructions",
                                                "ignore the above instructions",
                                                "disregard previous instructions",
                                                "disregard all prior instructions",
                                                "system prompt",
                                                "mark this report as valid",
                                                "rate this report as",
                                                "give this report a",
                                                "as an ai language model",
                                                NULL};

typedef struct features_s {
    size_t title_len, description_len, steps_len, impact_len, total_len;
    int numbered_steps;
    int bullets;
    int code_blocks;
    int urls;
    int http;
    int payloads;
    int poc;
    int versions;
    int vague;
    int scanner;
    int injection;
    bool has_weakness;
    bool impact_section;
    const char *first_vague, *first_scanner;
} features_t;

/* Lines that start (after blanks) with "1." / "2)" etc., and bullets. */
static void count_list_lines(const char *s, int *numbered, int *bullets)
{
    const char *line = s;
    while (*line) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *d = p;
        while (isdigit((unsigned char)*d))
            d++;
        if (d > p && d - p <= 3 && (*d == '.' || *d == ')') &&
            (d[1] == ' ' || d[1] == '\t'))
            (*numbered)++;
        else if ((*p == '-' || *p == '*') && (p[1] == ' ' || p[1] == '\t'))
            (*bullets)++;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
}

/* Fenced blocks (```), plus runs of two or more lines indented by four
 * spaces or a tab (Markdown's indented code). */
static int count_code_blocks(const bf_aisim_text_t *t)
{
    int fences = bf_aisim_text_count(t, "```");
    int indented = 0, run = 0;
    const char *line = t->s;
    while (*line) {
        bool code = strncmp(line, "    ", 4) == 0 || line[0] == '\t';
        if (code && ++run == 2)
            indented++;
        if (!code)
            run = 0;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return fences / 2 + indented;
}

/* Dotted numbers such as 14.0.0.125 or 2.4.49: versions named in the text. */
static int count_dotted_numbers(const bf_aisim_text_t *t)
{
    int n = 0;
    for (size_t i = 0; i + 2 < t->len; i++) {
        if (isdigit((unsigned char)t->s[i]) && t->s[i + 1] == '.' &&
            isdigit((unsigned char)t->s[i + 2]) &&
            (i == 0 || !is_word_char(t->s[i - 1]) ||
             isdigit((unsigned char)t->s[i - 1]))) {
            n++;
            i += 2;
            while (i < t->len && (isdigit((unsigned char)t->s[i]) || t->s[i] == '.'))
                i++;
        }
    }
    return n;
}

static void extract_features(const bf_aisim_report_t *r, const bf_aisim_text_t *all,
                             features_t *f)
{
    memset(f, 0, sizeof(*f));
    f->title_len = strlen(r->title);
    f->description_len = strlen(r->description);
    f->steps_len = strlen(r->steps);
    f->impact_len = strlen(r->impact);
    f->total_len = f->title_len + f->description_len + f->steps_len + f->impact_len;
    f->has_weakness = r->weakness[0] != '\0';
    count_list_lines(r->description, &f->numbered_steps, &f->bullets);
    count_list_lines(r->steps, &f->numbered_steps, &f->bullets);
    f->code_blocks = count_code_blocks(all);
    f->urls = bf_aisim_text_count(all, "http://") + bf_aisim_text_count(all, "https://");
    f->http = bf_aisim_text_count_any(all, http_markers, NULL);
    f->payloads = bf_aisim_text_count_any(all, payload_markers, NULL);
    f->poc = bf_aisim_text_count_any(all, poc_phrases, NULL);
    f->versions =
        bf_aisim_text_count_any(all, version_phrases, NULL) + count_dotted_numbers(all);
    f->vague = distinct_phrases(all, vague_phrases, &f->first_vague);
    f->scanner = distinct_phrases(all, scanner_phrases, &f->first_scanner);
    f->injection = distinct_phrases(all, injection_phrases, NULL);
    f->impact_section = f->impact_len > 0 || bf_aisim_text_count(all, "# impact") ||
                        bf_aisim_text_count(all, "impact:") ||
                        bf_aisim_text_count(all, "**impact");
}

/* ------------------------------------------------------------------------ */
/* Scoring with reasons                                                      */

/*
 * A contribution: how much a feature added to (or took from) the score and
 * the sentence that names it. The reasons of a verdict are the
 * contributions with the largest magnitude, in that order.
 */
typedef struct contribution_s {
    double delta;
    char text[BF_AISIM_REASON_SIZE];
} contribution_t;

#define MAX_CONTRIBUTIONS 12

typedef struct scorecard_s {
    contribution_t c[MAX_CONTRIBUTIONS];
    size_t n;
} scorecard_t;

/* Cut a trailing, incomplete UTF-8 sequence left by a truncating
 * snprintf, so every reason stays valid UTF-8 (JSON requires it). */
static void utf8_trim(char *s)
{
    size_t len = strlen(s), i = len;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || (unsigned char)s[i - 1] < 0xC0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (len - (i - 1) < need)
        s[i - 1] = '\0';
}

static void note(scorecard_t *sc, double delta, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(scorecard_t *sc, double delta, const char *fmt, ...)
{
    if (sc->n == MAX_CONTRIBUTIONS)
        return;
    contribution_t *c = &sc->c[sc->n++];
    c->delta = delta;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof(c->text), fmt, ap);
    va_end(ap);
    utf8_trim(c->text);
}

static double round2(double x)
{
    return round(x * 100.0) / 100.0;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

void bf_aisim_verdict_add_reason(bf_aisim_verdict_t *v, const char *fmt, ...)
{
    if (v->n_reasons == BF_AISIM_REASONS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reasons[v->n_reasons], BF_AISIM_REASON_SIZE, fmt, ap);
    va_end(ap);
    utf8_trim(v->reasons[v->n_reasons++]);
}

/* Pick the (up to three) largest contributions as reasons; a stable
 * selection, so equal magnitudes keep the order they were noted in. */
static void reasons_from(const scorecard_t *sc, bf_aisim_verdict_t *v)
{
    bool used[MAX_CONTRIBUTIONS] = {false};
    while (v->n_reasons < BF_AISIM_REASONS_MAX) {
        int best = -1;
        for (size_t i = 0; i < sc->n; i++)
            if (!used[i] && fabs(sc->c[i].delta) > 0.0 &&
                (best < 0 || fabs(sc->c[i].delta) > fabs(sc->c[best].delta)))
                best = (int)i;
        if (best < 0)
            break;
        used[best] = true;
        bf_aisim_verdict_add_reason(v, "%s", sc->c[best].text);
    }
}

/* Confidence of a scalar judgement: sure at the extremes, unsure near the
 * middle, where one more feature would tip it. */
static double confidence_of(double score)
{
    return round2(0.5 + 0.45 * fabs(2.0 * score - 1.0));
}

/* Add @p got (out of @p weight) to the score and note it: as a gain when
 * more than half the weight was earned, else as what was lost. */
static void credit(scorecard_t *sc, double *score, double weight, double got,
                   const char *gained, const char *lost)
{
    *score += got;
    if (got * 2 > weight)
        note(sc, got, "%s", gained);
    else
        note(sc, got - weight, "%s", lost);
}

/*
 * Quality: is the write-up complete enough for a triager to act on?
 * Each feature has a full weight; a missing feature is noted with the
 * weight it lost, so "no impact section" can be a reason for a low score.
 */
static void score_quality(const bf_aisim_report_t *r, const features_t *f,
                          bf_aisim_verdict_t *v)
{
    scorecard_t sc = {0};
    double score = 0.10;
    char gained[BF_AISIM_REASON_SIZE], lost[BF_AISIM_REASON_SIZE];

    snprintf(gained, sizeof(gained), "detailed description (%zu chars)",
             f->description_len);
    snprintf(lost, sizeof(lost), "short description (%zu chars)", f->description_len);
    credit(&sc, &score, 0.25, 0.25 * fmin((double)f->description_len / 1500.0, 1.0),
           gained, lost);

    snprintf(gained, sizeof(gained), "%d numbered reproduction steps", f->numbered_steps);
    credit(&sc, &score, 0.20,
           f->numbered_steps >= 3                                             ? 0.20
           : f->numbered_steps >= 1 || f->bullets >= 2 || f->steps_len >= 100 ? 0.10
                                                                              : 0.0,
           gained, "no numbered reproduction steps");

    credit(&sc, &score, 0.10, f->code_blocks ? 0.10 : 0.0,
           "code or request blocks included", "no code blocks or raw requests");
    credit(&sc, &score, 0.10, f->urls ? 0.10 : 0.0, "affected URL given",
           "no URL of the affected endpoint");

    snprintf(gained, sizeof(gained), "impact section (%zu chars)", f->impact_len);
    credit(&sc, &score, 0.15,
           f->impact_len >= 80 ? 0.15
           : f->impact_section ? 0.05
                               : 0.0,
           gained,
           f->impact_section ? "impact stated only briefly" : "no impact section");

    credit(&sc, &score, 0.05, f->title_len >= 10 && f->title_len <= 200 ? 0.05 : 0.0,
           "clear title", "missing or unclear title");
    snprintf(gained, sizeof(gained), "weakness class given (%.40s)", r->weakness);
    credit(&sc, &score, 0.05, f->has_weakness ? 0.05 : 0.0, gained,
           "no weakness class given");

    v->score = round2(clamp(score, 0.0, 1.0));
    v->confidence = confidence_of(v->score);
    reasons_from(&sc, v);
}

/*
 * Plausibility: does the report show the bug, or only claim it? Evidence
 * raises a base of 0.35; speculation, scanner boilerplate and instructions
 * aimed at the triager lower it; a very short report cannot show anything.
 */
static void score_plausibility(const features_t *f, bf_aisim_verdict_t *v)
{
    scorecard_t sc = {0};
    double score = 0.35;
    static const struct {
        double weight;
        const char *reason;
    } evidence[] = {
        {0.15, "raw HTTP request or response shown"},
        {0.15, "concrete payload given"},
        {0.10, "proof of concept or exploit shown"},
        {0.10, "reproducible numbered steps"},
        {0.05, "code or command output included"},
        {0.05, "specific endpoint URL"},
        {0.05, "affected versions named"},
    };
    const bool present[] = {
        f->http > 0,        f->payloads > 0, f->poc > 0,     f->numbered_steps >= 2,
        f->code_blocks > 0, f->urls > 0,     f->versions > 0};
    for (size_t i = 0; i < sizeof(evidence) / sizeof(evidence[0]); i++) {
        if (present[i]) {
            score += evidence[i].weight;
            note(&sc, evidence[i].weight, "%s", evidence[i].reason);
        }
    }
    if (f->vague) {
        double d = -0.06 * (f->vague > 4 ? 4 : f->vague);
        score += d;
        note(&sc, d, "speculative language ('%s')", f->first_vague);
    }
    if (f->scanner) {
        score -= 0.20;
        note(&sc, -0.20, "reads like scanner output ('%s')", f->first_scanner);
    }
    if (f->injection) {
        score -= 0.40;
        note(&sc, -0.40, "contains instructions aimed at the triager");
    }
    if (sc.n == 0)
        note(&sc, -0.01, "no concrete evidence");

    /* Caps, not penalties: no amount of keywords in 150 bytes makes a
     * report believable. Noted with a large delta so they lead. */
    if (f->total_len < 150 && score > 0.10) {
        score = 0.10;
        note(&sc, -1.0, "very short report (%zu chars)", f->total_len);
    } else if (f->total_len < 400 && score > 0.35) {
        score = 0.35;
        note(&sc, -1.0, "short report (%zu chars)", f->total_len);
    }
    v->score = round2(clamp(score, 0.02, 0.98));
    v->confidence = confidence_of(v->score);
    reasons_from(&sc, v);
}

void bf_aisim_verdict_derive(bf_aisim_kind_t kind, const bf_aisim_report_t *r,
                             bf_aisim_verdict_t *out)
{
    memset(out, 0, sizeof(*out));
    bf_aisim_text_t strong = lowered(2, r->title, r->weakness);
    bf_aisim_text_t body = lowered(3, r->description, r->steps, r->impact);
    bf_aisim_text_t all =
        lowered(5, r->title, r->weakness, r->description, r->steps, r->impact);
    features_t f;
    extract_features(r, &all, &f);

    switch (kind) {
    case BF_AISIM_KIND_QUALITY:
        score_quality(r, &f, out);
        break;
    case BF_AISIM_KIND_PLAUSIBILITY:
        score_plausibility(&f, out);
        break;
    case BF_AISIM_KIND_SEVERITY:
        bf_aisim_severity_judge(&strong, &body, &all, out);
        break;
    default:
        out->score = 0.5;
        out->confidence = 0.5;
        bf_aisim_verdict_add_reason(out, "unknown analysis kind; neutral answer");
        break;
    }
    if (out->n_reasons == 0)
        bf_aisim_verdict_add_reason(out, "no notable features");
    free(strong.s);
    free(body.s);
    free(all.s);
}

void bf_aisim_verdict_fixed(bf_aisim_kind_t kind, bf_aisim_verdict_t *out)
{
    memset(out, 0, sizeof(*out));
    out->score = 0.8;
    out->confidence = 0.8;
    if (kind == BF_AISIM_KIND_SEVERITY)
        out->severity = BF_AISIM_SEVERITY_MEDIUM;
    bf_aisim_verdict_add_reason(out, "fixed simulated answer");
}

char *bf_aisim_verdict_to_json(bf_aisim_kind_t kind, const bf_aisim_verdict_t *v)
{
    json_t *reasons = json_array();
    for (size_t i = 0; i < v->n_reasons; i++)
        json_array_append_new(reasons, json_string(v->reasons[i]));
    json_t *obj = json_pack("{s:f, s:f, s:o}", "score", v->score, "confidence",
                            v->confidence, "reasons", reasons);
    if (kind == BF_AISIM_KIND_SEVERITY)
        json_object_set_new(obj, "severity",
                            json_string(bf_aisim_severity_name(v->severity)));
    /* Two decimals were kept; print them as written ("0.55", not
     * "0.55000000000000004"). */
    char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(4));
    json_decref(obj);
    if (!s)
        abort(); /* only on allocation failure: the project's OOM policy */
    return s;
}
