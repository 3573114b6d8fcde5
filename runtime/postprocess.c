/* runtime/postprocess.c: d2_detector_postprocess (detectron2 detector_postprocess), the
 * instances' .npy writer and table printer, and the string buffer of
 * postprocess_internal.h. Contracts: runtime/postprocess.h.
 *
 * Arithmetic follows detectron2's float32 tensors: the scale factors are Python floats that
 * PyTorch applies to a float32 tensor as float32 scalars, so boxes become
 * (float)(box * (float)scale). Masks are pasted by the paste_masks reference code
 * (backends/cpu/ref_postproc.h), keypoints decoded by heatmaps_to_keypoints' code. */
#include "postprocess.h"
#include "postprocess_internal.h"
#include "npy.h"
#include "../backends/cpu/ref_postproc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- string buffer ---- */

void d2_strbuf_init(struct d2_strbuf *b, const struct d2_allocator *alloc)
{
    memset(b, 0, sizeof *b);
    b->alloc = alloc;
}

static bool strbuf_reserve(struct d2_strbuf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->length + extra + 1 <= b->capacity)
        return true;
    size_t cap = b->capacity ? b->capacity : 256;
    while (cap < b->length + extra + 1)
        cap *= 2;
    char *data = d2_realloc(b->alloc, b->data, cap);
    if (!data) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->capacity = cap;
    return true;
}

void d2_strbuf_append(struct d2_strbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (!strbuf_reserve(b, n))
        return;
    memcpy(b->data + b->length, s, n + 1);
    b->length += n;
}

void d2_strbuf_printf(struct d2_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        d2_strbuf_append(b, small);
        return;
    }
    if (!strbuf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->length, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->length += (size_t)n;
}

void d2_strbuf_number(struct d2_strbuf *b, double v)
{
    char text[40];
    if (!isfinite(v)) {
        d2_strbuf_append(b, "null");
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, v);
        if (strtod(text, NULL) == v)
            break;
    }
    d2_strbuf_append(b, text);
}

char *d2_strbuf_take(struct d2_strbuf *b)
{
    if (!strbuf_reserve(b, 0)) {
        d2_strbuf_free(b);
        return NULL;
    }
    b->data[b->length] = '\0';
    char *s = b->data;
    memset(b, 0, sizeof *b);
    return s;
}

void d2_strbuf_free(struct d2_strbuf *b)
{
    d2_free(b->alloc, b->data);
    b->data = NULL;
    b->length = b->capacity = 0;
}

/* ---- detector_postprocess ---- */

void d2_instances_release(struct d2_instances *inst, const struct d2_allocator *alloc)
{
    d2_tensor_release(&inst->boxes, alloc);
    d2_tensor_release(&inst->scores, alloc);
    d2_tensor_release(&inst->classes, alloc);
    d2_tensor_release(&inst->masks, alloc);
    d2_tensor_release(&inst->keypoints, alloc);
    memset(inst, 0, sizeof *inst);
}

static enum d2_status check_raw(const struct d2_raw_instances *raw, int64_t *n, struct d2_error *err)
{
    const struct d2_tensor *b = raw->boxes, *s = raw->scores, *c = raw->classes;
    if (!b || !s || !c)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "detector_postprocess: boxes, scores and classes are required");
    if (b->rank != 2 || b->dims[1] != 4 || !d2_dtype_is_float(b->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "detector_postprocess: boxes must be float [n, 4]");
    *n = b->dims[0];
    if (s->rank != 1 || s->dims[0] != *n || !d2_dtype_is_float(s->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "detector_postprocess: scores must be float [%lld]", (long long)*n);
    if (c->rank != 1 || c->dims[0] != *n || c->dtype == D2_DTYPE_BOOL)
        return d2_errorf(err, D2_ERR_SHAPE, "detector_postprocess: classes must be numbers [%lld]", (long long)*n);
    const struct d2_tensor *m = raw->mask_probs;
    if (m && (!d2_dtype_is_float(m->dtype) || m->dims[0] != *n ||
              !(m->rank == 3 || (m->rank == 4 && m->dims[1] == 1))))
        return d2_errorf(err, D2_ERR_SHAPE, "detector_postprocess: mask probabilities must be float [%lld, 1, M, M]",
                         (long long)*n);
    const struct d2_tensor *k = raw->keypoints;
    if (k && (!d2_dtype_is_float(k->dtype) || k->rank != 3 || k->dims[0] != *n || k->dims[2] != 3))
        return d2_errorf(err, D2_ERR_SHAPE, "detector_postprocess: keypoints must be float [%lld, K, 3]",
                         (long long)*n);
    const struct d2_tensor *h = raw->keypoint_heatmaps;
    if (!k && h && (!d2_dtype_is_float(h->dtype) || h->rank != 4 || h->dims[0] != *n))
        return d2_errorf(err, D2_ERR_SHAPE, "detector_postprocess: keypoint heatmaps must be float [%lld, K, S, S]",
                         (long long)*n);
    if (raw->input_height < 1 || raw->input_width < 1)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "detector_postprocess: input size %lld x %lld must be positive",
                         (long long)raw->input_height, (long long)raw->input_width);
    return D2_OK;
}

