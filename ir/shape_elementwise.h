/* ir/shape_elementwise.h: the elementwise op family (ops.def sections "elementwise
 * unary" and "elementwise binary and variadic") as one X-macro list, and the
 * prototypes of its shape functions (ir/shape_elementwise.c). The table in ir/shape.c
 * finds the functions by name; this header exists so that the definitions have
 * prototypes and the kernels (backends/cpu/ref_elementwise.h) can reuse the list. */
#ifndef D2_IR_SHAPE_ELEMENTWISE_H
#define D2_IR_SHAPE_ELEMENTWISE_H

#include "ir.h"

#define D2_ELEMENTWISE_OPS(X)                                                         \
    X(identity) X(abs) X(neg) X(floor) X(ceil) X(round) X(sign) X(exp) X(log)         \
    X(sqrt) X(reciprocal) X(sigmoid) X(tanh) X(erf) X(sin) X(cos) X(relu)             \
    X(leaky_relu) X(elu) X(selu) X(hard_sigmoid) X(hard_swish) X(softplus)            \
    X(softsign) X(gelu) X(not) X(is_nan) X(is_inf) X(cast) X(clip)                    \
    X(add) X(sub) X(mul) X(div) X(pow) X(mod) X(fmod) X(prelu) X(equal) X(greater)    \
    X(less) X(greater_equal) X(less_equal) X(and) X(or) X(xor) X(max) X(min) X(sum)   \
    X(mean) X(where)

#define D2_X(name) enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx);
D2_ELEMENTWISE_OPS(D2_X)
#undef D2_X

#endif
