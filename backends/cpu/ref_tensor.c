/* backends/cpu/ref_tensor.c: reference CPU kernels of the data-movement ops that
 * rearrange elements without index tensors: concat, split, slice, reshape, flatten,
 * transpose, squeeze, unsqueeze, expand, tile, pad, depth_to_space, space_to_depth,
 * trilu, eye_like; plus the helpers of backends/cpu/ref_tensor.h.
 *
 * Every kernel first calls d2_ref_tensor_prepare, which runs the op's shape function
 * on the concrete inputs (so shapes follow exactly one rule, in ir/shape_tensor*.c)
 * and allocates the outputs. The kernels then move raw elements with memcpy, which
 * makes them work for every dtype. They write every output element (the executor
 * may hand in reused, non-zeroed storage). */
#include "ref_tensor.h"

#include <string.h>

/* ======================================================================
 * Helpers
 * ====================================================================== */

enum d2_status d2_ref_tensor_prepare(struct d2_kernel_ctx *ctx, d2_shape_fn shape_fn)
{
    enum { SMALL = 16 };
    struct d2_type small_types[SMALL], small_out[SMALL];
    const struct d2_type *small_type_ptrs[SMALL];
    struct d2_type *types = small_types, *out_types = small_out;
    const struct d2_type **type_ptrs = small_type_ptrs;
    struct d2_shape_ctx sc;
    enum d2_status st = D2_OK;

    /* Variadic ops (concat, split) may have more inputs/outputs than fit the stack. */
    if (ctx->num_inputs > SMALL) {
        types = d2_calloc(ctx->alloc, ctx->num_inputs, sizeof *types);
        type_ptrs = d2_calloc(ctx->alloc, ctx->num_inputs, sizeof *type_ptrs);
    }
    if (ctx->num_outputs > SMALL)
        out_types = d2_calloc(ctx->alloc, ctx->num_outputs, sizeof *out_types);
    if (!types || !type_ptrs || !out_types) {
        st = d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < ctx->num_inputs; i++) {
        type_ptrs[i] = NULL;
        if (ctx->inputs[i]) {
            d2_type_from_tensor(&types[i], ctx->inputs[i]);
            type_ptrs[i] = &types[i];
        }
    }
    for (uint32_t i = 0; i < ctx->num_outputs; i++)
        d2_type_init_unknown(&out_types[i]);
    sc.node = ctx->node;
    sc.num_inputs = ctx->num_inputs;
    sc.input_types = type_ptrs;
    sc.input_values = ctx->inputs;
    sc.num_outputs = ctx->num_outputs;
    sc.output_types = out_types;
    sc.err = ctx->err;
    if ((st = shape_fn(&sc)) != D2_OK)
        goto done;
    for (uint32_t i = 0; i < ctx->num_outputs; i++) {
        const struct d2_type *t = &out_types[i];
        struct d2_tensor *o = &ctx->outputs[i];
        bool same = o->data != NULL && o->dtype == t->dtype && o->rank == t->rank;
        if (!d2_type_is_static(t)) {
            st = d2_errorf(ctx->err, D2_ERR_INTERNAL, "output %u has no static shape at run time", i);
            goto done;
        }
        for (int32_t d = 0; same && d < t->rank; d++)
            same = o->dims[d] == t->dims[d];
        if (!same && (st = d2_kernel_alloc_output(ctx, i, t->dtype, t->rank, t->dims)) != D2_OK)
            goto done;
    }
done:
    if (types != small_types)
        d2_free(ctx->alloc, types);
    if (type_ptrs != small_type_ptrs)
        d2_free(ctx->alloc, (void *)type_ptrs);
    if (out_types != small_out)
        d2_free(ctx->alloc, out_types);
    return st;
}

