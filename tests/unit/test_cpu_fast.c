/* tests/unit/test_cpu_fast.c: the fast CPU kernels (backends/cpu/fast.h) against
 * independent references, for every kernel table (ISA) this machine runs.
 *
 *   - sgemm: every M, N, K in {1,2,3,7,15,16,17,31,33,64,65,100,257} (all four
 *     transpose combinations on a subset), checked against a double-precision triple
 *     loop in this file; the bound is the classic float summation bound
 *     (K + 2) * eps * sum_k |a_ik b_kj| per element, so it scales with K and a wrong
 *     index or a lost panel fails by orders of magnitude. Epilogue (bias, residual,
 *     relu) and accumulate are checked the same way.
 *   - conv / conv_transpose: many shapes (1x1, 3x3, 7x7 stride 2, dilation, asymmetric
 *     pads, groups, depthwise, channel multipliers, 1-D) run through the fast executor
 *     and the reference executor (d2_cpu_execute, double accumulation); the bound per
 *     element is (K + 2) * eps * (the reference conv of |x|, |w|, |b|).
 *   - relu, sigmoid, add, mul (broadcast patterns), max_pool, average_pool, gemm and
 *     matmul through both executors; gemm/matmul with a constant B through the session's
 *     packed-B cache (cached once, reused, repacked when the values change in place,
 *     never cached for a graph input), against a double-precision product.
 *   - the op tests of tests/ops/ for the accelerated ops through the fast executor,
 *     against their numpy outputs (rtol 1e-4, atol 1e-5 at least: f32 accumulation).
 *   - ISA selection errors, the thread pool (coverage of every index, nesting), and
 *     D2RT_REFERENCE through the public session API is left to test_api.
 * Run from the repository root (the op tests are read from tests/ops). */
#include <check.h>
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/fast.h"
#include "ir/ir.h"
#include "runtime/npy.h"

static const struct d2_cpu_kernels *const all_tables[] = {
    &d2_cpu_kernels_generic, &d2_cpu_kernels_avx2, &d2_cpu_kernels_avx512,
};
#define NUM_TABLES (sizeof all_tables / sizeof all_tables[0])

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float uniform(void) /* [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *random_floats(int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = uniform();
    return p;
}

static struct d2_cpu_fast *fast_for(const struct d2_cpu_kernels *kt, int32_t threads)
{
    struct d2_cpu_fast_options o = { threads, kt->name, 0 };
    struct d2_cpu_fast *fast = NULL;
    struct d2_error err = {0};
    ck_assert_msg(d2_cpu_fast_new(&o, NULL, &fast, &err) == D2_OK, "%s", err.message);
    return fast;
}

/* ---- sgemm ------------------------------------------------------------------------ */

static const int64_t sizes[] = { 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 65, 100, 257 };
#define NUM_SIZES (int)(sizeof sizes / sizeof sizes[0])

/* C = op(A) op(B) with op(A)(i,p) = a[i*ars + p*acs]; want/bound in double. */
static void naive_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs, const float *b,
                       int64_t brs, int64_t bcs, double *want, double *bound)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, sa = 0;
            for (int64_t p = 0; p < k; p++) {
                double t = (double)a[i * ars + p * acs] * (double)b[p * brs + j * bcs];
                s += t;
                sa += fabs(t);
            }
            want[i * n + j] = s;
            bound[i * n + j] = sa;
        }
}

static void check_gemm_case(const struct d2_cpu_kernels *kt, struct d2_cpu_fast *fast, int64_t m, int64_t n,
                            int64_t k, bool ta, bool tb)
{
    float *a = random_floats(m * k), *b = random_floats(k * n), *c = malloc((size_t)(m * n) * sizeof *c);
    double *want = malloc((size_t)(m * n) * sizeof *want), *bound = malloc((size_t)(m * n) * sizeof *bound);
    int64_t ars = ta ? 1 : k, acs = ta ? m : 1, brs = tb ? 1 : n, bcs = tb ? k : 1;
    struct d2_error err = {0};
    naive_gemm(m, n, k, a, ars, acs, b, brs, bcs, want, bound);
    struct d2_gemm_b_source bs = d2_gemm_b_matrix(b, k, n, brs, bcs);
    for (int64_t i = 0; i < m * n; i++)
        c[i] = NAN; /* must be overwritten */
    ck_assert_int_eq(d2_sgemm(kt, fast->pool, m, n, k, a, ars, acs, &bs, c, n, false, NULL, &err), D2_OK);
    for (int64_t i = 0; i < m * n; i++) {
        double tol = (double)(k + 2) * FLT_EPSILON * bound[i] + 1e-30;
        if (!(fabs(c[i] - want[i]) <= tol))
            ck_abort_msg("%s sgemm %lldx%lldx%lld ta=%d tb=%d: C[%lld] = %.9g, want %.9g (tol %g)",
                      kt->name, (long long)m, (long long)n, (long long)k, ta, tb, (long long)i, c[i], want[i], tol);
    }
    free(a), free(b), free(c), free(want), free(bound);
}

START_TEST(sgemm_all_sizes)
{
    for (size_t t = 0; t < NUM_TABLES; t++) {
        const struct d2_cpu_kernels *kt = all_tables[t];
        if (!d2_cpu_isa_supported(kt->name))
            continue;
        struct d2_cpu_fast *fast = fast_for(kt, 2);
        for (int im = 0; im < NUM_SIZES; im++)
            for (int in = 0; in < NUM_SIZES; in++)
                for (int ik = 0; ik < NUM_SIZES; ik++) {
                    /* all transposes on every third shape, plain on the rest */
                    int combos = (im + in + ik) % 3 == 0 ? 4 : 1;
                    for (int tr = 0; tr < combos; tr++)
                        check_gemm_case(kt, fast, sizes[im], sizes[in], sizes[ik], tr & 1, tr & 2);
                }
        d2_cpu_fast_free(fast);
    }
}
END_TEST

/* The slab budget of d2_sgemm (fast_gemm.c; a test hook, not in fast.h). */
extern size_t d2_sgemm_slab_bytes;

