/* frontend/torchscript/ts_parse.c: recursive-descent parser for TorchScript's
 * serialized Python (contract in ts_ast.h).
 *
 * Python's grammar, restricted to the statements and expressions torch's code printer
 * emits (see ts_ast.h); anything else is a syntax error naming file:line:col. The
 * parser keeps one token of lookahead. Nesting (expressions, blocks, brackets) is
 * bounded by TS_PARSE_MAX_DEPTH so that hostile input cannot exhaust the C stack.
 */
#include "frontend/torchscript/ts_ast.h"

#include <stdio.h>
#include <string.h>

struct parser {
    struct ts_lexer lx;
    struct ts_token tok;  /* current token */
    struct d2_arena *arena;
    const char *file;
    struct d2_error *err;
    uint32_t depth;
    bool failed;
};

const char *ts_op_text(enum ts_op op)
{
    static const char *const text[] = {
        "+", "-", "*", "/", "//", "%", "**", "@", "&", "|", "^", "<<", ">>",
        "==", "!=", "<", "<=", ">", ">=", "is", "is not", "in", "not in", "and", "or",
        "-", "+", "~", "not",
    };
    return (unsigned)op < sizeof text / sizeof text[0] ? text[op] : "?";
}

/* ---- errors and tokens ---- */

/* fmt holds at most one %s, filled with arg. */
static void fail_at(struct parser *p, uint32_t line, uint32_t col, const char *fmt, const char *arg)
{
    char msg[256];
    const char *hole = strstr(fmt, "%s");
    if (p->failed)
        return;
    p->failed = true;
    if (hole)
        snprintf(msg, sizeof msg, "%.*s%s%s", (int)(hole - fmt), fmt, arg ? arg : "", hole + 2);
    else
        snprintf(msg, sizeof msg, "%s", fmt);
    d2_errorf(p->err, D2_ERR_PARSE, "%s:%u:%u: %s", p->file, line, col, msg);
}

static void fail(struct parser *p, const char *fmt, const char *arg)
{
    fail_at(p, p->tok.line, p->tok.col, fmt, arg);
}

static void next(struct parser *p)
{
    if (p->failed) {
        p->tok.kind = TST_EOF;
        return;
    }
    p->tok = ts_lex_next(&p->lx);
    if (p->tok.kind == TST_ERROR)
        fail(p, "%s", p->lx.message);
}

static bool is_op(const struct parser *p, const char *op)
{
    return p->tok.kind == TST_OP && strcmp(p->tok.op, op) == 0;
}

static bool is_kw(const struct parser *p, const char *kw)
{
    size_t n = strlen(kw);
    return p->tok.kind == TST_NAME && p->tok.len == n && memcmp(p->tok.start, kw, n) == 0;
}

static const char *describe(struct parser *p)
{
    static const char *const names[] = { "end of file", "end of line", "indent", "dedent" };
    if (p->tok.kind <= TST_DEDENT)
        return names[p->tok.kind];
    return NULL;
}

static bool expect_op(struct parser *p, const char *op)
{
    if (is_op(p, op)) {
        next(p);
        return true;
    }
    if (!p->failed) {
        char msg[64];
        const char *what = describe(p);
        if (what)
            snprintf(msg, sizeof msg, "expected '%s', found %s", op, what);
        else
            snprintf(msg, sizeof msg, "expected '%s'", op);
        fail(p, "%s", msg);
    }
    return false;
}

static const char *const keywords[] = {
    "def", "class", "if", "elif", "else", "for", "in", "while", "return", "break", "continue", "pass",
    "import", "from", "as", "not", "and", "or", "is", "None", "True", "False", "lambda", "raise",
    "assert", "del", "global", "nonlocal", "with", "try", "except", "finally", "yield",
};

static bool tok_is_keyword(const struct parser *p)
{
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (is_kw(p, keywords[k]))
            return true;
    return false;
}

/* The current NAME token as an arena string, advancing; NULL (error set) otherwise. */
static const char *take_name(struct parser *p, const char *what)
{
    const char *s;
    if (p->tok.kind != TST_NAME || tok_is_keyword(p)) {
        fail(p, "expected %s", what);
        return NULL;
    }
    s = d2_arena_strndup(p->arena, p->tok.start, p->tok.len);
    if (!s)
        fail(p, "out of memory", NULL);
    next(p);
    return s;
}

static void *alloc(struct parser *p, size_t size)
{
    void *m = d2_arena_alloc(p->arena, size);
    if (!m)
        fail(p, "out of memory", NULL);
    return m;
}

static struct ts_expr *new_expr(struct parser *p, enum ts_expr_kind kind, uint32_t line, uint32_t col)
{
    struct ts_expr *e = alloc(p, sizeof *e);
    if (e) {
        e->kind = kind;
        e->line = line;
        e->col = col;
    }
    return e;
}

