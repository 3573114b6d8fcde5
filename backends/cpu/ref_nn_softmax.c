/* backends/cpu/ref_nn_softmax.c: reference kernels of softmax, log_softmax and hardmax
 * (ONNX opset 13: one `axis`, negative counts from the end).
 *
 * X is viewed as [outer, n, inner] around the axis; each of the outer*inner lines of
 * n elements is handled on its own, in double:
 *   softmax:     e^(x - max) / sum e^(x - max)   (subtracting the max keeps exp finite)
 *   log_softmax: (x - max) - log(sum e^(x - max))
 *   hardmax:     1 at the first maximum of the line, 0 elsewhere
 */
#include "ref_nn.h"

#include <math.h>

enum softmax_kind { SOFTMAX, LOG_SOFTMAX, HARDMAX };

static void softmax_line(double *v, int64_t n, enum softmax_kind kind)
{
    int64_t first_max = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[first_max])
            first_max = i;
    if (kind == HARDMAX) {
        for (int64_t i = 0; i < n; i++)
            v[i] = i == first_max ? 1.0 : 0.0;
        return;
    }
    double max = v[first_max], sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += exp(v[i] - max);
    for (int64_t i = 0; i < n; i++)
        v[i] = kind == SOFTMAX ? exp(v[i] - max) / sum : (v[i] - max) - log(sum);
}

static enum d2_status run_softmax(struct d2_kernel_ctx *ctx, enum softmax_kind kind, const char *op)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t axis;
    enum d2_status st;
    if (!d2_normalize_axis(((const struct d2_attrs_axis *)ctx->node->attrs)->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: axis %lld is out of range for rank %d", op,
                         (long long)((const struct d2_attrs_axis *)ctx->node->attrs)->axis, (int)x->rank);
    if ((st = d2_nn_prepare_output(ctx, 0, x->dtype, x->rank, x->dims)) != D2_OK)
        return st;
    int64_t outer = 1, n = x->dims[axis], inner = 1;
    for (int64_t i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int64_t i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    if (n == 0 || outer * inner == 0)
        return D2_OK;
    double *line = d2_alloc(ctx->alloc, (size_t)n * sizeof *line);
    if (!line)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "%s: out of memory", op);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            size_t base = (size_t)(o * n * inner + in);
            for (int64_t i = 0; i < n; i++)
                line[i] = d2_load_f64(x->data, x->dtype, base + (size_t)(i * inner));
            softmax_line(line, n, kind);
            for (int64_t i = 0; i < n; i++)
                d2_store_f64(ctx->outputs[0].data, x->dtype, base + (size_t)(i * inner), line[i]);
        }
    d2_free(ctx->alloc, line);
    return D2_OK;
}

enum d2_status d2_cpu_ref_softmax(struct d2_kernel_ctx *ctx)
{
    return run_softmax(ctx, SOFTMAX, "softmax");
}

enum d2_status d2_cpu_ref_log_softmax(struct d2_kernel_ctx *ctx)
{
    return run_softmax(ctx, LOG_SOFTMAX, "log_softmax");
}

enum d2_status d2_cpu_ref_hardmax(struct d2_kernel_ctx *ctx)
{
    return run_softmax(ctx, HARDMAX, "hardmax");
}
