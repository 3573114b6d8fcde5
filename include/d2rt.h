/* d2rt.h: the public C API of d2rt, a self-contained runtime for detectron2's
 * exported models.
 *
 * Overview
 *   A d2rt_model is a loaded, compiled graph. d2rt_model_load reads any model file
 *   d2rt knows, detecting the format from the content: a compiled model.ir artifact
 *   (mapped, not copied), an ONNX model or IR text (both compiled in memory).
 *   d2rt_model_compile_to_file writes the compiled model as a model.ir artifact.
 *
 *   A d2rt_session runs a model. It holds the run-time options (threads, allocator)
 *   and what runs reuse: the thread pool, the activation arena, transformed weights,
 *   and a cache of large freed buffers. Several sessions may share one model, which
 *   must outlive them; one session runs one d2rt_session_run at a time (use a
 *   session per thread for parallel runs).
 *
 *   A d2rt_tensor is a dense, row-major tensor: a dtype, up to 8 dims and the data.
 *   Inputs may wrap the caller's memory (d2rt_tensor_wrap: borrowed, never freed by
 *   d2rt) or own a copy (d2rt_tensor_new). Outputs of d2rt_session_run are new
 *   tensors owned by the caller; d2rt_tensor_free hands their storage back to the
 *   session's buffer cache for the next run (like an arena), and an output may
 *   outlive its session (the cache then lasts until the last such output is freed).
 *
 * Errors
 *   Every function that can fail returns a d2rt_status (D2RT_OK == 0). Like SQLite,
 *   the one-line message of the last failure is kept on the handle and read with
 *   d2rt_errmsg(model or session). d2rt_model_load always returns a model handle
 *   (except when out of memory, then NULL), so that its error can be read; free it
 *   with d2rt_model_free either way. d2rt never prints and never exits.
 *
 * Memory
 *   Every allocation goes through a d2rt_allocator (default: malloc/realloc/free):
 *   one for the model (d2rt_model_load_with), one per session (options).
 *
 * Example: run a model with one f32 input of shape [1, 3, 4, 4].
 *
 *   #include <stdio.h>
 *   #include "d2rt.h"
 *
 *   int main(void)
 *   {
 *       d2rt_model *model = NULL;
 *       d2rt_session *session = NULL;
 *       d2rt_tensor *input = NULL, *output = NULL;
 *       float pixels[1 * 3 * 4 * 4] = {0};
 *       int64_t dims[4] = {1, 3, 4, 4};
 *       int rc = 1;
 *
 *       if (d2rt_model_load("model.onnx", &model) != D2RT_OK) {
 *           fprintf(stderr, "load: %s\n", d2rt_errmsg(model));
 *           goto out;
 *       }
 *       struct d2rt_session_options opts = { .threads = 1, .allocator = NULL };
 *       if (d2rt_session_new(model, &opts, &session) != D2RT_OK) {
 *           fprintf(stderr, "session: %s\n", d2rt_errmsg(model));
 *           goto out;
 *       }
 *       if (d2rt_tensor_wrap(D2RT_F32, 4, dims, pixels, sizeof pixels, &input) != D2RT_OK)
 *           goto out;
 *       if (d2rt_session_run(session, &input, 1, &output, 1) != D2RT_OK) {
 *           fprintf(stderr, "run: %s\n", d2rt_errmsg(session));
 *           goto out;
 *       }
 *       printf("%s: rank %d, first value %g\n", d2rt_model_output_name(model, 0),
 *              d2rt_tensor_rank(output), ((const float *)d2rt_tensor_data(output))[0]);
 *       rc = 0;
 *   out:
 *       d2rt_tensor_free(output);
 *       d2rt_tensor_free(input);
 *       d2rt_session_free(session);
 *       d2rt_model_free(model);
 *       return rc;
 *   }
 */
#ifndef D2RT_H
#define D2RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct d2rt_model d2rt_model;
typedef struct d2rt_session d2rt_session;
typedef struct d2rt_tensor d2rt_tensor;

typedef enum d2rt_status {
    D2RT_OK = 0,
    D2RT_ERR_IO,          /* file missing, unreadable */
    D2RT_ERR_PARSE,       /* malformed model, artifact or tensor file */
    D2RT_ERR_UNSUPPORTED, /* valid input d2rt does not handle (an op, a dtype) */
    D2RT_ERR_SHAPE,       /* shapes or dtypes that do not fit */
    D2RT_ERR_NOMEM,       /* an allocation failed */
    D2RT_ERR_BACKEND,     /* a backend failed at run time */
    D2RT_ERR_INVALID_ARG, /* the caller passed something wrong */
    D2RT_ERR_INTERNAL,    /* a d2rt bug */
} d2rt_status;

typedef enum d2rt_dtype {
    D2RT_UNDEFINED = 0,
    D2RT_F32, D2RT_F16, D2RT_BF16, D2RT_F64,
    D2RT_I64, D2RT_I32, D2RT_I16, D2RT_I8,
    D2RT_U8, D2RT_U16, D2RT_U32, D2RT_U64,
    D2RT_BOOL,
} d2rt_dtype;

#define D2RT_MAX_RANK 8

/* realloc_fn(user, ptr, size): ptr NULL allocates, size 0 frees (returns NULL),
 * otherwise resizes. Returns NULL on failure. */
struct d2rt_allocator {
    void *(*realloc_fn)(void *user, void *ptr, size_t size);
    void *user;
};

