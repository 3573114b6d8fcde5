/* frontend/torchscript/ts_lower_loop.c: loops whose trip count or condition is known
 * only at run time, lowered to the IR `loop` (contracts in ts_lower.h).
 *
 * Static loops are unrolled by ts_lower_stmt.c. A `for i in range(a, b, step)` with a
 * run-time bound (step known), or a `while cond:` whose condition is a run-time bool,
 * becomes one `loop` node:
 *   1. discovery: the body is lowered once into a throwaway graph to learn which
 *      variables (and tensor cells) it changes: those are loop-carried;
 *   2. the body is lowered again into the loop's region, whose inputs are
 *      (iteration, cond, carried..., captures...) and whose outputs are
 *      (cond, carried'...); `i` is start + iteration * step;
 *   3. the node's outputs rebind the carried variables after the loop.
 * Carried values must be tensors or numbers; break, continue and return inside the
 * body are not supported. Carried inputs keep their dtype and rank; their dims may
 * change per iteration.
 *
 * Growing a list: the one list pattern such loops allow is torchvision's
 *     res = []
 *     for i in range(n): ...; res.append(tensor)
 * (an empty list from before the loop, appended to exactly once per iteration, at the
 * body's top level, and not read in the body). Each such list becomes a scan output
 * of the loop (the items stacked on a new axis 0), and after the loop the list is a
 * TSV_STACKED_LIST holding that tensor. While the body is lowered the list is a
 * TSV_SCAN_LIST, so that any other use of it fails with a clear error.
 */
#include "frontend/torchscript/ts_lower.h"

#include <string.h>

struct carried {
    const char **names;   /* variables */
    struct tsv **init;    /* their values before the loop */
    uint32_t num_names;
    struct ts_cell **cells; /* tensor cells written by the body */
    struct ts_irval *cell_init;
    uint32_t num_cells;
};

struct body_pass {
    struct ts_frame frame;
    struct ts_env env;
    d2_value_id iter, cond;  /* region inputs 0 and 1 */
    d2_value_id *carried_in; /* region inputs 2.. */
};

static bool is_number_or_tensor(const struct tsv *v)
{
    return v->kind == TSV_TENSOR || v->kind == TSV_SCALAR || v->kind == TSV_INT || v->kind == TSV_FLOAT ||
           v->kind == TSV_BOOL;
}

/* Type of a carried input: the initial value's dtype and rank, dims left open. */
static void relaxed_type(struct ts_lower *L, struct tsv *v, struct d2_type *t)
{
    const struct d2_type *src;
    d2_type_init_unknown(t);
    if (v->kind == TSV_TENSOR) {
        src = &v->u.tensor.cell->v.g->values[v->u.tensor.cell->v.id].type;
        t->dtype = src->dtype;
        t->rank = src->rank;
        for (int32_t d = 0; d < t->rank && d < D2_MAX_RANK; d++) {
            t->dims[d] = D2_DIM_UNKNOWN;
            t->upper_bounds[d] = -1;
        }
        return;
    }
    t->rank = 0;
    t->dtype = v->kind == TSV_FLOAT || (v->kind == TSV_SCALAR && v->u.scalar.type == TS_PY_FLOAT) ? D2_DTYPE_F64
               : v->kind == TSV_BOOL || (v->kind == TSV_SCALAR && v->u.scalar.type == TS_PY_BOOL) ? D2_DTYPE_BOOL
                                                                                                   : D2_DTYPE_I64;
    (void)L;
}

static enum ts_pytype pytype_of(const struct tsv *v)
{
    if (v->kind == TSV_SCALAR)
        return v->u.scalar.type;
    return v->kind == TSV_FLOAT ? TS_PY_FLOAT : v->kind == TSV_BOOL ? TS_PY_BOOL : TS_PY_INT;
}

/* A value like `like` (tensor or Python number) held in IR value id of the current graph. */
static struct tsv *value_like(struct ts_lower *L, const struct tsv *like, d2_value_id id)
{
    if (like->kind == TSV_TENSOR)
        return tsv_tensor(L, id);
    return tsv_scalar(L, ts_here(L, id), pytype_of(like));
}

/* Lower the body once in a new region frame. With `c` NULL (discovery), every
 * variable is as before the loop; otherwise carried variables and cells are bound to
 * region inputs. The loop variable (target) is start + iteration * step. */
