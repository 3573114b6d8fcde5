/* tests/unit/test_detect2.c: what the op tests of the shared detection ops
 * (tests/ops/, from tools/optests/gen_detect2.py) cannot express: shape inference on
 * partly known types (symbolic and bounded dims, runtime k), errors for inputs and
 * attributes that do not fit, and data-dependent run-time errors (a roi's batch index
 * out of range). Numerics, empty inputs, ties, zero-area boxes, legacy +1, aligned and
 * sampling modes are covered by the op tests. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "ir/ir.h"

#include "shape_check.h"

#define U D2_DIM_UNKNOWN

START_TEST(partial_shapes)
{
    struct d2_type t = inferred_type("%x: f32[2,256,?h,?w], %r: f32[?n,5]",
                                     "%y = box_roi_align(%x, %r) {pooled_h=7, pooled_w=5, aligned=1}");
    assert_dims(&t, 4, (const int64_t[]){U, 256, 7, 5});
    ck_assert_str_eq(t.symbols[0], "n");
    t = inferred_type("%x: f16[1,3,8,8], %r: f16[4,4], %b: i32[4]", "%y = box_roi_align(%x, %r, %b)");
    assert_dims(&t, 4, (const int64_t[]){4, 3, 1, 1});
    ck_assert_int_eq(t.dtype, D2_DTYPE_F16);
    /* NMS: data dependent, bounded by N and by max_output. */
    t = inferred_type("%b: f32[10,4], %s: f32[10]", "%y = box_nms(%b, %s)");
    assert_dims(&t, 1, (const int64_t[]){U});
    ck_assert_int_eq(t.upper_bounds[0], 10);
    ck_assert_int_eq(t.dtype, D2_DTYPE_I64);
    t = inferred_type("%b: f32[?n,4], %s: f32[?n], %i: i64[?n]", "%y = box_batched_nms(%b, %s, %i) {max_output=100}");
    ck_assert_int_eq(t.upper_bounds[0], 100);
    t = inferred_type("%b: f32[0,4], %s: f32[0]", "%y = box_nms(%b, %s)");
    assert_dims(&t, 1, (const int64_t[]){0});
    /* box_decode keeps deltas' type; box_clip keeps boxes'. */
    t = inferred_type("%b: f32[?n,5], %d: f32[?n,324]", "%y = box_decode(%b, %d) {weights=[10, 10, 5, 5]}");
    assert_dims(&t, 2, (const int64_t[]){U, 324});
    t = inferred_type("%b: f64[2,?n,4], %s: i64[2]", "%y = box_clip(%b, %s)");
    assert_dims(&t, 3, (const int64_t[]){2, U, 4});
    ck_assert_int_eq(t.dtype, D2_DTYPE_F64);
    /* Proposals: bounded by N * min(A*H*W, pre, post). */
    t = inferred_type("%s: f32[2,3,4,5], %d: f32[2,12,4,5], %i: f32[2,3], %a: f32[3,4]",
                      "%y, %p = generate_proposals(%s, %d, %i, %a) {pre_nms_topn=50, post_nms_topn=20}");
    assert_dims(&t, 2, (const int64_t[]){U, 5});
    ck_assert_int_eq(t.upper_bounds[0], 40);
    t = inferred_type("%s: f32[1,3,?h,?w], %d: f32[1,12,?h,?w], %i: f32[1,3], %a: f32[3,4]",
                      "%y, %p = generate_proposals(%s, %d, %i, %a) {pre_nms_topn=50, post_nms_topn=20}");
    ck_assert_int_eq(t.upper_bounds[0], 20);
    t = inferred_type("%z: i64[1,2], %p0: f32[1,100,4], %l0: f32[1,100], %p1: f32[1,3,4], %l1: f32[1,3]",
                      "%y, %s = find_top_rpn_proposals(%z, %p0, %l0, %p1, %l1) {pre_nms_topk=10, post_nms_topk=50}");
    ck_assert_int_eq(t.upper_bounds[0], 13);
    t = inferred_type("%b: f32[?n,4]", "%y = fpn_level_assign(%b) {dtype=i32}");
    assert_dims(&t, 1, (const int64_t[]){U});
    ck_assert_int_eq(t.dtype, D2_DTYPE_I32);
    ck_assert_str_eq(t.symbols[0], "n");
    /* sort: k constant (clamped to the dim), runtime (bounded), absent (same shape). */
    t = inferred_type("%x: f32[3,10]", "%k: i64[] = const [4]\n  %y, %i = sort(%x, %k)");
    assert_dims(&t, 2, (const int64_t[]){3, 4});
    t = inferred_type("%x: f32[3,10]", "%k: i64[1] = const [40]\n  %y, %i = sort(%x, %k) {axis=1}");
    assert_dims(&t, 2, (const int64_t[]){3, 10});
    t = inferred_type("%x: f32[3,10], %k: i64[1]", "%v, %y = sort(%x, %k) {axis=0}");
    assert_dims(&t, 2, (const int64_t[]){U, 10});
    ck_assert_int_eq(t.upper_bounds[0], 3);
    ck_assert_int_eq(t.dtype, D2_DTYPE_I64);
    t = inferred_type("%x: i32[?n]", "%y, %i = sort(%x) {descending=0}");
    ck_assert_str_eq(t.symbols[0], "n");
}
END_TEST

