/* backends/cpu/fast_index.c: fast kernels of the index-driven ops gather,
 * scatter_elements, non_zero and topk (results identical to ref_tensor_index.c and
 * ref_reduce_search.c).
 *
 *   gather: all indices are checked first, in order, with the reference's message for
 *     the first bad one (the reference stops at the same element); then blocks are
 *     copied by memcpy, or by typed loops for single elements.
 *   scatter_elements (reduction none): y = x (threaded memcpy), then updates are
 *     written in the reference's order (later duplicates win). The common detection
 *     graph scatters whole rows: an index tensor that is constant along the dims after
 *     the axis (an expand of a per-row index) moves each such run with one memcpy.
 *   non_zero: one pass counts the nonzero elements of each chunk (in parallel), a
 *     second writes each chunk's coordinates at its prefix-sum offset; zero 8-byte
 *     words of bool input are skipped whole.
 *   topk (f32): each value maps to an integer key whose order is the reference's
 *     (NaN above +inf, -0 == +0); key and index form one 64-bit word, so ties break by
 *     lower index exactly as the reference's stable sort. The k best words are selected
 *     with a bounded heap and then sorted: the same k elements in the same order as
 *     the reference's full merge sort. */
#include "fast_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fast.h"
#include "ref_tensor.h"

static struct d2_threadpool *pool_of(const struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    return fast ? fast->pool : NULL;
}

static int64_t dims_product(const int64_t *dims, int32_t lo, int32_t hi)
{
    int64_t p = 1;
    for (int32_t d = lo; d < hi; d++)
        p *= dims[d];
    return p;
}

/* The reference's index check and message (ref_tensor_index.c). */
static enum d2_status index_error(struct d2_kernel_ctx *ctx, int64_t raw, int64_t dim, int64_t position)
{
    return d2_errorf(ctx->err, D2_ERR_SHAPE, "index %lld (indices element %lld) out of range for a dim of size %lld",
                     (long long)raw, (long long)position, (long long)dim);
}

static bool index_dtype_ok(enum d2_dtype t)
{
    return t == D2_DTYPE_I64 || t == D2_DTYPE_I32;
}

static inline int64_t index_at(const struct d2_tensor *idx, int64_t i)
{
    return idx->dtype == D2_DTYPE_I64 ? ((const int64_t *)idx->data)[i] : ((const int32_t *)idx->data)[i];
}

/* ---- gather ------------------------------------------------------------------------- */

struct gather_job {
    uint8_t *y;
    const uint8_t *x;
    const int64_t *at;             /* resolved indices */
    int64_t count, dim;
    size_t block;                  /* bytes per copied block */
};

static void gather_outer(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct gather_job *job = ctx;
    (void)thread;
    for (int64_t o = begin; o < end; o++) {
        uint8_t *y = job->y + (size_t)(o * job->count) * job->block;
        const uint8_t *x = job->x + (size_t)(o * job->dim) * job->block;
        switch (job->block) {
        case 4:
            for (int64_t i = 0; i < job->count; i++)
                memcpy(y + (size_t)i * 4, x + (size_t)job->at[i] * 4, 4);
            break;
        case 8:
            for (int64_t i = 0; i < job->count; i++)
                memcpy(y + (size_t)i * 8, x + (size_t)job->at[i] * 8, 8);
            break;
        case 16:
            for (int64_t i = 0; i < job->count; i++)
                memcpy(y + (size_t)i * 16, x + (size_t)job->at[i] * 16, 16);
            break;
        default:
            for (int64_t i = 0; i < job->count; i++)
                memcpy(y + (size_t)i * job->block, x + (size_t)job->at[i] * job->block, job->block);
        }
    }
}

