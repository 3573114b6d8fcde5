/* tests/unit/test_ir_text.c: the IR text form (ir/print.c, ir/parse.c).
 *
 * - Canonical texts (every attribute kind in attrs.def, regions, every dtype,
 *   symbolic/bounded/unknown dims, quoted names, metadata, node names) print back
 *   byte for byte after parsing, and parse to the expected in-memory graph.
 * - Non-canonical input (no types, comments, odd spacing) prints canonically, and
 *   that print is a fixed point.
 * - Random float bit patterns of f32/f16/bf16/f64 constants survive print/parse.
 * - Malformed texts fail with "line:col: message" at the right position.
 * - Every truncation and many byte mutations of a valid text never crash (run
 *   under `make SAN=1` for the memory checks), and allocation failures at every
 *   point of a parse return D2_ERR_NOMEM without leaks.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static char *print_graph(const struct d2_graph *g)
{
    struct d2_error err = { D2_OK, "" };
    char *text = d2_print_graph(g, NULL, &err);
    ck_assert_msg(text != NULL, "print failed: %s", err.message);
    return text;
}

static struct d2_graph *parse_ok(const char *text)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    ck_assert_msg(g != NULL, "parse failed: %s\n--- text:\n%s", err.message, text);
    return g;
}

/* parse(text) prints exactly `text`. */
static void assert_canonical(const char *text)
{
    struct d2_graph *g = parse_ok(text);
    char *printed = print_graph(g);
    ck_assert_msg(strcmp(printed, text) == 0, "--- expected:\n%s--- printed:\n%s", text, printed);
    free(printed);
    d2_graph_free(g);
}

static const char *const everything_text =
    "meta \"export_method\" = \"onnx\"\n"
    "meta \"odd \\\"key\\\"\\n\" = \"tab\\there \\\\ \\xc3\\xa9\"\n"
    "graph main(%x: f32[1,3,?h,?w], %k: i64[1], %\"in put\": ?[*], %q: bf16[?<=5,?\"n m\"<=7,?], %r: f16[*], "
    "%s: ?[2,?batch]) {\n"
    "  %w: f32[2,3,1,1] = const [1, 0, -0, 0.1, 3.4028235e+38, 1e-45]\n"
    "  %b: f32[2] = const [inf, nan]\n"
    "  %h: f16[3] = const [0.1, -inf, 6.55e+04]\n"
    "  %bb: bf16[2] = const [3.14, 9e-41]\n"
    "  %d: f64[4] = const [0.1, 1e+300, -0, 5e-324]\n"
    "  %i64: i64[2] = const [-9223372036854775808, 9223372036854775807]\n"
    "  %i32: i32[2] = const [-2147483648, 2147483647]\n"
    "  %i16: i16[2] = const [-32768, 32767]\n"
    "  %i8: i8[] = const [-128]\n"
    "  %u8: u8[1] = const [255]\n"
    "  %u16: u16[1] = const [65535]\n"
    "  %u32: u32[1] = const [4294967295]\n"
    "  %u64: u64[2] = const [18446744073709551615, 0]\n"
    "  %empty: bool[0,3] = const []\n"
    "  %flags: bool[2,1] = const [1, 0]\n"
    "  %y: f32[1,2,?h,?w] = conv @\"backbone/conv 1\"(%x, %w, _) {pads=[1, 1, 1, 1], group=2, auto_pad=same_lower}\n"
    "  %y2: ?[*] = conv @backbone/conv2(%x, %w)\n"
    "  %lr: f32[*] = leaky_relu(%y) {alpha=0.2f}\n"
    "  %lr2: f32[*] = leaky_relu(%lr) {alpha=0.2}\n"
    "  %lr3: f32[*] = leaky_relu(%lr2) {alpha=-0}\n"
    "  %vals: f32[?], %idx: i64[?<=100] = topk(%lr, %k) {axis=0, sorted=0}\n"
    "  %c: f16[*] = cast(%vals) {to=f16}\n"
    "  %e: ?[*] = eye_like(%c) {dtype=bool, k=-3}\n"
    "  %rs: ?[*] = resize(%c, _, _, %k) {mode=cubic, coordinate_transformation_mode=tf_crop_and_resize, "
    "cubic_coeff_a=-0.5, extrapolation_value=inf, axes=[-1, 9223372036854775807, -9223372036854775808]}\n"
    "  %sh: i64[?] = shape(%x) {start=1, end=-1}\n"
    "  %\"x:\": ?[*] = identity(%sh)\n"
    "  %x:1: ?[*] = identity(%\"x:\")\n"
    "  return %lr3, %idx, %lr3, %x:1\n"
    "}\n";

