/* tests/unit/test_derived_cache.c: the session cache of derived constants
 * (backends/cpu/derived_cache.c), on its own; its users are tested in test_winograd.c
 * (transformed weights) and test_cpu_fast.c (gemm_constant_b_cache).
 *
 * The derived value here is "each source word plus one", computed by a fill callback
 * that counts its calls, through an allocator that counts live blocks and can be made
 * to fail. So the tests see exactly when the cache computes (miss, changed
 * fingerprint) and when it does not (hit, over budget, out of memory), that results
 * are aligned and correct, and that freeing the cache leaks nothing. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/derived_cache.h"
#include "ir/ir.h"

/* ---- a counting allocator --------------------------------------------------------- */

/* d2_allocator_default(), counting live blocks; allocations fail while fail is set.
 * Each test runs in its own process (Check forks), so file-scope state is per test. */
static struct {
    int live;
    bool fail;
} counted;

static void *counting_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    if (size > 0 && counted.fail)
        return NULL;
    const struct d2_allocator *under = d2_allocator_default();
    void *result = under->realloc_fn(under->user, ptr, size);
    counted.live += (!ptr && result) - (ptr && size == 0);
    return result;
}

static const struct d2_allocator counting_alloc = { counting_realloc, NULL };

/* A cache of max_bytes on the counting allocator. */
static struct d2_derived_cache *counted_cache(size_t max_bytes)
{
    struct d2_derived_cache *cache = d2_derived_cache_new(&counting_alloc, max_bytes);
    ck_assert_ptr_nonnull(cache);
    return cache;
}

/* Frees cache; nothing it allocated may be left. */
static void free_without_leaks(struct d2_derived_cache *cache)
{
    d2_derived_cache_free(cache);
    ck_assert_int_eq(counted.live, 0);
}

/* ---- the derived value: source words + 1 -------------------------------------------- */

struct plus_one {
    const int32_t *source;
    size_t words;
    int fills;
};

static void fill_plus_one(void *ctx, void *dst)
{
    struct plus_one *job = ctx;
    int32_t *out = dst;
    for (size_t i = 0; i < job->words; i++)
        out[i] = job->source[i] + 1;
    job->fills++;
}

static struct d2_derived_request request_for(struct plus_one *job, const int64_t *key, size_t key_bytes,
                                             size_t alignment)
{
    struct d2_derived_request r = {
        .source = job->source,
        .source_bytes = job->words * sizeof(int32_t),
        .key = key,
        .key_bytes = key_bytes,
        .bytes = job->words * sizeof(int32_t),
        .alignment = alignment,
        .fill = fill_plus_one,
        .fill_ctx = job,
    };
    return r;
}

static void check_plus_one(const void *value, const int32_t *source, size_t words)
{
    ck_assert_ptr_nonnull(value);
    const int32_t *v = value;
    for (size_t i = 0; i < words; i++)
        ck_assert_int_eq(v[i], source[i] + 1);
}

#define WORDS 1000

static void fill_source(int32_t *source, size_t words, int32_t seed)
{
    for (size_t i = 0; i < words; i++)
        source[i] = seed + (int32_t)(i * 7);
}

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(hit_and_miss)
{
    struct d2_derived_cache *cache = counted_cache(1 << 20);
    static int32_t a[WORDS], b[WORDS];
    fill_source(a, WORDS, 1);
    fill_source(b, WORDS, 1); /* same values, other address: its own entry */
    const int64_t key1[] = { 3, 4 }, key2[] = { 3, 5 };
    struct plus_one job_a = { a, WORDS, 0 }, job_b = { b, WORDS, 0 };

    struct d2_derived_request r = request_for(&job_a, key1, sizeof key1, 0);
    const void *first = d2_derived_cache_get(cache, &r);
    check_plus_one(first, a, WORDS);
    ck_assert_int_eq(job_a.fills, 1);
    ck_assert_uint_eq(d2_derived_cache_bytes(cache), WORDS * sizeof(int32_t));
    /* hit: same pointer, no fill */
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), first);
    ck_assert_int_eq(job_a.fills, 1);
    /* a key of equal bytes in another buffer still hits (keys are copied) */
    const int64_t key1_copy[] = { 3, 4 };
    r.key = key1_copy;
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), first);
    ck_assert_int_eq(job_a.fills, 1);

    /* other key, same source: a second entry */
    r = request_for(&job_a, key2, sizeof key2, 0);
    const void *second = d2_derived_cache_get(cache, &r);
    ck_assert_ptr_nonnull(second);
    ck_assert_ptr_ne(second, first);
    ck_assert_int_eq(job_a.fills, 2);
    /* other source, same key: a third */
    r = request_for(&job_b, key1, sizeof key1, 0);
    const void *third = d2_derived_cache_get(cache, &r);
    check_plus_one(third, b, WORDS);
    ck_assert_ptr_ne(third, first);
    ck_assert_int_eq(job_b.fills, 1);
    /* other alignment or size, same source and key: other entries */
    r = request_for(&job_a, key1, sizeof key1, 64);
    ck_assert_ptr_ne(d2_derived_cache_get(cache, &r), first);
    r = request_for(&job_a, key1, sizeof key1, 0);
    r.bytes -= sizeof(int32_t);
    job_a.words--;
    ck_assert_ptr_ne(d2_derived_cache_get(cache, &r), first);
    job_a.words++;
    ck_assert_int_eq(job_a.fills, 4);
    ck_assert_uint_eq(d2_derived_cache_bytes(cache), (5 * WORDS - 1) * sizeof(int32_t));
    /* every earlier entry still answers */
    r = request_for(&job_a, key1, sizeof key1, 0);
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), first);
    check_plus_one(first, a, WORDS);
    ck_assert_int_eq(job_a.fills, 4);

    free_without_leaks(cache);
}
END_TEST

