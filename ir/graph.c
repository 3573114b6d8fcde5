/* ir/graph.c: building graphs: values, constants, inputs, outputs, nodes, regions. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

/* Grow a heap array held by the graph to hold at least `need` elements. */
static bool grow_array(struct d2_graph *g, void **array, uint32_t *cap, uint32_t need, size_t elem)
{
    uint32_t new_cap;
    void *p;
    if (need <= *cap)
        return true;
    new_cap = *cap ? *cap : 16;
    while (new_cap < need) {
        if (new_cap > UINT32_MAX / 2)
            return false;
        new_cap *= 2;
    }
    if ((size_t)new_cap > SIZE_MAX / elem)
        return false;
    p = d2_realloc(g->alloc, *array, (size_t)new_cap * elem);
    if (!p)
        return false;
    *array = p;
    *cap = new_cap;
    return true;
}

#define GROW(g, arr, cap, need, err)                                                      \
    (grow_array((g), (void **)&(arr), &(cap), (need), sizeof *(arr))                      \
         ? true                                                                           \
         : (d2_errorf((err), D2_ERR_NOMEM, "out of memory growing the graph"), false))

struct d2_graph *d2_graph_new(const struct d2_allocator *alloc, struct d2_error *err)
{
    struct d2_graph *g;
    if (!alloc)
        alloc = d2_allocator_default();
    g = d2_calloc(alloc, 1, sizeof *g);
    if (!g) {
        d2_errorf(err, D2_ERR_NOMEM, "out of memory creating a graph");
        return NULL;
    }
    g->alloc = alloc;
    d2_arena_init(&g->arena, alloc);
    return g;
}

void d2_graph_free(struct d2_graph *g)
{
    if (!g)
        return;
    for (uint32_t i = 0; i < g->num_nodes; i++)
        for (uint32_t r = 0; r < g->nodes[i].num_regions; r++)
            d2_graph_free(g->nodes[i].regions[r]);
    for (uint32_t i = 0; i < g->num_constants; i++)
        d2_tensor_release(&g->constants[i], g->alloc);
    d2_free(g->alloc, g->nodes);
    d2_free(g->alloc, g->values);
    d2_free(g->alloc, g->constants);
    d2_free(g->alloc, g->inputs);
    d2_free(g->alloc, g->outputs);
    d2_free(g->alloc, g->metadata);
    d2_arena_deinit(&g->arena);
    if (g->backing_release)
        g->backing_release(g->backing);
    d2_free(g->alloc, g);
}

const char *d2_graph_intern(struct d2_graph *g, const char *s)
{
    return d2_arena_strdup(&g->arena, s ? s : "");
}

d2_value_id d2_graph_add_value(struct d2_graph *g, const char *name, const struct d2_type *type,
                               struct d2_error *err)
{
    struct d2_value *v;
    char generated[32];
    if (!GROW(g, g->values, g->cap_values, g->num_values + 1, err))
        return D2_NO_VALUE;
    if (!name || !*name) {
        /* "_t<N>": frontends never produce a leading underscore+t+digits name that
         * clashes, and d2_graph_find_value below guards the rare case anyway. */
        do {
            snprintf(generated, sizeof generated, "_t%u", g->next_auto_name++);
        } while (d2_graph_find_value(g, generated) != D2_NO_VALUE);
        name = generated;
    }
    v = &g->values[g->num_values];
    memset(v, 0, sizeof *v);
    v->name = d2_graph_intern(g, name);
    if (!v->name) {
        d2_errorf(err, D2_ERR_NOMEM, "out of memory naming a value");
        return D2_NO_VALUE;
    }
    if (type) {
        v->type = *type;
        /* Symbol names must outlive the caller's strings. */
        for (int32_t i = 0; i < type->rank && i < D2_MAX_RANK; i++) {
            if (type->symbols[i]) {
                v->type.symbols[i] = d2_graph_intern(g, type->symbols[i]);
                if (!v->type.symbols[i]) {
                    d2_errorf(err, D2_ERR_NOMEM, "out of memory naming a dim");
                    return D2_NO_VALUE;
                }
            }
        }
    } else {
        d2_type_init_unknown(&v->type);
    }
    v->producer = -1;
    v->constant = -1;
    v->input_index = -1;
    return g->num_values++;
}

