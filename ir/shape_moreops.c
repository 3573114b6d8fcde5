/* ir/shape_moreops.c: shape functions of the "more ops" family (ops.def section
 * "more ops"; list in ir/shape_moreops.h).
 *
 * Contract (see struct d2_shape_ctx in ir/ir.h):
 *   - unary ops: the output has the input's type. Math and activations accept float
 *     dtypes, shrink any numeric dtype, bitwise_not integer dtypes;
 *   - bit_shift, bitwise_and/or/xor: two integer inputs of one dtype, numpy
 *     broadcasting;
 *   - cum_prod(x, axis): x's type; axis is a scalar (or one-element) i32/i64 tensor,
 *     checked against x's rank when both are known;
 *   - layer_norm(X, Scale, B?) {axis}: Y has X's type; Scale and B must broadcast to X
 *     without growing it; the optional Mean and InvStdDev outputs have X's dims with
 *     dims [axis:] set to 1 and dtype stash_type;
 *   - rms_norm(X, Scale): like layer_norm's Y;
 *   - group_norm(X, scale, bias): X is [N, C, ...] with C divisible by num_groups;
 *     scale and bias are 1-D with C or num_groups elements;
 *   - mean_variance_norm, lp_norm: X's type; axes/axis must fit X's rank;
 *   - grid_sample(X [N,C,d1..dr], grid [N,o1..or,r]): Y [N, C, o1..or], X's dtype.
 * Unknown dtypes and ranks (compile time) are accepted and leave what depends on them
 * unknown. Errors are D2_ERR_SHAPE with the problem named; the caller prefixes the
 * node's name and op.
 */
#include "shape_moreops.h"

enum dtype_class {
    DTYPES_FLOAT,   /* f32 f16 bf16 f64 */
    DTYPES_NUMERIC, /* integers and floats */
    DTYPES_INTEGER, /* signed and unsigned integers, not bool */
};

static bool dtype_in_class(enum d2_dtype t, enum dtype_class c)
{
    if (t == D2_DTYPE_UNDEFINED)
        return true; /* not inferred yet */
    switch (c) {
    case DTYPES_FLOAT: return d2_dtype_is_float(t);
    case DTYPES_NUMERIC: return d2_dtype_is_float(t) || d2_dtype_is_integer(t);
    case DTYPES_INTEGER: return d2_dtype_is_integer(t);
    }
    return false;
}

static const char *dtype_class_text(enum dtype_class c)
{
    switch (c) {
    case DTYPES_FLOAT: return "a float dtype (f32, f16, bf16, f64)";
    case DTYPES_NUMERIC: return "a numeric dtype (integer or float)";
    case DTYPES_INTEGER: return "an integer dtype";
    }
    return "?";
}

/* The type of required input i (present, of dtype class c). */
static enum d2_status input_of_class(struct d2_shape_ctx *ctx, uint32_t i, enum dtype_class c,
                                     const struct d2_type **out)
{
    if (i >= ctx->num_inputs || !ctx->input_types[i])
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u is required but missing", i);
    if (!dtype_in_class(ctx->input_types[i]->dtype, c))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u has dtype %s, expected %s", i,
                         d2_dtype_name(ctx->input_types[i]->dtype), dtype_class_text(c));
    *out = ctx->input_types[i];
    return D2_OK;
}

/* Input i (when present) must have x's dtype (both known). */
static enum d2_status same_dtype_as(struct d2_shape_ctx *ctx, uint32_t i, const struct d2_type *x, const char *what)
{
    const struct d2_type *t = i < ctx->num_inputs ? ctx->input_types[i] : NULL;
    if (t && t->dtype != D2_DTYPE_UNDEFINED && x->dtype != D2_DTYPE_UNDEFINED && t->dtype != x->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s (input %u) has dtype %s but X has %s", what, i,
                         d2_dtype_name(t->dtype), d2_dtype_name(x->dtype));
    return D2_OK;
}

/* ---- unary --------------------------------------------------------------- */

