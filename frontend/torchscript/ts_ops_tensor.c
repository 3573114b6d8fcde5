/* frontend/torchscript/ts_ops_tensor.c: elementwise tensor ops and dtype conversion,
 * with PyTorch semantics (creation and reductions are in ts_ops_create.c):
 *   - binary ops promote with torch's result_type (a Python number or a 0-d tensor
 *     does not widen a dimensioned tensor of the same category), `add/sub` take
 *     alpha, true division of integers gives float32, `div(rounding_mode=...)`
 *     floors or truncates;
 *   - in-place variants (add_, relu_, clamp_, ...) compute the result in the dtype of
 *     self and write it into self's cell (through views);
 *   - float-only functions (exp, log, sqrt, sigmoid, ...) promote integers to float32.
 * Names starting with "t_" are the tensor halves of Python-level builtins (ts_ops.c
 * forwards to them when an argument is a tensor).
 */
#include "frontend/torchscript/ts_lower.h"

#include <math.h>
#include <string.h>

static enum d2_status ret(struct ts_lower *L, struct tsv *v, struct tsv **out)
{
    *out = v;
    return v ? D2_OK : (L->err->code ? L->err->code : D2_ERR_NOMEM);
}

/* An operand (tensor or number) as an IR value of dtype. */
static d2_value_id operand(struct ts_lower *L, struct tsv *v, enum d2_dtype dtype)
{
    if (!v) {
        ts_fail(L, D2_ERR_PARSE, "missing operand");
        return D2_NO_VALUE;
    }
    if (v->kind == TSV_TENSOR)
        return ts_cast(L, ts_use(L, v), dtype);
    if (ts_is_number(v))
        return ts_number_as(L, v, dtype);
    ts_fail(L, D2_ERR_UNSUPPORTED, "expected a tensor or a number, got %s", tsv_describe(v));
    return D2_NO_VALUE;
}

/* Write an in-place result into self (cast to self's dtype). */
static enum d2_status inplace(struct ts_lower *L, struct tsv *self, d2_value_id r, struct tsv **out)
{
    enum d2_status st;
    if (!ts_is_tensor(self))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "in-place op on %s", tsv_describe(self));
    r = ts_cast(L, r, ts_type(L, ts_use(L, self))->dtype);
    if ((st = ts_tensor_assign(L, self, r)) != D2_OK)
        return st;
    *out = self;
    return D2_OK;
}

/* ---- binary ---- */

enum bin_kind { BIN_ARITH, BIN_TRUE_DIV, BIN_COMPARE, BIN_LOGICAL };

