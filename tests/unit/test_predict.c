/* tests/unit/test_predict.c: detector metadata (runtime/model_meta.h) and the predictor's
 * input building and output reading (runtime/predict.h) on small hand-made graphs and
 * tensors. The end-to-end numbers against DefaultPredictor are in tests/e2e_predictor.sh;
 * here each rule is pinned by a case that fails when the rule breaks:
 *   - auto-detection of the export method and output roles from a graph's signature
 *     (detectron2 tracing, torchvision, Caffe2, unknown), and explicit metadata winning;
 *   - metadata written by d2_model_meta_apply survives print -> parse; bad values are
 *     refused with the key in the message;
 *   - Caffe2 inputs: batch padded to size_divisibility with the pixel mean (default) or 0,
 *     im_info rows (h, w, 1); tracing input [3,h,w] (or [1,3,h,w]), fixed-shape mismatch;
 *     torchvision input = original / 255;
 *   - Caffe2 outputs: re-sorted by score, classes f32 -> i64, each detection's own class
 *     channel of the masks, batch_splits selecting image b's rows;
 *   - torchvision outputs: label_offset, mask threshold >= 0.5;
 *   - score filtering keeps score > T. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/model_meta.h"
#include "runtime/predict.h"

static const struct d2_allocator *A;

static struct d2_graph *parse(const char *text)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), A, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "%s", err.message); /* output ranks */
    return g;
}

static struct d2_model_meta resolve(const struct d2_graph *g)
{
    struct d2_model_meta m;
    struct d2_error err = { 0 };
    ck_assert_msg(d2_model_meta_resolve(g, &m, &err) == D2_OK, "%s", err.message);
    return m;
}

static void assert_roles(const struct d2_model_meta *m, const char *expected)
{
    char buf[256] = "";
    for (uint32_t k = 0; k < m->num_outputs; k++) {
        strcat(buf, k ? "," : "");
        strcat(buf, d2_output_role_name(m->outputs[k]));
    }
    ck_assert_str_eq(buf, expected);
}

static const char tracing_text[] = "graph main(%x: f32[3,?h,?w]) {\n  %a = relu(%x)\n"
                                   "  return %a, %a, %a, %a, %a\n}\n";

