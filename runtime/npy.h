/* runtime/npy.h: NumPy .npy files (format versions 1.0-3.0, C order, little endian). */
#ifndef D2_RUNTIME_NPY_H
#define D2_RUNTIME_NPY_H

#include "../ir/ir.h"

/* Parse an .npy image in memory into a newly allocated tensor. Rejects Fortran order,
 * big-endian and object/string dtypes with a clear message. */
enum d2_status d2_npy_parse(const void *data, size_t size, const struct d2_allocator *alloc,
                            struct d2_tensor *out, struct d2_error *err);
enum d2_status d2_npy_read_file(const char *path, const struct d2_allocator *alloc,
                                struct d2_tensor *out, struct d2_error *err);
enum d2_status d2_npy_write_file(const char *path, const struct d2_tensor *t, struct d2_error *err);

#endif
