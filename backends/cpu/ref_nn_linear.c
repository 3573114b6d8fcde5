/* backends/cpu/ref_nn_linear.c: reference kernels of matmul and gemm.
 *
 * matmul: numpy semantics. A 1-D A is a row [1, K] and a 1-D B a column [K, 1] (the
 * added dim is not in the result); leading (batch) dims broadcast. Floats accumulate
 * in double, integers in 64-bit two's complement (wrapping like the hardware would).
 * gemm:   Y = alpha * op(A) op(B) + beta * C, op transposes when trans_a/trans_b is
 * set, C (optional) broadcasts to [M, N] one way. Integer gemm accumulates exactly,
 * then applies alpha/beta in double.
 *
 * Float rows are computed as Y[i, :] += A[i, k] * B[k, :] (B read along its rows), or
 * as dot products when B is transposed (its rows are then op(B)'s columns).
 */
#include "ref_nn.h"

#include <string.h>

/* Integer A'(i,k) B'(k,j) summed over k, wrapping. */
static int64_t int_dot(const struct d2_tensor *a, int64_t a_off, int64_t a_step, const struct d2_tensor *b,
                       int64_t b_off, int64_t b_step, int64_t count)
{
    uint64_t sum = 0;
    for (int64_t k = 0; k < count; k++)
        sum += (uint64_t)d2_load_i64(a->data, a->dtype, (size_t)(a_off + k * a_step)) *
               (uint64_t)d2_load_i64(b->data, b->dtype, (size_t)(b_off + k * b_step));
    return (int64_t)sum;
}

/* One [M, K] x [K, N] product: element (i, k) of A is at a_off + i*a_rs + k*a_cs, and
 * likewise for B; results go to the double array y ([M, N], row-major). */
struct matrix_view {
    int64_t offset, row_step, col_step;
};

static void float_product(const struct d2_nn_floats *a, struct matrix_view av, const struct d2_nn_floats *b,
                          struct matrix_view bv, int64_t m, int64_t k, int64_t n, double *y)
{
    for (int64_t i = 0; i < m; i++) {
        double *row = y + i * n;
        if (bv.row_step == 1 && bv.col_step != 1) { /* B's columns are contiguous: dot products */
            for (int64_t j = 0; j < n; j++)
                row[j] = d2_nn_dot(a->data, av.offset + i * av.row_step, av.col_step, b->data,
                                   bv.offset + j * bv.col_step, bv.row_step, a->dtype, k);
            continue;
        }
        for (int64_t j = 0; j < n; j++)
            row[j] = 0.0;
        for (int64_t kk = 0; kk < k; kk++) {
            int64_t a_index = av.offset + i * av.row_step + kk * av.col_step;
            double w = a->dtype == D2_DTYPE_F32 ? ((const float *)a->data)[a_index]
                                                : ((const double *)a->data)[a_index];
            d2_nn_axpy(row, 1, w, b->data, b->dtype, bv.offset + kk * bv.row_step, bv.col_step, n);
        }
    }
}

static void int_product(const struct d2_tensor *a, struct matrix_view av, const struct d2_tensor *b,
                        struct matrix_view bv, int64_t m, int64_t k, int64_t n, int64_t *y)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            y[i * n + j] = int_dot(a, av.offset + i * av.row_step, av.col_step, b, bv.offset + j * bv.col_step,
                                   bv.row_step, k);
}

enum d2_status d2_cpu_ref_matmul(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    enum d2_status st;
    if (a->rank < 1 || b->rank < 1 || a->dtype != b->dtype)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "matmul: inputs need rank >= 1 and one dtype");
    /* Matrix dims after numpy's 1-D promotion. */
    int64_t m = a->rank > 1 ? a->dims[a->rank - 2] : 1, k = a->dims[a->rank - 1];
    int64_t kb = b->rank > 1 ? b->dims[b->rank - 2] : b->dims[0], n = b->rank > 1 ? b->dims[b->rank - 1] : 1;
    if (k != kb)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "matmul: inner dims differ: A has %lld columns, B has %lld rows",
                         (long long)k, (long long)kb);
    int32_t a_batch_rank = a->rank > 2 ? a->rank - 2 : 0, b_batch_rank = b->rank > 2 ? b->rank - 2 : 0;
    int32_t batch_rank = a_batch_rank > b_batch_rank ? a_batch_rank : b_batch_rank;
    int64_t batch_dims[D2_MAX_RANK], y_dims[D2_MAX_RANK], batches = 1;
    for (int32_t i = 0; i < batch_rank; i++) {
        int32_t ia = i - (batch_rank - a_batch_rank), ib = i - (batch_rank - b_batch_rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "matmul: batch dims %lld and %lld do not broadcast",
                             (long long)da, (long long)db);
        batch_dims[i] = da == 1 ? db : da;
        y_dims[i] = batch_dims[i];
        batches *= batch_dims[i];
    }
    int32_t y_rank = batch_rank;
    if (a->rank > 1)
        y_dims[y_rank++] = m;
    if (b->rank > 1)
        y_dims[y_rank++] = n;
    if ((st = d2_nn_prepare_output(ctx, 0, a->dtype, y_rank, y_dims)) != D2_OK)
        return st;
    struct d2_tensor *y = &ctx->outputs[0];
    bool is_float = d2_dtype_is_float(a->dtype);
    struct d2_nn_floats av = {0}, bv = {0};
    void *result = d2_alloc(ctx->alloc, (size_t)(m * n > 0 ? m * n : 1) * 8);
    if (!result)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "matmul: out of memory");
    if (is_float && ((st = d2_nn_floats_view(ctx, a, &av)) != D2_OK || (st = d2_nn_floats_view(ctx, b, &bv)) != D2_OK))
        goto done;
    for (int64_t bi = 0; bi < batches; bi++) {
        /* The broadcast index of this batch in A's and B's own batch dims. */
        int64_t a_batch = d2_broadcast_index(bi, batch_rank, batch_dims, a_batch_rank, a->dims);
        int64_t b_batch = d2_broadcast_index(bi, batch_rank, batch_dims, b_batch_rank, b->dims);
        struct matrix_view a_view = {a_batch * m * k, k, 1}, b_view = {b_batch * k * n, n, 1};
        if (is_float) {
            float_product(&av, a_view, &bv, b_view, m, k, n, result);
            d2_nn_store(y, (size_t)(bi * m * n), result, (size_t)(m * n));
        } else {
            int_product(a, a_view, b, b_view, m, k, n, result);
            for (int64_t i = 0; i < m * n; i++)
                d2_store_i64(y->data, y->dtype, (size_t)(bi * m * n + i), ((int64_t *)result)[i]);
        }
    }
