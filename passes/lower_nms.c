/* passes/lower_nms.c: torchvision's ONNX NonMaxSuppression pattern -> box_nms, and
 * its batched-NMS coordinate trick -> box_batched_nms.
 *
 * torchvision exports nms(boxes [N,4], scores [N], iou_threshold) as
 *     b3   = unsqueeze(boxes, [0])                         [1,N,4]
 *     s3   = unsqueeze(unsqueeze(scores, [0]), [0])        [1,1,N]  (or axes [0,1] at once)
 *     sel  = non_max_suppression(b3, s3, K, iou)           [M,3]  (batch, class, box)
 *     keep = gather(sel, 2 or [2]) {axis=1}                [M] or [M,1]
 * with K and iou constants (K = sys.maxsize) and no score threshold. With one batch
 * and one class, the third column of sel is exactly box_nms(boxes, scores): greedy,
 * by descending score (ties: lower index first), suppressing IoU > iou, at most K.
 * The rewrite turns the non_max_suppression node into box_nms(boxes, scores)
 * {iou_threshold=iou, max_output=K, or -1 for sys.maxsize} and the gather into
 * identity (scalar index) or unsqueeze(., [1]) ([2] index), so `keep` keeps its
 * shape and every reader of it is unchanged. The unsqueezes go with dce.
 *
 * torchvision's batched_nms, when traced, offsets each id's boxes so that boxes of
 * different ids cannot overlap (_batched_nms_coordinate_trick):
 *     m      = reduce_max(boxes) {keepdims=0}              (all axes)
 *     off    = mul(cast(idxs){to=boxes' dtype}, add(m, 1))
 *     boxes' = add(boxes, unsqueeze(off, [1]))
 * and runs the nms pattern above on boxes'. When boxes' is made exactly so (either
 * operand order of add and mul, idxs of an integer type), the node becomes
 * box_batched_nms(boxes, scores, idxs) instead: NMS within each id, output by
 * descending score. That is the same selection as long as coordinates are > -1 (so
 * shifted boxes of different ids are apart, as torchvision assumes), up to float
 * rounding of the shifted coordinates, which box_batched_nms avoids; it is what
 * torchvision computes without tracing (_batched_nms_vanilla).
 *
 * Semantics kept in the ONNX form only, so accepted knowingly: ONNX reorders box
 * corners given as (x2, y2, x1, y1); box_nms takes corners as given, as torchvision
 * does (the exporter's own semantics). Boxes from detectron2 are clipped, x1 <= x2.
 *
 * Value-preserving wrappers (identity, same-dtype casts, everything-slices) around
 * the unsqueezes and the offsets are looked through (torchvision's opset-17 form).
 * Anything else is left as it is: center_point_box=1, a score threshold, a
 * max_output_boxes_per_class or iou_threshold that is not a constant, K <= 0, other
 * readers of sel, a gather of another column, boxes or scores of other ranks.
 * Regions are lowered too; after a change the graph's types are re-inferred. */
#include "passes.h"
#include "rewrite.h"

#include <stdint.h>
#include <string.h>

/* The operand of a unary-with-constant-axes unsqueeze producing v, when its axes are
 * exactly want[0..count). */
static bool unsqueezed_from(const struct d2_graph *g, d2_value_id v, const int64_t *want, uint32_t count,
                            d2_value_id *operand)
{
    const struct d2_node *n = d2_rewrite_producer(g, v);
    int64_t axes[4];
    uint32_t got;
    if (!n || n->op != D2_OP_UNSQUEEZE || n->num_inputs != 2 ||
        !d2_rewrite_const_ints(g, n->inputs[1], axes, 4, &got) || got != count ||
        memcmp(axes, want, count * sizeof *axes) != 0)
        return false;
    *operand = n->inputs[0];
    return true;
}

/* v with value-preserving producers skipped: identity, a cast to the dtype its
 * operand already has, and a slice that keeps everything (starts 0, ends >= INT32_MAX,
 * steps 1). torchvision's opset-17 export wraps NMS operands in such casts and
 * writes offsets[:, None] as a full slice before the unsqueeze. */
