/* ir/shape_tensor_index.c: shape functions of the data-movement ops driven by
 * index tensors or by values: gather, gather_elements, gather_nd, scatter_nd,
 * scatter_elements, shape, size, constant_of_shape, range, one_hot.
 *
 * Same contract as ir/shape_tensor.c. Index values themselves are checked by the
 * kernels (they are rarely constants); the shape functions check ranks and the dims
 * that must agree. constant_of_shape, range and one_hot are data-dependent: their
 * dims are exact when the inputs that fix them are constants (always at run time),
 * otherwise unknown, with the rank still known where it can be. */
#include "shape_tensor.h"

#include <math.h>

/* dims [lo, hi) of src appended to dst starting at dim *next. */
static void append_dims(struct d2_type *dst, int32_t *next, const struct d2_type *src, int32_t lo, int32_t hi)
{
    for (int32_t d = lo; d < hi; d++)
        d2_st_copy_dim(dst, (*next)++, src, d);
}

/* Both dims known and different: they cannot match. */
static bool dims_conflict(int64_t a, int64_t b)
{
    return a >= 0 && b >= 0 && a != b;
}

/* ======================================================================
 * gather family
 * ====================================================================== */

static enum d2_status shape_gather(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *idx = ctx->input_types[1];
    struct d2_type *out = &ctx->output_types[0];
    int64_t axis;
    int32_t next = 0;
    enum d2_status st;
    if ((st = d2_st_require_integer(ctx, idx, "indices")) != D2_OK)
        return st;
    out->dtype = x->dtype;
    if (x->rank < 0 || idx->rank < 0)
        return D2_OK;
    if (!d2_normalize_axis(attrs->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)attrs->axis,
                         (int)x->rank);
    if (x->rank - 1 + idx->rank > D2_MAX_RANK)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "output rank %d exceeds %d", (int)(x->rank - 1 + idx->rank),
                         D2_MAX_RANK);
    out->rank = x->rank - 1 + idx->rank;
    append_dims(out, &next, x, 0, (int32_t)axis);
    append_dims(out, &next, idx, 0, idx->rank);
    append_dims(out, &next, x, (int32_t)axis + 1, x->rank);
    return D2_OK;
}

static enum d2_status shape_gather_elements(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *idx = ctx->input_types[1];
    struct d2_type *out = &ctx->output_types[0];
    int64_t axis;
    enum d2_status st;
    if ((st = d2_st_require_integer(ctx, idx, "indices")) != D2_OK)
        return st;
    *out = *idx;
    out->dtype = x->dtype;
    if (x->rank < 0 || idx->rank < 0)
        return D2_OK;
    if (x->rank != idx->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "indices have rank %d but x has rank %d", (int)idx->rank,
                         (int)x->rank);
    if (!d2_normalize_axis(attrs->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)attrs->axis,
                         (int)x->rank);
    return D2_OK;
}

static enum d2_status shape_gather_nd(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_gather_nd *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *idx = ctx->input_types[1];
    struct d2_type *out = &ctx->output_types[0];
    int64_t b = attrs->batch_dims, k;
    int32_t next = 0, rank;
    enum d2_status st;
    if ((st = d2_st_require_integer(ctx, idx, "indices")) != D2_OK)
        return st;
    out->dtype = x->dtype;
    if (x->rank < 0 || idx->rank < 0)
        return D2_OK;
    if (x->rank < 1 || idx->rank < 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "x and indices need rank >= 1 (got %d and %d)", (int)x->rank,
                         (int)idx->rank);
    if (b < 0 || b >= x->rank || b >= idx->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "batch_dims %lld must be below both ranks (%d, %d)", (long long)b,
                         (int)x->rank, (int)idx->rank);
    for (int32_t d = 0; d < b; d++)
        if (dims_conflict(x->dims[d], idx->dims[d]))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "batch dim %d: x has %lld, indices have %lld", (int)d,
                             (long long)x->dims[d], (long long)idx->dims[d]);
    k = idx->dims[idx->rank - 1];
    if (k < 0)
        return D2_OK; /* tuple length unknown: so is the output rank */
    if (k < 1 || k > x->rank - b)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "index tuples of length %lld for rank %d with batch_dims %lld",
                         (long long)k, (int)x->rank, (long long)b);
    rank = idx->rank - 1 + x->rank - (int32_t)(b + k);
    if (rank > D2_MAX_RANK)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "output rank %d exceeds %d", (int)rank, D2_MAX_RANK);
    out->rank = rank;
    append_dims(out, &next, idx, 0, idx->rank - 1);
    append_dims(out, &next, x, (int32_t)(b + k), x->rank);
    return D2_OK;
}

