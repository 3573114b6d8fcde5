/* backends/cpu/ref_nn_pool.c: reference kernels of max_pool (with optional Indices),
 * average_pool, lp_pool, global_average_pool and global_max_pool.
 *
 * Each (image, channel) plane is loaded into a double buffer; every output position
 * then visits its window's taps. Taps outside the input are padding: ignored by
 * max_pool (pads act as -inf) and lp_pool (they add 0), and counted by average_pool
 * only when count_include_pad is set, and then only up to the end padding (a ceil_mode
 * window reaching past it does not count the overhang). 1-D and 2-D windows run as 3-D
 * with leading size-1 dims.
 *
 * max_pool's Indices are flat indices into X (image and channel offsets included),
 * row-major, or column-major over the spatial dims when storage_order is 1.
 */
#include "ref_nn.h"

#include <math.h>
#include <string.h>

enum pool_kind { POOL_MAX, POOL_AVERAGE, POOL_LP };

struct pool_job {
    const struct d2_tensor *x;
    struct d2_tensor *y, *indices;        /* indices may be NULL */
    struct d2_nn_window3 g;
    const struct d2_attrs_pool *attrs;
    int64_t planes, in_plane, out_plane;  /* planes = N * C */
    double *plane;                        /* one input plane */
};

/* The taps of one window along one dim: kernel tap t sits at start + t*dilation. */
struct tap_span {
    int64_t first, last;   /* taps inside the input: [first, last) */
    int64_t padded;        /* taps inside input + pads (average_pool's count_include_pad) */
    int64_t start;         /* position of tap 0 */
};

static struct tap_span window_taps(const struct d2_nn_window3 *g, int i, int64_t o)
{
    struct tap_span s;
    int64_t dil = g->dilation[i], k = g->kernel[i];
    s.start = o * g->stride[i] - g->pad_begin[i];
    /* start + t*dil in [lo, hi) for t in [0, k) */
    int64_t lo = 0, hi = g->in[i];
    s.first = s.start >= lo ? 0 : (lo - s.start + dil - 1) / dil;
    s.last = s.start >= hi ? 0 : (hi - 1 - s.start) / dil + 1;
    if (s.last > k)
        s.last = k;
    if (s.first > s.last)
        s.first = s.last;
    lo = -g->pad_begin[i];
    hi = g->in[i] + g->pad_end[i];
    int64_t pfirst = s.start >= lo ? 0 : (lo - s.start + dil - 1) / dil;
    int64_t plast = s.start >= hi ? 0 : (hi - 1 - s.start) / dil + 1;
    if (plast > k)
        plast = k;
    s.padded = plast > pfirst ? plast - pfirst : 0;
    return s;
}

static enum d2_status pool_init(struct d2_kernel_ctx *ctx, struct pool_job *job, const char *op)
{
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_window win;
    enum d2_status st;
    memset(job, 0, sizeof *job);
    job->x = x;
    job->attrs = ctx->node->attrs;
    if (x->rank < 3)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X needs rank >= 3, got %d", op, (int)x->rank);
    if ((st = d2_window_pool(job->attrs, op, x->rank - 2, &x->dims[2], &win, ctx->err)) != D2_OK)
        return st;
    if (!d2_nn_window3(&win, &job->g))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "%s: %d spatial dims (the reference kernel handles 1 to 3)",
                         op, (int)win.spatial);
    int64_t y_dims[D2_MAX_RANK];
    y_dims[0] = x->dims[0];
    y_dims[1] = x->dims[1];
    for (int32_t i = 0; i < win.spatial; i++)
        y_dims[i + 2] = win.out[i];
    if ((st = d2_nn_prepare_output(ctx, 0, x->dtype, x->rank, y_dims)) != D2_OK)
        return st;
    job->y = &ctx->outputs[0];
    if (ctx->num_outputs > 1) {
        if ((st = d2_nn_prepare_output(ctx, 1, D2_DTYPE_I64, x->rank, y_dims)) != D2_OK)
            return st;
        job->indices = &ctx->outputs[1];
    }
    job->planes = x->dims[0] * x->dims[1];
    job->in_plane = job->g.in[0] * job->g.in[1] * job->g.in[2];
    job->out_plane = job->g.out[0] * job->g.out[1] * job->g.out[2];
    job->plane = d2_alloc(ctx->alloc, (size_t)(job->in_plane ? job->in_plane : 1) * sizeof(double));
    if (!job->plane)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "%s: out of memory for an input plane", op);
    return D2_OK;
}

/* The smallest value of an integer dtype, for a max over an empty window. */
static double lowest_value(enum d2_dtype t)
{
    switch (t) {
    case D2_DTYPE_I8: return -128.0;
    case D2_DTYPE_I16: return -32768.0;
    case D2_DTYPE_I32: return -2147483648.0;
    case D2_DTYPE_I64: return -9223372036854775808.0;
    default: return d2_dtype_is_float(t) ? -INFINITY : 0.0; /* unsigned */
    }
}

/* One output value of a max_pool window, and the flat index of the first maximum. */
static double window_max(const struct pool_job *job, const struct tap_span *s, int64_t plane_offset,
                         int64_t *index)
{
    const struct d2_nn_window3 *g = &job->g;
    double best = lowest_value(job->x->dtype);
    int64_t best_pos[3] = {0, 0, 0};
    bool found = false;
    for (int64_t a = s[0].first; a < s[0].last; a++) {
        int64_t id = s[0].start + a * g->dilation[0];
        for (int64_t b = s[1].first; b < s[1].last; b++) {
            int64_t ih = s[1].start + b * g->dilation[1];
            const double *row = job->plane + (id * g->in[1] + ih) * g->in[2];
            for (int64_t c = s[2].first; c < s[2].last; c++) {
                int64_t iw = s[2].start + c * g->dilation[2];
                if (!found || row[iw] > best) {
                    best = row[iw];
                    best_pos[0] = id, best_pos[1] = ih, best_pos[2] = iw;
                    found = true;
                }
            }
        }
    }
    if (job->attrs->storage_order == 1) /* column-major over the spatial dims */
        *index = plane_offset + best_pos[0] + g->in[0] * (best_pos[1] + g->in[1] * best_pos[2]);
    else
        *index = plane_offset + (best_pos[0] * g->in[1] + best_pos[1]) * g->in[2] + best_pos[2];
    return best;
}

