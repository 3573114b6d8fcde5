/* backends/cpu/derived_cache.c: a session's derived constants (contract in
 * derived_cache.h). A mutex-guarded list of entries, newest first; sessions hold a
 * few hundred at most (one per weight), so a linear search is cheap next to the
 * kernels that use the results. */
#include "derived_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

struct derived_entry {
    const void *source;                         /* not owned */
    uint32_t fingerprint[D2_DERIVED_FINGERPRINT];
    size_t bytes, alignment;
    void *block;                                /* owned; value is aligned inside it */
    void *value;
    struct derived_entry *next;
    size_t key_bytes;
    unsigned char key[];                        /* key_bytes bytes */
};

struct d2_derived_cache {
    const struct d2_allocator *alloc;
    size_t max_bytes;
    pthread_mutex_t lock;
    struct derived_entry *entries;
    size_t bytes;                               /* sum of the entries' bytes */
};

struct d2_derived_cache *d2_derived_cache_new(const struct d2_allocator *alloc, size_t max_bytes)
{
    struct d2_derived_cache *cache = d2_calloc(alloc, 1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->alloc = alloc;
    cache->max_bytes = max_bytes;
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        d2_free(alloc, cache);
        return NULL;
    }
    return cache;
}

void d2_derived_cache_free(struct d2_derived_cache *cache)
{
    if (!cache)
        return;
    for (struct derived_entry *e = cache->entries, *next; e; e = next) {
        next = e->next;
        d2_free(cache->alloc, e->block);
        d2_free(cache->alloc, e);
    }
    pthread_mutex_destroy(&cache->lock);
    d2_free(cache->alloc, cache);
}

/* D2_DERIVED_FINGERPRINT words at evenly spaced word positions, first and last
 * included; a source shorter than one word contributes its bytes. */
static void fingerprint_of(const void *source, size_t source_bytes, uint32_t *out)
{
    const unsigned char *bytes = source;
    const size_t words = source_bytes / sizeof(uint32_t);
    memset(out, 0, D2_DERIVED_FINGERPRINT * sizeof *out);
    if (words == 0) {
        memcpy(out, bytes, source_bytes);
        return;
    }
    for (int i = 0; i < D2_DERIVED_FINGERPRINT; i++) {
        size_t at = words <= 1 ? 0 : (size_t)((double)i * (double)(words - 1) / (D2_DERIVED_FINGERPRINT - 1));
        memcpy(&out[i], bytes + at * sizeof(uint32_t), sizeof out[i]);
    }
}

static bool entry_matches(const struct derived_entry *e, const struct d2_derived_request *r)
{
    return e->source == r->source && e->bytes == r->bytes && e->alignment == r->alignment &&
           e->key_bytes == r->key_bytes && (r->key_bytes == 0 || memcmp(e->key, r->key, r->key_bytes) == 0);
}

/* A new entry for r with its value filled, or NULL (out of memory). */
static struct derived_entry *make_entry(struct d2_derived_cache *cache, const struct d2_derived_request *r,
                                        const uint32_t *fingerprint)
{
    const size_t padding = r->alignment > 1 ? r->alignment - 1 : 0;
    if (r->bytes > SIZE_MAX - padding)
        return NULL;
    struct derived_entry *e = d2_calloc(cache->alloc, 1, sizeof *e + r->key_bytes);
    void *block = e ? d2_alloc(cache->alloc, r->bytes + padding) : NULL;
    if (!block) {
        d2_free(cache->alloc, e);
        return NULL;
    }
    e->source = r->source;
    memcpy(e->fingerprint, fingerprint, sizeof e->fingerprint);
    e->bytes = r->bytes;
    e->alignment = r->alignment;
    e->block = block;
    e->value = (void *)(((uintptr_t)block + padding) & ~(uintptr_t)padding);
    e->key_bytes = r->key_bytes;
    if (r->key_bytes > 0)
        memcpy(e->key, r->key, r->key_bytes);
    r->fill(r->fill_ctx, e->value);
    return e;
}

const void *d2_derived_cache_get(struct d2_derived_cache *cache, const struct d2_derived_request *r)
{
    /* alignment must be a power of two (or 0): callers pass constants */
    if (!cache || !r->source || r->bytes == 0 || (r->alignment & (r->alignment - 1)) != 0)
        return NULL;
    uint32_t fingerprint[D2_DERIVED_FINGERPRINT];
    fingerprint_of(r->source, r->source_bytes, fingerprint);
    const void *found = NULL;
    pthread_mutex_lock(&cache->lock);
    for (struct derived_entry *e = cache->entries; e && !found; e = e->next) {
        if (!entry_matches(e, r))
            continue;
        if (memcmp(e->fingerprint, fingerprint, sizeof fingerprint) != 0) { /* other values at the same address */
            r->fill(r->fill_ctx, e->value);
            memcpy(e->fingerprint, fingerprint, sizeof fingerprint);
        }
        found = e->value;
    }
    if (!found && r->bytes <= cache->max_bytes - cache->bytes) {
        struct derived_entry *e = make_entry(cache, r, fingerprint);
        if (e) {
            e->next = cache->entries;
            cache->entries = e;
            cache->bytes += e->bytes;
            found = e->value;
        }
    }
    pthread_mutex_unlock(&cache->lock);
    return found;
}

size_t d2_derived_cache_bytes(struct d2_derived_cache *cache)
{
    if (!cache)
        return 0;
    pthread_mutex_lock(&cache->lock);
    size_t bytes = cache->bytes;
    pthread_mutex_unlock(&cache->lock);
    return bytes;
}
