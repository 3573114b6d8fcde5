/* tests/unit/test_fast_detect.c: the fast detection kernels (backends/cpu/fast_detect*.c)
 * give results IDENTICAL to the reference kernels: the same output dtype, dims and
 * bytes (kept indices in the same order, bit-equal floats), for every kernel table
 * (ISA) this machine runs, with 1 and 2 threads.
 *
 * Each case is a one-node graph run by the reference executor (d2_cpu_execute) and by
 * the fast executor (d2_cpu_fast_execute). Inputs are random but built to hit the
 * decisions: boxes on a coarse grid (exact ties of coordinates, duplicate boxes, IoU
 * exactly at the threshold), quantized scores (ties), NaN scores, zero-area and
 * inverted boxes, NaN/inf/huge coordinates (which turn the fast paths' shortcuts
 * off), empty inputs, max_output, legacy +1, NaN-IoU rule, order by id, wide ids, the
 * coordinate-offset form of batched NMS and 20,000 proposals; roi_align over batch
 * indices from rois [R,5] / batch_indices / none, aligned and legacy, adaptive and
 * fixed grids, avg and max, rois partly or wholly outside the map and of zero size;
 * paste_masks over boxes inside, across and outside the canvas, zero-size and NaN
 * boxes, bool and u8 outputs. The reference kernels themselves are checked against
 * numpy by the op tests (tests/ops/). Run from the repository root. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/fast.h"
#include "ir/ir.h"

static const struct d2_cpu_kernels *const all_tables[] = {
    &d2_cpu_kernels_generic, &d2_cpu_kernels_avx2, &d2_cpu_kernels_avx512,
};
#define NUM_TABLES (sizeof all_tables / sizeof all_tables[0])

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t next_u32(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}
static float uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)next_u32() / 4294967296.0);
}
static int64_t below(int64_t n)
{
    return (int64_t)(next_u32() % (uint32_t)n);
}

/* Runs `node` (one node producing %y from the params) through both executors on
 * every supported table and asserts identical outputs. Returns the output's numel. */
static int64_t check_same(const char *params, const char *node, const struct d2_tensor *inputs, uint32_t n,
                          const char *what)
{
    char text[4096];
    snprintf(text, sizeof text, "graph main(%s) {\n  %s\n  return %%y\n}\n", params, node);
    struct d2_error err = {0};
    struct d2_graph *g = d2_parse_graph(text, strlen(text), d2_allocator_default(), &err);
    ck_assert_msg(g != NULL, "%s: parse failed: %s\n%s", what, err.message, text);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "%s: %s", what, err.message);
    struct d2_tensor want;
    memset(&want, 0, sizeof want);
    ck_assert_msg(d2_cpu_execute(g, inputs, n, &want, 1, d2_allocator_default(), &err) == D2_OK, "%s: %s", what,
                  err.message);
    for (size_t t = 0; t < NUM_TABLES; t++) {
        if (!d2_cpu_isa_supported(all_tables[t]->name))
            continue;
        for (int32_t threads = 1; threads <= 2; threads++) {
            struct d2_cpu_fast_options o = { threads, all_tables[t]->name, 0 };
            struct d2_cpu_fast *fast = NULL;
            ck_assert_msg(d2_cpu_fast_new(&o, NULL, &fast, &err) == D2_OK, "%s", err.message);
            struct d2_tensor got;
            memset(&got, 0, sizeof got);
            ck_assert_msg(d2_cpu_fast_execute(fast, g, inputs, n, &got, 1, NULL, NULL, NULL, &err) == D2_OK,
                          "%s (%s): %s", what, all_tables[t]->name, err.message);
            ck_assert_msg(got.dtype == want.dtype && got.rank == want.rank &&
                              memcmp(got.dims, want.dims, (size_t)want.rank * sizeof *want.dims) == 0,
                          "%s (%s, %d threads): output type differs (dim 0: %lld, want %lld)", what,
                          all_tables[t]->name, threads, (long long)got.dims[0], (long long)want.dims[0]);
            if (want.nbytes > 0 && memcmp(got.data, want.data, want.nbytes) != 0) {
                size_t at = 0;
                while (((const uint8_t *)got.data)[at] == ((const uint8_t *)want.data)[at])
                    at++;
                size_t elem = want.nbytes / (size_t)d2_tensor_numel(&want), e = at / elem;
                double gv = d2_load_f64(got.data, got.dtype, e), wv = d2_load_f64(want.data, want.dtype, e);
                ck_abort_msg("%s (%s, %d threads): outputs differ first at element %zu of %lld: %.9g, want %.9g\n%s",
                             what, all_tables[t]->name, threads, e, (long long)d2_tensor_numel(&want), gv, wv, text);
            }
            d2_tensor_release(&got, NULL);
            d2_cpu_fast_free(fast);
        }
    }
    int64_t numel = d2_tensor_numel(&want);
    d2_tensor_release(&want, NULL);
    d2_graph_free(g);
    return numel;
}

