/* frontend/caffe2/caffe2_import.c: Caffe2 NetDef files (predict_net + init_net) ->
 * d2rt graph.
 *
 *   - init_net: every operator must be a fill with no inputs (GivenTensor*Fill,
 *     ConstantFill); each output blob becomes a constant named like the blob. Fills
 *     without inputs inside the predict net become constants the same way.
 *   - predict_net external inputs that the init net does not fill and that some
 *     operator reads become graph inputs, in order: `data` is f32 [batch,3,height,
 *     width] and `im_info` f32 [batch,3] (the detectron2 convention, symbolic dims);
 *     any other input has an unknown type. External outputs become graph outputs.
 *     When they are BoxWithNMSLimit's detections, its batch_splits output (detections
 *     per image) is appended as one more graph output, `batch_splits_nms` (detectron2's
 *     alias of it), recorded in metadata "caffe2_batch_splits_output" = its index: with
 *     it a batch of images splits back into per-image answers.
 *   - operators go through d2_caffe2_map_op (caffe2_ops.c) one by one. Blob names are
 *     kept as value names. Caffe2 blobs may be overwritten (in-place ops such as
 *     Relu x -> x): the IR is SSA, so a blob defined again gets a fresh name
 *     (x, then x_1, x_2, ...) and later reads refer to the latest definition.
 *   - a RetinaNet net (argument meta_architecture "RetinaNet" and external outputs
 *     box_cls_0, box_delta_0, ...) gets detectron2's post-processing appended
 *     (caffe2_retinanet.c); its graph outputs are then bbox_nms, score_nms, class_nms
 *     and batch_splits_nms instead of the raw head outputs.
 *   - net-level arguments become graph metadata (size_divisibility, device,
 *     meta_architecture, ...), with "source_format" = "caffe2" and the net name; the
 *     net's device_option is recorded as "caffe2_device_type"; operators' device
 *     options and engines are ignored (d2rt decides placement itself).
 * Nested nets (If/While bodies in Argument.n) are parsed but not converted: such
 * operators are rejected by name. protobuf-c unpacks recursively without a depth
 * limit, so the nesting is checked on the wire first.
 */
#include "frontend/caffe2/caffe2.pb-c.h"
#include "frontend/caffe2/caffe2_internal.h"
#include "frontend/frontend.h"
#include "frontend/name_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C2_MAX_NET_DEPTH 16
#define C2_MAX_OP_IO 4096

/* ---- wire pre-check: NetDef.op(2) -> OperatorDef.arg(5) -> Argument.n(8)/nets(9) ---- */

enum wire_msg { WIRE_NET, WIRE_OP, WIRE_ARG };

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static enum d2_status walk(const uint8_t *p, const uint8_t *end, enum wire_msg kind, uint32_t depth,
                           const char *what, struct d2_error *err)
{
    while (p < end) {
        uint64_t key, len, skip;
        if (!read_varint(&p, end, &key))
            return d2_errorf(err, D2_ERR_PARSE, "%s is not a valid Caffe2 NetDef (truncated field key)", what);
        uint64_t field = key >> 3;
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, end, &skip))
                return d2_errorf(err, D2_ERR_PARSE, "%s is not a valid Caffe2 NetDef (truncated varint)", what);
            break;
        case 1:
            if (end - p < 8)
                return d2_errorf(err, D2_ERR_PARSE, "%s is not a valid Caffe2 NetDef (truncated fixed64)", what);
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return d2_errorf(err, D2_ERR_PARSE, "%s is not a valid Caffe2 NetDef (truncated fixed32)", what);
            p += 4;
            break;
        case 2: {
            if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return d2_errorf(err, D2_ERR_PARSE, "%s is not a valid Caffe2 NetDef (field length past the end)",
                                 what);
            enum wire_msg child = kind;
            bool nested = (kind == WIRE_NET && field == 2 && (child = WIRE_OP, true)) ||
                          (kind == WIRE_OP && field == 5 && (child = WIRE_ARG, true)) ||
                          (kind == WIRE_ARG && (field == 8 || field == 9) && (child = WIRE_NET, true));
            if (nested) {
                uint32_t d = depth + (child == WIRE_NET ? 1u : 0u);
                if (d > C2_MAX_NET_DEPTH)
                    return d2_errorf(err, D2_ERR_UNSUPPORTED, "%s nests nets more than %d deep", what,
                                     C2_MAX_NET_DEPTH);
                enum d2_status st = walk(p, p + len, child, d, what, err);
                if (st != D2_OK)
                    return st;
            }
            p += len;
            break;
        }
        default:
            return d2_errorf(err, D2_ERR_PARSE, "%s is not a valid Caffe2 NetDef (wire type %u)", what,
                             (unsigned)(key & 7));
        }
    }
    return D2_OK;
}

