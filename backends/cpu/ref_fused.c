/* backends/cpu/ref_fused.c: reference kernels of the fused ops (ir/shape_fused.h).
 *
 * fused_conv runs the reference conv (d2_cpu_ref_conv) on a conv node carrying the
 * fused node's conv attributes, then adds the residual and applies the activation in
 * place, each step rounding to the output dtype exactly as the separate add and relu
 * kernels do (the sum of two floats computed in double and rounded once is the
 * correctly rounded float sum). So a fused graph computes bit for bit what the
 * unfused one did; the op tests (tools/optests/gen_fused.py) check it against NumPy. */
#include "ref_fused.h"

#include <string.h>

#include "../../ir/shape_fused.h"
#include "ref_nn.h"

enum d2_status d2_cpu_fused_conv_with(struct d2_kernel_ctx *ctx, d2_cpu_kernel_fn conv_kernel)
{
    const struct d2_attrs_fused_conv *attrs = ctx->node->attrs;
    const struct d2_tensor *r = ctx->num_inputs > 3 ? ctx->inputs[3] : NULL;
    struct d2_attrs_conv conv_attrs;
    struct d2_node conv_node = *ctx->node;
    struct d2_kernel_ctx conv_ctx = *ctx;
    struct d2_tensor *y = &ctx->outputs[0];
    enum d2_status st;
    int64_t n;

    d2_fused_conv_conv_attrs(attrs, &conv_attrs);
    conv_node.op = D2_OP_CONV;
    conv_node.attrs = &conv_attrs;
    conv_node.num_inputs = ctx->num_inputs < 3 ? ctx->num_inputs : 3;
    conv_ctx.node = &conv_node;
    conv_ctx.num_inputs = conv_node.num_inputs;
    if ((st = conv_kernel(&conv_ctx)) != D2_OK)
        return st;
    n = d2_tensor_numel(y);
    if (r) {
        if (r->dtype != y->dtype || r->rank != y->rank || memcmp(r->dims, y->dims, sizeof r->dims[0] * (size_t)r->rank))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "fused_conv: the residual's shape differs from the output's");
        if (y->dtype == D2_DTYPE_F32) { /* float + float is correctly rounded, as via double */
            float *yf = y->data;
            const float *rf = r->data;
            for (int64_t i = 0; i < n; i++)
                yf[i] += rf[i];
        } else {
            for (int64_t i = 0; i < n; i++)
                d2_store_f64(y->data, y->dtype, (size_t)i,
                             d2_load_f64(y->data, y->dtype, (size_t)i) + d2_load_f64(r->data, r->dtype, (size_t)i));
        }
    }
    if (attrs->activation == D2_FUSED_ACT_RELU) {
        if (y->dtype == D2_DTYPE_F32) {
            float *yf = y->data;
            for (int64_t i = 0; i < n; i++)
                yf[i] = yf[i] < 0 ? 0.0f : yf[i]; /* NaN stays NaN, as in relu */
        } else {
            for (int64_t i = 0; i < n; i++)
                if (d2_load_f64(y->data, y->dtype, (size_t)i) < 0)
                    d2_store_f64(y->data, y->dtype, (size_t)i, 0.0);
        }
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_fused_conv(struct d2_kernel_ctx *ctx)
{
    return d2_cpu_fused_conv_with(ctx, d2_cpu_ref_conv);
}
