/* frontend/torchscript/ts_ops_shape.c: shape and data-movement ops with PyTorch
 * semantics: size, view/reshape/flatten, permute/transpose, (un)squeeze, expand,
 * repeat, cat/stack, split/chunk/unbind, select/slice/narrow, pad, meshgrid,
 * repeat_interleave.
 *
 * Ops that return views in PyTorch (view, reshape, flatten, permute, transpose,
 * (un)squeeze, select, slice, narrow, unbind, split) record how the view was made
 * (ts_mark_view), so that an in-place op on the view writes into its base. Sizes may
 * be run-time ints (an input's height, say): lists of sizes become 1-D i64 values
 * built from constants and rank-0 values.
 */
#include "frontend/torchscript/ts_lower.h"

#include <string.h>

static enum d2_status ret(struct ts_lower *L, struct tsv *v, struct tsv **out)
{
    *out = v;
    return v ? D2_OK : (L->err->code ? L->err->code : D2_ERR_NOMEM);
}

/* The tensor self (argument 0) and its IR value and rank. */
static enum d2_status self_arg(struct ts_lower *L, struct ts_call *c, struct tsv **self, d2_value_id *x, int32_t *rank)
{
    *self = ts_arg(c, 0, "self");
    if (!ts_is_tensor(*self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: self must be a tensor, got %s", c->name, tsv_describe(*self));
    *x = ts_use(L, *self);
    if (*x == D2_NO_VALUE)
        return L->err->code;
    *rank = ts_rank(L, *x);
    if (*rank < 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: the rank of the tensor is not known at compile time", c->name);
    return D2_OK;
}

/* self_arg for ops that do not need the rank (view/reshape to a given shape): a tensor
 * merged from branches of different ranks (torchvision's BoxCoder.decode reshapes only
 * when boxes exist) is still reshaped. */
static enum d2_status self_arg_any_rank(struct ts_lower *L, struct ts_call *c, struct tsv **self, d2_value_id *x)
{
    *self = ts_arg(c, 0, "self");
    if (!ts_is_tensor(*self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: self must be a tensor, got %s", c->name, tsv_describe(*self));
    *x = ts_use(L, *self);
    return *x == D2_NO_VALUE ? L->err->code : D2_OK;
}

static enum d2_status view_result(struct ts_lower *L, struct ts_call *c, struct tsv *self, d2_value_id r, ts_op_fn fn,
                                  struct tsv **out)
{
    enum d2_status st = ts_ret_tensor(L, r, out);
    if (st == D2_OK)
        ts_mark_view(L, *out, self, fn, c, 0);
    return L->err->code ? L->err->code : st;
}

static bool static_dim_arg(struct ts_lower *L, struct ts_call *c, uint32_t pos, const char *name, int64_t def,
                           int64_t *out)
{
    struct tsv *a = ts_arg(c, pos, name);
    if (!a || a->kind == TSV_NONE) {
        *out = def;
        return true;
    }
    if (!ts_static_int(L, a, out)) {
        ts_fail(L, D2_ERR_UNSUPPORTED, "%s: argument '%s' must be known at compile time", c->name, name);
        return false;
    }
    return true;
}

/* ---- size ---- */

static enum d2_status size(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *dim = ts_arg(c, 1, "dim");
    d2_value_id x;
    int32_t rank;
    int64_t d;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (dim) {
        if (!ts_static_int(L, dim, &d))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dim must be known at compile time", c->name);
        if ((st = ts_norm_dim(L, d, rank, &d)) != D2_OK)
            return st;
        return ret(L, ts_dim_size(L, x, d), out);
    }
    struct tsv *list = tsv_seq_new(L, TSV_LIST, (uint32_t)rank);
    for (int32_t i = 0; list && i < rank; i++)
        if (!(list->u.seq.items[i] = ts_dim_size(L, x, i)))
            return L->err->code;
    return ret(L, list, out);
}

/* ---- reshaping ---- */

static enum d2_status view(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *shape = ts_arg(c, 1, "size");
    d2_value_id x, s;
    uint32_t count;
    bool all_static;
    enum d2_status st = self_arg_any_rank(L, c, &self, &x);
    if (st != D2_OK)
        return st;
    if (!shape)
        return ts_fail(L, D2_ERR_PARSE, "%s needs a shape", c->name);
    if (ts_is_tensor(shape) && strstr(c->name, "_as")) /* view_as / reshape_as */
        s = ts_shape(L, ts_use(L, shape));
    else
        s = ts_int_list_value(L, shape, NULL, 0, &count, &all_static);
    return view_result(L, c, self, ts_reshape(L, x, s), view, out);
}

/* Dims [from, to) of x as a 1-D i64 value (constants where known). */
static d2_value_id dims_value(struct ts_lower *L, d2_value_id x, int64_t from, int64_t to)
{
    const struct d2_type *t = ts_type(L, x);
    bool known = true;
    int64_t buf[D2_MAX_RANK];
    for (int64_t i = from; i < to; i++) {
        known = known && t->dims[i] >= 0;
        buf[i - from] = t->dims[i];
    }
    if (known)
        return ts_const_i64(L, buf, (uint32_t)(to - from), false);
    int32_t n = ts_node(L, D2_OP_SHAPE, 1, &x, 1);
    d2_value_id r = D2_NO_VALUE;
    if (n < 0)
        return D2_NO_VALUE;
    ((struct d2_attrs_shape *)ts_attrs(L, n))->start = from;
    ((struct d2_attrs_shape *)ts_attrs(L, n))->end = to;
    return ts_finish(L, n, &r) == D2_OK ? r : D2_NO_VALUE;
}

static enum d2_status flatten(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self;
    d2_value_id x, parts[3];
    int32_t rank;
    int64_t start, end;
    uint32_t n = 0;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!static_dim_arg(L, c, 1, "start_dim", 0, &start) || !static_dim_arg(L, c, 2, "end_dim", -1, &end))
        return L->err->code;
    if (rank == 0) {
        int64_t one = 1;
        return view_result(L, c, self, ts_reshape_static(L, x, &one, 1), flatten, out);
    }
    if ((st = ts_norm_dim(L, start, rank, &start)) != D2_OK || (st = ts_norm_dim(L, end, rank, &end)) != D2_OK)
        return st;
    if (start > end)
        return ts_fail(L, D2_ERR_SHAPE, "%s: start_dim %lld after end_dim %lld", c->name, (long long)start,
                       (long long)end);
    if (start == end)
        return ret(L, self, out);
    if (start > 0)
        parts[n++] = dims_value(L, x, 0, start);
    {
        d2_value_id middle = dims_value(L, x, start, end + 1);
        const struct d2_tensor *k = ts_const_of(L, middle);
        if (k) {
            int64_t p = 1;
            for (int64_t i = 0; i < d2_tensor_numel(k); i++)
                p *= d2_tensor_get_i64(k, (size_t)i);
            parts[n++] = ts_const_i64(L, &p, 1, false);
        } else {
            int64_t zero = 0;
            parts[n++] = ts_reduce(L, D2_OP_REDUCE_PROD, middle, &zero, 1, true);
        }
    }
    if (end + 1 < rank)
        parts[n++] = dims_value(L, x, end + 1, rank);
    return view_result(L, c, self, ts_reshape(L, x, ts_concat(L, parts, n, 0)), flatten, out);
}

static enum d2_status permute(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self;
    d2_value_id x;
    int32_t rank;
    int64_t perm[D2_MAX_RANK];
    uint32_t count;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!ts_static_int_list(L, ts_arg(c, 1, "dims"), perm, D2_MAX_RANK, &count) || count != (uint32_t)rank)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dims must be %d static ints", c->name, rank);
    for (uint32_t i = 0; i < count; i++)
        if ((st = ts_norm_dim(L, perm[i], rank, &perm[i])) != D2_OK)
            return st;
    return view_result(L, c, self, ts_transpose(L, x, perm, count), permute, out);
}

static enum d2_status transpose(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self;
    d2_value_id x;
    int32_t rank;
    int64_t perm[D2_MAX_RANK], a, b;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (strcmp(c->name, "aten::t") == 0) {
        a = 0;
        b = rank > 1 ? 1 : 0;
    } else if (!static_dim_arg(L, c, 1, "dim0", 0, &a) || !static_dim_arg(L, c, 2, "dim1", 1, &b)) {
        return L->err->code;
    }
    if (rank == 0)
        return ret(L, self, out);
    if ((st = ts_norm_dim(L, a, rank, &a)) != D2_OK || (st = ts_norm_dim(L, b, rank, &b)) != D2_OK)
        return st;
    for (int32_t i = 0; i < rank; i++)
        perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return view_result(L, c, self, ts_transpose(L, x, perm, (uint32_t)rank), transpose, out);
}

static enum d2_status unsqueeze(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self;
    d2_value_id x;
    int32_t rank;
    int64_t d;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!static_dim_arg(L, c, 1, "dim", 0, &d))
        return L->err->code;
    if (!d2_normalize_axis(d, rank + 1, &d))
        return ts_fail(L, D2_ERR_SHAPE, "%s: dim out of range", c->name);
    return view_result(L, c, self, ts_unsqueeze(L, x, d), unsqueeze, out);
}

static enum d2_status squeeze(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *dim = ts_arg(c, 1, "dim");
    d2_value_id x, r;
    int32_t rank;
    int64_t d;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!dim || dim->kind == TSV_NONE) {
        const struct d2_type *t = ts_type(L, x);
        int64_t axes[D2_MAX_RANK];
        uint32_t n = 0;
        bool known = true;
        for (int32_t i = 0; i < rank; i++) {
            known = known && t->dims[i] >= 0;
            if (t->dims[i] == 1)
                axes[n++] = i;
        }
        if (!known)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s without dim on a tensor whose shape is not static", c->name);
        if (n == 0)
            return ret(L, self, out);
        d2_value_id in[2] = { x, ts_const_i64(L, axes, n, false) };
        return view_result(L, c, self, ts_emit1(L, D2_OP_SQUEEZE, 2, in), squeeze, out);
    }
    if (!ts_static_int(L, dim, &d))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dim must be known at compile time", c->name);
    if (rank == 0)
        return ret(L, self, out);
    if ((st = ts_norm_dim(L, d, rank, &d)) != D2_OK)
        return st;
    if (ts_type(L, x)->dims[d] > 1 || ts_type(L, x)->dims[d] == 0)
        return ret(L, self, out); /* torch leaves dims that are not 1 alone */
    r = ts_squeeze(L, x, d);
    return view_result(L, c, self, r, squeeze, out);
}

/* unsqueeze_, squeeze_: change self's shape in place. */
static enum d2_status reshape_inplace(struct ts_lower *L, struct ts_call *c, ts_op_fn fn, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *r;
    enum d2_status st;
    if (!ts_is_tensor(self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(self));
    if (self->u.tensor.view)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s on a view", c->name);
    if ((st = fn(L, c, &r)) != D2_OK)
        return st;
    if ((st = ts_tensor_assign(L, self, ts_use(L, r))) != D2_OK)
        return st;
    return ret(L, self, out);
}

static enum d2_status unsqueeze_(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return reshape_inplace(L, c, unsqueeze, out); }
static enum d2_status squeeze_(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return reshape_inplace(L, c, squeeze, out); }

static enum d2_status expand(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *sizes = ts_arg(c, 1, "size"), *list;
    d2_value_id x, shape;
    int32_t rank;
    uint32_t n, count;
    bool all_static;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (strcmp(c->name, "aten::expand_as") == 0) {
        if (!ts_is_tensor(sizes))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: other must be a tensor", c->name);
        d2_value_id in[2] = { x, ts_shape(L, ts_use(L, sizes)) };
        return ts_ret_tensor(L, ts_emit1(L, D2_OP_EXPAND, 2, in), out);
    }
    if (!sizes || (sizes->kind != TSV_LIST && sizes->kind != TSV_TUPLE))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: size must be a list", c->name);
    n = sizes->u.seq.count;
    if (n < (uint32_t)rank)
        return ts_fail(L, D2_ERR_SHAPE, "%s: %u sizes for a tensor of rank %d", c->name, n, rank);
    list = tsv_seq_new(L, TSV_LIST, n);
    if (!list)
        return L->err->code;
    for (uint32_t i = 0; i < n; i++) {
        struct tsv *s = sizes->u.seq.items[i];
        int64_t k;
        if (ts_static_int(L, s, &k) && k == -1) {
            if (i < n - (uint32_t)rank)
                return ts_fail(L, D2_ERR_SHAPE, "%s: -1 for a new leading dim", c->name);
            s = ts_dim_size(L, x, (int64_t)(i - (n - (uint32_t)rank)));
            if (!s)
                return L->err->code;
        }
        list->u.seq.items[i] = s;
    }
    shape = ts_int_list_value(L, list, NULL, 0, &count, &all_static);
    d2_value_id in[2] = { x, shape };
    return ts_ret_tensor(L, ts_emit1(L, D2_OP_EXPAND, 2, in), out);
}

static enum d2_status repeat(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *reps = ts_arg(c, 1, "repeats");
    d2_value_id x, r;
    int32_t rank;
    uint32_t count;
    bool all_static;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    r = ts_int_list_value(L, reps, NULL, 0, &count, &all_static);
    if (r == D2_NO_VALUE)
        return L->err->code;
    if (count < (uint32_t)rank)
        return ts_fail(L, D2_ERR_SHAPE, "%s: fewer repeats than dims", c->name);
    for (uint32_t i = (uint32_t)rank; i < count; i++)
        x = ts_unsqueeze(L, x, 0);
    d2_value_id in[2] = { x, r };
    return ts_ret_tensor(L, ts_emit1(L, D2_OP_TILE, 2, in), out);
}

/* ---- joining and splitting ---- */

static enum d2_status cat_stack(struct ts_lower *L, struct ts_call *c, bool stack, struct tsv **out)
{
    struct tsv *list = ts_arg(c, 0, "tensors");
    d2_value_id *parts;
    int64_t dim = 0;
    uint32_t n;
    enum d2_dtype dt;
    if (list && list->kind == TSV_STACKED_LIST) { /* grown by a run-time loop: already one tensor */
        if (!static_dim_arg(L, c, 1, "dim", 0, &dim))
            return L->err->code;
        return ts_ret_tensor(L, ts_stacked_list_join(L, list, dim, stack), out);
    }
    if (!list || (list->kind != TSV_LIST && list->kind != TSV_TUPLE))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: expected a list of tensors", c->name);
    if (!static_dim_arg(L, c, 1, "dim", 0, &dim))
        return L->err->code;
    n = list->u.seq.count;
    if (n == 0)
        return ts_fail(L, D2_ERR_SHAPE, "%s of an empty list", c->name);
    dt = ts_result_type(L, list->u.seq.items, n);
    parts = d2_arena_alloc(&L->arena, sizeof *parts * n);
    if (!parts)
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        struct tsv *t = list->u.seq.items[i];
        if (!ts_is_tensor(t))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: item %u is %s", c->name, i, tsv_describe(t));
        parts[i] = ts_cast(L, ts_use(L, t), dt);
        if (parts[i] == D2_NO_VALUE)
            return L->err->code;
        int32_t rank = ts_rank(L, parts[i]);
        int64_t d;
        if (rank < 0)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: rank not known at compile time", c->name);
        if (stack) {
            if (!d2_normalize_axis(dim, rank + 1, &d))
                return ts_fail(L, D2_ERR_SHAPE, "%s: dim out of range", c->name);
            parts[i] = ts_unsqueeze(L, parts[i], d);
        } else {
            if (!d2_normalize_axis(dim, rank == 0 ? 1 : rank, &d))
                return ts_fail(L, D2_ERR_SHAPE, "%s: dim out of range", c->name);
        }
        if (i == 0)
            dim = d;
    }
    if (n == 1 && !stack)
        return ts_ret_tensor(L, parts[0], out); /* a copy in torch: a new cell */
    return ts_ret_tensor(L, ts_concat(L, parts, n, dim), out);
}

static enum d2_status cat(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return cat_stack(L, c, false, out); }
static enum d2_status stack(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return cat_stack(L, c, true, out); }

/* Split x along dim into pieces of the given sizes (a list of ints, possibly run-time). */
static enum d2_status split_sizes(struct ts_lower *L, struct ts_call *c, struct tsv *self, d2_value_id x, int64_t dim,
                                  struct tsv *sizes, ts_op_fn fn, struct tsv **out)
{
    uint32_t n, count;
    bool all_static;
    struct tsv *t;
    d2_value_id s, *outs;
    int32_t node;
    n = sizes->u.seq.count;
    if (n == 0)
        return ts_fail(L, D2_ERR_SHAPE, "%s: no sizes", c->name);
    t = tsv_seq_new(L, TSV_LIST, n);
    if (!t)
        return L->err->code;
    if (n == 1) { /* the whole tensor (torch checks the size matches) */
        t->u.seq.items[0] = tsv_tensor(L, x);
        if (!t->u.seq.items[0])
            return L->err->code;
        ts_mark_view(L, t->u.seq.items[0], self, fn, c, 0);
        return ret(L, t, out);
    }
    s = ts_int_list_value(L, sizes, NULL, 0, &count, &all_static);
    if (s == D2_NO_VALUE)
        return L->err->code;
    d2_value_id in[2] = { x, s };
    node = ts_node(L, D2_OP_SPLIT, 2, in, n);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_split *)ts_attrs(L, node))->axis = dim;
    outs = d2_arena_alloc(&L->arena, sizeof *outs * n);
    if (!outs || ts_finish(L, node, outs) != D2_OK)
        return L->err->code ? L->err->code : ts_fail(L, D2_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        if (!(t->u.seq.items[i] = tsv_tensor(L, outs[i])))
            return L->err->code;
        ts_mark_view(L, t->u.seq.items[i], self, fn, c, i);
    }
    return ret(L, t, out);
}

