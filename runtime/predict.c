/* runtime/predict.c: the predictor path (contract in predict.h): model inputs from
 * decoded images, and instances from model outputs, per export method. */
#include "predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* detectron2's default cfg.MODEL.PIXEL_MEAN (BGR), the padding value for Caffe2 inputs
 * when the metadata has no pixel_mean (the graph holds its own copy). */
static const float default_pixel_mean_bgr[3] = { 103.530f, 116.280f, 123.675f };

enum d2_status d2_predict_load_image(const char *path, const struct d2_model_meta *meta,
                                     const struct d2_allocator *alloc, struct d2_predict_image *image,
                                     struct d2_error *err)
{
    enum d2_status st;
    memset(image, 0, sizeof *image);
    st = d2_image_read_file(path, meta->input_format, alloc, &image->original, err);
    if (st == D2_OK) {
        if (meta->min_size > 0)
            st = d2_image_resize_shortest_edge(&image->original, meta->min_size, meta->max_size, alloc,
                                               &image->resized, err);
        else
            st = d2_tensor_copy(&image->resized, &image->original, alloc, err);
    }
    if (st != D2_OK) {
        d2_predict_image_release(image, alloc);
        d2_error_prefix(err, "image '%s': ", path);
    }
    return st;
}

void d2_predict_image_release(struct d2_predict_image *image, const struct d2_allocator *alloc)
{
    d2_tensor_release(&image->original, alloc);
    d2_tensor_release(&image->resized, alloc);
}

static int find_role(const struct d2_model_meta *meta, enum d2_output_role role)
{
    for (uint32_t k = 0; k < meta->num_outputs; k++)
        if (meta->outputs[k] == role)
            return (int)k;
    return -1;
}

bool d2_predict_supports_batch(const struct d2_graph *g, const struct d2_model_meta *meta)
{
    /* Caffe2 graphs whose detections come with per-image counts; the tracing exports
     * take one image (batch fixed at trace time). */
    (void)g;
    return meta->export_method == D2_EXPORT_CAFFE2_TRACING && find_role(meta, D2_ROLE_BATCH_SPLITS) >= 0;
}

/* The graph input's declared rank, or -1. */
static int input_rank(const struct d2_graph *g, uint32_t i)
{
    return g->values[g->inputs[i]].type.rank;
}

/* Fixed input dims must equal what the image became. */
static enum d2_status check_fixed_dims(const struct d2_graph *g, uint32_t i, const int64_t *dims, int rank,
                                       struct d2_error *err)
{
    const struct d2_type *t = &g->values[g->inputs[i]].type;
    int skip = rank == 4; /* [1, 3, h, w]: report the image dims */
    if (t->rank != rank)
        return D2_OK;
    for (int d = 0; d < rank; d++)
        if (t->dims[d] >= 0 && t->dims[d] != dims[d])
            return d2_errorf(err, D2_ERR_SHAPE,
                             "input '%s' has the fixed shape [%lld,%lld,%lld] but this image becomes "
                             "[%lld,%lld,%lld] (export with dynamic axes, or set --min-size/--max-size to the "
                             "sizes the model was exported with)",
                             g->values[g->inputs[i]].name, (long long)t->dims[skip], (long long)t->dims[skip + 1],
                             (long long)t->dims[skip + 2], (long long)dims[skip], (long long)dims[skip + 1],
                             (long long)dims[skip + 2]);
    return D2_OK;
}

static enum d2_status single_image_input(const struct d2_graph *g, const struct d2_model_meta *meta,
                                         const struct d2_predict_image *image, const struct d2_allocator *alloc,
                                         struct d2_tensor *input, struct d2_error *err)
{
    struct d2_image_normalize norm = { 0 };
    static const float inv255[3] = { 255.0f, 255.0f, 255.0f };
    const struct d2_tensor *src = &image->resized;
    enum d2_status st;
    if (meta->export_method == D2_EXPORT_TORCHVISION) {
        src = &image->original;
        norm.std = inv255; /* ToTensor: x / 255 in float32 */
    } else {
        norm.mean = meta->has_pixel_mean ? meta->pixel_mean : NULL;
        norm.std = meta->has_pixel_std ? meta->pixel_std : NULL;
    }
    st = d2_image_to_chw_f32(src, &norm, alloc, input, err);
    if (st != D2_OK)
        return st;
    if (input_rank(g, 0) == 4) { /* [1, 3, h, w] */
        for (int d = 3; d > 0; d--)
            input->dims[d] = input->dims[d - 1];
        input->dims[0] = 1;
        input->rank = 4;
    }
    return check_fixed_dims(g, 0, input->dims, input->rank, err);
}

