/* frontend/torchscript/ts_parse.c: recursive-descent parser for TorchScript's
 * serialized Python (contract in ts_ast.h).
 *
 * Python's grammar, restricted to the statements and expressions torch's code printer
 * emits (see ts_ast.h); anything else is a syntax error naming file:line:col. The
 * parser keeps one token of lookahead. Nesting (expressions, blocks, brackets) is
 * bounded by TS_PARSE_MAX_DEPTH so that hostile input cannot exhaust the C stack.
 */
#include "frontend/torchscript/ts_parse_internal.h"

#include <stdio.h>
#include <string.h>


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
void tsp_fail_at(struct parser *p, uint32_t line, uint32_t col, const char *fmt, const char *arg)
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

void tsp_fail(struct parser *p, const char *fmt, const char *arg)
{
    tsp_fail_at(p, p->tok.line, p->tok.col, fmt, arg);
}

void tsp_next(struct parser *p)
{
    if (p->failed) {
        p->tok.kind = TST_EOF;
        return;
    }
    p->tok = ts_lex_next(&p->lx);
    if (p->tok.kind == TST_ERROR)
        tsp_fail(p, "%s", p->lx.message);
}

bool tsp_is_op(const struct parser *p, const char *op)
{
    return p->tok.kind == TST_OP && strcmp(p->tok.op, op) == 0;
}

bool tsp_is_kw(const struct parser *p, const char *kw)
{
    size_t n = strlen(kw);
    return p->tok.kind == TST_NAME && p->tok.len == n && memcmp(p->tok.start, kw, n) == 0;
}

const char *tsp_describe(struct parser *p)
{
    static const char *const names[] = { "end of file", "end of line", "indent", "dedent" };
    if (p->tok.kind <= TST_DEDENT)
        return names[p->tok.kind];
    return NULL;
}

bool tsp_expect_op(struct parser *p, const char *op)
{
    if (tsp_is_op(p, op)) {
        tsp_next(p);
        return true;
    }
    if (!p->failed) {
        char msg[64];
        const char *what = tsp_describe(p);
        if (what)
            snprintf(msg, sizeof msg, "expected '%s', found %s", op, what);
        else
            snprintf(msg, sizeof msg, "expected '%s'", op);
        tsp_fail(p, "%s", msg);
    }
    return false;
}

static const char *const keywords[] = {
    "def", "class", "if", "elif", "else", "for", "in", "while", "return", "break", "continue", "pass",
    "import", "from", "as", "not", "and", "or", "is", "None", "True", "False", "lambda", "raise",
    "assert", "del", "global", "nonlocal", "with", "try", "except", "finally", "yield",
};

bool tsp_tok_is_keyword(const struct parser *p)
{
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (tsp_is_kw(p, keywords[k]))
            return true;
    return false;
}

/* The current NAME token as an arena string, advancing; NULL (error set) otherwise. */
const char *tsp_take_name(struct parser *p, const char *what)
{
    const char *s;
    if (p->tok.kind != TST_NAME || tsp_tok_is_keyword(p)) {
        tsp_fail(p, "expected %s", what);
        return NULL;
    }
    s = d2_arena_strndup(p->arena, p->tok.start, p->tok.len);
    if (!s)
        tsp_fail(p, "out of memory", NULL);
    tsp_next(p);
    return s;
}

void *tsp_alloc(struct parser *p, size_t size)
{
    void *m = d2_arena_alloc(p->arena, size);
    if (!m)
        tsp_fail(p, "out of memory", NULL);
    return m;
}

struct ts_expr *tsp_new_expr(struct parser *p, enum ts_expr_kind kind, uint32_t line, uint32_t col)
{
    struct ts_expr *e = tsp_alloc(p, sizeof *e);
    if (e) {
        e->kind = kind;
        e->line = line;
        e->col = col;
    }
    return e;
}


