/*
 * schema.c - the embedded Avro schemas, the Avro specification's Parsing
 * Canonical Form and CRC-64-AVRO fingerprint, and the parsed schema tree
 * the codec walks (schema_int.h).
 *
 * Everything here follows the Avro 1.11 specification; section names are
 * quoted where a rule comes from one. Schemas are small and parsed once per
 * codec, so this file favours plain recursive code over speed; only
 * bf_crc64_avro() is table-driven.
 */
#include "libbf/schema_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "libbf/mem.h"

/* Schemas nest a handful of levels; this only stops a hostile writer schema
 * (from a registry) from exhausting the stack. */
#define MAX_SCHEMA_DEPTH 64

const char *bf_schema_text(const char *name)
{
    for (const bf_schema_text_t *s = bf_schemas_embedded; name && s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s->json;
    return NULL;
}

/* ------------------------------------------------------------------------
 * Names (Avro spec, "Names")
 */

static const char *const primitive_names[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

/* The primitive kind called @p name, or -1. The enum's first eight values
 * are in the same order as primitive_names. */
static int primitive_kind(const char *name)
{
    for (size_t i = 0; i < sizeof(primitive_names) / sizeof(primitive_names[0]); i++)
        if (strcmp(name, primitive_names[i]) == 0)
            return (int)i;
    return -1;
}

/* A name with a dot in it is already a fullname; otherwise it lives in the
 * namespace @p ns (NULL or "" for the null namespace). Caller frees. */
static char *qualify(const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns)
        return bf_strdup(name);
    return bf_asprintf("%s.%s", ns, name);
}

/* The fullname a named type definition @p def declares: its own
 * "namespace" attribute wins over the enclosing namespace. */
static char *definition_fullname(const json_t *def, const char *enclosing_ns)
{
    const char *name = json_string_value(json_object_get(def, "name"));
    if (!name || !*name)
        return NULL;
    const json_t *ns = json_object_get(def, "namespace");
    return qualify(name, json_is_string(ns) ? json_string_value(ns) : enclosing_ns);
}

/* The namespace part of a fullname, into @p buf. Names nested in a named
 * type default to its namespace. */
static const char *namespace_of(const char *fullname, char *buf, size_t size)
{
    const char *dot = strrchr(fullname, '.');
    size_t n = dot ? (size_t)(dot - fullname) : 0;
    if (n >= size)
        n = size - 1;
    memcpy(buf, fullname, n);
    buf[n] = '\0';
    return buf;
}

static int is_named_kind(const char *type)
{
    return strcmp(type, "record") == 0 || strcmp(type, "error") == 0 ||
           strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0;
}

/* ------------------------------------------------------------------------
 * Parsing Canonical Form (Avro spec, "Parsing Canonical Form for Schemas")
 *
 * [PRIMITIVES] {"type":"int"} becomes "int" (any other attribute, such as
 * logicalType, goes with it); [FULLNAMES] every name, in a definition or a
 * reference, becomes a fullname and "namespace" goes; [STRIP] only type,
 * name, fields, symbols, items, values and size stay; [ORDER] in that
 * order; [STRINGS] escapes are replaced by UTF-8, which is what jansson
 * writes; [INTEGERS] without leading zeros, ditto; [WHITESPACE] none
 * (JSON_COMPACT). The result is built as a jansson tree in canonical key
 * order (jansson keeps insertion order) and dumped once.
 */

static json_t *canonical(const json_t *s, const char *ns, unsigned depth, char *errstr,
                         size_t size);

static json_t *canonical_reference(const char *name, const char *ns)
{
    if (primitive_kind(name) >= 0)
        return json_string(name);
    char *full = qualify(name, ns);
    json_t *j = json_string(full);
    free(full);
    return j;
}

static json_t *canonical_named(const json_t *s, const char *type, const char *ns,
                               unsigned depth, char *errstr, size_t size)
{
    char *full = definition_fullname(s, ns);
    if (!full) {
        bf_seterr(BF_ERR_SCHEMA, errstr, size, "a %s needs a \"name\"", type);
        return NULL;
    }
    char inner_ns[512];
    namespace_of(full, inner_ns, sizeof(inner_ns));
    json_t *out = json_object();
    json_object_set_new(out, "name", json_string(full));
    json_object_set_new(out, "type", json_string(type));
    if (strcmp(type, "enum") == 0) {
        const json_t *symbols = json_object_get(s, "symbols");
        if (!json_is_array(symbols)) {
            bf_seterr(BF_ERR_SCHEMA, errstr, size, "enum %s needs \"symbols\"", full);
            goto fail;
        }
        json_object_set_new(out, "symbols", json_deep_copy(symbols));
    } else if (strcmp(type, "fixed") == 0) {
        const json_t *fixed_size = json_object_get(s, "size");
        if (!json_is_integer(fixed_size) || json_integer_value(fixed_size) < 0) {
            bf_seterr(BF_ERR_SCHEMA, errstr, size, "fixed %s needs a \"size\"", full);
            goto fail;
        }
        json_object_set_new(out, "size", json_integer(json_integer_value(fixed_size)));
    } else {
        const json_t *fields = json_object_get(s, "fields");
        if (!json_is_array(fields)) {
            bf_seterr(BF_ERR_SCHEMA, errstr, size, "record %s needs \"fields\"", full);
            goto fail;
        }
        json_t *cfields = json_array();
        json_object_set_new(out, "fields", cfields);
        size_t i;
        const json_t *f;
        json_array_foreach(fields, i, f)
        {
            const json_t *fname = json_object_get(f, "name");
            const json_t *ftype = json_object_get(f, "type");
            if (!json_is_string(fname) || !ftype) {
                bf_seterr(BF_ERR_SCHEMA, errstr, size,
                          "record %s: field %zu needs a name and a type", full, i);
                goto fail;
            }
            json_t *ctype = canonical(ftype, inner_ns, depth + 1, errstr, size);
            if (!ctype)
                goto fail;
            json_t *cf = json_object();
            json_object_set_new(cf, "name", json_copy((json_t *)fname));
            json_object_set_new(cf, "type", ctype);
            json_array_append_new(cfields, cf);
        }
    }
    free(full);
    return out;
fail:
    free(full);
    json_decref(out);
    return NULL;
}

static json_t *canonical(const json_t *s, const char *ns, unsigned depth, char *errstr,
                         size_t size)
{
    if (depth > MAX_SCHEMA_DEPTH) {
        bf_seterr(BF_ERR_SCHEMA, errstr, size, "schema nested deeper than %d levels",
                  MAX_SCHEMA_DEPTH);
        return NULL;
    }
    if (json_is_string(s))
        return canonical_reference(json_string_value(s), ns);
    if (json_is_array(s)) {
        json_t *out = json_array();
        size_t i;
        const json_t *branch;
        json_array_foreach(s, i, branch)
        {
            json_t *c = canonical(branch, ns, depth + 1, errstr, size);
            if (!c) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, c);
        }
        return out;
    }
    const json_t *type = json_object_get(s, "type");
    if (json_is_object(type) || json_is_array(type))
        return canonical(type, ns, depth + 1, errstr, size);
    if (!json_is_string(type)) {
        bf_seterr(BF_ERR_SCHEMA, errstr, size,
                  "not an Avro schema: an object without a \"type\"");
        return NULL;
    }
    const char *t = json_string_value(type);
    if (is_named_kind(t))
        return canonical_named(s, t, ns, depth, errstr, size);
    const char *child_key = strcmp(t, "array") == 0 ? "items"
                            : strcmp(t, "map") == 0 ? "values"
                                                    : NULL;
    if (!child_key)
        return canonical_reference(t, ns);
    const json_t *child = json_object_get(s, child_key);
    if (!child) {
        bf_seterr(BF_ERR_SCHEMA, errstr, size, "%s needs \"%s\"", t, child_key);
        return NULL;
    }
    json_t *cchild = canonical(child, ns, depth + 1, errstr, size);
    if (!cchild)
        return NULL;
    json_t *out = json_object();
    json_object_set_new(out, "type", json_string(t));
    json_object_set_new(out, child_key, cchild);
    return out;
}

