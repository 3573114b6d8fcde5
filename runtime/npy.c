/* runtime/npy.c: NumPy .npy files (runtime/npy.h).
 *
 * Format (numpy.lib.format): the magic "\x93NUMPY", a major and minor version byte,
 * the header length (uint16 little endian for version 1, uint32 for versions 2 and
 * 3), then a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline, then the raw C-order data.
 *
 * Reading accepts versions 1.0, 2.0 and 3.0, the dtypes below in little-endian or
 * byte-order-free ('|') form, any shape up to D2_MAX_RANK dims (`()` is a scalar,
 * zero-size shapes are fine). It rejects Fortran order, big-endian data, other
 * dtypes, unknown or missing keys and a data size that does not match the shape,
 * each with a message saying which.
 * Writing produces version 1.0 with the same bytes numpy.save writes (header padded
 * so that the data starts on a 64-byte boundary, plus numpy's spare space for
 * growing the first axis); tests/unit/test_npy.c compares against files numpy made.
 */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *descr; /* without the byte-order character */
    enum d2_dtype dtype;
} npy_dtypes[] = {
    { "f4", D2_DTYPE_F32 }, { "f2", D2_DTYPE_F16 }, { "f8", D2_DTYPE_F64 }, { "i8", D2_DTYPE_I64 },
    { "i4", D2_DTYPE_I32 }, { "i2", D2_DTYPE_I16 }, { "i1", D2_DTYPE_I8 },  { "u1", D2_DTYPE_U8 },
    { "u2", D2_DTYPE_U16 }, { "u4", D2_DTYPE_U32 }, { "u8", D2_DTYPE_U64 }, { "b1", D2_DTYPE_BOOL },
};
#define NUM_NPY_DTYPES (sizeof npy_dtypes / sizeof npy_dtypes[0])

static const char npy_magic[6] = { '\x93', 'N', 'U', 'M', 'P', 'Y' };

/* ---- reading the header dict ------------------------------------------------- */

struct header_cursor {
    const char *p, *end;
};

static void skip_spaces(struct header_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool take_char(struct header_cursor *c, char ch)
{
    skip_spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A Python string literal in single or double quotes, without escapes (dtype
 * descriptors and key names never need them). */
static bool take_string(struct header_cursor *c, char *out, size_t size)
{
    char quote;
    size_t n = 0;
    skip_spaces(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    quote = *c->p++;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || n + 1 >= size)
            return false;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return false;
    c->p++;
    out[n] = '\0';
    return true;
}

static bool take_word(struct header_cursor *c, const char *word)
{
    size_t n = strlen(word);
    skip_spaces(c);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return true;
    }
    return false;
}

/* `(d0, d1, ...)` with an optional trailing comma; `()` is a scalar. */
static enum d2_status take_shape(struct header_cursor *c, int32_t *rank, int64_t *dims, struct d2_error *err)
{
    *rank = 0;
    if (!take_char(c, '('))
        return d2_errorf(err, D2_ERR_PARSE, ".npy header: 'shape' is not a tuple");
    while (!take_char(c, ')')) {
        int64_t v = 0;
        bool any = false;
        if (*rank >= D2_MAX_RANK)
            return d2_errorf(err, D2_ERR_UNSUPPORTED, ".npy shape has more than D2_MAX_RANK=%d dims", D2_MAX_RANK);
        skip_spaces(c);
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - (*c->p - '0')) / 10)
                return d2_errorf(err, D2_ERR_PARSE, ".npy header: shape dim too large");
            v = v * 10 + (*c->p++ - '0');
            any = true;
        }
        if (c->p < c->end && *c->p == 'L') /* Python 2 long suffix */
            c->p++;
        if (!any)
            return d2_errorf(err, D2_ERR_PARSE, ".npy header: bad shape tuple");
        dims[(*rank)++] = v;
        if (!take_char(c, ',')) {
            if (!take_char(c, ')'))
                return d2_errorf(err, D2_ERR_PARSE, ".npy header: bad shape tuple");
            break;
        }
    }
    return D2_OK;
}

static enum d2_status dtype_from_descr(const char *descr, enum d2_dtype *out, struct d2_error *err)
{
    char order = descr[0];
    if (order == '>' && strlen(descr) == 3 && descr[2] != '1')
        return d2_errorf(err, D2_ERR_UNSUPPORTED, ".npy dtype '%s' is big-endian; only little-endian is supported",
                         descr);
    if (order == '<' || order == '|' || order == '=' || order == '>') {
        for (size_t i = 0; i < NUM_NPY_DTYPES; i++) {
            if (strcmp(descr + 1, npy_dtypes[i].descr) != 0)
                continue;
            /* '|' (no byte order) and '>' only make sense for one-byte types. */
            if ((order == '|' || order == '>') && d2_dtype_size(npy_dtypes[i].dtype) != 1)
                break;
            *out = npy_dtypes[i].dtype;
            return D2_OK;
        }
    }
    return d2_errorf(err, D2_ERR_UNSUPPORTED,
                     ".npy dtype '%s' is not supported (f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, little-endian)", descr);
}