d2_value_id d2_graph_add_input(struct d2_graph *g, const char *name, const struct d2_type *type,
                               struct d2_error *err)
{
    d2_value_id v;
    if (!GROW(g, g->inputs, g->cap_inputs, g->num_inputs + 1, err))
        return D2_NO_VALUE;
    v = d2_graph_add_value(g, name, type, err);
    if (v == D2_NO_VALUE)
        return v;
    g->values[v].input_index = (int32_t)g->num_inputs;
    g->inputs[g->num_inputs++] = v;
    return v;
}

d2_value_id d2_graph_add_constant(struct d2_graph *g, const char *name, struct d2_tensor *t,
                                  struct d2_error *err)
{
    struct d2_type type;
    d2_value_id v;
    if (!GROW(g, g->constants, g->cap_constants, g->num_constants + 1, err)) {
        d2_tensor_release(t, g->alloc);
        return D2_NO_VALUE;
    }
    d2_type_from_tensor(&type, t);
    v = d2_graph_add_value(g, name, &type, err);
    if (v == D2_NO_VALUE) {
        d2_tensor_release(t, g->alloc);
        return v;
    }
    g->values[v].constant = (int32_t)g->num_constants;
    g->constants[g->num_constants++] = *t;
    memset(t, 0, sizeof *t);
    return v;
}

enum d2_status d2_graph_add_output(struct d2_graph *g, d2_value_id v, struct d2_error *err)
{
    if (v >= g->num_values)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "graph output refers to value %u of %u", v,
                         g->num_values);
    if (!GROW(g, g->outputs, g->cap_outputs, g->num_outputs + 1, err))
        return D2_ERR_NOMEM;
    g->outputs[g->num_outputs++] = v;
    return D2_OK;
}

enum d2_status d2_graph_set_metadata(struct d2_graph *g, const char *key, const char *value,
                                     struct d2_error *err)
{
    const char *k, *val;
    for (uint32_t i = 0; i < g->num_metadata; i++) {
        if (strcmp(g->metadata[i].key, key) == 0) {
            val = d2_graph_intern(g, value);
            if (!val)
                return d2_errorf(err, D2_ERR_NOMEM, "out of memory setting metadata");
            g->metadata[i].value = val;
            return D2_OK;
        }
    }
    if (!GROW(g, g->metadata, g->cap_metadata, g->num_metadata + 1, err))
        return D2_ERR_NOMEM;
    k = d2_graph_intern(g, key);
    val = d2_graph_intern(g, value);
    if (!k || !val)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory setting metadata");
    g->metadata[g->num_metadata].key = k;
    g->metadata[g->num_metadata].value = val;
    g->num_metadata++;
    return D2_OK;
}

const char *d2_graph_get_metadata(const struct d2_graph *g, const char *key)
{
    for (uint32_t i = 0; i < g->num_metadata; i++)
        if (strcmp(g->metadata[i].key, key) == 0)
            return g->metadata[i].value;
    return NULL;
}

