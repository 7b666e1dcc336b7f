/*
 * bountyfleet-cvss - score CVSS v3.0, v3.1 and v4.0 vectors (libbf/cvss.h)
 * the way the worker does.
 *
 * Vectors come from the arguments or, with none, one per line on stdin
 * (blank lines skipped, surrounding blanks and a CR trimmed). Each gets one
 * line on stdout:
 *
 *   VECTOR<TAB>SCORE<TAB>RATING      e.g. CVSS:3.1/AV:N/...  9.8  Critical
 *   VECTOR<TAB>error<TAB>REASON
 *
 * SCORE has one decimal: the Base Score for v3.x, and for v4.0 the one
 * score its metrics give (CVSS-B, -BT, -BE or -BTE). --json prints one
 * JSON object per vector instead, with every score. Exit status: 0 when
 * every vector scored, 1 when any did not (all lines are still printed),
 * 2 for a usage error.
 *
 * A stdin line is read into a fixed buffer: a longer one is an error line
 * (its beginning shown), never a bigger allocation.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "libbf/config.h"
#include "libbf/cvss.h"

/* The longest stdin line looked at; longer lines are reported, not read. */
#define LINE_MAX_BYTES 4096
/* How much of a bad line the VECTOR column shows (bf_cvss_printable:
 * printable ASCII only, so that a hostile line cannot break the
 * one-line-per-vector format, or the JSON's UTF-8). */
#define SHOWN_MAX_BYTES (BF_CVSS_MAX_VECTOR + 16)

typedef struct cvss_tool_config_s {
    bool json;
} cvss_tool_config_t;

#define O(field) offsetof(cvss_tool_config_t, field)
#define NORANGE  1, 0

static const bf_opt_t options[] = {
    {"json", 'j', NULL, BF_OPT_BOOL, "false", NORANGE, NULL,
     "print one JSON object per vector (version, every score, rating) instead of "
     "VECTOR<TAB>SCORE<TAB>RATING",
     O(json)},
};

static const bf_cli_t cli = {
    .program = "bountyfleet-cvss",
    .summary = "Score CVSS v3.0, v3.1 and v4.0 vectors given as arguments, or one per "
               "line on stdin.",
    .usage = "[OPTIONS] [VECTOR...]",
    .opts = options,
    .n_opts = sizeof(options) / sizeof(options[0]),
    .kafka_props = false,
};

static void print_json(json_t *o, FILE *out)
{
    /* Scores have one decimal: three significant digits print them exactly
     * ("9.8", "10.0"), where the default would show 9.8000000000000007. */
    json_dumpf(o, out, JSON_COMPACT | JSON_REAL_PRECISION(3));
    fputc('\n', out);
    json_decref(o);
}

static void print_error(const char *vector, bf_err_t err, const char *reason, bool json,
                        FILE *out)
{
    if (json)
        print_json(json_pack("{s:s, s:s, s:s}", "vector", vector, "error",
                             bf_err_name(err), "reason", reason),
                   out);
    else
        fprintf(out, "%s\terror\t%s\n", vector, reason);
}

static void print_scores(const char *vector, const bf_cvss_scores_t *s, bool json,
                         FILE *out)
{
    if (!json) {
        fprintf(out, "%s\t%.1f\t%s\n", vector, s->score, bf_cvss_rating_name(s->rating));
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:f, s:s}", "vector", vector, "version",
                          bf_cvss_version_name(s->version), "score", s->score, "rating",
                          bf_cvss_rating_name(s->rating));
    if (s->version == BF_CVSS_V4_0) {
        json_t *scores = json_object();
        for (int n = 0; n < BF_CVSS_NOMENCLATURE__COUNT; n++)
            if (!isnan(s->v4[n]))
                json_object_set_new(scores,
                                    bf_cvss_nomenclature_name((bf_cvss_nomenclature_t)n),
                                    json_real(s->v4[n]));
        json_object_set_new(o, "nomenclature",
                            json_string(bf_cvss_nomenclature_name(s->nomenclature)));
        json_object_set_new(o, "scores", scores);
    } else {
        json_object_set_new(o, "base", json_real(s->base));
        json_object_set_new(o, "temporal", json_real(s->temporal));
        json_object_set_new(o, "environmental", json_real(s->environmental));
    }
    print_json(o, out);
}

