/* tests/unit/test_coverage.c: every op of ops.def has a shape function, a reference
 * CPU kernel and at least one op test case (tests/ops/<name>/<case>/graph.d2ir). */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/cpu/cpu.h"
#include "ir/ir.h"

static int count_cases(const char *op_name)
{
    char dir[512], path[1024];
    struct dirent *e;
    int cases = 0;
    DIR *d;
    snprintf(dir, sizeof dir, "tests/ops/%s", op_name);
    d = opendir(dir);
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s/graph.d2ir", dir, e->d_name);
        if (stat(path, &st) == 0)
            cases++;
    }
    closedir(d);
    return cases;
}

START_TEST(every_op_has_shape_kernel_and_test)
{
    int missing = 0;
    for (int op = 0; op < D2_OP_COUNT; op++) {
        const char *name = d2_op_name((enum d2_op)op);
        if (!d2_shape_function((enum d2_op)op)) {
            printf("op %s: no shape function (d2_shape_%s)\n", name, name);
            missing++;
        }
        if (!d2_cpu_ref_kernel((enum d2_op)op)) {
            printf("op %s: no reference CPU kernel (d2_cpu_ref_%s)\n", name, name);
            missing++;
        }
        if (count_cases(name) == 0) {
            printf("op %s: no op test in tests/ops/%s/\n", name, name);
            missing++;
        }
    }
    ck_assert_msg(missing == 0, "%d coverage gaps (listed above)", missing);
}
END_TEST

START_TEST(op_table_is_consistent)
{
    for (int op = 0; op < D2_OP_COUNT; op++) {
        const struct d2_op_info *info = d2_op_info((enum d2_op)op);
        enum d2_op back;
        ck_assert_ptr_nonnull(info);
        ck_assert(info->min_inputs <= info->max_inputs);
        ck_assert(info->min_outputs <= info->max_outputs);
        ck_assert(d2_op_from_name(info->name, &back) && back == (enum d2_op)op);
        ck_assert_ptr_nonnull(d2_attr_schema_get(info->attrs));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coverage");
    TCase *tc = tcase_create("ops");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, op_table_is_consistent);
    tcase_add_test(tc, every_op_has_shape_kernel_and_test);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
