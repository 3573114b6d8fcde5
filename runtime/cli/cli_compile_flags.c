/* runtime/cli/cli_compile_flags.c: the compiler flags `d2rt compile` and `d2rt run`
 * (with a source model) share: --batch N, --size HxW, --dump-after PASS|all
 * (docs/PASSES.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "passes/passes.h"

const char cli_compile_flags_usage[] =
    "  --batch N          specialize the image input's batch size to N (default: dynamic)\n"
    "  --size HxW         specialize the image input's height and width (default: dynamic);\n"
    "                     the model then accepts only that size, and its shape arithmetic\n"
    "                     is computed once, at compile time\n"
    "  --dump-after PASS  print the IR after compiler pass PASS (or `all`: after each pass)\n";

static bool parse_size(const char *text, int64_t *out)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (end == text || errno || v < 1 || v > (1 << 20))
        return false;
    *out = v;
    return *end == '\0' || *end == 'x' || *end == 'X';
}

int cli_compile_flag(int argc, char **argv, int *i, struct cli_compile_flags *flags)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--batch") != 0 && strcmp(arg, "--size") != 0 && strcmp(arg, "--dump-after") != 0)
        return 0;
    if (*i + 1 >= argc) {
        cli_fail("%s needs a value", arg);
        return -1;
    }
    const char *value = argv[++*i];
    if (strcmp(arg, "--batch") == 0) {
        if (!parse_size(value, &flags->batch) || strchr(value, 'x') || strchr(value, 'X')) {
            cli_fail("--batch: '%s' is not a batch size (1 or more)", value);
            return -1;
        }
    } else if (strcmp(arg, "--size") == 0) {
        const char *x = strpbrk(value, "xX");
        if (!x || !parse_size(value, &flags->height) || !parse_size(x + 1, &flags->width) ||
            strpbrk(x + 1, "xX")) {
            cli_fail("--size: '%s' is not HEIGHTxWIDTH (e.g. 800x1216)", value);
            return -1;
        }
    } else {
        if (strcmp(value, "all") != 0 && !d2_pass_find(value)) {
            uint32_t count;
            const struct d2_pass *table = d2_pass_table(&count);
            char names[512];
            size_t n = 0;
            for (uint32_t k = 0; k < count && n < sizeof names; k++)
                n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", k ? ", " : "", table[k].name);
            cli_fail("--dump-after: unknown pass '%s' (passes: %s, or all)", value, names);
            return -1;
        }
        flags->dump_after = value;
    }
    return 1;
}

void cli_dump_ir(void *user, const char *pass, const char *ir_text)
{
    (void)user;
    printf("# ---- IR after pass %s ----\n%s", pass, ir_text);
    if (ir_text[0] && ir_text[strlen(ir_text) - 1] != '\n')
        putchar('\n');
    fflush(stdout);
}
