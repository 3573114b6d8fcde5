/* backends/cpu/ref_moreops_norm.c: reference CPU kernels of the normalizations of
 * the "more ops" family: layer_norm, rms_norm, group_norm, mean_variance_norm,
 * lp_norm (semantics: ops.def rows).
 *
 * Statistics are computed in double with the two-pass formulas (mean first, then
 * the mean of squared deviations), so they do not suffer the cancellation of
 * E[x^2] - E[x]^2; results are rounded once to the output dtype.
 */
#include "ref_moreops.h"

#include <math.h>

static enum d2_status require_float(struct d2_kernel_ctx *ctx, const struct d2_tensor *x)
{
    if (!d2_dtype_is_float(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(x->dtype));
    return D2_OK;
}

/* `what` (input i, optional when !required) must broadcast to x without growing it. */
static enum d2_status check_broadcast_to(struct d2_kernel_ctx *ctx, uint32_t i, const struct d2_tensor *x,
                                         const char *what)
{
    const struct d2_tensor *t = i < ctx->num_inputs ? ctx->inputs[i] : NULL;
    if (!t)
        return D2_OK;
    if (t->dtype != x->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s has dtype %s but X has %s", what, d2_dtype_name(t->dtype),
                         d2_dtype_name(x->dtype));
    if (t->rank > x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s has rank %d, more than X's rank %d", what, (int)t->rank,
                         (int)x->rank);
    for (int32_t j = 0; j < t->rank; j++) {
        int64_t dx = x->dims[j + x->rank - t->rank];
        if (t->dims[j] != 1 && t->dims[j] != dx)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s dim %d is %lld but X's is %lld (must be 1 or equal)", what,
                             (int)j, (long long)t->dims[j], (long long)dx);
    }
    return D2_OK;
}

/* Element of t (broadcast to x's dims) at x's linear index i. */
static double broadcast_load(const struct d2_tensor *t, const struct d2_tensor *x, int64_t i)
{
    return d2_load_f64(t->data, t->dtype, (size_t)d2_broadcast_index(i, x->rank, x->dims, t->rank, t->dims));
}

/* Rows and columns of x seen as a matrix split before dim `axis`. */
static void split_rows(const struct d2_tensor *x, int64_t axis, int64_t *rows, int64_t *cols)
{
    *rows = 1;
    *cols = 1;
    for (int64_t d = 0; d < x->rank; d++)
        *(d < axis ? rows : cols) *= x->dims[d];
}

/* ---- layer_norm, rms_norm -------------------------------------------------------- */

/* Shared by both: rms skips the mean (treats it as 0) and has no bias or stats. */
static enum d2_status row_norm(struct d2_kernel_ctx *ctx, bool rms)
{
    const struct d2_attrs_layer_norm *attrs = ctx->node->attrs;
    const struct d2_tensor *x = NULL, *scale = NULL;
    const struct d2_tensor *bias = !rms && ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    int64_t axis, rows, cols;
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st == D2_OK)
        st = d2_moreops_input(ctx, 1, &scale);
    if (st == D2_OK)
        st = require_float(ctx, x);
    if (st == D2_OK)
        st = check_broadcast_to(ctx, 1, x, "Scale");
    if (st == D2_OK && bias)
        st = check_broadcast_to(ctx, 2, x, "B");
    if (st != D2_OK)
        return st;
    if (!d2_normalize_axis(attrs->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)attrs->axis,
                         (int)x->rank);
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, x->dims);
    /* Mean and InvStdDev: x's dims with [axis:] set to 1. */
    int64_t stat_dims[D2_MAX_RANK];
    for (int32_t d = 0; d < x->rank; d++)
        stat_dims[d] = d < axis ? x->dims[d] : 1;
    for (uint32_t k = 1; st == D2_OK && !rms && k < ctx->num_outputs && k < 3; k++) {
        if (!d2_dtype_is_float(attrs->stash_type))
            return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "stash_type %s is not a float dtype",
                             d2_dtype_name(attrs->stash_type));
        st = d2_moreops_output(ctx, k, attrs->stash_type, x->rank, stat_dims);
    }
    if (st != D2_OK)
        return st;
    split_rows(x, axis, &rows, &cols);
    struct d2_tensor *y = &ctx->outputs[0];
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = r * cols;
        double mean = 0.0, var = 0.0;
        if (!rms) {
            for (int64_t c = 0; c < cols; c++)
                mean += d2_load_f64(x->data, x->dtype, (size_t)(base + c));
            mean = cols > 0 ? mean / (double)cols : 0.0;
        }
        for (int64_t c = 0; c < cols; c++) {
            double dev = d2_load_f64(x->data, x->dtype, (size_t)(base + c)) - mean;
            var += dev * dev;
        }
        var = cols > 0 ? var / (double)cols : 0.0;
        double inv_std = 1.0 / sqrt(var + attrs->epsilon);
        for (int64_t c = 0; c < cols; c++) {
            int64_t i = base + c;
            double v = (d2_load_f64(x->data, x->dtype, (size_t)i) - mean) * inv_std * broadcast_load(scale, x, i);
            if (bias)
                v += broadcast_load(bias, x, i);
            d2_store_f64(y->data, y->dtype, (size_t)i, v);
        }
        if (!rms && ctx->num_outputs > 1 && ctx->outputs[1].data)
            d2_store_f64(ctx->outputs[1].data, ctx->outputs[1].dtype, (size_t)r, mean);
        if (!rms && ctx->num_outputs > 2 && ctx->outputs[2].data)
            d2_store_f64(ctx->outputs[2].data, ctx->outputs[2].dtype, (size_t)r, inv_std);
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_layer_norm(struct d2_kernel_ctx *ctx) { return row_norm(ctx, false); }
enum d2_status d2_cpu_ref_rms_norm(struct d2_kernel_ctx *ctx) { return row_norm(ctx, true); }

