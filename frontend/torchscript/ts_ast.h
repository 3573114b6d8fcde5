/* frontend/torchscript/ts_ast.h: the syntax tree of TorchScript's serialized source
 * (the .py files under code/__torch__/ in a torch.jit.save archive), and its parser.
 *
 * The language is the subset of Python that torch's code printer emits:
 *   op_version_set = N / imports / class definitions with typed attribute
 *   declarations (`training : bool`, `__parameters__ = [...]`,
 *   `__annotations__["0"] = T`, `training : Final[bool] = False`) / function and
 *   method definitions with annotated parameters, defaults and return types /
 *   assignments (tuple targets, attribute and subscript targets) / if-elif-else,
 *   for, while, return, break, continue, pass / calls with keyword arguments /
 *   attribute access, subscripts and slices / tuple, list and dict displays /
 *   int, float, string, True, False, None / unary, binary, comparison and boolean
 *   operators, conditional expressions.
 * Type annotations are parsed as ordinary expressions (`List[Optional[Tensor]]` is a
 * subscript of a name), which is what they are in Python.
 *
 * Memory: every node and string lives in the arena passed to ts_parse_module.
 * Errors: one line, "FILE:LINE:COL: message" (D2_ERR_PARSE), where FILE is the name
 * given by the caller (the archive entry). The parser accepts untrusted text: it never
 * reads outside the buffer, nesting is bounded by TS_PARSE_MAX_DEPTH, and memory
 * grows only with the text read.
 */
#ifndef D2_TS_AST_H
#define D2_TS_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* Expressions, blocks and brackets together may nest at most this deep. */
#define TS_PARSE_MAX_DEPTH 200

enum ts_expr_kind {
    TSE_NAME,      /* u.name */
    TSE_INT,       /* u.i */
    TSE_FLOAT,     /* u.f */
    TSE_STR,       /* u.str */
    TSE_TRUE,
    TSE_FALSE,
    TSE_NONE,
    TSE_ATTR,      /* u.attr: base.name */
    TSE_CALL,      /* u.call */
    TSE_SUBSCRIPT, /* u.sub: base[index]; several indices form a TSE_TUPLE index */
    TSE_SLICE,     /* u.slice: lo:hi:step inside a subscript (parts may be NULL) */
    TSE_TUPLE,     /* u.seq */
    TSE_LIST,      /* u.seq */
    TSE_DICT,      /* u.dict */
    TSE_UNARY,     /* u.unary: -x, +x, ~x, not x */
    TSE_BINARY,    /* u.binary: arithmetic, bitwise, comparison, and/or */
    TSE_IFEXP,     /* u.ifexp: a if cond else b */
};

enum ts_op {
    TSO_ADD, TSO_SUB, TSO_MUL, TSO_DIV, TSO_FLOORDIV, TSO_MOD, TSO_POW, TSO_MATMUL,
    TSO_BITAND, TSO_BITOR, TSO_BITXOR, TSO_LSHIFT, TSO_RSHIFT,
    TSO_EQ, TSO_NE, TSO_LT, TSO_LE, TSO_GT, TSO_GE, TSO_IS, TSO_ISNOT, TSO_IN, TSO_NOTIN,
    TSO_AND, TSO_OR,
    TSO_NEG, TSO_POS, TSO_INVERT, TSO_NOT, /* unary */
};
const char *ts_op_text(enum ts_op op); /* "+", "is not", ... */

struct ts_expr;

struct ts_expr_list {
    struct ts_expr **items;
    uint32_t count;
};

struct ts_expr {
    enum ts_expr_kind kind;
    uint32_t line, col; /* 1-based position of the expression's first token */
    union {
        const char *name;
        int64_t i;
        double f;
        struct { const char *data; size_t len; } str;
        struct { struct ts_expr *base; const char *name; } attr;
        struct {
            struct ts_expr *fn;
            struct ts_expr_list args;  /* positional then keyword, in source order */
            const char **keywords;     /* keywords[i]: name of args[i], or NULL if positional */
        } call;
        struct { struct ts_expr *base, *index; } sub;
        struct { struct ts_expr *lo, *hi, *step; } slice;
        struct ts_expr_list seq;
        struct { struct ts_expr_list keys, values; } dict;
        struct { enum ts_op op; struct ts_expr *operand; } unary;
        struct { enum ts_op op; struct ts_expr *left, *right; } binary;
        struct { struct ts_expr *cond, *then, *orelse; } ifexp;
    } u;
};

