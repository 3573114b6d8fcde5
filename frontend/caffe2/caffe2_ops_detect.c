/* frontend/caffe2/caffe2_ops_detect.c: Caffe2's detection operators, lowered onto the
 * shared detection IR ops (ir/ops.def) plus generic IR ops. Semantics follow the
 * Caffe2 C++ operators (docs: detectron2-export.md §2.1, §3); every argument keeps
 * Caffe2's own default when absent (legacy_plus_one: true).
 *
 * GenerateProposals -> generate_proposals (one level, Caffe2's filter and per-level
 *   NMS; only upright boxes: 4-column anchors).
 * CollectRpnProposals(rois_0..L-1, probs_0..L-1) -> concat both, stable descending
 *   sort of the probs keeping the first rpn_post_nms_topN (ties: lower index first, as
 *   Caffe2's SortAndLimitRoIsByScores), rois gathered in that order. With 5-column rois
 *   (a batch index) the top-N is taken per image, grouped by image: Caffe2 took it over
 *   the whole batch, but detectron2's exports never ran a batch (batch 1 is the same
 *   either way), and per image is what gives every image the answer it gets alone.
 * 4-column rois that are a batched BoxWithNMSLimit's boxes (ctx->roi_images) get their
 *   image index as column 0 before DistributeFpnProposals / RoIAlign, so a batch pools
 *   each box from its own image (Caffe2 read 4 columns as image 0).
 * DistributeFpnProposals(rois) -> fpn_level_assign (epsilon 1e-6); rois of each level
 *   in their original order (non_zero of level == l, gather); rois_idx_restore_int32 =
 *   inverse of the stable level sort (argsort of the concatenated level order).
 * RoIAlign -> box_roi_align (NCHW; aligned from the argument, default false).
 * BatchPermutation(X, indices) -> gather(X, indices, axis 0): Y[i] = X[indices[i]].
 * BBoxTransform(rois, deltas, im_info) -> per roi r of image b = rois[r,0] (0 for
 *   4-column rois): boxes / im_info[b,2], box_decode (weights, legacy_plus_one),
 *   clip to [0, W - 1?] x [0, H - 1?] with H = int(im_info[b,0] / scale + 0.5) (the
 *   same for W), then * scale when apply_scale; roi_batch_splits[b] = rois of image b
 *   (f32).
 * BoxWithNMSLimit(scores [R,C], boxes [R,4*blocks], batch_splits?) -> candidates
 *   score > score_thresh over the foreground columns, box_batched_nms grouped by
 *   class (order by_id, detections_per_im over all classes, Caffe2's NaN-IoU rule),
 *   outputs scores, boxes, classes (f32), batch_splits (f32), keeps (i32 row indices),
 *   keeps_size (i32 [1,C], count per class column). Without batch_splits a single
 *   image is assumed. With it (rows of image b are the b-th run of batch_splits rows),
 *   NMS groups by (image, class), detections_per_im applies per image, the output is
 *   grouped by image then class, and batch_splits out = detections per image: what
 *   running each image alone gives (Caffe2 never supported detectron2 batches; keeps_size
 *   still counts over the whole batch).
 */
#include "frontend/caffe2/caffe2_internal.h"

#include <math.h>
#include <string.h>

static enum d2_status reject_rotated(struct c2_op_ctx *ctx)
{
    return c2_arg_require(ctx, "rotated", 0, 0);
}

/* Number of columns of a rank-2 value, or -1 when unknown. */
static int64_t columns(const struct c2_op_ctx *ctx, d2_value_id v)
{
    const struct d2_type *t = c2_type(ctx, v);
    return t->rank == 2 ? t->dims[1] : -1;
}

static enum d2_status conv_generate_proposals(struct c2_op_ctx *ctx)
{
    struct d2_attrs_generate_proposals *a;
    int64_t correct;
    const char *names[2] = { ctx->output_names ? ctx->output_names[0] : NULL,
                             ctx->output_names ? ctx->output_names[1] : NULL };
    C2_TRY(c2_check_arity(ctx, 4, 4, 2, 2));
    if (columns(ctx, ctx->inputs[3]) == 5)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "rotated anchors (5 columns) are not supported");
    /* Old nets: correct_transform_coords=0 means +1 widths but no -1 on x2/y2, a mix
     * that legacy_plus_one cannot express. */
    C2_TRY(c2_arg_int(ctx, "correct_transform_coords", 1, &correct));
    if (!correct)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "correct_transform_coords=0 is not supported");
    int32_t node = c2_emit(ctx, D2_OP_GENERATE_PROPOSALS, 4, ctx->inputs, 2, names, (void **)&a);
    if (node < 0)
        return ctx->err->code;
    ctx->outputs[0] = d2_node_output(ctx->g, node, 0);
    ctx->outputs[1] = d2_node_output(ctx->g, node, 1);
    C2_TRY(c2_arg_float(ctx, "spatial_scale", 1.0 / 16.0, &a->spatial_scale));
    C2_TRY(c2_arg_int(ctx, "pre_nms_topN", 6000, &a->pre_nms_topn));
    C2_TRY(c2_arg_int(ctx, "post_nms_topN", 300, &a->post_nms_topn));
    C2_TRY(c2_arg_float(ctx, "nms_thresh", 0.7, &a->nms_threshold));
    C2_TRY(c2_arg_float(ctx, "min_size", 16.0, &a->min_size));
    return c2_arg_int(ctx, "legacy_plus_one", 1, &a->legacy_plus_one);
}

