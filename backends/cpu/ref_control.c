/* backends/cpu/ref_control.c: reference kernels of the control-flow ops `if` and
 * `loop`. They run their regions through the executor that called them
 * (ctx->executor, see executor.h), one nesting level deeper.
 *
 * Semantics: docs/IR.md and ops.def (ONNX If and Loop).
 *   if(cond, caps...)                runs region then (cond true) or else on caps.
 *   loop(M?, cond?, v[N], caps...)   for i = 0; i < M && cond; i++:
 *                                      (cond', v', scans) = body(i, cond, v, caps)
 *                                    A missing M means no bound, a missing cond means
 *                                    always true (the body's cond output is then
 *                                    ignored); both missing would never end and is
 *                                    refused. Outputs: final v (the inputs when the
 *                                    body never ran) and each scan output stacked
 *                                    along a new axis 0 (every iteration must yield
 *                                    the same dtype and shape).
 * Captures and loop-carried inputs are passed to the regions borrowed, never copied.
 */
#include <string.h>

#include "cpu.h"
#include "executor.h"

/* Looked up by name through the table in ref_table.c. */
enum d2_status d2_cpu_ref_if(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_ref_loop(struct d2_kernel_ctx *ctx);

/* The executor to run regions with: the caller's, or a fresh one when a kernel is
 * called directly (op tests). */
static struct d2_executor region_executor(const struct d2_kernel_ctx *ctx)
{
    struct d2_executor ex;
    memset(&ex, 0, sizeof ex);
    ex.alloc = ctx->alloc;
    ex.depth = ctx->executor ? ctx->executor->depth + 1 : 1;
    if (ctx->executor) {
        ex.kernel_for = ctx->executor->kernel_for;
        ex.kernel_data = ctx->executor->kernel_data;
        ex.writes_every_output = ctx->executor->writes_every_output;
    }
    /* Left NULL: regions run inside their node's timing (observe_node), have no memory
     * plan (arena_cache), and their outputs stay in the enclosing run (output_escapes). */
    return ex;
}

/* A borrowed view of t: same dims and data, never freed through the view. */
static struct d2_tensor borrow(const struct d2_tensor *t)
{
    struct d2_tensor view = *t;
    view.owns_data = false;
    return view;
}

static enum d2_status read_scalar_flag(const struct d2_kernel_ctx *ctx, uint32_t input, const char *what,
                                       double *out)
{
    const struct d2_tensor *t = ctx->inputs[input];
    if (d2_tensor_numel(t) != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must hold a single element, has %lld", what,
                         (long long)d2_tensor_numel(t));
    *out = d2_load_f64(t->data, t->dtype, 0);
    return D2_OK;
}

enum d2_status d2_cpu_ref_if(struct d2_kernel_ctx *ctx)
{
    const struct d2_node *n = ctx->node;
    struct d2_executor ex = region_executor(ctx);
    const struct d2_graph *region;
    uint32_t captures = ctx->num_inputs - 1;
    struct d2_tensor *region_in = NULL, *region_out = NULL;
    enum d2_status st;
    double cond;

    if (!ctx->inputs[0])
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "if needs a condition input");
    st = read_scalar_flag(ctx, 0, "the condition", &cond);
    if (st != D2_OK)
        return st;
    region = n->regions[cond != 0 ? 0 : 1];
    region_in = d2_calloc(ctx->alloc, captures + 1u, sizeof *region_in);
    region_out = d2_calloc(ctx->alloc, ctx->num_outputs + 1u, sizeof *region_out);
    if (!region_in || !region_out) {
        st = d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory running an if region");
        goto done;
    }
    for (uint32_t i = 0; i < captures; i++) {
        if (!ctx->inputs[1 + i]) {
            st = d2_errorf(ctx->err, D2_ERR_SHAPE, "capture %u is missing", i);
            goto done;
        }
        region_in[i] = borrow(ctx->inputs[1 + i]);
    }
    st = d2_executor_run(&ex, region, region_in, captures, region_out, ctx->num_outputs, ctx->err);
    if (st != D2_OK) {
        d2_error_prefix(ctx->err, "region '%s': ", cond != 0 ? "then" : "else");
        goto done;
    }
    for (uint32_t i = 0; i < ctx->num_outputs; i++) {
        d2_tensor_release(&ctx->outputs[i], ctx->alloc);
        ctx->outputs[i] = region_out[i];
    }
done:
    d2_free(ctx->alloc, region_in);
    d2_free(ctx->alloc, region_out);
    return st;
}

