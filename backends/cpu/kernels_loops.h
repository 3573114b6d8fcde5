/* backends/cpu/kernels_loops.h: the vector loops every kernel table shares, written
 * once as plain C and included by kernels_{generic,avx2,avx512}.c. Each of those files
 * is compiled with -O3 and its own -m flags (Makefile), so the compiler vectorizes
 * these loops for that instruction set. Only for inclusion by those three files. */
#ifndef D2_BACKENDS_CPU_KERNELS_LOOPS_H
#define D2_BACKENDS_CPU_KERNELS_LOOPS_H

#include "fast.h"

static void loop_bias_act(float *restrict y, int64_t n, float bias, const float *restrict residual, bool relu)
{
    if (residual) {
        if (relu)
            for (int64_t i = 0; i < n; i++) {
                float v = y[i] + bias + residual[i];
                y[i] = v > 0.0f ? v : 0.0f;
            }
        else
            for (int64_t i = 0; i < n; i++)
                y[i] = y[i] + bias + residual[i];
    } else if (relu) {
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + bias;
            y[i] = v > 0.0f ? v : 0.0f;
        }
    } else if (bias != 0.0f) {
        for (int64_t i = 0; i < n; i++)
            y[i] += bias;
    }
}

/* relu keeps NaN (like the reference: max(x, 0) with x NaN is NaN). */
static void loop_relu(float *restrict y, const float *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

static void loop_add(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

static void loop_mul(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * b[i];
}

static void loop_add_scalar(float *y, const float *a, float b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b;
}

static void loop_mul_scalar(float *y, const float *a, float b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * b;
}

/* max with NaN propagation from either side (the reference: NaN if any is NaN). */
static void loop_max(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float u = a[i], v = b[i];
        y[i] = (u > v || u != u) ? u : v;
    }
}

static void loop_scale_add(float *restrict y, int64_t n, float alpha, float beta, const float *restrict c)
{
    if (c)
        for (int64_t i = 0; i < n; i++)
            y[i] = alpha * y[i] + beta * c[i];
    else
        for (int64_t i = 0; i < n; i++)
            y[i] = alpha * y[i];
}

/* Write an mr x nr tile held in t (row-major, nr per row) to C. */
static inline void store_tile(const float *t, int32_t nr, float *c, int64_t ldc, int32_t m_valid, int32_t n_valid,
                              bool accumulate)
{
    for (int32_t i = 0; i < m_valid; i++) {
        float *row = c + i * ldc;
        const float *src = t + i * nr;
        if (accumulate)
            for (int32_t j = 0; j < n_valid; j++)
                row[j] += src[j];
        else
            for (int32_t j = 0; j < n_valid; j++)
                row[j] = src[j];
    }
}

#endif
