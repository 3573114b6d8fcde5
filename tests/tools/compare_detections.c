/* tests/tools/compare_detections.c: compare a model's detections with reference ones.
 *
 *   compare_detections OUT_DIR REF_DIR REF_PREFIX boxes=K classes=K scores=K
 *                      [masks=K] [image_size=K] [extra=K:TOL ...] [--ref-indexed]
 *
 * OUT_DIR holds `d2rt run --out` results (out<K>.npy); REF_DIR holds reference files
 * named REF_PREFIX + pred_boxes / pred_classes / scores / pred_masks / image_size .npy
 * (the layout of ../shared/fixtures/detectron2/<model>/<export>/ref), or, with
 * --ref-indexed, REF_PREFIX<K>.npy with the same K as the output (e.g. ort_out3.npy).
 * extra=K:TOL compares any other per-detection output (keypoints, keypoint scores)
 * of matched pairs within absolute tolerance TOL.
 *
 * Detections are matched, not compared by index: near-tied scores may legitimately
 * swap neighbours. A reference detection matches an unused output detection of the
 * same class whose box IoU >= 0.999 and |score difference| <= 1e-4 (the R-CNN issue's
 * tolerances). Pass: counts equal, >= 99% of reference detections matched, matched
 * ROI mask probabilities within 1e-4, image_size exact. Prints one summary line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "runtime/npy.h"

#define IOU_MIN 0.999
#define SCORE_TOL 1e-4
#define MASK_TOL 1e-4
#define MATCH_FRACTION 0.99

/* Every tensor load() filled (all in static storage), released at exit on every path:
 * under LeakSanitizer (make SAN=1) a leak report ends the process before stdout, and
 * with it the summary line, is flushed. */
static struct d2_tensor *loaded[32];
static int num_loaded;

static void release_loaded(void)
{
    for (int i = 0; i < num_loaded; i++)
        d2_tensor_release(loaded[i], d2_allocator_default());
    num_loaded = 0;
}

static int load(const char *path, struct d2_tensor *t)
{
    struct d2_error err = { 0 };
    if (num_loaded == (int)(sizeof loaded / sizeof loaded[0])) {
        printf("compare_detections: too many tensors\n");
        return 0;
    }
    if (d2_npy_read_file(path, NULL, t, &err) != D2_OK) {
        printf("compare_detections: %s\n", err.message);
        return 0;
    }
    loaded[num_loaded++] = t;
    return 1;
}

static int load_out(const char *dir, int k, struct d2_tensor *t)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/out%d.npy", dir, k);
    return load(path, t);
}

static int ref_indexed; /* --ref-indexed: reference files are <prefix><K>.npy */

static int load_ref(const char *dir, const char *prefix, const char *field, int k, struct d2_tensor *t)
{
    char path[4096];
    if (ref_indexed)
        snprintf(path, sizeof path, "%s/%s%d.npy", dir, prefix, k);
    else
        snprintf(path, sizeof path, "%s/%s%s.npy", dir, prefix, field);
    return load(path, t);
}

/* Largest |a-b| over the per-detection slices a[ia], b[ib] of two [n,...] tensors. */
static double slice_max_diff(const struct d2_tensor *a, int64_t ia, const struct d2_tensor *b, int64_t ib,
                             int64_t per)
{
    double worst = 0;
    for (int64_t e = 0; e < per; e++) {
        double d = fabs(d2_load_f64(a->data, a->dtype, (size_t)(ia * per + e)) -
                        d2_load_f64(b->data, b->dtype, (size_t)(ib * per + e)));
        if (d != d)
            return INFINITY;
        worst = fmax(worst, d);
    }
    return worst;
}

static double box_iou(const struct d2_tensor *a, int64_t i, const struct d2_tensor *b, int64_t j)
{
    double ax1 = d2_load_f64(a->data, a->dtype, (size_t)(4 * i)), ay1 = d2_load_f64(a->data, a->dtype, (size_t)(4 * i + 1));
    double ax2 = d2_load_f64(a->data, a->dtype, (size_t)(4 * i + 2)), ay2 = d2_load_f64(a->data, a->dtype, (size_t)(4 * i + 3));
    double bx1 = d2_load_f64(b->data, b->dtype, (size_t)(4 * j)), by1 = d2_load_f64(b->data, b->dtype, (size_t)(4 * j + 1));
    double bx2 = d2_load_f64(b->data, b->dtype, (size_t)(4 * j + 2)), by2 = d2_load_f64(b->data, b->dtype, (size_t)(4 * j + 3));
    double iw = fmin(ax2, bx2) - fmax(ax1, bx1), ih = fmin(ay2, by2) - fmax(ay1, by1);
    double inter = iw > 0 && ih > 0 ? iw * ih : 0;
    double uni = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
    if (uni <= 0) /* both degenerate: identical corners count as a match */
        return ax1 == bx1 && ay1 == by1 && ax2 == bx2 && ay2 == by2 ? 1.0 : 0.0;
    return inter / uni;
}

