/* backends/cpu/ref_nn.h: reference CPU kernels of the "neural network" ops
 * (backends/cpu/ref_nn_*.c) and the small helpers they share (ref_nn_util.c).
 *
 * The kernels compute in double: f32/f64 data is read in place, f16/bf16 data is
 * first widened to an f32 copy (exact), so the inner loops only know two element
 * types. Integer inputs (matmul, gemm, max pools) go through d2_load_i64/d2_load_f64.
 */
#ifndef D2_BACKENDS_CPU_REF_NN_H
#define D2_BACKENDS_CPU_REF_NN_H

#include "cpu.h"
#include "../../ir/shape_nn.h"

#define D2_X(name) enum d2_status d2_cpu_ref_##name(struct d2_kernel_ctx *ctx);
D2_NN_OPS(D2_X)
#undef D2_X

/* Give output i the dtype and dims the kernel computed: keeps the executor's storage
 * when it already matches, otherwise allocates (zeroed). */
enum d2_status d2_nn_prepare_output(struct d2_kernel_ctx *ctx, uint32_t i, enum d2_dtype dtype, int32_t rank,
                                    const int64_t *dims);

/* A float tensor's elements as f32 or f64, for loops that read them directly.
 * f32 and f64 data is used in place; f16 and bf16 data is widened into `owned`
 * (an f32 copy the caller releases with d2_nn_floats_release). */
struct d2_nn_floats {
    const void *data;     /* float * when dtype is F32, double * when F64 */
    enum d2_dtype dtype;  /* F32 or F64 */
    void *owned;          /* the widened copy, or NULL */
};
enum d2_status d2_nn_floats_view(struct d2_kernel_ctx *ctx, const struct d2_tensor *t, struct d2_nn_floats *v);
void d2_nn_floats_release(struct d2_kernel_ctx *ctx, struct d2_nn_floats *v);

/* acc[j * acc_step] += w * x[j * x_step] for j in [0, count); x points into data of
 * the given dtype (F32 or F64), at element x_offset. */
void d2_nn_axpy(double *acc, int64_t acc_step, double w, const void *x, enum d2_dtype dtype, int64_t x_offset,
                int64_t x_step, int64_t count);

/* sum over j in [0, count) of x[x_offset + j * x_step] * y[y_offset + j * y_step]
 * (x and y both of dtype F32 or F64). */
double d2_nn_dot(const void *x, int64_t x_offset, int64_t x_step, const void *y, int64_t y_offset, int64_t y_step,
                 enum d2_dtype dtype, int64_t count);

/* Load count elements of t from element `offset` into dst as double (any numeric dtype). */
void d2_nn_load(double *dst, const struct d2_tensor *t, size_t offset, size_t count);
/* Store count doubles into t from element `offset`, converting to t's dtype. */
void d2_nn_store(struct d2_tensor *t, size_t offset, const double *src, size_t count);

/* A spatial window viewed as 3-D: 1-D and 2-D windows get leading size-1 dims with
 * kernel 1, stride 1, dilation 1 and no padding, so kernels loop over 3 dims only.
 * Returns false for more than 3 spatial dims. */
struct d2_nn_window3 {
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_begin[3], pad_end[3];
};
bool d2_nn_window3(const struct d2_window *w, struct d2_nn_window3 *w3);

/* The positions o in [0, count) whose tap o*stride - pad + offset lies in [0, extent):
 * [*first, *last) (empty when *first >= *last). Hoists a window's bounds checks out of
 * the inner loops. */
void d2_nn_tap_range(int64_t count, int64_t extent, int64_t stride, int64_t pad, int64_t offset, int64_t *first,
                     int64_t *last);

#endif /* D2_BACKENDS_CPU_REF_NN_H */
