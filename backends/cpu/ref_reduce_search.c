/* backends/cpu/ref_reduce_search.c: reference kernels of argmax, argmin, topk,
 * non_zero and cum_sum.
 *
 * Ordering of elements (argmax/argmin/topk) is numpy's: NaN compares equal to NaN and
 * greater than every number. Consequences, all deliberate:
 *   - argmax returns the first NaN when there is one (numpy's argmax); argmin also
 *     returns the first NaN (numpy's argmin: NaN propagates in both);
 *     select_last_index picks the last of the equal candidates instead;
 *   - topk largest puts NaNs first, topk smallest puts them last (numpy argsort);
 *   - ties keep index order (lower index first) in both directions: the sort is a
 *     stable merge sort. sorted=0 still returns sorted results (ONNX allows any order).
 * Integers compare exactly (u64 as unsigned).
 * non_zero of a scalar is treated as a 1-element vector: i64 [1, n].
 * cum_sum accumulates floats in double and integers in wrapping 64-bit arithmetic. */
#include "cpu.h"

#include <math.h>
#include <string.h>

/* Kernels of this file (the table in ref_table.c finds them by name). */
enum d2_status d2_cpu_ref_argmax(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_argmin(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_topk(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_non_zero(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_cum_sum(struct d2_kernel_ctx *ctx);


static enum d2_status ensure_output(struct d2_kernel_ctx *ctx, uint32_t i, enum d2_dtype dtype,
                                    int32_t rank, const int64_t *dims)
{
    struct d2_tensor *o = &ctx->outputs[i];
    bool same = o->dtype == dtype && o->rank == rank && (o->data || d2_dims_numel(rank, dims) == 0);
    for (int32_t d = 0; same && d < rank; d++)
        same = o->dims[d] == dims[d];
    return same ? D2_OK : d2_kernel_alloc_output(ctx, i, dtype, rank, dims);
}

static enum d2_status oom(struct d2_kernel_ctx *ctx)
{
    return d2_errorf(ctx->err, D2_ERR_NOMEM, "node '%s' (%s): out of memory", ctx->node->name,
                     d2_op_name(ctx->node->op));
}

/* -1, 0, 1 as element i of x is less than, equal to, greater than element j.
 * NaN equals NaN and is greater than any number. */
static int compare_elements(const struct d2_tensor *x, size_t i, size_t j)
{
    enum d2_dtype t = x->dtype;
    if (d2_dtype_is_float(t)) {
        double a = d2_load_f64(x->data, t, i), b = d2_load_f64(x->data, t, j);
        if (isnan(a) || isnan(b))
            return (int)isnan(a) - (int)isnan(b);
        return (a > b) - (a < b);
    }
    int64_t a = d2_load_i64(x->data, t, i), b = d2_load_i64(x->data, t, j);
    if (t == D2_DTYPE_U64)
        return ((uint64_t)a > (uint64_t)b) - ((uint64_t)a < (uint64_t)b);
    return (a > b) - (a < b);
}

static bool element_is_nan(const struct d2_tensor *x, size_t i)
{
    return d2_dtype_is_float(x->dtype) && isnan(d2_load_f64(x->data, x->dtype, i));
}

/* Split dims around axis: outer * len * inner elements. */
static void split_at_axis(const struct d2_tensor *x, int64_t axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int64_t i = 0; i < axis; i++)
        *outer *= x->dims[i];
    for (int64_t i = axis + 1; i < x->rank; i++)
        *inner *= x->dims[i];
    *len = x->rank > 0 ? x->dims[axis] : 1;
}

/* ---- argmax / argmin ------------------------------------------------------ */

static enum d2_status run_arg_reduce(struct d2_kernel_ctx *ctx, bool want_max)
{
    const struct d2_attrs_arg_reduce *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t axis, outer, len, inner, dims[D2_MAX_RANK];
    int32_t rank = 0;
    enum d2_status st;

    if (x->dtype == D2_DTYPE_BOOL)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "node '%s' (%s): bool input", ctx->node->name,
                         d2_op_name(ctx->node->op));
    if (!d2_normalize_axis(a->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (%s): axis %lld out of range for rank %d",
                         ctx->node->name, d2_op_name(ctx->node->op), (long long)a->axis, (int)x->rank);
    split_at_axis(x, axis, &outer, &len, &inner);
    for (int32_t i = 0; i < x->rank; i++) {
        if (i != axis)
            dims[rank++] = x->dims[i];
        else if (a->keepdims)
            dims[rank++] = 1;
    }
    st = ensure_output(ctx, 0, D2_DTYPE_I64, rank, dims);
    if (st != D2_OK || outer * inner == 0)
        return st;
    if (len == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (%s): axis %lld has size 0", ctx->node->name,
                         d2_op_name(ctx->node->op), (long long)axis);
    int64_t *out = ctx->outputs[0].data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            size_t base = (size_t)(o * len * inner + i);
            int64_t best = 0;
            for (int64_t k = 1; k < len; k++) {
                size_t cand = base + (size_t)(k * inner), cur = base + (size_t)(best * inner);
                int c;
                /* NaN wins in both directions (numpy), so treat it as the extreme. */
                if (element_is_nan(x, cand) || element_is_nan(x, cur))
                    c = (int)element_is_nan(x, cand) - (int)element_is_nan(x, cur);
                else
                    c = want_max ? compare_elements(x, cand, cur) : compare_elements(x, cur, cand);
                if (c > 0 || (c == 0 && a->select_last_index))
                    best = k;
            }
            out[o * inner + i] = best;
        }
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_argmax(struct d2_kernel_ctx *ctx) { return run_arg_reduce(ctx, true); }
enum d2_status d2_cpu_ref_argmin(struct d2_kernel_ctx *ctx) { return run_arg_reduce(ctx, false); }

/* ---- topk ------------------------------------------------------------------ */

struct topk_order {
    const struct d2_tensor *x;
    size_t base;     /* flat index of element 0 of the slice */
    int64_t stride;  /* distance between consecutive slice elements */
    bool largest;
};

/* Does slice element a come strictly before element b? */
static bool topk_before(const struct topk_order *ord, int64_t a, int64_t b)
{
    int c = compare_elements(ord->x, ord->base + (size_t)(a * ord->stride), ord->base + (size_t)(b * ord->stride));
    return ord->largest ? c > 0 : c < 0;
}

/* Stable merge sort of idx[0..n) (scratch has room for n). Equal elements keep
 * their input order, which is the lower-index-first tie rule. */
static void merge_sort(const struct topk_order *ord, int64_t *idx, int64_t *scratch, int64_t n)
{
    if (n < 2)
        return;
    int64_t half = n / 2, i = 0, j = half, k = 0;
    merge_sort(ord, idx, scratch, half);
    merge_sort(ord, idx + half, scratch, n - half);
    while (i < half && j < n)
        scratch[k++] = topk_before(ord, idx[j], idx[i]) ? idx[j++] : idx[i++];
    while (i < half)
        scratch[k++] = idx[i++];
    while (j < n)
        scratch[k++] = idx[j++];
    memcpy(idx, scratch, (size_t)n * sizeof *idx);
}

enum d2_status d2_cpu_ref_topk(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_topk *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *k_tensor = ctx->inputs[1];
    int64_t axis, outer, len, inner, k, dims[D2_MAX_RANK];
    size_t elem = d2_dtype_size(x->dtype);
    enum d2_status st;

    if (!d2_normalize_axis(a->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (topk): axis %lld out of range for rank %d",
                         ctx->node->name, (long long)a->axis, (int)x->rank);
    if (d2_tensor_numel(k_tensor) != 1 || !d2_dtype_is_integer(k_tensor->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (topk): k must be a single integer", ctx->node->name);
    k = d2_load_i64(k_tensor->data, k_tensor->dtype, 0);
    split_at_axis(x, axis, &outer, &len, &inner);
    if (k < 0 || k > len)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (topk): k = %lld is not in [0, %lld] (axis %lld)",
                         ctx->node->name, (long long)k, (long long)len, (long long)axis);
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    st = ensure_output(ctx, 0, x->dtype, x->rank, dims);
    if (st == D2_OK)
        st = ensure_output(ctx, 1, D2_DTYPE_I64, x->rank, dims);
    if (st != D2_OK || k == 0 || outer * inner == 0)
        return st;

    int64_t *idx = d2_alloc(ctx->alloc, 2 * (size_t)len * sizeof *idx);
    if (!idx)
        return oom(ctx);
    unsigned char *values = ctx->outputs[0].data;
    int64_t *indices = ctx->outputs[1].data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            struct topk_order ord = { x, (size_t)(o * len * inner + i), inner, a->largest != 0 };
            for (int64_t j = 0; j < len; j++)
                idx[j] = j;
            merge_sort(&ord, idx, idx + len, len);
            for (int64_t j = 0; j < k; j++) {
                size_t dst = (size_t)(o * k * inner + j * inner + i);
                size_t src = ord.base + (size_t)(idx[j] * inner);
                memcpy(values + dst * elem, (const unsigned char *)x->data + src * elem, elem);
                indices[dst] = idx[j];
            }
        }
    }
    d2_free(ctx->alloc, idx);
    return D2_OK;
}

/* ---- non_zero -------------------------------------------------------------- */

/* NaN counts as nonzero (it is not equal to 0). */
static bool element_nonzero(const struct d2_tensor *x, size_t i)
{
    if (d2_dtype_is_float(x->dtype))
        return d2_load_f64(x->data, x->dtype, i) != 0.0 || element_is_nan(x, i);
    return d2_load_i64(x->data, x->dtype, i) != 0;
}

enum d2_status d2_cpu_ref_non_zero(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t numel = d2_tensor_numel(x), count = 0, dims[2];
    int32_t coords = x->rank > 0 ? x->rank : 1;
    enum d2_status st;

    for (int64_t i = 0; i < numel; i++)
        count += element_nonzero(x, (size_t)i);
    dims[0] = coords;
    dims[1] = count;
    st = d2_kernel_alloc_output(ctx, 0, D2_DTYPE_I64, 2, dims);
    if (st != D2_OK)
        return st;
    int64_t *out = ctx->outputs[0].data;
    int64_t n = 0;
    for (int64_t i = 0; i < numel; i++) {
        if (!element_nonzero(x, (size_t)i))
            continue;
        int64_t rem = i;
        for (int32_t d = x->rank - 1; d >= 0; d--) {
            out[d * count + n] = rem % x->dims[d];
            rem /= x->dims[d];
        }
        if (x->rank == 0)
            out[n] = 0;
        n++;
    }
    return D2_OK;
}

/* ---- cum_sum --------------------------------------------------------------- */

enum d2_status d2_cpu_ref_cum_sum(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_cum_sum *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *axis_tensor = ctx->inputs[1];
    int64_t axis, outer, len, inner;
    enum d2_status st;

    if (d2_tensor_numel(axis_tensor) != 1 || !d2_dtype_is_integer(axis_tensor->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (cum_sum): axis must be one integer", ctx->node->name);
    int64_t raw = d2_load_i64(axis_tensor->data, axis_tensor->dtype, 0);
    if (!d2_normalize_axis(raw, x->rank > 0 ? x->rank : 1, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (cum_sum): axis %lld out of range for rank %d",
                         ctx->node->name, (long long)raw, (int)x->rank);
    if (x->dtype == D2_DTYPE_BOOL)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "node '%s' (cum_sum): bool input", ctx->node->name);
    st = ensure_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    split_at_axis(x, axis, &outer, &len, &inner);
    bool is_float = d2_dtype_is_float(x->dtype);
    void *out = ctx->outputs[0].data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double fsum = 0.0;
            uint64_t isum = 0;
            for (int64_t step = 0; step < len; step++) {
                int64_t k = a->reverse ? len - 1 - step : step;
                size_t at = (size_t)(o * len * inner + k * inner + i);
                /* exclusive: write the sum of the elements before this one, then add it. */
                if (a->exclusive) {
                    if (is_float)
                        d2_store_f64(out, x->dtype, at, fsum);
                    else
                        d2_store_i64(out, x->dtype, at, (int64_t)isum);
                }
                if (is_float)
                    fsum += d2_load_f64(x->data, x->dtype, at);
                else
                    isum += (uint64_t)d2_load_i64(x->data, x->dtype, at);
                if (!a->exclusive) {
                    if (is_float)
                        d2_store_f64(out, x->dtype, at, fsum);
                    else
                        d2_store_i64(out, x->dtype, at, (int64_t)isum);
                }
            }
        }
    }
    return D2_OK;
}