int main(int argc, char **argv)
{
    int k_boxes = -1, k_classes = -1, k_scores = -1, k_masks = -1, k_size = -1;
    int k_extra[8], num_extra = 0;
    double tol_extra[8], worst_extra[8] = { 0 };
    static struct d2_tensor oe[8], re[8]; /* static: released by release_loaded() at exit */
    static struct d2_tensor ob, oc, os, om, osz, rb, rc, rs, rm, rsz;
    int64_t n_out, n_ref, matched = 0;
    double worst_score = 0, worst_mask = 0, worst_iou = 1;
    unsigned char *used;
    int ok = 1;

    if (argc < 7) {
        fprintf(stderr, "usage: compare_detections OUT_DIR REF_DIR REF_PREFIX boxes=K classes=K scores=K [masks=K] [image_size=K]\n");
        return 2;
    }
    atexit(release_loaded);
    for (int i = 4; i < argc; i++) {
        int *slot = NULL;
        const char *eq = strchr(argv[i], '=');
        if (!strcmp(argv[i], "--ref-indexed")) {
            ref_indexed = 1;
            continue;
        }
        if (!strncmp(argv[i], "extra=", 6) && num_extra < 8) {
            const char *colon = strchr(argv[i], ':');
            k_extra[num_extra] = atoi(argv[i] + 6);
            tol_extra[num_extra] = colon ? atof(colon + 1) : 1e-4;
            num_extra++;
            continue;
        }
        if (!eq)
            return 2;
        if (!strncmp(argv[i], "boxes=", 6)) slot = &k_boxes;
        else if (!strncmp(argv[i], "classes=", 8)) slot = &k_classes;
        else if (!strncmp(argv[i], "scores=", 7)) slot = &k_scores;
        else if (!strncmp(argv[i], "masks=", 6)) slot = &k_masks;
        else if (!strncmp(argv[i], "image_size=", 11)) slot = &k_size;
        if (!slot)
            return 2;
        *slot = atoi(eq + 1);
    }
    if (!load_out(argv[1], k_boxes, &ob) || !load_out(argv[1], k_classes, &oc) || !load_out(argv[1], k_scores, &os) ||
        !load_ref(argv[2], argv[3], "pred_boxes", k_boxes, &rb) ||
        !load_ref(argv[2], argv[3], "pred_classes", k_classes, &rc) ||
        !load_ref(argv[2], argv[3], "scores", k_scores, &rs))
        return 1;
    if (k_masks >= 0 && (!load_out(argv[1], k_masks, &om) || !load_ref(argv[2], argv[3], "pred_masks", k_masks, &rm)))
        return 1;
    for (int x = 0; x < num_extra; x++)
        if (!load_out(argv[1], k_extra[x], &oe[x]) || !load_ref(argv[2], argv[3], "extra", k_extra[x], &re[x]))
            return 1;
    n_out = os.rank ? os.dims[0] : 0;
    n_ref = rs.rank ? rs.dims[0] : 0;
    if (n_out != n_ref) {
        printf("count differs: %lld detections, reference %lld\n", (long long)n_out, (long long)n_ref);
        ok = 0;
    }
    used = calloc((size_t)n_out + 1, 1);
    if (!used)
        return 2;
    for (int64_t r = 0; r < n_ref; r++) {
        int64_t best = -1;
        double best_iou = 0;
        for (int64_t o = 0; o < n_out; o++) {
            double iou, ds;
            if (used[o] || d2_load_i64(oc.data, oc.dtype, (size_t)o) != d2_load_i64(rc.data, rc.dtype, (size_t)r))
                continue;
            ds = fabs(d2_load_f64(os.data, os.dtype, (size_t)o) - d2_load_f64(rs.data, rs.dtype, (size_t)r));
            iou = box_iou(&ob, o, &rb, r);
            if (ds <= SCORE_TOL && iou >= IOU_MIN && iou > best_iou) {
                best = o;
                best_iou = iou;
            }
        }
        if (best < 0)
            continue;
        used[best] = 1;
        matched++;
        worst_iou = fmin(worst_iou, best_iou);
        worst_score = fmax(worst_score, fabs(d2_load_f64(os.data, os.dtype, (size_t)best) - d2_load_f64(rs.data, rs.dtype, (size_t)r)));
        if (k_masks >= 0)
            worst_mask = fmax(worst_mask, slice_max_diff(&om, best, &rm, r, d2_tensor_numel(&rm) / n_ref));
        for (int x = 0; x < num_extra; x++)
            worst_extra[x] = fmax(worst_extra[x], slice_max_diff(&oe[x], best, &re[x], r, d2_tensor_numel(&re[x]) / n_ref));
    }
    if (n_ref && (double)matched < MATCH_FRACTION * (double)n_ref)
        ok = 0;
    if (k_masks >= 0 && worst_mask > MASK_TOL)
        ok = 0;
    for (int x = 0; x < num_extra; x++)
        if (worst_extra[x] > tol_extra[x])
            ok = 0;
    free(used);
    if (k_size >= 0) {
        if (!load_out(argv[1], k_size, &osz) || !load_ref(argv[2], argv[3], "image_size", k_size, &rsz))
            return 1;
        if (d2_tensor_numel(&osz) != d2_tensor_numel(&rsz)) {
            ok = 0;
        } else {
            for (int64_t e = 0; e < d2_tensor_numel(&rsz); e++)
                if (d2_load_i64(osz.data, osz.dtype, (size_t)e) != d2_load_i64(rsz.data, rsz.dtype, (size_t)e))
                    ok = 0;
        }
    }
    {
        char mask_part[512] = "";
        size_t used_len = 0;
        if (k_masks >= 0)
            used_len += (size_t)snprintf(mask_part, sizeof mask_part, ", max |dmask| %.2e", worst_mask);
        for (int x = 0; x < num_extra && used_len < sizeof mask_part; x++)
            used_len += (size_t)snprintf(mask_part + used_len, sizeof mask_part - used_len, ", max |dout%d| %.2e",
                                         k_extra[x], worst_extra[x]);
        printf("%s: %lld/%lld reference detections matched (min IoU %.6f, max |dscore| %.2e%s)\n",
               ok ? "PASS" : "FAIL", (long long)matched, (long long)n_ref, worst_iou, worst_score, mask_part);
    }
    return ok ? 0 : 1;
}
