/*
 * test_mem.c - the one out-of-memory policy (libbf/mem.c): the wrappers,
 * jansson allocating through them, and an allocation that fails aborting
 * with one log line instead of returning NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "libbf/mem.h"

static void test_wrappers_copy_and_format(void **unused)
{
    (void)unused;
    char *s = bf_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    assert_null(bf_strdup(NULL));
    s = bf_asprintf("%s-%d", "w", 7);
    assert_string_equal(s, "w-7");
    free(s);
    unsigned char *z = bf_calloc(16, 4);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    z = bf_realloc(z, 4096);
    free(z);
    free(bf_malloc(0)); /* a valid pointer, not NULL */
}

/* jansson's allocations go through bf_malloc, so their results need no
 * NULL check (json_object() and friends only fail for memory). */
static void test_jansson_allocates_through_libbf(void **unused)
{
    (void)unused;
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    assert_non_null(m);
    assert_true(m != malloc);
    json_t *o = json_pack("{s:[i,s]}", "k", 1, "v");
    assert_non_null(o);
    char *text = json_dumps(o, JSON_COMPACT);
    assert_string_equal(text, "{\"k\":[1,\"v\"]}");
    f(text);
    json_decref(o);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void test_failed_allocation_aborts_with_a_log_line(void **unused)
{
    (void)unused;
#ifdef UNDER_ASAN
    skip(); /* AddressSanitizer reports an impossible size itself */
#else
    int err[2];
    assert_int_equal(pipe(err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        volatile size_t huge = SIZE_MAX / 2;
        void *p = bf_malloc(huge);
        _exit(p ? 0 : 1); /* neither: it aborts */
    }
    close(err[1]);
    char out[512] = "";
    ssize_t n = read(err[0], out, sizeof(out) - 1);
    out[n > 0 ? n : 0] = '\0';
    close(err[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    assert_non_null(strstr(out, "\"event\":\"out_of_memory\""));
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrappers_copy_and_format),
        cmocka_unit_test(test_jansson_allocates_through_libbf),
        cmocka_unit_test(test_failed_allocation_aborts_with_a_log_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