bf_err_t bf_schema_canonical_form_json(const json_t *schema, char **out, char *errstr,
                                       size_t errstr_size)
{
    if (!schema || !out)
        return BF_ERR_INVALID_ARG;
    *out = NULL;
    json_t *c = canonical(schema, NULL, 0, errstr, errstr_size);
    if (!c)
        return BF_ERR_SCHEMA;
    char *text = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(c);
    if (!text) {
        return bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                         "cannot write the canonical form");
    }
    *out = bf_strdup(text);
    free(text);
    return BF_OK;
}

bf_err_t bf_schema_canonical_form(const char *schema_json, char **out, char *errstr,
                                  size_t errstr_size)
{
    if (!schema_json || !out)
        return BF_ERR_INVALID_ARG;
    *out = NULL;
    json_error_t jerr;
    json_t *schema = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
    if (!schema) {
        return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                         "schema is not JSON: %s (line %d)", jerr.text, jerr.line);
    }
    bf_err_t err = bf_schema_canonical_form_json(schema, out, errstr, errstr_size);
    json_decref(schema);
    return err;
}

/* ------------------------------------------------------------------------
 * CRC-64-AVRO (Avro spec, "Schema Fingerprints")
 *
 * The Rabin fingerprint the spec gives in Java: a CRC over the polynomial
 * whose reflected form is EMPTY, computed a byte at a time through a
 * 256-entry table. The table is built once per process.
 */

