/* tests/tools/split_detections.c: split a batched `d2rt run --out` result into one
 * directory per image, so that each image's detections can be compared on their own.
 *
 *   split_detections IN_DIR SPLITS_K NUM_OUTPUTS DEST_PREFIX
 *
 * IN_DIR/out<SPLITS_K>.npy holds the detections per image (Caffe2's batch_splits, f32
 * or integer [N]); every other IN_DIR/out<k>.npy, k < NUM_OUTPUTS, is per-detection
 * (leading dim = the sum of the splits) and is cut into its runs of rows: image i gets
 * DEST_PREFIX<i>/out<k>.npy (the directory must exist), with the same k, dtype and
 * trailing dims. Exit 1 with one line on any inconsistency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "runtime/npy.h"

#define MAX_IMAGES 64

static int fail(const char *what, const char *detail)
{
    printf("split_detections: %s%s\n", what, detail ? detail : "");
    return 1;
}

int main(int argc, char **argv)
{
    struct d2_error err = { 0 };
    struct d2_tensor splits;
    char path[4096];
    int64_t counts[MAX_IMAGES];
    int64_t total = 0;
    if (argc != 5)
        return fail("usage: split_detections IN_DIR SPLITS_K NUM_OUTPUTS DEST_PREFIX", NULL);
    int splits_k = atoi(argv[2]), num_outputs = atoi(argv[3]);
    snprintf(path, sizeof path, "%s/out%d.npy", argv[1], splits_k);
    if (d2_npy_read_file(path, NULL, &splits, &err) != D2_OK)
        return fail(err.message, NULL);
    int64_t images = d2_tensor_numel(&splits);
    bool splits_ok = splits.rank == 1 && images >= 1 && images <= MAX_IMAGES;
    for (int64_t i = 0; splits_ok && i < images; i++) {
        counts[i] = d2_load_i64(splits.data, splits.dtype, (size_t)i);
        splits_ok = counts[i] >= 0;
        total += counts[i];
    }
    d2_tensor_release(&splits, d2_allocator_default());
    if (!splits_ok)
        return fail("batch_splits must be 1-D with 1..64 non-negative entries: ", path);
    for (int k = 0; k < num_outputs; k++) {
        struct d2_tensor t;
        if (k == splits_k)
            continue;
        snprintf(path, sizeof path, "%s/out%d.npy", argv[1], k);
        if (d2_npy_read_file(path, NULL, &t, &err) != D2_OK)
            return fail(err.message, NULL);
        if (t.rank < 1 || t.dims[0] != total) {
            d2_tensor_release(&t, d2_allocator_default());
            return fail("leading dim is not the sum of batch_splits: ", path);
        }
        size_t row = d2_dtype_size(t.dtype);
        for (int32_t d = 1; d < t.rank; d++)
            row *= (size_t)t.dims[d];
        int64_t first = 0;
        for (int64_t i = 0; i < images; i++) {
            struct d2_tensor part = t;
            part.dims[0] = counts[i];
            part.data = (char *)t.data + (size_t)first * row;
            part.nbytes = (size_t)counts[i] * row;
            part.owns_data = false;
            first += counts[i];
            snprintf(path, sizeof path, "%s%lld/out%d.npy", argv[4], (long long)i, k);
            if (d2_npy_write_file(path, &part, &err) != D2_OK) {
                d2_tensor_release(&t, d2_allocator_default());
                return fail(err.message, NULL);
            }
        }
        d2_tensor_release(&t, d2_allocator_default());
    }
    printf("split %lld detections into %lld images\n", (long long)total, (long long)images);
    return 0;
}
