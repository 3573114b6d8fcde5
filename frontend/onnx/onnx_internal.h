/* frontend/onnx/onnx_internal.h: what the ONNX importer's files share.
 *
 * The importer reads a ModelProto (protobuf-c, generated from onnx.proto) and builds a
 * d2rt graph:
 *   onnx_wire.c     pre-check of the protobuf nesting depth, protobuf-c allocator glue
 *   onnx_tensor.c   TensorProto -> d2_tensor (dtypes, raw/typed data, external files)
 *   onnx_import.c   model/graph level: scopes, names, inputs, initializers, outputs,
 *                   value_info, regions (If/Loop bodies with explicit captures)
 *   onnx_attr.c     typed access to a node's attributes, emit helpers, errors
 *   onnx_ops*.c     one converter per ONNX op type, lowering old opset forms to the IR
 *
 * Lifetimes: the protobuf message lives for the whole import; strings handed to the
 * graph are interned by the graph. Name maps key on the graph's interned names.
 */
#ifndef D2_FRONTEND_ONNX_INTERNAL_H
#define D2_FRONTEND_ONNX_INTERNAL_H

#include "frontend/frontend.h"
#include "frontend/name_map.h"
#include "frontend/onnx/onnx.pb-c.h"

/* Model opsets of the default domain the importer accepts. Versions above the last
 * one the mapping was checked against are read with the latest known semantics. */
#define ONNX_MIN_OPSET 1
#define ONNX_MAX_OPSET 28
/* How deeply If/Loop bodies may nest (also bounds the protobuf pre-check). */
#define ONNX_MAX_GRAPH_DEPTH 16

/* ---- name map: frontend/name_map.h (struct d2_name_map) ---- */

/* ---- importer state ---- */
struct onnx_importer {
    const struct d2_allocator *alloc;
    struct d2_error *err;
    const char *base_dir;   /* external data directory, or NULL */
    int64_t opset;          /* default-domain opset of the model */
    uint32_t depth;         /* current region nesting */
};

/* One graph being built: the main graph or a region. */
struct onnx_scope {
    struct onnx_importer *imp;
    struct d2_graph *g;
    const char *body_name;         /* NULL for the main graph, else the ONNX body's name */
    struct d2_name_map values;   /* ONNX name -> d2_value_id in g */
    struct d2_name_map declared; /* ONNX name -> const Onnx__ValueInfoProto * (value_info, outputs) */
};

/* One ONNX node being converted. */
#define ONNX_MAX_NODE_IO 4096
struct onnx_node_ctx {
    struct onnx_importer *imp;
    struct onnx_scope *scope;
    struct d2_graph *g;
    const Onnx__NodeProto *proto;
    uint32_t index;             /* position in its ONNX graph */
    int64_t opset;
    uint32_t num_inputs;        /* = proto->n_input */
    d2_value_id *inputs;        /* resolved; D2_NO_VALUE for "" */
    uint32_t num_outputs;       /* = proto->n_output */
    d2_value_id *outputs;       /* set by the converter: value of each ONNX output, or
                                   D2_NO_VALUE for an unused ("") output */
    int32_t main_node;          /* the IR node named like the ONNX node, or -1 */
    const struct onnx_op_entry *entry;
};

/* Converter of one op type: reads ctx->inputs and attributes, emits IR nodes, and
 * sets ctx->outputs. */
typedef enum d2_status (*onnx_convert_fn)(struct onnx_node_ctx *ctx);
struct onnx_op_entry {
    const char *op_type;
    onnx_convert_fn convert;
    enum d2_op op;      /* the IR op, for 1:1 converters */
    int since;          /* oldest opset whose form the converter handles */
};
/* NULL when the op type is not supported. */
const struct onnx_op_entry *onnx_find_op(const char *op_type);

