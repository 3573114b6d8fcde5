/* frontend/caffe2/caffe2_retinanet.c: detectron2 RetinaNet's post-processing, appended
 * as IR to a caffe2_tracing RetinaNet NetDef so that the compiled model returns final
 * detections.
 *
 * Why: detectron2's Caffe2RetinaNet graph stops at the head. It outputs im_info,
 * feature_0..L-1 and box_cls_i [N, A*K, Hi, Wi] (logits) / box_delta_i [N, A*4, Hi, Wi]
 * per level; anchors, decoding and NMS ran in Python from predict_net arguments
 * (detectron2-export.md §1.1, §4.6). d2rt does that post-processing itself, with the
 * shared IR ops, when the net says meta_architecture "RetinaNet" and its external
 * outputs include box_cls_0/box_delta_0... (caffe2_import.c calls
 * c2_retinanet_postprocess; the graph outputs become the detections).
 *
 * Semantics (detectron2 HEAD dense_detector.py / retinanet.py, per image):
 *   per level: scores = sigmoid(box_cls) in (H, W, A, K) order; the top
 *     min(topk_candidates, H*W*A*K) scores, of which those > score_threshold
 *     (= detectron2's threshold-then-top-k, up to tie order); anchor = index / K,
 *     class = index % K; boxes = Box2BoxTransform(bbox_reg_weights) of the anchor's
 *     deltas (no clipping);
 *   all levels: batched NMS by class (IoU > nms_threshold suppresses, torchvision's
 *     rule), the max_detections_per_image best by descending score.
 * A batch is processed image by image in the same graph: NMS groups by (image,
 * class) and the top-k / max_detections limits apply per image, so each image gets
 * exactly its one-by-one answer. Outputs: bbox_nms [n,4] (input-image pixels, not
 * clipped), score_nms [n], class_nms [n] f32 (0-based), batch_splits_nms [N] f32
 * (detections per image; rows grouped by image, descending score within an image).
 *
 * Anchors (DefaultAnchorGenerator, order (H, W, A), per cell sizes outer, aspect
 * ratios inner: w = sqrt(size^2 / ratio), h = ratio * w, centred at 0, shifted by
 * offset*stride + k*stride) are generated in the graph from the level's feature size.
 * Their configuration cannot come from the export's `serialized_anchor_generator` (a
 * torch.save pickle of a Python object), so it comes from d2rt's own net arguments
 * when present, else detectron2's RetinaNet defaults:
 *   anchor_sizes (floats, S per level, level-major; default 32*2^l * {1, 2^(1/3), 2^(2/3)}),
 *   anchor_aspect_ratios (floats; default 0.5, 1, 2), anchor_strides (ints; default
 *   8*2^l), anchor_offset (float; default 0).
 */
#include "frontend/caffe2/caffe2_internal.h"

#include <math.h>
#include <string.h>

#define RN_MAX_LEVELS 8
#define RN_MAX_ANCHORS 64

struct anchor_config {
    uint32_t levels, sizes_per_level, num_ratios;
    double sizes[RN_MAX_LEVELS * RN_MAX_ANCHORS];
    double ratios[RN_MAX_ANCHORS];
    int64_t strides[RN_MAX_LEVELS];
    double offset;
};

static enum d2_status read_anchor_config(struct c2_op_ctx *ctx, uint32_t levels, struct anchor_config *cfg)
{
    uint32_t n_sizes, n_strides;
    memset(cfg, 0, sizeof *cfg);
    cfg->levels = levels;
    C2_TRY(c2_arg_floats(ctx, "anchor_sizes", cfg->sizes, RN_MAX_LEVELS * RN_MAX_ANCHORS, &n_sizes));
    C2_TRY(c2_arg_floats(ctx, "anchor_aspect_ratios", cfg->ratios, RN_MAX_ANCHORS, &cfg->num_ratios));
    C2_TRY(c2_arg_ints(ctx, "anchor_strides", cfg->strides, RN_MAX_LEVELS, &n_strides));
    C2_TRY(c2_arg_float(ctx, "anchor_offset", 0.0, &cfg->offset));
    if (n_sizes == 0) {
        cfg->sizes_per_level = 3;
        for (uint32_t l = 0; l < levels; l++)
            for (uint32_t s = 0; s < 3; s++)
                cfg->sizes[l * 3 + s] = 32.0 * (double)(1u << l) * pow(2.0, (double)s / 3.0);
    } else if (n_sizes % levels != 0) {
        return c2_error(ctx, D2_ERR_PARSE, "anchor_sizes has %u values, not a multiple of the %u levels", n_sizes,
                        levels);
    } else {
        cfg->sizes_per_level = n_sizes / levels;
    }
    if (cfg->num_ratios == 0) {
        cfg->num_ratios = 3;
        cfg->ratios[0] = 0.5, cfg->ratios[1] = 1.0, cfg->ratios[2] = 2.0;
    }
    if (n_strides == 0) {
        for (uint32_t l = 0; l < levels; l++)
            cfg->strides[l] = 8ll << l;
    } else if (n_strides != levels) {
        return c2_error(ctx, D2_ERR_PARSE, "anchor_strides has %u values for %u levels", n_strides, levels);
    }
    if ((uint64_t)cfg->sizes_per_level * cfg->num_ratios > RN_MAX_ANCHORS)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "more than %d anchors per cell", RN_MAX_ANCHORS);
    for (uint32_t l = 0; l < levels; l++)
        if (cfg->strides[l] <= 0)
            return c2_error(ctx, D2_ERR_PARSE, "anchor_strides must be positive");
    return D2_OK;
}

