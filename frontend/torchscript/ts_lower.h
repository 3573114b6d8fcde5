/* frontend/torchscript/ts_lower.h: what the TorchScript lowering files share.
 *
 * Lowering is an abstract interpreter over the parsed source (ts_ast.h): it runs the
 * root module's forward() once, with Python-level values (ints, lists, dicts, module
 * objects, None, strings) computed at compile time and every tensor operation emitted
 * as IR nodes. So method calls are inlined, lists/tuples/dicts exist only at compile
 * time, `isinstance`/`is None` tests and loops over static ranges vanish, and what
 * remains in the graph is the dataflow between tensors.
 *
 * Values (struct tsv):
 *   - static Python values: None, bool, int, float, str, device, tuple/list/dict
 *     (containers hold tsv pointers; lists and dicts are mutable, shared by reference),
 *     module objects (from data.pkl), objects of scripted classes (fields by name),
 *     qualified names not yet resolved ("torch.add", "__torch__.a.b.f"), uninitialized;
 *   - TSV_SCALAR: a Python int/float/bool known only at run time, held in a rank-0 IR
 *     value (i64, f64, bool);
 *   - TSV_TENSOR: a tensor. Tensors are mutable in PyTorch (relu_, index_put_, copy_
 *     into a slice), so a tensor value points to a cell that holds its current IR value;
 *     an in-place op stores a new IR value into the cell and every reference sees it. A
 *     view (slice, select, view, ...) remembers its base and how it was made, so writing
 *     into a view writes the base back (scatter through an index tensor).
 *
 * Regions: a dynamic `if` is lowered into an IR `if` whose branches are built as
 * separate graphs (frames). A value of an enclosing graph used inside a branch is
 * captured: ts_use() walks the frame chain and adds region inputs as needed.
 *
 * Errors name "file:line:col" of the statement or expression being lowered and the op.
 */
#ifndef D2_TS_LOWER_H
#define D2_TS_LOWER_H

#include "frontend/frontend.h"
#include "frontend/torchscript/ts_archive.h"
#include "frontend/torchscript/ts_ast.h"

/* Bounds against hostile or runaway input. */
#define TS_MAX_CALL_DEPTH 64       /* inlined calls */
#define TS_MAX_UNROLL 100000       /* total unrolled loop iterations */
#define TS_MAX_REGION_DEPTH 16     /* nested dynamic ifs */

enum tsv_kind {
    TSV_NONE,
    TSV_BOOL,     /* u.b */
    TSV_INT,      /* u.i */
    TSV_FLOAT,    /* u.f */
    TSV_STR,      /* u.s */
    TSV_DEVICE,   /* u.s: "cpu" */
    TSV_SCALAR,   /* u.scalar: run-time Python number */
    TSV_TENSOR,   /* u.tensor */
    TSV_TUPLE,    /* u.seq */
    TSV_LIST,     /* u.seq (mutable, shared) */
    TSV_DICT,     /* u.dict (mutable, shared) */
    TSV_MODULE,   /* u.module */
    TSV_OBJECT,   /* u.object: instance of a scripted class */
    TSV_QUALNAME, /* u.s: dotted name ("torch", "ops.aten", "__torch__.x.f", "CONSTANTS") */
    TSV_UNINIT,   /* uninitialized(T): a placeholder on a path that raises */
    TSV_SLOT,     /* internal (ts_lower_stmt.c): output slot u.i of an `if` being built */
    /* A list of tensors grown by append() in a loop with a run-time trip count
     * (ts_lower_loop.c): its length is known only at run time, so it is held as one
     * tensor u.stacked = the items stacked on a new axis 0 (the loop's scan output).
     * Supports len(), indexing, torch.stack and torch.cat; it is not mutable. */
    TSV_STACKED_LIST,
    /* Such a list while its loop body is being lowered: append() records the item,
     * anything else is an error (the body cannot read the list it is growing). */
    TSV_SCAN_LIST,
};

/* Python scalar types of TSV_SCALAR. */
enum ts_pytype { TS_PY_BOOL, TS_PY_INT, TS_PY_FLOAT };

/* An IR value in a specific graph (main graph or a region under construction). */
struct ts_irval {
    struct d2_graph *g;
    d2_value_id id;
};

struct ts_cell {
    struct ts_irval v;
    uint32_t version; /* bumped on every write: views of a rewritten base replay */
};

struct ts_call;
struct tsv;
struct ts_lower;