static enum d2_status caffe2_inputs(const struct d2_graph *g, const struct d2_model_meta *meta,
                                    const struct d2_predict_image *images, uint32_t count, enum d2_pad_value pad,
                                    const struct d2_allocator *alloc, struct d2_tensor *inputs, struct d2_error *err)
{
    int64_t max_h = 0, max_w = 0, div = meta->size_divisibility > 1 ? meta->size_divisibility : 1;
    float pad_value[3] = { 0, 0, 0 };
    enum d2_status st;
    if (g->num_inputs != 2)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "a Caffe2 detector takes 2 inputs (data, im_info), this one %u",
                         g->num_inputs);
    if (pad == D2_PAD_MEAN) {
        const float *mean = meta->has_pixel_mean ? meta->pixel_mean : default_pixel_mean_bgr;
        for (int c = 0; c < 3; c++)
            pad_value[c] = meta->has_pixel_mean || meta->input_format == D2_CHANNELS_BGR ? mean[c] : mean[2 - c];
    }
    for (uint32_t b = 0; b < count; b++) {
        max_h = images[b].resized.dims[0] > max_h ? images[b].resized.dims[0] : max_h;
        max_w = images[b].resized.dims[1] > max_w ? images[b].resized.dims[1] : max_w;
    }
    int64_t data_dims[4] = { count, 3, (max_h + div - 1) / div * div, (max_w + div - 1) / div * div };
    int64_t info_dims[2] = { count, 3 };
    if ((st = check_fixed_dims(g, 0, data_dims, 4, err)) != D2_OK)
        return st;
    if ((st = d2_tensor_alloc(&inputs[0], alloc, D2_DTYPE_F32, 4, data_dims, err)) != D2_OK ||
        (st = d2_tensor_alloc(&inputs[1], alloc, D2_DTYPE_F32, 2, info_dims, err)) != D2_OK)
        return st;
    float *data = inputs[0].data, *info = inputs[1].data;
    size_t plane = (size_t)(data_dims[2] * data_dims[3]);
    for (uint32_t b = 0; b < count; b++) {
        const struct d2_tensor *img = &images[b].resized;
        int64_t h = img->dims[0], w = img->dims[1];
        const uint8_t *px = img->data;
        for (int c = 0; c < 3; c++) {
            float *dst = data + ((size_t)b * 3 + (size_t)c) * plane;
            for (size_t i = 0; i < plane; i++)
                dst[i] = pad_value[c];
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++)
                    dst[y * data_dims[3] + x] = (float)px[(y * w + x) * 3 + c];
        }
        info[b * 3 + 0] = (float)h;
        info[b * 3 + 1] = (float)w;
        info[b * 3 + 2] = 1.0f;
    }
    return D2_OK;
}

enum d2_status d2_predict_make_inputs(const struct d2_graph *g, const struct d2_model_meta *meta,
                                      const struct d2_predict_image *images, uint32_t count,
                                      enum d2_pad_value pad, const struct d2_allocator *alloc,
                                      struct d2_tensor *inputs, struct d2_error *err)
{
    enum d2_status st;
    for (uint32_t i = 0; i < g->num_inputs; i++)
        memset(&inputs[i], 0, sizeof inputs[i]);
    if (count == 0)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "no images given");
    if (meta->export_method == D2_EXPORT_CAFFE2_TRACING)
        st = caffe2_inputs(g, meta, images, count, pad, alloc, inputs, err);
    else if (meta->export_method == D2_EXPORT_UNKNOWN)
        st = d2_errorf(err, D2_ERR_INVALID_ARG,
                       "the model's calling convention is unknown (not a detectron2 tracing/Caffe2 or torchvision "
                       "export by its signature); give it with --export-method and --outputs");
    else if (g->num_inputs != 1)
        st = d2_errorf(err, D2_ERR_INVALID_ARG, "a %s export takes one image input, this model has %u inputs",
                       d2_export_method_name(meta->export_method), g->num_inputs);
    else if (count != 1)
        st = d2_errorf(err, D2_ERR_INVALID_ARG, "a %s export takes one image per run, got %u",
                       d2_export_method_name(meta->export_method), count);
    else
        st = single_image_input(g, meta, &images[0], alloc, &inputs[0], err);
    if (st != D2_OK)
        for (uint32_t i = 0; i < g->num_inputs; i++)
            d2_tensor_release(&inputs[i], alloc);
    return st;
}

