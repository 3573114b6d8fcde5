/* frontend/torchscript/ts_parse_expr.c: expressions of TorchScript's serialized
 * Python (grammar in ts_ast.h): atoms and displays, calls with keyword arguments,
 * subscripts and slices, attribute chains, unary/binary/comparison/boolean operators
 * with Python's precedence, conditional expressions. Recursion is bounded through
 * tsp_enter (TS_PARSE_MAX_DEPTH). */
#include "frontend/torchscript/ts_parse_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- expressions ---- */

struct ts_expr *tsp_parse_expr(struct parser *p);
static struct ts_expr *parse_or(struct parser *p);

/* expr (',' expr)* [','] inside a bracket: items until `close`. */
bool tsp_parse_items(struct parser *p, const char *close, struct ts_expr_list *out, bool *trailing_comma)
{
    struct ptr_list l = { 0 };
    *trailing_comma = false;
    while (!p->failed && !tsp_is_op(p, close)) {
        struct ts_expr *e = tsp_parse_expr(p);
        if (!e || !tsp_push(p, &l, e))
            return false;
        *trailing_comma = false;
        if (!tsp_is_op(p, ","))
            break;
        tsp_next(p);
        *trailing_comma = true;
    }
    out->items = (struct ts_expr **)l.items;
    out->count = l.count;
    return !p->failed;
}

static struct ts_expr *parse_atom(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    struct ts_expr *e;
    bool trailing;
    switch (p->tok.kind) {
    case TST_INT:
        e = tsp_new_expr(p, TSE_INT, line, col);
        if (e)
            e->u.i = p->tok.i;
        tsp_next(p);
        return e;
    case TST_FLOAT:
        e = tsp_new_expr(p, TSE_FLOAT, line, col);
        if (e)
            e->u.f = p->tok.f;
        tsp_next(p);
        return e;
    case TST_STRING: {
        /* Adjacent literals concatenate. */
        const char *data = p->tok.str;
        size_t len = p->tok.str_len;
        tsp_next(p);
        while (p->tok.kind == TST_STRING && !p->failed) {
            char *joined = tsp_alloc(p, len + p->tok.str_len + 1);
            if (!joined)
                return NULL;
            memcpy(joined, data, len);
            memcpy(joined + len, p->tok.str, p->tok.str_len + 1);
            data = joined;
            len += p->tok.str_len;
            tsp_next(p);
        }
        e = tsp_new_expr(p, TSE_STR, line, col);
        if (e) {
            e->u.str.data = data;
            e->u.str.len = len;
        }
        return e;
    }
    case TST_NAME:
        if (tsp_is_kw(p, "None") || tsp_is_kw(p, "True") || tsp_is_kw(p, "False")) {
            e = tsp_new_expr(p, tsp_is_kw(p, "None") ? TSE_NONE : tsp_is_kw(p, "True") ? TSE_TRUE : TSE_FALSE, line, col);
            tsp_next(p);
            return e;
        }
        e = tsp_new_expr(p, TSE_NAME, line, col);
        if (e)
            e->u.name = tsp_take_name(p, "an expression");
        return e && e->u.name ? e : NULL;
    case TST_OP:
        if (tsp_is_op(p, "(")) {
            struct ts_expr_list items;
            tsp_next(p);
            if (!tsp_parse_items(p, ")", &items, &trailing) || !tsp_expect_op(p, ")"))
                return NULL;
            if (items.count == 1 && !trailing)
                return items.items[0]; /* parenthesized expression */
            e = tsp_new_expr(p, TSE_TUPLE, line, col);
            if (e)
                e->u.seq = items;
            return e;
        }
        if (tsp_is_op(p, "[")) {
            e = tsp_new_expr(p, TSE_LIST, line, col);
            tsp_next(p);
            if (!e || !tsp_parse_items(p, "]", &e->u.seq, &trailing) || !tsp_expect_op(p, "]"))
                return NULL;
            return e;
        }
        if (tsp_is_op(p, "{")) {
            struct ptr_list keys = { 0 }, values = { 0 };
            e = tsp_new_expr(p, TSE_DICT, line, col);
            tsp_next(p);
            while (e && !p->failed && !tsp_is_op(p, "}")) {
                struct ts_expr *k = tsp_parse_expr(p), *v;
                if (!k || !tsp_expect_op(p, ":"))
                    return NULL;
                v = tsp_parse_expr(p);
                if (!v || !tsp_push(p, &keys, k) || !tsp_push(p, &values, v))
                    return NULL;
                if (!tsp_is_op(p, ","))
                    break;
                tsp_next(p);
            }
            if (!e || !tsp_expect_op(p, "}"))
                return NULL;
            e->u.dict.keys.items = (struct ts_expr **)keys.items;
            e->u.dict.keys.count = keys.count;
            e->u.dict.values.items = (struct ts_expr **)values.items;
            e->u.dict.values.count = values.count;
            return e;
        }
        if (tsp_is_op(p, "...")) {
            e = tsp_new_expr(p, TSE_NAME, line, col);
            if (e)
                e->u.name = "...";
            tsp_next(p);
            return e;
        }
        break;
    default:
        break;
    }
    {
        const char *what = tsp_describe(p);
        if (what)
            tsp_fail(p, "expected an expression, found %s", what);
        else
            tsp_fail(p, "expected an expression", NULL);
    }
    return NULL;
}

