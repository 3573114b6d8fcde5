/* backends/cpu/fast_gemm.c: kernel-table selection and the packed, cache-blocked,
 * threaded SGEMM driver (GotoBLAS/BLIS structure) on top of a table's micro-kernel.
 *
 * C[M,N] is cut into tasks (an even block of nr-column panels x an even range of row
 * blocks), run in parallel. A task walks K in panels of kc: A goes into mr-row panels
 * (p-major, so the micro-kernel reads mr consecutive floats per step) and B into
 * nr-column panels, then the micro-kernel runs for every (nr panel, mr panel) pair:
 * one B panel (kc x nr) stays in L1 while the A block (mc x kc) streams from L2.
 * With several column blocks, A is packed once up front, slab by slab of K so that
 * the packed slab is still in L3 when every block reads it. After the last K panel
 * each tile gets the epilogue (bias, residual, relu) while it is still in cache.
 * Packing buffers are per-thread scratch of the pool, so a GEMM allocates nothing
 * after the first call of a session.
 *
 * B is abstract (struct d2_gemm_b_source): a strided matrix here, or packed straight
 * from the image by the convolution (implicit im2col, fast_conv.c), or already packed
 * (a constant weight packed once per session, fast_gemm_cache.c), read in place. */
#include "fast.h"

#include <stdatomic.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- kernel-table selection --------------------------------------------------- */

bool d2_cpu_isa_supported(const char *name)
{
    if (!name)
        return false;
    if (strcmp(name, "generic") == 0)
        return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return false;
}

const struct d2_cpu_kernels *d2_cpu_kernels_select(const char *name, struct d2_error *err)
{
    static const struct d2_cpu_kernels *const best_first[] = {
        &d2_cpu_kernels_avx512, &d2_cpu_kernels_avx2, &d2_cpu_kernels_generic,
    };
    for (size_t i = 0; i < sizeof best_first / sizeof best_first[0]; i++) {
        const struct d2_cpu_kernels *kt = best_first[i];
        if (!name || !*name) {
            if (d2_cpu_isa_supported(kt->name))
                return kt;
        } else if (strcmp(name, kt->name) == 0) {
            if (d2_cpu_isa_supported(kt->name))
                return kt;
            d2_errorf(err, D2_ERR_UNSUPPORTED, "CPU kernels '%s' were requested (D2RT_CPU) but this CPU lacks %s",
                      name, name);
            return NULL;
        }
    }
    if (name && *name)
        d2_errorf(err, D2_ERR_UNSUPPORTED, "unknown CPU kernels '%s' (D2RT_CPU): expected generic, avx2 or avx512",
                  name);
    else
        d2_errorf(err, D2_ERR_INTERNAL, "no CPU kernel table is usable");
    return NULL;
}

/* ---- packing -------------------------------------------------------------------- */

#ifdef __SSE2__
/* Four rows of A (row stride rs, contiguous along p) from p = 0 to kc into panel rows
 * i..i+3 (dst already offset by i): 4 x 4 blocks transposed in registers. The scalar
 * loop stored one float per 32-byte panel step: packing fc6's 50 MB A took 10-11 ms
 * with 1 thread, 5-5.5 ms this way (now bound by reading A from memory). */
static void pack_a_rows4(const float *src, int64_t rs, int64_t kc, int32_t mr, float *dst)
{
    const float *r0 = src, *r1 = src + rs, *r2 = src + 2 * rs, *r3 = src + 3 * rs;
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        __m128 x0 = _mm_loadu_ps(r0 + p), x1 = _mm_loadu_ps(r1 + p), x2 = _mm_loadu_ps(r2 + p),
               x3 = _mm_loadu_ps(r3 + p);
        _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
        _mm_storeu_ps(dst + (p + 0) * mr, x0);
        _mm_storeu_ps(dst + (p + 1) * mr, x1);
        _mm_storeu_ps(dst + (p + 2) * mr, x2);
        _mm_storeu_ps(dst + (p + 3) * mr, x3);
    }
    for (; p < kc; p++) {
        dst[p * mr + 0] = r0[p];
        dst[p * mr + 1] = r1[p];
        dst[p * mr + 2] = r2[p];
        dst[p * mr + 3] = r3[p];
    }
}
#endif

