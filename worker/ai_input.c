/*
 * ai_input.c - a report's user message, escaped once for every request
 * body, and its content hash (see ai_input.h).
 *
 * Before inputs, each attempt of each analysis serialised the report three
 * times (for the token estimate, the cache key and the message) and then
 * jansson escaped the whole body, prompts included, once more: 36% of the
 * worker's instructions at 0 ms AI latency (callgrind, BENCHMARKS.md). Now
 * a report is serialised twice in all, and a request body is three copies.
 */
#include "worker/ai_input.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/hex.h"
#include "libbf/mem.h"
#include "libbf/report.h"
#include "worker/analysis.h"

size_t bf_ai_json_escape(const char *text, size_t len, char *out)
{
    return (size_t)(bf_json_escape(out, text, len, BF_JSON_PASS_INVALID) - out);
}

bf_ai_input_t *bf_ai_input_new(const json_t *report)
{
    bf_ai_input_t *in = bf_calloc(1, sizeof(*in));
    in->refs = 1;
    in->report = json_incref((json_t *)report);
    char *user = bf_analysis_user_text(report);
    in->user_len = strlen(user);
    in->user_escaped = bf_malloc(6 * in->user_len + 1);
    in->user_escaped_len = bf_ai_json_escape(user, in->user_len, in->user_escaped);
    in->user_escaped[in->user_escaped_len] = '\0';
    in->user_escaped = bf_realloc(in->user_escaped, in->user_escaped_len + 1);
    free(user);
    return in;
}

static void hash_hex(const char *text, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
    bf_hex_encode(md, mdlen < 32 ? mdlen : 32, out);
}

bf_ai_input_t *bf_ai_input_from_report(const bf_report_t *r)
{
    size_t len, sorted_len;
    char *text = bf_report_json_text(r, JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH, &len);
    char *sorted = text ? bf_report_json_text(r, JSON_SORT_KEYS, &sorted_len) : NULL;
    if (!sorted) { /* not UTF-8: let jansson say what it makes of it */
        free(text);
        json_t *j = bf_report_to_json(r);
        bf_ai_input_t *in = bf_ai_input_new(j);
        json_decref(j);
        return in;
    }
    /* The message bf_analysis_user_text() makes, escaped as it goes. */
    static const char head[] = "<report>\\n", tail[] = "\\n</report>";
    char *cvss = bf_analysis_cvss_text(r->cvss_vector);
    size_t cvss_len = strlen(cvss);
    bf_ai_input_t *in = bf_calloc(1, sizeof(*in));
    in->refs = 1;
    in->user_len = len + 19 + cvss_len; /* "<report>\n", "\n</report>", the score */
    in->user_escaped = bf_malloc(sizeof(head) + 6 * (len + cvss_len) + sizeof(tail));
    char *o = in->user_escaped;
    memcpy(o, head, sizeof(head) - 1);
    o += sizeof(head) - 1;
    o += bf_ai_json_escape(text, len, o);
    memcpy(o, tail, sizeof(tail) - 1);
    o += sizeof(tail) - 1;
    o += bf_ai_json_escape(cvss, cvss_len, o);
    *o = '\0';
    in->user_escaped_len = (size_t)(o - in->user_escaped);
    /* Room was made for the worst case (every byte escaped as \u00XX, six
     * times the text); the input lives as long as the report is in flight,
     * thousands at once, so it keeps only what it uses. */
    in->user_escaped = bf_realloc(in->user_escaped, in->user_escaped_len + 1);
    free(cvss);
    hash_hex(sorted, sorted_len, in->content_hash);
    free(text);
    free(sorted);
    return in;
}

bf_ai_input_t *bf_ai_input_ref(bf_ai_input_t *in)
{
    in->refs++;
    return in;
}

void bf_ai_input_release(bf_ai_input_t *in)
{
    if (!in || --in->refs > 0)
        return;
    json_decref(in->report);
    free(in->user_escaped);
    free(in);
}

const char *bf_ai_input_content_hash(bf_ai_input_t *in)
{
    if (in->content_hash[0])
        return in->content_hash;
    /* Sorted keys: the same content hashes the same whichever order a
     * producer wrote its fields in. Changing this text changes every
     * cache key (and pays again for what the fleet already knows). */
    char *text = json_dumps(in->report, JSON_COMPACT | JSON_SORT_KEYS);
    hash_hex(text ? text : "", text ? strlen(text) : 0, in->content_hash);
    free(text);
    return in->content_hash;
}
