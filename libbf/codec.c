/*
 * codec.c - the three wire formats of DESIGN.md (see codec.h).
 *
 * A value crosses the codec as a jansson object. Three walkers do the work,
 * each over the codec's own parsed schema tree (schema_int.h), which knows
 * field defaults and logical types that avro-c does not keep:
 *
 *   fit()      JSON -> schema: checks an object against the schema, fills
 *              defaults, and writes its Avro binary (to encode) and/or a
 *              normalised JSON object (JSON framing).
 *   check()    untrusted Avro binary -> verdict: walks the bytes by the
 *              writer schema before avro-c sees them (below, "Why check").
 *   to_json()  avro-c value -> JSON, by the reader schema, filling the
 *              defaults of fields an older writer did not have.
 *
 * Why check: avro-c trusts its input. A string length of 2^62 makes it
 * try to allocate 2^62 bytes (under ASan: an abort; the tests have one),
 * a block count of -2^63 overflows when avro-c negates it, and a
 * billion-element array of nulls costs no input at all. check() reads
 * the same grammar with every length bounded by the bytes that remain,
 * validates UTF-8 on the way, and requires that the record ends exactly at
 * the end of the message, so avro-c only ever parses well-formed input.
 *
 * Schema resolution of another writer schema (Avro spec, "Schema
 * Resolution") uses avro-c's resolved reader over a projected reader
 * schema (bf_schema_project explains why); to_json() then fills the
 * defaults and maps enum symbols by name.
 *
 * Encoding writes the binary itself, straight into the output buffer:
 * the grammar is small (zig-zag varints, little-endian IEEE numbers,
 * length-prefixed bytes, one block per array or map), and going through
 * avro-c's generic values copied every string and allocated every array
 * item, then walked the value twice more to size and write it (4.1 -
 * 4.5 us of a worker's result, about as much as building its JSON). The
 * bytes are the ones avro_value_write() gives (test_codec compares them).
 * avro-c classes and values are made once per schema and reset between
 * messages: the worker decodes on its hot path. A codec is used by one
 * thread at a time.
 */
#include "libbf/codec.h"

#include <avro.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "libbf/clock.h"
#include "libbf/json_scan.h"
#include "libbf/mem.h"
#include "libbf/schema_int.h"

/* Avro spec, "Single-object encoding": C3 01, then the fingerprint. */
#define SINGLE_OBJECT_MAGIC0     0xC3
#define SINGLE_OBJECT_MAGIC1     0x01
#define SINGLE_OBJECT_HEADER_LEN 10
/* Confluent wire format: magic 0, then a 4-byte big-endian schema id. */
#define CONFLUENT_MAGIC      0x00
#define CONFLUENT_HEADER_LEN 5
/* Deepest nesting of values check() and fit() accept; our schemas nest 3
 * levels, only a recursive schema could go deeper, and the walkers recurse. */
#define MAX_VALUE_DEPTH 64
/* Items that take no bytes (null, an empty record) cannot be bounded by
 * the input size, so an array of them is capped at this many. */
#define MAX_ZERO_SIZE_ITEMS 65536
/* Older and newer writer schemas one record type may know. */
#define MAX_WRITER_SCHEMAS 64

static const char *const record_schema_names[BF_RECORD__COUNT] = {
    [BF_RECORD_REPORT] = "report",
    [BF_RECORD_VALIDATION] = "validation",
    [BF_RECORD_HEARTBEAT] = "heartbeat",
    [BF_RECORD_SCALING_DECISION] = "scaling_decision",
};

/* One schema a record type can be written with, ready to decode. */
typedef struct writer_s {
    uint64_t fingerprint;
    int32_t confluent_id;   /* -1: none */
    bf_schema_tree_t *tree; /* walks untrusted binary */
    avro_schema_t schema;
    avro_value_iface_t *cls;
    avro_value_t value; /* reused for every message */
    /* Only for a writer that is not the reader: the reader's view. */
    avro_schema_t view_schema;
    avro_value_iface_t *resolver;
    avro_value_t view;
} writer_t;

typedef struct record_s {
    json_t *reader_json; /* the current (reader) schema, self-contained */
    char *reader_text;   /* reader_json as compact text, for a registry */
    writer_t reader;     /* its tree and fingerprint encode; decodes its own */
    writer_t *others;    /* older and newer writer schemas */
    size_t others_count;
} record_t;

struct bf_codec_s {
    record_t records[BF_RECORD__COUNT];
    avro_reader_t areader;
    bf_codec_schema_lookup_cb *lookup; /* resolves unknown Confluent ids */
    void *lookup_opaque;
};

/* ------------------------------------------------------------------------
 * One encode or decode call: the error text and the path of the field
 * being worked on ("analyses[1].score"), so that errors name it.
 */

typedef struct ctx_s {
    char *errstr;
    size_t errstr_size;
    int resolved;   /* decoding through a resolved view (another writer) */
    unsigned depth; /* records and arrays fit() is inside of */
    size_t path_len;
    char path[192];
} ctx_t;