/* Anchors of one level, [H*W*A, 4] f32, for a feature map of the value `like` [N,C,H,W]. */
static d2_value_id level_anchors(struct c2_op_ctx *ctx, const struct anchor_config *cfg, uint32_t level,
                                 d2_value_id like)
{
    uint32_t a_count = cfg->sizes_per_level * cfg->num_ratios;
    float cell[RN_MAX_ANCHORS * 4];
    double stride = (double)cfg->strides[level];
    for (uint32_t s = 0, a = 0; s < cfg->sizes_per_level; s++) {
        double size = cfg->sizes[level * cfg->sizes_per_level + s];
        for (uint32_t r = 0; r < cfg->num_ratios; r++, a++) {
            double w = sqrt(size * size / cfg->ratios[r]), h = cfg->ratios[r] * w;
            cell[a * 4 + 0] = (float)(-w / 2.0);
            cell[a * 4 + 1] = (float)(-h / 2.0);
            cell[a * 4 + 2] = (float)(w / 2.0);
            cell[a * 4 + 3] = (float)(h / 2.0);
        }
    }
    /* shift along one axis: offset*stride + k*stride, k = 0..dim-1 (f32, as torch.arange) */
    d2_value_id shift[2];
    for (int axis = 0; axis < 2; axis++) {
        d2_value_id range_in[3] = { c2_const_i64_scalar(ctx, 0), c2_reshape(ctx, c2_dim(ctx, like, 2 + axis), NULL, 0),
                                    c2_const_i64_scalar(ctx, 1) };
        if (range_in[0] == D2_NO_VALUE || range_in[1] == D2_NO_VALUE || range_in[2] == D2_NO_VALUE)
            return D2_NO_VALUE;
        d2_value_id k = c2_cast(ctx, c2_node(ctx, D2_OP_RANGE, 3, range_in, NULL), D2_DTYPE_F32);
        shift[axis] = c2_binary(ctx, D2_OP_ADD, c2_binary(ctx, D2_OP_MUL, k, c2_const_scalar(ctx, D2_DTYPE_F32, stride)),
                                c2_const_scalar(ctx, D2_DTYPE_F32, (double)(float)(cfg->offset * stride)));
    }
    /* y [H,1] and x [1,W] broadcast to [H,W], then (x, y, x, y) per cell: [H*W, 4] */
    d2_value_id y = c2_reshape(ctx, shift[0], (const int64_t[]){ -1, 1 }, 2);
    d2_value_id x = c2_reshape(ctx, shift[1], (const int64_t[]){ 1, -1 }, 2);
    d2_value_id zero = c2_const_scalar(ctx, D2_DTYPE_F32, 0.0);
    d2_value_id xx = c2_reshape(ctx, c2_binary(ctx, D2_OP_ADD, x, c2_binary(ctx, D2_OP_MUL, y, zero)),
                                (const int64_t[]){ -1, 1 }, 2);
    d2_value_id yy = c2_reshape(ctx, c2_binary(ctx, D2_OP_ADD, y, c2_binary(ctx, D2_OP_MUL, x, zero)),
                                (const int64_t[]){ -1, 1 }, 2);
    d2_value_id cat_in[4] = { xx, yy, xx, yy };
    struct d2_attrs_axis *ca;
    if (xx == D2_NO_VALUE || yy == D2_NO_VALUE)
        return D2_NO_VALUE;
    d2_value_id shifts = c2_node(ctx, D2_OP_CONCAT, 4, cat_in, (void **)&ca);
    if (shifts == D2_NO_VALUE)
        return D2_NO_VALUE;
    ca->axis = 1;
    d2_value_id cells = c2_reshape(ctx, c2_const_f32(ctx, cell, a_count * 4), (const int64_t[]){ 1, a_count, 4 }, 3);
    d2_value_id all = c2_binary(ctx, D2_OP_ADD, c2_reshape(ctx, shifts, (const int64_t[]){ -1, 1, 4 }, 3), cells);
    return c2_reshape(ctx, all, (const int64_t[]){ -1, 4 }, 2);
}

