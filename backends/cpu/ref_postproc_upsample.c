/* backends/cpu/ref_postproc_upsample.c: reference kernel of upsample (PyTorch's
 * F.interpolate, modes nearest / linear / cubic, align_corners) and the per-axis tap
 * tables it shares with heatmaps_to_keypoints. The rules are in ref_postproc.h.
 *
 * Why not resize: ONNX Resize computes coordinates in double, PyTorch in float32, and the
 * two pick different nearest neighbours for some sizes (e.g. 10 -> 6 reads input 4 at
 * output 3 in PyTorch, 5 in exact arithmetic); PyTorch's half-pixel linear mode also maps
 * a size-1 output to the input's centre, not to 0 as pytorch_half_pixel does.
 * The tap tables are built in float32 (double for f64 data) exactly as PyTorch builds
 * them; the weighted sums then run in double, one separable pass per spatial axis. */
#include "ref_postproc.h"

#include <math.h>
#include <string.h>

enum d2_status d2_cpu_ref_upsample(struct d2_kernel_ctx *ctx);

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* keep float32 operations separate, as PyTorch's are */
#endif

/* Keys' cubic convolution with A = -0.75, PyTorch's two branches (|x| <= 1, 1 < |x| < 2). */
#define CUBIC_A (-0.75)
#define DEFINE_CUBIC_WEIGHTS(NAME, T)                                                  \
    static void NAME(T t, double *w)                                                   \
    {                                                                                  \
        const T A = (T)CUBIC_A;                                                        \
        T x;                                                                           \
        x = t + (T)1; /* 1 < x < 2 */                                                  \
        w[0] = (double)(((A * x - (T)5 * A) * x + (T)8 * A) * x - (T)4 * A);           \
        x = t;                                                                         \
        w[1] = (double)(((A + (T)2) * x - (A + (T)3)) * x * x + (T)1);                 \
        x = (T)1 - t;                                                                  \
        w[2] = (double)(((A + (T)2) * x - (A + (T)3)) * x * x + (T)1);                 \
        x = ((T)1 - t) + (T)1;                                                         \
        w[3] = (double)(((A * x - (T)5 * A) * x + (T)8 * A) * x - (T)4 * A);           \
    }
DEFINE_CUBIC_WEIGHTS(cubic_weights_f32, float)
DEFINE_CUBIC_WEIGHTS(cubic_weights_f64, double)

static int64_t clamp_index(int64_t i, int64_t in)
{
    return i < 0 ? 0 : (i >= in ? in - 1 : i);
}

/* Linear and cubic taps of output j, in precision T. */
#define DEFINE_INTERP_TAPS(NAME, T, FLOOR, CUBIC_WEIGHTS)                                          \
    static void NAME(int32_t mode, bool align_corners, int64_t in, int64_t out, double scale_factor, \
                     int64_t j, int64_t *index, double *weight)                                    \
    {                                                                                              \
        T s, src, t;                                                                               \
        int64_t i0;                                                                                \
        if (align_corners)                                                                         \
            s = out > 1 ? (T)(in - 1) / (T)(out - 1) : (T)0;                                       \
        else                                                                                       \
            s = scale_factor > 0 ? (T)(1.0 / scale_factor) : (T)in / (T)out;                       \
        if (align_corners) {                                                                       \
            src = s * (T)j;                                                                        \
        } else {                                                                                   \
            src = s * ((T)j + (T)0.5) - (T)0.5;                                                    \
            if (mode == D2_RESIZE_MODE_LINEAR && src < (T)0)                                       \
                src = (T)0;                                                                        \
        }                                                                                          \
        i0 = (int64_t)FLOOR(src);                                                                  \
        if (i0 > in - 1)                                                                           \
            i0 = in - 1;                                                                           \
        t = src - (T)i0;                                                                           \
        t = t < (T)0 ? (T)0 : (t > (T)1 ? (T)1 : t);                                               \
        if (mode == D2_RESIZE_MODE_LINEAR) {                                                       \
            index[0] = i0;                                                                         \
            index[1] = i0 + (i0 < in - 1 ? 1 : 0);                                                 \
            weight[0] = (double)((T)1 - t);                                                        \
            weight[1] = (double)t;                                                                 \
        } else {                                                                                   \
            for (int k = 0; k < 4; k++)                                                            \
                index[k] = clamp_index(i0 - 1 + k, in);                                            \
            CUBIC_WEIGHTS(t, weight);                                                              \
        }                                                                                          \
    }
