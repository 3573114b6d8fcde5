/* passes/passes.h: graph-to-graph transformations and the pipeline that runs them.
 *
 * A pass rewrites a graph in place and returns D2_OK, or an error naming the node
 * and op it could not handle. The pipeline (passes/pipeline.c) runs the passes of
 * one table in order. With options->verify set, or when built with
 * -DD2_DEBUG_VERIFY=1 (make DEBUG=1), it runs d2_verify_graph after every pass and
 * turns a failure into D2_ERR_INTERNAL naming the pass. Library code never prints:
 * to see the IR between passes, set dump_after and a dump callback, which receives
 * the IR text after the named pass (or after every pass with "all").
 */
#ifndef D2_PASSES_H
#define D2_PASSES_H

#include "../ir/ir.h"

typedef enum d2_status (*d2_pass_fn)(struct d2_graph *g, struct d2_error *err);

struct d2_pass {
    const char *name; /* "dce"; what dump_after, only and golden tests name */
    d2_pass_fn run;
    /* An opt-in pass changes what the model computes, so it runs only when an
     * option asks for it (see d2_pass_options) or `only` names it. */
    bool opt_in;
};

struct d2_pass_options {
    /* Run only these passes (comma-separated names, in pipeline order), or NULL for
     * the whole pipeline. Golden tests use this ("# passes: dce"). */
    const char *only;
    const char *dump_after; /* pass name, "all", or NULL */
    void (*dump)(void *user, const char *pass, const char *ir_text);
    void *dump_user;
    bool verify; /* verify after every pass (always on with D2_DEBUG_VERIFY) */
    /* Opt-in: run roialign_aligned (restore detectron2's aligned RoIAlign in ONNX
     * exports below opset 16; `d2rt compile --roialign-aligned`). */
    bool roialign_aligned;
};

/* The pipeline's passes in order; *count receives their number. */
const struct d2_pass *d2_pass_table(uint32_t *count);
/* The pass called name, or NULL. */
const struct d2_pass *d2_pass_find(const char *name);

/* Run the pipeline (or options->only) on g. options may be NULL (defaults). An
 * unknown name in `only` is D2_ERR_INVALID_ARG. */
enum d2_status d2_run_passes(struct d2_graph *g, const struct d2_pass_options *options, struct d2_error *err);

/* ---- the passes (one file each under passes/) ------------------------------- */

/* d2_infer_graph as a pass: (re)compute every value's type. */
enum d2_status d2_pass_infer_shapes(struct d2_graph *g, struct d2_error *err);
/* Dead code elimination (passes/dce.c): drop nodes none of whose outputs reaches a
 * graph output, then constants and values nothing uses; graph inputs stay. Regions
 * are cleaned too. Value ids are renumbered densely, in their old order. */
enum d2_status d2_pass_dce(struct d2_graph *g, struct d2_error *err);

/* A loop-carried value that starts empty and grows by concat(acc, unsqueeze(y, 0))
 * each iteration becomes a scan output of y: linear instead of quadratic copying
 * (passes/loop_concat_scan.c). */
enum d2_status d2_pass_loop_concat_scan(struct d2_graph *g, struct d2_error *err);

/* ---- detection lowering: dialect patterns onto the shared detection ops ---- */
/* ONNX roi_align (avg mode) -> box_roi_align, aligned = (half_pixel)
 * (passes/lower_roi_align.c). */
enum d2_status d2_pass_lower_roi_align(struct d2_graph *g, struct d2_error *err);
/* torchvision's exported NonMaxSuppression pattern -> box_nms, and its batched-NMS
 * coordinate trick -> box_batched_nms (passes/lower_nms.c). */
enum d2_status d2_pass_lower_nms(struct d2_graph *g, struct d2_error *err);
/* Opt-in: legacy RoIAlign of an ONNX export below opset 16 -> aligned (half-pixel)
 * RoIAlign, as detectron2 trained it (passes/roialign_aligned.c). */
enum d2_status d2_pass_roialign_aligned(struct d2_graph *g, struct d2_error *err);
/* Does g look like a PyTorch ONNX export below opset 16 whose RoIAlign lost
 * aligned=True (metadata source_format onnx, opset < 16, producer_name pytorch, and a
 * legacy RoIAlign node)? Then roialign_aligned is most likely wanted. */
bool d2_graph_has_legacy_onnx_roialign(const struct d2_graph *g);

/* ---- optimization (docs/PASSES.md) ----------------------------------------- */
/* Bind the image inputs' batch/height/width to the sizes requested in the graph's
 * metadata (passes/specialize_shapes.c); a no-op without a request. */
enum d2_status d2_pass_specialize_shapes(struct d2_graph *g, struct d2_error *err);
/* Ask specialize_shapes for these sizes (0: leave that dim dynamic); records the
 * request in g's metadata ("specialize_shapes" = "batch=N,height=H,width=W"). */
enum d2_status d2_request_shape_specialization(struct d2_graph *g, int64_t batch, int64_t height, int64_t width,
                                               struct d2_error *err);
/* Evaluate nodes whose inputs are constants (and shape/size of static types) with
 * the CPU reference kernels, within a size cap (passes/fold_constants.c). */
enum d2_status d2_pass_fold_constants(struct d2_graph *g, struct d2_error *err);
/* Merge equal constants and equal (op, inputs, attributes) nodes (passes/cse.c). */
enum d2_status d2_pass_cse(struct d2_graph *g, struct d2_error *err);
/* Fold batch_norm, and mul/add by per-channel constants, that follow a conv with
 * constant weights into its W and B (passes/fold_batch_norm.c). */
enum d2_status d2_pass_fold_batch_norm(struct d2_graph *g, struct d2_error *err);
/* conv + relu, conv + add(residual) (+ relu) -> fused_conv (passes/fuse_conv.c). */
enum d2_status d2_pass_fuse_conv(struct d2_graph *g, struct d2_error *err);
/* add(lateral, nearest integer upsampling of top by resize/upsample) -> upsample_add,
 * when exactly equivalent (passes/fuse_upsample_add.c); runs before fuse_conv. */
enum d2_status d2_pass_fuse_upsample_add(struct d2_graph *g, struct d2_error *err);
/* Plan an offset in one activation arena for every statically sized intermediate of
 * the top-level graph (g->memory_plan; passes/memplan.c). Runs last: any other pass
 * drops the plan. */
enum d2_status d2_pass_memplan(struct d2_graph *g, struct d2_error *err);
/* Check g->memory_plan (if any) independently: values live at the same time never
 * overlap, sizes match the types, everything fits the arena. D2_ERR_INTERNAL if not. */
enum d2_status d2_memory_plan_check(const struct d2_graph *g, struct d2_error *err);

#endif