static d2_value_id skip_passthrough(const struct d2_graph *g, d2_value_id v)
{
    for (;;) {
        const struct d2_node *n = d2_rewrite_producer(g, v);
        if (!n || n->num_inputs < 1 || n->inputs[0] == D2_NO_VALUE)
            return v;
        if (n->op == D2_OP_IDENTITY) {
            v = n->inputs[0];
        } else if (n->op == D2_OP_CAST) {
            if (((const struct d2_attrs_cast *)n->attrs)->to != g->values[n->inputs[0]].type.dtype ||
                g->values[n->inputs[0]].type.dtype == D2_DTYPE_UNDEFINED)
                return v;
            v = n->inputs[0];
        } else if (n->op == D2_OP_SLICE) {
            int64_t starts[D2_MAX_RANK], ends[D2_MAX_RANK], steps[D2_MAX_RANK];
            uint32_t ns, ne, nt = 0;
            if (!d2_rewrite_const_ints(g, n->inputs[1], starts, D2_MAX_RANK, &ns) ||
                !d2_rewrite_const_ints(g, n->inputs[2], ends, D2_MAX_RANK, &ne) || ns != ne)
                return v;
            if (n->num_inputs > 4 && n->inputs[4] != D2_NO_VALUE &&
                (!d2_rewrite_const_ints(g, n->inputs[4], steps, D2_MAX_RANK, &nt) || nt != ns))
                return v;
            for (uint32_t i = 0; i < ns; i++)
                if (starts[i] != 0 || ends[i] < INT32_MAX || (nt && steps[i] != 1))
                    return v;
            v = n->inputs[0];
        } else {
            return v;
        }
    }
}

static bool has_rank(const struct d2_graph *g, d2_value_id v, int32_t rank)
{
    return v < g->num_values && g->values[v].type.rank == rank;
}

/* boxes [N,4] out of b3 = unsqueeze(boxes, [0]). */
static bool match_boxes(const struct d2_graph *g, d2_value_id b3, d2_value_id *boxes)
{
    static const int64_t axis0[1] = { 0 };
    return unsqueezed_from(g, skip_passthrough(g, b3), axis0, 1, boxes) && has_rank(g, *boxes, 2) &&
           d2_dtype_is_float(g->values[*boxes].type.dtype);
}

/* scores [N] out of s3 = unsqueeze(unsqueeze(scores, [0]), [0]) or unsqueeze(scores, [0, 1]). */
static bool match_scores(const struct d2_graph *g, d2_value_id s3, d2_value_id *scores)
{
    static const int64_t axis0[1] = { 0 }, axes01[2] = { 0, 1 };
    d2_value_id s2;
    s3 = skip_passthrough(g, s3);
    if (!unsqueezed_from(g, s3, axes01, 2, scores) &&
        !(unsqueezed_from(g, s3, axis0, 1, &s2) && unsqueezed_from(g, s2, axis0, 1, scores)))
        return false;
    return has_rank(g, *scores, 1) && d2_dtype_is_float(g->values[*scores].type.dtype);
}

/* m = reduce_max(boxes) over all axes, keepdims=0. */
static bool is_max_of(const struct d2_graph *g, d2_value_id m, d2_value_id boxes)
{
    const struct d2_node *n = d2_rewrite_producer(g, m);
    const struct d2_attrs_reduce *a;
    if (!n || n->op != D2_OP_REDUCE_MAX || n->inputs[0] != boxes ||
        (n->num_inputs > 1 && n->inputs[1] != D2_NO_VALUE))
        return false;
    a = n->attrs;
    return a->keepdims == 0 && a->noop_with_empty_axes == 0;
}

/* stride = add(reduce_max(boxes), 1), either order. */
static bool is_max_plus_one(const struct d2_graph *g, d2_value_id stride, d2_value_id boxes)
{
    const struct d2_node *n = d2_rewrite_producer(g, stride);
    double one;
    if (!n || n->op != D2_OP_ADD)
        return false;
    for (int k = 0; k < 2; k++)
        if (is_max_of(g, n->inputs[k], boxes) && d2_rewrite_const_scalar(g, n->inputs[1 - k], &one) && one == 1.0)
            return true;
    return false;
}