static enum d2_status parse_header(const char *text, size_t length, enum d2_dtype *dtype, int32_t *rank,
                                   int64_t *dims, struct d2_error *err)
{
    struct header_cursor c = { text, text + length };
    bool have_descr = false, have_order = false, have_shape = false;
    char key[32], descr[32];
    enum d2_status st;
    if (!take_char(&c, '{'))
        return d2_errorf(err, D2_ERR_PARSE, ".npy header is not a dict");
    while (!take_char(&c, '}')) {
        if (!take_string(&c, key, sizeof key) || !take_char(&c, ':'))
            return d2_errorf(err, D2_ERR_PARSE, ".npy header: expected 'key': value");
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!take_string(&c, descr, sizeof descr))
                return d2_errorf(err, D2_ERR_UNSUPPORTED,
                                 ".npy 'descr' is not a simple dtype string (structured arrays are not supported)");
            if ((st = dtype_from_descr(descr, dtype, err)) != D2_OK)
                return st;
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (take_word(&c, "True"))
                return d2_errorf(err, D2_ERR_UNSUPPORTED, ".npy file is in Fortran order; only C order is supported");
            if (!take_word(&c, "False"))
                return d2_errorf(err, D2_ERR_PARSE, ".npy header: 'fortran_order' is not True or False");
            have_order = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if ((st = take_shape(&c, rank, dims, err)) != D2_OK)
                return st;
            have_shape = true;
        } else {
            return d2_errorf(err, D2_ERR_PARSE, ".npy header: unexpected or repeated key '%s'", key);
        }
        if (!take_char(&c, ',')) {
            if (!take_char(&c, '}'))
                return d2_errorf(err, D2_ERR_PARSE, ".npy header: expected ',' or '}'");
            break;
        }
    }
    skip_spaces(&c);
    if (c.p != c.end)
        return d2_errorf(err, D2_ERR_PARSE, ".npy header: unexpected text after the dict");
    if (!have_descr || !have_order || !have_shape)
        return d2_errorf(err, D2_ERR_PARSE, ".npy header lacks '%s'",
                         !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return D2_OK;
}

enum d2_status d2_npy_parse(const void *data, size_t size, const struct d2_allocator *alloc,
                            struct d2_tensor *out, struct d2_error *err)
{
    const unsigned char *bytes = data;
    size_t header_length, prefix, data_bytes;
    enum d2_dtype dtype = D2_DTYPE_UNDEFINED;
    int64_t dims[D2_MAX_RANK] = { 0 }, numel;
    int32_t rank = 0;
    enum d2_status st;

    memset(out, 0, sizeof *out);
    if (!alloc)
        alloc = d2_allocator_default();
    if (size < 10 || memcmp(bytes, npy_magic, sizeof npy_magic) != 0)
        return d2_errorf(err, D2_ERR_PARSE, "not an .npy file (bad magic)");
    switch (bytes[6]) {
    case 1:
        header_length = (size_t)bytes[8] | (size_t)bytes[9] << 8;
        prefix = 10;
        break;
    case 2: case 3:
        if (size < 12)
            return d2_errorf(err, D2_ERR_PARSE, ".npy file truncated in its header");
        header_length = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 | (size_t)bytes[11] << 24;
        prefix = 12;
        break;
    default:
        return d2_errorf(err, D2_ERR_UNSUPPORTED, ".npy format version %u.%u is not supported (1.0-3.0)", bytes[6],
                         bytes[7]);
    }
    if (bytes[7] != 0)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, ".npy format version %u.%u is not supported (1.0-3.0)", bytes[6],
                         bytes[7]);
    if (header_length > size - prefix)
        return d2_errorf(err, D2_ERR_PARSE, ".npy file truncated in its header (%zu header bytes declared)",
                         header_length);
    if (memchr(bytes + prefix, '\0', header_length))
        return d2_errorf(err, D2_ERR_PARSE, ".npy header contains a NUL byte");
    st = parse_header((const char *)bytes + prefix, header_length, &dtype, &rank, dims, err);
    if (st != D2_OK)
        return st;
    numel = d2_dims_numel(rank, dims);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / d2_dtype_size(dtype))
        return d2_errorf(err, D2_ERR_PARSE, ".npy shape is too large");
    data_bytes = (size_t)numel * d2_dtype_size(dtype);
    if (data_bytes != size - prefix - header_length)
        return d2_errorf(err, D2_ERR_PARSE, ".npy data is %zu bytes, its shape and dtype need %zu",
                         size - prefix - header_length, data_bytes);
    st = d2_tensor_alloc(out, alloc, dtype, rank, dims, err);
    if (st != D2_OK)
        return st;
    if (data_bytes)
        memcpy(out->data, bytes + prefix + header_length, data_bytes);
    if (dtype == D2_DTYPE_BOOL)
        for (size_t i = 0; i < data_bytes; i++) {
            unsigned byte = ((const unsigned char *)out->data)[i];
            if (byte > 1) {
                d2_tensor_release(out, alloc);
                return d2_errorf(err, D2_ERR_PARSE, ".npy bool element %zu is %u, not 0 or 1", i, byte);
            }
        }
    return D2_OK;
}

