/* ir/parse.c: the IR text form's parser (d2_parse_graph). Grammar: docs/IR.md
 * "Text form"; ir/print.c writes it.
 *
 *   file    := meta* graph EOF
 *   meta    := 'meta' STRING '=' STRING
 *   graph   := 'graph' WORD '(' [param {',' param}] ')' '{' stmt* 'return' [ref {',' ref}] '}'
 *   param   := VALUE [':' type]
 *   stmt    := VALUE [':' type] {',' VALUE [':' type]} '=' (const | node)  |  node
 *   const   := 'const' '[' [number {',' number}] ']'
 *   node    := WORD ['@' NAME] '(' [ref {',' ref}] ')' ['{' [attr {',' attr}] '}'] ['{' graph* '}']
 *   ref     := VALUE | '_'
 *
 * Contract: the parser accepts untrusted text (it is fuzzed). It never crashes, every
 * error names line:column, nesting depth is capped, and nothing is allocated beyond
 * a small multiple of the input size (a constant's storage is sized by the elements
 * actually written, and must match its declared static type). Types are stored as
 * written; results without a type stay unknown. The parser does not run shape
 * inference or the verifier: callers do (d2_infer_graph, d2_verify_graph).
 */
#include "ir.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REGION_DEPTH 32
#define MAX_NUMBER_LENGTH 400

/* ---- tokens ------------------------------------------------------------------ */

enum token_kind {
    TOK_EOF,
    TOK_WORD,     /* [A-Za-z_][A-Za-z0-9_]*: keywords, ops, dtypes, enum values */
    TOK_NUMBER,   /* starts with a digit, '-', '+' or '.'; validated when used */
    TOK_STRING,   /* "..." with C escapes; text excludes the quotes */
    TOK_VALUE,    /* %name or %"name"; text is the name part */
    TOK_AT_NAME,  /* @name or @"name" */
    TOK_QUESTION, /* ?, ?name or ?"name" (an unknown dim or dtype) */
    TOK_LE,       /* <= */
    TOK_PUNCT,    /* one of ( ) { } [ ] , = : * < */
    TOK_INVALID,
};

struct token {
    enum token_kind kind;
    const char *text;  /* raw text (for names: without the sigil) */
    size_t length;
    bool quoted;       /* names: text is a quoted string with escapes */
    bool unterminated; /* INVALID: a quoted string without its closing quote */
    unsigned line, column;
};

struct lexer_state {
    size_t pos;
    unsigned line, column;
};

/* One entry of a per-graph name → value map (open addressing, linear probing). */
struct name_table {
    d2_value_id *slots; /* D2_NO_VALUE when empty */
    uint32_t capacity, count;
};

struct parser {
    const char *text;
    size_t length;
    const struct d2_allocator *alloc;
    struct d2_error *err;
    struct lexer_state state; /* just after `tok` */
    struct token tok;         /* current token */
    char *scratch;            /* decoded names/strings; grown as needed */
    size_t scratch_capacity;
};

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '-';
}

static bool is_word_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_word_char(char c)
{
    return is_word_start(c) || (c >= '0' && c <= '9');
}

static void advance_char(const struct parser *p, struct lexer_state *s)
{
    if (p->text[s->pos] == '\n') {
        s->line++;
        s->column = 1;
    } else {
        s->column++;
    }
    s->pos++;
}

/* Scan a quoted string starting at the opening quote; leaves s after the closing one.
 * Returns false (token INVALID) when it is unterminated. Escapes are checked later. */
static bool scan_quoted(const struct parser *p, struct lexer_state *s)
{
    advance_char(p, s);
    while (s->pos < p->length && p->text[s->pos] != '"' && p->text[s->pos] != '\n') {
        if (p->text[s->pos] == '\\' && s->pos + 1 < p->length && p->text[s->pos + 1] != '\n')
            advance_char(p, s);
        advance_char(p, s);
    }
    if (s->pos >= p->length || p->text[s->pos] != '"')
        return false;
    advance_char(p, s);
    return true;
}

/* A name after a sigil (% @ ?): bare [A-Za-z0-9_.:/-]+ without a trailing ':', or quoted. */
static void scan_name(const struct parser *p, struct lexer_state *s, struct token *t)
{
    size_t start = s->pos;
    if (s->pos < p->length && p->text[s->pos] == '"') {
        t->quoted = true;
        if (!scan_quoted(p, s)) {
            t->kind = TOK_INVALID;
            t->unterminated = true;
            t->text = p->text + start;
            t->length = 1;
            return;
        }
        t->text = p->text + start + 1;
        t->length = s->pos - start - 2;
        return;
    }
    while (s->pos < p->length && is_name_char(p->text[s->pos]))
        s->pos++, s->column++;
    while (s->pos > start && p->text[s->pos - 1] == ':') /* the colon of `%x: type` */
        s->pos--, s->column--;
    t->text = p->text + start;
    t->length = s->pos - start;
}

/* Lex one token from state s (updated to just after it). Pure apart from s, so the
 * parser can look ahead by lexing from a copy. */
