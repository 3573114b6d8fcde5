/* frontend/torchscript/ts_ops_index.c: advanced indexing and data-dependent ops with
 * PyTorch semantics: index (x[mask], x[idx], x[i0, i1] with broadcasting),
 * index_put_, nonzero, topk, sort, gather, index_select, masked_fill, scatter(_add)(_).
 *
 * aten::index takes a list of Optional[Tensor], one per leading dim:
 *   - a bool mask covering dims p..p+m-1 selects the positions where it is true
 *     (its nonzero coordinates);
 *   - int tensors at adjacent positions are broadcast together and pick elements;
 *   - None keeps a dim whole.
 * Lowered onto gather (one int index), gather_nd (several, or a mask), and
 * scatter_nd for index_put_, scatter_elements for scatter.
 */
#include "frontend/torchscript/ts_lower.h"

#include <string.h>

static enum d2_status ret(struct ts_lower *L, struct tsv *v, struct tsv **out)
{
    *out = v;
    return v ? D2_OK : (L->err->code ? L->err->code : D2_ERR_NOMEM);
}

/* nonzero(mask) as [n, rank] i64. */
static d2_value_id nonzero_rows(struct ts_lower *L, d2_value_id mask)
{
    int64_t perm[2] = { 1, 0 };
    d2_value_id nz = ts_emit1(L, D2_OP_NON_ZERO, 1, &mask);
    return ts_transpose(L, nz, perm, 2);
}

/* The index list of aten::index/index_put_: positions of the tensors, as IR values. */
struct index_spec {
    uint32_t first, count;           /* the tensors occupy positions [first, first+count) */
    d2_value_id idx[D2_MAX_RANK];    /* int indices (masks already turned into coordinates) */
    uint32_t num_idx;                /* index tensors after expanding masks (one per dim) */
    bool single_mask;                /* exactly one bool mask */
    d2_value_id mask_rows;           /* its nonzero coordinates [n, m] */
    uint32_t mask_rank;
};

static enum d2_status parse_indices(struct ts_lower *L, struct ts_call *c, struct tsv *list, struct index_spec *s)
{
    uint32_t n, last = 0;
    bool seen = false;
    memset(s, 0, sizeof *s);
    if (!list || (list->kind != TSV_LIST && list->kind != TSV_TUPLE))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: indices must be a list", c->name);
    n = list->u.seq.count;
    for (uint32_t i = 0; i < n; i++) {
        struct tsv *t = list->u.seq.items[i];
        if (t->kind == TSV_NONE)
            continue;
        if (!ts_is_tensor(t))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: index %u is %s", c->name, i, tsv_describe(t));
        if (seen && i != last + 1)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: index tensors separated by None are not supported", c->name);
        if (!seen)
            s->first = i;
        seen = true;
        last = i;
        s->count++;
    }
    if (!seen)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: no index tensor", c->name);
    for (uint32_t i = s->first; i < s->first + s->count; i++) {
        d2_value_id v = ts_use(L, list->u.seq.items[i]);
        if (v == D2_NO_VALUE)
            return L->err->code;
        enum d2_dtype dt = ts_type(L, v)->dtype;
        if (dt == D2_DTYPE_BOOL || dt == D2_DTYPE_U8) {
            int32_t m = ts_rank(L, v);
            d2_value_id rows;
            if (m < 1)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: a 0-d mask", c->name);
            rows = nonzero_rows(L, ts_cast(L, v, D2_DTYPE_BOOL));
            if (s->count == 1) {
                s->single_mask = true;
                s->mask_rows = rows;
                s->mask_rank = (uint32_t)m;
            }
            for (int32_t k = 0; k < m; k++) {
                int64_t col = k;
                if (s->num_idx >= D2_MAX_RANK)
                    return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: too many indexed dims", c->name);
                s->idx[s->num_idx++] = ts_gather(L, rows, ts_const_i64(L, &col, 1, true), 1);
            }
        } else {
            if (!d2_dtype_is_integer(dt))
                return ts_fail(L, D2_ERR_SHAPE, "%s: indices must be integer or bool tensors, got %s", c->name,
                               d2_dtype_name(dt));
            if (s->num_idx >= D2_MAX_RANK)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: too many indexed dims", c->name);
            s->idx[s->num_idx++] = ts_cast(L, v, D2_DTYPE_I64);
        }
    }
    return L->err->code;
}