static d2_value_id transpose(struct c2_op_ctx *ctx, d2_value_id x, const int64_t *perm, uint32_t rank)
{
    struct d2_attrs_transpose *ta;
    d2_value_id y = c2_node(ctx, D2_OP_TRANSPOSE, 1, &x, (void **)&ta);
    if (y == D2_NO_VALUE || d2_graph_set_ints(ctx->g, &ta->perm, perm, rank, ctx->err) != D2_OK)
        return D2_NO_VALUE;
    return y;
}

static d2_value_id concat0(struct c2_op_ctx *ctx, const d2_value_id *parts, uint32_t n)
{
    struct d2_attrs_axis *ca;
    for (uint32_t i = 0; i < n; i++)
        if (parts[i] == D2_NO_VALUE)
            return D2_NO_VALUE;
    d2_value_id y = c2_node(ctx, D2_OP_CONCAT, n, parts, (void **)&ca);
    if (y != D2_NO_VALUE)
        ca->axis = 0;
    return y;
}

/* Candidates of one level: boxes [m,4], scores [m], classes [m] i64, images [m] i64. */
struct candidates {
    d2_value_id boxes, scores, classes, images;
};

static enum d2_status level_candidates(struct c2_op_ctx *ctx, const struct anchor_config *cfg, uint32_t level,
                                       d2_value_id cls, d2_value_id delta, double weights[4], double score_thresh,
                                       int64_t topk, struct candidates *out)
{
    const struct d2_type *tc = c2_type(ctx, cls), *td = c2_type(ctx, delta);
    if (tc->rank != 4 || td->rank != 4 || tc->dims[1] < 0 || td->dims[1] < 0 || td->dims[1] % 4 != 0)
        return c2_error(ctx, D2_ERR_SHAPE, "box_cls_%u / box_delta_%u must be [N, A*K, H, W] / [N, A*4, H, W] with "
                        "known channels", level, level);
    int64_t a = td->dims[1] / 4;
    if (a != (int64_t)cfg->sizes_per_level * cfg->num_ratios || tc->dims[1] % a != 0)
        return c2_error(ctx, D2_ERR_SHAPE, "level %u has %lld anchors per cell (box_delta channels / 4), the anchor "
                        "configuration %u sizes x %u aspect ratios", level, (long long)a, cfg->sizes_per_level,
                        cfg->num_ratios);
    int64_t k = tc->dims[1] / a;
    /* scores [N, H*W*A*K] in (H, W, A, K) order */
    d2_value_id s = c2_reshape(ctx, cls, (const int64_t[]){ 0, a, k, -1 }, 4);
    s = transpose(ctx, s, (const int64_t[]){ 0, 3, 1, 2 }, 4);
    s = c2_unary(ctx, D2_OP_SIGMOID, c2_reshape(ctx, s, (const int64_t[]){ 0, -1 }, 2));
    /* deltas [N, H*W*A, 4] */
    d2_value_id d = c2_reshape(ctx, delta, (const int64_t[]){ 0, a, 4, -1 }, 4);
    d = c2_reshape(ctx, transpose(ctx, d, (const int64_t[]){ 0, 3, 1, 2 }, 4), (const int64_t[]){ 0, -1, 4 }, 3);
    C2_CHECK(ctx, s);
    C2_CHECK(ctx, d);
    /* top min(topk, n) per image, then the threshold */
    struct d2_attrs_topk *ta;
    d2_value_id kmin_in[2] = { c2_dim(ctx, s, 1), c2_const_i64(ctx, &topk, 1) };
    C2_CHECK(ctx, kmin_in[0]);
    C2_CHECK(ctx, kmin_in[1]);
    d2_value_id topk_in[2] = { s, c2_node(ctx, D2_OP_MIN, 2, kmin_in, NULL) };
    C2_CHECK(ctx, topk_in[1]);
    int32_t top = c2_emit(ctx, D2_OP_TOPK, 2, topk_in, 2, NULL, (void **)&ta);
    if (top < 0)
        return ctx->err->code;
    ta->axis = 1;
    ta->largest = 1;
    ta->sorted = 1;
    d2_value_id values = d2_node_output(ctx->g, top, 0), indices = d2_node_output(ctx->g, top, 1);
    d2_value_id keep = c2_unary(ctx, D2_OP_NON_ZERO, c2_binary(ctx, D2_OP_GREATER, values,
                                                                 c2_const_scalar(ctx, D2_DTYPE_F32, score_thresh)));
    d2_value_id coords = c2_unary(ctx, D2_OP_TRANSPOSE, keep);                            /* [m,2] (image, j) */
    d2_value_id gn_in[2] = { values, coords };
    C2_CHECK(ctx, coords);
    out->scores = c2_node(ctx, D2_OP_GATHER_ND, 2, gn_in, NULL);
    gn_in[0] = indices;
    d2_value_id flat = c2_node(ctx, D2_OP_GATHER_ND, 2, gn_in, NULL);                    /* [m] */
    out->images = c2_reshape(ctx, c2_slice(ctx, keep, 0, 0, 1), (const int64_t[]){ -1 }, 1);
    d2_value_id kk = c2_const_scalar(ctx, D2_DTYPE_I64, (double)k);
    d2_value_id anchor = c2_binary(ctx, D2_OP_DIV, flat, kk);
    out->classes = c2_binary(ctx, D2_OP_MOD, flat, kk);
    C2_CHECK(ctx, anchor);
    C2_CHECK(ctx, out->images);
    /* deltas[image, anchor] and anchors[anchor] */
    d2_value_id pair_in[2] = { c2_reshape(ctx, out->images, (const int64_t[]){ -1, 1 }, 2),
                               c2_reshape(ctx, anchor, (const int64_t[]){ -1, 1 }, 2) };
    struct d2_attrs_axis *ca;
    C2_CHECK(ctx, pair_in[0]);
    C2_CHECK(ctx, pair_in[1]);
    d2_value_id pair = c2_node(ctx, D2_OP_CONCAT, 2, pair_in, (void **)&ca);
    C2_CHECK(ctx, pair);
    ca->axis = 1;
    gn_in[0] = d;
    gn_in[1] = pair;
    d2_value_id sel_deltas = c2_node(ctx, D2_OP_GATHER_ND, 2, gn_in, NULL);
    d2_value_id sel_anchors = c2_gather(ctx, level_anchors(ctx, cfg, level, cls), anchor, 0);
    C2_CHECK(ctx, sel_deltas);
    C2_CHECK(ctx, sel_anchors);
    struct d2_attrs_box_decode *da;
    d2_value_id dec_in[2] = { sel_anchors, sel_deltas };
    out->boxes = c2_node(ctx, D2_OP_BOX_DECODE, 2, dec_in, (void **)&da);
    C2_CHECK(ctx, out->boxes);
    C2_TRY(d2_graph_set_floats(ctx->g, &da->weights, weights, 4, ctx->err));
    da->legacy_plus_one = 0; /* scale_clamp: its default, log(1000/16) as Box2BoxTransform */
    C2_CHECK(ctx, out->scores);
    C2_CHECK(ctx, out->classes);
    return D2_OK;
}

