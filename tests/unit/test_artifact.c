/* tests/unit/test_artifact.c: the model.ir artifact (runtime/artifact*.c, docs/FORMAT.md).
 *
 * - Round trips (buffer and file) of a graph that uses every attribute field kind the
 *   schema has, every dtype of constant (scalars, zero-size, rank 8), symbolic and
 *   bounded dims, omitted inputs, nested regions and metadata: the loaded graph prints
 *   identically and compares equal field by field; constants are borrowed, and in a
 *   mapped file 64-byte aligned.
 * - Robustness: every truncation length and every single-bit flip of a small artifact
 *   is rejected with D2_ERR_PARSE and a one-line message; future versions, bad magic,
 *   unknown ops/attributes/enum texts, bad ids, ranks, dtypes, sizes and offsets are
 *   rejected. These use files assembled here byte by byte from docs/FORMAT.md (an
 *   independent encoder), which also shows that missing attribute fields take their
 *   defaults and that field order in the file does not matter.
 * - Allocation failure at every allocation of write and load gives D2_ERR_NOMEM and
 *   leaks nothing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "ir/ir.h"
#include "runtime/artifact.h"

/* ---- a counting allocator that can fail the Nth allocation ---------------------- */

struct test_alloc {
    long calls;    /* allocations and growths so far */
    long fail_at;  /* fail the call with this number (1-based); 0: never */
    long live;     /* blocks currently allocated */
};

static void *test_realloc(void *user, void *ptr, size_t size)
{
    struct test_alloc *ta = user;
    void *p;
    if (size == 0) {
        if (ptr)
            ta->live--;
        free(ptr);
        return NULL;
    }
    if (++ta->calls == ta->fail_at)
        return NULL;
    p = realloc(ptr, size);
    if (p && !ptr)
        ta->live++;
    return p;
}

/* ---- the graph under test ------------------------------------------------------------ */

static void fill_pattern(struct d2_tensor *t, unsigned seed)
{
    for (size_t i = 0; i < t->nbytes; i++)
        ((uint8_t *)t->data)[i] = (uint8_t)(i * 37u + seed * 11u + 1u);
    if (t->dtype == D2_DTYPE_BOOL)
        for (size_t i = 0; i < t->nbytes; i++)
            ((uint8_t *)t->data)[i] &= 1u;
}

static d2_value_id add_const(struct d2_graph *g, const char *name, enum d2_dtype dt, int32_t rank,
                             const int64_t *dims, unsigned seed)
{
    struct d2_tensor t;
    struct d2_error err = { 0 };
    ck_assert_int_eq(d2_tensor_alloc(&t, g->alloc, dt, rank, dims, &err), D2_OK);
    fill_pattern(&t, seed);
    return d2_graph_add_constant(g, name, &t, &err);
}

static void set_type(struct d2_graph *g, d2_value_id v, enum d2_dtype dt, int32_t rank, const int64_t *dims)
{
    d2_type_init(&g->values[v].type, dt, rank, dims);
}

/* A graph that touches every part of the format (not meant to be semantically valid
 * for execution: the artifact does not require that). */
