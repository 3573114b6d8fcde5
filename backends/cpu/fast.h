/* backends/cpu/fast.h: the fast f32 CPU kernels and their per-ISA kernel tables.
 *
 * Layers, bottom up:
 *   1. struct d2_cpu_kernels: one const table per ISA (kernels_generic.c,
 *      kernels_avx2.c, kernels_avx512.c, each compiled with its own -m flags). It holds
 *      only what must be written per ISA: the SGEMM micro-kernel and vector loops.
 *      d2_cpu_kernels_select picks one (cpuid, or D2RT_CPU=generic|avx2|avx512).
 *   2. ISA-independent drivers on top of a table: packed, cache-blocked, threaded
 *      SGEMM (fast_gemm.c) with a fused epilogue; convolution as implicit-im2col GEMM
 *      (fast_conv.c); elementwise and pooling loops (fast_ops.c).
 *   3. Executor kernels (d2_cpu_kernel_fn) for conv, conv_transpose, fused_conv, gemm, matmul,
 *      relu, sigmoid, add, mul, max_pool, average_pool: each handles the f32 cases it
 *      knows and calls the reference kernel for anything else (other dtypes, 3-D
 *      windows, max_pool Indices...), so the fast table covers every op.
 *   4. struct d2_cpu_fast: a session's choice of table plus its thread pool, run
 *      through the reference executor's interpreter (executor.h, kernel_data).
 *
 * Numerics: f32 accumulation (the reference accumulates in double), so results differ
 * from the reference by rounding that grows with the reduction length K. */
#ifndef D2_BACKENDS_CPU_FAST_H
#define D2_BACKENDS_CPU_FAST_H

#include "cpu.h"
#include "threadpool.h"

/* ---- 1. per-ISA kernel tables --------------------------------------------- */

/* Largest micro-tile any table uses (bounds stack buffers for edge tiles). */
#define D2_GEMM_MAX_MR 16
#define D2_GEMM_MAX_NR 48
/* Most taps (kernel_h * kernel_w) of a conv_tile call. */
#define D2_CONV_MAX_TAPS 49

/* What a micro-kernel adds to its tile before storing it (after accumulate):
 * C[i][j] = relu?(T[i][j] + bias[i] + residual[i*residual_ld + j]); pointers are the
 * tile's own (row 0, column 0); NULL: none. */
struct d2_tile_epilogue {
    const float *bias;
    const float *residual;
    int64_t residual_ld;
    bool relu;
};

