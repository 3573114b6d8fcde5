/* tests/unit/test_lower_detect.c: the detection lowering passes keep what the graph
 * computes (passes/lower_roi_align.c, passes/lower_nms.c), and the roialign_aligned
 * option reaches the passes through the loaders (runtime/load.h, include/d2rt.h).
 *
 * Equivalence tests: the same graph runs once as imported (the ONNX ops and their
 * kernels, themselves checked against onnx/onnxruntime references in tests/ops) and
 * once after the lowering pass (the shared box_* ops); the pass must have rewritten
 * the graph, and the outputs must agree: NMS index lists exactly, RoIAlign values to
 * float rounding (box_roi_align computes the geometry in float as torchvision does,
 * the onnx kernel in double). Inputs are pseudo-random with a fixed seed, and include
 * the cases where the RoIAlign modes differ (rois smaller than a pixel, where only
 * the legacy mode clamps the size to 1; rois crossing the border). The IR structure
 * of the rewrites is covered by the golden tests in tests/passes/.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "d2rt.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "runtime/artifact.h"
#include "runtime/load.h"

static uint64_t rng_state;

static double uniform(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

static struct d2_graph *parse(const char *text)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    return g;
}

static void run_passes(struct d2_graph *g, const char *only)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_pass_options options = { .only = only, .verify = true };
    ck_assert_msg(d2_run_passes(g, &options, &err) == D2_OK, "%s", err.message);
}

static uint32_t count_op(const struct d2_graph *g, enum d2_op op)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->num_nodes; i++) {
        n += g->nodes[i].op == op;
        for (uint32_t r = 0; r < g->nodes[i].num_regions; r++)
            n += count_op(g->nodes[i].regions[r], op);
    }
    return n;
}

static void execute(const struct d2_graph *g, const struct d2_tensor *inputs, uint32_t num_inputs,
                    struct d2_tensor *outputs, uint32_t num_outputs)
{
    struct d2_error err = { D2_OK, "" };
    ck_assert_msg(d2_cpu_execute(g, inputs, num_inputs, outputs, num_outputs, NULL, &err) == D2_OK, "%s",
                  err.message);
}

static void new_tensor(struct d2_tensor *t, enum d2_dtype dtype, int32_t rank, const int64_t *dims)
{
    struct d2_error err = { D2_OK, "" };
    ck_assert(d2_tensor_alloc(t, NULL, dtype, rank, dims, &err) == D2_OK);
}

/* ---- roi_align -> box_roi_align ------------------------------------------------ */

static const char roi_graph[] =
    "graph main(%x: f32[2,3,12,10], %rois: f32[?,4], %batch: i64[?]) {\n"
    "  %legacy: f32[?,3,4,3] = roi_align(%x, %rois, %batch) {output_height=4, output_width=3, "
    "spatial_scale=0.5, coordinate_transformation_mode=output_half_pixel}\n"
    "  %legacy_sr: f32[?,3,2,2] = roi_align(%x, %rois, %batch) {output_height=2, output_width=2, "
    "sampling_ratio=2, spatial_scale=0.5, coordinate_transformation_mode=output_half_pixel}\n"
    "  %half: f32[?,3,4,3] = roi_align(%x, %rois, %batch) {output_height=4, output_width=3, spatial_scale=0.5}\n"
    "  %half_sr: f32[?,3,3,5] = roi_align(%x, %rois, %batch) {output_height=3, output_width=5, "
    "sampling_ratio=3, spatial_scale=0.5}\n"
    "  return %legacy, %legacy_sr, %half, %half_sr\n"
    "}\n";