static size_t path_push(ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t path_push(ctx_t *c, const char *fmt, ...)
{
    size_t old = c->path_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->path + old, sizeof(c->path) - old, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->path_len =
            old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
    return old;
}

/* Appends @p n bytes of @p s to the path, cut to its room. */
static size_t path_append(ctx_t *c, const char *s, size_t n)
{
    size_t old = c->path_len, room = sizeof(c->path) - 1 - old;
    if (n > room)
        n = room;
    memcpy(c->path + old, s, n);
    c->path_len = old + n;
    c->path[c->path_len] = '\0';
    return old;
}

/* The path is only read when something fails, but it is kept for every
 * field of every record: a copy, not a printf (which was 3% of the
 * worker's instructions). */
static size_t path_push_field(ctx_t *c, const char *name)
{
    size_t old = c->path_len;
    if (old)
        path_append(c, ".", 1);
    path_append(c, name, strlen(name));
    return old;
}

/* "[i]" of an array item, without printf either. */
static size_t path_push_index(ctx_t *c, size_t i)
{
    char digits[24], *d = digits + sizeof(digits);
    *--d = ']';
    do
        *--d = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    *--d = '[';
    return path_append(c, d, (size_t)(digits + sizeof(digits) - d));
}

static void path_pop(ctx_t *c, size_t len)
{
    c->path_len = len;
    c->path[len] = '\0';
}

static bf_err_t fail(ctx_t *c, bf_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bf_err_t fail(ctx_t *c, bf_err_t err, const char *fmt, ...)
{
    if (!c->errstr || !c->errstr_size)
        return err;
    size_t off = 0;
    if (c->path_len) {
        int n = snprintf(c->errstr, c->errstr_size, "field %s: ", c->path);
        off = n > 0 && (size_t)n < c->errstr_size ? (size_t)n : 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr + off, c->errstr_size - off, fmt, ap);
    va_end(ap);
    return err;
}

static const char *kind_name(const bf_schema_node_t *n)
{
    static const char *const names[] = {
        [BF_SCHEMA_NULL] = "null",     [BF_SCHEMA_BOOLEAN] = "boolean",
        [BF_SCHEMA_INT] = "int",       [BF_SCHEMA_LONG] = "long",
        [BF_SCHEMA_FLOAT] = "float",   [BF_SCHEMA_DOUBLE] = "double",
        [BF_SCHEMA_BYTES] = "bytes",   [BF_SCHEMA_STRING] = "string",
        [BF_SCHEMA_RECORD] = "record", [BF_SCHEMA_ENUM] = "enum",
        [BF_SCHEMA_ARRAY] = "array",   [BF_SCHEMA_MAP] = "map",
        [BF_SCHEMA_UNION] = "union",   [BF_SCHEMA_FIXED] = "fixed",
    };
    return n->fullname ? n->fullname : names[n->kind];
}

static const char *json_kind_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static bf_err_t mismatch(ctx_t *c, const bf_schema_node_t *n, const json_t *in)
{
    return fail(c, BF_ERR_SCHEMA, "expected %s, got %s", kind_name(n),
                json_kind_name(in));
}

static bf_err_t avro_failed(ctx_t *c, bf_err_t err, const char *what)
{
    return fail(c, err, "%s: %s", what, avro_strerror());
}

/* ------------------------------------------------------------------------
 * Text helpers
 */

/* Strict UTF-8 (RFC 3629: no overlong forms, surrogates or code points
 * past U+10FFFF). Returns 0 when valid, 1 when valid but holding a NUL,
 * -1 when invalid. A NUL is refused by the callers: every consumer reads
 * these strings as C strings, and "a\0b" would silently become "a" (the
 * JSON framing refuses \u0000 for the same reason, as jansson does). */
static int utf8_check(const unsigned char *s, size_t n)
{
    int nul = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            nul |= c == 0;
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0)
            need = 1, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            need = 2, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            need = 3, cp = c & 0x07, min = 0x10000;
        else
            return -1;
        if (n - i - 1 < need)
            return -1;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        i += need + 1;
    }
    return nul;
}

/* Avro's JSON encoding writes bytes and fixed values as strings whose code
 * points 0-255 are the bytes (Avro spec, "JSON Encoding"). @p out holds at
 * least @p len bytes. Returns -1 for a code point past 255. */
static int latin1_to_bytes(const char *s, size_t len, unsigned char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; o++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[o] = c;
            i++;
        } else if ((c & 0xFE) == 0xC2 && i + 1 < len) { /* U+0080..U+00FF */
            out[o] =
                (unsigned char)(((c & 0x03) << 6) | ((unsigned char)s[i + 1] & 0x3F));
            i += 2;
        } else {
            return -1;
        }
    }
    *out_len = o;
    return 0;
}

static json_t *bytes_to_latin1(const unsigned char *b, size_t n)
{
    char *text = bf_malloc(2 * n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x80) {
            text[o++] = (char)b[i];
        } else {
            text[o++] = (char)(0xC0 | (b[i] >> 6));
            text[o++] = (char)(0x80 | (b[i] & 0x3F));
        }
    }
    json_t *j = json_stringn(text, o);
    free(text);
    return j;
}

/* ------------------------------------------------------------------------
 * Avro binary out (Avro spec, "Binary Encoding")
 */

/* Where fit() writes the binary: appended to a buffer, and once the
 * buffer's maximum is reached only counted, so the error can say how
 * large the record is. */
typedef struct sink_s {
    bf_buf_t *buf;
    size_t len; /* bytes of the record so far */
    int full;
} sink_t;

static void put(sink_t *s, const void *p, size_t n)
{
    s->len += n;
    if (!s->full && bf_buf_append(s->buf, p, n) != BF_OK)
        s->full = 1;
}

/* int and long: zig-zag, then 7 bits a byte, low group first. */
static void put_long(sink_t *s, int64_t v)
{
    uint64_t u = (uint64_t)v, z = (u << 1) ^ (0 - (u >> 63));
    unsigned char b[10];
    size_t n = 0;
    while (z >= 0x80) {
        b[n++] = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    b[n++] = (unsigned char)z;
    put(s, b, n);
}

static void put_le(sink_t *s, uint64_t bits, size_t n)
{
    unsigned char b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(bits >> (8 * i));
    put(s, b, n);
}

static void put_double(sink_t *s, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    put_le(s, bits, 8);
}

static void put_float(sink_t *s, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof(bits));
    put_le(s, bits, 4);
}

/* bytes and string: the length, then the bytes. */
static void put_bytes(sink_t *s, const void *p, size_t n)
{
    put_long(s, (int64_t)n);
    put(s, p, n);
}

/* ------------------------------------------------------------------------
 * fit(): JSON -> schema
 *
 * @p dst (receives the Avro binary of node @p n) and @p norm (receives a
 * new normalised JSON value) are each optional. On error *norm is NULL.
 */

static bf_err_t fit(ctx_t *c, const bf_schema_node_t *n, const json_t *in, sink_t *dst,
                    json_t **norm);

/* Does @p in look like a value of @p n? Picks a union's branch: the plain
 * JSON of codec.h has no branch names, so the first branch that accepts
 * the JSON type wins. */
static int accepts(const bf_schema_node_t *n, const json_t *in)
{
    switch (n->kind) {
    case BF_SCHEMA_NULL:
        return json_is_null(in);
    case BF_SCHEMA_BOOLEAN:
        return json_is_boolean(in);
    case BF_SCHEMA_INT:
        return json_is_integer(in) && json_integer_value(in) >= INT32_MIN &&
               json_integer_value(in) <= INT32_MAX;
    case BF_SCHEMA_LONG:
        return json_is_integer(in) ||
               (json_is_string(in) && n->logical == BF_SCHEMA_LOGICAL_TIMESTAMP_MILLIS);
    case BF_SCHEMA_FLOAT:
    case BF_SCHEMA_DOUBLE:
        return json_is_number(in);
    case BF_SCHEMA_BYTES:
    case BF_SCHEMA_STRING:
    case BF_SCHEMA_FIXED:
        return json_is_string(in);
    case BF_SCHEMA_ENUM:
        for (size_t i = 0; json_is_string(in) && i < n->count; i++)
            if (strcmp(n->symbols[i], json_string_value(in)) == 0)
                return 1;
        return 0;
    case BF_SCHEMA_ARRAY:
        return json_is_array(in);
    case BF_SCHEMA_MAP:
    case BF_SCHEMA_RECORD:
        return json_is_object(in);
    case BF_SCHEMA_UNION:
        return 0;
    }
    return 0;
}

