/* backends/cpu/kernels_avx512.c: the AVX-512 kernel table (compiled with
 * -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma; selected only when cpuid
 * reports AVX512F/BW/VL/DQ). The SGEMM micro-kernel computes an 8 x 48 tile in 24 zmm
 * accumulators (of 32 registers): per step of k three 16-float loads of the packed B
 * panel and 8 broadcasts of the packed A panel feed 24 FMAs. The direct-convolution
 * tile is the same tile with B read from the image in place. The elementwise loops
 * come from kernels_loops.h, vectorized by the compiler; sigmoid uses a Cephes-style
 * exp (relative error about 2e-7). */
#include <immintrin.h>

#include "kernels_loops.h"

/* The 8 x 48 tile: 24 accumulators, per step of k three 16-float loads of the packed B
 * panel and 8 broadcasts. Eight rows divide every channel count of a ResNet (64, 128,
 * ...), where a 14-row tile wastes up to 9% of the FMAs on padding rows (M = 64: 70
 * rows); measured, 8 x 48 was also as fast or faster on large square GEMMs. */
#define AVX512_MR 8
#define AVX512_NR 48
#define AVX512_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

static void avx512_sgemm_tile(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                                   int32_t m_valid, int32_t n_valid, bool accumulate)
{
#define AVX512_DECL(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps(), \
                              c##i##_2 = _mm512_setzero_ps();
    AVX512_ROWS(AVX512_DECL)
#undef AVX512_DECL
    for (int64_t p = 0; p < k; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32);
#define AVX512_STEP(i)                                       \
        {                                                    \
            __m512 ai = _mm512_set1_ps(a[i]);                \
            c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0);    \
            c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1);    \
            c##i##_2 = _mm512_fmadd_ps(ai, b2, c##i##_2);    \
        }
        AVX512_ROWS(AVX512_STEP)