static enum d2_status binary(struct ts_lower *L, struct ts_call *c, enum d2_op op, enum bin_kind kind, bool in_place,
                             struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *b = ts_arg(c, 1, "other"), *alpha = ts_arg(c, 2, "alpha");
    struct tsv *pair[2] = { a, b };
    enum d2_dtype dt;
    d2_value_id x, y, r;
    if (!a || !b)
        return ts_fail(L, D2_ERR_PARSE, "%s needs two operands", c->name);
    dt = ts_result_type(L, pair, 2);
    if (kind == BIN_TRUE_DIV && !d2_dtype_is_float(dt)) {
        struct tsv *mode = ts_arg(c, 2, "rounding_mode");
        if (!mode || mode->kind == TSV_NONE)
            dt = D2_DTYPE_F32;
    }
    if (kind == BIN_LOGICAL)
        dt = dt == D2_DTYPE_BOOL ? dt : dt;
    if (in_place && ts_is_tensor(a) && kind != BIN_COMPARE) {
        enum d2_dtype self_dt = ts_type(L, ts_use(L, a))->dtype;
        if (!d2_dtype_is_float(self_dt) && d2_dtype_is_float(dt))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: result type float cannot be stored in an integer tensor", c->name);
    }
    x = operand(L, a, dt);
    y = operand(L, b, dt);
    if (x == D2_NO_VALUE || y == D2_NO_VALUE)
        return L->err->code;
    if ((op == D2_OP_ADD || op == D2_OP_SUB) && alpha && alpha->kind != TSV_NONE) {
        double k;
        if (!ts_static_float(L, alpha, &k) || k != 1.0)
            y = ts_binary(L, D2_OP_MUL, y, operand(L, alpha, dt));
    }
    if (kind == BIN_TRUE_DIV) {
        struct tsv *mode = ts_arg(c, 2, "rounding_mode");
        const char *m = mode && mode->kind == TSV_STR ? mode->u.s : NULL;
        if (m && strcmp(m, "floor") == 0) {
            if (d2_dtype_is_float(dt)) {
                r = ts_binary(L, D2_OP_DIV, x, y);
                r = r == D2_NO_VALUE ? r : ts_emit1(L, D2_OP_FLOOR, 1, &r);
            } else { /* (a - a mod b) / b, exact for integers */
                d2_value_id m2 = ts_binary(L, D2_OP_MOD, x, y);
                r = ts_binary(L, D2_OP_DIV, ts_binary(L, D2_OP_SUB, x, m2), y);
            }
        } else if (m && strcmp(m, "trunc") == 0) {
            r = ts_binary(L, D2_OP_DIV, x, y);
            if (d2_dtype_is_float(dt) && r != D2_NO_VALUE) { /* trunc = sign * floor(|q|) */
                d2_value_id q = ts_emit1(L, D2_OP_ABS, 1, &r), s = ts_emit1(L, D2_OP_SIGN, 1, &r);
                q = ts_emit1(L, D2_OP_FLOOR, 1, &q);
                r = ts_binary(L, D2_OP_MUL, s, q);
            }
        } else {
            r = ts_binary(L, D2_OP_DIV, x, y);
        }
    } else {
        r = ts_binary(L, op, x, y);
    }
    if (r == D2_NO_VALUE)
        return L->err->code;
    if (in_place)
        return inplace(L, a, r, out);
    return ts_ret_tensor(L, r, out);
}

#define BIN(fname, OP, KIND, INPLACE) \
    static enum d2_status fname(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return binary(L, c, OP, KIND, INPLACE, out); }

BIN(t_add, D2_OP_ADD, BIN_ARITH, false)
BIN(t_sub, D2_OP_SUB, BIN_ARITH, false)
BIN(t_mul, D2_OP_MUL, BIN_ARITH, false)
BIN(t_div, D2_OP_DIV, BIN_TRUE_DIV, false)
BIN(t_pow, D2_OP_POW, BIN_ARITH, false)
BIN(add_, D2_OP_ADD, BIN_ARITH, true)
BIN(sub_, D2_OP_SUB, BIN_ARITH, true)
BIN(mul_, D2_OP_MUL, BIN_ARITH, true)
BIN(div_, D2_OP_DIV, BIN_TRUE_DIV, true)
BIN(t_eq, D2_OP_EQUAL, BIN_COMPARE, false)
BIN(t_lt, D2_OP_LESS, BIN_COMPARE, false)
BIN(t_le, D2_OP_LESS_EQUAL, BIN_COMPARE, false)
BIN(t_gt, D2_OP_GREATER, BIN_COMPARE, false)
BIN(t_ge, D2_OP_GREATER_EQUAL, BIN_COMPARE, false)
BIN(t_maximum, D2_OP_MAX, BIN_ARITH, false)
BIN(t_minimum, D2_OP_MIN, BIN_ARITH, false)

static enum d2_status t_ne(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    enum d2_status st = binary(L, c, D2_OP_EQUAL, BIN_COMPARE, false, out);
    if (st != D2_OK)
        return st;
    d2_value_id v = ts_use(L, *out);
    return ts_ret_tensor(L, ts_emit1(L, D2_OP_NOT, 1, &v), out);
}

