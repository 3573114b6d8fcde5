/* backends/cpu/fast_broadcast.c: fast numpy-broadcasting elementwise kernels:
 *   arithmetic  add sub mul div, and 2-input max min     f32 and i64 (i64 wraps like the
 *               reference; i64 div truncates, INT64_MIN / -1 wraps, and any zero
 *               divisor sends the node to the reference, which reports the element)
 *   comparisons equal greater less greater_equal less_equal   f32 and i64 -> bool
 *   logic       and or xor                                    bool -> bool
 *   where       bool condition, values of any 1/2/4/8-byte dtype (bytes copied)
 * Results are identical to ref_elementwise_binary.c (see fast_data.h for why f32
 * arithmetic equals the reference's double-then-round; max/min keep its NaN rule:
 * a NaN on either side gives NaN, else a >= b ? a : b).
 *
 * Broadcasting: each operand gets a stride per output dim (0 where it is broadcast);
 * size-1 output dims are dropped and neighbouring dims merged wherever every operand
 * steps through them as one, so [N,C,H,W] op [1,C,1,1] becomes [N*C rows] x [H*W],
 * same shapes and scalars one row. The innermost stride of an operand is then 0 (a
 * value repeated along the row) or 1 (a contiguous run), and each row is one call of
 * a loop specialised to those two cases, which the compiler vectorises. Rows are
 * split into pieces and spread over the thread pool when the output is large. */
#include "fast_data.h"

#include <math.h>
#include <string.h>

#include "fast.h"
#include "ref_nn.h"

/* Elements per work item: large enough to amortise the item's setup. */
#define PIECE 16384

/* ---- broadcast plan ------------------------------------------------------------ */

#define MAX_OPERANDS 3

struct bc_plan {
    int32_t rank;                                  /* merged dims, >= 1 */
    int64_t dims[D2_MAX_RANK];
    int64_t strides[MAX_OPERANDS][D2_MAX_RANK];    /* in elements */
    int32_t operands;
    int32_t out_rank;                              /* the unmerged output shape */
    int64_t out_dims[D2_MAX_RANK];
    int64_t numel;
};

/* numpy broadcast of the operands; false when they do not broadcast (the reference
 * reports it) or when the output is too large to count. */
static bool make_plan(const struct d2_tensor *const *ops, int32_t count, struct bc_plan *p)
{
    memset(p, 0, sizeof *p);
    p->operands = count;
    for (int32_t k = 0; k < count; k++)
        if (ops[k]->rank > p->out_rank)
            p->out_rank = ops[k]->rank;
    for (int32_t d = 0; d < p->out_rank; d++) {
        int64_t dim = 1;
        for (int32_t k = 0; k < count; k++) {
            int32_t j = d - (p->out_rank - ops[k]->rank);
            int64_t kd = j >= 0 ? ops[k]->dims[j] : 1;
            if (kd == dim || kd == 1)
                continue;
            if (dim != 1)
                return false;
            dim = kd;
        }
        p->out_dims[d] = dim;
    }
    p->numel = d2_dims_numel(p->out_rank, p->out_dims);
    if (p->numel < 0)
        return false;
    /* Per operand: contiguous strides of its own dims, 0 where broadcast. */
    int64_t full[MAX_OPERANDS][D2_MAX_RANK];
    for (int32_t k = 0; k < count; k++) {
        int64_t step = 1;
        for (int32_t d = p->out_rank - 1; d >= 0; d--) {
            int32_t j = d - (p->out_rank - ops[k]->rank);
            int64_t kd = j >= 0 ? ops[k]->dims[j] : 1;
            full[k][d] = kd == 1 ? 0 : step;
            step *= kd;
        }
    }
    /* Keep dims > 1, merging dim d into the one after it when every operand's stride
     * of d is its stride of the next dim times that dim's length. */
    int32_t r = 0;
    for (int32_t d = 0; d < p->out_rank; d++) {
        if (p->out_dims[d] == 1)
            continue;
        p->dims[r] = p->out_dims[d];
        for (int32_t k = 0; k < count; k++)
            p->strides[k][r] = full[k][d];
        r++;
    }
    if (r == 0) { /* a scalar output */
        p->dims[0] = 1;
        r = 1;
    }
    int32_t m = 0;
    for (int32_t d = 1; d < r; d++) {
        bool mergeable = true;
        for (int32_t k = 0; k < count && mergeable; k++)
            mergeable = p->strides[k][m] == p->strides[k][d] * p->dims[d];
        if (mergeable) {
            p->dims[m] *= p->dims[d];
            for (int32_t k = 0; k < count; k++)
                p->strides[k][m] = p->strides[k][d];
        } else {
            m++;
            p->dims[m] = p->dims[d];
            for (int32_t k = 0; k < count; k++)
                p->strides[k][m] = p->strides[k][d];
        }
    }
    p->rank = m + 1;
    return true;
}

