/* frontend/torchscript/ts_ops_seq.c: Python-level builtins on lists, tuples, dicts,
 * strings and None (len, indexing, append/extend/insert, slicing, `in`, dict get/keys/
 * values/items, `is`/`is not`, str/format), and small prim:: helpers (device, dtype,
 * dim, math.*). All of them work on compile-time values; a tensor argument goes to
 * its tensor version. Mutating a list, dict or object that existed before a run-time
 * branch is reported (ts_note_mutation): it cannot be lowered. */
#include "frontend/torchscript/ts_lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum d2_status ret(struct ts_lower *L, struct tsv *v, struct tsv **out)
{
    *out = v;
    return v ? D2_OK : (L->err->code ? L->err->code : D2_ERR_NOMEM);
}

static enum d2_status need(struct ts_lower *L, const struct ts_call *c, uint32_t n)
{
    if (c->count < n)
        return ts_fail(L, D2_ERR_PARSE, "%s takes at least %u arguments, %u given", c->name, n, c->count);
    return D2_OK;
}

static bool int_sequence(const struct tsv *v)
{
    return v->kind == TSV_LIST || v->kind == TSV_TUPLE;
}

static enum d2_status to_tensor_op(struct ts_lower *L, const char *name, struct ts_call *c, struct tsv **out)
{
    ts_op_fn fn = ts_find_op(name);
    if (!fn)
        return ts_fail(L, D2_ERR_INTERNAL, "no tensor op '%s'", name);
    return fn(L, c, out);
}

/* ---- sequences, dicts, strings ---- */

static enum d2_status op_len(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a;
    enum d2_status st = need(L, c, 1);
    if (st != D2_OK)
        return st;
    a = c->args[0];
    switch (a->kind) {
    case TSV_LIST: case TSV_TUPLE: return ret(L, tsv_int(L, a->u.seq.count), out);
    case TSV_DICT: return ret(L, tsv_int(L, a->u.dict.count), out);
    case TSV_STR: return ret(L, tsv_int(L, (int64_t)strlen(a->u.s)), out);
    case TSV_STACKED_LIST: {
        d2_value_id x = ts_use_irval(L, a->u.stacked);
        return x == D2_NO_VALUE ? L->err->code : ret(L, ts_dim_size(L, x, 0), out);
    }
    case TSV_TENSOR: {
        d2_value_id x = ts_use(L, a);
        if (x == D2_NO_VALUE)
            return L->err->code;
        if (ts_rank(L, x) < 1)
            return ts_fail(L, D2_ERR_SHAPE, "len() of a 0-d tensor");
        return ret(L, ts_dim_size(L, x, 0), out);
    }
    default:
        return ts_fail(L, D2_ERR_UNSUPPORTED, "len() of %s", tsv_describe(a));
    }
}

static bool static_index(struct ts_lower *L, const struct tsv *idx, uint32_t count, uint32_t *out)
{
    int64_t i;
    if (!ts_static_int(L, idx, &i))
        return false;
    if (i < 0)
        i += count;
    if (i < 0 || i >= (int64_t)count)
        return false;
    *out = (uint32_t)i;
    return true;
}

static enum d2_status op_getitem(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a, *idx;
    enum d2_status st = need(L, c, 2);
    uint32_t i;
    if (st != D2_OK)
        return st;
    a = c->args[0];
    idx = c->args[1];
    if (a->kind == TSV_LIST || a->kind == TSV_TUPLE) {
        if (!static_index(L, idx, a->u.seq.count, &i)) {
            int64_t k;
            if (ts_static_int(L, idx, &k))
                return ts_fail(L, D2_ERR_PARSE, "index %lld out of range for a sequence of %u", (long long)k,
                               a->u.seq.count);
            /* A run-time index into a list of tensors: stack and select. */
            return to_tensor_op(L, "t_list_select", c, out);
        }
        return ret(L, a->u.seq.items[i], out);
    }
    if (a->kind == TSV_DICT) {
        struct tsv *v = tsv_dict_get(a, idx);
        if (!v)
            return ts_fail(L, D2_ERR_PARSE, "key %s is not in the dict", tsv_describe(idx));
        return ret(L, v, out);
    }
    if (a->kind == TSV_TENSOR)
        return to_tensor_op(L, "t_getitem", c, out);
    if (a->kind == TSV_STACKED_LIST) { /* item i of the stacked items: row i of the tensor */
        struct ts_call rows = *c;
        d2_value_id x = ts_use_irval(L, a->u.stacked);
        rows.args = d2_arena_alloc(&L->arena, sizeof *rows.args * c->count);
        if (!rows.args)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        memcpy(rows.args, c->args, sizeof *rows.args * c->count);
        rows.args[0] = x == D2_NO_VALUE ? NULL : tsv_tensor(L, x);
        if (!rows.args[0])
            return L->err->code;
        return to_tensor_op(L, "t_getitem", &rows, out);
    }
    return ts_fail(L, D2_ERR_UNSUPPORTED, "indexing a %s value", tsv_describe(a));
}

