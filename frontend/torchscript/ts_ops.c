/* frontend/torchscript/ts_ops.c: the builtin table and the Python-level builtins:
 * numbers (static and run-time), comparisons, logic, conversions (lists, dicts and
 * strings: ts_ops_seq.c).
 *
 * A builtin receives its evaluated arguments (struct ts_call) and returns a value.
 * Python arithmetic on numbers known at compile time is computed here with Python's
 * rules (floor division and % round toward -inf, int/int true division gives float);
 * on run-time numbers it becomes IR ops on rank-0 i64/f64/bool values. When a tensor
 * is involved the call goes to the tensor version (ts_ops_tensor.c).
 */
#include "frontend/torchscript/ts_lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arguments ---- */

uint32_t ts_num_positional(const struct ts_call *c)
{
    uint32_t n = 0;
    while (n < c->count && (!c->names || !c->names[n]))
        n++;
    return n;
}

struct tsv *ts_arg(const struct ts_call *c, uint32_t position, const char *name)
{
    if (position < ts_num_positional(c))
        return c->args[position];
    for (uint32_t i = 0; name && c->names && i < c->count; i++)
        if (c->names[i] && strcmp(c->names[i], name) == 0)
            return c->args[i];
    return NULL;
}

bool ts_is_tensor(const struct tsv *v) { return v && v->kind == TSV_TENSOR; }

bool ts_is_number(const struct tsv *v)
{
    return v && (v->kind == TSV_BOOL || v->kind == TSV_INT || v->kind == TSV_FLOAT || v->kind == TSV_SCALAR);
}

d2_value_id ts_tensor_arg(struct ts_lower *L, const struct ts_call *c, uint32_t position, const char *name)
{
    struct tsv *v = ts_arg(c, position, name);
    if (!v) {
        ts_fail(L, D2_ERR_PARSE, "%s: missing argument %u ('%s')", c->name, position, name ? name : "?");
        return D2_NO_VALUE;
    }
    if (v->kind != TSV_TENSOR) {
        ts_fail(L, D2_ERR_UNSUPPORTED, "%s: argument '%s' must be a tensor, got %s", c->name, name ? name : "?",
                tsv_describe(v));
        return D2_NO_VALUE;
    }
    return ts_use(L, v);
}

int32_t ts_rank(struct ts_lower *L, d2_value_id id)
{
    return id == D2_NO_VALUE ? -1 : ts_type(L, id)->rank;
}

enum d2_status ts_norm_dim(struct ts_lower *L, int64_t dim, int32_t rank, int64_t *out)
{
    if (rank < 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "the rank of a tensor is not known at compile time");
    if (!d2_normalize_axis(dim, rank == 0 ? 1 : rank, out))
        return ts_fail(L, D2_ERR_SHAPE, "dim %lld is out of range for a tensor of rank %d", (long long)dim, rank);
    return D2_OK;
}

struct tsv *ts_dim_size(struct ts_lower *L, d2_value_id x, int64_t d)
{
    const struct d2_type *t = ts_type(L, x);
    d2_value_id shape, idx, in[2];
    int32_t n;
    if (d >= 0 && d < t->rank && t->dims[d] >= 0)
        return tsv_int(L, t->dims[d]);
    n = ts_node(L, D2_OP_SHAPE, 1, &x, 1);
    if (n < 0)
        return NULL;
    ((struct d2_attrs_shape *)ts_attrs(L, n))->start = d;
    ((struct d2_attrs_shape *)ts_attrs(L, n))->end = d + 1;
    if (ts_finish(L, n, &shape) != D2_OK)
        return NULL;
    {
        int64_t zero = 0;
        in[0] = shape;
        in[1] = ts_const_i64(L, &zero, 1, false);
        idx = ts_emit1(L, D2_OP_SQUEEZE, 2, in);
    }
    return idx == D2_NO_VALUE ? NULL : tsv_scalar(L, ts_here(L, idx), TS_PY_INT);
}

