/* frontend/torchscript/ts_ops_nn.c: neural-network ops with PyTorch semantics:
 * convolutions (aten::_convolution as traced, conv1d/2d/3d, conv_transpose2d),
 * batch_norm (inference), max/avg pooling, adaptive average pooling to 1,
 * linear/addmm/matmul, interpolation (upsample_* -> the IR's torch-exact upsample),
 * activations with parameters, and torchvision's nms and roi_align (onto the shared
 * detection ops box_nms and box_roi_align).
 */
#include "frontend/torchscript/ts_lower.h"

#include <string.h>

static enum d2_status ret(struct ts_lower *L, struct tsv *v, struct tsv **out)
{
    *out = v;
    return v ? D2_OK : (L->err->code ? L->err->code : D2_ERR_NOMEM);
}

/* A list of k static ints, a single int repeated k times ([1] expands too). */
static bool int_tuple(struct ts_lower *L, struct tsv *v, uint32_t k, int64_t def, int64_t *out)
{
    uint32_t n;
    int64_t buf[D2_MAX_RANK];
    if (!v || v->kind == TSV_NONE) {
        for (uint32_t i = 0; i < k; i++)
            out[i] = def;
        return true;
    }
    if (!ts_static_int_list(L, v, buf, D2_MAX_RANK, &n))
        return false;
    if (n == 0) {
        for (uint32_t i = 0; i < k; i++)
            out[i] = def;
        return true;
    }
    if (n != 1 && n != k)
        return false;
    for (uint32_t i = 0; i < k; i++)
        out[i] = buf[n == 1 ? 0 : i];
    return true;
}

static enum d2_status set_ints(struct ts_lower *L, struct d2_ints *field, const int64_t *v, uint32_t n)
{
    return d2_graph_set_ints(L->frame->g, field, v, n, L->err);
}

/* ---- convolution ---- */

static enum d2_status conv_common(struct ts_lower *L, struct ts_call *c, struct tsv *x_arg, struct tsv *w_arg,
                                  struct tsv *b_arg, struct tsv *stride, struct tsv *padding, struct tsv *dilation,
                                  bool transposed, struct tsv *output_padding, struct tsv *groups, struct tsv **out)
{
    d2_value_id in[3], x, w, r;
    int64_t s[D2_MAX_RANK], p[2 * D2_MAX_RANK], d[D2_MAX_RANK], op[D2_MAX_RANK], g = 1;
    int32_t rank, node;
    uint32_t k;
    bool same = false;
    if (!ts_is_tensor(x_arg) || !ts_is_tensor(w_arg))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: input and weight must be tensors", c->name);
    x = ts_use(L, x_arg);
    w = ts_use(L, w_arg);
    if (x == D2_NO_VALUE || w == D2_NO_VALUE)
        return L->err->code;
    rank = ts_rank(L, w);
    if (rank < 3 || ts_rank(L, x) != rank)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: input rank %d with weight rank %d (batched input expected)", c->name,
                       ts_rank(L, x), rank);
    k = (uint32_t)rank - 2;
    if (padding && padding->kind == TSV_STR) {
        if (strcmp(padding->u.s, "same") == 0)
            same = true;
        else if (strcmp(padding->u.s, "valid") != 0)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: padding '%s'", c->name, padding->u.s);
        padding = NULL;
    }
    if (!int_tuple(L, stride, k, 1, s) || !int_tuple(L, padding, k, 0, p) || !int_tuple(L, dilation, k, 1, d) ||
        !int_tuple(L, output_padding, k, 0, op) || (groups && !ts_static_int(L, groups, &g)))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: stride, padding, dilation and groups must be static", c->name);
    for (uint32_t i = 0; i < k; i++)
        p[k + i] = p[i];
    in[0] = x;
    in[1] = ts_cast(L, w, ts_type(L, x)->dtype);
    in[2] = b_arg && b_arg->kind == TSV_TENSOR ? ts_cast(L, ts_use(L, b_arg), ts_type(L, x)->dtype) : D2_NO_VALUE;
    node = ts_node(L, transposed ? D2_OP_CONV_TRANSPOSE : D2_OP_CONV, in[2] == D2_NO_VALUE ? 2 : 3, in, 1);
    if (node < 0)
        return L->err->code;
    if (transposed) {
        struct d2_attrs_conv_transpose *a = ts_attrs(L, node);
        if (set_ints(L, &a->strides, s, k) || set_ints(L, &a->pads, p, 2 * k) || set_ints(L, &a->dilations, d, k) ||
            set_ints(L, &a->output_padding, op, k))
            return L->err->code;
        a->group = g;
    } else {
        struct d2_attrs_conv *a = ts_attrs(L, node);
        if (set_ints(L, &a->strides, s, k) || set_ints(L, &a->dilations, d, k))
            return L->err->code;
        if (same) {
            a->auto_pad = D2_AUTO_PAD_SAME_UPPER; /* torch pads the extra one at the end too */
        } else if (set_ints(L, &a->pads, p, 2 * k)) {
            return L->err->code;
        }
        a->group = g;
    }
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