/* ---- row loops -------------------------------------------------------------------- */

/* y[i] = f(a[i * sa], b[i * sb]) for i < n, sa and sb each 0 or 1. */
typedef void (*row_fn)(void *y, const void *a, const void *b, const void *c, int64_t n, int sa, int sb, int sc);

/* One loop per stride combination so that each is a plain vectorisable loop. */
#define BINARY_ROW(name, TIN, TOUT, EXPR)                                                               \
    static void name(void *yv, const void *av, const void *bv, const void *cv, int64_t n, int sa, int sb,  \
                     int sc)                                                                               \
    {                                                                                                      \
        TOUT *restrict y = yv;                                                                             \
        const TIN *restrict pa = av, *restrict pb = bv;                                                    \
        (void)cv, (void)sc;                                                                                \
        if (sa && sb) {                                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                              \
                TIN a = pa[i], b = pb[i];                                                                  \
                y[i] = (EXPR);                                                                             \
            }                                                                                              \
        } else if (sa) {                                                                                   \
            TIN b = pb[0];                                                                                 \
            for (int64_t i = 0; i < n; i++) {                                                              \
                TIN a = pa[i];                                                                             \
                y[i] = (EXPR);                                                                             \
            }                                                                                              \
        } else if (sb) {                                                                                   \
            TIN a = pa[0];                                                                                 \
            for (int64_t i = 0; i < n; i++) {                                                              \
                TIN b = pb[i];                                                                             \
                y[i] = (EXPR);                                                                             \
            }                                                                                              \
        } else {                                                                                           \
            TIN a = pa[0], b = pb[0];                                                                      \
            TOUT v = (EXPR);                                                                               \
            for (int64_t i = 0; i < n; i++)                                                                \
                y[i] = v;                                                                                  \
        }                                                                                                  \
    }

/* f32 arithmetic: the correctly rounded f32 result, as the reference's double math. */
BINARY_ROW(f32_add, float, float, a + b)
BINARY_ROW(f32_sub, float, float, a - b)
BINARY_ROW(f32_mul, float, float, a * b)
BINARY_ROW(f32_div, float, float, a / b)
BINARY_ROW(f32_max, float, float, isnan(a) || isnan(b) ? (float)NAN : a >= b ? a : b)
BINARY_ROW(f32_min, float, float, isnan(a) || isnan(b) ? (float)NAN : a <= b ? a : b)
BINARY_ROW(f32_equal, float, uint8_t, a == b)
BINARY_ROW(f32_greater, float, uint8_t, a > b)
BINARY_ROW(f32_less, float, uint8_t, a < b)
BINARY_ROW(f32_greater_equal, float, uint8_t, a >= b)
BINARY_ROW(f32_less_equal, float, uint8_t, a <= b)

/* i64: wrapping arithmetic through uint64_t; the divisor is never 0 here. */
BINARY_ROW(i64_add, int64_t, int64_t, (int64_t)((uint64_t)a + (uint64_t)b))
BINARY_ROW(i64_sub, int64_t, int64_t, (int64_t)((uint64_t)a - (uint64_t)b))
BINARY_ROW(i64_mul, int64_t, int64_t, (int64_t)((uint64_t)a * (uint64_t)b))
BINARY_ROW(i64_div, int64_t, int64_t, b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b)
BINARY_ROW(i64_max, int64_t, int64_t, a >= b ? a : b)
BINARY_ROW(i64_min, int64_t, int64_t, a <= b ? a : b)
BINARY_ROW(i64_equal, int64_t, uint8_t, a == b)
BINARY_ROW(i64_greater, int64_t, uint8_t, a > b)
BINARY_ROW(i64_less, int64_t, uint8_t, a < b)
BINARY_ROW(i64_greater_equal, int64_t, uint8_t, a >= b)
BINARY_ROW(i64_less_equal, int64_t, uint8_t, a <= b)

/* bool logic: any nonzero byte is true. */
BINARY_ROW(bool_and, uint8_t, uint8_t, (a != 0) & (b != 0))
BINARY_ROW(bool_or, uint8_t, uint8_t, (a != 0) | (b != 0))
BINARY_ROW(bool_xor, uint8_t, uint8_t, (a != 0) ^ (b != 0))

