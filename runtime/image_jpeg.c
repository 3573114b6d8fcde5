/* runtime/image_jpeg.c: JPEG decoding with libjpeg(-turbo), pixel-identical to PIL 9.4.
 *
 * PIL drives libjpeg with its defaults: the accurate integer IDCT (JDCT_ISLOW) and "fancy"
 * (triangular) chroma upsampling, output colour space RGB for 3-component files, GRAYSCALE
 * for 1 component, CMYK for 4 (read as "CMYK;I", i.e. Adobe-inverted, then converted to RGB
 * by PIL's cmyk2rgb). We ask libjpeg for the same, so the pixels are the same.
 *
 * Robustness: libjpeg's default error handler calls exit(); ours longjmps back and turns the
 * message into D2_ERR_PARSE. Warnings are ignored like PIL does (corrupt entropy data still
 * decodes), except running out of data before the last scanline: PIL then fails with "image
 * file is truncated", and so do we. The setjmp lives in decode_with_libjpeg(), whose
 * caller-owned context is the only state touched after a longjmp.
 *
 * EXIF: the first APP1 segment that starts with "Exif\0" (PIL's rule) is the EXIF block. */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE and size_t without including them */
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "image_internal.h"

struct jpeg_error_context {
    struct jpeg_error_mgr mgr; /* first: libjpeg hands us a pointer to it */
    jmp_buf jump;
    bool reading_scanlines;    /* decoding pixels: running out of data is then fatal */
    bool truncated;
    char message[JMSG_LENGTH_MAX];
};

struct jpeg_decode_context {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_context error;
    bool cinfo_created;
    const struct d2_allocator *alloc;
    uint8_t *rows;        /* decoded scanlines, output_components per pixel */
    struct d2_tensor rgb; /* the result */
    int orientation;
    enum d2_status status;
    const char *failure; /* our own message when the failure is not libjpeg's */
};

static void on_jpeg_error(j_common_ptr cinfo)
{
    struct jpeg_error_context *e = (struct jpeg_error_context *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void on_jpeg_message(j_common_ptr cinfo, int msg_level)
{
    struct jpeg_error_context *e = (struct jpeg_error_context *)cinfo->err;
    /* msg_level -1 is a warning. JWRN_JPEG_EOF: the source ran dry and libjpeg padded the
     * rest of the image with gray; PIL reports that as a truncated file. */
    if (msg_level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF && e->reading_scanlines)
        e->truncated = true;
}

static void on_jpeg_output(j_common_ptr cinfo) { (void)cinfo; }

static int exif_orientation_from_markers(struct jpeg_decompress_struct *cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != NULL; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 5 || memcmp(m->data, "Exif\0", 5) != 0)
            continue;
        /* PIL strips "Exif\0\0"; with any other sixth byte the TIFF header check fails. */
        int o = d2_exif_block_orientation(m->data, m->data_length);
        if (m->data_length < 6 || m->data[5] != 0)
            o = D2_EXIF_INVALID;
        return o;
    }
    return D2_EXIF_ABSENT;
}

/* PIL's cmyk2rgb for Adobe-inverted CMYK: invert, then c' = (255 - k) - (c * (255 - k)) / 255
 * with PIL's rounded division by 255. */
