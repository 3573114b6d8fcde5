/* backends/cpu/fast_winograd_rows.h: the per-ISA transforms of the Winograd
 * convolution (fast_winograd.c), written once with GCC/clang vector extensions.
 *
 * Only for inclusion by fast_winograd.c, once per instruction set, with
 *   WINO_ISA     a name suffix (generic, avx2, avx512),
 *   WINO_LANES   floats per vector (4, 8, 16),
 *   WINO_TARGET  the function attribute enabling the ISA (empty for generic),
 * and struct wino_band defined.
 *
 * Both transforms work on a group of consecutive tile rows of the band (a tile row: one
 * image row of 4x4 output tiles; a group is enough rows for about 64 tiles, so narrow
 * images such as the mask head's 14x14 still fill the vectors). The vector lanes run
 * over the group's tiles in band order, which is also their order in the GEMM's
 * matrices, so results are loaded and stored with plain vector accesses:
 *   - input: column phase j (0..5) of input row i holds, per tile, the input at
 *     row 4ty + i - pad_top, column 4tx + j - pad_left (0 in the padding): a stride-4
 *     deinterleave of the image row (vector shuffles where the row is inside the
 *     image). Then V = B^T d B, rows first, stored into the 36 rows of V.
 *   - output: the 36 GEMM results of the group's tiles, Y = A^T M A, then the 4 columns
 *     of each tile are interleaved into output rows, and bias, residual and relu run on
 *     each output row.
 * The matrices are those of F(4x4, 3x3) with points 0, 1, -1, 2, -2 (fast_winograd.c). */

#define WINO_CAT2(a, b) a##_##b
#define WINO_CAT(a, b) WINO_CAT2(a, b)
#define WINO_FN(name) WINO_CAT(name, WINO_ISA)

typedef float WINO_FN(wino_vec) __attribute__((vector_size(WINO_LANES * sizeof(float))));
#define WVEC WINO_FN(wino_vec)
typedef int32_t WINO_FN(wino_ivec) __attribute__((vector_size(WINO_LANES * sizeof(int32_t))));
#define WIVEC WINO_FN(wino_ivec)

/* Unaligned vector load/store (memcpy: no alignment or aliasing assumptions). */
#define WLOAD(dst, src) memcpy(&(dst), (src), sizeof(WVEC))
#define WSTORE(dst, src) memcpy((dst), &(src), sizeof(WVEC))

#if WINO_LANES == 16 || WINO_LANES == 8
typedef float WINO_FN(wino_half) __attribute__((vector_size(WINO_LANES / 2 * sizeof(float))));
/* Phases q of the 4 * WINO_LANES floats at src: out_q[l] = src[4l + q], q = 0..3. */
WINO_TARGET static inline void WINO_FN(wino_deinterleave4)(const float *src, WVEC *out0, WVEC *out1, WVEC *out2,
                                                           WVEC *out3)
{
    typedef WINO_FN(wino_half) half;
    WVEC a0, a1, a2, a3;
    WLOAD(a0, src);
    WLOAD(a1, src + WINO_LANES);
    WLOAD(a2, src + 2 * WINO_LANES);
    WLOAD(a3, src + 3 * WINO_LANES);
#if WINO_LANES == 16
#define WINO_PHASE(q, out)                                                                                  \
    {                                                                                                       \
        half lo = __builtin_shufflevector(a0, a1, q, q + 4, q + 8, q + 12, q + 16, q + 20, q + 24, q + 28); \
        half hi = __builtin_shufflevector(a2, a3, q, q + 4, q + 8, q + 12, q + 16, q + 20, q + 24, q + 28); \
        *(out) = __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);     \
    }
#else
#define WINO_PHASE(q, out)                                                         \
    {                                                                              \
        half lo = __builtin_shufflevector(a0, a1, q, q + 4, q + 8, q + 12);        \
        half hi = __builtin_shufflevector(a2, a3, q, q + 4, q + 8, q + 12);        \
        *(out) = __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);          \
    }
#endif
    WINO_PHASE(0, out0)
    WINO_PHASE(1, out1)
    WINO_PHASE(2, out2)
    WINO_PHASE(3, out3)
#undef WINO_PHASE
}
#define WINO_HAVE_DEINTERLEAVE 1
#endif

/* dst[0, n) = v[0, n) for 0 < n < WINO_LANES (a masked store where the ISA has one; a
 * small memcpy became rep movs, which cost 20% of the input transform). */