START_TEST(canonical_text_round_trips)
{
    assert_canonical(everything_text);
    assert_canonical("graph main() {\n  return\n}\n");
}
END_TEST

START_TEST(parsed_graph_holds_what_the_text_says)
{
    struct d2_graph *g = parse_ok(everything_text);
    const struct d2_value *x = &g->values[g->inputs[0]];
    const struct d2_value *q = &g->values[g->inputs[3]];
    const struct d2_tensor *w = d2_graph_constant_of(g, d2_graph_find_value(g, "w"));
    const struct d2_tensor *h = d2_graph_constant_of(g, d2_graph_find_value(g, "h"));
    const struct d2_tensor *u64 = d2_graph_constant_of(g, d2_graph_find_value(g, "u64"));
    const struct d2_node *conv = &g->nodes[0];
    const struct d2_attrs_conv *conv_attrs = conv->attrs;
    const struct d2_attrs_alpha *alpha0 = g->nodes[2].attrs, *alpha1 = g->nodes[3].attrs;
    uint64_t u64_max;
    float f;

    ck_assert_str_eq(d2_graph_get_metadata(g, "export_method"), "onnx");
    ck_assert_str_eq(d2_graph_get_metadata(g, "odd \"key\"\n"), "tab\there \\ \xc3\xa9");
    ck_assert_int_eq(g->num_inputs, 6);
    ck_assert_str_eq(g->values[g->inputs[2]].name, "in put");
    ck_assert_int_eq(x->type.dtype, D2_DTYPE_F32);
    ck_assert_int_eq(x->type.rank, 4);
    ck_assert_int_eq(x->type.dims[1], 3);
    ck_assert_int_eq(x->type.dims[2], D2_DIM_UNKNOWN);
    ck_assert_str_eq(x->type.symbols[2], "h");
    ck_assert_int_eq(q->type.upper_bounds[0], 5);
    ck_assert_ptr_null(q->type.symbols[0]);
    ck_assert_str_eq(q->type.symbols[1], "n m");
    ck_assert_int_eq(q->type.upper_bounds[1], 7);
    ck_assert_int_eq(q->type.upper_bounds[2], -1);
    ck_assert_int_eq(g->values[g->inputs[2]].type.rank, D2_RANK_UNKNOWN);
    ck_assert_int_eq(g->values[g->inputs[2]].type.dtype, D2_DTYPE_UNDEFINED);

    ck_assert_int_eq(w->dtype, D2_DTYPE_F32);
    memcpy(&f, (const char *)w->data + 8, 4);
    ck_assert(f == 0.0f && signbit(f)); /* -0 keeps its sign */
    memcpy(&f, (const char *)w->data + 20, 4);
    ck_assert(f == 1.40129846e-45f); /* smallest denormal */
    ck_assert_uint_eq(((const uint16_t *)h->data)[2], 0x7bff); /* f16 65504 */
    memcpy(&u64_max, u64->data, 8);
    ck_assert(u64_max == UINT64_MAX);

    ck_assert_int_eq(conv->op, D2_OP_CONV);
    ck_assert_str_eq(conv->name, "backbone/conv 1");
    ck_assert_int_eq(conv->num_inputs, 3);
    ck_assert_uint_eq(conv->inputs[2], D2_NO_VALUE);
    ck_assert_int_eq(conv_attrs->group, 2);
    ck_assert_int_eq(conv_attrs->pads.count, 4);
    ck_assert_int_eq(conv_attrs->auto_pad, D2_AUTO_PAD_SAME_LOWER);
    ck_assert_int_eq(conv_attrs->strides.count, 0); /* default */
    ck_assert_str_eq(g->nodes[1].name, "backbone/conv2");
    ck_assert(alpha0->alpha == (double)0.2f);
    ck_assert(alpha1->alpha == 0.2);
    ck_assert_int_eq(g->num_outputs, 4);
    ck_assert_uint_eq(g->outputs[0], g->outputs[2]);
    d2_graph_free(g);
}
END_TEST

