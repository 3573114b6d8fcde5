/* tests/unit/shape_check.h: helpers shared by the op families' shape-inference unit
 * tests (test_nn.c, test_reduce.c, test_detect2.c): build a one-node graph from IR text,
 * run d2_infer_graph, and check the inferred type or the error.
 * Include after <check.h> and "ir/ir.h"; every function is static (one test binary each). */
#ifndef D2_TESTS_SHAPE_CHECK_H
#define D2_TESTS_SHAPE_CHECK_H

#include <stdio.h>
#include <string.h>

static struct d2_graph *parse(const char *text, struct d2_error *err)
{
    d2_error_clear(err);
    return d2_parse_graph(text, strlen(text), d2_allocator_default(), err);
}

/* Build "graph main(<params>) { %y = <node> return %y }" text. */
static const char *one_node(const char *params, const char *node)
{
    static char text[2048];
    snprintf(text, sizeof text, "graph main(%s) {\n  %s\n  return %%y\n}\n", params, node);
    return text;
}

/* Inference must fail with D2_ERR_SHAPE and a message containing `needle`. */
static void expect_shape_error(const char *params, const char *node, const char *needle)
{
    struct d2_error err;
    const char *text = one_node(params, node);
    struct d2_graph *g = parse(text, &err);
    ck_assert_msg(g != NULL, "parse failed: %s", err.message);
    enum d2_status st = d2_infer_graph(g, &err);
    ck_assert_msg(st == D2_ERR_SHAPE, "expected a shape error, got %s (%s) for:\n%s", d2_status_name(st),
                  err.message, text);
    ck_assert_msg(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
    d2_graph_free(g);
}

/* The inferred type of %y, with symbol names reduced to "n" or "?" (they live in g). */
static struct d2_type inferred_type(const char *params, const char *node)
{
    struct d2_error err;
    struct d2_graph *g = parse(one_node(params, node), &err);
    ck_assert_msg(g != NULL, "parse failed: %s", err.message);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "inference failed: %s", err.message);
    struct d2_type t = g->values[g->outputs[0]].type;
    for (int32_t d = 0; d < t.rank; d++)
        t.symbols[d] = t.symbols[d] ? (strcmp(t.symbols[d], "n") == 0 ? "n" : "?") : NULL;
    d2_graph_free(g);
    return t;
}

static void assert_dims(const struct d2_type *t, int32_t rank, const int64_t *dims)
{
    ck_assert_int_eq(t->rank, rank);
    for (int32_t d = 0; d < rank; d++)
        ck_assert_msg(t->dims[d] == dims[d], "dim %d: got %lld, want %lld", (int)d, (long long)t->dims[d],
                      (long long)dims[d]);
}

#endif
