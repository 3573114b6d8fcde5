/* passes/fold_constants.c: constant folding.
 *
 * One forward sweep over the nodes (topological order). Each node's type is first
 * re-inferred, because folding earlier nodes may have turned its inputs into
 * constants (a reshape whose shape input just became constant now has a static
 * output). Then the node is replaced by constants when
 *   - every present input is a constant: it is computed with the CPU reference
 *     kernel (passes/pass_util.c d2_pass_evaluate_node), or
 *   - it is `shape` (or `size`) of a value whose type fixes the result: only the
 *     dims are needed, never the data. This is what collapses the shape arithmetic of
 *     traced detectron2 graphs (shape -> gather -> unsqueeze -> concat -> reshape)
 *     once the input shapes are static (see specialize_shapes).
 * Readers of a folded output read the new constant, which takes the output's name;
 * the node itself is left unread and the dce pass removes it. Identity nodes are
 * bypassed (their readers read the input), except where the output is a graph output
 * (its name is the model's output name).
 *
 * Not folded:
 *   - control flow (if, loop) and nodes with regions: they stay, but their regions are
 *     folded too (a region's inputs are its captures, never constants);
 *   - results above FOLD_MAX_BYTES, or above FOLD_GROWTH_FLOOR_BYTES and more than
 *     FOLD_MAX_GROWTH times the bytes the node reads (expand, tile, constant_of_shape
 *     of big shapes): materializing them would bloat model.ir and memory for nothing;
 *   - nodes whose evaluation fails at compile time (the error is left to run time,
 *     where it belongs, e.g. inside a branch that is never taken);
 *   - nodes nothing reads (dce's business; skipping them keeps the pass idempotent).
 * At the end shape inference runs over the whole graph so every type agrees with
 * the new constants.
 */
#include "passes.h"

#include <string.h>

#include "pass_util.h"

#define FOLD_MAX_BYTES (16 * 1024 * 1024)
#define FOLD_GROWTH_FLOOR_BYTES (64 * 1024)
#define FOLD_MAX_GROWTH 4

/* Readers per value, grown as constants are added. */
struct use_counts {
    uint32_t *count;
    uint32_t cap;
};

static enum d2_status count_uses(const struct d2_graph *g, struct use_counts *u, struct d2_error *err)
{
    u->cap = g->num_values + 64;
    u->count = d2_calloc(g->alloc, u->cap, sizeof *u->count);
    if (!u->count)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory in constant folding");
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t i = 0; i < g->nodes[n].num_inputs; i++)
            if (g->nodes[n].inputs[i] < g->num_values)
                u->count[g->nodes[n].inputs[i]]++;
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] < g->num_values)
            u->count[g->outputs[i]]++;
    return D2_OK;
}

/* Readers of `from` now read `to` (a value added after the counts were taken). */
static enum d2_status move_uses(const struct d2_graph *g, struct use_counts *u, d2_value_id from, d2_value_id to,
                                struct d2_error *err)
{
    if (to >= u->cap) {
        uint32_t cap = g->num_values + 64;
        uint32_t *grown = d2_realloc(g->alloc, u->count, (size_t)cap * sizeof *grown);
        if (!grown)
            return d2_errorf(err, D2_ERR_NOMEM, "out of memory in constant folding");
        memset(grown + u->cap, 0, (size_t)(cap - u->cap) * sizeof *grown);
        u->count = grown;
        u->cap = cap;
    }
    u->count[to] += u->count[from];
    u->count[from] = 0;
    return D2_OK;
}

