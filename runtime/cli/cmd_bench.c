/* runtime/cli/cmd_bench.c: `d2rt bench`, benchmarks of the CPU kernels and of whole
 * models (not tests: nothing here passes or fails on a time).
 *
 *   d2rt bench --kernel sgemm --shape M,N,K
 *   d2rt bench --kernel conv  --shape N,C,H,W,M,kh,kw,stride,pad
 *       GFLOP/s of one fast kernel (best and median wall time of the timed runs, and
 *       best CPU time per thread, which a busy shared machine does not distort) and the
 *       share of the FP32 peak, measured by an FMA loop of the same kernel table on all
 *       the threads used (1 FLOP per multiply and per add: a MAC is 2 FLOP).
 *   d2rt bench MODEL [INPUT...] [--iters N] [--warmup N] [--profile]
 *       min/median latency of whole runs, peak memory (the process's peak RSS and the
 *       planned activation arena); with --profile also a per-op table (count per run,
 *       total ms per run, share, GFLOP/s and % of the measured FP32 peak for
 *       conv/fused_conv/conv_transpose/gemm/matmul).
 * Common options: --threads N (default: one per CPU), --isa generic|avx2|avx512
 * (default: D2RT_CPU, else the best this CPU runs), --reference (model: the
 * reference kernels, as D2RT_REFERENCE=1). INPUTs are .npy or ONNX TensorProto files
 * taken by the model's inputs in order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "backends/cpu/fast.h"
#include "cli.h"
#include "frontend/frontend.h"
#include "runtime/load.h"
#include "runtime/npy.h"

static const char bench_usage[] =
    "usage: d2rt bench --kernel sgemm --shape M,N,K [options]\n"
    "       d2rt bench --kernel conv --shape N,C,H,W,M,kh,kw,stride,pad [options]\n"
    "       d2rt bench MODEL [INPUT...] [options]\n"
    "\n"
    "Kernel benchmarks print GFLOP/s and the share of the FP32 peak (measured at startup\n"
    "by an FMA loop on the same threads). Model benchmarks print min/median latency and\n"
    "peak memory (process RSS, planned activation arena). INPUTs are .npy or ONNX .pb\n"
    "tensors, in model input order.\n"
    "  --iters N      timed runs (default: kernels as many as fit in ~1 s, models 5)\n"
    "  --warmup N     untimed runs first (default 1)\n"
    "  --threads N    threads (default: one per CPU)\n"
    "  --isa NAME     generic, avx2 or avx512 (default: D2RT_CPU, else the best supported)\n"
    "  --reference    models: run the reference kernels (like D2RT_REFERENCE=1)\n"
    "  --profile      models: also a per-op table (count, ms per run, share, GFLOP/s and\n"
    "                 % of the measured FP32 peak for convolutions and GEMMs)\n";

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU time of the whole process (all threads): on a shared, oversubscribed machine
 * wall time measures the scheduler as much as the kernel, CPU time does not. */
static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- peak -------------------------------------------------------------------------- */

struct peak_job {
    const struct d2_cpu_kernels *kt;
    int64_t iters;
    float sink;
};

static void peak_thread(void *ctx, int64_t begin, int64_t end, int32_t thread)
{
    struct peak_job *job = ctx;
    float sink;
    (void)thread;
    for (int64_t i = begin; i < end; i++)
        job->kt->fma_loop(job->iters, &sink);
    if (sink == 12345.0f) /* keep the result alive */
        job->sink = sink;
}

/* FP32 GFLOP/s of the table's FMA loop on every thread of the pool at once (best of
 * 5), from CPU time: what the threads compute while they are scheduled. */
static double measure_peak(const struct d2_cpu_fast *fast)
{
    struct peak_job job = { fast->kernels, 1000000, 0.0f };
    int32_t threads = d2_threadpool_size(fast->pool);
    double best = 0.0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = cpu_seconds();
        d2_threadpool_parallel_for(fast->pool, threads, 1, peak_thread, &job);
        double dt = (cpu_seconds() - t0) / threads; /* per thread: every thread runs one loop */
        double gflops = (double)threads * (double)job.iters * fast->kernels->fma_loop_flops / dt * 1e-9;
        best = gflops > best ? gflops : best;
    }
    return best;
}

/* ---- options ----------------------------------------------------------------------- */

struct bench_options {
    const char *kernel, *shape, *model, *isa;
    const char *inputs[16];
    int num_inputs, iters, warmup, threads;
    bool reference, profile;
};

