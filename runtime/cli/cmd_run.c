/* runtime/cli/cmd_run.c: `d2rt run MODEL|IR [INPUT...] [--out DIR]`.
 *
 * Runs a model (any format d2rt_model_load reads; source models compile in memory)
 * through the public API (include/d2rt.h). Each INPUT is `path` (taken by the graph
 * inputs in order, after the named ones) or `name=path`; the file is an .npy array or
 * an ONNX TensorProto (.pb), told apart by content. One summary line per output is
 * printed; with --out DIR, output k is written to DIR/out<k>.npy and the output names,
 * one per line, to DIR/names.txt. NumPy has no bfloat16, so bf16 outputs are written
 * as f32 (every bf16 value is exactly an f32). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_predict.h"
#include "d2rt.h"
#include "frontend/frontend.h"
#include "runtime/load.h"
#include "runtime/npy.h"

static const char run_usage[] =
    "usage: d2rt run MODEL|IR [INPUT...] [--out DIR] [--roialign-aligned]\n"
    "\n"
    "Run MODEL (ONNX, IR text or model.ir; detected from content) on the given inputs.\n"
    "  INPUT      `path` (fills the model inputs in order) or `name=path`; each file is\n"
    "             a NumPy .npy array or an ONNX TensorProto .pb (detected from content)\n"
    "  --out DIR  write output k to DIR/out<k>.npy and the output names to DIR/names.txt\n"
    "             (bf16 outputs are written as f32: NumPy has no bfloat16)\n"
    "  --threads N  CPU threads (default: one per CPU)\n"
    "  --roialign-aligned  when compiling a source model: in an ONNX export below\n"
    "             opset 16, make RoiAlign compute detectron2's aligned RoIAlign\n"
    "             (see `d2rt compile --help`); refused for a model.ir\n"
    "Prints one line per output: name, dtype, shape, and min/max/mean for numbers.\n"
    "With JPEG/PNG images as inputs it runs as a detector instead: `d2rt run MODEL\n"
    "IMAGE... --help` for those options (--json, --vis, --score-thresh, metadata).\n";

/* Load an .npy or a TensorProto file into t. */
static enum d2_status load_tensor_file(const char *path, struct d2_tensor *t, struct d2_error *err)
{
    void *data;
    size_t size;
    enum d2_status st = d2_read_file(path, NULL, &data, &size, err);
    if (st != D2_OK)
        return st;
    if (size == 0) {
        st = d2_errorf(err, D2_ERR_PARSE, "input '%s' is empty", path);
    } else if (size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0) {
        st = d2_npy_parse(data, size, NULL, t, err);
        if (st != D2_OK)
            d2_error_prefix(err, "input '%s' (npy): ", path);
    } else {
        st = d2_onnx_parse_tensor(data, size, NULL, t, NULL, err);
        if (st != D2_OK)
            d2_error_prefix(err, "input '%s' is neither .npy nor an ONNX TensorProto: ", path);
    }
    d2_free(NULL, data);
    return st;
}

