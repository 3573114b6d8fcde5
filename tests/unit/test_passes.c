/* tests/unit/test_passes.c: the pass pipeline (passes/pipeline.c) and golden pass
 * tests.
 *
 * Golden tests: every tests/passes/<name>.d2ir holds
 *     # passes: dce[,other]        the passes to run, in pipeline order
 *     <the input graph in IR text>
 *     # expect:
 *     # <expected IR text, each line behind "# ">
 * so the whole file is itself valid IR text (the expectation is comments). A memory
 * plan (passes/memplan.c) is compared too, printed after the IR as comment lines. The
 * runner parses the file, runs the listed passes with verification on, and
 * compares the printed result with the expectation byte for byte; running the
 * passes a second time must change nothing (passes are idempotent). Run from the
 * repository root.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "ir/ir.h"
#include "passes/passes.h"

#define GOLDEN_DIR "tests/passes"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    ck_assert(fread(text, 1, (size_t)n, f) == (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The "# passes:" list (copied into out) and the "# expect:" text (malloc'd). */
static char *split_golden(const char *path, const char *text, char *passes, size_t passes_size)
{
    const char *p = strstr(text, "# passes:"), *expect = strstr(text, "\n# expect:\n");
    size_t n;
    char *out, *o;
    ck_assert_msg(p != NULL && expect != NULL, "%s: needs '# passes:' and '# expect:' lines", path);
    p += strlen("# passes:");
    while (*p == ' ')
        p++;
    n = strcspn(p, "\n");
    ck_assert(n < passes_size);
    memcpy(passes, p, n);
    passes[n] = '\0';
    expect += strlen("\n# expect:\n");
    out = o = malloc(strlen(expect) + 1);
    while (*expect) {
        size_t len = strcspn(expect, "\n");
        ck_assert_msg(expect[0] == '#', "%s: expectation line without '#': %.*s", path, (int)len, expect);
        if (len >= 2 && expect[1] == ' ') {
            memcpy(o, expect + 2, len - 2);
            o += len - 2;
        }
        *o++ = '\n';
        expect += len + (expect[len] == '\n');
    }
    *o = '\0';
    return out;
}

/* The printed IR, followed by the memory plan (which the IR text does not show) as
 * comment lines: "# memory plan: arena N bytes, naive M bytes" and "# %name @offset
 * size" per planned value in value order. malloc'd. */
static char *print_with_plan(const struct d2_graph *g, struct d2_error *err)
{
    char *text = d2_print_graph(g, NULL, err), *out;
    size_t n, cap;
    if (!text || !g->memory_plan)
        return text;
    n = strlen(text);
    cap = n + 128 + (size_t)g->num_values * 160;
    out = malloc(cap);
    memcpy(out, text, n + 1);
    free(text);
    n += (size_t)snprintf(out + n, cap - n, "# memory plan: arena %llu bytes, naive %llu bytes\n",
                          (unsigned long long)g->memory_plan->arena_bytes,
                          (unsigned long long)g->memory_plan->naive_bytes);
    for (d2_value_id v = 0; v < g->num_values; v++)
        if (g->memory_plan->offsets[v] >= 0)
            n += (size_t)snprintf(out + n, cap - n, "# %%%.100s @%lld %llu\n", g->values[v].name,
                                  (long long)g->memory_plan->offsets[v],
                                  (unsigned long long)g->memory_plan->sizes[v]);
    return out;
}

static int golden_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".d2ir") == 0;
}