/* Shapes with several column blocks (so A is packed up front) and several K slabs: the
 * slab budget is lowered to one or two K panels, so that the slab offsets, the ragged
 * last slab and panel, the ragged row blocks and column panels all show. Each shape runs
 * with B strided and with B pre-packed over all of K (the session cache's layout, read
 * in place, which takes the row-block-outermost loop), A plain and transposed, and with
 * accumulate + bias + relu; on every ISA, 1 and 2 threads. */
START_TEST(sgemm_k_slabs)
{
    const size_t saved = d2_sgemm_slab_bytes;
    for (size_t t = 0; t < NUM_TABLES; t++) {
        const struct d2_cpu_kernels *kt = all_tables[t];
        if (!d2_cpu_isa_supported(kt->name))
            continue;
        /* 2 row blocks (the second ragged), more than nc columns (2+ blocks at 1 thread),
         * 3 K panels and a ragged one */
        const int64_t m = kt->mc + 5, n = kt->nc + kt->nr + 3, k = 3 * kt->kc + 7;
        float *a = random_floats(m * k), *b = random_floats(k * n), *c0 = random_floats(m * n);
        float *bias = random_floats(m), *c = malloc(sizeof(float) * (size_t)(m * n));
        double *want = malloc(sizeof(double) * (size_t)(m * n)), *bound = malloc(sizeof(double) * (size_t)(m * n));
        const int64_t npad = (n + kt->nr - 1) / kt->nr * kt->nr;
        float *packed = aligned_alloc(64, (size_t)(npad * k) * sizeof(float));
        struct d2_gemm_b_source bs = d2_gemm_b_matrix(b, k, n, n, 1);
        bs.pack(&bs, 0, k, 0, npad, kt->nr, packed);
        struct d2_error err = {0};
        naive_gemm(m, n, k, a, k, 1, b, n, 1, want, bound);
        float *at = malloc(sizeof(float) * (size_t)(m * k)); /* A transposed: at[p*m + i] */
        for (int64_t i = 0; i < m; i++)
            for (int64_t p = 0; p < k; p++)
                at[p * m + i] = a[i * k + p];
        for (int threads = 1; threads <= 2; threads++) {
            struct d2_cpu_fast *fast = fast_for(kt, threads);
            for (int variant = 0; variant < 12; variant++) {
                const bool pre_packed = variant & 1, trans_a = variant & 2, epilogue = variant >= 8;
                /* slabs of 1 K panel (variants 0-3, 8-11) or 2 (4-7); the A slab is
                 * m_blocks*mc*kc floats per panel, over-estimated here by m + mc rows */
                d2_sgemm_slab_bytes = (size_t)((variant >> 2) % 2 + 1) * (size_t)((m + kt->mc) * kt->kc) * sizeof(float);
                struct d2_gemm_b_source src = bs;
                src.packed = pre_packed ? packed : NULL;
                struct d2_gemm_epilogue e = { bias, NULL, 0, true };
                if (epilogue)
                    memcpy(c, c0, sizeof(float) * (size_t)(m * n));
                else
                    for (int64_t i = 0; i < m * n; i++)
                        c[i] = NAN;
                ck_assert_int_eq(d2_sgemm(kt, fast->pool, m, n, k, trans_a ? at : a, trans_a ? 1 : k, trans_a ? m : 1,
                                          &src, c, n, epilogue, epilogue ? &e : NULL, &err),
                                 D2_OK);
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        double v = want[i * n + j], bnd = bound[i * n + j];
                        if (epilogue) {
                            v += c0[i * n + j] + bias[i];
                            v = v > 0 ? v : 0;
                            bnd += fabs(c0[i * n + j]) + fabs(bias[i]);
                        }
                        double tol = (double)(k + 4) * FLT_EPSILON * bnd + 1e-30;
                        if (!(fabs(c[i * n + j] - v) <= tol))
                            ck_abort_msg("%s sgemm slabs %lldx%lldx%lld, %d threads, variant %d: C[%lld,%lld] = %.9g, "
                                         "want %.9g (tol %g)",
                                         kt->name, (long long)m, (long long)n, (long long)k, threads, variant,
                                         (long long)i, (long long)j, c[i * n + j], v, tol);
                    }
            }
            d2_cpu_fast_free(fast);
        }
        d2_sgemm_slab_bytes = saved;
        free(a), free(b), free(c0), free(bias), free(c), free(want), free(bound), free(packed), free(at);
    }
}
END_TEST

/* Epilogue and accumulate: C = C0 + AB, then + bias[i] + R[i, j], relu. */
START_TEST(sgemm_epilogue_and_accumulate)
{
    const int64_t m = 37, n = 71, k = 45;
    for (size_t t = 0; t < NUM_TABLES; t++) {
        const struct d2_cpu_kernels *kt = all_tables[t];
        if (!d2_cpu_isa_supported(kt->name))
            continue;
        struct d2_cpu_fast *fast = fast_for(kt, 3);
        float *a = random_floats(m * k), *b = random_floats(k * n), *c0 = random_floats(m * n);
        float *bias = random_floats(m), *res = random_floats(m * n), *c = malloc(sizeof(float) * (size_t)(m * n));
        double *want = malloc(sizeof(double) * (size_t)(m * n)), *bound = malloc(sizeof(double) * (size_t)(m * n));
        struct d2_error err = {0};
        naive_gemm(m, n, k, a, k, 1, b, n, 1, want, bound);
        memcpy(c, c0, sizeof(float) * (size_t)(m * n));
        struct d2_gemm_b_source bs = d2_gemm_b_matrix(b, k, n, n, 1);
        struct d2_gemm_epilogue e = { bias, res, n, true };
        ck_assert_int_eq(d2_sgemm(kt, fast->pool, m, n, k, a, k, 1, &bs, c, n, true, &e, &err), D2_OK);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double v = want[i * n + j] + c0[i * n + j] + bias[i] + res[i * n + j];
                double tol = (double)(k + 6) * FLT_EPSILON *
                             (bound[i * n + j] + fabs(c0[i * n + j]) + fabs(bias[i]) + fabs(res[i * n + j]));
                v = v > 0 ? v : 0;
                if (!(fabs(c[i * n + j] - v) <= tol))
                    ck_abort_msg("%s epilogue C[%lld,%lld] = %g, want %g", kt->name,
                              (long long)i, (long long)j, c[i * n + j], v);
            }
        free(a), free(b), free(c0), free(bias), free(res), free(c), free(want), free(bound);
        d2_cpu_fast_free(fast);
    }
}
END_TEST

