/* ir/shape_fused.c: shape functions of the fused ops (contract in ir/shape_fused.h). */
#include "shape_fused.h"

#include <string.h>

#include "shape_nn.h"

void d2_fused_conv_conv_attrs(const struct d2_attrs_fused_conv *fused, struct d2_attrs_conv *conv)
{
    memset(conv, 0, sizeof *conv);
    conv->kernel_shape = fused->kernel_shape;
    conv->strides = fused->strides;
    conv->pads = fused->pads;
    conv->dilations = fused->dilations;
    conv->group = fused->group;
    conv->auto_pad = fused->auto_pad;
}

enum d2_status d2_shape_fused_conv(struct d2_shape_ctx *ctx)
{
    struct d2_attrs_conv conv_attrs;
    struct d2_node conv_node = *ctx->node;
    struct d2_shape_ctx conv_ctx = *ctx;
    const struct d2_type *r = ctx->num_inputs > 3 ? ctx->input_types[3] : NULL;
    const struct d2_type *y = &ctx->output_types[0];
    enum d2_status st;

    d2_fused_conv_conv_attrs(ctx->node->attrs, &conv_attrs);
    conv_node.op = D2_OP_CONV;
    conv_node.attrs = &conv_attrs;
    conv_node.num_inputs = ctx->num_inputs < 3 ? ctx->num_inputs : 3;
    conv_ctx.node = &conv_node;
    conv_ctx.num_inputs = conv_node.num_inputs;
    if ((st = d2_shape_conv(&conv_ctx)) != D2_OK)
        return st;
    if (!r)
        return D2_OK;
    /* The residual is added elementwise without broadcasting: same dtype and rank,
     * and every dim known on both sides must agree. */
    if (r->dtype != D2_DTYPE_UNDEFINED && y->dtype != D2_DTYPE_UNDEFINED && r->dtype != y->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "fused_conv: residual is %s but the conv gives %s",
                         d2_dtype_name(r->dtype), d2_dtype_name(y->dtype));
    if (r->rank >= 0 && y->rank >= 0) {
        if (r->rank != y->rank)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "fused_conv: residual has rank %d, the conv output rank %d",
                             (int)r->rank, (int)y->rank);
        for (int32_t d = 0; d < y->rank; d++) {
            if (r->dims[d] >= 0 && y->dims[d] >= 0 && r->dims[d] != y->dims[d])
                return d2_errorf(ctx->err, D2_ERR_SHAPE,
                                 "fused_conv: residual dim %d is %lld, the conv output's is %lld", (int)d,
                                 (long long)r->dims[d], (long long)y->dims[d]);
            if (y->dims[d] < 0 && r->dims[d] >= 0) /* the residual knows more */
                ctx->output_types[0].dims[d] = r->dims[d], ctx->output_types[0].symbols[d] = NULL;
        }
    }
    return D2_OK;
}
