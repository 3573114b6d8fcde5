/* frontend/caffe2/caffe2_ops.c: the Caffe2 operator table, d2_caffe2_map_op, and the
 * converters of the elementwise, neural-network and tensor operators.
 *
 * Caffe2 semantics that differ from the IR's (ONNX-like) ones, handled here:
 *   - legacy broadcasting: Add/Sub/Mul/Div/EQ/... with broadcast=1 align B's dims with
 *     A's starting at `axis` (default: B is a suffix of A), so B is reshaped to
 *     B.dims + [1]*(rank A - axis - rank B) before numpy broadcasting; without
 *     broadcast=1 these operators broadcast numpy-style (Caffe2 since 2018);
 *   - Conv/pool geometry arguments come in several spellings (kernels | kernel |
 *     kernel_h+kernel_w, pads [t,l,b,r] | pad | pad_t.., strides | stride ..);
 *   - Softmax coerces its input to 2-D at `axis` (default 1), like ONNX opset < 13;
 *   - FC flattens X from `axis` (default 1) and W from `axis_w`: Y = X W^T + b;
 *   - Concat and Reshape have a second output (split_info i32, old_shape i64);
 *   - ResizeNearest maps dst to min(int(dst / scale), in - 1), out = floor(in*scale)
 *     (resize: nearest, asymmetric, floor); UpsampleBilinear is align_corners
 *     bilinear with out = int(in * scale) (upsample, align_corners=1);
 *   - Slice's negative indices count from one past the end (-1 is the end).
 */
#include "frontend/caffe2/caffe2_internal.h"

#include <math.h>
#include <string.h>

#define MAX_SPATIAL 6

/* ---- identities, unary and binary elementwise ---- */

static enum d2_status conv_identity(struct c2_op_ctx *ctx)
{
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    ctx->outputs[0] = ctx->inputs[0]; /* no node: the output blob is the input value */
    return D2_OK;
}

struct unary_entry { const char *type; enum d2_op op; };
static const struct unary_entry unary_ops[] = {
    {"Relu", D2_OP_RELU}, {"Sigmoid", D2_OP_SIGMOID}, {"Tanh", D2_OP_TANH}, {"Exp", D2_OP_EXP},
    {"Log", D2_OP_LOG}, {"Sqrt", D2_OP_SQRT}, {"Abs", D2_OP_ABS}, {"Negative", D2_OP_NEG},
    {"Floor", D2_OP_FLOOR}, {"Ceil", D2_OP_CEIL}, {"Not", D2_OP_NOT}, {"Sign", D2_OP_SIGN},
    {"Erf", D2_OP_ERF}, {"Sin", D2_OP_SIN}, {"Cos", D2_OP_COS}, {"Softsign", D2_OP_SOFTSIGN},
    {"Reciprocal", D2_OP_RECIPROCAL}, {"Softplus", D2_OP_SOFTPLUS},
};

static enum d2_op unary_op(const char *type)
{
    for (size_t i = 0; i < sizeof unary_ops / sizeof unary_ops[0]; i++)
        if (strcmp(unary_ops[i].type, type) == 0)
            return unary_ops[i].op;
    return D2_OP_COUNT;
}

static enum d2_status conv_unary(struct c2_op_ctx *ctx)
{
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    d2_value_id y = c2_node_named(ctx, 0, unary_op(ctx->type), 1, ctx->inputs, NULL);
    C2_CHECK(ctx, y);
    return D2_OK;
}

static enum d2_status conv_leaky_relu(struct c2_op_ctx *ctx)
{
    struct d2_attrs_alpha *a;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_LEAKY_RELU, 1, ctx->inputs, (void **)&a));
    return c2_arg_float(ctx, "alpha", 0.01, &a->alpha);
}

struct binary_entry { const char *type; enum d2_op op; bool negate; };
static const struct binary_entry binary_ops[] = {
    {"Add", D2_OP_ADD, false}, {"Sub", D2_OP_SUB, false}, {"Mul", D2_OP_MUL, false}, {"Div", D2_OP_DIV, false},
    {"EQ", D2_OP_EQUAL, false}, {"NE", D2_OP_EQUAL, true}, {"LT", D2_OP_LESS, false},
    {"GT", D2_OP_GREATER, false}, {"LE", D2_OP_LESS_EQUAL, false}, {"GE", D2_OP_GREATER_EQUAL, false},
    {"And", D2_OP_AND, false}, {"Or", D2_OP_OR, false}, {"Xor", D2_OP_XOR, false},
};

static const struct binary_entry *binary_entry(const char *type)
{
    for (size_t i = 0; i < sizeof binary_ops / sizeof binary_ops[0]; i++)
        if (strcmp(binary_ops[i].type, type) == 0)
            return &binary_ops[i];
    return NULL;
}