static uint8_t cmyk_channel(uint8_t stored_c, uint8_t stored_k)
{
    int c = 255 - stored_c, nk = stored_k; /* nk = 255 - k, and k = 255 - stored_k */
    int t = c * nk + 128;
    int v = nk - ((t >> 8) + t) / 256;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void convert_row(const uint8_t *src, int components, JDIMENSION width, uint8_t *dst)
{
    for (JDIMENSION x = 0; x < width; x++, dst += 3) {
        const uint8_t *p = src + (size_t)x * components;
        if (components == 1) {
            dst[0] = dst[1] = dst[2] = p[0];
        } else if (components == 3) {
            dst[0] = p[0], dst[1] = p[1], dst[2] = p[2];
        } else {
            dst[0] = cmyk_channel(p[0], p[3]);
            dst[1] = cmyk_channel(p[1], p[3]);
            dst[2] = cmyk_channel(p[2], p[3]);
        }
    }
}

/* Everything that may longjmp. Returns false after a libjpeg error (message in ctx). */
static bool decode_with_libjpeg(struct jpeg_decode_context *ctx, const uint8_t *bytes, size_t size,
                                struct d2_error *err)
{
    struct jpeg_decompress_struct *cinfo = &ctx->cinfo;
    if (setjmp(ctx->error.jump))
        return false;
    cinfo->err = jpeg_std_error(&ctx->error.mgr);
    ctx->error.mgr.error_exit = on_jpeg_error;
    ctx->error.mgr.emit_message = on_jpeg_message;
    ctx->error.mgr.output_message = on_jpeg_output;
    jpeg_create_decompress(cinfo);
    ctx->cinfo_created = true;
    jpeg_mem_src(cinfo, bytes, (unsigned long)size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);
    ctx->orientation = exif_orientation_from_markers(cinfo);

    int components = cinfo->num_components;
    if (components == 1) {
        cinfo->out_color_space = JCS_GRAYSCALE;
    } else if (components == 3) {
        cinfo->out_color_space = JCS_RGB;
    } else if (components == 4) {
        cinfo->out_color_space = JCS_CMYK;
    } else {
        ctx->status = D2_ERR_UNSUPPORTED;
        ctx->failure = "JPEG with a component count other than 1, 3 or 4";
        return true;
    }
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->do_fancy_upsampling = TRUE;
    cinfo->scale_num = cinfo->scale_denom = 1;

    if (d2_image_check_size(cinfo->image_height, cinfo->image_width, "JPEG", err) != D2_OK) {
        ctx->status = err->code;
        return true;
    }
    /* From here on, running out of data is fatal. For progressive and other multi-scan
     * files jpeg_start_decompress already reads every scan. */
    ctx->error.reading_scanlines = true;
    jpeg_start_decompress(cinfo);
    int out_components = cinfo->output_components;
    JDIMENSION width = cinfo->output_width, height = cinfo->output_height;
    int64_t dims[3] = {height, width, 3};
    if (out_components != components) {
        ctx->status = D2_ERR_UNSUPPORTED;
        ctx->failure = "JPEG colour conversion gave an unexpected component count";
        return true;
    }
    ctx->rows = d2_alloc(ctx->alloc, (size_t)width * (size_t)out_components);
    if (ctx->rows == NULL) {
        ctx->status = D2_ERR_NOMEM;
        ctx->failure = "out of memory decoding a JPEG image";
        return true;
    }
    if (d2_tensor_alloc(&ctx->rgb, ctx->alloc, D2_DTYPE_U8, 3, dims, err) != D2_OK) {
        ctx->status = err->code;
        return true;
    }
    while (cinfo->output_scanline < height) {
        JSAMPROW row = ctx->rows;
        JDIMENSION y = cinfo->output_scanline;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            break; /* only a suspending source returns 0 lines; jpeg_mem_src never does */
        convert_row(ctx->rows, out_components, width, (uint8_t *)ctx->rgb.data + (size_t)y * width * 3);
        if (ctx->error.truncated)
            break;
    }
    ctx->error.reading_scanlines = false;
    if (ctx->error.truncated || cinfo->output_scanline < height) {
        ctx->status = D2_ERR_PARSE;
        ctx->failure = "JPEG data is truncated";
    }
    /* No jpeg_finish_decompress: the pixels are complete, and trailing garbage after them
     * must not fail the decode (PIL ignores it too). */
    return true;
}

enum d2_status d2_image_decode_jpeg(const uint8_t *bytes, size_t size, const struct d2_allocator *alloc,
                                    struct d2_tensor *rgb, int *orientation, struct d2_error *err)
{
    struct jpeg_decode_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.alloc = alloc;
    ctx.status = D2_OK;
    memset(rgb, 0, sizeof *rgb);
    bool ran = decode_with_libjpeg(&ctx, bytes, size, err);
    if (ctx.cinfo_created)
        jpeg_destroy_decompress(&ctx.cinfo);
    d2_free(alloc, ctx.rows);
    if (!ran || ctx.status != D2_OK) {
        d2_tensor_release(&ctx.rgb, alloc);
        if (!ran)
            return d2_errorf(err, D2_ERR_PARSE, "corrupt JPEG image: %s", ctx.error.message);
        if (ctx.failure != NULL)
            return d2_errorf(err, ctx.status, "%s", ctx.failure);
        return err->code != D2_OK ? err->code : d2_errorf(err, ctx.status, "JPEG decode failed");
    }
    *rgb = ctx.rgb;
    *orientation = ctx.orientation;
    return D2_OK;
}
