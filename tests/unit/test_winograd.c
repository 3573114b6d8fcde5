/* tests/unit/test_winograd.c: the Winograd F(4x4, 3x3) convolution (backends/cpu/
 * fast_winograd.c) against the reference conv, on every kernel table (ISA) this
 * machine runs.
 *
 * Reference: the reference executor's conv / fused_conv (d2_cpu_execute, double
 * accumulation) on the same inputs. Tolerance, per output element: the first-order
 * rounding bound of the Winograd evaluation, (C + 24) * eps * W, where W is the same
 * algorithm evaluated on absolute values,
 *     W = sum_c |A^T| ((|G| |g| |G^T|) . (|B^T| |d| |B|)) |A|  + |bias| + |residual|,
 * computed here in double from the textbook matrices (not the kernel's factored
 * formulas), and C + 24 the most roundings on a path: the input transform (<= 8),
 * the weights' one, C in the GEMM, the output transform (<= 10), bias and residual.
 * That bound is rigorous but loose (W counts the transforms' amplification, up to 114
 * per term, so it allows about 1e-3 relative). A second, empirical check catches small
 * slips: on this test's fixed random data every error stays below DIRECT_BOUND_SHARE
 * of (9C + 2) * eps * (sum |w| |x| + |bias| + |residual|), the bound the direct conv's
 * tests use; the largest share seen is printed.
 *
 * Shapes: H, W not multiples of 4 (and < 4), 1x1 images, C and M not multiples of any
 * micro-tile, batch > 1 (tiles of several images share a band), pads 0, 1, 2 and
 * asymmetric, bias / residual / relu, several K blocks and several bands.
 * Dispatch: the fast executor runs conv / fused_conv graphs through Winograd (the
 * session's run counter must grow) unless D2RT_WINOGRAD=0, where it must stay 0.
 * Cache: a second run with the same weights reuses them; weights changed in place
 * are transformed again (fingerprint). Every output element must be written. A batch
 * gives each image the same bits as a run alone. */
#include <check.h>
#include <float.h>
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
static float uniform(void) /* [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static struct d2_cpu_fast *fast_for(const struct d2_cpu_kernels *kt, int32_t threads)
{
    struct d2_cpu_fast_options o = { threads, kt->name, 0 };
    struct d2_cpu_fast *fast = NULL;
    struct d2_error err = {0};
    ck_assert_msg(d2_cpu_fast_new(&o, NULL, &fast, &err) == D2_OK, "%s", err.message);
    return fast;
}

/* ---- the tolerance: Winograd on absolute values, from the textbook matrices ---------- */

static const double mat_bt[6][6] = {
    { 4, 0, -5, 0, 1, 0 }, { 0, -4, -4, 1, 1, 0 }, { 0, 4, -4, -1, 1, 0 },
    { 0, -2, -1, 2, 1, 0 }, { 0, 2, -1, -2, 1, 0 }, { 0, 4, 0, -5, 0, 1 },
};
static const double mat_g[6][3] = {
    { 1.0 / 4, 0, 0 }, { -1.0 / 6, -1.0 / 6, -1.0 / 6 }, { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 }, { 1.0 / 24, -1.0 / 12, 1.0 / 6 }, { 0, 0, 1 },
};
static const double mat_at[4][6] = {
    { 1, 1, 1, 1, 1, 0 }, { 0, 1, -1, 2, -2, 0 }, { 0, 1, 1, 4, 4, 0 }, { 0, 1, -1, 8, -8, 1 },
};

struct conv_shape {
    int64_t n, c, h, w, m;
    int64_t pt, pl, pb, pr;   /* pads: top, left, bottom, right */
    bool bias, residual, relu;
};

static int64_t out_h(const struct conv_shape *s) { return s->h + s->pt + s->pb - 2; }
static int64_t out_w(const struct conv_shape *s) { return s->w + s->pl + s->pr - 2; }

/* abs_bound[n][m][oy][ox] = sum_c |A^T| (|G||g||G^T| . |B^T||d||B|) |A| (no bias/residual);
 * sum_abs: sum |w| |x| over the taps of each output. */
