/* tests/fuzz/fuzz_artifact.c: libFuzzer target for the model.ir loader.
 *
 * Each input is loaded twice: as is (exercising magic, version, size and checksum
 * checks) and after "resealing" it (recomputing every checksum and the file size, so
 * that mutations reach the section parsers instead of dying at a checksum). Whenever
 * a load succeeds, the graph must serialize again, and load(write(g)) must write the
 * same bytes (the format round-trips whatever the loader accepts).
 *
 * Build and run (clang with libFuzzer):
 *   clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -I. -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/fuzz_artifact.c ir/alloc.c ir/attrs.c ir/dtype.c ir/error.c ir/graph.c \
 *     ir/ops.c ir/tensor.c runtime/artifact.c runtime/artifact_read.c \
 *     runtime/artifact_write.c -lxxhash -o fuzz_artifact
 *   ./fuzz_artifact -max_total_time=60 -rss_limit_mb=2048 CORPUS_DIR
 * Seeds: build the same sources with -DD2_FUZZ_MAKE_SEEDS and without
 * -fsanitize=fuzzer, then run `./make_seeds CORPUS_DIR`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ir/ir.h"
#include "runtime/artifact.h"
#include "runtime/artifact_internal.h"

#ifndef D2_FUZZ_MAKE_SEEDS

/* Recompute the file size, every in-bounds section checksum, the table checksum and
 * the header checksum, so the loader's structural checks see the mutated bytes. */
static void reseal(uint8_t *data, size_t size)
{
    uint32_t count;
    uint64_t sum, file_size = size;
    if (size < D2_AF_HEADER_SIZE || memcmp(data, D2_AF_MAGIC, D2_AF_MAGIC_SIZE) != 0)
        return;
    count = d2_af_get_u32(data + D2_AF_OFF_SECTION_COUNT);
    d2_af_put_u64(data + D2_AF_OFF_FILE_SIZE, file_size);
    if (count <= D2_AF_MAX_SECTIONS && D2_AF_HEADER_SIZE + (uint64_t)count * D2_AF_SECTION_ENTRY_SIZE <= size) {
        for (uint32_t s = 0; s < count; s++) {
            uint8_t *e = data + D2_AF_HEADER_SIZE + (size_t)s * D2_AF_SECTION_ENTRY_SIZE;
            uint64_t offset = d2_af_get_u64(e + 8), n = d2_af_get_u64(e + 16);
            if (offset <= size && n <= size - offset)
                d2_af_put_u64(e + 24, XXH64(data + offset, (size_t)n, 0));
        }
        sum = XXH64(data + D2_AF_HEADER_SIZE, (size_t)count * D2_AF_SECTION_ENTRY_SIZE, 0);
        d2_af_put_u64(data + D2_AF_OFF_TABLE_CHECKSUM, sum);
    }
    sum = XXH64(data, D2_AF_OFF_HEADER_CHECKSUM, 0);
    d2_af_put_u64(data + D2_AF_OFF_HEADER_CHECKSUM, sum);
}

/* A broken invariant: say which, then crash so the fuzzer keeps the input. */
static void fail(const char *what, const struct d2_error *err)
{
    fprintf(stderr, "fuzz_artifact: %s: %s\n", what, err->message);
    abort();
}

static void check_load(const uint8_t *data, size_t size)
{
    struct d2_error err = { 0 };
    struct d2_graph *g = d2_artifact_load_buffer(data, size, NULL, &err), *again;
    void *out1, *out2;
    size_t size1, size2;
    if (!g) {
        /* A rejected input must say why, in one line. */
        if (err.code == D2_OK || err.message[0] == '\0' || strchr(err.message, '\n'))
            fail("rejected without a one-line message", &err);
        return;
    }
    if (d2_artifact_write_buffer(g, NULL, &out1, &size1, &err) != D2_OK)
        fail("the writer must accept whatever the loader accepts", &err);
    again = d2_artifact_load_buffer(out1, size1, NULL, &err);
    if (!again)
        fail("reloading a written graph failed", &err);
    if (d2_artifact_write_buffer(again, NULL, &out2, &size2, &err) != D2_OK)
        fail("rewriting a reloaded graph failed", &err);
    if (size1 != size2 || memcmp(out1, out2, size1) != 0)
        fail("write(load(write(g))) differs from write(g)", &err);
    d2_graph_free(again);
    d2_graph_free(g);
    free(out1);
    free(out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The loader borrows constant data in place, so hand it an aligned copy (as a
     * mapping would be); a misaligned buffer is a caller error it reports. */
    uint8_t *copy = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    check_load(copy, size);
    reseal(copy, size);
    check_load(copy, size);
    free(copy);
    return 0;
}

#else /* a tiny seed-corpus generator */

static void save(const struct d2_graph *g, const char *dir, const char *name)
{
    char path[4096];
    struct d2_error err = { 0 };
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (d2_artifact_write_file(g, path, &err) != D2_OK) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct d2_error err = { 0 };
    struct d2_graph *g;
    struct d2_type t;
    struct d2_tensor w;
    d2_value_id x, wv, c;
    int32_t n;
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    g = d2_graph_new(NULL, &err);
    save(g, argv[1], "empty.ir");

    d2_graph_set_metadata(g, "export_method", "onnx", &err);
    d2_type_init(&t, D2_DTYPE_F32, 4, (int64_t[]){ -1, 3, 8, 8 });
    t.symbols[0] = "batch";
    x = d2_graph_add_input(g, "x", &t, &err);
    d2_tensor_alloc(&w, NULL, D2_DTYPE_F32, 4, (int64_t[]){ 2, 3, 1, 1 }, &err);
    wv = d2_graph_add_constant(g, "w", &w, &err);
    n = d2_graph_add_node(g, D2_OP_CONV, "conv", 2, (d2_value_id[]){ x, wv }, 1, NULL, &err);
    d2_graph_set_ints(g, &((struct d2_attrs_conv *)d2_node_attrs(g, n))->strides, (int64_t[]){ 2, 2 }, 2, &err);
    n = d2_graph_add_node(g, D2_OP_RESIZE, "resize", 1, (d2_value_id[]){ d2_node_output(g, n, 0) }, 1, NULL, &err);
    ((struct d2_attrs_resize *)d2_node_attrs(g, n))->mode = D2_RESIZE_MODE_LINEAR;
    d2_graph_add_output(g, d2_node_output(g, n, 0), &err);
    save(g, argv[1], "conv.ir");

    d2_type_init(&t, D2_DTYPE_BOOL, 0, NULL);
    c = d2_graph_add_input(g, "c", &t, &err);
    n = d2_graph_add_node(g, D2_OP_IF, "if", 2, (d2_value_id[]){ c, x }, 1, NULL, &err);
    {
        struct d2_graph *then_g = g->nodes[n].regions[0], *else_g = g->nodes[n].regions[1];
        d2_value_id a = d2_graph_add_input(then_g, "a", NULL, &err);
        int32_t m = d2_graph_add_node(then_g, D2_OP_CAST, "cast", 1, &a, 1, NULL, &err);
        ((struct d2_attrs_cast *)d2_node_attrs(then_g, m))->to = D2_DTYPE_F16;
        d2_graph_add_output(then_g, d2_node_output(then_g, m, 0), &err);
        d2_graph_add_output(else_g, d2_graph_add_input(else_g, "b", NULL, &err), &err);
    }
    d2_graph_add_output(g, d2_node_output(g, n, 0), &err);
    save(g, argv[1], "if.ir");
    d2_graph_free(g);
    if (err.code != D2_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    return 0;
}

#endif