#define CRC64_AVRO_EMPTY UINT64_C(0xc15d213aa4d7a795)

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_table_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t fp = i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & (0 - (fp & 1)));
        crc64_table[i] = fp;
    }
}

uint64_t bf_crc64_avro(const void *data, size_t len)
{
    pthread_once(&crc64_once, crc64_table_init);
    const unsigned char *p = data;
    uint64_t fp = CRC64_AVRO_EMPTY;
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
    return fp;
}

/* ------------------------------------------------------------------------
 * The schema tree
 */

typedef struct parser_s {
    bf_schema_tree_t *tree;
    char *errstr;
    size_t errstr_size;
} parser_t;

static bf_schema_node_t *node_new(parser_t *p, bf_schema_kind_t kind)
{
    bf_schema_node_t *n = bf_calloc(1, sizeof(*n));
    n->kind = kind;
    n->enum_default = -1;
    n->next_alloc = p->tree->nodes;
    p->tree->nodes = n;
    return n;
}

static void node_free(bf_schema_node_t *n)
{
    for (size_t i = 0; n->fields && i < n->count; i++) {
        free(n->fields[i].name);
        json_decref(n->fields[i].default_value);
    }
    for (size_t i = 0; n->symbols && i < n->count; i++)
        free(n->symbols[i]);
    free(n->fields);
    free(n->symbols);
    free(n->branches);
    free(n->fullname);
    free(n);
}

void bf_schema_tree_destroy(bf_schema_tree_t *tree)
{
    if (!tree)
        return;
    for (bf_schema_node_t *n = tree->nodes, *next; n; n = next) {
        next = n->next_alloc;
        node_free(n);
    }
    free(tree);
}

static const bf_schema_node_t *find_exact(const bf_schema_tree_t *tree,
                                          const char *fullname)
{
    for (const bf_schema_node_t *n = tree->nodes; n; n = n->next_alloc)
        if (n->fullname && strcmp(n->fullname, fullname) == 0)
            return n;
    return NULL;
}

const bf_schema_node_t *bf_schema_tree_find(const bf_schema_tree_t *tree,
                                            const char *fullname)
{
    const bf_schema_node_t *n = find_exact(tree, fullname);
    if (n)
        return n;
    const char *dot = strrchr(fullname, '.');
    const char *shortname = dot ? dot + 1 : fullname;
    const bf_schema_node_t *match = NULL;
    for (n = tree->nodes; n; n = n->next_alloc) {
        if (!n->fullname)
            continue;
        const char *ndot = strrchr(n->fullname, '.');
        if (strcmp(ndot ? ndot + 1 : n->fullname, shortname) != 0)
            continue;
        if (match)
            return NULL; /* ambiguous */
        match = n;
    }
    return match;
}

