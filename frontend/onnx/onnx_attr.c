/* frontend/onnx/onnx_attr.c: the converters' toolbox: the name map, error messages
 * that name the ONNX node, typed attribute access, and helpers that emit IR nodes and
 * constants. */
#include "frontend/onnx/onnx_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- errors ---- */

enum d2_status onnx_node_error(struct onnx_node_ctx *ctx, enum d2_status code, const char *fmt, ...)
{
    char reason[D2_ERROR_MESSAGE_MAX];
    const Onnx__NodeProto *n = ctx->proto;
    const char *domain = n->domain && *n->domain ? n->domain : "ai.onnx";
    char where[160] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (ctx->scope && ctx->scope->body_name)
        snprintf(where, sizeof where, " in body '%.100s'", ctx->scope->body_name);
    if (n->name && *n->name)
        return d2_errorf(ctx->imp->err, code, "node '%s' (#%u%s, %s::%s, opset %lld): %s", n->name, ctx->index, where,
                         domain, n->op_type ? n->op_type : "?", (long long)ctx->opset, reason);
    return d2_errorf(ctx->imp->err, code, "node #%u%s (%s::%s, opset %lld): %s", ctx->index, where, domain,
                     n->op_type ? n->op_type : "?", (long long)ctx->opset, reason);
}

/* ---- attributes ---- */

