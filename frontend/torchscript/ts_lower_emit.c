/* frontend/torchscript/ts_lower_emit.c: emitting IR from the lowering (contracts in
 * ts_lower.h): captures across regions, nodes with shape inference and constant
 * folding, constants, tensor cells and views, and conversions between Python-level
 * values and IR values (ints, int lists, dtypes, torch's type promotion). */
#include "frontend/torchscript/ts_lower.h"

#include <math.h>
#include <string.h>

#include "backends/backend.h"

/* Inputs of a node folded at compile time may hold at most this many elements. */
#define TS_FOLD_MAX_ELEMENTS 65536

/* ---- captures ---- */

static d2_value_id capture(struct ts_lower *L, struct ts_frame *f, struct ts_irval v)
{
    d2_value_id outer;
    if (f->g == v.g)
        return v.id;
    if (!f->parent) {
        ts_fail(L, D2_ERR_INTERNAL, "a value escaped the branch that computed it");
        return D2_NO_VALUE;
    }
    outer = capture(L, f->parent, v);
    if (outer == D2_NO_VALUE)
        return D2_NO_VALUE;
    for (uint32_t i = 0; i < f->num_captures; i++)
        if (f->outer[i] == outer)
            return f->inner[i];
    if (f->num_captures == f->cap_captures) {
        uint32_t cap = f->cap_captures ? f->cap_captures * 2 : 8;
        d2_value_id *o = d2_realloc(L->alloc, f->outer, sizeof *o * cap);
        if (o)
            f->outer = o;
        d2_value_id *in = o ? d2_realloc(L->alloc, f->inner, sizeof *in * cap) : NULL;
        if (!o || !in) {
            ts_fail(L, D2_ERR_NOMEM, "out of memory");
            return D2_NO_VALUE;
        }
        f->inner = in;
        f->cap_captures = cap;
    }
    d2_value_id inner = d2_graph_add_input(f->g, NULL, &f->parent->g->values[outer].type, L->err);
    if (inner == D2_NO_VALUE)
        return D2_NO_VALUE;
    f->outer[f->num_captures] = outer;
    f->inner[f->num_captures++] = inner;
    return inner;
}

d2_value_id ts_use_irval(struct ts_lower *L, struct ts_irval v)
{
    if (v.g == L->frame->g)
        return v.id;
    return capture(L, L->frame, v);
}

struct ts_irval ts_here(struct ts_lower *L, d2_value_id id)
{
    struct ts_irval v = { L->frame->g, id };
    return v;
}

static enum d2_status refresh_view(struct ts_lower *L, struct tsv *t);

d2_value_id ts_use(struct ts_lower *L, struct tsv *v)
{
    if (!v) {
        ts_fail(L, D2_ERR_INTERNAL, "missing value");
        return D2_NO_VALUE;
    }
    switch (v->kind) {
    case TSV_TENSOR:
        if (v->u.tensor.view && refresh_view(L, v) != D2_OK)
            return D2_NO_VALUE;
        return ts_use_irval(L, v->u.tensor.cell->v);
    case TSV_SCALAR:
        return ts_use_irval(L, v->u.scalar.v);
    case TSV_INT: {
        int64_t i = v->u.i;
        return ts_const_i64(L, &i, 1, true);
    }
    case TSV_BOOL:
        return ts_const_scalar(L, D2_DTYPE_BOOL, v->u.b);
    case TSV_FLOAT:
        return ts_const_scalar(L, D2_DTYPE_F64, v->u.f);
    default:
        ts_fail(L, D2_ERR_UNSUPPORTED, "expected a tensor or a number, got %s", tsv_describe(v));
        return D2_NO_VALUE;
    }
}

const struct d2_type *ts_type(struct ts_lower *L, d2_value_id id)
{
    return &L->frame->g->values[id].type;
}

