/* backends/registry.c: the static table of backends (ggml's backend registry, small).
 *
 * Each backend contributes one struct d2_backend_ops. The CPU reference backend is
 * always present and always first; optional backends are added here, behind their
 * build switch. This is the only file that may test D2RT_CUDA. */
#include "backend.h"

#include <string.h>

#include "cpu/cpu.h"
#include "cpu/fast.h"

static bool cpu_supports(const struct d2_node *node)
{
    return d2_cpu_ref_kernel(node->op) != NULL && d2_shape_function(node->op) != NULL;
}

static enum d2_status cpu_session_new(const struct d2_backend_options *opts, const struct d2_allocator *alloc,
                                      void **state, struct d2_error *err)
{
    struct d2_cpu_fast_options fo = { opts ? opts->threads : 0, NULL, -1 };
    struct d2_cpu_fast *fast = NULL;
    enum d2_status st = d2_cpu_fast_new(&fo, alloc, &fast, err);
    *state = fast;
    return st;
}

static void cpu_session_free(void *state)
{
    d2_cpu_fast_free(state);
}

static enum d2_status cpu_session_execute(void *state, const struct d2_graph *g, const struct d2_tensor *inputs,
                                          uint32_t num_inputs, struct d2_tensor *outputs, uint32_t num_outputs,
                                          const struct d2_allocator *alloc, struct d2_error *err)
{
    return d2_cpu_fast_execute(state, g, inputs, num_inputs, outputs, num_outputs, alloc, NULL, NULL, err);
}

static const struct d2_allocator *cpu_session_output_allocator(void *state, void **owner)
{
    return d2_cpu_fast_output_allocator(state, owner);
}

static const struct d2_backend_ops cpu_backend = {
    .name = "cpu",
    .supports = cpu_supports,
    .execute = d2_cpu_execute,
    .session_new = cpu_session_new,
    .session_free = cpu_session_free,
    .session_execute = cpu_session_execute,
    .session_output_allocator = cpu_session_output_allocator,
    .release_owner = d2_cpu_fast_release_owner,
};

static const struct d2_backend_ops *const backends[] = {
    &cpu_backend,
#ifdef D2RT_CUDA
    /* The CUDA backend registers here once backends/cuda provides its ops. */
#endif
};

uint32_t d2_backend_count(void)
{
    return (uint32_t)(sizeof backends / sizeof backends[0]);
}

const struct d2_backend_ops *d2_backend_get(uint32_t index)
{
    return index < d2_backend_count() ? backends[index] : NULL;
}

const struct d2_backend_ops *d2_backend_find(const char *name)
{
    for (uint32_t i = 0; i < d2_backend_count(); i++)
        if (name && strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}
