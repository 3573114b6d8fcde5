/* backends/cpu/fast_detect_masks.c: fast paste_masks for f32 masks and boxes,
 * identical (bit for bit) to the reference kernel (backends/cpu/ref_postproc_masks.c;
 * rules in ref_postproc.h).
 *
 * The reference already evaluates only the box hull of each mask. Its per-pixel
 * arithmetic is separable: the column coordinate (gx, u, floor(u), dx, 1 - dx, whether
 * the column's taps fall inside the map) depends only on the column, the row
 * coordinate only on the row. Here the columns of one mask are tabulated once and each
 * row's coordinate is computed once, and the pixel loop does only the blend, with the
 * reference's float operations in its order (the weights dy_rest * dx_rest, ... are
 * still formed per pixel, as there). Masks run in parallel on the thread pool; each
 * clears and writes only its own canvas.
 *
 * Everything but f32 masks and boxes, and malformed inputs, runs the reference. */
#include "fast_detect.h"

#include <math.h>
#include <string.h>

#include "fast.h"
#include "ref_postproc.h"

enum d2_status d2_cpu_ref_paste_masks(struct d2_kernel_ctx *ctx);

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* keep float operations separate, as the reference does */
#endif

/* One coordinate of the sampling grid along an axis (a column or a row). */
struct paste_axis {
    float d, d_rest;         /* fractional part and 1 - it */
    bool finite_in;          /* floor is finite and in (-2, size): taps may be read */
    bool low_ok, high_ok;    /* floor >= 0, floor + 1 < size */
    int64_t low;             /* floor as an index (valid when finite_in) */
};

struct paste_job {
    const float *masks, *boxes;
    uint8_t *out;
    int64_t mh, mw, height, width;
    double threshold;
    struct paste_axis *columns; /* per thread: width entries */
};

/* The reference's box hull: [max(floor(a) - 1, 0), min(ceil(b) + 1, size)). */
static void box_hull(double a, double b, int64_t size, int64_t *lo, int64_t *hi)
{
    *lo = *hi = 0;
    if (!isfinite(a) || !isfinite(b))
        return;
    double l = fmax(floor(a) - 1.0, 0.0), h = fmin(ceil(b) + 1.0, (double)size);
    if (l >= (double)size || h <= l)
        return;
    *lo = (int64_t)l;
    *hi = (int64_t)h;
}

/* Pixel p's coordinate along an axis of a box from `start` with extent `extent`,
 * sampling a map of `size` cells (half = size / 2), as the reference computes it. */
static struct paste_axis axis_at(int64_t p, float start, float extent, float half, int64_t size)
{
    struct paste_axis a;
    float g = ((float)p + 0.5f - start) / extent * 2.0f - 1.0f;
    float u = (g + 1.0f) * half - 0.5f;
    float u_floor = floorf(u);
    a.d = u - u_floor;
    a.d_rest = 1.0f - a.d;
    a.finite_in = isfinite(u_floor) && u_floor > -2.0f && u_floor < (float)size;
    a.low = a.finite_in ? (int64_t)u_floor : 0;
    a.low_ok = a.low >= 0;
    a.high_ok = a.low + 1 < size;
    return a;
}