static size_t add_saturated(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static bf_schema_node_t *parse_node(parser_t *p, const json_t *s, const char *ns,
                                    unsigned depth);

static bf_schema_node_t *parse_reference(parser_t *p, const char *name, const char *ns)
{
    int kind = primitive_kind(name);
    if (kind >= 0) {
        bf_schema_node_t *n = node_new(p, (bf_schema_kind_t)kind);
        n->min_encoded = kind == BF_SCHEMA_NULL     ? 0
                         : kind == BF_SCHEMA_FLOAT  ? 4
                         : kind == BF_SCHEMA_DOUBLE ? 8
                                                    : 1;
        return n;
    }
    char *full = qualify(name, ns);
    /* Java's parser also finds a short name in the null namespace. */
    const bf_schema_node_t *n = find_exact(p->tree, full);
    if (!n)
        n = find_exact(p->tree, name);
    if (!n)
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size, "unknown type name %s", full);
    free(full);
    return (bf_schema_node_t *)n;
}

static bf_schema_node_t *parse_record(parser_t *p, const json_t *s, bf_schema_node_t *n,
                                      unsigned depth)
{
    char inner_ns[512];
    namespace_of(n->fullname, inner_ns, sizeof(inner_ns));
    const json_t *fields = json_object_get(s, "fields");
    if (!json_is_array(fields)) {
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size, "record %s needs \"fields\"",
                  n->fullname);
        return NULL;
    }
    n->fields = bf_calloc(json_array_size(fields) + 1, sizeof(*n->fields));
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f)
    {
        const char *fname = json_string_value(json_object_get(f, "name"));
        const json_t *ftype = json_object_get(f, "type");
        if (!fname || !ftype) {
            bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                      "record %s: field %zu needs a name and a type", n->fullname, i);
            return NULL;
        }
        for (size_t j = 0; j < n->count; j++) {
            if (strcmp(n->fields[j].name, fname) == 0) {
                bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                          "record %s: field %s appears twice", n->fullname, fname);
                return NULL;
            }
        }
        bf_schema_field_t *field = &n->fields[n->count];
        field->name = bf_strdup(fname);
        n->count++;
        field->type = parse_node(p, ftype, inner_ns, depth + 1);
        if (!field->type)
            return NULL;
        const json_t *def = json_object_get(f, "default");
        if (def) {
            field->default_value = json_deep_copy(def);
            field->default_type =
                field->type->kind == BF_SCHEMA_UNION
                    ? (field->type->count ? field->type->branches[0] : NULL)
                    : field->type;
        }
        n->min_encoded = add_saturated(n->min_encoded, field->type->min_encoded);
    }
    return n;
}

static bf_schema_node_t *parse_enum(parser_t *p, const json_t *s, bf_schema_node_t *n)
{
    const json_t *symbols = json_object_get(s, "symbols");
    if (!json_is_array(symbols) || json_array_size(symbols) == 0) {
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size, "enum %s needs \"symbols\"",
                  n->fullname);
        return NULL;
    }
    n->symbols = bf_calloc(json_array_size(symbols), sizeof(*n->symbols));
    size_t i;
    const json_t *sym;
    json_array_foreach(symbols, i, sym)
    {
        if (!json_is_string(sym)) {
            bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                      "enum %s: symbols must be strings", n->fullname);
            return NULL;
        }
        n->symbols[n->count++] = bf_strdup(json_string_value(sym));
    }
    const char *def = json_string_value(json_object_get(s, "default"));
    for (size_t j = 0; def && j < n->count; j++)
        if (strcmp(n->symbols[j], def) == 0)
            n->enum_default = (int)j;
    if (def && n->enum_default < 0) {
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                  "enum %s: default %s is not a symbol", n->fullname, def);
        return NULL;
    }
    n->min_encoded = 1;
    return n;
}

static bf_schema_node_t *parse_named(parser_t *p, const json_t *s, const char *type,
                                     const char *ns, unsigned depth)
{
    char *full = definition_fullname(s, ns);
    if (!full) {
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size, "a %s needs a \"name\"",
                  type);
        return NULL;
    }
    if (find_exact(p->tree, full)) {
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size, "type %s is defined twice",
                  full);
        free(full);
        return NULL;
    }
    bf_schema_node_t *n;
    if (strcmp(type, "enum") == 0) {
        n = node_new(p, BF_SCHEMA_ENUM);
        n->fullname = full;
        return parse_enum(p, s, n);
    }
    if (strcmp(type, "fixed") == 0) {
        const json_t *size = json_object_get(s, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            json_integer_value(size) > INT32_MAX) {
            bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                      "fixed %s needs a \"size\"", full);
            free(full);
            return NULL;
        }
        n = node_new(p, BF_SCHEMA_FIXED);
        n->fullname = full;
        n->fixed_size = (size_t)json_integer_value(size);
        n->min_encoded = n->fixed_size;
        return n;
    }
    /* A record is registered before its fields are parsed, so that a field
     * may refer to the record itself (a recursive type). */
    n = node_new(p, BF_SCHEMA_RECORD);
    n->fullname = full;
    return parse_record(p, s, n, depth);
}

