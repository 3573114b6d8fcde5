/* backends/cpu/ref_elementwise_common.c: output preparation, broadcasting and rounding
 * helpers for the elementwise reference kernels (see ref_elementwise.h). */
#include "ref_elementwise.h"

#include <string.h>

enum d2_status d2_ew_prepare_output(struct d2_kernel_ctx *ctx, uint32_t index, enum d2_dtype dtype,
                                    int32_t rank, const int64_t *dims)
{
    struct d2_tensor *out;
    int64_t numel = d2_dims_numel(rank, dims);
    bool matches;
    if (index >= ctx->num_outputs)
        return d2_errorf(ctx->err, D2_ERR_INTERNAL, "output %u missing (node has %u)", index, ctx->num_outputs);
    if (numel < 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "output element count overflows");
    out = &ctx->outputs[index];
    matches = out->dtype == dtype && out->rank == rank && (out->data != NULL || numel == 0) &&
              memcmp(out->dims, dims, (size_t)rank * sizeof *dims) == 0;
    if (matches)
        return D2_OK;
    return d2_kernel_alloc_output(ctx, index, dtype, rank, dims);
}

enum d2_status d2_ew_broadcast_shape(struct d2_kernel_ctx *ctx, uint32_t count,
                                     const struct d2_tensor *const *tensors, int32_t *rank, int64_t *dims)
{
    int32_t out_rank = 0;
    for (uint32_t k = 0; k < count; k++)
        if (tensors[k]->rank > out_rank)
            out_rank = tensors[k]->rank;
    for (int32_t d = 0; d < out_rank; d++)
        dims[d] = 1;
    for (uint32_t k = 0; k < count; k++) {
        const struct d2_tensor *t = tensors[k];
        for (int32_t j = 0; j < t->rank; j++) {
            int32_t d = j + (out_rank - t->rank); /* right-aligned */
            if (t->dims[j] == dims[d] || t->dims[j] == 1)
                continue;
            if (dims[d] != 1)
                return d2_errorf(ctx->err, D2_ERR_SHAPE,
                                 "input %u dim %d (%lld) does not broadcast with %lld", k,
                                 (int)j, (long long)t->dims[j], (long long)dims[d]);
            dims[d] = t->dims[j];
        }
    }
    *rank = out_rank;
    return D2_OK;
}

double d2_ew_round_to(enum d2_dtype t, double v)
{
    switch (t) {
    case D2_DTYPE_F32: return (float)v;
    case D2_DTYPE_F16: return d2_f16_to_f32(d2_f32_to_f16((float)v));
    case D2_DTYPE_BF16: return d2_bf16_to_f32(d2_f32_to_bf16((float)v));
    default: return v;
    }
}
