/* tests/unit/test_elementwise.c: what the elementwise op tests (tests/ops/) cannot
 * express: errors (integer division by zero, shapes or dtypes that do not fit) and
 * shape inference on partly known types (symbolic and unknown dims, unknown rank).
 * Numerics are tested in tests/ops/<op>/ (tools/optests/gen_elementwise.py). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "ir/ir.h"

static struct d2_graph *parse(const char *text, struct d2_error *err)
{
    d2_error_clear(err);
    return d2_parse_graph(text, strlen(text), d2_allocator_default(), err);
}

/* Parse and infer `text`; the inference must fail with `code` and a message
 * containing `needle`. */
static void expect_shape_error(const char *text, enum d2_status code, const char *needle)
{
    struct d2_error err;
    struct d2_graph *g = parse(text, &err);
    enum d2_status st;
    ck_assert_msg(g != NULL, "parse failed: %s", err.message);
    st = d2_infer_graph(g, &err);
    ck_assert_msg(st == code, "expected %s, got %s (%s) for:\n%s", d2_status_name(code), d2_status_name(st),
                  err.message, text);
    ck_assert_msg(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
    d2_graph_free(g);
}

/* Parse, infer and return the type of the graph's first output. */
static struct d2_type inferred_type(const char *text)
{
    struct d2_error err;
    struct d2_graph *g = parse(text, &err);
    struct d2_type t;
    ck_assert_msg(g != NULL, "parse failed: %s", err.message);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "inference failed: %s", err.message);
    t = g->values[g->outputs[0]].type;
    for (int32_t d = 0; d < t.rank; d++)
        t.symbols[d] = t.symbols[d] ? (strcmp(t.symbols[d], "n") == 0 ? "n" : "?") : NULL; /* outlive g */
    d2_graph_free(g);
    return t;
}

/* Run a one-output graph on two i64 (or other dtype) inputs given as tensors. */
static enum d2_status run2(const char *text, struct d2_tensor *a, struct d2_tensor *b, struct d2_error *err,
                           struct d2_tensor *out)
{
    struct d2_graph *g = parse(text, err);
    struct d2_tensor inputs[2];
    enum d2_status st;
    ck_assert_msg(g != NULL, "parse failed: %s", err->message);
    ck_assert_msg(d2_infer_graph(g, err) == D2_OK, "inference failed: %s", err->message);
    inputs[0] = *a;
    inputs[1] = *b;
    memset(out, 0, sizeof *out);
    st = d2_cpu_execute(g, inputs, 2, out, 1, d2_allocator_default(), err);
    d2_graph_free(g);
    return st;
}

static struct d2_tensor int_tensor(enum d2_dtype dtype, int64_t n, const int64_t *values)
{
    struct d2_tensor t;
    ck_assert_int_eq(d2_tensor_alloc(&t, NULL, dtype, 1, &n, NULL), D2_OK);
    for (int64_t i = 0; i < n; i++)
        d2_store_i64(t.data, dtype, (size_t)i, values[i]);
    return t;
}

START_TEST(integer_division_by_zero_is_an_error)
{
    static const char *const ops[] = { "div", "mod", "fmod" };
    static const enum d2_dtype dtypes[] = { D2_DTYPE_I64, D2_DTYPE_I32, D2_DTYPE_U8, D2_DTYPE_U64 };
    const int64_t num[3] = { 7, -8, 9 }, den[3] = { 2, -1, 0 };
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
        for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++) {
            char text[256];
            const char *dt = d2_dtype_name(dtypes[d]);
            struct d2_tensor a = int_tensor(dtypes[d], 3, num), b = int_tensor(dtypes[d], 3, den), out;
            struct d2_error err;
            enum d2_status st;
            snprintf(text, sizeof text, "graph main(%%a: %s[3], %%b: %s[3]) {\n  %%y = %s(%%a, %%b)\n  return %%y\n}\n",
                     dt, dt, ops[o]);
            st = run2(text, &a, &b, &err, &out);
            ck_assert_msg(st == D2_ERR_INVALID_ARG, "%s %s: got %s (%s)", ops[o], dt, d2_status_name(st), err.message);
            ck_assert_msg(strstr(err.message, "division by zero at output element 2"), "message: %s", err.message);
            ck_assert_msg(strstr(err.message, ops[o]), "message does not name the op: %s", err.message);
            d2_tensor_release(&out, NULL);
            d2_tensor_release(&a, NULL);
            d2_tensor_release(&b, NULL);
        }
    }
}
END_TEST

/* Float division by zero is IEEE (inf), not an error. */
START_TEST(float_division_by_zero_is_inf)
{
    const char *text = "graph main(%a: f32[2], %b: f32[2]) {\n  %y = div(%a, %b)\n  return %y\n}\n";
    int64_t n = 2;
    struct d2_tensor a, b, out;
    struct d2_error err;
    ck_assert_int_eq(d2_tensor_alloc(&a, NULL, D2_DTYPE_F32, 1, &n, NULL), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&b, NULL, D2_DTYPE_F32, 1, &n, NULL), D2_OK);
    ((float *)a.data)[0] = 1.0f;
    ((float *)a.data)[1] = -1.0f;
    ck_assert_int_eq(run2(text, &a, &b, &err, &out), D2_OK);
    ck_assert(((float *)out.data)[0] > 1e38f && ((float *)out.data)[1] < -1e38f);
    d2_tensor_release(&out, NULL);
    d2_tensor_release(&a, NULL);
    d2_tensor_release(&b, NULL);
}
END_TEST

