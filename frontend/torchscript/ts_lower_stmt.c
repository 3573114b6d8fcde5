/* frontend/torchscript/ts_lower_stmt.c: executing statements (contracts in
 * ts_lower.h): assignments (names, tuple unpacking, object fields, list/dict items),
 * if/for/while, return/break/continue.
 *
 * Control flow:
 *   - a condition known at compile time runs only the branch taken;
 *   - a branch that certainly raises (ops.prim.RaiseException) is a guard: the other
 *     branch is lowered in place, assuming the model does not fail;
 *   - otherwise both branches are lowered into the regions of an IR `if`: each branch
 *     is a new graph whose reads of outer values become captures, the variables and
 *     tensor cells the branches change become the `if`'s outputs, and the branches'
 *     own writes are undone afterwards;
 *   - `for` loops over static ranges and lists are unrolled (TS_MAX_UNROLL iterations
 *     in total), as are `while` loops whose condition is known at compile time;
 *     a range with a run-time bound or a run-time while condition becomes an IR
 *     `loop` (ts_lower_loop.c).
 */
#include "frontend/torchscript/ts_lower.h"

#include <stdio.h>
#include <string.h>

static bool is_raise_call(const struct ts_expr *e)
{
    if (e->kind != TSE_CALL || e->u.call.fn->kind != TSE_ATTR)
        return false;
    const struct ts_expr *f = e->u.call.fn;
    return strcmp(f->u.attr.name, "RaiseException") == 0 && f->u.attr.base->kind == TSE_ATTR &&
           strcmp(f->u.attr.base->u.attr.name, "prim") == 0;
}

bool ts_block_raises(const struct ts_block *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        const struct ts_stmt *s = b->items[i];
        if (s->kind == TSS_RAISE || (s->kind == TSS_EXPR && is_raise_call(s->u.expr)))
            return true;
        if (s->kind == TSS_IF && s->u.if_.orelse.count && ts_block_raises(&s->u.if_.then) &&
            ts_block_raises(&s->u.if_.orelse))
            return true;
        if (s->kind == TSS_RETURN || s->kind == TSS_BREAK || s->kind == TSS_CONTINUE)
            return false;
    }
    return false;
}

/* ---- assignment ---- */

static enum d2_status assign(struct ts_lower *L, struct ts_env *env, const struct ts_expr *target, struct tsv *v)
{
    enum d2_status st;
    switch (target->kind) {
    case TSE_NAME:
        return ts_env_set(L, env, target->u.name, v) ? D2_OK : L->err->code;
    case TSE_TUPLE: case TSE_LIST: {
        uint32_t n = target->u.seq.count;
        if (v->kind == TSV_TENSOR) { /* a, b = tensor: unbind along dim 0 */
            struct ts_call call = { 0 };
            struct tsv *args[1] = { v };
            const char *names[1] = { NULL };
            call.args = args;
            call.names = names;
            call.count = 1;
            L->unbind_count_hint = n;
            if ((st = ts_call_op(L, "aten::unbind", &call, &v)) != D2_OK)
                return st;
        }
        if ((v->kind != TSV_TUPLE && v->kind != TSV_LIST) || v->u.seq.count != n)
            return ts_fail(L, D2_ERR_PARSE, "cannot unpack %s into %u targets", tsv_describe(v), n);
        for (uint32_t i = 0; i < n; i++)
            if ((st = assign(L, env, target->u.seq.items[i], v->u.seq.items[i])) != D2_OK)
                return st;
        return D2_OK;
    }
    case TSE_ATTR: {
        struct tsv *obj;
        if ((st = ts_eval(L, env, target->u.attr.base, &obj)) != D2_OK)
            return st;
        if (obj->kind == TSV_OBJECT) {
            char setter[256];
            const struct ts_def *def;
            snprintf(setter, sizeof setter, "__%s_setter", target->u.attr.name);
            def = ts_ast_find_method(obj->u.object->cls, setter);
            if (def) {
                struct ts_call call = { 0 };
                struct tsv *args[1] = { v }, *ignored;
                const char *names[1] = { NULL };
                call.args = args;
                call.names = names;
                call.count = 1;
                return ts_call_def(L, def, obj, &call, &ignored);
            }
            ts_note_mutation(L, obj->u.object->born);
            return ts_instance_set(L, obj->u.object, ts_strdup(L, target->u.attr.name), v) ? D2_OK : L->err->code;
        }
        if (obj->kind == TSV_MODULE)
            return ts_module_setattr(L, obj->u.module, target->u.attr.name, v);
        return ts_fail(L, D2_ERR_UNSUPPORTED, "cannot set attribute '%s' of a %s value", target->u.attr.name,
                       tsv_describe(obj));
    }
    case TSE_SUBSCRIPT: {
        struct tsv *base, *index, *args[3], *ignored;
        const char *names[3] = { NULL, NULL, NULL };
        struct ts_call call = { 0 };
        if ((st = ts_eval(L, env, target->u.sub.base, &base)) != D2_OK ||
            (st = ts_eval(L, env, target->u.sub.index, &index)) != D2_OK)
            return st;
        args[0] = base;
        args[1] = index;
        args[2] = v;
        call.args = args;
        call.names = names;
        call.count = 3;
        return ts_call_op(L, "aten::_set_item", &call, &ignored);
    }
    default:
        return ts_fail(L, D2_ERR_PARSE, "cannot assign to this expression");
    }
}