static enum d2_status shape_scatter_nd(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0], *idx = ctx->input_types[1], *upd = ctx->input_types[2];
    int64_t k;
    enum d2_status st;
    if ((st = d2_st_require_integer(ctx, idx, "indices")) != D2_OK)
        return st;
    if (upd->dtype != D2_DTYPE_UNDEFINED && x->dtype != D2_DTYPE_UNDEFINED && upd->dtype != x->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "updates are %s but x is %s", d2_dtype_name(upd->dtype),
                         d2_dtype_name(x->dtype));
    ctx->output_types[0] = *x;
    if (x->rank < 0 || idx->rank < 0)
        return D2_OK;
    if (idx->rank < 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "indices need rank >= 1");
    k = idx->dims[idx->rank - 1];
    if (k < 0)
        return D2_OK;
    if (k > x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "index tuples of length %lld for rank %d", (long long)k,
                         (int)x->rank);
    /* updates.shape must be indices.shape[:-1] + x.shape[k:]. */
    if (upd->rank >= 0) {
        if (upd->rank != idx->rank - 1 + x->rank - k)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "updates have rank %d, expected %d", (int)upd->rank,
                             (int)(idx->rank - 1 + x->rank - k));
        for (int32_t d = 0; d < upd->rank; d++) {
            int64_t want = d < idx->rank - 1 ? idx->dims[d] : x->dims[d - (idx->rank - 1) + k];
            if (dims_conflict(upd->dims[d], want))
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "updates dim %d is %lld, expected %lld", (int)d,
                                 (long long)upd->dims[d], (long long)want);
        }
    }
    return D2_OK;
}

static enum d2_status shape_scatter_elements(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_scatter *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *idx = ctx->input_types[1], *upd = ctx->input_types[2];
    int64_t axis;
    enum d2_status st;
    if ((st = d2_st_require_integer(ctx, idx, "indices")) != D2_OK)
        return st;
    if (upd->dtype != D2_DTYPE_UNDEFINED && x->dtype != D2_DTYPE_UNDEFINED && upd->dtype != x->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "updates are %s but x is %s", d2_dtype_name(upd->dtype),
                         d2_dtype_name(x->dtype));
    ctx->output_types[0] = *x;
    if (x->rank < 0)
        return D2_OK;
    if (!d2_normalize_axis(attrs->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for rank %d", (long long)attrs->axis,
                         (int)x->rank);
    if (idx->rank >= 0 && idx->rank != x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "indices have rank %d but x has rank %d", (int)idx->rank,
                         (int)x->rank);
    if (idx->rank >= 0 && upd->rank >= 0) {
        if (upd->rank != idx->rank)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "updates have rank %d but indices have rank %d", (int)upd->rank,
                             (int)idx->rank);
        for (int32_t d = 0; d < idx->rank; d++)
            if (dims_conflict(upd->dims[d], idx->dims[d]))
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "updates dim %d is %lld but indices dim is %lld", (int)d,
                                 (long long)upd->dims[d], (long long)idx->dims[d]);
    }
    return D2_OK;
}

/* ======================================================================
 * shape, size, constant_of_shape, range, one_hot
 * ====================================================================== */