struct d2_cpu_kernels {
    const char *name;          /* "generic", "avx2", "avx512" */
    int32_t mr, nr;            /* micro-tile: rows of C (from A), columns of C (from B) */
    int32_t mc, kc, nc;        /* cache blocking: rows of A per packed block (multiple of mr),
                                * depth of one packed panel, columns of B per packed block */
    /* The micro-kernel: T[i][j] = sum_{p<k} a[p*mr + i] * b[p*nr + j] for the full
     * mr x nr tile (a and b are packed panels, 64-byte aligned), then
     * C[i*ldc + j] = T[i][j] (+ C[i*ldc + j] when accumulate) for i < m_valid, j < n_valid. */
    void (*sgemm_tile)(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int32_t m_valid,
                       int32_t n_valid, bool accumulate);
    /* Direct convolution tile, or NULL (then convolutions go through d2_sgemm). The mr x nr
     * tile of C (same mr, nr as sgemm_tile) is
     *   T[i][j] = sum_{ch < channels, t < taps} a[(ch*taps + t)*mr + i] * B(ch, t, j),
     *   B(ch, t, j) = bit j of tap_mask[t] ? x[ch*plane + tap_offset[t] + j] : 0,
     * stored like sgemm_tile's, then the epilogue (NULL: none) on rows i < m_valid.
     * x is read in place (no packing): a stride-1 conv whose output rows are as wide as
     * the input's is, in flattened coordinates, a sum of shifted copies of the image,
     * one per tap, and the masks remove the padding. tap_mask NULL: every lane of every
     * tap is read (n_valid must then be nr). Lanes j >= n_valid must have clear mask
     * bits; taps <= D2_CONV_MAX_TAPS. Prefetch: with prefetch_stride > 0, the data of the
     * tile after next (x + 2*nr, every tap) of the channels ch with ch % prefetch_stride ==
     * prefetch_phase is prefetched (the row tiles of one column tile split the prefetches
     * between them, so the image streams in at the rate it is used instead of in one burst;
     * two tiles ahead: one tile's compute did not cover the DRAM latency of 1x1 layers). */
    void (*conv_tile)(int64_t channels, int32_t taps, const int64_t *tap_offset, const uint64_t *tap_mask,
                      const float *a, const float *x, int64_t plane, float *c, int64_t ldc, int32_t m_valid,
                      int32_t n_valid, bool accumulate, int32_t prefetch_stride, int32_t prefetch_phase,
                      const struct d2_tile_epilogue *epilogue);
    /* y[i] = relu(y[i] + bias + (residual ? residual[i] : 0)) (relu only when `relu`). */
    void (*bias_act)(float *y, int64_t n, float bias, const float *residual, bool relu);
    void (*relu)(float *y, const float *x, int64_t n);
    void (*sigmoid)(float *y, const float *x, int64_t n);
    void (*add)(float *y, const float *a, const float *b, int64_t n);      /* y = a + b */
    void (*mul)(float *y, const float *a, const float *b, int64_t n);      /* y = a * b */
    void (*add_scalar)(float *y, const float *a, float b, int64_t n);      /* y = a + b */
    void (*mul_scalar)(float *y, const float *a, float b, int64_t n);      /* y = a * b */
    void (*max)(float *y, const float *a, const float *b, int64_t n);      /* y = max(a, b) */
    /* y = alpha * y + beta * c (c NULL: y = alpha * y); used by gemm's epilogue. */
    void (*scale_add)(float *y, int64_t n, float alpha, float beta, const float *c);
    /* Peak measurement (d2rt bench): `iters` rounds of independent FMAs, each round
     * fma_loop_flops floating-point operations; writes a result to *sink. */
    void (*fma_loop)(int64_t iters, float *sink);
    int32_t fma_loop_flops;
};

extern const struct d2_cpu_kernels d2_cpu_kernels_generic;
extern const struct d2_cpu_kernels d2_cpu_kernels_avx2;
extern const struct d2_cpu_kernels d2_cpu_kernels_avx512;

/* Is the ISA of a table ("generic", "avx2", "avx512") usable on this CPU? */
bool d2_cpu_isa_supported(const char *name);
/* The table for `name`, or the best one this CPU runs when name is NULL or "".
 * Unknown or unsupported names fail with D2_ERR_UNSUPPORTED and a message. */
const struct d2_cpu_kernels *d2_cpu_kernels_select(const char *name, struct d2_error *err);

/* ---- 2. drivers ------------------------------------------------------------- */

/* Where the GEMM's B operand comes from: a strided matrix, or packed on the fly
 * (implicit im2col). pack writes the block rows [p0, p0+kc) x columns [j0, j0+nc)
 * in panel order: panel q (columns j0+q*nr ..) at dst + q*kc*nr, element (p, j) of
 * the panel at (p - p0)*nr + (j - j0 - q*nr); columns past the matrix are zero. */
struct d2_gemm_b_source {
    void (*pack)(const struct d2_gemm_b_source *src, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int32_t nr,
                 float *dst);
    const float *data;          /* strided matrix: B(p, j) = data[p*row_step + j*col_step] */
    int64_t row_step, col_step;
    const void *conv;           /* implicit im2col: the conv geometry (fast_conv.c) */
    int64_t n;                  /* columns of B (for the edge panel) */
    /* B already packed (NULL: pack is called): panel q of nr columns at packed + q*k*nr,
     * [k][nr], zero past n, 64-byte aligned (d2_gemm_cache_packed_b). */
    const float *packed;
};