/* where: y[i] = cond[i] ? a[i] : b[i], the values moved as T (operand order cond, a, b). */
#define WHERE_ROW(name, T)                                                                                    \
    static void name(void *yv, const void *condv, const void *av, const void *bv, int64_t n, int scond, int sa, \
                     int sb)                                                                                  \
    {                                                                                                         \
        T *restrict y = yv;                                                                                   \
        const uint8_t *restrict cond = condv;                                                                 \
        const T *restrict pa = av, *restrict pb = bv;                                                         \
        if (scond && sa && sb) {                                                                              \
            for (int64_t i = 0; i < n; i++)                                                                   \
                y[i] = cond[i] ? pa[i] : pb[i];                                                               \
        } else {                                                                                              \
            for (int64_t i = 0; i < n; i++)                                                                   \
                y[i] = cond[i * scond] ? pa[i * sa] : pb[i * sb];                                             \
        }                                                                                                     \
    }

WHERE_ROW(where_1, uint8_t)
WHERE_ROW(where_2, uint16_t)
WHERE_ROW(where_4, uint32_t)
WHERE_ROW(where_8, uint64_t)

/* ---- driver ------------------------------------------------------------------------ */

struct bc_job {
    const struct bc_plan *plan;
    row_fn row;
    uint8_t *y;
    const uint8_t *in[MAX_OPERANDS];
    size_t y_size, in_size[MAX_OPERANDS];
    int64_t row_len, rows, pieces_per_row;
};

/* Element offsets of row `row` (the merged outer dims, row-major) per operand. */
static void row_offsets(const struct bc_plan *p, int64_t row, int64_t *offset)
{
    for (int32_t k = 0; k < p->operands; k++)
        offset[k] = 0;
    for (int32_t d = p->rank - 2; d >= 0; d--) {
        int64_t c = row % p->dims[d];
        row /= p->dims[d];
        for (int32_t k = 0; k < p->operands; k++)
            offset[k] += c * p->strides[k][d];
    }
}

static void run_row(const struct bc_job *job, int64_t row, int64_t start, int64_t len, const int64_t *offset)
{
    const struct bc_plan *p = job->plan;
    int last = p->rank - 1;
    const void *in[MAX_OPERANDS] = { NULL, NULL, NULL };
    int step[MAX_OPERANDS] = { 0, 0, 0 };
    for (int32_t k = 0; k < p->operands; k++) {
        step[k] = p->strides[k][last] != 0;
        in[k] = job->in[k] + (size_t)(offset[k] + (step[k] ? start : 0)) * job->in_size[k];
    }
    job->row(job->y + (size_t)(row * job->row_len + start) * job->y_size, in[0], in[1], in[2], len, step[0], step[1],
             step[2]);
}

/* Items are pieces of long rows (one per item) or, for short rows, single rows. */
static void bc_items(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct bc_job *job = ctx;
    const struct bc_plan *p = job->plan;
    int64_t offset[MAX_OPERANDS];
    (void)thread;
    if (job->pieces_per_row > 1) {
        for (int64_t item = begin; item < end; item++) {
            int64_t row = item / job->pieces_per_row, start = (item % job->pieces_per_row) * PIECE;
            int64_t len = job->row_len - start < PIECE ? job->row_len - start : PIECE;
            row_offsets(p, row, offset);
            run_row(job, row, start, len, offset);
        }
        return;
    }
    /* Consecutive rows: unravel once, then step the outer coordinate like an odometer. */
    int64_t coord[D2_MAX_RANK], rest = begin;
    for (int32_t d = p->rank - 2; d >= 0; d--) {
        coord[d] = rest % p->dims[d];
        rest /= p->dims[d];
    }
    row_offsets(p, begin, offset);
    for (int64_t row = begin; row < end; row++) {
        run_row(job, row, 0, job->row_len, offset);
        for (int32_t d = p->rank - 2; d >= 0; d--) {
            for (int32_t k = 0; k < p->operands; k++)
                offset[k] += p->strides[k][d];
            if (++coord[d] < p->dims[d])
                break;
            for (int32_t k = 0; k < p->operands; k++)
                offset[k] -= p->strides[k][d] * p->dims[d];
            coord[d] = 0;
        }
    }
}

