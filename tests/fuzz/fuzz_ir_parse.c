/* tests/fuzz/fuzz_ir_parse.c: libFuzzer target for the IR text parser.
 *
 * Build and run (not part of `make test`):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_ir_parse.c \
 *       ir/alloc.c ir/attrs.c ir/dtype.c ir/error.c ir/graph.c ir/ops.c ir/tensor.c \
 *       ir/shape.c ir/shape_util.c ir/print.c ir/parse.c ir/verify.c -lm -o fuzz_ir_parse
 *   ./fuzz_ir_parse -max_total_time=60 tests/passes
 * Property: parsing never crashes or leaks; whatever parses prints, and the printed
 * text parses back and prints identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct d2_error err = { D2_OK, "" };
    struct d2_graph *g = d2_parse_graph((const char *)data, size, NULL, &err), *again;
    char *first, *second;
    if (!g) {
        if (err.code == D2_OK || err.message[0] == '\0')
            abort(); /* a failure must say why */
        return 0;
    }
    first = d2_print_graph(g, NULL, &err);
    if (!first)
        abort();
    again = d2_parse_graph(first, strlen(first), NULL, &err);
    if (!again)
        abort(); /* printed text must parse */
    second = d2_print_graph(again, NULL, &err);
    if (!second || strcmp(first, second) != 0)
        abort(); /* and print identically */
    d2_free(d2_allocator_default(), first);
    d2_free(d2_allocator_default(), second);
    d2_graph_free(again);
    d2_graph_free(g);
    return 0;
}
