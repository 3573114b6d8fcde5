/* frontend/onnx/onnx_caffe2.c: ONNX nodes of domain `org.pytorch._caffe2` (detectron2's
 * caffe2_tracing ONNX export: AliasWithName, GenerateProposals, RoIAlign,
 * BoxWithNMSLimit, ResizeNearest, ...).
 *
 * These are Caffe2 operators carried in ONNX nodes, with their Caffe2 arguments as
 * ONNX attributes. They are translated by the Caffe2 frontend's operator mapping
 * (frontend/caffe2/caffe2_ops.h), so that a Caffe2 operator means the same thing in a
 * NetDef and in an ONNX file. This file only adapts the container: attributes become
 * neutral Caffe2 arguments, ONNX output names become value names, and an operator
 * that is an identity in Caffe2 (AliasWithName, Copy*) gets an identity node so that
 * the ONNX output name (possibly a graph output) names a value of its own.
 */
#include "frontend/caffe2/caffe2_ops.h"
#include "frontend/onnx/onnx_internal.h"

#include <stdio.h>
#include <string.h>

/* The table entry every node of the domain uses (opset checks pass: since 1). */
const struct onnx_op_entry onnx_caffe2_entry = { "", onnx_convert_caffe2, D2_OP_IDENTITY, 1 };

/* The kind of an ONNX attribute as a Caffe2 argument (declared type first, then the
 * value field that is present, for writers that leave `type` unset). */
static enum c2_arg_kind arg_kind(const Onnx__AttributeProto *a)
{
    int type = a->has_type ? (int)a->type : 0;
    switch (type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return C2_ARG_FLOAT;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return C2_ARG_INT;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return C2_ARG_STRING;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return a->n_floats ? C2_ARG_FLOATS : C2_ARG_EMPTY;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return a->n_ints ? C2_ARG_INTS : C2_ARG_EMPTY;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return a->n_strings ? C2_ARG_STRINGS : C2_ARG_EMPTY;
    case 0: break;
    default: return C2_ARG_OTHER;
    }
    if (a->has_f) return C2_ARG_FLOAT;
    if (a->has_i) return C2_ARG_INT;
    if (a->has_s) return C2_ARG_STRING;
    if (a->n_floats) return C2_ARG_FLOATS;
    if (a->n_ints) return C2_ARG_INTS;
    if (a->n_strings) return C2_ARG_STRINGS;
    return a->t || a->g || a->n_tensors || a->n_graphs ? C2_ARG_OTHER : C2_ARG_EMPTY;
}

enum d2_status onnx_convert_caffe2(struct onnx_node_ctx *ctx)
{
    const Onnx__NodeProto *np = ctx->proto;
    struct d2_error *err = ctx->imp->err;
    struct c2_arg *args = d2_calloc(ctx->imp->alloc, np->n_attribute + 1, sizeof *args);
    const char **names = d2_calloc(ctx->imp->alloc, ctx->num_outputs + 1, sizeof *names);
    char where[512];
    enum d2_status st = D2_OK;
    uint32_t values_before = ctx->g->num_values;

    if (np->name && *np->name)
        snprintf(where, sizeof where, "node '%.200s' (#%u, org.pytorch._caffe2::%.100s)", np->name, ctx->index,
                 np->op_type);
    else
        snprintf(where, sizeof where, "node #%u (org.pytorch._caffe2::%.100s)", ctx->index, np->op_type);
    if (!args || !names) {
        st = d2_errorf(err, D2_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < ctx->num_inputs; i++) {
        if (ctx->inputs[i] == D2_NO_VALUE) {
            st = d2_errorf(err, D2_ERR_PARSE, "%s: input %u is empty (Caffe2 operators have no optional inputs)",
                           where, i);
            goto done;
        }
    }
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *a = np->attribute[i];
        struct c2_arg *c = &args[i];
        c->name = a->name ? a->name : "";
        c->kind = arg_kind(a);
        c->i = a->i;
        c->f = a->f;
        c->s = a->s;
        c->ints = a->ints;
        c->floats = a->floats;
        c->strings = a->strings;
        c->count = c->kind == C2_ARG_INTS ? a->n_ints : c->kind == C2_ARG_FLOATS ? a->n_floats
                 : c->kind == C2_ARG_STRINGS ? a->n_strings : 0;
    }
    for (uint32_t i = 0; i < ctx->num_outputs; i++)
        names[i] = np->output[i] && *np->output[i] ? np->output[i] : NULL;

    struct c2_op_ctx c2 = {
        .g = ctx->g,
        .err = err,
        .where = where,
        .type = np->op_type,
        .node_name = np->name ? np->name : "",
        .num_args = (uint32_t)np->n_attribute,
        .args = args,
        .num_inputs = ctx->num_inputs,
        .inputs = ctx->inputs,
        .num_outputs = ctx->num_outputs,
        .output_names = names,
        .outputs = ctx->outputs,
    };
    if ((st = d2_caffe2_map_op(&c2)) != D2_OK)
        goto done;
    for (uint32_t i = 0; i < ctx->num_outputs; i++) {
        if (ctx->outputs[i] == D2_NO_VALUE || ctx->outputs[i] >= values_before || !names[i])
            continue;
        /* An identity operator: give the ONNX output a value of its own. */
        d2_value_id in = ctx->outputs[i];
        int32_t node = d2_graph_add_node(ctx->g, D2_OP_IDENTITY, np->name ? np->name : "", 1, &in, 1, &names[i], err);
        if (node < 0) {
            st = err->code;
            goto done;
        }
        ctx->outputs[i] = d2_node_output(ctx->g, node, 0);
    }
done:
    d2_free(ctx->imp->alloc, args);
    d2_free(ctx->imp->alloc, (void *)names);
    return st;
}
