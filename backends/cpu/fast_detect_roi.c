/* backends/cpu/fast_detect_roi.c: fast box_roi_align for f32 feature maps, identical
 * (bit for bit) to the reference kernel (backends/cpu/ref_detect2_roi.c, semantics
 * there).
 *
 * The reference recomputes every sample's position and bilinear taps for every
 * channel and reads X through the dtype-generic loader. Here each roi's geometry is
 * computed once (a pre-pass over all rois, which also checks the batch indices), and
 * the sample positions are separable: sample (iy, ix) of bin (ph, pw) sits at row
 * position y(ph, iy) and column position x(pw, ix), so per roi the rows' taps (valid,
 * low/high row, ly/hy) and the columns' taps are tabulated once (pooled_h * grid_h +
 * pooled_w * grid_w entries) and every channel reuses them. Per sample the
 * arithmetic is the reference's, in its order: the four weights hy*hx, hy*lx, ly*hx,
 * ly*lx rounded to float, v = sum of weight * X in double in corner order, the bin's
 * sum in double in (iy, ix) order, divided by max(grid_h * grid_w, 1) (or the max of
 * the v, invalid samples counting as 0). Rois run in parallel on the thread pool
 * (each writes only its own output rows).
 *
 * Channels in SIMD (avg mode, enough samples to pay for it): X is first copied to NHWC
 * (the data kernels' cache-blocked transpose), so the four taps of a sample are four
 * contiguous runs of channels; a roi's bins are computed into a per-thread [bin][channel]
 * buffer (whole-vector stores) and transposed to the output's [channel][bin] while it
 * is in cache; per bin, the
 * samples (weights and tap offsets) are listed once and a vector of 2-16 channels at a
 * time goes through them with the same double operations in the same order as the
 * scalar loop (products of two floats are exact in double, no fused multiply-adds), so
 * the output stays bit-identical. GCC vector extensions compiled per instruction set
 * with target attributes, chosen by the session's kernel table (as fast_detect_nms.c).
 * Max mode keeps the scalar loop (fmax's zero and NaN choices are not reproduced).
 *
 * Fast path: f32 X with non-empty planes and grids of at most 2^16 samples per axis;
 * everything else (other dtypes, malformed inputs and bad batch indices, whose errors
 * the reference reports) runs the reference kernel. */
#include "fast_detect.h"

#include <math.h>
#include <string.h>

#include "fast.h"
#include "fast_data.h"
#include "ref_detect2.h"

enum d2_status d2_cpu_ref_box_roi_align(struct d2_kernel_ctx *ctx);

/* Largest pooled * grid per axis handled here (a bigger one is a degenerate roi). */
#define ROI_MAX_AXIS_SAMPLES 65536

struct roi_geometry {
    int64_t batch;
    double start_h, start_w, bin_h, bin_w;
    int64_t grid_h, grid_w;  /* <= 0: no samples */
    int64_t count;           /* the avg divisor, max(grid_h * grid_w, 1) */
};

/* One sample position along one axis, reduced to its bilinear taps. */
struct axis_tap {
    bool valid;              /* false: the sample reads as 0 */
    int64_t low, high;       /* rows (times the row stride) or columns */
    double l, h;             /* fractional part and 1 - it, rounded to float */
};

/* One sample of a bin, for the NHWC path: tap offsets in floats from the image's first
 * pixel (row * W * C + column * C) and the four weights rounded to float. */
struct roi_sample {
    int64_t offset[4];
    double weight[4];
    bool valid;
};

/* Averages one bin for channels [0, channels): out[c * out_stride] = (float)(sum_s v_s / divisor),
 * v_s = 0 + w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3 (double, in that order), x_i =
 * image[offset_i + c]. */
typedef void (*roi_bin_fn)(const float *image, int64_t channels, const struct roi_sample *samples,
                           int64_t num_samples, double divisor, float *out, int64_t out_stride);