/* Rows [i0, i0+mc) x depth [p0, p0+kc) of A into mr-row panels; rows past m are 0. */
static void pack_a(const float *a, int64_t rs, int64_t cs, int64_t m, int64_t i0, int64_t mc, int64_t p0,
                   int64_t kc, int32_t mr, float *dst)
{
    for (int64_t r = 0; r < mc; r += mr) {
        int64_t rows = m - (i0 + r) < mr ? m - (i0 + r) : mr;
        if (rows > mc - r)
            rows = mc - r;
        const float *src = a + (i0 + r) * rs + p0 * cs;
        if (cs == 1) {
            int64_t i = 0;
#ifdef __SSE2__
            for (; i + 4 <= rows; i += 4)
                pack_a_rows4(src + i * rs, rs, kc, mr, dst + i);
#endif
            for (; i < rows; i++) {
                const float *row = src + i * rs;
                for (int64_t p = 0; p < kc; p++)
                    dst[p * mr + i] = row[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int64_t i = 0; i < rows; i++)
                    dst[p * mr + i] = src[i * rs + p * cs];
        }
        for (int64_t i = rows; i < mr; i++)
            for (int64_t p = 0; p < kc; p++)
                dst[p * mr + i] = 0.0f;
        dst += kc * mr;
    }
}

/* nr floats; the common widths get constant-size copies the compiler inlines. */
static inline void copy_panel_row(float *dst, const float *src, int32_t nr)
{
    if (nr == 32)
        memcpy(dst, src, 32 * sizeof(float));
    else if (nr == 16)
        memcpy(dst, src, 16 * sizeof(float));
    else
        memcpy(dst, src, (size_t)nr * sizeof(float));
}

static void pack_b_matrix(const struct d2_gemm_b_source *src, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                          int32_t nr, float *dst)
{
    const int64_t rs = src->row_step, cs = src->col_step;
    for (int64_t q = 0; q < nc; q += nr, dst += kc * nr) {
        int64_t j = j0 + q;
        int64_t cols = src->n - j < nr ? src->n - j : nr;
        if (cols > nc - q)
            cols = nc - q;
        const float *base = src->data + p0 * rs + j * cs;
        if (cs == 1 && cols == nr) {
            for (int64_t p = 0; p < kc; p++)
                copy_panel_row(dst + p * nr, base + p * rs, nr);
            continue;
        }
        if (rs == 1) { /* transposed B: each column is contiguous along p */
            for (int64_t jj = 0; jj < cols; jj++) {
                const float *col = base + jj * cs;
                for (int64_t p = 0; p < kc; p++)
                    dst[p * nr + jj] = col[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int64_t jj = 0; jj < cols; jj++)
                    dst[p * nr + jj] = base[p * rs + jj * cs];
        }
        if (cols < nr)
            for (int64_t p = 0; p < kc; p++)
                for (int64_t jj = cols; jj < nr; jj++)
                    dst[p * nr + jj] = 0.0f;
    }
}

struct d2_gemm_b_source d2_gemm_b_matrix(const float *data, int64_t k, int64_t n, int64_t row_step,
                                         int64_t col_step)
{
    struct d2_gemm_b_source s;
    (void)k;
    memset(&s, 0, sizeof s);
    s.pack = pack_b_matrix;
    s.data = data;
    s.row_step = row_step;
    s.col_step = col_step;
    s.n = n;
    return s;
}

/* ---- the driver ----------------------------------------------------------------- */

/* K is run in slabs whose packed A stays in the last-level cache: the box head's fc6
 * (A 1000 x 12544, 50 MB) read its packed A from memory once per column block, 4 times
 * with 2 threads, on top of the packing's 50 MB round trip. Per slab, A is packed and
 * then used by every column block while it is still in L3. */
#define GEMM_SLAB_BYTES ((size_t)4 << 20)

/* The slab budget in use: tests lower it to run several slabs on small shapes. */
size_t d2_sgemm_slab_bytes = GEMM_SLAB_BYTES;

struct gemm_job {
    const struct d2_cpu_kernels *kt;
    struct d2_threadpool *pool;
    int64_t m, n, k;
    const float *a;
    int64_t a_rs, a_cs;
    const struct d2_gemm_b_source *b;
    float *c;
    int64_t ldc;
    bool accumulate;
    const struct d2_gemm_epilogue *epilogue;   /* NULL: none */
    int64_t mc, kc, m_blocks;                  /* row blocks of mc rows (the last may be shorter) */
    int64_t n_panels, n_blocks;                /* nr-column panels, split into n_blocks even blocks */
    int64_t m_tasks;                           /* row blocks split into m_tasks even ranges */
    int64_t block_panels;                      /* panels of the widest column block */
    int64_t s0, slab_len, slab_panels;         /* the slab of K being run: [s0, s0 + slab_len) */
    float *a_packed;                           /* the slab of A packed up front (NULL: pack per task) */
    int64_t tasks;
    atomic_bool out_of_memory;
};

/* Boundary i of `total` items split into `parts` runs as even as possible. */
static inline int64_t even_split(int64_t total, int64_t parts, int64_t i)
{
    return total * i / parts;
}

/* Packs blocks [begin, end) of the slab of A (block = row block * slab_panels + K panel). */
static void pack_a_blocks(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct gemm_job *job = ctx;
    const int32_t mr = job->kt->mr;
    const int64_t s_end = job->s0 + job->slab_len;
    (void)thread;
    for (int64_t blk = begin; blk < end; blk++) {
        const int64_t ib = blk / job->slab_panels, pi = blk % job->slab_panels;
        const int64_t i0 = ib * job->mc, p0 = job->s0 + pi * job->kc;
        const int64_t mcur = job->m - i0 < job->mc ? job->m - i0 : job->mc;
        const int64_t kcur = s_end - p0 < job->kc ? s_end - p0 : job->kc;
        pack_a(job->a, job->a_rs, job->a_cs, job->m, i0, (mcur + mr - 1) / mr * mr, p0, kcur, mr,
               job->a_packed + blk * job->mc * job->kc);
    }
}

static void epilogue_tile(const struct gemm_job *job, int64_t i0, int64_t j0, int64_t rows, int64_t cols)
{
    const struct d2_gemm_epilogue *e = job->epilogue;
    for (int64_t i = i0; i < i0 + rows; i++)
        job->kt->bias_act(job->c + i * job->ldc + j0, cols, e->bias ? e->bias[i] : 0.0f,
                          e->residual ? e->residual + i * e->residual_ld + j0 : NULL, e->relu);
}

/* C[i0 .. i0+mcur) x [j0 .. j0+ncur) (+)= the packed A block ap (kcur deep) times the B
 * panels at bp, one every b_panel_stride floats: each B panel stays in L1 while the A
 * block streams from L2. After the last K panel (`last`) each tile gets the epilogue
 * while it is still in cache. */
static void multiply_block(const struct gemm_job *job, const float *ap, const float *bp, int64_t b_panel_stride,
                           int64_t kcur, bool accumulate, bool last, int64_t i0, int64_t mcur, int64_t j0,
                           int64_t ncur)
{
    const struct d2_cpu_kernels *kt = job->kt;
    const int32_t mr = kt->mr, nr = kt->nr;
    const bool has_epilogue =
        last && job->epilogue && (job->epilogue->bias || job->epilogue->residual || job->epilogue->relu);
    for (int64_t jr = 0; jr < ncur; jr += nr, bp += b_panel_stride) {
        int32_t cols = (int32_t)(ncur - jr < nr ? ncur - jr : nr);
        for (int64_t ir = 0; ir < mcur; ir += mr) {
            int32_t rows = (int32_t)(mcur - ir < mr ? mcur - ir : mr);
            float *ct = job->c + (i0 + ir) * job->ldc + j0 + jr;
            kt->sgemm_tile(kcur, ap + ir * kcur, bp, ct, job->ldc, rows, cols, accumulate);
            if (has_epilogue)
                epilogue_tile(job, i0 + ir, j0 + jr, rows, cols);
        }
    }
}

/* The packed block of A for row block ib, K panel p0: from the slab packed up front, or
 * packed now into the thread's scratch. */
static const float *a_block(const struct gemm_job *job, float *a_pack, int64_t ib, int64_t p0, int64_t kcur)
{
    if (job->a_packed)
        return job->a_packed + (ib * job->slab_panels + (p0 - job->s0) / job->kc) * job->mc * job->kc;
    const int32_t mr = job->kt->mr;
    const int64_t i0 = ib * job->mc, mcur = job->m - i0 < job->mc ? job->m - i0 : job->mc;
    pack_a(job->a, job->a_rs, job->a_cs, job->m, i0, (mcur + mr - 1) / mr * mr, p0, kcur, mr, a_pack);
    return a_pack;
}

static void gemm_task(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct gemm_job *job = ctx;
    const int32_t nr = job->kt->nr;
    float *a_pack = job->a_packed ? NULL
                                  : d2_threadpool_scratch(job->pool, thread, 0, (size_t)(job->mc * job->kc) * sizeof(float));
    const float *b_packed = job->b->packed; /* all of B, packed once per session */
    float *b_pack = b_packed ? NULL
                             : d2_threadpool_scratch(job->pool, thread, 1,
                                                     (size_t)(job->kc * job->block_panels * nr) * sizeof(float));
    if ((!a_pack && !job->a_packed) || (!b_pack && !b_packed)) {
        atomic_store(&job->out_of_memory, true);
        return;
    }
    const int64_t s_end = job->s0 + job->slab_len;
    for (int64_t t = begin; t < end; t++) {
        /* Task t: one column block and one range of row blocks. */
        const int64_t cb = t / job->m_tasks, rt = t % job->m_tasks;
        const int64_t j0 = even_split(job->n_panels, job->n_blocks, cb) * nr;
        const int64_t j_end = even_split(job->n_panels, job->n_blocks, cb + 1) * nr;
        const int64_t ncur = (j_end < job->n ? j_end : job->n) - j0;
        const int64_t ib_first = even_split(job->m_blocks, job->m_tasks, rt);
        const int64_t ib_end = even_split(job->m_blocks, job->m_tasks, rt + 1);
        if (b_packed) {
            /* Row block outermost: its C block stays in L2 over the slab's K panels (the
             * other order sent fc6's 1000 x 288 C block through L3 once per K panel). B
             * panels come from the cache's layout, read in place. */
            for (int64_t ib = ib_first; ib < ib_end; ib++) {
                const int64_t i0 = ib * job->mc, mcur = job->m - i0 < job->mc ? job->m - i0 : job->mc;
                for (int64_t p0 = job->s0; p0 < s_end; p0 += job->kc) {
                    const int64_t kcur = s_end - p0 < job->kc ? s_end - p0 : job->kc;
                    multiply_block(job, a_block(job, a_pack, ib, p0, kcur), b_packed + j0 * job->k + p0 * nr,
                                   job->k * nr, kcur, job->accumulate || p0 > 0, p0 + kcur >= job->k, i0, mcur, j0,
                                   ncur);
                }
            }
        } else {
            /* K panel outermost: the task's B block is packed once per panel and used by
             * every row block. B first: the A block packed next is then the freshest data
             * in L2. */
            for (int64_t p0 = job->s0; p0 < s_end; p0 += job->kc) {
                const int64_t kcur = s_end - p0 < job->kc ? s_end - p0 : job->kc;
                job->b->pack(job->b, p0, kcur, j0, j_end - j0, nr, b_pack);
                for (int64_t ib = ib_first; ib < ib_end; ib++) {
                    const int64_t i0 = ib * job->mc, mcur = job->m - i0 < job->mc ? job->m - i0 : job->mc;
                    multiply_block(job, a_block(job, a_pack, ib, p0, kcur), b_pack, kcur * nr, kcur,
                                   job->accumulate || p0 > 0, p0 + kcur >= job->k, i0, mcur, j0, ncur);
                }
            }
        }
        if (job->k == 0) { /* an empty sum: C is 0 (or kept), then the epilogue */
            int64_t i_first = ib_first * job->mc, i_end = ib_end * job->mc < job->m ? ib_end * job->mc : job->m;
            for (int64_t i = i_first; i < i_end; i++)
                if (!job->accumulate)
                    memset(job->c + i * job->ldc + j0, 0, (size_t)ncur * sizeof(float));
            if (job->epilogue && (job->epilogue->bias || job->epilogue->residual || job->epilogue->relu))
                epilogue_tile(job, i_first, j0, i_end - i_first, ncur);
        }
    }
}

/* Splits C into tasks: column blocks of whole nr panels (at most nc columns; with fewer
 * than 2 per thread, narrower, down to 4 panels), then, still short of 2 tasks per
 * thread, ranges of row blocks. Blocks and ranges are even (they differ by at most one
 * panel or row block), so that 2 threads end together: fc6's 22 panels were 6+6+6+4. */
static void plan_tasks(struct gemm_job *job, int64_t threads)
{
    const struct d2_cpu_kernels *kt = job->kt;
    const int64_t m = job->m, mr = kt->mr, nr = kt->nr;
    job->n_panels = (job->n + nr - 1) / nr;
    const int64_t panels_max = kt->nc / nr > 0 ? kt->nc / nr : 1;
    job->n_blocks = (job->n_panels + panels_max - 1) / panels_max;
    if (threads > 1 && job->n_blocks < 2 * threads) {
        int64_t blocks = job->n_panels / 4 < 2 * threads ? job->n_panels / 4 : 2 * threads;
        if (blocks > job->n_blocks)
            job->n_blocks = blocks;
    }
    job->block_panels = (job->n_panels + job->n_blocks - 1) / job->n_blocks;
    job->m_tasks = 1;
    if (threads > 1 && job->n_blocks < 2 * threads)
        job->m_tasks = (2 * threads + job->n_blocks - 1) / job->n_blocks;
    /* Row blocks: at most mc rows, at least one per task and a multiple of the tasks
     * (an even share each), as even as mr allows. */
    const int64_t row_panels = (m + mr - 1) / mr;
    if (job->m_tasks > row_panels)
        job->m_tasks = row_panels;
    int64_t blocks = (m + kt->mc - 1) / kt->mc;
    blocks = (blocks + job->m_tasks - 1) / job->m_tasks * job->m_tasks;
    if (blocks > row_panels)
        blocks = row_panels;
    job->mc = ((m + blocks - 1) / blocks + mr - 1) / mr * mr;
    job->m_blocks = (m + job->mc - 1) / job->mc;
    if (job->m_tasks > job->m_blocks)
        job->m_tasks = job->m_blocks;
}

enum d2_status d2_sgemm(const struct d2_cpu_kernels *kt, struct d2_threadpool *pool, int64_t m, int64_t n,
                        int64_t k, const float *a, int64_t a_row_step, int64_t a_col_step,
                        const struct d2_gemm_b_source *b, float *c, int64_t ldc, bool accumulate,
                        const struct d2_gemm_epilogue *epilogue, struct d2_error *err)
{
    struct gemm_job job;
    if (m <= 0 || n <= 0)
        return D2_OK;
    if (!pool)
        return d2_errorf(err, D2_ERR_INTERNAL, "sgemm needs a thread pool (for its packing buffers)");
    memset(&job, 0, sizeof job);
    job.kt = kt;
    job.pool = pool;
    job.m = m;
    job.n = n;
    job.k = k;
    job.a = a;
    job.a_rs = a_row_step;
    job.a_cs = a_col_step;
    job.b = b;
    job.c = c;
    job.ldc = ldc;
    job.accumulate = accumulate;
    job.epilogue = epilogue;
    job.kc = kt->kc;
    plan_tasks(&job, d2_threadpool_size(pool));
    /* A is read by every column block: with several, pack it once per slab, on all
     * threads (caller's scratch; d2_sgemm is called from outside parallel jobs). */
    const int64_t k_panels = (k + job.kc - 1) / job.kc;
    const bool prepack = job.n_blocks > 1 && k > 0;
    int64_t slab_panels = k_panels > 0 ? k_panels : 1;
    if (prepack) {
        const size_t panel_bytes = (size_t)(job.m_blocks * job.mc * job.kc) * sizeof(float);
        int64_t fit = (int64_t)(d2_sgemm_slab_bytes / panel_bytes);
        if (fit < 1)
            fit = 1;
        const int64_t slabs = (k_panels + fit - 1) / fit;
        slab_panels = (k_panels + slabs - 1) / slabs;
        job.a_packed = d2_threadpool_scratch(pool, 0, D2_SCRATCH_SLOTS - 1, (size_t)slab_panels * panel_bytes);
        if (!job.a_packed)
            return d2_errorf(err, D2_ERR_NOMEM, "sgemm: out of memory packing A (%lld x %lld)", (long long)m,
                             (long long)k);
    }
    atomic_init(&job.out_of_memory, false);
    job.tasks = job.m_tasks * job.n_blocks;
    for (int64_t s0 = 0;; s0 += slab_panels * job.kc) {
        job.s0 = s0;
        job.slab_len = k - s0 < slab_panels * job.kc ? k - s0 : slab_panels * job.kc;
        job.slab_panels = (job.slab_len + job.kc - 1) / job.kc;
        if (prepack)
            d2_threadpool_parallel_for(pool, job.m_blocks * job.slab_panels, 2, pack_a_blocks, &job);
        d2_threadpool_parallel_for(pool, job.tasks, 1, gemm_task, &job);
        if (atomic_load(&job.out_of_memory))
            return d2_errorf(err, D2_ERR_NOMEM, "sgemm: out of memory for packing buffers");
        if (s0 + job.slab_len >= k)
            break;
    }
    return D2_OK;
}
