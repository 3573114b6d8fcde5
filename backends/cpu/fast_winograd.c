/* backends/cpu/fast_winograd.c: 3x3 stride-1 f32 convolution by Winograd's minimal
 * filtering F(4x4, 3x3), and the session entry point that picks it or the direct and
 * GEMM paths of fast_conv.c (d2_cpu_fast_conv2d, fast.h).
 *
 * Algorithm (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks"): the
 * output is cut into 4x4 tiles; tile t of input channel c is the 6x6 input patch d
 * under it (zeros in the padding), transformed V = B^T d B; filter (m, c) is
 * transformed U = G g G^T (6x6). In the transformed domain the 3x3 convolution of a
 * tile is an elementwise product summed over channels, i.e. 36 independent GEMMs
 *     M_xi[m][t] = sum_c U_xi[m][c] V_xi[c][t]        (xi = 0..35, the 6x6 positions)
 * and the output tile is A^T M A (4x4). 36 multiply-adds per tile and channel pair
 * instead of 144: 4x fewer in the GEMMs, plus the transforms (O(C + M) per tile).
 *
 * Data flow, per band of tiles (tiles of all images of the batch are numbered together,
 * image by image, row-major, so the mask head's 86 14x14 images make one GEMM of 86*16
 * tiles, not 86 small ones; a band is a range of whole nr-wide GEMM columns and may
 * start or end inside a tile row):
 *   1. input transform, parallel over (group of 64 tiles, channel): V[xi][c][ldv]
 *      (tiles contiguous, read in place by conv_tile or packed for sgemm_tile);
 *   2. the 36 GEMMs, parallel over xi: M_xi = U_xi V_xi with U[xi][k block][m / mr][c][mr]
 *      (transformed once per weight, cached); results M[xi][m][ldv];
 *   3. output transform, parallel over (group, output channel), with bias, residual
 *      and relu (fused_conv's epilogue).
 * Bands hold about WINO_BAND_BYTES of V and M, so they stay in the last-level cache
 * between the phases; each transform task prefetches its successor channel's lines of
 * V or M (36 streams the hardware prefetchers miss). The transforms are written once
 * with vector extensions (fast_winograd_rows.h) and compiled per ISA with target
 * attributes.
 *
 * Numerics: the transforms are exact in real arithmetic but their f32 rounding grows
 * with the interpolation points' magnitudes (2, 4, 8 in A^T; 4, 5 in B^T): F(4x4, 3x3)
 * errors are about 10-50x those of direct f32 accumulation, relative to
 * sum |w| |x| per output (bounded in tests/unit/test_winograd.c; measured on R50-FPN
 * layers in docs/BENCHMARKS.md, "Winograd"). Weights are transformed in double.
 *
 * When it runs (wino_applies): 3x3, stride 1, dilation 1, one group, non-negative pads,
 * f32, a session whose D2RT_WINOGRAD is not 0, and a layer big enough to pay for the
 * transforms (rule and measurements at wino_pays).
 *
 * Transformed weights are cached per session (struct d2_winograd_cache, hung off
 * struct d2_cpu_fast) in a derived-constant cache (derived_cache.h), keyed by the
 * weight pointer, shape, micro-tile height and K block, with a fingerprint of sampled
 * weight values so a buffer reused for other weights is transformed again; model
 * weights are constants, so each is transformed once per session. The cache is
 * bounded (WINO_CACHE_MAX_BYTES); past the bound weights are transformed per call
 * into scratch memory. */
#include "derived_cache.h"
#include "fast.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- tunables ------------------------------------------------------------------ */

/* Target bytes of a band's V and M buffers (L3 is 32 MiB on the benchmark machine). */
#define WINO_BAND_BYTES (8ll << 20)
/* Transform tasks (channel, tile group) handed to a thread at a time: consecutive
 * channels of one group, so each prefetches its successor's input rows. */
