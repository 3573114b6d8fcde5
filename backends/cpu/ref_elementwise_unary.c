/* backends/cpu/ref_elementwise_unary.c: reference CPU kernels of the elementwise unary
 * ops (ops.def "elementwise unary"): math and activations, predicates, cast, clip.
 *
 * The output has the input's shape. Floats are computed in double and rounded once to
 * the output dtype; integers in int64 (see ref_elementwise.h). Which dtypes each op
 * accepts is decided by its shape function (ir/shape_elementwise.c); a kernel handed
 * a dtype it has no rule for returns D2_ERR_UNSUPPORTED rather than guessing.
 */
#include "ref_elementwise.h"

#include <math.h>
#include <string.h>

typedef d2_ref_unary_float_fn float_fn;
/* y = f(x) for an integer x loaded with d2_load_i64 (is_u64: x is really a uint64). */
typedef int64_t (*int_fn)(int64_t x, bool is_u64);

static enum d2_status input0(struct d2_kernel_ctx *ctx, const struct d2_tensor **x)
{
    if (ctx->num_inputs < 1 || !ctx->inputs[0])
        return d2_errorf(ctx->err, D2_ERR_INTERNAL, "input 0 is missing");
    *x = ctx->inputs[0];
    return D2_OK;
}

/* Apply float_fn to float inputs and int_fn (when non-NULL) to integer/bool inputs.
 * The output has the input's dtype and shape. */
static enum d2_status map_unary(struct d2_kernel_ctx *ctx, float_fn on_float, int_fn on_int)
{
    const struct d2_tensor *x = NULL;
    struct d2_tensor *y;
    int64_t n;
    enum d2_status st = input0(ctx, &x);
    if (st != D2_OK)
        return st;
    if (d2_dtype_is_float(x->dtype) ? !on_float : !on_int)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(x->dtype));
    st = d2_ew_prepare_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    y = &ctx->outputs[0];
    n = d2_tensor_numel(x);
    if (d2_dtype_is_float(x->dtype)) {
        for (int64_t i = 0; i < n; i++)
            d2_store_f64(y->data, y->dtype, (size_t)i, on_float(d2_load_f64(x->data, x->dtype, (size_t)i),
                                                                  ctx->node->attrs));
    } else {
        bool is_u64 = x->dtype == D2_DTYPE_U64;
        for (int64_t i = 0; i < n; i++)
            d2_store_i64(y->data, y->dtype, (size_t)i, on_int(d2_load_i64(x->data, x->dtype, (size_t)i), is_u64));
    }
    return D2_OK;
}

#define UNARY_KERNEL(name, on_float, on_int)                          \
    enum d2_status d2_cpu_ref_##name(struct d2_kernel_ctx *ctx)      \
    {                                                                 \
        return map_unary(ctx, on_float, on_int);                      \
    }

/* ---- float rules ------------------------------------------------------ */

static double f_abs(double x, const void *a) { (void)a; return fabs(x); }
static double f_neg(double x, const void *a) { (void)a; return -x; }
static double f_floor(double x, const void *a) { (void)a; return floor(x); }
static double f_ceil(double x, const void *a) { (void)a; return ceil(x); }
static double f_exp(double x, const void *a) { (void)a; return exp(x); }
static double f_log(double x, const void *a) { (void)a; return log(x); }
static double f_sqrt(double x, const void *a) { (void)a; return sqrt(x); }
static double f_reciprocal(double x, const void *a) { (void)a; return 1.0 / x; }
static double f_tanh(double x, const void *a) { (void)a; return tanh(x); }
static double f_erf(double x, const void *a) { (void)a; return erf(x); }
static double f_sin(double x, const void *a) { (void)a; return sin(x); }
static double f_cos(double x, const void *a) { (void)a; return cos(x); }
static double f_softsign(double x, const void *a) { (void)a; return x / (1.0 + fabs(x)); }

/* Round half to even without depending on the FPU rounding mode (rint would). */
static double f_round(double x, const void *a)
{
    double lower, fraction;
    (void)a;
    if (!isfinite(x))
        return x;
    lower = floor(x);
    fraction = x - lower; /* exact: both within one binade step of each other */
    if (fraction > 0.5)
        return lower + 1.0;
    if (fraction < 0.5)
        return lower;
    return fmod(lower, 2.0) == 0.0 ? lower : lower + 1.0;
}

/* NaN stays NaN (numpy's sign), zeros keep their sign. */
static double f_sign(double x, const void *a)
{
    (void)a;
    return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
}

/* max(x, 0), written so that NaN passes through as numpy's maximum does. */
static double f_relu(double x, const void *a)
{
    (void)a;
    return x < 0 ? 0.0 : x;
}

