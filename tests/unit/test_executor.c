/* tests/unit/test_executor.c: the reference CPU executor (backends/cpu/executor.c) and
 * the control-flow ops (ir/shape_control.c, backends/cpu/ref_control.c) on small
 * graphs built with the graph API.
 *
 * The expected values are small enough to check by eye (relu, add, identity of a few
 * numbers); these tests are about the executor's plumbing: value routing, borrowing
 * and copying, freeing after last use, input checks, error messages, region runs, and
 * clean failure when any allocation fails. Op numerics are tested in tests/ops/. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/cpu.h"
#include "backends/cpu/executor.h"
#include "ir/ir.h"

/* ---- helpers ---- */

static struct d2_type type_of(enum d2_dtype dtype, int32_t rank, const int64_t *dims)
{
    struct d2_type t;
    d2_type_init(&t, dtype, rank, dims);
    return t;
}

static struct d2_tensor f32_tensor(int32_t rank, const int64_t *dims, const float *values)
{
    struct d2_tensor t;
    ck_assert_int_eq(d2_tensor_alloc(&t, NULL, D2_DTYPE_F32, rank, dims, NULL), D2_OK);
    memcpy(t.data, values, t.nbytes);
    return t;
}

static d2_value_id add_f32_constant(struct d2_graph *g, const char *name, int32_t rank, const int64_t *dims,
                                    const float *values)
{
    struct d2_tensor t = f32_tensor(rank, dims, values);
    d2_value_id v = d2_graph_add_constant(g, name, &t, NULL);
    ck_assert_uint_ne(v, D2_NO_VALUE);
    return v;
}

static d2_value_id add_node1(struct d2_graph *g, enum d2_op op, const char *name, uint32_t n_in,
                             const d2_value_id *ins)
{
    int32_t node = d2_graph_add_node(g, op, name, n_in, ins, 1, NULL, NULL);
    ck_assert_int_ge(node, 0);
    return d2_node_output(g, node, 0);
}

static void assert_f32(const struct d2_tensor *t, int32_t rank, const int64_t *dims, const float *values)
{
    ck_assert_int_eq(t->dtype, D2_DTYPE_F32);
    ck_assert_int_eq(t->rank, rank);
    for (int32_t d = 0; d < rank; d++)
        ck_assert_int_eq(t->dims[d], dims[d]);
    for (int64_t i = 0; i < d2_tensor_numel(t); i++)
        ck_assert_msg(((const float *)t->data)[i] == values[i], "element %lld: got %g, want %g", (long long)i,
                      (double)((const float *)t->data)[i], (double)values[i]);
}

static bool have_kernels(const enum d2_op *ops, int n)
{
    for (int i = 0; i < n; i++)
        if (!d2_cpu_ref_kernel(ops[i]) || !d2_shape_function(ops[i])) {
            printf("skipping: op %s has no kernel or shape function yet\n", d2_op_name(ops[i]));
            return false;
        }
    return true;
}

/* Counting allocator: fails the allocation number `fail_at` (0-based; -1 never),
 * tracks live allocations and the peak of live bytes. */
struct counting {
    long calls, fail_at, live;
    size_t live_bytes, peak_bytes;
};
struct header { size_t size; size_t pad; };

static void *counting_realloc(void *user, void *ptr, size_t size)
{
    struct counting *c = user;
    struct header *h = ptr ? (struct header *)ptr - 1 : NULL;
    if (size == 0) {
        if (h) {
            c->live--;
            c->live_bytes -= h->size;
            free(h);
        }
        return NULL;
    }
    if (c->fail_at >= 0 && c->calls++ == c->fail_at)
        return NULL;
    {
        size_t old = h ? h->size : 0;
        struct header *n = realloc(h, sizeof *n + size);
        if (!n)
            return NULL;
        if (!h)
            c->live++;
        n->size = size;
        c->live_bytes = c->live_bytes - old + size;
        if (c->live_bytes > c->peak_bytes)
            c->peak_bytes = c->live_bytes;
        return n + 1;
    }
}

/* ---- graphs ---- */

