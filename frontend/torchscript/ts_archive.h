/* frontend/torchscript/ts_archive.h: reading a TorchScript archive (torch.jit.save)
 * or a torch.save zip file, without Python and without libtorch.
 *
 * Three layers, each usable on its own (tests and fuzzers use the lower two):
 *
 *   ts_zip_*      the zip container (ts_zip.c): central directory, zip64 records,
 *                 stored and deflated entries, CRC32 checked on every read.
 *   ts_pickle_*   a pickle VM (ts_pickle.c) for protocols 2-5 as torch writes them,
 *                 producing a neutral tree of struct ts_value. Tensors are rebuilt
 *                 from torch's globals (_rebuild_tensor_v2, storages, persistent ids).
 *   ts_archive_*  the archive (ts_archive.c): finds the prefix directory, reads
 *                 `version`, `byteorder`, data.pkl (the module tree), constants.pkl
 *                 (the CONSTANTS.cN tuple), code/ sources and extra/ files.
 *
 * Layout of a TorchScript archive (the prefix, here "archive/", varies by writer:
 * "archive/", "model/", or the file's stem):
 *   archive/version              decimal file-format version (torch 1.8-2.x: 3..10)
 *   archive/byteorder            "little" (absent in older archives; big is refused)
 *   archive/data.pkl             the root module object, its attributes and tensors
 *   archive/data/<key>           raw storage bytes for data.pkl's tensors
 *   archive/constants.pkl        tuple of the constants the code calls CONSTANTS.c0..
 *   archive/constants/<key>      raw storage bytes for constants.pkl's tensors
 *   archive/code/__torch__/a/b.py  source of the classes in module __torch__.a.b
 *   archive/extra/<name>         _extra_files given to torch.jit.save
 *   archive/.data/...            serialization_id, version of torch's writer (unused)
 * torch.save (new zip format) has the same shape with only data.pkl and data/.
 * torch.save(..., _use_new_zipfile_serialization=False) writes a raw pickle stream,
 * not a zip; that legacy format is out of scope and is refused (not a zip).
 *
 * Memory: everything an archive hands out (entry bytes, value trees, strings,
 * tensor storage) lives until ts_archive_close. Tensor data is zero-copy where it
 * can be: a stored (uncompressed) data/<key> entry is referenced where it lies in the
 * mapped file or caller's buffer; deflated entries are inflated once and cached.
 * Tensors with non-contiguous strides, or whose data is misaligned for the dtype,
 * are copied into a contiguous buffer the archive owns.
 *
 * Errors: D2_ERR_PARSE for malformed input (bad zip, bad CRC, truncated or
 * inconsistent pickle), D2_ERR_UNSUPPORTED for valid input d2rt does not read (an
 * unknown pickle global, named in the message; big-endian data; legacy format),
 * D2_ERR_IO for files, D2_ERR_NOMEM for allocations. Messages name the entry.
 * No function crashes on any input; recursion and memory are bounded.
 */
#ifndef D2_TS_ARCHIVE_H
#define D2_TS_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* ======================================================================
 * Values: the neutral object tree a pickle produces
 * ====================================================================== */

enum ts_kind {
    TS_NONE,
    TS_BOOL,    /* u.b */
    TS_INT,     /* u.i (Python int; values beyond int64 are refused) */
    TS_FLOAT,   /* u.f */
    TS_STRING,  /* u.str: UTF-8 bytes, NUL-terminated, len excludes the NUL */
    TS_BYTES,   /* u.str: raw bytes (also NUL-terminated for convenience) */
    TS_TUPLE,   /* u.seq */
    TS_LIST,    /* u.seq */
    TS_SET,     /* u.seq (set or frozenset; insertion order) */
    TS_DICT,    /* u.dict: ordered as pickled (== Python insertion order) */
    TS_TENSOR,  /* u.tensor */
    TS_OBJECT,  /* u.object: an instance of a class, e.g. a __torch__.* module */
    TS_GLOBAL,  /* u.global: a reference to a class or function not applied */
    TS_STORAGE, /* u.storage: an untyped storage (appears only inside tensors) */
};

struct ts_value;

struct ts_seq {
    struct ts_value **items;
    uint32_t count;
    uint32_t capacity; /* internal */
};

struct ts_dict {
    struct ts_value **keys;  /* keys[i] maps to values[i] */
    struct ts_value **values;
    uint32_t count;
    uint32_t capacity; /* internal */
};

/* A tensor rebuilt by torch._utils._rebuild_tensor_v2 (or a parameter). */
struct ts_tensor {
    struct d2_tensor tensor;   /* dense row-major; owns_data is always false: the
                                * archive owns (or maps) the bytes */
    const char *storage_key;   /* "3" for data/3 (the persistent id's key) */
    int64_t storage_offset;    /* in elements, as pickled */
    bool requires_grad;
    bool is_parameter;         /* went through _rebuild_parameter */
    bool copied;               /* materialized (non-contiguous or misaligned) */
};

