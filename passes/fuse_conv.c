/* passes/fuse_conv.c: fuse a conv with what follows it into one fused_conv node.
 *
 * Patterns (Y = conv(X, W, B?) with a single reader, not a graph output):
 *   conv -> relu                        fused_conv(X, W, B)     {activation=relu}
 *   conv -> add(Y, R)                   fused_conv(X, W, B, R)  {activation=none}
 *   conv -> add(Y, R) -> relu           fused_conv(X, W, B, R)  {activation=relu}
 * where R (either operand of the add) has exactly Y's type: the residual of a ResNet
 * block. A per-channel bias add (add of a constant [1, M, 1, 1]) is not a residual:
 * fold_batch_norm, earlier in the pipeline, has already moved it into B.
 *
 * The last node of the pattern (the relu, or the add) is rewritten in place into the
 * fused_conv: it comes after X, W, B and R are defined, so node order stays
 * topological without moving nodes, and its output keeps its value and name. The
 * conv and the add it replaces are left unread for dce. The fused node takes the
 * conv's name (what a profile should show).
 *
 * Why a fused op: one kernel call instead of three, and the reference and SIMD
 * kernels can apply bias, residual and activation while the output is still in
 * cache; the executor allocates one output instead of three. FPN's top-down
 * add(lateral conv, upsample(top)) is left to fuse_upsample_add, which runs first:
 * the upsampled map is not the conv's residual of choice (see docs/PASSES.md).
 */
#include "passes.h"

#include <string.h>

#include "pass_util.h"
#include "rewrite.h"

static bool is_graph_output(const struct d2_graph *g, d2_value_id v)
{
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

/* Readers per value among the live nodes, kept exact as fusions retire nodes. */
struct fuse_state {
    uint32_t *uses;
    bool *dead; /* per node: left unread by an earlier fusion */
};

static void count_reads(const struct d2_node *n, struct fuse_state *s, int delta)
{
    for (uint32_t i = 0; i < n->num_inputs; i++)
        if (n->inputs[i] != D2_NO_VALUE)
            s->uses[n->inputs[i]] = (uint32_t)((int64_t)s->uses[n->inputs[i]] + delta);
}

/* The single live node reading v (searched after node `after`), or NULL when v has
 * another number of readers or is a graph output. */
static struct d2_node *single_reader(struct d2_graph *g, d2_value_id v, uint32_t after, const struct fuse_state *s)
{
    if (s->uses[v] != 1 || is_graph_output(g, v))
        return NULL;
    for (uint32_t n = after + 1; n < g->num_nodes; n++)
        for (uint32_t i = 0; !s->dead[n] && i < g->nodes[n].num_inputs; i++)
            if (g->nodes[n].inputs[i] == v)
                return &g->nodes[n];
    return NULL;
}

static bool same_known_type(const struct d2_type *a, const struct d2_type *b)
{
    return a->dtype != D2_DTYPE_UNDEFINED && a->rank >= 0 && d2_type_equal(a, b);
}

static enum d2_status fuse(struct d2_graph *g, uint32_t conv_index, struct fuse_state *s, struct d2_error *err)
{
    struct d2_node *conv = &g->nodes[conv_index], *reader, *target;
    d2_value_id y = conv->outputs[0], residual = D2_NO_VALUE, x, w, b;
    const struct d2_attrs_conv *conv_attrs = conv->attrs;
    struct d2_attrs_fused_conv *attrs;
    const char *name = conv->name;
    bool relu = false;
    d2_value_id *inputs;

    reader = single_reader(g, y, conv_index, s);
    if (!reader)
        return D2_OK;
    if (reader->op == D2_OP_RELU) {
        target = reader;
        relu = true;
    } else if (reader->op == D2_OP_ADD && reader->num_inputs == 2) {
        residual = reader->inputs[0] == y ? reader->inputs[1] : reader->inputs[0];
        if (residual == y || residual == D2_NO_VALUE ||
            !same_known_type(&g->values[residual].type, &g->values[y].type) ||
            !same_known_type(&g->values[reader->outputs[0]].type, &g->values[y].type))
            return D2_OK;
        target = reader;
        {
            struct d2_node *after_add =
                single_reader(g, reader->outputs[0], (uint32_t)(reader - g->nodes), s);
            if (after_add && after_add->op == D2_OP_RELU) {
                target = after_add;
                relu = true;
            }
        }
    } else {
        return D2_OK;
    }
    if (s->uses[target->outputs[0]] == 0) /* an unread leftover of an earlier run: dce's */
        return D2_OK;

    x = conv->inputs[0];
    w = conv->inputs[1];
    b = conv->num_inputs > 2 ? conv->inputs[2] : D2_NO_VALUE;
    inputs = d2_arena_alloc(&g->arena, 4 * sizeof *inputs);
    if (!inputs)
        return d2_errorf(err, D2_ERR_NOMEM, "node '%s' (conv): out of memory fusing it", name);
    /* The conv and an add before a relu retire; the target reads the new inputs. */
    s->dead[conv_index] = true;
    count_reads(conv, s, -1);
    if (target != reader) {
        s->dead[reader - g->nodes] = true;
        count_reads(reader, s, -1);
    }
    count_reads(target, s, -1);
    attrs = d2_rewrite_retarget(g, target, D2_OP_FUSED_CONV, err);
    if (!attrs)
        return D2_ERR_NOMEM;
    attrs->kernel_shape = conv_attrs->kernel_shape;
    attrs->strides = conv_attrs->strides;
    attrs->pads = conv_attrs->pads;
    attrs->dilations = conv_attrs->dilations;
    attrs->group = conv_attrs->group;
    attrs->auto_pad = conv_attrs->auto_pad;
    attrs->activation = relu ? D2_FUSED_ACT_RELU : D2_FUSED_ACT_NONE;
    inputs[0] = x;
    inputs[1] = w;
    inputs[2] = b;
    inputs[3] = residual;
    target->inputs = inputs;
    target->num_inputs = residual != D2_NO_VALUE ? 4 : 3;
    target->name = name;
    count_reads(target, s, +1);
    return D2_OK;
}

enum d2_status d2_pass_fuse_conv(struct d2_graph *g, struct d2_error *err)
{
    struct fuse_state s;
    enum d2_status st = D2_OK;
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
            if ((st = d2_pass_fuse_conv(g->nodes[n].regions[r], err)) != D2_OK)
                return st;
    s.uses = d2_pass_count_live_uses(g, &s.dead, err);
    if (!s.uses)
        return D2_ERR_NOMEM;
    for (uint32_t n = 0; st == D2_OK && n < g->num_nodes; n++)
        if (g->nodes[n].op == D2_OP_CONV && !s.dead[n])
            st = fuse(g, n, &s, err);
    d2_free(g->alloc, s.uses);
    d2_free(g->alloc, s.dead);
    return st == D2_OK ? d2_infer_graph(g, err) : st;
}