static bf_err_t fit_default(ctx_t *c, const bf_schema_field_t *f, sink_t *dst,
                            json_t **norm)
{
    if (dst && f->type->kind == BF_SCHEMA_UNION)
        put_long(dst, 0); /* a union's default is of its first branch */
    bf_err_t err = fit(c, f->default_type, f->default_value, dst, norm);
    if (err != BF_OK)
        return fail(c, BF_ERR_SCHEMA, "the schema's default does not fit the field");
    return BF_OK;
}

static bf_err_t fit_record(ctx_t *c, const bf_schema_node_t *n, const json_t *in,
                           sink_t *dst, json_t **norm)
{
    if (!json_is_object(in))
        return mismatch(c, n, in);
    json_t *obj = norm ? json_object() : NULL;
    for (size_t i = 0; i < n->count; i++) {
        const bf_schema_field_t *f = &n->fields[i];
        size_t mark = path_push_field(c, f->name);
        json_t *value = json_object_get(in, f->name);
        json_t *child_norm = NULL;
        bf_err_t err;
        if (value)
            err = fit(c, f->type, value, dst, obj ? &child_norm : NULL);
        else if (f->default_value)
            err = fit_default(c, f, dst, obj ? &child_norm : NULL);
        else
            err = fail(c, BF_ERR_SCHEMA, "missing required field");
        if (err != BF_OK) {
            json_decref(obj);
            return err;
        }
        path_pop(c, mark);
        if (obj)
            json_object_set_new_nocheck(obj, f->name, child_norm);
    }
    if (norm)
        *norm = obj;
    return BF_OK;
}

static bf_err_t fit_array(ctx_t *c, const bf_schema_node_t *n, const json_t *in,
                          sink_t *dst, json_t **norm)
{
    int map = n->kind == BF_SCHEMA_MAP;
    if (map ? !json_is_object(in) : !json_is_array(in))
        return mismatch(c, n, in);
    /* One block of every item, then the empty block that ends them. */
    size_t count = map ? json_object_size(in) : json_array_size(in);
    if (dst && count)
        put_long(dst, (int64_t)count);
    json_t *out = norm ? (map ? json_object() : json_array()) : NULL;
    json_t *item;
    const char *key = NULL;
    size_t key_len = 0;
    size_t i = 0;
    void *iter = map ? json_object_iter((json_t *)in) : NULL;
    for (;; i++) {
        if (map) {
            if (!iter)
                break;
            key = json_object_iter_key(iter);
            key_len = json_object_iter_key_len(iter);
            item = json_object_iter_value(iter);
            iter = json_object_iter_next((json_t *)in, iter);
        } else if (!(item = json_array_get(in, i))) {
            break;
        }
        size_t mark = map ? path_push(c, "[%s]", key) : path_push_index(c, i);
        if (dst && map) /* a key is a string */
            put_bytes(dst, key, key_len);
        json_t *child_norm = NULL;
        bf_err_t err = fit(c, n->items, item, dst, out ? &child_norm : NULL);
        if (err != BF_OK) {
            json_decref(out);
            return err;
        }
        path_pop(c, mark);
        if (out && map)
            json_object_setn_new(out, key, key_len, child_norm);
        else if (out)
            json_array_append_new(out, child_norm);
    }
    if (dst)
        put_long(dst, 0);
    if (norm)
        *norm = out;
    return BF_OK;
}

static bf_err_t fit_bytes(ctx_t *c, const bf_schema_node_t *n, const json_t *in,
                          sink_t *dst, json_t **norm)
{
    if (!json_is_string(in))
        return mismatch(c, n, in);
    size_t len = json_string_length(in), blen;
    unsigned char *bytes = bf_malloc(len + 1);
    bf_err_t err = BF_OK;
    if (latin1_to_bytes(json_string_value(in), len, bytes, &blen) != 0)
        err = fail(c, BF_ERR_SCHEMA, "%s as JSON holds only code points up to U+00FF",
                   kind_name(n));
    else if (n->kind == BF_SCHEMA_FIXED && blen != n->fixed_size)
        err = fail(c, BF_ERR_SCHEMA, "expected %zu bytes for %s, got %zu", n->fixed_size,
                   kind_name(n), blen);
    else if (dst && n->kind == BF_SCHEMA_FIXED)
        put(dst, bytes, blen);
    else if (dst)
        put_bytes(dst, bytes, blen);
    free(bytes);
    if (err == BF_OK && norm)
        *norm = json_stringn_nocheck(json_string_value(in), len);
    return err;
}

static bf_err_t fit_scalar(ctx_t *c, const bf_schema_node_t *n, const json_t *in,
                           sink_t *dst, json_t **norm)
{
    json_t *out = NULL;
    switch (n->kind) {
    case BF_SCHEMA_NULL:
        if (!json_is_null(in))
            return mismatch(c, n, in);
        out = norm ? json_null() : NULL; /* no bytes */
        break;
    case BF_SCHEMA_BOOLEAN:
        if (!json_is_boolean(in))
            return mismatch(c, n, in);
        if (dst)
            put(dst, json_is_true(in) ? "\1" : "\0", 1);
        out = norm ? json_boolean(json_is_true(in)) : NULL;
        break;
    case BF_SCHEMA_INT:
        if (!json_is_integer(in))
            return mismatch(c, n, in);
        if (!accepts(n, in))
            return fail(c, BF_ERR_SCHEMA,
                        "%" JSON_INTEGER_FORMAT " is out of range for int",
                        json_integer_value(in));
        if (dst)
            put_long(dst, json_integer_value(in)); /* an int is written as a long */
        out = norm ? json_integer(json_integer_value(in)) : NULL;
        break;
    case BF_SCHEMA_LONG: {
        int64_t v;
        if (json_is_integer(in))
            v = json_integer_value(in);
        else if (!accepts(n, in))
            return mismatch(c, n, in);
        else if (bf_time_parse_rfc3339(json_string_value(in), &v) != BF_OK)
            return fail(c, BF_ERR_SCHEMA, "'%s' is not an RFC 3339 date-time",
                        json_string_value(in));
        if (dst)
            put_long(dst, v);
        out = norm ? json_integer(v) : NULL;
        break;
    }
    case BF_SCHEMA_FLOAT:
    case BF_SCHEMA_DOUBLE: {
        if (!json_is_number(in))
            return mismatch(c, n, in);
        double v = json_number_value(in);
        if (dst && n->kind == BF_SCHEMA_FLOAT)
            put_float(dst, (float)v);
        else if (dst)
            put_double(dst, v);
        out = norm ? json_real(v) : NULL;
        break;
    }
    case BF_SCHEMA_STRING:
        if (!json_is_string(in))
            return mismatch(c, n, in);
        if (dst)
            put_bytes(dst, json_string_value(in), json_string_length(in));
        out = norm ? json_stringn_nocheck(json_string_value(in), json_string_length(in))
                   : NULL;
        break;
    case BF_SCHEMA_ENUM: {
        if (!json_is_string(in))
            return mismatch(c, n, in);
        size_t i = 0;
        while (i < n->count && strcmp(n->symbols[i], json_string_value(in)) != 0)
            i++;
        if (i == n->count)
            return fail(c, BF_ERR_SCHEMA, "'%s' is not a symbol of %s",
                        json_string_value(in), kind_name(n));
        if (dst)
            put_long(dst, (int64_t)i);
        out = norm ? json_string(n->symbols[i]) : NULL;
        break;
    }
    default:
        return fail(c, BF_ERR_SCHEMA, "unexpected schema kind");
    }
    if (norm)
        *norm = out;
    return BF_OK;
}

