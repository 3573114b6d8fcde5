/* passes/lower_roi_align.c: ONNX roi_align (avg mode) -> box_roi_align.
 *
 * ONNX RoiAlign takes (X [N,C,H,W], rois [R,4], batch_indices [R]); box_roi_align
 * accepts exactly that form (rois [R,4] + batch_indices), so the node is retargeted
 * in place with
 *     pooled_h = output_height, pooled_w = output_width, sampling_ratio,
 *     spatial_scale, aligned = (coordinate_transformation_mode == half_pixel).
 * The two kernels agree on the semantics (backends/cpu/ref_detect.c and
 * ref_detect2_roi.c headers): the -0.5 shift and no size clamp when aligned
 * (half_pixel); no shift and roi width/height clamped to >= 1 when not
 * (output_half_pixel, the opset 10/11 RoiAlign); the adaptive grid ceil(roi_size /
 * pooled_size) for sampling_ratio <= 0; the same bilinear border rule; avg divides by
 * max(grid_h * grid_w, 1). box_roi_align computes the geometry in float for f32 X as
 * torchvision and onnxruntime do, where the onnx kernel uses double: outputs can differ
 * in the last float bits, never in the rule.
 *
 * Left alone: max mode (ONNX's max of weighted corners is not box_roi_align's max of
 * samples), output sizes below 1 (box_roi_align rejects them), and any node whose
 * retargeted form fails shape inference (unusual dtypes): they keep the onnx op and
 * its kernel. Regions are lowered too. After a change the graph's types are
 * re-inferred (passes/rewrite.h). */
#include "passes.h"
#include "rewrite.h"

/* Lower the roi_align nodes of g and of its regions; *changed counts rewrites. */
static enum d2_status lower_graph(struct d2_graph *g, uint32_t *changed, struct d2_error *err)
{
    enum d2_status st;
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        struct d2_node *node = &g->nodes[n];
        for (uint32_t r = 0; r < node->num_regions; r++)
            if ((st = lower_graph(node->regions[r], changed, err)) != D2_OK)
                return st;
        if (node->op != D2_OP_ROI_ALIGN || node->num_inputs != 3)
            continue;
        struct d2_attrs_roi_align *old = node->attrs;
        if (old->mode != D2_ROI_POOL_AVG || old->output_height < 1 || old->output_width < 1)
            continue;
        struct d2_attrs_box_roi_align *a = d2_rewrite_retarget(g, node, D2_OP_BOX_ROI_ALIGN, err);
        if (!a)
            return D2_ERR_NOMEM;
        a->spatial_scale = old->spatial_scale;
        a->pooled_h = old->output_height;
        a->pooled_w = old->output_width;
        a->sampling_ratio = old->sampling_ratio;
        a->aligned = old->coordinate_transformation_mode == D2_ROI_COORD_HALF_PIXEL;
        a->mode = D2_ROI_POOL_AVG;
        struct d2_error ignored = { D2_OK, "" };
        if (d2_infer_node(g, (int32_t)n, &ignored) != D2_OK) {
            /* Not a form box_roi_align takes: keep the onnx op (a failed inference
             * stored no types, so nothing else needs undoing). */
            node->op = D2_OP_ROI_ALIGN;
            node->attrs = old;
            continue;
        }
        (*changed)++;
    }
    return D2_OK;
}

enum d2_status d2_pass_lower_roi_align(struct d2_graph *g, struct d2_error *err)
{
    uint32_t changed = 0;
    enum d2_status st = lower_graph(g, &changed, err);
    if (st == D2_OK && changed)
        st = d2_infer_graph(g, err);
    return st;
}
