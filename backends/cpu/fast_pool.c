/* backends/cpu/fast_pool.c: fast f32 max_pool (without Indices) and average_pool for
 * 1-D and 2-D windows, parallel over (image, channel) planes.
 *
 * Each output row is computed in two parts. Interior columns, whose window lies
 * entirely inside the input along the width, run tap by tap over the whole interior
 * span (a vectorizable loop per kernel tap); the few border columns visit their taps
 * one by one. Semantics follow the reference kernels exactly: taps outside the input
 * are ignored by max_pool and counted by average_pool only with count_include_pad
 * (and then only up to the end padding), and max keeps the first maximum in tap order,
 * so a NaN in the first tap wins as it does there. Everything else (Indices, 3-D
 * windows, other dtypes) runs the reference kernel. */
#include "fast.h"

#include <math.h>
#include <string.h>

#include "../../ir/shape_nn.h"
#include "ref_nn.h"

struct pool_job {
    int64_t in_h, in_w, out_h, out_w, k_h, k_w, s_h, s_w, p_h, p_w, d_h, d_w, e_h, e_w; /* e: end pads */
    bool is_max, count_include_pad;
    const float *x;
    float *y;
};

/* Taps of one window along one dim inside the input: [first, last); padded: taps
 * inside input + pads. */
static void taps(int64_t o, int64_t stride, int64_t pad, int64_t dil, int64_t k, int64_t in, int64_t pad_end,
                 int64_t *first, int64_t *last, int64_t *padded)
{
    int64_t start = o * stride - pad;
    int64_t f = start >= 0 ? 0 : (-start + dil - 1) / dil;
    int64_t l = start >= in ? 0 : (in - 1 - start) / dil + 1;
    if (l > k)
        l = k;
    if (f > l)
        f = l;
    int64_t lo = -pad, hi = in + pad_end;
    int64_t pf = start >= lo ? 0 : (lo - start + dil - 1) / dil;
    int64_t pl = start >= hi ? 0 : (hi - 1 - start) / dil + 1;
    if (pl > k)
        pl = k;
    *first = f;
    *last = l;
    *padded = pl > pf ? pl - pf : 0;
}

static void pool_row(const struct pool_job *j, const float *x, float *yrow, int64_t oy, float *acc)
{
    int64_t ky0, ky1, ypad;
    taps(oy, j->s_h, j->p_h, j->d_h, j->k_h, j->in_h, j->e_h, &ky0, &ky1, &ypad);
    /* Interior columns: every width tap inside the input. */
    int64_t ox_lo = (j->p_w + j->s_w - 1) / j->s_w;
    int64_t span = (j->k_w - 1) * j->d_w;
    int64_t ox_hi = j->in_w - 1 - span + j->p_w >= 0 ? (j->in_w - 1 - span + j->p_w) / j->s_w + 1 : 0;
    if (ox_hi > j->out_w)
        ox_hi = j->out_w;
    if (ox_lo > ox_hi)
        ox_lo = ox_hi;
    if (ky0 < ky1 && ox_lo < ox_hi) {
        int64_t n = ox_hi - ox_lo;
        bool first = true;
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *row = x + (oy * j->s_h - j->p_h + ky * j->d_h) * j->in_w;
            for (int64_t kx = 0; kx < j->k_w; kx++) {
                const float *src = row + ox_lo * j->s_w - j->p_w + kx * j->d_w;
                if (first) {
                    for (int64_t i = 0; i < n; i++)
                        acc[i] = src[i * j->s_w];
                    first = false;
                } else if (j->is_max) {
                    for (int64_t i = 0; i < n; i++) {
                        float v = src[i * j->s_w];
                        acc[i] = v > acc[i] ? v : acc[i];
                    }
                } else {
                    for (int64_t i = 0; i < n; i++)
                        acc[i] += src[i * j->s_w];
                }
            }
        }
        if (j->is_max) {
            memcpy(yrow + ox_lo, acc, (size_t)n * sizeof(float));
        } else {
            int64_t count = j->count_include_pad ? ypad * j->k_w : (ky1 - ky0) * j->k_w;
            /* interior along the width: padded count == kernel width */
            float inv = 1.0f / (float)count;
            for (int64_t i = 0; i < n; i++)
                yrow[ox_lo + i] = acc[i] * inv;
        }
    } else {
        ox_lo = ox_hi = 0;
    }
    /* Border columns (and every column when the height window is empty). */
    for (int64_t ox = 0; ox < j->out_w; ox++) {
        if (ox >= ox_lo && ox < ox_hi)
            continue;
        int64_t kx0, kx1, xpad;
        taps(ox, j->s_w, j->p_w, j->d_w, j->k_w, j->in_w, j->e_w, &kx0, &kx1, &xpad);
        float best = -INFINITY, sum = 0.0f;
        bool found = false;
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *row = x + (oy * j->s_h - j->p_h + ky * j->d_h) * j->in_w + ox * j->s_w - j->p_w;
            for (int64_t kx = kx0; kx < kx1; kx++) {
                float v = row[kx * j->d_w];
                if (!found || v > best)
                    best = v;
                found = true;
                sum += v;
            }
        }
        if (j->is_max) {
            yrow[ox] = best;
        } else {
            int64_t count = j->count_include_pad ? ypad * xpad : (ky1 - ky0) * (kx1 - kx0);
            yrow[ox] = count > 0 ? sum / (float)count : NAN;
        }
    }
}

