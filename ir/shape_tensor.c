/* ir/shape_tensor.c: shape functions of the data-movement ops that rearrange a
 * tensor without looking at index data: concat, split, slice, reshape, flatten,
 * transpose, squeeze, unsqueeze, expand, tile, pad, depth_to_space, space_to_depth,
 * trilu, eye_like; plus the helpers and rules shared with ir/shape_tensor_index.c
 * and the reference kernels (declared in ir/shape_tensor.h).
 *
 * Contract (see struct d2_shape_ctx in ir/ir.h): at compile time only constant
 * inputs have values, so when a shape-like input (reshape's shape, slice's
 * starts/ends, pads, repeats, axes, split sizes) is a constant the output dims are
 * exact; otherwise the function keeps what can still be known (the rank from the
 * shape-like input's length, dims the op passes through unchanged with their
 * symbols). At run time every value is present and the result is exact.
 * Values read from tensors are validated (range, sign, duplicates) with D2_ERR_SHAPE. */
#include "shape_tensor.h"

#include <string.h>

/* ======================================================================
 * Shared helpers
 * ====================================================================== */

const struct d2_type *d2_st_input_type(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->input_types[i] : NULL;
}

const struct d2_tensor *d2_st_input_value(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs && ctx->input_types[i] ? ctx->input_values[i] : NULL;
}

void d2_st_copy_dim(struct d2_type *dst, int32_t di, const struct d2_type *src, int32_t si)
{
    dst->dims[di] = src->dims[si];
    dst->symbols[di] = src->symbols[si];
    dst->upper_bounds[di] = src->upper_bounds[si];
}

void d2_st_set_unknown_dim(struct d2_type *dst, int32_t di)
{
    dst->dims[di] = D2_DIM_UNKNOWN;
    dst->symbols[di] = NULL;
    dst->upper_bounds[di] = -1;
}

int64_t d2_st_list_length(const struct d2_type *t)
{
    if (!t || t->rank < 0)
        return -1;
    if (t->rank == 0)
        return 1;
    return t->rank == 1 ? t->dims[0] : -1;
}

enum d2_status d2_st_check_required_inputs(struct d2_shape_ctx *ctx)
{
    const struct d2_op_info *info = d2_op_info(ctx->node->op);
    uint32_t required = info->max_inputs == D2_VARIADIC ? ctx->num_inputs : info->min_inputs;
    if (ctx->num_inputs < info->min_inputs || required == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "needs at least %u inputs, got %u",
                         info->min_inputs ? info->min_inputs : 1u, ctx->num_inputs);
    for (uint32_t i = 0; i < required; i++)
        if (!ctx->input_types[i])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u is required but missing", i);
    if (ctx->num_outputs < info->min_outputs)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "needs at least %u outputs, got %u", info->min_outputs,
                         ctx->num_outputs);
    return D2_OK;
}

enum d2_status d2_st_check_outputs(struct d2_shape_ctx *ctx)
{
    for (uint32_t i = 0; i < ctx->num_outputs; i++) {
        const struct d2_type *t = &ctx->output_types[i];
        for (int32_t d = 0; d < t->rank; d++)
            if (t->dims[d] == INT64_MAX)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "output %u: dim %d overflows int64", i, (int)d);
    }
    return D2_OK;
}

