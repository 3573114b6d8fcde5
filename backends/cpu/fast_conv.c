/* backends/cpu/fast_conv.c: fast f32 conv and fused_conv (NCHW, 1-D and 2-D);
 * conv_transpose is in fast_conv_transpose.c.
 *
 * conv, per image and group g:  Y_g[Mg, OH*OW] = W_g[Mg, Cg*KH*KW] x col_g[Cg*KH*KW, OH*OW]
 *   - stride 1 with the output as wide as the input (1x1, 3x3 "same" and the like), when
 *     the table has a conv_tile: the direct path below, which reads the image in place;
 *   - strided (the 7x7 stem, 3x3 and 1x1 stride 2): the same direct path with one tap
 *     per kernel tap over phase-subsampled copies of the image, filled per task band
 *     (phase_conv);
 *   - 1x1, stride 1, no padding: col_g is X_g itself ([Cg, H*W], a plain matrix);
 *   - otherwise col_g is never materialized: the GEMM's B packing reads it straight
 *     from the image (implicit im2col, pack_b_conv), so memory stays O(packing block)
 *     whatever the kernel size (7x7 stems, dilated and strided convs included);
 *   - one input channel per group (depthwise, channel multipliers): direct loops,
 *     since a GEMM with one row of K per output would waste the micro-kernel.
 *   Bias, an optional residual and relu are applied by the GEMM's epilogue
 *   (d2_fast_conv2d exposes them for fusion passes; the op kernel uses bias only).
 * fused_conv (made by passes/fuse_conv.c): the residual and relu join the bias in
 *   the GEMM epilogue, applied to each tile while it is in cache.
 * Anything else (3-D windows, non-f32 dtypes, malformed inputs) goes to the
 * reference kernel, which also produces the error messages. */
#include "fast_conv.h"

#include <stdatomic.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "../../ir/shape_fused.h"
#include "../../ir/shape_nn.h"
#include "ref_fused.h"
#include "ref_nn.h"

/* ---- implicit im2col --------------------------------------------------------- */

