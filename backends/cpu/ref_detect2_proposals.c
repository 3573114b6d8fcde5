/* backends/cpu/ref_detect2_proposals.c: reference kernels of generate_proposals
 * (Caffe2) and find_top_rpn_proposals (detectron2 eager). Two ops rather than one
 * with a mode: their inputs differ (Caffe2 decodes raw deltas against cell anchors
 * per level; detectron2 receives decoded proposals of all levels), and so do their
 * filter, NMS scope and limits (docs: detectron2-export.md §3.2).
 *
 * generate_proposals(scores [N,A,H,W], bbox_deltas [N,4A,H,W], im_info [N,3] (height,
 * width, scale), anchors [A,4]) {spatial_scale, pre_nms_topn, post_nms_topn,
 * nms_threshold, min_size, legacy_plus_one} = Caffe2 GenerateProposals (upright boxes),
 * for each image n:
 *   1. candidates are the A*H*W positions in (A, H, W) order, sorted by descending raw
 *      score (stable, NaN first; Caffe2's partial_sort leaves ties unspecified), the
 *      first pre_nms_topn kept (<= 0: all);
 *   2. the anchor of (a, h, w) is anchors[a] + (w, h, w, h) * stride with
 *      stride = 1 / spatial_scale; its deltas are bbox_deltas[n, 4a..4a+3, h, w];
 *      decoded as box_decode with weights (1,1,1,1) and scale_clamp log(1000/16);
 *   3. clipped as box_clip to (int(height), int(width)) (Caffe2 takes them as ints);
 *   4. kept when w >= min_size * scale and h >= min_size * scale (w = x2-x1[+1]) and
 *      the centre x1 + w/2 < width and y1 + h/2 < height (so min_size 0 keeps
 *      zero-width boxes);
 *   5. greedy NMS (box_nms with nan_iou_suppresses=1, Caffe2's rule) in score order,
 *      stopping after post_nms_topn kept (<= 0: no limit).
 *   Outputs: rois [R,5] rows (n, x1, y1, x2, y2) and probs [R] (the raw scores), image
 *   by image, in NMS order; scores' dtype.
 *
 * find_top_rpn_proposals(image_sizes [N,2] (height, width), proposals_l [N,M_l,4],
 * logits_l [N,M_l] for each level l) {pre_nms_topk, post_nms_topk, nms_threshold,
 * min_size} = detectron2 proposal_utils.find_top_rpn_proposals at inference, for each
 * image n:
 *   1. per level, the top min(M_l, pre_nms_topk) logits (descending, stable, NaN first);
 *      the candidates of all levels are concatenated in level order;
 *   2. candidates with a non-finite coordinate or logit are dropped;
 *   3. boxes are clipped to [0, width] x [0, height];
 *   4. kept when x2-x1 > min_size and y2-y1 > min_size (strict: min_size 0 drops
 *      zero-width boxes, unlike Caffe2);
 *   5. one batched NMS over all levels with the level as id (box_batched_nms, by
 *      score), then the first post_nms_topk.
 *   Outputs: rois [R,5] rows (n, x1, y1, x2, y2) in the proposals' dtype and the
 *   logits [R] in the logits' dtype, image by image, by descending logit.
 */
#include "ref_detect2.h"

#include <math.h>
#include <string.h>

