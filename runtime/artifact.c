/* runtime/artifact.c: the public model.ir API (runtime/artifact.h) and the pieces the
 * writer and the reader share: the on-disk dtype and attribute-kind codes, hashing,
 * and the file plumbing (writing through a FILE, loading through a read-only mmap).
 *
 * The format itself is specified in docs/FORMAT.md; serialization lives in
 * artifact_write.c and parsing/validation in artifact_read.c. */
#include "artifact_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- codes fixed by the format -------------------------------------------- */

/* Code -> dtype text. Codes are part of the file format: never reorder, only append. */
const char *const d2_af_dtype_code_names[D2_AF_DTYPE_CODE_COUNT] = {
    "undefined", "f32", "f16", "bf16", "f64", "i64", "i32",
    "i16", "i8", "u8", "u16", "u32", "u64", "bool",
};

bool d2_af_dtype_to_code(enum d2_dtype t, uint32_t *code)
{
    const char *name;
    if ((unsigned)t >= D2_DTYPE_COUNT)
        return false;
    name = d2_dtype_name(t);
    for (uint32_t c = 0; c < D2_AF_DTYPE_CODE_COUNT; c++) {
        if (strcmp(d2_af_dtype_code_names[c], name) == 0) {
            *code = c;
            return true;
        }
    }
    return false;
}

bool d2_af_dtype_from_code(uint32_t code, enum d2_dtype *t)
{
    if (code >= D2_AF_DTYPE_CODE_COUNT)
        return false;
    if (code == 0) {
        *t = D2_DTYPE_UNDEFINED;
        return true;
    }
    return d2_dtype_from_name(d2_af_dtype_code_names[code], t);
}

uint8_t d2_af_field_kind_code(enum d2_attr_field_kind kind)
{
    switch (kind) {
    case D2_FIELD_INT: return D2_AF_FIELD_INT;
    case D2_FIELD_FLOAT: return D2_AF_FIELD_FLOAT;
    case D2_FIELD_INTS: return D2_AF_FIELD_INTS;
    case D2_FIELD_FLOATS: return D2_AF_FIELD_FLOATS;
    case D2_FIELD_STRING: return D2_AF_FIELD_STRING;
    case D2_FIELD_ENUM: return D2_AF_FIELD_ENUM;
    case D2_FIELD_DTYPE: return D2_AF_FIELD_DTYPE;
    }
    return 0;
}

uint64_t d2_af_hash(const void *data, size_t size)
{
    return (uint64_t)XXH64(data, size, 0);
}

