/* backends/cpu/threadpool.h: a small pthread pool for the fast CPU kernels.
 *
 * A pool is created once per session with T threads in all: T-1 workers plus the
 * thread that calls d2_threadpool_parallel_for, which takes work too. parallel_for
 * splits [0, count) into chunks of `chunk` indices, hands them out dynamically (an
 * atomic counter) and returns when every chunk has run. Each call of fn gets the
 * index of the thread running it (0 = the caller, 1..T-1 = workers), so kernels can
 * use per-thread scratch memory (d2_threadpool_scratch) without locks.
 *
 * One parallel_for runs at a time per pool (kernels run one node at a time). A
 * parallel_for issued from inside fn (nested) runs serially on the calling thread,
 * with that thread's index. A NULL pool runs everything serially on the caller. */
#ifndef D2_BACKENDS_CPU_THREADPOOL_H
#define D2_BACKENDS_CPU_THREADPOOL_H

#include "../../ir/ir.h"

struct d2_threadpool;

/* fn runs indices [begin, end) on thread `thread` (0..threads-1). */
typedef void (*d2_parallel_fn)(void *ctx, int64_t begin, int64_t end, int32_t thread);

/* threads <= 0: one per online CPU. Fails (D2_ERR_NOMEM / D2_ERR_BACKEND) with a message. */
enum d2_status d2_threadpool_new(int32_t threads, const struct d2_allocator *alloc, struct d2_threadpool **out,
                                 struct d2_error *err);
void d2_threadpool_free(struct d2_threadpool *pool);
/* Threads in all (1 for a NULL pool). */
int32_t d2_threadpool_size(const struct d2_threadpool *pool);
/* Number of CPUs this process may run on (>= 1). */
int32_t d2_cpu_count(void);

/* Run fn over [0, count) in chunks of `chunk` (>= 1) indices. */
void d2_threadpool_parallel_for(struct d2_threadpool *pool, int64_t count, int64_t chunk, d2_parallel_fn fn,
                                void *ctx);

/* A 64-byte aligned buffer of at least `bytes` owned by thread `thread` of the pool
 * (grown on demand, kept until the pool is freed; contents are not preserved when it
 * grows). `slot` (0..D2_SCRATCH_SLOTS-1) lets one kernel hold several buffers: the
 * SGEMM uses slots 0 and 1 of every thread and the last slot of thread 0.
 * NULL when out of memory. With a NULL pool, slots of a process-wide fallback are
 * not available: pass a pool. */
#define D2_SCRATCH_SLOTS 4
float *d2_threadpool_scratch(struct d2_threadpool *pool, int32_t thread, int32_t slot, size_t bytes);

#endif
