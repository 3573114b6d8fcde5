/* tests/unit/test_ops.c: the op-test harness (docs/IR.md "Op tests").
 *
 * For every case directory tests/ops/<op>/<case>/ (run from the repository root):
 *   1. parse graph.d2ir, run d2_infer_graph and d2_verify_graph, and check that the
 *      graph's text form round-trips (print, parse, print gives the same text);
 *   2. read in0.npy .. in<k-1>.npy (k = number of graph inputs; no more, no fewer);
 *   3. run the reference CPU executor (d2_cpu_execute);
 *   4. compare output i with out<i>.npy: dtype and shape must match; floats pass when
 *      |got - want| <= atol + rtol * |want| elementwise (NaN matches NaN, infinities
 *      must match exactly), integers and bools must be equal. tol.txt holds
 *      "rtol atol" (default 1e-5 1e-6).
 * Prints one line per failing case (with the worst element) and a summary
 * "op tests: P passed, F failed"; exits nonzero when a case fails.
 *
 * Usage: test_ops [op | op/case]   (or D2_OPTEST_FILTER=op); a filter that matches
 * no case is a failure, so a typo cannot pass silently.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/backend.h"
#include "ir/ir.h"
#include "runtime/npy.h"

#define OPS_DIR "tests/ops"
#define MAX_IO 64

static double default_rtol = 1e-5, default_atol = 1e-6;

static char *read_text(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    text = malloc((size_t)n + 1);
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
    }
    fclose(f);
    if (text) {
        text[n] = '\0';
        *length = (size_t)n;
    }
    return text;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* "[1, 0, 2]": the multi-index of a flat element index. */
static void format_index(char *out, size_t size, const struct d2_tensor *t, int64_t flat)
{
    int64_t index[D2_MAX_RANK];
    size_t used;
    for (int32_t d = t->rank - 1; d >= 0; d--) {
        index[d] = t->dims[d] > 0 ? flat % t->dims[d] : 0;
        flat = t->dims[d] > 0 ? flat / t->dims[d] : 0;
    }
    snprintf(out, size, "[");
    for (int32_t d = 0; d < t->rank; d++) {
        used = strlen(out);
        snprintf(out + used, size - used, d ? ", %lld" : "%lld", (long long)index[d]);
    }
    used = strlen(out);
    snprintf(out + used, size - used, "]");
}

static void format_shape(char *out, size_t size, const struct d2_tensor *t)
{
    snprintf(out, size, "%s[", d2_dtype_name(t->dtype));
    for (int32_t d = 0; d < t->rank; d++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, d ? ",%lld" : "%lld", (long long)t->dims[d]);
    }
    strncat(out, "]", size - strlen(out) - 1);
}

/* Compare got with want; on mismatch write a description of the worst element. */
static bool compare_tensors(const struct d2_tensor *got, const struct d2_tensor *want, double rtol, double atol,
                            char *why, size_t why_size)
{
    char got_shape[160], want_shape[160], where[160];
    int64_t n, worst = -1, mismatches = 0;
    double worst_excess = 0;
    bool is_float = d2_dtype_is_float(want->dtype);
    format_shape(got_shape, sizeof got_shape, got);
    format_shape(want_shape, sizeof want_shape, want);
    if (got->dtype != want->dtype || got->rank != want->rank ||
        memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)(want->rank > 0 ? want->rank : 0)) != 0) {
        snprintf(why, why_size, "got %s, expected %s", got_shape, want_shape);
        return false;
    }
    n = d2_tensor_numel(want);
    for (int64_t i = 0; i < n; i++) {
        double excess = 0;
        if (is_float) {
            double a = d2_load_f64(got->data, got->dtype, (size_t)i), b = d2_load_f64(want->data, want->dtype, (size_t)i);
            if (isnan(a) || isnan(b))
                excess = isnan(a) && isnan(b) ? 0 : INFINITY;
            else if (isinf(a) || isinf(b))
                excess = a == b ? 0 : INFINITY;
            else if (fabs(a - b) > atol + rtol * fabs(b))
                excess = fabs(a - b) / (atol + rtol * fabs(b) + 1e-300);
        } else if (want->dtype == D2_DTYPE_U64) {
            uint64_t a, b;
            memcpy(&a, (const char *)got->data + 8 * i, 8);
            memcpy(&b, (const char *)want->data + 8 * i, 8);
            excess = a == b ? 0 : (a > b ? (double)(a - b) : (double)(b - a));
        } else {
            int64_t a = d2_load_i64(got->data, got->dtype, (size_t)i), b = d2_load_i64(want->data, want->dtype, (size_t)i);
            excess = a == b ? 0 : fabs((double)a - (double)b);
        }
        if (excess > 0) {
            mismatches++;
            if (worst < 0 || excess > worst_excess) {
                worst = i;
                worst_excess = excess;
            }
        }
    }
    if (worst < 0)
        return true;
    format_index(where, sizeof where, want, worst);
    if (is_float)
        snprintf(why, why_size, "%lld of %lld elements differ; worst at %s: got %.9g, expected %.9g (rtol %g atol %g)",
                 (long long)mismatches, (long long)n, where, d2_load_f64(got->data, got->dtype, (size_t)worst),
                 d2_load_f64(want->data, want->dtype, (size_t)worst), rtol, atol);
    else
        snprintf(why, why_size, "%lld of %lld elements differ; worst at %s: got %lld, expected %lld",
                 (long long)mismatches, (long long)n, where,
                 (long long)d2_load_i64(got->data, got->dtype, (size_t)worst),
                 (long long)d2_load_i64(want->data, want->dtype, (size_t)worst));
    return false;
}