static bf_schema_node_t *parse_union(parser_t *p, const json_t *s, const char *ns,
                                     unsigned depth)
{
    bf_schema_node_t *n = node_new(p, BF_SCHEMA_UNION);
    n->branches = bf_calloc(json_array_size(s) + 1, sizeof(*n->branches));
    size_t i;
    const json_t *b;
    json_array_foreach(s, i, b)
    {
        bf_schema_node_t *branch = parse_node(p, b, ns, depth + 1);
        if (!branch)
            return NULL;
        if (branch->kind == BF_SCHEMA_UNION) {
            bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                      "a union may not contain a union");
            return NULL;
        }
        n->branches[n->count++] = branch;
        if (i == 0 || branch->min_encoded < n->min_encoded)
            n->min_encoded = branch->min_encoded;
    }
    if (n->count == 0) {
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                  "a union needs at least one branch");
        return NULL;
    }
    n->min_encoded = add_saturated(n->min_encoded, 1); /* the branch index */
    return n;
}

static bf_schema_node_t *parse_node(parser_t *p, const json_t *s, const char *ns,
                                    unsigned depth)
{
    if (depth > MAX_SCHEMA_DEPTH) {
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                  "schema nested deeper than %d levels", MAX_SCHEMA_DEPTH);
        return NULL;
    }
    if (json_is_string(s))
        return parse_reference(p, json_string_value(s), ns);
    if (json_is_array(s))
        return parse_union(p, s, ns, depth);
    const json_t *type = json_object_get(s, "type");
    if (json_is_object(type) || json_is_array(type))
        return parse_node(p, type, ns, depth + 1);
    const char *t = json_string_value(type);
    if (!t) {
        bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size,
                  "not an Avro schema: an object without a \"type\"");
        return NULL;
    }
    if (is_named_kind(t))
        return parse_named(p, s, t, ns, depth);
    if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        int array = t[0] == 'a';
        const json_t *child = json_object_get(s, array ? "items" : "values");
        if (!child) {
            bf_seterr(BF_ERR_SCHEMA, p->errstr, p->errstr_size, "%s needs \"%s\"", t,
                      array ? "items" : "values");
            return NULL;
        }
        bf_schema_node_t *n = node_new(p, array ? BF_SCHEMA_ARRAY : BF_SCHEMA_MAP);
        n->min_encoded = 1; /* the terminating zero block count */
        n->items = parse_node(p, child, ns, depth + 1);
        return n->items ? n : NULL;
    }
    bf_schema_node_t *n = parse_reference(p, t, ns);
    /* Logical types annotate a primitive; an unknown one is ignored, as
     * the spec asks ("Logical Types"). */
    const char *logical = json_string_value(json_object_get(s, "logicalType"));
    if (n && n->kind == BF_SCHEMA_LONG && logical &&
        strcmp(logical, "timestamp-millis") == 0 && !n->fullname)
        n->logical = BF_SCHEMA_LOGICAL_TIMESTAMP_MILLIS;
    return n;
}

/* Whether @p n has a finite value, given what is known of its children. */
static int finite_now(const bf_schema_node_t *n)
{
    switch (n->kind) {
    case BF_SCHEMA_RECORD:
        for (size_t i = 0; i < n->count; i++)
            if (!n->fields[i].type->finite)
                return 0;
        return 1;
    case BF_SCHEMA_UNION:
        for (size_t i = 0; i < n->count; i++)
            if (n->branches[i]->finite)
                return 1;
        return 0;
    default:
        return 1; /* primitives, enums, fixed; an array or map may be empty */
    }
}