struct roi_job {
    const struct d2_attrs_box_roi_align *attrs;
    const struct roi_geometry *geometry;
    const float *x;
    float *y;
    int64_t channels, height, width, ph_n, pw_n;
    struct axis_tap *taps;   /* per thread: taps_per_thread entries */
    int64_t taps_per_thread;
    /* Channels-in-SIMD path (NULL nhwc: the scalar loop): */
    const float *nhwc;       /* X as [N][H][W][C] */
    struct roi_sample *samples;  /* per thread: samples_per_thread entries (one bin's) */
    int64_t samples_per_thread;
    float *bins_by_channel;  /* per thread: one roi's output as [bin][channel] */
    roi_bin_fn bin_fn;
};

/* The reference's sample position start + p * bin + (i + 0.5) * bin / grid, in float. */
static double sample_position(double start, int64_t p, double bin, int64_t i, int64_t grid)
{
    double base = (float)(start + (float)((double)p * bin));
    double within = (float)((float)(((double)i + 0.5) * bin) / (double)grid);
    return (float)(base + within);
}

/* The reference's adaptive grid: ceil(roi size / pooled size); NaN gives none. */
static int64_t adaptive_grid(double bin)
{
    if (!(bin > 0))
        return bin <= 0 ? (int64_t)ceil(fmax(bin, -1e9)) : 0;
    return (int64_t)ceil(fmin(bin, 1e9));
}

/* Taps of position v on an axis of `size` (the reference's bilinear_taps, one axis);
 * stride scales low/high (the row stride for y, 1 for x). */
static struct axis_tap axis_tap_at(double v, int64_t size, int64_t stride)
{
    struct axis_tap t;
    memset(&t, 0, sizeof t);
    if (v < -1.0 || v > (double)size)
        return t;
    t.valid = true;
    if (v <= 0)
        v = 0;
    int64_t low = (int64_t)v, high;
    if (low >= size - 1) {
        high = low = size - 1;
        v = (double)low;
    } else {
        high = low + 1;
    }
    t.l = (float)(v - (double)low);
    t.h = (float)(1.0 - t.l);
    t.low = low * stride;
    t.high = high * stride;
    return t;
}

/* The channels from `c` on, one at a time (the tail of the vector loop). */
static void roi_bin_scalar_from(int64_t c, const float *image, int64_t channels, const struct roi_sample *samples,
                                int64_t num_samples, double divisor, float *out, int64_t out_stride)
{
    for (; c < channels; c++) {
        double sum = 0.0;
        for (int64_t i = 0; i < num_samples; i++) {
            const struct roi_sample *sp = &samples[i];
            double v = 0.0;
            if (sp->valid) {
                v += sp->weight[0] * (double)image[sp->offset[0] + c];
                v += sp->weight[1] * (double)image[sp->offset[1] + c];
                v += sp->weight[2] * (double)image[sp->offset[2] + c];
                v += sp->weight[3] * (double)image[sp->offset[3] + c];
            }
            sum += v;
        }
        out[c * out_stride] = (float)(sum / divisor);
    }
}