/* y = relu(x) + c, x: f32[?n] */
static struct d2_graph *relu_add_graph(void)
{
    struct d2_graph *g = d2_graph_new(NULL, NULL);
    int64_t dims[1] = { -1 }, cdims[1] = { 4 };
    const float c[4] = { 10, 20, 30, 40 };
    struct d2_type t = type_of(D2_DTYPE_F32, 1, dims);
    d2_value_id x, cv, r, y;
    t.symbols[0] = "n";
    x = d2_graph_add_input(g, "x", &t, NULL);
    cv = add_f32_constant(g, "c", 1, cdims, c);
    r = add_node1(g, D2_OP_RELU, "relu1", 1, &x);
    y = add_node1(g, D2_OP_ADD, "add1", 2, (d2_value_id[]){ r, cv });
    ck_assert_int_eq(d2_graph_add_output(g, y, NULL), D2_OK);
    return g;
}

START_TEST(runs_a_chain)
{
    enum d2_op ops[] = { D2_OP_RELU, D2_OP_ADD };
    struct d2_graph *g;
    struct d2_tensor in, out;
    struct d2_error err = { 0 };
    int64_t dims[1] = { 4 };
    if (!have_kernels(ops, 2))
        return;
    g = relu_add_graph();
    in = f32_tensor(1, dims, (const float[]){ -1, 2, -3, 4 });
    ck_assert_int_eq(d2_cpu_execute(g, &in, 1, &out, 1, NULL, &err), D2_OK);
    assert_f32(&out, 1, dims, (const float[]){ 10, 22, 30, 44 });
    ck_assert(((float *)in.data)[0] == -1); /* inputs are not touched */
    d2_tensor_release(&out, NULL);
    d2_tensor_release(&in, NULL);
    d2_graph_free(g);
}
END_TEST

START_TEST(outputs_that_are_inputs_or_constants_are_copies)
{
    enum d2_op ops[] = { D2_OP_RELU };
    struct d2_graph *g = d2_graph_new(NULL, NULL);
    int64_t dims[1] = { 2 };
    struct d2_type t = type_of(D2_DTYPE_F32, 1, dims);
    struct d2_tensor in, outs[4];
    struct d2_error err = { 0 };
    d2_value_id x, c, r;
    if (!have_kernels(ops, 1)) {
        d2_graph_free(g);
        return;
    }
    x = d2_graph_add_input(g, "x", &t, NULL);
    c = add_f32_constant(g, "c", 1, dims, (const float[]){ 5, 6 });
    r = add_node1(g, D2_OP_RELU, "r", 1, &x);
    d2_graph_add_output(g, x, NULL);
    d2_graph_add_output(g, c, NULL);
    d2_graph_add_output(g, r, NULL);
    d2_graph_add_output(g, r, NULL); /* the same value twice: two independent tensors */
    in = f32_tensor(1, dims, (const float[]){ -7, 8 });
    ck_assert_int_eq(d2_cpu_execute(g, &in, 1, outs, 4, NULL, &err), D2_OK);
    assert_f32(&outs[0], 1, dims, (const float[]){ -7, 8 });
    assert_f32(&outs[1], 1, dims, (const float[]){ 5, 6 });
    assert_f32(&outs[2], 1, dims, (const float[]){ 0, 8 });
    assert_f32(&outs[3], 1, dims, (const float[]){ 0, 8 });
    ck_assert_ptr_ne(outs[0].data, in.data);
    ck_assert_ptr_ne(outs[1].data, g->constants[0].data);
    ck_assert_ptr_ne(outs[2].data, outs[3].data);
    for (int k = 0; k < 4; k++) {
        ck_assert(outs[k].owns_data);
        d2_tensor_release(&outs[k], NULL);
    }
    d2_tensor_release(&in, NULL);
    d2_graph_free(g);
}
END_TEST