/* Sum of x (average) or |x|^p (lp) over the window's taps inside the input. */
static double window_sum(const struct pool_job *job, const struct tap_span *s, enum pool_kind kind)
{
    const struct d2_nn_window3 *g = &job->g;
    double sum = 0.0, p = (double)job->attrs->p;
    for (int64_t a = s[0].first; a < s[0].last; a++) {
        int64_t id = s[0].start + a * g->dilation[0];
        for (int64_t b = s[1].first; b < s[1].last; b++) {
            int64_t ih = s[1].start + b * g->dilation[1];
            const double *row = job->plane + (id * g->in[1] + ih) * g->in[2];
            for (int64_t c = s[2].first; c < s[2].last; c++) {
                double v = row[s[2].start + c * g->dilation[2]];
                if (kind == POOL_AVERAGE)
                    sum += v;
                else if (job->attrs->p == 1)
                    sum += fabs(v);
                else if (job->attrs->p == 2)
                    sum += v * v;
                else
                    sum += pow(fabs(v), p);
            }
        }
    }
    return sum;
}

static enum d2_status run_pool(struct d2_kernel_ctx *ctx, enum pool_kind kind, const char *op)
{
    struct pool_job job;
    enum d2_status st = pool_init(ctx, &job, op);
    const struct d2_nn_window3 *g = &job.g;
    for (int64_t pl = 0; st == D2_OK && pl < job.planes; pl++) {
        d2_nn_load(job.plane, job.x, (size_t)(pl * job.in_plane), (size_t)job.in_plane);
        int64_t o[3], out_index = pl * job.out_plane;
        for (o[0] = 0; o[0] < g->out[0]; o[0]++)
            for (o[1] = 0; o[1] < g->out[1]; o[1]++)
                for (o[2] = 0; o[2] < g->out[2]; o[2]++, out_index++) {
                    struct tap_span s[3];
                    for (int i = 0; i < 3; i++)
                        s[i] = window_taps(g, i, o[i]);
                    double value;
                    if (kind == POOL_MAX) {
                        int64_t index;
                        value = window_max(&job, s, pl * job.in_plane, &index);
                        if (job.indices)
                            ((int64_t *)job.indices->data)[out_index] = index;
                    } else if (kind == POOL_AVERAGE) {
                        int64_t count = job.attrs->count_include_pad
                                            ? s[0].padded * s[1].padded * s[2].padded
                                            : (s[0].last - s[0].first) * (s[1].last - s[1].first) *
                                                  (s[2].last - s[2].first);
                        value = window_sum(&job, s, kind) / (double)count;
                    } else {
                        value = pow(window_sum(&job, s, kind), 1.0 / (double)job.attrs->p);
                    }
                    d2_store_f64(job.y->data, job.y->dtype, (size_t)out_index, value);
                }
    }
    d2_free(ctx->alloc, job.plane);
    return st;
}

enum d2_status d2_cpu_ref_max_pool(struct d2_kernel_ctx *ctx)
{
    return run_pool(ctx, POOL_MAX, "max_pool");
}

enum d2_status d2_cpu_ref_average_pool(struct d2_kernel_ctx *ctx)
{
    return run_pool(ctx, POOL_AVERAGE, "average_pool");
}

enum d2_status d2_cpu_ref_lp_pool(struct d2_kernel_ctx *ctx)
{
    return run_pool(ctx, POOL_LP, "lp_pool");
}

/* Global pools: one value per (image, channel) plane, over all spatial dims. */
static enum d2_status run_global_pool(struct d2_kernel_ctx *ctx, bool is_max, const char *op)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t y_dims[D2_MAX_RANK], plane = 1;
    enum d2_status st;
    if (x->rank < 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X needs rank >= 2, got %d", op, (int)x->rank);
    y_dims[0] = x->dims[0];
    y_dims[1] = x->dims[1];
    for (int32_t i = 2; i < x->rank; i++) {
        y_dims[i] = 1;
        plane *= x->dims[i];
    }
    if ((st = d2_nn_prepare_output(ctx, 0, x->dtype, x->rank, y_dims)) != D2_OK)
        return st;
    for (int64_t pl = 0; pl < x->dims[0] * x->dims[1]; pl++) {
        double acc = is_max ? lowest_value(x->dtype) : 0.0;
        for (int64_t i = 0; i < plane; i++) {
            double v = d2_load_f64(x->data, x->dtype, (size_t)(pl * plane + i));
            if (is_max)
                acc = (i == 0 || v > acc) ? v : acc;
            else
                acc += v;
        }
        d2_store_f64(ctx->outputs[0].data, x->dtype, (size_t)pl, is_max ? acc : acc / (double)plane);
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_global_average_pool(struct d2_kernel_ctx *ctx)
{
    return run_global_pool(ctx, false, "global_average_pool");
}

enum d2_status d2_cpu_ref_global_max_pool(struct d2_kernel_ctx *ctx)
{
    return run_global_pool(ctx, true, "global_max_pool");
}