static int parse_int_arg(int argc, char **argv, int *i, int *out)
{
    char *end;
    if (*i + 1 >= argc)
        return cli_fail("bench: %s needs a number", argv[*i]);
    long v = strtol(argv[++*i], &end, 10);
    if (*end || v < 0 || v > 1000000)
        return cli_fail("bench: %s: '%s' is not a count", argv[*i - 1], argv[*i]);
    *out = (int)v;
    return 0;
}

static int parse_shape(const char *text, int64_t *dims, int want)
{
    int n = 0;
    const char *p = text;
    while (*p && n < want) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0)
            break;
        dims[n++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end)
            break;
    }
    return n == want && !*p ? 0 : -1;
}

static struct d2_cpu_fast *make_fast(const struct bench_options *o, int reference)
{
    struct d2_cpu_fast_options fo = { o->threads, o->isa, reference };
    struct d2_cpu_fast *fast = NULL;
    struct d2_error err = {0};
    if (d2_cpu_fast_new(&fo, NULL, &fast, &err) != D2_OK) {
        cli_fail("%s", err.message);
        return NULL;
    }
    return fast;
}

/* Time fn(ctx) as requested and print the GFLOP/s line. */
static int time_kernel(const struct bench_options *o, const struct d2_cpu_fast *fast, const char *what,
                       double flops, enum d2_status (*fn)(void *ctx, struct d2_error *err), void *ctx)
{
    struct d2_error err = {0};
    double times[1000], cpu_times[1000];
    int iters = o->iters;
    for (int i = 0; i < (o->warmup ? o->warmup : 1); i++)
        if (fn(ctx, &err) != D2_OK)
            return cli_fail("%s", err.message);
    int n = 0;
    double start = now_seconds();
    while (n < 1000 && (iters ? n < iters : (n < 3 || now_seconds() - start < 1.0))) {
        double t0 = now_seconds(), c0 = cpu_seconds();
        if (fn(ctx, &err) != D2_OK)
            return cli_fail("%s", err.message);
        cpu_times[n] = cpu_seconds() - c0;
        times[n++] = now_seconds() - t0;
    }
    double peak = measure_peak(fast);
    double best = times[0];
    for (int i = 1; i < n; i++)
        best = times[i] < best ? times[i] : best;
    double med = median(times, n);
    /* CPU time per thread: the run's duration had every thread been scheduled throughout. */
    int threads = (int)d2_threadpool_size(fast->pool);
    double cpu_best = cpu_times[0] / threads;
    for (int i = 1; i < n; i++)
        cpu_best = cpu_times[i] / threads < cpu_best ? cpu_times[i] / threads : cpu_best;
    printf("%s: kernels %s, %d thread%s, %d runs\n", what, fast->kernels->name, threads, threads == 1 ? "" : "s", n);
    printf("  wall     best %.3f ms, median %.3f ms: %.1f / %.1f GFLOP/s (%.2f GFLOP per run)\n", best * 1e3,
           med * 1e3, flops / best * 1e-9, flops / med * 1e-9, flops * 1e-9);
    printf("  cpu time best %.3f ms per thread: %.1f GFLOP/s\n", cpu_best * 1e3, flops / cpu_best * 1e-9);
    printf("  peak     %.1f GFLOP/s (FMA loop, %s, same threads, cpu time): %.0f%% of peak (cpu time), "
           "%.0f%% (wall)\n", peak, fast->kernels->name, 100.0 * flops / cpu_best * 1e-9 / peak,
           100.0 * flops / best * 1e-9 / peak);
    return 0;
}

/* ---- kernels ------------------------------------------------------------------------- */

struct sgemm_ctx {
    const struct d2_cpu_fast *fast;
    int64_t m, n, k;
    float *a, *b, *c;
};

static enum d2_status run_sgemm(void *ctx, struct d2_error *err)
{
    struct sgemm_ctx *s = ctx;
    struct d2_gemm_b_source b = d2_gemm_b_matrix(s->b, s->k, s->n, s->n, 1);
    return d2_sgemm(s->fast->kernels, s->fast->pool, s->m, s->n, s->k, s->a, s->k, 1, &b, s->c, s->n, false, NULL,
                    err);
}

struct conv_ctx {
    const struct d2_cpu_fast *fast;
    struct d2_conv2d_params p;
    float *x, *w, *bias, *y;
};

static enum d2_status run_conv(void *ctx, struct d2_error *err)
{
    struct conv_ctx *c = ctx;
    return d2_cpu_fast_conv2d(c->fast, &c->p, c->x, c->w, c->bias, NULL, false, c->y, err); /* D2RT_WINOGRAD */
}

