/* frontend/torchscript/ts_lex.c: tokenizer for TorchScript's serialized Python.
 *
 * Python's rules, restricted to what torch's code printer writes: indentation
 * produces INDENT/DEDENT tokens (spaces; a tab advances to the next multiple of 8),
 * newlines inside brackets and after a backslash are ignored, blank and comment-only
 * lines produce nothing, and the end of input closes the last line and every open
 * block. Literals: decimal (and 0x/0o/0b) integers up to 2**63 (2**63 itself is only
 * meaningful after a unary minus: it is returned as INT64_MIN), floats with fraction
 * and/or exponent, single- or double-quoted strings (also triple-quoted) with
 * Python's escapes, decoded into the arena as UTF-8.
 */
#include "frontend/torchscript/ts_ast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ts_lexer_init(struct ts_lexer *lx, const char *src, size_t len, struct d2_arena *arena)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
    lx->arena = arena;
    lx->indents[0] = 0;
    lx->num_indents = 1;
    lx->at_line_start = true;
}

static int peek(const struct ts_lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

static void advance(struct ts_lexer *lx)
{
    if (lx->pos >= lx->len)
        return;
    if (lx->src[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->pos++;
}

static struct ts_token make(struct ts_lexer *lx, enum ts_token_kind kind, uint32_t line, uint32_t col, size_t start)
{
    struct ts_token t;
    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.line = line;
    t.col = col;
    t.start = lx->src + start;
    t.len = lx->pos - start;
    return t;
}

static struct ts_token lex_error(struct ts_lexer *lx, const char *msg)
{
    struct ts_token t;
    if (!lx->message[0]) {
        snprintf(lx->message, sizeof lx->message, "%s", msg);
        lx->error_line = lx->line;
        lx->error_col = lx->col;
    }
    lx->pos = lx->len; /* stay in the error state */
    memset(&t, 0, sizeof t);
    t.kind = TST_ERROR;
    t.line = lx->error_line;
    t.col = lx->error_col;
    return t;
}

static bool is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode a string literal starting at the quote. The decoded text is never longer
 * than the source text, so one arena block of the source length suffices. */
static struct ts_token lex_string(struct ts_lexer *lx, uint32_t line, uint32_t col, size_t start)
{
    int quote = peek(lx, 0);
    bool triple = peek(lx, 1) == quote && peek(lx, 2) == quote;
    size_t cap = lx->len - lx->pos + 1;
    char *out = d2_arena_alloc(lx->arena, cap);
    size_t n = 0;
    if (!out)
        return lex_error(lx, "out of memory");
    for (int k = 0; k < (triple ? 3 : 1); k++)
        advance(lx);
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0)
            return lex_error(lx, "unterminated string");
        if (c == quote && (!triple || (peek(lx, 1) == quote && peek(lx, 2) == quote))) {
            for (int k = 0; k < (triple ? 3 : 1); k++)
                advance(lx);
            break;
        }
        if (c == '\n' && !triple)
            return lex_error(lx, "newline in string");
        if (c == 0)
            return lex_error(lx, "NUL byte in string");
        if (c != '\\') {
            out[n++] = (char)c;
            advance(lx);
            continue;
        }
        advance(lx);
        c = peek(lx, 0);
        if (c < 0)
            return lex_error(lx, "unterminated string");
        advance(lx);
        switch (c) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'a': out[n++] = '\a'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'v': out[n++] = '\v'; break;
        case '\\': out[n++] = '\\'; break;
        case '\'': out[n++] = '\''; break;
        case '"': out[n++] = '"'; break;
        case '\n': break; /* line continuation inside a string */
        case 'x': case 'u': case 'U': {
            int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = hex_value(peek(lx, 0));
                if (h < 0)
                    return lex_error(lx, "bad escape in string");
                cp = cp * 16 + (uint32_t)h;
                advance(lx);
            }
            if (cp > 0x10FFFF)
                return lex_error(lx, "bad escape in string");
            n += put_utf8(out + n, cp); /* \xHH is a code point in a str literal */
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                uint32_t cp = (uint32_t)(c - '0');
                for (int k = 0; k < 2 && peek(lx, 0) >= '0' && peek(lx, 0) <= '7'; k++) {
                    cp = cp * 8 + (uint32_t)(peek(lx, 0) - '0');
                    advance(lx);
                }
                n += put_utf8(out + n, cp);
            } else { /* unknown escapes keep the backslash, as in Python */
                out[n++] = '\\';
                out[n++] = (char)c;
            }
            break;
        }
        if (n + 4 >= cap)
            return lex_error(lx, "string too long");
    }
    out[n] = '\0';
    struct ts_token t = make(lx, TST_STRING, line, col, start);
    t.str = out;
    t.str_len = n;
    return t;
}