static const char *const regions_text =
    "graph main(%c: bool[], %a: f32[2], %m: i64[]) {\n"
    "  %o: f32[2] = if(%c, %a) {} {\n"
    "    graph then(%a1: f32[2]) {\n"
    "      %t: f32[2] = neg(%a1)\n"
    "      return %t\n"
    "    }\n"
    "    graph else(%a2: f32[2]) {\n"
    "      return %a2\n"
    "    }\n"
    "  }\n"
    "  %v: f32[2], %scan: f32[?,2] = loop @loop1(%m, _, %a, %c) {num_carried=1} {\n"
    "    graph body(%i: i64[], %cond: bool[], %v_in: f32[2], %c_in: bool[]) {\n"
    "      %inner: f32[2] = if(%c_in, %v_in) {} {\n"
    "        graph then(%p: f32[2]) {\n"
    "          %one: f32[] = const [1]\n"
    "          %q: f32[2] = add(%p, %one)\n"
    "          return %q\n"
    "        }\n"
    "        graph else(%p: f32[2]) {\n"
    "          return %p\n"
    "        }\n"
    "      }\n"
    "      return %cond, %inner, %inner\n"
    "    }\n"
    "  }\n"
    "  loop(%m, _) {} {\n"
    "    graph body(%j: i64[], %cc: bool[]) {\n"
    "      return %cc\n"
    "    }\n"
    "  }\n"
    "  return %o, %v, %scan\n"
    "}\n";

START_TEST(regions_round_trip)
{
    struct d2_graph *g;
    assert_canonical(regions_text);
    g = parse_ok(regions_text);
    ck_assert_int_eq(g->num_nodes, 3);
    ck_assert_int_eq(g->nodes[0].num_regions, 2);
    ck_assert_int_eq(g->nodes[0].regions[0]->num_inputs, 1);
    ck_assert_ptr_eq(g->nodes[0].regions[0]->parent, g);
    ck_assert_str_eq(g->nodes[1].name, "loop1");
    ck_assert_int_eq(((const struct d2_attrs_loop *)g->nodes[1].attrs)->num_carried, 1);
    ck_assert_int_eq(g->nodes[1].regions[0]->nodes[0].regions[0]->num_constants, 1);
    ck_assert_int_eq(g->nodes[2].num_outputs, 0);
    d2_graph_free(g);
}
END_TEST

/* Loose input: comments, spacing, omitted types and `{}`, constants after nodes. */
START_TEST(loose_text_prints_canonically)
{
    const char *loose =
        "# a comment\n"
        "graph   main ( %x :f32[ 2 , ? ] ) {   # trailing comment\n"
        "  %y=relu(%x)   %z = add(%y,%two){}\n" /* %two is not defined yet: error below */
        "  return %z }";
    const char *loose_ok =
        "graph main(%x: f32[2,?]) {\n"
        "  %two: f32[] = const [2.0e0]\n"
        "  %y = relu(%x)   %z = add(%y,%two){}\n"
        "  %k: i64[1] = const [+5]   return %z, %k }  # end\n";
    const char *canonical =
        "graph main(%x: f32[2,?]) {\n"
        "  %two: f32[] = const [2]\n"
        "  %k: i64[1] = const [5]\n"
        "  %y: ?[*] = relu(%x)\n"
        "  %z: ?[*] = add(%y, %two)\n"
        "  return %z, %k\n"
        "}\n";
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(loose, strlen(loose), NULL, &err);
    char *printed;
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(err.message, "3:29: value %two is not defined") != NULL, "%s", err.message);
    g = parse_ok(loose_ok);
    printed = print_graph(g);
    ck_assert_msg(strcmp(printed, canonical) == 0, "printed:\n%s", printed);
    free(printed);
    d2_graph_free(g);
    assert_canonical(canonical);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random bit patterns of each float dtype come back bit for bit (NaNs as NaN). */
