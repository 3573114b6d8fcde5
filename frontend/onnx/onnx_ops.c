/* frontend/onnx/onnx_ops.c: the ONNX op table and the converters whose IR op takes the
 * ONNX inputs as they are and only copies attributes (with the ONNX op's own defaults,
 * which may differ from the IR struct defaults, e.g. Elu's alpha).
 *
 * Converters that rewrite old opset forms (attributes that later became inputs,
 * Softmax's 2-D coercion, Resize's per-opset coordinate modes...) are in
 * onnx_ops_lower.c; Constant, If and Loop in onnx_ops_control.c.
 */
#include "frontend/onnx/onnx_internal.h"
#include "frontend/onnx/onnx_ops_moreops.h"

#include <string.h>

/* ---- helpers shared by all converters ---- */

void *onnx_emit_main(struct onnx_node_ctx *ctx, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                     uint32_t num_outputs)
{
    const struct d2_op_info *info = d2_op_info(op);
    int32_t node;
    while (num_inputs > info->min_inputs && inputs[num_inputs - 1] == D2_NO_VALUE)
        num_inputs--;
    if (num_inputs < info->min_inputs ||
        (info->max_inputs != D2_VARIADIC && num_inputs > info->max_inputs)) {
        onnx_node_error(ctx, D2_ERR_PARSE, "%u inputs, expected %u to %u", num_inputs, info->min_inputs,
                        info->max_inputs);
        return NULL;
    }
    for (uint32_t i = 0; i < info->min_inputs; i++) {
        if (inputs[i] == D2_NO_VALUE) {
            onnx_node_error(ctx, D2_ERR_PARSE, "required input %u is missing", i);
            return NULL;
        }
    }
    if (num_outputs < info->min_outputs)
        num_outputs = info->min_outputs;
    if (info->max_outputs != D2_VARIADIC && num_outputs > info->max_outputs) {
        onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "%u outputs, d2rt's %s has at most %u", num_outputs,
                        d2_op_name(op), info->max_outputs);
        return NULL;
    }
    node = onnx_emit(ctx, op, num_inputs, inputs, num_outputs, true);
    if (node < 0)
        return NULL;
    for (uint32_t i = 0; i < num_outputs && i < ctx->num_outputs; i++)
        ctx->outputs[i] = d2_node_output(ctx->g, node, i);
    return d2_node_attrs(ctx->g, node);
}

d2_value_id onnx_emit_aux(struct onnx_node_ctx *ctx, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                          void **attrs_out)
{
    int32_t node = onnx_emit(ctx, op, num_inputs, inputs, 1, false);
    if (node < 0)
        return D2_NO_VALUE;
    if (attrs_out)
        *attrs_out = d2_node_attrs(ctx->g, node);
    return d2_node_output(ctx->g, node, 0);
}

enum d2_dtype onnx_value_dtype(const struct onnx_node_ctx *ctx, d2_value_id v)
{
    return v == D2_NO_VALUE ? D2_DTYPE_UNDEFINED : ctx->g->values[v].type.dtype;
}

#define EMIT_OR_FAIL(var, ctx, op, n_in, in, n_out)              \
    var = onnx_emit_main((ctx), (op), (n_in), (in), (n_out));    \
    if (!(var))                                                  \
        return (ctx)->imp->err->code;

#define TRY(expr)                                 \
    do {                                          \
        enum d2_status st_ = (expr);              \
        if (st_ != D2_OK)                         \
            return st_;                           \
    } while (0)

static enum d2_status conv_plain(struct onnx_node_ctx *ctx)
{
    void *attrs;
    EMIT_OR_FAIL(attrs, ctx, ctx->entry->op, ctx->num_inputs, ctx->inputs, ctx->num_outputs);
    return D2_OK;
}

/* ---- elementwise with attributes ---- */

