/* frontend/onnx/onnx_import.c: ONNX ModelProto -> d2rt graph (entry points, graphs,
 * scopes and control-flow regions).
 *
 * A graph is imported in ONNX order: initializers become constants (a graph input that
 * is also an initializer is a constant too, as ONNX IR < 4 models declare them), the
 * remaining inputs become graph inputs typed from their ValueInfo (dim_param -> a
 * symbolic dim), then every node is converted by its op's converter (onnx_ops*.c) and
 * its new IR nodes are shape-inferred at once, so later converters and region
 * captures see precise types. Declared value_info/output types are attached to node
 * outputs before inference, which keeps their symbolic dim names where inference
 * cannot resolve a dim.
 *
 * If/Loop bodies become regions. ONNX bodies may read any value of an enclosing graph
 * by name; d2rt regions are self-contained, so the names a body reads from outside
 * (including through bodies nested in it) are collected first, appended to the
 * control-flow node's inputs as captures, and declared as region inputs of the same
 * name, in the same order for both branches of an If.
 */
#include "frontend/onnx/onnx_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum d2_status import_graph_body(struct onnx_scope *scope, const Onnx__GraphProto *gp);

static void scope_init(struct onnx_scope *s, struct onnx_importer *imp, struct d2_graph *g)
{
    s->imp = imp;
    s->g = g;
    s->body_name = NULL;
    d2_name_map_init(&s->values, imp->alloc);
    d2_name_map_init(&s->declared, imp->alloc);
}

static void scope_free(struct onnx_scope *s)
{
    d2_name_map_free(&s->values);
    d2_name_map_free(&s->declared);
}

static enum d2_status bind(struct onnx_scope *s, const char *name, d2_value_id v)
{
    if (!d2_name_map_put(&s->values, s->g->values[v].name, v))
        return d2_errorf(s->imp->err, D2_ERR_NOMEM, "out of memory");
    if (strcmp(s->g->values[v].name, name) != 0 && !d2_name_map_put(&s->values, name, v))
        return d2_errorf(s->imp->err, D2_ERR_NOMEM, "out of memory");
    return D2_OK;
}

static d2_value_id lookup(const struct onnx_scope *s, const char *name)
{
    uint64_t v;
    return d2_name_map_get(&s->values, name, &v) ? (d2_value_id)v : D2_NO_VALUE;
}

/* ValueInfo type -> d2_type. Symbol names point into the protobuf (intern before keeping). */
static enum d2_status type_from_value_info(struct d2_error *err, const Onnx__ValueInfoProto *vi,
                                           struct d2_type *out, const char *what)
{
    const Onnx__TypeProto *tp = vi->type;
    d2_type_init_unknown(out);
    if (!tp)
        return D2_OK;
    if (!tp->tensor_type) {
        const char *kind = tp->has_sequence_type ? "a sequence" : tp->has_map_type ? "a map"
                         : tp->has_optional_type ? "an optional" : tp->has_sparse_tensor_type ? "a sparse tensor"
                         : tp->has_opaque_type ? "an opaque value" : NULL;
        if (!kind)
            return D2_OK;
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "%s '%s' is %s: d2rt only handles dense tensors", what,
                         vi->name, kind);
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type && tt->elem_type != 0) {
        const char *type_name;
        if (!onnx_dtype_to_d2(tt->elem_type, &out->dtype, &type_name))
            return d2_errorf(err, D2_ERR_UNSUPPORTED, "%s '%s' has element type %s (%d), which d2rt does not support",
                             what, vi->name, type_name, (int)tt->elem_type);
    }
    if (!tt->shape)
        return D2_OK;
    if (tt->shape->n_dim > D2_MAX_RANK)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "%s '%s' has rank %zu, above the limit %d", what, vi->name,
                         tt->shape->n_dim, D2_MAX_RANK);
    out->rank = (int32_t)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        out->dims[i] = D2_DIM_UNKNOWN;
        if (d->has_dim_value && d->dim_value >= 0)
            out->dims[i] = d->dim_value;
        else if (d->dim_param && *d->dim_param)
            out->symbols[i] = d->dim_param;
    }
    return D2_OK;
}

