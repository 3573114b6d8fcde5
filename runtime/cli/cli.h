/* runtime/cli/cli.h: what the d2rt subcommands share.
 *
 * Error contract of the whole CLI: on success exit 0; on any error print exactly one
 * line "d2rt: error: <message>" to stderr and exit non-zero (cli_fail). Each
 * subcommand prints its usage to stdout for --help. */
#ifndef D2_CLI_H
#define D2_CLI_H

#include <stdbool.h>

#include "ir/ir.h"

/* Print "d2rt: error: <message>" (newlines folded into spaces); returns 1 (the exit code). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

int cli_compile(int argc, char **argv);  /* argv[0] is "compile" */
int cli_inspect(int argc, char **argv);
int cli_run(int argc, char **argv);

#endif
