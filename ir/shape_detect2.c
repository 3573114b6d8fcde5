/* ir/shape_detect2.c: shape functions of the "detection (shared by all dialects)" ops
 * of ops.def. These are d2rt's own ops, not ONNX ops: the Caffe2, TorchScript and ONNX
 * frontends lower their detection ops onto them. Boxes are (x1, y1, x2, y2) rows.
 * The kernels are in backends/cpu/ref_detect2*.c, whose headers give the numerics.
 *
 *   box_roi_align(X [N,C,H,W], rois, batch_indices?) -> [R, C, pooled_h, pooled_w]
 *     rois [R,5] (batch index, x1, y1, x2, y2: torchvision, Caffe2), or [R,4] with
 *     batch_indices [R] (ONNX), or [R,4] alone (Caffe2: every roi in batch 0).
 *   box_nms(boxes [N,4], scores [N]) -> i64 [n], n <= N (and <= max_output if >= 0)
 *   box_batched_nms(boxes [N,4], scores [N], idxs [N] integers) -> i64 [n], same bound
 *   box_decode(boxes [R,4] or [R,5] (column 0 ignored), deltas [R,4K]) -> deltas' type
 *   box_clip(boxes [...,4], image_size? 1-D (H, W, ...)) -> boxes' type; without the
 *     input the height and width attributes (>= 0) give the image size
 *   generate_proposals(scores [N,A,H,W], deltas [N,4A,H,W], im_info [N,3],
 *     anchors [A,4]) -> rois [n,5], probs [n], n <= N*min(A*H*W, pre, post)
 *   find_top_rpn_proposals(image_sizes [N,2], proposals_0 [N,M0,4], logits_0 [N,M0],
 *     proposals_1, logits_1, ...) -> rois [n,5], logits [n],
 *     n <= N*min(post_nms_topk, sum_l min(M_l, pre_nms_topk))
 *   fpn_level_assign(boxes [R,4|5]) -> dtype attribute (i32/i64) [R]
 *   sort(X, k? scalar or [1] integer) -> values (X's type), i64 indices; the axis
 *     dim becomes min(k, dim) when k is given (k > dim is clamped, k < 0 is an error)
 */
#include "ir.h"

#include <stdio.h>