static void *pb_alloc(void *user, size_t size)
{
    return d2_alloc(user, size ? size : 1);
}

static void pb_free(void *user, void *ptr)
{
    d2_free(user, ptr);
}

static D2rtCaffe2__NetDef *unpack_net(const void *data, size_t size, const struct d2_allocator *alloc,
                                      ProtobufCAllocator *pba, const char *what, struct d2_error *err)
{
    pba->alloc = pb_alloc;
    pba->free = pb_free;
    pba->allocator_data = (void *)alloc;
    if (walk(data, (const uint8_t *)data + size, WIRE_NET, 0, what, err) != D2_OK)
        return NULL;
    D2rtCaffe2__NetDef *net = d2rt_caffe2__net_def__unpack(pba, size, data);
    if (!net)
        d2_errorf(err, D2_ERR_PARSE, "%s is not a valid Caffe2 NetDef (protobuf decoding of %zu bytes failed)", what,
                  size);
    return net;
}

/* ---- blob name -> current value (frontend/name_map.h; keys borrowed from the nets) ---- */

#define BLOB_NOT_COMPUTED 0xFFFFFFFFFFFFull /* an output d2rt does not compute (high bits: op index) */

/* ---- importer state ---- */

struct importer {
    const struct d2_allocator *alloc;
    struct d2_error *err;
    struct d2_graph *g;
    struct d2_name_map blobs;   /* blob -> value id, or BLOB_NOT_COMPUTED | op index << 48 */
    struct d2_name_map names;   /* every value name handed out (keys in the graph arena) */
    struct c2_roi_images roi_images;
};

