/* frontend/onnx/onnx_tensor.c: ONNX TensorProto -> d2_tensor.
 *
 * A TensorProto stores its elements in one of three places:
 *   - raw_data: little-endian bytes in C order (the common case);
 *   - a typed repeated field (float_data, int32_data, int64_data, double_data,
 *     uint64_data), where narrow integers, bools and 16-bit floats travel widened in
 *     int32_data (16-bit floats as their bit patterns);
 *   - an external file (data_location = EXTERNAL) named by external_data entries
 *     "location" (relative to the model's directory), "offset" and "length".
 * The size implied by dims is checked against the data actually present (bytes,
 * element count, external file size) before anything is allocated, so a small
 * malformed file cannot ask for a huge buffer. External paths may not be absolute or
 * climb out of the model's directory.
 */
#include "frontend/onnx/onnx_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool onnx_dtype_to_d2(int32_t onnx_type, enum d2_dtype *out, const char **name)
{
    static const struct { enum d2_dtype dtype; const char *name; } table[] = {
        [0] = {D2_DTYPE_UNDEFINED, "UNDEFINED"}, [1] = {D2_DTYPE_F32, "FLOAT"},
        [2] = {D2_DTYPE_U8, "UINT8"},            [3] = {D2_DTYPE_I8, "INT8"},
        [4] = {D2_DTYPE_U16, "UINT16"},          [5] = {D2_DTYPE_I16, "INT16"},
        [6] = {D2_DTYPE_I32, "INT32"},           [7] = {D2_DTYPE_I64, "INT64"},
        [8] = {D2_DTYPE_UNDEFINED, "STRING"},    [9] = {D2_DTYPE_BOOL, "BOOL"},
        [10] = {D2_DTYPE_F16, "FLOAT16"},        [11] = {D2_DTYPE_F64, "DOUBLE"},
        [12] = {D2_DTYPE_U32, "UINT32"},         [13] = {D2_DTYPE_U64, "UINT64"},
        [14] = {D2_DTYPE_UNDEFINED, "COMPLEX64"}, [15] = {D2_DTYPE_UNDEFINED, "COMPLEX128"},
        [16] = {D2_DTYPE_BF16, "BFLOAT16"},      [17] = {D2_DTYPE_UNDEFINED, "FLOAT8E4M3FN"},
        [18] = {D2_DTYPE_UNDEFINED, "FLOAT8E4M3FNUZ"}, [19] = {D2_DTYPE_UNDEFINED, "FLOAT8E5M2"},
        [20] = {D2_DTYPE_UNDEFINED, "FLOAT8E5M2FNUZ"}, [21] = {D2_DTYPE_UNDEFINED, "UINT4"},
        [22] = {D2_DTYPE_UNDEFINED, "INT4"},     [23] = {D2_DTYPE_UNDEFINED, "FLOAT4E2M1"},
    };
    if (onnx_type < 0 || (size_t)onnx_type >= sizeof table / sizeof table[0]) {
        *name = "unknown";
        return false;
    }
    *name = table[onnx_type].name;
    *out = table[onnx_type].dtype;
    return *out != D2_DTYPE_UNDEFINED;
}

/* A relative path that stays inside the model directory: no leading '/', no '\\',
 * no ".." component, not empty. */
static bool safe_relative_path(const char *p)
{
    const char *c = p;
    if (!*p || *p == '/' || strchr(p, '\\'))
        return false;
    while (*c) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return false;
        c += n;
        if (*c == '/')
            c++;
    }
    return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Open the external data file of tp and position it at the tensor's bytes, after
 * checking the location, the declared length and the file's size against nbytes
 * (before anything of that size is allocated). */