/* ---- outputs ---- */

static const struct d2_tensor *role_tensor(const struct d2_model_meta *meta, const struct d2_tensor *outputs,
                                           uint32_t num_outputs, enum d2_output_role role)
{
    int k = find_role(meta, role);
    return k >= 0 && (uint32_t)k < num_outputs ? &outputs[k] : NULL;
}

static enum d2_status check_detections(const struct d2_tensor *boxes, const struct d2_tensor *scores,
                                       const struct d2_tensor *classes, struct d2_error *err)
{
    if (!boxes || !scores || !classes)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "the model metadata names no %s output",
                         !boxes ? "boxes" : !scores ? "scores" : "classes");
    if (boxes->rank != 2 || boxes->dims[1] != 4 || scores->rank != 1 || classes->rank != 1 ||
        scores->dims[0] != boxes->dims[0] || classes->dims[0] != boxes->dims[0])
        return d2_errorf(err, D2_ERR_SHAPE,
                         "detector outputs do not fit: boxes rank %d, scores rank %d, classes rank %d "
                         "(expected [n,4], [n], [n])",
                         boxes->rank, scores->rank, classes->rank);
    if (!d2_dtype_is_float(boxes->dtype) || !d2_dtype_is_float(scores->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "boxes and scores must be floating point");
    return D2_OK;
}

static int64_t leading(const struct d2_tensor *t) { return t->rank > 0 ? t->dims[0] : 0; }

/* Rows `order[0..n)` of t (any dtype, any rank >= 1), converted to f32 unless keep. */
static enum d2_status gather_rows(const struct d2_tensor *t, const int64_t *order, int64_t n, bool to_f32,
                                  const struct d2_allocator *alloc, struct d2_tensor *out, struct d2_error *err)
{
    int64_t dims[D2_MAX_RANK];
    memcpy(dims, t->dims, sizeof dims);
    dims[0] = n;
    enum d2_dtype dt = to_f32 ? D2_DTYPE_F32 : t->dtype;
    enum d2_status st = d2_tensor_alloc(out, alloc, dt, t->rank, dims, err);
    if (st != D2_OK)
        return st;
    int64_t row = t->dims[0] ? d2_tensor_numel(t) / t->dims[0] : 0;
    if (dt == t->dtype) {
        size_t bytes = (size_t)row * d2_dtype_size(dt);
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)out->data + (size_t)i * bytes, (const char *)t->data + (size_t)order[i] * bytes, bytes);
        return D2_OK;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < row; j++)
            d2_store_f64(out->data, dt, (size_t)(i * row + j), d2_load_f64(t->data, t->dtype, (size_t)(order[i] * row + j)));
    return D2_OK;
}

static const float *sort_scores; /* qsort has no context argument in C11 */
static int by_score_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    float sx = sort_scores[x], sy = sort_scores[y];
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: equal scores keep their order */
}