/* ---- loop ---------------------------------------------------------------- */

/* Largest scan output reserved at once from the trip count (see scan_append). */
#define SCAN_RESERVE_MAX ((uint64_t)4 << 30)

/* One scan output being stacked: a growing buffer of per-iteration slices. */
struct scan_acc {
    enum d2_dtype dtype;
    int32_t rank;                /* of one slice */
    int64_t dims[D2_MAX_RANK];
    size_t slice_bytes;
    int64_t count;               /* slices so far */
    char *data;
    size_t cap_bytes;
};

static enum d2_status scan_append(const struct d2_kernel_ctx *ctx, struct scan_acc *acc, uint32_t k,
                                  const struct d2_tensor *slice, int64_t max_trips)
{
    if (acc->count == 0) {
        if (slice->rank + 1 > D2_MAX_RANK)
            return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "scan output %u would have rank %d, above %d", k,
                             (int)slice->rank + 1, D2_MAX_RANK);
        acc->dtype = slice->dtype;
        acc->rank = slice->rank;
        memcpy(acc->dims, slice->dims, sizeof acc->dims);
        acc->slice_bytes = slice->nbytes;
    } else {
        bool same = acc->dtype == slice->dtype && acc->rank == slice->rank;
        for (int32_t d = 0; same && d < acc->rank; d++)
            same = acc->dims[d] == slice->dims[d];
        if (!same)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "scan output %u changes dtype or shape at iteration %lld", k,
                             (long long)acc->count);
    }
    if (acc->slice_bytes) {
        size_t need = (size_t)(acc->count + 1) * acc->slice_bytes;
        if (need / acc->slice_bytes != (size_t)(acc->count + 1))
            return d2_errorf(ctx->err, D2_ERR_NOMEM, "scan output %u is too large", k);
        if (need > acc->cap_bytes) {
            size_t cap = acc->cap_bytes ? acc->cap_bytes : acc->slice_bytes;
            char *grown = NULL;
            /* First slice of a loop with a known trip count: room for every iteration
             * at once (one allocation of the final size, which a caching allocator
             * can serve from the previous run's output). Only a bound that could be
             * real: a loop may stop early on its condition, so an M of 2^40 is a
             * "while" and gets the geometric growth below; so does a failed try. */
            if (!acc->cap_bytes && max_trips > 1 && (uint64_t)max_trips <= SCAN_RESERVE_MAX / acc->slice_bytes)
                grown = d2_realloc(ctx->alloc, acc->data, (size_t)max_trips * acc->slice_bytes);
            if (grown) {
                cap = (size_t)max_trips * acc->slice_bytes;
            } else {
                while (cap < need)
                    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
                grown = d2_realloc(ctx->alloc, acc->data, cap);
            }
            if (!grown)
                return d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory stacking scan output %u", k);
            acc->data = grown;
            acc->cap_bytes = cap;
        }
        memcpy(acc->data + (size_t)acc->count * acc->slice_bytes, slice->data, acc->slice_bytes);
    }
    acc->count++;
    return D2_OK;
}

/* Turn the accumulated slices into node output `out` ([count, slice dims...]). With
 * no iteration, the slice type comes from the body's declared output type. */
