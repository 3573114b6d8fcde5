/* frontend/torchscript/ts_archive.c: a TorchScript / torch.save archive on top of the
 * zip reader and the pickle VM.
 *
 * Contract (ts_archive.h): opening validates the zip and finds the prefix directory;
 * entries are read (and CRC-checked) lazily, once, and cached until close; data.pkl
 * and constants.pkl are unpickled with persistent ids resolved to data/<key> and
 * constants/<key>; sources are found by qualified name. The module tree (ts_module.c)
 * builds on ts_archive_data and ts_archive_source.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/torchscript/ts_archive_internal.h"

#define MAX_NAME 4096

/* ---- opening ------------------------------------------------------------------- */

/* The prefix is the directory of a top-level-ish "data.pkl" (or "version"): at most
 * one directory deep, so an extra file named data.pkl deeper down is not mistaken. */
static bool prefix_candidate(const char *name, const char *base, size_t *prefix_len)
{
    size_t n = strlen(name), b = strlen(base);
    if (n < b || strcmp(name + n - b, base) != 0)
        return false;
    if (n == b) {
        *prefix_len = 0;
        return true;
    }
    if (name[n - b - 1] != '/')
        return false;
    const char *slash = strchr(name, '/');
    if (slash != name + n - b - 1 || slash == name)
        return false; /* deeper than one directory, or an empty directory name */
    *prefix_len = n - b;
    return true;
}

static enum d2_status find_prefix(struct ts_archive *a, struct d2_error *err)
{
    static const char *const markers[] = { "data.pkl", "version" };
    for (size_t m = 0; m < 2; m++)
        for (uint32_t i = 0; i < a->zip.num_entries; i++) {
            size_t len;
            if (prefix_candidate(a->zip.entries[i].name, markers[m], &len)) {
                a->prefix = d2_arena_strndup(&a->arena, a->zip.entries[i].name, len);
                if (!a->prefix)
                    return d2_errorf(err, D2_ERR_NOMEM, "torchscript: out of memory");
                a->prefix_len = len;
                return D2_OK;
            }
        }
    return d2_errorf(err, D2_ERR_PARSE, "torchscript: zip archive has no data.pkl or version entry "
                     "(not a TorchScript or torch.save file)");
}

static enum d2_status read_version(struct ts_archive *a, struct d2_error *err)
{
    const uint8_t *data;
    size_t size;
    enum d2_status st;
    a->version = -1;
    if (ts_archive_has(a, "version")) {
        if ((st = ts_archive_read(a, "version", &data, &size, err)) != D2_OK)
            return st;
        int64_t v = 0;
        size_t i = 0, digits = 0;
        for (; i < size && (data[i] >= '0' && data[i] <= '9') && digits < 9; i++, digits++)
            v = v * 10 + (data[i] - '0');
        while (i < size && (data[i] == '\n' || data[i] == '\r' || data[i] == ' '))
            i++;
        if (digits == 0 || i != size)
            return d2_errorf(err, D2_ERR_PARSE, "torchscript: 'version' entry is not a number");
        a->version = v;
    }
    if (ts_archive_has(a, "byteorder")) {
        if ((st = ts_archive_read(a, "byteorder", &data, &size, err)) != D2_OK)
            return st;
        if (!(size == 6 && memcmp(data, "little", 6) == 0))
            return d2_errorf(err, D2_ERR_UNSUPPORTED, "torchscript: byteorder '%.*s' (only little-endian archives)",
                             (int)(size < 16 ? size : 16), (const char *)data);
    }
    return D2_OK;
}

static struct ts_archive *open_image(const void *data, size_t size, const struct d2_allocator *alloc,
                                     void *mapping, struct d2_error *err)
{
    alloc = alloc ? alloc : d2_allocator_default();
    struct ts_archive *a = d2_calloc(alloc, 1, sizeof *a);
    if (!a) {
        if (mapping)
            munmap(mapping, size);
        d2_errorf(err, D2_ERR_NOMEM, "torchscript: out of memory");
        return NULL;
    }
    a->alloc = alloc;
    a->mapping = mapping;
    a->mapping_size = size;
    d2_arena_init(&a->arena, alloc);
    enum d2_status st = ts_zip_open(&a->zip, data, size, alloc, err);
    if (st == D2_OK) {
        a->cache = d2_calloc(alloc, a->zip.num_entries ? a->zip.num_entries : 1, sizeof *a->cache);
        if (!a->cache)
            st = d2_errorf(err, D2_ERR_NOMEM, "torchscript: out of memory");
    }
    if (st == D2_OK)
        st = find_prefix(a, err);
    if (st == D2_OK)
        st = read_version(a, err);
    if (st != D2_OK) {
        ts_archive_close(a);
        return NULL;
    }
    return a;
}