/* rsub(self, other, alpha=1) = other - alpha * self */
static enum d2_status rsub(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct ts_call swapped = *c;
    struct tsv *args[3];
    const char *names[3] = { NULL, NULL, NULL };
    if (c->count < 2)
        return ts_fail(L, D2_ERR_PARSE, "%s needs two operands", c->name);
    args[0] = ts_arg(c, 1, "other");
    args[1] = ts_arg(c, 0, "self");
    args[2] = ts_arg(c, 2, "alpha");
    if (!args[0] || !args[1])
        return ts_fail(L, D2_ERR_PARSE, "%s needs two operands", c->name);
    if (args[2]) {
        /* other - alpha*self: scale self first, then subtract */
        struct tsv *pair[2] = { args[1], args[2] };
        enum d2_dtype dt = ts_result_type(L, pair, 2);
        d2_value_id s = ts_binary(L, D2_OP_MUL, operand(L, args[1], dt), operand(L, args[2], dt));
        if (!(args[1] = tsv_tensor(L, s)))
            return L->err->code;
    }
    swapped.args = args;
    swapped.names = names;
    swapped.count = 2;
    return binary(L, &swapped, D2_OP_SUB, BIN_ARITH, false, out);
}

static enum d2_status floor_divide_impl(struct ts_lower *L, struct ts_call *c, bool is_mod, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *b = ts_arg(c, 1, "other");
    struct tsv *pair[2] = { a, b };
    enum d2_dtype dt = ts_result_type(L, pair, 2);
    d2_value_id x = operand(L, a, dt), y = operand(L, b, dt), r;
    if (x == D2_NO_VALUE || y == D2_NO_VALUE)
        return L->err->code;
    if (is_mod) {
        r = ts_binary(L, D2_OP_MOD, x, y); /* Python %: sign of the divisor, like torch.remainder */
    } else if (d2_dtype_is_float(dt)) {
        r = ts_binary(L, D2_OP_DIV, x, y);
        r = r == D2_NO_VALUE ? r : ts_emit1(L, D2_OP_FLOOR, 1, &r);
    } else {
        r = ts_binary(L, D2_OP_DIV, ts_binary(L, D2_OP_SUB, x, ts_binary(L, D2_OP_MOD, x, y)), y);
    }
    return ts_ret_tensor(L, r, out);
}

static enum d2_status t_floor_divide(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return floor_divide_impl(L, c, false, out); }
static enum d2_status t_remainder(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return floor_divide_impl(L, c, true, out); }

static enum d2_status logical_bin(struct ts_lower *L, struct ts_call *c, enum d2_op op, enum d2_op int_op, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *b = ts_arg(c, 1, "other");
    struct tsv *pair[2] = { a, b };
    enum d2_dtype dt = ts_result_type(L, pair, 2);
    d2_value_id x = operand(L, a, dt), y = operand(L, b, dt);
    if (x == D2_NO_VALUE || y == D2_NO_VALUE)
        return L->err->code;
    if (dt != D2_DTYPE_BOOL) {
        if (!d2_dtype_is_integer(dt))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s on %s tensors", c->name, d2_dtype_name(dt));
        return ts_ret_tensor(L, ts_binary(L, int_op, x, y), out);
    }
    return ts_ret_tensor(L, ts_binary(L, op, x, y), out);
}

static enum d2_status t_and(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return logical_bin(L, c, D2_OP_AND, D2_OP_BITWISE_AND, out); }
static enum d2_status t_or(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return logical_bin(L, c, D2_OP_OR, D2_OP_BITWISE_OR, out); }
static enum d2_status t_xor(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return logical_bin(L, c, D2_OP_XOR, D2_OP_BITWISE_XOR, out); }

/* ---- unary ---- */

enum un_kind { UN_ANY, UN_FLOAT };

