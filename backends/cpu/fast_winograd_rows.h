/* backends/cpu/fast_winograd_rows.h: the per-ISA row transforms of the Winograd
 * convolution (fast_winograd.c), written once with GCC/clang vector extensions.
 *
 * Only for inclusion by fast_winograd.c, once per instruction set, with
 *   WINO_ISA     a name suffix (generic, avx2, avx512),
 *   WINO_LANES   floats per vector (4, 8, 16),
 *   WINO_TARGET  the function attribute enabling the ISA (empty for generic),
 * and struct wino_band, WINO_TILE_LANES (a multiple of every WINO_LANES) defined.
 *
 * Both transforms work on one tile row (one channel, one image row of 4x4 output
 * tiles) at a time, with the vector lanes running over the tiles of the row:
 *   - input: the 6 input rows of the tile row are split into 4 column phases
 *     (phase p holds columns 4l + p - pad_left of tile l), so the 6 columns of tile l,
 *     4l + j, are phase j % 4 at index l + j / 4: plain vector loads. Then
 *     V = B^T d B, rows first, and each of the 36 results is copied into the GEMM's
 *     packed B panels (fast_winograd.c describes the layout).
 *   - output: the 36 GEMM results of a tile are contiguous over the row's tiles in
 *     each of the 36 matrices; Y = A^T M A, then the 4 columns of each tile are
 *     interleaved into output rows, and bias, residual and relu run on each row.
 * The matrices are those of F(4x4, 3x3) with points 0, 1, -1, 2, -2 (fast_winograd.c). */

#define WINO_CAT2(a, b) a##_##b
#define WINO_CAT(a, b) WINO_CAT2(a, b)
#define WINO_FN(name) WINO_CAT(name, WINO_ISA)

typedef float WINO_FN(wino_vec) __attribute__((vector_size(WINO_LANES * sizeof(float))));
#define WVEC WINO_FN(wino_vec)

/* Unaligned vector load/store (memcpy: no alignment or aliasing assumptions). */
#define WLOAD(dst, src) memcpy(&(dst), (src), sizeof(WVEC))
#define WSTORE(dst, src) memcpy((dst), &(src), sizeof(WVEC))

/* Input tile row `row` (band-relative) of channel c into the band's V panels.
 * scratch: 24 * phase_len + 36 * tw_pad floats (fast_winograd.c, wino_row_scratch). */
WINO_TARGET static void WINO_FN(wino_input_row)(const struct wino_band *b, int64_t c, int64_t row, float *scratch)
{
    const struct d2_conv2d_params *p = b->p;
    const int64_t tw = b->tiles_w, tw_pad = b->tw_pad, phase_len = b->phase_len;
    const int64_t global_row = b->row0 + row, n = global_row / b->tiles_h, ty = global_row % b->tiles_h;
    const float *xc = b->x + (n * p->in_channels + c) * p->in_h * p->in_w;
    float *phases = scratch;                  /* [6 rows][4 phases][phase_len] */
    float *out = scratch + 24 * phase_len;    /* [36][tw_pad] */
    /* Tiles whose 4 phase columns are all inside the image row: l in [l_lo, l_hi). */
    int64_t l_lo = (p->pad_left + 3) / 4, l_hi = (p->in_w + p->pad_left) / 4;
    if (l_hi > phase_len)
        l_hi = phase_len;
    if (l_lo > l_hi)
        l_lo = l_hi;
    for (int i = 0; i < 6; i++) {
        const int64_t iy = 4 * ty - p->pad_top + i;
        float *ph = phases + i * 4 * phase_len;
        if (iy < 0 || iy >= p->in_h) {
            memset(ph, 0, (size_t)(4 * phase_len) * sizeof(float));
            continue;
        }
        const float *src = xc + iy * p->in_w;
        float *ph0 = ph, *ph1 = ph + phase_len, *ph2 = ph + 2 * phase_len, *ph3 = ph + 3 * phase_len;
        for (int64_t l = l_lo; l < l_hi; l++) {
            const float *s4 = src + 4 * l - p->pad_left;
            ph0[l] = s4[0];
            ph1[l] = s4[1];
            ph2[l] = s4[2];
            ph3[l] = s4[3];
        }
        /* the tiles at the edges: columns in the padding are zero */
        for (int64_t l = 0; l < phase_len; l++) {
            if (l == l_lo && l_lo < l_hi)
                l = l_hi;
            if (l >= phase_len)
                break;
            for (int64_t q = 0; q < 4; q++) {
                int64_t col = 4 * l + q - p->pad_left;
                ph[q * phase_len + l] = col >= 0 && col < p->in_w ? src[col] : 0.0f;
            }
        }
    }
    for (int64_t l0 = 0; l0 < tw_pad; l0 += WINO_LANES) {
        WVEC h[6][6];
        for (int i = 0; i < 6; i++) {
            const float *ph = phases + i * 4 * phase_len + l0;
            WVEC d0, d1, d2, d3, d4, d5;
            WLOAD(d0, ph);
            WLOAD(d1, ph + phase_len);
            WLOAD(d2, ph + 2 * phase_len);
            WLOAD(d3, ph + 3 * phase_len);
            WLOAD(d4, ph + 1);
            WLOAD(d5, ph + phase_len + 1);
            /* B^T applied to the columns d0..d5 */
            h[i][0] = 4.0f * d0 - 5.0f * d2 + d4;
            h[i][1] = d3 + d4 - 4.0f * (d1 + d2);
            h[i][2] = d4 - d3 + 4.0f * (d1 - d2);
            h[i][3] = d4 - d2 + 2.0f * (d3 - d1);
            h[i][4] = d4 - d2 - 2.0f * (d3 - d1);
            h[i][5] = 4.0f * d1 - 5.0f * d3 + d5;
        }
        for (int j = 0; j < 6; j++) {
            WVEC v[6];
            v[0] = 4.0f * h[0][j] - 5.0f * h[2][j] + h[4][j];
            v[1] = h[3][j] + h[4][j] - 4.0f * (h[1][j] + h[2][j]);
            v[2] = h[4][j] - h[3][j] + 4.0f * (h[1][j] - h[2][j]);
            v[3] = h[4][j] - h[2][j] + 2.0f * (h[3][j] - h[1][j]);
            v[4] = h[4][j] - h[2][j] - 2.0f * (h[3][j] - h[1][j]);
            v[5] = 4.0f * h[1][j] - 5.0f * h[3][j] + h[5][j];
            for (int i = 0; i < 6; i++)
                WSTORE(out + (i * 6 + j) * tw_pad + l0, v[i]);
        }
    }
    /* Copy into the packed panels: band tile t = row * tw + l is lane t % nr of panel t / nr. */
    const int64_t nr = b->kt->nr, channels = p->in_channels;
    for (int64_t l = 0; l < tw;) {
        int64_t t = row * tw + l, q = t / nr, lane = t % nr;
        int64_t len = nr - lane < tw - l ? nr - lane : tw - l;
        for (int xi = 0; xi < 36; xi++)
            memcpy(b->v + ((xi * b->panel_stride + q) * channels + c) * nr + lane, out + xi * tw_pad + l,
                   (size_t)len * sizeof(float));
        l += len;
    }
}

