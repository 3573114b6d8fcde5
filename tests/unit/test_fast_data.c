/* tests/unit/test_fast_data.c: the fast data kernels (backends/cpu/fast_broadcast.c,
 * fast_tensor.c, fast_index.c, fast_resize.c) give results IDENTICAL to the reference
 * kernels: the same output dtypes, dims and bytes, and for bad inputs the same status
 * and message, for every kernel table (ISA) this machine runs, with 1 and 2 threads.
 *
 * Each case is a small graph run by the reference executor (d2_cpu_execute) and by the
 * fast executor (d2_cpu_fast_execute). Inputs are random with the values that matter
 * mixed in: NaN, +-0, +-inf, ties, negative and out-of-range indices, INT64_MIN and -1
 * divisors. Shapes are odd, broadcast in every pattern (same shape, scalar, per channel,
 * row/column, both sides), empty, and large enough to split rows into pieces and use
 * both threads. The reference kernels themselves are checked against numpy by the op
 * tests (tests/ops/). */
#include <check.h>
#include <math.h>
#include <stdarg.h>
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
#define MAX_OUT 2
#define MAX_IN 6

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint32_t next_u32(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 32);
}
static int64_t below(int64_t n)
{
    return (int64_t)(next_u32() % (uint32_t)n);
}

/* ---- inputs ------------------------------------------------------------------------- */

enum fill { FILL_PLAIN, FILL_SPECIAL, FILL_TIES, FILL_SPARSE };

struct inputs {
    struct d2_tensor t[MAX_IN];
    uint32_t n;
    bool symbolic;        /* dims unknown to shape inference (errors show at run time) */
    char params[512];
};

static struct d2_tensor *add_input(struct inputs *in, const char *name, enum d2_dtype dtype, int32_t rank,
                                   const int64_t *dims)
{
    struct d2_error err = {0};
    struct d2_tensor *t = &in->t[in->n++];
    ck_assert_int_eq(d2_tensor_alloc(t, NULL, dtype, rank, dims, &err), D2_OK);
    size_t len = strlen(in->params);
    len += (size_t)snprintf(in->params + len, sizeof in->params - len, "%s%%%s: %s[", in->n > 1 ? ", " : "", name,
                            d2_dtype_name(dtype));
    for (int32_t d = 0; d < rank; d++) {
        if (in->symbolic)
            len += (size_t)snprintf(in->params + len, sizeof in->params - len, "%s?%s%d", d ? "," : "", name, (int)d);
        else
            len += (size_t)snprintf(in->params + len, sizeof in->params - len, "%s%lld", d ? "," : "",
                                    (long long)dims[d]);
    }
    snprintf(in->params + len, sizeof in->params - len, "]");
    return t;
}

/* Random values; FILL_SPECIAL mixes in NaN/+-0/+-inf (floats) or extremes (ints),
 * FILL_TIES draws from a few values, FILL_SPARSE is mostly zero. */
static void fill(struct d2_tensor *t, enum fill kind)
{
    int64_t n = d2_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)(int64_t)below(2001) / 100.0 - 10.0;
        if (kind == FILL_TIES)
            v = (double)below(5) - 2.0;
        if (kind == FILL_SPARSE)
            v = below(50) == 0 ? (double)below(3) + 1.0 : 0.0;
        if (kind == FILL_SPECIAL && below(8) == 0) {
            static const double special[] = { NAN, 0.0, -0.0, INFINITY, -INFINITY, 1.0, -1.0 };
            v = special[below(7)];
        }
        if (t->dtype == D2_DTYPE_I64 || t->dtype == D2_DTYPE_I32) {
            int64_t iv = isfinite(v) ? (int64_t)v : (int64_t)below(7) - 3;
            if (kind == FILL_SPECIAL && t->dtype == D2_DTYPE_I64 && below(10) == 0)
                iv = below(2) ? INT64_MIN : INT64_MAX;
            if (kind == FILL_SPECIAL && below(6) == 0)
                iv = -1;
            d2_store_i64(t->data, t->dtype, (size_t)i, iv);
        } else {
            d2_store_f64(t->data, t->dtype, (size_t)i, v);
        }
    }
}

static void release_inputs(struct inputs *in)
{
    for (uint32_t i = 0; i < in->n; i++)
        d2_tensor_release(&in->t[i], NULL);
    memset(in, 0, sizeof *in);
}

/* ---- running both executors ----------------------------------------------------------- */

static int cases_checked, error_cases_checked;

/* Runs `body` (nodes producing the outputs named in `outputs`, e.g. "%y" or "%v, %i")
 * through both executors on every supported table with 1 and 2 threads and asserts
 * identical outputs, or identical failures. Returns the status of the reference. */
