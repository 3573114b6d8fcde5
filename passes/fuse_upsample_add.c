/* passes/fuse_upsample_add.c: FPN's top-down merge, add(lateral, nearest_2x(top)),
 * into one upsample_add(lateral, top) {scales} node (ir/shape_fused2.c).
 *
 * Patterns (U = the upsampled top, read by the add only and not a graph output):
 *   add(L, U) or add(U, L)   with U = resize(top, roi?, scales?, sizes?)   ONNX Resize
 *                            (detectron2: scales [1,1,2,2]; torchvision: sizes = L's
 *                            dims; ONNX Upsample and Resize-10 import as resize too)
 *                            or U = upsample(top, sizes?) {scales}         TorchScript's
 *                            F.interpolate (aten::upsample_nearest2d)
 * become upsample_add(L, top) {scales}. Fused only when the result is exactly what
 * the two ops computed (add is commutative bit for bit, so the order does not matter):
 *   - f32, every type static; U, L and the add's output have the same type (no
 *     broadcasting), top has U's rank (>= 3);
 *   - N and C are not resized, and each spatial dim of U is an integer multiple s of
 *     top's, so the fused op's index floor(i / s) is defined;
 *   - the op's own index rule gives floor(i / s) for every i:
 *       resize: mode nearest, and its plan (d2_resize_make_plan, from the constant
 *         scales/sizes) has out = s*in and coordinate scale exactly s (a scale of 2.01
 *         that happens to floor to 2*in is refused). Then per coordinate mode, with
 *         i = q*s + r (0 <= r < s):
 *           asymmetric: x = i/s = q + r/s; nearest_mode floor gives q for any s
 *             (the double quotient of small integers never rounds up to q+1);
 *             round_prefer_floor too when s <= 2 (the only tie, r/s = 1/2, goes
 *             down); ceil and round_prefer_ceil only when s = 1.
 *           half_pixel, half_pixel_symmetric (its offset is 0 when out = s*in) and
 *             pytorch_half_pixel: x = q + (r + 1/2)/s - 1/2, strictly within 1/2 of
 *             q, so both round modes give q for any s (negative x clamps to 0 = q);
 *             floor and ceil only when s = 1.
 *           align_corners, tf_crop_and_resize: never (they stretch to the corners).
 *       upsample: mode nearest; PyTorch takes floorf(i * (float)(in/out)), or
 *         floorf(i * (float)(1/scale)) with a scales attribute. That is floor(i/s)
 *         exactly when s is a power of two (1/s and i/s are exact in float for
 *         i < 2^24) and the scale, if given, is s; other factors are refused.
 * Only the add is rewritten (in place, keeping its name and output: top is defined
 * before the resize, which is before the add, so order stays topological); the resize
 * is left unread for dce.
 *
 * Pipeline position: before fuse_conv. In every FPN export the lateral is a 1x1 conv's
 * output, so fuse_conv would otherwise take the add as the conv's residual
 * (fused_conv(X, W, B, U)) and no add would be left to fuse; the resize then runs on
 * its (slow, generic) reference kernel and writes a full-size map the conv re-reads.
 * Fused first, the conv stays a plain conv and upsample_add reads top directly.
 */
#include "passes.h"

#include <string.h>

#include "../ir/shape_detect.h"
#include "pass_util.h"
#include "rewrite.h"

/* Inputs 1..3 of a resize node: type and constant value (NULL: omitted / unknown). */
static void resize_input(const struct d2_graph *g, const struct d2_node *n, uint32_t i, const struct d2_type **type,
                         const struct d2_tensor **value)
{
    d2_value_id v = i < n->num_inputs ? n->inputs[i] : D2_NO_VALUE;
    *type = v == D2_NO_VALUE ? NULL : &g->values[v].type;
    *value = v == D2_NO_VALUE ? NULL : d2_graph_constant_of(g, v);
}

/* Integer factors out/in per dim (factor 1 on N and C); false unless exact. */
static bool integer_factors(const struct d2_type *in, const struct d2_type *out, int64_t *factors)
{
    for (int32_t d = 0; d < out->rank; d++) {
        if (in->dims[d] <= 0 || out->dims[d] % in->dims[d] != 0)
            return false;
        factors[d] = out->dims[d] / in->dims[d];
        if (d < 2 && factors[d] != 1)
            return false;
    }
    return true;
}

/* Does nearest_mode round q + r/s (asymmetric) or q + (r + 1/2)/s - 1/2 (half-pixel
 * family) to q for every r < s? See the file comment. */
static bool nearest_rule_is_floor_div(const struct d2_attrs_resize *a, int64_t s)
{
    bool round_mode = a->nearest_mode == D2_NEAREST_MODE_ROUND_PREFER_FLOOR ||
                      a->nearest_mode == D2_NEAREST_MODE_ROUND_PREFER_CEIL;
    if (s == 1)
        return a->coordinate_transformation_mode != D2_COORD_MODE_ALIGN_CORNERS &&
               a->coordinate_transformation_mode != D2_COORD_MODE_TF_CROP_AND_RESIZE;
    switch (a->coordinate_transformation_mode) {
    case D2_COORD_MODE_ASYMMETRIC:
        return a->nearest_mode == D2_NEAREST_MODE_FLOOR ||
               (a->nearest_mode == D2_NEAREST_MODE_ROUND_PREFER_FLOOR && s == 2);
    case D2_COORD_MODE_HALF_PIXEL:
    case D2_COORD_MODE_HALF_PIXEL_SYMMETRIC:
    case D2_COORD_MODE_PYTORCH_HALF_PIXEL:
        return round_mode;
    default:
        return false;
    }
}