static struct ts_token lex_number(struct ts_lexer *lx, uint32_t line, uint32_t col, size_t start)
{
    bool is_float = false;
    char buf[128];
    size_t n = 0;
    if (peek(lx, 0) == '0' && (peek(lx, 1) == 'x' || peek(lx, 1) == 'X' || peek(lx, 1) == 'o' || peek(lx, 1) == 'O' ||
                               peek(lx, 1) == 'b' || peek(lx, 1) == 'B')) {
        int base = (peek(lx, 1) | 0x20) == 'x' ? 16 : (peek(lx, 1) | 0x20) == 'o' ? 8 : 2;
        uint64_t v = 0;
        int digits = 0;
        advance(lx);
        advance(lx);
        for (;;) {
            int c = peek(lx, 0), d;
            if (c == '_') {
                advance(lx);
                continue;
            }
            d = hex_value(c);
            if (d < 0 || d >= base)
                break;
            if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
                return lex_error(lx, "integer literal too large");
            v = v * (uint64_t)base + (uint64_t)d;
            digits++;
            advance(lx);
        }
        if (!digits || v > (uint64_t)INT64_MAX)
            return lex_error(lx, digits ? "integer literal too large" : "bad integer literal");
        struct ts_token t = make(lx, TST_INT, line, col, start);
        t.i = (int64_t)v;
        return t;
    }
    while (is_digit(peek(lx, 0)) || peek(lx, 0) == '_') {
        if (peek(lx, 0) != '_' && n < sizeof buf - 1)
            buf[n++] = (char)peek(lx, 0);
        advance(lx);
    }
    if (peek(lx, 0) == '.' && !is_name_start(peek(lx, 1))) {
        is_float = true;
        buf[n < sizeof buf - 1 ? n++ : n] = '.';
        advance(lx);
        while (is_digit(peek(lx, 0))) {
            if (n < sizeof buf - 1)
                buf[n++] = (char)peek(lx, 0);
            advance(lx);
        }
    }
    if ((peek(lx, 0) == 'e' || peek(lx, 0) == 'E') &&
        (is_digit(peek(lx, 1)) || ((peek(lx, 1) == '+' || peek(lx, 1) == '-') && is_digit(peek(lx, 2))))) {
        is_float = true;
        for (int k = 0; k < 2; k++) {
            if (n < sizeof buf - 1)
                buf[n++] = (char)peek(lx, 0);
            advance(lx);
        }
        while (is_digit(peek(lx, 0))) {
            if (n < sizeof buf - 1)
                buf[n++] = (char)peek(lx, 0);
            advance(lx);
        }
    }
    if (n >= sizeof buf - 1)
        return lex_error(lx, "number literal too long");
    if (is_name_start(peek(lx, 0)) || is_digit(peek(lx, 0)))
        return lex_error(lx, "bad number literal");
    buf[n] = '\0';
    struct ts_token t = make(lx, is_float ? TST_FLOAT : TST_INT, line, col, start);
    if (is_float) {
        t.f = strtod(buf, NULL); /* overflow gives inf, as Python's float() would not; fine */
    } else {
        uint64_t v = 0;
        for (size_t k = 0; k < n; k++) {
            uint64_t d = (uint64_t)(buf[k] - '0');
            if (v > (UINT64_MAX - d) / 10)
                return lex_error(lx, "integer literal too large");
            v = v * 10 + d;
        }
        if (v > (uint64_t)INT64_MAX + 1)
            return lex_error(lx, "integer literal too large");
        t.i = (int64_t)v; /* 2**63 wraps to INT64_MIN: only valid after unary minus */
    }
    return t;
}

static const char *const operators[] = {
    "**=", "//=", ">>=", "<<=", "...", "->", "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "+=", "-=",
    "*=", "/=", "%=", "&=", "|=", "^=", "@=", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "@",
    "=", "+", "-", "*", "/", "%", "<", ">", "&", "|", "^", "~",
};

