/* runtime/postprocess.h: what d2rt does with a detector's outputs, as detectron2's
 * DefaultPredictor and tools do (docs: detectron2-export.md §4.5, §4.8).
 *
 *   d2_detector_postprocess    detectron2 detector_postprocess: model-input-frame outputs
 *                              (boxes, scores, classes, ROI mask probabilities, keypoints or
 *                              keypoint heatmaps) -> instances in the original image frame.
 *   d2_instances_write_npy_dir DIR/boxes.npy f32 [n,4], scores.npy f32 [n], classes.npy i64 [n],
 *                              masks.npy bool [n,H,W], keypoints.npy f32 [n,K,3] (when present).
 *   d2_instances_format_table  a human-readable table (class name, score, box) as a string.
 *   COCO results JSON          runtime/coco_json.c: d2_coco_results_json, RLE helpers.
 *   visualization              runtime/vis.c: d2_visualize_instances, d2_png_write_file.
 *
 * Every function allocates through the given allocator and reports errors through
 * struct d2_error; nothing prints. Tensors in struct d2_instances are owned by it
 * (d2_instances_release frees them); absent fields have dtype D2_DTYPE_UNDEFINED and no data.
 */
#ifndef D2_RUNTIME_POSTPROCESS_H
#define D2_RUNTIME_POSTPROCESS_H

#include "../ir/ir.h"
#include "image.h"

/* One image's raw detections as the model returns them (do_postprocess=False exports):
 * boxes in the frame of the model input (input_height x input_width, the `image_size`
 * output), before any scaling to the original photo. Tensors are borrowed. */
struct d2_raw_instances {
    const struct d2_tensor *boxes;      /* float [n, 4] (x0, y0, x1, y1) */
    const struct d2_tensor *scores;     /* float [n] */
    const struct d2_tensor *classes;    /* integer (or float holding integers) [n] */
    const struct d2_tensor *mask_probs; /* float [n, 1, M, M] or [n, M, M] probabilities; NULL: none */
    const struct d2_tensor *keypoints;  /* float [n, K, 3] (x, y, score), input frame; NULL: none */
    const struct d2_tensor *keypoint_heatmaps; /* float [n, K, S, S] logits, decoded with
                                                * heatmaps_to_keypoints when keypoints is NULL */
    int64_t input_height, input_width;  /* frame of the boxes */
};

/* Per-image instances in the output (original image) frame. */
struct d2_instances {
    int64_t image_height, image_width;
    int64_t count;
    struct d2_tensor boxes;     /* f32 [count, 4] */
    struct d2_tensor scores;    /* f32 [count] */
    struct d2_tensor classes;   /* i64 [count] */
    struct d2_tensor masks;     /* bool [count, image_height, image_width], or absent */
    struct d2_tensor keypoints; /* f32 [count, K, 3] (x, y, score), or absent */
};

/* detectron2 detector_postprocess(results, out_height, out_width, mask_threshold):
 *   scale_x = out_width / input_width, scale_y = out_height / input_height (double, used as
 *   float32 as PyTorch does); boxes *= (scale_x, scale_y), clipped to [0, out_width] x
 *   [0, out_height]; instances whose box has width <= 0 or height <= 0 are dropped;
 *   masks are pasted at full resolution (paste_masks rules, backends/cpu/ref_postproc.h,
 *   `>= mask_threshold`); keypoints (given, or decoded from heatmaps with the unscaled boxes)
 *   get x *= scale_x, y *= scale_y. `out` is overwritten (release it first if reused). */
enum d2_status d2_detector_postprocess(const struct d2_raw_instances *raw, int64_t out_height, int64_t out_width,
                                       double mask_threshold, const struct d2_allocator *alloc,
                                       struct d2_instances *out, struct d2_error *err);

void d2_instances_release(struct d2_instances *inst, const struct d2_allocator *alloc);

/* Write the instances as .npy files into dir (created, with missing parents, if needed). */
enum d2_status d2_instances_write_npy_dir(const struct d2_instances *inst, const char *dir, struct d2_error *err);