START_TEST(frees_intermediates_after_last_use)
{
    enum d2_op ops[] = { D2_OP_RELU };
    struct d2_graph *g = d2_graph_new(NULL, NULL);
    int64_t dims[1] = { 1 << 16 };
    struct d2_type t = type_of(D2_DTYPE_F32, 1, dims);
    struct counting c = { .fail_at = -1 };
    struct d2_allocator a = { counting_realloc, &c };
    struct d2_tensor in, out;
    struct d2_error err = { 0 };
    d2_value_id v;
    size_t tensor_bytes = (size_t)dims[0] * 4;
    if (!have_kernels(ops, 1)) {
        d2_graph_free(g);
        return;
    }
    v = d2_graph_add_input(g, "x", &t, NULL);
    for (int i = 0; i < 10; i++)
        v = add_node1(g, D2_OP_RELU, NULL, 1, &v);
    d2_graph_add_output(g, v, NULL);
    ck_assert_int_eq(d2_tensor_alloc(&in, NULL, D2_DTYPE_F32, 1, dims, NULL), D2_OK);
    ck_assert_int_eq(d2_cpu_execute(g, &in, 1, &out, 1, &a, &err), D2_OK);
    /* A chain needs at most two live intermediates, not ten. */
    ck_assert_msg(c.peak_bytes < 3 * tensor_bytes, "peak %zu bytes for tensors of %zu", c.peak_bytes,
                  tensor_bytes);
    d2_tensor_release(&out, &a);
    ck_assert_int_eq(c.live, 0);
    d2_tensor_release(&in, NULL);
    d2_graph_free(g);
}
END_TEST

START_TEST(rejects_wrong_inputs)
{
    enum d2_op ops[] = { D2_OP_RELU, D2_OP_ADD };
    struct d2_graph *g;
    struct d2_tensor in, out;
    struct d2_error err = { 0 };
    int64_t dims[1] = { 4 }, dims2[2] = { 2, 2 };
    if (!have_kernels(ops, 2))
        return;
    g = relu_add_graph();
    /* wrong dtype */
    ck_assert_int_eq(d2_tensor_alloc(&in, NULL, D2_DTYPE_I64, 1, dims, NULL), D2_OK);
    ck_assert_int_eq(d2_cpu_execute(g, &in, 1, &out, 1, NULL, &err), D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "expected dtype f32") && strstr(err.message, "'x'"), "%s", err.message);
    d2_tensor_release(&in, NULL);
    /* wrong rank */
    d2_error_clear(&err);
    ck_assert_int_eq(d2_tensor_alloc(&in, NULL, D2_DTYPE_F32, 2, dims2, NULL), D2_OK);
    ck_assert_int_eq(d2_cpu_execute(g, &in, 1, &out, 1, NULL, &err), D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "expected rank 1"), "%s", err.message);
    d2_tensor_release(&in, NULL);
    /* wrong count */
    d2_error_clear(&err);
    ck_assert_int_eq(d2_cpu_execute(g, NULL, 0, &out, 1, NULL, &err), D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "takes 1 inputs, got 0"), "%s", err.message);
    d2_graph_free(g);
}
END_TEST

START_TEST(symbolic_dims_must_agree)
{
    enum d2_op ops[] = { D2_OP_ADD };
    struct d2_graph *g = d2_graph_new(NULL, NULL);
    int64_t unknown[1] = { -1 }, d3[1] = { 3 }, d4[1] = { 4 };
    struct d2_type t = type_of(D2_DTYPE_F32, 1, unknown);
    struct d2_tensor ins[2], out;
    struct d2_error err = { 0 };
    d2_value_id a, b;
    if (!have_kernels(ops, 1)) {
        d2_graph_free(g);
        return;
    }
    t.symbols[0] = "n";
    a = d2_graph_add_input(g, "a", &t, NULL);
    b = d2_graph_add_input(g, "b", &t, NULL);
    d2_graph_add_output(g, add_node1(g, D2_OP_ADD, "sum", 2, (d2_value_id[]){ a, b }), NULL);
    ck_assert_int_eq(d2_tensor_alloc(&ins[0], NULL, D2_DTYPE_F32, 1, d3, NULL), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&ins[1], NULL, D2_DTYPE_F32, 1, d4, NULL), D2_OK);
    ck_assert_int_eq(d2_cpu_execute(g, ins, 2, &out, 1, NULL, &err), D2_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.message, "dim 'n' is 4 here but 3 in input 0 'a'"), "%s", err.message);
    d2_tensor_release(&ins[0], NULL);
    d2_tensor_release(&ins[1], NULL);
    d2_graph_free(g);
}
END_TEST