static bf_err_t fit(ctx_t *c, const bf_schema_node_t *n, const json_t *in, sink_t *dst,
                    json_t **norm)
{
    if (norm)
        *norm = NULL;
    switch (n->kind) {
    case BF_SCHEMA_RECORD:
    case BF_SCHEMA_ARRAY:
    case BF_SCHEMA_MAP: {
        /* Only a recursive schema lets JSON nest deeper than the schema. */
        if (c->depth >= MAX_VALUE_DEPTH)
            return fail(c, BF_ERR_SCHEMA, "value nested deeper than %d", MAX_VALUE_DEPTH);
        c->depth++;
        bf_err_t err = n->kind == BF_SCHEMA_RECORD ? fit_record(c, n, in, dst, norm)
                                                   : fit_array(c, n, in, dst, norm);
        c->depth--;
        return err;
    }
    case BF_SCHEMA_BYTES:
    case BF_SCHEMA_FIXED:
        return fit_bytes(c, n, in, dst, norm);
    case BF_SCHEMA_UNION:
        for (size_t i = 0; i < n->count; i++) {
            if (!accepts(n->branches[i], in))
                continue;
            if (dst)
                put_long(dst, (int64_t)i);
            return fit(c, n->branches[i], in, dst, norm);
        }
        return fail(c, BF_ERR_SCHEMA, "%s fits no branch of the union",
                    json_kind_name(in));
    default:
        return fit_scalar(c, n, in, dst, norm);
    }
}

/* ------------------------------------------------------------------------
 * check(): untrusted Avro binary (Avro spec, "Binary Encoding")
 */

typedef struct input_s {
    const unsigned char *p;
    const unsigned char *end;
} input_t;

static size_t remaining(const input_t *in)
{
    return (size_t)(in->end - in->p);
}

/* A zig-zag varint of at most @p max_bytes bytes. */
static bf_err_t read_varint(ctx_t *c, input_t *in, int max_bytes, int64_t *out)
{
    uint64_t u = 0;
    for (int i = 0;; i++) {
        if (in->p == in->end)
            return fail(c, BF_ERR_PARSE, "truncated Avro data");
        unsigned char b = *in->p++;
        if (i == max_bytes - 1 && (b & 0x80 || (max_bytes == 10 && b > 1)))
            return fail(c, BF_ERR_PARSE, "malformed Avro varint");
        u |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    *out = (int64_t)((u >> 1) ^ (0 - (u & 1)));
    return BF_OK;
}

static bf_err_t read_long(ctx_t *c, input_t *in, int64_t *out)
{
    return read_varint(c, in, 10, out);
}

static bf_err_t read_int(ctx_t *c, input_t *in, int64_t *out)
{
    bf_err_t err = read_varint(c, in, 5, out);
    if (err == BF_OK && (*out < INT32_MIN || *out > INT32_MAX))
        return fail(c, BF_ERR_PARSE, "Avro int out of range");
    return err;
}

static bf_err_t skip(ctx_t *c, input_t *in, size_t n)
{
    if (remaining(in) < n)
        return fail(c, BF_ERR_PARSE, "truncated Avro data");
    in->p += n;
    return BF_OK;
}

/* A length-prefixed bytes or string value; a string must be UTF-8. */
static bf_err_t check_bytes(ctx_t *c, input_t *in, int is_string)
{
    int64_t len = 0;
    bf_err_t err = read_long(c, in, &len);
    if (err != BF_OK)
        return err;
    if (len < 0)
        return fail(c, BF_ERR_PARSE, "negative Avro length %" PRId64, len);
    if ((uint64_t)len > remaining(in))
        return fail(c, BF_ERR_PARSE, "truncated Avro data (length %" PRId64 ", %zu left)",
                    len, remaining(in));
    if (is_string) {
        int u = utf8_check(in->p, (size_t)len);
        if (u < 0)
            return fail(c, BF_ERR_UTF8, "string is not valid UTF-8");
        if (u > 0)
            return fail(c, BF_ERR_PARSE, "string contains a NUL character");
    }
    in->p += len;
    return BF_OK;
}

static bf_err_t check(ctx_t *c, input_t *in, const bf_schema_node_t *n, unsigned depth);

/* Arrays and maps come in blocks: a count (negative: followed by the
 * block's size in bytes), the items, and a zero count at the end. */
static bf_err_t check_blocks(ctx_t *c, input_t *in, const bf_schema_node_t *n,
                             unsigned depth)
{
    int map = n->kind == BF_SCHEMA_MAP;
    size_t min_item = n->items->min_encoded + (map ? 1 : 0), total = 0;
    for (;;) {
        int64_t count = 0, block_size = 0;
        bf_err_t err = read_long(c, in, &count);
        if (err != BF_OK)
            return err;
        if (count == 0)
            return BF_OK;
        if (count < 0) {
            if (count == INT64_MIN)
                return fail(c, BF_ERR_PARSE, "malformed Avro block count");
            count = -count;
            if ((err = read_long(c, in, &block_size)) != BF_OK)
                return err;
            if (block_size < 0 || (uint64_t)block_size > remaining(in))
                return fail(c, BF_ERR_PARSE, "Avro block size exceeds the data");
        }
        if (min_item ? (uint64_t)count > remaining(in) / min_item
                     : (uint64_t)count > MAX_ZERO_SIZE_ITEMS - total)
            return fail(c, BF_ERR_PARSE,
                        "Avro block of %" PRId64 " items exceeds the data", count);
        for (int64_t i = 0; i < count; i++, total++) {
            size_t mark = path_push_index(c, total);
            if (map && (err = check_bytes(c, in, 1)) != BF_OK)
                return err;
            if ((err = check(c, in, n->items, depth + 1)) != BF_OK)
                return err;
            path_pop(c, mark);
        }
    }
}

static bf_err_t check(ctx_t *c, input_t *in, const bf_schema_node_t *n, unsigned depth)
{
    if (depth > MAX_VALUE_DEPTH)
        return fail(c, BF_ERR_PARSE, "Avro value nested deeper than %d", MAX_VALUE_DEPTH);
    int64_t v = 0;
    bf_err_t err;
    switch (n->kind) {
    case BF_SCHEMA_NULL:
        return BF_OK;
    case BF_SCHEMA_BOOLEAN:
        if (in->p == in->end)
            return fail(c, BF_ERR_PARSE, "truncated Avro data");
        if (*in->p > 1)
            return fail(c, BF_ERR_PARSE, "Avro boolean byte 0x%02x", *in->p);
        in->p++;
        return BF_OK;
    case BF_SCHEMA_INT:
        return read_int(c, in, &v);
    case BF_SCHEMA_LONG:
        return read_long(c, in, &v);
    case BF_SCHEMA_FLOAT:
        return skip(c, in, 4);
    case BF_SCHEMA_DOUBLE:
        return skip(c, in, 8);
    case BF_SCHEMA_FIXED:
        return skip(c, in, n->fixed_size);
    case BF_SCHEMA_BYTES:
    case BF_SCHEMA_STRING:
        return check_bytes(c, in, n->kind == BF_SCHEMA_STRING);
    case BF_SCHEMA_ENUM:
        if ((err = read_int(c, in, &v)) != BF_OK)
            return err;
        if (v < 0 || (uint64_t)v >= n->count)
            return fail(c, BF_ERR_PARSE, "enum index %" PRId64 " out of range", v);
        return BF_OK;
    case BF_SCHEMA_UNION:
        if ((err = read_long(c, in, &v)) != BF_OK)
            return err;
        if (v < 0 || (uint64_t)v >= n->count)
            return fail(c, BF_ERR_PARSE, "union branch %" PRId64 " out of range", v);
        return check(c, in, n->branches[v], depth + 1);
    case BF_SCHEMA_ARRAY:
    case BF_SCHEMA_MAP:
        return check_blocks(c, in, n, depth);
    case BF_SCHEMA_RECORD:
        for (size_t i = 0; i < n->count; i++) {
            size_t mark = path_push_field(c, n->fields[i].name);
            if ((err = check(c, in, n->fields[i].type, depth + 1)) != BF_OK)
                return err;
            path_pop(c, mark);
        }
        return BF_OK;
    }
    return fail(c, BF_ERR_PARSE, "unexpected schema kind");
}

/* ------------------------------------------------------------------------
 * to_json(): avro-c value -> JSON, by the reader schema
 */

static bf_err_t to_json(ctx_t *c, const bf_schema_node_t *n, avro_value_t *v,
                        json_t **out);

static bf_err_t record_to_json(ctx_t *c, const bf_schema_node_t *n, avro_value_t *v,
                               json_t **out)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < n->count; i++) {
        const bf_schema_field_t *f = &n->fields[i];
        size_t mark = path_push_field(c, f->name);
        avro_value_t child;
        /* The reader's own messages line up field by field; a resolved view
         * lacks the fields its writer did not have, which take defaults. */
        int rc = c->resolved ? avro_value_get_by_name(v, f->name, &child, NULL)
                             : avro_value_get_by_index(v, i, &child, NULL);
        json_t *value = NULL;
        bf_err_t err;
        if (rc == 0)
            err = to_json(c, f->type, &child, &value);
        else if (c->resolved && f->default_value)
            err = fit_default(c, f, NULL, &value);
        else
            err = avro_failed(c, BF_ERR_SCHEMA, "field missing from the Avro value");
        if (err != BF_OK) {
            json_decref(obj);
            return err;
        }
        path_pop(c, mark);
        json_object_set_new_nocheck(obj, f->name, value);
    }
    *out = obj;
    return BF_OK;
}

