/* tests/unit/test_shape_tensor.c: compile-time shape propagation of the "shape and
 * data movement" ops (ir/shape_tensor*.c) with partial information, and the errors
 * their shape functions and reference kernels report.
 *
 * Op numerics are covered by tests/ops/<op>/ (tools/optests/gen_tensor.py). Those
 * cases run with concrete inputs; here graphs have unknown or symbolic dims and
 * non-constant shape-like inputs, and each test checks the exact static type that
 * inference must produce (written as IR type text, "f32[?b,12]"). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"
#include "ir/ir.h"

/* IR-like text of a type: known dims as numbers, unknown as ?, ?name or ?<=N. */
static void type_text(const struct d2_type *t, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s[", d2_dtype_name(t->dtype));
    if (t->rank < 0)
        n += snprintf(buf + n, size - (size_t)n, "*");
    for (int32_t d = 0; d < t->rank; d++) {
        if (d)
            n += snprintf(buf + n, size - (size_t)n, ",");
        if (t->dims[d] >= 0)
            n += snprintf(buf + n, size - (size_t)n, "%lld", (long long)t->dims[d]);
        else
            n += snprintf(buf + n, size - (size_t)n, "?%s", t->symbols[d] ? t->symbols[d] : "");
        if (t->dims[d] < 0 && t->upper_bounds[d] >= 0)
            n += snprintf(buf + n, size - (size_t)n, "<=%lld", (long long)t->upper_bounds[d]);
    }
    snprintf(buf + n, size - (size_t)n, "]");
}

static struct d2_graph *parse(const char *text)
{
    struct d2_error err = {0};
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    ck_assert_msg(g != NULL, "parse: %s", err.message);
    return g;
}

/* Infer the graph and compare the type of the value named `value`. */
static void expect_type(const char *text, const char *value, const char *expected)
{
    struct d2_error err = {0};
    struct d2_graph *g = parse(text);
    char got[256];
    d2_value_id v;
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "infer: %s", err.message);
    v = d2_graph_find_value(g, value);
    ck_assert_uint_ne(v, D2_NO_VALUE);
    type_text(&g->values[v].type, got, sizeof got);
    ck_assert_msg(strcmp(got, expected) == 0, "%%%s: got %s, want %s", value, got, expected);
    d2_graph_free(g);
}

/* Inference must fail with D2_ERR_SHAPE and a message containing `fragment`. */
static void expect_shape_error(const char *text, const char *fragment)
{
    struct d2_error err = {0};
    struct d2_graph *g = parse(text);
    ck_assert_int_eq(d2_infer_graph(g, &err), D2_ERR_SHAPE);
    ck_assert_msg(strstr(err.message, fragment) != NULL, "message '%s' lacks '%s'", err.message, fragment);
    d2_graph_free(g);
}

START_TEST(reshape_keeps_symbols_through_zero_and_minus_one)
{
    expect_type("graph main(%x: f32[?b,3,4]) {\n"
                "  %s: i64[2] = const [0, -1]\n"
                "  %y = reshape(%x, %s)\n  return %y\n}\n",
                "y", "f32[?b,12]");
    expect_type("graph main(%x: f32[?n,6]) {\n"
                "  %s: i64[3] = const [-1, 2, 3]\n"
                "  %y = reshape(%x, %s)\n  return %y\n}\n",
                "y", "f32[?n,2,3]");
    /* Shape not constant: only the rank is known. */
    expect_type("graph main(%x: f32[2,6], %s: i64[3]) {\n"
                "  %y = reshape(%x, %s)\n  return %y\n}\n",
                "y", "f32[?,?,?]");
    expect_shape_error("graph main(%x: f32[2,3]) {\n"
                       "  %s: i64[2] = const [4, 2]\n"
                       "  %y = reshape(%x, %s)\n  return %y\n}\n",
                       "cannot reshape 6 elements into 8");
    expect_shape_error("graph main(%x: f32[2,3]) {\n"
                       "  %s: i64[2] = const [4, -1]\n"
                       "  %y = reshape(%x, %s)\n  return %y\n}\n",
                       "-1");
}
END_TEST