struct ts_token ts_lex_next(struct ts_lexer *lx)
{
    if (lx->message[0])
        return lex_error(lx, "");
    if (lx->pending_dedents) {
        lx->pending_dedents--;
        return make(lx, TST_DEDENT, lx->line, lx->col, lx->pos);
    }
    /* Indentation at the start of a logical line. */
    while (lx->at_line_start && lx->bracket_depth == 0) {
        uint32_t width = 0;
        size_t p = lx->pos;
        while (p < lx->len && (lx->src[p] == ' ' || lx->src[p] == '\t' || lx->src[p] == '\f')) {
            width = lx->src[p] == '\t' ? (width / 8 + 1) * 8 : width + 1;
            if (width > 100000)
                return lex_error(lx, "indentation too deep");
            p++;
        }
        while (lx->pos < p)
            advance(lx);
        if (lx->pos >= lx->len)
            break;
        if (lx->src[lx->pos] == '#') {
            while (lx->pos < lx->len && lx->src[lx->pos] != '\n')
                advance(lx);
        }
        if (lx->pos < lx->len && (lx->src[lx->pos] == '\n' || lx->src[lx->pos] == '\r')) {
            advance(lx); /* blank or comment-only line */
            continue;
        }
        if (lx->pos >= lx->len)
            break;
        lx->at_line_start = false;
        uint32_t top = lx->indents[lx->num_indents - 1];
        if (width > top) {
            if (lx->num_indents > TS_PARSE_MAX_DEPTH)
                return lex_error(lx, "blocks nested too deeply");
            lx->indents[lx->num_indents++] = width;
            return make(lx, TST_INDENT, lx->line, lx->col, lx->pos);
        }
        while (width < lx->indents[lx->num_indents - 1]) {
            lx->num_indents--;
            lx->pending_dedents++;
        }
        if (width != lx->indents[lx->num_indents - 1])
            return lex_error(lx, "unindent does not match any outer indentation level");
        if (lx->pending_dedents) {
            lx->pending_dedents--;
            return make(lx, TST_DEDENT, lx->line, lx->col, lx->pos);
        }
    }
    /* Blanks, comments and continuation lines between tokens. */
    for (;;) {
        int c = peek(lx, 0);
        if (c == ' ' || c == '\t' || c == '\f' || c == '\r') {
            advance(lx);
        } else if (c == '#') {
            while (lx->pos < lx->len && lx->src[lx->pos] != '\n')
                advance(lx);
        } else if (c == '\\' && (peek(lx, 1) == '\n' || (peek(lx, 1) == '\r' && peek(lx, 2) == '\n'))) {
            advance(lx);
            if (peek(lx, 0) == '\r')
                advance(lx);
            advance(lx);
        } else if (c == '\n' && lx->bracket_depth > 0) {
            advance(lx);
        } else {
            break;
        }
    }
    uint32_t line = lx->line, col = lx->col;
    size_t start = lx->pos;
    int c = peek(lx, 0);
    if (c < 0) {
        if (!lx->emitted_eof_newline) {
            lx->emitted_eof_newline = true;
            if (!lx->at_line_start) {
                lx->at_line_start = true;
                return make(lx, TST_NEWLINE, line, col, start);
            }
        }
        if (lx->num_indents > 1) {
            lx->num_indents--;
            return make(lx, TST_DEDENT, line, col, start);
        }
        return make(lx, TST_EOF, line, col, start);
    }
    if (c == '\n') {
        advance(lx);
        lx->at_line_start = true;
        return make(lx, TST_NEWLINE, line, col, start);
    }
    if (c == 0)
        return lex_error(lx, "NUL byte in source");
    if (is_name_start(c)) {
        /* String prefixes r, b, u, f are not printed by torch; only plain quotes. */
        while (is_name_start(peek(lx, 0)) || is_digit(peek(lx, 0)))
            advance(lx);
        return make(lx, TST_NAME, line, col, start);
    }
    if (is_digit(c) || (c == '.' && is_digit(peek(lx, 1))))
        return lex_number(lx, line, col, start);
    if (c == '"' || c == '\'')
        return lex_string(lx, line, col, start);
    for (size_t k = 0; k < sizeof operators / sizeof operators[0]; k++) {
        size_t n = strlen(operators[k]);
        if (lx->len - lx->pos >= n && memcmp(lx->src + lx->pos, operators[k], n) == 0) {
            for (size_t j = 0; j < n; j++)
                advance(lx);
            struct ts_token t = make(lx, TST_OP, line, col, start);
            memcpy(t.op, operators[k], n + 1);
            if (n == 1 && strchr("([{", t.op[0])) {
                if (lx->bracket_depth >= TS_PARSE_MAX_DEPTH)
                    return lex_error(lx, "brackets nested too deeply");
                lx->bracket_depth++;
            } else if (n == 1 && strchr(")]}", t.op[0]) && lx->bracket_depth > 0) {
                lx->bracket_depth--;
            }
            return t;
        }
    }
    {
        char msg[64];
        if (c >= 0x20 && c < 0x7f)
            snprintf(msg, sizeof msg, "unexpected character '%c'", c);
        else
            snprintf(msg, sizeof msg, "unexpected byte 0x%02x", c);
        return lex_error(lx, msg);
    }
}