static bf_err_t array_to_json(ctx_t *c, const bf_schema_node_t *n, avro_value_t *v,
                              json_t **out)
{
    int map = n->kind == BF_SCHEMA_MAP;
    size_t size;
    if (avro_value_get_size(v, &size) != 0)
        return avro_failed(c, BF_ERR_SCHEMA, "cannot read the size");
    json_t *container = map ? json_object() : json_array();
    for (size_t i = 0; i < size; i++) {
        size_t mark = path_push_index(c, i);
        avro_value_t child;
        const char *key = NULL;
        json_t *item = NULL;
        bf_err_t err = avro_value_get_by_index(v, i, &child, &key) != 0
                           ? avro_failed(c, BF_ERR_SCHEMA, "cannot read an item")
                           : to_json(c, n->items, &child, &item);
        if (err != BF_OK) {
            json_decref(container);
            return err;
        }
        path_pop(c, mark);
        if (map)
            json_object_set_new(container, key, item);
        else
            json_array_append_new(container, item);
    }
    *out = container;
    return BF_OK;
}

/* An enum arrives as an index: into the reader's symbols for its own
 * messages, into the writer's (which the view copies) otherwise; the
 * symbol must then exist in the reader (or its enum default applies). */
static bf_err_t enum_to_json(ctx_t *c, const bf_schema_node_t *n, avro_value_t *v,
                             json_t **out)
{
    int index;
    if (avro_value_get_enum(v, &index) != 0)
        return avro_failed(c, BF_ERR_SCHEMA, "cannot read enum");
    if (!c->resolved) {
        if (index < 0 || (size_t)index >= n->count)
            return fail(c, BF_ERR_PARSE, "enum index %d out of range", index);
        *out = json_string(n->symbols[index]);
        return BF_OK;
    }
    const char *symbol = avro_schema_enum_get(avro_value_get_schema(v), index);
    for (size_t i = 0; symbol && i < n->count; i++) {
        if (strcmp(n->symbols[i], symbol) == 0) {
            *out = json_string(n->symbols[i]);
            return BF_OK;
        }
    }
    if (n->enum_default >= 0) {
        *out = json_string(n->symbols[n->enum_default]);
        return BF_OK;
    }
    return fail(c, BF_ERR_SCHEMA, "writer symbol %s is not a symbol of %s",
                symbol ? symbol : "?", kind_name(n));
}

