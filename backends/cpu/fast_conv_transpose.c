/* backends/cpu/fast_conv_transpose.c: fast f32 conv_transpose (NCHW, 1-D and 2-D).
 *
 * With stride == kernel and no padding (the mask head's 2x2 stride 2): every output
 * pixel gets exactly one tap, so one GEMM W_g^T [Mg*KH*KW, Cg] x X over all images'
 * pixels, whose tiles are written straight to their output pixels (deconv_direct).
 * Other conv_transposes, per image and group: col[Mg*KH*KW, H*W] = W_g^T X_g (one
 * GEMM, d2_sgemm), then col2im scatters each column tap onto the output (parallel over
 * channels), then the bias. Anything else (3-D windows, non-f32 dtypes, malformed
 * inputs) goes to the reference kernel, which also produces the error messages.
 * (Split from fast_conv.c, which keeps conv and fused_conv.) */
#include "fast_conv.h"

#include <stdatomic.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ref_nn.h"

/* Most column tiles per task (bounds the per-task run tables on the stack). */
#define DECONV_MAX_TILES_PER_TASK 16

enum d2_status d2_cpu_fast_conv_transpose(struct d2_kernel_ctx *ctx);

/* ---- conv_transpose with stride == kernel (non-overlapping taps) -------------------- */

/* With stride equal to the kernel on both axes, no padding or dilation and no output
 * padding (the mask head's 2x2 stride-2 deconv), every output pixel receives exactly one
 * tap: Y[n, m, iy*kh + ky, ix*kw + kx] = bias[m] + sum_c W[c, m, ky, kx] X[n, c, iy, ix].
 * That is one GEMM, rows r = (m, ky, kx) of W^T and columns j = (n, iy, ix) over all
 * images at once, whose tiles are written straight to their output pixels: no col buffer,
 * no col2im pass, no zero fill (every output element is written exactly once). Tasks are
 * runs of column tiles: a task packs its tiles' image columns (B panels over all of K,
 * sized to stay in L2), then runs every mr-row panel of the packed W^T over them (the A
 * panel is reused from L1 across the task's tiles). */
#define DECONV_TASK_B_BYTES (384 * 1024)

struct deconv_job {
    const struct d2_cpu_kernels *kt;
    struct d2_threadpool *pool;
    const struct d2_conv2d_params *p;
    const float *w;             /* the group's weights: [Cg][rows] */
    float *a_packed;            /* W_g^T in mr-row panels over all of K: [panels][K][mr] */
    const float *x;             /* image 0's first input channel of the group */
    const float *bias;          /* the group's, or NULL */
    float *y;                   /* image 0's first output plane of the group */
    int64_t k, rows, columns;   /* K = Cg, rows = Mg*KH*KW, columns = batch * H*W */
    int64_t tiles, tiles_per_task;
    atomic_bool out_of_memory;
};

static bool deconv_direct_applies(const struct d2_conv2d_params *p)
{
    return p->stride_h == p->kernel_h && p->stride_w == p->kernel_w && p->dilation_h == 1 && p->dilation_w == 1 &&
           p->pad_top == 0 && p->pad_left == 0 && p->out_h == p->in_h * p->kernel_h &&
           p->out_w == p->in_w * p->kernel_w;
}

/* Panels [begin, end) of W_g^T: A(r, c) = w[c*rows + r]; rows past `rows` are zero. */
static void deconv_pack_panels(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct deconv_job *job = ctx;
    const int32_t mr = job->kt->mr;
    (void)thread;
    for (int64_t panel = begin; panel < end; panel++) {
        float *dst = job->a_packed + panel * job->k * mr;
        const int64_t r0 = panel * mr, valid = job->rows - r0 < mr ? job->rows - r0 : mr;
        for (int64_t c = 0; c < job->k; c++) {
            const float *src = job->w + c * job->rows + r0;
            for (int64_t i = 0; i < valid; i++)
                dst[c * mr + i] = src[i];
            for (int64_t i = valid; i < mr; i++)
                dst[c * mr + i] = 0.0f;
        }
    }
}

/* Writes an mr x nr GEMM tile (rows r0.., columns j0..) to its output pixels. The tile's
 * columns are runs of consecutive input pixels of one input row (run_start[q] ..
 * run_start[q+1], output offset run_offset[q]); a run lands on every kw-th output
 * pixel. With kw == 2 (the mask head) rows kx = 0 and kx = 1 are written together, as one
 * contiguous stretch of output. */