static enum d2_status check_same(const struct inputs *in, const char *body, const char *outputs, uint32_t num_outputs,
                                 const char *what)
{
    char text[4096];
    snprintf(text, sizeof text, "graph main(%s) {\n  %s\n  return %s\n}\n", in->params, body, outputs);
    struct d2_error err = {0};
    struct d2_graph *g = d2_parse_graph(text, strlen(text), d2_allocator_default(), &err);
    ck_assert_msg(g != NULL, "%s: parse failed: %s\n%s", what, err.message, text);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "%s: %s", what, err.message);
    struct d2_tensor want[MAX_OUT];
    memset(want, 0, sizeof want);
    struct d2_error want_err = {0};
    enum d2_status want_st = d2_cpu_execute(g, in->t, in->n, want, num_outputs, d2_allocator_default(), &want_err);
    for (size_t t = 0; t < NUM_TABLES; t++) {
        if (!d2_cpu_isa_supported(all_tables[t]->name))
            continue;
        for (int32_t threads = 1; threads <= 2; threads++) {
            struct d2_cpu_fast_options o = { threads, all_tables[t]->name, 0 };
            struct d2_cpu_fast *fast = NULL;
            ck_assert_msg(d2_cpu_fast_new(&o, NULL, &fast, &err) == D2_OK, "%s", err.message);
            struct d2_tensor got[MAX_OUT];
            memset(got, 0, sizeof got);
            struct d2_error got_err = {0};
            enum d2_status got_st =
                d2_cpu_fast_execute(fast, g, in->t, in->n, got, num_outputs, NULL, NULL, NULL, &got_err);
            ck_assert_msg(got_st == want_st && strcmp(got_err.message, want_err.message) == 0,
                          "%s (%s, %d threads): status %d '%s', want %d '%s'\n%s", what, all_tables[t]->name,
                          threads, (int)got_st, got_err.message, (int)want_st, want_err.message, text);
            for (uint32_t k = 0; k < num_outputs && want_st == D2_OK; k++) {
                ck_assert_msg(got[k].dtype == want[k].dtype && got[k].rank == want[k].rank &&
                                  memcmp(got[k].dims, want[k].dims, (size_t)want[k].rank * sizeof *want[k].dims) == 0,
                              "%s (%s, %d threads): output %u type differs", what, all_tables[t]->name, threads, k);
                if (want[k].nbytes > 0 && memcmp(got[k].data, want[k].data, want[k].nbytes) != 0) {
                    size_t at = 0;
                    while (((const uint8_t *)got[k].data)[at] == ((const uint8_t *)want[k].data)[at])
                        at++;
                    size_t elem = d2_dtype_size(want[k].dtype), e = at / elem;
                    ck_abort_msg("%s (%s, %d threads): output %u differs first at element %zu of %lld: %.9g, want "
                                 "%.9g\n%s",
                                 what, all_tables[t]->name, threads, k, e, (long long)d2_tensor_numel(&want[k]),
                                 d2_load_f64(got[k].data, got[k].dtype, e), d2_load_f64(want[k].data, want[k].dtype, e),
                                 text);
                }
                d2_tensor_release(&got[k], NULL);
            }
            d2_cpu_fast_free(fast);
        }
    }
    for (uint32_t k = 0; k < num_outputs && want_st == D2_OK; k++)
        d2_tensor_release(&want[k], NULL);
    d2_graph_free(g);
    if (want_st == D2_OK)
        cases_checked++;
    else
        error_cases_checked++;
    return want_st;
}

static void expect_ok(const struct inputs *in, const char *body, const char *what)
{
    ck_assert_msg(check_same(in, body, "%y", 1, what) == D2_OK, "%s: the reference failed", what);
}

static void expect_error(const struct inputs *in, const char *body, const char *what)
{
    ck_assert_msg(check_same(in, body, "%y", 1, what) != D2_OK, "%s: the reference did not fail", what);
}

/* ---- broadcasting elementwise ---------------------------------------------------------- */

struct shape {
    int32_t rank;
    int64_t dims[5];
};

static const struct shape pairs[][2] = {
    { { 2, { 7, 33 } }, { 2, { 7, 33 } } },                    /* same shape */
    { { 0, { 0 } }, { 2, { 4, 5 } } },                         /* scalar, left */
    { { 3, { 2, 3, 17 } }, { 0, { 0 } } },                     /* scalar, right */
    { { 4, { 3, 5, 17, 19 } }, { 4, { 1, 5, 1, 1 } } },        /* per channel */
    { { 3, { 5, 1, 1 } }, { 4, { 2, 5, 9, 13 } } },            /* per channel, left, lower rank */
    { { 2, { 6, 1 } }, { 2, { 1, 9 } } },                      /* column x row */
    { { 3, { 2, 3, 4 } }, { 1, { 4 } } },                      /* trailing rows */
    { { 2, { 37, 4 } }, { 2, { 37, 1 } } },                    /* box decoding: short rows */
    { { 2, { 300, 301 } }, { 2, { 300, 301 } } },              /* threads */
    { { 2, { 2, 40000 } }, { 2, { 2, 1 } } },                  /* long rows in pieces */
    { { 3, { 3, 80, 121 } }, { 3, { 3, 1, 1 } } },             /* image normalisation */
    { { 1, { 40001 } }, { 0, { 0 } } },                        /* score threshold */
    { { 3, { 4, 1, 3 } }, { 3, { 1, 5, 1 } } },                /* both broadcast */
    { { 2, { 0, 4 } }, { 1, { 4 } } },                         /* empty */
    { { 3, { 1, 1, 1 } }, { 1, { 1 } } },                      /* all ones */
};
#define NUM_PAIRS (int)(sizeof pairs / sizeof pairs[0])