START_TEST(slice_with_constant_bounds_on_unknown_dims)
{
    expect_type("graph main(%x: f32[?n,10]) {\n"
                "  %st: i64[1] = const [2]\n  %en: i64[1] = const [-3]\n  %ax: i64[1] = const [1]\n"
                "  %y = slice(%x, %st, %en, %ax)\n  return %y\n}\n",
                "y", "f32[?n,5]");
    /* Unknown dim, forward slice: at most end - start elements. */
    expect_type("graph main(%x: f32[?n]) {\n"
                "  %st: i64[1] = const [0]\n  %en: i64[1] = const [100]\n"
                "  %y = slice(%x, %st, %en)\n  return %y\n}\n",
                "y", "f32[?<=100]");
    /* Bounds not constant: sliced axes are unknown (bounded by the input dim),
     * the others pass through. */
    expect_type("graph main(%x: f32[?n,10,4], %st: i64[1], %en: i64[1]) {\n"
                "  %ax: i64[1] = const [1]\n"
                "  %y = slice(%x, %st, %en, %ax)\n  return %y\n}\n",
                "y", "f32[?n,?<=10,4]");
    expect_shape_error("graph main(%x: f32[4]) {\n"
                       "  %st: i64[1] = const [0]\n  %en: i64[1] = const [4]\n  %sp: i64[1] = const [0]\n"
                       "  %y = slice(%x, %st, %en, _, %sp)\n  return %y\n}\n",
                       "step 0");
}
END_TEST

START_TEST(concat_split_and_flatten_propagate_dims)
{
    expect_type("graph main(%a: f32[?b,3], %c: f32[?b,4]) {\n"
                "  %y = concat(%a, %c) {axis=1}\n  return %y\n}\n",
                "y", "f32[?b,7]");
    expect_type("graph main(%a: f32[?b,3], %c: f32[2,3]) {\n"
                "  %y = concat(%a, %c)\n  return %y\n}\n",
                "y", "f32[?,3]");
    expect_type("graph main(%x: f32[?b,7]) {\n"
                "  %y0, %y1, %y2 = split(%x) {axis=1, num_outputs=3}\n  return %y2\n}\n",
                "y2", "f32[?b,1]");
    expect_type("graph main(%x: f32[?b,3,4]) {\n"
                "  %y = flatten(%x) {axis=1}\n  return %y\n}\n",
                "y", "f32[?b,12]");
    expect_shape_error("graph main(%x: f32[5]) {\n"
                       "  %s: i64[2] = const [2, 2]\n"
                       "  %y0, %y1 = split(%x, %s)\n  return %y0\n}\n",
                       "sum to 4");
}
END_TEST

START_TEST(squeeze_unsqueeze_expand_with_partial_knowledge)
{
    /* No axes and an unknown dim (it might be 1): rank unknown. */
    expect_type("graph main(%x: f32[1,?n]) {\n  %y = squeeze(%x)\n  return %y\n}\n", "y", "f32[*]");
    expect_type("graph main(%x: f32[1,?n]) {\n"
                "  %a: i64[1] = const [0]\n  %y = squeeze(%x, %a)\n  return %y\n}\n",
                "y", "f32[?n]");
    expect_type("graph main(%x: f32[?n,3]) {\n"
                "  %a: i64[2] = const [-1, 0]\n  %y = unsqueeze(%x, %a)\n  return %y\n}\n",
                "y", "f32[1,?n,3,1]");
    /* Shape values unknown: x's dims other than 1 survive. */
    expect_type("graph main(%x: f32[3,1], %s: i64[3]) {\n  %y = expand(%x, %s)\n  return %y\n}\n", "y",
                "f32[?,3,?]");
    expect_shape_error("graph main(%x: f32[2,3]) {\n"
                       "  %a: i64[1] = const [1]\n  %y = squeeze(%x, %a)\n  return %y\n}\n",
                       "cannot squeeze dim 1 of size 3");
}
END_TEST

START_TEST(data_dependent_ops_without_values)
{
    expect_type("graph main(%s: i64[3]) {\n"
                "  %y = constant_of_shape(%s) {dtype=i32}\n  return %y\n}\n",
                "y", "i32[?,?,?]");
    expect_type("graph main(%a: f32[], %b: f32[], %c: f32[]) {\n"
                "  %y = range(%a, %b, %c)\n  return %y\n}\n",
                "y", "f32[?]");
    expect_type("graph main(%i: i64[?n], %v: f32[2]) {\n"
                "  %d: i64[] = const [5]\n  %y = one_hot(%i, %d, %v) {axis=0}\n  return %y\n}\n",
                "y", "f32[5,?n]");
    expect_type("graph main(%i: i64[?n], %d: i64[], %v: f32[2]) {\n"
                "  %y = one_hot(%i, %d, %v)\n  return %y\n}\n",
                "y", "f32[?n,?]");
    expect_type("graph main(%x: f32[?b,3,?h]) {\n  %y = shape(%x) {start=1}\n  return %y\n}\n", "y", "i64[2]");
    expect_type("graph main(%x: f32[?b,4], %i: i64[2,5]) {\n"
                "  %y = gather(%x, %i) {axis=1}\n  return %y\n}\n",
                "y", "f32[?b,2,5]");
}
END_TEST