static void deconv_store_tile(const struct deconv_job *job, const float *tile, int32_t nr, int64_t r0, int32_t rows,
                              int32_t runs, const int32_t *run_start, const int64_t *run_offset)
{
    const struct d2_conv2d_params *p = job->p;
    const int64_t taps = p->kernel_h * p->kernel_w, oplane = p->out_h * p->out_w, kw = p->kernel_w;
    for (int32_t i = 0; i < rows; i++) {
        const int64_t r = r0 + i, m = r / taps, ky = r % taps / kw, kx = r % kw;
        const float b = job->bias ? job->bias[m] : 0.0f;
        float *y = job->y + m * oplane + ky * p->out_w + kx;
        const float *t = tile + i * nr;
        if (kw == 2 && kx == 0 && i + 1 < rows) {
            const float *t1 = t + nr;
            for (int32_t q = 0; q < runs; q++) {
                float *d = y + run_offset[q];
                int32_t j = run_start[q];
#ifdef __SSE2__
                /* 4 pixels of both rows interleaved in registers: 8 contiguous outputs */
                const __m128 bv = _mm_set1_ps(b);
                for (; j + 4 <= run_start[q + 1]; j += 4, d += 8) {
                    __m128 x0 = _mm_add_ps(_mm_loadu_ps(t + j), bv), x1 = _mm_add_ps(_mm_loadu_ps(t1 + j), bv);
                    _mm_storeu_ps(d, _mm_unpacklo_ps(x0, x1));
                    _mm_storeu_ps(d + 4, _mm_unpackhi_ps(x0, x1));
                }
#endif
                for (; j < run_start[q + 1]; j++, d += 2) {
                    d[0] = t[j] + b;
                    d[1] = t1[j] + b;
                }
            }
            i++;
            continue;
        }
        for (int32_t q = 0; q < runs; q++) {
            float *d = y + run_offset[q];
            for (int32_t j = run_start[q]; j < run_start[q + 1]; j++, d += kw)
                d[0] = t[j] + b;
        }
    }
}

static void deconv_task(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct deconv_job *job = ctx;
    const struct d2_cpu_kernels *kt = job->kt;
    const struct d2_conv2d_params *p = job->p;
    const int32_t mr = kt->mr, nr = kt->nr;
    const int64_t k = job->k, iplane = p->in_h * p->in_w;
    const int64_t x_image = p->in_channels * iplane, y_image = p->out_channels * p->out_h * p->out_w;
    float tile[D2_GEMM_MAX_MR * D2_GEMM_MAX_NR];
    /* Per tile of the task: its runs of pixels of one input row (at most nr). */
    int32_t runs[DECONV_MAX_TILES_PER_TASK], run_start[DECONV_MAX_TILES_PER_TASK][D2_GEMM_MAX_NR + 1];
    int64_t run_offset[DECONV_MAX_TILES_PER_TASK][D2_GEMM_MAX_NR];
    float *b_pack = d2_threadpool_scratch(job->pool, thread, 1, (size_t)(job->tiles_per_task * k * nr) * sizeof(float));
    if (!b_pack) {
        atomic_store(&job->out_of_memory, true);
        return;
    }
    for (int64_t task = begin; task < end; task++) {
        const int64_t t0 = task * job->tiles_per_task;
        const int64_t t1 = t0 + job->tiles_per_task < job->tiles ? t0 + job->tiles_per_task : job->tiles;
        /* B panels: panel q holds columns j0 .. j0+nr of tile t0+q, [K][nr], zero past the end;
         * a tile's columns are one or a few runs of consecutive pixels of one image. */
        for (int64_t tile_i = t0; tile_i < t1; tile_i++) {
            const int64_t j0 = tile_i * nr;
            const int32_t cols = (int32_t)(job->columns - j0 < nr ? job->columns - j0 : nr);
            const int64_t q = tile_i - t0;
            float *panel = b_pack + q * k * nr;
            runs[q] = 0;
            for (int32_t l = 0; l < cols;) {
                /* columns [l, l + len): pixels of image n, packed by one memcpy per channel */
                const int64_t n = (j0 + l) / iplane, pos = (j0 + l) % iplane;
                const int32_t len = (int32_t)(iplane - pos < cols - l ? iplane - pos : cols - l);
                for (int32_t u = 0; u < len;) { /* one store run per input row */
                    const int64_t iy = (pos + u) / p->in_w, ix = (pos + u) % p->in_w;
                    const int32_t seg = (int32_t)(p->in_w - ix < len - u ? p->in_w - ix : len - u);
                    run_start[q][runs[q]] = l + u;
                    run_offset[q][runs[q]] = n * y_image + iy * p->kernel_h * p->out_w + ix * p->kernel_w;
                    runs[q]++;
                    u += seg;
                }
                const float *src = job->x + n * x_image + pos;
                for (int64_t c = 0; c < k; c++)
                    memcpy(panel + c * nr + l, src + c * iplane, (size_t)len * sizeof(float));
                l += len;
            }
            run_start[q][runs[q]] = cols;
            if (cols < nr)
                for (int64_t c = 0; c < k; c++)
                    memset(panel + c * nr + cols, 0, (size_t)(nr - cols) * sizeof(float));
        }
        for (int64_t r0 = 0; r0 < job->rows; r0 += mr) {
            const int32_t rows = (int32_t)(job->rows - r0 < mr ? job->rows - r0 : mr);
            const float *a = job->a_packed + r0 * k;
            for (int64_t tile_i = t0; tile_i < t1; tile_i++) {
                kt->sgemm_tile(k, a, b_pack + (tile_i - t0) * k * nr, tile, nr, mr, nr, false);
                deconv_store_tile(job, tile, nr, r0, rows, runs[tile_i - t0], run_start[tile_i - t0],
                                  run_offset[tile_i - t0]);
            }
        }
    }
}