/* off = mul(cast(idxs){to=boxes' dtype}, stride), either order; idxs integer [N]. */
static bool match_offsets(const struct d2_graph *g, d2_value_id off, d2_value_id boxes, d2_value_id *idxs)
{
    const struct d2_node *mul = d2_rewrite_producer(g, off);
    if (!mul || mul->op != D2_OP_MUL)
        return false;
    for (int k = 0; k < 2; k++) {
        const struct d2_node *cast = d2_rewrite_producer(g, mul->inputs[k]);
        if (!cast || cast->op != D2_OP_CAST ||
            ((const struct d2_attrs_cast *)cast->attrs)->to != g->values[boxes].type.dtype)
            continue;
        d2_value_id ids = cast->inputs[0];
        if (!has_rank(g, ids, 1) || !d2_dtype_is_integer(g->values[ids].type.dtype))
            continue;
        if (is_max_plus_one(g, mul->inputs[1 - k], boxes)) {
            *idxs = ids;
            return true;
        }
    }
    return false;
}

/* shifted = add(boxes, unsqueeze(offsets, [1] or [-1])), either order, offsets as in
 * match_offsets. */
static bool match_coordinate_trick(const struct d2_graph *g, d2_value_id shifted, d2_value_id *boxes,
                                   d2_value_id *idxs)
{
    static const int64_t axis1[1] = { 1 }, axis_last[1] = { -1 };
    const struct d2_node *add = d2_rewrite_producer(g, shifted);
    if (!add || add->op != D2_OP_ADD)
        return false;
    for (int k = 0; k < 2; k++) {
        d2_value_id b = add->inputs[k], off;
        if (!has_rank(g, b, 2) || !d2_dtype_is_float(g->values[b].type.dtype))
            continue;
        if (!unsqueezed_from(g, add->inputs[1 - k], axis1, 1, &off) &&
            !unsqueezed_from(g, add->inputs[1 - k], axis_last, 1, &off))
            continue;
        off = skip_passthrough(g, off);
        if (match_offsets(g, off, b, idxs)) {
            *boxes = b;
            return true;
        }
    }
    return false;
}

/* The node of g reading v (uses[v] must be 1). */
static struct d2_node *only_reader(struct d2_graph *g, d2_value_id v)
{
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t i = 0; i < g->nodes[n].num_inputs; i++)
            if (g->nodes[n].inputs[i] == v)
                return &g->nodes[n];
    return NULL;
}

/* What a node looked like before a rewrite, to undo it. */
struct saved_node {
    enum d2_op op;
    void *attrs;
    uint32_t num_inputs;
    d2_value_id inputs[5];
};

static void save_node(const struct d2_node *n, struct saved_node *s)
{
    s->op = n->op;
    s->attrs = n->attrs;
    s->num_inputs = n->num_inputs;
    memcpy(s->inputs, n->inputs, n->num_inputs * sizeof *s->inputs);
}

static void restore_node(struct d2_node *n, const struct saved_node *s)
{
    n->op = s->op;
    n->attrs = s->attrs;
    n->num_inputs = s->num_inputs;
    memcpy(n->inputs, s->inputs, s->num_inputs * sizeof *s->inputs);
}

/* Try to lower the non_max_suppression node at index `at` of g. */
static enum d2_status lower_one(struct d2_graph *g, uint32_t at, const uint32_t *uses, uint32_t *changed,
                                struct d2_error *err)
{
    struct d2_node *nms = &g->nodes[at], *gather;
    d2_value_id boxes, scores, idxs = D2_NO_VALUE, selected = nms->outputs[0];
    double iou = 0.0;
    int64_t max_output[1], column[1];
    uint32_t count;
    struct saved_node saved_nms, saved_gather;