static bf_err_t to_json(ctx_t *c, const bf_schema_node_t *n, avro_value_t *v,
                        json_t **out)
{
    *out = NULL;
    int rc = 0;
    switch (n->kind) {
    case BF_SCHEMA_NULL:
        *out = json_null();
        return BF_OK;
    case BF_SCHEMA_BOOLEAN: {
        int b = 0;
        rc = avro_value_get_boolean(v, &b);
        *out = json_boolean(b);
        break;
    }
    case BF_SCHEMA_INT: {
        int32_t i = 0;
        rc = avro_value_get_int(v, &i);
        *out = json_integer(i);
        break;
    }
    case BF_SCHEMA_LONG: {
        int64_t l = 0;
        rc = avro_value_get_long(v, &l);
        *out = json_integer(l);
        break;
    }
    case BF_SCHEMA_FLOAT:
    case BF_SCHEMA_DOUBLE: {
        double d = 0;
        float f = 0;
        rc = n->kind == BF_SCHEMA_FLOAT ? avro_value_get_float(v, &f)
                                        : avro_value_get_double(v, &d);
        if (n->kind == BF_SCHEMA_FLOAT)
            d = f;
        if (rc == 0 && !isfinite(d))
            return fail(c, BF_ERR_SCHEMA, "NaN or infinity has no JSON form");
        *out = json_real(d);
        break;
    }
    case BF_SCHEMA_STRING: {
        const char *s = NULL;
        size_t size = 0;
        rc = avro_value_get_string(v, &s, &size);
        /* check() has validated the UTF-8; size counts avro-c's NUL. */
        if (rc == 0)
            *out = json_stringn_nocheck(s ? s : "", size ? size - 1 : 0);
        break;
    }
    case BF_SCHEMA_BYTES:
    case BF_SCHEMA_FIXED: {
        const void *buf = NULL;
        size_t size = 0;
        rc = n->kind == BF_SCHEMA_BYTES ? avro_value_get_bytes(v, &buf, &size)
                                        : avro_value_get_fixed(v, &buf, &size);
        if (rc == 0)
            *out = bytes_to_latin1(buf, size);
        break;
    }
    case BF_SCHEMA_ENUM:
        return enum_to_json(c, n, v, out);
    case BF_SCHEMA_UNION: {
        int which;
        avro_value_t branch;
        if (avro_value_get_discriminant(v, &which) != 0 ||
            avro_value_get_current_branch(v, &branch) != 0)
            return avro_failed(c, BF_ERR_SCHEMA, "cannot read union");
        if (which < 0 || (size_t)which >= n->count)
            return fail(c, BF_ERR_PARSE, "union branch %d out of range", which);
        return to_json(c, n->branches[which], &branch, out);
    }
    case BF_SCHEMA_ARRAY:
    case BF_SCHEMA_MAP:
        return array_to_json(c, n, v, out);
    case BF_SCHEMA_RECORD:
        return record_to_json(c, n, v, out);
    }
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
        return avro_failed(c, BF_ERR_SCHEMA, "cannot read value");
    }
    return BF_OK;
}

/* ------------------------------------------------------------------------
 * Schemas known to a codec
 */

static void writer_free(writer_t *w)
{
    if (w->view.iface)
        avro_value_decref(&w->view);
    if (w->resolver)
        avro_value_iface_decref(w->resolver);
    if (w->view_schema)
        avro_schema_decref(w->view_schema);
    if (w->value.iface)
        avro_value_decref(&w->value);
    if (w->cls)
        avro_value_iface_decref(w->cls);
    if (w->schema)
        avro_schema_decref(w->schema);
    bf_schema_tree_destroy(w->tree);
    memset(w, 0, sizeof(*w));
}

static bf_err_t avro_schema_of(ctx_t *c, const json_t *schema, avro_schema_t *out)
{
    char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = text ? avro_schema_from_json_length(text, strlen(text), out) : -1;
    free(text);
    if (rc != 0) {
        *out = NULL;
        return avro_failed(c, BF_ERR_SCHEMA, "avro-c rejects the schema");
    }
    return BF_OK;
}

/* Prepares @p w to decode messages written with @p schema; when @p rec is
 * given, @p schema is another writer of that record and gets a resolved
 * view onto rec's reader schema. */
static bf_err_t writer_init(ctx_t *c, writer_t *w, const json_t *schema,
                            const record_t *rec)
{
    memset(w, 0, sizeof(*w));
    w->confluent_id = -1;
    char *pcf;
    bf_err_t err = bf_schema_canonical_form_json(schema, &pcf, c->errstr, c->errstr_size);
    if (err != BF_OK)
        return err;
    w->fingerprint = bf_crc64_avro(pcf, strlen(pcf));
    free(pcf);
    if (!(w->tree = bf_schema_tree_new(schema, c->errstr, c->errstr_size)))
        return BF_ERR_SCHEMA;
    if (w->tree->root->kind != BF_SCHEMA_RECORD)
        return fail(c, BF_ERR_SCHEMA, "a record schema is needed, not %s",
                    kind_name(w->tree->root));
    if ((err = avro_schema_of(c, schema, &w->schema)) != BF_OK)
        return err;
    w->cls = avro_generic_class_from_schema(w->schema);
    if (!w->cls || avro_generic_value_new(w->cls, &w->value) != 0)
        return avro_failed(c, BF_ERR_SCHEMA, "avro-c cannot make a value");
    if (!rec)
        return BF_OK;
    json_t *view;
    if ((err = bf_schema_project(rec->reader_json, w->tree, &view, c->errstr,
                                 c->errstr_size)) != BF_OK)
        return err;
    err = avro_schema_of(c, view, &w->view_schema);
    json_decref(view);
    if (err != BF_OK)
        return err;
    w->resolver = avro_resolved_reader_new(w->schema, w->view_schema);
    if (!w->resolver || avro_resolved_reader_new_value(w->resolver, &w->view) != 0)
        return avro_failed(c, BF_ERR_SCHEMA,
                           "writer schema does not resolve to the reader");
    avro_resolved_reader_set_source(&w->view, &w->value);
    return BF_OK;
}

static int valid_type(const bf_codec_t *codec, bf_record_type_t type)
{
    return codec && (int)type >= 0 && type < BF_RECORD__COUNT;
}

static writer_t *find_writer(record_t *rec, int by_id, uint64_t fingerprint, int32_t id)
{
    if (by_id ? rec->reader.confluent_id == id : rec->reader.fingerprint == fingerprint)
        return &rec->reader;
    for (size_t i = 0; i < rec->others_count; i++) {
        writer_t *w = &rec->others[i];
        if (by_id ? w->confluent_id == id : w->fingerprint == fingerprint)
            return w;
    }
    return NULL;
}