/* ---- graphs through both executors ------------------------------------------------- */

/* Allocates like realloc, but fills new blocks with 0xff bytes (NaN as floats): outputs
 * allocated through it hold no earlier run's values, so an element a fast kernel never
 * writes cannot pass as correct (a 1-thread run's freed output, reused by malloc for the
 * 2-thread run, held the right values). */
static void *poisoning_realloc(void *user, void *ptr, size_t new_size)
{
    (void)user;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, new_size);
    if (p && !ptr)
        memset(p, 0xff, new_size);
    return p;
}
static const struct d2_allocator poisoning_allocator = { poisoning_realloc, NULL };

/* Run `text` (a graph with float inputs filled from the generator) through the reference
 * executor and the fast one with table kt; compare output 0 elementwise with tolerance
 * (k + 2) * eps * |reference on absolute inputs| + atol (k: reduction length; 0 for
 * elementwise ops, where atol/rtol apply instead). */
static void compare_graph(const char *text, const struct d2_cpu_kernels *kt, int64_t k, double rtol, double atol)
{
    struct d2_error err = {0};
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    ck_assert_msg(g != NULL, "parse: %s\n%s", err.message, text);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "infer: %s", err.message);
    struct d2_tensor in[4], abs_in[4], ref = {0}, abs_ref = {0}, got = {0};
    ck_assert(g->num_inputs <= 4);
    for (uint32_t i = 0; i < g->num_inputs; i++) {
        const struct d2_type *t = &g->values[g->inputs[i]].type;
        ck_assert_int_eq(d2_tensor_alloc(&in[i], NULL, t->dtype, t->rank, t->dims, &err), D2_OK);
        ck_assert_int_eq(d2_tensor_alloc(&abs_in[i], NULL, t->dtype, t->rank, t->dims, &err), D2_OK);
        for (int64_t e = 0; e < d2_tensor_numel(&in[i]); e++) {
            float v = uniform() * 2.0f;
            ((float *)in[i].data)[e] = v;
            ((float *)abs_in[i].data)[e] = fabsf(v);
        }
    }
    ck_assert_msg(d2_cpu_execute(g, in, g->num_inputs, &ref, 1, NULL, &err) == D2_OK, "reference: %s", err.message);
    if (k > 0)
        ck_assert_int_eq(d2_cpu_execute(g, abs_in, g->num_inputs, &abs_ref, 1, NULL, &err), D2_OK);
    for (int threads = 1; threads <= 2; threads++) {
        struct d2_cpu_fast *fast = fast_for(kt, threads);
        ck_assert_msg(d2_cpu_fast_execute(fast, g, in, g->num_inputs, &got, 1, &poisoning_allocator, NULL, NULL, &err) ==
                          D2_OK,
                      "%s fast: %s\n%s", kt->name, err.message, text);
        ck_assert_int_eq(got.rank, ref.rank);
        for (int32_t d = 0; d < ref.rank; d++)
            ck_assert_int_eq(got.dims[d], ref.dims[d]);
        for (int64_t e = 0; e < d2_tensor_numel(&ref); e++) {
            double want = ((float *)ref.data)[e], have = ((float *)got.data)[e];
            double tol = atol + rtol * fabs(want);
            if (k > 0)
                tol += (double)(k + 2) * FLT_EPSILON * ((float *)abs_ref.data)[e];
            if (!(fabs(have - want) <= tol))
                ck_abort_msg("%s (%d threads): element %lld = %.9g, want %.9g (tol %g)\n%s",
                          kt->name, threads, (long long)e, have, want, tol, text);
        }
        d2_tensor_release(&got, &poisoning_allocator);
        d2_cpu_fast_free(fast);
    }
    for (uint32_t i = 0; i < g->num_inputs; i++) {
        d2_tensor_release(&in[i], NULL);
        d2_tensor_release(&abs_in[i], NULL);
    }
    d2_tensor_release(&ref, NULL);
    d2_tensor_release(&abs_ref, NULL);
    d2_graph_free(g);
}

struct conv_case {
    const char *x, *w, *b;  /* dims lists; b NULL: no bias */
    const char *attrs;
    int64_t k;              /* reduction length Cg*kh*kw (conv_transpose: Cg) */
    bool transpose;
};