static enum d2_status unary(struct d2_shape_ctx *ctx, enum dtype_class c)
{
    const struct d2_type *x = NULL;
    enum d2_status st = input_of_class(ctx, 0, c, &x);
    if (st == D2_OK)
        ctx->output_types[0] = *x;
    return st;
}

#define UNARY(name, dtype_class)                                   \
    enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx)      \
    {                                                              \
        return unary(ctx, dtype_class);                            \
    }

UNARY(tan, DTYPES_FLOAT)
UNARY(sinh, DTYPES_FLOAT)
UNARY(cosh, DTYPES_FLOAT)
UNARY(asin, DTYPES_FLOAT)
UNARY(acos, DTYPES_FLOAT)
UNARY(atan, DTYPES_FLOAT)
UNARY(asinh, DTYPES_FLOAT)
UNARY(acosh, DTYPES_FLOAT)
UNARY(atanh, DTYPES_FLOAT)
UNARY(mish, DTYPES_FLOAT)
UNARY(celu, DTYPES_FLOAT)
UNARY(thresholded_relu, DTYPES_FLOAT)
UNARY(swish, DTYPES_FLOAT)
UNARY(shrink, DTYPES_NUMERIC)
UNARY(bitwise_not, DTYPES_INTEGER)

/* ---- binary integer ops ---------------------------------------------------- */

static enum d2_status binary_integer(struct d2_shape_ctx *ctx)
{
    const struct d2_type *a = NULL, *b = NULL;
    enum d2_status st = input_of_class(ctx, 0, DTYPES_INTEGER, &a);
    if (st == D2_OK)
        st = input_of_class(ctx, 1, DTYPES_INTEGER, &b);
    if (st != D2_OK)
        return st;
    if (a->dtype != D2_DTYPE_UNDEFINED && b->dtype != D2_DTYPE_UNDEFINED && a->dtype != b->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "inputs 0 (%s) and 1 (%s) have different dtypes",
                         d2_dtype_name(a->dtype), d2_dtype_name(b->dtype));
    ctx->output_types[0].dtype = a->dtype != D2_DTYPE_UNDEFINED ? a->dtype : b->dtype;
    return d2_shape_broadcast(a, b, &ctx->output_types[0], ctx->err);
}

enum d2_status d2_shape_bit_shift(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_bit_shift *attrs = ctx->node->attrs;
    if (attrs->direction != D2_BIT_SHIFT_LEFT && attrs->direction != D2_BIT_SHIFT_RIGHT)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "direction %d is not left or right", (int)attrs->direction);
    return binary_integer(ctx);
}

enum d2_status d2_shape_bitwise_and(struct d2_shape_ctx *ctx) { return binary_integer(ctx); }
enum d2_status d2_shape_bitwise_or(struct d2_shape_ctx *ctx) { return binary_integer(ctx); }
enum d2_status d2_shape_bitwise_xor(struct d2_shape_ctx *ctx) { return binary_integer(ctx); }

/* ---- cum_prod ------------------------------------------------------------------ */

enum d2_status d2_shape_cum_prod(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = NULL, *axis_type = NULL;
    const struct d2_tensor *axis = ctx->num_inputs > 1 ? ctx->input_values[1] : NULL;
    enum d2_status st = input_of_class(ctx, 0, DTYPES_NUMERIC, &x);
    if (st == D2_OK)
        st = input_of_class(ctx, 1, DTYPES_INTEGER, &axis_type);
    if (st != D2_OK)
        return st;
    if (axis_type->dtype != D2_DTYPE_UNDEFINED && axis_type->dtype != D2_DTYPE_I32 &&
        axis_type->dtype != D2_DTYPE_I64)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis has dtype %s, expected i32 or i64",
                         d2_dtype_name(axis_type->dtype));
    for (int32_t d = 0; d < axis_type->rank; d++)
        if (axis_type->dims[d] > 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis must be a scalar, but its dim %d is %lld", (int)d,
                             (long long)axis_type->dims[d]);
    if (axis && d2_tensor_numel(axis) != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis must have one element, it has %lld",
                         (long long)d2_tensor_numel(axis));
    if (axis && x->rank >= 0) {
        int64_t a = d2_tensor_get_i64(axis, 0), norm;
        if (!d2_normalize_axis(a, x->rank > 0 ? x->rank : 1, &norm))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)a,
                             (int)x->rank);
    }
    ctx->output_types[0] = *x;
    return D2_OK;
}