void d2_af_one_line(struct d2_error *err)
{
    if (!err)
        return;
    for (char *p = err->message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

bool d2_artifact_sniff(const void *data, size_t size)
{
    return data && size >= D2_AF_MAGIC_SIZE && memcmp(data, D2_AF_MAGIC, D2_AF_MAGIC_SIZE) == 0;
}

/* ---- writing ---------------------------------------------------------------- */

/* Sink into one allocation of exactly the artifact's size. */
struct memory_sink {
    struct d2_af_sink base;
    const struct d2_allocator *alloc;
    uint8_t *data;
    size_t size, used;
};

static enum d2_status memory_begin(struct d2_af_sink *sink, uint64_t total, struct d2_error *err)
{
    struct memory_sink *m = (struct memory_sink *)sink;
    if (total > SIZE_MAX)
        return d2_errorf(err, D2_ERR_NOMEM, "model.ir of %llu bytes does not fit in memory",
                         (unsigned long long)total);
    m->data = d2_alloc(m->alloc, (size_t)total);
    if (!m->data)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory allocating a %llu-byte model.ir buffer",
                         (unsigned long long)total);
    m->size = (size_t)total;
    return D2_OK;
}

static enum d2_status memory_write(struct d2_af_sink *sink, const void *data, size_t size,
                                   struct d2_error *err)
{
    struct memory_sink *m = (struct memory_sink *)sink;
    /* The writer computed the size itself; overflowing it is a writer bug. */
    D2_ASSERT(size <= m->size - m->used);
    (void)err;
    if (size)
        memcpy(m->data + m->used, data, size);
    m->used += size;
    return D2_OK;
}

enum d2_status d2_artifact_write_buffer(const struct d2_graph *g, const struct d2_allocator *alloc,
                                        void **data_out, size_t *size_out, struct d2_error *err)
{
    struct memory_sink m;
    enum d2_status st;
    *data_out = NULL;
    *size_out = 0;
    if (!alloc)
        alloc = d2_allocator_default();
    memset(&m, 0, sizeof m);
    m.base.begin = memory_begin;
    m.base.write = memory_write;
    m.alloc = alloc;
    st = d2_af_write(g, alloc, &m.base, err);
    if (st != D2_OK) {
        d2_free(alloc, m.data);
        return st;
    }
    D2_ASSERT(m.used == m.size);
    *data_out = m.data;
    *size_out = m.size;
    return D2_OK;
}

struct file_sink {
    struct d2_af_sink base;
    FILE *f;
    const char *path;
};

static enum d2_status file_begin(struct d2_af_sink *sink, uint64_t total, struct d2_error *err)
{
    (void)sink;
    (void)total;
    (void)err;
    return D2_OK;
}

static enum d2_status file_write(struct d2_af_sink *sink, const void *data, size_t size,
                                 struct d2_error *err)
{
    struct file_sink *fs = (struct file_sink *)sink;
    if (size && fwrite(data, 1, size, fs->f) != size)
        return d2_errorf(err, D2_ERR_IO, "cannot write '%s': %s", fs->path, strerror(errno));
    return D2_OK;
}

enum d2_status d2_artifact_write_file(const struct d2_graph *g, const char *path, struct d2_error *err)
{
    struct file_sink fs;
    enum d2_status st;
    memset(&fs, 0, sizeof fs);
    fs.base.begin = file_begin;
    fs.base.write = file_write;
    fs.path = path;
    fs.f = fopen(path, "wb");
    if (!fs.f)
        return d2_errorf(err, D2_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    st = d2_af_write(g, g->alloc, &fs.base, err);
    /* A partly written file fails the loader's size and checksum checks, so an
     * error here never leaves a file that loads as something else. */
    if (fclose(fs.f) != 0 && st == D2_OK)
        st = d2_errorf(err, D2_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return st;
}

/* ---- loading ------------------------------------------------------------------ */

struct d2_graph *d2_artifact_load_buffer(const void *data, size_t size, const struct d2_allocator *alloc,
                                         struct d2_error *err)
{
    if (!alloc)
        alloc = d2_allocator_default();
    if (!data && size) {
        d2_errorf(err, D2_ERR_INVALID_ARG, "model.ir buffer is NULL");
        return NULL;
    }
    return d2_af_load(data, size, alloc, err);
}

/* The mapping a loaded graph's constants and names borrow; released by d2_graph_free. */
struct file_mapping {
    void *addr;
    size_t size;
    const struct d2_allocator *alloc;
};

static void file_mapping_release(void *backing)
{
    struct file_mapping *m = backing;
    munmap(m->addr, m->size);
    d2_free(m->alloc, m);
}

struct d2_graph *d2_artifact_load_file(const char *path, const struct d2_allocator *alloc,
                                       struct d2_error *err)
{
    struct file_mapping *mapping;
    struct d2_graph *g;
    struct stat st;
    void *addr;
    int fd;
    if (!alloc)
        alloc = d2_allocator_default();
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        d2_errorf(err, D2_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        d2_errorf(err, D2_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        d2_errorf(err, D2_ERR_IO, "'%s' is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size < D2_AF_HEADER_SIZE) {
        /* mmap of an empty file fails; a short file cannot hold a header either. */
        d2_errorf(err, D2_ERR_PARSE, "'%s' is not a model.ir file: %lld bytes is shorter than the %d-byte header",
                  path, (long long)st.st_size, D2_AF_HEADER_SIZE);
        close(fd);
        return NULL;
    }
    if ((unsigned long long)st.st_size > SIZE_MAX) {
        d2_errorf(err, D2_ERR_UNSUPPORTED, "'%s' is too large to map", path);
        close(fd);
        return NULL;
    }
    addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd); /* the mapping keeps the file alive */
    if (addr == MAP_FAILED) {
        d2_errorf(err, D2_ERR_IO, "cannot mmap '%s': %s", path, strerror(errno));
        return NULL;
    }
    mapping = d2_alloc(alloc, sizeof *mapping);
    if (!mapping) {
        munmap(addr, (size_t)st.st_size);
        d2_errorf(err, D2_ERR_NOMEM, "out of memory loading '%s'", path);
        return NULL;
    }
    mapping->addr = addr;
    mapping->size = (size_t)st.st_size;
    mapping->alloc = alloc;
    g = d2_af_load(addr, mapping->size, alloc, err);
    if (!g) {
        d2_error_prefix(err, "'%s': ", path);
        file_mapping_release(mapping);
        return NULL;
    }
    g->backing = mapping;
    g->backing_release = file_mapping_release;
    return g;
}