static const struct conv_case conv_cases[] = {
    { "1,8,5,7", "6,8,1,1", "6", "", 8, false },                                  /* 1x1 pointwise */
    { "2,33,9,11", "17,33,1,1", NULL, "", 33, false },
    { "1,16,13,17", "20,16,3,3", "20", "{pads=[1,1,1,1]}", 144, false },           /* 3x3 same */
    { "1,3,23,19", "8,3,7,7", "8", "{strides=[2,2], pads=[3,3,3,3]}", 147, false }, /* stem */
    { "1,5,12,10", "7,5,3,3", "7", "{strides=[2,1], pads=[1,0,2,1], dilations=[1,2]}", 45, false },
    /* Strided convs through the phase images (the stem path): odd sizes, batch 2,
     * asymmetric pads, M not a multiple of the row tile, and a stem with no padding
     * (s * out_w < in_w: falls back to the packed GEMM). */
    { "2,3,37,51", "13,3,7,7", "13", "{strides=[2,2], pads=[3,3,3,3]}", 147, false },
    { "1,3,30,61", "8,3,7,7", NULL, "{strides=[2,2], pads=[3,2,2,4]}", 147, false },
    { "1,5,40,33", "9,5,7,7", "9", "{strides=[2,2], pads=[3,3,3,3], group=1}", 245, false },
    { "1,4,25,26", "8,2,7,7", "8", "{strides=[2,2], pads=[3,3,3,3], group=2}", 98, false },
    { "1,3,40,150", "16,3,7,7", "16", "{strides=[2,2], pads=[3,3,3,3]}", 147, false }, /* > 1 tile per row */
    { "1,3,23,19", "8,3,7,7", "8", "{strides=[2,2]}", 147, false },               /* no padding: GEMM */
    { "2,6,9,9", "4,6,1,1", "4", "{strides=[2,2]}", 6, false },                     /* 1x1 stride 2 */
    /* Strided convs with one tap per kernel tap on the phase images (avx512's conv_tile):
     * 3x3 and 1x1 stride 2 on odd and even sizes, one used phase (1x1, no padding) to
     * four, more rows per channel than a K block takes (70 channels of a 3x3: 2 blocks),
     * dilation, stride 3, unequal strides, residual-free batch 2, groups. */
    { "1,13,21,35", "9,13,3,3", "9", "{strides=[2,2], pads=[1,1,1,1]}", 117, false },
    { "2,70,16,22", "20,70,3,3", "20", "{strides=[2,2], pads=[1,1,1,1]}", 630, false },
    { "1,11,19,50", "17,11,1,1", "17", "{strides=[2,2]}", 11, false },
    { "1,10,20,51", "12,10,1,1", NULL, "{strides=[2,2], pads=[1,1,0,0]}", 10, false },
    { "1,6,23,40", "7,6,3,3", "7", "{strides=[2,2], pads=[2,2,2,2], dilations=[2,2]}", 54, false },
    { "1,5,31,44", "6,5,5,5", "6", "{strides=[3,3], pads=[2,2,2,2]}", 125, false },
    { "1,7,26,33", "9,7,3,3", "9", "{strides=[2,1], pads=[1,1,1,1]}", 63, false },
    { "1,8,25,31", "10,4,3,3", "10", "{strides=[2,2], pads=[1,0,0,1], group=2}", 36, false },
    { "1,6,17,9", "5,6,3,3", "5", "{strides=[2,2]}", 54, false },                  /* s*out_w < in_w */
    /* Phase images filled per task band (fast_conv.c, phase_band_fill): several tasks
     * (bands) and channel blocks, so band edges, the next band's prefetch and the block
     * loop all run; one-tap convs below 4 positions per output channel (the 1x1 rule);
     * a narrow image whose band has too many rows for the segment table (row fallback). */
    { "1,700,50,100", "9,700,1,1", "9", "{strides=[2,2]}", 700, false },          /* 1x1 s2, 2 blocks */
    { "1,80,61,97", "11,80,3,3", "11", "{strides=[2,2], pads=[1,1,1,1]}", 720, false }, /* 2 blocks */
    { "1,24,21,19", "70,24,1,1", "70", "{strides=[2,2]}", 24, false },            /* 110 positions, M 70 */
    { "1,16,13,11", "64,16,1,1", NULL, "", 16, false },                           /* stride 1, 143 pos. */
    { "1,3,2048,6", "8,3,7,7", "8", "{strides=[2,2], pads=[3,3,3,3]}", 147, false }, /* row fallback */
    /* Few column tiles with 2 threads (fast_conv.c, direct_conv's M split, like res5 and
     * FPN P5): tasks take tile ranges x parts of M; ragged last tile, last part shorter,
     * 3 parts, 2 channel blocks, a 3x3 stride 1 and a 3x3 stride 2 (phase bands). */
    { "1,37,9,23", "131,37,1,1", "131", "", 37, false },                          /* 5 tiles, 2 parts */
    { "1,40,30,47", "150,40,1,1", "150", "{strides=[2,2]}", 40, false },           /* band, 2 parts */
    { "1,17,7,11", "200,17,1,1", NULL, "", 17, false },                            /* 2 tiles, 3 parts */
    { "1,700,5,19", "133,700,1,1", "133", "", 700, false },                        /* 2 channel blocks */
    { "1,9,23,29", "130,9,3,3", "130", "{pads=[1,1,1,1]}", 81, false },            /* 3x3, 14 tiles */
    { "1,12,50,64", "140,12,3,3", "140", "{strides=[2,2], pads=[1,1,1,1]}", 108, false }, /* 3x3 s2 */
    /* odd width, 16 outputs per row: the stride-2 copy's last vector load would read one
     * element past the input (ASan build) */
    { "1,5,9,31", "6,5,1,1", "6", "{strides=[2,2]}", 5, false },
    { "1,8,10,10", "6,4,3,3", "6", "{group=2, pads=[1,1,1,1]}", 36, false },        /* grouped */
    { "1,6,11,9", "6,1,3,3", "6", "{group=6, pads=[1,1,1,1]}", 9, false },          /* depthwise */
    { "1,3,8,8", "6,1,3,3", NULL, "{group=3, strides=[2,2], pads=[0,1,1,0]}", 9, false }, /* multiplier */
    { "1,4,7,7", "5,4,3,3", NULL, "{dilations=[2,2], pads=[2,2,2,2]}", 36, false },
    { "2,7,30", "9,7,5", "9", "{pads=[2,1], strides=[3]}", 35, false },             /* 1-D */
    { "1,64,20,31", "64,64,3,3", "64", "{pads=[1,1,1,1]}", 576, false },            /* backbone-like */
    { "1,4,1,1", "3,4,3,3", "3", "{pads=[1,1,1,1]}", 36, false },                   /* tiny input */
    /* The direct path (conv_tile: stride 1, output as wide as the input): tiles that
     * span output rows, edges, M not a multiple of the row tile, channel blocks. */
    { "1,80,9,53", "13,80,3,3", "13", "{pads=[1,1,1,1]}", 720, false },            /* 2 channel blocks */
    { "2,7,6,5", "5,7,3,3", "5", "{pads=[1,1,1,1]}", 63, false },                  /* W < tile width */
    { "1,6,11,12", "17,6,5,5", "17", "{pads=[2,2,2,2]}", 150, false },             /* 25 taps */
    { "1,5,10,9", "8,5,3,3", NULL, "{pads=[0,1,2,1]}", 45, false },                /* uneven rows */
    { "1,5,10,13", "8,5,3,3", "8", "{pads=[2,2,2,2], dilations=[2,2]}", 45, false },
    { "1,700,3,37", "20,700,1,1", "20", "", 700, false },                          /* 1x1, 2 blocks */
    { "1,3,20,100", "8,3,1,1", "8", "", 3, false },
    { "1,8,4,25", "16,4,3,3", "16", "{group=2, pads=[1,1,1,1]}", 36, false },      /* grouped */
    { "1,6,97", "10,6,3", "10", "{pads=[1,1]}", 18, false },                       /* 1-D */
    { "1,6,5,4", "6,3,2,2", "3", "{strides=[2,2]}", 6, true },                      /* mask head deconv */
    { "2,4,3,5", "4,2,3,3", "4", "{strides=[2,2], pads=[1,0,1,1], group=2}", 2, true },
    { "1,3,4,4", "3,2,3,3", NULL, "{strides=[2,2], output_padding=[1,1], dilations=[1,2]}", 3, true },
    { "1,5,6", "5,3,4", "3", "{strides=[2], pads=[1,1]}", 5, true },                /* 1-D */
    /* stride == kernel, no padding: the one-GEMM path that writes tiles to their output
     * pixels (tiles across images and input rows, rows not a multiple of the row tile,
     * kernel widths 2 (paired rows) and 3, groups, more tiles than one task holds). */
    { "2,37,5,7", "37,19,2,2", "19", "{strides=[2,2]}", 37, true },
    { "3,20,17,23", "20,12,2,2", NULL, "{strides=[2,2]}", 20, true },
    { "5,64,14,14", "64,32,2,2", "32", "{strides=[2,2]}", 64, true },              /* mask head */
    { "3,6,4,9", "6,5,3,3", "10", "{strides=[3,3], group=2}", 3, true },
    { "2,4,3,5", "4,3,1,2", "3", "{strides=[1,2]}", 4, true },
    { "2,9,13", "9,4,2", "4", "{strides=[2]}", 9, true },                           /* 1-D */
    { "1,3,4,4", "3,2,2,2", "2", "{strides=[2,2], output_padding=[1,1]}", 3, true }, /* not exact: col2im */
};