static void binary_case(const char *op, enum d2_dtype dtype, enum d2_dtype out_check, int pair, enum fill kind)
{
    struct inputs in;
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "a", dtype, pairs[pair][0].rank, pairs[pair][0].dims), kind);
    fill(add_input(&in, "b", dtype, pairs[pair][1].rank, pairs[pair][1].dims), kind);
    char body[128], what[256];
    snprintf(body, sizeof body, "%%y = %s(%%a, %%b)", op);
    snprintf(what, sizeof what, "%s %s pair %d fill %d", op, d2_dtype_name(dtype), pair, (int)kind);
    (void)out_check;
    check_same(&in, body, "%y", 1, what);
    release_inputs(&in);
}

START_TEST(test_arith_f32)
{
    static const char *const ops[] = { "add", "sub", "mul", "div", "max", "min" };
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (int p = 0; p < NUM_PAIRS; p++) {
            binary_case(ops[o], D2_DTYPE_F32, D2_DTYPE_F32, p, FILL_PLAIN);
            binary_case(ops[o], D2_DTYPE_F32, D2_DTYPE_F32, p, FILL_SPECIAL);
        }
}
END_TEST

START_TEST(test_arith_i64)
{
    static const char *const ops[] = { "add", "sub", "mul", "max", "min" };
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (int p = 0; p < NUM_PAIRS; p++)
            binary_case(ops[o], D2_DTYPE_I64, D2_DTYPE_I64, p, FILL_SPECIAL);
    /* div: divisors without zeros (INT64_MIN / -1 among them), then with a zero. */
    for (int p = 0; p < NUM_PAIRS; p++) {
        struct inputs in;
        memset(&in, 0, sizeof in);
        struct d2_tensor *a = add_input(&in, "a", D2_DTYPE_I64, pairs[p][0].rank, pairs[p][0].dims);
        struct d2_tensor *b = add_input(&in, "b", D2_DTYPE_I64, pairs[p][1].rank, pairs[p][1].dims);
        fill(a, FILL_SPECIAL);
        fill(b, FILL_SPECIAL);
        int64_t *bv = b->data, nb = d2_tensor_numel(b);
        for (int64_t i = 0; i < nb; i++)
            if (bv[i] == 0)
                bv[i] = below(2) ? -1 : 7;
        expect_ok(&in, "%y = div(%a, %b)", "i64 div");
        if (nb > 0 && d2_tensor_numel(a) > 0) {
            bv[below(nb)] = 0;
            expect_error(&in, "%y = div(%a, %b)", "i64 div by zero");
        }
        release_inputs(&in);
    }
}
END_TEST

START_TEST(test_compare_logic_where)
{
    static const char *const ops[] = { "equal", "greater", "less", "greater_equal", "less_equal" };
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (int p = 0; p < NUM_PAIRS; p++) {
            binary_case(ops[o], D2_DTYPE_F32, D2_DTYPE_BOOL, p, FILL_SPECIAL);
            binary_case(ops[o], D2_DTYPE_F32, D2_DTYPE_BOOL, p, FILL_TIES);
            binary_case(ops[o], D2_DTYPE_I64, D2_DTYPE_BOOL, p, FILL_TIES);
        }
    static const char *const logic[] = { "and", "or", "xor" };
    for (size_t o = 0; o < 3; o++)
        for (int p = 0; p < NUM_PAIRS; p++)
            binary_case(logic[o], D2_DTYPE_BOOL, D2_DTYPE_BOOL, p, FILL_SPARSE);
    /* where: condition broadcast against values of several widths. */
    static const enum d2_dtype value_types[] = { D2_DTYPE_F32, D2_DTYPE_I64, D2_DTYPE_U8, D2_DTYPE_F16 };
    for (int p = 0; p < NUM_PAIRS; p++)
        for (size_t v = 0; v < 4; v++) {
            struct inputs in;
            memset(&in, 0, sizeof in);
            const struct shape *s = pairs[p];
            int64_t one = 1;
            fill(add_input(&in, "c", D2_DTYPE_BOOL, s[0].rank, s[0].dims), FILL_TIES);
            fill(add_input(&in, "a", value_types[v], s[1].rank, s[1].dims), FILL_PLAIN);
            fill(add_input(&in, "b", value_types[v], v == 1 ? 1 : s[0].rank, v == 1 ? &one : s[0].dims), FILL_PLAIN);
            expect_ok(&in, "%y = where(%c, %a, %b)", "where");
            release_inputs(&in);
        }
    /* Shapes that do not broadcast, and mixed dtypes: the reference's errors. */
    struct inputs in;
    memset(&in, 0, sizeof in);
    in.symbolic = true;
    add_input(&in, "a", D2_DTYPE_F32, 2, (int64_t[]){ 3, 4 });
    add_input(&in, "b", D2_DTYPE_F32, 1, (int64_t[]){ 5 });
    add_input(&in, "c", D2_DTYPE_I64, 1, (int64_t[]){ 4 });
    expect_error(&in, "%y = sub(%a, %b)", "no broadcast");
    expect_error(&in, "%y = greater(%a, %b)", "no broadcast compare");
    release_inputs(&in);
}
END_TEST