static float *filled(int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    for (int64_t i = 0; p && i < n; i++)
        p[i] = (float)((i * 7919) % 1000) * 0.001f - 0.5f;
    return p;
}

static int bench_kernel(const struct bench_options *o)
{
    int64_t d[9];
    char what[256];
    int rc = 0;
    if (!o->shape)
        return cli_fail("bench: --kernel needs --shape");
    struct d2_cpu_fast *fast = make_fast(o, 0);
    if (!fast)
        return 1;
    if (strcmp(o->kernel, "sgemm") == 0) {
        if (parse_shape(o->shape, d, 3) != 0) {
            d2_cpu_fast_free(fast);
            return cli_fail("bench: sgemm --shape must be M,N,K, got '%s'", o->shape);
        }
        struct sgemm_ctx s = { fast, d[0], d[1], d[2], filled(d[0] * d[2]), filled(d[2] * d[1]), filled(d[0] * d[1]) };
        if (!s.a || !s.b || !s.c)
            rc = cli_fail("out of memory");
        snprintf(what, sizeof what, "sgemm M=%lld N=%lld K=%lld", (long long)d[0], (long long)d[1], (long long)d[2]);
        if (!rc)
            rc = time_kernel(o, fast, what, 2.0 * (double)d[0] * (double)d[1] * (double)d[2], run_sgemm, &s);
        free(s.a), free(s.b), free(s.c);
    } else if (strcmp(o->kernel, "conv") == 0) {
        if (parse_shape(o->shape, d, 9) != 0) {
            d2_cpu_fast_free(fast);
            return cli_fail("bench: conv --shape must be N,C,H,W,M,kh,kw,stride,pad, got '%s'", o->shape);
        }
        struct conv_ctx c;
        memset(&c, 0, sizeof c);
        c.fast = fast;
        c.p = (struct d2_conv2d_params){
            .batch = d[0], .in_channels = d[1], .in_h = d[2], .in_w = d[3], .out_channels = d[4],
            .kernel_h = d[5], .kernel_w = d[6], .stride_h = d[7], .stride_w = d[7], .pad_top = d[8],
            .pad_left = d[8], .dilation_h = 1, .dilation_w = 1, .group = 1,
        };
        if (d[7] < 1 || d[2] + 2 * d[8] < d[5] || d[3] + 2 * d[8] < d[6]) {
            d2_cpu_fast_free(fast);
            return cli_fail("bench: conv shape '%s' has no output", o->shape);
        }
        c.p.out_h = (d[2] + 2 * d[8] - d[5]) / d[7] + 1;
        c.p.out_w = (d[3] + 2 * d[8] - d[6]) / d[7] + 1;
        c.x = filled(d[0] * d[1] * d[2] * d[3]);
        c.w = filled(d[4] * d[1] * d[5] * d[6]);
        c.bias = filled(d[4]);
        c.y = filled(d[0] * d[4] * c.p.out_h * c.p.out_w);
        if (!c.x || !c.w || !c.bias || !c.y)
            rc = cli_fail("out of memory");
        snprintf(what, sizeof what, "conv %lldx%lldx%lldx%lld -> %lld, %lldx%lld, stride %lld, pad %lld (out %lldx%lld)",
                 (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3], (long long)d[4], (long long)d[5],
                 (long long)d[6], (long long)d[7], (long long)d[8], (long long)c.p.out_h, (long long)c.p.out_w);
        double flops = 2.0 * (double)(d[0] * d[4] * c.p.out_h * c.p.out_w) * (double)(d[1] * d[5] * d[6]);
        if (!rc)
            rc = time_kernel(o, fast, what, flops, run_conv, &c);
        free(c.x), free(c.w), free(c.bias), free(c.y);
    } else {
        rc = cli_fail("bench: unknown kernel '%s' (sgemm or conv)", o->kernel);
    }
    d2_cpu_fast_free(fast);
    return rc;
}

/* ---- models -------------------------------------------------------------------------- */

struct op_stats {
    double seconds[D2_OP_COUNT], flops[D2_OP_COUNT];
    int64_t count[D2_OP_COUNT];
    bool on;
};

