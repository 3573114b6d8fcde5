/* passes/loop_concat_scan.c: turn a loop-carried "append" into a scan output.
 *
 * Why. Exporters write "collect one result per iteration" as a loop-carried value
 * that starts empty and grows by a concat every iteration:
 *
 *     %acc = loop(%M, %cond, %empty, ...) {num_carried=1} {
 *       graph body(%i, %c, %acc_in, ...) {
 *         ...
 *         %one: T[1,H,W] = unsqueeze(%y, [0])         %y: T[H,W]
 *         %acc_out = concat(%acc_in, %one) {axis=0}
 *         return %c, %acc_out
 *       }
 *     }                                                 %empty: T[0,H,W]
 *
 * torchvision's ONNX mask pasting (`_onnx_paste_masks_in_image_loop`) is this
 * pattern. Run as written, iteration i copies all i earlier results into a fresh
 * buffer: quadratic in the trip count (86 full-image masks of 800x1216 copy 14.6 GB).
 * A scan output computes the same tensor in linear time: the loop kernel stacks each
 * iteration's %y into one geometrically growing buffer.
 *
 * What. For each carried value k of a loop node where
 *   - the initial value has a static type [0, d1, ..., dr] (empty along axis 0),
 *   - the body's carried output k is concat(carried input k, unsqueeze(%y, [0]))
 *     along axis 0 (axis -rank allowed), with exactly those two inputs,
 *   - the carried input k is read by that concat only, and the concat's result only
 *     by the body's output list (once),
 * the value becomes a scan output of %y: the loop node's output k moves to the end
 * of its outputs (the last scan output), its initial value and the body's carried
 * input k move to the end of the captures (now unused; dce drops nothing there,
 * since region inputs are the calling convention), and num_carried drops by one.
 * The concat and unsqueeze are left unread for dce.
 *
 * Equivalence. concat accepts the pieces only when every non-axis dim equals the
 * initial value's, so every %y is [d1, ..., dr] and stacking them is the concat's
 * result. With zero iterations the concat would return the empty initial value; the
 * loop kernel builds a zero-iteration scan output from the declared type of %y,
 * which this pass therefore sets to [d1, ..., dr] (unknown dims only; a known dim
 * that differs from the initial value's means the model can only fail at run time,
 * and the loop is left alone so it fails the same way). */
#include "passes.h"

#include <string.h>

/* Uses of value v inside graph g: node inputs plus graph outputs. */
static uint32_t count_uses(const struct d2_graph *g, d2_value_id v)
{
    uint32_t uses = 0;
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t k = 0; k < g->nodes[n].num_inputs; k++)
            uses += g->nodes[n].inputs[k] == v;
    for (uint32_t o = 0; o < g->num_outputs; o++)
        uses += g->outputs[o] == v;
    return uses;
}

/* Is value v of g a constant 1-element integer list holding 0 (unsqueeze's axes)? */
static bool is_axes_zero(const struct d2_graph *g, d2_value_id v)
{
    const struct d2_tensor *t = v == D2_NO_VALUE ? NULL : d2_graph_constant_of(g, v);
    return t && d2_dtype_is_integer(t->dtype) && d2_tensor_numel(t) == 1 && d2_tensor_get_i64(t, 0) == 0;
}

/* The per-iteration piece %y when carried value k of loop node `loop` (in g) is an
 * append as described above, else D2_NO_VALUE. */