/* Text form round trip: print, parse, print must give the same text. */
static bool text_round_trips(const struct d2_graph *g, char *why, size_t why_size)
{
    struct d2_error err = { D2_OK, "" };
    char *first = d2_print_graph(g, NULL, &err), *second = NULL;
    struct d2_graph *again = first ? d2_parse_graph(first, strlen(first), NULL, &err) : NULL;
    bool same;
    if (again)
        second = d2_print_graph(again, NULL, &err);
    same = first && second && strcmp(first, second) == 0;
    if (!same)
        snprintf(why, why_size, "IR text does not round-trip%s%s", err.code ? ": " : "", err.message);
    d2_free(d2_allocator_default(), first);
    d2_free(d2_allocator_default(), second);
    d2_graph_free(again);
    return same;
}

/* Run one case; returns true when it passes, else writes why. */
static bool run_case(const char *dir, char *why, size_t why_size)
{
    const struct d2_allocator *alloc = d2_allocator_default();
    struct d2_error err = { D2_OK, "" };
    struct d2_tensor inputs[MAX_IO], outputs[MAX_IO], expected[MAX_IO];
    uint32_t loaded_inputs = 0, loaded_expected = 0, produced = 0;
    double rtol = default_rtol, atol = default_atol;
    char path[1200];
    size_t length;
    char *text;
    struct d2_graph *g = NULL;
    bool ok = false;

    memset(outputs, 0, sizeof outputs);
    snprintf(path, sizeof path, "%s/graph.d2ir", dir);
    text = read_text(path, &length);
    if (!text) {
        snprintf(why, why_size, "cannot read %.900s", path);
        return false;
    }
    g = d2_parse_graph(text, length, alloc, &err);
    free(text);
    if (!g) {
        snprintf(why, why_size, "graph.d2ir: %s", err.message);
        return false;
    }
    if (d2_infer_graph(g, &err) != D2_OK || d2_verify_graph(g, &err) != D2_OK) {
        snprintf(why, why_size, "%s", err.message);
        goto done;
    }
    if (!text_round_trips(g, why, why_size))
        goto done;
    if (g->num_inputs > MAX_IO || g->num_outputs > MAX_IO) {
        snprintf(why, why_size, "more than %d inputs or outputs", MAX_IO);
        goto done;
    }

    snprintf(path, sizeof path, "%s/tol.txt", dir);
    text = read_text(path, &length);
    if (text) {
        int fields = sscanf(text, "%lf %lf", &rtol, &atol);
        free(text);
        if (fields != 2) {
            snprintf(why, why_size, "tol.txt must hold 'rtol atol'");
            goto done;
        }
    }
    for (; loaded_inputs < g->num_inputs; loaded_inputs++) {
        snprintf(path, sizeof path, "%s/in%u.npy", dir, loaded_inputs);
        if (d2_npy_read_file(path, alloc, &inputs[loaded_inputs], &err) != D2_OK) {
            snprintf(why, why_size, "%s", err.message);
            goto done;
        }
    }
    snprintf(path, sizeof path, "%s/in%u.npy", dir, g->num_inputs);
    if (file_exists(path)) {
        snprintf(why, why_size, "the graph has %u inputs but in%u.npy exists", g->num_inputs, g->num_inputs);
        goto done;
    }
    for (; loaded_expected < g->num_outputs; loaded_expected++) {
        snprintf(path, sizeof path, "%s/out%u.npy", dir, loaded_expected);
        if (d2_npy_read_file(path, alloc, &expected[loaded_expected], &err) != D2_OK) {
            snprintf(why, why_size, "%s", err.message);
            goto done;
        }
    }
    snprintf(path, sizeof path, "%s/out%u.npy", dir, g->num_outputs);
    if (file_exists(path)) {
        snprintf(why, why_size, "the graph has %u outputs but out%u.npy exists", g->num_outputs, g->num_outputs);
        goto done;
    }

    if (d2_cpu_execute(g, inputs, g->num_inputs, outputs, g->num_outputs, alloc, &err) != D2_OK) {
        snprintf(why, why_size, "execution failed: %s", err.message);
        goto done;
    }
    produced = g->num_outputs;
    ok = true;
    for (uint32_t i = 0; i < g->num_outputs && ok; i++) {
        char detail[700];
        if (!compare_tensors(&outputs[i], &expected[i], rtol, atol, detail, sizeof detail)) {
            snprintf(why, why_size, "output %u: %s", i, detail);
            ok = false;
        }
    }
done:
    for (uint32_t i = 0; i < loaded_inputs; i++)
        d2_tensor_release(&inputs[i], alloc);
    for (uint32_t i = 0; i < loaded_expected; i++)
        d2_tensor_release(&expected[i], alloc);
    for (uint32_t i = 0; i < produced; i++)
        d2_tensor_release(&outputs[i], alloc);
    d2_graph_free(g);
    return ok;
}