/* A value name for blob `blob` that no value has yet: blob, blob_1, blob_2, ... */
static const char *fresh_name(struct importer *im, const char *blob)
{
    char buf[512];
    uint64_t unused;
    const char *name = blob;
    for (uint32_t k = 1; d2_name_map_get(&im->names, name, &unused) || d2_graph_find_value(im->g, name) != D2_NO_VALUE; k++) {
        snprintf(buf, sizeof buf, "%.480s_%u", blob, k);
        name = buf;
    }
    const char *interned = d2_graph_intern(im->g, name);
    if (!interned || !d2_name_map_put(&im->names, interned, 1)) {
        d2_errorf(im->err, D2_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return interned;
}

static enum d2_status bind(struct importer *im, const char *blob, uint64_t v)
{
    const char *key = d2_graph_intern(im->g, blob);
    if (!key || !d2_name_map_put(&im->blobs, key, v))
        return d2_errorf(im->err, D2_ERR_NOMEM, "out of memory");
    return D2_OK;
}

/* ---- arguments ---- */

static void arg_from_proto(const D2rtCaffe2__Argument *p, struct c2_arg *a)
{
    memset(a, 0, sizeof *a);
    a->name = p->name ? p->name : "";
    if (p->has_f) {
        a->kind = C2_ARG_FLOAT;
        a->f = p->f;
    } else if (p->has_i) {
        a->kind = C2_ARG_INT;
        a->i = p->i;
    } else if (p->has_s) {
        a->kind = C2_ARG_STRING;
        a->s = p->s;
    } else if (p->n_floats) {
        a->kind = C2_ARG_FLOATS;
        a->floats = p->floats;
        a->count = p->n_floats;
    } else if (p->n_ints) {
        a->kind = C2_ARG_INTS;
        a->ints = p->ints;
        a->count = p->n_ints;
    } else if (p->n_strings) {
        a->kind = C2_ARG_STRINGS;
        a->strings = p->strings;
        a->count = p->n_strings;
    } else if (p->n || p->n_nets || p->t || p->n_tensors) {
        a->kind = C2_ARG_OTHER;
    } else {
        a->kind = C2_ARG_EMPTY;
    }
}

/* Describe operator #index of a net for messages. */
static void describe_op(char *buf, size_t size, const char *net, uint32_t index, const D2rtCaffe2__OperatorDef *op)
{
    const char *type = op->type ? op->type : "?";
    if (op->name && *op->name)
        snprintf(buf, size, "%s op #%u '%.200s' (%.100s)", net, index, op->name, type);
    else if (op->n_output && op->output[0])
        snprintf(buf, size, "%s op #%u (%.100s, output '%.200s')", net, index, type, op->output[0]);
    else
        snprintf(buf, size, "%s op #%u (%.100s)", net, index, type);
}

/* ---- fills -> constants ---- */

static bool is_fill(const char *type)
{
    static const char *const fills[] = {
        "GivenTensorFill", "GivenTensorDoubleFill", "GivenTensorIntFill", "GivenTensorInt64Fill",
        "GivenTensorInt16Fill", "GivenTensorBoolFill", "GivenTensorStringFill", "GivenTensorByteStringToUInt8Fill",
        "ConstantFill",
    };
    for (size_t i = 0; type && i < sizeof fills / sizeof fills[0]; i++)
        if (strcmp(type, fills[i]) == 0)
            return true;
    return false;
}

/* Decode a fill operator (no inputs) into a tensor. */
static enum d2_status fill_tensor(struct c2_op_ctx *ctx, struct d2_tensor *t)
{
    int64_t shape[D2_MAX_RANK];
    uint32_t rank;
    const char *type = ctx->type;
    const struct c2_arg *values = c2_arg(ctx, "values");
    enum d2_dtype dtype = D2_DTYPE_F32;
    C2_TRY(c2_arg_ints(ctx, "shape", shape, D2_MAX_RANK, &rank));
    for (uint32_t i = 0; i < rank; i++)
        if (shape[i] < 0)
            return c2_error(ctx, D2_ERR_PARSE, "negative dim %lld in 'shape'", (long long)shape[i]);

    if (strcmp(type, "ConstantFill") == 0) {
        int64_t dt_num;
        double value;
        C2_TRY(c2_arg_int(ctx, "dtype", 1, &dt_num));
        if (!d2_caffe2_dtype(dt_num, &dtype))
            return c2_error(ctx, D2_ERR_UNSUPPORTED, "dtype %lld is not supported", (long long)dt_num);
        C2_TRY(c2_arg_float(ctx, "value", 0.0, &value));
        if (d2_dims_numel((int32_t)rank, shape) < 0)
            return c2_error(ctx, D2_ERR_PARSE, "'shape' is too large");
        C2_TRY(d2_tensor_alloc(t, ctx->g->alloc, dtype, (int32_t)rank, shape, ctx->err));
        for (int64_t i = 0; i < d2_tensor_numel(t); i++)
            d2_store_f64(t->data, dtype, (size_t)i, value);
        return D2_OK;
    }
    if (!values)
        return c2_error(ctx, D2_ERR_PARSE, "argument 'values' is missing");

    if (strcmp(type, "GivenTensorStringFill") == 0 || strcmp(type, "GivenTensorByteStringToUInt8Fill") == 0) {
        /* d2rt has no string dtype: detectron2 stores a uint8 tensor as one string of
         * raw bytes (shape [1]); ByteStringToUInt8 gives the real shape. */
        if (values->kind != C2_ARG_STRINGS || values->count != 1)
            return c2_error(ctx, D2_ERR_UNSUPPORTED, "string tensors are not supported (only one byte string, read as uint8)");
        int64_t len = (int64_t)values->strings[0].len;
        bool shaped = strcmp(type, "GivenTensorByteStringToUInt8Fill") == 0 && rank > 0;
        if (shaped && d2_dims_numel((int32_t)rank, shape) != len)
            return c2_error(ctx, D2_ERR_PARSE, "'shape' has %lld elements but the byte string has %lld",
                            (long long)d2_dims_numel((int32_t)rank, shape), (long long)len);
        C2_TRY(d2_tensor_alloc(t, ctx->g->alloc, D2_DTYPE_U8, shaped ? (int32_t)rank : 1, shaped ? shape : &len,
                               ctx->err));
        if (len)
            memcpy(t->data, values->strings[0].data, (size_t)len);
        return D2_OK;
    }

    bool from_floats = true;
    if (strcmp(type, "GivenTensorDoubleFill") == 0)
        dtype = D2_DTYPE_F64;
    else if (strcmp(type, "GivenTensorIntFill") == 0)
        dtype = D2_DTYPE_I32, from_floats = false;
    else if (strcmp(type, "GivenTensorInt64Fill") == 0)
        dtype = D2_DTYPE_I64, from_floats = false;
    else if (strcmp(type, "GivenTensorInt16Fill") == 0)
        dtype = D2_DTYPE_I16, from_floats = false;
    else if (strcmp(type, "GivenTensorBoolFill") == 0)
        dtype = D2_DTYPE_BOOL, from_floats = false;
    size_t count = values->kind == C2_ARG_EMPTY ? 0 : values->count;
    if (values->kind != C2_ARG_EMPTY && values->kind != (from_floats ? C2_ARG_FLOATS : C2_ARG_INTS) &&
        !(values->kind == (from_floats ? C2_ARG_FLOAT : C2_ARG_INT)))
        return c2_error(ctx, D2_ERR_PARSE, "argument 'values' should be a list of %s", from_floats ? "floats" : "ints");
    if (values->kind == C2_ARG_FLOAT || values->kind == C2_ARG_INT)
        count = 1;
    int64_t n = (int64_t)count;
    if (!c2_arg(ctx, "shape")) {
        shape[0] = n;
        rank = 1;
    }
    if (d2_dims_numel((int32_t)rank, shape) != n)
        return c2_error(ctx, D2_ERR_PARSE, "'shape' has %lld elements but 'values' has %lld",
                        (long long)d2_dims_numel((int32_t)rank, shape), (long long)n);
    C2_TRY(d2_tensor_alloc(t, ctx->g->alloc, dtype, (int32_t)rank, shape, ctx->err));
    for (size_t i = 0; i < count; i++) {
        if (from_floats)
            d2_store_f64(t->data, dtype, i, values->kind == C2_ARG_FLOAT ? values->f : (double)values->floats[i]);
        else
            d2_store_i64(t->data, dtype, i, values->kind == C2_ARG_INT ? values->i : values->ints[i]);
    }
    return D2_OK;
}

/* Build the neutral operator context for op (args array allocated with alloc). */
static enum d2_status op_args(struct importer *im, const D2rtCaffe2__OperatorDef *op, struct c2_arg **args)
{
    *args = d2_calloc(im->alloc, op->n_arg + 1, sizeof **args);
    if (!*args)
        return d2_errorf(im->err, D2_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < op->n_arg; i++)
        arg_from_proto(op->arg[i], &(*args)[i]);
    return D2_OK;
}

/* A fill operator without inputs: its single output becomes a constant. */
static enum d2_status import_fill(struct importer *im, const D2rtCaffe2__OperatorDef *op, const char *where)
{
    struct c2_arg *args;
    struct d2_tensor t;
    struct c2_op_ctx ctx;
    enum d2_status st;
    if (op->n_output != 1 || !op->output[0] || !*op->output[0])
        return d2_errorf(im->err, D2_ERR_PARSE, "%s: a fill must have exactly one named output", where);
    C2_TRY(op_args(im, op, &args));
    memset(&ctx, 0, sizeof ctx);
    ctx.g = im->g;
    ctx.err = im->err;
    ctx.where = where;
    ctx.type = op->type;
    ctx.num_args = (uint32_t)op->n_arg;
    ctx.args = args;
    st = fill_tensor(&ctx, &t);
    d2_free(im->alloc, args);
    if (st != D2_OK)
        return st;
    const char *name = fresh_name(im, op->output[0]);
    if (!name) {
        d2_tensor_release(&t, im->g->alloc);
        return D2_ERR_NOMEM;
    }
    d2_value_id v = d2_graph_add_constant(im->g, name, &t, im->err);
    if (v == D2_NO_VALUE)
        return im->err->code;
    return bind(im, op->output[0], v);
}

static enum d2_status import_init_net(struct importer *im, const D2rtCaffe2__NetDef *init)
{
    char where[512];
    for (size_t i = 0; i < init->n_op; i++) {
        const D2rtCaffe2__OperatorDef *op = init->op[i];
        describe_op(where, sizeof where, "init_net", (uint32_t)i, op);
        if (!is_fill(op->type) || op->n_input)
            return d2_errorf(im->err, D2_ERR_UNSUPPORTED,
                             "%s: init_net operators must be fills without inputs (GivenTensor*Fill, ConstantFill)", where);
        C2_TRY(import_fill(im, op, where));
    }
    return D2_OK;
}

/* ---- the predict net ---- */

static enum d2_status add_graph_inputs(struct importer *im, const D2rtCaffe2__NetDef *net)
{
    for (size_t i = 0; i < net->n_external_input; i++) {
        const char *blob = net->external_input[i];
        uint64_t v;
        bool read = false;
        if (!blob || !*blob)
            return d2_errorf(im->err, D2_ERR_PARSE, "predict_net external_input %zu has no name", i);
        if (d2_name_map_get(&im->blobs, blob, &v))
            continue; /* filled by the init net: a constant */
        for (size_t o = 0; o < net->n_op && !read; o++)
            for (size_t k = 0; k < net->op[o]->n_input && !read; k++)
                read = net->op[o]->input[k] && strcmp(net->op[o]->input[k], blob) == 0;
        for (size_t o = 0; o < net->n_external_output && !read; o++)
            read = net->external_output[o] && strcmp(net->external_output[o], blob) == 0;
        if (!read)
            continue; /* leftover (e.g. a training queue blob): nothing to feed */
        struct d2_type t;
        d2_type_init_unknown(&t);
        if (strcmp(blob, "data") == 0) {
            int64_t dims[4] = { D2_DIM_UNKNOWN, 3, D2_DIM_UNKNOWN, D2_DIM_UNKNOWN };
            d2_type_init(&t, D2_DTYPE_F32, 4, dims);
            t.symbols[0] = "batch";
            t.symbols[2] = "height";
            t.symbols[3] = "width";
        } else if (strcmp(blob, "im_info") == 0) {
            int64_t dims[2] = { D2_DIM_UNKNOWN, 3 };
            d2_type_init(&t, D2_DTYPE_F32, 2, dims);
            t.symbols[0] = "batch";
        }
        const char *name = fresh_name(im, blob);
        if (!name)
            return D2_ERR_NOMEM;
        d2_value_id id = d2_graph_add_input(im->g, name, &t, im->err);
        if (id == D2_NO_VALUE)
            return im->err->code;
        C2_TRY(bind(im, blob, id));
    }
    return D2_OK;
}

static enum d2_status import_op(struct importer *im, const D2rtCaffe2__OperatorDef *op, uint32_t index)
{
    char where[512];
    struct c2_op_ctx ctx;
    struct c2_arg *args = NULL;
    d2_value_id *inputs = NULL, *outputs = NULL;
    const char **names = NULL;
    enum d2_status st = D2_OK;

    describe_op(where, sizeof where, "Caffe2", index, op);
    if (!op->type || !*op->type)
        return d2_errorf(im->err, D2_ERR_PARSE, "%s: operator has no type", where);
    if (op->n_input > C2_MAX_OP_IO || op->n_output > C2_MAX_OP_IO)
        return d2_errorf(im->err, D2_ERR_UNSUPPORTED, "%s: too many inputs or outputs", where);
    for (size_t i = 0; i < op->n_output; i++)
        if (!op->output[i] || !*op->output[i])
            return d2_errorf(im->err, D2_ERR_PARSE, "%s: output %zu has no name", where, i);
    if (op->n_input == 0 && is_fill(op->type))
        return import_fill(im, op, where);

    inputs = d2_calloc(im->alloc, op->n_input + 1, sizeof *inputs);
    outputs = d2_calloc(im->alloc, op->n_output + 1, sizeof *outputs);
    names = d2_calloc(im->alloc, op->n_output + 1, sizeof *names);
    if (!inputs || !outputs || !names) {
        st = d2_errorf(im->err, D2_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < op->n_input; i++) {
        uint64_t v;
        const char *blob = op->input[i] ? op->input[i] : "";
        if (!d2_name_map_get(&im->blobs, blob, &v)) {
            st = d2_errorf(im->err, D2_ERR_PARSE,
                           "%s: input %zu '%s' is not defined (no external input, init_net blob or earlier output)",
                           where, i, blob);
            goto done;
        }
        if ((v & BLOB_NOT_COMPUTED) == BLOB_NOT_COMPUTED) {
            st = d2_errorf(im->err, D2_ERR_UNSUPPORTED,
                           "%s: input %zu '%s' is an output of Caffe2 op #%llu that d2rt does not compute", where, i,
                           blob, (unsigned long long)(v >> 48));
            goto done;
        }
        inputs[i] = (d2_value_id)v;
    }
    for (size_t i = 0; i < op->n_output; i++)
        if (!(names[i] = fresh_name(im, op->output[i]))) {
            st = D2_ERR_NOMEM;
            goto done;
        }
    if ((st = op_args(im, op, &args)) != D2_OK)
        goto done;
    memset(&ctx, 0, sizeof ctx);
    ctx.g = im->g;
    ctx.err = im->err;
    ctx.where = where;
    ctx.type = op->type;
    ctx.node_name = op->name ? op->name : "";
    ctx.num_args = (uint32_t)op->n_arg;
    ctx.args = args;
    ctx.num_inputs = (uint32_t)op->n_input;
    ctx.inputs = inputs;
    ctx.num_outputs = (uint32_t)op->n_output;
    ctx.output_names = names;
    ctx.outputs = outputs;
    ctx.roi_images = &im->roi_images;
    if ((st = d2_caffe2_map_op(&ctx)) != D2_OK)
        goto done;
    for (size_t i = 0; i < op->n_output; i++) {
        uint64_t v = outputs[i] == D2_NO_VALUE ? BLOB_NOT_COMPUTED | ((uint64_t)index << 48) : outputs[i];
        if ((st = bind(im, op->output[i], v)) != D2_OK)
            goto done;
    }
done:
    d2_free(im->alloc, args);
    d2_free(im->alloc, inputs);
    d2_free(im->alloc, outputs);
    d2_free(im->alloc, (void *)names);
    return st;
}

static enum d2_status add_graph_outputs(struct importer *im, const D2rtCaffe2__NetDef *net)
{
    for (size_t i = 0; i < net->n_external_output; i++) {
        const char *blob = net->external_output[i] ? net->external_output[i] : "";
        uint64_t v;
        if (!d2_name_map_get(&im->blobs, blob, &v))
            return d2_errorf(im->err, D2_ERR_PARSE, "external output '%s' is not produced by any operator", blob);
        if ((v & BLOB_NOT_COMPUTED) == BLOB_NOT_COMPUTED)
            return d2_errorf(im->err, D2_ERR_UNSUPPORTED,
                             "external output '%s' comes from Caffe2 op #%llu, which d2rt does not compute", blob,
                             (unsigned long long)(v >> 48));
        d2_value_id id = (d2_value_id)v;
        /* An output that is an aliased input or constant (Copy/AliasWithName dropped)
         * still gets a value of its own, named like the blob when possible. */
        if (im->g->values[id].producer < 0 && im->g->values[id].input_index < 0 && im->g->values[id].constant < 0)
            return d2_errorf(im->err, D2_ERR_INTERNAL, "external output '%s' has no producer", blob);
        if (strcmp(im->g->values[id].name, blob) != 0 && d2_graph_find_value(im->g, blob) == D2_NO_VALUE) {
            const char *name = fresh_name(im, blob);
            if (!name)
                return D2_ERR_NOMEM;
            int32_t node = d2_graph_add_node(im->g, D2_OP_IDENTITY, "", 1, &id, 1, &name, im->err);
            if (node < 0)
                return im->err->code;
            id = d2_node_output(im->g, node, 0);
        }
        C2_TRY(d2_graph_add_output(im->g, id, im->err));
    }
    return D2_OK;
}

static bool is_external_output(const D2rtCaffe2__NetDef *net, const char *blob)
{
    for (size_t i = 0; i < net->n_external_output; i++)
        if (net->external_output[i] && strcmp(net->external_output[i], blob) == 0)
            return true;
    return false;
}

/* BoxWithNMSLimit's batch_splits as an extra output (see the header). */
static enum d2_status add_batch_splits_output(struct importer *im, const D2rtCaffe2__NetDef *net)
{
    for (size_t i = 0; i < net->n_op; i++) {
        const D2rtCaffe2__OperatorDef *op = net->op[i];
        uint64_t v;
        char index[16];
        if (!op->type || strcmp(op->type, "BoxWithNMSLimit") != 0 || op->n_output < 4 || !op->output[0] ||
            !op->output[3] || !is_external_output(net, op->output[0]) || is_external_output(net, op->output[3]))
            continue;
        if (!d2_name_map_get(&im->blobs, op->output[3], &v) || (v & BLOB_NOT_COMPUTED) == BLOB_NOT_COMPUTED)
            return D2_OK;
        d2_value_id id = (d2_value_id)v;
        const char *name = fresh_name(im, "batch_splits_nms");
        if (!name)
            return D2_ERR_NOMEM;
        int32_t node = d2_graph_add_node(im->g, D2_OP_IDENTITY, "", 1, &id, 1, &name, im->err);
        if (node < 0)
            return im->err->code;
        snprintf(index, sizeof index, "%u", im->g->num_outputs);
        C2_TRY(d2_graph_add_output(im->g, d2_node_output(im->g, node, 0), im->err));
        return d2_graph_set_metadata(im->g, "caffe2_batch_splits_output", index, im->err);
    }
    return D2_OK;
}

static const D2rtCaffe2__Argument *net_arg(const D2rtCaffe2__NetDef *net, const char *name)
{
    for (size_t i = 0; i < net->n_arg; i++)
        if (net->arg[i]->name && strcmp(net->arg[i]->name, name) == 0)
            return net->arg[i];
    return NULL;
}

/* RetinaNet: post-processing appended, detections as the graph outputs (see the
 * header). *handled is false when the net is not one. */
static enum d2_status add_retinanet_outputs(struct importer *im, const D2rtCaffe2__NetDef *net, bool *handled)
{
    const D2rtCaffe2__Argument *arch = net_arg(net, "meta_architecture");
    d2_value_id inputs[1 + 2 * 8];
    uint32_t n = 1;
    uint64_t v;
    *handled = false;
    if (!arch || !arch->has_s || arch->s.len != 9 || memcmp(arch->s.data, "RetinaNet", 9) != 0)
        return D2_OK;
    for (uint32_t level = 0; level < 8; level++) {
        char cls[32], delta[32];
        uint64_t vc, vd;
        snprintf(cls, sizeof cls, "box_cls_%u", level);
        snprintf(delta, sizeof delta, "box_delta_%u", level);
        if (!is_external_output(net, cls) || !is_external_output(net, delta) || !d2_name_map_get(&im->blobs, cls, &vc) ||
            !d2_name_map_get(&im->blobs, delta, &vd) || (vc & BLOB_NOT_COMPUTED) == BLOB_NOT_COMPUTED ||
            (vd & BLOB_NOT_COMPUTED) == BLOB_NOT_COMPUTED)
            break;
        inputs[n++] = (d2_value_id)vc;
        inputs[n++] = (d2_value_id)vd;
    }
    if (n == 1)
        return D2_OK; /* not the caffe2_tracing RetinaNet outputs: leave the net as it is */
    if (!d2_name_map_get(&im->blobs, "im_info", &v) || (v & BLOB_NOT_COMPUTED) == BLOB_NOT_COMPUTED)
        return d2_errorf(im->err, D2_ERR_PARSE, "RetinaNet net has no im_info input");
    inputs[0] = (d2_value_id)v;

    static const char *const blobs[4] = { "bbox_nms", "score_nms", "class_nms", "batch_splits_nms" };
    const char *names[4];
    d2_value_id outputs[4];
    struct c2_arg *args = d2_calloc(im->alloc, net->n_arg + 1, sizeof *args);
    if (!args)
        return d2_errorf(im->err, D2_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < net->n_arg; i++)
        arg_from_proto(net->arg[i], &args[i]);
    for (int i = 0; i < 4; i++)
        if (!(names[i] = fresh_name(im, blobs[i]))) {
            d2_free(im->alloc, args);
            return D2_ERR_NOMEM;
        }
    struct c2_op_ctx ctx = {
        .g = im->g, .err = im->err, .where = "Caffe2 RetinaNet post-processing", .type = "RetinaNet",
        .node_name = "retinanet_postprocess", .num_args = (uint32_t)net->n_arg, .args = args, .num_inputs = n,
        .inputs = inputs, .num_outputs = 4, .output_names = names, .outputs = outputs,
        .first_node = im->g->num_nodes,
    };
    enum d2_status st = c2_retinanet_postprocess(&ctx);
    if (st == D2_OK)
        st = c2_infer_pending(&ctx);
    d2_free(im->alloc, args);
    for (int i = 0; st == D2_OK && i < 4; i++)
        st = d2_graph_add_output(im->g, outputs[i], im->err);
    if (st == D2_OK)
        st = d2_graph_set_metadata(im->g, "caffe2_batch_splits_output", "3", im->err);
    *handled = st == D2_OK;
    return st;
}

static enum d2_status set_metadata(struct importer *im, const D2rtCaffe2__NetDef *net)
{
    char buf[256];
    C2_TRY(d2_graph_set_metadata(im->g, "source_format", "caffe2", im->err));
    if (net->name && *net->name)
        C2_TRY(d2_graph_set_metadata(im->g, "caffe2_net_name", net->name, im->err));
    if (net->device_option && net->device_option->has_device_type) {
        snprintf(buf, sizeof buf, "%d", (int)net->device_option->device_type);
        C2_TRY(d2_graph_set_metadata(im->g, "caffe2_device_type", buf, im->err));
    }
    for (size_t i = 0; i < net->n_arg; i++) {
        const D2rtCaffe2__Argument *a = net->arg[i];
        if (!a->name || !*a->name || d2_graph_get_metadata(im->g, a->name))
            continue; /* d2rt's own keys win */
        if (a->has_s) {
            char *s = d2_alloc(im->alloc, a->s.len + 1);
            if (!s)
                return d2_errorf(im->err, D2_ERR_NOMEM, "out of memory");
            if (a->s.len)
                memcpy(s, a->s.data, a->s.len);
            s[a->s.len] = '\0';
            enum d2_status st = d2_graph_set_metadata(im->g, a->name, s, im->err);
            d2_free(im->alloc, s);
            C2_TRY(st);
            continue;
        }
        if (a->has_i)
            snprintf(buf, sizeof buf, "%lld", (long long)a->i);
        else if (a->has_f)
            snprintf(buf, sizeof buf, "%.9g", (double)a->f);
        else
            continue; /* lists and nested nets are not metadata */
        C2_TRY(d2_graph_set_metadata(im->g, a->name, buf, im->err));
    }
    return D2_OK;
}

struct d2_graph *d2_caffe2_import_buffers(const void *predict, size_t predict_size, const void *init,
                                          size_t init_size, const struct d2_allocator *alloc, struct d2_error *err)
{
    ProtobufCAllocator pba_predict, pba_init;
    D2rtCaffe2__NetDef *net = NULL, *init_net = NULL;
    struct importer im;
    enum d2_status st = D2_OK;

    if (!alloc)
        alloc = d2_allocator_default();
    if ((!predict && predict_size) || (!init && init_size)) {
        d2_errorf(err, D2_ERR_INVALID_ARG, "d2_caffe2_import_buffers: NULL data");
        return NULL;
    }
    memset(&im, 0, sizeof im);
    im.alloc = alloc;
    im.err = err;
    d2_name_map_init(&im.blobs, alloc);
    d2_name_map_init(&im.names, alloc);
    net = unpack_net(predict, predict_size, alloc, &pba_predict, "predict_net", err);
    if (!net)
        return NULL;
    if (init) {
        init_net = unpack_net(init, init_size, alloc, &pba_init, "init_net", err);
        if (!init_net)
            goto done;
    }
    im.g = d2_graph_new(alloc, err);
    if (!im.g)
        goto done;
    if (init_net)
        st = import_init_net(&im, init_net);
    if (st == D2_OK)
        st = add_graph_inputs(&im, net);
    for (size_t i = 0; st == D2_OK && i < net->n_op; i++)
        st = import_op(&im, net->op[i], (uint32_t)i);
    bool retinanet = false;
    if (st == D2_OK)
        st = add_retinanet_outputs(&im, net, &retinanet);
    if (st == D2_OK && !retinanet)
        st = add_graph_outputs(&im, net);
    if (st == D2_OK && !retinanet)
        st = add_batch_splits_output(&im, net);
    if (st == D2_OK)
        st = set_metadata(&im, net);
    if (st == D2_OK)
        st = d2_infer_graph(im.g, err);
    if (st != D2_OK) {
        d2_graph_free(im.g);
        im.g = NULL;
    }
done:
    d2_name_map_free(&im.blobs);
    d2_name_map_free(&im.names);
    if (init_net)
        d2rt_caffe2__net_def__free_unpacked(init_net, &pba_init);
    d2rt_caffe2__net_def__free_unpacked(net, &pba_predict);
    return im.g;
}

static void *read_all(const char *path, const struct d2_allocator *alloc, size_t *size, const char *what,
                      struct d2_error *err)
{
    FILE *f = fopen(path, "rb");
    long len;
    void *data;
    if (!f) {
        d2_errorf(err, D2_ERR_IO, "cannot open Caffe2 %s '%s'", what, path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        d2_errorf(err, D2_ERR_IO, "cannot read Caffe2 %s '%s'", what, path);
        return NULL;
    }
    data = d2_alloc(alloc, (size_t)len + 1);
    if (!data) {
        d2_errorf(err, D2_ERR_NOMEM, "out of memory reading '%s' (%ld bytes)", path, len);
    } else if (fread(data, 1, (size_t)len, f) != (size_t)len) {
        d2_errorf(err, D2_ERR_IO, "short read on Caffe2 %s '%s'", what, path);
        d2_free(alloc, data);
        data = NULL;
    }
    fclose(f);
    *size = (size_t)len;
    return data;
}

struct d2_graph *d2_caffe2_import_files(const char *predict_path, const char *init_path,
                                        const struct d2_allocator *alloc, struct d2_error *err)
{
    size_t predict_size = 0, init_size = 0;
    void *predict, *init = NULL;
    struct d2_graph *g = NULL;
    if (!alloc)
        alloc = d2_allocator_default();
    predict = read_all(predict_path, alloc, &predict_size, "predict_net", err);
    if (!predict)
        return NULL;
    if (init_path && !(init = read_all(init_path, alloc, &init_size, "init_net", err))) {
        d2_free(alloc, predict);
        return NULL;
    }
    g = d2_caffe2_import_buffers(predict, predict_size, init, init_size, alloc, err);
    if (!g)
        d2_error_prefix(err, "%s: ", predict_path);
    d2_free(alloc, predict);
    d2_free(alloc, init);
    return g;
}
