/* runtime/model_meta.c: detector metadata in graph metadata strings (contract in
 * model_meta.h).
 *
 * Auto-detection, used for every key the graph does not carry (docs:
 * detectron2-export.md §1, fixtures README "Calling conventions"):
 *   - Caffe2 (caffe2_tracing): the graph came from a NetDef (source_format "caffe2") or
 *     takes exactly the inputs `data` and `im_info` (or, unnamed, [N,3,H,W] and [N,3]). Outputs by blob name (bbox_nms,
 *     score_nms, class_nms, mask_fcn_probs, kps_score), else by position (boxes, scores,
 *     classes, class_masks; batch_splits_nms, which the Caffe2 frontend adds, is
 *     batch_splits). BGR, 800/1333, size_divisibility from the NetDef's own
 *     argument (the frontend stores it) or 32.
 *   - torchvision: one image input and an output named `labels` (torchvision's own
 *     names: boxes, labels, scores, masks, keypoints, keypoints_scores). The graph
 *     resizes and normalises itself, so min_size 0 (no resize), RGB, label_offset 1.
 *   - detectron2 tracing / scripting: one image input and outputs named after the
 *     Instances fields (pred_boxes, scores, pred_classes, pred_masks, ...: the scripted
 *     dict), else 4, 5 or 6 outputs in
 *     TracingAdapter's flattening order (Instances fields sorted, then image_size):
 *     4 boxes,classes,scores,image_size (Faster R-CNN, RetinaNet); 5 adds masks after
 *     classes; 6 adds keypoint_heatmaps,keypoints. BGR, 800/1333, COCO names.
 * meta_architecture: RetinaNet when no RoIAlign op is in the graph, else GeneralizedRCNN.
 */
#include "model_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postprocess.h"

static const char *const method_names[] = { "onnx", "tracing", "scripting", "caffe2_tracing", "torchvision" };
static const char *const role_names[D2_ROLE_COUNT] = {
    "-", "boxes", "scores", "classes", "masks", "class_masks", "image_masks", "keypoints", "keypoint_heatmaps",
    "image_size", "batch_splits",
};

const char *d2_export_method_name(enum d2_export_method m)
{
    return (unsigned)m < sizeof method_names / sizeof method_names[0] ? method_names[m] : "onnx";
}

const char *d2_output_role_name(enum d2_output_role r)
{
    return (unsigned)r < D2_ROLE_COUNT ? role_names[r] : "-";
}

void d2_model_meta_overrides_init(struct d2_model_meta_overrides *o)
{
    memset(o, 0, sizeof *o);
    o->min_size = o->max_size = o->size_divisibility = o->label_offset = -1;
}

static bool parse_method(const char *s, enum d2_export_method *out)
{
    for (unsigned i = 0; i < sizeof method_names / sizeof method_names[0]; i++)
        if (strcmp(s, method_names[i]) == 0) {
            *out = (enum d2_export_method)i;
            return true;
        }
    if (strcmp(s, "caffe2") == 0) { /* the --format name people also use */
        *out = D2_EXPORT_CAFFE2_TRACING;
        return true;
    }
    return false;
}

static bool parse_format(const char *s, enum d2_channel_order *out)
{
    if (strcmp(s, "BGR") == 0 || strcmp(s, "bgr") == 0)
        *out = D2_CHANNELS_BGR;
    else if (strcmp(s, "RGB") == 0 || strcmp(s, "rgb") == 0)
        *out = D2_CHANNELS_RGB;
    else
        return false;
    return true;
}

static bool parse_int(const char *s, int64_t lo, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > 1000000)
        return false;
    *out = v;
    return true;
}

/* "a,b,c" -> three floats */
static bool parse_triple(const char *s, float out[3])
{
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            return false;
        out[i] = (float)v;
        p = end;
        if (i < 2) {
            if (*p != ',')
                return false;
            p++;
        }
    }
    return *p == '\0';
}

static bool parse_roles(const char *s, struct d2_model_meta *meta)
{
    const char *p = s;
    meta->num_outputs = 0;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int found = -1;
        for (int r = 0; r < D2_ROLE_COUNT; r++)
            if (strlen(role_names[r]) == n && strncmp(p, role_names[r], n) == 0)
                found = r;
        if (found < 0 || meta->num_outputs == D2_META_MAX_OUTPUTS)
            return false;
        meta->outputs[meta->num_outputs++] = (enum d2_output_role)found;
        p += n;
        if (*p == ',')
            p++;
    }
    return meta->num_outputs > 0;
}