static enum d2_status conv_binary(struct c2_op_ctx *ctx)
{
    const struct binary_entry *e = binary_entry(ctx->type);
    int64_t broadcast, axis;
    d2_value_id a, b;
    C2_TRY(c2_check_arity(ctx, 2, 2, 1, 1));
    C2_TRY(c2_arg_int(ctx, "broadcast", 0, &broadcast));
    C2_TRY(c2_arg_int(ctx, "axis", -1, &axis));
    a = ctx->inputs[0];
    b = ctx->inputs[1];
    if (broadcast) {
        /* Legacy: B's dims match A's dims [axis, axis + rank B). */
        const struct d2_type *ta = c2_type(ctx, a), *tb = c2_type(ctx, b);
        if (ta->rank < 0 || tb->rank < 0)
            return c2_error(ctx, D2_ERR_UNSUPPORTED, "legacy broadcast=1 needs the ranks of both inputs at import");
        if (axis == -1)
            axis = ta->rank - tb->rank;
        if (axis < 0 || axis + tb->rank > ta->rank)
            return c2_error(ctx, D2_ERR_SHAPE, "legacy broadcast: B (rank %d) does not fit A (rank %d) at axis %lld",
                            (int)tb->rank, (int)ta->rank, (long long)axis);
        int32_t trailing = ta->rank - (int32_t)axis - tb->rank;
        if (trailing > 0) {
            int64_t shape[D2_MAX_RANK];
            for (int32_t i = 0; i < tb->rank; i++)
                shape[i] = 0; /* copy B's dims */
            for (int32_t i = 0; i < trailing; i++)
                shape[tb->rank + i] = 1;
            b = c2_reshape(ctx, b, shape, (uint32_t)(tb->rank + trailing));
            C2_CHECK(ctx, b);
        }
    }
    d2_value_id in[2] = { a, b };
    if (e->negate) {
        d2_value_id eq = c2_node(ctx, e->op, 2, in, NULL);
        C2_CHECK(ctx, eq);
        C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_NOT, 1, &eq, NULL));
    } else {
        C2_CHECK(ctx, c2_node_named(ctx, 0, e->op, 2, in, NULL));
    }
    return D2_OK;
}

static enum d2_status conv_variadic(struct c2_op_ctx *ctx)
{
    enum d2_op op = strcmp(ctx->type, "Sum") == 0 ? D2_OP_SUM : strcmp(ctx->type, "Max") == 0 ? D2_OP_MAX
                  : strcmp(ctx->type, "Min") == 0 ? D2_OP_MIN : D2_OP_MEAN;
    C2_TRY(c2_check_arity(ctx, 1, UINT32_MAX, 1, 1));
    C2_CHECK(ctx, c2_node_named(ctx, 0, op, ctx->num_inputs, ctx->inputs, NULL));
    return D2_OK;
}

static enum d2_status conv_clip(struct c2_op_ctx *ctx)
{
    double lo, hi;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_TRY(c2_arg_float(ctx, "min", -INFINITY, &lo));
    C2_TRY(c2_arg_float(ctx, "max", INFINITY, &hi));
    enum d2_dtype dt = c2_type(ctx, ctx->inputs[0])->dtype;
    if (dt == D2_DTYPE_UNDEFINED)
        dt = D2_DTYPE_F32;
    d2_value_id in[3] = { ctx->inputs[0], c2_const_scalar(ctx, dt, lo), c2_const_scalar(ctx, dt, hi) };
    C2_CHECK(ctx, in[1]);
    C2_CHECK(ctx, in[2]);
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_CLIP, 3, in, NULL));
    return D2_OK;
}

/* ---- convolution and pooling geometry ---- */

struct geometry {
    int64_t kernel[MAX_SPATIAL], strides[MAX_SPATIAL], pads[2 * MAX_SPATIAL], dilations[MAX_SPATIAL];
    uint32_t n_kernel, n_strides, n_pads, n_dilations;
    int32_t auto_pad;
    bool global;
};

/* One of: `list` (all dims), `single` (same for every dim), or per-dim `h`/`w`. */
static enum d2_status read_dims(struct c2_op_ctx *ctx, const char *list, const char *single, const char *h,
                                const char *w, int64_t *out, uint32_t *count, uint32_t spatial)
{
    int64_t v;
    C2_TRY(c2_arg_ints(ctx, list, out, MAX_SPATIAL, count));
    if (*count)
        return D2_OK;
    if (c2_arg(ctx, single)) {
        C2_TRY(c2_arg_int(ctx, single, 0, &v));
        for (uint32_t i = 0; i < spatial; i++)
            out[i] = v;
        *count = spatial;
        return D2_OK;
    }
    if (h && (c2_arg(ctx, h) || c2_arg(ctx, w))) {
        if (!c2_arg(ctx, h) || !c2_arg(ctx, w))
            return c2_error(ctx, D2_ERR_PARSE, "arguments '%s' and '%s' must be given together", h, w);
        C2_TRY(c2_arg_int(ctx, h, 0, &out[0]));
        C2_TRY(c2_arg_int(ctx, w, 0, &out[1]));
        *count = 2;
    }
    return D2_OK;
}

static enum d2_status read_geometry(struct c2_op_ctx *ctx, struct geometry *g)
{
    int64_t legacy, global;
    uint32_t spatial;
    memset(g, 0, sizeof *g);
    C2_TRY(c2_require_nchw(ctx));
    C2_TRY(read_dims(ctx, "kernels", "kernel", "kernel_h", "kernel_w", g->kernel, &g->n_kernel, 2));
    spatial = g->n_kernel ? g->n_kernel : 2;
    C2_TRY(read_dims(ctx, "strides", "stride", "stride_h", "stride_w", g->strides, &g->n_strides, spatial));
    C2_TRY(read_dims(ctx, "dilations", "dilation", "dilation_h", "dilation_w", g->dilations, &g->n_dilations,
                     spatial));
    C2_TRY(c2_arg_ints(ctx, "pads", g->pads, 2 * MAX_SPATIAL, &g->n_pads));
    if (!g->n_pads && c2_arg(ctx, "pad")) {
        int64_t p;
        C2_TRY(c2_arg_int(ctx, "pad", 0, &p));
        for (uint32_t i = 0; i < 2 * spatial; i++)
            g->pads[i] = p;
        g->n_pads = 2 * spatial;
    } else if (!g->n_pads && (c2_arg(ctx, "pad_t") || c2_arg(ctx, "pad_l") || c2_arg(ctx, "pad_b") ||
                              c2_arg(ctx, "pad_r"))) {
        /* Caffe2 order t, l, b, r is the IR's [begin_h, begin_w, end_h, end_w]. */
        C2_TRY(c2_arg_int(ctx, "pad_t", 0, &g->pads[0]));
        C2_TRY(c2_arg_int(ctx, "pad_l", 0, &g->pads[1]));
        C2_TRY(c2_arg_int(ctx, "pad_b", 0, &g->pads[2]));
        C2_TRY(c2_arg_int(ctx, "pad_r", 0, &g->pads[3]));
        g->n_pads = 4;
    }
    if (g->n_pads && g->n_pads % 2)
        return c2_error(ctx, D2_ERR_PARSE, "argument 'pads' has %u values, expected begins then ends", g->n_pads);
    C2_TRY(c2_arg_int(ctx, "legacy_pad", 0, &legacy));
    switch (legacy) {
    case 0: g->auto_pad = D2_AUTO_PAD_NOTSET; break;
    case 1: g->auto_pad = D2_AUTO_PAD_VALID; g->n_pads = 0; break;
    case 2: g->auto_pad = D2_AUTO_PAD_SAME_UPPER; g->n_pads = 0; break;
    default:
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "legacy_pad=%lld (Caffe legacy pooling) is not supported",
                        (long long)legacy);
    }
    C2_TRY(c2_arg_int(ctx, "global_pooling", 0, &global));
    g->global = global != 0;
    return D2_OK;
}

