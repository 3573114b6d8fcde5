/* runtime/artifact.h: the model.ir artifact (format: docs/FORMAT.md). */
#ifndef D2_RUNTIME_ARTIFACT_H
#define D2_RUNTIME_ARTIFACT_H

#include "../ir/ir.h"

/* True when the bytes start like a model.ir file (magic). */
bool d2_artifact_sniff(const void *data, size_t size);
/* Serialize g (regions, constants, metadata included) to path. */
enum d2_status d2_artifact_write_file(const struct d2_graph *g, const char *path, struct d2_error *err);
/* Serialize to memory (allocated with alloc). */
enum d2_status d2_artifact_write_buffer(const struct d2_graph *g, const struct d2_allocator *alloc,
                                        void **data_out, size_t *size_out, struct d2_error *err);
/* Load with mmap: constants and names borrow the mapping (never copied); the graph owns the
 * mapping through its backing and unmaps it in d2_graph_free. */
struct d2_graph *d2_artifact_load_file(const char *path, const struct d2_allocator *alloc,
                                       struct d2_error *err);
/* Load from memory the caller keeps alive for the graph's lifetime (constants, names
 * and string attributes borrow it). The buffer should be 64-byte aligned (at least the
 * alignment of each constant's element type, else D2_ERR_INVALID_ARG).
 * Every checksum and bound is verified: truncated, corrupt or future-version input
 * gives D2_ERR_PARSE with a clear message; an unknown op, attribute or enum value
 * gives D2_ERR_UNSUPPORTED naming it. */
struct d2_graph *d2_artifact_load_buffer(const void *data, size_t size, const struct d2_allocator *alloc,
                                         struct d2_error *err);

#endif