/* Store a type on a value, interning symbol names into the graph. */
static enum d2_status set_value_type(struct d2_graph *g, d2_value_id v, const struct d2_type *t, struct d2_error *err)
{
    struct d2_type copy = *t;
    for (int32_t i = 0; i < copy.rank; i++) {
        if (copy.symbols[i]) {
            copy.symbols[i] = d2_graph_intern(g, copy.symbols[i]);
            if (!copy.symbols[i])
                return d2_errorf(err, D2_ERR_NOMEM, "out of memory");
        }
    }
    g->values[v].type = copy;
    return D2_OK;
}

/* ---- nodes ---- */

static enum d2_status convert_node(struct onnx_scope *scope, const Onnx__NodeProto *np, uint32_t index)
{
    struct onnx_importer *imp = scope->imp;
    struct onnx_node_ctx ctx;
    const struct onnx_op_entry *entry;
    enum d2_status st = D2_OK;
    uint32_t first_new = scope->g->num_nodes;

    memset(&ctx, 0, sizeof ctx);
    ctx.imp = imp;
    ctx.scope = scope;
    ctx.g = scope->g;
    ctx.proto = np;
    ctx.index = index;
    ctx.opset = imp->opset;
    ctx.main_node = -1;
    if (!np->op_type || !*np->op_type)
        return onnx_node_error(&ctx, D2_ERR_PARSE, "node has no op_type");
    /* Caffe2 operators in ONNX (detectron2 caffe2_tracing): frontend/onnx/onnx_caffe2.c. */
    bool caffe2 = np->domain && strcmp(np->domain, ONNX_CAFFE2_DOMAIN) == 0;
    if (!caffe2 && np->domain && *np->domain && strcmp(np->domain, "ai.onnx") != 0)
        return onnx_node_error(&ctx, D2_ERR_UNSUPPORTED, "operator domain '%s' is not supported (only ai.onnx)",
                               np->domain);
    if (imp->opset <= 0)
        return onnx_node_error(&ctx, D2_ERR_PARSE, "the model imports no opset of the ai.onnx domain");
    entry = caffe2 ? &onnx_caffe2_entry : onnx_find_op(np->op_type);
    if (!entry)
        return onnx_node_error(&ctx, D2_ERR_UNSUPPORTED, "op is not supported by d2rt");
    ctx.entry = entry;
    if (imp->opset < entry->since)
        return onnx_node_error(&ctx, D2_ERR_UNSUPPORTED, "the opset %lld form of %s is not supported (opset >= %d)",
                               (long long)imp->opset, np->op_type, entry->since);
    if (np->n_input > ONNX_MAX_NODE_IO || np->n_output > ONNX_MAX_NODE_IO)
        return onnx_node_error(&ctx, D2_ERR_UNSUPPORTED, "too many inputs or outputs");