START_TEST(kernel_errors_name_the_node)
{
    enum d2_op ops[] = { D2_OP_ADD };
    struct d2_graph *g = d2_graph_new(NULL, NULL);
    int64_t unknown[1] = { -1 }, d3[1] = { 3 }, d4[1] = { 4 };
    struct d2_type t = type_of(D2_DTYPE_F32, 1, unknown);
    struct d2_tensor ins[2], out;
    struct d2_error err = { 0 };
    d2_value_id a, b;
    if (!have_kernels(ops, 1)) {
        d2_graph_free(g);
        return;
    }
    a = d2_graph_add_input(g, "a", &t, NULL);
    b = d2_graph_add_input(g, "b", &t, NULL);
    d2_graph_add_output(g, add_node1(g, D2_OP_ADD, "bad_add", 2, (d2_value_id[]){ a, b }), NULL);
    ck_assert_int_eq(d2_tensor_alloc(&ins[0], NULL, D2_DTYPE_F32, 1, d3, NULL), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&ins[1], NULL, D2_DTYPE_F32, 1, d4, NULL), D2_OK);
    ck_assert_int_eq(d2_cpu_execute(g, ins, 2, &out, 1, NULL, &err), D2_ERR_SHAPE);
    ck_assert_msg(strncmp(err.message, "node 'bad_add' (add): ", 22) == 0, "%s", err.message);
    d2_tensor_release(&ins[0], NULL);
    d2_tensor_release(&ins[1], NULL);
    d2_graph_free(g);
}
END_TEST

/* The reference kernels, except relu's: stands for an op no kernel exists for. */
static d2_cpu_kernel_fn kernels_without_relu(enum d2_op op)
{
    return op == D2_OP_RELU ? NULL : d2_cpu_ref_kernel(op);
}

START_TEST(missing_kernel_is_unsupported)
{
    enum d2_op ops[] = { D2_OP_RELU, D2_OP_ADD };
    struct d2_executor ex = { .alloc = d2_allocator_default(), .depth = 0, .kernel_for = kernels_without_relu };
    struct d2_graph *g;
    struct d2_tensor in, out;
    struct d2_error err = { 0 };
    int64_t dims[1] = { 4 };
    if (!have_kernels(ops, 2))
        return;
    g = relu_add_graph();
    in = f32_tensor(1, dims, (const float[]){ 1, 2, 3, 4 });
    ck_assert_int_eq(d2_executor_run(&ex, g, &in, 1, &out, 1, &err), D2_ERR_UNSUPPORTED);
    ck_assert_str_eq(err.message, "node 'relu1' (relu): op 'relu' has no CPU kernel");
    /* The same graph runs with every kernel present. */
    ex.kernel_for = NULL;
    d2_error_clear(&err);
    ck_assert_int_eq(d2_executor_run(&ex, g, &in, 1, &out, 1, &err), D2_OK);
    d2_tensor_release(&out, NULL);
    d2_tensor_release(&in, NULL);
    d2_graph_free(g);
}
END_TEST

/* out = if(cond, x) { then: relu(x) } { else: identity(x) } */
static struct d2_graph *if_graph(void)
{
    struct d2_graph *g = d2_graph_new(NULL, NULL);
    int64_t dims[1] = { 2 };
    struct d2_type tb = type_of(D2_DTYPE_BOOL, 0, NULL), tx = type_of(D2_DTYPE_F32, 1, dims);
    d2_value_id cond = d2_graph_add_input(g, "cond", &tb, NULL);
    d2_value_id x = d2_graph_add_input(g, "x", &tx, NULL);
    int32_t node = d2_graph_add_node(g, D2_OP_IF, "choose", 2, (d2_value_id[]){ cond, x }, 1, NULL, NULL);
    struct d2_graph *then_g = g->nodes[node].regions[0], *else_g = g->nodes[node].regions[1];
    d2_value_id a = d2_graph_add_input(then_g, "a", &tx, NULL);
    d2_value_id b = d2_graph_add_input(else_g, "b", &tx, NULL);
    d2_graph_add_output(then_g, add_node1(then_g, D2_OP_RELU, "then_relu", 1, &a), NULL);
    d2_graph_add_output(else_g, add_node1(else_g, D2_OP_IDENTITY, "else_id", 1, &b), NULL);
    d2_graph_add_output(g, d2_node_output(g, node, 0), NULL);
    return g;
}

