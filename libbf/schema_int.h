/*
 * schema_int.h - private to libbf: the embedded schema table and a parsed
 * form of an Avro schema that the codec walks.
 *
 * avro-c parses a schema for decoding, but it drops what the codec also
 * needs: field defaults, logical types, and a way to ask "what is the
 * least number of bytes a value of this type can take" (used to bound
 * array lengths before avro-c sees untrusted input). So the codec keeps its
 * own small tree of every schema next to avro-c's, and encodes with it
 * alone (codec.c writes the binary itself).
 */
#ifndef BF_SCHEMA_INT_H
#define BF_SCHEMA_INT_H

#include <jansson.h>
#include <stddef.h>

#include "libbf/schema.h"

/** Every schemas/ .avsc file, sorted by name, ending with {NULL, NULL}. */
extern const bf_schema_text_t bf_schemas_embedded[];

typedef enum bf_schema_kind_e {
    BF_SCHEMA_NULL,
    BF_SCHEMA_BOOLEAN,
    BF_SCHEMA_INT,
    BF_SCHEMA_LONG,
    BF_SCHEMA_FLOAT,
    BF_SCHEMA_DOUBLE,
    BF_SCHEMA_BYTES,
    BF_SCHEMA_STRING,
    BF_SCHEMA_RECORD,
    BF_SCHEMA_ENUM,
    BF_SCHEMA_ARRAY,
    BF_SCHEMA_MAP,
    BF_SCHEMA_UNION,
    BF_SCHEMA_FIXED,
} bf_schema_kind_t;

/** The logical types the codec treats specially (Avro spec, "Logical Types"). */
typedef enum bf_schema_logical_e {
    BF_SCHEMA_LOGICAL_NONE = 0,
    BF_SCHEMA_LOGICAL_TIMESTAMP_MILLIS, /* long; JSON may also give RFC 3339 */
} bf_schema_logical_t;

typedef struct bf_schema_node_s bf_schema_node_t;

typedef struct bf_schema_field_s {
    char *name;
    bf_schema_node_t *type;
    /* The field's "default" (owned), or NULL when it has none. For a union
     * the default belongs to the first branch (Avro spec, "Complex Types"),
     * so default_type is that branch; otherwise it is type. */
    json_t *default_value;
    bf_schema_node_t *default_type;
} bf_schema_field_t;

struct bf_schema_node_s {
    bf_schema_kind_t kind;
    bf_schema_logical_t logical;
    char *fullname;              /* record, enum, fixed; NULL otherwise */
    size_t count;                /* fields, symbols or branches */
    bf_schema_field_t *fields;   /* record */
    char **symbols;              /* enum */
    int enum_default;            /* enum: index of its "default" symbol, or -1 */
    bf_schema_node_t **branches; /* union */
    bf_schema_node_t *items;     /* array items, map values */
    size_t fixed_size;           /* fixed */
    /* Fewest bytes a binary-encoded value of this type takes. Recursive
     * types count their recursion as 0, so this is a lower bound. */
    size_t min_encoded;
    /* 1 when a value of this type can be written in finitely many bytes.
     * Only a record that contains itself on every path (a recursive field
     * outside a union, array or map) has none; the tree refuses it. */
    int finite;
    bf_schema_node_t *next_alloc; /* the tree's list of its nodes */
};

/**
 * A parsed schema: root points into the nodes, which the tree owns. Named
 * types appear once and are shared by every reference to them.
 */
typedef struct bf_schema_tree_s {
    bf_schema_node_t *root;
    bf_schema_node_t *nodes;
} bf_schema_tree_t;

/**
 * @brief Parse a schema (JSON, borrowed) into a tree.
 * @returns a tree (free with bf_schema_tree_destroy), or NULL with errstr
 *          set when the JSON is not a schema this codec supports.
 */
bf_schema_tree_t *bf_schema_tree_new(const json_t *schema, char *errstr,
                                     size_t errstr_size);

/** @brief Free a tree. NULL-safe. */
void bf_schema_tree_destroy(bf_schema_tree_t *tree);

/**
 * @brief The named type (record, enum, fixed) called @p fullname, or, if
 *        none, the only one whose unqualified name matches (Avro 1.10+
 *        resolution matches names unqualified). NULL if there is none.
 */
const bf_schema_node_t *bf_schema_tree_find(const bf_schema_tree_t *tree,
                                            const char *fullname);

/**
 * @brief An embedded schema made self-contained: a reference to a named
 *        type that the file does not define itself (validation.avsc uses
 *        bountyfleet.v1.Severity from report.avsc) is replaced by that
 *        type's definition from the other embedded schemas, as Java's
 *        Schema.Parser does when it is given all the files in turn.
 * @param out receives a new reference
 * @returns BF_OK, BF_ERR_NOT_FOUND for an unknown name, BF_ERR_PARSE or
 *          BF_ERR_SCHEMA for a broken embedded file.
 */
bf_err_t bf_schema_load_embedded(const char *name, json_t **out, char *errstr,
                                 size_t errstr_size);

/**
 * @brief Parsing Canonical Form of an already parsed schema.
 * @param out receives a newly allocated string (caller frees)
 */
bf_err_t bf_schema_canonical_form_json(const json_t *schema, char **out, char *errstr,
                                       size_t errstr_size);

/**
 * @brief The reader schema as avro-c can resolve @p writer onto it.
 *
 * avro-c's resolved reader (1.11) implements neither field defaults nor
 * enum symbol mapping: a reader field missing from the writer is an error,
 * and an enum value is passed on by index. So the codec resolves against
 * this "view" of the reader: each record keeps only the fields that the
 * writer's record of the same name has, and each enum takes the writer's
 * symbols. The codec then fills the dropped fields from their defaults
 * and maps enum symbols by name itself.
 *
 * @param out receives a new reference
 * @returns BF_OK, or BF_ERR_SCHEMA (errstr names it) when a reader field
 *          the writer lacks has no default.
 */
bf_err_t bf_schema_project(const json_t *reader, const bf_schema_tree_t *writer,
                           json_t **out, char *errstr, size_t errstr_size);

#endif