static struct d2_graph *build_rich_graph(const struct d2_allocator *alloc)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = d2_graph_new(alloc, &err);
    struct d2_type t;
    d2_value_id x, cond, k, unk, w, b, pads, y, vals, idx, r, p, casted, cs;
    int32_t n;
    ck_assert_ptr_nonnull(g);

    ck_assert_int_eq(d2_graph_set_metadata(g, "export_method", "onnx", &err), D2_OK);
    ck_assert_int_eq(d2_graph_set_metadata(g, "producer", "d2rt test \"quoted\"", &err), D2_OK);
    ck_assert_int_eq(d2_graph_set_metadata(g, "empty", "", &err), D2_OK);

    /* inputs: symbolic, bounded and unknown dims; a scalar; an unknown type */
    d2_type_init(&t, D2_DTYPE_F32, 4, (int64_t[]){ -1, 3, -1, -1 });
    t.symbols[0] = "batch";
    t.symbols[2] = "h";
    t.upper_bounds[2] = 1344;
    t.upper_bounds[3] = 2000;
    x = d2_graph_add_input(g, "x", &t, &err);
    d2_type_init(&t, D2_DTYPE_BOOL, 0, NULL);
    cond = d2_graph_add_input(g, "cond", &t, &err);
    d2_type_init(&t, D2_DTYPE_I64, 1, (int64_t[]){ 1 });
    k = d2_graph_add_input(g, "k", &t, &err);
    d2_type_init_unknown(&t);
    unk = d2_graph_add_input(g, "unknown type", &t, &err);
    ck_assert_uint_ne(unk, D2_NO_VALUE);

    /* one constant of every dtype, in assorted shapes */
    {
        static const int64_t shapes[5][8] = { { 0 }, { 5 }, { 2, 3 }, { 0, 3 }, { 1, 1, 1, 1, 1, 1, 1, 2 } };
        static const int32_t ranks[5] = { 0, 1, 2, 2, 8 };
        unsigned seed = 0;
        for (int dt = 1; dt < D2_DTYPE_COUNT; dt++) {
            for (int s = 0; s < 5; s++) {
                char name[64];
                snprintf(name, sizeof name, "c_%s_%d", d2_dtype_name((enum d2_dtype)dt), s);
                ck_assert_uint_ne(add_const(g, name, (enum d2_dtype)dt, ranks[s], shapes[s], seed++), D2_NO_VALUE);
            }
        }
    }
    w = add_const(g, "w", D2_DTYPE_F32, 4, (int64_t[]){ 2, 3, 3, 3 }, 99);
    b = add_const(g, "b", D2_DTYPE_F32, 1, (int64_t[]){ 2 }, 98);
    pads = add_const(g, "pads", D2_DTYPE_I64, 1, (int64_t[]){ 8 }, 97);

    /* conv: ints, int, enum */
    n = d2_graph_add_node(g, D2_OP_CONV, "conv1", 3, (d2_value_id[]){ x, w, b }, 1, (const char *[]){ "y" }, &err);
    ck_assert_int_ge(n, 0);
    {
        struct d2_attrs_conv *a = d2_node_attrs(g, n);
        ck_assert_int_eq(d2_graph_set_ints(g, &a->kernel_shape, (int64_t[]){ 3, 3 }, 2, &err), D2_OK);
        ck_assert_int_eq(d2_graph_set_ints(g, &a->strides, (int64_t[]){ 2, 2 }, 2, &err), D2_OK);
        ck_assert_int_eq(d2_graph_set_ints(g, &a->pads, (int64_t[]){ 1, 1, 1, -9000000000 }, 4, &err), D2_OK);
        a->group = 1;
        a->auto_pad = D2_AUTO_PAD_SAME_LOWER;
    }
    y = d2_node_output(g, n, 0);
    d2_type_init(&t, D2_DTYPE_F32, 4, (int64_t[]){ -1, 2, -1, -1 });
    t.symbols[0] = "batch";
    g->values[y].type = t;
    g->values[y].type.symbols[0] = d2_graph_intern(g, "batch");

    /* topk: two outputs, a bounded output dim */
    n = d2_graph_add_node(g, D2_OP_TOPK, "", 2, (d2_value_id[]){ y, k }, 2, (const char *[]){ "vals", NULL }, &err);
    ck_assert_int_ge(n, 0);
    ((struct d2_attrs_topk *)d2_node_attrs(g, n))->largest = 0;
    vals = d2_node_output(g, n, 0);
    idx = d2_node_output(g, n, 1);
    set_type(g, idx, D2_DTYPE_I64, 1, (int64_t[]){ -1 });
    g->values[idx].type.upper_bounds[0] = 100;

    /* resize: several enums, floats, ints; an omitted optional input */
    n = d2_graph_add_node(g, D2_OP_RESIZE, "resize/0", 4, (d2_value_id[]){ vals, D2_NO_VALUE, D2_NO_VALUE, k },
                          1, NULL, &err);
    ck_assert_int_ge(n, 0);
    {
        struct d2_attrs_resize *a = d2_node_attrs(g, n);
        a->mode = D2_RESIZE_MODE_CUBIC;
        a->coordinate_transformation_mode = D2_COORD_MODE_TF_CROP_AND_RESIZE;
        a->nearest_mode = D2_NEAREST_MODE_CEIL;
        a->cubic_coeff_a = -0.5;
        a->extrapolation_value = 1e-300;
        ck_assert_int_eq(d2_graph_set_ints(g, &a->axes, (int64_t[]){ 2, 3 }, 2, &err), D2_OK);
    }
    r = d2_node_output(g, n, 0);

    /* pad (enum), cast (dtype), constant_of_shape (dtype + float), lrn (floats) */
    n = d2_graph_add_node(g, D2_OP_PAD, "pad", 2, (d2_value_id[]){ r, pads }, 1, (const char *[]){ "p" }, &err);
    ((struct d2_attrs_pad *)d2_node_attrs(g, n))->mode = D2_PAD_MODE_REFLECT;
    p = d2_node_output(g, n, 0);
    n = d2_graph_add_node(g, D2_OP_CAST, "cast", 1, &p, 1, NULL, &err);
    ((struct d2_attrs_cast *)d2_node_attrs(g, n))->to = D2_DTYPE_BF16;
    casted = d2_node_output(g, n, 0);
    n = d2_graph_add_node(g, D2_OP_CONSTANT_OF_SHAPE, "cos", 1, &k, 1, NULL, &err);
    ((struct d2_attrs_constant_of_shape *)d2_node_attrs(g, n))->dtype = D2_DTYPE_U16;
    ((struct d2_attrs_constant_of_shape *)d2_node_attrs(g, n))->value = -0.0;
    cs = d2_node_output(g, n, 0);
    n = d2_graph_add_node(g, D2_OP_LRN, "lrn", 1, &casted, 1, NULL, &err);
    ((struct d2_attrs_lrn *)d2_node_attrs(g, n))->alpha = 3.0e-7;

    /* if(cond, x) with a constant in one branch and a nested loop in the other */
    n = d2_graph_add_node(g, D2_OP_IF, "branch", 2, (d2_value_id[]){ cond, x }, 1, (const char *[]){ "o" }, &err);
    ck_assert_int_ge(n, 0);
    {
        struct d2_graph *then_g = g->nodes[n].regions[0], *else_g = g->nodes[n].regions[1], *body;
        d2_value_id a1, a2, c1, neg, iter, bcond, lv;
        int32_t m, l;
        d2_type_init(&t, D2_DTYPE_F32, 4, (int64_t[]){ -1, 3, -1, -1 });
        t.symbols[0] = "batch";
        a1 = d2_graph_add_input(then_g, "a1", &t, &err);
        c1 = add_const(then_g, "then_c", D2_DTYPE_F16, 1, (int64_t[]){ 3 }, 5);
        m = d2_graph_add_node(then_g, D2_OP_ADD, "then_add", 2, (d2_value_id[]){ a1, c1 }, 1, NULL, &err);
        neg = d2_node_output(then_g, m, 0);
        ck_assert_int_eq(d2_graph_add_output(then_g, neg, &err), D2_OK);

        a2 = d2_graph_add_input(else_g, "a2", &t, &err);
        l = d2_graph_add_node(else_g, D2_OP_LOOP, "inner_loop", 3, (d2_value_id[]){ D2_NO_VALUE, D2_NO_VALUE, a2 },
                              1, NULL, &err);
        ck_assert_int_ge(l, 0);
        ((struct d2_attrs_loop *)d2_node_attrs(else_g, l))->num_carried = 1;
        body = else_g->nodes[l].regions[0];
        iter = d2_graph_add_input(body, "i", NULL, &err);
        bcond = d2_graph_add_input(body, "c", NULL, &err);
        lv = d2_graph_add_input(body, "v", &t, &err);
        ck_assert_uint_ne(iter, D2_NO_VALUE);
        m = d2_graph_add_node(body, D2_OP_NEG, "body_neg", 1, &lv, 1, NULL, &err);
        ck_assert_int_eq(d2_graph_add_output(body, bcond, &err), D2_OK);
        ck_assert_int_eq(d2_graph_add_output(body, d2_node_output(body, m, 0), &err), D2_OK);
        ck_assert_int_eq(d2_graph_add_output(else_g, d2_node_output(else_g, l, 0), &err), D2_OK);
    }

    ck_assert_int_eq(d2_graph_add_output(g, d2_node_output(g, n, 0), &err), D2_OK);
    ck_assert_int_eq(d2_graph_add_output(g, idx, &err), D2_OK);
    ck_assert_int_eq(d2_graph_add_output(g, idx, &err), D2_OK); /* twice on purpose */
    ck_assert_int_eq(d2_graph_add_output(g, cs, &err), D2_OK);
    ck_assert_int_eq(err.code, D2_OK);
    return g;
}

