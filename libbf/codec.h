/*
 * codec.h - the three wire formats of DESIGN.md for every record type.
 *
 * Records cross the codec as jansson objects with the schema's field names
 * and plain JSON values (a union is its value or null, an enum its symbol,
 * a timestamp-millis a number), which is exactly the JSON framing. The
 * codec turns such an object into Avro binary per the schema and back, and
 * adds or detects the framing:
 *
 *   0xC3 0x01 + 8-byte little-endian CRC-64-AVRO fingerprint + Avro binary
 *                                       (Avro single-object encoding)
 *   0x00 + 4-byte big-endian schema id + Avro binary   (Confluent framing)
 *   '{' ...                                            (JSON object)
 *
 * On decode the writer schema is found by fingerprint or id; when it is not
 * the reader schema (an older or newer version of the record), Avro schema
 * resolution maps it onto the reader schema.
 */
#ifndef BF_CODEC_H
#define BF_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "libbf/buf.h"
#include "libbf/err.h"

typedef enum bf_framing_e {
    BF_FRAMING_SINGLE_OBJECT = 0, /* the default: no registry needed */
    BF_FRAMING_CONFLUENT = 1,
    BF_FRAMING_JSON = 2,
} bf_framing_t;

typedef enum bf_record_type_e {
    BF_RECORD_REPORT = 0,
    BF_RECORD_VALIDATION = 1,
    BF_RECORD_HEARTBEAT = 2,
    BF_RECORD_SCALING_DECISION = 3,
    BF_RECORD__COUNT
} bf_record_type_t;

typedef struct bf_codec_s bf_codec_t;

/**
 * @brief Parse the embedded reader schemas and compute their fingerprints.
 * @returns a codec (destroy with bf_codec_destroy), or NULL with errstr set.
 * @locality any thread; a codec is not shared between threads.
 */
bf_codec_t *bf_codec_new(char *errstr, size_t errstr_size);

/** @brief Free a codec. NULL-safe. */
void bf_codec_destroy(bf_codec_t *codec);

/** @brief The record type's schema fingerprint (CRC-64-AVRO of its PCF). */
uint64_t bf_codec_fingerprint(const bf_codec_t *codec, bf_record_type_t type);

/**
 * @brief Make another writer schema of @p type known for decoding (an older
 *        or newer version), by fingerprint and, when @p confluent_id >= 0,
 *        by Confluent schema id.
 * @param schema_json copied
 * @returns BF_OK (also when the schema is known already: only the id is
 *          recorded); BF_ERR_PARSE when it is not JSON; BF_ERR_SCHEMA when
 *          it is not a record schema or does not resolve to the reader
 *          (a reader field it lacks has no default, a type is
 *          incompatible); BF_ERR_STATE when the id names another schema;
 *          BF_ERR_TOO_LARGE past 64 writer schemas of one type.
 */
bf_err_t bf_codec_add_writer_schema(bf_codec_t *codec, bf_record_type_t type,
                                    const char *schema_json, int32_t confluent_id,
                                    char *errstr, size_t errstr_size);

/**
 * @brief Set the Confluent schema id under which the current schema of
 *        @p type is registered (used to encode with BF_FRAMING_CONFLUENT
 *        and to decode that id with the reader schema itself).
 */
void bf_codec_set_confluent_id(bf_codec_t *codec, bf_record_type_t type, int32_t id);

/** @brief The current schema of @p type as compact, self-contained JSON
 *         text (what a Schema Registry is given). Borrowed from the codec. */
const char *bf_codec_schema_text(const bf_codec_t *codec, bf_record_type_t type);

/**
 * A source of writer schemas for Confluent ids the codec does not know,
 * e.g. a Schema Registry (registry.h). Called from bf_codec_decode().
 * @param schema_json receives the schema text, borrowed: valid at least
 *        until the callback is called again
 * @returns BF_OK; BF_ERR_NOT_FOUND for an id the source does not know
 *          (decode then fails with BF_ERR_UNKNOWN_SCHEMA); any other error
 *          is passed on by decode, so that a caller can tell an outage from
 *          a bad message: BF_ERR_UNAVAILABLE when the source cannot answer
 *          now (decode again later), BF_ERR_PENDING when it has asked and
 *          will announce the answer (decode again then). errstr says why.
 */
typedef bf_err_t(bf_codec_schema_lookup_cb)(void *opaque, int32_t id,
                                            const char **schema_json, char *errstr,
                                            size_t errstr_size);

/**
 * @brief Resolve unknown Confluent ids through @p cb (NULL: do not). The
 *        schema found is learnt like bf_codec_add_writer_schema(), so each
 *        id is looked up once.
 * @param opaque borrowed; passed to @p cb
 */
void bf_codec_set_schema_lookup(bf_codec_t *codec, bf_codec_schema_lookup_cb *cb,
                                void *opaque);

/**
 * @brief Encode @p value (borrowed) with @p framing, appending to @p out.
 * A field the object lacks takes the schema's default; fields the schema
 * does not know are left out; JSON framing writes the normalised object.
 * A timestamp-millis field may also be given as RFC 3339 text.
 * @returns BF_OK; BF_ERR_SCHEMA (errstr names the field) when the object
 *          does not fit the schema; BF_ERR_STATE for Confluent framing
 *          without a schema id; BF_ERR_TOO_LARGE past out's maximum.
 */
bf_err_t bf_codec_encode(bf_codec_t *codec, bf_record_type_t type, const json_t *value,
                         bf_framing_t framing, bf_buf_t *out, char *errstr,
                         size_t errstr_size);

/**
 * @brief Detect the framing of @p data and decode it into a new object.
 * @param out receives a new reference (caller json_decref()s)
 * @param framing receives the detected framing (may be NULL)
 * @returns BF_OK; BF_ERR_PARSE for unknown magic, truncated or corrupt Avro,
 *          malformed JSON; BF_ERR_UNKNOWN_SCHEMA for an unknown fingerprint
 *          or id (after asking the schema lookup, if any, whose other
 *          errors are passed on: BF_ERR_PENDING, BF_ERR_UNAVAILABLE, ...);
 *          BF_ERR_SCHEMA when JSON does not fit the schema (a
 *          JSON-framed object is checked and normalised like an encoded
 *          one) or a value has no JSON form (NaN); BF_ERR_UTF8 for strings
 *          that are not UTF-8; BF_ERR_PARSE for a string holding U+0000,
 *          which C consumers would silently cut short. errstr says more.
 */
bf_err_t bf_codec_decode(bf_codec_t *codec, bf_record_type_t type, const void *data,
                         size_t len, json_t **out, bf_framing_t *framing, char *errstr,
                         size_t errstr_size);

/** @brief Parse "avro"/"single-object", "confluent" or "json". -1 if unknown. */
int bf_framing_parse(const char *name, bf_framing_t *out);
/** @brief Name of a framing. */
const char *bf_framing_name(bf_framing_t framing);

#endif
