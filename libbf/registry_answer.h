/*
 * registry_answer.h - the Schema Registry's answers, parsed: what the
 * bodies of its REST API say, with no I/O, so that the client
 * (registry.c) and the fuzz target (tests/fuzz/fuzz_registry.c) share one
 * parser of bytes that come from another process over the network.
 *
 * The bodies (Confluent Schema Registry API reference, "Schemas" and
 * "Subjects"):
 *
 *   POST /subjects/{subject}/versions      {"id": 7}
 *   GET  /schemas/ids/{id}                 {"schema": "...", "schemaType": "AVRO"}
 *                                          (schemaType absent for Avro)
 *   GET  /subjects/{subject}/versions      [1, 2, 3]
 *   GET  /subjects/{subject}/versions/{v}  {"subject", "version", "id", "schema"}
 *   any error                              {"error_code": 40403, "message": "..."}
 */
#ifndef BF_REGISTRY_ANSWER_H
#define BF_REGISTRY_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "libbf/err.h"

/* At most this many versions of a subject are kept from a list (the
 * latest): the client preloads them one request each. */
#define BF_REGISTRY_MAX_VERSIONS 64

/** Which request a body answers. */
typedef enum bf_registry_call_e {
    BF_REGISTRY_CALL_REGISTER = 0,     /* POST /subjects/{s}/versions */
    BF_REGISTRY_CALL_SCHEMA_BY_ID = 1, /* GET /schemas/ids/{id} */
    BF_REGISTRY_CALL_VERSIONS = 2,     /* GET /subjects/{s}/versions */
    BF_REGISTRY_CALL_VERSION = 3,      /* GET /subjects/{s}/versions/{v} */
    BF_REGISTRY_CALL__COUNT
} bf_registry_call_t;

/** What a successful (2xx) body said. Free with bf_registry_answer_free. */
typedef struct bf_registry_answer_s {
    int32_t id;       /* REGISTER, VERSION: the schema's global id, >= 0 */
    char *schema;     /* SCHEMA_BY_ID, VERSION: the schema text; owned */
    int64_t *version; /* VERSIONS: the latest versions, in the order given; owned */
    size_t n_versions;
} bf_registry_answer_t;

/**
 * @brief Parse the body of a successful answer to @p call.
 * @param body the bytes received (need not be NUL-terminated), borrowed
 * @param out  zeroed and filled on BF_OK; empty otherwise
 * @returns BF_OK; BF_ERR_PARSE when the body is not JSON of the expected
 *          shape (an id outside 0..INT32_MAX, a version that is not a
 *          non-negative integer, a schema that is not a string);
 *          BF_ERR_SCHEMA for a schema whose schemaType is not AVRO. errstr
 *          says what is wrong, without the request (the caller adds it).
 */
bf_err_t bf_registry_answer_parse(bf_registry_call_t call, const char *body, size_t len,
                                  bf_registry_answer_t *out, char *errstr,
                                  size_t errstr_size);

/** @brief Free what an answer holds and zero it. NULL-safe. */
void bf_registry_answer_free(bf_registry_answer_t *a);

/**
 * @brief The registry's error text of a non-2xx answer: "message
 *        (error_code N)" when the body is its error JSON, else "HTTP
 *        status: " and the start of the body, with control characters
 *        replaced. Always NUL-terminates @p out (size > 0).
 */
void bf_registry_error_describe(const char *body, size_t len, long status, char *out,
                                size_t size);

#endif
