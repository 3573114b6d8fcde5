/* tests/unit/test_nn.c: what the neural-network op tests (tests/ops/) cannot express:
 * shape inference on partly known types (symbolic and unknown dims, unknown rank),
 * errors for shapes, attributes and dtypes that do not fit, and run-time shape errors
 * when a symbolic input turns out too small. Numerics are tested in tests/ops/<op>/
 * (tools/optests/gen_nn.py) and by the ONNX node tests. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "ir/ir.h"

#include "shape_check.h"

#define U D2_DIM_UNKNOWN

START_TEST(conv_partial_shapes)
{
    /* Unknown spatial dims: output spatial unknown, batch symbol and channels kept. */
    struct d2_type t = inferred_type("%x: f32[?n,3,?h,?w], %w: f32[8,3,3,3]",
                                     "%y = conv(%x, %w) {pads=[1,1,1,1]}");
    assert_dims(&t, 4, (const int64_t[]){U, 8, U, U});
    ck_assert_str_eq(t.symbols[0], "n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_F32);
    /* One spatial dim known: that one is computed. */
    t = inferred_type("%x: f32[1,3,?h,10], %w: f32[8,3,3,3]", "%y = conv(%x, %w) {strides=[2,2]}");
    assert_dims(&t, 4, (const int64_t[]){1, 8, U, 4});
    /* Unknown rank of X: W gives the rank and the channels. */
    t = inferred_type("%x: f32[*], %w: f32[8,3,3,3]", "%y = conv(%x, %w)");
    assert_dims(&t, 4, (const int64_t[]){U, 8, U, U});
    /* Unknown W dims but kernel_shape given: spatial sizes known. */
    t = inferred_type("%x: f32[1,4,9,9], %w: f32[?m,2,?,?]",
                      "%y = conv(%x, %w) {kernel_shape=[3,3], group=2, auto_pad=same_upper, strides=[2,2]}");
    assert_dims(&t, 4, (const int64_t[]){1, U, 5, 5});
    /* conv_transpose: output channels W[1]*group; output_shape known without input sizes. */
    t = inferred_type("%x: f32[?n,4,?h,?w], %w: f32[4,3,3,3]",
                      "%y = conv_transpose(%x, %w) {group=2, output_shape=[10,12], strides=[2,2]}");
    assert_dims(&t, 4, (const int64_t[]){U, 6, 10, 12});
    t = inferred_type("%x: f32[1,2,5,6], %w: f32[2,3,3,3]", "%y = conv_transpose(%x, %w) {strides=[2,2]}");
    assert_dims(&t, 4, (const int64_t[]){1, 3, 11, 13});
}
END_TEST

START_TEST(pool_and_linear_partial_shapes)
{
    struct d2_error err;
    struct d2_graph *g = parse("graph main(%x: f32[?n,3,?h,7]) {\n"
                               "  %y, %i = max_pool(%x) {kernel_shape=[3,3], strides=[2,2], ceil_mode=1}\n"
                               "  return %y, %i\n}\n", &err);
    ck_assert_msg(g != NULL, "parse failed: %s", err.message);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "%s", err.message);
    const struct d2_type *y = &g->values[g->outputs[0]].type, *idx = &g->values[g->outputs[1]].type;
    assert_dims(y, 4, (const int64_t[]){U, 3, U, 3});
    ck_assert_int_eq(y->dtype, D2_DTYPE_F32);
    assert_dims(idx, 4, (const int64_t[]){U, 3, U, 3});
    ck_assert_int_eq(idx->dtype, D2_DTYPE_I64);
    d2_graph_free(g);

    struct d2_type t = inferred_type("%x: f16[?n,5,?h,?w]", "%y = global_average_pool(%x)");
    assert_dims(&t, 4, (const int64_t[]){U, 5, 1, 1});
    ck_assert_int_eq(t.dtype, D2_DTYPE_F16);
    /* matmul: batch broadcast keeps the symbol; 1-D operands drop their added dim. */
    t = inferred_type("%a: f32[?n,1,3,4], %b: f32[5,4,2]", "%y = matmul(%a, %b)");
    assert_dims(&t, 4, (const int64_t[]){U, 5, 3, 2});
    ck_assert_str_eq(t.symbols[0], "n");
    t = inferred_type("%a: i32[4], %b: i32[4]", "%y = matmul(%a, %b)");
    ck_assert_int_eq(t.rank, 0);
    ck_assert_int_eq(t.dtype, D2_DTYPE_I32);
    t = inferred_type("%a: f32[4], %b: f32[2,4,3]", "%y = matmul(%a, %b)");
    assert_dims(&t, 2, (const int64_t[]){2, 3});
    t = inferred_type("%a: f32[*], %b: f32[4,3]", "%y = matmul(%a, %b)");
    ck_assert_int_eq(t.rank, D2_RANK_UNKNOWN);
    /* gemm: trans flags pick M and N; C can pin an unknown dim. */
    t = inferred_type("%a: f32[4,?m], %b: f32[5,4], %c: f32[1,5]", "%y = gemm(%a, %b, %c) {trans_a=1, trans_b=1}");
    assert_dims(&t, 2, (const int64_t[]){U, 5});
    t = inferred_type("%a: f32[3,4], %b: f32[4,?], %c: f32[3,6]", "%y = gemm(%a, %b, %c)");
    assert_dims(&t, 2, (const int64_t[]){3, 6});
    t = inferred_type("%x: f32[?n,10]", "%y = softmax(%x) {axis=-1}");
    assert_dims(&t, 2, (const int64_t[]){U, 10});
    ck_assert_str_eq(t.symbols[0], "n");
}
END_TEST