/* The resize node's scales, when it is an exact integer nearest upsampling. */
static bool resize_factors(const struct d2_graph *g, const struct d2_node *resize, int64_t *factors)
{
    const struct d2_attrs_resize *a = resize->attrs;
    const struct d2_type *top = &g->values[resize->inputs[0]].type, *out = &g->values[resize->outputs[0]].type;
    const struct d2_type *types[4];
    const struct d2_tensor *values[4];
    struct d2_error ignored = { D2_OK, "" };
    struct d2_resize_plan plan;

    if (a->mode != D2_RESIZE_MODE_NEAREST || !integer_factors(top, out, factors))
        return false;
    for (uint32_t i = 1; i < 4; i++)
        resize_input(g, resize, i, &types[i], &values[i]);
    if (d2_resize_make_plan(a, top, types[1], values[1], types[2], values[2], types[3], values[3], &plan, &ignored) !=
        D2_OK)
        return false;
    for (int32_t d = 0; d < out->rank; d++) {
        if (plan.resized[d] && (plan.out[d] != out->dims[d] || plan.scale[d] != (double)factors[d]))
            return false;
        if (!plan.resized[d] && factors[d] != 1)
            return false;
        if (!nearest_rule_is_floor_div(a, factors[d]))
            return false;
    }
    return true;
}

/* The upsample node's scales, when it is an exact integer nearest upsampling. */
static bool upsample_factors(const struct d2_graph *g, const struct d2_node *upsample, int64_t *factors)
{
    const struct d2_attrs_upsample *a = upsample->attrs;
    const struct d2_type *top = &g->values[upsample->inputs[0]].type, *out = &g->values[upsample->outputs[0]].type;

    if (a->mode != D2_RESIZE_MODE_NEAREST || a->align_corners || !integer_factors(top, out, factors))
        return false;
    for (int32_t d = 2; d < out->rank; d++) {
        int64_t s = factors[d];
        if ((s & (s - 1)) != 0 || out->dims[d] > (1 << 24))
            return false;
        if (a->scales.count && a->scales.data[d - 2] != (double)s)
            return false;
    }
    return true;
}

/* The resize/upsample producing u, and its factors, when add(lateral, u) can fuse. */
static bool match(const struct d2_graph *g, const struct d2_node *add, d2_value_id u, d2_value_id lateral,
                  const uint32_t *uses, int64_t *factors, d2_value_id *top)
{
    const struct d2_node *p = d2_rewrite_producer(g, u);
    const struct d2_type *ut = &g->values[u].type, *lt = &g->values[lateral].type;
    const struct d2_type *yt = &g->values[add->outputs[0]].type;
    if (!p || (p->op != D2_OP_RESIZE && p->op != D2_OP_UPSAMPLE) || p->num_inputs < 1 || uses[u] != 1)
        return false;
    const struct d2_type *tt = &g->values[p->inputs[0]].type;
    if (ut->dtype != D2_DTYPE_F32 || !d2_type_is_static(ut) || ut->rank < 3 || !d2_type_equal(ut, lt) ||
        !d2_type_equal(ut, yt) || tt->dtype != D2_DTYPE_F32 || !d2_type_is_static(tt) || tt->rank != ut->rank)
        return false;
    if (!(p->op == D2_OP_RESIZE ? resize_factors(g, p, factors) : upsample_factors(g, p, factors)))
        return false;
    *top = p->inputs[0];
    return true;
}

static enum d2_status fuse_graph(struct d2_graph *g, struct d2_error *err)
{
    bool *dead = NULL;
    uint32_t *uses = d2_pass_count_live_uses(g, &dead, err);
    enum d2_status st = D2_OK;
    if (!uses)
        return D2_ERR_NOMEM;
    for (uint32_t n = 0; st == D2_OK && n < g->num_nodes; n++) {
        struct d2_node *add = &g->nodes[n];
        int64_t factors[D2_MAX_RANK];
        d2_value_id top = D2_NO_VALUE, lateral = D2_NO_VALUE;
        if (dead[n] || add->op != D2_OP_ADD || add->num_inputs != 2 || add->inputs[0] == D2_NO_VALUE ||
            add->inputs[1] == D2_NO_VALUE)
            continue;
        for (uint32_t side = 0; side < 2 && top == D2_NO_VALUE; side++)
            if (match(g, add, add->inputs[side], add->inputs[1 - side], uses, factors, &top))
                lateral = add->inputs[1 - side];
        if (top == D2_NO_VALUE)
            continue;
        int32_t rank = g->values[lateral].type.rank;
        const char *name = add->name;
        struct d2_attrs_upsample_add *attrs = d2_rewrite_retarget(g, add, D2_OP_UPSAMPLE_ADD, err);
        if (!attrs) {
            st = D2_ERR_NOMEM;
            break;
        }
        if ((st = d2_graph_set_ints(g, &attrs->scales, factors + 2, (uint32_t)(rank - 2), err)) != D2_OK) {
            d2_error_prefix(err, "node '%s' (add): ", name);
            break;
        }
        /* The upsampled value loses its only reader; top trades the resize, now dead,
         * for this node as a reader, so its count stays. */
        uses[add->inputs[0] == lateral ? add->inputs[1] : add->inputs[0]] = 0;
        add->inputs[0] = lateral;
        add->inputs[1] = top;
    }
    d2_free(g->alloc, uses);
    d2_free(g->alloc, dead);
    return st;
}

enum d2_status d2_pass_fuse_upsample_add(struct d2_graph *g, struct d2_error *err)
{
    enum d2_status st;
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
            if ((st = d2_pass_fuse_upsample_add(g->nodes[n].regions[r], err)) != D2_OK)
                return st;
    if ((st = fuse_graph(g, err)) != D2_OK)
        return st;
    return d2_infer_graph(g, err);
}