START_TEST(detects_export_methods)
{
    struct d2_graph *g = parse(tracing_text);
    struct d2_model_meta m = resolve(g);
    ck_assert_int_eq(m.export_method, D2_EXPORT_TRACING);
    ck_assert_int_eq(m.input_format, D2_CHANNELS_BGR);
    ck_assert_int_eq(m.min_size, 800);
    ck_assert_int_eq(m.max_size, 1333);
    ck_assert_str_eq(m.class_names, "coco");
    ck_assert_str_eq(m.meta_architecture, "RetinaNet"); /* no RoIAlign in the graph */
    assert_roles(&m, "boxes,classes,masks,scores,image_size");
    d2_graph_free(g);

    g = parse("graph main(%image: f32[3,?h,?w]) {\n  %boxes = relu(%image)\n  %labels = neg(%image)\n"
              "  %scores = abs(%image)\n  %masks = exp(%image)\n  return %boxes, %labels, %scores, %masks\n}\n");
    m = resolve(g);
    ck_assert_int_eq(m.export_method, D2_EXPORT_TORCHVISION);
    ck_assert_int_eq(m.input_format, D2_CHANNELS_RGB);
    ck_assert_int_eq(m.min_size, 0);
    ck_assert_int_eq(m.label_offset, 1);
    ck_assert_ptr_null(m.class_names);
    assert_roles(&m, "boxes,classes,scores,image_masks");
    d2_graph_free(g);

    g = parse("graph main(%data: f32[?n,3,?h,?w], %im_info: f32[?n,3]) {\n  %score_nms = relu(%im_info)\n"
              "  %bbox_nms = neg(%im_info)\n  %class_nms = abs(%im_info)\n  %batch_splits_nms = exp(%im_info)\n"
              "  %other = relu(%im_info)\n  return %bbox_nms, %score_nms, %class_nms, %other, %batch_splits_nms\n}\n");
    m = resolve(g);
    ck_assert_int_eq(m.export_method, D2_EXPORT_CAFFE2_TRACING);
    ck_assert_int_eq(m.size_divisibility, 32);
    assert_roles(&m, "boxes,scores,classes,-,batch_splits");
    ck_assert(d2_predict_supports_batch(g, &m));
    d2_graph_free(g);

    /* scripting: a dict, outputs named after the Instances fields, no image_size */
    g = parse("meta \"export_method\" = \"scripting\"\n"
              "graph main(%\"[0].image\": f32[3,?h,?w]) {\n  %\"[0].pred_boxes\" = relu(%\"[0].image\")\n"
              "  %\"[0].scores\" = neg(%\"[0].image\")\n  %\"[0].pred_classes\" = abs(%\"[0].image\")\n"
              "  %\"[0].pred_masks\" = exp(%\"[0].image\")\n"
              "  return %\"[0].pred_boxes\", %\"[0].scores\", %\"[0].pred_classes\", %\"[0].pred_masks\"\n}\n");
    m = resolve(g);
    ck_assert_int_eq(m.export_method, D2_EXPORT_SCRIPTING);
    assert_roles(&m, "boxes,scores,classes,masks");
    d2_graph_free(g);

    /* the caffe2_tracing ONNX export: unnamed [N,3,H,W] + [N,3] inputs, AliasWithName
     * output names, unnamed outputs by position */
    g = parse("graph main(%x.1: f32[1,3,64,64], %x.3: f32[1,3]) {\n  %roi_bbox_nms = relu(%x.3)\n"
              "  %a = neg(%x.3)\n  %b = abs(%x.3)\n  return %roi_bbox_nms, %a, %b\n}\n");
    m = resolve(g);
    ck_assert_int_eq(m.export_method, D2_EXPORT_CAFFE2_TRACING);
    assert_roles(&m, "boxes,scores,classes");
    d2_graph_free(g);

    g = parse("graph main(%a: f32[2], %b: f32[2]) {\n  %c = add(%a, %b)\n  return %c\n}\n");
    m = resolve(g);
    ck_assert_int_eq(m.export_method, D2_EXPORT_UNKNOWN);
    ck_assert(!d2_predict_supports_batch(g, &m));
    d2_graph_free(g);
}
END_TEST

