/* backends/cpu/ref_tensor_index.c: reference CPU kernels of the data-movement ops
 * driven by index tensors or values: gather, gather_elements, gather_nd,
 * scatter_nd, scatter_elements, shape, size, constant_of_shape, range, one_hot.
 *
 * As in ref_tensor.c, each kernel calls d2_ref_tensor_prepare first (shape rules
 * from ir/shape_tensor_index.c, output allocation), then moves raw elements.
 * Index values are checked here: an index outside [-dim, dim) is a D2_ERR_SHAPE
 * error naming the index, never an out-of-bounds read (the executor prefixes the
 * node and op to kernel messages). Negative indices count from
 * the end. Scatter with duplicate indices applies updates in order (for reduction
 * none the last one wins). */
#include "ref_tensor.h"

#include <math.h>
#include <string.h>

/* Index value `raw` against a dim of size `dim`: the element index in [0, dim), or
 * an error naming the op and where the index came from. */
static enum d2_status check_index(struct d2_kernel_ctx *ctx, int64_t raw, int64_t dim, int64_t position,
                                  int64_t *out)
{
    if (raw < -dim || raw >= dim)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "index %lld (indices element %lld) out of range for a dim of size %lld",
                         (long long)raw, (long long)position, (long long)dim);
    *out = raw < 0 ? raw + dim : raw;
    return D2_OK;
}

static int64_t dims_product(const int64_t *dims, int32_t lo, int32_t hi)
{
    int64_t p = 1;
    for (int32_t d = lo; d < hi; d++)
        p *= dims[d];
    return p;
}

/* y[yi] = reduce(y[yi], u[ui]) for scatter's reduction attribute. Floats combine in
 * double and round once on store (exact for add/mul/max/min of f32 and f16); ints
 * combine in 64-bit with wrapping; bool: add/max act as OR, mul/min as AND. */
static void scatter_combine(void *y, size_t yi, const void *u, size_t ui, enum d2_dtype dtype, int32_t reduction)
{
    size_t esize = d2_dtype_size(dtype);
    if (reduction == D2_REDUCTION_NONE) {
        memcpy((char *)y + yi * esize, (const char *)u + ui * esize, esize);
    } else if (d2_dtype_is_float(dtype)) {
        double a = d2_load_f64(y, dtype, yi), b = d2_load_f64(u, dtype, ui), r;
        switch (reduction) {
        case D2_REDUCTION_ADD: r = a + b; break;
        case D2_REDUCTION_MUL: r = a * b; break;
        case D2_REDUCTION_MAX: r = isnan(a) || isnan(b) ? NAN : a > b ? a : b; break;
        default: r = isnan(a) || isnan(b) ? NAN : a < b ? a : b; break;
        }
        d2_store_f64(y, dtype, yi, r);
    } else if (dtype == D2_DTYPE_U64) {
        uint64_t *py = (uint64_t *)y + yi, b = ((const uint64_t *)u)[ui];
        switch (reduction) {
        case D2_REDUCTION_ADD: *py += b; break;
        case D2_REDUCTION_MUL: *py *= b; break;
        case D2_REDUCTION_MAX: *py = *py > b ? *py : b; break;
        default: *py = *py < b ? *py : b; break;
        }
    } else {
        int64_t a = d2_load_i64(y, dtype, yi), b = d2_load_i64(u, dtype, ui), r;
        switch (reduction) {
        case D2_REDUCTION_ADD: r = (int64_t)((uint64_t)a + (uint64_t)b); break;
        case D2_REDUCTION_MUL: r = (int64_t)((uint64_t)a * (uint64_t)b); break;
        case D2_REDUCTION_MAX: r = a > b ? a : b; break;
        default: r = a < b ? a : b; break;
        }
        d2_store_i64(y, dtype, yi, r);
    }
}

/* ======================================================================
 * gather family
 * ====================================================================== */