/* Output tile row `row` (band-relative) of output channel m from the band's GEMM
 * results, with bias, residual and relu. scratch: 16 * WINO_TILE_LANES + 16 * tw_pad floats. */
WINO_TARGET static void WINO_FN(wino_output_row)(const struct wino_band *b, int64_t m, int64_t row, float *scratch)
{
    const struct d2_conv2d_params *p = b->p;
    const int64_t tw_pad = b->tw_pad, ldm = b->ldm, mstride = p->out_channels * ldm;
    const int64_t global_row = b->row0 + row, n = global_row / b->tiles_h, ty = global_row % b->tiles_h;
    const float *src = b->mbuf + m * ldm + row * b->tiles_w;
    float *lanes = scratch;                          /* [16][WINO_LANES]: one vector per output of a tile */
    float *rows = scratch + 16 * WINO_TILE_LANES;    /* [4][4 * tw_pad] */
    const int64_t row_len = 4 * tw_pad;
    for (int64_t l0 = 0; l0 < tw_pad; l0 += WINO_LANES) {
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
            WSTORE(lanes + (r * 4 + 0) * WINO_LANES, o0);
            WSTORE(lanes + (r * 4 + 1) * WINO_LANES, o1);
            WSTORE(lanes + (r * 4 + 2) * WINO_LANES, o2);
            WSTORE(lanes + (r * 4 + 3) * WINO_LANES, o3);
        }
        for (int r = 0; r < 4; r++) {
            float *dst = rows + r * row_len + 4 * l0;
            const float *o = lanes + r * 4 * WINO_LANES;
            for (int l = 0; l < WINO_LANES; l++) {
                dst[4 * l + 0] = o[l];
                dst[4 * l + 1] = o[WINO_LANES + l];
                dst[4 * l + 2] = o[2 * WINO_LANES + l];
                dst[4 * l + 3] = o[3 * WINO_LANES + l];
            }
        }
    }
    const bool epilogue = b->bias || b->residual || b->relu;
    for (int r = 0; r < 4; r++) {
        const int64_t oy = 4 * ty + r;
        if (oy >= p->out_h)
            break;
        const int64_t offset = ((n * p->out_channels + m) * p->out_h + oy) * p->out_w;
        float *y = b->y + offset;
        memcpy(y, rows + r * row_len, (size_t)p->out_w * sizeof(float));
        if (epilogue)
            b->kt->bias_act(y, p->out_w, b->bias ? b->bias[m] : 0.0f, b->residual ? b->residual + offset : NULL,
                            b->relu);
    }
}

#undef WVEC
#undef WLOAD
#undef WSTORE
#undef WINO_FN
#undef WINO_CAT
#undef WINO_CAT2
