/* backends/cpu/executor.c: the reference CPU executor. It interprets a graph node by
 * node, in the graph's (topological) node order.
 *
 * Contract (backends/backend.h, d2_cpu_execute): inputs are borrowed and checked
 * against the graph's declared input types; outputs are newly allocated and owned by
 * the caller. For every node the executor
 *   1. collects the input tensors: graph inputs and constants are borrowed (never
 *      copied), earlier node outputs are the executor's own intermediates;
 *   2. runs the op's shape function on the concrete input types and values, so each
 *      output gets its dtype and, where the shape does not depend on data the shape
 *      function cannot see, its concrete dims;
 *   3. allocates zeroed storage for the outputs whose type is static (control-flow
 *      ops excepted: their outputs come from the region runs), leaves data NULL for
 *      the others (the kernel allocates them, see backends/cpu/cpu.h);
 *   4. calls the op's reference kernel and checks that every output has storage and
 *      agrees with what the shape function promised;
 *   5. frees each intermediate right after its last use (last uses are computed up
 *      front), so peak memory is the live set, not the whole graph.
 * When the graph carries a memory plan (passes/memplan.c), step 3 places each planned
 * output at its offset in one activation arena allocated once per run (zeroed before
 * the kernel, like fresh storage), so planned values cost no malloc and no free.
 * Two shortcuts keep big tensors from being copied or cleared for nothing:
 *   - a node that only relabels dims (reshape, flatten, squeeze, unsqueeze, identity,
 *     and a slice that keeps every element) takes over its input's heap storage when
 *     this node is the input's last reader: no kernel runs, no byte moves;
 *   - outputs of kernels that store every element (ex->writes_every_output) are not
 *     zeroed first.
 * Errors from shape functions and kernels are prefixed with "node '<name>' (<op>): ".
 * Nothing here is fast; it is the reference that other backends are checked against.
 */
#include "executor.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../backend.h"
#include "cpu.h"

/* Marks in last_use[]: a graph output must survive to the end; a value nobody reads
 * is freed right after its producer runs. */
#define LAST_USE_NEVER (-1)
#define LAST_USE_GRAPH_OUTPUT INT32_MAX

/* Everything one graph run allocates, so that every exit path frees it in one place. */
struct run_state {
    const struct d2_allocator *alloc;
    const struct d2_graph *g;
    struct d2_tensor *slots;            /* per value: storage of node outputs */
    const struct d2_tensor **bound;     /* per value: the tensor it currently refers to, or NULL */
    int32_t *last_use;                  /* per value: index of the last node reading it */
    const struct d2_tensor **in_ptrs;   /* per node input (scratch, max over nodes) */
    struct d2_type *in_types;
    const struct d2_type **in_type_ptrs;
    struct d2_type *out_types;          /* per node output (scratch) */
    struct d2_tensor *out_tensors;
    /* The graph's memory plan (passes/memplan.c), when it has a valid one: planned
     * outputs live at their offsets in one arena allocated per run. */
    const struct d2_memory_plan *plan;
    void *arena_block;                  /* as allocated */
    struct d2_arena_cache *arena_cache; /* arena_block belongs to this cache (held busy) */
    uint8_t *arena;                     /* arena_block aligned to ARENA_ALIGN */
};

#define ARENA_ALIGN 64

/* Debug builds fill the storage they do not zero with 0xff bytes, so a kernel that
 * claims to store every element but skips one fails its tests. */
#ifndef D2_EXECUTOR_POISON
#define D2_EXECUTOR_POISON D2_DEBUG_VERIFY
#endif
#ifndef D2_DEBUG_VERIFY
#define D2_DEBUG_VERIFY 0
#endif

/* ---- messages ---------------------------------------------------------- */

