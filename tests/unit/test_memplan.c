/* tests/unit/test_memplan.c: the memory planner (passes/memplan.c), its checker, the
 * executor's use of the plan, and the plan's round trip through model.ir.
 *
 *   - every op test (tests/ops/<op>/<case>/) is run twice by the reference executor:
 *     as is, and with its outputs turned into planned intermediates (each graph output
 *     o becomes `identity(o)`, so o is planned and the op's kernel writes into the
 *     arena) plus a memory plan; the outputs must be identical bit for bit;
 *   - the checker rejects a plan in which two live values overlap, and accepts
 *     the planner's plans;
 *   - a planned graph keeps its plan through d2_artifact_write_buffer / load_buffer.
 * Run from the repository root.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "runtime/artifact.h"
#include "runtime/npy.h"

#define OPS_DIR "tests/ops"

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        fclose(f);
        return NULL;
    }
    text[n] = '\0';
    fclose(f);
    return text;
}

static int not_hidden(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Each graph output o becomes identity(o): o is an intermediate the planner places. */
static void route_outputs_through_identity(struct d2_graph *g)
{
    struct d2_error err = { D2_OK, "" };
    for (uint32_t i = 0; i < g->num_outputs; i++) {
        d2_value_id o = g->outputs[i];
        int32_t n = d2_graph_add_node(g, D2_OP_IDENTITY, "", 1, &o, 1, NULL, &err);
        ck_assert_msg(n >= 0, "%s", err.message);
        g->outputs[i] = d2_node_output(g, n, 0);
    }
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "%s", err.message);
}

static bool same_tensor(const struct d2_tensor *a, const struct d2_tensor *b)
{
    return a->dtype == b->dtype && a->rank == b->rank &&
           memcmp(a->dims, b->dims, sizeof a->dims[0] * (size_t)a->rank) == 0 && a->nbytes == b->nbytes &&
           (a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
}

/* 0: same results; 1: differ; -1: the case does not run (bad data or an expected
 * failure case): skipped, test_ops covers it. */
static int run_case(const char *dir, uint64_t *planned_values)
{
    char path[1024];
    struct d2_error err = { D2_OK, "" };
    char *text;
    struct d2_graph *g;
    struct d2_tensor inputs[16], plain[16], planned[16];
    uint32_t num_inputs = 0, num_outputs;
    int result = -1;

    snprintf(path, sizeof path, "%.900s/graph.d2ir", dir);
    text = read_text(path);
    if (!text)
        return -1;
    g = d2_parse_graph(text, strlen(text), NULL, &err);
    free(text);
    if (!g || d2_infer_graph(g, &err) != D2_OK || g->num_inputs > 16 || g->num_outputs > 16) {
        d2_graph_free(g);
        return -1;
    }
    memset(inputs, 0, sizeof inputs);
    memset(plain, 0, sizeof plain);
    memset(planned, 0, sizeof planned);
    for (; num_inputs < g->num_inputs; num_inputs++) {
        snprintf(path, sizeof path, "%.900s/in%u.npy", dir, num_inputs);
        if (d2_npy_read_file(path, NULL, &inputs[num_inputs], &err) != D2_OK)
            goto done;
    }
    num_outputs = g->num_outputs;
    if (d2_cpu_execute(g, inputs, num_inputs, plain, num_outputs, NULL, &err) != D2_OK)
        goto done;
    route_outputs_through_identity(g);
    ck_assert_msg(d2_pass_memplan(g, &err) == D2_OK, "%s: %s", dir, err.message);
    ck_assert_msg(d2_memory_plan_check(g, &err) == D2_OK, "%s: %s", dir, err.message);
    for (d2_value_id v = 0; v < g->num_values; v++)
        *planned_values += g->memory_plan->offsets[v] >= 0;
    ck_assert_msg(d2_cpu_execute(g, inputs, num_inputs, planned, num_outputs, NULL, &err) == D2_OK,
                  "%s: with the plan: %s", dir, err.message);
    result = 0;
    for (uint32_t i = 0; i < num_outputs; i++)
        if (!same_tensor(&plain[i], &planned[i])) {
            printf("%s: output %u differs with the memory plan\n", dir, i);
            result = 1;
        }
done:
    for (uint32_t i = 0; i < 16; i++) {
        d2_tensor_release(&inputs[i], NULL);
        d2_tensor_release(&plain[i], NULL);
        d2_tensor_release(&planned[i], NULL);
    }
    d2_graph_free(g);
    return result;
}

START_TEST(op_tests_agree_with_and_without_plan)
{
    struct dirent **ops;
    int num_ops = scandir(OPS_DIR, &ops, not_hidden, alphasort), ran = 0, failed = 0;
    uint64_t planned_values = 0;
    ck_assert_msg(num_ops > 0, "no op tests in %s (run from the repository root)", OPS_DIR);
    for (int i = 0; i < num_ops; i++) {
        char op_dir[512];
        struct dirent **cases;
        int num_cases;
        snprintf(op_dir, sizeof op_dir, OPS_DIR "/%.200s", ops[i]->d_name);
        num_cases = scandir(op_dir, &cases, not_hidden, alphasort);
        for (int k = 0; k < num_cases; k++) {
            char dir[1024];
            int r;
            snprintf(dir, sizeof dir, "%s/%.200s", op_dir, cases[k]->d_name);
            r = run_case(dir, &planned_values);
            ran += r >= 0;
            failed += r == 1;
            free(cases[k]);
        }
        free(cases);
        free(ops[i]);
    }
    free(ops);
    printf("memplan: %d op test cases agree with and without the plan (%llu planned values)\n", ran - failed,
           (unsigned long long)planned_values);
    ck_assert_int_gt(ran, 1000);
    ck_assert_uint_gt(planned_values, 1000);
    ck_assert_msg(failed == 0, "%d cases differ (listed above)", failed);
}
END_TEST

static const char chain_graph[] = "graph main(%x: f32[256]) {\n"
                                  "  %a: f32[256] = exp(%x)\n"
                                  "  %b: f32[256] = neg(%a)\n"
                                  "  %c: f32[256] = abs(%b)\n"
                                  "  %d: f32[256] = add(%c, %a)\n"
                                  "  %e: f32[256] = relu(%d)\n"
                                  "  return %e\n"
                                  "}\n";

START_TEST(plan_reuses_memory_and_checker_catches_overlap)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(chain_graph, strlen(chain_graph), NULL, &err);
    struct d2_memory_plan *plan;
    ck_assert_int_eq(d2_pass_memplan(g, &err), D2_OK);
    plan = g->memory_plan;
    ck_assert_ptr_nonnull(plan);
    /* a lives until d; b dies at c: b and d can share; 4 planned values (e is the
     * output) of 1 KiB; at most 3 are live at once (a, c, d at node d). */
    ck_assert_uint_eq(plan->naive_bytes, 4 * 1024);
    ck_assert_uint_eq(plan->arena_bytes, 3 * 1024);
    ck_assert_int_eq(plan->offsets[d2_graph_find_value(g, "e")], -1);
    ck_assert_int_eq(plan->offsets[d2_graph_find_value(g, "x")], -1);
    ck_assert_int_eq(d2_memory_plan_check(g, &err), D2_OK);
    /* Put a where c is: both live at node d. */
    plan->offsets[d2_graph_find_value(g, "a")] = plan->offsets[d2_graph_find_value(g, "c")];
    ck_assert_int_eq(d2_memory_plan_check(g, &err), D2_ERR_INTERNAL);
    ck_assert_msg(strstr(err.message, "live at the same time but overlap"), "%s", err.message);
    d2_graph_free(g);
}
END_TEST