START_TEST(golden_pass_tests)
{
    struct dirent **files;
    int count = scandir(GOLDEN_DIR, &files, golden_filter, alphasort), failures = 0;
    ck_assert_msg(count > 0, "no golden tests in %s (run from the repository root)", GOLDEN_DIR);
    for (int i = 0; i < count; i++) {
        char path[512], passes[256];
        struct d2_error err = { D2_OK, "" };
        struct d2_pass_options options = { .verify = true };
        char *text, *expected, *got = NULL, *again = NULL;
        struct d2_graph *g;
        snprintf(path, sizeof path, GOLDEN_DIR "/%.400s", files[i]->d_name);
        text = read_file(path);
        expected = split_golden(path, text, passes, sizeof passes);
        options.only = passes;
        g = d2_parse_graph(text, strlen(text), NULL, &err);
        if (!g) {
            printf("%s: %s\n", path, err.message);
            failures++;
        } else if (d2_run_passes(g, &options, &err) != D2_OK) {
            printf("%s: %s\n", path, err.message);
            failures++;
        } else {
            got = print_with_plan(g, &err);
            if (strcmp(got, expected) != 0) {
                printf("%s: result differs\n--- expected:\n%s--- got:\n%s", path, expected, got);
                failures++;
            } else if (d2_run_passes(g, &options, &err) != D2_OK ||
                       strcmp((again = print_with_plan(g, &err)), got) != 0) {
                printf("%s: a second run changed the graph or failed: %s\n", path, err.message);
                failures++;
            }
        }
        free(again);
        free(got);
        free(expected);
        free(text);
        d2_graph_free(g);
        free(files[i]);
    }
    free(files);
    fflush(stdout); /* the listing must survive Check's forked child */
    ck_assert_msg(failures == 0, "%d golden pass tests failed (listed above)", failures);
}
END_TEST

START_TEST(pipeline_table_is_ordered)
{
    uint32_t count;
    const struct d2_pass *table = d2_pass_table(&count);
    ck_assert_uint_ge(count, 2);
    ck_assert_str_eq(table[0].name, "infer_shapes");
    /* Lowering runs before dce, which removes what the lowering leaves unread. */
    ck_assert_ptr_nonnull(d2_pass_find("dce"));
    ck_assert(d2_pass_find("lower_roi_align") < d2_pass_find("dce"));
    ck_assert(d2_pass_find("lower_nms") < d2_pass_find("dce"));
    ck_assert(d2_pass_find("lower_roi_align") < d2_pass_find("roialign_aligned"));
    ck_assert(d2_pass_find("roialign_aligned") < d2_pass_find("dce"));
    ck_assert(d2_pass_find("roialign_aligned")->opt_in);
    ck_assert(!d2_pass_find("lower_nms")->opt_in);
    ck_assert_ptr_null(d2_pass_find("nope"));
}
END_TEST

START_TEST(unknown_pass_is_rejected)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_graph_new(NULL, &err);
    struct d2_pass_options options = { .only = "dce, dcee" };
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_ERR_INVALID_ARG);
    ck_assert_str_eq(err.message, "unknown pass 'dcee'");
    d2_graph_free(g);
}
END_TEST

struct dump_log {
    int calls;
    char last_pass[32];
    char text[1024];
};

static void record_dump(void *user, const char *pass, const char *ir_text)
{
    struct dump_log *log = user;
    log->calls++;
    snprintf(log->last_pass, sizeof log->last_pass, "%s", pass);
    snprintf(log->text, sizeof log->text, "%s", ir_text);
}

START_TEST(dump_callback_sees_ir_after_the_pass)
{
    const char *text = "graph main(%x: f32[2]) {\n  %d: f32[2] = exp(%x)\n  return %x\n}\n";
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    struct dump_log log = { 0, "", "" };
    struct d2_pass_options options = { .only = "dce", .dump_after = "dce", .dump = record_dump, .dump_user = &log, .verify = true };
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_OK);
    ck_assert_int_eq(log.calls, 1);
    ck_assert_str_eq(log.last_pass, "dce");
    ck_assert_str_eq(log.text, "graph main(%x: f32[2]) {\n  return %x\n}\n");
    options.dump_after = "infer_shapes"; /* a pass that does not run: no dump */
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_OK);
    ck_assert_int_eq(log.calls, 1);
    options.dump_after = "all";
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_OK);
    ck_assert_int_eq(log.calls, 2);
    d2_graph_free(g);
}
END_TEST

START_TEST(verification_failure_names_the_pass)
{
    const char *text = "graph main(%x: f32[2], %p: i64[2]) {\n  %y = pad(%x, %p)\n  return %y\n}\n";
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    struct d2_pass_options options = { .only = "dce", .verify = true };
    ((struct d2_attrs_pad *)g->nodes[0].attrs)->mode = 17; /* corrupt: the pass keeps it */
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_ERR_INTERNAL);
    ck_assert_msg(strstr(err.message, "after pass dce") && strstr(err.message, "(pad): attribute mode = 17"), "%s",
                  err.message);
    d2_graph_free(g);
}
END_TEST


