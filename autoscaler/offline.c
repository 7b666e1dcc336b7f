/*
 * offline.c - the offline subcommands' command line (see offline.h).
 */
#include "autoscaler/offline.h"

#include <stdio.h>

int bf_offline_cli_parse(const bf_cli_t *cli, void *cfg, int argc, char **argv,
                         char *const *trace_path)
{
    int first_arg = argc;
    char errstr[512];
    switch (
        bf_cli_parse(cli, cfg, argc, argv, NULL, &first_arg, errstr, sizeof(errstr))) {
    case BF_CLI_RUN:
        break;
    case BF_CLI_EXIT:
        return 0;
    case BF_CLI_ERROR:
        fprintf(stderr, "%s: %s\n", cli->program, errstr);
        return 2;
    }
    if (first_arg < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", cli->program, argv[first_arg]);
        return 2;
    }
    if (!*trace_path) {
        fprintf(stderr, "%s: --trace FILE.csv is required\n", cli->program);
        return 2;
    }
    return -1;
}
