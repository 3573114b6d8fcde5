/* ir/shape_tensor.h: rules shared by the shape functions of the "shape and data
 * movement" ops (ir/shape_tensor*.c) and their reference CPU kernels
 * (backends/cpu/ref_tensor*.c), so each rule (slice clamping, pad
 * index mapping...) is written exactly once.
 *
 * Everything here is pure arithmetic on int64: no allocation, no errors beyond the
 * return values documented per function. */
#ifndef D2_IR_SHAPE_TENSOR_H
#define D2_IR_SHAPE_TENSOR_H

#include "ir.h"

/* Shape functions of the family (the table in ir/shape.c finds them by name too). */
#define D2_TENSOR_OPS(X)                                                               \
    X(concat) X(split) X(slice) X(reshape) X(flatten) X(transpose) X(squeeze)         \
    X(unsqueeze) X(expand) X(tile) X(pad) X(gather) X(gather_elements) X(gather_nd)  \
    X(scatter_nd) X(scatter_elements) X(shape) X(size) X(constant_of_shape) X(range) \
    X(depth_to_space) X(space_to_depth) X(trilu) X(one_hot) X(eye_like)
#define D2_X(name) enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx);
D2_TENSOR_OPS(D2_X)
#undef D2_X

/* One axis of a slice, after ONNX's clamping rules: the output takes `length`
 * elements starting at index `start`, stepping by `step`. */
struct d2_slice_axis {
    int64_t start;
    int64_t step;
    int64_t length;
};
/* Resolve starts/ends (negative counts from the end; any int64 allowed, INT64_MAX
 * and INT64_MIN included) against a known dim. step must be non-zero (caller checks). */
struct d2_slice_axis d2_slice_resolve(int64_t dim, int64_t start, int64_t end, int64_t step);

/* pad: source index along one axis for output coordinate `out_coord`, given the
 * begin pad (negative crops) and the input dim (> 0). Returns -1 when the element
 * is padding with the constant (mode constant), otherwise an index in [0, dim). */
int64_t d2_pad_source_index(int32_t mode, int64_t out_coord, int64_t pad_begin, int64_t dim);

/* ---- helpers for the family's shape functions (ir/shape_tensor.c) ---------- */

/* Input i's type / constant value, NULL when omitted (or, for the value, unknown). */
const struct d2_type *d2_st_input_type(const struct d2_shape_ctx *ctx, uint32_t i);
const struct d2_tensor *d2_st_input_value(const struct d2_shape_ctx *ctx, uint32_t i);
/* Copy dim si of src (size, symbol, upper bound) into dim di of dst. */
void d2_st_copy_dim(struct d2_type *dst, int32_t di, const struct d2_type *src, int32_t si);
void d2_st_set_unknown_dim(struct d2_type *dst, int32_t di);
/* Element count of a 1-D (or scalar) list input known from its type, or -1. */
int64_t d2_st_list_length(const struct d2_type *t);
/* Read a constant 1-D or scalar integer list input `what` into out (at most
 * max_count entries); errors when it is not an integer tensor of rank <= 1 or too long. */
enum d2_status d2_st_read_ints(struct d2_shape_ctx *ctx, const struct d2_tensor *value, const char *what,
                               int64_t *out, int64_t max_count, int64_t *count);
/* D2_ERR_SHAPE unless the node has ops.def's minimum number of inputs and each
 * of them (every input, for a variadic op) is present. */
enum d2_status d2_st_check_required_inputs(struct d2_shape_ctx *ctx);
/* D2_ERR_SHAPE when an output dim saturated to INT64_MAX (sizes overflowed). */
enum d2_status d2_st_check_outputs(struct d2_shape_ctx *ctx);
/* Defines the entry point d2_shape_<name>: checks the required inputs are present
 * (a model omitting one gets an error, not a NULL dereference, even before the
 * verifier runs), applies the op's rule (static shape_<name>), then rejects dims
 * that overflowed. */
#define D2_ST_ENTRY(name)                                         \
    enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx)      \
    {                                                             \
        enum d2_status st = d2_st_check_required_inputs(ctx);     \
        if (st == D2_OK)                                          \
            st = shape_##name(ctx);                               \
        return st != D2_OK ? st : d2_st_check_outputs(ctx);       \
    }

/* Check that the index/shape-like input `what` has an integer dtype (when known). */
enum d2_status d2_st_require_integer(struct d2_shape_ctx *ctx, const struct d2_type *t, const char *what);

#endif
