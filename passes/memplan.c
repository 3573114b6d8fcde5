/* passes/memplan.c: static memory planning of activations.
 *
 * Every intermediate value of the top-level graph whose size is known at compile time
 * gets a byte offset in one activation arena (struct d2_memory_plan, ir/ir.h), so the
 * executor makes one allocation per run instead of one per node output, and values
 * whose lifetimes do not overlap share memory.
 *
 * Planned: outputs of ordinary nodes with a static type. Not planned (allocated at run
 * time as before): graph outputs (they are handed to the caller), graph inputs and
 * constants (not the executor's), outputs of control-flow nodes (they come out of
 * region runs), values whose size depends on data, and everything inside regions.
 *
 * Lifetime of a value: from its producer's index to its last reader's index (node
 * order is execution order), both inclusive; a node's outputs therefore never share
 * memory with its inputs. Placement is greedy by size, biggest first (the classic
 * heuristic: big values shape the arena, small ones fill the gaps): each value takes
 * the smallest gap between already placed values whose lifetimes overlap its own
 * that fits it (best fit), or goes above them all. Offsets are multiples of
 * MEMPLAN_ALIGN (SIMD kernels like aligned rows).
 *
 * The plan describes the graph it was made for: the pipeline drops it before any
 * other pass runs, the executor ignores it when the value count differs, and uses an
 * offset only when the value's run-time size is the planned size.
 * d2_memory_plan_check verifies a plan independently (tests, DEBUG builds).
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

#include "pass_util.h"

#ifndef D2_DEBUG_VERIFY
#define D2_DEBUG_VERIFY 0
#endif

#define MEMPLAN_ALIGN 64

static uint64_t align_up(uint64_t x)
{
    return (x + MEMPLAN_ALIGN - 1) & ~(uint64_t)(MEMPLAN_ALIGN - 1);
}

/* Lifetimes and sizes of the plannable values: first[v] = producer index, last[v] =
 * last reader (>= first), bytes[v] > 0 only for plannable values. */
struct lifetimes {
    int64_t *first, *last;
    uint64_t *bytes;
};

static void lifetimes_free(const struct d2_graph *g, struct lifetimes *lt)
{
    d2_free(g->alloc, lt->first);
    d2_free(g->alloc, lt->last);
    d2_free(g->alloc, lt->bytes);
}

static enum d2_status compute_lifetimes(const struct d2_graph *g, struct lifetimes *lt, struct d2_error *err)
{
    lt->first = d2_calloc(g->alloc, g->num_values + 1, sizeof *lt->first);
    lt->last = d2_calloc(g->alloc, g->num_values + 1, sizeof *lt->last);
    lt->bytes = d2_calloc(g->alloc, g->num_values + 1, sizeof *lt->bytes);
    if (!lt->first || !lt->last || !lt->bytes) {
        lifetimes_free(g, lt);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory planning memory");
    }
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        const struct d2_node *node = &g->nodes[n];
        const struct d2_op_info *info = d2_op_info(node->op);
        bool control = !info || (info->flags & D2_OPF_CONTROL) || node->num_regions > 0;
        for (uint32_t i = 0; i < node->num_inputs; i++)
            if (node->inputs[i] < g->num_values)
                lt->last[node->inputs[i]] = n;
        for (uint32_t j = 0; j < node->num_outputs; j++) {
            d2_value_id v = node->outputs[j];
            int64_t bytes;
            if (v >= g->num_values)
                continue;
            lt->first[v] = lt->last[v] = n;
            bytes = d2_pass_type_bytes(&g->values[v].type);
            if (!control && bytes > 0)
                lt->bytes[v] = (uint64_t)bytes;
        }
    }
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] < g->num_values)
            lt->bytes[g->outputs[i]] = 0;
    return D2_OK;
}

static bool lifetimes_overlap(const struct lifetimes *lt, d2_value_id a, d2_value_id b)
{
    return lt->first[a] <= lt->last[b] && lt->first[b] <= lt->last[a];
}

/* Values to place, sorted biggest first, then earliest first, then by id (so the
 * plan is deterministic). qsort has no context argument: the keys travel along. */