/* _convolution(input, weight, bias, stride, padding, dilation, transposed,
 *              output_padding, groups, benchmark, deterministic, cudnn_enabled[, allow_tf32]) */
static enum d2_status convolution(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *tr = ts_arg(c, 6, "transposed");
    int64_t transposed = 0;
    if (tr && !ts_static_int(L, tr, &transposed))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: transposed must be static", c->name);
    return conv_common(L, c, ts_arg(c, 0, "input"), ts_arg(c, 1, "weight"), ts_arg(c, 2, "bias"),
                       ts_arg(c, 3, "stride"), ts_arg(c, 4, "padding"), ts_arg(c, 5, "dilation"), transposed != 0,
                       ts_arg(c, 7, "output_padding"), ts_arg(c, 8, "groups"), out);
}

/* conv2d(input, weight, bias, stride, padding, dilation, groups) */
static enum d2_status conv(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    return conv_common(L, c, ts_arg(c, 0, "input"), ts_arg(c, 1, "weight"), ts_arg(c, 2, "bias"),
                       ts_arg(c, 3, "stride"), ts_arg(c, 4, "padding"), ts_arg(c, 5, "dilation"), false, NULL,
                       ts_arg(c, 6, "groups"), out);
}

/* conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation) */
static enum d2_status conv_transpose(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    return conv_common(L, c, ts_arg(c, 0, "input"), ts_arg(c, 1, "weight"), ts_arg(c, 2, "bias"),
                       ts_arg(c, 3, "stride"), ts_arg(c, 4, "padding"), ts_arg(c, 7, "dilation"), true,
                       ts_arg(c, 5, "output_padding"), ts_arg(c, 6, "groups"), out);
}

/* batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled) */
static enum d2_status batch_norm(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "input"), *mean = ts_arg(c, 3, "running_mean"), *var = ts_arg(c, 4, "running_var");
    struct tsv *training = ts_arg(c, 5, "training"), *eps = ts_arg(c, 7, "eps");
    struct tsv *wb[2] = { ts_arg(c, 1, "weight"), ts_arg(c, 2, "bias") };
    d2_value_id in[5], x, r;
    int64_t t = 0;
    double e = 1e-5;
    enum d2_dtype dt;
    int32_t node;
    if (!ts_is_tensor(x_arg) || !ts_is_tensor(mean) || !ts_is_tensor(var))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: needs running statistics (inference)", c->name);
    if ((training && !ts_static_int(L, training, &t)) || t)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s in training mode", c->name);
    if (eps && !ts_static_float(L, eps, &e))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: eps must be static", c->name);
    x = ts_use(L, x_arg);
    if (x == D2_NO_VALUE)
        return L->err->code;
    dt = ts_type(L, x)->dtype;
    in[0] = x;
    in[3] = ts_cast(L, ts_use(L, mean), dt);
    in[4] = ts_cast(L, ts_use(L, var), dt);
    for (int k = 0; k < 2; k++) {
        if (wb[k] && wb[k]->kind == TSV_TENSOR) {
            in[1 + k] = ts_cast(L, ts_use(L, wb[k]), dt);
        } else { /* no affine part: scale 1, bias 0, shaped like the mean */
            d2_value_id shape = ts_shape(L, in[3]);
            int32_t n = ts_node(L, D2_OP_CONSTANT_OF_SHAPE, 1, &shape, 1);
            if (n < 0)
                return L->err->code;
            ((struct d2_attrs_constant_of_shape *)ts_attrs(L, n))->dtype = dt;
            ((struct d2_attrs_constant_of_shape *)ts_attrs(L, n))->value = k == 0 ? 1.0 : 0.0;
            if (ts_finish(L, n, &in[1 + k]) != D2_OK)
                return L->err->code;
        }
    }
    node = ts_node(L, D2_OP_BATCH_NORM, 5, in, 1);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_epsilon *)ts_attrs(L, node))->epsilon = e;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