struct conv_geometry {
    const float *x;             /* first input channel of the group in this image */
    int64_t h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

/* Panel rows are (c, ky, kx) in W's order; columns are output positions (oy, ox).
 * The loop runs row p outer and output positions inner, so the input is read as a
 * few long streams (one input row per output row of the block) instead of one short
 * read per (panel, p), which would touch a different channel plane every time. */
static void pack_b_conv(const struct d2_gemm_b_source *src, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                        int32_t nr, float *dst)
{
    const struct conv_geometry *g = src->conv;
    const int64_t taps = g->kh * g->kw, plane = g->h * g->w;
    const int64_t j_data_end = j0 + nc < src->n ? j0 + nc : src->n; /* columns past n are zero */
    int64_t c = p0 / taps, t = p0 % taps;
    int64_t ky = t / g->kw, kx = t % g->kw;

    for (int64_t p = 0; p < kc; p++) {
        const float *xc = g->x + c * plane;
        float *drow = dst + p * nr;
        /* Output columns whose tap kx lands inside the input row: [ox_lo, ox_hi). */
        int64_t ox_lo, ox_hi;
        d2_nn_tap_range(g->ow, g->w, g->sw, g->pw, kx * g->dw, &ox_lo, &ox_hi);
        int64_t j = j0, oy = j0 / g->ow, ox = j0 % g->ow;
        while (j < j0 + nc) {
            int64_t q = (j - j0) / nr, lane = (j - j0) % nr;
            float *d = drow + q * kc * nr + lane;
            int64_t len = nr - lane;
            if (j >= j_data_end) {
                memset(d, 0, (size_t)len * sizeof(float));
                j += len;
                continue;
            }
            if (len > g->ow - ox)
                len = g->ow - ox;
            if (len > j_data_end - j)
                len = j_data_end - j;
            int64_t iy = oy * g->sh - g->ph + ky * g->dh;
            if (iy < 0 || iy >= g->h) {
                memset(d, 0, (size_t)len * sizeof(float));
            } else {
                /* [ox, ox+len) = zeros before ox_lo, input from ox_lo to ox_hi, zeros after */
                int64_t a = ox_lo > ox ? ox_lo - ox : 0, b = ox_hi < ox + len ? ox_hi - ox : len;
                if (b < a)
                    b = a;
                if (a > len)
                    a = b = len;
                const float *row = xc + iy * g->w + (ox + a) * g->sw - g->pw + kx * g->dw;
                if (a)
                    memset(d, 0, (size_t)a * sizeof(float));
                if (g->sw == 1 && b - a == 32)
                    memcpy(d + a, row, 32 * sizeof(float)); /* a whole panel row: inlined */
                else if (g->sw == 1 && b - a == 16)
                    memcpy(d + a, row, 16 * sizeof(float));
                else if (g->sw == 1)
                    memcpy(d + a, row, (size_t)(b - a) * sizeof(float));
                else
                    for (int64_t u = a; u < b; u++)
                        d[u] = row[(u - a) * g->sw];
                if (b < len)
                    memset(d + b, 0, (size_t)(len - b) * sizeof(float));
            }
            j += len;
            ox += len;
            if (ox == g->ow) {
                ox = 0;
                oy++;
            }
        }
        if (++kx == g->kw) {
            kx = 0;
            if (++ky == g->kh) {
                ky = 0;
                c++;
            }
        }
    }
}

/* ---- depthwise (one input channel per group) ---------------------------------- */

struct depthwise_job {
    const struct d2_cpu_kernels *kt;
    const struct d2_conv2d_params *p;
    const float *x, *w, *bias, *residual;
    bool relu;
    float *y;
};

static void depthwise_planes(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct depthwise_job *job = ctx;
    const struct d2_conv2d_params *p = job->p;
    const int64_t mg = p->out_channels / p->group, oplane = p->out_h * p->out_w, iplane = p->in_h * p->in_w;
    (void)thread;
    for (int64_t plane = begin; plane < end; plane++) {
        int64_t n = plane / p->out_channels, m = plane % p->out_channels, c = m / mg;
        const float *x = job->x + (n * p->in_channels + c) * iplane;
        const float *w = job->w + m * p->kernel_h * p->kernel_w;
        float *y = job->y + plane * oplane;
        memset(y, 0, (size_t)oplane * sizeof(float));
        for (int64_t ky = 0; ky < p->kernel_h; ky++)
            for (int64_t kx = 0; kx < p->kernel_w; kx++) {
                float wv = w[ky * p->kernel_w + kx];
                int64_t oy_first, oy_last, ox_first, ox_last;
                d2_nn_tap_range(p->out_h, p->in_h, p->stride_h, p->pad_top, ky * p->dilation_h, &oy_first, &oy_last);
                d2_nn_tap_range(p->out_w, p->in_w, p->stride_w, p->pad_left, kx * p->dilation_w, &ox_first,
                                &ox_last);
                for (int64_t oy = oy_first; oy < oy_last; oy++) {
                    const float *xr = x + (oy * p->stride_h - p->pad_top + ky * p->dilation_h) * p->in_w +
                                      kx * p->dilation_w - p->pad_left;
                    float *yr = y + oy * p->out_w;
                    if (p->stride_w == 1)
                        for (int64_t ox = ox_first; ox < ox_last; ox++)
                            yr[ox] += wv * xr[ox];
                    else
                        for (int64_t ox = ox_first; ox < ox_last; ox++)
                            yr[ox] += wv * xr[ox * p->stride_w];
                }
            }
        if (job->bias || job->residual || job->relu)
            job->kt->bias_act(y, oplane, job->bias ? job->bias[m] : 0.0f,
                              job->residual ? job->residual + plane * oplane : NULL, job->relu);
    }
}

/* ---- direct convolution (stride 1, output as wide as the input) -------------------- */

/* With stride 1 and out_w == in_w, output position j = oy*W + ox reads, for tap
 * (ky, kx), the input at flat index j + (ky*dh - pad_top)*W + (kx*dw - pad_left): one
 * shifted copy of the image per tap. The table's conv_tile reads those rows in place
 * (no im2col, no B packing, which is what bounds 1x1 and 64-channel layers: each
 * image element feeds only M FMAs), with lane masks for the taps that fall into the
 * padding. Work: tasks of consecutive column tiles (spatial positions), so threads
 * split N even when M is 64; with few tiles and several threads, tasks also split M
 * (tile ranges x parts of M), so each task still reuses its W rows over a few tiles;
 * in a task, channel blocks outer (K of about 640 per block), then row blocks of A,
 * then tiles, then the mr-row tiles, which reuse the tile's image rows from L1. W is
 * packed by all threads first. */
#define DIRECT_MAX_TILES_PER_TASK 16
/* Tasks of fewer tiles than this split M instead (direct_conv), in parts of at least
 * DIRECT_SPLIT_MIN_PANELS mr-row panels (the tile's image data is read once per part). */
#define DIRECT_SPLIT_TILES 4
#define DIRECT_SPLIT_MIN_PANELS 8
#define DIRECT_BLOCK_ROWS 216

struct phase_band_source;

/* One stretch of a band (the phase-image data of a task, below), the same for every
 * channel: `data` elements taken from the channel's input at src_offset (every sw-th),
 * then `zeros` zeros, at dst_offset. */
struct band_segment {
    int64_t dst_offset, src_offset, data, zeros;
};
#define BAND_MAX_SEGMENTS 256

/* Prefetching of the input of a task's next band while the current one is used: a
 * cursor over (channel, segment, element) that issues per_step prefetches per step. */
struct band_prefetch {
    struct band_segment seg[BAND_MAX_SEGMENTS];
    int32_t segments, segment;
    const float *x;             /* channel 0 of the band */
    int64_t iplane, sw, channel, channels, element, per_step;
};

struct direct_job {
    const struct d2_cpu_kernels *kt;
    struct d2_threadpool *pool;
    const float *x;             /* the group's first input channel (this image) */
    /* Non-NULL: x is not an image in memory; each task fills the part of the phase
     * images its tiles read into per-thread scratch (phase_band_fill) and reads that. */
    const struct phase_band_source *band;
    int64_t band_lo, band_len;  /* band: flat offsets [j0 + lo, j1 - j0 + len) per phase */
    int32_t band_phases;
    atomic_bool out_of_memory;
    const float *a_packed;      /* W in mr-row panels over the whole K: [m / mr][channels][taps][mr] */
    float *y;                   /* the group's first output plane */
    const float *bias, *residual;
    bool relu;
    int64_t channels, plane, in_h, width, m, n;  /* n = out_h * width output positions */
    int32_t taps;
    int64_t tap_offset[D2_CONV_MAX_TAPS];
    int64_t tap_dy[D2_CONV_MAX_TAPS], tap_dx[D2_CONV_MAX_TAPS];
    int32_t tap_phase[D2_CONV_MAX_TAPS];    /* band only: the phase image tap t reads */
    int64_t channel_block, row_block, tiles, tiles_per_task;
    /* Tasks: tile range outer, M part inner (task = tile_range * m_parts + m_part); each
     * M part is m_part_rows rows (a multiple of mr; the last may be shorter). */
    int64_t m_parts, m_part_rows;
};

/* The column tiles [*t0, *t1) and output channels [*m0, *m1) of task `task`. */
static void direct_task_extent(const struct direct_job *job, int64_t task, int64_t *t0, int64_t *t1, int64_t *m0,
                               int64_t *m1)
{
    const int64_t range = task / job->m_parts, part = task % job->m_parts;
    *t0 = range * job->tiles_per_task;
    *t1 = *t0 + job->tiles_per_task < job->tiles ? *t0 + job->tiles_per_task : job->tiles;
    *m0 = part * job->m_part_rows;
    *m1 = *m0 + job->m_part_rows < job->m ? *m0 + job->m_part_rows : job->m;
}

/* Fills channels [c0, c0 + count) of a task's band; starts prefetching the input of such
 * a band over `steps` steps; one step (defined with the phase images below). */
static void phase_band_fill(const struct phase_band_source *src, int64_t c0, int64_t count, int64_t g0,
                            int64_t len, int64_t band_stride, float *dst);
static void band_prefetch_start(struct band_prefetch *bp, const struct phase_band_source *src, int64_t c0,
                                int64_t count, int64_t g0, int64_t len, int64_t band_stride, int64_t steps);
static void band_prefetch_step(struct band_prefetch *bp);

/* Bits [lo, hi) set (0 <= lo <= hi <= 64). */
static uint64_t lane_bits(int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return 0;
    uint64_t upto_hi = hi >= 64 ? ~0ull : (1ull << hi) - 1;
    return upto_hi & ~((1ull << lo) - 1);
}

/* Bit l of mask[t]: output position j0 + l (l < n_valid) reads tap t inside the image.
 * Built per output-row segment of the tile (a tile spans a few rows): in one row, tap t
 * is inside for a contiguous range of columns, so each (segment, tap) is one bit range
 * (a per-lane loop took ~14% of the stem's time, whose K is only 192). */
static void direct_tile_masks(const struct direct_job *job, int64_t j0, int32_t n_valid, uint64_t *mask)
{
    for (int32_t t = 0; t < job->taps; t++)
        mask[t] = 0;
    int64_t oy = j0 / job->width, ox = j0 % job->width;
    for (int64_t l0 = 0; l0 < n_valid; oy++, ox = 0) {
        int64_t len = job->width - ox < n_valid - l0 ? job->width - ox : n_valid - l0;
        for (int32_t t = 0; t < job->taps; t++) {
            int64_t iy = oy + job->tap_dy[t];
            if (iy < 0 || iy >= job->in_h)
                continue;
            /* columns ox + l (0 <= l < len) with 0 <= ox + l + dx < width */
            int64_t lo = -job->tap_dx[t] - ox, hi = job->width - job->tap_dx[t] - ox;
            if (lo < 0)
                lo = 0;
            if (hi > len)
                hi = len;
            mask[t] |= lane_bits(l0 + lo, l0 + hi);
        }
        l0 += len;
    }
}

/* 64-byte aligned: this loop's speed moved with its address (res4 1x1 s2, 1 thread:
 * 3% slower after unrelated edits to this file, back with the alignment), as
 * avx512_conv_tile's did (kernels_avx512.c). */
__attribute__((aligned(64))) static void direct_task(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct direct_job *job = ctx;
    const struct d2_cpu_kernels *kt = job->kt;
    const int32_t mr = kt->mr, nr = kt->nr;
    const bool has_epilogue = job->bias || job->residual || job->relu;
    uint64_t masks[DIRECT_MAX_TILES_PER_TASK][D2_CONV_MAX_TAPS];
    bool interior[DIRECT_MAX_TILES_PER_TASK];
    /* With a band: tap offsets into the band and the band itself (per channel: phases x
     * band_len floats; tile j reads from band + (j - j0)). */
    int64_t band_offset[D2_CONV_MAX_TAPS];
    const int64_t band_plane = job->band ? job->band_phases * job->band_len : 0;
    float *band = NULL;
    if (job->band) {
        band = d2_threadpool_scratch(job->pool, thread, 1,
                                     (size_t)(job->channel_block * band_plane) * sizeof(float));
        if (!band) {
            atomic_store((atomic_bool *)&job->out_of_memory, true); /* the one field tasks write */
            return;
        }
        for (int32_t t = 0; t < job->taps; t++)
            band_offset[t] = job->tap_phase[t] * job->band_len + job->tap_dy[t] * job->width + job->tap_dx[t] -
                             job->band_lo;
    }
    const int64_t *tap_offset = job->band ? band_offset : job->tap_offset;
    struct band_prefetch prefetch;
    prefetch.segments = 0;
    const int64_t plane = job->band ? band_plane : job->plane;
    for (int64_t task = begin; task < end; task++) {
        int64_t t0, t1, m0, m1;
        direct_task_extent(job, task, &t0, &t1, &m0, &m1);
        const int64_t task_j0 = t0 * nr, task_j_end = t1 * nr < job->n ? t1 * nr : job->n;
        for (int64_t tile = t0; tile < t1; tile++) {
            int64_t j0 = tile * nr;
            int32_t cols = (int32_t)(job->n - j0 < nr ? job->n - j0 : nr);
            uint64_t full = nr == 64 ? ~0ull : (1ull << nr) - 1;
            direct_tile_masks(job, j0, cols, masks[tile - t0]);
            interior[tile - t0] = true;
            for (int32_t t = 0; t < job->taps; t++)
                interior[tile - t0] = interior[tile - t0] && masks[tile - t0][t] == full;
        }
        for (int64_t c0 = 0; c0 < job->channels; c0 += job->channel_block) {
            int64_t cur = job->channels - c0 < job->channel_block ? job->channels - c0 : job->channel_block;
            bool last = c0 + cur == job->channels;
            /* The image data of these channels' tiles: in place, or this task's band. */
            const float *x0 = job->x + c0 * job->plane + task_j0;
            if (band) {
                phase_band_fill(job->band, c0, cur, task_j0 + job->band_lo,
                                task_j_end - task_j0 + job->band_len - job->tiles_per_task * nr, job->band_len, band);
                x0 = band;
                /* While this band is used, prefetch the input of the next one. */
                int64_t next_c0 = c0 + cur, next_t0 = t0, next_t1 = t1, next_m0, next_m1;
                if (next_c0 >= job->channels) {
                    next_c0 = 0;
                    if (task + 1 < end)
                        direct_task_extent(job, task + 1, &next_t0, &next_t1, &next_m0, &next_m1);
                }
                if (next_c0 > 0 || task + 1 < end) {
                    const int64_t next_cur = job->channels - next_c0 < job->channel_block ? job->channels - next_c0
                                                                                          : job->channel_block;
                    const int64_t next_j_end = next_t1 * nr < job->n ? next_t1 * nr : job->n;
                    band_prefetch_start(&prefetch, job->band, next_c0, next_cur, next_t0 * nr + job->band_lo,
                                        next_j_end - next_t0 * nr + job->band_len - job->tiles_per_task * nr,
                                        job->band_len, (m1 - m0 + mr - 1) / mr * (t1 - t0));
                } else {
                    prefetch.segments = 0;
                }
            }
            for (int64_t i0 = m0; i0 < m1; i0 += job->row_block) {
                int64_t i_end = i0 + job->row_block < m1 ? i0 + job->row_block : m1;
                /* The row tiles of this block share the prefetching of the next tile. */
                int64_t row_tiles = (i_end - i0 + mr - 1) / mr;
                int32_t prefetch_stride = row_tiles < 8 ? (int32_t)row_tiles : 8;
                for (int64_t tile = t0; tile < t1; tile++) {
                    int64_t j0 = tile * nr;
                    int32_t cols = (int32_t)(job->n - j0 < nr ? job->n - j0 : nr);
                    for (int64_t i = i0; i < i_end; i += mr) {
                        int32_t rows = (int32_t)(job->m - i < mr ? job->m - i : mr);
                        const float *a = job->a_packed + ((i / mr) * job->channels + c0) * job->taps * mr;
                        float *c = job->y + i * job->n + j0;
                        struct d2_tile_epilogue e = {
                            job->bias ? job->bias + i : NULL,
                            job->residual ? job->residual + i * job->n + j0 : NULL, job->n, job->relu,
                        };
                        kt->conv_tile(cur, job->taps, tap_offset, interior[tile - t0] ? NULL : masks[tile - t0], a,
                                      x0 + (j0 - task_j0), plane, c, job->n, rows, cols, c0 > 0,
                                      prefetch_stride, (int32_t)((i - i0) / mr % prefetch_stride),
                                      last && has_epilogue ? &e : NULL);
                        if (band)
                            band_prefetch_step(&prefetch);
                    }
                }
            }
        }
    }
}

/* Are there enough output positions per output channel for conv_tile's paths? With few
 * (res5: 950 positions), tasks of few tiles each re-read a large W, and the packed GEMM,
 * which also splits M between threads, was faster for 3x3s (res5 3x3 at 2 threads: 63%
 * of peak direct, 68% GEMM; stride 2: 71-74% phase images, 72-75% GEMM), so those need
 * 4 positions per output channel. 1x1s (K = C, not 9C) need only one per 4 output
 * channels: measured (% of peak, 1 / 2 threads, CPU time), direct vs GEMM, res5 512->2048
 * 86/88 vs 81/80, 2048->512 91/85 vs 82/80, 2048->256 89/86 vs 77/79; stride 2 on phase
 * images: res4 512->1024 83/83 vs 70/70, res5 1024->2048 77/79 vs 73/78. */
static bool enough_positions(const struct d2_conv2d_params *p)
{
    const int64_t positions = p->out_h * p->out_w, mg = p->out_channels / p->group;
    return p->kernel_h * p->kernel_w == 1 ? 4 * positions >= mg : positions >= 4 * mg;
}

/* Should conv_tile compute this (grouped) stride-1 conv? It can for stride 1 and
 * same-width output, with enough_positions. */
static bool direct_applies(const struct d2_cpu_kernels *kt, const struct d2_conv2d_params *p)
{
    return kt->conv_tile && p->stride_h == 1 && p->stride_w == 1 && p->out_w == p->in_w &&
           p->kernel_h * p->kernel_w <= D2_CONV_MAX_TAPS && p->in_channels / p->group >= 2 &&
           enough_positions(p);
}

/* The taps of a direct conv: tap t of output position (oy, ox) reads (oy + dy[t],
 * ox + dx[t]) of an image `rows` x `width` (outside it: zero), found at flat offset
 * offset[t] from the channel's start (an image of the channel's plane, plus the shift). */
struct direct_taps {
    int32_t count;
    int64_t rows, width;
    int64_t offset[D2_CONV_MAX_TAPS], dy[D2_CONV_MAX_TAPS], dx[D2_CONV_MAX_TAPS];
    /* Phase images (strided convs): tap t reads phase image phase[t] of `phases`. */
    int32_t phases, phase[D2_CONV_MAX_TAPS];
};

/* W [m][k] packed into mr-row panels over all of K, [m / mr][k][mr], rows past m zero. */
struct w_pack_job {
    const float *w;
    float *a;
    int64_t m, k;
    int32_t mr;
};

/* Smaller W are packed on the calling thread: waking the pool would cost about as much
 * (the mask predictor's 91 x 256 is packed once per image, 86 times per run). */
#define DIRECT_PARALLEL_PACK_FLOATS (128 * 1024)

/* Panels [begin, end) of a w_pack_job. All threads pack (the packing was serial: res5's
 * 2048 x 1024 took 1.1 ms, 14% of the conv with 2 threads). 4 x 4 SSE2 transposes read
 * each row sequentially and store whole 16-byte pieces of the panel's K steps. */
static void pack_w_panels(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct w_pack_job *job = ctx;
    const int32_t mr = job->mr;
    const int64_t k = job->k;
    (void)thread;
    for (int64_t panel = begin; panel < end; panel++) {
        float *dst = job->a + panel * mr * k;
        const int64_t row0 = panel * mr;
        int64_t q0 = 0;
#ifdef __SSE2__
        if (mr % 4 == 0 && row0 + mr <= job->m) {
            for (; q0 + 4 <= k; q0 += 4)
                for (int32_t i = 0; i < mr; i += 4) {
                    const float *src = job->w + (row0 + i) * k + q0;
                    __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + k);
                    __m128 r2 = _mm_loadu_ps(src + 2 * k), r3 = _mm_loadu_ps(src + 3 * k);
                    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                    _mm_storeu_ps(dst + q0 * mr + i, r0);
                    _mm_storeu_ps(dst + (q0 + 1) * mr + i, r1);
                    _mm_storeu_ps(dst + (q0 + 2) * mr + i, r2);
                    _mm_storeu_ps(dst + (q0 + 3) * mr + i, r3);
                }
        }
#endif
        for (int64_t q = q0; q < k; q++)
            for (int32_t i = 0; i < mr; i++)
                dst[q * mr + i] = row0 + i < job->m ? job->w[(row0 + i) * k + q] : 0.0f;
    }
}