enum d2_status d2_st_require_integer(struct d2_shape_ctx *ctx, const struct d2_type *t, const char *what)
{
    if (t && t->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_integer(t->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be an integer tensor, got %s", what,
                         d2_dtype_name(t->dtype));
    return D2_OK;
}

enum d2_status d2_st_read_ints(struct d2_shape_ctx *ctx, const struct d2_tensor *value, const char *what,
                               int64_t *out, int64_t max_count, int64_t *count)
{
    int64_t n;
    if (!d2_dtype_is_integer(value->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be an integer tensor, got %s", what,
                         d2_dtype_name(value->dtype));
    if (value->rank > 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be 1-D, got rank %d", what, (int)value->rank);
    n = d2_tensor_numel(value);
    if (n > max_count)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "%s has %lld entries, more than the %lld supported",
                         what, (long long)n, (long long)max_count);
    for (int64_t i = 0; i < n; i++)
        out[i] = d2_tensor_get_i64(value, (size_t)i);
    *count = n;
    return D2_OK;
}

/* Pads beyond this are refused (keeps dim + begin + end far from overflow). */
#define D2_ST_MAX_PAD (INT64_C(1) << 60)

/* Saturating arithmetic on non-negative sizes: a result that would overflow
 * becomes INT64_MAX, which d2_st_check_outputs then reports (types come from
 * untrusted model files, so dims can be anything). */
static int64_t mul_sat(int64_t a, int64_t b)
{
    return a != 0 && b > INT64_MAX / a ? INT64_MAX : a * b;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

struct d2_slice_axis d2_slice_resolve(int64_t dim, int64_t start, int64_t end, int64_t step)
{
    struct d2_slice_axis r;
    if (start < 0)
        start += dim; /* INT64_MIN + dim cannot overflow since dim >= 0 */
    if (end < 0)
        end += dim;
    r.step = step;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        r.length = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
        /* Walking backwards: the first element is at most dim-1 and the exclusive
         * end may be -1 (one before the first element). */
        int64_t back = step == INT64_MIN ? INT64_MAX : -step;
        start = start < 0 ? 0 : start;
        start = start > dim - 1 ? dim - 1 : start; /* -1 (nothing) when dim is 0 */
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        r.length = start > end ? (start - end - 1) / back + 1 : 0;
    }
    r.start = start;
    return r;
}

int64_t d2_pad_source_index(int32_t mode, int64_t out_coord, int64_t pad_begin, int64_t dim)
{
    int64_t i = out_coord - pad_begin;
    if (i >= 0 && i < dim)
        return i;
    switch (mode) {
    case D2_PAD_MODE_EDGE:
        return i < 0 ? 0 : dim - 1;
    case D2_PAD_MODE_WRAP:
        return ((i % dim) + dim) % dim;
    case D2_PAD_MODE_REFLECT: {
        /* Mirror without repeating the edge element, as many times as needed
         * (numpy's "reflect"): the pattern has period 2*(dim-1). */
        int64_t period = 2 * (dim - 1), m;
        if (period == 0)
            return 0;
        m = ((i % period) + period) % period;
        return m < dim ? m : period - m;
    }
    default:
        return -1;
    }
}

/* The product of dims [lo, hi) of t into dim `di` of out: exact when all are known;
 * when exactly one is unknown and the others are 1, that dim (with its symbol). */
static void product_of_dims(const struct d2_type *t, int32_t lo, int32_t hi, struct d2_type *out, int32_t di)
{
    int64_t product = 1;
    int32_t unknown = -1, unknown_count = 0;
    for (int32_t i = lo; i < hi; i++) {
        if (t->dims[i] < 0) {
            unknown = i;
            unknown_count++;
        } else {
            product = mul_sat(product, t->dims[i]);
        }
    }
    if (unknown_count == 0)
        out->dims[di] = product;
    else if (unknown_count == 1 && product == 1)
        d2_st_copy_dim(out, di, t, unknown);
    else
        d2_st_set_unknown_dim(out, di);
}

/* ======================================================================
 * concat, split, slice
 * ====================================================================== */

static enum d2_status shape_concat(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    struct d2_type *out = &ctx->output_types[0];
    const struct d2_type *ref = NULL;
    int64_t axis, sum = 0, bound_sum = 0;
    bool sum_known = true, bound_known = true;

    for (uint32_t i = 0; i < ctx->num_inputs; i++) {
        const struct d2_type *t = ctx->input_types[i];
        if (!t)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u is missing", i);
        if (out->dtype == D2_DTYPE_UNDEFINED)
            out->dtype = t->dtype;
        else if (t->dtype != D2_DTYPE_UNDEFINED && t->dtype != out->dtype)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u is %s but input 0 is %s", i,
                             d2_dtype_name(t->dtype), d2_dtype_name(out->dtype));
        if (t->rank >= 0 && !ref)
            ref = t;
    }
    if (!ref)
        return D2_OK; /* no input has a known rank */
    if (ref->rank == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "cannot concatenate scalars");
    if (!d2_normalize_axis(attrs->axis, ref->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)attrs->axis,
                         (int)ref->rank);
    out->rank = ref->rank;
    for (int32_t d = 0; d < ref->rank; d++)
        d2_st_set_unknown_dim(out, d);
    for (uint32_t i = 0; i < ctx->num_inputs; i++) {
        const struct d2_type *t = ctx->input_types[i];
        if (t->rank < 0) {
            sum_known = bound_known = false;
            continue;
        }
        if (t->rank != ref->rank)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u has rank %d but others have rank %d", i,
                             (int)t->rank, (int)ref->rank);
        for (int32_t d = 0; d < t->rank; d++) {
            if (d == axis)
                continue;
            if (out->dims[d] < 0 && t->dims[d] >= 0)
                out->dims[d] = t->dims[d], out->symbols[d] = NULL, out->upper_bounds[d] = -1;
            else if (out->dims[d] < 0 && !out->symbols[d] && t->symbols[d])
                d2_st_copy_dim(out, d, t, d);
            else if (out->dims[d] >= 0 && t->dims[d] >= 0 && out->dims[d] != t->dims[d])
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u has dim %d = %lld, expected %lld", i, (int)d,
                                 (long long)t->dims[d], (long long)out->dims[d]);
        }
        if (t->dims[axis] >= 0) {
            sum = add_sat(sum, t->dims[axis]);
            bound_sum = add_sat(bound_sum, t->dims[axis]);
        } else {
            sum_known = false;
            if (t->upper_bounds[axis] >= 0)
                bound_sum = add_sat(bound_sum, t->upper_bounds[axis]);
            else
                bound_known = false;
        }
    }
    if (sum_known)
        out->dims[axis] = sum;
    else if (bound_known)
        out->upper_bounds[axis] = bound_sum;
    return D2_OK;
}

