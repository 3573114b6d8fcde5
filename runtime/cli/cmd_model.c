/* runtime/cli/cmd_model.c: `d2rt compile` and `d2rt inspect`, the subcommands that
 * look at a model without running it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_predict.h"
#include "passes/passes.h"
#include "runtime/artifact.h"
#include "runtime/load.h"

static const char compile_usage[] =
    "usage: d2rt compile MODEL [-o OUT.ir] [--roialign-aligned]\n"
    "\n"
    "Compile MODEL (ONNX, Caffe2 NetDef, TorchScript or IR text, detected from its content) into a model.ir artifact\n"
    "that `d2rt run` loads without recompiling. Default OUT: MODEL's file name with its\n"
    "extension replaced by .ir, in the current directory.\n"
    "  --roialign-aligned  in an ONNX export below opset 16, make every RoiAlign compute\n"
    "                      detectron2's aligned (half-pixel) RoIAlign, which the opset-11\n"
    "                      export dropped; matches detectron2 instead of onnxruntime\n";

static const char inspect_usage[] =
    "usage: d2rt inspect MODEL|IR [--roialign-aligned]\n"
    "\n"
    "Print the model's IR text (constants above 16 elements elided), a histogram of its\n"
    "ops, and the parameter count and bytes (all constants, regions included). Warns\n"
    "when a PyTorch ONNX export below opset 16 computes legacy RoIAlign (see\n"
    "--roialign-aligned in `d2rt compile --help`, which inspect accepts too).\n";

/* "dir/model.onnx" -> "model.ir" */
static char *default_output_name(const char *model)
{
    const char *base = strrchr(model, '/');
    const char *dot;
    size_t n;
    char *out;
    base = base ? base + 1 : model;
    dot = strrchr(base, '.');
    n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    out = malloc(n + 4);
    if (!out)
        return NULL;
    memcpy(out, base, n);
    memcpy(out + n, ".ir", 4);
    return out;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cli_compile(int argc, char **argv)
{
    const char *model = NULL, *out = NULL;
    char *default_out = NULL;
    struct d2_error err = { 0 };
    struct d2_compile_options options = { 0 };
    struct d2_graph *g;
    int rc;

    struct d2_model_meta_overrides meta_flags;
    struct cli_compile_flags compile_flags = { 0 };
    if (cli_wants_help(argc, argv)) {
        fputs(compile_usage, stdout);
        fputs(cli_compile_flags_usage, stdout);
        fputs(cli_meta_flags_usage, stdout);
        return 0;
    }
    d2_model_meta_overrides_init(&meta_flags);
    for (int i = 1; i < argc; i++) {
        int meta_flag = cli_meta_flag(argc, argv, &i, &meta_flags); /* --min-size etc. (cmd_run_image.c) */
        int compile_flag = meta_flag ? 0 : cli_compile_flag(argc, argv, &i, &compile_flags);
        if (meta_flag < 0 || compile_flag < 0)
            return 1;
        if (meta_flag > 0 || compile_flag > 0)
            continue;
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc)
                return cli_fail("compile: %s needs a file name", argv[i]);
            out = argv[++i];
        } else if (strcmp(argv[i], "--roialign-aligned") == 0) {
            options.roialign_aligned = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail("compile: unknown option '%s'", argv[i]);
        } else if (!model) {
            model = argv[i];
        } else {
            return cli_fail("compile: more than one model given ('%s', '%s')", model, argv[i]);
        }
    }
    if (!model)
        return cli_fail("compile: no model given (usage: d2rt compile MODEL [-o OUT.ir])");
    if (!out) {
        default_out = default_output_name(model);
        if (!default_out)
            return cli_fail("out of memory");
        out = default_out;
    }
    if (same_file(model, out)) {
        rc = cli_fail("compile: output '%s' is the input model; choose another name with -o", out);
        free(default_out);
        return rc;
    }
    options.batch = compile_flags.batch;
    options.height = compile_flags.height;
    options.width = compile_flags.width;
    options.dump_after = compile_flags.dump_after;
    options.dump = cli_dump_ir;
    g = d2_load_model_file_with(model, NULL, &options, NULL, &err);
    /* Detector metadata (auto-detected, then the flags) travels in the model.ir. */
    if (g && cli_meta_apply(g, &meta_flags) != 0) {
        rc = 1;
    } else if (!g || d2_artifact_write_file(g, out, &err) != D2_OK) {
        rc = cli_fail("%s", err.message);
    } else {
        printf("wrote %s\n", out);
        rc = 0;
    }
    d2_graph_free(g);
    free(default_out);
    cli_meta_overrides_free(&meta_flags);
    return rc;
}

/* ---- inspect ---- */

struct model_stats {
    uint64_t op_counts[D2_OP_COUNT];
    uint64_t nodes;
    uint64_t param_count;
    uint64_t param_bytes;
    uint64_t constants;
};

