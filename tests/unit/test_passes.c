/* tests/unit/test_passes.c: the pass pipeline (passes/pipeline.c) and golden pass
 * tests.
 *
 * Golden tests: every tests/passes/<name>.d2ir holds
 *     # passes: dce[,other]        the passes to run, in pipeline order
 *     <the input graph in IR text>
 *     # expect:
 *     # <expected IR text, each line behind "# ">
 * so the whole file is itself valid IR text (the expectation is comments). The
 * runner parses the file, runs the listed passes with verification on, and
 * compares the printed result with the expectation byte for byte; running the
 * passes a second time must change nothing (passes are idempotent). Run from the
 * repository root.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "passes/passes.h"

#define GOLDEN_DIR "tests/passes"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    ck_assert(fread(text, 1, (size_t)n, f) == (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The "# passes:" list (copied into out) and the "# expect:" text (malloc'd). */
static char *split_golden(const char *path, const char *text, char *passes, size_t passes_size)
{
    const char *p = strstr(text, "# passes:"), *expect = strstr(text, "\n# expect:\n");
    size_t n;
    char *out, *o;
    ck_assert_msg(p != NULL && expect != NULL, "%s: needs '# passes:' and '# expect:' lines", path);
    p += strlen("# passes:");
    while (*p == ' ')
        p++;
    n = strcspn(p, "\n");
    ck_assert(n < passes_size);
    memcpy(passes, p, n);
    passes[n] = '\0';
    expect += strlen("\n# expect:\n");
    out = o = malloc(strlen(expect) + 1);
    while (*expect) {
        size_t len = strcspn(expect, "\n");
        ck_assert_msg(expect[0] == '#', "%s: expectation line without '#': %.*s", path, (int)len, expect);
        if (len >= 2 && expect[1] == ' ') {
            memcpy(o, expect + 2, len - 2);
            o += len - 2;
        }
        *o++ = '\n';
        expect += len + (expect[len] == '\n');
    }
    *o = '\0';
    return out;
}

static int golden_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".d2ir") == 0;
}

START_TEST(golden_pass_tests)
{
    struct dirent **files;
    int count = scandir(GOLDEN_DIR, &files, golden_filter, alphasort), failures = 0;
    ck_assert_msg(count > 0, "no golden tests in %s (run from the repository root)", GOLDEN_DIR);
    for (int i = 0; i < count; i++) {
        char path[512], passes[256];
        struct d2_error err = { D2_OK, "" };
        struct d2_pass_options options = { .verify = true };
        char *text, *expected, *got = NULL, *again = NULL;
        struct d2_graph *g;
        snprintf(path, sizeof path, GOLDEN_DIR "/%.400s", files[i]->d_name);
        text = read_file(path);
        expected = split_golden(path, text, passes, sizeof passes);
        options.only = passes;
        g = d2_parse_graph(text, strlen(text), NULL, &err);
        if (!g) {
            printf("%s: %s\n", path, err.message);
            failures++;
        } else if (d2_run_passes(g, &options, &err) != D2_OK) {
            printf("%s: %s\n", path, err.message);
            failures++;
        } else {
            got = d2_print_graph(g, NULL, &err);
            if (strcmp(got, expected) != 0) {
                printf("%s: result differs\n--- expected:\n%s--- got:\n%s", path, expected, got);
                failures++;
            } else if (d2_run_passes(g, &options, &err) != D2_OK ||
                       strcmp((again = d2_print_graph(g, NULL, &err)), got) != 0) {
                printf("%s: a second run changed the graph or failed: %s\n", path, err.message);
                failures++;
            }
        }
        free(again);
        free(got);
        free(expected);
        free(text);
        d2_graph_free(g);
        free(files[i]);
    }
    free(files);
    ck_assert_msg(failures == 0, "%d golden pass tests failed (listed above)", failures);
}
END_TEST

START_TEST(pipeline_table_is_ordered)
{
    uint32_t count;
    const struct d2_pass *table = d2_pass_table(&count);
    ck_assert_uint_ge(count, 2);
    ck_assert_str_eq(table[0].name, "infer_shapes");
    /* Lowering runs before dce, which removes what the lowering leaves unread. */
    ck_assert_ptr_nonnull(d2_pass_find("dce"));
    ck_assert(d2_pass_find("lower_roi_align") < d2_pass_find("dce"));
    ck_assert(d2_pass_find("lower_nms") < d2_pass_find("dce"));
    ck_assert(d2_pass_find("lower_roi_align") < d2_pass_find("roialign_aligned"));
    ck_assert(d2_pass_find("roialign_aligned") < d2_pass_find("dce"));
    ck_assert(d2_pass_find("roialign_aligned")->opt_in);
    ck_assert(!d2_pass_find("lower_nms")->opt_in);
    ck_assert_ptr_null(d2_pass_find("nope"));
}
END_TEST

START_TEST(unknown_pass_is_rejected)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_graph_new(NULL, &err);
    struct d2_pass_options options = { .only = "dce, dcee" };
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_ERR_INVALID_ARG);
    ck_assert_str_eq(err.message, "unknown pass 'dcee'");
    d2_graph_free(g);
}
END_TEST

struct dump_log {
    int calls;
    char last_pass[32];
    char text[1024];
};

static void record_dump(void *user, const char *pass, const char *ir_text)
{
    struct dump_log *log = user;
    log->calls++;
    snprintf(log->last_pass, sizeof log->last_pass, "%s", pass);
    snprintf(log->text, sizeof log->text, "%s", ir_text);
}

START_TEST(dump_callback_sees_ir_after_the_pass)
{
    const char *text = "graph main(%x: f32[2]) {\n  %d: f32[2] = exp(%x)\n  return %x\n}\n";
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    struct dump_log log = { 0, "", "" };
    struct d2_pass_options options = { .only = "dce", .dump_after = "dce", .dump = record_dump, .dump_user = &log, .verify = true };
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_OK);
    ck_assert_int_eq(log.calls, 1);
    ck_assert_str_eq(log.last_pass, "dce");
    ck_assert_str_eq(log.text, "graph main(%x: f32[2]) {\n  return %x\n}\n");
    options.dump_after = "infer_shapes"; /* a pass that does not run: no dump */
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_OK);
    ck_assert_int_eq(log.calls, 1);
    options.dump_after = "all";
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_OK);
    ck_assert_int_eq(log.calls, 2);
    d2_graph_free(g);
}
END_TEST

START_TEST(verification_failure_names_the_pass)
{
    const char *text = "graph main(%x: f32[2], %p: i64[2]) {\n  %y = pad(%x, %p)\n  return %y\n}\n";
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    struct d2_pass_options options = { .only = "dce", .verify = true };
    ((struct d2_attrs_pad *)g->nodes[0].attrs)->mode = 17; /* corrupt: the pass keeps it */
    ck_assert_int_eq(d2_run_passes(g, &options, &err), D2_ERR_INTERNAL);
    ck_assert_msg(strstr(err.message, "after pass dce") && strstr(err.message, "(pad): attribute mode = 17"), "%s",
                  err.message);
    d2_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("passes");
    TCase *tc = tcase_create("passes");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, golden_pass_tests);
    tcase_add_test(tc, pipeline_table_is_ordered);
    tcase_add_test(tc, unknown_pass_is_rejected);
    tcase_add_test(tc, dump_callback_sees_ir_after_the_pass);
    tcase_add_test(tc, verification_failure_names_the_pass);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
