/* frontend/torchscript/ts_ops_create.c: tensor creation (zeros/ones/full/empty and
 * their _like and new_ forms, tensor(), arange) and reductions (max/min with and
 * without dim, argmax/argmin, sum/mean/prod, all/any, softmax, numel), with PyTorch's
 * default dtypes: a fill value's Python type picks int64/float32/bool, arange is
 * int64 unless an argument is a float, integer sums accumulate in int64. */
#include "frontend/torchscript/ts_lower.h"

#include <string.h>

static enum d2_status ret(struct ts_lower *L, struct tsv *v, struct tsv **out)
{
    *out = v;
    return v ? D2_OK : (L->err->code ? L->err->code : D2_ERR_NOMEM);
}

/* An operand (tensor or number) as an IR value of dtype. */
static d2_value_id operand(struct ts_lower *L, struct tsv *v, enum d2_dtype dtype)
{
    if (v->kind == TSV_TENSOR)
        return ts_cast(L, ts_use(L, v), dtype);
    if (ts_is_number(v))
        return ts_number_as(L, v, dtype);
    ts_fail(L, D2_ERR_UNSUPPORTED, "expected a tensor or a number, got %s", tsv_describe(v));
    return D2_NO_VALUE;
}

/* ---- creation ---- */

/* Fill a new tensor of `shape` (an int list value) with `fill` (a number). */
static enum d2_status filled(struct ts_lower *L, struct ts_call *c, struct tsv *shape_list, struct tsv *fill,
                             enum d2_dtype dt, struct tsv **out)
{
    uint32_t count;
    bool all_static;
    d2_value_id shape = ts_int_list_value(L, shape_list, NULL, 0, &count, &all_static), r;
    double value = 0;
    if (shape == D2_NO_VALUE)
        return L->err->code;
    if (!fill || ts_static_float(L, fill, &value)) {
        int32_t n = ts_node(L, D2_OP_CONSTANT_OF_SHAPE, 1, &shape, 1);
        if (n < 0)
            return L->err->code;
        ((struct d2_attrs_constant_of_shape *)ts_attrs(L, n))->dtype = dt;
        ((struct d2_attrs_constant_of_shape *)ts_attrs(L, n))->value = value;
        if (ts_finish(L, n, &r) != D2_OK)
            return L->err->code;
        return ts_ret_tensor(L, r, out);
    }
    {
        d2_value_id in[2] = { operand(L, fill, dt), shape };
        (void)c;
        return ts_ret_tensor(L, ts_emit1(L, D2_OP_EXPAND, 2, in), out);
    }
}

static enum d2_dtype default_fill_dtype(const struct tsv *fill)
{
    if (!fill)
        return D2_DTYPE_F32;
    if (fill->kind == TSV_BOOL || (fill->kind == TSV_SCALAR && fill->u.scalar.type == TS_PY_BOOL))
        return D2_DTYPE_BOOL;
    if (fill->kind == TSV_INT || (fill->kind == TSV_SCALAR && fill->u.scalar.type == TS_PY_INT))
        return D2_DTYPE_I64;
    return D2_DTYPE_F32;
}

static enum d2_status make_filled(struct ts_lower *L, struct ts_call *c, int fill_kind, struct tsv **out)
{
    /* fill_kind: 0 zeros, 1 ones, 2 full (fill is argument 1) */
    struct tsv *size = ts_arg(c, 0, "size"), *fill = NULL, *one = NULL;
    enum d2_dtype dt;
    enum d2_status st;
    if (fill_kind == 2)
        fill = ts_arg(c, 1, "fill_value");
    if ((st = ts_dtype_arg(L, c, 99, "dtype", &dt)) != D2_OK)
        return st;
    if (dt == D2_DTYPE_UNDEFINED)
        dt = fill_kind == 2 ? default_fill_dtype(fill) : D2_DTYPE_F32;
    if (fill_kind == 1 && !(one = tsv_int(L, 1)))
        return L->err->code;
    return filled(L, c, size, fill_kind == 1 ? one : fill, dt, out);
}

static enum d2_status zeros(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return make_filled(L, c, 0, out); }
static enum d2_status ones(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return make_filled(L, c, 1, out); }
static enum d2_status full(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return make_filled(L, c, 2, out); }