static enum d2_status scan_finish(struct d2_kernel_ctx *ctx, struct scan_acc *acc, uint32_t k,
                                  const struct d2_type *declared, struct d2_tensor *out)
{
    int64_t dims[D2_MAX_RANK];
    if (acc->count == 0) {
        int32_t rank = declared->rank > 0 ? declared->rank : 0;
        enum d2_dtype dtype = declared->dtype != D2_DTYPE_UNDEFINED ? declared->dtype : D2_DTYPE_F32;
        if (rank + 1 > D2_MAX_RANK)
            return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "scan output %u would have rank %d, above %d", k,
                             (int)rank + 1, D2_MAX_RANK);
        dims[0] = 0;
        for (int32_t d = 0; d < rank; d++)
            dims[d + 1] = declared->dims[d] >= 0 ? declared->dims[d] : 0;
        d2_tensor_release(out, ctx->alloc);
        return d2_tensor_alloc(out, ctx->alloc, dtype, rank + 1, dims, ctx->err);
    }
    d2_tensor_release(out, ctx->alloc);
    memset(out, 0, sizeof *out);
    if (!acc->data) { /* empty slices: still give the tensor a unique pointer */
        acc->data = d2_alloc(ctx->alloc, 1);
        if (!acc->data)
            return d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory stacking scan output %u", k);
    }
    out->dtype = acc->dtype;
    out->rank = acc->rank + 1;
    out->dims[0] = acc->count;
    for (int32_t d = 0; d < acc->rank; d++)
        out->dims[d + 1] = acc->dims[d];
    out->data = acc->data;
    out->nbytes = (size_t)acc->count * acc->slice_bytes;
    out->owns_data = true;
    acc->data = NULL;
    return D2_OK;
}

enum d2_status d2_cpu_ref_loop(struct d2_kernel_ctx *ctx)
{
    const struct d2_node *n = ctx->node;
    const struct d2_attrs_loop *attrs = n->attrs;
    const struct d2_graph *body = n->regions[0];
    struct d2_executor ex = region_executor(ctx);
    uint32_t carried = (uint32_t)attrs->num_carried;
    uint32_t body_num_in = ctx->num_inputs, body_num_out = body->num_outputs;
    uint32_t scans = body_num_out - 1 - carried;
    struct d2_tensor *body_in = NULL, *body_out = NULL, *current = NULL;
    struct d2_tensor iteration_num, cond_tensor;
    struct scan_acc *acc = NULL;
    int64_t max_trips = INT64_MAX;
    bool cond = true;
    enum d2_status st = D2_OK;
    double flag;