/* ---- data movement ------------------------------------------------------------------------ */

START_TEST(test_slice_transpose_expand)
{
    struct inputs in;
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "x", D2_DTYPE_F32, 4, (int64_t[]){ 3, 5, 7, 11 }), FILL_SPECIAL);
    static const char *const slices[] = {
        "%s: i64[1] = const [1]\n  %e: i64[1] = const [4]\n  %a: i64[1] = const [1]\n  %y = slice(%x, %s, %e, %a)",
        "%s: i64[2] = const [0, 2]\n  %e: i64[2] = const [2, 100]\n  %a: i64[2] = const [0, 3]\n  %y = slice(%x, %s, %e, %a)",
        "%s: i64[1] = const [-1]\n  %e: i64[1] = const [-100]\n  %a: i64[1] = const [3]\n  %p: i64[1] = const [-2]\n  %y = slice(%x, %s, %e, %a, %p)",
        "%s: i64[2] = const [1, 1]\n  %e: i64[2] = const [7, 5]\n  %a: i64[2] = const [2, 1]\n  %p: i64[2] = const [3, 2]\n  %y = slice(%x, %s, %e, %a, %p)",
        "%s: i64[1] = const [3]\n  %e: i64[1] = const [3]\n  %a: i64[1] = const [2]\n  %y = slice(%x, %s, %e, %a)",
    };
    for (size_t i = 0; i < sizeof slices / sizeof slices[0]; i++)
        check_same(&in, slices[i], "%y", 1, slices[i]);
    /* Step 0 only shows at run time when the steps are an input. */
    int64_t *step = add_input(&in, "p", D2_DTYPE_I64, 1, (int64_t[]){ 1 })->data;
    *step = 0;
    expect_error(&in, "%s: i64[1] = const [0]\n  %e: i64[1] = const [2]\n  %a: i64[1] = const [0]\n  "
                      "%y = slice(%x, %s, %e, %a, %p)", "step 0");
    *step = -1;
    expect_ok(&in, "%s: i64[1] = const [5]\n  %e: i64[1] = const [-8]\n  %a: i64[1] = const [3]\n  "
                   "%y = slice(%x, %s, %e, %a, %p)", "step -1");
    static const char *const perms[] = { "[0, 1, 2, 3]", "[3, 2, 1, 0]", "[0, 2, 3, 1]", "[1, 0, 2, 3]",
                                         "[0, 1, 3, 2]", "[2, 0, 3, 1]" };
    char body[256];
    for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++) {
        snprintf(body, sizeof body, "%%y = transpose(%%x) {perm=%s}", perms[i]);
        expect_ok(&in, body, body);
    }
    release_inputs(&in);
    /* The detection head's [1,A,K,H,W] -> [1,H,W,A,K] (a blocked 2-D transpose), in
     * several dtypes, and the [1,n] -> [n,1] of non_zero's output. */
    static const enum d2_dtype types[] = { D2_DTYPE_F32, D2_DTYPE_I64, D2_DTYPE_BOOL, D2_DTYPE_F16 };
    for (size_t t = 0; t < 4; t++) {
        memset(&in, 0, sizeof in);
        fill(add_input(&in, "x", types[t], 5, (int64_t[]){ 1, 9, 13, 37, 45 }), FILL_TIES);
        expect_ok(&in, "%y = transpose(%x) {perm=[0, 3, 4, 1, 2]}", "head transpose");
        expect_ok(&in, "%y = transpose(%x) {perm=[0, 2, 1, 4, 3]}", "two transposes");
        release_inputs(&in);
    }
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "x", D2_DTYPE_F32, 2, (int64_t[]){ 333, 517 }), FILL_PLAIN);
    expect_ok(&in, "%y = transpose(%x)", "large 2-D transpose, threads");
    release_inputs(&in);
    /* expand: per-row index to whole rows, row and column broadcasts, no-op. */
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "r", D2_DTYPE_I64, 4, (int64_t[]){ 13, 1, 1, 1 }), FILL_TIES);
    fill(add_input(&in, "c", D2_DTYPE_F32, 2, (int64_t[]){ 3, 1 }), FILL_PLAIN);
    fill(add_input(&in, "w", D2_DTYPE_U8, 1, (int64_t[]){ 7 }), FILL_PLAIN);
    expect_ok(&in, "%s: i64[4] = const [13, 256, 7, 7]\n  %y = expand(%r, %s)", "expand rows");
    expect_ok(&in, "%s: i64[3] = const [2, 3, 5]\n  %y = expand(%c, %s)", "expand columns");
    expect_ok(&in, "%s: i64[2] = const [4, 7]\n  %y = expand(%w, %s)", "expand u8 rows");
    expect_ok(&in, "%s: i64[1] = const [1]\n  %y = expand(%w, %s)", "expand no-op");
    *(int64_t *)add_input(&in, "t", D2_DTYPE_I64, 1, (int64_t[]){ 1 })->data = 3; /* known only at run time */
    expect_error(&in, "%y = expand(%w, %t)", "expand mismatch");
    release_inputs(&in);
}
END_TEST