bf_codec_t *bf_codec_new(char *errstr, size_t errstr_size)
{
    ctx_t c = {.errstr = errstr, .errstr_size = errstr_size};
    bf_codec_t *codec = bf_calloc(1, sizeof(*codec));
    codec->areader = avro_reader_memory("", 0);
    if (!codec->areader) {
        avro_failed(&c, BF_ERR_STATE, "avro-c");
        bf_codec_destroy(codec);
        return NULL;
    }
    for (int t = 0; t < BF_RECORD__COUNT; t++) {
        record_t *rec = &codec->records[t];
        if (bf_schema_load_embedded(record_schema_names[t], &rec->reader_json, errstr,
                                    errstr_size) != BF_OK ||
            writer_init(&c, &rec->reader, rec->reader_json, NULL) != BF_OK) {
            bf_codec_destroy(codec);
            return NULL;
        }
        rec->reader_text = json_dumps(rec->reader_json, JSON_COMPACT);
        if (!rec->reader_text) {
            fail(&c, BF_ERR_SCHEMA, "cannot write the %s schema", record_schema_names[t]);
            bf_codec_destroy(codec);
            return NULL;
        }
    }
    return codec;
}

void bf_codec_destroy(bf_codec_t *codec)
{
    if (!codec)
        return;
    for (int t = 0; t < BF_RECORD__COUNT; t++) {
        record_t *rec = &codec->records[t];
        writer_free(&rec->reader);
        for (size_t i = 0; i < rec->others_count; i++)
            writer_free(&rec->others[i]);
        free(rec->others);
        json_decref(rec->reader_json);
        free(rec->reader_text);
    }
    if (codec->areader)
        avro_reader_free(codec->areader);
    free(codec);
}

uint64_t bf_codec_fingerprint(const bf_codec_t *codec, bf_record_type_t type)
{
    return valid_type(codec, type) ? codec->records[type].reader.fingerprint : 0;
}

bf_err_t bf_codec_add_writer_schema(bf_codec_t *codec, bf_record_type_t type,
                                    const char *schema_json, int32_t confluent_id,
                                    char *errstr, size_t errstr_size)
{
    ctx_t c = {.errstr = errstr, .errstr_size = errstr_size};
    if (!valid_type(codec, type) || !schema_json)
        return fail(&c, BF_ERR_INVALID_ARG, "no codec, record type or schema");
    record_t *rec = &codec->records[type];
    json_error_t jerr;
    json_t *schema = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
    if (!schema)
        return fail(&c, BF_ERR_PARSE, "writer schema is not JSON: %s", jerr.text);
    writer_t w;
    bf_err_t err = writer_init(&c, &w, schema, rec);
    json_decref(schema);
    if (err != BF_OK) {
        writer_free(&w);
        return err;
    }
    writer_t *same = find_writer(rec, 0, w.fingerprint, 0);
    writer_t *owner = confluent_id >= 0 ? find_writer(rec, 1, 0, confluent_id) : NULL;
    if (owner && owner->fingerprint != w.fingerprint) {
        writer_free(&w);
        return fail(&c, BF_ERR_STATE, "schema id %d already names another %s schema",
                    (int)confluent_id, record_schema_names[type]);
    }
    if (!same && rec->others_count >= MAX_WRITER_SCHEMAS) {
        writer_free(&w);
        return fail(&c, BF_ERR_TOO_LARGE, "more than %d writer schemas for %s",
                    MAX_WRITER_SCHEMAS, record_schema_names[type]);
    }
    if (same) { /* known already: only learn its id */
        writer_free(&w);
    } else {
        rec->others = bf_realloc(rec->others, (rec->others_count + 1) * sizeof(writer_t));
        same = &rec->others[rec->others_count++];
        *same = w; /* avro-c objects live on the heap; moving the handles is fine */
    }
    if (confluent_id >= 0)
        same->confluent_id = confluent_id;
    return BF_OK;
}

void bf_codec_set_confluent_id(bf_codec_t *codec, bf_record_type_t type, int32_t id)
{
    if (valid_type(codec, type))
        codec->records[type].reader.confluent_id = id;
}

const char *bf_codec_schema_text(const bf_codec_t *codec, bf_record_type_t type)
{
    return valid_type(codec, type) ? codec->records[type].reader_text : NULL;
}

void bf_codec_set_schema_lookup(bf_codec_t *codec, bf_codec_schema_lookup_cb *cb,
                                void *opaque)
{
    if (!codec)
        return;
    codec->lookup = cb;
    codec->lookup_opaque = cb ? opaque : NULL;
}

/* A Confluent id the codec does not know: ask the lookup (a Schema
 * Registry) for its schema and learn it as a writer of @p type. */
static writer_t *lookup_writer(bf_codec_t *codec, ctx_t *c, bf_record_type_t type,
                               int32_t id, bf_err_t *err)
{
    record_t *rec = &codec->records[type];
    const char *schema = NULL;
    *err = codec->lookup(codec->lookup_opaque, id, &schema, c->errstr, c->errstr_size);
    if (*err == BF_ERR_NOT_FOUND)
        *err = BF_ERR_UNKNOWN_SCHEMA; /* the registry does not know it either */
    if (*err != BF_OK)
        return NULL;
    char why[256] = "";
    *err = bf_codec_add_writer_schema(codec, type, schema, id, why, sizeof(why));
    if (*err != BF_OK) {
        fail(c, *err, "schema id %d is not a readable %s schema: %s", (int)id,
             record_schema_names[type], why);
        return NULL;
    }
    return find_writer(rec, 1, 0, id);
}

/* ------------------------------------------------------------------------
 * Encode and decode
 */

static bf_err_t encode_json(ctx_t *c, const record_t *rec, const json_t *value,
                            bf_buf_t *out)
{
    json_t *norm;
    bf_err_t err = fit(c, rec->reader.tree->root, value, NULL, &norm);
    if (err != BF_OK)
        return err;
    char *text = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    if (!text)
        return fail(c, BF_ERR_SCHEMA, "cannot write JSON");
    err = bf_buf_append(out, text, strlen(text));
    free(text);
    return err == BF_OK ? BF_OK : fail(c, err, "encoded record exceeds the buffer");
}

