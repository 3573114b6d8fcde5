/* backends/cpu/ref_detect2_boxes.c: reference kernels of box_nms, box_batched_nms,
 * box_decode, box_clip, fpn_level_assign and sort, and the helpers of ref_detect2.h.
 * Precision and ordering rules: ref_detect2.h. Boxes are (x1, y1, x2, y2).
 *
 * box_nms(boxes [N,4], scores [N]) {iou_threshold, max_output, legacy_plus_one,
 * nan_iou_suppresses}: torchvision.ops.nms and Caffe2 nms_cpu.
 *   - candidates are visited by descending score (stable, NaN first); a candidate is
 *     kept unless its IoU with an already kept box is > iou_threshold;
 *   - IoU = inter / (area_kept + area_cand - inter), inter from the clamped
 *     intersection (widths max(0, min x2 - max x1 [+1])), areas (x2-x1[+1])*(y2-y1[+1])
 *     ([+1] with legacy_plus_one); coordinates are used as given (no reordering);
 *   - two zero-area boxes give 0/0 = NaN: kept (torchvision, nan_iou_suppresses=0)
 *     or suppressed (Caffe2 keeps iff IoU <= t, nan_iou_suppresses=1);
 *   - at most max_output indices (-1: all). Output: i64 kept indices, in visiting order.
 * box_batched_nms(boxes, scores, idxs [N] integers) {same, order}: box_nms where a box
 *   only suppresses boxes of the same id (torchvision batched_nms / detectron2, exact
 *   per-id form rather than the coordinate-offset trick, which can round differently).
 *   max_output keeps the best max_output by score over all ids. order by_score: by
 *   descending score; by_id: grouped by id ascending, descending score within an id
 *   (Caffe2 BoxWithNMSLimit's output order).
 * box_decode(boxes [R,4] or [R,5] (column 0, a batch index, ignored), deltas [R,4K])
 *   {weights (wx,wy,ww,wh), scale_clamp, legacy_plus_one}: for each class block k,
 *   w = x2-x1[+1], cx = x1 + 0.5w; dx = d0/wx, dw = min(d2/ww, scale_clamp);
 *   pcx = dx*w + cx, pw = exp(dw)*w; out = (pcx - 0.5pw, pcy - 0.5ph,
 *   pcx + 0.5pw [-1], pcy + 0.5ph [-1]). Output has deltas' dtype.
 * box_clip(boxes [...,4], image_size? (H, W, ...)) {height, width, legacy_plus_one}:
 *   x to [0, W - [1]], y to [0, H - [1]]; NaN stays NaN (torch.clamp).
 * fpn_level_assign(boxes [R,4|5]) {canonical_scale, canonical_level, min_level,
 *   max_level, epsilon, legacy_plus_one, dtype}: level = floor(canonical_level +
 *   log2(sqrt(area) / canonical_scale + epsilon)) clamped to [min_level, max_level];
 *   the output is level - min_level (0-based index into the pooler's levels). A NaN
 *   level (negative or NaN area) gives 0. Caffe2 writes log(x)/log(2); log2 is used
 *   here (exact at powers of two).
 * sort(X, k?) {axis, descending}: stable sort along axis (ties: lower index first;
 *   NaN greatest, so first when descending, last when ascending); values and i64
 *   indices; with k the first min(k, dim) entries (a stable top-k).
 */
#include "ref_detect2.h"

#include <math.h>
#include <string.h>