START_TEST(test_concat_pad_reshape_constant)
{
    struct inputs in;
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "a", D2_DTYPE_F32, 3, (int64_t[]){ 101, 1, 1 }), FILL_PLAIN);
    fill(add_input(&in, "b", D2_DTYPE_F32, 3, (int64_t[]){ 101, 1, 3 }), FILL_PLAIN);
    fill(add_input(&in, "c", D2_DTYPE_F32, 3, (int64_t[]){ 101, 2, 1 }), FILL_PLAIN);
    expect_ok(&in, "%y = concat(%a, %b, %a) {axis=2}", "concat small rows");
    expect_ok(&in, "%y = concat(%a, %c) {axis=1}", "concat axis 1");
    expect_ok(&in, "%y = concat(%a, %a, %a) {axis=0}", "concat axis 0");
    release_inputs(&in);
    memset(&in, 0, sizeof in);
    in.symbolic = true;
    fill(add_input(&in, "a", D2_DTYPE_F32, 3, (int64_t[]){ 101, 1, 1 }), FILL_PLAIN);
    fill(add_input(&in, "c", D2_DTYPE_F32, 3, (int64_t[]){ 101, 2, 1 }), FILL_PLAIN);
    expect_error(&in, "%y = concat(%a, %c) {axis=2}", "concat mismatch");
    release_inputs(&in);
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "x", D2_DTYPE_F32, 3, (int64_t[]){ 3, 80, 121 }), FILL_SPECIAL);
    fill(add_input(&in, "v", D2_DTYPE_F32, 0, NULL), FILL_PLAIN);
    expect_ok(&in, "%p: i64[6] = const [0, 0, 0, 0, 0, 0]\n  %y = pad(%x, %p)", "pad nothing");
    expect_ok(&in, "%p: i64[6] = const [0, 2, 3, 1, 0, 5]\n  %y = pad(%x, %p)", "pad zeros");
    expect_ok(&in, "%p: i64[6] = const [1, -2, 3, 0, -5, -7]\n  %y = pad(%x, %p, %v)", "pad value and crop");
    expect_ok(&in, "%p: i64[2] = const [2, 3]\n  %a: i64[1] = const [-1]\n  %y = pad(%x, %p, %v, %a)", "pad axes");
    expect_ok(&in, "%p: i64[6] = const [0, 0, -200, 0, 0, 100]\n  %y = pad(%x, %p)", "pad past the row");
    expect_ok(&in, "%p: i64[6] = const [0, 1, 1, 0, 1, 1]\n  %y = pad(%x, %p) {mode=reflect}", "pad reflect");
    expect_ok(&in, "%s: i64[2] = const [3, -1]\n  %y = reshape(%x, %s)", "reshape");
    expect_ok(&in, "%a: i64[1] = const [0]\n  %y = unsqueeze(%x, %a)", "unsqueeze");
    expect_ok(&in, "%y = flatten(%x) {axis=2}", "flatten");
    release_inputs(&in);
    memset(&in, 0, sizeof in);
    in.symbolic = true;
    fill(add_input(&in, "x", D2_DTYPE_F32, 3, (int64_t[]){ 3, 80, 121 }), FILL_SPECIAL);
    expect_error(&in, "%s: i64[2] = const [7, -1]\n  %y = reshape(%x, %s)", "reshape mismatch");
    release_inputs(&in);
    memset(&in, 0, sizeof in);
    int64_t *s = add_input(&in, "s", D2_DTYPE_I64, 1, (int64_t[]){ 3 })->data;
    s[0] = 37, s[1] = 256, s[2] = 49;
    expect_ok(&in, "%y = constant_of_shape(%s)", "zeros");
    expect_ok(&in, "%y = constant_of_shape(%s) {dtype=i64, value=2}", "i64 twos");
    expect_ok(&in, "%y = constant_of_shape(%s) {dtype=f16, value=-2.5}", "f16");
    expect_ok(&in, "%y = constant_of_shape(%s) {dtype=bool, value=1}", "bool");
    s[1] = 0;
    expect_ok(&in, "%y = constant_of_shape(%s) {value=3}", "empty");
    s[1] = -1;
    expect_error(&in, "%y = constant_of_shape(%s)", "negative dim");
    release_inputs(&in);
}
END_TEST

