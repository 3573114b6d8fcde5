/* backends/cpu/fast_ops.c: the fast CPU backend's session object, its executor entry
 * point and kernel table, and the fast kernels of gemm, matmul, relu, sigmoid, add
 * and mul (conv, conv_transpose, fused_conv: fast_conv.c; pools: fast_pool.c).
 *
 * Every fast kernel first checks that its fast path applies (f32 tensors, shapes it
 * handles, a fast session in the context) and otherwise calls the op's reference
 * kernel, which also owns the error messages for malformed inputs.
 *
 * add/mul broadcasting: the output is split into rows of L elements, L the largest
 * suffix of the output dims along which each operand is either fully present
 * (contiguous run) or constant (a broadcast scalar); every row is then one vector
 * loop (vector-vector or vector-scalar). [N,C,H,W] * [1,C,1,1] runs as N*C rows of
 * H*W; same-shape operands and scalars as one row. */
#include "fast.h"

#include <stdlib.h>
#include <string.h>

#include "block_cache.h"
#include "executor.h"

/* Tensor buffers of 1 MiB and more are kept when freed, up to 1 GiB in all by default
 * (the large data-dependent tensors of one Mask R-CNN run at 800x1216 total about
 * that); D2RT_BUFFER_CACHE_MB overrides the budget. */
#define BLOCK_CACHE_MIN ((size_t)1 << 20)
#define BLOCK_CACHE_MAX ((size_t)1024 << 20)
#include "fast_data.h"
#include "fast_detect.h"
#include "ref_elementwise.h"
#include "ref_nn.h"

/* ---- session object and execution --------------------------------------------- */

const struct d2_cpu_fast *d2_cpu_fast_of(const struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = ctx->executor ? ctx->executor->kernel_data : NULL;
    return fast && !fast->reference && fast->kernels && fast->pool ? fast : NULL;
}

static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* D2RT_BUFFER_CACHE_MB=N caps the large-buffer cache at N MiB (0: no caching), for
 * machines where memory matters more than the page faults it saves. A value that is
 * not a number of MiB is an error, like an unknown D2RT_CPU. */
static bool buffer_cache_budget(size_t *bytes, struct d2_error *err)
{
    const char *v = getenv("D2RT_BUFFER_CACHE_MB");
    char *end;
    if (!v || !*v)
        return true;
    unsigned long long mib = strtoull(v, &end, 10);
    if (*end || v[0] == '-' || mib > ((unsigned long long)SIZE_MAX >> 20)) {
        d2_errorf(err, D2_ERR_INVALID_ARG, "D2RT_BUFFER_CACHE_MB: '%s' is not a number of MiB", v);
        return false;
    }
    *bytes = (size_t)mib << 20;
    return true;
}

