/* runtime/artifact_plan.c: the memory-plan section of model.ir (kind 5, format 1.1;
 * docs/FORMAT.md "Memory plan section"). The plan itself is made by passes/memplan.c
 * (struct d2_memory_plan, ir/ir.h).
 *
 *   u64 arena_bytes
 *   u64 naive_bytes                 sum of the sizes below
 *   u32 num_values                  = the top-level graph's num_values
 *   u32 reserved (0)
 *   num_values x { i64 offset, u64 size }   offset -1 (size 0): not planned; else a
 *                                           multiple of 64 with offset + size <= arena
 * Readers before 1.1 skip the section (unknown kinds are optional). */
#include "artifact_internal.h"

#define PLAN_HEADER_SIZE 24
#define PLAN_ENTRY_SIZE 16
#define PLAN_ALIGN 64

enum d2_status d2_af_encode_plan(const struct d2_graph *g, const struct d2_allocator *alloc, uint8_t **data_out,
                                 size_t *size_out, struct d2_error *err)
{
    const struct d2_memory_plan *plan = g->memory_plan;
    size_t size;
    uint8_t *p;
    *data_out = NULL;
    *size_out = 0;
    if (!plan || plan->num_values != g->num_values)
        return D2_OK; /* no plan (or a stale one): no section */
    size = PLAN_HEADER_SIZE + (size_t)plan->num_values * PLAN_ENTRY_SIZE;
    p = d2_alloc(alloc, size);
    if (!p)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory writing the memory plan");
    d2_af_put_u64(p, plan->arena_bytes);
    d2_af_put_u64(p + 8, plan->naive_bytes);
    d2_af_put_u32(p + 16, plan->num_values);
    d2_af_put_u32(p + 20, 0);
    for (uint32_t v = 0; v < plan->num_values; v++) {
        d2_af_put_u64(p + PLAN_HEADER_SIZE + (size_t)v * PLAN_ENTRY_SIZE, (uint64_t)plan->offsets[v]);
        d2_af_put_u64(p + PLAN_HEADER_SIZE + (size_t)v * PLAN_ENTRY_SIZE + 8, plan->sizes[v]);
    }
    *data_out = p;
    *size_out = size;
    return D2_OK;
}

enum d2_status d2_af_decode_plan(const uint8_t *data, uint64_t size, struct d2_graph *g, struct d2_error *err)
{
    struct d2_memory_plan *plan;
    uint64_t arena, naive, sum = 0;
    uint32_t count;
    if (size < PLAN_HEADER_SIZE)
        return d2_errorf(err, D2_ERR_PARSE, "memory plan section is truncated (%llu bytes)", (unsigned long long)size);
    arena = d2_af_get_u64(data);
    naive = d2_af_get_u64(data + 8);
    count = d2_af_get_u32(data + 16);
    if (d2_af_get_u32(data + 20) != 0)
        return d2_errorf(err, D2_ERR_PARSE, "memory plan section: reserved field is not zero");
    if (count != g->num_values)
        return d2_errorf(err, D2_ERR_PARSE, "memory plan section covers %u values, the graph has %u", count,
                         g->num_values);
    if (size != PLAN_HEADER_SIZE + (uint64_t)count * PLAN_ENTRY_SIZE)
        return d2_errorf(err, D2_ERR_PARSE, "memory plan section has %llu bytes, %u values need %llu",
                         (unsigned long long)size, count,
                         (unsigned long long)(PLAN_HEADER_SIZE + (uint64_t)count * PLAN_ENTRY_SIZE));
    plan = d2_arena_alloc(&g->arena, sizeof *plan);
    if (plan) {
        plan->offsets = d2_arena_alloc(&g->arena, ((size_t)count + 1) * sizeof *plan->offsets);
        plan->sizes = d2_arena_alloc(&g->arena, ((size_t)count + 1) * sizeof *plan->sizes);
    }
    if (!plan || !plan->offsets || !plan->sizes)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory loading the memory plan");
    for (uint32_t v = 0; v < count; v++) {
        const uint8_t *e = data + PLAN_HEADER_SIZE + (size_t)v * PLAN_ENTRY_SIZE;
        int64_t offset = (int64_t)d2_af_get_u64(e);
        uint64_t bytes = d2_af_get_u64(e + 8);
        bool ok = offset == -1 ? bytes == 0
                               : offset >= 0 && offset % PLAN_ALIGN == 0 && bytes > 0 && bytes <= arena &&
                                     (uint64_t)offset <= arena - bytes && sum <= UINT64_MAX - bytes;
        if (!ok)
            return d2_errorf(err, D2_ERR_PARSE,
                             "memory plan section: value %u has offset %lld and size %llu (arena %llu bytes)", v,
                             (long long)offset, (unsigned long long)bytes, (unsigned long long)arena);
        plan->offsets[v] = offset;
        plan->sizes[v] = bytes;
        sum += bytes;
    }
    if (sum != naive)
        return d2_errorf(err, D2_ERR_PARSE, "memory plan section: sizes add up to %llu, not %llu",
                         (unsigned long long)sum, (unsigned long long)naive);
    plan->arena_bytes = arena;
    plan->naive_bytes = naive;
    plan->num_values = count;
    g->memory_plan = plan;
    return D2_OK;
}
