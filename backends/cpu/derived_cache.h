/* backends/cpu/derived_cache.h: a session's cache of "derived constants": buffers
 * computed once from a model constant and reused on every later run.
 *
 * What. A derived constant is a pure function of some source values (a weight
 * tensor) and of a few layout parameters (shape, strides, micro-kernel tile sizes):
 * the Winograd transform of a 3x3 weight (fast_winograd.c) or the packed panels of a
 * gemm's B operand (fast_gemm_cache.c). Computing it is the same work on every run,
 * so a session keeps it. The cache knows nothing of what is derived: the caller
 * gives the size of the result and a fill callback that computes it.
 *
 * Keys. An entry is found by the source pointer, the caller's key bytes (compared
 * with memcmp: build the key without padding, e.g. an array of int64_t, or zero it
 * first), the result's size and its alignment.
 *
 * Why a fingerprint. The source pointer alone does not identify the values: a graph
 * may be freed and another loaded at the same addresses with other weights, or a
 * buffer reused. Each entry keeps D2_DERIVED_FINGERPRINT 32-bit words sampled evenly
 * across the source; a lookup whose key matches but whose samples differ refills the
 * entry in place (cheap to check on every call, and catches any realistic reuse; it
 * is not a hash of every value, so callers cache only values that do not change
 * while the session may use them, such as graph constants).
 *
 * Budget. The entries together hold at most max_bytes (the requested sizes). A miss
 * that does not fit, or that runs out of memory, returns NULL and caches nothing:
 * the caller then computes the value itself, into scratch memory, as it would
 * without a cache.
 *
 * Thread safety. One mutex guards the cache; lookups and fills run under it, so a
 * value is computed once even when threads ask for it together (the fill may itself
 * use a thread pool, but must not call back into the same cache). A returned buffer
 * stays valid until d2_derived_cache_free; a refill rewrites it in place, which is
 * safe because its source, and so its contents, only change when no run uses it. */
#ifndef D2_BACKENDS_CPU_DERIVED_CACHE_H
#define D2_BACKENDS_CPU_DERIVED_CACHE_H

#include <stddef.h>

#include "../../ir/ir.h"

/* Sampled 32-bit words in a source's fingerprint. */
#define D2_DERIVED_FINGERPRINT 64

struct d2_derived_cache;

/* Computes the derived value into dst (request.bytes bytes, request.alignment-aligned). */
typedef void (*d2_derived_fill_fn)(void *ctx, void *dst);

/* One lookup (d2_derived_cache_get). */
struct d2_derived_request {
    const void *source;     /* the values the result derives from (not owned) */
    size_t source_bytes;    /* sampled as 32-bit words for the fingerprint */
    const void *key;        /* the layout parameters, compared bytewise (copied) */
    size_t key_bytes;
    size_t bytes;           /* size of the derived value (> 0) */
    size_t alignment;       /* of the derived value: a power of two, or 0 for d2_alloc's */
    d2_derived_fill_fn fill;
    void *fill_ctx;
};

/* NULL when out of memory. alloc must outlive the cache. */
struct d2_derived_cache *d2_derived_cache_new(const struct d2_allocator *alloc, size_t max_bytes);
/* Frees every entry and the cache (NULL: nothing). */
void d2_derived_cache_free(struct d2_derived_cache *cache);
/* The derived value of request: found (refilled first if the source's fingerprint
 * changed), or made and cached on a miss. NULL: cache NULL, over budget, or out of
 * memory; nothing was filled and the caller computes the value itself. */
const void *d2_derived_cache_get(struct d2_derived_cache *cache, const struct d2_derived_request *request);
/* Bytes of derived values held (tests, benchmarks). */
size_t d2_derived_cache_bytes(struct d2_derived_cache *cache);

#endif