/* ---- dynamic if ---- */

struct branch_result {
    struct ts_frame frame;
    struct ts_env env;
    /* cells written by the branch, with their values at its end */
    struct ts_cell **cells;
    struct ts_irval *final;
    uint32_t num_cells;
};

static void free_frame_arrays(struct ts_lower *L, struct ts_frame *f)
{
    d2_free(L->alloc, f->outer);
    d2_free(L->alloc, f->inner);
    d2_free(L->alloc, (void *)f->const_keys);
    d2_free(L->alloc, f->const_ids);
    f->outer = f->inner = NULL;
    f->const_keys = NULL;
    f->const_ids = NULL;
}

/* Whether graph g belongs to frame f or one of its ancestors. */
static bool visible_from(const struct ts_frame *f, const struct d2_graph *g)
{
    for (; f; f = f->parent)
        if (f->g == g)
            return true;
    return false;
}

static enum d2_status lower_branch(struct ts_lower *L, const struct ts_env *env, const struct ts_block *block,
                                   struct branch_result *r)
{
    struct ts_frame *parent = L->frame;
    uint32_t mark = L->num_writes;
    uint64_t mutations = L->container_mutations, saved_floor = L->region_floor;
    enum ts_flow flow = TS_FLOW_NEXT;
    struct tsv *ret = NULL;
    enum d2_status st;

    memset(r, 0, sizeof *r);
    r->frame.parent = parent;
    r->frame.g = d2_graph_new(L->alloc, L->err);
    if (!r->frame.g)
        return L->err->code;
    r->frame.g->parent = parent->g;
    if (!ts_env_copy(L, &r->env, env))
        return L->err->code;
    L->frame = &r->frame;
    L->region_floor = L->epoch;
    st = block ? ts_exec_block(L, &r->env, block, &flow, &ret) : D2_OK;
    L->region_floor = saved_floor;
    L->frame = parent;
    if (st != D2_OK)
        return st;
    if (flow != TS_FLOW_NEXT)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "return, break or continue inside a branch on a run-time condition");
    if (L->container_mutations != mutations)
        return ts_fail(L, D2_ERR_UNSUPPORTED,
                       "a branch on a run-time condition changes a list, dict or object (not supported)");
    /* Record the cells the branch wrote (first write gives the pre-branch value), then
     * undo the writes, newest first. */
    r->cells = d2_arena_alloc(&L->arena, sizeof *r->cells * (L->num_writes - mark + 1));
    r->final = d2_arena_alloc(&L->arena, sizeof *r->final * (L->num_writes - mark + 1));
    if (!r->cells || !r->final)
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    for (uint32_t i = mark; i < L->num_writes; i++) {
        struct ts_cell *cell = L->writes[i].cell;
        bool seen = false;
        for (uint32_t k = 0; k < r->num_cells; k++)
            seen = seen || r->cells[k] == cell;
        if (seen || !visible_from(parent, L->writes[i].old.g))
            continue; /* a tensor created inside the branch */
        r->cells[r->num_cells] = cell;
        r->final[r->num_cells++] = cell->v;
    }
    for (uint32_t i = L->num_writes; i-- > mark;) {
        L->writes[i].cell->v = L->writes[i].old;
        L->writes[i].cell->version = L->writes[i].old_version;
    }
    L->num_writes = mark;
    return D2_OK;
}

/* A merged output slot: the IR value each branch returns. */
struct merge_state {
    struct branch_result *br[2];
    d2_value_id *outs[2];
    uint32_t num_outs, cap_outs;
    struct tsv **slots; /* the merged tsv of each output, filled once the node exists */
    enum ts_pytype *slot_types;
    bool *slot_is_tensor;
};