static enum d2_status conv_alpha(struct onnx_node_ctx *ctx)
{
    /* LeakyRelu's alpha defaults to 0.01, Elu's to 1.0. */
    double def = ctx->entry->op == D2_OP_ELU ? 1.0 : 0.01;
    struct d2_attrs_alpha *a;
    EMIT_OR_FAIL(a, ctx, ctx->entry->op, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_float(ctx, "alpha", def, &a->alpha);
}

static enum d2_status conv_selu(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_selu *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_SELU, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_float(ctx, "alpha", 1.67326319217681884765625, &a->alpha));
    return onnx_attr_float(ctx, "gamma", 1.05070102214813232421875, &a->gamma);
}

static enum d2_status conv_hard_sigmoid(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_alpha_beta *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_HARD_SIGMOID, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_float(ctx, "alpha", 0.2, &a->alpha));
    return onnx_attr_float(ctx, "beta", 0.5, &a->beta);
}

static enum d2_status conv_gelu(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_gelu *a;
    const char *approx;
    EMIT_OR_FAIL(a, ctx, D2_OP_GELU, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_string(ctx, "approximate", "none", &approx));
    if (strcmp(approx, "none") == 0)
        a->approximate = D2_GELU_APPROX_NONE;
    else if (strcmp(approx, "tanh") == 0)
        a->approximate = D2_GELU_APPROX_TANH;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "approximate='%s' is not supported", approx);
    return D2_OK;
}

static enum d2_status conv_is_inf(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_is_inf *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_IS_INF, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_int(ctx, "detect_negative", 1, &a->detect_negative));
    return onnx_attr_int(ctx, "detect_positive", 1, &a->detect_positive);
}

static enum d2_status conv_cast(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_cast *a;
    int64_t to;
    const char *type_name;
    enum d2_dtype dtype;
    TRY(onnx_attr_int(ctx, "to", -1, &to));
    if (to < 0)
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'to' is missing");
    if (to > INT32_MAX || !onnx_dtype_to_d2((int32_t)to, &dtype, &type_name))
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "cast to %s (%lld) is not supported",
                               to > INT32_MAX ? "unknown" : type_name, (long long)to);
    EMIT_OR_FAIL(a, ctx, D2_OP_CAST, ctx->num_inputs, ctx->inputs, 1);
    a->to = dtype;
    return onnx_attr_int(ctx, "saturate", 1, &a->saturate);
}

static enum d2_status conv_mod(struct onnx_node_ctx *ctx)
{
    int64_t fmod;
    void *attrs;
    TRY(onnx_attr_int(ctx, "fmod", 0, &fmod));
    EMIT_OR_FAIL(attrs, ctx, fmod ? D2_OP_FMOD : D2_OP_MOD, ctx->num_inputs, ctx->inputs, 1);
    return D2_OK;
}

/* ---- neural network ---- */

static enum d2_status parse_auto_pad(struct onnx_node_ctx *ctx, int32_t *out)
{
    const char *s;
    TRY(onnx_attr_string(ctx, "auto_pad", "NOTSET", &s));
    if (strcmp(s, "NOTSET") == 0 || *s == '\0')
        *out = D2_AUTO_PAD_NOTSET;
    else if (strcmp(s, "SAME_UPPER") == 0)
        *out = D2_AUTO_PAD_SAME_UPPER;
    else if (strcmp(s, "SAME_LOWER") == 0)
        *out = D2_AUTO_PAD_SAME_LOWER;
    else if (strcmp(s, "VALID") == 0)
        *out = D2_AUTO_PAD_VALID;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "auto_pad='%s' is not supported", s);
    return D2_OK;
}

static enum d2_status conv_conv(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_conv *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_CONV, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_to_ints(ctx, "kernel_shape", &a->kernel_shape));
    TRY(onnx_attr_to_ints(ctx, "strides", &a->strides));
    TRY(onnx_attr_to_ints(ctx, "pads", &a->pads));
    TRY(onnx_attr_to_ints(ctx, "dilations", &a->dilations));
    TRY(onnx_attr_int(ctx, "group", 1, &a->group));
    return parse_auto_pad(ctx, &a->auto_pad);
}

