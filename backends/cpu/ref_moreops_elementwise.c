/* backends/cpu/ref_moreops_elementwise.c: reference CPU kernels of the "more ops"
 * elementwise ops: trigonometric and hyperbolic functions, mish, celu,
 * thresholded_relu, shrink, swish, the bitwise ops and bit_shift; cum_prod and
 * center_crop_pad.
 *
 * Floats are computed in double and rounded once on store; integers in int64 with
 * wrapping arithmetic, stored back to their width (d2_store_i64 truncates, which is
 * exactly the two's-complement wrap numpy does). Which dtypes an op accepts is
 * decided by its shape function (ir/shape_moreops.c); a kernel handed a dtype it has
 * no rule for returns D2_ERR_UNSUPPORTED.
 */
#include "ref_moreops.h"

#include <math.h>
#include <string.h>

/* ---- unary float ops ---------------------------------------------------------- */

typedef double (*float_fn)(double x, const void *attrs);

static enum d2_status map_float(struct d2_kernel_ctx *ctx, float_fn f)
{
    const struct d2_tensor *x = NULL;
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st != D2_OK)
        return st;
    if (!d2_dtype_is_float(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(x->dtype));
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    int64_t n = d2_tensor_numel(x);
    struct d2_tensor *y = &ctx->outputs[0];
    for (int64_t i = 0; i < n; i++)
        d2_store_f64(y->data, y->dtype, (size_t)i, f(d2_load_f64(x->data, x->dtype, (size_t)i), ctx->node->attrs));
    return D2_OK;
}

#define FLOAT_KERNEL(name, fn)                                    \
    enum d2_status d2_cpu_ref_##name(struct d2_kernel_ctx *ctx)  \
    {                                                             \
        return map_float(ctx, fn);                                \
    }

static double f_tan(double x, const void *a) { (void)a; return tan(x); }
static double f_sinh(double x, const void *a) { (void)a; return sinh(x); }
static double f_cosh(double x, const void *a) { (void)a; return cosh(x); }
static double f_asin(double x, const void *a) { (void)a; return asin(x); }
static double f_acos(double x, const void *a) { (void)a; return acos(x); }
static double f_atan(double x, const void *a) { (void)a; return atan(x); }
static double f_asinh(double x, const void *a) { (void)a; return asinh(x); }
static double f_acosh(double x, const void *a) { (void)a; return acosh(x); }
static double f_atanh(double x, const void *a) { (void)a; return atanh(x); }

/* ln(1 + e^x) without overflow: max(x, 0) + ln(1 + e^-|x|). */
static double softplus(double x)
{
    return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

static double f_mish(double x, const void *a)
{
    (void)a;
    return x * tanh(softplus(x));
}

static double f_celu(double x, const void *a)
{
    const struct d2_attrs_celu *attrs = a;
    double negative = attrs->alpha * expm1(x / attrs->alpha);
    return (x > 0 ? x : 0.0) + (negative < 0 ? negative : 0.0);
}

static double f_thresholded_relu(double x, const void *a)
{
    const struct d2_attrs_thresholded_relu *attrs = a;
    return x > attrs->alpha ? x : 0.0;
}

static double f_shrink(double x, const void *a)
{
    const struct d2_attrs_shrink *attrs = a;
    if (x < -attrs->lambd)
        return x + attrs->bias;
    if (x > attrs->lambd)
        return x - attrs->bias;
    return 0.0;
}

/* x * sigmoid(alpha*x), the sigmoid split at 0 so exp never overflows. */
static double f_swish(double x, const void *a)
{
    const struct d2_attrs_swish *attrs = a;
    double z = attrs->alpha * x;
    double s = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
    return x * s;
}

FLOAT_KERNEL(tan, f_tan)
FLOAT_KERNEL(sinh, f_sinh)
FLOAT_KERNEL(cosh, f_cosh)
FLOAT_KERNEL(asin, f_asin)
FLOAT_KERNEL(acos, f_acos)
FLOAT_KERNEL(atan, f_atan)
FLOAT_KERNEL(asinh, f_asinh)
FLOAT_KERNEL(acosh, f_acosh)
FLOAT_KERNEL(atanh, f_atanh)
FLOAT_KERNEL(mish, f_mish)
FLOAT_KERNEL(celu, f_celu)
FLOAT_KERNEL(thresholded_relu, f_thresholded_relu)
FLOAT_KERNEL(swish, f_swish)

/* shrink also takes integers: computed in double (lambd and bias are floats), then
 * stored with C conversion (truncation toward zero), as ONNX's float-then-cast. */
enum d2_status d2_cpu_ref_shrink(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = NULL;
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st != D2_OK)
        return st;
    if (d2_dtype_is_float(x->dtype))
        return map_float(ctx, f_shrink);
    if (!d2_dtype_is_integer(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(x->dtype));
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    int64_t n = d2_tensor_numel(x);
    struct d2_tensor *y = &ctx->outputs[0];
    bool is_u64 = x->dtype == D2_DTYPE_U64;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = d2_load_i64(x->data, x->dtype, (size_t)i);
        double xv = is_u64 ? (double)(uint64_t)v : (double)v;
        d2_store_f64(y->data, y->dtype, (size_t)i, f_shrink(xv, ctx->node->attrs));
    }
    return D2_OK;
}