static enum d2_status op_set_item(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a;
    uint32_t i;
    enum d2_status st = need(L, c, 3);
    if (st != D2_OK)
        return st;
    a = c->args[0];
    ts_note_mutation(L, a->born);
    if (a->kind == TSV_LIST && static_index(L, c->args[1], a->u.seq.count, &i)) {
        a->u.seq.items[i] = c->args[2];
        return ret(L, tsv_none(L), out);
    }
    if (a->kind == TSV_DICT)
        return ret(L, tsv_dict_set(L, a, c->args[1], c->args[2]) ? tsv_none(L) : NULL, out);
    return ts_fail(L, D2_ERR_UNSUPPORTED, "item assignment on %s", tsv_describe(a));
}

static enum d2_status op_append(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    enum d2_status st = need(L, c, 2);
    if (st != D2_OK)
        return st;
    if (ts_loop_scan_append(L, c->args[0], c->args[1], &st)) /* a list grown by a run-time loop */
        return st == D2_OK ? ret(L, c->args[0], out) : st;
    if (c->args[0]->kind != TSV_LIST)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "append to %s", tsv_describe(c->args[0]));
    ts_note_mutation(L, c->args[0]->born);
    return ret(L, tsv_seq_push(L, c->args[0], c->args[1]) ? c->args[0] : NULL, out);
}

static enum d2_status op_extend(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    enum d2_status st = need(L, c, 2);
    if (st != D2_OK)
        return st;
    if (c->args[0]->kind != TSV_LIST || !int_sequence(c->args[1]))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "extend of %s", tsv_describe(c->args[0]));
    ts_note_mutation(L, c->args[0]->born);
    struct tsv *src = c->args[1];
    uint32_t n = src->u.seq.count;
    for (uint32_t i = 0; i < n; i++)
        if (!tsv_seq_push(L, c->args[0], src->u.seq.items[i]))
            return L->err->code;
    return ret(L, tsv_none(L), out);
}

static enum d2_status op_insert(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *l;
    int64_t pos;
    enum d2_status st = need(L, c, 3);
    if (st != D2_OK)
        return st;
    l = c->args[0];
    if (l->kind != TSV_LIST || !ts_static_int(L, c->args[1], &pos))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "insert into %s", tsv_describe(l));
    ts_note_mutation(L, l->born);
    if (pos < 0)
        pos += l->u.seq.count;
    if (pos < 0)
        pos = 0;
    if (pos > (int64_t)l->u.seq.count)
        pos = l->u.seq.count;
    if (!tsv_seq_push(L, l, c->args[2]))
        return L->err->code;
    memmove(l->u.seq.items + pos + 1, l->u.seq.items + pos, sizeof *l->u.seq.items * (l->u.seq.count - 1 - (uint32_t)pos));
    l->u.seq.items[pos] = c->args[2];
    return ret(L, tsv_none(L), out);
}

static enum d2_status op_list(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *r;
    enum d2_status st = need(L, c, 1);
    if (st != D2_OK)
        return st;
    if (c->args[0]->kind == TSV_TENSOR)
        return to_tensor_op(L, "t_tolist", c, out);
    if (!int_sequence(c->args[0]))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "list() of %s", tsv_describe(c->args[0]));
    r = tsv_seq_new(L, TSV_LIST, 0);
    for (uint32_t i = 0; r && i < c->args[0]->u.seq.count; i++)
        if (!tsv_seq_push(L, r, c->args[0]->u.seq.items[i]))
            return L->err->code;
    return ret(L, r, out);
}

/* dict(), dict(d) (a shallow copy) or dict(pairs): torchvision's IntermediateLayerGetter
 * starts its outputs with `out = torch.dict()`. */