static enum d2_status shape_split(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_split *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_type *sizes_type = d2_st_input_type(ctx, 1);
    const struct d2_tensor *sizes_value = d2_st_input_value(ctx, 1);
    int64_t n = ctx->num_outputs, axis, dim;
    enum d2_status st;

    if (attrs->num_outputs != 0 && attrs->num_outputs != n)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "num_outputs=%lld but the node has %lld outputs",
                         (long long)attrs->num_outputs, (long long)n);
    if (sizes_type && attrs->num_outputs != 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "both a split input and num_outputs are given");
    if ((st = d2_st_require_integer(ctx, sizes_type, "split sizes")) != D2_OK)
        return st;
    for (uint32_t i = 0; i < ctx->num_outputs; i++)
        ctx->output_types[i].dtype = x->dtype;
    if (x->rank < 0)
        return D2_OK;
    if (!d2_normalize_axis(attrs->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)attrs->axis,
                         (int)x->rank);
    dim = x->dims[axis];
    for (uint32_t i = 0; i < ctx->num_outputs; i++) {
        struct d2_type *o = &ctx->output_types[i];
        o->rank = x->rank;
        for (int32_t d = 0; d < x->rank; d++)
            d2_st_copy_dim(o, d, x, d);
        d2_st_set_unknown_dim(o, (int32_t)axis);
    }
    if (sizes_value) {
        int64_t total = 0;
        if (sizes_value->rank > 1 || d2_tensor_numel(sizes_value) != n)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "split sizes have %lld entries for %lld outputs",
                             (long long)d2_tensor_numel(sizes_value), (long long)n);
        for (int64_t i = 0; i < n; i++) {
            int64_t s = d2_tensor_get_i64(sizes_value, (size_t)i);
            if (s < 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "split size %lld is negative", (long long)s);
            ctx->output_types[i].dims[axis] = s;
            total = add_sat(total, s);
        }
        if (dim >= 0 && total != dim)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "split sizes sum to %lld but dim %lld is %lld",
                             (long long)total, (long long)axis, (long long)dim);
    } else if (!sizes_type && dim >= 0) {
        /* Evenly: ceil(dim/n) each, the last takes the rest. */
        int64_t chunk = dim / n + (dim % n != 0), last = dim - mul_sat(chunk, n - 1);
        if (last < 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "cannot split dim %lld of size %lld into %lld parts",
                             (long long)axis, (long long)dim, (long long)n);
        for (int64_t i = 0; i < n; i++)
            ctx->output_types[i].dims[axis] = i + 1 < n ? chunk : last;
    }
    return D2_OK;
}

