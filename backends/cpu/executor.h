/* backends/cpu/executor.h: the reference CPU executor's state, shared with the
 * control-flow kernels (backends/cpu/ref_control.c) so that they can run regions.
 *
 * d2_cpu_execute (backends/backend.h) creates an executor and runs the top-level
 * graph; `if` and `loop` kernels find the executor in their struct d2_kernel_ctx and
 * run their regions through d2_executor_run, one nesting level deeper. */
#ifndef D2_BACKENDS_CPU_EXECUTOR_H
#define D2_BACKENDS_CPU_EXECUTOR_H

#include <stdatomic.h>

#include "cpu.h"

/* Regions nest through the model file; a malicious file could nest them deeply and
 * exhaust the C stack, so nesting beyond this is refused. */
#define D2_EXECUTOR_MAX_DEPTH 64

/* An activation arena kept between runs (owned by a backend's session state), so a
 * run does not map, fault in and unmap the planned memory every time. A run that
 * finds it busy (another run of the same state in flight) allocates its own. */
struct d2_arena_cache {
    const struct d2_allocator *alloc; /* what block was allocated with */
    void *block;
    size_t bytes;
    atomic_flag busy;
};

/* Free the cached block (the cache must not be busy). */
void d2_arena_cache_release(struct d2_arena_cache *cache);

struct d2_executor {
    const struct d2_allocator *alloc;
    uint32_t depth; /* 0 for the top-level graph, +1 per region level */
    /* Which kernel runs an op: NULL means the reference kernels (d2_cpu_ref_kernel).
     * A faster CPU backend reuses this interpreter with its own table. */
    d2_cpu_kernel_fn (*kernel_for)(enum d2_op op);
    /* State of the backend owning kernel_for (fast CPU kernels: struct d2_cpu_fast,
     * backends/cpu/fast.h); kernels read it through ctx->executor. NULL for the reference. */
    const void *kernel_data;
    /* Does the kernel for op store every element of its outputs? Then the executor
     * skips zeroing their storage first (NULL: zero always, the kernel contract of
     * cpu.h). Copied into regions. */
    bool (*writes_every_output)(enum d2_op op);
    /* Where the top-level run's activation arena comes from (NULL: allocated per run). */
    struct d2_arena_cache *arena_cache;
    /* Called with the storage of each output a top-level run hands to its caller
     * (NULL: none); a caching allocator forgets the block there. */
    void (*output_escapes)(void *user, const void *data);
    void *escape_user;
    /* Optional per-node hook (benchmarks): called after each node's kernel with its
     * wall time in seconds. */
    void (*observe_node)(void *user, const struct d2_kernel_ctx *ctx, double seconds);
    void *observe_user;
};

/* Run graph g with the contract of d2_cpu_execute (inputs borrowed, outputs newly
 * allocated with ex->alloc and owned by the caller). */
enum d2_status d2_executor_run(struct d2_executor *ex, const struct d2_graph *g,
                               const struct d2_tensor *inputs, uint32_t num_inputs,
                               struct d2_tensor *outputs, uint32_t num_outputs, struct d2_error *err);

#endif
