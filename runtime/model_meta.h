/* runtime/model_meta.h: what a detector model needs around it to answer "image in,
 * instances out" (the predictor path of `d2rt run model image.jpg`), kept as graph
 * metadata strings so that a model.ir carries it.
 *
 * Keys (all values are strings; numbers in decimal):
 *   export_method      tracing | scripting | caffe2_tracing | torchvision | onnx (a plain
 *                      ONNX model with no known detector calling convention)
 *   meta_architecture  GeneralizedRCNN | RetinaNet (informational)
 *   input_format       BGR | RGB: channel order the model input expects
 *   min_size, max_size ResizeShortestEdge(min_size, max_size); min_size 0: no resize
 *   size_divisibility  pad the model input to a multiple of this (only where the padding
 *                      happens outside the graph: Caffe2 exports)
 *   pixel_mean, pixel_std  "a,b,c": normalisation outside the graph (absent: the graph
 *                      normalises itself, which every detectron2/torchvision export does).
 *                      For Caffe2 exports pixel_mean is also the padding value of
 *                      `--pad-value mean`.
 *   class_names        "coco" (COCO's 80 thing classes) or the names, one per line
 *   label_offset       model class id - label_offset = index into class_names
 *                      (torchvision: 1, its label 0 is the background)
 *   outputs            one role per graph output, comma-separated, in output order:
 *                      boxes scores classes masks (per-ROI [n,1,M,M] of the predicted
 *                      class) class_masks (per-ROI [n,K,M,M], all classes: Caffe2)
 *                      image_masks ([n,1,H,W] probabilities in the input frame:
 *                      torchvision) keypoints keypoint_heatmaps image_size
 *                      batch_splits (detections per image of a batch: Caffe2), or "-"
 *                      (ignored).
 *
 * d2_model_meta_resolve fills a struct from the metadata present and auto-detects the
 * rest from the graph's signature (see model_meta.c for the rules); d2_model_meta_store
 * writes every key back. Library code: no printing, errors through struct d2_error. */
#ifndef D2_RUNTIME_MODEL_META_H
#define D2_RUNTIME_MODEL_META_H

#include "../ir/ir.h"
#include "image.h"

enum d2_export_method {
    D2_EXPORT_UNKNOWN = 0, /* "onnx": no detector convention known */
    D2_EXPORT_TRACING,
    D2_EXPORT_SCRIPTING,
    D2_EXPORT_CAFFE2_TRACING,
    D2_EXPORT_TORCHVISION,
};

enum d2_output_role {
    D2_ROLE_IGNORED = 0,
    D2_ROLE_BOXES,
    D2_ROLE_SCORES,
    D2_ROLE_CLASSES,
    D2_ROLE_MASKS,
    D2_ROLE_CLASS_MASKS,
    D2_ROLE_IMAGE_MASKS,
    D2_ROLE_KEYPOINTS,
    D2_ROLE_KEYPOINT_HEATMAPS,
    D2_ROLE_IMAGE_SIZE,
    D2_ROLE_BATCH_SPLITS,
    D2_ROLE_COUNT
};

#define D2_META_MAX_OUTPUTS 16

struct d2_model_meta {
    enum d2_export_method export_method;
    char meta_architecture[64];
    enum d2_channel_order input_format;
    int64_t min_size, max_size;
    int64_t size_divisibility;
    bool has_pixel_mean, has_pixel_std;
    float pixel_mean[3], pixel_std[3];
    const char *class_names;  /* "coco", newline-separated names, or NULL (borrowed) */
    int64_t label_offset;
    uint32_t num_outputs;
    enum d2_output_role outputs[D2_META_MAX_OUTPUTS];
};

/* User-given values (`d2rt compile/run --min-size ...`); a NULL string or a negative
 * number means "not given". */
struct d2_model_meta_overrides {
    const char *export_method, *input_format, *class_names, *pixel_mean, *pixel_std, *outputs;
    const char *meta_architecture;
    int64_t min_size, max_size, size_divisibility, label_offset;
};
void d2_model_meta_overrides_init(struct d2_model_meta_overrides *o);

const char *d2_export_method_name(enum d2_export_method m);
const char *d2_output_role_name(enum d2_output_role r);

/* Write the overrides into g's metadata (validated: D2_ERR_INVALID_ARG names the bad
 * value), then resolve and store every key, so the graph carries the full description. */
enum d2_status d2_model_meta_apply(struct d2_graph *g, const struct d2_model_meta_overrides *o,
                                   struct d2_error *err);

/* Metadata keys present, auto-detection for the rest. Strings in *meta borrow from g. */
enum d2_status d2_model_meta_resolve(const struct d2_graph *g, struct d2_model_meta *meta, struct d2_error *err);

/* Write every field of meta as metadata keys of g. */
enum d2_status d2_model_meta_store(struct d2_graph *g, const struct d2_model_meta *meta, struct d2_error *err);

/* Class names as an array: "coco" gives d2rt's COCO list; otherwise the lines of
 * meta->class_names split in place into a copy. *names_out (from alloc, one block, free
 * with d2_free) is NULL with *count 0 when the model has no names. */
enum d2_status d2_model_meta_class_names(const struct d2_model_meta *meta, const struct d2_allocator *alloc,
                                         char ***names_out, size_t *count, struct d2_error *err);

#endif
