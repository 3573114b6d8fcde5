/* backends/cpu/fast_conv.h: helpers shared by the conv (fast_conv.c) and conv_transpose
 * (fast_conv_transpose.c) op kernels: reading a node's inputs and its window into the
 * d2_conv2d_params of fast.h. Only for those two files. */
#ifndef D2_BACKENDS_CPU_FAST_CONV_H
#define D2_BACKENDS_CPU_FAST_CONV_H

#include "fast.h"

#include "../../ir/shape_nn.h"

static inline const struct d2_tensor *optional_input(const struct d2_kernel_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->inputs[i] : NULL;
}

/* The 2-D view of a 1-D or 2-D window (1-D: a height of 1). False when the fast path
 * does not apply. */
static inline bool params_from_window(const struct d2_window *win, const struct d2_tensor *x, struct d2_conv2d_params *p)
{
    int32_t s = win->spatial;
    if (s < 1 || s > 2)
        return false;
    p->batch = x->dims[0];
    p->in_channels = x->dims[1];
    p->in_h = s == 2 ? win->in[0] : 1;
    p->kernel_h = s == 2 ? win->kernel[0] : 1;
    p->stride_h = s == 2 ? win->stride[0] : 1;
    p->pad_top = s == 2 ? win->pad_begin[0] : 0;
    p->dilation_h = s == 2 ? win->dilation[0] : 1;
    p->out_h = s == 2 ? win->out[0] : 1;
    p->in_w = win->in[s - 1];
    p->kernel_w = win->kernel[s - 1];
    p->stride_w = win->stride[s - 1];
    p->pad_left = win->pad_begin[s - 1];
    p->dilation_w = win->dilation[s - 1];
    p->out_w = win->out[s - 1];
    return true;
}

static inline bool is_f32_tensor(const struct d2_tensor *t, int32_t rank)
{
    return t && t->dtype == D2_DTYPE_F32 && (rank < 0 || t->rank == rank);
}

#endif