START_TEST(random_floats_round_trip_exactly)
{
    static const enum d2_dtype dtypes[] = { D2_DTYPE_F32, D2_DTYPE_F16, D2_DTYPE_BF16, D2_DTYPE_F64 };
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++) {
        struct d2_error err = { D2_OK, "" };
        struct d2_graph *g = d2_graph_new(NULL, &err), *back;
        int64_t n = 2000;
        struct d2_tensor t;
        const struct d2_tensor *got;
        size_t esize = d2_dtype_size(dtypes[k]);
        char *text, *text2;
        d2_value_id v;
        ck_assert_int_eq(d2_tensor_alloc(&t, d2_allocator_default(), dtypes[k], 1, &n, &err), D2_OK);
        for (int64_t i = 0; i < n; i++) {
            uint64_t bits = next_random();
            if (i % 3 == 0) /* also small magnitudes: clear high exponent bits */
                bits &= ~(esize == 8 ? 0x4000000000000000ull : esize == 4 ? 0x40000000ull : 0x4000ull);
            memcpy((char *)t.data + (size_t)i * esize, &bits, esize);
        }
        v = d2_graph_add_constant(g, "c", &t, &err);
        ck_assert(v != D2_NO_VALUE);
        ck_assert_int_eq(d2_graph_add_output(g, v, &err), D2_OK);
        text = print_graph(g);
        back = parse_ok(text);
        text2 = print_graph(back);
        ck_assert_str_eq(text, text2);
        got = d2_graph_constant_of(back, back->outputs[0]);
        for (int64_t i = 0; i < n; i++) {
            const char *a = (const char *)d2_graph_constant_of(g, v)->data + (size_t)i * esize;
            const char *b = (const char *)got->data + (size_t)i * esize;
            double da = d2_load_f64(a, dtypes[k], 0);
            if (isnan(da))
                ck_assert(isnan(d2_load_f64(b, dtypes[k], 0)));
            else
                ck_assert_msg(memcmp(a, b, esize) == 0, "%s element %lld: %.17g", d2_dtype_name(dtypes[k]),
                              (long long)i, da);
        }
        free(text);
        free(text2);
        d2_graph_free(g);
        d2_graph_free(back);
    }
}
END_TEST

/* Attribute doubles: shortest double text, or float text + `f` when shorter. */
START_TEST(attribute_doubles_round_trip_exactly)
{
    static const double values[] = { 0.1, (double)0.1f, 1e-5, (double)1e-5f, 1.0 / 3, (double)(1.0f / 3), -2.5,
                                     1e300, 5e-324, 1.67326319217681884765625, -0.0 };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct d2_error err = { D2_OK, "" };
        struct d2_graph *g = d2_graph_new(NULL, &err), *back;
        d2_value_id x = d2_graph_add_input(g, "x", NULL, &err);
        int32_t n = d2_graph_add_node(g, D2_OP_ELU, "", 1, &x, 1, NULL, &err);
        char *text;
        double got;
        ((struct d2_attrs_alpha *)g->nodes[n].attrs)->alpha = values[i];
        text = print_graph(g);
        back = parse_ok(text);
        got = ((const struct d2_attrs_alpha *)back->nodes[0].attrs)->alpha;
        ck_assert_msg(memcmp(&got, &values[i], sizeof got) == 0, "%.17g printed as %s", values[i], text);
        free(text);
        d2_graph_free(g);
        d2_graph_free(back);
    }
}
END_TEST

/* ---- errors ---------------------------------------------------------------------- */

