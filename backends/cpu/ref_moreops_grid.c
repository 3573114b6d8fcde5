/* backends/cpu/ref_moreops_grid.c: reference CPU kernel of grid_sample (ONNX
 * GridSample, opsets 16-22; PyTorch's torch.nn.functional.grid_sample), for any
 * number r >= 1 of spatial dims.
 *
 * For output position o of batch n, grid[n, o, :] holds r normalized coordinates in
 * [-1, 1], the first one for X's LAST spatial dim (x, then y, then z). Each is mapped
 * to a pixel coordinate of a spatial dim of size d:
 *   align_corners=1: (g + 1) / 2 * (d - 1)      (-1, 1 are the corner pixels' centers)
 *   align_corners=0: ((g + 1) * d - 1) / 2      (-1, 1 are the image's outer edges)
 * computed with each step rounded to f32 when the grid is a float dtype narrower than
 * f64, as PyTorch and the ONNX reference do, so that nearest-mode ties and floor()
 * decisions land exactly where theirs do. Then, in this order:
 *   1. nearest: the coordinate is rounded half to even;
 *   2. a coordinate outside [lo, hi] (align_corners=1: [0, d-1], else [-0.5, d-0.5])
 *      is clamped to [0, d-1] (border) or reflected about lo/hi until inside
 *      (reflection); zeros leaves it;
 *   3. the value is interpolated from taps at integer positions: nearest 1 tap
 *      (the coordinate truncated), linear 2 per dim (floor, floor+1; weights 1-t, t),
 *      cubic 4 per dim (floor-1..floor+2; Keys kernel, A = -0.75); the weights of a
 *      tap are the product of its per-dim weights;
 *   4. each tap index outside [0, d-1] reads 0 (zeros), the clamped index (border) or
 *      the reflected index (reflection).
 * Everything after the coordinates is computed in double and rounded once to X's
 * dtype. With zeros padding and align_corners=0 (detectron2's paste_masks and
 * PointRend), this is exactly PyTorch's bilinear sampling up to that final rounding.
 */
#include "ref_moreops.h"

#include <math.h>

#define MAX_SPATIAL (D2_MAX_RANK - 2)

struct grid_sampler {
    const struct d2_tensor *x;
    int32_t r;                    /* spatial rank */
    const int64_t *dims;          /* x->dims + 2: the spatial dims */
    int64_t spatial_strides[MAX_SPATIAL];
    int32_t mode, padding;        /* enum d2_grid_sample_mode / _padding */
    bool align_corners;
    bool f32_coords;              /* grid narrower than f64: coordinate math in f32 */
};

static double maybe_f32(const struct grid_sampler *s, double v)
{
    return s->f32_coords ? (double)(float)v : v;
}

/* Pixel coordinate of normalized coordinate g along a dim of size d. */
static double denormalize(const struct grid_sampler *s, double g, int64_t d)
{
    double dd = (double)d;
    if (s->align_corners)
        return maybe_f32(s, maybe_f32(s, maybe_f32(s, g + 1.0) / 2.0) * maybe_f32(s, dd - 1.0));
    return maybe_f32(s, maybe_f32(s, maybe_f32(s, g + 1.0) * dd - 1.0) / 2.0);
}

/* Reflect v about lo and hi until it lies in [lo, hi]. */
static double reflect(double v, double lo, double hi)
{
    double range = hi - lo;
    if (range <= 0.0)
        return lo; /* a one-pixel dim with align_corners: the only position */
    if (v < lo || v > hi) {
        double dist = v < lo ? lo - v : v - hi;
        double flips = floor(dist / range);
        double rest = dist - flips * range;
        bool even = fmod(flips, 2.0) == 0.0;
        if (v < lo)
            v = even ? lo + rest : hi - rest;
        else
            v = even ? hi - rest : lo + rest;
    }
    return v;
}