/* *_like(self, [fill], dtype=...) and new_*(self, size, [fill], dtype=...). */
static enum d2_status like(struct ts_lower *L, struct ts_call *c, bool is_new, int fill_kind, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *fill = NULL, *size;
    enum d2_dtype dt;
    enum d2_status st;
    d2_value_id x;
    uint32_t fill_pos = is_new ? 2 : 1;
    if (!ts_is_tensor(self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(self));
    x = ts_use(L, self);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if ((st = ts_dtype_arg(L, c, 99, "dtype", &dt)) != D2_OK)
        return st;
    if (dt == D2_DTYPE_UNDEFINED)
        dt = ts_type(L, x)->dtype;
    if (fill_kind == 2)
        fill = ts_arg(c, fill_pos, "fill_value");
    else if (fill_kind == 1 && !(fill = tsv_int(L, 1)))
        return L->err->code;
    if (is_new) {
        size = ts_arg(c, 1, "size");
    } else {
        /* the shape of self as a 1-D tensor standing in for the size list */
        size = tsv_tensor(L, ts_shape(L, x));
        if (!size)
            return L->err->code;
    }
    return filled(L, c, size, fill, dt, out);
}

static enum d2_status zeros_like(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return like(L, c, false, 0, out); }
static enum d2_status ones_like(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return like(L, c, false, 1, out); }
static enum d2_status full_like(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return like(L, c, false, 2, out); }
static enum d2_status new_zeros(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return like(L, c, true, 0, out); }
static enum d2_status new_ones(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return like(L, c, true, 1, out); }
static enum d2_status new_full(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return like(L, c, true, 2, out); }

/* torch.tensor(data, dtype=...), as_tensor, scalar_tensor. */
static enum d2_status tensor_(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *data = ts_arg(c, 0, "data");
    enum d2_dtype dt;
    enum d2_status st;
    if (!data)
        return ts_fail(L, D2_ERR_PARSE, "%s needs data", c->name);
    if ((st = ts_dtype_arg(L, c, 99, "dtype", &dt)) != D2_OK)
        return st;
    if (data->kind == TSV_TENSOR)
        return ts_ret_tensor(L, dt ? ts_cast(L, ts_use(L, data), dt) : ts_use(L, data), out);
    if (ts_is_number(data)) {
        if (dt == D2_DTYPE_UNDEFINED)
            dt = default_fill_dtype(data);
        return ts_ret_tensor(L, ts_number_as(L, data, dt), out);
    }
    if (data->kind == TSV_LIST || data->kind == TSV_TUPLE) {
        uint32_t n = data->u.seq.count;
        d2_value_id *parts = d2_arena_alloc(&L->arena, sizeof *parts * (n ? n : 1));
        if (!parts)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        if (dt == D2_DTYPE_UNDEFINED) {
            dt = D2_DTYPE_BOOL;
            for (uint32_t i = 0; i < n; i++) {
                enum d2_dtype d = default_fill_dtype(data->u.seq.items[i]);
                if (d == D2_DTYPE_F32 || (d == D2_DTYPE_I64 && dt == D2_DTYPE_BOOL))
                    dt = d;
            }
            if (n == 0)
                dt = D2_DTYPE_F32;
        }
        if (n == 0) {
            int64_t zero = 0;
            struct d2_tensor t;
            if (d2_tensor_alloc(&t, L->alloc, dt, 1, &zero, L->err) != D2_OK)
                return L->err->code;
            return ts_ret_tensor(L, d2_graph_add_constant(L->frame->g, NULL, &t, L->err), out);
        }
        for (uint32_t i = 0; i < n; i++) {
            struct tsv *item = data->u.seq.items[i];
            if (!ts_is_number(item) && !ts_is_tensor(item))
                return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of nested lists", c->name);
            parts[i] = ts_unsqueeze(L, operand(L, item, dt), 0);
        }
        return ts_ret_tensor(L, ts_concat(L, parts, n, 0), out);
    }
    return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(data));
}