START_TEST(shapes_attributes_and_dtypes_that_do_not_fit)
{
    expect_shape_error("%x: f32[1,3,5,5], %w: f32[4,4,3,3]", "%y = conv(%x, %w)",
                       "X has 3 channels but W expects 4 (group 1)");
    expect_shape_error("%x: f32[1,6,5,5], %w: f32[5,2,3,3]", "%y = conv(%x, %w) {group=3}", "not divisible by group 3");
    expect_shape_error("%x: f32[1,1,2,2], %w: f32[1,1,3,3]", "%y = conv(%x, %w)", "smaller than the dilated kernel 3");
    expect_shape_error("%x: f32[1,1,5,5], %w: f32[1,1,3,3]", "%y = conv(%x, %w) {pads=[1,1,1]}", "pads has 3 values");
    expect_shape_error("%x: f32[1,1,5,5], %w: f32[1,1,3,3]", "%y = conv(%x, %w) {strides=[0,1]}", "strides[0] is 0");
    expect_shape_error("%x: f32[1,1,5,5], %w: f32[1,1,3,3]", "%y = conv(%x, %w) {kernel_shape=[2,3]}",
                       "kernel_shape[0] is 2 but W's spatial dim is 3");
    expect_shape_error("%x: f32[1,1,5,5], %w: f32[1,1,3,3], %b: f32[2]", "%y = conv(%x, %w, %b)",
                       "B has 2 entries but there are 1 channels");
    expect_shape_error("%x: i32[1,1,5,5], %w: i32[1,1,3,3]", "%y = conv(%x, %w)", "must be a float tensor");
    expect_shape_error("%x: f32[1,1,5,5], %w: f64[1,1,3,3]", "%y = conv(%x, %w)", "W has dtype f64");
    expect_shape_error("%x: f32[1,5], %w: f32[1,5]", "%y = conv(%x, %w)", "rank >= 3");
    expect_shape_error("%x: f32[1,3,4,4], %w: f32[2,3,3,3]", "%y = conv_transpose(%x, %w)",
                       "X has 3 channels but W has 2");
    expect_shape_error("%x: f32[1,1,4,4]", "%y = max_pool(%x)", "kernel_shape is required");
    expect_shape_error("%x: f32[1,1,4,4]", "%y = max_pool(%x) {kernel_shape=[2,2], pads=[2,0,0,0]}",
                       "must be smaller than the dilated kernel");
    expect_shape_error("%x: f32[1,1,4]", "%y = average_pool(%x) {kernel_shape=[2,2]}", "kernel_shape has 2 values");
    expect_shape_error("%x: i32[1,1,4,4]", "%y = average_pool(%x) {kernel_shape=[2,2]}", "must be a float tensor");
    expect_shape_error("%x: f32[1,1,4,4]", "%y = lp_pool(%x) {kernel_shape=[2,2], p=0}", "p is 0");
    expect_shape_error("%x: f32[2,3,4], %s: f32[4], %b: f32[3], %m: f32[3], %v: f32[3]",
                       "%y = batch_norm(%x, %s, %b, %m, %v)", "scale has 4 entries but there are 3 channels");
    expect_shape_error("%a: f32[2,3], %b: f32[4,5]", "%y = matmul(%a, %b)", "A has 3 columns, B has 4 rows");
    expect_shape_error("%a: f32[2,2,3], %b: f32[3,3,5]", "%y = matmul(%a, %b)", "cannot broadcast");
    expect_shape_error("%a: f32[2,3], %b: f32[3,5], %c: f32[3]", "%y = gemm(%a, %b, %c)",
                       "C dim 0 is 3, cannot broadcast to the output's 5");
    expect_shape_error("%a: f32[2,3,1], %b: f32[3,5]", "%y = gemm(%a, %b)", "must be 2-D");
    expect_shape_error("%x: f32[2,3]", "%y = softmax(%x) {axis=2}", "axis 2 is out of range for rank 2");
    expect_shape_error("%x: i64[2,3]", "%y = hardmax(%x) {axis=1}", "must be a float tensor");
}
END_TEST

/* A symbolic input that turns out too small for the kernel fails at run time with the
 * shape error, not a crash. */
START_TEST(run_time_shape_error)
{
    struct d2_error err;
    struct d2_graph *g = parse(one_node("%x: f32[1,1,?h,?w], %w: f32[1,1,3,3]", "%y = conv(%x, %w)"), &err);
    ck_assert_msg(g != NULL && d2_infer_graph(g, &err) == D2_OK, "%s", err.message);
    struct d2_tensor inputs[2], out;
    ck_assert_int_eq(d2_tensor_alloc(&inputs[0], NULL, D2_DTYPE_F32, 4, (const int64_t[]){1, 1, 2, 5}, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&inputs[1], NULL, D2_DTYPE_F32, 4, (const int64_t[]){1, 1, 3, 3}, &err), D2_OK);
    memset(&out, 0, sizeof out);
    enum d2_status st = d2_cpu_execute(g, inputs, 2, &out, 1, d2_allocator_default(), &err);
    ck_assert_int_eq(st, D2_ERR_SHAPE);
    ck_assert_msg(strstr(err.message, "smaller than the dilated kernel") != NULL, "%s", err.message);
    d2_tensor_release(&inputs[0], NULL);
    d2_tensor_release(&inputs[1], NULL);
    d2_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("nn");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, conv_partial_shapes);
    tcase_add_test(tc, pool_and_linear_partial_shapes);
    tcase_add_test(tc, shapes_attributes_and_dtypes_that_do_not_fit);
    tcase_add_test(tc, run_time_shape_error);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
