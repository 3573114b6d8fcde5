/* runtime/image_internal.h: what the image decoders (image_jpeg.c, image_png.c), the EXIF
 * helpers (image_exif.c) and the front door (image.c) share. Not a public API.
 *
 * A decoder turns file bytes into an RGB u8 [H, W, 3] tensor exactly as PIL's
 * Image.open(...).convert("RGB") would, and reports the orientation that detectron2 would
 * apply (resolved from EXIF / PNG text the way PIL 9.4's getexif() finds it). image.c then
 * applies the orientation and the channel order. */
#ifndef D2_RUNTIME_IMAGE_INTERNAL_H
#define D2_RUNTIME_IMAGE_INTERNAL_H

#include "image.h"

/* *orientation receives 1..8 (1 = nothing to do) or another value (nothing to do). */
enum d2_status d2_image_decode_jpeg(const uint8_t *bytes, size_t size, const struct d2_allocator *alloc,
                                    struct d2_tensor *rgb, int *orientation, struct d2_error *err);
enum d2_status d2_image_decode_png(const uint8_t *bytes, size_t size, const struct d2_allocator *alloc,
                                   struct d2_tensor *rgb, int *orientation, struct d2_error *err);

/* D2_ERR_UNSUPPORTED unless 1 <= h, w <= D2_IMAGE_MAX_SIDE and h * w <= D2_IMAGE_MAX_PIXELS. */
enum d2_status d2_image_check_size(int64_t h, int64_t w, const char *what, struct d2_error *err);

/* The orientation digit of the first match of PIL's regex  tiff:Orientation(="|>)([0-9])
 * in an XMP packet, or -1 when there is none. */
int d2_xmp_orientation(const char *xmp, size_t len);

/* PIL's reading of ImageMagick's "Raw profile type exif" PNG text: drop the first three
 * "\n"-separated lines, join the rest, hex-decode (ASCII whitespace between byte pairs
 * skipped, as Python's bytes.fromhex). Writes at most `cap` bytes to `dst`; returns the
 * decoded length, or -1 when the text is not valid hex (PIL then raises: no orientation). */
int64_t d2_raw_profile_decode(const char *text, size_t len, uint8_t *dst, size_t cap);

/* The orientation detectron2 applies for an EXIF block as stored in a JPEG APP1 / PNG
 * ("Exif\0\0" prefix optional, stripped once as PIL does): 1..8 or D2_EXIF_* codes. */
int d2_exif_block_orientation(const uint8_t *data, size_t size);

#endif