/* max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode) and
 * avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override) */
static enum d2_status pool(struct ts_lower *L, struct ts_call *c, bool is_max, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "self"), *stride = ts_arg(c, 2, "stride");
    int64_t k[D2_MAX_RANK], s[D2_MAX_RANK], p[2 * D2_MAX_RANK], d[D2_MAX_RANK], ceil_mode = 0, include = 1;
    d2_value_id x, r;
    int32_t rank, node;
    uint32_t n;
    if (!ts_is_tensor(x_arg))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(x_arg));
    x = ts_use(L, x_arg);
    rank = ts_rank(L, x);
    if (rank < 3)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: input rank %d", c->name, rank);
    n = strstr(c->name, "1d") ? 1 : strstr(c->name, "3d") ? 3 : 2;
    if ((uint32_t)rank != n + 2)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: unbatched input", c->name);
    if (!int_tuple(L, ts_arg(c, 1, "kernel_size"), n, 1, k) || !int_tuple(L, ts_arg(c, 3, "padding"), n, 0, p))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: kernel and padding must be static", c->name);
    if (!stride || stride->kind == TSV_NONE ||
        ((stride->kind == TSV_LIST || stride->kind == TSV_TUPLE) && stride->u.seq.count == 0))
        memcpy(s, k, sizeof(int64_t) * n);
    else if (!int_tuple(L, stride, n, 1, s))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: stride must be static", c->name);
    if (is_max) {
        struct tsv *cm = ts_arg(c, 5, "ceil_mode");
        if (!int_tuple(L, ts_arg(c, 4, "dilation"), n, 1, d) || (cm && !ts_static_int(L, cm, &ceil_mode)))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: dilation and ceil_mode must be static", c->name);
    } else {
        struct tsv *cm = ts_arg(c, 4, "ceil_mode"), *cip = ts_arg(c, 5, "count_include_pad"),
                   *div = ts_arg(c, 6, "divisor_override");
        if ((cm && !ts_static_int(L, cm, &ceil_mode)) || (cip && !ts_static_int(L, cip, &include)))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: ceil_mode and count_include_pad must be static", c->name);
        if (div && div->kind != TSV_NONE)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s with divisor_override", c->name);
        for (uint32_t i = 0; i < n; i++)
            d[i] = 1;
    }
    for (uint32_t i = 0; i < n; i++)
        p[n + i] = p[i];
    node = ts_node(L, is_max ? D2_OP_MAX_POOL : D2_OP_AVERAGE_POOL, 1, &x, 1);
    if (node < 0)
        return L->err->code;
    {
        struct d2_attrs_pool *a = ts_attrs(L, node);
        if (set_ints(L, &a->kernel_shape, k, n) || set_ints(L, &a->strides, s, n) || set_ints(L, &a->pads, p, 2 * n) ||
            set_ints(L, &a->dilations, d, n))
            return L->err->code;
        a->ceil_mode = ceil_mode != 0;
        a->count_include_pad = include != 0;
    }
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

static enum d2_status max_pool(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return pool(L, c, true, out); }
static enum d2_status avg_pool(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return pool(L, c, false, out); }

static enum d2_status adaptive_avg_pool(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "self");
    int64_t size[D2_MAX_RANK];
    uint32_t n = strstr(c->name, "1d") ? 1 : strstr(c->name, "3d") ? 3 : 2;
    if (!ts_is_tensor(x_arg) || !int_tuple(L, ts_arg(c, 1, "output_size"), n, 1, size))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs a tensor and a static output size", c->name);
    for (uint32_t i = 0; i < n; i++)
        if (size[i] != 1)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s to a size other than 1", c->name);
    d2_value_id x = ts_use(L, x_arg);
    return ts_ret_tensor(L, x == D2_NO_VALUE ? x : ts_emit1(L, D2_OP_GLOBAL_AVERAGE_POOL, 1, &x), out);
}