static struct token lex(const struct parser *p, struct lexer_state *s)
{
    struct token t;
    char c;
    memset(&t, 0, sizeof t);
    for (;;) { /* whitespace and comments */
        while (s->pos < p->length && (p->text[s->pos] == ' ' || p->text[s->pos] == '\t' ||
                                      p->text[s->pos] == '\r' || p->text[s->pos] == '\n'))
            advance_char(p, s);
        if (s->pos < p->length && p->text[s->pos] == '#') {
            while (s->pos < p->length && p->text[s->pos] != '\n')
                advance_char(p, s);
            continue;
        }
        break;
    }
    t.line = s->line;
    t.column = s->column;
    t.text = p->text + s->pos;
    if (s->pos >= p->length) {
        t.kind = TOK_EOF;
        return t;
    }
    c = p->text[s->pos];
    if (is_word_start(c)) {
        t.kind = TOK_WORD;
        while (s->pos < p->length && is_word_char(p->text[s->pos]))
            advance_char(p, s);
    } else if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
        /* A maximal run of number-ish characters; validated by the number readers. */
        t.kind = TOK_NUMBER;
        advance_char(p, s);
        while (s->pos < p->length && (is_word_char(p->text[s->pos]) || p->text[s->pos] == '.' ||
                                      ((p->text[s->pos] == '-' || p->text[s->pos] == '+') &&
                                       (p->text[s->pos - 1] == 'e' || p->text[s->pos - 1] == 'E'))))
            advance_char(p, s);
    } else if (c == '"') {
        t.quoted = true;
        if (!scan_quoted(p, s)) {
            t.kind = TOK_INVALID;
            t.unterminated = true;
            t.length = 1;
            return t;
        }
        t.kind = TOK_STRING;
        t.text++;
        t.length = s->pos - (size_t)(t.text - p->text) - 1;
        return t;
    } else if (c == '%' || c == '@' || c == '?') {
        t.kind = c == '%' ? TOK_VALUE : c == '@' ? TOK_AT_NAME : TOK_QUESTION;
        advance_char(p, s);
        scan_name(p, s, &t);
        return t;
    } else if (c == '<' && s->pos + 1 < p->length && p->text[s->pos + 1] == '=') {
        t.kind = TOK_LE;
        advance_char(p, s);
        advance_char(p, s);
    } else if (strchr("(){}[],=:*<", c) && c != '\0') {
        t.kind = TOK_PUNCT;
        advance_char(p, s);
    } else {
        t.kind = TOK_INVALID;
        advance_char(p, s);
    }
    t.length = (size_t)(p->text + s->pos - t.text);
    return t;
}

static void next(struct parser *p)
{
    p->tok = lex(p, &p->state);
}

static struct token peek_after_current(const struct parser *p)
{
    struct lexer_state copy = p->state;
    return lex(p, &copy);
}

/* ---- errors -------------------------------------------------------------------- */