#define WINO_TRANSFORM_CHUNK 8
/* K block of the GEMMs through conv_tile (V read in place). */
#define WINO_CONV_TILE_KC 256
/* Transformed weights kept per session at most (4x the 3x3 weights: R50-FPN Mask
 * R-CNN's 3x3 layers need about 250 MiB). */
#define WINO_CACHE_MAX_BYTES ((size_t)1 << 30)

/* ---- the cache ------------------------------------------------------------------- */

struct d2_winograd_cache {
    const struct d2_allocator *alloc;
    struct d2_derived_cache *weights;   /* transformed weights (weight_index's layout) */
    atomic_llong runs;                  /* convolutions computed by Winograd (tests, benchmarks) */
};

struct d2_winograd_cache *d2_winograd_cache_new(const struct d2_allocator *alloc)
{
    struct d2_winograd_cache *cache = d2_calloc(alloc, 1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->alloc = alloc;
    cache->weights = d2_derived_cache_new(alloc, WINO_CACHE_MAX_BYTES);
    if (!cache->weights) {
        d2_free(alloc, cache);
        return NULL;
    }
    atomic_init(&cache->runs, 0);
    return cache;
}

void d2_winograd_cache_free(struct d2_winograd_cache *cache)
{
    if (!cache)
        return;
    d2_derived_cache_free(cache->weights);
    d2_free(cache->alloc, cache);
}

bool d2_winograd_enabled_by_env(void)
{
    const char *v = getenv("D2RT_WINOGRAD");
    return !(v && strcmp(v, "0") == 0);
}

int64_t d2_winograd_runs(const struct d2_cpu_fast *fast)
{
    return fast && fast->winograd ? (int64_t)atomic_load(&fast->winograd->runs) : 0;
}

/* ---- weight transform: U = G g G^T, in double ------------------------------------ */

static const double wino_g[6][3] = {
    { 1.0 / 4, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0, 0, 1 },
};

struct weight_job {
    const float *w;
    float *u;
    int64_t m, c, m_panels, kc;
    int32_t mr;
};

/* Where U_xi(m, c) lives: [xi][k block of kc channels][m / mr][c within the block][m % mr],
 * so one K block of U_xi, all rows, is one contiguous stream for the GEMM. */
static int64_t weight_index(const struct weight_job *job, int64_t xi, int64_t m, int64_t c)
{
    const int64_t rows = job->m_panels * job->mr, k0 = c / job->kc * job->kc;
    const int64_t kcur = job->c - k0 < job->kc ? job->c - k0 : job->kc;
    return xi * rows * job->c + rows * k0 + ((m / job->mr) * kcur + (c - k0)) * job->mr + m % job->mr;
}

/* Rows [begin, end) of the padded output channels (rows >= m are zero). */
static void transform_weight_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct weight_job *job = ctx;
    const int64_t c_count = job->c;
    (void)thread;
    for (int64_t m = begin; m < end; m++)
        for (int64_t c = 0; c < c_count; c++) {
            double u[6][6] = { { 0 } };
            if (m < job->m) {
                const float *g = job->w + (m * c_count + c) * 9;
                double gg[6][3];
                for (int a = 0; a < 6; a++)
                    for (int j = 0; j < 3; j++)
                        gg[a][j] = wino_g[a][0] * g[j] + wino_g[a][1] * g[3 + j] + wino_g[a][2] * g[6 + j];
                for (int a = 0; a < 6; a++)
                    for (int b = 0; b < 6; b++)
                        u[a][b] = gg[a][0] * wino_g[b][0] + gg[a][1] * wino_g[b][1] + gg[a][2] * wino_g[b][2];
            }
            for (int xi = 0; xi < 36; xi++)
                job->u[weight_index(job, xi, m, c)] = (float)u[xi / 6][xi % 6];
        }
}

static size_t weight_floats(int64_t m, int64_t c, int32_t mr)
{
    return (size_t)(36 * ((m + mr - 1) / mr) * mr * c);
}