/* ---- index ops ------------------------------------------------------------------------------- */

START_TEST(test_gather)
{
    static const enum d2_dtype index_types[] = { D2_DTYPE_I64, D2_DTYPE_I32 };
    for (size_t it = 0; it < 2; it++) {
        struct inputs in;
        memset(&in, 0, sizeof in);
        fill(add_input(&in, "x", D2_DTYPE_F32, 3, (int64_t[]){ 6, 50, 4 }), FILL_PLAIN);
        struct d2_tensor *i = add_input(&in, "i", index_types[it], 2, (int64_t[]){ 3, 7 });
        struct d2_tensor *s = add_input(&in, "s", index_types[it], 0, NULL);
        for (int64_t k = 0; k < 21; k++)
            d2_store_i64(i->data, i->dtype, (size_t)k, below(12) - 6);
        d2_store_i64(s->data, s->dtype, 0, 2);
        expect_ok(&in, "%y = gather(%x, %i)", "gather axis 0");
        expect_ok(&in, "%y = gather(%x, %i) {axis=1}", "gather axis 1");
        expect_error(&in, "%y = gather(%x, %i) {axis=-1}", "gather last axis, index 4 or 5");
        expect_ok(&in, "%y = gather(%x, %s) {axis=2}", "gather scalar, single elements");
        expect_ok(&in, "%y = gather(%x, %s)", "gather one block");
        d2_store_i64(i->data, i->dtype, 9, -7);
        expect_error(&in, "%y = gather(%x, %i)", "gather index too small");
        d2_store_i64(i->data, i->dtype, 9, 6);
        expect_error(&in, "%y = gather(%x, %i)", "gather index too large");
        release_inputs(&in);
    }
}
END_TEST

/* scatter_elements into [rows, c, h, w] along axis 0 with an index constant along
 * the inner dims (MultiScaleRoIAlign's level scatter), then other patterns. */
START_TEST(test_scatter_elements)
{
    struct inputs in;
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "x", D2_DTYPE_F32, 4, (int64_t[]){ 40, 16, 5, 5 }), FILL_PLAIN);
    struct d2_tensor *idx = add_input(&in, "i", D2_DTYPE_I64, 4, (int64_t[]){ 23, 16, 5, 5 });
    fill(add_input(&in, "u", D2_DTYPE_F32, 4, (int64_t[]){ 23, 16, 5, 5 }), FILL_SPECIAL);
    int64_t *iv = idx->data;
    for (int64_t r = 0; r < 23; r++) {
        int64_t v = below(80) - 40; /* negative indices and duplicates */
        for (int64_t e = 0; e < 400; e++)
            iv[r * 400 + e] = v;
    }
    expect_ok(&in, "%y = scatter_elements(%x, %i, %u)", "row scatter");
    iv[5 * 400 + 17] = 3; /* one run that is not uniform */
    expect_ok(&in, "%y = scatter_elements(%x, %i, %u)", "row scatter, one mixed row");
    expect_ok(&in, "%y = scatter_elements(%x, %i, %u) {reduction=add}", "row scatter add");
    iv[7 * 400 + 3] = 40;
    expect_error(&in, "%y = scatter_elements(%x, %i, %u)", "out of range in a mixed run");
    for (int64_t e = 0; e < 400; e++)
        iv[7 * 400 + e] = -41;
    expect_error(&in, "%y = scatter_elements(%x, %i, %u)", "out of range uniform run");
    release_inputs(&in);
    /* Inner axis, smaller index tensor, i32 indices. */
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "x", D2_DTYPE_I64, 3, (int64_t[]){ 4, 9, 6 }), FILL_PLAIN);
    struct d2_tensor *j = add_input(&in, "i", D2_DTYPE_I32, 3, (int64_t[]){ 3, 5, 6 });
    fill(add_input(&in, "u", D2_DTYPE_I64, 3, (int64_t[]){ 3, 5, 6 }), FILL_SPECIAL);
    for (int64_t e = 0; e < 90; e++)
        ((int32_t *)j->data)[e] = (int32_t)(below(18) - 9);
    expect_ok(&in, "%y = scatter_elements(%x, %i, %u) {axis=1}", "axis 1");
    for (int64_t e = 0; e < 90; e++)
        ((int32_t *)j->data)[e] = (int32_t)(below(12) - 6);
    expect_ok(&in, "%y = scatter_elements(%x, %i, %u) {axis=-1}", "last axis");
    for (int64_t e = 0; e < 90; e++)
        ((int32_t *)j->data)[e] = (int32_t)(below(8) - 4);
    expect_ok(&in, "%y = scatter_elements(%x, %i, %u) {axis=0}", "axis 0 partial rows");
    release_inputs(&in);
}
END_TEST

