/* passes/cse.c: common subexpression elimination.
 *
 * Two values that are certainly equal are merged: readers of the later one read the
 * earlier one, and the later producer is left unread for dce to remove.
 *   - Constants: same dtype, dims and bytes (traced graphs repeat the same small
 *     index constants hundreds of times; merging them is what lets the nodes that
 *     read them merge too).
 *   - Nodes: same op, same inputs (after earlier merges), same output count and equal
 *     attributes (every field of the op's attribute struct, floats bit for bit).
 *     Ops are pure, so equal inputs give equal outputs. Control-flow nodes and nodes
 *     with regions are never merged (their regions are cleaned recursively instead).
 * A value that is a graph output is never the one replaced: its name is the model's
 * output name. Lookups go through a hash table keyed by (op, inputs, attributes) or
 * the constant's bytes, so the pass is linear in the graph size.
 */
#include "passes.h"

#include <string.h>
#include <xxhash.h>


/* Open-addressing table of candidates: an entry holds index + 1 (0 = empty). */
struct table {
    uint64_t *hashes;
    uint32_t *entries;
    uint32_t mask;
};

static bool table_init(struct table *t, const struct d2_allocator *a, uint32_t items)
{
    uint32_t size = 16;
    while (size < 2 * items + 2)
        size *= 2;
    t->mask = size - 1;
    t->hashes = d2_calloc(a, size, sizeof *t->hashes);
    t->entries = d2_calloc(a, size, sizeof *t->entries);
    return t->hashes && t->entries;
}

static void table_free(struct table *t, const struct d2_allocator *a)
{
    d2_free(a, t->hashes);
    d2_free(a, t->entries);
}

static bool is_graph_output(const struct d2_graph *g, d2_value_id v)
{
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

/* ---- constants ----------------------------------------------------------- */

static uint64_t hash_tensor(const struct d2_tensor *t)
{
    uint64_t h = XXH64(t->dims, sizeof t->dims[0] * (size_t)t->rank, (uint64_t)t->dtype * 31u + (uint64_t)t->rank);
    return t->nbytes ? XXH64(t->data, t->nbytes, h) : h;
}

static bool same_tensor(const struct d2_tensor *a, const struct d2_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes)
        return false;
    if (memcmp(a->dims, b->dims, sizeof a->dims[0] * (size_t)a->rank) != 0)
        return false;
    return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
}

/* forward[v]: the value v's readers read instead (v itself when none). Readers are
 * rewritten as they are visited, so the pass stays linear. */
static enum d2_status merge_constants(struct d2_graph *g, d2_value_id *forward, struct d2_error *err)
{
    struct table t;
    if (!table_init(&t, g->alloc, g->num_values)) {
        table_free(&t, g->alloc);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory in cse");
    }
    for (d2_value_id v = 0; v < g->num_values; v++) {
        const struct d2_tensor *c = d2_graph_constant_of(g, v);
        uint64_t h;
        uint32_t slot;
        if (!c)
            continue;
        h = hash_tensor(c);
        for (slot = (uint32_t)h & t.mask; t.entries[slot]; slot = (slot + 1) & t.mask) {
            d2_value_id earlier = t.entries[slot] - 1;
            if (t.hashes[slot] == h && same_tensor(d2_graph_constant_of(g, earlier), c))
                break;
        }
        if (!t.entries[slot]) {
            t.entries[slot] = v + 1;
            t.hashes[slot] = h;
        } else if (!is_graph_output(g, v)) {
            forward[v] = t.entries[slot] - 1;
        }
    }
    table_free(&t, g->alloc);
    return D2_OK;
}

/* ---- nodes --------------------------------------------------------------- */

static uint64_t hash_attrs(const struct d2_node *n, uint64_t h)
{
    const struct d2_attr_schema *s = d2_attr_schema_get(d2_op_info(n->op)->attrs);
    const char *base = n->attrs;
    for (uint32_t f = 0; s && f < s->num_fields; f++) {
        const struct d2_attr_field *field = &s->fields[f];
        const char *p = base + field->offset;
        switch (field->kind) {
        case D2_FIELD_INT: h = XXH64(p, sizeof(int64_t), h); break;
        case D2_FIELD_FLOAT: h = XXH64(p, sizeof(double), h); break;
        case D2_FIELD_ENUM: h = XXH64(p, sizeof(int32_t), h); break;
        case D2_FIELD_DTYPE: h = XXH64(p, sizeof(enum d2_dtype), h); break;
        case D2_FIELD_INTS: {
            const struct d2_ints *v = (const void *)p;
            h = XXH64(v->data, v->count * sizeof *v->data, h + v->count);
            break;
        }
        case D2_FIELD_FLOATS: {
            const struct d2_floats *v = (const void *)p;
            h = XXH64(v->data, v->count * sizeof *v->data, h + v->count);
            break;
        }
        case D2_FIELD_STRING: {
            const char *v = *(const char *const *)p;
            h = v ? XXH64(v, strlen(v), h) : h + 1;
            break;
        }
        }
    }
    return h;
}