/* Caffe2: one image's detections re-sorted by score, the class channel of each mask. */
static enum d2_status caffe2_instances(const struct d2_model_meta *meta, const struct d2_tensor *outputs,
                                       uint32_t num_outputs, const struct d2_predict_image *image, uint32_t index,
                                       uint32_t count, const struct d2_allocator *alloc, struct d2_instances *out,
                                       struct d2_error *err)
{
    const struct d2_tensor *boxes = role_tensor(meta, outputs, num_outputs, D2_ROLE_BOXES);
    const struct d2_tensor *scores = role_tensor(meta, outputs, num_outputs, D2_ROLE_SCORES);
    const struct d2_tensor *classes = role_tensor(meta, outputs, num_outputs, D2_ROLE_CLASSES);
    const struct d2_tensor *class_masks = role_tensor(meta, outputs, num_outputs, D2_ROLE_CLASS_MASKS);
    const struct d2_tensor *heatmaps = role_tensor(meta, outputs, num_outputs, D2_ROLE_KEYPOINT_HEATMAPS);
    struct d2_tensor s_boxes = { 0 }, s_scores = { 0 }, s_classes = { 0 }, s_masks = { 0 }, s_heat = { 0 }, f_scores = { 0 };
    const struct d2_tensor *splits = role_tensor(meta, outputs, num_outputs, D2_ROLE_BATCH_SPLITS);
    int64_t *order = NULL, n, first = 0, total;
    enum d2_status st = check_detections(boxes, scores, classes, err);
    if (st != D2_OK)
        return st;
    total = n = leading(boxes);
    if (splits) {
        /* Image `index` owns rows [first, first + n): the runs batch_splits counts. */
        if (d2_tensor_numel(splits) != count)
            return d2_errorf(err, D2_ERR_SHAPE, "batch_splits has %lld entries for a batch of %u images",
                             (long long)d2_tensor_numel(splits), count);
        for (uint32_t b = 0; b < index; b++)
            first += d2_load_i64(splits->data, splits->dtype, b);
        n = d2_load_i64(splits->data, splits->dtype, index);
        if (first < 0 || n < 0 || first + n > total)
            return d2_errorf(err, D2_ERR_SHAPE, "batch_splits do not add up to the %lld detections", (long long)total);
    } else if (count != 1) {
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "the Caffe2 graph returns no batch_splits: run one image at a time");
    }
    if ((class_masks && (class_masks->rank != 4 || leading(class_masks) != total)) ||
        (heatmaps && (heatmaps->rank != 4 || leading(heatmaps) != total)))
        return d2_errorf(err, D2_ERR_SHAPE, "mask or keypoint output does not have one [K,M,M] map per detection");
    order = d2_alloc(alloc, (size_t)(n + 1) * sizeof *order);
    if (!order)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory sorting detections");
    for (int64_t i = 0; i < n; i++)
        order[i] = first + i;
    st = gather_rows(scores, order, n, true, alloc, &f_scores, err); /* f32 scores to sort by */
    if (st == D2_OK) {
        /* f_scores row i is detection first + i: sort those positions, then shift */
        for (int64_t i = 0; i < n; i++)
            order[i] = i;
        sort_scores = f_scores.data;
        qsort(order, (size_t)n, sizeof *order, by_score_desc);
        sort_scores = NULL;
        st = gather_rows(&f_scores, order, n, true, alloc, &s_scores, err);
        for (int64_t i = 0; i < n; i++)
            order[i] += first;
    }
    if (st == D2_OK)
        st = gather_rows(boxes, order, n, true, alloc, &s_boxes, err);
    if (st == D2_OK)
        st = gather_rows(classes, order, n, false, alloc, &s_classes, err);
    if (st == D2_OK && class_masks) {
        int64_t k = class_masks->dims[1], m = class_masks->dims[2] * class_masks->dims[3];
        int64_t dims[4] = { n, 1, class_masks->dims[2], class_masks->dims[3] };
        st = d2_tensor_alloc(&s_masks, alloc, D2_DTYPE_F32, 4, dims, err);
        for (int64_t i = 0; st == D2_OK && i < n; i++) {
            int64_t c = d2_load_i64(classes->data, classes->dtype, (size_t)order[i]);
            if (c < 0 || c >= k) {
                st = d2_errorf(err, D2_ERR_SHAPE, "detection %lld has class %lld, the mask output has %lld channels",
                               (long long)order[i], (long long)c, (long long)k);
                break;
            }
            for (int64_t j = 0; j < m; j++)
                ((float *)s_masks.data)[i * m + j] =
                    (float)d2_load_f64(class_masks->data, class_masks->dtype, (size_t)((order[i] * k + c) * m + j));
        }
    }
    if (st == D2_OK && heatmaps)
        st = gather_rows(heatmaps, order, n, true, alloc, &s_heat, err);
    if (st == D2_OK) {
        struct d2_raw_instances raw = {
            .boxes = &s_boxes, .scores = &s_scores, .classes = &s_classes,
            .mask_probs = class_masks ? &s_masks : NULL, .keypoint_heatmaps = heatmaps ? &s_heat : NULL,
            .input_height = image->resized.dims[0], .input_width = image->resized.dims[1],
        };
        st = d2_detector_postprocess(&raw, image->original.dims[0], image->original.dims[1], 0.5, alloc, out, err);
    }
    d2_tensor_release(&s_boxes, alloc);
    d2_tensor_release(&s_scores, alloc);
    d2_tensor_release(&s_classes, alloc);
    d2_tensor_release(&s_masks, alloc);
    d2_tensor_release(&s_heat, alloc);
    d2_tensor_release(&f_scores, alloc);
    d2_free(alloc, order);
    return st;
}