/* Keypoints in the input frame as f32 [n, K, 3]: copied, or decoded from heatmaps. */
static enum d2_status input_frame_keypoints(const struct d2_raw_instances *raw, const struct d2_allocator *alloc,
                                            struct d2_tensor *kp, struct d2_error *err)
{
    const struct d2_tensor *src = raw->keypoints;
    if (src) {
        enum d2_status st = d2_tensor_alloc(kp, alloc, D2_DTYPE_F32, 3, src->dims, err);
        for (int64_t i = 0; st == D2_OK && i < d2_tensor_numel(src); i++)
            ((float *)kp->data)[i] = (float)d2_load_f64(src->data, src->dtype, (size_t)i);
        return st;
    }
    const struct d2_tensor *maps = raw->keypoint_heatmaps;
    int64_t dims[3] = { maps->dims[0], maps->dims[1], 3 };
    enum d2_status st = d2_tensor_alloc(kp, alloc, D2_DTYPE_F32, 3, dims, err);
    if (st == D2_OK)
        st = d2_heatmaps_to_keypoints(maps, raw->boxes, alloc, kp, err);
    return st;
}

enum d2_status d2_detector_postprocess(const struct d2_raw_instances *raw, int64_t out_height, int64_t out_width,
                                       double mask_threshold, const struct d2_allocator *alloc,
                                       struct d2_instances *out, struct d2_error *err)
{
    int64_t n = 0;
    enum d2_status st;
    struct d2_tensor all_keypoints = { 0 }, kept_boxes = { 0 }, kept_maps = { 0 };
    bool *keep = NULL;

    memset(out, 0, sizeof *out);
    if (!raw)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "detector_postprocess: no detections given");
    st = check_raw(raw, &n, err);
    if (st != D2_OK)
        return st;
    if (out_height < 1 || out_width < 1)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "detector_postprocess: output size %lld x %lld must be positive",
                         (long long)out_height, (long long)out_width);
    out->image_height = out_height;
    out->image_width = out_width;
    const float scale_x = (float)((double)out_width / (double)raw->input_width);
    const float scale_y = (float)((double)out_height / (double)raw->input_height);
    const float max_x = (float)out_width, max_y = (float)out_height;

    /* Scale, clip, and decide which boxes are non-empty. */
    keep = d2_calloc(alloc, (size_t)(n > 0 ? n : 1), sizeof *keep);
    int64_t box_dims[2] = { n, 4 };
    st = keep ? d2_tensor_alloc(&kept_boxes, alloc, D2_DTYPE_F32, 2, box_dims, err)
              : d2_errorf(err, D2_ERR_NOMEM, "detector_postprocess: out of memory");
    if (st != D2_OK)
        goto done;
    int64_t count = 0;
    float *all_boxes = kept_boxes.data; /* scaled boxes of all n; compacted below */
    for (int64_t i = 0; i < n; i++) {
        float b[4];
        for (int c = 0; c < 4; c++) {
            float v = (float)d2_load_f64(raw->boxes->data, raw->boxes->dtype, (size_t)(i * 4 + c));
            v = v * (c % 2 == 0 ? scale_x : scale_y);
            float hi = c % 2 == 0 ? max_x : max_y;
            v = v < 0.0f ? 0.0f : (v > hi ? hi : v); /* clamp; NaN stays NaN */
            b[c] = v;
        }
        keep[i] = b[2] - b[0] > 0.0f && b[3] - b[1] > 0.0f;
        if (keep[i]) {
            memcpy(all_boxes + count * 4, b, sizeof b);
            count++;
        }
    }
    kept_boxes.dims[0] = count;
    kept_boxes.nbytes = (size_t)count * 4 * sizeof(float);
    out->count = count;

    int64_t one_dim[1] = { count };
    st = d2_tensor_alloc(&out->boxes, alloc, D2_DTYPE_F32, 2, kept_boxes.dims, err);
    if (st == D2_OK)
        st = d2_tensor_alloc(&out->scores, alloc, D2_DTYPE_F32, 1, one_dim, err);
    if (st == D2_OK)
        st = d2_tensor_alloc(&out->classes, alloc, D2_DTYPE_I64, 1, one_dim, err);
    if (st != D2_OK)
        goto done;
    if (count > 0)
        memcpy(out->boxes.data, all_boxes, kept_boxes.nbytes);
    for (int64_t i = 0, j = 0; i < n; i++) {
        if (!keep[i])
            continue;
        ((float *)out->scores.data)[j] = (float)d2_load_f64(raw->scores->data, raw->scores->dtype, (size_t)i);
        ((int64_t *)out->classes.data)[j] = d2_load_i64(raw->classes->data, raw->classes->dtype, (size_t)i);
        j++;
    }

    if (raw->mask_probs) {
        const struct d2_tensor *m = raw->mask_probs;
        int64_t mh = m->dims[m->rank - 2], mw = m->dims[m->rank - 1], map = mh * mw;
        int64_t map_dims[3] = { count, mh, mw }, mask_dims[3] = { count, out_height, out_width };
        st = d2_tensor_alloc(&kept_maps, alloc, m->dtype, 3, map_dims, err);
        if (st == D2_OK)
            st = d2_tensor_alloc(&out->masks, alloc, D2_DTYPE_BOOL, 3, mask_dims, err);
        if (st != D2_OK)
            goto done;
        size_t elem = d2_dtype_size(m->dtype);
        for (int64_t i = 0, j = 0; i < n; i++)
            if (keep[i])
                memcpy((char *)kept_maps.data + (size_t)(j++ * map) * elem, (const char *)m->data + (size_t)(i * map) * elem,
                       (size_t)map * elem);
        st = d2_paste_masks(&kept_maps, &out->boxes, mask_threshold, alloc, &out->masks, err);
        if (st != D2_OK)
            goto done;
    }

    if (raw->keypoints || raw->keypoint_heatmaps) {
        st = input_frame_keypoints(raw, alloc, &all_keypoints, err);
        if (st != D2_OK)
            goto done;
        int64_t K = all_keypoints.dims[1], kp_dims[3] = { count, K, 3 };
        st = d2_tensor_alloc(&out->keypoints, alloc, D2_DTYPE_F32, 3, kp_dims, err);
        if (st != D2_OK)
            goto done;
        const float *src = all_keypoints.data;
        float *dst = out->keypoints.data;
        for (int64_t i = 0, j = 0; i < n; i++) {
            if (!keep[i])
                continue;
            for (int64_t k = 0; k < K; k++) {
                const float *s = src + (i * K + k) * 3;
                float *d = dst + (j * K + k) * 3;
                d[0] = s[0] * scale_x;
                d[1] = s[1] * scale_y;
                d[2] = s[2];
            }
            j++;
        }
    }
