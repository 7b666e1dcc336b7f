/*
 * config.c - table-driven settings (see config.h).
 *
 * Order of precedence: flags, then environment, then the table's default.
 * We apply defaults first, then the environment, then flags, each
 * overwriting the last, so the precedence falls out of the order of writes.
 *
 * Secrets (BF_OPT_SECRET) are read only from the environment, either NAME
 * or NAME_FILE (a path whose content, minus a trailing newline, is the
 * secret), the convention of Docker and Kubernetes secrets. A secret given
 * as a flag is refused, because argv is visible to every local user (ps).
 */
#include "libbf/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libbf/mem.h"

#ifndef BF_VERSION
#define BF_VERSION "0.0.0"
#endif

const char *bf_version(void)
{
    return BF_VERSION;
}

/* Largest secret or properties file we read: far above any real key. */
#define MAX_SMALL_FILE (64 * 1024)

static bf_err_t read_small_file(const char *path, char **out, char *errstr, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return bf_seterr(BF_ERR_IO, errstr, size, "cannot open %s: %s", path,
                         strerror(errno));
    }
    char *data = bf_malloc(MAX_SMALL_FILE + 1);
    size_t n = fread(data, 1, MAX_SMALL_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > MAX_SMALL_FILE) {
        free(data);
        bf_seterr(BF_ERR_CONFIG, errstr, size, "cannot read %s: %s", path,
                  bad ? "read error" : "file larger than 64 KiB");
        return bad ? BF_ERR_IO : BF_ERR_TOO_LARGE;
    }
    data[n] = '\0';
    *out = data;
    return BF_OK;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* The index of @p value among @p choices (aliases after '|'), or -1. */
static int choice_index(const char *const *choices, const char *value)
{
    for (int i = 0; choices && choices[i]; i++) {
        for (const char *p = choices[i]; *p;) {
            size_t n = strcspn(p, "|");
            if (strlen(value) == n && strncasecmp(p, value, n) == 0)
                return i;
            p += n + (p[n] == '|');
        }
    }
    return -1;
}

/* The choices' first names joined by @p sep into @p out. */
static void choice_list(const char *const *choices, const char *sep, char *out,
                        size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; choices && choices[i] && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%.*s", i ? sep : "",
                                 (int)strcspn(choices[i], "|"), choices[i]);
}

/* Store the textual @p value into the field described by @p o; @p source
 * names where it came from for the error message. */
static bf_err_t store(const bf_opt_t *o, void *cfg, const char *value, const char *source,
                      char *errstr, size_t size)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case BF_OPT_STRING:
    case BF_OPT_SECRET: {
        char **dst = (char **)field;
        free(*dst);
        *dst = value ? bf_strdup(value) : NULL;
        return BF_OK;
    }
    case BF_OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            return bf_seterr(BF_ERR_CONFIG, errstr, size, "%s: '%s' is not an integer",
                             source, value);
        }
        if (o->min <= o->max && ((double)v < o->min || (double)v > o->max)) {
            return bf_seterr(BF_ERR_CONFIG, errstr, size,
                             "%s: %lld is out of range [%.0f, %.0f]", source, v, o->min,
                             o->max);
        }
        *(int64_t *)field = v;
        return BF_OK;
    }
    case BF_OPT_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v)) {
            return bf_seterr(BF_ERR_CONFIG, errstr, size, "%s: '%s' is not a number",
                             source, value);
        }
        if (o->min <= o->max && (v < o->min || v > o->max)) {
            return bf_seterr(BF_ERR_CONFIG, errstr, size,
                             "%s: %g is out of range [%g, %g]", source, v, o->min,
                             o->max);
        }
        *(double *)field = v;
        return BF_OK;
    }
    case BF_OPT_ENUM: {
        int index = choice_index(o->choices, value);
        if (index < 0) {
            char names[256];
            choice_list(o->choices, ", ", names, sizeof(names));
            return bf_seterr(BF_ERR_CONFIG, errstr, size, "%s: '%s' is not one of %s",
                             source, value, names);
        }
        *(int *)field = index;
        return BF_OK;
    }
    case BF_OPT_BOOL: {
        bool b;
        if (!parse_bool(value, &b)) {
            return bf_seterr(BF_ERR_CONFIG, errstr, size,
                             "%s: '%s' is not a boolean (true/false)", source, value);
        }
        *(bool *)field = b;
        return BF_OK;
    }
    }
    return BF_ERR_CONFIG;
}

static bf_err_t apply_env(const bf_opt_t *o, void *cfg, char *errstr, size_t size)
{
    if (!o->env)
        return BF_OK;
    const char *v = getenv(o->env);
    if (v && *v) {
        char source[128];
        snprintf(source, sizeof(source), "environment %s", o->env);
        return store(o, cfg, v, source, errstr, size);
    }
    if (o->type != BF_OPT_SECRET)
        return BF_OK;
    char fname[128];
    snprintf(fname, sizeof(fname), "%s_FILE", o->env);
    const char *path = getenv(fname);
    if (!path || !*path)
        return BF_OK;
    char *data;
    bf_err_t err = read_small_file(path, &data, errstr, size);
    if (err)
        return err;
    size_t n = strlen(data);
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        data[--n] = '\0';
    err = store(o, cfg, data, fname, errstr, size);
    free(data);
    return err;
}