static enum d2_status tracing_instances(const struct d2_model_meta *meta, const struct d2_tensor *outputs,
                                        uint32_t num_outputs, const struct d2_predict_image *image,
                                        const struct d2_allocator *alloc, struct d2_instances *out,
                                        struct d2_error *err)
{
    const struct d2_tensor *boxes = role_tensor(meta, outputs, num_outputs, D2_ROLE_BOXES);
    const struct d2_tensor *scores = role_tensor(meta, outputs, num_outputs, D2_ROLE_SCORES);
    const struct d2_tensor *classes = role_tensor(meta, outputs, num_outputs, D2_ROLE_CLASSES);
    const struct d2_tensor *size = role_tensor(meta, outputs, num_outputs, D2_ROLE_IMAGE_SIZE);
    struct d2_raw_instances raw = {
        .boxes = boxes, .scores = scores, .classes = classes,
        .mask_probs = role_tensor(meta, outputs, num_outputs, D2_ROLE_MASKS),
        .keypoints = role_tensor(meta, outputs, num_outputs, D2_ROLE_KEYPOINTS),
        .keypoint_heatmaps = role_tensor(meta, outputs, num_outputs, D2_ROLE_KEYPOINT_HEATMAPS),
        .input_height = image->resized.dims[0], .input_width = image->resized.dims[1],
    };
    enum d2_status st = check_detections(boxes, scores, classes, err);
    if (st != D2_OK)
        return st;
    if (size) {
        /* The frame the boxes are in: the unpadded model input, (H, W). */
        if (d2_tensor_numel(size) != 2)
            return d2_errorf(err, D2_ERR_SHAPE, "image_size output has %lld elements, expected 2",
                             (long long)d2_tensor_numel(size));
        raw.input_height = d2_load_i64(size->data, size->dtype, 0);
        raw.input_width = d2_load_i64(size->data, size->dtype, 1);
        if (raw.input_height <= 0 || raw.input_width <= 0)
            return d2_errorf(err, D2_ERR_SHAPE, "image_size output (%lld, %lld) is not a size",
                             (long long)raw.input_height, (long long)raw.input_width);
    }
    if (raw.keypoints)
        raw.keypoint_heatmaps = NULL; /* decoded keypoints win over heatmaps */
    return d2_detector_postprocess(&raw, image->original.dims[0], image->original.dims[1], 0.5, alloc, out, err);
}

/* torchvision: everything is in the original frame already. */
static enum d2_status torchvision_instances(const struct d2_model_meta *meta, const struct d2_tensor *outputs,
                                            uint32_t num_outputs, const struct d2_predict_image *image,
                                            const struct d2_allocator *alloc, struct d2_instances *out,
                                            struct d2_error *err)
{
    const struct d2_tensor *boxes = role_tensor(meta, outputs, num_outputs, D2_ROLE_BOXES);
    const struct d2_tensor *scores = role_tensor(meta, outputs, num_outputs, D2_ROLE_SCORES);
    const struct d2_tensor *labels = role_tensor(meta, outputs, num_outputs, D2_ROLE_CLASSES);
    const struct d2_tensor *masks = role_tensor(meta, outputs, num_outputs, D2_ROLE_IMAGE_MASKS);
    const struct d2_tensor *keypoints = role_tensor(meta, outputs, num_outputs, D2_ROLE_KEYPOINTS);
    int64_t H = image->original.dims[0], W = image->original.dims[1], n;
    enum d2_status st = check_detections(boxes, scores, labels, err);
    memset(out, 0, sizeof *out);
    if (st != D2_OK)
        return st;
    n = leading(boxes);
    if (masks && (masks->rank != 4 || masks->dims[0] != n || masks->dims[1] != 1 || masks->dims[2] != H ||
                  masks->dims[3] != W))
        return d2_errorf(err, D2_ERR_SHAPE, "masks output is not [%lld,1,%lld,%lld] (one image-size map per detection)",
                         (long long)n, (long long)H, (long long)W);
    if (keypoints && (keypoints->rank != 3 || keypoints->dims[0] != n || keypoints->dims[2] != 3))
        return d2_errorf(err, D2_ERR_SHAPE, "keypoints output is not [n,K,3]");
    out->image_height = H;
    out->image_width = W;
    out->count = n;
    int64_t one[1] = { n }, four[2] = { n, 4 };
    if ((st = d2_tensor_alloc(&out->boxes, alloc, D2_DTYPE_F32, 2, four, err)) != D2_OK ||
        (st = d2_tensor_alloc(&out->scores, alloc, D2_DTYPE_F32, 1, one, err)) != D2_OK ||
        (st = d2_tensor_alloc(&out->classes, alloc, D2_DTYPE_I64, 1, one, err)) != D2_OK)
        goto fail;
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < 4; j++)
            ((float *)out->boxes.data)[i * 4 + j] = (float)d2_load_f64(boxes->data, boxes->dtype, (size_t)(i * 4 + j));
        ((float *)out->scores.data)[i] = (float)d2_load_f64(scores->data, scores->dtype, (size_t)i);
        ((int64_t *)out->classes.data)[i] = d2_load_i64(labels->data, labels->dtype, (size_t)i) - meta->label_offset;
    }
    if (masks) {
        int64_t dims[3] = { n, H, W };
        if ((st = d2_tensor_alloc(&out->masks, alloc, D2_DTYPE_BOOL, 3, dims, err)) != D2_OK)
            goto fail;
        for (int64_t i = 0; i < n * H * W; i++)
            ((uint8_t *)out->masks.data)[i] = d2_load_f64(masks->data, masks->dtype, (size_t)i) >= 0.5;
    }
    if (keypoints) {
        if ((st = d2_tensor_alloc(&out->keypoints, alloc, D2_DTYPE_F32, 3, keypoints->dims, err)) != D2_OK)
            goto fail;
        for (int64_t i = 0; i < d2_tensor_numel(keypoints); i++)
            ((float *)out->keypoints.data)[i] = (float)d2_load_f64(keypoints->data, keypoints->dtype, (size_t)i);
    }
    return D2_OK;
