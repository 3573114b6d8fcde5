/* frontend/torchscript/ts_archive_internal.h: the archive's fields, shared by
 * ts_archive.c (entries, pickles, sources) and ts_module.c (the module tree). */
#ifndef D2_TS_ARCHIVE_INTERNAL_H
#define D2_TS_ARCHIVE_INTERNAL_H

#include "frontend/torchscript/ts_archive.h"

/* One zip entry's bytes, read on first use. */
struct ts_entry_cache {
    const uint8_t *data;
    size_t size;
    bool loaded;
    bool owned;        /* inflated: freed at close */
    const char *text;  /* NUL-terminated copy (arena) for sources, or NULL */
};

struct ts_archive {
    const struct d2_allocator *alloc;
    struct d2_arena arena;        /* value trees, strings, module tree */
    struct ts_zip zip;
    void *mapping;                /* mmap of the file, or NULL for a caller's buffer */
    size_t mapping_size;
    const char *prefix;           /* "archive/" */
    size_t prefix_len;
    int64_t version;
    struct ts_entry_cache *cache; /* one per zip entry */
    struct ts_value *data_root;   /* data.pkl, once parsed */
    struct ts_value *constants;   /* constants.pkl, once parsed */
    struct ts_module *module_root;
};

/* Zip index of the entry named prefix + name (or, as_prefix, the first whose
 * relative name starts with name); -1 if none. */
int64_t ts_archive_find(const struct ts_archive *a, const char *name, bool as_prefix);
enum d2_status ts_archive_read_index(struct ts_archive *a, uint32_t index, const uint8_t **data, size_t *size,
                                     struct d2_error *err);
/* Entry bytes as NUL-terminated text (cached). */
enum d2_status ts_archive_text(struct ts_archive *a, uint32_t index, const char **text, size_t *len,
                               struct d2_error *err);

#endif