/* Branches that give one variable tensors of different ranks: an IR value has one
 * rank, so the lower-rank one is reshaped to the other rank with every dim 0. That is
 * only possible when it is empty at run time, which is the case these branches exist
 * for (torchvision's BoxCoder.decode reshapes boxes to [n, -1, 4] only `if n > 0`,
 * else returns the empty [0, 4]); a non-empty one fails the reshape at run time, an
 * error rather than a wrong answer. */
static enum d2_status reconcile_ranks(struct ts_lower *L, struct merge_state *m)
{
    struct ts_frame *parent = L->frame;
    int32_t rank[2];
    for (int k = 0; k < 2; k++) {
        L->frame = &m->br[k]->frame;
        rank[k] = ts_rank(L, m->outs[k][m->num_outs]);
    }
    L->frame = parent;
    if (rank[0] < 0 || rank[1] < 0 || rank[0] == rank[1])
        return D2_OK;
    int low = rank[0] < rank[1] ? 0 : 1;
    int64_t zeros[D2_MAX_RANK] = { 0 };
    L->frame = &m->br[low]->frame;
    d2_value_id id = ts_reshape_static(L, m->outs[low][m->num_outs], zeros, (uint32_t)rank[1 - low]);
    L->frame = parent;
    if (id == D2_NO_VALUE)
        return L->err->code ? L->err->code : ts_fail(L, D2_ERR_INTERNAL, "reshaping a branch value failed");
    m->outs[low][m->num_outs] = id;
    return D2_OK;
}

static enum d2_status add_slot(struct ts_lower *L, struct merge_state *m, struct tsv *v[2], uint32_t *slot)
{
    struct ts_frame *parent = L->frame;
    bool tensor = v[0]->kind == TSV_TENSOR || v[1]->kind == TSV_TENSOR;
    enum ts_pytype type = TS_PY_INT;
    if (m->num_outs == m->cap_outs) {
        uint32_t cap = m->cap_outs ? m->cap_outs * 2 : 16;
        d2_value_id *a = d2_arena_alloc(&L->arena, sizeof *a * cap), *b = d2_arena_alloc(&L->arena, sizeof *b * cap);
        bool *t = d2_arena_alloc(&L->arena, sizeof *t * cap);
        enum ts_pytype *ty = d2_arena_alloc(&L->arena, sizeof *ty * cap);
        if (!a || !b || !t || !ty)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        if (m->num_outs) {
            memcpy(a, m->outs[0], sizeof *a * m->num_outs);
            memcpy(b, m->outs[1], sizeof *b * m->num_outs);
            memcpy(t, m->slot_is_tensor, sizeof *t * m->num_outs);
            memcpy(ty, m->slot_types, sizeof *ty * m->num_outs);
        }
        m->outs[0] = a;
        m->outs[1] = b;
        m->slot_is_tensor = t;
        m->slot_types = ty;
        m->cap_outs = cap;
    }
    for (int k = 0; k < 2; k++) {
        const struct tsv *x = v[k];
        if (x->kind == TSV_FLOAT || (x->kind == TSV_SCALAR && x->u.scalar.type == TS_PY_FLOAT))
            type = TS_PY_FLOAT;
        else if ((x->kind == TSV_BOOL || (x->kind == TSV_SCALAR && x->u.scalar.type == TS_PY_BOOL)) && k == 0)
            type = TS_PY_BOOL;
    }
    for (int k = 0; k < 2; k++) {
        if (v[k]->kind != TSV_TENSOR && v[k]->kind != TSV_SCALAR && v[k]->kind != TSV_INT &&
            v[k]->kind != TSV_FLOAT && v[k]->kind != TSV_BOOL)
            return ts_fail(L, D2_ERR_UNSUPPORTED,
                           "branches on a run-time condition give a %s and a %s for the same variable",
                           tsv_describe(v[0]), tsv_describe(v[1]));
        L->frame = &m->br[k]->frame;
        d2_value_id id = ts_use(L, v[k]);
        if (id != D2_NO_VALUE && !tensor)
            id = ts_cast(L, id, type == TS_PY_FLOAT ? D2_DTYPE_F64 : type == TS_PY_BOOL ? D2_DTYPE_BOOL : D2_DTYPE_I64);
        L->frame = parent;
        if (id == D2_NO_VALUE)
            return L->err->code;
        m->outs[k][m->num_outs] = id;
    }
    if (tensor) {
        enum d2_status st = reconcile_ranks(L, m);
        if (st != D2_OK)
            return st;
    }
    m->slot_is_tensor[m->num_outs] = tensor;
    m->slot_types[m->num_outs] = type;
    *slot = m->num_outs++;
    return D2_OK;
}

