/* backends/cpu/fast_resize.c: fast resize (ONNX Resize) for f32 tensors whose resampled
 * axes are among the last two, results identical to ref_resize.c:
 *   - identity (every axis keeps its length at scale 1, no crop): a copy. The
 *     reference's float -> double -> float round trip returns every value unchanged.
 *   - nearest: the per-axis source index tables are computed with the reference's
 *     formulas (below), then each output row gathers from one input row (a memcpy
 *     when the last axis is not resampled).
 *   - linear / cubic: the reference's separable passes in double, in the same order
 *     (axis H, then axis W) with the same taps, weights and summation order, but per
 *     output row: the H pass makes one row of doubles, the W pass reads it. Only the
 *     storage changes (no whole double copies of the tensor), not one operation.
 * tf_crop_and_resize, other dtypes and resampling of outer axes go to the reference.
 * The coordinate transform, nearest rounding and kernel weights are ref_resize.c's own
 * (d2_resize_make_taps, ref_resize.h); the test compares the two on every mode. */
#include "fast_data.h"

#include <math.h>
#include <string.h>

#include "../../ir/shape_detect.h"
#include "fast.h"
#include "ref_resize.h"

/* ---- the passes ----------------------------------------------------------------------- */

struct resize_job {
    const float *x;
    float *y;
    int64_t planes, in_h, in_w, out_h, out_w;
    const struct d2_resize_taps *th, *tw;    /* taps of axis H and W */
    bool pass_h, pass_w;           /* linear/cubic: does the reference run that pass? */
    bool nearest;
    double *rows;                  /* linear: one row of in_w doubles per thread */
};

/* Nearest: output rows (plane, oh) gather from input row th.index[oh]. */
static void nearest_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct resize_job *job = ctx;
    const int64_t *iw = job->tw->index;
    bool identity_w = job->in_w == job->out_w;
    for (int64_t j = 0; identity_w && j < job->out_w; j++)
        identity_w = iw[j] == j;
    (void)thread;
    for (int64_t r = begin; r < end; r++) {
        int64_t plane = r / job->out_h, oh = r % job->out_h;
        const float *src = job->x + (plane * job->in_h + job->th->index[oh]) * job->in_w;
        float *dst = job->y + r * job->out_w;
        if (identity_w) {
            memcpy(dst, src, (size_t)job->out_w * sizeof *dst);
            continue;
        }
        for (int64_t j = 0; j < job->out_w; j++)
            dst[j] = src[iw[j]];
    }
}

/* Linear / cubic: for each output row, the H pass into a double row (or the input
 * row converted when the reference skips the pass), then the W pass. */
static void interpolate_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct resize_job *job = ctx;
    double *row = job->rows + (size_t)thread * (size_t)job->in_w;
    const struct d2_resize_taps *th = job->th, *tw = job->tw;
    for (int64_t r = begin; r < end; r++) {
        int64_t plane = r / job->out_h, oh = r % job->out_h;
        const float *src = job->x + plane * job->in_h * job->in_w;
        if (job->pass_h) {
            const int64_t *ih = th->index + oh * th->taps;
            const double *wh = th->weight + oh * th->taps;
            for (int64_t i = 0; i < job->in_w; i++) {
                double acc = 0.0;
                for (int64_t k = 0; k < th->taps; k++)
                    acc += wh[k] * (double)src[ih[k] * job->in_w + i];
                row[i] = acc;
            }
        } else {
            for (int64_t i = 0; i < job->in_w; i++)
                row[i] = (double)src[oh * job->in_w + i];
        }
        float *dst = job->y + r * job->out_w;
        if (!job->pass_w) {
            for (int64_t j = 0; j < job->out_w; j++)
                dst[j] = (float)row[j];
            continue;
        }
        for (int64_t j = 0; j < job->out_w; j++) {
            const int64_t *iw = tw->index + j * tw->taps;
            const double *ww = tw->weight + j * tw->taps;
            double acc = 0.0;
            for (int64_t k = 0; k < tw->taps; k++)
                acc += ww[k] * row[iw[k]];
            dst[j] = (float)acc;
        }
    }
}