/* What happens to each C row after the product (row i of C, columns j): */
struct d2_gemm_epilogue {
    const float *bias;          /* per row: C[i, :] += bias[i] (NULL: none) */
    const float *residual;      /* C[i, j] += residual[i*residual_ld + j] (NULL: none) */
    int64_t residual_ld;
    bool relu;                  /* then max(., 0) */
};

/* C[M,N] (row stride ldc) = A[M,K] B[K,N] (+ C when accumulate), then the epilogue.
 * A(i, p) = a[i*a_row_step + p*a_col_step]. Threaded over blocks of C. */
enum d2_status d2_sgemm(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool, int64_t m, int64_t n,
                        int64_t k, const float *a, int64_t a_row_step, int64_t a_col_step,
                        const struct d2_gemm_b_source *b, float *c, int64_t ldc, bool accumulate,
                        const struct d2_gemm_epilogue *epilogue, struct d2_error *err);

/* The strided-matrix B source. */
struct d2_gemm_b_source d2_gemm_b_matrix(const float *data, int64_t k, int64_t n, int64_t row_step,
                                         int64_t col_step);

/* 2-D (or 1-D) f32 convolution, NCHW, with an optional fused epilogue:
 * Y = relu?(conv(X, W) + bias + residual). Geometry comes from the conv attributes. */
struct d2_conv2d_params {
    int64_t batch, in_channels, in_h, in_w;
    int64_t out_channels, kernel_h, kernel_w;
    int64_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w, group;
    int64_t out_h, out_w;
};
enum d2_status d2_fast_conv2d(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool,
                              const struct d2_conv2d_params *p, const float *x, const float *w, const float *bias,
                              const float *residual, bool relu, float *y, const struct d2_allocator *alloc,
                              struct d2_error *err);

/* Winograd F(4x4, 3x3) convolution (fast_winograd.c): 3x3, stride 1, dilation 1, one
 * group, pads >= 0 (d2_winograd_applies). cache: the session's transformed weights
 * (NULL: transform per call). Same epilogue as d2_fast_conv2d; larger rounding error. */
struct d2_winograd_cache;
bool d2_winograd_applies(const struct d2_conv2d_params *p);
enum d2_status d2_winograd_conv2d(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool,
                                  struct d2_winograd_cache *cache, const struct d2_conv2d_params *p, const float *x,
                                  const float *w, const float *bias, const float *residual, bool relu, float *y,
                                  struct d2_error *err);
struct d2_winograd_cache *d2_winograd_cache_new(const struct d2_allocator *alloc);  /* NULL: out of memory */
void d2_winograd_cache_free(struct d2_winograd_cache *cache);
bool d2_winograd_enabled_by_env(void);   /* D2RT_WINOGRAD is not "0" */

/* Packed constant B operands of gemm and matmul, per session (fast_gemm_cache.c). A run
 * registers its graph (begin returns whether it did; call end only then); B is cached
 * only when its tensor is a constant of a registered graph. NULL from packed_b: pack
 * per call (not a constant, cache full, out of memory). */
struct d2_gemm_cache;
struct d2_gemm_cache *d2_gemm_cache_new(const struct d2_allocator *alloc);  /* NULL: out of memory */
void d2_gemm_cache_free(struct d2_gemm_cache *cache);
bool d2_gemm_cache_run_begin(struct d2_gemm_cache *cache, const struct d2_graph *g);
void d2_gemm_cache_run_end(struct d2_gemm_cache *cache, const struct d2_graph *g);
const float *d2_gemm_cache_packed_b(struct d2_gemm_cache *cache, const struct d2_cpu_kernels *kt,
                                    struct d2_threadpool *pool, const struct d2_tensor *b, int64_t k, int64_t n,
                                    int64_t row_step, int64_t col_step);
size_t d2_gemm_cache_bytes(struct d2_gemm_cache *cache);   /* packed bytes held (tests) */

