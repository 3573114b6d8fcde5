/* tests/unit/test_postprocess.c: the post-processing library (runtime/postprocess.h) against
 * independent references in tests/data/postproc/ (tools/make_postproc_data.py):
 *   - detectron2 eager Mask R-CNN outputs for grace_hopper (model-input frame 375 x 320)
 *     post-processed to the original 600 x 512 must reproduce DefaultPredictor's boxes
 *     (2e-2 px), scores, classes and masks (<= 1% of the true pixels may differ; the masks are
 *     stored as pycocotools RLE strings, decoded here by a decoder written for this test);
 *   - mask RLE strings equal pycocotools' mask.encode for several masks;
 *   - keypoint scaling and empty-box dropping against NumPy (float32), and keypoints decoded
 *     from heatmaps against the heatmaps_to_keypoints op test's NumPy reference;
 *   - the .npy directory writer, COCO JSON fragments, the table, and the visualization PNG
 *     (read back with d2rt's PNG decoder: right size, boxes drawn);
 *   - shape errors for inconsistent inputs, and the shape functions of paste_masks,
 *     heatmaps_to_keypoints and upsample (partial shapes, error messages). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/image.h"
#include "runtime/npy.h"
#include "runtime/postprocess.h"

#define DATA "tests/data/postproc/"

static const struct d2_allocator *A;

static struct d2_tensor load(const char *name)
{
    char path[256];
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor t;
    snprintf(path, sizeof path, DATA "%s", name);
    ck_assert_msg(d2_npy_read_file(path, A, &t, &err) == D2_OK, "%s: %s (run from the repository root)", path,
                  err.message);
    return t;
}

/* Read line `index` (0-based) of a text file into a malloc'd string without the newline. */
static char *read_line(const char *name, int index)
{
    char path[256];
    snprintf(path, sizeof path, DATA "%s", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = -1;
    for (int i = 0; i <= index; i++) {
        n = getline(&line, &cap, f);
        ck_assert_msg(n >= 0, "%s has no line %d", path, index);
    }
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* Decode a pycocotools compressed RLE string into a row-major h x w mask (test-local decoder,
 * the inverse of the documented rleToString: 5-bit groups, 0x20 = more, sign bit 0x10 on the
 * last group, delta against the count two places back from the fourth count on). */
static uint8_t *decode_rle_string(const char *s, int64_t h, int64_t w)
{
    int64_t counts[1 << 16];
    size_t m = 0;
    for (const char *p = s; *p;) {
        int64_t x = 0;
        int k = 0, c;
        do {
            c = *p++ - 48;
            x |= (int64_t)(c & 0x1f) << (5 * k);
            k++;
            if (!(c & 0x20) && (c & 0x10))
                x |= -((int64_t)1 << (5 * k));
        } while (c & 0x20);
        if (m > 2)
            x += counts[m - 2];
        if (m == sizeof counts / sizeof counts[0])
            ck_abort_msg("RLE string with too many counts");
        counts[m++] = x;
    }
    uint8_t *mask = calloc((size_t)(h * w), 1);
    int64_t pos = 0;
    /* (no ck_assert inside the pixel loop: each one writes Check's location record) */
    for (size_t i = 0; i < m && pos + counts[i] <= h * w; i++)
        for (int64_t j = 0; j < counts[i]; j++, pos++)
            if (i % 2)
                mask[(pos % h) * w + pos / h] = 1; /* column-major position */
    ck_assert_int_eq(pos, h * w);
    return mask;
}

START_TEST(mask_rcnn_eager_matches_default_predictor)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor boxes = load("mask_rcnn_eager_boxes.npy"), scores = load("mask_rcnn_eager_scores.npy");
    struct d2_tensor classes = load("mask_rcnn_eager_classes.npy"), probs = load("mask_rcnn_eager_mask_probs.npy");
    struct d2_tensor want_boxes = load("predictor_boxes.npy"), want_scores = load("predictor_scores.npy");
    struct d2_tensor want_classes = load("predictor_classes.npy");
    struct d2_raw_instances raw = { &boxes, &scores, &classes, &probs, NULL, NULL, 375, 320 };
    struct d2_instances inst;

    ck_assert_msg(d2_detector_postprocess(&raw, 600, 512, 0.5, A, &inst, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(inst.count, want_boxes.dims[0]);
    ck_assert_int_eq(inst.masks.dims[1], 600);
    ck_assert_int_eq(inst.masks.dims[2], 512);
    double worst_box = 0;
    int64_t diff_pixels = 0, true_pixels = 0;
    for (int64_t i = 0; i < inst.count; i++) {
        ck_assert_int_eq(((int64_t *)inst.classes.data)[i], ((int64_t *)want_classes.data)[i]);
        ck_assert_float_eq_tol(((float *)inst.scores.data)[i], ((float *)want_scores.data)[i], 1e-6);
        for (int c = 0; c < 4; c++) {
            double d = fabs((double)((float *)inst.boxes.data)[i * 4 + c] - ((float *)want_boxes.data)[i * 4 + c]);
            worst_box = d > worst_box ? d : worst_box;
        }
        char *rle = read_line("predictor_masks_rle.txt", (int)i);
        uint8_t *want = decode_rle_string(rle, 600, 512);
        const uint8_t *got = (const uint8_t *)inst.masks.data + i * 600 * 512;
        for (int64_t p = 0; p < 600 * 512; p++) {
            true_pixels += want[p] != 0;
            diff_pixels += (got[p] != 0) != (want[p] != 0);
        }
        free(want);
        free(rle);
    }
    ck_assert_msg(worst_box <= 2e-2, "box error %g px", worst_box);
    ck_assert_int_eq(true_pixels, 348848); /* masks_shape.json: the decoder read them right */
    ck_assert_msg(diff_pixels * 100 <= true_pixels, "%lld of %lld mask pixels differ", (long long)diff_pixels,
                  (long long)true_pixels);
    fprintf(stderr, "test_postprocess: grace_hopper: box error %g px, %lld of %lld mask pixels differ\n", worst_box,
            (long long)diff_pixels, (long long)true_pixels);

    /* The same instances drawn: a PNG of the original size with the top box outlined. */
    int64_t img_dims[3] = { 600, 512, 3 };
    struct d2_tensor image, vis, back;
    ck_assert(d2_tensor_alloc(&image, A, D2_DTYPE_U8, 3, img_dims, &err) == D2_OK);
    for (int64_t p = 0; p < 600 * 512 * 3; p++)
        ((uint8_t *)image.data)[p] = (uint8_t)(p / 3 % 512 / 4 + 40);
    struct d2_vis_options opts;
    d2_vis_options_default(&opts);
    opts.min_score = 0.0;
    ck_assert_msg(d2_visualize_instances(&image, D2_CHANNELS_BGR, &inst, d2_coco_class_names, D2_COCO_NUM_CLASSES,
                                         &opts, A, &vis, &err) == D2_OK, "%s", err.message);
    char path[] = "/tmp/d2_test_vis_XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    ck_assert_msg(d2_png_write_file(path, &vis, &err) == D2_OK, "%s", err.message);
    ck_assert_msg(d2_image_read_file(path, D2_CHANNELS_RGB, A, &back, &err) == D2_OK, "%s", err.message);
    unlink(path);
    ck_assert_int_eq(back.dims[0], 600);
    ck_assert_int_eq(back.dims[1], 512);
    ck_assert(memcmp(back.data, vis.data, vis.nbytes) == 0);
    ck_assert(memcmp(vis.data, image.data, image.nbytes) != 0);
    /* Instance 0 (palette colour 0, drawn last) outlines its box: the middle of its bottom edge. */
    const float *b0 = inst.boxes.data;
    int64_t x = (int64_t)((b0[0] + b0[2]) / 2), y = (int64_t)b0[3];
    y = y > 599 ? 599 : y;
    const uint8_t *px = (const uint8_t *)vis.data + (y * 512 + x) * 3;
    ck_assert_msg(px[0] == 0 && px[1] == 114 && px[2] == 189, "pixel (%lld, %lld) is %d %d %d", (long long)x,
                  (long long)y, px[0], px[1], px[2]);

    d2_tensor_release(&image, A);
    d2_tensor_release(&vis, A);
    d2_tensor_release(&back, A);
    d2_instances_release(&inst, A);
    struct d2_tensor *all[] = { &boxes, &scores, &classes, &probs, &want_boxes, &want_scores, &want_classes };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        d2_tensor_release(all[i], A);
}
END_TEST

START_TEST(rle_strings_match_pycocotools)
{
    struct d2_error err = { D2_OK, "" };
    for (int k = 0; k < 7; k++) {
        char name[32];
        snprintf(name, sizeof name, "rle_%d.npy", k);
        struct d2_tensor m = load(name);
        uint32_t *counts;
        size_t n;
        ck_assert(m.dtype == D2_DTYPE_BOOL && m.rank == 2);
        ck_assert(d2_mask_to_rle(m.data, m.dims[0], m.dims[1], A, &counts, &n, &err) == D2_OK);
        char *got = d2_rle_to_string(counts, n, A);
        char *want = read_line("rle_strings.txt", k);
        ck_assert_msg(strcmp(got, want) == 0, "mask %d: got '%s', pycocotools '%s'", k, got, want);
        uint8_t *round = decode_rle_string(got, m.dims[0], m.dims[1]);
        ck_assert(memcmp(round, m.data, m.nbytes) == 0);
        free(round);
        free(want);
        d2_free(A, got);
        d2_free(A, counts);
        d2_tensor_release(&m, A);
    }
}
END_TEST

START_TEST(keypoints_scaled_and_empty_boxes_dropped)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor boxes = load("kp_boxes.npy"), kps = load("kp_keypoints.npy");
    struct d2_tensor want_boxes = load("kp_expected_boxes.npy"), want_kps = load("kp_expected_keypoints.npy");
    int64_t n = boxes.dims[0], dims1[1] = { n };
    struct d2_tensor scores, classes;
    ck_assert(d2_tensor_alloc(&scores, A, D2_DTYPE_F32, 1, dims1, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&classes, A, D2_DTYPE_I32, 1, dims1, &err) == D2_OK);
    for (int64_t i = 0; i < n; i++) {
        ((float *)scores.data)[i] = 0.9f - 0.1f * (float)i;
        ((int32_t *)classes.data)[i] = (int32_t)i;
    }
    struct d2_raw_instances raw = { &boxes, &scores, &classes, NULL, &kps, NULL, 50, 40 };
    struct d2_instances inst;
    ck_assert_msg(d2_detector_postprocess(&raw, 125, 90, 0.5, A, &inst, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(inst.count, want_boxes.dims[0]);
    ck_assert_int_eq(inst.count, 4); /* the zero-width box is dropped */
    ck_assert(inst.masks.dtype == D2_DTYPE_UNDEFINED);
    ck_assert(memcmp(inst.boxes.data, want_boxes.data, want_boxes.nbytes) == 0);
    ck_assert(memcmp(inst.keypoints.data, want_kps.data, want_kps.nbytes) == 0);
    ck_assert_int_eq(((int64_t *)inst.classes.data)[1], 2);

    /* .npy directory writer */
    char dir[] = "/tmp/d2_test_pp_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char sub[128], path[200];
    snprintf(sub, sizeof sub, "%s/0", dir);
    ck_assert_msg(d2_instances_write_npy_dir(&inst, sub, &err) == D2_OK, "%s", err.message);
    struct d2_tensor back;
    snprintf(path, sizeof path, "%s/keypoints.npy", sub);
    ck_assert(d2_npy_read_file(path, A, &back, &err) == D2_OK);
    ck_assert(back.dtype == D2_DTYPE_F32 && back.rank == 3 && back.dims[1] == 17);
    ck_assert(memcmp(back.data, want_kps.data, want_kps.nbytes) == 0);
    d2_tensor_release(&back, A);
    snprintf(path, sizeof path, "%s/classes.npy", sub);
    ck_assert(d2_npy_read_file(path, A, &back, &err) == D2_OK);
    ck_assert(back.dtype == D2_DTYPE_I64 && back.dims[0] == 4);
    d2_tensor_release(&back, A);
    snprintf(path, sizeof path, "%s/masks.npy", sub);
    ck_assert(access(path, F_OK) != 0); /* no masks, no file */
    const char *files[] = { "boxes.npy", "scores.npy", "classes.npy", "keypoints.npy" };
    for (size_t f = 0; f < 4; f++) {
        snprintf(path, sizeof path, "%s/%s", sub, files[f]);
        unlink(path);
    }
    rmdir(sub);
    rmdir(dir);

    /* COCO JSON: keypoints shifted by -0.5, category ids mapped, bbox as x, y, w, h. */
    const struct d2_instances *images[] = { &inst };
    int64_t ids[] = { 42 };
    char *json = d2_coco_results_json(images, ids, 1, d2_coco_category_ids, D2_COCO_NUM_CLASSES, A, &err);
    ck_assert_msg(json != NULL, "%s", err.message);
    ck_assert(strstr(json, "\"image_id\": 42, \"category_id\": 3, \"bbox\": [") != NULL); /* class 2 -> 3 */
    ck_assert_msg(strstr(json, "\"keypoints\": [") != NULL, "%s", json);
    ck_assert(strstr(json, "segmentation") == NULL);
    d2_free(A, json);

    char *table = d2_instances_format_table(&inst, d2_coco_class_names, D2_COCO_NUM_CLASSES, A);
    ck_assert(table != NULL);
    ck_assert_msg(strstr(table, "person") && strstr(table, "car") && strstr(table, "0.9000"), "%s", table);
    d2_free(A, table);

    d2_instances_release(&inst, A);
    struct d2_tensor *all[] = { &boxes, &kps, &want_boxes, &want_kps, &scores, &classes };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        d2_tensor_release(all[i], A);
}
END_TEST

/* Keypoints decoded from heatmaps inside detector_postprocess equal the NumPy reference of the
 * heatmaps_to_keypoints op test (scale 1: output size = input size). */
START_TEST(keypoints_from_heatmaps)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor maps, boxes, want;
    ck_assert(d2_npy_read_file("tests/ops/heatmaps_to_keypoints/basic/in0.npy", A, &maps, &err) == D2_OK);
    ck_assert(d2_npy_read_file("tests/ops/heatmaps_to_keypoints/basic/in1.npy", A, &boxes, &err) == D2_OK);
    ck_assert(d2_npy_read_file("tests/ops/heatmaps_to_keypoints/basic/out0.npy", A, &want, &err) == D2_OK);
    int64_t n = boxes.dims[0];
    struct d2_tensor scores, classes;
    ck_assert(d2_tensor_alloc(&scores, A, D2_DTYPE_F32, 1, &n, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&classes, A, D2_DTYPE_I64, 1, &n, &err) == D2_OK);
    struct d2_raw_instances raw = { &boxes, &scores, &classes, NULL, NULL, &maps, 70, 50 };
    struct d2_instances inst;
    ck_assert_msg(d2_detector_postprocess(&raw, 70, 50, 0.5, A, &inst, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(inst.count, n);
    ck_assert_int_eq(inst.keypoints.dims[1], want.dims[1]);
    for (int64_t i = 0; i < d2_tensor_numel(&want); i++)
        ck_assert_float_eq_tol(((float *)inst.keypoints.data)[i], ((float *)want.data)[i], 1e-5);
    d2_instances_release(&inst, A);
    struct d2_tensor *all[] = { &maps, &boxes, &want, &scores, &classes };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        d2_tensor_release(all[i], A);
}
END_TEST

START_TEST(coco_json_segmentation_and_numbers)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor m = load("rle_2.npy"); /* 7 x 9 */
    struct d2_instances inst;
    memset(&inst, 0, sizeof inst);
    int64_t d1[1] = { 1 }, d2[2] = { 1, 4 }, d3[3] = { 1, 7, 9 };
    inst.count = 1;
    inst.image_height = 7;
    inst.image_width = 9;
    ck_assert(d2_tensor_alloc(&inst.boxes, A, D2_DTYPE_F32, 2, d2, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&inst.scores, A, D2_DTYPE_F32, 1, d1, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&inst.classes, A, D2_DTYPE_I64, 1, d1, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&inst.masks, A, D2_DTYPE_BOOL, 3, d3, &err) == D2_OK);
    memcpy(inst.masks.data, m.data, m.nbytes);
    float box[4] = { 1.5f, 2.0f, 8.25f, 6.1f };
    memcpy(inst.boxes.data, box, sizeof box);
    ((float *)inst.scores.data)[0] = 0.1f;
    ((int64_t *)inst.classes.data)[0] = 79;
    const struct d2_instances *images[] = { &inst };
    char *json = d2_coco_results_json(images, NULL, 1, NULL, 0, A, &err);
    ck_assert(json != NULL);
    char *rle = read_line("rle_strings.txt", 2), want[300];
    snprintf(want, sizeof want, "\"segmentation\": {\"size\": [7, 9], \"counts\": \"%s\"}", rle);
    ck_assert_msg(strstr(json, want) != NULL, "%s", json);
    /* float32 values printed as the shortest double that reads back (Python's repr): */
    ck_assert_msg(strstr(json, "\"bbox\": [1.5, 2, 6.75, 4.099999904632568], \"score\": 0.10000000149011612"),
                  "%s", json);
    ck_assert(strstr(json, "\"category_id\": 79") != NULL);
    d2_free(A, json);
    int64_t bad_ids[1] = { 1 };
    ck_assert(d2_coco_results_json(images, NULL, 1, bad_ids, 1, A, &err) == NULL);
    ck_assert_int_eq(err.code, D2_ERR_INVALID_ARG);
    free(rle);
    d2_tensor_release(&m, A);
    d2_instances_release(&inst, A);
}
END_TEST

START_TEST(rejects_inconsistent_inputs)
{
    struct d2_error err = { D2_OK, "" };
    int64_t d_boxes[2] = { 3, 4 }, d_scores[1] = { 2 }, d_masks[4] = { 3, 2, 28, 28 };
    struct d2_tensor boxes, scores, classes, masks;
    ck_assert(d2_tensor_alloc(&boxes, A, D2_DTYPE_F32, 2, d_boxes, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&scores, A, D2_DTYPE_F32, 1, d_scores, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&classes, A, D2_DTYPE_I64, 1, d_scores, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&masks, A, D2_DTYPE_F32, 4, d_masks, &err) == D2_OK);
    struct d2_raw_instances raw = { &boxes, &scores, &classes, NULL, NULL, NULL, 10, 10 };
    struct d2_instances inst;
    ck_assert_int_eq(d2_detector_postprocess(&raw, 20, 20, 0.5, A, &inst, &err), D2_ERR_SHAPE);
    ck_assert(strstr(err.message, "scores") != NULL);
    d2_error_clear(&err);
    d2_tensor_release(&scores, A);
    d2_tensor_release(&classes, A);
    ck_assert(d2_tensor_alloc(&scores, A, D2_DTYPE_F32, 1, d_boxes, &err) == D2_OK);
    ck_assert(d2_tensor_alloc(&classes, A, D2_DTYPE_I64, 1, d_boxes, &err) == D2_OK);
    raw.mask_probs = &masks; /* [3, 2, 28, 28]: two channels */
    ck_assert_int_eq(d2_detector_postprocess(&raw, 20, 20, 0.5, A, &inst, &err), D2_ERR_SHAPE);
    d2_error_clear(&err);
    raw.mask_probs = NULL;
    ck_assert_int_eq(d2_detector_postprocess(&raw, 0, 20, 0.5, A, &inst, &err), D2_ERR_INVALID_ARG);
    d2_error_clear(&err);
    /* all-zero boxes: everything is dropped, empty outputs */
    ck_assert(d2_detector_postprocess(&raw, 20, 20, 0.5, A, &inst, &err) == D2_OK);
    ck_assert_int_eq(inst.count, 0);
    ck_assert_int_eq(inst.boxes.dims[0], 0);
    d2_instances_release(&inst, A);
    d2_tensor_release(&boxes, A);
    d2_tensor_release(&scores, A);
    d2_tensor_release(&classes, A);
    d2_tensor_release(&masks, A);
}
END_TEST

/* Shape functions of the post-processing ops: partial shapes and precise errors. */
static enum d2_status infer_text(const char *text, struct d2_graph **out, struct d2_error *err)
{
    struct d2_graph *g = d2_parse_graph(text, strlen(text), A, err);
    ck_assert_msg(g != NULL, "%s", err->message);
    enum d2_status st = d2_infer_graph(g, err);
    *out = g;
    return st;
}

START_TEST(postproc_shape_functions)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g;
    /* size input unknown until run time: H and W unknown, n known */
    ck_assert(infer_text("graph main(%m: f32[5,1,28,28], %b: f32[5,4], %s: i64[2]) {\n"
                         "  %y = paste_masks(%m, %b, %s)\n  return %y\n}\n", &g, &err) == D2_OK);
    const struct d2_type *t = &g->values[g->outputs[0]].type;
    ck_assert(t->dtype == D2_DTYPE_BOOL && t->rank == 3 && t->dims[0] == 5 && t->dims[1] == D2_DIM_UNKNOWN);
    d2_graph_free(g);
    ck_assert(infer_text("graph main(%m: f32[5,28,28], %b: f32[5,4]) {\n"
                         "  %y = paste_masks(%m, %b) {height=7, width=9, threshold=-1.0}\n  return %y\n}\n", &g,
                         &err) == D2_OK);
    t = &g->values[g->outputs[0]].type;
    ck_assert(t->dtype == D2_DTYPE_U8 && t->dims[1] == 7 && t->dims[2] == 9);
    d2_graph_free(g);
    ck_assert(infer_text("graph main(%m: f32[5,2,28,28], %b: f32[5,4]) {\n"
                         "  %y = paste_masks(%m, %b) {height=7, width=9}\n  return %y\n}\n", &g, &err) != D2_OK);
    ck_assert_msg(strstr(err.message, "c = 1") != NULL, "%s", err.message);
    d2_graph_free(g);
    d2_error_clear(&err);
    ck_assert(infer_text("graph main(%m: f32[5,28,28], %b: f32[4,4]) {\n"
                         "  %y = paste_masks(%m, %b) {height=7, width=9}\n  return %y\n}\n", &g, &err) != D2_OK);
    ck_assert_msg(strstr(err.message, "4 boxes for 5 maps") != NULL, "%s", err.message);
    d2_graph_free(g);
    d2_error_clear(&err);
    ck_assert(infer_text("graph main(%h: f32[3,17,56,56], %b: f32[3,4]) {\n"
                         "  %y = heatmaps_to_keypoints(%h, %b)\n  return %y\n}\n", &g, &err) == D2_OK);
    t = &g->values[g->outputs[0]].type;
    ck_assert(t->rank == 3 && t->dims[0] == 3 && t->dims[1] == 17 && t->dims[2] == 3);
    d2_graph_free(g);
    ck_assert(infer_text("graph main(%x: f32[1,2,5,7]) {\n"
                         "  %y = upsample(%x) {mode=linear, scales=[2.5, 1.5]}\n  return %y\n}\n", &g, &err) == D2_OK);
    t = &g->values[g->outputs[0]].type;
    ck_assert(t->dims[2] == 12 && t->dims[3] == 10);
    d2_graph_free(g);
    ck_assert(infer_text("graph main(%x: f32[1,2,5,7]) {\n"
                         "  %y = upsample(%x) {mode=cubic}\n  return %y\n}\n", &g, &err) != D2_OK);
    ck_assert_msg(strstr(err.message, "neither a sizes input nor scales") != NULL, "%s", err.message);
    d2_graph_free(g);
    d2_error_clear(&err);
    ck_assert(infer_text("graph main(%x: i64[1,2,5,7], %s: i64[2]) {\n"
                         "  %y = upsample(%x, %s) {mode=linear}\n  return %y\n}\n", &g, &err) != D2_OK);
    ck_assert_msg(strstr(err.message, "need a float X") != NULL, "%s", err.message);
    d2_graph_free(g);
}
END_TEST

int main(void)
{
    A = d2_allocator_default();
    Suite *s = suite_create("postprocess");
    TCase *tc = tcase_create("postprocess");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mask_rcnn_eager_matches_default_predictor);
    tcase_add_test(tc, rle_strings_match_pycocotools);
    tcase_add_test(tc, keypoints_scaled_and_empty_boxes_dropped);
    tcase_add_test(tc, keypoints_from_heatmaps);
    tcase_add_test(tc, coco_json_segmentation_and_numbers);
    tcase_add_test(tc, rejects_inconsistent_inputs);
    tcase_add_test(tc, postproc_shape_functions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