static enum d2_status lower_body(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s,
                                 const struct carried *c, struct tsv *start, int64_t step, struct body_pass *p,
                                 uint32_t *mark_out)
{
    struct ts_frame *parent = L->frame;
    struct d2_type t;
    enum ts_flow flow = TS_FLOW_NEXT;
    struct tsv *ret = NULL;
    uint64_t saved_floor = L->region_floor;
    enum d2_status st;
    const struct ts_block *body = s->kind == TSS_FOR ? &s->u.for_.body : &s->u.while_.body;

    memset(p, 0, sizeof *p);
    p->frame.parent = parent;
    p->frame.g = d2_graph_new(L->alloc, L->err);
    if (!p->frame.g)
        return L->err->code;
    p->frame.g->parent = parent->g;
    d2_type_init(&t, D2_DTYPE_I64, 0, NULL);
    p->iter = d2_graph_add_input(p->frame.g, "iteration", &t, L->err);
    d2_type_init(&t, D2_DTYPE_BOOL, 0, NULL);
    p->cond = d2_graph_add_input(p->frame.g, "cond", &t, L->err);
    if (p->iter == D2_NO_VALUE || p->cond == D2_NO_VALUE)
        return L->err->code;
    if (!ts_env_copy(L, &p->env, env))
        return L->err->code;
    *mark_out = L->num_writes;
    L->frame = &p->frame;
    L->region_floor = L->epoch;
    if (L->loop_scan) {
        L->loop_scan->floor = L->region_floor;
        for (uint32_t k = 0; k < L->loop_scan->count; k++) {
            L->loop_scan->lists[k]->kind = TSV_SCAN_LIST;
            L->loop_scan->items[k] = NULL;
        }
    }
    if (c) {
        uint32_t n = c->num_names + c->num_cells;
        p->carried_in = d2_arena_alloc(&L->arena, sizeof *p->carried_in * (n ? n : 1));
        if (!p->carried_in) {
            st = ts_fail(L, D2_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (uint32_t i = 0; i < c->num_names; i++) {
            relaxed_type(L, c->init[i], &t);
            p->carried_in[i] = d2_graph_add_input(p->frame.g, c->names[i], &t, L->err);
            struct tsv *v = p->carried_in[i] == D2_NO_VALUE ? NULL : value_like(L, c->init[i], p->carried_in[i]);
            if (!v || !ts_env_set(L, &p->env, c->names[i], v)) {
                st = L->err->code;
                goto out;
            }
        }
        for (uint32_t i = 0; i < c->num_cells; i++) {
            struct tsv holder;
            memset(&holder, 0, sizeof holder);
            holder.kind = TSV_TENSOR;
            holder.u.tensor.cell = c->cells[i];
            relaxed_type(L, &holder, &t);
            d2_value_id in = d2_graph_add_input(p->frame.g, NULL, &t, L->err);
            p->carried_in[c->num_names + i] = in;
            if (in == D2_NO_VALUE || (st = ts_tensor_assign(L, &holder, in)) != D2_OK) {
                st = L->err->code;
                goto out;
            }
        }
    }
    if (s->kind == TSS_FOR) {
        /* i = start + iteration * step */
        d2_value_id i = p->iter;
        if (step != 1)
            i = ts_binary(L, D2_OP_MUL, i, ts_const_i64(L, &step, 1, true));
        i = ts_binary(L, D2_OP_ADD, i, ts_int_value(L, start));
        struct tsv *iv = i == D2_NO_VALUE ? NULL : tsv_scalar(L, ts_here(L, i), TS_PY_INT);
        if (!iv || s->u.for_.target->kind != TSE_NAME || !ts_env_set(L, &p->env, s->u.for_.target->u.name, iv)) {
            st = iv ? ts_fail(L, D2_ERR_UNSUPPORTED, "a run-time loop needs a plain loop variable") : L->err->code;
            goto out;
        }
    }
    st = ts_exec_block(L, &p->env, body, &flow, &ret);
    if (st == D2_OK && flow != TS_FLOW_NEXT)
        st = ts_fail(L, D2_ERR_UNSUPPORTED, "break, continue or return in a loop with a run-time trip count");
out:
    L->region_floor = saved_floor;
    L->frame = parent;
    return st;
}

static void undo_writes(struct ts_lower *L, uint32_t mark)
{
    for (uint32_t i = L->num_writes; i-- > mark;) {
        L->writes[i].cell->v = L->writes[i].old;
        L->writes[i].cell->version = L->writes[i].old_version;
    }
    L->num_writes = mark;
}

static void free_pass(struct ts_lower *L, struct body_pass *p)
{
    d2_graph_free(p->frame.g);
    p->frame.g = NULL;
    d2_free(L->alloc, p->frame.outer);
    d2_free(L->alloc, p->frame.inner);
    d2_free(L->alloc, (void *)p->frame.const_keys);
    d2_free(L->alloc, p->frame.const_ids);
}

static bool visible_from(const struct ts_frame *f, const struct d2_graph *g)
{
    for (; f; f = f->parent)
        if (f->g == g)
            return true;
    return false;
}

/* What the body changes, from the discovery pass. */
static enum d2_status find_carried(struct ts_lower *L, struct ts_env *env, struct body_pass *p, uint32_t mark,
                                   const struct ts_stmt *s, struct carried *c)
{
    const char *loop_var = s->kind == TSS_FOR && s->u.for_.target->kind == TSE_NAME ? s->u.for_.target->u.name : NULL;
    memset(c, 0, sizeof *c);
    c->names = d2_arena_alloc(&L->arena, sizeof *c->names * (p->env.count + 1));
    c->init = d2_arena_alloc(&L->arena, sizeof *c->init * (p->env.count + 1));
    c->cells = d2_arena_alloc(&L->arena, sizeof *c->cells * (L->num_writes - mark + 1));
    c->cell_init = d2_arena_alloc(&L->arena, sizeof *c->cell_init * (L->num_writes - mark + 1));
    if (!c->names || !c->init || !c->cells || !c->cell_init)
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < p->env.count; i++) {
        const char *name = p->env.names[i];
        struct tsv *before = ts_env_get(env, name);
        if (!before || p->env.values[i] == before || (loop_var && strcmp(name, loop_var) == 0))
            continue; /* unchanged, or local to the body */
        if (!is_number_or_tensor(before) || !is_number_or_tensor(p->env.values[i]))
            return ts_fail(L, D2_ERR_UNSUPPORTED,
                           "variable '%s' changes in a loop with a run-time trip count but is a %s, not a tensor or number",
                           name, tsv_describe(before));
        c->names[c->num_names] = name;
        c->init[c->num_names++] = before;
    }
    for (uint32_t i = mark; i < L->num_writes; i++) {
        struct ts_cell *cell = L->writes[i].cell;
        bool seen = false;
        for (uint32_t k = 0; k < c->num_cells; k++)
            seen = seen || c->cells[k] == cell;
        if (seen || !visible_from(p->frame.parent, L->writes[i].old.g))
            continue;
        c->cells[c->num_cells] = cell;
        c->cell_init[c->num_cells++] = L->writes[i].old;
    }
    return D2_OK;
}

static d2_value_id trip_count(struct ts_lower *L, struct tsv *start, struct tsv *end, int64_t step)
{
    /* max(0, ceil((end - start) / step)) = max(0, floor((end - start + step -/+ 1) / step)) */
    int64_t adjust = step > 0 ? step - 1 : step + 1, zero = 0;
    d2_value_id diff = ts_binary(L, D2_OP_SUB, ts_int_value(L, end), ts_int_value(L, start));
    d2_value_id num = ts_binary(L, D2_OP_ADD, diff, ts_const_i64(L, &adjust, 1, true));
    d2_value_id den = ts_const_i64(L, &step, 1, true);
    d2_value_id q = ts_binary(L, D2_OP_DIV, ts_binary(L, D2_OP_SUB, num, ts_binary(L, D2_OP_MOD, num, den)), den);
    return ts_binary(L, D2_OP_MAX, q, ts_const_i64(L, &zero, 1, true));
}

static void scan_lists_to(struct ts_loop_scan *sc, enum tsv_kind kind)
{
    for (uint32_t k = 0; k < sc->count; k++)
        sc->lists[k]->kind = kind;
}

static enum d2_status build_loop_with(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s,
                                      struct tsv *start, struct tsv *end, int64_t step, struct tsv *cond0,
                                      struct ts_loop_scan *sc)
{
    struct body_pass p;
    struct carried c;
    uint32_t mark, n;
    d2_value_id *inputs, *outs, m = D2_NO_VALUE, cond_init;
    int32_t node;
    enum d2_status st;
    uint64_t mutations = L->container_mutations;

    if (L->region_depth >= TS_MAX_REGION_DEPTH)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "run-time loops and branches nested deeper than %d", TS_MAX_REGION_DEPTH);
    L->region_depth++;
    /* 1. discovery */
    st = lower_body(L, env, s, NULL, start, step, &p, &mark);
    if (st == D2_OK && L->container_mutations != mutations)
        st = ts_fail(L, D2_ERR_UNSUPPORTED,
                     "a loop with a run-time trip count changes a list, dict or object (not supported)");
    if (st == D2_OK && s->kind == TSS_WHILE) { /* the condition may read carried values too */
        struct ts_frame *parent = L->frame;
        struct tsv *cv;
        L->frame = &p.frame;
        st = ts_eval(L, &p.env, s->u.while_.cond, &cv);
        L->frame = parent;
    }
    if (st == D2_OK)
        st = find_carried(L, env, &p, mark, s, &c);
    undo_writes(L, mark);
    free_pass(L, &p);
    scan_lists_to(sc, TSV_LIST);
    sc->discovering = false;
    if (st != D2_OK) {
        L->region_depth--;
        return st;
    }
    /* 2. the real body */
    st = lower_body(L, env, s, &c, start, step, &p, &mark);
    n = c.num_names + c.num_cells;
    if (st == D2_OK) {
        struct ts_frame *parent = L->frame;
        d2_value_id cond_out;
        L->frame = &p.frame;
        if (s->kind == TSS_WHILE) {
            struct tsv *cv;
            st = ts_eval(L, &p.env, s->u.while_.cond, &cv);
            cond_out = st == D2_OK ? ts_cast(L, ts_use(L, cv), D2_DTYPE_BOOL) : D2_NO_VALUE;
        } else {
            cond_out = ts_const_scalar(L, D2_DTYPE_BOOL, 1);
        }
        if (cond_out == D2_NO_VALUE || d2_graph_add_output(p.frame.g, cond_out, L->err) != D2_OK)
            st = L->err->code ? L->err->code : D2_ERR_INTERNAL;
        for (uint32_t i = 0; st == D2_OK && i < n; i++) {
            struct tsv *v;
            d2_value_id in = p.carried_in[i], id;
            if (i < c.num_names) {
                v = ts_env_get(&p.env, c.names[i]);
            } else {
                struct tsv holder;
                memset(&holder, 0, sizeof holder);
                holder.kind = TSV_TENSOR;
                holder.u.tensor.cell = c.cells[i - c.num_names];
                v = &holder;
                id = ts_use(L, v);
                goto have_id;
            }
            if (!v || !is_number_or_tensor(v)) {
                st = ts_fail(L, D2_ERR_UNSUPPORTED, "loop-carried '%s' is not a tensor or number at the end of the body",
                             c.names[i]);
                break;
            }
            id = ts_use(L, v);
        have_id:
            id = ts_cast(L, id, p.frame.g->values[in].type.dtype);
            if (id == D2_NO_VALUE || d2_graph_add_output(p.frame.g, id, L->err) != D2_OK)
                st = L->err->code ? L->err->code : D2_ERR_INTERNAL;
        }
        for (uint32_t k = 0; st == D2_OK && k < sc->count; k++) { /* scan outputs: the appended items */
            d2_value_id id = sc->items[k] ? ts_use(L, sc->items[k]) : D2_NO_VALUE;
            if (!sc->items[k])
                st = ts_fail(L, D2_ERR_UNSUPPORTED, "a list appended to in a run-time loop is not appended to on every "
                                                    "iteration (not supported)");
            else if (id == D2_NO_VALUE || d2_graph_add_output(p.frame.g, id, L->err) != D2_OK)
                st = L->err->code ? L->err->code : D2_ERR_INTERNAL;
        }
        L->frame = parent;
    }
    undo_writes(L, mark);
    L->region_depth--;
    if (st != D2_OK) {
        free_pass(L, &p);
        return st;
    }
    /* 3. the node */
    if (s->kind == TSS_FOR) {
        m = trip_count(L, start, end, step);
        cond_init = ts_const_scalar(L, D2_DTYPE_BOOL, 1);
    } else {
        cond_init = ts_cast(L, ts_use(L, cond0), D2_DTYPE_BOOL);
    }
    inputs = d2_arena_alloc(&L->arena, sizeof *inputs * (2 + n + p.frame.num_captures));
    outs = d2_arena_alloc(&L->arena, sizeof *outs * (n + sc->count + 1));
    if (!inputs || !outs) {
        free_pass(L, &p);
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    }
    inputs[0] = m;
    inputs[1] = cond_init;
    for (uint32_t i = 0; i < n; i++) {
        if (i < c.num_names) {
            inputs[2 + i] = ts_cast(L, ts_use(L, c.init[i]), p.frame.g->values[p.carried_in[i]].type.dtype);
        } else {
            inputs[2 + i] = ts_use_irval(L, c.cell_init[i - c.num_names]);
        }
        if (inputs[2 + i] == D2_NO_VALUE) {
            free_pass(L, &p);
            return L->err->code;
        }
    }
    if (p.frame.num_captures)
        memcpy(inputs + 2 + n, p.frame.outer, sizeof *inputs * p.frame.num_captures);
    if (cond_init == D2_NO_VALUE || (s->kind == TSS_FOR && m == D2_NO_VALUE)) {
        free_pass(L, &p);
        return L->err->code;
    }
    node = ts_node(L, D2_OP_LOOP, 2 + n + p.frame.num_captures, inputs, n + sc->count);
    if (node < 0) {
        free_pass(L, &p);
        return L->err->code;
    }
    {
        struct d2_node *nd = &L->frame->g->nodes[node];
        ((struct d2_attrs_loop *)nd->attrs)->num_carried = n;
        d2_graph_free(nd->regions[0]);
        nd->regions[0] = p.frame.g;
        p.frame.g = NULL;
        free_pass(L, &p);
    }
    if ((st = ts_finish(L, node, outs)) != D2_OK)
        return st;
    for (uint32_t i = 0; i < c.num_names; i++) {
        struct tsv *v = value_like(L, c.init[i], outs[i]);
        if (!v || !ts_env_set(L, env, c.names[i], v))
            return L->err->code;
    }
    for (uint32_t i = 0; i < c.num_cells; i++) {
        struct tsv holder;
        memset(&holder, 0, sizeof holder);
        holder.kind = TSV_TENSOR;
        holder.u.tensor.cell = c.cells[i];
        if ((st = ts_tensor_assign(L, &holder, outs[c.num_names + i])) != D2_OK)
            return st;
    }
    for (uint32_t k = 0; k < sc->count; k++) {
        struct tsv *list = sc->lists[k];
        /* a list from before an enclosing run-time branch or loop cannot change there */
        ts_note_mutation(L, list->born);
        list->kind = TSV_STACKED_LIST;
        list->u.stacked = ts_here(L, outs[n + k]);
    }
    return D2_OK;
}

