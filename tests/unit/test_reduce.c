/* tests/unit/test_reduce.c: what the reduce/detection op tests (tests/ops/, from
 * tools/optests/gen_reduce.py and gen_detect.py) cannot express: shape inference on
 * partly known types (symbolic dims, non-constant axes/k/scales, unknown rank),
 * errors for inputs that do not fit, and data-dependent run-time errors (k too big,
 * a batch index out of range). Numerics are covered by the op tests and the ONNX
 * node tests. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "ir/ir.h"

#include "shape_check.h"

#define U D2_DIM_UNKNOWN

START_TEST(reduce_partial_shapes)
{
    /* Constant axes: exact, symbols of kept dims survive. */
    struct d2_type t = inferred_type("%x: f32[?n,3,4]", "%a: i64[1] = const [-1]\n  %y = reduce_sum(%x, %a)");
    assert_dims(&t, 3, (const int64_t[]){U, 3, 1});
    ck_assert_str_eq(t.symbols[0], "n");
    t = inferred_type("%x: f32[?n,3,4]", "%a: i64[2] = const [0, 2]\n  %y = reduce_max(%x, %a) {keepdims=0}");
    assert_dims(&t, 1, (const int64_t[]){3});
    /* Runtime axes: keepdims keeps the rank, dims unknown except those already 1. */
    t = inferred_type("%x: f32[2,1,4], %a: i64[1]", "%y = reduce_mean(%x, %a)");
    assert_dims(&t, 3, (const int64_t[]){U, 1, U});
    ck_assert_int_eq(t.upper_bounds[0], 2);
    /* Runtime axes without keepdims: rank from the axes count. */
    t = inferred_type("%x: f32[2,3,4], %a: i64[2]", "%y = reduce_prod(%x, %a) {keepdims=0}");
    assert_dims(&t, 1, (const int64_t[]){U});
    /* Known-empty axes input (no value): all axes, or the identity with noop. */
    t = inferred_type("%x: f32[2,3], %a: i64[0]", "%y = reduce_l2(%x, %a) {keepdims=0}");
    ck_assert_int_eq(t.rank, 0);
    t = inferred_type("%x: f32[2,?n], %a: i64[0]", "%y = reduce_l1(%x, %a) {noop_with_empty_axes=1}");
    assert_dims(&t, 2, (const int64_t[]){2, U});
    /* Unknown rank stays unknown; dtype is set. */
    t = inferred_type("%x: f16[*]", "%y = reduce_sum_square(%x)");
    ck_assert_int_eq(t.rank, D2_RANK_UNKNOWN);
    ck_assert_int_eq(t.dtype, D2_DTYPE_F16);
}
END_TEST