START_TEST(lowered_roi_align_computes_the_same)
{
    enum { ROIS = 40 };
    int64_t x_dims[4] = { 2, 3, 12, 10 }, roi_dims[2] = { ROIS, 4 }, batch_dims[1] = { ROIS };
    struct d2_tensor in[3], before[4], after[4];
    struct d2_graph *onnx_form = parse(roi_graph), *lowered = parse(roi_graph);
    rng_state = 12345;
    new_tensor(&in[0], D2_DTYPE_F32, 4, x_dims);
    new_tensor(&in[1], D2_DTYPE_F32, 2, roi_dims);
    new_tensor(&in[2], D2_DTYPE_I64, 1, batch_dims);
    for (int64_t i = 0; i < d2_tensor_numel(&in[0]); i++)
        ((float *)in[0].data)[i] = (float)uniform(-1.0, 1.0);
    for (int r = 0; r < ROIS; r++) {
        float *roi = (float *)in[1].data + 4 * r;
        /* Coordinates in input pixels (spatial_scale 0.5: feature map 10x12 is 20x24):
         * a quarter of the rois are smaller than a feature pixel, some cross the border. */
        double w = r % 4 == 0 ? uniform(0.0, 1.5) : uniform(1.0, 22.0);
        double h = r % 4 == 1 ? uniform(0.0, 1.5) : uniform(1.0, 26.0);
        roi[0] = (float)uniform(-4.0, 22.0);
        roi[1] = (float)uniform(-4.0, 26.0);
        roi[2] = (float)(roi[0] + w);
        roi[3] = (float)(roi[1] + h);
        ((int64_t *)in[2].data)[r] = r % 2;
    }
    run_passes(onnx_form, "infer_shapes");
    run_passes(lowered, "infer_shapes,lower_roi_align");
    ck_assert_uint_eq(count_op(onnx_form, D2_OP_ROI_ALIGN), 4);
    ck_assert_uint_eq(count_op(lowered, D2_OP_BOX_ROI_ALIGN), 4);
    ck_assert_uint_eq(count_op(lowered, D2_OP_ROI_ALIGN), 0);
    execute(onnx_form, in, 3, before, 4);
    execute(lowered, in, 3, after, 4);
    for (int k = 0; k < 4; k++) {
        double worst = 0.0;
        ck_assert_int_eq(before[k].rank, after[k].rank);
        ck_assert_mem_eq(before[k].dims, after[k].dims, sizeof(int64_t) * 4);
        for (int64_t i = 0; i < d2_tensor_numel(&before[k]); i++)
            worst = fmax(worst, fabs((double)((float *)before[k].data)[i] - ((float *)after[k].data)[i]));
        ck_assert_msg(worst <= 2e-6, "output %d: max |difference| %g", k, worst);
        d2_tensor_release(&before[k], NULL);
        d2_tensor_release(&after[k], NULL);
    }
    /* The legacy and aligned modes must really differ on these inputs, or the
     * comparison above could not tell a swapped mapping. */
    run_passes(lowered, "infer_shapes");
    execute(lowered, in, 3, after, 4);
    {
        double apart = 0.0;
        for (int64_t i = 0; i < d2_tensor_numel(&after[0]); i++)
            apart = fmax(apart, fabs((double)((float *)after[0].data)[i] - ((float *)after[2].data)[i]));
        ck_assert_msg(apart > 0.05, "legacy and half_pixel outputs too close (%g)", apart);
    }
    for (int k = 0; k < 4; k++)
        d2_tensor_release(&after[k], NULL);
    for (int i = 0; i < 3; i++)
        d2_tensor_release(&in[i], NULL);
    d2_graph_free(onnx_form);
    d2_graph_free(lowered);
}
END_TEST

/* ---- NMS patterns -> box_nms / box_batched_nms ---------------------------------- */

/* torchvision's traced batched_nms (coordinate trick) and plain nms, as exported. */
static const char nms_graph[] =
    "graph main(%boxes: f32[?,4], %scores: f32[?], %idxs: i64[?]) {\n"
    "  %one: f32[] = const [1]\n"
    "  %axis0: i64[1] = const [0]\n"
    "  %axis1: i64[1] = const [1]\n"
    "  %huge: i64[1] = const [9223372036854775807]\n"
    "  %iou: f32[1] = const [0.5]\n"
    "  %iou7: f32[1] = const [0.7]\n"
    "  %column: i64[1] = const [2]\n"
    "  %m: f32[] = reduce_max(%boxes) {keepdims=0}\n"
    "  %ids: f32[?] = cast(%idxs) {to=f32}\n"
    "  %stride: f32[] = add(%m, %one)\n"
    "  %off: f32[?] = mul(%ids, %stride)\n"
    "  %off2: f32[?,1] = unsqueeze(%off, %axis1)\n"
    "  %shifted: f32[?,4] = add(%boxes, %off2)\n"
    "  %b3s: f32[1,?,4] = unsqueeze(%shifted, %axis0)\n"
    "  %s2: f32[1,?] = unsqueeze(%scores, %axis0)\n"
    "  %s3: f32[1,1,?] = unsqueeze(%s2, %axis0)\n"
    "  %sel_batched: i64[?,3] = non_max_suppression(%b3s, %s3, %huge, %iou)\n"
    "  %keep_batched: i64[?,1] = gather(%sel_batched, %column) {axis=1}\n"
    "  %b3: f32[1,?,4] = unsqueeze(%boxes, %axis0)\n"
    "  %sel: i64[?,3] = non_max_suppression(%b3, %s3, %huge, %iou7)\n"
    "  %keep: i64[?,1] = gather(%sel, %column) {axis=1}\n"
    "  return %keep_batched, %keep\n"
    "}\n";