static void alloc_input(struct d2_tensor *t, enum d2_dtype dtype, int32_t rank, const int64_t *dims)
{
    struct d2_error err = {0};
    ck_assert_int_eq(d2_tensor_alloc(t, NULL, dtype, rank, dims, &err), D2_OK);
}

/* ---- NMS -------------------------------------------------------------------------------- */

enum box_kind { BOXES_PLAIN, BOXES_ODD, BOXES_NONFINITE, BOXES_HUGE };

/* n boxes on a grid of `cell` px within `extent`, scores quantized to `levels`. */
static void fill_nms_inputs(struct d2_tensor *in, int64_t n, float extent, float cell, int levels,
                            enum box_kind kind, int64_t num_ids, int64_t id_scale)
{
    float *b = in[0].data, *s = in[1].data;
    for (int64_t i = 0; i < n; i++) {
        float x = floorf(uniform(0, extent) / cell) * cell, y = floorf(uniform(0, extent) / cell) * cell;
        float w = floorf(uniform(0, extent / 3) / cell) * cell, h = floorf(uniform(0, extent / 3) / cell) * cell;
        b[i * 4] = x, b[i * 4 + 1] = y, b[i * 4 + 2] = x + w, b[i * 4 + 3] = y + h;
        s[i] = (float)below(levels) / (float)levels;
        if (kind == BOXES_ODD) {
            int64_t r = below(12);
            if (r == 0) { b[i * 4 + 2] = b[i * 4]; b[i * 4 + 3] = b[i * 4 + 1]; }  /* zero area */
            if (r == 1) { float t = b[i * 4]; b[i * 4] = b[i * 4 + 2] + cell; b[i * 4 + 2] = t; } /* inverted */
            if (r == 2) s[i] = NAN;
            if (r == 3 && i > 0) memcpy(b + i * 4, b + (i - 1) * 4, 4 * sizeof *b); /* duplicate */
        }
        if (kind == BOXES_NONFINITE && below(20) == 0)
            b[i * 4 + below(4)] = below(2) ? NAN : -INFINITY;
        if (kind == BOXES_HUGE && below(20) == 0)
            b[i * 4 + below(4)] = below(2) ? 3e38f : -1e30f;
    }
    if (num_ids > 0) {
        int64_t *id = in[2].data;
        for (int64_t i = 0; i < n; i++)
            id[i] = (below(num_ids) - num_ids / 3) * id_scale;
    }
}

static void nms_case(int64_t n, bool batched, const char *attrs, enum box_kind kind, int64_t num_ids,
                     int64_t id_scale, float extent, float cell, int levels)
{
    struct d2_tensor in[3];
    memset(in, 0, sizeof in);
    alloc_input(&in[0], D2_DTYPE_F32, 2, (const int64_t[]){ n, 4 });
    alloc_input(&in[1], D2_DTYPE_F32, 1, (const int64_t[]){ n });
    if (batched)
        alloc_input(&in[2], D2_DTYPE_I64, 1, (const int64_t[]){ n });
    fill_nms_inputs(in, n, extent, cell, levels, kind, batched ? num_ids : 0, id_scale);
    char node[256], what[320];
    snprintf(node, sizeof node, "%%y = %s(%%b, %%s%s) {%s}", batched ? "box_batched_nms" : "box_nms",
             batched ? ", %i" : "", attrs);
    snprintf(what, sizeof what, "n=%lld kind=%d ids=%lld: %s", (long long)n, (int)kind, (long long)num_ids, node);
    check_same(batched ? "%b: f32[?n,4], %s: f32[?n], %i: i64[?n]" : "%b: f32[?n,4], %s: f32[?n]", node, in,
               batched ? 3 : 2, what);
    for (int i = 0; i < 3; i++)
        d2_tensor_release(&in[i], NULL);
}

