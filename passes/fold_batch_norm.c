/* passes/fold_batch_norm.c: fold per-channel affine ops that follow a conv into the
 * conv's weights and bias.
 *
 * A conv (or conv_transpose) with constant W (and B) whose output has a single reader
 * absorbs that reader, repeatedly, when it is
 *   - batch_norm(Y, scale, bias, mean, var) with constant parameters:
 *         s = scale / sqrt(var + epsilon);  W' = W * s;  B' = (B - mean) * s + bias
 *   - mul(Y, c) or mul(c, Y) with c a per-channel constant:  W' = W * c;  B' = B * c
 *   - add(Y, c) or add(c, Y) with c per-channel:             B' = B + c
 * (detectron2's FrozenBatchNorm2d exports as exactly such a mul and add, whose
 * constant operands fold_constants has computed). "Per-channel" means the constant
 * broadcasts along Y's channel axis only: its dims, right-aligned against Y's
 * [N, M, spatial...], are 1 except possibly M at the channel axis; a single element
 * counts too. The result never has a bigger shape than Y.
 * The arithmetic runs in double and the new W' and B' are stored in W's dtype (f32 or
 * f64; other dtypes are left alone). The conv then reads W' and B' and its output
 * takes the last absorbed value's name and readers; the absorbed nodes are left
 * unread for dce. This changes rounding slightly (one rounding instead of one per op),
 * which is why the pass runs only on constants: results stay within float tolerance.
 */
#include "passes.h"

#include <math.h>
#include <string.h>

#include "pass_util.h"
#include "rewrite.h"

/* The conv being folded: W and B as doubles, and its channel geometry. */
struct fold {
    struct d2_graph *g;
    uint32_t conv;          /* node index */
    bool transpose;
    int64_t out_channels;   /* M */
    int64_t group;
    int64_t w_count;        /* elements of W */
    const struct d2_tensor *w;
    double *w_new;          /* W' */
    double *b_new;          /* B', M entries */
    bool changed;
};

/* Output channel of weight element i. conv: W is [M, C/group, k...]; conv_transpose:
 * W is [C, M/group, k...] and output channel = (c / (C/group)) * (M/group) + mm. */
static int64_t out_channel_of(const struct fold *f, int64_t i)
{
    int64_t per_d0 = f->w_count / f->w->dims[0];
    int64_t d0 = i / per_d0;
    if (!f->transpose)
        return d0;
    int64_t mg = f->w->dims[1], cg = f->w->dims[0] / f->group;
    int64_t mm = (i % per_d0) / (per_d0 / mg);
    return (d0 / cg) * mg + mm;
}

/* Is v a constant that broadcasts against a value of rank `rank` along axis
 * `channel_axis` only (M channels there)? Then values[0..M) receives its per-channel
 * values. */
static bool per_channel(const struct d2_graph *g, d2_value_id v, int32_t rank, int32_t channel_axis, int64_t channels,
                        double *values)
{
    const struct d2_tensor *c = d2_graph_constant_of(g, v);
    int64_t numel;
    if (!c || !d2_dtype_is_float(c->dtype) || c->rank > rank)
        return false;
    numel = d2_tensor_numel(c);
    for (int32_t d = 0; d < c->rank; d++) {
        int32_t axis = rank - c->rank + d; /* axis of Y this dim lines up with */
        if (c->dims[d] != 1 && !(axis == channel_axis && c->dims[d] == channels))
            return false;
    }
    if (numel != 1 && numel != channels)
        return false;
    for (int64_t m = 0; m < channels; m++)
        values[m] = d2_load_f64(c->data, c->dtype, (size_t)(numel == 1 ? 0 : m));
    return true;
}