bf_err_t bf_codec_encode(bf_codec_t *codec, bf_record_type_t type, const json_t *value,
                         bf_framing_t framing, bf_buf_t *out, char *errstr,
                         size_t errstr_size)
{
    ctx_t c = {.errstr = errstr, .errstr_size = errstr_size};
    if (!valid_type(codec, type) || !value || !out || (int)framing < 0 ||
        framing > BF_FRAMING_JSON)
        return fail(&c, BF_ERR_INVALID_ARG, "no codec, record type, value or buffer");
    record_t *rec = &codec->records[type];
    if (framing == BF_FRAMING_CONFLUENT && rec->reader.confluent_id < 0)
        return fail(&c, BF_ERR_STATE, "no Confluent schema id set for %s",
                    record_schema_names[type]);
    if (!json_is_object(value))
        return fail(&c, BF_ERR_SCHEMA, "a %s must be a JSON object",
                    record_schema_names[type]);
    if (framing == BF_FRAMING_JSON)
        return encode_json(&c, rec, value, out);

    unsigned char header[SINGLE_OBJECT_HEADER_LEN];
    size_t header_len;
    if (framing == BF_FRAMING_SINGLE_OBJECT) {
        header[0] = SINGLE_OBJECT_MAGIC0;
        header[1] = SINGLE_OBJECT_MAGIC1;
        for (int i = 0; i < 8; i++)
            header[2 + i] = (unsigned char)(rec->reader.fingerprint >> (8 * i));
        header_len = SINGLE_OBJECT_HEADER_LEN;
    } else {
        uint32_t id = (uint32_t)rec->reader.confluent_id;
        header[0] = CONFLUENT_MAGIC;
        for (int i = 0; i < 4; i++)
            header[1 + i] = (unsigned char)(id >> (8 * (3 - i)));
        header_len = CONFLUENT_HEADER_LEN;
    }
    size_t start = out->len;
    sink_t sink = {.buf = out};
    put(&sink, header, header_len);
    bf_err_t err = fit(&c, rec->reader.tree->root, value, &sink, NULL);
    if (err == BF_OK && sink.full)
        err = fail(&c, BF_ERR_TOO_LARGE, "encoded %s of %zu bytes exceeds the buffer",
                   record_schema_names[type], sink.len);
    if (err != BF_OK) { /* the buffer as it was */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return err;
}

static bf_err_t decode_avro(bf_codec_t *codec, ctx_t *c, const record_t *rec, writer_t *w,
                            const unsigned char *body, size_t len, json_t **out)
{
    input_t in = {.p = body, .end = body + len};
    bf_err_t err = check(c, &in, w->tree->root, 0);
    if (err != BF_OK)
        return err;
    if (in.p != in.end)
        return fail(c, BF_ERR_PARSE, "%zu bytes left after the record", remaining(&in));
    c->resolved = w != &rec->reader;
    /* Resetting the view also drops its wrappers of the previous message. */
    avro_value_reset(c->resolved ? &w->view : &w->value);
    avro_reader_memory_set_source(codec->areader, (const char *)body, (int64_t)len);
    if (avro_value_read(codec->areader, &w->value) != 0)
        return avro_failed(c, BF_ERR_PARSE, "avro-c cannot read the record");
    return to_json(c, rec->reader.tree->root, c->resolved ? &w->view : &w->value, out);
}

static bf_err_t decode_json(ctx_t *c, const record_t *rec, const char *data, size_t len,
                            json_t **out)
{
    json_error_t jerr;
    json_t *in = bf_json_load(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!in)
        return fail(c,
                    json_error_code(&jerr) == json_error_invalid_utf8 ? BF_ERR_UTF8
                                                                      : BF_ERR_PARSE,
                    "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                    jerr.text);
    bf_err_t err = fit(c, rec->reader.tree->root, in, NULL, out);
    json_decref(in);
    return err;
}

bf_err_t bf_codec_decode(bf_codec_t *codec, bf_record_type_t type, const void *data,
                         size_t len, json_t **out, bf_framing_t *framing, char *errstr,
                         size_t errstr_size)
{
    ctx_t c = {.errstr = errstr, .errstr_size = errstr_size};
    if (!valid_type(codec, type) || !out || (!data && len))
        return fail(&c, BF_ERR_INVALID_ARG, "no codec, record type or output");
    *out = NULL;
    record_t *rec = &codec->records[type];
    const unsigned char *p = data;
    if (len == 0)
        return fail(&c, BF_ERR_PARSE, "empty message");
    writer_t *w;
    if (p[0] == SINGLE_OBJECT_MAGIC0) {
        if (len < 2 || p[1] != SINGLE_OBJECT_MAGIC1)
            return fail(&c, BF_ERR_PARSE, "unknown magic bytes 0x%02x 0x%02x", p[0],
                        len < 2 ? 0 : p[1]);
        if (len < SINGLE_OBJECT_HEADER_LEN)
            return fail(&c, BF_ERR_PARSE, "truncated single-object header");
        uint64_t fp = 0;
        for (int i = 0; i < 8; i++)
            fp |= (uint64_t)p[2 + i] << (8 * i);
        if (!(w = find_writer(rec, 0, fp, 0)))
            return fail(&c, BF_ERR_UNKNOWN_SCHEMA,
                        "unknown %s schema fingerprint 0x%016llx",
                        record_schema_names[type], (unsigned long long)fp);
        if (framing)
            *framing = BF_FRAMING_SINGLE_OBJECT;
        return decode_avro(codec, &c, rec, w, p + SINGLE_OBJECT_HEADER_LEN,
                           len - SINGLE_OBJECT_HEADER_LEN, out);
    }
    if (p[0] == CONFLUENT_MAGIC) {
        if (len < CONFLUENT_HEADER_LEN)
            return fail(&c, BF_ERR_PARSE, "truncated Confluent header");
        uint32_t id =
            (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        if (id > INT32_MAX)
            return fail(&c, BF_ERR_UNKNOWN_SCHEMA, "unknown %s schema id %u",
                        record_schema_names[type], id);
        if (!(w = find_writer(rec, 1, 0, (int32_t)id))) {
            bf_err_t err = BF_ERR_UNKNOWN_SCHEMA;
            if (!codec->lookup)
                return fail(&c, err, "unknown %s schema id %u (no schema registry)",
                            record_schema_names[type], id);
            if (!(w = lookup_writer(codec, &c, type, (int32_t)id, &err)))
                return err;
        }
        if (framing)
            *framing = BF_FRAMING_CONFLUENT;
        return decode_avro(codec, &c, rec, w, p + CONFLUENT_HEADER_LEN,
                           len - CONFLUENT_HEADER_LEN, out);
    }
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (i == len || p[i] != '{')
        return fail(&c, BF_ERR_PARSE, "unknown magic byte 0x%02x", i < len ? p[i] : p[0]);
    if (framing)
        *framing = BF_FRAMING_JSON;
    return decode_json(&c, rec, data, len, out);
}

int bf_framing_parse(const char *name, bf_framing_t *out)
{
    if (!name || !out)
        return -1;
    if (strcmp(name, "avro") == 0 || strcmp(name, "single-object") == 0)
        *out = BF_FRAMING_SINGLE_OBJECT;
    else if (strcmp(name, "confluent") == 0)
        *out = BF_FRAMING_CONFLUENT;
    else if (strcmp(name, "json") == 0)
        *out = BF_FRAMING_JSON;
    else
        return -1;
    return 0;
}

const char *bf_framing_name(bf_framing_t framing)
{
    switch (framing) {
    case BF_FRAMING_SINGLE_OBJECT:
        return "single-object";
    case BF_FRAMING_CONFLUENT:
        return "confluent";
    case BF_FRAMING_JSON:
        return "json";
    }
    return "unknown";
}