const struct d2_tensor *ts_const_of(struct ts_lower *L, d2_value_id id)
{
    return id == D2_NO_VALUE ? NULL : d2_graph_constant_of(L->frame->g, id);
}

/* ---- nodes ---- */

int32_t ts_node(struct ts_lower *L, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                uint32_t num_outputs)
{
    /* An input that failed to lower left its error set; D2_NO_VALUE without an error
     * is an omitted optional input (the loop's trip count, say). */
    if (L->err->code != D2_OK)
        return -1;
    for (uint32_t i = 0; i < num_inputs && i < d2_op_info(op)->min_inputs; i++)
        if (inputs[i] == D2_NO_VALUE && !(op == D2_OP_LOOP && i < 2)) {
            ts_fail(L, D2_ERR_INTERNAL, "%s: required input %u is missing", d2_op_name(op), i);
            return -1;
        }
    int32_t n = d2_graph_add_node(L->frame->g, op, "", num_inputs, inputs, num_outputs, NULL, L->err);
    if (n < 0)
        ts_fail(L, L->err->code ? L->err->code : D2_ERR_NOMEM, "cannot add node");
    return n;
}

void *ts_attrs(struct ts_lower *L, int32_t node)
{
    return d2_node_attrs(L->frame->g, node);
}

/* Evaluate node n of the current graph at compile time when its inputs are small
 * constants. Returns true and fills outs when folded. */
static bool try_fold(struct ts_lower *L, int32_t n, d2_value_id *outs)
{
    struct d2_graph *g = L->frame->g, *tmp;
    const struct d2_node *node = &g->nodes[n];
    const struct d2_op_info *info = d2_op_info(node->op);
    int64_t elements = 0;
    struct d2_tensor results[8];
    struct d2_error local = { D2_OK, "" };
    bool ok = false;

    if (info->num_regions || node->num_outputs > 8 || node->num_inputs > 16)
        return false;
    for (uint32_t i = 0; i < node->num_inputs; i++) {
        const struct d2_tensor *t = node->inputs[i] == D2_NO_VALUE ? NULL : d2_graph_constant_of(g, node->inputs[i]);
        if (node->inputs[i] != D2_NO_VALUE && !t)
            return false;
        if (t)
            elements += d2_tensor_numel(t);
    }
    if (elements > TS_FOLD_MAX_ELEMENTS)
        return false;
    tmp = d2_graph_new(L->alloc, &local);
    if (!tmp)
        return false;
    d2_value_id ins[16];
    for (uint32_t i = 0; i < node->num_inputs; i++) {
        ins[i] = D2_NO_VALUE;
        if (node->inputs[i] == D2_NO_VALUE)
            continue;
        struct d2_tensor view = *d2_graph_constant_of(g, node->inputs[i]);
        view.owns_data = false; /* borrowed from g, which outlives tmp */
        ins[i] = d2_graph_add_constant(tmp, NULL, &view, &local);
        if (ins[i] == D2_NO_VALUE)
            goto done;
    }
    int32_t m = d2_graph_add_node(tmp, node->op, "", node->num_inputs, ins, node->num_outputs, NULL, &local);
    if (m < 0)
        goto done;
    {
        /* Same attributes: copy the struct (arrays stay in g's arena, which outlives tmp). */
        const struct d2_attr_schema *schema = d2_attr_schema_get(info->attrs);
        memcpy(tmp->nodes[m].attrs, node->attrs, schema->size);
    }
    for (uint32_t k = 0; k < node->num_outputs; k++)
        if (d2_graph_add_output(tmp, d2_node_output(tmp, m, k), &local) != D2_OK)
            goto done;
    if (d2_infer_graph(tmp, &local) != D2_OK)
        goto done;
    memset(results, 0, sizeof results);
    if (d2_cpu_execute(tmp, NULL, 0, results, node->num_outputs, L->alloc, &local) != D2_OK)
        goto done;
    ok = true;
    for (uint32_t k = 0; k < node->num_outputs; k++) {
        if (ok) {
            results[k].owns_data = true;
            outs[k] = d2_graph_add_constant(g, NULL, &results[k], L->err);
            if (outs[k] == D2_NO_VALUE)
                ok = false;
        } else {
            d2_tensor_release(&results[k], L->alloc);
        }
    }
done:
    d2_graph_free(tmp);
    return ok;
}