    ctx.num_inputs = (uint32_t)np->n_input;
    ctx.num_outputs = (uint32_t)np->n_output;
    ctx.inputs = d2_calloc(imp->alloc, ctx.num_inputs + 1, sizeof *ctx.inputs);
    ctx.outputs = d2_calloc(imp->alloc, ctx.num_outputs + 1, sizeof *ctx.outputs);
    if (!ctx.inputs || !ctx.outputs) {
        st = d2_errorf(imp->err, D2_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < ctx.num_inputs; i++) {
        const char *name = np->input[i];
        ctx.inputs[i] = D2_NO_VALUE;
        if (!name || !*name)
            continue;
        ctx.inputs[i] = lookup(scope, name);
        if (ctx.inputs[i] == D2_NO_VALUE) {
            st = onnx_node_error(&ctx, D2_ERR_PARSE,
                                 "input %u '%s' is not defined before the node (no initializer, graph input or earlier node output)",
                                 i, name);
            goto done;
        }
    }
    for (uint32_t i = 0; i < ctx.num_outputs; i++) {
        ctx.outputs[i] = D2_NO_VALUE;
        if (np->output[i] && *np->output[i] && lookup(scope, np->output[i]) != D2_NO_VALUE) {
            st = onnx_node_error(&ctx, D2_ERR_PARSE, "output '%s' is already defined (ONNX values have one producer)",
                                 np->output[i]);
            goto done;
        }
    }

    st = entry->convert(&ctx);
    if (st != D2_OK) {
        if (imp->err->code == D2_OK) /* converters report through onnx_node_error */
            st = onnx_node_error(&ctx, st, "conversion failed");
        goto done;
    }

    for (uint32_t i = 0; i < ctx.num_outputs; i++) {
        const char *name = np->output[i];
        uint64_t vi;
        if (!name || !*name)
            continue;
        if (ctx.outputs[i] == D2_NO_VALUE) {
            st = onnx_node_error(&ctx, D2_ERR_UNSUPPORTED, "output %u '%s' is not supported", i, name);
            goto done;
        }
        if ((st = bind(scope, name, ctx.outputs[i])) != D2_OK)
            goto done;
        /* A declared type helps only where inference leaves gaps; nodes just made
         * have unknown types until inferred below. */
        if (d2_name_map_get(&scope->declared, name, &vi) && scope->g->values[ctx.outputs[i]].producer >= (int32_t)first_new) {
            struct d2_type t;
            struct d2_error ignored = {0}; /* an unusable declared type is just not used */
            if (type_from_value_info(&ignored, (const Onnx__ValueInfoProto *)(uintptr_t)vi, &t, "value") == D2_OK &&
                (st = set_value_type(scope->g, ctx.outputs[i], &t, imp->err)) != D2_OK)
                goto done;
        }
    }
    for (uint32_t n = first_new; n < scope->g->num_nodes; n++)
        if ((st = onnx_infer(&ctx, (int32_t)n)) != D2_OK)
            goto done;
done:
    d2_free(imp->alloc, ctx.inputs);
    d2_free(imp->alloc, ctx.outputs);
    return st;
}

/* ---- graphs ---- */

static enum d2_status add_initializers(struct onnx_scope *scope, const Onnx__GraphProto *gp)
{
    struct onnx_importer *imp = scope->imp;
    char what[160];
    if (gp->n_sparse_initializer)
        return d2_errorf(imp->err, D2_ERR_UNSUPPORTED, "graph '%s' has sparse initializers, which d2rt does not support",
                         gp->name ? gp->name : "");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        struct d2_tensor t;
        const char *name = tp->name ? tp->name : "";
        if (!*name)
            return d2_errorf(imp->err, D2_ERR_PARSE, "initializer %zu has no name", i);
        if (lookup(scope, name) != D2_NO_VALUE)
            return d2_errorf(imp->err, D2_ERR_PARSE, "initializer '%s' is defined twice", name);
        snprintf(what, sizeof what, "initializer '%.120s'", name);
        enum d2_status st = onnx_tensor_decode(tp, imp->base_dir, scope->g->alloc, &t, what, imp->err);
        if (st != D2_OK)
            return st;
        d2_value_id v = d2_graph_add_constant(scope->g, name, &t, imp->err);
        if (v == D2_NO_VALUE)
            return imp->err->code;
        if ((st = bind(scope, name, v)) != D2_OK)
            return st;
    }
    return D2_OK;
}

static enum d2_status record_declared(struct onnx_scope *scope, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_value_info; i++)
        if (gp->value_info[i]->name && !d2_name_map_put(&scope->declared, gp->value_info[i]->name, (uintptr_t)gp->value_info[i]))
            return d2_errorf(scope->imp->err, D2_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < gp->n_output; i++)
        if (gp->output[i]->name && !d2_name_map_put(&scope->declared, gp->output[i]->name, (uintptr_t)gp->output[i]))
            return d2_errorf(scope->imp->err, D2_ERR_NOMEM, "out of memory");
    return D2_OK;
}

/* Nodes and outputs of a graph whose inputs and initializers are already in scope. */
static enum d2_status import_graph_body(struct onnx_scope *scope, const Onnx__GraphProto *gp)
{
    struct onnx_importer *imp = scope->imp;
    enum d2_status st;
    for (size_t i = 0; i < gp->n_node; i++)
        if ((st = convert_node(scope, gp->node[i], (uint32_t)i)) != D2_OK)
            return st;
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        struct d2_type t;
        if (!vi->name || !*vi->name)
            return d2_errorf(imp->err, D2_ERR_PARSE, "graph output %zu has no name", i);
        if ((st = type_from_value_info(imp->err, vi, &t, "graph output")) != D2_OK)
            return st;
        d2_value_id v = lookup(scope, vi->name);
        if (v == D2_NO_VALUE)
            return d2_errorf(imp->err, D2_ERR_PARSE, "graph output '%s' is not produced by any node, input or initializer",
                             vi->name);
        if ((st = d2_graph_add_output(scope->g, v, imp->err)) != D2_OK)
            return st;
    }
    return D2_OK;
}