static bool is_float_number(struct ts_lower *L, const struct tsv *v)
{
    if (v->kind == TSV_FLOAT || (v->kind == TSV_SCALAR && v->u.scalar.type == TS_PY_FLOAT))
        return true;
    if (v->kind == TSV_TENSOR) {
        const struct ts_cell *cell = v->u.tensor.cell;
        return d2_dtype_is_float(cell->v.g->values[cell->v.id].type.dtype);
    }
    (void)L;
    return false;
}

static enum d2_status arange(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *nums[3];
    uint32_t n = 0;
    enum d2_dtype dt;
    enum d2_status st;
    bool any_float = false;
    d2_value_id in[3], r;
    for (uint32_t i = 0; i < ts_num_positional(c) && n < 3; i++) {
        struct tsv *v = c->args[i];
        if (!ts_is_number(v) && !(ts_is_tensor(v)))
            break;
        nums[n++] = v;
    }
    for (uint32_t i = 0; i < c->count; i++)
        if (c->names && c->names[i] && (!strcmp(c->names[i], "start") || !strcmp(c->names[i], "end") ||
                                        !strcmp(c->names[i], "step")))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s with keyword bounds", c->name);
    if (n == 0)
        return ts_fail(L, D2_ERR_PARSE, "%s needs an end", c->name);
    if ((st = ts_dtype_arg(L, c, 99, "dtype", &dt)) != D2_OK)
        return st;
    for (uint32_t i = 0; i < n; i++)
        any_float = any_float || is_float_number(L, nums[i]);
    if (dt == D2_DTYPE_UNDEFINED)
        dt = any_float ? D2_DTYPE_F32 : D2_DTYPE_I64;
    /* Compute in double (torch's accumulate type for floats) or int64, then cast. */
    enum d2_dtype work = d2_dtype_is_float(dt) || any_float ? D2_DTYPE_F64 : D2_DTYPE_I64;
    struct tsv *zero = tsv_int(L, 0), *one = tsv_int(L, 1);
    if (!zero || !one)
        return L->err->code;
    in[0] = operand(L, n == 1 ? zero : nums[0], work);
    in[1] = operand(L, n == 1 ? nums[0] : nums[1], work);
    in[2] = operand(L, n == 3 ? nums[2] : one, work);
    for (int k = 0; k < 3; k++)
        if (in[k] != D2_NO_VALUE && ts_rank(L, in[k]) > 0)
            in[k] = ts_reshape_static(L, in[k], NULL, 0);
    r = ts_emit1(L, D2_OP_RANGE, 3, in);
    return ts_ret_tensor(L, ts_cast(L, r, dt), out);
}

/* ---- reductions ---- */

static enum d2_status reduce_dims(struct ts_lower *L, struct ts_call *c, struct tsv *dims, int32_t rank, int64_t *axes,
                                  uint32_t *count)
{
    if (!dims || dims->kind == TSV_NONE) {
        *count = 0;
        return D2_OK;
    }
    if (!ts_static_int_list(L, dims, axes, D2_MAX_RANK, count))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dims must be known at compile time", c->name);
    for (uint32_t i = 0; i < *count; i++) {
        enum d2_status st = ts_norm_dim(L, axes[i], rank, &axes[i]);
        if (st != D2_OK)
            return st;
    }
    return D2_OK;
}

static enum d2_status max_min(struct ts_lower *L, struct ts_call *c, bool is_max, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *dim = ts_arg(c, 1, "dim"), *keep = ts_arg(c, 2, "keepdim");
    d2_value_id x;
    int64_t axis;
    bool keepdim = false;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    if (dim && dim->kind == TSV_TENSOR) /* max(a, b): elementwise */
        return ts_call_op(L, is_max ? "aten::maximum" : "aten::minimum", c, out);
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (!dim || dim->kind == TSV_NONE) {
        d2_value_id r = ts_reduce(L, is_max ? D2_OP_REDUCE_MAX : D2_OP_REDUCE_MIN, x, NULL, 0, false);
        return ts_ret_tensor(L, r, out);
    }
    if (!ts_static_int(L, dim, &axis) || ts_norm_dim(L, axis, ts_rank(L, x), &axis) != D2_OK)
        return L->err->code ? L->err->code : ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dim must be static", c->name);
    if (keep) {
        int64_t k;
        if (!ts_static_int(L, keep, &k))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: keepdim must be static", c->name);
        keepdim = k != 0;
    }
    {
        d2_value_id values = ts_reduce(L, is_max ? D2_OP_REDUCE_MAX : D2_OP_REDUCE_MIN, x, &axis, 1, keepdim), idx;
        int32_t n = ts_node(L, is_max ? D2_OP_ARGMAX : D2_OP_ARGMIN, 1, &x, 1);
        struct tsv *t;
        if (n < 0)
            return L->err->code;
        ((struct d2_attrs_arg_reduce *)ts_attrs(L, n))->axis = axis;
        ((struct d2_attrs_arg_reduce *)ts_attrs(L, n))->keepdims = keepdim;
        if (ts_finish(L, n, &idx) != D2_OK || values == D2_NO_VALUE)
            return L->err->code;
        t = tsv_seq_new(L, TSV_TUPLE, 2);
        if (!t || !(t->u.seq.items[0] = tsv_tensor(L, values)) || !(t->u.seq.items[1] = tsv_tensor(L, idx)))
            return L->err->code;
        return ret(L, t, out);
    }
}