    if (nms->num_inputs < 3 || nms->num_inputs > 5 ||
        ((const struct d2_attrs_nms *)nms->attrs)->center_point_box != 0 ||
        (nms->num_inputs == 5 && nms->inputs[4] != D2_NO_VALUE))
        return D2_OK;
    if (!d2_rewrite_const_ints(g, nms->inputs[2], max_output, 1, &count) || count != 1 || max_output[0] < 1)
        return D2_OK;
    if (nms->num_inputs >= 4 && nms->inputs[3] != D2_NO_VALUE &&
        !d2_rewrite_const_scalar(g, nms->inputs[3], &iou))
        return D2_OK;
    if (!match_boxes(g, nms->inputs[0], &boxes) || !match_scores(g, nms->inputs[1], &scores))
        return D2_OK;
    if (uses[selected] != 1 || !(gather = only_reader(g, selected)) || gather->op != D2_OP_GATHER ||
        gather->inputs[0] != selected || ((const struct d2_attrs_axis *)gather->attrs)->axis != 1 ||
        !d2_rewrite_const_ints(g, gather->inputs[1], column, 1, &count) || count != 1 ||
        (column[0] != 2 && column[0] != -1))
        return D2_OK;
    bool scalar_column = g->values[gather->inputs[1]].type.rank == 0;
    d2_value_id axis_one = D2_NO_VALUE;
    if (!scalar_column) {
        static const int64_t one[1] = { 1 };
        if ((axis_one = d2_rewrite_add_i64_constant(g, one, 1, err)) == D2_NO_VALUE)
            return err ? err->code : D2_ERR_NOMEM;
    }
    /* Node pointers stay valid: adding a constant grows values and constants only. */
    (void)match_coordinate_trick(g, boxes, &boxes, &idxs);

    save_node(nms, &saved_nms);
    save_node(gather, &saved_gather);
    struct d2_attrs_box_nms *a = d2_rewrite_retarget(g, nms, idxs != D2_NO_VALUE ? D2_OP_BOX_BATCHED_NMS : D2_OP_BOX_NMS, err);
    if (!a)
        return D2_ERR_NOMEM;
    a->iou_threshold = iou;
    /* torchvision passes sys.maxsize: no limit. */
    a->max_output = max_output[0] == INT64_MAX ? -1 : max_output[0];
    nms->inputs[0] = boxes;
    nms->inputs[1] = scores;
    nms->inputs[2] = idxs;
    nms->num_inputs = idxs != D2_NO_VALUE ? 3 : 2;
    if (!d2_rewrite_retarget(g, gather, scalar_column ? D2_OP_IDENTITY : D2_OP_UNSQUEEZE, err))
        return D2_ERR_NOMEM;
    gather->inputs[0] = selected;
    gather->inputs[1] = axis_one;
    gather->num_inputs = scalar_column ? 1 : 2;

    struct d2_error ignored = { D2_OK, "" };
    int32_t gather_index = (int32_t)(gather - g->nodes);
    if (d2_infer_node(g, (int32_t)at, &ignored) != D2_OK || d2_infer_node(g, gather_index, &ignored) != D2_OK) {
        /* Not a form the box ops take after all: undo, types included. */
        restore_node(nms, &saved_nms);
        restore_node(gather, &saved_gather);
        (void)d2_infer_node(g, (int32_t)at, &ignored);
        (void)d2_infer_node(g, gather_index, &ignored);
        return D2_OK;
    }
    (*changed)++;
    return D2_OK;
}

static enum d2_status lower_graph(struct d2_graph *g, uint32_t *changed, struct d2_error *err)
{
    enum d2_status st = D2_OK;
    uint32_t *uses;
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
            if ((st = lower_graph(g->nodes[n].regions[r], changed, err)) != D2_OK)
                return st;
    if (!(uses = d2_rewrite_count_uses(g, err)))
        return D2_ERR_NOMEM;
    /* A rewrite changes the readers of a pattern's inner values only (those values
     * lose readers), so the counts stay valid for the other patterns' checks. */
    for (uint32_t n = 0; n < g->num_nodes && st == D2_OK; n++)
        if (g->nodes[n].op == D2_OP_NON_MAX_SUPPRESSION)
            st = lower_one(g, n, uses, changed, err);
    d2_free(g->alloc, uses);
    return st;
}

enum d2_status d2_pass_lower_nms(struct d2_graph *g, struct d2_error *err)
{
    uint32_t changed = 0;
    enum d2_status st = lower_graph(g, &changed, err);
    if (st == D2_OK && changed)
        st = d2_infer_graph(g, err);
    return st;
}
