/* backends/cpu/kernels_avx2.c: the AVX2 + FMA kernel table (compiled with -mavx2
 * -mfma; selected only when cpuid reports both). The SGEMM micro-kernel computes a
 * 6 x 16 tile in 12 ymm accumulators: per step of k it loads two 8-float vectors of
 * the packed B panel and broadcasts 6 values of the packed A panel (12 FMAs). The
 * elementwise loops come from kernels_loops.h, vectorized by the compiler; sigmoid
 * uses a Cephes-style exp (relative error about 2e-7). */
#include <immintrin.h>

#include "kernels_loops.h"

#define AVX2_MR 6
#define AVX2_NR 16

static void avx2_sgemm_tile(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int32_t m_valid,
                            int32_t n_valid, bool accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 ai;
#define AVX2_ROW(i)                                   \
        ai = _mm256_broadcast_ss(a + i);              \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);   \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);
        AVX2_ROW(0) AVX2_ROW(1) AVX2_ROW(2) AVX2_ROW(3) AVX2_ROW(4) AVX2_ROW(5)
#undef AVX2_ROW
        a += AVX2_MR;
        b += AVX2_NR;
    }
    if (m_valid == AVX2_MR && n_valid == AVX2_NR) {
#define AVX2_STORE(i)                                                                    \
        if (accumulate) {                                                                \
            c##i##0 = _mm256_add_ps(c##i##0, _mm256_loadu_ps(c + i * ldc));              \
            c##i##1 = _mm256_add_ps(c##i##1, _mm256_loadu_ps(c + i * ldc + 8));          \
        }                                                                                \
        _mm256_storeu_ps(c + i * ldc, c##i##0);                                          \
        _mm256_storeu_ps(c + i * ldc + 8, c##i##1);
        AVX2_STORE(0) AVX2_STORE(1) AVX2_STORE(2) AVX2_STORE(3) AVX2_STORE(4) AVX2_STORE(5)
#undef AVX2_STORE
        return;
    }
    float t[AVX2_MR * AVX2_NR] __attribute__((aligned(32)));
#define AVX2_SPILL(i) _mm256_store_ps(t + i * AVX2_NR, c##i##0); _mm256_store_ps(t + i * AVX2_NR + 8, c##i##1);
    AVX2_SPILL(0) AVX2_SPILL(1) AVX2_SPILL(2) AVX2_SPILL(3) AVX2_SPILL(4) AVX2_SPILL(5)
#undef AVX2_SPILL
    store_tile(t, AVX2_NR, c, ldc, m_valid, n_valid, accumulate);
}

/* e^x for x in [-87.3, 88.3] (clamped outside): 2^n * poly(r), r = x - n ln 2. */
static inline __m256 avx2_exp(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

static void avx2_sigmoid(float *y, const float *x, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = avx2_exp(_mm256_sub_ps(_mm256_setzero_ps(), v));
        __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
        /* NaN in, NaN out (the clamp would turn it into a number). */
        s = _mm256_blendv_ps(s, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        _mm256_storeu_ps(y + i, s);
    }
    if (i < n) {
        float in[8] = {0}, out[8];
        for (int64_t j = i; j < n; j++)
            in[j - i] = x[j];
        avx2_sigmoid(out, in, 8);
        for (int64_t j = i; j < n; j++)
            y[j] = out[j - i];
    }
}

/* 12 independent FMA chains (2 FMA pipes x 4-5 cycles latency, with margin). */
static void avx2_fma_loop(int64_t iters, float *sink)
{
#define AVX2_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define AVX2_INIT(i) __m256 r##i = _mm256_set1_ps((float)(i) * 0.001f);
    AVX2_CHAINS(AVX2_INIT)
    const __m256 m = _mm256_set1_ps(0.9999f), a = _mm256_set1_ps(0.0001f);
    for (int64_t it = 0; it < iters; it++) {
#define AVX2_FMA(i) r##i = _mm256_fmadd_ps(r##i, m, a);
        AVX2_CHAINS(AVX2_FMA)
    }
#define AVX2_SUM(i) s = _mm256_add_ps(s, r##i);
    __m256 s = _mm256_setzero_ps();
    AVX2_CHAINS(AVX2_SUM)
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    *sink = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

const struct d2_cpu_kernels d2_cpu_kernels_avx2 = {
    .name = "avx2",
    .mr = AVX2_MR,
    .nr = AVX2_NR,
    .mc = 144,
    .kc = 256,
    .nc = 2048,
    .sgemm_tile = avx2_sgemm_tile,
    .bias_act = loop_bias_act,
    .relu = loop_relu,
    .sigmoid = avx2_sigmoid,
    .add = loop_add,
    .mul = loop_mul,
    .add_scalar = loop_add_scalar,
    .mul_scalar = loop_mul_scalar,
    .max = loop_max,
    .scale_add = loop_scale_add,
    .fma_loop = avx2_fma_loop,
    .fma_loop_flops = 12 * 8 * 2,
};
