/* backends/cpu/fast_upsample_add.c: the fast kernel of upsample_add (FPN's top-down
 * merge, Y = X + T upsampled by nearest neighbour with integer scales; semantics in
 * ir/shape_fused2.c, reference in ref_upsample_add.c).
 *
 * One pass over the output: f32 tensors of rank 3 or 4 are cut into output rows
 * (N*C*H rows of W elements; rank 3 is H = 1), the rows are shared out over the
 * session's thread pool, and row i of plane p reads X's row in place and T's row
 * p*Th + i/sh, each T element feeding sw consecutive outputs. Every output element is
 * written (the kernel never relies on zeroed outputs). The sum is the float sum a + b,
 * bit-identical to the reference and to the add op. The op is memory bound: the loops
 * are plain C for the compiler to vectorize, with the common factors 1 and 2 spelled
 * out. Anything else (other dtypes, rank 5, malformed shapes, no fast session) goes to
 * the reference kernel, which also owns the error messages.
 */
#include "fast.h"

#include <string.h>

#include "ref_nn.h"

enum d2_status d2_cpu_ref_upsample_add(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_upsample_add(struct d2_kernel_ctx *ctx);

struct upsample_add_job {
    const float *x, *t;
    float *y;
    int64_t h, w;   /* output (and X) rows per plane, row length */
    int64_t th, tw; /* T's rows per plane, row length */
    int64_t sh, sw; /* integer scales: h = th * sh, w = tw * sw */
};

/* Output rows [begin, end). */
static void upsample_add_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct upsample_add_job *job = ctx;
    const int64_t w = job->w, tw = job->tw, sw = job->sw;
    (void)thread;
    for (int64_t r = begin; r < end; r++) {
        int64_t plane = r / job->h, i = r % job->h;
        const float *restrict xr = job->x + r * w;
        const float *restrict tr = job->t + (plane * job->th + i / job->sh) * tw;
        float *restrict yr = job->y + r * w;
        if (sw == 1) {
            for (int64_t j = 0; j < w; j++)
                yr[j] = xr[j] + tr[j];
        } else if (sw == 2) {
            for (int64_t j = 0; j < tw; j++) {
                float v = tr[j];
                yr[2 * j] = xr[2 * j] + v;
                yr[2 * j + 1] = xr[2 * j + 1] + v;
            }
        } else {
            for (int64_t j = 0; j < tw; j++) {
                float v = tr[j];
                for (int64_t k = 0; k < sw; k++)
                    yr[j * sw + k] = xr[j * sw + k] + v;
            }
        }
    }
}

/* The fast path applies: f32, rank 3 or 4, scales that map T exactly onto X. */
static bool fast_path_applies(const struct d2_kernel_ctx *ctx, const struct d2_tensor *x, const struct d2_tensor *t)
{
    const struct d2_attrs_upsample_add *a = ctx->node->attrs;
    if (x->dtype != D2_DTYPE_F32 || t->dtype != D2_DTYPE_F32 || x->rank != t->rank || (x->rank != 3 && x->rank != 4) ||
        a->scales.count != (uint32_t)(x->rank - 2) || (d2_tensor_numel(x) > 0 && (!x->data || !t->data)))
        return false;
    for (int32_t d = 0; d < x->rank; d++) {
        int64_t factor = d < 2 ? 1 : a->scales.data[d - 2];
        if (factor < 1 || x->dims[d] % factor != 0 || x->dims[d] / factor != t->dims[d])
            return false;
    }
    return true;
}

enum d2_status d2_cpu_fast_upsample_add(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_attrs_upsample_add *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *t = ctx->inputs[1];
    struct upsample_add_job job;
    enum d2_status st;

    if (!fast || !fast_path_applies(ctx, x, t))
        return d2_cpu_ref_upsample_add(ctx);
    if ((st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, x->rank, x->dims)) != D2_OK)
        return st;
    if (d2_tensor_numel(x) == 0)
        return D2_OK;
    memset(&job, 0, sizeof job);
    job.x = x->data;
    job.t = t->data;
    job.y = ctx->outputs[0].data;
    job.w = x->dims[x->rank - 1];
    job.tw = t->dims[t->rank - 1];
    job.sw = a->scales.data[a->scales.count - 1];
    job.h = x->rank == 4 ? x->dims[2] : 1;
    job.th = x->rank == 4 ? t->dims[2] : 1;
    job.sh = x->rank == 4 ? a->scales.data[0] : 1;
    int64_t rows = d2_tensor_numel(x) / job.w;
    /* About 16K outputs per chunk: enough to amortize the hand-out, small enough to
     * balance two threads on the smallest FPN level. */
    int64_t chunk = 16384 / job.w > 1 ? 16384 / job.w : 1;
    d2_threadpool_parallel_for(fast->pool, rows, chunk, upsample_add_rows, &job);
    return D2_OK;
}