static void print_summary(const char *name, d2rt_tensor *t)
{
    const int64_t *dims = d2rt_tensor_dims(t);
    enum d2_dtype dtype = (enum d2_dtype)d2rt_tensor_dtype(t);
    int64_t n = d2rt_tensor_numel(t), nans = 0, count = 0;
    const void *data = d2rt_tensor_data(t);
    double lo = INFINITY, hi = -INFINITY, sum = 0;

    printf("%s: %s[", name, d2_dtype_name(dtype));
    for (int d = 0; d < d2rt_tensor_rank(t); d++)
        printf("%s%lld", d ? "," : "", (long long)dims[d]);
    printf("]");
    if (dtype == D2_DTYPE_BOOL) {
        for (int64_t i = 0; i < n; i++)
            count += d2_load_i64(data, dtype, (size_t)i) != 0;
        printf(" true=%lld of %lld\n", (long long)count, (long long)n);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = d2_load_f64(data, dtype, (size_t)i);
        if (isnan(v)) {
            nans++;
            continue;
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
        count++;
    }
    if (count)
        printf(" min=%.6g max=%.6g mean=%.6g", lo, hi, sum / (double)count);
    if (nans)
        printf(" nan=%lld", (long long)nans);
    printf("\n");
}

static int write_outputs(const char *dir, d2rt_model *model, d2rt_tensor **outs, uint32_t n)
{
    char path[4096];
    struct d2_error err = { 0 };
    FILE *names;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cli_fail("cannot create output directory '%s': %s", dir, strerror(errno));
    for (uint32_t k = 0; k < n; k++) {
        struct d2_tensor view;
        memset(&view, 0, sizeof view);
        view.dtype = (enum d2_dtype)d2rt_tensor_dtype(outs[k]);
        view.rank = d2rt_tensor_rank(outs[k]);
        memcpy(view.dims, d2rt_tensor_dims(outs[k]), sizeof(int64_t) * (size_t)view.rank);
        view.data = d2rt_tensor_data(outs[k]);
        view.nbytes = d2rt_tensor_nbytes(outs[k]);
        snprintf(path, sizeof path, "%s/out%u.npy", dir, k);
        if (view.dtype == D2_DTYPE_BF16) {
            /* NumPy has no bfloat16: write the (exactly representable) f32 values. */
            struct d2_tensor widened;
            enum d2_status st = d2_tensor_alloc(&widened, NULL, D2_DTYPE_F32, view.rank, view.dims, &err);
            for (int64_t i = 0; st == D2_OK && i < d2_tensor_numel(&view); i++)
                ((float *)widened.data)[i] = d2_bf16_to_f32(((const uint16_t *)view.data)[i]);
            if (st == D2_OK)
                st = d2_npy_write_file(path, &widened, &err);
            d2_tensor_release(&widened, NULL);
            if (st != D2_OK)
                return cli_fail("%s", err.message);
            continue;
        }
        if (d2_npy_write_file(path, &view, &err) != D2_OK)
            return cli_fail("%s", err.message);
    }
    snprintf(path, sizeof path, "%s/names.txt", dir);
    names = fopen(path, "w");
    if (!names)
        return cli_fail("cannot write '%s': %s", path, strerror(errno));
    for (uint32_t k = 0; k < n; k++)
        fprintf(names, "%s\n", d2rt_model_output_name(model, k));
    if (fclose(names) != 0)
        return cli_fail("cannot write '%s': %s", path, strerror(errno));
    return 0;
}

/* Which model input `arg` names ("name=path"), or -1 when it is a plain path. */
static int named_input(d2rt_model *model, const char *arg, const char **path_out)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    for (uint32_t i = 0; i < d2rt_model_num_inputs(model); i++) {
        const char *name = d2rt_model_input_name(model, i);
        if (strlen(name) == (size_t)(eq - arg) && strncmp(name, arg, (size_t)(eq - arg)) == 0) {
            *path_out = eq + 1;
            return (int)i;
        }
    }
    return -1;
}