static enum d2_status conv_conv_transpose(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_conv_transpose *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_CONV_TRANSPOSE, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_to_ints(ctx, "kernel_shape", &a->kernel_shape));
    TRY(onnx_attr_to_ints(ctx, "strides", &a->strides));
    TRY(onnx_attr_to_ints(ctx, "pads", &a->pads));
    TRY(onnx_attr_to_ints(ctx, "dilations", &a->dilations));
    TRY(onnx_attr_to_ints(ctx, "output_padding", &a->output_padding));
    TRY(onnx_attr_to_ints(ctx, "output_shape", &a->output_shape));
    TRY(onnx_attr_int(ctx, "group", 1, &a->group));
    return parse_auto_pad(ctx, &a->auto_pad);
}

static enum d2_status conv_pool(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_pool *a;
    enum d2_op op = ctx->entry->op;
    EMIT_OR_FAIL(a, ctx, op, ctx->num_inputs, ctx->inputs, op == D2_OP_MAX_POOL ? ctx->num_outputs : 1);
    TRY(onnx_attr_to_ints(ctx, "kernel_shape", &a->kernel_shape));
    if (!a->kernel_shape.count)
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'kernel_shape' is required");
    TRY(onnx_attr_to_ints(ctx, "strides", &a->strides));
    TRY(onnx_attr_to_ints(ctx, "pads", &a->pads));
    TRY(onnx_attr_to_ints(ctx, "dilations", &a->dilations));
    TRY(onnx_attr_int(ctx, "ceil_mode", 0, &a->ceil_mode));
    TRY(onnx_attr_int(ctx, "count_include_pad", 0, &a->count_include_pad));
    TRY(onnx_attr_int(ctx, "storage_order", 0, &a->storage_order));
    if (op == D2_OP_LP_POOL) {
        const Onnx__AttributeProto *p = onnx_attr(ctx, "p");
        /* LpPool-1 stored p as a float; later opsets as an int. */
        if (p && p->has_f && !p->has_i)
            a->p = (int64_t)p->f;
        else
            TRY(onnx_attr_int(ctx, "p", 2, &a->p));
    }
    return parse_auto_pad(ctx, &a->auto_pad);
}

static enum d2_status conv_instance_norm(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_epsilon *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_INSTANCE_NORM, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_float(ctx, "epsilon", 1e-5, &a->epsilon);
}

static enum d2_status conv_lrn(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_lrn *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_LRN, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_int(ctx, "size", 0, &a->size));
    if (a->size <= 0)
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'size' must be positive");
    TRY(onnx_attr_float(ctx, "alpha", 0.0001, &a->alpha));
    TRY(onnx_attr_float(ctx, "beta", 0.75, &a->beta));
    return onnx_attr_float(ctx, "bias", 1.0, &a->bias);
}

static enum d2_status conv_gemm(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_gemm *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_GEMM, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_float(ctx, "alpha", 1.0, &a->alpha));
    TRY(onnx_attr_float(ctx, "beta", 1.0, &a->beta));
    TRY(onnx_attr_int(ctx, "transA", 0, &a->trans_a));
    return onnx_attr_int(ctx, "transB", 0, &a->trans_b);
}

/* ---- shape and data movement ---- */

/* Ops whose only attribute is `axis`, with the ONNX default for this op. */
static enum d2_status conv_axis(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_axis *a;
    int64_t def = ctx->entry->op == D2_OP_FLATTEN ? 1 : 0;
    if (ctx->entry->op == D2_OP_CONCAT && !onnx_attr(ctx, "axis"))
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'axis' is required");
    EMIT_OR_FAIL(a, ctx, ctx->entry->op, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_int(ctx, "axis", def, &a->axis);
}

static enum d2_status conv_reshape(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_reshape *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_RESHAPE, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_int(ctx, "allowzero", 0, &a->allowzero);
}

static enum d2_status conv_transpose(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_transpose *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_TRANSPOSE, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_to_ints(ctx, "perm", &a->perm);
}

static enum d2_status conv_gather_nd(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_gather_nd *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_GATHER_ND, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_int(ctx, "batch_dims", 0, &a->batch_dims);
}

static enum d2_status conv_scatter(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_scatter *a;
    const char *red;
    enum d2_op op = ctx->entry->op;
    EMIT_OR_FAIL(a, ctx, op, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_int(ctx, "axis", 0, &a->axis));
    TRY(onnx_attr_string(ctx, "reduction", "none", &red));
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    for (int32_t i = 0; i < 5; i++) {
        if (strcmp(red, names[i]) == 0) {
            a->reduction = i; /* same order as enum d2_reduction */
            return D2_OK;
        }
    }
    return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "reduction='%s' is not supported", red);
}

