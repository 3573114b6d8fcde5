/* backends/cpu/ref_detect2.h: helpers shared by the reference kernels of the
 * "detection (shared by all dialects)" ops (backends/cpu/ref_detect2_*.c).
 *
 * Precision. torchvision, detectron2 and Caffe2 compute f32 boxes in float. Box
 * arithmetic has hard decisions (IoU > threshold, floor of a log for the FPN level,
 * ceil of roi_size / pooled_size for the sampling grid), so these kernels round every
 * intermediate to float for f32 and f16 inputs (det_round): +, -, *, / and sqrt done in
 * double and rounded once to float give exactly the float result, so those decisions
 * agree bit for bit with the frameworks. Transcendentals (exp, log2) may differ by an
 * ulp from the frameworks' vectorized float versions. f64 inputs compute in double.
 *
 * Ordering. "Descending by score" is stable (equal scores: lower index first) and
 * puts NaN above every number (torch.sort / torch.topk order). Ascending is the
 * reverse rule: NaN last, ties still lower index first.
 */
#ifndef D2_BACKENDS_CPU_REF_DETECT2_H
#define D2_BACKENDS_CPU_REF_DETECT2_H

#include "cpu.h"

/* Round v to float when the kernel computes in single precision. */
static inline double det_round(bool single, double v)
{
    return single ? (double)(float)v : v;
}

/* Does a kernel whose box inputs have dtype t compute in single precision? */
static inline bool det_single(enum d2_dtype t)
{
    return t != D2_DTYPE_F64;
}

struct det_box { double x1, y1, x2, y2; };

/* Row i of a [N, cols] float tensor, columns first_col..first_col+3, rounded to the
 * kernel's precision. */
struct det_box d2_det_load_box(const struct d2_tensor *t, int64_t i, int64_t cols, int64_t first_col, bool single);

/* Is a before b when sorting by key descending (NaN first; ties are not "before")? */
bool d2_det_greater(double a, double b);

/* Stable merge sort of idx[0..n) by key[idx[i]] (descending: d2_det_greater;
 * ascending: NaN last). scratch holds n entries. */
void d2_det_sort_by_key(const double *key, int64_t *idx, int64_t n, bool descending, int64_t *scratch);

struct det_nms_rule {
    double iou_threshold;   /* suppress when IoU > threshold */
    double plus_one;        /* 1 for legacy_plus_one widths, else 0 */
    bool nan_suppresses;    /* IoU 0/0 (NaN): true suppresses (Caffe2), false keeps (torchvision) */
    bool single;            /* float arithmetic */
};

/* Does kept box k suppress candidate c? IoU = inter / (area_k + area_c - inter) with
 * inter = max(0, min(x2) - max(x1) + plus_one) * max(0, ...y...), areas
 * (x2 - x1 + plus_one) * (y2 - y1 + plus_one), in torchvision's evaluation order. */
bool d2_det_suppresses(const struct det_box *k, const struct det_box *c, const struct det_nms_rule *rule);

/* Greedy NMS over candidates order[0..n) (already in visiting order): a candidate
 * is kept unless a kept box with the same id (ids NULL: all one id) suppresses it;
 * stops after max_keep kept (< 0: no limit). Writes kept candidates (values of
 * order) to kept and returns their count. suppressed: n bytes of scratch. */
int64_t d2_det_greedy_nms(const struct det_box *boxes, const int64_t *ids, const int64_t *order, int64_t n,
                          const struct det_nms_rule *rule, int64_t max_keep, int64_t *kept, uint8_t *suppressed);

/* Box2BoxTransform.apply_deltas / Caffe2 bbox_transform of one box by one delta
 * (dx, dy, dw, dh) with weights w[4]; dw, dh are clamped above by scale_clamp
 * (a NaN stays NaN). plus_one: legacy widths (+1) and x2/y2 (-1). */
struct det_box d2_det_decode(const struct det_box *box, const double delta[4], const double weights[4],
                             double scale_clamp, double plus_one, bool single);

/* Clamp each coordinate to [0, x_max] / [0, y_max] (NaN stays NaN). */
struct det_box d2_det_clip(const struct det_box *box, double x_max, double y_max);

/* The node-naming out-of-memory error of a detection kernel. */
enum d2_status d2_det_oom(struct d2_kernel_ctx *ctx);

/* Output i with the given dtype and dims: kept when the executor already allocated
 * exactly that, else (re)allocated. */
enum d2_status d2_det_output(struct d2_kernel_ctx *ctx, uint32_t i, enum d2_dtype dtype, int32_t rank,
                             const int64_t *dims);

#endif
