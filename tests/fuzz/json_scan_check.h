/*
 * json_scan_check.h - libbf/json_scan.h against jansson, for the unit test
 * (tests/unit/test_json_scan.c) and the fuzz target (fuzz_json_scan.c).
 *
 * bf_json_scan() must accept exactly the texts json_loadb(text, len, 0)
 * accepts, and on an accepted text every value found by navigation must be
 * the value jansson built: the same kind, string bytes, integer, real (bit
 * for bit), members (the last of a duplicated name, as jansson keeps) and
 * elements, all the way down. And bf_json_to_jansson() builds what
 * json_loadb() builds with the same flags (0: the last of a repeated name
 * counts; JSON_REJECT_DUPLICATES: nothing then): the same values, members
 * in the same order.
 */
#ifndef BF_TESTS_JSON_SCAN_CHECK_H
#define BF_TESTS_JSON_SCAN_CHECK_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/json_scan.h"

static inline bf_json_kind_t jansson_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return BF_JSON_OBJECT;
    case JSON_ARRAY:
        return BF_JSON_ARRAY;
    case JSON_STRING:
        return BF_JSON_STRING;
    case JSON_INTEGER:
        return BF_JSON_INTEGER;
    case JSON_REAL:
        return BF_JSON_REAL;
    case JSON_TRUE:
        return BF_JSON_TRUE;
    case JSON_FALSE:
        return BF_JSON_FALSE;
    default:
        return BF_JSON_NULL;
    }
}

/* 0 when @p v is the value @p j; otherwise a short reason. Recursion is
 * bounded by jansson's own depth limit. */
static inline const char *json_scan_same(const json_t *j, bf_json_view_t v)
{
    if (v.kind != jansson_kind(j))
        return "kind";
    switch (v.kind) {
    case BF_JSON_STRING: {
        size_t want = json_string_length(j);
        char *buf = malloc(want + 1);
        size_t got = bf_json_string(v, buf, want + 1);
        int same = got == want && memcmp(buf, json_string_value(j), want) == 0;
        free(buf);
        return same ? NULL : "string";
    }
    case BF_JSON_INTEGER:
        return bf_json_integer(v) == json_integer_value(j) ? NULL : "integer";
    case BF_JSON_REAL: {
        double a = bf_json_number(v), b = json_real_value(j);
        return memcmp(&a, &b, sizeof(a)) == 0 ? NULL : "real";
    }
    case BF_JSON_ARRAY: {
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e)
        {
            const char *why = json_scan_same(e, bf_json_element(v, i));
            if (why)
                return why;
        }
        return bf_json_element(v, json_array_size(j)).kind == BF_JSON_NONE
                   ? NULL
                   : "extra element";
    }
    case BF_JSON_OBJECT: {
        const char *key;
        json_t *m;
        json_object_foreach((json_t *)j, key, m)
        {
            /* A name with a NUL or one over 255 bytes cannot be asked for. */
            if (strlen(key) > 255)
                continue;
            const char *why = json_scan_same(m, bf_json_member(v, key));
            if (why)
                return why;
        }
        static const char absent[] = "\x01 no such name";
        if (json_object_get(j, absent))
            return NULL;
        return bf_json_member(v, absent).kind == BF_JSON_NONE ? NULL : "phantom member";
    }
    default:
        return NULL;
    }
}

/* 0 when the scan and jansson agree on @p text; otherwise a reason. */
static inline const char *json_scan_agrees(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    bf_json_view_t root;
    int ok = bf_json_scan(text, len, &root);
    const char *why = NULL;
    /* The one place the scan is stricter: jansson drops a NUL byte that
     * follows a number or a literal ("[1\0]" loads as [1]). */
    if (j && !ok && memchr(text, '\0', len))
        ok = 2;
    else if (!j != !ok)
        why = j ? "scan refused what jansson accepts"
                : "scan accepted what jansson refuses";
    else if (j && ok == 1)
        why = json_scan_same(j, root);
    /* Both ways of building: duplicates rejected, and the last counts. */
    for (int reject = 0; !why && j && ok == 1 && reject < 2; reject++) {
        size_t flags = reject ? JSON_REJECT_DUPLICATES : 0;
        json_t *strict = json_loadb(text, len, flags, &jerr);
        json_t *built = bf_json_to_jansson(root, flags);
        if (!strict != !built) {
            why = strict ? "bf_json_to_jansson refused what jansson builds"
                         : "bf_json_to_jansson built a text with a repeated name";
        } else if (strict) {
            char *a = json_dumps(strict, JSON_COMPACT | JSON_ENCODE_ANY);
            char *b = json_dumps(built, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!a || !b || strcmp(a, b) != 0)
                why = "bf_json_to_jansson built another value";
            free(a);
            free(b);
        }
        json_decref(strict);
        json_decref(built);
    }
    json_decref(j);
    return why;
}

#endif
