/*
 * capture.c - stderr into a temp file, read back as JSON lines (see
 * capture.h).
 */
#include "support/capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libbf/mem.h"
#include "support/stack.h"

int bf_test_capture_start(bf_test_capture_t *c)
{
    c->saved_fd = c->fd = -1;
    snprintf(c->path, sizeof(c->path), "/tmp/bftest-stderr.XXXXXX");
    fflush(stderr);
    if ((c->fd = mkstemp(c->path)) < 0 || (c->saved_fd = dup(2)) < 0 ||
        dup2(c->fd, 2) < 0) {
        perror("capturing stderr");
        if (c->fd >= 0) {
            close(c->fd);
            unlink(c->path);
        }
        if (c->saved_fd >= 0)
            close(c->saved_fd);
        c->saved_fd = c->fd = -1;
        return -1;
    }
    return 0;
}

char *bf_test_capture_text(const bf_test_capture_t *c)
{
    struct stat st;
    if (c->fd < 0 || fstat(c->fd, &st) != 0)
        return bf_strdup("");
    size_t size = (size_t)st.st_size;
    char *text = bf_malloc(size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(c->fd, text + got, size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    text[got] = '\0';
    return text;
}

void bf_test_capture_clear(bf_test_capture_t *c)
{
    fflush(stderr);
    /* Descriptor 2 shares the file offset with c->fd (dup2): rewinding one
     * rewinds both, so the next line does not land past a hole. */
    if (c->fd >= 0 && (ftruncate(c->fd, 0) != 0 || lseek(c->fd, 0, SEEK_SET) != 0))
        perror("clearing the stderr capture");
}

void bf_test_capture_stop(bf_test_capture_t *c, bool dump)
{
    if (c->saved_fd < 0)
        return;
    fflush(stderr);
    char *text = dump ? bf_test_capture_text(c) : NULL;
    dup2(c->saved_fd, 2);
    close(c->saved_fd);
    close(c->fd);
    unlink(c->path);
    c->saved_fd = c->fd = -1;
    if (text) {
        fprintf(stderr, "---- captured stderr ----\n%s---- end of captured stderr ----\n",
                text);
        free(text);
    }
}

json_t *bf_test_log_lines(const char *text, const char *event, size_t *not_json)
{
    json_t *lines = json_array();
    size_t bad = 0;
    for (const char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (!json_is_object(o)) {
            bad++;
        } else if (!event || strcmp(json_string_value(json_object_get(o, "event")) ?: "",
                                    event) == 0) {
            json_array_append(lines, o);
        }
        json_decref(o);
    }
    if (not_json)
        *not_json = bad;
    return lines;
}

json_t *bf_test_capture_wait(const bf_test_capture_t *c, const char *event, size_t n,
                             double timeout_s)
{
    double deadline = bf_test_now() + timeout_s * bf_test_timeout_mult();
    for (;;) {
        char *text = bf_test_capture_text(c);
        json_t *lines = bf_test_log_lines(text, event, NULL);
        free(text);
        if (json_array_size(lines) >= n || bf_test_now() > deadline)
            return lines;
        json_decref(lines);
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    }
}
