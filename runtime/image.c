/* runtime/image.c: the image pipeline's front door (see image.h): format sniffing, file
 * reading, EXIF orientation transposes, channel order, and HWC u8 -> CHW f32 conversion.
 * Decoding itself is in image_jpeg.c / image_png.c, resampling in image_resize.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image_internal.h"

enum d2_status d2_image_check_size(int64_t h, int64_t w, const char *what, struct d2_error *err)
{
    if (h < 1 || w < 1)
        return d2_errorf(err, D2_ERR_PARSE, "%s image has an empty size %lldx%lld", what, (long long)w,
                         (long long)h);
    if (h > D2_IMAGE_MAX_SIDE || w > D2_IMAGE_MAX_SIDE || h * w > D2_IMAGE_MAX_PIXELS)
        return d2_errorf(err, D2_ERR_UNSUPPORTED,
                         "%s image of %lldx%lld pixels is too large (limits: %d per side, %lld pixels)", what,
                         (long long)w, (long long)h, D2_IMAGE_MAX_SIDE, (long long)D2_IMAGE_MAX_PIXELS);
    return D2_OK;
}

static bool is_u8_hwc(const struct d2_tensor *t)
{
    return t != NULL && t->dtype == D2_DTYPE_U8 && t->rank == 3 && t->dims[0] >= 0 && t->dims[1] >= 0 &&
           t->dims[2] >= 1 && (t->data != NULL || d2_tensor_numel(t) == 0);
}

enum d2_status d2_image_apply_orientation(const struct d2_tensor *in, int orientation,
                                          const struct d2_allocator *alloc, struct d2_tensor *out,
                                          struct d2_error *err)
{
    memset(out, 0, sizeof *out);
    if (!is_u8_hwc(in))
        return d2_errorf(err, D2_ERR_INVALID_ARG, "image orientation: expected a u8 [H, W, C] tensor");
    if (orientation < 2 || orientation > 8)
        return d2_tensor_copy(out, in, alloc, err);
    const int64_t h = in->dims[0], w = in->dims[1], c = in->dims[2];
    /* 5..8 swap the axes (TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90). */
    const bool swap = orientation >= 5;
    int64_t dims[3] = {swap ? w : h, swap ? h : w, c};
    enum d2_status st = d2_tensor_alloc(out, alloc, D2_DTYPE_U8, 3, dims, err);
    if (st != D2_OK)
        return st;
    const uint8_t *src = in->data;
    uint8_t *dst = out->data;
    const int64_t oh = dims[0], ow = dims[1];
    for (int64_t y = 0; y < oh; y++) {
        for (int64_t x = 0; x < ow; x++) {
            int64_t sx, sy; /* the source pixel of output pixel (x, y) */
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;                 /* FLIP_LEFT_RIGHT */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;         /* ROTATE_180 */
            case 4: sx = x; sy = h - 1 - y; break;                 /* FLIP_TOP_BOTTOM */
            case 5: sx = y; sy = x; break;                         /* TRANSPOSE */
            case 6: sx = y; sy = h - 1 - x; break;                 /* ROTATE_270 (clockwise) */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;         /* TRANSVERSE */
            default: sx = w - 1 - y; sy = x; break;                /* 8: ROTATE_90 (counter-clockwise) */
            }
            memcpy(dst + (y * ow + x) * c, src + (sy * w + sx) * c, (size_t)c);
        }
    }
    return D2_OK;
}

static void swap_red_blue(struct d2_tensor *t)
{
    uint8_t *p = t->data;
    int64_t n = t->dims[0] * t->dims[1];
    for (int64_t i = 0; i < n; i++, p += 3) {
        uint8_t r = p[0];
        p[0] = p[2];
        p[2] = r;
    }
}