/* ---- specialize_shapes: requests and errors ---- */

static struct d2_graph *parse_text(const char *text)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    return g;
}

START_TEST(specialize_request_and_errors)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_pass_options options = { "infer_shapes,specialize_shapes", NULL, NULL, NULL, true, false };
    struct d2_graph *g = parse_text("graph main(%x: f32[?b,3,?h,?w]) {\n  return %x\n}\n");
    ck_assert_int_eq(d2_request_shape_specialization(g, 2, 0, 7, &err), D2_OK);
    ck_assert_str_eq(d2_graph_get_metadata(g, "specialize_shapes"), "batch=2,width=7");
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_OK);
    ck_assert_int_eq(g->values[g->inputs[0]].type.dims[0], 2);
    ck_assert_int_eq(g->values[g->inputs[0]].type.dims[2], -1); /* height stays dynamic */
    ck_assert_int_eq(g->values[g->inputs[0]].type.dims[3], 7);
    ck_assert_int_eq(d2_request_shape_specialization(g, -1, 0, 0, &err), D2_ERR_INVALID_ARG);
    d2_graph_free(g);

    /* A known dim that differs from the request. */
    g = parse_text("graph main(%x: f32[3,375,320]) {\n  return %x\n}\n");
    d2_error_clear(&err);
    ck_assert_int_eq(d2_request_shape_specialization(g, 0, 800, 0, &err), D2_OK);
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "input 'x': the height is 375, cannot specialize it to 800"), "%s",
                  err.message);
    d2_graph_free(g);

    /* No image input, and a malformed request. */
    g = parse_text("meta \"specialize_shapes\" = \"height=8\"\ngraph main(%ids: i64[?n]) {\n  return %ids\n}\n");
    d2_error_clear(&err);
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "no image input"), "%s", err.message);
    d2_graph_free(g);
    g = parse_text("meta \"specialize_shapes\" = \"height=eight\"\ngraph main(%x: f32[1,3,?h,?w]) {\n  return %x\n}\n");
    d2_error_clear(&err);
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "expected batch=N,height=H,width=W"), "%s", err.message);
    d2_graph_free(g);
}
END_TEST

/* ---- the optimizations keep what the graph computes ---- */

/* A small detectron2-like graph: a traced shape chain, conv + FrozenBN (mul, add),
 * conv + batch_norm + residual + relu, a conv_transpose + batch_norm, duplicate
 * subexpressions. The whole pipeline must leave the results unchanged (within float
 * rounding: folding changes the order of roundings). */