/* Output 0 gets the plan's shape and `dtype`; then every row runs. */
static enum d2_status run_plan(struct d2_kernel_ctx *ctx, const struct d2_cpu_fast *fast, const struct bc_plan *p,
                               enum d2_dtype dtype, row_fn row)
{
    enum d2_status st = d2_nn_prepare_output(ctx, 0, dtype, p->out_rank, p->out_dims);
    if (st != D2_OK || p->numel == 0)
        return st;
    struct bc_job job;
    memset(&job, 0, sizeof job);
    job.plan = p;
    job.row = row;
    job.y = ctx->outputs[0].data;
    job.y_size = d2_dtype_size(dtype);
    for (int32_t k = 0; k < p->operands; k++) {
        job.in[k] = ctx->inputs[k]->data;
        job.in_size[k] = d2_dtype_size(ctx->inputs[k]->dtype);
    }
    job.row_len = p->dims[p->rank - 1];
    job.rows = p->numel / job.row_len;
    if (job.row_len > PIECE) {
        job.pieces_per_row = (job.row_len + PIECE - 1) / PIECE;
        d2_threadpool_parallel_for(fast->pool, job.rows * job.pieces_per_row, 1, bc_items, &job);
    } else {
        job.pieces_per_row = 1;
        d2_threadpool_parallel_for(fast->pool, job.rows, PIECE / job.row_len, bc_items, &job);
    }
    return D2_OK;
}

/* ---- kernels ----------------------------------------------------------------------- */

enum d2_status d2_fast_data_reference(struct d2_kernel_ctx *ctx)
{
    d2_cpu_kernel_fn ref = d2_cpu_ref_kernel(ctx->node->op);
    if (!ref)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "op '%s' has no CPU kernel", d2_op_name(ctx->node->op));
    return ref(ctx);
}

static bool inputs_present(const struct d2_kernel_ctx *ctx, uint32_t count)
{
    if (ctx->num_inputs != count)
        return false;
    for (uint32_t i = 0; i < count; i++)
        if (!ctx->inputs[i])
            return false;
    return true;
}

/* Is any element of an i64 tensor zero? */
static bool has_zero_i64(const struct d2_tensor *t)
{
    const int64_t *v = t->data;
    int64_t n = d2_tensor_numel(t);
    bool zero = false;
    for (int64_t i = 0; i < n; i++)
        zero |= v[i] == 0;
    return zero;
}

static row_fn arith_row(enum d2_op op, enum d2_dtype dtype)
{
    bool f = dtype == D2_DTYPE_F32;
    switch (op) {
    case D2_OP_ADD: return f ? f32_add : i64_add;
    case D2_OP_SUB: return f ? f32_sub : i64_sub;
    case D2_OP_MUL: return f ? f32_mul : i64_mul;
    case D2_OP_DIV: return f ? f32_div : i64_div;
    case D2_OP_MAX: return f ? f32_max : i64_max;
    case D2_OP_MIN: return f ? f32_min : i64_min;
    default: return NULL;
    }
}

enum d2_status d2_cpu_fast_broadcast_arith(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    struct bc_plan plan;
    if (!fast || !inputs_present(ctx, 2))
        return d2_fast_data_reference(ctx);
    const struct d2_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    enum d2_dtype dtype = a->dtype;
    row_fn row = arith_row(ctx->node->op, dtype);
    if (!row || b->dtype != dtype || (dtype != D2_DTYPE_F32 && dtype != D2_DTYPE_I64) ||
        !make_plan(ctx->inputs, 2, &plan))
        return d2_fast_data_reference(ctx);
    /* The reference names the first output element that divides by zero. */
    if (ctx->node->op == D2_OP_DIV && dtype == D2_DTYPE_I64 && has_zero_i64(b))
        return d2_fast_data_reference(ctx);
    return run_plan(ctx, fast, &plan, dtype, row);
}

static row_fn compare_row(enum d2_op op, enum d2_dtype dtype)
{
    bool f = dtype == D2_DTYPE_F32;
    switch (op) {
    case D2_OP_EQUAL: return f ? f32_equal : i64_equal;
    case D2_OP_GREATER: return f ? f32_greater : i64_greater;
    case D2_OP_LESS: return f ? f32_less : i64_less;
    case D2_OP_GREATER_EQUAL: return f ? f32_greater_equal : i64_greater_equal;
    case D2_OP_LESS_EQUAL: return f ? f32_less_equal : i64_less_equal;
    default: return NULL;
    }
}