struct candidate {
    uint64_t bytes;
    int64_t first;
    d2_value_id id;
};
static int by_size_desc(const void *pa, const void *pb)
{
    const struct candidate *a = pa, *b = pb;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* An already placed block that conflicts with the value being placed. */
struct block {
    uint64_t start, end;
};
static int by_start(const void *pa, const void *pb)
{
    const struct block *a = pa, *b = pb;
    return a->start < b->start ? -1 : a->start > b->start;
}

enum d2_status d2_pass_memplan(struct d2_graph *g, struct d2_error *err)
{
    struct lifetimes lt;
    struct d2_memory_plan *plan;
    struct candidate *order = NULL;
    struct block *conflicts = NULL;
    d2_value_id *placed = NULL;
    uint32_t count = 0, num_placed = 0;
    enum d2_status st;

    g->memory_plan = NULL;
    if (g->parent)
        return D2_OK; /* regions run inside a control-flow node: not planned */
    if ((st = compute_lifetimes(g, &lt, err)) != D2_OK)
        return st;
    plan = d2_arena_alloc(&g->arena, sizeof *plan);
    if (plan) {
        plan->offsets = d2_arena_alloc(&g->arena, (g->num_values + 1) * sizeof *plan->offsets);
        plan->sizes = d2_arena_alloc(&g->arena, (g->num_values + 1) * sizeof *plan->sizes);
    }
    order = d2_calloc(g->alloc, g->num_values + 1, sizeof *order);
    placed = d2_calloc(g->alloc, g->num_values + 1, sizeof *placed);
    conflicts = d2_calloc(g->alloc, g->num_values + 1, sizeof *conflicts);
    if (!plan || !plan->offsets || !plan->sizes || !order || !placed || !conflicts) {
        st = d2_errorf(err, D2_ERR_NOMEM, "out of memory planning memory");
        goto done;
    }
    plan->num_values = g->num_values;
    plan->arena_bytes = plan->naive_bytes = 0;
    for (d2_value_id v = 0; v < g->num_values; v++) {
        plan->offsets[v] = -1;
        plan->sizes[v] = lt.bytes[v];
        if (lt.bytes[v]) {
            order[count].bytes = lt.bytes[v];
            order[count].first = lt.first[v];
            order[count].id = v;
            count++;
            plan->naive_bytes += lt.bytes[v];
        }
    }
    qsort(order, count, sizeof *order, by_size_desc);

    for (uint32_t i = 0; i < count; i++) {
        d2_value_id v = order[i].id;
        uint64_t size = align_up(lt.bytes[v]), best = UINT64_MAX, best_gap = UINT64_MAX, top = 0;
        uint32_t num_conflicts = 0;
        for (uint32_t k = 0; k < num_placed; k++)
            if (lifetimes_overlap(&lt, v, placed[k])) {
                conflicts[num_conflicts].start = (uint64_t)plan->offsets[placed[k]];
                conflicts[num_conflicts].end = conflicts[num_conflicts].start + align_up(lt.bytes[placed[k]]);
                num_conflicts++;
            }
        qsort(conflicts, num_conflicts, sizeof *conflicts, by_start);
        /* Gaps between the conflicting blocks, in offset order; top tracks the end of
         * everything seen so far (blocks may overlap each other: they need not be
         * live at the same time). */
        for (uint32_t k = 0; k < num_conflicts; k++) {
            uint64_t start = conflicts[k].start, end = conflicts[k].end;
            if (start > top && start - top >= size && start - top < best_gap) {
                best = top;
                best_gap = start - top;
            }
            top = end > top ? end : top;
        }
        if (best == UINT64_MAX)
            best = top;
        plan->offsets[v] = (int64_t)best;
        placed[num_placed++] = v;
        if (best + size > plan->arena_bytes)
            plan->arena_bytes = best + size;
    }
    g->memory_plan = plan;
    if (D2_DEBUG_VERIFY)
        st = d2_memory_plan_check(g, err);
done:
    lifetimes_free(g, &lt);
    d2_free(g->alloc, order);
    d2_free(g->alloc, placed);
    d2_free(g->alloc, conflicts);
    return st;
}

enum d2_status d2_memory_plan_check(const struct d2_graph *g, struct d2_error *err)
{
    const struct d2_memory_plan *plan = g->memory_plan;
    struct lifetimes lt;
    enum d2_status st = D2_OK;
    if (!plan)
        return D2_OK;
    if (plan->num_values != g->num_values)
        return d2_errorf(err, D2_ERR_INTERNAL, "memory plan is for %u values, the graph has %u", plan->num_values,
                         g->num_values);
    if ((st = compute_lifetimes(g, &lt, err)) != D2_OK)
        return st;
    for (d2_value_id v = 0; v < g->num_values && st == D2_OK; v++) {
        int64_t off = plan->offsets[v];
        if (off < 0)
            continue;
        if (lt.bytes[v] == 0 || plan->sizes[v] != lt.bytes[v])
            st = d2_errorf(err, D2_ERR_INTERNAL, "memory plan: value '%s' is planned with %llu bytes but %s",
                           g->values[v].name, (unsigned long long)plan->sizes[v],
                           lt.bytes[v] ? "its type needs another size" : "it cannot be planned");
        else if (off % MEMPLAN_ALIGN != 0 || (uint64_t)off + plan->sizes[v] > plan->arena_bytes)
            st = d2_errorf(err, D2_ERR_INTERNAL, "memory plan: value '%s' at offset %lld is misaligned or outside "
                           "the %llu-byte arena", g->values[v].name, (long long)off,
                           (unsigned long long)plan->arena_bytes);
        for (d2_value_id u = v + 1; u < g->num_values && st == D2_OK; u++) {
            int64_t uo = plan->offsets[u];
            if (uo < 0 || !lifetimes_overlap(&lt, u, v))
                continue;
            if (uo < off + (int64_t)plan->sizes[v] && off < uo + (int64_t)plan->sizes[u])
                st = d2_errorf(err, D2_ERR_INTERNAL,
                               "memory plan: values '%s' and '%s' are live at the same time but overlap in memory",
                               g->values[v].name, g->values[u].name);
        }
    }
    lifetimes_free(g, &lt);
    return st;
}
