/* backends/cpu/fast_gemm.c: kernel-table selection and the packed, cache-blocked,
 * threaded SGEMM driver (GotoBLAS/BLIS structure) on top of a table's micro-kernel.
 *
 * C[M,N] is cut into tasks of mc rows x nc columns, run in parallel. A task walks K
 * in panels of kc: it packs its rows of A into mr-row panels (p-major, so the
 * micro-kernel reads mr consecutive floats per step) and its columns of B into
 * nr-column panels, then calls the micro-kernel for every (nr panel, mr panel) pair:
 * one B panel (kc x nr) stays in L1 while the A block (mc x kc) streams from L2.
 * After the last K panel each tile gets the epilogue (bias, residual, relu) while it
 * is still in cache. Packing buffers are per-thread scratch of the pool, so a GEMM
 * allocates nothing after the first call of a session.
 *
 * B is abstract (struct d2_gemm_b_source): a strided matrix here, or packed straight
 * from the image by the convolution (implicit im2col, fast_conv.c), or already packed
 * (a constant weight packed once per session, fast_gemm_cache.c), read in place. */
#include "fast.h"

#include <stdatomic.h>
#include <string.h>

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
            for (int64_t i = 0; i < rows; i++) {
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
    int64_t mc, nc, kc, m_blocks;
    int64_t m_tasks, m_per_task;               /* row blocks are split into m_tasks ranges */
    const float *a_packed;                     /* all of A packed once (NULL: pack per task) */
    int64_t k_panels;
    atomic_bool out_of_memory;
};

/* Packs blocks [begin, end) of A up front (block = row block * k_panels + K panel). */
static void pack_a_blocks(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct gemm_job *job = ctx;
    const int32_t mr = job->kt->mr;
    (void)thread;
    for (int64_t blk = begin; blk < end; blk++) {
        const int64_t ib = blk / job->k_panels, pi = blk % job->k_panels;
        const int64_t i0 = ib * job->mc, p0 = pi * job->kc;
        const int64_t mcur = job->m - i0 < job->mc ? job->m - i0 : job->mc;
        const int64_t kcur = job->k - p0 < job->kc ? job->k - p0 : job->kc;
        pack_a(job->a, job->a_rs, job->a_cs, job->m, i0, (mcur + mr - 1) / mr * mr, p0, kcur, mr,
               (float *)job->a_packed + blk * job->mc * job->kc);
    }
}

static void epilogue_tile(const struct gemm_job *job, int64_t i0, int64_t j0, int64_t rows, int64_t cols)
{
    const struct d2_gemm_epilogue *e = job->epilogue;
    for (int64_t i = i0; i < i0 + rows; i++)
        job->kt->bias_act(job->c + i * job->ldc + j0, cols, e->bias ? e->bias[i] : 0.0f,
                          e->residual ? e->residual + i * e->residual_ld + j0 : NULL, e->relu);
}

