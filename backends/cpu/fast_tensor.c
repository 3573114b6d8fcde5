/* backends/cpu/fast_tensor.c: fast kernels of the data-movement ops slice, concat,
 * expand, transpose, pad (constant mode), reshape/flatten/squeeze/unsqueeze and
 * constant_of_shape, plus the strided copy they share (fast_data.h).
 *
 * Each kernel first calls d2_ref_tensor_prepare, exactly as the reference kernel does
 * (the op's shape function on the concrete inputs validates them and allocates the
 * outputs, so errors are the reference's), then moves bytes faster than the
 * reference's one-element-at-a-time odometer:
 *   - a strided view is simplified first: size-1 dims dropped, neighbouring dims that
 *     the source walks as one merged (a slice of whole rows becomes one memcpy);
 *   - unit-stride rows are memcpy'd, stride-0 rows (expand) filled with one element,
 *     other rows gathered by an element loop specialised to the element size;
 *   - when an outer dim has source stride 1 (a transpose), the view is copied in
 *     square tiles so that both the reads and the writes stay within a few cache lines;
 *   - the work (rows or tiles) is spread over the thread pool when large.
 * The results are the same bytes the reference writes. */
#include "fast_data.h"

#include <string.h>

#include "fast.h"
#include "ref_tensor.h"

/* ---- threaded memcpy ---------------------------------------------------------------- */

struct bytes_job {
    uint8_t *dst;
    const uint8_t *src;
    size_t bytes, piece;
};

static void copy_pieces(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct bytes_job *job = ctx;
    (void)thread;
    size_t lo = (size_t)begin * job->piece, hi = (size_t)end * job->piece;
    if (hi > job->bytes)
        hi = job->bytes;
    memcpy(job->dst + lo, job->src + lo, hi - lo);
}

void d2_fast_copy_bytes(struct d2_threadpool *pool, void *dst, const void *src, size_t bytes)
{
    if (bytes < D2_FAST_PARALLEL_BYTES || d2_threadpool_size(pool) == 1) {
        if (bytes)
            memcpy(dst, src, bytes);
        return;
    }
    struct bytes_job job = { dst, src, bytes, 64 * 1024 };
    d2_threadpool_parallel_for(pool, (int64_t)((bytes + job.piece - 1) / job.piece), 1, copy_pieces, &job);
}

/* ---- strided copy ------------------------------------------------------------------ */

/* Square tile edge of the blocked transpose, in elements. */
#define TILE 32

struct strided_job {
    uint8_t *dst;
    const uint8_t *src;
    size_t esize;
    int32_t rank;                  /* simplified dims, >= 1 */
    int64_t dims[D2_MAX_RANK];
    int64_t strides[D2_MAX_RANK];  /* source, in elements */
    int64_t dst_strides[D2_MAX_RANK];
    int64_t offset;
    int64_t row_len, rows;
    int32_t tdim;                  /* transpose: the outer dim with source stride 1, or -1 */
    int64_t tiles_i, tiles_j;      /* tiles along tdim and along the last dim */
};

/* Copy n elements, source step `stride` elements (any value), into contiguous dst. */
static void copy_row(uint8_t *dst, const uint8_t *src, size_t esize, int64_t n, int64_t stride)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * esize);
        return;
    }
#define GATHER_AS(T)                                             \
    {                                                            \
        T *restrict d = (T *)(void *)dst;                        \
        const T *restrict s = (const T *)(const void *)src;     \
        if (stride == 0) {                                       \
            T v = s[0];                                          \
            for (int64_t i = 0; i < n; i++)                      \
                d[i] = v;                                        \
        } else {                                                 \
            for (int64_t i = 0; i < n; i++)                      \
                d[i] = s[i * stride];                            \
        }                                                        \
        return;                                                  \
    }
    switch (esize) {
    case 1: GATHER_AS(uint8_t)
    case 2: GATHER_AS(uint16_t)
    case 4: GATHER_AS(uint32_t)
    case 8: GATHER_AS(uint64_t)
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + (size_t)i * esize, src + (size_t)(i * stride) * esize, esize);
    }
#undef GATHER_AS
}

/* Source offset of the outer coordinate with linear index `index` over dims
 * [0, rank-1) without `skip` (-1: none); dst offset the same way with dst_strides. */
