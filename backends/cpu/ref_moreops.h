/* backends/cpu/ref_moreops.h: prototypes of the "more ops" reference kernels
 * (ops.def section "more ops"; list in ir/shape_moreops.h) and the small helpers
 * their files share (ref_moreops_elementwise.c, ref_moreops_norm.c,
 * ref_moreops_grid.c). Private to those files.
 *
 * Number handling: floats are computed in double and rounded once to the output
 * dtype on store; integers in int64 with wrapping (two's complement) arithmetic.
 * Kernel errors need not name the node: the executor prefixes it.
 */
#ifndef D2_BACKENDS_CPU_REF_MOREOPS_H
#define D2_BACKENDS_CPU_REF_MOREOPS_H

#include "../../ir/shape_moreops.h"
#include "cpu.h"

#define D2_X(name) enum d2_status d2_cpu_ref_##name(struct d2_kernel_ctx *ctx);
D2_MOREOPS_OPS(D2_X)
#undef D2_X

/* Make output `index` a tensor of dtype/rank/dims with storage: keeps what the
 * executor allocated when it already matches, (re)allocates otherwise. */
static inline enum d2_status d2_moreops_output(struct d2_kernel_ctx *ctx, uint32_t index, enum d2_dtype dtype,
                                               int32_t rank, const int64_t *dims)
{
    struct d2_tensor *o;
    bool same;
    if (index >= ctx->num_outputs)
        return d2_errorf(ctx->err, D2_ERR_INTERNAL, "output %u missing (node has %u)", index, ctx->num_outputs);
    o = &ctx->outputs[index];
    same = o->dtype == dtype && o->rank == rank && (o->data != NULL || d2_dims_numel(rank, dims) == 0);
    for (int32_t d = 0; same && d < rank; d++)
        same = o->dims[d] == dims[d];
    return same ? D2_OK : d2_kernel_alloc_output(ctx, index, dtype, rank, dims);
}

/* Required input i, or an internal error (the executor checks arity first). */
static inline enum d2_status d2_moreops_input(struct d2_kernel_ctx *ctx, uint32_t i, const struct d2_tensor **out)
{
    if (i >= ctx->num_inputs || !ctx->inputs[i])
        return d2_errorf(ctx->err, D2_ERR_INTERNAL, "input %u is missing", i);
    *out = ctx->inputs[i];
    return D2_OK;
}

#endif