START_TEST(if_runs_the_taken_branch)
{
    enum d2_op ops[] = { D2_OP_RELU, D2_OP_IDENTITY };
    struct d2_graph *g;
    struct d2_tensor ins[2], out;
    struct d2_error err = { 0 };
    int64_t dims[1] = { 2 };
    if (!have_kernels(ops, 2))
        return;
    g = if_graph();
    ck_assert_int_eq(d2_infer_graph(g, &err), D2_OK);
    ck_assert_int_eq(d2_tensor_alloc(&ins[0], NULL, D2_DTYPE_BOOL, 0, NULL, NULL), D2_OK);
    ins[1] = f32_tensor(1, dims, (const float[]){ -1, 2 });
    for (int taken = 0; taken < 2; taken++) {
        ((uint8_t *)ins[0].data)[0] = (uint8_t)taken;
        ck_assert_int_eq(d2_cpu_execute(g, ins, 2, &out, 1, NULL, &err), D2_OK);
        assert_f32(&out, 1, dims, taken ? (const float[]){ 0, 2 } : (const float[]){ -1, 2 });
        d2_tensor_release(&out, NULL);
    }
    d2_tensor_release(&ins[0], NULL);
    d2_tensor_release(&ins[1], NULL);
    d2_graph_free(g);
}
END_TEST

/* (v_final, scan) = loop(M?, cond?, v) with capture c:
 *   body(i, cond, v, c): v' = v + c; cond' = i < limit; scan = v'
 * with_trip_count: M = 3, no cond;  otherwise: no M, cond = true, limit = 2 (runs 3 times). */
static struct d2_graph *loop_graph_with(int64_t trip_count, bool with_cond)
{
    struct d2_graph *g = d2_graph_new(NULL, NULL);
    int64_t dims[1] = { 2 };
    struct d2_type tv = type_of(D2_DTYPE_F32, 1, dims), ti = type_of(D2_DTYPE_I64, 0, NULL),
                   tb = type_of(D2_DTYPE_BOOL, 0, NULL);
    d2_value_id v0 = d2_graph_add_input(g, "v0", &tv, NULL);
    d2_value_id c = add_f32_constant(g, "c", 1, dims, (const float[]){ 1, 10 });
    d2_value_id m = D2_NO_VALUE, cond = D2_NO_VALUE;
    struct d2_tensor lim;
    int32_t node;
    struct d2_graph *body;
    d2_value_id bi, bcond, bv, bc, blim, sum, less, limit;

    if (trip_count >= 0) {
        struct d2_tensor mt;
        d2_tensor_alloc(&mt, NULL, D2_DTYPE_I64, 0, NULL, NULL);
        ((int64_t *)mt.data)[0] = trip_count;
        m = d2_graph_add_constant(g, "M", &mt, NULL);
    }
    if (with_cond) {
        struct d2_tensor ct;
        d2_tensor_alloc(&ct, NULL, D2_DTYPE_BOOL, 0, NULL, NULL);
        ((uint8_t *)ct.data)[0] = 1;
        cond = d2_graph_add_constant(g, "cond", &ct, NULL);
    }
    d2_tensor_alloc(&lim, NULL, D2_DTYPE_I64, 0, NULL, NULL);
    ((int64_t *)lim.data)[0] = 2;
    limit = d2_graph_add_constant(g, "limit", &lim, NULL);
    node = d2_graph_add_node(g, D2_OP_LOOP, "repeat", 5, (d2_value_id[]){ m, cond, v0, c, limit }, 2, NULL, NULL);
    ((struct d2_attrs_loop *)d2_node_attrs(g, node))->num_carried = 1;
    body = g->nodes[node].regions[0];
    bi = d2_graph_add_input(body, "i", &ti, NULL);
    bcond = d2_graph_add_input(body, "cond_in", &tb, NULL);
    bv = d2_graph_add_input(body, "v", &tv, NULL);
    bc = d2_graph_add_input(body, "c_in", &tv, NULL);
    blim = d2_graph_add_input(body, "limit_in", &ti, NULL);
    (void)bcond;
    sum = add_node1(body, D2_OP_ADD, "step", 2, (d2_value_id[]){ bv, bc });
    less = add_node1(body, D2_OP_LESS, "again", 2, (d2_value_id[]){ bi, blim });
    d2_graph_add_output(body, less, NULL);
    d2_graph_add_output(body, sum, NULL);
    d2_graph_add_output(body, sum, NULL);
    d2_graph_add_output(g, d2_node_output(g, node, 0), NULL);
    d2_graph_add_output(g, d2_node_output(g, node, 1), NULL);
    return g;
}

