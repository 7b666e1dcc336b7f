/*
 * make_seeds.c - writes seed inputs for fuzz_codec and fuzz_report_json
 * from the first reports of ops/demo-data/sample-reports.jsonl:
 *
 *   fuzz_make_seeds SAMPLE.jsonl CORPUS_DIR [N]
 *
 * Each report becomes a JSON seed and, for the codec, a record-type byte
 * followed by the report in each framing (single-object, Confluent id 1,
 * JSON).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libbf/buf.h"
#include "libbf/codec.h"

static void write_file(const char *dir, const char *sub, const char *name, int i,
                       const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s-%d", dir, sub, name, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_make_seeds SAMPLE.jsonl CORPUS_DIR [N]\n");
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 4;
    char errstr[256];
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    if (!codec) {
        fprintf(stderr, "codec: %s\n", errstr);
        return 1;
    }
    bf_codec_set_confluent_id(codec, BF_RECORD_REPORT, 1);
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    static const struct {
        bf_framing_t framing;
        const char *name;
    } framings[] = {{BF_FRAMING_SINGLE_OBJECT, "single-object"},
                    {BF_FRAMING_CONFLUENT, "confluent"},
                    {BF_FRAMING_JSON, "json"}};
    for (int i = 0; i < n && getline(&line, &cap, in) > 0; i++) {
        write_file(argv[2], "report_json", "report", i, line, strlen(line));
        json_t *obj = json_loads(line, 0, NULL);
        if (!obj)
            continue;
        for (size_t f = 0; f < sizeof(framings) / sizeof(framings[0]); f++) {
            bf_buf_t out;
            bf_buf_init(&out, 1 << 24);
            bf_buf_append(&out, "\0", 1); /* record type: report */
            if (bf_codec_encode(codec, BF_RECORD_REPORT, obj, framings[f].framing, &out,
                                errstr, sizeof(errstr)) == BF_OK)
                write_file(argv[2], "codec", framings[f].name, i, out.data, out.len);
            bf_buf_free(&out);
        }
        json_decref(obj);
    }
    free(line);
    fclose(in);
    bf_codec_destroy(codec);
    return 0;
}
