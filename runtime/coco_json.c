/* runtime/coco_json.c: COCO results JSON (detectron2 instances_to_coco_json), mask RLE in
 * pycocotools' compressed string form, and the COCO class/keypoint tables.
 * Contracts: runtime/postprocess.h. The RLE string is checked against pycocotools in
 * tests/unit/test_postprocess.c (data from tools/make_postproc_data.py). */
#include "postprocess.h"
#include "postprocess_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *const d2_coco_class_names[D2_COCO_NUM_CLASSES] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
};

/* COCO 2017 category ids of the 80 classes above (the dataset skips 12, 26, 29, 30, 45, 66,
 * 68, 69, 71, 83). */
const int64_t d2_coco_category_ids[D2_COCO_NUM_CLASSES] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
    46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
    67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
};

/* Keypoint order: nose, left/right eye, left/right ear, left/right shoulder, left/right elbow,
 * left/right wrist, left/right hip, left/right knee, left/right ankle. */
const int d2_coco_skeleton[D2_COCO_NUM_SKELETON][2] = {
    { 3, 1 }, { 4, 2 }, { 1, 0 }, { 0, 2 }, { 5, 6 }, { 5, 7 }, { 7, 9 }, { 6, 8 },
    { 8, 10 }, { 11, 12 }, { 11, 13 }, { 13, 15 }, { 12, 14 }, { 14, 16 }, { 5, 11 }, { 6, 12 },
};

enum d2_status d2_mask_to_rle(const uint8_t *mask, int64_t height, int64_t width, const struct d2_allocator *alloc,
                              uint32_t **counts, size_t *num_counts, struct d2_error *err)
{
    *counts = NULL;
    *num_counts = 0;
    if (height < 0 || width < 0 || height * width > (int64_t)UINT32_MAX)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "RLE: mask size %lld x %lld out of range", (long long)height,
                         (long long)width);
    /* First pass counts the runs, second fills them. */
    size_t runs = 1;
    uint8_t current = 0;
    for (int64_t x = 0; x < width; x++)
        for (int64_t y = 0; y < height; y++) {
            uint8_t v = mask[y * width + x] != 0;
            if (v != current) {
                runs++;
                current = v;
            }
        }
    uint32_t *c = d2_calloc(alloc, runs, sizeof *c);
    if (!c)
        return d2_errorf(err, D2_ERR_NOMEM, "RLE: out of memory for %zu runs", runs);
    size_t r = 0;
    current = 0;
    for (int64_t x = 0; x < width; x++)
        for (int64_t y = 0; y < height; y++) {
            uint8_t v = mask[y * width + x] != 0;
            if (v != current) {
                r++;
                current = v;
            }
            c[r]++;
        }
    *counts = c;
    *num_counts = runs;
    return D2_OK;
}

char *d2_rle_to_string(const uint32_t *counts, size_t num_counts, const struct d2_allocator *alloc)
{
    /* Each count is at most 33 bits after the delta: at most 7 characters. */
    char *s = d2_alloc(alloc, num_counts * 7 + 1);
    size_t p = 0;
    if (!s)
        return NULL;
    for (size_t i = 0; i < num_counts; i++) {
        int64_t x = counts[i];
        if (i > 2)
            x -= counts[i - 2];
        bool more = true;
        while (more) {
            int c = (int)(x & 0x1f);
            x >>= 5; /* arithmetic shift: negative deltas end at -1 */
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more)
                c |= 0x20;
            s[p++] = (char)(c + 48);
        }
    }
    s[p] = '\0';
    return s;
}

