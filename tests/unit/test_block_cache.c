/* tests/unit/test_block_cache.c: the CPU backend's large-block cache
 * (backends/cpu/block_cache.c) and the executor shortcuts that keep big tensors from
 * being copied or cleared (backends/cpu/executor.c).
 *
 * The cache is driven through a counting allocator that records every live block, so
 * the tests see what reaches the underlying allocator: parked blocks are reused,
 * small ones pass through, the budget evicts the oldest, forgotten blocks are left to
 * their new owner, failures leave nothing behind, and freeing the cache leaks nothing.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/block_cache.h"
#include "backends/cpu/fast.h"
#include "ir/ir.h"

#define MIB ((size_t)1 << 20)

/* Underlying allocator: malloc, counting calls and live blocks; fails when fail is set. */
struct counting {
    int allocs, frees, live;
    bool fail;
};

static void *counting_realloc(void *user, void *ptr, size_t size)
{
    struct counting *c = user;
    if (size == 0) {
        if (ptr) {
            c->frees++;
            c->live--;
        }
        free(ptr);
        return NULL;
    }
    if (c->fail)
        return NULL;
    void *out = realloc(ptr, size);
    if (out && !ptr) {
        c->allocs++;
        c->live++;
    }
    return out;
}

START_TEST(parked_blocks_are_reused)
{
    struct counting count = { 0 };
    struct d2_allocator under = { counting_realloc, &count };
    struct d2_block_cache *cache = d2_block_cache_new(&under, MIB, 8 * MIB);
    const struct d2_allocator *a;
    ck_assert_ptr_nonnull(cache);
    a = d2_block_cache_allocator(cache);

    void *big = d2_alloc(a, 2 * MIB);
    ck_assert_ptr_nonnull(big);
    memset(big, 1, 2 * MIB);
    d2_free(a, big);
    ck_assert_int_eq(count.frees, 0); /* parked, not freed */
    ck_assert_uint_eq(d2_block_cache_parked_bytes(cache), 2 * MIB);

    /* Same size, or up to a quarter smaller: the parked block comes back. */
    void *again = d2_alloc(a, 2 * MIB - 1000);
    ck_assert_ptr_eq(again, big);
    ck_assert_uint_eq(d2_block_cache_parked_bytes(cache), 0);
    d2_free(a, again);
    /* Much smaller, or bigger: a new block. */
    void *half = d2_alloc(a, MIB);
    ck_assert_ptr_ne(half, big);
    void *bigger = d2_alloc(a, 3 * MIB);
    ck_assert_ptr_ne(bigger, big);
    d2_free(a, half);
    d2_free(a, bigger);

    /* Small blocks pass straight through. */
    int frees_before = count.frees;
    void *small = d2_alloc(a, 100);
    d2_free(a, small);
    ck_assert_int_eq(count.frees, frees_before + 1);

    d2_block_cache_free(cache);
    ck_assert_int_eq(count.live, 0);
}
END_TEST

START_TEST(budget_evicts_the_oldest)
{
    struct counting count = { 0 };
    struct d2_allocator under = { counting_realloc, &count };
    struct d2_block_cache *cache = d2_block_cache_new(&under, MIB, 5 * MIB);
    const struct d2_allocator *a = d2_block_cache_allocator(cache);
    void *b1 = d2_alloc(a, 2 * MIB), *b2 = d2_alloc(a, 2 * MIB), *b3 = d2_alloc(a, 2 * MIB);
    d2_free(a, b1);
    d2_free(a, b2);
    ck_assert_int_eq(count.frees, 0);
    d2_free(a, b3); /* 6 MiB > 5: b1, the oldest, goes */
    ck_assert_int_eq(count.frees, 1);
    ck_assert_uint_eq(d2_block_cache_parked_bytes(cache), 4 * MIB);
    /* A block above the whole budget is never parked. */
    void *huge = d2_alloc(a, 6 * MIB);
    d2_free(a, huge);
    ck_assert_uint_eq(d2_block_cache_parked_bytes(cache), 4 * MIB);
    ck_assert_int_eq(count.frees, 2);
    d2_block_cache_free(cache);
    ck_assert_int_eq(count.live, 0);
}
END_TEST

START_TEST(forgotten_and_resized_blocks)
{
    struct counting count = { 0 };
    struct d2_allocator under = { counting_realloc, &count };
    struct d2_block_cache *cache = d2_block_cache_new(&under, MIB, 64 * MIB);
    const struct d2_allocator *a = d2_block_cache_allocator(cache);

    /* A block that escapes is freed by its new owner with the underlying allocator. */
    void *out = d2_alloc(a, 2 * MIB);
    d2_block_cache_forget(cache, out);
    d2_free(&under, out);
    ck_assert_uint_eq(d2_block_cache_parked_bytes(cache), 0);

    /* A block grown by realloc is tracked at its new address and size. */
    void *grow = d2_alloc(a, 100);
    grow = d2_realloc(a, grow, 3 * MIB);
    ck_assert_ptr_nonnull(grow);
    d2_free(a, grow);
    ck_assert_uint_eq(d2_block_cache_parked_bytes(cache), 3 * MIB);

    /* Failures: nothing parked is lost, NULL comes back. */
    count.fail = true;
    ck_assert_ptr_null(d2_alloc(a, 10 * MIB));
    void *served = d2_alloc(a, 3 * MIB); /* from the parked block */
    ck_assert_ptr_nonnull(served);
    count.fail = false;
    d2_block_cache_free(cache);
    ck_assert_int_eq(count.live, 1); /* the block handed out last is still the caller's */
    d2_free(&under, served);
}
END_TEST

