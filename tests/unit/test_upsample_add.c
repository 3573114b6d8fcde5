/* tests/unit/test_upsample_add.c: the upsample_add op (ir/shape_fused2.c,
 * backends/cpu/ref_upsample_add.c, fast_upsample_add.c) and the fuse_upsample_add pass.
 *
 *   - shape rules: dims taken from T where X leaves them unknown, and each error;
 *   - the fast kernel against the reference kernel, called directly on outputs filled
 *     with NaN (so an element the kernel forgets fails), bit for bit, on odd sizes,
 *     factors 1..5, ranks 3 and 4, batch 2, 1 and 2 threads, every ISA table this
 *     machine runs; rank 5 and f64 (reference fallback) too;
 *   - the pass against ground truth: for every coordinate mode x nearest mode x factor
 *     1..4 of resize (by scales and by sizes), and upsample by 1..8, the unfused graph
 *     is run on the reference executor and compared bit for bit with
 *     lat + top[floor(i/s)] computed here. Fusing a case that is not exact fails
 *     (soundness); not fusing an exact resize case fails too (completeness), except
 *     align_corners / tf_crop_and_resize, which are refused on purpose. Fused graphs
 *     must give the same bits on the reference and the fast executor;
 *   - a fused graph round-trips through model.ir (ops and attributes are stored by
 *     name), still written as format version 1.0: a new op needs no version bump.
 * Run from the repository root. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/executor.h"
#include "backends/cpu/fast.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "runtime/artifact.h"

static const struct d2_cpu_kernels *const all_tables[] = {
    &d2_cpu_kernels_generic, &d2_cpu_kernels_avx2, &d2_cpu_kernels_avx512,
};
#define NUM_TABLES (sizeof all_tables / sizeof all_tables[0])

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static float uniform(void) /* [-4, 4) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 8.0 - 4.0);
}

static struct d2_graph *parse_inferred(const char *text)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, &err);
    ck_assert_msg(g != NULL, "%s\n%s", err.message, text);
    ck_assert_msg(d2_infer_graph(g, &err) == D2_OK, "%s\n%s", err.message, text);
    return g;
}

static void random_tensor(struct d2_tensor *t, enum d2_dtype dtype, int32_t rank, const int64_t *dims)
{
    struct d2_error err = { D2_OK, "" };
    ck_assert_int_eq(d2_tensor_alloc(t, NULL, dtype, rank, dims, &err), D2_OK);
    for (int64_t i = 0; i < d2_tensor_numel(t); i++)
        d2_store_f64(t->data, dtype, (size_t)i, uniform());
}

static bool same_bits(const struct d2_tensor *a, const struct d2_tensor *b)
{
    return a->dtype == b->dtype && a->rank == b->rank && a->nbytes == b->nbytes &&
           memcmp(a->dims, b->dims, sizeof a->dims[0] * (size_t)a->rank) == 0 &&
           (a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
}

/* ---- shape rules --------------------------------------------------------------------- */

/* Infer upsample_add's output type for X, T and scales; with `want` (a type in IR
 * text), *equal says whether the result is that type. Compared while the graph lives:
 * a type's symbols point into its graph. */
static enum d2_status infer_text(const char *x, const char *t, const char *scales, const char *want, bool *equal,
                                 struct d2_error *err)
{
    char text[512];
    snprintf(text, sizeof text, "graph main(%%x: %s, %%t: %s) {\n  %%y = upsample_add(%%x, %%t) {scales=%s}\n  return %%y\n}\n",
             x, t, scales);
    struct d2_graph *g = d2_parse_graph(text, strlen(text), NULL, err);
    ck_assert_msg(g != NULL, "%s", err->message);
    enum d2_status st = d2_infer_graph(g, err);
    if (st == D2_OK && want) {
        snprintf(text, sizeof text, "graph main(%%y: %s) {\n  return %%y\n}\n", want);
        struct d2_graph *w = d2_parse_graph(text, strlen(text), NULL, err);
        ck_assert(w != NULL);
        *equal = d2_type_equal(&g->values[g->outputs[0]].type, &w->values[w->inputs[0]].type);
        d2_graph_free(w);
    }
    d2_graph_free(g);
    return st;
}