/* Positions to keep of the entries (scores [n], image [n] i64, num_images i64 scalar):
 * at most k per image, the highest scores first (ties: lower index first), listed by
 * image, then descending score. Two stable sorts give the (image, -score, index) order;
 * an entry's rank within its image is its position minus the entries of lower images. */
d2_value_id c2_per_image_top_k(struct c2_op_ctx *ctx, d2_value_id scores, d2_value_id image,
                                   d2_value_id num_images, int64_t k)
{
    struct d2_attrs_sort *sa;
    struct d2_attrs_reduce *ra;
    struct d2_attrs_cum_sum *cs;
    int32_t by_score = c2_emit(ctx, D2_OP_SORT, 1, &scores, 2, NULL, (void **)&sa);
    if (by_score < 0)
        return D2_NO_VALUE;
    sa->axis = 0;
    sa->descending = 1;
    d2_value_id order1 = d2_node_output(ctx->g, by_score, 1);
    d2_value_id image1 = c2_gather(ctx, image, order1, 0);
    if (image1 == D2_NO_VALUE)
        return D2_NO_VALUE;
    int32_t by_image = c2_emit(ctx, D2_OP_SORT, 1, &image1, 2, NULL, (void **)&sa);
    if (by_image < 0)
        return D2_NO_VALUE;
    sa->axis = 0;
    sa->descending = 0;
    d2_value_id sorted_image = d2_node_output(ctx->g, by_image, 0);
    d2_value_id perm = c2_gather(ctx, order1, d2_node_output(ctx->g, by_image, 1), 0);
    /* entries per image, then where each image starts */
    d2_value_id range_in[3] = { c2_const_i64_scalar(ctx, 0), num_images, c2_const_i64_scalar(ctx, 1) };
    d2_value_id images = c2_node(ctx, D2_OP_RANGE, 3, range_in, NULL);                          /* [N] */
    d2_value_id hit = c2_cast(ctx, c2_binary(ctx, D2_OP_EQUAL, c2_reshape(ctx, image, (const int64_t[]){ -1, 1 }, 2),
                                             images), D2_DTYPE_I64);                             /* [n,N] */
    d2_value_id sum_in[2] = { hit, c2_const_i64(ctx, (const int64_t[]){ 0 }, 1) };
    if (hit == D2_NO_VALUE || sum_in[1] == D2_NO_VALUE || perm == D2_NO_VALUE)
        return D2_NO_VALUE;
    d2_value_id counts = c2_node(ctx, D2_OP_REDUCE_SUM, 2, sum_in, (void **)&ra);
    if (counts == D2_NO_VALUE)
        return D2_NO_VALUE;
    ra->keepdims = 0;
    d2_value_id cum_in[2] = { counts, c2_const_i64_scalar(ctx, 0) };
    d2_value_id starts = c2_node(ctx, D2_OP_CUM_SUM, 2, cum_in, (void **)&cs);
    if (starts == D2_NO_VALUE)
        return D2_NO_VALUE;
    cs->exclusive = 1;
    d2_value_id pos_in[3] = { c2_const_i64_scalar(ctx, 0), c2_reshape(ctx, c2_dim(ctx, scores, 0), NULL, 0),
                              c2_const_i64_scalar(ctx, 1) };
    d2_value_id positions = c2_node(ctx, D2_OP_RANGE, 3, pos_in, NULL);
    d2_value_id rank = c2_binary(ctx, D2_OP_SUB, positions, c2_gather(ctx, starts, sorted_image, 0));
    d2_value_id keep = c2_unary(ctx, D2_OP_NON_ZERO, c2_binary(ctx, D2_OP_LESS, rank, c2_const_scalar(ctx, D2_DTYPE_I64, (double)k)));
    return c2_gather(ctx, perm, c2_reshape(ctx, keep, (const int64_t[]){ -1 }, 1), 0);
}

