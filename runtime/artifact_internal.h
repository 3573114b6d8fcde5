/* runtime/artifact_internal.h: layout constants and helpers shared by the model.ir
 * writer (artifact_write.c), reader (artifact_read.c), common code (artifact.c) and
 * the fuzz harness (tests/fuzz/fuzz_artifact.c). Not a public header.
 *
 * docs/FORMAT.md is the specification; the numbers here must match it. All integers
 * in the file are little-endian; they are read and written through the byte helpers
 * below (memcpy based), so no unaligned or type-punned access ever happens. */
#ifndef D2_RUNTIME_ARTIFACT_INTERNAL_H
#define D2_RUNTIME_ARTIFACT_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "artifact.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model.ir stores little-endian data and d2rt borrows it in place: big-endian hosts are not supported"
#endif

/* ---- header (64 bytes at offset 0) ---------------------------------------- */
#define D2_AF_MAGIC "D2RTIR\0\x1a"     /* 8 bytes; \0 and ^Z stop text tools early */
#define D2_AF_MAGIC_SIZE 8
#define D2_AF_VERSION_MAJOR 1
#define D2_AF_VERSION_MINOR 0
#define D2_AF_VERSION_MINOR_PLAN 1 /* written when the file has a memory plan section */
#define D2_AF_HEADER_SIZE 64
/* byte offsets within the header */
#define D2_AF_OFF_MAGIC 0
#define D2_AF_OFF_VERSION_MAJOR 8        /* u16: fixed forever, read before the checksum */
#define D2_AF_OFF_VERSION_MINOR 10       /* u16 */
#define D2_AF_OFF_FLAGS 12               /* u32 */
#define D2_AF_OFF_FILE_SIZE 16           /* u64 */
#define D2_AF_OFF_SECTION_COUNT 24       /* u32 */
#define D2_AF_OFF_RESERVED0 28           /* u32, zero */
#define D2_AF_OFF_TABLE_CHECKSUM 32      /* u64: XXH64 of the section table */
#define D2_AF_OFF_RESERVED1 40           /* 16 bytes, zero */
#define D2_AF_OFF_HEADER_CHECKSUM 56     /* u64: XXH64 of header bytes [0, 56) */
/* Flags: bits 0..15 must be understood by the reader (unknown ones are rejected),
 * bits 16..31 are hints an older reader may ignore. Version 1.0 defines none. */
#define D2_AF_FLAGS_REQUIRED_MASK 0x0000FFFFu
#define D2_AF_FLAGS_KNOWN 0u

/* ---- section table (right after the header) ------------------------------- */
#define D2_AF_SECTION_ENTRY_SIZE 32      /* u32 kind, u32 flags, u64 offset, u64 size, u64 xxh64 */
#define D2_AF_MAX_SECTIONS 64            /* sanity bound on section_count */
#define D2_AF_ALIGN 64                   /* sections and constant data start on multiples of this */

enum d2_af_section_kind {
    D2_AF_SECTION_STRINGS = 1,
    D2_AF_SECTION_GRAPH = 2,
    D2_AF_SECTION_CONSTANTS = 3,
    D2_AF_SECTION_METADATA = 4,
    D2_AF_SECTION_MEMORY_PLAN = 5, /* optional, format 1.1 (runtime/artifact_plan.c) */
};

/* ---- encodings inside sections -------------------------------------------- */
#define D2_AF_NO_STRING UINT32_MAX       /* string id meaning NULL */
#define D2_AF_NO_CONSTANT UINT32_MAX     /* a value's constant index when it is not a constant */
#define D2_AF_MAX_REGION_DEPTH 64        /* nesting bound, so loading never overflows the stack */
/* Bound on graphs (top level + regions) per file: each loaded graph costs an arena
 * chunk (64 KiB), so this keeps a small hostile file from claiming gigabytes. */
#define D2_AF_MAX_GRAPHS 4096
#define D2_AF_TENSOR_DESC_SIZE 88        /* u32 dtype, i32 rank, i64 dims[8], u64 offset, u64 nbytes */

/* On-disk dtype codes: fixed by the format, independent of enum d2_dtype's order.
 * Index = code; the text is matched against d2_dtype_name(). */
#define D2_AF_DTYPE_CODE_COUNT 14
extern const char *const d2_af_dtype_code_names[D2_AF_DTYPE_CODE_COUNT];
/* enum d2_dtype -> code; false for a dtype with no code. */
bool d2_af_dtype_to_code(enum d2_dtype t, uint32_t *code);
/* code -> enum d2_dtype; false for an unknown code. */
bool d2_af_dtype_from_code(uint32_t code, enum d2_dtype *t);

/* On-disk attribute field kinds (fixed by the format). */
enum d2_af_field_kind {
    D2_AF_FIELD_INT = 1, D2_AF_FIELD_FLOAT = 2, D2_AF_FIELD_INTS = 3, D2_AF_FIELD_FLOATS = 4,
    D2_AF_FIELD_STRING = 5, D2_AF_FIELD_ENUM = 6, D2_AF_FIELD_DTYPE = 7,
};
uint8_t d2_af_field_kind_code(enum d2_attr_field_kind kind);

/* Replaces control characters in err's message with '?': names quoted from a file or
 * a graph may contain newlines, and messages are one line. */
void d2_af_one_line(struct d2_error *err);

/* XXH64 with seed 0 over a byte range. */
uint64_t d2_af_hash(const void *data, size_t size);

/* ---- little-endian byte helpers ------------------------------------------- */
static inline uint16_t d2_af_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t d2_af_get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline uint64_t d2_af_get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void d2_af_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void d2_af_put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof v); }
static inline void d2_af_put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof v); }

static inline uint64_t d2_af_align_up(uint64_t x) { return (x + (D2_AF_ALIGN - 1)) & ~(uint64_t)(D2_AF_ALIGN - 1); }

/* The reader proper: loads from bytes that outlive the graph. artifact.c wraps it for
 * files (mmap) and for caller buffers. */
struct d2_graph *d2_af_load(const uint8_t *data, size_t size, const struct d2_allocator *alloc,
                            struct d2_error *err);

/* The writer emits bytes through a sink, so a file is written without first building
 * the whole artifact (constants can be large) in memory. */
struct d2_af_sink {
    /* Called once, before any write, with the exact number of bytes that will follow. */
    enum d2_status (*begin)(struct d2_af_sink *sink, uint64_t total_size, struct d2_error *err);
    enum d2_status (*write)(struct d2_af_sink *sink, const void *data, size_t size, struct d2_error *err);
};
/* The memory plan section (runtime/artifact_plan.c): encode g->memory_plan (no
 * section, *data_out NULL, when g has none), and decode one into a loaded g. */
enum d2_status d2_af_encode_plan(const struct d2_graph *g, const struct d2_allocator *alloc, uint8_t **data_out,
                                 size_t *size_out, struct d2_error *err);
enum d2_status d2_af_decode_plan(const uint8_t *data, uint64_t size, struct d2_graph *g, struct d2_error *err);

/* Serializes g into sink; alloc is used for the writer's scratch memory. */
enum d2_status d2_af_write(const struct d2_graph *g, const struct d2_allocator *alloc,
                           struct d2_af_sink *sink, struct d2_error *err);

#endif
