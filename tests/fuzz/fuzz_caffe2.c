/* tests/fuzz/fuzz_caffe2.c: libFuzzer target for the Caffe2 NetDef importer.
 *
 * Each input is split at its first byte: the first (data[0] * size / 256) bytes of the
 * rest are the predict_net, the remainder the init_net (so both nets and their
 * interaction are fuzzed). Import may fail, but only with a status and a message; an
 * imported graph is printed (walks every value, node and constant) and verified.
 *
 * Build and run (clang with libFuzzer; not part of `make test`). After `make` (which
 * generates build/gen/frontend/{caffe2/caffe2,onnx/onnx}.pb-c.c), compile this file
 * with those generated files and every .c of frontend/caffe2/, frontend/onnx/, ir/,
 * frontend/detect.c and runtime/artifact{,_read,_write}.c, using
 *   clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -I. -Ibuild/gen -fsanitize=fuzzer,address,undefined
 * and link with -lprotobuf-c -lxxhash -lm. Seed the corpus with the .pb files of
 * ../shared/fixtures/caffe2-real (each prefixed by one byte, e.g. 0xff) and the
 * detectron2-caffe2 faster_rcnn model.pb, then run
 *   ./fuzz_caffe2 -max_total_time=60 -rss_limit_mb=2048 corpus
 */
#include <stdint.h>
#include <stdlib.h>

#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t rest = size - 1;
    size_t predict_size = (size_t)data[0] * rest / 256;
    if (data[0] == 0xff)
        predict_size = rest; /* seeds: the whole file is the predict net, no init net */
    const uint8_t *predict = data + 1, *init = data + 1 + predict_size;
    size_t init_size = rest - predict_size;
    struct d2_error err = {0};
    struct d2_graph *g = d2_caffe2_import_buffers(predict, predict_size, init_size ? init : NULL, init_size, NULL, &err);
    if (g) {
        char *text = d2_print_graph(g, NULL, &err);
        d2_free(g->alloc, text);
        struct d2_error verr = {0};
        if (d2_verify_graph(g, &verr) != D2_OK)
            abort(); /* an imported graph must be well formed */
        d2_graph_free(g);
    } else if (err.code == D2_OK || !err.message[0]) {
        abort(); /* a failure must say why */
    }
    return 0;
}
