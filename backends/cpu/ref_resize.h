/* backends/cpu/ref_resize.h: the resize reference's per-axis sampling taps, shared
 * with the fast kernel (fast_resize.c) so both compute every source index and weight
 * with the same code: the coordinate transform, the nearest rounding and the
 * linear/cubic (antialiased, exclude_outside) kernels of ONNX Resize. */
#ifndef D2_BACKENDS_CPU_REF_RESIZE_H
#define D2_BACKENDS_CPU_REF_RESIZE_H

#include "../../ir/shape_detect.h"
#include "cpu.h"

/* The taps of one axis: output coordinate j reads input index[j*taps + k] with weight
 * weight[j*taps + k], k < taps. An axis that is not resized is the identity (one tap
 * of weight 1). */
struct d2_resize_taps {
    int64_t taps;        /* taps per output coordinate */
    int64_t *index;      /* [out * taps], clamped into [0, in) */
    double *weight;      /* [out * taps] */
    bool *extrapolate;   /* [out]: tf_crop_and_resize sample outside the input */
};

/* Taps of `axis` (input length in) of the resize node in ctx under plan; allocated
 * with ctx->alloc, freed by d2_resize_free_taps (also after a failure). */
enum d2_status d2_resize_make_taps(struct d2_kernel_ctx *ctx, const struct d2_resize_plan *plan, int32_t axis,
                                   int64_t in, struct d2_resize_taps *t);
void d2_resize_free_taps(struct d2_kernel_ctx *ctx, struct d2_resize_taps *t);

#endif