static enum d2_status shape_slice(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    const struct d2_tensor *starts_v = d2_st_input_value(ctx, 1), *ends_v = d2_st_input_value(ctx, 2);
    const struct d2_tensor *axes_v = d2_st_input_value(ctx, 3), *steps_v = d2_st_input_value(ctx, 4);
    bool has_axes = d2_st_input_type(ctx, 3) != NULL, has_steps = d2_st_input_type(ctx, 4) != NULL;
    int64_t starts[D2_MAX_RANK], ends[D2_MAX_RANK], axes[D2_MAX_RANK], steps[D2_MAX_RANK];
    int64_t n = -1, count;
    bool axis_sliced[D2_MAX_RANK] = {false};
    enum d2_status st;

    for (uint32_t i = 1; i < ctx->num_inputs; i++)
        if ((st = d2_st_require_integer(ctx, d2_st_input_type(ctx, i), "slice starts/ends/axes/steps")) != D2_OK)
            return st;
    out->dtype = x->dtype;
    if (x->rank < 0)
        return D2_OK;
    out->rank = x->rank;
    for (int32_t d = 0; d < x->rank; d++)
        d2_st_copy_dim(out, d, x, d);

    /* Which axes are sliced: from the axes input, or 0..n-1 when it is absent. */
    if (has_axes && axes_v) {
        if ((st = d2_st_read_ints(ctx, axes_v, "axes", axes, D2_MAX_RANK, &n)) != D2_OK)
            return st;
        for (int64_t i = 0; i < n; i++) {
            if (!d2_normalize_axis(axes[i], x->rank, &axes[i]))
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d",
                                 (long long)axes[i], (int)x->rank);
            if (axis_sliced[axes[i]])
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld repeated", (long long)axes[i]);
            axis_sliced[axes[i]] = true;
        }
    } else if (!has_axes) {
        n = d2_st_list_length(ctx->input_types[1]);
        if (n > x->rank)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%lld starts for rank %d", (long long)n, (int)x->rank);
        for (int64_t i = 0; i < n; i++) {
            axes[i] = i;
            axis_sliced[i] = true;
        }
    }
    if (n < 0) {
        /* Sliced axes unknown: any dim may change. */
        for (int32_t d = 0; d < x->rank; d++)
            d2_st_set_unknown_dim(out, d);
        return D2_OK;
    }
    for (int32_t d = 0; d < x->rank; d++)
        if (axis_sliced[d]) {
            d2_st_set_unknown_dim(out, d);
            if (x->dims[d] >= 0)
                out->upper_bounds[d] = x->dims[d];
            else if (x->upper_bounds[d] >= 0)
                out->upper_bounds[d] = x->upper_bounds[d];
        }
    if (!starts_v || !ends_v || (has_steps && !steps_v))
        return D2_OK;

    if ((st = d2_st_read_ints(ctx, starts_v, "starts", starts, D2_MAX_RANK, &count)) != D2_OK)
        return st;
    if (count != n)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%lld starts for %lld axes", (long long)count, (long long)n);
    if ((st = d2_st_read_ints(ctx, ends_v, "ends", ends, D2_MAX_RANK, &count)) != D2_OK)
        return st;
    if (count != n)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%lld ends for %lld axes", (long long)count, (long long)n);
    if (has_steps) {
        if ((st = d2_st_read_ints(ctx, steps_v, "steps", steps, D2_MAX_RANK, &count)) != D2_OK)
            return st;
        if (count != n)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%lld steps for %lld axes", (long long)count, (long long)n);
    } else {
        for (int64_t i = 0; i < n; i++)
            steps[i] = 1;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t d = (int32_t)axes[i];
        if (steps[i] == 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "step 0 on axis %d", (int)d);
        if (x->dims[d] >= 0) {
            out->dims[d] = d2_slice_resolve(x->dims[d], starts[i], ends[i], steps[i]).length;
            out->upper_bounds[d] = -1;
        } else if (steps[i] > 0 && starts[i] >= 0 && ends[i] >= 0 && ends[i] != INT64_MAX) {
            /* Unknown dim, but a forward slice between non-negative bounds takes
             * at most ceil((end - start) / step) elements. */
            int64_t most = ends[i] > starts[i] ? (ends[i] - starts[i] - 1) / steps[i] + 1 : 0;
            if (out->upper_bounds[d] < 0 || most < out->upper_bounds[d])
                out->upper_bounds[d] = most;
        }
    }
    return D2_OK;
}

/* ======================================================================
 * reshape, flatten, transpose, squeeze, unsqueeze
 * ====================================================================== */