static enum d2_status op_dict(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *r = tsv_new(L, TSV_DICT), *src;
    if (!r)
        return ret(L, r, out);
    if (c->count == 0)
        return ret(L, r, out);
    src = c->args[0];
    if (c->count > 1)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "dict() with %u arguments", c->count);
    if (src->kind == TSV_DICT) {
        for (uint32_t i = 0; i < src->u.dict.count; i++)
            if (!tsv_dict_set(L, r, src->u.dict.keys[i], src->u.dict.values[i]))
                return L->err->code ? L->err->code : D2_ERR_NOMEM;
        return ret(L, r, out);
    }
    if (src->kind == TSV_LIST || src->kind == TSV_TUPLE) {
        for (uint32_t i = 0; i < src->u.seq.count; i++) {
            struct tsv *pair = src->u.seq.items[i];
            if ((pair->kind != TSV_TUPLE && pair->kind != TSV_LIST) || pair->u.seq.count != 2)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "dict() of a sequence holding %s (not key, value pairs)",
                               tsv_describe(pair));
            if (!tsv_dict_set(L, r, pair->u.seq.items[0], pair->u.seq.items[1]))
                return L->err->code ? L->err->code : D2_ERR_NOMEM;
        }
        return ret(L, r, out);
    }
    return ts_fail(L, D2_ERR_UNSUPPORTED, "dict() of %s", tsv_describe(src));
}

/* d.update(other): other's items into d (torchvision merges loss dicts). */
static enum d2_status op_dict_update(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    enum d2_status st = need(L, c, 2);
    if (st != D2_OK)
        return st;
    struct tsv *d = c->args[0], *src = c->args[1];
    if (d->kind != TSV_DICT || src->kind != TSV_DICT)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "update() of %s with %s", tsv_describe(d), tsv_describe(src));
    ts_note_mutation(L, d->born);
    for (uint32_t i = 0; i < src->u.dict.count; i++)
        if (!tsv_dict_set(L, d, src->u.dict.keys[i], src->u.dict.values[i]))
            return L->err->code ? L->err->code : D2_ERR_NOMEM;
    return ret(L, tsv_none(L), out);
}

static enum d2_status op_slice(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *l, *r;
    int64_t b[3] = { 0, INT64_MAX, 1 };
    enum d2_status st = need(L, c, 1);
    if (st != D2_OK)
        return st;
    l = c->args[0];
    if (ts_is_tensor(l))
        return to_tensor_op(L, "t_slice", c, out);
    if (!int_sequence(l) && l->kind != TSV_STR)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "slicing a %s value", tsv_describe(l));
    for (uint32_t k = 0; k < 3; k++) {
        struct tsv *a = ts_arg(c, k + 1, k == 0 ? "start" : k == 1 ? "end" : "step");
        if (a && a->kind != TSV_NONE && !ts_static_int(L, a, &b[k]))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: bounds must be known at compile time", c->name);
    }
    int64_t n = l->kind == TSV_STR ? (int64_t)strlen(l->u.s) : l->u.seq.count;
    if (b[2] != 1)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: list slices with a step", c->name);
    if (b[0] < 0)
        b[0] = b[0] + n < 0 ? 0 : b[0] + n;
    if (b[1] < 0)
        b[1] = b[1] + n < 0 ? 0 : b[1] + n;
    if (b[0] > n)
        b[0] = n;
    if (b[1] > n)
        b[1] = n;
    if (l->kind == TSV_STR) {
        char *s = ts_strdup(L, l->u.s);
        if (!s)
            return L->err->code;
        s[b[1] > b[0] ? b[1] : b[0]] = '\0';
        return ret(L, tsv_str(L, s + b[0]), out);
    }
    r = tsv_seq_new(L, l->kind, 0);
    for (int64_t i = b[0]; r && i < b[1]; i++)
        if (!tsv_seq_push(L, r, l->u.seq.items[i]))
            return L->err->code;
    return ret(L, r, out);
}

static enum d2_status op_contains(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a;
    enum d2_status st = need(L, c, 2);
    if (st != D2_OK)
        return st;
    a = c->args[0];
    if (a->kind == TSV_DICT)
        return ret(L, tsv_bool(L, tsv_dict_get(a, c->args[1]) != NULL), out);
    if (int_sequence(a)) {
        for (uint32_t i = 0; i < a->u.seq.count; i++) {
            bool known;
            if (tsv_static_equal(a->u.seq.items[i], c->args[1], &known) && known)
                return ret(L, tsv_bool(L, true), out);
            if (!known)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "'in' on values known only at run time");
        }
        return ret(L, tsv_bool(L, false), out);
    }
    if (a->kind == TSV_STR && c->args[1]->kind == TSV_STR)
        return ret(L, tsv_bool(L, strstr(a->u.s, c->args[1]->u.s) != NULL), out);
    return ts_fail(L, D2_ERR_UNSUPPORTED, "'in' on %s", tsv_describe(a));
}