void d2_ref_copy_strided(void *dst, const void *src, size_t elem_size, int32_t rank, const int64_t *dims,
                         const int64_t *src_strides, int64_t src_offset)
{
    int64_t n = d2_dims_numel(rank, dims), coord[D2_MAX_RANK] = {0}, offset = src_offset;
    char *out = dst;
    const char *in = src;
    for (int64_t i = 0; i < n; i++) {
        memcpy(out + (size_t)i * elem_size, in + (size_t)offset * elem_size, elem_size);
        /* Advance the coordinate like an odometer, keeping offset in step. */
        for (int32_t d = rank - 1; d >= 0; d--) {
            coord[d]++;
            offset += src_strides[d];
            if (coord[d] < dims[d])
                break;
            offset -= src_strides[d] * dims[d];
            coord[d] = 0;
        }
    }
}

void d2_ref_unravel(int64_t index, int32_t rank, const int64_t *dims, int64_t *coord)
{
    for (int32_t d = rank - 1; d >= 0; d--) {
        coord[d] = dims[d] ? index % dims[d] : 0;
        index = dims[d] ? index / dims[d] : 0;
    }
}

/* Product of dims [lo, hi). */
static int64_t dims_product(const int64_t *dims, int32_t lo, int32_t hi)
{
    int64_t p = 1;
    for (int32_t d = lo; d < hi; d++)
        p *= dims[d];
    return p;
}

/* Same elements in the same order (reshape, flatten, squeeze, unsqueeze). */
static enum d2_status copy_all(struct d2_kernel_ctx *ctx, d2_shape_fn shape_fn)
{
    enum d2_status st = d2_ref_tensor_prepare(ctx, shape_fn);
    if (st == D2_OK && ctx->inputs[0]->nbytes)
        memcpy(ctx->outputs[0].data, ctx->inputs[0]->data, ctx->inputs[0]->nbytes);
    return st;
}

int64_t d2_ref_read_list(const struct d2_tensor *t, int64_t *out, int64_t max_count)
{
    int64_t n = t ? d2_tensor_numel(t) : 0;
    for (int64_t i = 0; i < n && i < max_count; i++)
        out[i] = d2_tensor_get_i64(t, (size_t)i);
    return n < max_count ? n : max_count;
}

const struct d2_tensor *d2_ref_optional_input(const struct d2_kernel_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->inputs[i] : NULL;
}

/* ======================================================================
 * concat, split, slice
 * ====================================================================== */

enum d2_status d2_cpu_ref_concat(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    struct d2_tensor *y = &ctx->outputs[0];
    size_t esize;
    int64_t axis, outer, inner, offset = 0; /* offset: bytes into each output row */
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_concat);
    if (st != D2_OK)
        return st;
    esize = d2_dtype_size(y->dtype);
    d2_normalize_axis(attrs->axis, y->rank, &axis);
    outer = dims_product(y->dims, 0, (int32_t)axis);
    inner = dims_product(y->dims, (int32_t)axis + 1, y->rank);
    /* Output row o (of outer) is the concatenation of row o of each input. */
    for (uint32_t i = 0; i < ctx->num_inputs; i++) {
        const struct d2_tensor *x = ctx->inputs[i];
        size_t row = (size_t)(x->dims[axis] * inner) * esize;
        size_t out_row = (size_t)(y->dims[axis] * inner) * esize;
        for (int64_t o = 0; o < outer && row > 0; o++)
            memcpy((char *)y->data + (size_t)o * out_row + (size_t)offset, (const char *)x->data + (size_t)o * row,
                   row);
        offset += (int64_t)row;
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_split(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_split *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    size_t esize;
    int64_t axis, outer, inner, offset = 0;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_split);
    if (st != D2_OK)
        return st;
    esize = d2_dtype_size(x->dtype);
    d2_normalize_axis(attrs->axis, x->rank, &axis);
    outer = dims_product(x->dims, 0, (int32_t)axis);
    inner = dims_product(x->dims, (int32_t)axis + 1, x->rank);
    for (uint32_t i = 0; i < ctx->num_outputs; i++) {
        struct d2_tensor *y = &ctx->outputs[i];
        size_t row = (size_t)(y->dims[axis] * inner) * esize;
        size_t in_row = (size_t)(x->dims[axis] * inner) * esize;
        for (int64_t o = 0; o < outer && row > 0; o++)
            memcpy((char *)y->data + (size_t)o * row, (const char *)x->data + (size_t)o * in_row + (size_t)offset,
                   row);
        offset += (int64_t)row;
    }
    return D2_OK;
}