enum d2_status d2_cpu_ref_gather(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *idx = ctx->inputs[1];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t axis, outer, inner, dim, count;
    size_t esize, block;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_gather);
    if (st != D2_OK)
        return st;
    esize = d2_dtype_size(x->dtype);
    d2_normalize_axis(attrs->axis, x->rank, &axis);
    outer = dims_product(x->dims, 0, (int32_t)axis);
    inner = dims_product(x->dims, (int32_t)axis + 1, x->rank);
    dim = x->dims[axis];
    count = d2_tensor_numel(idx);
    block = (size_t)inner * esize;
    /* y[o, i, r] = x[o, idx[i], r] with o over x.dims[:axis], r over x.dims[axis+1:]. */
    for (int64_t i = 0; i < count; i++) {
        int64_t at = 0;
        if ((st = check_index(ctx, d2_tensor_get_i64(idx, (size_t)i), dim, i, &at)) != D2_OK)
            return st;
        for (int64_t o = 0; o < outer && block > 0; o++)
            memcpy((char *)y->data + (size_t)(o * count + i) * block,
                   (const char *)x->data + (size_t)(o * dim + at) * block, block);
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_gather_elements(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *idx = ctx->inputs[1];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t axis, n, coord[D2_MAX_RANK], x_strides[D2_MAX_RANK];
    size_t esize;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_gather_elements);
    if (st != D2_OK)
        return st;
    esize = d2_dtype_size(x->dtype);
    d2_normalize_axis(attrs->axis, x->rank, &axis);
    d2_strides(x->rank, x->dims, x_strides);
    n = d2_tensor_numel(idx);
    /* y[c] = x[c with c[axis] replaced by idx[c]]. */
    for (int64_t e = 0; e < n; e++) {
        int64_t src = 0;
        d2_ref_unravel(e, idx->rank, idx->dims, coord);
        if ((st = check_index(ctx, d2_tensor_get_i64(idx, (size_t)e), x->dims[axis], e, &coord[axis])) != D2_OK)
            return st;
        for (int32_t d = 0; d < x->rank; d++) {
            if (coord[d] >= x->dims[d])
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "indices dim %d (%lld) exceeds x's (%lld)",
                                 (int)d, (long long)idx->dims[d], (long long)x->dims[d]);
            src += coord[d] * x_strides[d];
        }
        memcpy((char *)y->data + (size_t)e * esize, (const char *)x->data + (size_t)src * esize, esize);
    }
    return D2_OK;
}

/* Offset (in elements, within one batch of x) of index tuple `t` of length k whose
 * components start at element `first` of idx; x dims from `dim0` on. */
static enum d2_status tuple_offset(struct d2_kernel_ctx *ctx, const struct d2_tensor *idx, int64_t first, int64_t k,
                                   const struct d2_tensor *x, int32_t dim0, int64_t *offset)
{
    int64_t x_strides[D2_MAX_RANK];
    enum d2_status st;
    d2_strides(x->rank, x->dims, x_strides);
    *offset = 0;
    for (int64_t j = 0; j < k; j++) {
        int64_t at = 0;
        int32_t d = dim0 + (int32_t)j;
        if ((st = check_index(ctx, d2_tensor_get_i64(idx, (size_t)(first + j)), x->dims[d], first + j, &at)) != D2_OK)
            return st;
        *offset += at * x_strides[d];
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_gather_nd(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_gather_nd *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *idx = ctx->inputs[1];
    struct d2_tensor *y = &ctx->outputs[0];
    int32_t b = (int32_t)attrs->batch_dims;
    int64_t k, batches, tuples, slice, x_batch;
    size_t esize;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_gather_nd);
    if (st != D2_OK)
        return st;
    esize = d2_dtype_size(x->dtype);
    k = idx->dims[idx->rank - 1];
    batches = dims_product(idx->dims, 0, b);
    tuples = dims_product(idx->dims, b, idx->rank - 1); /* per batch */
    slice = dims_product(x->dims, b + (int32_t)k, x->rank);
    x_batch = dims_product(x->dims, b, x->rank);
    /* y[batch, t, r] = x[batch, idx[batch, t, 0..k), r]. */
    for (int64_t bi = 0; bi < batches; bi++) {
        for (int64_t t = 0; t < tuples; t++) {
            int64_t offset, tuple = bi * tuples + t;
            if ((st = tuple_offset(ctx, idx, tuple * k, k, x, b, &offset)) != D2_OK)
                return st;
            if (slice > 0)
                memcpy((char *)y->data + (size_t)(tuple * slice) * esize,
                       (const char *)x->data + (size_t)(bi * x_batch + offset) * esize, (size_t)slice * esize);
        }
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_scatter_nd(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_scatter *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *idx = ctx->inputs[1], *upd = ctx->inputs[2];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t k, tuples, slice;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_scatter_nd);
    if (st != D2_OK)
        return st;
    if (x->nbytes)
        memcpy(y->data, x->data, x->nbytes);
    k = idx->dims[idx->rank - 1];
    tuples = dims_product(idx->dims, 0, idx->rank - 1);
    slice = dims_product(x->dims, (int32_t)k, x->rank);
    if (d2_tensor_numel(upd) != tuples * slice)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "updates have %lld elements, expected %lld",
                         (long long)d2_tensor_numel(upd), (long long)(tuples * slice));
    for (int64_t t = 0; t < tuples; t++) {
        int64_t offset;
        if ((st = tuple_offset(ctx, idx, t * k, k, x, 0, &offset)) != D2_OK)
            return st;
        for (int64_t r = 0; r < slice; r++)
            scatter_combine(y->data, (size_t)(offset + r), upd->data, (size_t)(t * slice + r), x->dtype,
                            attrs->reduction);
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_scatter_elements(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_scatter *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *idx = ctx->inputs[1], *upd = ctx->inputs[2];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t axis, n, coord[D2_MAX_RANK], x_strides[D2_MAX_RANK];
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_scatter_elements);
    if (st != D2_OK)
        return st;
    if (x->nbytes)
        memcpy(y->data, x->data, x->nbytes);
    d2_normalize_axis(attrs->axis, x->rank, &axis);
    d2_strides(x->rank, x->dims, x_strides);
    n = d2_tensor_numel(idx);
    /* y[c with c[axis] = idx[c]] = updates[c]. */
    for (int64_t e = 0; e < n; e++) {
        int64_t dst = 0;
        d2_ref_unravel(e, idx->rank, idx->dims, coord);
        if ((st = check_index(ctx, d2_tensor_get_i64(idx, (size_t)e), x->dims[axis], e, &coord[axis])) != D2_OK)
            return st;
        for (int32_t d = 0; d < x->rank; d++) {
            if (coord[d] >= x->dims[d])
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "indices dim %d (%lld) exceeds x's (%lld)",
                                 (int)d, (long long)idx->dims[d], (long long)x->dims[d]);
            dst += coord[d] * x_strides[d];
        }
        scatter_combine(y->data, (size_t)dst, upd->data, (size_t)e, x->dtype, attrs->reduction);
    }
    return D2_OK;
}

/* ======================================================================
 * shape, size, constant_of_shape, range, one_hot
 * ====================================================================== */

enum d2_status d2_cpu_ref_shape(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_shape *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t start = attrs->start;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_shape);
    if (st != D2_OK)
        return st;
    /* The shape function clamped [start, end); only the clamped start is needed. */
    if (start < 0)
        start += x->rank;
    start = start < 0 ? 0 : start > x->rank ? x->rank : start;
    for (int64_t i = 0; i < y->dims[0]; i++)
        ((int64_t *)y->data)[i] = x->dims[start + i];
    return D2_OK;
}

