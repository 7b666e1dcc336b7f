/*
 * capture.h - test support: what the code under test writes to stderr
 * (libbf/log.h's JSON lines), caught in a temp file that a test can read
 * while it is still being written, and the lines as jansson objects.
 *
 * The capture replaces descriptor 2 for the whole process, so the lines
 * of every thread land in it (a control loop in a thread of its own,
 * librdkafka's callbacks), and so do cmocka's failure messages: stop with
 * @p dump when the test failed to see them.
 */
#ifndef BF_TEST_CAPTURE_H
#define BF_TEST_CAPTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct bf_test_capture_s {
    int saved_fd; /* the real stderr while capturing, else -1 */
    int fd;       /* the temp file, else -1 */
    char path[64];
} bf_test_capture_t;

/** @brief Send stderr to a new temp file. @returns 0, or -1 with a message. */
int bf_test_capture_start(bf_test_capture_t *c);

/** @brief Everything written so far, NUL-terminated (caller frees). */
char *bf_test_capture_text(const bf_test_capture_t *c);

/** @brief Forget what was captured so far (the next text starts empty). */
void bf_test_capture_clear(bf_test_capture_t *c);

/** @brief Give stderr back and remove the file; with @p dump, first copy
 *         what was captured to the real stderr. Safe to call twice. */
void bf_test_capture_stop(bf_test_capture_t *c, bool dump);

/**
 * @brief The whole lines of @p text (a last line without its newline is
 *        still being written, and left out) parsed as JSON objects, in
 *        order; with @p event not NULL, only those whose "event" is it.
 * @param not_json receives the number of whole lines that are not a JSON
 *        object (may be NULL)
 * @returns a new array.
 */
json_t *bf_test_log_lines(const char *text, const char *event, size_t *not_json);

/**
 * @brief Wait until the capture holds @p n lines of @p event, or
 *        @p timeout_s (times the timeout multiplier) passed.
 * @returns a new array of those lines (fewer than @p n on a timeout).
 */
json_t *bf_test_capture_wait(const bf_test_capture_t *c, const char *event, size_t n,
                             double timeout_s);

#endif