/* Bytes of a task's band (phase images filled per task): with the packed W's row
 * block (~384 KiB) it stays in the 1 MiB L2 across the task's tiles. */
#define DIRECT_BAND_BYTES (256 * 1024)

/* One image and group: Y[m, oy*width + ox] = sum_{c, t} W[m][c][t] x(c, t, oy, ox) through
 * conv_tile, x(c, t, .) as in struct direct_taps with channel c at x + c*plane, or, when
 * band is not NULL, filled per task from band (x and plane unused).
 * w: [m][channels][taps] (the taps in W's own order); y: [m][out_h * width]. */
static enum d2_status direct_conv(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool, const float *x,
                                  const struct phase_band_source *band, int64_t channels, int64_t plane,
                                  const struct direct_taps *taps, int64_t m, int64_t out_h, const float *w,
                                  const float *bias, const float *residual, bool relu, float *y, struct d2_error *err)
{
    const int32_t mr = kt->mr, nr = kt->nr;
    const int64_t k = channels * taps->count, m_panels = (m + mr - 1) / mr;
    const int64_t threads = d2_threadpool_size(pool);
    struct direct_job job;
    memset(&job, 0, sizeof job);
    /* Pack W once: mr-row panels over all of K (rows past m are zero). */
    float *a = d2_threadpool_scratch(pool, 0, D2_SCRATCH_SLOTS - 1, (size_t)(m_panels * mr * k) * sizeof(float));
    if (!a)
        return d2_errorf(err, D2_ERR_NOMEM, "conv: out of memory packing %lld x %lld weights", (long long)m,
                         (long long)k);
    struct w_pack_job pack = { w, a, m, k, mr };
    const int64_t pack_chunk = m_panels * mr * k < DIRECT_PARALLEL_PACK_FLOATS ? m_panels
                                                                                 : (m_panels + 2 * threads - 1) / (2 * threads);
    d2_threadpool_parallel_for(pool, m_panels, pack_chunk, pack_w_panels, &pack);
    job.kt = kt;
    job.pool = pool;
    job.x = x;
    job.band = band;
    job.a_packed = a;
    job.y = y;
    job.bias = bias;
    job.residual = residual;
    job.relu = relu;
    job.channels = channels;
    job.plane = plane;
    job.in_h = taps->rows;
    job.width = taps->width;
    job.m = m;
    job.n = out_h * taps->width;
    job.taps = taps->count;
    memcpy(job.tap_offset, taps->offset, sizeof job.tap_offset);
    memcpy(job.tap_dy, taps->dy, sizeof job.tap_dy);
    memcpy(job.tap_dx, taps->dx, sizeof job.tap_dx);
    memcpy(job.tap_phase, taps->phase, sizeof job.tap_phase);
    /* K blocks of at most ~640 (the tile's image rows stay in L1 across the row tiles);
     * row blocks of A of about 384 KiB (stay in L2 across the task's tiles). */
    int64_t k_blocks = (k + 639) / 640;
    /* ... and, with several image rows per channel (a row: the taps whose offsets differ
     * only by dx), at most DIRECT_BLOCK_ROWS rows per tile, so that a tile's rows stay in
     * L1 across the row tiles (a 3x3 stride 2 on phase images reads 6 rows per channel:
     * res3, 1 thread, 28 -> 26 ms; a 3x3 stride 1 reads 3 and keeps its ~71 channels). */
    int64_t rows_per_channel = 0;
    for (int32_t t = 0; t < taps->count; t++) {
        bool seen = false;
        for (int32_t u = 0; u < t && !seen; u++)
            seen = taps->offset[u] - taps->dx[u] == taps->offset[t] - taps->dx[t];
        rows_per_channel += !seen;
    }
    if (rows_per_channel > 1 && k_blocks < channels * rows_per_channel / DIRECT_BLOCK_ROWS)
        k_blocks = channels * rows_per_channel / DIRECT_BLOCK_ROWS;
    job.channel_block = (channels + k_blocks - 1) / k_blocks;
    job.row_block = (96 * 1024 / (job.channel_block * taps->count)) / mr * mr;
    if (job.row_block < mr)
        job.row_block = mr;
    job.tiles = (job.n + nr - 1) / nr;
    job.tiles_per_task = job.tiles / (4 * threads);
    /* Few column tiles (res5 and FPN P5 at 800x1216: 950 positions, 20 tiles): with 2
     * threads, tiles / (4 * threads) gives tasks of 2 tiles, each reading all of W. Tasks
     * keep DIRECT_SPLIT_TILES tiles and split M instead (below), so that there are still
     * about 4 tasks per thread. */
    const bool split_m = threads > 1 && job.tiles_per_task < DIRECT_SPLIT_TILES &&
                         m_panels >= 2 * DIRECT_SPLIT_MIN_PANELS;
    if (split_m)
        job.tiles_per_task = DIRECT_SPLIT_TILES;
    if (job.tiles_per_task > DIRECT_MAX_TILES_PER_TASK)
        job.tiles_per_task = DIRECT_MAX_TILES_PER_TASK;
    if (band) {
        /* A task's band holds, per channel and phase, the flat phase-image range its
         * tiles' taps read: [j0 + lo, j_end + hi) with lo/hi the least/greatest tap shift. */
        int64_t lo = 0, hi = 0;
        for (int32_t t = 0; t < taps->count; t++) {
            const int64_t shift = taps->dy[t] * taps->width + taps->dx[t];
            if (t == 0 || shift < lo)
                lo = shift;
            if (t == 0 || shift > hi)
                hi = shift;
        }
        const int64_t per_position = job.channel_block * taps->phases * (int64_t)sizeof(float);
        const int64_t positions = DIRECT_BAND_BYTES / per_position - (hi - lo);
        if (job.tiles_per_task > positions / nr)
            job.tiles_per_task = positions / nr;
        if (job.tiles_per_task < 1)
            job.tiles_per_task = 1;
        job.band_lo = lo;
        job.band_len = job.tiles_per_task * nr + hi - lo;
        job.band_phases = taps->phases;
    }
    if (job.tiles_per_task < 1)
        job.tiles_per_task = 1;
    atomic_init(&job.out_of_memory, false);
    /* With bands, a thread prefetches the input of its next task's band: give it runs of
     * consecutive tasks (a quarter of its share each). */
    const int64_t tile_ranges = (job.tiles + job.tiles_per_task - 1) / job.tiles_per_task;
    job.m_parts = 1;
    if (split_m) {
        /* about 4 tasks per thread, parts of at least DIRECT_SPLIT_MIN_PANELS row panels */
        job.m_parts = (4 * threads + tile_ranges - 1) / tile_ranges;
        if (job.m_parts > m_panels / DIRECT_SPLIT_MIN_PANELS)
            job.m_parts = m_panels / DIRECT_SPLIT_MIN_PANELS;
        if (job.m_parts < 1)
            job.m_parts = 1;
    }
    job.m_part_rows = (m_panels + job.m_parts - 1) / job.m_parts * mr;
    job.m_parts = (m + job.m_part_rows - 1) / job.m_part_rows;
    const int64_t tasks = tile_ranges * job.m_parts;
    int64_t chunk = band ? tasks / (4 * threads) : 1;
    d2_threadpool_parallel_for(pool, tasks, chunk > 1 ? chunk : 1, direct_task, &job);
    if (atomic_load(&job.out_of_memory))
        return d2_errorf(err, D2_ERR_NOMEM, "conv: out of memory for the phase image bands");
    return D2_OK;
}

