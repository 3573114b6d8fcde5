/* ir/shape_fused.h: ops made by fusion passes (passes/fuse_conv.c).
 *
 * fused_conv(X, W, B?, R?) {conv attributes, activation} computes
 *     Y = activation(conv(X, W, B) + R)
 * where R, the residual, has exactly Y's type. Its shape rule is conv's (the conv
 * attributes are copied into a struct d2_attrs_conv and conv's shape function runs),
 * so there is one source of truth for the window geometry (ir/shape_nn.h).
 */
#ifndef D2_IR_SHAPE_FUSED_H
#define D2_IR_SHAPE_FUSED_H

#include "ir.h"

/* The conv part of a fused_conv's attributes (arrays are shared, not copied). */
void d2_fused_conv_conv_attrs(const struct d2_attrs_fused_conv *fused, struct d2_attrs_conv *conv);

enum d2_status d2_shape_fused_conv(struct d2_shape_ctx *ctx);

#endif