#define DEFINE_ROI_BIN(NAME, TARGET, LANES)                                                                    \
    typedef float NAME##_vf __attribute__((vector_size(LANES * 4)));                                           \
    typedef double NAME##_vd __attribute__((vector_size(LANES * 8)));                                          \
    TARGET static void NAME(const float *image, int64_t channels, const struct roi_sample *samples,            \
                            int64_t num_samples, double divisor, float *out, int64_t out_stride)               \
    {                                                                                                          \
        typedef NAME##_vf vf;                                                                                  \
        typedef NAME##_vd vd;                                                                                  \
        const vd zero = { 0 };                                                                                 \
        int64_t c = 0;                                                                                         \
        for (; c + LANES <= channels; c += LANES) {                                                            \
            vd sum = zero;                                                                                     \
            for (int64_t i = 0; i < num_samples; i++) {                                                        \
                const struct roi_sample *sp = &samples[i];                                                     \
                vd v = zero;                                                                                   \
                if (sp->valid)                                                                                 \
                    for (int k = 0; k < 4; k++) {                                                              \
                        vf f;                                                                                  \
                        memcpy(&f, image + sp->offset[k] + c, sizeof f);                                       \
                        v = v + (zero + sp->weight[k]) * __builtin_convertvector(f, vd);                       \
                    }                                                                                          \
                sum = sum + v;                                                                                 \
            }                                                                                                  \
            vd q = sum / (zero + divisor);                                                                     \
            for (int l = 0; l < LANES; l++)                                                                    \
                out[(c + l) * out_stride] = (float)q[l];                                                       \
        }                                                                                                      \
        roi_bin_scalar_from(c, image, channels, samples, num_samples, divisor, out, out_stride);               \
    }

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* no fused multiply-adds: the reference rounds each operation */
#endif
DEFINE_ROI_BIN(roi_bin_generic, , 2)
#if defined(__x86_64__) && defined(__GNUC__)
#define ROI_HAVE_X86_BINS 1
DEFINE_ROI_BIN(roi_bin_avx2, __attribute__((target("avx2"))), 4)
DEFINE_ROI_BIN(roi_bin_avx512, __attribute__((target("avx512f"))), 8)
#endif

/* The bin function for the session's kernel table, and its lanes. */
static roi_bin_fn roi_bin_for(const struct d2_cpu_kernels *kt, int32_t *lanes)
{
#ifdef ROI_HAVE_X86_BINS
    if (strcmp(kt->name, "avx512") == 0) {
        *lanes = 8;
        return roi_bin_avx512;
    }
    if (strcmp(kt->name, "avx2") == 0) {
        *lanes = 4;
        return roi_bin_avx2;
    }
#endif
    (void)kt;
    *lanes = 2;
    return roi_bin_generic;
}

/* The NHWC path of roi_rows (avg mode): per bin, the samples, then every channel. */
static void roi_rows_nhwc(const struct roi_job *job, int64_t begin, int64_t end, int32_t thread)
{
    const int64_t channels = job->channels, height = job->height, width = job->width;
    const int64_t ph_n = job->ph_n, pw_n = job->pw_n, bins = ph_n * pw_n;
    struct axis_tap *taps = job->taps + (int64_t)thread * job->taps_per_thread;
    struct roi_sample *samples = job->samples + (int64_t)thread * job->samples_per_thread;
    for (int64_t r = begin; r < end; r++) {
        const struct roi_geometry *g = &job->geometry[r];
        int64_t gh = g->grid_h > 0 && g->grid_w > 0 ? g->grid_h : 0;
        int64_t gw = gh > 0 ? g->grid_w : 0;
        struct axis_tap *ytap = taps, *xtap = taps + ph_n * gh;
        for (int64_t ph = 0; ph < ph_n; ph++)
            for (int64_t iy = 0; iy < gh; iy++)
                ytap[ph * gh + iy] =
                    axis_tap_at(sample_position(g->start_h, ph, g->bin_h, iy, gh), height, width * channels);
        for (int64_t pw = 0; pw < pw_n; pw++)
            for (int64_t ix = 0; ix < gw; ix++)
                xtap[pw * gw + ix] = axis_tap_at(sample_position(g->start_w, pw, g->bin_w, ix, gw), width, channels);
        const float *image = job->nhwc + g->batch * height * width * channels;
        /* Bins are computed channels-contiguous ([bin][c], whole-vector stores), then
         * turned into the output's [c][bin] in one small transpose that stays in cache. */
        float *out = job->bins_by_channel + (int64_t)thread * bins * channels;
        for (int64_t ph = 0; ph < ph_n; ph++)
            for (int64_t pw = 0; pw < pw_n; pw++) {
                int64_t n = 0;
                for (int64_t iy = 0; iy < gh; iy++) {
                    const struct axis_tap ty = ytap[ph * gh + iy];
                    for (int64_t ix = 0; ix < gw; ix++) {
                        const struct axis_tap tx = xtap[pw * gw + ix];
                        struct roi_sample *sp = &samples[n++];
                        sp->valid = ty.valid && tx.valid;
                        if (!sp->valid)
                            continue;
                        sp->weight[0] = (float)(ty.h * tx.h);
                        sp->weight[1] = (float)(ty.h * tx.l);
                        sp->weight[2] = (float)(ty.l * tx.h);
                        sp->weight[3] = (float)(ty.l * tx.l);
                        sp->offset[0] = ty.low + tx.low;
                        sp->offset[1] = ty.low + tx.high;
                        sp->offset[2] = ty.high + tx.low;
                        sp->offset[3] = ty.high + tx.high;
                    }
                }
                job->bin_fn(image, channels, samples, n, (double)g->count, out + (ph * pw_n + pw) * channels, 1);
            }
        float *y = job->y + r * channels * bins;
        for (int64_t c = 0; c < channels; c++)
            for (int64_t b = 0; b < bins; b++)
                y[c * bins + b] = out[b * channels + c];
    }
}