START_TEST(metadata_round_trip_and_errors)
{
    struct d2_error err = { 0 };
    struct d2_model_meta_overrides o;
    struct d2_graph *g = parse(tracing_text), *back;
    struct d2_model_meta m;
    struct d2_print_options popts = { 0 };
    char **names;
    size_t count;
    d2_model_meta_overrides_init(&o);
    o.min_size = 320;
    o.max_size = 512;
    o.input_format = "RGB";
    o.class_names = "cat\ndog\n";
    o.pixel_mean = "1.5,2,3";
    ck_assert_msg(d2_model_meta_apply(g, &o, &err) == D2_OK, "%s", err.message);
    char *text = d2_print_graph(g, &popts, &err);
    ck_assert_ptr_nonnull(text);
    back = parse(text);
    d2_free(A, text);
    m = resolve(back);
    ck_assert_int_eq(m.min_size, 320);
    ck_assert_int_eq(m.max_size, 512);
    ck_assert_int_eq(m.input_format, D2_CHANNELS_RGB);
    ck_assert(m.has_pixel_mean && !m.has_pixel_std);
    ck_assert(m.pixel_mean[0] == 1.5f && m.pixel_mean[2] == 3.0f);
    assert_roles(&m, "boxes,classes,masks,scores,image_size");
    ck_assert_int_eq(d2_model_meta_class_names(&m, A, &names, &count, &err), D2_OK);
    ck_assert_uint_eq(count, 2); /* the trailing newline adds no empty name */
    ck_assert_str_eq(names[0], "cat");
    ck_assert_str_eq(names[1], "dog");
    d2_free(A, names);
    d2_graph_free(back);

    /* explicit metadata beats detection: this signature would be tracing */
    ck_assert_int_eq(d2_graph_set_metadata(g, "export_method", "torchvision", &err), D2_OK);
    ck_assert_int_eq(d2_graph_set_metadata(g, "outputs", "boxes,classes,-,scores,-", &err), D2_OK);
    m = resolve(g);
    ck_assert_int_eq(m.export_method, D2_EXPORT_TORCHVISION);
    assert_roles(&m, "boxes,classes,-,scores,-");

    static const struct { const char *key, *value, *needle; } bad[] = {
        { "input_format", "BRG", "input_format = \"BRG\"" },
        { "pixel_std", "1,0,1", "pixel_std" },
        { "pixel_mean", "1,2", "pixel_mean" },
        { "min_size", "-3", "min_size" },
        { "outputs", "boxes,scores", "names 2 outputs, the model has 5" },
        { "outputs", "boxes,bogus,x,y,z", "outputs = " },
        { "export_method", "keras", "export_method" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct d2_graph *h = parse(tracing_text);
        d2_error_clear(&err);
        ck_assert_int_eq(d2_graph_set_metadata(h, bad[i].key, bad[i].value, &err), D2_OK);
        ck_assert_int_eq(d2_model_meta_resolve(h, &m, &err), D2_ERR_INVALID_ARG);
        ck_assert_msg(strstr(err.message, bad[i].needle) != NULL, "%s", err.message);
        d2_graph_free(h);
    }
    d2_model_meta_overrides_init(&o);
    o.input_format = "YUV";
    d2_error_clear(&err);
    ck_assert_int_eq(d2_model_meta_apply(g, &o, &err), D2_ERR_INVALID_ARG);
    d2_graph_free(g);
}
END_TEST

/* A u8 [h, w, 3] image whose pixel (y, x, c) is 10*y + x + 100*c (< 256 for small sizes). */
static struct d2_tensor ramp(int64_t h, int64_t w)
{
    struct d2_tensor t;
    struct d2_error err = { 0 };
    int64_t dims[3] = { h, w, 3 };
    ck_assert_int_eq(d2_tensor_alloc(&t, A, D2_DTYPE_U8, 3, dims, &err), D2_OK);
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                ((uint8_t *)t.data)[(y * w + x) * 3 + c] = (uint8_t)(10 * y + x + 50 * c);
    return t;
}

static struct d2_predict_image image_of(int64_t h0, int64_t w0, int64_t h, int64_t w)
{
    struct d2_predict_image im;
    im.original = ramp(h0, w0);
    im.resized = ramp(h, w);
    return im;
}

START_TEST(caffe2_inputs_pad_and_im_info)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = parse("graph main(%data: f32[?n,3,?h,?w], %im_info: f32[?n,3]) {\n"
                               "  %bbox_nms = relu(%im_info)\n  %score_nms = relu(%im_info)\n"
                               "  %class_nms = relu(%im_info)\n  return %bbox_nms, %score_nms, %class_nms\n}\n");
    struct d2_model_meta m = resolve(g);
    struct d2_predict_image ims[2] = { image_of(4, 6, 2, 3), image_of(6, 4, 3, 2) };
    struct d2_tensor in[2];
    m.size_divisibility = 4;
    for (int pad = 0; pad < 2; pad++) {
        ck_assert_msg(d2_predict_make_inputs(g, &m, ims, 2, pad ? D2_PAD_ZERO : D2_PAD_MEAN, A, in, &err) == D2_OK,
                      "%s", err.message);
        ck_assert_int_eq(in[0].rank, 4);
        ck_assert_int_eq(in[0].dims[0], 2);
        ck_assert_int_eq(in[0].dims[2], 4); /* max(2, 3) = 3 -> 4 */
        ck_assert_int_eq(in[0].dims[3], 4);
        const float *d = in[0].data, *info = in[1].data;
        static const float mean_bgr[3] = { 103.530f, 116.280f, 123.675f };
        for (int b = 0; b < 2; b++) {
            int64_t h = ims[b].resized.dims[0], w = ims[b].resized.dims[1];
            ck_assert(info[b * 3 + 0] == (float)h && info[b * 3 + 1] == (float)w && info[b * 3 + 2] == 1.0f);
            for (int c = 0; c < 3; c++)
                for (int64_t y = 0; y < 4; y++)
                    for (int64_t x = 0; x < 4; x++) {
                        float v = d[((b * 3 + c) * 4 + y) * 4 + x];
                        float want = y < h && x < w ? (float)(10 * y + x + 50 * c) : pad ? 0.0f : mean_bgr[c];
                        ck_assert_msg(v == want, "pad %d image %d c %d (%lld,%lld): %g, want %g", pad, b, c,
                                      (long long)y, (long long)x, v, want);
                    }
        }
        d2_tensor_release(&in[0], A);
        d2_tensor_release(&in[1], A);
    }
    for (int b = 0; b < 2; b++)
        d2_predict_image_release(&ims[b], A);
    d2_graph_free(g);
}
END_TEST

