/* runtime/image.h: d2rt's image pipeline, bit-exact with what detectron2's DefaultPredictor
 * feeds its model.
 *
 * detectron2 reads an image with PIL (detection_utils.read_image): decode, apply the EXIF
 * orientation, convert("RGB"), flip to BGR. It then resizes with ResizeShortestEdge, which
 * calls PIL's Image.resize(BILINEAR) on the uint8 image, and the model normalises and pads.
 * This module reproduces each step exactly (see docs in detectron2-export.md §4.1-4.3):
 *
 *   d2_image_decode / d2_image_read_file   JPEG (libjpeg-turbo, ISLOW IDCT, fancy upsampling,
 *                                          as Pillow 9.4) or PNG (libpng), chosen by content;
 *                                          converted like PIL's convert("RGB"); EXIF
 *                                          orientation applied like detectron2's
 *                                          _apply_exif_orientation. Output u8 [H, W, 3].
 *   d2_resize_shortest_edge_size           ResizeShortestEdge's output size rule (in double).
 *   d2_image_bilinear_resize_u8            Pillow's BILINEAR resampler (two separable
 *                                          fixed-point passes, support grows when shrinking).
 *   d2_image_resize_shortest_edge          both of the above.
 *   d2_image_to_chw_f32                    HWC u8 -> CHW f32, optional (x - mean) / std and
 *                                          bottom/right padding to a size divisibility.
 *
 * Tensors are HWC uint8 with any channel count C >= 1 for the resampler and the conversion;
 * the decoder always produces C = 3. Every function allocates its output with the given
 * allocator (the caller releases it with d2_tensor_release) and leaves `out` zeroed on error.
 * Untrusted input (corrupt or truncated files, malformed EXIF) gives D2_ERR_PARSE with one
 * message, never a crash; images larger than D2_IMAGE_MAX_SIDE per side or
 * D2_IMAGE_MAX_PIXELS pixels are rejected (D2_ERR_UNSUPPORTED) before any pixel buffer is
 * allocated. libjpeg's own working memory comes from its memory manager (malloc), not from
 * `alloc`; libpng's goes through `alloc`.
 */
#ifndef D2_RUNTIME_IMAGE_H
#define D2_RUNTIME_IMAGE_H

#include "../ir/ir.h"

#define D2_IMAGE_MAX_SIDE 32768
#define D2_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

enum d2_channel_order {
    D2_CHANNELS_RGB = 0,
    D2_CHANNELS_BGR = 1, /* detectron2's default (cfg.INPUT.FORMAT "BGR") */
};

/* Decode a JPEG or PNG image held in memory into a new u8 [H, W, 3] tensor. */
enum d2_status d2_image_decode(const void *bytes, size_t size, enum d2_channel_order order,
                               const struct d2_allocator *alloc, struct d2_tensor *out,
                               struct d2_error *err);
/* Same, reading the file first (D2_ERR_IO when it cannot be read). */
enum d2_status d2_image_read_file(const char *path, enum d2_channel_order order,
                                  const struct d2_allocator *alloc, struct d2_tensor *out,
                                  struct d2_error *err);

/* ResizeShortestEdge.get_output_shape: scale the short side to min_size, then shrink so the
 * long side is <= max_size (max_size <= 0: no cap), round each side with int(x + 0.5).
 * min_size <= 0 means "no resize" (detectron2 returns a NoOpTransform): the size is kept. */
void d2_resize_shortest_edge_size(int64_t h, int64_t w, int64_t min_size, int64_t max_size,
                                  int64_t *new_h, int64_t *new_w);

/* Pillow's Image.resize((new_w, new_h), BILINEAR) on a u8 [H, W, C] tensor, every channel
 * filtered independently (what Pillow does for modes L and RGB). */
enum d2_status d2_image_bilinear_resize_u8(const struct d2_tensor *in, int64_t new_h, int64_t new_w,
                                           const struct d2_allocator *alloc, struct d2_tensor *out,
                                           struct d2_error *err);

/* d2_resize_shortest_edge_size then d2_image_bilinear_resize_u8. */
enum d2_status d2_image_resize_shortest_edge(const struct d2_tensor *in, int64_t min_size,
                                             int64_t max_size, const struct d2_allocator *alloc,
                                             struct d2_tensor *out, struct d2_error *err);

/* How d2_image_to_chw_f32 transforms values and pads. NULL mean/std: 0 and 1. */
struct d2_image_normalize {
    const float *mean;        /* C values, per channel in the tensor's channel order, or NULL */
    const float *std;         /* C values, or NULL */
    int64_t size_divisibility;/* pad H and W up to a multiple of this; <= 1: no padding */
    float pad_value;          /* value of the padded area (after normalisation) */
};

/* u8 [H, W, C] -> f32 [C, Hp, Wp] with out = ((float)x - mean[c]) / std[c] (float32
 * arithmetic, as torch does it) and pad_value in the bottom/right padding. `norm` may be NULL
 * (raw values, no padding). */
enum d2_status d2_image_to_chw_f32(const struct d2_tensor *in, const struct d2_image_normalize *norm,
                                   const struct d2_allocator *alloc, struct d2_tensor *out,
                                   struct d2_error *err);

/* ---- EXIF orientation (exposed for tests and for callers that decode elsewhere) ---- */

/* What PIL's Image.getexif() answers for the orientation tag (0x0112) of a TIFF structure
 * (an EXIF block without its "Exif\0\0" prefix):
 *   D2_EXIF_INVALID  not a TIFF header: getexif() fails, detectron2 applies nothing;
 *   D2_EXIF_ABSENT   valid header, no usable orientation entry in IFD0;
 *   1..8             the orientation;
 *   D2_EXIF_OTHER    the tag is present but its value is not one of 1..8 (also blocks
 *                    PNG's XMP fallback, as in PIL). */
#define D2_EXIF_INVALID (-1)
#define D2_EXIF_ABSENT 0
#define D2_EXIF_OTHER 9
int d2_exif_orientation(const uint8_t *tiff, size_t size);

/* Apply an EXIF orientation (1..8; anything else copies) to a u8 [H, W, C] tensor, the way
 * detectron2 does: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
 * 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90. */
enum d2_status d2_image_apply_orientation(const struct d2_tensor *in, int orientation,
                                          const struct d2_allocator *alloc, struct d2_tensor *out,
                                          struct d2_error *err);

#endif