/* One subscript item: expr, or a slice lo:hi[:step]. */
static struct ts_expr *parse_subscript_item(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    struct ts_expr *lo = NULL, *e;
    if (!tsp_is_op(p, ":")) {
        lo = tsp_parse_expr(p);
        if (!lo || !tsp_is_op(p, ":"))
            return lo;
    }
    e = tsp_new_expr(p, TSE_SLICE, line, col);
    if (!e)
        return NULL;
    e->u.slice.lo = lo;
    tsp_next(p); /* ':' */
    if (!tsp_is_op(p, ":") && !tsp_is_op(p, "]") && !tsp_is_op(p, ",")) {
        e->u.slice.hi = tsp_parse_expr(p);
        if (!e->u.slice.hi)
            return NULL;
    }
    if (tsp_is_op(p, ":")) {
        tsp_next(p);
        if (!tsp_is_op(p, "]") && !tsp_is_op(p, ",")) {
            e->u.slice.step = tsp_parse_expr(p);
            if (!e->u.slice.step)
                return NULL;
        }
    }
    return e;
}

static struct ts_expr *parse_call(struct parser *p, struct ts_expr *fn)
{
    struct ts_expr *e = tsp_new_expr(p, TSE_CALL, fn->line, fn->col);
    struct ptr_list args = { 0 }, kws = { 0 };
    bool seen_keyword = false;
    if (!e)
        return NULL;
    e->u.call.fn = fn;
    tsp_next(p); /* '(' */
    while (!p->failed && !tsp_is_op(p, ")")) {
        const char *kw = NULL;
        struct ts_expr *arg;
        if (p->tok.kind == TST_NAME && !tsp_tok_is_keyword(p)) {
            /* NAME '=' is a keyword argument: look at the byte after the name. */
            size_t after = (size_t)(p->tok.start - p->lx.src) + p->tok.len;
            while (after < p->lx.len && (p->lx.src[after] == ' ' || p->lx.src[after] == '\t'))
                after++;
            if (after < p->lx.len && p->lx.src[after] == '=' && (after + 1 >= p->lx.len || p->lx.src[after + 1] != '=')) {
                kw = tsp_take_name(p, "a keyword");
                if (!kw || !tsp_expect_op(p, "="))
                    return NULL;
                seen_keyword = true;
            }
        }
        if (!kw && seen_keyword) {
            tsp_fail(p, "positional argument follows keyword argument", NULL);
            return NULL;
        }
        arg = tsp_parse_expr(p);
        if (!arg || !tsp_push(p, &args, arg) || !tsp_push(p, &kws, (void *)kw))
            return NULL;
        if (!tsp_is_op(p, ","))
            break;
        tsp_next(p);
    }
    if (!tsp_expect_op(p, ")"))
        return NULL;
    e->u.call.args.items = (struct ts_expr **)args.items;
    e->u.call.args.count = args.count;
    e->u.call.keywords = (const char **)kws.items;
    return e;
}

