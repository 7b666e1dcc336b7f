/*
 * err.h - the one error enum of bountyfleet.
 *
 * Every function that can fail returns a bf_err_t (0 = success), the way
 * curl returns CURLcode. Values are part of the log and metrics vocabulary,
 * so they are never renumbered: new codes go at the end.
 */
#ifndef BF_ERR_H
#define BF_ERR_H

#include <stddef.h>

typedef enum bf_err_e {
    BF_OK = 0,
    BF_ERR_INVALID_ARG = 1,    /* a caller passed something unusable */
    BF_ERR_IO = 2,             /* file or socket error */
    BF_ERR_PARSE = 3,          /* input is not well-formed (JSON, Avro, CSV) */
    BF_ERR_SCHEMA = 4,         /* well-formed but does not fit the schema */
    BF_ERR_TOO_LARGE = 5,      /* input exceeds a configured bound */
    BF_ERR_UTF8 = 6,           /* text is not valid UTF-8 */
    BF_ERR_MISSING_FIELD = 7,  /* a required field is absent or empty */
    BF_ERR_UNKNOWN_SCHEMA = 8, /* unknown fingerprint or schema id */
    BF_ERR_KAFKA = 9,          /* librdkafka reported an error */
    BF_ERR_REDIS = 10,         /* hiredis or the server reported an error */
    BF_ERR_HTTP = 11,          /* libcurl or the peer reported an error */
    BF_ERR_TIMEOUT = 12,       /* a deadline passed */
    BF_ERR_PROVIDER = 13,      /* an AI provider answered with an error */
    BF_ERR_CONFIG = 14,        /* invalid setting */
    BF_ERR_NOT_FOUND = 15,     /* lookup found nothing */
    BF_ERR_BAD_ANSWER = 16,    /* AI answer does not fit the analysis schema */
    BF_ERR_STATE = 17,         /* operation not valid in the current state */
    /* A dependency cannot answer now (unreachable, timing out, 5xx, 429,
     * or failed fast after that): nothing is wrong with the request, so
     * try it again later rather than giving up on it. */
    BF_ERR_UNAVAILABLE = 18,
    /* Not an answer yet: it has been asked for and a callback will
     * announce it (then ask again). */
    BF_ERR_PENDING = 19,
    BF_ERR__COUNT
} bf_err_t;

/**
 * @brief Short, stable, human-readable name of an error code.
 * @returns a static string (never NULL), e.g. "parse error".
 */
const char *bf_err_str(bf_err_t err);

/**
 * @brief Stable machine name of an error code, used in DLQ headers and
 *        metric labels, e.g. "parse".
 * @returns a static string (never NULL).
 */
const char *bf_err_name(bf_err_t err);

/**
 * @brief Write a printf-formatted message into @p errstr (when not NULL
 *        and @p size > 0) and return @p err: `return bf_seterr(...)`.
 */
bf_err_t bf_seterr(bf_err_t err, char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