/* Split at 0 so exp never overflows. */
static double f_sigmoid(double x, const void *a)
{
    (void)a;
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    return exp(x) / (1.0 + exp(x));
}

static double f_leaky_relu(double x, const void *a)
{
    const struct d2_attrs_alpha *attrs = a;
    return x >= 0 ? x : attrs->alpha * x;
}

static double f_elu(double x, const void *a)
{
    const struct d2_attrs_alpha *attrs = a;
    return x >= 0 ? x : attrs->alpha * expm1(x);
}

static double f_selu(double x, const void *a)
{
    const struct d2_attrs_selu *attrs = a;
    return attrs->gamma * (x > 0 ? x : attrs->alpha * expm1(x));
}

static double clamp01(double v)
{
    return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
}

static double f_hard_sigmoid(double x, const void *a)
{
    const struct d2_attrs_alpha_beta *attrs = a;
    return isnan(x) ? x : clamp01(attrs->alpha * x + attrs->beta);
}

static double f_hard_swish(double x, const void *a)
{
    (void)a;
    return isnan(x) ? x : x * clamp01(x / 6.0 + 0.5);
}

/* ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|): no overflow for large x. */
static double f_softplus(double x, const void *a)
{
    (void)a;
    return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

static double f_gelu(double x, const void *a)
{
    const struct d2_attrs_gelu *attrs = a;
    if (attrs->approximate == D2_GELU_APPROX_TANH) {
        const double sqrt_2_over_pi = 0.79788456080286535588; /* sqrt(2/pi) */
        return 0.5 * x * (1.0 + tanh(sqrt_2_over_pi * (x + 0.044715 * x * x * x)));
    }
    return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440)); /* x / sqrt(2) */
}

/* ---- integer rules (wrapping, as numpy) ---------------------------------- */

static int64_t i_abs(int64_t x, bool is_u64) { return is_u64 || x >= 0 ? x : d2_ew_wrap_sub(0, x); }
static int64_t i_neg(int64_t x, bool is_u64) { (void)is_u64; return d2_ew_wrap_sub(0, x); }
static int64_t i_sign(int64_t x, bool is_u64) { return is_u64 ? x != 0 : (x > 0) - (x < 0); }
static int64_t i_relu(int64_t x, bool is_u64) { return is_u64 || x >= 0 ? x : 0; }

/* Every unary op with its float and integer rules, once: it makes the reference
 * kernels and d2_ref_unary_float_rule (which the fast backend runs on f32 arrays). */
#define UNARY_OPS(X)                                 \
    X(ABS, abs, f_abs, i_abs)                        \
    X(NEG, neg, f_neg, i_neg)                        \
    X(SIGN, sign, f_sign, i_sign)                    \
    X(RELU, relu, f_relu, i_relu)                    \
    X(FLOOR, floor, f_floor, NULL)                   \
    X(CEIL, ceil, f_ceil, NULL)                      \
    X(ROUND, round, f_round, NULL)                   \
    X(EXP, exp, f_exp, NULL)                         \
    X(LOG, log, f_log, NULL)                         \
    X(SQRT, sqrt, f_sqrt, NULL)                      \
    X(RECIPROCAL, reciprocal, f_reciprocal, NULL)    \
    X(SIGMOID, sigmoid, f_sigmoid, NULL)             \
    X(TANH, tanh, f_tanh, NULL)                      \
    X(ERF, erf, f_erf, NULL)                         \
    X(SIN, sin, f_sin, NULL)                         \
    X(COS, cos, f_cos, NULL)                         \
    X(LEAKY_RELU, leaky_relu, f_leaky_relu, NULL)    \
    X(ELU, elu, f_elu, NULL)                         \
    X(SELU, selu, f_selu, NULL)                      \
    X(HARD_SIGMOID, hard_sigmoid, f_hard_sigmoid, NULL) \
    X(HARD_SWISH, hard_swish, f_hard_swish, NULL)    \
    X(SOFTPLUS, softplus, f_softplus, NULL)          \
    X(SOFTSIGN, softsign, f_softsign, NULL)          \
    X(GELU, gelu, f_gelu, NULL)

#define X(OP, name, on_float, on_int) UNARY_KERNEL(name, on_float, on_int)
UNARY_OPS(X)
#undef X

d2_ref_unary_float_fn d2_ref_unary_float_rule(enum d2_op op)
{
    switch (op) {
#define X(OP, name, on_float, on_int) \
    case D2_OP_##OP:                  \
        return on_float;
        UNARY_OPS(X)
#undef X
    default:
        return NULL;
    }
}

/* ---- identity ------------------------------------------------------------ */