static void outer_offsets(const struct strided_job *job, int64_t index, int32_t skip, int64_t *src, int64_t *dst)
{
    *src = job->offset;
    *dst = 0;
    for (int32_t d = job->rank - 2; d >= 0; d--) {
        if (d == skip)
            continue;
        int64_t c = index % job->dims[d];
        index /= job->dims[d];
        *src += c * job->strides[d];
        *dst += c * job->dst_strides[d];
    }
}

static void strided_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct strided_job *job = ctx;
    int32_t last = job->rank - 1;
    int64_t coord[D2_MAX_RANK], rest = begin, src, dst;
    (void)thread;
    for (int32_t d = last - 1; d >= 0; d--) {
        coord[d] = rest % job->dims[d];
        rest /= job->dims[d];
    }
    outer_offsets(job, begin, -1, &src, &dst);
    for (int64_t row = begin; row < end; row++) {
        copy_row(job->dst + (size_t)(row * job->row_len) * job->esize, job->src + src * (int64_t)job->esize,
                 job->esize, job->row_len, job->strides[last]);
        for (int32_t d = last - 1; d >= 0; d--) {
            src += job->strides[d];
            if (++coord[d] < job->dims[d])
                break;
            src -= job->strides[d] * job->dims[d];
            coord[d] = 0;
        }
    }
}

/* One TILE x TILE block: i along tdim (source stride 1), j along the last dim. */
#define TRANSPOSE_AS(T)                                                                   \
    {                                                                                     \
        T *d = (T *)(void *)dst;                                                          \
        const T *s = (const T *)(const void *)src;                                       \
        for (int64_t i = 0; i < ni; i++)                                                  \
            for (int64_t j = 0; j < nj; j++)                                              \
                d[i * dst_step + j] = s[i + j * src_step];                                \
        return;                                                                           \
    }

static void transpose_tile(uint8_t *dst, const uint8_t *src, size_t esize, int64_t ni, int64_t nj, int64_t dst_step,
                           int64_t src_step)
{
    switch (esize) {
    case 1: TRANSPOSE_AS(uint8_t)
    case 2: TRANSPOSE_AS(uint16_t)
    case 4: TRANSPOSE_AS(uint32_t)
    case 8: TRANSPOSE_AS(uint64_t)
    default:
        for (int64_t i = 0; i < ni; i++)
            for (int64_t j = 0; j < nj; j++)
                memcpy(dst + (size_t)(i * dst_step + j) * esize, src + (size_t)(i + j * src_step) * esize, esize);
    }
}

static void strided_tiles(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct strided_job *job = ctx;
    int32_t last = job->rank - 1, t = job->tdim;
    int64_t per_outer = job->tiles_i * job->tiles_j;
    (void)thread;
    for (int64_t item = begin; item < end; item++) {
        int64_t outer = item / per_outer, tile = item % per_outer;
        int64_t i0 = (tile / job->tiles_j) * TILE, j0 = (tile % job->tiles_j) * TILE, src, dst;
        outer_offsets(job, outer, t, &src, &dst);
        int64_t ni = job->dims[t] - i0 < TILE ? job->dims[t] - i0 : TILE;
        int64_t nj = job->dims[last] - j0 < TILE ? job->dims[last] - j0 : TILE;
        src += i0 + j0 * job->strides[last];
        dst += i0 * job->dst_strides[t] + j0;
        transpose_tile(job->dst + (size_t)dst * job->esize, job->src + src * (int64_t)job->esize, job->esize, ni, nj,
                       job->dst_strides[t], job->strides[last]);
    }
}