/* "f32[1,3,?h,?w]" into buf, for error messages. */
static void format_type(const struct d2_type *t, char *buf, size_t size)
{
    size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, __VA_ARGS__))
    PUT("%s", t->dtype == D2_DTYPE_UNDEFINED ? "?" : d2_dtype_name(t->dtype));
    if (t->rank < 0) {
        PUT("[*]");
        return;
    }
    PUT("[");
    for (int32_t i = 0; i < t->rank && i < D2_MAX_RANK; i++) {
        if (i)
            PUT(",");
        if (t->dims[i] >= 0)
            PUT("%lld", (long long)t->dims[i]);
        else
            PUT("?%s", t->symbols[i] ? t->symbols[i] : "");
    }
    PUT("]");
#undef PUT
}

static void format_tensor_type(const struct d2_tensor *t, char *buf, size_t size)
{
    struct d2_type type;
    d2_type_from_tensor(&type, t);
    format_type(&type, buf, size);
}

/* ---- checking inputs --------------------------------------------------- */

/* A tensor handed in by a caller: rank in range, dims non-negative, byte size
 * consistent, storage present. */
static enum d2_status check_tensor_sane(const struct d2_tensor *t, const char *what, const char *name,
                                        struct d2_error *err)
{
    int64_t numel;
    size_t esize = d2_dtype_size(t->dtype);
    if (esize == 0)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "%s '%s': tensor has no dtype", what, name);
    if (t->rank < 0 || t->rank > D2_MAX_RANK)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "%s '%s': rank %d is out of range 0..%d", what, name,
                         (int)t->rank, D2_MAX_RANK);
    numel = d2_tensor_numel(t);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / esize)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "%s '%s': dims are negative or too large", what, name);
    if (t->nbytes != (size_t)numel * esize)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "%s '%s': holds %zu bytes, its dims need %zu", what, name,
                         t->nbytes, (size_t)numel * esize);
    if (t->nbytes && !t->data)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "%s '%s': tensor has no data", what, name);
    return D2_OK;
}

/* Symbolic dims bound while checking inputs: the same symbol must have the same size
 * in every input that names it. */
struct symbol_binding {
    const char *symbol;
    int64_t size;
    uint32_t input;
};

static enum d2_status check_inputs(const struct d2_graph *g, const struct d2_tensor *inputs,
                                   const struct d2_allocator *alloc, struct d2_error *err)
{
    struct symbol_binding *bindings;
    uint32_t num_bindings = 0;
    enum d2_status st = D2_OK;
    char want[160], got[160];

    bindings = d2_calloc(alloc, (size_t)g->num_inputs * D2_MAX_RANK + 1, sizeof *bindings);
    if (!bindings)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory checking inputs");
    for (uint32_t i = 0; i < g->num_inputs && st == D2_OK; i++) {
        const struct d2_value *v = &g->values[g->inputs[i]];
        const struct d2_type *decl = &v->type;
        const struct d2_tensor *t = &inputs[i];
        st = check_tensor_sane(t, "input", v->name, err);
        if (st != D2_OK)
            break;
        format_type(decl, want, sizeof want);
        format_tensor_type(t, got, sizeof got);
        if (decl->dtype != D2_DTYPE_UNDEFINED && decl->dtype != t->dtype) {
            st = d2_errorf(err, D2_ERR_INVALID_ARG, "input %u '%s': expected dtype %s (%s), got %s (%s)", i,
                           v->name, d2_dtype_name(decl->dtype), want, d2_dtype_name(t->dtype), got);
            break;
        }
        if (decl->rank < 0)
            continue;
        /* A region's inputs come from the enclosing graph, not from the user, and a
         * loop-carried value may legitimately change shape from one iteration to the
         * next (ONNX allows it; exporters still declare the first iteration's shape).
         * So inside a region only dtype and rank are checked: the kernels re-derive
         * every shape from the concrete tensors anyway. */
        if (g->parent && decl->rank == t->rank)
            continue;
        if (decl->rank != t->rank) {
            st = d2_errorf(err, D2_ERR_INVALID_ARG, "input %u '%s': expected rank %d (%s), got rank %d (%s)", i,
                           v->name, (int)decl->rank, want, (int)t->rank, got);
            break;
        }
        for (int32_t d = 0; d < decl->rank && st == D2_OK; d++) {
            if (decl->dims[d] >= 0 && decl->dims[d] != t->dims[d]) {
                st = d2_errorf(err, D2_ERR_INVALID_ARG, "input %u '%s': dim %d must be %lld (%s), got %lld (%s)",
                               i, v->name, (int)d, (long long)decl->dims[d], want, (long long)t->dims[d], got);
            } else if (decl->dims[d] < 0 && decl->upper_bounds[d] >= 0 && t->dims[d] > decl->upper_bounds[d]) {
                st = d2_errorf(err, D2_ERR_INVALID_ARG, "input %u '%s': dim %d is %lld, above its bound %lld (%s)",
                               i, v->name, (int)d, (long long)t->dims[d], (long long)decl->upper_bounds[d], want);
            } else if (decl->dims[d] < 0 && decl->symbols[d]) {
                uint32_t b;
                for (b = 0; b < num_bindings; b++)
                    if (strcmp(bindings[b].symbol, decl->symbols[d]) == 0)
                        break;
                if (b == num_bindings) {
                    bindings[num_bindings].symbol = decl->symbols[d];
                    bindings[num_bindings].size = t->dims[d];
                    bindings[num_bindings].input = i;
                    num_bindings++;
                } else if (bindings[b].size != t->dims[d]) {
                    st = d2_errorf(err, D2_ERR_INVALID_ARG,
                                   "input %u '%s': dim '%s' is %lld here but %lld in input %u '%s'", i, v->name,
                                   decl->symbols[d], (long long)t->dims[d], (long long)bindings[b].size,
                                   bindings[b].input, g->values[g->inputs[bindings[b].input]].name);
                }
            }
        }
    }
    d2_free(alloc, bindings);
    return st;
}