/* A byte copy: works for every dtype. */
enum d2_status d2_cpu_ref_identity(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = NULL;
    enum d2_status st = input0(ctx, &x);
    if (st == D2_OK)
        st = d2_ew_prepare_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st == D2_OK && x->nbytes > 0)
        memcpy(ctx->outputs[0].data, x->data, x->nbytes);
    return st;
}

/* ---- predicates (bool output) --------------------------------------------- */

typedef bool (*predicate_fn)(const struct d2_tensor *x, size_t i, const void *attrs);

static enum d2_status map_predicate(struct d2_kernel_ctx *ctx, predicate_fn test, bool float_only)
{
    const struct d2_tensor *x = NULL;
    struct d2_tensor *y;
    int64_t n;
    enum d2_status st = input0(ctx, &x);
    if (st != D2_OK)
        return st;
    if (float_only ? !d2_dtype_is_float(x->dtype) : x->dtype != D2_DTYPE_BOOL)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(x->dtype));
    st = d2_ew_prepare_output(ctx, 0, D2_DTYPE_BOOL, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    y = &ctx->outputs[0];
    n = d2_tensor_numel(x);
    for (int64_t i = 0; i < n; i++)
        ((uint8_t *)y->data)[i] = test(x, (size_t)i, ctx->node->attrs);
    return D2_OK;
}

static bool p_not(const struct d2_tensor *x, size_t i, const void *a)
{
    (void)a;
    return ((const uint8_t *)x->data)[i] == 0;
}

static bool p_is_nan(const struct d2_tensor *x, size_t i, const void *a)
{
    (void)a;
    return isnan(d2_load_f64(x->data, x->dtype, i));
}

static bool p_is_inf(const struct d2_tensor *x, size_t i, const void *a)
{
    const struct d2_attrs_is_inf *attrs = a;
    double v = d2_load_f64(x->data, x->dtype, i);
    if (!isinf(v))
        return false;
    return v > 0 ? attrs->detect_positive != 0 : attrs->detect_negative != 0;
}

enum d2_status d2_cpu_ref_not(struct d2_kernel_ctx *ctx) { return map_predicate(ctx, p_not, false); }
enum d2_status d2_cpu_ref_is_nan(struct d2_kernel_ctx *ctx) { return map_predicate(ctx, p_is_nan, true); }
enum d2_status d2_cpu_ref_is_inf(struct d2_kernel_ctx *ctx) { return map_predicate(ctx, p_is_inf, true); }

/* ---- cast ------------------------------------------------------------------ */

/* v rounded to float with "round to odd": truncate toward zero, then set the last
 * mantissa bit if anything was lost. Rounding that float to a format with at least
 * two fewer mantissa bits (f16: 11, bf16: 8) then gives the correctly rounded result
 * of v, avoiding the double-rounding error of (float)v followed by a second rounding. */