static enum d2_status shape_reshape(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_reshape *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_tensor *shape_v = d2_st_input_value(ctx, 1);
    struct d2_type *out = &ctx->output_types[0];
    int64_t shape[D2_MAX_RANK], n, infer_at = -1, known_product = 1, numel;
    bool all_known = true;
    enum d2_status st;

    if ((st = d2_st_require_integer(ctx, ctx->input_types[1], "shape")) != D2_OK)
        return st;
    out->dtype = x->dtype;
    if (!shape_v) {
        n = d2_st_list_length(ctx->input_types[1]);
        if (n > D2_MAX_RANK)
            return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "target rank %lld exceeds %d", (long long)n, D2_MAX_RANK);
        if (n >= 0)
            d2_type_init(out, x->dtype, (int32_t)n, NULL);
        return D2_OK;
    }
    if ((st = d2_st_read_ints(ctx, shape_v, "shape", shape, D2_MAX_RANK, &n)) != D2_OK)
        return st;
    d2_type_init(out, x->dtype, (int32_t)n, NULL);
    for (int64_t i = 0; i < n; i++) {
        int32_t d = (int32_t)i;
        if (shape[i] == -1) {
            if (infer_at >= 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "more than one -1 in the target shape");
            infer_at = i;
            continue;
        }
        if (shape[i] < -1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "target dim %lld is %lld", (long long)i, (long long)shape[i]);
        if (shape[i] == 0 && !attrs->allowzero) {
            /* 0 copies the input dim at the same position. */
            if (x->rank < 0) {
                all_known = false;
                continue;
            }
            if (i >= x->rank)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "target dim %lld is 0 (copy) but the input has rank %d",
                                 (long long)i, (int)x->rank);
            d2_st_copy_dim(out, d, x, d);
            if (x->dims[d] < 0)
                all_known = false;
            else
                known_product = mul_sat(known_product, x->dims[d]);
            continue;
        }
        out->dims[d] = shape[i];
        known_product = mul_sat(known_product, shape[i]);
    }
    if (attrs->allowzero && infer_at >= 0)
        for (int64_t i = 0; i < n; i++)
            if (shape[i] == 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "allowzero with both 0 and -1 in the target shape");
    numel = d2_type_numel(x);
    if (infer_at >= 0 && x->rank >= 0) {
        /* Target dims copied with 0 cancel against the same dims of x, so
         * -1 = product(x dims not copied) / product(explicit target dims). That
         * works even when the copied dims are unknown ([?b,3,4] with [0,-1] gives
         * [?b,12]); when one non-copied dim of x is unknown and the rest cancel
         * exactly, -1 is that dim ([?n,4] with [-1,4] gives [?n,4]). */
        int64_t rest = 1, explicit_product = 1;
        int32_t unknown = -1, unknown_count = 0;
        for (int64_t i = 0; i < n; i++)
            if (shape[i] > 0 || (shape[i] == 0 && attrs->allowzero))
                explicit_product = mul_sat(explicit_product, shape[i]);
        for (int32_t d = 0; d < x->rank; d++) {
            bool copied = d < n && shape[d] == 0 && !attrs->allowzero;
            if (copied)
                continue;
            if (x->dims[d] < 0)
                unknown = d, unknown_count++;
            else
                rest = mul_sat(rest, x->dims[d]);
        }
        if (unknown_count == 0) {
            if (explicit_product == 0 || rest % explicit_product != 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE,
                                 "cannot infer the -1 dim: %lld elements (outside dims copied by 0) are not "
                                 "a multiple of the other target dims' product %lld",
                                 (long long)rest, (long long)explicit_product);
            out->dims[infer_at] = rest / explicit_product;
        } else if (unknown_count == 1 && rest == explicit_product) {
            d2_st_copy_dim(out, (int32_t)infer_at, x, unknown);
        }
    } else if (infer_at < 0 && numel >= 0 && all_known && numel != known_product) {
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "cannot reshape %lld elements into %lld", (long long)numel,
                         (long long)known_product);
    }
    return D2_OK;
}

static enum d2_status shape_flatten(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    int64_t axis = attrs->axis;
    d2_type_init(out, x->dtype, 2, NULL);
    if (x->rank < 0)
        return D2_OK;
    if (axis < -(int64_t)x->rank || axis > x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)axis, (int)x->rank);
    if (axis < 0)
        axis += x->rank;
    product_of_dims(x, 0, (int32_t)axis, out, 0);
    product_of_dims(x, (int32_t)axis, x->rank, out, 1);
    return D2_OK;
}

/* perm attribute, or the reversed dims when empty, validated as a permutation. */
static enum d2_status transpose_perm(struct d2_shape_ctx *ctx, int32_t rank, int64_t *perm)
{
    const struct d2_attrs_transpose *attrs = ctx->node->attrs;
    bool seen[D2_MAX_RANK] = {false};
    if (attrs->perm.count == 0) {
        for (int32_t i = 0; i < rank; i++)
            perm[i] = rank - 1 - i;
        return D2_OK;
    }
    if ((int32_t)attrs->perm.count != rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "perm has %u entries for rank %d", attrs->perm.count, (int)rank);
    for (int32_t i = 0; i < rank; i++) {
        int64_t p;
        if (!d2_normalize_axis(attrs->perm.data[i], rank, &p) || seen[p])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "perm is not a permutation of 0..%d", (int)rank - 1);
        seen[p] = true;
        perm[i] = p;
    }
    return D2_OK;
}

static enum d2_status shape_transpose(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_transpose *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    int64_t perm[D2_MAX_RANK];
    enum d2_status st;
    out->dtype = x->dtype;
    if (x->rank < 0) {
        if (attrs->perm.count > 0 && attrs->perm.count <= D2_MAX_RANK)
            d2_type_init(out, x->dtype, (int32_t)attrs->perm.count, NULL);
        return D2_OK;
    }
    if ((st = transpose_perm(ctx, x->rank, perm)) != D2_OK)
        return st;
    out->rank = x->rank;
    for (int32_t i = 0; i < x->rank; i++)
        d2_st_copy_dim(out, i, x, (int32_t)perm[i]);
    return D2_OK;
}