/* Plan the merge of two branch values: *plan is shaped like the result, with a
 * TSV_SLOT (u.i = output slot) at every leaf where the branches differ. */
static enum d2_status plan_merge(struct ts_lower *L, struct merge_state *m, struct tsv *a, struct tsv *b,
                                 struct tsv **plan, uint32_t depth)
{
    bool known;
    enum d2_status st;
    if (depth > 32)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "values nested too deeply in a branch on a run-time condition");
    if (a == b || (tsv_static_equal(a, b, &known) && known && a->kind != TSV_LIST && a->kind != TSV_DICT &&
                   a->kind != TSV_OBJECT)) {
        *plan = a;
        return D2_OK;
    }
    if ((a->kind == TSV_TUPLE || a->kind == TSV_LIST) && a->kind == b->kind && a->u.seq.count == b->u.seq.count) {
        *plan = tsv_seq_new(L, a->kind, a->u.seq.count);
        for (uint32_t i = 0; *plan && i < a->u.seq.count; i++)
            if ((st = plan_merge(L, m, a->u.seq.items[i], b->u.seq.items[i], &(*plan)->u.seq.items[i], depth + 1)) !=
                D2_OK)
                return st;
        return *plan ? D2_OK : L->err->code;
    }
    if (a->kind == TSV_OBJECT && b->kind == TSV_OBJECT && strcmp(a->u.object->class_name, b->u.object->class_name) == 0 &&
        a->u.object->count == b->u.object->count) {
        /* two instances of one class (a Boxes filtered in one branch only): merge field by field */
        struct ts_instance *o = ts_instance_new(L, a->u.object->class_name, a->u.object->cls);
        if (!o || !(*plan = tsv_new(L, TSV_OBJECT)))
            return L->err->code;
        (*plan)->u.object = o;
        for (uint32_t i = 0; i < a->u.object->count; i++) {
            const char *name = a->u.object->names[i];
            struct tsv *bv = ts_instance_get(b->u.object, name), *fv;
            if (!bv)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "branches give objects of class '%s' with different fields",
                               a->u.object->class_name);
            if ((st = plan_merge(L, m, a->u.object->values[i], bv, &fv, depth + 1)) != D2_OK)
                return st;
            if (!ts_instance_set(L, o, name, fv))
                return L->err->code;
        }
        return D2_OK;
    }
    struct tsv *pair[2] = { a, b };
    uint32_t slot;
    if ((st = add_slot(L, m, pair, &slot)) != D2_OK)
        return st;
    *plan = tsv_new(L, TSV_SLOT);
    if (!*plan)
        return L->err->code;
    (*plan)->u.i = slot; /* resolved after the node exists */
    return D2_OK;
}

static struct tsv *resolve_plan(struct ts_lower *L, struct merge_state *m, struct tsv *plan, const d2_value_id *outs,
                                uint32_t depth)
{
    if (depth > 32)
        return plan;
    if (plan->kind == TSV_SLOT) {
        uint32_t slot = (uint32_t)plan->u.i;
        if (m->slot_is_tensor[slot])
            return tsv_tensor(L, outs[slot]);
        return tsv_scalar(L, ts_here(L, outs[slot]), m->slot_types[slot]);
    }
    if (plan->kind == TSV_TUPLE || plan->kind == TSV_LIST) {
        for (uint32_t i = 0; i < plan->u.seq.count; i++)
            if (!(plan->u.seq.items[i] = resolve_plan(L, m, plan->u.seq.items[i], outs, depth + 1)))
                return NULL;
    } else if (plan->kind == TSV_OBJECT) {
        for (uint32_t i = 0; i < plan->u.object->count; i++)
            if (!(plan->u.object->values[i] = resolve_plan(L, m, plan->u.object->values[i], outs, depth + 1)))
                return NULL;
    }
    return plan;
}