static enum d2_status build_loop(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s, struct tsv *start,
                                 struct tsv *end, int64_t step, struct tsv *cond0)
{
    struct ts_loop_scan sc;
    enum d2_status st;
    memset(&sc, 0, sizeof sc);
    sc.discovering = true;
    sc.outer = L->loop_scan;
    L->loop_scan = &sc;
    st = build_loop_with(L, env, s, start, end, step, cond0, &sc);
    L->loop_scan = sc.outer;
    if (st != D2_OK)
        scan_lists_to(&sc, TSV_LIST);
    return st;
}

bool ts_loop_scan_append(struct ts_lower *L, struct tsv *list, struct tsv *item, enum d2_status *st)
{
    struct ts_loop_scan *sc = L->loop_scan;
    uint32_t k = 0;
    if (list->kind == TSV_SCAN_LIST) {
        while (sc && k < sc->count && sc->lists[k] != list)
            k++;
        if (!sc || k == sc->count) {
            *st = ts_fail(L, D2_ERR_UNSUPPORTED, "append in a nested run-time loop to a list grown by an enclosing one "
                                                 "(not supported)");
            return true;
        }
    } else {
        /* a new scan list: only while discovering, for an empty list from before the
         * loop, appended at the body's top level (not under a run-time `if`) */
        if (!sc || !sc->discovering || list->kind != TSV_LIST || list->born > sc->floor || list->u.seq.count != 0 ||
            L->region_floor != sc->floor)
            return false;
        if (sc->count == sc->cap) {
            uint32_t cap = sc->cap ? 2 * sc->cap : 4;
            struct tsv **lists = d2_arena_alloc(&L->arena, sizeof *lists * cap);
            struct tsv **items = d2_arena_alloc(&L->arena, sizeof *items * cap);
            if (!lists || !items) {
                *st = ts_fail(L, D2_ERR_NOMEM, "out of memory");
                return true;
            }
            if (sc->count) {
                memcpy(lists, sc->lists, sizeof *lists * sc->count);
                memcpy(items, sc->items, sizeof *items * sc->count);
            }
            sc->lists = lists;
            sc->items = items;
            sc->cap = cap;
        }
        k = sc->count++;
        sc->lists[k] = list;
        sc->items[k] = NULL;
        list->kind = TSV_SCAN_LIST;
    }
    if (L->region_floor != sc->floor)
        *st = ts_fail(L, D2_ERR_UNSUPPORTED, "a list grown by a run-time loop is appended to under a run-time condition "
                                             "(not supported)");
    else if (sc->items[k])
        *st = ts_fail(L, D2_ERR_UNSUPPORTED, "a list grown by a run-time loop is appended to more than once per "
                                             "iteration (not supported)");
    else if (!ts_is_tensor(item))
        *st = ts_fail(L, D2_ERR_UNSUPPORTED, "a run-time loop appends %s to a list (only tensors are supported)",
                      tsv_describe(item));
    else {
        sc->items[k] = item;
        *st = D2_OK;
    }
    return true;
}