/*
 * A recursive type is fine when the recursion can stop: {"name":"next",
 * "type":["null","Report"]} links reports, and the codec bounds how deep a
 * value may nest. A record whose field is the record itself (or reaches it
 * only through records and one-branch unions) has no finite value at all,
 * and avro-c recurses without end building one (a stack overflow that
 * fuzz_schema found). Such a schema can come from a Schema Registry, so it
 * is refused here, before avro-c sees it.
 *
 * Which types have a finite value is the least fixed point of finite_now():
 * start from "none have" for records and unions and apply the rule until
 * nothing changes. Nodes are listed newest first, so inner types usually
 * settle in the first pass; each further pass settles at least one more
 * node or ends the loop.
 */
static const bf_schema_node_t *first_infinite(bf_schema_tree_t *tree)
{
    for (bf_schema_node_t *n = tree->nodes; n; n = n->next_alloc)
        n->finite = n->kind != BF_SCHEMA_RECORD && n->kind != BF_SCHEMA_UNION;
    for (int changed = 1; changed;) {
        changed = 0;
        for (bf_schema_node_t *n = tree->nodes; n; n = n->next_alloc) {
            if (!n->finite && finite_now(n)) {
                n->finite = 1;
                changed = 1;
            }
        }
    }
    const bf_schema_node_t *bad = NULL;
    for (const bf_schema_node_t *n = tree->nodes; n; n = n->next_alloc)
        if (!n->finite && n->kind == BF_SCHEMA_RECORD)
            bad = n; /* the last in the list: the outermost */
    return bad;
}

bf_schema_tree_t *bf_schema_tree_new(const json_t *schema, char *errstr,
                                     size_t errstr_size)
{
    parser_t p = {.tree = bf_calloc(1, sizeof(bf_schema_tree_t)),
                  .errstr = errstr,
                  .errstr_size = errstr_size};
    p.tree->root = schema ? parse_node(&p, schema, NULL, 0) : NULL;
    if (!p.tree->root) {
        if (!schema)
            bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size, "no schema");
        bf_schema_tree_destroy(p.tree);
        return NULL;
    }
    const bf_schema_node_t *bad = first_infinite(p.tree);
    if (bad) {
        bf_seterr(BF_ERR_SCHEMA, errstr, errstr_size,
                  "record %s has no finite value: it contains itself outside a union, "
                  "array or map",
                  bad->fullname);
        bf_schema_tree_destroy(p.tree);
        return NULL;
    }
    return p.tree;
}

/* ------------------------------------------------------------------------
 * Walking the schemas inside a schema
 *
 * Loading an embedded schema and projecting a reader schema both edit a
 * schema's JSON where a type may stand: the root, a field's "type", an
 * array's "items", a map's "values", a union's branches. walk_slot() visits
 * each such slot in document order (the order that decides where a named
 * type is defined) and tracks the namespace in effect there. The visitor
 * may replace the slot's content before its children are visited.
 */

typedef enum walk_e { WALK_DESCEND, WALK_STOP, WALK_FAIL } walk_t;

typedef walk_t (*visit_fn)(void *ctx, json_t *container, const char *key, size_t index,
                           json_t **type, const char *ns);

static walk_t walk_slot(visit_fn visit, void *ctx, json_t *container, const char *key,
                        size_t index, const char *ns, unsigned depth)
{
    json_t *t = key ? json_object_get(container, key) : json_array_get(container, index);
    if (!t || depth > MAX_SCHEMA_DEPTH)
        return WALK_DESCEND; /* left for the schema parser to report */
    walk_t w = visit(ctx, container, key, index, &t, ns);
    if (w != WALK_DESCEND)
        return w;
    if (json_is_array(t)) {
        for (size_t i = 0; i < json_array_size(t); i++)
            if ((w = walk_slot(visit, ctx, t, NULL, i, ns, depth + 1)) != WALK_DESCEND)
                return w;
        return WALK_DESCEND;
    }
    const json_t *type = json_object_get(t, "type");
    if (json_is_object(type) || json_is_array(type))
        return walk_slot(visit, ctx, t, "type", 0, ns, depth + 1);
    const char *name = json_string_value(type);
    if (!name)
        return WALK_DESCEND;
    if (strcmp(name, "array") == 0 || strcmp(name, "map") == 0)
        return walk_slot(visit, ctx, t, name[0] == 'a' ? "items" : "values", 0, ns,
                         depth + 1);
    if (strcmp(name, "record") != 0 && strcmp(name, "error") != 0)
        return WALK_DESCEND;
    char *full = definition_fullname(t, ns);
    if (!full)
        return WALK_DESCEND;
    char inner_ns[512];
    namespace_of(full, inner_ns, sizeof(inner_ns));
    free(full);
    json_t *fields = json_object_get(t, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++)
        if ((w = walk_slot(visit, ctx, json_array_get(fields, i), "type", 0, inner_ns,
                           depth + 1)) != WALK_DESCEND)
            return w;
    return WALK_DESCEND;
}