static enum d2_status split(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *arg = ts_arg(c, 1, "split_size");
    d2_value_id x;
    int32_t rank;
    int64_t dim, size, total;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!arg)
        arg = ts_arg(c, 1, "split_size_or_sections");
    if (!arg)
        arg = ts_arg(c, 1, "split_sizes");
    if (!static_dim_arg(L, c, 2, "dim", 0, &dim))
        return L->err->code;
    if ((st = ts_norm_dim(L, dim, rank, &dim)) != D2_OK)
        return st;
    if (arg && (arg->kind == TSV_LIST || arg->kind == TSV_TUPLE))
        return split_sizes(L, c, self, x, dim, arg, split, out);
    if (!arg || !ts_static_int(L, arg, &size) || size <= 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: split size must be a positive static int", c->name);
    total = ts_type(L, x)->dims[dim];
    if (total < 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: the split dim's size is not known at compile time", c->name);
    {
        struct tsv *sizes = tsv_seq_new(L, TSV_LIST, 0);
        for (int64_t done = 0; sizes && (done < total || (total == 0 && done == 0)); done += size) {
            if (!tsv_seq_push(L, sizes, tsv_int(L, total - done < size ? total - done : size)))
                return L->err->code;
            if (total == 0)
                break;
        }
        if (!sizes)
            return L->err->code;
        return split_sizes(L, c, self, x, dim, sizes, split, out);
    }
}

static enum d2_status chunk(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self;
    d2_value_id x;
    int32_t rank;
    int64_t chunks, dim, total, size;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!static_dim_arg(L, c, 1, "chunks", 1, &chunks) || !static_dim_arg(L, c, 2, "dim", 0, &dim))
        return L->err->code;
    if ((st = ts_norm_dim(L, dim, rank, &dim)) != D2_OK)
        return st;
    total = ts_type(L, x)->dims[dim];
    if (total < 0 || chunks <= 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: needs a static dim size and chunks > 0", c->name);
    size = (total + chunks - 1) / chunks;
    struct tsv *sizes = tsv_seq_new(L, TSV_LIST, 0);
    for (int64_t done = 0; sizes && done < total; done += size)
        if (!tsv_seq_push(L, sizes, tsv_int(L, total - done < size ? total - done : size)))
            return L->err->code;
    if (!sizes)
        return L->err->code;
    if (sizes->u.seq.count == 0 && !tsv_seq_push(L, sizes, tsv_int(L, 0)))
        return L->err->code;
    return split_sizes(L, c, self, x, dim, sizes, chunk, out);
}

static enum d2_status select_(struct ts_lower *L, struct ts_call *c, struct tsv **out);

static enum d2_status unbind(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *t;
    d2_value_id x;
    int32_t rank;
    int64_t dim, n;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!static_dim_arg(L, c, 1, "dim", 0, &dim))
        return L->err->code;
    if ((st = ts_norm_dim(L, dim, rank, &dim)) != D2_OK)
        return st;
    n = ts_type(L, x)->dims[dim];
    if (n < 0 && L->unbind_count_hint) /* unpacked into that many names (PyTorch raises otherwise) */
        n = L->unbind_count_hint;
    L->unbind_count_hint = 0;
    if (n < 0 || n > 4096)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: the dim's size is not known at compile time", c->name);
    t = tsv_seq_new(L, TSV_LIST, (uint32_t)n);
    for (int64_t i = 0; t && i < n; i++) {
        d2_value_id r = ts_gather(L, x, ts_const_i64(L, &i, 1, true), dim);
        if (!(t->u.seq.items[i] = tsv_tensor(L, r)))
            return L->err->code;
        ts_mark_view(L, t->u.seq.items[i], self, unbind, c, (uint32_t)i);
    }
    return ret(L, t, out);
}

