/* backends/cpu/ref_postproc.h: detectron2's post-processing computations, shared by the
 * reference kernels of paste_masks, heatmaps_to_keypoints and upsample
 * (backends/cpu/ref_postproc_*.c) and by the runtime's detector_postprocess
 * (runtime/postprocess.c), so that both compute exactly the same thing.
 *
 * Precision: where detectron2/PyTorch computes in float32 (every float32, float16 and
 * bfloat16 input: PyTorch's "opmath" type is float), these functions do the same float32
 * operations in the same order, so coordinates and thresholds decide like PyTorch does;
 * float64 inputs are computed in double. Inputs may be any float dtype.
 *
 * d2_paste_masks: detectron2 paste_masks_in_image (mask_ops.py, CPU path). For box i =
 *   (x0, y0, x1, y1) and each canvas pixel (px, py) in the box hull
 *   [max(floor(x0) - 1, 0), min(ceil(x1) + 1, W)) (rows likewise), in float32:
 *     gx = ((px + 0.5) - x0) / (x1 - x0) * 2 - 1        (detectron2's grid)
 *     u  = (gx + 1) * (Mw / 2) - 0.5                     (grid_sample's unnormalize,
 *                                                         align_corners=False)
 *   v likewise, then bilinear sampling of the Mh x Mw map with zero padding, weights
 *   nw = (1 - dy)(1 - dx), ne = (1 - dy) dx, sw = dy (1 - dx), se = dy dx summed in that order;
 *   out = value >= threshold (bool), or for threshold < 0 the u8 trunc(value * 255).
 *   Pixels outside the hull are 0. masks: [n, Mh, Mw] or [n, 1, Mh, Mw]; boxes [n, 4]; out:
 *   allocated by the caller, bool (or u8) [n, H, W], zeroed.
 *
 * d2_heatmaps_to_keypoints: detectron2 heatmaps_to_keypoints (keypoints.py) and the
 *   pred_keypoints columns (x, y, score) keypoint_rcnn_inference keeps. Per ROI:
 *   w = max(x1 - x0, 1), h likewise, (in float32); the K maps are upsampled to
 *   (ceil(h), ceil(w)) like F.interpolate(mode="bicubic", align_corners=False) (see upsample
 *   below); per keypoint the first argmax (x_int, y_int) of the upsampled map gives
 *   x = (x_int + 0.5) * (w / ceil(w)) + x0, y likewise, and
 *   score = exp(up[y_int, x_int] - max_up) / sum over the Sh x Sw input map of exp(map - max_up).
 *   out: caller-allocated [n, K, 3], any float dtype.
 *
 * Upsampling (torch.nn.functional.interpolate on [N, C, spatial...]), per spatial axis with
 *   input length `in`, output length `out`, optional user scale factor `sf` (> 0 or absent),
 *   in opmath precision (float32; double for float64 data):
 *   nearest: s = sf ? (float)(1.0 / sf) : (float)in / out; src = min(floor(j * s), in - 1).
 *   linear/cubic: s = align_corners ? (out > 1 ? (in - 1) / (out - 1) : 0)
 *                                    : (sf ? 1 / sf : in / out);
 *     src = align_corners ? s * j : s * (j + 0.5) - 0.5, and for linear a negative src is 0.
 *     i0 = min(floor(src), in - 1), t = clamp(src - i0, 0, 1).
 *     linear: taps i0, i0 + (i0 < in - 1) with weights 1 - t, t.
 *     cubic:  taps i0 - 1 .. i0 + 2 (each clamped into [0, in)) with Keys' weights, A = -0.75:
 *             W(t + 1), W(t), W(1 - t), W(2 - t).
 *   The spatial axes are interpolated separably, accumulating in double.
 */
#ifndef D2_BACKENDS_CPU_REF_POSTPROC_H
#define D2_BACKENDS_CPU_REF_POSTPROC_H

#include "cpu.h"

enum d2_status d2_paste_masks(const struct d2_tensor *masks, const struct d2_tensor *boxes, double threshold,
                              const struct d2_allocator *alloc, struct d2_tensor *out, struct d2_error *err);

enum d2_status d2_heatmaps_to_keypoints(const struct d2_tensor *heatmaps, const struct d2_tensor *boxes,
                                        const struct d2_allocator *alloc, struct d2_tensor *out,
                                        struct d2_error *err);

/* The taps of one upsampled axis: output coordinate j reads input indices
 * index[j * taps + t] with weights weight[j * taps + t]. */
struct d2_upsample_taps {
    int32_t taps;      /* 1 nearest, 2 linear, 4 cubic */
    int64_t *index;    /* [out * taps], in [0, in) */
    double *weight;    /* [out * taps] */
};

/* mode: enum d2_resize_mode; scale_factor <= 0: none; use_double: compute coordinates in
 * double (float64 data) instead of float32. */
enum d2_status d2_upsample_make_taps(int32_t mode, bool align_corners, int64_t in, int64_t out,
                                     double scale_factor, bool use_double, const struct d2_allocator *alloc,
                                     struct d2_upsample_taps *taps, struct d2_error *err);
void d2_upsample_free_taps(const struct d2_allocator *alloc, struct d2_upsample_taps *taps);

#endif