/* A stride-1 conv (direct_applies) of one image and group; w: the group's weights. */
static enum d2_status direct_conv_stride1(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool,
                                          const struct d2_conv2d_params *p, const float *x, const float *w,
                                          const float *bias, const float *residual, bool relu, float *y,
                                          struct d2_error *err)
{
    struct direct_taps taps;
    taps.count = (int32_t)(p->kernel_h * p->kernel_w);
    taps.rows = p->in_h;
    taps.width = p->in_w;
    for (int32_t t = 0; t < taps.count; t++) {
        int64_t ky = t / p->kernel_w, kx = t % p->kernel_w;
        taps.dy[t] = ky * p->dilation_h - p->pad_top;
        taps.dx[t] = kx * p->dilation_w - p->pad_left;
        taps.offset[t] = taps.dy[t] * p->in_w + taps.dx[t];
    }
    taps.phases = 1;
    for (int32_t t = 0; t < taps.count; t++)
        taps.phase[t] = 0;
    return direct_conv(kt, pool, x, NULL, p->in_channels / p->group, p->in_h * p->in_w, &taps,
                       p->out_channels / p->group, p->out_h, w, bias, residual, relu, y, err);
}

/* ---- strided convs as direct convs over phase images ----------------------------- */

/* With strides (sh, sw), tap (ky, kx) of output (oy, ox) reads input row
 * iy = sh*oy + ky*dh - pad_top. Writing ky*dh - pad_top = sh*dy + py (0 <= py < sh) gives
 * iy = sh*(oy + dy) + py: row oy + dy of the phase image P_py[qy] = x[sh*qy + py], and the
 * same for columns. So every tap is a shifted read of one phase image, and the conv is a
 * direct conv (conv_tile, no im2col packing) with exactly the kernel's taps: tap t reads
 * phase image phase(t) of its channel at shift (dy, dx). The phase images of a channel
 * are stored one after the other ([c][phase][qy][qx]), so tap t's offset is
 * phase(t)*phase_plane + dy*phase_w + dx, and only the phases some tap reads are made:
 * a 1x1 stride 2 without padding needs one, a quarter of the input. The phase images
 * are out_w wide, so the direct conv's output is as wide as its input (conv_tile's
 * requirement); columns past out_w that a tap reads must then be padding, which holds
 * when sw*out_w >= in_w or no tap reads right of its output column (dx <= 0). Rows:
 * ceil(in_h / sh) per phase image (past that, a tap reads padding); elements past the
 * input are zero. The sums are the reference's own terms (no zero weights added). */