/* Walks @p schema as the root slot of a one-element array, so that the
 * visitor can replace even the root. Returns the (possibly new) root. */
static json_t *walk_schema(visit_fn visit, void *ctx, json_t *schema, walk_t *result)
{
    json_t *holder = json_array();
    json_array_append(holder, schema);
    *result = walk_slot(visit, ctx, holder, NULL, 0, NULL, 0);
    json_t *root = json_incref(json_array_get(holder, 0));
    json_decref(holder);
    return root;
}

static void slot_set(json_t *container, const char *key, size_t index, json_t *value)
{
    if (key)
        json_object_set(container, key, value);
    else
        json_array_set(container, index, value);
}

/* ------------------------------------------------------------------------
 * Self-contained embedded schemas
 */

typedef struct finder_s {
    const char *fullname;
    json_t *found; /* borrowed from the schema being searched */
} finder_t;

static walk_t find_visit(void *vctx, json_t *container, const char *key, size_t index,
                         json_t **type, const char *ns)
{
    (void)container, (void)key, (void)index;
    finder_t *f = vctx;
    const char *t = json_string_value(json_object_get(*type, "type"));
    if (!t || !is_named_kind(t))
        return WALK_DESCEND;
    char *full = definition_fullname(*type, ns);
    int match = full && strcmp(full, f->fullname) == 0;
    free(full);
    if (!match)
        return WALK_DESCEND;
    f->found = *type;
    return WALK_STOP;
}

/* A copy of the definition of @p fullname from any embedded schema but
 * @p self, named by its fullname so that it means the same anywhere. */
static json_t *embedded_definition(const char *self, const char *fullname)
{
    for (const bf_schema_text_t *s = bf_schemas_embedded; s->name; s++) {
        if (strcmp(s->name, self) == 0)
            continue;
        json_t *doc = json_loads(s->json, JSON_DECODE_ANY, NULL);
        if (!doc)
            continue;
        finder_t f = {.fullname = fullname};
        walk_t result;
        json_decref(walk_schema(find_visit, &f, doc, &result));
        json_t *def = f.found ? json_deep_copy(f.found) : NULL;
        json_decref(doc);
        if (def) {
            json_object_set_new(def, "name", json_string(fullname));
            json_object_del(def, "namespace");
            return def;
        }
    }
    return NULL;
}

typedef struct inliner_s {
    const char *self;
    json_t *defined; /* fullname -> true, in document order so far */
    char *errstr;
    size_t errstr_size;
} inliner_t;

static walk_t inline_visit(void *vctx, json_t *container, const char *key, size_t index,
                           json_t **type, const char *ns)
{
    inliner_t *in = vctx;
    const char *t = json_is_string(*type)
                        ? json_string_value(*type)
                        : json_string_value(json_object_get(*type, "type"));
    if (!t || primitive_kind(t) >= 0 || strcmp(t, "array") == 0 || strcmp(t, "map") == 0)
        return WALK_DESCEND;
    if (json_is_object(*type) && is_named_kind(t)) {
        char *full = definition_fullname(*type, ns);
        if (full)
            json_object_set_new(in->defined, full, json_true());
        free(full);
        return WALK_DESCEND;
    }
    if (!json_is_string(*type))
        return WALK_DESCEND; /* {"type": "Name"}: rare; left to the parser */
    char *full = qualify(t, ns);
    if (json_object_get(in->defined, full) || json_object_get(in->defined, t)) {
        free(full);
        return WALK_DESCEND;
    }
    json_t *def = embedded_definition(in->self, full);
    if (!def) {
        bf_seterr(BF_ERR_SCHEMA, in->errstr, in->errstr_size,
                  "schema %s: unknown type name %s", in->self, full);
        free(full);
        return WALK_FAIL;
    }
    free(full);
    slot_set(container, key, index, def);
    *type = def;
    json_decref(def); /* the container holds it now */
    return inline_visit(vctx, container, key, index, type, ns);
}