DEFINE_INTERP_TAPS(interp_taps_f32, float, floorf, cubic_weights_f32)
DEFINE_INTERP_TAPS(interp_taps_f64, double, floor, cubic_weights_f64)

enum d2_status d2_upsample_make_taps(int32_t mode, bool align_corners, int64_t in, int64_t out,
                                     double scale_factor, bool use_double, const struct d2_allocator *alloc,
                                     struct d2_upsample_taps *taps, struct d2_error *err)
{
    memset(taps, 0, sizeof *taps);
    if (in < 1 || out < 1)
        return d2_errorf(err, D2_ERR_SHAPE, "upsample from %lld to %lld elements (both must be > 0)",
                         (long long)in, (long long)out);
    taps->taps = mode == D2_RESIZE_MODE_NEAREST ? 1 : (mode == D2_RESIZE_MODE_LINEAR ? 2 : 4);
    taps->index = d2_calloc(alloc, (size_t)out * (size_t)taps->taps, sizeof *taps->index);
    taps->weight = d2_calloc(alloc, (size_t)out * (size_t)taps->taps, sizeof *taps->weight);
    if (!taps->index || !taps->weight) {
        d2_upsample_free_taps(alloc, taps);
        return d2_errorf(err, D2_ERR_NOMEM, "upsample: out of memory for %lld taps", (long long)out);
    }
    for (int64_t j = 0; j < out; j++) {
        int64_t *index = taps->index + j * taps->taps;
        double *weight = taps->weight + j * taps->taps;
        if (mode == D2_RESIZE_MODE_NEAREST) {
            /* PyTorch: scale in float32, and floorf of the float32 (or, for double data, the
             * double rounded to float) product. */
            int64_t i;
            if (use_double) {
                double s = scale_factor > 0 ? 1.0 / scale_factor : (double)in / (double)out;
                i = (int64_t)floorf((float)(s * (double)j));
            } else {
                float s = scale_factor > 0 ? (float)(1.0 / scale_factor) : (float)in / (float)out;
                i = (int64_t)floorf((float)j * s);
            }
            index[0] = i > in - 1 ? in - 1 : i;
            weight[0] = 1.0;
        } else if (use_double) {
            interp_taps_f64(mode, align_corners, in, out, scale_factor, j, index, weight);
        } else {
            interp_taps_f32(mode, align_corners, in, out, scale_factor, j, index, weight);
        }
    }
    return D2_OK;
}

void d2_upsample_free_taps(const struct d2_allocator *alloc, struct d2_upsample_taps *taps)
{
    d2_free(alloc, taps->index);
    d2_free(alloc, taps->weight);
    memset(taps, 0, sizeof *taps);
}

/* One separable pass over `axis` of src (dims, row-major) into dst, whose axis has length
 * `out`. */
static void upsample_pass(const double *src, double *dst, const int64_t *dims, int32_t rank, int32_t axis,
                          int64_t out, const struct d2_upsample_taps *t)
{
    int64_t outer = 1, inner = 1, in = dims[axis];
    for (int32_t i = 0; i < axis; i++)
        outer *= dims[i];
    for (int32_t i = axis + 1; i < rank; i++)
        inner *= dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < out; j++)
            for (int64_t i = 0; i < inner; i++) {
                double acc = 0.0;
                for (int32_t k = 0; k < t->taps; k++)
                    acc += t->weight[j * t->taps + k] * src[(o * in + t->index[j * t->taps + k]) * inner + i];
                dst[(o * out + j) * inner + i] = acc;
            }
}

