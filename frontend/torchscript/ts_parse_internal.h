/* frontend/torchscript/ts_parse_internal.h: what the parser's two files share
 * (ts_parse.c: tokens, errors, statements; ts_parse_expr.c: expressions). */
#ifndef D2_TS_PARSE_INTERNAL_H
#define D2_TS_PARSE_INTERNAL_H

#include "frontend/torchscript/ts_ast.h"

struct parser {
    struct ts_lexer lx;
    struct ts_token tok;  /* current token */
    struct d2_arena *arena;
    const char *file;
    struct d2_error *err;
    uint32_t depth;
    bool failed;
};

/* A growable list of pointers built in heap-free fashion: items are collected into a
 * doubling arena array (old arrays are simply abandoned in the arena). */
struct ptr_list {
    void **items;
    uint32_t count, cap;
};


/* An operator's spelling and meaning. */
struct binop { const char *text; enum ts_op op; };

/* Errors: fmt holds at most one %s, filled with arg; the first error wins. */
void tsp_fail_at(struct parser *p, uint32_t line, uint32_t col, const char *fmt, const char *arg);
void tsp_fail(struct parser *p, const char *fmt, const char *arg);
/* Tokens */
void tsp_next(struct parser *p);
bool tsp_is_op(const struct parser *p, const char *op);
bool tsp_is_kw(const struct parser *p, const char *kw);
const char *tsp_describe(struct parser *p);          /* "end of line", ...; NULL otherwise */
bool tsp_expect_op(struct parser *p, const char *op); /* advances, or fails */
bool tsp_tok_is_keyword(const struct parser *p);
const char *tsp_take_name(struct parser *p, const char *what);
/* Memory and nesting */
void *tsp_alloc(struct parser *p, size_t size);
struct ts_expr *tsp_new_expr(struct parser *p, enum ts_expr_kind kind, uint32_t line, uint32_t col);
bool tsp_push(struct parser *p, struct ptr_list *l, void *item);
bool tsp_enter(struct parser *p);
void tsp_leave(struct parser *p);
/* Expressions (ts_parse_expr.c) */
struct ts_expr *tsp_parse_expr(struct parser *p);
/* expr (',' expr)* [','] inside a bracket, up to `close` (not consumed). */
bool tsp_parse_items(struct parser *p, const char *close, struct ts_expr_list *out, bool *trailing_comma);
/* expr (',' expr)* [','] at statement level: a tuple when there is a comma. */
struct ts_expr *tsp_parse_exprlist(struct parser *p);
/* Binary operators from `level` (0: |) down to unary: stops before comparisons. */
struct ts_expr *tsp_parse_level(struct parser *p, size_t level);

#endif
