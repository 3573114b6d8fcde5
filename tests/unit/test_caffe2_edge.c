/* tests/unit/test_caffe2_edge.c: edge cases of the Caffe2 detection operators as the
 * Caffe2 frontend lowers them (frontend/caffe2/caffe2_ops_detect.c onto the shared
 * detection IR ops), on tiny NetDefs whose inputs are init_net constants.
 *
 * Nets and expected outputs: tests/data/caffe2/edge/<case>/ (model.pb, model_init.pb,
 * out<k>.npy), written by tools/make_caffe2_edge_cases.py from tools/c2net.py's reference
 * interpreter (Caffe2 semantics in numpy, independent of d2rt); its header lists what each
 * case pins: empty inputs (zero rows into BoxWithNMSLimit, zero rois into
 * DistributeFpnProposals, zero proposals through the whole R-CNN detection chain), no
 * score above the threshold, ties (lower row wins), zero-area boxes (NaN IoU suppresses,
 * Caffe2's rule), legacy_plus_one off / on / absent (Caffe2's default: on), exact FPN
 * level boundaries with 4-column rois.
 * Every output must have the expected dtype and shape exactly and values within 1e-5. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backends/backend.h"
#include "frontend/frontend.h"
#include "runtime/npy.h"

#define EDGE "tests/data/caffe2/edge/"

static void check_edge_case(const char *name, uint32_t num_outputs)
{
    char predict[256], init[256], path[256];
    struct d2_error err = { 0 };
    struct d2_tensor out[16];
    snprintf(predict, sizeof predict, EDGE "%s/model.pb", name);
    snprintf(init, sizeof init, EDGE "%s/model_init.pb", name);
    struct d2_graph *g = d2_caffe2_import_files(predict, init, NULL, &err);
    ck_assert_msg(g != NULL, "%s: %s", name, err.message);
    ck_assert_msg(d2_verify_graph(g, &err) == D2_OK, "%s: %s", name, err.message);
    ck_assert_uint_eq(g->num_inputs, 0);
    ck_assert_uint_ge(g->num_outputs, num_outputs); /* + batch_splits_nms when BoxWithNMSLimit's is not listed */
    ck_assert_msg(d2_cpu_execute(g, NULL, 0, out, g->num_outputs, NULL, &err) == D2_OK, "%s: %s", name,
                  err.message);
    for (uint32_t k = 0; k < num_outputs; k++) {
        struct d2_tensor want;
        snprintf(path, sizeof path, EDGE "%s/out%u.npy", name, k);
        ck_assert_msg(d2_npy_read_file(path, NULL, &want, &err) == D2_OK, "%s", err.message);
        ck_assert_msg(out[k].dtype == want.dtype, "%s out%u: dtype %s, want %s", name, k, d2_dtype_name(out[k].dtype),
                      d2_dtype_name(want.dtype));
        ck_assert_msg(out[k].rank == want.rank, "%s out%u: rank %d, want %d", name, k, out[k].rank, want.rank);
        for (int32_t d = 0; d < want.rank; d++)
            ck_assert_msg(out[k].dims[d] == want.dims[d], "%s out%u: dim %d is %lld, want %lld", name, k, d,
                          (long long)out[k].dims[d], (long long)want.dims[d]);
        for (int64_t i = 0; i < d2_tensor_numel(&want); i++) {
            double a = d2_load_f64(out[k].data, out[k].dtype, (size_t)i);
            double b = d2_load_f64(want.data, want.dtype, (size_t)i);
            ck_assert_msg(fabs(a - b) <= 1e-5 + 1e-5 * fabs(b), "%s out%u[%lld]: %.9g, want %.9g", name, k,
                          (long long)i, a, b);
        }
        d2_tensor_release(&want, d2_allocator_default());
    }
    for (uint32_t k = 0; k < g->num_outputs; k++)
        d2_tensor_release(&out[k], d2_allocator_default());
    d2_graph_free(g);
}

/* BoxWithNMSLimit: scores, boxes, classes, batch_splits, keeps, keeps_size */
START_TEST(nms_empty_rows) { check_edge_case("nms_empty", 6); }
END_TEST
START_TEST(nms_nothing_above_threshold) { check_edge_case("nms_below_thresh", 6); }
END_TEST
START_TEST(nms_ties_keep_the_lower_row) { check_edge_case("nms_ties", 6); }
END_TEST
START_TEST(nms_zero_area_nan_iou_suppresses) { check_edge_case("nms_zero_area", 6); }
END_TEST
START_TEST(nms_legacy_plus_one_off) { check_edge_case("nms_plus_one_off", 6); }
END_TEST
START_TEST(nms_legacy_plus_one_on) { check_edge_case("nms_plus_one_on", 6); }
END_TEST
START_TEST(nms_legacy_plus_one_defaults_to_on) { check_edge_case("nms_plus_one_default", 6); }
END_TEST
/* DistributeFpnProposals: four levels, then the restore index */
START_TEST(distribute_zero_rois) { check_edge_case("distribute_empty", 5); }
END_TEST
START_TEST(distribute_level_boundaries_4col_plus_one) { check_edge_case("distribute_4col", 5); }
END_TEST
/* rois, pooled rois, decoded boxes, roi splits, then BoxWithNMSLimit's six outputs */
START_TEST(zero_proposals_through_the_chain) { check_edge_case("zero_proposals", 10); }
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("caffe2_edge");
    TCase *tc = tcase_create("caffe2_edge");
    tcase_add_test(tc, nms_empty_rows);
    tcase_add_test(tc, nms_nothing_above_threshold);
    tcase_add_test(tc, nms_ties_keep_the_lower_row);
    tcase_add_test(tc, nms_zero_area_nan_iou_suppresses);
    tcase_add_test(tc, nms_legacy_plus_one_off);
    tcase_add_test(tc, nms_legacy_plus_one_on);
    tcase_add_test(tc, nms_legacy_plus_one_defaults_to_on);
    tcase_add_test(tc, distribute_zero_rois);
    tcase_add_test(tc, distribute_level_boundaries_4col_plus_one);
    tcase_add_test(tc, zero_proposals_through_the_chain);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