/* A table, one line per instance ("  #  class            score   x0      y0      x1      y1"),
 * class names from class_names[0..num_class_names) (else "class <id>"). Returns a string
 * from alloc (free with d2_free), NULL on allocation failure. */
char *d2_instances_format_table(const struct d2_instances *inst, const char *const *class_names,
                                size_t num_class_names, const struct d2_allocator *alloc);

/* ---- COCO (runtime/coco_json.c) ---- */

/* COCO 2017's 80 "thing" classes in detectron2's contiguous order, and their dataset ids
 * (what COCO evaluation expects as category_id). */
#define D2_COCO_NUM_CLASSES 80
extern const char *const d2_coco_class_names[D2_COCO_NUM_CLASSES];
extern const int64_t d2_coco_category_ids[D2_COCO_NUM_CLASSES];
/* COCO person keypoints: 17 names and the skeleton (pairs of keypoint indices). */
#define D2_COCO_NUM_KEYPOINTS 17
#define D2_COCO_NUM_SKELETON 16
extern const int d2_coco_skeleton[D2_COCO_NUM_SKELETON][2];

/* Uncompressed COCO RLE of an h x w mask (row-major bytes, nonzero = set): run lengths over
 * the column-major (Fortran) pixel order, starting with a run of zeros (maybe 0 long).
 * *counts comes from alloc. */
enum d2_status d2_mask_to_rle(const uint8_t *mask, int64_t height, int64_t width, const struct d2_allocator *alloc,
                              uint32_t **counts, size_t *num_counts, struct d2_error *err);
/* pycocotools' compressed string of RLE counts (rleToString): each count, minus the count two
 * places earlier from the fourth on, in 5-bit groups, low first, 0x20 marking "more", + 48.
 * Returns a NUL-terminated string from alloc, NULL on allocation failure. */
char *d2_rle_to_string(const uint32_t *counts, size_t num_counts, const struct d2_allocator *alloc);

/* COCO results JSON for several images, as detectron2's instances_to_coco_json builds it:
 * a list of {"image_id", "category_id", "bbox": [x, y, w, h], "score", "segmentation":
 * {"size": [H, W], "counts": RLE string} (with masks), "keypoints": [x - 0.5, y - 0.5, score,
 * ...] (with keypoints; detectron2 shifts to COCO's pixel convention and stores the score
 * where COCO ground truth has the visibility)}. category_id = category_ids[class] when
 * category_ids is given (class must be < num_category_ids), else the class. */
char *d2_coco_results_json(const struct d2_instances *const *images, const int64_t *image_ids, size_t num_images,
                           const int64_t *category_ids, size_t num_category_ids, const struct d2_allocator *alloc,
                           struct d2_error *err);
/* Write text to a file (D2_ERR_IO on failure). */
enum d2_status d2_write_text_file(const char *path, const char *text, struct d2_error *err);

/* ---- visualization (runtime/vis.c) ---- */

struct d2_vis_options {
    double min_score;          /* instances below are not drawn (detectron2 demo: 0.5) */
    double mask_alpha;         /* mask opacity, 0..1 (0.5) */
    double keypoint_threshold; /* keypoints with a lower score are not drawn (0.05) */
    int line_width;            /* box outline width in pixels (>= 1) */
    int font_scale;            /* label glyph scale: 5x7 glyphs times this (>= 1) */
};
void d2_vis_options_default(struct d2_vis_options *opts);

/* Draw the instances on a copy of image (u8 [H, W, 3], channel order `order`): translucent
 * masks, box outlines, "class score" labels (built-in 5x7 font), keypoint dots and the COCO
 * person skeleton when K == 17. Output: new u8 [H, W, 3] in RGB order. */
enum d2_status d2_visualize_instances(const struct d2_tensor *image, enum d2_channel_order order,
                                      const struct d2_instances *inst, const char *const *class_names,
                                      size_t num_class_names, const struct d2_vis_options *opts,
                                      const struct d2_allocator *alloc, struct d2_tensor *out,
                                      struct d2_error *err);
/* Write a u8 [H, W, 3] RGB (or [H, W, 1] gray) tensor as an 8-bit PNG with libpng. */
enum d2_status d2_png_write_file(const char *path, const struct d2_tensor *image, struct d2_error *err);

#endif