static enum d2_status set_ints(struct c2_op_ctx *ctx, struct d2_ints *field, const int64_t *v, uint32_t n)
{
    return n ? d2_graph_set_ints(ctx->g, field, v, n, ctx->err) : D2_OK;
}

static enum d2_status conv_conv(struct c2_op_ctx *ctx)
{
    struct geometry geo;
    struct d2_attrs_conv *a;
    C2_TRY(c2_check_arity(ctx, 2, 3, 1, 1));
    C2_TRY(read_geometry(ctx, &geo));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_CONV, ctx->num_inputs, ctx->inputs, (void **)&a));
    C2_TRY(set_ints(ctx, &a->kernel_shape, geo.kernel, geo.n_kernel));
    C2_TRY(set_ints(ctx, &a->strides, geo.strides, geo.n_strides));
    C2_TRY(set_ints(ctx, &a->pads, geo.pads, geo.n_pads));
    C2_TRY(set_ints(ctx, &a->dilations, geo.dilations, geo.n_dilations));
    a->auto_pad = geo.auto_pad;
    return c2_arg_int(ctx, "group", 1, &a->group);
}

static enum d2_status conv_conv_transpose(struct c2_op_ctx *ctx)
{
    struct geometry geo;
    struct d2_attrs_conv_transpose *a;
    int64_t adjs[MAX_SPATIAL];
    uint32_t n_adjs;
    C2_TRY(c2_check_arity(ctx, 2, 3, 1, 1));
    C2_TRY(read_geometry(ctx, &geo));
    C2_TRY(read_dims(ctx, "adjs", "adj", "adj_h", "adj_w", adjs, &n_adjs, geo.n_kernel ? geo.n_kernel : 2));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_CONV_TRANSPOSE, ctx->num_inputs, ctx->inputs, (void **)&a));
    C2_TRY(set_ints(ctx, &a->kernel_shape, geo.kernel, geo.n_kernel));
    C2_TRY(set_ints(ctx, &a->strides, geo.strides, geo.n_strides));
    C2_TRY(set_ints(ctx, &a->pads, geo.pads, geo.n_pads));
    C2_TRY(set_ints(ctx, &a->dilations, geo.dilations, geo.n_dilations));
    C2_TRY(set_ints(ctx, &a->output_padding, adjs, n_adjs));
    a->auto_pad = geo.auto_pad;
    return c2_arg_int(ctx, "group", 1, &a->group);
}

static enum d2_status conv_pool(struct c2_op_ctx *ctx)
{
    struct geometry geo;
    struct d2_attrs_pool *a;
    bool is_max = strncmp(ctx->type, "MaxPool", 7) == 0;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_TRY(read_geometry(ctx, &geo));
    if (geo.global) {
        C2_CHECK(ctx, c2_node_named(ctx, 0, is_max ? D2_OP_GLOBAL_MAX_POOL : D2_OP_GLOBAL_AVERAGE_POOL, 1,
                                    ctx->inputs, NULL));
        return D2_OK;
    }
    if (!geo.n_kernel)
        return c2_error(ctx, D2_ERR_PARSE, "no kernel size (kernels, kernel or kernel_h/kernel_w)");
    C2_CHECK(ctx, c2_node_named(ctx, 0, is_max ? D2_OP_MAX_POOL : D2_OP_AVERAGE_POOL, 1, ctx->inputs, (void **)&a));
    C2_TRY(set_ints(ctx, &a->kernel_shape, geo.kernel, geo.n_kernel));
    C2_TRY(set_ints(ctx, &a->strides, geo.strides, geo.n_strides));
    C2_TRY(set_ints(ctx, &a->pads, geo.pads, geo.n_pads));
    C2_TRY(set_ints(ctx, &a->dilations, geo.dilations, geo.n_dilations));
    a->auto_pad = geo.auto_pad;
    if (!is_max)
        C2_TRY(c2_arg_int(ctx, "count_include_pad", 0, &a->count_include_pad));
    return D2_OK;
}

/* ---- normalization ---- */

static enum d2_status conv_spatial_bn(struct c2_op_ctx *ctx)
{
    struct d2_attrs_epsilon *a;
    C2_TRY(c2_check_arity(ctx, 5, 5, 1, 5));
    C2_TRY(c2_require_nchw(ctx));
    C2_TRY(c2_arg_require(ctx, "is_test", 1, 0));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_BATCH_NORM, 5, ctx->inputs, (void **)&a));
    return c2_arg_float(ctx, "epsilon", 1e-5, &a->epsilon);
}

