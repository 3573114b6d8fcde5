/* backends/cpu/ref_detect.c: reference kernels of non_max_suppression and roi_align.
 *
 * non_max_suppression(boxes [B,N,4], scores [B,C,N], max_output_boxes_per_class?,
 * iou_threshold?, score_threshold?) {center_point_box}, ONNX semantics:
 *   - for each batch b and class c, the candidates are the boxes whose score is
 *     strictly greater than score_threshold (all boxes when it is absent), visited
 *     by decreasing score, equal scores by increasing box index;
 *   - a candidate is kept unless its IoU with a box already kept for (b, c) is
 *     strictly greater than iou_threshold (default 0); at most
 *     max_output_boxes_per_class are kept (absent, 0 or negative: none);
 *   - boxes are [y1, x1, y2, x2] with corners in either order, or with
 *     center_point_box = 1 [x_center, y_center, width, height];
 *   - IoU is 0 (never suppresses) when the boxes do not overlap with positive area,
 *     or when either box has zero area;
 *   - output: i64 [n, 3] rows (b, c, box), ordered by b, then c, then selection order.
 *
 * roi_align(X [N,C,H,W], rois [R,4] (x1,y1,x2,y2), batch_indices [R]) {mode,
 * output_height, output_width, sampling_ratio, spatial_scale,
 * coordinate_transformation_mode}, ONNX RoiAlign-16 (= torchvision roi_align):
 *   - roi corners are scaled by spatial_scale; half_pixel (torchvision aligned=True)
 *     then shifts them by -0.5 and keeps the size as is; output_half_pixel
 *     (opset 10, aligned=False) does not shift and makes the size at least 1;
 *   - bin (ph, pw) averages (avg) a grid_h x grid_w grid of bilinear samples at
 *     start + (p + (i + 0.5) / grid) * bin_size, grid = sampling_ratio, or
 *     ceil(roi_size / output_size) when sampling_ratio is 0; the divisor is
 *     max(grid_h * grid_w, 1);
 *   - bilinear sampling (torchvision/Caffe2/onnxruntime rule): a sample with
 *     y < -1 or y > H (or x likewise) is 0; otherwise y <= 0 is taken as 0 and
 *     y >= H - 1 as H - 1 (likewise x), then the 4 neighbours are blended;
 *   - max mode follows ONNX's reference and onnxruntime: each sample contributes
 *     the largest of its 4 weighted corner values (w_i * v_i), the bin takes the
 *     max over its samples (0 for an out-of-range sample; 0 for an empty grid).
 *     This is not "max of interpolated values", but it is what exported models get
 *     from onnxruntime.
 * All arithmetic is in double. */
#include "cpu.h"

#include <math.h>
#include <string.h>