struct ts_storage {
    enum d2_dtype dtype;       /* from torch.FloatStorage etc., or UNDEFINED for untyped */
    const char *key;
    const char *location;      /* "cpu", "cuda:0", ... */
    const uint8_t *data;       /* the entry's bytes */
    size_t nbytes;
};

struct ts_object {
    const char *class_name;    /* qualified: "__torch__.detectron2.layers.wrappers.Conv2d" */
    struct ts_value *args;     /* NEWOBJ/REDUCE arguments (a tuple), never NULL */
    struct ts_value *state;    /* BUILD state (a dict for modules), or NULL */
};

struct ts_global {
    const char *module;        /* "torch._utils" */
    const char *name;          /* "_rebuild_tensor_v2" */
};

struct ts_value {
    enum ts_kind kind;
    /* torch.jit._pickle.restore_type_tag's type string ("Dict[str, Tensor]",
     * "List[int]"), or the element type of build_intlist etc. ("int"); else NULL. */
    const char *type_tag;
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *data; size_t len; } str;
        struct ts_seq seq;
        struct ts_dict dict;
        struct ts_tensor tensor;
        struct ts_object object;
        struct ts_global global;
        struct ts_storage storage;
    } u;
};

const char *ts_kind_name(enum ts_kind kind); /* "none", "bool", ... */

/* Dict lookup by string key; NULL when absent or when d is not a dict. */
const struct ts_value *ts_dict_get(const struct ts_value *d, const char *key);
/* An object's attribute: its state dict's entry; NULL when absent. */
const struct ts_value *ts_object_attr(const struct ts_value *obj, const char *name);
/* Short class name of an object ("Conv2d"), or NULL for a non-object. */
const char *ts_object_short_name(const struct ts_value *obj);

/* ======================================================================
 * Zip container (ts_zip.c)
 * ====================================================================== */

enum ts_zip_method { TS_ZIP_STORED = 0, TS_ZIP_DEFLATED = 8 };

struct ts_zip_entry {
    const char *name;          /* full path in the archive, NUL-terminated */
    uint64_t header_offset;    /* of the local file header */
    uint64_t data_offset;      /* of the (compressed) bytes, resolved at open */
    uint64_t compressed_size;
    uint64_t size;             /* uncompressed */
    uint32_t crc32;
    uint16_t method;           /* enum ts_zip_method; others are refused on read */
};

/* The reader never reads outside [data, data + size). Limits (for bombs): entries
 * at most TS_ZIP_MAX_ENTRIES; a deflated entry's declared size at most
 * TS_ZIP_MAX_INFLATED and at most 1032x its compressed size (deflate's ceiling). */
#define TS_ZIP_MAX_ENTRIES (1u << 20)
#define TS_ZIP_MAX_INFLATED ((uint64_t)4 << 30)

struct ts_zip {
    const struct d2_allocator *alloc;
    const uint8_t *data;       /* borrowed */
    size_t size;
    struct ts_zip_entry *entries;
    uint32_t num_entries;
    char *names;               /* one allocation holding every entry name */
};

/* Parse the central directory of a zip image (which must stay alive). */
enum d2_status ts_zip_open(struct ts_zip *zip, const void *data, size_t size,
                           const struct d2_allocator *alloc, struct d2_error *err);
void ts_zip_close(struct ts_zip *zip);
/* Index of the entry with exactly this name, or -1. */
int64_t ts_zip_find(const struct ts_zip *zip, const char *name);
/* The uncompressed bytes of entry i, CRC32-checked. A stored entry is returned in
 * place (*owned = false); a deflated one is inflated into a new allocation from
 * zip->alloc (*owned = true; the caller frees it with d2_free). */
enum d2_status ts_zip_read(const struct ts_zip *zip, uint32_t index, const uint8_t **out,
                           size_t *out_size, bool *owned, struct d2_error *err);

/* ======================================================================
 * Pickle VM (ts_pickle.c)
 * ====================================================================== */

/* Persistent-id resolver: given a storage key ("0"), return its bytes (which must
 * outlive the parsed tree). Returns an error status for a missing entry. */
typedef enum d2_status (*ts_storage_fn)(void *user, const char *key, const uint8_t **data,
                                        size_t *size, struct d2_error *err);

struct ts_pickle_options {
    ts_storage_fn load_storage; /* NULL: a persistent id is an error */
    void *load_storage_user;
    /* Total bytes that may be copied to make tensors contiguous (0: default 1 GiB). */
    uint64_t max_copy_bytes;
};

/* Depth limit of nested containers (bounds every recursive walk of the tree) and
 * of the VM's stack. */
#define TS_PICKLE_MAX_DEPTH 512
#define TS_PICKLE_MAX_STACK (1u << 22)

/* Run a pickle program; *out is the value STOP returns. Every value, string and
 * copied tensor is allocated from `arena`. `what` names the input in errors
 * ("data.pkl"). */
enum d2_status ts_pickle_parse(const uint8_t *data, size_t size, const char *what,
                               const struct ts_pickle_options *opts, struct d2_arena *arena,
                               struct ts_value **out, struct d2_error *err);