START_TEST(plan_survives_the_artifact)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(chain_graph, strlen(chain_graph), NULL, &err), *loaded, *plain;
    void *data = NULL, *data2 = NULL, *aligned = NULL, *aligned2 = NULL;
    size_t size = 0, size2 = 0;
    ck_assert_int_eq(d2_pass_memplan(g, &err), D2_OK);
    ck_assert_msg(d2_artifact_write_buffer(g, NULL, &data, &size, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(posix_memalign(&aligned, 64, size), 0);
    memcpy(aligned, data, size);
    loaded = d2_artifact_load_buffer(aligned, size, NULL, &err);
    ck_assert_msg(loaded != NULL, "%s", err.message);
    ck_assert_ptr_nonnull(loaded->memory_plan);
    ck_assert_uint_eq(loaded->memory_plan->arena_bytes, g->memory_plan->arena_bytes);
    ck_assert_uint_eq(loaded->memory_plan->naive_bytes, g->memory_plan->naive_bytes);
    for (d2_value_id v = 0; v < g->num_values; v++) {
        ck_assert_int_eq(loaded->memory_plan->offsets[v], g->memory_plan->offsets[v]);
        ck_assert_uint_eq(loaded->memory_plan->sizes[v], g->memory_plan->sizes[v]);
    }
    ck_assert_int_eq(d2_memory_plan_check(loaded, &err), D2_OK);
    /* Without a plan the file is a version 1.0 file, as before; with one, 1.1. */
    ck_assert_uint_eq(((const uint8_t *)data)[10], 1);
    g->memory_plan = NULL;
    ck_assert_int_eq(d2_artifact_write_buffer(g, NULL, &data2, &size2, &err), D2_OK);
    ck_assert_uint_eq(((const uint8_t *)data2)[10], 0);
    ck_assert_uint_lt(size2, size);
    ck_assert_int_eq(posix_memalign(&aligned2, 64, size2), 0);
    memcpy(aligned2, data2, size2);
    plain = d2_artifact_load_buffer(aligned2, size2, NULL, &err);
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_null(plain->memory_plan);
    d2_graph_free(plain);
    d2_graph_free(loaded);
    d2_graph_free(g);
    free(aligned);
    free(aligned2);
    d2_free(NULL, data);
    d2_free(NULL, data2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memplan");
    TCase *tc = tcase_create("memplan");
    SRunner *sr;
    int failed;
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, op_tests_agree_with_and_without_plan);
    tcase_add_test(tc, plan_reuses_memory_and_checker_catches_overlap);
    tcase_add_test(tc, plan_survives_the_artifact);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