/* ---- the run ------------------------------------------------------------- */

static void run_state_free(struct run_state *rs)
{
    const struct d2_allocator *a = rs->alloc;
    if (rs->slots)
        for (uint32_t v = 0; v < rs->g->num_values; v++)
            d2_tensor_release(&rs->slots[v], a);
    d2_free(a, rs->slots);
    d2_free(a, (void *)rs->bound);
    d2_free(a, rs->last_use);
    d2_free(a, (void *)rs->in_ptrs);
    d2_free(a, rs->in_types);
    d2_free(a, (void *)rs->in_type_ptrs);
    d2_free(a, rs->out_types);
    d2_free(a, rs->out_tensors);
    if (rs->arena_cache)
        atomic_flag_clear(&rs->arena_cache->busy);
    else
        d2_free(a, rs->arena_block);
}

void d2_arena_cache_release(struct d2_arena_cache *cache)
{
    if (cache && cache->block) {
        d2_free(cache->alloc, cache->block);
        cache->block = NULL;
        cache->bytes = 0;
    }
}

/* One allocation for every planned value of this run. A plan made for another
 * version of the graph (value count differs) is ignored. */
static enum d2_status arena_init(struct run_state *rs, struct d2_arena_cache *cache, const struct d2_graph *g,
                                 struct d2_error *err)
{
    const struct d2_memory_plan *plan = g->memory_plan;
    size_t bytes;
    if (!plan || plan->num_values != g->num_values || plan->arena_bytes == 0 ||
        plan->arena_bytes > SIZE_MAX - ARENA_ALIGN)
        return D2_OK;
    bytes = (size_t)plan->arena_bytes + ARENA_ALIGN;
    if (cache && !atomic_flag_test_and_set(&cache->busy)) {
        if (cache->block && (cache->bytes < bytes || cache->alloc != rs->alloc))
            d2_arena_cache_release(cache);
        if (!cache->block) {
            cache->block = d2_alloc(rs->alloc, bytes);
            cache->bytes = cache->block ? bytes : 0;
            cache->alloc = rs->alloc;
        }
        if (!cache->block) {
            atomic_flag_clear(&cache->busy);
        } else {
            rs->arena_block = cache->block;
            rs->arena_cache = cache;
        }
    } else {
        rs->arena_block = d2_alloc(rs->alloc, bytes);
    }
    if (!rs->arena_block)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory allocating the %llu-byte activation arena",
                         (unsigned long long)plan->arena_bytes);
    rs->arena = (uint8_t *)(((uintptr_t)rs->arena_block + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
    rs->plan = plan;
    return D2_OK;
}

/* Storage for output value v of static type t: its planned place in the arena when
 * the plan has one of exactly this size (zeroed, borrowed: owns_data false), else
 * the heap. */
static enum d2_status alloc_output(struct run_state *rs, d2_value_id v, const struct d2_type *t, bool zero,
                                   struct d2_tensor *out, struct d2_error *err)
{
    int64_t numel = d2_type_numel(t);
    size_t esize = d2_dtype_size(t->dtype);
    if (rs->plan && rs->plan->offsets[v] >= 0 && numel >= 0 && esize &&
        (uint64_t)numel <= UINT64_MAX / esize && (uint64_t)numel * esize == rs->plan->sizes[v]) {
        memset(out, 0, sizeof *out);
        out->dtype = t->dtype;
        out->rank = t->rank;
        for (int32_t d = 0; d < t->rank; d++)
            out->dims[d] = t->dims[d];
        out->nbytes = (size_t)rs->plan->sizes[v];
        out->data = rs->arena + rs->plan->offsets[v];
        out->owns_data = false;
        if (zero)
            memset(out->data, 0, out->nbytes);
        else if (D2_EXECUTOR_POISON)
            memset(out->data, 0xff, out->nbytes); /* NaN / -1: a kernel that skips an element shows */
        return D2_OK;
    }
    if (zero)
        return d2_tensor_alloc(out, rs->alloc, t->dtype, t->rank, t->dims, err);
    {
        enum d2_status st = d2_tensor_alloc_uninitialized(out, rs->alloc, t->dtype, t->rank, t->dims, err);
        if (st == D2_OK && D2_EXECUTOR_POISON)
            memset(out->data, 0xff, out->nbytes);
        return st;
    }
}

/* ---- relabelling nodes take over their input's storage ------------------------------ */

/* Does node n only relabel the dims of input 0 (same elements, same order)? A slice
 * does when every axis keeps all its elements in order: output dims equal the input's
 * and every step is 1 (a full-length step -1 slice reverses). */
static bool relabels_input(const struct d2_node *n, const struct d2_tensor *const *inputs,
                           const struct d2_type *out)
{
    const struct d2_tensor *x = inputs[0];
    switch (n->op) {
    case D2_OP_RESHAPE:
    case D2_OP_FLATTEN:
    case D2_OP_SQUEEZE:
    case D2_OP_UNSQUEEZE:
    case D2_OP_IDENTITY:
        return true;
    case D2_OP_SLICE:
        if (out->rank != x->rank)
            return false;
        for (int32_t d = 0; d < x->rank; d++)
            if (out->dims[d] != x->dims[d])
                return false;
        if (n->num_inputs > 4 && inputs[4]) {
            for (int64_t i = 0; i < d2_tensor_numel(inputs[4]); i++)
                if (d2_tensor_get_i64(inputs[4], (size_t)i) != 1)
                    return false;
        }
        return true;
    default:
        return false;
    }
}

/* Move input 0's storage to the node's single output when the node only relabels it,
 * the input is a heap intermediate of this graph (not a graph input, constant or
 * arena slot) that this node reads for the last time, and only once. Returns true
 * when it did (the kernel is then skipped). */
static bool take_over_input(struct run_state *rs, const struct d2_node *n, uint32_t index,
                            const struct d2_type *out_type, struct d2_tensor *out)
{
    const struct d2_graph *g = rs->g;
    d2_value_id v = n->num_inputs ? n->inputs[0] : D2_NO_VALUE;
    struct d2_tensor *slot;
    if (n->num_outputs != 1 || v == D2_NO_VALUE || g->values[v].producer < 0 || rs->last_use[v] != (int32_t)index)
        return false;
    slot = &rs->slots[v];
    if (rs->bound[v] != slot || !slot->owns_data || !d2_type_is_static(out_type) || out_type->dtype != slot->dtype ||
        d2_type_numel(out_type) != d2_tensor_numel(slot))
        return false;
    for (uint32_t k = 1; k < n->num_inputs; k++)
        if (n->inputs[k] == v)
            return false;
    if (!relabels_input(n, rs->in_ptrs, out_type))
        return false;
    *out = *slot;
    out->rank = out_type->rank;
    for (int32_t d = 0; d < out_type->rank; d++)
        out->dims[d] = out_type->dims[d];
    memset(slot, 0, sizeof *slot);
    rs->bound[v] = NULL;
    return true;
}

/* Check every node has a kernel and a shape function before computing anything,
 * so an unsupported model fails at once with the op named. */
static d2_cpu_kernel_fn kernel_of(const struct d2_executor *ex, enum d2_op op)
{
    return ex->kernel_for ? ex->kernel_for(op) : d2_cpu_ref_kernel(op);
}

static enum d2_status check_supported(const struct d2_executor *ex, const struct d2_graph *g,
                                      struct d2_error *err)
{
    for (uint32_t i = 0; i < g->num_nodes; i++) {
        const struct d2_node *n = &g->nodes[i];
        if (!d2_op_info(n->op))
            return d2_errorf(err, D2_ERR_INTERNAL, "node '%s': invalid op %d", n->name, (int)n->op);
        if (!kernel_of(ex, n->op))
            return d2_errorf(err, D2_ERR_UNSUPPORTED, "node '%s' (%s): op '%s' has no CPU kernel", n->name,
                             d2_op_name(n->op), d2_op_name(n->op));
        if (!d2_shape_function(n->op))
            return d2_errorf(err, D2_ERR_UNSUPPORTED, "node '%s' (%s): op '%s' has no shape function", n->name,
                             d2_op_name(n->op), d2_op_name(n->op));
    }
    return D2_OK;
}

static enum d2_status run_state_init(struct run_state *rs, const struct d2_graph *g,
                                     const struct d2_tensor *inputs, struct d2_error *err)
{
    const struct d2_allocator *a = rs->alloc;
    uint32_t max_in = 1, max_out = 1;

    for (uint32_t i = 0; i < g->num_nodes; i++) {
        if (g->nodes[i].num_inputs > max_in)
            max_in = g->nodes[i].num_inputs;
        if (g->nodes[i].num_outputs > max_out)
            max_out = g->nodes[i].num_outputs;
    }
    rs->slots = d2_calloc(a, g->num_values + 1u, sizeof *rs->slots);
    rs->bound = d2_calloc(a, g->num_values + 1u, sizeof *rs->bound);
    rs->last_use = d2_calloc(a, g->num_values + 1u, sizeof *rs->last_use);
    rs->in_ptrs = d2_calloc(a, max_in, sizeof *rs->in_ptrs);
    rs->in_types = d2_calloc(a, max_in, sizeof *rs->in_types);
    rs->in_type_ptrs = d2_calloc(a, max_in, sizeof *rs->in_type_ptrs);
    rs->out_types = d2_calloc(a, max_out, sizeof *rs->out_types);
    rs->out_tensors = d2_calloc(a, max_out, sizeof *rs->out_tensors);
    if (!rs->slots || !rs->bound || !rs->last_use || !rs->in_ptrs || !rs->in_types || !rs->in_type_ptrs ||
        !rs->out_types || !rs->out_tensors)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory preparing to run the graph");

    for (uint32_t v = 0; v < g->num_values; v++) {
        rs->last_use[v] = LAST_USE_NEVER;
        if (g->values[v].constant >= 0)
            rs->bound[v] = &g->constants[g->values[v].constant];
    }
    for (uint32_t i = 0; i < g->num_inputs; i++)
        rs->bound[g->inputs[i]] = &inputs[i];
    for (uint32_t i = 0; i < g->num_nodes; i++) {
        const struct d2_node *n = &g->nodes[i];
        for (uint32_t k = 0; k < n->num_inputs; k++) {
            d2_value_id v = n->inputs[k];
            if (v == D2_NO_VALUE)
                continue;
            if (v >= g->num_values)
                return d2_errorf(err, D2_ERR_INTERNAL, "node '%s' (%s): input %u refers to value %u of %u",
                                 n->name, d2_op_name(n->op), k, v, g->num_values);
            rs->last_use[v] = (int32_t)i;
        }
        for (uint32_t k = 0; k < n->num_outputs; k++)
            if (n->outputs[k] >= g->num_values)
                return d2_errorf(err, D2_ERR_INTERNAL, "node '%s' (%s): output %u refers to value %u of %u",
                                 n->name, d2_op_name(n->op), k, n->outputs[k], g->num_values);
    }
    for (uint32_t k = 0; k < g->num_outputs; k++) {
        if (g->outputs[k] >= g->num_values)
            return d2_errorf(err, D2_ERR_INTERNAL, "graph output %u refers to value %u of %u", k, g->outputs[k],
                             g->num_values);
        rs->last_use[g->outputs[k]] = LAST_USE_GRAPH_OUTPUT;
    }
    return D2_OK;
}

/* After the kernel: every output has a dtype and storage that fits its dims, and
 * agrees with what the shape function promised (a disagreement is a d2rt bug in
 * one of the two). */
static enum d2_status check_kernel_outputs(const struct d2_node *n, const struct d2_tensor *outs,
                                           const struct d2_type *promised, struct d2_error *err)
{
    for (uint32_t j = 0; j < n->num_outputs; j++) {
        const struct d2_tensor *t = &outs[j];
        const struct d2_type *p = &promised[j];
        size_t esize = d2_dtype_size(t->dtype);
        int64_t numel = (t->rank >= 0 && t->rank <= D2_MAX_RANK) ? d2_tensor_numel(t) : -1;
        char want[160], got[160];
        if (esize == 0 || numel < 0 || t->nbytes != (size_t)numel * esize || (t->nbytes && !t->data))
            return d2_errorf(err, D2_ERR_INTERNAL, "kernel left output %u without valid storage", j);
        format_type(p, want, sizeof want);
        format_tensor_type(t, got, sizeof got);
        if (p->dtype != D2_DTYPE_UNDEFINED && p->dtype != t->dtype)
            return d2_errorf(err, D2_ERR_INTERNAL, "kernel output %u is %s but the shape function said %s", j, got,
                             want);
        if (p->rank >= 0) {
            bool same = p->rank == t->rank;
            for (int32_t d = 0; same && d < p->rank; d++)
                if ((p->dims[d] >= 0 && p->dims[d] != t->dims[d]) ||
                    (p->dims[d] < 0 && p->upper_bounds[d] >= 0 && t->dims[d] > p->upper_bounds[d]))
                    same = false;
            if (!same)
                return d2_errorf(err, D2_ERR_INTERNAL, "kernel output %u is %s but the shape function said %s", j,
                                 got, want);
        }
    }
    return D2_OK;
}

static enum d2_status run_node(struct d2_executor *ex, struct run_state *rs, uint32_t index, struct d2_error *err)
{
    const struct d2_graph *g = rs->g;
    const struct d2_node *n = &g->nodes[index];
    const struct d2_op_info *info = d2_op_info(n->op);
    struct d2_shape_ctx sctx;
    struct d2_kernel_ctx kctx;
    enum d2_status st;
    bool zero;

    for (uint32_t k = 0; k < n->num_inputs; k++) {
        d2_value_id v = n->inputs[k];
        rs->in_ptrs[k] = NULL;
        rs->in_type_ptrs[k] = NULL;
        if (v == D2_NO_VALUE)
            continue;
        if (!rs->bound[v])
            return d2_errorf(err, D2_ERR_INTERNAL, "node '%s' (%s): input %u '%s' is read before it is computed",
                             n->name, d2_op_name(n->op), k, g->values[v].name);
        rs->in_ptrs[k] = rs->bound[v];
        d2_type_from_tensor(&rs->in_types[k], rs->bound[v]);
        rs->in_type_ptrs[k] = &rs->in_types[k];
    }
    for (uint32_t j = 0; j < n->num_outputs; j++) {
        d2_type_init_unknown(&rs->out_types[j]);
        memset(&rs->out_tensors[j], 0, sizeof rs->out_tensors[j]);
    }

    memset(&sctx, 0, sizeof sctx);
    sctx.node = n;
    sctx.num_inputs = n->num_inputs;
    sctx.input_types = rs->in_type_ptrs;
    sctx.input_values = rs->in_ptrs;
    sctx.num_outputs = n->num_outputs;
    sctx.output_types = rs->out_types;
    sctx.err = err;
    st = d2_shape_function(n->op)(&sctx);
    if (st != D2_OK)
        goto fail;

    memset(&kctx, 0, sizeof kctx);
    kctx.node = n;
    kctx.alloc = rs->alloc;
    kctx.err = err;
    kctx.num_inputs = n->num_inputs;
    kctx.inputs = rs->in_ptrs;
    kctx.num_outputs = n->num_outputs;
    kctx.outputs = rs->out_tensors;
    kctx.executor = ex;
    if (take_over_input(rs, n, index, &rs->out_types[0], &rs->out_tensors[0])) {
        if (ex->observe_node)
            ex->observe_node(ex->observe_user, &kctx, 0.0); /* no kernel ran: no time */
        goto outputs_ready;
    }
    zero = !(ex->writes_every_output && ex->writes_every_output(n->op));
    for (uint32_t j = 0; j < n->num_outputs; j++) {
        const struct d2_type *t = &rs->out_types[j];
        struct d2_tensor *out = &rs->out_tensors[j];
        if (d2_type_is_static(t) && t->dtype != D2_DTYPE_UNDEFINED && !(info->flags & D2_OPF_CONTROL)) {
            st = alloc_output(rs, n->outputs[j], t, zero, out, err);
            if (st != D2_OK)
                goto fail;
        } else {
            /* The kernel allocates it; describe what is known. */
            out->dtype = t->dtype;
            out->rank = t->rank >= 0 ? t->rank : 0;
            for (int32_t d = 0; d < out->rank; d++)
                out->dims[d] = t->dims[d];
        }
    }

    if (ex->observe_node) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        st = kernel_of(ex, n->op)(&kctx);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (st == D2_OK)
            ex->observe_node(ex->observe_user, &kctx,
                             (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    } else {
        st = kernel_of(ex, n->op)(&kctx);
    }
    if (st == D2_OK)
        st = check_kernel_outputs(n, rs->out_tensors, rs->out_types, err);
    if (st != D2_OK)
        goto fail;

outputs_ready:
    /* Hand the outputs to their values; drop the ones nobody reads. */
    for (uint32_t j = 0; j < n->num_outputs; j++) {
        d2_value_id v = n->outputs[j];
        rs->slots[v] = rs->out_tensors[j];
        memset(&rs->out_tensors[j], 0, sizeof rs->out_tensors[j]);
        rs->bound[v] = &rs->slots[v];
        if (rs->last_use[v] == LAST_USE_NEVER) {
            d2_tensor_release(&rs->slots[v], rs->alloc);
            rs->bound[v] = NULL;
        }
    }
    /* Free intermediates this node was the last to read. */
    for (uint32_t k = 0; k < n->num_inputs; k++) {
        d2_value_id v = n->inputs[k];
        if (v != D2_NO_VALUE && g->values[v].producer >= 0 && rs->last_use[v] == (int32_t)index) {
            d2_tensor_release(&rs->slots[v], rs->alloc);
            rs->bound[v] = NULL;
        }
    }
    return D2_OK;

fail:
    for (uint32_t j = 0; j < n->num_outputs; j++)
        d2_tensor_release(&rs->out_tensors[j], rs->alloc);
    /* Failures the executor itself detects already carry no prefix; errors of
     * shape functions and kernels get the node named here. */
    d2_error_prefix(err, "node '%s' (%s): ", n->name, d2_op_name(n->op));
    return st;
}

enum d2_status d2_executor_run(struct d2_executor *ex, const struct d2_graph *g,
                               const struct d2_tensor *inputs, uint32_t num_inputs,
                               struct d2_tensor *outputs, uint32_t num_outputs, struct d2_error *err)
{
    struct run_state rs;
    enum d2_status st;
    uint32_t filled = 0;

    if (!g || (num_inputs && !inputs) || (num_outputs && !outputs))
        return d2_errorf(err, D2_ERR_INVALID_ARG, "executor called with a NULL graph, inputs or outputs");
    if (num_inputs != g->num_inputs)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "the graph takes %u inputs, got %u", g->num_inputs, num_inputs);
    if (num_outputs != g->num_outputs)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "the graph has %u outputs, %u were asked for", g->num_outputs,
                         num_outputs);
    if (ex->depth > D2_EXECUTOR_MAX_DEPTH)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "regions nest deeper than %d levels", D2_EXECUTOR_MAX_DEPTH);
    memset(outputs, 0, sizeof *outputs * num_outputs);
    st = check_supported(ex, g, err);
    if (st == D2_OK)
        st = check_inputs(g, inputs, ex->alloc, err);
    if (st != D2_OK)
        return st;

    memset(&rs, 0, sizeof rs);
    rs.alloc = ex->alloc;
    rs.g = g;
    st = run_state_init(&rs, g, inputs, err);
    if (st == D2_OK)
        st = arena_init(&rs, ex->depth == 0 ? ex->arena_cache : NULL, g, err);
    for (uint32_t i = 0; st == D2_OK && i < g->num_nodes; i++)
        st = run_node(ex, &rs, i, err);

    /* Outputs: move a node's result out (the first time it is listed), copy graph
     * inputs, constants and repeated outputs. */
    for (; st == D2_OK && filled < num_outputs; filled++) {
        d2_value_id v = g->outputs[filled];
        const struct d2_tensor *src = rs.bound[v];
        if (!src) {
            st = d2_errorf(err, D2_ERR_INTERNAL, "graph output %u '%s' is never computed", filled, g->values[v].name);
            break;
        }
        if (src == &rs.slots[v] && rs.slots[v].owns_data) {
            outputs[filled] = rs.slots[v];
            memset(&rs.slots[v], 0, sizeof rs.slots[v]);
            rs.bound[v] = &outputs[filled];
        } else {
            st = d2_tensor_copy(&outputs[filled], src, ex->alloc, err);
            if (st != D2_OK)
                break;
        }
    }
    if (st != D2_OK)
        for (uint32_t k = 0; k < num_outputs; k++)
            d2_tensor_release(&outputs[k], ex->alloc);
    else if (ex->output_escapes && ex->depth == 0)
        for (uint32_t k = 0; k < num_outputs; k++)
            if (outputs[k].owns_data)
                ex->output_escapes(ex->escape_user, outputs[k].data);
    run_state_free(&rs);
    return st;
}

enum d2_status d2_cpu_execute(const struct d2_graph *g, const struct d2_tensor *inputs, uint32_t num_inputs,
                              struct d2_tensor *outputs, uint32_t num_outputs, const struct d2_allocator *alloc,
                              struct d2_error *err)
{
    struct d2_executor ex;
    ex.alloc = alloc ? alloc : d2_allocator_default();
    ex.depth = 0;
    ex.kernel_for = NULL;
    ex.kernel_data = NULL;
    ex.writes_every_output = NULL;
    ex.arena_cache = NULL;
    ex.output_escapes = NULL;
    ex.escape_user = NULL;
    ex.observe_node = NULL;
    ex.observe_user = NULL;
    return d2_executor_run(&ex, g, inputs, num_inputs, outputs, num_outputs, err);
}