static enum d2_status t_max(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return max_min(L, c, true, out); }
static enum d2_status t_min(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return max_min(L, c, false, out); }

static enum d2_status arg_max_min(struct ts_lower *L, struct ts_call *c, bool is_max, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *dim = ts_arg(c, 1, "dim"), *keep = ts_arg(c, 2, "keepdim");
    d2_value_id x;
    int64_t axis = 0, k = 0;
    int32_t n;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (keep && !ts_static_int(L, keep, &k))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: keepdim must be static", c->name);
    if (!dim || dim->kind == TSV_NONE) {
        int64_t minus1 = -1;
        x = ts_reshape_static(L, x, &minus1, 1);
        k = 0;
    } else if (!ts_static_int(L, dim, &axis) || ts_norm_dim(L, axis, ts_rank(L, x), &axis) != D2_OK) {
        return L->err->code ? L->err->code : ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dim must be static", c->name);
    }
    n = ts_node(L, is_max ? D2_OP_ARGMAX : D2_OP_ARGMIN, 1, &x, 1);
    if (n < 0)
        return L->err->code;
    ((struct d2_attrs_arg_reduce *)ts_attrs(L, n))->axis = axis;
    ((struct d2_attrs_arg_reduce *)ts_attrs(L, n))->keepdims = k != 0;
    if (ts_finish(L, n, &x) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, x, out);
}

static enum d2_status argmax(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return arg_max_min(L, c, true, out); }
static enum d2_status argmin(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return arg_max_min(L, c, false, out); }

static enum d2_status sum_mean(struct ts_lower *L, struct ts_call *c, enum d2_op op, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *dims = ts_arg(c, 1, "dim"), *keep = ts_arg(c, 2, "keepdim");
    d2_value_id x;
    int64_t axes[D2_MAX_RANK], k = 0;
    uint32_t count;
    enum d2_dtype dt;
    enum d2_status st;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if ((st = reduce_dims(L, c, dims, ts_rank(L, x), axes, &count)) != D2_OK)
        return st;
    if (keep && keep->kind != TSV_NONE && !ts_static_int(L, keep, &k))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: keepdim must be static", c->name);
    if ((st = ts_dtype_arg(L, c, 99, "dtype", &dt)) != D2_OK)
        return st;
    if (dt == D2_DTYPE_UNDEFINED && op == D2_OP_REDUCE_SUM && !d2_dtype_is_float(ts_type(L, x)->dtype))
        dt = D2_DTYPE_I64; /* integer sums accumulate in int64 */
    if (dt != D2_DTYPE_UNDEFINED)
        x = ts_cast(L, x, dt);
    return ts_ret_tensor(L, ts_reduce(L, op, x, count ? axes : NULL, count, k != 0), out);
}

static enum d2_status sum(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return sum_mean(L, c, D2_OP_REDUCE_SUM, out); }
static enum d2_status mean(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return sum_mean(L, c, D2_OP_REDUCE_MEAN, out); }
static enum d2_status prod(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return sum_mean(L, c, D2_OP_REDUCE_PROD, out); }