static enum d2_status import_main_graph(struct onnx_scope *scope, const Onnx__GraphProto *gp)
{
    struct onnx_importer *imp = scope->imp;
    enum d2_status st;
    if ((st = record_declared(scope, gp)) != D2_OK || (st = add_initializers(scope, gp)) != D2_OK)
        return st;
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        struct d2_type t;
        if (!vi->name || !*vi->name)
            return d2_errorf(imp->err, D2_ERR_PARSE, "graph input %zu has no name", i);
        if (lookup(scope, vi->name) != D2_NO_VALUE) {
            if (scope->g->values[lookup(scope, vi->name)].constant >= 0)
                continue; /* an initializer listed as an input: a constant (IR < 4 style) */
            return d2_errorf(imp->err, D2_ERR_PARSE, "graph input '%s' is declared twice", vi->name);
        }
        if ((st = type_from_value_info(imp->err, vi, &t, "graph input")) != D2_OK)
            return st;
        d2_value_id v = d2_graph_add_input(scope->g, vi->name, &t, imp->err);
        if (v == D2_NO_VALUE)
            return imp->err->code;
        if ((st = bind(scope, vi->name, v)) != D2_OK)
            return st;
    }
    return import_graph_body(scope, gp);
}

enum d2_status onnx_build_region(struct onnx_node_ctx *ctx, const Onnx__GraphProto *body,
                                 struct d2_graph *region, uint32_t num_formal,
                                 const struct d2_type *formal_types, uint32_t num_captures,
                                 const d2_value_id *captures)
{
    struct onnx_importer *imp = ctx->imp;
    struct onnx_scope scope;
    enum d2_status st;
    if (body->n_input != num_formal)
        return onnx_node_error(ctx, D2_ERR_PARSE, "body graph '%s' has %zu inputs, expected %u",
                               body->name ? body->name : "", body->n_input, num_formal);
    if (imp->depth >= ONNX_MAX_GRAPH_DEPTH)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "subgraphs nest too deeply");
    imp->depth++;
    scope_init(&scope, imp, region);
    scope.body_name = body->name ? body->name : "";
    if ((st = record_declared(&scope, body)) != D2_OK || (st = add_initializers(&scope, body)) != D2_OK)
        goto done;
    for (uint32_t i = 0; i < num_formal; i++) {
        const Onnx__ValueInfoProto *vi = body->input[i];
        struct d2_type t;
        if (!vi->name || !*vi->name) {
            st = onnx_node_error(ctx, D2_ERR_PARSE, "body input %u has no name", i);
            goto done;
        }
        if ((st = type_from_value_info(imp->err, vi, &t, "body input")) != D2_OK)
            goto done;
        if (formal_types && (t.dtype == D2_DTYPE_UNDEFINED || t.rank < 0))
            t = formal_types[i];
        d2_value_id v = d2_graph_add_input(region, vi->name, &t, imp->err);
        if (v == D2_NO_VALUE || (st = bind(&scope, vi->name, v)) != D2_OK) {
            st = imp->err->code;
            goto done;
        }
    }
    for (uint32_t i = 0; i < num_captures; i++) {
        const struct d2_value *outer = &ctx->g->values[captures[i]];
        d2_value_id v = d2_graph_add_input(region, outer->name, &outer->type, imp->err);
        if (v == D2_NO_VALUE || (st = bind(&scope, outer->name, v)) != D2_OK) {
            st = imp->err->code;
            goto done;
        }
    }
    st = import_graph_body(&scope, body);
done:
    scope_free(&scope);
    imp->depth--;
    return st;
}

/* ---- free names of bodies ---- */

struct def_frame {
    struct d2_name_map defs;
    const struct def_frame *up;
};

static bool defined_in(const struct def_frame *f, const char *name)
{
    uint64_t unused;
    for (; f; f = f->up)
        if (d2_name_map_get(&f->defs, name, &unused))
            return true;
    return false;
}

