/*
 * fuzz_ai_answer.c - the AI providers' response parsers (OpenAI Chat
 * Completions, Anthropic Messages, Gemini generateContent) on arbitrary
 * bodies: the answer check and the usage-only path for rejected answers.
 * The first byte picks the provider and the analysis kind.
 */
#include <stddef.h>
#include <stdint.h>

#include "worker/ai_provider.h"
#include "worker/analysis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bf_ai_provider_t p = (bf_ai_provider_t)((data[0] >> 4) % BF_AI__COUNT);
    bf_analysis_kind_t kind = (bf_analysis_kind_t)((data[0] & 0x0f) % BF_ANALYSIS__COUNT);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    bf_verdict_t v = {0};
    char errstr[256];
    if (bf_ai_response_parse(p, kind, body, len, &v, errstr, sizeof(errstr)) == BF_OK)
        bf_verdict_clear(&v);
    bf_verdict_t u = {0};
    bf_ai_usage_parse(p, body, len, &u);
    bf_verdict_clear(&u);
    return 0;
}
