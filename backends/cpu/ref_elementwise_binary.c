/* backends/cpu/ref_elementwise_binary.c: reference CPU kernels of the elementwise
 * binary and variadic ops (ops.def "elementwise binary and variadic"), numpy
 * broadcasting throughout.
 *
 *   arithmetic  add sub mul div mod fmod prelu: output dtype = the inputs' dtype
 *   pow         output dtype = the base's; integer base and integer exponent exact
 *   comparisons equal greater less greater_equal less_equal: bool output
 *   logic       and or xor: bool in, bool out
 *   variadic    max min sum mean: folded left to right, floats rounded to the output
 *               dtype after each step (numpy's order and rounding); NaN propagates
 *               through max/min
 *   where       cond ? a : b, any dtype (a byte copy)
 *
 * Integer rules (see ref_elementwise.h): int64 math, wrapping on overflow. div
 * truncates toward zero; mod takes the divisor's sign (Python %), fmod the dividend's
 * (C %). An integer division or remainder by zero is a D2_ERR_INVALID_ARG error naming
 * the element, never a SIGFPE; INT64_MIN / -1 wraps to INT64_MIN (remainder 0).
 */
#include "ref_elementwise.h"

#include <math.h>
#include <string.h>

/* c = f(a, b) for floats. */
typedef double (*float_binop)(double a, double b);
/* *c = f(a, b) for integers loaded with d2_load_i64; false on division by zero. */
typedef bool (*int_binop)(int64_t a, int64_t b, bool is_u64, int64_t *c);

static enum d2_status check_inputs(struct d2_kernel_ctx *ctx, uint32_t count)
{
    if (ctx->num_inputs < count)
        return d2_errorf(ctx->err, D2_ERR_INTERNAL, "needs %u inputs, got %u", count, ctx->num_inputs);
    for (uint32_t i = 0; i < count; i++)
        if (!ctx->inputs[i])
            return d2_errorf(ctx->err, D2_ERR_INTERNAL, "input %u is missing", i);
    return D2_OK;
}

/* Output 0 = broadcast of the first `count` inputs, with dtype `dtype`. */
static enum d2_status prepare_broadcast_output(struct d2_kernel_ctx *ctx, uint32_t count, enum d2_dtype dtype)
{
    int32_t rank;
    int64_t dims[D2_MAX_RANK];
    enum d2_status st = check_inputs(ctx, count);
    if (st == D2_OK)
        st = d2_ew_broadcast_shape(ctx, count, ctx->inputs, &rank, dims);
    if (st == D2_OK)
        st = d2_ew_prepare_output(ctx, 0, dtype, rank, dims);
    return st;
}

static enum d2_status same_dtype(struct d2_kernel_ctx *ctx, uint32_t first, uint32_t count)
{
    for (uint32_t i = first + 1; i < first + count; i++)
        if (ctx->inputs[i]->dtype != ctx->inputs[first]->dtype)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "inputs %u (%s) and %u (%s) have different dtypes",
                             first, d2_dtype_name(ctx->inputs[first]->dtype), i,
                             d2_dtype_name(ctx->inputs[i]->dtype));
    return D2_OK;
}

static enum d2_status division_by_zero(struct d2_kernel_ctx *ctx, int64_t element)
{
    return d2_errorf(ctx->err, D2_ERR_INVALID_ARG, "integer division by zero at output element %lld",
                     (long long)element);
}

