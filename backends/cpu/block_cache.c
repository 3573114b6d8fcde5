/* backends/cpu/block_cache.c: the large-block cache (contract in block_cache.h).
 *
 * Two small tables behind one mutex:
 *   live    open-addressing hash set of the large blocks handed out (address ->
 *           size), linear probing, deletion by backward shift; grows at half load.
 *   parked  up to PARKED_MAX freed large blocks, in the order they were parked.
 * Small blocks pass straight through; their frees only cost a hash lookup. */
#include "block_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define PARKED_MAX 128

struct live_entry {
    const void *ptr; /* NULL: empty slot */
    size_t size;
};

struct parked_block {
    void *ptr;
    size_t size;
};

struct d2_block_cache {
    struct d2_allocator wrapper;     /* what d2_block_cache_allocator returns */
    const struct d2_allocator *under; /* &under_copy: the cache may outlive the caller's struct */
    struct d2_allocator under_copy;
    size_t min_block, max_cached;
    pthread_mutex_t lock;
    struct live_entry *live;
    size_t live_cap, live_count;     /* cap: a power of two */
    struct parked_block parked[PARKED_MAX];
    uint32_t num_parked;
    size_t parked_bytes;
    uint32_t references;             /* under lock */
};

static size_t slot_of(const struct d2_block_cache *c, const void *ptr)
{
    uintptr_t h = (uintptr_t)ptr;
    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (size_t)h & (c->live_cap - 1);
}

/* Index of ptr in live, or live_cap when absent. */
static size_t live_find(const struct d2_block_cache *c, const void *ptr)
{
    if (!c->live_cap)
        return 0;
    for (size_t i = slot_of(c, ptr);; i = (i + 1) & (c->live_cap - 1)) {
        if (c->live[i].ptr == ptr)
            return i;
        if (!c->live[i].ptr)
            return c->live_cap;
    }
}

static void live_remove_at(struct d2_block_cache *c, size_t i)
{
    size_t mask = c->live_cap - 1, j = i;
    c->live[i].ptr = NULL;
    c->live_count--;
    /* Backward shift: move later entries of the probe run into the hole when their
     * home slot does not lie strictly between the hole and them. */
    for (;;) {
        j = (j + 1) & mask;
        if (!c->live[j].ptr)
            return;
        size_t home = slot_of(c, c->live[j].ptr);
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            c->live[i] = c->live[j];
            c->live[j].ptr = NULL;
            i = j;
        }
    }
}

/* Remember ptr -> size; false when the table could not grow (the block then simply
 * passes through, uncached). */
static bool live_insert(struct d2_block_cache *c, const void *ptr, size_t size)
{
    if ((c->live_count + 1) * 2 > c->live_cap) {
        size_t cap = c->live_cap ? c->live_cap * 2 : 64;
        struct live_entry *old = c->live, *grown = d2_calloc(c->under, cap, sizeof *grown);
        size_t old_cap = c->live_cap;
        if (!grown)
            return false;
        c->live = grown;
        c->live_cap = cap;
        c->live_count = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].ptr)
                live_insert(c, old[i].ptr, old[i].size);
        d2_free(c->under, old);
    }
    size_t i = slot_of(c, ptr);
    while (c->live[i].ptr && c->live[i].ptr != ptr)
        i = (i + 1) & (c->live_cap - 1);
    if (!c->live[i].ptr)
        c->live_count++;
    c->live[i].ptr = ptr;
    c->live[i].size = size;
    return true;
}

/* Free parked block k for real. */
static void unpark(struct d2_block_cache *c, uint32_t k, bool release)
{
    if (release)
        d2_free(c->under, c->parked[k].ptr);
    c->parked_bytes -= c->parked[k].size;
    memmove(&c->parked[k], &c->parked[k + 1], (size_t)(c->num_parked - k - 1) * sizeof c->parked[0]);
    c->num_parked--;
}

static void *take_parked(struct d2_block_cache *c, size_t size)
{
    uint32_t best = UINT32_MAX;
    size_t limit = size + size / 4;
    for (uint32_t k = 0; k < c->num_parked; k++)
        if (c->parked[k].size >= size && c->parked[k].size <= limit &&
            (best == UINT32_MAX || c->parked[k].size < c->parked[best].size))
            best = k;
    if (best == UINT32_MAX)
        return NULL;
    void *ptr = c->parked[best].ptr;
    size_t got = c->parked[best].size;
    unpark(c, best, false);
    if (!live_insert(c, ptr, got)) {
        d2_free(c->under, ptr);
        return NULL;
    }
    return ptr;
}

