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
 *              remembered as unknown for negative_ttl_s, and after an
 *              outage (unreachable, a timeout, 5xx, 429) every request
 *              fails at once with BF_ERR_UNAVAILABLE for retry_after_s, so
 *              a flood of messages with a bad id, or a registry outage,
 *              costs one request, not one per message.
 *
 * Requests go through the asynchronous HTTP client (http.h), each
 * bounded by the timeouts in the options, and come in two modes that share
 * how a request is made and how its answer is read:
 *
 *   synchronous   every call waits for its answer, running the request on
 *                 a private libuv loop of the client's. For the producer,
 *                 which registers once at start, and a worker's start-up
 *                 (preload, register), before its own loop runs.
 *   asynchronous  once bf_registry_attach() gave the client a bf_http_t on
 *                 an event loop, a lookup the cache cannot answer starts
 *                 one GET on that loop and returns BF_ERR_PENDING at once;
 *                 the answer is cached and announced to the attach
 *                 callback, and the caller asks again. Lookups of an id
 *                 already asked for wait for the same request. Nothing
 *                 blocks the loop (register and preload stay synchronous).
 *
 * bf_registry_use_for_decoding() hooks the client into a codec so that an
 * unknown Confluent id is resolved on first sight; the lookup's answer is
 * what bf_codec_decode() returns: BF_ERR_PENDING (asked, announced
 * later), BF_ERR_UNAVAILABLE (the registry cannot answer now: try again
 * later) or, for BF_ERR_NOT_FOUND, BF_ERR_UNKNOWN_SCHEMA (a definitive
 * answer: the id is unknown), so that no caller has to ask the client
 * what happened.
 *
 * @locality one thread at a time; once attached, the thread of the loop
 *           the bf_http_t runs on.
 */
#ifndef BF_REGISTRY_H
#define BF_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libbf/codec.h"
#include "libbf/err.h"
#include "libbf/http.h"

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
    /** After an outage (unreachable, timeout, 5xx, 429) every request fails
     *  at once with BF_ERR_UNAVAILABLE this long; 0 = 5 s. */
    double retry_after_s;
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
 *        SCHEMA_REGISTRY_TIMEOUT (seconds per request, default 2).
 * @param url overrides SCHEMA_REGISTRY_URL when not NULL (a flag)
 * @returns a client; NULL with errstr "" when no URL is set (Confluent ids
 *          then come from elsewhere), or NULL with errstr set on an error.
 */
bf_registry_t *bf_registry_from_env(const char *url, char *errstr, size_t errstr_size);

/**
 * @brief Free a client. NULL-safe. Lookups still in flight on an attached
 *        bf_http_t are let go: their answers are dropped when they come,
 *        and no callback runs.
 */
void bf_registry_destroy(bf_registry_t *reg);

/**
 * @brief Register @p schema_json under @p subject (or find it registered).
 * @param subject copied; e.g. "bountyfleet.reports-value"
 * @param schema_json copied; the schema as JSON text
 * @param id receives the registry's global id of the schema
 * @returns BF_OK; BF_ERR_SCHEMA when the registry refuses the schema (409
 *          incompatible with the subject's compatibility level, 422
 *          invalid); BF_ERR_UNAVAILABLE when it cannot answer now (no URL
 *          reachable, a timeout, 5xx or 429, or failed fast after one of
 *          those); BF_ERR_HTTP for another error status; BF_ERR_PARSE for
 *          an answer that is not the registry's JSON, BF_ERR_TOO_LARGE for
 *          one over 1 MiB. errstr carries the registry's message and
 *          error_code. Always synchronous.
 */
bf_err_t bf_registry_register(bf_registry_t *reg, const char *subject,
                              const char *schema_json, int32_t *id, char *errstr,
                              size_t errstr_size);

/**
 * @brief The schema the registry knows by @p id: from the cache, else asked
 *        of the registry (synchronously, or asynchronously once attached).
 * @param schema_json receives the schema text, borrowed: valid until the
 *        next call on the client or the next answer announced (copy it to
 *        keep it); NULL unless BF_OK
 * @returns BF_OK; BF_ERR_NOT_FOUND for an id the registry does not know
 *          (also while it is remembered as unknown; errstr keeps the
 *          registry's message); BF_ERR_SCHEMA for a schema that is not
 *          Avro (schemaType PROTOBUF or JSON); BF_ERR_UNAVAILABLE when the
 *          registry cannot answer now, at once during the fail-fast window
 *          after an outage (errstr says why); BF_ERR_PENDING when attached
 *          and the answer has been asked for: the attach callback
 *          announces it, then call again; BF_ERR_STATE when the attached
 *          bf_http_t was destroyed under the client (attach again, or
 *          detach); BF_ERR_HTTP or BF_ERR_PARSE as for register.
 */
bf_err_t bf_registry_schema_by_id(bf_registry_t *reg, int32_t id,
                                  const char **schema_json, char *errstr,
                                  size_t errstr_size);

/**
 * The answer to an asynchronous lookup has arrived and is cached (or, for
 * BF_ERR_UNAVAILABLE, the fail-fast window is open): call
 * bf_registry_schema_by_id() again for the result. Runs on the loop
 * thread, never from within bf_registry_schema_by_id(); it may look ids up
 * (and so start requests), but not destroy the client or attach another.
 * @param err what a lookup of @p id now returns: BF_OK, BF_ERR_NOT_FOUND,
 *        BF_ERR_UNAVAILABLE, ... as bf_registry_schema_by_id(), or
 *        BF_ERR_STATE when the request was cancelled by bf_http_destroy()
 *        (nothing is cached then, and the client no longer uses that
 *        bf_http_t)
 * @param errstr why, borrowed: valid during the callback
 */
typedef void(bf_registry_answer_cb)(void *opaque, int32_t id, bf_err_t err,
                                    const char *errstr);

/**
 * @brief Make lookups asynchronous on @p http's loop (see the top of this
 *        file), or synchronous again with @p http NULL. Detach before
 *        destroying @p http; lookups in flight then still fill the cache
 *        when they complete, but announce nothing. Destroyed while
 *        attached, @p http cancels them (announced with BF_ERR_STATE) and
 *        lookups fail with BF_ERR_STATE until the next attach.
 * @param http borrowed: must outlive the attachment
 * @param on_answer called once per request made (see bf_registry_answer_cb)
 * @param opaque borrowed; passed to @p on_answer
 */
void bf_registry_attach(bf_registry_t *reg, bf_http_t *http,
                        bf_registry_answer_cb *on_answer, void *opaque);

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
 *          errors (BF_ERR_UNAVAILABLE, BF_ERR_HTTP, BF_ERR_PARSE) otherwise.
 *          Always synchronous.
 */
bf_err_t bf_registry_preload(bf_registry_t *reg, bf_codec_t *codec, bf_record_type_t type,
                             const char *topic, size_t *learned, char *errstr,
                             size_t errstr_size);

/**
 * @brief Let @p codec resolve Confluent ids it does not know through @p reg
 *        (bf_codec_set_schema_lookup), with bf_registry_schema_by_id()'s
 *        answers. @p reg must outlive the codec's use.
 */
void bf_registry_use_for_decoding(bf_registry_t *reg, bf_codec_t *codec);

#endif
