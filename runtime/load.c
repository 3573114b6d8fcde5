/* runtime/load.c: format detection and model loading (contract in runtime/load.h). */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../passes/passes.h"
#include "artifact.h"

const char *d2_model_format_name(enum d2_model_format format)
{
    switch (format) {
    case D2_FORMAT_ONNX: return "onnx";
    case D2_FORMAT_D2RT_IR: return "d2rt-ir";
    case D2_FORMAT_IR_TEXT: return "ir-text";
    case D2_FORMAT_CAFFE2: return "caffe2";
    case D2_FORMAT_TORCHSCRIPT: return "torchscript";
    case D2_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

enum d2_model_format d2_sniff_model_format(const void *data, size_t size)
{
    if (!data || size == 0)
        return D2_FORMAT_UNKNOWN;
    /* The artifact is the runtime's own format; frontends recognise source formats. */
    if (d2_artifact_sniff(data, size))
        return D2_FORMAT_D2RT_IR;
    return d2_detect_format(data, size);
}

enum d2_status d2_read_file(const char *path, const struct d2_allocator *alloc, void **data_out,
                            size_t *size_out, struct d2_error *err)
{
    FILE *f;
    char *buf = NULL;
    size_t size = 0, cap = 0;
    *data_out = NULL;
    *size_out = 0;
    f = fopen(path, "rb");
    if (!f)
        return d2_errorf(err, D2_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    /* Grow while reading: works for pipes and files whose size changes. */
    for (;;) {
        size_t got;
        if (cap - size < 65536) {
            size_t new_cap = cap ? cap * 2 : 65536;
            char *grown = new_cap > cap ? d2_realloc(alloc, buf, new_cap + 1) : NULL;
            if (!grown) {
                d2_free(alloc, buf);
                fclose(f);
                return d2_errorf(err, D2_ERR_NOMEM, "out of memory reading '%s'", path);
            }
            buf = grown;
            cap = new_cap;
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        d2_free(alloc, buf);
        fclose(f);
        return d2_errorf(err, D2_ERR_IO, "cannot read '%s'", path);
    }
    fclose(f);
    buf[size] = '\0';
    *data_out = buf;
    *size_out = size;
    return D2_OK;
}

enum d2_status d2_compile_source_with(struct d2_graph *g, const struct d2_compile_options *options,
                                      struct d2_error *err)
{
    struct d2_pass_options pass_options = { .roialign_aligned = options && options->roialign_aligned };
    if (options) {
        enum d2_status st = d2_request_shape_specialization(g, options->batch, options->height, options->width, err);
        if (st != D2_OK)
            return st;
        pass_options.dump_after = options->dump_after;
        pass_options.dump = options->dump;
        pass_options.dump_user = options->dump_user;
    }
    return d2_run_passes(g, &pass_options, err);
}

enum d2_status d2_compile_source(struct d2_graph *g, struct d2_error *err)
{
    return d2_compile_source_with(g, NULL, err);
}

/* The directory part of path ("." when none), for ONNX external data. */
static char *dir_of(const char *path, const struct d2_allocator *alloc)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    char *dir = d2_alloc(alloc, n + 1);
    if (!dir)
        return NULL;
    if (slash)
        memcpy(dir, path, n);
    else
        dir[0] = '.';
    if (slash && n == 0) { /* "/model.onnx" */
        dir[0] = '/';
        n = 1;
    }
    dir[n] = '\0';
    return dir;
}

struct d2_graph *d2_load_model_file(const char *path, const struct d2_allocator *alloc,
                                    enum d2_model_format *format_out, struct d2_error *err)
{
    return d2_load_model_file_with(path, alloc, NULL, format_out, err);
}

/* The init net of a Caffe2 predict net: `explicit_path` when given, else the first
 * existing file among model_init.pb, init_net.pb and <stem>_init.pb in the predict
 * net's directory. Returns an allocated path or NULL. */
static char *caffe2_init_path(const char *predict_path, const char *explicit_path,
                              const struct d2_allocator *alloc)
{
    static const char *const sibling_names[] = { "model_init.pb", "init_net.pb" };
    const char *slash = strrchr(predict_path, '/');
    size_t dir_len = slash ? (size_t)(slash - predict_path) + 1 : 0;
    const char *base = predict_path + dir_len;
    const char *dot = strrchr(base, '.');
    size_t stem_len = dot ? (size_t)(dot - base) : strlen(base);
    size_t cap = strlen(predict_path) + 32;
    char *candidate;
    FILE *f;
    if (explicit_path)
        return d2_strdup(alloc, explicit_path);
    candidate = d2_alloc(alloc, cap);
    if (!candidate)
        return NULL;
    for (size_t i = 0; i < 3; i++) {
        if (i < 2)
            snprintf(candidate, cap, "%.*s%s", (int)dir_len, predict_path, sibling_names[i]);
        else
            snprintf(candidate, cap, "%.*s%.*s_init.pb", (int)dir_len, predict_path, (int)stem_len, base);
        if (strcmp(candidate, predict_path) == 0)
            continue;
        f = fopen(candidate, "rb");
        if (f) {
            fclose(f);
            return candidate;
        }
    }
    d2_free(alloc, candidate);
    return NULL;
}

struct d2_graph *d2_load_model_file_with(const char *path, const struct d2_allocator *alloc,
                                         const struct d2_compile_options *options,
                                         enum d2_model_format *format_out, struct d2_error *err)
{
    void *data = NULL;
    size_t size = 0;
    struct d2_graph *g = NULL;
    enum d2_model_format format;
    char *dir;

    if (!alloc)
        alloc = d2_allocator_default();
    if (format_out)
        *format_out = D2_FORMAT_UNKNOWN;
    if (d2_read_file(path, alloc, &data, &size, err) != D2_OK)
        return NULL;
    format = d2_sniff_model_format(data, size);
    if (format_out)
        *format_out = format;
    switch (format) {
    case D2_FORMAT_D2RT_IR:
        if (options && (options->batch || options->height || options->width)) {
            d2_errorf(err, D2_ERR_INVALID_ARG,
                      "already compiled; shape specialization (batch, size) applies when compiling a source model, "
                      "not to a model.ir");
            break;
        }
        if (options && options->roialign_aligned) {
            /* Its passes ran when it was compiled; refuse rather than ignore the option. */
            d2_errorf(err, D2_ERR_INVALID_ARG,
                      "already compiled; the roialign_aligned option applies when compiling a source model "
                      "(ONNX), not to a model.ir");
            break;
        }
        /* Load again through mmap so the constants borrow the mapping. */
        d2_free(alloc, data);
        data = NULL;
        g = d2_artifact_load_file(path, alloc, err);
        break;
    case D2_FORMAT_IR_TEXT:
        g = d2_parse_graph(data, size, alloc, err);
        if (g && d2_compile_source_with(g, options, err) != D2_OK) {
            d2_graph_free(g);
            g = NULL;
        }
        break;
    case D2_FORMAT_ONNX:
        dir = dir_of(path, alloc);
        if (!dir) {
            d2_errorf(err, D2_ERR_NOMEM, "out of memory loading '%s'", path);
            break;
        }
        g = d2_onnx_import_buffer(data, size, dir, alloc, err);
        d2_free(alloc, dir);
        if (g && d2_compile_source_with(g, options, err) != D2_OK) {
            d2_graph_free(g);
            g = NULL;
        }
        break;
    case D2_FORMAT_CAFFE2: {
        /* A NetDef's weights live in a second file: --init FILE, or beside the predict
         * net under detectron2's / Caffe2's usual names. */
        char *init = caffe2_init_path(path, options ? options->caffe2_init_path : NULL, alloc);
        if (!init) {
            d2_errorf(err, D2_ERR_IO,
                      "no init net found beside '%s' (looked for model_init.pb, init_net.pb, "
                      "<name>_init.pb); pass it with --init FILE", path);
            break;
        }
        g = d2_caffe2_import_files(path, init, alloc, err);
        d2_free(alloc, init);
        if (g && d2_compile_source_with(g, options, err) != D2_OK) {
            d2_graph_free(g);
            g = NULL;
        }
        break;
    }
    case D2_FORMAT_TORCHSCRIPT: {
        /* The importer maps the file itself; constants borrow the mapping. A batch
         * size is the number of images a scripted model's list/tuple input takes. */
        struct d2_torchscript_options ts_options = { 0 };
        if (options && options->batch > 0 && options->batch <= UINT32_MAX)
            ts_options.batch = (uint32_t)options->batch;
        g = d2_torchscript_import_file(path, &ts_options, alloc, err);
        if (g && d2_compile_source_with(g, options, err) != D2_OK) {
            d2_graph_free(g);
            g = NULL;
        }
        break;
    }
    default:
        if (size == 0)
            d2_errorf(err, D2_ERR_PARSE, "'%s' is empty", path);
        else
            d2_errorf(err, D2_ERR_PARSE,
                      "'%s' is not a model d2rt reads (expected an ONNX model, a model.ir artifact or IR text)",
                      path);
        break;
    }
    if (!g && format != D2_FORMAT_UNKNOWN && err && err->code != D2_OK)
        d2_error_prefix(err, "%s (%s): ", path, d2_model_format_name(format));
    d2_free(alloc, data);
    return g;
}