START_TEST(inputs_that_do_not_fit)
{
    expect_shape_error("%x: f32[1,3,8,8], %r: f32[4,6]", "%y = box_roi_align(%x, %r)", "6 columns");
    expect_shape_error("%x: f32[1,3,8,8], %r: f32[4,5], %b: i64[4]", "%y = box_roi_align(%x, %r, %b)",
                       "with batch_indices");
    expect_shape_error("%x: f32[1,3,8,8], %r: f32[4,4], %b: i64[3]", "%y = box_roi_align(%x, %r, %b)",
                       "batch_indices dim 0");
    expect_shape_error("%x: f32[1,3,8,8], %r: f32[4,5]", "%y = box_roi_align(%x, %r) {pooled_h=0}", "pooled_h");
    expect_shape_error("%x: i32[1,3,8,8], %r: f32[4,5]", "%y = box_roi_align(%x, %r)", "float");
    expect_shape_error("%b: f32[5,4], %s: f32[6]", "%y = box_nms(%b, %s)", "scores dim 0");
    expect_shape_error("%b: f32[5,4], %s: f32[5]", "%y = box_nms(%b, %s) {max_output=-2}", "max_output");
    expect_shape_error("%b: f32[5,4], %s: f32[5], %i: f32[5]", "%y = box_batched_nms(%b, %s, %i)", "integer");
    expect_shape_error("%b: f32[5,4], %d: f32[5,6]", "%y = box_decode(%b, %d)", "multiple of 4");
    expect_shape_error("%b: f32[5,4], %d: f32[5,8]", "%y = box_decode(%b, %d) {weights=[1, 1, 1]}", "4 entries");
    expect_shape_error("%b: f32[5,4], %d: f32[5,8]", "%y = box_decode(%b, %d) {weights=[1, 0, 1, 1]}",
                       "weights[1]");
    expect_shape_error("%b: f32[5,4]", "%y = box_clip(%b)", "height and width");
    expect_shape_error("%b: f32[5,4], %s: i64[1]", "%y = box_clip(%b, %s)", "(H, W)");
    expect_shape_error("%s: f32[1,3,4,5], %d: f32[1,8,4,5], %i: f32[1,3], %a: f32[3,4]",
                       "%y, %p = generate_proposals(%s, %d, %i, %a)", "bbox_deltas dim 1");
    expect_shape_error("%s: f32[1,3,4,5], %d: f32[1,12,4,5], %i: f32[1,3], %a: f32[2,4]",
                       "%y, %p = generate_proposals(%s, %d, %i, %a)", "anchors dim 0");
    expect_shape_error("%z: i64[1,2], %p0: f32[1,9,4]", "%y, %s = find_top_rpn_proposals(%z, %p0, %p0)",
                       "rank 2");
    expect_shape_error("%z: i64[1,2], %p0: f32[1,9,4], %l0: f32[1,8]",
                       "%y, %s = find_top_rpn_proposals(%z, %p0, %l0)", "dim 1");
    expect_shape_error("%b: f32[5,4]", "%y = fpn_level_assign(%b) {min_level=6}", "above max_level");
    expect_shape_error("%b: f32[5,4]", "%y = fpn_level_assign(%b) {dtype=f32}", "i32 or i64");
    expect_shape_error("%x: f32[3,4]", "%k: i64[] = const [-1]\n  %y, %i = sort(%x, %k)", "negative");
    expect_shape_error("%x: f32[3,4]", "%y, %i = sort(%x) {axis=2}", "out of range");
    expect_shape_error("%x: bool[3]", "%y, %i = sort(%x)", "bool");
}
END_TEST

/* Runs a one-node graph on inputs and expects a shape error naming `needle`. */
static void expect_run_error(const char *params, const char *node, struct d2_tensor *inputs, uint32_t n,
                             const char *needle)
{
    struct d2_error err;
    struct d2_graph *g = parse(one_node(params, node), &err);
    ck_assert_msg(g != NULL && d2_infer_graph(g, &err) == D2_OK, "%s", err.message);
    struct d2_tensor out[2];
    memset(out, 0, sizeof out);
    enum d2_status st = d2_cpu_execute(g, inputs, n, out, 1, d2_allocator_default(), &err);
    ck_assert_msg(st == D2_ERR_SHAPE, "expected a shape error, got %s (%s)", d2_status_name(st), err.message);
    ck_assert_msg(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
    d2_graph_free(g);
}

START_TEST(batch_index_out_of_range)
{
    struct d2_error err;
    struct d2_tensor in[3];
    ck_assert_int_eq(d2_tensor_alloc(&in[0], NULL, D2_DTYPE_F32, 4, (const int64_t[]){2, 1, 4, 4}, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in[1], NULL, D2_DTYPE_F32, 2, (const int64_t[]){2, 5}, &err), D2_OK);
    ((float *)in[1].data)[5] = 2.0f; /* roi 1 in batch 2 of 2 */
    expect_run_error("%x: f32[2,1,4,4], %r: f32[?n,5]", "%y = box_roi_align(%x, %r)", in, 2,
                     "roi 1 has batch index 2");
    ((float *)in[1].data)[5] = NAN;
    expect_run_error("%x: f32[2,1,4,4], %r: f32[?n,5]", "%y = box_roi_align(%x, %r)", in, 2, "roi 1");
    d2_tensor_release(&in[1], NULL);
    ck_assert_int_eq(d2_tensor_alloc(&in[1], NULL, D2_DTYPE_F32, 2, (const int64_t[]){1, 4}, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in[2], NULL, D2_DTYPE_I64, 1, (const int64_t[]){1}, &err), D2_OK);
    ((int64_t *)in[2].data)[0] = -1;
    expect_run_error("%x: f32[2,1,4,4], %r: f32[?n,4], %b: i64[?n]", "%y = box_roi_align(%x, %r, %b)", in, 3,
                     "batch index -1");
    for (int i = 0; i < 3; i++)
        d2_tensor_release(&in[i], NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("detect2");
    TCase *tc = tcase_create("detect2");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, partial_shapes);
    tcase_add_test(tc, inputs_that_do_not_fit);
    tcase_add_test(tc, batch_index_out_of_range);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
