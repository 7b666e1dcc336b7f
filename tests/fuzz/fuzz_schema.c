/*
 * fuzz_schema.c - Parsing Canonical Form of arbitrary schema text (what a
 * schema registry answers) and adding it as a writer schema.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/codec.h"
#include "libbf/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[256];
    /* A fresh codec per input: writer schemas accumulate in a codec. */
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    if (!codec)
        abort();
    char *text = strndup((const char *)data, size);
    char *pcf = NULL;
    if (bf_schema_canonical_form(text, &pcf, errstr, sizeof(errstr)) == BF_OK) {
        /* The canonical form is a fixed point. */
        char *again = NULL;
        if (bf_schema_canonical_form(pcf, &again, errstr, sizeof(errstr)) != BF_OK ||
            strcmp(pcf, again) != 0)
            abort();
        free(again);
        free(pcf);
    }
    bf_codec_add_writer_schema(codec, BF_RECORD_REPORT, text, -1, errstr, sizeof(errstr));
    free(text);
    bf_codec_destroy(codec);
    return 0;
}