/* Make every region's inputs the union of both branches' captures, in one order. */
static enum d2_status align_captures(struct ts_lower *L, struct branch_result *br[2], d2_value_id **caps_out,
                                     uint32_t *count_out)
{
    uint32_t cap = br[0]->frame.num_captures + br[1]->frame.num_captures, n = 0;
    d2_value_id *caps = d2_arena_alloc(&L->arena, sizeof *caps * (cap ? cap : 1));
    if (!caps)
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < br[k]->frame.num_captures; i++) {
            bool seen = false;
            for (uint32_t j = 0; j < n; j++)
                seen = seen || caps[j] == br[k]->frame.outer[i];
            if (!seen)
                caps[n++] = br[k]->frame.outer[i];
        }
    for (int k = 0; k < 2; k++) {
        struct ts_frame *f = &br[k]->frame;
        d2_value_id *order = d2_arena_alloc(&L->arena, sizeof *order * (n ? n : 1));
        if (!order)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        for (uint32_t j = 0; j < n; j++) {
            order[j] = D2_NO_VALUE;
            for (uint32_t i = 0; i < f->num_captures; i++)
                if (f->outer[i] == caps[j])
                    order[j] = f->inner[i];
            if (order[j] == D2_NO_VALUE) {
                order[j] = d2_graph_add_input(f->g, NULL, &L->frame->g->values[caps[j]].type, L->err);
                if (order[j] == D2_NO_VALUE)
                    return L->err->code;
            }
        }
        if (f->g->num_inputs != n)
            return ts_fail(L, D2_ERR_INTERNAL, "branch inputs do not match its captures");
        for (uint32_t j = 0; j < n; j++) {
            f->g->inputs[j] = order[j];
            f->g->values[order[j]].input_index = (int32_t)j;
        }
    }
    *caps_out = caps;
    *count_out = n;
    return D2_OK;
}

static enum d2_status lower_dynamic_if(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s,
                                       struct tsv *cond)
{
    struct branch_result then_r, else_r, *br[2] = { &then_r, &else_r };
    struct merge_state m;
    const char **names = NULL;
    struct tsv **plans = NULL;
    struct ts_cell **cells = NULL;
    struct tsv **cell_plans = NULL;
    uint32_t num_names = 0, num_cells = 0, num_caps = 0;
    d2_value_id *caps = NULL, cond_id, *inputs, *outs;
    enum d2_status st;
    int32_t node;