static enum d2_status unary(struct ts_lower *L, struct ts_call *c, enum d2_op op, enum un_kind kind, bool in_place,
                            struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    d2_value_id x, r;
    if ((op == D2_OP_FLOOR || op == D2_OP_CEIL) && a && ts_is_number(a) && !in_place) {
        /* math.floor / math.ceil of a Python number: an int (aten::floor.float) */
        double f;
        if (ts_static_float(L, a, &f))
            return (*out = tsv_int(L, (int64_t)(op == D2_OP_FLOOR ? floor(f) : ceil(f)))) ? D2_OK : L->err->code;
        x = ts_number_as(L, a, D2_DTYPE_F64);
        r = x == D2_NO_VALUE ? D2_NO_VALUE : ts_emit1(L, op, 1, &x);
        r = r == D2_NO_VALUE ? D2_NO_VALUE : ts_cast(L, r, D2_DTYPE_I64);
        if (r == D2_NO_VALUE)
            return L->err->code;
        return (*out = tsv_scalar(L, ts_here(L, r), TS_PY_INT)) ? D2_OK : L->err->code;
    }
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (kind == UN_FLOAT && !d2_dtype_is_float(ts_type(L, x)->dtype))
        x = ts_cast(L, x, D2_DTYPE_F32);
    r = ts_emit1(L, op, 1, &x);
    if (r == D2_NO_VALUE)
        return L->err->code;
    if (in_place)
        return inplace(L, a, r, out);
    return ts_ret_tensor(L, r, out);
}

/* fill_(self, value): every element becomes value (a number or a 0-d tensor), in
 * self's dtype and shape. */
static enum d2_status fill_(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *value = ts_arg(c, 1, "value");
    d2_value_id x = ts_tensor_arg(L, c, 0, "self"), v, shape_and_value[2];
    enum d2_dtype dt;
    if (x == D2_NO_VALUE)
        return L->err->code;
    dt = ts_type(L, x)->dtype;
    if (!value)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s needs a value", c->name);
    v = ts_is_tensor(value) ? ts_use(L, value) : ts_number_as(L, value, dt);
    if (v != D2_NO_VALUE && ts_type(L, v)->dtype != dt)
        v = ts_cast(L, v, dt);
    if (v == D2_NO_VALUE || (shape_and_value[1] = ts_shape(L, x)) == D2_NO_VALUE)
        return L->err->code;
    shape_and_value[0] = v;
    v = ts_emit1(L, D2_OP_EXPAND, 2, shape_and_value);
    if (v == D2_NO_VALUE)
        return L->err->code;
    return inplace(L, self, v, out);
}

#define UN(fname, OP, KIND, INPLACE) \
    static enum d2_status fname(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return unary(L, c, OP, KIND, INPLACE, out); }

UN(relu, D2_OP_RELU, UN_ANY, false)
UN(relu_, D2_OP_RELU, UN_ANY, true)
UN(sigmoid, D2_OP_SIGMOID, UN_FLOAT, false)
UN(sigmoid_, D2_OP_SIGMOID, UN_FLOAT, true)
UN(t_exp, D2_OP_EXP, UN_FLOAT, false)
UN(exp_, D2_OP_EXP, UN_FLOAT, true)
UN(t_log, D2_OP_LOG, UN_FLOAT, false)
UN(t_sqrt, D2_OP_SQRT, UN_FLOAT, false)
UN(t_floor, D2_OP_FLOOR, UN_ANY, false)
UN(t_ceil, D2_OP_CEIL, UN_ANY, false)
UN(t_round, D2_OP_ROUND, UN_ANY, false)
UN(t_abs, D2_OP_ABS, UN_ANY, false)
UN(t_neg, D2_OP_NEG, UN_ANY, false)
UN(t_tanh, D2_OP_TANH, UN_FLOAT, false)
UN(tanh_, D2_OP_TANH, UN_FLOAT, true)
UN(t_sin, D2_OP_SIN, UN_FLOAT, false)
UN(t_cos, D2_OP_COS, UN_FLOAT, false)
UN(t_sign, D2_OP_SIGN, UN_ANY, false)
UN(t_reciprocal, D2_OP_RECIPROCAL, UN_FLOAT, false)
UN(t_erf, D2_OP_ERF, UN_FLOAT, false)
UN(t_isnan, D2_OP_IS_NAN, UN_ANY, false)