static void winograd_abs_bound(const struct conv_shape *s, const float *x, const float *w, double *abs_bound,
                               double *sum_abs)
{
    const int64_t oh = out_h(s), ow = out_w(s), th = (oh + 3) / 4, tw = (ow + 3) / 4;
    double *uabs = malloc((size_t)(s->m * s->c * 36) * sizeof *uabs);
    for (int64_t m = 0; m < s->m; m++)
        for (int64_t c = 0; c < s->c; c++) {
            const float *g = w + (m * s->c + c) * 9;
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++) {
                    double v = 0;
                    for (int i = 0; i < 3; i++)
                        for (int j = 0; j < 3; j++)
                            v += fabs(mat_g[a][i]) * fabs(g[i * 3 + j]) * fabs(mat_g[b][j]);
                    uabs[(m * s->c + c) * 36 + a * 6 + b] = v;
                }
        }
    double *vabs = malloc((size_t)(s->c * 36) * sizeof *vabs);
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t ty = 0; ty < th; ty++)
            for (int64_t tx = 0; tx < tw; tx++) {
                for (int64_t c = 0; c < s->c; c++) {
                    double d[6][6];
                    for (int i = 0; i < 6; i++)
                        for (int j = 0; j < 6; j++) {
                            int64_t iy = 4 * ty - s->pt + i, ix = 4 * tx - s->pl + j;
                            bool in = iy >= 0 && iy < s->h && ix >= 0 && ix < s->w;
                            d[i][j] = in ? fabs(x[((n * s->c + c) * s->h + iy) * s->w + ix]) : 0.0;
                        }
                    for (int a = 0; a < 6; a++)
                        for (int b = 0; b < 6; b++) {
                            double v = 0;
                            for (int i = 0; i < 6; i++)
                                for (int j = 0; j < 6; j++)
                                    v += fabs(mat_bt[a][i]) * d[i][j] * fabs(mat_bt[b][j]);
                            vabs[c * 36 + a * 6 + b] = v;
                        }
                }
                for (int64_t m = 0; m < s->m; m++) {
                    double prod[36] = { 0 };
                    for (int64_t c = 0; c < s->c; c++)
                        for (int k = 0; k < 36; k++)
                            prod[k] += uabs[(m * s->c + c) * 36 + k] * vabs[c * 36 + k];
                    for (int r = 0; r < 4; r++)
                        for (int q = 0; q < 4; q++) {
                            int64_t oy = 4 * ty + r, ox = 4 * tx + q;
                            if (oy >= oh || ox >= ow)
                                continue;
                            double v = 0;
                            for (int a = 0; a < 6; a++)
                                for (int b = 0; b < 6; b++)
                                    v += fabs(mat_at[r][a]) * prod[a * 6 + b] * fabs(mat_at[q][b]);
                            abs_bound[((n * s->m + m) * oh + oy) * ow + ox] = v;
                        }
                }
            }
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t m = 0; m < s->m; m++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double v = 0;
                    for (int64_t c = 0; c < s->c; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int64_t iy = oy - s->pt + ky, ix = ox - s->pl + kx;
                                if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                                    v += fabs(w[((m * s->c + c) * 3 + ky) * 3 + kx]) *
                                         fabs(x[((n * s->c + c) * s->h + iy) * s->w + ix]);
                            }
                    sum_abs[((n * s->m + m) * oh + oy) * ow + ox] = v;
                }
    free(uabs);
    free(vabs);
}

/* ---- one case ------------------------------------------------------------------------ */

struct case_data {
    struct conv_shape s;
    struct d2_graph *g;
    struct d2_tensor in[4];
    uint32_t num_inputs;
    struct d2_tensor ref;           /* the reference executor's output */
    double *abs_bound, *sum_abs;
};

static double worst_ratio_direct_bound; /* max |err| / ((9C + 2) eps sum|w||x|) over all checks */
/* The empirical check: on this test's data (uniform inputs, fixed seed) the error stays
 * below this share of the direct conv's bound (measured at most 0.10 on every ISA; a
 * 1e-4 relative slip in one transform coefficient gives 0.5 to 1.7). The per-element
 * first-order bound above is the rigorous one, but it is loose (about 1e-3 relative). */
#define DIRECT_BOUND_SHARE 0.35