/* A growable list of pointers built in heap-free fashion: items are collected into a
 * doubling arena array (old arrays are simply abandoned in the arena). */
struct ptr_list {
    void **items;
    uint32_t count, cap;
};

static bool push(struct parser *p, struct ptr_list *l, void *item)
{
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        void **items;
        if (cap > (1u << 24)) {
            fail(p, "too many items", NULL);
            return false;
        }
        items = alloc(p, sizeof *items * cap);
        if (!items)
            return false;
        if (l->count)
            memcpy(items, l->items, sizeof *items * l->count);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = item;
    return true;
}

static bool enter(struct parser *p)
{
    if (++p->depth > TS_PARSE_MAX_DEPTH) {
        fail(p, "nesting too deep", NULL);
        return false;
    }
    return true;
}

static void leave(struct parser *p) { p->depth--; }

/* ---- expressions ---- */

static struct ts_expr *parse_expr(struct parser *p);
static struct ts_expr *parse_or(struct parser *p);

/* expr (',' expr)* [','] inside a bracket: items until `close`. */
static bool parse_items(struct parser *p, const char *close, struct ts_expr_list *out, bool *trailing_comma)
{
    struct ptr_list l = { 0 };
    *trailing_comma = false;
    while (!p->failed && !is_op(p, close)) {
        struct ts_expr *e = parse_expr(p);
        if (!e || !push(p, &l, e))
            return false;
        *trailing_comma = false;
        if (!is_op(p, ","))
            break;
        next(p);
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
        e = new_expr(p, TSE_INT, line, col);
        if (e)
            e->u.i = p->tok.i;
        next(p);
        return e;
    case TST_FLOAT:
        e = new_expr(p, TSE_FLOAT, line, col);
        if (e)
            e->u.f = p->tok.f;
        next(p);
        return e;
    case TST_STRING: {
        /* Adjacent literals concatenate. */
        const char *data = p->tok.str;
        size_t len = p->tok.str_len;
        next(p);
        while (p->tok.kind == TST_STRING && !p->failed) {
            char *joined = alloc(p, len + p->tok.str_len + 1);
            if (!joined)
                return NULL;
            memcpy(joined, data, len);
            memcpy(joined + len, p->tok.str, p->tok.str_len + 1);
            data = joined;
            len += p->tok.str_len;
            next(p);
        }
        e = new_expr(p, TSE_STR, line, col);
        if (e) {
            e->u.str.data = data;
            e->u.str.len = len;
        }
        return e;
    }
    case TST_NAME:
        if (is_kw(p, "None") || is_kw(p, "True") || is_kw(p, "False")) {
            e = new_expr(p, is_kw(p, "None") ? TSE_NONE : is_kw(p, "True") ? TSE_TRUE : TSE_FALSE, line, col);
            next(p);
            return e;
        }
        e = new_expr(p, TSE_NAME, line, col);
        if (e)
            e->u.name = take_name(p, "an expression");
        return e && e->u.name ? e : NULL;
    case TST_OP:
        if (is_op(p, "(")) {
            struct ts_expr_list items;
            next(p);
            if (!parse_items(p, ")", &items, &trailing) || !expect_op(p, ")"))
                return NULL;
            if (items.count == 1 && !trailing)
                return items.items[0]; /* parenthesized expression */
            e = new_expr(p, TSE_TUPLE, line, col);
            if (e)
                e->u.seq = items;
            return e;
        }
        if (is_op(p, "[")) {
            e = new_expr(p, TSE_LIST, line, col);
            next(p);
            if (!e || !parse_items(p, "]", &e->u.seq, &trailing) || !expect_op(p, "]"))
                return NULL;
            return e;
        }
        if (is_op(p, "{")) {
            struct ptr_list keys = { 0 }, values = { 0 };
            e = new_expr(p, TSE_DICT, line, col);
            next(p);
            while (e && !p->failed && !is_op(p, "}")) {
                struct ts_expr *k = parse_expr(p), *v;
                if (!k || !expect_op(p, ":"))
                    return NULL;
                v = parse_expr(p);
                if (!v || !push(p, &keys, k) || !push(p, &values, v))
                    return NULL;
                if (!is_op(p, ","))
                    break;
                next(p);
            }
            if (!e || !expect_op(p, "}"))
                return NULL;
            e->u.dict.keys.items = (struct ts_expr **)keys.items;
            e->u.dict.keys.count = keys.count;
            e->u.dict.values.items = (struct ts_expr **)values.items;
            e->u.dict.values.count = values.count;
            return e;
        }
        if (is_op(p, "...")) {
            e = new_expr(p, TSE_NAME, line, col);
            if (e)
                e->u.name = "...";
            next(p);
            return e;
        }
        break;
    default:
        break;
    }
    {
        const char *what = describe(p);
        if (what)
            fail(p, "expected an expression, found %s", what);
        else
            fail(p, "expected an expression", NULL);
    }
    return NULL;
}