static void transform_weights(struct d2_threadpool *pool, const float *w, int64_t m, int64_t c, int32_t mr,
                              int64_t kc, float *u)
{
    struct weight_job job = { w, u, m, c, (m + mr - 1) / mr, kc, mr };
    d2_threadpool_parallel_for(pool, job.m_panels * mr, 4, transform_weight_rows, &job);
}

struct cached_transform {
    struct d2_threadpool *pool;
    const float *w;
    int64_t m, c, kc;
    int32_t mr;
};

/* The derived-cache fill (ctx: a struct cached_transform). */
static void fill_transformed(void *ctx, void *dst)
{
    const struct cached_transform *t = ctx;
    transform_weights(t->pool, t->w, t->m, t->c, t->mr, t->kc, dst);
}

/* The transformed weights of w: from the cache, made and cached, or (cache full or
 * absent) made in thread 0's scratch slot 2. NULL: out of memory. */
static const float *transformed_weights(struct d2_winograd_cache *cache, struct d2_threadpool *pool,
                                        const float *w, int64_t m, int64_t c, int32_t mr, int64_t kc)
{
    const size_t bytes = weight_floats(m, c, mr) * sizeof(float);
    if (cache) {
        const int64_t key[] = { m, c, mr, kc };
        struct cached_transform transform = { pool, w, m, c, kc, mr };
        const struct d2_derived_request request = {
            .source = w,
            .source_bytes = (size_t)(m * c * 9) * sizeof(float),
            .key = key,
            .key_bytes = sizeof key,
            .bytes = bytes,
            .fill = fill_transformed,
            .fill_ctx = &transform,
        };
        const float *found = d2_derived_cache_get(cache->weights, &request);
        if (found)
            return found;
    }
    float *u = d2_threadpool_scratch(pool, 0, 2, bytes);
    if (u)
        transform_weights(pool, w, m, c, mr, kc, u);
    return u;
}

/* ---- bands ------------------------------------------------------------------------- */

struct wino_band {
    const struct d2_cpu_kernels *kt;
    struct d2_threadpool *pool;
    const struct d2_conv2d_params *p;
    const float *x, *u, *bias, *residual;
    bool relu;
    float *y;
    float *v;                   /* [36][C][ldv]: V_xi(c, tile), tiles in band order */
    float *mbuf;                /* [36][M][ldv]: M_xi(m, tile) */
    int64_t ldv;                /* row stride of V and M: the largest band's tiles (a multiple of nr) */
    int64_t tiles_h, tiles_w;   /* tiles per image column / row */
    int64_t tile0, tiles;       /* the band: global tiles [tile0, tile0 + tiles) (tile g: image
                                 * g / (tiles_h tiles_w), then row-major; a band may start and
                                 * end inside a tile row) */
    int64_t group_tiles;        /* tiles per transform task (a multiple of 16: groups never share a
                                 * cache line of V or M) */
    int64_t m_panels, kc;       /* mr-row panels of U; its K blocks */
    /* tiles [first, first + count) of the band, channel c; prefetch_next: also prefetch
     * the rows they read of channel c + 1 */
    void (*input_tiles)(const struct wino_band *b, int64_t c, int64_t first, int64_t count, bool prefetch_next,
                        float *scratch);
    void (*output_tiles)(const struct wino_band *b, int64_t m, int64_t first, int64_t count, bool prefetch_next,
                         float *scratch);
    atomic_bool out_of_memory;
};

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#endif
#define WINO_ISA generic
#define WINO_LANES 4
#define WINO_TARGET
#include "fast_winograd_rows.h"
#undef WINO_ISA
#undef WINO_LANES
#undef WINO_TARGET
#if defined(__x86_64__) && defined(__GNUC__)
#define WINO_HAVE_X86 1
#define WINO_ISA avx2
#define WINO_LANES 8
#define WINO_TARGET __attribute__((target("avx2,fma")))
#include "fast_winograd_rows.h"
#undef WINO_ISA
#undef WINO_LANES
#undef WINO_TARGET
#define WINO_ISA avx512
#define WINO_LANES 16
#define WINO_TARGET __attribute__((target("avx512f,avx2,fma")))
#include "fast_winograd_rows.h"
#undef WINO_ISA
#undef WINO_LANES
#undef WINO_TARGET
#endif
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

