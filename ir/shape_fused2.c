/* ir/shape_fused2.c: shape function of upsample_add, the FPN top-down merge made by
 * passes/fuse_upsample_add.c (fused_conv's is in ir/shape_fused.c).
 *
 * upsample_add(X [N, C, d1..dk], T [N, C, t1..tk]) {scales [k]} computes
 *     Y[n, c, i1..ik] = X[n, c, i1..ik] + T[n, c, floor(i1 / scales[0]), .., floor(ik / scales[k-1])]
 * i.e. X plus T upsampled by nearest neighbour with integer factors. Y has X's type.
 * Rules (D2_ERR_SHAPE otherwise):
 *   - X and T have the same float dtype (f32, f64, f16, bf16) and the same rank >= 3;
 *   - scales has one integer >= 1 per spatial dim (rank - 2 of them);
 *   - N and C agree, and every spatial dim of X is exactly t_i * scales[i] (no
 *     broadcasting, no cropping: the pass only fuses a resize whose output is X's
 *     shape, so the op never needs more). Unknown dims are checked at run time; a dim X
 *     leaves unknown is taken from T when T knows it.
 * There is no target-size attribute: the output size is always X's, so a resize by
 * `sizes` (torchvision's F.interpolate(size=lateral.shape[-2:])) fuses with the
 * integer factors sizes / input dims, when those are integers.
 */
#include "ir.h"

enum d2_status d2_shape_upsample_add(struct d2_shape_ctx *ctx);

enum d2_status d2_shape_upsample_add(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_upsample_add *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *t = ctx->input_types[1];
    struct d2_type *y = &ctx->output_types[0];

    if (x->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_float(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "upsample_add: X must be a float tensor, got %s",
                         d2_dtype_name(x->dtype));
    if (x->dtype != D2_DTYPE_UNDEFINED && t->dtype != D2_DTYPE_UNDEFINED && x->dtype != t->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "upsample_add: X is %s but T is %s", d2_dtype_name(x->dtype),
                         d2_dtype_name(t->dtype));
    for (uint32_t i = 0; i < a->scales.count; i++)
        if (a->scales.data[i] < 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "upsample_add: scales[%u] = %lld must be >= 1", i,
                             (long long)a->scales.data[i]);
    *y = *x;
    if (y->dtype == D2_DTYPE_UNDEFINED)
        y->dtype = t->dtype;
    if (x->rank < 0 && t->rank < 0)
        return D2_OK;
    if (x->rank >= 0 && t->rank >= 0 && x->rank != t->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "upsample_add: X has rank %d but T rank %d", (int)x->rank,
                         (int)t->rank);
    int32_t rank = x->rank >= 0 ? x->rank : t->rank;
    if (rank < 3)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "upsample_add: inputs must be [N, C, d1..dk] (rank >= 3), got rank %d",
                         (int)rank);
    if (a->scales.count != (uint32_t)(rank - 2))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "upsample_add: %u scales for %d spatial dims", a->scales.count,
                         (int)(rank - 2));
    if (x->rank < 0) { /* only T is known: Y's rank, and its dims where T has them */
        y->rank = rank;
        for (int32_t d = 0; d < rank; d++) {
            y->dims[d] = D2_DIM_UNKNOWN;
            y->symbols[d] = NULL;
            y->upper_bounds[d] = -1;
        }
    }
    if (t->rank < 0)
        return D2_OK;
    for (int32_t d = 0; d < rank; d++) {
        int64_t factor = d < 2 ? 1 : a->scales.data[d - 2];
        if (t->dims[d] > 0 && factor > INT64_MAX / t->dims[d])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "upsample_add: T dim %d times %lld overflows", (int)d,
                             (long long)factor);
        int64_t want = t->dims[d] >= 0 ? t->dims[d] * factor : D2_DIM_UNKNOWN;
        if (want >= 0 && y->dims[d] >= 0 && y->dims[d] != want)
            return d2_errorf(ctx->err, D2_ERR_SHAPE,
                             "upsample_add: X dim %d is %lld but T's %lld times %lld is %lld", (int)d,
                             (long long)y->dims[d], (long long)t->dims[d], (long long)factor, (long long)want);
        if (want >= 0 && y->dims[d] < 0) { /* T knows more */
            y->dims[d] = want;
            y->symbols[d] = NULL;
            y->upper_bounds[d] = -1;
        }
    }
    return D2_OK;
}