enum d2_status d2_npy_read_file(const char *path, const struct d2_allocator *alloc, struct d2_tensor *out,
                                struct d2_error *err)
{
    FILE *f;
    long length;
    void *contents;
    enum d2_status st;
    memset(out, 0, sizeof *out);
    if (!alloc)
        alloc = d2_allocator_default();
    f = fopen(path, "rb");
    if (!f)
        return d2_errorf(err, D2_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (length = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return d2_errorf(err, D2_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    }
    contents = d2_alloc(alloc, length > 0 ? (size_t)length : 1);
    if (!contents) {
        fclose(f);
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory reading '%s' (%ld bytes)", path, length);
    }
    if (fread(contents, 1, (size_t)length, f) != (size_t)length) {
        fclose(f);
        d2_free(alloc, contents);
        return d2_errorf(err, D2_ERR_IO, "short read from '%s'", path);
    }
    fclose(f);
    st = d2_npy_parse(contents, (size_t)length, alloc, out, err);
    d2_free(alloc, contents);
    if (st != D2_OK)
        d2_error_prefix(err, "%s: ", path);
    return st;
}

/* ---- writing ------------------------------------------------------------------ */

enum d2_status d2_npy_write_file(const char *path, const struct d2_tensor *t, struct d2_error *err)
{
    char header[512], shape[D2_MAX_RANK * 24 + 8], first_dim[24];
    const char *descr = NULL;
    size_t header_length, pad, spare;
    int64_t numel = d2_tensor_numel(t);
    unsigned char prefix[10];
    FILE *f;
    bool ok;

    for (size_t i = 0; i < NUM_NPY_DTYPES; i++)
        if (npy_dtypes[i].dtype == t->dtype)
            descr = npy_dtypes[i].descr;
    if (!descr)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "cannot write dtype %s to .npy (NumPy has no such dtype)",
                         d2_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > D2_MAX_RANK || numel < 0 ||
        t->nbytes != (size_t)numel * d2_dtype_size(t->dtype) || (t->nbytes && !t->data))
        return d2_errorf(err, D2_ERR_INVALID_ARG, "tensor to write to '%s' has inconsistent shape and size", path);

    /* Python's repr of the shape tuple: (), (3,), (2, 3). */
    strcpy(shape, "(");
    for (int32_t i = 0; i < t->rank; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), i ? ", %lld" : "%lld", (long long)t->dims[i]);
    strcat(shape, t->rank == 1 ? ",)" : ")");
    /* numpy leaves room to grow the first axis in place: 21 digits minus its own. */
    snprintf(first_dim, sizeof first_dim, "%lld", t->rank > 0 ? (long long)t->dims[0] : 0LL);
    spare = t->rank > 0 ? 21 - strlen(first_dim) : 0;
    snprintf(header, sizeof header, "{'descr': '%c%s', 'fortran_order': False, 'shape': %s, }",
             d2_dtype_size(t->dtype) == 1 ? '|' : '<', descr, shape);
    header_length = strlen(header) + spare;
    /* Pad with spaces so that magic + version + length + header + '\n' is a multiple
     * of 64 (numpy pads a full 64 when it already is). */
    pad = 64 - (10 + header_length + 1) % 64;
    header_length += pad + 1;
    if (header_length > 65535)
        return d2_errorf(err, D2_ERR_INTERNAL, ".npy header too long");
    memset(header + strlen(header), ' ', header_length - 1 - strlen(header));
    header[header_length - 1] = '\n';

    memcpy(prefix, npy_magic, 6);
    prefix[6] = 1;
    prefix[7] = 0;
    prefix[8] = (unsigned char)(header_length & 0xff);
    prefix[9] = (unsigned char)(header_length >> 8);

    f = fopen(path, "wb");
    if (!f)
        return d2_errorf(err, D2_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    ok = fwrite(prefix, 1, sizeof prefix, f) == sizeof prefix && fwrite(header, 1, header_length, f) == header_length &&
         (t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, f) == t->nbytes);
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        return d2_errorf(err, D2_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return D2_OK;
}