static enum d2_status log2_(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    /* log2(x) = ln(x) / ln(2), computed in double and rounded once */
    struct tsv *a = ts_arg(c, 0, "self");
    d2_value_id x = ts_is_tensor(a) ? ts_use(L, a) : D2_NO_VALUE, r;
    enum d2_dtype dt;
    if (x == D2_NO_VALUE)
        return ts_is_tensor(a) ? L->err->code : ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    dt = ts_type(L, x)->dtype;
    dt = d2_dtype_is_float(dt) ? dt : D2_DTYPE_F32;
    x = ts_cast(L, x, D2_DTYPE_F64);
    r = ts_emit1(L, D2_OP_LOG, 1, &x);
    r = ts_binary(L, D2_OP_MUL, r, ts_const_scalar(L, D2_DTYPE_F64, 1.0 / log(2.0)));
    return ts_ret_tensor(L, ts_cast(L, r, dt), out);
}

static enum d2_status rsqrt(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    enum d2_status st = unary(L, c, D2_OP_SQRT, UN_FLOAT, false, out);
    if (st != D2_OK)
        return st;
    d2_value_id v = ts_use(L, *out);
    return ts_ret_tensor(L, ts_emit1(L, D2_OP_RECIPROCAL, 1, &v), out);
}

static enum d2_status logical_not(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    d2_value_id x = ts_cast(L, ts_use(L, a), D2_DTYPE_BOOL);
    return ts_ret_tensor(L, x == D2_NO_VALUE ? x : ts_emit1(L, D2_OP_NOT, 1, &x), out);
}

static enum d2_status bitwise_not(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    d2_value_id x;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    return ts_ret_tensor(L, ts_emit1(L, ts_type(L, x)->dtype == D2_DTYPE_BOOL ? D2_OP_NOT : D2_OP_BITWISE_NOT, 1, &x),
                         out);
}

static enum d2_status isfinite_(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    d2_value_id x, nan, inf;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (!d2_dtype_is_float(ts_type(L, x)->dtype)) { /* integers are always finite */
        d2_value_id e = ts_binary(L, D2_OP_EQUAL, x, x);
        return ts_ret_tensor(L, e, out);
    }
    nan = ts_emit1(L, D2_OP_IS_NAN, 1, &x);
    inf = ts_emit1(L, D2_OP_IS_INF, 1, &x);
    d2_value_id bad = ts_binary(L, D2_OP_OR, nan, inf);
    return ts_ret_tensor(L, bad == D2_NO_VALUE ? bad : ts_emit1(L, D2_OP_NOT, 1, &bad), out);
}

static enum d2_status clamp_impl(struct ts_lower *L, struct ts_call *c, struct tsv *lo, struct tsv *hi, bool in_place,
                                 struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    struct tsv *args[3] = { a, lo && lo->kind != TSV_NONE ? lo : NULL, hi && hi->kind != TSV_NONE ? hi : NULL };
    enum d2_dtype dt;
    d2_value_id x, in[3] = { D2_NO_VALUE, D2_NO_VALUE, D2_NO_VALUE }, r;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    dt = ts_result_type(L, args, 3);
    x = operand(L, a, dt);
    if (x == D2_NO_VALUE)
        return L->err->code;
    r = x;
    for (int k = 1; k < 3; k++) {
        if (!args[k])
            continue;
        d2_value_id bound = operand(L, args[k], dt);
        if (bound == D2_NO_VALUE)
            return L->err->code;
        if (ts_rank(L, bound) != 0) { /* tensor bounds: elementwise max/min */
            r = ts_binary(L, k == 1 ? D2_OP_MAX : D2_OP_MIN, r, bound);
            continue;
        }
        in[k] = bound;
    }
    if (in[1] != D2_NO_VALUE || in[2] != D2_NO_VALUE) {
        in[0] = r;
        r = ts_emit1(L, D2_OP_CLIP, in[2] != D2_NO_VALUE ? 3 : 2, in);
    }
    if (r == D2_NO_VALUE)
        return L->err->code;
    if (in_place)
        return inplace(L, a, r, out);
    return ts_ret_tensor(L, r, out);
}

