/* backends/cpu/fast_detect_nms.c: fast box_nms and box_batched_nms, identical to the
 * reference kernels (backends/cpu/ref_detect2_boxes.c: same kept indices, same order).
 *
 * The reference visits the candidates by descending score and tests every later
 * candidate against each kept box: O(N^2) IoU tests on N candidates, even when most
 * pairs cannot interact (80,000 class-boxes of the ROI heads, where only boxes of one
 * class compete). Here:
 *   1. Sort once: a stable LSD radix sort of the f32 scores (keys mapped so that
 *      descending order is ascending key order, NaN first, -0 == +0), which is the
 *      reference's stable merge sort order exactly. rank r = position in that order.
 *   2. Split the candidates into groups that cannot suppress each other:
 *      - box_batched_nms: by id (a box only suppresses boxes of its own id);
 *      - then, when it is provably safe (below), each group by x-extent: sorted by x1
 *        and swept, a group is cut where the next x1 is >= the largest x2 (+1 with
 *        legacy_plus_one) so far. This is what makes torchvision's coordinate-offset
 *        batched NMS (traced exports: one box_nms over boxes shifted by id * (max + 1))
 *        as cheap as the per-id form.
 *      Each group keeps the candidates in rank order.
 *   3. The reference's greedy loop per group (in parallel over groups on the thread
 *      pool), with areas precomputed and the pair test done in exactly the
 *      reference's arithmetic (ref_detect2.h: each +, -, *, / rounded to float, the
 *      width min(x2) - max(x1) + p evaluated in double and rounded once).
 *   4. The kept ranks of all groups, in rank order, truncated to max_output; then for
 *      order=by_id the reference's own stable sort by id.
 * Greedy NMS on a union of groups that never suppress across groups keeps exactly the
 * union of the per-group results, and the first max_output kept in rank order are the
 * same because each group stops after max_output of its own.
 *
 * When the x-split is safe: a pair whose x-extents are separated (c.x1 >= k.x2 + p)
 * has min(x2) - max(x1) + p <= 0 (rounding is monotonic), so its intersection is 0 and
 * its IoU is 0 / (area_k + area_c): +-0 (never > a threshold >= 0) or, when the area
 * sum is 0, NaN (suppresses under nan_iou_suppresses). So the split needs: threshold
 * >= 0, every coordinate finite with |v| <= 2^40 (x2 + p exact, areas finite), and,
 * with nan_iou_suppresses, every area > 0. Otherwise only the id groups are used.
 *
 * Fast path: boxes and scores f32 (ids any integer dtype); anything else, and
 * malformed inputs, run the reference kernel. */
#include "fast_detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fast.h"
#include "ref_detect2.h"