int32_t d2_graph_add_node(struct d2_graph *g, enum d2_op op, const char *name,
                          uint32_t num_inputs, const d2_value_id *inputs,
                          uint32_t num_outputs, const char *const *output_names,
                          struct d2_error *err)
{
    const struct d2_op_info *info = d2_op_info(op);
    const struct d2_attr_schema *schema;
    struct d2_node node;
    int32_t index;
    if (!info) {
        d2_errorf(err, D2_ERR_INVALID_ARG, "invalid op %d", (int)op);
        return -1;
    }
    if (g->num_nodes >= INT32_MAX) {
        d2_errorf(err, D2_ERR_UNSUPPORTED, "graph has too many nodes");
        return -1;
    }
    if (!GROW(g, g->nodes, g->cap_nodes, g->num_nodes + 1, err))
        return -1;
    memset(&node, 0, sizeof node);
    node.op = op;
    node.name = d2_graph_intern(g, name);
    node.num_inputs = num_inputs;
    node.num_outputs = num_outputs;
    node.inputs = d2_arena_alloc(&g->arena, sizeof(d2_value_id) * (num_inputs ? num_inputs : 1));
    node.outputs = d2_arena_alloc(&g->arena, sizeof(d2_value_id) * (num_outputs ? num_outputs : 1));
    schema = d2_attr_schema_get(info->attrs);
    node.attrs = d2_arena_alloc(&g->arena, schema->size);
    node.num_regions = info->num_regions;
    node.regions = d2_arena_alloc(&g->arena, sizeof(struct d2_graph *) * (info->num_regions + 1u));
    if (!node.name || !node.inputs || !node.outputs || !node.attrs || !node.regions) {
        d2_errorf(err, D2_ERR_NOMEM, "out of memory adding a node");
        return -1;
    }
    d2_attrs_set_defaults(info->attrs, node.attrs);
    for (uint32_t i = 0; i < num_inputs; i++)
        node.inputs[i] = inputs[i];
    index = (int32_t)g->num_nodes;
    for (uint32_t i = 0; i < num_outputs; i++) {
        d2_value_id v = d2_graph_add_value(g, output_names ? output_names[i] : NULL, NULL, err);
        if (v == D2_NO_VALUE)
            return -1;
        g->values[v].producer = index;
        g->values[v].producer_output = i;
        node.outputs[i] = v;
    }
    for (uint32_t r = 0; r < info->num_regions; r++) {
        node.regions[r] = d2_graph_new(g->alloc, err);
        if (!node.regions[r]) {
            for (uint32_t k = 0; k < r; k++)
                d2_graph_free(node.regions[k]);
            return -1;
        }
        node.regions[r]->parent = g;
    }
    g->nodes[g->num_nodes++] = node;
    return index;
}

d2_value_id d2_node_output(const struct d2_graph *g, int32_t node, uint32_t i)
{
    return g->nodes[node].outputs[i];
}

void *d2_node_attrs(const struct d2_graph *g, int32_t node)
{
    return g->nodes[node].attrs;
}

enum d2_status d2_graph_set_ints(struct d2_graph *g, struct d2_ints *field, const int64_t *data,
                                 uint32_t count, struct d2_error *err)
{
    field->data = d2_arena_alloc(&g->arena, sizeof(int64_t) * (count ? count : 1));
    if (!field->data)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory setting an attribute");
    if (count)
        memcpy(field->data, data, sizeof(int64_t) * count);
    field->count = count;
    return D2_OK;
}

enum d2_status d2_graph_set_floats(struct d2_graph *g, struct d2_floats *field, const double *data,
                                   uint32_t count, struct d2_error *err)
{
    field->data = d2_arena_alloc(&g->arena, sizeof(double) * (count ? count : 1));
    if (!field->data)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory setting an attribute");
    if (count)
        memcpy(field->data, data, sizeof(double) * count);
    field->count = count;
    return D2_OK;
}

d2_value_id d2_graph_find_value(const struct d2_graph *g, const char *name)
{
    for (uint32_t i = 0; i < g->num_values; i++)
        if (strcmp(g->values[i].name, name) == 0)
            return i;
    return D2_NO_VALUE;
}

const struct d2_tensor *d2_graph_constant_of(const struct d2_graph *g, d2_value_id v)
{
    if (v >= g->num_values || g->values[v].constant < 0)
        return NULL;
    return &g->constants[g->values[v].constant];
}