START_TEST(changed_fingerprint_refills_in_place)
{
    struct d2_derived_cache *cache = counted_cache(1 << 20);
    static int32_t w[WORDS];
    fill_source(w, WORDS, 10);
    const int64_t key[] = { 1 };
    struct plus_one job = { w, WORDS, 0 };
    struct d2_derived_request r = request_for(&job, key, sizeof key, 0);
    const void *value = d2_derived_cache_get(cache, &r);
    check_plus_one(value, w, WORDS);

    /* the buffer now holds other values (a new model at the same address): every
     * sampled word changes, so the entry is refilled, in place */
    fill_source(w, WORDS, 5000);
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), value);
    ck_assert_int_eq(job.fills, 2);
    check_plus_one(value, w, WORDS);
    ck_assert_uint_eq(d2_derived_cache_bytes(cache), WORDS * sizeof(int32_t));

    /* the first and last words are always sampled */
    w[0] = -1;
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), value);
    ck_assert_int_eq(job.fills, 3);
    w[WORDS - 1] = -1;
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), value);
    ck_assert_int_eq(job.fills, 4);
    check_plus_one(value, w, WORDS);

    /* it is a sample, not a hash: a word between samples goes unnoticed (why only
     * values that cannot change while in use, such as graph constants, are cached) */
    w[1] = -7;
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), value);
    ck_assert_int_eq(job.fills, 4);

    free_without_leaks(cache);
}
END_TEST

START_TEST(short_sources)
{
    struct d2_derived_cache *cache = d2_derived_cache_new(d2_allocator_default(), 1 << 20);
    ck_assert_ptr_nonnull(cache);
    /* one word, and fewer bytes than a word: still fingerprinted */
    int32_t one[1] = { 42 };
    struct plus_one job = { one, 1, 0 };
    struct d2_derived_request r = request_for(&job, NULL, 0, 0);
    const void *value = d2_derived_cache_get(cache, &r);
    check_plus_one(value, one, 1);
    one[0] = 43;
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), value);
    check_plus_one(value, one, 1);
    ck_assert_int_eq(job.fills, 2);

    unsigned char three[3] = { 1, 2, 3 };
    int calls_before = job.fills;
    r.source = three;
    r.source_bytes = sizeof three;
    value = d2_derived_cache_get(cache, &r);
    ck_assert_ptr_nonnull(value);
    ck_assert_int_eq(job.fills, calls_before + 1);
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), value);
    ck_assert_int_eq(job.fills, calls_before + 1);
    three[2] = 9;
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), value);
    ck_assert_int_eq(job.fills, calls_before + 2);
    d2_derived_cache_free(cache);
}
END_TEST

START_TEST(budget_bounds_the_bytes)
{
    const size_t max_bytes = 1000 * sizeof(int32_t);
    struct d2_derived_cache *cache = counted_cache(max_bytes);
    static int32_t a[600], b[600], c[400];
    fill_source(a, 600, 1);
    fill_source(b, 600, 2);
    fill_source(c, 400, 3);
    const int64_t key[] = { 0 };
    struct plus_one job_a = { a, 600, 0 }, job_b = { b, 600, 0 }, job_c = { c, 400, 0 };
    struct d2_derived_request r = request_for(&job_a, key, sizeof key, 0);
    ck_assert_ptr_nonnull(d2_derived_cache_get(cache, &r));
    /* 600 + 600 words do not fit: NULL, nothing filled or kept */
    r = request_for(&job_b, key, sizeof key, 0);
    ck_assert_ptr_null(d2_derived_cache_get(cache, &r));
    ck_assert_int_eq(job_b.fills, 0);
    ck_assert_uint_eq(d2_derived_cache_bytes(cache), 600 * sizeof(int32_t));
    /* 600 + 400 fit exactly (alignment padding does not count) */
    r = request_for(&job_c, key, sizeof key, 256);
    const void *value = d2_derived_cache_get(cache, &r);
    check_plus_one(value, c, 400);
    ck_assert_uint_eq(d2_derived_cache_bytes(cache), max_bytes);
    /* full: hits still answer, refills too */
    fill_source(c, 400, 77);
    ck_assert_ptr_eq(d2_derived_cache_get(cache, &r), value);
    check_plus_one(value, c, 400);
    r = request_for(&job_b, key, sizeof key, 0);
    ck_assert_ptr_null(d2_derived_cache_get(cache, &r));
    free_without_leaks(cache);

    /* budget 0 caches nothing */
    cache = counted_cache(0);
    r = request_for(&job_a, key, sizeof key, 0);
    ck_assert_ptr_null(d2_derived_cache_get(cache, &r));
    ck_assert_uint_eq(d2_derived_cache_bytes(cache), 0);
    free_without_leaks(cache);
}
END_TEST

