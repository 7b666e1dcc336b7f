/*
 * fuzz_ai_stream.c - the server-sent-events parser and each provider's
 * stream assembly on arbitrary bytes, fed in chunks whose sizes come from
 * the input, then the assembled body through the response parser. The
 * first byte picks the provider, the analysis kind and the chunk size.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "worker/ai_provider.h"
#include "worker/ai_stream.h"
#include "worker/analysis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bf_ai_provider_t p = (bf_ai_provider_t)((data[0] >> 6) % BF_AI__COUNT);
    bf_analysis_kind_t kind =
        (bf_analysis_kind_t)(((data[0] >> 4) & 3) % BF_ANALYSIS__COUNT);
    size_t chunk = (size_t)(data[0] & 0x0f) + 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    bf_ai_stream_t s;
    bf_ai_stream_init(&s, p, NULL, NULL);
    bf_err_t err = BF_OK;
    for (size_t off = 0; off < len && err == BF_OK; off += chunk)
        err = bf_ai_stream_feed(&s, body + off, len - off < chunk ? len - off : chunk);
    if (err == BF_OK) {
        size_t blen = 0;
        char *assembled = bf_ai_stream_body(&s, &blen);
        bf_verdict_t v = {0};
        char errstr[256];
        if (bf_ai_response_parse(p, kind, assembled, blen, &v, errstr, sizeof(errstr)) ==
            BF_OK)
            bf_verdict_clear(&v);
        free(assembled);
    }
    bf_ai_stream_free(&s);
    return 0;
}
