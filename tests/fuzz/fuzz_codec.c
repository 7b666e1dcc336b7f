/*
 * fuzz_codec.c - framing detection and the Avro/JSON decoders on
 * arbitrary bytes. The first byte picks the record type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "libbf/codec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bf_codec_t *codec;

/* One codec for the whole run, made before libFuzzer starts counting
 * allocations (a lazily made one would look like a leak). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char errstr[256];
    if (!(codec = bf_codec_new(errstr, sizeof(errstr))))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[256];
    if (size < 1)
        return 0;
    bf_record_type_t type = (bf_record_type_t)(data[0] % BF_RECORD__COUNT);
    json_t *obj = NULL;
    bf_framing_t framing;
    if (bf_codec_decode(codec, type, data + 1, size - 1, &obj, &framing, errstr,
                        sizeof(errstr)) == BF_OK) {
        /* What decodes must encode again in every framing but Confluent
         * (which needs a registered id). */
        bf_buf_t out;
        bf_buf_init(&out, 16 * 1024 * 1024);
        if (bf_codec_encode(codec, type, obj, BF_FRAMING_SINGLE_OBJECT, &out, errstr,
                            sizeof(errstr)) != BF_OK)
            abort();
        bf_buf_free(&out);
        json_decref(obj);
    }
    return 0;
}