/* ctx: inputs (im_info, box_cls_0, box_delta_0, box_cls_1, ...), outputs 4 (bbox_nms,
 * score_nms, class_nms, batch_splits_nms), args the predict net's arguments. */
enum d2_status c2_retinanet_postprocess(struct c2_op_ctx *ctx)
{
    double score_thresh, nms, weights[4] = { 1, 1, 1, 1 };
    int64_t topk, max_det;
    uint32_t n_weights, levels = (ctx->num_inputs - 1) / 2;
    struct anchor_config cfg;
    struct candidates cand[RN_MAX_LEVELS];
    if (ctx->num_inputs < 3 || ctx->num_inputs % 2 != 1 || levels > RN_MAX_LEVELS || ctx->num_outputs != 4)
        return c2_error(ctx, D2_ERR_INTERNAL, "RetinaNet post-processing: bad operands");
    C2_TRY(c2_arg_float(ctx, "score_threshold", 0.05, &score_thresh));
    C2_TRY(c2_arg_int(ctx, "topk_candidates", 1000, &topk));
    C2_TRY(c2_arg_float(ctx, "nms_threshold", 0.5, &nms));
    C2_TRY(c2_arg_int(ctx, "max_detections_per_image", 100, &max_det));
    C2_TRY(c2_arg_floats(ctx, "bbox_reg_weights", weights, 4, &n_weights));
    if (n_weights != 0 && n_weights != 4)
        return c2_error(ctx, D2_ERR_PARSE, "bbox_reg_weights has %u values, expected 4", n_weights);
    if (topk < 0)
        return c2_error(ctx, D2_ERR_PARSE, "topk_candidates is negative");
    C2_TRY(read_anchor_config(ctx, levels, &cfg));
    for (uint32_t l = 0; l < levels; l++)
        C2_TRY(level_candidates(ctx, &cfg, l, ctx->inputs[1 + 2 * l], ctx->inputs[2 + 2 * l], weights, score_thresh,
                                topk, &cand[l]));
    d2_value_id parts[RN_MAX_LEVELS];
#define CAT(field, out)                                  \
    do {                                                 \
        for (uint32_t l = 0; l < levels; l++)            \
            parts[l] = cand[l].field;                    \
        out = concat0(ctx, parts, levels);               \
        C2_CHECK(ctx, out);                              \
    } while (0)
    d2_value_id boxes, scores, classes, images;
    CAT(boxes, boxes);
    CAT(scores, scores);
    CAT(classes, classes);
    CAT(images, images);
#undef CAT
    /* NMS per (image, class): ids image * num_classes + class, num_classes from level 0 */
    int64_t k = c2_type(ctx, ctx->inputs[1])->dims[1] / (c2_type(ctx, ctx->inputs[2])->dims[1] / 4);
    d2_value_id group = c2_binary(ctx, D2_OP_ADD, c2_binary(ctx, D2_OP_MUL, images,
                                                           c2_const_scalar(ctx, D2_DTYPE_I64, (double)k)), classes);
    d2_value_id nms_in[3] = { boxes, scores, group };
    struct d2_attrs_box_nms *na;
    C2_CHECK(ctx, group);
    d2_value_id kept = c2_node(ctx, D2_OP_BOX_BATCHED_NMS, 3, nms_in, (void **)&na);
    C2_CHECK(ctx, kept);
    na->iou_threshold = (float)nms;
    na->max_output = -1;
    na->order = D2_NMS_ORDER_BY_SCORE;
    /* max_det per image, listed by image then descending score */
    d2_value_id num_images = c2_reshape(ctx, c2_dim(ctx, ctx->inputs[1], 0), NULL, 0);
    d2_value_id kept_images = c2_gather(ctx, images, kept, 0);
    C2_CHECK(ctx, num_images);
    d2_value_id final = c2_gather(ctx, kept, c2_per_image_top_k(ctx, c2_gather(ctx, scores, kept, 0), kept_images,
                                                                num_images, max_det > 0 ? max_det : (int64_t)1 << 40), 0);
    C2_CHECK(ctx, final);
    struct d2_attrs_axis *ga;
    d2_value_id in[2] = { boxes, final };
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_GATHER, 2, in, (void **)&ga));
    ga->axis = 0;
    in[0] = scores;
    C2_CHECK(ctx, c2_node_named(ctx, 1, D2_OP_GATHER, 2, in, (void **)&ga));
    ga->axis = 0;
    d2_value_id cls = c2_gather(ctx, classes, final, 0);
    struct d2_attrs_cast *cast;
    C2_CHECK(ctx, cls);
    C2_CHECK(ctx, c2_node_named(ctx, 2, D2_OP_CAST, 1, &cls, (void **)&cast));
    cast->to = D2_DTYPE_F32;
    /* detections per image */
    d2_value_id range_in[3] = { c2_const_i64_scalar(ctx, 0), num_images, c2_const_i64_scalar(ctx, 1) };
    d2_value_id all_images = c2_node(ctx, D2_OP_RANGE, 3, range_in, NULL);
    d2_value_id final_images = c2_reshape(ctx, c2_gather(ctx, images, final, 0), (const int64_t[]){ -1, 1 }, 2);
    d2_value_id hit = c2_cast(ctx, c2_binary(ctx, D2_OP_EQUAL, final_images, all_images), D2_DTYPE_F32);
    d2_value_id sum_in[2] = { hit, c2_const_i64(ctx, (const int64_t[]){ 0 }, 1) };
    struct d2_attrs_reduce *ra;
    C2_CHECK(ctx, hit);
    C2_CHECK(ctx, sum_in[1]);
    C2_CHECK(ctx, c2_node_named(ctx, 3, D2_OP_REDUCE_SUM, 2, sum_in, (void **)&ra));
    ra->keepdims = 0;
    return D2_OK;
}