    if (L->region_depth >= TS_MAX_REGION_DEPTH)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "branches on run-time conditions nested deeper than %d",
                       TS_MAX_REGION_DEPTH);
    cond_id = ts_cast(L, ts_use(L, cond), D2_DTYPE_BOOL);
    if (cond_id == D2_NO_VALUE)
        return L->err->code;
    L->region_depth++;
    memset(&then_r, 0, sizeof then_r);
    memset(&else_r, 0, sizeof else_r);
    st = lower_branch(L, env, &s->u.if_.then, &then_r);
    if (st == D2_OK)
        st = lower_branch(L, env, s->u.if_.orelse.count ? &s->u.if_.orelse : NULL, &else_r);
    L->region_depth--;
    memset(&m, 0, sizeof m);
    m.br[0] = &then_r;
    m.br[1] = &else_r;
    if (st != D2_OK)
        goto fail;

    /* Variables whose binding differs between the branches (or from before). */
    names = d2_arena_alloc(&L->arena, sizeof *names * (then_r.env.count + 1));
    plans = d2_arena_alloc(&L->arena, sizeof *plans * (then_r.env.count + 1));
    cells = d2_arena_alloc(&L->arena, sizeof *cells * (then_r.num_cells + else_r.num_cells + 1));
    cell_plans = d2_arena_alloc(&L->arena, sizeof *cell_plans * (then_r.num_cells + else_r.num_cells + 1));
    if (!names || !plans || !cells || !cell_plans) {
        st = ts_fail(L, D2_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < then_r.env.count; i++) {
        const char *name = then_r.env.names[i];
        struct tsv *a = then_r.env.values[i], *b = ts_env_get(&else_r.env, name);
        if (!b || (a == b && a == ts_env_get(env, name)))
            continue; /* unchanged, or defined in one branch only (unusable after) */
        if (a->kind == TSV_UNINIT || b->kind == TSV_UNINIT)
            continue;
        names[num_names] = name;
        if ((st = plan_merge(L, &m, a, b, &plans[num_names], 0)) != D2_OK)
            goto fail;
        num_names++;
    }
    /* Tensor cells written by either branch. */
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < br[k]->num_cells; i++) {
            struct ts_cell *cell = br[k]->cells[i];
            bool seen = false;
            for (uint32_t j = 0; j < num_cells; j++)
                seen = seen || cells[j] == cell;
            if (seen)
                continue;
            struct tsv *vals[2];
            for (int b = 0; b < 2; b++) {
                vals[b] = tsv_new(L, TSV_TENSOR);
                if (!vals[b]) {
                    st = L->err->code;
                    goto fail;
                }
                vals[b]->u.tensor.cell = d2_arena_alloc(&L->arena, sizeof(struct ts_cell));
                if (!vals[b]->u.tensor.cell) {
                    st = ts_fail(L, D2_ERR_NOMEM, "out of memory");
                    goto fail;
                }
                vals[b]->u.tensor.cell->v = cell->v; /* unwritten: the value before the if */
                for (uint32_t j = 0; j < br[b]->num_cells; j++)
                    if (br[b]->cells[j] == cell)
                        vals[b]->u.tensor.cell->v = br[b]->final[j];
            }
            uint32_t slot;
            if ((st = add_slot(L, &m, vals, &slot)) != D2_OK)
                goto fail;
            cells[num_cells] = cell;
            cell_plans[num_cells] = tsv_new(L, TSV_SLOT);
            if (!cell_plans[num_cells]) {
                st = L->err->code;
                goto fail;
            }
            cell_plans[num_cells++]->u.i = slot;
        }
    if (m.num_outs == 0) {
        /* Nothing flows out: the branches only computed values nobody reads. */
        for (int k = 0; k < 2; k++) {
            d2_graph_free(br[k]->frame.g);
            free_frame_arrays(L, &br[k]->frame);
        }
        goto bind;
    }
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < m.num_outs; i++)
            if (d2_graph_add_output(br[k]->frame.g, m.outs[k][i], L->err) != D2_OK) {
                st = L->err->code;
                goto fail;
            }
    if ((st = align_captures(L, br, &caps, &num_caps)) != D2_OK)
        goto fail;
    inputs = d2_arena_alloc(&L->arena, sizeof *inputs * (num_caps + 1));
    outs = d2_arena_alloc(&L->arena, sizeof *outs * m.num_outs);
    if (!inputs || !outs) {
        st = ts_fail(L, D2_ERR_NOMEM, "out of memory");
        goto fail;
    }
    inputs[0] = cond_id;
    memcpy(inputs + 1, caps, sizeof *caps * num_caps);
    node = ts_node(L, D2_OP_IF, num_caps + 1, inputs, m.num_outs);
    if (node < 0) {
        st = L->err->code;
        goto fail;
    }
    for (int k = 0; k < 2; k++) {
        struct d2_node *n = &L->frame->g->nodes[node];
        d2_graph_free(n->regions[k]);
        n->regions[k] = br[k]->frame.g;
        br[k]->frame.g = NULL;
        free_frame_arrays(L, &br[k]->frame);
    }
    if ((st = ts_finish(L, node, outs)) != D2_OK)
        return st;
    for (uint32_t i = 0; i < num_names; i++)
        if (!(plans[i] = resolve_plan(L, &m, plans[i], outs, 0)))
            return L->err->code;
    for (uint32_t i = 0; i < num_cells; i++) {
        struct tsv holder;
        memset(&holder, 0, sizeof holder);
        holder.kind = TSV_TENSOR;
        holder.u.tensor.cell = cells[i];
        if ((st = ts_tensor_assign(L, &holder, outs[cell_plans[i]->u.i])) != D2_OK)
            return st;
    }
bind:
    for (uint32_t i = 0; i < num_names; i++)
        if (!ts_env_set(L, env, names[i], plans[i]))
            return L->err->code;
    return D2_OK;
fail:
    for (int k = 0; k < 2; k++) {
        d2_graph_free(br[k]->frame.g);
        free_frame_arrays(L, &br[k]->frame);
    }
    return st;
}

/* ---- statements ---- */

static enum d2_status exec_if(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s, enum ts_flow *flow,
                              struct tsv **ret)
{
    struct tsv *cond;
    bool known, t;
    int64_t k;
    enum d2_status st = ts_eval(L, env, s->u.if_.cond, &cond);
    if (st != D2_OK)
        return st;
    t = tsv_truth(cond, &known);
    if (!known && ts_static_int(L, cond, &k)) {
        known = true;
        t = k != 0;
    }
    if (known) {
        const struct ts_block *b = t ? &s->u.if_.then : &s->u.if_.orelse;
        return b->count ? ts_exec_block(L, env, b, flow, ret) : D2_OK;
    }
    if (cond->kind != TSV_SCALAR && cond->kind != TSV_TENSOR)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "condition of type %s", tsv_describe(cond));
    {
        bool then_raises = ts_block_raises(&s->u.if_.then), else_raises = ts_block_raises(&s->u.if_.orelse);
        if (then_raises && else_raises)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "both branches raise an exception");
        if (then_raises)
            return s->u.if_.orelse.count ? ts_exec_block(L, env, &s->u.if_.orelse, flow, ret) : D2_OK;
        if (else_raises)
            return ts_exec_block(L, env, &s->u.if_.then, flow, ret);
    }
    return lower_dynamic_if(L, env, s, cond);
}