struct ts_archive *ts_archive_open_buffer(const void *data, size_t size, const struct d2_allocator *alloc,
                                          struct d2_error *err)
{
    return open_image(data, size, alloc, NULL, err);
}

struct ts_archive *ts_archive_open_file(const char *path, const struct d2_allocator *alloc, struct d2_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        d2_errorf(err, D2_ERR_IO, "torchscript: cannot open '%s'", path);
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        d2_errorf(err, D2_ERR_IO, "torchscript: '%s' is not a readable, non-empty file", path);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        d2_errorf(err, D2_ERR_IO, "torchscript: cannot map '%s'", path);
        return NULL;
    }
    struct ts_archive *a = open_image(map, size, alloc, map, err);
    if (!a)
        d2_error_prefix(err, "%s: ", path);
    return a;
}

void ts_archive_close(struct ts_archive *a)
{
    if (!a)
        return;
    if (a->cache)
        for (uint32_t i = 0; i < a->zip.num_entries; i++)
            if (a->cache[i].owned)
                d2_free(a->alloc, (void *)(uintptr_t)a->cache[i].data);
    d2_free(a->alloc, a->cache);
    ts_zip_close(&a->zip);
    d2_arena_deinit(&a->arena);
    if (a->mapping)
        munmap(a->mapping, a->mapping_size);
    d2_free(a->alloc, a);
}

/* ---- entries --------------------------------------------------------------------- */

const char *ts_archive_prefix(const struct ts_archive *a) { return a->prefix; }
int64_t ts_archive_version(const struct ts_archive *a) { return a->version; }

bool ts_archive_is_torchscript(const struct ts_archive *a)
{
    return ts_archive_has(a, "constants.pkl") && ts_archive_num_entries(a) > 0 &&
           ts_archive_find(a, "code/", true) >= 0;
}

int64_t ts_archive_find(const struct ts_archive *a, const char *name, bool as_prefix)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < a->zip.num_entries; i++) {
        const char *e = a->zip.entries[i].name;
        if (strncmp(e, a->prefix, a->prefix_len) != 0)
            continue;
        e += a->prefix_len;
        if (as_prefix ? strncmp(e, name, n) == 0 : strcmp(e, name) == 0)
            return i;
    }
    return -1;
}

uint32_t ts_archive_num_entries(const struct ts_archive *a)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < a->zip.num_entries; i++)
        n += strncmp(a->zip.entries[i].name, a->prefix, a->prefix_len) == 0;
    return n;
}

const char *ts_archive_entry_name(const struct ts_archive *a, uint32_t index)
{
    for (uint32_t i = 0; i < a->zip.num_entries; i++)
        if (strncmp(a->zip.entries[i].name, a->prefix, a->prefix_len) == 0 && index-- == 0)
            return a->zip.entries[i].name + a->prefix_len;
    return NULL;
}

bool ts_archive_has(const struct ts_archive *a, const char *name)
{
    return ts_archive_find(a, name, false) >= 0;
}

enum d2_status ts_archive_read_index(struct ts_archive *a, uint32_t index, const uint8_t **data, size_t *size,
                                     struct d2_error *err)
{
    struct ts_entry_cache *c = &a->cache[index];
    if (!c->loaded) {
        enum d2_status st = ts_zip_read(&a->zip, index, &c->data, &c->size, &c->owned, err);
        if (st != D2_OK)
            return st;
        c->loaded = true;
    }
    *data = c->data;
    *size = c->size;
    return D2_OK;
}

enum d2_status ts_archive_read(struct ts_archive *a, const char *name, const uint8_t **data, size_t *size,
                               struct d2_error *err)
{
    int64_t i = ts_archive_find(a, name, false);
    if (i < 0)
        return d2_errorf(err, D2_ERR_PARSE, "torchscript: archive has no entry '%s%s'", a->prefix, name);
    return ts_archive_read_index(a, (uint32_t)i, data, size, err);
}

/* ---- pickles ---------------------------------------------------------------------- */

struct storage_dir {
    struct ts_archive *archive;
    const char *dir; /* "data/" or "constants/" */
};

static enum d2_status load_storage(void *user, const char *key, const uint8_t **data, size_t *size,
                                   struct d2_error *err)
{
    const struct storage_dir *sd = user;
    char name[MAX_NAME];
    snprintf(name, sizeof name, "%s%s", sd->dir, key);
    return ts_archive_read(sd->archive, name, data, size, err);
}