/* Round half to even, independent of the FPU rounding mode. */
static double round_half_even(double v)
{
    double lower = floor(v), fraction = v - lower;
    if (fraction > 0.5)
        return lower + 1.0;
    if (fraction < 0.5)
        return lower;
    return fmod(lower, 2.0) == 0.0 ? lower : lower + 1.0;
}

static void borders(const struct grid_sampler *s, int64_t d, double *lo, double *hi)
{
    *lo = s->align_corners ? 0.0 : -0.5;
    *hi = s->align_corners ? (double)d - 1.0 : (double)d - 0.5;
}

/* Tap index i along spatial dim k after padding; false when it reads zero. */
static bool pad_index(const struct grid_sampler *s, int32_t k, int64_t i, int64_t *out)
{
    int64_t d = s->dims[k];
    if (i >= 0 && i < d) {
        *out = i;
        return true;
    }
    switch (s->padding) {
    case D2_GRID_SAMPLE_PAD_BORDER:
        *out = i < 0 ? 0 : d - 1;
        return true;
    case D2_GRID_SAMPLE_PAD_REFLECTION: {
        double lo, hi;
        borders(s, d, &lo, &hi);
        *out = (int64_t)reflect((double)i, lo, hi); /* truncation, as the ONNX reference */
        if (*out < 0)
            *out = 0;
        if (*out > d - 1)
            *out = d - 1;
        return true;
    }
    default:
        return false;
    }
}

/* Keys cubic convolution weights of the 4 taps floor-1..floor+2 at fraction t. */
static void cubic_weights(double t, double w[4])
{
    const double a = -0.75;
    double x;
    x = t + 1.0;
    w[0] = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
    x = t;
    w[1] = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    x = 1.0 - t;
    w[2] = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    x = 2.0 - t;
    w[3] = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
}

/* Value of channel plane `plane` (offset of X[n, c]) at pixel coordinates coord[0..r). */
static double sample(const struct grid_sampler *s, int64_t plane, const double *coord)
{
    int64_t first[MAX_SPATIAL];
    double weights[MAX_SPATIAL][4];
    int32_t taps;
    /* Only zeros padding leaves coordinates unbounded: far outside (or NaN) reads 0,
     * and the integer conversions below stay defined. */
    for (int32_t k = 0; k < s->r; k++)
        if (!(fabs(coord[k]) < 4503599627370496.0)) /* 2^52 */
            return 0.0;
    if (s->mode == D2_GRID_SAMPLE_NEAREST) {
        int64_t offset = plane;
        for (int32_t k = 0; k < s->r; k++) {
            int64_t idx;
            if (!pad_index(s, k, (int64_t)coord[k], &idx))
                return 0.0;
            offset += idx * s->spatial_strides[k];
        }
        return d2_load_f64(s->x->data, s->x->dtype, (size_t)offset);
    }
    taps = s->mode == D2_GRID_SAMPLE_CUBIC ? 4 : 2;
    for (int32_t k = 0; k < s->r; k++) {
        double base = floor(coord[k]), t = coord[k] - base;
        if (taps == 2) {
            first[k] = (int64_t)base;
            weights[k][0] = 1.0 - t;
            weights[k][1] = t;
        } else {
            first[k] = (int64_t)base - 1;
            cubic_weights(t, weights[k]);
        }
    }
    /* Sum over the taps^r corner combinations, odometer style. */
    int32_t digit[MAX_SPATIAL] = {0};
    double sum = 0.0;
    for (;;) {
        double w = 1.0;
        int64_t offset = plane;
        bool zero = false;
        for (int32_t k = 0; k < s->r && !zero; k++) {
            int64_t idx;
            w *= weights[k][digit[k]];
            if (!pad_index(s, k, first[k] + digit[k], &idx))
                zero = true;
            else
                offset += idx * s->spatial_strides[k];
        }
        if (!zero && w != 0.0)
            sum += w * d2_load_f64(s->x->data, s->x->dtype, (size_t)offset);
        int32_t k = s->r - 1;
        while (k >= 0 && ++digit[k] == taps)
            digit[k--] = 0;
        if (k < 0)
            break;
    }
    return sum;
}