static enum d2_status exec_loop_body(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s,
                                     const struct ts_block *body, bool *stop, enum ts_flow *flow, struct tsv **ret)
{
    enum ts_flow f = TS_FLOW_NEXT;
    enum d2_status st;
    if (++L->unrolled > TS_MAX_UNROLL)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "more than %d loop iterations to unroll", TS_MAX_UNROLL);
    st = ts_exec_block(L, env, body, &f, ret);
    *stop = f == TS_FLOW_BREAK || f == TS_FLOW_RETURN; /* continue: just the next iteration */
    if (f == TS_FLOW_RETURN)
        *flow = TS_FLOW_RETURN;
    (void)s;
    return st;
}

static enum d2_status exec_for(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s, enum ts_flow *flow,
                               struct tsv **ret)
{
    const struct ts_expr *iter = s->u.for_.iter;
    enum d2_status st;
    bool stop = false;
    if (iter->kind == TSE_CALL && iter->u.call.fn->kind == TSE_NAME && strcmp(iter->u.call.fn->u.name, "range") == 0 &&
        !ts_env_get(env, "range")) {
        int64_t b[3] = { 0, 0, 1 };
        struct tsv *bounds[3] = { NULL, NULL, NULL };
        bool dynamic = false;
        uint32_t n = iter->u.call.args.count;
        if (n < 1 || n > 3)
            return ts_fail(L, D2_ERR_PARSE, "range() takes 1 to 3 arguments");
        for (uint32_t i = 0; i < n; i++) {
            struct tsv *v;
            int64_t k;
            if ((st = ts_eval(L, env, iter->u.call.args.items[i], &v)) != D2_OK)
                return st;
            bounds[n == 1 ? 1 : i] = v;
            if (!ts_static_int(L, v, &k)) {
                if (!ts_is_number(v) && !ts_is_tensor(v))
                    return ts_fail(L, D2_ERR_PARSE, "range() of %s", tsv_describe(v));
                if (i == 2)
                    return ts_fail(L, D2_ERR_UNSUPPORTED, "range() with a step known only at run time");
                dynamic = true;
                continue;
            }
            b[n == 1 ? 1 : i] = k;
        }
        if (dynamic) {
            if (b[2] == 0)
                return ts_fail(L, D2_ERR_PARSE, "range() step must not be zero");
            if (!bounds[0] && !(bounds[0] = tsv_int(L, 0)))
                return L->err->code;
            return ts_lower_dynamic_for(L, env, s, bounds[0], bounds[1], b[2]);
        }
        if (b[2] == 0)
            return ts_fail(L, D2_ERR_PARSE, "range() step must not be zero");
        for (int64_t i = b[0]; !stop && (b[2] > 0 ? i < b[1] : i > b[1]); i += b[2]) {
            struct tsv *iv = tsv_int(L, i);
            if (!iv)
                return L->err->code;
            if ((st = assign(L, env, s->u.for_.target, iv)) != D2_OK ||
                (st = exec_loop_body(L, env, s, &s->u.for_.body, &stop, flow, ret)) != D2_OK)
                return st;
        }
        return D2_OK;
    }
    {
        struct tsv *seq;
        if ((st = ts_eval(L, env, iter, &seq)) != D2_OK)
            return st;
        if (seq->kind == TSV_DICT) {
            for (uint32_t i = 0; !stop && i < seq->u.dict.count; i++)
                if ((st = assign(L, env, s->u.for_.target, seq->u.dict.keys[i])) != D2_OK ||
                    (st = exec_loop_body(L, env, s, &s->u.for_.body, &stop, flow, ret)) != D2_OK)
                    return st;
            return D2_OK;
        }
        if (seq->kind == TSV_TENSOR) {
            struct ts_call call = { 0 };
            struct tsv *args[1] = { seq };
            const char *names[1] = { NULL };
            call.args = args;
            call.names = names;
            call.count = 1;
            if ((st = ts_call_op(L, "aten::unbind", &call, &seq)) != D2_OK)
                return st;
        }
        if (seq->kind != TSV_LIST && seq->kind != TSV_TUPLE)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "loop over a %s value", tsv_describe(seq));
        /* The list may grow while iterating (Python semantics): re-read the count. */
        for (uint32_t i = 0; !stop && i < seq->u.seq.count; i++)
            if ((st = assign(L, env, s->u.for_.target, seq->u.seq.items[i])) != D2_OK ||
                (st = exec_loop_body(L, env, s, &s->u.for_.body, &stop, flow, ret)) != D2_OK)
                return st;
        return D2_OK;
    }
}