START_TEST(conv_shapes)
{
    char text[1024];
    for (size_t t = 0; t < NUM_TABLES; t++) {
        if (!d2_cpu_isa_supported(all_tables[t]->name))
            continue;
        for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
            const struct conv_case *c = &conv_cases[i];
            const char *op = c->transpose ? "conv_transpose" : "conv";
            if (c->b)
                snprintf(text, sizeof text,
                         "graph main(%%x: f32[%s], %%w: f32[%s], %%b: f32[%s]) {\n  %%y = %s(%%x, %%w, %%b) %s\n  return %%y\n}\n",
                         c->x, c->w, c->b, op, c->attrs);
            else
                snprintf(text, sizeof text, "graph main(%%x: f32[%s], %%w: f32[%s]) {\n  %%y = %s(%%x, %%w) %s\n  return %%y\n}\n",
                         c->x, c->w, op, c->attrs);
            compare_graph(text, all_tables[t], c->k + (c->b ? 1 : 0), 0.0, 0.0);
        }
    }
}
END_TEST

START_TEST(linear_elementwise_and_pools)
{
    static const struct { const char *text; int64_t k; double rtol, atol; } cases[] = {
        { "graph main(%a: f32[37,45], %b: f32[45,29], %c: f32[29]) {\n %y = gemm(%a, %b, %c)\n return %y\n}\n", 46, 0, 0 },
        { "graph main(%a: f32[45,37], %b: f32[29,45], %c: f32[37,1]) {\n %y = gemm(%a, %b, %c) {alpha=0.5, beta=2.0, trans_a=1, trans_b=1}\n return %y\n}\n", 46, 0, 0 },
        { "graph main(%a: f32[17,33], %b: f32[17,33], %c: f32[17,17]) {\n %y = gemm(%a, %b, %c) {trans_b=1, beta=0.25}\n return %y\n}\n", 34, 0, 0 },
        { "graph main(%a: f32[2,3,5,7], %b: f32[3,7,4]) {\n %y = matmul(%a, %b)\n return %y\n}\n", 7, 0, 0 },
        { "graph main(%a: f32[9], %b: f32[9,4]) {\n %y = matmul(%a, %b)\n return %y\n}\n", 9, 0, 0 },
        { "graph main(%a: f32[3,9], %b: f32[9]) {\n %y = matmul(%a, %b)\n return %y\n}\n", 9, 0, 0 },
        { "graph main(%x: f32[1,16,12,13], %w: f32[24,16,3,3], %b: f32[24], %r: f32[1,24,12,13]) {\n %y = fused_conv(%x, %w, %b, %r) {pads=[1,1,1,1], activation=relu}\n return %y\n}\n", 146, 0, 0 },
        { "graph main(%x: f32[1,70,7,60], %w: f32[24,70,3,3], %b: f32[24], %r: f32[1,24,7,60]) {\n %y = fused_conv(%x, %w, %b, %r) {pads=[1,1,1,1], activation=relu}\n return %y\n}\n", 631, 0, 0 },
        { "graph main(%x: f32[1,32,5,50], %w: f32[16,32,1,1], %r: f32[1,16,5,50]) {\n %y = fused_conv(%x, %w, _, %r) {activation=relu}\n return %y\n}\n", 33, 0, 0 },
        { "graph main(%x: f32[2,8,9,9], %w: f32[8,4,3,3], %r: f32[2,8,5,5]) {\n %y = fused_conv(%x, %w, _, %r) {strides=[2,2], pads=[1,1,1,1], group=2}\n return %y\n}\n", 37, 0, 0 },
        { "graph main(%a: f32[3,70001]) {\n %y = relu(%a)\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%a: f32[1000]) {\n %y = sigmoid(%a)\n return %y\n}\n", 0, 1e-6, 1e-7 },
        { "graph main(%a: f32[2,3,4,50], %b: f32[2,3,4,50]) {\n %y = add(%a, %b)\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%a: f32[2,3,40,50], %b: f32[1,3,1,1]) {\n %y = mul(%a, %b)\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%a: f32[3,1,1], %b: f32[2,3,40,50]) {\n %y = add(%a, %b)\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%a: f32[2,3,4,50], %b: f32[50]) {\n %y = mul(%a, %b)\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%a: f32[2,3,4,50], %b: f32[]) {\n %y = add(%a, %b)\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%a: f32[2,1,4,50], %b: f32[1,3,1,50]) {\n %y = mul(%a, %b)\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%a: f32[2,3,4,5], %b: f32[2,3,4,1]) {\n %y = add(%a, %b)\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%x: f32[2,3,17,20]) {\n %y = max_pool(%x) {kernel_shape=[3,3], strides=[2,2], pads=[1,1,1,1]}\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%x: f32[1,2,9,11]) {\n %y = max_pool(%x) {kernel_shape=[2,3], strides=[2,2], ceil_mode=1, dilations=[2,1]}\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%x: f32[1,3,9,13]) {\n %y = max_pool(%x) {kernel_shape=[1,1], strides=[2,2]}\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%x: f32[2,3,50]) {\n %y = max_pool(%x) {kernel_shape=[5]}\n return %y\n}\n", 0, 0, 0 },
        { "graph main(%x: f32[2,3,17,20]) {\n %y = average_pool(%x) {kernel_shape=[3,3], strides=[2,2], pads=[1,1,1,1]}\n return %y\n}\n", 0, 1e-6, 1e-6 },
        { "graph main(%x: f32[2,3,17,20]) {\n %y = average_pool(%x) {kernel_shape=[3,2], strides=[2,1], pads=[1,0,1,1], count_include_pad=1, ceil_mode=1}\n return %y\n}\n", 0, 1e-6, 1e-6 },
    };
    for (size_t t = 0; t < NUM_TABLES; t++) {
        if (!d2_cpu_isa_supported(all_tables[t]->name))
            continue;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            compare_graph(cases[i].text, all_tables[t], cases[i].k, cases[i].rtol, cases[i].atol);
    }
}
END_TEST