enum d2_status d2_cpu_fast_resize(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_resize(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_resize *a = ctx->node->attrs;
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_type x_type, opt_types[3];
    const struct d2_type *opt_type_ptr[3];
    struct d2_resize_plan plan;
    struct d2_error scratch_err = {0};
    if (!fast || x->dtype != D2_DTYPE_F32 || x->rank < 1 ||
        a->coordinate_transformation_mode == D2_COORD_MODE_TF_CROP_AND_RESIZE)
        return d2_fast_data_reference(ctx);
    for (int i = 0; i < 3; i++) {
        const struct d2_tensor *t = (uint32_t)(i + 1) < ctx->num_inputs ? ctx->inputs[i + 1] : NULL;
        if (t)
            d2_type_from_tensor(&opt_types[i], t);
        opt_type_ptr[i] = t ? &opt_types[i] : NULL;
    }
    d2_type_from_tensor(&x_type, x);
    if (d2_resize_make_plan(a, &x_type, opt_type_ptr[0], opt_type_ptr[0] ? ctx->inputs[1] : NULL, opt_type_ptr[1],
                            opt_type_ptr[1] ? ctx->inputs[2] : NULL, opt_type_ptr[2],
                            opt_type_ptr[2] ? ctx->inputs[3] : NULL, &plan, &scratch_err) != D2_OK)
        return d2_fast_data_reference(ctx); /* its message */
    /* Axes the reference resamples (a pass, or a nearest gather that is not the identity). */
    int32_t rank = x->rank;
    bool identity = true, outer_resampled = false;
    bool resampled[D2_MAX_RANK];
    for (int32_t d = 0; d < rank; d++) {
        if (x->dims[d] == 0)
            return d2_fast_data_reference(ctx);
        resampled[d] = plan.resized[d] && !(plan.scale[d] == 1.0 && plan.out[d] == x->dims[d]);
        /* Nearest with scale 1 may still shift (half_pixel_symmetric...): tables decide. */
        if (plan.resized[d] && plan.out[d] != x->dims[d])
            resampled[d] = true;
        identity = identity && !resampled[d];
        if (resampled[d] && d < rank - 2)
            outer_resampled = true;
    }
    if (outer_resampled)
        return d2_fast_data_reference(ctx);
    enum d2_status st = D2_OK;
    struct d2_tensor *y = &ctx->outputs[0];
    bool same = y->dtype == x->dtype && y->rank == x->rank && (y->data || d2_dims_numel(rank, plan.out) == 0);
    for (int32_t d = 0; same && d < rank; d++)
        same = y->dims[d] == plan.out[d];
    if (!same && (st = d2_kernel_alloc_output(ctx, 0, x->dtype, rank, plan.out)) != D2_OK)
        return st;
    if (d2_tensor_numel(y) == 0)
        return D2_OK;
    if (identity && a->mode != D2_RESIZE_MODE_NEAREST) {
        d2_fast_copy_bytes(fast->pool, y->data, x->data, x->nbytes);
        return D2_OK;
    }
    /* View as [planes, H, W] (rank 1: [1, 1, W]). */
    int32_t dh = rank >= 2 ? rank - 2 : -1, dw = rank - 1;
    struct d2_resize_plan view = plan;
    struct d2_resize_taps th = { 0, NULL, NULL, NULL }, tw = { 0, NULL, NULL, NULL };
    struct resize_job job;
    memset(&job, 0, sizeof job);
    job.x = x->data;
    job.y = y->data;
    job.in_w = x->dims[dw];
    job.out_w = plan.out[dw];
    job.in_h = dh >= 0 ? x->dims[dh] : 1;
    job.out_h = dh >= 0 ? plan.out[dh] : 1;
    job.planes = d2_tensor_numel(x) / (job.in_h * job.in_w);
    job.nearest = a->mode == D2_RESIZE_MODE_NEAREST;
    job.pass_h = dh >= 0 && resampled[dh];
    job.pass_w = resampled[dw];
    if (dh < 0) { /* one row: a fake identity H axis */
        view.resized[0] = false;
        view.out[0] = 1;
    }
    if (dh >= 0)
        st = d2_resize_make_taps(ctx, &plan, dh, job.in_h, &th);
    else
        st = d2_resize_make_taps(ctx, &view, 0, 1, &th);
    if (st == D2_OK)
        st = d2_resize_make_taps(ctx, &plan, dw, job.in_w, &tw);
    job.th = &th;
    job.tw = &tw;
    int64_t rows = job.planes * job.out_h;
    int64_t chunk = job.out_w >= 4096 ? 1 : 4096 / job.out_w;
    if (st == D2_OK && job.nearest) {
        d2_threadpool_parallel_for(fast->pool, rows, chunk, nearest_rows, &job);
    } else if (st == D2_OK) {
        int32_t threads = d2_threadpool_size(fast->pool);
        job.rows = d2_alloc(ctx->alloc, (size_t)threads * (size_t)job.in_w * sizeof *job.rows);
        if (!job.rows)
            st = d2_errorf(ctx->err, D2_ERR_NOMEM, "node '%s' (resize): out of memory", ctx->node->name);
        else
            d2_threadpool_parallel_for(fast->pool, rows, chunk, interpolate_rows, &job);
        d2_free(ctx->alloc, job.rows);
    }
    d2_resize_free_taps(ctx, &th);
    d2_resize_free_taps(ctx, &tw);
    return st;
}
