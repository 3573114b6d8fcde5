/* backends/backend.h: what the runtime sees of the backends.
 *
 * One backend exists, the CPU: an executor that interprets a graph node by node
 * (backends/cpu/executor.c) with either the reference kernels (d2_cpu_execute, used by
 * the op tests) or the fast per-ISA kernel tables (sessions; backends/cpu/fast.h). The
 * backend registry (a vtable per backend, the only place an #ifdef D2RT_CUDA may
 * appear; backends/registry.c) builds on this. There is no CUDA backend yet. */
#ifndef D2_BACKENDS_BACKEND_H
#define D2_BACKENDS_BACKEND_H

#include "../ir/ir.h"

/* Run graph g on the CPU. inputs[i] feeds g->inputs[i] (dtype must match; shapes
 * must fit the declared dims). On success outputs[0..num_outputs) hold newly
 * allocated tensors (caller releases each with d2_tensor_release(t, alloc)).
 * num_inputs/num_outputs must equal g->num_inputs/g->num_outputs. Errors name the
 * node and op that failed. */
enum d2_status d2_cpu_execute(const struct d2_graph *g, const struct d2_tensor *inputs,
                              uint32_t num_inputs, struct d2_tensor *outputs, uint32_t num_outputs,
                              const struct d2_allocator *alloc, struct d2_error *err);

/* ---- backend registry (backends/registry.c) ------------------------------
 * One vtable per backend, ggml-style. The registry is a static table; it is the only
 * place where an optional backend is switched on (#ifdef D2RT_CUDA). */
/* Run-time options a session hands its backend. */
struct d2_backend_options {
    int32_t threads;                                    /* <= 0: one per CPU */
};

struct d2_backend_ops {
    const char *name;                                   /* "cpu" */
    /* Can this backend run the node (op, attributes, dtypes it knows of)? */
    bool (*supports)(const struct d2_node *node);
    /* Run a whole graph, with the contract of d2_cpu_execute. */
    enum d2_status (*execute)(const struct d2_graph *g, const struct d2_tensor *inputs, uint32_t num_inputs,
                              struct d2_tensor *outputs, uint32_t num_outputs,
                              const struct d2_allocator *alloc, struct d2_error *err);
    /* Optional per-session state (NULL when the backend has none): created once per
     * session (the CPU backend: kernel table chosen by cpuid or D2RT_CPU, thread pool,
     * D2RT_REFERENCE=1 for the reference kernels), then used by session_execute. */
    enum d2_status (*session_new)(const struct d2_backend_options *opts, const struct d2_allocator *alloc,
                                  void **state, struct d2_error *err);
    void (*session_free)(void *state);
    enum d2_status (*session_execute)(void *state, const struct d2_graph *g, const struct d2_tensor *inputs,
                                      uint32_t num_inputs, struct d2_tensor *outputs, uint32_t num_outputs,
                                      const struct d2_allocator *alloc, struct d2_error *err);
    /* Optional: an allocator to pass to session_execute whose outputs, freed through
     * it, are recycled by the backend; *owner keeps it valid (also past session_free)
     * until release_owner(*owner). NULL: use the session's allocator. */
    const struct d2_allocator *(*session_output_allocator)(void *state, void **owner);
    void (*release_owner)(void *owner);
};

uint32_t d2_backend_count(void);
const struct d2_backend_ops *d2_backend_get(uint32_t index);      /* NULL when out of range */
const struct d2_backend_ops *d2_backend_find(const char *name);   /* NULL when unknown */

#endif
