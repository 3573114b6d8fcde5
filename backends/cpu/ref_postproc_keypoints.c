/* backends/cpu/ref_postproc_keypoints.c: d2_heatmaps_to_keypoints (detectron2
 * heatmaps_to_keypoints, rules in ref_postproc.h) and the reference kernel of
 * heatmaps_to_keypoints.
 *
 * Per ROI the K maps are upsampled with the bicubic taps of ref_postproc_upsample.c (the
 * same tables F.interpolate builds), the box geometry is computed in float32 like detectron2's
 * tensors (double for f64 data), and the values in double. */
#include "ref_postproc.h"

#include <math.h>
#include <string.h>

enum d2_status d2_cpu_ref_heatmaps_to_keypoints(struct d2_kernel_ctx *ctx);

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Box geometry of one ROI: upsampled size and the (x, y) of heatmap cell (x_int, y_int). */
struct roi_geometry {
    int64_t out_w, out_h;
    double x0, y0, corr_w, corr_h;
    bool use_double;
};

static enum d2_status roi_geometry(const double box[4], bool use_double, struct roi_geometry *g,
                                   struct d2_error *err)
{
    double w, h;
    g->use_double = use_double;
    if (use_double) {
        w = fmax(box[2] - box[0], 1.0);
        h = fmax(box[3] - box[1], 1.0);
        g->corr_w = w / ceil(w);
        g->corr_h = h / ceil(h);
    } else {
        float wf = (float)box[2] - (float)box[0], hf = (float)box[3] - (float)box[1];
        wf = wf < 1.0f ? 1.0f : wf;
        hf = hf < 1.0f ? 1.0f : hf;
        w = wf;
        h = hf;
        g->corr_w = (double)(wf / ceilf(wf));
        g->corr_h = (double)(hf / ceilf(hf));
    }
    if (!isfinite(w) || !isfinite(h) || ceil(w) > 65536.0 || ceil(h) > 65536.0)
        return d2_errorf(err, D2_ERR_SHAPE, "heatmaps_to_keypoints: box (%g, %g, %g, %g) is not finite or too large",
                         box[0], box[1], box[2], box[3]);
    g->out_w = (int64_t)ceil(w);
    g->out_h = (int64_t)ceil(h);
    g->x0 = box[0];
    g->y0 = box[1];
    return D2_OK;
}

/* x = (x_int + 0.5) * correction + x0, in the geometry's precision. */
static double cell_coordinate(const struct roi_geometry *g, int64_t cell, double corr, double offset)
{
    if (g->use_double)
        return ((double)cell + 0.5) * corr + offset;
    return (double)(((float)cell + 0.5f) * (float)corr + (float)offset);
}