static enum d2_status conv_shape(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_shape *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_SHAPE, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_int(ctx, "start", 0, &a->start));
    return onnx_attr_int(ctx, "end", INT64_MAX, &a->end);
}

static enum d2_status conv_constant_of_shape(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_constant_of_shape *a;
    const Onnx__AttributeProto *v = onnx_attr(ctx, "value");
    struct d2_tensor t;
    EMIT_OR_FAIL(a, ctx, D2_OP_CONSTANT_OF_SHAPE, ctx->num_inputs, ctx->inputs, 1);
    a->dtype = D2_DTYPE_F32;
    a->value = 0.0;
    if (!v)
        return D2_OK;
    if (!v->t)
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'value' should be a tensor");
    TRY(onnx_tensor_decode(v->t, ctx->imp->base_dir, ctx->imp->alloc, &t, "attribute 'value'", ctx->imp->err));
    if (d2_tensor_numel(&t) != 1) {
        d2_tensor_release(&t, ctx->imp->alloc);
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'value' must hold one element");
    }
    a->dtype = t.dtype;
    a->value = d2_dtype_is_float(t.dtype) ? d2_load_f64(t.data, t.dtype, 0) : (double)d2_load_i64(t.data, t.dtype, 0);
    d2_tensor_release(&t, ctx->imp->alloc);
    return D2_OK;
}

static enum d2_status conv_depth_space(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_depth_space *a;
    const char *mode;
    EMIT_OR_FAIL(a, ctx, ctx->entry->op, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_int(ctx, "blocksize", 0, &a->blocksize));
    if (a->blocksize <= 0)
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'blocksize' must be positive");
    TRY(onnx_attr_string(ctx, "mode", "DCR", &mode));
    if (strcmp(mode, "DCR") == 0)
        a->mode = D2_DEPTH_SPACE_DCR;
    else if (strcmp(mode, "CRD") == 0 && ctx->entry->op == D2_OP_DEPTH_TO_SPACE)
        a->mode = D2_DEPTH_SPACE_CRD;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "mode='%s' is not supported", mode);
    return D2_OK;
}

static enum d2_status conv_trilu(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_trilu *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_TRILU, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_int(ctx, "upper", 1, &a->upper);
}

static enum d2_status conv_one_hot(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_one_hot *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_ONE_HOT, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_int(ctx, "axis", -1, &a->axis);
}

static enum d2_status conv_eye_like(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_eye_like *a;
    int64_t dtype;
    const char *type_name;
    EMIT_OR_FAIL(a, ctx, D2_OP_EYE_LIKE, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_int(ctx, "k", 0, &a->k));
    TRY(onnx_attr_int(ctx, "dtype", 0, &dtype));
    a->dtype = D2_DTYPE_UNDEFINED;
    if (dtype != 0 && (dtype > INT32_MAX || dtype < 0 || !onnx_dtype_to_d2((int32_t)dtype, &a->dtype, &type_name)))
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "dtype %lld is not supported", (long long)dtype);
    return D2_OK;
}

/* ---- reductions, search, detection ---- */

static enum d2_status conv_arg_reduce(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_arg_reduce *a;
    EMIT_OR_FAIL(a, ctx, ctx->entry->op, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_int(ctx, "axis", 0, &a->axis));
    TRY(onnx_attr_int(ctx, "keepdims", 1, &a->keepdims));
    return onnx_attr_int(ctx, "select_last_index", 0, &a->select_last_index);
}