enum d2_status ts_finish(struct ts_lower *L, int32_t n, d2_value_id *outs)
{
    struct d2_graph *g = L->frame->g;
    struct d2_error local = { D2_OK, "" };
    enum d2_status st;
    if (n < 0)
        return L->err->code ? L->err->code : D2_ERR_INTERNAL;
    st = d2_infer_node(g, n, &local);
    if (st == D2_ERR_SHAPE && L->frame->parent) {
        /* Inside a branch that may never run (a guard for empty inputs, say), the
         * static shapes may not fit; the executor checks again at run time. */
        for (uint32_t k = 0; k < g->nodes[n].num_outputs; k++)
            d2_type_init_unknown(&g->values[g->nodes[n].outputs[k]].type);
        st = D2_OK;
    }
    if (st != D2_OK)
        return ts_fail(L, st, "%s: %s", d2_op_name(g->nodes[n].op), local.message);
    if (try_fold(L, n, outs))
        return D2_OK;
    if (L->err->code != D2_OK)
        return L->err->code;
    for (uint32_t k = 0; k < g->nodes[n].num_outputs; k++)
        outs[k] = g->nodes[n].outputs[k];
    return D2_OK;
}

d2_value_id ts_emit1(struct ts_lower *L, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs)
{
    d2_value_id out = D2_NO_VALUE;
    int32_t n = ts_node(L, op, num_inputs, inputs, 1);
    if (n < 0 || ts_finish(L, n, &out) != D2_OK)
        return D2_NO_VALUE;
    return out;
}

/* ---- constants ---- */

static d2_value_id add_const(struct ts_lower *L, enum d2_dtype dtype, int32_t rank, const int64_t *dims,
                             const void *data)
{
    struct d2_tensor t;
    if (d2_tensor_alloc(&t, L->alloc, dtype, rank, dims, L->err) != D2_OK)
        return D2_NO_VALUE;
    if (t.nbytes)
        memcpy(t.data, data, t.nbytes);
    return d2_graph_add_constant(L->frame->g, NULL, &t, L->err);
}

d2_value_id ts_const_i64(struct ts_lower *L, const int64_t *vals, uint32_t count, bool scalar)
{
    int64_t dims[1] = { count };
    return add_const(L, D2_DTYPE_I64, scalar ? 0 : 1, dims, vals);
}

d2_value_id ts_const_scalar(struct ts_lower *L, enum d2_dtype dtype, double value)
{
    struct d2_tensor t;
    if (d2_tensor_alloc(&t, L->alloc, dtype, 0, NULL, L->err) != D2_OK)
        return D2_NO_VALUE;
    if (d2_dtype_is_float(dtype))
        d2_store_f64(t.data, dtype, 0, value);
    else
        d2_store_i64(t.data, dtype, 0, (int64_t)value);
    return d2_graph_add_constant(L->frame->g, NULL, &t, L->err);
}

