/* tests/unit/test_api.c: the public API (include/d2rt.h) on the bundled example model
 * (examples/tiny_convnet.onnx; expected output computed with numpy by
 * tools/gen_example.py). Run from the repository root, as `make test` does. */
#include <check.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "d2rt.h"
#include "runtime/npy.h"

#define MODEL "examples/tiny_convnet.onnx"
#define INPUT "examples/tiny_convnet_input.npy"
#define EXPECTED "examples/tiny_convnet_expected.npy"

/* Counting allocator that fails allocation number fail_at (-1: never). */
struct counting {
    long calls, fail_at, live;
};
static void *counting_realloc(void *user, void *ptr, size_t size)
{
    struct counting *c = user;
    void *p;
    if (size == 0) {
        if (ptr)
            c->live--;
        free(ptr);
        return NULL;
    }
    if (c->fail_at >= 0 && c->calls++ == c->fail_at)
        return NULL;
    p = realloc(ptr, size);
    if (p && !ptr)
        c->live++;
    return p;
}

static struct d2_tensor load_npy(const char *path)
{
    struct d2_tensor t;
    struct d2_error err = { 0 };
    ck_assert_msg(d2_npy_read_file(path, NULL, &t, &err) == D2_OK, "%s", err.message);
    return t;
}

static d2rt_tensor *wrap(struct d2_tensor *t)
{
    d2rt_tensor *w = NULL;
    ck_assert_int_eq(d2rt_tensor_wrap((d2rt_dtype)t->dtype, t->rank, t->dims, t->data, t->nbytes, &w), D2RT_OK);
    return w;
}

/* The output matches the numpy reference. */
static void check_output(d2rt_tensor *out)
{
    struct d2_tensor expected = load_npy(EXPECTED);
    const float *got = d2rt_tensor_data(out), *want = expected.data;
    ck_assert_int_eq(d2rt_tensor_dtype(out), D2RT_F32);
    ck_assert_int_eq(d2rt_tensor_rank(out), 2);
    ck_assert_int_eq(d2rt_tensor_dims(out)[0], 1);
    ck_assert_int_eq(d2rt_tensor_dims(out)[1], 2);
    ck_assert_uint_eq(d2rt_tensor_nbytes(out), 8);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-6f + 1e-5f * fabsf(want[i]), "probs[%d] = %g, numpy %g", i,
                      (double)got[i], (double)want[i]);
    d2_tensor_release(&expected, NULL);
}

static void run_and_check(d2rt_model *model, const struct d2rt_session_options *opts)
{
    d2rt_session *session = NULL;
    struct d2_tensor in = load_npy(INPUT);
    d2rt_tensor *input = wrap(&in), *output = NULL;
    ck_assert_int_eq(d2rt_session_new(model, opts, &session), D2RT_OK);
    ck_assert_msg(d2rt_session_run(session, &input, 1, &output, 1) == D2RT_OK, "%s", d2rt_errmsg(session));
    check_output(output);
    d2rt_tensor_free(output);
    d2rt_tensor_free(input);
    d2_tensor_release(&in, NULL);
    d2rt_session_free(session);
}

START_TEST(loads_and_runs_onnx)
{
    d2rt_model *model = NULL;
    ck_assert_msg(d2rt_model_load(MODEL, &model) == D2RT_OK, "%s", d2rt_errmsg(model));
    ck_assert_str_eq(d2rt_model_format(model), "onnx");
    ck_assert_uint_eq(d2rt_model_num_inputs(model), 1);
    ck_assert_uint_eq(d2rt_model_num_outputs(model), 1);
    ck_assert_str_eq(d2rt_model_input_name(model, 0), "x");
    ck_assert_str_eq(d2rt_model_output_name(model, 0), "probs");
    ck_assert_ptr_null(d2rt_model_input_name(model, 1));
    ck_assert_int_eq(d2rt_model_input_dtype(model, 0), D2RT_F32);
    ck_assert_int_eq(d2rt_model_input_rank(model, 0), 4);
    ck_assert_str_eq(d2rt_errmsg(model), "not an error");
    run_and_check(model, NULL);
    d2rt_model_free(model);
}
END_TEST