enum d2_status d2_cpu_ref_box_nms(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_box_batched_nms(struct d2_kernel_ctx *ctx);

/* Groups smaller than this are not split by x-extent (the sort would cost more). */
#define NMS_SPLIT_MIN 32
/* Coordinates up to this magnitude keep x2 + 1 exact and areas finite in float. */
#define NMS_COORD_LIMIT 1099511627776.0 /* 2^40 */

/* ---- keys and the radix sort ------------------------------------------------------ */

/* An unsigned key in ascending numeric order of f (not NaN); -0 and +0 get one key. */
static uint32_t ascending_key(float f)
{
    uint32_t u;
    if (f == 0.0f)
        f = 0.0f;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Descending score order as ascending keys: NaN first (key 0; +inf's key is 0x007fffff). */
static uint32_t score_key(float f)
{
    return isnan(f) ? 0u : ~ascending_key(f);
}

/* Stable sort of (key, val) pairs by key ascending: LSD radix, 3 passes of 11 bits.
 * key_tmp and val_tmp hold n entries each. */
static void radix_sort_pairs(uint32_t *key, int64_t *val, int64_t n, uint32_t *key_tmp, int64_t *val_tmp)
{
    uint32_t *k_in = key, *k_out = key_tmp;
    int64_t *v_in = val, *v_out = val_tmp;
    for (int shift = 0; shift < 33; shift += 11) {
        int64_t count[2048];
        memset(count, 0, sizeof count);
        for (int64_t i = 0; i < n; i++)
            count[(k_in[i] >> shift) & 2047u]++;
        if (n > 0 && count[(k_in[0] >> shift) & 2047u] == n)
            continue; /* every key has the same digit: the pass would copy */
        int64_t sum = 0;
        for (int d = 0; d < 2048; d++) {
            int64_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t at = count[(k_in[i] >> shift) & 2047u]++;
            k_out[at] = k_in[i];
            v_out[at] = v_in[i];
        }
        uint32_t *kt = k_in;
        k_in = k_out;
        k_out = kt;
        int64_t *vt = v_in;
        v_in = v_out;
        v_out = vt;
    }
    if (k_in != key) {
        memcpy(key, k_in, (size_t)n * sizeof *key);
        memcpy(val, v_in, (size_t)n * sizeof *val);
    }
}

/* ---- the per-call state ----------------------------------------------------------- */

struct nms_state {
    int64_t n;
    double plus_one, threshold;
    float threshold_f32;     /* the largest float <= threshold: iou > threshold <=> iou > this */
    bool nan_suppresses, has_nan;
    int64_t max_keep;
    /* per member position q (members in group order): rank, box coordinates, area */
    int64_t *member_rank;
    float *x1, *y1, *x2, *y2, *area;
    int32_t *suppressed;     /* per member position: 0, or nonzero once suppressed */
    uint8_t *kept_rank;      /* per rank: 1 when kept */
    int64_t *group_start;    /* groups: [group_start[g], group_start[g + 1]) of members */
    int64_t num_groups;
    /* The vector form of the inner loop (NULL: scalar only); see suppress_row. */
    int64_t (*row)(const struct nms_state *s, int64_t k, int64_t j, int64_t end);
};

static inline double min_of(double a, double b, bool nan_safe)
{
    return nan_safe ? fmin(a, b) : (a < b ? a : b);
}

static inline double max_of(double a, double b, bool nan_safe)
{
    return nan_safe ? fmax(a, b) : (a > b ? a : b);
}

/* d2_det_suppresses for f32 boxes, operation by operation (see the file comment). */
static inline bool pair_suppresses(const struct nms_state *s, int64_t k, int64_t c)
{
    bool ns = s->has_nan;
    float w = (float)(min_of(s->x2[k], s->x2[c], ns) - max_of(s->x1[k], s->x1[c], ns) + s->plus_one);
    float h = (float)(min_of(s->y2[k], s->y2[c], ns) - max_of(s->y1[k], s->y1[c], ns) + s->plus_one);
    w = w > 0 ? w : 0.0f;
    h = h > 0 ? h : 0.0f;
    float inter = w * h;
    float iou = inter / ((s->area[k] + s->area[c]) - inter);
    if (isnan(iou))
        return s->nan_suppresses;
    return (double)iou > s->threshold;
}

/* The inner loop in SIMD: for candidates j in [j, end) (whole vectors only), mark
 * suppressed[j] when kept box k suppresses j; returns where it stopped (the caller
 * finishes the tail with pair_suppresses). Already suppressed candidates are tested
 * too (branch-free; marking them again changes nothing). Used only when every
 * coordinate is a number and legacy_plus_one is off: then min(x2) - max(x1), evaluated
 * in double and rounded once as the reference does, is the float subtraction (one
 * correctly rounded operation either way), so every step is a float operation;
 * `a < b ? a : b` equals fmin for numbers (a -0/+0 choice only changes the sign of a
 * zero width, which is clamped to 0 anyway); and for a float IoU, IoU > threshold
 * (a double) is IoU > the largest float <= threshold. GCC vector extensions, compiled per
 * instruction set with target attributes and chosen by the session's kernel table. */
#define DEFINE_SUPPRESS_ROW(NAME, TARGET, LANES)                                                               \
    typedef float NAME##_vf __attribute__((vector_size(LANES * 4)));                                           \
    typedef int32_t NAME##_vi __attribute__((vector_size(LANES * 4)));                                         \
    TARGET static int64_t NAME(const struct nms_state *s, int64_t k, int64_t j, int64_t end)                  \
    {                                                                                                          \
        typedef NAME##_vf vf;                                                                                  \
        typedef NAME##_vi vi;                                                                                  \
        const vf zero = { 0 }, kx1 = zero + s->x1[k], ky1 = zero + s->y1[k], kx2 = zero + s->x2[k];             \
        const vf ky2 = zero + s->y2[k], karea = zero + s->area[k], thr = zero + s->threshold_f32;               \
        const vi nan_flag = (vi){ 0 } + (s->nan_suppresses ? -1 : 0);                                          \
        for (; j + LANES <= end; j += LANES) {                                                                 \
            vf cx1, cy1, cx2, cy2, carea;                                                                      \
            vi flags;                                                                                          \
            memcpy(&cx1, s->x1 + j, sizeof cx1);                                                               \
            memcpy(&cy1, s->y1 + j, sizeof cy1);                                                               \
            memcpy(&cx2, s->x2 + j, sizeof cx2);                                                               \
            memcpy(&cy2, s->y2 + j, sizeof cy2);                                                               \
            memcpy(&carea, s->area + j, sizeof carea);                                                         \
            memcpy(&flags, s->suppressed + j, sizeof flags);                                                   \
            vi lt;                                                                                             \
            lt = kx2 < cx2;                                                                                    \
            vf min_x2 = (vf)(((vi)kx2 & lt) | ((vi)cx2 & ~lt));                                                \
            lt = ky2 < cy2;                                                                                    \
            vf min_y2 = (vf)(((vi)ky2 & lt) | ((vi)cy2 & ~lt));                                                \
            lt = kx1 > cx1;                                                                                    \
            vf max_x1 = (vf)(((vi)kx1 & lt) | ((vi)cx1 & ~lt));                                                \
            lt = ky1 > cy1;                                                                                    \
            vf max_y1 = (vf)(((vi)ky1 & lt) | ((vi)cy1 & ~lt));                                                \
            vf w = min_x2 - max_x1, h = min_y2 - max_y1;                                                       \
            w = (vf)((vi)w & (w > zero));                                                                      \
            h = (vf)((vi)h & (h > zero));                                                                      \
            vf inter = w * h;                                                                                  \
            vf iou = inter / ((karea + carea) - inter);                                                        \
            flags |= (iou > thr) | ((iou != iou) & nan_flag);                                                  \
            memcpy(s->suppressed + j, &flags, sizeof flags);                                                   \
        }                                                                                                      \
        return j;                                                                                              \
    }

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* no fused multiply-adds: the reference rounds each operation */
#endif
DEFINE_SUPPRESS_ROW(suppress_row_generic, , 4)
#if defined(__x86_64__) && defined(__GNUC__)
#define NMS_HAVE_X86_ROWS 1
DEFINE_SUPPRESS_ROW(suppress_row_avx2, __attribute__((target("avx2"))), 8)
DEFINE_SUPPRESS_ROW(suppress_row_avx512, __attribute__((target("avx512f"))), 16)
#endif

/* The row function for the session's kernel table (generic, avx2, avx512). */
static int64_t (*suppress_row_for(const struct d2_cpu_kernels *kt))(const struct nms_state *, int64_t, int64_t,
                                                                     int64_t)
{
#ifdef NMS_HAVE_X86_ROWS
    if (strcmp(kt->name, "avx512") == 0)
        return suppress_row_avx512;
    if (strcmp(kt->name, "avx2") == 0)
        return suppress_row_avx2;
#endif
    (void)kt;
    return suppress_row_generic;
}

static void greedy_groups(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct nms_state *s = ctx;
    (void)thread;
    for (int64_t g = begin; g < end; g++) {
        int64_t first = s->group_start[g], last = s->group_start[g + 1], kept = 0;
        for (int64_t i = first; i < last; i++) {
            if (s->suppressed[i])
                continue;
            if (s->max_keep >= 0 && kept >= s->max_keep)
                break;
            s->kept_rank[s->member_rank[i]] = 1;
            kept++;
            int64_t j = s->row ? s->row(s, i, i + 1, last) : i + 1;
            for (; j < last; j++)
                if (!s->suppressed[j] && pair_suppresses(s, i, j))
                    s->suppressed[j] = 1;
        }
    }
}

/* ---- grouping ----------------------------------------------------------------------- */

struct nms_input {
    const float *boxes, *scores;
    const int64_t *ids;      /* NULL: one id */
};

/* Group by id: members[] gets the ranks grouped by id (ids ascending, ranks ascending
 * within an id); starts[] the group boundaries. Returns the number of groups. */
static int64_t group_by_id(const int64_t *ids, const int64_t *order, int64_t n, int64_t *members, int64_t *starts,
                           uint32_t *key_tmp, int64_t *val_tmp, int64_t *scratch)
{
    if (!ids) {
        for (int64_t r = 0; r < n; r++)
            members[r] = r;
        starts[0] = 0;
        starts[1] = n;
        return n > 0 ? 1 : 0;
    }
    int64_t lo = ids[order[0]], hi = lo;
    for (int64_t r = 1; r < n; r++) {
        int64_t id = ids[order[r]];
        lo = id < lo ? id : lo;
        hi = id > hi ? id : hi;
    }
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    if (range < (uint64_t)n) {
        /* Counting sort by id - lo (scratch: n + 1 counters), stable in rank. */
        int64_t buckets = (int64_t)range + 1;
        memset(scratch, 0, (size_t)(buckets + 1) * sizeof *scratch);
        for (int64_t r = 0; r < n; r++)
            scratch[ids[order[r]] - lo + 1]++;
        for (int64_t b = 0; b < buckets; b++)
            scratch[b + 1] += scratch[b];
        int64_t groups = 0;
        for (int64_t b = 0; b < buckets; b++)
            if (scratch[b + 1] > scratch[b])
                starts[groups++] = scratch[b];
        starts[groups] = n;
        for (int64_t r = 0; r < n; r++)
            members[scratch[ids[order[r]] - lo]++] = r;
        return groups;
    }
    /* Wide ids: radix sort by the id's 64 bits in two 32-bit halves (low then high,
     * each stable), biased so that signed order is unsigned order. */
    uint32_t *key = (uint32_t *)scratch; /* scratch holds n int64, enough for n uint32 */
    for (int64_t r = 0; r < n; r++) {
        key[r] = (uint32_t)((uint64_t)ids[order[r]] ^ 0x8000000000000000ull);
        members[r] = r;
    }
    radix_sort_pairs(key, members, n, key_tmp, val_tmp);
    for (int64_t q = 0; q < n; q++)
        key[q] = (uint32_t)(((uint64_t)ids[order[members[q]]] ^ 0x8000000000000000ull) >> 32);
    radix_sort_pairs(key, members, n, key_tmp, val_tmp);
    int64_t groups = 0;
    for (int64_t q = 0; q < n; q++)
        if (q == 0 || ids[order[members[q]]] != ids[order[members[q - 1]]])
            starts[groups++] = q;
    starts[groups] = n;
    return groups;
}

/* Split group [first, last) of members (ranks in ascending order) by x-extent; the
 * pieces replace it in place, in rank order each. Appends the piece starts to
 * starts_out and returns how many. */
static int64_t split_by_x(const float *boxes, const int64_t *order, double plus_one, int64_t *members, int64_t first,
                          int64_t last, int64_t *starts_out, uint32_t *key, int64_t *pos, uint32_t *key_tmp,
                          int64_t *val_tmp, int64_t *label)
{
    int64_t m = last - first;
    if (m < NMS_SPLIT_MIN) {
        starts_out[0] = first;
        return 1;
    }
    for (int64_t q = 0; q < m; q++) {
        key[q] = ascending_key(boxes[order[members[first + q]] * 4]);
        pos[q] = q;
    }
    radix_sort_pairs(key, pos, m, key_tmp, val_tmp);
    double reach = -INFINITY;
    int64_t pieces = 0;
    for (int64_t t = 0; t < m; t++) {
        const float *b = boxes + order[members[first + pos[t]]] * 4;
        if ((double)b[0] >= reach)
            pieces++;
        label[pos[t]] = pieces - 1;
        double end = (double)b[2] + plus_one;
        reach = end > reach ? end : reach;
    }
    if (pieces == 1) {
        starts_out[0] = first;
        return 1;
    }
    /* Stable counting sort of the members by piece label (val_tmp: pieces + 1 counters). */
    int64_t *count = val_tmp;
    memset(count, 0, (size_t)(pieces + 1) * sizeof *count);
    for (int64_t q = 0; q < m; q++)
        count[label[q] + 1]++;
    for (int64_t p = 0; p < pieces; p++)
        count[p + 1] += count[p];
    for (int64_t p = 0; p < pieces; p++)
        starts_out[p] = first + count[p];
    for (int64_t q = 0; q < m; q++)
        pos[count[label[q]]++] = members[first + q];
    memcpy(members + first, pos, (size_t)m * sizeof *pos);
    return pieces;
}

/* ---- the kernel ----------------------------------------------------------------------- */

static enum d2_status fast_nms(struct d2_kernel_ctx *ctx, bool batched)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_attrs_box_nms *a = ctx->node->attrs;
    const struct d2_tensor *boxes = ctx->inputs[0], *scores = ctx->inputs[1];
    const struct d2_tensor *idxs = batched ? ctx->inputs[2] : NULL;
    if (!fast || boxes->dtype != D2_DTYPE_F32 || scores->dtype != D2_DTYPE_F32 || boxes->rank != 2 ||
        boxes->dims[1] != 4 || scores->rank != 1 || scores->dims[0] != boxes->dims[0] ||
        (idxs && (idxs->rank != 1 || idxs->dims[0] != boxes->dims[0])))
        return batched ? d2_cpu_ref_box_batched_nms(ctx) : d2_cpu_ref_box_nms(ctx);

    int64_t n = boxes->dims[0];
    if (n > ((int64_t)1 << 40))
        return batched ? d2_cpu_ref_box_batched_nms(ctx) : d2_cpu_ref_box_nms(ctx); /* sizes overflow */
    if (n == 0) {
        int64_t dims[1] = { 0 };
        return d2_det_output(ctx, 0, D2_DTYPE_I64, 1, dims);
    }
    const float *box = boxes->data, *score = scores->data;
    struct nms_state s;
    memset(&s, 0, sizeof s);
    s.n = n;
    s.plus_one = a->legacy_plus_one ? 1.0 : 0.0;
    s.threshold = a->iou_threshold;
    s.threshold_f32 = (float)s.threshold;
    if ((double)s.threshold_f32 > s.threshold)
        s.threshold_f32 = nextafterf(s.threshold_f32, -INFINITY);
    s.nan_suppresses = a->nan_iou_suppresses != 0;
    s.max_keep = a->max_output;

    /* One allocation: 8-byte arrays first, then 4-byte, then bytes. */
    size_t un = (size_t)n;
    size_t i64_arrays = 7, f32_arrays = 7;
    size_t bytes = un * (i64_arrays * 8 + f32_arrays * 4 + 4 + 1) + 3 * 8;
    char *mem = d2_alloc(ctx->alloc, bytes);
    if (!mem)
        return d2_det_oom(ctx);
    int64_t *order = (int64_t *)mem;          /* rank -> box */
    int64_t *ids = order + un;                /* box -> id (batched) */
    int64_t *members = ids + un;              /* member position -> rank */
    int64_t *starts = members + un;           /* n + 1 group starts (id groups) */
    int64_t *val_tmp = starts + un + 1;       /* radix scratch; later final starts */
    int64_t *pos = val_tmp + un + 1;          /* n + 1: split and grouping scratch */
    int64_t *label = pos + un + 1;            /* split labels; later the kept list */
    uint32_t *key = (uint32_t *)(label + un);
    uint32_t *key_tmp = key + un;
    float *coord = (float *)(key_tmp + un);   /* x1, y1, x2, y2, area: n each */
    int32_t *suppressed = (int32_t *)(coord + 5 * un);
    uint8_t *kept_rank = (uint8_t *)(suppressed + un);
    int64_t *final_starts = NULL;

    /* 1. Sort by score. */
    for (int64_t i = 0; i < n; i++) {
        key[i] = score_key(score[i]);
        order[i] = i;
    }
    radix_sort_pairs(key, order, n, key_tmp, val_tmp);

    /* Box facts that decide the fast paths. */
    bool split_ok = s.threshold >= 0, has_nan = false;
    for (int64_t i = 0; i < 4 * n; i++) {
        float v = box[i];
        has_nan |= isnan(v);
        if (!(fabsf(v) <= (float)NMS_COORD_LIMIT))
            split_ok = false;
    }
    s.has_nan = has_nan;

    /* 2. Groups: by id, then by x-extent. */
    if (idxs)
        for (int64_t i = 0; i < n; i++)
            ids[i] = d2_load_i64(idxs->data, idxs->dtype, (size_t)i);
    int64_t id_groups = group_by_id(idxs ? ids : NULL, order, n, members, starts, key_tmp, val_tmp, pos);
    /* Areas by box (in coord's area slot, indexed by box for now) for the NaN-IoU rule. */
    float *area_by_box = coord + 4 * un;
    for (int64_t i = 0; i < n; i++) {
        const float *b = box + i * 4;
        area_by_box[i] = (float)((double)b[2] - (double)b[0] + s.plus_one) *
                         (float)((double)b[3] - (double)b[1] + s.plus_one);
        if (s.nan_suppresses && !(area_by_box[i] > 0))
            split_ok = false;
    }
    /* Final group starts go after the id-group starts are read: reuse label's tail is
     * not enough (pieces can reach n), so allocate them. */
    final_starts = d2_alloc(ctx->alloc, (un + 1) * sizeof *final_starts);
    if (!final_starts) {
        d2_free(ctx->alloc, mem);
        return d2_det_oom(ctx);
    }
    int64_t groups = 0;
    for (int64_t g = 0; g < id_groups; g++) {
        if (split_ok)
            groups += split_by_x(box, order, s.plus_one, members, starts[g], starts[g + 1], final_starts + groups,
                                 key, pos, key_tmp, val_tmp, label);
        else
            final_starts[groups++] = starts[g];
    }
    final_starts[groups] = n;

    /* Member arrays in group order. */
    float *area = coord + 4 * un;
    float *x1 = coord, *y1 = coord + un, *x2 = coord + 2 * un, *y2 = coord + 3 * un;
    float *area_tmp = (float *)key; /* area_by_box aliases area: copy it out first */
    memcpy(area_tmp, area_by_box, un * sizeof *area_tmp);
    for (int64_t q = 0; q < n; q++) {
        int64_t b = order[members[q]];
        x1[q] = box[b * 4];
        y1[q] = box[b * 4 + 1];
        x2[q] = box[b * 4 + 2];
        y2[q] = box[b * 4 + 3];
        area[q] = area_tmp[b];
    }
    memset(suppressed, 0, un * sizeof *suppressed);
    memset(kept_rank, 0, un);
    s.member_rank = members;
    s.x1 = x1, s.y1 = y1, s.x2 = x2, s.y2 = y2, s.area = area;
    s.suppressed = suppressed;
    s.kept_rank = kept_rank;
    s.group_start = final_starts;
    s.num_groups = groups;
    s.row = s.plus_one == 0 && !s.has_nan ? suppress_row_for(fast->kernels) : NULL;

    /* 3. Greedy per group. */
    d2_threadpool_parallel_for(fast->pool, groups, 1, greedy_groups, &s);

    /* 4. Kept in rank order, at most max_output. */
    int64_t *kept = label, count = 0;
    for (int64_t r = 0; r < n; r++) {
        if (!kept_rank[r])
            continue;
        if (s.max_keep >= 0 && count >= s.max_keep)
            break;
        kept[count++] = order[r];
    }
    enum d2_status st = D2_OK;
    if (idxs && a->order == D2_NMS_ORDER_BY_ID && count > 1) {
        double *id_key = d2_alloc(ctx->alloc, un * sizeof *id_key);
        if (!id_key) {
            st = d2_det_oom(ctx);
        } else {
            for (int64_t i = 0; i < n; i++)
                id_key[i] = (double)ids[i];
            d2_det_sort_by_key(id_key, kept, count, false, pos);
            d2_free(ctx->alloc, id_key);
        }
    }
    if (st == D2_OK) {
        int64_t dims[1] = { count };
        st = d2_det_output(ctx, 0, D2_DTYPE_I64, 1, dims);
        if (st == D2_OK && count > 0)
            memcpy(ctx->outputs[0].data, kept, (size_t)count * sizeof *kept);
    }
    d2_free(ctx->alloc, final_starts);
    d2_free(ctx->alloc, mem);
    return st;
}

enum d2_status d2_cpu_fast_box_nms(struct d2_kernel_ctx *ctx)
{
    return fast_nms(ctx, false);
}

enum d2_status d2_cpu_fast_box_batched_nms(struct d2_kernel_ctx *ctx)
{
    return fast_nms(ctx, true);
}

d2_cpu_kernel_fn d2_cpu_fast_detect_kernel(enum d2_op op)
{
    switch (op) {
    case D2_OP_BOX_NMS: return d2_cpu_fast_box_nms;
    case D2_OP_BOX_BATCHED_NMS: return d2_cpu_fast_box_batched_nms;
    case D2_OP_BOX_ROI_ALIGN: return d2_cpu_fast_box_roi_align;
    case D2_OP_PASTE_MASKS: return d2_cpu_fast_paste_masks;
    default: return NULL;
    }
}