static enum d2_status shape_shape(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_shape *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    int64_t start = attrs->start, end = attrs->end, r = x->rank;
    d2_type_init(out, D2_DTYPE_I64, 1, NULL);
    if (r < 0)
        return D2_OK;
    /* Negative start/end count from the back; both clamp to [0, rank]. */
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    out->dims[0] = end > start ? end - start : 0;
    return D2_OK;
}

static enum d2_status shape_size(struct d2_shape_ctx *ctx)
{
    d2_type_init(&ctx->output_types[0], D2_DTYPE_I64, 0, NULL);
    return D2_OK;
}

static enum d2_status shape_constant_of_shape(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_constant_of_shape *attrs = ctx->node->attrs;
    const struct d2_type *shape_t = ctx->input_types[0];
    const struct d2_tensor *shape_v = d2_st_input_value(ctx, 0);
    struct d2_type *out = &ctx->output_types[0];
    int64_t dims[D2_MAX_RANK], n;
    enum d2_status st;
    if ((st = d2_st_require_integer(ctx, shape_t, "shape")) != D2_OK)
        return st;
    if (d2_dtype_size(attrs->dtype) == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "dtype attribute is undefined");
    out->dtype = attrs->dtype;
    if (!shape_v) {
        n = d2_st_list_length(shape_t);
        if (n > D2_MAX_RANK)
            return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "output rank %lld exceeds %d", (long long)n, D2_MAX_RANK);
        if (n >= 0)
            d2_type_init(out, attrs->dtype, (int32_t)n, NULL);
        return D2_OK;
    }
    if ((st = d2_st_read_ints(ctx, shape_v, "shape", dims, D2_MAX_RANK, &n)) != D2_OK)
        return st;
    for (int64_t i = 0; i < n; i++)
        if (dims[i] < 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "shape[%lld] is negative (%lld)", (long long)i,
                             (long long)dims[i]);
    d2_type_init(out, attrs->dtype, (int32_t)n, dims);
    return D2_OK;
}

/* Number of elements of range(start, limit, delta), all scalars of `dtype`.
 * Integers: exact ceil((limit - start) / delta) in unsigned arithmetic (the
 * difference of two int64 fits in uint64). Floats: ceil of the quotient with the
 * difference taken in the input precision, as ONNX Runtime does. */
static enum d2_status range_length(struct d2_shape_ctx *ctx, const struct d2_tensor *const *v, int64_t *length)
{
    enum d2_dtype dtype = v[0]->dtype;
    if (d2_dtype_is_integer(dtype)) {
        int64_t start = d2_tensor_get_i64(v[0], 0), limit = d2_tensor_get_i64(v[1], 0);
        int64_t delta = d2_tensor_get_i64(v[2], 0);
        uint64_t distance, stride;
        if (delta == 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "delta is 0");
        if ((delta > 0 && limit <= start) || (delta < 0 && limit >= start)) {
            *length = 0;
            return D2_OK;
        }
        distance = delta > 0 ? (uint64_t)limit - (uint64_t)start : (uint64_t)start - (uint64_t)limit;
        stride = delta > 0 ? (uint64_t)delta : (uint64_t)0 - (uint64_t)delta;
        *length = (int64_t)((distance - 1) / stride + 1);
        return D2_OK;
    } else {
        double start = d2_load_f64(v[0]->data, dtype, 0), limit = d2_load_f64(v[1]->data, dtype, 0);
        double delta = d2_load_f64(v[2]->data, dtype, 0), count;
        double diff = dtype == D2_DTYPE_F32 ? (double)((float)limit - (float)start) : limit - start;
        if (delta == 0 || isnan(delta) || isnan(diff))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "range with delta %g from %g to %g has no length", delta, start,
                             limit);
        count = ceil(diff / delta);
        if (!(count < 9.0e18))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "range from %g to %g by %g is too long", start, limit, delta);
        *length = count > 0 ? (int64_t)count : 0;
        return D2_OK;
    }
}

