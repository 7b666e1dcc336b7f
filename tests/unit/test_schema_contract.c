/*
 * test_schema_contract.c - the rules of schemas/README.md, checked on the
 * schemas themselves so that a change breaking them fails here:
 *
 *   - every record, enum and field has a doc;
 *   - every named type is in namespace bountyfleet.v1;
 *   - an optional field (a union with null) lists null first and defaults
 *     to null;
 *   - the current schema reads every published version kept under
 *     schemas/history/<name>/ (BACKWARD-transitive), and the evolution
 *     fixtures (tests/data: an older and a newer report).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "libbf/codec.h"
#include "libbf/schema.h"

static const char *const names[BF_RECORD__COUNT] = {"report", "validation", "heartbeat",
                                                    "scaling_decision"};

static int has_doc(const json_t *node)
{
    const char *doc = json_string_value(json_object_get(node, "doc"));
    return doc && *doc;
}

/* Walk a type; @p where names it in failure messages. */
static void check_type(const json_t *t, const char *where)
{
    if (json_is_array(t)) { /* union */
        for (size_t i = 0; i < json_array_size(t); i++)
            check_type(json_array_get(t, i), where);
        return;
    }
    if (!json_is_object(t))
        return; /* a primitive or a reference */
    const char *kind = json_string_value(json_object_get(t, "type"));
    if (strcmp(kind, "record") == 0 || strcmp(kind, "enum") == 0) {
        const char *ns = json_string_value(json_object_get(t, "namespace"));
        if (ns && strcmp(ns, "bountyfleet.v1") != 0)
            fail_msg("%s: namespace %s, not bountyfleet.v1", where, ns);
        if (!has_doc(t))
            fail_msg("%s: %s %s has no doc", where, kind,
                     json_string_value(json_object_get(t, "name")));
    }
    if (strcmp(kind, "array") == 0)
        check_type(json_object_get(t, "items"), where);
    if (strcmp(kind, "map") == 0)
        check_type(json_object_get(t, "values"), where);
    if (strcmp(kind, "record") != 0)
        return;
    const json_t *fields = json_object_get(t, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *f = json_array_get(fields, i);
        char here[256];
        snprintf(here, sizeof(here), "%s.%s", where,
                 json_string_value(json_object_get(f, "name")));
        if (!has_doc(f))
            fail_msg("%s: field has no doc", here);
        const json_t *ft = json_object_get(f, "type");
        if (json_is_array(ft) && json_array_size(ft) > 0) {
            int nullable = 0;
            for (size_t k = 0; k < json_array_size(ft); k++)
                nullable |= json_is_string(json_array_get(ft, k)) &&
                            strcmp(json_string_value(json_array_get(ft, k)), "null") == 0;
            if (nullable &&
                (strcmp(json_string_value(json_array_get(ft, 0)), "null") != 0 ||
                 !json_is_null(json_object_get(f, "default"))))
                fail_msg("%s: optional field must be [\"null\", ...] with default null",
                         here);
        }
        check_type(ft, here);
    }
}

static void test_every_type_and_field_is_documented_in_the_fixed_namespace(void **state)
{
    (void)state;
    for (int i = 0; i < BF_RECORD__COUNT; i++) {
        json_t *schema = json_loads(bf_schema_text(names[i]), 0, NULL);
        assert_non_null(schema);
        assert_string_equal(json_string_value(json_object_get(schema, "namespace")),
                            "bountyfleet.v1");
        check_type(schema, names[i]);
        json_decref(schema);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0);
    return text;
}

static void expect_readable(bf_codec_t *codec, bf_record_type_t type, const char *path)
{
    char *text = slurp(path);
    char errstr[256] = "";
    bf_err_t err =
        bf_codec_add_writer_schema(codec, type, text, -1, errstr, sizeof(errstr));
    if (err != BF_OK)
        fail_msg("the current %s schema cannot read %s: %s", names[type], path, errstr);
    free(text);
}

static void test_current_schemas_read_every_published_version(void **state)
{
    (void)state;
    char errstr[256] = "";
    bf_codec_t *codec = bf_codec_new(errstr, sizeof(errstr));
    for (int i = 0; i < BF_RECORD__COUNT; i++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/schemas/history/%s", BF_SOURCE_DIR, names[i]);
        DIR *d = opendir(dir);
        if (!d)
            fail_msg("%s: no history (keep every published version there)", dir);
        int versions = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strstr(e->d_name, ".avsc"))
                continue;
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            expect_readable(codec, (bf_record_type_t)i, path);
            versions++;
        }
        closedir(d);
        assert_true(versions >= 1);
    }
    expect_readable(codec, BF_RECORD_REPORT, BF_SOURCE_DIR "/tests/data/report_v1.avsc");
    expect_readable(codec, BF_RECORD_REPORT,
                    BF_SOURCE_DIR "/tests/data/report_v3_newer.avsc");
    bf_codec_destroy(codec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_and_field_is_documented_in_the_fixed_namespace),
        cmocka_unit_test(test_current_schemas_read_every_published_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