enum d2_status d2_ref_slice_view(struct d2_kernel_ctx *ctx, int64_t *strides, int64_t *offset)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t starts[D2_MAX_RANK], ends[D2_MAX_RANK], axes[D2_MAX_RANK], steps[D2_MAX_RANK];
    int64_t x_strides[D2_MAX_RANK], n;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_slice);
    if (st != D2_OK)
        return st;
    n = d2_ref_read_list(ctx->inputs[1], starts, D2_MAX_RANK);
    d2_ref_read_list(ctx->inputs[2], ends, D2_MAX_RANK);
    if (!d2_ref_optional_input(ctx, 3))
        for (int64_t i = 0; i < n; i++)
            axes[i] = i;
    else
        d2_ref_read_list(ctx->inputs[3], axes, D2_MAX_RANK);
    if (!d2_ref_optional_input(ctx, 4))
        for (int64_t i = 0; i < n; i++)
            steps[i] = 1;
    else
        d2_ref_read_list(ctx->inputs[4], steps, D2_MAX_RANK);
    d2_strides(x->rank, x->dims, x_strides);
    *offset = 0;
    for (int32_t d = 0; d < x->rank; d++)
        strides[d] = x_strides[d];
    /* A sliced axis starts at `start` and walks by `step` elements. */
    for (int64_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
        struct d2_slice_axis sa = d2_slice_resolve(x->dims[a], starts[i], ends[i], steps[i]);
        if (sa.length > 0)
            *offset += sa.start * x_strides[a];
        strides[a] = sa.step * x_strides[a];
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_slice(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t strides[D2_MAX_RANK], offset;
    enum d2_status st = d2_ref_slice_view(ctx, strides, &offset);
    if (st != D2_OK)
        return st;
    d2_ref_copy_strided(ctx->outputs[0].data, x->data, d2_dtype_size(x->dtype), ctx->outputs[0].rank,
                        ctx->outputs[0].dims, strides, offset);
    return D2_OK;
}

/* ======================================================================
 * reshape, flatten, transpose, squeeze, unsqueeze
 * ====================================================================== */

enum d2_status d2_cpu_ref_reshape(struct d2_kernel_ctx *ctx)
{
    return copy_all(ctx, d2_shape_reshape);
}

enum d2_status d2_cpu_ref_flatten(struct d2_kernel_ctx *ctx)
{
    return copy_all(ctx, d2_shape_flatten);
}

enum d2_status d2_cpu_ref_squeeze(struct d2_kernel_ctx *ctx)
{
    return copy_all(ctx, d2_shape_squeeze);
}

enum d2_status d2_cpu_ref_unsqueeze(struct d2_kernel_ctx *ctx)
{
    return copy_all(ctx, d2_shape_unsqueeze);
}

enum d2_status d2_ref_transpose_view(struct d2_kernel_ctx *ctx, int64_t *strides)
{
    const struct d2_attrs_transpose *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t x_strides[D2_MAX_RANK];
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_transpose); /* validates perm */
    if (st != D2_OK)
        return st;
    d2_strides(x->rank, x->dims, x_strides);
    /* Output dim i walks input dim perm[i]. */
    for (int32_t i = 0; i < x->rank; i++) {
        int64_t p = attrs->perm.count ? attrs->perm.data[i] : x->rank - 1 - i;
        strides[i] = x_strides[p < 0 ? p + x->rank : p];
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_transpose(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t strides[D2_MAX_RANK];
    enum d2_status st = d2_ref_transpose_view(ctx, strides);
    if (st != D2_OK)
        return st;
    d2_ref_copy_strided(ctx->outputs[0].data, x->data, d2_dtype_size(x->dtype), x->rank, ctx->outputs[0].dims,
                        strides, 0);
    return D2_OK;
}

/* ======================================================================
 * expand, tile, pad
 * ====================================================================== */

enum d2_status d2_cpu_ref_expand(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t x_strides[D2_MAX_RANK], strides[D2_MAX_RANK];
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_expand);
    if (st != D2_OK)
        return st;
    d2_strides(x->rank, x->dims, x_strides);
    /* Right-aligned; a broadcast dim (missing or size 1 in x) repeats: stride 0. */
    for (int32_t d = 0; d < y->rank; d++) {
        int32_t xd = d - (y->rank - x->rank);
        strides[d] = xd >= 0 && x->dims[xd] != 1 ? x_strides[xd] : 0;
    }
    d2_ref_copy_strided(y->data, x->data, d2_dtype_size(x->dtype), y->rank, y->dims, strides, 0);
    return D2_OK;
}

enum d2_status d2_cpu_ref_tile(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t x_strides[D2_MAX_RANK], coord[D2_MAX_RANK], n;
    size_t esize;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_tile);
    if (st != D2_OK)
        return st;
    esize = d2_dtype_size(x->dtype);
    d2_strides(x->rank, x->dims, x_strides);
    n = d2_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        int64_t src = 0;
        d2_ref_unravel(i, y->rank, y->dims, coord);
        for (int32_t d = 0; d < y->rank; d++)
            src += (coord[d] % x->dims[d]) * x_strides[d];
        memcpy((char *)y->data + (size_t)i * esize, (const char *)x->data + (size_t)src * esize, esize);
    }
    return D2_OK;
}