static void roi_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct roi_job *job = ctx;
    const int64_t channels = job->channels, height = job->height, width = job->width;
    const int64_t ph_n = job->ph_n, pw_n = job->pw_n;
    const bool is_max = job->attrs->mode == D2_ROI_POOL_MAX;
    if (job->nhwc) {
        roi_rows_nhwc(job, begin, end, thread);
        return;
    }
    struct axis_tap *taps = job->taps + (int64_t)thread * job->taps_per_thread;
    for (int64_t r = begin; r < end; r++) {
        const struct roi_geometry *g = &job->geometry[r];
        int64_t gh = g->grid_h > 0 && g->grid_w > 0 ? g->grid_h : 0;
        int64_t gw = gh > 0 ? g->grid_w : 0;
        struct axis_tap *ytap = taps, *xtap = taps + ph_n * gh;
        for (int64_t ph = 0; ph < ph_n; ph++)
            for (int64_t iy = 0; iy < gh; iy++)
                ytap[ph * gh + iy] = axis_tap_at(sample_position(g->start_h, ph, g->bin_h, iy, gh), height, width);
        for (int64_t pw = 0; pw < pw_n; pw++)
            for (int64_t ix = 0; ix < gw; ix++)
                xtap[pw * gw + ix] = axis_tap_at(sample_position(g->start_w, pw, g->bin_w, ix, gw), width, 1);
        const double divisor = (double)g->count;
        for (int64_t c = 0; c < channels; c++) {
            const float *plane = job->x + (g->batch * channels + c) * height * width;
            float *out = job->y + ((r * channels + c) * ph_n) * pw_n;
            for (int64_t ph = 0; ph < ph_n; ph++) {
                const struct axis_tap *yt = ytap + ph * gh;
                for (int64_t pw = 0; pw < pw_n; pw++) {
                    const struct axis_tap *xt = xtap + pw * gw;
                    double sum = 0.0, peak = 0.0;
                    bool any = false;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        const struct axis_tap ty = yt[iy];
                        for (int64_t ix = 0; ix < gw; ix++) {
                            const struct axis_tap tx = xt[ix];
                            double v = 0.0;
                            if (ty.valid && tx.valid) {
                                double w0 = (float)(ty.h * tx.h), w1 = (float)(ty.h * tx.l);
                                double w2 = (float)(ty.l * tx.h), w3 = (float)(ty.l * tx.l);
                                v += w0 * (double)plane[ty.low + tx.low];
                                v += w1 * (double)plane[ty.low + tx.high];
                                v += w2 * (double)plane[ty.high + tx.low];
                                v += w3 * (double)plane[ty.high + tx.high];
                            }
                            sum += v;
                            peak = any ? fmax(peak, v) : v;
                            any = true;
                        }
                    }
                    out[ph * pw_n + pw] = (float)(is_max ? peak : sum / divisor);
                }
            }
        }
    }
}