/* ---- 3. executor kernels --------------------------------------------------- */

/* The fast kernel for op: one of the fast kernels below or the reference kernel. */
d2_cpu_kernel_fn d2_cpu_fast_kernel(enum d2_op op);

/* ---- 4. the session-level object ----------------------------------------- */

struct d2_cpu_fast {
    const struct d2_allocator *alloc;
    const struct d2_cpu_kernels *kernels;
    struct d2_threadpool *pool;
    bool reference;             /* run the reference kernels only (D2RT_REFERENCE=1) */
    /* The planned activation arena, kept between runs (executor.h). Opaque here so
     * that this header does not pull in the executor's. */
    struct d2_arena_cache *arena_cache;
    /* Freed large tensor buffers kept for the next allocation (block_cache.h); runs
     * with the session's own allocator go through it. */
    struct d2_block_cache *block_cache;
    /* Transformed 3x3 weights (fast_winograd.c); NULL: no Winograd (D2RT_WINOGRAD=0). */
    struct d2_winograd_cache *winograd;
    /* Packed constant B operands of gemm/matmul (fast_gemm_cache.c); NULL: none. */
    struct d2_gemm_cache *gemm_cache;
};

struct d2_cpu_fast_options {
    int32_t threads;            /* <= 0: one per CPU */
    const char *isa;            /* NULL: env D2RT_CPU, else the best supported */
    int reference;              /* 1: reference kernels, 0: fast, -1: env D2RT_REFERENCE */
};

enum d2_status d2_cpu_fast_new(const struct d2_cpu_fast_options *opts, const struct d2_allocator *alloc,
                               struct d2_cpu_fast **out, struct d2_error *err);
void d2_cpu_fast_free(struct d2_cpu_fast *fast);

/* Per-node timing hook for benchmarks (may be NULL): called after each node's kernel
 * with the kernel context (inputs and outputs still valid) and its wall time. */
typedef void (*d2_node_observer)(void *user, const struct d2_kernel_ctx *ctx, double seconds);

/* The allocator a caller may pass to d2_cpu_fast_execute to get outputs it frees
 * through that same allocator: their storage then goes back to fast's block cache
 * for the next run (as onnxruntime's arena takes back released outputs). *owner
 * receives a reference that keeps the allocator valid after d2_cpu_fast_free;
 * drop it with d2_cpu_fast_release_owner once everything allocated is freed. */
const struct d2_allocator *d2_cpu_fast_output_allocator(struct d2_cpu_fast *fast, void **owner);
void d2_cpu_fast_release_owner(void *owner);

/* Run a graph with the contract of d2_cpu_execute, using fast's kernels and pool.
 * alloc NULL or fast's own allocator: outputs are freed with that allocator; alloc
 * from d2_cpu_fast_output_allocator: freed with that one. */
enum d2_status d2_cpu_fast_execute(struct d2_cpu_fast *fast, const struct d2_graph *g,
                                   const struct d2_tensor *inputs, uint32_t num_inputs, struct d2_tensor *outputs,
                                   uint32_t num_outputs, const struct d2_allocator *alloc,
                                   d2_node_observer observer, void *observer_user, struct d2_error *err);

/* A session's conv: Winograd where it applies and pays (fast_winograd.c), else
 * d2_fast_conv2d. The conv and fused_conv kernels and d2rt bench run this. */
enum d2_status d2_cpu_fast_conv2d(const struct d2_cpu_fast *fast, const struct d2_conv2d_params *p, const float *x,
                                  const float *w, const float *bias, const float *residual, bool relu, float *y,
                                  struct d2_error *err);
/* Convolutions the session computed by Winograd so far (tests, benchmarks). */
int64_t d2_winograd_runs(const struct d2_cpu_fast *fast);

/* The session state a fast kernel finds in its context (NULL: none; fall back). */
const struct d2_cpu_fast *d2_cpu_fast_of(const struct d2_kernel_ctx *ctx);

#endif