d2_value_id ts_const_tensor(struct ts_lower *L, const struct ts_tensor *src)
{
    struct ts_frame *f = L->frame;
    struct d2_tensor view;
    d2_value_id id;
    for (uint32_t i = 0; i < f->num_consts; i++)
        if (f->const_keys[i] == src)
            return f->const_ids[i];
    view = src->tensor;
    view.owns_data = false; /* the archive's bytes, kept alive by the graph's backing */
    id = d2_graph_add_constant(f->g, NULL, &view, L->err);
    if (id == D2_NO_VALUE)
        return D2_NO_VALUE;
    if (f->num_consts == f->cap_consts) {
        uint32_t cap = f->cap_consts ? f->cap_consts * 2 : 64;
        const void **k = d2_realloc(L->alloc, (void *)f->const_keys, sizeof *k * cap);
        if (k)
            f->const_keys = k;
        d2_value_id *v = k ? d2_realloc(L->alloc, f->const_ids, sizeof *v * cap) : NULL;
        if (!k || !v) {
            ts_fail(L, D2_ERR_NOMEM, "out of memory");
            return D2_NO_VALUE;
        }
        f->const_ids = v;
        f->cap_consts = cap;
    }
    f->const_keys[f->num_consts] = src;
    f->const_ids[f->num_consts++] = id;
    return id;
}

d2_value_id ts_cast(struct ts_lower *L, d2_value_id x, enum d2_dtype to)
{
    int32_t n;
    d2_value_id out;
    if (x == D2_NO_VALUE)
        return D2_NO_VALUE;
    if (ts_type(L, x)->dtype == to)
        return x;
    n = ts_node(L, D2_OP_CAST, 1, &x, 1);
    if (n < 0)
        return D2_NO_VALUE;
    ((struct d2_attrs_cast *)ts_attrs(L, n))->to = to;
    if (ts_finish(L, n, &out) != D2_OK)
        return D2_NO_VALUE;
    return out;
}

/* ---- tensor cells and views ---- */

static enum d2_status log_write(struct ts_lower *L, struct ts_cell *cell)
{
    if (L->num_writes == L->cap_writes) {
        uint32_t cap = L->cap_writes ? L->cap_writes * 2 : 64;
        struct ts_write *w = d2_realloc(L->alloc, L->writes, sizeof *w * cap);
        if (!w)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        L->writes = w;
        L->cap_writes = cap;
    }
    L->writes[L->num_writes].cell = cell;
    L->writes[L->num_writes].old = cell->v;
    L->writes[L->num_writes++].old_version = cell->version;
    return D2_OK;
}

static enum d2_status set_cell(struct ts_lower *L, struct ts_cell *cell, d2_value_id id)
{
    if (log_write(L, cell) != D2_OK)
        return L->err->code;
    cell->v = ts_here(L, id);
    cell->version++;
    return D2_OK;
}

/* Replay a view's recipe on `base`; *out gets the resulting tensor value. */
static enum d2_status replay(struct ts_lower *L, const struct ts_view *view, struct tsv *base, struct tsv **out)
{
    struct tsv *cur = base;
    for (uint32_t s = 0; s < view->num_steps; s++) {
        const struct ts_view_step *step = &view->steps[s];
        struct ts_call call = *step->call;
        struct tsv **args = d2_arena_alloc(&L->arena, sizeof *args * (call.count ? call.count : 1));
        struct tsv *r = NULL;
        enum d2_status st;
        if (!args)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        memcpy(args, call.args, sizeof *args * call.count);
        args[0] = cur;
        call.args = args;
        if ((st = step->fn(L, &call, &r)) != D2_OK)
            return st;
        if (r && (r->kind == TSV_TUPLE || r->kind == TSV_LIST)) {
            if (step->output_index >= r->u.seq.count)
                return ts_fail(L, D2_ERR_INTERNAL, "view replay: output %u missing", step->output_index);
            r = r->u.seq.items[step->output_index];
        }
        if (!r || r->kind != TSV_TENSOR)
            return ts_fail(L, D2_ERR_INTERNAL, "view replay did not give a tensor");
        cur = r;
    }
    *out = cur;
    return D2_OK;
}