/* Per-channel vector [C] -> [C, 1, ..., 1] so that it broadcasts over NCHW... */
static d2_value_id channel_vector(struct c2_op_ctx *ctx, d2_value_id v, int32_t x_rank)
{
    int64_t shape[D2_MAX_RANK] = { -1 };
    for (int32_t i = 1; i < x_rank - 1; i++)
        shape[i] = 1;
    return c2_reshape(ctx, v, shape, (uint32_t)(x_rank - 1));
}

static enum d2_status conv_affine_channel(struct c2_op_ctx *ctx)
{
    int32_t rank = c2_type(ctx, ctx->inputs[0])->rank;
    C2_TRY(c2_check_arity(ctx, 3, 3, 1, 1));
    C2_TRY(c2_require_nchw(ctx));
    if (rank < 2)
        rank = 4; /* unknown rank: detection backbones are NCHW */
    d2_value_id scale = channel_vector(ctx, ctx->inputs[1], rank);
    d2_value_id bias = channel_vector(ctx, ctx->inputs[2], rank);
    d2_value_id y = c2_binary(ctx, D2_OP_MUL, ctx->inputs[0], scale);
    C2_CHECK(ctx, y);
    d2_value_id in[2] = { y, bias };
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_ADD, 2, in, NULL));
    return D2_OK;
}

static enum d2_status conv_group_norm(struct c2_op_ctx *ctx)
{
    struct d2_attrs_group_norm *a;
    C2_TRY(c2_check_arity(ctx, 3, 3, 1, 3));
    C2_TRY(c2_require_nchw(ctx));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_GROUP_NORM, 3, ctx->inputs, (void **)&a));
    C2_TRY(c2_arg_int(ctx, "group", 32, &a->num_groups));
    return c2_arg_float(ctx, "epsilon", 1e-5, &a->epsilon);
    /* outputs 1, 2 (saved mean, inv_std) stay D2_NO_VALUE: training only */
}

/* ---- linear ---- */

static enum d2_status conv_fc(struct c2_op_ctx *ctx)
{
    int64_t axis, axis_w;
    struct d2_attrs_axis *fa;
    struct d2_attrs_gemm *ga;
    bool transposed = strcmp(ctx->type, "FCTransposed") == 0;
    C2_TRY(c2_check_arity(ctx, 3, 3, 1, 1));
    C2_TRY(c2_arg_int(ctx, "axis", 1, &axis));
    C2_TRY(c2_arg_int(ctx, "axis_w", 1, &axis_w));
    if (axis != 1)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "axis=%lld is not supported (only 1)", (long long)axis);
    d2_value_id x = c2_node(ctx, D2_OP_FLATTEN, 1, &ctx->inputs[0], (void **)&fa);
    C2_CHECK(ctx, x);
    fa->axis = 1;
    d2_value_id w = ctx->inputs[1];
    if (c2_type(ctx, w)->rank != 2) {
        w = c2_node(ctx, D2_OP_FLATTEN, 1, &w, (void **)&fa);
        C2_CHECK(ctx, w);
        fa->axis = axis_w;
    }
    d2_value_id in[3] = { x, w, ctx->inputs[2] };
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_GEMM, 3, in, (void **)&ga));
    ga->trans_b = transposed ? 0 : 1;
    return D2_OK;
}

static enum d2_status conv_batch_matmul(struct c2_op_ctx *ctx)
{
    int64_t trans[2];
    d2_value_id in[2] = { ctx->inputs[0], ctx->inputs[1] };
    C2_TRY(c2_check_arity(ctx, 2, 2, 1, 1));
    C2_TRY(c2_arg_int(ctx, "trans_a", 0, &trans[0]));
    C2_TRY(c2_arg_int(ctx, "trans_b", 0, &trans[1]));
    for (int k = 0; k < 2; k++) {
        if (!trans[k])
            continue;
        int32_t rank = c2_type(ctx, in[k])->rank;
        struct d2_attrs_transpose *ta;
        int64_t perm[D2_MAX_RANK];
        if (rank < 2)
            return c2_error(ctx, D2_ERR_UNSUPPORTED, "trans_%c needs input %d's rank (>= 2) at import", 'a' + k, k);
        for (int32_t i = 0; i < rank; i++)
            perm[i] = i;
        perm[rank - 2] = rank - 1;
        perm[rank - 1] = rank - 2;
        in[k] = c2_node(ctx, D2_OP_TRANSPOSE, 1, &in[k], (void **)&ta);
        C2_CHECK(ctx, in[k]);
        C2_TRY(d2_graph_set_ints(ctx->g, &ta->perm, perm, (uint32_t)rank, ctx->err));
    }
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_MATMUL, 2, in, NULL));
    return D2_OK;
}

static enum d2_status conv_softmax(struct c2_op_ctx *ctx)
{
    int64_t axis;
    struct d2_attrs_axis *a;
    enum d2_op op = strcmp(ctx->type, "Softmax") == 0 ? D2_OP_SOFTMAX : D2_OP_LOG_SOFTMAX;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_TRY(c2_arg_int(ctx, "axis", 1, &axis));
    int32_t rank = c2_type(ctx, ctx->inputs[0])->rank;
    int64_t norm;
    if (rank >= 0 && d2_normalize_axis(axis, rank, &norm) && norm == rank - 1) {
        C2_CHECK(ctx, c2_node_named(ctx, 0, op, 1, ctx->inputs, (void **)&a));
        a->axis = -1;
        return D2_OK;
    }
    /* Coerce to 2-D [prod(d[:axis]), prod(d[axis:])], normalize rows, restore. */
    d2_value_id shape = c2_node(ctx, D2_OP_SHAPE, 1, ctx->inputs, NULL);
    d2_value_id flat = c2_node(ctx, D2_OP_FLATTEN, 1, ctx->inputs, (void **)&a);
    C2_CHECK(ctx, shape);
    C2_CHECK(ctx, flat);
    a->axis = axis;
    d2_value_id sm = c2_node(ctx, op, 1, &flat, (void **)&a);
    C2_CHECK(ctx, sm);
    a->axis = 1;
    d2_value_id in[2] = { sm, shape };
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_RESHAPE, 2, in, NULL));
    return D2_OK;
}