static const struct {
    const char *text;
    const char *message; /* substring, starting with line:col */
} bad_texts[] = {
    { "", "1:1: expected 'graph', got end of input" },
    { "graph main( {", "1:13: expected a graph input" },
    { "graph other() { return }", "1:7: expected graph name 'main'" },
    { "graph main() {\n  return %nope\n}", "2:10: value %nope is not defined" },
    { "graph main(%x: f32[2]) {\n  %y = frobnicate(%x)\n  return %y\n}", "2:8: unknown op 'frobnicate'" },
    { "graph main(%x: f33[2]) { return }", "1:16: unknown dtype 'f33'" },
    { "graph main(%x: f32[1,2,3,4,5,6,7,8,9]) { return }", "1:36: more than D2_MAX_RANK" },
    { "graph main(%x: f32[99999999999999999999]) { return }", "1:20: integer out of range" },
    { "graph main(%x: f32[-1]) { return }", "1:20: integer -1 out of range" },
    { "graph main(%x: f32[2], %x: f32[2]) { return }", "1:24: value %x is defined twice" },
    { "graph main(%x: f32[2]) {\n  %x = relu(%x)\n  return\n}", "2:3: value %x is defined twice" },
    { "graph main(%x: f32[2]) {\n  %y = relu(%x) {alpha=1}\n  return\n}", "2:18: op 'relu' has no attribute 'alpha'" },
    { "graph main(%x: f32[2]) {\n  %y = elu(%x) {alpha=1, alpha=2}\n  return\n}", "2:26: attribute 'alpha' given twice" },
    { "graph main(%x: f32[2]) {\n  %y = pad(%x, %x) {mode=mirror}\n  return\n}", "2:26: 'mirror' is not a value" },
    { "graph main(%x: f32[2]) {\n  %y = conv(%x, %x) {group=1.5}\n  return\n}", "2:28: bad integer '1.5'" },
    { "graph main(%x: f32[2]) {\n  %y = elu(%x) {alpha=1e}\n  return\n}", "2:23: bad number '1e'" },
    { "graph main(%x: f32[2]) {\n  %y = cast(%x) {to=f128}\n  return\n}", "2:21: unknown dtype 'f128'" },
    { "graph main() {\n  %c: f32[2] = const [1, 2, 3]\n  return\n}", "2:29: constant has more than the 2 elements" },
    { "graph main() {\n  %c: f32[3] = const [1, 2]\n  return\n}", "2:27: constant has 2 elements, its type declares 3" },
    { "graph main() {\n  %c: f32[1000000000000] = const [1]\n  return\n}", "constant has 1 elements" },
    { "graph main() {\n  %c: f32[?] = const [1]\n  return\n}", "2:16: a constant needs a declared static type" },
    { "graph main() {\n  %c: u8[1] = const [256]\n  return\n}", "2:22: integer 256 out of range" },
    { "graph main() {\n  %c: bool[1] = const [2]\n  return\n}", "2:24: integer 2 out of range [0, 1]" },
    { "graph main() {\n  %c: f32[1] = const <4 bytes>\n  return\n}", "2:22: elided constant" },
    { "graph main() {\n  %c: i64[1] = const [0x10]\n  return\n}", "2:23: bad integer '0x10'" },
    { "graph main() {\n  %c: f64[1] = const [0x1p3]\n  return\n}", "2:23: bad number '0x1p3'" },
    { "graph main(%c: bool[]) {\n  %o = if(%c) {}\n  return\n}", "2:8: op 'if' needs 2 regions" },
    { "graph main(%c: bool[]) {\n  %o = relu(%c) { graph then() { return } }\n  return\n}", "2:17: op 'relu' has no regions" },
    { "graph main(%c: bool[]) {\n  %o = if(%c) {} {\n    graph else() { return }\n  }\n  return\n}",
      "3:11: expected graph name 'then'" },
    { "graph main(%c: bool[]) {\n  %o = if(%c) {} {\n    graph then() { return }\n  }\n  return\n}",
      "4:3: op 'if' needs 2 regions, got 1" },
    { "graph main() {\n  return\n}\nextra", "4:1: expected end of input after the graph" },
    { "meta \"a\" = \"b\"\nmeta \"a\" = \"c\"\ngraph main() { return }", "2:12: metadata key \"a\" given twice" },
    { "meta \"a\" = \"b\ngraph main() { return }", "1:12: unterminated string" },
    { "meta \"a\\q\" = \"b\"\ngraph main() { return }", "1:6: unknown escape '\\q'" },
    { "meta \"a\\x00\" = \"b\"\ngraph main() { return }", "1:6: bad \\x escape" },
    { "graph main(%\"\": f32[2]) { return }", "1:12: empty value name" },
    { "graph main() {\n  %a, %b = const [1]\n  return\n}", "2:12: a constant defines exactly one value" },
    { "graph main() {\n  $\n}", "2:3: expected a statement or 'return', got '$'" },
    { "graph main() {\n  \x01\n}", "2:3: expected a statement or 'return', got control character 0x01" },
    { "graph main(%x: f32[2]) {\n  %y = relu(%x,)\n  return\n}", "2:16: expected a value (%name) or _" },
};

START_TEST(errors_name_line_and_column)
{
    int wrong = 0;
    for (size_t i = 0; i < sizeof bad_texts / sizeof bad_texts[0]; i++) {
        struct d2_error err = { D2_OK, "" };
        struct d2_graph *g = d2_parse_graph(bad_texts[i].text, strlen(bad_texts[i].text), NULL, &err);
        if (g || err.code != D2_ERR_PARSE || !strstr(err.message, bad_texts[i].message)) {
            printf("bad text %zu: got %s '%s', want '%s'\n", i, g ? "a graph" : d2_status_name(err.code),
                   err.message, bad_texts[i].message);
            wrong++;
        }
        d2_graph_free(g);
    }
    ck_assert_msg(wrong == 0, "%d malformed texts gave the wrong error (listed above)", wrong);
}
END_TEST