/* ---- structural comparison ------------------------------------------------------------- */

static void assert_attrs_equal(const struct d2_node *a, const struct d2_node *b)
{
    const struct d2_attr_schema *s = d2_attr_schema_get(d2_op_info(a->op)->attrs);
    for (uint32_t i = 0; i < s->num_fields; i++) {
        const struct d2_attr_field *f = &s->fields[i];
        const char *pa = (const char *)a->attrs + f->offset, *pb = (const char *)b->attrs + f->offset;
        switch (f->kind) {
        case D2_FIELD_INT: case D2_FIELD_FLOAT:
            ck_assert_mem_eq(pa, pb, 8);
            break;
        case D2_FIELD_ENUM:
            ck_assert_mem_eq(pa, pb, sizeof(int32_t));
            break;
        case D2_FIELD_DTYPE:
            ck_assert_mem_eq(pa, pb, sizeof(enum d2_dtype));
            break;
        case D2_FIELD_INTS: case D2_FIELD_FLOATS: {
            const struct d2_ints *ia = (const void *)pa, *ib = (const void *)pb;
            ck_assert_uint_eq(ia->count, ib->count);
            if (ia->count)
                ck_assert_mem_eq(ia->data, ib->data, 8 * (size_t)ia->count);
            break;
        }
        case D2_FIELD_STRING: {
            const char *sa, *sb;
            memcpy(&sa, pa, sizeof sa);
            memcpy(&sb, pb, sizeof sb);
            ck_assert((sa == NULL) == (sb == NULL));
            if (sa)
                ck_assert_str_eq(sa, sb);
            break;
        }
        }
    }
}

static void assert_graphs_equal(const struct d2_graph *a, const struct d2_graph *b)
{
    ck_assert_uint_eq(a->num_values, b->num_values);
    ck_assert_uint_eq(a->num_nodes, b->num_nodes);
    ck_assert_uint_eq(a->num_constants, b->num_constants);
    ck_assert_uint_eq(a->num_inputs, b->num_inputs);
    ck_assert_uint_eq(a->num_outputs, b->num_outputs);
    ck_assert_uint_eq(a->num_metadata, b->num_metadata);
    ck_assert_uint_eq(a->next_auto_name, b->next_auto_name);
    for (uint32_t i = 0; i < a->num_values; i++) {
        const struct d2_value *va = &a->values[i], *vb = &b->values[i];
        ck_assert_str_eq(va->name, vb->name);
        ck_assert(d2_type_equal(&va->type, &vb->type));
        ck_assert_int_eq(va->producer, vb->producer);
        ck_assert_uint_eq(va->producer_output, vb->producer_output);
        ck_assert_int_eq(va->constant, vb->constant);
        ck_assert_int_eq(va->input_index, vb->input_index);
    }
    for (uint32_t i = 0; i < a->num_constants; i++) {
        const struct d2_tensor *ta = &a->constants[i], *tb = &b->constants[i];
        ck_assert_int_eq(ta->dtype, tb->dtype);
        ck_assert_int_eq(ta->rank, tb->rank);
        ck_assert_mem_eq(ta->dims, tb->dims, sizeof(int64_t) * (size_t)ta->rank);
        ck_assert_uint_eq(ta->nbytes, tb->nbytes);
        if (ta->nbytes)
            ck_assert_mem_eq(ta->data, tb->data, ta->nbytes);
    }
    for (uint32_t i = 0; i < a->num_inputs; i++)
        ck_assert_uint_eq(a->inputs[i], b->inputs[i]);
    for (uint32_t i = 0; i < a->num_outputs; i++)
        ck_assert_uint_eq(a->outputs[i], b->outputs[i]);
    for (uint32_t i = 0; i < a->num_metadata; i++) {
        ck_assert_str_eq(a->metadata[i].key, b->metadata[i].key);
        ck_assert_str_eq(a->metadata[i].value, b->metadata[i].value);
    }
    for (uint32_t i = 0; i < a->num_nodes; i++) {
        const struct d2_node *na = &a->nodes[i], *nb = &b->nodes[i];
        ck_assert_int_eq(na->op, nb->op);
        ck_assert_str_eq(na->name, nb->name);
        ck_assert_uint_eq(na->num_inputs, nb->num_inputs);
        ck_assert_uint_eq(na->num_outputs, nb->num_outputs);
        ck_assert_mem_eq(na->inputs, nb->inputs, 4 * (size_t)na->num_inputs);
        ck_assert_mem_eq(na->outputs, nb->outputs, 4 * (size_t)na->num_outputs);
        assert_attrs_equal(na, nb);
        ck_assert_uint_eq(na->num_regions, nb->num_regions);
        for (uint32_t r = 0; r < na->num_regions; r++) {
            ck_assert_ptr_eq(nb->regions[r]->parent, b);
            assert_graphs_equal(na->regions[r], nb->regions[r]);
        }
    }
}

/* Both checks: structure field by field, and the IR text print. */
static void assert_same_graph(const struct d2_graph *a, const struct d2_graph *b)
{
    struct d2_print_options opts = { -1 };
    struct d2_error err = { 0 };
    char *pa, *pb;
    assert_graphs_equal(a, b);
    pa = d2_print_graph(a, &opts, &err);
    ck_assert_msg(pa != NULL, "%s", err.message);
    pb = d2_print_graph(b, &opts, &err);
    ck_assert_msg(pb != NULL, "%s", err.message);
    ck_assert_str_eq(pa, pb);
    d2_free(a->alloc, pa);
    d2_free(b->alloc, pb);
}