static void paste_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct paste_job *job = ctx;
    const int64_t mh = job->mh, mw = job->mw, H = job->height, W = job->width;
    struct paste_axis *col = job->columns + (int64_t)thread * W;
    for (int64_t i = begin; i < end; i++) {
        uint8_t *canvas = job->out + i * H * W;
        memset(canvas, 0, (size_t)(H * W));
        const float *map = job->masks + i * mh * mw, *box = job->boxes + i * 4;
        const float x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];
        const float box_w = x1 - x0, box_h = y1 - y0;
        const float half_w = (float)mw / 2.0f, half_h = (float)mh / 2.0f;
        int64_t px0, px1, py0, py1;
        box_hull((double)x0, (double)x1, W, &px0, &px1);
        box_hull((double)y0, (double)y1, H, &py0, &py1);
        for (int64_t px = px0; px < px1; px++)
            col[px] = axis_at(px, x0, box_w, half_w, mw);
        for (int64_t py = py0; py < py1; py++) {
            const struct paste_axis row = axis_at(py, y0, box_h, half_h, mh);
            const float dy = row.d, dy_rest = row.d_rest;
            const float *top_row = map + row.low * mw, *bottom_row = top_row + mw;
            const bool top = row.finite_in && row.low_ok, bottom = row.finite_in && row.high_ok;
            uint8_t *pixels = canvas + py * W;
            for (int64_t px = px0; px < px1; px++) {
                const struct paste_axis c = col[px];
                float nw = 0, ne = 0, sw = 0, se = 0;
                if (c.finite_in && row.finite_in) {
                    if (top && c.low_ok) nw = top_row[c.low];
                    if (top && c.high_ok) ne = top_row[c.low + 1];
                    if (bottom && c.low_ok) sw = bottom_row[c.low];
                    if (bottom && c.high_ok) se = bottom_row[c.low + 1];
                }
                float value = nw * (dy_rest * c.d_rest) + ne * (dy_rest * c.d) + sw * (dy * c.d_rest) + se * (dy * c.d);
                if (job->threshold >= 0) {
                    pixels[px] = (double)value >= job->threshold;
                } else {
                    float scaled = value * 255.0f;
                    pixels[px] = scaled >= 255.0f ? 255 : (scaled > 0.0f ? (uint8_t)scaled : 0);
                }
            }
        }
    }
}

enum d2_status d2_cpu_fast_paste_masks(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_attrs_paste_masks *a = ctx->node->attrs;
    const struct d2_tensor *masks = ctx->inputs[0], *boxes = ctx->inputs[1];
    const struct d2_tensor *size = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    if (!fast || masks->dtype != D2_DTYPE_F32 || boxes->dtype != D2_DTYPE_F32 ||
        (masks->rank != 3 && !(masks->rank == 4 && masks->dims[1] == 1)) || boxes->rank != 2 ||
        boxes->dims[0] != masks->dims[0] || boxes->dims[1] != 4 || (size && d2_tensor_numel(size) < 2))
        return d2_cpu_ref_paste_masks(ctx);
    int64_t dims[3] = { masks->dims[0], a->height, a->width };
    if (size) {
        dims[1] = d2_tensor_get_i64(size, 0);
        dims[2] = d2_tensor_get_i64(size, 1);
    }
    if (dims[1] < 0 || dims[2] < 0)
        return d2_cpu_ref_paste_masks(ctx);
    struct d2_tensor *y = &ctx->outputs[0];
    enum d2_dtype dtype = a->threshold >= 0 ? D2_DTYPE_BOOL : D2_DTYPE_U8;
    if (!y->data || y->dtype != dtype || y->rank != 3 || memcmp(y->dims, dims, sizeof dims) != 0) {
        enum d2_status st = d2_kernel_alloc_output(ctx, 0, dtype, 3, dims);
        if (st != D2_OK)
            return st;
    }
    int64_t n = dims[0], mh = masks->dims[masks->rank - 2], mw = masks->dims[masks->rank - 1];
    if (d2_tensor_numel(y) == 0)
        return D2_OK;
    if (mh == 0 || mw == 0) {
        memset(y->data, 0, y->nbytes);
        return D2_OK;
    }
    int32_t threads = d2_threadpool_size(fast->pool);
    struct paste_axis *columns = d2_alloc(ctx->alloc, (size_t)(threads * dims[2]) * sizeof *columns);
    if (!columns)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "node '%s' (paste_masks): out of memory", ctx->node->name);
    struct paste_job job = { masks->data, boxes->data, y->data, mh, mw, dims[1], dims[2], a->threshold, columns };
    d2_threadpool_parallel_for(fast->pool, n, 1, paste_rows, &job);
    d2_free(ctx->alloc, columns);
    return D2_OK;
}
