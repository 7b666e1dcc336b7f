/*
 * fuzz_properties.c - the -F properties-file parser and -X key=value on
 * arbitrary bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libbf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("props", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    char errstr[256];
    bf_kprops_t props = {0};
    bf_kprops_load_file(&props, path, errstr, sizeof(errstr));
    char *kv = strndup((const char *)data, size);
    bf_kprops_add_kv(&props, kv, errstr, sizeof(errstr));
    free(kv);
    bf_kprops_free(&props);
    return 0;
}