enum d2_status d2_cpu_fast_new(const struct d2_cpu_fast_options *opts, const struct d2_allocator *alloc,
                               struct d2_cpu_fast **out, struct d2_error *err)
{
    struct d2_cpu_fast *fast;
    const char *isa = opts && opts->isa ? opts->isa : getenv("D2RT_CPU");
    int reference = opts ? opts->reference : -1;
    *out = NULL;
    if (!alloc)
        alloc = d2_allocator_default();
    const struct d2_cpu_kernels *kt = d2_cpu_kernels_select(isa, err);
    if (!kt)
        return err ? err->code : D2_ERR_UNSUPPORTED;
    fast = d2_calloc(alloc, 1, sizeof *fast);
    if (!fast)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory creating the CPU backend");
    fast->alloc = alloc;
    fast->kernels = kt;
    fast->reference = reference < 0 ? env_flag("D2RT_REFERENCE") : reference != 0;
    fast->arena_cache = d2_calloc(alloc, 1, sizeof *fast->arena_cache);
    if (!fast->arena_cache) {
        d2_free(alloc, fast);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory creating the CPU backend");
    }
    atomic_flag_clear(&fast->arena_cache->busy);
    size_t cache_bytes = BLOCK_CACHE_MAX;
    if (!buffer_cache_budget(&cache_bytes, err)) {
        d2_free(alloc, fast->arena_cache);
        d2_free(alloc, fast);
        return err ? err->code : D2_ERR_INVALID_ARG;
    }
    fast->block_cache = d2_block_cache_new(alloc, BLOCK_CACHE_MIN, cache_bytes);
    if (!fast->block_cache) {
        d2_free(alloc, fast->arena_cache);
        d2_free(alloc, fast);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory creating the CPU backend");
    }
    if (d2_winograd_enabled_by_env() && !(fast->winograd = d2_winograd_cache_new(alloc))) {
        d2_block_cache_free(fast->block_cache);
        d2_free(alloc, fast->arena_cache);
        d2_free(alloc, fast);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory creating the CPU backend");
    }
    enum d2_status st = d2_threadpool_new(opts ? opts->threads : 0, alloc, &fast->pool, err);
    if (st != D2_OK) {
        d2_winograd_cache_free(fast->winograd);
        d2_block_cache_free(fast->block_cache);
        d2_free(alloc, fast->arena_cache);
        d2_free(alloc, fast);
        return st;
    }
    fast->gemm_cache = d2_gemm_cache_new(alloc); /* NULL (out of memory): gemm packs per call */
    *out = fast;
    return D2_OK;
}

void d2_cpu_fast_free(struct d2_cpu_fast *fast)
{
    if (!fast)
        return;
    d2_threadpool_free(fast->pool);
    d2_arena_cache_release(fast->arena_cache);
    d2_block_cache_free(fast->block_cache);
    d2_free(fast->alloc, fast->arena_cache);
    d2_winograd_cache_free(fast->winograd);
    d2_gemm_cache_free(fast->gemm_cache);
    d2_free(fast->alloc, fast);
}

/* The fast kernels (and the reference kernels they fall back to) of these ops store
 * every element of their outputs, so the executor need not zero the storage first.
 * Debug builds fill it with 0xff instead, which every kernel test would catch. */
static bool fast_writes_every_output(enum d2_op op)
{
    if (d2_ref_unary_float_rule(op)) /* the unary math ops: one store per element */
        return true;
    switch (op) {
    case D2_OP_CONV:
    case D2_OP_CONV_TRANSPOSE:
    case D2_OP_FUSED_CONV:
    case D2_OP_GEMM:
    case D2_OP_MATMUL:
    case D2_OP_RELU:
    case D2_OP_SIGMOID:
    case D2_OP_ADD:
    case D2_OP_MUL:
    case D2_OP_MAX_POOL:
    case D2_OP_AVERAGE_POOL:
    /* fast_data.h's kernels (and the reference kernels they fall back to) */
    case D2_OP_SUB:
    case D2_OP_DIV:
    case D2_OP_MIN:
    case D2_OP_MAX:
    case D2_OP_GREATER:
    case D2_OP_GREATER_EQUAL:
    case D2_OP_LESS:
    case D2_OP_LESS_EQUAL:
    case D2_OP_EQUAL:
    case D2_OP_WHERE:
    case D2_OP_SLICE:
    case D2_OP_CONCAT:
    case D2_OP_TRANSPOSE:
    case D2_OP_EXPAND:
    case D2_OP_GATHER:
    case D2_OP_PAD:
    case D2_OP_RESIZE:
    case D2_OP_SCATTER_ELEMENTS:
    case D2_OP_CONSTANT_OF_SHAPE:
    case D2_OP_RESHAPE:
    case D2_OP_FLATTEN:
    case D2_OP_SQUEEZE:
    case D2_OP_UNSQUEEZE:
    case D2_OP_UPSAMPLE_ADD:
        return true;
    default:
        return false;
    }
}

const struct d2_allocator *d2_cpu_fast_output_allocator(struct d2_cpu_fast *fast, void **owner)
{
    *owner = NULL;
    if (!fast || !fast->block_cache)
        return NULL;
    *owner = d2_block_cache_retain(fast->block_cache);
    return d2_block_cache_allocator(fast->block_cache);
}