static bool same_attrs(const struct d2_node *a, const struct d2_node *b)
{
    const struct d2_attr_schema *s = d2_attr_schema_get(d2_op_info(a->op)->attrs);
    const char *pa = a->attrs, *pb = b->attrs;
    for (uint32_t f = 0; s && f < s->num_fields; f++) {
        const struct d2_attr_field *field = &s->fields[f];
        const char *x = pa + field->offset, *y = pb + field->offset;
        switch (field->kind) {
        case D2_FIELD_INT:
            if (memcmp(x, y, sizeof(int64_t)) != 0)
                return false;
            break;
        case D2_FIELD_FLOAT: /* bit for bit: -0 and NaN payloads differ */
            if (memcmp(x, y, sizeof(double)) != 0)
                return false;
            break;
        case D2_FIELD_ENUM:
            if (memcmp(x, y, sizeof(int32_t)) != 0)
                return false;
            break;
        case D2_FIELD_DTYPE:
            if (memcmp(x, y, sizeof(enum d2_dtype)) != 0)
                return false;
            break;
        case D2_FIELD_INTS: {
            const struct d2_ints *u = (const void *)x, *v = (const void *)y;
            if (u->count != v->count || (u->count && memcmp(u->data, v->data, u->count * sizeof *u->data) != 0))
                return false;
            break;
        }
        case D2_FIELD_FLOATS: {
            const struct d2_floats *u = (const void *)x, *v = (const void *)y;
            if (u->count != v->count || (u->count && memcmp(u->data, v->data, u->count * sizeof *u->data) != 0))
                return false;
            break;
        }
        case D2_FIELD_STRING: {
            const char *u = *(const char *const *)x, *v = *(const char *const *)y;
            if ((u == NULL) != (v == NULL) || (u && strcmp(u, v) != 0))
                return false;
            break;
        }
        }
    }
    return true;
}

static bool mergeable(const struct d2_node *n)
{
    const struct d2_op_info *info = d2_op_info(n->op);
    return info && !(info->flags & D2_OPF_CONTROL) && n->num_regions == 0 && n->num_outputs > 0;
}

static uint64_t hash_node(const struct d2_node *n)
{
    uint64_t h = XXH64(n->inputs, n->num_inputs * sizeof *n->inputs, (uint64_t)n->op * 1000003u + n->num_outputs);
    return hash_attrs(n, h);
}

static bool same_node(const struct d2_node *a, const struct d2_node *b)
{
    return a->op == b->op && a->num_inputs == b->num_inputs && a->num_outputs == b->num_outputs &&
           memcmp(a->inputs, b->inputs, a->num_inputs * sizeof *a->inputs) == 0 && same_attrs(a, b);
}

static enum d2_status merge_nodes(struct d2_graph *g, d2_value_id *forward, struct d2_error *err)
{
    struct table t;
    if (!table_init(&t, g->alloc, g->num_nodes)) {
        table_free(&t, g->alloc);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory in cse");
    }
    for (uint32_t i = 0; i < g->num_nodes; i++) {
        struct d2_node *n = &g->nodes[i];
        const struct d2_node *earlier;
        bool keeps_output_name = false;
        uint64_t h;
        uint32_t slot;
        for (uint32_t k = 0; k < n->num_inputs; k++)
            if (n->inputs[k] < g->num_values)
                n->inputs[k] = forward[n->inputs[k]];
        if (!mergeable(n))
            continue;
        h = hash_node(n);
        for (slot = (uint32_t)h & t.mask; t.entries[slot]; slot = (slot + 1) & t.mask)
            if (t.hashes[slot] == h && same_node(&g->nodes[t.entries[slot] - 1], n))
                break;
        if (!t.entries[slot]) {
            t.entries[slot] = i + 1;
            t.hashes[slot] = h;
            continue;
        }
        earlier = &g->nodes[t.entries[slot] - 1];
        for (uint32_t j = 0; j < n->num_outputs; j++)
            keeps_output_name = keeps_output_name || is_graph_output(g, n->outputs[j]);
        if (keeps_output_name)
            continue;
        for (uint32_t j = 0; j < n->num_outputs; j++)
            forward[n->outputs[j]] = earlier->outputs[j];
    }
    table_free(&t, g->alloc);
    return D2_OK;
}

enum d2_status d2_pass_cse(struct d2_graph *g, struct d2_error *err)
{
    d2_value_id *forward;
    enum d2_status st;
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
            if ((st = d2_pass_cse(g->nodes[n].regions[r], err)) != D2_OK)
                return st;
    forward = d2_calloc(g->alloc, g->num_values + 1, sizeof *forward);
    if (!forward)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory in cse");
    for (d2_value_id v = 0; v < g->num_values; v++)
        forward[v] = v;
    st = merge_constants(g, forward, err);
    if (st == D2_OK)
        st = merge_nodes(g, forward, err);
    d2_free(g->alloc, forward);
    return st;
}