static enum d2_status conv_collect_rpn_proposals(struct c2_op_ctx *ctx)
{
    int64_t max_level, min_level, top_n;
    struct d2_attrs_axis *ca;
    struct d2_attrs_sort *sa;
    C2_TRY(c2_arg_int(ctx, "rpn_max_level", 6, &max_level));
    C2_TRY(c2_arg_int(ctx, "rpn_min_level", 2, &min_level));
    /* Older Caffe2 read "post_nms_topN"; later versions "rpn_post_nms_topN". */
    C2_TRY(c2_arg_int(ctx, "post_nms_topN", 2000, &top_n));
    C2_TRY(c2_arg_int(ctx, "rpn_post_nms_topN", top_n, &top_n));
    int64_t levels = max_level - min_level + 1;
    if (levels < 1 || levels > 64 || ctx->num_inputs != 2 * levels)
        return c2_error(ctx, D2_ERR_PARSE, "%u inputs, expected 2 * %lld (rois then scores of levels %lld..%lld)",
                        ctx->num_inputs, (long long)levels, (long long)min_level, (long long)max_level);
    C2_TRY(c2_check_arity(ctx, 2, 128, 1, 1));
    uint32_t n = (uint32_t)levels;
    d2_value_id rois = c2_node(ctx, D2_OP_CONCAT, n, ctx->inputs, (void **)&ca);
    C2_CHECK(ctx, rois);
    ca->axis = 0;
    d2_value_id probs = c2_node(ctx, D2_OP_CONCAT, n, ctx->inputs + n, (void **)&ca);
    C2_CHECK(ctx, probs);
    ca->axis = 0;
    if (columns(ctx, ctx->inputs[0]) == 5 && top_n > 0) {
        /* top_n per image; the image count is the largest batch index + 1 */
        d2_value_id batch_idx = c2_reshape(ctx, c2_cast(ctx, c2_slice(ctx, rois, 1, 0, 1), D2_DTYPE_I64),
                                           (const int64_t[]){ -1 }, 1);
        d2_value_id with_floor_in[2] = { batch_idx, c2_const_i64(ctx, (const int64_t[]){ -1 }, 1) };
        struct d2_attrs_axis *cat;
        C2_CHECK(ctx, batch_idx);
        C2_CHECK(ctx, with_floor_in[1]);
        d2_value_id with_floor = c2_node(ctx, D2_OP_CONCAT, 2, with_floor_in, (void **)&cat);
        C2_CHECK(ctx, with_floor);
        cat->axis = 0;
        struct d2_attrs_reduce *ra;
        d2_value_id max_idx = c2_node(ctx, D2_OP_REDUCE_MAX, 1, &with_floor, (void **)&ra);
        C2_CHECK(ctx, max_idx);
        ra->keepdims = 0;
        d2_value_id num_images = c2_binary(ctx, D2_OP_ADD, max_idx, c2_const_scalar(ctx, D2_DTYPE_I64, 1.0));
        C2_CHECK(ctx, num_images);
        d2_value_id keep = c2_per_image_top_k(ctx, probs, batch_idx, num_images, top_n);
        C2_CHECK(ctx, keep);
        d2_value_id gin[2] = { rois, keep };
        struct d2_attrs_axis *ga;
        C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_GATHER, 2, gin, (void **)&ga));
        ga->axis = 0;
        return D2_OK;
    }
    d2_value_id sort_in[2] = { probs, top_n > 0 ? c2_const_i64_scalar(ctx, top_n) : D2_NO_VALUE };
    if (top_n > 0)
        C2_CHECK(ctx, sort_in[1]);
    int32_t sort = c2_emit(ctx, D2_OP_SORT, top_n > 0 ? 2 : 1, sort_in, 2, NULL, (void **)&sa);
    if (sort < 0)
        return ctx->err->code;
    sa->axis = 0;
    sa->descending = 1;
    d2_value_id in[2] = { rois, d2_node_output(ctx->g, sort, 1) };
    struct d2_attrs_axis *ga;
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_GATHER, 2, in, (void **)&ga));
    ga->axis = 0;
    return D2_OK;
}

/* rois, or [image, rois] when rois are 4-column boxes of known images (header). */
static d2_value_id with_known_images(struct c2_op_ctx *ctx, d2_value_id rois)
{
    if (!ctx->roi_images || columns(ctx, rois) != 4)
        return rois;
    for (uint32_t i = 0; i < ctx->roi_images->count; i++) {
        if (ctx->roi_images->boxes[i] != rois)
            continue;
        d2_value_id image = c2_reshape(ctx, c2_cast(ctx, ctx->roi_images->image[i], D2_DTYPE_F32),
                                       (const int64_t[]){ -1, 1 }, 2);
        d2_value_id in[2] = { image, rois };
        struct d2_attrs_axis *ca;
        if (image == D2_NO_VALUE)
            return D2_NO_VALUE;
        d2_value_id out = c2_node(ctx, D2_OP_CONCAT, 2, in, (void **)&ca);
        if (out != D2_NO_VALUE)
            ca->axis = 1;
        return out;
    }
    return rois;
}