void d2_cpu_fast_release_owner(void *owner)
{
    d2_block_cache_free(owner);
}

static void forget_escaping_block(void *user, const void *data)
{
    d2_block_cache_forget(user, data);
}

enum d2_status d2_cpu_fast_execute(struct d2_cpu_fast *fast, const struct d2_graph *g,
                                   const struct d2_tensor *inputs, uint32_t num_inputs, struct d2_tensor *outputs,
                                   uint32_t num_outputs, const struct d2_allocator *alloc,
                                   d2_node_observer observer, void *observer_user, struct d2_error *err)
{
    struct d2_executor ex;
    memset(&ex, 0, sizeof ex);
    ex.alloc = alloc ? alloc : d2_allocator_default();
    if (fast && fast->block_cache && alloc == d2_block_cache_allocator(fast->block_cache)) {
        ex.alloc = alloc; /* outputs come back through the cache */
    } else if (fast && fast->block_cache && (!alloc || (alloc->realloc_fn == fast->alloc->realloc_fn &&
                                                        alloc->user == fast->alloc->user))) {
        ex.alloc = d2_block_cache_allocator(fast->block_cache);
        ex.output_escapes = forget_escaping_block;
        ex.escape_user = fast->block_cache;
    }
    ex.depth = 0;
    ex.kernel_for = fast && !fast->reference ? d2_cpu_fast_kernel : NULL;
    ex.kernel_data = fast;
    ex.writes_every_output = fast && !fast->reference ? fast_writes_every_output : NULL;
    ex.arena_cache = fast ? fast->arena_cache : NULL;
    ex.observe_node = observer;
    ex.observe_user = observer_user;
    /* While g runs, gemm/matmul may keep its constant B operands packed (fast_gemm_cache.c). */
    const bool gemm_cache_run = fast && !fast->reference && d2_gemm_cache_run_begin(fast->gemm_cache, g);
    enum d2_status st = d2_executor_run(&ex, g, inputs, num_inputs, outputs, num_outputs, err);
    if (gemm_cache_run)
        d2_gemm_cache_run_end(fast->gemm_cache, g);
    return st;
}

static enum d2_status reference(struct d2_kernel_ctx *ctx)
{
    d2_cpu_kernel_fn ref = d2_cpu_ref_kernel(ctx->node->op);
    if (!ref)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "op '%s' has no CPU kernel", d2_op_name(ctx->node->op));
    return ref(ctx);
}

/* ---- gemm and matmul ------------------------------------------------------------ */

static bool is_f32(const struct d2_tensor *t)
{
    return t && t->dtype == D2_DTYPE_F32;
}

struct gemm_epilogue_job {
    const struct d2_cpu_kernels *kt;
    float *y;
    const float *c;
    int64_t n, c_rows, c_cols;   /* C broadcast to [M, N]: c_rows/c_cols are 1 or M/N */
    float alpha, beta;
};

static void gemm_epilogue_rows(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct gemm_epilogue_job *job = ctx;
    (void)thread;
    for (int64_t i = begin; i < end; i++) {
        float *row = job->y + i * job->n;
        if (!job->c) {
            job->kt->scale_add(row, job->n, job->alpha, 0.0f, NULL);
            continue;
        }
        const float *crow = job->c + (job->c_rows == 1 ? 0 : i) * job->c_cols;
        if (job->c_cols == job->n) {
            job->kt->scale_add(row, job->n, job->alpha, job->beta, crow);
        } else {
            job->kt->scale_add(row, job->n, job->alpha, 0.0f, NULL);
            job->kt->add_scalar(row, row, job->beta * crow[0], job->n);
        }
    }
}

