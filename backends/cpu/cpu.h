/* backends/cpu/cpu.h: the CPU backend's kernel interface.
 *
 * A kernel runs one node on concrete tensors. Before calling it, the executor has run
 * the op's shape function on the concrete inputs (with their values) and set each
 * output's dtype, rank and dims; when all of an output's dims were known it also
 * allocated the output's zeroed storage. Outputs whose shape depends on input values
 * (D2_OPF_DATA_DEPENDENT ops, or dims the shape function left unknown) arrive with
 * data == NULL and the kernel allocates them with d2_kernel_alloc_output.
 *
 * The reference kernel of op `name` is d2_cpu_ref_<name> in backends/cpu/ref_<family>.c:
 * plain, obviously correct C, dtype-generic where the op is (through d2_load_f64 /
 * d2_store_f64 when nothing faster is needed). Later SIMD kernels are tested against
 * them. Kernels never print and never exit; errors go to ctx->err. */
#ifndef D2_BACKENDS_CPU_H
#define D2_BACKENDS_CPU_H

#include "../../ir/ir.h"

struct d2_executor;

struct d2_kernel_ctx {
    const struct d2_node *node;              /* op and attrs */
    const struct d2_allocator *alloc;
    struct d2_error *err;
    uint32_t num_inputs;
    const struct d2_tensor *const *inputs;   /* NULL for an omitted optional input */
    uint32_t num_outputs;
    struct d2_tensor *outputs;               /* see above */
    struct d2_executor *executor;            /* for control flow: runs regions */
};

typedef enum d2_status (*d2_cpu_kernel_fn)(struct d2_kernel_ctx *ctx);

/* Reference kernel of an op; NULL where missing (the coverage test fails). */
d2_cpu_kernel_fn d2_cpu_ref_kernel(enum d2_op op);

/* Allocate output i with the given dtype and dims (replacing any storage it had). */
enum d2_status d2_kernel_alloc_output(struct d2_kernel_ctx *ctx, uint32_t i, enum d2_dtype dtype,
                                      int32_t rank, const int64_t *dims);

/* Row-major strides (in elements) of dims. */
void d2_strides(int32_t rank, const int64_t *dims, int64_t *strides);

/* Broadcast helper: for output linear index `out_index` of an output with dims
 * `out_dims` (rank out_rank), the linear index into an input with dims `in_dims`
 * (rank in_rank <= out_rank, right-aligned, size-1 dims broadcast). */
int64_t d2_broadcast_index(int64_t out_index, int32_t out_rank, const int64_t *out_dims,
                           int32_t in_rank, const int64_t *in_dims);

#endif