static enum d2_status conv_cum_sum(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_cum_sum *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_CUM_SUM, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_int(ctx, "exclusive", 0, &a->exclusive));
    return onnx_attr_int(ctx, "reverse", 0, &a->reverse);
}

static enum d2_status conv_nms(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_nms *a;
    EMIT_OR_FAIL(a, ctx, D2_OP_NON_MAX_SUPPRESSION, ctx->num_inputs, ctx->inputs, 1);
    return onnx_attr_int(ctx, "center_point_box", 0, &a->center_point_box);
}

static enum d2_status conv_roi_align(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_roi_align *a;
    const char *mode, *coord;
    EMIT_OR_FAIL(a, ctx, D2_OP_ROI_ALIGN, ctx->num_inputs, ctx->inputs, 1);
    TRY(onnx_attr_string(ctx, "mode", "avg", &mode));
    if (strcmp(mode, "avg") == 0)
        a->mode = D2_ROI_POOL_AVG;
    else if (strcmp(mode, "max") == 0)
        a->mode = D2_ROI_POOL_MAX;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "mode='%s' is not supported", mode);
    TRY(onnx_attr_int(ctx, "output_height", 1, &a->output_height));
    TRY(onnx_attr_int(ctx, "output_width", 1, &a->output_width));
    TRY(onnx_attr_int(ctx, "sampling_ratio", 0, &a->sampling_ratio));
    TRY(onnx_attr_float(ctx, "spatial_scale", 1.0, &a->spatial_scale));
    /* RoiAlign-10 had no attribute and sampled without the half-pixel shift. */
    TRY(onnx_attr_string(ctx, "coordinate_transformation_mode",
                         ctx->opset < 16 ? "output_half_pixel" : "half_pixel", &coord));
    if (strcmp(coord, "half_pixel") == 0)
        a->coordinate_transformation_mode = D2_ROI_COORD_HALF_PIXEL;
    else if (strcmp(coord, "output_half_pixel") == 0)
        a->coordinate_transformation_mode = D2_ROI_COORD_OUTPUT_HALF_PIXEL;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "coordinate_transformation_mode='%s' is not supported", coord);
    return D2_OK;
}

/* ---- the table ---- */

#define PLAIN(name, op, since) {name, conv_plain, D2_OP_##op, since}
#define CONV(name, fn, op, since) {name, fn, D2_OP_##op, since}
#define LOWER(name, fn, op, since) {name, onnx_convert_##fn, D2_OP_##op, since}
#define MOREOPS(name, fn, op, since) {name, onnx_moreops_##fn, D2_OP_##op, since}