enum d2_status d2_cpu_fast_gather(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_gather(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *idx = ctx->inputs[1];
    struct d2_tensor *y = &ctx->outputs[0];
    struct d2_threadpool *pool = pool_of(ctx);
    int64_t axis;
    if (!pool || !index_dtype_ok(idx->dtype))
        return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_gather);
    if (st != D2_OK)
        return st;
    d2_normalize_axis(attrs->axis, x->rank, &axis);
    struct gather_job job;
    job.y = y->data;
    job.x = x->data;
    job.dim = x->dims[axis];
    job.count = d2_tensor_numel(idx);
    job.block = (size_t)dims_product(x->dims, (int32_t)axis + 1, x->rank) * d2_dtype_size(x->dtype);
    int64_t outer = dims_product(x->dims, 0, (int32_t)axis);
    int64_t small[64], *at = job.count <= 64 ? small : d2_alloc(ctx->alloc, (size_t)job.count * sizeof *at);
    if (!at)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < job.count; i++) {
        int64_t raw = index_at(idx, i);
        if (raw < -job.dim || raw >= job.dim) {
            if (at != small)
                d2_free(ctx->alloc, at);
            return index_error(ctx, raw, job.dim, i);
        }
        at[i] = raw < 0 ? raw + job.dim : raw;
    }
    job.at = at;
    if (job.block > 0 && outer > 0 && job.count > 0) {
        if (outer == 1 && job.count == 1) {
            d2_fast_copy_bytes(pool, job.y, job.x + (size_t)at[0] * job.block, job.block);
        } else {
            size_t per_outer = (size_t)job.count * job.block;
            d2_threadpool_parallel_for(per_outer * (size_t)outer >= D2_FAST_PARALLEL_BYTES ? pool : NULL, outer,
                                       per_outer >= 32768 ? 1 : (int64_t)(32768 / per_outer), gather_outer, &job);
        }
    }
    if (at != small)
        d2_free(ctx->alloc, at);
    return D2_OK;
}

/* ---- scatter_elements ------------------------------------------------------------- */

enum d2_status d2_cpu_fast_scatter_elements(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_scatter_elements(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_scatter *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *idx = ctx->inputs[1], *upd = ctx->inputs[2];
    struct d2_tensor *y = &ctx->outputs[0];
    struct d2_threadpool *pool = pool_of(ctx);
    int64_t axis;
    if (!pool || attrs->reduction != D2_REDUCTION_NONE || !index_dtype_ok(idx->dtype) || idx->rank != x->rank ||
        upd->dtype != x->dtype)
        return d2_fast_data_reference(ctx);
    if (!d2_normalize_axis(attrs->axis, x->rank, &axis))
        return d2_fast_data_reference(ctx);
    /* Indices larger than x off the axis: the reference names the element. */
    for (int32_t d = 0; d < x->rank; d++)
        if (d != axis && idx->dims[d] > x->dims[d])
            return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_scatter_elements);
    if (st != D2_OK)
        return st;
    if (d2_tensor_numel(upd) != d2_tensor_numel(idx))
        return d2_fast_data_reference(ctx);
    if (y->data != x->data)
        d2_fast_copy_bytes(pool, y->data, x->data, x->nbytes);
    size_t esize = d2_dtype_size(x->dtype);
    int64_t x_strides[D2_MAX_RANK], dim = x->dims[axis];
    d2_strides(x->rank, x->dims, x_strides);
    /* idx viewed as [outer, len, inner]: a run is the `inner` elements of one (o, i). */
    int64_t outer = dims_product(idx->dims, 0, (int32_t)axis), len = idx->dims[axis];
    int64_t inner = dims_product(idx->dims, (int32_t)axis + 1, idx->rank);
    /* A run is contiguous in x too when idx's dims after the axis equal x's. */
    bool runs_contiguous = true;
    for (int32_t d = (int32_t)axis + 1; d < x->rank; d++)
        runs_contiguous = runs_contiguous && idx->dims[d] == x->dims[d];
    uint8_t *yd = y->data;
    const uint8_t *ud = upd->data;
    int64_t coord[D2_MAX_RANK];
    for (int64_t o = 0; o < outer; o++) {
        /* x's offset of idx's outer coordinate o (idx's outer dims may be smaller). */
        int64_t x_outer = 0, rest = o;
        for (int32_t d = (int32_t)axis - 1; d >= 0; d--) {
            x_outer += (rest % idx->dims[d]) * x_strides[d];
            rest /= idx->dims[d];
        }
        for (int64_t i = 0; i < len; i++) {
            int64_t e0 = (o * len + i) * inner;
            if (inner == 0)
                continue;
            int64_t raw = index_at(idx, e0);
            bool uniform = runs_contiguous && raw >= -dim && raw < dim;
            for (int64_t r = 1; r < inner && uniform; r++)
                uniform = index_at(idx, e0 + r) == raw;
            if (uniform) {
                int64_t at = raw < 0 ? raw + dim : raw;
                /* y[o, at, :] = upd[o, i, :] (both runs of `inner` contiguous elements). */
                memcpy(yd + (size_t)(x_outer + at * x_strides[axis]) * esize, ud + (size_t)e0 * esize,
                       (size_t)inner * esize);
                continue;
            }
            /* Element by element, as the reference. */
            for (int64_t r = 0; r < inner; r++) {
                int64_t e = e0 + r, v = index_at(idx, e), dst = 0;
                if (v < -dim || v >= dim)
                    return index_error(ctx, v, dim, e);
                d2_ref_unravel(e, idx->rank, idx->dims, coord);
                coord[axis] = v < 0 ? v + dim : v;
                for (int32_t d = 0; d < x->rank; d++)
                    dst += coord[d] * x_strides[d];
                memcpy(yd + (size_t)dst * esize, ud + (size_t)e * esize, esize);
            }
        }
    }
    return D2_OK;
}