struct pool_planes {
    const struct pool_job *job;
    struct d2_threadpool *pool;
};

static void pool_planes_run(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct pool_planes *pp = ctx;
    const struct pool_job *j = pp->job;
    float *acc = d2_threadpool_scratch(pp->pool, thread, 0, (size_t)(j->out_w + 1) * sizeof(float));
    if (!acc)
        return; /* checked by the caller up front: cannot happen */
    for (int64_t plane = begin; plane < end; plane++) {
        const float *x = j->x + plane * j->in_h * j->in_w;
        float *y = j->y + plane * j->out_h * j->out_w;
        for (int64_t oy = 0; oy < j->out_h; oy++)
            pool_row(j, x, y + oy * j->out_w, oy, acc);
    }
}

static enum d2_status fast_pool(struct d2_kernel_ctx *ctx, bool is_max)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_tensor *x = ctx->inputs[0];
    const struct d2_attrs_pool *attrs = ctx->node->attrs;
    struct d2_window w;
    struct d2_error scratch_err = {0};
    if (!fast || x->dtype != D2_DTYPE_F32 || (x->rank != 3 && x->rank != 4) || ctx->num_outputs != 1 ||
        d2_window_pool(attrs, is_max ? "max_pool" : "average_pool", x->rank - 2, &x->dims[2], &w, &scratch_err) !=
            D2_OK)
        return d2_cpu_ref_kernel(ctx->node->op)(ctx);
    struct pool_job j;
    memset(&j, 0, sizeof j);
    int32_t s = w.spatial;
    j.in_h = s == 2 ? w.in[0] : 1, j.out_h = s == 2 ? w.out[0] : 1, j.k_h = s == 2 ? w.kernel[0] : 1;
    j.s_h = s == 2 ? w.stride[0] : 1, j.p_h = s == 2 ? w.pad_begin[0] : 0, j.d_h = s == 2 ? w.dilation[0] : 1;
    j.e_h = s == 2 ? w.pad_end[0] : 0;
    j.in_w = w.in[s - 1], j.out_w = w.out[s - 1], j.k_w = w.kernel[s - 1], j.s_w = w.stride[s - 1];
    j.p_w = w.pad_begin[s - 1], j.d_w = w.dilation[s - 1], j.e_w = w.pad_end[s - 1];
    j.is_max = is_max;
    j.count_include_pad = attrs->count_include_pad != 0;
    int64_t y_dims[D2_MAX_RANK] = { x->dims[0], x->dims[1] };
    for (int32_t i = 0; i < s; i++)
        y_dims[i + 2] = w.out[i];
    enum d2_status st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, x->rank, y_dims);
    if (st != D2_OK)
        return st;
    int64_t planes = x->dims[0] * x->dims[1];
    if (planes == 0 || j.out_h * j.out_w == 0)
        return D2_OK;
    j.x = x->data;
    j.y = ctx->outputs[0].data;
    for (int32_t t = 0; t < d2_threadpool_size(fast->pool); t++)
        if (!d2_threadpool_scratch(fast->pool, t, 0, (size_t)(j.out_w + 1) * sizeof(float)))
            return d2_errorf(ctx->err, D2_ERR_NOMEM, "pool: out of memory for a row buffer");
    struct pool_planes pp = { &j, fast->pool };
    d2_threadpool_parallel_for(fast->pool, planes, 1, pool_planes_run, &pp);
    return D2_OK;
}

enum d2_status d2_cpu_fast_max_pool(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_average_pool(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_max_pool(struct d2_kernel_ctx *ctx) { return fast_pool(ctx, true); }
enum d2_status d2_cpu_fast_average_pool(struct d2_kernel_ctx *ctx) { return fast_pool(ctx, false); }