/* ---- shape and data movement ---- */

static enum d2_status conv_concat(struct c2_op_ctx *ctx)
{
    int64_t axis, add_axis;
    const char *order;
    struct d2_attrs_axis *a;
    C2_TRY(c2_check_arity(ctx, 1, UINT32_MAX, 1, 2));
    C2_TRY(c2_arg_string(ctx, "order", "NCHW", &order));
    C2_TRY(c2_arg_int(ctx, "axis", strcmp(order, "NHWC") == 0 ? 3 : 1, &axis));
    C2_TRY(c2_arg_int(ctx, "add_axis", 0, &add_axis));
    d2_value_id *parts = d2_calloc(ctx->g->alloc, ctx->num_inputs, sizeof *parts);
    d2_value_id *sizes = d2_calloc(ctx->g->alloc, ctx->num_inputs, sizeof *sizes);
    enum d2_status st = D2_OK;
    if (!parts || !sizes) {
        st = d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < ctx->num_inputs; i++) {
        parts[i] = ctx->inputs[i];
        if (add_axis) {
            /* Stack: each input gets a new dim of 1 at axis (axis counts in the output). */
            d2_value_id in[2] = { parts[i], c2_const_i64(ctx, &axis, 1) };
            parts[i] = in[1] == D2_NO_VALUE ? D2_NO_VALUE : c2_node(ctx, D2_OP_UNSQUEEZE, 2, in, NULL);
            sizes[i] = D2_NO_VALUE;
        } else {
            sizes[i] = c2_dim(ctx, parts[i], axis);
            if (sizes[i] == D2_NO_VALUE) {
                st = ctx->err->code;
                goto done;
            }
        }
        if (parts[i] == D2_NO_VALUE) {
            st = ctx->err->code;
            goto done;
        }
    }
    if (c2_node_named(ctx, 0, D2_OP_CONCAT, ctx->num_inputs, parts, (void **)&a) == D2_NO_VALUE) {
        st = ctx->err->code;
        goto done;
    }
    a->axis = axis;
    if (ctx->num_outputs > 1) {
        /* split_info: i32 [num_inputs], each input's size along axis (1 when stacking). */
        d2_value_id info;
        if (add_axis) {
            int64_t one = 1, n = ctx->num_inputs;
            d2_value_id in[1] = { c2_const_i64(ctx, &n, 1) };
            struct d2_attrs_constant_of_shape *ca;
            info = in[0] == D2_NO_VALUE ? D2_NO_VALUE
                 : c2_node_named(ctx, 1, D2_OP_CONSTANT_OF_SHAPE, 1, in, (void **)&ca);
            if (info != D2_NO_VALUE) {
                ca->dtype = D2_DTYPE_I32;
                ca->value = (double)one;
            }
        } else {
            d2_value_id cat = c2_node(ctx, D2_OP_CONCAT, ctx->num_inputs, sizes, (void **)&a);
            if (cat != D2_NO_VALUE)
                a->axis = 0;
            struct d2_attrs_cast *ca;
            info = cat == D2_NO_VALUE ? D2_NO_VALUE : c2_node_named(ctx, 1, D2_OP_CAST, 1, &cat, (void **)&ca);
            if (info != D2_NO_VALUE)
                ca->to = D2_DTYPE_I32;
        }
        if (info == D2_NO_VALUE)
            st = ctx->err->code;
    }
done:
    d2_free(ctx->g->alloc, parts);
    d2_free(ctx->g->alloc, sizes);
    return st;
}

static enum d2_status conv_reshape(struct c2_op_ctx *ctx)
{
    int64_t shape[D2_MAX_RANK];
    uint32_t n;
    d2_value_id target;
    C2_TRY(c2_check_arity(ctx, 1, 2, 1, 2));
    C2_TRY(c2_arg_ints(ctx, "shape", shape, D2_MAX_RANK, &n));
    if (ctx->num_inputs == 2) {
        if (c2_arg(ctx, "shape"))
            return c2_error(ctx, D2_ERR_PARSE, "the new shape is given both as argument and as input");
        target = c2_cast(ctx, ctx->inputs[1], D2_DTYPE_I64);
    } else {
        if (!c2_arg(ctx, "shape"))
            return c2_error(ctx, D2_ERR_PARSE, "no new shape (argument 'shape' or a second input)");
        target = c2_const_i64(ctx, shape, n);
    }
    C2_CHECK(ctx, target);
    d2_value_id in[2] = { ctx->inputs[0], target };
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_RESHAPE, 2, in, NULL)); /* 0 copies, -1 infers: as Caffe2 */
    if (ctx->num_outputs > 1)
        C2_CHECK(ctx, c2_node_named(ctx, 1, D2_OP_SHAPE, 1, ctx->inputs, NULL)); /* old_shape, i64 */
    return D2_OK;
}

static enum d2_status conv_transpose(struct c2_op_ctx *ctx)
{
    int64_t axes[D2_MAX_RANK];
    uint32_t n;
    struct d2_attrs_transpose *a;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_TRY(c2_arg_ints(ctx, "axes", axes, D2_MAX_RANK, &n));
    if (!n)
        C2_TRY(c2_arg_ints(ctx, "perm", axes, D2_MAX_RANK, &n));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_TRANSPOSE, 1, ctx->inputs, (void **)&a));
    return set_ints(ctx, &a->perm, axes, n);
}