/* ---- bitwise ---------------------------------------------------------------------- */

enum d2_status d2_cpu_ref_bitwise_not(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = NULL;
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st != D2_OK)
        return st;
    if (!d2_dtype_is_integer(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(x->dtype));
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    int64_t n = d2_tensor_numel(x);
    for (int64_t i = 0; i < n; i++)
        d2_store_i64(ctx->outputs[0].data, x->dtype, (size_t)i, ~d2_load_i64(x->data, x->dtype, (size_t)i));
    return D2_OK;
}

enum bitwise_rule { RULE_AND, RULE_OR, RULE_XOR, RULE_SHIFT };

/* a op b for one element pair; width: bits of the dtype. */
static int64_t bitwise_apply(enum bitwise_rule rule, int64_t a, int64_t b, const struct d2_kernel_ctx *ctx,
                             enum d2_dtype t)
{
    switch (rule) {
    case RULE_AND: return a & b;
    case RULE_OR: return a | b;
    case RULE_XOR: return a ^ b;
    case RULE_SHIFT: break;
    }
    const struct d2_attrs_bit_shift *attrs = ctx->node->attrs;
    uint64_t width = (uint64_t)d2_dtype_size(t) * 8;
    bool is_signed = d2_dtype_is_signed(t);
    /* A negative shift (signed b) or one >= the width shifts every bit out. */
    bool out_of_range = (is_signed && b < 0) || (uint64_t)b >= width;
    if (attrs->direction == D2_BIT_SHIFT_LEFT)
        return out_of_range ? 0 : (int64_t)((uint64_t)a << b);
    if (out_of_range)
        return is_signed && a < 0 ? -1 : 0;
    if (is_signed) /* arithmetic shift without relying on implementation-defined >> */
        return a < 0 ? ~(~a >> b) : a >> b;
    return (int64_t)((uint64_t)a >> b); /* u8..u32 load non-negative; u64 is logical */
}