fail:
    d2_instances_release(out, alloc);
    return st;
}

enum d2_status d2_predict_instances(const struct d2_model_meta *meta, const struct d2_tensor *outputs,
                                    uint32_t num_outputs, const struct d2_predict_image *image, uint32_t index,
                                    uint32_t count, const struct d2_allocator *alloc, struct d2_instances *out,
                                    struct d2_error *err)
{
    memset(out, 0, sizeof *out);
    if (index >= count)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "image %u of a batch of %u", index, count);
    if (num_outputs != meta->num_outputs)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "the model has %u outputs, its metadata describes %u", num_outputs,
                         meta->num_outputs);
    switch (meta->export_method) {
    case D2_EXPORT_CAFFE2_TRACING:
        return caffe2_instances(meta, outputs, num_outputs, image, index, count, alloc, out, err);
    case D2_EXPORT_TORCHVISION:
        return torchvision_instances(meta, outputs, num_outputs, image, alloc, out, err);
    case D2_EXPORT_TRACING:
    case D2_EXPORT_SCRIPTING:
        return tracing_instances(meta, outputs, num_outputs, image, alloc, out, err);
    case D2_EXPORT_UNKNOWN:
        break;
    }
    return d2_errorf(err, D2_ERR_INVALID_ARG, "the model's calling convention is unknown; give --export-method");
}

enum d2_status d2_instances_keep_scores_above(struct d2_instances *inst, double threshold,
                                              const struct d2_allocator *alloc, struct d2_error *err)
{
    struct d2_instances kept = *inst;
    int64_t *order, n = 0;
    enum d2_status st = D2_OK;
    order = d2_alloc(alloc, (size_t)(inst->count + 1) * sizeof *order);
    if (!order)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory filtering instances");
    for (int64_t i = 0; i < inst->count; i++)
        if (((const float *)inst->scores.data)[i] > (float)threshold) /* torch: the scalar becomes f32 */
            order[n++] = i;
    memset(&kept.boxes, 0, sizeof kept.boxes);
    memset(&kept.scores, 0, sizeof kept.scores);
    memset(&kept.classes, 0, sizeof kept.classes);
    memset(&kept.masks, 0, sizeof kept.masks);
    memset(&kept.keypoints, 0, sizeof kept.keypoints);
    kept.count = n;
    st = gather_rows(&inst->boxes, order, n, false, alloc, &kept.boxes, err);
    if (st == D2_OK)
        st = gather_rows(&inst->scores, order, n, false, alloc, &kept.scores, err);
    if (st == D2_OK)
        st = gather_rows(&inst->classes, order, n, false, alloc, &kept.classes, err);
    if (st == D2_OK && inst->masks.dtype != D2_DTYPE_UNDEFINED)
        st = gather_rows(&inst->masks, order, n, false, alloc, &kept.masks, err);
    if (st == D2_OK && inst->keypoints.dtype != D2_DTYPE_UNDEFINED)
        st = gather_rows(&inst->keypoints, order, n, false, alloc, &kept.keypoints, err);
    d2_free(alloc, order);
    if (st != D2_OK) {
        d2_instances_release(&kept, alloc);
        return st;
    }
    d2_instances_release(inst, alloc);
    *inst = kept;
    return D2_OK;
}
