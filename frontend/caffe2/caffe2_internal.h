/* frontend/caffe2/caffe2_internal.h: what the Caffe2 operator mapping files share.
 *
 *   caffe2_util.c        arguments, errors, emitting IR nodes and constants
 *   caffe2_ops.c         the operator table; elementwise, NN and tensor operators
 *   caffe2_ops_detect.c  detection operators (GenerateProposals ... BoxWithNMSLimit)
 *   caffe2_retinanet.c   detectron2 RetinaNet post-processing appended to its NetDef
 *   caffe2_import.c      NetDef files -> graph (init_net fills, SSA names, I/O)
 *
 * Emitting: c2_node appends a node whose outputs get generated names; c2_node_named
 * names them after the Caffe2 outputs. Types are inferred for all nodes of an
 * operator at once, after its converter returns (d2_caffe2_map_op); a converter that
 * needs the type of a value it created itself calls c2_infer_pending first.
 */
#ifndef D2_FRONTEND_CAFFE2_INTERNAL_H
#define D2_FRONTEND_CAFFE2_INTERNAL_H

#include "frontend/caffe2/caffe2_ops.h"

#define C2_TRY(expr)                              \
    do {                                          \
        enum d2_status st_ = (expr);              \
        if (st_ != D2_OK)                         \
            return st_;                           \
    } while (0)

/* A value id that must not be D2_NO_VALUE (an emit failure has set the error). */
#define C2_CHECK(ctx, v)                          \
    do {                                          \
        if ((v) == D2_NO_VALUE)                   \
            return (ctx)->err->code ? (ctx)->err->code : D2_ERR_INTERNAL; \
    } while (0)

/* ---- errors and arguments (caffe2_util.c) ---- */
enum d2_status c2_error(struct c2_op_ctx *ctx, enum d2_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const struct c2_arg *c2_arg(const struct c2_op_ctx *ctx, const char *name);
/* Absent -> def; present with another kind -> D2_ERR_PARSE naming the argument. */
enum d2_status c2_arg_int(struct c2_op_ctx *ctx, const char *name, int64_t def, int64_t *out);
enum d2_status c2_arg_float(struct c2_op_ctx *ctx, const char *name, double def, double *out);
/* String argument copied into the graph arena; def when absent. */
enum d2_status c2_arg_string(struct c2_op_ctx *ctx, const char *name, const char *def, const char **out);
/* A list of ints (an INT is a list of one); *count 0 when absent. At most `cap`. */
enum d2_status c2_arg_ints(struct c2_op_ctx *ctx, const char *name, int64_t *out, uint32_t cap, uint32_t *count);
enum d2_status c2_arg_floats(struct c2_op_ctx *ctx, const char *name, double *out, uint32_t cap, uint32_t *count);
/* Reject arguments whose value would change the result in a way d2rt does not
 * implement: `name` present with an int value other than `allowed`. */
enum d2_status c2_arg_require(struct c2_op_ctx *ctx, const char *name, int64_t allowed, int64_t def);
/* Only NCHW layout is supported ("order" argument). */
enum d2_status c2_require_nchw(struct c2_op_ctx *ctx);
/* Input/output count check against the operator's schema. */
enum d2_status c2_check_arity(struct c2_op_ctx *ctx, uint32_t min_in, uint32_t max_in, uint32_t min_out,
                              uint32_t max_out);

/* ---- emitting (caffe2_util.c) ---- */
/* Node with num_outputs outputs named by `names` (NULL: generated). Returns the node
 * index or -1 (err set). *attrs_out (may be NULL) receives the attribute struct. */
int32_t c2_emit(struct c2_op_ctx *ctx, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                uint32_t num_outputs, const char *const *names, void **attrs_out);
/* One-output node with a generated output name. */
d2_value_id c2_node(struct c2_op_ctx *ctx, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                    void **attrs_out);
/* One-output node whose output is Caffe2 output `slot` (named, sets ctx->outputs[slot]). */
d2_value_id c2_node_named(struct c2_op_ctx *ctx, uint32_t slot, enum d2_op op, uint32_t num_inputs,
                          const d2_value_id *inputs, void **attrs_out);
/* The output of an identity node that is Caffe2 output `slot`. */
d2_value_id c2_identity_named(struct c2_op_ctx *ctx, uint32_t slot, d2_value_id x);
/* Infer the types of the nodes added so far by this operator. */
enum d2_status c2_infer_pending(struct c2_op_ctx *ctx);

/* Constants (generated names). */
d2_value_id c2_const_i64(struct c2_op_ctx *ctx, const int64_t *vals, uint32_t count);   /* 1-D */
d2_value_id c2_const_i64_scalar(struct c2_op_ctx *ctx, int64_t v);
d2_value_id c2_const_f32(struct c2_op_ctx *ctx, const float *vals, uint32_t count);     /* 1-D */
d2_value_id c2_const_scalar(struct c2_op_ctx *ctx, enum d2_dtype dtype, double v);

/* Small compositions. */
d2_value_id c2_cast(struct c2_op_ctx *ctx, d2_value_id x, enum d2_dtype to);
/* x[..., begin:end] along axis (end may be INT64_MAX). */
d2_value_id c2_slice(struct c2_op_ctx *ctx, d2_value_id x, int64_t axis, int64_t begin, int64_t end);
d2_value_id c2_reshape(struct c2_op_ctx *ctx, d2_value_id x, const int64_t *shape, uint32_t rank);
d2_value_id c2_gather(struct c2_op_ctx *ctx, d2_value_id x, d2_value_id indices, int64_t axis);
d2_value_id c2_binary(struct c2_op_ctx *ctx, enum d2_op op, d2_value_id a, d2_value_id b);
d2_value_id c2_unary(struct c2_op_ctx *ctx, enum d2_op op, d2_value_id x);
/* i64 [1] holding dim `axis` of x (static: a constant). */
d2_value_id c2_dim(struct c2_op_ctx *ctx, d2_value_id x, int64_t axis);

/* Known type of a value. */
static inline const struct d2_type *c2_type(const struct c2_op_ctx *ctx, d2_value_id v)
{
    return &ctx->g->values[v].type;
}

/* ---- converters ---- */
typedef enum d2_status (*c2_convert_fn)(struct c2_op_ctx *ctx);
/* Detection operators (caffe2_ops_detect.c); NULL when `type` is not one. */
c2_convert_fn c2_find_detect_op(const char *type);
/* Positions of the entries (scores [n], image [n] i64, num_images i64 scalar) to keep:
 * at most k per image, best scores first (ties: lower index), listed by image, then
 * descending score (caffe2_ops_detect.c). */
d2_value_id c2_per_image_top_k(struct c2_op_ctx *ctx, d2_value_id scores, d2_value_id image,
                               d2_value_id num_images, int64_t k);
/* detectron2 RetinaNet post-processing (caffe2_retinanet.c, contract there): inputs
 * im_info, box_cls_0, box_delta_0, ...; outputs bbox_nms, score_nms, class_nms,
 * batch_splits_nms; arguments: the predict net's. The caller infers types after it. */
enum d2_status c2_retinanet_postprocess(struct c2_op_ctx *ctx);

#endif