enum d2_status d2_cpu_ref_size(struct d2_kernel_ctx *ctx)
{
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_size);
    if (st == D2_OK)
        *(int64_t *)ctx->outputs[0].data = d2_tensor_numel(ctx->inputs[0]);
    return st;
}

enum d2_status d2_cpu_ref_constant_of_shape(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_constant_of_shape *attrs = ctx->node->attrs;
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t n;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_constant_of_shape);
    if (st != D2_OK)
        return st;
    n = d2_tensor_numel(y);
    for (int64_t i = 0; i < n; i++)
        d2_store_f64(y->data, y->dtype, (size_t)i, attrs->value);
    return D2_OK;
}

enum d2_status d2_cpu_ref_range(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *start_t = ctx->inputs[0], *delta_t = ctx->inputs[2];
    struct d2_tensor *y = &ctx->outputs[0];
    enum d2_dtype dtype = start_t->dtype;
    int64_t n;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_range);
    if (st != D2_OK)
        return st;
    n = y->dims[0];
    /* y[i] = start + i*delta, computed in the input's precision (f32 for f32, f16
     * and bf16; 64-bit wrapping for integers) rather than by accumulation. */
    if (dtype == D2_DTYPE_F64) {
        double start = d2_load_f64(start_t->data, dtype, 0), delta = d2_load_f64(delta_t->data, dtype, 0);
        for (int64_t i = 0; i < n; i++)
            ((double *)y->data)[i] = start + (double)i * delta;
    } else if (d2_dtype_is_float(dtype)) {
        float start = (float)d2_load_f64(start_t->data, dtype, 0), delta = (float)d2_load_f64(delta_t->data, dtype, 0);
        for (int64_t i = 0; i < n; i++)
            d2_store_f64(y->data, dtype, (size_t)i, (double)(start + (float)i * delta));
    } else {
        uint64_t start = (uint64_t)d2_tensor_get_i64(start_t, 0), delta = (uint64_t)d2_tensor_get_i64(delta_t, 0);
        for (int64_t i = 0; i < n; i++)
            d2_store_i64(y->data, dtype, (size_t)i, (int64_t)(start + (uint64_t)i * delta));
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_one_hot(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_one_hot *attrs = ctx->node->attrs;
    const struct d2_tensor *idx = ctx->inputs[0], *values = ctx->inputs[2];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t axis, depth, outer, inner;
    size_t esize;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_one_hot);
    if (st != D2_OK)
        return st;
    if (d2_tensor_numel(values) != 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "values must be [off_value, on_value]");
    esize = d2_dtype_size(values->dtype);
    d2_normalize_axis(attrs->axis, y->rank, &axis);
    depth = y->dims[axis];
    outer = dims_product(idx->dims, 0, (int32_t)axis);
    inner = dims_product(idx->dims, (int32_t)axis, idx->rank);
    /* y[o, d, r] = on if idx[o, r] (negative: + depth) == d else off; indices
     * outside [-depth, depth) give all off (ONNX). Float indices truncate. */
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t r = 0; r < inner; r++) {
            int64_t at = d2_load_i64(idx->data, idx->dtype, (size_t)(o * inner + r));
            if (at < 0)
                at += depth;
            for (int64_t d = 0; d < depth; d++)
                memcpy((char *)y->data + (size_t)((o * depth + d) * inner + r) * esize,
                       (const char *)values->data + (d == at ? esize : 0), esize);
        }
    }
    return D2_OK;
}