static enum d2_status refresh_view(struct ts_lower *L, struct tsv *t)
{
    struct ts_view *view = t->u.tensor.view;
    struct ts_cell *base_cell = view->base->u.tensor.cell;
    struct tsv *fresh, *r;
    enum d2_status st;
    if (view->base_version == base_cell->version)
        return D2_OK;
    /* Replay on a plain (non-view) alias of the base so no recursion happens. */
    fresh = tsv_new(L, TSV_TENSOR);
    if (!fresh)
        return L->err->code;
    fresh->u.tensor.cell = base_cell;
    if ((st = replay(L, view, fresh, &r)) != D2_OK)
        return st;
    if ((st = set_cell(L, t->u.tensor.cell, ts_use(L, r))) != D2_OK)
        return st;
    view->base_version = base_cell->version;
    return D2_OK;
}

void ts_mark_view(struct ts_lower *L, struct tsv *out, struct tsv *src, ts_op_fn fn, const struct ts_call *call,
                  uint32_t output_index)
{
    const struct ts_view *prev = src->u.tensor.view;
    struct ts_view *view = d2_arena_alloc(&L->arena, sizeof *view);
    uint32_t n = prev ? prev->num_steps + 1 : 1;
    struct ts_call *copy = d2_arena_alloc(&L->arena, sizeof *copy);
    if (!view || !copy || !(view->steps = d2_arena_alloc(&L->arena, sizeof *view->steps * n))) {
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
        return;
    }
    *copy = *call;
    copy->args = d2_arena_alloc(&L->arena, sizeof *copy->args * (call->count ? call->count : 1));
    if (!copy->args) {
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(copy->args, call->args, sizeof *copy->args * call->count);
    if (prev)
        memcpy(view->steps, prev->steps, sizeof *view->steps * prev->num_steps);
    view->steps[n - 1].fn = fn;
    view->steps[n - 1].call = copy;
    view->steps[n - 1].output_index = output_index;
    view->num_steps = n;
    view->base = prev ? prev->base : src;
    view->base_version = view->base->u.tensor.cell->version;
    out->u.tensor.view = view;
}

/* Shape of x as a 1-D i64 value. */
static d2_value_id shape_of(struct ts_lower *L, d2_value_id x)
{
    return ts_emit1(L, D2_OP_SHAPE, 1, &x);
}

static d2_value_id reshape_to(struct ts_lower *L, d2_value_id x, d2_value_id shape)
{
    d2_value_id in[2] = { x, shape };
    int32_t n = ts_node(L, D2_OP_RESHAPE, 2, in, 1);
    d2_value_id out = D2_NO_VALUE;
    if (n < 0)
        return D2_NO_VALUE;
    ((struct d2_attrs_reshape *)ts_attrs(L, n))->allowzero = 1;
    if (ts_finish(L, n, &out) != D2_OK)
        return D2_NO_VALUE;
    return out;
}

enum d2_status ts_tensor_assign(struct ts_lower *L, struct tsv *t, d2_value_id id)
{
    struct ts_view *view = t->u.tensor.view;
    enum d2_status st;
    if (id == D2_NO_VALUE)
        return L->err->code ? L->err->code : D2_ERR_INTERNAL;
    if (!view)
        return set_cell(L, t->u.tensor.cell, id);
    /* Write through the view: number the base's elements, send the numbers through
     * the view's recipe, and scatter the new values to the numbers that come out. */
    {
        struct tsv *base = view->base, *numbered, *picked;
        d2_value_id base_id = ts_use(L, base), base_shape, count, iota, flat_base, idx, upd, scattered, in[3];
        int64_t zero = 0, one = 1, minus1[2] = { -1, 1 }, flat[1] = { -1 };
        if (base_id == D2_NO_VALUE)
            return L->err->code;
        base_shape = shape_of(L, base_id);
        count = ts_emit1(L, D2_OP_SIZE, 1, &base_id);
        in[0] = ts_const_i64(L, &zero, 1, true);
        in[1] = count;
        in[2] = ts_const_i64(L, &one, 1, true);
        iota = ts_emit1(L, D2_OP_RANGE, 3, in);
        numbered = tsv_tensor(L, reshape_to(L, iota, base_shape));
        if (!numbered)
            return L->err->code;
        if ((st = replay(L, view, numbered, &picked)) != D2_OK)
            return st;
        idx = ts_use(L, picked);
        in[0] = id;
        in[1] = shape_of(L, idx);
        upd = ts_emit1(L, D2_OP_EXPAND, 2, in);
        upd = ts_cast(L, upd, ts_type(L, base_id)->dtype);
        upd = reshape_to(L, upd, ts_const_i64(L, flat, 1, false));
        idx = reshape_to(L, idx, ts_const_i64(L, minus1, 2, false));
        flat_base = reshape_to(L, base_id, ts_const_i64(L, flat, 1, false));
        in[0] = flat_base;
        in[1] = idx;
        in[2] = upd;
        scattered = ts_emit1(L, D2_OP_SCATTER_ND, 3, in);
        if ((st = set_cell(L, base->u.tensor.cell, reshape_to(L, scattered, base_shape))) != D2_OK)
            return st;
        if ((st = set_cell(L, t->u.tensor.cell, id)) != D2_OK)
            return st;
        view->base_version = base->u.tensor.cell->version;
        return D2_OK;
    }
}

/* ---- conversions ---- */

static bool const_number(struct ts_lower *L, struct ts_irval v, double *f, int64_t *i, bool *is_int)
{
    const struct d2_tensor *t = d2_graph_constant_of(v.g, v.id);
    if (!t || d2_tensor_numel(t) != 1)
        return false;
    *is_int = !d2_dtype_is_float(t->dtype);
    *f = d2_load_f64(t->data, t->dtype, 0);
    *i = d2_load_i64(t->data, t->dtype, 0);
    return true;
}

bool ts_static_int(struct ts_lower *L, const struct tsv *v, int64_t *out)
{
    double f;
    bool is_int;
    if (!v)
        return false;
    if (v->kind == TSV_INT) {
        *out = v->u.i;
        return true;
    }
    if (v->kind == TSV_BOOL) {
        *out = v->u.b;
        return true;
    }
    if (v->kind == TSV_SCALAR)
        return const_number(L, v->u.scalar.v, &f, out, &is_int) && is_int;
    if (v->kind == TSV_TENSOR && !v->u.tensor.view)
        return const_number(L, v->u.tensor.cell->v, &f, out, &is_int) && is_int;
    return false;
}

bool ts_static_float(struct ts_lower *L, const struct tsv *v, double *out)
{
    int64_t i;
    bool is_int;
    if (!v)
        return false;
    switch (v->kind) {
    case TSV_INT: *out = (double)v->u.i; return true;
    case TSV_BOOL: *out = v->u.b; return true;
    case TSV_FLOAT: *out = v->u.f; return true;
    case TSV_SCALAR: return const_number(L, v->u.scalar.v, out, &i, &is_int);
    case TSV_TENSOR: return !v->u.tensor.view && const_number(L, v->u.tensor.cell->v, out, &i, &is_int);
    default: return false;
    }
}

bool ts_static_int_list(struct ts_lower *L, const struct tsv *list, int64_t *vals, uint32_t max, uint32_t *count)
{
    if (!list)
        return false;
    if (list->kind != TSV_LIST && list->kind != TSV_TUPLE) {
        if (!ts_static_int(L, list, vals))
            return false;
        *count = 1;
        return true;
    }
    if (list->u.seq.count > max)
        return false;
    for (uint32_t i = 0; i < list->u.seq.count; i++)
        if (!ts_static_int(L, list->u.seq.items[i], &vals[i]))
            return false;
    *count = list->u.seq.count;
    return true;
}

d2_value_id ts_int_list_value(struct ts_lower *L, struct tsv *list, int64_t *static_vals, uint32_t max_static,
                              uint32_t *count, bool *all_static)
{
    uint32_t n;
    d2_value_id *parts, result;
    int64_t buf[64];
    if (!list || (list->kind != TSV_LIST && list->kind != TSV_TUPLE)) {
        if (list && list->kind == TSV_TENSOR) { /* already a 1-D tensor of ints */
            d2_value_id id = ts_use(L, list);
            *all_static = false;
            *count = id == D2_NO_VALUE ? 0 : (uint32_t)(ts_type(L, id)->rank == 1 ? ts_type(L, id)->dims[0] : 0);
            return ts_cast(L, id, D2_DTYPE_I64);
        }
        ts_fail(L, D2_ERR_UNSUPPORTED, "expected a list of ints, got %s", tsv_describe(list));
        return D2_NO_VALUE;
    }
    n = list->u.seq.count;
    *count = n;
    *all_static = n <= 64 && ts_static_int_list(L, list, buf, 64, &n);
    if (*all_static) {
        if (static_vals)
            memcpy(static_vals, buf, sizeof(int64_t) * (n < max_static ? n : max_static));
        return ts_const_i64(L, buf, n, false);
    }
    parts = d2_arena_alloc(&L->arena, sizeof *parts * (n ? n : 1));
    if (!parts) {
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
        return D2_NO_VALUE;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct tsv *item = list->u.seq.items[i];
        int64_t k;
        if (ts_static_int(L, item, &k)) {
            parts[i] = ts_const_i64(L, &k, 1, false);
            continue;
        }
        d2_value_id s = ts_cast(L, ts_use(L, item), D2_DTYPE_I64), in[2];
        int64_t zero = 0;
        if (s == D2_NO_VALUE)
            return D2_NO_VALUE;
        in[0] = s;
        in[1] = ts_const_i64(L, &zero, 1, false);
        parts[i] = ts_type(L, s)->rank == 0 ? ts_emit1(L, D2_OP_UNSQUEEZE, 2, in) : s;
    }
    int32_t node = ts_node(L, D2_OP_CONCAT, n, parts, 1);
    if (node < 0 || ts_finish(L, node, &result) != D2_OK)
        return D2_NO_VALUE;
    return result;
}

d2_value_id ts_number_as(struct ts_lower *L, struct tsv *v, enum d2_dtype dtype)
{
    switch (v->kind) {
    case TSV_INT: return ts_const_scalar(L, dtype, (double)v->u.i);
    case TSV_BOOL: return ts_const_scalar(L, dtype, v->u.b);
    case TSV_FLOAT: return ts_const_scalar(L, dtype, v->u.f);
    default: return ts_cast(L, ts_use(L, v), dtype);
    }
}

bool ts_dtype_from_code(int64_t code, enum d2_dtype *out)
{
    static const enum d2_dtype map[] = {
        [0] = D2_DTYPE_U8, [1] = D2_DTYPE_I8, [2] = D2_DTYPE_I16, [3] = D2_DTYPE_I32, [4] = D2_DTYPE_I64,
        [5] = D2_DTYPE_F16, [6] = D2_DTYPE_F32, [7] = D2_DTYPE_F64, [11] = D2_DTYPE_BOOL, [15] = D2_DTYPE_BF16,
    };
    if (code < 0 || (size_t)code >= sizeof map / sizeof map[0] || map[code] == D2_DTYPE_UNDEFINED)
        return false;
    *out = map[code];
    return true;
}

int64_t ts_dtype_code(enum d2_dtype t)
{
    switch (t) {
    case D2_DTYPE_U8: return 0;
    case D2_DTYPE_I8: return 1;
    case D2_DTYPE_I16: return 2;
    case D2_DTYPE_I32: return 3;
    case D2_DTYPE_I64: return 4;
    case D2_DTYPE_F16: return 5;
    case D2_DTYPE_F32: return 6;
    case D2_DTYPE_F64: return 7;
    case D2_DTYPE_BOOL: return 11;
    case D2_DTYPE_BF16: return 15;
    default: return -1;
    }
}

/* torch.promote_types for the dtypes d2 has. */
static enum d2_dtype promote(enum d2_dtype a, enum d2_dtype b)
{
    static const enum d2_dtype order_float[] = { D2_DTYPE_F16, D2_DTYPE_BF16, D2_DTYPE_F32, D2_DTYPE_F64 };
    if (a == D2_DTYPE_UNDEFINED)
        return b;
    if (b == D2_DTYPE_UNDEFINED || a == b)
        return a;
    if (a == D2_DTYPE_BOOL)
        return b;
    if (b == D2_DTYPE_BOOL)
        return a;
    if (d2_dtype_is_float(a) || d2_dtype_is_float(b)) {
        if (!d2_dtype_is_float(a))
            return b;
        if (!d2_dtype_is_float(b))
            return a;
        if ((a == D2_DTYPE_F16 && b == D2_DTYPE_BF16) || (a == D2_DTYPE_BF16 && b == D2_DTYPE_F16))
            return D2_DTYPE_F32;
        int ia = 0, ib = 0;
        for (int k = 0; k < 4; k++) {
            if (order_float[k] == a)
                ia = k;
            if (order_float[k] == b)
                ib = k;
        }
        return order_float[ia > ib ? ia : ib];
    }
    /* integers: the wider signed type (u8 with a signed type widens to i16 at least) */
    size_t sa = d2_dtype_size(a), sb = d2_dtype_size(b);
    bool ua = !d2_dtype_is_signed(a), ub = !d2_dtype_is_signed(b);
    if (ua && !ub && sa >= sb)
        return sa == 1 ? D2_DTYPE_I16 : sa == 2 ? D2_DTYPE_I32 : D2_DTYPE_I64;
    if (ub && !ua && sb >= sa)
        return sb == 1 ? D2_DTYPE_I16 : sb == 2 ? D2_DTYPE_I32 : D2_DTYPE_I64;
    return sa >= sb ? a : b;
}

/* torch's combine_categories(higher, lower). */
static enum d2_dtype combine(enum d2_dtype higher, enum d2_dtype lower)
{
    if (d2_dtype_is_float(higher))
        return higher;
    if (higher == D2_DTYPE_BOOL || d2_dtype_is_float(lower))
        return promote(higher, lower);
    if (higher != D2_DTYPE_UNDEFINED)
        return higher;
    return lower;
}

enum d2_dtype ts_result_type(struct ts_lower *L, struct tsv *const *args, uint32_t count)
{
    enum d2_dtype dim = D2_DTYPE_UNDEFINED, zero = D2_DTYPE_UNDEFINED, wrapped = D2_DTYPE_UNDEFINED;
    for (uint32_t i = 0; i < count; i++) {
        const struct tsv *a = args[i];
        enum d2_dtype t;
        if (!a)
            continue;
        switch (a->kind) {
        case TSV_BOOL: wrapped = promote(wrapped, D2_DTYPE_BOOL); break;
        case TSV_INT: wrapped = promote(wrapped, D2_DTYPE_I64); break;
        case TSV_FLOAT: wrapped = promote(wrapped, D2_DTYPE_F32); break; /* the default dtype */
        case TSV_SCALAR:
            t = a->u.scalar.type == TS_PY_BOOL ? D2_DTYPE_BOOL : a->u.scalar.type == TS_PY_INT ? D2_DTYPE_I64
                                                                                               : D2_DTYPE_F32;
            wrapped = promote(wrapped, t);
            break;
        case TSV_TENSOR: {
            const struct d2_type *ty = &a->u.tensor.cell->v.g->values[a->u.tensor.cell->v.id].type;
            if (ty->rank == 0)
                zero = promote(zero, ty->dtype);
            else
                dim = promote(dim, ty->dtype);
            break;
        }
        default:
            break;
        }
    }
    (void)L;
    return combine(dim, combine(zero, wrapped));
}
