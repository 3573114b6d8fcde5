/* runtime/image_resize.c: detectron2's ResizeShortestEdge, bit-exact with PIL.
 *
 * Size rule (augmentation_impl.py, ResizeShortestEdge.get_output_shape), all in double:
 *   scale = S / min(h, w); (nh, nw) = (S, scale * w) if h < w else (scale * h, S)
 *   if max(nh, nw) > M: r = M / max(nh, nw); nh *= r; nw *= r
 *   nh = int(nh + 0.5); nw = int(nw + 0.5)
 *
 * Pixels: Pillow's Image.resize(BILINEAR) on 8-bit data (Pillow >= 7). It is a separable
 * convolution, horizontal pass first, then vertical:
 *   - for output index i, the source centre is (i + 0.5) * scale with scale = in / out; the
 *     triangle filter has support 1 * max(scale, 1) (it widens when shrinking: antialiasing);
 *     taps run from int(centre - support + 0.5) to int(centre + support + 0.5), clipped to
 *     the image, weight tri((j - centre + 0.5) * (1 / max(scale, 1))), normalised to sum 1;
 *   - weights become fixed point with 22 fractional bits (PRECISION_BITS = 32 - 8 - 2),
 *     rounded half away from zero; sums start at 1 << 21 (rounding) and are clipped to
 *     0..255 after each pass (floor of sum >> 22);
 *   - the horizontal pass only computes the rows the vertical pass will read; a pass whose
 *     size does not change is skipped (its filter would be the identity anyway).
 * The arithmetic below is the same integer arithmetic, so the results are identical. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "image_internal.h"

#define RESAMPLE_PRECISION_BITS (32 - 8 - 2)

void d2_resize_shortest_edge_size(int64_t h, int64_t w, int64_t min_size, int64_t max_size,
                                  int64_t *new_h, int64_t *new_w)
{
    if (min_size <= 0 || h <= 0 || w <= 0) {
        *new_h = h;
        *new_w = w;
        return;
    }
    double size = (double)min_size;
    double scale = size / (double)(h < w ? h : w);
    double nh, nw;
    if (h < w) {
        nh = size;
        nw = scale * (double)w;
    } else {
        nh = scale * (double)h;
        nw = size;
    }
    double longest = nh > nw ? nh : nw;
    if (max_size > 0 && longest > (double)max_size) {
        double r = (double)max_size / longest;
        nh = nh * r;
        nw = nw * r;
    }
    *new_h = (int64_t)(nh + 0.5);
    *new_w = (int64_t)(nw + 0.5);
}

/* One axis of the resampling: for each output index, the first source index, the tap count
 * and the fixed-point weights (ksize slots per output index). */
struct resample_axis {
    int64_t ksize;
    int64_t *first;
    int64_t *count;
    int32_t *weights;
};