static enum d2_status fast_compare(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    struct bc_plan plan;
    if (!fast || !inputs_present(ctx, 2))
        return d2_fast_data_reference(ctx);
    enum d2_dtype dtype = ctx->inputs[0]->dtype;
    row_fn row = compare_row(ctx->node->op, dtype);
    if (!row || ctx->inputs[1]->dtype != dtype || (dtype != D2_DTYPE_F32 && dtype != D2_DTYPE_I64) ||
        !make_plan(ctx->inputs, 2, &plan))
        return d2_fast_data_reference(ctx);
    return run_plan(ctx, fast, &plan, D2_DTYPE_BOOL, row);
}

static enum d2_status fast_logic(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    struct bc_plan plan;
    if (!fast || !inputs_present(ctx, 2) || ctx->inputs[0]->dtype != D2_DTYPE_BOOL ||
        ctx->inputs[1]->dtype != D2_DTYPE_BOOL || !make_plan(ctx->inputs, 2, &plan))
        return d2_fast_data_reference(ctx);
    enum d2_op op = ctx->node->op;
    return run_plan(ctx, fast, &plan, D2_DTYPE_BOOL, op == D2_OP_AND ? bool_and : op == D2_OP_OR ? bool_or : bool_xor);
}

static enum d2_status fast_where(struct d2_kernel_ctx *ctx)
{
    const struct d2_cpu_fast *fast = d2_cpu_fast_of(ctx);
    struct bc_plan plan;
    if (!fast || !inputs_present(ctx, 3) || ctx->inputs[0]->dtype != D2_DTYPE_BOOL ||
        ctx->inputs[1]->dtype != ctx->inputs[2]->dtype || !make_plan(ctx->inputs, 3, &plan))
        return d2_fast_data_reference(ctx);
    enum d2_dtype dtype = ctx->inputs[1]->dtype;
    switch (d2_dtype_size(dtype)) {
    case 1: return run_plan(ctx, fast, &plan, dtype, where_1);
    case 2: return run_plan(ctx, fast, &plan, dtype, where_2);
    case 4: return run_plan(ctx, fast, &plan, dtype, where_4);
    case 8: return run_plan(ctx, fast, &plan, dtype, where_8);
    default: return d2_fast_data_reference(ctx);
    }
}

/* ---- the table ---------------------------------------------------------------------- */

enum d2_status d2_cpu_fast_constant_of_shape(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_slice(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_concat(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_expand(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_transpose(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_pad(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_copy_reshape(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_gather(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_scatter_elements(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_non_zero(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_topk(struct d2_kernel_ctx *ctx);
enum d2_status d2_cpu_fast_resize(struct d2_kernel_ctx *ctx);


d2_cpu_kernel_fn d2_cpu_fast_data_kernel(enum d2_op op)
{
    switch (op) {
    case D2_OP_SUB:
    case D2_OP_DIV:
        return d2_cpu_fast_broadcast_arith;
    case D2_OP_MAX:
    case D2_OP_MIN:
        return d2_cpu_fast_broadcast_arith; /* 2 inputs; others go to the reference */
    case D2_OP_EQUAL:
    case D2_OP_GREATER:
    case D2_OP_LESS:
    case D2_OP_GREATER_EQUAL:
    case D2_OP_LESS_EQUAL:
        return fast_compare;
    case D2_OP_AND:
    case D2_OP_OR:
    case D2_OP_XOR:
        return fast_logic;
    case D2_OP_WHERE: return fast_where;
    case D2_OP_CONSTANT_OF_SHAPE: return d2_cpu_fast_constant_of_shape;
    case D2_OP_SLICE: return d2_cpu_fast_slice;
    case D2_OP_CONCAT: return d2_cpu_fast_concat;
    case D2_OP_EXPAND: return d2_cpu_fast_expand;
    case D2_OP_TRANSPOSE: return d2_cpu_fast_transpose;
    case D2_OP_PAD: return d2_cpu_fast_pad;
    case D2_OP_RESHAPE:
    case D2_OP_FLATTEN:
    case D2_OP_SQUEEZE:
    case D2_OP_UNSQUEEZE:
        return d2_cpu_fast_copy_reshape;
    case D2_OP_GATHER: return d2_cpu_fast_gather;
    case D2_OP_SCATTER_ELEMENTS: return d2_cpu_fast_scatter_elements;
    case D2_OP_NON_ZERO: return d2_cpu_fast_non_zero;
    case D2_OP_TOPK: return d2_cpu_fast_topk;
    case D2_OP_RESIZE: return d2_cpu_fast_resize;
    default: return NULL;
    }
}