static float double_to_float_round_odd(double v)
{
    float f = (float)v;
    uint32_t bits;
    if (!isfinite(v) || (double)f == v)
        return f;
    if (fabs((double)f) > fabs(v))
        f = nextafterf(f, 0.0f); /* round toward zero instead */
    memcpy(&bits, &f, sizeof bits);
    bits |= 1u;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element i of x converted to dtype `to` and stored into y. */
static void cast_element(const struct d2_tensor *x, struct d2_tensor *y, size_t i)
{
    enum d2_dtype from = x->dtype, to = y->dtype;
    if (to == D2_DTYPE_BOOL) {
        /* Nonzero (NaN included) is true, as numpy's astype(bool). */
        ((uint8_t *)y->data)[i] = d2_dtype_is_float(from) ? d2_load_f64(x->data, from, i) != 0.0
                                                           : d2_load_i64(x->data, from, i) != 0;
        return;
    }
    if (!d2_dtype_is_float(to)) {
        /* Integer target: floats truncate toward zero (d2_store_f64 saturates NaN and
         * out-of-range values); integers wrap to the target width. */
        if (d2_dtype_is_float(from))
            d2_store_f64(y->data, to, i, d2_load_f64(x->data, from, i));
        else
            d2_store_i64(y->data, to, i, d2_load_i64(x->data, from, i));
        return;
    }
    if (from == D2_DTYPE_I64 || from == D2_DTYPE_U64) {
        /* 64-bit integers round once, straight to the target (going through double
         * first could round twice). */
        int64_t v = d2_load_i64(x->data, from, i);
        switch (to) {
        case D2_DTYPE_F32:
            ((float *)y->data)[i] = from == D2_DTYPE_U64 ? (float)(uint64_t)v : (float)v;
            return;
        case D2_DTYPE_F64:
            ((double *)y->data)[i] = from == D2_DTYPE_U64 ? (double)(uint64_t)v : (double)v;
            return;
        default:
            break; /* f16/bf16: through double below; |v| > 2^53 may round twice (bf16 only, rare) */
        }
    }
    if (to == D2_DTYPE_F16)
        ((uint16_t *)y->data)[i] = d2_f32_to_f16(double_to_float_round_odd(d2_load_f64(x->data, from, i)));
    else if (to == D2_DTYPE_BF16)
        ((uint16_t *)y->data)[i] = d2_f32_to_bf16(double_to_float_round_odd(d2_load_f64(x->data, from, i)));
    else
        d2_store_f64(y->data, to, i, d2_load_f64(x->data, from, i));
}

enum d2_status d2_cpu_ref_cast(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_cast *attrs = ctx->node->attrs;
    const struct d2_tensor *x = NULL;
    struct d2_tensor *y;
    int64_t n;
    enum d2_status st = input0(ctx, &x);
    if (st != D2_OK)
        return st;
    if (attrs->to <= D2_DTYPE_UNDEFINED || attrs->to >= D2_DTYPE_COUNT)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "target dtype %d is not a d2rt dtype", (int)attrs->to);
    st = d2_ew_prepare_output(ctx, 0, attrs->to, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    y = &ctx->outputs[0];
    if (x->dtype == y->dtype) {
        if (x->nbytes > 0)
            memcpy(y->data, x->data, x->nbytes);
        return D2_OK;
    }
    n = d2_tensor_numel(x);
    for (int64_t i = 0; i < n; i++)
        cast_element(x, y, (size_t)i);
    return D2_OK;
}

/* ---- clip ------------------------------------------------------------------ */

/* Optional scalar bound `i` (1: min, 2: max); *present false when omitted. */
static enum d2_status clip_bound(struct d2_kernel_ctx *ctx, uint32_t i, bool *present)
{
    const struct d2_tensor *bound = i < ctx->num_inputs ? ctx->inputs[i] : NULL;
    *present = bound != NULL;
    if (bound && d2_tensor_numel(bound) != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must have one element, it has %lld",
                         i == 1 ? "min" : "max", (long long)d2_tensor_numel(bound));
    if (bound && bound->dtype != ctx->inputs[0]->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s has dtype %s but x has %s", i == 1 ? "min" : "max",
                         d2_dtype_name(bound->dtype), d2_dtype_name(ctx->inputs[0]->dtype));
    return D2_OK;
}

/* y = min(max(x, lo), hi) in that order: with lo > hi every element becomes hi, as
 * numpy's clip and ONNX specify. NaN stays NaN. */
enum d2_status d2_cpu_ref_clip(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = NULL;
    struct d2_tensor *y;
    bool has_lo, has_hi;
    int64_t n;
    enum d2_status st = input0(ctx, &x);
    if (st == D2_OK)
        st = clip_bound(ctx, 1, &has_lo);
    if (st == D2_OK)
        st = clip_bound(ctx, 2, &has_hi);
    if (st != D2_OK)
        return st;
    if (!d2_dtype_is_float(x->dtype) && !d2_dtype_is_integer(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(x->dtype));
    st = d2_ew_prepare_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    y = &ctx->outputs[0];
    n = d2_tensor_numel(x);
    if (d2_dtype_is_float(x->dtype)) {
        double lo = has_lo ? d2_load_f64(ctx->inputs[1]->data, x->dtype, 0) : 0.0;
        double hi = has_hi ? d2_load_f64(ctx->inputs[2]->data, x->dtype, 0) : 0.0;
        for (int64_t i = 0; i < n; i++) {
            double v = d2_load_f64(x->data, x->dtype, (size_t)i);
            if (has_lo && v < lo)
                v = lo;
            if (has_hi && v > hi)
                v = hi;
            d2_store_f64(y->data, y->dtype, (size_t)i, v);
        }
    } else {
        bool is_u64 = x->dtype == D2_DTYPE_U64;
        int64_t lo = has_lo ? d2_load_i64(ctx->inputs[1]->data, x->dtype, 0) : 0;
        int64_t hi = has_hi ? d2_load_i64(ctx->inputs[2]->data, x->dtype, 0) : 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = d2_load_i64(x->data, x->dtype, (size_t)i);
            if (has_lo && d2_ew_compare_int(v, lo, is_u64) < 0)
                v = lo;
            if (has_hi && d2_ew_compare_int(v, hi, is_u64) > 0)
                v = hi;
            d2_store_i64(y->data, y->dtype, (size_t)i, v);
        }
    }
    return D2_OK;
}