static struct d2_graph *loop_graph(bool with_trip_count)
{
    return with_trip_count ? loop_graph_with(3, false) : loop_graph_with(-1, true);
}

START_TEST(loop_carries_and_stacks)
{
    enum d2_op ops[] = { D2_OP_ADD, D2_OP_LESS };
    int64_t dims[1] = { 2 }, scan_dims[2] = { 3, 2 };
    if (!have_kernels(ops, 2))
        return;
    for (int variant = 0; variant < 2; variant++) {
        struct d2_graph *g = loop_graph(variant == 0);
        struct d2_tensor in = f32_tensor(1, dims, (const float[]){ 0.5f, 0 }), outs[2];
        struct d2_error err = { 0 };
        ck_assert_int_eq(d2_infer_graph(g, &err), D2_OK);
        ck_assert_msg(d2_cpu_execute(g, &in, 1, outs, 2, NULL, &err) == D2_OK, "%s", err.message);
        assert_f32(&outs[0], 1, dims, (const float[]){ 3.5f, 30 });
        assert_f32(&outs[1], 2, scan_dims, (const float[]){ 1.5f, 10, 2.5f, 20, 3.5f, 30 });
        d2_tensor_release(&outs[0], NULL);
        d2_tensor_release(&outs[1], NULL);
        d2_tensor_release(&in, NULL);
        d2_graph_free(g);
    }
}
END_TEST

/* A "while" loop exported with a huge trip count and a condition (M = 2^40, stops
 * after 3 iterations): the scan output must not try to reserve M slices up front. */
START_TEST(loop_with_huge_bound_stops_on_its_condition)
{
    enum d2_op ops[] = { D2_OP_ADD, D2_OP_LESS };
    int64_t dims[1] = { 2 }, scan_dims[2] = { 3, 2 };
    struct d2_error err = { 0 };
    if (!have_kernels(ops, 2))
        return;
    struct d2_graph *g = loop_graph_with((int64_t)1 << 40, true);
    struct d2_tensor in = f32_tensor(1, dims, (const float[]){ 0.5f, 0 }), outs[2];
    ck_assert_int_eq(d2_infer_graph(g, &err), D2_OK);
    ck_assert_msg(d2_cpu_execute(g, &in, 1, outs, 2, NULL, &err) == D2_OK, "%s", err.message);
    assert_f32(&outs[1], 2, scan_dims, (const float[]){ 1.5f, 10, 2.5f, 20, 3.5f, 30 });
    d2_tensor_release(&outs[0], NULL);
    d2_tensor_release(&outs[1], NULL);
    d2_tensor_release(&in, NULL);
    d2_graph_free(g);
}
END_TEST

START_TEST(loop_with_zero_trips_returns_the_initial_values)
{
    enum d2_op ops[] = { D2_OP_ADD, D2_OP_LESS };
    int64_t dims[1] = { 2 }, scan_dims[2] = { 0, 2 };
    struct d2_graph *g;
    struct d2_tensor in, outs[2];
    struct d2_error err = { 0 };
    if (!have_kernels(ops, 2))
        return;
    g = loop_graph(true);
    ((int64_t *)g->constants[1].data)[0] = 0; /* M = 0 */
    ck_assert_int_eq(d2_infer_graph(g, &err), D2_OK);
    in = f32_tensor(1, dims, (const float[]){ 0.5f, 0 });
    ck_assert_msg(d2_cpu_execute(g, &in, 1, outs, 2, NULL, &err) == D2_OK, "%s", err.message);
    assert_f32(&outs[0], 1, dims, (const float[]){ 0.5f, 0 });
    assert_f32(&outs[1], 2, scan_dims, NULL);
    d2_tensor_release(&outs[0], NULL);
    d2_tensor_release(&outs[1], NULL);
    d2_tensor_release(&in, NULL);
    d2_graph_free(g);
}
END_TEST

