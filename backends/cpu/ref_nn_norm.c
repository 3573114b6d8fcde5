/* backends/cpu/ref_nn_norm.c: reference kernels of batch_norm (inference form),
 * instance_norm and lrn. X is [N, C, ...]; per-channel parameters are [C] and may
 * have their own float dtype. Everything is computed in double.
 *
 * batch_norm:    y = scale[c] * (x - mean[c]) / sqrt(var[c] + epsilon) + B[c]
 * instance_norm: y = scale[c] * (x - mean_nc) / sqrt(var_nc + epsilon) + B[c], with the
 *                mean and (population) variance over the spatial dims of plane (n, c)
 * lrn:           y = x / (bias + alpha/size * sum of x^2 over channels
 *                [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta
 */
#include "ref_nn.h"

#include <math.h>

/* N, C and the elements of one (n, c) plane of X. */
static enum d2_status channel_layout(const struct d2_kernel_ctx *ctx, const char *op, int32_t min_rank,
                                     int64_t *batch, int64_t *channels, int64_t *plane)
{
    const struct d2_tensor *x = ctx->inputs[0];
    if (x->rank < min_rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X needs rank >= %d, got %d", op, (int)min_rank, (int)x->rank);
    *batch = x->dims[0];
    *channels = x->dims[1];
    *plane = 1;
    for (int32_t i = 2; i < x->rank; i++)
        *plane *= x->dims[i];
    return D2_OK;
}

/* Every parameter input must be a [C] vector. */
static enum d2_status check_params(const struct d2_kernel_ctx *ctx, const char *op, int64_t channels)
{
    for (uint32_t i = 1; i < ctx->num_inputs; i++) {
        const struct d2_tensor *t = ctx->inputs[i];
        if (!t || t->rank != 1 || t->dims[0] != channels)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: input %u must be a [%lld] vector", op, i,
                             (long long)channels);
    }
    return D2_OK;
}

static double param(const struct d2_kernel_ctx *ctx, uint32_t input, int64_t c)
{
    const struct d2_tensor *t = ctx->inputs[input];
    return d2_load_f64(t->data, t->dtype, (size_t)c);
}

enum d2_status d2_cpu_ref_batch_norm(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    double epsilon = ((const struct d2_attrs_epsilon *)ctx->node->attrs)->epsilon;
    int64_t batch, channels, plane;
    enum d2_status st = channel_layout(ctx, "batch_norm", 2, &batch, &channels, &plane);
    if (st == D2_OK)
        st = check_params(ctx, "batch_norm", channels);
    if (st == D2_OK)
        st = d2_nn_prepare_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    for (int64_t c = 0; c < channels; c++) {
        /* y = x * factor + shift */
        double factor = param(ctx, 1, c) / sqrt(param(ctx, 4, c) + epsilon);
        double shift = param(ctx, 2, c) - param(ctx, 3, c) * factor;
        for (int64_t n = 0; n < batch; n++) {
            size_t base = (size_t)((n * channels + c) * plane);
            for (int64_t i = 0; i < plane; i++) {
                double v = d2_load_f64(x->data, x->dtype, base + (size_t)i);
                d2_store_f64(ctx->outputs[0].data, x->dtype, base + (size_t)i, v * factor + shift);
            }
        }
    }
    return D2_OK;
}

enum d2_status d2_cpu_ref_instance_norm(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    double epsilon = ((const struct d2_attrs_epsilon *)ctx->node->attrs)->epsilon;
    int64_t batch, channels, plane;
    enum d2_status st = channel_layout(ctx, "instance_norm", 3, &batch, &channels, &plane);
    if (st == D2_OK)
        st = check_params(ctx, "instance_norm", channels);
    if (st == D2_OK)
        st = d2_nn_prepare_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK || plane == 0)
        return st;
    double *values = d2_alloc(ctx->alloc, (size_t)plane * sizeof *values);
    if (!values)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "instance_norm: out of memory for a plane");
    for (int64_t n = 0; n < batch; n++)
        for (int64_t c = 0; c < channels; c++) {
            size_t base = (size_t)((n * channels + c) * plane);
            double mean = 0.0, var = 0.0;
            d2_nn_load(values, x, base, (size_t)plane);
            for (int64_t i = 0; i < plane; i++)
                mean += values[i];
            mean /= (double)plane;
            for (int64_t i = 0; i < plane; i++) /* two passes: no cancellation */
                var += (values[i] - mean) * (values[i] - mean);
            var /= (double)plane;
            double factor = param(ctx, 1, c) / sqrt(var + epsilon), bias = param(ctx, 2, c);
            for (int64_t i = 0; i < plane; i++)
                values[i] = (values[i] - mean) * factor + bias;
            d2_nn_store(&ctx->outputs[0], base, values, (size_t)plane);
        }
    d2_free(ctx->alloc, values);
    return D2_OK;
}

enum d2_status d2_cpu_ref_lrn(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    const struct d2_attrs_lrn *a = ctx->node->attrs;
    int64_t batch, channels, plane;
    enum d2_status st = channel_layout(ctx, "lrn", 2, &batch, &channels, &plane);
    if (st == D2_OK && a->size < 1)
        st = d2_errorf(ctx->err, D2_ERR_SHAPE, "lrn: size is %lld, must be >= 1", (long long)a->size);
    if (st == D2_OK)
        st = d2_nn_prepare_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    int64_t before = (a->size - 1) / 2, after = a->size - 1 - before;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t c = 0; c < channels; c++)
            for (int64_t i = 0; i < plane; i++) {
                double square_sum = 0.0;
                int64_t lo = c - before < 0 ? 0 : c - before, hi = c + after >= channels ? channels - 1 : c + after;
                for (int64_t cc = lo; cc <= hi; cc++) {
                    double v = d2_load_f64(x->data, x->dtype, (size_t)((n * channels + cc) * plane + i));
                    square_sum += v * v;
                }
                size_t index = (size_t)((n * channels + c) * plane + i);
                double v = d2_load_f64(x->data, x->dtype, index);
                double y = v / pow(a->bias + a->alpha / (double)a->size * square_sum, a->beta);
                d2_store_f64(ctx->outputs[0].data, x->dtype, index, y);
            }
    return D2_OK;
}