int cli_run(int argc, char **argv)
{
    const char *model_path = NULL, *out_dir = NULL;
    const char **input_args = NULL;
    int num_args = 0, rc = 1;
    d2rt_model *model = NULL;
    d2rt_session *session = NULL;
    uint32_t num_in = 0, num_out = 0;
    const char **paths = NULL;
    struct d2_tensor *loaded = NULL;
    d2rt_tensor **ins = NULL, **outs = NULL;
    struct d2rt_compile_options compile_options = { 0 };
    struct d2rt_session_options session_options = { 0, NULL };
    struct cli_compile_flags compile_flags = { 0 };
    int compile_flag;

    /* Images in: the predictor path (runtime/cli/cmd_run_image.c). */
    if (cli_run_has_image_input(argc, argv))
        return cli_run_images(argc, argv);
    if (cli_wants_help(argc, argv)) {
        fputs(run_usage, stdout);
        fputs("With a source model (compiled in memory):\n", stdout);
        fputs(cli_compile_flags_usage, stdout);
        return 0;
    }
    input_args = calloc((size_t)argc + 1, sizeof *input_args);
    if (!input_args)
        return cli_fail("out of memory");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "-o") == 0) {
            if (i + 1 >= argc) {
                free(input_args);
                return cli_fail("run: %s needs a directory", argv[i]);
            }
            out_dir = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0) {
            char *end = NULL;
            long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
            if (n < 0 || n > 4096 || !end || *end) {
                free(input_args);
                return cli_fail("run: --threads needs a count (0: one per CPU)");
            }
            session_options.threads = (int)n;
            i++;
        } else if (strcmp(argv[i], "--roialign-aligned") == 0) {
            compile_options.roialign_aligned = 1;
        } else if ((compile_flag = cli_compile_flag(argc, argv, &i, &compile_flags)) != 0) {
            if (compile_flag < 0) {
                free(input_args);
                return 1;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            free(input_args);
            return cli_fail("run: unknown option '%s'", argv[i]);
        } else if (!model_path) {
            model_path = argv[i];
        } else {
            input_args[num_args++] = argv[i];
        }
    }
    if (!model_path) {
        free(input_args);
        return cli_fail("run: no model given (usage: d2rt run MODEL [INPUT...] [--out DIR])");
    }
    compile_options.batch = compile_flags.batch;
    compile_options.height = compile_flags.height;
    compile_options.width = compile_flags.width;
    compile_options.dump_after = compile_flags.dump_after;
    compile_options.dump = cli_dump_ir;
    if (d2rt_model_load_ex(model_path, NULL, &compile_options, &model) != D2RT_OK) {
        rc = cli_fail("%s", d2rt_errmsg(model));
        goto done;
    }
    num_in = d2rt_model_num_inputs(model);
    /* A TorchScript model imports for a batch size: more inputs than one image's worth
     * (and no --batch) means a batch of that many images; import it again for it. */
    if (!compile_flags.batch && num_in > 0 && (uint32_t)num_args > num_in && num_args % (int)num_in == 0 &&
        strcmp(d2rt_model_format(model), "torchscript") == 0) {
        d2rt_model_free(model);
        model = NULL;
        compile_options.batch = num_args / (int)num_in;
        if (d2rt_model_load_ex(model_path, NULL, &compile_options, &model) != D2RT_OK) {
            rc = cli_fail("%s", d2rt_errmsg(model));
            goto done;
        }
        num_in = d2rt_model_num_inputs(model);
    }
    num_out = d2rt_model_num_outputs(model);
    paths = calloc(num_in + 1u, sizeof *paths);
    loaded = calloc(num_in + 1u, sizeof *loaded);
    ins = calloc(num_in + 1u, sizeof *ins);
    outs = calloc(num_out + 1u, sizeof *outs);
    if (!paths || !loaded || !ins || !outs) {
        rc = cli_fail("out of memory");
        goto done;
    }
    /* Named inputs first, then plain paths fill the remaining inputs in order. */
    for (int a = 0; a < num_args; a++) {
        const char *path;
        int idx = named_input(model, input_args[a], &path);
        if (idx < 0)
            continue;
        if (paths[idx]) {
            rc = cli_fail("input '%s' is given twice", d2rt_model_input_name(model, (uint32_t)idx));
            goto done;
        }
        paths[idx] = path;
        input_args[a] = NULL;
    }
    {
        uint32_t next = 0;
        for (int a = 0; a < num_args; a++) {
            if (!input_args[a])
                continue;
            while (next < num_in && paths[next])
                next++;
            if (next == num_in) {
                rc = cli_fail("the model takes %u input%s, more were given ('%s' is extra)", num_in,
                              num_in == 1 ? "" : "s", input_args[a]);
                goto done;
            }
            paths[next++] = input_args[a];
        }
        for (uint32_t i = 0; i < num_in; i++) {
            if (!paths[i]) {
                rc = cli_fail("the model takes %u input%s; input %u '%s' (%s) was not given", num_in,
                              num_in == 1 ? "" : "s", i, d2rt_model_input_name(model, i),
                              d2rt_dtype_name(d2rt_model_input_dtype(model, i)));
                goto done;
            }
        }
    }
    for (uint32_t i = 0; i < num_in; i++) {
        struct d2_error err = { 0 };
        if (load_tensor_file(paths[i], &loaded[i], &err) != D2_OK) {
            rc = cli_fail("%s", err.message);
            goto done;
        }
        if (d2rt_tensor_wrap((d2rt_dtype)loaded[i].dtype, loaded[i].rank, loaded[i].dims, loaded[i].data,
                             loaded[i].nbytes, &ins[i]) != D2RT_OK) {
            rc = cli_fail("input '%s': cannot use this tensor", paths[i]);
            goto done;
        }
    }
    if (d2rt_session_new(model, &session_options, &session) != D2RT_OK) {
        rc = cli_fail("%s", d2rt_errmsg(model));
        goto done;
    }
    if (d2rt_session_run(session, ins, num_in, outs, num_out) != D2RT_OK) {
        rc = cli_fail("%s", d2rt_errmsg(session));
        goto done;
    }
    if (out_dir && write_outputs(out_dir, model, outs, num_out) != 0)
        goto done; /* message already printed */
    for (uint32_t k = 0; k < num_out; k++)
        print_summary(d2rt_model_output_name(model, k), outs[k]);
    rc = 0;
done:
    for (uint32_t k = 0; outs && k < num_out; k++)
        d2rt_tensor_free(outs[k]);
    for (uint32_t i = 0; i < num_in; i++) {
        if (ins)
            d2rt_tensor_free(ins[i]);
        if (loaded)
            d2_tensor_release(&loaded[i], NULL);
    }
    free(outs);
    free(ins);
    free(loaded);
    free(paths);
    free(input_args);
    d2rt_session_free(session);
    d2rt_model_free(model);
    return rc;
}