static enum d2_status conv_layout(struct c2_op_ctx *ctx)
{
    static const int64_t to_nhwc[4] = { 0, 2, 3, 1 }, to_nchw[4] = { 0, 3, 1, 2 };
    struct d2_attrs_transpose *a;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_TRANSPOSE, 1, ctx->inputs, (void **)&a));
    return set_ints(ctx, &a->perm, strcmp(ctx->type, "NCHW2NHWC") == 0 ? to_nhwc : to_nchw, 4);
}

static enum d2_status conv_flatten(struct c2_op_ctx *ctx)
{
    struct d2_attrs_axis *a;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_FLATTEN, 1, ctx->inputs, (void **)&a));
    return c2_arg_int(ctx, "axis", 1, &a->axis);
}

/* ExpandDims / Squeeze: `dims` argument -> axes input. */
static enum d2_status conv_dims(struct c2_op_ctx *ctx)
{
    int64_t dims[D2_MAX_RANK];
    uint32_t n;
    bool expand = strcmp(ctx->type, "ExpandDims") == 0;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_TRY(c2_arg_ints(ctx, "dims", dims, D2_MAX_RANK, &n));
    if (!n && expand)
        return c2_error(ctx, D2_ERR_PARSE, "argument 'dims' is missing");
    d2_value_id in[2] = { ctx->inputs[0], c2_const_i64(ctx, dims, n) };
    C2_CHECK(ctx, in[1]);
    C2_CHECK(ctx, c2_node_named(ctx, 0, expand ? D2_OP_UNSQUEEZE : D2_OP_SQUEEZE, 2, in, NULL));
    return D2_OK;
}

bool d2_caffe2_dtype(int64_t t, enum d2_dtype *out)
{
    switch (t) {
    case 1: *out = D2_DTYPE_F32; return true;
    case 2: *out = D2_DTYPE_I32; return true;
    case 3: *out = D2_DTYPE_U8; return true;  /* BYTE is restored as uint8 */
    case 5: *out = D2_DTYPE_BOOL; return true;
    case 6: *out = D2_DTYPE_U8; return true;
    case 7: *out = D2_DTYPE_I8; return true;
    case 8: *out = D2_DTYPE_U16; return true;
    case 9: *out = D2_DTYPE_I16; return true;
    case 10: *out = D2_DTYPE_I64; return true;
    case 12: *out = D2_DTYPE_F16; return true;
    case 13: *out = D2_DTYPE_F64; return true;
    default: return false; /* 0 UNDEFINED, 4 STRING, unknown */
    }
}

static enum d2_status conv_cast(struct c2_op_ctx *ctx)
{
    int64_t to;
    enum d2_dtype dt;
    const struct c2_arg *a = c2_arg(ctx, "to");
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    if (a && a->kind == C2_ARG_STRING)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "'to' given as a type name is not supported (use the number)");
    C2_TRY(c2_arg_int(ctx, "to", -1, &to));
    if (to < 0)
        return c2_error(ctx, D2_ERR_PARSE, "argument 'to' is missing");
    if (!d2_caffe2_dtype(to, &dt))
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "cast to Caffe2 DataType %lld is not supported", (long long)to);
    struct d2_attrs_cast *ca;
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_CAST, 1, ctx->inputs, (void **)&ca));
    ca->to = dt;
    return D2_OK;
}

static enum d2_status conv_resize_nearest(struct c2_op_ctx *ctx)
{
    double hs, ws;
    struct d2_attrs_resize *a;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1)); /* the 2-input (scales tensor) form is not read */
    C2_TRY(c2_require_nchw(ctx));
    C2_TRY(c2_arg_float(ctx, "height_scale", 1.0, &hs));
    C2_TRY(c2_arg_float(ctx, "width_scale", 1.0, &ws));
    if (!(hs > 0) || !(ws > 0))
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "scales must be positive (height %g, width %g)", hs, ws);
    float scales[4] = { 1.0f, 1.0f, (float)hs, (float)ws };
    d2_value_id in[3] = { ctx->inputs[0], D2_NO_VALUE, c2_const_f32(ctx, scales, 4) };
    C2_CHECK(ctx, in[2]);
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_RESIZE, 3, in, (void **)&a));
    a->mode = D2_RESIZE_MODE_NEAREST;
    a->coordinate_transformation_mode = D2_COORD_MODE_ASYMMETRIC;
    a->nearest_mode = D2_NEAREST_MODE_FLOOR;
    return D2_OK;
}

static enum d2_status conv_upsample_bilinear(struct c2_op_ctx *ctx)
{
    double s[2];
    struct d2_attrs_upsample *a;
    C2_TRY(c2_check_arity(ctx, 1, 2, 1, 1));
    if (ctx->num_inputs == 2) {
        const struct d2_tensor *t = d2_graph_constant_of(ctx->g, ctx->inputs[1]);
        if (!t || d2_tensor_numel(t) != 2 || !d2_dtype_is_float(t->dtype))
            return c2_error(ctx, D2_ERR_UNSUPPORTED, "the scales input must be a constant float [2]");
        s[0] = d2_load_f64(t->data, t->dtype, 0);
        s[1] = d2_load_f64(t->data, t->dtype, 1);
    } else {
        C2_TRY(c2_arg_float(ctx, "height_scale", 1.0, &s[0]));
        C2_TRY(c2_arg_float(ctx, "width_scale", 1.0, &s[1]));
    }
    /* float, as Caffe2 stores them; output = int(in * scale) */
    s[0] = (float)s[0];
    s[1] = (float)s[1];
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_UPSAMPLE, 1, ctx->inputs, (void **)&a));
    a->mode = D2_RESIZE_MODE_LINEAR;
    a->align_corners = 1;
    return d2_graph_set_floats(ctx->g, &a->scales, s, 2, ctx->err);
}