#define PHASE_MAX D2_CONV_MAX_TAPS

struct phase_plan {
    int64_t sh, sw;
    int32_t phases;                          /* phase images per channel */
    int64_t phase_py[PHASE_MAX], phase_px[PHASE_MAX];
    struct direct_taps taps;                 /* rows = phase_h, width = phase_w = out_w */
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Fills *plan and returns true when the phase path applies: a stride >= 2, at most
 * D2_CONV_MAX_TAPS taps, the column condition above, and (as for direct_applies) at
 * least 4 output positions per output channel. */
static bool phase_applies(const struct d2_cpu_kernels *kt, const struct d2_conv2d_params *p, struct phase_plan *plan)
{
    const int64_t sh = p->stride_h, sw = p->stride_w, taps = p->kernel_h * p->kernel_w;
    if (!kt->conv_tile || (sh == 1 && sw == 1) || sh < 1 || sw < 1 || taps > D2_CONV_MAX_TAPS ||
        p->pad_top < 0 || p->pad_left < 0 || p->in_channels / p->group < 2 || !enough_positions(p))
        return false;
    memset(plan, 0, sizeof *plan);
    plan->sh = sh;
    plan->sw = sw;
    plan->taps.count = (int32_t)taps;
    plan->taps.rows = (p->in_h + sh - 1) / sh;
    plan->taps.width = p->out_w;
    const int64_t phase_plane = plan->taps.rows * plan->taps.width;
    for (int32_t t = 0; t < plan->taps.count; t++) {
        const int64_t ky = t / p->kernel_w, kx = t % p->kernel_w;
        const int64_t oy = ky * p->dilation_h - p->pad_top, ox = kx * p->dilation_w - p->pad_left;
        const int64_t dy = floor_div(oy, sh), dx = floor_div(ox, sw), py = oy - sh * dy, px = ox - sw * dx;
        if (dx > 0 && sw * p->out_w < p->in_w)
            return false;
        int32_t phase = 0;
        while (phase < plan->phases && (plan->phase_py[phase] != py || plan->phase_px[phase] != px))
            phase++;
        if (phase == plan->phases) {
            plan->phase_py[phase] = py;
            plan->phase_px[phase] = px;
            plan->phases++;
        }
        plan->taps.dy[t] = dy;
        plan->taps.dx[t] = dx;
        plan->taps.offset[t] = phase * phase_plane + dy * plan->taps.width + dx;
        plan->taps.phase[t] = phase;
    }
    plan->taps.phases = plan->phases;
    return true;
}

/* Where a band's phase-image data comes from: the group's input of one image. */
struct phase_band_source {
    const struct d2_conv2d_params *p;
    const struct phase_plan *plan;
    const float *x;             /* the group's first input channel */
};

/* dst[q] = src[q * stride] for q < n. */
static void copy_strided(float *restrict dst, const float *restrict src, int64_t n, int64_t stride)
{
    if (stride == 1)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else if (stride == 2) {
        int64_t q = 0;
#ifdef __SSE2__
        /* the even lanes of two 4-float loads (this file is built for the baseline ISA);
         * 8 outputs read src[2q .. 2q+15], and 2q+15 must not pass src[2(n-1)], the last
         * element the row is known to hold: hence q + 9 <= n */
        for (; q + 9 <= n; q += 8) {
            __m128 a0 = _mm_loadu_ps(src + 2 * q), a1 = _mm_loadu_ps(src + 2 * q + 4);
            __m128 a2 = _mm_loadu_ps(src + 2 * q + 8), a3 = _mm_loadu_ps(src + 2 * q + 12);
            _mm_storeu_ps(dst + q, _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)));
            _mm_storeu_ps(dst + q + 4, _mm_shuffle_ps(a2, a3, _MM_SHUFFLE(2, 0, 2, 0)));
        }
#endif
        for (; q < n; q++)
            dst[q] = src[2 * q];
    }
    else
        for (int64_t q = 0; q < n; q++)
            dst[q] = src[q * stride];
}