static d2_value_id appended_piece(const struct d2_graph *g, const struct d2_node *loop, uint32_t k)
{
    const struct d2_graph *body = loop->regions[0];
    d2_value_id init = loop->inputs[2 + k];
    d2_value_id acc_in = body->inputs[2 + k], acc_out = body->outputs[1 + k];
    const struct d2_type *init_type = &g->values[init].type;
    const struct d2_node *cat, *unsq;
    const struct d2_type *y_type;
    int64_t axis;
    d2_value_id y;

    if (init == D2_NO_VALUE || !d2_type_is_static(init_type) || init_type->rank < 1 || init_type->dims[0] != 0)
        return D2_NO_VALUE;
    if (body->values[acc_out].producer < 0)
        return D2_NO_VALUE;
    cat = &body->nodes[body->values[acc_out].producer];
    if (cat->op != D2_OP_CONCAT || cat->num_inputs != 2 || cat->inputs[0] != acc_in)
        return D2_NO_VALUE;
    axis = ((const struct d2_attrs_axis *)cat->attrs)->axis;
    if (axis != 0 && axis != -(int64_t)init_type->rank)
        return D2_NO_VALUE;
    if (count_uses(body, acc_in) != 1 || count_uses(body, acc_out) != 1)
        return D2_NO_VALUE;
    if (body->values[cat->inputs[1]].producer < 0)
        return D2_NO_VALUE;
    unsq = &body->nodes[body->values[cat->inputs[1]].producer];
    if (unsq->op != D2_OP_UNSQUEEZE || unsq->num_inputs != 2 || !is_axes_zero(body, unsq->inputs[1]))
        return D2_NO_VALUE;
    y = unsq->inputs[0];
    y_type = &body->values[y].type;
    if (y_type->dtype != D2_DTYPE_UNDEFINED && y_type->dtype != init_type->dtype)
        return D2_NO_VALUE;
    if (y_type->rank >= 0) {
        if (y_type->rank != init_type->rank - 1)
            return D2_NO_VALUE;
        for (int32_t d = 0; d < y_type->rank; d++)
            if (y_type->dims[d] >= 0 && y_type->dims[d] != init_type->dims[d + 1])
                return D2_NO_VALUE;
    }
    return y;
}

/* Move element `from` of a[0..count) to the end, sliding the ones after it down. */
static void move_to_end(d2_value_id *a, uint32_t count, uint32_t from)
{
    d2_value_id moved = a[from];
    memmove(&a[from], &a[from + 1], (size_t)(count - from - 1) * sizeof *a);
    a[count - 1] = moved;
}

static void rewrite(struct d2_graph *g, struct d2_node *loop, uint32_t k, d2_value_id y)
{
    struct d2_graph *body = loop->regions[0];
    struct d2_attrs_loop *attrs = loop->attrs;
    const struct d2_type *init_type = &g->values[loop->inputs[2 + k]].type;
    struct d2_type *y_type = &body->values[y].type;

    /* %y's declared type: the initial value's dims without axis 0 (see Equivalence). */
    if (y_type->rank < 0)
        d2_type_init(y_type, init_type->dtype, init_type->rank - 1, NULL);
    y_type->dtype = init_type->dtype;
    for (int32_t d = 0; d < y_type->rank; d++) {
        if (y_type->dims[d] < 0) {
            y_type->dims[d] = init_type->dims[d + 1];
            y_type->symbols[d] = NULL;
            y_type->upper_bounds[d] = -1;
        }
    }

    /* Initial value and carried input: to the end of the captures. */
    move_to_end(loop->inputs, loop->num_inputs, 2 + k);
    move_to_end(body->inputs, body->num_inputs, 2 + k);
    for (uint32_t i = 0; i < body->num_inputs; i++)
        body->values[body->inputs[i]].input_index = (int32_t)i;
    /* Carried output k: replaced by %y as the last scan output. */
    memmove(&body->outputs[1 + k], &body->outputs[2 + k], (size_t)(body->num_outputs - 2 - k) * sizeof(d2_value_id));
    body->outputs[body->num_outputs - 1] = y;
    /* The node's output k (the final value) becomes its last scan output. */
    move_to_end(loop->outputs, loop->num_outputs, k);
    for (uint32_t o = 0; o < loop->num_outputs; o++)
        g->values[loop->outputs[o]].producer_output = o;
    attrs->num_carried--;
}

static uint32_t rewrite_graph(struct d2_graph *g)
{
    uint32_t changed = 0;
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        struct d2_node *node = &g->nodes[n];
        for (uint32_t r = 0; r < node->num_regions; r++)
            changed += rewrite_graph(node->regions[r]);
        if (node->op != D2_OP_LOOP)
            continue;
        /* Walk carried values from the last: a rewrite shifts the ones after k. */
        for (int64_t k = ((const struct d2_attrs_loop *)node->attrs)->num_carried - 1; k >= 0; k--) {
            d2_value_id y = appended_piece(g, node, (uint32_t)k);
            if (y != D2_NO_VALUE) {
                rewrite(g, node, (uint32_t)k, y);
                changed++;
            }
        }
    }
    return changed;
}

enum d2_status d2_pass_loop_concat_scan(struct d2_graph *g, struct d2_error *err)
{
    (void)err;
    rewrite_graph(g);
    return D2_OK;
}