static enum d2_status conv_pad_image(struct c2_op_ctx *ctx)
{
    struct geometry geo;
    const char *mode;
    double value;
    struct d2_attrs_pad *a;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_TRY(read_geometry(ctx, &geo));
    C2_TRY(c2_arg_string(ctx, "mode", "constant", &mode));
    C2_TRY(c2_arg_float(ctx, "value", 0.0, &value));
    if (geo.n_pads != 4)
        return c2_error(ctx, D2_ERR_PARSE, "expected 4 pads (t, l, b, r), got %u", geo.n_pads);
    int64_t pads[8] = { 0, 0, geo.pads[0], geo.pads[1], 0, 0, geo.pads[2], geo.pads[3] };
    enum d2_dtype dt = c2_type(ctx, ctx->inputs[0])->dtype;
    d2_value_id in[3] = { ctx->inputs[0], c2_const_i64(ctx, pads, 8),
                          c2_const_scalar(ctx, dt == D2_DTYPE_UNDEFINED ? D2_DTYPE_F32 : dt, value) };
    C2_CHECK(ctx, in[1]);
    C2_CHECK(ctx, in[2]);
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_PAD, 3, in, (void **)&a));
    if (strcmp(mode, "constant") == 0)
        a->mode = D2_PAD_MODE_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        a->mode = D2_PAD_MODE_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        a->mode = D2_PAD_MODE_EDGE;
    else
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "mode='%s' is not supported", mode);
    return D2_OK;
}

static enum d2_status conv_numpy_tile(struct c2_op_ctx *ctx)
{
    C2_TRY(c2_check_arity(ctx, 2, 2, 1, 1));
    d2_value_id in[2] = { ctx->inputs[0], c2_cast(ctx, ctx->inputs[1], D2_DTYPE_I64) };
    C2_CHECK(ctx, in[1]);
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_TILE, 2, in, NULL));
    return D2_OK;
}

/* Caffe2 Slice: starts/ends arguments (or inputs); a negative index i means
 * dim + 1 + i, so -1 is one past the last element. */
static int64_t slice_index(int64_t i)
{
    return i == -1 ? INT64_MAX : i < -1 ? i + 1 : i;
}

static enum d2_status conv_slice(struct c2_op_ctx *ctx)
{
    int64_t starts[D2_MAX_RANK], ends[D2_MAX_RANK], axes[D2_MAX_RANK];
    uint32_t ns, ne;
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_TRY(c2_arg_ints(ctx, "starts", starts, D2_MAX_RANK, &ns));
    C2_TRY(c2_arg_ints(ctx, "ends", ends, D2_MAX_RANK, &ne));
    if (ns != ne || ns == 0)
        return c2_error(ctx, D2_ERR_PARSE, "'starts' (%u values) and 'ends' (%u) must have the same, nonzero length",
                        ns, ne);
    for (uint32_t i = 0; i < ns; i++) {
        starts[i] = slice_index(starts[i]);
        ends[i] = slice_index(ends[i]);
        axes[i] = i;
    }
    d2_value_id in[4] = { ctx->inputs[0], c2_const_i64(ctx, starts, ns), c2_const_i64(ctx, ends, ns),
                          c2_const_i64(ctx, axes, ns) };
    for (int k = 1; k < 4; k++)
        C2_CHECK(ctx, in[k]);
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_SLICE, 4, in, NULL));
    return D2_OK;
}

static enum d2_status conv_shape(struct c2_op_ctx *ctx)
{
    C2_TRY(c2_check_arity(ctx, 1, 1, 1, 1));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_SHAPE, 1, ctx->inputs, NULL));
    return D2_OK;
}

/* Gather(DATA, INDICES) axis (default 0): what the ONNX->Caffe2 backend makes of
 * ONNX Gather (the Shape/Gather/... subgraphs of detectron2's exports). */
static enum d2_status conv_gather(struct c2_op_ctx *ctx)
{
    struct d2_attrs_axis *a;
    int64_t axis;
    C2_TRY(c2_check_arity(ctx, 2, 2, 1, 1));
    C2_TRY(c2_arg_int(ctx, "axis", 0, &axis));
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_GATHER, 2, ctx->inputs, (void **)&a));
    a->axis = axis;
    return D2_OK;
}

/* ConstantFill in a predict net: shape from `shape` (plus extra_shape) or from the
 * input (its shape, or its values with input_as_shape). */