d2_value_id ts_stacked_list_join(struct ts_lower *L, const struct tsv *list, int64_t dim, bool stack)
{
    d2_value_id x = ts_use_irval(L, list->u.stacked), shape, parts[3], merged;
    int32_t rank = x == D2_NO_VALUE ? -1 : ts_rank(L, x); /* item rank + 1 */
    int64_t d, perm[D2_MAX_RANK], lo, hi;
    uint32_t np = 0;
    if (x == D2_NO_VALUE)
        return D2_NO_VALUE;
    if (rank < 1 || (!stack && rank < 2)) {
        ts_fail(L, D2_ERR_UNSUPPORTED, "%s of a list of run-time length: items of unknown or zero rank",
                stack ? "torch.stack" : "torch.cat");
        return D2_NO_VALUE;
    }
    if (!d2_normalize_axis(dim, stack ? rank : rank - 1, &d)) {
        ts_fail(L, D2_ERR_SHAPE, "%s: dim %lld out of range", stack ? "torch.stack" : "torch.cat", (long long)dim);
        return D2_NO_VALUE;
    }
    if (d > 0) { /* move the list axis (0) to d */
        for (int64_t a = 0; a < rank; a++)
            perm[a] = a < d ? a + 1 : a == d ? 0 : a;
        x = ts_transpose(L, x, perm, (uint32_t)rank);
    }
    if (stack)
        return x;
    /* cat: merge the list axis d with the items' axis after it */
    shape = ts_shape(L, x);
    lo = d;
    hi = d + 1;
    merged = ts_binary(L, D2_OP_MUL, ts_slice1(L, shape, 0, ts_const_i64(L, &lo, 1, true), ts_const_i64(L, &hi, 1, true), 1),
                       ts_slice1(L, shape, 0, ts_const_i64(L, &hi, 1, true),
                                 ts_const_i64(L, &(int64_t){ d + 2 }, 1, true), 1));
    if (d > 0)
        parts[np++] = ts_slice1(L, shape, 0, ts_const_i64(L, &(int64_t){ 0 }, 1, true), ts_const_i64(L, &lo, 1, true), 1);
    parts[np++] = merged;
    if (d + 2 < rank)
        parts[np++] = ts_slice1(L, shape, 0, ts_const_i64(L, &(int64_t){ d + 2 }, 1, true),
                                ts_const_i64(L, &(int64_t){ rank }, 1, true), 1);
    for (uint32_t i = 0; i < np; i++)
        if (parts[i] == D2_NO_VALUE)
            return D2_NO_VALUE;
    return ts_reshape(L, x, ts_concat(L, parts, np, 0));
}

enum d2_status ts_lower_dynamic_for(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s,
                                    struct tsv *start, struct tsv *end, int64_t step)
{
    return build_loop(L, env, s, start, end, step, NULL);
}

enum d2_status ts_lower_dynamic_while(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s, struct tsv *cond)
{
    return build_loop(L, env, s, NULL, NULL, 1, cond);
}