static enum d2_status exec_while(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s, enum ts_flow *flow,
                                 struct tsv **ret)
{
    bool stop = false;
    while (!stop) {
        struct tsv *cond;
        bool known, t;
        int64_t k;
        enum d2_status st = ts_eval(L, env, s->u.while_.cond, &cond);
        if (st != D2_OK)
            return st;
        t = tsv_truth(cond, &known);
        if (!known && ts_static_int(L, cond, &k)) {
            known = true;
            t = k != 0;
        }
        if (!known) {
            if (cond->kind != TSV_SCALAR && cond->kind != TSV_TENSOR)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "while condition of type %s", tsv_describe(cond));
            return ts_lower_dynamic_while(L, env, s, cond);
        }
        if (!t)
            break;
        if ((st = exec_loop_body(L, env, s, &s->u.while_.body, &stop, flow, ret)) != D2_OK)
            return st;
    }
    return D2_OK;
}

enum d2_status ts_exec_block(struct ts_lower *L, struct ts_env *env, const struct ts_block *b, enum ts_flow *flow,
                             struct tsv **ret)
{
    enum d2_status st = D2_OK;
    *flow = TS_FLOW_NEXT;
    for (uint32_t i = 0; i < b->count && st == D2_OK && *flow == TS_FLOW_NEXT; i++) {
        const struct ts_stmt *s = b->items[i];
        struct tsv *v;
        L->line = s->line;
        L->col = s->col;
        switch (s->kind) {
        case TSS_EXPR:
            if (is_raise_call(s->u.expr))
                return ts_fail(L, D2_ERR_UNSUPPORTED, "the model raises an exception on this path");
            st = ts_eval(L, env, s->u.expr, &v);
            break;
        case TSS_ASSIGN:
            if (s->u.assign.target->kind == TSE_TUPLE || s->u.assign.target->kind == TSE_LIST) {
                L->unpack_expr = s->u.assign.value;
                L->unpack_count = s->u.assign.target->u.seq.count;
            }
            st = ts_eval(L, env, s->u.assign.value, &v);
            L->unpack_expr = NULL;
            L->unbind_count_hint = 0;
            if (st == D2_OK)
                st = assign(L, env, s->u.assign.target, v);
            break;
        case TSS_ANN:
            if (s->u.ann.value && (st = ts_eval(L, env, s->u.ann.value, &v)) == D2_OK)
                st = assign(L, env, s->u.ann.target, v);
            break;
        case TSS_AUGASSIGN: {
            struct ts_expr bin;
            memset(&bin, 0, sizeof bin);
            bin.kind = TSE_BINARY;
            bin.line = s->line;
            bin.col = s->col;
            bin.u.binary.op = s->u.aug.op;
            bin.u.binary.left = s->u.aug.target;
            bin.u.binary.right = s->u.aug.value;
            if ((st = ts_eval(L, env, &bin, &v)) == D2_OK)
                st = assign(L, env, s->u.aug.target, v);
            break;
        }
        case TSS_IF:
            st = exec_if(L, env, s, flow, ret);
            break;
        case TSS_FOR:
            st = exec_for(L, env, s, flow, ret);
            break;
        case TSS_WHILE:
            st = exec_while(L, env, s, flow, ret);
            break;
        case TSS_WITH:
            /* Context managers in serialized code are no_grad blocks: run the body. */
            st = ts_exec_block(L, env, &s->u.with_.body, flow, ret);
            break;
        case TSS_RETURN:
            *ret = NULL;
            if (s->u.expr)
                st = ts_eval(L, env, s->u.expr, ret);
            *flow = TS_FLOW_RETURN;
            break;
        case TSS_BREAK: *flow = TS_FLOW_BREAK; break;
        case TSS_CONTINUE: *flow = TS_FLOW_CONTINUE; break;
        case TSS_PASS: case TSS_IMPORT: case TSS_ASSERT: case TSS_DEL: break;
        case TSS_RAISE:
            return ts_fail(L, D2_ERR_UNSUPPORTED, "the model raises an exception on this path");
        case TSS_DEF: case TSS_CLASS:
            return ts_fail(L, D2_ERR_UNSUPPORTED, "nested function or class definitions");
        }
    }
    return st;
}
