/* backends/cpu/fast_gemm_cache.c: a session's packed constant B operands of gemm and
 * matmul (struct d2_gemm_cache, hung off struct d2_cpu_fast; API in fast.h).
 *
 * d2_sgemm packs B into nr-column panels on every call. When B is a model weight (the
 * box head's fc6: 1024 x 12544, 51 MB, transposed) that repacking is the same work on
 * every run, so the cache keeps B packed once per session in the layout d2_sgemm reads
 * in place (struct d2_gemm_b_source.packed: panel q of nr columns at q*k*nr, [k][nr]).
 *
 * Only constants are cached, and that is known exactly: a run registers its graph
 * (d2_gemm_cache_run_begin/end, called by d2_cpu_fast_execute), and a B operand is
 * cached only when its tensor is one of the constants of a graph being run (the
 * executor binds constants as &graph->constants[i]; regions are searched too), so its
 * values cannot change while the entry is used. The packed copies themselves are kept
 * by a derived-constant cache (derived_cache.h): keyed by the tensor and data
 * pointers, shape, strides and nr, with a fingerprint of sampled values, so a graph
 * freed and another loaded at the same addresses with other weights is repacked.
 * Bounded by GEMM_CACHE_MAX_BYTES; past that B is packed per call as before. A mutex
 * guards the list of graphs being run; packing into a new entry happens under the
 * derived cache's mutex (once per weight). */
#include "derived_cache.h"
#include "fast.h"

#include <pthread.h>
#include <stdint.h>

/* Packed weights kept per session at most (Mask R-CNN's box head: about 56 MiB). */
#define GEMM_CACHE_MAX_BYTES ((size_t)512 << 20)

struct live_graph {
    const struct d2_graph *graph;
    int32_t runs;                       /* runs of it in flight */
    struct live_graph *next;
};

struct d2_gemm_cache {
    const struct d2_allocator *alloc;
    pthread_mutex_t lock;               /* guards live */
    struct live_graph *live;
    struct d2_derived_cache *packed;    /* the packed B operands */
};

struct d2_gemm_cache *d2_gemm_cache_new(const struct d2_allocator *alloc)
{
    struct d2_gemm_cache *cache = d2_calloc(alloc, 1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->alloc = alloc;
    cache->packed = d2_derived_cache_new(alloc, GEMM_CACHE_MAX_BYTES);
    if (cache->packed && pthread_mutex_init(&cache->lock, NULL) == 0)
        return cache;
    d2_derived_cache_free(cache->packed);
    d2_free(alloc, cache);
    return NULL;
}

void d2_gemm_cache_free(struct d2_gemm_cache *cache)
{
    if (!cache)
        return;
    d2_derived_cache_free(cache->packed);
    for (struct live_graph *l = cache->live, *next; l; l = next) {
        next = l->next;
        d2_free(cache->alloc, l);
    }
    pthread_mutex_destroy(&cache->lock);
    d2_free(cache->alloc, cache);
}

bool d2_gemm_cache_run_begin(struct d2_gemm_cache *cache, const struct d2_graph *g)
{
    if (!cache || !g)
        return false;
    bool registered = false;
    pthread_mutex_lock(&cache->lock);
    for (struct live_graph *l = cache->live; l && !registered; l = l->next)
        if (l->graph == g) {
            l->runs++;
            registered = true;
        }
    if (!registered) {
        struct live_graph *l = d2_calloc(cache->alloc, 1, sizeof *l);
        if (l) { /* out of memory: this run simply caches nothing */
            l->graph = g;
            l->runs = 1;
            l->next = cache->live;
            cache->live = l;
            registered = true;
        }
    }
    pthread_mutex_unlock(&cache->lock);
    return registered;
}

void d2_gemm_cache_run_end(struct d2_gemm_cache *cache, const struct d2_graph *g)
{
    if (!cache)
        return;
    pthread_mutex_lock(&cache->lock);
    for (struct live_graph **at = &cache->live; *at; at = &(*at)->next)
        if ((*at)->graph == g) {
            struct live_graph *l = *at;
            if (--l->runs == 0) {
                *at = l->next;
                d2_free(cache->alloc, l);
            }
            break;
        }
    pthread_mutex_unlock(&cache->lock);
}

/* Is t one of the constants of g or of a region nested in it? */
static bool graph_holds_constant(const struct d2_graph *g, const struct d2_tensor *t)
{
    if (g->num_constants > 0 && t >= g->constants && t < g->constants + g->num_constants)
        return true;
    for (uint32_t i = 0; i < g->num_nodes; i++)
        for (uint32_t r = 0; r < g->nodes[i].num_regions; r++)
            if (graph_holds_constant(g->nodes[i].regions[r], t))
                return true;
    return false;
}

struct pack_job {
    struct d2_gemm_b_source src;
    struct d2_threadpool *pool;
    int64_t k, n;
    int32_t nr;
    float *dst;
};

/* Panels [begin, end) of nr columns, each [k][nr] (zero past n). */
static void pack_panels(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    const struct pack_job *job = ctx;
    (void)thread;
    job->src.pack(&job->src, 0, job->k, begin * job->nr, (end - begin) * job->nr, job->nr,
                  job->dst + begin * job->k * job->nr);
}

/* The derived-cache fill: all of B, packed (ctx: a struct pack_job). */
static void pack_all(void *ctx, void *dst)
{
    struct pack_job *job = ctx;
    job->dst = dst;
    d2_threadpool_parallel_for(job->pool, (job->n + job->nr - 1) / job->nr, 4, pack_panels, job);
}

const float *d2_gemm_cache_packed_b(struct d2_gemm_cache *cache, const struct d2_cpu_kernels *kt,
                                    struct d2_threadpool *pool, const struct d2_tensor *b, int64_t k, int64_t n,
                                    int64_t row_step, int64_t col_step)
{
    if (!cache || !b || !b->data || k <= 0 || n <= 0)
        return NULL;
    /* b's values cannot change during this run (the caller runs its graph) */
    bool constant = false;
    pthread_mutex_lock(&cache->lock);
    for (struct live_graph *l = cache->live; l && !constant; l = l->next)
        constant = graph_holds_constant(l->graph, b);
    pthread_mutex_unlock(&cache->lock);
    if (!constant)
        return NULL;
    const float *data = b->data;
    const int32_t nr = kt->nr;
    /* everything the packed layout depends on besides the values */
    const int64_t key[] = { (int64_t)(intptr_t)b, k, n, row_step, col_step, nr };
    struct pack_job job = { d2_gemm_b_matrix(data, k, n, row_step, col_step), pool, k, n, nr, NULL };
    /* the micro-kernels load B panels with aligned loads */
    const struct d2_derived_request request = {
        .source = data,
        .source_bytes = (size_t)(k * n) * sizeof(float),
        .key = key,
        .key_bytes = sizeof key,
        .bytes = (size_t)((n + nr - 1) / nr) * (size_t)nr * (size_t)k * sizeof(float),
        .alignment = 64,
        .fill = pack_all,
        .fill_ctx = &job,
    };
    return d2_derived_cache_get(cache->packed, &request);
}

size_t d2_gemm_cache_bytes(struct d2_gemm_cache *cache)
{
    return cache ? d2_derived_cache_bytes(cache->packed) : 0;
}
