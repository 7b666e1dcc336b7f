/*
 * fuzz_json_scan.c - libbf/json_scan.h against jansson on arbitrary text:
 * the scan accepts exactly what json_loadb() accepts, and finds the values
 * jansson builds (json_scan_check.h). A disagreement aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_scan_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = json_scan_agrees((const char *)data, size);
    if (why) {
        fprintf(stderr, "json_scan disagrees with jansson: %s\n", why);
        abort();
    }
    return 0;
}