static const char optimizable_graph[] =
    "graph main(%x: f32[1,2,5,4]) {\n"
    "  %w1: f32[3,2,3,3] = const [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1, -1.1, 1.2, 0.13, -0.14, 0.15,\n"
    "    0.16, -0.17, 0.18, 0.19, -0.2, 0.21, 0.22, -0.23, 0.24, 0.25, -0.26, 0.27, 0.28, -0.29, 0.3, 0.31, -0.32,\n"
    "    0.33, 0.34, -0.35, 0.36, 0.37, -0.38, 0.39, 0.4, -0.41, 0.42, 0.43, -0.44, 0.45, 0.46, -0.47, 0.48, 0.49,\n"
    "    -0.5, 0.51, 0.52, -0.53, 0.54]\n"
    "  %scale: f32[1,3,1,1] = const [0.5, 2, -1.5]\n"
    "  %shift: f32[1,3,1,1] = const [0.25, -0.75, 1]\n"
    "  %w2: f32[3,3,1,1] = const [1, 0.5, -0.25, 0.75, -1, 0.5, 0.2, 0.3, -0.4]\n"
    "  %g: f32[3] = const [1.5, 0.5, 2]\n"
    "  %be: f32[3] = const [0.1, -0.2, 0.3]\n"
    "  %mu: f32[3] = const [0.05, -0.1, 0.2]\n"
    "  %var: f32[3] = const [0.9, 1.1, 0.5]\n"
    "  %wt: f32[3,2,2,2] = const [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, -0.1, -0.2, -0.3, -0.4, -0.5, -0.6,\n"
    "    -0.7, -0.8, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85]\n"
    "  %g2: f32[2] = const [0.7, 1.3]\n"
    "  %be2: f32[2] = const [0.01, -0.02]\n"
    "  %mu2: f32[2] = const [0.3, -0.3]\n"
    "  %var2: f32[2] = const [2, 0.25]\n"
    "  %i0: i64[] = const [0]\n"
    "  %i1: i64[] = const [1]\n"
    "  %ax: i64[1] = const [0]\n"
    "  %m1: i64[1] = const [-1]\n"
    "  %c1 = conv(%x, %w1) {pads=[1,1,1,1]}\n"
    "  %f1 = mul(%c1, %scale)\n"
    "  %f2 = add(%f1, %shift)\n"
    "  %r1 = relu(%f2)\n"
    "  %c2 = conv(%r1, %w2)\n"
    "  %bn = batch_norm(%c2, %g, %be, %mu, %var) {epsilon=0.001}\n"
    "  %sum = add(%bn, %r1)\n"
    "  %r2 = relu(%sum)\n"
    "  %r2b = relu(%sum)\n"
    "  %both = add(%r2, %r2b)\n"
    "  %up = conv_transpose(%both, %wt) {strides=[2,2]}\n"
    "  %bn2 = batch_norm(%up, %g2, %be2, %mu2, %var2)\n"
    "  %s = shape(%bn2)\n"
    "  %n = gather(%s, %i0)\n"
    "  %c = gather(%s, %i1)\n"
    "  %nu = unsqueeze(%n, %ax)\n"
    "  %cu = unsqueeze(%c, %ax)\n"
    "  %target = concat(%nu, %cu, %m1) {axis=0}\n"
    "  %flat = reshape(%bn2, %target)\n"
    "  return %flat\n"
    "}\n";

START_TEST(pipeline_keeps_results)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = parse_text(optimizable_graph);
    struct d2_tensor in, before, after;
    struct d2_pass_options verify = { NULL, NULL, NULL, NULL, true, false };
    int64_t dims[4] = { 1, 2, 5, 4 };
    uint32_t nodes_before, convs = 0, fused = 0, others = 0;
    double worst = 0;

    ck_assert_int_eq(d2_infer_graph(g, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in, NULL, D2_DTYPE_F32, 4, dims, &err), D2_OK);
    for (int i = 0; i < 40; i++)
        ((float *)in.data)[i] = (float)((i * 37 % 23) - 11) / 7.0f;
    ck_assert_msg(d2_cpu_execute(g, &in, 1, &before, 1, NULL, &err) == D2_OK, "%s", err.message);
    nodes_before = g->num_nodes;
    ck_assert_msg(d2_run_passes(g, &verify, &err) == D2_OK, "%s", err.message);
    ck_assert_msg(d2_cpu_execute(g, &in, 1, &after, 1, NULL, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(before.rank, 3);
    ck_assert_int_eq(after.rank, 3);
    ck_assert_int_eq(after.dims[2], before.dims[2]);
    for (int64_t i = 0; i < d2_tensor_numel(&before); i++) {
        double d = fabs((double)((float *)before.data)[i] - (double)((float *)after.data)[i]);
        worst = d > worst ? d : worst;
    }
    ck_assert_msg(worst < 1e-5, "optimized graph differs by %g", worst);
    /* What the passes made of it: the conv + FrozenBN + relu and the conv + bn +
     * residual + relu are fused_conv, the duplicate relu merged, the bn after the
     * conv_transpose folded, the shape chain a constant. */
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        if (g->nodes[n].op == D2_OP_FUSED_CONV)
            fused++;
        else if (g->nodes[n].op == D2_OP_CONV_TRANSPOSE)
            convs++;
        else
            others++;
    }
    ck_assert_uint_eq(fused, 2);
    ck_assert_uint_eq(convs, 1);
    ck_assert_uint_eq(others, 2); /* add(%r2, %r2) and the reshape */
    ck_assert_uint_lt(g->num_nodes, nodes_before);
    d2_tensor_release(&in, NULL);
    d2_tensor_release(&before, NULL);
    d2_tensor_release(&after, NULL);
    d2_graph_free(g);
}
END_TEST


/* ---- loop_concat_scan: the scan output equals the carried concat ---- */

