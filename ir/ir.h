/* ir/ir.h: d2rt's intermediate representation, and the small core every module shares
 * (status codes, allocator hook, arena, dtypes, tensors).
 *
 * The IR is index-based SSA in flat arrays:
 *   - a graph owns arrays of nodes (in topological order), values and constants;
 *   - a value is referenced by its index (d2_value_id) and has exactly one producer:
 *     a node output, a graph input, or a constant;
 *   - a value carries a d2_type: dtype plus a shape whose dims are known, symbolic
 *     (named, e.g. "batch") or data-dependent (unknown, maybe with an upper bound);
 *   - a node carries its op's typed attribute struct (ir/attrs.def) and, for control
 *     flow, nested region graphs. Regions are self-contained: a value from the
 *     enclosing graph that a region reads is passed in explicitly as a node input
 *     ("capture") and appears as a region input.
 * Nothing here knows about a file format or a backend.
 *
 * Memory: everything a graph holds (nodes, values, attribute structs, names) lives in
 * the graph's arena and is freed at once by d2_graph_free. Constant tensors either own
 * heap storage (freed with the graph) or borrow it (e.g. mmap'd from model.ir).
 * All allocations go through a struct d2_allocator so tests can make them fail.
 *
 * Errors: functions return enum d2_status and write the message into a struct
 * d2_error supplied by the caller. Library code never prints and never exits.
 */
#ifndef D2_IR_H
#define D2_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ======================================================================
 * Status and errors (ir/error.c)
 * ====================================================================== */

enum d2_status {
    D2_OK = 0,
    D2_ERR_IO,          /* file missing, unreadable, short read */
    D2_ERR_PARSE,       /* malformed input: model file, IR text, artifact, npy */
    D2_ERR_UNSUPPORTED, /* valid input d2rt does not handle (op, attribute value, dtype) */
    D2_ERR_SHAPE,       /* shapes or dtypes that do not fit the op */
    D2_ERR_NOMEM,       /* an allocation failed */
    D2_ERR_BACKEND,     /* a backend failed at run time */
    D2_ERR_INVALID_ARG, /* an API caller passed something wrong */
    D2_ERR_INTERNAL,    /* a d2rt bug: verifier failure after a pass, broken invariant */
};

#define D2_ERROR_MESSAGE_MAX 1024

/* The first error wins: later d2_errorf calls on a set error keep the first
 * message (the root cause) but still return their own code. */
struct d2_error {
    enum d2_status code;                 /* D2_OK while no error was recorded */
    char message[D2_ERROR_MESSAGE_MAX];  /* one line, no trailing newline */
};