WINO_TARGET static inline void WINO_FN(wino_store_first)(float *dst, WVEC v, int64_t n)
{
#if WINO_LANES == 16
    _mm512_mask_storeu_ps(dst, (__mmask16)((1u << n) - 1u), (__m512)v);
#elif WINO_LANES == 8
    static const int32_t lanes[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
    __m256i mask;
    memcpy(&mask, lanes + 8 - n, sizeof mask);
    _mm256_maskstore_ps(dst, mask, (__m256)v);
#else
    for (int64_t l = 0; l < n; l++)
        dst[l] = v[l];
#endif
}

/* line[q] = row[col0 + q] inside the row (columns [0, width)), 0 outside, for q in
 * [0, span rounded up to WINO_LANES). Vectors inside the row are plain copies; the edge
 * ones masked loads (avx512) or scalar (no library calls: the mask head's rows
 * are 14 floats, and memset + memcpy per row cost more than the transform). */
WINO_TARGET static inline void WINO_FN(wino_copy_padded)(float *line, const float *row, int64_t col0, int64_t span,
                                                         int64_t width)
{
    for (int64_t q = 0; q < span; q += WINO_LANES) {
        const int64_t c = col0 + q;
        if (c >= 0 && c + WINO_LANES <= width) {
            WVEC v;
            WLOAD(v, row + c);
            WSTORE(line + q, v);
            continue;
        }
#if WINO_LANES == 16
        /* lanes [lo, hi) are inside the row */
        const int64_t lo = c >= 0 ? 0 : -c < WINO_LANES ? -c : WINO_LANES;
        const int64_t hi = width - c < WINO_LANES ? width - c : WINO_LANES;
        __m512 v = _mm512_setzero_ps();
        /* a masked load: lanes outside [lo, hi) are not read, so the address of lane 0 may
         * lie before the row (computed as an integer: no out-of-bounds pointer) */
        if (hi > lo)
            v = _mm512_maskz_loadu_ps((__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u)),
                                      (const void *)((uintptr_t)row + (uintptr_t)(c * (int64_t)sizeof(float))));
        _mm512_storeu_ps(line + q, v);
#else
        for (int64_t l = 0; l < WINO_LANES; l++)
            line[q + l] = c + l >= 0 && c + l < width ? row[c + l] : 0.0f;
#endif
    }
}

/* The 6 column phases of one input row for `count` consecutive tiles of one tile row,
 * starting at tile column tx0: ph[j][t] = input column 4 (tx0 + t) + j - pad_left (0 in
 * the padding), ph[j] = phases + j * stride. row: the image row (NULL: a padding row).
 * Whole vectors are stored, up to WINO_LANES - 1 lanes past count (their values are
 * meaningless): the caller fills segments in increasing order and leaves WINO_LANES lanes
 * of slack after the last. A vector of tiles whose reads would leave the row reads a
 * zero-padded copy of the columns it needs in line (5 * WINO_LANES floats) instead, so
 * every tile takes the same vector path. */
WINO_TARGET static void WINO_FN(wino_fill_phases)(const struct wino_band *b, const float *row, int64_t tx0,
                                                  int64_t count, float *phases, int64_t stride, float *line)
{
    const int64_t width = b->p->in_w, col0 = 4 * tx0 - b->p->pad_left;
    if (!row) {
        for (int j = 0; j < 6; j++)
            memset(phases + j * stride, 0, (size_t)count * sizeof(float));
        return;
    }
    for (int64_t t = 0; t < count; t += WINO_LANES) {
        /* the vector reads columns [c, c + 4 * WINO_LANES + 4); its tiles need the first
         * 4 * tiles + 2 of them */
        const int64_t c = col0 + 4 * t, tiles = count - t < WINO_LANES ? count - t : WINO_LANES;
        const float *src = row + c;
        if (c < 0 || c + 4 * WINO_LANES + 4 > width) {
            WINO_FN(wino_copy_padded)(line, row, c, 4 * tiles + 2, width);
            src = line;
        }
#if WINO_LANES == 16
        if (tiles <= 4) {
            /* rows of at most 4 tiles (the mask head's 14x14 RoIs): phase j of tile l is
             * src[4l + j] < src[18], one two-source permute per phase from 2 vectors
             * instead of a 16-tile deinterleave */
            const __m512 lo = _mm512_loadu_ps(src), hi = _mm512_loadu_ps(src + 16);
            for (int j = 0; j < 6; j++) {
                const __m512i index = _mm512_add_epi32(_mm512_set_epi32(60, 56, 52, 48, 44, 40, 36, 32, 28, 24, 20,
                                                                         16, 12, 8, 4, 0),
                                                       _mm512_set1_epi32(j));
                _mm512_storeu_ps(phases + j * stride + t, _mm512_permutex2var_ps(lo, index, hi));
            }
            continue;
        }
#endif
#ifdef WINO_HAVE_DEINTERLEAVE
        WVEC p0, p1, p2, p3, p4, p5, unused0, unused1;
        WINO_FN(wino_deinterleave4)(src, &p0, &p1, &p2, &p3);
        WINO_FN(wino_deinterleave4)(src + 4, &p4, &p5, &unused0, &unused1);
        (void)unused0;
        (void)unused1;
        WSTORE(phases + t, p0);
        WSTORE(phases + stride + t, p1);
        WSTORE(phases + 2 * stride + t, p2);
        WSTORE(phases + 3 * stride + t, p3);
        WSTORE(phases + 4 * stride + t, p4);
        WSTORE(phases + 5 * stride + t, p5);
#else
        for (int64_t l = 0; l < tiles; l++)
            for (int j = 0; j < 6; j++)
                phases[j * stride + t + l] = src[4 * l + j];
#endif
    }
}