/* Score one vector and print its line. @returns true when it scored. */
static bool score_vector(const char *vector, size_t len, bool json, FILE *out)
{
    char show[SHOWN_MAX_BYTES + 8], errstr[256];
    bf_cvss_printable(vector, len, SHOWN_MAX_BYTES, show, sizeof(show));
    bf_cvss_t v;
    bf_cvss_scores_t s;
    bf_err_t err;
    if (memchr(vector, '\0', len)) {
        err = BF_ERR_PARSE;
        snprintf(errstr, sizeof(errstr), "contains a NUL byte");
    } else {
        err = bf_cvss_parse(vector, &v, errstr, sizeof(errstr));
    }
    if (err == BF_OK)
        err = bf_cvss_score(&v, &s);
    if (err != BF_OK) {
        print_error(show, err, errstr, json, out);
        return false;
    }
    print_scores(show, &s, json, out);
    return true;
}

/* Read one line of at most LINE_MAX_BYTES into @p buf (NUL-terminated;
 * NUL bytes in the line are kept and counted in *len). The rest of a
 * longer line is read and dropped, and *too_long set.
 * @returns false at the end of the input. */
static bool read_line(FILE *in, char *buf, size_t *len, bool *too_long)
{
    size_t n = 0;
    int c;
    *too_long = false;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (n < LINE_MAX_BYTES)
            buf[n++] = (char)c;
        else
            *too_long = true;
    }
    buf[n] = '\0';
    *len = n;
    return c != EOF || n > 0 || *too_long;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool score_stdin(bool json, FILE *out)
{
    static char line[LINE_MAX_BYTES + 1];
    size_t len;
    bool too_long, ok = true;
    while (read_line(stdin, line, &len, &too_long)) {
        char *s = line;
        while (len > 0 && is_blank(*s)) {
            s++;
            len--;
        }
        while (len > 0 && is_blank(s[len - 1]))
            len--;
        s[len] = '\0';
        if (too_long) {
            char show[SHOWN_MAX_BYTES + 8], reason[64];
            snprintf(reason, sizeof(reason), "line longer than %d bytes", LINE_MAX_BYTES);
            print_error(bf_cvss_printable(s, len, SHOWN_MAX_BYTES, show, sizeof(show)),
                        BF_ERR_TOO_LARGE, reason, json, out);
            ok = false;
        } else if (len > 0) {
            ok = score_vector(s, len, json, out) && ok;
        }
    }
    return ok;
}

int main(int argc, char **argv)
{
    cvss_tool_config_t cfg = {0};
    char errstr[512] = "";
    int first_arg = 0;
    bf_cli_result_t r =
        bf_cli_parse(&cli, &cfg, argc, argv, NULL, &first_arg, errstr, sizeof(errstr));
    if (r == BF_CLI_EXIT)
        return 0;
    if (r == BF_CLI_ERROR) {
        fprintf(stderr, "%s: %s\n", cli.program, errstr);
        return 2;
    }
    bool ok = true;
    if (first_arg < argc) {
        for (int i = first_arg; i < argc; i++)
            ok = score_vector(argv[i], strlen(argv[i]), cfg.json, stdout) && ok;
    } else {
        ok = score_stdin(cfg.json, stdout);
        if (ferror(stdin)) {
            fprintf(stderr, "%s: cannot read stdin\n", cli.program);
            ok = false;
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write stdout\n", cli.program);
        ok = false;
    }
    bf_cli_free(&cli, &cfg);
    return ok ? 0 : 1;
}