/* Every constant of g and its regions borrows bytes inside [lo, hi). */
static void assert_borrowed(const struct d2_graph *g, const uint8_t *lo, const uint8_t *hi, bool aligned64)
{
    for (uint32_t i = 0; i < g->num_constants; i++) {
        const struct d2_tensor *t = &g->constants[i];
        ck_assert(!t->owns_data);
        ck_assert((const uint8_t *)t->data >= lo && (const uint8_t *)t->data + t->nbytes <= hi);
        if (aligned64)
            ck_assert_uint_eq((uintptr_t)t->data % 64, 0);
    }
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t r = 0; r < g->nodes[n].num_regions; r++)
            assert_borrowed(g->nodes[n].regions[r], lo, hi, aligned64);
}

/* Serialized rich graph in a 64-byte aligned buffer the caller frees with free(). */
static uint8_t *rich_artifact(size_t *size)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = build_rich_graph(NULL);
    void *data;
    uint8_t *copy;
    ck_assert_int_eq(d2_artifact_write_buffer(g, NULL, &data, size, &err), D2_OK);
    copy = aligned_alloc(64, (*size + 63) / 64 * 64);
    memcpy(copy, data, *size);
    free(data);
    d2_graph_free(g);
    return copy;
}

/* ---- round trips --------------------------------------------------------------------- */

START_TEST(round_trip_buffer)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = build_rich_graph(NULL), *loaded, *again;
    void *data, *data2;
    size_t size, size2;
    ck_assert_int_eq(d2_artifact_write_buffer(g, NULL, &data, &size, &err), D2_OK);
    ck_assert(d2_artifact_sniff(data, size));
    ck_assert_uint_eq((uintptr_t)data % 8, 0);
    loaded = d2_artifact_load_buffer(data, size, NULL, &err);
    ck_assert_msg(loaded != NULL, "%s", err.message);
    assert_same_graph(g, loaded);
    assert_borrowed(loaded, data, (uint8_t *)data + size, false);
    ck_assert_ptr_null(loaded->backing);
    /* Writing the loaded graph gives the same bytes: the encoding is deterministic. */
    ck_assert_int_eq(d2_artifact_write_buffer(loaded, NULL, &data2, &size2, &err), D2_OK);
    ck_assert_uint_eq(size, size2);
    ck_assert_mem_eq(data, data2, size);
    again = d2_artifact_load_buffer(data2, size2, NULL, &err);
    ck_assert_ptr_nonnull(again);
    assert_same_graph(g, again);
    d2_graph_free(again);
    d2_graph_free(loaded);
    d2_graph_free(g);
    free(data);
    free(data2);
}
END_TEST

START_TEST(round_trip_file_is_mapped_and_aligned)
{
    char path[] = "/tmp/d2rt_artifact_XXXXXX";
    struct d2_error err = { 0 };
    struct d2_graph *g = build_rich_graph(NULL), *loaded;
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(d2_artifact_write_file(g, path, &err), D2_OK);
    loaded = d2_artifact_load_file(path, NULL, &err);
    ck_assert_msg(loaded != NULL, "%s", err.message);
    unlink(path); /* the mapping stays valid */
    assert_same_graph(g, loaded);
    ck_assert_ptr_nonnull(loaded->backing);
    ck_assert_ptr_nonnull(loaded->backing_release);
    {
        /* all constants borrow the mapping, which holds the whole file (white box:
         * the backing starts with the mapping's address and size, runtime/artifact.c) */
        struct { void *addr; size_t size; } *m = loaded->backing;
        assert_borrowed(loaded, m->addr, (uint8_t *)m->addr + m->size, true);
    }
    d2_graph_free(loaded); /* unmaps; ASan/valgrind would flag a leak or double unmap */
    d2_graph_free(g);
}
END_TEST

START_TEST(round_trip_empty_graph)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = d2_graph_new(NULL, &err), *loaded;
    void *data;
    size_t size;
    ck_assert_int_eq(d2_artifact_write_buffer(g, NULL, &data, &size, &err), D2_OK);
    loaded = d2_artifact_load_buffer(data, size, NULL, &err);
    ck_assert_msg(loaded != NULL, "%s", err.message);
    assert_same_graph(g, loaded);
    d2_graph_free(loaded);
    d2_graph_free(g);
    free(data);
}
END_TEST

START_TEST(io_errors)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = d2_graph_new(NULL, &err);
    ck_assert_ptr_null(d2_artifact_load_file("/nonexistent/model.ir", NULL, &err));
    ck_assert_int_eq(err.code, D2_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/model.ir"));
    d2_error_clear(&err);
    ck_assert_int_eq(d2_artifact_write_file(g, "/nonexistent/dir/model.ir", &err), D2_ERR_IO);
    d2_error_clear(&err);
    ck_assert_ptr_null(d2_artifact_load_file("/dev/null", NULL, &err));
    ck_assert_int_ne(err.code, D2_OK);
    ck_assert(!d2_artifact_sniff("D2RTIR", 6));
    ck_assert(!d2_artifact_sniff("GARBAGE!", 8));
    d2_graph_free(g);
}
END_TEST

/* ---- corruption ---------------------------------------------------------------------- */

static void assert_rejected(const uint8_t *data, size_t size, enum d2_status code, const char *needle)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = d2_artifact_load_buffer(data, size, NULL, &err);
    if (g)
        d2_graph_free(g);
    ck_assert_msg(g == NULL, "accepted a bad artifact (expected: %s)", needle ? needle : "any error");
    ck_assert_msg(err.code == code, "code %s, message: %s", d2_status_name(err.code), err.message);
    ck_assert(err.message[0] != '\0');
    ck_assert_ptr_null(strchr(err.message, '\n'));
    if (needle)
        ck_assert_msg(strstr(err.message, needle) != NULL, "'%s' not in: %s", needle, err.message);
}