/* ---- matrix products ---- */

static enum d2_status linear(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "input"), *w_arg = ts_arg(c, 1, "weight"), *b_arg = ts_arg(c, 2, "bias");
    d2_value_id x, w, b = D2_NO_VALUE, r;
    int64_t perm[2] = { 1, 0 };
    if (!ts_is_tensor(x_arg) || !ts_is_tensor(w_arg))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: input and weight must be tensors", c->name);
    x = ts_use(L, x_arg);
    w = ts_cast(L, ts_use(L, w_arg), ts_type(L, x)->dtype);
    if (b_arg && b_arg->kind == TSV_TENSOR)
        b = ts_cast(L, ts_use(L, b_arg), ts_type(L, x)->dtype);
    if (x == D2_NO_VALUE || w == D2_NO_VALUE)
        return L->err->code;
    if (ts_rank(L, x) == 2 && ts_rank(L, w) == 2) { /* y = x W^T + b: one gemm */
        d2_value_id in[3] = { x, w, b };
        int32_t node = ts_node(L, D2_OP_GEMM, b == D2_NO_VALUE ? 2 : 3, in, 1);
        if (node < 0)
            return L->err->code;
        ((struct d2_attrs_gemm *)ts_attrs(L, node))->trans_b = 1;
        if (ts_finish(L, node, &r) != D2_OK)
            return L->err->code;
        return ts_ret_tensor(L, r, out);
    }
    r = ts_binary(L, D2_OP_MATMUL, x, ts_rank(L, w) == 2 ? ts_transpose(L, w, perm, 2) : w);
    if (b != D2_NO_VALUE)
        r = ts_binary(L, D2_OP_ADD, r, b);
    return ts_ret_tensor(L, r, out);
}

/* addmm(self, mat1, mat2, beta=1, alpha=1) = beta*self + alpha*(mat1 @ mat2) */
static enum d2_status addmm(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *bias = ts_arg(c, 0, "self"), *a = ts_arg(c, 1, "mat1"), *b = ts_arg(c, 2, "mat2");
    struct tsv *beta = ts_arg(c, 3, "beta"), *alpha = ts_arg(c, 4, "alpha");
    double be = 1, al = 1;
    d2_value_id in[3], r;
    int32_t node;
    if (!ts_is_tensor(bias) || !ts_is_tensor(a) || !ts_is_tensor(b))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs three tensors", c->name);
    if ((beta && !ts_static_float(L, beta, &be)) || (alpha && !ts_static_float(L, alpha, &al)))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: beta and alpha must be static", c->name);
    in[0] = ts_use(L, a);
    in[1] = ts_cast(L, ts_use(L, b), ts_type(L, in[0])->dtype);
    in[2] = ts_cast(L, ts_use(L, bias), ts_type(L, in[0])->dtype);
    node = ts_node(L, D2_OP_GEMM, 3, in, 1);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_gemm *)ts_attrs(L, node))->alpha = al;
    ((struct d2_attrs_gemm *)ts_attrs(L, node))->beta = be;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

static enum d2_status matmul(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *b = ts_arg(c, 1, "other");
    if (!ts_is_tensor(a) || !ts_is_tensor(b))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs two tensors", c->name);
    struct tsv *pair[2] = { a, b };
    enum d2_dtype dt = ts_result_type(L, pair, 2);
    return ts_ret_tensor(L, ts_binary(L, D2_OP_MATMUL, ts_cast(L, ts_use(L, a), dt), ts_cast(L, ts_use(L, b), dt)), out);
}

/* ---- interpolation ---- */

/* upsample_<mode>(input, output_size, [align_corners,] scale_factors) — the overload
 * torch's interpolate calls — or the older (input, output_size, [align_corners,]
 * scales_h, scales_w). */
