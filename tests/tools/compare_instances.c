/* tests/tools/compare_instances.c: compare `d2rt run MODEL IMAGE --out DIR` instances with
 * a DefaultPredictor answer (../shared/fixtures/predictor/<model>/<stem>/).
 *
 *   compare_instances OUT_DIR REF_DIR [box_tol=2e-2] [score_tol=1e-5] [mask_frac=0.01] [min_match=0.99]
 *   compare_instances OUT_DIR OTHER_OUT_DIR same      (two d2rt answers: must be identical)
 *   ... boxes_only       (ignore the reference masks: a detector without a mask head
 *                          compared with a Mask R-CNN sharing its box head)
 *
 * OUT_DIR holds boxes.npy f32 [n,4], scores.npy f32 [n], classes.npy i64 [n] and
 * optionally masks.npy bool [n,H,W]. REF_DIR holds boxes/scores/classes.npy and, for
 * mask models, masks_packed.npy (np.packbits along the last axis, bit 7 of byte j =
 * column 8j) with its unpacked shape in masks_shape.json ("shape": [n, H, W]).
 *
 * Detections are matched, not compared by index (near-tied scores may swap neighbours,
 * fixtures README): each reference detection takes the unused output detection of the
 * same class with every box coordinate within box_tol and the score within score_tol
 * (the closest box when several qualify). Pass: equal counts, at least min_match of the
 * reference detections matched, and (with masks) the differing pixels over all matched
 * pairs <= mask_frac of the reference's true pixels. min_match is 0.99 (as in
 * compare_detections) because the random-weight fixtures have decisions on a knife edge:
 * in retinanet/grace_hopper one pair of class-72 boxes has IoU 0.50013 against the 0.5 NMS
 * threshold, so a correct runtime whose box deltas differ by 1e-4 px (another summation
 * order) keeps one detection DefaultPredictor suppressed. `same` requires all of them.
 * Prints one summary line; exit 0 on pass, 1 on fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "runtime/npy.h"

/* Every tensor load() filled (all in static storage), released at exit on every path:
 * under LeakSanitizer (make SAN=1) a leak report ends the process before stdout, and
 * with it the summary line, is flushed. */
static struct d2_tensor *loaded[16];
static int num_loaded;

static void release_loaded(void)
{
    for (int i = 0; i < num_loaded; i++)
        d2_tensor_release(loaded[i], d2_allocator_default());
    num_loaded = 0;
}

static int load(const char *dir, const char *name, struct d2_tensor *t, int required)
{
    char path[4096];
    struct d2_error err = { 0 };
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!required && !(f = fopen(path, "rb")))
        return 0;
    if (!required)
        fclose(f);
    if (d2_npy_read_file(path, NULL, t, &err) != D2_OK) {
        printf("compare_instances: %s\n", err.message);
        exit(1);
    }
    if (num_loaded < (int)(sizeof loaded / sizeof loaded[0]))
        loaded[num_loaded++] = t;
    return 1;
}

/* "shape": [n, H, W] from masks_shape.json (a tiny scan, not a JSON parser). */
static int read_mask_shape(const char *dir, int64_t shape[3])
{
    char path[4096], text[4096];
    size_t n;
    FILE *f;
    const char *p;
    snprintf(path, sizeof path, "%s/masks_shape.json", dir);
    if (!(f = fopen(path, "rb")))
        return 0;
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    p = strstr(text, "\"shape\"");
    if (!p || !(p = strchr(p, '[')))
        return 0;
    for (int i = 0; i < 3; i++) {
        char *end;
        shape[i] = strtoll(p + 1, &end, 10);
        p = strchr(end, i < 2 ? ',' : ']');
        if (!p)
            return 0;
    }
    return 1;
}

static int ref_mask_bit(const struct d2_tensor *packed, int64_t i, int64_t y, int64_t x, int64_t H)
{
    int64_t row_bytes = packed->dims[2];
    const uint8_t *b = (const uint8_t *)packed->data + (i * H + y) * row_bytes;
    return (b[x / 8] >> (7 - x % 8)) & 1;
}