/* One subscript item: expr, or a slice lo:hi[:step]. */
static struct ts_expr *parse_subscript_item(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    struct ts_expr *lo = NULL, *e;
    if (!is_op(p, ":")) {
        lo = parse_expr(p);
        if (!lo || !is_op(p, ":"))
            return lo;
    }
    e = new_expr(p, TSE_SLICE, line, col);
    if (!e)
        return NULL;
    e->u.slice.lo = lo;
    next(p); /* ':' */
    if (!is_op(p, ":") && !is_op(p, "]") && !is_op(p, ",")) {
        e->u.slice.hi = parse_expr(p);
        if (!e->u.slice.hi)
            return NULL;
    }
    if (is_op(p, ":")) {
        next(p);
        if (!is_op(p, "]") && !is_op(p, ",")) {
            e->u.slice.step = parse_expr(p);
            if (!e->u.slice.step)
                return NULL;
        }
    }
    return e;
}

static struct ts_expr *parse_call(struct parser *p, struct ts_expr *fn)
{
    struct ts_expr *e = new_expr(p, TSE_CALL, fn->line, fn->col);
    struct ptr_list args = { 0 }, kws = { 0 };
    bool seen_keyword = false;
    if (!e)
        return NULL;
    e->u.call.fn = fn;
    next(p); /* '(' */
    while (!p->failed && !is_op(p, ")")) {
        const char *kw = NULL;
        struct ts_expr *arg;
        if (p->tok.kind == TST_NAME && !tok_is_keyword(p)) {
            /* NAME '=' is a keyword argument: look at the byte after the name. */
            size_t after = (size_t)(p->tok.start - p->lx.src) + p->tok.len;
            while (after < p->lx.len && (p->lx.src[after] == ' ' || p->lx.src[after] == '\t'))
                after++;
            if (after < p->lx.len && p->lx.src[after] == '=' && (after + 1 >= p->lx.len || p->lx.src[after + 1] != '=')) {
                kw = take_name(p, "a keyword");
                if (!kw || !expect_op(p, "="))
                    return NULL;
                seen_keyword = true;
            }
        }
        if (!kw && seen_keyword) {
            fail(p, "positional argument follows keyword argument", NULL);
            return NULL;
        }
        arg = parse_expr(p);
        if (!arg || !push(p, &args, arg) || !push(p, &kws, (void *)kw))
            return NULL;
        if (!is_op(p, ","))
            break;
        next(p);
    }
    if (!expect_op(p, ")"))
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
            fail(p, "expression too long", NULL);
            return NULL;
        }
        if (is_op(p, "(")) {
            e = parse_call(p, e);
        } else if (is_op(p, "[")) {
            struct ts_expr *s = new_expr(p, TSE_SUBSCRIPT, e->line, e->col);
            struct ptr_list items = { 0 };
            bool trailing = false;
            if (!s)
                return NULL;
            next(p);
            while (!p->failed && !is_op(p, "]")) {
                struct ts_expr *item = parse_subscript_item(p);
                if (!item || !push(p, &items, item))
                    return NULL;
                trailing = false;
                if (!is_op(p, ","))
                    break;
                next(p);
                trailing = true;
            }
            if (!expect_op(p, "]"))
                return NULL;
            if (items.count == 0) {
                fail(p, "empty subscript", NULL);
                return NULL;
            }
            s->u.sub.base = e;
            if (items.count == 1 && !trailing) {
                s->u.sub.index = items.items[0];
            } else {
                struct ts_expr *t = new_expr(p, TSE_TUPLE, s->line, s->col);
                if (!t)
                    return NULL;
                t->u.seq.items = (struct ts_expr **)items.items;
                t->u.seq.count = items.count;
                s->u.sub.index = t;
            }
            e = s;
        } else if (is_op(p, ".")) {
            struct ts_expr *a = new_expr(p, TSE_ATTR, e->line, e->col);
            next(p);
            if (!a)
                return NULL;
            a->u.attr.base = e;
            /* Attribute names may be keywords in torch's output? They are not; but
             * names like `None` never follow a dot, so plain names suffice. */
            if (p->tok.kind != TST_NAME) {
                fail(p, "expected an attribute name after '.'", NULL);
                return NULL;
            }
            a->u.attr.name = d2_arena_strndup(p->arena, p->tok.start, p->tok.len);
            if (!a->u.attr.name) {
                fail(p, "out of memory", NULL);
                return NULL;
            }
            next(p);
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
    if (base && is_op(p, "**")) {
        struct ts_expr *e = new_expr(p, TSE_BINARY, base->line, base->col);
        next(p);
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
    if (is_op(p, "-"))
        op = TSO_NEG;
    else if (is_op(p, "+"))
        op = TSO_POS;
    else if (is_op(p, "~"))
        op = TSO_INVERT;
    else
        return parse_power(p);
    if (!enter(p))
        return NULL;
    next(p);
    operand = parse_unary(p);
    leave(p);
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
    e = new_expr(p, TSE_UNARY, line, col);
    if (!e)
        return NULL;
    e->u.unary.op = op;
    e->u.unary.operand = operand;
    return e;
}

/* Binary operator levels, loosest first. */
struct binop { const char *text; enum ts_op op; };
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

static struct ts_expr *parse_level(struct parser *p, size_t level)
{
    struct ts_expr *left;
    if (level == NUM_LEVELS)
        return parse_unary(p);
    left = parse_level(p, level + 1);
    while (left && !p->failed && p->tok.kind == TST_OP) {
        const struct binop *b = levels[level];
        while (b->text && strcmp(b->text, p->tok.op) != 0)
            b++;
        if (!b->text)
            break;
        struct ts_expr *e = new_expr(p, TSE_BINARY, left->line, left->col);
        next(p);
        if (!e)
            return NULL;
        e->u.binary.op = b->op;
        e->u.binary.left = left;
        e->u.binary.right = parse_level(p, level + 1);
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
                next(p);
                return true;
            }
        return false;
    }
    if (is_kw(p, "in")) {
        *op = TSO_IN;
        next(p);
        return true;
    }
    if (is_kw(p, "is")) {
        next(p);
        *op = TSO_IS;
        if (is_kw(p, "not")) {
            *op = TSO_ISNOT;
            next(p);
        }
        return true;
    }
    if (is_kw(p, "not")) {
        /* `not in`: only valid when `in` follows */
        size_t after = (size_t)(p->tok.start - p->lx.src) + p->tok.len;
        while (after < p->lx.len && p->lx.src[after] == ' ')
            after++;
        if (after + 2 <= p->lx.len && memcmp(p->lx.src + after, "in", 2) == 0 &&
            (after + 2 == p->lx.len || !((p->lx.src[after + 2] | 0x20) >= 'a' && (p->lx.src[after + 2] | 0x20) <= 'z'))) {
            next(p);
            next(p);
            *op = TSO_NOTIN;
            return true;
        }
    }
    return false;
}