static const struct onnx_op_entry op_table[] = {
    /* Elementwise unary. Opsets before 6 carried the legacy consumed_inputs attribute. */
    PLAIN("Identity", IDENTITY, 1), PLAIN("Abs", ABS, 6), PLAIN("Neg", NEG, 6),
    PLAIN("Floor", FLOOR, 6), PLAIN("Ceil", CEIL, 6), PLAIN("Round", ROUND, 11),
    PLAIN("Sign", SIGN, 9), PLAIN("Exp", EXP, 6), PLAIN("Log", LOG, 6),
    PLAIN("Sqrt", SQRT, 6), PLAIN("Reciprocal", RECIPROCAL, 6), PLAIN("Sigmoid", SIGMOID, 6),
    PLAIN("Tanh", TANH, 6), PLAIN("Erf", ERF, 9), PLAIN("Sin", SIN, 7), PLAIN("Cos", COS, 7),
    PLAIN("Relu", RELU, 6), PLAIN("Softplus", SOFTPLUS, 1), PLAIN("Softsign", SOFTSIGN, 1),
    PLAIN("Not", NOT, 1), PLAIN("IsNaN", IS_NAN, 9), PLAIN("HardSwish", HARD_SWISH, 14),
    CONV("LeakyRelu", conv_alpha, LEAKY_RELU, 6), CONV("Elu", conv_alpha, ELU, 6),
    CONV("Selu", conv_selu, SELU, 6), CONV("HardSigmoid", conv_hard_sigmoid, HARD_SIGMOID, 6),
    CONV("Gelu", conv_gelu, GELU, 20), CONV("IsInf", conv_is_inf, IS_INF, 10),
    CONV("Cast", conv_cast, CAST, 6), LOWER("CastLike", cast_like, CAST, 15),
    LOWER("Clip", clip, CLIP, 6),
    /* Binary and variadic: numpy broadcasting from opset 7 (8 for the variadic ones). */
    PLAIN("Add", ADD, 7), PLAIN("Sub", SUB, 7), PLAIN("Mul", MUL, 7), PLAIN("Div", DIV, 7),
    PLAIN("Pow", POW, 7), CONV("Mod", conv_mod, MOD, 10), PLAIN("PRelu", PRELU, 7),
    PLAIN("Equal", EQUAL, 7), PLAIN("Greater", GREATER, 7), PLAIN("Less", LESS, 7),
    PLAIN("GreaterOrEqual", GREATER_EQUAL, 12), PLAIN("LessOrEqual", LESS_EQUAL, 12),
    PLAIN("And", AND, 7), PLAIN("Or", OR, 7), PLAIN("Xor", XOR, 7),
    PLAIN("Max", MAX, 8), PLAIN("Min", MIN, 8), PLAIN("Sum", SUM, 8), PLAIN("Mean", MEAN, 8),
    PLAIN("Where", WHERE, 9),
    /* Neural network. */
    CONV("Conv", conv_conv, CONV, 1), CONV("ConvTranspose", conv_conv_transpose, CONV_TRANSPOSE, 1),
    LOWER("BatchNormalization", batch_norm, BATCH_NORM, 7),
    CONV("InstanceNormalization", conv_instance_norm, INSTANCE_NORM, 6), CONV("LRN", conv_lrn, LRN, 1),
    CONV("MaxPool", conv_pool, MAX_POOL, 1), CONV("AveragePool", conv_pool, AVERAGE_POOL, 7),
    CONV("LpPool", conv_pool, LP_POOL, 1), PLAIN("GlobalAveragePool", GLOBAL_AVERAGE_POOL, 1),
    PLAIN("GlobalMaxPool", GLOBAL_MAX_POOL, 1), PLAIN("MatMul", MATMUL, 1), CONV("Gemm", conv_gemm, GEMM, 7),
    LOWER("Softmax", softmax_family, SOFTMAX, 1), LOWER("LogSoftmax", softmax_family, LOG_SOFTMAX, 1),
    LOWER("Hardmax", softmax_family, HARDMAX, 1), LOWER("Dropout", dropout, IDENTITY, 7),
    /* Shape and data movement. */
    CONV("Concat", conv_axis, CONCAT, 4), LOWER("Split", split, SPLIT, 2), LOWER("Slice", slice, SLICE, 1),
    CONV("Reshape", conv_reshape, RESHAPE, 5), CONV("Flatten", conv_axis, FLATTEN, 1),
    CONV("Transpose", conv_transpose, TRANSPOSE, 1), LOWER("Squeeze", squeeze, SQUEEZE, 1),
    LOWER("Unsqueeze", unsqueeze, UNSQUEEZE, 1), PLAIN("Expand", EXPAND, 8), PLAIN("Tile", TILE, 6),
    LOWER("Pad", pad, PAD, 2), CONV("Gather", conv_axis, GATHER, 1),
    CONV("GatherElements", conv_axis, GATHER_ELEMENTS, 11), CONV("GatherND", conv_gather_nd, GATHER_ND, 11),
    CONV("ScatterND", conv_scatter, SCATTER_ND, 11), CONV("ScatterElements", conv_scatter, SCATTER_ELEMENTS, 11),
    CONV("Scatter", conv_scatter, SCATTER_ELEMENTS, 9), CONV("Shape", conv_shape, SHAPE, 1),
    PLAIN("Size", SIZE, 1), CONV("ConstantOfShape", conv_constant_of_shape, CONSTANT_OF_SHAPE, 9),
    PLAIN("Range", RANGE, 11), CONV("DepthToSpace", conv_depth_space, DEPTH_TO_SPACE, 1),
    CONV("SpaceToDepth", conv_depth_space, SPACE_TO_DEPTH, 1), CONV("Trilu", conv_trilu, TRILU, 14),
    CONV("OneHot", conv_one_hot, ONE_HOT, 9), CONV("EyeLike", conv_eye_like, EYE_LIKE, 9),
    /* Reductions and search. */
    LOWER("ReduceMax", reduce, REDUCE_MAX, 1), LOWER("ReduceMin", reduce, REDUCE_MIN, 1),
    LOWER("ReduceSum", reduce, REDUCE_SUM, 1), LOWER("ReduceMean", reduce, REDUCE_MEAN, 1),
    LOWER("ReduceProd", reduce, REDUCE_PROD, 1), LOWER("ReduceL1", reduce, REDUCE_L1, 1),
    LOWER("ReduceL2", reduce, REDUCE_L2, 1), LOWER("ReduceSumSquare", reduce, REDUCE_SUM_SQUARE, 1),
    LOWER("ReduceLogSum", reduce, REDUCE_LOG_SUM, 1), LOWER("ReduceLogSumExp", reduce, REDUCE_LOG_SUM_EXP, 1),
    CONV("ArgMax", conv_arg_reduce, ARGMAX, 1), CONV("ArgMin", conv_arg_reduce, ARGMIN, 1),
    LOWER("TopK", topk, TOPK, 1), PLAIN("NonZero", NON_ZERO, 9), CONV("CumSum", conv_cum_sum, CUM_SUM, 11),
    /* Detection. */
    CONV("NonMaxSuppression", conv_nms, NON_MAX_SUPPRESSION, 10), CONV("RoiAlign", conv_roi_align, ROI_ALIGN, 10),
    LOWER("Resize", resize, RESIZE, 10), LOWER("Upsample", upsample, RESIZE, 7),
    /* More ops (onnx_ops_moreops.c). */
    PLAIN("Tan", TAN, 7), PLAIN("Sinh", SINH, 9), PLAIN("Cosh", COSH, 9), PLAIN("Asin", ASIN, 7),
    PLAIN("Acos", ACOS, 7), PLAIN("Atan", ATAN, 7), PLAIN("Asinh", ASINH, 9), PLAIN("Acosh", ACOSH, 9),
    PLAIN("Atanh", ATANH, 9), PLAIN("Mish", MISH, 18), PLAIN("BitwiseNot", BITWISE_NOT, 18),
    PLAIN("BitwiseAnd", BITWISE_AND, 18), PLAIN("BitwiseOr", BITWISE_OR, 18),
    PLAIN("BitwiseXor", BITWISE_XOR, 18),
    MOREOPS("Celu", celu, CELU, 12), MOREOPS("ThresholdedRelu", thresholded_relu, THRESHOLDED_RELU, 10),
    MOREOPS("Shrink", shrink, SHRINK, 9), MOREOPS("Swish", swish, SWISH, 24),
    MOREOPS("BitShift", bit_shift, BIT_SHIFT, 11), MOREOPS("CumProd", cum_prod, CUM_PROD, 26),
    MOREOPS("LayerNormalization", layer_norm, LAYER_NORM, 17),
    MOREOPS("GroupNormalization", group_norm, GROUP_NORM, 18),
    MOREOPS("RMSNormalization", rms_norm, RMS_NORM, 23),
    MOREOPS("MeanVarianceNormalization", mvn, MEAN_VARIANCE_NORM, 9),
    MOREOPS("LpNormalization", lp_norm, LP_NORM, 1), MOREOPS("GridSample", grid_sample, GRID_SAMPLE, 16),
    MOREOPS("CenterCropPad", center_crop_pad, CENTER_CROP_PAD, 18),
    /* Constants and control flow. */
    LOWER("Constant", constant, IDENTITY, 1), LOWER("If", if, IF, 1), LOWER("Loop", loop, LOOP, 1),
};

const struct onnx_op_entry *onnx_find_op(const char *op_type)
{
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (strcmp(op_table[i].op_type, op_type) == 0)
            return &op_table[i];
    return NULL;
}