/* Input transform of channel c for the band's tiles [first, first + count) (count <= the
 * group size). scratch: wino_row_scratch floats (fast_winograd.c). prefetch_next: prefetch
 * the input rows these tiles read in channel c + 1 (the thread's next task). */
WINO_TARGET static void WINO_FN(wino_input_tiles)(const struct wino_band *b, int64_t c, int64_t first, int64_t count,
                                                  bool prefetch_next, float *scratch)
{
    const struct d2_conv2d_params *p = b->p;
    const int64_t tw = b->tiles_w, per_image = b->tiles_h * tw, plane = p->in_h * p->in_w;
    const int64_t stride = count + WINO_LANES;   /* floats per phase array */
    float *phases = scratch;                     /* [6 input rows][6 phases][stride] */
    float *line = scratch + 36 * stride;         /* a zero-padded piece of a row */
    for (int64_t k = 0; k < count;) {
        /* the segment of tiles k.. in one tile row */
        const int64_t g = b->tile0 + first + k, n = g / per_image, ty = g % per_image / tw, tx = g % tw;
        const int64_t seg = count - k < tw - tx ? count - k : tw - tx;
        const float *xc = b->x + (n * p->in_channels + c) * plane;
        for (int i = 0; i < 6; i++) {
            const int64_t iy = 4 * ty - p->pad_top + i;
            const float *row = iy >= 0 && iy < p->in_h ? xc + iy * p->in_w : NULL;
            if (row && prefetch_next) {
                int64_t lo = 4 * tx - p->pad_left, hi = 4 * (tx + seg) + 2 - p->pad_left;
                lo = lo < 0 ? 0 : lo;
                hi = hi > p->in_w ? p->in_w : hi;
                for (int64_t col = lo; col < hi; col += 16)
                    __builtin_prefetch(row + plane + col, 0, 3);
                if (hi > lo)
                    __builtin_prefetch(row + plane + hi - 1, 0, 3);
            }
            WINO_FN(wino_fill_phases)(b, row, tx, seg, phases + i * 6 * stride + k, stride, line);
        }
        k += seg;
    }
    float *v = b->v + c * b->ldv + first;        /* V[xi][c][tile] at v + xi * C * ldv + tile */
    const int64_t xi_stride = p->in_channels * b->ldv;
    if (prefetch_next) /* channel c + 1's lines of V, for writing: 36 streams the hardware
                        * prefetchers do not follow, and V does not fit in L2 */
        for (int xi = 0; xi < 36; xi++)
            for (int64_t q = 0; q < count; q += 16)
                __builtin_prefetch(v + xi * xi_stride + b->ldv + q, 1, 3);
    for (int64_t l0 = 0; l0 < count; l0 += WINO_LANES) {
        WVEC h[6][6];
        for (int i = 0; i < 6; i++) {
            const float *ph = phases + i * 6 * stride + l0;
            WVEC d0, d1, d2, d3, d4, d5;
            WLOAD(d0, ph);
            WLOAD(d1, ph + stride);
            WLOAD(d2, ph + 2 * stride);
            WLOAD(d3, ph + 3 * stride);
            WLOAD(d4, ph + 4 * stride);
            WLOAD(d5, ph + 5 * stride);
            /* B^T applied to the columns d0..d5 */
            h[i][0] = 4.0f * d0 - 5.0f * d2 + d4;
            h[i][1] = d3 + d4 - 4.0f * (d1 + d2);
            h[i][2] = d4 - d3 + 4.0f * (d1 - d2);
            h[i][3] = d4 - d2 + 2.0f * (d3 - d1);
            h[i][4] = d4 - d2 - 2.0f * (d3 - d1);
            h[i][5] = 4.0f * d1 - 5.0f * d3 + d5;
        }
        const int64_t valid = count - l0 < WINO_LANES ? count - l0 : WINO_LANES;
        for (int j = 0; j < 6; j++) {
            WVEC t[6];
            t[0] = 4.0f * h[0][j] - 5.0f * h[2][j] + h[4][j];
            t[1] = h[3][j] + h[4][j] - 4.0f * (h[1][j] + h[2][j]);
            t[2] = h[4][j] - h[3][j] + 4.0f * (h[1][j] - h[2][j]);
            t[3] = h[4][j] - h[2][j] + 2.0f * (h[3][j] - h[1][j]);
            t[4] = h[4][j] - h[2][j] - 2.0f * (h[3][j] - h[1][j]);
            t[5] = 4.0f * h[1][j] - 5.0f * h[3][j] + h[5][j];
            for (int i = 0; i < 6; i++) {
                float *dst = v + (i * 6 + j) * xi_stride + l0;
                if (valid == WINO_LANES)
                    WSTORE(dst, t[i]);
                else /* the group's last tiles: the next lanes belong to other tasks */
                    WINO_FN(wino_store_first)(dst, t[i], valid);
            }
        }
    }
}