static enum d2_status conv_constant_fill(struct c2_op_ctx *ctx)
{
    int64_t shape[D2_MAX_RANK], extra[D2_MAX_RANK], dtype_num, as_shape;
    uint32_t n, n_extra;
    enum d2_dtype dt = D2_DTYPE_F32;
    double value;
    struct d2_attrs_constant_of_shape *a;
    d2_value_id shape_v;
    C2_TRY(c2_check_arity(ctx, 0, 1, 1, 1));
    C2_TRY(c2_arg_ints(ctx, "shape", shape, D2_MAX_RANK, &n));
    C2_TRY(c2_arg_ints(ctx, "extra_shape", extra, D2_MAX_RANK, &n_extra));
    C2_TRY(c2_arg_int(ctx, "input_as_shape", 0, &as_shape));
    C2_TRY(c2_arg_int(ctx, "dtype", ctx->num_inputs && !as_shape ? -1 : 1, &dtype_num));
    if (dtype_num == -1)
        dt = c2_type(ctx, ctx->inputs[0])->dtype; /* same type as the input */
    else if (!d2_caffe2_dtype(dtype_num, &dt))
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "dtype %lld is not supported", (long long)dtype_num);
    if (dt == D2_DTYPE_UNDEFINED)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "the input's dtype is unknown at import");
    C2_TRY(c2_arg_float(ctx, "value", 0.0, &value));
    if (ctx->num_inputs == 0) {
        shape_v = c2_const_i64(ctx, shape, n);
    } else {
        if (n)
            return c2_error(ctx, D2_ERR_PARSE, "'shape' cannot be given together with an input");
        shape_v = as_shape ? c2_cast(ctx, ctx->inputs[0], D2_DTYPE_I64) : c2_node(ctx, D2_OP_SHAPE, 1, ctx->inputs, NULL);
        if (n_extra && shape_v != D2_NO_VALUE) {
            struct d2_attrs_axis *ca;
            d2_value_id in[2] = { shape_v, c2_const_i64(ctx, extra, n_extra) };
            C2_CHECK(ctx, in[1]);
            shape_v = c2_node(ctx, D2_OP_CONCAT, 2, in, (void **)&ca);
            if (shape_v != D2_NO_VALUE)
                ca->axis = 0;
        }
    }
    C2_CHECK(ctx, shape_v);
    C2_CHECK(ctx, c2_node_named(ctx, 0, D2_OP_CONSTANT_OF_SHAPE, 1, &shape_v, (void **)&a));
    a->dtype = dt;
    a->value = value;
    return D2_OK;
}

/* Recognized, deliberately not supported: a precise message instead of "unknown op". */
static enum d2_status conv_unsupported(struct c2_op_ctx *ctx)
{
    const char *why = strncmp(ctx->type, "Int8", 4) == 0 ? "quantized (Int8) operators are not supported"
                    : strcmp(ctx->type, "If") == 0 || strcmp(ctx->type, "While") == 0
                        ? "control flow over nested nets is not supported"
                        : strcmp(ctx->type, "IsEmpty") == 0 ? "IsEmpty only feeds Caffe2 control flow (If), which is not supported"
                        : "this operator is not supported by d2rt";
    return c2_error(ctx, D2_ERR_UNSUPPORTED, "%s", why);
}

/* ---- table ---- */

struct c2_op_entry { const char *type; c2_convert_fn convert; };
static const struct c2_op_entry op_table[] = {
    {"Copy", conv_identity}, {"CopyCPUToGPU", conv_identity}, {"CopyGPUToCPU", conv_identity},
    {"AliasWithName", conv_identity}, {"Alias", conv_identity}, {"EnsureCPUOutput", conv_identity},
    {"StopGradient", conv_identity},
    {"LeakyRelu", conv_leaky_relu}, {"Clip", conv_clip},
    {"Sum", conv_variadic}, {"Max", conv_variadic}, {"Min", conv_variadic}, {"Mean", conv_variadic},
    {"Conv", conv_conv}, {"Conv2D", conv_conv}, {"ConvTranspose", conv_conv_transpose},
    {"MaxPool", conv_pool}, {"MaxPool2D", conv_pool}, {"AveragePool", conv_pool}, {"AveragePool2D", conv_pool},
    {"SpatialBN", conv_spatial_bn}, {"AffineChannel", conv_affine_channel}, {"GroupNorm", conv_group_norm},
    {"FC", conv_fc}, {"FCTransposed", conv_fc}, {"BatchMatMul", conv_batch_matmul}, {"MatMul", conv_batch_matmul},
    {"Softmax", conv_softmax}, {"LogSoftmax", conv_softmax},
    {"Concat", conv_concat}, {"Reshape", conv_reshape}, {"Transpose", conv_transpose},
    {"NCHW2NHWC", conv_layout}, {"NHWC2NCHW", conv_layout}, {"Flatten", conv_flatten},
    {"ExpandDims", conv_dims}, {"Squeeze", conv_dims}, {"Cast", conv_cast},
    {"ResizeNearest", conv_resize_nearest}, {"UpsampleBilinear", conv_upsample_bilinear},
    {"PadImage", conv_pad_image}, {"NumpyTile", conv_numpy_tile}, {"Slice", conv_slice}, {"Shape", conv_shape},
    {"Gather", conv_gather},
    {"ConstantFill", conv_constant_fill},
    {"If", conv_unsupported}, {"While", conv_unsupported}, {"IsEmpty", conv_unsupported},
};

static c2_convert_fn find_converter(const char *type)
{
    if (!type)
        return NULL;
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (strcmp(op_table[i].type, type) == 0)
            return op_table[i].convert;
    if (unary_op(type) != D2_OP_COUNT)
        return conv_unary;
    if (binary_entry(type))
        return conv_binary;
    if (strncmp(type, "Int8", 4) == 0)
        return conv_unsupported;
    return c2_find_detect_op(type);
}

bool d2_caffe2_op_known(const char *type)
{
    return find_converter(type) != NULL;
}

enum d2_status d2_caffe2_map_op(struct c2_op_ctx *ctx)
{
    c2_convert_fn convert = find_converter(ctx->type);
    for (uint32_t i = 0; i < ctx->num_outputs; i++)
        ctx->outputs[i] = D2_NO_VALUE;
    if (!convert)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "operator type '%s' is not supported by d2rt",
                        ctx->type ? ctx->type : "");
    ctx->first_node = ctx->g->num_nodes;
    enum d2_status st = convert(ctx);
    if (st != D2_OK) {
        if (ctx->err->code == D2_OK)
            st = c2_error(ctx, st, "conversion failed");
        return st;
    }
    return c2_infer_pending(ctx);
}
