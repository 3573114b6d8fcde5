/* tests/fuzz/fuzz_ts_parse.c: libFuzzer target for the TorchScript source parser.
 *
 * Build and run (not part of `make test`):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_ts_parse.c \
 *       frontend/torchscript/ts_lex.c frontend/torchscript/ts_parse.c frontend/torchscript/ts_parse_expr.c \
 *       ir/alloc.c ir/error.c \
 *       -lm -o fuzz_ts_parse
 *   mkdir -p corpus && for f in $(unzip -Z1 ../shared/fixtures/detectron2/mask_rcnn/\
 *       scripting_torchscript/model.ts | grep '\.py$' | head -50); do unzip -p \
 *       ../shared/fixtures/detectron2/mask_rcnn/scripting_torchscript/model.ts "$f" \
 *       > corpus/$(echo "$f" | tr / _); done
 *   ./fuzz_ts_parse -max_total_time=60 corpus
 * Property: parsing never crashes, never reads outside the input, frees everything
 * with its arena; a failure returns D2_ERR_PARSE with a one-line message that starts
 * with the file name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/torchscript/ts_ast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct d2_arena arena;
    struct d2_error err = { D2_OK, "" };
    struct ts_module_ast *m = NULL;
    enum d2_status st;
    d2_arena_init(&arena, d2_allocator_default());
    st = ts_parse_module((const char *)data, size, "fuzz.py", &arena, &m, &err);
    if (st != D2_OK) {
        if (st != D2_ERR_PARSE && st != D2_ERR_NOMEM)
            abort();
        if (strncmp(err.message, "fuzz.py", 7) != 0 || strchr(err.message, '\n'))
            abort(); /* a failure must say where, on one line */
    } else if (!m) {
        abort();
    }
    d2_arena_deinit(&arena);
    return 0;
}
