/* backends/cpu/ref_detect2_roi.c: reference kernel of box_roi_align.
 *
 * box_roi_align(X [N,C,H,W], rois, batch_indices?) {spatial_scale, pooled_h, pooled_w,
 * sampling_ratio, aligned, mode} = torchvision.ops.roi_align = Caffe2 RoIAlign (with
 * its `aligned` argument) = ONNX RoiAlign-16 in avg mode:
 *   - rois [R,5] are (batch index, x1, y1, x2, y2), the index truncated to an integer;
 *     [R,4] rois take their batch index from batch_indices, or 0 without it (Caffe2);
 *     an index outside [0, N) is a D2_ERR_SHAPE error;
 *   - start = x1 * spatial_scale - offset, end = x2 * spatial_scale - offset, with
 *     offset 0.5 when aligned (half-pixel), else 0 and the roi size clamped to >= 1
 *     (legacy; ONNX output_half_pixel);
 *   - bin size = roi size / pooled size; the grid is sampling_ratio per bin side, or
 *     ceil(roi size / pooled size) when sampling_ratio <= 0 (adaptive);
 *   - sample (iy, ix) of bin (ph, pw) is at y = start_y + ph * bin_h + (iy + 0.5) *
 *     bin_h / grid_h (x likewise), read bilinearly: 0 when y < -1, y > H, x < -1 or
 *     x > W; otherwise y <= 0 reads as 0, and y_low = (int)y >= H - 1 reads row H - 1
 *     only (likewise x);
 *   - avg: the sum over the grid divided by max(grid_h * grid_w, 1), so an empty grid
 *     (a roi of zero or negative size when aligned) gives 0;
 *     max: the largest interpolated sample of the grid (an out-of-range sample counts
 *     as 0; an empty grid gives 0). This is the natural max; ONNX RoiAlign's max mode
 *     (max of weighted corners) stays with the onnx roi_align op.
 * Geometry (roi corners, sizes, grid, sample positions, bilinear weights) is rounded to
 * float for f32/f16 X as torchvision computes it (ref_detect2.h); sums are in double.
 */
#include "ref_detect2.h"

#include <math.h>

enum d2_status d2_cpu_ref_box_roi_align(struct d2_kernel_ctx *ctx);

/* Bilinear taps of (y, x) on an H x W plane; false for a sample that reads as 0. */
static bool bilinear_taps(bool s, double y, double x, int64_t height, int64_t width, int64_t offset[4],
                          double weight[4])
{
    if (y < -1.0 || y > (double)height || x < -1.0 || x > (double)width)
        return false;
    if (y <= 0)
        y = 0;
    if (x <= 0)
        x = 0;
    int64_t y_low = (int64_t)y, x_low = (int64_t)x, y_high, x_high;
    if (y_low >= height - 1) {
        y_high = y_low = height - 1;
        y = (double)y_low;
    } else {
        y_high = y_low + 1;
    }
    if (x_low >= width - 1) {
        x_high = x_low = width - 1;
        x = (double)x_low;
    } else {
        x_high = x_low + 1;
    }
    double ly = det_round(s, y - (double)y_low), lx = det_round(s, x - (double)x_low);
    double hy = det_round(s, 1.0 - ly), hx = det_round(s, 1.0 - lx);
    offset[0] = y_low * width + x_low;
    offset[1] = y_low * width + x_high;
    offset[2] = y_high * width + x_low;
    offset[3] = y_high * width + x_high;
    weight[0] = det_round(s, hy * hx);
    weight[1] = det_round(s, hy * lx);
    weight[2] = det_round(s, ly * hx);
    weight[3] = det_round(s, ly * lx);
    return true;
}

/* Sample position start + p * bin + (i + 0.5) * bin / grid, in torchvision's order. */
static double sample_position(bool s, double start, int64_t p, double bin, int64_t i, int64_t grid)
{
    double base = det_round(s, start + det_round(s, (double)p * bin));
    double within = det_round(s, det_round(s, ((double)i + 0.5) * bin) / (double)grid);
    return det_round(s, base + within);
}

/* ceil(roi size / pooled size); NaN (a NaN roi) gives no samples. */
static int64_t adaptive_grid(double bin)
{
    if (!(bin > 0))
        return bin <= 0 ? (int64_t)ceil(fmax(bin, -1e9)) : 0;
    return (int64_t)ceil(fmin(bin, 1e9));
}

