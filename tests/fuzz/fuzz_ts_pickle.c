/* tests/fuzz/fuzz_ts_pickle.c: libFuzzer target for the pickle VM (frontend/torchscript/
 * ts_pickle.c, ts_pickle_torch.c).
 *
 * Each input is run as a pickle program whose persistent ids resolve to a fixed
 * 64-byte storage (key "0") or fail. It may fail, but only with a status and a message;
 * a parsed tree is walked (bounded in depth and node visits: trees may share nodes or
 * hold cycles), which touches every tensor byte.
 *
 * Build and run (clang with libFuzzer; not part of `make test`):
 *   clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -I. -Iinclude -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/fuzz_ts_pickle.c frontend/torchscript/ts_pickle.c \
 *     frontend/torchscript/ts_pickle_torch.c frontend/torchscript/ts_value.c \
 *     ir/error.c ir/alloc.c ir/dtype.c ir/tensor.c -lm -o fuzz_ts_pickle
 * Seed the corpus with the data.pkl and constants.pkl entries of the .pt files in
 * tests/data/torchscript
 * (unzip them), then
 *   ./fuzz_ts_pickle -max_total_time=60 -rss_limit_mb=2048 corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/torchscript/ts_archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t storage[64] __attribute__((aligned(16)));

static enum d2_status load(void *user, const char *key, const uint8_t **out, size_t *out_size,
                           struct d2_error *err)
{
    (void)user;
    if (strcmp(key, "0") != 0)
        return d2_errorf(err, D2_ERR_PARSE, "no storage '%s'", key);
    *out = storage;
    *out_size = sizeof storage;
    return D2_OK;
}

/* Shared nodes make the tree a DAG that can be exponentially larger than the
 * input ((x,x), ((x,x),(x,x)), ...): bound the number of nodes visited too. */
static uint32_t visits_left;

static uint64_t walk(const struct ts_value *v, int depth)
{
    if (!v || depth > TS_PICKLE_MAX_DEPTH || visits_left == 0)
        return 0;
    visits_left--;
    uint64_t h = (uint64_t)v->kind;
    switch (v->kind) {
    case TS_TUPLE: case TS_LIST: case TS_SET:
        for (uint32_t i = 0; i < v->u.seq.count && i < 64; i++)
            h += walk(v->u.seq.items[i], depth + 1);
        break;
    case TS_DICT:
        for (uint32_t i = 0; i < v->u.dict.count && i < 64; i++)
            h += walk(v->u.dict.keys[i], depth + 1) + walk(v->u.dict.values[i], depth + 1);
        break;
    case TS_OBJECT:
        h += strlen(v->u.object.class_name) + walk(v->u.object.args, depth + 1) + walk(v->u.object.state, depth + 1);
        break;
    case TS_TENSOR:
        for (size_t i = 0; i < v->u.tensor.tensor.nbytes; i++)
            h += ((const uint8_t *)v->u.tensor.tensor.data)[i];
        break;
    case TS_STRING: case TS_BYTES:
        h += v->u.str.len + (uint8_t)v->u.str.data[v->u.str.len]; /* the NUL terminator */
        break;
    default:
        break;
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct d2_arena arena;
    struct d2_error err = { D2_OK, "" };
    struct ts_pickle_options opts = { load, NULL, 1u << 20 };
    struct ts_value *root = NULL;
    d2_arena_init(&arena, d2_allocator_default());
    enum d2_status st = ts_pickle_parse(data, size, "fuzz.pkl", &opts, &arena, &root, &err);
    if (st == D2_OK) {
        visits_left = 100000;
        volatile uint64_t h = walk(root, 0);
        (void)h;
    } else if (!err.message[0]) {
        abort(); /* a failure must say why */
    }
    d2_arena_deinit(&arena);
    return 0;
}