static enum d2_status ret(struct ts_lower *L, struct tsv *v, struct tsv **out)
{
    *out = v;
    return v ? D2_OK : (L->err->code ? L->err->code : D2_ERR_NOMEM);
}

static enum d2_status need(struct ts_lower *L, const struct ts_call *c, uint32_t n)
{
    if (c->count < n)
        return ts_fail(L, D2_ERR_PARSE, "%s takes at least %u arguments, %u given", c->name, n, c->count);
    return D2_OK;
}

/* ---- numbers ---- */

static enum ts_pytype pytype_of(const struct tsv *v)
{
    switch (v->kind) {
    case TSV_BOOL: return TS_PY_BOOL;
    case TSV_FLOAT: return TS_PY_FLOAT;
    case TSV_SCALAR: return v->u.scalar.type;
    default: return TS_PY_INT;
    }
}

static enum d2_dtype pytype_dtype(enum ts_pytype t)
{
    return t == TS_PY_FLOAT ? D2_DTYPE_F64 : t == TS_PY_BOOL ? D2_DTYPE_BOOL : D2_DTYPE_I64;
}

static bool is_static_number(const struct tsv *v)
{
    return v->kind == TSV_BOOL || v->kind == TSV_INT || v->kind == TSV_FLOAT;
}

static double as_double(const struct tsv *v)
{
    return v->kind == TSV_FLOAT ? v->u.f : v->kind == TSV_INT ? (double)v->u.i : (double)v->u.b;
}

static int64_t as_int(const struct tsv *v) { return v->kind == TSV_INT ? v->u.i : v->kind == TSV_BOOL ? v->u.b : (int64_t)v->u.f; }