/* ---- the op tests of the accelerated ops, through the fast executor -------------- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Returns true when the case ran (it may be skipped: unreadable or not applicable). */
static void run_op_case(const char *dir, const struct d2_cpu_kernels *kt, int *cases)
{
    char path[700];
    struct d2_error err = {0};
    snprintf(path, sizeof path, "%s/graph.d2ir", dir);
    char *text = read_all(path);
    if (!text)
        return;
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    free(text);
    ck_assert_msg(g && d2_infer_graph(g, &err) == D2_OK, "%s: %s", dir, err.message);
    double rtol = 1e-4, atol = 1e-5;
    snprintf(path, sizeof path, "%s/tol.txt", dir);
    char *tol = read_all(path);
    if (tol) {
        double r, a;
        if (sscanf(tol, "%lf %lf", &r, &a) == 2) {
            rtol = r > rtol ? r : rtol;
            atol = a > atol ? a : atol;
        }
        free(tol);
    }
    struct d2_tensor in[8], out[4], want[4];
    ck_assert(g->num_inputs <= 8 && g->num_outputs <= 4);
    for (uint32_t i = 0; i < g->num_inputs; i++) {
        snprintf(path, sizeof path, "%s/in%u.npy", dir, i);
        ck_assert_msg(d2_npy_read_file(path, NULL, &in[i], &err) == D2_OK, "%s", err.message);
    }
    struct d2_cpu_fast *fast = fast_for(kt, 2);
    enum d2_status st = d2_cpu_fast_execute(fast, g, in, g->num_inputs, out, g->num_outputs, NULL, NULL, NULL, &err);
    /* Cases that expect an error have no out0.npy; they must fail on both paths. */
    snprintf(path, sizeof path, "%s/out0.npy", dir);
    FILE *exists = fopen(path, "rb");
    if (!exists) {
        ck_assert_msg(st != D2_OK, "%s: expected an error", dir);
    } else {
        fclose(exists);
        ck_assert_msg(st == D2_OK, "%s (%s): %s", dir, kt->name, err.message);
        for (uint32_t o = 0; o < g->num_outputs; o++) {
            snprintf(path, sizeof path, "%s/out%u.npy", dir, o);
            ck_assert_msg(d2_npy_read_file(path, NULL, &want[o], &err) == D2_OK, "%s", err.message);
            ck_assert_int_eq(out[o].dtype, want[o].dtype);
            ck_assert_int_eq(d2_tensor_numel(&out[o]), d2_tensor_numel(&want[o]));
            for (int64_t e = 0; e < d2_tensor_numel(&want[o]); e++) {
                double h = d2_load_f64(out[o].data, out[o].dtype, (size_t)e);
                double w = d2_load_f64(want[o].data, want[o].dtype, (size_t)e);
                if (!((isnan(h) && isnan(w)) || h == w || fabs(h - w) <= atol + rtol * fabs(w)))
                    ck_abort_msg("%s (%s): output %u element %lld = %.9g, want %.9g", dir, kt->name, o, (long long)e, h, w);
            }
            d2_tensor_release(&want[o], NULL);
            d2_tensor_release(&out[o], NULL);
        }
        (*cases)++;
    }
    d2_cpu_fast_free(fast);
    for (uint32_t i = 0; i < g->num_inputs; i++)
        d2_tensor_release(&in[i], NULL);
    d2_graph_free(g);
}

START_TEST(op_tests_through_fast_kernels)
{
    static const char *const ops[] = { "conv", "conv_transpose", "fused_conv", "gemm", "matmul", "relu", "sigmoid",
                                       "add", "mul", "max_pool", "average_pool" };
    for (size_t t = 0; t < NUM_TABLES; t++) {
        if (!d2_cpu_isa_supported(all_tables[t]->name))
            continue;
        int cases = 0;
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            char dir[300];
            snprintf(dir, sizeof dir, "tests/ops/%s", ops[o]);
            DIR *d = opendir(dir);
            ck_assert_msg(d != NULL, "%s is missing (run from the repository root)", dir);
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
                    continue;
                char case_dir[600];
                snprintf(case_dir, sizeof case_dir, "%s/%s", dir, e->d_name);
                run_op_case(case_dir, all_tables[t], &cases);
            }
            closedir(d);
        }
        ck_assert_msg(cases >= 50, "only %d op-test cases ran for %s", cases, all_tables[t]->name);
    }
}
END_TEST