START_TEST(test_non_zero)
{
    static const struct shape shapes[] = {
        { 1, { 200003 } }, { 2, { 301, 257 } }, { 3, { 3, 5, 7 } }, { 0, { 0 } }, { 1, { 0 } }, { 2, { 9, 1 } },
    };
    static const enum d2_dtype types[] = { D2_DTYPE_BOOL, D2_DTYPE_F32, D2_DTYPE_I64, D2_DTYPE_U8 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t t = 0; t < 4; t++)
            for (int k = 0; k < 2; k++) {
                struct inputs in;
                memset(&in, 0, sizeof in);
                fill(add_input(&in, "x", types[t], shapes[s].rank, shapes[s].dims), k ? FILL_SPECIAL : FILL_SPARSE);
                expect_ok(&in, "%y = non_zero(%x)", "non_zero");
                release_inputs(&in);
            }
}
END_TEST

START_TEST(test_topk)
{
    static const struct shape shapes[] = {
        { 2, { 1, 24001 } }, { 2, { 3, 50 } }, { 3, { 4, 30, 3 } }, { 1, { 7 } },
    };
    static const int64_t ks[] = { 1000, 17, 5, 0 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 3; kind++) {
            struct inputs in;
            memset(&in, 0, sizeof in);
            fill(add_input(&in, "x", D2_DTYPE_F32, shapes[s].rank, shapes[s].dims),
                 kind == 0 ? FILL_PLAIN : kind == 1 ? FILL_SPECIAL : FILL_TIES);
            int64_t *k = add_input(&in, "k", D2_DTYPE_I64, 1, (int64_t[]){ 1 })->data;
            int32_t axis = shapes[s].rank == 3 ? 1 : shapes[s].rank - 1;
            int64_t len = shapes[s].dims[axis];
            static const char *const attrs[] = { "{axis=", "{largest=0, axis=" };
            for (int l = 0; l < 2; l++)
                for (int kk = 0; kk < 3; kk++) {
                    char body[128];
                    char attr[64];
                    snprintf(attr, sizeof attr, "%s%d}", attrs[l], axis);
                    snprintf(body, sizeof body, "%%v, %%i = topk(%%x, %%k) %s", attr);
                    *k = kk == 0 ? (ks[s] < len ? ks[s] : len) : kk == 1 ? len : 1;
                    ck_assert_int_eq(check_same(&in, body, "%v, %i", 2, body), D2_OK);
                }
            *k = len + 1;
            ck_assert_int_ne(check_same(&in, "%v, %i = topk(%x, %k) {axis=-1}", "%v, %i", 2, "k too large"), D2_OK);
            release_inputs(&in);
        }
}
END_TEST

/* ---- resize ------------------------------------------------------------------------------------ */