static bool is_graph_output(const struct d2_graph *g, d2_value_id v)
{
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

/* Try to absorb the single reader of y into f. Returns the reader's output (the new
 * end of the chain) or D2_NO_VALUE. */
static d2_value_id absorb(struct fold *f, d2_value_id y, const uint32_t *uses, bool *dead, double *scratch)
{
    struct d2_graph *g = f->g;
    const struct d2_type *yt = &g->values[y].type;
    struct d2_node *reader = NULL;
    uint32_t reader_index;
    int64_t m_count = f->out_channels;
    if (uses[y] != 1 || is_graph_output(g, y) || yt->rank < 3)
        return D2_NO_VALUE;
    for (uint32_t n = f->conv + 1; n < g->num_nodes && !reader; n++)
        for (uint32_t i = 0; !dead[n] && i < g->nodes[n].num_inputs; i++)
            if (g->nodes[n].inputs[i] == y)
                reader = &g->nodes[n];
    if (!reader || reader->num_outputs != 1)
        return D2_NO_VALUE;
    /* When absorbed, the reader is left unread (the chain end's readers move to the conv). */
    reader_index = (uint32_t)(reader - g->nodes);

    if (reader->op == D2_OP_BATCH_NORM && reader->inputs[0] == y) {
        const struct d2_attrs_epsilon *a = reader->attrs;
        double *scale = scratch, *bias = scratch + m_count, *mean = scratch + 2 * m_count, *var = scratch + 3 * m_count;
        if (!per_channel(g, reader->inputs[1], 1, 0, m_count, scale) ||
            !per_channel(g, reader->inputs[2], 1, 0, m_count, bias) ||
            !per_channel(g, reader->inputs[3], 1, 0, m_count, mean) || !per_channel(g, reader->inputs[4], 1, 0, m_count, var))
            return D2_NO_VALUE;
        for (int64_t m = 0; m < m_count; m++) {
            scale[m] /= sqrt(var[m] + a->epsilon);
            f->b_new[m] = (f->b_new[m] - mean[m]) * scale[m] + bias[m];
        }
        for (int64_t i = 0; i < f->w_count; i++)
            f->w_new[i] *= scale[out_channel_of(f, i)];
        dead[reader_index] = true;
        return reader->outputs[0];
    }
    if ((reader->op == D2_OP_MUL || reader->op == D2_OP_ADD) && reader->num_inputs == 2) {
        d2_value_id other = reader->inputs[0] == y ? reader->inputs[1] : reader->inputs[0];
        if (other == y || !per_channel(g, other, yt->rank, 1, m_count, scratch))
            return D2_NO_VALUE;
        if (d2_graph_constant_of(g, other)->dtype != yt->dtype)
            return D2_NO_VALUE;
        if (reader->op == D2_OP_MUL) {
            for (int64_t i = 0; i < f->w_count; i++)
                f->w_new[i] *= scratch[out_channel_of(f, i)];
            for (int64_t m = 0; m < m_count; m++)
                f->b_new[m] *= scratch[m];
        } else {
            for (int64_t m = 0; m < m_count; m++)
                f->b_new[m] += scratch[m];
        }
        dead[reader_index] = true;
        return reader->outputs[0];
    }
    return D2_NO_VALUE;
}

/* A new constant of W's dtype and the given dims holding values. */
static d2_value_id add_constant(struct d2_graph *g, enum d2_dtype dtype, int32_t rank, const int64_t *dims,
                                const double *values, struct d2_error *err)
{
    struct d2_tensor t;
    int64_t n = d2_dims_numel(rank, dims);
    if (d2_tensor_alloc(&t, g->alloc, dtype, rank, dims, err) != D2_OK)
        return D2_NO_VALUE;
    for (int64_t i = 0; i < n; i++)
        d2_store_f64(t.data, dtype, (size_t)i, values[i]);
    return d2_graph_add_constant(g, NULL, &t, err);
}

static enum d2_status fold_conv(struct d2_graph *g, uint32_t index, uint32_t *uses, bool *dead, struct d2_error *err)
{
    struct d2_node *conv = &g->nodes[index];
    struct fold f;
    const struct d2_tensor *b;
    d2_value_id y = conv->outputs[0], end = D2_NO_VALUE, next, w_id, b_id;
    double *scratch;
    enum d2_status st = D2_OK;

    memset(&f, 0, sizeof f);
    f.g = g;
    f.conv = index;
    f.transpose = conv->op == D2_OP_CONV_TRANSPOSE;
    f.w = d2_graph_constant_of(g, conv->inputs[1]);
    b = conv->num_inputs > 2 && conv->inputs[2] != D2_NO_VALUE ? d2_graph_constant_of(g, conv->inputs[2]) : NULL;
    if (!f.w || (f.w->dtype != D2_DTYPE_F32 && f.w->dtype != D2_DTYPE_F64) || f.w->rank < 3 ||
        (conv->num_inputs > 2 && conv->inputs[2] != D2_NO_VALUE && !b))
        return D2_OK;
    f.group = f.transpose ? ((const struct d2_attrs_conv_transpose *)conv->attrs)->group
                          : ((const struct d2_attrs_conv *)conv->attrs)->group;
    f.out_channels = f.transpose ? f.w->dims[1] * f.group : f.w->dims[0];
    f.w_count = d2_tensor_numel(f.w);
    if (f.out_channels <= 0 || f.w_count <= 0 || f.group < 1 || (b && d2_tensor_numel(b) != f.out_channels))
        return D2_OK;

    f.w_new = d2_calloc(g->alloc, (size_t)f.w_count, sizeof *f.w_new);
    f.b_new = d2_calloc(g->alloc, (size_t)f.out_channels, sizeof *f.b_new);
    scratch = d2_calloc(g->alloc, (size_t)f.out_channels * 4, sizeof *scratch);
    if (!f.w_new || !f.b_new || !scratch) {
        st = d2_errorf(err, D2_ERR_NOMEM, "node '%s' (%s): out of memory folding affine ops into it", conv->name,
                       d2_op_name(conv->op));
        goto done;
    }
    for (int64_t i = 0; i < f.w_count; i++)
        f.w_new[i] = d2_load_f64(f.w->data, f.w->dtype, (size_t)i);
    for (int64_t m = 0; b && m < f.out_channels; m++)
        f.b_new[m] = d2_load_f64(b->data, b->dtype, (size_t)m);
    for (next = y; (next = absorb(&f, next, uses, dead, scratch)) != D2_NO_VALUE;)
        end = next;
    if (end == D2_NO_VALUE)
        goto done;

    {
        int64_t w_dims[D2_MAX_RANK], b_dims[1] = { f.out_channels };
        enum d2_dtype dtype = f.w->dtype;
        int32_t w_rank = f.w->rank;
        d2_value_id *inputs;
        memcpy(w_dims, f.w->dims, sizeof w_dims);
        w_id = add_constant(g, dtype, w_rank, w_dims, f.w_new, err);
        b_id = w_id == D2_NO_VALUE ? D2_NO_VALUE : add_constant(g, dtype, 1, b_dims, f.b_new, err);
        if (b_id == D2_NO_VALUE) {
            st = D2_ERR_NOMEM;
            goto done;
        }
        conv = &g->nodes[index];
        inputs = d2_arena_alloc(&g->arena, 3 * sizeof *inputs);
        if (!inputs) {
            st = d2_errorf(err, D2_ERR_NOMEM, "out of memory folding affine ops into a conv");
            goto done;
        }
        inputs[0] = conv->inputs[0];
        inputs[1] = w_id;
        inputs[2] = b_id;
        conv->inputs = inputs;
        conv->num_inputs = 3;
        /* The conv's output now holds what `end` held: it takes its name and readers. */
        {
            const char *name = g->values[end].name;
            g->values[end].name = g->values[y].name;
            g->values[y].name = name;
        }
        d2_pass_replace_uses(g, end, y);
        uses[y] = uses[end];
        uses[end] = 0;
    }
done:
    d2_free(g->alloc, f.w_new);
    d2_free(g->alloc, f.b_new);
    d2_free(g->alloc, scratch);
    return st;
}

enum d2_status d2_pass_fold_batch_norm(struct d2_graph *g, struct d2_error *err)
{
    uint32_t *uses;
    bool *dead;
    enum d2_status st = D2_OK;
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
            if ((st = d2_pass_fold_batch_norm(g->nodes[n].regions[r], err)) != D2_OK)
                return st;
    uses = d2_pass_count_live_uses(g, &dead, err);
    if (!uses)
        return D2_ERR_NOMEM;
    for (uint32_t n = 0; st == D2_OK && n < g->num_nodes; n++) {
        /* uses[] covers the values that existed at the start; new constants are read
         * once, by their conv, and never looked up. */
        if (!dead[n] && (g->nodes[n].op == D2_OP_CONV || g->nodes[n].op == D2_OP_CONV_TRANSPOSE))
            st = fold_conv(g, n, uses, dead, err);
    }
    d2_free(g->alloc, uses);
    d2_free(g->alloc, dead);
    return st == D2_OK ? d2_infer_graph(g, err) : st;
}