/* ---- selection and the thread pool ------------------------------------------------- */

/* ---- the per-session cache of packed constant B operands (fast_gemm_cache.c) ---------- */

/* Appends "[v0, v1, ...]" of n floats (exact: %.9g) to text at *len. */
static void append_floats(char *text, size_t *len, const float *v, int64_t n)
{
    *len += (size_t)sprintf(text + *len, "[");
    for (int64_t i = 0; i < n; i++)
        *len += (size_t)sprintf(text + *len, "%s%.9g", i ? ", " : "", v[i]);
    *len += (size_t)sprintf(text + *len, "]");
}

/* y = a B (B(p, j) = b[p*rs + j*cs]) in double, with the f32 summation bound per element. */
static void check_product(const char *what, const float *y, const float *a, const float *b, int64_t m, int64_t n,
                          int64_t k, int64_t rs, int64_t cs)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double want = 0, bound = 0;
            for (int64_t p = 0; p < k; p++) {
                want += (double)a[i * k + p] * b[p * rs + j * cs];
                bound += fabs((double)a[i * k + p] * b[p * rs + j * cs]);
            }
            double tol = (double)(k + 2) * FLT_EPSILON * bound;
            if (!(fabs(y[i * n + j] - want) <= tol))
                ck_abort_msg("%s: y[%lld,%lld] = %.9g, want %.9g", what, (long long)i, (long long)j, y[i * n + j],
                             want);
        }
}

/* gemm (B transposed and not) and matmul with a constant B: the first run packs B into
 * the session's cache, the second reads it from there; both match a double-precision
 * product. Then the constant's values are changed in place (same pointer and shape, as
 * a graph loaded at the same address with other weights): the fingerprint makes the
 * cache repack. A B that is a graph input is never cached. Odd M, N, K with several K
 * panels and column panels, on every ISA, 1 and 2 threads. */
START_TEST(gemm_constant_b_cache)
{
    const int64_t m = 37, k = 301, n = 53;
    float *a = random_floats(2 * m * k), *bt = random_floats(n * k), *bn = random_floats(k * n);
    size_t cap = (size_t)(2 * n * k + 64) * 20 + 4096, len = 0;
    char *text = malloc(cap);
    len += (size_t)sprintf(text + len, "graph main(%%a: f32[%lld,%lld], %%a2: f32[2,%lld,%lld]) {\n  %%bt: f32[%lld,%lld] = const ",
                           (long long)m, (long long)k, (long long)m, (long long)k, (long long)n, (long long)k);
    append_floats(text, &len, bt, n * k);
    len += (size_t)sprintf(text + len, "\n  %%bn: f32[%lld,%lld] = const ", (long long)k, (long long)n);
    append_floats(text, &len, bn, k * n);
    len += (size_t)sprintf(text + len, "\n  %%y0 = gemm(%%a, %%bt) {trans_b=1}\n  %%y1 = gemm(%%a, %%bn)\n"
                                       "  %%y2 = matmul(%%a2, %%bn)\n  return %%y0, %%y1, %%y2\n}\n");
    ck_assert(len < cap);
    struct d2_error err = {0};
    struct d2_graph *g = d2_parse_graph(text, len, NULL, &err);
    ck_assert_msg(g != NULL, "parse: %s", err.message);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "infer: %s", err.message);
    float *bt_data = NULL, *bn_data = NULL;
    for (uint32_t c = 0; c < g->num_constants; c++) {
        if (g->constants[c].dims[0] == n)
            bt_data = g->constants[c].data;
        else
            bn_data = g->constants[c].data;
    }
    ck_assert(bt_data && bn_data);
    const size_t constants_bytes = (size_t)(n * k + k * n) * sizeof(float);
    struct d2_tensor in[2];
    int64_t a_dims[2] = { m, k }, a2_dims[3] = { 2, m, k };
    ck_assert_int_eq(d2_tensor_alloc(&in[0], NULL, D2_DTYPE_F32, 2, a_dims, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in[1], NULL, D2_DTYPE_F32, 3, a2_dims, &err), D2_OK);
    memcpy(in[0].data, a, (size_t)(m * k) * sizeof(float));
    memcpy(in[1].data, a, (size_t)(2 * m * k) * sizeof(float));
    for (size_t t = 0; t < NUM_TABLES; t++) {
        const struct d2_cpu_kernels *kt = all_tables[t];
        if (!d2_cpu_isa_supported(kt->name))
            continue;
        for (int threads = 1; threads <= 2; threads++) {
            struct d2_cpu_fast *fast = fast_for(kt, threads);
            for (int run = 0; run < 3; run++) {
                if (run == 2) /* other weights at the same address: negate both constants */
                    for (int64_t i = 0; i < n * k; i++) {
                        bt_data[i] = -bt_data[i];
                        bn_data[i] = -bn_data[i];
                    }
                struct d2_tensor out[3];
                memset(out, 0, sizeof out);
                ck_assert_msg(d2_cpu_fast_execute(fast, g, in, 2, out, 3, NULL, NULL, NULL, &err) == D2_OK, "%s: %s",
                              kt->name, err.message);
                /* B packed in nr-column panels over all of K, once per constant */
                size_t panels_bytes = (size_t)((n + kt->nr - 1) / kt->nr * kt->nr * k) * sizeof(float);
                ck_assert_uint_eq(d2_gemm_cache_bytes(fast->gemm_cache), 2 * panels_bytes);
                ck_assert(2 * panels_bytes >= constants_bytes);
                check_product(kt->name, out[0].data, a, bt_data, m, n, k, 1, k);
                check_product(kt->name, out[1].data, a, bn_data, m, n, k, n, 1);
                check_product(kt->name, out[2].data, a, bn_data, m, n, k, n, 1);
                check_product(kt->name, (float *)out[2].data + m * n, a + m * k, bn_data, m, n, k, n, 1);
                for (int o = 0; o < 3; o++)
                    d2_tensor_release(&out[o], NULL);
            }
            d2_cpu_fast_free(fast);
            for (int64_t i = 0; i < n * k; i++) { /* back to the original weights */
                bt_data[i] = -bt_data[i];
                bn_data[i] = -bn_data[i];
            }
        }
    }
    d2_tensor_release(&in[0], NULL);
    d2_tensor_release(&in[1], NULL);
    d2_graph_free(g);

    /* B as a graph input: computed right, never cached. */
    const char *input_b = "graph main(%a: f32[37,301], %b: f32[53,301]) {\n %y = gemm(%a, %b) {trans_b=1}\n return %y\n}\n";
    g = d2_parse_graph(input_b, strlen(input_b), NULL, &err);
    ck_assert_msg(g && d2_infer_graph(g, &err) == D2_OK, "%s", err.message);
    int64_t b_dims[2] = { n, k };
    ck_assert_int_eq(d2_tensor_alloc(&in[0], NULL, D2_DTYPE_F32, 2, a_dims, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in[1], NULL, D2_DTYPE_F32, 2, b_dims, &err), D2_OK);
    memcpy(in[0].data, a, (size_t)(m * k) * sizeof(float));
    memcpy(in[1].data, bt, (size_t)(n * k) * sizeof(float));
    struct d2_cpu_fast *fast = fast_for(d2_cpu_kernels_select(NULL, &err), 2);
    struct d2_tensor y = {0};
    ck_assert_msg(d2_cpu_fast_execute(fast, g, in, 2, &y, 1, NULL, NULL, NULL, &err) == D2_OK, "%s", err.message);
    ck_assert_uint_eq(d2_gemm_cache_bytes(fast->gemm_cache), 0);
    check_product("input B", y.data, a, bt, m, n, k, 1, k);
    d2_tensor_release(&y, NULL);
    d2_cpu_fast_free(fast);
    d2_tensor_release(&in[0], NULL);
    d2_tensor_release(&in[1], NULL);
    d2_graph_free(g);
    free(a), free(bt), free(bn), free(text);
}
END_TEST