/* Floats of per-thread scratch the transforms need (fast_winograd_rows.h): 36 phase
 * arrays, or 16 output rows, of a group's tiles plus a vector, then the input transform's
 * zero-padded piece of a row (5 vectors). */
static size_t wino_row_scratch(const struct wino_band *b)
{
    return (size_t)(36 * (b->group_tiles + 16) + 5 * 16);
}

/* Task i: tile group i / channels, channel i % channels (channels: C for the input
 * transform, M for the output one). Consecutive tasks of a chunk are consecutive
 * channels of one group, so the input transform prefetches the next channel's rows
 * while it works on the current one. */
static void transform_task(struct wino_band *b, int64_t begin, int64_t end, int32_t thread, bool input)
{
    float *scratch = d2_threadpool_scratch(b->pool, thread, 0, wino_row_scratch(b) * sizeof(float));
    if (!scratch) {
        atomic_store(&b->out_of_memory, true);
        return;
    }
    const int64_t channels = input ? b->p->in_channels : b->p->out_channels;
    for (int64_t i = begin; i < end; i++) {
        const int64_t channel = i % channels, first = i / channels * b->group_tiles;
        const int64_t count = b->tiles - first < b->group_tiles ? b->tiles - first : b->group_tiles;
        if (input)
            b->input_tiles(b, channel, first, count, i + 1 < end && channel + 1 < channels, scratch);
        else
            b->output_tiles(b, channel, first, count, i + 1 < end && channel + 1 < channels, scratch);
    }
}

static void input_task(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    transform_task(ctx, begin, end, thread, true);
}

static void output_task(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    transform_task(ctx, begin, end, thread, false);
}

/* The GEMMs of positions xi in [begin, end): M_xi = U_xi V_xi, K in blocks of kc (the
 * kcur x nr block of V stays in L1), tile columns outer, all rows of A inner (one K
 * block of U_xi, at most M * kc floats, stays in L2). With the table's conv_tile, V is
 * read in place (a 1-tap "convolution" over rows of stride ldv); otherwise each block
 * is packed into an nr-column panel for sgemm_tile. */
static void gemm_positions(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct wino_band *b = ctx;
    const struct d2_cpu_kernels *kt = b->kt;
    const int64_t mr = kt->mr, nr = kt->nr, c_count = b->p->in_channels, m_count = b->p->out_channels;
    const int64_t tiles = b->tiles, rows_padded = b->m_panels * mr;
    const int64_t zero_offset = 0;
    float *panel = NULL;
    if (!kt->conv_tile) {
        panel = d2_threadpool_scratch(b->pool, thread, 1, (size_t)(b->kc * nr) * sizeof(float));
        if (!panel) {
            atomic_store(&b->out_of_memory, true);
            return;
        }
    }
    for (int64_t xi = begin; xi < end; xi++) {
        const float *u = b->u + xi * rows_padded * c_count;
        const float *v = b->v + xi * c_count * b->ldv;
        float *mb = b->mbuf + xi * m_count * b->ldv;
        for (int64_t k0 = 0; k0 < c_count; k0 += b->kc) {
            const int64_t kcur = c_count - k0 < b->kc ? c_count - k0 : b->kc;
            const float *u_block = u + rows_padded * k0;
            for (int64_t j0 = 0; j0 < tiles; j0 += nr) {
                const int32_t cols = (int32_t)(tiles - j0 < nr ? tiles - j0 : nr);
                const float *vb = v + k0 * b->ldv + j0;
                uint64_t mask = cols == 64 ? ~0ull : (1ull << cols) - 1;
                if (panel)
                    for (int64_t k = 0; k < kcur; k++) {
                        memcpy(panel + k * nr, vb + k * b->ldv, (size_t)cols * sizeof(float));
                        memset(panel + k * nr + cols, 0, (size_t)(nr - cols) * sizeof(float));
                    }
                for (int64_t i = 0; i < b->m_panels; i++) {
                    const int32_t rows = (int32_t)(m_count - i * mr < mr ? m_count - i * mr : mr);
                    const float *a = u_block + i * kcur * mr;
                    float *c = mb + i * mr * b->ldv + j0;
                    if (panel)
                        kt->sgemm_tile(kcur, a, panel, c, b->ldv, rows, cols, k0 > 0);
                    else
                        kt->conv_tile(kcur, 1, &zero_offset, cols == nr ? NULL : &mask, a, vb, b->ldv, c, b->ldv,
                                      rows, cols, k0 > 0, 0, 0, NULL);
                }
            }
        }
    }
}