static enum d2_status shape_squeeze(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_type *axes_t = d2_st_input_type(ctx, 1);
    const struct d2_tensor *axes_v = d2_st_input_value(ctx, 1);
    struct d2_type *out = &ctx->output_types[0];
    bool drop[D2_MAX_RANK] = {false};
    int64_t axes[D2_MAX_RANK], n;
    int32_t rank = 0;
    enum d2_status st;

    if ((st = d2_st_require_integer(ctx, axes_t, "axes")) != D2_OK)
        return st;
    out->dtype = x->dtype;
    if (x->rank < 0)
        return D2_OK;
    if (axes_t && !axes_v) {
        n = d2_st_list_length(axes_t);
        if (n >= 0 && n <= x->rank)
            d2_type_init(out, x->dtype, x->rank - (int32_t)n, NULL);
        return D2_OK;
    }
    if (axes_v) {
        if ((st = d2_st_read_ints(ctx, axes_v, "axes", axes, D2_MAX_RANK, &n)) != D2_OK)
            return st;
        for (int64_t i = 0; i < n; i++) {
            int64_t a;
            if (!d2_normalize_axis(axes[i], x->rank, &a))
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)axes[i],
                                 (int)x->rank);
            if (drop[a])
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld repeated", (long long)axes[i]);
            if (x->dims[a] >= 0 && x->dims[a] != 1)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "cannot squeeze dim %lld of size %lld", (long long)a,
                                 (long long)x->dims[a]);
            drop[a] = true;
        }
    } else {
        /* No axes: every size-1 dim goes; an unknown dim might be 1, so the rank
         * is unknown until run time. */
        for (int32_t d = 0; d < x->rank; d++) {
            if (x->dims[d] < 0)
                return D2_OK;
            drop[d] = x->dims[d] == 1;
        }
    }
    out->rank = 0;
    for (int32_t d = 0; d < x->rank; d++)
        if (!drop[d])
            d2_st_copy_dim(out, rank++, x, d);
    out->rank = rank;
    return D2_OK;
}

static enum d2_status shape_unsqueeze(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_tensor *axes_v = d2_st_input_value(ctx, 1);
    struct d2_type *out = &ctx->output_types[0];
    bool inserted[D2_MAX_RANK] = {false};
    int64_t axes[D2_MAX_RANK], n;
    int32_t out_rank, next = 0;
    enum d2_status st;

    if ((st = d2_st_require_integer(ctx, ctx->input_types[1], "axes")) != D2_OK)
        return st;
    out->dtype = x->dtype;
    if (x->rank < 0)
        return D2_OK;
    if (!axes_v) {
        n = d2_st_list_length(ctx->input_types[1]);
        if (n >= 0 && x->rank + n <= D2_MAX_RANK)
            d2_type_init(out, x->dtype, x->rank + (int32_t)n, NULL);
        return D2_OK;
    }
    if ((st = d2_st_read_ints(ctx, axes_v, "axes", axes, D2_MAX_RANK, &n)) != D2_OK)
        return st;
    if (x->rank + n > D2_MAX_RANK)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "output rank %lld exceeds %d", (long long)(x->rank + n),
                         D2_MAX_RANK);
    out_rank = x->rank + (int32_t)n;
    for (int64_t i = 0; i < n; i++) {
        int64_t a;
        if (!d2_normalize_axis(axes[i], out_rank, &a))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for output rank %d", (long long)axes[i],
                             (int)out_rank);
        if (inserted[a])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld repeated", (long long)axes[i]);
        inserted[a] = true;
    }
    out->rank = out_rank;
    for (int32_t d = 0; d < out_rank; d++) {
        if (inserted[d]) {
            d2_st_set_unknown_dim(out, d);
            out->dims[d] = 1;
        } else {
            d2_st_copy_dim(out, d, x, next++);
        }
    }
    return D2_OK;
}

/* ======================================================================
 * expand, tile, pad
 * ====================================================================== */

static enum d2_status shape_expand(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_tensor *shape_v = d2_st_input_value(ctx, 1);
    struct d2_type *out = &ctx->output_types[0], target;
    int64_t shape[D2_MAX_RANK], n;
    enum d2_status st;

    if ((st = d2_st_require_integer(ctx, ctx->input_types[1], "shape")) != D2_OK)
        return st;
    out->dtype = x->dtype;
    if (!shape_v) {
        /* Shape values unknown: the rank is the larger one; a dim of x other than
         * 1 must survive (the shape's dim there is 1 or equal). */
        n = d2_st_list_length(ctx->input_types[1]);
        if (n < 0 || x->rank < 0 || n > D2_MAX_RANK)
            return D2_OK;
        d2_type_init(&target, D2_DTYPE_UNDEFINED, (int32_t)n, NULL);
    } else {
        if ((st = d2_st_read_ints(ctx, shape_v, "shape", shape, D2_MAX_RANK, &n)) != D2_OK)
            return st;
        for (int64_t i = 0; i < n; i++)
            if (shape[i] < 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "shape[%lld] is negative (%lld)", (long long)i,
                                 (long long)shape[i]);
        d2_type_init(&target, D2_DTYPE_UNDEFINED, (int32_t)n, shape);
    }
    if ((st = d2_shape_broadcast(x, &target, out, ctx->err)) != D2_OK)
        return st;
    out->dtype = x->dtype;
    return D2_OK;
}

