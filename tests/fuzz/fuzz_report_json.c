/*
 * fuzz_report_json.c - the JSON report parser and validator
 * (bf_report_from_json) on arbitrary text, and its round trip.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "libbf/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!obj)
        return 0;
    bf_report_t *r = NULL;
    char errstr[256];
    if (bf_report_from_json(obj, &r, errstr, sizeof(errstr)) == BF_OK) {
        json_t *back = bf_report_to_json(r);
        bf_report_t *again = NULL;
        /* What we accepted and wrote back must be accepted again. */
        if (bf_report_from_json(back, &again, errstr, sizeof(errstr)) != BF_OK)
            abort();
        bf_report_destroy(again);
        json_decref(back);
        bf_report_destroy(r);
    }
    json_decref(obj);
    return 0;
}