/* Many blocks live at once: the address table grows and keeps every size. */
START_TEST(many_live_blocks)
{
    struct counting count = { 0 };
    struct d2_allocator under = { counting_realloc, &count };
    struct d2_block_cache *cache = d2_block_cache_new(&under, 1024, 1024 * 1024 * 64);
    const struct d2_allocator *a = d2_block_cache_allocator(cache);
    void *blocks[300];
    for (int i = 0; i < 300; i++)
        blocks[i] = d2_alloc(a, 1024 + (size_t)i);
    for (int i = 0; i < 300; i += 2)
        d2_free(a, blocks[i]);
    for (int i = 1; i < 300; i += 2)
        d2_free(a, blocks[i]);
    /* 128 blocks at most stay parked (plus the cache itself and its address table);
     * when the count is full the smallest goes, so the biggest 128 stay. */
    ck_assert_int_eq(count.live, 128 + 2);
    ck_assert_uint_eq(d2_block_cache_parked_bytes(cache), 128 * 1024 + (172 + 299) * 128 / 2);
    d2_block_cache_free(cache);
    ck_assert_int_eq(count.live, 0);
}
END_TEST

/* ---- executor: relabelling nodes take over their input's storage ---- */

static struct d2_graph *parse(const char *text)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    return g;
}

START_TEST(relabelling_nodes_keep_results)
{
    /* exp makes a heap intermediate; reshape, full slice and unsqueeze may take it
     * over; the reversing slice (step -1, same dims) must copy. Results must equal
     * what the reference executor computes. */
    static const char text[] =
        "graph main(%x: f32[2,3]) {\n"
        "  %shape: i64[1] = const [6]\n"
        "  %zero: i64[1] = const [0]\n"
        "  %big: i64[1] = const [100]\n"
        "  %neg: i64[1] = const [-1]\n"
        "  %end: i64[1] = const [-100]\n"
        "  %one: i64[1] = const [1]\n"
        "  %e: f32[2,3] = exp(%x)\n"
        "  %flat: f32[6] = reshape(%e, %shape)\n"
        "  %all: f32[6] = slice(%flat, %zero, %big, %zero, %one)\n"
        "  %rev: f32[6] = slice(%all, %neg, %end, %zero, %neg)\n"
        "  %u: f32[1,6] = unsqueeze(%rev, %zero)\n"
        "  return %u\n"
        "}\n";
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = parse(text);
    struct d2_cpu_fast *fast = NULL;
    struct d2_cpu_fast_options opts = { 1, NULL, 0 };
    struct d2_tensor in, want, got;
    int64_t dims[2] = { 2, 3 };
    ck_assert_int_eq(d2_infer_graph(g, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&in, NULL, D2_DTYPE_F32, 2, dims, &err), D2_OK);
    for (int i = 0; i < 6; i++)
        ((float *)in.data)[i] = 0.25f * (float)i;
    ck_assert_msg(d2_cpu_execute(g, &in, 1, &want, 1, NULL, &err) == D2_OK, "%s", err.message);
    ck_assert_int_eq(d2_cpu_fast_new(&opts, NULL, &fast, &err), D2_OK);
    for (int run = 0; run < 2; run++) {
        ck_assert_msg(d2_cpu_fast_execute(fast, g, &in, 1, &got, 1, NULL, NULL, NULL, &err) == D2_OK, "%s",
                      err.message);
        ck_assert_int_eq(got.rank, 2);
        ck_assert_int_eq(got.dims[1], 6);
        ck_assert_mem_eq(got.data, want.data, want.nbytes);
        ck_assert(fabs(((float *)got.data)[0] - exp(1.25)) < 1e-5); /* reversed: x[5] = 1.25 first */
        d2_tensor_release(&got, NULL); /* freed by the caller's allocator: it escaped */
    }
    d2_cpu_fast_free(fast);
    d2_tensor_release(&want, NULL);
    d2_tensor_release(&in, NULL);
    d2_graph_free(g);
}
END_TEST


/* ---- outputs come back through the output allocator, and outlive the backend ---- */

/* y = exp(x) on [512,1024]: a 2 MiB output, above the cache's 1 MiB threshold. */
struct exp_model {
    struct d2_graph *g;
    struct d2_tensor in;
};

