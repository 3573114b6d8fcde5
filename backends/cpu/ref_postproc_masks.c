/* backends/cpu/ref_postproc_masks.c: d2_paste_masks (detectron2 paste_masks_in_image, rules
 * in ref_postproc.h) and the reference kernel of paste_masks.
 *
 * The per-pixel arithmetic is written once as a macro and instantiated for float (f32, f16,
 * bf16 data, as PyTorch's float32 grid and grid_sample compute) and double (f64 data), so
 * that a pixel whose value sits within rounding of the threshold decides as detectron2's does. */
#include "ref_postproc.h"

#include <math.h>
#include <string.h>

enum d2_status d2_cpu_ref_paste_masks(struct d2_kernel_ctx *ctx);

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* keep float32 operations separate, as PyTorch's are */
#endif

/* The pixel range [lo, hi) detectron2 evaluates along one axis for box edges (a, b):
 * [max(floor(a) - 1, 0), min(ceil(b) + 1, size)). Empty when the box is not finite. */
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

/* Paste one map (mh x mw values, row-major, already converted to T) for box (x0, y0, x1, y1)
 * into the H x W canvas `out` (bool or u8). */
#define DEFINE_PASTE_ONE(NAME, T, FLOOR)                                                                 \
    static void NAME(const T *map, int64_t mh, int64_t mw, const T *box, int64_t H, int64_t W,          \
                     double threshold, uint8_t *out)                                                     \
    {                                                                                                    \
        const T x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];                                      \
        const T box_w = x1 - x0, box_h = y1 - y0;                                                        \
        const T half_w = (T)mw / (T)2, half_h = (T)mh / (T)2;                                            \
        int64_t px0, px1, py0, py1;                                                                      \
        box_hull((double)x0, (double)x1, W, &px0, &px1);                                                 \
        box_hull((double)y0, (double)y1, H, &py0, &py1);                                                 \
        for (int64_t py = py0; py < py1; py++) {                                                         \
            T gy = ((T)py + (T)0.5 - y0) / box_h * (T)2 - (T)1;                                          \
            T v = (gy + (T)1) * half_h - (T)0.5;                                                         \
            T v_floor = FLOOR(v);                                                                        \
            T dy = v - v_floor, dy_rest = (T)1 - dy;                                                     \
            for (int64_t px = px0; px < px1; px++) {                                                     \
                T gx = ((T)px + (T)0.5 - x0) / box_w * (T)2 - (T)1;                                      \
                T u = (gx + (T)1) * half_w - (T)0.5;                                                     \
                T u_floor = FLOOR(u);                                                                    \
                T dx = u - u_floor, dx_rest = (T)1 - dx;                                                 \
                T corner[4] = { 0, 0, 0, 0 }; /* nw, ne, sw, se; zero outside the map */                 \
                if (isfinite(u_floor) && isfinite(v_floor) && u_floor > (T)-2 && v_floor > (T)-2 &&      \
                    u_floor < (T)mw && v_floor < (T)mh) {                                                \
                    int64_t ix = (int64_t)u_floor, iy = (int64_t)v_floor;                                \
                    bool left = ix >= 0, right = ix + 1 < mw, top = iy >= 0, bottom = iy + 1 < mh;       \
                    if (top && left) corner[0] = map[iy * mw + ix];                                      \
                    if (top && right) corner[1] = map[iy * mw + ix + 1];                                 \
                    if (bottom && left) corner[2] = map[(iy + 1) * mw + ix];                             \
                    if (bottom && right) corner[3] = map[(iy + 1) * mw + ix + 1];                        \
                }                                                                                        \
                T value = corner[0] * (dy_rest * dx_rest) + corner[1] * (dy_rest * dx) +                 \
                          corner[2] * (dy * dx_rest) + corner[3] * (dy * dx);                            \
                uint8_t *pixel = &out[py * W + px];                                                      \
                if (threshold >= 0)                                                                      \
                    *pixel = (double)value >= threshold;                                                 \
                else {                                                                                   \
                    T scaled = value * (T)255;                                                           \
                    *pixel = scaled >= (T)255 ? 255 : (scaled > (T)0 ? (uint8_t)scaled : 0);             \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }
DEFINE_PASTE_ONE(paste_one_f32, float, floorf)
DEFINE_PASTE_ONE(paste_one_f64, double, floor)

enum d2_status d2_paste_masks(const struct d2_tensor *masks, const struct d2_tensor *boxes, double threshold,
                              const struct d2_allocator *alloc, struct d2_tensor *out, struct d2_error *err)
{
    if (masks->rank != 3 && !(masks->rank == 4 && masks->dims[1] == 1))
        return d2_errorf(err, D2_ERR_SHAPE, "paste_masks: masks must be [n, M, M] or [n, 1, M, M]");
    if (!d2_dtype_is_float(masks->dtype) || !d2_dtype_is_float(boxes->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "paste_masks: masks and boxes must be float tensors");
    int64_t n = masks->dims[0], mh = masks->dims[masks->rank - 2], mw = masks->dims[masks->rank - 1];
    if (boxes->rank != 2 || boxes->dims[0] != n || boxes->dims[1] != 4)
        return d2_errorf(err, D2_ERR_SHAPE, "paste_masks: %lld masks need boxes [%lld, 4]", (long long)n,
                         (long long)n);
    if (out->rank != 3 || out->dims[0] != n || (out->dtype != D2_DTYPE_BOOL && out->dtype != D2_DTYPE_U8) ||
        (d2_tensor_numel(out) > 0 && !out->data))
        return d2_errorf(err, D2_ERR_INTERNAL, "paste_masks: output must be allocated bool/u8 [%lld, H, W]",
                         (long long)n);
    int64_t H = out->dims[1], W = out->dims[2], map_size = mh * mw;
    /* PyTorch computes in double only when the data is double. */
    bool use_double = masks->dtype == D2_DTYPE_F64 || boxes->dtype == D2_DTYPE_F64;
    if (d2_tensor_numel(out) > 0)
        memset(out->data, 0, out->nbytes);
    if (n == 0 || map_size == 0 || H == 0 || W == 0)
        return D2_OK;
    size_t elem = use_double ? sizeof(double) : sizeof(float);
    void *map = d2_alloc(alloc, (size_t)map_size * elem);
    if (!map)
        return d2_errorf(err, D2_ERR_NOMEM, "paste_masks: out of memory for a %lld x %lld map", (long long)mh,
                         (long long)mw);
    for (int64_t i = 0; i < n; i++) {
        uint8_t *canvas = (uint8_t *)out->data + (size_t)(i * H * W);
        size_t base = (size_t)(i * map_size);
        if (use_double) {
            double box[4], *m = map;
            for (int c = 0; c < 4; c++)
                box[c] = d2_load_f64(boxes->data, boxes->dtype, (size_t)(i * 4 + c));
            for (int64_t k = 0; k < map_size; k++)
                m[k] = d2_load_f64(masks->data, masks->dtype, base + (size_t)k);
            paste_one_f64(m, mh, mw, box, H, W, threshold, canvas);
        } else {
            float box[4], *m = map;
            for (int c = 0; c < 4; c++)
                box[c] = (float)d2_load_f64(boxes->data, boxes->dtype, (size_t)(i * 4 + c));
            for (int64_t k = 0; k < map_size; k++)
                m[k] = (float)d2_load_f64(masks->data, masks->dtype, base + (size_t)k);
            paste_one_f32(m, mh, mw, box, H, W, threshold, canvas);
        }
    }
    d2_free(alloc, map);
    return D2_OK;
}

enum d2_status d2_cpu_ref_paste_masks(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_paste_masks *a = ctx->node->attrs;
    const struct d2_tensor *masks = ctx->inputs[0], *boxes = ctx->inputs[1];
    const struct d2_tensor *size = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    int64_t dims[3] = { masks->dims[0], a->height, a->width };
    enum d2_status st;

    if (size) {
        if (d2_tensor_numel(size) < 2)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "paste_masks: size must hold (height, width)");
        dims[1] = d2_tensor_get_i64(size, 0);
        dims[2] = d2_tensor_get_i64(size, 1);
    }
    if (dims[1] < 0 || dims[2] < 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "paste_masks: negative output size %lld x %lld",
                         (long long)dims[1], (long long)dims[2]);
    struct d2_tensor *y = &ctx->outputs[0];
    enum d2_dtype dtype = a->threshold >= 0 ? D2_DTYPE_BOOL : D2_DTYPE_U8;
    if (!y->data || y->dtype != dtype || y->rank != 3 || memcmp(y->dims, dims, sizeof dims) != 0) {
        st = d2_kernel_alloc_output(ctx, 0, dtype, 3, dims);
        if (st != D2_OK)
            return st;
    }
    return d2_paste_masks(masks, boxes, a->threshold, ctx->alloc, y, ctx->err);
}
