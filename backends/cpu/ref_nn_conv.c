/* backends/cpu/ref_nn_conv.c: reference kernels of conv and conv_transpose.
 *
 * Plain loops over (image, output channel): an output plane accumulates in double,
 * starting from the bias, then for each input channel of the group and each kernel
 * tap adds tap * input over the output positions whose input position is inside the
 * image (ranges computed once per tap, so the innermost loop has no bounds checks and
 * walks one input row). Work is O(output * C/group * kernel), like the op itself.
 * 1-D and 2-D windows run as 3-D with leading size-1 dims (d2_nn_window3).
 *
 * conv:           Y[n, m, o] = B[m] + sum_{c in group(m), k} X[n, c, o*s - pad + k*d] * W[m, c', k]
 * conv_transpose: Y[n, g*Mg + m, i*s - pad + k*d] += X[n, c, i] * W[c, m, k] for c in group g
 *                 (W is [C, M/group, k...]), plus B[m].
 */
#include "ref_nn.h"

#include <string.h>

/* What both kernels have after validation: tensors viewed as f32/f64, geometry. */
struct conv_job {
    const struct d2_tensor *x, *w, *b;   /* b may be NULL */
    struct d2_tensor *y;
    struct d2_nn_floats xv, wv;
    struct d2_nn_window3 g;
    int64_t batch, in_channels, out_channels, group;
    int64_t in_plane, out_plane, kernel_size; /* elements of one spatial plane / kernel */
    double *acc;                          /* one output plane */
};

static const struct d2_tensor *optional_input(const struct d2_kernel_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->inputs[i] : NULL;
}

/* Validate what would make the loops read out of bounds (the shape function checked
 * the same, but kernels must be safe on their own), size Y, view the data. */
static enum d2_status conv_job_init(struct d2_kernel_ctx *ctx, struct conv_job *job, bool transpose)
{
    const char *op = transpose ? "conv_transpose" : "conv";
    const struct d2_tensor *x = ctx->inputs[0], *w = ctx->inputs[1], *b = optional_input(ctx, 2);
    struct d2_window win;
    enum d2_status st;

    memset(job, 0, sizeof *job);
    job->x = x;
    job->w = w;
    job->b = b;
    if (x->rank < 3 || w->rank != x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X rank %d and W rank %d must be equal and >= 3", op,
                         (int)x->rank, (int)w->rank);
    if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X, W and B must have the same dtype", op);
    job->group = transpose ? ((const struct d2_attrs_conv_transpose *)ctx->node->attrs)->group
                           : ((const struct d2_attrs_conv *)ctx->node->attrs)->group;
    job->batch = x->dims[0];
    job->in_channels = x->dims[1];
    if (job->group < 1 || w->dims[0] % job->group != 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: group %lld does not divide W's first dim %lld", op,
                         (long long)job->group, (long long)w->dims[0]);
    if (!transpose) {
        job->out_channels = w->dims[0];
        if (w->dims[1] * job->group != job->in_channels)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X has %lld channels but W expects %lld (group %lld)", op,
                             (long long)job->in_channels, (long long)(w->dims[1] * job->group),
                             (long long)job->group);
        st = d2_window_conv(ctx->node->attrs, x->rank - 2, &x->dims[2], &w->dims[2], &win, ctx->err);
    } else {
        job->out_channels = w->dims[1] * job->group;
        if (w->dims[0] != job->in_channels)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X has %lld channels but W has %lld", op,
                             (long long)job->in_channels, (long long)w->dims[0]);
        st = d2_window_conv_transpose(ctx->node->attrs, x->rank - 2, &x->dims[2], &w->dims[2], &win, ctx->err);
    }
    if (st != D2_OK)
        return st;
    if (b && (b->rank != 1 || b->dims[0] != job->out_channels))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: B must be [%lld]", op, (long long)job->out_channels);
    if (!d2_nn_window3(&win, &job->g))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "%s: %d spatial dims (the reference kernel handles 1 to 3)",
                         op, (int)win.spatial);

    int64_t y_dims[D2_MAX_RANK];
    y_dims[0] = job->batch;
    y_dims[1] = job->out_channels;
    for (int32_t i = 0; i < win.spatial; i++)
        y_dims[i + 2] = win.out[i];
    if ((st = d2_nn_prepare_output(ctx, 0, x->dtype, x->rank, y_dims)) != D2_OK)
        return st;
    job->y = &ctx->outputs[0];
    job->in_plane = job->g.in[0] * job->g.in[1] * job->g.in[2];
    job->out_plane = job->g.out[0] * job->g.out[1] * job->g.out[2];
    job->kernel_size = job->g.kernel[0] * job->g.kernel[1] * job->g.kernel[2];
    if ((st = d2_nn_floats_view(ctx, x, &job->xv)) != D2_OK || (st = d2_nn_floats_view(ctx, w, &job->wv)) != D2_OK)
        return st;
    job->acc = d2_alloc(ctx->alloc, (size_t)(job->out_plane ? job->out_plane : 1) * sizeof(double));
    if (!job->acc)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "%s: out of memory for an output plane", op);
    return D2_OK;
}

static void conv_job_release(struct d2_kernel_ctx *ctx, struct conv_job *job)
{
    d2_nn_floats_release(ctx, &job->xv);
    d2_nn_floats_release(ctx, &job->wv);
    d2_free(ctx->alloc, job->acc);
}