static int64_t roi_batch_index(const struct d2_kernel_ctx *ctx, int64_t r, bool *ok)
{
    const struct d2_tensor *rois = ctx->inputs[1];
    const struct d2_tensor *batch = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    *ok = true;
    if (rois->dims[1] == 5) {
        double b = d2_load_f64(rois->data, rois->dtype, (size_t)(r * 5));
        if (!(b > -1.0 && b < 9.0e18)) {
            *ok = false;
            return 0;
        }
        return (int64_t)b; /* torchvision: int roi_batch_ind = offset_rois[0] */
    }
    return batch ? d2_load_i64(batch->data, batch->dtype, (size_t)r) : 0;
}

enum d2_status d2_cpu_ref_box_roi_align(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_box_roi_align *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *rois = ctx->inputs[1];
    const struct d2_tensor *batch = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    int64_t ph_n = a->pooled_h, pw_n = a->pooled_w;

    if (x->rank != 4 || rois->rank != 2 || (rois->dims[1] != 4 && rois->dims[1] != 5) ||
        (batch && (rois->dims[1] != 4 || batch->rank != 1 || batch->dims[0] != rois->dims[0])) || ph_n < 1 ||
        pw_n < 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "node '%s' (box_roi_align): need X [N,C,H,W] and rois [R,5] or [R,4] (+ batch_indices [R])",
                         ctx->node->name);
    int64_t num_rois = rois->dims[0], channels = x->dims[1], height = x->dims[2], width = x->dims[3];
    int64_t cols = rois->dims[1];
    int64_t dims[4] = { num_rois, channels, ph_n, pw_n };
    enum d2_status st = d2_det_output(ctx, 0, x->dtype, 4, dims);
    if (st != D2_OK)
        return st;
    struct d2_tensor *y = &ctx->outputs[0];
    bool s = det_single(x->dtype);
    double offset = a->aligned ? 0.5 : 0.0;

    for (int64_t r = 0; r < num_rois; r++) {
        bool ok;
        int64_t b = roi_batch_index(ctx, r, &ok);
        if (!ok || b < 0 || b >= x->dims[0])
            return d2_errorf(ctx->err, D2_ERR_SHAPE,
                             "node '%s' (box_roi_align): roi %lld has batch index %lld, not in [0, %lld)",
                             ctx->node->name, (long long)r, (long long)b, (long long)x->dims[0]);
        double corner[4];
        for (int i = 0; i < 4; i++) {
            double v = d2_load_f64(rois->data, rois->dtype, (size_t)(r * cols + cols - 4 + i));
            corner[i] = det_round(s, det_round(s, v) * a->spatial_scale - offset);
        }
        double start_w = corner[0], start_h = corner[1];
        double roi_w = det_round(s, corner[2] - corner[0]), roi_h = det_round(s, corner[3] - corner[1]);
        if (!a->aligned) {
            roi_w = roi_w > 1.0 ? roi_w : 1.0;
            roi_h = roi_h > 1.0 ? roi_h : 1.0;
        }
        double bin_h = det_round(s, roi_h / (double)ph_n), bin_w = det_round(s, roi_w / (double)pw_n);
        int64_t grid_h = a->sampling_ratio > 0 ? a->sampling_ratio : adaptive_grid(bin_h);
        int64_t grid_w = a->sampling_ratio > 0 ? a->sampling_ratio : adaptive_grid(bin_w);
        /* torchvision divides by max(grid_h * grid_w, 1); a non-positive grid side means no samples. */
        int64_t count = grid_h > 0 && grid_w > 0 ? grid_h * grid_w : 1;
        for (int64_t c = 0; c < channels; c++) {
            size_t plane = (size_t)((b * channels + c) * height * width);
            for (int64_t ph = 0; ph < ph_n; ph++) {
                for (int64_t pw = 0; pw < pw_n; pw++) {
                    double sum = 0.0, peak = 0.0;
                    bool any = false;
                    for (int64_t iy = 0; iy < grid_h; iy++) {
                        double sy = sample_position(s, start_h, ph, bin_h, iy, grid_h);
                        for (int64_t ix = 0; ix < grid_w; ix++) {
                            double sx = sample_position(s, start_w, pw, bin_w, ix, grid_w);
                            int64_t off[4];
                            double w[4], v = 0.0;
                            if (bilinear_taps(s, sy, sx, height, width, off, w))
                                for (int k = 0; k < 4; k++)
                                    v += w[k] * d2_load_f64(x->data, x->dtype, plane + (size_t)off[k]);
                            sum += v;
                            peak = any ? fmax(peak, v) : v;
                            any = true;
                        }
                    }
                    double result = a->mode == D2_ROI_POOL_MAX ? peak : sum / (double)count;
                    d2_store_f64(y->data, y->dtype, (size_t)(((r * channels + c) * ph_n + ph) * pw_n + pw), result);
                }
            }
        }
    }
    return D2_OK;
}