enum d2_status d2_cpu_ref_generate_proposals(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_find_top_rpn_proposals(struct d2_kernel_ctx *ctx);

/* Per-kernel scratch and the growing result (rows of 5 and scores). */
struct proposal_work {
    struct det_box *box;
    double *score;
    int64_t *ids;
    int64_t *order;     /* 2 * cap: the second half is sort scratch */
    int64_t *kept;
    uint8_t *suppressed;
    double *out_rows;   /* out_cap * 5 */
    double *out_scores; /* out_cap */
    int64_t count;
};

static bool work_alloc(struct d2_kernel_ctx *ctx, struct proposal_work *w, int64_t cap, int64_t out_cap)
{
    size_t n = (size_t)(cap > 0 ? cap : 1), m = (size_t)(out_cap > 0 ? out_cap : 1);
    memset(w, 0, sizeof *w);
    w->box = d2_alloc(ctx->alloc, n * sizeof *w->box);
    w->score = d2_alloc(ctx->alloc, n * sizeof *w->score);
    w->ids = d2_alloc(ctx->alloc, n * sizeof *w->ids);
    w->order = d2_alloc(ctx->alloc, 2 * n * sizeof *w->order);
    w->kept = d2_alloc(ctx->alloc, n * sizeof *w->kept);
    w->suppressed = d2_alloc(ctx->alloc, n);
    w->out_rows = d2_alloc(ctx->alloc, m * 5 * sizeof *w->out_rows);
    w->out_scores = d2_alloc(ctx->alloc, m * sizeof *w->out_scores);
    return w->box && w->score && w->ids && w->order && w->kept && w->suppressed && w->out_rows && w->out_scores;
}

static void work_free(struct d2_kernel_ctx *ctx, struct proposal_work *w)
{
    d2_free(ctx->alloc, w->box);
    d2_free(ctx->alloc, w->score);
    d2_free(ctx->alloc, w->ids);
    d2_free(ctx->alloc, w->order);
    d2_free(ctx->alloc, w->kept);
    d2_free(ctx->alloc, w->suppressed);
    d2_free(ctx->alloc, w->out_rows);
    d2_free(ctx->alloc, w->out_scores);
}

static void append(struct proposal_work *w, int64_t image, const struct det_box *b, double score)
{
    double *row = &w->out_rows[w->count * 5];
    row[0] = (double)image;
    row[1] = b->x1;
    row[2] = b->y1;
    row[3] = b->x2;
    row[4] = b->y2;
    w->out_scores[w->count++] = score;
}

static enum d2_status write_outputs(struct d2_kernel_ctx *ctx, const struct proposal_work *w, enum d2_dtype roi_dtype,
                                    enum d2_dtype score_dtype)
{
    int64_t roi_dims[2] = { w->count, 5 }, score_dims[1] = { w->count };
    enum d2_status st = d2_det_output(ctx, 0, roi_dtype, 2, roi_dims);
    if (st == D2_OK)
        st = d2_det_output(ctx, 1, score_dtype, 1, score_dims);
    if (st != D2_OK)
        return st;
    for (int64_t i = 0; i < w->count * 5; i++)
        d2_store_f64(ctx->outputs[0].data, roi_dtype, (size_t)i, w->out_rows[i]);
    for (int64_t i = 0; i < w->count; i++)
        d2_store_f64(ctx->outputs[1].data, score_dtype, (size_t)i, w->out_scores[i]);
    return D2_OK;
}

/* ---- generate_proposals --------------------------------------------------------- */

enum d2_status d2_cpu_ref_generate_proposals(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_generate_proposals *a = ctx->node->attrs;
    const struct d2_tensor *scores = ctx->inputs[0], *deltas = ctx->inputs[1];
    const struct d2_tensor *im_info = ctx->inputs[2], *anchors = ctx->inputs[3];
    struct proposal_work w;
    enum d2_status st = D2_OK;

    if (scores->rank != 4 || deltas->rank != 4 || im_info->rank != 2 || anchors->rank != 2 ||
        deltas->dims[0] != scores->dims[0] || deltas->dims[1] != 4 * scores->dims[1] ||
        deltas->dims[2] != scores->dims[2] || deltas->dims[3] != scores->dims[3] ||
        im_info->dims[0] != scores->dims[0] || im_info->dims[1] != 3 || anchors->dims[0] != scores->dims[1] ||
        anchors->dims[1] != 4)
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "node '%s' (generate_proposals): need scores [N,A,H,W], bbox_deltas [N,4A,H,W], "
                         "im_info [N,3], anchors [A,4]", ctx->node->name);
    int64_t images = scores->dims[0], na = scores->dims[1], height = scores->dims[2], width = scores->dims[3];
    int64_t plane = height * width, total = na * plane;
    int64_t pre = a->pre_nms_topn > 0 && a->pre_nms_topn < total ? a->pre_nms_topn : total;
    int64_t per_image = a->post_nms_topn > 0 && a->post_nms_topn < pre ? a->post_nms_topn : pre;
    bool s = det_single(deltas->dtype);
    double plus_one = a->legacy_plus_one ? 1.0 : 0.0;
    double stride = det_round(s, 1.0 / det_round(s, a->spatial_scale));
    const double weights[4] = { 1, 1, 1, 1 };
    struct det_nms_rule rule = { a->nms_threshold, plus_one, true, s };

    if (!work_alloc(ctx, &w, total, images * per_image)) {
        st = d2_det_oom(ctx);
        goto done;
    }
    for (int64_t n = 0; n < images; n++) {
        double im_h = d2_load_f64(im_info->data, im_info->dtype, (size_t)(n * 3));
        double im_w = d2_load_f64(im_info->data, im_info->dtype, (size_t)(n * 3 + 1));
        double im_scale = d2_load_f64(im_info->data, im_info->dtype, (size_t)(n * 3 + 2));
        double min_size = a->min_size * im_scale;
        /* Caffe2's clip_boxes takes the image size as int. */
        double clip_h = fabs(im_h) < 9e18 ? trunc(im_h) : im_h, clip_w = fabs(im_w) < 9e18 ? trunc(im_w) : im_w;
        for (int64_t o = 0; o < total; o++) {
            w.score[o] = d2_load_f64(scores->data, scores->dtype, (size_t)(n * total + o));
            w.order[o] = o;
        }
        d2_det_sort_by_key(w.score, w.order, total, true, w.order + total);
        int64_t candidates = 0;
        for (int64_t i = 0; i < pre; i++) {
            int64_t o = w.order[i], an = o / plane, h = (o % plane) / width, x = o % width;
            double shift_x = det_round(s, (double)x * stride), shift_y = det_round(s, (double)h * stride);
            struct det_box anchor = d2_det_load_box(anchors, an, 4, 0, s), delta_box;
            anchor.x1 = det_round(s, anchor.x1 + shift_x);
            anchor.y1 = det_round(s, anchor.y1 + shift_y);
            anchor.x2 = det_round(s, anchor.x2 + shift_x);
            anchor.y2 = det_round(s, anchor.y2 + shift_y);
            double delta[4];
            for (int j = 0; j < 4; j++)
                delta[j] = det_round(s, d2_load_f64(deltas->data, deltas->dtype,
                                                    (size_t)(((n * 4 * na + 4 * an + j) * height + h) * width + x)));
            delta_box = d2_det_decode(&anchor, delta, weights, 4.135166556742356, plus_one, s);
            struct det_box b = d2_det_clip(&delta_box, det_round(s, clip_w - plus_one), det_round(s, clip_h - plus_one));
            double bw = det_round(s, b.x2 - b.x1 + plus_one), bh = det_round(s, b.y2 - b.y1 + plus_one);
            double cx = det_round(s, b.x1 + det_round(s, bw / 2)), cy = det_round(s, b.y1 + det_round(s, bh / 2));
            if (!(bw >= min_size && bh >= min_size && cx < im_w && cy < im_h))
                continue;
            /* Candidate slot `candidates` holds sorted position i's box and score. */
            w.box[candidates] = b;
            w.ids[candidates] = o;
            candidates++;
        }
        /* Visit the surviving candidates in score order (their slot order). */
        int64_t *visit = w.order + total; /* sort scratch is free again */
        double *cand_score = w.score;     /* reuse: score of slot c */
        for (int64_t c = 0; c < candidates; c++) {
            cand_score[c] = d2_load_f64(scores->data, scores->dtype, (size_t)(n * total + w.ids[c]));
            visit[c] = c;
        }
        int64_t max_keep = a->post_nms_topn > 0 ? a->post_nms_topn : -1;
        int64_t kept = d2_det_greedy_nms(w.box, NULL, visit, candidates, &rule, max_keep, w.kept, w.suppressed);
        for (int64_t k = 0; k < kept; k++)
            append(&w, n, &w.box[w.kept[k]], cand_score[w.kept[k]]);
    }
    st = write_outputs(ctx, &w, scores->dtype, scores->dtype);
done:
    work_free(ctx, &w);
    return st;
}

