/* ir/shape_nn.h: window geometry of conv, conv_transpose and the pools.
 *
 * The output size and the resolved paddings of a windowed op depend on the same
 * attribute rules (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode,
 * output_shape, output_padding) in the shape function (ir/shape_nn.c) and in the
 * reference kernels (backends/cpu/ref_nn_*.c). Both call these functions, so the
 * ONNX formulas live in one place.
 *
 * A struct d2_window describes the spatial dims only (input dims 2..rank-1). Input
 * sizes may be D2_DIM_UNKNOWN (compile time): the corresponding output size is then
 * D2_DIM_UNKNOWN too and its paddings are meaningless. At run time every size is
 * known and the struct is complete.
 */
#ifndef D2_IR_SHAPE_NN_H
#define D2_IR_SHAPE_NN_H

#include "ir.h"

/* Spatial dims a windowed op can have: its input is [N, C, spatial...]. */
#define D2_MAX_SPATIAL (D2_MAX_RANK - 2)

struct d2_window {
    int32_t spatial;                     /* number of spatial dims (input rank - 2) */
    int64_t in[D2_MAX_SPATIAL];          /* input sizes, or D2_DIM_UNKNOWN */
    int64_t kernel[D2_MAX_SPATIAL];      /* kernel taps, or D2_DIM_UNKNOWN (W's dims unknown) */
    int64_t stride[D2_MAX_SPATIAL];
    int64_t dilation[D2_MAX_SPATIAL];
    int64_t pad_begin[D2_MAX_SPATIAL];   /* resolved: auto_pad / output_shape applied */
    int64_t pad_end[D2_MAX_SPATIAL];
    int64_t out[D2_MAX_SPATIAL];         /* output sizes, or D2_DIM_UNKNOWN */
};

/* Shape functions of the family (the table in ir/shape.c finds them by name). */
#define D2_NN_OPS(X)                                                                   \
    X(conv) X(conv_transpose) X(batch_norm) X(instance_norm) X(lrn) X(max_pool)       \
    X(average_pool) X(lp_pool) X(global_average_pool) X(global_max_pool) X(matmul)    \
    X(gemm) X(softmax) X(log_softmax) X(hardmax)
#define D2_X(name) enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx);
D2_NN_OPS(D2_X)
#undef D2_X

/* conv. in: the input's spatial sizes; w_kernel: W's spatial dims (W dims 2..), which
 * may hold D2_DIM_UNKNOWN or be NULL when W's rank is unknown. */
enum d2_status d2_window_conv(const struct d2_attrs_conv *attrs, int32_t spatial, const int64_t *in,
                              const int64_t *w_kernel, struct d2_window *w, struct d2_error *err);

/* conv_transpose: out = stride*(in-1) + output_padding + dilated kernel - pads, or
 * output_shape (pads derived from it), or in*stride for auto_pad SAME_*. */
enum d2_status d2_window_conv_transpose(const struct d2_attrs_conv_transpose *attrs, int32_t spatial,
                                        const int64_t *in, const int64_t *w_kernel,
                                        struct d2_window *w, struct d2_error *err);

/* max_pool, average_pool, lp_pool (kernel_shape is required; ceil_mode applies). */
enum d2_status d2_window_pool(const struct d2_attrs_pool *attrs, const char *op, int32_t spatial,
                              const int64_t *in, struct d2_window *w, struct d2_error *err);

#endif /* D2_IR_SHAPE_NN_H */