static struct ts_expr *parse_postfix(struct parser *p)
{
    struct ts_expr *e = parse_atom(p);
    uint32_t trailers = 0;
    while (e && !p->failed) {
        if (++trailers > 100000) {
            tsp_fail(p, "expression too long", NULL);
            return NULL;
        }
        if (tsp_is_op(p, "(")) {
            e = parse_call(p, e);
        } else if (tsp_is_op(p, "[")) {
            struct ts_expr *s = tsp_new_expr(p, TSE_SUBSCRIPT, e->line, e->col);
            struct ptr_list items = { 0 };
            bool trailing = false;
            if (!s)
                return NULL;
            tsp_next(p);
            while (!p->failed && !tsp_is_op(p, "]")) {
                struct ts_expr *item = parse_subscript_item(p);
                if (!item || !tsp_push(p, &items, item))
                    return NULL;
                trailing = false;
                if (!tsp_is_op(p, ","))
                    break;
                tsp_next(p);
                trailing = true;
            }
            if (!tsp_expect_op(p, "]"))
                return NULL;
            if (items.count == 0) {
                tsp_fail(p, "empty subscript", NULL);
                return NULL;
            }
            s->u.sub.base = e;
            if (items.count == 1 && !trailing) {
                s->u.sub.index = items.items[0];
            } else {
                struct ts_expr *t = tsp_new_expr(p, TSE_TUPLE, s->line, s->col);
                if (!t)
                    return NULL;
                t->u.seq.items = (struct ts_expr **)items.items;
                t->u.seq.count = items.count;
                s->u.sub.index = t;
            }
            e = s;
        } else if (tsp_is_op(p, ".")) {
            struct ts_expr *a = tsp_new_expr(p, TSE_ATTR, e->line, e->col);
            tsp_next(p);
            if (!a)
                return NULL;
            a->u.attr.base = e;
            /* Attribute names may be keywords in torch's output? They are not; but
             * names like `None` never follow a dot, so plain names suffice. */
            if (p->tok.kind != TST_NAME) {
                tsp_fail(p, "expected an attribute name after '.'", NULL);
                return NULL;
            }
            a->u.attr.name = d2_arena_strndup(p->arena, p->tok.start, p->tok.len);
            if (!a->u.attr.name) {
                tsp_fail(p, "out of memory", NULL);
                return NULL;
            }
            tsp_next(p);
            e = a;
        } else {
            break;
        }
    }
    return p->failed ? NULL : e;
}

static struct ts_expr *parse_unary(struct parser *p);

static struct ts_expr *parse_power(struct parser *p)
{
    struct ts_expr *base = parse_postfix(p);
    if (base && tsp_is_op(p, "**")) {
        struct ts_expr *e = tsp_new_expr(p, TSE_BINARY, base->line, base->col);
        tsp_next(p);
        if (!e)
            return NULL;
        e->u.binary.op = TSO_POW;
        e->u.binary.left = base;
        e->u.binary.right = parse_unary(p);
        return e->u.binary.right ? e : NULL;
    }
    return base;
}

static struct ts_expr *parse_unary(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    enum ts_op op;
    struct ts_expr *e, *operand;
    if (tsp_is_op(p, "-"))
        op = TSO_NEG;
    else if (tsp_is_op(p, "+"))
        op = TSO_POS;
    else if (tsp_is_op(p, "~"))
        op = TSO_INVERT;
    else
        return parse_power(p);
    if (!tsp_enter(p))
        return NULL;
    tsp_next(p);
    operand = parse_unary(p);
    tsp_leave(p);
    if (!operand)
        return NULL;
    /* Fold negative literals so that -9223372036854775808 is representable. */
    if (op == TSO_NEG && operand->kind == TSE_INT && operand->line == line) {
        operand->u.i = operand->u.i == INT64_MIN ? INT64_MIN : -operand->u.i;
        operand->col = col;
        return operand;
    }
    if (op == TSO_NEG && operand->kind == TSE_FLOAT) {
        operand->u.f = -operand->u.f;
        operand->col = col;
        return operand;
    }
    e = tsp_new_expr(p, TSE_UNARY, line, col);
    if (!e)
        return NULL;
    e->u.unary.op = op;
    e->u.unary.operand = operand;
    return e;
}