static bool is_graph_output(const struct d2_graph *g, d2_value_id v)
{
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

/* Can node n be computed now? *input_bytes receives the bytes it reads. */
static bool foldable(const struct d2_graph *g, const struct d2_node *n, int64_t *input_bytes)
{
    const struct d2_op_info *info = d2_op_info(n->op);
    bool dims_only = n->op == D2_OP_SHAPE || n->op == D2_OP_SIZE;
    *input_bytes = 0;
    if (!info || (info->flags & D2_OPF_CONTROL) || n->num_regions > 0)
        return false;
    for (uint32_t k = 0; k < n->num_inputs; k++) {
        d2_value_id v = n->inputs[k];
        const struct d2_tensor *t;
        if (v == D2_NO_VALUE)
            continue;
        t = d2_graph_constant_of(g, v);
        if (t) {
            *input_bytes += (int64_t)t->nbytes;
            continue;
        }
        if (!dims_only)
            return false;
        /* shape/size: the dims the result reads must be known. For shape with a
         * start/end window the shape function decides; a static type always works. */
        if (n->op == D2_OP_SIZE && !d2_type_is_static(&g->values[v].type))
            return false;
        if (n->op == D2_OP_SHAPE && !d2_type_is_static(&g->values[n->outputs[0]].type))
            return false;
        if (n->op == D2_OP_SHAPE) {
            /* The output length is known; every dim it copies must be too. */
            const struct d2_type *t_in = &g->values[v].type;
            const struct d2_attrs_shape *a = n->attrs;
            int64_t start = a->start < 0 ? a->start + t_in->rank : a->start;
            int64_t len = g->values[n->outputs[0]].type.dims[0];
            if (t_in->rank < 0)
                return false;
            start = start < 0 ? 0 : start > t_in->rank ? t_in->rank : start;
            for (int64_t d = start; d < start + len && d < t_in->rank; d++)
                if (t_in->dims[d] < 0)
                    return false;
        }
    }
    return true;
}

/* Would folding n materialize too much? Checked on the inferred output types when
 * they are static, else on the computed tensors. */
static bool too_big(int64_t out_bytes, int64_t input_bytes)
{
    if (out_bytes < 0 || out_bytes > FOLD_MAX_BYTES)
        return true;
    return out_bytes > FOLD_GROWTH_FLOOR_BYTES && out_bytes > FOLD_MAX_GROWTH * input_bytes;
}

static enum d2_status fold_graph(struct d2_graph *g, struct d2_error *err);

static enum d2_status fold_node(struct d2_graph *g, uint32_t index, struct use_counts *uses, struct d2_error *err)
{
    enum { MAX_OUT = 64 };
    struct d2_node *n = &g->nodes[index];
    struct d2_tensor results[MAX_OUT];
    struct d2_error local = { D2_OK, "" };
    int64_t input_bytes, out_bytes = 0;
    bool read = false;
    enum d2_status st;

    for (uint32_t r = 0; r < n->num_regions; r++)
        if ((st = fold_graph(n->regions[r], err)) != D2_OK)
            return st;
    /* Earlier folds may have made this node's types precise; a failure here is left
     * for the final inference (or run time) to report. */
    if (d2_infer_node(g, (int32_t)index, &local) == D2_ERR_NOMEM)
        return d2_errorf(err, D2_ERR_NOMEM, "%s", local.message);
    n = &g->nodes[index];
    for (uint32_t j = 0; j < n->num_outputs; j++)
        read = read || (n->outputs[j] < uses->cap && uses->count[n->outputs[j]] > 0);
    if (!read || n->num_outputs > MAX_OUT)
        return D2_OK;

    if (n->op == D2_OP_IDENTITY && n->num_inputs == 1 && n->inputs[0] != D2_NO_VALUE &&
        !is_graph_output(g, n->outputs[0])) {
        d2_pass_replace_uses(g, n->outputs[0], n->inputs[0]);
        return move_uses(g, uses, n->outputs[0], n->inputs[0], err);
    }
    if (!foldable(g, n, &input_bytes))
        return D2_OK;
    for (uint32_t j = 0; j < n->num_outputs; j++) {
        int64_t b = d2_pass_type_bytes(&g->values[n->outputs[j]].type);
        if (b >= 0 && too_big(b, input_bytes))
            return D2_OK;
    }
    d2_error_clear(&local);
    st = d2_pass_evaluate_node(g, index, results, &local);
    if (st == D2_ERR_NOMEM)
        return d2_errorf(err, D2_ERR_NOMEM, "%s", local.message);
    if (st != D2_OK)
        return D2_OK;
    for (uint32_t j = 0; j < n->num_outputs; j++)
        out_bytes += (int64_t)results[j].nbytes;
    if (too_big(out_bytes, input_bytes)) {
        for (uint32_t j = 0; j < n->num_outputs; j++)
            d2_tensor_release(&results[j], g->alloc);
        return D2_OK;
    }
    for (uint32_t j = 0; j < n->num_outputs; j++) {
        d2_value_id out = g->nodes[index].outputs[j], c;
        if (out < uses->cap && uses->count[out] == 0) {
            d2_tensor_release(&results[j], g->alloc);
            continue;
        }
        c = d2_pass_replace_by_constant(g, out, &results[j], err);
        if (c == D2_NO_VALUE) {
            for (uint32_t k = j + 1; k < g->nodes[index].num_outputs; k++)
                d2_tensor_release(&results[k], g->alloc);
            return D2_ERR_NOMEM;
        }
        if ((st = move_uses(g, uses, out, c, err)) != D2_OK) {
            for (uint32_t k = j + 1; k < g->nodes[index].num_outputs; k++)
                d2_tensor_release(&results[k], g->alloc);
            return st;
        }
    }
    return D2_OK;
}

static enum d2_status fold_graph(struct d2_graph *g, struct d2_error *err)
{
    struct use_counts uses;
    enum d2_status st = count_uses(g, &uses, err);
    for (uint32_t i = 0; st == D2_OK && i < g->num_nodes; i++)
        st = fold_node(g, i, &uses, err);
    d2_free(g->alloc, uses.count);
    return st;
}

enum d2_status d2_pass_fold_constants(struct d2_graph *g, struct d2_error *err)
{
    enum d2_status st = fold_graph(g, err);
    return st == D2_OK ? d2_infer_graph(g, err) : st;
}