static void park(struct d2_block_cache *c, void *ptr, size_t size)
{
    if (size > c->max_cached) {
        d2_free(c->under, ptr);
        return;
    }
    /* Over the byte budget the oldest go; when only the count is full, the smallest
     * goes (a loop's many small temporaries must not push out a run's big blocks). */
    while (c->parked_bytes + size > c->max_cached)
        unpark(c, 0, true);
    if (c->num_parked == PARKED_MAX) {
        uint32_t smallest = 0;
        for (uint32_t k = 1; k < c->num_parked; k++)
            if (c->parked[k].size < c->parked[smallest].size)
                smallest = k;
        if (c->parked[smallest].size >= size) {
            d2_free(c->under, ptr); /* every parked block is bigger: keep them */
            return;
        }
        unpark(c, smallest, true);
    }
    c->parked[c->num_parked].ptr = ptr;
    c->parked[c->num_parked].size = size;
    c->num_parked++;
    c->parked_bytes += size;
}

static void *cache_realloc(void *user, void *ptr, size_t size)
{
    struct d2_block_cache *c = user;
    void *out = NULL;
    pthread_mutex_lock(&c->lock);
    size_t at = ptr ? live_find(c, ptr) : c->live_cap;
    bool tracked = ptr && at < c->live_cap;
    if (size == 0) { /* free */
        if (tracked) {
            size_t was = c->live[at].size;
            live_remove_at(c, at);
            park(c, ptr, was);
        } else {
            d2_free(c->under, ptr);
        }
    } else if (!ptr) { /* allocate */
        if (size >= c->min_block) {
            out = take_parked(c, size);
        }
        if (!out) {
            out = d2_alloc(c->under, size);
            if (out && size >= c->min_block && !live_insert(c, out, size)) {
                /* untracked: it will pass through when freed */
            }
        }
    } else { /* resize */
        size_t was = tracked ? c->live[at].size : 0;
        if (tracked)
            live_remove_at(c, at);
        out = d2_realloc(c->under, ptr, size);
        if (!out && tracked)
            live_insert(c, ptr, was); /* a failed realloc leaves ptr as it was */
        else if (out && size >= c->min_block)
            live_insert(c, out, size);
    }
    pthread_mutex_unlock(&c->lock);
    return out;
}

struct d2_block_cache *d2_block_cache_new(const struct d2_allocator *under, size_t min_block, size_t max_cached)
{
    struct d2_block_cache *c;
    if (!under)
        under = d2_allocator_default();
    c = d2_calloc(under, 1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        d2_free(under, c);
        return NULL;
    }
    c->under_copy = *under;
    c->under = &c->under_copy;
    c->min_block = min_block ? min_block : 1;
    c->max_cached = max_cached;
    c->wrapper.realloc_fn = cache_realloc;
    c->wrapper.user = c;
    c->references = 1;
    return c;
}

struct d2_block_cache *d2_block_cache_retain(struct d2_block_cache *c)
{
    pthread_mutex_lock(&c->lock);
    c->references++;
    pthread_mutex_unlock(&c->lock);
    return c;
}

void d2_block_cache_free(struct d2_block_cache *c)
{
    uint32_t left;
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    left = --c->references;
    pthread_mutex_unlock(&c->lock);
    if (left)
        return;
    while (c->num_parked)
        unpark(c, c->num_parked - 1, true);
    struct d2_allocator under = c->under_copy;
    d2_free(&under, c->live);
    pthread_mutex_destroy(&c->lock);
    d2_free(&under, c);
}

const struct d2_allocator *d2_block_cache_allocator(struct d2_block_cache *c)
{
    return &c->wrapper;
}

void d2_block_cache_forget(struct d2_block_cache *c, const void *ptr)
{
    if (!c || !ptr)
        return;
    pthread_mutex_lock(&c->lock);
    size_t at = live_find(c, ptr);
    if (at < c->live_cap)
        live_remove_at(c, at);
    pthread_mutex_unlock(&c->lock);
}

size_t d2_block_cache_parked_bytes(struct d2_block_cache *c)
{
    size_t bytes;
    pthread_mutex_lock(&c->lock);
    bytes = c->parked_bytes;
    pthread_mutex_unlock(&c->lock);
    return bytes;
}
