/* tests/unit/test_ts_import.c: the TorchScript frontend (frontend/torchscript/
 * ts_lower*.c, ts_ops*.c, ts_import.c).
 *
 * Data: tests/data/torchscript_ops/<case>/ (tools/make_ts_op_fixtures.py: tiny traced
 * and scripted modules per op family, inputs, and PyTorch's outputs running the same
 * saved file) and the shared detectron2 exports (../shared, env D2RT_SHARED).
 * Run from the repository root.
 *
 * Checks: every op case imports with its input shapes, verifies, and the reference
 * CPU executor reproduces PyTorch (dtype and shape exactly, values within tol.txt);
 * graph interface of the detectron2 exports (inputs, flattened outputs, their names
 * and nesting metadata, export method, batch option for the scripted model); an
 * unsupported op names itself and file:line:col; bad options and broken archives
 * fail cleanly.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "frontend/frontend.h"
#include "runtime/npy.h"

#define DATA "tests/data/torchscript_ops/"

static const char *shared_root(void)
{
    const char *s = getenv("D2RT_SHARED");
    return s && *s ? s : "../shared";
}

static bool read_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f)
        return false;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return true;
}

/* Compare got with want: same dtype and shape, values within tolerance. Returns a
 * message on mismatch (static buffer) or NULL. */
static const char *compare(const struct d2_tensor *got, const struct d2_tensor *want, double rtol, double atol)
{
    static char msg[256];
    if (got->dtype != want->dtype) {
        snprintf(msg, sizeof msg, "dtype %s, want %s", d2_dtype_name(got->dtype), d2_dtype_name(want->dtype));
        return msg;
    }
    if (got->rank != want->rank) {
        snprintf(msg, sizeof msg, "rank %d, want %d", got->rank, want->rank);
        return msg;
    }
    for (int32_t d = 0; d < got->rank; d++)
        if (got->dims[d] != want->dims[d]) {
            snprintf(msg, sizeof msg, "dim %d is %lld, want %lld", d, (long long)got->dims[d], (long long)want->dims[d]);
            return msg;
        }
    for (int64_t i = 0; i < d2_tensor_numel(want); i++) {
        if (d2_dtype_is_float(want->dtype)) {
            double g = d2_load_f64(got->data, got->dtype, (size_t)i), w = d2_load_f64(want->data, want->dtype, (size_t)i);
            if (isnan(w) ? !isnan(g) : isinf(w) ? g != w : !(fabs(g - w) <= atol + rtol * fabs(w))) {
                snprintf(msg, sizeof msg, "element %lld is %.9g, want %.9g", (long long)i, g, w);
                return msg;
            }
        } else if (d2_load_i64(got->data, got->dtype, (size_t)i) != d2_load_i64(want->data, want->dtype, (size_t)i)) {
            snprintf(msg, sizeof msg, "element %lld is %lld, want %lld", (long long)i,
                     (long long)d2_load_i64(got->data, got->dtype, (size_t)i),
                     (long long)d2_load_i64(want->data, want->dtype, (size_t)i));
            return msg;
        }
    }
    return NULL;
}