done:
    d2_nn_floats_release(ctx, &av);
    d2_nn_floats_release(ctx, &bv);
    d2_free(ctx->alloc, result);
    return st;
}

enum d2_status d2_cpu_ref_gemm(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_gemm *attrs = ctx->node->attrs;
    const struct d2_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    const struct d2_tensor *c = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    enum d2_status st;
    if (a->rank != 2 || b->rank != 2 || a->dtype != b->dtype || (c && c->dtype != a->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "gemm: A and B must be 2-D, and A, B, C of one dtype");
    int64_t m = attrs->trans_a ? a->dims[1] : a->dims[0], k = attrs->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = attrs->trans_b ? b->dims[1] : b->dims[0], n = attrs->trans_b ? b->dims[0] : b->dims[1];
    if (k != kb)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "gemm: inner dims differ: op(A) has %lld columns, op(B) %lld rows",
                         (long long)k, (long long)kb);
    int64_t y_dims[2] = {m, n};
    if (c) { /* unidirectional broadcast of C to [M, N] */
        bool ok = c->rank <= 2;
        for (int32_t i = 0; ok && i < c->rank; i++)
            ok = c->dims[i] == 1 || c->dims[i] == y_dims[i + 2 - c->rank];
        if (!ok)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "gemm: C does not broadcast to [%lld, %lld]", (long long)m,
                             (long long)n);
    }
    if ((st = d2_nn_prepare_output(ctx, 0, a->dtype, 2, y_dims)) != D2_OK)
        return st;
    /* op(A)(i, k) and op(B)(k, j) as strided views of the stored matrices. */
    struct matrix_view a_view = {0, attrs->trans_a ? 1 : a->dims[1], attrs->trans_a ? a->dims[1] : 1};
    struct matrix_view b_view = {0, attrs->trans_b ? 1 : b->dims[1], attrs->trans_b ? b->dims[1] : 1};
    bool is_float = d2_dtype_is_float(a->dtype);
    struct d2_nn_floats av = {0}, bv = {0};
    void *result = d2_alloc(ctx->alloc, (size_t)(m * n > 0 ? m * n : 1) * 8);
    double *out = d2_alloc(ctx->alloc, (size_t)(m * n > 0 ? m * n : 1) * sizeof *out);
    if (!result || !out) {
        st = d2_errorf(ctx->err, D2_ERR_NOMEM, "gemm: out of memory");
        goto done;
    }
    if (is_float) {
        if ((st = d2_nn_floats_view(ctx, a, &av)) != D2_OK || (st = d2_nn_floats_view(ctx, b, &bv)) != D2_OK)
            goto done;
        float_product(&av, a_view, &bv, b_view, m, k, n, result);
    } else {
        int_product(a, a_view, b, b_view, m, k, n, result);
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double product = is_float ? ((double *)result)[i * n + j] : (double)((int64_t *)result)[i * n + j];
            double v = attrs->alpha * product;
            if (c) {
                int64_t ci = c->rank == 2 ? (c->dims[0] == 1 ? 0 : i) * c->dims[1] + (c->dims[1] == 1 ? 0 : j)
                           : c->rank == 1 ? (c->dims[0] == 1 ? 0 : j) : 0;
                v += attrs->beta * d2_load_f64(c->data, c->dtype, (size_t)ci);
            }
            out[i * n + j] = v;
        }
    d2_nn_store(&ctx->outputs[0], 0, out, (size_t)(m * n));
done:
    d2_nn_floats_release(ctx, &av);
    d2_nn_floats_release(ctx, &bv);
    d2_free(ctx->alloc, result);
    d2_free(ctx->alloc, out);
    return st;
}