    memset(&iteration_num, 0, sizeof iteration_num);
    memset(&cond_tensor, 0, sizeof cond_tensor);
    if (!ctx->inputs[0] && !ctx->inputs[1])
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "a loop without trip count M and condition never ends");
    if (ctx->inputs[0]) {
        st = read_scalar_flag(ctx, 0, "the trip count M", &flag);
        if (st != D2_OK)
            return st;
        max_trips = d2_tensor_get_i64(ctx->inputs[0], 0);
    }
    if (ctx->inputs[1]) {
        st = read_scalar_flag(ctx, 1, "the loop condition", &flag);
        if (st != D2_OK)
            return st;
        cond = flag != 0;
    }

    body_in = d2_calloc(ctx->alloc, body_num_in, sizeof *body_in);
    body_out = d2_calloc(ctx->alloc, body_num_out, sizeof *body_out);
    current = d2_calloc(ctx->alloc, carried + 1u, sizeof *current);
    acc = d2_calloc(ctx->alloc, scans + 1u, sizeof *acc);
    if (!body_in || !body_out || !current || !acc) {
        st = d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory running a loop");
        goto done;
    }
    st = d2_tensor_alloc(&iteration_num, ctx->alloc, D2_DTYPE_I64, 0, NULL, ctx->err);
    if (st == D2_OK)
        st = d2_tensor_alloc(&cond_tensor, ctx->alloc, D2_DTYPE_BOOL, 0, NULL, ctx->err);
    if (st != D2_OK)
        goto done;
    for (uint32_t i = 0; i < carried; i++) {
        if (!ctx->inputs[2 + i]) {
            st = d2_errorf(ctx->err, D2_ERR_SHAPE, "loop-carried input %u is missing", i);
            goto done;
        }
        current[i] = borrow(ctx->inputs[2 + i]);
    }
    for (uint32_t c = 2 + carried; c < body_num_in; c++) {
        if (!ctx->inputs[c]) {
            st = d2_errorf(ctx->err, D2_ERR_SHAPE, "capture %u is missing", c - 2 - carried);
            goto done;
        }
        body_in[c] = borrow(ctx->inputs[c]);
    }

    for (int64_t i = 0; i < max_trips && cond; i++) {
        ((int64_t *)iteration_num.data)[0] = i;
        ((uint8_t *)cond_tensor.data)[0] = 1;
        body_in[0] = borrow(&iteration_num);
        body_in[1] = borrow(&cond_tensor);
        for (uint32_t v = 0; v < carried; v++)
            body_in[2 + v] = borrow(&current[v]);
        st = d2_executor_run(&ex, body, body_in, body_num_in, body_out, body_num_out, ctx->err);
        if (st != D2_OK) {
            d2_error_prefix(ctx->err, "body at iteration %lld: ", (long long)i);
            goto done;
        }
        if (ctx->inputs[1]) {
            if (d2_tensor_numel(&body_out[0]) != 1) {
                st = d2_errorf(ctx->err, D2_ERR_SHAPE, "the body's condition output must hold a single element");
                goto done;
            }
            cond = d2_load_f64(body_out[0].data, body_out[0].dtype, 0) != 0;
        }
        for (uint32_t k = 0; k < scans && st == D2_OK; k++)
            st = scan_append(ctx, &acc[k], k, &body_out[1 + carried + k], max_trips);
        /* The body's new carried values replace the old ones (freed if owned). */
        for (uint32_t v = 0; v < carried; v++) {
            d2_tensor_release(&current[v], ctx->alloc);
            current[v] = body_out[1 + v];
            memset(&body_out[1 + v], 0, sizeof body_out[1 + v]);
        }
        for (uint32_t o = 0; o < body_num_out; o++)
            d2_tensor_release(&body_out[o], ctx->alloc);
        if (st != D2_OK)
            goto done;
    }

    for (uint32_t v = 0; v < carried && st == D2_OK; v++) {
        d2_tensor_release(&ctx->outputs[v], ctx->alloc);
        if (current[v].owns_data) {
            ctx->outputs[v] = current[v];
            memset(&current[v], 0, sizeof current[v]);
        } else {
            st = d2_tensor_copy(&ctx->outputs[v], &current[v], ctx->alloc, ctx->err);
        }
    }
    for (uint32_t k = 0; k < scans && st == D2_OK; k++)
        st = scan_finish(ctx, &acc[k], k, &body->values[body->outputs[1 + carried + k]].type,
                         &ctx->outputs[carried + k]);

done:
    if (body_out)
        for (uint32_t o = 0; o < body_num_out; o++)
            d2_tensor_release(&body_out[o], ctx->alloc);
    if (current)
        for (uint32_t v = 0; v < carried; v++)
            d2_tensor_release(&current[v], ctx->alloc);
    if (acc)
        for (uint32_t k = 0; k < scans; k++)
            d2_free(ctx->alloc, acc[k].data);
    d2_tensor_release(&iteration_num, ctx->alloc);
    d2_tensor_release(&cond_tensor, ctx->alloc);
    d2_free(ctx->alloc, body_in);
    d2_free(ctx->alloc, body_out);
    d2_free(ctx->alloc, current);
    d2_free(ctx->alloc, acc);
    return st;
}