static struct exp_model exp_model_new(void)
{
    static const char text[] =
        "graph main(%x: f32[512,1024]) {\n"
        "  %y: f32[512,1024] = exp(%x)\n"
        "  return %y\n"
        "}\n";
    struct exp_model m;
    struct d2_error err = { D2_OK, "" };
    int64_t dims[2] = { 512, 1024 };
    m.g = parse(text);
    ck_assert_int_eq(d2_tensor_alloc(&m.in, NULL, D2_DTYPE_F32, 2, dims, &err), D2_OK);
    return m;
}

static void exp_model_free(struct exp_model *m)
{
    d2_tensor_release(&m->in, NULL);
    d2_graph_free(m->g);
}

/* One run with outputs from fast's output allocator `oa` (exp(0) = 1 everywhere). */
static void run_exp(const struct exp_model *m, struct d2_cpu_fast *fast, const struct d2_allocator *oa,
                    struct d2_tensor *out)
{
    struct d2_error err = { D2_OK, "" };
    ck_assert_msg(d2_cpu_fast_execute(fast, m->g, &m->in, 1, out, 1, oa, NULL, NULL, &err) == D2_OK, "%s",
                  err.message);
    ck_assert(((float *)out->data)[0] == 1.0f && ((float *)out->data)[512 * 1024 - 1] == 1.0f);
}

START_TEST(outputs_recycle_and_outlive_the_backend)
{
    struct exp_model m = exp_model_new();
    struct d2_error err = { D2_OK, "" };
    struct d2_cpu_fast *fast = NULL;
    struct d2_cpu_fast_options opts = { 1, NULL, 0 };
    struct d2_tensor out;
    void *owner = NULL, *first;
    ck_assert_int_eq(d2_cpu_fast_new(&opts, NULL, &fast, &err), D2_OK);
    const struct d2_allocator *oa = d2_cpu_fast_output_allocator(fast, &owner);
    ck_assert_ptr_nonnull(oa);
    run_exp(&m, fast, oa, &out);
    first = out.data;
    d2_tensor_release(&out, oa); /* parked */
    run_exp(&m, fast, oa, &out);
    ck_assert_ptr_eq(out.data, first); /* the same block, recycled */
    /* The backend goes first; the output and the allocator stay valid until the owner
     * reference is dropped (ASan builds check the order). */
    d2_cpu_fast_free(fast);
    d2_tensor_release(&out, oa);
    d2_cpu_fast_release_owner(owner);
    exp_model_free(&m);
}
END_TEST

/* The parked bytes after one run whose output is released, with D2RT_BUFFER_CACHE_MB=value. */
static size_t parked_after_one_run(const struct exp_model *m, const char *value)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_cpu_fast *fast = NULL;
    struct d2_cpu_fast_options opts = { 1, NULL, 0 };
    struct d2_tensor out;
    void *owner = NULL;
    setenv("D2RT_BUFFER_CACHE_MB", value, 1);
    ck_assert_int_eq(d2_cpu_fast_new(&opts, NULL, &fast, &err), D2_OK);
    const struct d2_allocator *oa = d2_cpu_fast_output_allocator(fast, &owner);
    run_exp(m, fast, oa, &out);
    d2_tensor_release(&out, oa);
    size_t parked = d2_block_cache_parked_bytes(fast->block_cache);
    d2_cpu_fast_free(fast);
    d2_cpu_fast_release_owner(owner);
    unsetenv("D2RT_BUFFER_CACHE_MB");
    return parked;
}

/* D2RT_BUFFER_CACHE_MB sets the budget (0: nothing is kept); a bad value is an error. */
START_TEST(budget_from_the_environment)
{
    struct exp_model m = exp_model_new();
    struct d2_error err = { D2_OK, "" };
    struct d2_cpu_fast *fast = NULL;
    struct d2_cpu_fast_options opts = { 1, NULL, 0 };
    setenv("D2RT_BUFFER_CACHE_MB", "lots", 1);
    ck_assert_int_eq(d2_cpu_fast_new(&opts, NULL, &fast, &err), D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "D2RT_BUFFER_CACHE_MB: 'lots' is not a number of MiB"), "%s", err.message);
    ck_assert_ptr_null(fast);
    unsetenv("D2RT_BUFFER_CACHE_MB");
    ck_assert_uint_eq(parked_after_one_run(&m, "0"), 0);       /* the 2 MiB output is not kept */
    ck_assert_uint_eq(parked_after_one_run(&m, "4"), 2 * MIB); /* kept */
    exp_model_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("block_cache");
    TCase *tc = tcase_create("block_cache");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, parked_blocks_are_reused);
    tcase_add_test(tc, budget_evicts_the_oldest);
    tcase_add_test(tc, forgotten_and_resized_blocks);
    tcase_add_test(tc, many_live_blocks);
    tcase_add_test(tc, relabelling_nodes_keep_results);
    tcase_add_test(tc, outputs_recycle_and_outlive_the_backend);
    tcase_add_test(tc, budget_from_the_environment);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
