/* ir/shape_elementwise.c: shape functions of the elementwise ops (ops.def sections
 * "elementwise unary" and "elementwise binary and variadic").
 *
 * Contract (see struct d2_shape_ctx in ir/ir.h):
 *   - unary ops: the output has the input's shape (dims, symbols, upper bounds);
 *     its dtype is the input's, bool for predicates (not, is_nan, is_inf) and
 *     attrs->to for cast;
 *   - binary, variadic and where: numpy broadcasting of all inputs (d2_shape_broadcast);
 *     the inputs must share one dtype (except pow's exponent and where's condition);
 *     comparisons and logic ops output bool; pow outputs the base's dtype;
 *   - prelu: the slope broadcasts to x (unidirectionally), the output has x's shape;
 *   - clip: min and max are optional scalar (one-element) inputs of x's dtype.
 * Each op accepts a class of dtypes (numeric, float, bool, any); an input whose dtype
 * is known and outside the class is a D2_ERR_SHAPE error. Unknown dtypes (compile time,
 * not yet inferred) are accepted and leave the output dtype unknown where it follows
 * the input. The caller prefixes errors with the node's name and op.
 */
#include "shape_elementwise.h"

/* Which element types an op accepts. */
enum dtype_class {
    DTYPES_ANY,     /* every dtype, bool included */
    DTYPES_NUMERIC, /* integers and floats, not bool */
    DTYPES_FLOAT,   /* f32 f16 bf16 f64 */
    DTYPES_BOOL,    /* bool only */
};

static bool dtype_in_class(enum d2_dtype t, enum dtype_class c)
{
    if (t == D2_DTYPE_UNDEFINED)
        return true; /* not inferred yet: nothing to check */
    switch (c) {
    case DTYPES_ANY: return true;
    case DTYPES_NUMERIC: return d2_dtype_is_float(t) || d2_dtype_is_integer(t);
    case DTYPES_FLOAT: return d2_dtype_is_float(t);
    case DTYPES_BOOL: return t == D2_DTYPE_BOOL;
    }
    return false;
}

static const char *dtype_class_text(enum dtype_class c)
{
    switch (c) {
    case DTYPES_ANY: return "any dtype";
    case DTYPES_NUMERIC: return "a numeric dtype (integer or float)";
    case DTYPES_FLOAT: return "a float dtype (f32, f16, bf16, f64)";
    case DTYPES_BOOL: return "bool";
    }
    return "?";
}

/* The type of required input i, or an error when it is absent. */
static enum d2_status required_input(struct d2_shape_ctx *ctx, uint32_t i, const struct d2_type **out)
{
    if (i >= ctx->num_inputs || !ctx->input_types[i])
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u is required but missing", i);
    *out = ctx->input_types[i];
    return D2_OK;
}

static enum d2_status check_dtype(struct d2_shape_ctx *ctx, uint32_t i, enum d2_dtype t, enum dtype_class c)
{
    if (!dtype_in_class(t, c))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input %u has dtype %s, expected %s", i,
                         d2_dtype_name(t), dtype_class_text(c));
    return D2_OK;
}

/* Inputs first..first+count-1 must share one dtype (unknown dtypes aside). Returns the
 * common dtype in *out (UNDEFINED when none is known). */
static enum d2_status common_dtype(struct d2_shape_ctx *ctx, uint32_t first, uint32_t count,
                                   enum d2_dtype *out)
{
    enum d2_dtype common = D2_DTYPE_UNDEFINED;
    uint32_t common_input = first;
    for (uint32_t i = first; i < first + count; i++) {
        enum d2_dtype t = ctx->input_types[i]->dtype;
        if (t == D2_DTYPE_UNDEFINED)
            continue;
        if (common != D2_DTYPE_UNDEFINED && t != common)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "inputs %u (%s) and %u (%s) have different dtypes",
                             common_input, d2_dtype_name(common), i, d2_dtype_name(t));
        if (common == D2_DTYPE_UNDEFINED) {
            common = t;
            common_input = i;
        }
    }
    *out = common;
    return D2_OK;
}

/* ---- unary ------------------------------------------------------------ */

/* Output: the input's type, with dtype out_dtype (UNDEFINED: the input's dtype). */
static enum d2_status unary(struct d2_shape_ctx *ctx, enum dtype_class c, enum d2_dtype out_dtype)
{
    const struct d2_type *x = NULL;
    enum d2_status st = required_input(ctx, 0, &x);
    if (st != D2_OK)
        return st;
    st = check_dtype(ctx, 0, x->dtype, c);
    if (st != D2_OK)
        return st;
    ctx->output_types[0] = *x;
    if (out_dtype != D2_DTYPE_UNDEFINED)
        ctx->output_types[0].dtype = out_dtype;
    return D2_OK;
}

#define UNARY_SAME(name, dtype_class)                              \
    enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx)      \
    {                                                              \
        return unary(ctx, dtype_class, D2_DTYPE_UNDEFINED);        \
    }