static enum d2_status shape_tile(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_tensor *repeats_v = d2_st_input_value(ctx, 1);
    struct d2_type *out = &ctx->output_types[0];
    int64_t repeats[D2_MAX_RANK], n;
    enum d2_status st;

    if ((st = d2_st_require_integer(ctx, ctx->input_types[1], "repeats")) != D2_OK)
        return st;
    out->dtype = x->dtype;
    if (x->rank < 0)
        return D2_OK;
    d2_type_init(out, x->dtype, x->rank, NULL);
    if (!repeats_v)
        return D2_OK;
    if ((st = d2_st_read_ints(ctx, repeats_v, "repeats", repeats, D2_MAX_RANK, &n)) != D2_OK)
        return st;
    if (n != x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%lld repeats for rank %d", (long long)n, (int)x->rank);
    for (int32_t d = 0; d < x->rank; d++) {
        if (repeats[d] < 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "repeats[%d] is negative (%lld)", (int)d, (long long)repeats[d]);
        if (repeats[d] == 1)
            d2_st_copy_dim(out, d, x, d);
        else if (x->dims[d] >= 0)
            out->dims[d] = mul_sat(x->dims[d], repeats[d]);
        else if (repeats[d] == 0)
            out->dims[d] = 0;
    }
    return D2_OK;
}

static enum d2_status shape_pad(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_pad *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_type *value_t = d2_st_input_type(ctx, 2), *axes_t = d2_st_input_type(ctx, 3);
    const struct d2_tensor *pads_v = d2_st_input_value(ctx, 1), *axes_v = d2_st_input_value(ctx, 3);
    struct d2_type *out = &ctx->output_types[0];
    int64_t pads[2 * D2_MAX_RANK], axes[D2_MAX_RANK], n_pads, n_axes;
    bool seen[D2_MAX_RANK] = {false};
    enum d2_status st;

    if ((st = d2_st_require_integer(ctx, ctx->input_types[1], "pads")) != D2_OK ||
        (st = d2_st_require_integer(ctx, axes_t, "axes")) != D2_OK)
        return st;
    if (value_t && value_t->dtype != D2_DTYPE_UNDEFINED && x->dtype != D2_DTYPE_UNDEFINED &&
        value_t->dtype != x->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "constant_value is %s but x is %s", d2_dtype_name(value_t->dtype),
                         d2_dtype_name(x->dtype));
    if (value_t && d2_st_list_length(value_t) > 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "constant_value must hold one element");
    out->dtype = x->dtype;
    if (x->rank < 0)
        return D2_OK;
    d2_type_init(out, x->dtype, x->rank, NULL);
    if (!pads_v || (axes_t && !axes_v))
        return D2_OK;
    if (axes_v) {
        if ((st = d2_st_read_ints(ctx, axes_v, "axes", axes, D2_MAX_RANK, &n_axes)) != D2_OK)
            return st;
        for (int64_t i = 0; i < n_axes; i++) {
            if (!d2_normalize_axis(axes[i], x->rank, &axes[i]))
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)axes[i],
                                 (int)x->rank);
            if (seen[axes[i]])
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld repeated", (long long)axes[i]);
            seen[axes[i]] = true;
        }
    } else {
        n_axes = x->rank;
        for (int64_t i = 0; i < n_axes; i++)
            axes[i] = i;
    }
    if ((st = d2_st_read_ints(ctx, pads_v, "pads", pads, 2 * D2_MAX_RANK, &n_pads)) != D2_OK)
        return st;
    if (n_pads != 2 * n_axes)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%lld pads for %lld axes (need begins then ends)", (long long)n_pads,
                         (long long)n_axes);
    for (int32_t d = 0; d < x->rank; d++)
        d2_st_copy_dim(out, d, x, d);
    for (int64_t i = 0; i < n_axes; i++) {
        int32_t d = (int32_t)axes[i];
        int64_t begin = pads[i], end = pads[i + n_axes];
        if (begin == 0 && end == 0)
            continue;
        if (x->dims[d] < 0) {
            d2_st_set_unknown_dim(out, d);
            continue;
        }
        if (begin < -D2_ST_MAX_PAD || begin > D2_ST_MAX_PAD || end < -D2_ST_MAX_PAD || end > D2_ST_MAX_PAD)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "pads %lld,%lld on dim %d are out of range", (long long)begin,
                             (long long)end, (int)d);
        if (x->dims[d] + begin + end < 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "pads %lld,%lld crop more than dim %d of size %lld",
                             (long long)begin, (long long)end, (int)d, (long long)x->dims[d]);
        if (attrs->mode != D2_PAD_MODE_CONSTANT && x->dims[d] == 0 && (begin > 0 || end > 0))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "cannot pad the empty dim %d in mode %s", (int)d,
                             attrs->mode == D2_PAD_MODE_EDGE ? "edge" : attrs->mode == D2_PAD_MODE_WRAP ? "wrap" : "reflect");
        out->dims[d] = x->dims[d] + begin + end;
    }
    return D2_OK;
}