/* Broadcast the index tensors together and stack them along a new last axis. */
static d2_value_id stacked_indices(struct ts_lower *L, const struct index_spec *s)
{
    d2_value_id zeros = D2_NO_VALUE, parts[D2_MAX_RANK];
    int64_t zero = 0;
    for (uint32_t i = 0; i < s->num_idx; i++) {
        d2_value_id z = ts_binary(L, D2_OP_MUL, s->idx[i], ts_const_i64(L, &zero, 1, true));
        zeros = i == 0 ? z : ts_binary(L, D2_OP_ADD, zeros, z);
    }
    for (uint32_t i = 0; i < s->num_idx; i++)
        parts[i] = ts_unsqueeze(L, ts_binary(L, D2_OP_ADD, s->idx[i], zeros), -1);
    return ts_concat(L, parts, s->num_idx, -1);
}

static enum d2_status index_(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self");
    struct index_spec s;
    d2_value_id x;
    enum d2_status st;
    if (self && (self->kind == TSV_LIST || self->kind == TSV_TUPLE) && c->count == 2) {
        /* list.index(value): the first position holding value */
        for (uint32_t i = 0; i < self->u.seq.count; i++) {
            bool known;
            if (tsv_static_equal(self->u.seq.items[i], c->args[1], &known) && known)
                return ret(L, tsv_int(L, i), out);
            if (!known)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "list.index() of a value known only at run time");
        }
        return ts_fail(L, D2_ERR_PARSE, "list.index(): %s is not in the list", tsv_describe(c->args[1]));
    }
    if (!ts_is_tensor(self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(self));
    x = ts_use(L, self);
    if (x == D2_NO_VALUE || (st = parse_indices(L, c, ts_arg(c, 1, "indices"), &s)) != D2_OK)
        return L->err->code;
    if (ts_rank(L, x) >= 0 && s.first + s.num_idx > (uint32_t)ts_rank(L, x))
        return ts_fail(L, D2_ERR_SHAPE, "%s: too many indices for a tensor of rank %d", c->name, ts_rank(L, x));
    if (s.num_idx == 1) /* one index tensor: gather along its dim */
        return ts_ret_tensor(L, ts_gather(L, x, s.idx[0], s.first), out);
    if (s.first != 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: several index tensors after a None", c->name);
    {
        d2_value_id in[2] = { x, stacked_indices(L, &s) };
        return ts_ret_tensor(L, ts_emit1(L, D2_OP_GATHER_ND, 2, in), out);
    }
}

/* x with negative indices along dims [0, k) wrapped (scatter_nd wants them in range). */
static d2_value_id wrap_negative(struct ts_lower *L, d2_value_id x, d2_value_id idx, uint32_t k)
{
    int64_t zero = 0;
    d2_value_id dims = D2_NO_VALUE;
    {
        int32_t n = ts_node(L, D2_OP_SHAPE, 1, &x, 1);
        if (n < 0)
            return D2_NO_VALUE;
        ((struct d2_attrs_shape *)ts_attrs(L, n))->start = 0;
        ((struct d2_attrs_shape *)ts_attrs(L, n))->end = k;
        if (ts_finish(L, n, &dims) != D2_OK)
            return D2_NO_VALUE;
    }
    d2_value_id neg = ts_binary(L, D2_OP_LESS, idx, ts_const_i64(L, &zero, 1, true));
    d2_value_id in[3] = { neg, ts_binary(L, D2_OP_ADD, idx, dims), idx };
    return ts_emit1(L, D2_OP_WHERE, 3, in);
}

static enum d2_status index_put(struct ts_lower *L, struct ts_call *c, bool in_place, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *values = ts_arg(c, 2, "values"), *acc = ts_arg(c, 3, "accumulate");
    struct index_spec s;
    d2_value_id x, idx, upd, shape, r, in[3];
    int64_t accumulate = 0;
    int32_t node;
    enum d2_status st;
    if (!ts_is_tensor(self) || !values)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs a tensor and values", c->name);
    x = ts_use(L, self);
    if (x == D2_NO_VALUE || (st = parse_indices(L, c, ts_arg(c, 1, "indices"), &s)) != D2_OK)
        return L->err->code;
    if (acc && !ts_static_int(L, acc, &accumulate))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: accumulate must be static", c->name);
    if (s.first != 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: indices after a None", c->name);
    /* indices [..., k]; updates [...] + x.shape[k:] */
    idx = s.single_mask ? s.mask_rows : stacked_indices(L, &s);
    idx = wrap_negative(L, x, idx, s.num_idx);
    {
        int32_t rank = ts_rank(L, x);
        d2_value_id parts[2];
        int32_t n = ts_node(L, D2_OP_SHAPE, 1, &idx, 1);
        if (n < 0)
            return L->err->code;
        ((struct d2_attrs_shape *)ts_attrs(L, n))->end = -1;
        if (ts_finish(L, n, &parts[0]) != D2_OK)
            return L->err->code;
        n = ts_node(L, D2_OP_SHAPE, 1, &x, 1);
        if (n < 0)
            return L->err->code;
        ((struct d2_attrs_shape *)ts_attrs(L, n))->start = s.num_idx;
        if (ts_finish(L, n, &parts[1]) != D2_OK)
            return L->err->code;
        shape = (uint32_t)rank > s.num_idx ? ts_concat(L, parts, 2, 0) : parts[0];
    }
    in[0] = ts_is_tensor(values) ? ts_cast(L, ts_use(L, values), ts_type(L, x)->dtype)
                                 : ts_number_as(L, values, ts_type(L, x)->dtype);
    in[1] = shape;
    upd = ts_emit1(L, D2_OP_EXPAND, 2, in);
    in[0] = x;
    in[1] = idx;
    in[2] = upd;
    node = ts_node(L, D2_OP_SCATTER_ND, 3, in, 1);
    if (node < 0)
        return L->err->code;
    if (accumulate)
        ((struct d2_attrs_scatter *)ts_attrs(L, node))->reduction = D2_REDUCTION_ADD;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    if (in_place) {
        if ((st = ts_tensor_assign(L, self, r)) != D2_OK)
            return st;
        return ret(L, self, out);
    }
    return ts_ret_tensor(L, r, out);
}

static enum d2_status index_put_(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return index_put(L, c, true, out); }
static enum d2_status index_put_copy(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return index_put(L, c, false, out); }

static enum d2_status nonzero(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self");
    if (!ts_is_tensor(self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(self));
    return ts_ret_tensor(L, nonzero_rows(L, ts_use(L, self)), out);
}

/* nonzero_numpy (torch.where(cond)): one 1-D index tensor per dim. */
static enum d2_status nonzero_numpy(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *t;
    d2_value_id x, nz;
    int32_t rank;
    if (!ts_is_tensor(self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(self));
    x = ts_use(L, self);
    rank = ts_rank(L, x);
    if (rank < 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: rank unknown at compile time", c->name);
    nz = ts_emit1(L, D2_OP_NON_ZERO, 1, &x);
    t = tsv_seq_new(L, TSV_LIST, (uint32_t)(rank ? rank : 1));
    for (int64_t i = 0; t && i < (rank ? rank : 1); i++)
        if (!(t->u.seq.items[i] = tsv_tensor(L, ts_gather(L, nz, ts_const_i64(L, &i, 1, true), 0))))
            return L->err->code;
    return ret(L, t, out);
}

static enum d2_status pair(struct ts_lower *L, d2_value_id a, d2_value_id b, struct tsv **out)
{
    struct tsv *t = tsv_seq_new(L, TSV_TUPLE, 2);
    if (!t || !(t->u.seq.items[0] = tsv_tensor(L, a)) || !(t->u.seq.items[1] = tsv_tensor(L, b)))
        return L->err->code;
    return ret(L, t, out);
}

static enum d2_status topk(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *k = ts_arg(c, 1, "k"), *dim = ts_arg(c, 2, "dim");
    struct tsv *largest = ts_arg(c, 3, "largest"), *sorted = ts_arg(c, 4, "sorted");
    d2_value_id x, in[2], outs[2];
    int64_t axis = -1, l = 1, s = 1;
    int32_t node;
    if (!ts_is_tensor(self) || !k)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs a tensor and k", c->name);
    if ((dim && !ts_static_int(L, dim, &axis)) || (largest && !ts_static_int(L, largest, &l)) ||
        (sorted && !ts_static_int(L, sorted, &s)))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dim, largest and sorted must be static", c->name);
    x = ts_use(L, self);
    in[0] = x;
    in[1] = ts_unsqueeze(L, ts_int_value(L, k), 0);
    node = ts_node(L, D2_OP_TOPK, 2, in, 2);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_topk *)ts_attrs(L, node))->axis = axis;
    ((struct d2_attrs_topk *)ts_attrs(L, node))->largest = l != 0;
    ((struct d2_attrs_topk *)ts_attrs(L, node))->sorted = 1; /* unsorted order is unspecified; sorted is valid */
    if (ts_finish(L, node, outs) != D2_OK)
        return L->err->code;
    return pair(L, outs[0], outs[1], out);
}

static enum d2_status sort_impl(struct ts_lower *L, struct ts_call *c, bool indices_only, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *dim = ts_arg(c, 1, "dim"), *desc = ts_arg(c, 2, "descending");
    d2_value_id x, outs[2];
    int64_t axis = -1, d = 0;
    int32_t node;
    if (!ts_is_tensor(self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(self));
    if (dim && dim->kind == TSV_BOOL) { /* sort(self, stable, dim, descending) */
        dim = ts_arg(c, 2, "dim");
        desc = ts_arg(c, 3, "descending");
    }
    if ((dim && !ts_static_int(L, dim, &axis)) || (desc && !ts_static_int(L, desc, &d)))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dim and descending must be static", c->name);
    x = ts_use(L, self);
    node = ts_node(L, D2_OP_SORT, 1, &x, 2);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_sort *)ts_attrs(L, node))->axis = axis;
    ((struct d2_attrs_sort *)ts_attrs(L, node))->descending = d != 0;
    if (ts_finish(L, node, outs) != D2_OK)
        return L->err->code;
    if (indices_only)
        return ts_ret_tensor(L, outs[1], out);
    return pair(L, outs[0], outs[1], out);
}

static enum d2_status sort(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return sort_impl(L, c, false, out); }
static enum d2_status argsort(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return sort_impl(L, c, true, out); }

static enum d2_status gather(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *dim = ts_arg(c, 1, "dim"), *index = ts_arg(c, 2, "index");
    d2_value_id in[2], r;
    int64_t axis;
    int32_t node;
    if (!ts_is_tensor(self) || !ts_is_tensor(index) || !dim || !ts_static_int(L, dim, &axis))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s(self, dim, index) with a static dim", c->name);
    in[0] = ts_use(L, self);
    in[1] = ts_cast(L, ts_use(L, index), D2_DTYPE_I64);
    node = ts_node(L, D2_OP_GATHER_ELEMENTS, 2, in, 1);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_axis *)ts_attrs(L, node))->axis = axis;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

/* torch's scatter reads src only over index's shape (src may be larger in any dim);
 * scatter_elements wants updates of index's exact shape, so slice src down to it
 * unless the static shapes already agree. */
static d2_value_id src_over_index(struct ts_lower *L, d2_value_id src, d2_value_id index)
{
    const struct d2_type *ts = ts_type(L, src), *ti = ts_type(L, index);
    int32_t rank = ts_rank(L, index);
    bool same = ts_rank(L, src) == rank;
    for (int32_t d = 0; same && d < rank; d++)
        same = ti->dims[d] >= 0 && ts->dims[d] == ti->dims[d];
    if (same)
        return src;
    for (int32_t d = 0; d < rank && src != D2_NO_VALUE; d++) {
        int64_t zero = 0;
        d2_value_id size;
        int32_t n = ts_node(L, D2_OP_SHAPE, 1, &index, 1);
        if (n < 0)
            return D2_NO_VALUE;
        ((struct d2_attrs_shape *)ts_attrs(L, n))->start = d;
        ((struct d2_attrs_shape *)ts_attrs(L, n))->end = d + 1;
        if (ts_finish(L, n, &size) != D2_OK)
            return D2_NO_VALUE;
        src = ts_slice1(L, src, d, ts_const_i64(L, &zero, 1, false), size, 1);
    }
    return src;
}

/* aten::scatter(_) (src tensor or value scalar, optional reduce="add"|"multiply") and
 * aten::scatter_add(_): y = copy of self, y[.., index[i] at dim, ..] = src[i] (or
 * combined), i over index's shape. A value scalar is expanded to index's shape. */
static enum d2_status scatter_impl(struct ts_lower *L, struct ts_call *c, bool in_place, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *dim = ts_arg(c, 1, "dim"), *index = ts_arg(c, 2, "index");
    struct tsv *src = ts_arg(c, 3, "src"), *reduce = ts_arg(c, 4, "reduce");
    bool add = strstr(c->name, "scatter_add") != NULL;
    int32_t reduction = add ? D2_REDUCTION_ADD : D2_REDUCTION_NONE;
    d2_value_id in[3], r;
    int64_t axis;
    int32_t node;
    enum d2_status st;
    if (!src)
        src = ts_arg(c, 3, "value");
    if (!ts_is_tensor(self) || !ts_is_tensor(index) || !src || !dim || !ts_static_int(L, dim, &axis))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s(self, dim, index, src|value) with a static dim", c->name);
    if (reduce && reduce->kind == TSV_STR && !add) {
        if (strcmp(reduce->u.s, "add") == 0)
            reduction = D2_REDUCTION_ADD;
        else if (strcmp(reduce->u.s, "multiply") == 0)
            reduction = D2_REDUCTION_MUL;
        else
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: reduce=\"%s\"", c->name, reduce->u.s);
    } else if (reduce && reduce->kind != TSV_NONE) {
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: reduce must be a static string", c->name);
    }
    in[0] = ts_use(L, self);
    in[1] = ts_cast(L, ts_use(L, index), D2_DTYPE_I64);
    if (in[0] == D2_NO_VALUE || in[1] == D2_NO_VALUE)
        return L->err->code;
    if (ts_norm_dim(L, axis, ts_rank(L, in[0]), &axis) != D2_OK)
        return L->err->code;
    if (ts_is_tensor(src)) {
        in[2] = src_over_index(L, ts_cast(L, ts_use(L, src), ts_type(L, in[0])->dtype), in[1]);
    } else {
        d2_value_id ex[2] = { ts_number_as(L, src, ts_type(L, in[0])->dtype), ts_shape(L, in[1]) };
        in[2] = ex[0] == D2_NO_VALUE || ex[1] == D2_NO_VALUE ? D2_NO_VALUE : ts_emit1(L, D2_OP_EXPAND, 2, ex);
    }
    if (in[2] == D2_NO_VALUE)
        return L->err->code;
    node = ts_node(L, D2_OP_SCATTER_ELEMENTS, 3, in, 1);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_scatter *)ts_attrs(L, node))->axis = axis;
    ((struct d2_attrs_scatter *)ts_attrs(L, node))->reduction = reduction;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    if (in_place) {
        if ((st = ts_tensor_assign(L, self, r)) != D2_OK)
            return st;
        return ret(L, self, out);
    }
    return ts_ret_tensor(L, r, out);
}