static const char *const nms_attrs[] = {
    "iou_threshold=0.5",
    "iou_threshold=0.7",
    "iou_threshold=0.3, max_output=5",
    "iou_threshold=0.5, max_output=0",
    "iou_threshold=0",
    "iou_threshold=-0.25",
    "iou_threshold=0.5, legacy_plus_one=1",
    "iou_threshold=0.5, nan_iou_suppresses=1",
    "iou_threshold=0.5, legacy_plus_one=1, nan_iou_suppresses=1",
    "iou_threshold=0.6, order=by_id",
    "iou_threshold=0.5, max_output=7, order=by_id, legacy_plus_one=1",
};
#define NUM_NMS_ATTRS (int)(sizeof nms_attrs / sizeof nms_attrs[0])

START_TEST(nms_small_and_odd)
{
    static const int64_t sizes[] = { 0, 1, 2, 3, 17, 31, 32, 33, 100, 257 };
    for (int a = 0; a < NUM_NMS_ATTRS; a++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int kind = BOXES_PLAIN; kind <= BOXES_HUGE; kind++) {
                bool by_id = strstr(nms_attrs[a], "by_id") != NULL;
                if (!by_id)
                    nms_case(sizes[si], false, nms_attrs[a], (enum box_kind)kind, 0, 1, 64, 4, 8);
                nms_case(sizes[si], true, nms_attrs[a], (enum box_kind)kind, 5, 1, 64, 4, 8);
            }
}
END_TEST

START_TEST(nms_ids_wide_and_spread)
{
    /* ids beyond the counting-sort range (radix by 64 bits, negatives), and spread
     * boxes that the x-extent split cuts into many groups. */
    nms_case(500, true, "iou_threshold=0.5", BOXES_PLAIN, 9, 1000000000000ll, 64, 4, 8);
    nms_case(500, true, "iou_threshold=0.5, order=by_id", BOXES_ODD, 9, -77777777777ll, 64, 4, 8);
    nms_case(2000, false, "iou_threshold=0.4", BOXES_PLAIN, 0, 1, 4000, 1, 1000);
    nms_case(2000, true, "iou_threshold=0.4, max_output=100", BOXES_ODD, 3, 1, 4000, 1, 1000);
    nms_case(2000, false, "iou_threshold=0.5, legacy_plus_one=1, nan_iou_suppresses=1", BOXES_ODD, 0, 1, 4000, 1,
             1000);
}
END_TEST

/* torchvision's coordinate-offset batched NMS, as traced exports compute it: one
 * box_nms over boxes shifted by id * (max coordinate + 1). */
START_TEST(nms_offset_trick)
{
    int64_t per_class = 300, classes = 12, n = per_class * classes;
    struct d2_tensor in[2];
    alloc_input(&in[0], D2_DTYPE_F32, 2, (const int64_t[]){ n, 4 });
    alloc_input(&in[1], D2_DTYPE_F32, 1, (const int64_t[]){ n });
    float *b = in[0].data, *s = in[1].data;
    for (int64_t i = 0; i < n; i++) {
        float x = uniform(0, 300), y = uniform(0, 300);
        float off = (float)(i % classes) * (float)(300 + 100 + 1);
        b[i * 4] = x + off, b[i * 4 + 1] = y + off;
        b[i * 4 + 2] = x + uniform(0, 100) + off, b[i * 4 + 3] = y + uniform(0, 100) + off;
        s[i] = uniform(0, 1);
    }
    check_same("%b: f32[?n,4], %s: f32[?n]", "%y = box_nms(%b, %s) {iou_threshold=0.5}", in, 2, "offset trick");
    d2_tensor_release(&in[0], NULL);
    d2_tensor_release(&in[1], NULL);
}
END_TEST

/* The ROI heads' scale: 20,000 candidates over 80 classes, and 20,000 RPN proposals. */
START_TEST(nms_large)
{
    nms_case(20000, true, "iou_threshold=0.5", BOXES_PLAIN, 80, 1, 800, 0.5f, 1 << 20);
    nms_case(20000, true, "iou_threshold=0.7", BOXES_PLAIN, 5, 1, 1200, 0.25f, 1 << 20);
}
END_TEST