static void gemm_task(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct gemm_job *job = ctx;
    const struct d2_cpu_kernels *kt = job->kt;
    const int32_t mr = kt->mr, nr = kt->nr;
    const bool has_epilogue =
        job->epilogue && (job->epilogue->bias || job->epilogue->residual || job->epilogue->relu);
    float *a_pack = job->a_packed ? NULL
                                  : d2_threadpool_scratch(job->pool, thread, 0, (size_t)(job->mc * job->kc) * sizeof(float));
    const float *b_packed = job->b->packed; /* all of B, packed once per session */
    float *b_pack = b_packed ? NULL
                             : d2_threadpool_scratch(job->pool, thread, 1,
                                                     (size_t)(job->kc * (job->nc + nr)) * sizeof(float));
    if ((!a_pack && !job->a_packed) || (!b_pack && !b_packed)) {
        atomic_store(&job->out_of_memory, true);
        return;
    }
    for (int64_t t = begin; t < end; t++) {
        /* Task t: one block of nc columns and a range of m_per_task row blocks. */
        int64_t j0 = (t / job->m_tasks) * job->nc;
        int64_t ib_first = (t % job->m_tasks) * job->m_per_task;
        int64_t ib_end = ib_first + job->m_per_task < job->m_blocks ? ib_first + job->m_per_task : job->m_blocks;
        int64_t ncur = job->n - j0 < job->nc ? job->n - j0 : job->nc;
        int64_t npad = (ncur + nr - 1) / nr * nr;
        for (int64_t p0 = 0; p0 < job->k; p0 += job->kc) {
            int64_t kcur = job->k - p0 < job->kc ? job->k - p0 : job->kc;
            bool last = p0 + kcur >= job->k;
            /* B first: the A block packed next is then the freshest data in L2. */
            if (!b_packed)
                job->b->pack(job->b, p0, kcur, j0, npad, nr, b_pack);
            for (int64_t ib = ib_first; ib < ib_end; ib++) {
                int64_t i0 = ib * job->mc;
                int64_t mcur = job->m - i0 < job->mc ? job->m - i0 : job->mc;
                int64_t mpad = (mcur + mr - 1) / mr * mr;
                const float *ap = job->a_packed ? job->a_packed + (ib * job->k_panels + p0 / job->kc) * job->mc * job->kc
                                                : a_pack;
                if (!job->a_packed)
                    pack_a(job->a, job->a_rs, job->a_cs, job->m, i0, mpad, p0, kcur, mr, a_pack);
                for (int64_t jr = 0; jr < npad; jr += nr) {
                    int32_t cols = (int32_t)(ncur - jr < nr ? ncur - jr : nr);
                    const float *bp = b_packed ? b_packed + (j0 + jr) * job->k + p0 * nr : b_pack + jr * kcur;
                    for (int64_t ir = 0; ir < mpad; ir += mr) {
                        int32_t rows = (int32_t)(mcur - ir < mr ? mcur - ir : mr);
                        float *ct = job->c + (i0 + ir) * job->ldc + j0 + jr;
                        kt->sgemm_tile(kcur, ap + ir * kcur, bp, ct, job->ldc, rows, cols,
                                       job->accumulate || p0 > 0);
                        if (last && has_epilogue)
                            epilogue_tile(job, i0 + ir, j0 + jr, rows, cols);
                    }
                }
            }
        }
        if (job->k == 0) { /* an empty sum: C is 0 (or kept), then the epilogue */
            int64_t i_first = ib_first * job->mc, i_end = ib_end * job->mc < job->m ? ib_end * job->mc : job->m;
            for (int64_t i = i_first; i < i_end; i++)
                if (!job->accumulate)
                    memset(job->c + i * job->ldc + j0, 0, (size_t)ncur * sizeof(float));
            if (has_epilogue)
                epilogue_tile(job, i_first, j0, i_end - i_first, ncur);
        }
    }
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
    /* Rows: the table's mc, or all of M (rounded to mr) when that is smaller. */
    job.mc = (m + kt->mr - 1) / kt->mr * kt->mr;
    if (job.mc > kt->mc)
        job.mc = kt->mc;
    job.m_blocks = (m + job.mc - 1) / job.mc;
    /* Tasks: column blocks of nc, each packing its B block once. With fewer column
     * blocks than 2 per thread, first make nc smaller (not below 4 micro-panels), then
     * split the row blocks between tasks as well. */
    int64_t threads = d2_threadpool_size(pool);
    job.nc = kt->nc;
    int64_t n_blocks = (n + job.nc - 1) / job.nc;
    if (threads > 1 && n_blocks < 2 * threads) {
        int64_t nc = (n + 2 * threads - 1) / (2 * threads);
        nc = (nc + kt->nr - 1) / kt->nr * kt->nr;
        if (nc < 4 * kt->nr)
            nc = 4 * kt->nr;
        if (nc < job.nc)
            job.nc = nc;
        n_blocks = (n + job.nc - 1) / job.nc;
    }
    job.m_tasks = 1;
    if (threads > 1 && n_blocks < 2 * threads) {
        job.m_tasks = (2 * threads + n_blocks - 1) / n_blocks;
        if (job.m_tasks > job.m_blocks)
            job.m_tasks = job.m_blocks;
    }
    job.m_per_task = (job.m_blocks + job.m_tasks - 1) / job.m_tasks;
    job.m_tasks = (job.m_blocks + job.m_per_task - 1) / job.m_per_task;
    /* A is read by every column block: with several, pack all of it once up front, on
     * all threads (caller's scratch; d2_sgemm is called from outside parallel jobs; the
     * box head's 1000 x 12544 A is 50 MB, whose serial packing took 10-25% of the GEMM
     * with 2 threads). */
    job.k_panels = (k + job.kc - 1) / job.kc;
    if (n_blocks > 1 && k > 0) {
        size_t floats = (size_t)(job.m_blocks * job.k_panels * job.mc * job.kc);
        float *packed = d2_threadpool_scratch(pool, 0, D2_SCRATCH_SLOTS - 1, floats * sizeof(float));
        if (!packed)
            return d2_errorf(err, D2_ERR_NOMEM, "sgemm: out of memory packing A (%lld x %lld)", (long long)m,
                             (long long)k);
        job.a_packed = packed;
        d2_threadpool_parallel_for(pool, job.m_blocks * job.k_panels, 4, pack_a_blocks, &job);
    }
    atomic_init(&job.out_of_memory, false);
    d2_threadpool_parallel_for(pool, job.m_tasks * n_blocks, 1, gemm_task, &job);
    if (atomic_load(&job.out_of_memory))
        return d2_errorf(err, D2_ERR_NOMEM, "sgemm: out of memory for packing buffers");
    return D2_OK;
}