START_TEST(single_image_inputs)
{
    struct d2_error err = { 0 };
    struct d2_predict_image im = image_of(4, 5, 2, 3);
    struct d2_tensor in;
    struct d2_graph *g = parse(tracing_text);
    struct d2_model_meta m = resolve(g);
    ck_assert_int_eq(d2_predict_make_inputs(g, &m, &im, 1, D2_PAD_MEAN, A, &in, &err), D2_OK);
    ck_assert(in.rank == 3 && in.dims[0] == 3 && in.dims[1] == 2 && in.dims[2] == 3);
    ck_assert(((float *)in.data)[1 * 6 + 1 * 3 + 2] == 10 + 2 + 50); /* raw 0..255, CHW */
    d2_tensor_release(&in, A);
    ck_assert_int_eq(d2_predict_make_inputs(g, &m, &im, 2, D2_PAD_MEAN, A, &in, &err), D2_ERR_INVALID_ARG);
    d2_graph_free(g);

    /* rank-4 input: [1, 3, h, w]; a fixed size that the image does not have is refused */
    g = parse("graph main(%x: f32[1,3,2,4]) {\n  %a = relu(%x)\n  return %a, %a, %a, %a\n}\n");
    m = resolve(g);
    d2_error_clear(&err);
    ck_assert_int_eq(d2_predict_make_inputs(g, &m, &im, 1, D2_PAD_MEAN, A, &in, &err), D2_ERR_SHAPE);
    ck_assert_msg(strstr(err.message, "fixed shape [3,2,4") != NULL, "%s", err.message);
    d2_graph_free(g);
    g = parse("graph main(%x: f32[1,3,2,3]) {\n  %a = relu(%x)\n  return %a, %a, %a, %a\n}\n");
    m = resolve(g);
    ck_assert_int_eq(d2_predict_make_inputs(g, &m, &im, 1, D2_PAD_MEAN, A, &in, &err), D2_OK);
    ck_assert(in.rank == 4 && in.dims[0] == 1 && in.dims[1] == 3 && in.dims[3] == 3);
    d2_tensor_release(&in, A);
    d2_graph_free(g);

    /* torchvision: the original image (not the resized one) / 255 */
    g = parse("graph main(%image: f32[3,?h,?w]) {\n  %boxes = relu(%image)\n  %labels = relu(%image)\n"
              "  %scores = relu(%image)\n  return %boxes, %labels, %scores\n}\n");
    m = resolve(g);
    ck_assert_int_eq(d2_predict_make_inputs(g, &m, &im, 1, D2_PAD_MEAN, A, &in, &err), D2_OK);
    ck_assert(in.rank == 3 && in.dims[1] == 4 && in.dims[2] == 5);
    for (int64_t i = 0; i < d2_tensor_numel(&in); i++) {
        int64_t c = i / 20, y = (i / 5) % 4, x = i % 5;
        ck_assert(((float *)in.data)[i] == (float)(10 * y + x + 50 * c) / 255.0f);
    }
    d2_tensor_release(&in, A);
    d2_graph_free(g);
    d2_predict_image_release(&im, A);
}
END_TEST