START_TEST(hostile_inputs_give_errors)
{
    /* Sizes that overflow int64 saturate and are reported, never wrapped. */
    expect_shape_error("graph main(%x: f32[3]) {\n"
                       "  %r: i64[1] = const [4611686018427387904]\n"
                       "  %y = tile(%x, %r)\n  return %y\n}\n",
                       "overflows int64");
    expect_shape_error("graph main(%x: f32[3]) {\n"
                       "  %p: i64[2] = const [0, 9223372036854775807]\n"
                       "  %y = pad(%x, %p)\n  return %y\n}\n",
                       "out of range");
    /* A required input written as omitted. */
    expect_shape_error("graph main(%x: f32[3]) {\n  %y = reshape(%x, _)\n  return %y\n}\n",
                       "input 1 is required but missing");
}
END_TEST

/* Run a parsed graph whose single input is `input`; return the status. */
static enum d2_status run_graph(const char *text, const struct d2_tensor *input, struct d2_error *err)
{
    struct d2_graph *g = parse(text);
    struct d2_tensor out = {0};
    enum d2_status st = d2_infer_graph(g, err);
    if (st == D2_OK)
        st = d2_cpu_execute(g, input, 1, &out, 1, d2_allocator_default(), err);
    if (st == D2_OK)
        d2_tensor_release(&out, d2_allocator_default());
    d2_graph_free(g);
    return st;
}

START_TEST(kernels_reject_out_of_range_indices)
{
    static const char *gather = "graph main(%i: i64[2]) {\n"
                                "  %x: f32[3] = const [1, 2, 3]\n"
                                "  %y = gather(%x, %i)\n  return %y\n}\n";
    static const char *scatter = "graph main(%i: i64[1,1]) {\n"
                                 "  %x: f32[3] = const [1, 2, 3]\n  %u: f32[1] = const [9]\n"
                                 "  %y = scatter_nd(%x, %i, %u)\n  return %y\n}\n";
    int64_t dims[2] = {2, 1};
    struct d2_tensor idx;
    struct d2_error err = {0};
    ck_assert_int_eq(d2_tensor_alloc(&idx, NULL, D2_DTYPE_I64, 1, dims, NULL), D2_OK);
    ((int64_t *)idx.data)[0] = -3; /* fine: wraps to 0 */
    ((int64_t *)idx.data)[1] = 3;  /* out of range */
    ck_assert_int_eq(run_graph(gather, &idx, &err), D2_ERR_SHAPE);
    ck_assert_msg(strstr(err.message, "index 3") != NULL, "message: %s", err.message);
    ((int64_t *)idx.data)[1] = 2;
    d2_error_clear(&err);
    ck_assert_int_eq(run_graph(gather, &idx, &err), D2_OK);
    d2_tensor_release(&idx, NULL);

    ck_assert_int_eq(d2_tensor_alloc(&idx, NULL, D2_DTYPE_I64, 2, (int64_t[]){1, 1}, NULL), D2_OK);
    ((int64_t *)idx.data)[0] = -4;
    d2_error_clear(&err);
    ck_assert_int_eq(run_graph(scatter, &idx, &err), D2_ERR_SHAPE);
    ck_assert_msg(strstr(err.message, "index -4") != NULL, "message: %s", err.message);
    d2_tensor_release(&idx, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shape_tensor");
    TCase *tc = tcase_create("shape_tensor");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, reshape_keeps_symbols_through_zero_and_minus_one);
    tcase_add_test(tc, slice_with_constant_bounds_on_unknown_dims);
    tcase_add_test(tc, concat_split_and_flatten_propagate_dims);
    tcase_add_test(tc, squeeze_unsqueeze_expand_with_partial_knowledge);
    tcase_add_test(tc, data_dependent_ops_without_values);
    tcase_add_test(tc, hostile_inputs_give_errors);
    tcase_add_test(tc, kernels_reject_out_of_range_indices);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