/* ---- roi_align ----------------------------------------------------------------------------- */

static void roi_case(int64_t batch, int64_t channels, int64_t height, int64_t width, int64_t num_rois, int cols,
                     bool with_batch_input, const char *attrs, float scale)
{
    struct d2_tensor in[3];
    memset(in, 0, sizeof in);
    alloc_input(&in[0], D2_DTYPE_F32, 4, (const int64_t[]){ batch, channels, height, width });
    alloc_input(&in[1], D2_DTYPE_F32, 2, (const int64_t[]){ num_rois, cols });
    float *x = in[0].data, *r = in[1].data;
    for (int64_t i = 0; i < batch * channels * height * width; i++)
        x[i] = uniform(-1, 1);
    float ext_w = (float)width / scale, ext_h = (float)height / scale;
    for (int64_t i = 0; i < num_rois; i++) {
        float *roi = r + i * cols;
        if (cols == 5)
            roi[0] = (float)below(batch);
        float *c = roi + cols - 4;
        c[0] = uniform(-0.3f * ext_w, 1.1f * ext_w);
        c[1] = uniform(-0.3f * ext_h, 1.1f * ext_h);
        c[2] = c[0] + uniform(0, 0.8f * ext_w);
        c[3] = c[1] + uniform(0, 0.8f * ext_h);
        int64_t odd = below(10);
        if (odd == 0) { c[2] = c[0]; c[3] = c[1]; }          /* zero size */
        if (odd == 1) { float t = c[0]; c[0] = c[2]; c[2] = t; } /* negative width */
        if (odd == 2) { c[0] = floorf(c[0]); c[2] = c[0] + 4; }  /* integral corners */
    }
    const char *params = "%x: f32[?n,?c,?h,?w], %r: f32[?r,5]";
    uint32_t n = 2;
    if (cols == 4) {
        params = "%x: f32[?n,?c,?h,?w], %r: f32[?r,4]";
        if (with_batch_input) {
            alloc_input(&in[2], D2_DTYPE_I64, 1, (const int64_t[]){ num_rois });
            for (int64_t i = 0; i < num_rois; i++)
                ((int64_t *)in[2].data)[i] = below(batch);
            params = "%x: f32[?n,?c,?h,?w], %r: f32[?r,4], %b: i64[?r]";
            n = 3;
        }
    }
    char node[256], full_attrs[200], what[400];
    snprintf(full_attrs, sizeof full_attrs, "%s, spatial_scale=%g", attrs, (double)scale);
    snprintf(node, sizeof node, cols == 4 && with_batch_input ? "%%y = box_roi_align(%%x, %%r, %%b) {%s}"
                                                              : "%%y = box_roi_align(%%x, %%r) {%s}",
             full_attrs);
    snprintf(what, sizeof what, "X [%lld,%lld,%lld,%lld], %lld rois [%d]: %s", (long long)batch, (long long)channels,
             (long long)height, (long long)width, (long long)num_rois, cols, node);
    check_same(params, node, in, n, what);
    for (int i = 0; i < 3; i++)
        d2_tensor_release(&in[i], NULL);
}