START_TEST(shape_rules)
{
    static const struct { const char *x, *t, *scales, *want; } ok[] = {
        { "f32[1,2,4,6]", "f32[1,2,2,3]", "[2,2]", "f32[1,2,4,6]" },
        { "f32[1,2,?,?]", "f32[1,2,2,3]", "[2,3]", "f32[1,2,4,9]" },       /* from T */
        { "f32[*]", "f32[2,3,5]", "[4]", "f32[2,3,20]" },                   /* rank from T */
        { "f64[?n,3,8]", "f64[?,3,?]", "[2]", "f64[?n,3,8]" },              /* X's symbol stays */
        { "f16[1,1,3,3]", "f16[1,1,3,3]", "[1,1]", "f16[1,1,3,3]" },
    };
    static const struct { const char *x, *t, *scales, *message; } bad[] = {
        { "i64[1,2,4,6]", "i64[1,2,2,3]", "[2,2]", "float" },
        { "f32[1,2,4,6]", "f64[1,2,2,3]", "[2,2]", "f32 but T is f64" },
        { "f32[1,2,4,6]", "f32[1,2,2]", "[2,2]", "rank" },
        { "f32[1,2,4,6]", "f32[1,2,2,3]", "[2]", "1 scales for 2 spatial dims" },
        { "f32[1,2,4,6]", "f32[1,2,4,6]", "[1,0]", "must be >= 1" },
        { "f32[1,2,5,6]", "f32[1,2,2,3]", "[2,2]", "X dim 2 is 5" },
        { "f32[1,3,4,6]", "f32[1,2,2,3]", "[2,2]", "X dim 1 is 3" },
        { "f32[4,6]", "f32[2,3]", "[2,2]", "rank >= 3" },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct d2_error err = { D2_OK, "" };
        bool equal = false;
        ck_assert_msg(infer_text(ok[i].x, ok[i].t, ok[i].scales, ok[i].want, &equal, &err) == D2_OK, "%s",
                      err.message);
        ck_assert_msg(equal, "case %zu: wrong type", i);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct d2_error err = { D2_OK, "" };
        ck_assert_int_eq(infer_text(bad[i].x, bad[i].t, bad[i].scales, NULL, NULL, &err), D2_ERR_SHAPE);
        ck_assert_msg(strstr(err.message, bad[i].message) != NULL, "case %zu: '%s' lacks '%s'", i, err.message,
                      bad[i].message);
    }
}
END_TEST

/* ---- fast kernel vs reference kernel ------------------------------------------------- */

/* Run kernel on (x, t) into an output prefilled with NaN; returns the status. */
static enum d2_status run_kernel(d2_cpu_kernel_fn kernel, const struct d2_node *node, struct d2_executor *ex,
                                 const struct d2_tensor *x, const struct d2_tensor *t, struct d2_tensor *y,
                                 struct d2_error *err)
{
    const struct d2_tensor *inputs[2] = { x, t };
    struct d2_kernel_ctx ctx;
    ck_assert_int_eq(d2_tensor_alloc(y, NULL, x->dtype, x->rank, x->dims, err), D2_OK);
    for (int64_t i = 0; i < d2_tensor_numel(y); i++)
        d2_store_f64(y->data, y->dtype, (size_t)i, NAN);
    memset(&ctx, 0, sizeof ctx);
    ctx.node = node;
    ctx.alloc = d2_allocator_default();
    ctx.err = err;
    ctx.num_inputs = 2;
    ctx.inputs = inputs;
    ctx.num_outputs = 1;
    ctx.outputs = y;
    ctx.executor = ex;
    return kernel(&ctx);
}