START_TEST(lowered_nms_selects_the_same)
{
    enum { N = 300 };
    int64_t box_dims[2] = { N, 4 }, n_dims[1] = { N };
    struct d2_tensor in[3], before[2], after[2];
    struct d2_graph *onnx_form = parse(nms_graph), *lowered = parse(nms_graph);
    rng_state = 777;
    new_tensor(&in[0], D2_DTYPE_F32, 2, box_dims);
    new_tensor(&in[1], D2_DTYPE_F32, 1, n_dims);
    new_tensor(&in[2], D2_DTYPE_I64, 1, n_dims);
    for (int i = 0; i < N; i++) {
        float *b = (float *)in[0].data + 4 * i;
        /* Clustered boxes (detectron2's are clipped, >= 0), so that many overlap. */
        double cx = 20.0 * (double)(i % 7) + uniform(0, 12), cy = 15.0 * (double)(i % 5) + uniform(0, 12);
        double w = uniform(2, 40), h = uniform(2, 40);
        b[0] = (float)fmax(0.0, cx - w / 2);
        b[1] = (float)fmax(0.0, cy - h / 2);
        b[2] = (float)(cx + w / 2);
        b[3] = (float)(cy + h / 2);
        ((float *)in[1].data)[i] = (float)uniform(0, 1);
        ((int64_t *)in[2].data)[i] = (int64_t)(uniform(0, 4));
    }
    ((float *)in[1].data)[7] = ((float *)in[1].data)[3]; /* a tie: lower index first in both */
    run_passes(onnx_form, "infer_shapes");
    run_passes(lowered, "infer_shapes,lower_nms,dce");
    ck_assert_uint_eq(count_op(lowered, D2_OP_NON_MAX_SUPPRESSION), 0);
    ck_assert_uint_eq(count_op(lowered, D2_OP_BOX_BATCHED_NMS), 1);
    ck_assert_uint_eq(count_op(lowered, D2_OP_BOX_NMS), 1);
    execute(onnx_form, in, 3, before, 2);
    execute(lowered, in, 3, after, 2);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(before[k].rank, 2);
        ck_assert_int_eq(after[k].rank, 2);
        ck_assert_int_eq(before[k].dims[0], after[k].dims[0]);
        /* Some suppression happened, and not everything: the test can tell. */
        ck_assert_int_gt(before[k].dims[0], 10);
        ck_assert_int_lt(before[k].dims[0], N - 10);
        ck_assert_mem_eq(before[k].data, after[k].data, before[k].nbytes);
        d2_tensor_release(&before[k], NULL);
        d2_tensor_release(&after[k], NULL);
    }
    for (int i = 0; i < 3; i++)
        d2_tensor_release(&in[i], NULL);
    d2_graph_free(onnx_form);
    d2_graph_free(lowered);
}
END_TEST

/* ---- the roialign_aligned option through the loaders ---------------------------- */

static const char opset11_text[] =
    "meta \"source_format\" = \"onnx\"\n"
    "meta \"opset\" = \"11\"\n"
    "meta \"producer_name\" = \"pytorch\"\n"
    "graph main(%x: f32[1,2,8,8], %rois: f32[?,4], %batch: i64[?]) {\n"
    "  %y: f32[?,2,2,2] = roi_align(%x, %rois, %batch) {output_height=2, output_width=2, "
    "coordinate_transformation_mode=output_half_pixel}\n"
    "  return %y\n"
    "}\n";

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    ck_assert(fputs(text, f) >= 0);
    ck_assert(fclose(f) == 0);
}