enum d2_status d2_cpu_fast_gemm(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_gemm(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_attrs_gemm *attrs = ctx->node->attrs;
    const struct d2_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    const struct d2_tensor *c = ctx->num_inputs > 2 ? ctx->inputs[2] : NULL;
    if (!fast || !is_f32(a) || !is_f32(b) || (c && !is_f32(c)) || a->rank != 2 || b->rank != 2 ||
        (c && c->rank > 2))
        return reference(ctx);
    int64_t m = attrs->trans_a ? a->dims[1] : a->dims[0], k = attrs->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = attrs->trans_b ? b->dims[1] : b->dims[0], n = attrs->trans_b ? b->dims[0] : b->dims[1];
    if (k != kb)
        return reference(ctx);
    int64_t c_rows = 1, c_cols = 1;
    if (c) {
        int64_t cd[2] = { c->rank == 2 ? c->dims[0] : 1, c->rank >= 1 ? c->dims[c->rank - 1] : 1 };
        if ((cd[0] != 1 && cd[0] != m) || (cd[1] != 1 && cd[1] != n))
            return reference(ctx);
        c_rows = cd[0];
        c_cols = cd[1];
    }
    int64_t y_dims[2] = { m, n };
    enum d2_status st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, 2, y_dims);
    if (st != D2_OK || m == 0 || n == 0)
        return st;
    float *y = ctx->outputs[0].data;
    struct d2_gemm_b_source bsrc = d2_gemm_b_matrix(b->data, k, n, attrs->trans_b ? 1 : n, attrs->trans_b ? k : 1);
    bsrc.packed = d2_gemm_cache_packed_b(fast->gemm_cache, fast->kernels, fast->pool, b, k, n, bsrc.row_step,
                                         bsrc.col_step);
    st = d2_sgemm(fast->kernels, fast->pool, m, n, k, a->data, attrs->trans_a ? 1 : k, attrs->trans_a ? m : 1, &bsrc,
                  y, n, false, NULL, ctx->err);
    if (st != D2_OK)
        return st;
    if (attrs->alpha != 1.0f || (c && attrs->beta != 0.0f)) {
        struct gemm_epilogue_job job = { fast->kernels, y, c && attrs->beta != 0.0f ? c->data : NULL, n,
                                         c_rows, c_cols, attrs->alpha, attrs->beta };
        d2_threadpool_parallel_for(fast->pool, m, 64, gemm_epilogue_rows, &job);
    }
    return D2_OK;
}

