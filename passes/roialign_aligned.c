/* passes/roialign_aligned.c: restore aligned (half-pixel) RoIAlign in models exported
 * to ONNX below opset 16. Opt-in: runs only when requested (d2_pass_options
 * .roialign_aligned, `d2rt compile --roialign-aligned`) or named in `only`.
 *
 * Why. detectron2 pools with ROIAlignV2 (aligned=True: sample grid shifted by -0.5,
 * no minimum roi size). ONNX RoiAlign had no such mode before opset 16, and
 * torchvision's opset-11 symbolic drops aligned=True with only a warning, emitting a
 * plain RoiAlign-10 (no shift, roi size clamped to >= 1). A spec-conforming runtime
 * must compute that legacy pooling (onnxruntime does), which is not what the model was
 * trained with: on detectron2's Mask R-CNN scores move by up to 3e-3 and detections
 * change (shared fixtures README, "Known traps" 1). This pass switches those nodes to
 * what detectron2 computes.
 *
 * What. When the graph's metadata says source_format "onnx" and opset < 16, every
 *   box_roi_align with aligned=0 (an ONNX RoiAlign after lower_roi_align) gets
 *   aligned=1, and every roi_align with coordinate_transformation_mode
 *   output_half_pixel (one lower_roi_align left, e.g. max mode) gets half_pixel;
 * regions included. Any other graph (Caffe2's aligned=0 RoIAlign is a genuine legacy
 * model, as is an opset >= 16 export that asked for output_half_pixel) is left
 * unchanged. When a node changed, metadata "roialign_aligned" = "1" records it, so a
 * compiled model.ir says which semantics it carries. Types do not change. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* ONNX opset below 16, from the frontend's metadata. */
static bool is_pre16_onnx(const struct d2_graph *g)
{
    const char *format = d2_graph_get_metadata(g, "source_format");
    const char *opset = d2_graph_get_metadata(g, "opset");
    char *end;
    long version;
    if (!format || strcmp(format, "onnx") != 0 || !opset || !*opset)
        return false;
    version = strtol(opset, &end, 10);
    return *end == '\0' && version > 0 && version < 16;
}

/* Does node compute legacy (non-aligned) RoIAlign? */
static bool is_legacy_roialign(const struct d2_node *node)
{
    if (node->op == D2_OP_BOX_ROI_ALIGN)
        return ((const struct d2_attrs_box_roi_align *)node->attrs)->aligned == 0;
    if (node->op == D2_OP_ROI_ALIGN)
        return ((const struct d2_attrs_roi_align *)node->attrs)->coordinate_transformation_mode ==
               D2_ROI_COORD_OUTPUT_HALF_PIXEL;
    return false;
}

/* The legacy RoIAlign nodes of g and its regions. */
static uint32_t count_legacy(const struct d2_graph *g)
{
    uint32_t count = 0;
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
            count += count_legacy(g->nodes[n].regions[r]);
        count += is_legacy_roialign(&g->nodes[n]);
    }
    return count;
}

/* Switch the legacy RoIAlign nodes of g and its regions to aligned. */
static void align_all(struct d2_graph *g)
{
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        struct d2_node *node = &g->nodes[n];
        for (uint32_t r = 0; r < node->num_regions; r++)
            align_all(node->regions[r]);
        if (!is_legacy_roialign(node))
            continue;
        if (node->op == D2_OP_BOX_ROI_ALIGN)
            ((struct d2_attrs_box_roi_align *)node->attrs)->aligned = 1;
        else
            ((struct d2_attrs_roi_align *)node->attrs)->coordinate_transformation_mode = D2_ROI_COORD_HALF_PIXEL;
    }
}

enum d2_status d2_pass_roialign_aligned(struct d2_graph *g, struct d2_error *err)
{
    if (!is_pre16_onnx(g) || count_legacy(g) == 0)
        return D2_OK;
    align_all(g);
    return d2_graph_set_metadata(g, "roialign_aligned", "1", err);
}

bool d2_graph_has_legacy_onnx_roialign(const struct d2_graph *g)
{
    const char *producer = d2_graph_get_metadata(g, "producer_name");
    return is_pre16_onnx(g) && producer && strcmp(producer, "pytorch") == 0 && count_legacy(g) > 0;
}