static bool graph_has_roi_align(const struct d2_graph *g)
{
    for (uint32_t i = 0; i < g->num_nodes; i++) {
        const char *name = d2_op_name(g->nodes[i].op);
        if (strstr(name, "roi_align"))
            return true;
        for (uint32_t r = 0; r < g->nodes[i].num_regions; r++)
            if (g->nodes[i].regions[r] && graph_has_roi_align(g->nodes[i].regions[r]))
                return true;
    }
    return false;
}

static const char *value_name(const struct d2_graph *g, d2_value_id v)
{
    const char *n = g->values[v].name;
    return n ? n : "";
}

static bool is_named(const char *name, const char *want)
{
    /* Importers may append ".N" suffixes for SSA renames; compare the base. */
    size_t n = strlen(want);
    return strncmp(name, want, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

static void detect_caffe2_roles(const struct d2_graph *g, struct d2_model_meta *meta)
{
    static const enum d2_output_role positional[4] = { D2_ROLE_BOXES, D2_ROLE_SCORES, D2_ROLE_CLASSES,
                                                       D2_ROLE_CLASS_MASKS };
    meta->num_outputs = g->num_outputs < D2_META_MAX_OUTPUTS ? g->num_outputs : D2_META_MAX_OUTPUTS;
    for (uint32_t k = 0; k < meta->num_outputs; k++) {
        const char *n = value_name(g, g->outputs[k]);
        enum d2_output_role r = D2_ROLE_IGNORED;
        if (strncmp(n, "roi_", 4) == 0) /* the ONNX export's AliasWithName names */
            n += 4;
        if (is_named(n, "bbox_nms"))
            r = D2_ROLE_BOXES;
        else if (is_named(n, "score_nms"))
            r = D2_ROLE_SCORES;
        else if (is_named(n, "class_nms"))
            r = D2_ROLE_CLASSES;
        else if (is_named(n, "mask_fcn_probs"))
            r = D2_ROLE_CLASS_MASKS;
        else if (is_named(n, "kps_score"))
            r = D2_ROLE_KEYPOINT_HEATMAPS;
        else if (is_named(n, "batch_splits_nms"))
            r = D2_ROLE_BATCH_SPLITS;
        meta->outputs[k] = r;
    }
    /* Unnamed outputs take their position's role (bbox, score, class, masks) unless a
     * named output has it already. */
    for (uint32_t k = 0; k < meta->num_outputs && k < 4; k++) {
        bool taken = false;
        for (uint32_t j = 0; j < meta->num_outputs; j++)
            taken |= meta->outputs[j] == positional[k];
        /* position 3 is masks only when it could be [n,K,M,M] */
        int32_t rank = g->values[g->outputs[k]].type.rank;
        if (meta->outputs[k] == D2_ROLE_IGNORED && !taken && (k < 3 || rank == 4 || rank == D2_RANK_UNKNOWN))
            meta->outputs[k] = positional[k];
    }
}

static void detect_torchvision_roles(const struct d2_graph *g, struct d2_model_meta *meta)
{
    meta->num_outputs = g->num_outputs < D2_META_MAX_OUTPUTS ? g->num_outputs : D2_META_MAX_OUTPUTS;
    for (uint32_t k = 0; k < meta->num_outputs; k++) {
        const char *n = value_name(g, g->outputs[k]);
        enum d2_output_role r = D2_ROLE_IGNORED;
        if (strcmp(n, "boxes") == 0)
            r = D2_ROLE_BOXES;
        else if (strcmp(n, "labels") == 0)
            r = D2_ROLE_CLASSES;
        else if (strcmp(n, "scores") == 0)
            r = D2_ROLE_SCORES;
        else if (strcmp(n, "masks") == 0)
            r = D2_ROLE_IMAGE_MASKS;
        else if (strcmp(n, "keypoints") == 0)
            r = D2_ROLE_KEYPOINTS;
        meta->outputs[k] = r;
    }
}

/* The Instances field an output name ends with ("[0].pred_boxes", "pred_boxes"). */
static enum d2_output_role field_role(const char *name)
{
    static const struct { const char *field; enum d2_output_role role; } fields[] = {
        { "pred_boxes", D2_ROLE_BOXES }, { "scores", D2_ROLE_SCORES }, { "pred_classes", D2_ROLE_CLASSES },
        { "pred_masks", D2_ROLE_MASKS }, { "pred_keypoints", D2_ROLE_KEYPOINTS },
        { "pred_keypoint_heatmaps", D2_ROLE_KEYPOINT_HEATMAPS }, { "image_size", D2_ROLE_IMAGE_SIZE },
    };
    const char *base = name;
    for (const char *p = name; *p; p++)
        if (*p == '.' || *p == ']')
            base = p + 1;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(base, fields[i].field) == 0)
            return fields[i].role;
    return D2_ROLE_IGNORED;
}

static bool detect_tracing_roles(const struct d2_graph *g, struct d2_model_meta *meta)
{
    static const enum d2_output_role four[] = { D2_ROLE_BOXES, D2_ROLE_CLASSES, D2_ROLE_SCORES, D2_ROLE_IMAGE_SIZE };
    static const enum d2_output_role five[] = { D2_ROLE_BOXES, D2_ROLE_CLASSES, D2_ROLE_MASKS, D2_ROLE_SCORES,
                                                D2_ROLE_IMAGE_SIZE };
    static const enum d2_output_role six[] = { D2_ROLE_BOXES, D2_ROLE_CLASSES, D2_ROLE_KEYPOINT_HEATMAPS,
                                               D2_ROLE_KEYPOINTS, D2_ROLE_SCORES, D2_ROLE_IMAGE_SIZE };
    const enum d2_output_role *roles = g->num_outputs == 4 ? four : g->num_outputs == 5 ? five
                                     : g->num_outputs == 6 ? six : NULL;
    bool all_named = g->num_outputs > 0 && g->num_outputs <= D2_META_MAX_OUTPUTS;
    for (uint32_t k = 0; all_named && k < g->num_outputs; k++)
        all_named = field_role(value_name(g, g->outputs[k])) != D2_ROLE_IGNORED;
    if (all_named) {
        /* Outputs named after the Instances fields (scripting exports return a dict). */
        meta->num_outputs = g->num_outputs;
        for (uint32_t k = 0; k < g->num_outputs; k++)
            meta->outputs[k] = field_role(value_name(g, g->outputs[k]));
        return true;
    }
    if (!roles)
        return false;
    meta->num_outputs = g->num_outputs;
    memcpy(meta->outputs, roles, sizeof(roles[0]) * g->num_outputs);
    return true;
}

/* Defaults and output roles of an export method. */
static void method_defaults(const struct d2_graph *g, enum d2_export_method method, struct d2_model_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    meta->export_method = method;
    meta->input_format = D2_CHANNELS_BGR;
    meta->min_size = 800; /* detectron2's INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST defaults */
    meta->max_size = 1333;
    switch (method) {
    case D2_EXPORT_CAFFE2_TRACING:
        meta->size_divisibility = 32;
        meta->class_names = "coco";
        detect_caffe2_roles(g, meta);
        break;
    case D2_EXPORT_TORCHVISION:
        meta->input_format = D2_CHANNELS_RGB;
        meta->min_size = meta->max_size = 0;
        meta->label_offset = 1;
        detect_torchvision_roles(g, meta);
        break;
    case D2_EXPORT_TRACING:
    case D2_EXPORT_SCRIPTING:
        meta->class_names = "coco";
        detect_tracing_roles(g, meta);
        break;
    case D2_EXPORT_UNKNOWN:
        break;
    }
    snprintf(meta->meta_architecture, sizeof meta->meta_architecture, "%s",
             graph_has_roi_align(g) ? "GeneralizedRCNN" : "RetinaNet");
}

/* The export method from the graph's signature alone. */
static enum d2_export_method detect_method(const struct d2_graph *g)
{
    const char *source = d2_graph_get_metadata(g, "source_format");
    struct d2_model_meta probe;
    const struct d2_type *t0 = g->num_inputs == 2 ? &g->values[g->inputs[0]].type : NULL;
    const struct d2_type *t1 = g->num_inputs == 2 ? &g->values[g->inputs[1]].type : NULL;
    /* data + im_info by name, or by shape ([N,3,H,W] and [N,3]: the caffe2_tracing ONNX
     * export names them x.1, x.3) */
    bool caffe2_inputs = g->num_inputs == 2 &&
                         ((strcmp(value_name(g, g->inputs[0]), "data") == 0 &&
                           strcmp(value_name(g, g->inputs[1]), "im_info") == 0) ||
                          (t0->rank == 4 && t0->dims[1] == 3 && t1->rank == 2 && t1->dims[1] == 3));
    bool has_labels = false;
    for (uint32_t k = 0; k < g->num_outputs; k++)
        has_labels |= strcmp(value_name(g, g->outputs[k]), "labels") == 0;
    if ((source && strcmp(source, "caffe2") == 0) || caffe2_inputs)
        return D2_EXPORT_CAFFE2_TRACING;
    if (g->num_inputs == 1 && has_labels)
        return D2_EXPORT_TORCHVISION;
    memset(&probe, 0, sizeof probe);
    if (g->num_inputs == 1 && detect_tracing_roles(g, &probe))
        return D2_EXPORT_TRACING;
    return D2_EXPORT_UNKNOWN;
}

static enum d2_status bad(struct d2_error *err, const char *key, const char *value, const char *expected)
{
    return d2_errorf(err, D2_ERR_INVALID_ARG, "model metadata %s = \"%s\": expected %s", key, value, expected);
}

enum d2_status d2_model_meta_resolve(const struct d2_graph *g, struct d2_model_meta *meta, struct d2_error *err)
{
    const char *v;
    enum d2_export_method method = detect_method(g);
    if ((v = d2_graph_get_metadata(g, "export_method")) && !parse_method(v, &method))
        return bad(err, "export_method", v, "tracing, scripting, caffe2_tracing, torchvision or onnx");
    method_defaults(g, method, meta);
    if ((v = d2_graph_get_metadata(g, "meta_architecture")))
        snprintf(meta->meta_architecture, sizeof meta->meta_architecture, "%s", v);
    if ((v = d2_graph_get_metadata(g, "input_format")) && !parse_format(v, &meta->input_format))
        return bad(err, "input_format", v, "BGR or RGB");
    if ((v = d2_graph_get_metadata(g, "min_size")) && !parse_int(v, 0, &meta->min_size))
        return bad(err, "min_size", v, "an integer >= 0");
    if ((v = d2_graph_get_metadata(g, "max_size")) && !parse_int(v, 0, &meta->max_size))
        return bad(err, "max_size", v, "an integer >= 0");
    if ((v = d2_graph_get_metadata(g, "size_divisibility")) && !parse_int(v, 0, &meta->size_divisibility))
        return bad(err, "size_divisibility", v, "an integer >= 0");
    if ((v = d2_graph_get_metadata(g, "label_offset")) && !parse_int(v, 0, &meta->label_offset))
        return bad(err, "label_offset", v, "an integer >= 0");
    if ((v = d2_graph_get_metadata(g, "pixel_mean"))) {
        if (!parse_triple(v, meta->pixel_mean))
            return bad(err, "pixel_mean", v, "three numbers a,b,c");
        meta->has_pixel_mean = true;
    }
    if ((v = d2_graph_get_metadata(g, "pixel_std"))) {
        if (!parse_triple(v, meta->pixel_std))
            return bad(err, "pixel_std", v, "three numbers a,b,c");
        for (int c = 0; c < 3; c++)
            if (!(meta->pixel_std[c] != 0.0f))
                return bad(err, "pixel_std", v, "three nonzero numbers");
        meta->has_pixel_std = true;
    }
    if ((v = d2_graph_get_metadata(g, "class_names")))
        meta->class_names = v[0] ? v : NULL;
    if ((v = d2_graph_get_metadata(g, "outputs"))) {
        if (!parse_roles(v, meta))
            return bad(err, "outputs", v, "comma-separated roles (boxes, scores, classes, masks, class_masks, "
                                          "image_masks, keypoints, keypoint_heatmaps, image_size, -)");
        if (meta->num_outputs != g->num_outputs)
            return d2_errorf(err, D2_ERR_INVALID_ARG, "model metadata outputs = \"%s\" names %u outputs, the model has %u",
                             v, meta->num_outputs, g->num_outputs);
    }
    return D2_OK;
}

enum d2_status d2_model_meta_store(struct d2_graph *g, const struct d2_model_meta *meta, struct d2_error *err)
{
    char buf[512];
    enum d2_status st;
#define SET(key, value)                                                          \
    do {                                                                         \
        if ((st = d2_graph_set_metadata(g, key, value, err)) != D2_OK)           \
            return st;                                                           \
    } while (0)
    SET("export_method", d2_export_method_name(meta->export_method));
    SET("meta_architecture", meta->meta_architecture);
    SET("input_format", meta->input_format == D2_CHANNELS_RGB ? "RGB" : "BGR");
    snprintf(buf, sizeof buf, "%lld", (long long)meta->min_size);
    SET("min_size", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)meta->max_size);
    SET("max_size", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)meta->size_divisibility);
    SET("size_divisibility", buf);
    if (meta->has_pixel_mean) {
        snprintf(buf, sizeof buf, "%.9g,%.9g,%.9g", meta->pixel_mean[0], meta->pixel_mean[1], meta->pixel_mean[2]);
        SET("pixel_mean", buf);
    }
    if (meta->has_pixel_std) {
        snprintf(buf, sizeof buf, "%.9g,%.9g,%.9g", meta->pixel_std[0], meta->pixel_std[1], meta->pixel_std[2]);
        SET("pixel_std", buf);
    }
    SET("class_names", meta->class_names ? meta->class_names : "");
    snprintf(buf, sizeof buf, "%lld", (long long)meta->label_offset);
    SET("label_offset", buf);
    buf[0] = '\0';
    for (uint32_t k = 0, n = 0; k < meta->num_outputs; k++)
        n += (uint32_t)snprintf(buf + n, sizeof buf - n, "%s%s", k ? "," : "", d2_output_role_name(meta->outputs[k]));
    if (meta->num_outputs)
        SET("outputs", buf);
