/* runtime/vis.c: draw detections on an image (d2_visualize_instances) and write PNG files
 * (d2_png_write_file, libpng). Contracts: runtime/postprocess.h.
 *
 * Drawing order, per instance by ascending score so the best ends on top: translucent mask
 * (out = (1 - alpha) * pixel + alpha * colour), box outline, keypoint skeleton lines and dots,
 * then all labels last so no mask covers a label. Colours come from a fixed palette indexed by
 * the instance, so a picture is reproducible. Text uses the 5x7 font of vis_font.c. */
#include "postprocess.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const uint8_t d2_vis_font_5x7[95][7];

void d2_vis_options_default(struct d2_vis_options *opts)
{
    opts->min_score = 0.5;
    opts->mask_alpha = 0.5;
    opts->keypoint_threshold = 0.05;
    opts->line_width = 2;
    opts->font_scale = 2;
}

static const uint8_t palette[][3] = {
    { 0, 114, 189 },  { 217, 83, 25 },  { 237, 177, 32 }, { 126, 47, 142 }, { 119, 172, 48 },
    { 77, 190, 238 }, { 162, 20, 47 },  { 76, 76, 76 },   { 255, 0, 0 },    { 255, 128, 0 },
    { 191, 191, 0 },  { 0, 255, 0 },    { 0, 0, 255 },    { 170, 0, 255 },  { 85, 85, 0 },
    { 85, 170, 0 },   { 170, 85, 0 },   { 0, 85, 128 },   { 0, 170, 128 },  { 255, 0, 128 },
};
#define PALETTE_SIZE (sizeof palette / sizeof palette[0])

struct canvas {
    uint8_t *rgb;
    int64_t height, width;
};

static void blend_pixel(struct canvas *c, int64_t x, int64_t y, const uint8_t color[3], double alpha)
{
    if (x < 0 || y < 0 || x >= c->width || y >= c->height)
        return;
    uint8_t *p = c->rgb + (y * c->width + x) * 3;
    for (int k = 0; k < 3; k++)
        p[k] = (uint8_t)((1.0 - alpha) * p[k] + alpha * color[k] + 0.5);
}

static void fill_rect(struct canvas *c, int64_t x0, int64_t y0, int64_t x1, int64_t y1, const uint8_t color[3])
{
    for (int64_t y = y0 < 0 ? 0 : y0; y < y1 && y < c->height; y++)
        for (int64_t x = x0 < 0 ? 0 : x0; x < x1 && x < c->width; x++)
            memcpy(c->rgb + (y * c->width + x) * 3, color, 3);
}