static enum d2_status map_bitwise(struct d2_kernel_ctx *ctx, enum bitwise_rule rule)
{
    const struct d2_tensor *a = NULL, *b = NULL;
    int64_t dims[D2_MAX_RANK];
    int32_t rank;
    enum d2_status st = d2_moreops_input(ctx, 0, &a);
    if (st == D2_OK)
        st = d2_moreops_input(ctx, 1, &b);
    if (st != D2_OK)
        return st;
    if (!d2_dtype_is_integer(a->dtype) || b->dtype != a->dtype)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtypes %s and %s are not supported", d2_dtype_name(a->dtype),
                         d2_dtype_name(b->dtype));
    rank = a->rank > b->rank ? a->rank : b->rank;
    for (int32_t d = 0; d < rank; d++) {
        int32_t ia = d - (rank - a->rank), ib = d - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "dim %d: %lld does not broadcast with %lld", (int)d,
                             (long long)da, (long long)db);
        dims[d] = da == 1 ? db : da;
    }
    st = d2_moreops_output(ctx, 0, a->dtype, rank, dims);
    if (st != D2_OK)
        return st;
    int64_t n = d2_dims_numel(rank, dims);
    for (int64_t i = 0; i < n; i++) {
        size_t ia = (size_t)d2_broadcast_index(i, rank, dims, a->rank, a->dims);
        size_t ib = (size_t)d2_broadcast_index(i, rank, dims, b->rank, b->dims);
        int64_t v = bitwise_apply(rule, d2_load_i64(a->data, a->dtype, ia), d2_load_i64(b->data, b->dtype, ib), ctx,
                                  a->dtype);
        d2_store_i64(ctx->outputs[0].data, a->dtype, (size_t)i, v);
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_bitwise_and(struct d2_kernel_ctx *ctx) { return map_bitwise(ctx, RULE_AND); }
enum d2_status d2_cpu_ref_bitwise_or(struct d2_kernel_ctx *ctx) { return map_bitwise(ctx, RULE_OR); }
enum d2_status d2_cpu_ref_bitwise_xor(struct d2_kernel_ctx *ctx) { return map_bitwise(ctx, RULE_XOR); }
enum d2_status d2_cpu_ref_bit_shift(struct d2_kernel_ctx *ctx) { return map_bitwise(ctx, RULE_SHIFT); }

/* ---- cum_prod ------------------------------------------------------------------------ */

/* v rounded to float dtype t (a round trip through one element of t). */
static double round_to(enum d2_dtype t, double v)
{
    uint64_t scratch = 0;
    d2_store_f64(&scratch, t, 0, v);
    return d2_load_f64(&scratch, t, 0);
}

/* Running product along the axis. Floats keep the running product rounded to the
 * output dtype after each step (as numpy's cumprod in that dtype); integers wrap. */
enum d2_status d2_cpu_ref_cum_prod(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_cum_sum *a = ctx->node->attrs;
    const struct d2_tensor *x = NULL, *axis_tensor = NULL;
    int64_t axis, outer = 1, len, inner = 1;
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st == D2_OK)
        st = d2_moreops_input(ctx, 1, &axis_tensor);
    if (st != D2_OK)
        return st;
    if (d2_tensor_numel(axis_tensor) != 1 || !d2_dtype_is_integer(axis_tensor->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis must be one integer");
    int64_t raw = d2_load_i64(axis_tensor->data, axis_tensor->dtype, 0);
    if (!d2_normalize_axis(raw, x->rank > 0 ? x->rank : 1, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)raw, (int)x->rank);
    if (!d2_dtype_is_float(x->dtype) && !d2_dtype_is_integer(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(x->dtype));
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    for (int64_t d = 0; d < axis; d++)
        outer *= x->dims[d];
    for (int64_t d = axis + 1; d < x->rank; d++)
        inner *= x->dims[d];
    len = x->rank > 0 ? x->dims[axis] : 1;
    bool is_float = d2_dtype_is_float(x->dtype);
    void *out = ctx->outputs[0].data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double fprod = 1.0;
            uint64_t iprod = 1;
            for (int64_t step = 0; step < len; step++) {
                int64_t k = a->reverse ? len - 1 - step : step;
                size_t at = (size_t)((o * len + k) * inner + i);
                /* exclusive: write the product of the elements before this one first. */
                if (a->exclusive) {
                    if (is_float)
                        d2_store_f64(out, x->dtype, at, fprod);
                    else
                        d2_store_i64(out, x->dtype, at, (int64_t)iprod);
                }
                if (is_float) {
                    fprod = round_to(x->dtype, fprod * d2_load_f64(x->data, x->dtype, at));
                    if (!a->exclusive)
                        d2_store_f64(out, x->dtype, at, fprod);
                } else {
                    iprod *= (uint64_t)d2_load_i64(x->data, x->dtype, at);
                    if (!a->exclusive)
                        d2_store_i64(out, x->dtype, at, (int64_t)iprod);
                }
            }
        }
    }
    return D2_OK;
}

/* ---- center_crop_pad ------------------------------------------------------------------- */

/* Output element at coordinate o reads x at o + offset (per dim), or is zero when that
 * falls outside x: offset = floor((in - out) / 2) when cropping, -floor((out - in) / 2)
 * when padding. A byte copy, so every dtype works. */
enum d2_status d2_cpu_ref_center_crop_pad(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_center_crop_pad *attrs = ctx->node->attrs;
    const struct d2_tensor *x = NULL, *shape = NULL;
    int64_t out_dims[D2_MAX_RANK], offset[D2_MAX_RANK] = {0}, in_strides[D2_MAX_RANK];
    enum d2_status st = d2_moreops_input(ctx, 0, &x);
    if (st == D2_OK)
        st = d2_moreops_input(ctx, 1, &shape);
    if (st != D2_OK)
        return st;
    uint32_t count = attrs->axes.count ? attrs->axes.count : (uint32_t)x->rank;
    if (!d2_dtype_is_integer(shape->dtype) || d2_tensor_numel(shape) != (int64_t)count)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "shape must hold %u integers", count);
    for (int32_t d = 0; d < x->rank; d++)
        out_dims[d] = x->dims[d];
    for (uint32_t k = 0; k < count; k++) {
        int64_t a = attrs->axes.count ? attrs->axes.data[k] : (int64_t)k, axis;
        int64_t want = d2_load_i64(shape->data, shape->dtype, k);
        if (!d2_normalize_axis(a, x->rank, &axis) || want < 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld / size %lld is invalid for rank %d", (long long)a,
                             (long long)want, (int)x->rank);
        out_dims[axis] = want;
        offset[axis] = x->dims[axis] >= want ? (x->dims[axis] - want) / 2 : -((want - x->dims[axis]) / 2);
    }
    st = d2_moreops_output(ctx, 0, x->dtype, x->rank, out_dims);
    if (st != D2_OK)
        return st;
    d2_strides(x->rank, x->dims, in_strides);
    size_t elem = d2_dtype_size(x->dtype);
    int64_t n = d2_dims_numel(x->rank, out_dims);
    uint8_t *out = ctx->outputs[0].data;
    const uint8_t *in = x->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t rest = i, src = 0;
        bool inside = true;
        for (int32_t d = x->rank - 1; d >= 0; d--) {
            int64_t coord = rest % out_dims[d] + offset[d];
            rest /= out_dims[d];
            if (coord < 0 || coord >= x->dims[d])
                inside = false;
            src += coord * in_strides[d];
        }
        if (inside)
            memcpy(out + (size_t)i * elem, in + (size_t)src * elem, elem);
        else
            memset(out + (size_t)i * elem, 0, elem);
    }
    return D2_OK;
}
