/* frontend/torchscript/ts_ops_caffe2.c: `ops._caffe2.X(...)` calls (detectron2's
 * caffe2_tracing export saved as TorchScript: GenerateProposals, RoIAlign,
 * BoxWithNMSLimit, ...).
 *
 * These are Caffe2 operators exposed to TorchScript through c10 schemas
 * (C10_EXPORT_CAFFE2_OP_TO_C10_CPU in each operator's .cc): tensor inputs first
 * (CollectRpnProposals takes one `Tensor[]`), then the Caffe2 arguments in a fixed
 * order, newer torch adding a trailing `Tensor[]? _caffe2_preallocated_outputs=None`.
 * The table below lists each schema (names, kinds and order as in
 * ../shared/docs/detectron2-export.md §2.1). A call is translated into the neutral
 * Caffe2 form (positional or keyword values -> named arguments) and handed to the
 * Caffe2 frontend's operator mapping (frontend/caffe2/caffe2_ops.h, d2_caffe2_map_op),
 * so a Caffe2 operator means the same in a NetDef, in ONNX and in TorchScript.
 * Arguments must be static (they are in traced code). Several outputs come back as
 * a tuple; an output d2rt does not compute is None.
 */
#include "frontend/caffe2/caffe2_ops.h"
#include "frontend/torchscript/ts_lower.h"

#include <stdio.h>
#include <string.h>

#define C2_MAX_SCHEMA_ARGS 16
#define C2_MAX_OUTPUTS 8
#define C2_MAX_INPUTS 64

/* Argument kinds of a schema: how a TorchScript value becomes a Caffe2 argument. */
enum c2_schema_kind { K_INT, K_BOOL, K_FLOAT, K_STR, K_FLOATS };

struct c2_schema_arg {
    const char *name;
    enum c2_schema_kind kind;
};

struct c2_schema {
    const char *op;        /* Caffe2 type */
    uint32_t num_tensors;  /* leading Tensor inputs; 0: one Tensor[] input */
    uint32_t num_outputs;
    struct c2_schema_arg args[C2_MAX_SCHEMA_ARGS];
};

static const struct c2_schema schemas[] = {
    { "GenerateProposals", 4, 2,
      { { "spatial_scale", K_FLOAT }, { "pre_nms_topN", K_INT }, { "post_nms_topN", K_INT },
        { "nms_thresh", K_FLOAT }, { "min_size", K_FLOAT }, { "angle_bound_on", K_BOOL },
        { "angle_bound_lo", K_INT }, { "angle_bound_hi", K_INT }, { "clip_angle_thresh", K_FLOAT },
        { "legacy_plus_one", K_BOOL } } },
    { "RoIAlign", 2, 1,
      { { "order", K_STR }, { "spatial_scale", K_FLOAT }, { "pooled_h", K_INT }, { "pooled_w", K_INT },
        { "sampling_ratio", K_INT }, { "aligned", K_BOOL } } },
    { "RoIAlignRotated", 2, 1,
      { { "order", K_STR }, { "spatial_scale", K_FLOAT }, { "pooled_h", K_INT }, { "pooled_w", K_INT },
        { "sampling_ratio", K_INT }, { "aligned", K_BOOL } } },
    { "BBoxTransform", 3, 2,
      { { "weights", K_FLOATS }, { "apply_scale", K_BOOL }, { "rotated", K_BOOL }, { "angle_bound_on", K_BOOL },
        { "angle_bound_lo", K_INT }, { "angle_bound_hi", K_INT }, { "clip_angle_thresh", K_FLOAT },
        { "legacy_plus_one", K_BOOL } } },
    { "BoxWithNMSLimit", 3, 6,
      { { "score_thresh", K_FLOAT }, { "nms", K_FLOAT }, { "detections_per_im", K_INT },
        { "soft_nms_enabled", K_BOOL }, { "soft_nms_method", K_STR }, { "soft_nms_sigma", K_FLOAT },
        { "soft_nms_min_score_thres", K_FLOAT }, { "rotated", K_BOOL }, { "cls_agnostic_bbox_reg", K_BOOL },
        { "input_boxes_include_bg_cls", K_BOOL }, { "output_classes_include_bg_cls", K_BOOL },
        { "legacy_plus_one", K_BOOL } } },
    { "CollectRpnProposals", 0, 1,
      { { "rpn_max_level", K_INT }, { "rpn_min_level", K_INT }, { "rpn_post_nms_topN", K_INT } } },
    { "DistributeFpnProposals", 1, 5,
      { { "roi_canonical_scale", K_INT }, { "roi_canonical_level", K_INT }, { "roi_max_level", K_INT },
        { "roi_min_level", K_INT }, { "legacy_plus_one", K_BOOL } } },
    { "BatchPermutation", 2, 1, { { NULL, K_INT } } },
    { "AliasWithName", 1, 1, { { "name", K_STR }, { "is_backward", K_BOOL } } },
    { "ResizeNearest", 1, 1, { { "order", K_STR }, { "width_scale", K_FLOAT }, { "height_scale", K_FLOAT } } },
    { "HeatmapMaxKeypoint", 2, 1, { { "should_output_softmax", K_BOOL } } },
};

