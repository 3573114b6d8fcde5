/* backends/cpu/fast_data.h: fast kernels of the elementwise arithmetic, comparison and
 * data-movement ops that surround the convolutions of detection models (broadcasting
 * add/sub/mul/div/min/max, comparisons, and/or/xor, where: fast_broadcast.c;
 * slice/concat/expand/transpose/pad/reshape copies/constant_of_shape/cast:
 * fast_tensor.c; gather/scatter_elements/non_zero/topk: fast_index.c; resize:
 * fast_resize.c), registered in the fast kernel table (fast_ops.c) through
 * d2_cpu_fast_data_kernel.
 *
 * Contract: every kernel here gives results IDENTICAL to the op's reference kernel
 * (same dtype, dims and bytes). The reference computes float arithmetic in double and
 * rounds once to f32; for + - * / that is the correctly rounded f32 result (double has
 * more than 2*24+2 bits, so the double rounding is innocuous), so these kernels use f32
 * arithmetic for them. min/max/comparisons/data movement are exact anyway; resize's
 * interpolation keeps the reference's double arithmetic, in the same order. Inputs the
 * fast paths do not cover (other dtypes, malformed inputs whose error messages the
 * reference owns, integer division by zero...) run the reference kernel.
 * tests/unit/test_fast_data.c checks the equality on every ISA with 1 and 2 threads. */
#ifndef D2_BACKENDS_CPU_FAST_DATA_H
#define D2_BACKENDS_CPU_FAST_DATA_H

#include "cpu.h"
#include "threadpool.h"

/* The fast data kernel of op, or NULL when these files have none. */
d2_cpu_kernel_fn d2_cpu_fast_data_kernel(enum d2_op op);

/* Broadcasting binary arithmetic (add sub mul div min max) for any shapes; the fast
 * add/mul of fast_ops.c route the cases they leave to this. */
enum d2_status d2_cpu_fast_broadcast_arith(struct d2_kernel_ctx *ctx);

/* ---- helpers shared by the fast_*.c files of this family ---------------------- */

/* Run the op's reference kernel (its error messages for malformed inputs). */
enum d2_status d2_fast_data_reference(struct d2_kernel_ctx *ctx);

/* Copies smaller than this many bytes run on the calling thread only. */
#define D2_FAST_PARALLEL_BYTES (256 * 1024)

/* memcpy of `bytes`, split over the pool's threads when large. */
void d2_fast_copy_bytes(struct d2_threadpool *pool, void *dst, const void *src, size_t bytes);

/* dst (contiguous, dims) = the strided view of src: element `coord` of dst is src
 * element src_offset + sum(coord[d] * src_strides[d]) (strides in elements, any sign,
 * 0 for broadcast). The d2_ref_copy_strided contract, with unit-stride rows copied by
 * memcpy, broadcast rows filled, 2-D transposes cache-blocked, and threads. */
void d2_fast_copy_strided(struct d2_threadpool *pool, void *dst, const void *src, size_t elem_size, int32_t rank,
                          const int64_t *dims, const int64_t *src_strides, int64_t src_offset);

#endif
