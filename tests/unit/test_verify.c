/* tests/unit/test_verify.c: d2_verify_graph accepts valid graphs and detects each
 * broken invariant (one test per invariant: the graph is parsed valid, verified OK,
 * then broken by hand), with D2_ERR_INTERNAL and a message naming node, op and
 * problem. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static const char *const valid_text =
    "graph main(%x: f32[2,3], %c: bool[]) {\n"
    "  %w: f32[3] = const [1, 2, 3]\n"
    "  %pads: i64[4] = const [0, 0, 0, 0]\n"
    "  %y: f32[2,3] = add @adder(%x, %w)\n"
    "  %z: f32[2,3] = relu @act(%y)\n"
    "  %p: f32[2,3] = pad @padder(%z, %pads, _) {mode=edge}\n"
    "  %o: f32[2,3] = if @branch(%c, %z) {} {\n"
    "    graph then(%a: f32[2,3]) {\n"
    "      %n: f32[2,3] = neg(%a)\n"
    "      return %n\n"
    "    }\n"
    "    graph else(%b: f32[2,3]) {\n"
    "      return %b\n"
    "    }\n"
    "  }\n"
    "  return %o, %p\n"
    "}\n";

static struct d2_graph *valid_graph(void)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(valid_text, strlen(valid_text), NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_msg(d2_verify_graph(g, &err) == D2_OK, "valid graph rejected: %s", err.message);
    return g;
}

static int32_t node_named(const struct d2_graph *g, const char *name)
{
    for (uint32_t i = 0; i < g->num_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return (int32_t)i;
    ck_abort_msg("no node %s", name);
    return -1;
}

static void expect_broken(struct d2_graph *g, const char *fragment1, const char *fragment2)
{
    struct d2_error err = { D2_OK, "" };
    ck_assert_int_eq(d2_verify_graph(g, &err), D2_ERR_INTERNAL);
    ck_assert_msg(strstr(err.message, fragment1) != NULL, "message '%s' lacks '%s'", err.message, fragment1);
    if (fragment2)
        ck_assert_msg(strstr(err.message, fragment2) != NULL, "message '%s' lacks '%s'", err.message, fragment2);
    d2_graph_free(g);
}

START_TEST(valid_graph_passes)
{
    d2_graph_free(valid_graph());
}
END_TEST

START_TEST(detects_input_id_out_of_range)
{
    struct d2_graph *g = valid_graph();
    g->nodes[node_named(g, "act")].inputs[0] = 999;
    expect_broken(g, "node 'act' #", "(relu): input 0 is value 999");
}
END_TEST

START_TEST(detects_use_before_definition)
{
    struct d2_graph *g = valid_graph();
    int32_t act = node_named(g, "act");
    g->nodes[act].inputs[0] = g->nodes[act].outputs[0]; /* relu now reads its own output */
    expect_broken(g, "(relu): input 0 %z is used before it is defined", NULL);
}
END_TEST

START_TEST(detects_two_producers)
{
    struct d2_graph *g = valid_graph();
    d2_value_id y = d2_graph_find_value(g, "y");
    g->values[y].constant = 0; /* also claims to be constant 0 */
    expect_broken(g, "value %y has 2 producers", NULL);
}
END_TEST

START_TEST(detects_wrong_producer_slot)
{
    struct d2_graph *g = valid_graph();
    d2_value_id z = d2_graph_find_value(g, "z");
    g->values[z].producer = node_named(g, "adder");
    expect_broken(g, "node 'adder'", "value %z claims to be its output 0");
}
END_TEST

START_TEST(detects_output_produced_twice)
{
    struct d2_graph *g = valid_graph();
    /* relu claims adder's output as its own: the value's producer says adder */
    g->nodes[node_named(g, "act")].outputs[0] = d2_graph_find_value(g, "y");
    expect_broken(g, "value %z", NULL);
}
END_TEST

START_TEST(detects_graph_input_mismatch)
{
    struct d2_graph *g = valid_graph();
    g->values[g->inputs[1]].input_index = 0;
    expect_broken(g, "claims to be graph input 0", NULL);
}
END_TEST

START_TEST(detects_undefined_graph_output)
{
    struct d2_graph *g = valid_graph();
    g->outputs[1] = 12345;
    expect_broken(g, "graph output 1 is value 12345", NULL);
}
END_TEST

START_TEST(detects_too_few_inputs)
{
    struct d2_graph *g = valid_graph();
    g->nodes[node_named(g, "adder")].num_inputs = 1;
    expect_broken(g, "node 'adder' #", "(add): has 1 inputs");
}
END_TEST

START_TEST(detects_too_many_outputs)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_graph_new(NULL, &err);
    d2_value_id x = d2_graph_add_input(g, "x", NULL, &err);
    int32_t n = d2_graph_add_node(g, D2_OP_RELU, "r", 1, &x, 2, NULL, &err);
    ck_assert_int_ge(n, 0);
    expect_broken(g, "node 'r' #0 (relu): has 2 outputs", NULL);
}
END_TEST

START_TEST(detects_missing_required_input)
{
    struct d2_graph *g = valid_graph();
    g->nodes[node_named(g, "padder")].inputs[1] = D2_NO_VALUE;
    expect_broken(g, "(pad): required input 1 is missing", NULL);
}
END_TEST

START_TEST(allows_missing_optional_input)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = valid_graph();
    ck_assert_uint_eq(g->nodes[node_named(g, "padder")].inputs[2], D2_NO_VALUE);
    ck_assert_int_eq(d2_verify_graph(g, &err), D2_OK);
    d2_graph_free(g);
}
END_TEST

