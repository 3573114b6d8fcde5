/* runtime/image_png.c: PNG decoding with libpng, converted like PIL 9.4's convert("RGB").
 *
 * libpng only unpacks sub-byte samples (png_set_packing) and de-interlaces; every other
 * conversion is ours, because PIL's differ from libpng's transforms:
 *   gray 1/2/4 bit   scaled to 0..255 (x255, x85, x17);   gray 16 bit  clipped to 0..255
 *                    (PIL opens it as mode "I" and I->RGB clips, it does not shift!);
 *   RGB/RGBA/LA 16   the high byte;                       alpha        dropped, no blending;
 *   palette          PLTE lookup; an index past the PLTE entries gives (i, i, i), PIL's
 *                    default gray palette; tRNS ignored.
 * Gamma, sBIT, iCCP and the like are ignored, as PIL does.
 *
 * Orientation: PIL 9.4's PngImageFile.getexif() looks, in this order of precedence, at the
 * eXIf chunk seen before the first IDAT, the ImageMagick "Raw profile type exif" text before
 * IDAT, then the same two after IDAT (it loads the rest of the file only when nothing was
 * found before). When that yields no orientation tag, an XMP packet ("XML:com.adobe.xmp"
 * text) with tiff:Orientation is used. eXIf chunks are found by our own bounds-checked chunk
 * walk (libpng keeps only the first); text comes from libpng (it inflates zTXt/iTXt).
 *
 * Errors: libpng reports through on_png_error, which longjmps; the setjmp calls live in
 * read_pixels() and read_trailer(), whose caller-owned context is all they touch. An error in
 * the chunks after the pixel data (e.g. a missing IEND) is ignored, like PIL, and so is a
 * file cut after its last row's deflate data (PIL checks neither the Adler-32 it lacks nor
 * IDAT CRCs): see decode_png_attempt. libpng allocates through the caller's allocator. */
#include <png.h>
#include <setjmp.h>
#include <string.h>
#include <zlib.h>

#include "image_internal.h"

struct png_source {
    const uint8_t *bytes;
    size_t size, pos;
};

struct png_decode_context {
    const struct d2_allocator *alloc;
    png_structp png;
    png_infop info;
    struct png_source source;
    char message[256];        /* libpng's error text */
    bool out_of_memory;
    uint8_t *raw;             /* decoded rows, libpng layout */
    png_bytep *row_pointers;
    size_t row_bytes;
    png_uint_32 width, height;
    int bit_depth, color_type;
    int text_before_idat;     /* png_get_text count after png_read_info */
    int interlace;
    bool reading_rows;        /* inside png_read_image */
    bool ran_out;             /* the file ended inside the pixel data (zero-filled) */
    bool ignore_adler32;      /* second attempt at a file cut inside its zlib checksum */
    bool retry;               /* that attempt is worth making */
    enum d2_status status;    /* non-OK when we (not libpng) refused the image */
};

