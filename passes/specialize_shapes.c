/* passes/specialize_shapes.c: bind the symbolic dims of the image input(s) to
 * constants (`d2rt compile --batch N --size HxW`).
 *
 * Models are dynamic by default: the image input is [?batch, 3, ?h, ?w] (or [3, ?h, ?w]
 * for detectron2's traced single-image exports) and every shape computation runs at
 * run time. Specializing fixes those dims, so shape inference makes the rest of the
 * graph static and fold_constants can evaluate the shape arithmetic once, at compile
 * time. The model then accepts only inputs of that size (the executor checks).
 *
 * The request travels in the graph's metadata, key SPECIALIZE_KEY, value
 * "batch=N,height=H,width=W" (any subset, in any order): a pass takes only the graph,
 * and the artifact then records what the model was specialized to (`d2rt inspect`
 * shows it). d2_request_shape_specialization writes the key; without it the pass does
 * nothing.
 *
 * Image inputs are the floating-point graph inputs of rank 4 ([N, C, H, W]: batch,
 * height, width are dims 0, 2, 3) and rank 3 ([C, H, W]: height, width are dims 1, 2).
 * A dim that is already known must equal the requested size (else
 * D2_ERR_INVALID_ARG). When a bound dim is symbolic, every other input dim with the
 * same symbol (im_info's batch, say) is bound too. Shape inference then runs again.
 */
#include "passes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPECIALIZE_KEY "specialize_shapes"

enum d2_status d2_request_shape_specialization(struct d2_graph *g, int64_t batch, int64_t height, int64_t width,
                                               struct d2_error *err)
{
    char text[128];
    int n = 0;
    if (batch < 0 || height < 0 || width < 0)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "shape specialization needs sizes >= 1");
    if (!batch && !height && !width)
        return D2_OK;
    text[0] = '\0';
    if (batch)
        n += snprintf(text + n, sizeof text - (size_t)n, "batch=%lld", (long long)batch);
    if (height)
        n += snprintf(text + n, sizeof text - (size_t)n, "%sheight=%lld", n ? "," : "", (long long)height);
    if (width)
        snprintf(text + n, sizeof text - (size_t)n, "%swidth=%lld", n ? "," : "", (long long)width);
    return d2_graph_set_metadata(g, SPECIALIZE_KEY, text, err);
}

/* Requested sizes (0: leave dynamic) from the metadata text. */
struct spec {
    int64_t batch, height, width;
};

static enum d2_status parse_spec(const char *text, struct spec *s, struct d2_error *err)
{
    const char *p = text;
    memset(s, 0, sizeof *s);
    while (*p) {
        const char *eq = strchr(p, '=');
        size_t key_len = eq ? (size_t)(eq - p) : 0;
        char *end;
        long long v;
        int64_t *slot = NULL;
        if (!eq)
            return d2_errorf(err, D2_ERR_INVALID_ARG, "metadata %s = \"%s\": expected key=value", SPECIALIZE_KEY,
                             text);
        if (key_len == 5 && strncmp(p, "batch", 5) == 0)
            slot = &s->batch;
        else if (key_len == 6 && strncmp(p, "height", 6) == 0)
            slot = &s->height;
        else if (key_len == 5 && strncmp(p, "width", 5) == 0)
            slot = &s->width;
        v = strtoll(eq + 1, &end, 10);
        if (!slot || end == eq + 1 || v < 1 || (*end && *end != ','))
            return d2_errorf(err, D2_ERR_INVALID_ARG,
                             "metadata %s = \"%s\": expected batch=N,height=H,width=W with sizes >= 1",
                             SPECIALIZE_KEY, text);
        *slot = v;
        p = *end ? end + 1 : end;
    }
    return D2_OK;
}

/* Bind dim d of input value v to size (0: not requested). */
static enum d2_status bind_dim(struct d2_graph *g, d2_value_id v, int32_t d, int64_t size, const char *what,
                               struct d2_error *err)
{
    struct d2_type *t = &g->values[v].type;
    const char *symbol = t->symbols[d];
    if (!size)
        return D2_OK;
    if (t->dims[d] >= 0) {
        if (t->dims[d] != size)
            return d2_errorf(err, D2_ERR_INVALID_ARG, "input '%s': %s is %lld, cannot specialize it to %lld",
                             g->values[v].name, what, (long long)t->dims[d], (long long)size);
        return D2_OK;
    }
    if (t->upper_bounds[d] >= 0 && size > t->upper_bounds[d])
        return d2_errorf(err, D2_ERR_INVALID_ARG, "input '%s': %s is at most %lld, cannot specialize it to %lld",
                         g->values[v].name, what, (long long)t->upper_bounds[d], (long long)size);
    /* The same symbol elsewhere among the inputs is the same size. */
    for (uint32_t i = 0; symbol && i < g->num_inputs; i++) {
        struct d2_type *u = &g->values[g->inputs[i]].type;
        for (int32_t e = 0; e < u->rank; e++)
            if (u->dims[e] < 0 && u->symbols[e] && strcmp(u->symbols[e], symbol) == 0) {
                u->dims[e] = size;
                u->symbols[e] = NULL;
                u->upper_bounds[e] = -1;
            }
    }
    t->dims[d] = size;
    t->symbols[d] = NULL;
    t->upper_bounds[d] = -1;
    return D2_OK;
}

enum d2_status d2_pass_specialize_shapes(struct d2_graph *g, struct d2_error *err)
{
    const char *text = d2_graph_get_metadata(g, SPECIALIZE_KEY);
    struct spec s;
    enum d2_status st;
    uint32_t images = 0;
    if (!text)
        return D2_OK;
    if ((st = parse_spec(text, &s, err)) != D2_OK)
        return st;
    for (uint32_t i = 0; i < g->num_inputs; i++) {
        d2_value_id v = g->inputs[i];
        const struct d2_type *t = &g->values[v].type;
        int32_t h = t->rank == 4 ? 2 : 1;
        if (!d2_dtype_is_float(t->dtype) || (t->rank != 3 && t->rank != 4))
            continue;
        images++;
        if (t->rank == 4 && (st = bind_dim(g, v, 0, s.batch, "the batch size", err)) != D2_OK)
            return st;
        if ((st = bind_dim(g, v, h, s.height, "the height", err)) != D2_OK ||
            (st = bind_dim(g, v, h + 1, s.width, "the width", err)) != D2_OK)
            return st;
    }
    if (images == 0)
        return d2_errorf(err, D2_ERR_INVALID_ARG,
                         "cannot specialize shapes: the model has no image input (a float input of rank 3 or 4)");
    return d2_infer_graph(g, err);
}