/* conv_transpose of every image of one group through deconv_task; w: the group's weights. */
static enum d2_status deconv_direct(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool,
                                    const struct d2_conv2d_params *p, const float *x, const float *w,
                                    const float *bias, float *y, struct d2_error *err)
{
    const int32_t mr = kt->mr, nr = kt->nr;
    struct deconv_job job;
    memset(&job, 0, sizeof job);
    job.kt = kt;
    job.pool = pool;
    job.p = p;
    job.w = w;
    job.x = x;
    job.bias = bias;
    job.y = y;
    job.k = p->in_channels / p->group;
    job.rows = p->out_channels / p->group * p->kernel_h * p->kernel_w;
    job.columns = p->batch * p->in_h * p->in_w;
    const int64_t panels = (job.rows + mr - 1) / mr;
    /* The last slot of thread 0: the tasks use slot 1 of each thread. */
    job.a_packed = d2_threadpool_scratch(pool, 0, D2_SCRATCH_SLOTS - 1, (size_t)(panels * mr * job.k) * sizeof(float));
    if (!job.a_packed)
        return d2_errorf(err, D2_ERR_NOMEM, "conv_transpose: out of memory packing %lld x %lld weights",
                         (long long)job.rows, (long long)job.k);
    d2_threadpool_parallel_for(pool, panels, 4, deconv_pack_panels, &job);
    job.tiles = (job.columns + nr - 1) / nr;
    job.tiles_per_task = DECONV_TASK_B_BYTES / (job.k * nr * (int64_t)sizeof(float));
    int64_t balanced = job.tiles / (4 * (int64_t)d2_threadpool_size(pool));
    if (job.tiles_per_task > balanced)
        job.tiles_per_task = balanced;
    if (job.tiles_per_task > DECONV_MAX_TILES_PER_TASK)
        job.tiles_per_task = DECONV_MAX_TILES_PER_TASK;
    if (job.tiles_per_task < 1)
        job.tiles_per_task = 1;
    atomic_init(&job.out_of_memory, false);
    d2_threadpool_parallel_for(pool, (job.tiles + job.tiles_per_task - 1) / job.tiles_per_task, 1, deconv_task, &job);
    if (atomic_load(&job.out_of_memory))
        return d2_errorf(err, D2_ERR_NOMEM, "conv_transpose: out of memory for packing buffers");
    return D2_OK;
}

/* col2im of conv_transpose: output channel planes [begin, end) of one image/group. */
struct col2im_job {
    const struct d2_conv2d_params *p;   /* in_*: X's geometry, out_*: Y's */
    const float *col;                   /* [Mg*KH*KW, H*W] */
    const float *bias;                  /* this group's, or NULL */
    float *y;                           /* this group's first output plane */
};

static void col2im_planes(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct col2im_job *job = ctx;
    const struct d2_conv2d_params *p = job->p;
    const int64_t taps = p->kernel_h * p->kernel_w, iplane = p->in_h * p->in_w, oplane = p->out_h * p->out_w;
    (void)thread;
    for (int64_t m = begin; m < end; m++) {
        float *y = job->y + m * oplane;
        for (int64_t ky = 0; ky < p->kernel_h; ky++)
            for (int64_t kx = 0; kx < p->kernel_w; kx++) {
                const float *col = job->col + (m * taps + ky * p->kernel_w + kx) * iplane;
                int64_t iy_first, iy_last, ix_first, ix_last;
                /* input i lands on output i*s - pad + k*d */
                d2_nn_tap_range(p->in_h, p->out_h, p->stride_h, p->pad_top, ky * p->dilation_h, &iy_first, &iy_last);
                d2_nn_tap_range(p->in_w, p->out_w, p->stride_w, p->pad_left, kx * p->dilation_w, &ix_first,
                                &ix_last);
                for (int64_t iy = iy_first; iy < iy_last; iy++) {
                    float *yr = y + (iy * p->stride_h - p->pad_top + ky * p->dilation_h) * p->out_w - p->pad_left +
                                kx * p->dilation_w;
                    const float *cr = col + iy * p->in_w;
                    for (int64_t ix = ix_first; ix < ix_last; ix++)
                        yr[ix * p->stride_w] += cr[ix];
                }
            }
        if (job->bias)
            for (int64_t i = 0; i < oplane; i++)
                y[i] += job->bias[m];
    }
}

