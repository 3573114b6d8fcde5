/* frontend/onnx/onnx_ops_moreops.h: converters of the "more ops" family (ONNX ops
 * onto ops.def's "more ops" section), defined in onnx_ops_moreops.c and listed in
 * the op table of onnx_ops.c. */
#ifndef D2_FRONTEND_ONNX_OPS_MOREOPS_H
#define D2_FRONTEND_ONNX_OPS_MOREOPS_H

#include "frontend/onnx/onnx_internal.h"

#define ONNX_MOREOPS_CONVERTERS(X) \
    X(celu) X(thresholded_relu) X(shrink) X(swish) X(bit_shift) X(cum_prod) X(layer_norm) \
    X(group_norm) X(rms_norm) X(mvn) X(lp_norm) X(grid_sample) X(center_crop_pad)
#define X(name) enum d2_status onnx_moreops_##name(struct onnx_node_ctx *ctx);
ONNX_MOREOPS_CONVERTERS(X)
#undef X

#endif