static enum d2_status clamp(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    return clamp_impl(L, c, ts_arg(c, 1, "min"), ts_arg(c, 2, "max"), false, out);
}
static enum d2_status clamp_(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    return clamp_impl(L, c, ts_arg(c, 1, "min"), ts_arg(c, 2, "max"), true, out);
}
static enum d2_status clamp_min(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    return clamp_impl(L, c, ts_arg(c, 1, "min"), NULL, false, out);
}
static enum d2_status clamp_max(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    return clamp_impl(L, c, NULL, ts_arg(c, 1, "max"), false, out);
}

static enum d2_status where(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *cond = ts_arg(c, 0, "condition"), *a = ts_arg(c, 1, "self"), *b = ts_arg(c, 2, "other");
    struct tsv *pair[2] = { a, b };
    enum d2_dtype dt;
    d2_value_id in[3];
    if (ts_is_tensor(cond) && !a && !b && c->count == 1)
        return ts_call_op(L, "aten::nonzero_numpy", c, out); /* where(cond): a tuple of index tensors */
    if (!ts_is_tensor(cond) || !a || !b)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: only where(cond, a, b) is supported", c->name);
    dt = ts_result_type(L, pair, 2);
    in[0] = ts_cast(L, ts_use(L, cond), D2_DTYPE_BOOL);
    in[1] = operand(L, a, dt);
    in[2] = operand(L, b, dt);
    return ts_ret_tensor(L, ts_emit1(L, D2_OP_WHERE, 3, in), out);
}

/* ---- dtype conversion and identity ops ---- */

static enum d2_status to(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    enum d2_dtype dt = D2_DTYPE_UNDEFINED;
    d2_value_id x;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    /* to(dtype, ...), to(device, dtype, ...), to(other, ...), to(dtype=..., device=...) */
    for (uint32_t i = 1; i < c->count && i < 3; i++) {
        struct tsv *v = c->args[i];
        if (c->names && c->names[i])
            break;
        if (v->kind == TSV_INT) {
            if (!ts_dtype_from_code(v->u.i, &dt))
                return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: unsupported dtype code %lld", c->name, (long long)v->u.i);
            break;
        }
        if (v->kind == TSV_TENSOR) {
            dt = ts_type(L, ts_use(L, v))->dtype;
            break;
        }
        if (v->kind != TSV_DEVICE && v->kind != TSV_STR && v->kind != TSV_NONE)
            break;
    }
    if (dt == D2_DTYPE_UNDEFINED) {
        enum d2_status st;
        struct tsv *kw = NULL;
        for (uint32_t i = 0; c->names && i < c->count; i++)
            if (c->names[i] && strcmp(c->names[i], "dtype") == 0)
                kw = c->args[i];
        if (kw && kw->kind == TSV_INT && (st = ts_dtype_arg(L, c, 99, "dtype", &dt)) != D2_OK)
            return st;
    }
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (dt == D2_DTYPE_UNDEFINED || dt == ts_type(L, x)->dtype)
        return ret(L, a, out); /* torch returns self when nothing changes */
    return ts_ret_tensor(L, ts_cast(L, x, dt), out);
}

static enum d2_status convert_to(struct ts_lower *L, struct ts_call *c, enum d2_dtype dt, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    d2_value_id x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (ts_type(L, x)->dtype == dt)
        return ret(L, a, out);
    return ts_ret_tensor(L, ts_cast(L, x, dt), out);
}

static enum d2_status to_float(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_to(L, c, D2_DTYPE_F32, out); }
static enum d2_status to_double(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_to(L, c, D2_DTYPE_F64, out); }
static enum d2_status to_long(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_to(L, c, D2_DTYPE_I64, out); }
static enum d2_status to_int(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_to(L, c, D2_DTYPE_I32, out); }
static enum d2_status to_bool(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_to(L, c, D2_DTYPE_BOOL, out); }
static enum d2_status to_half(struct ts_lower *L, struct ts_call *c, struct tsv **out) { return convert_to(L, c, D2_DTYPE_F16, out); }

