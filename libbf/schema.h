/*
 * schema.h - the Avro schemas of DESIGN.md, compiled into the library from
 * the .avsc files in schemas/, and the Avro specification's schema
 * fingerprinting.
 */
#ifndef BF_SCHEMA_H
#define BF_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"

/** One embedded schema file: name is the file name without ".avsc". */
typedef struct bf_schema_text_s {
    const char *name;
    const char *json;
} bf_schema_text_t;

/**
 * @brief The text of an embedded schema by name ("report", "validation",
 *        "heartbeat", "scaling_decision").
 * @returns a static string, or NULL if there is no such schema.
 */
const char *bf_schema_text(const char *name);

/**
 * @brief Parsing Canonical Form of a schema (Avro specification,
 *        "Parsing Canonical Form for Schemas").
 * @param schema_json the schema as JSON text (borrowed)
 * @param out receives a newly allocated string (caller frees)
 */
bf_err_t bf_schema_canonical_form(const char *schema_json, char **out, char *errstr,
                                  size_t errstr_size);

/**
 * @brief CRC-64-AVRO (Rabin) fingerprint of @p len bytes, as the Avro
 *        specification's "Schema Fingerprints" section defines it.
 */
uint64_t bf_crc64_avro(const void *data, size_t len);

#endif