START_TEST(fast_kernel_matches_reference)
{
    /* t dims (rank 3 to 5) and scales */
    static const struct { int32_t rank; int64_t t[5]; int64_t s[3]; enum d2_dtype dtype; } cases[] = {
        { 4, { 1, 4, 3, 4 }, { 2, 2 }, D2_DTYPE_F32 },
        { 4, { 2, 3, 5, 7 }, { 2, 2 }, D2_DTYPE_F32 },   /* odd sizes, batch 2 */
        { 4, { 1, 5, 7, 33 }, { 2, 2 }, D2_DTYPE_F32 },  /* long rows */
        { 4, { 1, 2, 3, 5 }, { 1, 1 }, D2_DTYPE_F32 },
        { 4, { 1, 3, 3, 2 }, { 3, 5 }, D2_DTYPE_F32 },
        { 4, { 2, 2, 4, 3 }, { 1, 2 }, D2_DTYPE_F32 },
        { 4, { 1, 2, 4, 3 }, { 4, 1 }, D2_DTYPE_F32 },
        { 4, { 1, 64, 13, 19 }, { 2, 2 }, D2_DTYPE_F32 }, /* several row chunks per thread */
        { 4, { 1, 1, 1, 1 }, { 2, 2 }, D2_DTYPE_F32 },
        { 4, { 1, 2, 0, 3 }, { 2, 2 }, D2_DTYPE_F32 },    /* empty */
        { 3, { 2, 3, 5 }, { 2 }, D2_DTYPE_F32 },
        { 3, { 1, 2, 9 }, { 3 }, D2_DTYPE_F32 },
        { 5, { 1, 2, 2, 3, 2 }, { 2, 2, 2 }, D2_DTYPE_F32 }, /* reference fallback */
        { 4, { 1, 2, 3, 3 }, { 2, 2 }, D2_DTYPE_F64 },       /* reference fallback */
    };
    for (size_t k = 0; k < NUM_TABLES; k++) {
        if (!d2_cpu_isa_supported(all_tables[k]->name))
            continue;
        for (int32_t threads = 1; threads <= 2; threads++) {
            struct d2_cpu_fast_options o = { threads, all_tables[k]->name, 0 };
            struct d2_cpu_fast *fast = NULL;
            struct d2_error err = { D2_OK, "" };
            ck_assert_msg(d2_cpu_fast_new(&o, NULL, &fast, &err) == D2_OK, "%s", err.message);
            struct d2_executor ex;
            memset(&ex, 0, sizeof ex);
            ex.alloc = d2_allocator_default();
            ex.kernel_data = fast;
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
                int64_t xdims[5];
                int32_t rank = cases[c].rank;
                struct d2_attrs_upsample_add attrs = { 0, { (int64_t *)cases[c].s, (uint32_t)(rank - 2) } };
                struct d2_node node;
                memset(&node, 0, sizeof node);
                node.op = D2_OP_UPSAMPLE_ADD;
                node.name = "merge";
                node.attrs = &attrs;
                for (int32_t d = 0; d < rank; d++)
                    xdims[d] = cases[c].t[d] * (d >= 2 ? cases[c].s[d - 2] : 1);
                struct d2_tensor x, t, want, got;
                random_tensor(&x, cases[c].dtype, rank, xdims);
                random_tensor(&t, cases[c].dtype, rank, cases[c].t);
                ck_assert_int_eq(run_kernel(d2_cpu_ref_kernel(D2_OP_UPSAMPLE_ADD), &node, NULL, &x, &t, &want, &err),
                                 D2_OK);
                ck_assert_int_eq(run_kernel(d2_cpu_fast_kernel(D2_OP_UPSAMPLE_ADD), &node, &ex, &x, &t, &got, &err),
                                 D2_OK);
                ck_assert_msg(same_bits(&got, &want), "%s, %d threads, case %zu: fast != reference",
                              all_tables[k]->name, threads, c);
                /* The reference itself: every element is x + t[floor(i / s)] (2-D cases). */
                if (rank == 4 && cases[c].dtype == D2_DTYPE_F32)
                    for (int64_t i = 0; i < d2_tensor_numel(&want); i++) {
                        int64_t w = i % xdims[3], h = i / xdims[3] % xdims[2], nc = i / (xdims[2] * xdims[3]);
                        int64_t src = (nc * cases[c].t[2] + h / cases[c].s[0]) * cases[c].t[3] + w / cases[c].s[1];
                        float expect = ((float *)x.data)[i] + ((float *)t.data)[src];
                        ck_assert(memcmp(&expect, (float *)want.data + i, sizeof expect) == 0);
                    }
                d2_tensor_release(&x, NULL), d2_tensor_release(&t, NULL);
                d2_tensor_release(&want, NULL), d2_tensor_release(&got, NULL);
            }
            d2_cpu_fast_free(fast);
        }
    }
}
END_TEST