static void append_instance(struct d2_strbuf *b, const struct d2_instances *inst, int64_t i, int64_t image_id,
                            int64_t category_id, const char *rle)
{
    const float *box = (const float *)inst->boxes.data + i * 4;
    d2_strbuf_printf(b, "{\"image_id\": %lld, \"category_id\": %lld, \"bbox\": [", (long long)image_id,
                     (long long)category_id);
    /* XYXY -> XYWH in float32, as BoxMode.convert does on the float32 array. */
    float xywh[4] = { box[0], box[1], box[2] - box[0], box[3] - box[1] };
    for (int c = 0; c < 4; c++) {
        if (c)
            d2_strbuf_append(b, ", ");
        d2_strbuf_number(b, (double)xywh[c]);
    }
    d2_strbuf_append(b, "], \"score\": ");
    d2_strbuf_number(b, (double)((const float *)inst->scores.data)[i]);
    if (rle)
        d2_strbuf_printf(b, ", \"segmentation\": {\"size\": [%lld, %lld], \"counts\": \"%s\"}",
                         (long long)inst->image_height, (long long)inst->image_width, rle);
    if (inst->keypoints.dtype != D2_DTYPE_UNDEFINED) {
        int64_t K = inst->keypoints.dims[1];
        const float *kp = (const float *)inst->keypoints.data + i * K * 3;
        d2_strbuf_append(b, ", \"keypoints\": [");
        for (int64_t k = 0; k < K; k++)
            for (int c = 0; c < 3; c++) {
                if (k || c)
                    d2_strbuf_append(b, ", ");
                float v = kp[k * 3 + c];
                d2_strbuf_number(b, (double)(c < 2 ? v - 0.5f : v));
            }
        d2_strbuf_append(b, "]");
    }
    d2_strbuf_append(b, "}");
}

char *d2_coco_results_json(const struct d2_instances *const *images, const int64_t *image_ids, size_t num_images,
                           const int64_t *category_ids, size_t num_category_ids, const struct d2_allocator *alloc,
                           struct d2_error *err)
{
    struct d2_strbuf b;
    bool first = true;
    d2_strbuf_init(&b, alloc);
    d2_strbuf_append(&b, "[");
    for (size_t m = 0; m < num_images; m++) {
        const struct d2_instances *inst = images[m];
        bool masks = inst->masks.dtype != D2_DTYPE_UNDEFINED;
        for (int64_t i = 0; i < inst->count; i++) {
            int64_t cls = ((const int64_t *)inst->classes.data)[i], category = cls;
            if (category_ids) {
                if (cls < 0 || (uint64_t)cls >= num_category_ids) {
                    d2_strbuf_free(&b);
                    d2_errorf(err, D2_ERR_INVALID_ARG, "COCO JSON: class %lld has no category id (%zu known)",
                              (long long)cls, num_category_ids);
                    return NULL;
                }
                category = category_ids[cls];
            }
            char *rle = NULL;
            if (masks) {
                uint32_t *counts;
                size_t n;
                const uint8_t *mask = (const uint8_t *)inst->masks.data +
                                      (size_t)(i * inst->image_height * inst->image_width);
                if (d2_mask_to_rle(mask, inst->image_height, inst->image_width, alloc, &counts, &n, err) != D2_OK) {
                    d2_strbuf_free(&b);
                    return NULL;
                }
                rle = d2_rle_to_string(counts, n, alloc);
                d2_free(alloc, counts);
                if (!rle) {
                    d2_strbuf_free(&b);
                    d2_errorf(err, D2_ERR_NOMEM, "COCO JSON: out of memory");
                    return NULL;
                }
            }
            d2_strbuf_append(&b, first ? "\n" : ",\n");
            first = false;
            append_instance(&b, inst, i, image_ids ? image_ids[m] : (int64_t)m, category, rle);
            d2_free(alloc, rle);
        }
    }
    d2_strbuf_append(&b, first ? "]\n" : "\n]\n");
    char *s = d2_strbuf_take(&b);
    if (!s)
        d2_errorf(err, D2_ERR_NOMEM, "COCO JSON: out of memory");
    return s;
}

enum d2_status d2_write_text_file(const char *path, const char *text, struct d2_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return d2_errorf(err, D2_ERR_IO, "cannot open '%s' for writing: %s", path, strerror(errno));
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok)
        return d2_errorf(err, D2_ERR_IO, "cannot write '%s'", path);
    return D2_OK;
}