static struct d2_tensor tensor(enum d2_dtype dt, int rank, const int64_t *dims, const double *values)
{
    struct d2_tensor t;
    struct d2_error err = { 0 };
    ck_assert_int_eq(d2_tensor_alloc(&t, A, dt, rank, dims, &err), D2_OK);
    for (int64_t i = 0; values && i < d2_tensor_numel(&t); i++)
        d2_store_f64(t.data, dt, (size_t)i, values[i]);
    return t;
}

START_TEST(caffe2_outputs_sorted_with_class_masks)
{
    struct d2_error err = { 0 };
    struct d2_model_meta m;
    memset(&m, 0, sizeof m);
    m.export_method = D2_EXPORT_CAFFE2_TRACING;
    m.num_outputs = 5;
    m.outputs[0] = D2_ROLE_BOXES;
    m.outputs[1] = D2_ROLE_SCORES;
    m.outputs[2] = D2_ROLE_CLASSES;
    m.outputs[3] = D2_ROLE_CLASS_MASKS;
    m.outputs[4] = D2_ROLE_BATCH_SPLITS;
    /* 4 detections (class-grouped, as BoxWithNMSLimit returns them): image 0 has row 0,
     * image 1 rows 1..3. Boxes in a 10 x 10 input, the original image is 20 x 20. */
    const double boxes[] = { 0, 0, 4, 4, 1, 1, 5, 5, 2, 2, 8, 8, 5, 5, 9, 9 };
    const double scores[] = { 0.3, 0.2, 0.9, 0.5 };
    const double classes[] = { 1, 0, 1, 1 };
    const double splits[] = { 1, 3 };
    struct d2_tensor out[5];
    out[0] = tensor(D2_DTYPE_F32, 2, (const int64_t[]){ 4, 4 }, boxes);
    out[1] = tensor(D2_DTYPE_F32, 1, (const int64_t[]){ 4 }, scores);
    out[2] = tensor(D2_DTYPE_F32, 1, (const int64_t[]){ 4 }, classes);
    out[3] = tensor(D2_DTYPE_F32, 4, (const int64_t[]){ 4, 2, 2, 2 }, NULL);
    out[4] = tensor(D2_DTYPE_F32, 1, (const int64_t[]){ 2 }, splits);
    /* channel of the detection's own class: 1 (pasted mask true), the other: 0 */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            ((float *)out[3].data)[(i * 2 + (int)classes[i]) * 4 + j] = 1.0f;
    struct d2_predict_image im = image_of(20, 20, 10, 10);
    struct d2_instances inst;
    ck_assert_msg(d2_predict_instances(&m, out, 5, &im, 1, 2, A, &inst, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(inst.count, 3);
    const float *s = inst.scores.data, *b = inst.boxes.data;
    const int64_t *c = inst.classes.data;
    ck_assert(s[0] == 0.9f && s[1] == 0.5f && s[2] == 0.2f); /* rows 2, 3, 1 */
    ck_assert(c[0] == 1 && c[1] == 1 && c[2] == 0);
    ck_assert(b[0] == 4.0f && b[2] == 16.0f && b[4] == 10.0f && b[8] == 2.0f); /* scaled by 2 */
    ck_assert_int_eq(inst.masks.dtype, D2_DTYPE_BOOL);
    /* the centre of each box is inside its pasted mask: the right channel was taken */
    for (int i = 0; i < 3; i++) {
        int64_t cx = (int64_t)((b[i * 4] + b[i * 4 + 2]) / 2), cy = (int64_t)((b[i * 4 + 1] + b[i * 4 + 3]) / 2);
        ck_assert_msg(((uint8_t *)inst.masks.data)[(i * 20 + cy) * 20 + cx], "mask %d empty at its centre", i);
    }
    d2_instances_release(&inst, A);
    ck_assert_int_eq(d2_predict_instances(&m, out, 5, &im, 0, 2, A, &inst, &err), D2_OK);
    ck_assert_int_eq(inst.count, 1);
    ck_assert(((float *)inst.scores.data)[0] == 0.3f);
    d2_instances_release(&inst, A);
    /* splits that do not add up are refused */
    ((float *)out[4].data)[1] = 4;
    ck_assert_int_eq(d2_predict_instances(&m, out, 5, &im, 1, 2, A, &inst, &err), D2_ERR_SHAPE);
    for (int k = 0; k < 5; k++)
        d2_tensor_release(&out[k], A);
    d2_predict_image_release(&im, A);
}
END_TEST

START_TEST(torchvision_outputs_and_score_filter)
{
    struct d2_error err = { 0 };
    struct d2_model_meta m;
    memset(&m, 0, sizeof m);
    m.export_method = D2_EXPORT_TORCHVISION;
    m.label_offset = 1;
    m.num_outputs = 4;
    m.outputs[0] = D2_ROLE_BOXES;
    m.outputs[1] = D2_ROLE_CLASSES;
    m.outputs[2] = D2_ROLE_SCORES;
    m.outputs[3] = D2_ROLE_IMAGE_MASKS;
    const double boxes[] = { 0, 0, 2, 2, 1, 1, 3, 2 };
    const double labels[] = { 1, 3 };
    const double scores[] = { 0.9, 0.4 };
    double masks[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        masks[i] = i % 3 == 0 ? 0.5 : i % 3 == 1 ? 0.49999 : 0.7;
    struct d2_tensor out[4];
    out[0] = tensor(D2_DTYPE_F32, 2, (const int64_t[]){ 2, 4 }, boxes);
    out[1] = tensor(D2_DTYPE_I64, 1, (const int64_t[]){ 2 }, labels);
    out[2] = tensor(D2_DTYPE_F32, 1, (const int64_t[]){ 2 }, scores);
    out[3] = tensor(D2_DTYPE_F32, 4, (const int64_t[]){ 2, 1, 3, 4 }, masks);
    struct d2_predict_image im = image_of(3, 4, 3, 4);
    struct d2_instances inst;
    ck_assert_msg(d2_predict_instances(&m, out, 4, &im, 0, 1, A, &inst, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(inst.count, 2);
    ck_assert(((int64_t *)inst.classes.data)[0] == 0 && ((int64_t *)inst.classes.data)[1] == 2);
    ck_assert(((float *)inst.boxes.data)[6] == 3.0f); /* original frame: unscaled */
    for (int i = 0; i < 24; i++)
        ck_assert_int_eq(((uint8_t *)inst.masks.data)[i], i % 3 != 1);
    ck_assert_int_eq(d2_instances_keep_scores_above(&inst, 0.4, A, &err), D2_OK); /* 0.4 itself goes */
    ck_assert_int_eq(inst.count, 1);
    ck_assert(((float *)inst.scores.data)[0] == 0.9f);
    ck_assert_int_eq(inst.masks.dims[0], 1);
    d2_instances_release(&inst, A);
    /* masks of the wrong size are refused */
    d2_predict_image_release(&im, A);
    im = image_of(4, 4, 4, 4);
    ck_assert_int_eq(d2_predict_instances(&m, out, 4, &im, 0, 1, A, &inst, &err), D2_ERR_SHAPE);
    for (int k = 0; k < 4; k++)
        d2_tensor_release(&out[k], A);
    d2_predict_image_release(&im, A);
}
END_TEST

int main(void)
{
    A = d2_allocator_default();
    Suite *s = suite_create("predict");
    TCase *tc = tcase_create("predict");
    tcase_add_test(tc, detects_export_methods);
    tcase_add_test(tc, metadata_round_trip_and_errors);
    tcase_add_test(tc, caffe2_inputs_pad_and_im_info);
    tcase_add_test(tc, single_image_inputs);
    tcase_add_test(tc, caffe2_outputs_sorted_with_class_masks);
    tcase_add_test(tc, torchvision_outputs_and_score_filter);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