/* ---- selecting ---- */

static enum d2_status select_(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *index = ts_arg(c, 2, "index");
    d2_value_id x, idx;
    int32_t rank;
    int64_t dim;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!static_dim_arg(L, c, 1, "dim", 0, &dim))
        return L->err->code;
    if ((st = ts_norm_dim(L, dim, rank, &dim)) != D2_OK)
        return st;
    if (!index)
        return ts_fail(L, D2_ERR_PARSE, "%s needs an index", c->name);
    idx = ts_int_value(L, index);
    if (idx == D2_NO_VALUE)
        return L->err->code;
    return view_result(L, c, self, ts_gather(L, x, idx, dim), select_, out);
}

static enum d2_status slice(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *start = ts_arg(c, 2, "start"), *end = ts_arg(c, 3, "end");
    d2_value_id x, s, e;
    int32_t rank;
    int64_t dim, step, k;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!static_dim_arg(L, c, 1, "dim", 0, &dim) || !static_dim_arg(L, c, 4, "step", 1, &step))
        return L->err->code;
    if (step <= 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: step must be positive", c->name);
    if ((st = ts_norm_dim(L, dim, rank, &dim)) != D2_OK)
        return st;
    bool full_start = !start || start->kind == TSV_NONE || (ts_static_int(L, start, &k) && k == 0);
    bool full_end = !end || end->kind == TSV_NONE || (ts_static_int(L, end, &k) && k == INT64_MAX);
    if (full_start && full_end && step == 1)
        return ret(L, self, out); /* x[:] is x itself */
    if (!start || start->kind == TSV_NONE) {
        k = 0;
        s = ts_const_i64(L, &k, 1, true);
    } else {
        s = ts_int_value(L, start);
    }
    if (!end || end->kind == TSV_NONE) {
        k = INT64_MAX;
        e = ts_const_i64(L, &k, 1, true);
    } else {
        e = ts_int_value(L, end);
    }
    return view_result(L, c, self, ts_slice1(L, x, dim, s, e, step), slice, out);
}

