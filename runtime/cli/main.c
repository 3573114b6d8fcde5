/* runtime/cli/main.c: the d2rt command line: dispatch to the subcommands
 * (compile, inspect, run; runtime/cli/cmd_*.c) and the shared error reporting.
 * Usage is in docs/CLI.md and `d2rt --help`. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: d2rt <command> [options]\n"
    "\n"
    "commands:\n"
    "  compile MODEL [-o OUT.ir]          compile a model (ONNX, Caffe2, TorchScript, IR text) to model.ir\n"
    "  inspect MODEL|IR                   print the IR, op histogram and parameter count\n"
    "  run MODEL|IR [INPUT...] [--out DIR]  run a model on .npy / ONNX .pb tensors\n"
    "  run MODEL|IR IMAGE... [--vis F.png] detect objects in JPEG/PNG images (--json, --out, ...)\n"
    "  bench --kernel sgemm|conv --shape S | bench MODEL [INPUT...]  time kernels or a model\n"
    "\n"
    "Model formats are detected from the file content. `d2rt <command> --help` for details.\n";

int cli_fail(const char *fmt, ...)
{
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* Exactly one line, whatever the message holds. */
    for (char *p = message; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fflush(stdout);
    fprintf(stderr, "d2rt: error: %s\n", message);
    return 1;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_fail("no command given (try 'd2rt --help')");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "compile") == 0)
        return cli_compile(argc - 1, argv + 1);
    if (strcmp(argv[1], "inspect") == 0)
        return cli_inspect(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0)
        return cli_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "bench") == 0)
        return cli_bench(argc - 1, argv + 1);
    return cli_fail("unknown command '%s' (commands: compile, inspect, run, bench; try 'd2rt --help')", argv[1]);
}