static const struct c2_schema *find_schema(const char *qualname)
{
    const char *type = strncmp(qualname, "_caffe2::", 9) == 0 ? qualname + 9 : qualname;
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
        if (strcmp(schemas[i].op, type) == 0)
            return &schemas[i];
    return NULL;
}

static uint32_t schema_num_args(const struct c2_schema *s)
{
    uint32_t n = 0;
    while (n < C2_MAX_SCHEMA_ARGS && s->args[n].name)
        n++;
    return n;
}

/* One TorchScript value as a Caffe2 argument of the schema's kind (a float list is
 * copied into the lowering's arena). */
static enum d2_status to_c2_arg(struct ts_lower *L, const char *op, const struct c2_schema_arg *sa, struct tsv *v,
                                struct c2_arg *out)
{
    int64_t i;
    double f;
    out->name = sa->name;
    switch (sa->kind) {
    case K_INT:
    case K_BOOL:
        if (!ts_static_int(L, v, &i))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "_caffe2::%s: argument '%s' must be a constant %s, got %s", op,
                           sa->name, sa->kind == K_BOOL ? "bool" : "int", tsv_describe(v));
        out->kind = C2_ARG_INT;
        out->i = i;
        return D2_OK;
    case K_FLOAT:
        if (!ts_static_float(L, v, &f))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "_caffe2::%s: argument '%s' must be a constant float, got %s", op,
                           sa->name, tsv_describe(v));
        out->kind = C2_ARG_FLOAT;
        out->f = f;
        return D2_OK;
    case K_STR:
        if (v->kind != TSV_STR)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "_caffe2::%s: argument '%s' must be a string, got %s", op,
                           sa->name, tsv_describe(v));
        out->kind = C2_ARG_STRING;
        out->s.data = (uint8_t *)(uintptr_t)v->u.s;
        out->s.len = strlen(v->u.s);
        return D2_OK;
    case K_FLOATS: {
        float *vals;
        if (v->kind != TSV_LIST && v->kind != TSV_TUPLE)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "_caffe2::%s: argument '%s' must be a list of floats, got %s", op,
                           sa->name, tsv_describe(v));
        vals = d2_arena_alloc(&L->arena, sizeof *vals * (v->u.seq.count + 1));
        if (!vals)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        for (uint32_t k = 0; k < v->u.seq.count; k++) {
            if (!ts_static_float(L, v->u.seq.items[k], &f))
                return ts_fail(L, D2_ERR_UNSUPPORTED, "_caffe2::%s: argument '%s'[%u] must be a constant float", op,
                               sa->name, k);
            vals[k] = (float)f;
        }
        out->kind = v->u.seq.count ? C2_ARG_FLOATS : C2_ARG_EMPTY;
        out->floats = vals;
        out->count = v->u.seq.count;
        return D2_OK;
    }
    }
    return ts_fail(L, D2_ERR_INTERNAL, "_caffe2::%s: bad schema", op);
}

static bool is_preallocated(const char *name)
{
    return name && strcmp(name, "_caffe2_preallocated_outputs") == 0;
}