/* ---- non_zero ------------------------------------------------------------------------ */

#define NZ_CHUNK 65536

struct nz_job {
    const struct d2_tensor *x;
    int64_t numel, chunks;
    int64_t *counts;               /* per chunk; then the chunk's first output column */
    int64_t *out, total;
};

static inline bool nz_at(const struct d2_tensor *x, int64_t i)
{
    switch (x->dtype) {
    case D2_DTYPE_F32: return ((const float *)x->data)[i] != 0.0f; /* NaN != 0: nonzero, as the reference */
    case D2_DTYPE_I64: return ((const int64_t *)x->data)[i] != 0;
    case D2_DTYPE_I32: return ((const int32_t *)x->data)[i] != 0;
    default: return ((const uint8_t *)x->data)[i] != 0; /* bool, u8, i8 */
    }
}

static void nz_count(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct nz_job *job = ctx;
    (void)thread;
    for (int64_t c = begin; c < end; c++) {
        int64_t lo = c * NZ_CHUNK, hi = lo + NZ_CHUNK < job->numel ? lo + NZ_CHUNK : job->numel, n = 0;
        if (d2_dtype_size(job->x->dtype) == 1) {
            const uint8_t *p = job->x->data;
            for (int64_t i = lo; i < hi; i++)
                n += p[i] != 0;
        } else {
            for (int64_t i = lo; i < hi; i++)
                n += nz_at(job->x, i);
        }
        job->counts[c] = n;
    }
}

static void nz_fill(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct nz_job *job = ctx;
    const struct d2_tensor *x = job->x;
    int32_t rank = x->rank;
    bool bytes = d2_dtype_size(x->dtype) == 1;
    (void)thread;
    for (int64_t c = begin; c < end; c++) {
        int64_t lo = c * NZ_CHUNK, hi = lo + NZ_CHUNK < job->numel ? lo + NZ_CHUNK : job->numel;
        int64_t n = job->counts[c];
        for (int64_t i = lo; i < hi; i++) {
            /* Skip all-zero 8-byte words of byte input. */
            if (bytes && (i & 7) == 0 && i + 8 <= hi) {
                uint64_t w;
                memcpy(&w, (const uint8_t *)x->data + i, 8);
                if (w == 0) {
                    i += 7;
                    continue;
                }
            }
            if (!nz_at(x, i))
                continue;
            if (rank <= 1) {
                job->out[n] = rank == 0 ? 0 : i;
            } else {
                int64_t rem = i;
                for (int32_t d = rank - 1; d >= 0; d--) {
                    job->out[d * job->total + n] = rem % x->dims[d];
                    rem /= x->dims[d];
                }
            }
            n++;
        }
    }
}