void d2_fast_copy_strided(struct d2_threadpool *pool, void *dst, const void *src, size_t elem_size, int32_t rank,
                          const int64_t *dims, const int64_t *src_strides, int64_t src_offset)
{
    struct strided_job job;
    memset(&job, 0, sizeof job);
    job.dst = dst;
    job.src = src;
    job.esize = elem_size;
    job.offset = src_offset;
    int64_t numel = d2_dims_numel(rank, dims);
    if (numel <= 0)
        return;
    /* Drop size-1 dims, then merge dim d into the kept dim before it when the source
     * walks them as one. */
    int32_t r = 0;
    for (int32_t d = 0; d < rank; d++) {
        if (dims[d] == 1)
            continue;
        if (r > 0 && job.strides[r - 1] == src_strides[d] * dims[d]) {
            job.dims[r - 1] *= dims[d];
            job.strides[r - 1] = src_strides[d];
            continue;
        }
        job.dims[r] = dims[d];
        job.strides[r] = src_strides[d];
        r++;
    }
    if (r == 0) {
        job.dims[0] = 1;
        job.strides[0] = 1;
        r = 1;
    }
    job.rank = r;
    int64_t step = 1;
    for (int32_t d = r - 1; d >= 0; d--) {
        job.dst_strides[d] = step;
        step *= job.dims[d];
    }
    int32_t last = r - 1;
    job.row_len = job.dims[last];
    job.rows = numel / job.row_len;
    size_t bytes = (size_t)numel * elem_size;
    bool parallel = bytes >= D2_FAST_PARALLEL_BYTES;
    /* Transpose: an outer dim read with stride 1 while rows are read with a stride. */
    job.tdim = -1;
    if (job.strides[last] != 1 && job.strides[last] != 0 && job.row_len >= 8)
        for (int32_t d = 0; d < last; d++)
            if (job.strides[d] == 1 && job.dims[d] >= 8)
                job.tdim = d;
    if (job.tdim >= 0) {
        job.tiles_i = (job.dims[job.tdim] + TILE - 1) / TILE;
        job.tiles_j = (job.row_len + TILE - 1) / TILE;
        int64_t items = job.rows / job.dims[job.tdim] * job.tiles_i * job.tiles_j;
        d2_threadpool_parallel_for(parallel ? pool : NULL, items, 16, strided_tiles, &job);
        return;
    }
    int64_t row_bytes = job.row_len * (int64_t)elem_size;
    int64_t chunk = row_bytes >= 32768 ? 1 : 32768 / row_bytes;
    d2_threadpool_parallel_for(parallel ? pool : NULL, job.rows, chunk, strided_rows, &job);
}

/* ---- kernels ------------------------------------------------------------------------- */

static struct d2_threadpool *pool_of(const struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    return fast ? fast->pool : NULL;
}