START_TEST(kernel_rejects_mismatched_shapes)
{
    int64_t s[2] = { 2, 2 }, xdims[4] = { 1, 2, 5, 6 }, tdims[4] = { 1, 2, 2, 3 };
    struct d2_attrs_upsample_add attrs = { 0, { s, 2 } };
    struct d2_node node;
    struct d2_tensor x, t, y;
    struct d2_error err = { D2_OK, "" };
    memset(&node, 0, sizeof node);
    node.op = D2_OP_UPSAMPLE_ADD;
    node.name = "merge";
    node.attrs = &attrs;
    random_tensor(&x, D2_DTYPE_F32, 4, xdims);
    random_tensor(&t, D2_DTYPE_F32, 4, tdims);
    /* Also through the fast kernel without a session: it falls back to the reference. */
    ck_assert_int_eq(run_kernel(d2_cpu_fast_kernel(D2_OP_UPSAMPLE_ADD), &node, NULL, &x, &t, &y, &err), D2_ERR_SHAPE);
    ck_assert_msg(strstr(err.message, "node 'merge' (upsample_add)") != NULL, "%s", err.message);
    d2_tensor_release(&x, NULL), d2_tensor_release(&t, NULL), d2_tensor_release(&y, NULL);
}
END_TEST

/* ---- the pass against ground truth ------------------------------------------------- */

static bool graph_has_op(const struct d2_graph *g, enum d2_op op)
{
    for (uint32_t n = 0; n < g->num_nodes; n++)
        if (g->nodes[n].op == op)
            return true;
    return false;
}

static void run_fast(const struct d2_graph *g, const struct d2_tensor *in, struct d2_tensor *out)
{
    struct d2_cpu_fast_options o = { 2, NULL, 0 };
    struct d2_cpu_fast *fast = NULL;
    struct d2_error err = { D2_OK, "" };
    ck_assert_msg(d2_cpu_fast_new(&o, NULL, &fast, &err) == D2_OK, "%s", err.message);
    ck_assert_msg(d2_cpu_fast_execute(fast, g, in, 2, out, 1, NULL, NULL, NULL, &err) == D2_OK, "%s", err.message);
    d2_cpu_fast_free(fast);
}

/* Runs `text` (inputs %lat [1,2,H*s,W*s], %top [1,2,H,W]) unfused and through the
 * pass; returns whether it fused, after checking soundness and that fused graphs
 * give the same bits on both executors. *exact: the unfused result equals
 * lat + top[floor(i/s)]. */