/* v rounded to float. Not inlined on purpose: GCC 12.2's SLP vectorizer merges the two
 * adjacent bin-size divisions below into one divpd and drops their (float) rounding
 * (reproduced with a 10-line program at -O2), which moved samples by an ulp. */
__attribute__((noinline)) static double round_f32(double v)
{
    return (float)v;
}

/* Geometry of roi r (the reference's, in float); false when its batch index is bad. */
static bool roi_geometry_of(const struct d2_kernel_ctx *ctx, int64_t r, struct roi_geometry *g)
{
    const struct d2_attrs_box_roi_align *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *rois = ctx->inputs[1];
    const struct d2_tensor *batch = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    int64_t cols = rois->dims[1];
    if (cols == 5) {
        double b = d2_load_f64(rois->data, rois->dtype, (size_t)(r * 5));
        if (!(b > -1.0 && b < 9.0e18))
            return false;
        g->batch = (int64_t)b;
    } else {
        g->batch = batch ? d2_load_i64(batch->data, batch->dtype, (size_t)r) : 0;
    }
    if (g->batch < 0 || g->batch >= x->dims[0])
        return false;
    double offset = a->aligned ? 0.5 : 0.0, corner[4];
    for (int i = 0; i < 4; i++) {
        double v = d2_load_f64(rois->data, rois->dtype, (size_t)(r * cols + cols - 4 + i));
        corner[i] = round_f32(round_f32(v) * a->spatial_scale - offset);
    }
    g->start_w = corner[0];
    g->start_h = corner[1];
    double roi_w = round_f32(corner[2] - corner[0]), roi_h = round_f32(corner[3] - corner[1]);
    if (!a->aligned) {
        roi_w = roi_w > 1.0 ? roi_w : 1.0;
        roi_h = roi_h > 1.0 ? roi_h : 1.0;
    }
    g->bin_h = round_f32(roi_h / (double)a->pooled_h);
    g->bin_w = round_f32(roi_w / (double)a->pooled_w);
    g->grid_h = a->sampling_ratio > 0 ? a->sampling_ratio : adaptive_grid(g->bin_h);
    g->grid_w = a->sampling_ratio > 0 ? a->sampling_ratio : adaptive_grid(g->bin_w);
    g->count = g->grid_h > 0 && g->grid_w > 0 ? g->grid_h * g->grid_w : 1;
    return true;
}

