/* backends/cpu/ref_reduce.c: reference kernels of the ten reduce_* ops.
 *
 * reduce_<kind>(x, axes?) {keepdims, noop_with_empty_axes} reduces x over the listed
 * axes (all axes when axes is absent or empty, unless noop_with_empty_axes, which
 * makes the op the identity). The axis rules are the shape function's
 * (ir/shape_reduce.c); the output arrives allocated with the shape it computed.
 *
 * Arithmetic:
 *   - floats (f32, f16, bf16, f64) accumulate in double and round once at the end;
 *     max/min propagate NaN (numpy's np.max/np.min);
 *   - integers: sum, prod, l1, sum_square, max and min are exact in 64-bit integer
 *     arithmetic that wraps (numpy's behaviour); mean, l2, log_sum and log_sum_exp go
 *     through double and convert back truncating toward zero (mean of [1, 2] is 1);
 *   - bool is accepted by max and min only (ONNX opset 20).
 * Empty reductions (a reduced axis of size 0) give ONNX's identities: sum, l1, l2,
 * sum_square 0; prod 1; mean NaN (0/0); log_sum and log_sum_exp -inf; max the lowest
 * value of the dtype (-inf for floats), min the highest (+inf). */
#include "cpu.h"

#include <math.h>
#include <string.h>