static enum d2_status use_name(struct onnx_node_ctx *ctx, const struct def_frame *frame, const char *name,
                               d2_value_id **caps, uint32_t *count, uint32_t *cap)
{
    if (!name || !*name || defined_in(frame, name))
        return D2_OK;
    d2_value_id v = lookup(ctx->scope, name);
    if (v == D2_NO_VALUE)
        return onnx_node_error(ctx, D2_ERR_PARSE, "a body graph reads '%s', which is not defined in any enclosing graph",
                               name);
    for (uint32_t i = 0; i < *count; i++)
        if ((*caps)[i] == v)
            return D2_OK;
    if (*count == *cap) {
        uint32_t new_cap = *cap ? *cap * 2 : 8;
        d2_value_id *p = d2_realloc(ctx->imp->alloc, *caps, new_cap * sizeof *p);
        if (!p)
            return d2_errorf(ctx->imp->err, D2_ERR_NOMEM, "out of memory");
        *caps = p;
        *cap = new_cap;
    }
    (*caps)[(*count)++] = v;
    return D2_OK;
}

static enum d2_status collect(struct onnx_node_ctx *ctx, const Onnx__GraphProto *gp, const struct def_frame *up,
                              uint32_t depth, d2_value_id **caps, uint32_t *count, uint32_t *cap)
{
    struct def_frame frame = {.up = up};
    enum d2_status st = D2_OK;
    if (depth > ONNX_MAX_GRAPH_DEPTH)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "subgraphs nest too deeply");
    d2_name_map_init(&frame.defs, ctx->imp->alloc);
    bool ok = true;
    for (size_t i = 0; i < gp->n_input; i++)
        ok = ok && (!gp->input[i]->name || d2_name_map_put(&frame.defs, gp->input[i]->name, 0));
    for (size_t i = 0; i < gp->n_initializer; i++)
        ok = ok && (!gp->initializer[i]->name || d2_name_map_put(&frame.defs, gp->initializer[i]->name, 0));
    for (size_t n = 0; n < gp->n_node; n++)
        for (size_t i = 0; i < gp->node[n]->n_output; i++)
            ok = ok && d2_name_map_put(&frame.defs, gp->node[n]->output[i], 0);
    if (!ok) {
        st = d2_errorf(ctx->imp->err, D2_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t n = 0; n < gp->n_node && st == D2_OK; n++) {
        const Onnx__NodeProto *np = gp->node[n];
        for (size_t i = 0; i < np->n_input && st == D2_OK; i++)
            st = use_name(ctx, &frame, np->input[i], caps, count, cap);
        for (size_t a = 0; a < np->n_attribute && st == D2_OK; a++) {
            const Onnx__AttributeProto *at = np->attribute[a];
            if (at->g)
                st = collect(ctx, at->g, &frame, depth + 1, caps, count, cap);
            for (size_t k = 0; k < at->n_graphs && st == D2_OK; k++)
                st = collect(ctx, at->graphs[k], &frame, depth + 1, caps, count, cap);
        }
    }
    for (size_t i = 0; i < gp->n_output && st == D2_OK; i++)
        st = use_name(ctx, &frame, gp->output[i]->name, caps, count, cap);
done:
    d2_name_map_free(&frame.defs);
    return st;
}

enum d2_status onnx_collect_captures(struct onnx_node_ctx *ctx, const Onnx__GraphProto *body,
                                     d2_value_id **captures, uint32_t *count, uint32_t *cap)
{
    return collect(ctx, body, NULL, ctx->imp->depth + 1, captures, count, cap);
}

/* ---- entry points ---- */

