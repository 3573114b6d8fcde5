/* tests/fuzz/fuzz_ts_zip.c: libFuzzer target for the zip reader and the archive on top
 * (frontend/torchscript/ts_zip.c, ts_archive.c, ts_module.c, and through them the
 * pickle VM).
 *
 * Each input is opened as a zip (every entry read and CRC-checked) and as a TorchScript
 * archive (data.pkl, constants.pkl, the module tree, a source file). Any step may fail,
 * but only with a status and a message.
 *
 * Build and run (clang with libFuzzer; not part of `make test`):
 *   clang -g -O1 -std=c11 -D_DEFAULT_SOURCE -I. -Iinclude -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/fuzz_ts_zip.c frontend/torchscript/ts_zip.c frontend/torchscript/ts_pickle.c \
 *     frontend/torchscript/ts_pickle_torch.c frontend/torchscript/ts_value.c \
 *     frontend/torchscript/ts_archive.c frontend/torchscript/ts_module.c \
 *     ir/error.c ir/alloc.c ir/dtype.c ir/tensor.c -lz -lm -o fuzz_ts_zip
 * Seed the corpus with the .pt and .zip files of tests/data/torchscript, then
 *   ./fuzz_ts_zip -max_total_time=60 -rss_limit_mb=2048 corpus
 */
#include <stdint.h>
#include <stdlib.h>

#include "frontend/torchscript/ts_archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_say_why(enum d2_status st, const struct d2_error *err)
{
    if (st != D2_OK && !err->message[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct d2_error err = { D2_OK, "" };
    struct ts_zip zip;
    enum d2_status st = ts_zip_open(&zip, data, size, NULL, &err);
    must_say_why(st, &err);
    if (st == D2_OK) {
        for (uint32_t i = 0; i < zip.num_entries; i++) {
            const uint8_t *bytes;
            size_t n;
            bool owned;
            struct d2_error e = { D2_OK, "" };
            st = ts_zip_read(&zip, i, &bytes, &n, &owned, &e);
            must_say_why(st, &e);
            if (st == D2_OK && owned)
                d2_free(d2_allocator_default(), (void *)(uintptr_t)bytes);
        }
        ts_zip_close(&zip);
    }

    struct d2_error aerr = { D2_OK, "" };
    struct ts_archive *a = ts_archive_open_buffer(data, size, NULL, &aerr);
    if (!a) {
        must_say_why(D2_ERR_PARSE, &aerr);
        return 0;
    }
    const struct ts_value *v;
    const struct ts_module *m;
    const char *text;
    size_t len;
    struct d2_error e1 = { D2_OK, "" }, e2 = { D2_OK, "" }, e3 = { D2_OK, "" }, e4 = { D2_OK, "" };
    must_say_why(ts_archive_data(a, &v, &e1), &e1);
    must_say_why(ts_archive_constants(a, &v, &e2), &e2);
    must_say_why(ts_archive_module(a, &m, &e3), &e3);
    st = ts_archive_source(a, "__torch__", &text, &len, NULL, &e4);
    must_say_why(st, &e4);
    for (uint32_t i = 0; i < ts_archive_num_entries(a); i++)
        (void)ts_archive_entry_name(a, i);
    ts_archive_close(a);
    return 0;
}