enum d2_status d2_cpu_ref_non_max_suppression(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_roi_align(struct d2_kernel_ctx *ctx);

static enum d2_status oom(struct d2_kernel_ctx *ctx)
{
    return d2_errorf(ctx->err, D2_ERR_NOMEM, "node '%s' (%s): out of memory", ctx->node->name,
                     d2_op_name(ctx->node->op));
}

static const struct d2_tensor *optional_input(const struct d2_kernel_ctx *ctx, uint32_t i)
{
    const struct d2_tensor *t = i < ctx->num_inputs ? ctx->inputs[i] : NULL;
    return t && d2_tensor_numel(t) > 0 ? t : NULL;
}

/* ---- non_max_suppression ---------------------------------------------------- */

struct nms_box { double x_min, y_min, x_max, y_max; };

static struct nms_box nms_load_box(const struct d2_tensor *boxes, size_t at, bool center_point)
{
    double v[4];
    struct nms_box b;
    for (int i = 0; i < 4; i++)
        v[i] = d2_load_f64(boxes->data, boxes->dtype, at + (size_t)i);
    if (center_point) {
        b.x_min = v[0] - v[2] / 2.0;
        b.x_max = v[0] + v[2] / 2.0;
        b.y_min = v[1] - v[3] / 2.0;
        b.y_max = v[1] + v[3] / 2.0;
    } else {
        b.y_min = fmin(v[0], v[2]);
        b.y_max = fmax(v[0], v[2]);
        b.x_min = fmin(v[1], v[3]);
        b.x_max = fmax(v[1], v[3]);
    }
    return b;
}

/* Does kept box k suppress candidate c? */
static bool nms_suppresses(const struct nms_box *c, const struct nms_box *k, double iou_threshold)
{
    double ix_min = fmax(c->x_min, k->x_min), ix_max = fmin(c->x_max, k->x_max);
    double iy_min = fmax(c->y_min, k->y_min), iy_max = fmin(c->y_max, k->y_max);
    if (!(ix_max > ix_min) || !(iy_max > iy_min))
        return false;
    double inter = (ix_max - ix_min) * (iy_max - iy_min);
    double area_c = (c->x_max - c->x_min) * (c->y_max - c->y_min);
    double area_k = (k->x_max - k->x_min) * (k->y_max - k->y_min);
    double uni = area_c + area_k - inter;
    if (!(inter > 0) || !(area_c > 0) || !(area_k > 0) || !(uni > 0))
        return false;
    return inter / uni > iou_threshold;
}

/* Stable merge sort of box indices by decreasing score. */
static void nms_sort(const double *score, int64_t *idx, int64_t *scratch, int64_t n)
{
    if (n < 2)
        return;
    int64_t half = n / 2, i = 0, j = half, k = 0;
    nms_sort(score, idx, scratch, half);
    nms_sort(score, idx + half, scratch, n - half);
    while (i < half && j < n)
        scratch[k++] = score[idx[j]] > score[idx[i]] ? idx[j++] : idx[i++];
    while (i < half)
        scratch[k++] = idx[i++];
    while (j < n)
        scratch[k++] = idx[j++];
    memcpy(idx, scratch, (size_t)n * sizeof *idx);
}

enum d2_status d2_cpu_ref_non_max_suppression(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_nms *a = ctx->node->attrs;
    const struct d2_tensor *boxes = ctx->inputs[0], *scores = ctx->inputs[1];
    const struct d2_tensor *max_t = optional_input(ctx, 2), *iou_t = optional_input(ctx, 3);
    const struct d2_tensor *score_t = optional_input(ctx, 4);
    int64_t max_per_class = max_t ? d2_load_i64(max_t->data, max_t->dtype, 0) : 0;
    double iou_threshold = iou_t ? d2_load_f64(iou_t->data, iou_t->dtype, 0) : 0.0;
    double score_threshold = score_t ? d2_load_f64(score_t->data, score_t->dtype, 0) : 0.0;
    enum d2_status st = D2_OK;

    if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 || scores->dims[0] != boxes->dims[0] ||
        scores->dims[2] != boxes->dims[1])
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "node '%s' (non_max_suppression): boxes must be [B,N,4] and scores [B,C,N]", ctx->node->name);
    int64_t batches = boxes->dims[0], classes = scores->dims[1], n = boxes->dims[1];
    if (max_per_class < 0)
        max_per_class = 0;
    if (max_per_class > n)
        max_per_class = n;

    int64_t cap = batches * classes * max_per_class;
    size_t work = (size_t)(n > 0 ? n : 1);
    int64_t *rows = d2_alloc(ctx->alloc, (size_t)(cap > 0 ? cap : 1) * 3 * sizeof *rows);
    int64_t *order = d2_alloc(ctx->alloc, 2 * work * sizeof *order);
    int64_t *kept = d2_alloc(ctx->alloc, work * sizeof *kept);
    double *score = d2_alloc(ctx->alloc, work * sizeof *score);
    struct nms_box *box = d2_alloc(ctx->alloc, work * sizeof *box);
    int64_t count = 0;
    if (!rows || !order || !kept || !score || !box) {
        st = oom(ctx);
        goto done;
    }
    for (int64_t b = 0; b < batches && max_per_class > 0; b++) {
        for (int64_t i = 0; i < n; i++)
            box[i] = nms_load_box(boxes, (size_t)((b * n + i) * 4), a->center_point_box != 0);
        for (int64_t c = 0; c < classes; c++) {
            int64_t candidates = 0, num_kept = 0;
            for (int64_t i = 0; i < n; i++) {
                score[i] = d2_load_f64(scores->data, scores->dtype, (size_t)((b * classes + c) * n + i));
                if (!score_t || score[i] > score_threshold)
                    order[candidates++] = i;
            }
            nms_sort(score, order, order + work, candidates);
            for (int64_t i = 0; i < candidates && num_kept < max_per_class; i++) {
                bool keep = true;
                for (int64_t k = 0; k < num_kept && keep; k++)
                    keep = !nms_suppresses(&box[order[i]], &box[kept[k]], iou_threshold);
                if (!keep)
                    continue;
                kept[num_kept++] = order[i];
                rows[count * 3 + 0] = b;
                rows[count * 3 + 1] = c;
                rows[count * 3 + 2] = order[i];
                count++;
            }
        }
    }
    int64_t dims[2] = { count, 3 };
    st = d2_kernel_alloc_output(ctx, 0, D2_DTYPE_I64, 2, dims);
    if (st == D2_OK && count > 0)
        memcpy(ctx->outputs[0].data, rows, (size_t)count * 3 * sizeof *rows);
done:
    d2_free(ctx->alloc, rows);
    d2_free(ctx->alloc, order);
    d2_free(ctx->alloc, kept);
    d2_free(ctx->alloc, score);
    d2_free(ctx->alloc, box);
    return st;
}

/* ---- roi_align ---------------------------------------------------------------- */