static enum d2_status open_external(const Onnx__TensorProto *tp, const char *base_dir, size_t nbytes,
                                    const char *what, FILE **out, struct d2_error *err)
{
    const char *location = NULL;
    uint64_t offset = 0, length = nbytes;
    bool has_length = false;
    *out = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key)
            continue;
        if (strcmp(e->key, "location") == 0) {
            location = e->value;
        } else if (strcmp(e->key, "offset") == 0) {
            if (!parse_u64(e->value, &offset))
                return d2_errorf(err, D2_ERR_PARSE, "%s: bad external data offset", what);
        } else if (strcmp(e->key, "length") == 0) {
            if (!parse_u64(e->value, &length))
                return d2_errorf(err, D2_ERR_PARSE, "%s: bad external data length", what);
            has_length = true;
        }
    }
    if (!location)
        return d2_errorf(err, D2_ERR_PARSE, "%s: external data without a location", what);
    if (!safe_relative_path(location))
        return d2_errorf(err, D2_ERR_PARSE,
                         "%s: external data location '%s' is not a relative path inside the model directory",
                         what, location);
    if (!base_dir)
        return d2_errorf(err, D2_ERR_UNSUPPORTED,
                         "%s: external data '%s' but the model was not loaded from a file", what, location);
    if (has_length && length != nbytes)
        return d2_errorf(err, D2_ERR_PARSE, "%s: external data length %llu, expected %zu bytes", what,
                         (unsigned long long)length, nbytes);
    size_t path_len = strlen(base_dir) + strlen(location) + 2;
    char *path = d2_alloc(d2_allocator_default(), path_len);
    if (!path)
        return d2_errorf(err, D2_ERR_NOMEM, "%s: out of memory", what);
    snprintf(path, path_len, "%s/%s", base_dir, location);
    enum d2_status st = D2_OK;
    off_t file_size = -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        st = d2_errorf(err, D2_ERR_IO, "%s: cannot open external data file '%s': %s", what, path, strerror(errno));
    else if (fseeko(f, 0, SEEK_END) != 0 || (file_size = ftello(f)) < 0)
        st = d2_errorf(err, D2_ERR_IO, "%s: cannot read external data file '%s'", what, path);
    else if (offset > (uint64_t)file_size || (uint64_t)file_size - offset < nbytes)
        st = d2_errorf(err, D2_ERR_IO, "%s: external data file '%s' (%lld bytes) is shorter than offset %llu + %zu bytes",
                       what, path, (long long)file_size, (unsigned long long)offset, nbytes);
    else if (fseeko(f, (off_t)offset, SEEK_SET) != 0)
        st = d2_errorf(err, D2_ERR_IO, "%s: cannot seek to offset %llu in '%s'", what, (unsigned long long)offset, path);
    d2_free(d2_allocator_default(), path);
    if (st != D2_OK) {
        if (f)
            fclose(f);
        return st;
    }
    *out = f;
    return D2_OK;
}

/* How many elements the typed field that holds dtype carries. */
static size_t typed_count(const Onnx__TensorProto *tp, enum d2_dtype dtype, const char **field)
{
    size_t have;
    switch (dtype) {
    case D2_DTYPE_F32: have = tp->n_float_data; *field = "float_data"; break;
    case D2_DTYPE_I64: have = tp->n_int64_data; *field = "int64_data"; break;
    case D2_DTYPE_F64: have = tp->n_double_data; *field = "double_data"; break;
    case D2_DTYPE_U32:
    case D2_DTYPE_U64: have = tp->n_uint64_data; *field = "uint64_data"; break;
    default: have = tp->n_int32_data; *field = "int32_data"; break;
    }
    return have;
}

/* Typed-field storage (count already checked): convert element by element. */
static enum d2_status read_typed(const Onnx__TensorProto *tp, struct d2_tensor *t, size_t numel,
                                 const char *what, struct d2_error *err)
{
    for (size_t i = 0; i < numel; i++) {
        switch (t->dtype) {
        case D2_DTYPE_F32: ((float *)t->data)[i] = tp->float_data[i]; break;
        case D2_DTYPE_I64: ((int64_t *)t->data)[i] = tp->int64_data[i]; break;
        case D2_DTYPE_F64: ((double *)t->data)[i] = tp->double_data[i]; break;
        case D2_DTYPE_U32: ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i]; break;
        case D2_DTYPE_U64: ((uint64_t *)t->data)[i] = tp->uint64_data[i]; break;
        case D2_DTYPE_F16:
        case D2_DTYPE_BF16:
        case D2_DTYPE_U16: ((uint16_t *)t->data)[i] = (uint16_t)tp->int32_data[i]; break;
        case D2_DTYPE_I16: ((int16_t *)t->data)[i] = (int16_t)tp->int32_data[i]; break;
        case D2_DTYPE_I32: ((int32_t *)t->data)[i] = tp->int32_data[i]; break;
        case D2_DTYPE_I8: ((int8_t *)t->data)[i] = (int8_t)tp->int32_data[i]; break;
        case D2_DTYPE_U8: ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i]; break;
        case D2_DTYPE_BOOL: ((uint8_t *)t->data)[i] = tp->int32_data[i] != 0; break;
        default: return d2_errorf(err, D2_ERR_INTERNAL, "%s: unhandled dtype", what);
        }
    }
    return D2_OK;
}