/* Fail allocation N for N = 0, 1, ... until a run succeeds: every failure must be
 * D2_ERR_NOMEM with nothing leaked (ASan checks the rest under make SAN=1). */
static void fail_every_allocation(struct d2_graph *g, struct d2_tensor *ins, uint32_t n_in, uint32_t n_out)
{
    struct d2_tensor outs[4];
    for (long n = 0;; n++) {
        struct counting c = { .fail_at = n };
        struct d2_allocator a = { counting_realloc, &c };
        struct d2_error err = { 0 };
        enum d2_status st = d2_cpu_execute(g, ins, n_in, outs, n_out, &a, &err);
        if (st == D2_OK) {
            for (uint32_t k = 0; k < n_out; k++)
                d2_tensor_release(&outs[k], &a);
            ck_assert_int_eq(c.live, 0);
            ck_assert_int_gt(n, 0);
            return;
        }
        ck_assert_msg(st == D2_ERR_NOMEM, "allocation %ld failed: got %s: %s", n, d2_status_name(st), err.message);
        ck_assert_msg(c.live == 0, "allocation %ld failed: %ld blocks leaked", n, c.live);
        ck_assert_int_lt(n, 100000);
    }
}

START_TEST(allocation_failures_are_clean)
{
    enum d2_op ops[] = { D2_OP_ADD, D2_OP_LESS, D2_OP_RELU, D2_OP_IDENTITY };
    int64_t dims[1] = { 2 }, dims4[1] = { 4 };
    if (!have_kernels(ops, 4))
        return;
    {
        struct d2_graph *g = relu_add_graph();
        struct d2_tensor in = f32_tensor(1, dims4, (const float[]){ 1, 2, 3, 4 });
        fail_every_allocation(g, &in, 1, 1);
        d2_tensor_release(&in, NULL);
        d2_graph_free(g);
    }
    {
        struct d2_graph *g = if_graph();
        struct d2_tensor ins[2];
        d2_tensor_alloc(&ins[0], NULL, D2_DTYPE_BOOL, 0, NULL, NULL);
        ins[1] = f32_tensor(1, dims, (const float[]){ -1, 2 });
        fail_every_allocation(g, ins, 2, 1);
        d2_tensor_release(&ins[0], NULL);
        d2_tensor_release(&ins[1], NULL);
        d2_graph_free(g);
    }
    for (int variant = 0; variant < 2; variant++) {
        struct d2_graph *g = loop_graph(variant == 0);
        struct d2_tensor in = f32_tensor(1, dims, (const float[]){ 0.5f, 0 });
        fail_every_allocation(g, &in, 1, 2);
        d2_tensor_release(&in, NULL);
        d2_graph_free(g);
    }
}
END_TEST

START_TEST(registry_has_the_cpu_backend)
{
    const struct d2_backend_ops *cpu = d2_backend_find("cpu");
    ck_assert_ptr_nonnull(cpu);
    ck_assert_ptr_eq(d2_backend_get(0), cpu);
    ck_assert_ptr_eq(cpu->execute, d2_cpu_execute);
    ck_assert_ptr_null(d2_backend_find("no-such-backend"));
    ck_assert_ptr_null(d2_backend_get(d2_backend_count()));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("executor");
    TCase *tc = tcase_create("executor");
    SRunner *sr;
    int failed;
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, runs_a_chain);
    tcase_add_test(tc, outputs_that_are_inputs_or_constants_are_copies);
    tcase_add_test(tc, frees_intermediates_after_last_use);
    tcase_add_test(tc, rejects_wrong_inputs);
    tcase_add_test(tc, symbolic_dims_must_agree);
    tcase_add_test(tc, kernel_errors_name_the_node);
    tcase_add_test(tc, missing_kernel_is_unsupported);
    tcase_add_test(tc, if_runs_the_taken_branch);
    tcase_add_test(tc, loop_carries_and_stacks);
    tcase_add_test(tc, loop_with_zero_trips_returns_the_initial_values);
    tcase_add_test(tc, loop_with_huge_bound_stops_on_its_condition);
    tcase_add_test(tc, allocation_failures_are_clean);
    tcase_add_test(tc, registry_has_the_cpu_backend);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