static double node_flops(const struct d2_kernel_ctx *ctx)
{
    const struct d2_tensor *x = ctx->inputs[0], *w = ctx->num_inputs > 1 ? ctx->inputs[1] : NULL;
    const struct d2_tensor *y = &ctx->outputs[0];
    double taps = 1.0;
    switch (ctx->node->op) {
    case D2_OP_CONV:
    case D2_OP_FUSED_CONV:
        for (int32_t d = 1; w && d < w->rank; d++)
            taps *= (double)w->dims[d];
        return 2.0 * (double)d2_tensor_numel(y) * taps;
    case D2_OP_CONV_TRANSPOSE:
        for (int32_t d = 1; w && d < w->rank; d++)
            taps *= (double)w->dims[d];
        return 2.0 * (double)d2_tensor_numel(x) * taps;
    case D2_OP_GEMM: {
        const struct d2_attrs_gemm *a = ctx->node->attrs;
        double k = x->rank == 2 ? (double)x->dims[a->trans_a ? 0 : 1] : 0.0;
        return 2.0 * (double)d2_tensor_numel(y) * k;
    }
    case D2_OP_MATMUL:
        return 2.0 * (double)d2_tensor_numel(y) * (x->rank ? (double)x->dims[x->rank - 1] : 0.0);
    default:
        return 0.0;
    }
}

static void observe(void *user, const struct d2_kernel_ctx *ctx, double seconds)
{
    struct op_stats *s = user;
    if (!s->on || (unsigned)ctx->node->op >= D2_OP_COUNT)
        return;
    s->seconds[ctx->node->op] += seconds;
    s->count[ctx->node->op]++;
    s->flops[ctx->node->op] += node_flops(ctx);
}

static enum d2_status load_input(const char *path, struct d2_tensor *t, struct d2_error *err)
{
    void *data;
    size_t size;
    enum d2_status st = d2_read_file(path, NULL, &data, &size, err);
    if (st != D2_OK)
        return st;
    if (size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0)
        st = d2_npy_parse(data, size, NULL, t, err);
    else
        st = d2_onnx_parse_tensor(data, size, NULL, t, NULL, err);
    if (st != D2_OK)
        d2_error_prefix(err, "input '%s': ", path);
    d2_free(NULL, data);
    return st;
}

/* Peak memory of the process so far (Linux reports ru_maxrss in KiB) and the memory
 * plan's activation arena. */
static void print_peak_memory(const struct d2_graph *g)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) == 0)
        printf("peak memory: %.1f MB RSS (process, model mapping included)", (double)usage.ru_maxrss / 1024.0);
    if (g->memory_plan)
        printf(", activation arena %.1f MB planned", (double)g->memory_plan->arena_bytes / 1e6);
    printf("\n");
}

