/*
 * json_scan.c - checking a JSON text as jansson would, and finding values
 * in it without building it (see json_scan.h).
 *
 * The check is one pass with an explicit stack, so a deep text cannot
 * exhaust the C stack. Its rules are jansson 2.14's (load.c), which is
 * what the worker used before and what the tests compare against:
 *  - the top-level value is an object or an array, and only white space
 *    (' ', '\t', '\n', '\r') follows it;
 *  - strings hold no byte below 0x20 and only valid UTF-8 (no overlong
 *    form, no surrogate, nothing above U+10FFFF); escapes are \" \\ \/ \b
 *    \f \n \r \t and \uXXXX, where a high surrogate must be followed by an
 *    escaped low one, a lone low one is an error, and U+0000 is refused;
 *  - numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; one without
 *    fraction or exponent is an integer and must fit a long long; a real
 *    must not overflow to infinity;
 *  - literals true, false, null (a longer run of letters is an error);
 *  - at most 2048 levels: the top-level value is at level 1, and every
 *    value inside a container one level deeper.
 * Navigation then trusts the text: skipping a value only needs to match
 * brackets outside strings.
 */
#include "libbf/json_scan.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/mem.h"

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct cur_s {
    const char *p, *end;
} cur_t;

static void skip_ws(cur_t *c)
{
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Four hex digits at @p p (there are at least four bytes), or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* One UTF-8 sequence at @p p (RFC 3629); its length, or 0 if invalid. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* A string at c->p ('"'): check it and move past its closing quote. */
static bool scan_string(cur_t *c)
{
    const unsigned char *p = (const unsigned char *)c->p + 1;
    const unsigned char *end = (const unsigned char *)c->end;
    while (p < end) {
        unsigned ch = *p;
        if (ch == '"') {
            c->p = (const char *)p + 1;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            if (end - p < 2)
                return false;
            unsigned e = p[1];
            if (e == 'u') {
                if (end - p < 6)
                    return false;
                long v = hex4((const char *)p + 2);
                if (v < 0 || v == 0)
                    return false; /* not hex, or U+0000 */
                p += 6;
                if (v >= 0xdc00 && v <= 0xdfff)
                    return false; /* a low surrogate alone */
                if (v >= 0xd800 && v <= 0xdbff) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                        return false;
                    long lo = hex4((const char *)p + 2);
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return false;
                    p += 6;
                }
                continue;
            }
            if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                e != 'r' && e != 't')
                return false;
            p += 2;
            continue;
        }
        if (ch < 0x80) {
            p++;
            continue;
        }
        size_t n = utf8_length(p, end);
        if (!n)
            return false;
        p += n;
    }
    return false; /* no closing quote */
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Parse the number [start, end) (already well-formed) as jansson does:
 * strtoll for an integer, strtod for a real. */
static bool number_value(const char *start, const char *end, bool integer, long long *iv,
                         double *dv)
{
    char small[64];
    size_t n = (size_t)(end - start);
    char *text = n < sizeof(small) ? small : bf_malloc(n + 1);
    memcpy(text, start, n);
    text[n] = '\0';
    bool ok = true;
    errno = 0;
    if (integer) {
        long long v = strtoll(text, NULL, 10);
        ok = errno != ERANGE;
        if (iv)
            *iv = v;
        if (dv)
            *dv = (double)v;
    } else {
        double v = strtod(text, NULL);
        ok = !((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE);
        if (dv)
            *dv = v;
    }
    if (text != small)
        free(text);
    return ok;
}

static bool scan_number(cur_t *c, bf_json_kind_t *kind)
{
    const char *p = c->p, *end = c->end, *start = p;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return false; /* a leading zero */
    } else if (p < end && is_digit(*p)) {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return false;
    }
    bool integer = true;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return false;
        while (p < end && is_digit(*p))
            p++;
        integer = false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return false;
        while (p < end && is_digit(*p))
            p++;
        integer = false;
    }
    if (!number_value(start, p, integer, NULL, NULL))
        return false; /* "too big integer" or "real number overflow" */
    *kind = integer ? BF_JSON_INTEGER : BF_JSON_REAL;
    c->p = p;
    return true;
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool scan_literal(cur_t *c, bf_json_kind_t *kind)
{
    const char *p = c->p;
    while (p < c->end && is_alpha(*p))
        p++;
    size_t n = (size_t)(p - c->p);
    if (n == 4 && memcmp(c->p, "true", 4) == 0)
        *kind = BF_JSON_TRUE;
    else if (n == 5 && memcmp(c->p, "false", 5) == 0)
        *kind = BF_JSON_FALSE;
    else if (n == 4 && memcmp(c->p, "null", 4) == 0)
        *kind = BF_JSON_NULL;
    else
        return false;
    c->p = p;
    return true;
}

