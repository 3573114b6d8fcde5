/* backends/cpu/ref_tensor.h: helpers shared by the reference kernels of the "shape
 * and data movement" ops (backends/cpu/ref_tensor*.c).
 *
 * These ops are dtype-generic: they move elements as raw bytes (d2_dtype_size bytes
 * each), so every dtype, bool and f16 included, takes the same path. */
#ifndef D2_BACKENDS_CPU_REF_TENSOR_H
#define D2_BACKENDS_CPU_REF_TENSOR_H

#include "cpu.h"
#include "../../ir/shape_tensor.h"

/* Reference kernels of the family (ir/shape_tensor.h lists the ops). */
#define D2_X(name) enum d2_status d2_cpu_ref_##name(struct d2_kernel_ctx *ctx);
D2_TENSOR_OPS(D2_X)
#undef D2_X

/* Run the op's shape function on the concrete inputs (types and values) and make
 * sure each output is allocated with exactly the resulting dtype and dims: outputs
 * the executor already allocated that way are kept, others are (re)allocated.
 * This is how data-dependent ops (range, one_hot, constant_of_shape...) get their
 * output, and it re-checks every input against the op's rules. */
enum d2_status d2_ref_tensor_prepare(struct d2_kernel_ctx *ctx, d2_shape_fn shape_fn);

/* Copy a strided view of src into contiguous dst: element `coord` (a coordinate in
 * `dims`, rank <= D2_MAX_RANK) of dst is src element
 * src_offset + sum(coord[d] * src_strides[d]) (strides in elements, may be 0 or
 * negative). */
void d2_ref_copy_strided(void *dst, const void *src, size_t elem_size, int32_t rank, const int64_t *dims,
                         const int64_t *src_strides, int64_t src_offset);

/* A (validated) integer list input read into out (at most max_count); an absent
 * input (NULL) reads as count 0. Returns the count read. */
int64_t d2_ref_read_list(const struct d2_tensor *t, int64_t *out, int64_t max_count);
/* Input i of the node, or NULL when omitted or past the node's inputs. */
const struct d2_tensor *d2_ref_optional_input(const struct d2_kernel_ctx *ctx, uint32_t i);
/* slice: check the inputs and prepare the output (d2_ref_tensor_prepare), then the
 * view of input 0 the output copies: output element coord is input element
 * *offset + sum(coord[d] * strides[d]). */
enum d2_status d2_ref_slice_view(struct d2_kernel_ctx *ctx, int64_t *strides, int64_t *offset);

/* transpose: check the inputs, prepare the output, and the strides of input 0 that
 * output element coord reads (offset 0). */
enum d2_status d2_ref_transpose_view(struct d2_kernel_ctx *ctx, int64_t *strides);
/* pad (after d2_ref_tensor_prepare): the padding before each axis of input 0
 * (begin[d], negative crops), from the pads and optional axes inputs. */
void d2_ref_pad_begin(const struct d2_kernel_ctx *ctx, int64_t *begin);

/* Coordinates of row-major linear index `index` in dims. */
void d2_ref_unravel(int64_t index, int32_t rank, const int64_t *dims, int64_t *coord);

#endif