START_TEST(every_truncation_is_rejected)
{
    size_t size;
    uint8_t *data = rich_artifact(&size);
    uint8_t *copy = aligned_alloc(64, (size + 64) / 64 * 64 + 64);
    for (size_t len = 0; len < size; len++) {
        memcpy(copy, data, len);
        assert_rejected(copy, len, D2_ERR_PARSE, NULL);
    }
    /* and a byte too many */
    memcpy(copy, data, size);
    copy[size] = 0;
    assert_rejected(copy, size + 1, D2_ERR_PARSE, "unexpected bytes");
    assert_rejected(copy, 100, D2_ERR_PARSE, "truncated");
    free(copy);
    free(data);
}
END_TEST

START_TEST(every_bit_flip_is_detected)
{
    size_t size;
    uint8_t *data = rich_artifact(&size);
    ck_assert_uint_lt(size, 64 * 1024); /* keep the test fast */
    for (size_t i = 0; i < size; i++) {
        for (int bit = 0; bit < 8; bit++) {
            data[i] ^= (uint8_t)(1u << bit);
            assert_rejected(data, size, D2_ERR_PARSE, NULL);
            data[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(data);
}
END_TEST

/* Recompute the header checksum after patching a header field. */
static void reseal_header(uint8_t *data)
{
    uint64_t h = XXH64(data, 56, 0);
    memcpy(data + 56, &h, 8);
}

START_TEST(future_major_version_is_rejected_with_message)
{
    size_t size;
    uint8_t *data = rich_artifact(&size);
    data[8] = 2; /* major version, u16 LE at offset 8 */
    data[9] = 0;
    reseal_header(data);
    assert_rejected(data, size, D2_ERR_PARSE,
                    "model.ir format version 2.0 is newer than this d2rt (1.0); recompile the model or upgrade d2rt");
    /* checked before the checksum: a newer major version may lay the header out differently */
    data[56] ^= 0xFF;
    assert_rejected(data, size, D2_ERR_PARSE, "is newer than this d2rt");
    free(data);
}
END_TEST

START_TEST(newer_minor_version_loads)
{
    struct d2_error err = { 0 };
    size_t size;
    uint8_t *data = rich_artifact(&size);
    struct d2_graph *g;
    data[10] = 7; /* minor version 1.7: compatible additions only */
    reseal_header(data);
    g = d2_artifact_load_buffer(data, size, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    d2_graph_free(g);
    free(data);
}
END_TEST

START_TEST(bad_magic_and_header_fields)
{
    size_t size;
    uint8_t *data = rich_artifact(&size);
    data[0] = 'X';
    assert_rejected(data, size, D2_ERR_PARSE, "wrong magic");
    data[0] = 'D';
    data[12] = 1; /* a required flag this reader does not know */
    reseal_header(data);
    assert_rejected(data, size, D2_ERR_UNSUPPORTED, "flags");
    data[12] = 0;
    data[14] = 1; /* an optional hint flag: ignored */
    reseal_header(data);
    {
        struct d2_error err = { 0 };
        struct d2_graph *g = d2_artifact_load_buffer(data, size, NULL, &err);
        ck_assert_msg(g != NULL, "%s", err.message);
        d2_graph_free(g);
    }
    data[14] = 0;
    data[9] = 0;
    data[8] = 0; /* version 0 */
    reseal_header(data);
    assert_rejected(data, size, D2_ERR_PARSE, "version");
    data[8] = 1;
    data[24] = 200; /* section count */
    reseal_header(data);
    assert_rejected(data, size, D2_ERR_PARSE, "sections");
    free(data);
    assert_rejected((const uint8_t *)"", 0, D2_ERR_PARSE, "empty");
    assert_rejected((const uint8_t *)"D2RT", 4, D2_ERR_PARSE, "truncated");
}
END_TEST

/* ---- files assembled here, byte by byte, from docs/FORMAT.md ----------------------------- */

struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void b_put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_u8(struct buf *b, uint8_t v) { b_put(b, &v, 1); }
static void b_u32(struct buf *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(struct buf *b, uint64_t v) { b_put(b, &v, 8); }
static void b_pad(struct buf *b, size_t align)
{
    while (b->n % align)
        b_u8(b, 0);
}

/* String table of the hand-made model: id = index. */
enum { S_EMPTY, S_X, S_W, S_Y, S_C, S_OP, S_F0, S_ENUM, S_F1, S_K, S_V, S_LOOP, S_COUNT };

/* Knobs of the hand-made model; hand_defaults() gives a valid file. */
struct hand {
    uint16_t major, minor;
    uint32_t flags;
    const char *op, *field0, *enum_text, *field1;
    uint8_t field0_kind;
    uint32_t conv_input0;          /* a value id */
    int32_t x_rank;
    uint32_t x_dtype_code;
    uint64_t w_nbytes, w_offset;
    uint32_t w_value_constant;     /* constant index of value w */
    uint32_t conv_regions;
    uint32_t y_string;             /* string id of value y's name */
    uint32_t conv_output;
    bool extra_unknown_section;
    int loop_depth;                /* > 0: a chain of nested loop nodes after conv */
    int sibling_loops;             /* loop nodes (each with an empty region) after conv */
};

static struct hand hand_defaults(void)
{
    struct hand h = { 1, 0, 0, "conv", "auto_pad", "same_upper", "group", 6, 0, 4, 1, 24, 128, 0, 0, S_Y, 2, false, 0, 0 };
    return h;
}


static void hand_strings(const struct hand *h, struct buf *b)
{
    const char *s[S_COUNT] = { "", "x", "w", "y", "c", h->op, h->field0, h->enum_text, h->field1, "k", "v", "loop" };
    uint32_t end = 0;
    b_u32(b, S_COUNT);
    b_u32(b, 0);
    for (int i = 0; i < S_COUNT; i++) {
        end += (uint32_t)strlen(s[i]) + 1;
        b_u32(b, end);
    }
    for (int i = 0; i < S_COUNT; i++)
        b_put(b, s[i], strlen(s[i]) + 1);
}

static void hand_value(struct buf *b, uint32_t name, uint32_t dtype, int32_t rank, const int64_t *dims, uint32_t constant)
{
    b_u32(b, name);
    b_u32(b, dtype);
    b_u32(b, (uint32_t)rank);
    for (int32_t i = 0; i < rank; i++) {
        b_u64(b, (uint64_t)(dims ? dims[i % 4] : 1));
        b_u64(b, (uint64_t)-1);  /* no upper bound */
        b_u32(b, UINT32_MAX);    /* no symbol */
    }
    b_u32(b, constant);
}

/* An empty graph record holding one loop node nested `depth` levels further down. */
static void hand_loop_chain(struct buf *b, int depth)
{
    b_u32(b, 0); /* constants */
    b_u32(b, 0); /* values */
    b_u32(b, 0); /* next_auto_name */
    b_u32(b, 0); /* inputs */
    b_u32(b, depth > 0 ? 1 : 0);
    if (depth > 0) {
        b_u32(b, S_EMPTY); /* node name */
        b_u32(b, S_LOOP);
        b_u32(b, 0);       /* inputs */
        b_u32(b, 0);       /* outputs */
        b_u32(b, 0);       /* attribute fields: all defaults */
        b_u32(b, 1);       /* regions */
        hand_loop_chain(b, depth - 1);
    }
    b_u32(b, 0); /* outputs */
}

static void hand_graph(const struct hand *h, struct buf *b)
{
    b_u32(b, 1); /* constants: file tensor 0 */
    b_u32(b, 0);
    b_u32(b, 3); /* values x, w, y */
    hand_value(b, S_X, h->x_dtype_code, h->x_rank, (int64_t[]){ 1, 3, 4, 4 }, UINT32_MAX);
    hand_value(b, S_W, 1, 4, (int64_t[]){ 2, 3, 1, 1 }, h->w_value_constant);
    hand_value(b, h->y_string, 0, -1, NULL, UINT32_MAX);
    b_u32(b, 0); /* next_auto_name */
    b_u32(b, 1); /* inputs */
    b_u32(b, 0);
    b_u32(b, 1 + (h->loop_depth ? 1 : 0) + (uint32_t)h->sibling_loops); /* nodes */
    b_u32(b, S_C);
    b_u32(b, S_OP);
    b_u32(b, 3);
    b_u32(b, h->conv_input0);
    b_u32(b, 1);
    b_u32(b, UINT32_MAX); /* omitted bias */
    b_u32(b, 1);
    b_u32(b, h->conv_output);
    b_u32(b, 2); /* two fields, in the opposite order to attrs.def */
    b_u32(b, S_F0);
    b_u8(b, h->field0_kind);
    b_u32(b, S_ENUM);
    b_u32(b, S_F1);
    b_u8(b, 1);
    b_u64(b, 2);
    b_u32(b, h->conv_regions);
    for (uint32_t r = 0; r < h->conv_regions; r++)
        hand_loop_chain(b, 0);
    if (h->loop_depth) {
        b_u32(b, S_EMPTY);
        b_u32(b, S_LOOP);
        b_u32(b, 0);
        b_u32(b, 0);
        b_u32(b, 0);
        b_u32(b, 1);
        hand_loop_chain(b, h->loop_depth - 1);
    }
    for (int i = 0; i < h->sibling_loops; i++) {
        b_u32(b, S_EMPTY);
        b_u32(b, S_LOOP);
        b_u32(b, 0);
        b_u32(b, 0);
        b_u32(b, 0);
        b_u32(b, 1);
        hand_loop_chain(b, 0);
    }
    b_u32(b, 1); /* outputs */
    b_u32(b, 2);
}

static void hand_constants(const struct hand *h, struct buf *b)
{
    b_u32(b, 1);
    b_u32(b, 0);
    b_u32(b, 1); /* f32 */
    b_u32(b, 4);
    b_u64(b, 2); b_u64(b, 3); b_u64(b, 1); b_u64(b, 1);
    for (int i = 4; i < 8; i++)
        b_u64(b, 0);
    b_u64(b, h->w_offset);
    b_u64(b, h->w_nbytes);
    b_pad(b, 64); /* data at 128 */
    for (int i = 0; i < 6; i++) {
        float v = (float)i - 2.5f;
        b_put(b, &v, 4);
    }
}

/* The whole file, in a 64-byte aligned block (free()). */
static uint8_t *hand_file(const struct hand *h, size_t *size)
{
    struct buf sec[5] = { { 0 } }, file = { 0 };
    uint32_t kinds[5] = { 1, 4, 2, 3, 99 };
    int nsec = h->extra_unknown_section ? 5 : 4;
    uint64_t offsets[5], pos, sum;
    uint8_t header[64] = { 0 };
    struct buf table = { 0 };
    uint8_t *out;
    hand_strings(h, &sec[0]);
    b_u32(&sec[1], 1); /* metadata: k = v */
    b_u32(&sec[1], S_K);
    b_u32(&sec[1], S_V);
    hand_graph(h, &sec[2]);
    hand_constants(h, &sec[3]);
    b_put(&sec[4], "future", 6);
    pos = 64 + 32 * (uint64_t)nsec;
    for (int s = 0; s < nsec; s++) {
        pos = (pos + 63) / 64 * 64;
        offsets[s] = pos;
        pos += sec[s].n;
        b_u32(&table, kinds[s]);
        b_u32(&table, 0);
        b_u64(&table, offsets[s]);
        b_u64(&table, sec[s].n);
        b_u64(&table, XXH64(sec[s].p, sec[s].n, 0));
    }
    memcpy(header, "D2RTIR\0\x1a", 8);
    memcpy(header + 8, &h->major, 2);
    memcpy(header + 10, &h->minor, 2);
    memcpy(header + 12, &h->flags, 4);
    memcpy(header + 16, &pos, 8);
    memcpy(header + 24, &nsec, 4);
    sum = XXH64(table.p, table.n, 0);
    memcpy(header + 32, &sum, 8);
    sum = XXH64(header, 56, 0);
    memcpy(header + 56, &sum, 8);
    b_put(&file, header, 64);
    b_put(&file, table.p, table.n);
    for (int s = 0; s < nsec; s++) {
        b_pad(&file, 64);
        b_put(&file, sec[s].p, sec[s].n);
    }
    for (int s = 0; s < 5; s++)
        free(sec[s].p);
    free(table.p);
    *size = file.n;
    out = aligned_alloc(64, (file.n + 63) / 64 * 64);
    memcpy(out, file.p, file.n);
    free(file.p);
    return out;
}

static void hand_rejected(const struct hand *h, enum d2_status code, const char *needle)
{
    size_t size;
    uint8_t *data = hand_file(h, &size);
    assert_rejected(data, size, code, needle);
    free(data);
}

START_TEST(hand_made_file_loads_by_name_with_defaults)
{
    struct hand h = hand_defaults();
    struct d2_error err = { 0 };
    size_t size;
    uint8_t *data;
    struct d2_graph *g;
    const struct d2_attrs_conv *a;
    h.extra_unknown_section = true; /* an unknown section kind is skipped */
    h.minor = 3;
    data = hand_file(&h, &size);
    g = d2_artifact_load_buffer(data, size, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    ck_assert_uint_eq(g->num_nodes, 1);
    ck_assert_int_eq(g->nodes[0].op, D2_OP_CONV);
    ck_assert_uint_eq(g->nodes[0].inputs[2], D2_NO_VALUE);
    a = g->nodes[0].attrs;
    ck_assert_int_eq(a->auto_pad, D2_AUTO_PAD_SAME_UPPER);
    ck_assert_int_eq(a->group, 2);
    ck_assert_uint_eq(a->strides.count, 0); /* absent from the file: default */
    ck_assert_uint_eq(a->kernel_shape.count, 0);
    ck_assert_int_eq(g->values[2].producer, 0);
    ck_assert_int_eq(g->values[0].input_index, 0);
    ck_assert_int_eq(g->values[1].constant, 0);
    ck_assert_str_eq(g->values[2].name, "y");
    ck_assert_int_eq(g->values[2].type.rank, D2_RANK_UNKNOWN);
    ck_assert_int_eq(g->constants[0].dtype, D2_DTYPE_F32);
    /* borrowed from the buffer, at a 64-byte aligned file offset */
    ck_assert(!g->constants[0].owns_data);
    ck_assert((uint8_t *)g->constants[0].data > data && (uint8_t *)g->constants[0].data + 24 <= data + size);
    ck_assert_uint_eq(((uintptr_t)g->constants[0].data - (uintptr_t)data) % 64, 0);
    ck_assert(((float *)g->constants[0].data)[5] == 2.5f);
    ck_assert_str_eq(d2_graph_get_metadata(g, "k"), "v");
    d2_graph_free(g);
    free(data);
}
END_TEST

START_TEST(hand_made_errors)
{
    struct hand h;
    h = hand_defaults(); h.op = "frobnicate";
    hand_rejected(&h, D2_ERR_UNSUPPORTED, "unknown op 'frobnicate'");
    h = hand_defaults(); h.field1 = "gruop";
    hand_rejected(&h, D2_ERR_UNSUPPORTED, "unknown attribute 'gruop'");
    h = hand_defaults(); h.enum_text = "same_middle";
    hand_rejected(&h, D2_ERR_UNSUPPORTED, "unknown value 'same_middle'");
    h = hand_defaults(); h.field0_kind = 1;
    hand_rejected(&h, D2_ERR_PARSE, "kind");
    h = hand_defaults(); h.conv_input0 = 3;
    hand_rejected(&h, D2_ERR_PARSE, "refers to value 3 of 3");
    h = hand_defaults(); h.conv_output = 0;
    hand_rejected(&h, D2_ERR_PARSE, "already defined");
    h = hand_defaults(); h.conv_output = 1; /* w is a constant */
    hand_rejected(&h, D2_ERR_PARSE, "already defined");
    h = hand_defaults(); h.x_rank = 9;
    hand_rejected(&h, D2_ERR_PARSE, "rank 9");
    h = hand_defaults(); h.x_rank = -2;
    hand_rejected(&h, D2_ERR_PARSE, "rank -2");
    h = hand_defaults(); h.x_dtype_code = 14;
    hand_rejected(&h, D2_ERR_PARSE, "dtype code 14");
    h = hand_defaults(); h.w_nbytes = 20;
    hand_rejected(&h, D2_ERR_PARSE, "do not match");
    h = hand_defaults(); h.w_offset = 96; /* inside the descriptor table and not 64-aligned */
    hand_rejected(&h, D2_ERR_PARSE, "misaligned");
    h = hand_defaults(); h.w_offset = 192; /* past the section end */
    hand_rejected(&h, D2_ERR_PARSE, "outside");
    h = hand_defaults(); h.w_value_constant = 1;
    hand_rejected(&h, D2_ERR_PARSE, "constant 1 of 1");
    h = hand_defaults(); h.conv_regions = 1;
    hand_rejected(&h, D2_ERR_PARSE, "regions");
    h = hand_defaults(); h.y_string = 12;
    hand_rejected(&h, D2_ERR_PARSE, "string 12 of 12");
    h = hand_defaults(); h.major = 3;
    hand_rejected(&h, D2_ERR_PARSE, "model.ir format version 3.0 is newer than this d2rt");
    h = hand_defaults(); h.flags = 0x8000;
    hand_rejected(&h, D2_ERR_UNSUPPORTED, "flags");
}
END_TEST

START_TEST(region_nesting_is_bounded)
{
    struct hand h = hand_defaults();
    struct d2_error err = { 0 };
    size_t size;
    uint8_t *data;
    struct d2_graph *g, *deep;
    h.loop_depth = 64; /* regions at depths 1..64: the limit */
    data = hand_file(&h, &size);
    g = d2_artifact_load_buffer(data, size, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    d2_graph_free(g);
    free(data);
    h.loop_depth = 65;
    hand_rejected(&h, D2_ERR_PARSE, "nest deeper");
    h.loop_depth = 0;
    h.sibling_loops = 4095; /* 4096 graphs with the top level: the limit */
    data = hand_file(&h, &size);
    g = d2_artifact_load_buffer(data, size, NULL, &err);
    ck_assert_msg(g != NULL, "%s", err.message);
    d2_graph_free(g);
    free(data);
    h.sibling_loops = 4096;
    hand_rejected(&h, D2_ERR_PARSE, "more than 4096 graphs");

    /* the writer refuses to produce what the reader would refuse */
    g = d2_graph_new(NULL, &err);
    deep = g;
    for (int i = 0; i < 65; i++) {
        int32_t n = d2_graph_add_node(deep, D2_OP_LOOP, "l", 0, NULL, 0, NULL, &err);
        deep = deep->nodes[n].regions[0];
    }
    {
        void *out;
        size_t out_size;
        ck_assert_int_eq(d2_artifact_write_buffer(g, NULL, &out, &out_size, &err), D2_ERR_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(err.message, "nest deeper"));
    }
    d2_graph_free(g);
}
END_TEST

START_TEST(misaligned_buffer_is_refused)
{
    size_t size;
    uint8_t *data = rich_artifact(&size);
    uint8_t *block = aligned_alloc(64, (size + 64) / 64 * 64 + 64);
    memcpy(block + 1, data, size);
    assert_rejected(block + 1, size, D2_ERR_INVALID_ARG, "aligned");
    free(block);
    free(data);
}
END_TEST

static void assert_write_refused(const struct d2_graph *g, const char *needle)
{
    struct d2_error err = { 0 };
    void *out = NULL;
    size_t size;
    ck_assert_int_eq(d2_artifact_write_buffer(g, NULL, &out, &size, &err), D2_ERR_INVALID_ARG);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err.message, needle) != NULL, "'%s' not in: %s", needle, err.message);
}

START_TEST(writer_rejects_what_it_cannot_store)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = d2_graph_new(NULL, &err);
    int32_t n = d2_graph_add_node(g, D2_OP_CONV, "c", 0, NULL, 1, NULL, &err);
    struct d2_attrs_conv *a = d2_node_attrs(g, n);
    d2_value_id v;
    a->auto_pad = 42;
    assert_write_refused(g, "auto_pad");
    a->auto_pad = D2_AUTO_PAD_VALID;
    g->values[0].type.rank = 9;
    assert_write_refused(g, "rank 9");
    g->values[0].type.rank = D2_RANK_UNKNOWN;
    v = add_const(g, "k", D2_DTYPE_I32, 1, (int64_t[]){ 4 }, 1);
    g->constants[g->values[v].constant].nbytes = 12; /* does not match dims */
    assert_write_refused(g, "do not match");
    g->constants[g->values[v].constant].nbytes = 16;
    n = d2_graph_add_node(g, D2_OP_IF, "if", 0, NULL, 0, NULL, &err);
    ck_assert_int_eq(d2_graph_set_metadata(g->nodes[n].regions[1], "k", "v", &err), D2_OK);
    assert_write_refused(g, "metadata on a region");
    d2_graph_free(g);
}
END_TEST

/* ---- allocation failure ------------------------------------------------------------------ */

START_TEST(write_nomem_at_every_allocation)
{
    struct d2_graph *g = build_rich_graph(NULL);
    bool succeeded = false;
    for (long n = 1; n < 10000 && !succeeded; n++) {
        struct test_alloc ta = { 0, n, 0 };
        struct d2_allocator a = { test_realloc, &ta };
        struct d2_error err = { 0 };
        void *data = NULL;
        size_t size;
        enum d2_status st = d2_artifact_write_buffer(g, &a, &data, &size, &err);
        if (st == D2_OK) {
            succeeded = true;
            d2_free(&a, data);
        } else {
            ck_assert_msg(st == D2_ERR_NOMEM, "allocation %ld: %s", n, err.message);
            ck_assert_ptr_null(data);
        }
        ck_assert_int_eq(ta.live, 0);
    }
    ck_assert(succeeded);
    d2_graph_free(g);
}
END_TEST

START_TEST(load_nomem_at_every_allocation)
{
    size_t size;
    uint8_t *data = rich_artifact(&size);
    char path[] = "/tmp/d2rt_artifact_XXXXXX";
    int fd = mkstemp(path);
    bool succeeded = false;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, size), (ssize_t)size);
    close(fd);
    for (int from_file = 0; from_file < 2; from_file++) {
        succeeded = false;
        for (long n = 1; n < 100000 && !succeeded; n++) {
            struct test_alloc ta = { 0, n, 0 };
            struct d2_allocator a = { test_realloc, &ta };
            struct d2_error err = { 0 };
            struct d2_graph *g = from_file ? d2_artifact_load_file(path, &a, &err)
                                           : d2_artifact_load_buffer(data, size, &a, &err);
            if (g) {
                succeeded = true;
                d2_graph_free(g);
            } else {
                ck_assert_msg(err.code == D2_ERR_NOMEM, "allocation %ld: %s", n, err.message);
            }
            ck_assert_int_eq(ta.live, 0);
        }
        ck_assert(succeeded);
    }
    unlink(path);
    free(data);
}
END_TEST

static Suite *artifact_suite(void)
{
    Suite *s = suite_create("artifact");
    TCase *tc = tcase_create("artifact");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip_buffer);
    tcase_add_test(tc, round_trip_file_is_mapped_and_aligned);
    tcase_add_test(tc, round_trip_empty_graph);
    tcase_add_test(tc, io_errors);
    tcase_add_test(tc, every_truncation_is_rejected);
    tcase_add_test(tc, every_bit_flip_is_detected);
    tcase_add_test(tc, future_major_version_is_rejected_with_message);
    tcase_add_test(tc, newer_minor_version_loads);
    tcase_add_test(tc, bad_magic_and_header_fields);
    tcase_add_test(tc, hand_made_file_loads_by_name_with_defaults);
    tcase_add_test(tc, hand_made_errors);
    tcase_add_test(tc, region_nesting_is_bounded);
    tcase_add_test(tc, misaligned_buffer_is_refused);
    tcase_add_test(tc, writer_rejects_what_it_cannot_store);
    tcase_add_test(tc, write_nomem_at_every_allocation);
    tcase_add_test(tc, load_nomem_at_every_allocation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(artifact_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