/* ======================================================================
 * depth_to_space, space_to_depth, trilu, eye_like
 * ====================================================================== */

static enum d2_status depth_space_shape(struct d2_shape_ctx *ctx, bool to_space)
{
    const struct d2_attrs_depth_space *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    int64_t b = attrs->blocksize;
    out->dtype = x->dtype;
    if (b <= 0 || b > (INT64_C(1) << 30))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "blocksize %lld must be in [1, 2^30]", (long long)b);
    if (x->rank < 0) {
        d2_type_init(out, x->dtype, 4, NULL);
        return D2_OK;
    }
    if (x->rank != 4)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input must be 4-D [N,C,H,W], got rank %d", (int)x->rank);
    d2_type_init(out, x->dtype, 4, NULL);
    d2_st_copy_dim(out, 0, x, 0);
    if (to_space) {
        if (x->dims[1] >= 0) {
            if (x->dims[1] % (b * b) != 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "channels %lld not divisible by blocksize^2 = %lld",
                                 (long long)x->dims[1], (long long)(b * b));
            out->dims[1] = x->dims[1] / (b * b);
        }
        for (int32_t d = 2; d < 4; d++)
            if (x->dims[d] >= 0)
                out->dims[d] = mul_sat(x->dims[d], b);
    } else {
        if (x->dims[1] >= 0)
            out->dims[1] = mul_sat(x->dims[1], b * b);
        for (int32_t d = 2; d < 4; d++) {
            if (x->dims[d] < 0)
                continue;
            if (x->dims[d] % b != 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "dim %d of size %lld not divisible by blocksize %lld", (int)d,
                                 (long long)x->dims[d], (long long)b);
            out->dims[d] = x->dims[d] / b;
        }
    }
    return D2_OK;
}

static enum d2_status shape_depth_to_space(struct d2_shape_ctx *ctx)
{
    return depth_space_shape(ctx, true);
}

static enum d2_status shape_space_to_depth(struct d2_shape_ctx *ctx)
{
    return depth_space_shape(ctx, false);
}

static enum d2_status shape_trilu(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_type *k_t = d2_st_input_type(ctx, 1);
    enum d2_status st;
    if ((st = d2_st_require_integer(ctx, k_t, "k")) != D2_OK)
        return st;
    if (k_t && d2_st_list_length(k_t) > 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "k must hold one element");
    if (x->rank >= 0 && x->rank < 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input must have rank >= 2, got %d", (int)x->rank);
    ctx->output_types[0] = *x;
    return D2_OK;
}

static enum d2_status shape_eye_like(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_eye_like *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    if (x->rank >= 0 && x->rank != 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input must be 2-D, got rank %d", (int)x->rank);
    *out = *x;
    if (out->rank < 0)
        d2_type_init(out, x->dtype, 2, NULL);
    if (attrs->dtype != D2_DTYPE_UNDEFINED)
        out->dtype = attrs->dtype;
    return D2_OK;
}

/* ======================================================================
 * Entry points (D2_ST_ENTRY, ir/shape_tensor.h): required inputs checked first.
 * ====================================================================== */

D2_ST_ENTRY(concat)
D2_ST_ENTRY(split)
D2_ST_ENTRY(slice)
D2_ST_ENTRY(reshape)
D2_ST_ENTRY(flatten)
D2_ST_ENTRY(transpose)
D2_ST_ENTRY(squeeze)
D2_ST_ENTRY(unsqueeze)
D2_ST_ENTRY(expand)
D2_ST_ENTRY(tile)
D2_ST_ENTRY(pad)
D2_ST_ENTRY(depth_to_space)
D2_ST_ENTRY(space_to_depth)
D2_ST_ENTRY(trilu)
D2_ST_ENTRY(eye_like)