/* ---- find_top_rpn_proposals ------------------------------------------------------- */

enum d2_status d2_cpu_ref_find_top_rpn_proposals(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_find_top_rpn_proposals *a = ctx->node->attrs;
    const struct d2_tensor *sizes = ctx->inputs[0];
    uint32_t levels = (ctx->num_inputs - 1) / 2;
    struct proposal_work w;
    enum d2_status st = D2_OK;

    if (ctx->num_inputs < 3 || ctx->num_inputs % 2 != 1 || sizes->rank != 2 || sizes->dims[1] != 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "node '%s' (find_top_rpn_proposals): need image_sizes [N,2] then (proposals, logits) pairs",
                         ctx->node->name);
    int64_t images = sizes->dims[0], cap = 0, largest_level = 0;
    for (uint32_t l = 0; l < levels; l++) {
        const struct d2_tensor *p = ctx->inputs[1 + 2 * l], *lg = ctx->inputs[2 + 2 * l];
        if (p->rank != 3 || p->dims[0] != images || p->dims[2] != 4 || lg->rank != 2 || lg->dims[0] != images ||
            lg->dims[1] != p->dims[1])
            return d2_errorf(ctx->err, D2_ERR_SHAPE,
                             "node '%s' (find_top_rpn_proposals): level %u needs proposals [N,M,4] and logits [N,M]",
                             ctx->node->name, l);
        cap += p->dims[1] < a->pre_nms_topk ? p->dims[1] : a->pre_nms_topk;
        largest_level = p->dims[1] > largest_level ? p->dims[1] : largest_level;
    }
    int64_t per_image = a->post_nms_topk < cap ? a->post_nms_topk : cap;
    enum d2_dtype box_dtype = ctx->inputs[1]->dtype, logit_dtype = ctx->inputs[2]->dtype;
    bool s = det_single(box_dtype);
    struct det_nms_rule rule = { a->nms_threshold, 0.0, false, s };
    /* Scratch: candidates of one image (cap), and one level's logits for its top-k. */
    int64_t scratch = cap > largest_level ? cap : largest_level;
    if (!work_alloc(ctx, &w, scratch, images * per_image)) {
        st = d2_det_oom(ctx);
        goto done;
    }
    double *level_logits = d2_alloc(ctx->alloc, (size_t)(largest_level > 0 ? largest_level : 1) * sizeof(double));
    int64_t *level_order = d2_alloc(ctx->alloc, (size_t)(largest_level > 0 ? largest_level : 1) * 2 * sizeof(int64_t));
    if (!level_logits || !level_order) {
        d2_free(ctx->alloc, level_logits);
        d2_free(ctx->alloc, level_order);
        st = d2_det_oom(ctx);
        goto done;
    }
    for (int64_t n = 0; n < images; n++) {
        double im_h = d2_load_f64(sizes->data, sizes->dtype, (size_t)(n * 2));
        double im_w = d2_load_f64(sizes->data, sizes->dtype, (size_t)(n * 2 + 1));
        int64_t candidates = 0;
        for (uint32_t l = 0; l < levels; l++) {
            const struct d2_tensor *p = ctx->inputs[1 + 2 * l], *lg = ctx->inputs[2 + 2 * l];
            int64_t m = p->dims[1], k = m < a->pre_nms_topk ? m : a->pre_nms_topk;
            for (int64_t i = 0; i < m; i++) {
                level_logits[i] = d2_load_f64(lg->data, lg->dtype, (size_t)(n * m + i));
                level_order[i] = i;
            }
            d2_det_sort_by_key(level_logits, level_order, m, true, level_order + m);
            for (int64_t i = 0; i < k; i++) {
                int64_t at = level_order[i];
                struct det_box b = d2_det_load_box(p, n * m + at, 4, 0, s);
                double score = level_logits[at];
                if (!isfinite(b.x1) || !isfinite(b.y1) || !isfinite(b.x2) || !isfinite(b.y2) || !isfinite(score))
                    continue;
                b = d2_det_clip(&b, det_round(s, im_w), det_round(s, im_h));
                if (!(det_round(s, b.x2 - b.x1) > a->min_size && det_round(s, b.y2 - b.y1) > a->min_size))
                    continue;
                w.box[candidates] = b;
                w.score[candidates] = score;
                w.ids[candidates] = (int64_t)l;
                w.order[candidates] = candidates;
                candidates++;
            }
        }
        d2_det_sort_by_key(w.score, w.order, candidates, true, w.order + scratch);
        int64_t kept = d2_det_greedy_nms(w.box, w.ids, w.order, candidates, &rule, a->post_nms_topk, w.kept,
                                         w.suppressed);
        for (int64_t i = 0; i < kept; i++)
            append(&w, n, &w.box[w.kept[i]], w.score[w.kept[i]]);
    }
    d2_free(ctx->alloc, level_logits);
    d2_free(ctx->alloc, level_order);
    st = write_outputs(ctx, &w, box_dtype, logit_dtype);
done:
    work_free(ctx, &w);
    return st;
}