/* Channels ahead whose input rows are prefetched while a channel is copied. */
#define BAND_PREFETCH_CHANNELS 3

/* Splits the flat range [g0, g0 + len) of every phase image into segments (at most
 * BAND_MAX_SEGMENTS; returns -1 when more are needed). */
static int32_t phase_band_segments(const struct phase_band_source *src, int64_t g0, int64_t len, int64_t band_stride,
                                   struct band_segment *seg)
{
    const struct d2_conv2d_params *p = src->p;
    const struct phase_plan *plan = src->plan;
    const int64_t sh = plan->sh, sw = plan->sw, width = plan->taps.width, total = plan->taps.rows * width;
    int32_t count = 0;
    for (int32_t phase = 0; phase < plan->phases; phase++) {
        const int64_t py = plan->phase_py[phase], px = plan->phase_px[phase];
        /* columns qx with sw*qx + px < in_w hold data, the rest are zero */
        int64_t valid = p->in_w > px ? (p->in_w - px + sw - 1) / sw : 0;
        if (valid > width)
            valid = width;
        int64_t g = g0, dst = phase * band_stride;
        const int64_t g_end = g0 + len;
        while (g < g_end) {
            if (count == BAND_MAX_SEGMENTS)
                return -1;
            struct band_segment *sg = &seg[count++];
            sg->dst_offset = dst;
            sg->src_offset = 0;
            sg->data = 0;
            if (g < 0 || g >= total) { /* before the first row or past the last: padding */
                sg->zeros = g < 0 ? (-g < g_end - g ? -g : g_end - g) : g_end - g;
            } else {
                const int64_t qy = g / width, qx = g % width, iy = sh * qy + py;
                const int64_t run = width - qx < g_end - g ? width - qx : g_end - g;
                int64_t data = iy < p->in_h && valid > qx ? valid - qx : 0;
                if (data > run)
                    data = run;
                sg->src_offset = data > 0 ? iy * p->in_w + sw * qx + px : 0;
                sg->data = data;
                sg->zeros = run - data;
            }
            dst += sg->data + sg->zeros;
            g += sg->data + sg->zeros;
        }
    }
    return count;
}