done:
    d2_free(alloc, keep);
    d2_tensor_release(&kept_boxes, alloc);
    d2_tensor_release(&kept_maps, alloc);
    d2_tensor_release(&all_keypoints, alloc);
    if (st != D2_OK)
        d2_instances_release(out, alloc);
    return st;
}

/* ---- writers ---- */

/* mkdir -p */
static enum d2_status make_dirs(const char *dir, struct d2_error *err)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "bad output directory '%s'", dir);
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return d2_errorf(err, D2_ERR_IO, "cannot create directory '%s': %s", path, strerror(errno));
        path[i] = saved;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return d2_errorf(err, D2_ERR_IO, "'%s' is not a directory", dir);
    return D2_OK;
}

enum d2_status d2_instances_write_npy_dir(const struct d2_instances *inst, const char *dir, struct d2_error *err)
{
    static const struct { const char *file; size_t offset; } fields[] = {
        { "boxes.npy", offsetof(struct d2_instances, boxes) },
        { "scores.npy", offsetof(struct d2_instances, scores) },
        { "classes.npy", offsetof(struct d2_instances, classes) },
        { "masks.npy", offsetof(struct d2_instances, masks) },
        { "keypoints.npy", offsetof(struct d2_instances, keypoints) },
    };
    enum d2_status st = make_dirs(dir, err);
    for (size_t f = 0; st == D2_OK && f < sizeof fields / sizeof fields[0]; f++) {
        const struct d2_tensor *t = (const struct d2_tensor *)((const char *)inst + fields[f].offset);
        if (t->dtype == D2_DTYPE_UNDEFINED)
            continue; /* absent field */
        char path[4200];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, fields[f].file) >= sizeof path)
            return d2_errorf(err, D2_ERR_INVALID_ARG, "output path too long in '%s'", dir);
        st = d2_npy_write_file(path, t, err);
    }
    return st;
}

char *d2_instances_format_table(const struct d2_instances *inst, const char *const *class_names,
                                size_t num_class_names, const struct d2_allocator *alloc)
{
    struct d2_strbuf b;
    d2_strbuf_init(&b, alloc);
    d2_strbuf_printf(&b, "%lld instances, image %lld x %lld (H x W)\n", (long long)inst->count,
                     (long long)inst->image_height, (long long)inst->image_width);
    if (inst->count > 0)
        d2_strbuf_printf(&b, "%4s  %-16s %7s  %8s %8s %8s %8s\n", "#", "class", "score", "x0", "y0", "x1", "y1");
    for (int64_t i = 0; i < inst->count; i++) {
        int64_t c = ((const int64_t *)inst->classes.data)[i];
        const float *box = (const float *)inst->boxes.data + i * 4;
        char fallback[32];
        const char *name = c >= 0 && (uint64_t)c < num_class_names && class_names && class_names[c] ? class_names[c]
                                                                                                        : NULL;
        if (!name) {
            snprintf(fallback, sizeof fallback, "class %lld", (long long)c);
            name = fallback;
        }
        d2_strbuf_printf(&b, "%4lld  %-16s %7.4f  %8.2f %8.2f %8.2f %8.2f\n", (long long)i, name,
                         (double)((const float *)inst->scores.data)[i], (double)box[0], (double)box[1],
                         (double)box[2], (double)box[3]);
    }
    return d2_strbuf_take(&b);
}