static const bf_opt_t *find_long(const bf_cli_t *cli, const char *name, size_t len)
{
    for (size_t i = 0; i < cli->n_opts; i++) {
        const bf_opt_t *o = &cli->opts[i];
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static const bf_opt_t *find_short(const bf_cli_t *cli, char c)
{
    for (size_t i = 0; i < cli->n_opts; i++)
        if (cli->opts[i].short_name && cli->opts[i].short_name == c)
            return &cli->opts[i];
    return NULL;
}

static const char *type_metavar(const bf_opt_t *o, char *buf, size_t size)
{
    if (o->metavar)
        return o->metavar;
    switch (o->type) {
    case BF_OPT_INT:
        return "N";
    case BF_OPT_DOUBLE:
        return "X";
    case BF_OPT_ENUM:
        choice_list(o->choices, "|", buf, size);
        return buf;
    default:
        return "VALUE";
    }
}

static void print_help(const bf_cli_t *cli, FILE *out)
{
    fprintf(out, "Usage: %s %s\n\n%s\n\nOptions:\n", cli->program,
            cli->usage ? cli->usage : "[OPTIONS]", cli->summary);
    for (size_t i = 0; i < cli->n_opts; i++) {
        const bf_opt_t *o = &cli->opts[i];
        char left[128], metavar[96];
        if (o->type == BF_OPT_SECRET) {
            snprintf(left, sizeof(left), "  (env only)");
        } else if (o->type == BF_OPT_BOOL) {
            snprintf(left, sizeof(left), "  %s%c%s--%s", o->short_name ? "-" : "",
                     o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ",
                     o->name);
        } else {
            snprintf(left, sizeof(left), "  %s%c%s--%s %s", o->short_name ? "-" : "",
                     o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ",
                     o->name, type_metavar(o, metavar, sizeof(metavar)));
        }
        if (strlen(left) > 34) /* a long metavar: the help goes on its own line */
            fprintf(out, "%s\n%-34s %s", left, "", o->help);
        else
            fprintf(out, "%-34s %s", left, o->help);
        if (o->env)
            fprintf(out, " [env %s%s]", o->env,
                    o->type == BF_OPT_SECRET ? " or _FILE" : "");
        if (o->default_value)
            fprintf(out, " (default: %s)", o->default_value);
        fputc('\n', out);
    }
    if (cli->kafka_props) {
        fprintf(out, "%-34s %s\n", "  -X KEY=VALUE",
                "librdkafka property, passed through (repeatable)");
        fprintf(out, "%-34s %s\n", "  -F FILE", "read librdkafka properties from a file");
    }
    fprintf(out, "%-34s %s\n", "  -h, --help", "show this help and exit");
    fprintf(out, "%-34s %s\n", "  -V, --version", "show the version and exit");
}

static void print_markdown(const bf_cli_t *cli, FILE *out)
{
    fprintf(out,
            "## %s\n\n%s\n\n| flag | environment | type | default | range | meaning |\n"
            "|---|---|---|---|---|---|\n",
            cli->program, cli->summary);
    static const char *const tnames[] = {"string",  "integer", "number",
                                         "boolean", "secret",  "one of"};
    for (size_t i = 0; i < cli->n_opts; i++) {
        const bf_opt_t *o = &cli->opts[i];
        char range[256] = "";
        if ((o->type == BF_OPT_INT || o->type == BF_OPT_DOUBLE) && o->min <= o->max)
            snprintf(range, sizeof(range), "%g..%g", o->min, o->max);
        else if (o->type == BF_OPT_ENUM)
            choice_list(o->choices, ", ", range, sizeof(range));
        fprintf(out, "| %s%s%s | %s%s%s | %s | %s | %s | %s |\n",
                o->type == BF_OPT_SECRET ? "" : "`--",
                o->type == BF_OPT_SECRET ? "—" : o->name,
                o->type == BF_OPT_SECRET ? "" : "`", o->env ? "`" : "",
                o->env ? o->env : "—", o->env ? "`" : "", tnames[o->type],
                o->default_value ? o->default_value : "—", range, o->help);
    }
    if (cli->kafka_props)
        fprintf(out, "| `-X key=value`, `-F file` | — | librdkafka | — | — | "
                     "librdkafka client properties, passed through |\n");
    fputc('\n', out);
}

bf_cli_result_t bf_cli_parse(const bf_cli_t *cli, void *cfg, int argc, char **argv,
                             bf_kprops_t *props, int *first_arg, char *errstr,
                             size_t errstr_size)
{
    /* 1. defaults */
    for (size_t i = 0; i < cli->n_opts; i++) {
        const bf_opt_t *o = &cli->opts[i];
        if (o->default_value &&
            store(o, cfg, o->default_value, o->name, errstr, errstr_size) != BF_OK)
            return BF_CLI_ERROR; /* a bad table is a programming error */
    }
    /* 2. environment */
    for (size_t i = 0; i < cli->n_opts; i++)
        if (apply_env(&cli->opts[i], cfg, errstr, errstr_size) != BF_OK)
            return BF_CLI_ERROR;

    /* 3. flags */
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break; /* first positional argument */
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_help(cli, stdout);
            return BF_CLI_EXIT;
        }
        if (strcmp(a, "--help-markdown") == 0) {
            print_markdown(cli, stdout);
            return BF_CLI_EXIT;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("%s %s\n", cli->program, bf_version());
            return BF_CLI_EXIT;
        }
        if (cli->kafka_props && props &&
            (strncmp(a, "-X", 2) == 0 || strncmp(a, "-F", 2) == 0)) {
            const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                bf_seterr(BF_ERR_CONFIG, errstr, errstr_size, "%s needs an argument", a);
                return BF_CLI_ERROR;
            }
            bf_err_t err = a[1] == 'X'
                               ? bf_kprops_add_kv(props, v, errstr, errstr_size)
                               : bf_kprops_load_file(props, v, errstr, errstr_size);
            if (err)
                return BF_CLI_ERROR;
            continue;
        }
        const bf_opt_t *o;
        const char *value = NULL;
        char flagname[80];
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(cli, name, len);
            snprintf(flagname, sizeof(flagname), "--%.*s", (int)len, name);
            if (eq)
                value = eq + 1;
        } else {
            o = a[2] == '\0' ? find_short(cli, a[1]) : NULL;
            snprintf(flagname, sizeof(flagname), "%s", a);
        }
        if (!o) {
            bf_seterr(BF_ERR_CONFIG, errstr, errstr_size,
                      "unknown option %s (see --help)", flagname);
            return BF_CLI_ERROR;
        }
        if (o->type == BF_OPT_SECRET) {
            bf_seterr(
                BF_ERR_CONFIG, errstr, errstr_size,
                "%s is a secret: set it in the environment (%s or %s_FILE), not on the "
                "command line",
                flagname, o->env ? o->env : "?", o->env ? o->env : "?");
            return BF_CLI_ERROR;
        }
        if (o->type == BF_OPT_BOOL && !value) {
            value = "true";
        } else if (!value) {
            if (i + 1 >= argc) {
                bf_seterr(BF_ERR_CONFIG, errstr, errstr_size, "%s needs a value",
                          flagname);
                return BF_CLI_ERROR;
            }
            value = argv[++i];
        }
        if (store(o, cfg, value, flagname, errstr, errstr_size) != BF_OK)
            return BF_CLI_ERROR;
    }
    if (first_arg)
        *first_arg = i;
    return BF_CLI_RUN;
}