enum d2_status d2_cpu_fast_slice(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_slice(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t strides[D2_MAX_RANK], offset;
    if (!pool_of(ctx))
        return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_slice_view(ctx, strides, &offset); /* the reference's view */
    if (st != D2_OK)
        return st;
    d2_fast_copy_strided(pool_of(ctx), ctx->outputs[0].data, x->data, d2_dtype_size(x->dtype), ctx->outputs[0].rank,
                         ctx->outputs[0].dims, strides, offset);
    return D2_OK;
}

enum d2_status d2_cpu_fast_transpose(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_transpose(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    int64_t strides[D2_MAX_RANK];
    if (!pool_of(ctx))
        return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_transpose_view(ctx, strides); /* the reference's view */
    if (st != D2_OK)
        return st;
    d2_fast_copy_strided(pool_of(ctx), ctx->outputs[0].data, x->data, d2_dtype_size(x->dtype), x->rank,
                         ctx->outputs[0].dims, strides, 0);
    return D2_OK;
}

enum d2_status d2_cpu_fast_expand(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_expand(struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t x_strides[D2_MAX_RANK], strides[D2_MAX_RANK];
    if (!pool_of(ctx))
        return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_expand);
    if (st != D2_OK)
        return st;
    d2_strides(x->rank, x->dims, x_strides);
    for (int32_t d = 0; d < y->rank; d++) {
        int32_t xd = d - (y->rank - x->rank);
        strides[d] = xd >= 0 && x->dims[xd] != 1 ? x_strides[xd] : 0;
    }
    d2_fast_copy_strided(pool_of(ctx), y->data, x->data, d2_dtype_size(x->dtype), y->rank, y->dims, strides, 0);
    return D2_OK;
}

/* Same elements in the same order. */
enum d2_status d2_cpu_fast_copy_reshape(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_copy_reshape(struct d2_kernel_ctx *ctx)
{
    d2_shape_fn shape_fn;
    switch (ctx->node->op) {
    case D2_OP_RESHAPE: shape_fn = d2_shape_reshape; break;
    case D2_OP_FLATTEN: shape_fn = d2_shape_flatten; break;
    case D2_OP_SQUEEZE: shape_fn = d2_shape_squeeze; break;
    case D2_OP_UNSQUEEZE: shape_fn = d2_shape_unsqueeze; break;
    default: return d2_fast_data_reference(ctx);
    }
    if (!pool_of(ctx))
        return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_tensor_prepare(ctx, shape_fn);
    if (st == D2_OK && ctx->outputs[0].data != ctx->inputs[0]->data)
        d2_fast_copy_bytes(pool_of(ctx), ctx->outputs[0].data, ctx->inputs[0]->data, ctx->inputs[0]->nbytes);
    return st;
}

/* ---- concat ------------------------------------------------------------------------- */

struct concat_job {
    uint8_t *y;
    const uint8_t *x;
    size_t row, out_row, offset;   /* bytes */
};

static void concat_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct concat_job *job = ctx;
    (void)thread;
    uint8_t *y = job->y + job->offset;
    const uint8_t *x = job->x;
    size_t row = job->row, out_row = job->out_row;
    /* Short rows: fixed-size copies the compiler turns into single moves. */
#define ROWS_OF(N)                                                                        \
    for (int64_t o = begin; o < end; o++)                                                 \
        memcpy(y + (size_t)o * out_row, x + (size_t)o * (N), (N));                       \
    return;
    switch (row) {
    case 4: ROWS_OF(4)
    case 8: ROWS_OF(8)
    case 16: ROWS_OF(16)
    default:
        for (int64_t o = begin; o < end; o++)
            memcpy(y + (size_t)o * out_row, x + (size_t)o * row, row);
    }
#undef ROWS_OF
}

enum d2_status d2_cpu_fast_concat(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_concat(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_axis *attrs = ctx->node->attrs;
    struct d2_tensor *y = &ctx->outputs[0];
    int64_t axis, outer = 1, inner = 1;
    struct d2_threadpool *pool = pool_of(ctx);
    if (!pool)
        return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_concat);
    if (st != D2_OK)
        return st;
    size_t esize = d2_dtype_size(y->dtype), offset = 0;
    d2_normalize_axis(attrs->axis, y->rank, &axis);
    for (int32_t d = 0; d < axis; d++)
        outer *= y->dims[d];
    for (int32_t d = (int32_t)axis + 1; d < y->rank; d++)
        inner *= y->dims[d];
    for (uint32_t i = 0; i < ctx->num_inputs; i++) {
        const struct d2_tensor *x = ctx->inputs[i];
        struct concat_job job = { y->data, x->data, (size_t)(x->dims[axis] * inner) * esize,
                                  (size_t)(y->dims[axis] * inner) * esize, offset };
        if (job.row > 0 && outer > 0) {
            if (outer == 1)
                d2_fast_copy_bytes(pool, job.y + offset, job.x, job.row);
            else
                d2_threadpool_parallel_for(x->nbytes >= D2_FAST_PARALLEL_BYTES ? pool : NULL, outer,
                                           job.row >= 32768 ? 1 : (int64_t)(32768 / job.row), concat_rows, &job);
        }
        offset += job.row;
    }
    return D2_OK;
}

/* ---- pad (constant mode) ----------------------------------------------------------- */

struct pad_job {
    uint8_t *y;
    const uint8_t *x;
    size_t esize;
    int32_t rank;
    const int64_t *y_dims, *x_dims;
    int64_t begin[D2_MAX_RANK], x_strides[D2_MAX_RANK];
    uint8_t value[16];             /* one element of the pad value */
    int64_t lo, hi;                /* output columns [lo, hi) of a row come from x */
};

static void fill_elements(uint8_t *dst, const uint8_t *value, size_t esize, int64_t n)
{
    bool zero = true;
    for (size_t b = 0; b < esize; b++)
        zero = zero && value[b] == 0;
    if (zero) {
        memset(dst, 0, (size_t)n * esize);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * esize, value, esize);
}

static void pad_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct pad_job *job = ctx;
    int32_t last = job->rank - 1;
    int64_t width = job->y_dims[last];
    size_t es = job->esize;
    (void)thread;
    for (int64_t row = begin; row < end; row++) {
        uint8_t *dst = job->y + (size_t)(row * width) * es;
        /* Source row of this output row, or none when an outer coordinate is padding. */
        int64_t rest = row, src = 0;
        bool inside = true;
        for (int32_t d = last - 1; d >= 0; d--) {
            int64_t c = rest % job->y_dims[d] - job->begin[d];
            rest /= job->y_dims[d];
            inside = inside && c >= 0 && c < job->x_dims[d];
            src += c * job->x_strides[d];
        }
        if (!inside || job->hi <= job->lo) {
            fill_elements(dst, job->value, es, width);
            continue;
        }
        fill_elements(dst, job->value, es, job->lo);
        memcpy(dst + (size_t)job->lo * es, job->x + (size_t)(src + job->lo - job->begin[last]) * es,
               (size_t)(job->hi - job->lo) * es);
        fill_elements(dst + (size_t)job->hi * es, job->value, es, width - job->hi);
    }
}

enum d2_status d2_cpu_fast_pad(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_pad(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_pad *attrs = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0], *value = d2_ref_optional_input(ctx, 2);
    struct d2_tensor *y = &ctx->outputs[0];
    struct d2_threadpool *pool = pool_of(ctx);
    if (!pool || attrs->mode != D2_PAD_MODE_CONSTANT || x->rank < 1 || d2_dtype_size(x->dtype) > 16)
        return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_pad);
    if (st != D2_OK)
        return st;
    if (value && d2_tensor_numel(value) != 1)
        return d2_fast_data_reference(ctx); /* its error */
    struct pad_job job;
    memset(&job, 0, sizeof job);
    job.y = y->data;
    job.x = x->data;
    job.esize = d2_dtype_size(x->dtype);
    job.rank = x->rank;
    job.y_dims = y->dims;
    job.x_dims = x->dims;
    if (value)
        memcpy(job.value, value->data, job.esize);
    d2_ref_pad_begin(ctx, job.begin);
    d2_strides(x->rank, x->dims, job.x_strides);
    int32_t last = x->rank - 1;
    int64_t width = y->dims[last], b = job.begin[last];
    job.lo = b > 0 ? b : 0;
    job.hi = b + x->dims[last] < width ? b + x->dims[last] : width;
    int64_t numel = d2_tensor_numel(y);
    if (numel == 0)
        return D2_OK;
    int64_t rows = numel / width, row_bytes = width * (int64_t)job.esize;
    d2_threadpool_parallel_for((size_t)numel * job.esize >= D2_FAST_PARALLEL_BYTES ? pool : NULL, rows,
                               row_bytes >= 32768 ? 1 : 32768 / row_bytes, pad_rows, &job);
    return D2_OK;
}