static enum d2_status caffe2_op(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    const struct c2_schema *s = find_schema(c->name);
    uint32_t num_args = s ? schema_num_args(s) : 0, num_inputs = 0, positional = ts_num_positional(c), next = 0;
    d2_value_id inputs[C2_MAX_INPUTS], outputs[C2_MAX_OUTPUTS];
    struct c2_arg args[C2_MAX_SCHEMA_ARGS];
    bool given[C2_MAX_SCHEMA_ARGS] = { false };
    char where[256];
    enum d2_status st;

    if (!s)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "unsupported operator '%s'", c->name);
    memset(args, 0, sizeof args);
    /* tensor inputs */
    if (s->num_tensors == 0) {
        struct tsv *list = positional ? c->args[0] : NULL;
        if (!list || (list->kind != TSV_LIST && list->kind != TSV_TUPLE))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: the first argument must be a list of tensors", c->name);
        if (list->u.seq.count == 0 || list->u.seq.count > C2_MAX_INPUTS)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: %u tensors in the input list (1 to %d)", c->name,
                           list->u.seq.count, C2_MAX_INPUTS);
        for (uint32_t k = 0; k < list->u.seq.count; k++) {
            if (!ts_is_tensor(list->u.seq.items[k]))
                return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: input list item %u is %s, not a tensor", c->name, k,
                               tsv_describe(list->u.seq.items[k]));
            if ((inputs[num_inputs++] = ts_use(L, list->u.seq.items[k])) == D2_NO_VALUE)
                return L->err->code;
        }
        next = 1;
    } else {
        if (positional < s->num_tensors)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s takes %u tensor inputs, %u positional arguments given",
                           c->name, s->num_tensors, positional);
        for (uint32_t k = 0; k < s->num_tensors; k++) {
            if ((inputs[num_inputs++] = ts_tensor_arg(L, c, k, NULL)) == D2_NO_VALUE)
                return L->err->code;
        }
        next = s->num_tensors;
    }
    /* arguments: positional in schema order, then by keyword */
    for (uint32_t k = next; k < positional; k++) {
        uint32_t a = k - next;
        if (a == num_args && c->args[k]->kind == TSV_NONE)
            continue; /* _caffe2_preallocated_outputs=None */
        if (a >= num_args)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s takes %u arguments after its tensors, %u given", c->name,
                           num_args, positional - next);
        if ((st = to_c2_arg(L, s->op, &s->args[a], c->args[k], &args[a])) != D2_OK)
            return st;
        given[a] = true;
    }
    for (uint32_t k = 0; c->names && k < c->count; k++) {
        uint32_t a;
        if (!c->names[k])
            continue;
        if (is_preallocated(c->names[k]) && c->args[k]->kind == TSV_NONE)
            continue;
        for (a = 0; a < num_args && strcmp(s->args[a].name, c->names[k]) != 0; a++)
            ;
        if (a == num_args)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s has no argument '%s'", c->name, c->names[k]);
        if (given[a])
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: argument '%s' given twice", c->name, c->names[k]);
        if ((st = to_c2_arg(L, s->op, &s->args[a], c->args[k], &args[a])) != D2_OK)
            return st;
        given[a] = true;
    }
    /* The c10 schemas have no defaults (but AliasWithName's is_backward and
     * HeatmapMaxKeypoint's should_output_softmax): an absent argument is left to
     * Caffe2's own default by not passing it. */
    {
        uint32_t n = 0;
        for (uint32_t a = 0; a < num_args; a++)
            if (given[a])
                args[n++] = args[a];
        num_args = n;
    }
    snprintf(where, sizeof where, "%s:%u:%u: %s", L->file ? L->file : "?", L->line, L->col, c->name);
    for (uint32_t k = 0; k < s->num_outputs; k++)
        outputs[k] = D2_NO_VALUE;
    {
        const char *names[C2_MAX_OUTPUTS] = { NULL };
        struct c2_op_ctx ctx = {
            .g = L->frame->g,
            .err = L->err,
            .where = where,
            .type = s->op,
            .node_name = "",
            .num_args = num_args,
            .args = args,
            .num_inputs = num_inputs,
            .inputs = inputs,
            .num_outputs = s->num_outputs,
            .output_names = names,
            .outputs = outputs,
        };
        if ((st = d2_caffe2_map_op(&ctx)) != D2_OK)
            return st;
    }
    if (s->num_outputs == 1) {
        if (outputs[0] == D2_NO_VALUE)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: its output is not computed by d2rt", c->name);
        return ts_ret_tensor(L, outputs[0], out);
    }
    *out = tsv_seq_new(L, TSV_TUPLE, s->num_outputs);
    if (!*out)
        return L->err->code;
    for (uint32_t k = 0; k < s->num_outputs; k++) {
        struct tsv *item = outputs[k] == D2_NO_VALUE ? tsv_none(L) : tsv_tensor(L, outputs[k]);
        if (!item)
            return L->err->code;
        (*out)->u.seq.items[k] = item;
    }
    return D2_OK;
}

const struct ts_op_entry ts_ops_caffe2[] = {
    { "_caffe2::GenerateProposals", caffe2_op }, { "_caffe2::RoIAlign", caffe2_op },
    { "_caffe2::RoIAlignRotated", caffe2_op }, { "_caffe2::BBoxTransform", caffe2_op },
    { "_caffe2::BoxWithNMSLimit", caffe2_op }, { "_caffe2::CollectRpnProposals", caffe2_op },
    { "_caffe2::DistributeFpnProposals", caffe2_op }, { "_caffe2::BatchPermutation", caffe2_op },
    { "_caffe2::AliasWithName", caffe2_op }, { "_caffe2::ResizeNearest", caffe2_op },
    { "_caffe2::HeatmapMaxKeypoint", caffe2_op },
    { NULL, NULL },
};
