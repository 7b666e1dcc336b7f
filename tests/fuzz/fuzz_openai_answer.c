/*
 * fuzz_openai_answer.c - the AI provider response parser on arbitrary
 * bodies. The first byte picks the analysis kind.
 */
#include <stddef.h>
#include <stdint.h>

#include "worker/analysis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bf_analysis_kind_t kind = (bf_analysis_kind_t)(data[0] % BF_ANALYSIS__COUNT);
    bf_verdict_t v = {0};
    char errstr[256];
    if (bf_analysis_parse_openai(kind, (const char *)data + 1, size - 1, &v, errstr,
                                 sizeof(errstr)) == BF_OK)
        bf_verdict_clear(&v);
    return 0;
}
