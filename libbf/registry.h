/*
 * registry.h - a client of a Confluent-compatible Schema Registry
 * (SCHEMA_REGISTRY_URL), the source of the schema ids in Confluent framing.
 *
 * Two operations, both cached for the client's lifetime because the
 * registry never changes what an id means:
 *
 *   register   POST /subjects/{subject}/versions {"schema": "..."} -> id
 *              (idempotent in the registry: the same schema gets the same
 *              id); cached by subject and schema text.
 *   look up    GET /schemas/ids/{id} -> {"schema": "..."}; cached by id.
 *              An id the registry does not know (404, error_code 40403) is
 *              remembered as unknown for negative_ttl_s, and after a
 *              transport failure every lookup fails at once for
 *              retry_after_s, so a flood of messages with a bad id, or a
 *              registry outage, costs one request, not one per message.
 *
 * Requests are synchronous (a curl easy handle, its connection reused),
 * each bounded by the timeouts in the options. That suits the producer,
 * which registers once at start, and the worker, which looks an id up once
 * in its lifetime: bf_registry_use_for_decoding() hooks the client into a
 * codec so that an unknown Confluent id is resolved on first sight.
 *
 * @locality any thread; one client is used by one thread at a time.
 */
#ifndef BF_REGISTRY_H
#define BF_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libbf/codec.h"
#include "libbf/err.h"

typedef struct bf_registry_s bf_registry_t;

/** How to reach the registry; strings are copied. */
typedef struct bf_registry_options_s {
    /** Base URL, or several separated by commas (tried in order when one
     *  cannot be reached), e.g. "http://127.0.0.1:8081". */
    const char *url;
    /** "user:password" for HTTP basic auth (Confluent's
     *  basic.auth.user.info), or NULL. A secret: never logged. */
    const char *user_info;
    double timeout_s;         /**< whole request; 0 = 5 s */
    double connect_timeout_s; /**< 0 = 2 s */
    double negative_ttl_s;    /**< unknown ids stay unknown this long; 0 = 30 s */
    double retry_after_s;     /**< fail fast this long after an outage; 0 = 5 s */
} bf_registry_options_t;

/**
 * @brief Create a client. No request is made yet.
 * @returns the client (bf_registry_destroy), or NULL with errstr when the
 *          URL is empty or not http(s).
 */
bf_registry_t *bf_registry_new(const bf_registry_options_t *opts, char *errstr,
                               size_t errstr_size);

/**
 * @brief Create a client from the environment: SCHEMA_REGISTRY_URL,
 *        SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO (or its _FILE variant) and
 *        SCHEMA_REGISTRY_TIMEOUT (seconds per request, default 2; the
 *        worker lowers it with bf_registry_set_timeouts once started, as
 *        its lookups hold its event loop).
 * @param url overrides SCHEMA_REGISTRY_URL when not NULL (a flag)
 * @returns a client; NULL with errstr "" when no URL is set (Confluent ids
 *          then come from elsewhere), or NULL with errstr set on an error.
 */
bf_registry_t *bf_registry_from_env(const char *url, char *errstr, size_t errstr_size);

/** @brief Free a client. NULL-safe. */
void bf_registry_destroy(bf_registry_t *reg);

/**
 * @brief Register @p schema_json under @p subject (or find it registered).
 * @param subject copied; e.g. "bountyfleet.reports-value"
 * @param schema_json copied; the schema as JSON text
 * @param id receives the registry's global id of the schema
 * @returns BF_OK; BF_ERR_SCHEMA when the registry refuses the schema (409
 *          incompatible with the subject's compatibility level, 422
 *          invalid); BF_ERR_HTTP or BF_ERR_TIMEOUT when it cannot be asked
 *          or answers with another error; BF_ERR_PARSE for an answer that
 *          is not the registry's JSON. errstr carries the registry's
 *          message and error_code.
 */
bf_err_t bf_registry_register(bf_registry_t *reg, const char *subject,
                              const char *schema_json, int32_t *id, char *errstr,
                              size_t errstr_size);

/**
 * @brief The schema the registry knows by @p id.
 * @param schema_json receives the schema text, borrowed: valid until the
 *        next call on the client (copy it to keep it)
 * @returns BF_OK; BF_ERR_NOT_FOUND for an id the registry does not know
 *          (also while it is remembered as unknown); BF_ERR_SCHEMA for a
 *          schema that is not Avro (schemaType PROTOBUF or JSON);
 *          BF_ERR_HTTP, BF_ERR_TIMEOUT or BF_ERR_PARSE as for register.
 */
bf_err_t bf_registry_schema_by_id(bf_registry_t *reg, int32_t id,
                                  const char **schema_json, char *errstr,
                                  size_t errstr_size);

/**
 * @brief Register the current schema of @p type under "<topic>-value"
 *        (Confluent's TopicNameStrategy) and set its id in @p codec, so
 *        that the codec can encode @p type with BF_FRAMING_CONFLUENT.
 * @param id receives the id (may be NULL)
 */
bf_err_t bf_registry_register_for_encoding(bf_registry_t *reg, bf_codec_t *codec,
                                           bf_record_type_t type, const char *topic,
                                           int32_t *id, char *errstr, size_t errstr_size);

/**
 * @brief Teach @p codec every version registered under "<topic>-value"
 *        (GET /subjects/{subject}/versions, then each version), as writer
 *        schemas of @p type with their ids, so that decoding them needs no
 *        lookup later. A version the current schema cannot resolve is
 *        skipped with a warning in the log. At most the latest 64 versions.
 * @param learned receives how many versions were learnt (may be NULL)
 * @returns BF_OK, also when the subject does not exist yet; the registry's
 *          errors (BF_ERR_HTTP, BF_ERR_TIMEOUT, BF_ERR_PARSE) otherwise.
 */
bf_err_t bf_registry_preload(bf_registry_t *reg, bf_codec_t *codec, bf_record_type_t type,
                             const char *topic, size_t *learned, char *errstr,
                             size_t errstr_size);

/**
 * @brief Let @p codec resolve Confluent ids it does not know through @p reg
 *        (bf_codec_set_schema_lookup). @p reg must outlive the codec's use.
 */
void bf_registry_use_for_decoding(bf_registry_t *reg, bf_codec_t *codec);

/**
 * @brief Whether the last lookup or request failed in a way worth retrying:
 *        the registry could not be reached or timed out (also while it is
 *        failed fast after that), or answered 5xx or 429. False after a
 *        success and after a definitive answer (404 unknown id, 4xx).
 */
bool bf_registry_failed_transiently(const bf_registry_t *reg);

/** @brief Change the per-request timeouts (seconds; 0 keeps the current
 *         one), e.g. to bound lookups made on an event loop tightly. */
void bf_registry_set_timeouts(bf_registry_t *reg, double timeout_s,
                              double connect_timeout_s);

/** @brief Requests sent to the registry so far (lookups served from the
 *         cache do not count). */
uint64_t bf_registry_requests(const bf_registry_t *reg);

#endif