/* ---- errors and attribute access (onnx_attr.c) ---- */
enum d2_status onnx_node_error(struct onnx_node_ctx *ctx, enum d2_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const Onnx__AttributeProto *onnx_attr(const struct onnx_node_ctx *ctx, const char *name);
/* Each getter: absent -> default (or found=false), wrong type -> D2_ERR_PARSE. */
enum d2_status onnx_attr_int(struct onnx_node_ctx *ctx, const char *name, int64_t def, int64_t *out);
enum d2_status onnx_attr_float(struct onnx_node_ctx *ctx, const char *name, double def, double *out);
/* *out points into the protobuf (valid for the import); *count 0 and *found false when absent. */
enum d2_status onnx_attr_ints(struct onnx_node_ctx *ctx, const char *name, const int64_t **out,
                              size_t *count, bool *found);
enum d2_status onnx_attr_floats(struct onnx_node_ctx *ctx, const char *name, const float **out,
                                size_t *count, bool *found);
/* String copied into the graph arena; def when absent. */
enum d2_status onnx_attr_string(struct onnx_node_ctx *ctx, const char *name, const char *def,
                                const char **out);
/* Copy an INTS attribute into an IR ints field (left empty when absent). */
enum d2_status onnx_attr_to_ints(struct onnx_node_ctx *ctx, const char *name, struct d2_ints *field);

/* ---- emitting IR (onnx_attr.c) ---- */
/* Add an IR node named like the ONNX node. Outputs are named after the ONNX outputs
 * when name_outputs (a "" ONNX output gets a generated name), else generated. Returns
 * the node index or -1 (err set). */
int32_t onnx_emit(struct onnx_node_ctx *ctx, enum d2_op op, uint32_t num_inputs,
                  const d2_value_id *inputs, uint32_t num_outputs, bool name_outputs);
/* Constant helpers: a new constant value with a generated name, or D2_NO_VALUE. */
d2_value_id onnx_const_i64(struct onnx_node_ctx *ctx, const int64_t *vals, uint32_t count, bool scalar);
d2_value_id onnx_const_scalar(struct onnx_node_ctx *ctx, enum d2_dtype dtype, double value);
/* A 1-D i64 constant from an INTS attribute; D2_NO_VALUE with *found false when absent. */
d2_value_id onnx_attr_as_i64_input(struct onnx_node_ctx *ctx, const char *name, bool *found);
/* Emit the node that produces the ONNX node's outputs: checks the input count against
 * the IR op (trailing omitted inputs dropped, required ones present), names outputs
 * after the ONNX outputs and sets ctx->outputs. Returns the attribute struct or NULL. */
void *onnx_emit_main(struct onnx_node_ctx *ctx, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                     uint32_t num_outputs);
/* Emit a helper node with one output (generated name); D2_NO_VALUE on failure. */
d2_value_id onnx_emit_aux(struct onnx_node_ctx *ctx, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                          void **attrs_out);
/* dtype of a value as currently known (UNDEFINED when not). */
enum d2_dtype onnx_value_dtype(const struct onnx_node_ctx *ctx, d2_value_id v);
/* Run shape inference on an IR node just emitted (so later nodes see its type). */
enum d2_status onnx_infer(struct onnx_node_ctx *ctx, int32_t node);

/* ---- converters living in onnx_ops_lower.c and onnx_ops_control.c ---- */
#define ONNX_CONVERTERS(X) \
    X(softmax_family) X(slice) X(split) X(squeeze) X(unsqueeze) X(reduce) X(pad) X(clip) X(topk) \
    X(resize) X(upsample) X(dropout) X(constant) X(if) X(loop) X(batch_norm) X(cast_like)
#define X(name) enum d2_status onnx_convert_##name(struct onnx_node_ctx *ctx);
ONNX_CONVERTERS(X)
#undef X

/* ---- Caffe2 operators in ONNX (onnx_caffe2.c) ---- */
#define ONNX_CAFFE2_DOMAIN "org.pytorch._caffe2"
/* Converts any node of ONNX_CAFFE2_DOMAIN through frontend/caffe2/caffe2_ops.h. */
enum d2_status onnx_convert_caffe2(struct onnx_node_ctx *ctx);
extern const struct onnx_op_entry onnx_caffe2_entry;

/* ---- tensors (onnx_tensor.c) ---- */
/* ONNX DataType number -> d2 dtype; false (with the type's name in *name) when d2rt
 * has no such dtype. */
bool onnx_dtype_to_d2(int32_t onnx_type, enum d2_dtype *out, const char **name);
/* Decode a TensorProto into a newly allocated tensor. what: for messages ("initializer 'w'"). */
enum d2_status onnx_tensor_decode(const Onnx__TensorProto *tp, const char *base_dir,
                                  const struct d2_allocator *alloc, struct d2_tensor *out,
                                  const char *what, struct d2_error *err);

/* ---- protobuf glue (onnx_wire.c) ---- */
/* Checks the If/Loop body nesting of a serialized ModelProto before protobuf-c
 * recurses into it (protobuf-c has no depth limit). */
enum d2_status onnx_wire_check_model(const uint8_t *data, size_t size, struct d2_error *err);
/* A ProtobufCAllocator that allocates through a d2_allocator. */
void onnx_pb_allocator(ProtobufCAllocator *out, const struct d2_allocator *alloc);

/* ---- graphs (onnx_import.c) ---- */
/* Build a region body: region inputs are `formal` (ONNX body inputs, may be typed by
 * the caller through formal_types) followed by the captures, named like the outer values. */
enum d2_status onnx_build_region(struct onnx_node_ctx *ctx, const Onnx__GraphProto *body,
                                 struct d2_graph *region, uint32_t num_formal,
                                 const struct d2_type *formal_types, uint32_t num_captures,
                                 const d2_value_id *captures);
/* Names a body (and the bodies nested in it) reads from enclosing scopes, resolved in
 * ctx's scope, appended (without duplicates) to *captures (heap array via imp->alloc). */
enum d2_status onnx_collect_captures(struct onnx_node_ctx *ctx, const Onnx__GraphProto *body,
                                     d2_value_id **captures, uint32_t *count, uint32_t *cap);

#endif