static int64_t floordiv_i64(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

enum arith { AR_ADD, AR_SUB, AR_MUL, AR_DIV, AR_FLOORDIV, AR_MOD, AR_POW };

/* a op b on Python numbers. */
static enum d2_status number_arith(struct ts_lower *L, enum arith op, struct tsv *a, struct tsv *b, struct tsv **out)
{
    enum ts_pytype ta = pytype_of(a), tb = pytype_of(b);
    bool is_float = ta == TS_PY_FLOAT || tb == TS_PY_FLOAT || op == AR_DIV;
    if (is_static_number(a) && is_static_number(b)) {
        if (!is_float) {
            int64_t x = as_int(a), y = as_int(b), r;
            if ((op == AR_FLOORDIV || op == AR_MOD) && y == 0)
                return ts_fail(L, D2_ERR_PARSE, "%s: integer division by zero", "number arithmetic");
            switch (op) {
            case AR_ADD: r = (int64_t)((uint64_t)x + (uint64_t)y); break;
            case AR_SUB: r = (int64_t)((uint64_t)x - (uint64_t)y); break;
            case AR_MUL: r = (int64_t)((uint64_t)x * (uint64_t)y); break;
            case AR_FLOORDIV: r = (x == INT64_MIN && y == -1) ? INT64_MIN : floordiv_i64(x, y); break;
            case AR_MOD: r = (x == INT64_MIN && y == -1) ? 0 : x - floordiv_i64(x, y) * y; break;
            default: {
                if (y < 0)
                    return ret(L, tsv_float(L, pow((double)x, (double)y)), out);
                r = 1;
                for (int64_t k = 0; k < y && k < 64; k++)
                    r = (int64_t)((uint64_t)r * (uint64_t)x);
                break;
            }
            }
            return ret(L, tsv_int(L, r), out);
        }
        double x = as_double(a), y = as_double(b), r;
        switch (op) {
        case AR_ADD: r = x + y; break;
        case AR_SUB: r = x - y; break;
        case AR_MUL: r = x * y; break;
        case AR_DIV:
            if (y == 0)
                return ts_fail(L, D2_ERR_PARSE, "float division by zero");
            r = x / y;
            break;
        case AR_FLOORDIV: r = floor(x / y); break;
        case AR_MOD: r = x - floor(x / y) * y; break;
        default: r = pow(x, y); break;
        }
        return ret(L, tsv_float(L, r), out);
    }
    /* run-time: rank-0 IR arithmetic */
    enum d2_dtype dt = is_float ? D2_DTYPE_F64 : D2_DTYPE_I64;
    d2_value_id in[2] = { ts_number_as(L, a, dt), ts_number_as(L, b, dt) }, r;
    static const enum d2_op ops[] = { D2_OP_ADD, D2_OP_SUB, D2_OP_MUL, D2_OP_DIV, D2_OP_DIV, D2_OP_MOD, D2_OP_POW };
    if (in[0] == D2_NO_VALUE || in[1] == D2_NO_VALUE)
        return L->err->code;
    if (op == AR_FLOORDIV && !is_float) {
        /* (a - a mod b) / b is exact, and mod rounds like Python */
        d2_value_id m = ts_emit1(L, D2_OP_MOD, 2, in), d[2];
        d[0] = in[0];
        d[1] = m;
        d[0] = ts_emit1(L, D2_OP_SUB, 2, d);
        d[1] = in[1];
        r = ts_emit1(L, D2_OP_DIV, 2, d);
    } else {
        r = ts_emit1(L, ops[op], 2, in);
        if (op == AR_FLOORDIV)
            r = ts_emit1(L, D2_OP_FLOOR, 1, &r);
    }
    if (r == D2_NO_VALUE)
        return L->err->code;
    return ret(L, tsv_scalar(L, ts_here(L, r), is_float ? TS_PY_FLOAT : TS_PY_INT), out);
}

enum cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

static enum d2_status number_compare(struct ts_lower *L, enum cmp op, struct tsv *a, struct tsv *b, struct tsv **out)
{
    if (is_static_number(a) && is_static_number(b)) {
        bool r;
        if (a->kind != TSV_FLOAT && b->kind != TSV_FLOAT) {
            int64_t x = as_int(a), y = as_int(b);
            r = op == CMP_EQ ? x == y : op == CMP_NE ? x != y : op == CMP_LT ? x < y : op == CMP_LE ? x <= y
                : op == CMP_GT ? x > y : x >= y;
        } else {
            double x = as_double(a), y = as_double(b);
            r = op == CMP_EQ ? x == y : op == CMP_NE ? x != y : op == CMP_LT ? x < y : op == CMP_LE ? x <= y
                : op == CMP_GT ? x > y : x >= y;
        }
        return ret(L, tsv_bool(L, r), out);
    }
    bool is_float = pytype_of(a) == TS_PY_FLOAT || pytype_of(b) == TS_PY_FLOAT;
    enum d2_dtype dt = is_float ? D2_DTYPE_F64 : D2_DTYPE_I64;
    d2_value_id in[2] = { ts_number_as(L, a, dt), ts_number_as(L, b, dt) }, r;
    if (in[0] == D2_NO_VALUE || in[1] == D2_NO_VALUE)
        return L->err->code;
    switch (op) {
    case CMP_EQ: r = ts_emit1(L, D2_OP_EQUAL, 2, in); break;
    case CMP_NE: r = ts_emit1(L, D2_OP_EQUAL, 2, in); r = ts_emit1(L, D2_OP_NOT, 1, &r); break;
    case CMP_LT: r = ts_emit1(L, D2_OP_LESS, 2, in); break;
    case CMP_LE: r = ts_emit1(L, D2_OP_LESS_EQUAL, 2, in); break;
    case CMP_GT: r = ts_emit1(L, D2_OP_GREATER, 2, in); break;
    default: r = ts_emit1(L, D2_OP_GREATER_EQUAL, 2, in); break;
    }
    if (r == D2_NO_VALUE)
        return L->err->code;
    return ret(L, tsv_scalar(L, ts_here(L, r), TS_PY_BOOL), out);
}

/* Tensor versions live in ts_ops_tensor.c under these names. */
static enum d2_status to_tensor_op(struct ts_lower *L, const char *name, struct ts_call *c, struct tsv **out)
{
    ts_op_fn fn = ts_find_op(name);
    if (!fn)
        return ts_fail(L, D2_ERR_INTERNAL, "no tensor op '%s'", name);
    return fn(L, c, out);
}

static bool any_tensor(const struct ts_call *c)
{
    for (uint32_t i = 0; i < c->count; i++)
        if (ts_is_tensor(c->args[i]))
            return true;
    return false;
}

#define ARITH(fname, AR, tensor_name)                                                        \
    static enum d2_status fname(struct ts_lower *L, struct ts_call *c, struct tsv **out)    \
    {                                                                                        \
        enum d2_status st = need(L, c, 2);                                                   \
        if (st != D2_OK)                                                                     \
            return st;                                                                       \
        if (any_tensor(c))                                                                   \
            return to_tensor_op(L, tensor_name, c, out);                                     \
        if (ts_is_number(c->args[0]) && ts_is_number(c->args[1]))                            \
            return number_arith(L, AR, c->args[0], c->args[1], out);                         \
        return seq_arith(L, AR, c, out);                                                     \
    }

/* list + list, str + str, list * int */
static enum d2_status seq_arith(struct ts_lower *L, enum arith op, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = c->args[0], *b = c->args[1];
    if (op == AR_ADD && a->kind == TSV_STR && b->kind == TSV_STR)
        return ret(L, tsv_str(L, ts_strcat3(L, a->u.s, b->u.s, "")), out);
    if (op == AR_ADD && (a->kind == TSV_LIST || a->kind == TSV_TUPLE) && a->kind == b->kind) {
        struct tsv *r = tsv_seq_new(L, a->kind, 0);
        for (uint32_t i = 0; r && i < a->u.seq.count; i++)
            if (!tsv_seq_push(L, r, a->u.seq.items[i]))
                return L->err->code;
        for (uint32_t i = 0; r && i < b->u.seq.count; i++)
            if (!tsv_seq_push(L, r, b->u.seq.items[i]))
                return L->err->code;
        return ret(L, r, out);
    }
    if (op == AR_MUL && (a->kind == TSV_LIST || a->kind == TSV_TUPLE) && b->kind == TSV_INT) {
        struct tsv *r = tsv_seq_new(L, a->kind, 0);
        if (b->u.i > 100000)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: list too long", c->name);
        for (int64_t k = 0; r && k < b->u.i; k++)
            for (uint32_t i = 0; i < a->u.seq.count; i++)
                if (!tsv_seq_push(L, r, a->u.seq.items[i]))
                    return L->err->code;
        return ret(L, r, out);
    }
    return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s and %s", c->name, tsv_describe(a), tsv_describe(b));
}

ARITH(op_add, AR_ADD, "t_add")
ARITH(op_sub, AR_SUB, "t_sub")
ARITH(op_mul, AR_MUL, "t_mul")
ARITH(op_floordiv, AR_FLOORDIV, "t_floor_divide")
ARITH(op_remainder, AR_MOD, "t_remainder")
ARITH(op_pow, AR_POW, "t_pow")

static enum d2_status op_div(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    enum d2_status st = need(L, c, 2);
    if (st != D2_OK)
        return st;
    if (any_tensor(c))
        return to_tensor_op(L, "t_div", c, out);
    return number_arith(L, AR_DIV, c->args[0], c->args[1], out);
}

static bool int_sequence(const struct tsv *v)
{
    return v->kind == TSV_LIST || v->kind == TSV_TUPLE;
}

/* Equality of two sequences of numbers, some known only at run time. */
static enum d2_status seq_equal(struct ts_lower *L, struct tsv *a, struct tsv *b, bool negate, struct tsv **out)
{
    struct tsv *acc = NULL;
    enum d2_status st;
    if (a->u.seq.count != b->u.seq.count)
        return ret(L, tsv_bool(L, negate), out);
    for (uint32_t i = 0; i < a->u.seq.count; i++) {
        struct tsv *x = a->u.seq.items[i], *y = b->u.seq.items[i], *r;
        bool known;
        if (ts_is_number(x) && ts_is_number(y)) {
            if ((st = number_compare(L, CMP_EQ, x, y, &r)) != D2_OK)
                return st;
        } else {
            bool eq = tsv_static_equal(x, y, &known);
            if (!known)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "comparing %s and %s", tsv_describe(x), tsv_describe(y));
            r = tsv_bool(L, eq);
        }
        if (r->kind == TSV_BOOL && !r->u.b)
            return ret(L, tsv_bool(L, negate), out);
        if (r->kind == TSV_BOOL)
            continue;
        if (!acc) {
            acc = r;
        } else {
            d2_value_id in[2] = { ts_use(L, acc), ts_use(L, r) };
            acc = tsv_scalar(L, ts_here(L, ts_emit1(L, D2_OP_AND, 2, in)), TS_PY_BOOL);
        }
    }
    if (!acc)
        return ret(L, tsv_bool(L, !negate), out);
    if (negate) {
        d2_value_id v = ts_use(L, acc);
        return ret(L, tsv_scalar(L, ts_here(L, ts_emit1(L, D2_OP_NOT, 1, &v)), TS_PY_BOOL), out);
    }
    return ret(L, acc, out);
}