static enum d2_status op_dict_get(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *v;
    enum d2_status st = need(L, c, 2);
    if (st != D2_OK)
        return st;
    if (c->args[0]->kind != TSV_DICT)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "get() on %s", tsv_describe(c->args[0]));
    v = tsv_dict_get(c->args[0], c->args[1]);
    return ret(L, v ? v : c->count > 2 ? c->args[2] : tsv_none(L), out);
}

static enum d2_status dict_view(struct ts_lower *L, struct ts_call *c, int which, struct tsv **out)
{
    struct tsv *d, *r;
    enum d2_status st = need(L, c, 1);
    if (st != D2_OK)
        return st;
    d = c->args[0];
    if (d->kind != TSV_DICT)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s on %s", c->name, tsv_describe(d));
    r = tsv_seq_new(L, TSV_LIST, 0);
    for (uint32_t i = 0; r && i < d->u.dict.count; i++) {
        struct tsv *item = which == 0 ? d->u.dict.keys[i] : which == 1 ? d->u.dict.values[i] : tsv_seq_new(L, TSV_TUPLE, 2);
        if (!item)
            return L->err->code;
        if (which == 2) {
            item->u.seq.items[0] = d->u.dict.keys[i];
            item->u.seq.items[1] = d->u.dict.values[i];
        }
        if (!tsv_seq_push(L, r, item))
            return L->err->code;
    }
    return ret(L, r, out);
}

static enum d2_status op_keys(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return dict_view(L, c, 0, out); }
static enum d2_status op_values(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return dict_view(L, c, 1, out); }
static enum d2_status op_items(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return dict_view(L, c, 2, out); }

static enum d2_status op_is(struct ts_lower *L, struct ts_call *c, bool negate, struct tsv **out)
{
    struct tsv *a, *b;
    bool result;
    enum d2_status st = need(L, c, 2);
    if (st != D2_OK)
        return st;
    a = c->args[0];
    b = c->args[1];
    if (a->kind == TSV_NONE || b->kind == TSV_NONE)
        result = a->kind == b->kind; /* every non-None value, tensors included, is not None */
    else if (a->kind == TSV_BOOL && b->kind == TSV_BOOL)
        result = a->u.b == b->u.b;
    else
        result = a == b;
    return ret(L, tsv_bool(L, negate ? !result : result), out);
}

static enum d2_status op_is_(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return op_is(L, c, false, out); }
static enum d2_status op_isnot(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return op_is(L, c, true, out); }

static enum d2_status op_str(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    char buf[64];
    struct tsv *a = c->count ? c->args[0] : NULL;
    if (a && a->kind == TSV_STR)
        return ret(L, a, out);
    if (a && a->kind == TSV_INT)
        snprintf(buf, sizeof buf, "%lld", (long long)a->u.i);
    else if (a && a->kind == TSV_FLOAT)
        snprintf(buf, sizeof buf, "%g", a->u.f);
    else
        snprintf(buf, sizeof buf, "<%s>", a ? tsv_describe(a) : "?");
    return ret(L, tsv_str(L, buf), out);
}

/* Messages only feed exceptions and warnings, which never reach the graph. */
static enum d2_status op_format(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    return ret(L, c->count && c->args[0]->kind == TSV_STR ? c->args[0] : tsv_str(L, "<message>"), out);
}

static enum d2_status op_ignore(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    (void)c;
    return ret(L, tsv_none(L), out);
}

static enum d2_status op_false(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    (void)c;
    return ret(L, tsv_bool(L, false), out);
}

static enum d2_status op_raise(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    (void)out;
    return ts_fail(L, D2_ERR_UNSUPPORTED, "the model raises an exception on this path: %s",
                   c->count && c->args[0]->kind == TSV_STR ? c->args[0]->u.s : "(no message)");
}

static enum d2_status op_device(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *v = tsv_new(L, TSV_DEVICE);
    if (v)
        v->u.s = c->count && c->args[0]->kind == TSV_STR ? c->args[0]->u.s : "cpu";
    return ret(L, v, out);
}

static enum d2_status op_prim_type(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    if (c->count && (c->args[0]->kind == TSV_DEVICE || c->args[0]->kind == TSV_STR))
        return ret(L, tsv_str(L, c->args[0]->u.s), out);
    return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, c->count ? tsv_describe(c->args[0]) : "nothing");
}

static enum d2_status op_prim_dtype(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    d2_value_id x = ts_tensor_arg(L, c, 0, "a");
    if (x == D2_NO_VALUE)
        return L->err->code;
    return ret(L, tsv_int(L, ts_dtype_code(ts_type(L, x)->dtype)), out);
}