static enum d2_status parse_pickle(struct ts_archive *a, const char *entry, const char *tensor_dir,
                                   struct ts_value **out, struct d2_error *err)
{
    const uint8_t *data;
    size_t size;
    enum d2_status st = ts_archive_read(a, entry, &data, &size, err);
    if (st != D2_OK)
        return st;
    struct storage_dir sd = { a, tensor_dir };
    struct ts_pickle_options opts = { load_storage, &sd, 0 };
    return ts_pickle_parse(data, size, entry, &opts, &a->arena, out, err);
}

enum d2_status ts_archive_data(struct ts_archive *a, const struct ts_value **root, struct d2_error *err)
{
    if (!a->data_root) {
        enum d2_status st = parse_pickle(a, "data.pkl", "data/", &a->data_root, err);
        if (st != D2_OK)
            return st;
    }
    *root = a->data_root;
    return D2_OK;
}

enum d2_status ts_archive_constants(struct ts_archive *a, const struct ts_value **tuple, struct d2_error *err)
{
    if (!a->constants) {
        struct ts_value *v = NULL;
        if (ts_archive_has(a, "constants.pkl")) {
            enum d2_status st = parse_pickle(a, "constants.pkl", "constants/", &v, err);
            if (st != D2_OK)
                return st;
            if (v->kind != TS_TUPLE)
                return d2_errorf(err, D2_ERR_PARSE, "torchscript: constants.pkl holds a %s, not a tuple",
                                 ts_kind_name(v->kind));
        } else if (!(v = d2_arena_alloc(&a->arena, sizeof *v))) {
            return d2_errorf(err, D2_ERR_NOMEM, "torchscript: out of memory");
        } else {
            v->kind = TS_TUPLE;
        }
        a->constants = v;
    }
    *tuple = a->constants;
    return D2_OK;
}

/* ---- sources and extra files -------------------------------------------------------- */

enum d2_status ts_archive_text(struct ts_archive *a, uint32_t index, const char **text, size_t *len,
                               struct d2_error *err)
{
    struct ts_entry_cache *c = &a->cache[index];
    if (!c->text) {
        const uint8_t *data;
        size_t size;
        enum d2_status st = ts_archive_read_index(a, index, &data, &size, err);
        if (st != D2_OK)
            return st;
        if (memchr(data, 0, size))
            return d2_errorf(err, D2_ERR_PARSE, "torchscript: '%s' is not text", a->zip.entries[index].name);
        char *t = d2_arena_strndup(&a->arena, (const char *)data, size);
        if (!t)
            return d2_errorf(err, D2_ERR_NOMEM, "torchscript: out of memory");
        c->text = t;
    }
    *text = c->text;
    *len = c->size;
    return D2_OK;
}

enum d2_status ts_archive_source(struct ts_archive *a, const char *qualified_name, const char **text, size_t *len,
                                 const char **file_name, struct d2_error *err)
{
    char name[MAX_NAME];
    size_t n = strlen(qualified_name);
    if (n + 10 >= sizeof name || strncmp(qualified_name, "__torch__", 9) != 0 ||
        (qualified_name[9] != '\0' && qualified_name[9] != '.'))
        return d2_errorf(err, D2_ERR_INVALID_ARG, "torchscript: '%.200s' is not a __torch__ name", qualified_name);
    /* The name is a module (code/<a/b/c>.py) or a class in one (code/<a/b>.py). */
    memcpy(name, "code/", 5);
    for (size_t i = 0; i <= n; i++)
        name[5 + i] = qualified_name[i] == '.' ? '/' : qualified_name[i];
    size_t end = 5 + n;
    for (int attempt = 0; attempt < 2; attempt++) {
        memcpy(name + end, ".py", 4);
        int64_t i = ts_archive_find(a, name, false);
        if (i >= 0) {
            if (file_name)
                *file_name = a->zip.entries[i].name + a->prefix_len;
            return ts_archive_text(a, (uint32_t)i, text, len, err);
        }
        while (end > 5 && name[end - 1] != '/')
            end--;
        if (end <= 5 + 10) /* "code/__torch__/": no shorter module than __torch__ */
            end = 5 + 9;
        else
            end--;
    }
    return d2_errorf(err, D2_ERR_PARSE, "torchscript: no source for '%.200s' under %scode/", qualified_name,
                     a->prefix);
}

enum d2_status ts_archive_extra(struct ts_archive *a, const char *name, const uint8_t **data, size_t *size,
                                struct d2_error *err)
{
    char entry[MAX_NAME];
    if (strlen(name) + 7 >= sizeof entry)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "torchscript: extra file name too long");
    snprintf(entry, sizeof entry, "extra/%s", name);
    return ts_archive_read(a, entry, data, size, err);
}