enum ts_stmt_kind {
    TSS_EXPR,     /* u.expr */
    TSS_ASSIGN,   /* u.assign: targets = value (one target; a tuple target unpacks) */
    TSS_AUGASSIGN,/* u.aug: target op= value */
    TSS_ANN,      /* u.ann: name : type [= value] (class attribute declarations) */
    TSS_IF,       /* u.if_ (elif chains nest in orelse) */
    TSS_FOR,      /* u.for_ */
    TSS_WHILE,    /* u.while_ */
    TSS_RETURN,   /* u.expr (may be NULL) */
    TSS_BREAK,
    TSS_CONTINUE,
    TSS_PASS,
    TSS_DEF,      /* u.def */
    TSS_CLASS,    /* u.class_ */
    TSS_IMPORT,   /* import/from-import: ignored by lowering */
    TSS_RAISE,    /* u.expr (may be NULL) */
    TSS_ASSERT,   /* u.assert_ */
    TSS_DEL,      /* u.expr */
    TSS_WITH,     /* u.with_: with expr: body (torch prints it for no_grad blocks) */
};

struct ts_stmt;

struct ts_block {
    struct ts_stmt **items;
    uint32_t count;
};

struct ts_param {
    const char *name;
    struct ts_expr *type;     /* NULL when unannotated */
    struct ts_expr *default_; /* NULL when none */
};

struct ts_def {
    const char *name;
    struct ts_param *params;
    uint32_t num_params;
    struct ts_expr *returns;  /* NULL when unannotated */
    struct ts_block body;
    const char *file;         /* for errors */
    uint32_t line;
};

struct ts_class {
    const char *name;
    struct ts_expr_list bases;
    struct ts_block body;
    const char *file;
    uint32_t line;
};

struct ts_stmt {
    enum ts_stmt_kind kind;
    uint32_t line, col;
    union {
        struct ts_expr *expr;
        struct { struct ts_expr *target, *value; } assign;
        struct { struct ts_expr *target, *value; enum ts_op op; } aug;
        struct { struct ts_expr *target, *type, *value; } ann; /* value may be NULL */
        struct { struct ts_expr *cond; struct ts_block then, orelse; } if_;
        struct { struct ts_expr *target, *iter; struct ts_block body; } for_;
        struct { struct ts_expr *cond; struct ts_block body; } while_;
        struct { struct ts_expr *cond, *msg; } assert_;
        struct { struct ts_expr *context; struct ts_block body; } with_;
        struct ts_def def;
        struct ts_class class_;
    } u;
};

/* One parsed source file. */
struct ts_module_ast {
    const char *file;       /* the name given to the parser */
    struct ts_block body;   /* top-level statements */
    int64_t op_version_set; /* -1 when absent */
};

/* Parse `length` bytes of source text (NUL bytes are an error). file names the
 * source in error messages and is copied into the arena. */
enum d2_status ts_parse_module(const char *text, size_t length, const char *file, struct d2_arena *arena,
                               struct ts_module_ast **out, struct d2_error *err);

/* Lookups in a parsed module: the class or top-level function of that name, or NULL. */
const struct ts_class *ts_ast_find_class(const struct ts_module_ast *m, const char *name);
const struct ts_def *ts_ast_find_function(const struct ts_module_ast *m, const char *name);
/* A method of a class, or NULL. */
const struct ts_def *ts_ast_find_method(const struct ts_class *c, const char *name);

/* ---- lexer (ts_lex.c), exposed for the parser and its tests ---- */

enum ts_token_kind {
    TST_EOF,
    TST_NEWLINE,
    TST_INDENT,
    TST_DEDENT,
    TST_NAME,   /* identifiers and keywords */
    TST_INT,
    TST_FLOAT,
    TST_STRING,
    TST_OP,     /* punctuation and operators: text in `op` */
    TST_ERROR,  /* lexical error: message in the lexer */
};

struct ts_token {
    enum ts_token_kind kind;
    uint32_t line, col;
    const char *start;      /* in the source */
    size_t len;
    char op[4];             /* TST_OP: "(", "**", "->", "//=", ... */
    int64_t i;              /* TST_INT */
    double f;               /* TST_FLOAT */
    const char *str;        /* TST_STRING: decoded (arena), NUL-terminated */
    size_t str_len;
};

struct ts_lexer {
    const char *src;
    size_t len, pos;
    uint32_t line, col;
    struct d2_arena *arena;
    uint32_t indents[TS_PARSE_MAX_DEPTH + 1]; /* indentation stack */
    uint32_t num_indents;
    uint32_t pending_dedents;
    uint32_t bracket_depth;
    bool at_line_start;
    bool emitted_eof_newline;
    char message[256];      /* set with TST_ERROR */
    uint32_t error_line, error_col;
};

void ts_lexer_init(struct ts_lexer *lx, const char *src, size_t len, struct d2_arena *arena);
/* The next token; TST_ERROR (message in lx->message) at a lexical error, after which
 * the lexer keeps returning TST_ERROR. */
struct ts_token ts_lex_next(struct ts_lexer *lx);

#endif