static enum d2_status scatter_copy(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return scatter_impl(L, c, false, out); }
static enum d2_status scatter_(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return scatter_impl(L, c, true, out); }

static enum d2_status index_select(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *dim = ts_arg(c, 1, "dim"), *index = ts_arg(c, 2, "index");
    int64_t axis;
    if (!ts_is_tensor(self) || !ts_is_tensor(index) || !dim || !ts_static_int(L, dim, &axis))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s(self, dim, index) with a static dim", c->name);
    d2_value_id x = ts_use(L, self);
    if (ts_norm_dim(L, axis, ts_rank(L, x), &axis) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, ts_gather(L, x, ts_cast(L, ts_use(L, index), D2_DTYPE_I64), axis), out);
}

static enum d2_status masked_fill(struct ts_lower *L, struct ts_call *c, bool in_place, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *mask = ts_arg(c, 1, "mask"), *value = ts_arg(c, 2, "value");
    d2_value_id x, in[3], r;
    enum d2_status st;
    if (!ts_is_tensor(self) || !ts_is_tensor(mask) || !value)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s(self, mask, value)", c->name);
    x = ts_use(L, self);
    in[0] = ts_cast(L, ts_use(L, mask), D2_DTYPE_BOOL);
    in[1] = ts_is_tensor(value) ? ts_cast(L, ts_use(L, value), ts_type(L, x)->dtype)
                                : ts_number_as(L, value, ts_type(L, x)->dtype);
    in[2] = x;
    r = ts_emit1(L, D2_OP_WHERE, 3, in);
    if (!in_place)
        return ts_ret_tensor(L, r, out);
    if ((st = ts_tensor_assign(L, self, r)) != D2_OK)
        return st;
    return ret(L, self, out);
}

static enum d2_status masked_fill_copy(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return masked_fill(L, c, false, out); }
static enum d2_status masked_fill_(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return masked_fill(L, c, true, out); }

const struct ts_op_entry ts_ops_index[] = {
    { "aten::index", index_ }, { "aten::index_put_", index_put_ }, { "aten::index_put", index_put_copy },
    { "aten::nonzero", nonzero }, { "aten::nonzero_numpy", nonzero_numpy }, { "aten::topk", topk },
    { "aten::sort", sort }, { "aten::argsort", argsort }, { "aten::gather", gather },
    { "aten::index_select", index_select }, { "aten::masked_fill", masked_fill_copy },
    { "aten::masked_fill_", masked_fill_ }, { "aten::scatter", scatter_copy }, { "aten::scatter_", scatter_ },
    { "aten::scatter_add", scatter_copy }, { "aten::scatter_add_", scatter_ },
    { NULL, NULL },
};
