/*
 * fuzz_registry.c - the Schema Registry's answers (libbf/registry_answer.h)
 * on arbitrary bodies: the first byte picks the request the body answers
 * (register, schema by id, versions of a subject, one version) and the
 * HTTP status class; a 2xx body goes through the answer parser, any other
 * through the error-body description the client logs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/registry_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bf_registry_call_t call = (bf_registry_call_t)(data[0] % BF_REGISTRY_CALL__COUNT);
    static const long statuses[] = {200, 404, 409, 422, 500, 503, 429, 302};
    long status = statuses[(data[0] >> 4) % (sizeof(statuses) / sizeof(statuses[0]))];
    /* An exact-size copy, so that reading past the body is caught. */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body)
        abort();
    memcpy(body, data + 1, len);
    char errstr[256];
    if (status < 300) {
        bf_registry_answer_t a;
        if (bf_registry_answer_parse(call, body, len, &a, errstr, sizeof(errstr)) ==
            BF_OK) {
            /* What was accepted is within the documented bounds. */
            if (a.id < 0 || a.n_versions > BF_REGISTRY_MAX_VERSIONS ||
                ((call == BF_REGISTRY_CALL_SCHEMA_BY_ID ||
                  call == BF_REGISTRY_CALL_VERSION) &&
                 !a.schema))
                abort();
            for (size_t i = 0; i < a.n_versions; i++)
                if (a.version[i] < 0)
                    abort();
        }
        bf_registry_answer_free(&a);
    } else {
        char why[320];
        bf_registry_error_describe(body, len, status, why, sizeof(why));
        if (strlen(why) >= sizeof(why))
            abort();
    }
    free(body);
    return 0;
}