void d2_ref_pad_begin(const struct d2_kernel_ctx *ctx, int64_t *begin)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t pads[2 * D2_MAX_RANK], axes[D2_MAX_RANK], n_axes;
    for (int32_t d = 0; d < D2_MAX_RANK; d++)
        begin[d] = 0;
    n_axes = d2_ref_read_list(d2_ref_optional_input(ctx, 3), axes, D2_MAX_RANK);
    if (!d2_ref_optional_input(ctx, 3)) {
        n_axes = x->rank;
        for (int64_t i = 0; i < n_axes; i++)
            axes[i] = i;
    }
    d2_ref_read_list(ctx->inputs[1], pads, 2 * D2_MAX_RANK);
    for (int64_t i = 0; i < n_axes; i++)
        begin[axes[i] < 0 ? axes[i] + x->rank : axes[i]] = pads[i];
}

enum d2_status d2_cpu_ref_pad(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_pad *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *value = d2_ref_optional_input(ctx, 2);
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t begin[D2_MAX_RANK];
    int64_t x_strides[D2_MAX_RANK], coord[D2_MAX_RANK], n;
    size_t esize;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_pad);
    if (st != D2_OK)
        return st;
    esize = d2_dtype_size(x->dtype);
    if (value && d2_tensor_numel(value) != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "constant_value must hold one element");
    d2_ref_pad_begin(ctx, begin);
    d2_strides(x->rank, x->dims, x_strides);
    n = d2_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        int64_t src = 0;
        bool is_pad = false;
        char *dst = (char *)y->data + (size_t)i * esize;
        d2_ref_unravel(i, y->rank, y->dims, coord);
        for (int32_t d = 0; d < y->rank && !is_pad; d++) {
            int64_t s = d2_pad_source_index(attrs->mode, coord[d], begin[d], x->dims[d]);
            is_pad = s < 0;
            src += s * x_strides[d];
        }
        if (!is_pad)
            memcpy(dst, (const char *)x->data + (size_t)src * esize, esize);
        else if (value)
            memcpy(dst, value->data, esize);
        else
            memset(dst, 0, esize);
    }
    return D2_OK;
}

/* ======================================================================
 * depth_to_space, space_to_depth, trilu, eye_like
 * ====================================================================== */