static bool check_case(const char *text, int64_t h, int64_t w, int64_t s, bool *exact)
{
    int64_t tdims[4] = { 1, 2, h, w }, xdims[4] = { 1, 2, h * s, w * s };
    struct d2_tensor in[2], ref, fused_ref, fused_fast;
    struct d2_error err = { D2_OK, "" };
    struct d2_pass_options options = { .only = "infer_shapes,fuse_upsample_add,dce", .verify = true };
    struct d2_graph *g = parse_inferred(text);
    random_tensor(&in[0], D2_DTYPE_F32, 4, xdims);
    random_tensor(&in[1], D2_DTYPE_F32, 4, tdims);
    ck_assert_msg(d2_cpu_execute(g, in, 2, &ref, 1, NULL, &err) == D2_OK, "%s\n%s", err.message, text);
    *exact = true;
    for (int64_t i = 0; i < d2_tensor_numel(&ref); i++) {
        int64_t x = i % xdims[3], y = i / xdims[3] % xdims[2], c = i / (xdims[2] * xdims[3]);
        float want = ((float *)in[0].data)[i] + ((float *)in[1].data)[(c * h + y / s) * w + x / s];
        if (memcmp(&want, (float *)ref.data + i, sizeof want) != 0)
            *exact = false;
    }
    ck_assert_msg(d2_run_passes(g, &options, &err) == D2_OK, "%s\n%s", err.message, text);
    bool fused = graph_has_op(g, D2_OP_UPSAMPLE_ADD);
    ck_assert_msg(fused != graph_has_op(g, D2_OP_ADD), "half fused?\n%s", text);
    if (fused) {
        ck_assert_msg(*exact, "fused a case that is not exactly lat + top[floor(i/s)]:\n%s", text);
        ck_assert_msg(d2_cpu_execute(g, in, 2, &fused_ref, 1, NULL, &err) == D2_OK, "%s", err.message);
        ck_assert_msg(same_bits(&fused_ref, &ref), "fused graph differs (reference executor):\n%s", text);
        run_fast(g, in, &fused_fast);
        ck_assert_msg(same_bits(&fused_fast, &ref), "fused graph differs (fast executor):\n%s", text);
        d2_tensor_release(&fused_ref, NULL), d2_tensor_release(&fused_fast, NULL);
    }
    d2_tensor_release(&in[0], NULL), d2_tensor_release(&in[1], NULL), d2_tensor_release(&ref, NULL);
    d2_graph_free(g);
    return fused;
}