/* A thick line: squares of side `width` along the Bresenham path. */
static void draw_line(struct canvas *c, int64_t x0, int64_t y0, int64_t x1, int64_t y1, int width,
                      const uint8_t color[3])
{
    int64_t dx = llabs(x1 - x0), dy = -llabs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int64_t e = dx + dy, half = width / 2;
    for (int64_t steps = 0; steps <= dx - dy; steps++) {
        fill_rect(c, x0 - half, y0 - half, x0 - half + width, y0 - half + width, color);
        if (x0 == x1 && y0 == y1)
            break;
        int64_t e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

static void draw_text(struct canvas *c, int64_t x, int64_t y, const char *text, int scale, const uint8_t fg[3])
{
    for (; *text; text++, x += 6 * scale) {
        unsigned char ch = (unsigned char)*text;
        if (ch < 32 || ch > 126)
            ch = '?';
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (d2_vis_font_5x7[ch - 32][r] & (0x10 >> col))
                    fill_rect(c, x + col * scale, y + r * scale, x + (col + 1) * scale, y + (r + 1) * scale, fg);
    }
}

static int64_t clamp_coord(double v, int64_t size)
{
    if (!(v > 0.0))
        return 0;
    return v >= (double)(size - 1) ? size - 1 : (int64_t)v;
}

enum d2_status d2_visualize_instances(const struct d2_tensor *image, enum d2_channel_order order,
                                      const struct d2_instances *inst, const char *const *class_names,
                                      size_t num_class_names, const struct d2_vis_options *opts,
                                      const struct d2_allocator *alloc, struct d2_tensor *out,
                                      struct d2_error *err)
{
    struct d2_vis_options defaults;
    memset(out, 0, sizeof *out);
    if (!opts) {
        d2_vis_options_default(&defaults);
        opts = &defaults;
    }
    if (image->dtype != D2_DTYPE_U8 || image->rank != 3 || image->dims[2] != 3)
        return d2_errorf(err, D2_ERR_SHAPE, "visualize: image must be u8 [H, W, 3]");
    int64_t H = image->dims[0], W = image->dims[1];
    if (inst->masks.dtype != D2_DTYPE_UNDEFINED && (inst->image_height != H || inst->image_width != W))
        return d2_errorf(err, D2_ERR_SHAPE, "visualize: masks are %lld x %lld but the image is %lld x %lld",
                         (long long)inst->image_height, (long long)inst->image_width, (long long)H, (long long)W);
    enum d2_status st = d2_tensor_alloc(out, alloc, D2_DTYPE_U8, 3, image->dims, err);
    if (st != D2_OK)
        return st;
    const uint8_t *src = image->data;
    for (int64_t p = 0; p < H * W; p++)
        for (int k = 0; k < 3; k++)
            ((uint8_t *)out->data)[p * 3 + k] = src[p * 3 + (order == D2_CHANNELS_BGR ? 2 - k : k)];
    struct canvas c = { out->data, H, W };
    int line = opts->line_width < 1 ? 1 : opts->line_width;
    int scale = opts->font_scale < 1 ? 1 : opts->font_scale;
    const float *scores = inst->scores.data, *boxes = inst->boxes.data;

    /* Instances come sorted by descending score: draw from the last so the best is on top. */
    for (int64_t i = inst->count - 1; i >= 0; i--) {
        if (scores[i] < opts->min_score)
            continue;
        const uint8_t *color = palette[i % PALETTE_SIZE];
        if (inst->masks.dtype != D2_DTYPE_UNDEFINED) {
            const uint8_t *mask = (const uint8_t *)inst->masks.data + i * H * W;
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++)
                    if (mask[y * W + x])
                        blend_pixel(&c, x, y, color, opts->mask_alpha);
        }
        const float *b = boxes + i * 4;
        int64_t x0 = clamp_coord(b[0], W), y0 = clamp_coord(b[1], H);
        int64_t x1 = clamp_coord(b[2], W), y1 = clamp_coord(b[3], H);
        draw_line(&c, x0, y0, x1, y0, line, color);
        draw_line(&c, x1, y0, x1, y1, line, color);
        draw_line(&c, x1, y1, x0, y1, line, color);
        draw_line(&c, x0, y1, x0, y0, line, color);
        if (inst->keypoints.dtype != D2_DTYPE_UNDEFINED) {
            int64_t K = inst->keypoints.dims[1];
            const float *kp = (const float *)inst->keypoints.data + i * K * 3;
            if (K == D2_COCO_NUM_KEYPOINTS)
                for (int s = 0; s < D2_COCO_NUM_SKELETON; s++) {
                    const float *p = kp + d2_coco_skeleton[s][0] * 3, *q = kp + d2_coco_skeleton[s][1] * 3;
                    if (p[2] > opts->keypoint_threshold && q[2] > opts->keypoint_threshold)
                        draw_line(&c, clamp_coord(p[0], W), clamp_coord(p[1], H), clamp_coord(q[0], W),
                                  clamp_coord(q[1], H), line, color);
                }
            static const uint8_t dot[3] = { 255, 255, 255 };
            for (int64_t k = 0; k < K; k++)
                if (kp[k * 3 + 2] > opts->keypoint_threshold) {
                    int64_t x = clamp_coord(kp[k * 3], W), y = clamp_coord(kp[k * 3 + 1], H);
                    fill_rect(&c, x - 2, y - 2, x + 3, y + 3, color);
                    fill_rect(&c, x - 1, y - 1, x + 2, y + 2, dot);
                }
        }
    }
    /* Labels: "name 87%" on a box-coloured band above the box (inside it at the top edge). */
    for (int64_t i = inst->count - 1; i >= 0; i--) {
        if (scores[i] < opts->min_score)
            continue;
        const uint8_t *color = palette[i % PALETTE_SIZE];
        static const uint8_t white[3] = { 255, 255, 255 };
        int64_t cls = ((const int64_t *)inst->classes.data)[i];
        char label[96];
        if (cls >= 0 && (uint64_t)cls < num_class_names && class_names && class_names[cls])
            snprintf(label, sizeof label, "%s %.0f%%", class_names[cls], 100.0 * scores[i]);
        else
            snprintf(label, sizeof label, "%lld %.0f%%", (long long)cls, 100.0 * scores[i]);
        int64_t text_w = (int64_t)strlen(label) * 6 * scale, text_h = 9 * scale;
        int64_t x = clamp_coord(boxes[i * 4], W), y = clamp_coord(boxes[i * 4 + 1], H) - text_h;
        if (y < 0)
            y = clamp_coord(boxes[i * 4 + 1], H);
        fill_rect(&c, x, y, x + text_w + scale, y + text_h, color);
        draw_text(&c, x + scale, y + scale, label, scale, white);
    }
    return D2_OK;
}

/* ---- PNG ---- */

struct png_write_context {
    jmp_buf jump;
    char message[200];
};

static void on_png_write_error(png_structp png, png_const_charp msg)
{
    struct png_write_context *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", msg);
    longjmp(ctx->jump, 1);
}

static void on_png_write_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* library code never prints */
}

enum d2_status d2_png_write_file(const char *path, const struct d2_tensor *image, struct d2_error *err)
{
    if (image->dtype != D2_DTYPE_U8 || image->rank != 3 || (image->dims[2] != 3 && image->dims[2] != 1) ||
        image->dims[0] < 1 || image->dims[1] < 1 || image->dims[0] > 0x7fffffff || image->dims[1] > 0x7fffffff)
        return d2_errorf(err, D2_ERR_SHAPE, "PNG: image must be a non-empty u8 [H, W, 3] or [H, W, 1]");
    FILE *f = fopen(path, "wb");
    if (!f)
        return d2_errorf(err, D2_ERR_IO, "cannot open '%s' for writing", path);
    struct png_write_context ctx;
    ctx.message[0] = '\0';
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_write_error, on_png_write_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        return d2_errorf(err, D2_ERR_NOMEM, "PNG: out of memory");
    }
    if (setjmp(ctx.jump)) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return d2_errorf(err, D2_ERR_IO, "PNG: cannot write '%s': %s", path, ctx.message);
    }
    png_uint_32 width = (png_uint_32)image->dims[1], height = (png_uint_32)image->dims[0];
    size_t stride = (size_t)width * (size_t)image->dims[2];
    png_init_io(png, f);
    png_set_IHDR(png, info, width, height, 8, image->dims[2] == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (png_uint_32 y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)image->data + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0)
        return d2_errorf(err, D2_ERR_IO, "PNG: cannot write '%s'", path);
    return D2_OK;
}
