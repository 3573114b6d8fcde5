/* ir/print.c: the IR text form's printer (d2_print_graph). The grammar is in
 * docs/IR.md "Text form"; ir/parse.c reads it back.
 *
 * Contract: the output is deterministic and canonical, so that for any valid graph
 * print(parse(print(g))) == print(g) byte for byte. To get there:
 *   - floats print in the shortest decimal form that reads back to the same bits
 *     (through the parser's own conversion path for each dtype);
 *   - attributes print only when they differ from the attrs.def default, in schema
 *     field order;
 *   - constants print before the nodes, in constant-table order;
 *   - every value prints with its type (`?[*]` when nothing is known).
 * With opts->max_constant_elements >= 0, bigger constants print as `const <N bytes>`,
 * which the parser rejects (for `d2rt inspect`, not for files meant to be read back).
 */
#include "ir.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing output string. `failed` latches the first allocation failure so that the
 * printing code need not check every append. */
struct text_buffer {
    const struct d2_allocator *alloc;
    char *data;
    size_t length, capacity;
    bool failed;
};

static void buffer_reserve(struct text_buffer *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (b->failed)
        return;
    if (extra > SIZE_MAX - b->length - 1) {
        b->failed = true;
        return;
    }
    need = b->length + extra + 1;
    if (need <= b->capacity)
        return;
    cap = b->capacity ? b->capacity : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = d2_realloc(b->alloc, b->data, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->data = p;
    b->capacity = cap;
}

static void put_bytes(struct text_buffer *b, const char *s, size_t n)
{
    buffer_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->length, s, n);
    b->length += n;
    b->data[b->length] = '\0';
}

static void put(struct text_buffer *b, const char *s)
{
    put_bytes(b, s, strlen(s));
}

static void putf(struct text_buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct text_buffer *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        put_bytes(b, small, (size_t)n);
        return;
    }
    buffer_reserve(b, (size_t)n);
    if (b->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->length, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->length += (size_t)n;
}

static void indent(struct text_buffer *b, int depth)
{
    for (int i = 0; i < depth; i++)
        put(b, "  ");
}

/* ---- names and strings ---------------------------------------------------- */

/* Characters of a bare (unquoted) name; everything else needs quotes. */
static bool is_bare_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '-';
}

/* A quoted string with C escapes. Only printable ASCII prints raw; every other byte
 * prints as \xHH so the text stays 7-bit and unambiguous. */
static void put_quoted(struct text_buffer *b, const char *s)
{
    put(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': put(b, "\\\""); break;
        case '\\': put(b, "\\\\"); break;
        case '\n': put(b, "\\n"); break;
        case '\t': put(b, "\\t"); break;
        case '\r': put(b, "\\r"); break;
        default:
            if (*p >= 0x20 && *p < 0x7f)
                put_bytes(b, (const char *)p, 1);
            else
                putf(b, "\\x%02x", *p);
        }
    }
    put(b, "\"");
}

/* A name as a bare word when possible, else quoted. A bare name may not end with
 * ':' (in `%x: f32[2]` the colon belongs to the type annotation). */
static void put_name(struct text_buffer *b, const char *name)
{
    size_t length = strlen(name);
    bool bare = length > 0 && name[length - 1] != ':';
    for (const char *p = name; *p && bare; p++)
        bare = is_bare_name_char(*p);
    if (bare)
        put(b, name);
    else
        put_quoted(b, name);
}

static void put_value_ref(struct text_buffer *b, const struct d2_graph *g, d2_value_id v)
{
    if (v == D2_NO_VALUE) {
        put(b, "_");
        return;
    }
    put(b, "%");
    if (v < g->num_values && g->values[v].name)
        put_name(b, g->values[v].name);
    else
        putf(b, "\"<invalid value %u>\"", v); /* broken graph: printable, not parseable */
}

/* ---- numbers ---------------------------------------------------------------- */