/* ---- when it runs -------------------------------------------------------------------- */

bool d2_winograd_applies(const struct d2_conv2d_params *p)
{
    /* With stride and dilation 1 the output geometry (bottom and right pads included)
     * is out_h x out_w at offset (-pad_top, -pad_left); reads outside the image are 0. */
    return p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 &&
           p->dilation_w == 1 && p->group == 1 && p->pad_top >= 0 && p->pad_left >= 0 && p->batch > 0 &&
           p->in_channels > 0 && p->out_channels > 0 && p->out_h > 0 && p->out_w > 0;
}

/* Does Winograd pay for this layer? Measured at 2 threads, avx512 (CPU time per
 * thread, direct -> Winograd): 16 -> 16 channels at 64x64 0.042 -> 0.066 ms and at
 * 200x304 0.57 -> 0.58 ms, 32 -> 32 at 28x28 0.033 -> 0.051 ms, 256 -> 256 at 7x7
 * (4 tiles) 0.40 -> 0.40 ms: no gain; 64 -> 64 at 14x14 0.072 -> 0.058 ms and 256 -> 256
 * at 13x19 (20 tiles) 0.99 -> 0.59 ms: faster. So: at least 64 input and output channels
 * (with fewer the transforms, which cost O(C + M) per tile, are not paid back by the GEMM
 * work, O(C * M)) and at least 16 tiles per image. Per image, not per batch: the choice
 * (and so the rounding) must not depend on the batch, since a batch must give each image
 * the bits it gets alone (tests/e2e_predictor.sh); Winograd's per-tile arithmetic does
 * not depend on where a tile lands in a band. */
static bool wino_pays(const struct d2_conv2d_params *p)
{
    const int64_t tiles_per_image = ((p->out_h + 3) / 4) * ((p->out_w + 3) / 4);
    return p->in_channels >= 64 && p->out_channels >= 64 && tiles_per_image >= 16;
}

/* ---- the convolution ------------------------------------------------------------------- */