enum d2_status d2_cpu_fast_matmul(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_matmul(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    if (!fast || !is_f32(a) || !is_f32(b) || a->rank < 1 || b->rank < 1)
        return reference(ctx);
    int64_t m = a->rank > 1 ? a->dims[a->rank - 2] : 1, k = a->dims[a->rank - 1];
    int64_t kb = b->rank > 1 ? b->dims[b->rank - 2] : b->dims[0], n = b->rank > 1 ? b->dims[b->rank - 1] : 1;
    if (k != kb)
        return reference(ctx);
    int32_t a_batch_rank = a->rank > 2 ? a->rank - 2 : 0, b_batch_rank = b->rank > 2 ? b->rank - 2 : 0;
    int32_t batch_rank = a_batch_rank > b_batch_rank ? a_batch_rank : b_batch_rank;
    int64_t batch_dims[D2_MAX_RANK], y_dims[D2_MAX_RANK], batches = 1;
    for (int32_t i = 0; i < batch_rank; i++) {
        int32_t ia = i - (batch_rank - a_batch_rank), ib = i - (batch_rank - b_batch_rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return reference(ctx);
        batch_dims[i] = da == 1 ? db : da;
        y_dims[i] = batch_dims[i];
        batches *= batch_dims[i];
    }
    int32_t y_rank = batch_rank;
    if (a->rank > 1)
        y_dims[y_rank++] = m;
    if (b->rank > 1)
        y_dims[y_rank++] = n;
    enum d2_status st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, y_rank, y_dims);
    if (st != D2_OK || m == 0 || n == 0)
        return st;
    float *y = ctx->outputs[0].data;
    /* A 1-D or 2-D constant B is the same matrix for every batch: packed once per session. */
    const float *b_packed =
        b->rank <= 2 ? d2_gemm_cache_packed_b(fast->gemm_cache, fast->kernels, fast->pool, b, k, n, n, 1) : NULL;
    for (int64_t bi = 0; bi < batches && st == D2_OK; bi++) {
        int64_t a_batch = d2_broadcast_index(bi, batch_rank, batch_dims, a_batch_rank, a->dims);
        int64_t b_batch = d2_broadcast_index(bi, batch_rank, batch_dims, b_batch_rank, b->dims);
        const float *bd = (const float *)b->data + b_batch * k * n;
        struct d2_gemm_b_source bsrc = d2_gemm_b_matrix(bd, k, n, n, 1);
        bsrc.packed = b_packed;
        st = d2_sgemm(fast->kernels, fast->pool, m, n, k, (const float *)a->data + a_batch * m * k, k, 1, &bsrc,
                      y + bi * m * n, n, false, NULL, ctx->err);
    }
    return st;
}

/* ---- elementwise ------------------------------------------------------------------ */

enum elementwise_kind { EW_RELU, EW_SIGMOID, EW_ADD, EW_MUL };

/* Elements per work item of the elementwise loops (large enough to amortize a chunk). */
#define EW_PIECE 32768

struct elementwise_job {
    const struct d2_cpu_kernels *kt;
    enum elementwise_kind kind;
    float *y;
    const float *a, *b;
    /* binary: the output as rows of row_len; per operand, whether it is a full row
     * (else a scalar per row), and its dims for the broadcast index */
    int64_t row_len, pieces_per_row;
    bool a_full, b_full;
    const struct d2_tensor *ta, *tb, *ty;
};

static void elementwise_items(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct elementwise_job *job = ctx;
    const struct d2_cpu_kernels *kt = job->kt;
    (void)thread;
    for (int64_t item = begin; item < end; item++) {
        int64_t row = item / job->pieces_per_row, piece = item % job->pieces_per_row;
        int64_t start = piece * EW_PIECE, len = job->row_len - start < EW_PIECE ? job->row_len - start : EW_PIECE;
        int64_t y_off = row * job->row_len + start;
        float *y = job->y + y_off;
        if (job->kind == EW_RELU) {
            kt->relu(y, job->a + y_off, len);
            continue;
        }
        if (job->kind == EW_SIGMOID) {
            kt->sigmoid(y, job->a + y_off, len);
            continue;
        }
        int64_t row_start = row * job->row_len;
        int64_t ai = d2_broadcast_index(row_start, job->ty->rank, job->ty->dims, job->ta->rank, job->ta->dims);
        int64_t bi = d2_broadcast_index(row_start, job->ty->rank, job->ty->dims, job->tb->rank, job->tb->dims);
        const float *a = job->a + ai + (job->a_full ? start : 0), *b = job->b + bi + (job->b_full ? start : 0);
        bool add = job->kind == EW_ADD;
        if (job->a_full && job->b_full)
            (add ? kt->add : kt->mul)(y, a, b, len);
        else if (job->a_full)
            (add ? kt->add_scalar : kt->mul_scalar)(y, a, b[0], len);
        else if (job->b_full)
            (add ? kt->add_scalar : kt->mul_scalar)(y, b, a[0], len);
        else
            for (int64_t i = 0; i < len; i++)
                y[i] = add ? a[0] + b[0] : a[0] * b[0];
    }
}

static void run_elementwise(const struct d2_cpu_fast *fast, struct elementwise_job *job, int64_t rows)
{
    job->kt = fast->kernels;
    job->pieces_per_row = job->row_len > EW_PIECE ? (job->row_len + EW_PIECE - 1) / EW_PIECE : 1;
    int64_t items = rows * job->pieces_per_row;
    int64_t chunk = job->row_len >= EW_PIECE ? 1 : EW_PIECE / (job->row_len ? job->row_len : 1);
    d2_threadpool_parallel_for(fast->pool, items, chunk, elementwise_items, job);
}

static enum d2_status fast_unary(struct d2_kernel_ctx *ctx, enum elementwise_kind kind)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_tensor *x = ctx->inputs[0];
    if (!fast || !is_f32(x))
        return reference(ctx);
    enum d2_status st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    struct elementwise_job job;
    memset(&job, 0, sizeof job);
    job.kind = kind;
    job.y = ctx->outputs[0].data;
    job.a = x->data;
    job.row_len = d2_tensor_numel(x);
    if (job.row_len > 0)
        run_elementwise(fast, &job, 1);
    return D2_OK;
}

