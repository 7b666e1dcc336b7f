/*
 * config.h - settings declared once in a table, parsed from flags, then
 * environment variables, then defaults (DESIGN.md "Configuration").
 *
 * Each program declares a static array of bf_opt_t describing its settings
 * and a struct that holds their values; bf_cli_parse() fills the struct,
 * validates ranges, prints --help and --version, and collects librdkafka
 * properties given kcat-style as -X key=value and -F file.properties.
 * The same table renders CONFIGURATION.md (--help-markdown).
 */
#ifndef BF_CONFIG_H
#define BF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "libbf/err.h"

typedef enum bf_opt_type_e {
    BF_OPT_STRING, /* char * (owned by the config struct, free with bf_cli_free) */
    BF_OPT_INT,    /* int64_t */
    BF_OPT_DOUBLE, /* double */
    BF_OPT_BOOL,   /* bool; a flag takes no argument, env accepts 1/0/true/false */
    BF_OPT_SECRET, /* char *; environment only (NAME or NAME_FILE), never argv */
    BF_OPT_ENUM,   /* int: the index in bf_opt_t.choices of the name given */
} bf_opt_type_t;

typedef struct bf_opt_s {
    const char *name; /* long flag without "--", e.g. "brokers" */
    char short_name;  /* single-letter flag, or 0 */
    const char *env;  /* environment variable, or NULL */
    bf_opt_type_t type;
    const char *default_value; /* textual default, or NULL for unset */
    double min, max;           /* range for numbers; ignored when min > max */
    const char *metavar;       /* placeholder in --help, e.g. "HOST:PORT" */
    const char *help;          /* one sentence */
    size_t offset;             /* offsetof(program_config, field) */
    /* BF_OPT_ENUM: the names, NULL-terminated, index = stored value. A
     * name may list aliases after '|' ("warn|warning"); the first is the
     * one --help shows. Matched without regard to case. */
    const char *const *choices;
} bf_opt_t;

/** A librdkafka property given with -X or read from -F. */
typedef struct bf_kprop_s {
    char *key;
    char *value;
} bf_kprop_t;

/** The -X/-F properties in the order given (later ones win). */
typedef struct bf_kprops_s {
    bf_kprop_t *items;
    size_t count;
} bf_kprops_t;

typedef struct bf_cli_s {
    const char *program; /* e.g. "bountyfleet-worker" */
    const char *summary; /* one line for --help */
    const char *usage;   /* argument synopsis after the program name */
    const bf_opt_t *opts;
    size_t n_opts;
    bool kafka_props; /* accept -X and -F */
} bf_cli_t;

typedef enum bf_cli_result_e {
    BF_CLI_RUN = 0,  /* parsed; run the program */
    BF_CLI_EXIT = 1, /* --help/--version printed; exit 0 */
    BF_CLI_ERROR = 2 /* errstr says why; print it on one line and exit 2 */
} bf_cli_result_t;

/**
 * @brief Parse argv and the environment into @p cfg.
 *
 * Flags win over environment variables, which win over defaults. Numbers are
 * checked against their range, and the error names the setting. Positional
 * arguments are left in argv[*first_arg .. argc-1].
 *
 * @param cfg      the program's config struct (written at each opt offset)
 * @param props    receives -X/-F properties (may be NULL when not accepted);
 *                 free with bf_kprops_free()
 * @param first_arg receives the index of the first positional argument
 * @returns BF_CLI_RUN, BF_CLI_EXIT or BF_CLI_ERROR (with errstr filled).
 */
bf_cli_result_t bf_cli_parse(const bf_cli_t *cli, void *cfg, int argc, char **argv,
                             bf_kprops_t *props, int *first_arg, char *errstr,
                             size_t errstr_size);

/** @brief Free the strings bf_cli_parse() stored in @p cfg. */
void bf_cli_free(const bf_cli_t *cli, void *cfg);

/**
 * @brief Parse a Java-style properties file (key=value lines, # comments)
 *        and append its pairs to @p props.
 */
bf_err_t bf_kprops_load_file(bf_kprops_t *props, const char *path, char *errstr,
                             size_t errstr_size);
/** @brief Append one "key=value" string. */
bf_err_t bf_kprops_add_kv(bf_kprops_t *props, const char *kv, char *errstr,
                          size_t errstr_size);
/** @brief Append key and value (copied). */
void bf_kprops_set(bf_kprops_t *props, const char *key, const char *value);
/** @brief Last value given for @p key, or NULL. Borrowed. */
const char *bf_kprops_get(const bf_kprops_t *props, const char *key);
/** @brief Free all pairs. NULL-safe. */
void bf_kprops_free(bf_kprops_t *props);

/** Version string of all programs (from CMake's project version). */
const char *bf_version(void);

#endif
