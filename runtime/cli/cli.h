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

/* Compiler flags shared by compile and run (cli_compile_flags.c): --batch N,
 * --size HxW, --dump-after PASS|all. cli_compile_flag looks at argv[*i]: 0 when it is
 * not one of them, 1 when it consumed it (and its value, advancing *i), -1 after
 * printing an error. cli_dump_ir prints a dump to stdout (a dump callback). */
struct cli_compile_flags {
    int64_t batch, height, width; /* 0: dynamic */
    const char *dump_after;       /* NULL: no dump */
};
extern const char cli_compile_flags_usage[];
int cli_compile_flag(int argc, char **argv, int *i, struct cli_compile_flags *flags);
void cli_dump_ir(void *user, const char *pass, const char *ir_text);

int cli_compile(int argc, char **argv);  /* argv[0] is "compile" */
int cli_inspect(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_bench(int argc, char **argv);    /* runtime/cli/cmd_bench.c */

#endif