/* Kernels of this file (the table in ref_table.c finds them by name). */
enum d2_status d2_cpu_ref_reduce_max(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_min(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_sum(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_mean(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_prod(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_l1(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_l2(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_sum_square(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_log_sum(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_reduce_log_sum_exp(struct d2_kernel_ctx *ctx);


enum reduce_kind {
    REDUCE_MAX, REDUCE_MIN, REDUCE_SUM, REDUCE_MEAN, REDUCE_PROD,
    REDUCE_L1, REDUCE_L2, REDUCE_SUM_SQUARE, REDUCE_LOG_SUM, REDUCE_LOG_SUM_EXP,
};

/* Make output i a tensor of dtype/rank/dims, reusing the executor's storage when it
 * already has that shape. */
static enum d2_status ensure_output(struct d2_kernel_ctx *ctx, uint32_t i, enum d2_dtype dtype,
                                    int32_t rank, const int64_t *dims)
{
    struct d2_tensor *o = &ctx->outputs[i];
    bool same = o->dtype == dtype && o->rank == rank && (o->data || d2_dims_numel(rank, dims) == 0);
    for (int32_t d = 0; same && d < rank; d++)
        same = o->dims[d] == dims[d];
    return same ? D2_OK : d2_kernel_alloc_output(ctx, i, dtype, rank, dims);
}

static bool is_unsigned_int(enum d2_dtype t)
{
    return t == D2_DTYPE_U8 || t == D2_DTYPE_U16 || t == D2_DTYPE_U32 || t == D2_DTYPE_U64;
}

/* a > b for integers of dtype t loaded with d2_load_i64 (u64 needs unsigned compare). */
static bool int_greater(int64_t a, int64_t b, enum d2_dtype t)
{
    return t == D2_DTYPE_U64 ? (uint64_t)a > (uint64_t)b : a > b;
}

/* The lowest (or highest) value of integer dtype t, as d2_store_i64 expects it. */
static int64_t int_extreme(enum d2_dtype t, bool highest)
{
    switch (t) {
    case D2_DTYPE_I8: return highest ? INT8_MAX : INT8_MIN;
    case D2_DTYPE_I16: return highest ? INT16_MAX : INT16_MIN;
    case D2_DTYPE_I32: return highest ? INT32_MAX : INT32_MIN;
    case D2_DTYPE_I64: return highest ? INT64_MAX : INT64_MIN;
    case D2_DTYPE_U8: return highest ? UINT8_MAX : 0;
    case D2_DTYPE_U16: return highest ? UINT16_MAX : 0;
    case D2_DTYPE_U32: return highest ? (int64_t)UINT32_MAX : 0;
    case D2_DTYPE_U64: return highest ? -1 /* wraps to UINT64_MAX */ : 0;
    default: return highest ? 1 : 0; /* bool */
    }
}

/* Does this kind use exact 64-bit integer arithmetic on integer inputs? */
static bool kind_is_exact_integer(enum reduce_kind kind)
{
    return kind == REDUCE_MAX || kind == REDUCE_MIN || kind == REDUCE_SUM || kind == REDUCE_PROD ||
           kind == REDUCE_L1 || kind == REDUCE_SUM_SQUARE;
}

/* Reduce the elements at the given offsets of x (floating path). */
static double reduce_float(const struct d2_tensor *x, enum reduce_kind kind, const int64_t *offsets,
                           int64_t count)
{
    double acc, peak = -INFINITY;
    switch (kind) {
    case REDUCE_MAX: acc = -INFINITY; break;
    case REDUCE_MIN: acc = INFINITY; break;
    case REDUCE_PROD: acc = 1.0; break;
    default: acc = 0.0; break;
    }
    if (kind == REDUCE_LOG_SUM_EXP) {
        /* log(sum e^x) = m + log(sum e^(x-m)) with m = max x, which cannot overflow. */
        for (int64_t i = 0; i < count; i++) {
            double v = d2_load_f64(x->data, x->dtype, (size_t)offsets[i]);
            if (v > peak || isnan(v))
                peak = v;
        }
        if (isnan(peak) || isinf(peak))
            return peak; /* NaN, +inf, or -inf for an empty or all -inf set */
    }
    for (int64_t i = 0; i < count; i++) {
        double v = d2_load_f64(x->data, x->dtype, (size_t)offsets[i]);
        switch (kind) {
        case REDUCE_MAX: if (v > acc || isnan(v)) acc = isnan(acc) ? acc : v; break;
        case REDUCE_MIN: if (v < acc || isnan(v)) acc = isnan(acc) ? acc : v; break;
        case REDUCE_SUM: case REDUCE_MEAN: case REDUCE_LOG_SUM: acc += v; break;
        case REDUCE_PROD: acc *= v; break;
        case REDUCE_L1: acc += fabs(v); break;
        case REDUCE_L2: case REDUCE_SUM_SQUARE: acc += v * v; break;
        case REDUCE_LOG_SUM_EXP: acc += exp(v - peak); break;
        }
    }
    switch (kind) {
    case REDUCE_MEAN: return acc / (double)count;
    case REDUCE_L2: return sqrt(acc);
    case REDUCE_LOG_SUM: return log(acc);
    case REDUCE_LOG_SUM_EXP: return peak + log(acc);
    default: return acc;
    }
}

/* Exact integer path (kind_is_exact_integer). Arithmetic wraps modulo 2^64 through
 * uint64_t, so it is defined for every input; narrowing at the store wraps too. */
static int64_t reduce_int(const struct d2_tensor *x, enum reduce_kind kind, const int64_t *offsets,
                          int64_t count)
{
    enum d2_dtype t = x->dtype;
    uint64_t acc = kind == REDUCE_PROD ? 1u : 0u;
    if (kind == REDUCE_MAX || kind == REDUCE_MIN) {
        if (count == 0)
            return int_extreme(t, kind == REDUCE_MIN);
        int64_t best = d2_load_i64(x->data, t, (size_t)offsets[0]);
        for (int64_t i = 1; i < count; i++) {
            int64_t v = d2_load_i64(x->data, t, (size_t)offsets[i]);
            if (kind == REDUCE_MAX ? int_greater(v, best, t) : int_greater(best, v, t))
                best = v;
        }
        return best;
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t v = d2_load_i64(x->data, t, (size_t)offsets[i]);
        uint64_t u = (uint64_t)v;
        switch (kind) {
        case REDUCE_SUM: acc += u; break;
        case REDUCE_PROD: acc *= u; break;
        case REDUCE_L1: acc += (v < 0 && !is_unsigned_int(t)) ? 0u - u : u; break;
        case REDUCE_SUM_SQUARE: acc += u * u; break;
        default: break;
        }
    }
    return (int64_t)acc;
}

/* Which axes to reduce, from the optional axes input; the shape function already
 * validated them, but the kernel re-checks rather than trusting a caller. */
static enum d2_status reduced_axes(struct d2_kernel_ctx *ctx, int32_t rank, bool *mask, bool *identity)
{
    const struct d2_attrs_reduce *a = ctx->node->attrs;
    const struct d2_tensor *axes = ctx->num_inputs > 1 ? ctx->inputs[1] : NULL;
    int64_t count = axes ? d2_tensor_numel(axes) : 0;
    *identity = false;
    if (count == 0) {
        *identity = a->noop_with_empty_axes != 0;
        for (int32_t i = 0; i < rank; i++)
            mask[i] = !*identity;
        return D2_OK;
    }
    for (int32_t i = 0; i < rank; i++)
        mask[i] = false;
    for (int64_t i = 0; i < count; i++) {
        int64_t axis = d2_load_i64(axes->data, axes->dtype, (size_t)i), norm;
        if (!d2_normalize_axis(axis, rank, &norm) || mask[norm])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (%s): bad or repeated axis %lld for rank %d",
                             ctx->node->name, d2_op_name(ctx->node->op), (long long)axis, (int)rank);
        mask[norm] = true;
    }
    return D2_OK;
}

static enum d2_status run_reduce(struct d2_kernel_ctx *ctx, enum reduce_kind kind)
{
    const struct d2_attrs_reduce *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    enum d2_dtype t = x->dtype;
    bool mask[D2_MAX_RANK], identity;
    int32_t kept[D2_MAX_RANK], red[D2_MAX_RANK], nk = 0, nr = 0, out_rank = 0;
    int64_t out_dims[D2_MAX_RANK], strides[D2_MAX_RANK];
    int64_t out_count = 1, red_count = 1;
    enum d2_status st;

    if (t == D2_DTYPE_BOOL && kind != REDUCE_MAX && kind != REDUCE_MIN)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "node '%s' (%s): bool input is only allowed for max and min",
                         ctx->node->name, d2_op_name(ctx->node->op));
    st = reduced_axes(ctx, x->rank, mask, &identity);
    if (st != D2_OK)
        return st;
    if (identity) {
        st = ensure_output(ctx, 0, t, x->rank, x->dims);
        if (st == D2_OK && x->nbytes)
            memcpy(ctx->outputs[0].data, x->data, x->nbytes);
        return st;
    }
    for (int32_t i = 0; i < x->rank; i++) {
        if (mask[i]) {
            red[nr++] = i;
            red_count *= x->dims[i];
            if (a->keepdims)
                out_dims[out_rank++] = 1;
        } else {
            kept[nk++] = i;
            out_count *= x->dims[i];
            out_dims[out_rank++] = x->dims[i];
        }
    }
    st = ensure_output(ctx, 0, t, out_rank, out_dims);
    if (st != D2_OK || out_count == 0)
        return st;

    int64_t *offsets = d2_alloc(ctx->alloc, (size_t)(red_count > 0 ? red_count : 1) * sizeof *offsets);
    if (!offsets)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "node '%s' (%s): out of memory", ctx->node->name,
                         d2_op_name(ctx->node->op));
    d2_strides(x->rank, x->dims, strides);
    /* Offsets of the reduced sub-block relative to its first element: the same for
     * every output element. */
    for (int64_t r = 0; r < red_count; r++) {
        int64_t rem = r, off = 0;
        for (int32_t j = nr - 1; j >= 0; j--) {
            off += (rem % x->dims[red[j]]) * strides[red[j]];
            rem /= x->dims[red[j]];
        }
        offsets[r] = off;
    }
    bool exact_int = !d2_dtype_is_float(t) && kind_is_exact_integer(kind);
    for (int64_t o = 0; o < out_count; o++) {
        int64_t rem = o, base = 0;
        for (int32_t j = nk - 1; j >= 0; j--) {
            base += (rem % x->dims[kept[j]]) * strides[kept[j]];
            rem /= x->dims[kept[j]];
        }
        for (int64_t r = 0; r < red_count; r++)
            offsets[r] += base;
        if (exact_int)
            d2_store_i64(ctx->outputs[0].data, t, (size_t)o, reduce_int(x, kind, offsets, red_count));
        else
            d2_store_f64(ctx->outputs[0].data, t, (size_t)o, reduce_float(x, kind, offsets, red_count));
        for (int64_t r = 0; r < red_count; r++)
            offsets[r] -= base;
    }
    d2_free(ctx->alloc, offsets);
    return D2_OK;
}

enum d2_status d2_cpu_ref_reduce_max(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_MAX); }
enum d2_status d2_cpu_ref_reduce_min(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_MIN); }
enum d2_status d2_cpu_ref_reduce_sum(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_SUM); }
enum d2_status d2_cpu_ref_reduce_mean(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_MEAN); }
enum d2_status d2_cpu_ref_reduce_prod(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_PROD); }
enum d2_status d2_cpu_ref_reduce_l1(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_L1); }
enum d2_status d2_cpu_ref_reduce_l2(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_L2); }
enum d2_status d2_cpu_ref_reduce_sum_square(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_SUM_SQUARE); }
enum d2_status d2_cpu_ref_reduce_log_sum(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_LOG_SUM); }
enum d2_status d2_cpu_ref_reduce_log_sum_exp(struct d2_kernel_ctx *ctx) { return run_reduce(ctx, REDUCE_LOG_SUM_EXP); }