static const char append_loop_graph[] =
    "graph main(%n: i64[], %img: f32[2,3]) {\n"
    "  %empty: f32[0,2,3] = const []\n"
    "  %zero: f32[] = const [0]\n"
    "  %all: f32[?,2,3], %count: f32[] = loop(%n, _, %empty, %zero, %img) {num_carried=2} {\n"
    "    graph body(%i: i64[], %cond: bool[], %acc: f32[?,2,3], %c: f32[], %x: f32[2,3]) {\n"
    "      %axes: i64[1] = const [0]\n"
    "      %one: f32[] = const [1]\n"
    "      %fi: f32[] = cast(%i) {to=f32}\n"
    "      %y: f32[?,?] = add(%x, %fi)\n"
    "      %y1: f32[1,?,?] = unsqueeze(%y, %axes)\n"
    "      %grown: f32[?,2,3] = concat(%acc, %y1) {axis=0}\n"
    "      %c2: f32[] = add(%c, %one)\n"
    "      return %cond, %grown, %c2\n"
    "    }\n"
    "  }\n"
    "  return %all, %count\n"
    "}\n";

/* Same dtype, dims and bytes. */
static void assert_same_tensor(const struct d2_tensor *a, const struct d2_tensor *b, int64_t trips)
{
    ck_assert_msg(a->dtype == b->dtype && a->rank == b->rank, "trips %lld: dtype or rank differs", (long long)trips);
    for (int32_t d = 0; d < a->rank; d++)
        ck_assert_msg(a->dims[d] == b->dims[d], "trips %lld: dim %d is %lld, was %lld", (long long)trips, (int)d,
                      (long long)b->dims[d], (long long)a->dims[d]);
    ck_assert(a->nbytes == b->nbytes);
    ck_assert_msg(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0, "trips %lld: values differ",
                  (long long)trips);
}

START_TEST(loop_concat_scan_keeps_results)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *before = parse_text(append_loop_graph), *after = parse_text(append_loop_graph);
    struct d2_pass_options options = { "loop_concat_scan,dce", NULL, NULL, NULL, true, false };
    int64_t img_dims[2] = { 2, 3 };
    struct d2_tensor in[2];

    ck_assert_msg(d2_run_passes(after, &options, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(((const struct d2_attrs_loop *)after->nodes[0].attrs)->num_carried, 1);
    ck_assert_int_eq(d2_tensor_alloc(&in[0], NULL, D2_DTYPE_I64, 0, NULL, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in[1], NULL, D2_DTYPE_F32, 2, img_dims, &err), D2_OK);
    for (int i = 0; i < 6; i++)
        ((float *)in[1].data)[i] = 0.5f * (float)i - 1.0f;
    /* Zero trips (the empty initial value comes back, [0,2,3]), one, several. */
    for (int64_t trips = 0; trips <= 3; trips++) {
        struct d2_tensor want[2], got[2];
        ((int64_t *)in[0].data)[0] = trips;
        ck_assert_msg(d2_cpu_execute(before, in, 2, want, 2, NULL, &err) == D2_OK, "%s", err.message);
        ck_assert_msg(d2_cpu_execute(after, in, 2, got, 2, NULL, &err) == D2_OK, "%s", err.message);
        ck_assert_int_eq(want[0].dims[0], trips);
        assert_same_tensor(&want[0], &got[0], trips);
        assert_same_tensor(&want[1], &got[1], trips);
        for (int k = 0; k < 2; k++) {
            d2_tensor_release(&want[k], NULL);
            d2_tensor_release(&got[k], NULL);
        }
    }
    d2_tensor_release(&in[0], NULL);
    d2_tensor_release(&in[1], NULL);
    d2_graph_free(before);
    d2_graph_free(after);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("passes");
    TCase *tc = tcase_create("passes");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, golden_pass_tests);
    tcase_add_test(tc, pipeline_table_is_ordered);
    tcase_add_test(tc, unknown_pass_is_rejected);
    tcase_add_test(tc, dump_callback_sees_ir_after_the_pass);
    tcase_add_test(tc, verification_failure_names_the_pass);
    tcase_add_test(tc, specialize_request_and_errors);
    tcase_add_test(tc, pipeline_keeps_results);
    tcase_add_test(tc, loop_concat_scan_keeps_results);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