/* ---- normalizations ------------------------------------------------------------ */

/* Input i (when present) must broadcast to x without changing x's shape. */
static enum d2_status broadcasts_to(struct d2_shape_ctx *ctx, uint32_t i, const struct d2_type *x, const char *what)
{
    const struct d2_type *t = i < ctx->num_inputs ? ctx->input_types[i] : NULL;
    if (!t || t->rank < 0 || x->rank < 0)
        return D2_OK;
    if (t->rank > x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s has rank %d, more than X's rank %d", what, (int)t->rank,
                         (int)x->rank);
    for (int32_t j = 0; j < t->rank; j++) {
        int64_t dt = t->dims[j], dx = x->dims[j + x->rank - t->rank];
        if (dt >= 0 && dx >= 0 && dt != 1 && dt != dx)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s dim %d is %lld but X's dim %d is %lld (must be 1 or equal)",
                             what, (int)j, (long long)dt, (int)(j + x->rank - t->rank), (long long)dx);
    }
    return same_dtype_as(ctx, i, x, what);
}

static enum d2_status norm_axis(struct d2_shape_ctx *ctx, int64_t axis, const struct d2_type *x, int64_t *norm)
{
    *norm = -1;
    if (x->rank < 0)
        return D2_OK;
    if (!d2_normalize_axis(axis, x->rank, norm))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis,
                         (int)x->rank);
    return D2_OK;
}

enum d2_status d2_shape_layer_norm(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_layer_norm *attrs = ctx->node->attrs;
    const struct d2_type *x = NULL;
    int64_t axis;
    enum d2_status st = input_of_class(ctx, 0, DTYPES_FLOAT, &x);
    if (st == D2_OK && (ctx->num_inputs < 2 || !ctx->input_types[1]))
        st = d2_errorf(ctx->err, D2_ERR_SHAPE, "Scale (input 1) is required but missing");
    if (st == D2_OK)
        st = broadcasts_to(ctx, 1, x, "Scale");
    if (st == D2_OK)
        st = broadcasts_to(ctx, 2, x, "B");
    if (st == D2_OK)
        st = norm_axis(ctx, attrs->axis, x, &axis);
    if (st != D2_OK)
        return st;
    if (ctx->num_outputs > 1 && !d2_dtype_is_float(attrs->stash_type))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "stash_type %s is not a float dtype", d2_dtype_name(attrs->stash_type));
    ctx->output_types[0] = *x;
    for (uint32_t k = 1; k < ctx->num_outputs && k < 3; k++) {
        struct d2_type *t = &ctx->output_types[k];
        *t = *x;
        t->dtype = attrs->stash_type;
        for (int32_t d = (int32_t)axis; x->rank >= 0 && d < x->rank; d++) {
            t->dims[d] = 1;
            t->symbols[d] = NULL;
            t->upper_bounds[d] = -1;
        }
    }
    return D2_OK;
}

enum d2_status d2_shape_rms_norm(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_layer_norm *attrs = ctx->node->attrs;
    const struct d2_type *x = NULL;
    int64_t axis;
    enum d2_status st = input_of_class(ctx, 0, DTYPES_FLOAT, &x);
    if (st == D2_OK && (ctx->num_inputs < 2 || !ctx->input_types[1]))
        st = d2_errorf(ctx->err, D2_ERR_SHAPE, "Scale (input 1) is required but missing");
    if (st == D2_OK)
        st = broadcasts_to(ctx, 1, x, "Scale");
    if (st == D2_OK)
        st = norm_axis(ctx, attrs->axis, x, &axis);
    if (st == D2_OK)
        ctx->output_types[0] = *x;
    return st;
}