/* Prefetches the input lines of channel xc's segments. */
static void phase_band_prefetch(const struct band_segment *seg, int32_t segments, const float *xc, int64_t sw)
{
    for (int32_t i = 0; i < segments; i++) {
        if (!seg[i].data)
            continue;
        const char *first = (const char *)(xc + seg[i].src_offset);
        const char *last = (const char *)(xc + seg[i].src_offset + (seg[i].data - 1) * sw);
        for (const char *line = first; line <= last; line += 64)
            __builtin_prefetch(line, 0, 3);
        __builtin_prefetch(last, 0, 3);
    }
}

static void band_prefetch_start(struct band_prefetch *bp, const struct phase_band_source *src, int64_t c0,
                                int64_t count, int64_t g0, int64_t len, int64_t band_stride, int64_t steps)
{
    bp->segments = phase_band_segments(src, g0, len, band_stride, bp->seg);
    if (bp->segments < 0) { /* many short rows: left to the fill's own prefetch */
        bp->segments = 0;
        return;
    }
    bp->segment = 0;
    bp->x = src->x + c0 * src->p->in_h * src->p->in_w;
    bp->iplane = src->p->in_h * src->p->in_w;
    bp->sw = src->plan->sw;
    bp->channel = 0;
    bp->channels = count;
    bp->element = 0;
    int64_t lines = 0;
    for (int32_t i = 0; i < bp->segments; i++)
        lines += bp->seg[i].data ? (bp->seg[i].data * bp->sw * (int64_t)sizeof(float) + 63) / 64 + 1 : 0;
    lines *= count;
    bp->per_step = steps > 0 ? (lines + steps - 1) / steps : lines;
}

static void band_prefetch_step(struct band_prefetch *bp)
{
    if (bp->segments == 0)
        return;
    /* elements of a segment per cache line of input */
    const int64_t per_line = 64 / (int64_t)sizeof(float) / bp->sw > 0 ? 64 / (int64_t)sizeof(float) / bp->sw : 1;
    for (int64_t n = bp->per_step; n > 0 && bp->segments > 0;) {
        const struct band_segment *sg = &bp->seg[bp->segment];
        if (bp->element < sg->data) {
            __builtin_prefetch(bp->x + bp->channel * bp->iplane + sg->src_offset + bp->element * bp->sw, 0, 2);
            bp->element += per_line;
            if (bp->element >= sg->data) /* the segment's last line */
                __builtin_prefetch(bp->x + bp->channel * bp->iplane + sg->src_offset + (sg->data - 1) * bp->sw, 0, 2);
            n--;
            continue;
        }
        bp->element = 0;
        if (++bp->segment == bp->segments) {
            bp->segment = 0;
            if (++bp->channel == bp->channels)
                bp->segments = 0; /* done */
        }
    }
}

/* The band of channels [c0, c0 + count): for each channel c and phase image ph, the flat
 * range [g0, g0 + len) of phase image ph (flat index g = qy * out_w + qx, element
 * x[c][sh*qy + py][sw*qx + px]) at dst + (c * phases + ph) * band_stride; zero outside
 * the input. Tasks fill their bands just before use, so the phase data goes from the
 * input through L2 into the conv instead of as a whole copy of the image through memory
 * (res3 1x1 stride 2, 1 thread: the whole-image fill took 7 of 24 ms). A band reads
 * short runs of many channels, which the hardware prefetcher does not follow: the rows
 * of the channels BAND_PREFETCH_CHANNELS ahead are prefetched. */
static void phase_band_fill(const struct phase_band_source *src, int64_t c0, int64_t count, int64_t g0,
                            int64_t len, int64_t band_stride, float *dst)
{
    const struct d2_conv2d_params *p = src->p;
    const int64_t sw = src->plan->sw, iplane = p->in_h * p->in_w, channel_stride = src->plan->phases * band_stride;
    struct band_segment seg[BAND_MAX_SEGMENTS];
    const int32_t segments = phase_band_segments(src, g0, len, band_stride, seg);
    if (segments < 0) { /* many short rows: one row at a time, no prefetch */
        for (int64_t c = 0; c < count; c++)
            for (int64_t g = g0; g < g0 + len; g += BAND_MAX_SEGMENTS / src->plan->phases / 2) {
                int64_t piece = g0 + len - g < BAND_MAX_SEGMENTS / src->plan->phases / 2 ? g0 + len - g
                                                                                       : BAND_MAX_SEGMENTS / src->plan->phases / 2;
                phase_band_fill(src, c0 + c, 1, g, piece, band_stride, dst + c * channel_stride + (g - g0));
            }
        return;
    }
    for (int64_t c = 0; c < BAND_PREFETCH_CHANNELS && c < count; c++)
        phase_band_prefetch(seg, segments, src->x + (c0 + c) * iplane, sw);
    for (int64_t c = 0; c < count; c++) {
        const float *xc = src->x + (c0 + c) * iplane;
        if (c + BAND_PREFETCH_CHANNELS < count)
            phase_band_prefetch(seg, segments, xc + BAND_PREFETCH_CHANNELS * iplane, sw);
        float *d = dst + c * channel_stride;
        for (int32_t i = 0; i < segments; i++) {
            if (seg[i].data)
                copy_strided(d + seg[i].dst_offset, xc + seg[i].src_offset, seg[i].data, sw);
            if (seg[i].zeros)
                memset(d + seg[i].dst_offset + seg[i].data, 0, (size_t)seg[i].zeros * sizeof(float));
        }
    }
}

/* One image and group: direct_conv over the phase images, filled per task band. */
static enum d2_status phase_conv(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool,
                                 const struct d2_conv2d_params *p, const struct phase_plan *plan, const float *x,
                                 const float *w, const float *bias, const float *residual, bool relu, float *y,
                                 struct d2_error *err)
{
    const int64_t cg = p->in_channels / p->group, mg = p->out_channels / p->group;
    const struct phase_band_source band = { p, plan, x };
    return direct_conv(kt, pool, NULL, &band, cg, 0, &plan->taps, mg, p->out_h, w, bias, residual, relu, y, err);
}

/* ---- conv ----------------------------------------------------------------------- */