static enum d2_status shape_range(struct d2_shape_ctx *ctx)
{
    struct d2_type *out = &ctx->output_types[0];
    const struct d2_tensor *values[3];
    enum d2_dtype dtype = ctx->input_types[0]->dtype;
    bool all_known = true;
    int64_t length = 0;
    enum d2_status st;
    static const char *const names[3] = {"start", "limit", "delta"};
    for (uint32_t i = 0; i < 3; i++) {
        const struct d2_type *t = ctx->input_types[i];
        if (t->dtype != D2_DTYPE_UNDEFINED && dtype != D2_DTYPE_UNDEFINED && t->dtype != dtype)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s is %s but start is %s", names[i], d2_dtype_name(t->dtype),
                             d2_dtype_name(dtype));
        if (d2_st_list_length(t) > 1 || (t->rank >= 0 && t->rank > 1))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be a scalar", names[i]);
        values[i] = ctx->input_values[i];
        if (!values[i])
            all_known = false;
        else if (d2_tensor_numel(values[i]) != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must hold one element", names[i]);
    }
    if (dtype == D2_DTYPE_BOOL)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "range of bool is undefined");
    d2_type_init(out, dtype, 1, NULL);
    if (!all_known)
        return D2_OK;
    if ((st = range_length(ctx, values, &length)) != D2_OK)
        return st;
    out->dims[0] = length;
    return D2_OK;
}

static enum d2_status shape_one_hot(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_one_hot *attrs = ctx->node->attrs;
    const struct d2_type *idx = ctx->input_types[0], *depth_t = ctx->input_types[1], *values_t = ctx->input_types[2];
    const struct d2_tensor *depth_v = ctx->input_values[1];
    struct d2_type *out = &ctx->output_types[0];
    int64_t axis;
    int32_t next = 0;
    if (d2_st_list_length(depth_t) > 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "depth must hold one element");
    if (d2_st_list_length(values_t) >= 0 && d2_st_list_length(values_t) != 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "values must be [off_value, on_value]");
    out->dtype = values_t->dtype;
    if (idx->rank < 0)
        return D2_OK;
    if (idx->rank + 1 > D2_MAX_RANK)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "output rank %d exceeds %d", (int)idx->rank + 1, D2_MAX_RANK);
    if (!d2_normalize_axis(attrs->axis, idx->rank + 1, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld out of range for output rank %d", (long long)attrs->axis,
                         (int)idx->rank + 1);
    out->rank = idx->rank + 1;
    append_dims(out, &next, idx, 0, (int32_t)axis);
    d2_st_set_unknown_dim(out, next++);
    append_dims(out, &next, idx, (int32_t)axis, idx->rank);
    if (depth_v) {
        double depth;
        if (d2_tensor_numel(depth_v) != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "depth must hold one element");
        depth = d2_load_f64(depth_v->data, depth_v->dtype, 0);
        /* ONNX converts a floating depth to an integer (truncation). */
        if (!(depth >= 0) || depth > 9.0e18)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "depth %g is negative or too large", depth);
        out->dims[axis] = d2_dtype_is_float(depth_v->dtype) ? (int64_t)depth : d2_tensor_get_i64(depth_v, 0);
    }
    return D2_OK;
}

/* ======================================================================
 * Entry points (D2_ST_ENTRY, ir/shape_tensor.h): required inputs checked first.
 * ====================================================================== */

D2_ST_ENTRY(gather)
D2_ST_ENTRY(gather_elements)
D2_ST_ENTRY(gather_nd)
D2_ST_ENTRY(scatter_nd)
D2_ST_ENTRY(scatter_elements)
D2_ST_ENTRY(shape)
D2_ST_ENTRY(size)
D2_ST_ENTRY(constant_of_shape)
D2_ST_ENTRY(range)
D2_ST_ENTRY(one_hot)