static enum d2_status upsample(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "input"), *size = ts_arg(c, 1, "output_size");
    bool nearest = strstr(c->name, "nearest") != NULL;
    bool cubic = strstr(c->name, "bicubic") != NULL;
    uint32_t k = strstr(c->name, "1d") ? 1 : strstr(c->name, "3d") ? 3 : 2;
    uint32_t next = 2;
    int64_t align = 0;
    double scales[3];
    uint32_t num_scales = 0;
    d2_value_id x, in[2], r;
    int32_t node;
    if (!ts_is_tensor(x_arg))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(x_arg));
    if (strstr(c->name, "_aa") || strstr(c->name, "exact"))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "unsupported operator '%s'", c->name);
    x = ts_use(L, x_arg);
    if (!nearest) {
        struct tsv *ac = ts_arg(c, 2, "align_corners");
        if (ac && ac->kind != TSV_NONE && !ts_static_int(L, ac, &align))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: align_corners must be static", c->name);
        next = 3;
    }
    {
        struct tsv *sf = ts_arg(c, next, "scale_factors");
        if (sf && (sf->kind == TSV_LIST || sf->kind == TSV_TUPLE)) {
            if (sf->u.seq.count != k)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: %u scale factors", c->name, sf->u.seq.count);
            for (uint32_t i = 0; i < k; i++)
                if (!ts_static_float(L, sf->u.seq.items[i], &scales[i]))
                    return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: scale factors must be static", c->name);
            num_scales = k;
        } else if (sf && sf->kind != TSV_NONE) {
            /* the older overload: one scale per dim, each possibly None */
            bool all = true;
            for (uint32_t i = 0; i < k; i++) {
                struct tsv *s = ts_arg(c, next + i, NULL);
                if (!s || s->kind == TSV_NONE || !ts_static_float(L, s, &scales[i]))
                    all = false;
            }
            num_scales = all ? k : 0;
        }
    }
    in[0] = x;
    in[1] = D2_NO_VALUE;
    if (size && size->kind != TSV_NONE) {
        uint32_t count;
        bool all_static;
        in[1] = ts_int_list_value(L, size, NULL, 0, &count, &all_static);
        if (in[1] == D2_NO_VALUE)
            return L->err->code;
        if (count != k)
            return ts_fail(L, D2_ERR_SHAPE, "%s: %u output sizes", c->name, count);
    } else if (num_scales == 0) {
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs an output size or static scale factors", c->name);
    }
    node = ts_node(L, D2_OP_UPSAMPLE, in[1] == D2_NO_VALUE ? 1 : 2, in, 1);
    if (node < 0)
        return L->err->code;
    {
        struct d2_attrs_upsample *a = ts_attrs(L, node);
        a->mode = nearest ? D2_RESIZE_MODE_NEAREST : cubic ? D2_RESIZE_MODE_CUBIC : D2_RESIZE_MODE_LINEAR;
        a->align_corners = align != 0;
        if (num_scales && d2_graph_set_floats(L->frame->g, &a->scales, scales, num_scales, L->err) != D2_OK)
            return L->err->code;
    }
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

/* ---- activations with parameters ---- */

static enum d2_status leaky_relu(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "self"), *slope = ts_arg(c, 1, "negative_slope");
    double alpha = 0.01;
    d2_value_id x, r;
    int32_t node;
    if (!ts_is_tensor(x_arg) || (slope && !ts_static_float(L, slope, &alpha)))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs a tensor and a static slope", c->name);
    x = ts_use(L, x_arg);
    node = ts_node(L, D2_OP_LEAKY_RELU, 1, &x, 1);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_alpha *)ts_attrs(L, node))->alpha = alpha;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    if (strchr(c->name, '_') && c->name[strlen(c->name) - 1] == '_') {
        enum d2_status st = ts_tensor_assign(L, x_arg, r);
        return st != D2_OK ? st : ret(L, x_arg, out);
    }
    return ts_ret_tensor(L, r, out);
}

static enum d2_status hardtanh(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "self"), *lo = ts_arg(c, 1, "min_val"), *hi = ts_arg(c, 2, "max_val");
    double a = -1, b = 1;
    if (!ts_is_tensor(x_arg) || (lo && !ts_static_float(L, lo, &a)) || (hi && !ts_static_float(L, hi, &b)))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs static bounds", c->name);
    d2_value_id x = ts_use(L, x_arg), in[3];
    enum d2_dtype dt = ts_type(L, x)->dtype;
    in[0] = x;
    in[1] = ts_const_scalar(L, dt, a);
    in[2] = ts_const_scalar(L, dt, b);
    return ts_ret_tensor(L, ts_emit1(L, D2_OP_CLIP, 3, in), out);
}

