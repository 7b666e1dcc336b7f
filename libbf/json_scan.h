/*
 * json_scan.h - read a few values out of a JSON text without building it.
 *
 * The worker reads three provider responses per report, and of each it
 * needs a handful of members (the answer's text, the token counts, the
 * model). jansson builds every value of the whole response, with an
 * allocation each, to be thrown away at once: 17% of the worker's
 * instructions at 0 ms AI latency (callgrind, BENCHMARKS.md). A scan
 * checks the whole text once, then finds members by skipping over what is
 * not wanted, and copies only the strings and numbers asked for.
 *
 * It accepts exactly what jansson's json_loadb(text, len, 0, ...) accepts
 * (RFC 8259 plus jansson's own limits): an object or array at the top,
 * nothing but white space after it, valid UTF-8, no "\u0000", no lone
 * surrogate escape, integers that fit a long long and reals that do not
 * overflow, at most 2048 levels of nesting. Where an object has a name
 * twice, the last one counts, as in jansson. In one place the scan is
 * stricter: jansson drops a NUL byte that follows a number or a literal
 * ("[1\0]" loads as [1], a quirk of its stream reader), which the scan
 * refuses. tests/fuzz/fuzz_json_scan checks the equivalence against
 * jansson on every input it makes.
 *
 * Pure functions over borrowed text; any thread.
 */
#ifndef BF_JSON_SCAN_H
#define BF_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum bf_json_kind_e {
    BF_JSON_NONE = 0, /* no such value */
    BF_JSON_OBJECT,
    BF_JSON_ARRAY,
    BF_JSON_STRING,
    BF_JSON_INTEGER,
    BF_JSON_REAL,
    BF_JSON_TRUE,
    BF_JSON_FALSE,
    BF_JSON_NULL,
} bf_json_kind_t;

/** One value of a checked text: where it starts and ends (borrowed). */
typedef struct bf_json_view_s {
    bf_json_kind_t kind;
    const char *start; /* the value's first byte ('{', '"', a digit, ...) */
    const char *end;   /* one past its last byte */
} bf_json_view_t;

/**
 * @brief Check @p len bytes of @p text as jansson's json_loadb() would.
 * @param root on success the top-level object or array
 * @returns true when the text is JSON jansson accepts.
 */
bool bf_json_scan(const char *text, size_t len, bf_json_view_t *root);

/**
 * @brief Member @p name of the object @p obj (the last one of that name),
 *        or a view of kind BF_JSON_NONE when @p obj is not an object or has
 *        no such member. @p obj must come from bf_json_scan() or these
 *        functions.
 */
bf_json_view_t bf_json_member(bf_json_view_t obj, const char *name);

/** @brief Element @p index of the array @p arr, or BF_JSON_NONE. */
bf_json_view_t bf_json_element(bf_json_view_t arr, size_t index);

/**
 * @brief The text of a string value, unescaped, into @p buf (NUL-terminated;
 *        at most @p size - 1 bytes are written).
 * @returns the string's full length in bytes (which may exceed what fit),
 *          or (size_t)-1 when @p v is not a string.
 */
size_t bf_json_string(bf_json_view_t v, char *buf, size_t size);

/** A place in an object or array, for bf_json_next(); zero it to start. */
typedef struct bf_json_iter_s {
    const char *p;
} bf_json_iter_t;

/**
 * @brief The next member of the object (its name in @p key, a string view)
 *        or element of the array @p c (@p key may be NULL then), in order.
 * @returns false after the last one (or when @p c is neither).
 */
bool bf_json_next(bf_json_view_t c, bf_json_iter_t *it, bf_json_view_t *key,
                  bf_json_view_t *value);

/** @brief An integer value, as jansson's json_integer_value(): 0 otherwise. */
long long bf_json_integer(bf_json_view_t v);

/** @brief An integer or real value as a double (json_number_value()). */
double bf_json_number(bf_json_view_t v);

/**
 * @brief The jansson value of @p v (from bf_json_scan()), as json_loadb()
 *        builds it from the same text with @p flags 0 (the last of a
 *        repeated name counts) or JSON_REJECT_DUPLICATES.
 * @returns a new reference; NULL when JSON_REJECT_DUPLICATES meets a name
 *          twice (load the text with jansson for its message) or on
 *          allocation failure.
 */
json_t *bf_json_to_jansson(bf_json_view_t v, size_t flags);

/**
 * @brief json_loadb(text, len, flags, error), about three times faster for
 *        flags 0 or JSON_REJECT_DUPLICATES: the scan checks the text and
 *        the values are built from it (jansson's reader takes a byte at a
 *        time). Whatever the scan refuses, a text nested deeper than 32
 *        levels (building walks a container once per level), and other
 *        flags go to jansson, so the result and the error are jansson's;
 *        @p error is written only when the result is NULL.
 */
json_t *bf_json_load(const char *text, size_t len, size_t flags, json_error_t *error);

#endif