enum d2_status d2_shape_group_norm(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_group_norm *attrs = ctx->node->attrs;
    const struct d2_type *x = NULL;
    int64_t groups = attrs->num_groups, channels;
    enum d2_status st = input_of_class(ctx, 0, DTYPES_FLOAT, &x);
    if (st != D2_OK)
        return st;
    if (groups <= 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "num_groups must be positive, it is %lld", (long long)groups);
    if (x->rank >= 0 && x->rank < 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X has rank %d, expected [N, C, ...]", (int)x->rank);
    channels = x->rank >= 2 ? x->dims[1] : D2_DIM_UNKNOWN;
    if (channels >= 0 && channels % groups != 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%lld channels do not split into %lld groups",
                         (long long)channels, (long long)groups);
    for (uint32_t i = 1; i < 3; i++) {
        const char *what = i == 1 ? "scale" : "bias";
        const struct d2_type *t = NULL;
        st = input_of_class(ctx, i, DTYPES_FLOAT, &t);
        if (st == D2_OK)
            st = same_dtype_as(ctx, i, x, what);
        if (st != D2_OK)
            return st;
        if (t->rank >= 0 && t->rank != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s has rank %d, expected 1", what, (int)t->rank);
        if (t->rank == 1 && t->dims[0] >= 0 && t->dims[0] != groups && (channels < 0 || t->dims[0] != channels))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s has %lld elements, expected C (%lld) or num_groups (%lld)",
                             what, (long long)t->dims[0], (long long)channels, (long long)groups);
    }
    ctx->output_types[0] = *x;
    return D2_OK;
}

enum d2_status d2_shape_mean_variance_norm(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_mvn *attrs = ctx->node->attrs;
    const struct d2_type *x = NULL;
    enum d2_status st = input_of_class(ctx, 0, DTYPES_FLOAT, &x);
    if (st != D2_OK)
        return st;
    if (x->rank >= 0) {
        static const int64_t default_axes[3] = {0, 2, 3};
        const int64_t *axes = attrs->axes.count ? attrs->axes.data : default_axes;
        uint32_t count = attrs->axes.count ? attrs->axes.count : 3;
        bool seen[D2_MAX_RANK] = {false};
        for (uint32_t k = 0; k < count; k++) {
            int64_t norm;
            if (!d2_normalize_axis(axes[k], x->rank, &norm))
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axes[k],
                                 (int)x->rank);
            if (seen[norm])
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is listed twice", (long long)axes[k]);
            seen[norm] = true;
        }
    }
    ctx->output_types[0] = *x;
    return D2_OK;
}

enum d2_status d2_shape_lp_norm(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_lp_norm *attrs = ctx->node->attrs;
    const struct d2_type *x = NULL;
    int64_t axis;
    enum d2_status st = input_of_class(ctx, 0, DTYPES_FLOAT, &x);
    if (st == D2_OK && attrs->p != 1 && attrs->p != 2)
        st = d2_errorf(ctx->err, D2_ERR_SHAPE, "p is %lld, expected 1 or 2", (long long)attrs->p);
    if (st == D2_OK)
        st = norm_axis(ctx, attrs->axis, x, &axis);
    if (st == D2_OK)
        ctx->output_types[0] = *x;
    return st;
}

/* ---- grid_sample ------------------------------------------------------------------ */