enum d2_status d2_heatmaps_to_keypoints(const struct d2_tensor *heatmaps, const struct d2_tensor *boxes,
                                        const struct d2_allocator *alloc, struct d2_tensor *out,
                                        struct d2_error *err)
{
    if (heatmaps->rank != 4 || !d2_dtype_is_float(heatmaps->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "heatmaps_to_keypoints: heatmaps must be float [n, K, S, S]");
    int64_t n = heatmaps->dims[0], K = heatmaps->dims[1], sh = heatmaps->dims[2], sw = heatmaps->dims[3];
    if (boxes->rank != 2 || boxes->dims[0] != n || boxes->dims[1] != 4 || !d2_dtype_is_float(boxes->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "heatmaps_to_keypoints: %lld heatmaps need float boxes [%lld, 4]",
                         (long long)n, (long long)n);
    if (out->rank != 3 || out->dims[0] != n || out->dims[1] != K || out->dims[2] != 3 ||
        !d2_dtype_is_float(out->dtype) || (d2_tensor_numel(out) > 0 && !out->data))
        return d2_errorf(err, D2_ERR_INTERNAL, "heatmaps_to_keypoints: output must be allocated [n, K, 3]");
    if (n == 0 || K == 0)
        return D2_OK;
    if (sh < 1 || sw < 1)
        return d2_errorf(err, D2_ERR_SHAPE, "heatmaps_to_keypoints: heatmaps have an empty spatial size");
    bool use_double = heatmaps->dtype == D2_DTYPE_F64 || boxes->dtype == D2_DTYPE_F64;
    enum d2_status st = D2_OK;
    double *rows = NULL, *up = NULL; /* one keypoint: [sh, out_w] after the x pass, [out_h, out_w] */
    struct d2_upsample_taps tx = { 0 }, ty = { 0 };

    for (int64_t i = 0; i < n && st == D2_OK; i++) {
        double box[4];
        struct roi_geometry g = { 0 };
        for (int c = 0; c < 4; c++)
            box[c] = d2_load_f64(boxes->data, boxes->dtype, (size_t)(i * 4 + c));
        st = roi_geometry(box, use_double, &g, err);
        if (st == D2_OK)
            st = d2_upsample_make_taps(D2_RESIZE_MODE_CUBIC, false, sw, g.out_w, 0.0, use_double, alloc, &tx, err);
        if (st == D2_OK)
            st = d2_upsample_make_taps(D2_RESIZE_MODE_CUBIC, false, sh, g.out_h, 0.0, use_double, alloc, &ty, err);
        if (st == D2_OK) {
            rows = d2_alloc(alloc, (size_t)(sh * g.out_w) * sizeof *rows);
            up = d2_alloc(alloc, (size_t)(g.out_h * g.out_w) * sizeof *up);
            if (!rows || !up)
                st = d2_errorf(err, D2_ERR_NOMEM, "heatmaps_to_keypoints: out of memory for a %lld x %lld map",
                               (long long)g.out_h, (long long)g.out_w);
        }
        for (int64_t k = 0; k < K && st == D2_OK; k++) {
            size_t map = (size_t)((i * K + k) * sh * sw);
            /* x pass then y pass (separable bicubic) */
            for (int64_t r = 0; r < sh; r++)
                for (int64_t x = 0; x < g.out_w; x++) {
                    double acc = 0.0;
                    for (int t = 0; t < 4; t++)
                        acc += tx.weight[x * 4 + t] *
                               d2_load_f64(heatmaps->data, heatmaps->dtype, map + (size_t)(r * sw + tx.index[x * 4 + t]));
                    rows[r * g.out_w + x] = acc;
                }
            int64_t best = 0;
            for (int64_t y = 0; y < g.out_h; y++)
                for (int64_t x = 0; x < g.out_w; x++) {
                    double acc = 0.0;
                    for (int t = 0; t < 4; t++)
                        acc += ty.weight[y * 4 + t] * rows[ty.index[y * 4 + t] * g.out_w + x];
                    up[y * g.out_w + x] = acc;
                    if (acc > up[best]) /* first maximum, as argmax */
                        best = y * g.out_w + x;
                }
            double max_up = up[best], sum = 0.0;
            for (int64_t c = 0; c < sh * sw; c++)
                sum += exp(d2_load_f64(heatmaps->data, heatmaps->dtype, map + (size_t)c) - max_up);
            int64_t x_int = best % g.out_w, y_int = best / g.out_w;
            size_t o = (size_t)((i * K + k) * 3);
            d2_store_f64(out->data, out->dtype, o + 0, cell_coordinate(&g, x_int, g.corr_w, g.x0));
            d2_store_f64(out->data, out->dtype, o + 1, cell_coordinate(&g, y_int, g.corr_h, g.y0));
            d2_store_f64(out->data, out->dtype, o + 2, exp(up[best] - max_up) / sum);
        }
        d2_upsample_free_taps(alloc, &tx);
        d2_upsample_free_taps(alloc, &ty);
        d2_free(alloc, rows);
        d2_free(alloc, up);
        rows = up = NULL;
    }
    return st;
}

enum d2_status d2_cpu_ref_heatmaps_to_keypoints(struct d2_kernel_ctx *ctx)
{
    struct d2_tensor *y = &ctx->outputs[0];
    if (!y->data && d2_tensor_numel(y) > 0) {
        int64_t dims[3] = { ctx->inputs[0]->dims[0], ctx->inputs[0]->dims[1], 3 };
        enum d2_status st = d2_kernel_alloc_output(ctx, 0, ctx->inputs[0]->dtype, 3, dims);
        if (st != D2_OK)
            return st;
    }
    return d2_heatmaps_to_keypoints(ctx->inputs[0], ctx->inputs[1], ctx->alloc, y, ctx->err);
}