UNARY_SAME(identity, DTYPES_ANY)
UNARY_SAME(abs, DTYPES_NUMERIC)
UNARY_SAME(neg, DTYPES_NUMERIC)
UNARY_SAME(sign, DTYPES_NUMERIC)
UNARY_SAME(relu, DTYPES_NUMERIC)
UNARY_SAME(floor, DTYPES_FLOAT)
UNARY_SAME(ceil, DTYPES_FLOAT)
UNARY_SAME(round, DTYPES_FLOAT)
UNARY_SAME(exp, DTYPES_FLOAT)
UNARY_SAME(log, DTYPES_FLOAT)
UNARY_SAME(sqrt, DTYPES_FLOAT)
UNARY_SAME(reciprocal, DTYPES_FLOAT)
UNARY_SAME(sigmoid, DTYPES_FLOAT)
UNARY_SAME(tanh, DTYPES_FLOAT)
UNARY_SAME(erf, DTYPES_FLOAT)
UNARY_SAME(sin, DTYPES_FLOAT)
UNARY_SAME(cos, DTYPES_FLOAT)
UNARY_SAME(leaky_relu, DTYPES_FLOAT)
UNARY_SAME(elu, DTYPES_FLOAT)
UNARY_SAME(selu, DTYPES_FLOAT)
UNARY_SAME(hard_sigmoid, DTYPES_FLOAT)
UNARY_SAME(hard_swish, DTYPES_FLOAT)
UNARY_SAME(softplus, DTYPES_FLOAT)
UNARY_SAME(softsign, DTYPES_FLOAT)
UNARY_SAME(gelu, DTYPES_FLOAT)
UNARY_SAME(not, DTYPES_BOOL)

enum d2_status d2_shape_is_nan(struct d2_shape_ctx *ctx)
{
    return unary(ctx, DTYPES_FLOAT, D2_DTYPE_BOOL);
}

enum d2_status d2_shape_is_inf(struct d2_shape_ctx *ctx)
{
    return unary(ctx, DTYPES_FLOAT, D2_DTYPE_BOOL);
}

enum d2_status d2_shape_cast(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_cast *attrs = ctx->node->attrs;
    if (attrs->to <= D2_DTYPE_UNDEFINED || attrs->to >= D2_DTYPE_COUNT)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "target dtype %d is not a d2rt dtype", (int)attrs->to);
    return unary(ctx, DTYPES_ANY, attrs->to);
}

/* A scalar input (clip's min/max): at most one element when the shape is known. */
static enum d2_status check_scalar_input(struct d2_shape_ctx *ctx, uint32_t i, const char *what)
{
    const struct d2_type *t = ctx->input_types[i];
    for (int32_t d = 0; d < t->rank; d++)
        if (t->dims[d] > 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s (input %u) must be a scalar, but dim %d is %lld",
                             what, i, (int)d, (long long)t->dims[d]);
    return D2_OK;
}

enum d2_status d2_shape_clip(struct d2_shape_ctx *ctx)
{
    static const char *const bound_names[3] = { "x", "min", "max" };
    const struct d2_type *x = NULL;
    enum d2_status st = required_input(ctx, 0, &x);
    if (st != D2_OK)
        return st;
    st = check_dtype(ctx, 0, x->dtype, DTYPES_NUMERIC);
    for (uint32_t i = 1; st == D2_OK && i < ctx->num_inputs && i < 3; i++) {
        const struct d2_type *bound = ctx->input_types[i];
        if (!bound)
            continue; /* omitted: no bound on that side */
        if (x->dtype != D2_DTYPE_UNDEFINED && bound->dtype != D2_DTYPE_UNDEFINED && bound->dtype != x->dtype)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s (input %u) has dtype %s but x has %s", bound_names[i],
                             i, d2_dtype_name(bound->dtype), d2_dtype_name(x->dtype));
        st = check_scalar_input(ctx, i, bound_names[i]);
    }
    if (st != D2_OK)
        return st;
    ctx->output_types[0] = *x;
    return D2_OK;
}

/* ---- binary and variadic ------------------------------------------------ */

/* Broadcast inputs first..first+count-1 (all present) into *out, dtype out_dtype. */
static enum d2_status broadcast_inputs(struct d2_shape_ctx *ctx, uint32_t first, uint32_t count,
                                       enum d2_dtype out_dtype, struct d2_type *out)
{
    struct d2_type acc = *ctx->input_types[first];
    for (uint32_t i = first + 1; i < first + count; i++) {
        struct d2_type next;
        enum d2_status st;
        d2_type_init_unknown(&next);
        st = d2_shape_broadcast(&acc, ctx->input_types[i], &next, ctx->err);
        if (st != D2_OK) {
            d2_error_prefix(ctx->err, "input %u does not broadcast with the inputs before it: ", i);
            return st;
        }
        acc = next;
    }
    *out = acc;
    out->dtype = out_dtype;
    return D2_OK;
}

/* All inputs present, of dtype class c and one common dtype; output = their broadcast
 * with dtype out_dtype (UNDEFINED: the common input dtype). */
