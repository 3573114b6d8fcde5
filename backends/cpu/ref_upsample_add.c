/* backends/cpu/ref_upsample_add.c: reference kernel of upsample_add (ir/shape_fused2.c),
 * the FPN top-down merge made by passes/fuse_upsample_add.c:
 *     Y[n, c, i1..ik] = X[n, c, i1..ik] + T[n, c, floor(i1 / s1), .., floor(ik / sk)].
 *
 * Every element is computed on its own from its coordinates: slow and obviously
 * correct, the yardstick of the fast kernel (fast_upsample_add.c). The sum rounds
 * exactly as the add op it replaces does: f32 + f32 in float (the correctly rounded
 * sum, which is what the reference add computes through double), other float dtypes
 * through double and one rounding to the dtype (exact sums for f16/bf16, so also
 * correctly rounded). So a fused graph computes bit for bit what resize + add did.
 */
#include "cpu.h"

#include <string.h>

enum d2_status d2_cpu_ref_upsample_add(struct d2_kernel_ctx *ctx);

/* Checks the shapes again (the executor ran the shape function, but a kernel may be
 * called directly) so that the index arithmetic below stays in bounds. */
static enum d2_status check_shapes(struct d2_kernel_ctx *ctx, const struct d2_tensor *x, const struct d2_tensor *t)
{
    const struct d2_attrs_upsample_add *a = ctx->node->attrs;
    const char *name = ctx->node->name;
    if (x->dtype != t->dtype || !d2_dtype_is_float(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (upsample_add): X (%s) and T (%s) must be the same float dtype",
                         name, d2_dtype_name(x->dtype), d2_dtype_name(t->dtype));
    if (x->rank != t->rank || x->rank < 3 || a->scales.count != (uint32_t)(x->rank - 2))
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "node '%s' (upsample_add): X rank %d, T rank %d, %u scales (need equal ranks >= 3 and rank - 2 scales)",
                         name, (int)x->rank, (int)t->rank, a->scales.count);
    for (int32_t d = 0; d < x->rank; d++) {
        int64_t factor = d < 2 ? 1 : a->scales.data[d - 2];
        if (factor < 1 || x->dims[d] % factor != 0 || x->dims[d] / factor != t->dims[d]) /* no overflow */
            return d2_errorf(ctx->err, D2_ERR_SHAPE,
                             "node '%s' (upsample_add): X dim %d is %lld, T's is %lld, scale %lld", name, (int)d,
                             (long long)x->dims[d], (long long)t->dims[d], (long long)factor);
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_upsample_add(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_upsample_add *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *t = ctx->inputs[1];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t t_strides[D2_MAX_RANK], numel;
    enum d2_status st;

    if ((st = check_shapes(ctx, x, t)) != D2_OK)
        return st;
    if (y->dtype != x->dtype || y->rank != x->rank || memcmp(y->dims, x->dims, sizeof x->dims[0] * (size_t)x->rank) ||
        !y->data) {
        if ((st = d2_kernel_alloc_output(ctx, 0, x->dtype, x->rank, x->dims)) != D2_OK)
            return st;
    }
    numel = d2_tensor_numel(x);
    d2_strides(t->rank, t->dims, t_strides);
    for (int64_t o = 0; o < numel; o++) {
        int64_t rem = o, src = 0;
        for (int32_t d = x->rank - 1; d >= 0; d--) {
            int64_t i = rem % x->dims[d];
            rem /= x->dims[d];
            src += (d >= 2 ? i / a->scales.data[d - 2] : i) * t_strides[d];
        }
        if (x->dtype == D2_DTYPE_F32)
            ((float *)y->data)[o] = ((const float *)x->data)[o] + ((const float *)t->data)[src];
        else
            d2_store_f64(y->data, y->dtype, (size_t)o,
                         d2_load_f64(x->data, x->dtype, (size_t)o) + d2_load_f64(t->data, t->dtype, (size_t)src));
    }
    return D2_OK;
}