/* Output transform of output channel m for the band's tiles [first, first + count), with
 * bias, residual and relu. Without a residual, bias and relu are applied to the vectors
 * before they are stored (one pass over the output instead of two); with one, the
 * output rows go through the table's bias_act (y + bias + residual, then relu, in that
 * order). scratch: 16 * (group tiles + WINO_LANES) floats. prefetch_next: prefetch channel
 * m + 1's results (the thread's next task). */
WINO_TARGET static void WINO_FN(wino_output_tiles)(const struct wino_band *b, int64_t m, int64_t first, int64_t count,
                                                   bool prefetch_next, float *scratch)
{
    const struct d2_conv2d_params *p = b->p;
    const int64_t tw = b->tiles_w, per_image = b->tiles_h * tw, mstride = p->out_channels * b->ldv;
    const int64_t row_len = 4 * (count + WINO_LANES);
    const float *src = b->mbuf + m * b->ldv + first;   /* M[xi][m][tile] at src + xi * mstride + tile */
    float *out = scratch;                               /* [4 output rows][4 * tile + column] */
    if (prefetch_next) /* channel m + 1's lines of M: 36 streams, from L3 */
        for (int xi = 0; xi < 36; xi++)
            for (int64_t q = 0; q < count; q += 16)
                __builtin_prefetch(src + xi * mstride + b->ldv + q, 0, 3);
    const bool in_registers = !b->residual;
    const float bias = b->bias ? b->bias[m] : 0.0f;
    const bool add_bias = in_registers && b->bias, relu = in_registers && b->relu;
    const WVEC zero = { 0 };
    for (int64_t l0 = 0; l0 < count; l0 += WINO_LANES) {
        WVEC t[4][6];
        for (int j = 0; j < 6; j++) {
            WVEC m0, m1, m2, m3, m4, m5;
            WLOAD(m0, src + (0 * 6 + j) * mstride + l0);
            WLOAD(m1, src + (1 * 6 + j) * mstride + l0);
            WLOAD(m2, src + (2 * 6 + j) * mstride + l0);
            WLOAD(m3, src + (3 * 6 + j) * mstride + l0);
            WLOAD(m4, src + (4 * 6 + j) * mstride + l0);
            WLOAD(m5, src + (5 * 6 + j) * mstride + l0);
            /* A^T applied to the rows m0..m5 */
            WVEC s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
            t[0][j] = m0 + s12 + s34;
            t[1][j] = d12 + 2.0f * d34;
            t[2][j] = s12 + 4.0f * s34;
            t[3][j] = d12 + 8.0f * d34 + m5;
        }
        for (int r = 0; r < 4; r++) {
            WVEC s12 = t[r][1] + t[r][2], d12 = t[r][1] - t[r][2], s34 = t[r][3] + t[r][4], d34 = t[r][3] - t[r][4];
            WVEC o0 = t[r][0] + s12 + s34, o1 = d12 + 2.0f * d34, o2 = s12 + 4.0f * s34,
                 o3 = d12 + 8.0f * d34 + t[r][5];
            if (add_bias) {
                o0 += bias;
                o1 += bias;
                o2 += bias;
                o3 += bias;
            }
            if (relu) { /* v > 0 ? v : 0 (NaN and -0 give +0, like bias_act) */
                o0 = (WVEC)((WIVEC)o0 & (o0 > zero));
                o1 = (WVEC)((WIVEC)o1 & (o1 > zero));
                o2 = (WVEC)((WIVEC)o2 & (o2 > zero));
                o3 = (WVEC)((WIVEC)o3 & (o3 > zero));
            }
            float *dst = out + r * row_len + 4 * l0;
#if WINO_LANES == 16
            WVEC lo02 = __builtin_shufflevector(o0, o2, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            WVEC hi02 = __builtin_shufflevector(o0, o2, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            WVEC lo13 = __builtin_shufflevector(o1, o3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            WVEC hi13 = __builtin_shufflevector(o1, o3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            WVEC q0 = __builtin_shufflevector(lo02, lo13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            WVEC q1 = __builtin_shufflevector(lo02, lo13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            WVEC q2 = __builtin_shufflevector(hi02, hi13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            WVEC q3 = __builtin_shufflevector(hi02, hi13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            WSTORE(dst, q0);
            WSTORE(dst + 16, q1);
            WSTORE(dst + 32, q2);
            WSTORE(dst + 48, q3);
#elif WINO_LANES == 8
            WVEC lo02 = __builtin_shufflevector(o0, o2, 0, 8, 1, 9, 2, 10, 3, 11);
            WVEC hi02 = __builtin_shufflevector(o0, o2, 4, 12, 5, 13, 6, 14, 7, 15);
            WVEC lo13 = __builtin_shufflevector(o1, o3, 0, 8, 1, 9, 2, 10, 3, 11);
            WVEC hi13 = __builtin_shufflevector(o1, o3, 4, 12, 5, 13, 6, 14, 7, 15);
            WVEC q0 = __builtin_shufflevector(lo02, lo13, 0, 8, 1, 9, 2, 10, 3, 11);
            WVEC q1 = __builtin_shufflevector(lo02, lo13, 4, 12, 5, 13, 6, 14, 7, 15);
            WVEC q2 = __builtin_shufflevector(hi02, hi13, 0, 8, 1, 9, 2, 10, 3, 11);
            WVEC q3 = __builtin_shufflevector(hi02, hi13, 4, 12, 5, 13, 6, 14, 7, 15);
            WSTORE(dst, q0);
            WSTORE(dst + 8, q1);
            WSTORE(dst + 16, q2);
            WSTORE(dst + 24, q3);
#else
            for (int l = 0; l < WINO_LANES; l++) {
                dst[4 * l + 0] = o0[l];
                dst[4 * l + 1] = o1[l];
                dst[4 * l + 2] = o2[l];
                dst[4 * l + 3] = o3[l];
            }
#endif
        }
    }
    for (int64_t k = 0; k < count;) {
        /* the segment of tiles k.. in one tile row: output columns [4 tx, 4 (tx + seg)) of
         * its 4 output rows */
        const int64_t g = b->tile0 + first + k, n = g / per_image, ty = g % per_image / tw, tx = g % tw;
        const int64_t seg = count - k < tw - tx ? count - k : tw - tx;
        const int64_t col = 4 * tx, cols = (4 * (tx + seg) < p->out_w ? 4 * (tx + seg) : p->out_w) - col;
        for (int r = 0; r < 4; r++) {
            const int64_t oy = 4 * ty + r;
            if (oy >= p->out_h)
                break;
            const int64_t offset = ((n * p->out_channels + m) * p->out_h + oy) * p->out_w + col;
            float *y = b->y + offset;
            memcpy(y, out + r * row_len + 4 * k, (size_t)cols * sizeof(float));
            if (!in_registers)
                b->kt->bias_act(y, cols, bias, b->residual + offset, b->relu);
        }
        k += seg;
    }
}

#undef WINO_HAVE_DEINTERLEAVE
#undef WVEC
#undef WIVEC
#undef WLOAD
#undef WSTORE
#undef WINO_FN
#undef WINO_CAT
#undef WINO_CAT2