START_TEST(compiles_to_a_file_and_runs_it)
{
    char path[] = "/tmp/d2rt-api-XXXXXX";
    int fd = mkstemp(path);
    d2rt_model *model = NULL, *compiled = NULL;
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(d2rt_model_load(MODEL, &model), D2RT_OK);
    ck_assert_msg(d2rt_model_compile_to_file(model, path) == D2RT_OK, "%s", d2rt_errmsg(model));
    ck_assert_msg(d2rt_model_load(path, &compiled) == D2RT_OK, "%s", d2rt_errmsg(compiled));
    ck_assert_str_eq(d2rt_model_format(compiled), "d2rt-ir");
    run_and_check(compiled, NULL);
    d2rt_model_free(compiled);
    d2rt_model_free(model);
    unlink(path);
}
END_TEST

START_TEST(errors_are_kept_on_the_handle)
{
    d2rt_model *model = NULL;
    d2rt_session *session = NULL;
    d2rt_tensor *wrong = NULL, *output = NULL;
    int64_t dims[4] = { 1, 3, 8, 8 };

    ck_assert_int_eq(d2rt_model_load("/nonexistent/model.onnx", &model), D2RT_ERR_IO);
    ck_assert_ptr_nonnull(model);
    ck_assert_msg(strstr(d2rt_errmsg(model), "cannot open"), "%s", d2rt_errmsg(model));
    ck_assert_int_eq(d2rt_session_new(model, NULL, &session), D2RT_ERR_INVALID_ARG);
    ck_assert_ptr_null(session);
    d2rt_model_free(model);

    ck_assert_int_eq(d2rt_model_load(MODEL, &model), D2RT_OK);
    ck_assert_int_eq(d2rt_session_new(model, NULL, &session), D2RT_OK);
    ck_assert_int_eq(d2rt_session_run(session, NULL, 0, &output, 1), D2RT_ERR_INVALID_ARG);
    ck_assert_msg(strstr(d2rt_errmsg(session), "takes 1 inputs, got 0"), "%s", d2rt_errmsg(session));
    ck_assert_int_eq(d2rt_tensor_new(D2RT_I64, 4, dims, &wrong), D2RT_OK);
    ck_assert_int_eq(d2rt_session_run(session, &wrong, 1, &output, 1), D2RT_ERR_INVALID_ARG);
    ck_assert_ptr_null(output);
    ck_assert_msg(strstr(d2rt_errmsg(session), "expected dtype f32"), "%s", d2rt_errmsg(session));
    d2rt_tensor_free(wrong);
    d2rt_session_free(session);
    d2rt_model_free(model);

    ck_assert_str_eq(d2rt_errmsg(NULL), "out of memory");
    ck_assert_int_eq(d2rt_model_load(MODEL, NULL), D2RT_ERR_INVALID_ARG);
}
END_TEST