static struct ts_expr *parse_comparison(struct parser *p)
{
    struct ts_expr *left = parse_level(p, 0), *result = NULL;
    enum ts_op op;
    while (left && !p->failed && comparison_op(p, &op)) {
        struct ts_expr *right = parse_level(p, 0), *cmp;
        if (!right)
            return NULL;
        cmp = new_expr(p, TSE_BINARY, left->line, left->col);
        if (!cmp)
            return NULL;
        cmp->u.binary.op = op;
        cmp->u.binary.left = left;
        cmp->u.binary.right = right;
        if (!result) {
            result = cmp;
        } else { /* a < b < c is (a < b) and (b < c) */
            struct ts_expr *both = new_expr(p, TSE_BINARY, result->line, result->col);
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
    if (is_kw(p, "not")) {
        struct ts_expr *e = new_expr(p, TSE_UNARY, p->tok.line, p->tok.col);
        if (!e || !enter(p))
            return NULL;
        next(p);
        e->u.unary.op = TSO_NOT;
        e->u.unary.operand = parse_not(p);
        leave(p);
        return e->u.unary.operand ? e : NULL;
    }
    return parse_comparison(p);
}

static struct ts_expr *parse_bool(struct parser *p, bool is_or)
{
    struct ts_expr *left = is_or ? parse_bool(p, false) : parse_not(p);
    while (left && !p->failed && is_kw(p, is_or ? "or" : "and")) {
        struct ts_expr *e = new_expr(p, TSE_BINARY, left->line, left->col);
        next(p);
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

static struct ts_expr *parse_expr(struct parser *p)
{
    struct ts_expr *e;
    if (!enter(p))
        return NULL;
    e = parse_or(p);
    if (e && is_kw(p, "if")) {
        struct ts_expr *c = new_expr(p, TSE_IFEXP, e->line, e->col);
        next(p);
        if (!c)
            return NULL;
        c->u.ifexp.then = e;
        c->u.ifexp.cond = parse_or(p);
        if (!c->u.ifexp.cond)
            return NULL;
        if (!is_kw(p, "else")) {
            fail(p, "expected 'else' in conditional expression", NULL);
            return NULL;
        }
        next(p);
        c->u.ifexp.orelse = parse_expr(p);
        e = c->u.ifexp.orelse ? c : NULL;
    }
    leave(p);
    return p->failed ? NULL : e;
}

/* expr (',' expr)* [','] at statement level: a tuple when there is a comma. */
static struct ts_expr *parse_exprlist(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    struct ts_expr *first = parse_expr(p);
    struct ptr_list l = { 0 };
    struct ts_expr *t;
    if (!first || !is_op(p, ","))
        return first;
    if (!push(p, &l, first))
        return NULL;
    while (is_op(p, ",") && !p->failed) {
        next(p);
        if (p->tok.kind == TST_NEWLINE || is_op(p, "=") || is_op(p, ")") || is_kw(p, "in") || is_op(p, ":") ||
            p->tok.kind == TST_EOF)
            break;
        struct ts_expr *e = parse_expr(p);
        if (!e || !push(p, &l, e))
            return NULL;
    }
    t = new_expr(p, TSE_TUPLE, line, col);
    if (!t)
        return NULL;
    t->u.seq.items = (struct ts_expr **)l.items;
    t->u.seq.count = l.count;
    return t;
}

/* ---- statements ---- */

static bool parse_block(struct parser *p, struct ts_block *out);
static struct ts_stmt *parse_statement(struct parser *p, struct ptr_list *extra);

static struct ts_stmt *new_stmt(struct parser *p, enum ts_stmt_kind kind, uint32_t line, uint32_t col)
{
    struct ts_stmt *s = alloc(p, sizeof *s);
    if (s) {
        s->kind = kind;
        s->line = line;
        s->col = col;
    }
    return s;
}

static bool valid_target(const struct ts_expr *e)
{
    if (e->kind == TSE_NAME || e->kind == TSE_ATTR || e->kind == TSE_SUBSCRIPT)
        return true;
    if (e->kind == TSE_TUPLE || e->kind == TSE_LIST) {
        for (uint32_t i = 0; i < e->u.seq.count; i++)
            if (!valid_target(e->u.seq.items[i]))
                return false;
        return true;
    }
    return false;
}

static bool end_simple(struct parser *p)
{
    if (p->tok.kind == TST_NEWLINE) {
        next(p);
        return true;
    }
    if (p->tok.kind == TST_EOF || is_op(p, ";"))
        return true;
    fail(p, "expected end of line", NULL);
    return false;
}

static struct ts_stmt *parse_simple(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    struct ts_stmt *s;
    if (is_kw(p, "pass") || is_kw(p, "break") || is_kw(p, "continue")) {
        s = new_stmt(p, is_kw(p, "pass") ? TSS_PASS : is_kw(p, "break") ? TSS_BREAK : TSS_CONTINUE, line, col);
        next(p);
        return s;
    }
    if (is_kw(p, "return") || is_kw(p, "raise") || is_kw(p, "del")) {
        s = new_stmt(p, is_kw(p, "return") ? TSS_RETURN : is_kw(p, "raise") ? TSS_RAISE : TSS_DEL, line, col);
        next(p);
        if (s && p->tok.kind != TST_NEWLINE && p->tok.kind != TST_EOF && !is_op(p, ";")) {
            s->u.expr = parse_exprlist(p);
            if (!s->u.expr)
                return NULL;
        }
        return s;
    }
    if (is_kw(p, "import") || is_kw(p, "from")) {
        /* Skip the rest of the line: imports have no effect on lowering. */
        s = new_stmt(p, TSS_IMPORT, line, col);
        while (!p->failed && p->tok.kind != TST_NEWLINE && p->tok.kind != TST_EOF && !is_op(p, ";"))
            next(p);
        return s;
    }
    if (is_kw(p, "assert")) {
        s = new_stmt(p, TSS_ASSERT, line, col);
        next(p);
        if (!s || !(s->u.assert_.cond = parse_expr(p)))
            return NULL;
        if (is_op(p, ",")) {
            next(p);
            if (!(s->u.assert_.msg = parse_expr(p)))
                return NULL;
        }
        return s;
    }
    if (tok_is_keyword(p) && !is_kw(p, "not") && !is_kw(p, "None") && !is_kw(p, "True") && !is_kw(p, "False")) {
        char word[32];
        snprintf(word, sizeof word, "%.*s", (int)(p->tok.len < 31 ? p->tok.len : 31), p->tok.start);
        fail(p, "unsupported statement '%s'", word);
        return NULL;
    }
    struct ts_expr *target = parse_exprlist(p);
    if (!target)
        return NULL;
    if (is_op(p, ":")) { /* name : type [= value] */
        s = new_stmt(p, TSS_ANN, line, col);
        next(p);
        if (!s || !valid_target(target) || target->kind == TSE_TUPLE) {
            fail_at(p, line, col, "invalid annotation target", NULL);
            return NULL;
        }
        s->u.ann.target = target;
        if (!(s->u.ann.type = parse_expr(p)))
            return NULL;
        if (is_op(p, "=")) {
            next(p);
            if (!(s->u.ann.value = parse_exprlist(p)))
                return NULL;
        }
        return s;
    }
    if (is_op(p, "=")) {
        s = new_stmt(p, TSS_ASSIGN, line, col);
        next(p);
        if (!s)
            return NULL;
        if (!valid_target(target)) {
            fail_at(p, line, col, "cannot assign to this expression", NULL);
            return NULL;
        }
        s->u.assign.target = target;
        if (!(s->u.assign.value = parse_exprlist(p)))
            return NULL;
        if (is_op(p, "=")) {
            fail(p, "chained assignment is not supported", NULL);
            return NULL;
        }
        return s;
    }
    if (p->tok.kind == TST_OP && strlen(p->tok.op) >= 2 && p->tok.op[strlen(p->tok.op) - 1] == '=' &&
        strcmp(p->tok.op, "==") != 0 && strcmp(p->tok.op, "!=") != 0 && strcmp(p->tok.op, "<=") != 0 &&
        strcmp(p->tok.op, ">=") != 0) {
        static const struct binop aug[] = {
            { "+=", TSO_ADD }, { "-=", TSO_SUB }, { "*=", TSO_MUL }, { "/=", TSO_DIV }, { "//=", TSO_FLOORDIV },
            { "%=", TSO_MOD }, { "**=", TSO_POW }, { "&=", TSO_BITAND }, { "|=", TSO_BITOR }, { "^=", TSO_BITXOR },
            { "<<=", TSO_LSHIFT }, { ">>=", TSO_RSHIFT }, { "@=", TSO_MATMUL },
        };
        for (size_t k = 0; k < sizeof aug / sizeof aug[0]; k++) {
            if (strcmp(aug[k].text, p->tok.op) != 0)
                continue;
            s = new_stmt(p, TSS_AUGASSIGN, line, col);
            next(p);
            if (!s)
                return NULL;
            if (!valid_target(target) || target->kind == TSE_TUPLE) {
                fail_at(p, line, col, "invalid augmented assignment target", NULL);
                return NULL;
            }
            s->u.aug.op = aug[k].op;
            s->u.aug.target = target;
            if (!(s->u.aug.value = parse_exprlist(p)))
                return NULL;
            return s;
        }
    }
    s = new_stmt(p, TSS_EXPR, line, col);
    if (s)
        s->u.expr = target;
    return s;
}

static bool parse_params(struct parser *p, struct ts_def *def)
{
    struct ptr_list l = { 0 };
    if (!expect_op(p, "("))
        return false;
    while (!p->failed && !is_op(p, ")")) {
        struct ts_param *param = alloc(p, sizeof *param);
        if (!param)
            return false;
        if (is_op(p, "*")) { /* keyword-only marker: parameters after it are still named */
            next(p);
            if (!is_op(p, ","))
                break;
            next(p);
            continue;
        }
        if (!(param->name = take_name(p, "a parameter name")))
            return false;
        if (is_op(p, ":")) {
            next(p);
            if (!(param->type = parse_expr(p)))
                return false;
        }
        if (is_op(p, "=")) {
            next(p);
            if (!(param->default_ = parse_expr(p)))
                return false;
        }
        if (!push(p, &l, param))
            return false;
        if (!is_op(p, ","))
            break;
        next(p);
    }
    if (!expect_op(p, ")"))
        return false;
    def->num_params = l.count;
    def->params = alloc(p, sizeof *def->params * (l.count ? l.count : 1));
    if (!def->params)
        return false;
    for (uint32_t i = 0; i < l.count; i++)
        def->params[i] = *(struct ts_param *)l.items[i];
    return true;
}

static struct ts_stmt *parse_compound(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    struct ts_stmt *s = NULL;
    if (is_kw(p, "if") || is_kw(p, "elif")) {
        s = new_stmt(p, TSS_IF, line, col);
        next(p);
        if (!s || !(s->u.if_.cond = parse_expr(p)) || !parse_block(p, &s->u.if_.then))
            return NULL;
        if (is_kw(p, "elif")) {
            struct ts_stmt *nested;
            if (!enter(p))
                return NULL;
            nested = parse_compound(p);
            leave(p);
            if (!nested)
                return NULL;
            s->u.if_.orelse.items = alloc(p, sizeof(struct ts_stmt *));
            if (!s->u.if_.orelse.items)
                return NULL;
            s->u.if_.orelse.items[0] = nested;
            s->u.if_.orelse.count = 1;
        } else if (is_kw(p, "else")) {
            next(p);
            if (!parse_block(p, &s->u.if_.orelse))
                return NULL;
        }
        return s;
    }
    if (is_kw(p, "for")) {
        s = new_stmt(p, TSS_FOR, line, col);
        next(p);
        if (!s)
            return NULL;
        /* The target is a name or a tuple of names: parse below comparisons so that
         * `in` ends it. */
        {
            struct ptr_list l = { 0 };
            uint32_t tl = p->tok.line, tc = p->tok.col;
            for (;;) {
                struct ts_expr *t = parse_level(p, 0);
                if (!t || !push(p, &l, t))
                    return NULL;
                if (!is_op(p, ","))
                    break;
                next(p);
                if (is_kw(p, "in"))
                    break;
            }
            if (l.count == 1) {
                s->u.for_.target = l.items[0];
            } else {
                struct ts_expr *t = new_expr(p, TSE_TUPLE, tl, tc);
                if (!t)
                    return NULL;
                t->u.seq.items = (struct ts_expr **)l.items;
                t->u.seq.count = l.count;
                s->u.for_.target = t;
            }
            if (!valid_target(s->u.for_.target)) {
                fail_at(p, tl, tc, "invalid loop variable", NULL);
                return NULL;
            }
        }
        if (!is_kw(p, "in")) {
            fail(p, "expected 'in'", NULL);
            return NULL;
        }
        next(p);
        if (!(s->u.for_.iter = parse_exprlist(p)) || !parse_block(p, &s->u.for_.body))
            return NULL;
        if (is_kw(p, "else")) {
            fail(p, "for-else is not supported", NULL);
            return NULL;
        }
        return s;
    }
    if (is_kw(p, "with")) {
        s = new_stmt(p, TSS_WITH, line, col);
        next(p);
        if (!s || !(s->u.with_.context = parse_expr(p)))
            return NULL;
        if (is_kw(p, "as")) {
            fail(p, "'with ... as' is not supported", NULL);
            return NULL;
        }
        return parse_block(p, &s->u.with_.body) ? s : NULL;
    }
    if (is_kw(p, "while")) {
        s = new_stmt(p, TSS_WHILE, line, col);
        next(p);
        if (!s || !(s->u.while_.cond = parse_expr(p)) || !parse_block(p, &s->u.while_.body))
            return NULL;
        return s;
    }
    if (is_kw(p, "def")) {
        s = new_stmt(p, TSS_DEF, line, col);
        next(p);
        if (!s || !(s->u.def.name = take_name(p, "a function name")) || !parse_params(p, &s->u.def))
            return NULL;
        if (is_op(p, "->")) {
            next(p);
            if (!(s->u.def.returns = parse_expr(p)))
                return NULL;
        }
        s->u.def.file = p->file;
        s->u.def.line = line;
        return parse_block(p, &s->u.def.body) ? s : NULL;
    }
    if (is_kw(p, "class")) {
        s = new_stmt(p, TSS_CLASS, line, col);
        next(p);
        if (!s || !(s->u.class_.name = take_name(p, "a class name")))
            return NULL;
        if (is_op(p, "(")) {
            bool trailing;
            next(p);
            if (!parse_items(p, ")", &s->u.class_.bases, &trailing) || !expect_op(p, ")"))
                return NULL;
        }
        s->u.class_.file = p->file;
        s->u.class_.line = line;
        return parse_block(p, &s->u.class_.body) ? s : NULL;
    }
    return NULL;
}

static bool is_compound_start(struct parser *p)
{
    return is_kw(p, "if") || is_kw(p, "for") || is_kw(p, "while") || is_kw(p, "def") || is_kw(p, "class") ||
           is_kw(p, "with");
}

/* One statement line. Simple statements separated by ';' beyond the first are
 * appended to `extra`. */
static struct ts_stmt *parse_statement(struct parser *p, struct ptr_list *extra)
{
    struct ts_stmt *s;
    if (is_kw(p, "elif") || is_kw(p, "else")) {
        fail(p, "'%s' without a matching 'if'", is_kw(p, "elif") ? "elif" : "else");
        return NULL;
    }
    if (is_compound_start(p)) {
        if (!enter(p))
            return NULL;
        s = parse_compound(p);
        leave(p);
        return s;
    }
    s = parse_simple(p);
    while (s && !p->failed && is_op(p, ";")) {
        next(p);
        if (p->tok.kind == TST_NEWLINE || p->tok.kind == TST_EOF)
            break;
        struct ts_stmt *more = parse_simple(p);
        if (!more || !push(p, extra, more))
            return NULL;
    }
    if (s && !end_simple(p))
        return NULL;
    return s;
}

static bool parse_statements_until(struct parser *p, enum ts_token_kind end, struct ts_block *out)
{
    struct ptr_list l = { 0 };
    while (!p->failed && p->tok.kind != end && p->tok.kind != TST_EOF) {
        struct ptr_list extra = { 0 };
        struct ts_stmt *s;
        if (p->tok.kind == TST_NEWLINE) {
            next(p);
            continue;
        }
        if (p->tok.kind == TST_INDENT) {
            fail(p, "unexpected indent", NULL);
            return false;
        }
        s = parse_statement(p, &extra);
        if (!s || !push(p, &l, s))
            return false;
        for (uint32_t i = 0; i < extra.count; i++)
            if (!push(p, &l, extra.items[i]))
                return false;
    }
    out->items = (struct ts_stmt **)l.items;
    out->count = l.count;
    return !p->failed;
}

/* ':' then an indented block, or simple statements on the same line. */
static bool parse_block(struct parser *p, struct ts_block *out)
{
    bool ok;
    if (!expect_op(p, ":"))
        return false;
    if (p->tok.kind != TST_NEWLINE) {
        struct ptr_list extra = { 0 };
        struct ts_stmt *s = parse_statement(p, &extra);
        struct ts_stmt **items;
        if (!s)
            return false;
        items = alloc(p, sizeof *items * (extra.count + 1));
        if (!items)
            return false;
        items[0] = s;
        for (uint32_t i = 0; i < extra.count; i++)
            items[i + 1] = extra.items[i];
        out->items = items;
        out->count = extra.count + 1;
        return true;
    }
    next(p);
    if (p->tok.kind != TST_INDENT) {
        fail(p, "expected an indented block", NULL);
        return false;
    }
    next(p);
    if (!enter(p))
        return false;
    ok = parse_statements_until(p, TST_DEDENT, out);
    leave(p);
    if (!ok)
        return false;
    if (p->tok.kind == TST_DEDENT)
        next(p);
    if (out->count == 0) {
        fail(p, "expected an indented block", NULL);
        return false;
    }
    return true;
}

enum d2_status ts_parse_module(const char *text, size_t length, const char *file, struct d2_arena *arena,
                               struct ts_module_ast **out, struct d2_error *err)
{
    struct parser p;
    struct ts_module_ast *m;
    memset(&p, 0, sizeof p);
    *out = NULL;
    p.arena = arena;
    p.err = err;
    p.file = d2_arena_strdup(arena, file ? file : "<source>");
    m = d2_arena_alloc(arena, sizeof *m);
    if (!p.file || !m)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory parsing '%s'", file ? file : "<source>");
    if (!text && length)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "%s: no source text", p.file);
    ts_lexer_init(&p.lx, text ? text : "", length, arena);
    next(&p);
    if (!parse_statements_until(&p, TST_EOF, &m->body)) {
        if (err && err->code == D2_OK)
            d2_errorf(err, D2_ERR_PARSE, "%s: parse error", p.file);
        return err ? err->code : D2_ERR_PARSE;
    }
    m->file = p.file;
    m->op_version_set = -1;
    for (uint32_t i = 0; i < m->body.count; i++) {
        const struct ts_stmt *s = m->body.items[i];
        if (s->kind == TSS_ASSIGN && s->u.assign.target->kind == TSE_NAME &&
            strcmp(s->u.assign.target->u.name, "op_version_set") == 0 && s->u.assign.value->kind == TSE_INT)
            m->op_version_set = s->u.assign.value->u.i;
    }
    *out = m;
    return D2_OK;
}

const struct ts_class *ts_ast_find_class(const struct ts_module_ast *m, const char *name)
{
    for (uint32_t i = 0; m && i < m->body.count; i++)
        if (m->body.items[i]->kind == TSS_CLASS && strcmp(m->body.items[i]->u.class_.name, name) == 0)
            return &m->body.items[i]->u.class_;
    return NULL;
}

const struct ts_def *ts_ast_find_function(const struct ts_module_ast *m, const char *name)
{
    for (uint32_t i = 0; m && i < m->body.count; i++)
        if (m->body.items[i]->kind == TSS_DEF && strcmp(m->body.items[i]->u.def.name, name) == 0)
            return &m->body.items[i]->u.def;
    return NULL;
}

const struct ts_def *ts_ast_find_method(const struct ts_class *c, const char *name)
{
    for (uint32_t i = 0; c && i < c->body.count; i++)
        if (c->body.items[i]->kind == TSS_DEF && strcmp(c->body.items[i]->u.def.name, name) == 0)
            return &c->body.items[i]->u.def;
    return NULL;
}