enum d2_status d2_cpu_fast_non_zero(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_non_zero(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_threadpool *pool = pool_of(ctx);
    enum d2_dtype t = x->dtype;
    if (!pool || !(t == D2_DTYPE_BOOL || t == D2_DTYPE_U8 || t == D2_DTYPE_I8 || t == D2_DTYPE_F32 ||
                   t == D2_DTYPE_I64 || t == D2_DTYPE_I32))
        return d2_fast_data_reference(ctx);
    struct nz_job job;
    memset(&job, 0, sizeof job);
    job.x = x;
    job.numel = d2_tensor_numel(x);
    job.chunks = (job.numel + NZ_CHUNK - 1) / NZ_CHUNK;
    int64_t one = 0;
    job.counts = job.chunks <= 1 ? &one : d2_alloc(ctx->alloc, (size_t)job.chunks * sizeof *job.counts);
    if (!job.counts)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory");
    d2_threadpool_parallel_for(pool, job.chunks, 1, nz_count, &job);
    for (int64_t c = 0; c < job.chunks; c++) {
        int64_t n = job.counts[c];
        job.counts[c] = job.total;
        job.total += n;
    }
    int64_t dims[2] = { x->rank > 0 ? x->rank : 1, job.total };
    enum d2_status st = d2_kernel_alloc_output(ctx, 0, D2_DTYPE_I64, 2, dims);
    if (st == D2_OK && job.total > 0) {
        job.out = ctx->outputs[0].data;
        d2_threadpool_parallel_for(pool, job.chunks, 1, nz_fill, &job);
    }
    if (job.counts != &one)
        d2_free(ctx->alloc, job.counts);
    return st;
}

/* ---- topk --------------------------------------------------------------------------- */

/* Order key of an f32: larger key = larger value, NaN above everything, -0 == +0. */
static inline uint32_t f32_key(float v)
{
    uint32_t bits;
    if (isnan(v))
        return UINT32_MAX;
    if (v == 0.0f)
        v = 0.0f;
    memcpy(&bits, &v, sizeof bits);
    /* Negative: flip all bits (more negative = smaller); positive: set the sign bit. */
    return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

/* Max-heap of words (the worst kept word on top). */
static void heap_sift_down(uint64_t *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l] > h[m])
            m = l;
        if (r < n && h[r] > h[m])
            m = r;
        if (m == i)
            return;
        uint64_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int compare_words(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

enum d2_status d2_cpu_fast_topk(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_topk(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_topk *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *k_tensor = ctx->inputs[1];
    int64_t axis, dims[D2_MAX_RANK];
    if (!pool_of(ctx) || x->dtype != D2_DTYPE_F32 || !d2_normalize_axis(a->axis, x->rank, &axis) ||
        d2_tensor_numel(k_tensor) != 1 || !d2_dtype_is_integer(k_tensor->dtype))
        return d2_fast_data_reference(ctx);
    int64_t k = d2_load_i64(k_tensor->data, k_tensor->dtype, 0);
    int64_t outer = dims_product(x->dims, 0, (int32_t)axis), len = x->rank > 0 ? x->dims[axis] : 1;
    int64_t inner = dims_product(x->dims, (int32_t)axis + 1, x->rank);
    if (k < 0 || k > len || len > (int64_t)UINT32_MAX)
        return d2_fast_data_reference(ctx);
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    struct d2_tensor *yv = &ctx->outputs[0], *yi = &ctx->outputs[1];
    enum d2_status st = d2_kernel_alloc_output(ctx, 0, D2_DTYPE_F32, x->rank, dims);
    if (st == D2_OK)
        st = d2_kernel_alloc_output(ctx, 1, D2_DTYPE_I64, x->rank, dims);
    if (st != D2_OK || k == 0 || outer * inner == 0)
        return st;
    uint64_t *heap = d2_alloc(ctx->alloc, (size_t)k * sizeof *heap);
    if (!heap)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory");
    const float *xd = x->data;
    float *values = yv->data;
    int64_t *indices = yi->data;
    /* word = rank << 32 | index, rank 0 for the best value: smaller word = earlier. */
    bool largest = a->largest != 0;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *s = xd + o * len * inner + i;
            int64_t n = 0;
            for (int64_t j = 0; j < len; j++) {
                uint32_t key = f32_key(s[j * inner]);
                uint64_t w = (uint64_t)(largest ? ~key : key) << 32 | (uint64_t)j;
                if (n < k) {
                    /* Sift up into the max-heap. */
                    int64_t c = n++;
                    heap[c] = w;
                    while (c > 0 && heap[(c - 1) / 2] < heap[c]) {
                        uint64_t t = heap[c];
                        heap[c] = heap[(c - 1) / 2];
                        heap[(c - 1) / 2] = t;
                        c = (c - 1) / 2;
                    }
                } else if (w < heap[0]) {
                    heap[0] = w;
                    heap_sift_down(heap, k, 0);
                }
            }
            qsort(heap, (size_t)k, sizeof *heap, compare_words);
            for (int64_t j = 0; j < k; j++) {
                int64_t src = (int64_t)(heap[j] & 0xffffffffu), dst = o * k * inner + j * inner + i;
                values[dst] = s[src * inner];
                indices[dst] = src;
            }
        }
    }
    d2_free(ctx->alloc, heap);
    return D2_OK;
}
