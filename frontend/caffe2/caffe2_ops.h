/* frontend/caffe2/caffe2_ops.h: Caffe2 operators -> d2rt IR, independent of the
 * container they come in.
 *
 * Caffe2 operators reach d2rt in two containers: a NetDef (frontend/caffe2/
 * caffe2_import.c) and an ONNX graph with nodes of domain `org.pytorch._caffe2`
 * (detectron2's caffe2_tracing ONNX export; frontend/onnx/onnx_caffe2.c). Both
 * translate their operator into this neutral form (type, arguments, resolved input
 * values, names for the outputs) and call d2_caffe2_map_op, so that every Caffe2
 * operator has exactly one meaning in d2rt.
 *
 * Contract of d2_caffe2_map_op:
 *   - it appends IR nodes (and constants) to ctx->g, infers their types, and sets
 *     ctx->outputs[i] for every Caffe2 output i: a value it created (named
 *     ctx->output_names[i] when that is non-NULL), or an existing value when the
 *     operator is an identity (AliasWithName, Copy...);
 *   - an output that d2rt does not compute (e.g. GroupNorm's saved statistics) is
 *     left D2_NO_VALUE; the caller reports an error only if something reads it;
 *   - errors are returned with a one-line message beginning with ctx->where (the
 *     caller's description of the operator, e.g. "Caffe2 op #12 'x' (Conv)").
 * Arguments keep Caffe2's own defaults when absent: notably legacy_plus_one defaults
 * to true, as in Caffe2, even though detectron2 always writes 0.
 *
 * Detection operators are lowered onto the shared detection IR ops (ir/ops.def,
 * "detection (shared by all dialects)") with Caffe2's semantics carried as attributes
 * (legacy_plus_one, Caffe2's NaN-IoU rule, class-grouped BoxWithNMSLimit order, the
 * 1e-6 FPN epsilon) or composed from generic IR ops (BBoxTransform's im_info scaling
 * and per-image clipping, BoxWithNMSLimit's thresholding and outputs).
 */
#ifndef D2_FRONTEND_CAFFE2_OPS_H
#define D2_FRONTEND_CAFFE2_OPS_H

#include <protobuf-c/protobuf-c.h>

#include "ir/ir.h"

/* What an argument holds. Caffe2 sets one value field per Argument (an empty list sets
 * none: C2_ARG_EMPTY); ONNX attributes carry their type explicitly. */
enum c2_arg_kind {
    C2_ARG_EMPTY, C2_ARG_INT, C2_ARG_FLOAT, C2_ARG_STRING, C2_ARG_INTS, C2_ARG_FLOATS, C2_ARG_STRINGS,
    C2_ARG_OTHER, /* a net, tensor or something else no mapped operator reads */
};

struct c2_arg {
    const char *name;
    enum c2_arg_kind kind;
    int64_t i;
    double f;                          /* float value, widened exactly */
    ProtobufCBinaryData s;
    const int64_t *ints;
    const float *floats;
    const ProtobufCBinaryData *strings;
    size_t count;                      /* elements of ints, floats or strings */
};

/* 4-column boxes whose image per row is known: BoxWithNMSLimit's boxes output of a
 * batch (with batch_splits). detectron2's mask and keypoint poolers read those boxes
 * with 4 columns, which Caffe2 pools from image 0 (it never ran a batch); with this
 * table DistributeFpnProposals and RoIAlign pool each box from its own image. */
#define C2_MAX_ROI_IMAGES 16
struct c2_roi_images {
    uint32_t count;
    d2_value_id boxes[C2_MAX_ROI_IMAGES];  /* f32 [n,4] */
    d2_value_id image[C2_MAX_ROI_IMAGES];  /* i64 [n]: image index of each row */
};

struct c2_op_ctx {
    struct d2_graph *g;
    struct d2_error *err;
    const char *where;                 /* message prefix naming the operator */
    const char *type;                  /* Caffe2 operator type, e.g. "Conv" */
    const char *node_name;             /* name for the IR nodes ("" allowed) */
    uint32_t num_args;
    const struct c2_arg *args;
    uint32_t num_inputs;
    const d2_value_id *inputs;         /* resolved, never D2_NO_VALUE */
    uint32_t num_outputs;
    const char *const *output_names;   /* unique value names to use (entries may be NULL) */
    d2_value_id *outputs;              /* set by d2_caffe2_map_op */
    struct c2_roi_images *roi_images;  /* may be NULL (no batches of 4-column boxes) */
    /* Internal: the first IR node this operator added (for inference). */
    uint32_t first_node;
};

/* Is `type` a Caffe2 operator d2_caffe2_map_op knows (possibly to reject it with a
 * precise message)? */
bool d2_caffe2_op_known(const char *type);

/* Translate one operator (see the contract above). */
enum d2_status d2_caffe2_map_op(struct c2_op_ctx *ctx);

/* Caffe2 TensorProto.DataType number -> d2rt dtype; false when d2rt has none (STRING)
 * or the number is unknown. */
bool d2_caffe2_dtype(int64_t caffe2_type, enum d2_dtype *out);

#endif