static void case_init(struct case_data *cd, const struct conv_shape *s)
{
    char text[1024], pads[128], extra[128];
    struct d2_error err = {0};
    memset(cd, 0, sizeof *cd);
    cd->s = *s;
    snprintf(pads, sizeof pads, "pads=[%lld,%lld,%lld,%lld]", (long long)s->pt, (long long)s->pl, (long long)s->pb,
             (long long)s->pr);
    bool fused = s->residual || s->relu;
    snprintf(extra, sizeof extra, "%s%s", fused && s->relu ? ", activation=relu" : "", "");
    int len = snprintf(text, sizeof text, "graph main(%%x: f32[%lld,%lld,%lld,%lld], %%w: f32[%lld,%lld,3,3]",
                       (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w, (long long)s->m,
                       (long long)s->c);
    if (s->bias)
        len += snprintf(text + len, sizeof text - (size_t)len, ", %%b: f32[%lld]", (long long)s->m);
    if (s->residual)
        len += snprintf(text + len, sizeof text - (size_t)len, ", %%r: f32[%lld,%lld,%lld,%lld]", (long long)s->n,
                        (long long)s->m, (long long)out_h(s), (long long)out_w(s));
    len += snprintf(text + len, sizeof text - (size_t)len, ") {\n  %%y = %s(%%x, %%w%s%s) {%s%s}\n  return %%y\n}\n",
                    fused ? "fused_conv" : "conv", s->bias ? ", %b" : (s->residual ? ", _" : ""),
                    s->residual ? ", %r" : "", pads, extra);
    cd->g = d2_parse_graph(text, strlen(text), NULL, &err);
    ck_assert_msg(cd->g != NULL, "parse: %s\n%s", err.message, text);
    ck_assert_msg(d2_infer_graph(cd->g, &err) == D2_OK, "infer: %s\n%s", err.message, text);
    cd->num_inputs = cd->g->num_inputs;
    for (uint32_t i = 0; i < cd->num_inputs; i++) {
        const struct d2_type *t = &cd->g->values[cd->g->inputs[i]].type;
        ck_assert_int_eq(d2_tensor_alloc(&cd->in[i], NULL, t->dtype, t->rank, t->dims, &err), D2_OK);
        float *p = cd->in[i].data;
        for (int64_t e = 0; e < d2_tensor_numel(&cd->in[i]); e++)
            p[e] = uniform() * (i == 1 ? 0.5f : 2.0f);
    }
    ck_assert_msg(d2_cpu_execute(cd->g, cd->in, cd->num_inputs, &cd->ref, 1, NULL, &err) == D2_OK, "reference: %s",
                  err.message);
    int64_t outputs = s->n * s->m * out_h(s) * out_w(s);
    cd->abs_bound = malloc((size_t)outputs * sizeof(double));
    cd->sum_abs = malloc((size_t)outputs * sizeof(double));
    winograd_abs_bound(s, cd->in[0].data, cd->in[1].data, cd->abs_bound, cd->sum_abs);
}

static void case_free(struct case_data *cd)
{
    for (uint32_t i = 0; i < cd->num_inputs; i++)
        d2_tensor_release(&cd->in[i], NULL);
    d2_tensor_release(&cd->ref, NULL);
    d2_graph_free(cd->g);
    free(cd->abs_bound);
    free(cd->sum_abs);
}

static const float *case_bias(const struct case_data *cd)
{
    return cd->s.bias ? cd->in[2].data : NULL;
}

static const float *case_residual(const struct case_data *cd)
{
    return cd->s.residual ? cd->in[cd->s.bias ? 3 : 2].data : NULL;
}

static void check_output(const struct case_data *cd, const float *y, const char *what, const char *isa)
{
    const struct conv_shape *s = &cd->s;
    const int64_t outputs = s->n * s->m * out_h(s) * out_w(s), plane = out_h(s) * out_w(s);
    const float *bias = case_bias(cd), *res = case_residual(cd);
    const double eps = FLT_EPSILON;
    for (int64_t e = 0; e < outputs; e++) {
        double want = ((const float *)cd->ref.data)[e], have = y[e];
        double extra = (bias ? fabs(bias[e / plane % s->m]) : 0) + (res ? fabs(res[e]) : 0);
        double tol = (double)(s->c + 24) * eps * (cd->abs_bound[e] + extra) + 1e-30;
        if (!(fabs(have - want) <= tol))
            ck_abort_msg("%s %s: N%lld C%lld %lldx%lld M%lld pads %lld,%lld,%lld,%lld: element %lld = %.9g, want %.9g "
                         "(tol %g)",
                         isa, what, (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w,
                         (long long)s->m, (long long)s->pt, (long long)s->pl, (long long)s->pb, (long long)s->pr,
                         (long long)e, have, want, tol);
        double direct_bound = (double)(9 * s->c + 2) * eps * (cd->sum_abs[e] + extra);
        double ratio = direct_bound > 0 ? fabs(have - want) / direct_bound : 0.0;
        if (!(ratio <= DIRECT_BOUND_SHARE))
            ck_abort_msg("%s %s: N%lld C%lld %lldx%lld M%lld: element %lld = %.9g, want %.9g: %.2f of the direct "
                         "conv's bound (at most %.2f expected on this data)",
                         isa, what, (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w,
                         (long long)s->m, (long long)e, have, want, ratio, DIRECT_BOUND_SHARE);
        if (ratio > worst_ratio_direct_bound)
            worst_ratio_direct_bound = ratio;
    }
}

static void params_of(const struct conv_shape *s, struct d2_conv2d_params *p)
{
    *p = (struct d2_conv2d_params){
        .batch = s->n, .in_channels = s->c, .in_h = s->h, .in_w = s->w, .out_channels = s->m,
        .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_top = s->pt, .pad_left = s->pl,
        .dilation_h = 1, .dilation_w = 1, .group = 1, .out_h = out_h(s), .out_w = out_w(s),
    };
}

/* d2_winograd_conv2d directly, with and without the session's cache, 1 and 2 threads. */
static void check_direct(const struct case_data *cd, const struct d2_cpu_kernels *kt)
{
    const struct conv_shape *s = &cd->s;
    const int64_t outputs = s->n * s->m * out_h(s) * out_w(s);
    struct d2_conv2d_params p;
    struct d2_error err = {0};
    params_of(s, &p);
    ck_assert(d2_winograd_applies(&p));
    float *y = malloc((size_t)outputs * sizeof *y);
    for (int threads = 1; threads <= 2; threads++) {
        struct d2_cpu_fast *fast = fast_for(kt, threads);
        for (int pass = 0; pass < 3; pass++) { /* no cache, then cache miss, then hit */
            for (int64_t e = 0; e < outputs; e++)
                y[e] = NAN;
            ck_assert_msg(d2_winograd_conv2d(kt, fast->pool, pass == 0 ? NULL : fast->winograd, &p, cd->in[0].data,
                                             cd->in[1].data, case_bias(cd), case_residual(cd), s->relu, y,
                                             &err) == D2_OK,
                          "%s", err.message);
            check_output(cd, y, pass == 0 ? "uncached" : pass == 1 ? "cache miss" : "cache hit", kt->name);
        }
        d2_cpu_fast_free(fast);
    }
    free(y);
}

/* The graph through the fast executor: Winograd must have run. */
static void check_executor(const struct case_data *cd, const struct d2_cpu_kernels *kt)
{
    struct d2_error err = {0};
    struct d2_tensor got = {0};
    struct d2_cpu_fast *fast = fast_for(kt, 2);
    ck_assert_ptr_nonnull(fast->winograd);
    ck_assert_msg(d2_cpu_fast_execute(fast, cd->g, cd->in, cd->num_inputs, &got, 1, NULL, NULL, NULL, &err) == D2_OK,
                  "%s", err.message);
    ck_assert_msg(d2_winograd_runs(fast) == 1, "%s: the fast executor did not take the Winograd path", kt->name);
    check_output(cd, got.data, "executor", kt->name);
    d2_tensor_release(&got, NULL);
    d2_cpu_fast_free(fast);
}

static const struct conv_shape direct_shapes[] = {
    /* n, c, h, w, m, pads t l b r, bias, residual, relu */
    { 1, 16, 13, 17, 20, 1, 1, 1, 1, true, false, false },
    { 1, 3, 1, 1, 5, 1, 1, 1, 1, true, false, false },          /* 1x1 image */
    { 2, 5, 2, 3, 7, 1, 1, 1, 1, false, true, true },           /* smaller than a tile */
    { 3, 9, 7, 6, 13, 0, 0, 0, 0, true, true, false },          /* pad 0, batch 3 */
    { 1, 17, 10, 9, 8, 0, 1, 2, 1, true, false, true },          /* asymmetric pads */
    { 2, 33, 11, 21, 17, 2, 2, 2, 2, false, false, true },       /* pad 2 */
    { 1, 40, 5, 70, 9, 1, 1, 1, 1, true, true, true },           /* wide rows: > 1 vector of tiles */
    { 2, 24, 6, 150, 20, 1, 1, 1, 1, true, false, false },       /* vector deinterleave of image rows */
    { 1, 8, 9, 141, 8, 0, 0, 0, 0, false, false, true },         /* the same, unpadded */
    { 2, 300, 9, 9, 11, 1, 1, 1, 1, true, false, false },        /* several K blocks */
    { 3, 500, 40, 16, 20, 1, 1, 1, 1, true, true, true },        /* several bands */
    { 1, 64, 20, 31, 64, 1, 1, 1, 1, true, false, true },        /* backbone-like */
    /* 9 x 23 = 207 tiles in bands of 144 (3 GEMM columns of 48): the first band ends 6
     * tiles into a tile row and the second starts there; 23-tile rows also split the
     * 64-tile transform groups mid-row */
    { 1, 256, 36, 90, 256, 1, 1, 1, 1, true, true, true },
    { 1, 256, 33, 93, 192, 1, 1, 1, 1, true, false, true },      /* the same with odd sizes, pad 1 */
};

START_TEST(winograd_against_reference)
{
    for (size_t i = 0; i < sizeof direct_shapes / sizeof direct_shapes[0]; i++) {
        struct case_data cd;
        case_init(&cd, &direct_shapes[i]);
        for (size_t t = 0; t < NUM_TABLES; t++)
            if (d2_cpu_isa_supported(all_tables[t]->name))
                check_direct(&cd, all_tables[t]);
        case_free(&cd);
    }
    printf("winograd: largest |error| / ((9C + 2) eps sum|w||x|) = %.2f\n", worst_ratio_direct_bound);
}
END_TEST

static const struct conv_shape executor_shapes[] = {
    { 1, 64, 19, 23, 72, 1, 1, 1, 1, true, false, false },       /* conv */
    { 2, 64, 14, 14, 80, 1, 1, 1, 1, true, true, true },          /* fused_conv, mask-head-like batch */
    { 1, 70, 12, 30, 64, 1, 1, 1, 1, false, false, true },        /* fused_conv, relu only */
};

START_TEST(executor_dispatch)
{
    for (size_t i = 0; i < sizeof executor_shapes / sizeof executor_shapes[0]; i++) {
        struct case_data cd;
        case_init(&cd, &executor_shapes[i]);
        for (size_t t = 0; t < NUM_TABLES; t++)
            if (d2_cpu_isa_supported(all_tables[t]->name))
                check_executor(&cd, all_tables[t]);
        case_free(&cd);
    }
}
END_TEST

/* D2RT_WINOGRAD=0: the session has no cache and the executor never runs Winograd
 * (its output then meets the direct conv's tighter bound). */
START_TEST(env_disables)
{
    struct case_data cd;
    struct d2_error err = {0};
    case_init(&cd, &executor_shapes[0]);
    setenv("D2RT_WINOGRAD", "0", 1);
    struct d2_cpu_fast *fast = fast_for(d2_cpu_kernels_select(NULL, &err), 2);
    unsetenv("D2RT_WINOGRAD");
    ck_assert_ptr_null(fast->winograd);
    struct d2_tensor got = {0};
    ck_assert_msg(d2_cpu_fast_execute(fast, cd.g, cd.in, cd.num_inputs, &got, 1, NULL, NULL, NULL, &err) == D2_OK,
                  "%s", err.message);
    ck_assert_int_eq(d2_winograd_runs(fast), 0);
    const float *bias = case_bias(&cd);
    const int64_t plane = out_h(&cd.s) * out_w(&cd.s);
    for (int64_t e = 0; e < d2_tensor_numel(&got); e++) {
        double want = ((float *)cd.ref.data)[e];
        double tol = (double)(9 * cd.s.c + 3) * FLT_EPSILON * (cd.sum_abs[e] + fabs(bias[e / plane % cd.s.m]));
        ck_assert_msg(fabs(((float *)got.data)[e] - want) <= tol, "element %lld", (long long)e);
    }
    d2_tensor_release(&got, NULL);
    d2_cpu_fast_free(fast);
    case_free(&cd);
}
END_TEST

/* Weights changed in place between runs (same pointer, same shape) are transformed
 * again: the cache compares a fingerprint of sampled weights. */
START_TEST(cache_notices_new_weights)
{
    struct case_data cd;
    struct d2_error err = {0};
    const struct conv_shape s = { 1, 24, 9, 11, 16, 1, 1, 1, 1, true, false, false };
    case_init(&cd, &s);
    const struct d2_cpu_kernels *kt = d2_cpu_kernels_select(NULL, &err);
    struct d2_cpu_fast *fast = fast_for(kt, 2);
    struct d2_conv2d_params p;
    params_of(&s, &p);
    const int64_t outputs = s.n * s.m * out_h(&s) * out_w(&s);
    float *y = malloc((size_t)outputs * sizeof *y);
    /* first run: caches the transform of the original weights */
    ck_assert_int_eq(d2_winograd_conv2d(kt, fast->pool, fast->winograd, &p, cd.in[0].data, cd.in[1].data,
                                        case_bias(&cd), NULL, false, y, &err), D2_OK);
    check_output(&cd, y, "first", kt->name);
    /* new weights in the same buffer: new reference and bound */
    float *w = cd.in[1].data;
    for (int64_t e = 0; e < d2_tensor_numel(&cd.in[1]); e++)
        w[e] = uniform() * 0.5f;
    d2_tensor_release(&cd.ref, NULL);
    ck_assert_int_eq(d2_cpu_execute(cd.g, cd.in, cd.num_inputs, &cd.ref, 1, NULL, &err), D2_OK);
    winograd_abs_bound(&s, cd.in[0].data, cd.in[1].data, cd.abs_bound, cd.sum_abs);
    ck_assert_int_eq(d2_winograd_conv2d(kt, fast->pool, fast->winograd, &p, cd.in[0].data, cd.in[1].data,
                                        case_bias(&cd), NULL, false, y, &err), D2_OK);
    check_output(&cd, y, "weights changed in place", kt->name);
    free(y);
    d2_cpu_fast_free(fast);
    case_free(&cd);
}
END_TEST

/* A batch gives each image the bits it gets alone (the predictor batches images and
 * promises identical answers): the same path whatever the batch, and per-tile arithmetic
 * that does not depend on the band. 13x14 images have 16 tiles (Winograd, alone and in a
 * batch); 10x10 images have 9 (never Winograd, though the batch has 27 tiles). */
static void check_batch_matches_alone(int64_t h, int64_t w, bool winograd)
{
    const int64_t n = 3, c = 64, m = 72;
    const int64_t image_in = c * h * w, image_out = m * h * w;
    float *x = malloc((size_t)(n * image_in) * sizeof *x), *wt = malloc((size_t)(m * c * 9) * sizeof *wt);
    float *bias = malloc((size_t)m * sizeof *bias);
    float *batched = malloc((size_t)(n * image_out) * sizeof *batched), *alone = malloc((size_t)image_out * sizeof *alone);
    struct d2_error err = {0};
    for (int64_t i = 0; i < n * image_in; i++)
        x[i] = uniform();
    for (int64_t i = 0; i < m * c * 9; i++)
        wt[i] = uniform() * 0.1f;
    for (int64_t i = 0; i < m; i++)
        bias[i] = uniform();
    for (size_t t = 0; t < NUM_TABLES; t++) {
        if (!d2_cpu_isa_supported(all_tables[t]->name))
            continue;
        struct d2_cpu_fast *fast = fast_for(all_tables[t], 2);
        struct d2_conv2d_params p = {
            .batch = n, .in_channels = c, .in_h = h, .in_w = w, .out_channels = m, .kernel_h = 3, .kernel_w = 3,
            .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_left = 1, .dilation_h = 1, .dilation_w = 1, .group = 1,
            .out_h = h, .out_w = w,
        };
        ck_assert_int_eq(d2_cpu_fast_conv2d(fast, &p, x, wt, bias, NULL, true, batched, &err), D2_OK);
        p.batch = 1;
        for (int64_t i = 0; i < n; i++) {
            ck_assert_int_eq(d2_cpu_fast_conv2d(fast, &p, x + i * image_in, wt, bias, NULL, true, alone, &err), D2_OK);
            ck_assert_msg(memcmp(alone, batched + i * image_out, (size_t)image_out * sizeof *alone) == 0,
                          "%s %lldx%lld: image %lld of the batch differs from its run alone", all_tables[t]->name,
                          (long long)h, (long long)w, (long long)i);
        }
        ck_assert_int_eq(d2_winograd_runs(fast), winograd ? 1 + n : 0);
        d2_cpu_fast_free(fast);
    }
    free(x), free(wt), free(bias), free(batched), free(alone);
}

START_TEST(batch_matches_alone)
{
    check_batch_matches_alone(13, 14, true);
    check_batch_matches_alone(10, 10, false);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("winograd");
    TCase *tc = tcase_create("winograd");
    SRunner *sr;
    int failed;
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, winograd_against_reference);
    tcase_add_test(tc, executor_dispatch);
    tcase_add_test(tc, env_disables);
    tcase_add_test(tc, cache_notices_new_weights);
    tcase_add_test(tc, batch_matches_alone);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