static int skip_hidden(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : getenv("D2_OPTEST_FILTER");
    struct dirent **ops = NULL;
    int num_ops, passed = 0, failed = 0;
    size_t filter_op_length = 0;

    if (filter && !*filter)
        filter = NULL;
    if (filter)
        filter_op_length = strchr(filter, '/') ? (size_t)(strchr(filter, '/') - filter) : strlen(filter);
    num_ops = scandir(OPS_DIR, &ops, skip_hidden, alphasort);
    if (num_ops < 0) {
        printf("op tests: cannot open %s (run from the repository root)\n", OPS_DIR);
        return EXIT_FAILURE;
    }
    for (int o = 0; o < num_ops; o++) {
        char op_dir[512];
        struct dirent **cases = NULL;
        int num_cases;
        if (filter && (strlen(ops[o]->d_name) != filter_op_length ||
                       strncmp(ops[o]->d_name, filter, filter_op_length) != 0)) {
            free(ops[o]);
            continue;
        }
        snprintf(op_dir, sizeof op_dir, "%s/%s", OPS_DIR, ops[o]->d_name);
        num_cases = scandir(op_dir, &cases, skip_hidden, alphasort);
        for (int c = 0; c < num_cases; c++) {
            char case_dir[1024], graph_path[1200], why[1024] = "";
            snprintf(case_dir, sizeof case_dir, "%.500s/%.400s", op_dir, cases[c]->d_name);
            snprintf(graph_path, sizeof graph_path, "%s/graph.d2ir", case_dir);
            if (file_exists(graph_path) &&
                !(filter && strchr(filter, '/') && strcmp(strchr(filter, '/') + 1, cases[c]->d_name) != 0)) {
                if (run_case(case_dir, why, sizeof why)) {
                    passed++;
                } else {
                    failed++;
                    printf("FAIL %s/%s: %s\n", ops[o]->d_name, cases[c]->d_name, why);
                }
            }
            free(cases[c]);
        }
        free(cases);
        free(ops[o]);
    }
    free(ops);
    printf("op tests: %d passed, %d failed\n", passed, failed);
    if (filter && passed + failed == 0) {
        printf("op tests: no case matches the filter '%s'\n", filter);
        return EXIT_FAILURE;
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