static void fill_bias(struct conv_job *job, int64_t m)
{
    double bias = job->b ? d2_load_f64(job->b->data, job->b->dtype, (size_t)m) : 0.0;
    for (int64_t i = 0; i < job->out_plane; i++)
        job->acc[i] = bias;
}

/* acc += W[tap] * X[plane] shifted by one kernel tap (conv). */
static void conv_add_tap(struct conv_job *job, int64_t x_plane, double weight, const int64_t *k)
{
    const struct d2_nn_window3 *g = &job->g;
    int64_t first[3], last[3], offset[3];
    for (int i = 0; i < 3; i++) {
        offset[i] = k[i] * g->dilation[i];
        d2_nn_tap_range(g->out[i], g->in[i], g->stride[i], g->pad_begin[i], offset[i], &first[i], &last[i]);
        if (first[i] >= last[i])
            return;
    }
    for (int64_t od = first[0]; od < last[0]; od++) {
        int64_t id = od * g->stride[0] - g->pad_begin[0] + offset[0];
        for (int64_t oh = first[1]; oh < last[1]; oh++) {
            int64_t ih = oh * g->stride[1] - g->pad_begin[1] + offset[1];
            int64_t iw = first[2] * g->stride[2] - g->pad_begin[2] + offset[2];
            double *acc_row = job->acc + (od * g->out[1] + oh) * g->out[2] + first[2];
            int64_t x_index = x_plane + (id * g->in[1] + ih) * g->in[2] + iw;
            d2_nn_axpy(acc_row, 1, weight, job->xv.data, job->xv.dtype, x_index, g->stride[2], last[2] - first[2]);
        }
    }
}

/* acc (scattered) += W[tap] * X[plane] (conv_transpose): input position i lands on
 * output position i*s - pad + k*d. */
static void conv_transpose_add_tap(struct conv_job *job, int64_t x_plane, double weight, const int64_t *k)
{
    const struct d2_nn_window3 *g = &job->g;
    int64_t first[3], last[3], offset[3];
    for (int i = 0; i < 3; i++) {
        offset[i] = k[i] * g->dilation[i];
        d2_nn_tap_range(g->in[i], g->out[i], g->stride[i], g->pad_begin[i], offset[i], &first[i], &last[i]);
        if (first[i] >= last[i])
            return;
    }
    for (int64_t id = first[0]; id < last[0]; id++) {
        int64_t od = id * g->stride[0] - g->pad_begin[0] + offset[0];
        for (int64_t ih = first[1]; ih < last[1]; ih++) {
            int64_t oh = ih * g->stride[1] - g->pad_begin[1] + offset[1];
            int64_t ow = first[2] * g->stride[2] - g->pad_begin[2] + offset[2];
            double *acc_row = job->acc + (od * g->out[1] + oh) * g->out[2] + ow;
            int64_t x_index = x_plane + (id * g->in[1] + ih) * g->in[2] + first[2];
            d2_nn_axpy(acc_row, g->stride[2], weight, job->xv.data, job->xv.dtype, x_index, 1, last[2] - first[2]);
        }
    }
}

/* Add every tap of one (input channel, output channel) kernel to the output plane. */
static void add_kernel(struct conv_job *job, int64_t x_plane, int64_t w_kernel, bool transpose)
{
    const struct d2_nn_window3 *g = &job->g;
    int64_t k[3], tap = 0;
    for (k[0] = 0; k[0] < g->kernel[0]; k[0]++)
        for (k[1] = 0; k[1] < g->kernel[1]; k[1]++)
            for (k[2] = 0; k[2] < g->kernel[2]; k[2]++, tap++) {
                double weight = job->wv.dtype == D2_DTYPE_F32 ? ((const float *)job->wv.data)[w_kernel + tap]
                                                              : ((const double *)job->wv.data)[w_kernel + tap];
                if (transpose)
                    conv_transpose_add_tap(job, x_plane, weight, k);
                else
                    conv_add_tap(job, x_plane, weight, k);
            }
}

static enum d2_status run_conv(struct d2_kernel_ctx *ctx, bool transpose)
{
    struct conv_job job;
    enum d2_status st = conv_job_init(ctx, &job, transpose);
    if (st == D2_OK) {
        int64_t cg = job.in_channels / job.group, mg = job.out_channels / job.group;
        for (int64_t n = 0; n < job.batch; n++)
            for (int64_t m = 0; m < job.out_channels; m++) {
                int64_t g = m / mg, mm = m % mg;
                fill_bias(&job, m);
                for (int64_t cc = 0; cc < cg; cc++) {
                    int64_t c = g * cg + cc;
                    int64_t x_plane = (n * job.in_channels + c) * job.in_plane;
                    /* conv: W[m, cc, k...]; conv_transpose: W[c, mm, k...] */
                    int64_t w_kernel = transpose ? (c * mg + mm) * job.kernel_size : (m * cg + cc) * job.kernel_size;
                    add_kernel(&job, x_plane, w_kernel, transpose);
                }
                d2_nn_store(job.y, (size_t)((n * job.out_channels + m) * job.out_plane), job.acc,
                            (size_t)job.out_plane);
            }
    }
    conv_job_release(ctx, &job);
    return st;
}

enum d2_status d2_cpu_ref_conv(struct d2_kernel_ctx *ctx)
{
    return run_conv(ctx, false);
}

enum d2_status d2_cpu_ref_conv_transpose(struct d2_kernel_ctx *ctx)
{
    return run_conv(ctx, true);
}