static void on_png_error(png_structp png, png_const_charp msg)
{
    struct png_decode_context *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static png_voidp png_alloc_hook(png_structp png, png_alloc_size_t size)
{
    struct png_decode_context *ctx = png_get_mem_ptr(png);
    void *p = d2_alloc(ctx->alloc, size ? size : 1);
    if (p == NULL)
        ctx->out_of_memory = true;
    return p;
}

static void png_free_hook(png_structp png, png_voidp ptr)
{
    struct png_decode_context *ctx = png_get_mem_ptr(png);
    d2_free(ctx->alloc, ptr);
}

static void png_read_from_memory(png_structp png, png_bytep dst, png_size_t n)
{
    struct png_decode_context *ctx = png_get_io_ptr(png);
    struct png_source *s = &ctx->source;
    if (n > s->size - s->pos) {
        /* Inside the image data the read is completed with zeros, so that libpng inflates
         * what there is; whether that was enough is decided by pixels_survive_truncation. */
        if (!ctx->reading_rows)
            png_error(png, "PNG data is truncated");
        size_t have = s->size - s->pos;
        memcpy(dst, s->bytes + s->pos, have);
        memset(dst + have, 0, n - have);
        s->pos = s->size;
        ctx->ran_out = true;
        return;
    }
    memcpy(dst, s->bytes + s->pos, n);
    s->pos += n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The eXIf payloads PIL would see: the last one before the first IDAT, the last one after. */
struct exif_chunks {
    const uint8_t *before, *after;
    size_t before_size, after_size;
};

static void find_exif_chunks(const uint8_t *bytes, size_t size, struct exif_chunks *found)
{
    bool seen_idat = false;
    memset(found, 0, sizeof *found);
    for (size_t off = 8; off + 8 <= size;) {
        uint32_t length = be32(bytes + off);
        const uint8_t *type = bytes + off + 4;
        if (length > 0x7fffffffu || length > size - off - 8)
            break;
        if (memcmp(type, "IDAT", 4) == 0)
            seen_idat = true;
        else if (memcmp(type, "IEND", 4) == 0)
            break;
        else if (memcmp(type, "eXIf", 4) == 0) {
            if (seen_idat)
                found->after = bytes + off + 8, found->after_size = length;
            else
                found->before = bytes + off + 8, found->before_size = length;
        }
        if (size - off - 8 - length < 4)
            break; /* no room for the CRC */
        off += (size_t)length + 12;
    }
}

/* The last text chunk with `key` among texts [first, last), or NULL. */
static const png_text *find_text(const png_text *texts, int first, int last, const char *key)
{
    const png_text *hit = NULL;
    for (int i = first; i < last; i++)
        if (texts[i].key != NULL && texts[i].text != NULL && strcmp(texts[i].key, key) == 0)
            hit = &texts[i];
    return hit;
}

/* Orientation of a "Raw profile type exif" text: D2_EXIF_* or 1..8. */
static int raw_profile_orientation(const struct d2_allocator *alloc, const png_text *t)
{
    size_t len = strlen(t->text);
    uint8_t *buf = d2_alloc(alloc, len / 2 + 1);
    if (buf == NULL)
        return D2_EXIF_INVALID; /* cannot look: behave as if there were nothing usable */
    int64_t n = d2_raw_profile_decode(t->text, len, buf, len / 2 + 1);
    int o = n < 0 ? D2_EXIF_INVALID : d2_exif_block_orientation(buf, (size_t)n);
    d2_free(alloc, buf);
    return o;
}

static int resolve_orientation(struct png_decode_context *ctx, const uint8_t *bytes, size_t size)
{
    struct exif_chunks exif;
    png_textp texts = NULL;
    int n_text = 0, o = D2_EXIF_ABSENT, xmp_limit;
    find_exif_chunks(bytes, size, &exif);
    png_get_text(ctx->png, ctx->info, &texts, &n_text);
    int before = ctx->text_before_idat < n_text ? ctx->text_before_idat : n_text;
    const png_text *raw_before = find_text(texts, 0, before, "Raw profile type exif");
    if (exif.before != NULL) {
        o = d2_exif_orientation(exif.before, exif.before_size);
        xmp_limit = before;
    } else if (raw_before != NULL) {
        o = raw_profile_orientation(ctx->alloc, raw_before);
        xmp_limit = before;
    } else {
        const png_text *raw_any = find_text(texts, 0, n_text, "Raw profile type exif");
        if (exif.after != NULL)
            o = d2_exif_orientation(exif.after, exif.after_size);
        else if (raw_any != NULL)
            o = raw_profile_orientation(ctx->alloc, raw_any);
        xmp_limit = n_text;
    }
    if (o == D2_EXIF_INVALID)
        return 1;
    if (o == D2_EXIF_ABSENT) {
        const png_text *xmp = find_text(texts, 0, xmp_limit, "XML:com.adobe.xmp");
        int digit = xmp ? d2_xmp_orientation(xmp->text, strlen(xmp->text)) : -1;
        return digit >= 0 ? digit : 1;
    }
    return o;
}

/* libpng up to the last row. Returns false after a libpng error. */
static bool read_pixels(struct png_decode_context *ctx, struct d2_error *err)
{
    if (setjmp(png_jmpbuf(ctx->png)))
        return false;
    png_set_read_fn(ctx->png, ctx, png_read_from_memory);
    png_set_user_limits(ctx->png, 0x7fffffff, 0x7fffffff); /* our own limits apply below */
    png_set_benign_errors(ctx->png, 1);
    if (ctx->ignore_adler32)
        png_set_option(ctx->png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
    png_read_info(ctx->png, ctx->info);
    png_get_IHDR(ctx->png, ctx->info, &ctx->width, &ctx->height, &ctx->bit_depth, &ctx->color_type,
                 &ctx->interlace, NULL, NULL);
    ctx->text_before_idat = png_get_text(ctx->png, ctx->info, NULL, NULL);
    if (d2_image_check_size(ctx->height, ctx->width, "PNG", err) != D2_OK) {
        ctx->status = err->code;
        return true;
    }
    if (ctx->bit_depth < 8)
        png_set_packing(ctx->png); /* one sample per byte, values unscaled */
    png_set_interlace_handling(ctx->png);
    png_read_update_info(ctx->png, ctx->info);
    ctx->row_bytes = png_get_rowbytes(ctx->png, ctx->info);
    if (ctx->row_bytes == 0 || ctx->row_bytes > (size_t)ctx->width * 8) {
        ctx->status = D2_ERR_PARSE;
        snprintf(ctx->message, sizeof ctx->message, "unexpected PNG row size %zu", ctx->row_bytes);
        return true;
    }
    ctx->raw = d2_alloc(ctx->alloc, ctx->row_bytes * ctx->height);
    ctx->row_pointers = d2_calloc(ctx->alloc, ctx->height, sizeof *ctx->row_pointers);
    if (ctx->raw == NULL || ctx->row_pointers == NULL) {
        ctx->status = D2_ERR_NOMEM;
        snprintf(ctx->message, sizeof ctx->message, "out of memory decoding a PNG image");
        return true;
    }
    for (png_uint_32 y = 0; y < ctx->height; y++)
        ctx->row_pointers[y] = ctx->raw + (size_t)y * ctx->row_bytes;
    ctx->reading_rows = true;
    png_read_image(ctx->png, ctx->row_pointers);
    ctx->reading_rows = false;
    return true;
}

/* The size of the filtered image data (filter byte + packed samples per row, per pass). */
static uint64_t filtered_size(const struct png_decode_context *ctx)
{
    static const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, dx[7] = {8, 8, 4, 4, 2, 2, 1};
    static const int y0[7] = {0, 0, 4, 0, 2, 0, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
    int channels = ctx->color_type == PNG_COLOR_TYPE_RGB ? 3 : ctx->color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                 : ctx->color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    uint64_t bits_per_pixel = (uint64_t)channels * (uint64_t)ctx->bit_depth, total = 0;
    for (int p = 0; p < (ctx->interlace == PNG_INTERLACE_NONE ? 1 : 7); p++) {
        uint64_t w = ctx->width, h = ctx->height;
        if (ctx->interlace != PNG_INTERLACE_NONE) {
            w = w > (uint64_t)x0[p] ? (w - x0[p] + dx[p] - 1) / dx[p] : 0;
            h = h > (uint64_t)y0[p] ? (h - y0[p] + dy[p] - 1) / dy[p] : 0;
        }
        if (w > 0 && h > 0)
            total += h * (1 + (w * bits_per_pixel + 7) / 8);
    }
    return total;
}

/* After an error inside png_read_image: had libpng delivered every row? (It counts a row,
 * and leaves the last interlace pass, before checking the end of the data.) */
static bool libpng_delivered_all_rows(const struct png_decode_context *ctx)
{
    if (!ctx->reading_rows)
        return false;
    return ctx->interlace == PNG_INTERLACE_NONE ? png_get_current_row_number(ctx->png) >= ctx->height
                                                : png_get_current_pass_number(ctx->png) >= 7;
}

/* The file ended inside the image data. PIL still decodes it when the IDAT bytes present
 * inflate to every row (only the Adler-32, the CRC or later chunks are missing). Checked
 * by inflating the IDAT payloads that are really in the file. */
static bool idat_inflates_to_all_rows(const struct png_decode_context *ctx, const uint8_t *bytes, size_t size)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return false;
    uint64_t want = filtered_size(ctx), got = 0;
    uint8_t scratch[4096];
    int zst = Z_OK;
    for (size_t off = 8; off + 8 <= size && got < want && zst == Z_OK;) {
        uint32_t length = be32(bytes + off);
        size_t avail = size - off - 8 < length ? size - off - 8 : length;
        if (memcmp(bytes + off + 4, "IDAT", 4) == 0) {
            z.next_in = (Bytef *)(uintptr_t)(bytes + off + 8);
            z.avail_in = (uInt)avail;
            while (z.avail_in > 0 && got < want && zst == Z_OK) {
                z.next_out = scratch;
                z.avail_out = sizeof scratch;
                zst = inflate(&z, Z_NO_FLUSH);
                got += sizeof scratch - z.avail_out;
            }
        }
        if (avail < length || size - off - 8 - length < 4)
            break;
        off += (size_t)length + 12;
    }
    inflateEnd(&z);
    return got >= want;
}

/* The chunks after the pixels (eXIf is found separately; text matters). Errors ignored. */
static void read_trailer(struct png_decode_context *ctx)
{
    if (setjmp(png_jmpbuf(ctx->png)))
        return;
    png_read_end(ctx->png, ctx->info);
}

static uint8_t gray_sample(const uint8_t *row, png_uint_32 x, int depth, int stride)
{
    switch (depth) {
    case 1: return row[x] ? 255 : 0;
    case 2: return (uint8_t)(row[x] * 85);
    case 4: return (uint8_t)(row[x] * 17);
    case 8: return row[(size_t)x * stride];
    default: { /* 16: PIL's mode "I", clipped on conversion */
        unsigned v = (unsigned)row[(size_t)x * stride * 2] << 8 | row[(size_t)x * stride * 2 + 1];
        return (uint8_t)(v > 255 ? 255 : v);
    }
    }
}

static void convert_to_rgb(const struct png_decode_context *ctx, const uint8_t palette[256][3], uint8_t *dst)
{
    int bytes_per_sample = ctx->bit_depth == 16 ? 2 : 1;
    for (png_uint_32 y = 0; y < ctx->height; y++) {
        const uint8_t *row = ctx->row_pointers[y];
        for (png_uint_32 x = 0; x < ctx->width; x++, dst += 3) {
            switch (ctx->color_type) {
            case PNG_COLOR_TYPE_GRAY:
                dst[0] = dst[1] = dst[2] = gray_sample(row, x, ctx->bit_depth, 1);
                break;
            case PNG_COLOR_TYPE_GRAY_ALPHA: /* 8 or 16 bit: the (high) byte of gray */
                dst[0] = dst[1] = dst[2] = row[(size_t)x * 2 * bytes_per_sample];
                break;
            case PNG_COLOR_TYPE_PALETTE:
                memcpy(dst, palette[row[x]], 3);
                break;
            default: { /* RGB or RGBA, 8 or 16 bit: the (high) byte of each colour */
                int channels = ctx->color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
                const uint8_t *p = row + (size_t)x * channels * bytes_per_sample;
                dst[0] = p[0];
                dst[1] = p[bytes_per_sample];
                dst[2] = p[2 * bytes_per_sample];
                break;
            }
            }
        }
    }
}

/* One decoding attempt; sets ctx->retry (and no error) when the file was cut inside its zlib
 * checksum and an attempt ignoring the checksum would decode it. */
static enum d2_status decode_png_attempt(struct png_decode_context *ctx, const uint8_t *bytes, size_t size,
                                         struct d2_tensor *rgb, int *orientation, struct d2_error *err)
{
    const struct d2_allocator *alloc = ctx->alloc;
    enum d2_status st = D2_OK;
    ctx->source.bytes = bytes;
    ctx->source.size = size;
    ctx->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, ctx, on_png_error, on_png_warning, ctx,
                                        png_alloc_hook, png_free_hook);
    if (ctx->png != NULL)
        ctx->info = png_create_info_struct(ctx->png);
    if (ctx->png == NULL || ctx->info == NULL) {
        png_destroy_read_struct(ctx->png ? &ctx->png : NULL, NULL, NULL);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory creating a PNG decoder");
    }

    bool read_ok = read_pixels(ctx, err) && !ctx->ran_out; /* libpng's state is fine to go on */
    bool failed = !read_ok;
    if (ctx->ran_out) {
        /* PIL decodes a file cut after its last row's data (inside the Adler-32, the CRC or
         * the chunks after it). libpng has those rows unless it tripped over the zero-filled
         * checksum first: then a second attempt ignores the checksum. */
        bool enough_data = idat_inflates_to_all_rows(ctx, bytes, size);
        failed = !(enough_data && libpng_delivered_all_rows(ctx));
        ctx->retry = failed && enough_data && !ctx->ignore_adler32;
        snprintf(ctx->message, sizeof ctx->message, "PNG data is truncated");
    }
    if (ctx->retry) {
        st = D2_OK;
    } else if (failed) {
        st = ctx->out_of_memory ? d2_errorf(err, D2_ERR_NOMEM, "out of memory decoding a PNG image")
                                : d2_errorf(err, D2_ERR_PARSE, "corrupt PNG image: %s", ctx->message);
    } else if (ctx->status != D2_OK) {
        st = err->code != D2_OK ? err->code : d2_errorf(err, ctx->status, "%s", ctx->message);
    } else {
        if (read_ok)
            read_trailer(ctx); /* after an error libpng's state cannot go on */
        uint8_t palette[256][3];
        for (int i = 0; i < 256; i++)
            palette[i][0] = palette[i][1] = palette[i][2] = (uint8_t)i;
        png_colorp plte = NULL;
        int n_plte = 0;
        if (ctx->color_type == PNG_COLOR_TYPE_PALETTE && png_get_PLTE(ctx->png, ctx->info, &plte, &n_plte)) {
            for (int i = 0; i < n_plte && i < 256; i++) {
                palette[i][0] = plte[i].red;
                palette[i][1] = plte[i].green;
                palette[i][2] = plte[i].blue;
            }
        }
        int64_t dims[3] = {ctx->height, ctx->width, 3};
        st = d2_tensor_alloc(rgb, alloc, D2_DTYPE_U8, 3, dims, err);
        if (st == D2_OK) {
            convert_to_rgb(ctx, (const uint8_t(*)[3])palette, rgb->data);
            *orientation = resolve_orientation(ctx, bytes, size);
        }
    }
    png_destroy_read_struct(&ctx->png, &ctx->info, NULL);
    d2_free(alloc, ctx->row_pointers);
    d2_free(alloc, ctx->raw);
    ctx->row_pointers = NULL;
    ctx->raw = NULL;
    return st;
}

enum d2_status d2_image_decode_png(const uint8_t *bytes, size_t size, const struct d2_allocator *alloc,
                                   struct d2_tensor *rgb, int *orientation, struct d2_error *err)
{
    struct png_decode_context ctx;
    memset(rgb, 0, sizeof *rgb);
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(&ctx, 0, sizeof ctx);
        ctx.alloc = alloc;
        ctx.ignore_adler32 = attempt > 0;
        enum d2_status st = decode_png_attempt(&ctx, bytes, size, rgb, orientation, err);
        if (!ctx.retry)
            return st;
    }
    return d2_errorf(err, D2_ERR_PARSE, "corrupt PNG image: PNG data is truncated");
}