#undef SET
    return D2_OK;
}

enum d2_status d2_model_meta_apply(struct d2_graph *g, const struct d2_model_meta_overrides *o, struct d2_error *err)
{
    struct d2_model_meta check;
    char buf[64];
    enum d2_status st = D2_OK;
    enum d2_export_method method = D2_EXPORT_UNKNOWN;
    enum d2_channel_order order;
    float triple[3];

    if (o->export_method && !parse_method(o->export_method, &method))
        return bad(err, "export_method", o->export_method, "tracing, scripting, caffe2_tracing, torchvision or onnx");
    if (o->input_format && !parse_format(o->input_format, &order))
        return bad(err, "input_format", o->input_format, "BGR or RGB");
    if (o->pixel_mean && !parse_triple(o->pixel_mean, triple))
        return bad(err, "pixel_mean", o->pixel_mean, "three numbers a,b,c");
    if (o->pixel_std && !parse_triple(o->pixel_std, triple))
        return bad(err, "pixel_std", o->pixel_std, "three numbers a,b,c");
#define SET_STR(key, value)                                                       \
    if (st == D2_OK && (value))                                                   \
        st = d2_graph_set_metadata(g, key, value, err);
#define SET_INT(key, value)                                                       \
    if (st == D2_OK && (value) >= 0) {                                            \
        snprintf(buf, sizeof buf, "%lld", (long long)(value));                    \
        st = d2_graph_set_metadata(g, key, buf, err);                             \
    }
    SET_STR("export_method", o->export_method ? d2_export_method_name(method) : NULL);
    SET_STR("meta_architecture", o->meta_architecture);
    SET_STR("input_format", o->input_format);
    SET_STR("class_names", o->class_names);
    SET_STR("pixel_mean", o->pixel_mean);
    SET_STR("pixel_std", o->pixel_std);
    SET_STR("outputs", o->outputs);
    SET_INT("min_size", o->min_size);
    SET_INT("max_size", o->max_size);
    SET_INT("size_divisibility", o->size_divisibility);
    SET_INT("label_offset", o->label_offset);
#undef SET_STR
#undef SET_INT
    if (st != D2_OK)
        return st;
    if ((st = d2_model_meta_resolve(g, &check, err)) != D2_OK)
        return st;
    return d2_model_meta_store(g, &check, err);
}