START_TEST(test_resize)
{
    static const char *const attrs[] = {
        "{coordinate_transformation_mode=asymmetric, nearest_mode=floor}",
        "{}",
        "{coordinate_transformation_mode=align_corners, nearest_mode=ceil}",
        "{coordinate_transformation_mode=half_pixel_symmetric, nearest_mode=round_prefer_ceil}",
        "{mode=linear}",
        "{mode=linear, coordinate_transformation_mode=pytorch_half_pixel}",
        "{mode=linear, coordinate_transformation_mode=align_corners}",
        "{mode=linear, coordinate_transformation_mode=asymmetric}",
        "{mode=linear, antialias=1}",
        "{mode=cubic}",
        "{mode=cubic, exclude_outside=1, cubic_coeff_a=-0.5}",
        "{mode=cubic, antialias=1, coordinate_transformation_mode=half_pixel_symmetric}",
    };
    static const char *const sizes[] = {
        "%s: f32[4] = const [1, 1, 2, 2]\n  %y = resize(%x, _, %s) ",          /* FPN 2x upsample */
        "%s: i64[4] = const [2, 3, 13, 17]\n  %y = resize(%x, _, _, %s) ",      /* identity */
        "%s: i64[4] = const [2, 3, 29, 9]\n  %y = resize(%x, _, _, %s) ",       /* up H, down W */
        "%s: i64[4] = const [2, 3, 13, 40]\n  %y = resize(%x, _, _, %s) ",      /* W only */
        "%s: i64[4] = const [2, 3, 5, 17]\n  %y = resize(%x, _, _, %s) ",       /* H only */
        "%s: f32[4] = const [1, 1, 0.6, 1.7]\n  %y = resize(%x, _, %s) ",       /* fractional scales */
        "%s: i64[4] = const [2, 1, 13, 17]\n  %y = resize(%x, _, _, %s) ",      /* outer axis: reference */
    };
    struct inputs in;
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "x", D2_DTYPE_F32, 4, (int64_t[]){ 2, 3, 13, 17 }), FILL_SPECIAL);
    for (size_t a = 0; a < sizeof attrs / sizeof attrs[0]; a++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            char body[512];
            snprintf(body, sizeof body, "%s%s", sizes[s], attrs[a]);
            expect_ok(&in, body, body);
        }
    float *scales = add_input(&in, "z", D2_DTYPE_F32, 1, (int64_t[]){ 4 })->data;
    scales[0] = 1, scales[1] = 1, scales[2] = 0, scales[3] = 2;
    expect_error(&in, "%y = resize(%x, _, %z)", "zero scale");
    release_inputs(&in);
    /* Large enough for threads; rank 1 and 3. */
    memset(&in, 0, sizeof in);
    fill(add_input(&in, "x", D2_DTYPE_F32, 4, (int64_t[]){ 1, 64, 25, 38 }), FILL_PLAIN);
    fill(add_input(&in, "v", D2_DTYPE_F32, 1, (int64_t[]){ 11 }), FILL_PLAIN);
    fill(add_input(&in, "w", D2_DTYPE_F32, 3, (int64_t[]){ 3, 7, 9 }), FILL_PLAIN);
    expect_ok(&in, "%s: f32[4] = const [1, 1, 2, 2]\n  %y = resize(%x, _, %s) "
                   "{coordinate_transformation_mode=asymmetric, nearest_mode=floor}", "FPN upsample, threads");
    expect_ok(&in, "%s: f32[4] = const [1, 1, 1.5, 0.7]\n  %y = resize(%x, _, %s) {mode=linear}", "linear, threads");
    expect_ok(&in, "%s: i64[1] = const [23]\n  %y = resize(%v, _, _, %s) {mode=linear}", "rank 1");
    expect_ok(&in, "%s: i64[1] = const [23]\n  %y = resize(%v, _, _, %s)", "rank 1 nearest");
    expect_ok(&in, "%s: i64[3] = const [3, 14, 4]\n  %y = resize(%w, _, _, %s) {mode=cubic}", "rank 3");
    release_inputs(&in);
}
END_TEST

/* ---- unary math on f32 (fast_ops.c: the reference's own rules on every thread) ---- */

START_TEST(test_unary_f32)
{
    static const char *const ops[] = { "exp", "log", "sqrt", "abs", "neg", "floor", "ceil", "round",
                                       "reciprocal", "tanh", "erf", "sin", "cos", "sign", "elu", "selu",
                                       "hard_sigmoid", "hard_swish", "softplus", "softsign", "gelu",
                                       "leaky_relu {alpha=0.2}" };
    static const struct shape shapes[] = {
        { 0, { 0 } }, { 1, { 5 } }, { 2, { 0, 3 } }, { 2, { 243, 1 } }, { 1, { 40001 } }, { 3, { 4, 99, 101 } },
    };
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
            for (int kind = FILL_PLAIN; kind <= FILL_SPECIAL; kind++) {
                struct inputs in;
                memset(&in, 0, sizeof in);
                fill(add_input(&in, "a", D2_DTYPE_F32, shapes[sh].rank, shapes[sh].dims), (enum fill)kind);
                char body[128], what[128], name[32];
                snprintf(name, sizeof name, "%s", ops[o]);
                char *attrs = strchr(name, ' ');
                if (attrs)
                    *attrs = '\0';
                snprintf(body, sizeof body, "%%y = %s(%%a)%s", name, attrs ? strchr(ops[o], ' ') : "");
                snprintf(what, sizeof what, "%s shape %zu fill %d", ops[o], sh, kind);
                expect_ok(&in, body, what);
                release_inputs(&in);
            }
}
END_TEST

START_TEST(test_counts)
{
    /* Runs last: the suite really compared something. */
    ck_assert_int_ge(cases_checked, 500);
    ck_assert_int_ge(error_cases_checked, 15);
}
END_TEST

static Suite *fast_data_suite(void)
{
    Suite *s = suite_create("fast_data");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_arith_f32);
    tcase_add_test(tc, test_arith_i64);
    tcase_add_test(tc, test_compare_logic_where);
    tcase_add_test(tc, test_slice_transpose_expand);
    tcase_add_test(tc, test_concat_pad_reshape_constant);
    tcase_add_test(tc, test_gather);
    tcase_add_test(tc, test_scatter_elements);
    tcase_add_test(tc, test_non_zero);
    tcase_add_test(tc, test_topk);
    tcase_add_test(tc, test_resize);
    tcase_add_test(tc, test_unary_f32);
    tcase_add_test(tc, test_counts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fast_data_suite());
    srunner_set_fork_status(sr, CK_NOFORK); /* test_counts reads the other tests' counters */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("fast_data: %d cases compared, %d error cases compared\n", cases_checked, error_cases_checked);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