enum d2_status d2_errorf(struct d2_error *err, enum d2_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum d2_status d2_verrorf(struct d2_error *err, enum d2_status code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Prefix context to an existing message ("node 'conv1': " + msg). */
void d2_error_prefix(struct d2_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void d2_error_clear(struct d2_error *err);
const char *d2_status_name(enum d2_status code);

/* For invariants user input cannot reach: prints file:line and aborts. */
void d2_assert_fail(const char *expr, const char *file, int line);
#define D2_ASSERT(x) ((x) ? (void)0 : d2_assert_fail(#x, __FILE__, __LINE__))

/* ======================================================================
 * Allocator hook (ir/alloc.c)
 * ====================================================================== */

/* realloc_fn(user, ptr, new_size): ptr NULL allocates, new_size 0 frees (returns NULL),
 * otherwise resizes. Returns NULL on failure (ptr stays valid). Lua's lua_Alloc. */
struct d2_allocator {
    void *(*realloc_fn)(void *user, void *ptr, size_t new_size);
    void *user;
};

const struct d2_allocator *d2_allocator_default(void);
void *d2_alloc(const struct d2_allocator *a, size_t size);           /* uninitialized */
void *d2_calloc(const struct d2_allocator *a, size_t count, size_t size); /* zeroed, overflow-checked */
void *d2_realloc(const struct d2_allocator *a, void *ptr, size_t size);
void d2_free(const struct d2_allocator *a, void *ptr);
char *d2_strdup(const struct d2_allocator *a, const char *s);

/* Bump arena: allocations are zeroed, 16-byte aligned, freed all at once. */
struct d2_arena_chunk;
struct d2_arena {
    const struct d2_allocator *alloc;
    struct d2_arena_chunk *chunks; /* newest first */
    size_t bytes_allocated;        /* total payload handed out */
};
void d2_arena_init(struct d2_arena *arena, const struct d2_allocator *alloc);
void *d2_arena_alloc(struct d2_arena *arena, size_t size);     /* NULL on failure */
char *d2_arena_strdup(struct d2_arena *arena, const char *s);  /* NULL s gives NULL */
char *d2_arena_strndup(struct d2_arena *arena, const char *s, size_t n);
void d2_arena_deinit(struct d2_arena *arena);

/* ======================================================================
 * Element types (ir/dtype.c)
 * ====================================================================== */

/* X(ID, name, size_bytes) */
#define D2_DTYPE_LIST(X) \
    X(F32, "f32", 4)     \
    X(F16, "f16", 2)     \
    X(BF16, "bf16", 2)   \
    X(F64, "f64", 8)     \
    X(I64, "i64", 8)     \
    X(I32, "i32", 4)     \
    X(I16, "i16", 2)     \
    X(I8, "i8", 1)       \
    X(U8, "u8", 1)       \
    X(U16, "u16", 2)     \
    X(U32, "u32", 4)     \
    X(U64, "u64", 8)     \
    X(BOOL, "bool", 1)

enum d2_dtype {
    D2_DTYPE_UNDEFINED = 0,
#define D2_X(ID, name, size) D2_DTYPE_##ID,
    D2_DTYPE_LIST(D2_X)
#undef D2_X
    D2_DTYPE_COUNT
};

size_t d2_dtype_size(enum d2_dtype t);              /* 0 for UNDEFINED */
const char *d2_dtype_name(enum d2_dtype t);         /* "f32", ...; "undefined" */
bool d2_dtype_from_name(const char *name, enum d2_dtype *out);
bool d2_dtype_is_float(enum d2_dtype t);            /* f32 f16 bf16 f64 */
bool d2_dtype_is_integer(enum d2_dtype t);          /* signed or unsigned ints, not bool */
bool d2_dtype_is_signed(enum d2_dtype t);           /* floats and signed ints */

/* Scalar access by element index, converting through double or int64. These are
 * the reference kernels' way of being dtype-generic: slow, obviously correct. */
double d2_load_f64(const void *data, enum d2_dtype t, size_t index);
void d2_store_f64(void *data, enum d2_dtype t, size_t index, double v); /* C conversion rules; bool: v != 0 */
int64_t d2_load_i64(const void *data, enum d2_dtype t, size_t index);   /* floats truncate */
void d2_store_i64(void *data, enum d2_dtype t, size_t index, int64_t v);

float d2_f16_to_f32(uint16_t h);
uint16_t d2_f32_to_f16(float f);   /* round to nearest even */
float d2_bf16_to_f32(uint16_t h);
uint16_t d2_f32_to_bf16(float f);  /* round to nearest even */

/* ======================================================================
 * Types and tensors (ir/tensor.c)
 * ====================================================================== */

#define D2_MAX_RANK 8
#define D2_DIM_UNKNOWN (-1) /* dims[i] when not known before run time */
#define D2_RANK_UNKNOWN (-1)

/* The static type of a value. */
struct d2_type {
    enum d2_dtype dtype;              /* UNDEFINED when not inferred */
    int32_t rank;                     /* D2_RANK_UNKNOWN, or 0..D2_MAX_RANK */
    int64_t dims[D2_MAX_RANK];        /* >= 0 known, or D2_DIM_UNKNOWN */
    const char *symbols[D2_MAX_RANK]; /* unknown dim named by the model ("batch"), or NULL */
    int64_t upper_bounds[D2_MAX_RANK];/* unknown dim's upper bound, or -1 when none */
};

void d2_type_init_unknown(struct d2_type *t);  /* dtype UNDEFINED, rank unknown */
void d2_type_init(struct d2_type *t, enum d2_dtype dtype, int32_t rank, const int64_t *dims);
bool d2_type_is_static(const struct d2_type *t);   /* rank and all dims known */
bool d2_type_equal(const struct d2_type *a, const struct d2_type *b);
int64_t d2_type_numel(const struct d2_type *t);    /* -1 unless static */

/* A concrete tensor: dense, row-major (C order). Used for constants and at run time. */
struct d2_tensor {
    enum d2_dtype dtype;
    int32_t rank;
    int64_t dims[D2_MAX_RANK];
    void *data;      /* NULL allowed when numel == 0 */
    size_t nbytes;   /* numel * dtype size */
    bool owns_data;  /* data came from the allocator and is freed with the tensor */
};

int64_t d2_tensor_numel(const struct d2_tensor *t);
/* Allocate zeroed storage for dtype/rank/dims. Checks sizes for overflow. */
enum d2_status d2_tensor_alloc(struct d2_tensor *t, const struct d2_allocator *a, enum d2_dtype dtype,
                               int32_t rank, const int64_t *dims, struct d2_error *err);
/* As d2_tensor_alloc, but the storage is left uninitialized (for a kernel that stores
 * every element: large buffers then cost no clearing). */
enum d2_status d2_tensor_alloc_uninitialized(struct d2_tensor *t, const struct d2_allocator *a, enum d2_dtype dtype,
                                             int32_t rank, const int64_t *dims, struct d2_error *err);
void d2_tensor_release(struct d2_tensor *t, const struct d2_allocator *a);
/* Deep copy into newly allocated storage. */
enum d2_status d2_tensor_copy(struct d2_tensor *dst, const struct d2_tensor *src,
                              const struct d2_allocator *a, struct d2_error *err);
void d2_type_from_tensor(struct d2_type *t, const struct d2_tensor *tensor);
/* Element count of a dims array (rank 0 → 1); -1 on overflow or negative dim. */
int64_t d2_dims_numel(int32_t rank, const int64_t *dims);

/* ======================================================================
 * Ops and attributes (ir/ops.c, ir/attrs.c; declared in ops.def, attrs.def)
 * ====================================================================== */

#define D2_VARIADIC 0xFFFF

enum d2_op_flags {
    D2_OPF_NONE = 0,
    D2_OPF_ELEMENTWISE = 1 << 0,    /* output[i] depends on input[i] only (after broadcast) */
    D2_OPF_COMMUTATIVE = 1 << 1,    /* inputs may be reordered */
    D2_OPF_DATA_DEPENDENT = 1 << 2, /* output shape depends on input values */
    D2_OPF_CONTROL = 1 << 3,        /* owns regions, executed by the executor */
};

enum d2_op {
#define D2_OP(ID, name, ...) D2_OP_##ID,
#include "ops.def"
    D2_OP_COUNT
};

struct d2_ints { int64_t *data; uint32_t count; };
struct d2_floats { double *data; uint32_t count; };

#define D2_V(ID, text) D2_##ID,
#define D2_ENUM(name, ...) enum d2_##name { __VA_ARGS__ D2_##name##_COUNT_ };
#include "attrs.def"
#undef D2_V

#define D2_INT(f, def) int64_t f;
#define D2_FLOAT(f, def) double f;
#define D2_INTS(f) struct d2_ints f;
#define D2_FLOATS(f) struct d2_floats f;
#define D2_STRING(f) const char *f;
#define D2_ENUMF(f, e, def) int32_t f;
#define D2_DTYPEF(f, def) enum d2_dtype f;
#define D2_ATTRS(name, ...) struct d2_attrs_##name { char unused_; __VA_ARGS__ };
#include "attrs.def"
#undef D2_INT
#undef D2_FLOAT
#undef D2_INTS
#undef D2_FLOATS
#undef D2_STRING
#undef D2_ENUMF
#undef D2_DTYPEF

enum d2_attrs_kind {
#define D2_ATTRS(name, ...) D2_ATTRS_##name,
#include "attrs.def"
    D2_ATTRS_COUNT
};

enum d2_attr_field_kind {
    D2_FIELD_INT, D2_FIELD_FLOAT, D2_FIELD_INTS, D2_FIELD_FLOATS,
    D2_FIELD_STRING, D2_FIELD_ENUM, D2_FIELD_DTYPE,
};

/* Describes one field of an attribute struct, for generic code (printer, parser,
 * serializer, defaults). */
struct d2_attr_field {
    const char *name;
    enum d2_attr_field_kind kind;
    size_t offset;                   /* within the attribute struct */
    int64_t default_int;             /* INT, ENUM, DTYPE */
    double default_float;            /* FLOAT */
    const char *const *enum_names;   /* ENUM: text of each value */
    int32_t enum_count;
};

struct d2_attr_schema {
    const char *name;                /* "conv" */
    size_t size;                     /* sizeof(struct d2_attrs_conv) */
    uint32_t num_fields;
    const struct d2_attr_field *fields;
};

const struct d2_attr_schema *d2_attr_schema_get(enum d2_attrs_kind kind);
/* Set every field of a freshly zeroed attribute struct to its default. */
void d2_attrs_set_defaults(enum d2_attrs_kind kind, void *attrs);
/* Text of an enum field value; NULL when out of range. */
const char *d2_attr_enum_name(const struct d2_attr_field *f, int32_t value);
int32_t d2_attr_enum_from_name(const struct d2_attr_field *f, const char *text); /* -1 if unknown */

struct d2_op_info {
    const char *name;        /* "conv" */
    uint16_t min_inputs, max_inputs;   /* max D2_VARIADIC: unbounded */
    uint16_t min_outputs, max_outputs;
    enum d2_attrs_kind attrs;
    uint8_t num_regions;
    uint32_t flags;          /* enum d2_op_flags */
    const char *semantics;   /* one line */
};

const struct d2_op_info *d2_op_info(enum d2_op op);  /* NULL when out of range */
const char *d2_op_name(enum d2_op op);
bool d2_op_from_name(const char *name, enum d2_op *out);

/* ======================================================================
 * Graph (ir/graph.c)
 * ====================================================================== */

typedef uint32_t d2_value_id;
#define D2_NO_VALUE UINT32_MAX

struct d2_value {
    const char *name;      /* unique within its graph */
    struct d2_type type;
    int32_t producer;      /* node index, or -1 for a graph input or a constant */
    uint32_t producer_output; /* output slot of the producer */
    int32_t constant;      /* index into graph->constants, or -1 */
    int32_t input_index;   /* index into graph->inputs, or -1 */
};

struct d2_graph;

struct d2_node {
    enum d2_op op;
    const char *name;          /* model's node name, may be "" */
    uint32_t num_inputs;
    uint32_t num_outputs;
    d2_value_id *inputs;       /* D2_NO_VALUE for an omitted optional input */
    d2_value_id *outputs;
    void *attrs;               /* struct d2_attrs_<op info attrs>, never NULL */
    uint32_t num_regions;
    struct d2_graph **regions; /* owned, same arena lifetime as the parent */
};

struct d2_metadata_entry { const char *key; const char *value; };

/* Where each intermediate value of a top-level graph lives in one activation arena
 * (made by passes/memplan.c, stored in model.ir, used by the CPU executor; see
 * docs/PASSES.md). Allocated in the graph's arena. */
struct d2_memory_plan {
    uint64_t arena_bytes;   /* peak: the arena's size */
    uint64_t naive_bytes;   /* sum of the planned values' sizes (no reuse) */
    uint32_t num_values;    /* the graph's num_values when planned (else the plan is stale) */
    int64_t *offsets;       /* per value: byte offset in the arena, or -1 when not planned */
    uint64_t *sizes;        /* per value: planned bytes (0 when not planned) */
};

struct d2_graph {
    struct d2_arena arena;            /* nodes' arrays, attrs, names, types */
    const struct d2_allocator *alloc;
    struct d2_graph *parent;          /* enclosing graph for a region, else NULL */

    struct d2_node *nodes;            /* topological order */
    uint32_t num_nodes, cap_nodes;
    struct d2_value *values;
    uint32_t num_values, cap_values;
    struct d2_tensor *constants;      /* released with the graph when owns_data */
    uint32_t num_constants, cap_constants;
    d2_value_id *inputs;              /* runtime inputs, in order */
    uint32_t num_inputs, cap_inputs;
    d2_value_id *outputs;             /* in order; a value may appear twice */
    uint32_t num_outputs, cap_outputs;
    struct d2_metadata_entry *metadata; /* top-level graph: key/value strings */
    uint32_t num_metadata, cap_metadata;
    uint32_t next_auto_name;          /* counter for generated value names */
    /* Storage the constants borrow (e.g. the mmap of a model.ir): released by
     * d2_graph_free after the constants. NULL release: nothing to do. */
    void (*backing_release)(void *backing);
    void *backing;
    struct d2_memory_plan *memory_plan; /* top-level graph: NULL when not planned */
};

struct d2_graph *d2_graph_new(const struct d2_allocator *alloc, struct d2_error *err);
void d2_graph_free(struct d2_graph *g);
/* Copy a string into the graph's arena; NULL on allocation failure. */
const char *d2_graph_intern(struct d2_graph *g, const char *s);

/* Add a value with no producer yet (used by d2_graph_add_node). name NULL or ""
 * generates a unique name. Returns D2_NO_VALUE on allocation failure (err set). */
d2_value_id d2_graph_add_value(struct d2_graph *g, const char *name, const struct d2_type *type,
                               struct d2_error *err);
d2_value_id d2_graph_add_input(struct d2_graph *g, const char *name, const struct d2_type *type,
                               struct d2_error *err);
/* The graph takes over the tensor (and its storage if owns_data); *t is zeroed. */
d2_value_id d2_graph_add_constant(struct d2_graph *g, const char *name, struct d2_tensor *t,
                                  struct d2_error *err);
enum d2_status d2_graph_add_output(struct d2_graph *g, d2_value_id v, struct d2_error *err);
enum d2_status d2_graph_set_metadata(struct d2_graph *g, const char *key, const char *value,
                                     struct d2_error *err);
const char *d2_graph_get_metadata(const struct d2_graph *g, const char *key);

/* Append a node of `op` reading `inputs` and producing `num_outputs` new values, named
 * by output_names (NULL, or entries NULL, for generated names) with unknown types.
 * The node's attribute struct is allocated and set to defaults; its regions are
 * created empty (d2_op_info(op)->num_regions of them, parent = g).
 * Returns the node index, or -1 on failure (err set). Arity is not checked here;
 * the verifier checks it. */
int32_t d2_graph_add_node(struct d2_graph *g, enum d2_op op, const char *name,
                          uint32_t num_inputs, const d2_value_id *inputs,
                          uint32_t num_outputs, const char *const *output_names,
                          struct d2_error *err);
/* Output value id of node n, slot i. */
d2_value_id d2_node_output(const struct d2_graph *g, int32_t node, uint32_t i);
/* Attribute struct of node n, typed by the caller: (struct d2_attrs_conv *)d2_node_attrs(g, n). */
void *d2_node_attrs(const struct d2_graph *g, int32_t node);
/* Arena copies of an int/float array for attribute fields. */
enum d2_status d2_graph_set_ints(struct d2_graph *g, struct d2_ints *field, const int64_t *data,
                                 uint32_t count, struct d2_error *err);
enum d2_status d2_graph_set_floats(struct d2_graph *g, struct d2_floats *field, const double *data,
                                   uint32_t count, struct d2_error *err);
/* Find a value by name (linear scan); D2_NO_VALUE if absent. */
d2_value_id d2_graph_find_value(const struct d2_graph *g, const char *name);
/* Constant tensor of value v, or NULL when v is not a constant. */
const struct d2_tensor *d2_graph_constant_of(const struct d2_graph *g, d2_value_id v);

/* ======================================================================
 * Shape inference (ir/shape*.c; one function per op, table in ir/shape.c)
 * ====================================================================== */

/* The same functions serve compile time (types may be partly unknown, only constant
 * inputs have values) and run time (all inputs concrete, every input has a value).
 * A function sets output_types[i] as precisely as it can: unknown dims stay
 * D2_DIM_UNKNOWN (with an upper bound if one is known). It returns an error
 * (D2_ERR_SHAPE, message naming the problem) when the inputs cannot fit the op. */
struct d2_shape_ctx {
    const struct d2_node *node;             /* op and attrs */
    uint32_t num_inputs;
    const struct d2_type *const *input_types;     /* NULL for an omitted input */
    const struct d2_tensor *const *input_values;  /* NULL when the value is not known */
    uint32_t num_outputs;
    struct d2_type *output_types;           /* preset to unknown by the caller */
    struct d2_error *err;
};

typedef enum d2_status (*d2_shape_fn)(struct d2_shape_ctx *ctx);
/* d2_shape_<name> for each op; NULL where missing (tests/unit/test_coverage fails). */
d2_shape_fn d2_shape_function(enum d2_op op);
/* Run the op's shape function for node `node` of g, using the current value types
 * and constants, and store the results in the output values' types. */
enum d2_status d2_infer_node(struct d2_graph *g, int32_t node, struct d2_error *err);
/* Infer all nodes in order (regions included). */
enum d2_status d2_infer_graph(struct d2_graph *g, struct d2_error *err);

/* Helpers for shape functions (ir/shape_util.c). */
/* numpy broadcasting of two types into out (dtype not set). */
enum d2_status d2_shape_broadcast(const struct d2_type *a, const struct d2_type *b,
                                  struct d2_type *out, struct d2_error *err);
/* Normalize axis in [-rank, rank) to [0, rank); false when out of range. */
bool d2_normalize_axis(int64_t axis, int32_t rank, int64_t *out);
/* Read element i of an integer tensor as int64 (any integer dtype). */
int64_t d2_tensor_get_i64(const struct d2_tensor *t, size_t i);

/* ======================================================================
 * Verifier (ir/verify.c), printer (ir/print.c), parser (ir/parse.c)
 * ====================================================================== */

/* Checks SSA form (ids in range, each value produced once, uses after defs, graph
 * outputs defined), op arity and region counts, attribute sanity, and that re-running
 * shape inference agrees with the stored types. */
enum d2_status d2_verify_graph(const struct d2_graph *g, struct d2_error *err);

struct d2_print_options {
    int64_t max_constant_elements; /* constants with more elements print as <N bytes>; -1: all */
};
/* Print the graph in IR text form; returns a malloc'd (via g->alloc) string or NULL. */
char *d2_print_graph(const struct d2_graph *g, const struct d2_print_options *opts, struct d2_error *err);
/* Parse IR text. Errors name line:column. */
struct d2_graph *d2_parse_graph(const char *text, size_t length, const struct d2_allocator *alloc,
                                struct d2_error *err);

#endif /* D2_IR_H */