enum d2_status d2_model_meta_class_names(const struct d2_model_meta *meta, const struct d2_allocator *alloc,
                                         char ***names_out, size_t *count, struct d2_error *err)
{
    const char *text = meta->class_names;
    size_t lines = 1, len;
    char **names, *copy;
    *names_out = NULL;
    *count = 0;
    if (!text || !text[0])
        return D2_OK;
    if (strcmp(text, "coco") == 0) {
        len = 0;
        for (int i = 0; i < D2_COCO_NUM_CLASSES; i++)
            len += strlen(d2_coco_class_names[i]) + 1;
        names = d2_alloc(alloc, D2_COCO_NUM_CLASSES * sizeof *names + len);
        if (!names)
            return d2_errorf(err, D2_ERR_NOMEM, "out of memory copying class names");
        copy = (char *)(names + D2_COCO_NUM_CLASSES);
        for (int i = 0; i < D2_COCO_NUM_CLASSES; i++) {
            size_t n = strlen(d2_coco_class_names[i]) + 1;
            memcpy(copy, d2_coco_class_names[i], n);
            names[i] = copy;
            copy += n;
        }
        *names_out = names;
        *count = D2_COCO_NUM_CLASSES;
        return D2_OK;
    }
    len = strlen(text);
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    names = d2_alloc(alloc, lines * sizeof *names + len + 1);
    if (!names)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory copying class names");
    copy = (char *)(names + lines);
    memcpy(copy, text, len + 1);
    *count = 0;
    for (char *p = copy;;) {
        char *nl = strchr(p, '\n');
        names[(*count)++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    /* A trailing newline leaves an empty last name: drop it. */
    if (*count > 1 && names[*count - 1][0] == '\0')
        (*count)--;
    *names_out = names;
    return D2_OK;
}
