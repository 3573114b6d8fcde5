/* backends/cpu/ref_nn_util.c: helpers shared by the neural-network reference kernels
 * (see backends/cpu/ref_nn.h for the contracts). */
#include "ref_nn.h"

#include <string.h>

enum d2_status d2_nn_prepare_output(struct d2_kernel_ctx *ctx, uint32_t i, enum d2_dtype dtype, int32_t rank,
                                    const int64_t *dims)
{
    struct d2_tensor *out = &ctx->outputs[i];
    bool matches = out->dtype == dtype && out->rank == rank;
    for (int32_t d = 0; matches && d < rank; d++)
        matches = out->dims[d] == dims[d];
    if (matches && (out->data != NULL || d2_dims_numel(rank, dims) == 0))
        return D2_OK;
    return d2_kernel_alloc_output(ctx, i, dtype, rank, dims);
}

enum d2_status d2_nn_floats_view(struct d2_kernel_ctx *ctx, const struct d2_tensor *t, struct d2_nn_floats *v)
{
    memset(v, 0, sizeof *v);
    if (t->dtype == D2_DTYPE_F32 || t->dtype == D2_DTYPE_F64) {
        v->data = t->data;
        v->dtype = t->dtype;
        return D2_OK;
    }
    if (!d2_dtype_is_float(t->dtype))
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "%s: expected a float tensor, got %s",
                         d2_op_name(ctx->node->op), d2_dtype_name(t->dtype));
    size_t n = (size_t)d2_tensor_numel(t);
    float *copy = d2_alloc(ctx->alloc, n ? n * sizeof *copy : 1);
    if (!copy)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "%s: out of memory widening %s data", d2_op_name(ctx->node->op),
                         d2_dtype_name(t->dtype));
    for (size_t i = 0; i < n; i++)
        copy[i] = (float)d2_load_f64(t->data, t->dtype, i); /* f16/bf16 -> f32 is exact */
    v->data = copy;
    v->dtype = D2_DTYPE_F32;
    v->owned = copy;
    return D2_OK;
}

void d2_nn_floats_release(struct d2_kernel_ctx *ctx, struct d2_nn_floats *v)
{
    d2_free(ctx->alloc, v->owned);
    memset(v, 0, sizeof *v);
}

void d2_nn_axpy(double *acc, int64_t acc_step, double w, const void *x, enum d2_dtype dtype, int64_t x_offset,
                int64_t x_step, int64_t count)
{
    if (dtype == D2_DTYPE_F32) {
        const float *p = (const float *)x + x_offset;
        if (acc_step == 1 && x_step == 1) { /* the common case, kept simple for the compiler */
            for (int64_t j = 0; j < count; j++)
                acc[j] += w * (double)p[j];
        } else {
            for (int64_t j = 0; j < count; j++)
                acc[j * acc_step] += w * (double)p[j * x_step];
        }
    } else {
        const double *p = (const double *)x + x_offset;
        for (int64_t j = 0; j < count; j++)
            acc[j * acc_step] += w * p[j * x_step];
    }
}

double d2_nn_dot(const void *x, int64_t x_offset, int64_t x_step, const void *y, int64_t y_offset, int64_t y_step,
                 enum d2_dtype dtype, int64_t count)
{
    double sum = 0.0;
    if (dtype == D2_DTYPE_F32) {
        const float *a = (const float *)x + x_offset, *b = (const float *)y + y_offset;
        for (int64_t j = 0; j < count; j++)
            sum += (double)a[j * x_step] * (double)b[j * y_step];
    } else {
        const double *a = (const double *)x + x_offset, *b = (const double *)y + y_offset;
        for (int64_t j = 0; j < count; j++)
            sum += a[j * x_step] * b[j * y_step];
    }
    return sum;
}

void d2_nn_load(double *dst, const struct d2_tensor *t, size_t offset, size_t count)
{
    if (t->dtype == D2_DTYPE_F32) {
        const float *p = (const float *)t->data + offset;
        for (size_t i = 0; i < count; i++)
            dst[i] = p[i];
    } else {
        for (size_t i = 0; i < count; i++)
            dst[i] = d2_load_f64(t->data, t->dtype, offset + i);
    }
}

void d2_nn_store(struct d2_tensor *t, size_t offset, const double *src, size_t count)
{
    if (t->dtype == D2_DTYPE_F32) {
        float *p = (float *)t->data + offset;
        for (size_t i = 0; i < count; i++)
            p[i] = (float)src[i];
    } else {
        for (size_t i = 0; i < count; i++)
            d2_store_f64(t->data, t->dtype, offset + i, src[i]);
    }
}

bool d2_nn_window3(const struct d2_window *w, struct d2_nn_window3 *w3)
{
    int32_t lead = 3 - w->spatial;
    if (w->spatial < 1 || w->spatial > 3)
        return false;
    for (int32_t i = 0; i < 3; i++) {
        int32_t s = i - lead;
        bool real = s >= 0;
        w3->in[i] = real ? w->in[s] : 1;
        w3->out[i] = real ? w->out[s] : 1;
        w3->kernel[i] = real ? w->kernel[s] : 1;
        w3->stride[i] = real ? w->stride[s] : 1;
        w3->dilation[i] = real ? w->dilation[s] : 1;
        w3->pad_begin[i] = real ? w->pad_begin[s] : 0;
        w3->pad_end[i] = real ? w->pad_end[s] : 0;
    }
    return true;
}

/* floor(a / b) for b > 0 (C division truncates toward zero). */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

void d2_nn_tap_range(int64_t count, int64_t extent, int64_t stride, int64_t pad, int64_t offset, int64_t *first,
                     int64_t *last)
{
    /* o*stride - pad + offset >= 0          <=> o >= ceil((pad - offset) / stride)
     * o*stride - pad + offset <= extent - 1 <=> o <= floor((extent - 1 + pad - offset) / stride) */
    int64_t lo = -floor_div(offset - pad, stride);
    int64_t hi = floor_div(extent - 1 + pad - offset, stride) + 1;
    if (lo < 0)
        lo = 0;
    if (hi > count)
        hi = count;
    *first = lo;
    *last = hi > lo ? hi : lo;
}