/* How a view was made: the op's handler, replayed with args[0] replaced. */
typedef enum d2_status (*ts_op_fn)(struct ts_lower *L, struct ts_call *c, struct tsv **out);
struct ts_view {
    struct tsv *base;           /* a non-view tensor */
    uint32_t base_version;      /* base cell version when this view was last computed */
    struct ts_view_step *steps; /* from base to this view */
    uint32_t num_steps;
};
struct ts_view_step {
    ts_op_fn fn;
    struct ts_call *call;       /* a copy of the call; args[0] is replaced on replay */
    uint32_t output_index;      /* which item of a tuple result (unbind, split) */
};

struct tsv_seq { struct tsv **items; uint32_t count, cap; };
struct tsv_dict { struct tsv **keys, **values; uint32_t count, cap; };

struct ts_instance {
    uint64_t born;              /* creation order, as for struct tsv */
    const char *class_name;     /* qualified */
    const struct ts_class *cls; /* its parsed class */
    const char **names;
    struct tsv **values;
    uint32_t count, cap;
};

struct tsv {
    enum tsv_kind kind;
    uint64_t born;              /* creation order (L->epoch), to tell containers made inside a branch */
    union {
        bool b;
        int64_t i;
        double f;
        const char *s;
        struct { struct ts_irval v; enum ts_pytype type; } scalar;
        struct { struct ts_cell *cell; struct ts_view *view; } tensor;
        struct tsv_seq seq;
        struct tsv_dict dict;
        const struct ts_module *module;
        struct ts_instance *object;
        struct ts_irval stacked; /* TSV_STACKED_LIST */
    } u;
};

/* The arguments of one call: positional then keyword (names[i] NULL if positional). */
struct ts_call {
    const char *name;       /* qualified op name, for errors ("aten::add") */
    struct tsv **args;
    const char **names;
    uint32_t count;
};

/* Variables of one function activation. */
struct ts_env {
    const char **names;
    struct tsv **values;
    uint32_t count, cap;
};

/* One graph under construction: the main graph or a branch region. */
struct ts_frame {
    struct d2_graph *g;
    struct ts_frame *parent;
    d2_value_id *outer;   /* captured values, ids in parent->g */
    d2_value_id *inner;   /* the region inputs they became */
    uint32_t num_captures, cap_captures;
    /* constants made for module tensors, keyed by the archive tensor */
    const void **const_keys;
    d2_value_id *const_ids;
    uint32_t num_consts, cap_consts;
};

/* A log entry of a cell write, so that a branch's writes can be undone and merged. */
struct ts_write {
    struct ts_cell *cell;
    struct ts_irval old;
    uint32_t old_version;
};

struct ts_module_override {
    const struct ts_module *module;
    const char *name;
    struct tsv *value;
};

/* Lists appended to in the body of the run-time loop being built (ts_lower_loop.c). */
struct ts_loop_scan {
    uint64_t floor;          /* L->region_floor of the body: lists born at or before it are outside */
    bool discovering;        /* first (throwaway) lowering of the body */
    struct tsv **lists;      /* the lists, TSV_SCAN_LIST while the body is lowered */
    struct tsv **items;      /* the item appended in this lowering (NULL: none yet) */
    uint32_t count, cap;
    struct ts_loop_scan *outer;
};

struct ts_parsed_file {
    const char *entry;
    struct ts_module_ast *ast;
};

struct ts_lower {
    const struct d2_allocator *alloc;
    struct d2_error *err;
    struct ts_archive *archive;
    const struct ts_module *root;
    const struct ts_value *constants; /* constants.pkl tuple */
    struct tsv **constant_values;     /* lowered lazily */
    struct d2_arena arena;            /* tsv, cells, parsed sources */
    struct ts_frame *frame;           /* innermost graph under construction */
    struct ts_parsed_file *files;
    uint32_t num_files, cap_files;
    struct ts_write *writes;
    uint32_t num_writes, cap_writes;
    uint32_t call_depth, region_depth;
    uint64_t unrolled;
    /* where we are, for error messages */
    const char *file;
    uint32_t line, col;
    uint32_t next_symbol;             /* for generated names */
    /* Bumped whenever a list, dict or object is mutated: a dynamic branch that mutates
     * one cannot be lowered (the mutation would have to become data). */
    uint64_t container_mutations;
    /* Module attributes assigned by the code (`self.cell_anchors = ...` in torchvision's
     * AnchorGenerator): they shadow the archive's value for the rest of the lowering. */
    struct ts_module_override *module_overrides;
    uint32_t num_module_overrides, cap_module_overrides;
    /* `a, b, c, d = torch.unbind(boxes, 1)` with the dim's size unknown at compile time:
     * the assignment names its right-hand side (unpack_expr) and target count, and the
     * call of that expression passes the count to unbind (unbind_count_hint, 0: none). */
    const struct ts_expr *unpack_expr;
    uint32_t unpack_count, unbind_count_hint;
    struct ts_loop_scan *loop_scan; /* innermost run-time loop being built, or NULL */
    uint64_t epoch;        /* values created so far */
    uint64_t region_floor; /* epoch when the innermost run-time branch began (0: none) */
};

