/* frontend/frontend.h: model formats in, d2rt IR out. */
#ifndef D2_FRONTEND_H
#define D2_FRONTEND_H

#include "../ir/ir.h"

enum d2_model_format {
    D2_FORMAT_UNKNOWN = 0,
    D2_FORMAT_ONNX,         /* ModelProto */
    D2_FORMAT_D2RT_IR,      /* model.ir artifact */
    D2_FORMAT_IR_TEXT,      /* IR text form */
    D2_FORMAT_CAFFE2,       /* NetDef */
    D2_FORMAT_TORCHSCRIPT,  /* zip archive (later) */
};

/* Import an ONNX model. base_dir is where external-data files are looked up (the
 * model file's directory); NULL disables external data. Errors name the node, the op
 * and the reason. The graph's metadata gets "source_format" = "onnx" and "opset". */
struct d2_graph *d2_onnx_import_buffer(const void *data, size_t size, const char *base_dir,
                                       const struct d2_allocator *alloc, struct d2_error *err);
struct d2_graph *d2_onnx_import_file(const char *path, const struct d2_allocator *alloc,
                                     struct d2_error *err);
/* Decode a serialized ONNX TensorProto (a test_data_set_N/input_M.pb). *name_out, if
 * not NULL, receives the tensor's name (allocated with alloc, may be ""). */
enum d2_status d2_onnx_parse_tensor(const void *data, size_t size, const struct d2_allocator *alloc,
                                    struct d2_tensor *out, char **name_out, struct d2_error *err);

/* Import a Caffe2 model: predict_net plus (optionally, NULL/0) init_net, whose fill
 * operators become constants (frontend/caffe2/caffe2_import.c). Errors name the
 * operator (index, name, type) and the reason. The graph's metadata gets
 * "source_format" = "caffe2" and the predict net's arguments (size_divisibility,
 * device, meta_architecture, ...). */
struct d2_graph *d2_caffe2_import_buffers(const void *predict, size_t predict_size, const void *init,
                                          size_t init_size, const struct d2_allocator *alloc, struct d2_error *err);
struct d2_graph *d2_caffe2_import_files(const char *predict_path, const char *init_path,
                                        const struct d2_allocator *alloc, struct d2_error *err);

/* Import a TorchScript module (torch.jit.save archive: traced or scripted;
 * frontend/torchscript/ts_import.c). Tensor inputs default to float32 [3, ?h, ?w] (a
 * detectron2 image); options->input_shapes overrides them in flattened input order,
 * entries "[dtype:]dim,dim,..." separated by ';', a dim an integer, "?" or "?name".
 * Scripted models taking a list of dicts get options->batch images (default 1), each
 * an input "[i].image". The metadata keys "ts_inputs"/"ts_outputs" give the nesting
 * of the flattened inputs/outputs as JSON. Errors inside the model's code name
 * file:line:col of the archive entry (code/__torch__/...). options may be NULL. The
 * graph borrows the archive's tensors: for import_buffer, data must outlive it. */
struct d2_torchscript_options {
    uint32_t batch;            /* images per call for list-of-dict inputs; 0 means 1 */
    const char *input_shapes;  /* NULL: defaults */
};
struct d2_graph *d2_torchscript_import_file(const char *path, const struct d2_torchscript_options *options,
                                            const struct d2_allocator *alloc, struct d2_error *err);
struct d2_graph *d2_torchscript_import_buffer(const void *data, size_t size,
                                              const struct d2_torchscript_options *options,
                                              const struct d2_allocator *alloc, struct d2_error *err);

/* Which format the bytes hold, from content only (frontend/detect.c). */
enum d2_model_format d2_detect_format(const void *data, size_t size);

#endif