START_TEST(isa_selection)
{
    struct d2_error err = {0};
    ck_assert_ptr_eq(d2_cpu_kernels_select("generic", &err), &d2_cpu_kernels_generic);
    ck_assert_ptr_null(d2_cpu_kernels_select("sse9", &err));
    ck_assert_int_eq(err.code, D2_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "unknown CPU kernels 'sse9'") != NULL, "%s", err.message);
    const struct d2_cpu_kernels *best = d2_cpu_kernels_select(NULL, &err);
    ck_assert_ptr_nonnull(best);
    ck_assert(d2_cpu_isa_supported(best->name));
    for (size_t t = 0; t < NUM_TABLES; t++) {
        d2_error_clear(&err);
        const struct d2_cpu_kernels *kt = d2_cpu_kernels_select(all_tables[t]->name, &err);
        if (d2_cpu_isa_supported(all_tables[t]->name)) {
            ck_assert_ptr_eq(kt, all_tables[t]);
        } else {
            ck_assert_ptr_null(kt);
            ck_assert_msg(strstr(err.message, "this CPU lacks") != NULL, "%s", err.message);
        }
    }
    /* The option reaches d2_cpu_fast_new as an error, not a fallback. */
    struct d2_cpu_fast_options o = { 1, "avx1024", 0 };
    struct d2_cpu_fast *fast = NULL;
    d2_error_clear(&err);
    ck_assert_int_eq(d2_cpu_fast_new(&o, NULL, &fast, &err), D2_ERR_UNSUPPORTED);
    ck_assert_ptr_null(fast);
}
END_TEST

struct count_job {
    int *hits;
    struct d2_threadpool *pool;
    int bad_thread;     /* set when fn saw a thread index out of range (no asserts off the main thread) */
};

static void count_inner(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    int *hits = ctx;
    (void)thread;
    for (int64_t i = begin; i < end; i++)
        __atomic_fetch_add(&hits[i], 1, __ATOMIC_RELAXED);
}

static void count_outer(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct count_job *job = ctx;
    if (thread < 0 || thread >= d2_threadpool_size(job->pool))
        __atomic_store_n(&job->bad_thread, 1, __ATOMIC_RELAXED);
    for (int64_t i = begin; i < end; i++) {
        __atomic_fetch_add(&job->hits[i], 1, __ATOMIC_RELAXED);
        /* nested: runs inline on this thread */
        d2_threadpool_parallel_for(job->pool, 10, 3, count_inner, job->hits + 1000 + i * 10);
    }
}

START_TEST(thread_pool)
{
    for (int threads = 1; threads <= 4; threads++) {
        struct d2_threadpool *pool = NULL;
        struct d2_error err = {0};
        ck_assert_int_eq(d2_threadpool_new(threads, NULL, &pool, &err), D2_OK);
        ck_assert_int_eq(d2_threadpool_size(pool), threads);
        for (int round = 0; round < 50; round++) {
            int *hits = calloc(1000 + 1000 * 10, sizeof *hits);
            struct count_job job = { hits, pool, 0 };
            d2_threadpool_parallel_for(pool, 1000, 1 + round % 7, count_outer, &job);
            ck_assert_int_eq(job.bad_thread, 0);
            for (int i = 0; i < 1000 + 1000 * 10; i++)
                if (hits[i] != 1)
                    ck_abort_msg("threads %d round %d: index %d ran %d times", threads, round, i, hits[i]);
            free(hits);
        }
        float *s = d2_threadpool_scratch(pool, threads - 1, 2, 1000);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq((int)((uintptr_t)s % 64), 0);
        ck_assert_ptr_null(d2_threadpool_scratch(pool, threads, 0, 10));
        d2_threadpool_free(pool);
    }
    ck_assert_int_ge(d2_cpu_count(), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpu_fast");
    TCase *tc = tcase_create("cpu_fast");
    SRunner *sr;
    int failed;
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, isa_selection);
    tcase_add_test(tc, thread_pool);
    tcase_add_test(tc, sgemm_epilogue_and_accumulate);
    tcase_add_test(tc, linear_elementwise_and_pools);
    tcase_add_test(tc, gemm_constant_b_cache);
    tcase_add_test(tc, conv_shapes);
    tcase_add_test(tc, op_tests_through_fast_kernels);
    tcase_add_test(tc, sgemm_all_sizes);
    tcase_add_test(tc, sgemm_k_slabs);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