enum d2_status d2_shape_grid_sample(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = NULL, *grid = NULL;
    struct d2_type *y = &ctx->output_types[0];
    int32_t spatial;
    enum d2_status st = input_of_class(ctx, 0, DTYPES_FLOAT, &x);
    if (st == D2_OK)
        st = input_of_class(ctx, 1, DTYPES_FLOAT, &grid);
    if (st != D2_OK)
        return st;
    y->dtype = x->dtype;
    if (x->rank >= 0 && x->rank < 3)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X has rank %d, expected [N, C, d1, ...]", (int)x->rank);
    if (grid->rank >= 0 && grid->rank < 3)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "grid has rank %d, expected [N, o1, ..., r]", (int)grid->rank);
    if (x->rank >= 0 && grid->rank >= 0 && x->rank != grid->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X has rank %d but grid has rank %d (must be equal)", (int)x->rank,
                         (int)grid->rank);
    if (x->rank < 0 && grid->rank < 0)
        return D2_OK; /* rank unknown */
    spatial = (x->rank >= 0 ? x->rank : grid->rank) - 2;
    if (grid->rank >= 0 && grid->dims[grid->rank - 1] >= 0 && grid->dims[grid->rank - 1] != spatial)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "grid's last dim is %lld, expected %d (X's spatial rank)",
                         (long long)grid->dims[grid->rank - 1], (int)spatial);
    if (x->rank >= 0 && grid->rank >= 0 && x->dims[0] >= 0 && grid->dims[0] >= 0 && x->dims[0] != grid->dims[0])
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X has batch %lld but grid has %lld", (long long)x->dims[0],
                         (long long)grid->dims[0]);
    d2_type_init(y, x->dtype, spatial + 2, NULL);
    for (int32_t d = 0; d < spatial + 2; d++) {
        /* dim 0 from whichever knows it, dim 1 from X, the rest from grid. */
        const struct d2_type *src = d == 1 ? x : d == 0 ? (x->rank >= 0 && x->dims[0] >= 0 ? x : grid) : grid;
        int32_t sd = d <= 1 ? d : d - 1;
        if (src->rank < 0)
            continue;
        y->dims[d] = src->dims[sd];
        y->symbols[d] = src->symbols[sd];
        y->upper_bounds[d] = src->upper_bounds[sd];
    }
    return D2_OK;
}

/* ---- center_crop_pad ------------------------------------------------------------------ */

/* Output: x's type with dims axes[i] replaced by shape[i] (unknown until the shape
 * input's values are). axes must be distinct and in range; shape has one element per
 * axis, each >= 0. */
enum d2_status d2_shape_center_crop_pad(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_center_crop_pad *attrs = ctx->node->attrs;
    const struct d2_type *x = ctx->num_inputs > 0 ? ctx->input_types[0] : NULL, *shape_type = NULL;
    const struct d2_tensor *shape = ctx->num_inputs > 1 ? ctx->input_values[1] : NULL;
    struct d2_type *y = &ctx->output_types[0];
    int64_t axes[D2_MAX_RANK];
    bool seen[D2_MAX_RANK] = {false};
    uint32_t count;
    if (!x)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input 0 is required but missing");
    enum d2_status st = input_of_class(ctx, 1, DTYPES_INTEGER, &shape_type);
    if (st != D2_OK)
        return st;
    if (shape_type->rank >= 0 && shape_type->rank != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "shape has rank %d, expected 1", (int)shape_type->rank);
    *y = *x;
    if (x->rank < 0)
        return D2_OK;
    count = attrs->axes.count ? attrs->axes.count : (uint32_t)x->rank;
    if (count > (uint32_t)x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%u axes for rank %d", count, (int)x->rank);
    for (uint32_t k = 0; k < count; k++) {
        int64_t a = attrs->axes.count ? attrs->axes.data[k] : (int64_t)k;
        if (!d2_normalize_axis(a, x->rank, &axes[k]))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)a,
                             (int)x->rank);
        if (seen[axes[k]])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is listed twice", (long long)a);
        seen[axes[k]] = true;
    }
    if (shape_type->rank == 1 && shape_type->dims[0] >= 0 && shape_type->dims[0] != (int64_t)count)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "shape has %lld elements but there are %u axes",
                         (long long)shape_type->dims[0], count);
    for (uint32_t k = 0; k < count; k++) {
        int64_t d = D2_DIM_UNKNOWN;
        if (shape) {
            d = d2_tensor_get_i64(shape, k);
            if (d < 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "shape[%u] is %lld, must be >= 0", k, (long long)d);
        }
        y->dims[axes[k]] = d;
        y->symbols[axes[k]] = NULL;
        y->upper_bounds[axes[k]] = -1;
    }
    return D2_OK;
}
