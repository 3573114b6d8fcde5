/* backends/cpu/kernels_generic.c: the portable kernel table (no instruction-set
 * extensions beyond the compiler's baseline). Plain C throughout: the micro-kernel
 * keeps a 4 x 8 accumulator tile that the compiler holds in registers, the loops of
 * kernels_loops.h vectorize with the baseline SIMD (SSE2 on x86-64). It runs
 * everywhere and is what D2RT_CPU=generic selects. */
#include <math.h>

#include "kernels_loops.h"

#define GENERIC_MR 4
#define GENERIC_NR 8

static void generic_sgemm_tile(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int32_t m_valid,
                               int32_t n_valid, bool accumulate)
{
    float t[GENERIC_MR * GENERIC_NR] = {0};
    for (int64_t p = 0; p < k; p++) {
        const float *ap = a + p * GENERIC_MR, *bp = b + p * GENERIC_NR;
        for (int i = 0; i < GENERIC_MR; i++)
            for (int j = 0; j < GENERIC_NR; j++)
                t[i * GENERIC_NR + j] += ap[i] * bp[j];
    }
    store_tile(t, GENERIC_NR, c, ldc, m_valid, n_valid, accumulate);
}

static void generic_sigmoid(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

/* 8 chains of 4 floats: what the baseline SIMD (SSE2, no FMA) sustains. */
static void generic_fma_loop(int64_t iters, float *sink)
{
    float r[32];
    for (int i = 0; i < 32; i++)
        r[i] = (float)i * 0.001f;
    for (int64_t it = 0; it < iters; it++)
        for (int i = 0; i < 32; i++)
            r[i] = r[i] * 0.9999f + 0.0001f;
    float s = 0.0f;
    for (int i = 0; i < 32; i++)
        s += r[i];
    *sink = s;
}

const struct d2_cpu_kernels d2_cpu_kernels_generic = {
    .name = "generic",
    .mr = GENERIC_MR,
    .nr = GENERIC_NR,
    .mc = 128,
    .kc = 256,
    .nc = 1024,
    .sgemm_tile = generic_sgemm_tile,
    .bias_act = loop_bias_act,
    .relu = loop_relu,
    .sigmoid = generic_sigmoid,
    .add = loop_add,
    .mul = loop_mul,
    .add_scalar = loop_add_scalar,
    .mul_scalar = loop_mul_scalar,
    .max = loop_max,
    .scale_add = loop_scale_add,
    .fma_loop = generic_fma_loop,
    .fma_loop_flops = 32 * 2,
};