/* Rows of the broadcast output (see the file comment): false when the operands'
 * ranks or dims do not broadcast (the reference reports it). */
static bool broadcast_rows(const struct d2_tensor *a, const struct d2_tensor *b, struct d2_tensor *shape,
                           int64_t *row_len, bool *a_full, bool *b_full)
{
    int32_t rank = a->rank > b->rank ? a->rank : b->rank;
    int64_t ad[D2_MAX_RANK], bd[D2_MAX_RANK];
    memset(shape, 0, sizeof *shape);
    shape->rank = rank;
    for (int32_t d = 0; d < rank; d++) {
        int32_t ia = d - (rank - a->rank), ib = d - (rank - b->rank);
        ad[d] = ia >= 0 ? a->dims[ia] : 1;
        bd[d] = ib >= 0 ? b->dims[ib] : 1;
        if (ad[d] != bd[d] && ad[d] != 1 && bd[d] != 1)
            return false;
        shape->dims[d] = ad[d] == 1 ? bd[d] : ad[d];
    }
    /* Grow the suffix while each operand stays in one category (full or constant). */
    bool af = true, ac = true, bf = true, bc = true;
    int32_t r = rank;
    *row_len = 1;
    while (r > 0) {
        int32_t d = r - 1;
        bool naf = af && ad[d] == shape->dims[d], nac = ac && ad[d] == 1;
        bool nbf = bf && bd[d] == shape->dims[d], nbc = bc && bd[d] == 1;
        if (!(naf || nac) || !(nbf || nbc))
            break;
        af = naf, ac = nac, bf = nbf, bc = nbc;
        *row_len *= shape->dims[d];
        r--;
    }
    /* Not full means constant along the row (the loop kept one of the two true). */
    *a_full = af;
    *b_full = bf;
    return true;
}

static enum d2_status fast_binary(struct d2_kernel_ctx *ctx, enum elementwise_kind kind)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    struct d2_tensor shape;
    struct elementwise_job job;
    if (!fast || !is_f32(a) || !is_f32(b))
        return d2_cpu_fast_broadcast_arith(ctx); /* i64 and the rest: fast_data.h */
    memset(&job, 0, sizeof job);
    if (!broadcast_rows(a, b, &shape, &job.row_len, &job.a_full, &job.b_full))
        return d2_cpu_fast_broadcast_arith(ctx);
    int64_t numel = d2_dims_numel(shape.rank, shape.dims);
    /* Short rows make one call per few elements: the general broadcast loops instead. */
    if (numel > 0 && job.row_len < 16 && numel / job.row_len > 1)
        return d2_cpu_fast_broadcast_arith(ctx);
    enum d2_status st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, shape.rank, shape.dims);
    if (st != D2_OK || numel == 0)
        return st;
    job.kind = kind;
    job.y = ctx->outputs[0].data;
    job.a = a->data;
    job.b = b->data;
    job.ta = a;
    job.tb = b;
    job.ty = &ctx->outputs[0];
    run_elementwise(fast, &job, numel / job.row_len);
    return D2_OK;
}