void bf_cli_free(const bf_cli_t *cli, void *cfg)
{
    for (size_t i = 0; i < cli->n_opts; i++) {
        const bf_opt_t *o = &cli->opts[i];
        if (o->type == BF_OPT_STRING || o->type == BF_OPT_SECRET) {
            char **p = (char **)((char *)cfg + o->offset);
            free(*p);
            *p = NULL;
        }
    }
}

void bf_kprops_set(bf_kprops_t *props, const char *key, const char *value)
{
    props->items = bf_realloc(props->items, (props->count + 1) * sizeof(*props->items));
    props->items[props->count].key = bf_strdup(key);
    props->items[props->count].value = bf_strdup(value);
    props->count++;
}

bf_err_t bf_kprops_add_kv(bf_kprops_t *props, const char *kv, char *errstr,
                          size_t errstr_size)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        return bf_seterr(BF_ERR_CONFIG, errstr, errstr_size, "-X %s: expected key=value",
                         kv);
    }
    char *key = bf_strndup(kv, (size_t)(eq - kv));
    bf_kprops_set(props, key, eq + 1);
    free(key);
    return BF_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

bf_err_t bf_kprops_load_file(bf_kprops_t *props, const char *path, char *errstr,
                             size_t errstr_size)
{
    char *data;
    bf_err_t err = read_small_file(path, &data, errstr, errstr_size);
    if (err)
        return err;
    int lineno = 0;
    for (char *line = data, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *t = trim(line);
        if (*t == '\0' || *t == '#' || *t == '!')
            continue;
        char *eq = strchr(t, '=');
        if (!eq || eq == t) {
            bf_seterr(BF_ERR_CONFIG, errstr, errstr_size, "%s:%d: expected key=value",
                      path, lineno);
            free(data);
            return BF_ERR_CONFIG;
        }
        *eq = '\0';
        bf_kprops_set(props, trim(t), trim(eq + 1));
    }
    free(data);
    return BF_OK;
}

const char *bf_kprops_get(const bf_kprops_t *props, const char *key)
{
    for (size_t i = props->count; i > 0; i--)
        if (strcmp(props->items[i - 1].key, key) == 0)
            return props->items[i - 1].value;
    return NULL;
}

void bf_kprops_free(bf_kprops_t *props)
{
    if (!props)
        return;
    for (size_t i = 0; i < props->count; i++) {
        free(props->items[i].key);
        free(props->items[i].value);
    }
    free(props->items);
    props->items = NULL;
    props->count = 0;
}