const Onnx__AttributeProto *onnx_attr(const struct onnx_node_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->proto->n_attribute; i++) {
        const Onnx__AttributeProto *a = ctx->proto->attribute[i];
        if (a->name && strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

/* The attribute's declared type, or (for old writers that left `type` unset) the one
 * implied by which value field is present. */
static int attr_type(const Onnx__AttributeProto *a)
{
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return a->type;
    if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (a->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    if (a->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static enum d2_status wrong_type(struct onnx_node_ctx *ctx, const char *name, const char *want)
{
    return onnx_node_error(ctx, D2_ERR_PARSE, "attribute '%s' should be %s", name, want);
}

enum d2_status onnx_attr_int(struct onnx_node_ctx *ctx, const char *name, int64_t def, int64_t *out)
{
    const Onnx__AttributeProto *a = onnx_attr(ctx, name);
    *out = def;
    if (!a)
        return D2_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        return wrong_type(ctx, name, "an int");
    *out = a->i;
    return D2_OK;
}

enum d2_status onnx_attr_float(struct onnx_node_ctx *ctx, const char *name, double def, double *out)
{
    const Onnx__AttributeProto *a = onnx_attr(ctx, name);
    *out = def;
    if (!a)
        return D2_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
        return wrong_type(ctx, name, "a float");
    *out = a->f;
    return D2_OK;
}

enum d2_status onnx_attr_ints(struct onnx_node_ctx *ctx, const char *name, const int64_t **out,
                              size_t *count, bool *found)
{
    const Onnx__AttributeProto *a = onnx_attr(ctx, name);
    *out = NULL;
    *count = 0;
    *found = a != NULL;
    if (!a)
        return D2_OK;
    /* An empty list is written with no value field at all: type says INTS. */
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
        return wrong_type(ctx, name, "a list of ints");
    *out = a->ints;
    *count = a->n_ints;
    return D2_OK;
}

enum d2_status onnx_attr_floats(struct onnx_node_ctx *ctx, const char *name, const float **out,
                                size_t *count, bool *found)
{
    const Onnx__AttributeProto *a = onnx_attr(ctx, name);
    *out = NULL;
    *count = 0;
    *found = a != NULL;
    if (!a)
        return D2_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
        return wrong_type(ctx, name, "a list of floats");
    *out = a->floats;
    *count = a->n_floats;
    return D2_OK;
}

enum d2_status onnx_attr_string(struct onnx_node_ctx *ctx, const char *name, const char *def,
                                const char **out)
{
    const Onnx__AttributeProto *a = onnx_attr(ctx, name);
    *out = def;
    if (!a)
        return D2_OK;
    if (attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
        return wrong_type(ctx, name, "a string");
    *out = d2_arena_strndup(&ctx->g->arena, a->has_s ? (const char *)a->s.data : "", a->has_s ? a->s.len : 0);
    if (!*out)
        return d2_errorf(ctx->imp->err, D2_ERR_NOMEM, "out of memory");
    if (strlen(*out) != (a->has_s ? a->s.len : 0))
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute '%s' contains a NUL byte", name);
    return D2_OK;
}

enum d2_status onnx_attr_to_ints(struct onnx_node_ctx *ctx, const char *name, struct d2_ints *field)
{
    const int64_t *v;
    size_t n;
    bool found;
    enum d2_status st = onnx_attr_ints(ctx, name, &v, &n, &found);
    if (st != D2_OK || !found)
        return st;
    if (n > UINT32_MAX)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "attribute '%s' is too long", name);
    return d2_graph_set_ints(ctx->g, field, v, (uint32_t)n, ctx->imp->err);
}

/* ---- emitting ---- */

int32_t onnx_emit(struct onnx_node_ctx *ctx, enum d2_op op, uint32_t num_inputs,
                  const d2_value_id *inputs, uint32_t num_outputs, bool name_outputs)
{
    const char *names_buf[16] = {0};
    const char **names = NULL;
    const char *node_name = ctx->proto->name ? ctx->proto->name : "";
    int32_t node;
    if (name_outputs) {
        names = num_outputs <= 16 ? names_buf : d2_calloc(ctx->imp->alloc, num_outputs, sizeof *names);
        if (!names) {
            d2_errorf(ctx->imp->err, D2_ERR_NOMEM, "out of memory");
            return -1;
        }
        for (uint32_t i = 0; i < num_outputs; i++)
            names[i] = i < ctx->proto->n_output ? ctx->proto->output[i] : NULL;
    }
    node = d2_graph_add_node(ctx->g, op, node_name, num_inputs, inputs, num_outputs,
                             (const char *const *)names, ctx->imp->err);
    if (names && names != names_buf)
        d2_free(ctx->imp->alloc, names);
    if (node >= 0 && name_outputs)
        ctx->main_node = node;
    return node;
}

enum d2_status onnx_infer(struct onnx_node_ctx *ctx, int32_t node)
{
    enum d2_status st;
    if (ctx->g->parent) {
        /* Inside a region (if branch, loop body) a shape error may belong to a branch
         * that never runs for these shapes; defer it to run time like d2_infer_graph. */
        struct d2_error local = { D2_OK, "" };
        st = d2_infer_node(ctx->g, node, &local);
        if (st == D2_ERR_SHAPE) {
            for (uint32_t k = 0; k < ctx->g->nodes[node].num_outputs; k++)
                d2_type_init_unknown(&ctx->g->values[ctx->g->nodes[node].outputs[k]].type);
            return D2_OK;
        }
        if (st != D2_OK)
            d2_errorf(ctx->imp->err, st, "%s", local.message);
    } else {
        st = d2_infer_node(ctx->g, node, ctx->imp->err);
    }
    if (st != D2_OK) {
        const Onnx__NodeProto *n = ctx->proto;
        const char *body = ctx->scope && ctx->scope->body_name ? ctx->scope->body_name : NULL;
        d2_error_prefix(ctx->imp->err, "ONNX node #%u '%s'%s%s%s (%s, opset %lld): ", ctx->index,
                        n->name ? n->name : "", body ? " in body '" : "", body ? body : "", body ? "'" : "",
                        n->op_type ? n->op_type : "?", (long long)ctx->opset);
    }
    return st;
}

d2_value_id onnx_const_i64(struct onnx_node_ctx *ctx, const int64_t *vals, uint32_t count, bool scalar)
{
    struct d2_tensor t;
    int64_t dims[1] = {count};
    if (d2_tensor_alloc(&t, ctx->g->alloc, D2_DTYPE_I64, scalar ? 0 : 1, dims, ctx->imp->err) != D2_OK)
        return D2_NO_VALUE;
    if (count)
        memcpy(t.data, vals, sizeof(int64_t) * count);
    return d2_graph_add_constant(ctx->g, NULL, &t, ctx->imp->err);
}

d2_value_id onnx_const_scalar(struct onnx_node_ctx *ctx, enum d2_dtype dtype, double value)
{
    struct d2_tensor t;
    if (d2_tensor_alloc(&t, ctx->g->alloc, dtype, 0, NULL, ctx->imp->err) != D2_OK)
        return D2_NO_VALUE;
    if (d2_dtype_is_float(dtype))
        d2_store_f64(t.data, dtype, 0, value);
    else
        d2_store_i64(t.data, dtype, 0, (int64_t)value);
    return d2_graph_add_constant(ctx->g, NULL, &t, ctx->imp->err);
}

d2_value_id onnx_attr_as_i64_input(struct onnx_node_ctx *ctx, const char *name, bool *found)
{
    const int64_t *v;
    size_t n;
    if (onnx_attr_ints(ctx, name, &v, &n, found) != D2_OK) {
        *found = true; /* error set: callers check the id */
        return D2_NO_VALUE;
    }
    if (!*found)
        return D2_NO_VALUE;
    if (n > UINT32_MAX) {
        onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "attribute '%s' is too long", name);
        return D2_NO_VALUE;
    }
    return onnx_const_i64(ctx, v, (uint32_t)n, false);
}