static enum d2_status fail_at(struct parser *p, const struct token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum d2_status fail_at(struct parser *p, const struct token *t, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return d2_errorf(p->err, D2_ERR_PARSE, "%u:%u: %s", t->line, t->column, message);
}

/* A short printable description of the current token, for "expected X, got Y". */
static const char *describe(const struct token *t, char *buf, size_t size)
{
    size_t n = t->length < 24 ? t->length : 24;
    if (t->kind == TOK_EOF)
        return "end of input";
    if (t->kind == TOK_INVALID && t->length == 1 && (unsigned char)t->text[0] < 0x20) {
        snprintf(buf, size, "control character 0x%02x", (unsigned char)t->text[0]);
        return buf;
    }
    snprintf(buf, size, "'");
    for (size_t i = 0; i < n; i++) {
        char c = t->text[i];
        size_t len = strlen(buf);
        if (len + 2 >= size)
            break;
        buf[len] = (c >= 0x20 && c < 0x7f) ? c : '?';
        buf[len + 1] = '\0';
    }
    if (strlen(buf) + 5 < size)
        strcat(buf, t->length > n ? "...'" : "'");
    return buf;
}

static enum d2_status expected(struct parser *p, const char *what)
{
    char buf[64];
    if (p->tok.unterminated)
        return fail_at(p, &p->tok, "unterminated string");
    return fail_at(p, &p->tok, "expected %s, got %s", what, describe(&p->tok, buf, sizeof buf));
}

static bool is_punct(const struct parser *p, char c)
{
    return p->tok.kind == TOK_PUNCT && p->tok.text[0] == c;
}

static bool is_word(const struct token *t, const char *word)
{
    return t->kind == TOK_WORD && t->length == strlen(word) && memcmp(t->text, word, t->length) == 0;
}

static enum d2_status expect_punct(struct parser *p, char c)
{
    char what[8] = { '\'', c, '\'', 0 };
    if (!is_punct(p, c))
        return expected(p, what);
    next(p);
    return D2_OK;
}

/* ---- names and strings ------------------------------------------------------ */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a token's name or string text into p->scratch (NUL-terminated). */
static enum d2_status decode_text(struct parser *p, const struct token *t, const char **out)
{
    size_t n = 0;
    if (t->length + 1 > p->scratch_capacity) {
        char *grown = d2_realloc(p->alloc, p->scratch, t->length + 1);
        if (!grown)
            return d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing IR text");
        p->scratch = grown;
        p->scratch_capacity = t->length + 1;
    }
    for (size_t i = 0; i < t->length; i++) {
        char c = t->text[i];
        if (c == '\0' || (t->quoted && (unsigned char)c < 0x20 && c != '\t'))
            return fail_at(p, t, "control character in a string (use an escape)");
        if (!t->quoted || c != '\\') {
            p->scratch[n++] = c;
            continue;
        }
        c = t->text[++i]; /* the lexer guarantees a character after a backslash */
        switch (c) {
        case 'n': p->scratch[n++] = '\n'; break;
        case 't': p->scratch[n++] = '\t'; break;
        case 'r': p->scratch[n++] = '\r'; break;
        case '"': case '\\': p->scratch[n++] = c; break;
        case 'x': {
            int hi = i + 1 < t->length ? hex_digit(t->text[i + 1]) : -1;
            int lo = i + 2 < t->length ? hex_digit(t->text[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return fail_at(p, t, "bad \\x escape (two hex digits, not 00)");
            p->scratch[n++] = (char)(hi * 16 + lo);
            i += 2;
            break;
        }
        default:
            return fail_at(p, t, "unknown escape '\\%c'", (c >= 0x20 && c < 0x7f) ? c : '?');
        }
    }
    p->scratch[n] = '\0';
    *out = p->scratch;
    return D2_OK;
}

static enum d2_status intern_text(struct parser *p, struct d2_graph *g, const struct token *t, const char **out)
{
    const char *decoded;
    enum d2_status st = decode_text(p, t, &decoded);
    if (st != D2_OK)
        return st;
    *out = d2_graph_intern(g, decoded);
    return *out ? D2_OK : d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing IR text");
}

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static d2_value_id table_find(const struct name_table *t, const struct d2_graph *g, const char *name)
{
    if (t->capacity == 0)
        return D2_NO_VALUE;
    for (uint32_t i = hash_name(name) & (t->capacity - 1);; i = (i + 1) & (t->capacity - 1)) {
        d2_value_id v = t->slots[i];
        if (v == D2_NO_VALUE || strcmp(g->values[v].name, name) == 0)
            return v;
    }
}

static bool table_insert(struct name_table *t, const struct d2_graph *g, const struct d2_allocator *a,
                         d2_value_id v)
{
    if ((t->count + 1) * 2 > t->capacity) { /* keep the load under 1/2: rehash */
        uint32_t cap = t->capacity ? t->capacity * 2 : 64;
        d2_value_id *slots;
        if (cap > (1u << 30))
            return false;
        slots = d2_alloc(a, sizeof *slots * cap);
        if (!slots)
            return false;
        for (uint32_t i = 0; i < cap; i++)
            slots[i] = D2_NO_VALUE;
        for (uint32_t i = 0; i < t->capacity; i++) {
            if (t->slots[i] == D2_NO_VALUE)
                continue;
            uint32_t j = hash_name(g->values[t->slots[i]].name) & (cap - 1);
            while (slots[j] != D2_NO_VALUE)
                j = (j + 1) & (cap - 1);
            slots[j] = t->slots[i];
        }
        d2_free(a, t->slots);
        t->slots = slots;
        t->capacity = cap;
    }
    uint32_t i = hash_name(g->values[v].name) & (t->capacity - 1);
    while (t->slots[i] != D2_NO_VALUE)
        i = (i + 1) & (t->capacity - 1);
    t->slots[i] = v;
    t->count++;
    return true;
}

/* Everything the parser tracks for the graph (or region) being read. */
struct graph_scope {
    struct d2_graph *g;
    struct name_table names;
};

/* Check that the current VALUE token names no existing value; returns its decoded
 * name in p->scratch. */
static enum d2_status check_new_name(struct parser *p, struct graph_scope *scope, const char **name)
{
    enum d2_status st = decode_text(p, &p->tok, name);
    if (st != D2_OK)
        return st;
    if ((*name)[0] == '\0')
        return fail_at(p, &p->tok, "empty value name");
    if (table_find(&scope->names, scope->g, *name) != D2_NO_VALUE)
        return fail_at(p, &p->tok, "value %%%s is defined twice", *name);
    return D2_OK;
}

static enum d2_status remember_value(struct parser *p, struct graph_scope *scope, d2_value_id v)
{
    if (!table_insert(&scope->names, scope->g, p->alloc, v))
        return d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing IR text");
    return D2_OK;
}

/* A value reference (`%name`, or `_` when allow_omitted). */
static enum d2_status parse_ref(struct parser *p, struct graph_scope *scope, bool allow_omitted,
                               d2_value_id *out)
{
    const char *name;
    enum d2_status st;
    if (allow_omitted && is_word(&p->tok, "_")) {
        *out = D2_NO_VALUE;
        next(p);
        return D2_OK;
    }
    if (p->tok.kind != TOK_VALUE || p->tok.length == 0)
        return expected(p, allow_omitted ? "a value (%name) or _" : "a value (%name)");
    st = decode_text(p, &p->tok, &name);
    if (st != D2_OK)
        return st;
    *out = table_find(&scope->names, scope->g, name);
    if (*out == D2_NO_VALUE)
        return fail_at(p, &p->tok, "value %%%s is not defined before this use", name);
    next(p);
    return D2_OK;
}

/* ---- numbers -------------------------------------------------------------------- */

/* An integer token into int64 (min..max); no floats, no overflow. */
static enum d2_status parse_int(struct parser *p, int64_t min, int64_t max, int64_t *out)
{
    const struct token *t = &p->tok;
    uint64_t magnitude = 0, limit;
    size_t i = 0;
    bool negative = false;
    if (t->kind != TOK_NUMBER)
        return expected(p, "an integer");
    if (t->text[0] == '-' || t->text[0] == '+')
        negative = t->text[i++] == '-';
    if (i == t->length)
        return fail_at(p, t, "expected digits after the sign");
    limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < t->length; i++) {
        unsigned d = (unsigned)(t->text[i] - '0');
        if (d > 9)
            return fail_at(p, t, "bad integer '%.*s'", (int)(t->length < 40 ? t->length : 40), t->text);
        if (magnitude > (limit - d) / 10)
            return fail_at(p, t, "integer out of range");
        magnitude = magnitude * 10 + d;
    }
    *out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
    if (*out < min || *out > max)
        return fail_at(p, t, "integer %" PRId64 " out of range [%" PRId64 ", %" PRId64 "]", *out, min, max);
    next(p);
    return D2_OK;
}

static enum d2_status parse_u64(struct parser *p, uint64_t *out)
{
    const struct token *t = &p->tok;
    uint64_t v = 0;
    size_t i = t->kind == TOK_NUMBER && t->length > 0 && t->text[0] == '+';
    if (t->kind != TOK_NUMBER || i == t->length)
        return expected(p, "an unsigned integer");
    for (; i < t->length; i++) {
        unsigned d = (unsigned)(t->text[i] - '0');
        if (d > 9)
            return fail_at(p, t, "bad unsigned integer");
        if (v > (UINT64_MAX - d) / 10)
            return fail_at(p, t, "integer out of range");
        v = v * 10 + d;
    }
    *out = v;
    next(p);
    return D2_OK;
}

/* A float literal: [+-]? (digits [. digits] | . digits) ([eE] [+-]? digits)? [f],
 * or [+-]?inf, or nan. Copies the literal (without a trailing `f`) into buf.
 * *float_suffix reports the `f`. */
static enum d2_status float_literal(struct parser *p, char *buf, bool *float_suffix)
{
    const struct token *t = &p->tok;
    size_t i = 0, n = t->length, digits = 0;
    *float_suffix = false;
    if (t->kind == TOK_WORD && (is_word(t, "inf") || is_word(t, "nan"))) {
        memcpy(buf, t->text, n);
        buf[n] = '\0';
        return D2_OK;
    }
    if (t->kind != TOK_NUMBER)
        return expected(p, "a number");
    if (n > MAX_NUMBER_LENGTH)
        return fail_at(p, t, "number literal too long");
    memcpy(buf, t->text, n);
    buf[n] = '\0';
    if (buf[i] == '-' || buf[i] == '+')
        i++;
    if (strcmp(buf + i, "inf") == 0)
        return D2_OK;
    if (n > i && buf[n - 1] == 'f') {
        *float_suffix = true;
        buf[--n] = '\0';
    }
    while (buf[i] >= '0' && buf[i] <= '9')
        i++, digits++;
    if (buf[i] == '.') {
        i++;
        while (buf[i] >= '0' && buf[i] <= '9')
            i++, digits++;
    }
    if (digits > 0 && (buf[i] == 'e' || buf[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (buf[i] == '-' || buf[i] == '+')
            i++;
        while (buf[i] >= '0' && buf[i] <= '9')
            i++, exp_digits++;
        if (exp_digits == 0)
            digits = 0;
    }
    if (digits == 0 || i != n)
        return fail_at(p, t, "bad number '%.*s'", (int)(t->length < 40 ? t->length : 40), t->text);
    return D2_OK;
}

static enum d2_status parse_double(struct parser *p, double *out)
{
    char buf[MAX_NUMBER_LENGTH + 1];
    bool float_suffix;
    enum d2_status st = float_literal(p, buf, &float_suffix);
    if (st != D2_OK)
        return st;
    *out = float_suffix ? (double)strtof(buf, NULL) : strtod(buf, NULL);
    next(p);
    return D2_OK;
}

static enum d2_status parse_float(struct parser *p, float *out)
{
    char buf[MAX_NUMBER_LENGTH + 1];
    bool float_suffix;
    enum d2_status st = float_literal(p, buf, &float_suffix);
    if (st != D2_OK)
        return st;
    *out = strtof(buf, NULL);
    next(p);
    return D2_OK;
}

/* ---- types --------------------------------------------------------------------- */

/* dtype[dims] | dtype[*] | ?[dims] | ?[*] */
static enum d2_status parse_type(struct parser *p, struct d2_graph *g, struct d2_type *type)
{
    enum d2_status st;
    d2_type_init_unknown(type);
    if (p->tok.kind == TOK_QUESTION && p->tok.length == 0) {
        type->dtype = D2_DTYPE_UNDEFINED;
    } else if (p->tok.kind == TOK_WORD) {
        char name[16];
        if (p->tok.length >= sizeof name)
            return fail_at(p, &p->tok, "unknown dtype '%.*s'", 16, p->tok.text);
        memcpy(name, p->tok.text, p->tok.length);
        name[p->tok.length] = '\0';
        if (!d2_dtype_from_name(name, &type->dtype) || type->dtype == D2_DTYPE_UNDEFINED)
            return fail_at(p, &p->tok, "unknown dtype '%s'", name);
    } else {
        return expected(p, "a type (dtype[dims] or ?[*])");
    }
    next(p);
    if ((st = expect_punct(p, '[')) != D2_OK)
        return st;
    if (is_punct(p, '*')) {
        next(p);
        return expect_punct(p, ']');
    }
    type->rank = 0;
    while (!is_punct(p, ']')) {
        int32_t d = type->rank;
        if (d > 0 && (st = expect_punct(p, ',')) != D2_OK)
            return st;
        if (d >= D2_MAX_RANK)
            return fail_at(p, &p->tok, "more than D2_MAX_RANK=%d dims", D2_MAX_RANK);
        if (p->tok.kind == TOK_NUMBER) {
            if ((st = parse_int(p, 0, INT64_MAX, &type->dims[d])) != D2_OK)
                return st;
        } else if (p->tok.kind == TOK_QUESTION) {
            type->dims[d] = D2_DIM_UNKNOWN;
            if (p->tok.length > 0 || p->tok.quoted) {
                if ((st = intern_text(p, g, &p->tok, &type->symbols[d])) != D2_OK)
                    return st;
            }
            next(p);
            if (p->tok.kind == TOK_LE) {
                next(p);
                if ((st = parse_int(p, 0, INT64_MAX, &type->upper_bounds[d])) != D2_OK)
                    return st;
            }
        } else {
            return expected(p, "a dim (N, ?, ?name, ?<=N) or ']'");
        }
        type->rank++;
    }
    next(p);
    return D2_OK;
}

/* ---- constants ------------------------------------------------------------------ */

/* Append one element of dtype to a growing buffer. */
static enum d2_status parse_element(struct parser *p, enum d2_dtype dtype, void *slot)
{
    enum d2_status st;
    switch (dtype) {
    case D2_DTYPE_F32: case D2_DTYPE_F16: case D2_DTYPE_BF16: {
        float f;
        uint16_t h;
        if ((st = parse_float(p, &f)) != D2_OK)
            return st;
        if (dtype == D2_DTYPE_F32) {
            memcpy(slot, &f, 4);
        } else {
            h = dtype == D2_DTYPE_F16 ? d2_f32_to_f16(f) : d2_f32_to_bf16(f);
            memcpy(slot, &h, 2);
        }
        return D2_OK;
    }
    case D2_DTYPE_F64: {
        double v;
        if ((st = parse_double(p, &v)) != D2_OK)
            return st;
        memcpy(slot, &v, 8);
        return D2_OK;
    }
    case D2_DTYPE_U64: {
        uint64_t v = 0;
        if ((st = parse_u64(p, &v)) != D2_OK)
            return st;
        memcpy(slot, &v, 8);
        return D2_OK;
    }
    default: {
        static const struct { enum d2_dtype dtype; int64_t min, max; } ranges[] = {
            { D2_DTYPE_I64, INT64_MIN, INT64_MAX }, { D2_DTYPE_I32, INT32_MIN, INT32_MAX },
            { D2_DTYPE_I16, INT16_MIN, INT16_MAX }, { D2_DTYPE_I8, INT8_MIN, INT8_MAX },
            { D2_DTYPE_U8, 0, UINT8_MAX },          { D2_DTYPE_U16, 0, UINT16_MAX },
            { D2_DTYPE_U32, 0, UINT32_MAX },        { D2_DTYPE_BOOL, 0, 1 },
        };
        int64_t v;
        for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
            if (ranges[i].dtype != dtype)
                continue;
            if ((st = parse_int(p, ranges[i].min, ranges[i].max, &v)) != D2_OK)
                return st;
            d2_store_i64(slot, dtype, 0, v);
            return D2_OK;
        }
        return fail_at(p, &p->tok, "constants of dtype %s are not supported", d2_dtype_name(dtype));
    }
    }
}

/* After `%name: type =`: `const [e0, e1, ...]`. */
static enum d2_status parse_constant(struct parser *p, struct graph_scope *scope, const char *name,
                                     const struct d2_type *type)
{
    size_t esize = d2_dtype_size(type->dtype), capacity = 0, count = 0;
    int64_t numel = d2_type_numel(type);
    unsigned char *elements = NULL;
    struct d2_tensor tensor;
    enum d2_status st = D2_OK;
    d2_value_id v;
    struct token const_tok = p->tok;

    next(p); /* 'const' */
    if (type->dtype == D2_DTYPE_UNDEFINED || numel < 0)
        return fail_at(p, &const_tok, "a constant needs a declared static type (dtype and known dims)");
    if (is_punct(p, '<'))
        return fail_at(p, &p->tok, "elided constant (const <N bytes>) cannot be parsed back");
    if ((st = expect_punct(p, '[')) != D2_OK)
        return st;
    while (!is_punct(p, ']')) {
        if (count > 0 && (st = expect_punct(p, ',')) != D2_OK)
            goto done;
        if ((int64_t)count >= numel) {
            st = fail_at(p, &p->tok, "constant has more than the %" PRId64 " elements its type declares", numel);
            goto done;
        }
        if (count == capacity) { /* grows with what was written, never with the declared type */
            size_t new_capacity = capacity ? capacity * 2 : 16;
            unsigned char *grown = d2_realloc(p->alloc, elements, new_capacity * esize);
            if (!grown) {
                st = d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing a constant");
                goto done;
            }
            elements = grown;
            capacity = new_capacity;
        }
        if ((st = parse_element(p, type->dtype, elements + count * esize)) != D2_OK)
            goto done;
        count++;
    }
    if ((int64_t)count != numel) {
        st = fail_at(p, &p->tok, "constant has %zu elements, its type declares %" PRId64, count, numel);
        goto done;
    }
    next(p);
    if ((st = d2_tensor_alloc(&tensor, p->alloc, type->dtype, type->rank, type->dims, p->err)) != D2_OK)
        goto done;
    if (count)
        memcpy(tensor.data, elements, count * esize);
    v = d2_graph_add_constant(scope->g, name, &tensor, p->err);
    if (v == D2_NO_VALUE) {
        st = p->err->code != D2_OK ? p->err->code : D2_ERR_NOMEM;
        goto done;
    }
    st = remember_value(p, scope, v);
done:
    d2_free(p->alloc, elements);
    return st;
}

/* ---- attributes ----------------------------------------------------------------- */

static enum d2_status parse_list(struct parser *p, struct d2_graph *g, const struct d2_attr_field *f, void *slot)
{
    size_t count = 0, capacity = 0, esize = f->kind == D2_FIELD_INTS ? sizeof(int64_t) : sizeof(double);
    unsigned char *items = NULL;
    enum d2_status st;
    if ((st = expect_punct(p, '[')) != D2_OK)
        return st;
    while (!is_punct(p, ']')) {
        if (count > 0 && (st = expect_punct(p, ',')) != D2_OK)
            goto done;
        if (count == capacity) {
            size_t new_capacity = capacity ? capacity * 2 : 8;
            unsigned char *grown;
            if (new_capacity > UINT32_MAX) {
                st = fail_at(p, &p->tok, "attribute list too long");
                goto done;
            }
            grown = d2_realloc(p->alloc, items, new_capacity * esize);
            if (!grown) {
                st = d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing an attribute");
                goto done;
            }
            items = grown;
            capacity = new_capacity;
        }
        if (f->kind == D2_FIELD_INTS)
            st = parse_int(p, INT64_MIN, INT64_MAX, (int64_t *)(void *)(items + count * esize));
        else
            st = parse_double(p, (double *)(void *)(items + count * esize));
        if (st != D2_OK)
            goto done;
        count++;
    }
    next(p);
    if (f->kind == D2_FIELD_INTS)
        st = d2_graph_set_ints(g, slot, (const int64_t *)(void *)items, (uint32_t)count, p->err);
    else
        st = d2_graph_set_floats(g, slot, (const double *)(void *)items, (uint32_t)count, p->err);
done:
    d2_free(p->alloc, items);
    return st;
}

static enum d2_status parse_attr_value(struct parser *p, struct d2_graph *g, const struct d2_attr_field *f,
                                       void *attrs)
{
    char *slot = (char *)attrs + f->offset;
    char word[64];
    enum d2_status st;
    switch (f->kind) {
    case D2_FIELD_INT: {
        int64_t v;
        if ((st = parse_int(p, INT64_MIN, INT64_MAX, &v)) == D2_OK)
            memcpy(slot, &v, sizeof v);
        return st;
    }
    case D2_FIELD_FLOAT: {
        double v;
        if ((st = parse_double(p, &v)) == D2_OK)
            memcpy(slot, &v, sizeof v);
        return st;
    }
    case D2_FIELD_INTS: case D2_FIELD_FLOATS:
        return parse_list(p, g, f, slot);
    case D2_FIELD_STRING: {
        const char *v;
        if (p->tok.kind != TOK_STRING)
            return expected(p, "a \"string\"");
        if ((st = intern_text(p, g, &p->tok, &v)) == D2_OK) {
            memcpy(slot, &v, sizeof v);
            next(p);
        }
        return st;
    }
    case D2_FIELD_ENUM: case D2_FIELD_DTYPE:
        if (p->tok.kind != TOK_WORD)
            return expected(p, f->kind == D2_FIELD_ENUM ? "an enum word" : "a dtype");
        if (p->tok.length >= sizeof word)
            return fail_at(p, &p->tok, "unknown value for attribute '%s'", f->name);
        memcpy(word, p->tok.text, p->tok.length);
        word[p->tok.length] = '\0';
        if (f->kind == D2_FIELD_ENUM) {
            int32_t v = d2_attr_enum_from_name(f, word);
            if (v < 0)
                return fail_at(p, &p->tok, "'%s' is not a value of attribute '%s'", word, f->name);
            memcpy(slot, &v, sizeof v);
        } else {
            enum d2_dtype v;
            if (!d2_dtype_from_name(word, &v))
                return fail_at(p, &p->tok, "unknown dtype '%s' for attribute '%s'", word, f->name);
            memcpy(slot, &v, sizeof v);
        }
        next(p);
        return D2_OK;
    }
    return D2_OK;
}

/* `{name=value, ...}` into the attribute struct of node `index` of g. */
static enum d2_status parse_attributes(struct parser *p, struct d2_graph *g, int32_t index)
{
    const struct d2_node *node = &g->nodes[index];
    const struct d2_attr_schema *schema = d2_attr_schema_get(d2_op_info(node->op)->attrs);
    bool seen[64] = { false }; /* per field (schemas have fewer than 64 fields) */
    uint32_t count = 0;
    enum d2_status st;
    next(p); /* '{' */
    while (!is_punct(p, '}')) {
        const struct d2_attr_field *field = NULL;
        uint32_t i;
        if (count++ > 0 && (st = expect_punct(p, ',')) != D2_OK)
            return st;
        if (p->tok.kind != TOK_WORD)
            return expected(p, "an attribute name or '}'");
        for (i = 0; i < schema->num_fields; i++)
            if (is_word(&p->tok, schema->fields[i].name)) {
                field = &schema->fields[i];
                break;
            }
        if (!field)
            return fail_at(p, &p->tok, "op '%s' has no attribute '%.*s'", d2_op_name(node->op),
                           (int)(p->tok.length < 40 ? p->tok.length : 40), p->tok.text);
        if (i < 64 && seen[i])
            return fail_at(p, &p->tok, "attribute '%s' given twice", field->name);
        if (i < 64)
            seen[i] = true;
        next(p);
        if ((st = expect_punct(p, '=')) != D2_OK)
            return st;
        if ((st = parse_attr_value(p, g, field, g->nodes[index].attrs)) != D2_OK)
            return st;
    }
    next(p);
    return D2_OK;
}

/* ---- graphs and nodes ---------------------------------------------------------- */

static enum d2_status parse_graph_body(struct parser *p, struct d2_graph *g, const char *expected_name,
                                       int depth);

static const char *region_name(enum d2_op op, uint32_t r)
{
    if (op == D2_OP_IF)
        return r == 0 ? "then" : "else";
    if (op == D2_OP_LOOP)
        return "body";
    return "region";
}

/* One declared result: `%name [: type]`. */
struct result_decl {
    const char *name;  /* interned in the graph's arena */
    struct d2_type type;
};

/* Node after its results: `op [@name] (refs) [{attrs}] [{graphs}]`. */
static enum d2_status parse_node(struct parser *p, struct graph_scope *scope, struct result_decl *results,
                                 uint32_t num_results, int depth)
{
    struct d2_graph *g = scope->g;
    struct token op_tok = p->tok;
    const char *node_name = "";
    const char **output_names = NULL;
    d2_value_id *inputs = NULL;
    uint32_t num_inputs = 0, capacity = 0;
    enum d2_status st = D2_OK;
    enum d2_op op;
    char word[64];
    int32_t index;

    if (p->tok.kind != TOK_WORD)
        return expected(p, "an op name or 'const'");
    if (p->tok.length >= sizeof word)
        return fail_at(p, &p->tok, "unknown op '%.*s'", 40, p->tok.text);
    memcpy(word, p->tok.text, p->tok.length);
    word[p->tok.length] = '\0';
    if (!d2_op_from_name(word, &op))
        return fail_at(p, &p->tok, "unknown op '%s'", word);
    next(p);
    if (p->tok.kind == TOK_AT_NAME) {
        if ((st = intern_text(p, g, &p->tok, &node_name)) != D2_OK)
            return st;
        next(p);
    }
    if ((st = expect_punct(p, '(')) != D2_OK)
        return st;
    while (!is_punct(p, ')')) {
        if (num_inputs > 0 && (st = expect_punct(p, ',')) != D2_OK)
            goto done;
        if (num_inputs == capacity) {
            uint32_t new_capacity = capacity ? capacity * 2 : 8;
            d2_value_id *grown = d2_realloc(p->alloc, inputs, sizeof *inputs * new_capacity);
            if (!grown) {
                st = d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing a node");
                goto done;
            }
            inputs = grown;
            capacity = new_capacity;
        }
        if ((st = parse_ref(p, scope, true, &inputs[num_inputs])) != D2_OK)
            goto done;
        num_inputs++;
    }
    next(p);

    output_names = d2_calloc(p->alloc, num_results ? num_results : 1, sizeof *output_names);
    if (!output_names) {
        st = d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing a node");
        goto done;
    }
    for (uint32_t i = 0; i < num_results; i++)
        output_names[i] = results[i].name;
    index = d2_graph_add_node(g, op, node_name, num_inputs, inputs, num_results, output_names, p->err);
    if (index < 0) {
        st = p->err->code != D2_OK ? p->err->code : D2_ERR_NOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < num_results; i++) {
        d2_value_id v = g->nodes[index].outputs[i];
        g->values[v].type = results[i].type; /* symbols already interned in g */
        if ((st = remember_value(p, scope, v)) != D2_OK)
            goto done;
    }

    /* `{` opens the attribute block unless it starts the region block (`{ graph`). */
    if (is_punct(p, '{')) {
        struct token after = peek_after_current(p);
        if (!is_word(&after, "graph") && (st = parse_attributes(p, g, index)) != D2_OK)
            goto done;
    }
    if (is_punct(p, '{')) {
        uint32_t r = 0;
        if (g->nodes[index].num_regions == 0) {
            st = fail_at(p, &p->tok, "op '%s' has no regions", word);
            goto done;
        }
        if (depth >= MAX_REGION_DEPTH) {
            st = fail_at(p, &p->tok, "regions nested deeper than %d", MAX_REGION_DEPTH);
            goto done;
        }
        next(p);
        for (; !is_punct(p, '}'); r++) {
            if (r >= g->nodes[index].num_regions) {
                st = fail_at(p, &p->tok, "op '%s' has only %u regions", word, g->nodes[index].num_regions);
                goto done;
            }
            if ((st = parse_graph_body(p, g->nodes[index].regions[r], region_name(op, r), depth + 1)) != D2_OK)
                goto done;
        }
        if (r != g->nodes[index].num_regions) {
            st = fail_at(p, &p->tok, "op '%s' needs %u regions, got %u", word, g->nodes[index].num_regions, r);
            goto done;
        }
        next(p);
    } else if (g->nodes[index].num_regions > 0) {
        st = fail_at(p, &op_tok, "op '%s' needs %u regions ({ graph ... })", word, g->nodes[index].num_regions);
    }
done:
    d2_free(p->alloc, inputs);
    d2_free(p->alloc, (void *)output_names);
    return st;
}

/* A statement inside a graph: results `= const/node`, or a node without results. */
static enum d2_status parse_statement(struct parser *p, struct graph_scope *scope, int depth)
{
    struct result_decl *results = NULL;
    uint32_t count = 0, capacity = 0;
    enum d2_status st = D2_OK;
    while (p->tok.kind == TOK_VALUE) {
        const char *name;
        if (count == capacity) {
            uint32_t new_capacity = capacity ? capacity * 2 : 4;
            struct result_decl *grown = d2_realloc(p->alloc, results, sizeof *results * new_capacity);
            if (!grown) {
                st = d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing IR text");
                goto done;
            }
            results = grown;
            capacity = new_capacity;
        }
        if ((st = check_new_name(p, scope, &name)) != D2_OK)
            goto done;
        for (uint32_t i = 0; i < count; i++)
            if (strcmp(results[i].name, name) == 0) {
                st = fail_at(p, &p->tok, "value %%%s is defined twice", name);
                goto done;
            }
        results[count].name = d2_graph_intern(scope->g, name);
        if (!results[count].name) {
            st = d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing IR text");
            goto done;
        }
        d2_type_init_unknown(&results[count].type);
        next(p);
        if (is_punct(p, ':')) {
            next(p);
            if ((st = parse_type(p, scope->g, &results[count].type)) != D2_OK)
                goto done;
        }
        count++;
        if (!is_punct(p, ','))
            break;
        next(p);
    }
    if (count > 0 && (st = expect_punct(p, '=')) != D2_OK)
        goto done;
    if (is_word(&p->tok, "const")) {
        if (count != 1) {
            st = fail_at(p, &p->tok, "a constant defines exactly one value");
            goto done;
        }
        st = parse_constant(p, scope, results[0].name, &results[0].type);
    } else {
        st = parse_node(p, scope, results, count, depth);
    }
done:
    d2_free(p->alloc, results);
    return st;
}

/* `graph NAME(params) { stmts return refs }` into the (empty) graph g. */
static enum d2_status parse_graph_body(struct parser *p, struct d2_graph *g, const char *expected_name,
                                       int depth)
{
    struct graph_scope scope = { g, { NULL, 0, 0 } };
    enum d2_status st;
    if (!is_word(&p->tok, "graph")) {
        st = expected(p, "'graph'");
        goto done;
    }
    next(p);
    if (!is_word(&p->tok, expected_name)) {
        st = fail_at(p, &p->tok, "expected graph name '%s'", expected_name);
        goto done;
    }
    next(p);
    if ((st = expect_punct(p, '(')) != D2_OK)
        goto done;
    while (!is_punct(p, ')')) {
        struct d2_type type;
        const char *name;
        d2_value_id v;
        if (g->num_inputs > 0 && (st = expect_punct(p, ',')) != D2_OK)
            goto done;
        if (p->tok.kind != TOK_VALUE) {
            st = expected(p, "a graph input (%name: type)");
            goto done;
        }
        if ((st = check_new_name(p, &scope, &name)) != D2_OK)
            goto done;
        name = d2_graph_intern(g, name);
        if (!name) {
            st = d2_errorf(p->err, D2_ERR_NOMEM, "out of memory parsing IR text");
            goto done;
        }
        next(p);
        d2_type_init_unknown(&type);
        if (is_punct(p, ':')) {
            next(p);
            if ((st = parse_type(p, g, &type)) != D2_OK)
                goto done;
        }
        v = d2_graph_add_input(g, name, &type, p->err);
        if (v == D2_NO_VALUE) {
            st = p->err->code != D2_OK ? p->err->code : D2_ERR_NOMEM;
            goto done;
        }
        if ((st = remember_value(p, &scope, v)) != D2_OK)
            goto done;
    }
    next(p);
    if ((st = expect_punct(p, '{')) != D2_OK)
        goto done;
    while (!is_word(&p->tok, "return")) {
        if (p->tok.kind != TOK_VALUE && p->tok.kind != TOK_WORD) {
            st = expected(p, "a statement or 'return'");
            goto done;
        }
        if ((st = parse_statement(p, &scope, depth)) != D2_OK)
            goto done;
    }
    next(p);
    while (!is_punct(p, '}')) {
        d2_value_id v;
        if (g->num_outputs > 0 && (st = expect_punct(p, ',')) != D2_OK)
            goto done;
        if ((st = parse_ref(p, &scope, false, &v)) != D2_OK)
            goto done;
        if ((st = d2_graph_add_output(g, v, p->err)) != D2_OK)
            goto done;
    }
    next(p);
done:
    d2_free(p->alloc, scope.names.slots);
    return st;
}

struct d2_graph *d2_parse_graph(const char *text, size_t length, const struct d2_allocator *alloc,
                                struct d2_error *err)
{
    struct parser p;
    struct d2_graph *g;
    enum d2_status st = D2_OK;
    if (!alloc)
        alloc = d2_allocator_default();
    if (!text && length > 0) {
        d2_errorf(err, D2_ERR_INVALID_ARG, "IR text is NULL");
        return NULL;
    }
    memset(&p, 0, sizeof p);
    p.text = text ? text : "";
    p.length = length;
    p.alloc = alloc;
    p.err = err;
    p.state.line = 1;
    p.state.column = 1;
    g = d2_graph_new(alloc, err);
    if (!g)
        return NULL;
    next(&p);
    while (st == D2_OK && is_word(&p.tok, "meta")) {
        const char *key, *value;
        next(&p);
        if (p.tok.kind != TOK_STRING) {
            st = expected(&p, "a \"key\" string");
            break;
        }
        if ((st = intern_text(&p, g, &p.tok, &key)) != D2_OK)
            break;
        next(&p);
        if ((st = expect_punct(&p, '=')) != D2_OK)
            break;
        if (p.tok.kind != TOK_STRING) {
            st = expected(&p, "a \"value\" string");
            break;
        }
        if (d2_graph_get_metadata(g, key)) {
            st = fail_at(&p, &p.tok, "metadata key \"%s\" given twice", key);
            break;
        }
        if ((st = intern_text(&p, g, &p.tok, &value)) != D2_OK)
            break;
        if ((st = d2_graph_set_metadata(g, key, value, err)) != D2_OK)
            break;
        next(&p);
    }
    if (st == D2_OK)
        st = parse_graph_body(&p, g, "main", 0);
    if (st == D2_OK && p.tok.kind != TOK_EOF)
        st = expected(&p, "end of input after the graph");
    d2_free(alloc, p.scratch);
    if (st != D2_OK) {
        if (err && err->code == D2_OK)
            d2_errorf(err, st, "IR text: parse failed");
        d2_graph_free(g);
        return NULL;
    }
    return g;
}