static enum d2_status op_dim(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    d2_value_id x = ts_tensor_arg(L, c, 0, "self");
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (ts_rank(L, x) < 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: the rank is not known at compile time", c->name);
    return ret(L, tsv_int(L, ts_rank(L, x)), out);
}

/* Tensor properties known from the type: is_floating_point (dtype), and
 * _shape_as_tensor (traced code's `x.shape` as a 1-D int64 tensor). */
static enum d2_status op_is_floating_point(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    d2_value_id x = ts_tensor_arg(L, c, 0, "self");
    enum d2_dtype t;
    if (x == D2_NO_VALUE)
        return L->err->code;
    t = ts_type(L, x)->dtype;
    return ret(L, tsv_bool(L, t == D2_DTYPE_F32 || t == D2_DTYPE_F64 || t == D2_DTYPE_F16 || t == D2_DTYPE_BF16),
               out);
}

static enum d2_status op_shape_as_tensor(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    d2_value_id x = ts_tensor_arg(L, c, 0, "self");
    if (x == D2_NO_VALUE)
        return L->err->code;
    return ts_ret_tensor(L, ts_shape(L, x), out);
}

static enum d2_status op_math_unary(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    double x;
    const char *fn = strstr(c->name, "::") + 2;
    if (c->count < 1 || !ts_static_float(L, c->args[0], &x))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of a value known only at run time", c->name);
    if (strcmp(fn, "floor") == 0)
        return ret(L, tsv_int(L, (int64_t)floor(x)), out);
    if (strcmp(fn, "ceil") == 0)
        return ret(L, tsv_int(L, (int64_t)ceil(x)), out);
    if (strcmp(fn, "sqrt") == 0)
        return ret(L, tsv_float(L, sqrt(x)), out);
    if (strcmp(fn, "log") == 0)
        return ret(L, tsv_float(L, log(x)), out);
    if (strcmp(fn, "log2") == 0)
        return ret(L, tsv_float(L, log2(x)), out);
    if (strcmp(fn, "exp") == 0)
        return ret(L, tsv_float(L, exp(x)), out);
    return ts_fail(L, D2_ERR_UNSUPPORTED, "unsupported operator '%s'", c->name);
}

static enum d2_status op_abs(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    if (c->count && ts_is_tensor(c->args[0]))
        return to_tensor_op(L, "t_abs", c, out);
    if (c->count && c->args[0]->kind == TSV_INT)
        return ret(L, tsv_int(L, c->args[0]->u.i < 0 ? -c->args[0]->u.i : c->args[0]->u.i), out);
    if (c->count && c->args[0]->kind == TSV_FLOAT)
        return ret(L, tsv_float(L, fabs(c->args[0]->u.f)), out);
    return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, c->count ? tsv_describe(c->args[0]) : "nothing");
}

const struct ts_op_entry ts_ops_seq[] = {
    { "prim::abs", op_abs }, { "aten::abs", op_abs }, { "aten::len", op_len }, { "aten::__getitem__", op_getitem },
    { "aten::_set_item", op_set_item }, { "aten::append", op_append }, { "aten::extend", op_extend },
    { "aten::insert", op_insert }, { "aten::list", op_list }, { "aten::dict", op_dict }, { "aten::update", op_dict_update }, { "aten::slice", op_slice },
    { "aten::__contains__", op_contains }, { "aten::get", op_dict_get }, { "aten::keys", op_keys },
    { "aten::values", op_values }, { "aten::items", op_items }, { "aten::__is__", op_is_ },
    { "aten::__isnot__", op_isnot }, { "aten::str", op_str }, { "aten::format", op_format },
    { "aten::warn", op_ignore }, { "prim::print", op_ignore }, { "aten::set_grad_enabled", op_ignore },
    { "aten::is_grad_enabled", op_false }, { "prim::requires_grad", op_false }, { "prim::is_quantized", op_false },
    { "prim::is_cuda", op_false }, { "prim::RaiseException", op_raise }, { "aten::device", op_device },
    { "prim::device", op_device }, { "prim::dtype", op_prim_dtype }, { "prim::type", op_prim_type },
    { "aten::dim", op_dim }, { "aten::is_floating_point", op_is_floating_point },
    { "aten::_shape_as_tensor", op_shape_as_tensor }, { "math::floor", op_math_unary }, { "math::ceil", op_math_unary },
    { "math::sqrt", op_math_unary }, { "math::log", op_math_unary }, { "math::log2", op_math_unary },
    { "math::exp", op_math_unary },
    { NULL, NULL },
};