START_TEST(roi_align_shapes_and_modes)
{
    static const char *const attrs[] = {
        "pooled_h=7, pooled_w=7",
        "pooled_h=7, pooled_w=7, aligned=1",
        "pooled_h=2, pooled_w=3, sampling_ratio=2",
        "pooled_h=1, pooled_w=1, aligned=1, sampling_ratio=3",
        "pooled_h=3, pooled_w=2, mode=max",
        "pooled_h=4, pooled_w=4, aligned=1, mode=max, sampling_ratio=1",
        "pooled_h=14, pooled_w=14, aligned=1",
    };
    static const int64_t maps[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 13, 9 }, { 4, 24, 20 } };
    for (size_t a = 0; a < sizeof attrs / sizeof attrs[0]; a++)
        for (size_t m = 0; m < sizeof maps / sizeof maps[0]; m++) {
            roi_case(2, maps[m][0], maps[m][1], maps[m][2], 23, 5, false, attrs[a], 0.25f);
            roi_case(2, maps[m][0], maps[m][1], maps[m][2], 9, 4, true, attrs[a], 1.0f);
            roi_case(1, maps[m][0], maps[m][1], maps[m][2], 5, 4, false, attrs[a], 0.5f);
        }
    roi_case(2, 3, 8, 8, 0, 5, false, "pooled_h=7, pooled_w=7", 0.25f);  /* no rois */
    roi_case(1, 64, 48, 40, 300, 5, false, "pooled_h=7, pooled_w=7", 0.125f);
    /* The channels-in-SIMD (NHWC) path: enough samples per pixel, channel counts with and
     * without a vector tail, batch 2, legacy and aligned, fixed and adaptive grids. */
    roi_case(2, 19, 12, 10, 120, 5, false, "pooled_h=7, pooled_w=7", 0.5f);
    roi_case(1, 24, 9, 13, 80, 4, false, "pooled_h=7, pooled_w=7, aligned=1", 1.0f);
    roi_case(2, 33, 8, 6, 60, 4, true, "pooled_h=3, pooled_w=5, sampling_ratio=2", 0.25f);
    roi_case(1, 8, 5, 7, 40, 5, false, "pooled_h=14, pooled_w=14, aligned=1", 1.0f);
}
END_TEST

/* ---- paste_masks ----------------------------------------------------------------------------- */

static void paste_case(int64_t n, int64_t m, int64_t height, int64_t width, const char *attrs)
{
    struct d2_tensor in[3];
    alloc_input(&in[0], D2_DTYPE_F32, 3, (const int64_t[]){ n, m, m });
    alloc_input(&in[1], D2_DTYPE_F32, 2, (const int64_t[]){ n, 4 });
    alloc_input(&in[2], D2_DTYPE_I64, 1, (const int64_t[]){ 2 });
    float *mask = in[0].data, *b = in[1].data;
    for (int64_t i = 0; i < n * m * m; i++)
        mask[i] = below(8) == 0 ? 0.5f : uniform(0, 1);
    for (int64_t i = 0; i < n; i++) {
        float *c = b + i * 4;
        c[0] = uniform(-0.2f * (float)width, 1.1f * (float)width);
        c[1] = uniform(-0.2f * (float)height, 1.1f * (float)height);
        c[2] = c[0] + uniform(0, 0.7f * (float)width);
        c[3] = c[1] + uniform(0, 0.7f * (float)height);
        int64_t odd = below(12);
        if (odd == 0) { c[2] = c[0]; }                    /* zero width */
        if (odd == 1) { c[1] = NAN; }
        if (odd == 2) { c[0] = floorf(c[0]); c[2] = c[0] + (float)m; } /* one pixel per cell */
    }
    ((int64_t *)in[2].data)[0] = height;
    ((int64_t *)in[2].data)[1] = width;
    char node[200], what[300];
    snprintf(node, sizeof node, "%%y = paste_masks(%%m, %%b, %%s) {%s}", attrs);
    snprintf(what, sizeof what, "%lld masks %lldx%lld on %lldx%lld: %s", (long long)n, (long long)m, (long long)m,
             (long long)height, (long long)width, node);
    check_same("%m: f32[?n,?a,?a], %b: f32[?n,4], %s: i64[2]", node, in, 3, what);
    for (int i = 0; i < 3; i++)
        d2_tensor_release(&in[i], NULL);
}

START_TEST(paste_masks_cases)
{
    static const char *const attrs[] = { "threshold=0.5", "threshold=0", "threshold=-1" };
    for (size_t a = 0; a < sizeof attrs / sizeof attrs[0]; a++) {
        paste_case(0, 28, 40, 30, attrs[a]);
        paste_case(1, 1, 7, 5, attrs[a]);
        paste_case(13, 28, 61, 47, attrs[a]);
        paste_case(5, 5, 200, 300, attrs[a]);
        paste_case(3, 28, 0, 20, attrs[a]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fast_detect");
    TCase *tc = tcase_create("fast_detect");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, nms_small_and_odd);
    tcase_add_test(tc, nms_ids_wide_and_spread);
    tcase_add_test(tc, nms_offset_trick);
    tcase_add_test(tc, nms_large);
    tcase_add_test(tc, roi_align_shapes_and_modes);
    tcase_add_test(tc, paste_masks_cases);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