/* c = a op b with a and b of one dtype; the output has that dtype. */
static enum d2_status map_binary(struct d2_kernel_ctx *ctx, float_binop on_float, int_binop on_int)
{
    const struct d2_tensor *a, *b;
    struct d2_tensor *c;
    int64_t n;
    enum d2_status st = check_inputs(ctx, 2);
    if (st == D2_OK)
        st = same_dtype(ctx, 0, 2);
    if (st != D2_OK)
        return st;
    a = ctx->inputs[0];
    b = ctx->inputs[1];
    if (!d2_dtype_is_float(a->dtype) && !d2_dtype_is_integer(a->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(a->dtype));
    st = prepare_broadcast_output(ctx, 2, a->dtype);
    if (st != D2_OK)
        return st;
    c = &ctx->outputs[0];
    n = d2_tensor_numel(c);
    if (d2_dtype_is_float(a->dtype)) {
        for (int64_t i = 0; i < n; i++) {
            double va = d2_load_f64(a->data, a->dtype, d2_ew_src_index(a, c, i));
            double vb = d2_load_f64(b->data, b->dtype, d2_ew_src_index(b, c, i));
            d2_store_f64(c->data, c->dtype, (size_t)i, on_float(va, vb));
        }
    } else {
        bool is_u64 = a->dtype == D2_DTYPE_U64;
        for (int64_t i = 0; i < n; i++) {
            int64_t va = d2_load_i64(a->data, a->dtype, d2_ew_src_index(a, c, i));
            int64_t vb = d2_load_i64(b->data, b->dtype, d2_ew_src_index(b, c, i));
            int64_t vc;
            if (!on_int(va, vb, is_u64, &vc))
                return division_by_zero(ctx, i);
            d2_store_i64(c->data, c->dtype, (size_t)i, vc);
        }
    }
    return D2_OK;
}

#define BINARY_KERNEL(name, on_float, on_int)                         \
    enum d2_status d2_cpu_ref_##name(struct d2_kernel_ctx *ctx)      \
    {                                                                 \
        return map_binary(ctx, on_float, on_int);                     \
    }

/* ---- arithmetic rules ----------------------------------------------------- */

static double f_add(double a, double b) { return a + b; }
static double f_sub(double a, double b) { return a - b; }
static double f_mul(double a, double b) { return a * b; }
static double f_div(double a, double b) { return a / b; }
static double f_fmod(double a, double b) { return fmod(a, b); }

/* Python's float %: fmod, shifted into the divisor's sign; a zero result takes the
 * divisor's sign too (numpy's np.mod). */
static double f_mod(double a, double b)
{
    double r = fmod(a, b);
    if (r == 0.0)
        return copysign(0.0, b);
    if ((r < 0) != (b < 0))
        r += b;
    return r;
}

static double f_prelu(double x, double slope) { return x < 0 ? slope * x : x; }

static bool i_add(int64_t a, int64_t b, bool u, int64_t *c) { (void)u; *c = d2_ew_wrap_add(a, b); return true; }
static bool i_sub(int64_t a, int64_t b, bool u, int64_t *c) { (void)u; *c = d2_ew_wrap_sub(a, b); return true; }
static bool i_mul(int64_t a, int64_t b, bool u, int64_t *c) { (void)u; *c = d2_ew_wrap_mul(a, b); return true; }

static bool i_prelu(int64_t x, int64_t slope, bool u, int64_t *c)
{
    *c = u || x >= 0 ? x : d2_ew_wrap_mul(slope, x);
    return true;
}

/* Truncating division; INT64_MIN / -1 would trap, its wrapped result is INT64_MIN. */
static bool i_div(int64_t a, int64_t b, bool is_u64, int64_t *c)
{
    if (b == 0)
        return false;
    if (is_u64)
        *c = (int64_t)((uint64_t)a / (uint64_t)b);
    else if (b == -1)
        *c = d2_ew_wrap_sub(0, a);
    else
        *c = a / b;
    return true;
}

/* C remainder (sign of the dividend). x % -1 is 0 (and INT64_MIN % -1 would trap). */
static bool i_fmod(int64_t a, int64_t b, bool is_u64, int64_t *c)
{
    if (b == 0)
        return false;
    if (is_u64)
        *c = (int64_t)((uint64_t)a % (uint64_t)b);
    else if (b == -1)
        *c = 0;
    else
        *c = a % b;
    return true;
}

/* Python remainder (sign of the divisor). */
static bool i_mod(int64_t a, int64_t b, bool is_u64, int64_t *c)
{
    int64_t r;
    if (!i_fmod(a, b, is_u64, &r))
        return false;
    if (!is_u64 && r != 0 && (r < 0) != (b < 0))
        r += b; /* |r| < |b| and opposite signs: cannot overflow */
    *c = r;
    return true;
}

BINARY_KERNEL(add, f_add, i_add)
BINARY_KERNEL(sub, f_sub, i_sub)
BINARY_KERNEL(mul, f_mul, i_mul)
BINARY_KERNEL(div, f_div, i_div)
BINARY_KERNEL(mod, f_mod, i_mod)
BINARY_KERNEL(fmod, f_fmod, i_fmod)
BINARY_KERNEL(prelu, f_prelu, i_prelu)

/* ---- pow ----------------------------------------------------------------------- */

/* Exact integer power with wrapping, by repeated squaring. A negative exponent gives
 * the truncated value of 1/base^-e: 1 for base 1, +-1 for base -1, 0 otherwise. */
static int64_t int_pow(int64_t base, bool base_u64, uint64_t exponent, bool exponent_negative)
{
    uint64_t result = 1, square = (uint64_t)base;
    if (exponent_negative) {
        if (base == 1)
            return 1;
        if (base == -1 && !base_u64)
            return (exponent & 1) ? -1 : 1;
        return 0;
    }
    while (exponent) {
        if (exponent & 1)
            result *= square;
        square *= square;
        exponent >>= 1;
    }
    return (int64_t)result;
}

enum d2_status d2_cpu_ref_pow(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *a, *b;
    struct d2_tensor *c;
    int64_t n;
    enum d2_status st = check_inputs(ctx, 2);
    if (st != D2_OK)
        return st;
    a = ctx->inputs[0];
    b = ctx->inputs[1];
    if (!(d2_dtype_is_float(a->dtype) || d2_dtype_is_integer(a->dtype)) ||
        !(d2_dtype_is_float(b->dtype) || d2_dtype_is_integer(b->dtype)))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtypes %s ^ %s are not supported",
                         d2_dtype_name(a->dtype), d2_dtype_name(b->dtype));
    st = prepare_broadcast_output(ctx, 2, a->dtype);
    if (st != D2_OK)
        return st;
    c = &ctx->outputs[0];
    n = d2_tensor_numel(c);
    for (int64_t i = 0; i < n; i++) {
        size_t ia = d2_ew_src_index(a, c, i), ib = d2_ew_src_index(b, c, i);
        if (d2_dtype_is_integer(a->dtype) && d2_dtype_is_integer(b->dtype)) {
            int64_t base = d2_load_i64(a->data, a->dtype, ia);
            int64_t e = d2_load_i64(b->data, b->dtype, ib);
            bool negative = b->dtype != D2_DTYPE_U64 && e < 0;
            uint64_t magnitude = negative ? 0 - (uint64_t)e : (uint64_t)e;
            d2_store_i64(c->data, c->dtype, (size_t)i,
                         int_pow(base, a->dtype == D2_DTYPE_U64, magnitude, negative));
        } else {
            /* A float on either side: double pow; an integer base truncates the result. */
            double base = d2_load_f64(a->data, a->dtype, ia);
            double e = d2_load_f64(b->data, b->dtype, ib);
            d2_store_f64(c->data, c->dtype, (size_t)i, pow(base, e));
        }
    }
    return D2_OK;
}