/* ---- constant_of_shape -------------------------------------------------------------- */

struct fill_job {
    uint8_t *y;
    uint8_t value[16];
    size_t esize;
    int64_t numel, piece;
};

static void fill_pieces(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct fill_job *job = ctx;
    (void)thread;
    int64_t lo = begin * job->piece, hi = end * job->piece < job->numel ? end * job->piece : job->numel;
    fill_elements(job->y + (size_t)lo * job->esize, job->value, job->esize, hi - lo);
}

enum d2_status d2_cpu_fast_constant_of_shape(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_constant_of_shape(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_constant_of_shape *attrs = ctx->node->attrs;
    struct d2_tensor *y = &ctx->outputs[0];
    struct d2_threadpool *pool = pool_of(ctx);
    if (!pool)
        return d2_fast_data_reference(ctx);
    enum d2_status st = d2_ref_tensor_prepare(ctx, d2_shape_constant_of_shape);
    if (st != D2_OK)
        return st;
    struct fill_job job;
    memset(&job, 0, sizeof job);
    job.y = y->data;
    job.esize = d2_dtype_size(y->dtype);
    job.numel = d2_tensor_numel(y);
    if (job.numel == 0)
        return D2_OK;
    if (job.esize > sizeof job.value)
        return d2_fast_data_reference(ctx);
    d2_store_f64(job.value, y->dtype, 0, attrs->value); /* the reference's conversion */
    job.piece = 16384;
    int64_t pieces = (job.numel + job.piece - 1) / job.piece;
    d2_threadpool_parallel_for((size_t)job.numel * job.esize >= D2_FAST_PARALLEL_BYTES ? pool : NULL, pieces, 4,
                               fill_pieces, &job);
    return D2_OK;
}