START_TEST(detects_region_count)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = valid_graph();
    struct d2_node *branch = &g->nodes[node_named(g, "branch")];
    branch->num_regions = 1;
    ck_assert_int_eq(d2_verify_graph(g, &err), D2_ERR_INTERNAL);
    ck_assert_msg(strstr(err.message, "(if): has 1 regions; the op needs 2") != NULL, "%s", err.message);
    branch->num_regions = 2; /* so that d2_graph_free releases both regions */
    d2_graph_free(g);
}
END_TEST

START_TEST(detects_region_signature)
{
    struct d2_graph *g = valid_graph();
    g->nodes[node_named(g, "branch")].regions[1]->num_outputs = 0;
    expect_broken(g, "(if): region else takes 1 inputs and returns 0 outputs", NULL);
}
END_TEST

START_TEST(detects_broken_region_body)
{
    struct d2_graph *g = valid_graph();
    struct d2_graph *then_region = g->nodes[node_named(g, "branch")].regions[0];
    then_region->nodes[0].inputs[0] = 77;
    expect_broken(g, "node 'branch' #", "region 0: node '' #0 (neg): input 0 is value 77");
}
END_TEST

START_TEST(detects_enum_out_of_range)
{
    struct d2_graph *g = valid_graph();
    ((struct d2_attrs_pad *)g->nodes[node_named(g, "padder")].attrs)->mode = 42;
    expect_broken(g, "(pad): attribute mode = 42 is not a valid enum value", NULL);
}
END_TEST

START_TEST(detects_dtype_attribute_out_of_range)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_graph_new(NULL, &err);
    struct d2_type t;
    d2_value_id x;
    int32_t n;
    d2_type_init(&t, D2_DTYPE_F32, 0, NULL);
    x = d2_graph_add_input(g, "x", &t, &err);
    n = d2_graph_add_node(g, D2_OP_CAST, "caster", 1, &x, 1, NULL, &err);
    ((struct d2_attrs_cast *)g->nodes[n].attrs)->to = (enum d2_dtype)99;
    expect_broken(g, "node 'caster' #0 (cast): attribute to = 99 is not a dtype", NULL);
}
END_TEST

START_TEST(detects_duplicate_value_names)
{
    struct d2_graph *g = valid_graph();
    g->values[d2_graph_find_value(g, "z")].name = "y";
    expect_broken(g, "value name 'y' is used by more than one value", NULL);
}
END_TEST

START_TEST(detects_constant_type_mismatch)
{
    struct d2_graph *g = valid_graph();
    g->values[d2_graph_find_value(g, "w")].type.dims[0] = 4;
    expect_broken(g, "constant %w: value type dim 0 is 4, the tensor's is 3", NULL);
}
END_TEST

START_TEST(detects_constant_size_mismatch)
{
    struct d2_graph *g = valid_graph();
    g->constants[g->values[d2_graph_find_value(g, "w")].constant].nbytes = 8;
    expect_broken(g, "constant %w holds 8 bytes, its shape needs 12", NULL);
}
END_TEST

START_TEST(detects_type_disagreeing_with_shape_inference)
{
    struct d2_graph *g = valid_graph();
    struct d2_value *z = &g->values[d2_graph_find_value(g, "z")];
    if (!d2_shape_function(D2_OP_RELU)) {
        d2_graph_free(g);
        return; /* nothing to compare against without relu's shape function */
    }
    z->type.dims[1] = 4;
    expect_broken(g, "node 'act' #", "(relu): output %z dim 1 is stored as 4, shape inference says 3");
}
END_TEST

START_TEST(detects_dtype_disagreeing_with_shape_inference)
{
    struct d2_graph *g = valid_graph();
    if (!d2_shape_function(D2_OP_ADD)) {
        d2_graph_free(g);
        return;
    }
    g->values[d2_graph_find_value(g, "y")].type.dtype = D2_DTYPE_I64;
    expect_broken(g, "(add): output %y is stored as i64, shape inference says f32", NULL);
}
END_TEST

START_TEST(unknown_facts_are_not_disagreements)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = valid_graph();
    d2_type_init_unknown(&g->values[d2_graph_find_value(g, "z")].type);
    g->values[d2_graph_find_value(g, "y")].type.dims[0] = D2_DIM_UNKNOWN;
    ck_assert_msg(d2_verify_graph(g, &err) == D2_OK, "%s", err.message);
    d2_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("verify");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, valid_graph_passes);
    tcase_add_test(tc, detects_input_id_out_of_range);
    tcase_add_test(tc, detects_use_before_definition);
    tcase_add_test(tc, detects_two_producers);
    tcase_add_test(tc, detects_wrong_producer_slot);
    tcase_add_test(tc, detects_output_produced_twice);
    tcase_add_test(tc, detects_graph_input_mismatch);
    tcase_add_test(tc, detects_undefined_graph_output);
    tcase_add_test(tc, detects_too_few_inputs);
    tcase_add_test(tc, detects_too_many_outputs);
    tcase_add_test(tc, detects_missing_required_input);
    tcase_add_test(tc, allows_missing_optional_input);
    tcase_add_test(tc, detects_region_count);
    tcase_add_test(tc, detects_region_signature);
    tcase_add_test(tc, detects_broken_region_body);
    tcase_add_test(tc, detects_enum_out_of_range);
    tcase_add_test(tc, detects_dtype_attribute_out_of_range);
    tcase_add_test(tc, detects_duplicate_value_names);
    tcase_add_test(tc, detects_constant_type_mismatch);
    tcase_add_test(tc, detects_constant_size_mismatch);
    tcase_add_test(tc, detects_type_disagreeing_with_shape_inference);
    tcase_add_test(tc, detects_dtype_disagreeing_with_shape_inference);
    tcase_add_test(tc, unknown_facts_are_not_disagreements);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