/* ---- comparisons and logic (bool output) ----------------------------------------- */

enum compare_kind { CMP_EQUAL, CMP_GREATER, CMP_LESS, CMP_GREATER_EQUAL, CMP_LESS_EQUAL };

/* Float comparisons follow IEEE: anything compared with NaN is false. */
static bool compare_float(double a, double b, enum compare_kind kind)
{
    switch (kind) {
    case CMP_EQUAL: return a == b;
    case CMP_GREATER: return a > b;
    case CMP_LESS: return a < b;
    case CMP_GREATER_EQUAL: return a >= b;
    case CMP_LESS_EQUAL: return a <= b;
    }
    return false;
}

static bool compare_int(int64_t a, int64_t b, bool is_u64, enum compare_kind kind)
{
    int order = d2_ew_compare_int(a, b, is_u64);
    switch (kind) {
    case CMP_EQUAL: return order == 0;
    case CMP_GREATER: return order > 0;
    case CMP_LESS: return order < 0;
    case CMP_GREATER_EQUAL: return order >= 0;
    case CMP_LESS_EQUAL: return order <= 0;
    }
    return false;
}

static enum d2_status map_compare(struct d2_kernel_ctx *ctx, enum compare_kind kind)
{
    const struct d2_tensor *a, *b;
    struct d2_tensor *c;
    int64_t n;
    bool as_float, is_u64;
    enum d2_status st = check_inputs(ctx, 2);
    if (st == D2_OK)
        st = same_dtype(ctx, 0, 2);
    if (st == D2_OK)
        st = prepare_broadcast_output(ctx, 2, D2_DTYPE_BOOL);
    if (st != D2_OK)
        return st;
    a = ctx->inputs[0];
    b = ctx->inputs[1];
    c = &ctx->outputs[0];
    n = d2_tensor_numel(c);
    as_float = d2_dtype_is_float(a->dtype);
    is_u64 = a->dtype == D2_DTYPE_U64;
    for (int64_t i = 0; i < n; i++) {
        size_t ia = d2_ew_src_index(a, c, i), ib = d2_ew_src_index(b, c, i);
        bool r = as_float ? compare_float(d2_load_f64(a->data, a->dtype, ia), d2_load_f64(b->data, b->dtype, ib), kind)
                          : compare_int(d2_load_i64(a->data, a->dtype, ia), d2_load_i64(b->data, b->dtype, ib),
                                        is_u64, kind);
        ((uint8_t *)c->data)[i] = r;
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_equal(struct d2_kernel_ctx *ctx) { return map_compare(ctx, CMP_EQUAL); }
enum d2_status d2_cpu_ref_greater(struct d2_kernel_ctx *ctx) { return map_compare(ctx, CMP_GREATER); }
enum d2_status d2_cpu_ref_less(struct d2_kernel_ctx *ctx) { return map_compare(ctx, CMP_LESS); }
enum d2_status d2_cpu_ref_greater_equal(struct d2_kernel_ctx *ctx) { return map_compare(ctx, CMP_GREATER_EQUAL); }
enum d2_status d2_cpu_ref_less_equal(struct d2_kernel_ctx *ctx) { return map_compare(ctx, CMP_LESS_EQUAL); }

enum logic_kind { LOGIC_AND, LOGIC_OR, LOGIC_XOR };

static enum d2_status map_logic(struct d2_kernel_ctx *ctx, enum logic_kind kind)
{
    const struct d2_tensor *a, *b;
    struct d2_tensor *c;
    int64_t n;
    enum d2_status st = check_inputs(ctx, 2);
    if (st == D2_OK)
        st = prepare_broadcast_output(ctx, 2, D2_DTYPE_BOOL);
    if (st != D2_OK)
        return st;
    a = ctx->inputs[0];
    b = ctx->inputs[1];
    c = &ctx->outputs[0];
    n = d2_tensor_numel(c);
    for (int64_t i = 0; i < n; i++) {
        /* Nonzero is true, whatever the input dtype. */
        bool va = d2_load_f64(a->data, a->dtype, d2_ew_src_index(a, c, i)) != 0.0;
        bool vb = d2_load_f64(b->data, b->dtype, d2_ew_src_index(b, c, i)) != 0.0;
        ((uint8_t *)c->data)[i] = kind == LOGIC_AND ? (va && vb) : kind == LOGIC_OR ? (va || vb) : (va != vb);
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_and(struct d2_kernel_ctx *ctx) { return map_logic(ctx, LOGIC_AND); }
enum d2_status d2_cpu_ref_or(struct d2_kernel_ctx *ctx) { return map_logic(ctx, LOGIC_OR); }
enum d2_status d2_cpu_ref_xor(struct d2_kernel_ctx *ctx) { return map_logic(ctx, LOGIC_XOR); }

/* ---- variadic: max min sum mean -------------------------------------------------- */

enum fold_kind { FOLD_MAX, FOLD_MIN, FOLD_SUM, FOLD_MEAN };

static double fold_float(double acc, double v, enum fold_kind kind)
{
    switch (kind) {
    case FOLD_MAX: return isnan(acc) || isnan(v) ? NAN : acc >= v ? acc : v;
    case FOLD_MIN: return isnan(acc) || isnan(v) ? NAN : acc <= v ? acc : v;
    case FOLD_SUM:
    case FOLD_MEAN: return acc + v;
    }
    return acc;
}

static int64_t fold_int(int64_t acc, int64_t v, bool is_u64, enum fold_kind kind)
{
    switch (kind) {
    case FOLD_MAX: return d2_ew_compare_int(acc, v, is_u64) >= 0 ? acc : v;
    case FOLD_MIN: return d2_ew_compare_int(acc, v, is_u64) <= 0 ? acc : v;
    case FOLD_SUM:
    case FOLD_MEAN: return d2_ew_wrap_add(acc, v);
    }
    return acc;
}

static enum d2_status map_fold(struct d2_kernel_ctx *ctx, enum fold_kind kind)
{
    uint32_t count = ctx->num_inputs;
    enum d2_dtype dtype;
    struct d2_tensor *c;
    int64_t n;
    enum d2_status st;
    if (count == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "needs at least one input");
    st = check_inputs(ctx, count);
    if (st == D2_OK)
        st = same_dtype(ctx, 0, count);
    if (st != D2_OK)
        return st;
    dtype = ctx->inputs[0]->dtype;
    if (!d2_dtype_is_float(dtype) && (kind == FOLD_MEAN || !d2_dtype_is_integer(dtype)))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "dtype %s is not supported", d2_dtype_name(dtype));
    st = prepare_broadcast_output(ctx, count, dtype);
    if (st != D2_OK)
        return st;
    c = &ctx->outputs[0];
    n = d2_tensor_numel(c);
    for (int64_t i = 0; i < n; i++) {
        if (d2_dtype_is_float(dtype)) {
            double acc = d2_load_f64(ctx->inputs[0]->data, dtype, d2_ew_src_index(ctx->inputs[0], c, i));
            for (uint32_t k = 1; k < count; k++) {
                const struct d2_tensor *in = ctx->inputs[k];
                double v = d2_load_f64(in->data, dtype, d2_ew_src_index(in, c, i));
                acc = d2_ew_round_to(dtype, fold_float(acc, v, kind));
            }
            if (kind == FOLD_MEAN)
                acc /= (double)count;
            d2_store_f64(c->data, dtype, (size_t)i, acc);
        } else {
            bool is_u64 = dtype == D2_DTYPE_U64;
            int64_t acc = d2_load_i64(ctx->inputs[0]->data, dtype, d2_ew_src_index(ctx->inputs[0], c, i));
            for (uint32_t k = 1; k < count; k++) {
                const struct d2_tensor *in = ctx->inputs[k];
                acc = fold_int(acc, d2_load_i64(in->data, dtype, d2_ew_src_index(in, c, i)), is_u64, kind);
            }
            d2_store_i64(c->data, dtype, (size_t)i, acc);
        }
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_max(struct d2_kernel_ctx *ctx) { return map_fold(ctx, FOLD_MAX); }
enum d2_status d2_cpu_ref_min(struct d2_kernel_ctx *ctx) { return map_fold(ctx, FOLD_MIN); }
enum d2_status d2_cpu_ref_sum(struct d2_kernel_ctx *ctx) { return map_fold(ctx, FOLD_SUM); }
enum d2_status d2_cpu_ref_mean(struct d2_kernel_ctx *ctx) { return map_fold(ctx, FOLD_MEAN); }

/* ---- where ----------------------------------------------------------------------- */

enum d2_status d2_cpu_ref_where(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *cond, *a, *b;
    struct d2_tensor *c;
    size_t esize;
    int64_t n;
    enum d2_status st = check_inputs(ctx, 3);
    if (st == D2_OK)
        st = same_dtype(ctx, 1, 2);
    if (st == D2_OK)
        st = prepare_broadcast_output(ctx, 3, ctx->inputs[1]->dtype);
    if (st != D2_OK)
        return st;
    cond = ctx->inputs[0];
    a = ctx->inputs[1];
    b = ctx->inputs[2];
    c = &ctx->outputs[0];
    esize = d2_dtype_size(c->dtype);
    n = d2_tensor_numel(c);
    for (int64_t i = 0; i < n; i++) {
        bool take_a = d2_load_i64(cond->data, cond->dtype, d2_ew_src_index(cond, c, i)) != 0;
        const struct d2_tensor *src = take_a ? a : b;
        memcpy((char *)c->data + (size_t)i * esize, (const char *)src->data + d2_ew_src_index(src, c, i) * esize,
               esize);
    }
    return D2_OK;
}