/* ======================================================================
 * Archive (ts_archive.c)
 * ====================================================================== */

struct ts_archive;

/* Open a file (memory-mapped, read-only) or a caller's buffer (borrowed: it must
 * outlive the archive). alloc NULL: the default allocator. Validates the zip, finds
 * the prefix directory (the directory holding `version` or `data.pkl`) and reads
 * `version` and `byteorder`. */
struct ts_archive *ts_archive_open_file(const char *path, const struct d2_allocator *alloc,
                                        struct d2_error *err);
struct ts_archive *ts_archive_open_buffer(const void *data, size_t size,
                                          const struct d2_allocator *alloc, struct d2_error *err);
void ts_archive_close(struct ts_archive *archive);

/* "archive/" (with the slash) or "" when entries sit at the top level. */
const char *ts_archive_prefix(const struct ts_archive *archive);
/* Contents of `version` (e.g. 3 for torch 1.13 TorchScript, 10 recent), or -1 when
 * the archive has no version entry (not a TorchScript or torch.save archive). */
int64_t ts_archive_version(const struct ts_archive *archive);
/* True when code/ and constants.pkl exist: a TorchScript module, not torch.save. */
bool ts_archive_is_torchscript(const struct ts_archive *archive);

/* Entries, by name relative to the prefix ("data.pkl", "code/__torch__.py").
 * Entries outside the prefix directory are not listed. */
uint32_t ts_archive_num_entries(const struct ts_archive *archive);
const char *ts_archive_entry_name(const struct ts_archive *archive, uint32_t index);
bool ts_archive_has(const struct ts_archive *archive, const char *name);
/* Bytes of an entry (cached; valid until close). D2_ERR_PARSE names a missing entry. */
enum d2_status ts_archive_read(struct ts_archive *archive, const char *name,
                               const uint8_t **data, size_t *size, struct d2_error *err);

/* data.pkl: the root object (a TorchScript module: TS_OBJECT of a __torch__ class
 * whose state dict holds every attribute: "training", parameters and buffers as
 * TS_TENSOR, submodules as TS_OBJECT, other attributes as plain values). For a
 * torch.save file this is whatever was saved (often a dict of tensors).
 * Parsed once, then cached. */
enum d2_status ts_archive_data(struct ts_archive *archive, const struct ts_value **root,
                               struct d2_error *err);
/* constants.pkl: a TS_TUPLE (CONSTANTS.c<i> is item i); an empty tuple when absent. */
enum d2_status ts_archive_constants(struct ts_archive *archive, const struct ts_value **tuple,
                                    struct d2_error *err);

/* Source text (NUL-terminated) of the Python module holding a qualified class name
 * or module name: "__torch__.detectron2.layers.wrappers.Conv2d" and
 * "__torch__.detectron2.layers.wrappers" both find code/__torch__/detectron2/layers/
 * wrappers.py (the name as a module first, then without its last component);
 * "__torch__.Tiny" finds code/__torch__.py. *file_name, if not NULL, gets the entry
 * name. D2_ERR_PARSE when neither file exists. */
enum d2_status ts_archive_source(struct ts_archive *archive, const char *qualified_name,
                                 const char **text, size_t *len, const char **file_name,
                                 struct d2_error *err);
/* extra/<name> given to torch.jit.save(_extra_files=...). */
enum d2_status ts_archive_extra(struct ts_archive *archive, const char *name,
                                const uint8_t **data, size_t *size, struct d2_error *err);

/* ---- the module tree (built from data.pkl plus each class's declarations) ---- */

enum ts_attr_role {
    TS_ATTR_PARAMETER, /* named in the class's __parameters__ */
    TS_ATTR_BUFFER,    /* named in __buffers__ */
    TS_ATTR_SUBMODULE, /* a TS_OBJECT of a __torch__ class that is a module */
    TS_ATTR_OTHER,     /* training flag, ints, lists, non-module objects, ... */
};

struct ts_module;

struct ts_module_attr {
    const char *name;
    const struct ts_value *value;
    enum ts_attr_role role;
    struct ts_module *submodule; /* role SUBMODULE: its tree; else NULL */
};

struct ts_module {
    const char *class_name;     /* qualified, possibly mangled (___torch_mangle_N) */
    const char *path;           /* "" for the root, "model.backbone.fpn_lateral2" */
    const struct ts_value *object;
    bool training;
    struct ts_module_attr *attrs; /* in state-dict order */
    uint32_t num_attrs;
};

/* The root module with roles resolved from the class sources
 * (`__parameters__ = ["weight", "bias", ]`, `__buffers__ = [...]`). Cached. */
enum d2_status ts_archive_module(struct ts_archive *archive, const struct ts_module **root,
                                 struct d2_error *err);
/* Walk by dotted path ("model.backbone"); NULL when absent. "" is the root. */
const struct ts_module *ts_module_find(const struct ts_module *root, const char *path);
const struct ts_module_attr *ts_module_attr(const struct ts_module *m, const char *name);

#endif