static enum d2_status conv_distribute_fpn_proposals(struct c2_op_ctx *ctx)
{
    int64_t max_level, min_level, canonical_level;
    double canonical_scale;
    struct d2_attrs_fpn_level_assign *fa;
    struct d2_attrs_sort *sa;
    C2_TRY(c2_arg_int(ctx, "roi_max_level", 5, &max_level));
    C2_TRY(c2_arg_int(ctx, "roi_min_level", 2, &min_level));
    C2_TRY(c2_arg_int(ctx, "roi_canonical_level", 4, &canonical_level));
    C2_TRY(c2_arg_float(ctx, "roi_canonical_scale", 224.0, &canonical_scale));
    int64_t levels = max_level - min_level + 1;
    if (levels < 1 || levels > 64 || ctx->num_outputs != levels + 1)
        return c2_error(ctx, D2_ERR_PARSE, "%u outputs, expected %lld (rois of levels %lld..%lld, then the restore index)",
                        ctx->num_outputs, (long long)(levels + 1), (long long)min_level, (long long)max_level);
    C2_TRY(c2_check_arity(ctx, 1, 1, 2, 65));
    d2_value_id rois = with_known_images(ctx, ctx->inputs[0]);
    C2_CHECK(ctx, rois);
    d2_value_id level = c2_node(ctx, D2_OP_FPN_LEVEL_ASSIGN, 1, &rois, (void **)&fa);
    C2_CHECK(ctx, level);
    fa->canonical_scale = canonical_scale;
    fa->canonical_level = canonical_level;
    fa->min_level = min_level;
    fa->max_level = max_level;
    fa->epsilon = 1e-6; /* Caffe2's MapRoIsToFpnLevels */
    fa->dtype = D2_DTYPE_I64;
    C2_TRY(c2_arg_int(ctx, "legacy_plus_one", 1, &fa->legacy_plus_one));
    for (int64_t l = 0; l < levels; l++) {
        d2_value_id is_l = c2_binary(ctx, D2_OP_EQUAL, level, c2_const_i64(ctx, &l, 1));
        d2_value_id where = c2_unary(ctx, D2_OP_NON_ZERO, is_l); /* [1, n], ascending */
        int64_t flat = -1;
        d2_value_id idx = c2_reshape(ctx, where, &flat, 1);
        C2_CHECK(ctx, idx);
        d2_value_id in[2] = { rois, idx };
        struct d2_attrs_axis *ga;
        C2_CHECK(ctx, c2_node_named(ctx, (uint32_t)l, D2_OP_GATHER, 2, in, (void **)&ga));
        ga->axis = 0;
    }
    /* The concatenated per-level results are rois in stable level order; the restore
     * index is the inverse of that permutation. */
    int32_t by_level = c2_emit(ctx, D2_OP_SORT, 1, &level, 2, NULL, (void **)&sa);
    if (by_level < 0)
        return ctx->err->code;
    sa->axis = 0;
    sa->descending = 0;
    d2_value_id order = d2_node_output(ctx->g, by_level, 1);
    int32_t inverse = c2_emit(ctx, D2_OP_SORT, 1, &order, 2, NULL, (void **)&sa);
    if (inverse < 0)
        return ctx->err->code;
    sa->axis = 0;
    sa->descending = 0;
    d2_value_id restore = d2_node_output(ctx->g, inverse, 1);
    struct d2_attrs_cast *ca;
    C2_CHECK(ctx, c2_node_named(ctx, (uint32_t)levels, D2_OP_CAST, 1, &restore, (void **)&ca));
    ca->to = D2_DTYPE_I32;
    return D2_OK;
}

static enum d2_status conv_roi_align(struct c2_op_ctx *ctx)
{
    struct d2_attrs_box_roi_align *a;
    C2_TRY(c2_check_arity(ctx, 2, 2, 1, 1));
    C2_TRY(c2_require_nchw(ctx));
    d2_value_id in[2] = { ctx->inputs[0], with_known_images(ctx, ctx->inputs[1]) };
    C2_CHECK(ctx, in[1]);
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_BOX_ROI_ALIGN, 2, in, (void **)&a));
    a->mode = D2_ROI_POOL_AVG;
    C2_TRY(c2_arg_float(ctx, "spatial_scale", 1.0, &a->spatial_scale));
    C2_TRY(c2_arg_int(ctx, "pooled_h", 1, &a->pooled_h));
    C2_TRY(c2_arg_int(ctx, "pooled_w", 1, &a->pooled_w));
    C2_TRY(c2_arg_int(ctx, "sampling_ratio", -1, &a->sampling_ratio));
    return c2_arg_int(ctx, "aligned", 0, &a->aligned);
}

static enum d2_status conv_batch_permutation(struct c2_op_ctx *ctx)
{
    struct d2_attrs_axis *a;
    C2_TRY(c2_check_arity(ctx, 2, 2, 1, 1));
    d2_value_id in[2] = { ctx->inputs[0], c2_cast(ctx, ctx->inputs[1], D2_DTYPE_I64) };
    C2_CHECK(ctx, in[1]);
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_GATHER, 2, in, (void **)&a));
    a->axis = 0;
    return D2_OK;
}