/* ---- group_norm ------------------------------------------------------------------------ */

enum d2_status d2_cpu_ref_group_norm(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_group_norm *attrs = ctx->node->attrs;
    const struct d2_tensor *x = NULL, *scale = NULL, *bias = NULL;
    int64_t groups = attrs->num_groups;
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st == D2_OK)
        st = d2_moreops_input(ctx, 1, &scale);
    if (st == D2_OK)
        st = d2_moreops_input(ctx, 2, &bias);
    if (st == D2_OK)
        st = require_float(ctx, x);
    if (st != D2_OK)
        return st;
    if (x->rank < 2 || groups <= 0 || x->dims[1] % groups != 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X of rank %d does not split into %lld channel groups",
                         (int)x->rank, (long long)groups);
    int64_t batch = x->dims[0], channels = x->dims[1], spatial = 1;
    for (int32_t d = 2; d < x->rank; d++)
        spatial *= x->dims[d];
    for (int k = 0; k < 2; k++) {
        const struct d2_tensor *t = k == 0 ? scale : bias;
        int64_t n = d2_tensor_numel(t);
        if (t->dtype != x->dtype || t->rank != 1 || (n != channels && n != groups))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be 1-D %s with C (%lld) or num_groups (%lld) elements",
                             k == 0 ? "scale" : "bias", d2_dtype_name(x->dtype), (long long)channels,
                             (long long)groups);
    }
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t per_group = channels / groups, count = per_group * spatial;
    bool scale_per_channel = d2_tensor_numel(scale) == channels;
    bool bias_per_channel = d2_tensor_numel(bias) == channels;
    for (int64_t n = 0; n < batch; n++) {
        for (int64_t g = 0; g < groups; g++) {
            int64_t base = (n * channels + g * per_group) * spatial; /* the group is contiguous */
            double mean = 0.0, var = 0.0;
            for (int64_t i = 0; i < count; i++)
                mean += d2_load_f64(x->data, x->dtype, (size_t)(base + i));
            mean = count > 0 ? mean / (double)count : 0.0;
            for (int64_t i = 0; i < count; i++) {
                double dev = d2_load_f64(x->data, x->dtype, (size_t)(base + i)) - mean;
                var += dev * dev;
            }
            var = count > 0 ? var / (double)count : 0.0;
            double inv_std = 1.0 / sqrt(var + attrs->epsilon);
            for (int64_t i = 0; i < count; i++) {
                int64_t c = g * per_group + i / spatial;
                double s = d2_load_f64(scale->data, scale->dtype, (size_t)(scale_per_channel ? c : g));
                double b = d2_load_f64(bias->data, bias->dtype, (size_t)(bias_per_channel ? c : g));
                double v = (d2_load_f64(x->data, x->dtype, (size_t)(base + i)) - mean) * inv_std * s + b;
                d2_store_f64(y->data, y->dtype, (size_t)(base + i), v);
            }
        }
    }
    return D2_OK;
}

