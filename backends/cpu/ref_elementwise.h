/* backends/cpu/ref_elementwise.h: helpers shared by the elementwise reference kernels
 * (ref_elementwise_common.c, ref_elementwise_unary.c, ref_elementwise_binary.c).
 * Private to those files; other kernels should not depend on it.
 *
 * Number handling, for every elementwise kernel:
 *   - floats (f32 f16 bf16 f64) are computed in double (d2_load_f64) and rounded once
 *     to the output dtype on store (d2_store_f64);
 *   - integers and bool are computed in int64 (d2_load_i64 / d2_store_i64) so int64
 *     values beyond 2^53 stay exact; u64 values above INT64_MAX appear as negative
 *     int64s, so comparisons, division and remainders of u64 go through uint64_t;
 *   - integer overflow wraps (two's complement, as numpy does) and never traps:
 *     arithmetic goes through uint64_t, INT64_MIN / -1 is special-cased.
 */
#ifndef D2_BACKENDS_CPU_REF_ELEMENTWISE_H
#define D2_BACKENDS_CPU_REF_ELEMENTWISE_H

#include "../../ir/shape_elementwise.h"
#include "cpu.h"

/* Reference kernels of the family (the table in ref_table.c finds them by name). */
#define D2_X(name) enum d2_status d2_cpu_ref_##name(struct d2_kernel_ctx *ctx);
D2_ELEMENTWISE_OPS(D2_X)
#undef D2_X

/* Error messages need not name the node or op: the executor prefixes
 * "node '<name>' (<op>): " to every kernel error. */

/* Make output `index` a tensor of dtype/rank/dims with storage: keeps what the executor
 * allocated when it already matches, (re)allocates otherwise. */
enum d2_status d2_ew_prepare_output(struct d2_kernel_ctx *ctx, uint32_t index, enum d2_dtype dtype,
                                    int32_t rank, const int64_t *dims);

/* numpy broadcast shape of `count` tensors into *rank/dims; D2_ERR_SHAPE when they do
 * not broadcast. */
enum d2_status d2_ew_broadcast_shape(struct d2_kernel_ctx *ctx, uint32_t count,
                                     const struct d2_tensor *const *tensors, int32_t *rank, int64_t *dims);

/* Element index into `in` for element `i` of the broadcast output `out`. */
static inline size_t d2_ew_src_index(const struct d2_tensor *in, const struct d2_tensor *out, int64_t i)
{
    /* A broadcastable input with as many elements as the output has its shape. */
    if (d2_tensor_numel(in) == d2_tensor_numel(out))
        return (size_t)i;
    return (size_t)d2_broadcast_index(i, out->rank, out->dims, in->rank, in->dims);
}

/* Round v to the precision of float dtype t (identity for f64): lets a running float
 * sum round after each step, exactly as numpy does in the output dtype. */
double d2_ew_round_to(enum d2_dtype t, double v);

/* The float rule of a unary op: y = f(x) computed in double (attrs: the node's
 * attribute struct), rounded once to the output dtype by the caller. NULL for ops
 * without one. The reference kernels and the fast f32 kernel share these, so they
 * agree bit for bit. */
typedef double (*d2_ref_unary_float_fn)(double x, const void *attrs);
d2_ref_unary_float_fn d2_ref_unary_float_rule(enum d2_op op);

/* Three-way compare of two integers loaded with d2_load_i64, as uint64 when is_u64. */
static inline int d2_ew_compare_int(int64_t a, int64_t b, bool is_u64)
{
    if (is_u64)
        return (uint64_t)a < (uint64_t)b ? -1 : (uint64_t)a > (uint64_t)b;
    return a < b ? -1 : a > b;
}

/* Wrapping int64 arithmetic (no signed-overflow UB). */
static inline int64_t d2_ew_wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t d2_ew_wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t d2_ew_wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

#endif
