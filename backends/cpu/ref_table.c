/* backends/cpu/ref_table.c: the reference kernel table, generated from ops.def.
 * Declarations are weak: a missing kernel leaves NULL (the coverage test reports it)
 * rather than breaking the link while the op set grows. */
#include "cpu.h"

#include <string.h>

#define D2_OP(ID, name, ...) enum d2_status d2_cpu_ref_##name(struct d2_kernel_ctx *ctx) __attribute__((weak));
#include "../../ir/ops.def"

d2_cpu_kernel_fn d2_cpu_ref_kernel(enum d2_op op)
{
    static const d2_cpu_kernel_fn table[D2_OP_COUNT] = {
#define D2_OP(ID, name, ...) [D2_OP_##ID] = d2_cpu_ref_##name,
#include "../../ir/ops.def"
    };
    return (unsigned)op < D2_OP_COUNT ? table[op] : NULL;
}

enum d2_status d2_kernel_alloc_output(struct d2_kernel_ctx *ctx, uint32_t i, enum d2_dtype dtype,
                                      int32_t rank, const int64_t *dims)
{
    if (i >= ctx->num_outputs)
        return d2_errorf(ctx->err, D2_ERR_INTERNAL, "kernel output %u of %u", i, ctx->num_outputs);
    d2_tensor_release(&ctx->outputs[i], ctx->alloc);
    return d2_tensor_alloc(&ctx->outputs[i], ctx->alloc, dtype, rank, dims, ctx->err);
}

void d2_strides(int32_t rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int32_t i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

int64_t d2_broadcast_index(int64_t out_index, int32_t out_rank, const int64_t *out_dims,
                           int32_t in_rank, const int64_t *in_dims)
{
    int64_t in_index = 0, in_stride = 1;
    for (int32_t i = out_rank - 1; i >= 0; i--) {
        int64_t coord = out_index % out_dims[i];
        int32_t j = i - (out_rank - in_rank);
        out_index /= out_dims[i];
        if (j >= 0) {
            if (in_dims[j] != 1)
                in_index += coord * in_stride;
            in_stride *= in_dims[j];
        }
    }
    return in_index;
}
