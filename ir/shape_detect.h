/* ir/shape_detect.h: resize's output-size and scale rules, shared by the shape
 * function (ir/shape_detect.c) and the reference kernel (backends/cpu/ref_resize.c)
 * so the ONNX formulas live in one place.
 *
 * resize(X, roi?, scales?, sizes?) {axes, keep_aspect_ratio_policy, ...}, ONNX
 * opset 19: exactly one of scales and sizes is given (an omitted input or an empty
 * tensor counts as not given). They list one entry per axis of `axes` (all axes when
 * the attribute is empty); other axes keep their size and scale 1.
 *   scales: out = floor(in * scale), and scale is used as given.
 *   sizes, policy stretch: out = sizes, scale = out / in.
 *   sizes, not_larger / not_smaller: one scale s = min / max over the axes of
 *     sizes/in, out = floor(s * in + 0.5), every listed axis uses s.
 * roi (tf_crop_and_resize only) is [starts..., ends...] for the listed axes, each
 * normalized to [0, 1]; absent: 0 and 1.
 */
#ifndef D2_IR_SHAPE_DETECT_H
#define D2_IR_SHAPE_DETECT_H

#include "ir.h"

struct d2_resize_plan {
    int32_t rank;
    bool resized[D2_MAX_RANK];      /* listed in axes (or all axes) */
    int64_t out[D2_MAX_RANK];       /* output dims; D2_DIM_UNKNOWN when not known yet */
    double scale[D2_MAX_RANK];      /* coordinate-transform scale; 0 when not known yet */
    double roi_start[D2_MAX_RANK];  /* normalized crop window (tf_crop_and_resize) */
    double roi_end[D2_MAX_RANK];
};

/* Fill plan from X's type and the optional inputs' types (NULL: omitted) and values
 * (NULL: not known yet). x->rank must be known. Errors (D2_ERR_SHAPE) for bad
 * axes, both or neither of scales/sizes, wrong lengths, non-positive scales or
 * negative sizes. */
enum d2_status d2_resize_make_plan(const struct d2_attrs_resize *attrs, const struct d2_type *x,
                                   const struct d2_type *roi_type, const struct d2_tensor *roi,
                                   const struct d2_type *scales_type, const struct d2_tensor *scales,
                                   const struct d2_type *sizes_type, const struct d2_tensor *sizes,
                                   struct d2_resize_plan *plan, struct d2_error *err);

#endif