bool tsp_push(struct parser *p, struct ptr_list *l, void *item)
{
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        void **items;
        if (cap > (1u << 24)) {
            tsp_fail(p, "too many items", NULL);
            return false;
        }
        items = tsp_alloc(p, sizeof *items * cap);
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

bool tsp_enter(struct parser *p)
{
    if (++p->depth > TS_PARSE_MAX_DEPTH) {
        tsp_fail(p, "nesting too deep", NULL);
        return false;
    }
    return true;
}

void tsp_leave(struct parser *p) { p->depth--; }

/* ---- statements (expressions: ts_parse_expr.c) ---- */

static bool parse_block(struct parser *p, struct ts_block *out);
static struct ts_stmt *parse_statement(struct parser *p, struct ptr_list *extra);

static struct ts_stmt *new_stmt(struct parser *p, enum ts_stmt_kind kind, uint32_t line, uint32_t col)
{
    struct ts_stmt *s = tsp_alloc(p, sizeof *s);
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
        tsp_next(p);
        return true;
    }
    if (p->tok.kind == TST_EOF || tsp_is_op(p, ";"))
        return true;
    tsp_fail(p, "expected end of line", NULL);
    return false;
}

static struct ts_stmt *parse_simple(struct parser *p)
{
    uint32_t line = p->tok.line, col = p->tok.col;
    struct ts_stmt *s;
    if (tsp_is_kw(p, "pass") || tsp_is_kw(p, "break") || tsp_is_kw(p, "continue")) {
        s = new_stmt(p, tsp_is_kw(p, "pass") ? TSS_PASS : tsp_is_kw(p, "break") ? TSS_BREAK : TSS_CONTINUE, line, col);
        tsp_next(p);
        return s;
    }
    if (tsp_is_kw(p, "return") || tsp_is_kw(p, "raise") || tsp_is_kw(p, "del")) {
        s = new_stmt(p, tsp_is_kw(p, "return") ? TSS_RETURN : tsp_is_kw(p, "raise") ? TSS_RAISE : TSS_DEL, line, col);
        tsp_next(p);
        if (s && p->tok.kind != TST_NEWLINE && p->tok.kind != TST_EOF && !tsp_is_op(p, ";")) {
            s->u.expr = tsp_parse_exprlist(p);
            if (!s->u.expr)
                return NULL;
        }
        return s;
    }
    if (tsp_is_kw(p, "import") || tsp_is_kw(p, "from")) {
        /* Skip the rest of the line: imports have no effect on lowering. */
        s = new_stmt(p, TSS_IMPORT, line, col);
        while (!p->failed && p->tok.kind != TST_NEWLINE && p->tok.kind != TST_EOF && !tsp_is_op(p, ";"))
            tsp_next(p);
        return s;
    }
    if (tsp_is_kw(p, "assert")) {
        s = new_stmt(p, TSS_ASSERT, line, col);
        tsp_next(p);
        if (!s || !(s->u.assert_.cond = tsp_parse_expr(p)))
            return NULL;
        if (tsp_is_op(p, ",")) {
            tsp_next(p);
            if (!(s->u.assert_.msg = tsp_parse_expr(p)))
                return NULL;
        }
        return s;
    }
    if (tsp_tok_is_keyword(p) && !tsp_is_kw(p, "not") && !tsp_is_kw(p, "None") && !tsp_is_kw(p, "True") && !tsp_is_kw(p, "False")) {
        char word[32];
        snprintf(word, sizeof word, "%.*s", (int)(p->tok.len < 31 ? p->tok.len : 31), p->tok.start);
        tsp_fail(p, "unsupported statement '%s'", word);
        return NULL;
    }
    struct ts_expr *target = tsp_parse_exprlist(p);
    if (!target)
        return NULL;
    if (tsp_is_op(p, ":")) { /* name : type [= value] */
        s = new_stmt(p, TSS_ANN, line, col);
        tsp_next(p);
        if (!s || !valid_target(target) || target->kind == TSE_TUPLE) {
            tsp_fail_at(p, line, col, "invalid annotation target", NULL);
            return NULL;
        }
        s->u.ann.target = target;
        if (!(s->u.ann.type = tsp_parse_expr(p)))
            return NULL;
        if (tsp_is_op(p, "=")) {
            tsp_next(p);
            if (!(s->u.ann.value = tsp_parse_exprlist(p)))
                return NULL;
        }
        return s;
    }
    if (tsp_is_op(p, "=")) {
        s = new_stmt(p, TSS_ASSIGN, line, col);
        tsp_next(p);
        if (!s)
            return NULL;
        if (!valid_target(target)) {
            tsp_fail_at(p, line, col, "cannot assign to this expression", NULL);
            return NULL;
        }
        s->u.assign.target = target;
        if (!(s->u.assign.value = tsp_parse_exprlist(p)))
            return NULL;
        if (tsp_is_op(p, "=")) {
            tsp_fail(p, "chained assignment is not supported", NULL);
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
            tsp_next(p);
            if (!s)
                return NULL;
            if (!valid_target(target) || target->kind == TSE_TUPLE) {
                tsp_fail_at(p, line, col, "invalid augmented assignment target", NULL);
                return NULL;
            }
            s->u.aug.op = aug[k].op;
            s->u.aug.target = target;
            if (!(s->u.aug.value = tsp_parse_exprlist(p)))
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
    if (!tsp_expect_op(p, "("))
        return false;
    while (!p->failed && !tsp_is_op(p, ")")) {
        struct ts_param *param = tsp_alloc(p, sizeof *param);
        if (!param)
            return false;
        if (tsp_is_op(p, "*")) { /* keyword-only marker: parameters after it are still named */
            tsp_next(p);
            if (!tsp_is_op(p, ","))
                break;
            tsp_next(p);
            continue;
        }
        if (!(param->name = tsp_take_name(p, "a parameter name")))
            return false;
        if (tsp_is_op(p, ":")) {
            tsp_next(p);
            if (!(param->type = tsp_parse_expr(p)))
                return false;
        }
        if (tsp_is_op(p, "=")) {
            tsp_next(p);
            if (!(param->default_ = tsp_parse_expr(p)))
                return false;
        }
        if (!tsp_push(p, &l, param))
            return false;
        if (!tsp_is_op(p, ","))
            break;
        tsp_next(p);
    }
    if (!tsp_expect_op(p, ")"))
        return false;
    def->num_params = l.count;
    def->params = tsp_alloc(p, sizeof *def->params * (l.count ? l.count : 1));
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
    if (tsp_is_kw(p, "if") || tsp_is_kw(p, "elif")) {
        s = new_stmt(p, TSS_IF, line, col);
        tsp_next(p);
        if (!s || !(s->u.if_.cond = tsp_parse_expr(p)) || !parse_block(p, &s->u.if_.then))
            return NULL;
        if (tsp_is_kw(p, "elif")) {
            struct ts_stmt *nested;
            if (!tsp_enter(p))
                return NULL;
            nested = parse_compound(p);
            tsp_leave(p);
            if (!nested)
                return NULL;
            s->u.if_.orelse.items = tsp_alloc(p, sizeof(struct ts_stmt *));
            if (!s->u.if_.orelse.items)
                return NULL;
            s->u.if_.orelse.items[0] = nested;
            s->u.if_.orelse.count = 1;
        } else if (tsp_is_kw(p, "else")) {
            tsp_next(p);
            if (!parse_block(p, &s->u.if_.orelse))
                return NULL;
        }
        return s;
    }
    if (tsp_is_kw(p, "for")) {
        s = new_stmt(p, TSS_FOR, line, col);
        tsp_next(p);
        if (!s)
            return NULL;
        /* The target is a name or a tuple of names: parse below comparisons so that
         * `in` ends it. */
        {
            struct ptr_list l = { 0 };
            uint32_t tl = p->tok.line, tc = p->tok.col;
            for (;;) {
                struct ts_expr *t = tsp_parse_level(p, 0);
                if (!t || !tsp_push(p, &l, t))
                    return NULL;
                if (!tsp_is_op(p, ","))
                    break;
                tsp_next(p);
                if (tsp_is_kw(p, "in"))
                    break;
            }
            if (l.count == 1) {
                s->u.for_.target = l.items[0];
            } else {
                struct ts_expr *t = tsp_new_expr(p, TSE_TUPLE, tl, tc);
                if (!t)
                    return NULL;
                t->u.seq.items = (struct ts_expr **)l.items;
                t->u.seq.count = l.count;
                s->u.for_.target = t;
            }
            if (!valid_target(s->u.for_.target)) {
                tsp_fail_at(p, tl, tc, "invalid loop variable", NULL);
                return NULL;
            }
        }
        if (!tsp_is_kw(p, "in")) {
            tsp_fail(p, "expected 'in'", NULL);
            return NULL;
        }
        tsp_next(p);
        if (!(s->u.for_.iter = tsp_parse_exprlist(p)) || !parse_block(p, &s->u.for_.body))
            return NULL;
        if (tsp_is_kw(p, "else")) {
            tsp_fail(p, "for-else is not supported", NULL);
            return NULL;
        }
        return s;
    }
    if (tsp_is_kw(p, "with")) {
        s = new_stmt(p, TSS_WITH, line, col);
        tsp_next(p);
        if (!s || !(s->u.with_.context = tsp_parse_expr(p)))
            return NULL;
        if (tsp_is_kw(p, "as")) {
            tsp_fail(p, "'with ... as' is not supported", NULL);
            return NULL;
        }
        return parse_block(p, &s->u.with_.body) ? s : NULL;
    }
    if (tsp_is_kw(p, "while")) {
        s = new_stmt(p, TSS_WHILE, line, col);
        tsp_next(p);
        if (!s || !(s->u.while_.cond = tsp_parse_expr(p)) || !parse_block(p, &s->u.while_.body))
            return NULL;
        return s;
    }
    if (tsp_is_kw(p, "def")) {
        s = new_stmt(p, TSS_DEF, line, col);
        tsp_next(p);
        if (!s || !(s->u.def.name = tsp_take_name(p, "a function name")) || !parse_params(p, &s->u.def))
            return NULL;
        if (tsp_is_op(p, "->")) {
            tsp_next(p);
            if (!(s->u.def.returns = tsp_parse_expr(p)))
                return NULL;
        }
        s->u.def.file = p->file;
        s->u.def.line = line;
        return parse_block(p, &s->u.def.body) ? s : NULL;
    }
    if (tsp_is_kw(p, "class")) {
        s = new_stmt(p, TSS_CLASS, line, col);
        tsp_next(p);
        if (!s || !(s->u.class_.name = tsp_take_name(p, "a class name")))
            return NULL;
        if (tsp_is_op(p, "(")) {
            bool trailing;
            tsp_next(p);
            if (!tsp_parse_items(p, ")", &s->u.class_.bases, &trailing) || !tsp_expect_op(p, ")"))
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
    return tsp_is_kw(p, "if") || tsp_is_kw(p, "for") || tsp_is_kw(p, "while") || tsp_is_kw(p, "def") || tsp_is_kw(p, "class") ||
           tsp_is_kw(p, "with");
}

/* One statement line. Simple statements separated by ';' beyond the first are
 * appended to `extra`. */
static struct ts_stmt *parse_statement(struct parser *p, struct ptr_list *extra)
{
    struct ts_stmt *s;
    if (tsp_is_kw(p, "elif") || tsp_is_kw(p, "else")) {
        tsp_fail(p, "'%s' without a matching 'if'", tsp_is_kw(p, "elif") ? "elif" : "else");
        return NULL;
    }
    if (is_compound_start(p)) {
        if (!tsp_enter(p))
            return NULL;
        s = parse_compound(p);
        tsp_leave(p);
        return s;
    }
    s = parse_simple(p);
    while (s && !p->failed && tsp_is_op(p, ";")) {
        tsp_next(p);
        if (p->tok.kind == TST_NEWLINE || p->tok.kind == TST_EOF)
            break;
        struct ts_stmt *more = parse_simple(p);
        if (!more || !tsp_push(p, extra, more))
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
            tsp_next(p);
            continue;
        }
        if (p->tok.kind == TST_INDENT) {
            tsp_fail(p, "unexpected indent", NULL);
            return false;
        }
        s = parse_statement(p, &extra);
        if (!s || !tsp_push(p, &l, s))
            return false;
        for (uint32_t i = 0; i < extra.count; i++)
            if (!tsp_push(p, &l, extra.items[i]))
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
    if (!tsp_expect_op(p, ":"))
        return false;
    if (p->tok.kind != TST_NEWLINE) {
        struct ptr_list extra = { 0 };
        struct ts_stmt *s = parse_statement(p, &extra);
        struct ts_stmt **items;
        if (!s)
            return false;
        items = tsp_alloc(p, sizeof *items * (extra.count + 1));
        if (!items)
            return false;
        items[0] = s;
        for (uint32_t i = 0; i < extra.count; i++)
            items[i + 1] = extra.items[i];
        out->items = items;
        out->count = extra.count + 1;
        return true;
    }
    tsp_next(p);
    if (p->tok.kind != TST_INDENT) {
        tsp_fail(p, "expected an indented block", NULL);
        return false;
    }
    tsp_next(p);
    if (!tsp_enter(p))
        return false;
    ok = parse_statements_until(p, TST_DEDENT, out);
    tsp_leave(p);
    if (!ok)
        return false;
    if (p->tok.kind == TST_DEDENT)
        tsp_next(p);
    if (out->count == 0) {
        tsp_fail(p, "expected an indented block", NULL);
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
    tsp_next(&p);
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
