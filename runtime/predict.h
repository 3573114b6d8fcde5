/* runtime/predict.h: the predictor path, image file in -> instances out, as detectron2's
 * DefaultPredictor does it (docs: detectron2-export.md §4), for the calling convention
 * the model's metadata names (runtime/model_meta.h):
 *
 *   d2_predict_load_image   decode (EXIF applied) in the model's channel order, then
 *                           ResizeShortestEdge(min_size, max_size) (PIL-exact, image.h).
 *   d2_predict_make_inputs  the graph inputs for a batch of loaded images:
 *     tracing / scripting   one image, f32 [3, h, w] raw 0..255 (or [1, 3, h, w] when the
 *                           graph input has rank 4); the graph normalises and pads;
 *     caffe2_tracing        data f32 [N, 3, Hp, Wp] (H, W padded to size_divisibility)
 *                           and im_info f32 [N, 3] = (h, w, 1.0). The padded area holds
 *                           pixel_mean (D2_PAD_MEAN, the default: after the graph's
 *                           normalisation it is 0, which is what DefaultPredictor feeds)
 *                           or 0 (D2_PAD_ZERO: what Caffe2 and detectron2's
 *                           Caffe2Tracer examples feed);
 *     torchvision           one image, f32 [3, H0, W0] = RGB / 255 of the original image
 *                           (no resize: the graph resizes and normalises itself).
 *     When pixel_mean / pixel_std metadata are present, tracing inputs are normalised
 *     outside the graph: (x - mean) / std.
 *   d2_predict_instances    one image's instances from the graph outputs, in the original
 *                           image frame:
 *     tracing               boxes/classes/masks/scores in the frame of image_size (the
 *                           resized input), then d2_detector_postprocess;
 *     caffe2_tracing        image b's rows (batch_splits when the graph returns it, else
 *                           the whole output for a batch of one), re-sorted by descending
 *                           score (BoxWithNMSLimit groups by class), classes f32 -> i64,
 *                           each detection's own class channel of class_masks, then
 *                           d2_detector_postprocess from (h, w);
 *     torchvision           outputs already in the original frame: labels - label_offset,
 *                           image_masks thresholded (>= 0.5).
 *   d2_instances_keep_scores_above  drop instances with score <= threshold.
 *
 * Library code: allocates through the given allocator, reports through d2_error. */
#ifndef D2_RUNTIME_PREDICT_H
#define D2_RUNTIME_PREDICT_H

#include "../ir/ir.h"
#include "model_meta.h"
#include "postprocess.h"

enum d2_pad_value {
    D2_PAD_MEAN = 0, /* equals DefaultPredictor (detectron2 pads after normalising, with 0) */
    D2_PAD_ZERO,     /* raw 0, as Caffe2's own examples feed the NetDef */
};

/* One loaded image. */
struct d2_predict_image {
    struct d2_tensor original; /* u8 [H0, W0, 3], model channel order, EXIF applied */
    struct d2_tensor resized;  /* u8 [h, w, 3] (a copy of original when no resize) */
};

enum d2_status d2_predict_load_image(const char *path, const struct d2_model_meta *meta,
                                     const struct d2_allocator *alloc, struct d2_predict_image *image,
                                     struct d2_error *err);
void d2_predict_image_release(struct d2_predict_image *image, const struct d2_allocator *alloc);

/* Can the model take several images in one run? Caffe2 graphs that return batch_splits
 * (the Caffe2 frontend adds it); tracing exports take one image. Batching pads every image
 * to the largest, so callers batch only images of equal padded size to keep each answer
 * equal to the one-by-one one (d2rt run does). */
bool d2_predict_supports_batch(const struct d2_graph *g, const struct d2_model_meta *meta);

/* Fill inputs[0..g->num_inputs) (allocated here; release each with d2_tensor_release). */
enum d2_status d2_predict_make_inputs(const struct d2_graph *g, const struct d2_model_meta *meta,
                                      const struct d2_predict_image *images, uint32_t count,
                                      enum d2_pad_value pad, const struct d2_allocator *alloc,
                                      struct d2_tensor *inputs, struct d2_error *err);

/* Instances of image `index` of a batch of `count` from the graph's outputs. */
enum d2_status d2_predict_instances(const struct d2_model_meta *meta, const struct d2_tensor *outputs,
                                    uint32_t num_outputs, const struct d2_predict_image *image, uint32_t index,
                                    uint32_t count, const struct d2_allocator *alloc, struct d2_instances *out,
                                    struct d2_error *err);

/* Keep only the instances with score > threshold (detectron2's SCORE_THRESH_TEST rule). */
enum d2_status d2_instances_keep_scores_above(struct d2_instances *inst, double threshold,
                                              const struct d2_allocator *alloc, struct d2_error *err);

#endif