enum d2_status d2_cpu_ref_grid_sample(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_grid_sample *attrs = ctx->node->attrs;
    const struct d2_tensor *x = NULL, *grid = NULL;
    struct grid_sampler s;
    int64_t out_dims[D2_MAX_RANK];
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st == D2_OK)
        st = d2_moreops_input(ctx, 1, &grid);
    if (st != D2_OK)
        return st;
    if (!d2_dtype_is_float(x->dtype) || !d2_dtype_is_float(grid->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtypes %s and %s are not supported", d2_dtype_name(x->dtype),
                         d2_dtype_name(grid->dtype));
    if (x->rank < 3 || grid->rank != x->rank || grid->dims[0] != x->dims[0] ||
        grid->dims[grid->rank - 1] != x->rank - 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X of rank %d and grid of rank %d do not fit [N,C,d1..dr], [N,o1..or,r]",
                         (int)x->rank, (int)grid->rank);
    if (attrs->mode < 0 || attrs->mode >= D2_grid_sample_mode_COUNT_ || attrs->padding_mode < 0 ||
        attrs->padding_mode >= D2_grid_sample_padding_COUNT_)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "mode %d / padding_mode %d is not supported", (int)attrs->mode,
                         (int)attrs->padding_mode);
    s.x = x;
    s.r = x->rank - 2;
    s.dims = x->dims + 2;
    s.mode = attrs->mode;
    s.padding = attrs->padding_mode;
    s.align_corners = attrs->align_corners != 0;
    s.f32_coords = grid->dtype != D2_DTYPE_F64;
    d2_strides(s.r, s.dims, s.spatial_strides);
    out_dims[0] = x->dims[0];
    out_dims[1] = x->dims[1];
    for (int32_t k = 0; k < s.r; k++)
        out_dims[2 + k] = grid->dims[1 + k];
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, out_dims);
    if (st != D2_OK)
        return st;
    int64_t batch = x->dims[0], channels = x->dims[1], positions = 1, plane_size = 1;
    for (int32_t k = 0; k < s.r; k++) {
        positions *= out_dims[2 + k];
        plane_size *= s.dims[k];
    }
    if (plane_size == 0 && positions > 0 && channels > 0 && s.padding != D2_GRID_SAMPLE_PAD_ZEROS)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X has an empty spatial dim: nothing to sample with border or "
                                                 "reflection padding");
    struct d2_tensor *y = &ctx->outputs[0];
    for (int64_t n = 0; n < batch; n++) {
        for (int64_t p = 0; p < positions; p++) {
            double coord[MAX_SPATIAL];
            for (int32_t k = 0; k < s.r; k++) {
                /* grid component 0 is the last spatial dim */
                size_t at = (size_t)((n * positions + p) * s.r + (s.r - 1 - k));
                double c = denormalize(&s, d2_load_f64(grid->data, grid->dtype, at), s.dims[k]);
                double lo, hi;
                if (s.mode == D2_GRID_SAMPLE_NEAREST)
                    c = round_half_even(c);
                borders(&s, s.dims[k], &lo, &hi);
                if (c < lo || c > hi) {
                    if (s.padding == D2_GRID_SAMPLE_PAD_BORDER)
                        c = c < 0.0 ? 0.0 : c > (double)s.dims[k] - 1.0 ? (double)s.dims[k] - 1.0 : c;
                    else if (s.padding == D2_GRID_SAMPLE_PAD_REFLECTION)
                        c = reflect(c, lo, hi);
                }
                coord[k] = c;
            }
            for (int64_t c = 0; c < channels; c++) {
                double v = plane_size == 0 ? 0.0 : sample(&s, (n * channels + c) * plane_size, coord);
                d2_store_f64(y->data, y->dtype, (size_t)((n * channels + c) * positions + p), v);
            }
        }
    }
    return D2_OK;
}