static double triangle_filter(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void axis_free(const struct d2_allocator *alloc, struct resample_axis *a)
{
    d2_free(alloc, a->first);
    d2_free(alloc, a->count);
    d2_free(alloc, a->weights);
    memset(a, 0, sizeof *a);
}

static enum d2_status axis_init(struct resample_axis *a, int64_t in_size, int64_t out_size,
                                const struct d2_allocator *alloc, struct d2_error *err)
{
    double scale = (double)in_size / (double)out_size;
    double filter_scale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filter_scale; /* the triangle's support is 1 */
    double inv_filter_scale = 1.0 / filter_scale; /* Pillow multiplies by it; dividing rounds differently */
    double *taps = NULL;
    memset(a, 0, sizeof *a);
    a->ksize = (int64_t)ceil(support) * 2 + 1;
    a->first = d2_calloc(alloc, (size_t)out_size, sizeof *a->first);
    a->count = d2_calloc(alloc, (size_t)out_size, sizeof *a->count);
    a->weights = d2_calloc(alloc, (size_t)out_size, (size_t)a->ksize * sizeof *a->weights);
    taps = d2_calloc(alloc, (size_t)a->ksize, sizeof *taps);
    if (a->first == NULL || a->count == NULL || a->weights == NULL || taps == NULL) {
        axis_free(alloc, a);
        d2_free(alloc, taps);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory computing resize coefficients");
    }
    for (int64_t i = 0; i < out_size; i++) {
        double center = ((double)i + 0.5) * scale;
        int64_t lo = (int64_t)(center - support + 0.5);
        int64_t hi = (int64_t)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in_size)
            hi = in_size;
        int64_t n = hi - lo;
        if (n > a->ksize) /* cannot happen (n <= 2 * ceil(support) + 1); keeps writes in bounds */
            n = a->ksize;
        double total = 0.0;
        for (int64_t j = 0; j < n; j++) {
            taps[j] = triangle_filter(((double)(j + lo) - center + 0.5) * inv_filter_scale);
            total += taps[j];
        }
        int32_t *k = a->weights + i * a->ksize;
        for (int64_t j = 0; j < n; j++) {
            double wgt = total != 0.0 ? taps[j] / total : taps[j];
            double fixed = wgt * (double)(1 << RESAMPLE_PRECISION_BITS);
            k[j] = (int32_t)(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
        }
        a->first[i] = lo;
        a->count[i] = n > 0 ? n : 0;
    }
    d2_free(alloc, taps);
    return D2_OK;
}

static uint8_t clip_fixed(int64_t sum)
{
    int64_t v = sum >> RESAMPLE_PRECISION_BITS; /* arithmetic shift: floor, as Pillow's table */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass over source rows [row0, row0 + rows) of src [*, in_w, c] into dst [rows, out_w, c]. */
static void resample_rows(const uint8_t *src, int64_t in_w, int64_t c, int64_t row0, int64_t rows,
                          const struct resample_axis *ax, int64_t out_w, uint8_t *dst)
{
    for (int64_t y = 0; y < rows; y++) {
        const uint8_t *srow = src + (row0 + y) * in_w * c;
        uint8_t *drow = dst + y * out_w * c;
        for (int64_t x = 0; x < out_w; x++) {
            const int32_t *k = ax->weights + x * ax->ksize;
            const uint8_t *s = srow + ax->first[x] * c;
            for (int64_t ch = 0; ch < c; ch++) {
                int64_t sum = (int64_t)1 << (RESAMPLE_PRECISION_BITS - 1);
                for (int64_t j = 0; j < ax->count[x]; j++)
                    sum += (int64_t)s[j * c + ch] * k[j];
                drow[x * c + ch] = clip_fixed(sum);
            }
        }
    }
}

/* Vertical pass: src [*, w, c] (row r of src is source row r + row_shift) into dst [out_h, w, c]. */
static void resample_columns(const uint8_t *src, int64_t w, int64_t c, int64_t row_shift,
                             const struct resample_axis *ax, int64_t out_h, uint8_t *dst)
{
    const int64_t row_len = w * c;
    for (int64_t y = 0; y < out_h; y++) {
        const int32_t *k = ax->weights + y * ax->ksize;
        const uint8_t *s = src + (ax->first[y] - row_shift) * row_len;
        uint8_t *drow = dst + y * row_len;
        for (int64_t i = 0; i < row_len; i++) {
            int64_t sum = (int64_t)1 << (RESAMPLE_PRECISION_BITS - 1);
            for (int64_t j = 0; j < ax->count[y]; j++)
                sum += (int64_t)s[j * row_len + i] * k[j];
            drow[i] = clip_fixed(sum);
        }
    }
}

enum d2_status d2_image_bilinear_resize_u8(const struct d2_tensor *in, int64_t new_h, int64_t new_w,
                                           const struct d2_allocator *alloc, struct d2_tensor *out,
                                           struct d2_error *err)
{
    memset(out, 0, sizeof *out);
    if (in == NULL || in->dtype != D2_DTYPE_U8 || in->rank != 3 || in->dims[2] < 1 || in->data == NULL)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "bilinear resize: expected a non-empty u8 [H, W, C] tensor");
    const int64_t h = in->dims[0], w = in->dims[1], c = in->dims[2];
    if (h < 1 || w < 1)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "bilinear resize: empty input image %lldx%lld", (long long)w,
                         (long long)h);
    if (new_h < 1 || new_w < 1 || new_h > D2_IMAGE_MAX_SIDE || new_w > D2_IMAGE_MAX_SIDE ||
        new_h * new_w > D2_IMAGE_MAX_PIXELS || c > 4096)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "bilinear resize: output size %lldx%lld (x%lld channels) is "
                         "empty or too large", (long long)new_w, (long long)new_h, (long long)c);
    if (h > INT_MAX || w > INT_MAX)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "bilinear resize: input image is too large");
    int64_t dims[3] = {new_h, new_w, c};
    if (new_h == h && new_w == w)
        return d2_tensor_copy(out, in, alloc, err); /* Pillow returns a copy */

    struct resample_axis horizontal = {0}, vertical = {0};
    uint8_t *between = NULL;
    enum d2_status st = d2_tensor_alloc(out, alloc, D2_DTYPE_U8, 3, dims, err);
    if (st == D2_OK && new_w != w)
        st = axis_init(&horizontal, w, new_w, alloc, err);
    if (st == D2_OK && new_h != h)
        st = axis_init(&vertical, h, new_h, alloc, err);
    if (st != D2_OK)
        goto done;
    if (new_h == h) {
        resample_rows(in->data, w, c, 0, h, &horizontal, new_w, out->data);
    } else if (new_w == w) {
        resample_columns(in->data, w, c, 0, &vertical, new_h, out->data);
    } else {
        /* Only the source rows the vertical taps touch go through the horizontal pass. */
        int64_t row_first = vertical.first[0];
        int64_t row_end = vertical.first[new_h - 1] + vertical.count[new_h - 1];
        between = d2_calloc(alloc, (size_t)(row_end - row_first), (size_t)(new_w * c));
        if (between == NULL) {
            st = d2_errorf(err, D2_ERR_NOMEM, "out of memory resizing an image");
            goto done;
        }
        resample_rows(in->data, w, c, row_first, row_end - row_first, &horizontal, new_w, between);
        resample_columns(between, new_w, c, row_first, &vertical, new_h, out->data);
    }
done:
    axis_free(alloc, &horizontal);
    axis_free(alloc, &vertical);
    d2_free(alloc, between);
    if (st != D2_OK)
        d2_tensor_release(out, alloc);
    return st;
}

enum d2_status d2_image_resize_shortest_edge(const struct d2_tensor *in, int64_t min_size,
                                             int64_t max_size, const struct d2_allocator *alloc,
                                             struct d2_tensor *out, struct d2_error *err)
{
    memset(out, 0, sizeof *out);
    if (in == NULL || in->rank != 3)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "resize shortest edge: expected a u8 [H, W, C] tensor");
    int64_t new_h, new_w;
    d2_resize_shortest_edge_size(in->dims[0], in->dims[1], min_size, max_size, &new_h, &new_w);
    return d2_image_bilinear_resize_u8(in, new_h, new_w, alloc, out, err);
}