START_TEST(pass_fuses_exactly_the_exact_resizes)
{
    static const char *const coord_modes[] = { "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                               "align_corners", "asymmetric", "tf_crop_and_resize" };
    static const char *const nearest_modes[] = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" };
    const int64_t h = 7, w = 5;
    int fused_count = 0;
    for (size_t cm = 0; cm < sizeof coord_modes / sizeof coord_modes[0]; cm++)
        for (size_t nm = 0; nm < sizeof nearest_modes / sizeof nearest_modes[0]; nm++)
            for (int64_t s = 1; s <= 4; s++)
                for (int by_sizes = 0; by_sizes <= 1; by_sizes++) {
                    char text[1024];
                    snprintf(text, sizeof text,
                             "graph main(%%lat: f32[1,2,%lld,%lld], %%top: f32[1,2,%lld,%lld]) {\n"
                             "  %%sc: f32[4] = const [1, 1, %lld, %lld]\n"
                             "  %%sz: i64[4] = const [1, 2, %lld, %lld]\n"
                             "  %%u = resize(%%top, _, %s) {coordinate_transformation_mode=%s, nearest_mode=%s}\n"
                             "  %%y = add(%%lat, %%u)\n  return %%y\n}\n",
                             (long long)(h * s), (long long)(w * s), (long long)h, (long long)w, (long long)s,
                             (long long)s, (long long)(h * s), (long long)(w * s), by_sizes ? "_, %sz" : "%sc",
                             coord_modes[cm], nearest_modes[nm]);
                    bool exact, fused = check_case(text, h, w, s, &exact);
                    bool refused_on_purpose = strcmp(coord_modes[cm], "align_corners") == 0 ||
                                              strcmp(coord_modes[cm], "tf_crop_and_resize") == 0;
                    if (exact && !refused_on_purpose)
                        ck_assert_msg(fused, "an exact case was not fused:\n%s", text);
                    fused_count += fused;
                }
    /* Per form: factor 1, every nearest mode of the 4 coordinate modes that are not
     * refused on purpose (16); factors 2..4: asymmetric floor (3), asymmetric
     * round_prefer_floor by 2 (1), the 3 half-pixel modes x 2 round modes (18). */
    ck_assert_int_eq(fused_count, 2 * (16 + 3 + 1 + 18));
}
END_TEST

START_TEST(pass_fuses_power_of_two_upsamples)
{
    const int64_t h = 6, w = 5;
    for (int64_t s = 1; s <= 8; s++)
        for (int form = 0; form < 3; form++) { /* scales attribute, sizes input, both */
            char text[1024], sizes[64] = "", scales[64] = "";
            if (form >= 1)
                snprintf(sizes, sizeof sizes, ", %%sz");
            if (form != 1)
                snprintf(scales, sizeof scales, " {scales=[%lld.0, %lld.0]}", (long long)s, (long long)s);
            snprintf(text, sizeof text,
                     "graph main(%%lat: f32[1,2,%lld,%lld], %%top: f32[1,2,%lld,%lld]) {\n"
                     "  %%sz: i64[2] = const [%lld, %lld]\n"
                     "  %%u = upsample(%%top%s)%s\n"
                     "  %%y = add(%%u, %%lat)\n  return %%y\n}\n",
                     (long long)(h * s), (long long)(w * s), (long long)h, (long long)w, (long long)(h * s),
                     (long long)(w * s), sizes, scales);
            bool exact, fused = check_case(text, h, w, s, &exact);
            bool power_of_two = (s & (s - 1)) == 0;
            ck_assert_msg(fused == power_of_two, "s = %lld: fused %d\n%s", (long long)s, fused, text);
        }
}
END_TEST

/* ---- model.ir ---------------------------------------------------------------------- */

START_TEST(artifact_round_trip)
{
    static const char text[] =
        "graph main(%lat: f32[1,2,4,6], %top: f32[1,2,2,2]) {\n"
        "  %y = upsample_add @merge(%lat, %top) {scales=[2, 3]}\n"
        "  return %y\n}\n";
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = parse_inferred(text), *back;
    void *data = NULL;
    size_t size = 0;
    uint16_t major, minor;
    ck_assert_msg(d2_artifact_write_buffer(g, NULL, &data, &size, &err) == D2_OK, "%s", err.message);
    memcpy(&major, (char *)data + 8, 2);
    memcpy(&minor, (char *)data + 10, 2);
    ck_assert_int_eq(major, 1);
    ck_assert_int_eq(minor, 0); /* stored by name: a new op needs no new version */
    back = d2_artifact_load_buffer(data, size, NULL, &err);
    ck_assert_msg(back != NULL, "%s", err.message);
    ck_assert_msg(d2_verify_graph(back, &err) == D2_OK, "%s", err.message);
    char *a = d2_print_graph(g, NULL, &err), *b = d2_print_graph(back, NULL, &err);
    ck_assert_str_eq(a, b);
    ck_assert(strstr(b, "upsample_add @merge(%lat, %top) {scales=[2, 3]}") != NULL);
    d2_free(d2_allocator_default(), a);
    d2_free(d2_allocator_default(), b);
    d2_graph_free(back);
    d2_free(d2_allocator_default(), data);
    d2_graph_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("upsample_add");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shape_rules);
    tcase_add_test(tc, fast_kernel_matches_reference);
    tcase_add_test(tc, kernel_rejects_mismatched_shapes);
    tcase_add_test(tc, pass_fuses_exactly_the_exact_resizes);
    tcase_add_test(tc, pass_fuses_power_of_two_upsamples);
    tcase_add_test(tc, artifact_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