START_TEST(tensor_arguments_are_checked)
{
    d2rt_tensor *t = NULL;
    float data[6];
    int64_t dims[2] = { 2, 3 }, negative[2] = { 2, -1 };
    ck_assert_int_eq(d2rt_tensor_wrap(D2RT_F32, 2, dims, data, sizeof data - 4, &t), D2RT_ERR_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(d2rt_tensor_new(D2RT_F32, 2, negative, &t), D2RT_ERR_INVALID_ARG);
    ck_assert_int_eq(d2rt_tensor_new(D2RT_UNDEFINED, 2, dims, &t), D2RT_ERR_INVALID_ARG);
    ck_assert_int_eq(d2rt_tensor_new(D2RT_F32, 9, dims, &t), D2RT_ERR_INVALID_ARG);
    ck_assert_int_eq(d2rt_tensor_new(D2RT_F32, 2, dims, &t), D2RT_OK);
    ck_assert_int_eq(d2rt_tensor_numel(t), 6);
    ck_assert(((float *)d2rt_tensor_data(t))[5] == 0.0f);
    d2rt_tensor_free(t);
    ck_assert_str_eq(d2rt_dtype_name(D2RT_BF16), "bf16");
    ck_assert_uint_eq(d2rt_dtype_size(D2RT_I16), 2);
    ck_assert_str_eq(d2rt_status_string(D2RT_ERR_NOMEM), "out of memory");
}
END_TEST

/* Every failing session allocation gives D2RT_ERR_NOMEM, leaks nothing, and leaves
 * the session usable. */
START_TEST(session_allocation_failures_are_clean)
{
    d2rt_model *model = NULL;
    struct d2_tensor in = load_npy(INPUT);
    d2rt_tensor *input = wrap(&in);
    ck_assert_int_eq(d2rt_model_load(MODEL, &model), D2RT_OK);
    for (long n = 0;; n++) {
        struct counting c = { .fail_at = n };
        struct d2rt_allocator a = { counting_realloc, &c };
        struct d2rt_session_options opts = { .threads = 1, .allocator = &a };
        d2rt_session *session = NULL;
        d2rt_tensor *output = NULL;
        d2rt_status st = d2rt_session_new(model, &opts, &session);
        if (st == D2RT_OK) {
            st = d2rt_session_run(session, &input, 1, &output, 1);
            ck_assert_msg(st == D2RT_OK || st == D2RT_ERR_NOMEM, "allocation %ld: %s", n, d2rt_errmsg(session));
            if (st == D2RT_OK)
                check_output(output);
            d2rt_tensor_free(output);
            d2rt_session_free(session);
        } else {
            ck_assert_int_eq(st, D2RT_ERR_NOMEM);
        }
        ck_assert_msg(c.live == 0, "allocation %ld failed: %ld blocks leaked", n, c.live);
        if (st == D2RT_OK)
            break;
        ck_assert_int_lt(n, 100000);
    }
    d2rt_tensor_free(input);
    d2_tensor_release(&in, NULL);
    d2rt_model_free(model);
}
END_TEST

/* Model loading under failing allocations: an error (the importer may report a
 * failed protobuf decode as a parse error), never a crash or a leak. */
START_TEST(model_load_allocation_failures_are_clean)
{
    for (long n = 0;; n++) {
        struct counting c = { .fail_at = n };
        struct d2rt_allocator a = { counting_realloc, &c };
        d2rt_model *model = NULL;
        d2rt_status st = d2rt_model_load_with(MODEL, &a, &model);
        if (st == D2RT_OK)
            run_and_check(model, NULL);
        d2rt_model_free(model);
        ck_assert_msg(c.live == 0, "allocation %ld failed (%s): %ld blocks leaked", n, d2rt_status_string(st),
                      c.live);
        if (st == D2RT_OK)
            break;
        ck_assert_int_lt(n, 100000);
    }
}
END_TEST


/* Sessions on one model run in parallel threads (a session per thread), and an
 * output may be freed after its session. check's assertions are not thread-safe,
 * so the threads only record what they saw. */
struct parallel_run {
    d2rt_model *model;
    d2rt_tensor *input;
    float first[2];
    int runs_ok;
    d2rt_tensor *kept; /* the last output, freed after the session */
};

static void *parallel_session(void *arg)
{
    struct parallel_run *r = arg;
    struct d2rt_session_options opts = { .threads = 2, .allocator = NULL }; /* pools in parallel too */
    d2rt_session *session = NULL;
    if (d2rt_session_new(r->model, &opts, &session) != D2RT_OK)
        return NULL;
    for (int i = 0; i < 50; i++) {
        d2rt_tensor *output = NULL;
        if (d2rt_session_run(session, &r->input, 1, &output, 1) != D2RT_OK)
            break;
        const float *v = d2rt_tensor_data(output);
        if (i == 0)
            memcpy(r->first, v, sizeof r->first);
        if (memcmp(v, r->first, sizeof r->first) == 0)
            r->runs_ok++;
        d2rt_tensor_free(r->kept);
        r->kept = output;
    }
    d2rt_session_free(session);
    return NULL;
}

START_TEST(sessions_run_in_parallel_threads)
{
    d2rt_model *model = NULL;
    struct d2_tensor in = load_npy(INPUT);
    d2rt_tensor *input = wrap(&in);
    struct parallel_run runs[2];
    pthread_t threads[2];
    ck_assert_int_eq(d2rt_model_load(MODEL, &model), D2RT_OK);
    for (int t = 0; t < 2; t++) {
        memset(&runs[t], 0, sizeof runs[t]);
        runs[t].model = model;
        runs[t].input = input;
        ck_assert_int_eq(pthread_create(&threads[t], NULL, parallel_session, &runs[t]), 0);
    }
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
        ck_assert_int_eq(runs[t].runs_ok, 50);
        ck_assert_ptr_nonnull(runs[t].kept);
        check_output(runs[t].kept); /* its session is gone already */
        d2rt_tensor_free(runs[t].kept);
    }
    d2rt_tensor_free(input);
    d2_tensor_release(&in, NULL);
    d2rt_model_free(model);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    SRunner *sr;
    int failed;
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, loads_and_runs_onnx);
    tcase_add_test(tc, compiles_to_a_file_and_runs_it);
    tcase_add_test(tc, errors_are_kept_on_the_handle);
    tcase_add_test(tc, tensor_arguments_are_checked);
    tcase_add_test(tc, session_allocation_failures_are_clean);
    tcase_add_test(tc, model_load_allocation_failures_are_clean);
    tcase_add_test(tc, sessions_run_in_parallel_threads);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