enum d2_status d2_cpu_ref_box_nms(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_box_batched_nms(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_box_decode(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_box_clip(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_fpn_level_assign(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_sort(struct d2_kernel_ctx *ctx);

/* ---- shared helpers (ref_detect2.h) ------------------------------------------- */

struct det_box d2_det_load_box(const struct d2_tensor *t, int64_t i, int64_t cols, int64_t first_col, bool single)
{
    size_t at = (size_t)(i * cols + first_col);
    struct det_box b;
    b.x1 = det_round(single, d2_load_f64(t->data, t->dtype, at));
    b.y1 = det_round(single, d2_load_f64(t->data, t->dtype, at + 1));
    b.x2 = det_round(single, d2_load_f64(t->data, t->dtype, at + 2));
    b.y2 = det_round(single, d2_load_f64(t->data, t->dtype, at + 3));
    return b;
}

bool d2_det_greater(double a, double b)
{
    return (isnan(a) && !isnan(b)) || a > b;
}

static bool key_before(double a, double b, bool descending)
{
    return descending ? d2_det_greater(a, b) : d2_det_greater(b, a);
}

void d2_det_sort_by_key(const double *key, int64_t *idx, int64_t n, bool descending, int64_t *scratch)
{
    if (n < 2)
        return;
    int64_t half = n / 2, i = 0, j = half, k = 0;
    d2_det_sort_by_key(key, idx, half, descending, scratch);
    d2_det_sort_by_key(key, idx + half, n - half, descending, scratch);
    /* Take from the right half only when strictly before: equal keys keep their order. */
    while (i < half && j < n)
        scratch[k++] = key_before(key[idx[j]], key[idx[i]], descending) ? idx[j++] : idx[i++];
    while (i < half)
        scratch[k++] = idx[i++];
    while (j < n)
        scratch[k++] = idx[j++];
    memcpy(idx, scratch, (size_t)n * sizeof *idx);
}

bool d2_det_suppresses(const struct det_box *k, const struct det_box *c, const struct det_nms_rule *rule)
{
    bool s = rule->single;
    double p = rule->plus_one;
    double area_k = det_round(s, det_round(s, k->x2 - k->x1 + p) * det_round(s, k->y2 - k->y1 + p));
    double area_c = det_round(s, det_round(s, c->x2 - c->x1 + p) * det_round(s, c->y2 - c->y1 + p));
    double w = det_round(s, fmin(k->x2, c->x2) - fmax(k->x1, c->x1) + p);
    double h = det_round(s, fmin(k->y2, c->y2) - fmax(k->y1, c->y1) + p);
    w = w > 0 ? w : 0;
    h = h > 0 ? h : 0;
    double inter = det_round(s, w * h);
    double iou = det_round(s, inter / det_round(s, det_round(s, area_k + area_c) - inter));
    if (isnan(iou))
        return rule->nan_suppresses;
    return iou > rule->iou_threshold;
}

int64_t d2_det_greedy_nms(const struct det_box *boxes, const int64_t *ids, const int64_t *order, int64_t n,
                          const struct det_nms_rule *rule, int64_t max_keep, int64_t *kept, uint8_t *suppressed)
{
    int64_t count = 0;
    if (n > 0)
        memset(suppressed, 0, (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if (suppressed[i])
            continue;
        if (max_keep >= 0 && count >= max_keep)
            break;
        int64_t a = order[i];
        kept[count++] = a;
        for (int64_t j = i + 1; j < n; j++) {
            int64_t b = order[j];
            if (suppressed[j] || (ids && ids[a] != ids[b]))
                continue;
            if (d2_det_suppresses(&boxes[a], &boxes[b], rule))
                suppressed[j] = 1;
        }
    }
    return count;
}

struct det_box d2_det_decode(const struct det_box *box, const double delta[4], const double weights[4],
                             double scale_clamp, double plus_one, bool single)
{
    bool s = single;
    double clamp = det_round(s, scale_clamp);
    double w = det_round(s, det_round(s, box->x2 - box->x1) + plus_one);
    double h = det_round(s, det_round(s, box->y2 - box->y1) + plus_one);
    double cx = det_round(s, box->x1 + det_round(s, 0.5 * w));
    double cy = det_round(s, box->y1 + det_round(s, 0.5 * h));
    double dx = det_round(s, delta[0] / det_round(s, weights[0]));
    double dy = det_round(s, delta[1] / det_round(s, weights[1]));
    double dw = det_round(s, delta[2] / det_round(s, weights[2]));
    double dh = det_round(s, delta[3] / det_round(s, weights[3]));
    dw = dw > clamp ? clamp : dw;
    dh = dh > clamp ? clamp : dh;
    double pcx = det_round(s, det_round(s, dx * w) + cx);
    double pcy = det_round(s, det_round(s, dy * h) + cy);
    double pw = det_round(s, det_round(s, exp(dw)) * w);
    double ph = det_round(s, det_round(s, exp(dh)) * h);
    struct det_box out;
    out.x1 = det_round(s, pcx - det_round(s, 0.5 * pw));
    out.y1 = det_round(s, pcy - det_round(s, 0.5 * ph));
    out.x2 = det_round(s, det_round(s, pcx + det_round(s, 0.5 * pw)) - plus_one);
    out.y2 = det_round(s, det_round(s, pcy + det_round(s, 0.5 * ph)) - plus_one);
    return out;
}

static double clamp_coord(double v, double hi)
{
    if (v > hi)
        v = hi;
    if (v < 0)
        v = 0;
    return v; /* NaN fails both tests and stays NaN */
}

struct det_box d2_det_clip(const struct det_box *box, double x_max, double y_max)
{
    struct det_box out;
    out.x1 = clamp_coord(box->x1, x_max);
    out.y1 = clamp_coord(box->y1, y_max);
    out.x2 = clamp_coord(box->x2, x_max);
    out.y2 = clamp_coord(box->y2, y_max);
    return out;
}

enum d2_status d2_det_oom(struct d2_kernel_ctx *ctx)
{
    return d2_errorf(ctx->err, D2_ERR_NOMEM, "node '%s' (%s): out of memory", ctx->node->name,
                     d2_op_name(ctx->node->op));
}

enum d2_status d2_det_output(struct d2_kernel_ctx *ctx, uint32_t i, enum d2_dtype dtype, int32_t rank,
                             const int64_t *dims)
{
    struct d2_tensor *t = &ctx->outputs[i];
    if (t->data && t->dtype == dtype && t->rank == rank && memcmp(t->dims, dims, (size_t)rank * sizeof *dims) == 0)
        return D2_OK;
    if (!t->data && t->dtype == dtype && t->rank == rank && d2_dims_numel(rank, dims) == 0 &&
        memcmp(t->dims, dims, (size_t)rank * sizeof *dims) == 0)
        return D2_OK;
    return d2_kernel_alloc_output(ctx, i, dtype, rank, dims);
}

/* ---- box_nms, box_batched_nms ---------------------------------------------------- */

static enum d2_status nms_run(struct d2_kernel_ctx *ctx, bool batched)
{
    const struct d2_attrs_box_nms *a = ctx->node->attrs;
    const struct d2_tensor *boxes = ctx->inputs[0], *scores = ctx->inputs[1];
    const struct d2_tensor *idxs = batched ? ctx->inputs[2] : NULL;
    enum d2_status st = D2_OK;

    if (boxes->rank != 2 || boxes->dims[1] != 4 || scores->rank != 1 || scores->dims[0] != boxes->dims[0] ||
        (idxs && (idxs->rank != 1 || idxs->dims[0] != boxes->dims[0])))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (%s): need boxes [N,4], scores [N]%s", ctx->node->name,
                         d2_op_name(ctx->node->op), batched ? ", idxs [N]" : "");
    int64_t n = boxes->dims[0];
    size_t work = (size_t)(n > 0 ? n : 1);
    struct det_nms_rule rule = { a->iou_threshold, a->legacy_plus_one ? 1.0 : 0.0, a->nan_iou_suppresses != 0,
                                 det_single(boxes->dtype) };
    struct det_box *box = d2_alloc(ctx->alloc, work * sizeof *box);
    double *score = d2_alloc(ctx->alloc, work * sizeof *score);
    int64_t *ids = idxs ? d2_alloc(ctx->alloc, work * sizeof *ids) : NULL;
    int64_t *order = d2_alloc(ctx->alloc, 2 * work * sizeof *order);
    int64_t *kept = d2_alloc(ctx->alloc, 2 * work * sizeof *kept);
    uint8_t *suppressed = d2_alloc(ctx->alloc, work);
    if (!box || !score || (idxs && !ids) || !order || !kept || !suppressed) {
        st = d2_det_oom(ctx);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        box[i] = d2_det_load_box(boxes, i, 4, 0, rule.single);
        score[i] = d2_load_f64(scores->data, scores->dtype, (size_t)i);
        if (ids)
            ids[i] = d2_load_i64(idxs->data, idxs->dtype, (size_t)i);
        order[i] = i;
    }
    d2_det_sort_by_key(score, order, n, true, order + work);
    int64_t count = d2_det_greedy_nms(box, ids, order, n, &rule, a->max_output, kept, suppressed);
    if (ids && a->order == D2_NMS_ORDER_BY_ID) {
        /* Stable by id ascending: the score order survives within each id. */
        double *id_key = score; /* scores are no longer needed */
        for (int64_t i = 0; i < n; i++)
            id_key[i] = (double)ids[i];
        d2_det_sort_by_key(id_key, kept, count, false, kept + work);
    }
    int64_t dims[1] = { count };
    st = d2_det_output(ctx, 0, D2_DTYPE_I64, 1, dims);
    if (st == D2_OK && count > 0)
        memcpy(ctx->outputs[0].data, kept, (size_t)count * sizeof *kept);
done:
    d2_free(ctx->alloc, box);
    d2_free(ctx->alloc, score);
    d2_free(ctx->alloc, ids);
    d2_free(ctx->alloc, order);
    d2_free(ctx->alloc, kept);
    d2_free(ctx->alloc, suppressed);
    return st;
}

enum d2_status d2_cpu_ref_box_nms(struct d2_kernel_ctx *ctx)
{
    return nms_run(ctx, false);
}

enum d2_status d2_cpu_ref_box_batched_nms(struct d2_kernel_ctx *ctx)
{
    return nms_run(ctx, true);
}

/* ---- box_decode, box_clip --------------------------------------------------------- */

enum d2_status d2_cpu_ref_box_decode(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_box_decode *a = ctx->node->attrs;
    const struct d2_tensor *boxes = ctx->inputs[0], *deltas = ctx->inputs[1];
    double weights[4] = { 1, 1, 1, 1 };

    if (boxes->rank != 2 || (boxes->dims[1] != 4 && boxes->dims[1] != 5) || deltas->rank != 2 ||
        deltas->dims[0] != boxes->dims[0] || deltas->dims[1] % 4 != 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (box_decode): need boxes [R,4|5], deltas [R,4K]",
                         ctx->node->name);
    if (a->weights.count == 4)
        memcpy(weights, a->weights.data, sizeof weights);
    enum d2_status st = d2_det_output(ctx, 0, deltas->dtype, 2, deltas->dims);
    if (st != D2_OK)
        return st;
    int64_t rows = boxes->dims[0], cols = boxes->dims[1], classes = deltas->dims[1] / 4;
    bool single = det_single(deltas->dtype);
    double plus_one = a->legacy_plus_one ? 1.0 : 0.0;
    void *out = ctx->outputs[0].data;
    for (int64_t r = 0; r < rows; r++) {
        struct det_box box = d2_det_load_box(boxes, r, cols, cols - 4, single);
        for (int64_t k = 0; k < classes; k++) {
            size_t at = (size_t)(r * classes * 4 + k * 4);
            double delta[4];
            for (int i = 0; i < 4; i++)
                delta[i] = det_round(single, d2_load_f64(deltas->data, deltas->dtype, at + (size_t)i));
            struct det_box d = d2_det_decode(&box, delta, weights, a->scale_clamp, plus_one, single);
            d2_store_f64(out, deltas->dtype, at, d.x1);
            d2_store_f64(out, deltas->dtype, at + 1, d.y1);
            d2_store_f64(out, deltas->dtype, at + 2, d.x2);
            d2_store_f64(out, deltas->dtype, at + 3, d.y2);
        }
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_box_clip(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_box_clip *a = ctx->node->attrs;
    const struct d2_tensor *boxes = ctx->inputs[0];
    const struct d2_tensor *size = ctx->num_inputs > 1 ? ctx->inputs[1] : NULL;
    double height = (double)a->height, width = (double)a->width;

    if (boxes->rank < 1 || boxes->dims[boxes->rank - 1] != 4)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (box_clip): boxes must be [...,4]", ctx->node->name);
    if (size) {
        if (d2_tensor_numel(size) < 2)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (box_clip): image_size needs (H, W)",
                             ctx->node->name);
        height = d2_load_f64(size->data, size->dtype, 0);
        width = d2_load_f64(size->data, size->dtype, 1);
    }
    enum d2_status st = d2_det_output(ctx, 0, boxes->dtype, boxes->rank, boxes->dims);
    if (st != D2_OK)
        return st;
    bool single = det_single(boxes->dtype);
    double plus_one = a->legacy_plus_one ? 1.0 : 0.0;
    double x_max = det_round(single, width - plus_one), y_max = det_round(single, height - plus_one);
    int64_t n = d2_tensor_numel(boxes) / 4;
    for (int64_t i = 0; i < n; i++) {
        struct det_box in = d2_det_load_box(boxes, i, 4, 0, single);
        struct det_box b = d2_det_clip(&in, x_max, y_max);
        d2_store_f64(ctx->outputs[0].data, boxes->dtype, (size_t)(i * 4), b.x1);
        d2_store_f64(ctx->outputs[0].data, boxes->dtype, (size_t)(i * 4 + 1), b.y1);
        d2_store_f64(ctx->outputs[0].data, boxes->dtype, (size_t)(i * 4 + 2), b.x2);
        d2_store_f64(ctx->outputs[0].data, boxes->dtype, (size_t)(i * 4 + 3), b.y2);
    }
    return D2_OK;
}

/* ---- fpn_level_assign ------------------------------------------------------------- */

enum d2_status d2_cpu_ref_fpn_level_assign(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_fpn_level_assign *a = ctx->node->attrs;
    const struct d2_tensor *boxes = ctx->inputs[0];

    if (boxes->rank != 2 || (boxes->dims[1] != 4 && boxes->dims[1] != 5))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (fpn_level_assign): boxes must be [R,4|5]",
                         ctx->node->name);
    int64_t dims[1] = { boxes->dims[0] };
    enum d2_status st = d2_det_output(ctx, 0, a->dtype, 1, dims);
    if (st != D2_OK)
        return st;
    bool s = det_single(boxes->dtype);
    double p = a->legacy_plus_one ? 1.0 : 0.0;
    for (int64_t i = 0; i < boxes->dims[0]; i++) {
        struct det_box b = d2_det_load_box(boxes, i, boxes->dims[1], boxes->dims[1] - 4, s);
        double area = det_round(s, det_round(s, b.x2 - b.x1 + p) * det_round(s, b.y2 - b.y1 + p));
        double size = det_round(s, sqrt(area));
        double ratio = det_round(s, det_round(s, size / det_round(s, a->canonical_scale)) + det_round(s, a->epsilon));
        double level = floor(det_round(s, (double)a->canonical_level + det_round(s, log2(ratio))));
        int64_t index;
        if (isnan(level) || level <= (double)a->min_level)
            index = 0;
        else if (level >= (double)a->max_level)
            index = a->max_level - a->min_level;
        else
            index = (int64_t)level - a->min_level;
        d2_store_i64(ctx->outputs[0].data, a->dtype, (size_t)i, index);
    }
    return D2_OK;
}

/* ---- sort ---------------------------------------------------------------------------- */

/* Stable merge sort of positions idx[0..n) of one lane by integer keys. */
static void sort_int_keys(const int64_t *key, int64_t *idx, int64_t n, bool descending, int64_t *scratch)
{
    if (n < 2)
        return;
    int64_t half = n / 2, i = 0, j = half, k = 0;
    sort_int_keys(key, idx, half, descending, scratch);
    sort_int_keys(key, idx + half, n - half, descending, scratch);
    while (i < half && j < n) {
        bool right_first = descending ? key[idx[j]] > key[idx[i]] : key[idx[j]] < key[idx[i]];
        scratch[k++] = right_first ? idx[j++] : idx[i++];
    }
    while (i < half)
        scratch[k++] = idx[i++];
    while (j < n)
        scratch[k++] = idx[j++];
    memcpy(idx, scratch, (size_t)n * sizeof *idx);
}

enum d2_status d2_cpu_ref_sort(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_sort *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    const struct d2_tensor *k_t = ctx->num_inputs > 1 ? ctx->inputs[1] : NULL;
    int64_t axis;
    enum d2_status st = D2_OK;

    if (x->rank < 1 || !d2_normalize_axis(a->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (sort): axis %lld is out of range for rank %d",
                         ctx->node->name, (long long)a->axis, (int)x->rank);
    int64_t d = x->dims[axis], k = d;
    if (k_t) {
        if (d2_tensor_numel(k_t) != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (sort): k must have one element", ctx->node->name);
        k = d2_load_i64(k_t->data, k_t->dtype, 0);
        if (k < 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (sort): k %lld is negative", ctx->node->name,
                             (long long)k);
        if (k > d)
            k = d;
    }
    int64_t dims[D2_MAX_RANK];
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    dims[axis] = k;
    st = d2_det_output(ctx, 0, x->dtype, x->rank, dims);
    if (st == D2_OK)
        st = d2_det_output(ctx, 1, D2_DTYPE_I64, x->rank, dims);
    if (st != D2_OK)
        return st;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int64_t i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    size_t work = (size_t)(d > 0 ? d : 1);
    bool is_float = d2_dtype_is_float(x->dtype);
    double *fkey = d2_alloc(ctx->alloc, work * sizeof *fkey);
    int64_t *ikey = d2_alloc(ctx->alloc, work * sizeof *ikey);
    int64_t *idx = d2_alloc(ctx->alloc, 2 * work * sizeof *idx);
    if (!fkey || !ikey || !idx) {
        st = d2_det_oom(ctx);
        goto done;
    }
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            for (int64_t j = 0; j < d; j++) {
                size_t at = (size_t)((o * d + j) * inner + in);
                if (is_float)
                    fkey[j] = d2_load_f64(x->data, x->dtype, at);
                else
                    ikey[j] = d2_load_i64(x->data, x->dtype, at);
                idx[j] = j;
            }
            if (is_float)
                d2_det_sort_by_key(fkey, idx, d, a->descending != 0, idx + work);
            else
                sort_int_keys(ikey, idx, d, a->descending != 0, idx + work);
            for (int64_t j = 0; j < k; j++) {
                size_t src = (size_t)((o * d + idx[j]) * inner + in), dst = (size_t)((o * k + j) * inner + in);
                if (is_float)
                    d2_store_f64(ctx->outputs[0].data, x->dtype, dst, d2_load_f64(x->data, x->dtype, src));
                else
                    d2_store_i64(ctx->outputs[0].data, x->dtype, dst, d2_load_i64(x->data, x->dtype, src));
                ((int64_t *)ctx->outputs[1].data)[dst] = idx[j];
            }
        }
    }
done:
    d2_free(ctx->alloc, fkey);
    d2_free(ctx->alloc, ikey);
    d2_free(ctx->alloc, idx);
    return st;
}