static enum d2_status set_metadata(struct d2_graph *g, const Onnx__ModelProto *m, int64_t opset, struct d2_error *err)
{
    char buf[32];
    enum d2_status st;
    snprintf(buf, sizeof buf, "%lld", (long long)opset);
    if ((st = d2_graph_set_metadata(g, "source_format", "onnx", err)) != D2_OK ||
        (st = d2_graph_set_metadata(g, "opset", buf, err)) != D2_OK)
        return st;
    if (m->producer_name && *m->producer_name &&
        (st = d2_graph_set_metadata(g, "producer_name", m->producer_name, err)) != D2_OK)
        return st;
    if (m->producer_version && *m->producer_version &&
        (st = d2_graph_set_metadata(g, "producer_version", m->producer_version, err)) != D2_OK)
        return st;
    for (size_t i = 0; i < m->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *e = m->metadata_props[i];
        if (!e->key || !*e->key || d2_graph_get_metadata(g, e->key))
            continue; /* d2rt's own keys win */
        if ((st = d2_graph_set_metadata(g, e->key, e->value ? e->value : "", err)) != D2_OK)
            return st;
    }
    return D2_OK;
}

struct d2_graph *d2_onnx_import_buffer(const void *data, size_t size, const char *base_dir,
                                       const struct d2_allocator *alloc, struct d2_error *err)
{
    ProtobufCAllocator pb_alloc;
    Onnx__ModelProto *model;
    struct onnx_importer imp;
    struct onnx_scope scope;
    struct d2_graph *g;
    enum d2_status st;

    if (!alloc)
        alloc = d2_allocator_default();
    if (!data && size) {
        d2_errorf(err, D2_ERR_INVALID_ARG, "d2_onnx_import_buffer: NULL data");
        return NULL;
    }
    if (onnx_wire_check_model(data, size, err) != D2_OK)
        return NULL;
    onnx_pb_allocator(&pb_alloc, alloc);
    model = onnx__model_proto__unpack(&pb_alloc, size, data);
    if (!model) {
        d2_errorf(err, D2_ERR_PARSE, "not a valid ONNX model (protobuf decoding of %zu bytes failed)", size);
        return NULL;
    }
    memset(&imp, 0, sizeof imp);
    imp.alloc = alloc;
    imp.err = err;
    imp.base_dir = base_dir;
    for (size_t i = 0; i < model->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = model->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
            imp.opset = o->version;
    }
    g = NULL;
    if (!model->graph) {
        d2_errorf(err, D2_ERR_PARSE, "ONNX model has no graph");
        goto done;
    }
    if (imp.opset && (imp.opset < ONNX_MIN_OPSET || imp.opset > ONNX_MAX_OPSET)) {
        d2_errorf(err, D2_ERR_UNSUPPORTED, "ONNX opset %lld is not supported (d2rt reads opsets %d to %d)",
                  (long long)imp.opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
        goto done;
    }
    g = d2_graph_new(alloc, err);
    if (!g)
        goto done;
    scope_init(&scope, &imp, g);
    st = import_main_graph(&scope, model->graph);
    scope_free(&scope);
    if (st == D2_OK)
        st = set_metadata(g, model, imp.opset, err);
    if (st == D2_OK)
        st = d2_infer_graph(g, err);
    if (st != D2_OK) {
        d2_graph_free(g);
        g = NULL;
    }
done:
    onnx__model_proto__free_unpacked(model, &pb_alloc);
    return g;
}

struct d2_graph *d2_onnx_import_file(const char *path, const struct d2_allocator *alloc, struct d2_error *err)
{
    FILE *f;
    long len;
    void *data;
    char *dir;
    struct d2_graph *g = NULL;
    if (!alloc)
        alloc = d2_allocator_default();
    f = fopen(path, "rb");
    if (!f) {
        d2_errorf(err, D2_ERR_IO, "cannot open ONNX model '%s'", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        d2_errorf(err, D2_ERR_IO, "cannot read ONNX model '%s'", path);
        return NULL;
    }
    data = d2_alloc(alloc, (size_t)len + 1);
    dir = d2_strdup(alloc, path);
    if (!data || !dir) {
        d2_errorf(err, D2_ERR_NOMEM, "out of memory reading '%s' (%ld bytes)", path, len);
    } else if (fread(data, 1, (size_t)len, f) != (size_t)len) {
        d2_errorf(err, D2_ERR_IO, "short read on ONNX model '%s'", path);
    } else {
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir ? 1 : 0] = '\0';
        else
            strcpy(dir, ".");
        g = d2_onnx_import_buffer(data, (size_t)len, dir, alloc, err);
        if (!g)
            d2_error_prefix(err, "%s: ", path);
    }
    fclose(f);
    d2_free(alloc, data);
    d2_free(alloc, dir);
    return g;
}
