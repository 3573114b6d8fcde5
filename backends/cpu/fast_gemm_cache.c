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
 * values cannot change while the entry is used. Entries are keyed by the tensor and
 * data pointers, shape, strides and nr, plus a fingerprint of sampled values: a graph
 * freed and another loaded at the same addresses with other weights is repacked.
 * Bounded by GEMM_CACHE_MAX_BYTES; past that B is packed per call as before. A mutex
 * guards the lists; packing into a new entry happens under it (once per weight). */
#include "fast.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* Packed weights kept per session at most (Mask R-CNN's box head: about 56 MiB). */
#define GEMM_CACHE_MAX_BYTES ((size_t)512 << 20)
/* Sampled values in a fingerprint. */
#define GEMM_FINGERPRINT 64

struct gemm_entry {
    const struct d2_tensor *tensor;     /* the constant it was made from (not owned) */
    const float *data;
    int64_t k, n, row_step, col_step;
    int32_t nr;
    uint32_t fingerprint[GEMM_FINGERPRINT];
    void *block;                        /* owned: packed, 64-byte aligned inside it */
    float *packed;
    size_t bytes;
    struct gemm_entry *next;
};

struct live_graph {
    const struct d2_graph *graph;
    int32_t runs;                       /* runs of it in flight */
    struct live_graph *next;
};

struct d2_gemm_cache {
    const struct d2_allocator *alloc;
    pthread_mutex_t lock;
    struct gemm_entry *entries;
    struct live_graph *live;
    size_t bytes;
};

struct d2_gemm_cache *d2_gemm_cache_new(const struct d2_allocator *alloc)
{
    struct d2_gemm_cache *cache = d2_calloc(alloc, 1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->alloc = alloc;
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        d2_free(alloc, cache);
        return NULL;
    }
    return cache;
}

void d2_gemm_cache_free(struct d2_gemm_cache *cache)
{
    if (!cache)
        return;
    for (struct gemm_entry *e = cache->entries, *next; e; e = next) {
        next = e->next;
        d2_free(cache->alloc, e->block);
        d2_free(cache->alloc, e);
    }
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

static void fingerprint_of(const float *b, int64_t count, uint32_t *out)
{
    for (int i = 0; i < GEMM_FINGERPRINT; i++) {
        int64_t at = count <= 1 ? 0 : (int64_t)((double)i * (double)(count - 1) / (GEMM_FINGERPRINT - 1));
        memcpy(&out[i], &b[at], sizeof out[i]);
    }
}

struct pack_job {
    struct d2_gemm_b_source src;
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

static void pack_all(struct d2_threadpool *pool, const float *data, int64_t k, int64_t n, int64_t row_step,
                     int64_t col_step, int32_t nr, float *dst)
{
    struct pack_job job = { d2_gemm_b_matrix(data, k, n, row_step, col_step), k, n, nr, dst };
    d2_threadpool_parallel_for(pool, (n + nr - 1) / nr, 4, pack_panels, &job);
}

const float *d2_gemm_cache_packed_b(struct d2_gemm_cache *cache, const struct d2_cpu_kernels *kt,
                                    struct d2_threadpool *pool, const struct d2_tensor *b, int64_t k, int64_t n,
                                    int64_t row_step, int64_t col_step)
{
    if (!cache || !b || !b->data || k <= 0 || n <= 0)
        return NULL;
    const float *data = b->data;
    const int32_t nr = kt->nr;
    const size_t bytes = (size_t)((n + nr - 1) / nr) * (size_t)nr * (size_t)k * sizeof(float);
    const float *found = NULL;
    pthread_mutex_lock(&cache->lock);
    bool constant = false;
    for (struct live_graph *l = cache->live; l && !constant; l = l->next)
        constant = graph_holds_constant(l->graph, b);
    if (constant) {
        uint32_t fp[GEMM_FINGERPRINT];
        fingerprint_of(data, k * n, fp);
        for (struct gemm_entry *e = cache->entries; e && !found; e = e->next) {
            if (e->tensor != b || e->data != data || e->k != k || e->n != n || e->row_step != row_step ||
                e->col_step != col_step || e->nr != nr)
                continue;
            if (memcmp(e->fingerprint, fp, sizeof fp) != 0) { /* other weights at the same address */
                pack_all(pool, data, k, n, row_step, col_step, nr, e->packed);
                memcpy(e->fingerprint, fp, sizeof fp);
            }
            found = e->packed;
        }
        if (!found && cache->bytes + bytes <= GEMM_CACHE_MAX_BYTES) {
            struct gemm_entry *e = d2_calloc(cache->alloc, 1, sizeof *e);
            /* the micro-kernels load B panels with aligned loads */
            void *block = e ? d2_alloc(cache->alloc, bytes + 64) : NULL;
            if (block) {
                float *packed = (float *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
                pack_all(pool, data, k, n, row_step, col_step, nr, packed);
                e->tensor = b;
                e->data = data;
                e->k = k;
                e->n = n;
                e->row_step = row_step;
                e->col_step = col_step;
                e->nr = nr;
                memcpy(e->fingerprint, fp, sizeof fp);
                e->block = block;
                e->packed = packed;
                e->bytes = bytes;
                e->next = cache->entries;
                cache->entries = e;
                cache->bytes += bytes;
                found = packed;
            } else {
                d2_free(cache->alloc, e);
            }
        }
    }
    pthread_mutex_unlock(&cache->lock);
    return found;
}

size_t d2_gemm_cache_bytes(struct d2_gemm_cache *cache)
{
    if (!cache)
        return 0;
    pthread_mutex_lock(&cache->lock);
    size_t bytes = cache->bytes;
    pthread_mutex_unlock(&cache->lock);
    return bytes;
}