START_TEST(shapes_and_dtypes_that_do_not_fit)
{
    expect_shape_error("graph main(%a: f32[2,3], %b: f32[4]) {\n  %y = add(%a, %b)\n  return %y\n}\n", D2_ERR_SHAPE,
                       "broadcast");
    expect_shape_error("graph main(%a: f32[3], %b: i64[3]) {\n  %y = mul(%a, %b)\n  return %y\n}\n", D2_ERR_SHAPE,
                       "different dtypes");
    expect_shape_error("graph main(%a: f32[3], %b: f32[3]) {\n  %y = and(%a, %b)\n  return %y\n}\n", D2_ERR_SHAPE,
                       "expected bool");
    expect_shape_error("graph main(%a: i32[3]) {\n  %y = exp(%a)\n  return %y\n}\n", D2_ERR_SHAPE, "float dtype");
    expect_shape_error("graph main(%a: bool[3]) {\n  %y = neg(%a)\n  return %y\n}\n", D2_ERR_SHAPE, "numeric");
    expect_shape_error("graph main(%a: f32[3], %m: f32[2]) {\n  %y = clip(%a, %m, _)\n  return %y\n}\n",
                       D2_ERR_SHAPE, "must be a scalar");
    expect_shape_error("graph main(%a: f32[3], %m: i32[]) {\n  %y = clip(%a, _, %m)\n  return %y\n}\n",
                       D2_ERR_SHAPE, "max (input 2) has dtype i32");
    expect_shape_error("graph main(%x: f32[1,3], %s: f32[2,3]) {\n  %y = prelu(%x, %s)\n  return %y\n}\n",
                       D2_ERR_SHAPE, "slope would grow");
    expect_shape_error("graph main(%c: f32[3], %a: f32[3], %b: f32[3]) {\n  %y = where(%c, %a, %b)\n  return %y\n}\n",
                       D2_ERR_SHAPE, "expected bool");
    expect_shape_error("graph main(%a: f32[2], %b: f32[2], %c: f32[3]) {\n  %y = sum(%a, %b, %c)\n  return %y\n}\n",
                       D2_ERR_SHAPE, "input 2 does not broadcast");
    expect_shape_error("graph main(%a: i32[2]) {\n  %y = mean(%a)\n  return %y\n}\n", D2_ERR_SHAPE, "float dtype");
}
END_TEST

START_TEST(partial_shapes)
{
    struct d2_type t;
    /* A symbolic dim broadcast against 1 stays symbolic. */
    t = inferred_type("graph main(%a: f32[?n,3], %b: f32[1,3]) {\n  %y = add(%a, %b)\n  return %y\n}\n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_F32);
    ck_assert_int_eq(t.rank, 2);
    ck_assert_int_eq(t.dims[0], D2_DIM_UNKNOWN);
    ck_assert_str_eq(t.symbols[0], "n");
    ck_assert_int_eq(t.dims[1], 3);
    /* Unknown against known (not 1): the known dim wins. */
    t = inferred_type("graph main(%a: f32[?], %b: f32[5]) {\n  %y = greater(%a, %b)\n  return %y\n}\n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_BOOL);
    ck_assert_int_eq(t.rank, 1);
    ck_assert_int_eq(t.dims[0], 5);
    /* Unknown rank: unknown rank out, dtype still known. */
    t = inferred_type("graph main(%a: f32[*], %b: f32[5]) {\n  %y = sub(%a, %b)\n  return %y\n}\n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_F32);
    ck_assert_int_eq(t.rank, D2_RANK_UNKNOWN);
    /* Unary ops keep the input's shape, cast changes only the dtype. */
    t = inferred_type("graph main(%a: f16[?n,2]) {\n  %y = cast(%a) {to=i64}\n  return %y\n}\n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_I64);
    ck_assert_int_eq(t.rank, 2);
    ck_assert_str_eq(t.symbols[0], "n");
    t = inferred_type("graph main(%a: f32[4,1]) {\n  %y = is_inf(%a)\n  return %y\n}\n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_BOOL);
    ck_assert_int_eq(t.dims[0], 4);
    /* pow: dtype of the base; where: broadcast of all three. */
    t = inferred_type("graph main(%a: i32[3,1], %b: f32[4]) {\n  %y = pow(%a, %b)\n  return %y\n}\n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_I32);
    ck_assert_int_eq(t.dims[0], 3);
    ck_assert_int_eq(t.dims[1], 4);
    t = inferred_type("graph main(%c: bool[2,1,1], %a: u8[3,1], %b: u8[4]) {\n  %y = where(%c, %a, %b)\n"
                      "  return %y\n}\n");
    ck_assert_int_eq(t.dtype, D2_DTYPE_U8);
    ck_assert_int_eq(t.rank, 3);
    ck_assert_int_eq(t.dims[0], 2);
    ck_assert_int_eq(t.dims[1], 3);
    ck_assert_int_eq(t.dims[2], 4);
    /* prelu's output is x's shape, symbols included. */
    t = inferred_type("graph main(%x: f32[?n,3,4], %s: f32[3,1]) {\n  %y = prelu(%x, %s)\n  return %y\n}\n");
    ck_assert_int_eq(t.rank, 3);
    ck_assert_str_eq(t.symbols[0], "n");
    ck_assert_int_eq(t.dims[2], 4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("elementwise");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, integer_division_by_zero_is_an_error);
    tcase_add_test(tc, float_division_by_zero_is_inf);
    tcase_add_test(tc, shapes_and_dtypes_that_do_not_fit);
    tcase_add_test(tc, partial_shapes);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