#define COMPARE(fname, CMP, tensor_name)                                                     \
    static enum d2_status fname(struct ts_lower *L, struct ts_call *c, struct tsv **out)    \
    {                                                                                        \
        enum d2_status st = need(L, c, 2);                                                   \
        bool known;                                                                          \
        if (st != D2_OK)                                                                     \
            return st;                                                                       \
        if (any_tensor(c))                                                                   \
            return to_tensor_op(L, tensor_name, c, out);                                     \
        if (ts_is_number(c->args[0]) && ts_is_number(c->args[1]))                            \
            return number_compare(L, CMP, c->args[0], c->args[1], out);                      \
        if ((CMP == CMP_EQ || CMP == CMP_NE) && int_sequence(c->args[0]) && int_sequence(c->args[1])) \
            return seq_equal(L, c->args[0], c->args[1], CMP == CMP_NE, out);                 \
        if (CMP == CMP_EQ || CMP == CMP_NE) {                                                \
            bool eq = tsv_static_equal(c->args[0], c->args[1], &known);                      \
            if (known)                                                                       \
                return ret(L, tsv_bool(L, CMP == CMP_EQ ? eq : !eq), out);                   \
        }                                                                                    \
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s and %s", c->name, tsv_describe(c->args[0]), \
                       tsv_describe(c->args[1]));                                            \
    }

COMPARE(op_eq, CMP_EQ, "t_eq")
COMPARE(op_ne, CMP_NE, "t_ne")
COMPARE(op_lt, CMP_LT, "t_lt")
COMPARE(op_le, CMP_LE, "t_le")
COMPARE(op_gt, CMP_GT, "t_gt")
COMPARE(op_ge, CMP_GE, "t_ge")

static enum d2_status op_neg(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a;
    enum d2_status st = need(L, c, 1);
    if (st != D2_OK)
        return st;
    a = c->args[0];
    if (ts_is_tensor(a))
        return to_tensor_op(L, "t_neg", c, out);
    if (a->kind == TSV_INT || a->kind == TSV_BOOL)
        return ret(L, tsv_int(L, -as_int(a)), out);
    if (a->kind == TSV_FLOAT)
        return ret(L, tsv_float(L, -a->u.f), out);
    if (a->kind == TSV_SCALAR) {
        d2_value_id v = ts_number_as(L, a, a->u.scalar.type == TS_PY_FLOAT ? D2_DTYPE_F64 : D2_DTYPE_I64);
        v = ts_emit1(L, D2_OP_NEG, 1, &v);
        return ret(L, v == D2_NO_VALUE ? NULL : tsv_scalar(L, ts_here(L, v), a->u.scalar.type == TS_PY_FLOAT ? TS_PY_FLOAT : TS_PY_INT), out);
    }
    return ts_fail(L, D2_ERR_UNSUPPORTED, "-%s", tsv_describe(a));
}

static enum d2_status op_not(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    bool known, t;
    enum d2_status st = need(L, c, 1);
    if (st != D2_OK)
        return st;
    t = tsv_truth(c->args[0], &known);
    if (known)
        return ret(L, tsv_bool(L, !t), out);
    {
        d2_value_id v = ts_cast(L, ts_use(L, c->args[0]), D2_DTYPE_BOOL);
        v = ts_emit1(L, D2_OP_NOT, 1, &v);
        if (v == D2_NO_VALUE)
            return L->err->code;
        if (ts_is_tensor(c->args[0]))
            return ret(L, tsv_tensor(L, v), out);
        return ret(L, tsv_scalar(L, ts_here(L, v), TS_PY_BOOL), out);
    }
}

static enum d2_status logical(struct ts_lower *L, struct ts_call *c, enum d2_op op, const char *tensor_name,
                              struct tsv **out)
{
    enum d2_status st = need(L, c, 2);
    struct tsv *a, *b;
    if (st != D2_OK)
        return st;
    if (any_tensor(c))
        return to_tensor_op(L, tensor_name, c, out);
    a = c->args[0];
    b = c->args[1];
    if ((a->kind == TSV_BOOL || a->kind == TSV_INT) && (b->kind == TSV_BOOL || b->kind == TSV_INT)) {
        int64_t x = as_int(a), y = as_int(b), r = op == D2_OP_AND ? (x & y) : op == D2_OP_OR ? (x | y) : (x ^ y);
        return ret(L, a->kind == TSV_BOOL && b->kind == TSV_BOOL ? tsv_bool(L, r != 0) : tsv_int(L, r), out);
    }
    if (pytype_of(a) == TS_PY_BOOL && pytype_of(b) == TS_PY_BOOL) {
        d2_value_id in[2] = { ts_number_as(L, a, D2_DTYPE_BOOL), ts_number_as(L, b, D2_DTYPE_BOOL) };
        d2_value_id r = ts_emit1(L, op, 2, in);
        return ret(L, r == D2_NO_VALUE ? NULL : tsv_scalar(L, ts_here(L, r), TS_PY_BOOL), out);
    }
    return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s and %s", c->name, tsv_describe(a), tsv_describe(b));
}

static enum d2_status op_and(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return logical(L, c, D2_OP_AND, "t_and", out); }
static enum d2_status op_or(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return logical(L, c, D2_OP_OR, "t_or", out); }
static enum d2_status op_xor(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return logical(L, c, D2_OP_XOR, "t_xor", out); }

/* Number conversions: int(x), float(x), bool(x), annotate(number, t). */
static enum d2_status convert_number(struct ts_lower *L, struct ts_call *c, int want, struct tsv **out)
{
    /* want: 0 int, 1 float, 2 bool, 3 number (keeps the tensor's category) */
    struct tsv *a;
    enum d2_status st = need(L, c, 1);
    enum ts_pytype type;
    if (st != D2_OK)
        return st;
    a = c->args[0];
    if (is_static_number(a)) {
        if (want == 0 || (want == 3 && a->kind != TSV_FLOAT))
            return ret(L, tsv_int(L, as_int(a)), out);
        if (want == 1 || want == 3)
            return ret(L, tsv_float(L, as_double(a)), out);
        return ret(L, tsv_bool(L, as_double(a) != 0), out);
    }
    if (a->kind == TSV_STR && want != 2) {
        char *end;
        double f = strtod(a->u.s, &end);
        if (*end)
            return ts_fail(L, D2_ERR_PARSE, "cannot convert '%s' to a number", a->u.s);
        return ret(L, want == 0 ? tsv_int(L, (int64_t)f) : tsv_float(L, f), out);
    }
    if (a->kind != TSV_SCALAR && a->kind != TSV_TENSOR) {
        bool known, t = tsv_truth(a, &known);
        if (want == 2 && known)
            return ret(L, tsv_bool(L, t), out);
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    }
    d2_value_id v = ts_use(L, a);
    if (v == D2_NO_VALUE)
        return L->err->code;
    if (want == 3) {
        enum d2_dtype dt = ts_type(L, v)->dtype;
        type = dt == D2_DTYPE_BOOL ? TS_PY_BOOL : d2_dtype_is_float(dt) ? TS_PY_FLOAT : TS_PY_INT;
    } else {
        type = want == 0 ? TS_PY_INT : want == 1 ? TS_PY_FLOAT : TS_PY_BOOL;
    }
    if (ts_rank(L, v) > 0) {
        /* a one-element tensor becomes its single value */
        int64_t minus1 = -1;
        d2_value_id in[2] = { v, ts_const_i64(L, &minus1, 1, false) }, s;
        int64_t zero = 0;
        in[0] = ts_emit1(L, D2_OP_RESHAPE, 2, in);
        in[1] = ts_const_i64(L, &zero, 1, false);
        s = ts_emit1(L, D2_OP_SQUEEZE, 2, in);
        v = s;
    }
    v = ts_cast(L, v, pytype_dtype(type));
    if (v == D2_NO_VALUE)
        return L->err->code;
    {
        const struct d2_tensor *k = ts_const_of(L, v);
        if (k && d2_tensor_numel(k) == 1) {
            if (type == TS_PY_INT)
                return ret(L, tsv_int(L, d2_load_i64(k->data, k->dtype, 0)), out);
            if (type == TS_PY_FLOAT)
                return ret(L, tsv_float(L, d2_load_f64(k->data, k->dtype, 0)), out);
            return ret(L, tsv_bool(L, d2_load_i64(k->data, k->dtype, 0) != 0), out);
        }
    }
    return ret(L, tsv_scalar(L, ts_here(L, v), type), out);
}

static enum d2_status op_int(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_number(L, c, 0, out); }
static enum d2_status op_float(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_number(L, c, 1, out); }
static enum d2_status op_bool(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_number(L, c, 2, out); }
static enum d2_status op_number(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_number(L, c, 3, out); }

static enum d2_status op_num_to_tensor(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a;
    enum d2_status st = need(L, c, 1);
    if (st != D2_OK)
        return st;
    a = c->args[0];
    if (a->kind == TSV_TENSOR)
        return ret(L, a, out);
    if (!ts_is_number(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    return ret(L, tsv_tensor(L, ts_number_as(L, a, pytype_dtype(pytype_of(a)))), out);
}

static enum d2_status op_min_max(struct ts_lower *L, struct ts_call *c, bool is_max, struct tsv **out)
{
    struct tsv *const *items = c->args;
    uint32_t n = c->count;
    struct tsv *best = NULL;
    if (n == 1 && int_sequence(c->args[0])) {
        items = c->args[0]->u.seq.items;
        n = c->args[0]->u.seq.count;
    }
    if (n == 0)
        return ts_fail(L, D2_ERR_PARSE, "%s of an empty sequence", c->name);
    if (any_tensor(c))
        return to_tensor_op(L, is_max ? "t_max" : "t_min", c, out);
    for (uint32_t i = 0; i < n; i++) {
        struct tsv *x = items[i];
        if (!ts_is_number(x))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(x));
        if (!best) {
            best = x;
            continue;
        }
        if (is_static_number(best) && is_static_number(x)) {
            double a = as_double(best), b = as_double(x);
            if (is_max ? b > a : b < a)
                best = x;
            continue;
        }
        bool is_float = pytype_of(best) == TS_PY_FLOAT || pytype_of(x) == TS_PY_FLOAT;
        enum d2_dtype dt = is_float ? D2_DTYPE_F64 : D2_DTYPE_I64;
        d2_value_id in[2] = { ts_number_as(L, best, dt), ts_number_as(L, x, dt) };
        d2_value_id r = ts_emit1(L, is_max ? D2_OP_MAX : D2_OP_MIN, 2, in);
        if (r == D2_NO_VALUE)
            return L->err->code;
        best = tsv_scalar(L, ts_here(L, r), is_float ? TS_PY_FLOAT : TS_PY_INT);
    }
    return ret(L, best, out);
}

static enum d2_status op_max(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    if (c->count >= 1 && ts_is_tensor(c->args[0]))
        return to_tensor_op(L, "t_max", c, out);
    return op_min_max(L, c, true, out);
}
static enum d2_status op_prim_min(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    if (c->count >= 1 && ts_is_tensor(c->args[0]))
        return to_tensor_op(L, "t_min", c, out);
    return op_min_max(L, c, false, out);
}

/* __range_length(lo, hi, step): the number of items of range(lo, hi, step). */
static enum d2_status op_range_length(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    int64_t step;
    struct tsv *t, *adj;
    enum d2_status st = need(L, c, 3);
    if (st != D2_OK)
        return st;
    if (!ts_static_int(L, c->args[2], &step) || step == 0)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: the step must be a nonzero static int", c->name);
    /* max(0, (hi - lo + step -/+ 1) // step) */
    if ((st = number_arith(L, AR_SUB, c->args[1], c->args[0], &t)) != D2_OK)
        return st;
    if (!(adj = tsv_int(L, step > 0 ? step - 1 : step + 1)))
        return L->err->code;
    if ((st = number_arith(L, AR_ADD, t, adj, &t)) != D2_OK ||
        (st = number_arith(L, AR_FLOORDIV, t, c->args[2], &t)) != D2_OK)
        return st;
    struct tsv *zero = tsv_int(L, 0), *pair[2] = { t, zero };
    struct ts_call mc = { c->name, pair, (const char *[]){ NULL, NULL }, 2 };
    if (!zero)
        return L->err->code;
    return op_min_max(L, &mc, true, out);
}

/* __derive_index(index, start, step) = start + index * step */
static enum d2_status op_derive_index(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *t;
    enum d2_status st = need(L, c, 3);
    if (st != D2_OK)
        return st;
    if ((st = number_arith(L, AR_MUL, c->args[0], c->args[2], &t)) != D2_OK)
        return st;
    return number_arith(L, AR_ADD, c->args[1], t, out);
}

const struct ts_op_entry ts_ops_scalar[] = {
    { "aten::add", op_add }, { "aten::sub", op_sub }, { "aten::mul", op_mul }, { "aten::div", op_div },
    { "aten::floordiv", op_floordiv }, { "aten::floor_divide", op_floordiv }, { "aten::remainder", op_remainder },
    { "aten::pow", op_pow }, { "aten::neg", op_neg }, { "aten::__not__", op_not }, { "aten::eq", op_eq },
    { "aten::ne", op_ne }, { "aten::lt", op_lt }, { "aten::le", op_le }, { "aten::gt", op_gt },
    { "aten::ge", op_ge }, { "aten::__and__", op_and }, { "aten::__or__", op_or }, { "aten::__xor__", op_xor },
    { "aten::bitwise_and", op_and }, { "aten::bitwise_or", op_or }, { "aten::logical_and", op_and },
    { "aten::logical_or", op_or }, { "prim::Int", op_int }, { "aten::Int", op_int },
    { "aten::IntImplicit", op_int }, { "prim::Float", op_float }, { "aten::Float", op_float },
    { "aten::FloatImplicit", op_float }, { "prim::Bool", op_bool }, { "aten::Bool", op_bool },
    { "aten::item", op_number }, { "prim::ImplicitNumber", op_number }, { "aten::ScalarImplicit", op_number },
    { "prim::NumToTensor", op_num_to_tensor }, { "prim::min", op_prim_min }, { "prim::max", op_max },
    { "aten::max", op_max }, { "aten::min", op_prim_min }, { "aten::__range_length", op_range_length },
    { "aten::__derive_index", op_derive_index },
    { NULL, NULL },
};

ts_op_fn ts_find_op(const char *qualname)
{
    static const struct ts_op_entry *const families[] = {
#define X(fam) ts_ops_##fam,
        TS_OP_FAMILIES(X)
#undef X
    };
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const struct ts_op_entry *e = families[f]; e->name; e++)
            if (strcmp(e->name, qualname) == 0)
                return e->fn;
    return NULL;
}