/* Import, verify, run and compare one case; returns a failure message or NULL. */
static const char *run_case(const char *name, char *msg, size_t cap)
{
    char path[512], shapes[512], tol[64];
    struct d2_torchscript_options opts = { 0 };
    struct d2_error err = { 0 };
    struct d2_tensor inputs[8], outputs[32], want;
    uint32_t num_in = 0;
    double rtol = 1e-5, atol = 1e-6;
    const char *fail = NULL;
    struct d2_graph *g;

    snprintf(path, sizeof path, DATA "%s/shapes.txt", name);
    if (!read_text(path, shapes, sizeof shapes)) {
        snprintf(msg, cap, "%s: no shapes.txt", name);
        return msg;
    }
    snprintf(path, sizeof path, DATA "%s/tol.txt", name);
    if (read_text(path, tol, sizeof tol))
        ck_assert(sscanf(tol, "%lf %lf", &rtol, &atol) == 2);
    opts.input_shapes = shapes;
    snprintf(path, sizeof path, DATA "%s/model.ts", name);
    g = d2_torchscript_import_file(path, &opts, NULL, &err);
    if (!g) {
        snprintf(msg, cap, "%.100s: import: %.600s", name, err.message);
        return msg;
    }
    if (d2_verify_graph(g, &err) != D2_OK) {
        snprintf(msg, cap, "%.100s: verify: %.600s", name, err.message);
        d2_graph_free(g);
        return msg;
    }
    memset(inputs, 0, sizeof inputs);
    memset(outputs, 0, sizeof outputs);
    for (;; num_in++) {
        snprintf(path, sizeof path, DATA "%s/in%u.npy", name, num_in);
        FILE *f = fopen(path, "rb");
        if (!f)
            break;
        fclose(f);
        ck_assert_uint_lt(num_in, 8);
        ck_assert_int_eq(d2_npy_read_file(path, NULL, &inputs[num_in], &err), D2_OK);
    }
    ck_assert_uint_eq(num_in, g->num_inputs);
    ck_assert_uint_le(g->num_outputs, 32);
    if (d2_cpu_execute(g, inputs, num_in, outputs, g->num_outputs, d2_allocator_default(), &err) != D2_OK) {
        snprintf(msg, cap, "%.100s: run: %.600s", name, err.message);
        fail = msg;
    }
    for (uint32_t k = 0; !fail && k < g->num_outputs; k++) {
        snprintf(path, sizeof path, DATA "%s/out%u.npy", name, k);
        ck_assert_msg(d2_npy_read_file(path, NULL, &want, &err) == D2_OK, "%s: %s", name, err.message);
        const char *why = compare(&outputs[k], &want, rtol, atol);
        if (why) {
            snprintf(msg, cap, "%s: output %u (%s): %s", name, k,
                     g->values[g->outputs[k]].name ? g->values[g->outputs[k]].name : "?", why);
            fail = msg;
        }
        d2_tensor_release(&want, d2_allocator_default());
    }
    snprintf(path, sizeof path, DATA "%s/out%u.npy", name, g->num_outputs);
    {
        FILE *extra = fopen(path, "rb");
        if (extra && !fail) {
            snprintf(msg, cap, "%s: torch has more outputs than the graph (%u)", name, g->num_outputs);
            fail = msg;
        }
        if (extra)
            fclose(extra);
    }
    for (uint32_t k = 0; k < g->num_outputs; k++)
        d2_tensor_release(&outputs[k], d2_allocator_default());
    for (uint32_t k = 0; k < num_in; k++)
        d2_tensor_release(&inputs[k], d2_allocator_default());
    d2_graph_free(g);
    return fail;
}

START_TEST(op_cases_match_torch)
{
    DIR *dir = opendir(DATA);
    struct dirent *e;
    char msg[1024];
    int cases = 0, failures = 0;
    ck_assert_msg(dir != NULL, "no " DATA " (run from the repository root)");
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "unsupported_op") == 0)
            continue;
        cases++;
        const char *why = run_case(e->d_name, msg, sizeof msg);
        if (why) {
            printf("FAIL %s\n", why);
            failures++;
        }
    }
    closedir(dir);
    printf("torchscript op cases: %d passed, %d failed\n", cases - failures, failures);
    ck_assert_int_ge(cases, 20);
    ck_assert_int_eq(failures, 0);
}
END_TEST

START_TEST(unsupported_op_names_op_and_position)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = d2_torchscript_import_file(DATA "unsupported_op/model.ts", NULL, NULL, &err);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(err.code, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "aten::kthvalue") != NULL, "%s", err.message);
    ck_assert_msg(strstr(err.message, "code/__torch__.py:") != NULL, "%s", err.message);
    ck_assert_ptr_null(strchr(err.message, '\n'));
}
END_TEST