enum d2_status d2_cpu_fast_relu(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_sigmoid(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_add(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_mul(struct d2_kernel_ctx *ctx);
/* ---- other unary math (exp, log, sqrt, tanh, ...) on f32 ------------------------------- */

/* The reference's own float rule (d2_ref_unary_float_rule), applied to f32 arrays
 * directly and on every thread: the same double computation and one rounding per
 * element, so the results are the reference's bit for bit, without its per-element
 * dtype dispatch (the RPN's two exps over 243k boxes took 10 ms). */
struct unary_rule_job {
    d2_ref_unary_float_fn rule;
    const void *attrs;
    const float *x;
    float *y;
};

#define UNARY_RULE_BLOCK 4096

static void unary_rule_blocks(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct unary_rule_job *job = ctx;
    (void)thread;
    for (int64_t i = begin * UNARY_RULE_BLOCK; i < end * UNARY_RULE_BLOCK; i++)
        job->y[i] = (float)job->rule((double)job->x[i], job->attrs);
}

static enum d2_status fast_unary_rule(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    const struct d2_tensor *x = ctx->num_inputs ? ctx->inputs[0] : NULL;
    struct unary_rule_job job = { d2_ref_unary_float_rule(ctx->node->op), ctx->node->attrs, NULL, NULL };
    if (!fast || !job.rule || !is_f32(x))
        return reference(ctx);
    enum d2_status st = d2_nn_prepare_output(ctx, 0, D2_DTYPE_F32, x->rank, x->dims);
    if (st != D2_OK)
        return st;
    int64_t n = d2_tensor_numel(x), blocks = n / UNARY_RULE_BLOCK;
    job.x = x->data;
    job.y = ctx->outputs[0].data;
    d2_threadpool_parallel_for(blocks >= 4 ? fast->pool : NULL, blocks, 1, unary_rule_blocks, &job);
    for (int64_t i = blocks * UNARY_RULE_BLOCK; i < n; i++) /* the tail */
        job.y[i] = (float)job.rule((double)job.x[i], job.attrs);
    return D2_OK;
}

enum d2_status d2_cpu_fast_relu(struct d2_kernel_ctx *ctx) { return fast_unary(ctx, EW_RELU); }
enum d2_status d2_cpu_fast_sigmoid(struct d2_kernel_ctx *ctx) { return fast_unary(ctx, EW_SIGMOID); }
enum d2_status d2_cpu_fast_add(struct d2_kernel_ctx *ctx) { return fast_binary(ctx, EW_ADD); }
enum d2_status d2_cpu_fast_mul(struct d2_kernel_ctx *ctx) { return fast_binary(ctx, EW_MUL); }

/* ---- the table ---------------------------------------------------------------------- */

enum d2_status d2_cpu_fast_conv(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_conv_transpose(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_fused_conv(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_max_pool(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_average_pool(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_upsample_add(struct d2_kernel_ctx *ctx); /* fast_upsample_add.c */

d2_cpu_kernel_fn d2_cpu_fast_kernel(enum d2_op op)
{
    switch (op) {
    case D2_OP_CONV: return d2_cpu_fast_conv;
    case D2_OP_CONV_TRANSPOSE: return d2_cpu_fast_conv_transpose;
    case D2_OP_FUSED_CONV: return d2_cpu_fast_fused_conv;
    case D2_OP_GEMM: return d2_cpu_fast_gemm;
    case D2_OP_MATMUL: return d2_cpu_fast_matmul;
    case D2_OP_RELU: return d2_cpu_fast_relu;
    case D2_OP_SIGMOID: return d2_cpu_fast_sigmoid;
    case D2_OP_ADD: return d2_cpu_fast_add;
    case D2_OP_MUL: return d2_cpu_fast_mul;
    case D2_OP_MAX_POOL: return d2_cpu_fast_max_pool;
    case D2_OP_AVERAGE_POOL: return d2_cpu_fast_average_pool;
    case D2_OP_UPSAMPLE_ADD: return d2_cpu_fast_upsample_add;
    default: {
        d2_cpu_kernel_fn data = d2_cpu_fast_data_kernel(op); /* fast_data.h */
        if (data)
            return data;
        if (d2_ref_unary_float_rule(op))
            return fast_unary_rule;
        d2_cpu_kernel_fn detect = d2_cpu_fast_detect_kernel(op); /* fast_detect.h */
        return detect ? detect : d2_cpu_ref_kernel(op);
    }
    }
}