enum d2_status d2_cpu_fast_box_roi_align(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_attrs_box_roi_align *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *rois = ctx->inputs[1];
    const struct d2_tensor *batch = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    int64_t ph_n = a->pooled_h, pw_n = a->pooled_w;
    if (!fast || x->dtype != D2_DTYPE_F32 || x->rank != 4 || rois->rank != 2 ||
        (rois->dims[1] != 4 && rois->dims[1] != 5) ||
        (batch && (rois->dims[1] != 4 || batch->rank != 1 || batch->dims[0] != rois->dims[0])) || ph_n < 1 ||
        pw_n < 1 || x->dims[2] < 1 || x->dims[3] < 1 || ph_n > ROI_MAX_AXIS_SAMPLES || pw_n > ROI_MAX_AXIS_SAMPLES)
        return d2_cpu_ref_box_roi_align(ctx);
    int64_t num_rois = rois->dims[0];
    struct roi_geometry *geometry = d2_alloc(ctx->alloc, (size_t)(num_rois > 0 ? num_rois : 1) * sizeof *geometry);
    if (!geometry)
        return d2_det_oom(ctx);
    int64_t max_gh = 0, max_gw = 0;
    double total_samples = 0;
    for (int64_t r = 0; r < num_rois; r++) {
        struct roi_geometry *g = &geometry[r];
        if (!roi_geometry_of(ctx, r, g) || g->grid_h > ROI_MAX_AXIS_SAMPLES / ph_n ||
            g->grid_w > ROI_MAX_AXIS_SAMPLES / pw_n) {
            d2_free(ctx->alloc, geometry);
            return d2_cpu_ref_box_roi_align(ctx); /* reports the bad index, or runs the odd roi */
        }
        max_gh = g->grid_h > max_gh ? g->grid_h : max_gh;
        max_gw = g->grid_w > max_gw ? g->grid_w : max_gw;
        if (g->grid_h > 0 && g->grid_w > 0)
            total_samples += (double)(ph_n * pw_n) * (double)g->grid_h * (double)g->grid_w;
    }
    int64_t dims[4] = { num_rois, x->dims[1], ph_n, pw_n };
    enum d2_status st = d2_det_output(ctx, 0, D2_DTYPE_F32, 4, dims);
    if (st != D2_OK || d2_dims_numel(4, dims) == 0) {
        d2_free(ctx->alloc, geometry);
        return st;
    }
    int32_t threads = d2_threadpool_size(fast->pool);
    int64_t per_thread = ph_n * max_gh + pw_n * max_gw;
    struct axis_tap *taps = d2_alloc(ctx->alloc, (size_t)(threads * (per_thread > 0 ? per_thread : 1)) * sizeof *taps);
    if (!taps) {
        d2_free(ctx->alloc, geometry);
        return d2_det_oom(ctx);
    }
    struct roi_job job = { a, geometry, x->data, ctx->outputs[0].data, x->dims[1], x->dims[2], x->dims[3],
                           ph_n, pw_n, taps, per_thread, NULL, NULL, 0, NULL, NULL };
    /* Channels in SIMD when the mode is avg, there is a full vector of channels, a bin has
     * at most 4096 samples, and the rois read each pixel of the map about once or more
     * (the NHWC copy is one pass over X). */
    int32_t lanes;
    job.bin_fn = roi_bin_for(fast->kernels, &lanes);
    const int64_t channels = x->dims[1], pixels = x->dims[0] * x->dims[2] * x->dims[3];
    float *nhwc = NULL;
    if (a->mode != D2_ROI_POOL_MAX && channels >= lanes && max_gh * max_gw <= 4096 &&
        4.0 * total_samples >= (double)pixels) {
        nhwc = d2_alloc(ctx->alloc, (size_t)(pixels * channels) * sizeof(float));
        job.samples = d2_alloc(ctx->alloc, (size_t)(threads * (max_gh * max_gw > 0 ? max_gh * max_gw : 1)) *
                                               sizeof *job.samples);
        job.bins_by_channel = d2_alloc(ctx->alloc, (size_t)(threads * ph_n * pw_n * channels) * sizeof(float));
        if (nhwc && job.samples && job.bins_by_channel) {
            /* [N][C][H*W] -> [N][H*W][C]: a blocked transpose per image. */
            const int64_t plane = x->dims[2] * x->dims[3];
            const int64_t nhwc_dims[3] = { x->dims[0], plane, channels };
            const int64_t nchw_strides[3] = { channels * plane, 1, plane };
            d2_fast_copy_strided(fast->pool, nhwc, x->data, sizeof(float), 3, nhwc_dims, nchw_strides, 0);
            job.nhwc = nhwc;
            job.samples_per_thread = max_gh * max_gw > 0 ? max_gh * max_gw : 1;
        }
        /* out of memory: the scalar loop, which needs neither buffer */
    }
    d2_threadpool_parallel_for(fast->pool, num_rois, 1, roi_rows, &job);
    if (job.samples)
        d2_free(ctx->alloc, job.samples);
    if (job.bins_by_channel)
        d2_free(ctx->alloc, job.bins_by_channel);
    if (nhwc)
        d2_free(ctx->alloc, nhwc);
    d2_free(ctx->alloc, taps);
    d2_free(ctx->alloc, geometry);
    return D2_OK;
}