int main(int argc, char **argv)
{
    double box_tol = 2e-2, score_tol = 1e-5, mask_frac = 0.01, min_match = 0.99;
    static struct d2_tensor ob, os, oc, om, rb, rs, rc, rm; /* static: released at exit */
    int has_out_masks, has_ref_masks, same = 0, boxes_only = 0;
    int64_t n, matched = 0, mask_diff = 0, true_px = 0, mask_shape[3] = { 0 };
    double max_box = 0, max_score = 0;
    int64_t *match;
    char *used;

    if (argc < 3) {
        fprintf(stderr, "usage: compare_instances OUT_DIR REF_DIR [box_tol=T] [score_tol=T] [mask_frac=F] | same\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "box_tol=", 8) == 0)
            box_tol = atof(argv[i] + 8);
        else if (strncmp(argv[i], "score_tol=", 10) == 0)
            score_tol = atof(argv[i] + 10);
        else if (strncmp(argv[i], "mask_frac=", 10) == 0)
            mask_frac = atof(argv[i] + 10);
        else if (strncmp(argv[i], "min_match=", 10) == 0)
            min_match = atof(argv[i] + 10);
        else if (strcmp(argv[i], "same") == 0)
            same = 1;
        else if (strcmp(argv[i], "boxes_only") == 0)
            boxes_only = 1;
        else {
            fprintf(stderr, "compare_instances: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    atexit(release_loaded);
    if (same) {
        box_tol = score_tol = mask_frac = 0;
        min_match = 1;
    }
    load(argv[1], "boxes.npy", &ob, 1);
    load(argv[1], "scores.npy", &os, 1);
    load(argv[1], "classes.npy", &oc, 1);
    has_out_masks = load(argv[1], "masks.npy", &om, 0);
    load(argv[2], "boxes.npy", &rb, 1);
    load(argv[2], "scores.npy", &rs, 1);
    load(argv[2], "classes.npy", &rc, 1);
    if (same)
        has_ref_masks = load(argv[2], "masks.npy", &rm, 0);
    else
        has_ref_masks = load(argv[2], "masks_packed.npy", &rm, 0) && read_mask_shape(argv[2], mask_shape);
    if (ob.dtype != D2_DTYPE_F32 || os.dtype != D2_DTYPE_F32 || rb.dtype != D2_DTYPE_F32 || rs.dtype != D2_DTYPE_F32) {
        printf("boxes and scores must be f32\n");
        return 1;
    }
    n = rb.dims[0];
    if (ob.dims[0] != n) {
        printf("count %lld, expected %lld\n", (long long)ob.dims[0], (long long)n);
        return 1;
    }
    if (boxes_only)
        has_ref_masks = has_out_masks = 0;
    if (has_ref_masks != has_out_masks) {
        printf("masks %s in the output but %s in the reference\n", has_out_masks ? "present" : "absent",
               has_ref_masks ? "present" : "absent");
        return 1;
    }
    match = calloc((size_t)n + 1, sizeof *match);
    used = calloc((size_t)n + 1, 1);
    if (!match || !used) {
        free(match);
        free(used);
        return 2;
    }
    const float *obx = ob.data, *osc = os.data, *rbx = rb.data, *rsc = rs.data;
    for (int64_t i = 0; i < n; i++) {
        int64_t best = -1;
        double best_d = INFINITY;
        int64_t ci = d2_load_i64(rc.data, rc.dtype, (size_t)i);
        for (int64_t j = 0; j < n; j++) {
            double d = 0;
            if (used[j] || d2_load_i64(oc.data, oc.dtype, (size_t)j) != ci || fabs(osc[j] - rsc[i]) > score_tol)
                continue;
            for (int k = 0; k < 4; k++)
                d = fmax(d, fabs(obx[j * 4 + k] - rbx[i * 4 + k]));
            if (d <= box_tol && d < best_d) {
                best = j;
                best_d = d;
            }
        }
        match[i] = best;
        if (best < 0)
            continue;
        used[best] = 1;
        matched++;
        max_box = fmax(max_box, best_d);
        max_score = fmax(max_score, fabs(osc[best] - rsc[i]));
    }
    if (has_ref_masks) {
        int64_t H = om.dims[1], W = om.dims[2];
        if (!same && (mask_shape[0] != n || mask_shape[1] != H || mask_shape[2] != W)) {
            printf("masks shape [%lld,%lld,%lld], expected [%lld,%lld,%lld]\n", (long long)om.dims[0], (long long)H,
                   (long long)W, (long long)mask_shape[0], (long long)mask_shape[1], (long long)mask_shape[2]);
            free(match);
            free(used);
            return 1;
        }
        const uint8_t *out_px = om.data, *ref_px = rm.data;
        for (int64_t i = 0; i < n; i++)
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++) {
                    int r = same ? ref_px[(i * H + y) * W + x] != 0 : ref_mask_bit(&rm, i, y, x, H);
                    true_px += r;
                    if (match[i] >= 0)
                        mask_diff += r != (out_px[(match[i] * H + y) * W + x] != 0);
                }
    }
    int ok = (double)matched >= min_match * (double)n && (!has_ref_masks || (double)mask_diff <= mask_frac * (double)true_px);
    printf("%lld/%lld detections matched, max |box| %.3g px, max |score| %.3g", (long long)matched, (long long)n,
           max_box, max_score);
    if (has_ref_masks)
        printf(", mask pixels differing %lld of %lld true (%.3f%%)", (long long)mask_diff, (long long)true_px,
               true_px ? 100.0 * (double)mask_diff / (double)true_px : 0.0);
    printf("\n");
    free(match);
    free(used);
    return ok ? 0 : 1;
}