enum d2_status d2_image_decode(const void *bytes, size_t size, enum d2_channel_order order,
                               const struct d2_allocator *alloc, struct d2_tensor *out,
                               struct d2_error *err)
{
    static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t *b = bytes;
    struct d2_tensor rgb;
    int orientation = 1;
    enum d2_status st;
    memset(out, 0, sizeof *out);
    if (order != D2_CHANNELS_RGB && order != D2_CHANNELS_BGR)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "image decode: unknown channel order %d", (int)order);
    if (b == NULL && size > 0)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "image decode: NULL data");
    if (size >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        st = d2_image_decode_jpeg(b, size, alloc, &rgb, &orientation, err);
    else if (size >= 8 && memcmp(b, png_signature, 8) == 0)
        st = d2_image_decode_png(b, size, alloc, &rgb, &orientation, err);
    else
        return d2_errorf(err, D2_ERR_PARSE, "not a JPEG or PNG image (%zu bytes, unrecognised signature)", size);
    if (st != D2_OK)
        return st;
    if (orientation >= 2 && orientation <= 8) {
        st = d2_image_apply_orientation(&rgb, orientation, alloc, out, err);
        d2_tensor_release(&rgb, alloc);
        if (st != D2_OK)
            return st;
    } else {
        *out = rgb;
    }
    if (order == D2_CHANNELS_BGR)
        swap_red_blue(out);
    return D2_OK;
}

enum d2_status d2_image_read_file(const char *path, enum d2_channel_order order,
                                  const struct d2_allocator *alloc, struct d2_tensor *out,
                                  struct d2_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return d2_errorf(err, D2_ERR_IO, "cannot open image '%s': %s", path, strerror(errno));
    uint8_t *data = NULL;
    size_t size = 0, cap = 0;
    enum d2_status st = D2_OK;
    for (;;) {
        if (size == cap) {
            size_t new_cap = cap ? cap * 2 : 1 << 16;
            uint8_t *grown = d2_realloc(alloc, data, new_cap);
            if (grown == NULL) {
                st = d2_errorf(err, D2_ERR_NOMEM, "out of memory reading image '%s'", path);
                break;
            }
            data = grown;
            cap = new_cap;
        }
        size_t n = fread(data + size, 1, cap - size, f);
        size += n;
        if (n == 0) {
            if (ferror(f))
                st = d2_errorf(err, D2_ERR_IO, "cannot read image '%s'", path);
            break;
        }
    }
    fclose(f);
    if (st == D2_OK) {
        st = d2_image_decode(data, size, order, alloc, out, err);
        if (st != D2_OK)
            d2_error_prefix(err, "image '%s': ", path);
    }
    d2_free(alloc, data);
    return st;
}

enum d2_status d2_image_to_chw_f32(const struct d2_tensor *in, const struct d2_image_normalize *norm,
                                   const struct d2_allocator *alloc, struct d2_tensor *out,
                                   struct d2_error *err)
{
    memset(out, 0, sizeof *out);
    if (!is_u8_hwc(in))
        return d2_errorf(err, D2_ERR_INVALID_ARG, "image to CHW: expected a u8 [H, W, C] tensor");
    const int64_t h = in->dims[0], w = in->dims[1], c = in->dims[2];
    int64_t div = norm != NULL && norm->size_divisibility > 1 ? norm->size_divisibility : 1;
    if (div > D2_IMAGE_MAX_SIDE)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "image to CHW: size_divisibility %lld is too large",
                         (long long)div);
    int64_t dims[3] = {c, (h + div - 1) / div * div, (w + div - 1) / div * div};
    enum d2_status st = d2_tensor_alloc(out, alloc, D2_DTYPE_F32, 3, dims, err);
    if (st != D2_OK)
        return st;
    const uint8_t *src = in->data;
    float *dst = out->data;
    const int64_t ph = dims[1], pw = dims[2];
    for (int64_t ch = 0; ch < c; ch++) {
        float mean = norm != NULL && norm->mean != NULL ? norm->mean[ch] : 0.0f;
        float std = norm != NULL && norm->std != NULL ? norm->std[ch] : 1.0f;
        float pad = norm != NULL ? norm->pad_value : 0.0f;
        float *plane = dst + ch * ph * pw;
        for (int64_t y = 0; y < ph; y++) {
            for (int64_t x = 0; x < pw; x++) {
                float v = pad;
                if (y < h && x < w) {
                    /* float32 throughout: torch computes (x - mean) / std on float tensors */
                    float diff = (float)src[(y * w + x) * c + ch] - mean;
                    v = diff / std;
                }
                plane[y * pw + x] = v;
            }
        }
    }
    return D2_OK;
}