static enum d2_status type_as(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *b = ts_arg(c, 1, "other");
    if (!ts_is_tensor(b))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: other must be a tensor", c->name);
    return convert_to(L, c, ts_type(L, ts_use(L, b))->dtype, out);
}

/* contiguous, detach, cpu, ...: the same tensor (an alias, as in PyTorch). */
static enum d2_status alias(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    return ret(L, a, out);
}

static enum d2_status clone(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self");
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    return ts_ret_tensor(L, ts_use(L, a), out); /* a new cell: writes do not alias */
}

static enum d2_status copy_(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *self = ts_arg(c, 0, "self"), *src = ts_arg(c, 1, "src");
    d2_value_id x, s, r;
    if (!ts_is_tensor(self) || !src)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: self must be a tensor", c->name);
    x = ts_use(L, self);
    if (x == D2_NO_VALUE)
        return L->err->code;
    s = operand(L, src, ts_type(L, x)->dtype);
    if (s == D2_NO_VALUE)
        return L->err->code;
    /* broadcast src to self's shape */
    {
        d2_value_id in[2] = { s, ts_shape(L, x) };
        r = ts_emit1(L, D2_OP_EXPAND, 2, in);
    }
    if (r == D2_NO_VALUE)
        return L->err->code;
    return inplace(L, self, r, out);
}

/* ---- tensors as Python containers ---- */

static enum d2_status t_tolist(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *list;
    d2_value_id x;
    const struct d2_type *t;
    enum d2_dtype dt;
    if (!ts_is_tensor(a))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s of %s", c->name, tsv_describe(a));
    x = ts_use(L, a);
    if (x == D2_NO_VALUE)
        return L->err->code;
    t = ts_type(L, x);
    if (t->rank != 1 || t->dims[0] < 0 || t->dims[0] > 4096)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "%s: only 1-D tensors of a static length", c->name);
    dt = t->dtype;
    list = tsv_seq_new(L, TSV_LIST, (uint32_t)t->dims[0]);
    for (int64_t i = 0; list && i < t->dims[0]; i++) {
        d2_value_id e = ts_gather(L, x, ts_const_i64(L, &i, 1, true), 0);
        enum ts_pytype py = dt == D2_DTYPE_BOOL ? TS_PY_BOOL : d2_dtype_is_float(dt) ? TS_PY_FLOAT : TS_PY_INT;
        struct tsv *item;
        e = ts_cast(L, e, py == TS_PY_FLOAT ? D2_DTYPE_F64 : py == TS_PY_BOOL ? D2_DTYPE_BOOL : D2_DTYPE_I64);
        if (e == D2_NO_VALUE)
            return L->err->code;
        item = tsv_scalar(L, ts_here(L, e), py);
        {
            int64_t k;
            double f;
            if (py == TS_PY_INT && ts_static_int(L, item, &k))
                item = tsv_int(L, k);
            else if (py == TS_PY_FLOAT && ts_static_float(L, item, &f))
                item = tsv_float(L, f);
        }
        if (!item)
            return L->err->code;
        list->u.seq.items[i] = item;
    }
    return ret(L, list, out);
}

static enum d2_status t_getitem(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *a = ts_arg(c, 0, "self"), *idx = ts_arg(c, 1, "idx");
    d2_value_id x = ts_use(L, a), i;
    if (x == D2_NO_VALUE)
        return L->err->code;
    if (!ts_is_number(idx))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "tensor indexing with %s (use torch.index)", tsv_describe(idx));
    i = ts_int_value(L, idx);
    return ts_ret_tensor(L, ts_gather(L, x, i, 0), out);
}