/* Shortest %.Ng text of a double that strtod reads back exactly. */
static void format_double(char *out, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(out, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, size, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(out, size, "%.*g", precision, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Shortest text of a 16- or 32-bit float element that the parser's conversion path
 * (strtof, then narrowing for f16/bf16) turns back into the same bits. */
static void format_float_element(char *out, size_t size, const void *data, enum d2_dtype dtype, size_t i)
{
    float f;
    uint16_t bits16 = 0;
    if (dtype == D2_DTYPE_F32) {
        memcpy(&f, (const char *)data + 4 * i, 4);
    } else {
        memcpy(&bits16, (const char *)data + 2 * i, 2);
        f = dtype == D2_DTYPE_F16 ? d2_f16_to_f32(bits16) : d2_bf16_to_f32(bits16);
    }
    if (isnan(f)) {
        snprintf(out, size, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(out, size, f < 0 ? "-inf" : "inf");
        return;
    }
    for (int precision = 1; precision <= 9; precision++) {
        float back;
        snprintf(out, size, "%.*g", precision, (double)f);
        back = strtof(out, NULL);
        if (dtype == D2_DTYPE_F32 ? memcmp(&back, &f, 4) == 0
            : dtype == D2_DTYPE_F16 ? d2_f32_to_f16(back) == bits16
                                    : d2_f32_to_bf16(back) == bits16)
            return;
    }
}

/* A double attribute value. When it is exactly a float whose shortest float text
 * is shorter than its shortest double text (an ONNX float attribute widened, like
 * 0.2f = 0.20000000298023224), print the float text with an `f` suffix: the parser
 * reads `0.2f` as (double)strtof("0.2"). */
static void put_attr_double(struct text_buffer *b, double v)
{
    char as_double[64], as_float[64];
    format_double(as_double, sizeof as_double, v);
    if (isfinite(v) && fabs(v) <= 3.4028234663852886e38 && (double)(float)v == v) {
        float f = (float)v;
        format_float_element(as_float, sizeof as_float, &f, D2_DTYPE_F32, 0);
        if (strlen(as_float) + 1 < strlen(as_double)) {
            put(b, as_float);
            put(b, "f");
            return;
        }
    }
    put(b, as_double);
}

static void put_element(struct text_buffer *b, const struct d2_tensor *t, size_t i)
{
    char text[64];
    const char *p = t->data;
    switch (t->dtype) {
    case D2_DTYPE_F32: case D2_DTYPE_F16: case D2_DTYPE_BF16:
        format_float_element(text, sizeof text, t->data, t->dtype, i);
        put(b, text);
        break;
    case D2_DTYPE_F64: {
        double v;
        memcpy(&v, p + 8 * i, 8);
        format_double(text, sizeof text, v);
        put(b, text);
        break;
    }
    case D2_DTYPE_U64: {
        uint64_t v;
        memcpy(&v, p + 8 * i, 8);
        putf(b, "%" PRIu64, v);
        break;
    }
    case D2_DTYPE_BOOL:
        put(b, p[i] ? "1" : "0");
        break;
    default:
        putf(b, "%" PRId64, d2_load_i64(t->data, t->dtype, i));
        break;
    }
}

/* ---- types -------------------------------------------------------------------- */

static void put_type(struct text_buffer *b, const struct d2_type *t)
{
    put(b, t->dtype == D2_DTYPE_UNDEFINED ? "?" : d2_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > D2_MAX_RANK) {
        put(b, "[*]");
        return;
    }
    put(b, "[");
    for (int32_t i = 0; i < t->rank; i++) {
        if (i)
            put(b, ",");
        if (t->dims[i] >= 0) {
            putf(b, "%" PRId64, t->dims[i]);
            continue;
        }
        put(b, "?");
        if (t->symbols[i]) {
            if (t->symbols[i][0])
                put_name(b, t->symbols[i]);
            else
                put(b, "\"\"");
        }
        if (t->upper_bounds[i] >= 0)
            putf(b, "<=%" PRId64, t->upper_bounds[i]);
    }
    put(b, "]");
}

/* ---- attributes ----------------------------------------------------------------- */

static bool field_is_default(const struct d2_attr_field *f, const void *attrs)
{
    const char *p = (const char *)attrs + f->offset;
    switch (f->kind) {
    case D2_FIELD_INT: { int64_t v; memcpy(&v, p, sizeof v); return v == f->default_int; }
    case D2_FIELD_FLOAT: {
        double v;
        memcpy(&v, p, sizeof v);
        /* Bitwise, so that -0.0 and NaN payload differences still print. */
        return memcmp(&v, &f->default_float, sizeof v) == 0;
    }
    case D2_FIELD_INTS: { struct d2_ints v; memcpy(&v, p, sizeof v); return v.count == 0; }
    case D2_FIELD_FLOATS: { struct d2_floats v; memcpy(&v, p, sizeof v); return v.count == 0; }
    case D2_FIELD_STRING: { const char *v; memcpy(&v, p, sizeof v); return v == NULL; }
    case D2_FIELD_ENUM: { int32_t v; memcpy(&v, p, sizeof v); return v == f->default_int; }
    case D2_FIELD_DTYPE: { enum d2_dtype v; memcpy(&v, p, sizeof v); return (int64_t)v == f->default_int; }
    }
    return true;
}

static void put_field_value(struct text_buffer *b, const struct d2_attr_field *f, const void *attrs)
{
    const char *p = (const char *)attrs + f->offset;
    switch (f->kind) {
    case D2_FIELD_INT: { int64_t v; memcpy(&v, p, sizeof v); putf(b, "%" PRId64, v); break; }
    case D2_FIELD_FLOAT: { double v; memcpy(&v, p, sizeof v); put_attr_double(b, v); break; }
    case D2_FIELD_INTS: {
        struct d2_ints v;
        memcpy(&v, p, sizeof v);
        put(b, "[");
        for (uint32_t i = 0; i < v.count; i++)
            putf(b, i ? ", %" PRId64 : "%" PRId64, v.data[i]);
        put(b, "]");
        break;
    }
    case D2_FIELD_FLOATS: {
        struct d2_floats v;
        memcpy(&v, p, sizeof v);
        put(b, "[");
        for (uint32_t i = 0; i < v.count; i++) {
            if (i)
                put(b, ", ");
            put_attr_double(b, v.data[i]);
        }
        put(b, "]");
        break;
    }
    case D2_FIELD_STRING: { const char *v; memcpy(&v, p, sizeof v); put_quoted(b, v ? v : ""); break; }
    case D2_FIELD_ENUM: {
        int32_t v;
        const char *text;
        memcpy(&v, p, sizeof v);
        text = d2_attr_enum_name(f, v);
        if (text)
            put(b, text);
        else
            putf(b, "%d", (int)v); /* out of range: the verifier reports it; not parseable */
        break;
    }
    case D2_FIELD_DTYPE: { enum d2_dtype v; memcpy(&v, p, sizeof v); put(b, d2_dtype_name(v)); break; }
    }
}

/* `{a=1, b=[2, 3]}` with the non-default fields, or nothing when all are defaults
 * (control-flow ops always get `{}` so the region block reads unambiguously). */
static void put_attributes(struct text_buffer *b, const struct d2_node *node)
{
    const struct d2_op_info *info = d2_op_info(node->op);
    const struct d2_attr_schema *schema = info ? d2_attr_schema_get(info->attrs) : NULL;
    bool any = false;
    for (uint32_t i = 0; schema && node->attrs && i < schema->num_fields; i++) {
        const struct d2_attr_field *f = &schema->fields[i];
        if (field_is_default(f, node->attrs))
            continue;
        put(b, any ? ", " : " {");
        any = true;
        put(b, f->name);
        put(b, "=");
        put_field_value(b, f, node->attrs);
    }
    if (any)
        put(b, "}");
    else if (node->num_regions > 0)
        put(b, " {}");
}

/* ---- graphs ----------------------------------------------------------------------- */

static const char *region_name(enum d2_op op, uint32_t r)
{
    if (op == D2_OP_IF)
        return r == 0 ? "then" : "else";
    if (op == D2_OP_LOOP)
        return "body";
    return "region";
}

static void put_graph(struct text_buffer *b, const struct d2_graph *g, const char *name, int depth,
                      const struct d2_print_options *opts);

static void put_constant(struct text_buffer *b, const struct d2_graph *g, d2_value_id v, int depth,
                         const struct d2_print_options *opts)
{
    const struct d2_tensor *t = &g->constants[g->values[v].constant];
    int64_t numel = d2_tensor_numel(t);
    indent(b, depth);
    put_value_ref(b, g, v);
    put(b, ": ");
    put_type(b, &g->values[v].type);
    if (numel < 0 || (numel > 0 && !t->data) ||
        (opts && opts->max_constant_elements >= 0 && numel > opts->max_constant_elements)) {
        putf(b, " = const <%zu bytes>\n", t->nbytes);
        return;
    }
    put(b, " = const [");
    for (int64_t i = 0; i < numel; i++) {
        if (i)
            put(b, ", ");
        put_element(b, t, (size_t)i);
    }
    put(b, "]\n");
}

static void put_node(struct text_buffer *b, const struct d2_graph *g, const struct d2_node *node, int depth,
                     const struct d2_print_options *opts)
{
    indent(b, depth);
    for (uint32_t i = 0; i < node->num_outputs; i++) {
        d2_value_id v = node->outputs[i];
        if (i)
            put(b, ", ");
        put_value_ref(b, g, v);
        if (v < g->num_values) {
            put(b, ": ");
            put_type(b, &g->values[v].type);
        }
    }
    if (node->num_outputs)
        put(b, " = ");
    put(b, d2_op_name(node->op));
    if (node->name && node->name[0]) {
        put(b, " @");
        put_name(b, node->name);
    }
    put(b, "(");
    for (uint32_t i = 0; i < node->num_inputs; i++) {
        if (i)
            put(b, ", ");
        put_value_ref(b, g, node->inputs[i]);
    }
    put(b, ")");
    put_attributes(b, node);
    if (node->num_regions == 0) {
        put(b, "\n");
        return;
    }
    put(b, " {\n");
    for (uint32_t r = 0; r < node->num_regions; r++)
        put_graph(b, node->regions[r], region_name(node->op, r), depth + 1, opts);
    indent(b, depth);
    put(b, "}\n");
}

static void put_graph(struct text_buffer *b, const struct d2_graph *g, const char *name, int depth,
                      const struct d2_print_options *opts)
{
    indent(b, depth);
    put(b, "graph ");
    put(b, name);
    put(b, "(");
    for (uint32_t i = 0; i < g->num_inputs; i++) {
        d2_value_id v = g->inputs[i];
        if (i)
            put(b, ", ");
        put_value_ref(b, g, v);
        if (v < g->num_values) {
            put(b, ": ");
            put_type(b, &g->values[v].type);
        }
    }
    put(b, ") {\n");
    /* Constants in constant-table order: the parser numbers them in text order. */
    for (uint32_t c = 0; c < g->num_constants; c++)
        for (d2_value_id v = 0; v < g->num_values; v++)
            if (g->values[v].constant == (int32_t)c) {
                put_constant(b, g, v, depth + 1, opts);
                break;
            }
    for (uint32_t n = 0; n < g->num_nodes; n++)
        put_node(b, g, &g->nodes[n], depth + 1, opts);
    indent(b, depth + 1);
    put(b, "return");
    for (uint32_t i = 0; i < g->num_outputs; i++) {
        put(b, i ? ", " : " ");
        put_value_ref(b, g, g->outputs[i]);
    }
    put(b, "\n");
    indent(b, depth);
    put(b, "}\n");
}

char *d2_print_graph(const struct d2_graph *g, const struct d2_print_options *opts, struct d2_error *err)
{
    struct text_buffer b = { g->alloc ? g->alloc : d2_allocator_default(), NULL, 0, 0, false };
    for (uint32_t i = 0; i < g->num_metadata; i++) {
        put(&b, "meta ");
        put_quoted(&b, g->metadata[i].key);
        put(&b, " = ");
        put_quoted(&b, g->metadata[i].value);
        put(&b, "\n");
    }
    put_graph(&b, g, "main", 0, opts);
    if (b.failed) {
        d2_free(b.alloc, b.data);
        d2_errorf(err, D2_ERR_NOMEM, "out of memory printing the graph");
        return NULL;
    }
    return b.data;
}