enum d2_status onnx_tensor_decode(const Onnx__TensorProto *tp, const char *base_dir,
                                  const struct d2_allocator *alloc, struct d2_tensor *out,
                                  const char *what, struct d2_error *err)
{
    enum d2_dtype dtype;
    const char *type_name;
    int64_t dims[D2_MAX_RANK];
    enum d2_status st;

    memset(out, 0, sizeof *out);
    if (!tp->has_data_type || !onnx_dtype_to_d2(tp->data_type, &dtype, &type_name)) {
        if (!tp->has_data_type)
            return d2_errorf(err, D2_ERR_PARSE, "%s: tensor without a data type", what);
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "%s: tensor element type %s (%d) is not supported", what,
                         type_name, (int)tp->data_type);
    }
    if (tp->n_dims > D2_MAX_RANK)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "%s: tensor rank %zu exceeds the limit %d", what, tp->n_dims,
                         D2_MAX_RANK);
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return d2_errorf(err, D2_ERR_PARSE, "%s: negative tensor dim %lld", what, (long long)tp->dims[i]);
        dims[i] = tp->dims[i];
    }
    /* Validate the size against the data source before allocating it. */
    int64_t numel64 = d2_dims_numel((int32_t)tp->n_dims, dims);
    size_t esize = d2_dtype_size(dtype);
    if (numel64 < 0 || (uint64_t)numel64 > SIZE_MAX / esize)
        return d2_errorf(err, D2_ERR_PARSE, "%s: tensor dims are too large", what);
    size_t numel = (size_t)numel64, nbytes = numel * esize;
    FILE *external = NULL;
    bool is_external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (is_external) {
        if ((st = open_external(tp, base_dir, nbytes, what, &external, err)) != D2_OK)
            return st;
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != nbytes)
            return d2_errorf(err, D2_ERR_PARSE, "%s: raw_data has %zu bytes, dims and type need %zu", what,
                             tp->raw_data.len, nbytes);
    } else {
        const char *field = "";
        size_t have = typed_count(tp, dtype, &field);
        if (have != numel)
            return d2_errorf(err, D2_ERR_PARSE, "%s: %zu elements in %s, dims need %zu", what, have, field, numel);
    }
    st = d2_tensor_alloc(out, alloc, dtype, (int32_t)tp->n_dims, dims, err);
    if (st != D2_OK) {
        if (external)
            fclose(external);
        d2_error_prefix(err, "%s: ", what);
        return st;
    }
    if (external) {
        if (nbytes && fread(out->data, 1, nbytes, external) != nbytes)
            st = d2_errorf(err, D2_ERR_IO, "%s: short read of external data", what);
        fclose(external);
    } else if (tp->has_raw_data) {
        if (nbytes)
            memcpy(out->data, tp->raw_data.data, nbytes); /* little-endian host assumed */
    } else {
        st = read_typed(tp, out, numel, what, err);
    }
    if (st == D2_OK && dtype == D2_DTYPE_BOOL)
        for (size_t i = 0; i < numel; i++)
            ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
    if (st != D2_OK)
        d2_tensor_release(out, alloc);
    return st;
}

enum d2_status d2_onnx_parse_tensor(const void *data, size_t size, const struct d2_allocator *alloc,
                                    struct d2_tensor *out, char **name_out, struct d2_error *err)
{
    ProtobufCAllocator pb_alloc;
    Onnx__TensorProto *tp;
    enum d2_status st;
    if (!alloc)
        alloc = d2_allocator_default();
    memset(out, 0, sizeof *out);
    if (name_out)
        *name_out = NULL;
    if (!data && size)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "d2_onnx_parse_tensor: NULL data");
    onnx_pb_allocator(&pb_alloc, alloc);
    tp = onnx__tensor_proto__unpack(&pb_alloc, size, data);
    if (!tp)
        return d2_errorf(err, D2_ERR_PARSE, "not a valid ONNX TensorProto (%zu bytes)", size);
    st = onnx_tensor_decode(tp, NULL, alloc, out, tp->name && *tp->name ? tp->name : "tensor", err);
    if (st == D2_OK && name_out) {
        *name_out = d2_strdup(alloc, tp->name ? tp->name : "");
        if (!*name_out) {
            d2_tensor_release(out, alloc);
            st = d2_errorf(err, D2_ERR_NOMEM, "out of memory copying a tensor name");
        }
    }
    onnx__tensor_proto__free_unpacked(tp, &pb_alloc);
    return st;
}
