/*
 * hex.h - bytes as lower-case hexadecimal text (digests, script SHAs,
 * hash values in Redis field names).
 *
 * @locality any thread; pure.
 */
#ifndef BF_HEX_H
#define BF_HEX_H

#include <stddef.h>

/**
 * @brief Write the @p n bytes at @p in as 2 * n lower-case hex digits,
 *        first byte first, and a NUL.
 * @param out room for 2 * n + 1 bytes (the caller's)
 * @returns the NUL's address (out + 2 * n).
 */
char *bf_hex_encode(const void *in, size_t n, char *out);

#endif