/* Bilinear sample of one H x W plane: up to 4 (offset, weight) pairs. Returns false
 * for a sample outside [-1, H] x [-1, W], which contributes 0. */
static bool bilinear_taps(double y, double x, int64_t height, int64_t width, int64_t offset[4], double weight[4])
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
    double ly = y - (double)y_low, lx = x - (double)x_low, hy = 1.0 - ly, hx = 1.0 - lx;
    offset[0] = y_low * width + x_low;
    offset[1] = y_low * width + x_high;
    offset[2] = y_high * width + x_low;
    offset[3] = y_high * width + x_high;
    weight[0] = hy * hx;
    weight[1] = hy * lx;
    weight[2] = ly * hx;
    weight[3] = ly * lx;
    return true;
}

enum d2_status d2_cpu_ref_roi_align(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_roi_align *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *rois = ctx->inputs[1], *batch = ctx->inputs[2];
    bool half_pixel = a->coordinate_transformation_mode == D2_ROI_COORD_HALF_PIXEL;
    int64_t oh = a->output_height, ow = a->output_width;
    enum d2_status st;

    if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || batch->rank != 1 || batch->dims[0] != rois->dims[0])
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "node '%s' (roi_align): need X [N,C,H,W], rois [R,4], batch_indices [R]", ctx->node->name);
    int64_t num_rois = rois->dims[0], channels = x->dims[1], height = x->dims[2], width = x->dims[3];
    int64_t dims[4] = { num_rois, channels, oh, ow };
    struct d2_tensor *y = &ctx->outputs[0];
    if (!(y->data && y->rank == 4 && y->dtype == x->dtype && memcmp(y->dims, dims, sizeof dims) == 0)) {
        st = d2_kernel_alloc_output(ctx, 0, x->dtype, 4, dims);
        if (st != D2_OK)
            return st;
    }
    for (int64_t r = 0; r < num_rois; r++) {
        int64_t b = d2_load_i64(batch->data, batch->dtype, (size_t)r);
        if (b < 0 || b >= x->dims[0])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (roi_align): batch_indices[%lld] = %lld is not in [0, %lld)",
                             ctx->node->name, (long long)r, (long long)b, (long long)x->dims[0]);
        double shift = half_pixel ? 0.5 : 0.0, corner[4];
        for (int i = 0; i < 4; i++)
            corner[i] = d2_load_f64(rois->data, rois->dtype, (size_t)(r * 4 + i)) * a->spatial_scale - shift;
        double start_w = corner[0], start_h = corner[1];
        double roi_w = corner[2] - corner[0], roi_h = corner[3] - corner[1];
        if (!half_pixel) {
            roi_w = fmax(roi_w, 1.0);
            roi_h = fmax(roi_h, 1.0);
        }
        double bin_h = roi_h / (double)oh, bin_w = roi_w / (double)ow;
        int64_t grid_h = a->sampling_ratio > 0 ? a->sampling_ratio : (int64_t)ceil(roi_h / (double)oh);
        int64_t grid_w = a->sampling_ratio > 0 ? a->sampling_ratio : (int64_t)ceil(roi_w / (double)ow);
        if (grid_h < 0)
            grid_h = 0;
        if (grid_w < 0)
            grid_w = 0;
        double count = (double)(grid_h * grid_w > 1 ? grid_h * grid_w : 1);
        for (int64_t c = 0; c < channels; c++) {
            size_t plane = (size_t)((b * channels + c) * height * width);
            for (int64_t ph = 0; ph < oh; ph++) {
                for (int64_t pw = 0; pw < ow; pw++) {
                    double acc = 0.0;
                    bool first = true;
                    for (int64_t iy = 0; iy < grid_h; iy++) {
                        double sy = start_h + (double)ph * bin_h + ((double)iy + 0.5) * bin_h / (double)grid_h;
                        for (int64_t ix = 0; ix < grid_w; ix++) {
                            double sx = start_w + (double)pw * bin_w + ((double)ix + 0.5) * bin_w / (double)grid_w;
                            int64_t off[4];
                            double w[4], sample = 0.0, peak = 0.0;
                            if (bilinear_taps(sy, sx, height, width, off, w)) {
                                for (int k = 0; k < 4; k++) {
                                    double v = w[k] * d2_load_f64(x->data, x->dtype, plane + (size_t)off[k]);
                                    sample += v;
                                    peak = k == 0 ? v : fmax(peak, v);
                                }
                            }
                            if (a->mode == D2_ROI_POOL_AVG)
                                acc += sample;
                            else
                                acc = first ? peak : fmax(acc, peak);
                            first = false;
                        }
                    }
                    if (a->mode == D2_ROI_POOL_AVG)
                        acc /= count;
                    d2_store_f64(y->data, y->dtype, (size_t)(((r * channels + c) * oh + ph) * ow + pw), acc);
                }
            }
        }
    }
    return D2_OK;
}