/* Nearest: copy elements bit for bit (any dtype). */
static void upsample_nearest(const struct d2_tensor *x, struct d2_tensor *y, const struct d2_upsample_taps *taps)
{
    int64_t in_strides[D2_MAX_RANK], numel = d2_tensor_numel(y);
    size_t elem = d2_dtype_size(x->dtype);
    d2_strides(x->rank, x->dims, in_strides);
    for (int64_t o = 0; o < numel; o++) {
        int64_t rem = o, src = 0;
        for (int32_t d = y->rank - 1; d >= 0; d--) {
            int64_t j = rem % y->dims[d];
            rem /= y->dims[d];
            src += (d >= 2 ? taps[d - 2].index[j] : j) * in_strides[d];
        }
        memcpy((unsigned char *)y->data + (size_t)o * elem, (const unsigned char *)x->data + (size_t)src * elem, elem);
    }
}

enum d2_status d2_cpu_ref_upsample(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_upsample *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_tensor *y = &ctx->outputs[0];
    struct d2_upsample_taps taps[D2_MAX_RANK];
    int32_t k = x->rank - 2;
    enum d2_status st = D2_OK;
    double *buf_a = NULL, *buf_b = NULL;

    memset(taps, 0, sizeof taps);
    if (!y->data && d2_tensor_numel(y) > 0)
        return d2_errorf(ctx->err, D2_ERR_INTERNAL, "upsample: output was not allocated");
    if (d2_tensor_numel(y) == 0)
        return D2_OK;
    for (int32_t i = 0; i < k && st == D2_OK; i++)
        st = d2_upsample_make_taps(a->mode, a->align_corners != 0, x->dims[i + 2], y->dims[i + 2],
                                   a->scales.count ? a->scales.data[i] : 0.0, x->dtype == D2_DTYPE_F64,
                                   ctx->alloc, &taps[i], ctx->err);
    if (st != D2_OK)
        goto done;
    if (a->mode == D2_RESIZE_MODE_NEAREST) {
        upsample_nearest(x, y, taps);
        goto done;
    }
    /* Separable passes in double: the buffer grows axis by axis from x's dims to y's. */
    int64_t dims[D2_MAX_RANK], largest = d2_tensor_numel(x);
    memcpy(dims, x->dims, sizeof dims);
    for (int32_t i = 0; i < k; i++) {
        dims[i + 2] = y->dims[i + 2];
        int64_t n = d2_dims_numel(x->rank, dims);
        largest = n > largest ? n : largest;
    }
    buf_a = d2_alloc(ctx->alloc, (size_t)largest * sizeof *buf_a);
    buf_b = d2_alloc(ctx->alloc, (size_t)largest * sizeof *buf_b);
    if (!buf_a || !buf_b) {
        st = d2_errorf(ctx->err, D2_ERR_NOMEM, "upsample: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < d2_tensor_numel(x); i++)
        buf_a[i] = d2_load_f64(x->data, x->dtype, (size_t)i);
    memcpy(dims, x->dims, sizeof dims);
    for (int32_t i = 0; i < k; i++) {
        upsample_pass(buf_a, buf_b, dims, x->rank, i + 2, y->dims[i + 2], &taps[i]);
        dims[i + 2] = y->dims[i + 2];
        double *swap = buf_a;
        buf_a = buf_b;
        buf_b = swap;
    }
    for (int64_t i = 0; i < d2_tensor_numel(y); i++)
        d2_store_f64(y->data, y->dtype, (size_t)i, buf_a[i]);
done:
    for (int32_t i = 0; i < k; i++)
        d2_upsample_free_taps(ctx->alloc, &taps[i]);
    d2_free(ctx->alloc, buf_a);
    d2_free(ctx->alloc, buf_b);
    return st;
}