/* Binary operator levels, loosest first. */
static const struct binop level_bitor[] = { { "|", TSO_BITOR }, { NULL, 0 } };
static const struct binop level_bitxor[] = { { "^", TSO_BITXOR }, { NULL, 0 } };
static const struct binop level_bitand[] = { { "&", TSO_BITAND }, { NULL, 0 } };
static const struct binop level_shift[] = { { "<<", TSO_LSHIFT }, { ">>", TSO_RSHIFT }, { NULL, 0 } };
static const struct binop level_arith[] = { { "+", TSO_ADD }, { "-", TSO_SUB }, { NULL, 0 } };
static const struct binop level_term[] = {
    { "*", TSO_MUL }, { "/", TSO_DIV }, { "//", TSO_FLOORDIV }, { "%", TSO_MOD }, { "@", TSO_MATMUL }, { NULL, 0 },
};
static const struct binop *const levels[] = { level_bitor, level_bitxor, level_bitand, level_shift, level_arith, level_term };
#define NUM_LEVELS (sizeof levels / sizeof levels[0])

struct ts_expr *tsp_parse_level(struct parser *p, size_t level)
{
    struct ts_expr *left;
    if (level == NUM_LEVELS)
        return parse_unary(p);
    left = tsp_parse_level(p, level + 1);
    while (left && !p->failed && p->tok.kind == TST_OP) {
        const struct binop *b = levels[level];
        while (b->text && strcmp(b->text, p->tok.op) != 0)
            b++;
        if (!b->text)
            break;
        struct ts_expr *e = tsp_new_expr(p, TSE_BINARY, left->line, left->col);
        tsp_next(p);
        if (!e)
            return NULL;
        e->u.binary.op = b->op;
        e->u.binary.left = left;
        e->u.binary.right = tsp_parse_level(p, level + 1);
        if (!e->u.binary.right)
            return NULL;
        left = e;
    }
    return left;
}

static bool comparison_op(struct parser *p, enum ts_op *op)
{
    static const struct binop ops[] = {
        { "==", TSO_EQ }, { "!=", TSO_NE }, { "<", TSO_LT }, { "<=", TSO_LE }, { ">", TSO_GT }, { ">=", TSO_GE },
    };
    if (p->tok.kind == TST_OP) {
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
            if (strcmp(ops[k].text, p->tok.op) == 0) {
                *op = ops[k].op;
                tsp_next(p);
                return true;
            }
        return false;
    }
    if (tsp_is_kw(p, "in")) {
        *op = TSO_IN;
        tsp_next(p);
        return true;
    }
    if (tsp_is_kw(p, "is")) {
        tsp_next(p);
        *op = TSO_IS;
        if (tsp_is_kw(p, "not")) {
            *op = TSO_ISNOT;
            tsp_next(p);
        }
        return true;
    }
    if (tsp_is_kw(p, "not")) {
        /* `not in`: only valid when `in` follows */
        size_t after = (size_t)(p->tok.start - p->lx.src) + p->tok.len;
        while (after < p->lx.len && p->lx.src[after] == ' ')
            after++;
        if (after + 2 <= p->lx.len && memcmp(p->lx.src + after, "in", 2) == 0 &&
            (after + 2 == p->lx.len || !((p->lx.src[after + 2] | 0x20) >= 'a' && (p->lx.src[after + 2] | 0x20) <= 'z'))) {
            tsp_next(p);
            tsp_next(p);
            *op = TSO_NOTIN;
            return true;
        }
    }
    return false;
}