enum d2_status d2_fast_conv2d(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool,
                              const struct d2_conv2d_params *p, const float *x, const float *w, const float *bias,
                              const float *residual, bool relu, float *y, const struct d2_allocator *alloc,
                              struct d2_error *err)
{
    const int64_t cg = p->in_channels / p->group, mg = p->out_channels / p->group;
    const int64_t oplane = p->out_h * p->out_w, iplane = p->in_h * p->in_w;
    const int64_t kdepth = cg * p->kernel_h * p->kernel_w;
    (void)alloc;
    if (p->batch == 0 || p->out_channels == 0 || oplane == 0)
        return D2_OK;
    if (cg == 1) {
        struct depthwise_job job = { kt, p, x, w, bias, residual, relu, y };
        d2_threadpool_parallel_for(pool, p->batch * p->out_channels, 1, depthwise_planes, &job);
        return D2_OK;
    }
    struct phase_plan phase;
    if (phase_applies(kt, p, &phase)) {
        for (int64_t n = 0; n < p->batch; n++)
            for (int64_t g = 0; g < p->group; g++) {
                int64_t y_offset = (n * p->out_channels + g * mg) * oplane;
                enum d2_status st = phase_conv(kt, pool, p, &phase, x + (n * p->in_channels + g * cg) * iplane,
                                               w + g * mg * kdepth, bias ? bias + g * mg : NULL,
                                               residual ? residual + y_offset : NULL, relu, y + y_offset, err);
                if (st != D2_OK)
                    return st;
            }
        return D2_OK;
    }
    if (direct_applies(kt, p)) {
        for (int64_t n = 0; n < p->batch; n++)
            for (int64_t g = 0; g < p->group; g++) {
                int64_t y_offset = (n * p->out_channels + g * mg) * oplane;
                enum d2_status st = direct_conv_stride1(kt, pool, p, x + (n * p->in_channels + g * cg) * iplane,
                                                        w + g * mg * kdepth, bias ? bias + g * mg : NULL,
                                                        residual ? residual + y_offset : NULL, relu, y + y_offset, err);
                if (st != D2_OK)
                    return st;
            }
        return D2_OK;
    }
    const bool pointwise = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                           p->pad_top == 0 && p->pad_left == 0 && p->out_h == p->in_h && p->out_w == p->in_w;
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t g = 0; g < p->group; g++) {
            const float *xg = x + (n * p->in_channels + g * cg) * iplane;
            int64_t y_offset = (n * p->out_channels + g * mg) * oplane;
            struct conv_geometry geo = {
                xg, p->in_h, p->in_w, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
                p->pad_top, p->pad_left, p->dilation_h, p->dilation_w, p->out_h, p->out_w,
            };
            struct d2_gemm_b_source b;
            if (pointwise) {
                b = d2_gemm_b_matrix(xg, cg, oplane, iplane, 1);
            } else {
                memset(&b, 0, sizeof b);
                b.pack = pack_b_conv;
                b.conv = &geo;
                b.n = oplane;
            }
            struct d2_gemm_epilogue e = {
                bias ? bias + g * mg : NULL, residual ? residual + y_offset : NULL, oplane, relu,
            };
            enum d2_status st = d2_sgemm(kt, pool, mg, oplane, kdepth, w + g * mg * kdepth, kdepth, 1, &b,
                                         y + y_offset, oplane, false, &e, err);
            if (st != D2_OK)
                return st;
        }
    return D2_OK;
}

/* ---- op kernels ------------------------------------------------------------------- */

enum d2_status d2_cpu_fast_conv(struct d2_kernel_ctx *ctx);

/* conv with attributes `attrs`, then + residual (NULL: none) and relu, fused in the
 * GEMM epilogue; false in *handled when the fast path does not apply. */
static enum d2_status fast_conv_fused(struct d2_kernel_ctx *ctx, const struct d2_attrs_conv *attrs,
                                      const struct d2_tensor *residual, bool relu, bool *handled)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_tensor *x = ctx->inputs[0], *w = ctx->inputs[1], *b = optional_input(ctx, 2);
    struct d2_conv2d_params p;
    struct d2_window win;
    struct d2_error scratch_err = {0};
    enum d2_status st;

    *handled = false;
    if (!fast || !is_f32_tensor(x, -1) || (x->rank != 3 && x->rank != 4) || !is_f32_tensor(w, x->rank) ||
        (b && !is_f32_tensor(b, 1)) || attrs->group < 1 || w->dims[0] % attrs->group != 0 ||
        w->dims[1] * attrs->group != x->dims[1] || (b && b->dims[0] != w->dims[0]))
        return D2_OK;
    if (d2_window_conv(attrs, x->rank - 2, &x->dims[2], &w->dims[2], &win, &scratch_err) != D2_OK ||
        !params_from_window(&win, x, &p))
        return D2_OK;
    p.out_channels = w->dims[0];
    p.group = attrs->group;
    int64_t y_dims[D2_MAX_RANK] = { p.batch, p.out_channels };
    for (int32_t i = 0; i < win.spatial; i++)
        y_dims[i + 2] = win.out[i];
    if (residual && (!is_f32_tensor(residual, x->rank) || memcmp(residual->dims, y_dims, sizeof y_dims[0] * (size_t)x->rank)))
        return D2_OK;
    *handled = true;
    if ((st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, x->rank, y_dims)) != D2_OK)
        return st;
    return d2_cpu_fast_conv2d(fast, &p, x->data, w->data, b ? b->data : NULL, residual ? residual->data : NULL, relu,
                              ctx->outputs[0].data, ctx->err);
}

enum d2_status d2_cpu_fast_conv(struct d2_kernel_ctx *ctx)
{
    bool handled;
    enum d2_status st = fast_conv_fused(ctx, ctx->node->attrs, NULL, false, &handled);
    return handled ? st : d2_cpu_ref_conv(ctx);
}

/* fused_conv: residual and relu go into the GEMM epilogue; anything the fast path
 * does not take runs the shared fused kernel around the fast conv. */
enum d2_status d2_cpu_fast_fused_conv(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_fused_conv(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_fused_conv *attrs = ctx->node->attrs;
    const struct d2_tensor *r = ctx->num_inputs > 3 ? ctx->inputs[3] : NULL;
    struct d2_attrs_conv conv_attrs;
    bool handled;
    d2_fused_conv_conv_attrs(attrs, &conv_attrs);
    enum d2_status st = fast_conv_fused(ctx, &conv_attrs, r, attrs->activation == D2_FUSED_ACT_RELU, &handled);
    return handled ? st : d2_cpu_fused_conv_with(ctx, d2_cpu_fast_conv);
}
