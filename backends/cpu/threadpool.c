/* backends/cpu/threadpool.c: the pthread pool of threadpool.h.
 *
 * Workers sleep on a condition variable until the pool's job generation changes,
 * then take chunks from a shared atomic counter until it passes `count`, and report
 * back by decrementing `busy`. The caller takes chunks too and then waits for busy to
 * reach 0, so parallel_for returns only when every chunk has finished (and the job's
 * ctx may live on the caller's stack). A thread-local flag marks threads inside a
 * job so that nested calls run serially instead of deadlocking. */
#define _GNU_SOURCE 1
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

struct scratch_buffer {
    void *raw;        /* from the allocator */
    float *aligned;   /* raw rounded up to 64 bytes */
    size_t bytes;     /* usable bytes from aligned */
};

struct worker {
    struct d2_threadpool *pool;
    int32_t index;
    pthread_t thread;
    bool started;
};

struct d2_threadpool {
    const struct d2_allocator *alloc;
    int32_t threads;
    struct worker *workers;                 /* threads - 1 entries */
    struct scratch_buffer *scratch;         /* threads * D2_SCRATCH_SLOTS */
    pthread_mutex_t lock;
    pthread_cond_t wake;                    /* workers: a new job or shutdown */
    pthread_cond_t done;                    /* caller: busy reached 0 */
    uint64_t generation;                    /* bumped per job (under lock) */
    bool shutdown;
    int32_t busy;                           /* workers still inside the current job */
    /* The current job. */
    d2_parallel_fn fn;
    void *ctx;
    int64_t count, chunk;
    atomic_int_fast64_t next;               /* first index not yet handed out */
};

/* Set while a thread runs a job's chunks: nested parallel_for runs inline. */
static _Thread_local bool inside_job;
static _Thread_local int32_t inside_thread_index;

int32_t d2_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

static void run_chunks(struct d2_threadpool *pool, int32_t thread)
{
    inside_job = true;
    inside_thread_index = thread;
    for (;;) {
        int64_t begin = atomic_fetch_add(&pool->next, pool->chunk);
        if (begin >= pool->count)
            break;
        int64_t end = begin + pool->chunk < pool->count ? begin + pool->chunk : pool->count;
        pool->fn(pool->ctx, begin, end, thread);
    }
    inside_job = false;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct d2_threadpool *pool = w->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->shutdown && pool->generation == seen)
            pthread_cond_wait(&pool->wake, &pool->lock);
        if (pool->shutdown)
            break;
        seen = pool->generation;
        pthread_mutex_unlock(&pool->lock);
        run_chunks(pool, w->index);
        pthread_mutex_lock(&pool->lock);
        if (--pool->busy == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

enum d2_status d2_threadpool_new(int32_t threads, const struct d2_allocator *alloc, struct d2_threadpool **out,
                                 struct d2_error *err)
{
    struct d2_threadpool *pool;
    *out = NULL;
    if (!alloc)
        alloc = d2_allocator_default();
    if (threads <= 0)
        threads = d2_cpu_count();
    pool = d2_calloc(alloc, 1, sizeof *pool);
    if (!pool)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory creating a thread pool");
    pool->alloc = alloc;
    pool->threads = threads;
    pool->workers = d2_calloc(alloc, (size_t)threads, sizeof *pool->workers);
    pool->scratch = d2_calloc(alloc, (size_t)threads * D2_SCRATCH_SLOTS, sizeof *pool->scratch);
    if (!pool->workers || !pool->scratch) {
        d2_free(alloc, pool->workers);
        d2_free(alloc, pool->scratch);
        d2_free(alloc, pool);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory creating a thread pool of %d threads", (int)threads);
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    atomic_init(&pool->next, 0);
    for (int32_t i = 1; i < threads; i++) {
        struct worker *w = &pool->workers[i];
        w->pool = pool;
        w->index = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            d2_threadpool_free(pool);
            return d2_errorf(err, D2_ERR_BACKEND, "could not start thread %d of %d", (int)i, (int)threads);
        }
        w->started = true;
    }
    *out = pool;
    return D2_OK;
}

void d2_threadpool_free(struct d2_threadpool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->shutdown = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int32_t i = 1; i < pool->threads; i++)
        if (pool->workers[i].started)
            pthread_join(pool->workers[i].thread, NULL);
    for (int32_t i = 0; i < pool->threads * D2_SCRATCH_SLOTS; i++)
        d2_free(pool->alloc, pool->scratch[i].raw);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    d2_free(pool->alloc, pool->workers);
    d2_free(pool->alloc, pool->scratch);
    d2_free(pool->alloc, pool);
}

int32_t d2_threadpool_size(const struct d2_threadpool *pool)
{
    return pool ? pool->threads : 1;
}

void d2_threadpool_parallel_for(struct d2_threadpool *pool, int64_t count, int64_t chunk, d2_parallel_fn fn,
                                void *ctx)
{
    if (count <= 0)
        return;
    if (chunk < 1)
        chunk = 1;
    /* Serial: no pool, one thread, one chunk, or called from inside a job. */
    if (!pool || pool->threads == 1 || count <= chunk || inside_job) {
        int32_t thread = inside_job ? inside_thread_index : 0;
        for (int64_t b = 0; b < count; b += chunk)
            fn(ctx, b, b + chunk < count ? b + chunk : count, thread);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->count = count;
    pool->chunk = chunk;
    atomic_store(&pool->next, 0);
    pool->busy = pool->threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    run_chunks(pool, 0);

    pthread_mutex_lock(&pool->lock);
    while (pool->busy > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}

float *d2_threadpool_scratch(struct d2_threadpool *pool, int32_t thread, int32_t slot, size_t bytes)
{
    if (!pool || thread < 0 || thread >= pool->threads || slot < 0 || slot >= D2_SCRATCH_SLOTS)
        return NULL;
    struct scratch_buffer *s = &pool->scratch[thread * D2_SCRATCH_SLOTS + slot];
    if (s->bytes >= bytes && s->aligned)
        return s->aligned;
    d2_free(pool->alloc, s->raw);
    s->raw = NULL;
    s->aligned = NULL;
    s->bytes = 0;
    /* Grow by half again, so a slowly growing request does not reallocate each time. */
    size_t want = bytes + bytes / 2 + 64;
    s->raw = d2_alloc(pool->alloc, want);
    if (!s->raw)
        return NULL;
    s->aligned = (float *)(((uintptr_t)s->raw + 63) & ~(uintptr_t)63);
    s->bytes = want - (size_t)((char *)s->aligned - (char *)s->raw);
    return s->aligned;
}