enum d2_status d2_winograd_conv2d(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool,
                                  struct d2_winograd_cache *cache, const struct d2_conv2d_params *p, const float *x,
                                  const float *w, const float *bias, const float *residual, bool relu, float *y,
                                  struct d2_error *err)
{
    struct wino_band b;
    memset(&b, 0, sizeof b);
    b.kt = kt;
    b.pool = pool;
    b.p = p;
    b.x = x;
    b.bias = bias;
    b.residual = residual;
    b.relu = relu;
    b.y = y;
    b.input_tiles = wino_input_tiles_generic;
    b.output_tiles = wino_output_tiles_generic;
#ifdef WINO_HAVE_X86
    if (strcmp(kt->name, "avx512") == 0) {
        b.input_tiles = wino_input_tiles_avx512;
        b.output_tiles = wino_output_tiles_avx512;
    } else if (strcmp(kt->name, "avx2") == 0) {
        b.input_tiles = wino_input_tiles_avx2;
        b.output_tiles = wino_output_tiles_avx2;
    }
#endif
    const int64_t c_count = p->in_channels, m_count = p->out_channels, mr = kt->mr, nr = kt->nr;
    b.kc = kt->conv_tile ? WINO_CONV_TILE_KC : kt->kc;
    b.u = transformed_weights(cache, pool, w, m_count, c_count, kt->mr, b.kc);
    if (!b.u)
        return d2_errorf(err, D2_ERR_NOMEM, "conv (Winograd): out of memory for %lld x %lld transformed weights",
                         (long long)m_count, (long long)c_count);
    b.m_panels = (m_count + mr - 1) / mr;
    b.tiles_h = (p->out_h + 3) / 4;
    b.tiles_w = (p->out_w + 3) / 4;
    /* Bands: V and M of about WINO_BAND_BYTES, at least four nr columns, and a whole
     * number of nr-wide GEMM columns (the last band excepted). Bands are tile ranges, not
     * tile rows: rows of 76 tiles (FPN P2) in bands of whole rows left 21% of the GEMM's
     * columns empty. */
    const int64_t total_tiles = p->batch * b.tiles_h * b.tiles_w;
    const int64_t bytes_per_tile = 36 * (c_count + m_count) * (int64_t)sizeof(float);
    int64_t target_tiles = WINO_BAND_BYTES / bytes_per_tile;
    if (target_tiles < 4 * nr)
        target_tiles = 4 * nr;
    const int64_t bands = (total_tiles + target_tiles - 1) / target_tiles, columns = (total_tiles + nr - 1) / nr;
    const int64_t band_tiles = (columns + bands - 1) / bands * nr;
    /* Transform tasks of 64 tiles (about one FPN P2 tile row). */
    b.group_tiles = 64;
    b.ldv = band_tiles;
    if (b.ldv % 1024 == 0) /* rows 4 KiB apart alias in the caches */
        b.ldv += 16;
    const size_t v_floats = (size_t)(36 * c_count * b.ldv);
    const size_t m_floats = (size_t)(36 * m_count * b.ldv + 16);   /* + a vector read past the end */
    float *buf = d2_threadpool_scratch(pool, 0, D2_SCRATCH_SLOTS - 1, (v_floats + m_floats) * sizeof(float));
    if (!buf)
        return d2_errorf(err, D2_ERR_NOMEM, "conv (Winograd): out of memory for a band of %lld tiles",
                         (long long)band_tiles);
    b.v = buf;
    b.mbuf = buf + v_floats;
    atomic_init(&b.out_of_memory, false);
    for (int64_t tile0 = 0; tile0 < total_tiles; tile0 += band_tiles) {
        b.tile0 = tile0;
        b.tiles = total_tiles - tile0 < band_tiles ? total_tiles - tile0 : band_tiles;
        const int64_t groups = (b.tiles + b.group_tiles - 1) / b.group_tiles;
        d2_threadpool_parallel_for(pool, c_count * groups, WINO_TRANSFORM_CHUNK, input_task, &b);
        d2_threadpool_parallel_for(pool, 36, 1, gemm_positions, &b);
        d2_threadpool_parallel_for(pool, m_count * groups, WINO_TRANSFORM_CHUNK, output_task, &b);
        if (atomic_load(&b.out_of_memory))
            return d2_errorf(err, D2_ERR_NOMEM, "conv (Winograd): out of memory for transform buffers");
    }
    if (cache)
        atomic_fetch_add(&cache->runs, 1);
    return D2_OK;
}

enum d2_status d2_cpu_fast_conv2d(const struct d2_cpu_fast *fast, const struct d2_conv2d_params *p, const float *x,
                                  const float *w, const float *bias, const float *residual, bool relu, float *y,
                                  struct d2_error *err)
{
    if (fast->winograd && d2_winograd_applies(p) && wino_pays(p))
        return d2_winograd_conv2d(fast->kernels, fast->pool, fast->winograd, p, x, w, bias, residual, relu, y, err);
    return d2_fast_conv2d(fast->kernels, fast->pool, p, x, w, bias, residual, relu, y, fast->alloc, err);
}
