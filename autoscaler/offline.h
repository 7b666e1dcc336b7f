/*
 * offline.h - the command line shared by the autoscaler's offline
 * subcommands (backtest, forecast-eval, recommend), which read a recorded
 * trace (libbf/trace.h) instead of Kafka.
 */
#ifndef BF_AUTOSCALER_OFFLINE_H
#define BF_AUTOSCALER_OFFLINE_H

#include "libbf/config.h"

/**
 * @brief Parse @p argv into @p cfg with bf_cli_parse(), refuse positional
 *        arguments and require --trace. Prints a one-line message on
 *        stderr.
 * @param trace_path where the parsed --trace lands (inside @p cfg)
 * @returns -1 to go on; otherwise the exit status (0 after --help, 2 for
 *          a usage error).
 */
int bf_offline_cli_parse(const bf_cli_t *cli, void *cfg, int argc, char **argv,
                         char *const *trace_path);

#endif