static int32_t only_roi_aligned(const struct d2_graph *g)
{
    ck_assert_uint_eq(g->num_nodes, 1);
    ck_assert_int_eq(g->nodes[0].op, D2_OP_BOX_ROI_ALIGN);
    return (int32_t)((const struct d2_attrs_box_roi_align *)g->nodes[0].attrs)->aligned;
}

START_TEST(roialign_aligned_option_reaches_the_passes)
{
    char src[] = "/tmp/d2rt_lower_XXXXXX";
    char ir_path[64];
    int fd = mkstemp(src);
    struct d2_error err = { D2_OK, "" };
    struct d2_compile_options aligned = { .roialign_aligned = true };
    struct d2_graph *g;
    ck_assert(fd >= 0);
    close(fd);
    write_text(src, opset11_text);
    snprintf(ir_path, sizeof ir_path, "%s.ir", src);

    /* Default: lowered, still legacy; the warning predicate fires. */
    g = d2_load_model_file(src, NULL, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_int_eq(only_roi_aligned(g), 0);
    ck_assert(d2_graph_has_legacy_onnx_roialign(g));
    ck_assert_ptr_null(d2_graph_get_metadata(g, "roialign_aligned"));
    d2_graph_free(g);

    /* With the option: aligned, recorded, no warning. */
    g = d2_load_model_file_with(src, NULL, &aligned, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_int_eq(only_roi_aligned(g), 1);
    ck_assert(!d2_graph_has_legacy_onnx_roialign(g));
    ck_assert_str_eq(d2_graph_get_metadata(g, "roialign_aligned"), "1");
    ck_assert(d2_artifact_write_file(g, ir_path, &err) == D2_OK);
    d2_graph_free(g);

    /* The artifact carries it; asking again for an artifact is refused. */
    g = d2_load_model_file(ir_path, NULL, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_int_eq(only_roi_aligned(g), 1);
    d2_graph_free(g);
    g = d2_load_model_file_with(ir_path, NULL, &aligned, NULL, &err);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(err.code, D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "already compiled"), "%s", err.message);

    /* The public API. */
    {
        d2rt_model *model = NULL;
        struct d2rt_compile_options options = { .roialign_aligned = 1 };
        ck_assert_int_eq(d2rt_model_load_ex(src, NULL, &options, &model), D2RT_OK);
        d2rt_model_free(model);
        model = NULL;
        ck_assert_int_eq(d2rt_model_load_ex(ir_path, NULL, &options, &model), D2RT_ERR_INVALID_ARG);
        ck_assert_msg(strstr(d2rt_errmsg(model), "already compiled"), "%s", d2rt_errmsg(model));
        d2rt_model_free(model);
        model = NULL;
        ck_assert_int_eq(d2rt_model_load_ex(ir_path, NULL, NULL, &model), D2RT_OK);
        d2rt_model_free(model);
    }
    unlink(ir_path);
    unlink(src);
}
END_TEST

START_TEST(legacy_roialign_warning_needs_every_sign)
{
    /* Not from pytorch, or opset 16: no warning. */
    static const char *const variants[][2] = {
        { "\"producer_name\" = \"pytorch\"", "\"producer_name\" = \"other\"" },
        { "\"opset\" = \"11\"", "\"opset\" = \"16\"" },
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char text[1024];
        const char *at = strstr(opset11_text, variants[v][0]);
        size_t head = (size_t)(at - opset11_text);
        snprintf(text, sizeof text, "%.*s%s%s", (int)head, opset11_text, variants[v][1],
                 at + strlen(variants[v][0]));
        struct d2_graph *g = parse(text);
        run_passes(g, "infer_shapes,lower_roi_align");
        ck_assert_msg(!d2_graph_has_legacy_onnx_roialign(g), "variant %zu warns", v);
        d2_graph_free(g);
    }
    {
        struct d2_graph *g = parse(opset11_text);
        ck_assert(d2_graph_has_legacy_onnx_roialign(g)); /* the onnx op form counts too */
        d2_graph_free(g);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lower_detect");
    TCase *tc = tcase_create("lower_detect");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, lowered_roi_align_computes_the_same);
    tcase_add_test(tc, lowered_nms_selects_the_same);
    tcase_add_test(tc, roialign_aligned_option_reaches_the_passes);
    tcase_add_test(tc, legacy_roialign_warning_needs_every_sign);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