/* Short text of a status ("out of memory"); d2rt_errmsg gives the full message. */
const char *d2rt_status_string(d2rt_status status);
/* The message of the last failure on a model or session handle, or "not an error".
 * NULL (the handle a failed allocation leaves) gives "out of memory". */
const char *d2rt_errmsg(const void *handle);
const char *d2rt_dtype_name(d2rt_dtype dtype);  /* "f32", ... */
size_t d2rt_dtype_size(d2rt_dtype dtype);       /* bytes per element; 0 when undefined */

/* ---- models ---- */
d2rt_status d2rt_model_load(const char *path, d2rt_model **model_out);
/* alloc NULL: malloc. The allocator struct is copied. */
d2rt_status d2rt_model_load_with(const char *path, const struct d2rt_allocator *alloc, d2rt_model **model_out);
/* How a source model (ONNX, IR text) is compiled when loaded. Zero-initialize, then
 * set what you need. */
struct d2rt_compile_options {
    /* Nonzero: in an ONNX export below opset 16, every RoiAlign computes detectron2's
     * aligned (half-pixel) RoIAlign instead of the legacy one the opset-11 export
     * silently switched to (torchvision drops aligned=True there). Use it to match
     * detectron2 itself; leave it 0 to match onnxruntime. */
    int roialign_aligned;
    /* Nonzero: specialize the model to this batch size / image height / width (the
     * image input's dims; docs/PASSES.md specialize_shapes). The model then accepts
     * only inputs of that size, and its shape arithmetic is computed at compile time.
     * 0: the dim stays dynamic (the default). */
    int64_t batch, height, width;
    /* Optional: after the pass named dump_after ("all": every pass), dump receives the
     * pass name and the IR text (debugging the compiler; docs/PASSES.md). */
    const char *dump_after;
    void (*dump)(void *user, const char *pass, const char *ir_text);
    void *dump_user;
};
/* d2rt_model_load_with plus compile options (NULL: defaults). A compiled model.ir
 * was compiled already: with an option set it fails with D2RT_ERR_INVALID_ARG. */
d2rt_status d2rt_model_load_ex(const char *path, const struct d2rt_allocator *alloc,
                               const struct d2rt_compile_options *options, d2rt_model **model_out);
/* Write the compiled model as a model.ir artifact. */
d2rt_status d2rt_model_compile_to_file(d2rt_model *model, const char *path);
void d2rt_model_free(d2rt_model *model);
/* "onnx", "d2rt-ir" or "ir-text": what the file was. */
const char *d2rt_model_format(const d2rt_model *model);
uint32_t d2rt_model_num_inputs(const d2rt_model *model);
uint32_t d2rt_model_num_outputs(const d2rt_model *model);
const char *d2rt_model_input_name(const d2rt_model *model, uint32_t index);   /* NULL out of range */
const char *d2rt_model_output_name(const d2rt_model *model, uint32_t index);
/* Declared input dtype (D2RT_UNDEFINED when the model does not say) and rank (-1 unknown). */
d2rt_dtype d2rt_model_input_dtype(const d2rt_model *model, uint32_t index);
int d2rt_model_input_rank(const d2rt_model *model, uint32_t index);

/* ---- sessions ---- */
struct d2rt_session_options {
    int threads;                            /* 0: one per CPU; env D2RT_CPU=generic|avx2|avx512 picks
                                             * the kernels, D2RT_REFERENCE=1 the reference kernels */
    const struct d2rt_allocator *allocator; /* NULL: malloc; used for intermediates and outputs */
};
/* options NULL: defaults. On failure *session_out is NULL and the message is on the model. */
d2rt_status d2rt_session_new(d2rt_model *model, const struct d2rt_session_options *options,
                             d2rt_session **session_out);
/* inputs[i] feeds model input i (dtype and declared dims are checked). On success
 * outputs[k] is a new tensor the caller frees with d2rt_tensor_free; on failure every
 * outputs[k] is NULL. num_inputs/num_outputs must be the model's counts. */
d2rt_status d2rt_session_run(d2rt_session *session, d2rt_tensor *const *inputs, uint32_t num_inputs,
                             d2rt_tensor **outputs, uint32_t num_outputs);
void d2rt_session_free(d2rt_session *session);

/* ---- tensors ---- */
/* A zero-filled tensor owning its storage. */
d2rt_status d2rt_tensor_new(d2rt_dtype dtype, int rank, const int64_t *dims, d2rt_tensor **tensor_out);
/* A tensor over the caller's memory (nbytes must equal numel * dtype size); the
 * memory must stay valid while the tensor is used and is never freed by d2rt. */
d2rt_status d2rt_tensor_wrap(d2rt_dtype dtype, int rank, const int64_t *dims, void *data, size_t nbytes,
                             d2rt_tensor **tensor_out);
void d2rt_tensor_free(d2rt_tensor *tensor);
d2rt_dtype d2rt_tensor_dtype(const d2rt_tensor *tensor);
int d2rt_tensor_rank(const d2rt_tensor *tensor);
const int64_t *d2rt_tensor_dims(const d2rt_tensor *tensor);   /* rank entries */
int64_t d2rt_tensor_numel(const d2rt_tensor *tensor);
void *d2rt_tensor_data(d2rt_tensor *tensor);
size_t d2rt_tensor_nbytes(const d2rt_tensor *tensor);

#ifdef __cplusplus
}
#endif

#endif /* D2RT_H */
