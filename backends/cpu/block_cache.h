/* backends/cpu/block_cache.h: keep freed large tensor buffers for the next
 * allocation instead of handing them back to the system.
 *
 * Why. A Mask R-CNN run allocates and frees about 1 GB of large, data-dependent
 * tensors (RoI features, NHWC copies, mask stacks). malloc serves blocks above its
 * mmap threshold (at most 32 MiB in glibc) with fresh mappings, so every run faults
 * in and zeroes every page again: 0.6 s of system time per run measured at 800x1216.
 * Like onnxruntime's arena, the CPU backend keeps such blocks and reuses them.
 *
 * How. d2_block_cache_allocator() is a struct d2_allocator that forwards to the
 * underlying allocator, except that
 *   - blocks of at least `min_block` bytes are remembered (address -> size) while live;
 *   - freeing a remembered block parks it in the cache instead (up to `max_cached`
 *     bytes in all; beyond that the oldest parked blocks are really freed);
 *   - allocating `n` >= min_block bytes takes the smallest parked block of n to
 *     n + n/4 bytes, if any (its contents are stale: d2_calloc still zeroes it).
 * Every block comes from the underlying allocator, so memory that escapes (a run's
 * outputs, handed to the caller) may be freed with the underlying allocator directly;
 * d2_block_cache_forget must then be told, so the address is not remembered. Memory
 * freed through the cache allocator instead (a run's outputs released by a caller
 * that holds a reference) is parked like any other, so outputs recycle too.
 * Reference-counted: the cache lives until its creator and every holder of a
 * reference (d2_block_cache_retain) have called d2_block_cache_free.
 * Thread-safe (one mutex): kernels may allocate from worker threads. */
#ifndef D2_BACKENDS_CPU_BLOCK_CACHE_H
#define D2_BACKENDS_CPU_BLOCK_CACHE_H

#include "../../ir/ir.h"

struct d2_block_cache;

/* NULL when out of memory. `under` must outlive the cache. */
struct d2_block_cache *d2_block_cache_new(const struct d2_allocator *under, size_t min_block, size_t max_cached);
/* Drops one reference; the last frees the parked blocks and the cache (blocks still
 * live stay their owners'). */
void d2_block_cache_free(struct d2_block_cache *cache);
/* Takes one more reference (returns cache). */
struct d2_block_cache *d2_block_cache_retain(struct d2_block_cache *cache);
/* The caching allocator; valid while the cache lives. */
const struct d2_allocator *d2_block_cache_allocator(struct d2_block_cache *cache);
/* ptr (allocated through the cache) leaves it: it will be freed elsewhere. */
void d2_block_cache_forget(struct d2_block_cache *cache, const void *ptr);
/* Bytes parked now (tests, benchmarks). */
size_t d2_block_cache_parked_bytes(struct d2_block_cache *cache);

#endif
