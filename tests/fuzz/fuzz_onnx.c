/* tests/fuzz/fuzz_onnx.c: libFuzzer target for the ONNX importer and TensorProto decoder.
 *
 * Each input is imported as a ModelProto (from memory, no external-data directory) and
 * decoded as a TensorProto. Either may fail, but only with a status and a message;
 * an imported graph is printed, which walks every value, node, region and constant.
 *
 * Build and run (clang with libFuzzer; not part of `make test`). After `make` (which
 * generates build/gen/frontend/onnx/onnx.pb-c.c), compile this file together with
 * that generated file, every .c of frontend/onnx/ and ir/, frontend/detect.c and
 * runtime/artifact{,_read,_write}.c, using
 *   clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -I. -Ibuild/gen -fsanitize=fuzzer,address,undefined
 * and link with -lprotobuf-c -lxxhash -lm. Seed the corpus with tests/data/onnx's
 * models and a few node tests (model.onnx and input_0.pb files), then run
 *   ./fuzz_onnx -max_total_time=60 -rss_limit_mb=2048 corpus
 */
#include <stdint.h>
#include <stdlib.h>

#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct d2_error err = {0};
    struct d2_graph *g = d2_onnx_import_buffer(data, size, NULL, NULL, &err);
    if (g) {
        char *text = d2_print_graph(g, NULL, &err);
        d2_free(g->alloc, text);
        d2_graph_free(g);
    } else if (err.code == D2_OK || !err.message[0]) {
        abort(); /* a failure must say why */
    }
    struct d2_tensor t;
    char *name = NULL;
    struct d2_error terr = {0};
    if (d2_onnx_parse_tensor(data, size, NULL, &t, &name, &terr) == D2_OK) {
        d2_tensor_release(&t, d2_allocator_default());
        d2_free(d2_allocator_default(), name);
    } else if (!terr.message[0]) {
        abort();
    }
    (void)d2_detect_format(data, size);
    return 0;
}