static void collect_stats(const struct d2_graph *g, struct model_stats *s)
{
    for (uint32_t c = 0; c < g->num_constants; c++) {
        int64_t n = d2_tensor_numel(&g->constants[c]);
        s->param_count += n > 0 ? (uint64_t)n : 0;
        s->param_bytes += g->constants[c].nbytes;
        s->constants++;
    }
    for (uint32_t i = 0; i < g->num_nodes; i++) {
        const struct d2_node *n = &g->nodes[i];
        if ((unsigned)n->op < D2_OP_COUNT)
            s->op_counts[n->op]++;
        s->nodes++;
        for (uint32_t r = 0; r < n->num_regions; r++)
            if (n->regions[r])
                collect_stats(n->regions[r], s);
    }
}

static int compare_counts_desc(const void *a, const void *b, const uint64_t *counts)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (counts[x] != counts[y])
        return counts[x] < counts[y] ? 1 : -1;
    return strcmp(d2_op_name((enum d2_op)x), d2_op_name((enum d2_op)y));
}

static const uint64_t *sort_counts; /* qsort has no context argument in C11 */
static int by_count(const void *a, const void *b) { return compare_counts_desc(a, b, sort_counts); }

int cli_inspect(int argc, char **argv)
{
    const char *model = NULL;
    struct d2_error err = { 0 };
    struct d2_compile_options options = { 0 };
    struct d2_print_options opts = { .max_constant_elements = 16 };
    struct model_stats stats;
    enum d2_model_format format;
    struct d2_graph *g;
    char *text;
    int order[D2_OP_COUNT], used = 0;

    if (cli_wants_help(argc, argv)) {
        fputs(inspect_usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--roialign-aligned") == 0) {
            options.roialign_aligned = true;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return cli_fail("inspect: unknown option '%s'", argv[i]);
        if (model)
            return cli_fail("inspect: more than one model given ('%s', '%s')", model, argv[i]);
        model = argv[i];
    }
    if (!model)
        return cli_fail("inspect: no model given (usage: d2rt inspect MODEL|IR)");
    g = d2_load_model_file_with(model, NULL, &options, &format, &err);
    if (!g)
        return cli_fail("%s", err.message);
    text = d2_print_graph(g, &opts, &err);
    if (!text) {
        d2_graph_free(g);
        return cli_fail("%s", err.message);
    }
    memset(&stats, 0, sizeof stats);
    collect_stats(g, &stats);
    printf("# %s (%s)\n%s", model, d2_model_format_name(format), text);
    if (text[0] && text[strlen(text) - 1] != '\n')
        putchar('\n');
    d2_free(g->alloc, text);

    printf("\n# ops: %llu nodes\n", (unsigned long long)stats.nodes);
    for (int op = 0; op < D2_OP_COUNT; op++)
        if (stats.op_counts[op])
            order[used++] = op;
    sort_counts = stats.op_counts;
    qsort(order, (size_t)used, sizeof order[0], by_count);
    for (int i = 0; i < used; i++)
        printf("#   %-24s %llu\n", d2_op_name((enum d2_op)order[i]), (unsigned long long)stats.op_counts[order[i]]);
    printf("# parameters: %llu in %llu constants, %llu bytes (%.2f MiB)\n", (unsigned long long)stats.param_count,
           (unsigned long long)stats.constants, (unsigned long long)stats.param_bytes,
           (double)stats.param_bytes / (1024.0 * 1024.0));
    if (g->memory_plan) { /* passes/memplan.c */
        const struct d2_memory_plan *p = g->memory_plan;
        uint64_t planned = 0;
        for (uint32_t v = 0; v < p->num_values; v++)
            planned += p->offsets[v] >= 0;
        printf("# activation memory: peak %llu bytes (%.2f MiB) planned in one arena for %llu values, naive sum "
               "%llu bytes (%.2f MiB); data-dependent values are allocated at run time\n",
               (unsigned long long)p->arena_bytes, (double)p->arena_bytes / (1024.0 * 1024.0),
               (unsigned long long)planned, (unsigned long long)p->naive_bytes,
               (double)p->naive_bytes / (1024.0 * 1024.0));
    } else {
        printf("# activation memory: no memory plan\n");
    }
    if (d2_graph_has_legacy_onnx_roialign(g))
        printf("# warning: a PyTorch ONNX export below opset 16 (opset %s) with legacy RoIAlign: torchvision "
               "dropped aligned=True, so it computes non-aligned RoIAlign, not detectron2's ROIAlignV2; "
               "use --roialign-aligned (compile, run) to match detectron2 instead of onnxruntime\n",
               d2_graph_get_metadata(g, "opset"));
    cli_meta_print(g); /* the detector metadata `d2rt run MODEL IMAGE` uses */
    d2_graph_free(g);
    return 0;
}