/* ---- mean_variance_norm ------------------------------------------------------------------ */

/* Index of element i among the "kept" (not reduced) coordinates of x. */
static int64_t kept_index(const struct d2_tensor *x, const bool *reduced, int64_t i)
{
    int64_t key = 0, stride = 1;
    for (int32_t d = x->rank - 1; d >= 0; d--) {
        int64_t coord = i % x->dims[d];
        i /= x->dims[d];
        if (!reduced[d]) {
            key += coord * stride;
            stride *= x->dims[d];
        }
    }
    return key;
}

enum d2_status d2_cpu_ref_mean_variance_norm(struct d2_kernel_ctx *ctx)
{
    static const int64_t default_axes[3] = {0, 2, 3};
    const struct d2_attrs_mvn *attrs = ctx->node->attrs;
    const int64_t *axes = attrs->axes.count ? attrs->axes.data : default_axes;
    uint32_t num_axes = attrs->axes.count ? attrs->axes.count : 3;
    const struct d2_tensor *x = NULL;
    bool reduced[D2_MAX_RANK] = {false};
    int64_t groups = 1, per_group = 1;
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st == D2_OK)
        st = require_float(ctx, x);
    if (st != D2_OK)
        return st;
    for (uint32_t k = 0; k < num_axes; k++) {
        int64_t a;
        if (!d2_normalize_axis(axes[k], x->rank, &a))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axes[k],
                             (int)x->rank);
        reduced[a] = true;
    }
    for (int32_t d = 0; d < x->rank; d++)
        *(reduced[d] ? &per_group : &groups) *= x->dims[d];
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    int64_t n = d2_tensor_numel(x);
    if (n == 0)
        return D2_OK;
    double *mean = d2_calloc(ctx->alloc, (size_t)groups, sizeof *mean);
    double *var = d2_calloc(ctx->alloc, (size_t)groups, sizeof *var);
    if (!mean || !var) {
        d2_free(ctx->alloc, mean);
        d2_free(ctx->alloc, var);
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory for %lld statistics", (long long)groups);
    }
    for (int64_t i = 0; i < n; i++)
        mean[kept_index(x, reduced, i)] += d2_load_f64(x->data, x->dtype, (size_t)i);
    for (int64_t g = 0; g < groups; g++)
        mean[g] /= (double)per_group;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = kept_index(x, reduced, i);
        double dev = d2_load_f64(x->data, x->dtype, (size_t)i) - mean[g];
        var[g] += dev * dev;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t g = kept_index(x, reduced, i);
        double std = sqrt(var[g] / (double)per_group);
        double v = (d2_load_f64(x->data, x->dtype, (size_t)i) - mean[g]) / (std + 1e-9);
        d2_store_f64(ctx->outputs[0].data, x->dtype, (size_t)i, v);
    }
    d2_free(ctx->alloc, mean);
    d2_free(ctx->alloc, var);
    return D2_OK;
}

/* ---- lp_norm ------------------------------------------------------------------------------ */

enum d2_status d2_cpu_ref_lp_norm(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_lp_norm *attrs = ctx->node->attrs;
    const struct d2_tensor *x = NULL;
    int64_t axis, outer = 1, len, inner = 1;
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st == D2_OK)
        st = require_float(ctx, x);
    if (st != D2_OK)
        return st;
    if (attrs->p != 1 && attrs->p != 2)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "p is %lld, expected 1 or 2", (long long)attrs->p);
    if (!d2_normalize_axis(attrs->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)attrs->axis,
                         (int)x->rank);
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    for (int64_t d = 0; d < axis; d++)
        outer *= x->dims[d];
    for (int64_t d = axis + 1; d < x->rank; d++)
        inner *= x->dims[d];
    len = x->dims[axis];
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double norm = 0.0;
            for (int64_t k = 0; k < len; k++) {
                double v = d2_load_f64(x->data, x->dtype, (size_t)((o * len + k) * inner + i));
                norm += attrs->p == 1 ? fabs(v) : v * v;
            }
            if (attrs->p == 2)
                norm = sqrt(norm);
            for (int64_t k = 0; k < len; k++) {
                size_t at = (size_t)((o * len + k) * inner + i);
                double v = d2_load_f64(x->data, x->dtype, at);
                d2_store_f64(ctx->outputs[0].data, x->dtype, at, norm == 0.0 ? 0.0 : v / norm);
            }
        }
    }
    return D2_OK;
}
