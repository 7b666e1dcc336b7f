/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 * Usage:
 *     bf_log(BF_LOG_INFO, "worker", "partition_assigned",
 *            BF_LSTR("topic", topic), BF_LINT("partition", p));
 *
 * The level is checked before any argument is formatted (redis serverLog),
 * so a debug line on the hot path costs one comparison when debug is off.
 * Field values are JSON-escaped; secrets must never be passed in.
 *
 * Every line is one valid JSON object (RFC 8259) of at most 4096 bytes,
 * whatever the values hold: control characters are escaped, a byte that
 * is not part of well-formed UTF-8 is written as U+FFFD, a long value is
 * cut ("..." at its end) and fields that no longer fit are left out; a
 * line that lost something that way ends with "truncated":true.
 */
#ifndef BF_LOG_H
#define BF_LOG_H

#include <stdint.h>

typedef enum bf_log_level_e {
    BF_LOG_FATAL = 0,
    BF_LOG_ERROR = 1,
    BF_LOG_WARN = 2,
    BF_LOG_INFO = 3,
    BF_LOG_DEBUG = 4,
} bf_log_level_t;

typedef enum bf_log_type_e {
    BF_LOG_T_END = 0,
    BF_LOG_T_STR,
    BF_LOG_T_INT,
    BF_LOG_T_DBL,
    BF_LOG_T_BOOL,
} bf_log_type_t;

/** One key/value of a log line; values are borrowed for the call. */
typedef struct bf_log_field_s {
    const char *key;
    bf_log_type_t type;
    const char *s;
    int64_t i;
    double d;
} bf_log_field_t;

#define BF_LSTR(k, v) ((bf_log_field_t){.key = (k), .type = BF_LOG_T_STR, .s = (v)})
#define BF_LINT(k, v)                                                                    \
    ((bf_log_field_t){.key = (k), .type = BF_LOG_T_INT, .i = (int64_t)(v)})
#define BF_LDBL(k, v)                                                                    \
    ((bf_log_field_t){.key = (k), .type = BF_LOG_T_DBL, .d = (double)(v)})
#define BF_LBOOL(k, v) ((bf_log_field_t){.key = (k), .type = BF_LOG_T_BOOL, .i = !!(v)})
#define BF_LEND        ((bf_log_field_t){.type = BF_LOG_T_END})

/**
 * @brief Log an event with zero or more fields if @p level is enabled.
 */
#define bf_log(level, component, event, ...)                                             \
    do {                                                                                 \
        if ((level) <= bf_log_level_get())                                               \
            bf_log_emit((level), (component), (event),                                   \
                        (const bf_log_field_t[]){__VA_ARGS__ __VA_OPT__(, ) BF_LEND});   \
    } while (0)

/** @brief The current threshold; lines above it are dropped. */
bf_log_level_t bf_log_level_get(void);
/** @brief Set the threshold (process-wide: stderr is process-wide too). */
void bf_log_level_set(bf_log_level_t level);
/**
 * @brief The level names by value, NULL-terminated, as a --log-level
 *        setting's choices (config.h BF_OPT_ENUM: "warning" is an alias).
 */
extern const char *const bf_log_level_choices[];

/**
 * The --log-level entry of a program's option table (config.h), the same
 * in every program: -l, BOUNTYFLEET_LOG_LEVEL, one of the level names,
 * stored as an int (a bf_log_level_t) at @p field_offset.
 */
#define BF_LOG_LEVEL_OPTION(default_level, help_text, field_offset)                      \
    {                                                                                    \
        "log-level", 'l', "BOUNTYFLEET_LOG_LEVEL", BF_OPT_ENUM, default_level, 1, 0,     \
            NULL, help_text, field_offset, bf_log_level_choices                          \
    }
/**
 * @brief Write one line. Use the bf_log() macro instead, which checks the
 *        level first. @p fields ends with BF_LEND.
 */
void bf_log_emit(bf_log_level_t level, const char *component, const char *event,
                 const bf_log_field_t *fields);

#endif