START_TEST(alignment)
{
    struct d2_derived_cache *cache = counted_cache(1 << 20);
    static int32_t src[37];
    fill_source(src, 37, 9);
    const size_t alignments[] = { 1, 2, 16, 64, 128, 4096 };
    for (size_t i = 0; i < sizeof alignments / sizeof alignments[0]; i++) {
        const int64_t key[] = { (int64_t)i };
        struct plus_one job = { src, 37, 0 };
        struct d2_derived_request r = request_for(&job, key, sizeof key, alignments[i]);
        const void *value = d2_derived_cache_get(cache, &r);
        check_plus_one(value, src, 37);
        ck_assert_uint_eq((uintptr_t)value % alignments[i], 0);
    }
    /* not a power of two: refused */
    const int64_t key[] = { 99 };
    struct plus_one job = { src, 37, 0 };
    struct d2_derived_request r = request_for(&job, key, sizeof key, 48);
    ck_assert_ptr_null(d2_derived_cache_get(cache, &r));
    ck_assert_int_eq(job.fills, 0);
    free_without_leaks(cache);
}
END_TEST

START_TEST(out_of_memory_and_null)
{
    counted.fail = true;
    ck_assert_ptr_null(d2_derived_cache_new(&counting_alloc, 1 << 20));
    counted.fail = false;
    struct d2_derived_cache *cache = counted_cache(1 << 20);
    static int32_t src[100];
    fill_source(src, 100, 4);
    const int64_t key[] = { 1 };
    struct plus_one job = { src, 100, 0 };
    struct d2_derived_request r = request_for(&job, key, sizeof key, 64);
    counted.fail = true;
    ck_assert_ptr_null(d2_derived_cache_get(cache, &r));
    ck_assert_int_eq(job.fills, 0);
    ck_assert_uint_eq(d2_derived_cache_bytes(cache), 0);
    counted.fail = false;
    check_plus_one(d2_derived_cache_get(cache, &r), src, 100);
    /* a NULL cache answers NULL and 0; freeing it is a no-op */
    ck_assert_ptr_null(d2_derived_cache_get(NULL, &r));
    ck_assert_uint_eq(d2_derived_cache_bytes(NULL), 0);
    d2_derived_cache_free(NULL);
    free_without_leaks(cache);
}
END_TEST

/* Threads asking for the same value together: computed once, all get the same. */
struct racer {
    struct d2_derived_cache *cache;
    const struct d2_derived_request *request;
    const void *got;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    r->got = d2_derived_cache_get(r->cache, r->request);
    return NULL;
}

START_TEST(threads_share_one_fill)
{
    struct d2_derived_cache *cache = d2_derived_cache_new(d2_allocator_default(), 1 << 20);
    ck_assert_ptr_nonnull(cache);
    static int32_t src[WORDS];
    fill_source(src, WORDS, 8);
    const int64_t key[] = { 5 };
    struct plus_one job = { src, WORDS, 0 };
    struct d2_derived_request r = request_for(&job, key, sizeof key, 64);
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    struct racer racers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        racers[i] = (struct racer){ cache, &r, NULL };
        ck_assert_int_eq(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    ck_assert_int_eq(job.fills, 1); /* fills run under the cache's mutex */
    for (int i = 0; i < THREADS; i++)
        ck_assert_ptr_eq(racers[i].got, racers[0].got);
    check_plus_one(racers[0].got, src, WORDS);
    d2_derived_cache_free(cache);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("derived_cache");
    TCase *tc = tcase_create("derived_cache");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, hit_and_miss);
    tcase_add_test(tc, changed_fingerprint_refills_in_place);
    tcase_add_test(tc, short_sources);
    tcase_add_test(tc, budget_bounds_the_bytes);
    tcase_add_test(tc, alignment);
    tcase_add_test(tc, out_of_memory_and_null);
    tcase_add_test(tc, threads_share_one_fill);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
