/* passes/dce.c: dead code elimination.
 *
 * A node is live when one of its outputs is a graph output or an input of a live
 * node; everything else goes (no op has side effects; a node with no outputs is
 * dead). Constants nothing live reads go too. Graph inputs always stay: they are
 * the graph's calling convention (for a region, its captures). Regions are cleaned
 * first, each against its own outputs.
 *
 * The arrays are compacted in place and value ids renumbered densely, preserving
 * order, so node order stays topological and the printed IR only loses lines. */
#include "passes.h"

#include <string.h>

static enum d2_status compact(struct d2_graph *g, const bool *live_node, const bool *live_value,
                              struct d2_error *err)
{
    d2_value_id *new_id = d2_calloc(g->alloc, g->num_values + 1, sizeof *new_id);
    int32_t *new_node = d2_calloc(g->alloc, g->num_nodes + 1, sizeof *new_node);
    int32_t *new_constant = d2_calloc(g->alloc, g->num_constants + 1, sizeof *new_constant);
    uint32_t count;
    if (!new_id || !new_node || !new_constant) {
        d2_free(g->alloc, new_id);
        d2_free(g->alloc, new_node);
        d2_free(g->alloc, new_constant);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory in dead code elimination");
    }

    /* Nodes: free the regions of dead ones, slide live ones down. */
    count = 0;
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        if (!live_node[n]) {
            for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
                d2_graph_free(g->nodes[n].regions[r]);
            new_node[n] = -1;
            continue;
        }
        new_node[n] = (int32_t)count;
        g->nodes[count++] = g->nodes[n];
    }
    g->num_nodes = count;

    /* Constants: release dead tensors, slide live ones down. */
    for (uint32_t c = 0; c < g->num_constants; c++)
        new_constant[c] = -1;
    count = 0;
    for (d2_value_id v = 0; v < g->num_values; v++) {
        int32_t c = g->values[v].constant;
        if (c >= 0 && live_value[v])
            new_constant[c] = 0; /* mark; numbered below in constant order */
    }
    for (uint32_t c = 0; c < g->num_constants; c++) {
        if (new_constant[c] < 0) {
            d2_tensor_release(&g->constants[c], g->alloc);
            continue;
        }
        new_constant[c] = (int32_t)count;
        g->constants[count++] = g->constants[c];
    }
    g->num_constants = count;

    /* Values. */
    count = 0;
    for (d2_value_id v = 0; v < g->num_values; v++) {
        if (!live_value[v]) {
            new_id[v] = D2_NO_VALUE;
            continue;
        }
        new_id[v] = count;
        g->values[count] = g->values[v];
        if (g->values[count].producer >= 0)
            g->values[count].producer = new_node[g->values[count].producer];
        if (g->values[count].constant >= 0)
            g->values[count].constant = new_constant[g->values[count].constant];
        count++;
    }
    g->num_values = count;

    for (uint32_t n = 0; n < g->num_nodes; n++) {
        struct d2_node *node = &g->nodes[n];
        for (uint32_t i = 0; i < node->num_inputs; i++)
            if (node->inputs[i] != D2_NO_VALUE)
                node->inputs[i] = new_id[node->inputs[i]];
        for (uint32_t i = 0; i < node->num_outputs; i++)
            node->outputs[i] = new_id[node->outputs[i]];
    }
    for (uint32_t i = 0; i < g->num_inputs; i++)
        g->inputs[i] = new_id[g->inputs[i]];
    for (uint32_t i = 0; i < g->num_outputs; i++)
        g->outputs[i] = new_id[g->outputs[i]];

    d2_free(g->alloc, new_id);
    d2_free(g->alloc, new_node);
    d2_free(g->alloc, new_constant);
    return D2_OK;
}

enum d2_status d2_pass_dce(struct d2_graph *g, struct d2_error *err)
{
    bool *live_value, *live_node;
    enum d2_status st;

    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
            if ((st = d2_pass_dce(g->nodes[n].regions[r], err)) != D2_OK)
                return st;

    live_value = d2_calloc(g->alloc, g->num_values + 1, sizeof *live_value);
    live_node = d2_calloc(g->alloc, g->num_nodes + 1, sizeof *live_node);
    if (!live_value || !live_node) {
        d2_free(g->alloc, live_value);
        d2_free(g->alloc, live_node);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory in dead code elimination");
    }
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] < g->num_values)
            live_value[g->outputs[i]] = true;
    /* Reverse topological order: a node's users come after it, so they are decided. */
    for (uint32_t n = g->num_nodes; n-- > 0;) {
        const struct d2_node *node = &g->nodes[n];
        for (uint32_t i = 0; i < node->num_outputs && !live_node[n]; i++)
            live_node[n] = node->outputs[i] < g->num_values && live_value[node->outputs[i]];
        if (!live_node[n])
            continue;
        for (uint32_t i = 0; i < node->num_inputs; i++)
            if (node->inputs[i] < g->num_values)
                live_value[node->inputs[i]] = true;
    }
    /* Graph inputs stay; every output of a live node stays (a node keeps its arity). */
    for (uint32_t i = 0; i < g->num_inputs; i++)
        if (g->inputs[i] < g->num_values)
            live_value[g->inputs[i]] = true;
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t i = 0; live_node[n] && i < g->nodes[n].num_outputs; i++)
            if (g->nodes[n].outputs[i] < g->num_values)
                live_value[g->nodes[n].outputs[i]] = true;

    st = compact(g, live_node, live_value, err);
    d2_free(g->alloc, live_value);
    d2_free(g->alloc, live_node);
    return st;
}
