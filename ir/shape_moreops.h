/* ir/shape_moreops.h: the "more ops" family (ops.def section "more ops": extra unary
 * math and activations, bitwise ops, cum_prod, normalizations, grid_sample) as one
 * X-macro list, and the prototypes of its shape functions (ir/shape_moreops.c). The
 * table in ir/shape.c finds the functions by name; the kernels
 * (backends/cpu/ref_moreops.h) reuse the list for their prototypes. */
#ifndef D2_IR_SHAPE_MOREOPS_H
#define D2_IR_SHAPE_MOREOPS_H

#include "ir.h"

#define D2_MOREOPS_OPS(X)                                                              \
    X(tan) X(sinh) X(cosh) X(asin) X(acos) X(atan) X(asinh) X(acosh) X(atanh)          \
    X(mish) X(celu) X(thresholded_relu) X(shrink) X(swish) X(bitwise_not)              \
    X(bit_shift) X(bitwise_and) X(bitwise_or) X(bitwise_xor) X(cum_prod)               \
    X(layer_norm) X(group_norm) X(rms_norm) X(mean_variance_norm) X(lp_norm)           \
    X(grid_sample) X(center_crop_pad)

#define D2_X(name) enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx);
D2_MOREOPS_OPS(D2_X)
#undef D2_X

#endif