bf_err_t bf_schema_load_embedded(const char *name, json_t **out, char *errstr,
                                 size_t errstr_size)
{
    *out = NULL;
    const char *text = bf_schema_text(name);
    if (!text) {
        return bf_seterr(BF_ERR_NOT_FOUND, errstr, errstr_size,
                         "no embedded schema called %s", name ? name : "(null)");
    }
    json_error_t jerr;
    json_t *doc = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!doc) {
        return bf_seterr(BF_ERR_PARSE, errstr, errstr_size,
                         "schema %s is not JSON: %s (line %d)", name, jerr.text,
                         jerr.line);
    }
    inliner_t in = {.self = name,
                    .defined = json_object(),
                    .errstr = errstr,
                    .errstr_size = errstr_size};
    walk_t result;
    json_t *root = walk_schema(inline_visit, &in, doc, &result);
    json_decref(doc);
    json_decref(in.defined);
    if (result == WALK_FAIL) {
        json_decref(root);
        return BF_ERR_SCHEMA;
    }
    *out = root;
    return BF_OK;
}

/* ------------------------------------------------------------------------
 * Reader projection (see bf_schema_project in schema_int.h)
 */

typedef struct projector_s {
    const bf_schema_tree_t *writer;
    char *errstr;
    size_t errstr_size;
} projector_t;

static int writer_has_field(const bf_schema_node_t *w, const char *name)
{
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->fields[i].name, name) == 0)
            return 1;
    return 0;
}

static walk_t project_visit(void *vctx, json_t *container, const char *key, size_t index,
                            json_t **type, const char *ns)
{
    (void)container, (void)key, (void)index;
    projector_t *pr = vctx;
    const char *t = json_string_value(json_object_get(*type, "type"));
    if (!t || !is_named_kind(t) || strcmp(t, "fixed") == 0)
        return WALK_DESCEND;
    char *full = definition_fullname(*type, ns);
    const bf_schema_node_t *w = full ? bf_schema_tree_find(pr->writer, full) : NULL;
    walk_t result = WALK_DESCEND;
    if (w && w->kind == BF_SCHEMA_ENUM && strcmp(t, "enum") == 0) {
        json_t *symbols = json_array();
        for (size_t i = 0; i < w->count; i++)
            json_array_append_new(symbols, json_string(w->symbols[i]));
        json_object_set_new(*type, "symbols", symbols);
        json_object_del(*type, "default");
    } else if (w && w->kind == BF_SCHEMA_RECORD && strcmp(t, "enum") != 0) {
        const json_t *fields = json_object_get(*type, "fields");
        json_t *kept = json_array();
        size_t i;
        const json_t *f;
        json_array_foreach(fields, i, f)
        {
            const char *fname = json_string_value(json_object_get(f, "name"));
            if (fname && writer_has_field(w, fname)) {
                json_array_append(kept, (json_t *)f);
            } else if (!json_object_get(f, "default")) {
                bf_seterr(
                    BF_ERR_SCHEMA, pr->errstr, pr->errstr_size,
                    "reader field %s.%s is not in the writer schema and has no default",
                    full, fname ? fname : "?");
                result = WALK_FAIL;
                break;
            }
        }
        json_object_set_new(*type, "fields", kept);
    }
    free(full);
    return result;
}

bf_err_t bf_schema_project(const json_t *reader, const bf_schema_tree_t *writer,
                           json_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    json_t *copy = json_deep_copy(reader);
    projector_t pr = {.writer = writer, .errstr = errstr, .errstr_size = errstr_size};
    walk_t result;
    json_t *root = walk_schema(project_visit, &pr, copy, &result);
    json_decref(copy);
    if (result == WALK_FAIL) {
        json_decref(root);
        return BF_ERR_SCHEMA;
    }
    *out = root;
    return BF_OK;
}