static enum d2_status narrow(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *start = ts_arg(c, 2, "start"), *length = ts_arg(c, 3, "length");
    d2_value_id x, s, e;
    int32_t rank;
    int64_t dim;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!static_dim_arg(L, c, 1, "dim", 0, &dim))
        return L->err->code;
    if ((st = ts_norm_dim(L, dim, rank, &dim)) != D2_OK)
        return st;
    if (!start || !length)
        return ts_fail(L, D2_ERR_PARSE, "%s needs start and length", c->name);
    s = ts_int_value(L, start);
    e = ts_binary(L, D2_OP_ADD, s, ts_int_value(L, length));
    return view_result(L, c, self, ts_slice1(L, x, dim, s, e, 1), narrow, out);
}

/* flip(self, dims): a copy with the order of each listed dim reversed. */
static enum d2_status flip(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self;
    d2_value_id x;
    int32_t rank;
    int64_t dims[D2_MAX_RANK];
    uint32_t n;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (!ts_static_int_list(L, ts_arg(c, 1, "dims"), dims, D2_MAX_RANK, &n))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dims must be static", c->name);
    for (uint32_t i = 0; i < n; i++) {
        int64_t d, start = -1, end = INT64_MIN;
        if ((st = ts_norm_dim(L, dims[i], rank, &d)) != D2_OK)
            return st;
        x = ts_slice1(L, x, d, ts_const_i64(L, &start, 1, true), ts_const_i64(L, &end, 1, true), -1);
    }
    return ts_ret_tensor(L, x, out);
}

