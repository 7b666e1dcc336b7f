/*
 * test_buf.c - the bounded growable buffer (libbf/buf.c).
 *
 * What matters is the bound: input from outside can fill a buffer up to
 * its maximum and not one byte more, and a refused append leaves what was
 * there untouched, so a caller can report the error and still use it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libbf/buf.h"

static void test_new_buffer_is_empty(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 100);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 100);
    /* Stealing from an empty buffer still gives a string to free. */
    size_t len = 99;
    char *s = bf_buf_steal(&b, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    bf_buf_free(&b);
    bf_buf_free(NULL);
}

static void test_appends_grow_and_keep_content(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(bf_buf_append(&b, "0123456789", 10), BF_OK);
    assert_int_equal(b.len, 10000);
    assert_true(b.cap >= b.len + 1);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(b.data[i], '0' + (int)(i % 10));
    assert_int_equal(b.data[b.len], '\0');
    bf_buf_free(&b);
}

static void test_append_keeps_binary_and_terminates(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 64);
    assert_int_equal(bf_buf_append(&b, "a\0b", 3), BF_OK);
    assert_int_equal(bf_buf_append(&b, "", 0), BF_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4); /* plus the terminator */
    bf_buf_free(&b);
}

/* One step of a story: append n bytes, expecting want. */
typedef struct step_s {
    size_t n;
    bf_err_t want;
} step_t;

static void test_maximum_is_enforced_and_leaves_content_unchanged(void **unused)
{
    (void)unused;
    static const struct {
        const char *name;
        size_t max;
        size_t n_steps;
        step_t steps[3];
        size_t final_len;
    } stories[] = {
        {"fill exactly", 16, 3, {{10, BF_OK}, {6, BF_OK}, {1, BF_ERR_TOO_LARGE}}, 16},
        {"one too many", 16, 3, {{10, BF_OK}, {7, BF_ERR_TOO_LARGE}, {6, BF_OK}}, 16},
        {"too large at once", 16, 2, {{17, BF_ERR_TOO_LARGE}, {16, BF_OK}}, 16},
        {"huge length", 16, 2, {{4, BF_OK}, {SIZE_MAX, BF_ERR_TOO_LARGE}}, 4},
        {"zero maximum", 0, 2, {{1, BF_ERR_TOO_LARGE}, {0, BF_OK}}, 0},
        {"past first allocation",
         1000,
         3,
         {{63, BF_OK}, {937, BF_OK}, {1, BF_ERR_TOO_LARGE}},
         1000},
    };
    char *bytes = malloc(1000);
    for (size_t s = 0; s < sizeof(stories) / sizeof(stories[0]); s++) {
        bf_buf_t b;
        bf_buf_init(&b, stories[s].max);
        for (size_t i = 0; i < stories[s].n_steps; i++) {
            const step_t *st = &stories[s].steps[i];
            size_t before = b.len;
            char *copy = before ? malloc(before) : NULL;
            if (before)
                memcpy(copy, b.data, before);
            /* Each step writes its own byte, so a partial write would show. */
            memset(bytes, 'a' + (int)i, 1000);
            bf_err_t err = bf_buf_append(&b, bytes, st->n);
            if (err != st->want)
                fail_msg("%s, step %zu: got %s", stories[s].name, i, bf_err_str(err));
            if (err) {
                assert_int_equal(b.len, before);
                if (before) {
                    assert_memory_equal(b.data, copy, before);
                    assert_int_equal(b.data[before], '\0');
                }
            }
            free(copy);
        }
        assert_int_equal(b.len, stories[s].final_len);
        assert_true(b.len <= b.max);
        bf_buf_free(&b);
    }
    free(bytes);
}

static void test_puts_and_printf_append_text(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 64);
    assert_int_equal(bf_buf_puts(&b, "count="), BF_OK);
    assert_int_equal(bf_buf_printf(&b, "%d, name=%s", 42, "w1"), BF_OK);
    assert_string_equal(b.data, "count=42, name=w1");
    assert_int_equal(b.len, strlen("count=42, name=w1"));
    bf_buf_free(&b);
}

static void test_printf_past_maximum_leaves_content_unchanged(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 10);
    assert_int_equal(bf_buf_printf(&b, "%s", "12345"), BF_OK);
    assert_int_equal(bf_buf_printf(&b, "%d", 123456), BF_ERR_TOO_LARGE);
    assert_string_equal(b.data, "12345");
    assert_int_equal(b.len, 5);
    /* Exactly up to the maximum is fine. */
    assert_int_equal(bf_buf_printf(&b, "%05d", 7), BF_OK);
    assert_string_equal(b.data, "1234500007");
    assert_int_equal(bf_buf_puts(&b, "x"), BF_ERR_TOO_LARGE);
    assert_string_equal(b.data, "1234500007");
    bf_buf_free(&b);
}

static void test_printf_of_nothing_gives_empty_string(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 10);
    assert_int_equal(bf_buf_printf(&b, "%s", ""), BF_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    bf_buf_free(&b);
}

static void test_steal_hands_over_content_and_empties_buffer(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 32);
    assert_int_equal(bf_buf_puts(&b, "first"), BF_OK);
    size_t len = 0;
    char *s = bf_buf_steal(&b, &len);
    assert_string_equal(s, "first");
    assert_int_equal(len, 5);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 32);
    /* The buffer is reusable, and independent of what was stolen. */
    assert_int_equal(bf_buf_puts(&b, "second"), BF_OK);
    assert_string_equal(b.data, "second");
    assert_string_equal(s, "first");
    free(s);
    s = bf_buf_steal(&b, NULL);
    assert_string_equal(s, "second");
    free(s);
}

static void test_reset_keeps_allocation(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 1024);
    assert_int_equal(bf_buf_puts(&b, "some content"), BF_OK);
    char *data = b.data;
    size_t cap = b.cap;
    bf_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "");
    assert_int_equal(bf_buf_puts(&b, "new"), BF_OK);
    assert_string_equal(b.data, "new");
    bf_buf_free(&b);
    /* Resetting a buffer that never allocated is harmless. */
    bf_buf_init(&b, 8);
    bf_buf_reset(&b);
    assert_null(b.data);
}

static void test_free_keeps_maximum(void **unused)
{
    (void)unused;
    bf_buf_t b;
    bf_buf_init(&b, 4);
    assert_int_equal(bf_buf_puts(&b, "abcd"), BF_OK);
    bf_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(bf_buf_puts(&b, "abcde"), BF_ERR_TOO_LARGE);
    assert_int_equal(bf_buf_puts(&b, "wxyz"), BF_OK);
    assert_string_equal(b.data, "wxyz");
    bf_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_buffer_is_empty),
        cmocka_unit_test(test_appends_grow_and_keep_content),
        cmocka_unit_test(test_append_keeps_binary_and_terminates),
        cmocka_unit_test(test_maximum_is_enforced_and_leaves_content_unchanged),
        cmocka_unit_test(test_puts_and_printf_append_text),
        cmocka_unit_test(test_printf_past_maximum_leaves_content_unchanged),
        cmocka_unit_test(test_printf_of_nothing_gives_empty_string),
        cmocka_unit_test(test_steal_hands_over_content_and_empties_buffer),
        cmocka_unit_test(test_reset_keeps_allocation),
        cmocka_unit_test(test_free_keeps_maximum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