/* Shape functions of this file (the table in ir/shape.c finds them by name). */
enum d2_status d2_shape_box_roi_align(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_box_nms(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_box_batched_nms(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_box_decode(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_box_clip(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_generate_proposals(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_find_top_rpn_proposals(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_fpn_level_assign(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_sort(struct d2_shape_ctx *ctx);

static const struct d2_type *optional_type(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->input_types[i] : NULL;
}

static const struct d2_tensor *optional_value(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->input_values[i] : NULL;
}

static int64_t dim_or_unknown(const struct d2_type *t, int32_t d)
{
    return t->rank > d ? t->dims[d] : D2_DIM_UNKNOWN;
}

/* Rank must be `rank` when known. */
static enum d2_status expect_rank(struct d2_shape_ctx *ctx, const struct d2_type *t, int32_t rank, const char *what)
{
    if (t->rank >= 0 && t->rank != rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must have rank %d, got rank %d", what, (int)rank, (int)t->rank);
    return D2_OK;
}

/* Known dim d must be `want` (when both are known). */
static enum d2_status expect_dim(struct d2_shape_ctx *ctx, const struct d2_type *t, int32_t d, int64_t want,
                                 const char *what)
{
    if (t->rank > d && t->dims[d] >= 0 && want >= 0 && t->dims[d] != want)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s dim %d is %lld, expected %lld", what, (int)d,
                         (long long)t->dims[d], (long long)want);
    return D2_OK;
}

static enum d2_status expect_float(struct d2_shape_ctx *ctx, const struct d2_type *t, const char *what)
{
    if (t->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_float(t->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be a float tensor, got %s", what, d2_dtype_name(t->dtype));
    return D2_OK;
}

static enum d2_status expect_integer(struct d2_shape_ctx *ctx, const struct d2_type *t, const char *what)
{
    if (t->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_integer(t->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be an integer tensor, got %s", what,
                         d2_dtype_name(t->dtype));
    return D2_OK;
}

/* Boxes [R,4] or [R,5] (the 5-column form carries a batch index first). */
static enum d2_status expect_box_rows(struct d2_shape_ctx *ctx, const struct d2_type *t, const char *what)
{
    enum d2_status st = expect_rank(ctx, t, 2, what);
    if (st == D2_OK)
        st = expect_float(ctx, t, what);
    if (st == D2_OK && t->rank == 2 && t->dims[1] >= 0 && t->dims[1] != 4 && t->dims[1] != 5)
        st = d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be [R,4] or [R,5], got %lld columns", what,
                       (long long)t->dims[1]);
    return st;
}

/* A 1-D data-dependent result of at most `bound` elements (bound < 0: unknown). */
static void set_bounded_1d(struct d2_type *out, enum d2_dtype dtype, int64_t bound)
{
    int64_t dims[1] = { D2_DIM_UNKNOWN };
    d2_type_init(out, dtype, 1, dims);
    out->upper_bounds[0] = bound;
    if (bound == 0)
        out->dims[0] = 0;
}

/* ---- box_roi_align ------------------------------------------------------------ */

enum d2_status d2_shape_box_roi_align(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_box_roi_align *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *rois = ctx->input_types[1];
    const struct d2_type *batch = optional_type(ctx, 2);
    enum d2_status st;

    st = expect_rank(ctx, x, 4, "X ([N,C,H,W])");
    if (st == D2_OK)
        st = expect_float(ctx, x, "X");
    if (st == D2_OK)
        st = expect_box_rows(ctx, rois, "rois");
    if (st == D2_OK && batch) {
        st = expect_rank(ctx, batch, 1, "batch_indices");
        if (st == D2_OK)
            st = expect_integer(ctx, batch, "batch_indices");
        if (st == D2_OK)
            st = expect_dim(ctx, rois, 1, 4, "rois (with batch_indices)");
        if (st == D2_OK)
            st = expect_dim(ctx, batch, 0, dim_or_unknown(rois, 0), "batch_indices");
    }
    if (st != D2_OK)
        return st;
    if (a->pooled_h < 1 || a->pooled_w < 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "pooled_h and pooled_w must be >= 1, got %lld, %lld",
                         (long long)a->pooled_h, (long long)a->pooled_w);
    int64_t dims[4] = { dim_or_unknown(rois, 0), dim_or_unknown(x, 1), a->pooled_h, a->pooled_w };
    if (dims[0] < 0 && batch)
        dims[0] = dim_or_unknown(batch, 0);
    d2_type_init(&ctx->output_types[0], x->dtype, 4, dims);
    if (dims[0] < 0 && rois->rank == 2) {
        ctx->output_types[0].symbols[0] = rois->symbols[0];
        ctx->output_types[0].upper_bounds[0] = rois->upper_bounds[0];
    }
    if (x->rank == 4)
        ctx->output_types[0].symbols[1] = x->symbols[1];
    return D2_OK;
}

/* ---- box_nms, box_batched_nms --------------------------------------------------- */

static enum d2_status nms_shape(struct d2_shape_ctx *ctx, bool batched)
{
    const struct d2_attrs_box_nms *a = ctx->node->attrs;
    const struct d2_type *boxes = ctx->input_types[0], *scores = ctx->input_types[1];
    enum d2_status st;

    st = expect_rank(ctx, boxes, 2, "boxes ([N,4])");
    if (st == D2_OK)
        st = expect_float(ctx, boxes, "boxes");
    if (st == D2_OK)
        st = expect_dim(ctx, boxes, 1, 4, "boxes");
    if (st == D2_OK)
        st = expect_rank(ctx, scores, 1, "scores ([N])");
    if (st == D2_OK)
        st = expect_float(ctx, scores, "scores");
    if (st == D2_OK)
        st = expect_dim(ctx, scores, 0, dim_or_unknown(boxes, 0), "scores");
    if (st == D2_OK && batched) {
        const struct d2_type *idxs = ctx->input_types[2];
        st = expect_rank(ctx, idxs, 1, "idxs ([N])");
        if (st == D2_OK)
            st = expect_integer(ctx, idxs, "idxs");
        if (st == D2_OK)
            st = expect_dim(ctx, idxs, 0, dim_or_unknown(boxes, 0), "idxs");
    }
    if (st != D2_OK)
        return st;
    if (a->max_output < -1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "max_output %lld must be -1 (all) or >= 0", (long long)a->max_output);
    int64_t n = dim_or_unknown(boxes, 0);
    if (n < 0)
        n = dim_or_unknown(scores, 0);
    int64_t bound = n;
    if (a->max_output >= 0 && (bound < 0 || a->max_output < bound))
        bound = a->max_output;
    set_bounded_1d(&ctx->output_types[0], D2_DTYPE_I64, bound);
    return D2_OK;
}

enum d2_status d2_shape_box_nms(struct d2_shape_ctx *ctx)
{
    return nms_shape(ctx, false);
}

enum d2_status d2_shape_box_batched_nms(struct d2_shape_ctx *ctx)
{
    return nms_shape(ctx, true);
}

/* ---- box_decode, box_clip ------------------------------------------------------- */

enum d2_status d2_shape_box_decode(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_box_decode *a = ctx->node->attrs;
    const struct d2_type *boxes = ctx->input_types[0], *deltas = ctx->input_types[1];
    enum d2_status st;

    st = expect_box_rows(ctx, boxes, "boxes");
    if (st == D2_OK)
        st = expect_rank(ctx, deltas, 2, "deltas ([R,4K])");
    if (st == D2_OK)
        st = expect_float(ctx, deltas, "deltas");
    if (st == D2_OK)
        st = expect_dim(ctx, deltas, 0, dim_or_unknown(boxes, 0), "deltas");
    if (st != D2_OK)
        return st;
    if (deltas->rank == 2 && deltas->dims[1] >= 0 && deltas->dims[1] % 4 != 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "deltas has %lld columns, not a multiple of 4",
                         (long long)deltas->dims[1]);
    if (a->weights.count != 0 && a->weights.count != 4)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "weights must have 4 entries, got %u", a->weights.count);
    for (uint32_t i = 0; i < a->weights.count; i++)
        if (!(a->weights.data[i] != 0.0))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "weights[%u] is %g; weights divide the deltas", i,
                             a->weights.data[i]);
    if (deltas->rank == 2) {
        ctx->output_types[0] = *deltas;
        if (deltas->dims[0] < 0 && boxes->rank == 2 && boxes->dims[0] >= 0)
            ctx->output_types[0].dims[0] = boxes->dims[0];
    } else {
        int64_t dims[2] = { dim_or_unknown(boxes, 0), D2_DIM_UNKNOWN };
        d2_type_init(&ctx->output_types[0], deltas->dtype, 2, dims);
    }
    return D2_OK;
}

enum d2_status d2_shape_box_clip(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_box_clip *a = ctx->node->attrs;
    const struct d2_type *boxes = ctx->input_types[0], *size = optional_type(ctx, 1);
    const struct d2_tensor *size_value = optional_value(ctx, 1);
    enum d2_status st = expect_float(ctx, boxes, "boxes");

    if (st == D2_OK && boxes->rank == 0)
        st = d2_errorf(ctx->err, D2_ERR_SHAPE, "boxes must be [...,4], got a scalar");
    if (st == D2_OK && boxes->rank > 0)
        st = expect_dim(ctx, boxes, boxes->rank - 1, 4, "boxes");
    if (st != D2_OK)
        return st;
    if (size) {
        st = expect_rank(ctx, size, 1, "image_size");
        if (st == D2_OK && size->rank == 1 && size->dims[0] >= 0 && size->dims[0] < 2)
            st = d2_errorf(ctx->err, D2_ERR_SHAPE, "image_size needs (H, W), got %lld elements",
                           (long long)size->dims[0]);
        if (st == D2_OK && size_value && d2_tensor_numel(size_value) < 2)
            st = d2_errorf(ctx->err, D2_ERR_SHAPE, "image_size needs (H, W), got %lld elements",
                           (long long)d2_tensor_numel(size_value));
        if (st != D2_OK)
            return st;
    } else if (a->height < 0 || a->width < 0) {
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "no image_size input, so height and width must be set (>= 0), got %lld, %lld",
                         (long long)a->height, (long long)a->width);
    }
    ctx->output_types[0] = *boxes;
    return D2_OK;
}

/* ---- generate_proposals, find_top_rpn_proposals ------------------------------------ */

static int64_t min_positive(int64_t a, int64_t limit)
{
    return limit > 0 && (a < 0 || limit < a) ? limit : a;
}

enum d2_status d2_shape_generate_proposals(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_generate_proposals *a = ctx->node->attrs;
    const struct d2_type *scores = ctx->input_types[0], *deltas = ctx->input_types[1];
    const struct d2_type *im_info = ctx->input_types[2], *anchors = ctx->input_types[3];
    int64_t n = dim_or_unknown(scores, 0), na = dim_or_unknown(scores, 1);
    int64_t h = dim_or_unknown(scores, 2), w = dim_or_unknown(scores, 3);
    enum d2_status st;

    st = expect_rank(ctx, scores, 4, "scores ([N,A,H,W])");
    if (st == D2_OK)
        st = expect_float(ctx, scores, "scores");
    if (st == D2_OK)
        st = expect_rank(ctx, deltas, 4, "bbox_deltas ([N,4A,H,W])");
    if (st == D2_OK)
        st = expect_float(ctx, deltas, "bbox_deltas");
    if (st == D2_OK)
        st = expect_dim(ctx, deltas, 0, n, "bbox_deltas");
    if (st == D2_OK)
        st = expect_dim(ctx, deltas, 1, na >= 0 ? 4 * na : -1, "bbox_deltas");
    if (st == D2_OK)
        st = expect_dim(ctx, deltas, 2, h, "bbox_deltas");
    if (st == D2_OK)
        st = expect_dim(ctx, deltas, 3, w, "bbox_deltas");
    if (st == D2_OK)
        st = expect_rank(ctx, im_info, 2, "im_info ([N,3])");
    if (st == D2_OK)
        st = expect_float(ctx, im_info, "im_info");
    if (st == D2_OK)
        st = expect_dim(ctx, im_info, 0, n, "im_info");
    if (st == D2_OK)
        st = expect_dim(ctx, im_info, 1, 3, "im_info");
    if (st == D2_OK)
        st = expect_rank(ctx, anchors, 2, "anchors ([A,4])");
    if (st == D2_OK)
        st = expect_float(ctx, anchors, "anchors");
    if (st == D2_OK)
        st = expect_dim(ctx, anchors, 0, na, "anchors");
    if (st == D2_OK)
        st = expect_dim(ctx, anchors, 1, 4, "anchors");
    if (st != D2_OK)
        return st;
    if (!(a->spatial_scale > 0))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "spatial_scale %g must be positive", a->spatial_scale);
    int64_t per_image = na >= 0 && h >= 0 && w >= 0 ? na * h * w : -1;
    per_image = min_positive(min_positive(per_image, a->pre_nms_topn), a->post_nms_topn);
    int64_t bound = n >= 0 && per_image >= 0 ? n * per_image : -1;
    int64_t dims[2] = { D2_DIM_UNKNOWN, 5 };
    d2_type_init(&ctx->output_types[0], scores->dtype, 2, dims);
    ctx->output_types[0].upper_bounds[0] = bound;
    if (bound == 0)
        ctx->output_types[0].dims[0] = 0;
    set_bounded_1d(&ctx->output_types[1], scores->dtype, bound);
    return D2_OK;
}

enum d2_status d2_shape_find_top_rpn_proposals(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_find_top_rpn_proposals *a = ctx->node->attrs;
    const struct d2_type *sizes = ctx->input_types[0];
    enum d2_status st;

    if (ctx->num_inputs < 3 || ctx->num_inputs % 2 != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "inputs must be image_sizes then (proposals, logits) pairs, got %u inputs", ctx->num_inputs);
    st = expect_rank(ctx, sizes, 2, "image_sizes ([N,2])");
    if (st == D2_OK)
        st = expect_dim(ctx, sizes, 1, 2, "image_sizes");
    if (st != D2_OK)
        return st;
    if (a->pre_nms_topk < 0 || a->post_nms_topk < 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "pre_nms_topk and post_nms_topk must be >= 0, got %lld, %lld",
                         (long long)a->pre_nms_topk, (long long)a->post_nms_topk);
    int64_t n = dim_or_unknown(sizes, 0), candidates = 0;
    enum d2_dtype box_dtype = D2_DTYPE_UNDEFINED, logit_dtype = D2_DTYPE_UNDEFINED;
    for (uint32_t i = 1; i + 1 < ctx->num_inputs; i += 2) {
        const struct d2_type *p = ctx->input_types[i], *l = ctx->input_types[i + 1];
        char what[64];
        unsigned level = (i - 1) / 2;
        if (!p || !l)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "level %u: proposals and logits are required", level);
        snprintf(what, sizeof what, "proposals of level %u ([N,M,4])", level);
        st = expect_rank(ctx, p, 3, what);
        if (st == D2_OK)
            st = expect_float(ctx, p, what);
        if (st == D2_OK)
            st = expect_dim(ctx, p, 2, 4, what);
        if (st == D2_OK)
            st = expect_dim(ctx, p, 0, n, what);
        snprintf(what, sizeof what, "logits of level %u ([N,M])", level);
        if (st == D2_OK)
            st = expect_rank(ctx, l, 2, what);
        if (st == D2_OK)
            st = expect_float(ctx, l, what);
        if (st == D2_OK)
            st = expect_dim(ctx, l, 0, n >= 0 ? n : dim_or_unknown(p, 0), what);
        if (st == D2_OK)
            st = expect_dim(ctx, l, 1, dim_or_unknown(p, 1), what);
        if (st != D2_OK)
            return st;
        if (i == 1) {
            box_dtype = p->dtype;
            logit_dtype = l->dtype;
        }
        int64_t m = dim_or_unknown(p, 1) >= 0 ? dim_or_unknown(p, 1) : dim_or_unknown(l, 1);
        if (m < 0 || candidates < 0)
            candidates = -1;
        else
            candidates += m < a->pre_nms_topk ? m : a->pre_nms_topk;
    }
    int64_t per_image = candidates < 0 || a->post_nms_topk < candidates ? a->post_nms_topk : candidates;
    int64_t bound = n >= 0 ? n * per_image : -1;
    int64_t dims[2] = { D2_DIM_UNKNOWN, 5 };
    d2_type_init(&ctx->output_types[0], box_dtype, 2, dims);
    ctx->output_types[0].upper_bounds[0] = bound;
    if (bound == 0)
        ctx->output_types[0].dims[0] = 0;
    set_bounded_1d(&ctx->output_types[1], logit_dtype, bound);
    return D2_OK;
}

/* ---- fpn_level_assign ---------------------------------------------------------------- */

enum d2_status d2_shape_fpn_level_assign(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_fpn_level_assign *a = ctx->node->attrs;
    const struct d2_type *boxes = ctx->input_types[0];
    enum d2_status st = expect_box_rows(ctx, boxes, "boxes");

    if (st != D2_OK)
        return st;
    if (a->min_level > a->max_level)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "min_level %lld is above max_level %lld", (long long)a->min_level,
                         (long long)a->max_level);
    if (!(a->canonical_scale > 0))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "canonical_scale %g must be positive", a->canonical_scale);
    if (a->dtype != D2_DTYPE_I32 && a->dtype != D2_DTYPE_I64)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "dtype must be i32 or i64, got %s", d2_dtype_name(a->dtype));
    int64_t dims[1] = { dim_or_unknown(boxes, 0) };
    d2_type_init(&ctx->output_types[0], a->dtype, 1, dims);
    if (boxes->rank == 2) {
        ctx->output_types[0].symbols[0] = boxes->symbols[0];
        ctx->output_types[0].upper_bounds[0] = boxes->upper_bounds[0];
    }
    return D2_OK;
}

/* ---- sort ----------------------------------------------------------------------------- */

enum d2_status d2_shape_sort(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_sort *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *k_type = optional_type(ctx, 1);
    const struct d2_tensor *k_value = optional_value(ctx, 1);
    struct d2_type *values = &ctx->output_types[0], *indices = &ctx->output_types[1];
    int64_t axis;

    values->dtype = x->dtype;
    indices->dtype = D2_DTYPE_I64;
    if (x->dtype == D2_DTYPE_BOOL)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X must be numeric, got bool");
    if (k_type) {
        enum d2_status st = expect_integer(ctx, k_type, "k");
        if (st != D2_OK)
            return st;
        if (k_type->rank > 1 || (k_type->rank == 1 && k_type->dims[0] >= 0 && k_type->dims[0] != 1))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "k must be a scalar or have one element");
    }
    if (x->rank < 0)
        return D2_OK;
    if (x->rank == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X must have rank >= 1, got a scalar");
    if (!d2_normalize_axis(a->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)a->axis,
                         (int)x->rank);
    *values = *x;
    if (k_type) {
        int64_t d = x->dims[axis];
        values->symbols[axis] = NULL;
        if (k_value) {
            if (d2_tensor_numel(k_value) != 1)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "k must have one element, got %lld",
                                 (long long)d2_tensor_numel(k_value));
            int64_t k = d2_tensor_get_i64(k_value, 0);
            if (k < 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "k %lld is negative", (long long)k);
            if (d >= 0) {
                values->dims[axis] = k < d ? k : d;
                values->upper_bounds[axis] = -1;
            } else {
                values->dims[axis] = D2_DIM_UNKNOWN;
                values->upper_bounds[axis] = x->upper_bounds[axis] >= 0 && x->upper_bounds[axis] < k
                                                 ? x->upper_bounds[axis] : k;
            }
        } else {
            values->dims[axis] = D2_DIM_UNKNOWN;
            values->upper_bounds[axis] = d >= 0 ? d : x->upper_bounds[axis];
        }
    }
    *indices = *values;
    indices->dtype = D2_DTYPE_I64;
    return D2_OK;
}