enum d2_status d2_cpu_ref_depth_to_space(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_depth_space *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t b = attrs->blocksize, sc, sh, sw, cout;
    int64_t view[6], strides[6];
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_depth_to_space);
    if (st != D2_OK)
        return st;
    cout = y->dims[1];
    sw = 1, sh = x->dims[3], sc = x->dims[2] * x->dims[3];
    /* y[n, c, h*b+i, w*b+j] is y's memory order viewed as [N, C', H, b, W, b].
     * DCR reads x channel (i*b + j)*C' + c; CRD reads c*b*b + i*b + j. */
    view[0] = y->dims[0], strides[0] = x->dims[1] * sc;
    view[1] = cout, strides[1] = attrs->mode == D2_DEPTH_SPACE_DCR ? sc : b * b * sc;
    view[2] = x->dims[2], strides[2] = sh;
    view[3] = b, strides[3] = attrs->mode == D2_DEPTH_SPACE_DCR ? b * cout * sc : b * sc;
    view[4] = x->dims[3], strides[4] = sw;
    view[5] = b, strides[5] = attrs->mode == D2_DEPTH_SPACE_DCR ? cout * sc : sc;
    d2_ref_copy_strided(y->data, x->data, d2_dtype_size(x->dtype), 6, view, strides, 0);
    return D2_OK;
}

enum d2_status d2_cpu_ref_space_to_depth(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_depth_space *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t b = attrs->blocksize, c, sc, sh, sw;
    int64_t view[6], strides[6];
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_space_to_depth);
    if (st != D2_OK)
        return st;
    c = x->dims[1];
    sw = 1, sh = x->dims[3], sc = x->dims[2] * x->dims[3];
    /* The inverse of depth_to_space with the same mode: y channel (i*b + j)*C + c
     * (DCR, ONNX's SpaceToDepth) or c*b*b + i*b + j (CRD) holds x[n, c, h*b+i, w*b+j].
     * y's memory order is [N, b, b, C, H', W'] (DCR) or [N, C, b, b, H', W'] (CRD). */
    view[0] = x->dims[0], strides[0] = c * sc;
    if (attrs->mode == D2_DEPTH_SPACE_DCR) {
        view[1] = b, strides[1] = sh;
        view[2] = b, strides[2] = sw;
        view[3] = c, strides[3] = sc;
    } else {
        view[1] = c, strides[1] = sc;
        view[2] = b, strides[2] = sh;
        view[3] = b, strides[3] = sw;
    }
    view[4] = y->dims[2], strides[4] = b * sh;
    view[5] = y->dims[3], strides[5] = b * sw;
    d2_ref_copy_strided(y->data, x->data, d2_dtype_size(x->dtype), 6, view, strides, 0);
    return D2_OK;
}

enum d2_status d2_cpu_ref_trilu(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_trilu *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *k_input = d2_ref_optional_input(ctx, 1);
    struct d2_tensor *y = &ctx->outputs[0];
    size_t esize;
    int64_t k = 0, rows, cols, n;
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_trilu);
    if (st != D2_OK)
        return st;
    esize = d2_dtype_size(x->dtype);
    if (k_input) {
        if (d2_tensor_numel(k_input) != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "k must hold one element");
        k = d2_tensor_get_i64(k_input, 0);
    }
    rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    n = d2_tensor_numel(x);
    /* Element (i, j) of each matrix stays when j - i >= k (upper) or <= k (lower);
     * the others become 0, which is all-zero bytes in every dtype. */
    for (int64_t e = 0; e < n; e++) {
        int64_t i = (e / cols) % rows, j = e % cols;
        bool keep = attrs->upper ? j - i >= k : j - i <= k;
        char *dst = (char *)y->data + (size_t)e * esize;
        if (keep)
            memcpy(dst, (const char *)x->data + (size_t)e * esize, esize);
        else
            memset(dst, 0, esize);
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_eye_like(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_eye_like *attrs = ctx->node->attrs;
    struct d2_tensor *y = &ctx->outputs[0];
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_eye_like);
    if (st != D2_OK)
        return st;
    if (y->nbytes)
        memset(y->data, 0, y->nbytes);
    /* Ones on the diagonal j = i + k. */
    for (int64_t i = 0; i < y->dims[0]; i++) {
        int64_t j = i + attrs->k;
        if (j >= 0 && j < y->dims[1])
            d2_store_f64(y->data, y->dtype, (size_t)(i * y->dims[1] + j), 1.0);
    }
    return D2_OK;
}