START_TEST(search_partial_shapes)
{
    struct d2_type t = inferred_type("%x: f32[?n,5,?w]", "%y = argmax(%x) {axis=1, keepdims=0}");
    assert_dims(&t, 2, (const int64_t[]){U, U});
    ck_assert_str_eq(t.symbols[0], "n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_I64);
    /* topk with a runtime k: unknown size bounded by the axis. */
    t = inferred_type("%x: f32[3,10], %k: i64[1]", "%y, %i = topk(%x, %k)");
    assert_dims(&t, 2, (const int64_t[]){3, U});
    ck_assert_int_eq(t.upper_bounds[1], 10);
    t = inferred_type("%x: f32[3,10]", "%k: i64[1] = const [4]\n  %y, %i = topk(%x, %k) {largest=0}");
    assert_dims(&t, 2, (const int64_t[]){3, 4});
    ck_assert_int_eq(t.dtype, D2_DTYPE_F32);
    t = inferred_type("%x: f32[3,10]", "%k: i64[1] = const [2]\n  %v, %y = topk(%x, %k) {axis=0}");
    assert_dims(&t, 2, (const int64_t[]){2, 10});
    ck_assert_int_eq(t.dtype, D2_DTYPE_I64);
    /* non_zero: [rank, n <= numel]; a scalar counts as one coordinate. */
    t = inferred_type("%x: f32[2,3,4]", "%y = non_zero(%x)");
    assert_dims(&t, 2, (const int64_t[]){3, U});
    ck_assert_int_eq(t.upper_bounds[1], 24);
    t = inferred_type("%x: bool[]", "%y = non_zero(%x)");
    assert_dims(&t, 2, (const int64_t[]){1, U});
    t = inferred_type("%x: f32[?n,3], %a: i32[]", "%y = cum_sum(%x, %a)");
    assert_dims(&t, 2, (const int64_t[]){U, 3});
    ck_assert_str_eq(t.symbols[0], "n");
}
END_TEST

START_TEST(detect_partial_shapes)
{
    struct d2_type t = inferred_type("%b: f32[1,6,4], %s: f32[1,2,6]",
                                     "%m: i64[1] = const [3]\n  %y = non_max_suppression(%b, %s, %m)");
    assert_dims(&t, 2, (const int64_t[]){U, 3});
    ck_assert_int_eq(t.upper_bounds[0], 6);
    t = inferred_type("%b: f32[1,6,4], %s: f32[1,2,6]", "%y = non_max_suppression(%b, %s)");
    assert_dims(&t, 2, (const int64_t[]){0, 3});
    t = inferred_type("%x: f32[2,256,?h,?w], %r: f32[?n,4], %i: i64[?n]",
                      "%y = roi_align(%x, %r, %i) {output_height=7, output_width=5}");
    assert_dims(&t, 4, (const int64_t[]){U, 256, 7, 5});
    ck_assert_str_eq(t.symbols[0], "n");
    /* resize: constant scales with symbolic spatial dims: those unknown, others kept. */
    t = inferred_type("%x: f32[?n,3,?h,8]", "%s: f32[4] = const [1, 1, 2, 2]\n  %y = resize(%x, _, %s)");
    assert_dims(&t, 4, (const int64_t[]){U, 3, U, 16});
    ck_assert_str_eq(t.symbols[0], "n");
    /* Constant sizes on listed axes are exact even with symbolic input dims. */
    t = inferred_type("%x: f32[?n,3,?h,?w]",
                      "%s: i64[2] = const [10, 12]\n  %y = resize(%x, _, _, %s) {axes=[2, 3]}");
    assert_dims(&t, 4, (const int64_t[]){U, 3, 10, 12});
    /* Runtime scales on listed axes: only those become unknown. */
    t = inferred_type("%x: f32[1,3,4,8], %s: f32[1]", "%y = resize(%x, _, %s) {axes=[-1], mode=linear}");
    assert_dims(&t, 4, (const int64_t[]){1, 3, 4, U});
    /* keep_aspect_ratio_policy: one scale for all listed axes. */
    t = inferred_type("%x: f32[1,3,4,8]",
                      "%s: i64[2] = const [6, 6]\n  %y = resize(%x, _, _, %s) {axes=[2, 3], keep_aspect_ratio_policy=not_larger}");
    assert_dims(&t, 4, (const int64_t[]){1, 3, 3, 6});
    /* An empty scales constant next to sizes counts as absent (opset 11-12 models). */
    t = inferred_type("%x: f32[1,1,2,2]",
                      "%e: f32[0] = const []\n  %s: i64[4] = const [1, 1, 3, 5]\n  %y = resize(%x, _, %e, %s)");
    assert_dims(&t, 4, (const int64_t[]){1, 1, 3, 5});
}
END_TEST

START_TEST(inputs_that_do_not_fit)
{
    expect_shape_error("%x: f32[2,3]", "%a: i64[1] = const [2]\n  %y = reduce_sum(%x, %a)", "out of range");
    expect_shape_error("%x: f32[2,3]", "%a: i64[2] = const [1, -1]\n  %y = reduce_sum(%x, %a)", "twice");
    expect_shape_error("%x: f32[2,3]", "%y = argmax(%x) {axis=2}", "out of range");
    expect_shape_error("%x: f32[2,0]", "%y = argmin(%x) {axis=1}", "zero-size");
    expect_shape_error("%x: f32[2,3]", "%k: i64[1] = const [4]\n  %y, %i = topk(%x, %k)", "larger than");
    expect_shape_error("%x: f32[2,3]", "%k: i64[1] = const [-1]\n  %y, %i = topk(%x, %k)", "negative");
    expect_shape_error("%x: f32[2,3]", "%k: i64[2] = const [1, 1]\n  %y, %i = topk(%x, %k)", "one element");
    expect_shape_error("%x: f32[2,3]", "%a: i64[] = const [2]\n  %y = cum_sum(%x, %a)", "out of range");
    expect_shape_error("%x: f32[2,3], %a: f32[]", "%y = cum_sum(%x, %a)", "i32 or i64");
    expect_shape_error("%b: f32[1,6,5], %s: f32[1,2,6]", "%y = non_max_suppression(%b, %s)", "boxes dim 2");
    expect_shape_error("%b: f32[1,6,4], %s: f32[1,2,7]", "%y = non_max_suppression(%b, %s)", "scores dim 2");
    expect_shape_error("%x: f32[2,3,4], %r: f32[5,4], %i: i64[5]", "%y = roi_align(%x, %r, %i)", "rank 3");
    expect_shape_error("%x: f32[1,3,4,4], %r: f32[5,4], %i: i64[4]", "%y = roi_align(%x, %r, %i)",
                       "batch_indices dim 0");
    expect_shape_error("%x: f32[1,3,4,4], %r: f32[5,4], %i: i64[5]",
                       "%y = roi_align(%x, %r, %i) {output_height=0}", "output_height");
    expect_shape_error("%x: f32[1,1,2,2]",
                       "%s: f32[4] = const [1, 1, 2, 2]\n  %z: i64[4] = const [1, 1, 4, 4]\n  %y = resize(%x, _, %s, %z)",
                       "both");
    expect_shape_error("%x: f32[1,1,2,2]", "%y = resize(%x)", "neither");
    expect_shape_error("%x: f32[1,1,2,2]", "%s: f32[3] = const [1, 2, 2]\n  %y = resize(%x, _, %s)", "3 entries");
    expect_shape_error("%x: f32[1,1,2,2]", "%s: f32[4] = const [1, 1, 0, 2]\n  %y = resize(%x, _, %s)", "positive");
    expect_shape_error("%x: f32[1,1,2,2]", "%s: i64[2] = const [3, -1]\n  %y = resize(%x, _, _, %s) {axes=[2, 3]}",
                       "negative");
    expect_shape_error("%x: f32[1,1,2,2]", "%s: i64[2] = const [3, 3]\n  %y = resize(%x, _, _, %s) {axes=[2, 2]}",
                       "twice");
}
END_TEST

/* Runs a one-node graph on the given inputs and expects a shape error naming `needle`. */
static void expect_run_error(const char *params, const char *node, struct d2_tensor *inputs, uint32_t n,
                             uint32_t num_outputs, const char *needle)
{
    struct d2_error err;
    struct d2_graph *g = parse(one_node(params, node), &err);
    ck_assert_msg(g != NULL && d2_infer_graph(g, &err) == D2_OK, "%s", err.message);
    struct d2_tensor out[2];
    memset(out, 0, sizeof out);
    enum d2_status st = d2_cpu_execute(g, inputs, n, out, num_outputs, d2_allocator_default(), &err);
    ck_assert_msg(st == D2_ERR_SHAPE, "expected a shape error, got %s (%s)", d2_status_name(st), err.message);
    ck_assert_msg(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
    d2_graph_free(g);
}

START_TEST(data_dependent_run_time_errors)
{
    struct d2_error err;
    struct d2_tensor in[3];
    /* topk with a runtime k larger than the axis. */
    ck_assert_int_eq(d2_tensor_alloc(&in[0], NULL, D2_DTYPE_F32, 2, (const int64_t[]){2, 3}, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in[1], NULL, D2_DTYPE_I64, 1, (const int64_t[]){1}, &err), D2_OK);
    ((int64_t *)in[1].data)[0] = 5;
    expect_run_error("%x: f32[2,3], %k: i64[1]", "%y, %i = topk(%x, %k)", in, 2, 1, "larger than");
    d2_tensor_release(&in[0], NULL);
    d2_tensor_release(&in[1], NULL);

    /* roi_align with a batch index past the batch. */
    ck_assert_int_eq(d2_tensor_alloc(&in[0], NULL, D2_DTYPE_F32, 4, (const int64_t[]){1, 1, 4, 4}, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in[1], NULL, D2_DTYPE_F32, 2, (const int64_t[]){1, 4}, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in[2], NULL, D2_DTYPE_I64, 1, (const int64_t[]){1}, &err), D2_OK);
    ((int64_t *)in[2].data)[0] = 1;
    expect_run_error("%x: f32[1,1,4,4], %r: f32[?n,4], %b: i64[?n]", "%y = roi_align(%x, %r, %b)", in, 3, 1,
                     "batch_indices[0] = 1");
    for (int i = 0; i < 3; i++)
        d2_tensor_release(&in[i], NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("reduce");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, reduce_partial_shapes);
    tcase_add_test(tc, search_partial_shapes);
    tcase_add_test(tc, detect_partial_shapes);
    tcase_add_test(tc, inputs_that_do_not_fit);
    tcase_add_test(tc, data_dependent_run_time_errors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