static enum d2_status same_dtype_broadcast(struct d2_shape_ctx *ctx, enum dtype_class c, enum d2_dtype out_dtype)
{
    enum d2_dtype common = D2_DTYPE_UNDEFINED;
    enum d2_status st;
    if (ctx->num_inputs == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "needs at least one input");
    for (uint32_t i = 0; i < ctx->num_inputs; i++) {
        const struct d2_type *t = NULL;
        st = required_input(ctx, i, &t);
        if (st == D2_OK)
            st = check_dtype(ctx, i, t->dtype, c);
        if (st != D2_OK)
            return st;
    }
    st = common_dtype(ctx, 0, ctx->num_inputs, &common);
    if (st != D2_OK)
        return st;
    return broadcast_inputs(ctx, 0, ctx->num_inputs, out_dtype != D2_DTYPE_UNDEFINED ? out_dtype : common,
                            &ctx->output_types[0]);
}

#define BROADCAST_OP(name, dtype_class, out_dtype)                   \
    enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx)        \
    {                                                                \
        return same_dtype_broadcast(ctx, dtype_class, out_dtype);    \
    }

BROADCAST_OP(add, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(sub, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(mul, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(div, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(mod, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(fmod, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(equal, DTYPES_ANY, D2_DTYPE_BOOL)
BROADCAST_OP(greater, DTYPES_ANY, D2_DTYPE_BOOL)
BROADCAST_OP(less, DTYPES_ANY, D2_DTYPE_BOOL)
BROADCAST_OP(greater_equal, DTYPES_ANY, D2_DTYPE_BOOL)
BROADCAST_OP(less_equal, DTYPES_ANY, D2_DTYPE_BOOL)
BROADCAST_OP(and, DTYPES_BOOL, D2_DTYPE_BOOL)
BROADCAST_OP(or, DTYPES_BOOL, D2_DTYPE_BOOL)
BROADCAST_OP(xor, DTYPES_BOOL, D2_DTYPE_BOOL)
BROADCAST_OP(max, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(min, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(sum, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED)
BROADCAST_OP(mean, DTYPES_FLOAT, D2_DTYPE_UNDEFINED)

/* pow: base and exponent may have different numeric dtypes; the result has the base's. */
enum d2_status d2_shape_pow(struct d2_shape_ctx *ctx)
{
    const struct d2_type *base = NULL, *exponent = NULL;
    enum d2_status st = required_input(ctx, 0, &base);
    if (st == D2_OK)
        st = required_input(ctx, 1, &exponent);
    if (st == D2_OK)
        st = check_dtype(ctx, 0, base->dtype, DTYPES_NUMERIC);
    if (st == D2_OK)
        st = check_dtype(ctx, 1, exponent->dtype, DTYPES_NUMERIC);
    if (st != D2_OK)
        return st;
    return broadcast_inputs(ctx, 0, 2, base->dtype, &ctx->output_types[0]);
}

/* prelu: the slope must broadcast to x's shape without growing it. */
enum d2_status d2_shape_prelu(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = NULL, *slope = NULL;
    struct d2_type out;
    enum d2_dtype common = D2_DTYPE_UNDEFINED;
    enum d2_status st = same_dtype_broadcast(ctx, DTYPES_NUMERIC, D2_DTYPE_UNDEFINED);
    if (st != D2_OK)
        return st;
    x = ctx->input_types[0];
    slope = ctx->input_types[1];
    out = ctx->output_types[0];
    common = out.dtype;
    if (x->rank >= 0 && slope->rank > x->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "slope has rank %d, more than x's rank %d", (int)slope->rank,
                         (int)x->rank);
    for (int32_t d = 0; x->rank >= 0 && d < x->rank; d++)
        if (x->dims[d] >= 0 && out.dims[d] >= 0 && out.dims[d] != x->dims[d])
            return d2_errorf(ctx->err, D2_ERR_SHAPE,
                             "slope would grow x's dim %d from %lld to %lld (slope must broadcast to x)",
                             (int)d, (long long)x->dims[d], (long long)out.dims[d]);
    /* The output is x's shape: keep x's symbols and bounds. */
    if (x->rank >= 0) {
        ctx->output_types[0] = *x;
        ctx->output_types[0].dtype = common;
    }
    return D2_OK;
}

/* where(cond, a, b): cond is bool; a and b share the output dtype. */
enum d2_status d2_shape_where(struct d2_shape_ctx *ctx)
{
    const struct d2_type *cond = NULL, *a = NULL, *b = NULL;
    enum d2_dtype common = D2_DTYPE_UNDEFINED;
    enum d2_status st = required_input(ctx, 0, &cond);
    if (st == D2_OK)
        st = required_input(ctx, 1, &a);
    if (st == D2_OK)
        st = required_input(ctx, 2, &b);
    if (st == D2_OK)
        st = check_dtype(ctx, 0, cond->dtype, DTYPES_BOOL);
    if (st == D2_OK)
        st = common_dtype(ctx, 1, 2, &common);
    if (st != D2_OK)
        return st;
    return broadcast_inputs(ctx, 0, 3, common, &ctx->output_types[0]);
}