static enum d2_status gelu(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "self"), *approx = ts_arg(c, 1, "approximate");
    d2_value_id x, r;
    int32_t node;
    if (!ts_is_tensor(x_arg))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(x_arg));
    x = ts_use(L, x_arg);
    node = ts_node(L, D2_OP_GELU, 1, &x, 1);
    if (node < 0)
        return L->err->code;
    if (approx && approx->kind == TSV_STR && strcmp(approx->u.s, "tanh") == 0)
        ((struct d2_attrs_gelu *)ts_attrs(L, node))->approximate = D2_GELU_APPROX_TANH;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

static enum d2_status silu(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "self");
    if (!ts_is_tensor(x_arg))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(x_arg));
    d2_value_id x = ts_use(L, x_arg);
    d2_value_id s = ts_emit1(L, D2_OP_SIGMOID, 1, &x);
    return ts_ret_tensor(L, ts_binary(L, D2_OP_MUL, x, s), out);
}

/* ---- torchvision ---- */

static enum d2_status tv_nms(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *boxes = ts_arg(c, 0, "dets"), *scores = ts_arg(c, 1, "scores"), *iou = ts_arg(c, 2, "iou_threshold");
    double thr;
    d2_value_id in[2], r;
    int32_t node;
    if (!ts_is_tensor(boxes) || !ts_is_tensor(scores) || !iou || !ts_static_float(L, iou, &thr))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s(boxes, scores, iou_threshold) with a static threshold", c->name);
    in[0] = ts_use(L, boxes);
    in[1] = ts_cast(L, ts_use(L, scores), ts_type(L, in[0])->dtype);
    node = ts_node(L, D2_OP_BOX_NMS, 2, in, 1);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_box_nms *)ts_attrs(L, node))->iou_threshold = thr;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

/* torchvision.ops.boxes.batched_nms(boxes, scores, idxs, iou_threshold): NMS within
 * each idxs class, kept indices by decreasing score (torchvision's result whichever
 * of its two algorithms it picks). */
static enum d2_status tv_batched_nms(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *boxes = ts_arg(c, 0, "boxes"), *scores = ts_arg(c, 1, "scores"), *idxs = ts_arg(c, 2, "idxs");
    struct tsv *iou = ts_arg(c, 3, "iou_threshold");
    double thr;
    d2_value_id in[3], r;
    int32_t node;
    if (!ts_is_tensor(boxes) || !ts_is_tensor(scores) || !ts_is_tensor(idxs) || !iou || !ts_static_float(L, iou, &thr))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "batched_nms(boxes, scores, idxs, iou_threshold) with a static threshold");
    in[0] = ts_use(L, boxes);
    in[1] = ts_cast(L, ts_use(L, scores), ts_type(L, in[0])->dtype);
    in[2] = ts_cast(L, ts_use(L, idxs), D2_DTYPE_I64);
    node = ts_node(L, D2_OP_BOX_BATCHED_NMS, 3, in, 1);
    if (node < 0)
        return L->err->code;
    ((struct d2_attrs_box_nms *)ts_attrs(L, node))->iou_threshold = thr;
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

/* roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned) */
static enum d2_status tv_roi_align(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "input"), *rois = ts_arg(c, 1, "rois");
    double scale;
    int64_t ph, pw, sr, aligned = 0;
    d2_value_id in[2], r;
    int32_t node;
    if (!ts_is_tensor(x_arg) || !ts_is_tensor(rois) || !ts_static_float(L, ts_arg(c, 2, "spatial_scale"), &scale) ||
        !ts_static_int(L, ts_arg(c, 3, "pooled_height"), &ph) || !ts_static_int(L, ts_arg(c, 4, "pooled_width"), &pw) ||
        !ts_static_int(L, ts_arg(c, 5, "sampling_ratio"), &sr) ||
        (ts_arg(c, 6, "aligned") && !ts_static_int(L, ts_arg(c, 6, "aligned"), &aligned)))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: every parameter must be static", c->name);
    in[0] = ts_use(L, x_arg);
    in[1] = ts_cast(L, ts_use(L, rois), ts_type(L, in[0])->dtype);
    node = ts_node(L, D2_OP_BOX_ROI_ALIGN, 2, in, 1);
    if (node < 0)
        return L->err->code;
    {
        struct d2_attrs_box_roi_align *a = ts_attrs(L, node);
        a->spatial_scale = scale;
        a->pooled_h = ph;
        a->pooled_w = pw;
        a->sampling_ratio = sr;
        a->aligned = aligned != 0;
    }
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

/* grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners) */
static enum d2_status grid_sampler(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *x_arg = ts_arg(c, 0, "input"), *grid = ts_arg(c, 1, "grid");
    int64_t mode, padding, align;
    d2_value_id in[2], r;
    int32_t node;
    if (!ts_is_tensor(x_arg) || !ts_is_tensor(grid) || !ts_static_int(L, ts_arg(c, 2, "interpolation_mode"), &mode) ||
        !ts_static_int(L, ts_arg(c, 3, "padding_mode"), &padding) ||
        !ts_static_int(L, ts_arg(c, 4, "align_corners"), &align) || mode < 0 || mode > 2 || padding < 0 || padding > 2)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: every parameter must be static", c->name);
    in[0] = ts_use(L, x_arg);
    in[1] = ts_cast(L, ts_use(L, grid), ts_type(L, in[0])->dtype);
    node = ts_node(L, D2_OP_GRID_SAMPLE, 2, in, 1);
    if (node < 0)
        return L->err->code;
    {
        /* torch: 0 bilinear, 1 nearest, 2 bicubic; 0 zeros, 1 border, 2 reflection */
        static const int32_t modes[] = { D2_GRID_SAMPLE_LINEAR, D2_GRID_SAMPLE_NEAREST, D2_GRID_SAMPLE_CUBIC };
        static const int32_t pads[] = { D2_GRID_SAMPLE_PAD_ZEROS, D2_GRID_SAMPLE_PAD_BORDER, D2_GRID_SAMPLE_PAD_REFLECTION };
        struct d2_attrs_grid_sample *a = ts_attrs(L, node);
        a->mode = modes[mode];
        a->padding_mode = pads[padding];
        a->align_corners = align != 0;
    }
    if (ts_finish(L, node, &r) != D2_OK)
        return L->err->code;
    return ts_ret_tensor(L, r, out);
}

const struct ts_op_entry ts_ops_nn[] = {
    { "aten::_convolution", convolution }, { "aten::conv1d", conv }, { "aten::conv2d", conv },
    { "aten::conv3d", conv }, { "aten::conv_transpose1d", conv_transpose }, { "aten::conv_transpose2d", conv_transpose },
    { "aten::conv_transpose3d", conv_transpose },
    { "aten::batch_norm", batch_norm },
    { "aten::max_pool1d", max_pool }, { "aten::max_pool2d", max_pool }, { "aten::max_pool3d", max_pool },
    { "aten::avg_pool1d", avg_pool }, { "aten::avg_pool2d", avg_pool }, { "aten::avg_pool3d", avg_pool },
    { "aten::adaptive_avg_pool1d", adaptive_avg_pool }, { "aten::adaptive_avg_pool2d", adaptive_avg_pool },
    { "aten::adaptive_avg_pool3d", adaptive_avg_pool },
    { "aten::linear", linear }, { "aten::addmm", addmm }, { "aten::matmul", matmul }, { "aten::mm", matmul },
    { "aten::bmm", matmul },
    { "aten::upsample_nearest1d", upsample }, { "aten::upsample_nearest2d", upsample },
    { "aten::upsample_nearest3d", upsample }, { "aten::upsample_linear1d", upsample },
    { "aten::upsample_bilinear2d", upsample }, { "aten::upsample_trilinear3d", upsample },
    { "aten::upsample_bicubic2d", upsample },
    { "aten::leaky_relu", leaky_relu }, { "aten::leaky_relu_", leaky_relu }, { "aten::hardtanh", hardtanh },
    { "aten::gelu", gelu }, { "aten::silu", silu },
    { "torchvision::nms", tv_nms }, { "torchvision::roi_align", tv_roi_align },
    { "fn::__torch__.torchvision.ops.boxes.batched_nms", tv_batched_nms },
    { "aten::grid_sampler", grid_sampler },
    { NULL, NULL },
};