static struct ts_expr *parse_comparison(struct parser *p)
{
    struct ts_expr *left = tsp_parse_level(p, 0), *result = NULL;
    enum ts_op op;
    while (left && !p->failed && comparison_op(p, &op)) {
        struct ts_expr *right = tsp_parse_level(p, 0), *cmp;
        if (!right)
            return NULL;
        cmp = tsp_new_expr(p, TSE_BINARY, left->line, left->col);
        if (!cmp)
            return NULL;
        cmp->u.binary.op = op;
        cmp->u.binary.left = left;
        cmp->u.binary.right = right;
        if (!result) {
            result = cmp;
        } else { /* a < b < c is (a < b) and (b < c) */
            struct ts_expr *both = tsp_new_expr(p, TSE_BINARY, result->line, result->col);
            if (!both)
                return NULL;
            both->u.binary.op = TSO_AND;
            both->u.binary.left = result;
            both->u.binary.right = cmp;
            result = both;
        }
        left = right;
    }
    if (p->failed)
        return NULL;
    return result ? result : left;
}

static struct ts_expr *parse_not(struct parser *p)
{
    if (tsp_is_kw(p, "not")) {
        struct ts_expr *e = tsp_new_expr(p, TSE_UNARY, p->tok.line, p->tok.col);
        if (!e || !tsp_enter(p))
            return NULL;
        tsp_next(p);
        e->u.unary.op = TSO_NOT;
        e->u.unary.operand = parse_not(p);
        tsp_leave(p);
        return e->u.unary.operand ? e : NULL;
    }
    return parse_comparison(p);
}

static struct ts_expr *parse_bool(struct parser *p, bool is_or)
{
    struct ts_expr *left = is_or ? parse_bool(p, false) : parse_not(p);
    while (left && !p->failed && tsp_is_kw(p, is_or ? "or" : "and")) {
        struct ts_expr *e = tsp_new_expr(p, TSE_BINARY, left->line, left->col);
        tsp_next(p);
        if (!e)
            return NULL;
        e->u.binary.op = is_or ? TSO_OR : TSO_AND;
        e->u.binary.left = left;
        e->u.binary.right = is_or ? parse_bool(p, false) : parse_not(p);
        if (!e->u.binary.right)
            return NULL;
        left = e;
    }
    return left;
}

static struct ts_expr *parse_or(struct parser *p) { return parse_bool(p, true); }

struct ts_expr *tsp_parse_expr(struct parser *p)
{
    struct ts_expr *e;
    if (!tsp_enter(p))
        return NULL;
    e = parse_or(p);
    if (e && tsp_is_kw(p, "if")) {
        struct ts_expr *c = tsp_new_expr(p, TSE_IFEXP, e->line, e->col);
        tsp_next(p);
        if (!c)
            return NULL;
        c->u.ifexp.then = e;
        c->u.ifexp.cond = parse_or(p);
        if (!c->u.ifexp.cond)
            return NULL;
        if (!tsp_is_kw(p, "else")) {
            tsp_fail(p, "expected 'else' in conditional expression", NULL);
            return NULL;
        }
        tsp_next(p);
        c->u.ifexp.orelse = tsp_parse_expr(p);
        e = c->u.ifexp.orelse ? c : NULL;
    }
    tsp_leave(p);
    return p->failed ? NULL : e;
}

/* expr (',' expr)* [','] at statement level: a tuple when there is a comma. */
struct ts_expr *tsp_parse_exprlist(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    struct ts_expr *first = tsp_parse_expr(p);
    struct ptr_list l = { 0 };
    struct ts_expr *t;
    if (!first || !tsp_is_op(p, ","))
        return first;
    if (!tsp_push(p, &l, first))
        return NULL;
    while (tsp_is_op(p, ",") && !p->failed) {
        tsp_next(p);
        if (p->tok.kind == TST_NEWLINE || tsp_is_op(p, "=") || tsp_is_op(p, ")") || tsp_is_kw(p, "in") || tsp_is_op(p, ":") ||
            p->tok.kind == TST_EOF)
            break;
        struct ts_expr *e = tsp_parse_expr(p);
        if (!e || !tsp_push(p, &l, e))
            return NULL;
    }
    t = tsp_new_expr(p, TSE_TUPLE, line, col);
    if (!t)
        return NULL;
    t->u.seq.items = (struct ts_expr **)l.items;
    t->u.seq.count = l.count;
    return t;
}

