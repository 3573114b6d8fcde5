/* backends/registry.c: the static table of backends (ggml's backend registry, small).
 *
 * Each backend contributes one struct d2_backend_ops. The CPU reference backend is
 * always present and always first; optional backends are added here, behind their
 * build switch. This is the only file that may test D2RT_CUDA. */
#include "backend.h"

#include <string.h>

#include "cpu/cpu.h"

static bool cpu_supports(const struct d2_node *node)
{
    return d2_cpu_ref_kernel(node->op) != NULL && d2_shape_function(node->op) != NULL;
}

static const struct d2_backend_ops cpu_backend = {
    .name = "cpu",
    .supports = cpu_supports,
    .execute = d2_cpu_execute,
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