static enum d2_status conv_bbox_transform(struct c2_op_ctx *ctx)
{
    double weights[4] = { 1, 1, 1, 1 };
    uint32_t n_weights;
    int64_t apply_scale, plus_one;
    struct d2_attrs_box_decode *da;
    C2_TRY(c2_check_arity(ctx, 3, 3, 1, 2));
    C2_TRY(reject_rotated(ctx));
    C2_TRY(c2_arg_floats(ctx, "weights", weights, 4, &n_weights));
    if (n_weights != 0 && n_weights != 4)
        return c2_error(ctx, D2_ERR_PARSE, "argument 'weights' has %u values, expected 4", n_weights);
    if (n_weights == 0)
        weights[0] = weights[1] = weights[2] = weights[3] = 1.0;
    C2_TRY(c2_arg_int(ctx, "apply_scale", 1, &apply_scale));
    C2_TRY(c2_arg_int(ctx, "legacy_plus_one", 1, &plus_one));
    d2_value_id rois = ctx->inputs[0], deltas = ctx->inputs[1], im_info = ctx->inputs[2];
    int64_t cols = columns(ctx, rois);
    if (cols != 4 && cols != 5)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "rois must be [R,4] or [R,5] with the column count known at import");

    /* im_info row of each roi: [R,3] (5 columns), or row 0 broadcast ([1,3]). */
    d2_value_id info, batch_idx = D2_NO_VALUE;
    if (cols == 5) {
        batch_idx = c2_reshape(ctx, c2_cast(ctx, c2_slice(ctx, rois, 1, 0, 1), D2_DTYPE_I64), (const int64_t[]){-1}, 1);
        info = c2_gather(ctx, im_info, batch_idx, 0);
    } else {
        info = c2_slice(ctx, im_info, 0, 0, 1);
    }
    d2_value_id scale = c2_slice(ctx, info, 1, 2, 3);                            /* [R,1] */
    d2_value_id boxes = c2_binary(ctx, D2_OP_DIV, c2_slice(ctx, rois, 1, cols - 4, cols), scale);
    d2_value_id dec_in[2] = { boxes, deltas };
    C2_CHECK(ctx, boxes);
    d2_value_id decoded = c2_node(ctx, D2_OP_BOX_DECODE, 2, dec_in, (void **)&da);
    C2_CHECK(ctx, decoded);
    C2_TRY(d2_graph_set_floats(ctx->g, &da->weights, weights, 4, ctx->err));
    da->legacy_plus_one = plus_one;
    /* da->scale_clamp keeps its default log(1000/16), Caffe2's BBOX_XFORM_CLIP_DEFAULT */

    /* Clip bounds: int(h / scale + 0.5) - plus_one, computed in double like C++'s
     * float + 0.5 promotion, then back to the boxes' float. */
    d2_value_id hw = c2_binary(ctx, D2_OP_DIV, c2_slice(ctx, info, 1, 0, 2), scale); /* [R,2] f32 */
    d2_value_id hw64 = c2_binary(ctx, D2_OP_ADD, c2_cast(ctx, hw, D2_DTYPE_F64), c2_const_scalar(ctx, D2_DTYPE_F64, 0.5));
    d2_value_id bound = c2_binary(ctx, D2_OP_SUB, c2_unary(ctx, D2_OP_FLOOR, hw64),
                                  c2_const_scalar(ctx, D2_DTYPE_F64, (double)plus_one));
    bound = c2_cast(ctx, bound, D2_DTYPE_F32);
    /* (x_max, y_max, x_max, y_max) per roi, as [R,1,4] against decoded [R,K,4]. */
    static const int64_t wh_order[4] = { 1, 0, 1, 0 };
    d2_value_id xyxy = c2_gather(ctx, bound, c2_const_i64(ctx, wh_order, 4), 1);
    d2_value_id bound3 = c2_reshape(ctx, xyxy, (const int64_t[]){ 0, 1, 4 }, 3);
    d2_value_id dec3 = c2_reshape(ctx, decoded, (const int64_t[]){ 0, -1, 4 }, 3);
    d2_value_id clipped = c2_binary(ctx, D2_OP_MAX, c2_binary(ctx, D2_OP_MIN, dec3, bound3),
                                    c2_const_scalar(ctx, D2_DTYPE_F32, 0.0));
    d2_value_id in[2] = { c2_reshape(ctx, clipped, (const int64_t[]){ 0, -1 }, 2), scale };
    C2_CHECK(ctx, in[0]);
    if (apply_scale)
        C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_MUL, 2, in, NULL));
    else
        C2_CHECK(ctx, c2_identity_named(ctx, 0, in[0]));

    if (ctx->num_outputs > 1) {
        /* roi_batch_splits [B] f32: rois per image. */
        d2_value_id splits;
        if (cols == 5) {
            d2_value_id range_in[3] = { c2_const_i64_scalar(ctx, 0),
                                        c2_reshape(ctx, c2_dim(ctx, im_info, 0), NULL, 0),
                                        c2_const_i64_scalar(ctx, 1) };
            C2_CHECK(ctx, range_in[1]);
            d2_value_id images = c2_node(ctx, D2_OP_RANGE, 3, range_in, NULL);                     /* [B] */
            d2_value_id col = c2_reshape(ctx, batch_idx, (const int64_t[]){ -1, 1 }, 2);           /* [R,1] */
            d2_value_id hit = c2_cast(ctx, c2_binary(ctx, D2_OP_EQUAL, col, images), D2_DTYPE_F32); /* [R,B] */
            d2_value_id axes = c2_const_i64(ctx, (const int64_t[]){ 0 }, 1);
            d2_value_id sum_in[2] = { hit, axes };
            struct d2_attrs_reduce *ra;
            C2_CHECK(ctx, hit);
            C2_CHECK(ctx, axes);
            splits = c2_node_named(ctx, 1, D2_OP_REDUCE_SUM, 2, sum_in, (void **)&ra);
            if (splits != D2_NO_VALUE)
                ra->keepdims = 0;
        } else {
            d2_value_id count = c2_dim(ctx, rois, 0);
            C2_CHECK(ctx, count);
            struct d2_attrs_cast *ca;
            splits = c2_node_named(ctx, 1, D2_OP_CAST, 1, &count, (void **)&ca);
            if (splits != D2_NO_VALUE)
                ca->to = D2_DTYPE_F32;
        }
        C2_CHECK(ctx, splits);
    }
    return D2_OK;
}