static enum d2_status all_any(struct ts_lower *L, struct ts_call *c, bool is_all, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *dim = ts_arg(c, 1, "dim"), *keep = ts_arg(c, 2, "keepdim");
    d2_value_id x;
    int64_t axis, k = 0;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    x = ts_cast(L, ts_cast(L, ts_use(L, a), D2_DTYPE_BOOL), D2_DTYPE_I32);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (keep && !ts_static_int(L, keep, &k))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: keepdim must be static", c->name);
    if (!dim || dim->kind == TSV_NONE) {
        x = ts_reduce(L, is_all ? D2_OP_REDUCE_MIN : D2_OP_REDUCE_MAX, x, NULL, 0, false);
    } else {
        if (!ts_static_int(L, dim, &axis) || ts_norm_dim(L, axis, ts_rank(L, x), &axis) != D2_OK)
            return L->err->code ? L->err->code : ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dim must be static", c->name);
        x = ts_reduce(L, is_all ? D2_OP_REDUCE_MIN : D2_OP_REDUCE_MAX, x, &axis, 1, k != 0);
    }
    /* all() of an empty tensor is True: reduce_min of nothing gives the dtype's max */
    return ts_ret_tensor(L, ts_cast(L, x, D2_DTYPE_BOOL), out);
}

static enum d2_status all_(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return all_any(L, c, true, out); }
static enum d2_status any_(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return all_any(L, c, false, out); }

static enum d2_status softmax_impl(struct ts_lower *L, struct ts_call *c, enum d2_op op, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *dim = ts_arg(c, 1, "dim");
    d2_value_id x, r;
    int64_t axis;
    enum d2_dtype dt;
    enum d2_status st;
    int32_t n;
    if (!ts_is_tensor(a) || !dim || !ts_static_int(L, dim, &axis))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs a tensor and a static dim", c->name);
    x = ts_use(L, a);
    if (x == D2_NO_VALUE || (st = ts_norm_dim(L, axis, ts_rank(L, x), &axis)) != D2_OK)
        return L->err->code;
    if ((st = ts_dtype_arg(L, c, 2, "dtype", &dt)) != D2_OK)
        return st;
    if (dt != D2_DTYPE_UNDEFINED)
        x = ts_cast(L, x, dt);
    else if (!d2_dtype_is_float(ts_type(L, x)->dtype))
        x = ts_cast(L, x, D2_DTYPE_F32);
    n = ts_node(L, op, 1, &x, 1);
    if (n < 0)
        return L->err->code;
    ((struct d2_attrs_axis *)ts_attrs(L, n))->axis = axis;
    if (ts_finish(L, n, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

static enum d2_status softmax(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return softmax_impl(L, c, D2_OP_SOFTMAX, out); }
static enum d2_status log_softmax(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return softmax_impl(L, c, D2_OP_LOG_SOFTMAX, out); }

static enum d2_status numel(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    d2_value_id x, r;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (d2_type_is_static(ts_type(L, x)))
        return ret(L, tsv_int(L, d2_type_numel(ts_type(L, x))), out);
    r = ts_emit1(L, D2_OP_SIZE, 1, &x);
    return ret(L, r == D2_NO_VALUE ? NULL : tsv_scalar(L, ts_here(L, r), TS_PY_INT), out);
}

const struct ts_op_entry ts_ops_create[] = {
    { "t_max", t_max }, { "t_min", t_min }, { "aten::zeros", zeros }, { "aten::ones", ones },
    { "aten::full", full }, { "aten::empty", zeros }, { "aten::zeros_like", zeros_like },
    { "aten::ones_like", ones_like }, { "aten::full_like", full_like }, { "aten::empty_like", zeros_like },
    { "aten::new_zeros", new_zeros }, { "aten::new_ones", new_ones }, { "aten::new_full", new_full },
    { "aten::new_empty", new_zeros }, { "aten::tensor", tensor_ }, { "aten::as_tensor", tensor_ },
    { "aten::scalar_tensor", tensor_ }, { "aten::arange", arange }, { "aten::argmax", argmax },
    { "aten::argmin", argmin }, { "aten::sum", sum }, { "aten::mean", mean }, { "aten::prod", prod },
    { "aten::all", all_ }, { "aten::any", any_ }, { "aten::softmax", softmax },
    { "aten::log_softmax", log_softmax }, { "aten::numel", numel },
    { NULL, NULL },
};