static int bench_model(const struct bench_options *o)
{
    struct d2_error err = {0};
    struct d2_tensor inputs[16], *outputs = NULL;
    struct op_stats *stats = calloc(1, sizeof *stats);
    double times[1000];
    int loaded = 0, rc = 0, iters = o->iters ? o->iters : 5;
    enum d2_model_format format;
    struct d2_cpu_fast *fast = NULL;
    const struct d2_allocator *output_alloc = NULL;
    void *output_owner = NULL;
    struct d2_graph *g = d2_load_model_file(o->model, NULL, &format, &err);
    if (!stats)
        return cli_fail("out of memory");
    if (!g) {
        free(stats);
        return cli_fail("%s", err.message);
    }
    if ((uint32_t)o->num_inputs != g->num_inputs) {
        rc = cli_fail("bench: the model takes %u inputs, %d given", g->num_inputs, o->num_inputs);
        goto done;
    }
    for (; loaded < o->num_inputs; loaded++)
        if (load_input(o->inputs[loaded], &inputs[loaded], &err) != D2_OK) {
            rc = cli_fail("%s", err.message);
            goto done;
        }
    if (!(fast = make_fast(o, o->reference ? 1 : -1))) {
        rc = 1;
        goto done;
    }
    outputs = calloc(g->num_outputs + 1u, sizeof *outputs);
    if (iters > 1000)
        iters = 1000;
    /* Outputs are released the way d2rt_tensor_free releases a session's outputs:
     * back into the backend's cache, for the next run. */
    output_alloc = d2_cpu_fast_output_allocator(fast, &output_owner);
    for (int run = 0; run < o->warmup + iters; run++) {
        stats->on = run >= o->warmup;
        double t0 = now_seconds();
        enum d2_status st = d2_cpu_fast_execute(fast, g, inputs, g->num_inputs, outputs, g->num_outputs,
                                                output_alloc, o->profile ? observe : NULL, stats, &err);
        double dt = now_seconds() - t0;
        for (uint32_t k = 0; k < g->num_outputs; k++)
            d2_tensor_release(&outputs[k], output_alloc);
        if (st != D2_OK) {
            rc = cli_fail("%s", err.message);
            goto done;
        }
        if (run >= o->warmup)
            times[run - o->warmup] = dt;
    }
    double best = times[0];
    for (int i = 1; i < iters; i++)
        best = times[i] < best ? times[i] : best;
    double med = median(times, iters);
    printf("model %s: %s kernels, %d thread%s, %d runs after %d warmup\n", o->model,
           fast->reference ? "reference" : fast->kernels->name, (int)d2_threadpool_size(fast->pool),
           d2_threadpool_size(fast->pool) == 1 ? "" : "s", iters, o->warmup);
    if (best < 0.01) /* small models: keep the digits that say something */
        printf("latency: min %.3f ms, median %.3f ms\n", best * 1e3, med * 1e3);
    else
        printf("latency: min %.1f ms, median %.1f ms\n", best * 1e3, med * 1e3);
    print_peak_memory(g);
    if (!o->profile)
        goto done;
    /* Per-op table, per run, largest first. */
    double peak = measure_peak(fast);
    double total = 0.0, total_flops = 0.0;
    int order[D2_OP_COUNT], used = 0;
    for (int op = 0; op < D2_OP_COUNT; op++)
        if (stats->count[op]) {
            order[used++] = op;
            total += stats->seconds[op];
            total_flops += stats->flops[op];
        }
    for (int i = 1; i < used; i++)
        for (int j = i; j > 0 && stats->seconds[order[j]] > stats->seconds[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    printf("%-24s %8s %12s %7s %9s %7s\n", "op", "count", "ms/run", "%", "GFLOP/s", "% peak");
    for (int i = 0; i < used; i++) {
        int op = order[i];
        printf("%-24s %8lld %12.2f %6.1f%%", d2_op_name((enum d2_op)op), (long long)(stats->count[op] / iters),
               stats->seconds[op] * 1e3 / iters, 100.0 * stats->seconds[op] / (total > 0 ? total : 1));
        if (stats->flops[op] > 0) {
            double gflops = stats->flops[op] / stats->seconds[op] * 1e-9;
            printf(" %9.1f %6.1f%%", gflops, peak > 0 ? 100.0 * gflops / peak : 0.0);
        }
        printf("\n");
    }
    printf("%-24s %8s %12.2f %6.1f%% %9.1f  (%.1f GFLOP per run)\n", "all kernels", "", total * 1e3 / iters, 100.0,
           total > 0 ? total_flops / total * 1e-9 : 0.0, total_flops / iters * 1e-9);
    printf("FP32 peak (FMA loop, %d thread%s): %.1f GFLOP/s; Winograd convolutions can exceed 100%%: their\n"
           "GFLOP/s count the direct convolution's FLOPs\n",
           (int)d2_threadpool_size(fast->pool), d2_threadpool_size(fast->pool) == 1 ? "" : "s", peak);
done:
    for (int i = 0; i < loaded; i++)
        d2_tensor_release(&inputs[i], NULL);
    free(outputs);
    free(stats);
    d2_cpu_fast_free(fast);
    d2_cpu_fast_release_owner(output_owner);
    d2_graph_free(g);
    return rc;
}

int cli_bench(int argc, char **argv)
{
    struct bench_options o;
    memset(&o, 0, sizeof o);
    o.warmup = 1;
    o.threads = 0;
    if (cli_wants_help(argc, argv)) {
        fputs(bench_usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--kernel") == 0 || strcmp(a, "--shape") == 0 || strcmp(a, "--isa") == 0) {
            if (i + 1 >= argc)
                return cli_fail("bench: %s needs a value", a);
            const char **dst = a[2] == 'k' ? &o.kernel : a[2] == 's' ? &o.shape : &o.isa;
            *dst = argv[++i];
        } else if (strcmp(a, "--iters") == 0) {
            if (parse_int_arg(argc, argv, &i, &o.iters))
                return 1;
        } else if (strcmp(a, "--warmup") == 0) {
            if (parse_int_arg(argc, argv, &i, &o.warmup))
                return 1;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_int_arg(argc, argv, &i, &o.threads))
                return 1;
        } else if (strcmp(a, "--reference") == 0) {
            o.reference = true;
        } else if (strcmp(a, "--profile") == 0) {
            o.profile = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_fail("bench: unknown option '%s'", a);
        } else if (!o.model) {
            o.model = a;
        } else if (o.num_inputs < 16) {
            o.inputs[o.num_inputs++] = a;
        } else {
            return cli_fail("bench: more than 16 inputs");
        }
    }
    if (o.kernel) {
        if (o.model)
            return cli_fail("bench: give either --kernel or a MODEL, not both");
        return bench_kernel(&o);
    }
    if (!o.model)
        return cli_fail("bench: nothing to benchmark (--kernel sgemm|conv --shape ..., or a MODEL)");
    return bench_model(&o);
}