/* ---- errors (ts_lower_value.c) ---- */
/* Record an error prefixed with the current file:line:col. Returns code. */
enum d2_status ts_fail(struct ts_lower *L, enum d2_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *tsv_kind_name(enum tsv_kind k);
/* A short description of a value for messages ("int 3", "Tensor", "list"). */
const char *tsv_describe(const struct tsv *v);

/* ---- values (ts_lower_value.c) ---- */
struct tsv *tsv_new(struct ts_lower *L, enum tsv_kind kind);
struct tsv *tsv_none(struct ts_lower *L);
struct tsv *tsv_bool(struct ts_lower *L, bool b);
struct tsv *tsv_int(struct ts_lower *L, int64_t i);
struct tsv *tsv_float(struct ts_lower *L, double f);
struct tsv *tsv_str(struct ts_lower *L, const char *s);
struct tsv *tsv_qualname(struct ts_lower *L, const char *s);
struct tsv *tsv_scalar(struct ts_lower *L, struct ts_irval v, enum ts_pytype type);
/* A new tensor value (own cell) holding IR value id of the current graph. */
struct tsv *tsv_tensor(struct ts_lower *L, d2_value_id id);
struct tsv *tsv_seq_new(struct ts_lower *L, enum tsv_kind kind, uint32_t count);
bool tsv_seq_push(struct ts_lower *L, struct tsv *seq, struct tsv *item);
struct tsv *tsv_dict_get(const struct tsv *dict, const struct tsv *key);
bool tsv_dict_set(struct ts_lower *L, struct tsv *dict, struct tsv *key, struct tsv *value);
bool tsv_static_equal(const struct tsv *a, const struct tsv *b, bool *known);
/* Python truthiness of a static value; false with *known false when not static. */
bool tsv_truth(const struct tsv *v, bool *known);
struct ts_instance *ts_instance_new(struct ts_lower *L, const char *class_name, const struct ts_class *cls);
struct tsv *ts_instance_get(const struct ts_instance *o, const char *name);
bool ts_instance_set(struct ts_lower *L, struct ts_instance *o, const char *name, struct tsv *v);
char *ts_strdup(struct ts_lower *L, const char *s);
/* Record that a list, dict or object created at `born` is being mutated: inside a
 * run-time branch, mutating one that existed before the branch cannot be lowered. */
void ts_note_mutation(struct ts_lower *L, uint64_t born);
char *ts_strcat3(struct ts_lower *L, const char *a, const char *b, const char *c);

/* ---- environments (ts_lower_value.c) ---- */
struct tsv *ts_env_get(const struct ts_env *env, const char *name);
bool ts_env_set(struct ts_lower *L, struct ts_env *env, const char *name, struct tsv *v);
bool ts_env_copy(struct ts_lower *L, struct ts_env *dst, const struct ts_env *src);

/* ---- IR emission (ts_lower_emit.c) ---- */
/* The IR value of v usable in the current graph (captures across regions). Tensors
 * give their cell's current value (views replay first); static numbers and scalars
 * give rank-0 values (i64, f64, bool); D2_NO_VALUE with the error set otherwise. */
d2_value_id ts_use(struct ts_lower *L, struct tsv *v);
d2_value_id ts_use_irval(struct ts_lower *L, struct ts_irval v);
struct ts_irval ts_here(struct ts_lower *L, d2_value_id id);
/* Emitting a node is two-phase so that attributes can be set in between:
 * ts_node() adds it (attributes at their defaults), the caller fills
 * d2_node_attrs(L->frame->g, node), and ts_finish() runs shape inference and, when
 * every input is a small constant, evaluates the node at compile time: outs[i]
 * receives the node's outputs or the folded constants. */
int32_t ts_node(struct ts_lower *L, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                uint32_t num_outputs);
void *ts_attrs(struct ts_lower *L, int32_t node);
enum d2_status ts_finish(struct ts_lower *L, int32_t node, d2_value_id *outs);
/* ts_node + ts_finish for a one-output op without attributes; D2_NO_VALUE on failure. */
d2_value_id ts_emit1(struct ts_lower *L, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs);
d2_value_id ts_const_i64(struct ts_lower *L, const int64_t *vals, uint32_t count, bool scalar);
d2_value_id ts_const_scalar(struct ts_lower *L, enum d2_dtype dtype, double value);
/* A constant borrowing an archive tensor (cached per graph). */
d2_value_id ts_const_tensor(struct ts_lower *L, const struct ts_tensor *t);
const struct d2_type *ts_type(struct ts_lower *L, d2_value_id id);
/* Constant tensor behind id in the current graph, or NULL. */
const struct d2_tensor *ts_const_of(struct ts_lower *L, d2_value_id id);
d2_value_id ts_cast(struct ts_lower *L, d2_value_id x, enum d2_dtype to);
/* Write a new IR value into a tensor's cell (logged for region merging). For a view,
 * the base is written back too. */
enum d2_status ts_tensor_assign(struct ts_lower *L, struct tsv *t, d2_value_id id);
/* Make `out` a view of `src` produced by fn(call) (records the recipe). */
void ts_mark_view(struct ts_lower *L, struct tsv *out, struct tsv *src, ts_op_fn fn, const struct ts_call *call,
                  uint32_t output_index);

/* ---- conversions (ts_lower_emit.c) ---- */
/* Static int value of v (int, bool, or a constant rank-0 integer tensor/scalar). */
bool ts_static_int(struct ts_lower *L, const struct tsv *v, int64_t *out);
bool ts_static_float(struct ts_lower *L, const struct tsv *v, double *out);
/* A list/tuple of ints (static or run-time) as a 1-D i64 IR value; *static_vals (may
 * be NULL) receives the values when all are static (returns count in *count). */
d2_value_id ts_int_list_value(struct ts_lower *L, struct tsv *list, int64_t *static_vals, uint32_t max_static,
                              uint32_t *count, bool *all_static);
/* Static ints of a list/tuple (or a single int): false when any is not static. */
bool ts_static_int_list(struct ts_lower *L, const struct tsv *list, int64_t *vals, uint32_t max, uint32_t *count);
/* A number argument as a rank-0 value of dtype (cast as needed). */
d2_value_id ts_number_as(struct ts_lower *L, struct tsv *v, enum d2_dtype dtype);
/* torch's ScalarType code (6 = float32, 4 = int64, ...) to a d2 dtype. */
bool ts_dtype_from_code(int64_t code, enum d2_dtype *out);
int64_t ts_dtype_code(enum d2_dtype t);
/* Result dtype of a tensor op over these operands (torch's result_type rules:
 * dimensioned tensors, then zero-dim tensors, then Python numbers by category). */
enum d2_dtype ts_result_type(struct ts_lower *L, struct tsv *const *args, uint32_t count);

/* ---- evaluation (ts_lower_expr.c, ts_lower_stmt.c) ---- */
enum d2_status ts_eval(struct ts_lower *L, struct ts_env *env, const struct ts_expr *e, struct tsv **out);
/* Call a function/method definition with bound arguments (self first for methods). */
enum d2_status ts_call_def(struct ts_lower *L, const struct ts_def *def, struct tsv *self, struct ts_call *call,
                           struct tsv **out);
/* How a block ended. */
enum ts_flow { TS_FLOW_NEXT, TS_FLOW_RETURN, TS_FLOW_BREAK, TS_FLOW_CONTINUE };
enum d2_status ts_exec_block(struct ts_lower *L, struct ts_env *env, const struct ts_block *b, enum ts_flow *flow,
                             struct tsv **ret);
/* Whether a block certainly raises (its straight-line part calls
 * ops.prim.RaiseException or has a raise statement): such branches are guards. */
bool ts_block_raises(const struct ts_block *b);
/* Loops with a run-time trip count or condition (ts_lower_loop.c): an IR loop. */
enum d2_status ts_lower_dynamic_for(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s,
                                    struct tsv *start, struct tsv *end, int64_t step);
enum d2_status ts_lower_dynamic_while(struct ts_lower *L, struct ts_env *env, const struct ts_stmt *s, struct tsv *cond);
/* append(list, item) inside a run-time loop's body where list is (or becomes) that
 * loop's scan list: records the item and returns true with *st set; false when the
 * append is an ordinary one. */
bool ts_loop_scan_append(struct ts_lower *L, struct tsv *list, struct tsv *item, enum d2_status *st);
/* torch.stack / torch.cat (stack false) of a TSV_STACKED_LIST along dim. */
d2_value_id ts_stacked_list_join(struct ts_lower *L, const struct tsv *list, int64_t dim, bool stack);
/* Call a callable value (qualified function name, builtin op). */
enum d2_status ts_call_value(struct ts_lower *L, struct tsv *fn, struct ts_call *call, struct tsv **out);
/* Call a builtin op by qualified name ("aten::add"); error naming it when unknown. */
enum d2_status ts_call_op(struct ts_lower *L, const char *qualname, struct ts_call *call, struct tsv **out);
/* Find a class or function by qualified name ("__torch__.a.b.C"). */
enum d2_status ts_find_class(struct ts_lower *L, const char *qualname, const struct ts_class **out);
enum d2_status ts_find_function(struct ts_lower *L, const char *qualname, const struct ts_def **out);
/* Attribute of a module (submodule, parameter, buffer or plain attribute). */
enum d2_status ts_module_getattr(struct ts_lower *L, const struct ts_module *m, const char *name, struct tsv **out);
/* Assign a module attribute (shadows the archive's value from now on). */
enum d2_status ts_module_setattr(struct ts_lower *L, const struct ts_module *m, const char *name, struct tsv *v);
/* Convert a pickled value into a lowering value. */
enum d2_status ts_from_pickle(struct ts_lower *L, const struct ts_value *v, struct tsv **out);

/* ---- builtin ops (ts_ops*.c) ---- */
/* Handler of a builtin by qualified name ("aten::add", "prim::NumToTensor",
 * "torchvision::nms"); NULL when unknown. */
ts_op_fn ts_find_op(const char *qualname);
/* Argument i by position, or by keyword name; NULL when absent. */
struct tsv *ts_arg(const struct ts_call *c, uint32_t position, const char *name);
uint32_t ts_num_positional(const struct ts_call *c);
/* Tensor argument: its IR value in the current graph, D2_NO_VALUE (error) otherwise. */
d2_value_id ts_tensor_arg(struct ts_lower *L, const struct ts_call *c, uint32_t position, const char *name);
bool ts_is_tensor(const struct tsv *v);
bool ts_is_number(const struct tsv *v); /* bool, int, float or run-time scalar */
/* Rank of a tensor value (-1 unknown). */
int32_t ts_rank(struct ts_lower *L, d2_value_id id);
/* Normalize a dim index against rank; error when out of range. */
enum d2_status ts_norm_dim(struct ts_lower *L, int64_t dim, int32_t rank, int64_t *out);
/* Dim d of a tensor as a value: static int when known, else a run-time scalar. */
struct tsv *ts_dim_size(struct ts_lower *L, d2_value_id x, int64_t d);

/* Small emit helpers shared by the op files (ts_ops_util.c). D2_NO_VALUE on failure. */
d2_value_id ts_shape(struct ts_lower *L, d2_value_id x);
d2_value_id ts_reshape(struct ts_lower *L, d2_value_id x, d2_value_id shape);
d2_value_id ts_reshape_static(struct ts_lower *L, d2_value_id x, const int64_t *dims, uint32_t rank);
d2_value_id ts_unsqueeze(struct ts_lower *L, d2_value_id x, int64_t axis);
d2_value_id ts_squeeze(struct ts_lower *L, d2_value_id x, int64_t axis);
d2_value_id ts_concat(struct ts_lower *L, const d2_value_id *parts, uint32_t n, int64_t axis);
d2_value_id ts_gather(struct ts_lower *L, d2_value_id x, d2_value_id indices, int64_t axis);
d2_value_id ts_transpose(struct ts_lower *L, d2_value_id x, const int64_t *perm, uint32_t rank);
d2_value_id ts_slice1(struct ts_lower *L, d2_value_id x, int64_t axis, d2_value_id start, d2_value_id end,
                      int64_t step);
d2_value_id ts_binary(struct ts_lower *L, enum d2_op op, d2_value_id a, d2_value_id b);
d2_value_id ts_reduce(struct ts_lower *L, enum d2_op op, d2_value_id x, const int64_t *axes, uint32_t num_axes,
                      bool keepdims);
/* A Python int (static or run-time) as a rank-0 i64 value. */
d2_value_id ts_int_value(struct ts_lower *L, struct tsv *v);
/* Return a new tensor value, or the error. */
enum d2_status ts_ret_tensor(struct ts_lower *L, d2_value_id id, struct tsv **out);
/* dtype argument (int code or None) of a call: *out UNDEFINED when absent/None. */
enum d2_status ts_dtype_arg(struct ts_lower *L, const struct ts_call *c, uint32_t position, const char *name,
                            enum d2_dtype *out);

/* Families of handlers (registered in ts_ops.c). */
#define TS_OP_FAMILIES(X) X(scalar) X(seq) X(tensor) X(create) X(shape) X(nn) X(index) X(caffe2)
struct ts_op_entry { const char *name; ts_op_fn fn; };
#define X(fam) extern const struct ts_op_entry ts_ops_##fam[];
TS_OP_FAMILIES(X)
#undef X

#endif