static enum d2_status t_list_select(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    struct tsv *l = c->args[0], *idx = c->args[1];
    uint32_t n = l->u.seq.count;
    d2_value_id *parts = d2_arena_alloc(&L->arena, sizeof *parts * (n ? n : 1));
    if (!parts)
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        if (!ts_is_tensor(l->u.seq.items[i]) && !ts_is_number(l->u.seq.items[i]))
            return ts_fail(L, D2_ERR_UNSUPPORTED, "run-time index into a list of %s", tsv_describe(l->u.seq.items[i]));
        parts[i] = ts_unsqueeze(L, ts_use(L, l->u.seq.items[i]), 0);
    }
    if (n == 0)
        return ts_fail(L, D2_ERR_PARSE, "index into an empty list");
    d2_value_id r = ts_gather(L, ts_concat(L, parts, n, 0), ts_int_value(L, idx), 0);
    if (ts_is_tensor(l->u.seq.items[0]))
        return ts_ret_tensor(L, r, out);
    return ret(L, r == D2_NO_VALUE ? NULL : tsv_scalar(L, ts_here(L, r), l->u.seq.items[0]->kind == TSV_FLOAT ||
                                                                          (l->u.seq.items[0]->kind == TSV_SCALAR && l->u.seq.items[0]->u.scalar.type == TS_PY_FLOAT)
                                                                          ? TS_PY_FLOAT : TS_PY_INT), out);
}

static enum d2_status dropout(struct ts_lower *L, struct ts_call *c, struct tsv **out)
{
    return alias(L, c, out); /* inference */
}

const struct ts_op_entry ts_ops_tensor[] = {
    { "t_add", t_add }, { "t_sub", t_sub }, { "t_mul", t_mul }, { "t_div", t_div }, { "t_pow", t_pow },
    { "t_floor_divide", t_floor_divide }, { "t_remainder", t_remainder }, { "t_eq", t_eq }, { "t_ne", t_ne },
    { "t_lt", t_lt }, { "t_le", t_le }, { "t_gt", t_gt }, { "t_ge", t_ge }, { "t_and", t_and }, { "t_or", t_or },
    { "t_xor", t_xor }, { "t_neg", t_neg }, { "t_abs", t_abs }, { "t_tolist", t_tolist },
    { "t_getitem", t_getitem }, { "t_list_select", t_list_select }, { "aten::add_", add_ }, { "aten::sub_", sub_ },
    { "aten::mul_", mul_ }, { "aten::div_", div_ }, { "aten::true_divide", t_div }, { "aten::rsub", rsub },
    { "aten::maximum", t_maximum }, { "aten::minimum", t_minimum }, { "aten::relu", relu },
    { "aten::relu_", relu_ }, { "aten::sigmoid", sigmoid }, { "aten::sigmoid_", sigmoid_ }, { "aten::exp", t_exp },
    { "aten::exp_", exp_ }, { "aten::log", t_log }, { "aten::log2", log2_ }, { "aten::sqrt", t_sqrt },
    { "aten::rsqrt", rsqrt }, { "aten::floor", t_floor }, { "aten::fill_", fill_ }, { "aten::ceil", t_ceil }, { "aten::round", t_round },
    { "aten::tanh", t_tanh }, { "aten::tanh_", tanh_ }, { "aten::sin", t_sin }, { "aten::cos", t_cos },
    { "aten::sign", t_sign }, { "aten::reciprocal", t_reciprocal }, { "aten::erf", t_erf },
    { "aten::isnan", t_isnan }, { "aten::isfinite", isfinite_ }, { "aten::logical_not", logical_not },
    { "aten::bitwise_not", bitwise_not }, { "aten::clamp", clamp }, { "aten::clamp_", clamp_ },
    { "aten::clip", clamp }, { "aten::clamp_min", clamp_min }, { "aten::clamp_max", clamp_max },
    { "aten::where", where }, { "aten::to", to }, { "aten::type_as", type_as }, { "aten::float", to_float },
    { "aten::double", to_double }, { "aten::long", to_long }, { "aten::int", to_int }, { "aten::bool", to_bool },
    { "aten::half", to_half }, { "aten::contiguous", alias }, { "aten::detach", alias }, { "aten::detach_", alias },
    { "aten::cpu", alias }, { "aten::cuda", alias }, { "aten::requires_grad_", alias }, { "aten::clone", clone },
    { "aten::copy_", copy_ }, { "aten::dropout", dropout }, { "aten::feature_dropout", dropout },
    { "aten::tolist", t_tolist },
    { NULL, NULL },
};