/* Not NUL-terminated: the parser must honour `length`. */
START_TEST(parser_respects_length)
{
    const char *text = "graph main() {\n  return\n}\ngarbage";
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text) - 7, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    d2_graph_free(g);
}
END_TEST

START_TEST(truncations_and_mutations_never_crash)
{
    size_t n = strlen(everything_text) + strlen(regions_text);
    char *both = malloc(n + 1);
    strcpy(both, everything_text);
    for (size_t len = 0; len <= strlen(everything_text); len++) {
        struct d2_error err = { D2_OK, "" };
        char *copy = malloc(len + 1); /* exact size: overreads are caught by ASan */
        struct d2_graph *g;
        memcpy(copy, everything_text, len);
        g = d2_parse_graph(copy, len, NULL, &err);
        ck_assert(g != NULL || err.code != D2_OK);
        d2_graph_free(g);
        free(copy);
    }
    strcpy(both, regions_text);
    n = strlen(regions_text);
    for (int round = 0; round < 3000; round++) {
        struct d2_error err = { D2_OK, "" };
        static const char alphabet[] = "%@?\"\\{}()[],=:<*_-+.0123456789aefinx \n#\x80\x01";
        char *copy = malloc(n);
        struct d2_graph *g;
        memcpy(copy, both, n);
        for (int k = 0; k < 1 + round % 4; k++)
            copy[next_random() % n] = alphabet[next_random() % (sizeof alphabet - 1)];
        g = d2_parse_graph(copy, n, NULL, &err);
        if (g) { /* whatever parses must print and re-parse to the same text */
            char *a = print_graph(g);
            struct d2_graph *g2 = parse_ok(a);
            char *b = print_graph(g2);
            ck_assert_str_eq(a, b);
            free(a);
            free(b);
            d2_graph_free(g2);
        } else {
            ck_assert(strchr(err.message, ':') != NULL);
        }
        d2_graph_free(g);
        free(copy);
    }
    free(both);
}
END_TEST

/* An allocator that fails after `budget` successful allocations. */
static long alloc_budget;
static void *failing_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (alloc_budget-- <= 0)
        return NULL;
    return realloc(ptr, size);
}

START_TEST(allocation_failures_are_reported)
{
    struct d2_allocator failing = { failing_realloc, NULL };
    bool succeeded = false;
    for (long budget = 0; budget < 100000 && !succeeded; budget++) {
        struct d2_error err = { D2_OK, "" };
        struct d2_graph *g;
        alloc_budget = budget;
        g = d2_parse_graph(regions_text, strlen(regions_text), &failing, &err);
        if (g) {
            succeeded = true;
            alloc_budget = 1L << 40;
            d2_graph_free(g);
        } else {
            ck_assert_msg(err.code == D2_ERR_NOMEM, "budget %ld: %s", budget, err.message);
        }
    }
    ck_assert(succeeded);
}
END_TEST

START_TEST(elided_constants_print_their_size)
{
    struct d2_graph *g = parse_ok("graph main() {\n  %c: f32[3] = const [1, 2, 3]\n  return %c\n}\n");
    struct d2_print_options opts = { 2 };
    struct d2_error err = { D2_OK, "" };
    char *text = d2_print_graph(g, &opts, &err);
    ck_assert_ptr_nonnull(strstr(text, "%c: f32[3] = const <12 bytes>\n"));
    free(text);
    d2_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ir_text");
    TCase *tc = tcase_create("text");
    SRunner *sr;
    int failed;
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, canonical_text_round_trips);
    tcase_add_test(tc, parsed_graph_holds_what_the_text_says);
    tcase_add_test(tc, regions_round_trip);
    tcase_add_test(tc, loose_text_prints_canonically);
    tcase_add_test(tc, random_floats_round_trip_exactly);
    tcase_add_test(tc, attribute_doubles_round_trip_exactly);
    tcase_add_test(tc, errors_name_line_and_column);
    tcase_add_test(tc, parser_respects_length);
    tcase_add_test(tc, truncations_and_mutations_never_crash);
    tcase_add_test(tc, allocation_failures_are_reported);
    tcase_add_test(tc, elided_constants_print_their_size);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
