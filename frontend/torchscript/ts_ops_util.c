/* frontend/torchscript/ts_ops_util.c: small IR-building helpers the op files share
 * (shape, reshape, unsqueeze, concat, gather, transpose, slice, binary ops,
 * reductions) and argument conversions (contracts in ts_lower.h). */
#include "frontend/torchscript/ts_lower.h"

#include <string.h>

d2_value_id ts_shape(struct ts_lower *L, d2_value_id x)
{
    return x == D2_NO_VALUE ? D2_NO_VALUE : ts_emit1(L, D2_OP_SHAPE, 1, &x);
}

d2_value_id ts_reshape(struct ts_lower *L, d2_value_id x, d2_value_id shape)
{
    d2_value_id in[2] = { x, shape }, out = D2_NO_VALUE;
    int32_t n;
    if (x == D2_NO_VALUE || shape == D2_NO_VALUE)
        return D2_NO_VALUE;
    n = ts_node(L, D2_OP_RESHAPE, 2, in, 1);
    if (n < 0)
        return D2_NO_VALUE;
    ((struct d2_attrs_reshape *)ts_attrs(L, n))->allowzero = 1; /* torch: 0 is a size */
    return ts_finish(L, n, &out) == D2_OK ? out : D2_NO_VALUE;
}

d2_value_id ts_reshape_static(struct ts_lower *L, d2_value_id x, const int64_t *dims, uint32_t rank)
{
    return ts_reshape(L, x, ts_const_i64(L, dims, rank, false));
}

d2_value_id ts_unsqueeze(struct ts_lower *L, d2_value_id x, int64_t axis)
{
    d2_value_id in[2] = { x, ts_const_i64(L, &axis, 1, false) };
    return x == D2_NO_VALUE ? D2_NO_VALUE : ts_emit1(L, D2_OP_UNSQUEEZE, 2, in);
}

d2_value_id ts_squeeze(struct ts_lower *L, d2_value_id x, int64_t axis)
{
    d2_value_id in[2] = { x, ts_const_i64(L, &axis, 1, false) };
    return x == D2_NO_VALUE ? D2_NO_VALUE : ts_emit1(L, D2_OP_SQUEEZE, 2, in);
}

d2_value_id ts_concat(struct ts_lower *L, const d2_value_id *parts, uint32_t n, int64_t axis)
{
    d2_value_id out = D2_NO_VALUE;
    int32_t node;
    if (n == 1)
        return parts[0];
    node = ts_node(L, D2_OP_CONCAT, n, parts, 1);
    if (node < 0)
        return D2_NO_VALUE;
    ((struct d2_attrs_axis *)ts_attrs(L, node))->axis = axis;
    return ts_finish(L, node, &out) == D2_OK ? out : D2_NO_VALUE;
}

d2_value_id ts_gather(struct ts_lower *L, d2_value_id x, d2_value_id indices, int64_t axis)
{
    d2_value_id in[2] = { x, indices }, out = D2_NO_VALUE;
    int32_t node;
    if (x == D2_NO_VALUE || indices == D2_NO_VALUE)
        return D2_NO_VALUE;
    node = ts_node(L, D2_OP_GATHER, 2, in, 1);
    if (node < 0)
        return D2_NO_VALUE;
    ((struct d2_attrs_axis *)ts_attrs(L, node))->axis = axis;
    return ts_finish(L, node, &out) == D2_OK ? out : D2_NO_VALUE;
}

d2_value_id ts_transpose(struct ts_lower *L, d2_value_id x, const int64_t *perm, uint32_t rank)
{
    d2_value_id out = D2_NO_VALUE;
    int32_t node;
    if (x == D2_NO_VALUE)
        return D2_NO_VALUE;
    node = ts_node(L, D2_OP_TRANSPOSE, 1, &x, 1);
    if (node < 0)
        return D2_NO_VALUE;
    if (d2_graph_set_ints(L->frame->g, &((struct d2_attrs_transpose *)ts_attrs(L, node))->perm, perm, rank, L->err) !=
        D2_OK)
        return D2_NO_VALUE;
    return ts_finish(L, node, &out) == D2_OK ? out : D2_NO_VALUE;
}

d2_value_id ts_slice1(struct ts_lower *L, d2_value_id x, int64_t axis, d2_value_id start, d2_value_id end,
                      int64_t step)
{
    d2_value_id in[5];
    if (x == D2_NO_VALUE || start == D2_NO_VALUE || end == D2_NO_VALUE)
        return D2_NO_VALUE;
    in[0] = x;
    in[1] = ts_rank(L, start) == 0 ? ts_unsqueeze(L, start, 0) : start;
    in[2] = ts_rank(L, end) == 0 ? ts_unsqueeze(L, end, 0) : end;
    in[3] = ts_const_i64(L, &axis, 1, false);
    in[4] = ts_const_i64(L, &step, 1, false);
    return ts_emit1(L, D2_OP_SLICE, 5, in);
}

d2_value_id ts_binary(struct ts_lower *L, enum d2_op op, d2_value_id a, d2_value_id b)
{
    d2_value_id in[2] = { a, b };
    if (a == D2_NO_VALUE || b == D2_NO_VALUE)
        return D2_NO_VALUE;
    return ts_emit1(L, op, 2, in);
}

d2_value_id ts_reduce(struct ts_lower *L, enum d2_op op, d2_value_id x, const int64_t *axes, uint32_t num_axes,
                      bool keepdims)
{
    d2_value_id in[2] = { x, D2_NO_VALUE }, out = D2_NO_VALUE;
    int32_t node;
    if (x == D2_NO_VALUE)
        return D2_NO_VALUE;
    if (axes)
        in[1] = ts_const_i64(L, axes, num_axes, false);
    node = ts_node(L, op, axes ? 2 : 1, in, 1);
    if (node < 0)
        return D2_NO_VALUE;
    ((struct d2_attrs_reduce *)ts_attrs(L, node))->keepdims = keepdims;
    return ts_finish(L, node, &out) == D2_OK ? out : D2_NO_VALUE;
}

d2_value_id ts_int_value(struct ts_lower *L, struct tsv *v)
{
    int64_t k;
    if (ts_static_int(L, v, &k))
        return ts_const_i64(L, &k, 1, true);
    if (v->kind != TSV_SCALAR && v->kind != TSV_TENSOR) {
        ts_fail(L, D2_ERR_UNSUPPORTED, "expected an int, got %s", tsv_describe(v));
        return D2_NO_VALUE;
    }
    return ts_cast(L, ts_use(L, v), D2_DTYPE_I64);
}

enum d2_status ts_ret_tensor(struct ts_lower *L, d2_value_id id, struct tsv **out)
{
    if (id == D2_NO_VALUE)
        return L->err->code ? L->err->code : D2_ERR_INTERNAL;
    *out = tsv_tensor(L, id);
    return *out ? D2_OK : L->err->code;
}

enum d2_status ts_dtype_arg(struct ts_lower *L, const struct ts_call *c, uint32_t position, const char *name,
                            enum d2_dtype *out)
{
    struct tsv *a = ts_arg(c, position, name);
    *out = D2_DTYPE_UNDEFINED;
    if (!a || a->kind == TSV_NONE)
        return D2_OK;
    if (a->kind != TSV_INT || !ts_dtype_from_code(a->u.i, out))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: unsupported dtype %s", c->name,
                       a->kind == TSV_INT ? "code" : tsv_describe(a));
    return D2_OK;
}