/* ---- padding ---- */

static enum d2_status pad(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self, *pads = ts_arg(c, 1, "pad"), *mode = NULL, *value = NULL, *list;
    d2_value_id x, p, in[3];
    int32_t rank, node;
    uint32_t n, count;
    bool all_static;
    enum d2_status st = self_arg(L, c, &self, &x, &rank);
    if (st != D2_OK)
        return st;
    if (strcmp(c->name, "aten::constant_pad_nd") == 0) {
        value = ts_arg(c, 2, "value");
    } else {
        mode = ts_arg(c, 2, "mode");
        value = ts_arg(c, 3, "value");
    }
    if (!pads || (pads->kind != TSV_LIST && pads->kind != TSV_TUPLE) || pads->u.seq.count % 2 ||
        pads->u.seq.count / 2 > (uint32_t)rank)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: pad must be a list of pairs for the last dims", c->name);
    n = pads->u.seq.count / 2;
    /* torch lists (begin, end) pairs from the last dim backwards; the IR wants all
     * begins then all ends, first dim first. */
    list = tsv_seq_new(L, TSV_LIST, 2u * (uint32_t)rank);
    if (!list)
        return L->err->code;
    for (int32_t d = 0; d < rank; d++) {
        int32_t j = rank - 1 - d;
        struct tsv *zero = tsv_int(L, 0);
        if (!zero)
            return L->err->code;
        list->u.seq.items[d] = (uint32_t)j < n ? pads->u.seq.items[2 * j] : zero;
        list->u.seq.items[rank + d] = (uint32_t)j < n ? pads->u.seq.items[2 * j + 1] : zero;
    }
    p = ts_int_list_value(L, list, NULL, 0, &count, &all_static);
    in[0] = x;
    in[1] = p;
    in[2] = ts_number_as(L, value && value->kind != TSV_NONE ? value : tsv_int(L, 0), ts_type(L, x)->dtype);
    node = ts_node(L, D2_OP_PAD, 3, in, 1);
    if (node < 0)
        return L->err->code;
    if (mode && mode->kind == TSV_STR) {
        struct d2_attrs_pad *a = ts_attrs(L, node);
        if (strcmp(mode->u.s, "reflect") == 0)
            a->mode = D2_PAD_MODE_REFLECT;
        else if (strcmp(mode->u.s, "replicate") == 0)
            a->mode = D2_PAD_MODE_EDGE;
        else if (strcmp(mode->u.s, "circular") == 0)
            a->mode = D2_PAD_MODE_WRAP;
        else if (strcmp(mode->u.s, "constant") != 0)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: mode '%s'", c->name, mode->u.s);
    }
    d2_value_id r;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

/* ---- grids ---- */

static enum d2_status meshgrid(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *list = ts_arg(c, 0, "tensors"), *indexing = ts_arg(c, 1, "indexing"), *t;
    d2_value_id items[D2_MAX_RANK], sizes[D2_MAX_RANK], shape;
    uint32_t n;
    bool xy = indexing && indexing->kind == TSV_STR && strcmp(indexing->u.s, "xy") == 0;
    if (!list || (list->kind != TSV_LIST && list->kind != TSV_TUPLE) || list->u.seq.count == 0 ||
        list->u.seq.count > D2_MAX_RANK)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: expected a list of 1-D tensors", c->name);
    n = list->u.seq.count;
    for (uint32_t i = 0; i < n; i++) {
        if (!ts_is_tensor(list->u.seq.items[i]))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: item %u is %s", c->name, i, tsv_describe(list->u.seq.items[i]));
        items[i] = ts_use(L, list->u.seq.items[i]);
        if (items[i] == D2_NO_VALUE)
            return L->err->code;
        if (ts_rank(L, items[i]) == 0)
            items[i] = ts_unsqueeze(L, items[i], 0);
        if (ts_rank(L, items[i]) != 1)
            return ts_fail(L, D2_ERR_SHAPE, "%s: tensors must be 1-D", c->name);
    }
    if (xy && n >= 2) { /* "xy": the first two dims swap roles */
        d2_value_id tmp = items[0];
        items[0] = items[1];
        items[1] = tmp;
    }
    for (uint32_t i = 0; i < n; i++)
        sizes[i] = ts_shape(L, items[i]);
    shape = ts_concat(L, sizes, n, 0);
    t = tsv_seq_new(L, TSV_LIST, n);
    for (uint32_t i = 0; t && i < n; i++) {
        int64_t dims[D2_MAX_RANK];
        for (uint32_t k = 0; k < n; k++)
            dims[k] = k == i ? -1 : 1;
        d2_value_id r = ts_reshape_static(L, items[i], dims, n), in[2] = { r, shape };
        r = ts_emit1(L, D2_OP_EXPAND, 2, in);
        if (xy && n >= 2) { /* back to x-major order: transpose the first two dims */
            int64_t perm[D2_MAX_RANK];
            for (uint32_t k = 0; k < n; k++)
                perm[k] = k;
            perm[0] = 1;
            perm[1] = 0;
            r = ts_transpose(L, r, perm, n);
        }
        if (!(t->u.seq.items[xy && n >= 2 && i < 2 ? 1 - i : i] = tsv_tensor(L, r)))
            return L->err->code;
    }
    return ret(L, t, out);
}

/* repeat_interleave(x, repeats, dim=None) and repeat_interleave(repeats) for 1-D
 * inputs: out[j] = x[#{i : cumsum(repeats)[i] <= j}]. */
static enum d2_status repeat_interleave(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a0 = ts_arg(c, 0, "self"), *reps = ts_arg(c, 1, "repeats");
    d2_value_id x, r, total, pos, cs, cmp, idx, in[3];
    int64_t zero = 0, one = 1, minus1 = -1;
    if (!reps) { /* repeat_interleave(repeats): x = arange(len(repeats)) */
        reps = a0;
        if (!ts_is_tensor(reps))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(reps));
        r = ts_use(L, reps);
        in[0] = ts_const_i64(L, &zero, 1, true);
        in[1] = ts_squeeze(L, ts_shape(L, r), 0);
        in[2] = ts_const_i64(L, &one, 1, true);
        x = ts_emit1(L, D2_OP_RANGE, 3, in);
    } else {
        struct tsv *dim = ts_arg(c, 2, "dim");
        if (!ts_is_tensor(a0))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a0));
        x = ts_use(L, a0);
        if (dim && dim->kind != TSV_NONE)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s with dim", c->name);
        x = ts_reshape_static(L, x, &minus1, 1);
        if (ts_is_number(reps)) { /* every element repeated k times */
            d2_value_id k = ts_int_value(L, reps), shape, e;
            int64_t last = -1;
            x = ts_unsqueeze(L, x, 1);
            shape = ts_concat(L, (d2_value_id[]){ dims_value(L, x, 0, 1), ts_unsqueeze(L, k, 0) }, 2, 0);
            in[0] = x;
            in[1] = shape;
            e = ts_emit1(L, D2_OP_EXPAND, 2, in);
            return ts_ret_tensor(L, ts_reshape_static(L, e, &last, 1), out);
        }
        if (!ts_is_tensor(reps))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: repeats is %s", c->name, tsv_describe(reps));
        r = ts_use(L, reps);
    }
    r = ts_cast(L, ts_reshape_static(L, r, &minus1, 1), D2_DTYPE_I64);
    if (x == D2_NO_VALUE || r == D2_NO_VALUE)
        return L->err->code;
    {
        int32_t n = ts_node(L, D2_OP_CUM_SUM, 2, (d2_value_id[]){ r, ts_const_i64(L, &zero, 1, true) }, 1);
        if (n < 0 || ts_finish(L, n, &cs) != D2_OK)
            return L->err->code;
    }
    total = ts_reduce(L, D2_OP_REDUCE_SUM, r, NULL, 0, false);
    in[0] = ts_const_i64(L, &zero, 1, true);
    in[1] = total;
    in[2] = ts_const_i64(L, &one, 1, true);
    pos = ts_emit1(L, D2_OP_RANGE, 3, in);
    /* cmp[i, j] = cumsum[i] <= j */
    cmp = ts_binary(L, D2_OP_LESS_EQUAL, ts_unsqueeze(L, cs, 1), ts_unsqueeze(L, pos, 0));
    idx = ts_reduce(L, D2_OP_REDUCE_SUM, ts_cast(L, cmp, D2_DTYPE_I64), &zero, 1, false);
    return ts_ret_tensor(L, ts_gather(L, x, idx, 0), out);
}

const struct ts_op_entry ts_ops_shape[] = {
    { "aten::size", size }, { "aten::view", view }, { "aten::reshape", view }, { "aten::view_as", view },
    { "aten::reshape_as", view }, { "aten::flatten", flatten }, { "aten::permute", permute },
    { "aten::transpose", transpose }, { "aten::t", transpose }, { "aten::unsqueeze", unsqueeze },
    { "aten::squeeze", squeeze }, { "aten::unsqueeze_", unsqueeze_ }, { "aten::squeeze_", squeeze_ },
    { "aten::expand", expand }, { "aten::expand_as", expand }, { "aten::repeat", repeat },
    { "aten::cat", cat }, { "aten::concat", cat }, { "aten::stack", stack }, { "aten::split", split },
    { "aten::split_with_sizes", split }, { "aten::chunk", chunk }, { "aten::unbind", unbind },
    { "aten::select", select_ }, { "t_slice", slice }, { "aten::narrow", narrow },
    { "aten::pad", pad }, { "aten::constant_pad_nd", pad }, { "aten::meshgrid", meshgrid },
    { "aten::repeat_interleave", repeat_interleave }, { "aten::flip", flip },
    { NULL, NULL },
};