enum d2_status d2_cpu_fast_conv_transpose(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_tensor *x = ctx->inputs[0], *w = ctx->inputs[1], *b = optional_input(ctx, 2);
    const struct d2_attrs_conv_transpose *attrs = ctx->node->attrs;
    struct d2_conv2d_params p;
    struct d2_window win;
    struct d2_error scratch_err = {0};
    enum d2_status st;

    if (!fast || !is_f32_tensor(x, -1) || (x->rank != 3 && x->rank != 4) || !is_f32_tensor(w, x->rank) ||
        (b && !is_f32_tensor(b, 1)) || attrs->group < 1 || w->dims[0] % attrs->group != 0 ||
        w->dims[0] != x->dims[1] || (b && b->dims[0] != w->dims[1] * attrs->group))
        return d2_cpu_ref_conv_transpose(ctx);
    if (d2_window_conv_transpose(attrs, x->rank - 2, &x->dims[2], &w->dims[2], &win, &scratch_err) != D2_OK ||
        !params_from_window(&win, x, &p))
        return d2_cpu_ref_conv_transpose(ctx);
    p.group = attrs->group;
    p.out_channels = w->dims[1] * p.group;
    int64_t y_dims[D2_MAX_RANK] = { p.batch, p.out_channels };
    for (int32_t i = 0; i < win.spatial; i++)
        y_dims[i + 2] = win.out[i];
    if ((st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, x->rank, y_dims)) != D2_OK)
        return st;
    float *y = ctx->outputs[0].data;
    const float *xd = x->data, *wd = w->data;
    const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group, taps = p.kernel_h * p.kernel_w;
    const int64_t iplane = p.in_h * p.in_w, oplane = p.out_h * p.out_w, rows = mg * taps;
    if (p.batch == 0 || p.out_channels == 0 || oplane == 0)
        return D2_OK;
    if (iplane > 0 && deconv_direct_applies(&p)) {
        for (int64_t g = 0; g < p.group; g++) {
            st = deconv_direct(fast->kernels, fast->pool, &p, xd + g * cg * iplane, wd + g * cg * rows,
                               b ? (const float *)b->data + g * mg : NULL, y + g * mg * oplane, ctx->err);
            if (st != D2_OK)
                return st;
        }
        return D2_OK;
    }
    memset(y, 0, (size_t)(p.batch * p.out_channels * oplane) * sizeof(float));
    if (iplane == 0) { /* only the bias reaches the output */
        for (int64_t n = 0; n < p.batch; n++)
            for (int64_t m = 0; b && m < p.out_channels; m++)
                for (int64_t i = 0; i < oplane; i++)
                    y[(n * p.out_channels + m) * oplane + i] = ((const float *)b->data)[m];
        return D2_OK;
    }
    /* The GEMM uses scratch slots 0 and 1; slot 2 of thread 0 holds col. */
    float *col = d2_threadpool_scratch(fast->pool, 0, 2, (size_t)(rows * iplane) * sizeof(float));
    if (!col)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "conv_transpose: out of memory for a %lld x %lld column buffer",
                         (long long)rows, (long long)iplane);
    for (int64_t n = 0; n < p.batch; n++)
        for (int64_t g = 0; g < p.group; g++) {
            /* W_g^T(r, c) = W[g*Cg + c, r]: rows r = (m, ky, kx), depth c. */
            struct d2_gemm_b_source bsrc = d2_gemm_b_matrix(xd + (n * p.in_channels + g * cg) * iplane, cg, iplane,
                                                           iplane, 1);
            st = d2_sgemm(fast->kernels, fast->pool, rows, iplane, cg, wd + g * cg * rows, 1, rows, &bsrc, col,
                          iplane, false, NULL, ctx->err);
            if (st != D2_OK)
                return st;
            struct col2im_job job = { &p, col, b ? (const float *)b->data + g * mg : NULL,
                                      y + (n * p.out_channels + g * mg) * oplane };
            d2_threadpool_parallel_for(fast->pool, mg, 1, col2im_planes, &job);
        }
    return D2_OK;
}