#undef AVX512_STEP
        a += AVX512_MR;
        b += AVX512_NR;
    }
    if (m_valid == AVX512_MR && n_valid == AVX512_NR) {
#define AVX512_STORE(i)                                                                  \
        if (accumulate) {                                                                \
            c##i##_0 = _mm512_add_ps(c##i##_0, _mm512_loadu_ps(c + i * ldc));            \
            c##i##_1 = _mm512_add_ps(c##i##_1, _mm512_loadu_ps(c + i * ldc + 16));       \
            c##i##_2 = _mm512_add_ps(c##i##_2, _mm512_loadu_ps(c + i * ldc + 32));       \
        }                                                                                \
        _mm512_storeu_ps(c + i * ldc, c##i##_0);                                         \
        _mm512_storeu_ps(c + i * ldc + 16, c##i##_1);                                    \
        _mm512_storeu_ps(c + i * ldc + 32, c##i##_2);
        AVX512_ROWS(AVX512_STORE)
#undef AVX512_STORE
        return;
    }
    float t[AVX512_MR * AVX512_NR] __attribute__((aligned(64)));
#define AVX512_SPILL(i) _mm512_store_ps(t + i * AVX512_NR, c##i##_0); \
                        _mm512_store_ps(t + i * AVX512_NR + 16, c##i##_1); \
                        _mm512_store_ps(t + i * AVX512_NR + 32, c##i##_2);
    AVX512_ROWS(AVX512_SPILL)
#undef AVX512_SPILL
    store_tile(t, AVX512_NR, c, ldc, m_valid, n_valid, accumulate);
}

/* The direct-convolution tile (fast.h, conv_tile): the 8 x 48 tile of the SGEMM, with B
 * read straight from the image instead of a packed panel. Tiles that touch the padding
 * use masked loads (masked-off lanes read nothing, so they cannot fault, and give 0);
 * the others plain loads. The data of the tile after next (every image row its taps
 * read) is prefetched for
 * a share of the channels (fast.h; two tiles ahead rather than one: res2 1x1 256->64 went
 * from 65% to 82% of peak, 512->128 from 77% to 86%, 1 thread). The epilogue is applied
 * in registers before the store. */
#define AVX512_STEP(i)                                       \
        {                                                    \
            __m512 ai = _mm512_set1_ps(a[i]);                \
            c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0);    \
            c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1);    \
            c##i##_2 = _mm512_fmadd_ps(ai, b2, c##i##_2);    \
        }
/* Prefetch of the tile after next for every prefetch_stride-th channel: the one tap of a
 * 1x1 (or of Winograd's GEMMs), or every tap. */
#define AVX512_PREFETCH_LINES(p)                                                 \
        {                                                                        \
            const float *next = (p) + 2 * AVX512_NR;                             \
            _mm_prefetch((const char *)next, _MM_HINT_T0);                       \
            _mm_prefetch((const char *)(next + 16), _MM_HINT_T0);                \
            _mm_prefetch((const char *)(next + 32), _MM_HINT_T0);                \
        }
#define AVX512_PREFETCH_ONE_TAP(xc)                                              \
        if (countdown-- == 0) {                                                  \
            AVX512_PREFETCH_LINES((xc) + tap_offset[0])                          \
            countdown = prefetch_stride - 1;                                     \
        }
#define AVX512_PREFETCH_EVERY_TAP(xc)                                            \
        if (countdown-- == 0) {                                                  \
            for (int32_t pt = 0; pt < taps; pt++)                                \
                AVX512_PREFETCH_LINES((xc) + tap_offset[pt])                     \
            countdown = prefetch_stride - 1;                                     \
        }
/* The channel loops, plain loads (interior tiles) or masked loads (edge tiles). */
#define AVX512_CHANNELS_PLAIN(PREFETCH)                                                                       \
        for (int64_t ch = 0; ch < channels; ch++) {                                                           \
            const float *xc = x + ch * plane;                                                                 \
            PREFETCH(xc)                                                                                      \
            for (int32_t t = 0; t < taps; t++) {                                                              \
                const float *xt = xc + tap_offset[t];                                                         \
                __m512 b0 = _mm512_loadu_ps(xt), b1 = _mm512_loadu_ps(xt + 16), b2 = _mm512_loadu_ps(xt + 32); \
                AVX512_ROWS(AVX512_STEP)                                                                      \
                a += AVX512_MR;                                                                               \
            }                                                                                                 \
        }
#define AVX512_CHANNELS_MASKED(PREFETCH)                                                                      \
        for (int64_t ch = 0; ch < channels; ch++) {                                                           \
            const float *xc = x + ch * plane;                                                                 \
            PREFETCH(xc)                                                                                      \
            for (int32_t t = 0; t < taps; t++) {                                                              \
                const float *xt = xc + tap_offset[t];                                                         \
                __m512 b0 = _mm512_maskz_loadu_ps(masks[t][0], xt),                                           \
                       b1 = _mm512_maskz_loadu_ps(masks[t][1], xt + 16),                                      \
                       b2 = _mm512_maskz_loadu_ps(masks[t][2], xt + 32);                                      \
                AVX512_ROWS(AVX512_STEP)                                                                      \
                a += AVX512_MR;                                                                               \
            }                                                                                                 \
        }

/* Page-aligned: the speed of this function moved with where the linker put it, after
 * changes to unrelated code (res2 3x3, 1 thread: 75-77% of peak at 0x...a40 and 0x...b00,
 * 83-85% at 0x...0c0 and page-aligned; 64- and 256-byte alignment did not help; the cause,
 * likely front-end or branch-predictor aliasing, was not pinned down: no PMU in the VM).
 * Page alignment measured as fast as the best placement on every conv shape benchmarked. */
__attribute__((aligned(4096))) static void
avx512_conv_tile(int64_t channels, int32_t taps, const int64_t *tap_offset, const uint64_t *tap_mask, const float *a,
                 const float *x, int64_t plane, float *c, int64_t ldc, int32_t m_valid, int32_t n_valid, bool accumulate,
                 int32_t prefetch_stride, int32_t prefetch_phase, const struct d2_tile_epilogue *epilogue)
{
#define AVX512_DECL(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps(), \
                              c##i##_2 = _mm512_setzero_ps();
    AVX512_ROWS(AVX512_DECL)
#undef AVX512_DECL
    /* Every tap's data is prefetched, not only the center tap's: on the phase images of
     * strided convs the other taps read other phase images, which were left to demand
     * misses (res3 3x3 stride 2: 51% of peak with the center tap only, 62% with every tap;
     * the 7x7 stem 71% -> 75%, 1 thread). One tap has its own loops: the prefetch loop
     * cost 1x1 convs with few output channels ~10% (res2 64->64 69% -> 58%, RPN 256->15
     * 70% -> 60%, 1 thread). Skipping taps whose lines the previous tap already covers
     * cost more than it saved (the stem: 61%; its tiles are only 147 steps of K). */
    /* Channels until the next prefetch: phase, then every prefetch_stride. */
    int32_t countdown = prefetch_stride > 0 ? prefetch_phase : INT32_MAX;
    /* The C lines of this row tile two column tiles ahead: without it, the stores of a
     * layer whose output does not fit in cache wait for their lines (read for ownership)
     * from memory; K = 64 leaves too little compute per tile to hide that (res2 1x1
     * 64->256, 1 thread: 73% -> 83% of peak; 64->64 65% -> 83%). */
    if (prefetch_stride > 0)
        for (int32_t i = 0; i < m_valid; i++) {
            const float *next = c + i * ldc + 2 * AVX512_NR;
            __builtin_prefetch(next, 1, 3);
            __builtin_prefetch(next + 16, 1, 3);
            __builtin_prefetch(next + 32, 1, 3);
        }
    if (!tap_mask) {
        if (taps == 1)
            AVX512_CHANNELS_PLAIN(AVX512_PREFETCH_ONE_TAP)
        else
            AVX512_CHANNELS_PLAIN(AVX512_PREFETCH_EVERY_TAP)
    } else {
        __mmask16 masks[D2_CONV_MAX_TAPS][3];
        for (int32_t t = 0; t < taps; t++) {
            masks[t][0] = (__mmask16)tap_mask[t];
            masks[t][1] = (__mmask16)(tap_mask[t] >> 16);
            masks[t][2] = (__mmask16)(tap_mask[t] >> 32);
        }
        if (taps == 1)
            AVX512_CHANNELS_MASKED(AVX512_PREFETCH_ONE_TAP)
        else
            AVX512_CHANNELS_MASKED(AVX512_PREFETCH_EVERY_TAP)
    }
    if (m_valid == AVX512_MR && n_valid == AVX512_NR) {
        const float *bias = epilogue ? epilogue->bias : NULL;
        const float *res = epilogue ? epilogue->residual : NULL;
        const int64_t rld = epilogue ? epilogue->residual_ld : 0;
        const bool relu = epilogue && epilogue->relu;
        const __m512 zero = _mm512_setzero_ps();
#define AVX512_STORE(i)                                                                  \
        if (accumulate) {                                                                \
            c##i##_0 = _mm512_add_ps(c##i##_0, _mm512_loadu_ps(c + i * ldc));            \
            c##i##_1 = _mm512_add_ps(c##i##_1, _mm512_loadu_ps(c + i * ldc + 16));       \
            c##i##_2 = _mm512_add_ps(c##i##_2, _mm512_loadu_ps(c + i * ldc + 32));       \
        }                                                                                \
        if (bias) {                                                                      \
            __m512 bi = _mm512_set1_ps(bias[i]);                                         \
            c##i##_0 = _mm512_add_ps(c##i##_0, bi);                                      \
            c##i##_1 = _mm512_add_ps(c##i##_1, bi);                                      \
            c##i##_2 = _mm512_add_ps(c##i##_2, bi);                                      \
        }                                                                                \
        if (res) {                                                                       \
            c##i##_0 = _mm512_add_ps(c##i##_0, _mm512_loadu_ps(res + i * rld));          \
            c##i##_1 = _mm512_add_ps(c##i##_1, _mm512_loadu_ps(res + i * rld + 16));     \
            c##i##_2 = _mm512_add_ps(c##i##_2, _mm512_loadu_ps(res + i * rld + 32));     \
        }                                                                                \
        if (relu) {                                                                      \
            c##i##_0 = _mm512_max_ps(c##i##_0, zero);                                    \
            c##i##_1 = _mm512_max_ps(c##i##_1, zero);                                    \
            c##i##_2 = _mm512_max_ps(c##i##_2, zero);                                    \
        }                                                                                \
        _mm512_storeu_ps(c + i * ldc, c##i##_0);                                         \
        _mm512_storeu_ps(c + i * ldc + 16, c##i##_1);                                    \
        _mm512_storeu_ps(c + i * ldc + 32, c##i##_2);
        AVX512_ROWS(AVX512_STORE)
#undef AVX512_STORE
        return;
    }
    float t[AVX512_MR * AVX512_NR] __attribute__((aligned(64)));
#define AVX512_SPILL(i) _mm512_store_ps(t + i * AVX512_NR, c##i##_0); \
                        _mm512_store_ps(t + i * AVX512_NR + 16, c##i##_1); \
                        _mm512_store_ps(t + i * AVX512_NR + 32, c##i##_2);
    AVX512_ROWS(AVX512_SPILL)
#undef AVX512_SPILL
    store_tile(t, AVX512_NR, c, ldc, m_valid, n_valid, accumulate);
    if (epilogue && (epilogue->bias || epilogue->residual || epilogue->relu))
        for (int32_t i = 0; i < m_valid; i++)
            loop_bias_act(c + i * ldc, n_valid, epilogue->bias ? epilogue->bias[i] : 0.0f,
                          epilogue->residual ? epilogue->residual + i * epilogue->residual_ld : NULL, epilogue->relu);
}
#undef AVX512_STEP
#undef AVX512_PREFETCH_LINES
#undef AVX512_PREFETCH_ONE_TAP
#undef AVX512_PREFETCH_EVERY_TAP
#undef AVX512_CHANNELS_PLAIN
#undef AVX512_CHANNELS_MASKED

/* e^x for x in [-87.3, 88.3] (clamped outside): 2^n * poly(r), r = x - n ln 2. */
static inline __m512 avx512_exp(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

static void avx512_sigmoid(float *y, const float *x, int64_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        int64_t left = n - i;
        __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 e = avx512_exp(_mm512_sub_ps(_mm512_setzero_ps(), v));
        __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, e));
        /* NaN in, NaN out (the clamp would turn it into a number). */
        s = _mm512_mask_mov_ps(s, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
        _mm512_mask_storeu_ps(y + i, m, s);
    }
}

/* 24 independent FMA chains: enough to cover the FMA latency on any AVX-512 core. */
static void avx512_fma_loop(int64_t iters, float *sink)
{
#define AVX512_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
                         X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define AVX512_INIT(i) __m512 r##i = _mm512_set1_ps((float)(i) * 0.001f);
    AVX512_CHAINS(AVX512_INIT)
    const __m512 m = _mm512_set1_ps(0.9999f), a = _mm512_set1_ps(0.0001f);
    for (int64_t it = 0; it < iters; it++) {
#define AVX512_FMA(i) r##i = _mm512_fmadd_ps(r##i, m, a);
        AVX512_CHAINS(AVX512_FMA)
    }
#define AVX512_SUM(i) s = _mm512_add_ps(s, r##i);
    __m512 s = _mm512_setzero_ps();
    AVX512_CHAINS(AVX512_SUM)
    *sink = _mm512_reduce_add_ps(s);
}

const struct d2_cpu_kernels d2_cpu_kernels_avx512 = {
    .name = "avx512",
    .mr = AVX512_MR,
    .nr = AVX512_NR,
    .mc = 192,
    .kc = 128,
    .nc = 480,
    .sgemm_tile = avx512_sgemm_tile,
    .conv_tile = avx512_conv_tile,
    .bias_act = loop_bias_act,
    .relu = loop_relu,
    .sigmoid = avx512_sigmoid,
    .add = loop_add,
    .mul = loop_mul,
    .add_scalar = loop_add_scalar,
    .mul_scalar = loop_mul_scalar,
    .max = loop_max,
    .scale_add = loop_scale_add,
    .fma_loop = avx512_fma_loop,
    .fma_loop_flops = 24 * 16 * 2,
};
