/* runtime/load.h: from a model file on disk to a graph ready to run.
 *
 * The format is detected from the file's content, never from its name:
 *   - a model.ir artifact (magic bytes, runtime/artifact.h): loaded with mmap, already
 *     compiled;
 *   - an ONNX ModelProto (protobuf): imported and compiled in memory;
 *   - a Caffe2 NetDef (protobuf; its init net is found beside it or given explicitly),
 *     a TorchScript archive (zip), or IR text (docs/IR.md: starts with `graph`, `meta`
 *     or `#` comments): imported or parsed, then compiled in memory.
 * "Compiling" a source model means running the pass pipeline (passes/passes.h:
 * shape inference, then the optimizations) over it. Used by the public API
 * (runtime/session.c) and the CLI. */
#ifndef D2_RUNTIME_LOAD_H
#define D2_RUNTIME_LOAD_H

#include "../frontend/frontend.h"
#include "../ir/ir.h"

/* Which format the bytes look like (frontend/detect.c); D2_FORMAT_UNKNOWN when none. */
enum d2_model_format d2_sniff_model_format(const void *data, size_t size);
/* "onnx", "d2rt-ir", "ir-text", ... */
const char *d2_model_format_name(enum d2_model_format format);

/* Read a whole file into memory allocated with alloc (a NUL is appended, not counted). */
enum d2_status d2_read_file(const char *path, const struct d2_allocator *alloc, void **data_out,
                            size_t *size_out, struct d2_error *err);

/* How to compile a source model; zero-initialized means the default pipeline. */
struct d2_compile_options {
    /* Run the opt-in roialign_aligned pass (passes/roialign_aligned.c): ONNX exports
     * below opset 16 get detectron2's aligned RoIAlign back. */
    bool roialign_aligned;
    /* Caffe2 NetDef: the init net (weights) file; NULL looks beside the predict net. */
    const char *caffe2_init_path;
    /* Shape specialization (passes/specialize_shapes.c): nonzero binds the image
     * input's batch size, height or width to that constant; 0 leaves it dynamic. */
    int64_t batch, height, width;
    /* Receive the IR text after the pass named dump_after ("all": after every pass);
     * see struct d2_pass_options. */
    const char *dump_after;
    void (*dump)(void *user, const char *pass, const char *ir_text);
    void *dump_user;
};

/* Run the compile pipeline on a freshly imported or parsed graph. */
enum d2_status d2_compile_source(struct d2_graph *g, struct d2_error *err);
/* The same with options (NULL: defaults). */
enum d2_status d2_compile_source_with(struct d2_graph *g, const struct d2_compile_options *options,
                                      struct d2_error *err);

/* Load any supported model file. *format_out (may be NULL) receives the detected format.
 * Errors say what the file was taken for and why it failed. */
struct d2_graph *d2_load_model_file(const char *path, const struct d2_allocator *alloc,
                                    enum d2_model_format *format_out, struct d2_error *err);
/* The same with compile options for a source model (NULL: defaults). A model.ir is
 * already compiled: asking for an option that changes compilation is
 * D2_ERR_INVALID_ARG for it. */
struct d2_graph *d2_load_model_file_with(const char *path, const struct d2_allocator *alloc,
                                         const struct d2_compile_options *options,
                                         enum d2_model_format *format_out, struct d2_error *err);

#endif