static enum d2_status conv_box_with_nms_limit(struct c2_op_ctx *ctx)
{
    double score_thresh, nms;
    int64_t per_image, soft, agnostic, boxes_bg, classes_bg, plus_one;
    C2_TRY(c2_check_arity(ctx, 2, 3, 1, 6));
    C2_TRY(reject_rotated(ctx));
    C2_TRY(c2_arg_int(ctx, "soft_nms_enabled", 0, &soft));
    if (soft)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "soft-NMS (soft_nms_enabled=1) is not supported");
    C2_TRY(c2_arg_float(ctx, "score_thresh", 0.05, &score_thresh));
    C2_TRY(c2_arg_float(ctx, "nms", 0.3, &nms));
    C2_TRY(c2_arg_int(ctx, "detections_per_im", 100, &per_image));
    C2_TRY(c2_arg_int(ctx, "cls_agnostic_bbox_reg", 0, &agnostic));
    C2_TRY(c2_arg_int(ctx, "input_boxes_include_bg_cls", 1, &boxes_bg));
    C2_TRY(c2_arg_int(ctx, "output_classes_include_bg_cls", 1, &classes_bg));
    C2_TRY(c2_arg_int(ctx, "legacy_plus_one", 1, &plus_one));
    d2_value_id scores = ctx->inputs[0], boxes = ctx->inputs[1];
    int64_t num_classes = columns(ctx, scores); /* -1: known only at run time */
    if (num_classes >= 0 && num_classes < 2)
        return c2_error(ctx, D2_ERR_SHAPE, "scores have %lld columns, expected background + classes",
                        (long long)num_classes);
    bool batched = ctx->num_inputs == 3;

    /* Foreground score columns: class j = 1..C-1 reads column j - 1 + boxes_bg, i.e.
     * columns [1, C) or [0, C-1) (background last). */
    d2_value_id fg_scores = c2_slice(ctx, scores, 1, boxes_bg ? 1 : 0, boxes_bg ? INT64_MAX : -1); /* [R,C-1] */
    d2_value_id thresh = c2_const_scalar(ctx, c2_type(ctx, scores)->dtype == D2_DTYPE_F64 ? D2_DTYPE_F64 : D2_DTYPE_F32,
                                         score_thresh);
    d2_value_id cand = c2_unary(ctx, D2_OP_NON_ZERO, c2_binary(ctx, D2_OP_GREATER, fg_scores, thresh)); /* [2,n] */
    d2_value_id rows = c2_reshape(ctx, c2_slice(ctx, cand, 0, 0, 1), (const int64_t[]){ -1 }, 1);
    d2_value_id cls = c2_reshape(ctx, c2_slice(ctx, cand, 0, 1, 2), (const int64_t[]){ -1 }, 1);  /* 0-based fg */
    d2_value_id coords = c2_unary(ctx, D2_OP_TRANSPOSE, cand);                                       /* [n,2] */
    d2_value_id gn_in[2] = { fg_scores, coords };
    C2_CHECK(ctx, coords);
    d2_value_id cand_scores = c2_node(ctx, D2_OP_GATHER_ND, 2, gn_in, NULL);                       /* [n] */
    d2_value_id cand_boxes;
    if (agnostic) {
        cand_boxes = c2_gather(ctx, c2_slice(ctx, boxes, 1, 0, 4), rows, 0);
    } else {
        /* Box block of class j: j (boxes include background) or j - 1. */
        d2_value_id blocks = c2_reshape(ctx, boxes, (const int64_t[]){ 0, -1, 4 }, 3);
        d2_value_id fg_blocks = boxes_bg ? c2_slice(ctx, blocks, 1, 1, INT64_MAX) : blocks;
        d2_value_id in[2] = { fg_blocks, coords };
        C2_CHECK(ctx, fg_blocks);
        cand_boxes = c2_node(ctx, D2_OP_GATHER_ND, 2, in, NULL);                                   /* [n,4] */
    }
    C2_CHECK(ctx, cand_scores);
    C2_CHECK(ctx, cand_boxes);
    C2_CHECK(ctx, cls);
    /* With batch_splits: image of each row (rows of image b follow those of b - 1), and
     * NMS groups by (image, class). */
    d2_value_id cand_image = D2_NO_VALUE, num_images = D2_NO_VALUE, group = cls;
    if (batched) {
        d2_value_id splits = c2_cast(ctx, ctx->inputs[2], D2_DTYPE_I64);
        d2_value_id cum_in[2] = { splits, c2_const_i64_scalar(ctx, 0) };
        C2_CHECK(ctx, splits);
        d2_value_id ends = c2_node(ctx, D2_OP_CUM_SUM, 2, cum_in, NULL);                              /* [N] */
        d2_value_id row_in[3] = { c2_const_i64_scalar(ctx, 0), c2_reshape(ctx, c2_dim(ctx, scores, 0), NULL, 0),
                                  c2_const_i64_scalar(ctx, 1) };
        C2_CHECK(ctx, row_in[1]);
        d2_value_id row_ids = c2_reshape(ctx, c2_node(ctx, D2_OP_RANGE, 3, row_in, NULL), (const int64_t[]){ -1, 1 }, 2);
        d2_value_id past = c2_cast(ctx, c2_binary(ctx, D2_OP_GREATER_EQUAL, row_ids, ends), D2_DTYPE_I64); /* [R,N] */
        d2_value_id sum_in[2] = { past, c2_const_i64(ctx, (const int64_t[]){ 1 }, 1) };
        struct d2_attrs_reduce *ra;
        C2_CHECK(ctx, past);
        C2_CHECK(ctx, sum_in[1]);
        d2_value_id row_image = c2_node(ctx, D2_OP_REDUCE_SUM, 2, sum_in, (void **)&ra);                   /* [R] */
        C2_CHECK(ctx, row_image);
        ra->keepdims = 0;
        cand_image = c2_gather(ctx, row_image, rows, 0);
        num_images = c2_reshape(ctx, c2_dim(ctx, ctx->inputs[2], 0), NULL, 0);
        d2_value_id fg = c2_reshape(ctx, c2_dim(ctx, fg_scores, 1), NULL, 0);
        group = c2_binary(ctx, D2_OP_ADD, c2_binary(ctx, D2_OP_MUL, cand_image, fg), cls);
        C2_CHECK(ctx, group);
        C2_CHECK(ctx, num_images);
    }
    struct d2_attrs_box_nms *na;
    d2_value_id nms_in[3] = { cand_boxes, cand_scores, group };
    d2_value_id kept = c2_node(ctx, D2_OP_BOX_BATCHED_NMS, 3, nms_in, (void **)&na);
    C2_CHECK(ctx, kept);
    na->iou_threshold = (float)nms;
    na->max_output = per_image > 0 && !batched ? per_image : -1;
    na->legacy_plus_one = plus_one;
    na->nan_iou_suppresses = 1;
    na->order = D2_NMS_ORDER_BY_ID;
    d2_value_id kept_image = D2_NO_VALUE;
    if (batched) {
        kept_image = c2_gather(ctx, cand_image, kept, 0);
        C2_CHECK(ctx, kept_image);
        if (per_image > 0) {
            /* detections_per_im per image, then back to the (image, class) order */
            struct d2_attrs_sort *sa;
            d2_value_id top = c2_per_image_top_k(ctx, c2_gather(ctx, cand_scores, kept, 0), kept_image, num_images,
                                              per_image);
            C2_CHECK(ctx, top);
            int32_t restore = c2_emit(ctx, D2_OP_SORT, 1, &top, 2, NULL, (void **)&sa);
            if (restore < 0)
                return ctx->err->code;
            sa->axis = 0;
            sa->descending = 0;
            d2_value_id in_order = d2_node_output(ctx->g, restore, 0);
            kept = c2_gather(ctx, kept, in_order, 0);
            kept_image = c2_gather(ctx, kept_image, in_order, 0);
            C2_CHECK(ctx, kept);
            C2_CHECK(ctx, kept_image);
        }
    }

    struct d2_attrs_axis *ga;
    d2_value_id in[2] = { cand_scores, kept };
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_GATHER, 2, in, (void **)&ga));
    ga->axis = 0;
    if (ctx->num_outputs > 1) {
        in[0] = cand_boxes;
        C2_CHECK(ctx, c2_node_named(ctx, 1, D2_OP_GATHER, 2, in, (void **)&ga));
        ga->axis = 0;
        if (batched && ctx->roi_images && ctx->roi_images->count < C2_MAX_ROI_IMAGES) {
            ctx->roi_images->boxes[ctx->roi_images->count] = ctx->outputs[1];
            ctx->roi_images->image[ctx->roi_images->count++] = kept_image;
        }
    }
    d2_value_id kept_cls = c2_gather(ctx, cls, kept, 0);
    if (classes_bg)
        kept_cls = c2_binary(ctx, D2_OP_ADD, kept_cls, c2_const_scalar(ctx, D2_DTYPE_I64, 1));
    C2_CHECK(ctx, kept_cls);
    struct d2_attrs_cast *ca;
    if (ctx->num_outputs > 2) {
        C2_CHECK(ctx, c2_node_named(ctx, 2, D2_OP_CAST, 1, &kept_cls, (void **)&ca));
        ca->to = D2_DTYPE_F32;
    }
    if (ctx->num_outputs > 3 && batched) {
        /* detections per image: [N] */
        d2_value_id range_in[3] = { c2_const_i64_scalar(ctx, 0), num_images, c2_const_i64_scalar(ctx, 1) };
        d2_value_id images = c2_node(ctx, D2_OP_RANGE, 3, range_in, NULL);
        d2_value_id hit = c2_cast(ctx, c2_binary(ctx, D2_OP_EQUAL, c2_reshape(ctx, kept_image, (const int64_t[]){ -1, 1 }, 2),
                                                 images), D2_DTYPE_F32);
        d2_value_id sum_in[2] = { hit, c2_const_i64(ctx, (const int64_t[]){ 0 }, 1) };
        struct d2_attrs_reduce *ra;
        C2_CHECK(ctx, hit);
        C2_CHECK(ctx, sum_in[1]);
        C2_CHECK(ctx, c2_node_named(ctx, 3, D2_OP_REDUCE_SUM, 2, sum_in, (void **)&ra));
        ra->keepdims = 0;
    } else if (ctx->num_outputs > 3) {
        d2_value_id count = c2_dim(ctx, kept, 0);
        C2_CHECK(ctx, count);
        C2_CHECK(ctx, c2_node_named(ctx, 3, D2_OP_CAST, 1, &count, (void **)&ca));
        ca->to = D2_DTYPE_F32;
    }
    if (ctx->num_outputs > 4) {
        d2_value_id kept_rows = c2_gather(ctx, rows, kept, 0);
        C2_CHECK(ctx, kept_rows);
        C2_CHECK(ctx, c2_node_named(ctx, 4, D2_OP_CAST, 1, &kept_rows, (void **)&ca));
        ca->to = D2_DTYPE_I32;
    }
    if (ctx->num_outputs > 5) {
        /* keeps_size [1, C]: kept boxes per class j (column 0, background, stays 0). */
        d2_value_id j = kept_cls;
        if (!classes_bg)
            j = c2_binary(ctx, D2_OP_ADD, j, c2_const_scalar(ctx, D2_DTYPE_I64, 1));
        int32_t one_hot_values[2] = { 0, 1 };
        struct d2_tensor tv;
        int64_t two = 2;
        if (d2_tensor_alloc(&tv, ctx->g->alloc, D2_DTYPE_I32, 1, &two, ctx->err) != D2_OK)
            return ctx->err->code;
        memcpy(tv.data, one_hot_values, sizeof one_hot_values);
        d2_value_id oh_in[3] = { j, c2_reshape(ctx, c2_dim(ctx, scores, 1), NULL, 0),
                                 d2_graph_add_constant(ctx->g, NULL, &tv, ctx->err) };
        C2_CHECK(ctx, j);
        C2_CHECK(ctx, oh_in[1]);
        C2_CHECK(ctx, oh_in[2]);
        d2_value_id hot = c2_node(ctx, D2_OP_ONE_HOT, 3, oh_in, NULL);                              /* [n,C] */
        d2_value_id sum_in[2] = { hot, c2_const_i64(ctx, (const int64_t[]){ 0 }, 1) };
        C2_CHECK(ctx, hot);
        C2_CHECK(ctx, sum_in[1]);
        C2_CHECK(ctx, c2_node_named(ctx, 5, D2_OP_REDUCE_SUM, 2, sum_in, NULL));                 /* [1,C] */
    }
    return D2_OK;
}

static enum d2_status conv_detect_unsupported(struct c2_op_ctx *ctx)
{
    return c2_error(ctx, D2_ERR_UNSUPPORTED, "%s",
                    strcmp(ctx->type, "RoIAlignRotated") == 0
                        ? "rotated boxes are not supported"
                        : "HeatmapMaxKeypoint (Caffe2's Taylor-expansion keypoint decoding) has no d2rt op; "
                          "export with it off (the default) and decode keypoints with heatmaps_to_keypoints");
}

c2_convert_fn c2_find_detect_op(const char *type)
{
    static const struct { const char *type; c2_convert_fn fn; } table[] = {
        {"GenerateProposals", conv_generate_proposals},
        {"CollectRpnProposals", conv_collect_rpn_proposals},
        {"DistributeFpnProposals", conv_distribute_fpn_proposals},
        {"RoIAlign", conv_roi_align},
        {"BatchPermutation", conv_batch_permutation},
        {"BBoxTransform", conv_bbox_transform},
        {"BoxWithNMSLimit", conv_box_with_nms_limit},
        {"RoIAlignRotated", conv_detect_unsupported},
        {"HeatmapMaxKeypoint", conv_detect_unsupported},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].type, type) == 0)
            return table[i].fn;
    return NULL;
}