START_TEST(bad_options_and_files_fail_cleanly)
{
    struct d2_error err = { 0 };
    struct d2_torchscript_options opts = { 0 };
    char path[512];
    opts.input_shapes = "f99:1,2";
    ck_assert_ptr_null(d2_torchscript_import_file(DATA "unary_trace/model.ts", &opts, NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_INVALID_ARG);
    d2_error_clear(&err);
    opts.input_shapes = "f32:1,x";
    ck_assert_ptr_null(d2_torchscript_import_file(DATA "unary_trace/model.ts", &opts, NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_INVALID_ARG);
    d2_error_clear(&err);
    ck_assert_ptr_null(d2_torchscript_import_file(DATA "no_such_case/model.ts", NULL, NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_IO);
    d2_error_clear(&err);
    snprintf(path, sizeof path, DATA "unary_trace/in0.npy"); /* not a zip */
    ck_assert_ptr_null(d2_torchscript_import_file(path, NULL, NULL, &err));
    ck_assert_int_ne(err.code, D2_OK);
    ck_assert(err.message[0] != '\0');
    /* every truncation of a real archive fails cleanly or imports */
    {
        FILE *f = fopen(DATA "arith_script/model.ts", "rb");
        ck_assert_ptr_nonnull(f);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *data = malloc((size_t)n);
        ck_assert(fread(data, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
        opts.input_shapes = "f32:2,3;i64:2,3";
        for (long cut = 0; cut < n; cut += 97) {
            d2_error_clear(&err);
            struct d2_graph *g = d2_torchscript_import_buffer(data, (size_t)cut, &opts, NULL, &err);
            ck_assert(g == NULL && err.code != D2_OK && err.message[0]);
        }
        d2_error_clear(&err);
        struct d2_graph *g = d2_torchscript_import_buffer(data, (size_t)n, &opts, NULL, &err);
        ck_assert_msg(g != NULL, "%s", err.message);
        d2_graph_free(g);
        free(data);
    }
}
END_TEST

static struct d2_graph *import_shared(const char *model, const struct d2_torchscript_options *opts)
{
    char path[512];
    struct d2_error err = { 0 };
    snprintf(path, sizeof path, "%s/fixtures/detectron2/%s/model.ts", shared_root(), model);
    struct d2_graph *g = d2_torchscript_import_file(path, opts, NULL, &err);
    ck_assert_msg(g != NULL, "%s: %s", path, err.message);
    ck_assert_msg(d2_verify_graph(g, &err) == D2_OK, "%s: %s", path, err.message);
    return g;
}

static const char *output_name(const struct d2_graph *g, uint32_t k)
{
    return g->values[g->outputs[k]].name;
}

START_TEST(detectron2_traced_interface)
{
    struct d2_graph *g = import_shared("mask_rcnn/tracing_torchscript", NULL);
    ck_assert_uint_eq(g->num_inputs, 1);
    const struct d2_type *t = &g->values[g->inputs[0]].type;
    ck_assert_int_eq(t->dtype, D2_DTYPE_F32);
    ck_assert_int_eq(t->rank, 3);
    ck_assert_int_eq(t->dims[0], 3);
    ck_assert_int_eq(t->dims[1], D2_DIM_UNKNOWN);
    ck_assert_uint_eq(g->num_outputs, 5);
    ck_assert_str_eq(output_name(g, 0), "[0]");
    ck_assert_str_eq(output_name(g, 4), "[4]");
    ck_assert_str_eq(d2_graph_get_metadata(g, "source_format"), "torchscript");
    ck_assert_str_eq(d2_graph_get_metadata(g, "export_method"), "tracing");
    ck_assert_str_eq(d2_graph_get_metadata(g, "ts_outputs"), "[0, 1, 2, 3, 4]");
    ck_assert_str_eq(d2_graph_get_metadata(g, "ts_inputs"), "0");
    /* classes are int64, masks [n,1,28,28] */
    ck_assert_int_eq(g->values[g->outputs[1]].type.dtype, D2_DTYPE_I64);
    ck_assert_int_eq(g->values[g->outputs[2]].type.rank, 4);
    d2_graph_free(g);

    g = import_shared("retinanet/tracing_torchscript", NULL);
    ck_assert_uint_eq(g->num_outputs, 4);
    d2_graph_free(g);
}
END_TEST

START_TEST(detectron2_scripted_interface_and_batch)
{
    struct d2_torchscript_options opts = { 0 };
    struct d2_graph *g = import_shared("mask_rcnn/scripting_torchscript", NULL);
    ck_assert_uint_eq(g->num_inputs, 1);
    ck_assert_str_eq(g->values[g->inputs[0]].name, "[0].image");
    ck_assert_uint_eq(g->num_outputs, 4);
    /* dict keys flatten in sorted order (the Instances fields were set as pred_boxes,
     * scores, pred_classes, pred_masks) */
    ck_assert_str_eq(output_name(g, 0), "[0].pred_boxes");
    ck_assert_str_eq(output_name(g, 1), "[0].pred_classes");
    ck_assert_str_eq(output_name(g, 2), "[0].pred_masks");
    ck_assert_str_eq(output_name(g, 3), "[0].scores");
    ck_assert_str_eq(d2_graph_get_metadata(g, "export_method"), "scripting");
    ck_assert_str_eq(d2_graph_get_metadata(g, "ts_inputs"), "[{\"image\": 0}]");
    ck_assert_str_eq(d2_graph_get_metadata(g, "ts_outputs"),
                     "[{\"pred_boxes\": 0, \"pred_classes\": 1, \"pred_masks\": 2, \"scores\": 3}]");
    d2_graph_free(g);
    /* The input is a Tuple[Dict] of one element, but the adapter's model takes a list:
     * a batch of 2 runs model.inference() on two dicts (one ImageList) and returns
     * the fields of each image's Instances. */
    opts.batch = 2;
    g = import_shared("mask_rcnn/scripting_torchscript", &opts);
    ck_assert_uint_eq(g->num_inputs, 2);
    ck_assert_str_eq(g->values[g->inputs[0]].name, "[0].image");
    ck_assert_str_eq(g->values[g->inputs[1]].name, "[1].image");
    ck_assert_uint_eq(g->num_outputs, 8);
    ck_assert_str_eq(output_name(g, 4), "[1].pred_boxes");
    ck_assert_str_eq(output_name(g, 7), "[1].scores");
    ck_assert_str_eq(d2_graph_get_metadata(g, "ts_inputs"), "[{\"image\": 0}, {\"image\": 1}]");
    d2_graph_free(g);
}
END_TEST

/* An allocator that fails from the n-th request on and counts live blocks. */
struct failing {
    long budget;   /* allocations left before failing; < 0: never fail */
    long live;
};

static void *failing_realloc(void *user, void *ptr, size_t size)
{
    struct failing *f = user;
    if (size == 0) {
        if (ptr)
            f->live--;
        free(ptr);
        return NULL;
    }
    if (f->budget == 0)
        return NULL;
    if (f->budget > 0)
        f->budget--;
    void *q = realloc(ptr, size);
    if (q && !ptr)
        f->live++;
    return q;
}

/* Under failing allocations an import fails with an error (or succeeds when the
 * budget suffices), never crashes, and frees everything it took. */
START_TEST(allocation_failures_are_clean)
{
    struct failing f = { -1, 0 };
    struct d2_allocator alloc = { failing_realloc, &f };
    struct d2_torchscript_options opts = { 0 };
    struct d2_error err = { 0 };
    struct d2_graph *g;
    long total;
    opts.input_shapes = "f32:?n,3";
    /* count the allocations a successful import makes */
    f.budget = 1L << 40;
    g = d2_torchscript_import_file(DATA "loops_script/model.ts", &opts, &alloc, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    total = (1L << 40) - f.budget;
    d2_graph_free(g);
    ck_assert_int_eq(f.live, 0);
    for (long n = 0; n < total; n += 1 + n / 16) {
        f.budget = n;
        f.live = 0;
        d2_error_clear(&err);
        g = d2_torchscript_import_file(DATA "loops_script/model.ts", &opts, &alloc, &err);
        if (g) {
            d2_graph_free(g);
        } else {
            ck_assert_msg(err.code != D2_OK && err.message[0], "budget %ld: no error", n);
        }
        ck_assert_msg(f.live == 0, "budget %ld: %ld blocks leaked (%s)", n, f.live, err.message);
    }
}
END_TEST

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    ck_assert(fread(data, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

START_TEST(format_detection)
{
    size_t size;
    unsigned char *data = slurp(DATA "arith_trace/model.ts", &size);
    ck_assert_int_eq(d2_detect_format(data, size), D2_FORMAT_TORCHSCRIPT);
    ck_assert_int_eq(d2_detect_format(data, size / 2), D2_FORMAT_TORCHSCRIPT); /* the importer explains */
    free(data);
    data = slurp("tests/data/torchscript_plain.zip", &size);
    ck_assert_int_eq(d2_detect_format(data, size), D2_FORMAT_UNKNOWN);
    free(data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ts_import");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, op_cases_match_torch);
    tcase_add_test(tc, unsupported_op_names_op_and_position);
    tcase_add_test(tc, bad_options_and_files_fail_cleanly);
    tcase_add_test(tc, detectron2_traced_interface);
    tcase_add_test(tc, detectron2_scripted_interface_and_batch);
    tcase_add_test(tc, format_detection);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