/* One scalar at c->p. */
static bool scan_scalar(cur_t *c, bf_json_kind_t *kind)
{
    char ch = *c->p;
    if (ch == '"') {
        *kind = BF_JSON_STRING;
        return scan_string(c);
    }
    if (ch == '-' || is_digit(ch))
        return scan_number(c, kind);
    return scan_literal(c, kind);
}

bool bf_json_scan(const char *text, size_t len, bf_json_view_t *root)
{
    cur_t c = {text, text + len};
    char stack[MAX_DEPTH]; /* '{' or '[' per open container */
    size_t depth = 0;
    skip_ws(&c);
    if (c.p >= c.end || (*c.p != '{' && *c.p != '['))
        return false;
    const char *root_start = c.p;
    for (;;) {
        /* A value starts here, at level depth + 1. */
        skip_ws(&c);
        if (c.p >= c.end || depth + 1 > MAX_DEPTH)
            return false;
        if (*c.p == '{' || *c.p == '[') {
            char open = *c.p++;
            stack[depth++] = open;
            skip_ws(&c);
            if (c.p < c.end && *c.p == (open == '{' ? '}' : ']')) {
                c.p++;
                depth--;
                goto after_value;
            }
            if (open == '{')
                goto member;
            continue;
        }
        bf_json_kind_t kind;
        if (!scan_scalar(&c, &kind))
            return false;
    after_value:
        skip_ws(&c);
        if (depth == 0) {
            if (c.p != c.end)
                return false; /* "end of file expected" */
            if (root) {
                root->kind = *root_start == '{' ? BF_JSON_OBJECT : BF_JSON_ARRAY;
                root->start = root_start;
                const char *e = c.end;
                while (e > root_start &&
                       (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
                    e--;
                root->end = e;
            }
            return true;
        }
        if (c.p >= c.end)
            return false;
        if (*c.p == ',') {
            c.p++;
            if (stack[depth - 1] == '[')
                continue;
            skip_ws(&c);
            goto member;
        }
        if (*c.p == (stack[depth - 1] == '{' ? '}' : ']')) {
            c.p++;
            depth--;
            goto after_value;
        }
        return false;
    member:
        /* An object's member: "name" ws ':' then the value. */
        if (c.p >= c.end || *c.p != '"' || !scan_string(&c))
            return false;
        skip_ws(&c);
        if (c.p >= c.end || *c.p != ':')
            return false;
        c.p++;
    }
}

/* ---- navigation over a checked text ------------------------------------ */

static const char *skip_string(const char *p)
{
    for (p++;; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
}

/* The value at @p p (a checked text): its kind and end. */
static bf_json_view_t value_at(const char *p, const char *limit)
{
    bf_json_view_t v = {BF_JSON_NONE, p, p};
    char ch = *p;
    if (ch == '"') {
        v.kind = BF_JSON_STRING;
        v.end = skip_string(p);
    } else if (ch == '{' || ch == '[') {
        v.kind = ch == '{' ? BF_JSON_OBJECT : BF_JSON_ARRAY;
        size_t depth = 0;
        const char *q = p;
        for (; q < limit; q++) {
            if (*q == '"') {
                q = skip_string(q) - 1;
            } else if (*q == '{' || *q == '[') {
                depth++;
            } else if (*q == '}' || *q == ']') {
                if (--depth == 0) {
                    q++;
                    break;
                }
            }
        }
        v.end = q;
    } else if (ch == '-' || is_digit(ch)) {
        const char *q = p;
        v.kind = BF_JSON_INTEGER;
        while (q < limit && (is_digit(*q) || *q == '-' || *q == '+' || *q == '.' ||
                             *q == 'e' || *q == 'E')) {
            if (*q == '.' || *q == 'e' || *q == 'E')
                v.kind = BF_JSON_REAL;
            q++;
        }
        v.end = q;
    } else {
        v.kind = ch == 't' ? BF_JSON_TRUE : ch == 'f' ? BF_JSON_FALSE : BF_JSON_NULL;
        v.end = p + (ch == 'f' ? 5 : 4);
    }
    return v;
}

static const char *ws_from(const char *p, const char *limit)
{
    while (p < limit && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Does the string value @p key (a checked string, quotes included) spell
 * @p name? Unescaped only when it has an escape. */
static bool key_is(bf_json_view_t key, const char *name)
{
    size_t raw = (size_t)(key.end - key.start) - 2;
    if (!memchr(key.start + 1, '\\', raw))
        return strlen(name) == raw && memcmp(key.start + 1, name, raw) == 0;
    char buf[256];
    size_t n = bf_json_string(key, buf, sizeof(buf));
    return n < sizeof(buf) && strcmp(buf, name) == 0;
}

bf_json_view_t bf_json_member(bf_json_view_t obj, const char *name)
{
    bf_json_view_t found = {BF_JSON_NONE, NULL, NULL};
    if (obj.kind != BF_JSON_OBJECT)
        return found;
    const char *p = ws_from(obj.start + 1, obj.end);
    while (p < obj.end && *p == '"') {
        bf_json_view_t key = value_at(p, obj.end);
        p = ws_from(key.end, obj.end) + 1; /* past ':' */
        p = ws_from(p, obj.end);
        bf_json_view_t v = value_at(p, obj.end);
        if (key_is(key, name))
            found = v; /* the last of a name counts, as in jansson */
        p = ws_from(v.end, obj.end);
        if (p < obj.end && *p == ',')
            p = ws_from(p + 1, obj.end);
        else
            break;
    }
    return found;
}

bf_json_view_t bf_json_element(bf_json_view_t arr, size_t index)
{
    bf_json_view_t none = {BF_JSON_NONE, NULL, NULL};
    if (arr.kind != BF_JSON_ARRAY)
        return none;
    const char *p = ws_from(arr.start + 1, arr.end);
    for (size_t i = 0; p < arr.end && *p != ']'; i++) {
        bf_json_view_t v = value_at(p, arr.end);
        if (i == index)
            return v;
        p = ws_from(v.end, arr.end);
        if (p < arr.end && *p == ',')
            p = ws_from(p + 1, arr.end);
        else
            break;
    }
    return none;
}

/* Append code point @p cp as UTF-8 while it fits; count it either way. */
static void put_utf8(unsigned long cp, char *buf, size_t size, size_t *n)
{
    char tmp[4];
    size_t len;
    if (cp < 0x80) {
        tmp[0] = (char)cp;
        len = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char)(0xc0 | cp >> 6);
        tmp[1] = (char)(0x80 | (cp & 0x3f));
        len = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char)(0xe0 | cp >> 12);
        tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (char)(0x80 | (cp & 0x3f));
        len = 3;
    } else {
        tmp[0] = (char)(0xf0 | cp >> 18);
        tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[3] = (char)(0x80 | (cp & 0x3f));
        len = 4;
    }
    for (size_t i = 0; i < len; i++, (*n)++)
        if (*n + 1 < size)
            buf[*n] = tmp[i];
}

size_t bf_json_string(bf_json_view_t v, char *buf, size_t size)
{
    if (v.kind != BF_JSON_STRING)
        return (size_t)-1;
    size_t n = 0;
    const char *p = v.start + 1, *end = v.end - 1;
    while (p < end) {
        const char *run = p;
        while (p < end && *p != '\\')
            p++;
        size_t len = (size_t)(p - run);
        if (size && n + 1 < size) {
            size_t room = size - 1 - n;
            memcpy(buf + n, run, len < room ? len : room);
        }
        n += len;
        if (p >= end)
            break;
        char e = p[1];
        if (e == 'u') {
            unsigned long cp = (unsigned long)hex4(p + 2);
            p += 6;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                cp = ((cp - 0xd800) << 10) + ((unsigned long)hex4(p + 2) - 0xdc00) +
                     0x10000;
                p += 6;
            }
            put_utf8(cp, buf, size, &n);
            continue;
        }
        char out = e == 'b'   ? '\b'
                   : e == 'f' ? '\f'
                   : e == 'n' ? '\n'
                   : e == 'r' ? '\r'
                   : e == 't' ? '\t'
                              : e; /* '"', '\\', '/' */
        if (size && n + 1 < size)
            buf[n] = out;
        n++;
        p += 2;
    }
    if (size)
        buf[n < size ? n : size - 1] = '\0';
    return n;
}

long long bf_json_integer(bf_json_view_t v)
{
    long long iv = 0;
    if (v.kind == BF_JSON_INTEGER)
        number_value(v.start, v.end, true, &iv, NULL);
    return iv;
}

double bf_json_number(bf_json_view_t v)
{
    double dv = 0;
    if (v.kind == BF_JSON_INTEGER || v.kind == BF_JSON_REAL)
        number_value(v.start, v.end, v.kind == BF_JSON_INTEGER, NULL, &dv);
    return dv;
}

bool bf_json_next(bf_json_view_t c, bf_json_iter_t *it, bf_json_view_t *key,
                  bf_json_view_t *value)
{
    if (c.kind != BF_JSON_OBJECT && c.kind != BF_JSON_ARRAY)
        return false;
    const char *p = it->p ? it->p : ws_from(c.start + 1, c.end);
    if (p >= c.end || *p == '}' || *p == ']')
        return false;
    if (c.kind == BF_JSON_OBJECT) {
        bf_json_view_t k = value_at(p, c.end);
        if (key)
            *key = k;
        p = ws_from(ws_from(k.end, c.end) + 1, c.end); /* past ':' */
    }
    *value = value_at(p, c.end);
    p = ws_from(value->end, c.end);
    /* After the last one the place is the closing bracket. */
    it->p = p < c.end && *p == ',' ? ws_from(p + 1, c.end) : c.end - 1;
    return true;
}

/* The unescaped bytes of the string view @p v, in *len: the text itself
 * when it has no escape, else @p small, else a block in *heap (the
 * caller frees it). */
static const char *unescaped(bf_json_view_t v, char (*small)[256], char **heap,
                             size_t *len)
{
    size_t raw = (size_t)(v.end - v.start) - 2;
    *heap = NULL;
    *len = raw;
    if (!memchr(v.start + 1, '\\', raw))
        return v.start + 1;
    *len = bf_json_string(v, *small, sizeof(*small));
    if (*len < sizeof(*small))
        return *small;
    *heap = bf_malloc(*len + 1);
    bf_json_string(v, *heap, *len + 1);
    return *heap;
}

/* A string value as a jansson string (the scan checked its UTF-8). */
static json_t *jansson_string(bf_json_view_t v)
{
    char small[256], *heap;
    size_t n;
    const char *text = unescaped(v, &small, &heap, &n);
    json_t *s = json_stringn_nocheck(text, n);
    free(heap);
    return s;
}

/* Member @p value under the name @p key (a string view) of @p obj (the
 * value of a name there already replaced, unless @p reject); false when
 * it is rejected (or on allocation failure). */
static bool jansson_member(json_t *obj, bf_json_view_t key, json_t *value, bool reject)
{
    char small[256], *heap;
    size_t n;
    const char *name = unescaped(key, &small, &heap, &n);
    bool ok = false;
    if (!value)
        ; /* a duplicate further in, or no memory */
    else if (reject && json_object_getn(obj, name, n))
        json_decref(value);
    else /* takes the reference, also when it fails */
        ok = json_object_setn_new_nocheck(obj, name, n, value) == 0;
    free(heap);
    return ok;
}

/* Finding a member's end walks the member, so a container is walked once
 * per level it is nested in: bf_json_load() leaves a text nested deeper
 * than this to jansson rather than walk a deep megabyte thousands of times. */
#define LOAD_BUILD_DEPTH 32

/* bf_json_to_jansson() within @p depth levels; NULL with *too_deep set
 * when the value is nested deeper. */
static json_t *build(bf_json_view_t v, size_t flags, int depth, bool *too_deep)
{
    if ((v.kind == BF_JSON_OBJECT || v.kind == BF_JSON_ARRAY) && depth <= 0) {
        *too_deep = true;
        return NULL;
    }
    switch (v.kind) {
    case BF_JSON_OBJECT: {
        json_t *obj = json_object();
        bf_json_iter_t it = {0};
        bf_json_view_t key, value;
        while (obj && bf_json_next(v, &it, &key, &value)) {
            if (!jansson_member(obj, key, build(value, flags, depth - 1, too_deep),
                                flags & JSON_REJECT_DUPLICATES)) {
                json_decref(obj);
                return NULL;
            }
        }
        return obj;
    }
    case BF_JSON_ARRAY: {
        json_t *arr = json_array();
        bf_json_iter_t it = {0};
        bf_json_view_t value;
        while (arr && bf_json_next(v, &it, NULL, &value)) {
            json_t *e = build(value, flags, depth - 1, too_deep);
            if (!e || json_array_append_new(arr, e) != 0) {
                json_decref(arr);
                return NULL;
            }
        }
        return arr;
    }
    case BF_JSON_STRING:
        return jansson_string(v);
    case BF_JSON_INTEGER:
        return json_integer(bf_json_integer(v));
    case BF_JSON_REAL:
        return json_real(bf_json_number(v));
    case BF_JSON_TRUE:
        return json_true();
    case BF_JSON_FALSE:
        return json_false();
    case BF_JSON_NULL:
        return json_null();
    default:
        return NULL;
    }
}

json_t *bf_json_to_jansson(bf_json_view_t v, size_t flags)
{
    bool too_deep = false;
    return build(v, flags, MAX_DEPTH + 1, &too_deep);
}

json_t *bf_json_load(const char *text, size_t len, size_t flags, json_error_t *error)
{
    bf_json_view_t root;
    if ((flags & ~(size_t)JSON_REJECT_DUPLICATES) == 0 && text &&
        bf_json_scan(text, len, &root)) {
        bool too_deep = false;
        json_t *j = build(root, flags, LOAD_BUILD_DEPTH, &too_deep);
        if (j)
            return j;
    }
    return json_loadb(text, len, flags, error);
}
